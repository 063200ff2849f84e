/* The sync engine against in-process fake plugins. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine.h"
#include "inflight.h"
#include "fake_instances.h"
#include "fake_plugins.h"
#include "log.h"
#include "ledger.h"
#include "retry.h"
#include "status.h"

static es_config cfg;
static es_module *modules[3];
static es_instance *instances[3];
static es_stop stop;
static es_engine engine;

static int setup(void **unused)
{
    (void)unused;
    memset(&cfg, 0, sizeof cfg);
    cfg.path = "test.ini";
    cfg.state_dir = "/tmp";
    const embsync_plugin *const descs[3] = {
        &fake_source_plugin, &fake_embedder_plugin, &fake_store_plugin};
    fake_instances_open(descs, NULL, &cfg, &stop, modules, instances);
    return 0;
}

static int teardown(void **unused)
{
    (void)unused;
    fake_instances_close(modules, instances, &stop);
    return 0;
}

/* A fresh engine per test: the embedder's model is read at init. */
static void start(size_t batch_size)
{
    char err[512];
    assert_int_equal(es_engine_init(&engine, instances[0], instances[1],
                                    instances[2], batch_size, &stop, err,
                                    sizeof err),
                     EMBSYNC_OK);
}

/* Store and source ledger agree exactly with the items. */
static void assert_in_sync(size_t c)
{
    const fake_collection *fc = &world.collections[c];
    const fake_store_collection *sc = &world.store[c];
    for (unsigned i = 0; i < FAKE_MAX_ITEMS; i++) {
        const fake_item *it = &fc->items[i];
        if (it->exists && !it->undecodable && !it->bad_vector) {
            if (!sc->points[i].present)
                fail_msg("%s item %u missing from the store", fc->name, i);
            float want[FAKE_DIM];
            fake_vector(i, it->version, want);
            assert_memory_equal(sc->points[i].vector, want, sizeof want);
            assert_int_equal(fc->acked[i], it->version);
        } else {
            if (sc->points[i].present)
                fail_msg("%s item %u should not be in the store", fc->name, i);
            if (!it->exists)
                assert_int_equal(fc->acked[i], 0);
        }
    }
}

static void first_sync_then_noop(void **unused)
{
    (void)unused;
    fake_world_reset(2, 100);
    start(8);
    assert_int_equal(es_engine_pass(&engine), 0);
    assert_in_sync(0);
    assert_in_sync(1);
    assert_int_equal(world.collections[0].begins, 1);
    assert_int_equal(world.collections[0].ends, 1);
    assert_string_equal(world.store[0].points[5].payload, "{\"i\":5,\"v\":1}");

    int calls = world.upsert_calls;
    es_run_result res;
    assert_int_equal(es_engine_sync(&engine, "col0", &res), EMBSYNC_OK);
    assert_int_equal(res.embedded, 0);
    assert_int_equal(res.deleted, 0);
    assert_int_equal(world.upsert_calls, calls);
    es_engine_destroy(&engine);
}

static void modified_and_deleted(void **unused)
{
    (void)unused;
    fake_world_reset(1, 50);
    start(16);
    assert_int_equal(es_engine_pass(&engine), 0);
    world.collections[0].items[3].version = 2;
    world.collections[0].items[40].version = 5;
    world.collections[0].items[7].exists = 0;
    world.collections[0].items[60].exists = 1;
    world.collections[0].items[60].version = 1;
    es_run_result res;
    assert_int_equal(es_engine_sync(&engine, "col0", &res), EMBSYNC_OK);
    assert_int_equal(res.embedded, 3);
    assert_int_equal(res.deleted, 1);
    assert_in_sync(0);
    assert_string_equal(world.store[0].points[40].payload, "{\"i\":40,\"v\":5}");
    es_engine_destroy(&engine);
}

static void model_change_rebuilds(void **unused)
{
    (void)unused;
    fake_world_reset(1, 30);
    start(8);
    assert_int_equal(es_engine_pass(&engine), 0);
    es_engine_destroy(&engine);

    snprintf(world.model_identity, sizeof world.model_identity, "fake:v2");
    start(8);
    es_run_result res;
    assert_int_equal(es_engine_sync(&engine, "col0", &res), EMBSYNC_OK);
    assert_true(res.rebuilt);
    assert_int_equal(world.drops, 1);
    assert_int_equal(world.resets, 1);
    /* The source forgets before the store drops: a crash in between must
     * not leave a source that trusts an emptied store. */
    assert_true(world.last_reset_call < world.last_drop_call);
    assert_int_equal(res.embedded, 30);
    assert_string_equal(world.store[0].identity, "fake:v2");
    assert_in_sync(0);
    es_engine_destroy(&engine);
}

