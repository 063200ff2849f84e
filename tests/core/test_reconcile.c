/* Reconciliation against the in-process fake plugins, given the ABI 1.2
 * operations here over the same fake world: orphans and missing items
 * found and fixed (or only counted in a dry run), failed-ledger entries of
 * gone items dropped, a failing exists() deciding nothing, plugins without
 * the operations refused by name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine.h"
#include "fake_plugins.h"
#include "ledger.h"
#include "log.h"
#include "metrics.h"
#include "reconcile.h"
#include "retry.h"

static es_config cfg;
static es_stop stop;
static es_engine engine;
static char state_dir[64];
static int exists_fails;

static fake_collection *col(const char *name)
{
    for (size_t i = 0; i < world.n_collections; i++)
        if (strcmp(world.collections[i].name, name) == 0)
            return &world.collections[i];
    return NULL;
}

static int src_exists(void *s, const char *name, size_t n,
                      const embsync_change *items, int *present)
{
    (void)s;
    if (exists_fails)
        return EMBSYNC_RETRY;
    fake_collection *c = col(name);
    for (size_t k = 0; k < n; k++)
        present[k] = items[k].id < FAKE_MAX_ITEMS && c->items[items[k].id].exists;
    return EMBSYNC_OK;
}

static int src_items(void *s, const char *name, embsync_change_sink *sink)
{
    (void)s;
    fake_collection *c = col(name);
    char versions[FAKE_MAX_ITEMS][16], payloads[FAKE_MAX_ITEMS][48];
    embsync_change all[FAKE_MAX_ITEMS];
    size_t n = 0;
    for (unsigned i = 0; i < FAKE_MAX_ITEMS; i++) {
        if (!c->items[i].exists)
            continue;
        snprintf(versions[n], sizeof versions[n], "%u", c->items[i].version);
        snprintf(payloads[n], sizeof payloads[n], "{\"i\":%u,\"v\":%u}", i,
                 c->items[i].version);
        all[n] = (embsync_change){.abi = EMBSYNC_ABI_INIT(embsync_change),
                                  .id = i, .op = EMBSYNC_OP_UPSERT,
                                  .ref = "ref", .version = versions[n],
                                  .payload = payloads[n]};
        n++;
    }
    return n > 0 ? sink->emit(sink, all, n) : EMBSYNC_OK;
}

static fake_store_collection *scol(const char *name)
{
    return &world.store[col(name) - world.collections];
}

static int st_list_ids(void *s, const char *name, uint64_t start, size_t max,
                       uint64_t *ids, size_t *n)
{
    (void)s;
    *n = 0;
    for (uint64_t i = start; i < FAKE_MAX_ITEMS && *n < max; i++)
        if (scol(name)->points[i].present)
            ids[(*n)++] = i;
    return EMBSYNC_OK;
}

static int st_contains(void *s, const char *name, size_t n,
                       const uint64_t *ids, int *present)
{
    (void)s;
    for (size_t k = 0; k < n; k++)
        present[k] = ids[k] < FAKE_MAX_ITEMS && scol(name)->points[ids[k]].present;
    return EMBSYNC_OK;
}

static embsync_source_ops source_ops;
static embsync_store_ops store_ops;
static embsync_plugin source_plugin, store_plugin;

typedef struct loaded {
    es_module *modules[3];
    es_instance *instances[3];
} loaded;

/* Open source, embedder, store; the flags give the source and the store
 * the 1.2 operations or take them away. */
