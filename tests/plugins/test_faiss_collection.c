/* faiss-local's on-disk collection: replace, remove, exact u64 ids,
 * persistence, torn and corrupt log tails, compaction, small writes, and
 * the IVF index compaction builds for big collections. */
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "collection.h"
#include "id_list.h"

#define DIM 8

static char root[64], dir[128];

static int setup(void **unused)
{
    (void)unused;
    strcpy(root, "/tmp/es-faiss-XXXXXX");
    assert_non_null(mkdtemp(root));
    snprintf(dir, sizeof dir, "%s/c", root);
    return 0;
}

static int teardown(void **unused)
{
    (void)unused;
    fl_collection_destroy(dir);
    rmdir(root);
    return 0;
}

static void unit(uint64_t seed, float *v)
{
    double n = 0;
    for (int d = 0; d < DIM; d++) {
        v[d] = (float)sin((double)(seed * 31 + (uint64_t)d * 7) * 0.37);
        n += (double)v[d] * v[d];
    }
    for (int d = 0; d < DIM; d++)
        v[d] = (float)(v[d] / sqrt(n));
}

static void put(fl_collection *c, uint64_t id, uint64_t seed, const char *payload)
{
    float v[DIM];
    char err[256];
    unit(seed, v);
    const char *p[1] = {payload};
    assert_int_equal(fl_collection_upsert(c, 1, &id, v, p, err, sizeof err), 0);
}

static uint64_t top(fl_collection *c, uint64_t seed, float *score)
{
    float q[DIM];
    uint64_t id = 0;
    float s = 0;
    unit(seed, q);
    assert_int_equal(fl_index_search(c->index, q, 1, &id, &s), 1);
    if (score != NULL)
        *score = s;
    return id;
}

static fl_collection *fresh(void)
{
    char err[256];
    fl_collection *c = fl_collection_create(dir, DIM, 1, "test:v1", err, sizeof err);
    assert_non_null(c);
    return c;
}

static fl_collection *reopen(fl_collection *c)
{
    char err[256];
    fl_collection_close(c);
    c = fl_collection_open(dir, err, sizeof err);
    if (c == NULL)
        fail_msg("reopen: %s", err);
    return c;
}

static void upsert_replace_remove_persist(void **unused)
{
    (void)unused;
    fl_collection *c = fresh();
    const uint64_t big = UINT64_C(18446744073709551557); /* > 2^63 */
    put(c, 1, 10, "{\"a\":1}");
    put(c, big, 20, "{\"b\":2}");
    put(c, 3, 30, "{\"c\":3}");
    assert_int_equal(fl_index_count(c->index), 3);
    assert_true(top(c, 20, NULL) == big);
    /* Replace id 1: new vector, new payload. */
    put(c, 1, 40, "{\"a\":2}");
    assert_int_equal(fl_index_count(c->index), 3);
    assert_int_equal(top(c, 40, NULL), 1);
    assert_string_equal(fl_collection_payload(c, 1), "{\"a\":2}");
    char err[256];
    uint64_t gone[2] = {3, 999};
    assert_int_equal(fl_collection_remove(c, 2, gone, err, sizeof err), 0);
    assert_int_equal(fl_index_count(c->index), 2);
    assert_null(fl_collection_payload(c, 3));

    c = reopen(c);
    assert_int_equal(fl_index_count(c->index), 2);
    assert_true(top(c, 20, NULL) == big);
    assert_string_equal(fl_collection_payload(c, big), "{\"b\":2}");
    assert_string_equal(fl_collection_payload(c, 1), "{\"a\":2}");
    assert_string_equal(c->identity, "test:v1");
    fl_collection_close(c);
}

/* Every id of c from start, paged by `page` as the host pages list_ids(). */
static size_t list_all(fl_collection *c, uint64_t start, size_t page,
                       uint64_t *out, size_t cap)
{
    size_t total = 0, n;
    uint64_t buf[16];
    assert_true(page <= 16);
    for (;;) {
        assert_int_equal(fl_collection_list_ids(c, start, page, buf, &n), 0);
        assert_true(n <= page);
        for (size_t i = 0; i < n; i++) {
            assert_true(total < cap);
            out[total++] = buf[i];
        }
        if (n < page || buf[n - 1] == UINT64_MAX)
            return total;
        start = buf[n - 1] + 1;
    }
}

