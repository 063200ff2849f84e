/* Store conformance: the contract of embsync_store_ops, exercised with
 * generated unit vectors and payloads.  Every check names what it
 * established or why it failed; later checks still run after a failure
 * where they can. */
#include <config.h>

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "check.h"

enum { DIM = 64, N_POINTS = 300, BATCH = 64, N_REPLACED = 20, N_REMOVED = 50 };

static const char COLL_A[] = "plugin-check-a";
static const char COLL_B[] = "plugin-check-b";
static const char IDENTITY[] = "plugin-check:model-1:64";

typedef struct hit_list {
    size_t n, cap;
    uint64_t ids[16];
    float scores[16];
    char *payloads[16];
} hit_list;

typedef struct fixture {
    pc_target *t;
    uint64_t ids[N_POINTS];
    float vectors[N_POINTS][DIM];
    char *payloads[N_POINTS];
    int removed[N_POINTS];
} fixture;

/* Points stored and not removed since. */
static uint64_t live_points(const fixture *f)
{
    uint64_t live = 0;
    for (size_t i = 0; i < N_POINTS; i++)
        live += !f->removed[i];
    return live;
}

static const embsync_store_ops *ops(const pc_target *t)
{
    return &t->module->ops.store;
}

static void *state(const pc_target *t)
{
    return t->inst->state;
}

/* Ids spread over the whole u64 range: small ones, ones just above 2^53
 * (where a double loses them) and ones near 2^64 (where a signed type
 * does). */
static uint64_t point_id(size_t i)
{
    switch (i % 3) {
    case 0: return 1 + i;
    case 1: return (UINT64_C(1) << 53) + 1 + i;
    default: return UINT64_MAX - i;
    }
}

static char *make_payload(size_t i, const char *generation)
{
    char buf[256];
    snprintf(buf, sizeof buf,
             "{\"check\":\"embsync-plugin-check\",\"n\":%zu,"
             "\"path\":\"set-%zu/image-%zu.jpg\",\"generation\":\"%s\","
             "\"tags\":[\"a\",\"b\"],\"nested\":{\"ok\":true}}",
             i, i % 7, i, generation);
    return strdup(buf);
}

static int json_equal(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return 0;
    cJSON *ja = cJSON_Parse(a), *jb = cJSON_Parse(b);
    int same = ja != NULL && jb != NULL && cJSON_Compare(ja, jb, 1);
    cJSON_Delete(ja);
    cJSON_Delete(jb);
    return same;
}

static int collect_hit(void *arg, const embsync_hit *hit)
{
    hit_list *l = arg;
    if (l->n == l->cap)
        return 1;
    l->ids[l->n] = hit->id;
    l->scores[l->n] = hit->score;
    l->payloads[l->n] = hit->payload != NULL ? strdup(hit->payload) : NULL;
    l->n++;
    return 0;
}

static void hits_free(hit_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->payloads[i]);
    l->n = 0;
}

static int search(pc_target *t, const char *coll, const float *v, size_t k,
                  hit_list *out)
{
    memset(out, 0, sizeof *out);
    out->cap = k < 16 ? k : 16;
    es_call_begin();
    return ops(t)->search(state(t), coll, v, k, collect_hit, out);
}

static int upsert_range(fixture *f, const char *coll, size_t from, size_t to)
{
    embsync_point pts[BATCH];
    for (size_t i = from; i < to; i += BATCH) {
        size_t n = to - i < BATCH ? to - i : BATCH;
        for (size_t j = 0; j < n; j++) {
            pts[j] = (embsync_point){.abi = EMBSYNC_ABI_INIT(embsync_point),
                                     .id = f->ids[i + j],
                                     .vector = f->vectors[i + j],
                                     .payload = f->payloads[i + j]};
        }
        es_call_begin();
        int rc = ops(f->t)->upsert(state(f->t), coll, n, pts);
        if (rc != EMBSYNC_OK)
            return rc;
    }
    return EMBSYNC_OK;
}

static int count_is(pc_target *t, pc_report *r, const char *name,
                    const char *coll, uint64_t want, const char *what)
{
    uint64_t got = 0;
    es_call_begin();
    int rc = ops(t)->count(state(t), coll, &got);
    if (rc != EMBSYNC_OK)
        return pc_fail(r, name, "count(%s) returned %s", coll, pc_outcome(rc));
    if (got != want)
        return pc_fail(r, name, "count(%s) is %" PRIu64 ", expected %" PRIu64,
                       coll, got, want);
    pc_pass(r, name, "%s", what);
    return 1;
}