static void store_failure_acks_nothing_after_it(void **unused)
{
    (void)unused;
    fake_world_reset(1, 40);
    world.fail_upsert_on_call = 3; /* batches 1 and 2 land, 3 fails */
    start(10);
    engine.store_group_items = 0;  /* one batch per call (no group commit) */
    es_run_result res;
    assert_int_equal(es_engine_sync(&engine, "col0", &res), EMBSYNC_FAILED);
    assert_non_null(strstr(res.error, "disk full"));
    assert_int_equal(res.embedded, 20);
    /* Acknowledged exactly what was stored, nothing past the failure. */
    for (unsigned i = 0; i < 40; i++) {
        int stored = world.store[0].points[i].present;
        assert_int_equal(world.collections[0].acked[i] != 0, stored);
    }
    assert_int_equal(world.collections[0].ends, 1);
    assert_int_equal(world.collections[0].last_end_status, EMBSYNC_FAILED);

    world.fail_upsert_on_call = 0;
    assert_int_equal(es_engine_sync(&engine, "col0", &res), EMBSYNC_OK);
    assert_int_equal(res.embedded, 20);
    assert_in_sync(0);
    es_engine_destroy(&engine);
}

static void transient_store_errors_are_retried(void **unused)
{
    (void)unused;
    fake_world_reset(1, 10);
    world.retry_upserts = 2;
    start(10);
    es_run_result res;
    assert_int_equal(es_engine_sync(&engine, "col0", &res), EMBSYNC_OK);
    assert_int_equal(world.upsert_calls, 3);
    assert_in_sync(0);
    es_engine_destroy(&engine);
}

static void source_failure_does_not_stop_others(void **unused)
{
    (void)unused;
    fake_world_reset(3, 20);
    world.collections[1].fail_changes = 1;
    start(8);
    assert_int_equal(es_engine_pass(&engine), 1);
    assert_in_sync(0);
    assert_in_sync(2);
    assert_int_equal(world.collections[1].ends, 1);
    for (unsigned i = 0; i < 20; i++)
        assert_int_equal(world.collections[1].acked[i], 0);
    es_engine_destroy(&engine);
}

static void bad_item_fails_alone(void **unused)
{
    (void)unused;
    fake_world_reset(1, 20);
    world.collections[0].items[4].undecodable = 1;
    start(8);
    es_run_result res;
    assert_int_equal(es_engine_sync(&engine, "col0", &res), EMBSYNC_OK);
    assert_int_equal(res.embedded, 19);
    assert_int_equal(res.failed, 1);
    assert_int_equal(world.collections[0].acked[4], 0);
    assert_false(world.store[0].points[4].present);
    assert_in_sync(0);
    es_engine_destroy(&engine);
}

/* The items that get a broken vector from the fake embedder, and how:
 * NaN, +inf, -inf, FLT_MAX in one component, a norm of 2. */
static const char broken_kinds[] = {'n', 'i', 'j', 'h', '2'};
#define N_BROKEN sizeof broken_kinds
#define BROKEN_ITEM(k) (3 + 3 * (k))

/* One sync of 20 items, N_BROKEN of them with broken vectors. */
static es_run_result sync_with_broken_vectors(int unnormalized)
{
    fake_world_reset(1, 20);
    world.unnormalized = unnormalized;
    for (unsigned k = 0; k < N_BROKEN; k++)
        world.collections[0].items[BROKEN_ITEM(k)].bad_vector = broken_kinds[k];
    start(8);
    es_run_result res;
    assert_int_equal(es_engine_sync(&engine, "col0", &res), EMBSYNC_OK);
    return res;
}

/* What the embedder returns is checked before the store sees it: a NaN or
 * an infinity in any component, a component too large to square in float,
 * or a length other than 1 from a normalising model fails that item alone. */
static void broken_vectors_never_reach_the_store(void **unused)
{
    (void)unused;
    es_run_result res = sync_with_broken_vectors(0);
    assert_int_equal(res.embedded, 20 - N_BROKEN);
    assert_int_equal(res.failed, N_BROKEN);
    for (unsigned k = 0; k < N_BROKEN; k++) {
        assert_false(world.store[0].points[BROKEN_ITEM(k)].present);
        assert_int_equal(world.collections[0].acked[BROKEN_ITEM(k)], 0);
    }
    assert_in_sync(0);
    es_engine_destroy(&engine);
}

/* Without normalisation only finiteness is checked: the long vectors are
 * stored, the NaN and the infinities are not. */
