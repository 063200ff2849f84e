#include <config.h>

#include "reconcile.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "calls.h"
#include "change_spool.h"
#include "clock.h"
#include "collection_sync.h"
#include "ledger.h"
#include "log.h"
#include "metrics.h"
#include "run_record.h"
#include "statefile.h"
#include "status.h"

/* Ids per list_ids()/exists()/contains() call: one Qdrant scroll page. */
#define PAGE 1000

static const char *why(int rc)
{
    const char *err = es_call_error();
    if (*err)
        return err;
    switch (rc) {
    case EMBSYNC_RETRY: return "temporary failure";
    case EMBSYNC_FATAL: return "fatal";
    default: return "failed";
    }
}

const char *es_reconcile_unsupported(const es_engine *e, char *buf, size_t len)
{
    const es_module *src = e->source->module, *st = e->store->module;
    const char *lacks = NULL, *kind = NULL, *name = NULL;
    if (src->ops.source.exists == NULL)
        kind = "source", name = src->desc.name, lacks = "exists()";
    else if (src->ops.source.items == NULL)
        kind = "source", name = src->desc.name, lacks = "items()";
    else if (st->ops.store.list_ids == NULL)
        kind = "store", name = st->desc.name, lacks = "list_ids()";
    else if (st->ops.store.contains == NULL)
        kind = "store", name = st->desc.name, lacks = "contains()";
    if (lacks == NULL)
        return NULL;
    snprintf(buf, len,
             "reconciliation is not possible with the %s plugin %s: it does "
             "not provide %s (plugin ABI 1.2)", kind, name, lacks);
    return buf;
}

/* ---- the state directory's record of each reconciliation ---------------- */

static int status_path(const char *state_dir, const char *collection,
                       char *out, size_t len)
{
    char enc[768], dir[4096];
    snprintf(dir, sizeof dir, "%s/core/reconcile", state_dir);
    if (es_path_component(collection, enc, sizeof enc) != 0 ||
        es_mkdirs(dir) != 0)
        return -1;
    return snprintf(out, len, "%s/%s.json", dir, enc) < (int)len ? 0 : -1;
}

static void save_status(const char *state_dir, const char *collection,
                        const es_reconcile_result *res, int64_t started)
{
    char path[4096];
    if (status_path(state_dir, collection, path, sizeof path) != 0) {
        es_warn("collection %s: cannot record its reconciliation in %s",
                collection, state_dir);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "collection", collection);
    cJSON_AddNumberToObject(o, "start", (double)started);
    cJSON_AddNumberToObject(o, "end", (double)time(NULL));
    cJSON_AddNumberToObject(o, "status", res->status);
    cJSON_AddBoolToObject(o, "dry_run", res->dry_run);
    cJSON_AddNumberToObject(o, "store_ids", (double)res->store_ids);
    cJSON_AddNumberToObject(o, "source_items", (double)res->source_items);
    cJSON_AddNumberToObject(o, "orphans", (double)res->orphans);
    cJSON_AddNumberToObject(o, "missing", (double)res->missing);
    cJSON_AddNumberToObject(o, "forgotten", (double)res->forgotten);
    cJSON_AddNumberToObject(o, "embedded", (double)res->run.embedded);
    cJSON_AddNumberToObject(o, "failed", (double)res->run.failed);
    cJSON_AddNumberToObject(o, "seconds", res->seconds);
    cJSON_AddStringToObject(o, "error", res->error);
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    if (text == NULL || es_write_atomic(path, text, strlen(text)) != 0)
        es_warn("collection %s: cannot record its reconciliation in %s",
                collection, path);
    cJSON_free(text);
}

static cJSON *load_status(const char *state_dir, const char *collection)
{
    char path[4096];
    if (status_path(state_dir, collection, path, sizeof path) != 0)
        return NULL;
    char *text = es_read_all(path, NULL);
    cJSON *o = text != NULL ? cJSON_Parse(text) : NULL;
    free(text);
    return o;
}

