#include <config.h>

#include "pipeline.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blob.h"
#include "calls.h"
#include "clock.h"
#include "crashpoint.h"
#include "log.h"
#include "metrics.h"
#include "queue.h"

#define REASON_LEN 256
#define DEFAULT_QUEUE_DEPTH 2
#define ES_EMBED_WORKERS_MAX 16

/* One batch of changes travelling through the pipeline; the host's copies
 * of what the source emitted.  No two of its changes name the same id
 * (batch_holds): the store stage may then apply them in any order. */
typedef struct batch {
    size_t n;
    embsync_change *items;
    int *status;          /* per item: OK, ITEM_FAILED, RETRY */
    embsync_blob *blobs;
    float *vectors;       /* n × dim */
    char *reasons;        /* n × REASON_LEN */
    uint32_t *index;      /* open addressing: item index + 1, 0 = empty */
    size_t mask;          /* index slots - 1 */
} batch;

/* Everything one stream shares between its threads. */
typedef struct run {
    es_engine *e;
    const char *collection;    /* at the source */
    const char *store_as;      /* in the store */
    const es_stream_opts *opts;
    es_queue to_fetch, to_embed, to_store;
    batch *filling;
    pthread_mutex_t lock;
    pthread_cond_t stored;     /* sequential mode: a batch finished */
    int failed_status;         /* first stage failure, 0 = none */
    char error[512];
    uint64_t pushed, finished; /* batches */
    uint64_t embedded, deleted, failed, deferred, waiting;
    es_ledger *ledger;         /* may be NULL */
    es_inflight *pending;      /* the batch on its way to the store; may be NULL */
    atomic_int stop_this;      /* a stop for this collection was asked
                                  (set by any stage's thread) */
} run;

/* ---- batches -------------------------------------------------------- */

static void batch_free(batch *b)
{
    if (b == NULL)
        return;
    for (size_t i = 0; i < b->n; i++) {
        free((char *)b->items[i].ref);
        free((char *)b->items[i].version);
        free((char *)b->items[i].payload);
        es_blob_release(&b->blobs[i]);
    }
    free(b->items);
    free(b->status);
    free(b->blobs);
    free(b->vectors);
    free(b->reasons);
    free(b->index);
    free(b);
}

static batch *batch_new(size_t cap, uint32_t dim)
{
    batch *b = calloc(1, sizeof *b);
    if (b == NULL)
        return NULL;
    size_t slots = 16;
    while (slots < 2 * cap)
        slots *= 2;
    b->mask = slots - 1;
    b->items = calloc(cap, sizeof *b->items);
    b->status = calloc(cap, sizeof *b->status);
    b->blobs = calloc(cap, sizeof *b->blobs);
    b->vectors = calloc(cap * dim, sizeof *b->vectors);
    b->reasons = calloc(cap, REASON_LEN);
    b->index = calloc(slots, sizeof *b->index);
    if (!b->items || !b->status || !b->blobs || !b->vectors || !b->reasons ||
        !b->index) {
        batch_free(b);
        return NULL;
    }
    for (size_t i = 0; i < cap; i++)
        es_blob_init(&b->blobs[i]);
    return b;
}

/* The index slot of id, or of the empty slot where it would go. */
static size_t batch_slot(const batch *b, uint64_t id)
{
    size_t s = (size_t)((id * 0x9E3779B97F4A7C15ull) >> 32) & b->mask;
    while (b->index[s] != 0 && b->items[b->index[s] - 1].id != id)
        s = (s + 1) & b->mask;
    return s;
}

static int batch_holds(const batch *b, uint64_t id)
{
    return b->index[batch_slot(b, id)] != 0;
}