static int ensure_gives(pc_target *t, pc_report *r, const char *name,
                        const char *coll, uint32_t dim, const char *identity,
                        int want, const char *what)
{
    static const char *const results[] = {"?", "EXISTS", "CREATED",
                                          "MISMATCH", "ADOPTED"};
    embsync_collection_spec spec = {.abi = EMBSYNC_ABI_INIT(
                                        embsync_collection_spec),
                                    .dim = dim,
                                    .metric = EMBSYNC_METRIC_COSINE,
                                    .identity = identity};
    int result = 0;
    es_call_begin();
    int rc = ops(t)->ensure(state(t), coll, &spec, &result);
    if (rc != EMBSYNC_OK)
        return pc_fail(r, name, "ensure(%s) returned %s", coll,
                       pc_outcome(rc));
    if (result != want)
        return pc_fail(r, name, "ensure(%s) said %s, expected %s", coll,
                       result >= 1 && result <= 4 ? results[result] : "?",
                       results[want]);
    pc_pass(r, name, "%s", what);
    return 1;
}

/* Each live point must come back first for its own vector, with a score
 * of ~1 and exactly the payload last written. */
static int self_hits(fixture *f, pc_report *r, const char *name,
                     const char *coll, size_t step, const char *what)
{
    for (size_t i = 0; i < N_POINTS; i += step) {
        if (f->removed[i])
            continue;
        hit_list h;
        int rc = search(f->t, coll, f->vectors[i], 3, &h);
        if (rc != EMBSYNC_OK) {
            hits_free(&h);
            return pc_fail(r, name, "search returned %s", pc_outcome(rc));
        }
        int good = h.n > 0 && h.ids[0] == f->ids[i];
        if (!good) {
            pc_fail(r, name,
                    "point %" PRIu64 " is not its own top hit (top: %s%" PRIu64
                    ", %zu hits)",
                    f->ids[i], h.n ? "" : "none ", h.n ? h.ids[0] : 0, h.n);
        } else if (!(h.scores[0] > 0.99f && h.scores[0] < 1.01f)) {
            good = 0;
            pc_fail(r, name,
                    "point %" PRIu64 " matches itself with score %g, not ~1 "
                    "(cosine of a unit vector with itself)",
                    f->ids[i], (double)h.scores[0]);
        } else if (!json_equal(h.payloads[0], f->payloads[i])) {
            good = 0;
            pc_fail(r, name, "point %" PRIu64 " payload is %s, stored %s",
                    f->ids[i], h.payloads[0] ? h.payloads[0] : "(none)",
                    f->payloads[i]);
        }
        hits_free(&h);
        if (!good)
            return 0;
    }
    pc_pass(r, name, "%s", what);
    return 1;
}

static void check_ranking(fixture *f, pc_report *r)
{
    hit_list h;
    int rc = search(f->t, COLL_A, f->vectors[5], 10, &h);
    if (rc != EMBSYNC_OK) {
        pc_fail(r, "store/search-ranking", "search returned %s",
                pc_outcome(rc));
    } else if (h.n != 10) {
        pc_fail(r, "store/search-ranking",
                "k = 10 over %d points gave %zu hits", N_POINTS, h.n);
    } else {
        const char *bad = NULL;
        for (size_t i = 1; i < h.n && bad == NULL; i++) {
            if (h.scores[i] > h.scores[i - 1])
                bad = "scores are not in descending order";
            for (size_t j = 0; j < i; j++)
                if (h.ids[j] == h.ids[i])
                    bad = "the same id is returned twice";
        }
        if (bad)
            pc_fail(r, "store/search-ranking", "%s", bad);
        else
            pc_pass(r, "store/search-ranking",
                    "k = 10 gives 10 distinct hits, nearest first");
    }
    hits_free(&h);
}