static double num(const cJSON *o, const char *key)
{
    return cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, key));
}

int64_t es_reconcile_last(const char *state_dir)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/core/reconcile", state_dir);
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
    int64_t last = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len < 6 || strcmp(de->d_name + len - 5, ".json") != 0)
            continue;
        char path[4352];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        char *text = es_read_all(path, NULL);
        cJSON *o = text != NULL ? cJSON_Parse(text) : NULL;
        /* A dry run repaired nothing: it does not postpone the next. */
        if (o != NULL && !cJSON_IsTrue(cJSON_GetObjectItem(o, "dry_run")) &&
            (int64_t)num(o, "end") > last)
            last = (int64_t)num(o, "end");
        cJSON_Delete(o);
        free(text);
    }
    closedir(d);
    return last;
}

void es_reconcile_print_status(const char *state_dir, const char *collection)
{
    cJSON *o = load_status(state_dir, collection);
    if (o == NULL)
        return;
    int64_t end = (int64_t)num(o, "end");
    int64_t age = (int64_t)time(NULL) - end;
    int status = (int)num(o, "status");
    int dry = cJSON_IsTrue(cJSON_GetObjectItem(o, "dry_run"));
    const char *err = cJSON_GetStringValue(cJSON_GetObjectItem(o, "error"));
    printf("  last reconcile: %" PRId64 " s ago%s, %s (%.2f s): %" PRIu64
           " store ids, %" PRIu64 " source items, %" PRIu64 " orphan(s) %s, %"
           PRIu64 " missing %s",
           age, dry ? " (dry run)" : "",
           status == EMBSYNC_OK ? "ok" : status == EMBSYNC_SKIP ? "skipped"
                                                                : "failed",
           num(o, "seconds"), (uint64_t)num(o, "store_ids"),
           (uint64_t)num(o, "source_items"), (uint64_t)num(o, "orphans"),
           dry ? "found" : "removed", (uint64_t)num(o, "missing"),
           dry ? "found" : "queued");
    if (!dry)
        printf(" (%" PRIu64 " embedded, %" PRIu64 " failed)",
               (uint64_t)num(o, "embedded"), (uint64_t)num(o, "failed"));
    printf("\n");
    if (status != EMBSYNC_OK && err != NULL && *err)
        printf("  reconcile error: %s\n", err);
    cJSON_Delete(o);
}

/* ---- one collection ------------------------------------------------------ */

typedef struct walk {
    es_engine *e;
    const char *collection;
    const char *store_as;     /* the store collection walked */
    const es_stream_opts *opts;
    int dry_run;
    es_reconcile_result *res;
    es_ledger *ledger;        /* the run's, may be NULL */
    es_change_spool missing;  /* the items the store lacks */
    uint64_t *ids;            /* PAGE each */
    uint64_t *orphans;        /* gathered, not yet removed */
    size_t n_orphans;
    embsync_change *asked;
    int *present;
} walk;

static void set_error(walk *w, const char *step, int rc)
{
    if (w->res->error[0] == '\0')
        snprintf(w->res->error, sizeof w->res->error, "%s: %s", step, why(rc));
}

static int stopping(walk *w)
{
    if (!es_stop_requested(w->e->stop))
        return 0;
    snprintf(w->res->error, sizeof w->res->error, "stopped");
    return 1;
}

/* Which of n ids the source still has, into w->present. */
static int source_has(walk *w, size_t n, const uint64_t *ids)
{
    for (size_t i = 0; i < n; i++)
        w->asked[i] = (embsync_change){.abi = EMBSYNC_ABI_INIT(embsync_change),
                                       .id = ids[i], .op = EMBSYNC_OP_UPSERT};
    int rc = es_source_exists(w->e->source, w->collection, n, w->asked,
                              w->present);
    if (rc != EMBSYNC_OK)
        set_error(w, "exists", rc);
    return rc;
}

/* Remove the orphans gathered so far (a store's remove() may cost a scan
 * of the collection, so they go a full page at a time, not per page of
 * ids: paging on from the last id listed is unaffected). */
