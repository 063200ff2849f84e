/* The pipeline's stream options, its order inside a batch, and the call
 * layer's serialisation, against in-process fake plugins. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "calls.h"
#include "engine.h"
#include "fake_instances.h"
#include "fake_plugins.h"
#include "inflight.h"
#include "log.h"
#include "metrics.h"
#include "retry.h"

static es_config cfg;
static es_module *modules[3];
static es_instance *instances[3];
static es_stop stop;
static es_engine engine;
static char state_dir[64];

static int setup(void **unused)
{
    (void)unused;
    snprintf(state_dir, sizeof state_dir, "/tmp/embsync-pipeline.XXXXXX");
    assert_non_null(mkdtemp(state_dir));
    memset(&cfg, 0, sizeof cfg);
    cfg.path = "test.ini";
    cfg.state_dir = state_dir;
    const embsync_plugin *const descs[3] = {
        &fake_source_plugin, &fake_embedder_plugin, &fake_store_plugin};
    fake_instances_open(descs, NULL, &cfg, &stop, modules, instances);
    return 0;
}

static int teardown(void **unused)
{
    (void)unused;
    fake_instances_close(modules, instances, &stop);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", state_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void start(size_t batch_size)
{
    char err[512];
    assert_int_equal(es_engine_init(&engine, instances[0], instances[1],
                                    instances[2], batch_size, &stop, err,
                                    sizeof err),
                     EMBSYNC_OK);
    engine.state_dir = state_dir;
}

/* A world of n collections of 10 items each and an engine; the store
 * collections named in `made` (NULL-terminated) exist. */
static void fresh(size_t n_collections, size_t batch_size,
                  const char *const *made)
{
    fake_world_reset(n_collections, 10);
    start(batch_size);
    for (size_t i = 0; made[i] != NULL; i++) {
        es_run_result res;
        memset(&res, 0, sizeof res);
        assert_int_equal(es_engine_ensure(&engine, made[i], &res), EMBSYNC_OK);
    }
}

/* A producer of a fixed list of changes, in one emit(). */
typedef struct script {
    size_t n;
    embsync_change changes[16];
} script;

static void script_add(script *s, uint64_t id, int op)
{
    s->changes[s->n++] = (embsync_change){
        .abi = EMBSYNC_ABI_INIT(embsync_change),
        .id = id,
        .op = op,
        .ref = "ref",
        .version = "1",
        .payload = op == EMBSYNC_OP_UPSERT ? "{}" : NULL,
    };
}

static int play(void *arg, embsync_change_sink *sink)
{
    script *s = arg;
    return sink->emit(sink, s->changes, s->n);
}

/* The script streamed for col0 with opts. */
static int stream(const es_stream_opts *opts, script *s, es_run_result *res)
{
    memset(res, 0, sizeof *res);
    return es_engine_stream_opts(&engine, "col0", opts, play, s, res);
}

/* What on_stored heard. */
typedef struct heard {
    size_t calls, items;
    int answer;
    uint64_t ids[16];
    size_t sizes[8];           /* items of each call */
} heard;

static int on_stored(void *arg, size_t n, const embsync_change *changes)
{
    heard *h = arg;
    if (h->calls < 8)
        h->sizes[h->calls] = n;
    h->calls++;
    for (size_t i = 0; i < n && h->items < 16; i++)
        h->ids[h->items++] = changes[i].id;
    return h->answer;
}

static size_t recorded_in_flight(const char *collection)
{
    es_inflight f;
    assert_int_equal(es_inflight_open(&f, state_dir, collection), 0);
    es_inflight_item *items;
    size_t n;
    assert_int_equal(es_inflight_load(&f, &items, &n), 0);
    es_inflight_items_free(items, n);
    es_inflight_close(&f);
    return n;
}

/* Upserts and removes go to store_as, removes also to remove_also, and
 * on_stored hears of every change in place of the source's ack(). */
