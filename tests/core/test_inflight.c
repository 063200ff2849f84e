/* The in-flight record: what it keeps across a crash, what it ignores, and
 * how its items are settled against the fake source and store. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake_instances.h"
#include "fake_plugins.h"
#include "inflight.h"
#include "log.h"
#include "module.h"

static char state_dir[64];

static int make_state_dir(void **unused)
{
    (void)unused;
    strcpy(state_dir, "/tmp/es-inflight-XXXXXX");
    assert_non_null(mkdtemp(state_dir));
    return 0;
}

static int remove_state_dir(void **unused)
{
    (void)unused;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", state_dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static embsync_change change(uint64_t id, int op, const char *ref)
{
    return (embsync_change){.abi = EMBSYNC_ABI_INIT(embsync_change),
                            .id = id, .op = op, .ref = ref};
}

static void records_survive_reopening(void **unused)
{
    (void)unused;
    es_inflight f;
    assert_int_equal(es_inflight_open(&f, state_dir, "a/b c"), 0);
    embsync_change batch[3] = {
        change(7, EMBSYNC_OP_UPSERT, "dataset/odd\tname\n%.png"),
        change(UINT64_MAX, EMBSYNC_OP_DELETE, "gone.jpg"),
        change(9, EMBSYNC_OP_UPSERT, NULL),
    };
    assert_int_equal(es_inflight_record(&f, 3, batch), 0);
    es_inflight_close(&f);

    assert_int_equal(es_inflight_open(&f, state_dir, "a/b c"), 0);
    es_inflight_item *items;
    size_t n;
    assert_int_equal(es_inflight_load(&f, &items, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(items[0].id, 7);
    assert_int_equal(items[0].op, EMBSYNC_OP_UPSERT);
    assert_string_equal(items[0].ref, "dataset/odd\tname\n%.png");
    assert_true(items[1].id == UINT64_MAX);
    assert_int_equal(items[1].op, EMBSYNC_OP_DELETE);
    assert_string_equal(items[1].ref, "gone.jpg");
    assert_null(items[2].ref);
    es_inflight_items_free(items, n);

    /* Cleared: nothing left, and the next batch starts a fresh record. */
    assert_int_equal(es_inflight_clear(&f), 0);
    assert_int_equal(es_inflight_load(&f, &items, &n), 0);
    assert_int_equal(n, 0);
    es_inflight_items_free(items, n);
    assert_int_equal(es_inflight_record(&f, 1, batch), 0);
    assert_int_equal(es_inflight_load(&f, &items, &n), 0);
    assert_int_equal(n, 1);
    es_inflight_items_free(items, n);
    es_inflight_close(&f);
}

