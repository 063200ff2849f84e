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

#if defined(BUILT_FOR_1_1)
/* A store as built against ABI 1.1: minor 1 and the tables' 1.1 sizes
 * (store ops ended at drop(), 80 bytes; the descriptor is unchanged, see
 * test_abi_layout.c).  What lies beyond a 1.1 table is not the plugin's,
 * so it is filled with something the loader must not take for operations. */
static int list_ids_op(void *s, const char *c, uint64_t start, size_t max,
                       uint64_t *ids, size_t *n)
{
    (void)s, (void)c, (void)start, (void)max, (void)ids, (void)n;
    return EMBSYNC_FATAL;
}

static int contains_op(void *s, const char *c, size_t n, const uint64_t *ids,
                       int *present)
{
    (void)s, (void)c, (void)n, (void)ids, (void)present;
    return EMBSYNC_FATAL;
}
#define TABLE_ABI(T, size_1_1) {EMBSYNC_ABI_MAJOR, 1, size_1_1}
#else
#define TABLE_ABI(T, size_1_1) EMBSYNC_ABI_INIT(T)
#endif

static const embsync_store_ops ops = {
    .abi = TABLE_ABI(embsync_store_ops, 80),
    .open = open_op, .close = close_op, .ensure = ensure_op,
    .upsert = upsert_op, .remove = remove_op, .count = count_op,
    .search = search_op, .drop = drop_op,
#if defined(BUILT_FOR_1_1)
    .list_ids = list_ids_op, .contains = contains_op,
#endif
};

static const embsync_plugin descriptor = {
#if defined(BROKEN_MAJOR)
    .abi = {EMBSYNC_ABI_MAJOR + 1, 0, sizeof(embsync_plugin)},
#elif defined(BROKEN_MINOR)
    .abi = {EMBSYNC_ABI_MAJOR, EMBSYNC_ABI_MINOR + 1, sizeof(embsync_plugin)},
#elif defined(BROKEN_SIZE)
    .abi = {EMBSYNC_ABI_MAJOR, EMBSYNC_ABI_MINOR, 12},
#else
    .abi = TABLE_ABI(embsync_plugin, 64),
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