static void stream_options_route_writes(void **unused)
{
    (void)unused;
    fresh(3, 4, (const char *[]){"col1", "col2", NULL});
    world.store[1].points[3].present = 1;
    world.store[2].points[3].present = 1;
    world.store[2].points[5].present = 1;

    script s = {0};
    for (uint64_t id = 0; id < 5; id++)
        script_add(&s, id, id == 3 ? EMBSYNC_OP_DELETE : EMBSYNC_OP_UPSERT);
    heard h = {.answer = EMBSYNC_OK};
    es_stream_opts opts = {.store_as = "col1", .remove_also = "col2",
                           .on_stored = on_stored, .on_stored_arg = &h};
    es_run_result res;
    assert_int_equal(stream(&opts, &s, &res), EMBSYNC_OK);
    assert_int_equal(res.embedded, 4);
    assert_int_equal(res.deleted, 1);

    for (unsigned i = 0; i < 5; i++) {
        if (i == 3)
            continue;
        assert_true(world.store[1].points[i].present);
        float want[FAKE_DIM];
        fake_vector(i, 1, want);
        assert_memory_equal(world.store[1].points[i].vector, want, sizeof want);
        assert_false(world.store[2].points[i].present);
    }
    assert_false(world.store[1].points[3].present);
    assert_false(world.store[2].points[3].present);
    assert_true(world.store[2].points[5].present);   /* upserts never go there */
    assert_false(world.store[0].exists);              /* nor to the collection */
    for (unsigned i = 0; i < FAKE_MAX_ITEMS; i++)
        assert_int_equal(world.collections[0].acked[i], 0);
    assert_int_equal(h.items, 5);
    assert_int_equal(recorded_in_flight("col0"), 0);
    es_engine_destroy(&engine);
}

/* on_stored failing fails the stream and leaves the batch in the in-flight
 * record: the window until it answers OK is covered like ack()'s. */
static void failed_on_stored_keeps_the_record(void **unused)
{
    (void)unused;
    fresh(2, 8, (const char *[]){"col1", NULL});
    script s = {0};
    for (uint64_t id = 0; id < 3; id++)
        script_add(&s, id, EMBSYNC_OP_UPSERT);
    heard h = {.answer = EMBSYNC_FAILED};
    es_stream_opts opts = {.store_as = "col1", .on_stored = on_stored,
                           .on_stored_arg = &h};
    es_run_result res;
    assert_int_equal(stream(&opts, &s, &res), EMBSYNC_FAILED);
    assert_int_equal(h.calls, 1);
    assert_non_null(strstr(res.error, "record stored"));
    assert_int_equal(recorded_in_flight("col0"), 3);
    for (unsigned i = 0; i < 3; i++)
        assert_int_equal(world.collections[0].acked[i], 0);

    /* The next stream resolves it (all still exist: left alone). */
    h.answer = EMBSYNC_OK;
    s.n = 0;
    assert_int_equal(stream(&opts, &s, &res), EMBSYNC_OK);
    assert_int_equal(recorded_in_flight("col0"), 0);
    assert_true(world.store[1].points[0].present);
    es_engine_destroy(&engine);
}

/* A delete and a re-create of one id in one emit() reach the store in the
 * source's order: the point is there at the end. */
static void two_changes_of_one_id_keep_their_order(void **unused)
{
    (void)unused;
    fresh(1, 8, (const char *[]){"col0", NULL});
    script s = {0};
    script_add(&s, 1, EMBSYNC_OP_UPSERT);
    script_add(&s, 7, EMBSYNC_OP_DELETE);
    script_add(&s, 7, EMBSYNC_OP_UPSERT);
    script_add(&s, 2, EMBSYNC_OP_UPSERT);
    script_add(&s, 2, EMBSYNC_OP_DELETE);
    es_run_result res;
    memset(&res, 0, sizeof res);
    assert_int_equal(es_engine_stream(&engine, "col0", play, &s, &res),
                     EMBSYNC_OK);
    assert_true(world.store[0].points[1].present);
    assert_true(world.store[0].points[7].present);
    assert_false(world.store[0].points[2].present);
    assert_int_equal(world.collections[0].acked[7], 1);
    assert_int_equal(world.collections[0].acked[2], 0);
    es_engine_destroy(&engine);
}

/* ---- group commit -------------------------------------------------------- */

/* A producer that emits its first batch, waits until the store stage holds
 * it (inside the first on_stored), then emits the rest. */
typedef struct two_phase {
    script s;
    size_t first;              /* changes in the first phase */
    heard h;
    pthread_mutex_t lock;
    pthread_cond_t moved;
    int holding;               /* the first on_stored was entered */
    size_t wait_for;           /* it returns once to_store holds this many */
    size_t fail_on;            /* this call (1-based) fails; 0 = none */
    int waited_out;            /* the queue never held wait_for batches */
} two_phase;

static int play_in_two(void *arg, embsync_change_sink *sink)
{
    two_phase *t = arg;
    int rc = sink->emit(sink, t->s.changes, t->first);
    pthread_mutex_lock(&t->lock);
    while (rc == EMBSYNC_OK && !t->holding)
        pthread_cond_wait(&t->moved, &t->lock);
    pthread_mutex_unlock(&t->lock);
    return rc != EMBSYNC_OK ? rc
                            : sink->emit(sink, t->s.changes + t->first,
                                         t->s.n - t->first);
}

/* The first call holds the store stage until every later batch waits in
 * its queue (the pipeline's own gauge says so), then lets the rest go. */