static int flush_orphans(walk *w)
{
    if (w->n_orphans == 0 || w->dry_run) {
        w->n_orphans = 0;
        return EMBSYNC_OK;
    }
    int rc = es_store_remove(w->e->store, w->store_as, w->n_orphans,
                             w->orphans);
    if (rc != EMBSYNC_OK) {
        set_error(w, "remove", rc);
        return rc;
    }
    for (size_t i = 0; w->ledger != NULL && i < w->n_orphans; i++)
        es_ledger_clear(w->ledger, w->orphans[i]);
    w->n_orphans = 0;
    return EMBSYNC_OK;
}

/* Step 1: store ids the source no longer has. */
static int remove_orphans(walk *w)
{
    uint64_t start = 0;
    for (;;) {
        if (stopping(w))
            return EMBSYNC_RETRY;
        size_t n = 0;
        int rc = es_store_list_ids(w->e->store, w->store_as, start, PAGE,
                                   w->ids, &n);
        if (rc != EMBSYNC_OK) {
            set_error(w, "list_ids", rc);
            return rc;
        }
        /* Paging goes on from the last id: a store that breaks the order
         * would make it loop or skip. */
        for (size_t i = 0; i < n && n <= PAGE; i++) {
            if (w->ids[i] < start || (i > 0 && w->ids[i] <= w->ids[i - 1])) {
                n = PAGE + 1;
                break;
            }
        }
        if (n > PAGE) {
            snprintf(w->res->error, sizeof w->res->error,
                     "list_ids: the store %s listed ids out of order or more "
                     "than asked for", w->e->store->module->desc.name);
            return EMBSYNC_FAILED;
        }
        w->res->store_ids += n;
        if (n > 0 && (rc = source_has(w, n, w->ids)) != EMBSYNC_OK)
            return rc;
        for (size_t i = 0; i < n; i++) {
            if (w->present[i])
                continue;
            es_debug("collection %s: store id %" PRIu64 " is an orphan",
                     w->collection, w->ids[i]);
            w->res->orphans++;
            w->orphans[w->n_orphans++] = w->ids[i];
            if (w->n_orphans == PAGE && (rc = flush_orphans(w)) != EMBSYNC_OK)
                return rc;
        }
        if (n < PAGE || w->ids[n - 1] == UINT64_MAX)
            return flush_orphans(w);
        start = w->ids[n - 1] + 1;
    }
}

/* Step 2: failed-ledger entries of items that are gone. */
static int forget_gone(walk *w)
{
    es_ledger_entry entry;
    size_t at = 0;
    while (w->ledger != NULL) {
        size_t n = 0;
        while (n < PAGE && es_ledger_entry_at(w->ledger, at + n, &entry) == 0)
            w->ids[n++] = entry.id;
        if (n == 0)
            break;
        int rc = source_has(w, n, w->ids);
        if (rc != EMBSYNC_OK)
            return rc;
        size_t gone = 0;
        for (size_t i = 0; i < n; i++) {
            if (w->present[i])
                continue;
            gone++;
            if (!w->dry_run)
                es_ledger_clear(w->ledger, w->ids[i]);
        }
        w->res->forgotten += gone;
        /* Cleared entries make room: the next page starts earlier. */
        at += w->dry_run ? n : n - gone;
        if (n < PAGE)
            break;
    }
    return EMBSYNC_OK;
}

typedef struct missing_sink {
    embsync_change_sink pub;
    walk *w;
} missing_sink;