static void open_plugins(loaded *l, int source_ops_too, int store_ops_too)
{
    char err[1024];
    source_ops = *(const embsync_source_ops *)fake_source_plugin.ops;
    store_ops = *(const embsync_store_ops *)fake_store_plugin.ops;
    /* Whatever the fakes themselves provide. */
    source_ops.exists = source_ops_too ? src_exists : NULL;
    source_ops.items = source_ops_too ? src_items : NULL;
    store_ops.list_ids = store_ops_too ? st_list_ids : NULL;
    store_ops.contains = store_ops_too ? st_contains : NULL;
    source_plugin = fake_source_plugin;
    source_plugin.ops = &source_ops;
    store_plugin = fake_store_plugin;
    store_plugin.ops = &store_ops;
    const embsync_plugin *descs[3] = {&source_plugin, &fake_embedder_plugin,
                                      &store_plugin};
    es_section sec = {.name = "x", .plugin = "fake"};
    for (int i = 0; i < 3; i++) {
        l->modules[i] = es_module_from_descriptor(descs[i], "fake", i + 1,
                                                  err, sizeof err);
        assert_non_null(l->modules[i]);
        l->instances[i] = es_instance_open(l->modules[i], &cfg, &sec, &stop,
                                           err, sizeof err);
        assert_non_null(l->instances[i]);
    }
    assert_int_equal(es_engine_init(&engine, l->instances[0], l->instances[1],
                                    l->instances[2], 8, &stop, err,
                                    sizeof err),
                     EMBSYNC_OK);
    engine.state_dir = state_dir;
}

static void close_plugins(loaded *l)
{
    es_engine_destroy(&engine);
    for (int i = 0; i < 3; i++) {
        es_instance_close(l->instances[i]);
        es_module_unload(l->modules[i]);
    }
}

static int setup(void **unused)
{
    (void)unused;
    memset(&cfg, 0, sizeof cfg);
    cfg.path = "test.ini";
    strcpy(state_dir, "/tmp/es-reconcile-XXXXXX");
    assert_non_null(mkdtemp(state_dir));
    cfg.state_dir = state_dir;
    es_stop_init(&stop);
    exists_fails = 0;
    return 0;
}

static int teardown(void **unused)
{
    (void)unused;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", state_dir);
    es_stop_destroy(&stop);
    return system(cmd);
}

/* Item i of col0 made an orphan (deleted without the source ever saying
 * so) and item j lost from the store (still acknowledged). */
static void make_differ(unsigned orphan, unsigned lost)
{
    world.collections[0].items[orphan].exists = 0;
    world.collections[0].acked[orphan] = 0;
    world.store[0].points[lost].present = 0;
}

static void orphans_and_missing_fixed(void **unused)
{
    (void)unused;
    loaded l;
    fake_world_reset(2, 40);
    open_plugins(&l, 1, 1);
    assert_int_equal(es_engine_pass(&engine), 0);
    make_differ(5, 7);
    fake_store_collection before = world.store[0];
    es_run_result run;
    assert_int_equal(es_engine_sync(&engine, "col0", &run), EMBSYNC_OK);
    assert_int_equal(run.embedded + run.deleted, 0); /* invisible to a pass */

    es_reconcile_result res;
    assert_int_equal(es_reconcile_collection(&engine, "col0", 1, &res),
                     EMBSYNC_OK);
    assert_int_equal(res.store_ids, 39); /* 40, less the lost one */
    assert_int_equal(res.source_items, 39);
    assert_int_equal(res.orphans, 1);
    assert_int_equal(res.missing, 1);
    assert_memory_equal(&world.store[0], &before, sizeof before);

    int upserts = world.upsert_calls;
    assert_int_equal(es_reconcile_collection(&engine, "col0", 0, &res),
                     EMBSYNC_OK);
    assert_int_equal(res.orphans, 1);
    assert_int_equal(res.missing, 1);
    assert_int_equal(res.run.embedded, 1);
    assert_false(world.store[0].points[5].present);
    assert_true(world.store[0].points[7].present);
    float want[FAKE_DIM];
    fake_vector(7, world.collections[0].items[7].version, want);
    assert_memory_equal(world.store[0].points[7].vector, want, sizeof want);
    assert_int_equal(world.collections[0].acked[7],
                     world.collections[0].items[7].version);
    assert_int_equal(world.upsert_calls, upserts + 1);
    char labels[128];
    snprintf(labels, sizeof labels,
             "collection=\"col0\",result=\"orphan_removed\"");
    assert_true(es_metric_get("embsync_reconcile_items_total", labels) >= 1);

    /* Converged: nothing more to find, in either collection. */
    assert_int_equal(es_reconcile_pass(&engine, NULL, 0), 0);
    assert_int_equal(es_reconcile_collection(&engine, "col0", 0, &res),
                     EMBSYNC_OK);
    assert_int_equal(res.orphans + res.missing, 0);
    assert_int_equal(res.store_ids, 39);
    assert_true(es_reconcile_last(state_dir) > 0);
    close_plugins(&l);
}