static int hold_first(void *arg, size_t n, const embsync_change *changes)
{
    two_phase *t = arg;
    if (t->h.calls == 0) {
        pthread_mutex_lock(&t->lock);
        t->holding = 1;
        pthread_cond_broadcast(&t->moved);
        pthread_mutex_unlock(&t->lock);
        int i = 0;
        while (es_metric_get("embsync_queue_depth", "queue=\"to_store\"") <
               (double)t->wait_for) {
            if (++i == 10000) {
                t->waited_out = 1;
                break;
            }
            struct timespec pause = {0, 1000 * 1000};
            nanosleep(&pause, NULL);
        }
    }
    int rc = on_stored(&t->h, n, changes);
    return t->h.calls == t->fail_on ? EMBSYNC_FAILED : rc;
}

/* t's script streamed from col0 into col1, its first acknowledgement held
 * until wait_for batches wait behind it (hold_first).  Returns the
 * stream's status. */
static int stream_held(two_phase *t, size_t wait_for, es_run_result *res)
{
    memset(&t->h, 0, sizeof t->h);
    t->h.answer = EMBSYNC_OK;
    t->holding = 0;
    t->wait_for = wait_for;
    es_metrics_reset();
    es_stream_opts opts = {.store_as = "col1", .on_stored = hold_first,
                           .on_stored_arg = t};
    memset(res, 0, sizeof *res);
    return es_engine_stream_opts(&engine, "col0", &opts, play_in_two, t, res);
}

/* Batches waiting for the store go in one call each way (in-flight
 * record, upsert, acknowledgement), except that a batch holding an id
 * already in the group starts the next one: a group's upserts all go
 * before its removes. */
static void waiting_batches_are_stored_together(void **unused)
{
    (void)unused;
    fresh(2, 2, (const char *[]){"col1", NULL});
    static two_phase t;
    memset(&t, 0, sizeof t);
    pthread_mutex_init(&t.lock, NULL);
    pthread_cond_init(&t.moved, NULL);
    /* Batches of 2: {0,1} alone, then {2,3} .. {10,11}, then {3 deleted, 12}. */
    for (uint64_t id = 0; id < 12; id++)
        script_add(&t.s, id, EMBSYNC_OP_UPSERT);
    script_add(&t.s, 3, EMBSYNC_OP_DELETE);
    script_add(&t.s, 12, EMBSYNC_OP_UPSERT);
    t.first = 2;
    es_run_result res;
    int upserts = world.upsert_calls;
    assert_int_equal(stream_held(&t, 6, &res), EMBSYNC_OK);
    assert_int_equal(res.embedded, 13);
    assert_int_equal(res.deleted, 1);
    assert_false(t.waited_out);
    assert_int_equal(t.h.calls, 3);
    assert_int_equal(t.h.sizes[0], 2);
    assert_int_equal(t.h.sizes[1], 10);   /* five batches in one call */
    assert_int_equal(t.h.sizes[2], 2);    /* the one with id 3 again */
    assert_int_equal(world.upsert_calls - upserts, 3);
    for (unsigned i = 0; i <= 12; i++)
        assert_int_equal(world.store[1].points[i].present, i != 3);
    assert_int_equal(recorded_in_flight("col0"), 0);

    /* Bounded in items: at most 4 in a call, so the five waiting batches
     * take three calls. */
    es_engine_destroy(&engine);
    fresh(2, 2, (const char *[]){"col1", NULL});
    engine.store_group_items = 4;
    engine.queue_depth = 8; /* room for all five to wait (the queue is sized
                               for a group otherwise) */
    t.s.n = 12;
    assert_int_equal(stream_held(&t, 5, &res), EMBSYNC_OK);
    assert_int_equal(res.embedded, 12);
    assert_false(t.waited_out);
    assert_int_equal(t.h.calls, 4);
    assert_int_equal(t.h.sizes[1], 4);
    assert_int_equal(t.h.sizes[2], 4);
    assert_int_equal(t.h.sizes[3], 2);
    es_engine_destroy(&engine);

    /* A group's acknowledgement fails: the in-flight record holds every
     * item of the group, for the next run to resolve. */
    fresh(2, 2, (const char *[]){"col1", NULL});
    t.fail_on = 2;
    assert_int_equal(stream_held(&t, 5, &res), EMBSYNC_FAILED);
    assert_false(t.waited_out);
    assert_int_equal(t.h.calls, 2);
    assert_int_equal(t.h.sizes[1], 10);
    assert_int_equal(recorded_in_flight("col0"), 10);
    es_engine_destroy(&engine);
    pthread_cond_destroy(&t.moved);
    pthread_mutex_destroy(&t.lock);
}

/* ---- the call layer ------------------------------------------------------ */

