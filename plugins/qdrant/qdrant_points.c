/* Points: upsert, remove, count, search, and the id listing and lookup
 * reconciliation pages through.  Every id leaving is printed as an exact
 * integer; every id arriving is read from the answer's digits
 * (qdrant_records.h), never from cJSON's double. */
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "qdrant_grpc.h"
#include "qdrant_records.h"
#include "qdrant_store.h"

/* Ids per scroll or retrieve request: answers of a few tens of kilobytes,
 * whatever the caller's page size. */
#define IDS_PER_REQUEST 1024

/* The vector size of a collection, from its info. */
static int collection_dim(qdrant *q, const char *name, uint32_t *dim)
{
    if (q->known_dim != 0 && strcmp(q->known_name, name) == 0) {
        *dim = q->known_dim;
        return EMBSYNC_OK;
    }
    char info_path[4096];
    if (qdrant_collection_path(q, name, "", info_path, sizeof info_path) != 0)
        return EMBSYNC_FAILED;
    qdrant_reply r;
    int rc = qdrant_call(&q->client, "GET", info_path, NULL, 0, &r);
    if (rc == EMBSYNC_OK && r.status != 200)
        rc = qdrant_failure(&q->client, &r, "get collection");
    const cJSON *config = cJSON_GetObjectItemCaseSensitive(qdrant_result(&r), "config");
    const cJSON *size = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(config, "params"), "vectors"),
        "size");
    *dim = (uint32_t)qdrant_json_uint(size, 65536);
    qdrant_reply_free(&r);
    if (rc == EMBSYNC_OK && *dim == 0) {
        HOST(q)->set_error(CTX(q), "collection %s: unknown vector size", name);
        rc = EMBSYNC_FAILED;
    }
    if (rc == EMBSYNC_OK)
        qdrant_remember_dim(q, name, *dim);
    return rc;
}

/* The records of a 200 answer, exact ids and payload spans; *recs is
 * malloc'd (free it), *n their number.  The list cJSON found and the one
 * read from the text must agree, or the answer is not trusted. */
static int answer_records(qdrant *q, const qdrant_reply *r, qdrant_layout layout,
                          const char *what, qdrant_record **recs, size_t *n)
{
    const cJSON *result = qdrant_result(r);
    const cJSON *list = layout == QDRANT_RECORDS_IN_POINTS
                            ? cJSON_GetObjectItemCaseSensitive(result, "points")
                            : result;
    *recs = NULL;
    *n = 0;
    if (!cJSON_IsArray(list)) {
        HOST(q)->set_error(CTX(q), "%s: Qdrant's answer holds no list of points", what);
        return EMBSYNC_FAILED;
    }
    size_t size = (size_t)cJSON_GetArraySize(list);
    *recs = calloc(size ? size : 1, sizeof **recs);
    if (*recs == NULL) {
        HOST(q)->set_error(CTX(q), "out of memory");
        return EMBSYNC_FAILED;
    }
    long found = qdrant_records(r->text, layout, *recs, size);
    if (found < 0 || (size_t)found != size) {
        HOST(q)->set_error(CTX(q), "%s: cannot read the point ids of Qdrant's answer",
                           what);
        free(*recs);
        *recs = NULL;
        return EMBSYNC_FAILED;
    }
    *n = size;
    return EMBSYNC_OK;
}

/* A body being written: text[0..len) of cap bytes. */
typedef struct body_text {
    char *text;
    size_t len, cap;
} body_text;

/* Room for `more` bytes after the text, or -1 when memory runs out. */
static int body_reserve(body_text *b, size_t more)
{
    if (b->cap - b->len >= more)
        return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->len < more)
        cap *= 2;
    char *grown = realloc(b->text, cap);
    if (grown == NULL)
        return -1;
    b->text = grown;
    b->cap = cap;
    return 0;
}

static void body_put(body_text *b, const char *s, size_t n)
{
    memcpy(b->text + b->len, s, n);
    b->len += n;
}