static void gone_items_leave_the_ledger(void **unused)
{
    (void)unused;
    loaded l;
    fake_world_reset(1, 10);
    world.collections[0].items[3].undecodable = 1;
    open_plugins(&l, 1, 1);
    assert_int_equal(es_engine_pass(&engine), 0);
    es_ledger led;
    assert_int_equal(es_ledger_open(&led, state_dir, "col0"), 0);
    assert_int_equal(led.n, 1);
    es_ledger_close(&led);
    world.collections[0].items[3].exists = 0;

    es_reconcile_result res;
    assert_int_equal(es_reconcile_collection(&engine, "col0", 1, &res),
                     EMBSYNC_OK);
    assert_int_equal(res.forgotten, 1);
    assert_int_equal(es_ledger_open(&led, state_dir, "col0"), 0);
    assert_int_equal(led.n, 1); /* a dry run keeps it */
    es_ledger_close(&led);
    assert_int_equal(es_reconcile_collection(&engine, "col0", 0, &res),
                     EMBSYNC_OK);
    assert_int_equal(res.forgotten, 1);
    assert_int_equal(es_ledger_open(&led, state_dir, "col0"), 0);
    assert_int_equal(led.n, 0);
    es_ledger_close(&led);
    close_plugins(&l);
}

static void failing_exists_decides_nothing(void **unused)
{
    (void)unused;
    loaded l;
    fake_world_reset(1, 10);
    open_plugins(&l, 1, 1);
    assert_int_equal(es_engine_pass(&engine), 0);
    make_differ(2, 4);
    exists_fails = 1;
    es_reconcile_result res;
    assert_int_equal(es_reconcile_collection(&engine, "col0", 0, &res),
                     EMBSYNC_RETRY);
    assert_non_null(strstr(res.error, "exists"));
    assert_true(world.store[0].points[2].present);
    assert_false(world.store[0].points[4].present);
    assert_int_equal(world.collections[0].ends, world.collections[0].begins);
    assert_int_equal(es_reconcile_pass(&engine, NULL, 0), 1);
    assert_int_equal(es_reconcile_pass(&engine, "col9", 0), -1);
    exists_fails = 0;
    close_plugins(&l);
}

static void plugins_without_the_operations_are_named(void **unused)
{
    (void)unused;
    loaded l;
    char why[256];
    fake_world_reset(1, 3);
    open_plugins(&l, 0, 1);
    assert_non_null(es_reconcile_unsupported(&engine, why, sizeof why));
    assert_non_null(strstr(why, "source plugin fakesource"));
    assert_non_null(strstr(why, "exists()"));
    assert_int_equal(es_reconcile_pass(&engine, NULL, 0), -1);
    assert_int_equal(world.collections[0].begins, 0);
    close_plugins(&l);

    open_plugins(&l, 1, 0);
    assert_non_null(es_reconcile_unsupported(&engine, why, sizeof why));
    assert_non_null(strstr(why, "store plugin fakestore"));
    assert_non_null(strstr(why, "list_ids()"));
    close_plugins(&l);

    open_plugins(&l, 1, 1);
    assert_null(es_reconcile_unsupported(&engine, why, sizeof why));
    close_plugins(&l);
}

int main(void)
{
    es_log_configure(EMBSYNC_LOG_ERROR, ES_LOG_TEXT);
    es_retry_set_scale(0.001);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(orphans_and_missing_fixed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(gone_items_leave_the_ledger, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(failing_exists_decides_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            plugins_without_the_operations_are_named, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