static void ids_are_listed_ascending_in_pages(void **unused)
{
    (void)unused;
    fl_collection *c = fresh();
    const uint64_t ids[] = {UINT64_MAX, 7, UINT64_C(1) << 63, 0,
                            (UINT64_C(1) << 63) - 1, 42, 3};
    const uint64_t sorted[] = {0, 3, 7, 42, (UINT64_C(1) << 63) - 1,
                               UINT64_C(1) << 63, UINT64_MAX};
    for (size_t i = 0; i < 7; i++)
        put(c, ids[i], i + 1, "{}");
    uint64_t got[16];
    for (size_t page = 1; page <= 8; page++) {
        assert_int_equal(list_all(c, 0, page, got, 16), 7);
        assert_memory_equal(got, sorted, sizeof sorted);
    }
    /* From a start in the middle; past the end. */
    assert_int_equal(list_all(c, 8, 2, got, 16), 4);
    assert_true(got[0] == 42 && got[3] == UINT64_MAX);
    size_t n = 99;
    assert_int_equal(fl_collection_list_ids(c, UINT64_MAX, 4, got, &n), 0);
    assert_int_equal(n, 1);
    assert_true(got[0] == UINT64_MAX);

    /* A removal between two pages, then a new id: neither is missed. */
    assert_int_equal(fl_collection_list_ids(c, 0, 2, got, &n), 0);
    char err[256];
    uint64_t gone[2] = {7, UINT64_C(1) << 63};
    assert_int_equal(fl_collection_remove(c, 2, gone, err, sizeof err), 0);
    put(c, 5, 50, "{}");
    assert_int_equal(list_all(c, 4, 3, got, 16), 4);
    assert_true(got[0] == 5 && got[1] == 42 &&
                got[2] == (UINT64_C(1) << 63) - 1 && got[3] == UINT64_MAX);
    assert_true(fl_collection_contains(c, 5));
    assert_false(fl_collection_contains(c, 7));
    assert_true(fl_collection_contains(c, UINT64_MAX));
    assert_false(fl_collection_contains(c, 1));

    /* The same after a reload from disk. */
    c = reopen(c);
    assert_int_equal(list_all(c, 0, 3, got, 16), 6);
    assert_true(got[0] == 0 && got[1] == 3 && got[2] == 5 && got[5] == UINT64_MAX);
    assert_false(fl_collection_contains(c, UINT64_C(1) << 63));
    fl_collection_close(c);
}

static off_t log_size(uint64_t gen)
{
    char path[256];
    struct stat st;
    snprintf(path, sizeof path, "%s/log-%llu.bin", dir, (unsigned long long)gen);
    return stat(path, &st) == 0 ? st.st_size : -1;
}

static void torn_tail_is_cut(void **unused)
{
    (void)unused;
    fl_collection *c = fresh();
    put(c, 1, 1, "{}");
    off_t acknowledged = log_size(c->generation);
    put(c, 2, 2, "{}");
    uint64_t gen = c->generation;
    fl_collection_close(c);
    /* A crash in the middle of the second append. */
    char path[256];
    snprintf(path, sizeof path, "%s/log-%llu.bin", dir, (unsigned long long)gen);
    assert_int_equal(truncate(path, log_size(gen) - 5), 0);
    char err[256];
    c = fl_collection_open(dir, err, sizeof err);
    assert_non_null(c);
    assert_int_equal(fl_index_count(c->index), 1);
    assert_int_equal(log_size(gen), acknowledged);
    /* Appending after the cut works and survives. */
    put(c, 3, 3, "{}");
    c = reopen(c);
    assert_int_equal(fl_index_count(c->index), 2);
    fl_collection_close(c);
}

static void corrupt_record_is_dropped(void **unused)
{
    (void)unused;
    fl_collection *c = fresh();
    put(c, 1, 1, "{}");
    off_t first = log_size(c->generation);
    put(c, 2, 2, "{\"x\":1}");
    uint64_t gen = c->generation;
    fl_collection_close(c);
    char path[256];
    snprintf(path, sizeof path, "%s/log-%llu.bin", dir, (unsigned long long)gen);
    int fd = open(path, O_RDWR);
    unsigned char byte;
    assert_int_equal(pread(fd, &byte, 1, first + 20), 1);
    byte ^= 0xff;
    assert_int_equal(pwrite(fd, &byte, 1, first + 20), 1);
    close(fd);
    char err[256];
    c = fl_collection_open(dir, err, sizeof err);
    assert_non_null(c);
    assert_int_equal(fl_index_count(c->index), 1);
    assert_null(fl_collection_payload(c, 2));
    fl_collection_close(c);
}