/* {"points":[{"id":N,"vector":[...],"payload":{...}}, ...]} with exact ids,
 * floats that round-trip f32, and each payload exactly as the source gave
 * it (after checking it is a JSON object).  Written straight into one
 * buffer, each vector's text in place: the body is the largest thing the
 * framework writes, so it is neither printed through stdio nor copied. */
static char *upsert_body(qdrant *q, size_t n, const embsync_point *points,
                         size_t stride, uint32_t dim, size_t *len)
{
    static const char head[] = "{\"points\":[", tail[] = "]}";
    size_t vector_max = EMBSYNC_JSON_FLOAT_ARRAY_MAX(dim);
    body_text b = {0};
    if (body_reserve(&b, sizeof head) != 0)
        return NULL;
    body_put(&b, head, sizeof head - 1);
    for (size_t i = 0; i < n; i++) {
        const embsync_point *p = (const embsync_point *)((const char *)points + i * stride);
        const char *payload = p->payload != NULL ? p->payload : "{}";
        size_t payload_len = strlen(payload);
        char id[48];
        int id_len = snprintf(id, sizeof id, "%s{\"id\":%" PRIu64 ",\"vector\":",
                              i ? "," : "", p->id);
        static const char payload_key[] = ",\"payload\":";
        if (body_reserve(&b, (size_t)id_len + vector_max + sizeof payload_key +
                                 payload_len + 1 + sizeof tail) != 0) {
            free(b.text);
            return NULL;
        }
        body_put(&b, id, (size_t)id_len);
        size_t vector_len = HOST(q)->json_float_array(p->vector, dim,
                                                      b.text + b.len, vector_max);
        cJSON *parsed = vector_len > 0 ? cJSON_ParseWithLength(payload, payload_len) : NULL;
        int is_object = cJSON_IsObject(parsed);
        cJSON_Delete(parsed);
        if (!is_object) {
            HOST(q)->set_error(CTX(q), "point %" PRIu64 ": %s", p->id,
                               vector_len == 0 ? "vector is not finite"
                                               : "payload is not a JSON object");
            free(b.text);
            return NULL;
        }
        b.len += vector_len;
        body_put(&b, payload_key, sizeof payload_key - 1);
        body_put(&b, payload, payload_len);
        body_put(&b, "}", 1);
    }
    body_put(&b, tail, sizeof tail); /* with its NUL */
    *len = b.len - 1;
    return b.text;
}

static int is_oversize(const qdrant_reply *r)
{
    return r->status == 400 && r->text != NULL &&
           strstr(r->text, "larger than allowed") != NULL;
}

/* One REST upsert of n points; *oversize when Qdrant refused the body as
 * over its limit (the failure is set too, for a batch that cannot be
 * halved). */
static int upsert_rest(qdrant *q, const char *path, size_t n,
                       const embsync_point *points, size_t stride, uint32_t dim,
                       int *oversize)
{
    size_t len;
    char *body = upsert_body(q, n, points, stride, dim, &len);
    if (body == NULL)
        return EMBSYNC_FAILED;
    qdrant_reply r;
    int rc = qdrant_call(&q->client, "PUT", path, body, len, &r);
    free(body);
    *oversize = rc == EMBSYNC_OK && is_oversize(&r);
    if (rc == EMBSYNC_OK && r.status != 200 && !(*oversize && n > 1))
        rc = qdrant_failure(&q->client, &r, "upsert");
    qdrant_reply_free(&r);
    return rc;
}

/* Upsert n points over REST (path) or gRPC (the collection's full name);
 * a batch over the server's size limit is halved, each half again, until
 * every part fits or a single point does not. */
static int upsert_chunk(qdrant *q, const char *target, size_t n,
                        const embsync_point *points, size_t stride, uint32_t dim)
{
    int oversize = 0;
    int rc = q->grpc_base != NULL
                 ? qdrant_grpc_upsert(q, target, n, points, stride, dim, &oversize)
                 : upsert_rest(q, target, n, points, stride, dim, &oversize);
    if (!oversize || n < 2)
        return rc;
    size_t half = n / 2;
    HOST(q)->log(CTX(q), EMBSYNC_LOG_WARNING,
                 "upsert of %zu points is over Qdrant's %s limit; halving", n,
                 q->grpc_base != NULL ? "gRPC message" : "body");
    rc = upsert_chunk(q, target, half, points, stride, dim);
    if (rc == EMBSYNC_OK)
        rc = upsert_chunk(q, target, n - half,
                          (const embsync_point *)((const char *)points + half * stride),
                          stride, dim);
    return rc;
}

