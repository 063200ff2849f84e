#include <config.h>

#include "engine.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "crashpoint.h"
#include "inflight.h"
#include "ledger.h"
#include "log.h"
#include "metrics.h"
#include "queue.h"
#include "rebuild.h"
#include "retry.h"
#include "status.h"

#define REASON_LEN 256
#define DEFAULT_QUEUE_DEPTH 2

/* One batch of changes travelling through the pipeline; the host's copies
 * of what the source emitted. */
typedef struct batch {
    size_t n;
    embsync_change *items;
    int *status;          /* per item: OK, ITEM_FAILED, RETRY */
    embsync_blob *blobs;
    float *vectors;       /* n × dim */
    char *reasons;        /* n × REASON_LEN */
} batch;

/* Everything one collection's run shares between its threads. */
typedef struct run {
    es_engine *e;
    const char *collection;
    const es_stream_opts *opts; /* never NULL */
    es_queue to_fetch, to_embed, to_store;
    batch *filling;
    pthread_mutex_t lock;
    pthread_cond_t stored;     /* sequential mode: a batch finished */
    int failed_status;         /* first stage failure, 0 = none */
    char error[512];
    uint64_t pushed, finished; /* batches */
    uint64_t embedded, deleted, failed, deferred, waiting;
    es_ledger ledger;
    int has_ledger;
    es_inflight pending;       /* the batch on its way to the store */
    int has_pending;
    int stop_this;             /* a stop for this collection was asked */
} run;

static const char *status_name(int status)
{
    switch (status) {
    case EMBSYNC_OK: return "ok";
    case EMBSYNC_RETRY: return "retry";
    case EMBSYNC_ITEM_FAILED: return "item failed";
    case EMBSYNC_FAILED: return "failed";
    case EMBSYNC_FATAL: return "fatal";
    case EMBSYNC_SKIP: return "skipped";
    default: return "invalid status";
    }
}

/* Attempts of one plugin call that answers RETRY.  Fewer than the HTTP
 * layer's: a plugin's RETRY often means its requests were already retried,
 * and what stays broken is picked up by the next pass. */
#define CALL_ATTEMPTS 3

/* After a plugin call returned rc: wait and return 1 when it deserves
 * another attempt under the retry policy, 0 when rc is final. */
static int again(es_engine *e, int rc, unsigned *attempt, const char *what)
{
    if (rc != EMBSYNC_RETRY || *attempt >= CALL_ATTEMPTS ||
        es_stop_requested(e->stop))
        return 0;
    double delay = es_retry_delay(*attempt + 1, es_call_retry_after());
    es_warn("%s: %s; retrying in %.1f s (attempt %u of %d)", what,
            *es_call_error() ? es_call_error() : "temporary failure", delay,
            *attempt + 1, CALL_ATTEMPTS);
    (*attempt)++;
    return !es_stop_wait(e->stop, delay);
}

int es_engine_call_again(es_engine *e, int rc, unsigned *attempt,
                         const char *what)
{
    return again(e, rc, attempt, what);
}

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
    free(b);
}

static batch *batch_new(size_t cap, uint32_t dim)
{
    batch *b = calloc(1, sizeof *b);
    if (b == NULL)
        return NULL;
    b->items = calloc(cap, sizeof *b->items);
    b->status = calloc(cap, sizeof *b->status);
    b->blobs = calloc(cap, sizeof *b->blobs);
    b->vectors = calloc(cap * dim, sizeof *b->vectors);
    b->reasons = calloc(cap, REASON_LEN);
    if (!b->items || !b->status || !b->blobs || !b->vectors || !b->reasons) {
        batch_free(b);
        return NULL;
    }
    for (size_t i = 0; i < cap; i++)
        es_blob_init(&b->blobs[i]);
    return b;
}