static void torn_tail_is_ignored_and_ids_counted_once(void **unused)
{
    (void)unused;
    es_inflight f;
    assert_int_equal(es_inflight_open(&f, state_dir, "torn"), 0);
    embsync_change first = change(5, EMBSYNC_OP_UPSERT, "x.png");
    embsync_change again = change(5, EMBSYNC_OP_DELETE, "x.png");
    assert_int_equal(es_inflight_record(&f, 1, &first), 0);
    assert_int_equal(es_inflight_record(&f, 1, &again), 0);
    /* A batch cut off by the crash while it was being written. */
    char path[128];
    snprintf(path, sizeof path, "%s/core/pending/torn.log", state_dir);
    int fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "U\t6\thalf", 8), 8);
    close(fd);
    es_inflight_item *items;
    size_t n;
    assert_int_equal(es_inflight_load(&f, &items, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(items[0].id, 5);
    assert_int_equal(items[0].op, EMBSYNC_OP_DELETE); /* the latest */
    es_inflight_items_free(items, n);
    es_inflight_close(&f);
}

static off_t file_size(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/core/pending/%s.log", state_dir, name);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_size;
}

static size_t loaded(es_inflight *f)
{
    es_inflight_item *items;
    size_t n;
    assert_int_equal(es_inflight_load(f, &items, &n), 0);
    es_inflight_items_free(items, n);
    return n;
}

/* Rewritten in place (no truncation, whose block freeing and reallocation
 * cost more than the batch's own write): a short batch after a long one
 * reads as the short one alone, then and after reopening. */
static void shorter_record_in_place_reads_alone(void **unused)
{
    (void)unused;
    es_inflight f;
    assert_int_equal(es_inflight_open(&f, state_dir, "inplace"), 0);
    embsync_change lots[40];
    char refs[40][64];
    for (int i = 0; i < 40; i++) {
        snprintf(refs[i], sizeof refs[i], "dataset/a-rather-long-name-%02d.png", i);
        lots[i] = change(100 + (uint64_t)i, EMBSYNC_OP_UPSERT, refs[i]);
    }
    assert_int_equal(es_inflight_record(&f, 40, lots), 0);
    off_t big = file_size("inplace");
    assert_int_equal(es_inflight_clear(&f), 0);
    assert_int_equal(loaded(&f), 0);
    embsync_change one = change(7, EMBSYNC_OP_DELETE, "x.png");
    assert_int_equal(es_inflight_record(&f, 1, &one), 0);
    assert_true(file_size("inplace") == big);
    es_inflight_close(&f);

    assert_int_equal(es_inflight_open(&f, state_dir, "inplace"), 0);
    es_inflight_item *items;
    size_t n;
    assert_int_equal(es_inflight_load(&f, &items, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(items[0].id, 7);
    assert_int_equal(items[0].op, EMBSYNC_OP_DELETE);
    es_inflight_items_free(items, n);
    /* Reopened with a record not yet resolved: the next batch joins it. */
    assert_int_equal(es_inflight_record(&f, 2, lots), 0);
    assert_int_equal(loaded(&f), 3);
    es_inflight_close(&f);
}

/* A record whose bytes do not match its hash was cut short by a crash
 * before its fdatasync returned: that batch never reached the store, and
 * the records before it still count. */
static void torn_record_is_ignored(void **unused)
{
    (void)unused;
    es_inflight f;
    assert_int_equal(es_inflight_open(&f, state_dir, "tornrec"), 0);
    embsync_change a = change(1, EMBSYNC_OP_UPSERT, "a.png");
    embsync_change b = change(2, EMBSYNC_OP_UPSERT, "b.png");
    assert_int_equal(es_inflight_record(&f, 1, &a), 0);
    off_t first = file_size("tornrec") - 2; /* up to the end mark */
    assert_int_equal(es_inflight_record(&f, 1, &b), 0);
    char path[256];
    snprintf(path, sizeof path, "%s/core/pending/tornrec.log", state_dir);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    /* The second record's id digit, as a torn write may leave it. */
    char c;
    off_t at = file_size("tornrec") - 2 - (off_t)strlen("U\t2\tb.png\n") + 2;
    assert_true(at > first);
    assert_int_equal(pread(fd, &c, 1, at), 1);
    assert_int_equal(c, '2');
    assert_int_equal(pwrite(fd, "3", 1, at), 1);
    close(fd);
    es_inflight_item *items;
    size_t n;
    assert_int_equal(es_inflight_load(&f, &items, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(items[0].id, 1);
    es_inflight_items_free(items, n);
    es_inflight_close(&f);
}

/* A record left by embsync 1.3 (bare lines, appended) is still read, and
 * the batches recorded before it is resolved go after it. */
static void record_of_1_3_is_read(void **unused)
{
    (void)unused;
    char dir[128], path[256];
    snprintf(dir, sizeof dir, "%s/core/pending", state_dir);
    snprintf(path, sizeof path, "%s/old.log", dir);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", dir);
    assert_int_equal(system(cmd), 0);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("U\t7\tsome%09name.png\nD\t8\t\nU\t9\thal", fp);
    fclose(fp);
    es_inflight f;
    assert_int_equal(es_inflight_open(&f, state_dir, "old"), 0);
    es_inflight_item *items;
    size_t n;
    assert_int_equal(es_inflight_load(&f, &items, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(items[0].id, 7);
    assert_string_equal(items[0].ref, "some\tname.png");
    assert_int_equal(items[1].op, EMBSYNC_OP_DELETE);
    assert_null(items[1].ref);
    es_inflight_items_free(items, n);
    embsync_change c = change(10, EMBSYNC_OP_UPSERT, "c.png");
    assert_int_equal(es_inflight_record(&f, 1, &c), 0);
    assert_int_equal(loaded(&f), 3);
    assert_int_equal(es_inflight_clear(&f), 0);
    assert_int_equal(loaded(&f), 0);
    es_inflight_close(&f);
}

/* Settling against the fakes: instances of a source with and without
 * exists(), and of the store. */
static es_module *modules[3];
static es_instance *instances[3];
static es_stop stop;
static es_config cfg;

static void open_fakes(void)
{
    cfg = (es_config){.path = "test.ini", .state_dir = state_dir};
    const embsync_plugin *const descs[3] = {&fake_source_plugin,
                                            &fake_source_plugin_no_exists,
                                            &fake_store_plugin};
    const int kinds[3] = {EMBSYNC_KIND_SOURCE, EMBSYNC_KIND_SOURCE,
                          EMBSYNC_KIND_STORE};
    fake_instances_open(descs, kinds, &cfg, &stop, modules, instances);
}

static void close_fakes(void)
{
    fake_instances_close(modules, instances, &stop);
}

static void gone_items_leave_store_and_ledger(void **unused)
{
    (void)unused;
    fake_world_reset(1, 10);
    open_fakes();
    int created;
    embsync_collection_spec spec = {.abi = EMBSYNC_ABI_INIT(embsync_collection_spec),
                                    .dim = FAKE_DIM, .identity = "fake:v1"};
    instances[2]->module->ops.store.ensure(instances[2]->state, "col0", &spec,
                                           &created);
    world.store[0].points[2].present = 1;
    world.store[0].points[3].present = 1;
    world.collections[0].items[3].exists = 0;

    es_ledger ledger;
    assert_int_equal(es_ledger_open(&ledger, state_dir, "col0"), 0);
    es_ledger_fail(&ledger, 3, "three.png", "embed", "bad", 100);
    es_inflight f;
    assert_int_equal(es_inflight_open(&f, state_dir, "col0"), 0);
    embsync_change batch[2] = {change(2, EMBSYNC_OP_UPSERT, "ref"),
                               change(3, EMBSYNC_OP_UPSERT, "ref")};
    assert_int_equal(es_inflight_record(&f, 2, batch), 0);

    es_inflight_outcome out;
    assert_int_equal(es_inflight_resolve(&f, "col0", instances[0], instances[2],
                                         &ledger, &out),
                     EMBSYNC_OK);
    assert_int_equal(out.recorded, 2);
    assert_int_equal(out.present, 1);
    assert_int_equal(out.removed, 1);
    assert_false(out.unchecked);
    assert_true(world.store[0].points[2].present); /* left to be re-emitted */
    assert_false(world.store[0].points[3].present);
    assert_int_equal(ledger.n, 0);
    es_inflight_item *items;
    size_t n;
    assert_int_equal(es_inflight_load(&f, &items, &n), 0);
    assert_int_equal(n, 0);
    es_inflight_items_free(items, n);

    /* An empty record asks nothing. */
    int calls = world.exists_calls;
    assert_int_equal(es_inflight_resolve(&f, "col0", instances[0], instances[2],
                                         &ledger, &out),
                     EMBSYNC_OK);
    assert_int_equal(out.recorded, 0);
    assert_int_equal(world.exists_calls, calls);
    es_inflight_close(&f);
    es_ledger_close(&ledger);
    close_fakes();
}

static void ledger_is_pruned_in_chunks(void **unused)
{
    (void)unused;
    fake_world_reset(1, FAKE_MAX_ITEMS);
    open_fakes();
    es_ledger ledger;
    assert_int_equal(es_ledger_open(&ledger, state_dir, "col0"), 0);
    /* More entries than one exists() call takes: every third of the
     * collection's items is gone, and so is every id past them. */
    size_t gone = 0;
    for (unsigned i = 0; i < 600; i++) {
        es_ledger_fail(&ledger, i, NULL, "fetch", "unreadable", 100);
        int exists = i < FAKE_MAX_ITEMS && i % 3 != 0;
        if (i < FAKE_MAX_ITEMS)
            world.collections[0].items[i].exists = exists;
        gone += !exists;
    }
    size_t forgotten;
    int calls = world.exists_calls;
    assert_int_equal(es_inflight_prune_ledger("col0", instances[0], instances[2],
                                              &ledger, &forgotten),
                     EMBSYNC_OK);
    assert_int_equal(world.exists_calls - calls, 3);
    assert_int_equal(forgotten, gone);
    assert_int_equal(ledger.n, 600 - gone);
    for (size_t i = 0; i < ledger.n; i++)
        assert_true(ledger.entries[i].id < FAKE_MAX_ITEMS &&
                    ledger.entries[i].id % 3 != 0);
    es_ledger_close(&ledger);
    close_fakes();
}

static void source_without_exists_removes_nothing(void **unused)
{
    (void)unused;
    fake_world_reset(1, 10);
    open_fakes();
    world.collections[0].items[3].exists = 0;
    es_inflight f;
    assert_int_equal(es_inflight_open(&f, state_dir, "col0"), 0);
    embsync_change gone = change(3, EMBSYNC_OP_UPSERT, "ref");
    assert_int_equal(es_inflight_record(&f, 1, &gone), 0);
    es_inflight_outcome out;
    int removes = world.remove_calls;
    assert_int_equal(es_inflight_resolve(&f, "col0", instances[1], instances[2],
                                         NULL, &out),
                     EMBSYNC_OK);
    assert_true(out.unchecked);
    assert_int_equal(out.recorded, 1);
    assert_int_equal(out.removed, 0);
    assert_int_equal(world.remove_calls, removes);
    es_inflight_close(&f);
    close_fakes();
}

int main(void)
{
    es_log_configure(EMBSYNC_LOG_ERROR, ES_LOG_TEXT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(records_survive_reopening),
        cmocka_unit_test(torn_tail_is_ignored_and_ids_counted_once),
        cmocka_unit_test(shorter_record_in_place_reads_alone),
        cmocka_unit_test(torn_record_is_ignored),
        cmocka_unit_test(record_of_1_3_is_read),
        cmocka_unit_test(gone_items_leave_store_and_ledger),
        cmocka_unit_test(ledger_is_pruned_in_chunks),
        cmocka_unit_test(source_without_exists_removes_nothing),
    };
    return cmocka_run_group_tests(tests, make_state_dir, remove_state_dir);
}