int qdrant_upsert(void *state, const char *name, size_t n, const embsync_point *points)
{
    qdrant *q = state;
    if (n == 0)
        return EMBSYNC_OK;
    char path[4096], suffix[64];
    snprintf(suffix, sizeof suffix, "/points?wait=true%s", q->options.ordering_query);
    if (qdrant_collection_path(q, name, suffix, path, sizeof path) != 0)
        return EMBSYNC_FAILED;
    uint32_t dim;
    int rc = collection_dim(q, name, &dim);
    if (rc != EMBSYNC_OK)
        return rc;
    size_t stride = points[0].abi.size ? points[0].abi.size : sizeof *points;
    char full[1024];
    if (q->grpc_base != NULL && qdrant_full_name(q, name, full, sizeof full) != 0)
        return EMBSYNC_FAILED;
    const char *target = q->grpc_base != NULL ? full : path;
    for (size_t at = 0; at < n && rc == EMBSYNC_OK; at += (size_t)q->batch_size) {
        size_t chunk = n - at < (size_t)q->batch_size ? n - at : (size_t)q->batch_size;
        rc = upsert_chunk(q, target, chunk,
                          (const embsync_point *)((const char *)points + at * stride),
                          stride, dim);
    }
    return rc;
}

/* "[id,id,...]" of ids[0..n) into a memstream text (free it). */
static char *id_list_body(const char *before, const uint64_t *ids, size_t n,
                          const char *after, size_t *len)
{
    char *body = NULL;
    FILE *fp = open_memstream(&body, len);
    if (fp == NULL)
        return NULL;
    fputs(before, fp);
    for (size_t i = 0; i < n; i++)
        fprintf(fp, i ? ",%" PRIu64 : "%" PRIu64, ids[i]);
    fputs(after, fp);
    if (fclose(fp) != 0) {
        free(body);
        return NULL;
    }
    return body;
}

int qdrant_remove(void *state, const char *name, size_t n, const uint64_t *ids)
{
    qdrant *q = state;
    char path[4096], suffix[64];
    snprintf(suffix, sizeof suffix, "/points/delete?wait=true%s",
             q->options.ordering_query);
    if (qdrant_collection_path(q, name, suffix, path, sizeof path) != 0)
        return EMBSYNC_FAILED;
    int rc = EMBSYNC_OK;
    size_t per = (size_t)q->batch_size * 8;
    char full[1024];
    if (q->grpc_base != NULL && qdrant_full_name(q, name, full, sizeof full) != 0)
        return EMBSYNC_FAILED;
    for (size_t at = 0; at < n && rc == EMBSYNC_OK; at += per) {
        size_t chunk = n - at < per ? n - at : per;
        if (q->grpc_base != NULL) {
            rc = qdrant_grpc_delete(q, full, chunk, ids + at);
            continue;
        }
        size_t len;
        char *body = id_list_body("{\"points\":[", ids + at, chunk, "]}", &len);
        if (body == NULL)
            return EMBSYNC_FAILED;
        qdrant_reply r;
        rc = qdrant_call(&q->client, "POST", path, body, len, &r);
        free(body);
        /* A missing collection holds none of these points: done. */
        if (rc == EMBSYNC_OK && r.status != 200 && r.status != 404)
            rc = qdrant_failure(&q->client, &r, "delete points");
        qdrant_reply_free(&r);
    }
    return rc;
}