static char *dup_opt(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

/* ---- failure bookkeeping ----------------------------------------------- */

static void run_fail(run *r, int status, const char *stage, const char *why)
{
    pthread_mutex_lock(&r->lock);
    if (r->failed_status == 0) {
        r->failed_status = status;
        snprintf(r->error, sizeof r->error, "%s: %s", stage,
                 why && *why ? why : status_name(status));
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
    if (r->has_ledger)
        es_ledger_fail(&r->ledger, c->id, c->ref, stage,
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

/* ---- stage 1: fetch ----------------------------------------------------- */

static void fetch_batch(run *r, batch *b)
{
    es_engine *e = r->e;
    const embsync_source_ops *ops = &e->source->module->ops.source;
    /* Only upserts have content; deletes ride along untouched so the store
     * stage applies everything in the order the source gave it. */
    size_t *map = malloc(b->n * sizeof *map);
    embsync_change *sel = malloc(b->n * sizeof *sel);
    embsync_blob *blobs = malloc(b->n * sizeof *blobs);
    int *status = malloc(b->n * sizeof *status);
    char *reasons = calloc(b->n, REASON_LEN);
    if (!map || !sel || !blobs || !status || !reasons) {
        run_fail(r, EMBSYNC_FAILED, "fetch", "out of memory");
        goto out;
    }
    size_t m = 0;
    for (size_t i = 0; i < b->n; i++) {
        b->status[i] = EMBSYNC_OK;
        if (b->items[i].op == EMBSYNC_OP_UPSERT) {
            map[m] = i;
            sel[m] = b->items[i];
            es_blob_init(&blobs[m]);
            m++;
        }
    }
    if (m == 0)
        goto out;
    unsigned attempt = 1;
    int rc;
    do {
        for (size_t k = 0; k < m; k++) {
            es_blob_release(&blobs[k]);
            status[k] = EMBSYNC_OK;
        }
        es_call_begin();
        es_call_item_errors(reasons, m, REASON_LEN);
        rc = ops->fetch(e->source->state, r->collection, m, sel, blobs, status);
        es_call_item_errors(NULL, 0, 0);
    } while (again(e, rc, &attempt, "fetch"));
    if (rc != EMBSYNC_OK) {
        for (size_t k = 0; k < m; k++)
            es_blob_release(&blobs[k]);
        run_fail(r, rc, "fetch", es_call_error());
        goto out;
    }
    for (size_t k = 0; k < m; k++) {
        size_t i = map[k];
        b->blobs[i] = blobs[k];
        b->status[i] = status[k];
        memcpy(b->reasons + i * REASON_LEN, reasons + k * REASON_LEN,
               REASON_LEN);
        if (status[k] == EMBSYNC_OK && blobs[k].data == NULL) {
            b->status[i] = EMBSYNC_ITEM_FAILED;
            snprintf(b->reasons + i * REASON_LEN, REASON_LEN,
                     "source returned no content");
        }
        if (b->status[i] != EMBSYNC_OK)
            item_failed(r, b, i, "fetch");
    }
out:
    free(map);
    free(sel);
    free(blobs);
    free(status);
    free(reasons);
}

/* ---- stage 2: embed ----------------------------------------------------- */

static int vector_ok(const float *v, uint32_t dim, int normalized)
{
    double norm = 0;
    for (uint32_t d = 0; d < dim; d++) {
        if (!isfinite(v[d]))
            return 0;
        norm += (double)v[d] * v[d];
    }
    return !normalized || fabs(norm - 1.0) < 1e-3;
}

static void embed_batch(run *r, batch *b)
{
    es_engine *e = r->e;
    const embsync_embedder_ops *ops = &e->embedder->module->ops.embedder;
    uint32_t dim = e->model.dim;
    size_t *map = malloc(b->n * sizeof *map);
    embsync_blob *inputs = malloc(b->n * sizeof *inputs);
    int *status = malloc(b->n * sizeof *status);
    float *vectors = malloc(b->n * dim * sizeof *vectors);
    char *reasons = calloc(b->n, REASON_LEN);
    if (!map || !inputs || !status || !vectors || !reasons) {
        run_fail(r, EMBSYNC_FAILED, "embed", "out of memory");
        goto out;
    }
    size_t m = 0;
    for (size_t i = 0; i < b->n; i++) {
        if (b->items[i].op == EMBSYNC_OP_UPSERT && b->status[i] == EMBSYNC_OK) {
            map[m] = i;
            inputs[m] = b->blobs[i];
            m++;
        }
    }
    if (m == 0)
        goto out;
    unsigned attempt = 1;
    int rc;
    do {
        for (size_t k = 0; k < m; k++)
            status[k] = EMBSYNC_OK;
        es_call_begin();
        es_call_item_errors(reasons, m, REASON_LEN);
        rc = ops->embed_images(e->embedder->state, m, inputs, vectors, status);
        es_call_item_errors(NULL, 0, 0);
    } while (again(e, rc, &attempt, "embed"));
    if (rc != EMBSYNC_OK) {
        run_fail(r, rc, "embed", es_call_error());
        goto out;
    }
    int normalized = (e->model.flags & EMBSYNC_MODEL_NORMALIZED) != 0;
    for (size_t k = 0; k < m; k++) {
        size_t i = map[k];
        b->status[i] = status[k];
        memcpy(b->reasons + i * REASON_LEN, reasons + k * REASON_LEN,
               REASON_LEN);
        if (status[k] == EMBSYNC_OK) {
            /* Never let a broken vector reach the store. */
            if (!vector_ok(vectors + k * dim, dim, normalized)) {
                b->status[i] = EMBSYNC_ITEM_FAILED;
                snprintf(b->reasons + i * REASON_LEN, REASON_LEN,
                         "embedder returned a non-finite or non-unit vector");
            } else {
                memcpy(b->vectors + i * dim, vectors + k * dim,
                       dim * sizeof *vectors);
            }
        }
        if (b->status[i] != EMBSYNC_OK)
            item_failed(r, b, i, "embed");
        /* The content is no longer needed: free it early. */
        es_blob_release(&b->blobs[i]);
    }
out:
    free(map);
    free(inputs);
    free(status);
    free(vectors);
    free(reasons);
}

/* ---- stage 3: store, then acknowledge ---------------------------------- */

static int store_batch(run *r, batch *b)
{
    es_engine *e = r->e;
    const embsync_store_ops *st = &e->store->module->ops.store;
    const embsync_source_ops *src = &e->source->module->ops.source;
    uint32_t dim = e->model.dim;
    const char *into = r->opts->store_as != NULL ? r->opts->store_as
                                                 : r->collection;
    embsync_point *points = malloc(b->n * sizeof *points);
    uint64_t *ids = malloc(b->n * sizeof *ids);
    embsync_change *done = malloc(b->n * sizeof *done);
    int rc = EMBSYNC_OK;
    if (!points || !ids || !done) {
        run_fail(r, EMBSYNC_FAILED, "store", "out of memory");
        rc = EMBSYNC_FAILED;
        goto out;
    }
    size_t np = 0, nd = 0, nack = 0;
    uint64_t failed = 0, deferred = 0;
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
    /* Durably say what is about to reach the store, so that a crash before
     * the acknowledgement below can be resolved (inflight.h). */
    if (nack > 0 && r->has_pending &&
        es_inflight_record(&r->pending, nack, done) != 0) {
        run_fail(r, EMBSYNC_FAILED, "store",
                 "cannot record the batch in flight in the state directory");
        rc = EMBSYNC_FAILED;
        goto out;
    }
    unsigned attempt = 1;
    if (np > 0) {
        do {
            es_call_begin();
            rc = st->upsert(e->store->state, into, np, points);
        } while (again(e, rc, &attempt, "upsert"));
        if (rc != EMBSYNC_OK) {
            run_fail(r, rc, "upsert", es_call_error());
            goto out;
        }
    }
    if (nd > 0) {
        /* A deletion reaches every collection a reader may see. */
        const char *from[2] = {into, r->opts->remove_also};
        for (int k = 0; k < 2 && from[k] != NULL; k++) {
            attempt = 1;
            do {
                es_call_begin();
                rc = st->remove(e->store->state, from[k], nd, ids);
            } while (again(e, rc, &attempt, "remove"));
            if (rc != EMBSYNC_OK) {
                run_fail(r, rc, "remove", es_call_error());
                goto out;
            }
        }
    }
    /* The store has confirmed: only now may the source record it. */
    es_crashpoint("after-store");
    if (nack > 0) {
        attempt = 1;
        do {
            es_call_begin();
            rc = r->opts->on_stored != NULL
                     ? r->opts->on_stored(r->opts->on_stored_arg, nack, done)
                     : src->ack(e->source->state, r->collection, nack, done);
        } while (again(e, rc, &attempt, "ack"));
        if (rc != EMBSYNC_OK) {
            run_fail(r, rc, "ack", es_call_error());
            goto out;
        }
        if (r->has_ledger)
            for (size_t k = 0; k < nack; k++)
                es_ledger_clear(&r->ledger, done[k].id);
        if (r->has_pending && es_inflight_clear(&r->pending) != 0)
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
    return rc;
}

/* ---- threads ------------------------------------------------------------ */

/* A stop of the whole process, or of this collection from the control
 * port. */
static int stopping(run *r)
{
    if (es_stop_requested(r->e->stop))
        return 1;
    int mine = es_progress_stop_requested(&r->e->progress, r->collection);
    if (mine)
        r->stop_this = 1;
    return mine;
}

/* Fetch and embed stop taking new batches on a stop request; the store
 * stage finishes whatever reached it, so stored work is acknowledged. */
static int should_discard(run *r, int is_store_stage)
{
    if (run_failed(r))
        return 1;
    return !is_store_stage && stopping(r);
}

/* Latency of one stage's work on one batch, for /metrics. */
static void observe_stage(const char *stage, double started)
{
    char labels[48];
    snprintf(labels, sizeof labels, "stage=\"%s\"", stage);
    es_metric_observe("embsync_batch_duration_seconds", labels,
                      es_mono_now() - started);
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

static void *fetch_thread(void *arg)
{
    run *r = arg;
    batch *b;
    while ((b = es_queue_pop(&r->to_fetch)) != NULL) {
        int discard = should_discard(r, 0);
        if (!discard) {
            double t = es_mono_now();
            fetch_batch(r, b);
            observe_stage("fetch", t);
            queue_gauge("to_embed", &r->to_embed);
        }
        if (discard || es_queue_push(&r->to_embed, b) != 0) {
            batch_free(b);
            pthread_mutex_lock(&r->lock);
            r->finished++;
            pthread_cond_broadcast(&r->stored);
            pthread_mutex_unlock(&r->lock);
        }
    }
    es_queue_close(&r->to_embed);
    return NULL;
}

static void *embed_thread(void *arg)
{
    run *r = arg;
    batch *b;
    while ((b = es_queue_pop(&r->to_embed)) != NULL) {
        int discard = should_discard(r, 0);
        if (!discard) {
            double t = es_mono_now();
            embed_batch(r, b);
            observe_stage("embed", t);
            queue_gauge("to_store", &r->to_store);
        }
        if (discard || es_queue_push(&r->to_store, b) != 0) {
            batch_free(b);
            pthread_mutex_lock(&r->lock);
            r->finished++;
            pthread_cond_broadcast(&r->stored);
            pthread_mutex_unlock(&r->lock);
        }
    }
    es_queue_close(&r->to_store);
    return NULL;
}

static void *store_thread(void *arg)
{
    run *r = arg;
    batch *b;
    while ((b = es_queue_pop(&r->to_store)) != NULL) {
        if (!should_discard(r, 1)) {
            double t = es_mono_now();
            store_batch(r, b);
            observe_stage("store", t);
        }
        batch_free(b);
        pthread_mutex_lock(&r->lock);
        r->finished++;
        pthread_cond_broadcast(&r->stored);
        pthread_mutex_unlock(&r->lock);
    }
    return NULL;
}

/* ---- the sink the source streams into ----------------------------------- */

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
        if (c->op == EMBSYNC_OP_UPSERT && r->has_ledger &&
            !es_ledger_due(&r->ledger, c->id, (int64_t)time(NULL))) {
            r->waiting++;
            continue;
        }
        if (c->op != EMBSYNC_OP_UPSERT && c->op != EMBSYNC_OP_DELETE) {
            es_error("collection %s: source emitted item %llu with unknown op %d",
                     r->collection, (unsigned long long)c->id, c->op);
            return EMBSYNC_FAILED;
        }
        if (r->filling == NULL &&
            (r->filling = batch_new(e->batch_size, e->model.dim)) == NULL)
            return EMBSYNC_FAILED;
        batch *b = r->filling;
        embsync_change *dst = &b->items[b->n];
        *dst = (embsync_change){
            .abi = EMBSYNC_ABI_INIT(embsync_change),
            .id = c->id,
            .op = c->op,
            .ref = dup_opt(c->ref),
            .version = dup_opt(c->version),
            .payload = dup_opt(c->payload),
        };
        b->n++;
        if (b->n == e->batch_size && push_filling(r) != EMBSYNC_OK)
            return run_failed(r) ? run_failed(r) : EMBSYNC_FAILED;
    }
    return EMBSYNC_OK;
}

static void sink_set_total(embsync_change_sink *pub, uint64_t total)
{
    es_progress_set_total(&((sink *)pub)->r->e->progress, total);
}

/* ---- steps -------------------------------------------------------------- */

/* Step 2: the store collection matches the embedder, or is rebuilt. */
static int ensure_collection(es_engine *e, const char *collection,
                             es_run_result *res)
{
    const embsync_store_ops *st = &e->store->module->ops.store;
    embsync_collection_spec spec = {
        .abi = EMBSYNC_ABI_INIT(embsync_collection_spec),
        .dim = e->model.dim,
        .metric = e->model.metric,
        .identity = e->model.identity,
    };
    int result = 0, rc;
    unsigned attempt = 1;
    do {
        es_call_begin();
        rc = st->ensure(e->store->state, collection, &spec, &result);
    } while (again(e, rc, &attempt, "ensure collection"));
    if (rc != EMBSYNC_OK)
        return rc;
    if (result == EMBSYNC_ENSURE_ADOPTED)
        es_info("collection %s: adopted the store's existing collection "
                "(right size and metric, no model record) for %s; its points "
                "are kept", collection, e->model.identity);
    if (result != EMBSYNC_ENSURE_MISMATCH) {
        /* An operator's rebuild, or one an earlier run left half done. */
        int forced = e->force_rebuild != NULL &&
                     strcmp(e->force_rebuild, collection) == 0;
        if (!forced && !es_rebuild_pending(e, collection))
            return EMBSYNC_OK;
        char why[256];
        if (es_rebuild_unsupported(e, why, sizeof why) != NULL) {
            snprintf(res->error, sizeof res->error, "rebuild: %s", why);
            return EMBSYNC_FAILED;
        }
        return es_rebuild_collection(e, collection, res);
    }

    char why[256];
    const char *in_place =
        e->rebuild_in_place ? "rebuild_beside = false"
                            : es_rebuild_unsupported(e, why, sizeof why);
    es_warn("collection %s: the store holds vectors of another model or "
            "dimension (%s); rebuilding it for %s%s%s",
            collection, *es_call_error() ? es_call_error() : "mismatch",
            e->model.identity, in_place ? " in place, search answering "
            "nothing until it is done: " : " beside the live one",
            in_place ? in_place : "");
    if (in_place == NULL)
        return es_rebuild_collection(e, collection, res);
    const embsync_source_ops *src = &e->source->module->ops.source;
    if (src->reset == NULL) {
        snprintf(res->error, sizeof res->error,
                 "source plugin cannot re-list a collection (no reset)");
        return EMBSYNC_FAILED;
    }
    /* The source forgets first, durably, then the store drops: a crash in
     * between leaves a source that re-lists everything and a store that
     * still mismatches (so the next run rebuilds again), never a source
     * that trusts a store which has lost its vectors. */
    attempt = 1;
    do {
        es_call_begin();
        rc = src->reset(e->source->state, collection);
    } while (again(e, rc, &attempt, "reset source"));
    if (rc != EMBSYNC_OK)
        return rc;
    es_crashpoint("rebuild-between");
    attempt = 1;
    do {
        es_call_begin();
        rc = st->drop(e->store->state, collection);
    } while (again(e, rc, &attempt, "drop collection"));
    if (rc != EMBSYNC_OK)
        return rc;
    attempt = 1;
    do {
        es_call_begin();
        rc = st->ensure(e->store->state, collection, &spec, &result);
    } while (again(e, rc, &attempt, "re-create collection"));
    if (rc == EMBSYNC_OK && result == EMBSYNC_ENSURE_MISMATCH) {
        snprintf(res->error, sizeof res->error,
                 "ensure collection: still mismatched after drop");
        return EMBSYNC_FAILED;
    }
    res->rebuilt = 1;
    return rc;
}

/* Before changes(): settle what an interrupted run left on its way to the
 * store (inflight.h). */
static int resolve_pending(es_engine *e, run *r, es_run_result *res)
{
    es_inflight_outcome out;
    unsigned attempt = 1;
    int rc;
    do {
        rc = es_inflight_resolve(&r->pending, r->collection, e->source,
                                 e->store, r->has_ledger ? &r->ledger : NULL,
                                 &out);
    } while (again(e, rc, &attempt, "resolve the items left in flight"));
    if (rc != EMBSYNC_OK) {
        snprintf(res->error, sizeof res->error,
                 "cannot resolve the items an interrupted run left in flight "
                 "(kept for the next run): %s",
                 *es_call_error() ? es_call_error() : status_name(rc));
        return rc;
    }
    if (out.unchecked)
        es_warn("collection %s: %zu item(s) were on their way to the store "
                "when the last run was cut short; the source cannot say which "
                "still exist (no exists()), so a vector of one deleted since "
                "can only be found by reconciliation",
                r->collection, out.recorded);
    else if (out.recorded > 0)
        es_info("collection %s: resolved %zu item(s) an interrupted run left "
                "in flight: %zu still exist (emitted again), %zu gone "
                "(removed from the store)",
                r->collection, out.recorded, out.present, out.removed);
    if (!r->has_ledger)
        return EMBSYNC_OK;
    size_t forgotten;
    /* Not worth failing the run for: the entries wait for the next one. */
    if (es_inflight_prune_ledger(r->collection, e->source, e->store,
                                 &r->ledger, &forgotten) != EMBSYNC_OK)
        es_warn("collection %s: cannot check the failed-items ledger against "
                "the source: %s", r->collection,
                *es_call_error() ? es_call_error() : "failed");
    else if (forgotten > 0)
        es_info("collection %s: %zu failed item(s) no longer exist at the "
                "source; dropped from the failed-items ledger",
                r->collection, forgotten);
    return EMBSYNC_OK;
}

/* Steps 3–5: stream the changes through the pipeline. */
int es_engine_stream(es_engine *e, const char *collection,
                     es_change_producer produce, void *arg, es_run_result *res)
{
    return es_engine_stream_opts(e, collection, NULL, produce, arg, res);
}

int es_engine_stream_opts(es_engine *e, const char *collection,
                          const es_stream_opts *opts,
                          es_change_producer produce, void *arg,
                          es_run_result *res)
{
    static const es_stream_opts plain = {0};
    run r = {.e = e, .collection = collection,
             .opts = opts != NULL ? opts : &plain};
    if (e->state_dir != NULL) {
        if (es_ledger_open(&r.ledger, e->state_dir, collection) == 0)
            r.has_ledger = 1;
        else
            es_warn("collection %s: cannot open the failed-items ledger in %s",
                    collection, e->state_dir);
        int rc = EMBSYNC_FAILED;
        if (es_inflight_open(&r.pending, e->state_dir, collection) != 0) {
            snprintf(res->error, sizeof res->error,
                     "cannot open the in-flight record in %s", e->state_dir);
        } else {
            r.has_pending = 1;
            rc = resolve_pending(e, &r, res);
        }
        /* The record is cleared: the ledger must not keep the gone items
         * even if this run dies next. */
        if (rc == EMBSYNC_OK && r.has_ledger && es_ledger_save(&r.ledger) != 0)
            es_warn("collection %s: cannot save the failed-items ledger",
                    collection);
        if (rc != EMBSYNC_OK) {
            if (r.has_pending)
                es_inflight_close(&r.pending);
            if (r.has_ledger)
                es_ledger_close(&r.ledger);
            return rc;
        }
    }
    unsigned depth = e->queue_depth ? e->queue_depth : DEFAULT_QUEUE_DEPTH;
    pthread_mutex_init(&r.lock, NULL);
    pthread_cond_init(&r.stored, NULL);
    es_queue_init(&r.to_fetch, depth);
    es_queue_init(&r.to_embed, depth);
    es_queue_init(&r.to_store, depth);

    pthread_t threads[3];
    pthread_create(&threads[0], NULL, fetch_thread, &r);
    pthread_create(&threads[1], NULL, embed_thread, &r);
    pthread_create(&threads[2], NULL, store_thread, &r);

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
    for (int i = 0; i < 3; i++)
        pthread_join(threads[i], NULL);
    /* The queues are drained: the gauges must not keep the last sample. */
    queue_gauge("to_embed", &r.to_embed);
    queue_gauge("to_store", &r.to_store);

    res->embedded = r.embedded;
    res->deleted = r.deleted;
    res->failed = r.failed;
    res->deferred = r.deferred;
    res->waiting = r.waiting;
    if (r.has_ledger) {
        if (es_ledger_save(&r.ledger) != 0)
            es_warn("collection %s: cannot save the failed-items ledger",
                    collection);
        es_ledger_close(&r.ledger);
    }
    if (r.has_pending)
        es_inflight_close(&r.pending);
    if (r.failed_status != 0) {
        rc = r.failed_status;
        snprintf(res->error, sizeof res->error, "%s", r.error);
    } else if (rc != EMBSYNC_OK) {
        snprintf(res->error, sizeof res->error, "changes: %s",
                 *changes_error ? changes_error
                 : es_stop_requested(e->stop) || r.stop_this ? "stopped"
                                                             : status_name(rc));
    } else if (es_stop_requested(e->stop) || r.stop_this) {
        rc = EMBSYNC_RETRY;
        snprintf(res->error, sizeof res->error, "stopped");
    }
    if (r.failed_status == 0 && (es_stop_requested(e->stop) || r.stop_this))
        res->stopped = 1;
    es_queue_destroy(&r.to_fetch);
    es_queue_destroy(&r.to_embed);
    es_queue_destroy(&r.to_store);
    pthread_cond_destroy(&r.stored);
    pthread_mutex_destroy(&r.lock);
    return rc;
}

/* The change stream of a normal run: the source's changes(). */
static int source_changes(void *arg, embsync_change_sink *to)
{
    es_engine *e = ((void **)arg)[0];
    const char *collection = ((void **)arg)[1];
    return e->source->module->ops.source.changes(e->source->state, collection,
                                                 to);
}

int es_engine_ensure(es_engine *e, const char *collection, es_run_result *res)
{
    return ensure_collection(e, collection, res);
}

static int stream_changes(es_engine *e, const char *collection,
                          es_run_result *res)
{
    void *arg[2] = {e, (void *)collection};
    return es_engine_stream(e, collection, source_changes, arg, res);
}

static void record_metrics(const char *collection, const es_run_result *res)
{
    char labels[1024];
    const struct { const char *result; uint64_t n; } counts[] = {
        {"embedded", res->embedded}, {"deleted", res->deleted},
        {"failed", res->failed}, {"deferred", res->deferred},
    };
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        es_metric_labels(labels, sizeof labels, "collection", collection,
                         "result", counts[i].result, NULL);
        es_metric_add("embsync_items_total", labels, (double)counts[i].n);
    }
    es_metric_labels(labels, sizeof labels, "collection", collection, NULL);
    es_metric_set("embsync_run_duration_seconds", labels, res->seconds);
    if (res->status == EMBSYNC_OK)
        es_metric_set("embsync_last_success_timestamp_seconds", labels,
                      (double)time(NULL));
    es_metric_labels(labels, sizeof labels, "collection", collection,
                     "status", status_name(res->status), NULL);
    es_metric_add("embsync_runs_total", labels, 1);
}

static void save_status(es_engine *e, const char *collection,
                        const es_run_result *res, int64_t started_at)
{
    es_collection_status st = {0};
    snprintf(st.name, sizeof st.name, "%s", collection);
    st.last_run_start = started_at;
    st.last_run_end = (int64_t)time(NULL);
    st.last_status = res->status;
    if (res->status == EMBSYNC_OK)
        st.last_success = st.last_run_end;
    snprintf(st.last_error, sizeof st.last_error, "%s", res->error);
    st.embedded = res->embedded;
    st.deleted = res->deleted;
    st.failed = res->failed;
    st.deferred = res->deferred;
    st.waiting = res->waiting;
    st.seconds = res->seconds;
    es_ledger ledger;
    if (es_ledger_open(&ledger, e->state_dir, collection) == 0) {
        es_ledger_entry entry;
        for (size_t i = 0; es_ledger_entry_at(&ledger, i, &entry) == 0; i++) {
            st.ledger_size++;
            if (st.oldest_failed == 0 || entry.first_failed < st.oldest_failed)
                st.oldest_failed = entry.first_failed;
        }
        es_ledger_close(&ledger);
    }
    if (es_status_save(e->state_dir, &st) != 0)
        es_warn("collection %s: cannot record its status in %s", collection,
                e->state_dir);
    /* Only a finished run clears the mark; a crash leaves it for resume. */
    if (res->status != EMBSYNC_RETRY || !es_stop_requested(e->stop))
        es_status_clear_inflight(e->state_dir);
}

int es_engine_stop_collection(es_engine *e, const char *collection)
{
    return es_progress_request_stop(&e->progress, collection);
}

void es_engine_progress(es_engine *e, es_progress_view *out)
{
    es_progress_read(&e->progress, out);
}

int es_engine_sync(es_engine *e, const char *collection, es_run_result *res)
{
    const embsync_source_ops *src = &e->source->module->ops.source;
    memset(res, 0, sizeof *res);
    double start = es_mono_now();
    int64_t started_at = (int64_t)time(NULL);
    es_progress_start(&e->progress, collection, ES_STAGE_BEGIN);
    if (e->state_dir != NULL)
        es_status_mark_inflight(e->state_dir, collection);

    unsigned attempt = 1;
    int rc;
    do {
        es_call_begin();
        rc = src->begin(e->source->state, collection);
    } while (again(e, rc, &attempt, "begin"));
    if (rc == EMBSYNC_SKIP) {
        res->status = EMBSYNC_SKIP;
        es_info("collection %s: skipped (in progress elsewhere)", collection);
        es_progress_ended(&e->progress, collection, EMBSYNC_SKIP);
        es_progress_set_stage(&e->progress, ES_STAGE_IDLE);
        if (e->state_dir != NULL)
            es_status_clear_inflight(e->state_dir);
        return EMBSYNC_SKIP;
    }
    if (rc != EMBSYNC_OK) {
        res->status = rc;
        snprintf(res->error, sizeof res->error, "begin: %s",
                 *es_call_error() ? es_call_error() : status_name(rc));
        goto report;
    }

    es_progress_set_stage(&e->progress, ES_STAGE_ENSURE);
    /* A rebuild an earlier run left half done is settled first. */
    rc = es_rebuild_settle(e, collection, res);
    if (rc == EMBSYNC_OK)
        rc = ensure_collection(e, collection, res);
    if (rc != EMBSYNC_OK && res->error[0] == '\0')
        snprintf(res->error, sizeof res->error, "ensure collection: %s",
                 *es_call_error() ? es_call_error() : status_name(rc));
    if (rc == EMBSYNC_OK) {
        /* A rebuild's counts are this run's too. */
        es_run_result rebuild = *res;
        es_progress_set_stage(&e->progress, ES_STAGE_SYNC);
        rc = stream_changes(e, collection, res);
        res->embedded += rebuild.embedded;
        res->deleted += rebuild.deleted;
        res->failed += rebuild.failed;
        res->deferred += rebuild.deferred;
        res->waiting += rebuild.waiting;
    }

    es_progress_set_stage(&e->progress, ES_STAGE_END);
    /* end() runs on every path after a successful begin(). */
    es_call_begin();
    int end_rc = src->end(e->source->state, collection, rc);
    es_progress_end_answer(&e->progress, end_rc);
    if (end_rc != EMBSYNC_OK && rc == EMBSYNC_OK) {
        rc = end_rc;
        snprintf(res->error, sizeof res->error, "end: %s",
                 *es_call_error() ? es_call_error() : status_name(end_rc));
    } else if (end_rc != EMBSYNC_OK) {
        es_warn("collection %s: end: %s", collection,
                *es_call_error() ? es_call_error() : status_name(end_rc));
    }
    res->status = rc;
    /* A stop asked for (signal, control port) is not a failure: what was
     * stored is acknowledged and the rest waits for the next run. */
    if (rc == EMBSYNC_OK)
        res->stopped = 0;
    else if (rc == EMBSYNC_RETRY && es_stop_requested(e->stop))
        res->stopped = 1;

report:
    res->seconds = es_mono_now() - start;
    es_progress_ended(&e->progress, collection, res->status);
    es_progress_set_stage(&e->progress, ES_STAGE_IDLE);
    record_metrics(collection, res);
    if (e->state_dir != NULL)
        save_status(e, collection, res, started_at);
    /* The counts again as fields of their own, for JSON log readers. */
    const es_log_field fields[] = {
        ES_FIELD_STR("collection", collection),
        ES_FIELD_STR("status", status_name(res->status)),
        ES_FIELD_U64("embedded", res->embedded),
        ES_FIELD_U64("deleted", res->deleted),
        ES_FIELD_U64("failed", res->failed),
        ES_FIELD_U64("deferred", res->deferred),
        ES_FIELD_U64("waiting", res->waiting),
        ES_FIELD_U64("rebuilt", res->rebuilt),
        ES_FIELD_DBL("duration", res->seconds),
    };
    const size_t n_fields = sizeof fields / sizeof fields[0];
    if (res->stopped)
        es_log_fields(EMBSYNC_LOG_INFO, NULL, fields, n_fields,
                "collection %s: stopped on request after %llu embedded, "
                "%llu deleted in %.2f s; the next run goes on from there",
                collection, (unsigned long long)res->embedded,
                (unsigned long long)res->deleted, res->seconds);
    else if (res->status == EMBSYNC_OK)
        es_log_fields(EMBSYNC_LOG_INFO, NULL, fields, n_fields,
                "collection %s: %llu embedded, %llu deleted, %llu failed, "
                "%llu deferred, %llu waiting%s in %.2f s",
                collection, (unsigned long long)res->embedded,
                (unsigned long long)res->deleted,
                (unsigned long long)res->failed,
                (unsigned long long)res->deferred,
                (unsigned long long)res->waiting,
                res->rebuilt ? " (rebuilt)" : "", res->seconds);
    else
        es_log_fields(EMBSYNC_LOG_ERROR, NULL, fields, n_fields,
                 "collection %s: run %s after %llu embedded, %llu deleted "
                 "in %.2f s: %s",
                 collection, status_name(res->status),
                 (unsigned long long)res->embedded,
                 (unsigned long long)res->deleted, res->seconds, res->error);
    return res->status;
}

/* ---- passes ------------------------------------------------------------- */

typedef struct name_list {
    char **names;
    size_t n, cap;
    int oom;
} name_list;

static int collect_name(void *arg, const char *name)
{
    name_list *l = arg;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        char **grown = realloc(l->names, cap * sizeof *grown);
        if (grown == NULL) {
            l->oom = 1;
            return 1;
        }
        l->names = grown;
        l->cap = cap;
    }
    if ((l->names[l->n] = strdup(name)) == NULL) {
        l->oom = 1;
        return 1;
    }
    l->n++;
    return 0;
}

int es_engine_pass(es_engine *e)
{
    const embsync_source_ops *src = &e->source->module->ops.source;
    name_list list = {0};
    unsigned attempt = 1;
    int rc;
    do {
        for (size_t i = 0; i < list.n; i++)
            free(list.names[i]);
        list.n = 0;
        es_call_begin();
        rc = src->list_collections(e->source->state, collect_name, &list);
    } while (again(e, rc, &attempt, "list collections"));
    if (rc != EMBSYNC_OK || list.oom) {
        es_error("cannot list collections: %s",
                 list.oom ? "out of memory"
                 : *es_call_error() ? es_call_error() : status_name(rc));
        for (size_t i = 0; i < list.n; i++)
            free(list.names[i]);
        free(list.names);
        return -1;
    }
    /* A run cut short by a crash or a stop goes first this time. */
    char inflight[256];
    if (e->state_dir != NULL &&
        es_status_inflight(e->state_dir, inflight, sizeof inflight)) {
        for (size_t i = 1; i < list.n; i++) {
            if (strcmp(list.names[i], inflight) == 0) {
                char *first = list.names[i];
                memmove(&list.names[1], &list.names[0], i * sizeof *list.names);
                list.names[0] = first;
                es_info("resuming collection %s first (interrupted run)",
                        inflight);
                break;
            }
        }
    }
    int failed = 0, not_started = 0;
    for (size_t i = 0; i < list.n; i++) {
        if (es_stop_requested(e->stop)) {
            not_started++;
            continue;
        }
        es_run_result res;
        int st = es_engine_sync(e, list.names[i], &res);
        if (st != EMBSYNC_OK && st != EMBSYNC_SKIP && !res.stopped)
            failed++;
        /* A refused credential or bad configuration will not be better for
         * the next collection. */
        if (st == EMBSYNC_FATAL) {
            failed += (int)(list.n - i - 1);
            break;
        }
    }
    if (not_started > 0)
        es_info("stop requested: %d collection(s) not started; the next run "
                "takes them", not_started);
    for (size_t i = 0; i < list.n; i++)
        free(list.names[i]);
    free(list.names);
    return failed;
}

int es_engine_init(es_engine *e, es_instance *source, es_instance *embedder,
                   es_instance *store, size_t batch_size, es_stop *stop,
                   char *err, size_t errlen)
{
    memset(e, 0, sizeof *e);
    e->source = source;
    e->embedder = embedder;
    e->store = store;
    e->batch_size = batch_size ? batch_size : 32;
    e->stop = stop;
    es_progress_init(&e->progress);
    e->model.abi = (embsync_abi)EMBSYNC_ABI_INIT(embsync_model_info);
    es_call_begin();
    int rc = embedder->module->ops.embedder.info(embedder->state, &e->model);
    e->model.abi = (embsync_abi)EMBSYNC_ABI_INIT(embsync_model_info);
    e->model.identity[sizeof e->model.identity - 1] = '\0';
    if (rc != EMBSYNC_OK) {
        snprintf(err, errlen, "embedder %s: cannot describe its model: %s",
                 embedder->module->desc.name,
                 *es_call_error() ? es_call_error() : status_name(rc));
        return rc;
    }
    if (e->model.dim == 0 || e->model.dim > 65536 ||
        e->model.identity[0] == '\0') {
        snprintf(err, errlen,
                 "embedder %s: invalid model description (dim %u, identity '%s')",
                 embedder->module->desc.name, e->model.dim, e->model.identity);
        return EMBSYNC_FATAL;
    }
    return EMBSYNC_OK;
}

void es_engine_destroy(es_engine *e)
{
    es_progress_destroy(&e->progress);
}
