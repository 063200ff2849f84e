/* Source conformance: collections listed, changes streamed while fetch()
 * and ack() run on their own threads (as the pipeline runs them),
 * acknowledgement idempotent and final, begin()/end() balanced, reset()
 * bringing everything back. */
#include <config.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "blob.h"
#include "check.h"
#include "queue.h"

enum { MAX_COLLECTIONS = 64, REASON_LEN = 512, QUEUE_DEPTH = 4 };

static const embsync_source_ops *ops(const pc_target *t)
{
    return &t->module->ops.source;
}

/* A change as the host keeps it: deep copies, since the source's strings
 * are only borrowed for the emit() call. */
typedef struct held_change {
    embsync_change c;
    int status;          /* fetch outcome for UPSERTs, OK for DELETEs */
} held_change;

typedef struct held_batch {
    size_t n;
    held_change *items;
} held_batch;

typedef struct stream {
    pc_target *t;
    const char *collection;
    embsync_change_sink sink;
    size_t max_items, emitted, upserts, deletes;
    int stopped_by_us;
    /* Every change seen (host copies, with their version tokens), for the
     * uniqueness, idempotence and convergence checks. */
    embsync_change *seen;
    int *acked;
    size_t n_seen, cap_seen;
    /* First contract violation found, if any. */
    char problem[512];
    char fetch_problem[512];
    char ack_problem[512];
    size_t fetch_ok, fetch_failed, fetch_retry, acked_n;
    es_queue to_fetch, to_ack;
    int pipeline;        /* fetch and ack threads running */
} stream;

