/* ABI stability guard: the layout of every public v1 struct, pinned.
 *
 * A plugin built against an earlier 1.x header must keep working, so no
 * member of a v1 struct may move or change size.  A later minor may only
 * append members: then the SIZE line of that struct changes (update it and
 * the header's changelog) but no FIELD line does.  Any other failure here is
 * an ABI break and needs a new major.  Figures are for LP64 (x86_64,
 * aarch64), the platforms embsync ships on.
 */
#include <stddef.h>
#include <stdio.h>

#include <embsync/plugin.h>

#define LAYOUT_SIZE(T, n) \
    _Static_assert(sizeof(T) == (n), "sizeof " #T " changed: ABI break")
#define LAYOUT_FIELD(T, m, off) \
    _Static_assert(offsetof(T, m) == (off), #T "." #m " moved: ABI break")

#if defined(__LP64__)
LAYOUT_SIZE(embsync_abi, 8);
LAYOUT_FIELD(embsync_abi, major, 0);
LAYOUT_FIELD(embsync_abi, minor, 2);
LAYOUT_FIELD(embsync_abi, size, 4);
LAYOUT_SIZE(embsync_config_key, 40);
LAYOUT_FIELD(embsync_config_key, name, 0);
LAYOUT_FIELD(embsync_config_key, type, 8);
LAYOUT_FIELD(embsync_config_key, default_value, 16);
LAYOUT_FIELD(embsync_config_key, flags, 24);
LAYOUT_FIELD(embsync_config_key, help, 32);
LAYOUT_SIZE(embsync_change, 48);
LAYOUT_FIELD(embsync_change, abi, 0);
LAYOUT_FIELD(embsync_change, id, 8);
LAYOUT_FIELD(embsync_change, op, 16);
LAYOUT_FIELD(embsync_change, ref, 24);
LAYOUT_FIELD(embsync_change, version, 32);
LAYOUT_FIELD(embsync_change, payload, 40);
LAYOUT_SIZE(embsync_blob, 40);
LAYOUT_FIELD(embsync_blob, abi, 0);
LAYOUT_FIELD(embsync_blob, data, 8);
LAYOUT_FIELD(embsync_blob, len, 16);
LAYOUT_FIELD(embsync_blob, mime, 24);
LAYOUT_FIELD(embsync_blob, host_private, 32);
LAYOUT_SIZE(embsync_point, 32);
LAYOUT_FIELD(embsync_point, abi, 0);
LAYOUT_FIELD(embsync_point, id, 8);
LAYOUT_FIELD(embsync_point, vector, 16);
LAYOUT_FIELD(embsync_point, payload, 24);
LAYOUT_SIZE(embsync_hit, 32);
LAYOUT_FIELD(embsync_hit, abi, 0);
LAYOUT_FIELD(embsync_hit, id, 8);
LAYOUT_FIELD(embsync_hit, score, 16);
LAYOUT_FIELD(embsync_hit, payload, 24);
LAYOUT_SIZE(embsync_model_info, 152);
LAYOUT_FIELD(embsync_model_info, abi, 0);
LAYOUT_FIELD(embsync_model_info, dim, 8);
LAYOUT_FIELD(embsync_model_info, metric, 12);
LAYOUT_FIELD(embsync_model_info, identity, 16);
LAYOUT_FIELD(embsync_model_info, flags, 144);
LAYOUT_FIELD(embsync_model_info, concurrent_calls, 148); /* 1.4 */
LAYOUT_SIZE(embsync_collection_spec, 24);
LAYOUT_FIELD(embsync_collection_spec, abi, 0);
LAYOUT_FIELD(embsync_collection_spec, dim, 8);
LAYOUT_FIELD(embsync_collection_spec, metric, 12);
LAYOUT_FIELD(embsync_collection_spec, identity, 16);
LAYOUT_SIZE(embsync_http_request, 80);
LAYOUT_FIELD(embsync_http_request, abi, 0);
LAYOUT_FIELD(embsync_http_request, method, 8);
LAYOUT_FIELD(embsync_http_request, url, 16);
LAYOUT_FIELD(embsync_http_request, headers, 24);
LAYOUT_FIELD(embsync_http_request, body, 32);
LAYOUT_FIELD(embsync_http_request, body_len, 40);
LAYOUT_FIELD(embsync_http_request, timeout_ms, 48);
LAYOUT_FIELD(embsync_http_request, flags, 56);
LAYOUT_FIELD(embsync_http_request, ca_file, 64);
LAYOUT_FIELD(embsync_http_request, max_attempts, 72);
LAYOUT_SIZE(embsync_http_response, 64);
LAYOUT_FIELD(embsync_http_response, abi, 0);
LAYOUT_FIELD(embsync_http_response, status, 8);
LAYOUT_FIELD(embsync_http_response, body, 16);
LAYOUT_FIELD(embsync_http_response, body_len, 24);
LAYOUT_FIELD(embsync_http_response, content_type, 32);
LAYOUT_FIELD(embsync_http_response, retry_after, 40);
LAYOUT_FIELD(embsync_http_response, attempts, 48);
LAYOUT_FIELD(embsync_http_response, error, 56);
LAYOUT_SIZE(embsync_host, 296); /* 152 in 1.0, 160 in 1.1, 200 in 1.2, 272 in 1.3 */
LAYOUT_FIELD(embsync_host, abi, 0);
LAYOUT_FIELD(embsync_host, log, 8);
LAYOUT_FIELD(embsync_host, set_error, 16);
LAYOUT_FIELD(embsync_host, set_item_error, 24);
LAYOUT_FIELD(embsync_host, set_retry_after, 32);
LAYOUT_FIELD(embsync_host, config_get, 40);
LAYOUT_FIELD(embsync_host, config_int, 48);
LAYOUT_FIELD(embsync_host, config_bool, 56);
LAYOUT_FIELD(embsync_host, config_double, 64);
LAYOUT_FIELD(embsync_host, state_dir, 72);
LAYOUT_FIELD(embsync_host, add_secret, 80);
LAYOUT_FIELD(embsync_host, blob_set, 88);
LAYOUT_FIELD(embsync_host, blob_alloc, 96);
LAYOUT_FIELD(embsync_host, http, 104);
LAYOUT_FIELD(embsync_host, http_many, 112);
LAYOUT_FIELD(embsync_host, http_release, 120);
LAYOUT_FIELD(embsync_host, counter_add, 128);
LAYOUT_FIELD(embsync_host, stop_requested, 136);
LAYOUT_FIELD(embsync_host, retry_wait, 144);
LAYOUT_FIELD(embsync_host, json_float_array, 152); /* 1.1 */
LAYOUT_FIELD(embsync_host, http_outcome, 160); /* 1.2 */
LAYOUT_FIELD(embsync_host, state_write, 168);
LAYOUT_FIELD(embsync_host, state_read, 176);
LAYOUT_FIELD(embsync_host, url_join, 184);
LAYOUT_FIELD(embsync_host, url_escape, 192);
LAYOUT_FIELD(embsync_host, clock_now, 200); /* 1.3 */
LAYOUT_FIELD(embsync_host, limit_new, 208);
LAYOUT_FIELD(embsync_host, limit_window, 216);
LAYOUT_FIELD(embsync_host, limit_sample, 224);
LAYOUT_FIELD(embsync_host, limit_restart, 232);
LAYOUT_FIELD(embsync_host, limit_free, 240);
LAYOUT_FIELD(embsync_host, http_many_limited, 248);
LAYOUT_FIELD(embsync_host, gauge_set, 256);
LAYOUT_FIELD(embsync_host, counter_add_labelled, 264);
LAYOUT_FIELD(embsync_host, grpc_unary, 272); /* 1.4 */
LAYOUT_FIELD(embsync_host, grpc_outcome, 280);
LAYOUT_FIELD(embsync_host, blob_take_body, 288);
LAYOUT_SIZE(embsync_change_sink, 32);
LAYOUT_FIELD(embsync_change_sink, abi, 0);
LAYOUT_FIELD(embsync_change_sink, emit, 8);
LAYOUT_FIELD(embsync_change_sink, set_total, 16);
LAYOUT_FIELD(embsync_change_sink, host_private, 24);
LAYOUT_SIZE(embsync_source_ops, 104); /* 88 in 1.0 and 1.1 */
LAYOUT_FIELD(embsync_source_ops, abi, 0);
LAYOUT_FIELD(embsync_source_ops, open, 8);
LAYOUT_FIELD(embsync_source_ops, close, 16);
LAYOUT_FIELD(embsync_source_ops, check, 24);
LAYOUT_FIELD(embsync_source_ops, list_collections, 32);
LAYOUT_FIELD(embsync_source_ops, begin, 40);
LAYOUT_FIELD(embsync_source_ops, changes, 48);
LAYOUT_FIELD(embsync_source_ops, fetch, 56);
LAYOUT_FIELD(embsync_source_ops, ack, 64);
LAYOUT_FIELD(embsync_source_ops, reset, 72);
LAYOUT_FIELD(embsync_source_ops, end, 80);
LAYOUT_FIELD(embsync_source_ops, exists, 88); /* 1.2 */
LAYOUT_FIELD(embsync_source_ops, items, 96);  /* 1.2 */
LAYOUT_SIZE(embsync_embedder_ops, 56);
LAYOUT_FIELD(embsync_embedder_ops, abi, 0);
LAYOUT_FIELD(embsync_embedder_ops, open, 8);
LAYOUT_FIELD(embsync_embedder_ops, close, 16);
LAYOUT_FIELD(embsync_embedder_ops, check, 24);
LAYOUT_FIELD(embsync_embedder_ops, info, 32);
LAYOUT_FIELD(embsync_embedder_ops, embed_images, 40);
LAYOUT_FIELD(embsync_embedder_ops, embed_text, 48);
LAYOUT_SIZE(embsync_store_ops, 112); /* 80 in 1.0 and 1.1 */
LAYOUT_FIELD(embsync_store_ops, abi, 0);
LAYOUT_FIELD(embsync_store_ops, open, 8);
LAYOUT_FIELD(embsync_store_ops, close, 16);
LAYOUT_FIELD(embsync_store_ops, check, 24);
LAYOUT_FIELD(embsync_store_ops, ensure, 32);
LAYOUT_FIELD(embsync_store_ops, upsert, 40);
LAYOUT_FIELD(embsync_store_ops, remove, 48);
LAYOUT_FIELD(embsync_store_ops, count, 56);
LAYOUT_FIELD(embsync_store_ops, search, 64);
LAYOUT_FIELD(embsync_store_ops, drop, 72);
LAYOUT_FIELD(embsync_store_ops, list_ids, 80); /* 1.2 */
LAYOUT_FIELD(embsync_store_ops, contains, 88); /* 1.2 */
LAYOUT_FIELD(embsync_store_ops, alias_get, 96); /* 1.2 */
LAYOUT_FIELD(embsync_store_ops, alias_set, 104); /* 1.2 */
LAYOUT_SIZE(embsync_plugin, 64);
LAYOUT_FIELD(embsync_plugin, abi, 0);
LAYOUT_FIELD(embsync_plugin, kind, 8);
LAYOUT_FIELD(embsync_plugin, name, 16);
LAYOUT_FIELD(embsync_plugin, version, 24);
LAYOUT_FIELD(embsync_plugin, description, 32);
LAYOUT_FIELD(embsync_plugin, config_keys, 40);
LAYOUT_FIELD(embsync_plugin, config_key_size, 48);
LAYOUT_FIELD(embsync_plugin, flags, 52);
LAYOUT_FIELD(embsync_plugin, ops, 56);
#endif

_Static_assert(EMBSYNC_ABI_MAJOR == 1, "this file pins ABI 1");
_Static_assert(EMBSYNC_OK == 0 && EMBSYNC_RETRY == 1 &&
                   EMBSYNC_ITEM_FAILED == 2 && EMBSYNC_FAILED == 3 &&
                   EMBSYNC_FATAL == 4 && EMBSYNC_SKIP == 5,
               "status codes are part of the ABI");
_Static_assert(EMBSYNC_KIND_SOURCE == 1 && EMBSYNC_KIND_EMBEDDER == 2 &&
                   EMBSYNC_KIND_STORE == 3,
               "kinds are part of the ABI");
_Static_assert(EMBSYNC_ENSURE_EXISTS == 1 && EMBSYNC_ENSURE_CREATED == 2 &&
                   EMBSYNC_ENSURE_MISMATCH == 3 && EMBSYNC_ENSURE_ADOPTED == 4,
               "ensure results are part of the ABI");
_Static_assert(EMBSYNC_HTTP_NO_RETRY == 1 && EMBSYNC_HTTP_INSECURE == 2 &&
                   EMBSYNC_HTTP_NO_COMPRESSION == 4,
               "HTTP request flags are part of the ABI");

int main(void)
{
    /* The checks above ran at compile time; say so in TAP. */
    printf("1..1\nok 1 - v1 struct layouts unchanged (%zu-byte host table)\n",
           sizeof(embsync_host));
    return 0;
}
