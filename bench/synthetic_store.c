/* A store that holds generated points without keeping them, for measuring
 * reconciliation's own time and memory apart from a store's: the
 * collection "synthetic" holds the points of items 0 .. points-1
 * (synthetic.h) but those whose i is a multiple of lost_every, and what was removed or
 * upserted since open() is not remembered (remove() and upsert() are
 * counted and accepted).  list_ids() and contains() answer from the
 * formula, in constant memory. */
#include <stdlib.h>
#include <string.h>

#include <embsync/plugin.h>

#include "synthetic.h"

typedef struct synthetic_store {
    const embsync_host *host;
    embsync_ctx *ctx;
    uint64_t points, lost_every;
} synthetic_store;

static const embsync_config_key keys[] = {
    {"points", EMBSYNC_KEY_INT, "1000", 0, "points in the collection"},
    {"lost_every", EMBSYNC_KEY_INT, "0", 0,
     "points whose item number is a multiple of this are missing (0: none)"},
    {NULL, 0, NULL, 0, NULL},
};

static int st_open(const embsync_host *host, embsync_ctx *ctx, void **state)
{
    synthetic_store *s = calloc(1, sizeof *s);
    if (s == NULL)
        return EMBSYNC_FATAL;
    s->host = host;
    s->ctx = ctx;
    long long points = host->config_int(ctx, "points", 1000);
    long long lost = host->config_int(ctx, "lost_every", 0);
    if (points < 0 || points > (long long)SYNTHETIC_SPAN || lost < 0) {
        host->set_error(ctx, "points must be from 0 to %llu and lost_every "
                        "not negative", (unsigned long long)SYNTHETIC_SPAN);
        free(s);
        return EMBSYNC_FATAL;
    }
    s->points = (uint64_t)points;
    s->lost_every = (uint64_t)lost;
    *state = s;
    return EMBSYNC_OK;
}

static void st_close(void *state)
{
    free(state);
}

static int held(const synthetic_store *s, const char *collection, uint64_t i)
{
    return strcmp(collection, SYNTHETIC_COLLECTION) == 0 && i < s->points &&
           (s->lost_every == 0 || i % s->lost_every != 0);
}

static int st_ensure(void *state, const char *collection,
                     const embsync_collection_spec *spec, int *result)
{
    (void)state;
    (void)collection;
    (void)spec;
    *result = EMBSYNC_ENSURE_EXISTS;
    return EMBSYNC_OK;
}

static int st_upsert(void *state, const char *collection, size_t n,
                     const embsync_point *points)
{
    synthetic_store *s = state;
    (void)collection;
    (void)points;
    s->host->counter_add(s->ctx, "upserted", (double)n);
    return EMBSYNC_OK;
}

static int st_remove(void *state, const char *collection, size_t n,
                     const uint64_t *ids)
{
    synthetic_store *s = state;
    (void)collection;
    (void)ids;
    s->host->counter_add(s->ctx, "removed", (double)n);
    return EMBSYNC_OK;
}

static int st_count(void *state, const char *collection, uint64_t *count)
{
    synthetic_store *s = state;
    *count = strcmp(collection, SYNTHETIC_COLLECTION) == 0 ? s->points : 0;
    return EMBSYNC_OK;
}

static int st_search(void *state, const char *collection, const float *vector,
                     size_t k, embsync_hit_cb cb, void *arg)
{
    (void)state, (void)collection, (void)vector, (void)k, (void)cb, (void)arg;
    return EMBSYNC_OK;
}

static int st_drop(void *state, const char *collection)
{
    (void)state;
    (void)collection;
    return EMBSYNC_OK;
}

static int st_list_ids(void *state, const char *collection, uint64_t start,
                       size_t max, uint64_t *ids, size_t *n)
{
    synthetic_store *s = state;
    *n = 0;
    /* The first i whose id is >= start. */
    uint64_t i = start <= SYNTHETIC_STRIDE ? 0
                 : (start - 1) / SYNTHETIC_STRIDE;
    for (; i < s->points && *n < max; i++)
        if (synthetic_id(i) >= start && held(s, collection, i))
            ids[(*n)++] = synthetic_id(i);
    return EMBSYNC_OK;
}

static int st_contains(void *state, const char *collection, size_t n,
                       const uint64_t *ids, int *present)
{
    synthetic_store *s = state;
    for (size_t k = 0; k < n; k++)
        present[k] = held(s, collection, synthetic_index(ids[k]));
    return EMBSYNC_OK;
}

static const embsync_store_ops ops = {
    .abi = EMBSYNC_ABI_INIT(embsync_store_ops),
    .open = st_open,
    .close = st_close,
    .ensure = st_ensure,
    .upsert = st_upsert,
    .remove = st_remove,
    .count = st_count,
    .search = st_search,
    .drop = st_drop,
    .list_ids = st_list_ids,
    .contains = st_contains,
};

static const embsync_plugin descriptor = {
    .abi = EMBSYNC_ABI_INIT(embsync_plugin),
    .kind = EMBSYNC_KIND_STORE,
    .name = "synthetic-store",
    .version = "1.0",
    .description = "generated points, kept nowhere (benchmarks)",
    .config_keys = keys,
    .config_key_size = sizeof keys[0],
    .ops = &ops,
};

EMBSYNC_PLUGIN_ENTRY(descriptor)
