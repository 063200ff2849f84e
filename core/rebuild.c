#include <config.h>

#include "rebuild.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <xxhash.h>

#include "calls.h"
#include "change_spool.h"
#include "clock.h"
#include "collection_sync.h"
#include "crashpoint.h"
#include "log.h"
#include "reconcile.h"
#include "rebuild_record.h"

/* Acknowledgements go to the source in slices of this many after the
 * switch. */
#define ACK_SLICE 256

/* ---- what the plugins must offer ---------------------------------------- */

const char *es_rebuild_unsupported(const es_engine *e, char *buf, size_t len)
{
    const embsync_store_ops *st = &e->store->module->ops.store;
    const char *missing = NULL;
    if (e->state_dir == NULL)
        missing = "a state directory";
    else if (st->alias_get == NULL || st->alias_set == NULL)
        missing = "aliases (alias_get, alias_set)";
    if (missing != NULL) {
        snprintf(buf, len, "the store %s cannot build a collection beside "
                 "the live one: it has no %s",
                 e->store->module->desc.name, missing);
        return buf;
    }
    /* The fill is a reconciliation of the shadow: the same operations. */
    return es_reconcile_unsupported(e, buf, len);
}

/* ---- names ---------------------------------------------------------------- */

int es_rebuild_shadow_name(const embsync_model_info *model,
                           const char *collection, const char *avoid,
                           char *out, size_t len)
{
    char key[192];
    int klen = snprintf(key, sizeof key, "%s|%u|%d", model->identity,
                        model->dim, model->metric);
    uint64_t h = XXH3_64bits(key, (size_t)klen);
    if (snprintf(out, len, "%s__%08" PRIx32, collection, (uint32_t)(h >> 32)) >=
        (int)len)
        return -1;
    /* An operator's rebuild of an unchanged model needs a name of its own. */
    if (avoid != NULL && strcmp(out, avoid) == 0 &&
        snprintf(out, len, "%s__%08" PRIx32 "-b", collection,
                 (uint32_t)(h >> 32)) >= (int)len)
        return -1;
    return 0;
}

/* ---- store calls, each under the retry policy --------------------------- */

static int call_error(es_run_result *res, const char *what, int rc)
{
    snprintf(res->error, sizeof res->error, "rebuild: %s: %s", what,
             *es_call_error() ? es_call_error() : "failed");
    return rc;
}

/* One store or source call, for es_call_retry(). */
typedef struct call {
    es_engine *e;
    const char *name, *target;
    char *out;
    size_t len;
    const embsync_collection_spec *spec;
    int *result;
    size_t n;
    const embsync_change *changes;
} call;

static int alias_get_once(void *arg)
{
    const call *c = arg;
    c->out[0] = '\0';
    return es_store_alias_get(c->e->store, c->name, c->out, c->len);
}

static int alias_set_once(void *arg)
{
    const call *c = arg;
    return es_store_alias_set(c->e->store, c->name, c->target);
}

static int drop_once(void *arg)
{
    const call *c = arg;
    return es_store_drop(c->e->store, c->name);
}

static int ensure_once(void *arg)
{
    const call *c = arg;
    return es_store_ensure(c->e->store, c->name, c->spec, c->result);
}

static int ack_once(void *arg)
{
    const call *c = arg;
    return es_source_ack(c->e->source, c->name, c->n, c->changes);
}

static int live_target(es_engine *e, const char *collection, char *out,
                       size_t len, es_run_result *res)
{
    call c = {.e = e, .name = collection, .out = out, .len = len};
    int rc = es_call_retry(e->stop, "alias_get", alias_get_once, &c);
    return rc == EMBSYNC_OK ? rc : call_error(res, "alias_get", rc);
}

static int drop(es_engine *e, const char *name, es_run_result *res)
{
    call c = {.e = e, .name = name};
    int rc = es_call_retry(e->stop, "drop collection", drop_once, &c);
    return rc == EMBSYNC_OK ? rc : call_error(res, "drop", rc);
}

static int count(es_engine *e, const char *name, uint64_t *n)
{
    *n = 0;
    return es_store_count(e->store, name, n);
}

/* The old collection goes once nothing reads it: not the name itself (a
 * plain collection alias_set() already replaced) nor the shadow. */
