/* A plugin that breaks the store contract on purpose: the checker must
 * catch it.  It appends instead of replacing, never removes, and claims
 * persistence while it keeps everything in memory; list_ids() gives the
 * ids of every collection in the order they came, whatever the start, and
 * contains() says yes to every id; alias_get() names every name itself and
 * alias_set() binds nothing. */
#include <stdlib.h>
#include <string.h>

#include <embsync/plugin.h>

enum { MAX_POINTS = 4096, MAX_DIM = 256 };

typedef struct point {
    char collection[64];
    uint64_t id;
    float v[MAX_DIM];
} point;

typedef struct bad_store {
    point *points;
    size_t n;
    uint32_t dim;
    char exists[4][64];
} bad_store;

static int bad_open(const embsync_host *host, embsync_ctx *ctx, void **state)
{
    (void)host;
    (void)ctx;
    bad_store *s = calloc(1, sizeof *s);
    if (s == NULL || (s->points = calloc(MAX_POINTS, sizeof *s->points)) == NULL) {
        free(s);
        return EMBSYNC_FATAL;
    }
    *state = s;
    return EMBSYNC_OK;
}

static void bad_close(void *state)
{
    bad_store *s = state;
    if (s != NULL)
        free(s->points);
    free(s);
}

static int bad_ensure(void *state, const char *collection,
                      const embsync_collection_spec *spec, int *result)
{
    bad_store *s = state;
    s->dim = spec->dim < MAX_DIM ? spec->dim : MAX_DIM;
    for (int i = 0; i < 4; i++)
        if (strcmp(s->exists[i], collection) == 0) {
            *result = EMBSYNC_ENSURE_EXISTS;
            return EMBSYNC_OK;
        }
    for (int i = 0; i < 4; i++)
        if (s->exists[i][0] == '\0') {
            strncpy(s->exists[i], collection, sizeof s->exists[i] - 1);
            break;
        }
    *result = EMBSYNC_ENSURE_CREATED;
    return EMBSYNC_OK;
}

static int bad_upsert(void *state, const char *collection, size_t n,
                      const embsync_point *points)
{
    bad_store *s = state;
    for (size_t i = 0; i < n && s->n < MAX_POINTS; i++, s->n++) {
        strncpy(s->points[s->n].collection, collection, 63);
        s->points[s->n].id = points[i].id;
        memcpy(s->points[s->n].v, points[i].vector, s->dim * sizeof(float));
    }
    return EMBSYNC_OK;
}

static int bad_remove(void *state, const char *collection, size_t n,
                      const uint64_t *ids)
{
    (void)state;
    (void)collection;
    (void)n;
    (void)ids;
    return EMBSYNC_OK;
}

static int bad_count(void *state, const char *collection, uint64_t *count)
{
    bad_store *s = state;
    *count = 0;
    for (size_t i = 0; i < s->n; i++)
        *count += strcmp(s->points[i].collection, collection) == 0;
    return EMBSYNC_OK;
}

static int bad_search(void *state, const char *collection, const float *vector,
                      size_t k, embsync_hit_cb cb, void *arg)
{
    bad_store *s = state;
    /* The single best match only, whatever k asks for. */
    (void)k;
    long best = -1;
    float best_score = -2;
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->points[i].collection, collection) != 0)
            continue;
        float dot = 0;
        for (uint32_t d = 0; d < s->dim; d++)
            dot += s->points[i].v[d] * vector[d];
        if (dot > best_score) {
            best_score = dot;
            best = (long)i;
        }
    }
    if (best >= 0) {
        embsync_hit h = {.abi = EMBSYNC_ABI_INIT(embsync_hit),
                         .id = s->points[best].id,
                         .score = best_score,
                         .payload = "{}"};
        cb(arg, &h);
    }
    return EMBSYNC_OK;
}

static int bad_drop(void *state, const char *collection)
{
    bad_store *s = state;
    size_t kept = 0;
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->points[i].collection, collection) != 0)
            s->points[kept++] = s->points[i];
    s->n = kept;
    for (int i = 0; i < 4; i++)
        if (strcmp(s->exists[i], collection) == 0)
            s->exists[i][0] = '\0';
    return EMBSYNC_OK;
}

static int bad_list_ids(void *state, const char *collection, uint64_t start,
                        size_t max, uint64_t *ids, size_t *n)
{
    bad_store *s = state;
    (void)collection;
    (void)start;
    *n = 0;
    for (size_t i = 0; i < s->n && *n < max; i++)
        ids[(*n)++] = s->points[i].id;
    return EMBSYNC_OK;
}

static int bad_contains(void *state, const char *collection, size_t n,
                        const uint64_t *ids, int *present)
{
    (void)state;
    (void)collection;
    (void)ids;
    for (size_t i = 0; i < n; i++)
        present[i] = 1;
    return EMBSYNC_OK;
}

static int bad_alias_get(void *state, const char *name, char *target,
                         size_t target_len)
{
    (void)state;
    strncpy(target, name, target_len - 1);
    target[target_len - 1] = '\0';
    return EMBSYNC_OK;
}

static int bad_alias_set(void *state, const char *name, const char *target)
{
    (void)state;
    (void)name;
    (void)target;
    return EMBSYNC_OK;
}

static const embsync_store_ops ops = {
    .abi = EMBSYNC_ABI_INIT(embsync_store_ops),
    .open = bad_open,
    .close = bad_close,
    .ensure = bad_ensure,
    .upsert = bad_upsert,
    .remove = bad_remove,
    .count = bad_count,
    .search = bad_search,
    .drop = bad_drop,
    .list_ids = bad_list_ids,
    .contains = bad_contains,
    .alias_get = bad_alias_get,
    .alias_set = bad_alias_set,
};

static const embsync_plugin descriptor = {
    .abi = EMBSYNC_ABI_INIT(embsync_plugin),
    .kind = EMBSYNC_KIND_STORE,
    .name = "bad-store",
    .version = "0",
    .description = "appends, never removes, forgets on close (checker test)",
    .flags = EMBSYNC_PLUGIN_PERSISTENT,
    .ops = &ops,
};

EMBSYNC_PLUGIN_ENTRY(descriptor)
