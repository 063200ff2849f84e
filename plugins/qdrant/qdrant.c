/* qdrant: the production store, over Qdrant's REST API.
 *
 * One Qdrant collection per source collection (named collection_prefix +
 * name), one unnamed vector, the model identity recorded in the
 * collection's metadata (Qdrant 1.16+; older servers ignore metadata, so
 * the record is kept in the plugin's state directory instead).  Writes use
 * wait=true: an OK from upsert or remove means Qdrant applied it.  Points
 * carry exactly the payload the source gives (see qdrant_records.h for how
 * ids above 2^53 stay exact without help from the payload).  With grpc_url
 * set, point upserts and deletes go over Qdrant's gRPC API instead
 * (qdrant_grpc.c); collections, aliases, reads and metadata stay on REST. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include <embsync/plugin.h>

#include "qdrant_grpc.h"
#include "qdrant_store.h"

static const embsync_config_key keys[] = {
    {"url", EMBSYNC_KEY_STRING, NULL, EMBSYNC_KEY_REQUIRED,
     "Qdrant REST address, http(s)://host:6333"},
    {"grpc_url", EMBSYNC_KEY_STRING, "", 0,
     "Qdrant gRPC address, http(s)://host:6334: point upserts and deletes go "
     "over gRPC (vectors as packed float32), everything else over url; "
     "embsync check calls its HealthCheck too (empty: REST only)"},
    {"api_key", EMBSYNC_KEY_STRING, NULL, EMBSYNC_KEY_SECRET,
     "API key, sent as the api-key header (or api_key_file = PATH)"},
    {"collection_prefix", EMBSYNC_KEY_STRING, "", 0,
     "prefix of every Qdrant collection name (several deployments, one Qdrant)"},
    {"distance", EMBSYNC_KEY_STRING, "Cosine", 0, "Cosine, Dot, Euclid or Manhattan"},
    {"batch_size", EMBSYNC_KEY_INT, "128", 0, "points per upsert request"},
    {"timeout", EMBSYNC_KEY_INT, "60", 0, "seconds per request"},
    {"ca_file", EMBSYNC_KEY_STRING, NULL, 0, "extra CA bundle for https"},
    {"verify_tls", EMBSYNC_KEY_BOOL, "true", 0, "verify the server certificate"},
    {"payload_index", EMBSYNC_KEY_STRING, "dataset_id:keyword", 0,
     "FIELD:TYPE payload index created with each collection (empty: none)"},
    {"adopt", EMBSYNC_KEY_BOOL, "true", 0,
     "a collection of the right size and distance that records no model "
     "(made by the Embeddings Generator) is adopted: the model is recorded, "
     "every point kept; false: rebuild it like a model change"},
    {"shard_number", EMBSYNC_KEY_INT, NULL, 0,
     "shards of each collection embsync creates, 1 to 65536 (unset: Qdrant's "
     "default, 1 standalone or one per node)"},
    {"replication_factor", EMBSYNC_KEY_INT, NULL, 0,
     "copies of each shard in a cluster, 1 to 1024 (unset: Qdrant's default, 1)"},
    {"write_consistency_factor", EMBSYNC_KEY_INT, NULL, 0,
     "replicas that must apply a write, 1 to replication_factor (unset: 1)"},
    {"on_disk", EMBSYNC_KEY_BOOL, NULL, 0,
     "keep the vectors of new collections on disk, served through the page "
     "cache (unset: in RAM)"},
    {"hnsw_m", EMBSYNC_KEY_INT, NULL, 0,
     "HNSW edges per node of new collections, 0 to 1024, 0 builds no graph "
     "(unset: Qdrant's default, 16)"},
    {"hnsw_ef_construct", EMBSYNC_KEY_INT, NULL, 0,
     "HNSW neighbours considered while building, 4 to 65536 (unset: Qdrant's "
     "default, 100)"},
    {"quantization", EMBSYNC_KEY_STRING, "none", 0,
     "none or int8 (scalar quantization of new collections' vectors)"},
    {"always_ram", EMBSYNC_KEY_BOOL, NULL, 0,
     "with quantization = int8: keep the quantized vectors in RAM whatever "
     "on_disk says"},
    {"write_ordering", EMBSYNC_KEY_STRING, NULL, 0,
     "weak, medium or strong: the ordering of point writes in a cluster, sent "
     "as ?ordering= (unset: Qdrant's default, weak)"},
    {NULL, 0, NULL, 0, NULL},
};

/* ---- open / close / check ------------------------------------------------ */