static void unnormalised_vectors_need_only_be_finite(void **unused)
{
    (void)unused;
    es_run_result res = sync_with_broken_vectors(1);
    assert_int_equal(res.embedded, 17);
    assert_int_equal(res.failed, 3);
    for (unsigned k = 0; k < N_BROKEN; k++)
        assert_int_equal(world.store[0].points[BROKEN_ITEM(k)].present,
                         broken_kinds[k] == 'h' || broken_kinds[k] == '2');
    es_engine_destroy(&engine);
}

static void busy_collection_is_skipped(void **unused)
{
    (void)unused;
    fake_world_reset(2, 5);
    world.collections[0].busy = 1;
    start(8);
    assert_int_equal(es_engine_pass(&engine), 0);
    assert_int_equal(world.collections[0].begins, 0);
    assert_int_equal(world.collections[0].ends, 0);
    assert_false(world.store[0].exists);
    assert_in_sync(1);
    es_engine_destroy(&engine);
}

static void sequential_mode_gives_same_result(void **unused)
{
    (void)unused;
    fake_world_reset(1, 77);
    start(4);
    engine.sequential = 1;
    assert_int_equal(es_engine_pass(&engine), 0);
    assert_in_sync(0);
    es_engine_destroy(&engine);
}

static char state_dir[64];

static void make_state_dir(void)
{
    strcpy(state_dir, "/tmp/es-engine-XXXXXX");
    assert_non_null(mkdtemp(state_dir));
    engine.state_dir = state_dir;
}

static void remove_state_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", state_dir);
    assert_int_equal(system(cmd), 0);
}

static size_t ledger_size(const char *collection, es_ledger_entry *first)
{
    es_ledger l;
    assert_int_equal(es_ledger_open(&l, state_dir, collection), 0);
    size_t n = l.n;
    if (n > 0 && first != NULL)
        es_ledger_entry_at(&l, 0, first);
    es_ledger_close(&l);
    return n;
}

static void failed_item_waits_in_ledger(void **unused)
{
    (void)unused;
    fake_world_reset(1, 10);
    world.collections[0].items[4].undecodable = 1;
    start(4);
    make_state_dir();
    es_retry_set_scale(1.0); /* real ledger delays for this test */
    es_run_result res;
    assert_int_equal(es_engine_sync(&engine, "col0", &res), EMBSYNC_OK);
    assert_int_equal(res.failed, 1);
    es_ledger_entry entry;
    assert_int_equal(ledger_size("col0", &entry), 1);
    assert_int_equal(entry.id, 4);
    assert_string_equal(entry.step, "embed");
    assert_int_equal(entry.attempts, 1);
    assert_non_null(strstr(entry.reason, "cannot decode"));
    assert_true(entry.next_attempt - entry.first_failed >= 60);

    /* Next run: the item is still pending but waits out its back-off. */
    int calls = world.upsert_calls;
    assert_int_equal(es_engine_sync(&engine, "col0", &res), EMBSYNC_OK);
    assert_int_equal(res.waiting, 1);
    assert_int_equal(res.failed, 0);
    assert_int_equal(world.upsert_calls, calls);

    /* Deleted at the source: acknowledged and gone from the ledger. */
    world.collections[0].acked[4] = 1; /* as if once stored */
    world.collections[0].items[4].exists = 0;
    assert_int_equal(es_engine_sync(&engine, "col0", &res), EMBSYNC_OK);
    assert_int_equal(res.deleted, 1);
    assert_int_equal(ledger_size("col0", NULL), 0);
    assert_in_sync(0);
    es_engine_destroy(&engine);
    remove_state_dir();
    es_retry_set_scale(0.001);
}

static void count_status(const es_collection_status *s, void *arg)
{
    es_collection_status *out = arg;
    *out = *s;
}

static void status_recorded_and_interrupted_run_resumed(void **unused)
{
    (void)unused;
    fake_world_reset(3, 5);
    start(4);
    make_state_dir();
    world.collections[1].fail_changes = 1;
    assert_int_equal(es_engine_pass(&engine), 1);
    es_collection_status last;
    assert_int_equal(es_status_each(state_dir, count_status, &last), 3);
    assert_string_equal(last.name, "col2");
    assert_int_equal(last.embedded, 5);
    assert_true(last.last_success > 0);

    /* A run of col2 was in flight when the process died. */
    assert_int_equal(es_status_mark_inflight(state_dir, "col2"), 0);
    world.collections[1].fail_changes = 0;
    assert_int_equal(es_engine_pass(&engine), 0);
    assert_int_equal(world.collections[2].begin_seq, world.begin_counter - 2);
    char name[64];
    assert_int_equal(es_status_inflight(state_dir, name, sizeof name), 0);
    es_engine_destroy(&engine);
    remove_state_dir();
}

