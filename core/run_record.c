#include <config.h>

#include "run_record.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "calls.h"
#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "status.h"

void es_run_record_open(es_run_record *r, es_engine *e, const char *collection)
{
    *r = (es_run_record){
        .e = e,
        .collection = collection,
        .start = es_mono_now(),
        .started_at = (int64_t)time(NULL),
        .outer = e->run,
    };
    if (e->state_dir != NULL) {
        if (es_ledger_open(&r->ledger, e->state_dir, collection) == 0)
            r->has_ledger = 1;
        else
            es_warn("collection %s: cannot open the failed-items ledger in %s",
                    collection, e->state_dir);
    }
    e->run = r;
}

es_run_record *es_run_record_of(es_engine *e, const char *collection)
{
    return e->run != NULL && strcmp(e->run->collection, collection) == 0
               ? e->run
               : NULL;
}

void es_run_record_mark(es_run_record *r)
{
    if (r->e->state_dir != NULL &&
        es_status_mark_inflight(r->e->state_dir, r->collection) == 0)
        r->marked = 1;
}

es_ledger *es_run_record_ledger(es_run_record *r)
{
    return r->has_ledger ? &r->ledger : NULL;
}

void es_run_record_save_ledger(es_run_record *r)
{
    if (r->has_ledger && es_ledger_save(&r->ledger) != 0)
        es_warn("collection %s: cannot save the failed-items ledger",
                r->collection);
}

int es_run_record_interrupted(const char *state_dir, char *out, size_t len)
{
    return state_dir != NULL && es_status_inflight(state_dir, out, len);
}

static void unmark(es_run_record *r)
{
    if (r->marked)
        es_status_clear_inflight(r->e->state_dir);
    r->marked = 0;
}

void es_run_record_close(es_run_record *r)
{
    if (r->has_ledger) {
        es_run_record_save_ledger(r);
        es_ledger_close(&r->ledger);
        r->has_ledger = 0;
    }
    unmark(r);
    if (r->e->run == r)
        r->e->run = r->outer;
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
                     "status", es_status_word(res->status), NULL);
    es_metric_add("embsync_runs_total", labels, 1);
}

static void save_status(es_run_record *r, const es_run_result *res)
{
    es_collection_status st = {0};
    snprintf(st.name, sizeof st.name, "%s", r->collection);
    st.last_run_start = r->started_at;
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
    es_ledger_entry entry;
    for (size_t i = 0;
         r->has_ledger && es_ledger_entry_at(&r->ledger, i, &entry) == 0; i++) {
        st.ledger_size++;
        if (st.oldest_failed == 0 || entry.first_failed < st.oldest_failed)
            st.oldest_failed = entry.first_failed;
    }
    if (es_status_save(r->e->state_dir, &st) != 0)
        es_warn("collection %s: cannot record its status in %s",
                r->collection, r->e->state_dir);
}

static void log_run(const char *collection, const es_run_result *res)
{
    /* The counts again as fields of their own, for JSON log readers. */
    const es_log_field fields[] = {
        ES_FIELD_STR("collection", collection),
        ES_FIELD_STR("status", es_status_word(res->status)),
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
                 collection, es_status_word(res->status),
                 (unsigned long long)res->embedded,
                 (unsigned long long)res->deleted, res->seconds, res->error);
}

void es_run_record_finish(es_run_record *r, es_run_result *res)
{
    res->seconds = es_mono_now() - r->start;
    record_metrics(r->collection, res);
    if (r->e->state_dir != NULL) {
        es_run_record_save_ledger(r);
        save_status(r, res);
    }
    /* Only a finished run clears the mark; a crash or a stop of the process
     * leaves it for resume. */
    if (res->status == EMBSYNC_RETRY && es_stop_requested(r->e->stop))
        r->marked = 0;
    es_run_record_close(r);
    log_run(r->collection, res);
}