static pthread_mutex_t overlap_lock = PTHREAD_MUTEX_INITIALIZER;
static int in_call, most_in_call;

static int slow_count(void *state, const char *collection, uint64_t *count)
{
    (void)state, (void)collection;
    pthread_mutex_lock(&overlap_lock);
    if (++in_call > most_in_call)
        most_in_call = in_call;
    pthread_mutex_unlock(&overlap_lock);
    struct timespec pause = {0, 2 * 1000 * 1000};
    nanosleep(&pause, NULL);
    pthread_mutex_lock(&overlap_lock);
    in_call--;
    pthread_mutex_unlock(&overlap_lock);
    *count = 0;
    return EMBSYNC_OK;
}

static void *count_a_few(void *arg)
{
    for (int i = 0; i < 10; i++) {
        uint64_t n;
        if (es_store_count(arg, "c", &n) != EMBSYNC_OK)
            return arg;
    }
    return NULL;
}

/* Store calls are serialised by the host, whatever thread makes them. */
static void store_calls_never_overlap(void **unused)
{
    (void)unused;
    /* The fake store, with a count() that takes its time and sees any
     * call beside it. */
    embsync_store_ops ops = *(const embsync_store_ops *)fake_store_plugin.ops;
    ops.count = slow_count;
    embsync_plugin slow = fake_store_plugin;
    slow.name = "slowstore";
    slow.ops = &ops;
    char err[512];
    es_section sec = {.name = "slow", .plugin = "slowstore"};
    es_module *m = es_module_from_descriptor(&slow, "test", EMBSYNC_KIND_STORE,
                                             err, sizeof err);
    assert_non_null(m);
    es_instance *inst = es_instance_open(m, &cfg, &sec, &stop, err, sizeof err);
    assert_non_null(inst);
    most_in_call = 0;
    pthread_t threads[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, count_a_few, inst),
                         0);
    for (int i = 0; i < 3; i++) {
        void *failed;
        pthread_join(threads[i], &failed);
        assert_null(failed);
    }
    assert_int_equal(most_in_call, 1);
    /* An optional operation the plugin lacks is answered, not called. */
    size_t n = 7;
    uint64_t ids[1];
    assert_int_equal(es_store_list_ids(inst, "c", 0, 1, ids, &n),
                     EMBSYNC_FAILED);
    assert_string_equal(es_call_error(),
                        "the store plugin slowstore does not provide "
                        "list_ids()");
    es_instance_close(inst);
    es_module_unload(m);
}

/* The retry helper: RETRY is tried ES_CALL_ATTEMPTS times, anything else
 * once. */
static int answers[4], asked;

static int scripted(void *arg)
{
    (void)arg;
    es_call_begin();
    return answers[asked++];
}

static void retry_helper_follows_the_policy(void **unused)
{
    (void)unused;
    memcpy(answers, (int[]){EMBSYNC_RETRY, EMBSYNC_RETRY, EMBSYNC_OK, 0},
           sizeof answers);
    asked = 0;
    assert_int_equal(es_call_retry(&stop, "x", scripted, NULL), EMBSYNC_OK);
    assert_int_equal(asked, 3);
    memcpy(answers, (int[]){EMBSYNC_RETRY, EMBSYNC_RETRY, EMBSYNC_RETRY,
                            EMBSYNC_OK}, sizeof answers);
    asked = 0;
    assert_int_equal(es_call_retry(&stop, "x", scripted, NULL), EMBSYNC_RETRY);
    assert_int_equal(asked, ES_CALL_ATTEMPTS);
    memcpy(answers, (int[]){EMBSYNC_FAILED, EMBSYNC_OK, 0, 0}, sizeof answers);
    asked = 0;
    assert_int_equal(es_call_retry(&stop, "x", scripted, NULL),
                     EMBSYNC_FAILED);
    assert_int_equal(asked, 1);
    /* A stop ends the retries at once. */
    memcpy(answers, (int[]){EMBSYNC_RETRY, EMBSYNC_OK, 0, 0}, sizeof answers);
    asked = 0;
    es_stop_request(&stop);
    assert_int_equal(es_call_retry(&stop, "x", scripted, NULL), EMBSYNC_RETRY);
    assert_int_equal(asked, 1);
    es_stop_clear(&stop);
}

int main(void)
{
    es_log_configure(EMBSYNC_LOG_ERROR, ES_LOG_TEXT);
    es_retry_set_scale(0.001);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stream_options_route_writes),
        cmocka_unit_test(failed_on_stored_keeps_the_record),
        cmocka_unit_test(two_changes_of_one_id_keep_their_order),
        cmocka_unit_test(waiting_batches_are_stored_together),
        cmocka_unit_test(store_calls_never_overlap),
        cmocka_unit_test(retry_helper_follows_the_policy),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
