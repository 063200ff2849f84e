/* One source file, several deliberately broken plugin modules: each build
 * defines one BROKEN_* macro (see tests/Makefile.inc). */
#include <stddef.h>

#include <embsync/plugin.h>

static int open_op(const embsync_host *host, embsync_ctx *ctx, void **state)
{
    (void)host;
    (void)ctx;
    *state = NULL;
    return EMBSYNC_OK;
}

static void close_op(void *state)
{
    (void)state;
}

static int ensure_op(void *s, const char *c, const embsync_collection_spec *spec,
                     int *result)
{
    (void)s, (void)c, (void)spec;
    *result = EMBSYNC_ENSURE_EXISTS;
    return EMBSYNC_OK;
}

static int upsert_op(void *s, const char *c, size_t n, const embsync_point *p)
{
    (void)s, (void)c, (void)n, (void)p;
    return EMBSYNC_OK;
}

static int remove_op(void *s, const char *c, size_t n, const uint64_t *ids)
{
    (void)s, (void)c, (void)n, (void)ids;
    return EMBSYNC_OK;
}

static int count_op(void *s, const char *c, uint64_t *count)
{
    (void)s, (void)c;
    *count = 0;
    return EMBSYNC_OK;
}

static int search_op(void *s, const char *c, const float *v, size_t k,
                     embsync_hit_cb cb, void *arg)
{
    (void)s, (void)c, (void)v, (void)k, (void)cb, (void)arg;
    return EMBSYNC_OK;
}

static int drop_op(void *s, const char *c)
{
    (void)s, (void)c;
    return EMBSYNC_OK;
}

static const embsync_store_ops ops = {
    .abi = EMBSYNC_ABI_INIT(embsync_store_ops),
    .open = open_op, .close = close_op, .ensure = ensure_op,
    .upsert = upsert_op, .remove = remove_op, .count = count_op,
    .search = search_op, .drop = drop_op,
};

static const embsync_plugin descriptor = {
#if defined(BROKEN_MAJOR)
    .abi = {EMBSYNC_ABI_MAJOR + 1, 0, sizeof(embsync_plugin)},
#elif defined(BROKEN_MINOR)
    .abi = {EMBSYNC_ABI_MAJOR, EMBSYNC_ABI_MINOR + 1, sizeof(embsync_plugin)},
#elif defined(BROKEN_SIZE)
    .abi = {EMBSYNC_ABI_MAJOR, EMBSYNC_ABI_MINOR, 12},
#else
    .abi = EMBSYNC_ABI_INIT(embsync_plugin),
#endif
#if defined(BROKEN_KIND)
    .kind = 42,
#else
    .kind = EMBSYNC_KIND_STORE,
#endif
    .name = "teststore",
    .version = "0",
    .description = "a store for the loader tests",
    .ops = &ops,
};

#if !defined(BROKEN_NO_ENTRY)
EMBSYNC_PLUGIN_ENTRY(descriptor)
#else
/* Exported under the wrong name: the loader must not find it. */
EMBSYNC_EXPORT const embsync_plugin *not_the_entry(void);
const embsync_plugin *not_the_entry(void)
{
    return &descriptor;
}
#endif