static int missing_emit(embsync_change_sink *pub, const embsync_change *changes,
                        size_t n)
{
    walk *w = ((missing_sink *)pub)->w;
    /* Changes are strided by the plugin's struct size. */
    size_t stride = n > 0 && changes[0].abi.size ? changes[0].abi.size
                                                 : sizeof *changes;
#define CHANGE_AT(i) \
    ((const embsync_change *)((const char *)changes + (i) * stride))
    for (size_t off = 0; off < n; off += PAGE) {
        if (stopping(w))
            return EMBSYNC_RETRY;
        size_t m = n - off < PAGE ? n - off : PAGE;
        for (size_t i = 0; i < m; i++)
            w->ids[i] = CHANGE_AT(off + i)->id;
        int rc = es_store_contains(w->e->store, w->store_as, m, w->ids,
                                   w->present);
        if (rc != EMBSYNC_OK) {
            set_error(w, "contains", rc);
            return rc;
        }
        w->res->source_items += m;
        for (size_t i = 0; i < m; i++) {
            const embsync_change *c = CHANGE_AT(off + i);
            if (w->present[i] || c->op != EMBSYNC_OP_UPSERT)
                continue;
            es_debug("collection %s: item %" PRIu64 " (%s) is missing from "
                     "the store", w->collection, c->id, c->ref ? c->ref : "");
            w->res->missing++;
            if (w->dry_run)
                continue;
            if (es_spool_put(&w->missing, c) != 0) {
                snprintf(w->res->error, sizeof w->res->error,
                         "writing the list of missing items: %s",
                         strerror(errno));
                return EMBSYNC_FAILED;
            }
        }
    }
#undef CHANGE_AT
    return EMBSYNC_OK;
}

/* Step 3's second half: the missing items, as the pipeline's changes. */
#define REPLAY_PAGE 256

static int replay_missing(void *arg, embsync_change_sink *sink)
{
    walk *w = arg;
    embsync_change page[REPLAY_PAGE];
    if (es_spool_rewind(&w->missing) != 0)
        return EMBSYNC_FAILED;
    for (;;) {
        long n = es_spool_read(&w->missing, page, REPLAY_PAGE);
        if (n <= 0)
            return n == 0 ? EMBSYNC_OK : EMBSYNC_FAILED;
        int rc = sink->emit(sink, page, (size_t)n);
        es_spool_page_free(page, (size_t)n);
        if (rc != EMBSYNC_OK)
            return rc;
    }
}

static void record_metrics(const char *collection,
                           const es_reconcile_result *res)
{
    char labels[320];
    if (!res->dry_run) {
        const struct { const char *result; uint64_t n; } counts[] = {
            {"orphan_removed", res->orphans},
            {"missing_queued", res->missing},
            {"failed_entry_dropped", res->forgotten},
        };
        for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
            snprintf(labels, sizeof labels,
                     "collection=\"%s\",result=\"%s\"", collection,
                     counts[i].result);
            es_metric_add("embsync_reconcile_items_total", labels,
                          (double)counts[i].n);
        }
    }
    snprintf(labels, sizeof labels, "collection=\"%s\"", collection);
    es_metric_set("embsync_reconcile_duration_seconds", labels, res->seconds);
    es_metric_set("embsync_reconcile_last_timestamp_seconds", labels,
                  (double)time(NULL));
    snprintf(labels, sizeof labels, "collection=\"%s\",status=\"%s\"",
             collection, res->status == EMBSYNC_OK     ? "ok"
                          : res->status == EMBSYNC_SKIP ? "skipped"
                                                        : "failed");
    es_metric_add("embsync_reconcile_runs_total", labels, 1);
}

