#include <config.h>

#include "collection_sync.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calls.h"
#include "crashpoint.h"
#include "inflight.h"
#include "log.h"
#include "pipeline.h"
#include "rebuild.h"
#include "run_record.h"

/* One call about a whole collection, for es_call_retry(). */
typedef struct collection_call {
    es_engine *e;
    const char *collection;
    const embsync_collection_spec *spec;
    int *result;
} collection_call;

static int begin_once(void *arg)
{
    const collection_call *c = arg;
    return es_source_begin(c->e->source, c->collection);
}

static int ensure_once(void *arg)
{
    const collection_call *c = arg;
    return es_store_ensure(c->e->store, c->collection, c->spec, c->result);
}

static int reset_once(void *arg)
{
    const collection_call *c = arg;
    return es_source_reset(c->e->source, c->collection);
}

static int drop_once(void *arg)
{
    const collection_call *c = arg;
    return es_store_drop(c->e->store, c->collection);
}

/* ---- ensure ------------------------------------------------------------- */

void es_engine_collection_spec(const es_engine *e,
                               embsync_collection_spec *spec)
{
    *spec = (embsync_collection_spec){
        .abi = EMBSYNC_ABI_INIT(embsync_collection_spec),
        .dim = e->model.dim,
        .metric = e->model.metric,
        .identity = e->model.identity,
    };
}

/* The store collection matches the embedder, or is rebuilt: beside the
 * live one when the plugins can (rebuild.h), else in place. */
static int ensure_collection(es_engine *e, const char *collection,
                             es_run_result *res)
{
    embsync_collection_spec spec;
    es_engine_collection_spec(e, &spec);
    int result = 0;
    collection_call c = {e, collection, &spec, &result};
    int rc = es_call_retry(e->stop, "ensure collection", ensure_once, &c);
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
    if (e->source->module->ops.source.reset == NULL) {
        snprintf(res->error, sizeof res->error,
                 "source plugin cannot re-list a collection (no reset)");
        return EMBSYNC_FAILED;
    }
    /* The source forgets first, durably, then the store drops: a crash in
     * between leaves a source that re-lists everything and a store that
     * still mismatches (so the next run rebuilds again), never a source
     * that trusts a store which has lost its vectors. */
    rc = es_call_retry(e->stop, "reset source", reset_once, &c);
    if (rc != EMBSYNC_OK)
        return rc;
    es_crashpoint("rebuild-between");
    rc = es_call_retry(e->stop, "drop collection", drop_once, &c);
    if (rc != EMBSYNC_OK)
        return rc;
    rc = es_call_retry(e->stop, "re-create collection", ensure_once, &c);
    if (rc == EMBSYNC_OK && result == EMBSYNC_ENSURE_MISMATCH) {
        snprintf(res->error, sizeof res->error,
                 "ensure collection: still mismatched after drop");
        return EMBSYNC_FAILED;
    }
    res->rebuilt = 1;
    return rc;
}

int es_engine_ensure(es_engine *e, const char *collection, es_run_result *res)
{
    return ensure_collection(e, collection, res);
}

/* ---- stream ------------------------------------------------------------- */

typedef struct resolve_call {
    es_engine *e;
    es_inflight *pending;
    const char *collection;
    const char *const *stores;
    es_ledger *ledger;
    es_inflight_outcome *out;
} resolve_call;

static int resolve_once(void *arg)
{
    const resolve_call *c = arg;
    return es_inflight_resolve_in(c->pending, c->collection, c->stores,
                                  c->e->source, c->e->store, c->ledger, c->out);
}

/* Before changes(): settle what an interrupted run left on its way to the
 * store (inflight.h), then drop ledger entries of items that are gone. */