static void compaction_keeps_everything(void **unused)
{
    (void)unused;
    fl_collection *c = fresh();
    c->compact_ratio = 0.000001; /* compact at the 16 MiB floor */
    char payload[4096];
    memset(payload, 'x', sizeof payload - 1);
    payload[0] = '"';
    payload[sizeof payload - 2] = '"';
    payload[sizeof payload - 1] = '\0';
    uint64_t gen0 = c->generation;
    for (uint64_t i = 0; i < 5000; i++)
        put(c, i, i, payload);
    assert_true(c->generation > gen0);
    assert_true((uint64_t)log_size(c->generation) < (16u << 20));
    c = reopen(c);
    assert_int_equal(fl_index_count(c->index), 5000);
    assert_int_equal(top(c, 4321, NULL), 4321);
    assert_string_equal(fl_collection_payload(c, 17), payload);
    /* Only the current generation's files remain. */
    char path[256];
    snprintf(path, sizeof path, "%s/index-%llu.faiss", dir,
             (unsigned long long)gen0);
    assert_int_equal(access(path, F_OK), -1);
    fl_collection_close(c);
}

static void small_change_writes_little(void **unused)
{
    (void)unused;
    fl_collection *c = fresh();
    for (uint64_t i = 0; i < 2000; i++)
        put(c, i, i, "{\"dataset\":\"d\"}");
    off_t before = log_size(c->generation);
    uint64_t gen = c->generation;
    for (uint64_t i = 0; i < 100; i++)
        put(c, 100000 + i, i, "{\"dataset\":\"d\"}");
    assert_int_equal(c->generation, gen); /* no snapshot rewrite */
    off_t written = log_size(c->generation) - before;
    /* 100 records of one point: id, payload, DIM floats and framing. */
    assert_true(written < 100 * (8 + 4 + 16 + DIM * 4 + 32));
    fl_collection_close(c);
}

/* A random unit vector (xorshift): no near-duplicates among thousands. */
static void random_unit(uint64_t *state, float *v)
{
    double n = 0;
    for (int d = 0; d < DIM; d++) {
        *state ^= *state << 13, *state ^= *state >> 7, *state ^= *state << 17;
        v[d] = (float)((double)(*state >> 11) / 9007199254740992.0 - 0.5);
        n += (double)v[d] * v[d];
    }
    for (int d = 0; d < DIM; d++)
        v[d] = (float)(v[d] / sqrt(n));
}

enum { IVF_POINTS = 3000, IVF_THRESHOLD = 1000 };

static float ivf_vectors[IVF_POINTS][DIM];

/* Top 10 of the collection's index and of an exact scan agree (as sets). */
static void assert_exact_top10(fl_collection *c, fl_index *exact, const float *q)
{
    uint64_t got[10], want[10];
    float s[10];
    assert_int_equal(fl_index_search(c->index, q, 10, got, s), 10);
    assert_int_equal(fl_index_search(exact, q, 10, want, s), 10);
    for (int i = 0; i < 10; i++) {
        int found = 0;
        for (int j = 0; j < 10; j++)
            found |= got[i] == want[j];
        if (!found)
            fail_msg("hit %d (id %llu) is not in the exact top 10", i,
                     (unsigned long long)got[i]);
    }
}