/* Window 1: the store confirmed a batch, the process died before the
 * source recorded it, and one of its items was deleted meanwhile. */
static void crash_before_ack_leaves_no_orphan(void **unused)
{
    (void)unused;
    fake_world_reset(1, 20);
    start(4);
    make_state_dir();
    es_run_result res;
    assert_int_equal(es_engine_sync(&engine, "col0", &res), EMBSYNC_OK);

    fake_collection *c = &world.collections[0];
    embsync_change batch[2];
    for (unsigned k = 0; k < 2; k++) {
        unsigned id = 30 + k;
        c->items[id] = (fake_item){.exists = 1, .version = 1};
        world.store[0].points[id].present = 1;
        fake_vector(id, 1, world.store[0].points[id].vector);
        batch[k] = (embsync_change){.abi = EMBSYNC_ABI_INIT(embsync_change),
                                    .id = id, .op = EMBSYNC_OP_UPSERT,
                                    .ref = "ref", .version = "1"};
    }
    es_inflight f;
    assert_int_equal(es_inflight_open(&f, state_dir, "col0"), 0);
    assert_int_equal(es_inflight_record(&f, 2, batch), 0);
    c->items[30].exists = 0; /* deleted while embsync was down */

    assert_int_equal(es_engine_sync(&engine, "col0", &res), EMBSYNC_OK);
    assert_false(world.store[0].points[30].present);
    assert_int_equal(res.embedded, 1); /* 31, emitted again */
    assert_in_sync(0);
    es_inflight_item *left;
    size_t n;
    assert_int_equal(es_inflight_load(&f, &left, &n), 0);
    assert_int_equal(n, 0);
    es_inflight_items_free(left, n);
    es_inflight_close(&f);
    es_engine_destroy(&engine);
    remove_state_dir();
}

/* A failed item that is deleted before it ever reached the store leaves
 * the failed-items ledger: no change will ever name it again. */
static void ledger_forgets_items_gone_at_the_source(void **unused)
{
    (void)unused;
    fake_world_reset(1, 10);
    world.collections[0].items[4].undecodable = 1;
    world.collections[0].items[6].undecodable = 1;
    start(4);
    make_state_dir();
    es_run_result res;
    assert_int_equal(es_engine_sync(&engine, "col0", &res), EMBSYNC_OK);
    assert_int_equal(ledger_size("col0", NULL), 2);
    world.collections[0].items[4].exists = 0;
    assert_int_equal(es_engine_sync(&engine, "col0", &res), EMBSYNC_OK);
    es_ledger_entry entry;
    assert_int_equal(ledger_size("col0", &entry), 1);
    assert_int_equal(entry.id, 6);
    assert_string_equal(entry.ref, "ref");
    assert_in_sync(0);
    es_engine_destroy(&engine);
    remove_state_dir();
}

/* A stop before a pass reaches a collection is not a failure. */
static void requested_stop_is_not_a_failure(void **unused)
{
    (void)unused;
    fake_world_reset(2, 5);
    start(4);
    es_stop_request(&stop);
    assert_int_equal(es_engine_pass(&engine), 0);
    assert_int_equal(world.collections[0].begins, 0);
    assert_int_equal(world.collections[1].begins, 0);
    es_stop_clear(&stop);
    assert_int_equal(es_engine_pass(&engine), 0);
    assert_in_sync(0);
    assert_in_sync(1);
    es_engine_destroy(&engine);
}

int main(void)
{
    es_log_configure(EMBSYNC_LOG_ERROR, ES_LOG_TEXT);
    es_retry_set_scale(0.001);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(first_sync_then_noop),
        cmocka_unit_test(modified_and_deleted),
        cmocka_unit_test(model_change_rebuilds),
        cmocka_unit_test(store_failure_acks_nothing_after_it),
        cmocka_unit_test(transient_store_errors_are_retried),
        cmocka_unit_test(source_failure_does_not_stop_others),
        cmocka_unit_test(bad_item_fails_alone),
        cmocka_unit_test(broken_vectors_never_reach_the_store),
        cmocka_unit_test(unnormalised_vectors_need_only_be_finite),
        cmocka_unit_test(busy_collection_is_skipped),
        cmocka_unit_test(sequential_mode_gives_same_result),
        cmocka_unit_test(failed_item_waits_in_ledger),
        cmocka_unit_test(status_recorded_and_interrupted_run_resumed),
        cmocka_unit_test(crash_before_ack_leaves_no_orphan),
        cmocka_unit_test(ledger_forgets_items_gone_at_the_source),
        cmocka_unit_test(requested_stop_is_not_a_failure),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
