#include "id_list.h"

#include <stdlib.h>

#include <stb_ds.h>

static int by_id(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Re-sort when stale, or when removals left more dead ids than live ones. */
static int refresh(fl_collection *c)
{
    size_t live = (size_t)hmlen(c->payloads);
    if (c->sorted_ids != NULL && !c->ids_stale && c->n_sorted <= 2 * live + 64)
        return 0;
    uint64_t *ids = malloc((live ? live : 1) * sizeof *ids);
    if (ids == NULL)
        return -1;
    for (size_t i = 0; i < live; i++)
        ids[i] = c->payloads[i].key;
    qsort(ids, live, sizeof *ids, by_id);
    free(c->sorted_ids);
    c->sorted_ids = ids;
    c->n_sorted = live;
    c->ids_stale = 0;
    return 0;
}

int fl_collection_list_ids(fl_collection *c, uint64_t start, size_t max,
                           uint64_t *ids, size_t *n)
{
    *n = 0;
    if (refresh(c) != 0)
        return -1;
    size_t lo = 0, hi = c->n_sorted;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->sorted_ids[mid] < start)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < c->n_sorted && *n < max; i++)
        if (fl_collection_contains(c, c->sorted_ids[i]))
            ids[(*n)++] = c->sorted_ids[i];
    return 0;
}

int fl_collection_contains(fl_collection *c, uint64_t id)
{
    return hmgeti(c->payloads, id) >= 0;
}

void fl_id_list_free(fl_collection *c)
{
    free(c->sorted_ids);
    c->sorted_ids = NULL;
    c->n_sorted = 0;
}
