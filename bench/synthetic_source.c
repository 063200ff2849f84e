/* A source of generated items for the benchmarks that need a million of
 * them without a million files or a remote service: one collection,
 * "synthetic", whose item i (0 <= i < items) has id synthetic_id(i)
 * (synthetic.h), so any id maps back to its i.  Items with i % gone_every == gone_every - 1 are
 * "gone" (neither listed nor existing), which makes orphans of their
 * vectors when an earlier run stored them.  Nothing is recorded: changes()
 * lists every item, like items().  Content is a JPEG signature and the 8
 * bytes of the id: enough for the null embedder, which hashes it. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <embsync/plugin.h>

#include "synthetic.h"

#define PAGE 1000

typedef struct synthetic {
    const embsync_host *host;
    embsync_ctx *ctx;
    uint64_t items, gone_every;
    embsync_change page[PAGE];   /* items(): one page being emitted */
    char payloads[PAGE][32];
} synthetic;

static const embsync_config_key keys[] = {
    {"items", EMBSYNC_KEY_INT, "1000", 0, "items in the collection"},
    {"gone_every", EMBSYNC_KEY_INT, "0", 0,
     "every n-th item is gone (0: none)"},
    {NULL, 0, NULL, 0, NULL},
};

static int syn_open(const embsync_host *host, embsync_ctx *ctx, void **state)
{
    synthetic *s = calloc(1, sizeof *s);
    if (s == NULL)
        return EMBSYNC_FATAL;
    s->host = host;
    s->ctx = ctx;
    long long items = host->config_int(ctx, "items", 1000);
    long long gone = host->config_int(ctx, "gone_every", 0);
    if (items < 0 || items > (long long)SYNTHETIC_SPAN || gone < 0) {
        host->set_error(ctx, "items must be from 0 to %llu and gone_every "
                        "not negative", (unsigned long long)SYNTHETIC_SPAN);
        free(s);
        return EMBSYNC_FATAL;
    }
    s->items = (uint64_t)items;
    s->gone_every = (uint64_t)gone;
    *state = s;
    return EMBSYNC_OK;
}

static void syn_close(void *state)
{
    free(state);
}

static int syn_list(void *state, embsync_collection_cb cb, void *arg)
{
    (void)state;
    cb(arg, SYNTHETIC_COLLECTION);
    return EMBSYNC_OK;
}

static int syn_begin(void *state, const char *collection)
{
    synthetic *s = state;
    if (strcmp(collection, SYNTHETIC_COLLECTION) != 0) {
        s->host->set_error(s->ctx, "no collection %s", collection);
        return EMBSYNC_FAILED;
    }
    return EMBSYNC_OK;
}

static int is_item(const synthetic *s, uint64_t i)
{
    return i < s->items &&
           (s->gone_every == 0 || i % s->gone_every != s->gone_every - 1);
}

static int syn_items(void *state, const char *collection,
                     embsync_change_sink *sink)
{
    synthetic *s = state;
    (void)collection;
    embsync_change *page = s->page;
    char (*payloads)[32] = s->payloads;
    size_t n = 0;
    for (uint64_t i = 0; i < s->items; i++) {
        if (!is_item(s, i))
            continue;
        snprintf(payloads[n], sizeof payloads[n], "{\"n\":%" PRIu64 "}", i);
        page[n] = (embsync_change){.abi = EMBSYNC_ABI_INIT(embsync_change),
                                   .id = synthetic_id(i),
                                   .op = EMBSYNC_OP_UPSERT,
                                   .payload = payloads[n]};
        if (++n == PAGE) {
            int rc = sink->emit(sink, page, n);
            if (rc != EMBSYNC_OK)
                return rc;
            n = 0;
        }
    }
    return n > 0 ? sink->emit(sink, page, n) : EMBSYNC_OK;
}

static int syn_exists(void *state, const char *collection, size_t n,
                      const embsync_change *items, int *present)
{
    synthetic *s = state;
    (void)collection;
    for (size_t k = 0; k < n; k++)
        present[k] = synthetic_index(items[k].id) < SYNTHETIC_SPAN &&
                     is_item(s, synthetic_index(items[k].id));
    return EMBSYNC_OK;
}

static int syn_fetch(void *state, const char *collection, size_t n,
                     const embsync_change *items, embsync_blob *out,
                     int *status)
{
    synthetic *s = state;
    (void)collection;
    for (size_t k = 0; k < n; k++) {
        unsigned char bytes[11] = {0xff, 0xd8, 0xff};
        memcpy(bytes + 3, &items[k].id, sizeof items[k].id);
        status[k] = s->host->blob_set(&out[k], bytes, sizeof bytes) == 0
                        ? EMBSYNC_OK
                        : EMBSYNC_RETRY;
    }
    return EMBSYNC_OK;
}

static int syn_ack(void *state, const char *collection, size_t n,
                   const embsync_change *done)
{
    (void)state;
    (void)collection;
    (void)n;
    (void)done;
    return EMBSYNC_OK;
}

static int syn_reset(void *state, const char *collection)
{
    (void)state;
    (void)collection;
    return EMBSYNC_OK;
}

static int syn_end(void *state, const char *collection, int run_status)
{
    (void)state;
    (void)collection;
    (void)run_status;
    return EMBSYNC_OK;
}

static const embsync_source_ops ops = {
    .abi = EMBSYNC_ABI_INIT(embsync_source_ops),
    .open = syn_open,
    .close = syn_close,
    .list_collections = syn_list,
    .begin = syn_begin,
    .changes = syn_items,
    .fetch = syn_fetch,
    .ack = syn_ack,
    .reset = syn_reset,
    .end = syn_end,
    .exists = syn_exists,
    .items = syn_items,
};

static const embsync_plugin descriptor = {
    .abi = EMBSYNC_ABI_INIT(embsync_plugin),
    .kind = EMBSYNC_KIND_SOURCE,
    .name = "synthetic",
    .version = "1.0",
    .description = "generated items for benchmarks (one collection)",
    .config_keys = keys,
    .config_key_size = sizeof keys[0],
    .ops = &ops,
};

EMBSYNC_PLUGIN_ENTRY(descriptor)
