/* faiss-local's on-disk collection: replace, remove, exact u64 ids,
 * persistence, torn and corrupt log tails, compaction, small writes. */
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

int main(void)
{
    fl_index_single_threaded();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(upsert_replace_remove_persist, setup, teardown),
        cmocka_unit_test_setup_teardown(torn_tail_is_cut, setup, teardown),
        cmocka_unit_test_setup_teardown(corrupt_record_is_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(compaction_keeps_everything, setup, teardown),
        cmocka_unit_test_setup_teardown(small_change_writes_little, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