static void big_collection_gets_ivf_and_keeps_every_point(void **unused)
{
    (void)unused;
    char err[256];
    fl_collection *c = fresh();
    c->ivf_threshold = IVF_THRESHOLD;
    c->nprobe = 4;
    fl_collection_tune(c);
    fl_index *exact = fl_index_new(DIM, 0);
    assert_non_null(exact);
    uint64_t rng = 42, ids[IVF_POINTS];
    const char *payloads[IVF_POINTS];
    for (uint64_t i = 0; i < IVF_POINTS; i++) {
        ids[i] = i * 7919 + UINT64_C(9223372036854775808); /* ids >= 2^63 */
        payloads[i] = "{\"k\":1}";
        random_unit(&rng, ivf_vectors[i]);
    }
    assert_int_equal(fl_collection_upsert(c, IVF_POINTS, ids, &ivf_vectors[0][0],
                                          payloads, err, sizeof err), 0);
    assert_int_equal(fl_index_upsert(exact, IVF_POINTS, ids, &ivf_vectors[0][0]), 0);
    assert_int_equal(fl_index_cells(c->index), 0); /* flat until compaction */

    assert_int_equal(fl_collection_compact(c, err, sizeof err), 0);
    assert_int_equal(fl_index_cells(c->index), 55); /* round(sqrt(3000)) */
    assert_int_equal(fl_index_count(c->index), IVF_POINTS);
    /* Each point is found first by its own vector, reading 4 of 55 cells:
     * its own cell is the one nearest to it. */
    for (size_t i = 0; i < IVF_POINTS; i += 7) {
        uint64_t id;
        float score;
        assert_int_equal(fl_index_search(c->index, ivf_vectors[i], 1, &id, &score), 1);
        assert_true(id == ids[i]);
        assert_true(fabsf(score - 1.0f) < 1e-5f);
    }
    /* Reading every cell is an exact search. */
    c->nprobe = 55;
    fl_collection_tune(c);
    for (int q = 0; q < 50; q++) {
        float v[DIM];
        random_unit(&rng, v);
        assert_exact_top10(c, exact, v);
    }

    /* Replace and remove go through the IVF index, and through the log
     * into a reloaded one. */
    float moved[DIM];
    random_unit(&rng, moved);
    assert_int_equal(fl_collection_upsert(c, 1, &ids[5], moved, payloads, err, sizeof err), 0);
    assert_int_equal(fl_collection_remove(c, 1, &ids[6], err, sizeof err), 0);
    assert_int_equal(fl_index_upsert(exact, 1, &ids[5], moved), 0);
    assert_int_equal(fl_index_remove(exact, 1, &ids[6]), 0);
    c = reopen(c);
    c->ivf_threshold = IVF_THRESHOLD;
    c->nprobe = 55;
    fl_collection_tune(c);
    assert_int_equal(fl_index_cells(c->index), 55);
    assert_int_equal(fl_index_count(c->index), IVF_POINTS - 1);
    uint64_t id;
    float score;
    assert_int_equal(fl_index_search(c->index, moved, 1, &id, &score), 1);
    assert_true(id == ids[5]);
    assert_int_equal(fl_index_search(c->index, ivf_vectors[6], 1, &id, &score), 1);
    assert_true(id != ids[6]);
    assert_exact_top10(c, exact, ivf_vectors[100]);

    /* Under half the threshold, compaction goes back to an exact index. */
    assert_int_equal(fl_collection_remove(c, 2500, ids + 500, err, sizeof err), 0);
    assert_int_equal(fl_index_remove(exact, 2500, ids + 500), 0);
    assert_int_equal(fl_collection_compact(c, err, sizeof err), 0);
    assert_int_equal(fl_index_cells(c->index), 0);
    assert_int_equal(fl_index_count(c->index), 499);
    c = reopen(c);
    assert_int_equal(fl_index_cells(c->index), 0);
    assert_exact_top10(c, exact, ivf_vectors[7]);
    fl_index_free(exact);
    fl_collection_close(c);
}

/* Euclidean collections get L2 cells: each point is still found first by
 * its own vector, at distance 0 (score -0). */
static void euclidean_collection_gets_l2_cells(void **unused)
{
    (void)unused;
    char err[256];
    fl_collection *c = fl_collection_create(dir, DIM, 3 /* EUCLID */, "test:l2",
                                            err, sizeof err);
    assert_non_null(c);
    c->ivf_threshold = IVF_THRESHOLD;
    c->nprobe = 2;
    uint64_t rng = 99, ids[IVF_POINTS];
    const char *payloads[IVF_POINTS];
    for (uint64_t i = 0; i < IVF_POINTS; i++) {
        ids[i] = i + 1;
        payloads[i] = "{}";
        random_unit(&rng, ivf_vectors[i]);
        for (int d = 0; d < DIM; d++) /* not unit length: L2 sees the scale */
            ivf_vectors[i][d] *= (float)(1 + i % 5);
    }
    assert_int_equal(fl_collection_upsert(c, IVF_POINTS, ids, &ivf_vectors[0][0],
                                          payloads, err, sizeof err), 0);
    assert_int_equal(fl_collection_compact(c, err, sizeof err), 0);
    assert_int_equal(fl_index_cells(c->index), 55);
    for (size_t i = 0; i < IVF_POINTS; i += 11) {
        uint64_t id;
        float score;
        assert_int_equal(fl_index_search(c->index, ivf_vectors[i], 1, &id, &score), 1);
        assert_true(id == ids[i]);
        assert_true(fabsf(score) < 1e-4f);
    }
    fl_collection_close(c);
}

