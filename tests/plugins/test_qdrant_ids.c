/* The qdrant store's ABI 1.2 id operations, loaded like the daemon loads it
 * and given the real host, against the Qdrant emulator at $QDRANT_URL
 * (tests/qdrant/store_ids.sh starts it under each of its readings):
 * list_ids pages in id order with exact u64 ids, contains() says which ids
 * are there, both answer a missing collection with nothing, and search
 * hits carry exact ids and the payload as written. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "host.h"
#include "log.h"
#include "module.h"

#define N_POINTS 2500
#define DIM 4

static char state_dir[64];
static es_module *mod;
static es_instance *inst;
static const embsync_store_ops *ops;
static uint64_t ids[N_POINTS]; /* ascending */

/* Ids that a double cannot hold, and the edges of the range. */
static const uint64_t edges[] = {
    0, 1, (1ull << 53) - 1, 1ull << 53, (1ull << 53) + 1, 1ull << 63,
    UINT64_MAX - 1, UINT64_MAX,
};
#define N_EDGES (sizeof edges / sizeof edges[0])

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int known(uint64_t id)
{
    return bsearch(&id, ids, N_POINTS, sizeof id, compare_u64) != NULL;
}

/* Distinct ids over the whole range: the edges, then a 64-bit LCG. */
static void make_ids(void)
{
    uint64_t x = 0x9e3779b97f4a7c15ull;
    size_t n = 0;
    for (; n < N_EDGES; n++)
        ids[n] = edges[n];
    while (n < N_POINTS) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        int fresh = 1;
        for (size_t i = 0; i < n && fresh; i++)
            fresh = ids[i] != x;
        if (fresh)
            ids[n++] = x;
    }
    qsort(ids, N_POINTS, sizeof ids[0], compare_u64);
}

/* Every point leans on axis 0, except two with an axis of their own. */
static void vector_of(uint64_t id, float *v)
{
    memset(v, 0, DIM * sizeof *v);
    if (id == UINT64_MAX)
        v[3] = 1;
    else if (id == (1ull << 53) + 1)
        v[2] = 1;
    else {
        v[0] = 1;
        v[1] = (float)(id % 1000) / 10000.0f;
    }
}

static int setup(void **unused)
{
    (void)unused;
    es_log_configure(EMBSYNC_LOG_ERROR, ES_LOG_TEXT);
    const char *url = getenv("QDRANT_URL");
    if (url == NULL)
        fail_msg("QDRANT_URL is not set (run through tests/qdrant/store_ids.sh)");
    strcpy(state_dir, "/tmp/es-qdids-XXXXXX");
    assert_non_null(mkdtemp(state_dir));
    char err[1024], dir[256];
    snprintf(dir, sizeof dir, "%s/plugins", getenv("top_builddir"));
    es_modules_init();
    mod = es_module_load(dir, "qdrant", EMBSYNC_KIND_STORE, err, sizeof err);
    if (mod == NULL)
        fail_msg("%s", err);
    ops = &mod->ops.store;
    static char url_copy[256];
    snprintf(url_copy, sizeof url_copy, "%s", url);
    es_entry entries[] = {
        {.key = "url", .value = url_copy, .line = 2},
        {.key = "collection_prefix", .value = "ids_", .line = 3},
        {.key = "batch_size", .value = "500", .line = 4},
    };
    es_section sec = {.name = "store", .plugin = "qdrant", .line = 1,
                      .entries = entries, .n_entries = 3};
    es_config cfg = {.path = "test.ini", .state_dir = state_dir};
    inst = es_instance_open(mod, &cfg, &sec, NULL, err, sizeof err);
    if (inst == NULL)
        fail_msg("%s", err);

    make_ids();
    embsync_collection_spec spec = {.abi = EMBSYNC_ABI_INIT(embsync_collection_spec),
                                    .dim = DIM, .metric = EMBSYNC_METRIC_COSINE,
                                    .identity = "test:ids:4"};
    int result = 0;
    assert_int_equal(ops->ensure(inst->state, "c", &spec, &result), EMBSYNC_OK);
    assert_int_equal(result, EMBSYNC_ENSURE_CREATED);
    static float vectors[N_POINTS][DIM];
    static char payloads[N_POINTS][64];
    static embsync_point points[N_POINTS];
    for (size_t i = 0; i < N_POINTS; i++) {
        vector_of(ids[i], vectors[i]);
        snprintf(payloads[i], sizeof payloads[i], "{\"n\":%zu,\"big\":%llu}", i,
                 (unsigned long long)ids[i]);
        points[i] = (embsync_point){.abi = EMBSYNC_ABI_INIT(embsync_point),
                                    .id = ids[i], .vector = vectors[i],
                                    .payload = payloads[i]};
    }
    assert_int_equal(ops->upsert(inst->state, "c", N_POINTS, points), EMBSYNC_OK);
    return 0;
}

static int teardown(void **unused)
{
    (void)unused;
    es_instance_close(inst);
    es_module_unload(mod);
    es_modules_exit();
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", state_dir);
    return system(cmd);
}