static int resolve_pending(es_engine *e, es_inflight *pending,
                           const char *collection, const char *const *stores,
                           es_ledger *ledger, es_run_result *res)
{
    es_inflight_outcome out;
    resolve_call c = {e, pending, collection, stores, ledger, &out};
    int rc = es_call_retry(e->stop, "resolve the items left in flight",
                           resolve_once, &c);
    if (rc != EMBSYNC_OK) {
        snprintf(res->error, sizeof res->error,
                 "cannot resolve the items an interrupted run left in flight "
                 "(kept for the next run): %s", es_call_reason(rc));
        return rc;
    }
    if (out.unchecked)
        es_warn("collection %s: %zu item(s) were on their way to the store "
                "when the last run was cut short; the source cannot say which "
                "still exist (no exists()), so a vector of one deleted since "
                "can only be found by reconciliation",
                collection, out.recorded);
    else if (out.recorded > 0)
        es_info("collection %s: resolved %zu item(s) an interrupted run left "
                "in flight: %zu still exist (emitted again), %zu gone "
                "(removed from the store)",
                collection, out.recorded, out.present, out.removed);
    if (ledger == NULL)
        return EMBSYNC_OK;
    size_t forgotten;
    /* Not worth failing the run for: the entries wait for the next one. */
    if (es_inflight_prune_ledger(collection, e->source, e->store, ledger,
                                 &forgotten) != EMBSYNC_OK)
        es_warn("collection %s: cannot check the failed-items ledger against "
                "the source: %s", collection,
                *es_call_error() ? es_call_error() : "failed");
    else if (forgotten > 0)
        es_info("collection %s: %zu failed item(s) no longer exist at the "
                "source; dropped from the failed-items ledger",
                collection, forgotten);
    return EMBSYNC_OK;
}

int es_engine_stream_opts(es_engine *e, const char *collection,
                          const es_stream_opts *opts,
                          es_change_producer produce, void *arg,
                          es_run_result *res)
{
    /* The run's record when a sync or reconciliation holds one, else one
     * for this stream alone: the ledger is opened once per run either way. */
    es_run_record own, *rec = es_run_record_of(e, collection);
    if (rec == NULL) {
        rec = &own;
        es_run_record_open(rec, e, collection);
    }
    es_ledger *ledger = es_run_record_ledger(rec);
    es_inflight pending;
    int has_pending = 0, rc = EMBSYNC_OK;
    if (e->state_dir != NULL) {
        const char *stores[3] = {collection, NULL, NULL};
        if (opts != NULL && opts->store_as != NULL)
            stores[0] = opts->store_as;
        if (opts != NULL && opts->remove_also != NULL)
            stores[1] = opts->remove_also;
        if (es_inflight_open(&pending, e->state_dir, collection) != 0) {
            snprintf(res->error, sizeof res->error,
                     "cannot open the in-flight record in %s", e->state_dir);
            rc = EMBSYNC_FAILED;
        } else {
            has_pending = 1;
            rc = resolve_pending(e, &pending, collection, stores, ledger, res);
        }
        /* The record is cleared: the ledger must not keep the gone items
         * even if this run dies next. */
        if (rc == EMBSYNC_OK)
            es_run_record_save_ledger(rec);
    }
    if (rc == EMBSYNC_OK) {
        rc = es_pipeline_run(e, collection, opts, ledger,
                             has_pending ? &pending : NULL, produce, arg, res);
        es_run_record_save_ledger(rec);
    }
    if (has_pending)
        es_inflight_close(&pending);
    if (rec == &own)
        es_run_record_close(rec);
    return rc;
}

/* The change stream of a normal run: the source's changes(). */
static int source_changes(void *arg, embsync_change_sink *to)
{
    const collection_call *c = arg;
    return es_source_changes(c->e->source, c->collection, to);
}

int es_engine_stream(es_engine *e, const char *collection,
                     es_change_producer produce, void *arg, es_run_result *res)
{
    return es_engine_stream_opts(e, collection, NULL, produce, arg, res);
}

/* ---- one collection ------------------------------------------------------- */