static void learn_version(qdrant *q)
{
    qdrant_reply r;
    if (qdrant_call(&q->client, "GET", "/", NULL, 0, &r) != EMBSYNC_OK ||
        r.status != 200) {
        qdrant_reply_free(&r);
        return;
    }
    const char *version = cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(r.json, "version"));
    if (version != NULL &&
        sscanf(version, "%d.%d", &q->server_major, &q->server_minor) == 2) {
        HOST(q)->log(CTX(q), EMBSYNC_LOG_INFO, "Qdrant %s at %s", version,
                     q->client.base);
        if (q->server_major == 1 && q->server_minor < 10)
            HOST(q)->log(CTX(q), EMBSYNC_LOG_WARNING,
                         "Qdrant %s is older than 1.10: /points/query is missing",
                         version);
        if (!qdrant_has_metadata(q))
            HOST(q)->log(CTX(q), EMBSYNC_LOG_WARNING,
                         "Qdrant %s keeps no collection metadata (1.16+): the "
                         "model record is kept in %s",
                         version, q->state_dir ? q->state_dir : "(no state dir)");
    }
    qdrant_reply_free(&r);
}

static int qd_open(const embsync_host *host, embsync_ctx *ctx, void **state)
{
    qdrant *q = calloc(1, sizeof *q);
    if (q == NULL)
        return EMBSYNC_FATAL;
    q->client.host = host;
    q->client.ctx = ctx;
    if (!EMBSYNC_HOST_HAS(host, url_escape)) {
        host->set_error(ctx, "needs a host with http_outcome and the URL helpers (ABI 1.2)");
        free(q);
        return EMBSYNC_FATAL;
    }
    const char *url = host->config_get(ctx, "url");
    q->client.base = strdup(url);
    if (q->client.base != NULL) /* an empty path: the base, slashes trimmed */
        host->url_join(url, "", q->client.base, strlen(url) + 1);
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
        host->set_error(ctx, "url must start with http:// or https://: %s", url);
        goto fatal;
    }
    const char *key = host->config_get(ctx, "api_key");
    if (key != NULL && *key != '\0') {
        size_t n = strlen(key) + 10;
        q->client.key_header = malloc(n);
        snprintf(q->client.key_header, n, "api-key: %s", key);
        if (strncmp(url, "http://", 7) == 0)
            host->log(ctx, EMBSYNC_LOG_WARNING,
                      "the API key goes over plain http; use https");
    }
    const char *grpc_url = host->config_get(ctx, "grpc_url");
    if (grpc_url != NULL && *grpc_url != '\0') {
        if (strncmp(grpc_url, "http://", 7) != 0 && strncmp(grpc_url, "https://", 8) != 0) {
            host->set_error(ctx, "grpc_url must start with http:// or https://: %s",
                            grpc_url);
            goto fatal;
        }
        if (!EMBSYNC_HOST_HAS(host, grpc_outcome)) {
            host->set_error(ctx, "grpc_url needs a host with gRPC calls (ABI 1.4); "
                            "leave grpc_url empty to write over REST");
            goto fatal;
        }
        q->grpc_base = strdup(grpc_url);
        if (q->grpc_base != NULL)
            host->url_join(grpc_url, "", q->grpc_base, strlen(grpc_url) + 1);
        if (q->client.key_header != NULL && strncmp(grpc_url, "http://", 7) == 0)
            host->log(ctx, EMBSYNC_LOG_WARNING,
                      "the API key goes over plain http to grpc_url; use https");
    }
    q->client.ca_file = host->config_get(ctx, "ca_file");
    q->client.timeout_ms = host->config_int(ctx, "timeout", 60) * 1000;
    if (!host->config_bool(ctx, "verify_tls", 1))
        q->client.flags |= EMBSYNC_HTTP_INSECURE;
    q->prefix = host->config_get(ctx, "collection_prefix");
    q->distance = host->config_get(ctx, "distance");
    if (strcmp(q->distance, "Cosine") && strcmp(q->distance, "Dot") &&
        strcmp(q->distance, "Euclid") && strcmp(q->distance, "Manhattan")) {
        host->set_error(ctx, "distance must be Cosine, Dot, Euclid or Manhattan, not %s",
                        q->distance);
        goto fatal;
    }
    q->batch_size = host->config_int(ctx, "batch_size", 128);
    if (q->batch_size < 1 || q->batch_size > 100000) {
        host->set_error(ctx, "batch_size must be from 1 to 100000");
        goto fatal;
    }
    const char *index = host->config_get(ctx, "payload_index");
    if (index != NULL && *index != '\0' &&
        sscanf(index, "%127[^:]:%31s", q->index_field, q->index_type) != 2) {
        host->set_error(ctx, "payload_index must be FIELD:TYPE, not %s", index);
        goto fatal;
    }
    q->adopt = host->config_bool(ctx, "adopt", 1);
    if (qdrant_options_read(q) != 0)
        goto fatal;
    q->state_dir = host->state_dir(ctx);
    learn_version(q);
    *state = q;
    return EMBSYNC_OK;
