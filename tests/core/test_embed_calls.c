/* Embed calls in flight at once (ABI 1.4 model_info.concurrent_calls):
 * the pipeline makes as many as the embedder takes, hands their batches to
 * the store in the order they were made whatever order the calls end in,
 * keeps the embedder's other calls apart from them, and keeps a plugin
 * built against 1.3 serialised. */
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
#include "log.h"
#include "retry.h"

static es_config cfg;
static es_module *modules[3];
static es_instance *instances[3];
static es_stop stop;
static es_engine engine;
static char state_dir[64];

/* ---- an embedder that sees its calls beside each other --------------- */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static unsigned says;          /* its concurrent_calls answer */
static unsigned in_call, most_in_call, calls;
static unsigned gather;        /* a call waits for this many in flight */
static int hold_id = -1;       /* the call holding this id ends last */
static int done_id[2];         /* ids whose calls ended, in order */
static unsigned n_done;
static int others_beside;      /* embed_text() ran beside embed_images() */
static int expect_search;      /* calls wait for a search to be coming */
static int search_waiting;     /* a search is about to call embed_text() */
static long patience_ms;       /* how long a call waits for the others */

static int (*fake_info)(void *, embsync_model_info *);
static int (*fake_images)(void *, size_t, const embsync_blob *, float *,
                          int *);

static int info(void *state, embsync_model_info *out)
{
    int rc = fake_info(state, out);
    out->concurrent_calls = says;
    return rc;
}

static int holds(size_t n, const embsync_blob *in, int id)
{
    char want[32];
    snprintf(want, sizeof want, "IMG:%d:", id);
    for (size_t k = 0; k < n; k++)
        if (in[k].len >= strlen(want) &&
            memcmp(in[k].data, want, strlen(want)) == 0)
            return 1;
    return 0;
}

/* Wait on `changed` for cond, up to patience_ms: a serialised call would
 * wait for the others forever. */
#define WAIT_FOR(cond)                                                       \
    do {                                                                     \
        struct timespec until;                                               \
        clock_gettime(CLOCK_REALTIME, &until);                               \
        until.tv_nsec += (patience_ms % 1000) * 1000000L;                    \
        until.tv_sec += patience_ms / 1000 + until.tv_nsec / 1000000000L;    \
        until.tv_nsec %= 1000000000L;                                        \
        while (!(cond) &&                                                    \
               pthread_cond_timedwait(&changed, &lock, &until) == 0)         \
            ;                                                                \
    } while (0)