static void log_result(const char *collection, const es_reconcile_result *r)
{
    const char *did = r->dry_run ? "found" : "removed";
    if (r->status == EMBSYNC_SKIP)
        es_info("collection %s: reconciliation skipped (in progress "
                "elsewhere)", collection);
    else if (r->status != EMBSYNC_OK && strcmp(r->error, "stopped") == 0)
        es_info("collection %s: reconciliation stopped on request after %"
                PRIu64 " store ids and %" PRIu64 " source items", collection,
                r->store_ids, r->source_items);
    else if (r->status != EMBSYNC_OK)
        es_error("collection %s: reconciliation failed after %" PRIu64
                 " store ids and %" PRIu64 " source items: %s",
                 collection, r->store_ids, r->source_items, r->error);
    else if (r->dry_run)
        es_info("collection %s: reconciliation (dry run): %" PRIu64
                " store ids, %" PRIu64 " source items; %" PRIu64
                " orphan(s) found, %" PRIu64 " missing found, %" PRIu64
                " failed-ledger entr%s of gone items found; nothing changed "
                "in %.2f s",
                collection, r->store_ids, r->source_items, r->orphans,
                r->missing, r->forgotten, r->forgotten == 1 ? "y" : "ies",
                r->seconds);
    else
        es_info("collection %s: reconciled: %" PRIu64 " store ids, %" PRIu64
                " source items; %" PRIu64 " orphan(s) %s, %" PRIu64
                " missing queued (%" PRIu64 " embedded, %" PRIu64
                " failed, %" PRIu64 " waiting), %" PRIu64
                " failed-ledger entr%s of gone items dropped in %.2f s",
                collection, r->store_ids, r->source_items, r->orphans, did,
                r->missing, r->run.embedded, r->run.failed, r->run.waiting,
                r->forgotten, r->forgotten == 1 ? "y" : "ies", r->seconds);
}

/* Steps 1-3 of a begun and ensured collection, with the run's record. */
static int walk_collection(walk *w, es_run_record *rec)
{
    es_engine *e = w->e;
    es_reconcile_result *res = w->res;
    missing_sink sink = {
        .pub = {.abi = EMBSYNC_ABI_INIT(embsync_change_sink),
                .emit = missing_emit},
        .w = w,
    };
    int rc = remove_orphans(w);
    if (rc == EMBSYNC_OK)
        rc = forget_gone(w);
    if (!w->dry_run)
        es_run_record_save_ledger(rec);
    if (rc == EMBSYNC_OK && !w->dry_run && es_spool_open(&w->missing) != 0) {
        snprintf(res->error, sizeof res->error,
                 "cannot create a temporary file: %s", strerror(errno));
        rc = EMBSYNC_FAILED;
    }
    if (rc == EMBSYNC_OK) {
        rc = es_source_items(e->source, w->collection, &sink.pub);
        if (rc != EMBSYNC_OK)
            set_error(w, "items", rc);
    }
    if (rc == EMBSYNC_OK && !w->dry_run && res->missing > 0) {
        /* A rebuild's fill keeps its own stage. */
        if (w->opts == NULL)
            es_progress_set_stage(&e->progress, ES_STAGE_SYNC);
        rc = es_engine_stream_opts(e, w->collection, w->opts, replay_missing,
                                   w, &res->run);
        if (rc != EMBSYNC_OK)
            snprintf(res->error, sizeof res->error, "%s",
                     res->run.error[0] ? res->run.error : why(rc));
    }
    es_spool_close(&w->missing);
    return rc;
}

static int walk_init(walk *w)
{
    w->ids = malloc(PAGE * sizeof *w->ids);
    w->orphans = malloc(PAGE * sizeof *w->orphans);
    w->asked = malloc(PAGE * sizeof *w->asked);
    w->present = malloc(PAGE * sizeof *w->present);
    if (!w->ids || !w->orphans || !w->asked || !w->present) {
        snprintf(w->res->error, sizeof w->res->error, "out of memory");
        return EMBSYNC_FAILED;
    }
    return EMBSYNC_OK;
}

static void walk_free(walk *w)
{
    free(w->ids);
    free(w->orphans);
    free(w->asked);
    free(w->present);
}

int es_reconcile_into(es_engine *e, const char *collection,
                      const es_stream_opts *opts, es_reconcile_result *res)
{
    /* The run's record when a sync holds one (a rebuild's fill), else one
     * of its own: the ledger is opened once per run either way. */
    es_run_record own, *rec = es_run_record_of(e, collection);
    if (rec == NULL) {
        rec = &own;
        es_run_record_open(rec, e, collection);
    }
    walk w = {.e = e, .collection = collection, .res = res, .opts = opts,
              .store_as = opts != NULL && opts->store_as != NULL
                              ? opts->store_as : collection,
              .ledger = es_run_record_ledger(rec)};
    int rc = walk_init(&w);
    if (rc == EMBSYNC_OK)
        rc = walk_collection(&w, rec);
    walk_free(&w);
    if (rec == &own)
        es_run_record_close(rec);
    return rc;
}