int qdrant_count(void *state, const char *name, uint64_t *count)
{
    qdrant *q = state;
    char path[4096];
    *count = 0;
    if (qdrant_collection_path(q, name, "/points/count", path, sizeof path) != 0)
        return EMBSYNC_FAILED;
    qdrant_reply r;
    static const char body[] = "{\"exact\":true}";
    int rc = qdrant_call(&q->client, "POST", path, body, sizeof body - 1, &r);
    if (rc == EMBSYNC_OK && r.status == 200) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(qdrant_result(&r), "count");
        *count = qdrant_json_uint(c, 18446744073709549568.0);
    } else if (rc == EMBSYNC_OK && r.status != 404) {
        rc = qdrant_failure(&q->client, &r, "count");
    }
    qdrant_reply_free(&r);
    return rc;
}

int qdrant_search(void *state, const char *name, const float *vector, size_t k,
                  embsync_hit_cb cb, void *arg)
{
    qdrant *q = state;
    char path[4096];
    if (qdrant_collection_path(q, name, "/points/query", path, sizeof path) != 0)
        return EMBSYNC_FAILED;
    uint32_t dim;
    int rc = collection_dim(q, name, &dim);
    if (rc != EMBSYNC_OK)
        return rc;
    qdrant_reply r;
    size_t cap = EMBSYNC_JSON_FLOAT_ARRAY_MAX(dim), len = 0;
    char *query = malloc(cap), *body = NULL;
    if (query == NULL)
        return EMBSYNC_FAILED;
    if (HOST(q)->json_float_array(vector, dim, query, cap) == 0) {
        free(query);
        HOST(q)->set_error(CTX(q), "query vector is not finite");
        return EMBSYNC_FAILED;
    }
    FILE *fp = open_memstream(&body, &len);
    if (fp == NULL) {
        free(query);
        return EMBSYNC_FAILED;
    }
    fprintf(fp, "{\"query\":%s,\"limit\":%zu,\"with_payload\":true}", query, k ? k : 1);
    fclose(fp);
    free(query);
    rc = qdrant_call(&q->client, "POST", path, body, len, &r);
    free(body);
    if (rc == EMBSYNC_OK && r.status != 200)
        rc = qdrant_failure(&q->client, &r, "query");
    qdrant_record *recs = NULL;
    size_t n = 0;
    if (rc == EMBSYNC_OK)
        rc = answer_records(q, &r, QDRANT_RECORDS_IN_POINTS, "query", &recs, &n);
    const cJSON *point = rc == EMBSYNC_OK
                             ? cJSON_GetObjectItemCaseSensitive(qdrant_result(&r), "points")->child
                             : NULL;
    for (size_t i = 0; i < n; i++, point = point->next) {
        if (!recs[i].has_int_id)
            continue; /* a UUID point: written by someone else */
        const cJSON *score = cJSON_GetObjectItemCaseSensitive(point, "score");
        char *payload = recs[i].payload_len
                            ? strndup(r.text + recs[i].payload_at, recs[i].payload_len)
                            : NULL;
        embsync_hit hit = {
            .abi = EMBSYNC_ABI_INIT(embsync_hit),
            .id = recs[i].id,
            .score = cJSON_IsNumber(score) && fabs(score->valuedouble) <= FLT_MAX
                         ? (float)score->valuedouble : 0.0f,
            .payload = payload,
        };
        int stop = cb(arg, &hit);
        free(payload);
        if (stop)
            break;
    }
    free(recs);
    qdrant_reply_free(&r);
    return rc;
}

/* Scroll in id order from `start`, without payloads or vectors, at most
 * IDS_PER_REQUEST ids per request: memory stays flat however large the
 * caller's page or the collection. */