int es_engine_sync(es_engine *e, const char *collection, es_run_result *res)
{
    memset(res, 0, sizeof *res);
    es_run_record rec;
    es_run_record_open(&rec, e, collection);
    es_progress_start(&e->progress, collection, ES_STAGE_BEGIN);
    es_run_record_mark(&rec);

    collection_call c = {.e = e, .collection = collection};
    int rc = es_call_retry(e->stop, "begin", begin_once, &c);
    if (rc == EMBSYNC_SKIP) {
        res->status = EMBSYNC_SKIP;
        es_info("collection %s: skipped (in progress elsewhere)", collection);
        es_progress_ended(&e->progress, collection, EMBSYNC_SKIP);
        es_progress_set_stage(&e->progress, ES_STAGE_IDLE);
        es_run_record_close(&rec);
        return EMBSYNC_SKIP;
    }
    if (rc != EMBSYNC_OK) {
        res->status = rc;
        snprintf(res->error, sizeof res->error, "begin: %s",
                 es_call_reason(rc));
        goto report;
    }

    es_progress_set_stage(&e->progress, ES_STAGE_ENSURE);
    /* A rebuild an earlier run left half done is settled first. */
    rc = es_rebuild_settle(e, collection, res);
    if (rc == EMBSYNC_OK)
        rc = ensure_collection(e, collection, res);
    if (rc != EMBSYNC_OK && res->error[0] == '\0')
        snprintf(res->error, sizeof res->error, "ensure collection: %s",
                 es_call_reason(rc));
    if (rc == EMBSYNC_OK) {
        /* A rebuild's counts are this run's too. */
        es_run_result rebuild = *res;
        es_progress_set_stage(&e->progress, ES_STAGE_SYNC);
        rc = es_engine_stream(e, collection, source_changes, &c, res);
        res->embedded += rebuild.embedded;
        res->deleted += rebuild.deleted;
        res->failed += rebuild.failed;
        res->deferred += rebuild.deferred;
        res->waiting += rebuild.waiting;
    }

    es_progress_set_stage(&e->progress, ES_STAGE_END);
    /* end() runs on every path after a successful begin(). */
    int end_rc = es_source_end(e->source, collection, rc);
    es_progress_end_answer(&e->progress, end_rc);
    if (end_rc != EMBSYNC_OK && rc == EMBSYNC_OK) {
        rc = end_rc;
        snprintf(res->error, sizeof res->error, "end: %s",
                 es_call_reason(end_rc));
    } else if (end_rc != EMBSYNC_OK) {
        es_warn("collection %s: end: %s", collection, es_call_reason(end_rc));
    }
    res->status = rc;
    /* A stop asked for (signal, control port) is not a failure: what was
     * stored is acknowledged and the rest waits for the next run. */
    if (rc == EMBSYNC_OK)
        res->stopped = 0;
    else if (rc == EMBSYNC_RETRY && es_stop_requested(e->stop))
        res->stopped = 1;

report:
    es_progress_ended(&e->progress, collection, res->status);
    es_progress_set_stage(&e->progress, ES_STAGE_IDLE);
    es_run_record_finish(&rec, res);
    return res->status;
}

/* ---- every collection ------------------------------------------------------ */

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

static void names_clear(name_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->names[i]);
    l->n = 0;
}

typedef struct list_call {
    es_instance *source;
    name_list *list;
} list_call;

static int list_once(void *arg)
{
    const list_call *c = arg;
    names_clear(c->list);
    return es_source_list_collections(c->source, collect_name, c->list);
}

int es_engine_list_collections(es_engine *e, char ***names, size_t *n)
{
    name_list list = {0};
    list_call c = {e->source, &list};
    int rc = es_call_retry(e->stop, "list collections", list_once, &c);
    if (rc != EMBSYNC_OK || list.oom) {
        es_error("cannot list collections: %s",
                 list.oom ? "out of memory" : es_call_reason(rc));
        names_clear(&list);
        free(list.names);
        return -1;
    }
    *names = list.names;
    *n = list.n;
    return 0;
}

void es_engine_names_free(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

int es_engine_pass(es_engine *e)
{
    char **names;
    size_t n;
    if (es_engine_list_collections(e, &names, &n) != 0)
        return -1;
    /* A run cut short by a crash or a stop goes first this time. */
    char inflight[256];
    if (es_run_record_interrupted(e->state_dir, inflight, sizeof inflight)) {
        for (size_t i = 1; i < n; i++) {
            if (strcmp(names[i], inflight) == 0) {
                char *first = names[i];
                memmove(&names[1], &names[0], i * sizeof *names);
                names[0] = first;
                es_info("resuming collection %s first (interrupted run)",
                        inflight);
                break;
            }
        }
    }
    int failed = 0, not_started = 0, others = 0;
    for (size_t i = 0; i < n; i++) {
        if (!es_shard_owns(&e->shard, names[i])) {
            others++;
            continue;
        }
        if (es_stop_requested(e->stop)) {
            not_started++;
            continue;
        }
        es_run_result res;
        int st = es_engine_sync(e, names[i], &res);
        if (st != EMBSYNC_OK && st != EMBSYNC_SKIP && !res.stopped)
            failed++;
        /* A refused credential or bad configuration will not be better for
         * the next collection. */
        if (st == EMBSYNC_FATAL) {
            failed += (int)(n - i - 1);
            break;
        }
    }
    if (not_started > 0)
        es_info("stop requested: %d collection(s) not started; the next run "
                "takes them", not_started);
    if (e->shard.n > 1)
        es_info("shard %u/%u: ran %zu of the source's %zu collection(s); the "
                "other %d belong to other shards", e->shard.k, e->shard.n,
                n - (size_t)others, n, others);
    es_engine_names_free(names, n);
    return failed;
}