static void check_replace(fixture *f, pc_report *r, uint64_t *seed)
{
    /* New vectors and payloads for existing ids: the old vector must no
     * longer find them, the count must not grow. */
    float old[N_REPLACED][DIM];
    for (size_t i = 0; i < N_REPLACED; i++) {
        memcpy(old[i], f->vectors[i], sizeof old[i]);
        pc_unit_vector(seed, f->vectors[i], DIM);
        free(f->payloads[i]);
        f->payloads[i] = make_payload(i, "replaced");
    }
    int rc = upsert_range(f, COLL_A, 0, N_REPLACED);
    if (rc != EMBSYNC_OK) {
        pc_fail(r, "store/upsert-replace", "upsert of existing ids returned %s",
                pc_outcome(rc));
        return;
    }
    if (!count_is(f->t, r, "store/upsert-replace", COLL_A, N_POINTS,
                  "upserting existing ids replaces them (count unchanged)"))
        return;
    self_hits(f, r, "store/replace-vector-payload", COLL_A, 1,
              "a replaced point is found by its new vector with its new "
              "payload");
    for (size_t i = 0; i < N_REPLACED; i++) {
        hit_list h;
        rc = search(f->t, COLL_A, old[i], 1, &h);
        int stale = rc == EMBSYNC_OK && h.n > 0 && h.ids[0] == f->ids[i] &&
                    h.scores[0] > 0.99f;
        hits_free(&h);
        if (rc != EMBSYNC_OK) {
            pc_fail(r, "store/replace-old-vector", "search returned %s",
                    pc_outcome(rc));
            return;
        }
        if (stale) {
            pc_fail(r, "store/replace-old-vector",
                    "point %" PRIu64 " is still found by its old vector",
                    f->ids[i]);
            return;
        }
    }
    pc_pass(r, "store/replace-old-vector",
            "the old vector of a replaced point is gone");
}

static void check_remove(fixture *f, pc_report *r)
{
    /* Remove every fifth point, plus ids that were never stored. */
    uint64_t ids[N_REMOVED + 5];
    size_t n = 0;
    for (size_t i = N_REPLACED; i < N_POINTS && n < N_REMOVED; i += 5) {
        ids[n++] = f->ids[i];
        f->removed[i] = 1;
    }
    size_t known = n;
    for (int u = 0; u < 5; u++)
        ids[n++] = UINT64_C(0x7ead000000000000) + (uint64_t)u;
    es_call_begin();
    int rc = ops(f->t)->remove(state(f->t), COLL_A, n, ids);
    if (rc != EMBSYNC_OK) {
        pc_fail(r, "store/remove", "remove of %zu ids (5 unknown) returned %s",
                n, pc_outcome(rc));
        return;
    }
    if (!count_is(f->t, r, "store/remove", COLL_A, N_POINTS - known,
                  "remove deletes the known ids and ignores unknown ones"))
        return;
    for (size_t i = 0; i < N_POINTS; i++) {
        if (!f->removed[i])
            continue;
        hit_list h;
        rc = search(f->t, COLL_A, f->vectors[i], 1, &h);
        int found = rc == EMBSYNC_OK && h.n > 0 && h.ids[0] == f->ids[i];
        hits_free(&h);
        if (rc != EMBSYNC_OK || found) {
            pc_fail(r, "store/remove-search",
                    "removed point %" PRIu64 " %s", f->ids[i],
                    found ? "is still found" : pc_outcome(rc));
            return;
        }
    }
    pc_pass(r, "store/remove-search", "removed points are no longer found");
    es_call_begin();
    rc = ops(f->t)->remove(state(f->t), COLL_A, n, ids);
    if (rc != EMBSYNC_OK)
        pc_fail(r, "store/remove-again",
                "removing the same ids twice returned %s", pc_outcome(rc));
    else
        count_is(f->t, r, "store/remove-again", COLL_A, N_POINTS - known,
                 "removing the same ids again is harmless");
}

static void check_isolation(fixture *f, pc_report *r, uint64_t *seed)
{
    if (!ensure_gives(f->t, r, "store/second-collection", COLL_B, DIM,
                      IDENTITY, EMBSYNC_ENSURE_CREATED,
                      "a second collection is created beside the first"))
        return;
    /* The same ids with other vectors: collections must not share ids. */
    embsync_point pts[10];
    float vecs[10][DIM];
    for (size_t i = 0; i < 10; i++) {
        pc_unit_vector(seed, vecs[i], DIM);
        pts[i] = (embsync_point){.abi = EMBSYNC_ABI_INIT(embsync_point),
                                 .id = f->ids[N_POINTS - 1 - i],
                                 .vector = vecs[i],
                                 .payload = "{\"collection\":\"b\"}"};
    }
    es_call_begin();
    int rc = ops(f->t)->upsert(state(f->t), COLL_B, 10, pts);
    if (rc != EMBSYNC_OK) {
        pc_fail(r, "store/isolation", "upsert into %s returned %s", COLL_B,
                pc_outcome(rc));
        return;
    }
    if (count_is(f->t, r, "store/isolation", COLL_A, live_points(f),
                 "writes to one collection leave another untouched"))
        self_hits(f, r, "store/isolation-search", COLL_A, 7,
                  "the same ids in two collections keep their own vectors");
}