int qdrant_list_ids(void *state, const char *name, uint64_t start, size_t max,
                    uint64_t *ids, size_t *n)
{
    qdrant *q = state;
    char path[4096];
    *n = 0;
    if (qdrant_collection_path(q, name, "/points/scroll", path, sizeof path) != 0)
        return EMBSYNC_FAILED;
    int rc = EMBSYNC_OK, more = 1;
    while (rc == EMBSYNC_OK && more && *n < max) {
        size_t want = max - *n < IDS_PER_REQUEST ? max - *n : IDS_PER_REQUEST;
        char body[160];
        snprintf(body, sizeof body,
                 "{\"offset\":%" PRIu64 ",\"limit\":%zu,\"with_payload\":false,"
                 "\"with_vector\":false}", start, want);
        qdrant_reply r;
        rc = qdrant_call(&q->client, "POST", path, body, strlen(body), &r);
        if (rc == EMBSYNC_OK && r.status == 404) {
            qdrant_reply_free(&r); /* no collection, no ids */
            break;
        }
        if (rc == EMBSYNC_OK && r.status != 200)
            rc = qdrant_failure(&q->client, &r, "scroll");
        qdrant_record *recs = NULL;
        size_t got = 0;
        if (rc == EMBSYNC_OK)
            rc = answer_records(q, &r, QDRANT_RECORDS_IN_POINTS, "scroll", &recs, &got);
        const cJSON *next = cJSON_GetObjectItemCaseSensitive(qdrant_result(&r),
                                                             "next_page_offset");
        /* Go by next_page_offset, not by the page's length: a server may cap
         * the limit below what was asked. */
        more = rc == EMBSYNC_OK && got > 0 && cJSON_IsNumber(next);
        /* Never more than asked, whatever the server sent: ids[] holds max. */
        for (size_t i = 0; rc == EMBSYNC_OK && i < got && *n < max; i++) {
            if (!recs[i].has_int_id) {
                more = 0; /* UUIDs sort after every integer id */
                break;
            }
            if (recs[i].id < start) {
                HOST(q)->set_error(CTX(q), "scroll: Qdrant answered id %" PRIu64
                                   " out of order (expected >= %" PRIu64 ")",
                                   recs[i].id, start);
                rc = EMBSYNC_FAILED;
                break;
            }
            ids[(*n)++] = recs[i].id;
            if (recs[i].id == UINT64_MAX)
                more = 0;
            else
                start = recs[i].id + 1;
        }
        free(recs);
        qdrant_reply_free(&r);
    }
    return rc;
}

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Retrieve by ids without payloads or vectors; the ids found are sorted and
 * each asked id looked up in them. */
int qdrant_contains(void *state, const char *name, size_t n, const uint64_t *ids,
                    int *present)
{
    qdrant *q = state;
    char path[4096];
    memset(present, 0, n * sizeof *present);
    if (qdrant_collection_path(q, name, "/points", path, sizeof path) != 0)
        return EMBSYNC_FAILED;
    int rc = EMBSYNC_OK;
    for (size_t at = 0; at < n && rc == EMBSYNC_OK; at += IDS_PER_REQUEST) {
        size_t chunk = n - at < IDS_PER_REQUEST ? n - at : IDS_PER_REQUEST, len;
        char *body = id_list_body("{\"ids\":[", ids + at, chunk,
                                  "],\"with_payload\":false,\"with_vector\":false}", &len);
        if (body == NULL)
            return EMBSYNC_FAILED;
        qdrant_reply r;
        rc = qdrant_call(&q->client, "POST", path, body, len, &r);
        free(body);
        if (rc == EMBSYNC_OK && r.status == 404) {
            qdrant_reply_free(&r); /* no collection: none present */
            break;
        }
        if (rc == EMBSYNC_OK && r.status != 200)
            rc = qdrant_failure(&q->client, &r, "retrieve points");
        qdrant_record *recs = NULL;
        size_t got = 0, found = 0;
        if (rc == EMBSYNC_OK)
            rc = answer_records(q, &r, QDRANT_RECORDS_IN_RESULT, "retrieve points",
                                &recs, &got);
        uint64_t *have = rc == EMBSYNC_OK ? malloc((got ? got : 1) * sizeof *have) : NULL;
        if (rc == EMBSYNC_OK && have == NULL)
            rc = EMBSYNC_FAILED;
        for (size_t i = 0; have != NULL && i < got; i++)
            if (recs[i].has_int_id)
                have[found++] = recs[i].id;
        if (have != NULL) {
            qsort(have, found, sizeof *have, compare_u64);
            for (size_t i = 0; i < chunk; i++)
                present[at + i] =
                    bsearch(&ids[at + i], have, found, sizeof *have, compare_u64) != NULL;
        }
        free(have);
        free(recs);
        qdrant_reply_free(&r);
    }
    return rc;
}