static char *dup_opt(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

static void batch_add(batch *b, const embsync_change *c)
{
    b->index[batch_slot(b, c->id)] = (uint32_t)(b->n + 1);
    b->items[b->n++] = (embsync_change){
        .abi = EMBSYNC_ABI_INIT(embsync_change),
        .id = c->id,
        .op = c->op,
        .ref = dup_opt(c->ref),
        .version = dup_opt(c->version),
        .payload = dup_opt(c->payload),
    };
}

/* ---- failure bookkeeping ----------------------------------------------- */

static void run_fail(run *r, int status, const char *stage, const char *why)
{
    pthread_mutex_lock(&r->lock);
    if (r->failed_status == 0) {
        r->failed_status = status;
        snprintf(r->error, sizeof r->error, "%s: %s", stage,
                 why && *why ? why : es_status_word(status));
    }
    pthread_cond_broadcast(&r->stored);
    pthread_mutex_unlock(&r->lock);
}

static int run_failed(run *r)
{
    pthread_mutex_lock(&r->lock);
    int failed = r->failed_status;
    pthread_mutex_unlock(&r->lock);
    return failed;
}

static void item_failed(run *r, batch *b, size_t i, const char *stage)
{
    const char *why = b->reasons + i * REASON_LEN;
    const embsync_change *c = &b->items[i];
    /* Operators look for the file or image, not for the hash of its name. */
    const char *ref = c->ref != NULL ? c->ref : "";
    if (r->ledger != NULL)
        es_ledger_fail(r->ledger, c->id, c->ref, stage,
                       *why ? why : "no reason given", (int64_t)time(NULL));
    if (b->status[i] == EMBSYNC_RETRY) {
        es_warn("collection %s: item %llu%s%s%s: %s deferred to a later run: %s",
                r->collection, (unsigned long long)c->id, *ref ? " (" : "",
                ref, *ref ? ")" : "", stage, *why ? why : "temporary failure");
        return;
    }
    es_warn("collection %s: item %llu%s%s%s: %s failed: %s", r->collection,
            (unsigned long long)c->id, *ref ? " (" : "", ref, *ref ? ")" : "",
            stage, *why ? why : "no reason given");
}

/* The items of a stage's call, gathered from a batch, and where each came
 * from: a stage asks its plugin about some of the batch only. */
typedef struct selection {
    run *r;
    size_t m;
    size_t *map;          /* selection index -> batch index */
    embsync_blob *blobs;  /* fetch: out; embed: in */
    int *status;
    char *reasons;        /* m × REASON_LEN */
    embsync_change *items;  /* fetch only */
    float *vectors;         /* embed only */
} selection;

static int selection_alloc(selection *s, run *r, size_t n)
{
    *s = (selection){.r = r};
    s->map = malloc(n * sizeof *s->map);
    s->blobs = malloc(n * sizeof *s->blobs);
    s->status = malloc(n * sizeof *s->status);
    s->reasons = calloc(n, REASON_LEN);
    return s->map && s->blobs && s->status && s->reasons ? 0 : -1;
}

static void selection_free(selection *s)
{
    free(s->map);
    free(s->blobs);
    free(s->status);
    free(s->reasons);
    free(s->items);
    free(s->vectors);
}

/* The stage's answer for selected item k, into the batch. */
static void selection_take(selection *s, batch *b, size_t k)
{
    size_t i = s->map[k];
    b->status[i] = s->status[k];
    memcpy(b->reasons + i * REASON_LEN, s->reasons + k * REASON_LEN,
           REASON_LEN);
}

/* ---- stage 1: fetch ----------------------------------------------------- */

static int fetch_once(void *arg)
{
    selection *s = arg;
    for (size_t k = 0; k < s->m; k++) {
        es_blob_release(&s->blobs[k]);
        s->status[k] = EMBSYNC_OK;
    }
    return es_source_fetch(s->r->e->source, s->r->collection, s->m, s->items,
                           s->blobs, s->status, s->reasons, REASON_LEN);
}

static void fetch_batch(run *r, batch *b)
{
    /* Only upserts have content; deletes ride along untouched. */
    selection s;
    if (selection_alloc(&s, r, b->n) != 0 ||
        (s.items = malloc(b->n * sizeof *s.items)) == NULL) {
        run_fail(r, EMBSYNC_FAILED, "fetch", "out of memory");
        goto out;
    }
    for (size_t i = 0; i < b->n; i++) {
        b->status[i] = EMBSYNC_OK;
        if (b->items[i].op == EMBSYNC_OP_UPSERT) {
            s.map[s.m] = i;
            s.items[s.m] = b->items[i];
            es_blob_init(&s.blobs[s.m]);
            s.m++;
        }
    }
    if (s.m == 0)
        goto out;
    int rc = es_call_retry(r->e->stop, "fetch", fetch_once, &s);
    if (rc != EMBSYNC_OK) {
        for (size_t k = 0; k < s.m; k++)
            es_blob_release(&s.blobs[k]);
        run_fail(r, rc, "fetch", es_call_error());
        goto out;
    }
    for (size_t k = 0; k < s.m; k++) {
        size_t i = s.map[k];
        b->blobs[i] = s.blobs[k];
        selection_take(&s, b, k);
        if (s.status[k] == EMBSYNC_OK && s.blobs[k].data == NULL) {
            b->status[i] = EMBSYNC_ITEM_FAILED;
            snprintf(b->reasons + i * REASON_LEN, REASON_LEN,
                     "source returned no content");
        }
        if (b->status[i] != EMBSYNC_OK)
            item_failed(r, b, i, "fetch");
    }
out:
    selection_free(&s);
}

static void fetch_batches(run *r, batch *const *group, size_t k)
{
    for (size_t g = 0; g < k; g++)
        fetch_batch(r, group[g]);
}

/* ---- stage 2: embed ----------------------------------------------------- */

/* A vector is finite exactly when the sum of its squares in double is:
 * a float squared cannot overflow a double, and NaN or an infinity carries
 * through the sum.  Four partial sums let the additions overlap (this check
 * runs on every vector); their rounding differs from one sum's by far less
 * than the unit-length tolerance. */
static int vector_ok(const float *v, uint32_t dim, int normalized)
{
    double part[4] = {0, 0, 0, 0};
    uint32_t d = 0;
    for (; d + 4 <= dim; d += 4)
        for (int k = 0; k < 4; k++)
            part[k] += (double)v[d + k] * v[d + k];
    for (; d < dim; d++)
        part[0] += (double)v[d] * v[d];
    double norm = (part[0] + part[1]) + (part[2] + part[3]);
    return isfinite(norm) && (!normalized || fabs(norm - 1.0) < 1e-3);
}

static int embed_once(void *arg)
{
    selection *s = arg;
    for (size_t k = 0; k < s->m; k++)
        s->status[k] = EMBSYNC_OK;
    return es_embedder_embed_images(s->r->e->embedder, s->m, s->blobs,
                                    s->vectors, s->status, s->reasons,
                                    REASON_LEN);
}

static void embed_batch(run *r, batch *b)
{
    es_engine *e = r->e;
    uint32_t dim = e->model.dim;
    selection s;
    if (selection_alloc(&s, r, b->n) != 0 ||
        (s.vectors = malloc(b->n * dim * sizeof *s.vectors)) == NULL) {
        run_fail(r, EMBSYNC_FAILED, "embed", "out of memory");
        goto out;
    }
    for (size_t i = 0; i < b->n; i++) {
        if (b->items[i].op == EMBSYNC_OP_UPSERT && b->status[i] == EMBSYNC_OK) {
            s.map[s.m] = i;
            s.blobs[s.m] = b->blobs[i];
            s.m++;
        }
    }
    if (s.m == 0)
        goto out;
    int rc = es_call_retry(e->stop, "embed", embed_once, &s);
    if (rc != EMBSYNC_OK) {
        run_fail(r, rc, "embed", es_call_error());
        goto out;
    }
    int normalized = (e->model.flags & EMBSYNC_MODEL_NORMALIZED) != 0;
    for (size_t k = 0; k < s.m; k++) {
        size_t i = s.map[k];
        selection_take(&s, b, k);
        if (s.status[k] == EMBSYNC_OK) {
            /* Never let a broken vector reach the store. */
            if (!vector_ok(s.vectors + k * dim, dim, normalized)) {
                b->status[i] = EMBSYNC_ITEM_FAILED;
                snprintf(b->reasons + i * REASON_LEN, REASON_LEN,
                         "embedder returned a non-finite or non-unit vector");
            } else {
                memcpy(b->vectors + i * dim, s.vectors + k * dim,
                       dim * sizeof *s.vectors);
            }
        }
        if (b->status[i] != EMBSYNC_OK)
            item_failed(r, b, i, "embed");
        /* The content is no longer needed: free it early. */
        es_blob_release(&b->blobs[i]);
    }
out:
    selection_free(&s);
}

static void embed_batches(run *r, batch *const *group, size_t k)
{
    for (size_t g = 0; g < k; g++)
        embed_batch(r, group[g]);
}

/* ---- stage 3: store, then acknowledge ---------------------------------- */

/* One batch call of the store stage, for es_call_retry(). */
typedef struct batch_call {
    run *r;
    const char *collection;
    size_t n;
    const void *items;
} batch_call;

static int upsert_once(void *arg)
{
    const batch_call *c = arg;
    return es_store_upsert(c->r->e->store, c->collection, c->n, c->items);
}

static int remove_once(void *arg)
{
    const batch_call *c = arg;
    return es_store_remove(c->r->e->store, c->collection, c->n, c->items);
}

/* The source's ack(), or the stream's own record of what is stored. */
static int stored_once(void *arg)
{
    const batch_call *c = arg;
    const es_stream_opts *o = c->r->opts;
    if (o->on_stored == NULL)
        return es_source_ack(c->r->e->source, c->collection, c->n, c->items);
    es_call_begin();
    return o->on_stored(o->on_stored_arg, c->n, c->items);
}

/* One store call under the retry policy; a failure fails the run. */
static int store_call(run *r, es_call_fn fn, const char *what,
                      const char *collection, size_t n, const void *items)
{
    if (n == 0)
        return EMBSYNC_OK;
    batch_call c = {r, collection, n, items};
    int rc = es_call_retry(r->e->stop, what, fn, &c);
    if (rc != EMBSYNC_OK)
        run_fail(r, rc, what, es_call_error());
    return rc;
}

/* The upserts go in one call, then the removes in another: that is the
 * source's order because no id appears twice in a group (a batch never
 * holds two changes of one id, the sink starts a new batch instead, and
 * stage_group() ends a group at a batch sharing an id with it), and
 * batches reach the store one after the other in the order they were
 * emitted (stage_hand_on: also when several embed calls are in flight). */
static void store_group(run *r, batch *const *group, size_t k)
{
    es_engine *e = r->e;
    const es_stream_opts *o = r->opts;
    uint32_t dim = e->model.dim;
    size_t n = 0;
    for (size_t g = 0; g < k; g++)
        n += group[g]->n;
    embsync_point *points = malloc(n * sizeof *points);
    uint64_t *ids = malloc(n * sizeof *ids);
    embsync_change *done = malloc(n * sizeof *done);
    if (!points || !ids || !done) {
        run_fail(r, EMBSYNC_FAILED, "store", "out of memory");
        goto out;
    }
    size_t np = 0, nd = 0, nack = 0;
    uint64_t failed = 0, deferred = 0;
    for (size_t g = 0; g < k; g++) {
        const batch *b = group[g];
        for (size_t i = 0; i < b->n; i++) {
            const embsync_change *c = &b->items[i];
            if (c->op == EMBSYNC_OP_DELETE) {
                ids[nd++] = c->id;
                done[nack++] = *c;
            } else if (b->status[i] == EMBSYNC_OK) {
                points[np] = (embsync_point){
                    .abi = EMBSYNC_ABI_INIT(embsync_point),
                    .id = c->id,
                    .vector = b->vectors + i * dim,
                    .payload = c->payload != NULL ? c->payload : "{}",
                };
                np++;
                done[nack++] = *c;
            } else if (b->status[i] == EMBSYNC_RETRY) {
                deferred++;
            } else {
                failed++;
            }
        }
    }
    /* Durably say what is about to reach the store, so that a crash before
     * the acknowledgement below can be resolved (inflight.h). */
    if (nack > 0 && r->pending != NULL &&
        es_inflight_record(r->pending, nack, done) != 0) {
        run_fail(r, EMBSYNC_FAILED, "store",
                 "cannot record the batch in flight in the state directory");
        goto out;
    }
    int rc = store_call(r, upsert_once, "upsert", r->store_as, np, points);
    if (rc == EMBSYNC_OK)
        rc = store_call(r, remove_once, "remove", r->store_as, nd, ids);
    if (rc == EMBSYNC_OK && o->remove_also != NULL)
        rc = store_call(r, remove_once, "remove", o->remove_also, nd, ids);
    if (rc != EMBSYNC_OK)
        goto out;
    /* The store has confirmed: only now may the source record it.  The
     * point is passed once per batch, so that "after-store:N" names the
     * same place in the stream however the batches were grouped. */
    for (size_t g = 0; g < k; g++)
        es_crashpoint("after-store");
    if (nack > 0) {
        const char *what = o->on_stored != NULL ? "record stored" : "ack";
        if (store_call(r, stored_once, what, r->collection, nack, done) !=
            EMBSYNC_OK)
            goto out;
        if (r->ledger != NULL)
            for (size_t i = 0; i < nack; i++)
                es_ledger_clear(r->ledger, done[i].id);
        if (r->pending != NULL && es_inflight_clear(r->pending) != 0)
            es_warn("collection %s: cannot clear the in-flight record; the "
                    "next run checks those items again", r->collection);
    }
    pthread_mutex_lock(&r->lock);
    r->embedded += np;
    r->deleted += nd;
    r->failed += failed;
    r->deferred += deferred;
    pthread_mutex_unlock(&r->lock);

    es_progress_add(&e->progress, nack, failed);
    if (e->on_progress != NULL) {
        es_progress_view view;
        es_progress_read(&e->progress, &view);
        e->on_progress(&view, e->on_progress_arg);
    }
out:
    free(points);
    free(ids);
    free(done);
}

/* ---- the stages' threads ------------------------------------------------- */

/* A stop of the whole process, or of this collection from the control
 * port. */
static int stopping(run *r)
{
    if (es_stop_requested(r->e->stop))
        return 1;
    int mine = es_progress_stop_requested(&r->e->progress, r->collection);
    if (mine)
        atomic_store(&r->stop_this, 1);
    return mine;
}

static void queue_gauge(const char *queue, es_queue *q)
{
    char labels[48];
    snprintf(labels, sizeof labels, "queue=\"%s\"", queue);
    pthread_mutex_lock(&q->lock);
    size_t len = q->len;
    pthread_mutex_unlock(&q->lock);
    es_metric_set("embsync_queue_depth", labels, (double)len);
}

/* A batch leaves the pipeline, done or discarded. */
static void batch_finished(run *r, batch *b)
{
    batch_free(b);
    pthread_mutex_lock(&r->lock);
    r->finished++;
    pthread_cond_broadcast(&r->stored);
    pthread_mutex_unlock(&r->lock);
}

/* Batches in one group of the store stage (ES_STORE_GROUP_ITEMS). */
#define STORE_GROUP_MAX 16

typedef struct stage {
    const char *name;          /* for the batch-duration metric */
    /* The batches taken together (k >= 1), in the order taken. */
    void (*work)(run *r, batch *const *group, size_t k);
    size_t group_items;        /* 0: one batch at a time */
    es_queue *in, *out;        /* out is NULL for the last stage */
    const char *out_name;      /* for the queue-depth gauge */
    run *r;
    /* Threads sharing the stage (the embed stage, when the embedder takes
     * several calls at once) finish out of order but hand on in order:
     * the store stage relies on it (store_group).  A batch's turn is the
     * order it was taken in.  Only a stage of one thread takes groups. */
    unsigned workers, live;
    pthread_mutex_t take_lock; /* taking a batch and its turn is one step */
    pthread_mutex_t turn_lock;
    pthread_cond_t turn;       /* `handed` moved on */
    uint64_t taken, handed;
} stage;

typedef struct group {
    batch *b[STORE_GROUP_MAX];
    uint64_t turn[STORE_GROUP_MAX];
    size_t n, items;
} group;

static void stage_init(stage *s, const char *name,
                       void (*work)(run *, batch *const *, size_t),
                       es_queue *in, es_queue *out, const char *out_name,
                       run *r, unsigned workers)
{
    *s = (stage){.name = name, .work = work, .in = in, .out = out,
                 .out_name = out_name, .r = r, .workers = workers,
                 .live = workers};
    pthread_mutex_init(&s->take_lock, NULL);
    pthread_mutex_init(&s->turn_lock, NULL);
    pthread_cond_init(&s->turn, NULL);
}

static void stage_destroy(stage *s)
{
    pthread_cond_destroy(&s->turn);
    pthread_mutex_destroy(&s->turn_lock);
    pthread_mutex_destroy(&s->take_lock);
}

/* The next batch, waiting for one unless `now`; NULL once the queue is
 * closed and drained, or (now) while it is empty. */
static batch *stage_take(stage *s, uint64_t *turn, int now)
{
    pthread_mutex_lock(&s->take_lock);
    batch *b = now ? es_queue_try_pop(s->in) : es_queue_pop(s->in);
    if (b != NULL)
        *turn = s->taken++;
    pthread_mutex_unlock(&s->take_lock);
    return b;
}

static void group_add(group *g, batch *b, uint64_t turn)
{
    g->b[g->n] = b;
    g->turn[g->n] = turn;
    g->n++;
    g->items += b->n;
}

/* Whether b may join g: within the bounds, and no id of it already in g
 * (store_group applies a group's changes in any order). */
static int group_takes(const group *g, const batch *b, size_t max_items)
{
    if (g->n == STORE_GROUP_MAX || g->items + b->n > max_items)
        return 0;
    for (size_t i = 0; i < b->n; i++)
        for (size_t k = 0; k < g->n; k++)
            if (batch_holds(g->b[k], b->items[i].id))
                return 0;
    return 1;
}

/* Hand b on (or let it go) once every batch taken before it was; the
 * earlier ones are on other threads of the stage, which never wait for a
 * later one, so the wait ends. */
static void stage_hand_on(stage *s, batch *b, uint64_t turn, int discard)
{
    run *r = s->r;
    pthread_mutex_lock(&s->turn_lock);
    while (s->handed != turn)
        pthread_cond_wait(&s->turn, &s->turn_lock);
    pthread_mutex_unlock(&s->turn_lock);
    if (s->out == NULL || discard || es_queue_push(s->out, b) != 0)
        batch_finished(r, b);
    pthread_mutex_lock(&s->turn_lock);
    s->handed++;
    pthread_cond_broadcast(&s->turn);
    pthread_mutex_unlock(&s->turn_lock);
}

/* Into g: *next (taken earlier and left over) or the next batch, waited
 * for, then what is already queued and may join it.  A batch that may not
 * is left in *next for the next group.  0 once the queue is drained. */
static int stage_group(stage *s, group *g, batch **next, uint64_t *next_turn)
{
    g->n = g->items = 0;
    uint64_t turn = *next_turn;
    batch *b = *next;
    *next = NULL;
    if (b == NULL && (b = stage_take(s, &turn, 0)) == NULL)
        return 0;
    group_add(g, b, turn);
    while (g->items < s->group_items && (b = stage_take(s, &turn, 1)) != NULL) {
        if (!group_takes(g, b, s->group_items)) {
            *next = b;
            *next_turn = turn;
            break;
        }
        group_add(g, b, turn);
    }
    return 1;
}

/* Every stage: take a batch (a group, in the store stage), work on it,
 * hand it on.  Once the run failed every batch is discarded; on a stop
 * request fetch and embed discard theirs too, while the store stage
 * finishes whatever reached it, so stored work is acknowledged. */
static void *stage_thread(void *arg)
{
    stage *s = arg;
    run *r = s->r;
    group g;
    batch *next = NULL;
    uint64_t next_turn = 0;
    while (stage_group(s, &g, &next, &next_turn)) {
        int discard = run_failed(r) || (s->out != NULL && stopping(r));
        if (!discard) {
            double t = es_mono_now();
            s->work(r, g.b, g.n);
            char labels[48];
            snprintf(labels, sizeof labels, "stage=\"%s\"", s->name);
            es_metric_observe("embsync_batch_duration_seconds", labels,
                              es_mono_now() - t);
        }
        for (size_t k = 0; k < g.n; k++)
            stage_hand_on(s, g.b[k], g.turn[k], discard);
        if (!discard && s->out != NULL)
            queue_gauge(s->out_name, s->out);
    }
    pthread_mutex_lock(&s->turn_lock);
    int last = --s->live == 0;
    pthread_mutex_unlock(&s->turn_lock);
    if (last && s->out != NULL)
        es_queue_close(s->out);
    return NULL;
}

/* Embed calls in flight at once: what the embedder takes (1 unless it said
 * more, ABI 1.4), at most the queue depth, so that the batches held in
 * calls are no more than the ones the queue already lets wait for them;
 * one at a time in the sequential comparison. */
static unsigned embed_workers(const es_engine *e, unsigned depth)
{
    unsigned n = e->model.concurrent_calls;
    if (e->sequential || n < 1)
        return 1;
    if (n > depth)
        n = depth;
    return n < ES_EMBED_WORKERS_MAX ? n : ES_EMBED_WORKERS_MAX;
}

/* A thread of s could not be started.  Without any, the run fails and
 * the stage's queues close, so that no other stage waits for it. */
static void stage_gone(stage *s)
{
    pthread_mutex_lock(&s->turn_lock);
    int none = --s->live == 0;
    pthread_mutex_unlock(&s->turn_lock);
    if (!none)
        return;
    run_fail(s->r, EMBSYNC_FAILED, s->name, "cannot start a thread");
    es_queue_close(s->in);
    if (s->out != NULL)
        es_queue_close(s->out);
}

/* ---- the sink the producer streams into ---------------------------------- */

typedef struct sink {
    embsync_change_sink pub;
    run *r;
} sink;

static int push_filling(run *r)
{
    batch *b = r->filling;
    r->filling = NULL;
    if (b == NULL || b->n == 0) {
        batch_free(b);
        return EMBSYNC_OK;
    }
    pthread_mutex_lock(&r->lock);
    r->pushed++;
    pthread_mutex_unlock(&r->lock);
    if (es_queue_push(&r->to_fetch, b) != 0) {
        batch_free(b);
        return EMBSYNC_FAILED;
    }
    if (r->e->sequential) {
        /* Benchmarks compare against the unpipelined order of work. */
        pthread_mutex_lock(&r->lock);
        while (r->finished < r->pushed && r->failed_status == 0)
            pthread_cond_wait(&r->stored, &r->lock);
        pthread_mutex_unlock(&r->lock);
    }
    return EMBSYNC_OK;
}

static int sink_emit(embsync_change_sink *pub, const embsync_change *changes,
                     size_t n)
{
    run *r = ((sink *)pub)->r;
    es_engine *e = r->e;
    /* Changes are strided by the plugin's struct size. */
    size_t stride = n > 0 && changes[0].abi.size ? changes[0].abi.size
                                                 : sizeof *changes;
    for (size_t i = 0; i < n; i++) {
        if (run_failed(r))
            return run_failed(r);
        if (stopping(r))
            return EMBSYNC_RETRY;
        const embsync_change *c =
            (const embsync_change *)((const char *)changes + i * stride);
        /* An item that keeps failing waits out its back-off in the ledger
         * instead of being fetched and embedded on every run. */
        if (c->op == EMBSYNC_OP_UPSERT && r->ledger != NULL &&
            !es_ledger_due(r->ledger, c->id, (int64_t)time(NULL))) {
            r->waiting++;
            continue;
        }
        if (c->op != EMBSYNC_OP_UPSERT && c->op != EMBSYNC_OP_DELETE) {
            es_error("collection %s: source emitted item %llu with unknown op %d",
                     r->collection, (unsigned long long)c->id, c->op);
            return EMBSYNC_FAILED;
        }
        /* A second change of an id goes into the next batch (store_group). */
        if (r->filling != NULL && batch_holds(r->filling, c->id) &&
            push_filling(r) != EMBSYNC_OK)
            return run_failed(r) ? run_failed(r) : EMBSYNC_FAILED;
        if (r->filling == NULL &&
            (r->filling = batch_new(e->batch_size, e->model.dim)) == NULL)
            return EMBSYNC_FAILED;
        batch_add(r->filling, c);
        if (r->filling->n == e->batch_size && push_filling(r) != EMBSYNC_OK)
            return run_failed(r) ? run_failed(r) : EMBSYNC_FAILED;
    }
    return EMBSYNC_OK;
}

static void sink_set_total(embsync_change_sink *pub, uint64_t total)
{
    es_progress_set_total(&((sink *)pub)->r->e->progress, total);
}

/* ---- one stream ---------------------------------------------------------- */

int es_pipeline_run(es_engine *e, const char *collection,
                    const es_stream_opts *opts, es_ledger *ledger,
                    es_inflight *pending, es_change_producer produce,
                    void *arg, es_run_result *res)
{
    static const es_stream_opts defaults = {0};
    if (opts == NULL)
        opts = &defaults;
    run r = {
        .e = e,
        .collection = collection,
        .store_as = opts->store_as != NULL ? opts->store_as : collection,
        .opts = opts,
        .ledger = ledger,
        .pending = pending,
    };
    unsigned depth = e->queue_depth ? e->queue_depth : DEFAULT_QUEUE_DEPTH;
    pthread_mutex_init(&r.lock, NULL);
    pthread_cond_init(&r.stored, NULL);
    /* Deep enough for a whole group to wait in (group commit, engine.h):
     * embedded batches hold their vectors, not their content. */
    size_t group_items = e->sequential ? 0 : e->store_group_items;
    size_t group_depth = group_items / e->batch_size;
    if (group_depth > STORE_GROUP_MAX)
        group_depth = STORE_GROUP_MAX;
    es_queue_init(&r.to_fetch, depth);
    es_queue_init(&r.to_embed, depth);
    es_queue_init(&r.to_store, group_depth > depth ? group_depth : depth);

    unsigned workers[3] = {1, embed_workers(e, depth), 1};
    stage stages[3];
    stage_init(&stages[0], "fetch", fetch_batches, &r.to_fetch, &r.to_embed,
               "to_embed", &r, workers[0]);
    stage_init(&stages[1], "embed", embed_batches, &r.to_embed, &r.to_store,
               "to_store", &r, workers[1]);
    stage_init(&stages[2], "store", store_group, &r.to_store, NULL, NULL, &r,
               workers[2]);
    stages[2].group_items = group_items;
    pthread_t threads[3 + ES_EMBED_WORKERS_MAX];
    size_t n_threads = 0;
    for (int i = 0; i < 3; i++)
        for (unsigned w = 0; w < workers[i]; w++)
            if (pthread_create(&threads[n_threads], NULL, stage_thread,
                               &stages[i]) == 0)
                n_threads++;
            else
                stage_gone(&stages[i]);

    sink s = {
        .pub = {.abi = EMBSYNC_ABI_INIT(embsync_change_sink),
                .emit = sink_emit,
                .set_total = sink_set_total},
        .r = &r,
    };
    es_call_begin();
    int rc = produce(arg, &s.pub);
    char changes_error[256];
    snprintf(changes_error, sizeof changes_error, "%s", es_call_error());
    if (rc == EMBSYNC_OK)
        rc = push_filling(&r);
    else
        batch_free(r.filling);
    es_queue_close(&r.to_fetch);
    for (size_t i = 0; i < n_threads; i++)
        pthread_join(threads[i], NULL);
    /* Left only when a stage had no thread (stage_gone). */
    es_queue *queues[3] = {&r.to_fetch, &r.to_embed, &r.to_store};
    for (int i = 0; i < 3; i++) {
        batch *left;
        while ((left = es_queue_pop(queues[i])) != NULL)
            batch_finished(&r, left);
    }
    /* The queues are drained: the gauges must not keep the last sample. */
    queue_gauge("to_embed", &r.to_embed);
    queue_gauge("to_store", &r.to_store);

    res->embedded = r.embedded;
    res->deleted = r.deleted;
    res->failed = r.failed;
    res->deferred = r.deferred;
    res->waiting = r.waiting;
    int stopped = es_stop_requested(e->stop) || atomic_load(&r.stop_this);
    if (r.failed_status != 0) {
        rc = r.failed_status;
        snprintf(res->error, sizeof res->error, "%s", r.error);
    } else if (rc != EMBSYNC_OK) {
        snprintf(res->error, sizeof res->error, "changes: %s",
                 *changes_error ? changes_error
                 : stopped      ? "stopped"
                                : es_status_word(rc));
    } else if (stopped) {
        rc = EMBSYNC_RETRY;
        snprintf(res->error, sizeof res->error, "stopped");
    }
    if (r.failed_status == 0 && stopped)
        res->stopped = 1;
    for (int i = 0; i < 3; i++)
        stage_destroy(&stages[i]);
    es_queue_destroy(&r.to_fetch);
    es_queue_destroy(&r.to_embed);
    es_queue_destroy(&r.to_store);
    pthread_cond_destroy(&r.stored);
    pthread_mutex_destroy(&r.lock);
    return rc;
}