static int drop_old(es_engine *e, const es_rebuild_record *rec,
                    es_run_result *res)
{
    if (rec->old[0] == '\0' || strcmp(rec->old, rec->collection) == 0 ||
        strcmp(rec->old, rec->shadow) == 0)
        return EMBSYNC_OK;
    int rc = drop(e, rec->old, res);
    if (rc == EMBSYNC_OK)
        es_info("collection %s: dropped %s, the collection of the former "
                "model", rec->collection, rec->old);
    return rc;
}

/* ---- settling what an interrupted rebuild left -------------------------- */

static int ack_held(es_engine *e, const char *collection,
                    es_change_spool *acks, es_run_result *res);

/* The acknowledgements a run held past its switch and did not get to
 * give: given now (acknowledging twice is harmless), then forgotten. */
static int ack_left(es_engine *e, const char *collection, es_run_result *res)
{
    char path[4096];
    es_change_spool acks;
    if (es_rebuild_acks_path(e->state_dir, collection, path, sizeof path) != 0)
        return EMBSYNC_OK;
    if (es_spool_open_read(&acks, path) != 0) {
        if (errno == ENOENT)
            return EMBSYNC_OK;
        snprintf(res->error, sizeof res->error,
                 "rebuild: cannot read the acknowledgements held for %s: %s",
                 collection, strerror(errno));
        return EMBSYNC_FAILED;
    }
    int rc = ack_held(e, collection, &acks, res);
    es_spool_close(&acks);
    if (rc == EMBSYNC_OK && unlink(path) != 0 && errno != ENOENT) {
        snprintf(res->error, sizeof res->error,
                 "rebuild: cannot remove the acknowledgements held for %s: "
                 "%s", collection, strerror(errno));
        rc = EMBSYNC_FAILED;
    }
    if (rc == EMBSYNC_OK)
        es_info("collection %s: acknowledged what the interrupted rebuild "
                "held past its switch", collection);
    return rc;
}

static int same_model(const es_engine *e, const es_rebuild_record *rec)
{
    return strcmp(rec->identity, e->model.identity) == 0 &&
           rec->dim == e->model.dim && rec->metric == e->model.metric;
}

int es_rebuild_settle(es_engine *e, const char *collection,
                      es_run_result *res)
{
    char why[256];
    es_rebuild_record rec;
    if (es_rebuild_unsupported(e, why, sizeof why) != NULL)
        return EMBSYNC_OK;
    int have = es_rebuild_record_load(e->state_dir, collection, &rec);
    if (have < 0) {
        snprintf(res->error, sizeof res->error,
                 "rebuild: cannot read the rebuild record of %s in %s",
                 collection, e->state_dir);
        return EMBSYNC_FAILED;
    }
    if (have == 0)
        return EMBSYNC_OK;
    char live[320];
    int rc = live_target(e, collection, live, sizeof live, res);
    if (rc != EMBSYNC_OK)
        return rc;
    if (strcmp(live, rec.shadow) == 0) {
        /* Cut short after the switch: the acknowledgements it held are on
         * disk (synced before the switch), then the old collection. */
        es_info("collection %s: finishing the rebuild an interrupted run "
                "switched to %s", collection, rec.shadow);
        rc = ack_left(e, collection, res);
        if (rc == EMBSYNC_OK)
            rc = drop_old(e, &rec, res);
    } else if (!same_model(e, &rec) || e->rebuild_in_place) {
        es_warn("collection %s: the interrupted rebuild into %s was for %s, "
                "the embedder is now %s%s: dropping %s, it belongs to no "
                "rebuild any more", collection, rec.shadow, rec.identity,
                e->model.identity,
                e->rebuild_in_place ? " and rebuild_beside is false" : "",
                rec.shadow);
        rc = drop(e, rec.shadow, res);
    } else {
        return EMBSYNC_OK;  /* resumed by es_rebuild_collection() */
    }
    if (rc == EMBSYNC_OK && es_rebuild_record_remove(e->state_dir, collection) != 0) {
        snprintf(res->error, sizeof res->error,
                 "rebuild: cannot remove the rebuild record of %s: %s",
                 collection, strerror(errno));
        rc = EMBSYNC_FAILED;
    }
    return rc;
}

int es_rebuild_pending(es_engine *e, const char *collection)
{
    es_rebuild_record rec;
    return e->state_dir != NULL &&
           es_rebuild_record_load(e->state_dir, collection, &rec) == 1 &&
           same_model(e, &rec);
}