static char *dup_opt(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

static void note(char *slot, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void note(char *slot, size_t len, const char *fmt, ...)
{
    if (slot[0] != '\0')
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(slot, len, fmt, ap);
    va_end(ap);
}

static int valid_payload(const char *payload)
{
    if (payload == NULL)
        return 1;
    cJSON *j = cJSON_Parse(payload);
    int ok = cJSON_IsObject(j);
    cJSON_Delete(j);
    return ok;
}

static void change_copy(embsync_change *to, const embsync_change *from)
{
    *to = (embsync_change){.abi = EMBSYNC_ABI_INIT(embsync_change),
                           .id = from->id,
                           .op = from->op,
                           .ref = dup_opt(from->ref),
                           .version = dup_opt(from->version),
                           .payload = dup_opt(from->payload)};
}

static void change_free(embsync_change *c)
{
    free((char *)c->ref);
    free((char *)c->version);
    free((char *)c->payload);
}

static void batch_free(held_batch *b)
{
    if (b == NULL)
        return;
    for (size_t i = 0; i < b->n; i++)
        change_free(&b->items[i].c);
    free(b->items);
    free(b);
}

static const embsync_change *find_seen(const stream *s, uint64_t id)
{
    for (size_t i = 0; i < s->n_seen; i++)
        if (s->seen[i].id == id)
            return &s->seen[i];
    return NULL;
}

/* Returns 0 when the id was already emitted in this pass. */
static int remember(stream *s, const embsync_change *c)
{
    if (find_seen(s, c->id) != NULL)
        return 0;
    if (s->n_seen == s->cap_seen) {
        size_t cap = s->cap_seen ? s->cap_seen * 2 : 256;
        embsync_change *seen = realloc(s->seen, cap * sizeof *seen);
        if (seen != NULL)
            s->seen = seen;
        int *a = realloc(s->acked, cap * sizeof *a);
        if (a != NULL)
            s->acked = a;
        if (seen == NULL || a == NULL)
            return 1;  /* out of memory: stop remembering, not a violation */
        s->cap_seen = cap;
    }
    change_copy(&s->seen[s->n_seen], c);
    s->acked[s->n_seen] = 0;
    s->n_seen++;
    return 1;
}

static void mark_acked(stream *s, uint64_t id)
{
    for (size_t i = 0; i < s->n_seen; i++)
        if (s->seen[i].id == id)
            s->acked[i] = 1;
}

static int emit(embsync_change_sink *sink, const embsync_change *changes,
                size_t n)
{
    stream *s = sink->host_private;
    if (s->emitted >= s->max_items) {
        s->stopped_by_us = 1;
        return EMBSYNC_RETRY;
    }
    held_batch *b = calloc(1, sizeof *b);
    if (b == NULL || (b->items = calloc(n ? n : 1, sizeof *b->items)) == NULL) {
        free(b);
        return EMBSYNC_FATAL;
    }
    b->n = n;
    for (size_t i = 0; i < n; i++) {
        const embsync_change *c = &changes[i];
        if (c->op != EMBSYNC_OP_UPSERT && c->op != EMBSYNC_OP_DELETE)
            note(s->problem, sizeof s->problem,
                 "item %" PRIu64 " has op %d, neither UPSERT nor DELETE",
                 c->id, c->op);
        else if (c->op == EMBSYNC_OP_UPSERT && !valid_payload(c->payload))
            note(s->problem, sizeof s->problem,
                 "item %" PRIu64 " payload is not a JSON object: %.80s", c->id,
                 c->payload);
        else if (!remember(s, c))
            note(s->problem, sizeof s->problem,
                 "item %" PRIu64 " is emitted twice in one pass", c->id);
        if (c->op == EMBSYNC_OP_UPSERT)
            s->upserts++;
        else
            s->deletes++;
        change_copy(&b->items[i].c, c);
        b->items[i].status = EMBSYNC_OK;
    }
    s->emitted += n;
    if (!s->pipeline) {
        batch_free(b);
        return EMBSYNC_OK;
    }
    /* Blocks while the fetch thread is behind: the backpressure the
     * daemon applies too. */
    if (es_queue_push(&s->to_fetch, b) != 0) {
        batch_free(b);
        return EMBSYNC_FAILED;
    }
    return EMBSYNC_OK;
}

static void fetch_batch(stream *s, held_batch *b)
{
    size_t m = 0;
    for (size_t i = 0; i < b->n; i++)
        m += b->items[i].c.op == EMBSYNC_OP_UPSERT;
    if (m == 0)
        return;
    embsync_change *items = calloc(m, sizeof *items);
    embsync_blob *blobs = calloc(m, sizeof *blobs);
    int *status = calloc(m, sizeof *status);
    char *reasons = calloc(m, REASON_LEN);
    size_t *where = calloc(m, sizeof *where);
    if (!items || !blobs || !status || !reasons || !where)
        goto out;
    for (size_t i = 0, j = 0; i < b->n; i++)
        if (b->items[i].c.op == EMBSYNC_OP_UPSERT) {
            items[j] = b->items[i].c;
            where[j] = i;
            es_blob_init(&blobs[j]);
            status[j] = -1;
            j++;
        }
    es_call_begin();
    es_call_item_errors(reasons, m, REASON_LEN);
    int rc = ops(s->t)->fetch(s->t->inst->state, s->collection, m, items,
                              blobs, status);
    es_call_item_errors(NULL, 0, 0);
    for (size_t j = 0; j < m; j++) {
        held_change *h = &b->items[where[j]];
        if (rc != EMBSYNC_OK) {
            h->status = rc;
            note(s->fetch_problem, sizeof s->fetch_problem,
                 "fetch of %zu items returned %s", m, pc_outcome(rc));
        } else if (status[j] == EMBSYNC_OK) {
            h->status = EMBSYNC_OK;
            if (blobs[j].data == NULL || blobs[j].len == 0) {
                h->status = EMBSYNC_ITEM_FAILED;
                note(s->fetch_problem, sizeof s->fetch_problem,
                     "item %" PRIu64 " fetched OK with no content", h->c.id);
            } else {
                s->fetch_ok++;
            }
        } else if (status[j] == EMBSYNC_ITEM_FAILED) {
            h->status = status[j];
            s->fetch_failed++;
            if (reasons[j * REASON_LEN] == '\0')
                note(s->fetch_problem, sizeof s->fetch_problem,
                     "item %" PRIu64 " failed without a reason "
                     "(set_item_error)", h->c.id);
        } else if (status[j] == EMBSYNC_RETRY) {
            h->status = status[j];
            s->fetch_retry++;
        } else {
            h->status = EMBSYNC_FAILED;
            note(s->fetch_problem, sizeof s->fetch_problem,
                 "item %" PRIu64 " has item status %d (expected OK, "
                 "ITEM_FAILED or RETRY)", h->c.id, status[j]);
        }
        es_blob_release(&blobs[j]);
    }
out:
    free(items);
    free(blobs);
    free(status);
    free(reasons);
    free(where);
}

static void *fetch_thread(void *arg)
{
    stream *s = arg;
    held_batch *b;
    while ((b = es_queue_pop(&s->to_fetch)) != NULL) {
        fetch_batch(s, b);
        if (es_queue_push(&s->to_ack, b) != 0)
            batch_free(b);
    }
    es_queue_close(&s->to_ack);
    return NULL;
}

/* Only what was fetched (or deleted) is acknowledged, as the daemon does
 * once the store has it. */
static void *ack_thread(void *arg)
{
    stream *s = arg;
    held_batch *b;
    while ((b = es_queue_pop(&s->to_ack)) != NULL) {
        embsync_change *done = calloc(b->n ? b->n : 1, sizeof *done);
        size_t n = 0;
        for (size_t i = 0; done != NULL && i < b->n; i++)
            if (b->items[i].status == EMBSYNC_OK)
                done[n++] = b->items[i].c;
        if (n > 0) {
            es_call_begin();
            int rc = ops(s->t)->ack(s->t->inst->state, s->collection, n, done);
            if (rc != EMBSYNC_OK) {
                note(s->ack_problem, sizeof s->ack_problem,
                     "ack of %zu items returned %s", n, pc_outcome(rc));
            } else {
                for (size_t i = 0; i < n; i++)
                    mark_acked(s, done[i].id);
                s->acked_n += n;
            }
        }
        free(done);
        batch_free(b);
    }
    return NULL;
}

static void stream_init(stream *s, pc_target *t, const char *collection)
{
    memset(s, 0, sizeof *s);
    s->t = t;
    s->collection = collection;
    s->max_items = t->max_items;
    s->sink = (embsync_change_sink){.abi = EMBSYNC_ABI_INIT(
                                        embsync_change_sink),
                                    .emit = emit,
                                    .host_private = s};
}

static void stream_free(stream *s)
{
    for (size_t i = 0; i < s->n_seen; i++)
        change_free(&s->seen[i]);
    free(s->seen);
    free(s->acked);
}

/* One changes() pass; with_pipeline runs fetch and ack beside it. */
static int stream_pass(stream *s, int with_pipeline)
{
    pthread_t fetcher, acker;
    s->pipeline = with_pipeline;
    if (with_pipeline) {
        es_queue_init(&s->to_fetch, QUEUE_DEPTH);
        es_queue_init(&s->to_ack, QUEUE_DEPTH);
        pthread_create(&fetcher, NULL, fetch_thread, s);
        pthread_create(&acker, NULL, ack_thread, s);
    }
    es_call_begin();
    int rc = ops(s->t)->changes(s->t->inst->state, s->collection, &s->sink);
    if (with_pipeline) {
        es_queue_close(&s->to_fetch);
        pthread_join(fetcher, NULL);
        pthread_join(acker, NULL);
        es_queue_destroy(&s->to_fetch);
        es_queue_destroy(&s->to_ack);
    }
    return rc;
}

static int collect_name(void *arg, const char *name)
{
    char **names = arg;
    for (int i = 0; i < MAX_COLLECTIONS; i++)
        if (names[i] == NULL) {
            names[i] = strdup(name);
            return 0;
        }
    return 1;
}

static int begin(pc_target *t, const char *coll)
{
    es_call_begin();
    return ops(t)->begin(t->inst->state, coll);
}

static int end(pc_target *t, const char *coll, int status)
{
    es_call_begin();
    return ops(t)->end(t->inst->state, coll, status);
}

static void check_first_pass(pc_target *t, pc_report *r, stream *s)
{
    int rc = stream_pass(s, 1);
    if (s->stopped_by_us) {
        if (rc != EMBSYNC_RETRY)
            pc_fail(r, "source/changes-stop",
                    "emit() answered RETRY to stop after %zu changes, but "
                    "changes() returned %s (it must return emit's status)",
                    s->emitted, pc_outcome(rc));
        else
            pc_pass(r, "source/changes-stop",
                    "changes() stops when emit() says so and returns its "
                    "status");
    } else if (rc != EMBSYNC_OK) {
        pc_fail(r, "source/changes", "changes() returned %s", pc_outcome(rc));
        return;
    }
    if (s->problem[0])
        pc_fail(r, "source/changes", "%s", s->problem);
    else
        pc_pass(r, "source/changes",
                "%zu changes streamed (%zu upserts, %zu deletes), ids unique, "
                "payloads JSON objects",
                s->emitted, s->upserts, s->deletes);
    if (s->upserts == 0)
        pc_skip(r, "source/fetch", "nothing to fetch: the collection has no "
                                   "pending upserts");
    else if (s->fetch_problem[0])
        pc_fail(r, "source/fetch", "%s", s->fetch_problem);
    else
        pc_pass(r, "source/fetch",
                "fetched on its own thread: %zu OK, %zu failed alone with a "
                "reason, %zu to retry",
                s->fetch_ok, s->fetch_failed, s->fetch_retry);
    if (s->ack_problem[0])
        pc_fail(r, "source/ack", "%s", s->ack_problem);
    else if (s->acked_n == 0)
        pc_skip(r, "source/ack", "nothing was fetched, so nothing to "
                                 "acknowledge");
    else
        pc_pass(r, "source/ack", "%zu changes acknowledged on a third thread",
                s->acked_n);
}

/* Acknowledge again everything acknowledged in the first pass. */
static void check_ack_again(pc_target *t, pc_report *r, stream *s,
                            const char *coll)
{
    if (s->acked_n == 0)
        return;
    embsync_change *done = calloc(s->n_seen, sizeof *done);
    if (done == NULL)
        return;
    size_t n = 0;
    for (size_t i = 0; i < s->n_seen; i++)
        if (s->acked[i])
            done[n++] = s->seen[i];
    es_call_begin();
    int rc = ops(t)->ack(t->inst->state, coll, n, done);
    free(done);
    if (rc != EMBSYNC_OK)
        pc_fail(r, "source/ack-idempotent", "acknowledging %zu changes a "
                "second time returned %s", n, pc_outcome(rc));
    else
        pc_pass(r, "source/ack-idempotent",
                "acknowledging the same changes twice is harmless");
}

static void check_converges(pc_target *t, pc_report *r, const stream *first,
                            const char *coll)
{
    stream again;
    stream_init(&again, t, coll);
    again.max_items = (size_t)-1;
    int rc = stream_pass(&again, 0);
    if (rc != EMBSYNC_OK) {
        pc_fail(r, "source/acked-not-repeated", "second changes() returned %s",
                pc_outcome(rc));
    } else {
        size_t repeated = 0;
        uint64_t example = 0;
        for (size_t i = 0; i < first->n_seen; i++) {
            const embsync_change *c = find_seen(&again, first->seen[i].id);
            if (first->acked[i] && c != NULL && c->op == first->seen[i].op) {
                repeated++;
                example = c->id;
            }
        }
        if (repeated)
            pc_fail(r, "source/acked-not-repeated",
                    "%zu acknowledged changes are reported again (e.g. item "
                    "%" PRIu64 ")", repeated, example);
        else
            pc_pass(r, "source/acked-not-repeated",
                    "acknowledged changes are not reported again");
    }
    stream_free(&again);
}

static void check_reset(pc_target *t, pc_report *r, const stream *first,
                        const char *coll)
{
    if (ops(t)->reset == NULL) {
        pc_skip(r, "source/reset", "the source has no reset()");
        return;
    }
    int rc = begin(t, coll);
    if (rc != EMBSYNC_OK) {
        pc_fail(r, "source/reset", "begin() returned %s", pc_outcome(rc));
        return;
    }
    es_call_begin();
    rc = ops(t)->reset(t->inst->state, coll);
    stream all;
    stream_init(&all, t, coll);
    all.max_items = (size_t)-1;
    if (rc != EMBSYNC_OK) {
        pc_fail(r, "source/reset", "reset() returned %s", pc_outcome(rc));
    } else if ((rc = stream_pass(&all, 0)) != EMBSYNC_OK) {
        pc_fail(r, "source/reset", "changes() after reset() returned %s",
                pc_outcome(rc));
    } else {
        size_t missing = 0;
        for (size_t i = 0; i < first->n_seen; i++) {
            if (!first->acked[i] || first->seen[i].op != EMBSYNC_OP_UPSERT)
                continue;
            const embsync_change *c = find_seen(&all, first->seen[i].id);
            missing += c == NULL || c->op != EMBSYNC_OP_UPSERT;
        }
        if (missing)
            pc_fail(r, "source/reset", "after reset(), %zu acknowledged items "
                    "are not reported again", missing);
        else
            pc_pass(r, "source/reset", "after reset(), every item is reported "
                                       "again");
    }
    /* Put the source back as it was: acknowledge what reset re-listed. */
    for (size_t at = 0; at < all.n_seen; at += 256) {
        size_t n = all.n_seen - at < 256 ? all.n_seen - at : 256;
        es_call_begin();
        ops(t)->ack(t->inst->state, coll, n, all.seen + at);
    }
    end(t, coll, rc);
    stream_free(&all);
}

/* ---- the optional 1.2 operations ------------------------------------- */

/* items(): every item once, as UPSERTs with JSON-object payloads, and at
 * least every item the first pass emitted as an upsert.  *all receives
 * the stream for the exists() check. */
static int check_items(pc_target *t, pc_report *r, const stream *first,
                       const char *coll, stream *all)
{
    stream_init(all, t, coll);
    all->max_items = (size_t)-1;
    if (ops(t)->items == NULL) {
        pc_skip(r, "source/items", "the source has no items() (optional, "
                                   "ABI 1.2)");
        return 0;
    }
    es_call_begin();
    int rc = ops(t)->items(t->inst->state, coll, &all->sink);
    if (rc != EMBSYNC_OK)
        return pc_fail(r, "source/items", "items() returned %s",
                       pc_outcome(rc));
    if (all->problem[0])
        return pc_fail(r, "source/items", "%s", all->problem);
    if (all->deletes > 0)
        return pc_fail(r, "source/items", "items() emitted %zu DELETE "
                       "changes; it lists the items there are, as UPSERTs",
                       all->deletes);
    size_t absent = 0;
    uint64_t example = 0;
    for (size_t i = 0; i < first->n_seen; i++) {
        if (first->seen[i].op != EMBSYNC_OP_UPSERT ||
            find_seen(all, first->seen[i].id) != NULL)
            continue;
        absent++;
        example = first->seen[i].id;
    }
    if (absent)
        return pc_fail(r, "source/items", "%zu items changes() gave as "
                       "upserts are not in items() (e.g. %" PRIu64 ")",
                       absent, example);
    pc_pass(r, "source/items", "%zu items, each once, as UPSERTs with JSON "
            "object payloads, including every upsert changes() gave",
            all->emitted);
    return 1;
}

/* exists(): what items() (or changes()) listed exists, asked with its ref
 * and with the id alone (an id read back from a store); ids the source
 * never gave and items it emitted as DELETEs do not. */
static void check_exists(pc_target *t, pc_report *r, const stream *first,
                         const stream *all)
{
    if (ops(t)->exists == NULL) {
        pc_skip(r, "source/exists", "the source has no exists() (optional, "
                                    "ABI 1.2)");
        return;
    }
    const stream *listed = all->n_seen > 0 ? all : first;
    enum { ASK = 64, UNKNOWN = 5 };
    embsync_change ask[ASK];
    int present[ASK];
    size_t n = 0;
    for (size_t i = 0; i < listed->n_seen && n < ASK / 2; i++)
        if (listed->seen[i].op == EMBSYNC_OP_UPSERT)
            ask[n++] = listed->seen[i];
    size_t with_ref = n;
    for (size_t i = 0; i < with_ref; i++) {
        ask[n] = ask[i];
        ask[n++].ref = NULL;
    }
    if (n == 0) {
        pc_skip(r, "source/exists", "no item was listed to ask about");
        return;
    }
    for (size_t i = 0; i < n; i++)
        present[i] = -1;
    es_call_begin();
    int rc = ops(t)->exists(t->inst->state, listed->collection, n, ask,
                            present);
    if (rc != EMBSYNC_OK) {
        pc_fail(r, "source/exists", "exists() returned %s", pc_outcome(rc));
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (present[i] != 1) {
            pc_fail(r, "source/exists", "item %" PRIu64 " (listed just now) "
                    "is answered %d %s", ask[i].id, present[i],
                    ask[i].ref ? "with its ref" : "by its id alone");
            return;
        }
    }
    pc_pass(r, "source/exists", "%zu listed items exist, asked with their "
            "ref and by id alone", with_ref);

    /* Gone: ids nobody listed, and what a pass emitted as deleted. */
    size_t m = 0;
    for (size_t u = 0; u < UNKNOWN; u++) {
        uint64_t id = UINT64_C(0x7ead00000000000f) + u * UINT64_C(0x1000000001);
        if (find_seen(listed, id) != NULL || find_seen(first, id) != NULL)
            continue;
        ask[m++] = (embsync_change){.abi = EMBSYNC_ABI_INIT(embsync_change),
                                    .id = id, .op = EMBSYNC_OP_UPSERT};
    }
    size_t deleted = 0;
    for (size_t i = 0; i < first->n_seen && m < ASK; i++) {
        if (first->seen[i].op != EMBSYNC_OP_DELETE ||
            find_seen(all, first->seen[i].id) != NULL)
            continue;
        ask[m++] = first->seen[i];
        deleted++;
    }
    for (size_t i = 0; i < m; i++)
        present[i] = -1;
    es_call_begin();
    rc = ops(t)->exists(t->inst->state, listed->collection, m, ask, present);
    if (rc != EMBSYNC_OK) {
        pc_fail(r, "source/exists-gone", "exists() returned %s",
                pc_outcome(rc));
        return;
    }
    for (size_t i = 0; i < m; i++) {
        if (present[i] != 0) {
            pc_fail(r, "source/exists-gone", "item %" PRIu64 " (%s) is "
                    "answered %d, not 0", ask[i].id,
                    i < m - deleted ? "never listed" : "emitted as deleted",
                    present[i]);
            return;
        }
    }
    pc_pass(r, "source/exists-gone", "%zu ids never listed and %zu deleted "
            "items do not exist", m - deleted, deleted);
}

/* items() changes nothing: after it, changes() still does not repeat what
 * was acknowledged (everything, after check_reset()). */
static void check_items_reset_nothing(pc_target *t, pc_report *r,
                                      const char *coll)
{
    if (ops(t)->items == NULL)
        return;
    stream all, after;
    stream_init(&all, t, coll);
    stream_init(&after, t, coll);
    all.max_items = after.max_items = (size_t)-1;
    int rc = begin(t, coll);
    if (rc != EMBSYNC_OK) {
        pc_fail(r, "source/items-resets-nothing", "begin() returned %s",
                pc_outcome(rc));
        return;
    }
    es_call_begin();
    rc = ops(t)->items(t->inst->state, coll, &all.sink);
    end(t, coll, rc);
    if (rc == EMBSYNC_OK && (rc = begin(t, coll)) == EMBSYNC_OK) {
        rc = stream_pass(&after, 0);
        end(t, coll, rc);
    }
    if (rc != EMBSYNC_OK) {
        pc_fail(r, "source/items-resets-nothing", "items() or the changes() "
                "after it returned %s", pc_outcome(rc));
    } else {
        size_t repeated = 0;
        for (size_t i = 0; i < all.n_seen; i++)
            repeated += find_seen(&after, all.seen[i].id) != NULL;
        if (repeated)
            pc_fail(r, "source/items-resets-nothing", "after items(), "
                    "changes() reports %zu of its %zu items again", repeated,
                    all.n_seen);
        else
            pc_pass(r, "source/items-resets-nothing", "after items(), "
                    "changes() reports none of its %zu items again",
                    all.n_seen);
    }
    stream_free(&all);
    stream_free(&after);
}

void pc_check_source(pc_target *t, pc_report *r)
{
    char *names[MAX_COLLECTIONS + 1] = {0};
    es_call_begin();
    int rc = ops(t)->list_collections(t->inst->state, collect_name, names);
    if (rc != EMBSYNC_OK) {
        pc_fail(r, "source/collections", "list_collections() returned %s",
                pc_outcome(rc));
        return;
    }
    if (names[0] == NULL) {
        pc_fail(r, "source/collections", "no collections listed: point the "
                "section at test data with at least one collection");
        return;
    }
    size_t n_names = 0;
    while (names[n_names] != NULL)
        n_names++;
    const char *coll = names[0];
    if (t->collection != NULL) {
        coll = NULL;
        for (size_t i = 0; i < n_names; i++)
            if (strcmp(names[i], t->collection) == 0)
                coll = names[i];
    }
    if (coll == NULL) {
        pc_fail(r, "source/collections", "collection %s is not listed",
                t->collection);
        goto out;
    }
    pc_pass(r, "source/collections", "%zu listed; exercising \"%s\"", n_names,
            coll);

    rc = begin(t, coll);
    if (rc != EMBSYNC_OK) {
        pc_fail(r, "source/begin", "begin(%s) returned %s", coll,
                pc_outcome(rc));
        goto out;
    }
    pc_pass(r, "source/begin", "begin() accepts the collection");
    stream first;
    stream_init(&first, t, coll);
    check_first_pass(t, r, &first);
    check_ack_again(t, r, &first, coll);
    stream all;
    check_items(t, r, &first, coll, &all);
    check_exists(t, r, &first, &all);
    stream_free(&all);
    rc = end(t, coll, EMBSYNC_OK);
    if (rc != EMBSYNC_OK)
        pc_fail(r, "source/end", "end(OK) returned %s", pc_outcome(rc));
    else
        pc_pass(r, "source/end", "end() closes the run");

    /* A closed run leaves nothing in progress: begin() works again, also
     * after a run that ended in failure. */
    rc = begin(t, coll);
    if (rc != EMBSYNC_OK) {
        pc_fail(r, "source/begin-end-balanced", "begin() after end() "
                "returned %s", pc_outcome(rc));
    } else {
        check_converges(t, r, &first, coll);
        int rc_end = end(t, coll, EMBSYNC_FAILED);
        int rc_again = rc_end == EMBSYNC_OK ? begin(t, coll) : rc_end;
        if (rc_again != EMBSYNC_OK)
            pc_fail(r, "source/begin-end-balanced",
                    "after end(FAILED), begin() returned %s",
                    pc_outcome(rc_again));
        else {
            end(t, coll, EMBSYNC_OK);
            pc_pass(r, "source/begin-end-balanced",
                    "every end(), after success or failure, clears the "
                    "in-progress mark");
        }
    }
    check_reset(t, r, &first, coll);
    check_items_reset_nothing(t, r, coll);
    stream_free(&first);
out:
    for (size_t i = 0; i < n_names; i++)
        free(names[i]);
}