fatal:
    free(q->grpc_base);
    free(q->client.base);
    free(q->client.key_header);
    free(q);
    return EMBSYNC_FATAL;
}

static void qd_close(void *state)
{
    qdrant *q = state;
    if (q == NULL)
        return;
    free(q->grpc_base);
    free(q->client.base);
    free(q->client.key_header);
    free(q);
}

static int qd_check(void *state)
{
    qdrant *q = state;
    qdrant_reply r;
    int rc = qdrant_call(&q->client, "GET", "/readyz", NULL, 0, &r);
    if (rc == EMBSYNC_OK && r.status != 200) {
        HOST(q)->set_error(CTX(q), "Qdrant is not ready (%ld): %s", r.status,
                           r.text ? r.text : "");
        rc = EMBSYNC_RETRY;
    }
    if (rc == EMBSYNC_OK && q->server_major == 0)
        learn_version(q);
    qdrant_reply_free(&r);
    /* The point writes go to grpc_url: a REST side that answers says
     * nothing about it (another port, maybe another proxy). */
    if (rc == EMBSYNC_OK && q->grpc_base != NULL)
        rc = qdrant_grpc_health(q);
    return rc;
}

static const embsync_store_ops ops = {
    .abi = EMBSYNC_ABI_INIT(embsync_store_ops),
    .open = qd_open,
    .close = qd_close,
    .check = qd_check,
    .ensure = qdrant_ensure,
    .upsert = qdrant_upsert,
    .remove = qdrant_remove,
    .count = qdrant_count,
    .search = qdrant_search,
    .drop = qdrant_drop,
    .list_ids = qdrant_list_ids,
    .contains = qdrant_contains,
    .alias_get = qdrant_alias_get,
    .alias_set = qdrant_alias_set,
};

static const embsync_plugin descriptor = {
    .abi = EMBSYNC_ABI_INIT(embsync_plugin),
    .kind = EMBSYNC_KIND_STORE,
    .name = "qdrant",
    .version = QDRANT_PLUGIN_VERSION,
    .description = "Qdrant over REST, point writes optionally over gRPC (1.10+; model record in collection metadata on 1.16+)",
    .config_keys = keys,
    .config_key_size = sizeof keys[0],
    .flags = EMBSYNC_PLUGIN_PERSISTENT,
    .ops = &ops,
};

EMBSYNC_PLUGIN_ENTRY(descriptor)