/* ---- acknowledgements held until the switch ----------------------------- */

/* Seconds between two updates of the record's done/total while filling,
 * for `embsync status` in another process. */
#define RECORD_EVERY 5.0

/* An upsert the fill stored: its id and a hash of its version, what the
 * catch-up compares (16 bytes an item, the changes themselves on disk). */
typedef struct stored_version {
    uint64_t id;
    uint64_t version;
} stored_version;

typedef struct held {
    es_engine *e;
    es_rebuild_record *rec;
    const char *shadow;
    double saved;            /* es_mono_now() of the last record update */
    es_change_spool acks;    /* in the order they were stored */
    stored_version *upserts; /* the fill's, with a version */
    size_t n_upserts, cap;
    int filling;             /* upserts go to `upserts` too */
    uint64_t done, total;
} held;

static uint64_t version_hash(const char *version)
{
    return XXH3_64bits(version, strlen(version));
}

static int hold(void *arg, size_t n, const embsync_change *changes)
{
    held *h = arg;
    for (size_t i = 0; i < n; i++) {
        const embsync_change *c = &changes[i];
        if (es_spool_put(&h->acks, c) != 0) {
            es_error("cannot keep the acknowledgements of a rebuild in a "
                     "temporary file: %s", strerror(errno));
            return EMBSYNC_FAILED;
        }
        if (c->op != EMBSYNC_OP_UPSERT)
            continue;
        h->done++;
        if (!h->filling || c->version == NULL)
            continue;
        if (h->n_upserts == h->cap) {
            size_t cap = h->cap ? h->cap * 2 : 1024;
            stored_version *grown = realloc(h->upserts, cap * sizeof *grown);
            if (grown == NULL) {
                es_error("out of memory holding the versions a rebuild stored");
                return EMBSYNC_FAILED;
            }
            h->upserts = grown;
            h->cap = cap;
        }
        h->upserts[h->n_upserts++] =
            (stored_version){c->id, version_hash(c->version)};
    }
    es_progress_rebuild(&h->e->progress, h->shadow, h->done,
                        h->total > h->done ? h->total : h->done);
    if (es_mono_now() - h->saved >= RECORD_EVERY) {
        h->saved = es_mono_now();
        h->rec->done = h->done;
        h->rec->total = h->total > h->done ? h->total : h->done;
        if (es_rebuild_record_save(h->e->state_dir, h->rec) != 0)
            es_debug("cannot update the rebuild record of %s",
                     h->rec->collection);
    }
    return EMBSYNC_OK;
}

static void held_free(held *h)
{
    es_spool_close(&h->acks);
    free(h->upserts);
    h->upserts = NULL;
    h->n_upserts = h->cap = 0;
}

/* After the switch: the source hears of every item now in the collection
 * readers see, in the order they were stored (a later version last). */
static int ack_held(es_engine *e, const char *collection,
                    es_change_spool *acks, es_run_result *res)
{
    embsync_change page[ACK_SLICE];
    if (es_spool_rewind(acks) != 0) {
        snprintf(res->error, sizeof res->error,
                 "rebuild: cannot read back the held acknowledgements");
        return EMBSYNC_FAILED;
    }
    for (;;) {
        long m = es_spool_read(acks, page, ACK_SLICE);
        if (m < 0) {
            snprintf(res->error, sizeof res->error,
                     "rebuild: cannot read back the held acknowledgements");
            return EMBSYNC_FAILED;
        }
        if (m == 0)
            return EMBSYNC_OK;
        call c = {.e = e, .name = collection, .n = (size_t)m, .changes = page};
        int rc = es_call_retry(e->stop, "ack", ack_once, &c);
        es_spool_page_free(page, (size_t)m);
        if (rc != EMBSYNC_OK)
            return call_error(res, "ack", rc);
    }
}

/* ---- the rebuild ----------------------------------------------------------- */

/* The catch-up: the source's changes(), less the upserts the fill stored
 * at the very version changes() names (their acknowledgements are held, so
 * the source still lists them as pending). */
typedef struct catch_up {
    embsync_change_sink pub;   /* what changes() emits into */
    embsync_change_sink *to;   /* the pipeline */
    es_engine *e;
    const char *collection;
    const stored_version *stored;  /* sorted by id */
    size_t n_stored;
    embsync_change *kept;
    size_t cap;
    uint64_t skipped;
} catch_up;