static int images(void *state, size_t n, const embsync_blob *in,
                  float *vectors, int *status)
{
    pthread_mutex_lock(&lock);
    calls++;
    if (++in_call > most_in_call)
        most_in_call = in_call;
    pthread_cond_broadcast(&changed);
    WAIT_FOR(in_call >= gather);
    int held = hold_id >= 0 && holds(n, in, hold_id);
    if (held)
        WAIT_FOR(n_done > 0);
    if (expect_search)
        WAIT_FOR(search_waiting);
    int searched = search_waiting;
    pthread_mutex_unlock(&lock);
    if (searched) {
        /* Time for a search that is not kept out to run beside us. */
        struct timespec pause = {0, 50 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }

    int rc = fake_images(state, n, in, vectors, status);

    pthread_mutex_lock(&lock);
    if (n_done < 2)
        done_id[n_done++] = held ? hold_id : -1;
    in_call--;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
    return rc;
}

static int text(void *state, const char *t, float *vector)
{
    (void)state, (void)t;
    pthread_mutex_lock(&lock);
    if (in_call > 0)
        others_beside = 1;
    pthread_mutex_unlock(&lock);
    for (int d = 0; d < FAKE_DIM; d++)
        vector[d] = d == 0;
    return EMBSYNC_OK;
}

static embsync_embedder_ops ops;
static embsync_plugin desc;

/* The fake world with this embedder, built against minor `minor`. */
static void open_world(unsigned concurrent, uint16_t minor)
{
    const embsync_embedder_ops *fake = fake_embedder_plugin.ops;
    fake_info = fake->info;
    fake_images = fake->embed_images;
    ops = *fake;
    ops.info = info;
    ops.embed_images = images;
    ops.embed_text = text;
    desc = fake_embedder_plugin;
    desc.abi.minor = minor;
    desc.name = "overlapping";
    desc.ops = &ops;
    says = concurrent;
    in_call = most_in_call = calls = n_done = 0;
    gather = 1;
    hold_id = -1;
    others_beside = search_waiting = expect_search = 0;
    patience_ms = 2000;

    snprintf(state_dir, sizeof state_dir, "/tmp/embsync-calls.XXXXXX");
    assert_non_null(mkdtemp(state_dir));
    memset(&cfg, 0, sizeof cfg);
    cfg.path = "test.ini";
    cfg.state_dir = state_dir;
    const embsync_plugin *const descs[3] = {&fake_source_plugin, &desc,
                                            &fake_store_plugin};
    fake_instances_open(descs, NULL, &cfg, &stop, modules, instances);
    fake_world_reset(1, 16);
}

static void start(size_t batch_size, unsigned depth)
{
    char err[512];
    assert_int_equal(es_engine_init(&engine, instances[0], instances[1],
                                    instances[2], batch_size, &stop, err,
                                    sizeof err),
                     EMBSYNC_OK);
    engine.state_dir = state_dir;
    engine.queue_depth = depth;
    es_run_result res;
    memset(&res, 0, sizeof res);
    assert_int_equal(es_engine_ensure(&engine, "col0", &res), EMBSYNC_OK);
}

static void close_world(void)
{
    es_engine_destroy(&engine);
    fake_instances_close(modules, instances, &stop);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", state_dir);
    assert_int_equal(system(cmd), 0);
}

/* A fixed list of changes, in one emit(). */
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

static int stream(script *s, es_run_result *res)
{
    memset(res, 0, sizeof *res);
    return es_engine_stream(&engine, "col0", play, s, res);
}

/* ---- the tests ----------------------------------------------------------- */

/* An embedder taking three calls gets three at once (each call waits until
 * it sees the others), and every item arrives. */
static void calls_overlap_as_many_as_the_embedder_takes(void **unused)
{
    (void)unused;
    open_world(3, EMBSYNC_ABI_MINOR);
    start(2, 4);
    gather = 3;
    script s = {0};
    for (uint64_t id = 0; id < 12; id++)
        script_add(&s, id, EMBSYNC_OP_UPSERT);
    es_run_result res;
    assert_int_equal(stream(&s, &res), EMBSYNC_OK);
    assert_int_equal(res.embedded, 12);
    assert_int_equal(most_in_call, 3);
    assert_int_equal(calls, 6);
    for (unsigned i = 0; i < 12; i++)
        assert_int_equal(world.collections[0].acked[i], 1);
    close_world();
}

/* A search once two calls are in flight (the calls wait for it). */
static void *search_once(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    WAIT_FOR(in_call >= 2);
    search_waiting = 1;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
    float v[FAKE_DIM];
    return es_embedder_embed_text(instances[1], "a photo", v) == EMBSYNC_OK
               ? NULL
               : "failed";
}

/* embed_text() waits for the embed_images() calls in flight, even while
 * they overlap one another. */
static void other_calls_never_run_beside_them(void **unused)
{
    (void)unused;
    open_world(2, EMBSYNC_ABI_MINOR);
    start(2, 2);
    gather = 2;
    expect_search = 1;
    script s = {0};
    for (uint64_t id = 0; id < 4; id++)
        script_add(&s, id, EMBSYNC_OP_UPSERT);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, search_once, NULL), 0);
    es_run_result res;
    assert_int_equal(stream(&s, &res), EMBSYNC_OK);
    void *failed;
    pthread_join(t, &failed);
    assert_null(failed);
    assert_int_equal(most_in_call, 2);
    assert_true(search_waiting);
    assert_false(others_beside);
    close_world();
}

/* A delete in one batch and the re-create of the same id in the next reach
 * the store in that order although the later batch's call ends first: the
 * point is there at the end. */
static void batches_reach_the_store_in_their_order(void **unused)
{
    (void)unused;
    open_world(2, EMBSYNC_ABI_MINOR);
    start(4, 2);
    world.store[0].points[7].present = 1;
    script s = {0};
    script_add(&s, 1, EMBSYNC_OP_UPSERT);
    script_add(&s, 7, EMBSYNC_OP_DELETE);
    script_add(&s, 7, EMBSYNC_OP_UPSERT); /* a new batch begins here */
    script_add(&s, 2, EMBSYNC_OP_UPSERT);
    hold_id = 1;                          /* the first batch's call ends last */
    es_run_result res;
    assert_int_equal(stream(&s, &res), EMBSYNC_OK);
    assert_int_equal(n_done, 2);
    assert_int_equal(done_id[0], -1);     /* the second batch's call */
    assert_int_equal(done_id[1], 1);      /* then the first's */
    assert_true(world.store[0].points[1].present);
    assert_true(world.store[0].points[7].present);
    assert_true(world.store[0].points[2].present);
    assert_int_equal(res.embedded, 3);
    assert_int_equal(res.deleted, 1);
    close_world();
}

/* A plugin built against 1.3 never meant concurrent_calls: whatever the
 * member holds, its calls are one at a time. */
static void a_1_3_plugin_stays_serialised(void **unused)
{
    (void)unused;
    open_world(4, 3);
    start(2, 4);
    gather = 2;                           /* would wait for a second call */
    patience_ms = 300;
    script s = {0};
    for (uint64_t id = 0; id < 4; id++)
        script_add(&s, id, EMBSYNC_OP_UPSERT);
    assert_int_equal(engine.model.concurrent_calls, 0);
    es_run_result res;
    assert_int_equal(stream(&s, &res), EMBSYNC_OK);
    assert_int_equal(res.embedded, 4);
    assert_int_equal(most_in_call, 1);
    close_world();
}

int main(void)
{
    es_log_configure(EMBSYNC_LOG_ERROR, ES_LOG_TEXT);
    es_retry_set_scale(0.001);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(calls_overlap_as_many_as_the_embedder_takes),
        cmocka_unit_test(other_calls_never_run_beside_them),
        cmocka_unit_test(batches_reach_the_store_in_their_order),
        cmocka_unit_test(a_1_3_plugin_stays_serialised),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
