/* A store plugin's parsing of its server's answers, through its ops
 * table: collection info, counts, searches, id listings, writes. */
#include <stdint.h>
#include <string.h>

#include "fuzz_host.h"
#include "fuzz_plugin.h"

static int take_hit(void *arg, const embsync_hit *hit)
{
    size_t *n = arg;
    (*n)++;
    return hit->payload != NULL && strlen(hit->payload) > 1u << 20;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const embsync_plugin *p = embsync_plugin_entry();
    const embsync_store_ops *ops = p->ops;
    fuzz_host_configure(p, fuzz_settings);
    fuzz_host_input(data, size);
    void *st = NULL;
    if (ops->open(&fuzz_host, fuzz_ctx(), &st) != EMBSYNC_OK || st == NULL)
        return 0;
    const char *coll = fuzz_collection;
    if (ops->check != NULL)
        ops->check(st);
    embsync_collection_spec spec = {.abi = EMBSYNC_ABI_INIT(embsync_collection_spec),
                                    .dim = 4, .metric = EMBSYNC_METRIC_COSINE,
                                    .identity = "fuzz:4"};
    int result = 0;
    /* The core writes and searches only a collection that ensure() found
     * or made to the spec: vectors are spec.dim floats long. */
    int usable = ops->ensure(st, coll, &spec, &result) == EMBSYNC_OK &&
                 result != EMBSYNC_ENSURE_MISMATCH;
    uint64_t count = 0;
    ops->count(st, coll, &count);
    const float v[8] = {0.5f, 0.5f, 0.5f, 0.5f, 1, 0, 0, 0};
    size_t hits = 0;
    if (usable)
        ops->search(st, coll, v, 10, take_hit, &hits);
    uint64_t ids[2] = {7, 1ull << 53};
    if (ops->list_ids != NULL) {
        uint64_t out[64];
        size_t n = 0;
        ops->list_ids(st, coll, 0, 64, out, &n);
    }
    if (ops->contains != NULL) {
        int present[2];
        ops->contains(st, coll, 2, ids, present);
    }
    embsync_point points[2] = {
        {.abi = EMBSYNC_ABI_INIT(embsync_point), .id = ids[0], .vector = v,
         .payload = "{\"dataset_id\":1}"},
        {.abi = EMBSYNC_ABI_INIT(embsync_point), .id = ids[1], .vector = v + 4,
         .payload = "{}"},
    };
    if (usable)
        ops->upsert(st, coll, 2, points);
    ops->remove(st, coll, 2, ids);
    ops->drop(st, coll);
    ops->close(st);
    return 0;
}