static void check_persistence(fixture *f, pc_report *r)
{
    if (!(f->t->module->desc.flags & EMBSYNC_PLUGIN_PERSISTENT)) {
        pc_skip(r, "store/persistence",
                "the plugin does not declare EMBSYNC_PLUGIN_PERSISTENT");
        return;
    }
    char err[1024];
    if (pc_reopen(f->t, err, sizeof err) != 0) {
        pc_fail(r, "store/persistence", "reopening failed: %s", err);
        return;
    }
    if (count_is(f->t, r, "store/persistence", COLL_A, live_points(f),
                 "close() and open() keep every point"))
        self_hits(f, r, "store/persistence-search", COLL_A, 3,
                  "after reopening, points keep their vectors and payloads");
    ensure_gives(f->t, r, "store/persistence-model", COLL_A, DIM, IDENTITY,
                 EMBSYNC_ENSURE_EXISTS,
                 "after reopening, the recorded model still matches");
}

static void check_drop(fixture *f, pc_report *r)
{
    es_call_begin();
    int rc = ops(f->t)->drop(state(f->t), COLL_A);
    if (rc != EMBSYNC_OK) {
        pc_fail(r, "store/drop", "drop returned %s", pc_outcome(rc));
        return;
    }
    if (!count_is(f->t, r, "store/drop", COLL_A, 0,
                  "drop removes the collection and its points"))
        return;
    ensure_gives(f->t, r, "store/drop-recreate", COLL_A, DIM,
                 "plugin-check:model-2:64", EMBSYNC_ENSURE_CREATED,
                 "a dropped collection is created afresh for a new model");
}

/* ---- the optional 1.2 operations ------------------------------------- */