int es_reconcile_collection(es_engine *e, const char *collection, int dry_run,
                            es_reconcile_result *res)
{
    memset(res, 0, sizeof *res);
    res->dry_run = dry_run;
    double start = es_mono_now();
    int64_t started = (int64_t)time(NULL);
    /* The ledger is the run's: the pipeline of the missing items uses it
     * too. */
    es_run_record rec;
    es_run_record_open(&rec, e, collection);
    walk w = {.e = e, .collection = collection, .store_as = collection,
              .dry_run = dry_run, .res = res,
              .ledger = es_run_record_ledger(&rec)};
    es_progress_start(&e->progress, collection, ES_STAGE_RECONCILE);
    int rc = walk_init(&w), end_rc;
    if (rc != EMBSYNC_OK)
        goto done;
    rc = es_source_begin(e->source, collection);
    if (rc != EMBSYNC_OK) {
        set_error(&w, "begin", rc);
        goto done;
    }
    /* A dry run leaves even a missing collection missing: it has no ids
     * and lacks every item. */
    if (!dry_run && (rc = es_engine_ensure(e, collection, &res->run)) !=
                        EMBSYNC_OK) {
        snprintf(res->error, sizeof res->error, "ensure collection: %.400s",
                 res->run.error[0] ? res->run.error : why(rc));
        goto end;
    }
    rc = walk_collection(&w, &rec);
end:
    end_rc = es_source_end(e->source, collection, rc);
    if (end_rc != EMBSYNC_OK && rc == EMBSYNC_OK) {
        rc = end_rc;
        set_error(&w, "end", end_rc);
    }
done:
    es_run_record_close(&rec);
    walk_free(&w);
    res->status = rc;
    res->seconds = es_mono_now() - start;
    es_progress_set_stage(&e->progress, ES_STAGE_IDLE);
    record_metrics(collection, res);
    if (e->state_dir != NULL && rc != EMBSYNC_SKIP)
        save_status(e->state_dir, collection, res, started);
    log_result(collection, res);
    return rc;
}

/* ---- every collection ----------------------------------------------------- */

typedef struct names {
    char **v;
    size_t n;
} names;

int es_reconcile_pass(es_engine *e, const char *only, int dry_run)
{
    char buf[256];
    const char *unsupported = es_reconcile_unsupported(e, buf, sizeof buf);
    if (unsupported != NULL) {
        es_error("%s", unsupported);
        return -1;
    }
    names list;
    if (es_engine_list_collections(e, &list.v, &list.n) != 0)
        return -1;
    int failed = -1;
    int found = only == NULL;
    for (size_t i = 0; !found && i < list.n; i++)
        found = strcmp(list.v[i], only) == 0;
    if (!found) {
        char known[512] = "";
        size_t at = 0;
        for (size_t i = 0; i < list.n && at < sizeof known; i++)
            at += (size_t)snprintf(known + at, sizeof known - at, "%s%s",
                                   i ? ", " : "", list.v[i]);
        es_error("collection %s: the source %s does not list it (%zu "
                 "collection(s): %s)", only, e->source->module->desc.name,
                 list.n, list.n ? known : "none");
        goto out;
    }
    failed = 0;
    for (size_t i = 0; i < list.n; i++) {
        if (only != NULL && strcmp(list.v[i], only) != 0)
            continue;
        if (only == NULL && !es_shard_owns(&e->shard, list.v[i]))
            continue;
        if (es_stop_requested(e->stop))
            break;
        es_reconcile_result res;
        int st = es_reconcile_collection(e, list.v[i], dry_run, &res);
        if (st != EMBSYNC_OK && st != EMBSYNC_SKIP)
            failed++;
        if (st == EMBSYNC_FATAL)
            break;
    }
out:
    es_engine_names_free(list.v, list.n);
    return failed;
}