static void no_ivf_when_threshold_is_zero(void **unused)
{
    (void)unused;
    char err[256];
    fl_collection *c = fresh();
    c->ivf_threshold = 0;
    uint64_t rng = 7, ids[IVF_POINTS];
    const char *payloads[IVF_POINTS];
    for (uint64_t i = 0; i < IVF_POINTS; i++) {
        ids[i] = i;
        payloads[i] = "{}";
        random_unit(&rng, ivf_vectors[i]);
    }
    assert_int_equal(fl_collection_upsert(c, IVF_POINTS, ids, &ivf_vectors[0][0],
                                          payloads, err, sizeof err), 0);
    assert_int_equal(fl_collection_compact(c, err, sizeof err), 0);
    assert_int_equal(fl_index_cells(c->index), 0);
    fl_collection_close(c);
}

/* A drop is one rename: the collection is whole or gone, and the files a
 * crash left behind in the renamed directory are swept on the next open. */
static void drop_is_atomic_and_finished_later(void **unused)
{
    (void)unused;
    fl_collection *c = fresh();
    put(c, 1, 10, "{}");
    fl_collection_close(c);
    assert_int_equal(fl_collection_destroy(dir), 0);
    assert_false(fl_collection_exists(dir));
    struct stat st;
    assert_int_equal(stat(dir, &st), -1);
    char trash[256];
    snprintf(trash, sizeof trash, "%s/" FL_DROPPED_PREFIX "c", root);
    assert_int_equal(stat(trash, &st), -1);

    /* A drop cut short after its rename, with meta.json still there. */
    c = fresh();
    put(c, 2, 20, "{}");
    fl_collection_close(c);
    assert_int_equal(rename(dir, trash), 0);
    char path[300];
    snprintf(path, sizeof path, "%s/index-1.faiss", trash);
    assert_int_equal(unlink(path), 0);
    assert_false(fl_collection_exists(dir));
    assert_int_equal(fl_collection_sweep(root), 0);
    assert_int_equal(stat(trash, &st), -1);

    /* And cut short before it: the collection is still whole. */
    c = fresh();
    put(c, 3, 30, "{}");
    c = reopen(c);
    assert_int_equal(fl_index_count(c->index), 1);
    fl_collection_close(c);
    assert_int_equal(fl_collection_sweep(root), 0);
    assert_true(fl_collection_exists(dir));
    assert_false(fl_collection_half_deleted(dir));

    /* What a drop file by file (an earlier version) left when cut short. */
    snprintf(path, sizeof path, "%s/index-1.faiss", dir);
    assert_int_equal(unlink(path), 0);
    assert_true(fl_collection_half_deleted(dir));
    assert_int_equal(fl_collection_destroy(dir), 0);
    assert_false(fl_collection_half_deleted(dir));
}

int main(void)
{
    fl_index_single_threaded();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(upsert_replace_remove_persist, setup, teardown),
        cmocka_unit_test_setup_teardown(ids_are_listed_ascending_in_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(torn_tail_is_cut, setup, teardown),
        cmocka_unit_test_setup_teardown(corrupt_record_is_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(compaction_keeps_everything, setup, teardown),
        cmocka_unit_test_setup_teardown(small_change_writes_little, setup, teardown),
        cmocka_unit_test_setup_teardown(big_collection_gets_ivf_and_keeps_every_point, setup, teardown),
        cmocka_unit_test_setup_teardown(euclidean_collection_gets_l2_cells, setup, teardown),
        cmocka_unit_test_setup_teardown(no_ivf_when_threshold_is_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(drop_is_atomic_and_finished_later, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