static int by_id(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Page through list_ids(coll) from `start`, `page` ids a call, as the
 * host does; checks each page's order and size.  Returns the number of
 * ids in out (at most cap), or -1 after reporting the failure. */
static long list_all(pc_target *t, pc_report *r, const char *name,
                     const char *coll, uint64_t start, size_t page,
                     uint64_t *out, size_t cap)
{
    uint64_t *buf = malloc(page * sizeof *buf);
    size_t total = 0;
    long rc_total = -1;
    if (buf == NULL)
        return -1;
    for (unsigned calls = 0; calls < 10000; calls++) {
        size_t n = (size_t)-1;
        es_call_begin();
        int rc = ops(t)->list_ids(state(t), coll, start, page, buf, &n);
        if (rc != EMBSYNC_OK) {
            pc_fail(r, name, "list_ids(%s, start %" PRIu64 ", max %zu) "
                    "returned %s", coll, start, page, pc_outcome(rc));
            goto out;
        }
        if (n > page) {
            pc_fail(r, name, "list_ids(max %zu) gave %zu ids", page, n);
            goto out;
        }
        for (size_t i = 0; i < n; i++) {
            if (buf[i] < start || (i > 0 && buf[i] <= buf[i - 1])) {
                pc_fail(r, name, "list_ids(start %" PRIu64 ", max %zu) is not "
                        "ascending from start: id %" PRIu64 " at %zu%s",
                        start, page, buf[i], i,
                        buf[i] < start ? " is below start" : "");
                goto out;
            }
            if (total == cap) {
                pc_fail(r, name, "list_ids gave more than the %zu ids "
                        "stored", cap);
                goto out;
            }
            out[total++] = buf[i];
        }
        if (n < page || buf[n - 1] == UINT64_MAX) {
            rc_total = (long)total;
            goto out;
        }
        start = buf[n - 1] + 1;
    }
    pc_fail(r, name, "list_ids never ended (10000 pages)");
out:
    free(buf);
    return rc_total;
}

static void check_list_ids(fixture *f, pc_report *r)
{
    pc_target *t = f->t;
    if (ops(t)->list_ids == NULL) {
        pc_skip(r, "store/list-ids", "the store has no list_ids() (optional, "
                                     "ABI 1.2)");
        return;
    }
    uint64_t want[N_POINTS], got[N_POINTS + 1];
    size_t n_want = 0;
    for (size_t i = 0; i < N_POINTS; i++)
        if (!f->removed[i])
            want[n_want++] = f->ids[i];
    qsort(want, n_want, sizeof *want, by_id);
    /* Pages of 1, of 7 (not dividing the count), and one page for all. */
    static const size_t pages[] = {1, 7, N_POINTS + 1};
    int good = 1;
    for (size_t p = 0; good && p < sizeof pages / sizeof pages[0]; p++) {
        long n = list_all(t, r, "store/list-ids", COLL_A, 0, pages[p], got,
                          N_POINTS + 1);
        if (n < 0) {
            good = 0;
        } else if ((size_t)n != n_want ||
                   memcmp(got, want, n_want * sizeof *want)) {
            pc_fail(r, "store/list-ids", "paged by %zu, list_ids gave %ld ids, "
                    "not the %zu stored and not removed", pages[p], n, n_want);
            good = 0;
        }
    }
    if (good)
        pc_pass(r, "store/list-ids", "pages of 1, 7 and all give the %zu live "
                "ids in ascending order, up to 2^64-1, none removed", n_want);

    /* From a start inside the range: exactly the ids >= start. */
    uint64_t start = want[n_want / 2] + 1;
    size_t from = n_want / 2 + 1;
    long n = list_all(t, r, "store/list-ids-start", COLL_A, start, 7, got,
                      N_POINTS + 1);
    if (n >= 0) {
        if ((size_t)n != n_want - from ||
            memcmp(got, want + from, (size_t)n * sizeof *want))
            pc_fail(r, "store/list-ids-start", "from %" PRIu64 ", list_ids "
                    "gave %ld ids, not the %zu at or above it", start, n,
                    n_want - from);
        else
            pc_pass(r, "store/list-ids-start", "from a start between two ids, "
                    "exactly the %zu ids above it", n_want - from);
    }
    n = list_all(t, r, "store/list-ids-missing", "plugin-check-never-made", 0,
                 7, got, N_POINTS + 1);
    if (n > 0)
        pc_fail(r, "store/list-ids-missing", "a missing collection lists %ld "
                "ids", n);
    else if (n == 0)
        pc_pass(r, "store/list-ids-missing", "a missing collection has no ids");
}

static void check_contains(fixture *f, pc_report *r)
{
    pc_target *t = f->t;
    if (ops(t)->contains == NULL) {
        pc_skip(r, "store/contains", "the store has no contains() (optional, "
                                     "ABI 1.2)");
        return;
    }
    enum { UNKNOWN = 5 };
    uint64_t ids[N_POINTS + UNKNOWN];
    int present[N_POINTS + UNKNOWN];
    for (size_t i = 0; i < N_POINTS; i++)
        ids[i] = f->ids[i];
    for (size_t u = 0; u < UNKNOWN; u++)
        ids[N_POINTS + u] = UINT64_C(0x7ead000000000000) + u;
    size_t n = N_POINTS + UNKNOWN;
    for (size_t i = 0; i < n; i++)
        present[i] = -1;
    es_call_begin();
    int rc = ops(t)->contains(state(t), COLL_A, n, ids, present);
    if (rc != EMBSYNC_OK) {
        pc_fail(r, "store/contains", "contains() returned %s", pc_outcome(rc));
        return;
    }
    size_t wrong = n;
    for (size_t i = 0; i < n && wrong == n; i++)
        if (present[i] != (i < N_POINTS && !f->removed[i]))
            wrong = i;
    if (wrong < n)
        pc_fail(r, "store/contains", "id %" PRIu64 " (%s) is answered %d",
                ids[wrong], wrong >= N_POINTS ? "never stored"
                            : f->removed[wrong] ? "removed" : "stored",
                present[wrong]);
    else
        pc_pass(r, "store/contains", "stored ids are present, removed and "
                "never stored ones absent");
    for (size_t i = 0; i < n; i++)
        present[i] = -1;
    es_call_begin();
    rc = ops(t)->contains(state(t), "plugin-check-never-made", n, ids, present);
    wrong = 0;
    for (size_t i = 0; rc == EMBSYNC_OK && i < n; i++)
        wrong += present[i] != 0;
    if (rc != EMBSYNC_OK)
        pc_fail(r, "store/contains-missing", "contains() on a missing "
                "collection returned %s", pc_outcome(rc));
    else if (wrong)
        pc_fail(r, "store/contains-missing", "a missing collection contains "
                "%zu of %zu ids", wrong, n);
    else
        pc_pass(r, "store/contains-missing",
                "a missing collection contains nothing");
}

/* ---- aliases (optional, 1.2) ----------------------------------------- */

static const char ALIAS[] = "plugin-check-alias";
static const char ALIAS_X[] = "plugin-check-alias-x";
static const char ALIAS_Y[] = "plugin-check-alias-y";
enum { ALIAS_POINTS = 5 };

/* alias_get(name) must answer want; reports a failure otherwise. */
static int alias_is(pc_target *t, pc_report *r, const char *name,
                    const char *alias, const char *want, const char *what)
{
    char got[256] = "(unset)";
    es_call_begin();
    int rc = ops(t)->alias_get(state(t), alias, got, sizeof got);
    if (rc != EMBSYNC_OK)
        return pc_fail(r, name, "alias_get(%s) returned %s", alias,
                       pc_outcome(rc));
    if (strcmp(got, want) != 0)
        return pc_fail(r, name, "alias_get(%s) is \"%s\", expected \"%s\"",
                       alias, got, want);
    if (what != NULL)
        pc_pass(r, name, "%s", what);
    return 1;
}

/* A collection of ALIAS_POINTS points, ids 1.., each payload naming it. */
static int alias_fill(pc_target *t, const char *coll, uint64_t *seed,
                      float vecs[][DIM])
{
    embsync_collection_spec spec = {.abi = EMBSYNC_ABI_INIT(
                                        embsync_collection_spec),
                                    .dim = DIM,
                                    .metric = EMBSYNC_METRIC_COSINE,
                                    .identity = IDENTITY};
    int result = 0;
    es_call_begin();
    int rc = ops(t)->ensure(state(t), coll, &spec, &result);
    embsync_point pts[ALIAS_POINTS];
    char payload[128];
    snprintf(payload, sizeof payload, "{\"collection\":\"%s\"}", coll);
    for (size_t i = 0; i < ALIAS_POINTS; i++) {
        pc_unit_vector(seed, vecs[i], DIM);
        pts[i] = (embsync_point){.abi = EMBSYNC_ABI_INIT(embsync_point),
                                 .id = 1 + i, .vector = vecs[i],
                                 .payload = payload};
    }
    if (rc == EMBSYNC_OK) {
        es_call_begin();
        rc = ops(t)->upsert(state(t), coll, ALIAS_POINTS, pts);
    }
    return rc;
}

/* A search of `alias` for vecs[0] must find point 1 of `coll`. */
static int alias_reads(pc_target *t, pc_report *r, const char *name,
                       const char *alias, const char *coll, float vecs[][DIM],
                       const char *what)
{
    hit_list h;
    char want[128];
    snprintf(want, sizeof want, "{\"collection\":\"%s\"}", coll);
    int rc = search(t, alias, vecs[0], 1, &h);
    int good = rc == EMBSYNC_OK && h.n == 1 && h.ids[0] == 1 &&
               json_equal(h.payloads[0], want);
    if (rc != EMBSYNC_OK)
        pc_fail(r, name, "search(%s) returned %s", alias, pc_outcome(rc));
    else if (!good)
        pc_fail(r, name, "search(%s) found %s, not point 1 of %s", alias,
                h.n ? (h.payloads[0] ? h.payloads[0] : "no payload")
                    : "nothing", coll);
    hits_free(&h);
    if (good)
        good = count_is(t, r, name, alias, ALIAS_POINTS, what);
    return good;
}

static void check_aliases(pc_target *t, pc_report *r, uint64_t *seed)
{
    if (ops(t)->alias_get == NULL || ops(t)->alias_set == NULL) {
        pc_skip(r, "store/alias", "the store has no alias_get()/alias_set() "
                                  "(optional, ABI 1.2)");
        return;
    }
    static float vx[ALIAS_POINTS][DIM], vy[ALIAS_POINTS][DIM],
        vp[ALIAS_POINTS][DIM];
    const char *colls[] = {ALIAS, ALIAS_X, ALIAS_Y};
    for (size_t i = 0; i < 3; i++) {
        es_call_begin();
        ops(t)->drop(state(t), colls[i]);
    }
    alias_is(t, r, "store/alias-get-missing", ALIAS, "",
             "alias_get() of a name that is neither collection nor alias "
             "is \"\"");
    if (alias_fill(t, ALIAS_X, seed, vx) != EMBSYNC_OK ||
        alias_fill(t, ALIAS, seed, vp) != EMBSYNC_OK) {
        pc_fail(r, "store/alias", "cannot make the collections %s and %s",
                ALIAS_X, ALIAS);
        return;
    }
    alias_is(t, r, "store/alias-get-plain", ALIAS_X, ALIAS_X,
             "alias_get() of a plain collection is the collection itself");
    es_call_begin();
    int rc = ops(t)->alias_set(state(t), ALIAS, ALIAS_X);
    if (rc != EMBSYNC_OK) {
        pc_fail(r, "store/alias-set-plain", "alias_set(%s -> %s) over a plain "
                "collection returned %s", ALIAS, ALIAS_X, pc_outcome(rc));
        return;
    }
    if (alias_is(t, r, "store/alias-set-plain", ALIAS, ALIAS_X, NULL))
        alias_reads(t, r, "store/alias-set-plain", ALIAS, ALIAS_X, vx,
                    "a plain collection made an alias: reads of it find the "
                    "target's points, none of its own");

    if (alias_fill(t, ALIAS_Y, seed, vy) != EMBSYNC_OK) {
        pc_fail(r, "store/alias-repoint", "cannot make %s", ALIAS_Y);
        return;
    }
    /* Y is not visible through the alias until the switch. */
    alias_reads(t, r, "store/alias-before-switch", ALIAS, ALIAS_X, vx,
                "a collection built beside the alias's target is not read "
                "through the alias before the switch");
    es_call_begin();
    rc = ops(t)->alias_set(state(t), ALIAS, ALIAS_Y);
    if (rc != EMBSYNC_OK) {
        pc_fail(r, "store/alias-repoint", "alias_set(%s -> %s) returned %s",
                ALIAS, ALIAS_Y, pc_outcome(rc));
        return;
    }
    if (alias_is(t, r, "store/alias-repoint", ALIAS, ALIAS_Y, NULL))
        alias_reads(t, r, "store/alias-repoint", ALIAS, ALIAS_Y, vy,
                    "repointing the alias switches what a search returns");
    count_is(t, r, "store/alias-repoint-keeps-old", ALIAS_X, ALIAS_POINTS,
             "the collection the alias pointed to before is left alone");

    ensure_gives(t, r, "store/alias-ensure", ALIAS, DIM, IDENTITY,
                 EMBSYNC_ENSURE_EXISTS,
                 "ensure() through an alias finds its target's model");
    embsync_point extra = {.abi = EMBSYNC_ABI_INIT(embsync_point), .id = 99,
                           .vector = vx[1], .payload = "{}"};
    es_call_begin();
    rc = ops(t)->upsert(state(t), ALIAS, 1, &extra);
    if (rc != EMBSYNC_OK)
        pc_fail(r, "store/alias-write", "upsert through the alias returned %s",
                pc_outcome(rc));
    else
        count_is(t, r, "store/alias-write", ALIAS_Y, ALIAS_POINTS + 1,
                 "a write through the alias lands in its target");
    es_call_begin();
    rc = ops(t)->remove(state(t), ALIAS, 1, &extra.id);
    if (rc != EMBSYNC_OK)
        pc_fail(r, "store/alias-remove", "remove through the alias returned %s",
                pc_outcome(rc));
    else
        count_is(t, r, "store/alias-remove", ALIAS_Y, ALIAS_POINTS,
                 "a remove through the alias removes from its target");

    if (t->module->desc.flags & EMBSYNC_PLUGIN_PERSISTENT) {
        char err[1024];
        if (pc_reopen(t, err, sizeof err) != 0)
            pc_fail(r, "store/alias-persistence", "reopening failed: %s", err);
        else if (alias_is(t, r, "store/alias-persistence", ALIAS, ALIAS_Y, NULL))
            alias_reads(t, r, "store/alias-persistence", ALIAS, ALIAS_Y, vy,
                        "an alias survives close() and open()");
    }

    es_call_begin();
    rc = ops(t)->alias_set(state(t), ALIAS, "plugin-check-never-made");
    if (rc == EMBSYNC_OK)
        pc_fail(r, "store/alias-set-missing-target", "alias_set() to a missing "
                "collection returned OK");
    else if (alias_is(t, r, "store/alias-set-missing-target", ALIAS, ALIAS_Y,
                      NULL))
        pc_pass(r, "store/alias-set-missing-target", "alias_set() to a missing "
                "collection fails and leaves the alias as it was");

    es_call_begin();
    rc = ops(t)->drop(state(t), ALIAS);
    if (rc != EMBSYNC_OK)
        pc_fail(r, "store/alias-drop", "drop of the alias returned %s",
                pc_outcome(rc));
    else if (alias_is(t, r, "store/alias-drop", ALIAS, "", NULL) &&
             alias_is(t, r, "store/alias-drop", ALIAS_Y, "", NULL))
        count_is(t, r, "store/alias-drop", ALIAS_X, ALIAS_POINTS,
                 "drop() of an alias drops it and its target, nothing else");
    for (size_t i = 0; i < 3; i++) {
        es_call_begin();
        ops(t)->drop(state(t), colls[i]);
    }
}

static void cleanup(pc_target *t)
{
    if (t->inst == NULL)
        return;
    es_call_begin();
    ops(t)->drop(state(t), COLL_A);
    es_call_begin();
    ops(t)->drop(state(t), COLL_B);
}

void pc_check_store(pc_target *t, pc_report *r)
{
    static fixture f;
    memset(&f, 0, sizeof f);
    f.t = t;
    uint64_t seed = 20261130;
    for (size_t i = 0; i < N_POINTS; i++) {
        f.ids[i] = point_id(i);
        pc_unit_vector(&seed, f.vectors[i], DIM);
        f.payloads[i] = make_payload(i, "first");
    }

    /* Leftovers of an interrupted earlier check must not decide this one. */
    es_call_begin();
    int rc = ops(t)->drop(state(t), COLL_A);
    es_call_begin();
    int rc_b = ops(t)->drop(state(t), COLL_B);
    if (rc != EMBSYNC_OK || rc_b != EMBSYNC_OK)
        pc_fail(r, "store/drop-missing", "drop of a missing collection "
                "returned %s", pc_outcome(rc != EMBSYNC_OK ? rc : rc_b));
    else
        pc_pass(r, "store/drop-missing", "dropping a missing collection is OK");
    count_is(t, r, "store/count-missing", COLL_A, 0,
             "a missing collection counts 0");

    if (!ensure_gives(t, r, "store/ensure-create", COLL_A, DIM, IDENTITY,
                      EMBSYNC_ENSURE_CREATED,
                      "ensure() creates a missing collection"))
        goto out;
    ensure_gives(t, r, "store/ensure-exists", COLL_A, DIM, IDENTITY,
                 EMBSYNC_ENSURE_EXISTS,
                 "ensure() finds the collection it created");
    ensure_gives(t, r, "store/ensure-mismatch-dim", COLL_A, DIM * 2, IDENTITY,
                 EMBSYNC_ENSURE_MISMATCH,
                 "another dimension is reported as MISMATCH");
    ensure_gives(t, r, "store/ensure-mismatch-model", COLL_A, DIM,
                 "plugin-check:model-2:64", EMBSYNC_ENSURE_MISMATCH,
                 "another model identity is reported as MISMATCH");
    ensure_gives(t, r, "store/ensure-unchanged", COLL_A, DIM, IDENTITY,
                 EMBSYNC_ENSURE_EXISTS,
                 "a MISMATCH answer changed nothing");

    rc = upsert_range(&f, COLL_A, 0, N_POINTS);
    if (rc != EMBSYNC_OK) {
        pc_fail(r, "store/upsert", "upsert returned %s", pc_outcome(rc));
        goto out;
    }
    pc_pass(r, "store/upsert", "300 points upserted in batches of 64, ids "
                               "up to 2^64-1");
    count_is(t, r, "store/count", COLL_A, N_POINTS,
             "count() reports every point");
    self_hits(&f, r, "store/search-self", COLL_A, 1,
              "every point is its own top hit, score ~1, payload intact");
    check_ranking(&f, r);
    check_replace(&f, r, &seed);
    check_remove(&f, r);
    check_list_ids(&f, r);
    check_contains(&f, r);
    check_isolation(&f, r, &seed);
    check_persistence(&f, r);
    if (t->inst != NULL)
        check_aliases(t, r, &seed);
    if (t->inst != NULL)
        check_drop(&f, r);
out:
    cleanup(t);
    for (size_t i = 0; i < N_POINTS; i++)
        free(f.payloads[i]);
}