/* Page through like the host: from start, `max` at a time, the next page
 * from the last id + 1, until a page comes back short. */
static size_t list_all(const char *collection, uint64_t start, size_t max,
                       uint64_t *out, size_t room)
{
    uint64_t *page = malloc(max * sizeof *page);
    assert_non_null(page);
    size_t total = 0, n;
    for (;;) {
        assert_int_equal(ops->list_ids(inst->state, collection, start, max, page, &n),
                         EMBSYNC_OK);
        assert_true(n <= max);
        assert_true(total + n <= room);
        memcpy(out + total, page, n * sizeof *page);
        total += n;
        if (n < max || page[n - 1] == UINT64_MAX)
            break;
        start = page[n - 1] + 1;
    }
    free(page);
    return total;
}

static void list_ids_pages_every_id_exactly(void **unused)
{
    (void)unused;
    static uint64_t got[N_POINTS];
    static const size_t page_sizes[] = {1000, 7, 1024, 5000};
    for (size_t k = 0; k < sizeof page_sizes / sizeof page_sizes[0]; k++) {
        memset(got, 0, sizeof got);
        size_t n = list_all("c", 0, page_sizes[k], got, N_POINTS);
        assert_int_equal(n, N_POINTS);
        assert_memory_equal(got, ids, sizeof ids);
    }
}

static void list_ids_starts_where_asked(void **unused)
{
    (void)unused;
    static uint64_t got[N_POINTS];
    size_t first = 0;
    while (ids[first] < (1ull << 53))
        first++;
    size_t n = list_all("c", 1ull << 53, 300, got, N_POINTS);
    assert_int_equal(n, N_POINTS - first);
    assert_memory_equal(got, ids + first, n * sizeof *got);
    assert_true(got[0] == 1ull << 53);

    n = list_all("c", UINT64_MAX, 10, got, N_POINTS);
    assert_int_equal(n, 1);
    assert_true(got[0] == UINT64_MAX);
}

static void missing_collection_has_no_ids(void **unused)
{
    (void)unused;
    uint64_t page[4];
    size_t n = 99;
    assert_int_equal(ops->list_ids(inst->state, "nope", 0, 4, page, &n), EMBSYNC_OK);
    assert_int_equal(n, 0);
    uint64_t ask[3] = {0, 1ull << 53, UINT64_MAX};
    int present[3] = {7, 7, 7};
    assert_int_equal(ops->contains(inst->state, "nope", 3, ask, present), EMBSYNC_OK);
    assert_int_equal(present[0] + present[1] + present[2], 0);
}

static void contains_tells_present_from_absent(void **unused)
{
    (void)unused;
    /* Every stored id and, between them, its neighbour when not stored:
     * more than one request's worth. */
    static uint64_t ask[2 * N_POINTS];
    static int present[2 * N_POINTS];
    size_t n = 0, want_present = 0;
    for (size_t i = 0; i < N_POINTS; i++) {
        ask[n++] = ids[i];
        want_present++;
        if (ids[i] != UINT64_MAX && !known(ids[i] + 1))
            ask[n++] = ids[i] + 1;
    }
    memset(present, 0x55, sizeof present);
    assert_int_equal(ops->contains(inst->state, "c", n, ask, present), EMBSYNC_OK);
    size_t found = 0;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(present[i], known(ask[i]));
        found += (size_t)present[i];
    }
    assert_int_equal(found, want_present);
    assert_true(n > 1024 + N_POINTS / 2);
}

typedef struct first_hit {
    int seen;
    uint64_t id;
    float score;
    char payload[128];
} first_hit;

static int keep_first(void *arg, const embsync_hit *hit)
{
    first_hit *f = arg;
    f->seen = 1;
    f->id = hit->id;
    f->score = hit->score;
    snprintf(f->payload, sizeof f->payload, "%s", hit->payload ? hit->payload : "");
    return 1;
}

static void search_hits_have_exact_ids_and_payloads(void **unused)
{
    (void)unused;
    static const uint64_t wanted[] = {UINT64_MAX, (1ull << 53) + 1};
    for (size_t k = 0; k < 2; k++) {
        float v[DIM];
        vector_of(wanted[k], v);
        first_hit f = {0};
        assert_int_equal(ops->search(inst->state, "c", v, 3, keep_first, &f), EMBSYNC_OK);
        assert_true(f.seen);
        assert_true(f.id == wanted[k]);
        assert_true(f.score > 0.999f);
        size_t i = (size_t)((const uint64_t *)bsearch(&wanted[k], ids, N_POINTS,
                                                      sizeof ids[0], compare_u64) - ids);
        char expected[64];
        snprintf(expected, sizeof expected, "{\"n\":%zu,\"big\":%llu}", i,
                 (unsigned long long)wanted[k]);
        assert_string_equal(f.payload, expected);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(list_ids_pages_every_id_exactly),
        cmocka_unit_test(list_ids_starts_where_asked),
        cmocka_unit_test(missing_collection_has_no_ids),
        cmocka_unit_test(contains_tells_present_from_absent),
        cmocka_unit_test(search_hits_have_exact_ids_and_payloads),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
