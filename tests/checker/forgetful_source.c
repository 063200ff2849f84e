/* A source that gets the ABI 1.2 operations wrong on purpose, and only
 * those: its items() forgets what was acknowledged (so the next changes()
 * lists everything again) and its exists() can only answer from a ref, so
 * an id read back from a store is "gone".  The rest of the contract holds:
 * one collection of six items, acknowledgements kept in memory. */
#include <string.h>

#include <embsync/plugin.h>

#define N_ITEMS 6

static int acked[N_ITEMS];

/* Item i: id i + 1, but the last one above 2^63. */
static uint64_t item_id(int i)
{
    return i == N_ITEMS - 1 ? (UINT64_C(1) << 63) + 5 : (uint64_t)i + 1;
}

static int index_of(uint64_t id)
{
    for (int i = 0; i < N_ITEMS; i++)
        if (item_id(i) == id)
            return i;
    return -1;
}

static int fg_open(const embsync_host *host, embsync_ctx *ctx, void **state)
{
    (void)ctx;
    *state = (void *)host;
    memset(acked, 0, sizeof acked);
    return EMBSYNC_OK;
}

static void fg_close(void *state)
{
    (void)state;
}

static int fg_list(void *state, embsync_collection_cb cb, void *arg)
{
    (void)state;
    cb(arg, "only");
    return EMBSYNC_OK;
}

static int fg_begin(void *state, const char *collection)
{
    (void)state;
    (void)collection;
    return EMBSYNC_OK;
}

static int emit_items(embsync_change_sink *sink, int all)
{
    static const char *const refs[N_ITEMS] = {"a", "b", "c", "d", "e", "f"};
    embsync_change c[N_ITEMS];
    size_t n = 0;
    for (int i = 0; i < N_ITEMS; i++)
        if (all || !acked[i])
            c[n++] = (embsync_change){.abi = EMBSYNC_ABI_INIT(embsync_change),
                                      .id = item_id(i),
                                      .op = EMBSYNC_OP_UPSERT,
                                      .ref = refs[i],
                                      .version = "1",
                                      .payload = "{\"n\":1}"};
    return n > 0 ? sink->emit(sink, c, n) : EMBSYNC_OK;
}

static int fg_changes(void *state, const char *collection,
                      embsync_change_sink *sink)
{
    (void)state;
    (void)collection;
    return emit_items(sink, 0);
}

static int fg_items(void *state, const char *collection,
                    embsync_change_sink *sink)
{
    (void)state;
    (void)collection;
    memset(acked, 0, sizeof acked); /* the bug: listing is not resetting */
    return emit_items(sink, 1);
}

static int fg_exists(void *state, const char *collection, size_t n,
                     const embsync_change *items, int *present)
{
    (void)state;
    (void)collection;
    for (size_t i = 0; i < n; i++) /* the bug: no answer by id alone */
        present[i] = items[i].ref != NULL && index_of(items[i].id) >= 0;
    return EMBSYNC_OK;
}

static int fg_fetch(void *state, const char *collection, size_t n,
                    const embsync_change *items, embsync_blob *out,
                    int *status)
{
    const embsync_host *host = state;
    (void)collection;
    (void)items;
    static const unsigned char bytes[] = {0xff, 0xd8, 0xff, 0xe0, 0, 0};
    for (size_t i = 0; i < n; i++)
        status[i] = host->blob_set(&out[i], bytes, sizeof bytes) == 0
                        ? EMBSYNC_OK
                        : EMBSYNC_RETRY;
    return EMBSYNC_OK;
}

static int fg_ack(void *state, const char *collection, size_t n,
                  const embsync_change *done)
{
    (void)state;
    (void)collection;
    for (size_t i = 0; i < n; i++)
        if (index_of(done[i].id) >= 0)
            acked[index_of(done[i].id)] = 1;
    return EMBSYNC_OK;
}

static int fg_reset(void *state, const char *collection)
{
    (void)state;
    (void)collection;
    memset(acked, 0, sizeof acked);
    return EMBSYNC_OK;
}

static int fg_end(void *state, const char *collection, int run_status)
{
    (void)state;
    (void)collection;
    (void)run_status;
    return EMBSYNC_OK;
}

static const embsync_source_ops ops = {
    .abi = EMBSYNC_ABI_INIT(embsync_source_ops),
    .open = fg_open,
    .close = fg_close,
    .list_collections = fg_list,
    .begin = fg_begin,
    .changes = fg_changes,
    .fetch = fg_fetch,
    .ack = fg_ack,
    .reset = fg_reset,
    .end = fg_end,
    .exists = fg_exists,
    .items = fg_items,
};

static const embsync_plugin descriptor = {
    .abi = EMBSYNC_ABI_INIT(embsync_plugin),
    .kind = EMBSYNC_KIND_SOURCE,
    .name = "forgetful-source",
    .version = "0",
    .description = "items() resets, exists() needs a ref (checker test)",
    .ops = &ops,
};

EMBSYNC_PLUGIN_ENTRY(descriptor)
