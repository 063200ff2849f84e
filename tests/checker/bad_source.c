/* A plugin that breaks the source contract on purpose: the checker must
 * catch it.  Its ack() records nothing (acknowledged items come back
 * forever) and its end() clears the in-progress mark only after a
 * success, so one failed run blocks the collection for good.  Its items()
 * lists every item twice and its exists() says yes to any id. */

#include <embsync/plugin.h>

typedef struct bad_source {
    const embsync_host *host;
    int in_progress;
} bad_source;

static bad_source the_source;

static int bad_open(const embsync_host *host, embsync_ctx *ctx, void **state)
{
    (void)ctx;
    the_source.host = host;
    *state = &the_source;
    return EMBSYNC_OK;
}

static void bad_close(void *state)
{
    (void)state;
}

static int bad_list(void *state, embsync_collection_cb cb, void *arg)
{
    (void)state;
    cb(arg, "only");
    return EMBSYNC_OK;
}

static int bad_begin(void *state, const char *collection)
{
    bad_source *s = state;
    (void)collection;
    if (s->in_progress)
        return EMBSYNC_SKIP;
    s->in_progress = 1;
    return EMBSYNC_OK;
}

static int bad_changes(void *state, const char *collection,
                       embsync_change_sink *sink)
{
    (void)state;
    (void)collection;
    embsync_change c[4];
    for (int i = 0; i < 4; i++)
        c[i] = (embsync_change){.abi = EMBSYNC_ABI_INIT(embsync_change),
                                .id = (uint64_t)i + 1,
                                .op = EMBSYNC_OP_UPSERT,
                                .payload = "{\"n\":1}"};
    return sink->emit(sink, c, 4);
}

static int bad_items(void *state, const char *collection,
                     embsync_change_sink *sink)
{
    int rc = bad_changes(state, collection, sink);
    return rc == EMBSYNC_OK ? bad_changes(state, collection, sink) : rc;
}

static int bad_exists(void *state, const char *collection, size_t n,
                      const embsync_change *items, int *present)
{
    (void)state;
    (void)collection;
    (void)items;
    for (size_t i = 0; i < n; i++)
        present[i] = 1;
    return EMBSYNC_OK;
}

static int bad_fetch(void *state, const char *collection, size_t n,
                     const embsync_change *items, embsync_blob *out,
                     int *status)
{
    bad_source *s = state;
    (void)collection;
    (void)items;
    static const unsigned char bytes[] = {0xff, 0xd8, 0xff, 0xe0, 0, 0};
    for (size_t i = 0; i < n; i++)
        status[i] = s->host->blob_set(&out[i], bytes, sizeof bytes) == 0
                        ? EMBSYNC_OK
                        : EMBSYNC_RETRY;
    return EMBSYNC_OK;
}

static int bad_ack(void *state, const char *collection, size_t n,
                   const embsync_change *done)
{
    (void)state;
    (void)collection;
    (void)n;
    (void)done;
    return EMBSYNC_OK;
}

static int bad_end(void *state, const char *collection, int run_status)
{
    bad_source *s = state;
    (void)collection;
    if (run_status == EMBSYNC_OK)
        s->in_progress = 0;
    return EMBSYNC_OK;
}

static const embsync_source_ops ops = {
    .abi = EMBSYNC_ABI_INIT(embsync_source_ops),
    .open = bad_open,
    .close = bad_close,
    .list_collections = bad_list,
    .begin = bad_begin,
    .changes = bad_changes,
    .fetch = bad_fetch,
    .ack = bad_ack,
    .end = bad_end,
    .exists = bad_exists,
    .items = bad_items,
};

static const embsync_plugin descriptor = {
    .abi = EMBSYNC_ABI_INIT(embsync_plugin),
    .kind = EMBSYNC_KIND_SOURCE,
    .name = "bad-source",
    .version = "0",
    .description = "never records acks, stays in progress after a failure (checker test)",
    .ops = &ops,
};

EMBSYNC_PLUGIN_ENTRY(descriptor)