static int by_id(const void *a, const void *b)
{
    const stored_version *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Stored by the fill at this very version. */
static int stored_as_is(const catch_up *c, const embsync_change *ch)
{
    if (ch->op != EMBSYNC_OP_UPSERT || ch->version == NULL)
        return 0;
    stored_version key = {ch->id, 0};
    const stored_version *s =
        bsearch(&key, c->stored, c->n_stored, sizeof *c->stored, by_id);
    return s != NULL && s->version == version_hash(ch->version);
}

static int catch_up_emit(embsync_change_sink *pub, const embsync_change *changes,
                         size_t n)
{
    catch_up *c = (catch_up *)pub;
    /* Changes are strided by the plugin's struct size. */
    size_t stride = n > 0 && changes[0].abi.size ? changes[0].abi.size
                                                 : sizeof *changes;
    if (n > c->cap) {
        embsync_change *grown = realloc(c->kept, n * sizeof *grown);
        if (grown == NULL)
            return EMBSYNC_FAILED;
        c->kept = grown;
        c->cap = n;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        const embsync_change *ch =
            (const embsync_change *)((const char *)changes + i * stride);
        if (stored_as_is(c, ch)) {
            c->skipped++;
            continue;
        }
        c->kept[m] = (embsync_change){.abi = EMBSYNC_ABI_INIT(embsync_change),
                                      .id = ch->id, .op = ch->op,
                                      .ref = ch->ref, .version = ch->version,
                                      .payload = ch->payload};
        m++;
    }
    return m > 0 ? c->to->emit(c->to, c->kept, m) : EMBSYNC_OK;
}

static void catch_up_total(embsync_change_sink *pub, uint64_t total)
{
    catch_up *c = (catch_up *)pub;
    if (c->to->set_total != NULL)
        c->to->set_total(c->to, total);
}

static int source_changes(void *arg, embsync_change_sink *sink)
{
    catch_up *c = arg;
    c->to = sink;
    return es_source_changes(c->e->source, c->collection, &c->pub);
}

static void add_counts(es_run_result *res, const es_run_result *part)
{
    res->embedded += part->embedded;
    res->deleted += part->deleted;
    res->failed += part->failed;
    res->deferred += part->deferred;
    res->waiting += part->waiting;
    res->stopped |= part->stopped;
}

/* A fresh record, or the recorded rebuild of this model resumed. */
static int start_or_resume(es_engine *e, const char *collection,
                           const char *live, es_rebuild_record *rec,
                           int *resumed, es_run_result *res)
{
    int have = es_rebuild_record_load(e->state_dir, collection, rec);
    if (have < 0) {
        snprintf(res->error, sizeof res->error,
                 "rebuild: cannot read the rebuild record of %s", collection);
        return EMBSYNC_FAILED;
    }
    *resumed = have == 1 && same_model(e, rec) && strcmp(rec->shadow, live) != 0;
    if (*resumed) {
        es_info("collection %s: resuming the rebuild into %s (%" PRIu64
                " of about %" PRIu64 " items were stored when it was cut short)",
                collection, rec->shadow, rec->done, rec->total);
        snprintf(rec->old, sizeof rec->old, "%s", live);
        return EMBSYNC_OK;
    }
    int rc;
    if (have == 1 && (rc = drop(e, rec->shadow, res)) != EMBSYNC_OK)
        return rc;
    memset(rec, 0, sizeof *rec);
    snprintf(rec->collection, sizeof rec->collection, "%s", collection);
    snprintf(rec->old, sizeof rec->old, "%s", live);
    snprintf(rec->identity, sizeof rec->identity, "%s", e->model.identity);
    rec->dim = e->model.dim;
    rec->metric = e->model.metric;
    rec->phase = ES_REBUILD_FILLING;
    rec->started = (int64_t)time(NULL);
    if (es_rebuild_shadow_name(&e->model, collection, live, rec->shadow,
                               sizeof rec->shadow) != 0) {
        snprintf(res->error, sizeof res->error,
                 "rebuild: collection name too long: %s", collection);
        return EMBSYNC_FAILED;
    }
    /* A shadow no record names is left from nothing we know of: its
     * vectors may belong to items deleted since, so it starts empty. */
    char there[320];
    if ((rc = live_target(e, rec->shadow, there, sizeof there, res)) !=
            EMBSYNC_OK ||
        (there[0] != '\0' && (rc = drop(e, rec->shadow, res)) != EMBSYNC_OK))
        return rc;
    if (es_rebuild_record_save(e->state_dir, rec) != 0) {
        snprintf(res->error, sizeof res->error,
                 "rebuild: cannot write the rebuild record in %s: %s",
                 e->state_dir, strerror(errno));
        return EMBSYNC_FAILED;
    }
    es_crashpoint("rebuild-recorded");
    return EMBSYNC_OK;
}

/* Fill and catch up the shadow; the acknowledgements land in h. */
static int fill(es_engine *e, const char *collection, es_rebuild_record *rec,
                held *h, es_run_result *res)
{
    es_stream_opts opts = {.store_as = rec->shadow, .remove_also = rec->old,
                           .on_stored = hold, .on_stored_arg = h};
    es_reconcile_result *rr = calloc(1, sizeof *rr);
    if (rr == NULL)
        return EMBSYNC_FAILED;
    int rc = es_reconcile_into(e, collection, &opts, rr);
    add_counts(res, &rr->run);
    if (rc != EMBSYNC_OK)
        snprintf(res->error, sizeof res->error,
                 "rebuild: filling %.100s: %.380s", rec->shadow,
                 rr->error[0] ? rr->error : "failed");
    else if (rr->orphans > 0)
        es_info("collection %s: removed %" PRIu64 " vector(s) of items "
                "deleted since the rebuild was cut short from %s",
                collection, rr->orphans, rec->shadow);
    free(rr);
    if (rc != EMBSYNC_OK)
        return rc;
    es_crashpoint("rebuild-filled");
    /* The changes that came while it filled: upserts into the shadow,
     * deletions from both. */
    es_run_result part = {0};
    h->filling = 0;
    /* The fill stores each item once: ids do not repeat. */
    if (h->n_upserts > 0)
        qsort(h->upserts, h->n_upserts, sizeof *h->upserts, by_id);
    catch_up c = {
        .pub = {.abi = EMBSYNC_ABI_INIT(embsync_change_sink),
                .emit = catch_up_emit, .set_total = catch_up_total},
        .e = e, .collection = collection,
        .stored = h->upserts, .n_stored = h->n_upserts,
    };
    rc = es_engine_stream_opts(e, collection, &opts, source_changes, &c,
                               &part);
    free(c.kept);
    add_counts(res, &part);
    if (c.skipped > 0)
        es_debug("collection %s: %" PRIu64 " change(s) the fill had stored "
                 "already, at the same version, not embedded again",
                 collection, c.skipped);
    if (rc != EMBSYNC_OK)
        snprintf(res->error, sizeof res->error,
                 "rebuild: catching up %.100s: %.380s", rec->shadow,
                 part.error[0] ? part.error : "failed");
    return rc;
}

int es_rebuild_collection(es_engine *e, const char *collection,
                          es_run_result *res)
{
    char why[256];
    if (es_rebuild_unsupported(e, why, sizeof why) != NULL) {
        snprintf(res->error, sizeof res->error, "rebuild: %s", why);
        return EMBSYNC_FAILED;
    }
    char live[320];
    int rc = live_target(e, collection, live, sizeof live, res);
    if (rc != EMBSYNC_OK)
        return rc;
    if (live[0] == '\0') {
        snprintf(res->error, sizeof res->error,
                 "rebuild: the store has no collection %s", collection);
        return EMBSYNC_FAILED;
    }
    es_rebuild_record rec;
    int resumed;
    if ((rc = start_or_resume(e, collection, live, &rec, &resumed, res)) !=
        EMBSYNC_OK)
        return rc;

    embsync_collection_spec spec;
    es_engine_collection_spec(e, &spec);
    int result = 0;
    call ensure = {.e = e, .name = rec.shadow, .spec = &spec,
                   .result = &result};
    rc = es_call_retry(e->stop, "create the shadow", ensure_once, &ensure);
    if (rc != EMBSYNC_OK)
        return call_error(res, "creating the shadow collection", rc);
    if (result == EMBSYNC_ENSURE_MISMATCH) {
        snprintf(res->error, sizeof res->error,
                 "rebuild: the shadow %s holds another model", rec.shadow);
        return EMBSYNC_FAILED;
    }
    held h = {.e = e, .rec = &rec, .shadow = rec.shadow,
              .saved = es_mono_now(), .filling = 1};
    /* Beside the record, so that acknowledgements held past the switch
     * survive a crash right after it. */
    char acks_path[4096];
    if (es_rebuild_acks_path(e->state_dir, collection, acks_path,
                             sizeof acks_path) != 0 ||
        es_spool_create(&h.acks, acks_path) != 0) {
        snprintf(res->error, sizeof res->error,
                 "rebuild: cannot create the file of held acknowledgements "
                 "in %s: %s", e->state_dir, strerror(errno));
        return EMBSYNC_FAILED;
    }
    uint64_t old_count = 0;
    if (count(e, rec.shadow, &h.done) != EMBSYNC_OK ||
        count(e, live, &old_count) != EMBSYNC_OK)
        es_debug("collection %s: cannot count points for the rebuild's "
                 "progress", collection);
    h.total = old_count > h.done ? old_count : h.done;
    rec.done = h.done;
    rec.total = h.total;
    if (es_rebuild_record_save(e->state_dir, &rec) != 0)
        es_debug("cannot update the rebuild record of %s", collection);
    es_info("collection %s: %s %s beside %s for %s; searches keep answering "
            "from %s until the switch", collection,
            resumed ? "resuming the build of" : "building", rec.shadow, live,
            e->model.identity, live);
    es_progress_set_stage(&e->progress, ES_STAGE_REBUILD);
    es_progress_rebuild(&e->progress, rec.shadow, h.done, h.total);

    uint64_t before = res->embedded;
    rc = fill(e, collection, &rec, &h, res);
    if (rc != EMBSYNC_OK) {
        rec.done = h.done;
        if (es_rebuild_record_save(e->state_dir, &rec) != 0)
            es_warn("collection %s: cannot update the rebuild record",
                    collection);
        held_free(&h);
        es_progress_rebuild(&e->progress, NULL, 0, 0);
        return rc;
    }
    es_crashpoint("rebuild-caught-up");
    if (es_spool_sync(&h.acks, acks_path) != 0) {
        snprintf(res->error, sizeof res->error,
                 "rebuild: cannot make the held acknowledgements durable "
                 "(%s); not switching", strerror(errno));
        held_free(&h);
        es_progress_rebuild(&e->progress, NULL, 0, 0);
        return EMBSYNC_FAILED;
    }

    call sw = {.e = e, .name = collection, .target = rec.shadow};
    rc = es_call_retry(e->stop, "switch the alias", alias_set_once, &sw);
    if (rc != EMBSYNC_OK) {
        held_free(&h);
        es_progress_rebuild(&e->progress, NULL, 0, 0);
        return call_error(res, "switching to the new collection", rc);
    }
    es_crashpoint("rebuild-switched");
    es_info("collection %s: switched to %s (%" PRIu64 " embedded for %s); "
            "searches answer from it now", collection, rec.shadow,
            res->embedded - before, e->model.identity);
    rec.phase = ES_REBUILD_SWITCHED;
    rec.done = h.done;
    if (es_rebuild_record_save(e->state_dir, &rec) != 0)
        es_warn("collection %s: cannot update the rebuild record; the next "
                "run finds the switch in the store", collection);
    /* From here on the rebuild has happened: what fails is logged and
     * left to the next run, never the switch undone. */
    if (ack_held(e, collection, &h.acks, res) != EMBSYNC_OK) {
        es_warn("collection %s: %s; the next run acknowledges them",
                collection, res->error);
        res->error[0] = '\0';
        held_free(&h);
        es_progress_rebuild(&e->progress, NULL, 0, 0);
        res->rebuilt = 1;
        return EMBSYNC_OK;
    }
    held_free(&h);
    es_crashpoint("rebuild-acked");
    if (drop_old(e, &rec, res) != EMBSYNC_OK) {
        es_warn("collection %s: cannot drop %s yet (%s); the next run "
                "drops it", collection, rec.old, res->error);
        res->error[0] = '\0';
    } else {
        es_crashpoint("rebuild-dropped");
        if (es_rebuild_record_remove(e->state_dir, collection) != 0)
            es_warn("collection %s: cannot remove the rebuild record: %s",
                    collection, strerror(errno));
    }
    es_progress_rebuild(&e->progress, NULL, 0, 0);
    res->rebuilt = 1;
    return EMBSYNC_OK;
}
