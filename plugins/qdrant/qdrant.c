/* qdrant: the production store, over Qdrant's REST API.
 *
 * One Qdrant collection per source collection (named collection_prefix +
 * name), one unnamed vector, the model identity recorded in the
 * collection's metadata (Qdrant 1.16+; older servers ignore metadata, so
 * the record is kept in the plugin's state directory instead).  Writes use
 * wait=true: an OK from upsert or remove means Qdrant applied it. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <float.h>
#include <math.h>

#include <cjson/cJSON.h>

#include <embsync/plugin.h>

#include "qdrant_client.h"

#define PLUGIN_VERSION "1.0"
/* Point ids above 2^53 do not survive a JSON number parsed as double, so
 * each payload also carries its id as a string. */
#define ID_FIELD "embsync_id"

typedef struct qdrant {
    qdrant_client client;
    const char *prefix;
    const char *distance;     /* Cosine, Dot, Euclid, Manhattan */
    long batch_size;
    char index_field[128];
    char index_type[32];
    const char *state_dir;
    int server_major, server_minor;
    /* The vector size of the last collection ensured: upserts need it and
     * the host serialises calls, so one entry saves a request per batch. */
    char known_name[1024];
    uint32_t known_dim;
} qdrant;

static const embsync_config_key keys[] = {
    {"url", EMBSYNC_KEY_STRING, NULL, EMBSYNC_KEY_REQUIRED,
     "Qdrant REST address, http(s)://host:6333"},
    {"api_key", EMBSYNC_KEY_STRING, NULL, EMBSYNC_KEY_SECRET,
     "API key, sent as the api-key header (or api_key_file = PATH)"},
    {"collection_prefix", EMBSYNC_KEY_STRING, "", 0,
     "prefix of every Qdrant collection name (several deployments, one Qdrant)"},
    {"distance", EMBSYNC_KEY_STRING, "Cosine", 0, "Cosine, Dot, Euclid or Manhattan"},
    {"batch_size", EMBSYNC_KEY_INT, "128", 0, "points per upsert request"},
    {"timeout", EMBSYNC_KEY_INT, "60", 0, "seconds per request"},
    {"ca_file", EMBSYNC_KEY_STRING, NULL, 0, "extra CA bundle for https"},
    {"verify_tls", EMBSYNC_KEY_BOOL, "true", 0, "verify the server certificate"},
    {"payload_index", EMBSYNC_KEY_STRING, "dataset_id:keyword", 0,
     "FIELD:TYPE payload index created with each collection (empty: none)"},
    {NULL, 0, NULL, 0, NULL},
};

#define HOST(q) ((q)->client.host)
#define CTX(q) ((q)->client.ctx)

/* ---- helpers ------------------------------------------------------------- */

static int collection_path(qdrant *q, const char *name, const char *suffix,
                           char *out, size_t len)
{
    char full[1024], escaped[3100];
    if (snprintf(full, sizeof full, "%s%s", q->prefix, name) >= (int)sizeof full ||
        qdrant_escape(full, escaped, sizeof escaped) != 0 ||
        snprintf(out, len, "/collections/%s%s", escaped, suffix) >= (int)len) {
        HOST(q)->set_error(CTX(q), "collection name too long: %s", name);
        return -1;
    }
    return 0;
}

static int metric_of(const char *distance)
{
    if (strcmp(distance, "Cosine") == 0)
        return EMBSYNC_METRIC_COSINE;
    if (strcmp(distance, "Dot") == 0)
        return EMBSYNC_METRIC_DOT;
    return EMBSYNC_METRIC_EUCLID;
}

/* Where the model record lives on servers without collection metadata. */
static FILE *local_record(qdrant *q, const char *name, const char *mode)
{
    char escaped[3100], path[4096];
    if (q->state_dir == NULL || qdrant_escape(name, escaped, sizeof escaped) != 0)
        return NULL;
    snprintf(path, sizeof path, "%s/%s%s.model", q->state_dir, q->prefix, escaped);
    if (mode == NULL) {
        remove(path);
        return NULL;
    }
    return fopen(path, mode);
}

static int has_metadata(const qdrant *q)
{
    return q->server_major > 1 || (q->server_major == 1 && q->server_minor >= 16);
}

/* A JSON number as a non-negative integer no larger than max, or 0 when
 * the server sent anything else: converting a negative, fractional or
 * huge double is undefined behaviour. */
static uint64_t json_uint(const cJSON *v, double max)
{
    if (!cJSON_IsNumber(v))
        return 0;
    double d = v->valuedouble;
    if (!(d >= 0 && d <= max) || d != (double)(uint64_t)d)
        return 0;
    return (uint64_t)d;
}

static void remember_dim(qdrant *q, const char *name, uint32_t dim)
{
    snprintf(q->known_name, sizeof q->known_name, "%s", name);
    q->known_dim = dim;
}

/* ---- open / close / check ------------------------------------------------ */

static void learn_version(qdrant *q)
{
    qdrant_reply r;
    if (qdrant_call(&q->client, "GET", "/", NULL, 0, &r) != EMBSYNC_OK ||
        r.status != 200) {
        qdrant_reply_free(&r);
        return;
    }
    const char *version = cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(r.json, "version"));
    if (version != NULL &&
        sscanf(version, "%d.%d", &q->server_major, &q->server_minor) == 2) {
        HOST(q)->log(CTX(q), EMBSYNC_LOG_INFO, "Qdrant %s at %s", version,
                     q->client.base);
        if (q->server_major == 1 && q->server_minor < 10)
            HOST(q)->log(CTX(q), EMBSYNC_LOG_WARNING,
                         "Qdrant %s is older than 1.10: /points/query is missing",
                         version);
        if (!has_metadata(q))
            HOST(q)->log(CTX(q), EMBSYNC_LOG_WARNING,
                         "Qdrant %s keeps no collection metadata (1.16+): the "
                         "model record is kept in %s",
                         version, q->state_dir ? q->state_dir : "(no state dir)");
    }
    qdrant_reply_free(&r);
}

static int qd_open(const embsync_host *host, embsync_ctx *ctx, void **state)
{
    qdrant *q = calloc(1, sizeof *q);
    if (q == NULL)
        return EMBSYNC_FATAL;
    q->client.host = host;
    q->client.ctx = ctx;
    if (!EMBSYNC_HOST_HAS(host, json_float_array)) {
        host->set_error(ctx, "needs a host with json_float_array (ABI 1.1)");
        free(q);
        return EMBSYNC_FATAL;
    }
    const char *url = host->config_get(ctx, "url");
    q->client.base = strdup(url);
    size_t len = strlen(q->client.base);
    while (len > 0 && q->client.base[len - 1] == '/')
        q->client.base[--len] = '\0';
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
        host->set_error(ctx, "url must start with http:// or https://: %s", url);
        goto fatal;
    }
    const char *key = host->config_get(ctx, "api_key");
    if (key != NULL && *key != '\0') {
        size_t n = strlen(key) + 10;
        q->client.key_header = malloc(n);
        snprintf(q->client.key_header, n, "api-key: %s", key);
        if (strncmp(url, "http://", 7) == 0)
            host->log(ctx, EMBSYNC_LOG_WARNING,
                      "the API key goes over plain http; use https");
    }
    q->client.ca_file = host->config_get(ctx, "ca_file");
    q->client.timeout_ms = host->config_int(ctx, "timeout", 60) * 1000;
    if (!host->config_bool(ctx, "verify_tls", 1))
        q->client.flags |= EMBSYNC_HTTP_INSECURE;
    q->prefix = host->config_get(ctx, "collection_prefix");
    q->distance = host->config_get(ctx, "distance");
    if (strcmp(q->distance, "Cosine") && strcmp(q->distance, "Dot") &&
        strcmp(q->distance, "Euclid") && strcmp(q->distance, "Manhattan")) {
        host->set_error(ctx, "distance must be Cosine, Dot, Euclid or Manhattan, not %s",
                        q->distance);
        goto fatal;
    }
    q->batch_size = host->config_int(ctx, "batch_size", 128);
    if (q->batch_size < 1 || q->batch_size > 100000) {
        host->set_error(ctx, "batch_size must be from 1 to 100000");
        goto fatal;
    }
    const char *index = host->config_get(ctx, "payload_index");
    if (index != NULL && *index != '\0' &&
        sscanf(index, "%127[^:]:%31s", q->index_field, q->index_type) != 2) {
        host->set_error(ctx, "payload_index must be FIELD:TYPE, not %s", index);
        goto fatal;
    }
    q->state_dir = host->state_dir(ctx);
    learn_version(q);
    *state = q;
    return EMBSYNC_OK;
fatal:
    free(q->client.base);
    free(q->client.key_header);
    free(q);
    return EMBSYNC_FATAL;
}

static void qd_close(void *state)
{
    qdrant *q = state;
    if (q == NULL)
        return;
    free(q->client.base);
    free(q->client.key_header);
    free(q);
}

static int qd_check(void *state)
{
    qdrant *q = state;
    qdrant_reply r;
    int rc = qdrant_call(&q->client, "GET", "/readyz", NULL, 0, &r);
    if (rc == EMBSYNC_OK && r.status != 200) {
        HOST(q)->set_error(CTX(q), "Qdrant is not ready (%ld): %s", r.status,
                           r.text ? r.text : "");
        rc = EMBSYNC_RETRY;
    }
    if (rc == EMBSYNC_OK && q->server_major == 0)
        learn_version(q);
    qdrant_reply_free(&r);
    return rc;
}

/* ---- collections ----------------------------------------------------------- */

static int create_collection(qdrant *q, const char *name,
                             const embsync_collection_spec *spec)
{
    char path[4096];
    if (collection_path(q, name, "", path, sizeof path) != 0)
        return EMBSYNC_FAILED;
    cJSON *body = cJSON_CreateObject();
    cJSON *vectors = cJSON_AddObjectToObject(body, "vectors");
    cJSON_AddNumberToObject(vectors, "size", spec->dim);
    cJSON_AddStringToObject(vectors, "distance", q->distance);
    cJSON *meta = cJSON_AddObjectToObject(body, "metadata");
    cJSON_AddStringToObject(meta, "embsync_model", spec->identity);
    cJSON_AddNumberToObject(meta, "embsync_dim", spec->dim);
    cJSON_AddStringToObject(meta, "embsync_version", PLUGIN_VERSION);
    char *text = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    qdrant_reply r;
    int rc = qdrant_call(&q->client, "PUT", path, text, strlen(text), &r);
    cJSON_free(text);
    /* 409: a create whose answer was lost, retried; it exists now. */
    if (rc == EMBSYNC_OK && r.status != 200 && r.status != 409)
        rc = qdrant_failure(&q->client, &r, "create collection");
    qdrant_reply_free(&r);
    if (rc != EMBSYNC_OK)
        return rc;

    if (q->index_field[0] != '\0') {
        char ipath[4200], ibody[256];
        collection_path(q, name, "/index?wait=true", ipath, sizeof ipath);
        snprintf(ibody, sizeof ibody, "{\"field_name\":\"%s\",\"field_schema\":\"%s\"}",
                 q->index_field, q->index_type);
        rc = qdrant_call(&q->client, "PUT", ipath, ibody, strlen(ibody), &r);
        if (rc == EMBSYNC_OK && r.status != 200)
            rc = qdrant_failure(&q->client, &r, "create payload index");
        qdrant_reply_free(&r);
    }
    if (rc == EMBSYNC_OK && !has_metadata(q)) {
        FILE *fp = local_record(q, name, "w");
        if (fp == NULL || fprintf(fp, "%s\n", spec->identity) < 0) {
            HOST(q)->set_error(CTX(q), "cannot keep the model record of %s", name);
            rc = EMBSYNC_FAILED;
        }
        if (fp != NULL && fclose(fp) != 0)
            rc = EMBSYNC_FAILED;
    }
    return rc;
}

static int qd_ensure(void *state, const char *name,
                     const embsync_collection_spec *spec, int *result)
{
    qdrant *q = state;
    char path[4096];
    if (collection_path(q, name, "", path, sizeof path) != 0)
        return EMBSYNC_FAILED;
    qdrant_reply r;
    int rc = qdrant_call(&q->client, "GET", path, NULL, 0, &r);
    if (rc != EMBSYNC_OK) {
        qdrant_reply_free(&r);
        return rc;
    }
    if (r.status == 404) {
        qdrant_reply_free(&r);
        if (metric_of(q->distance) != spec->metric &&
            !(spec->metric == EMBSYNC_METRIC_COSINE && strcmp(q->distance, "Dot") == 0))
            HOST(q)->log(CTX(q), EMBSYNC_LOG_WARNING,
                         "distance %s differs from the embedder's metric",
                         q->distance);
        rc = create_collection(q, name, spec);
        if (rc == EMBSYNC_OK) {
            *result = EMBSYNC_ENSURE_CREATED;
            remember_dim(q, name, spec->dim);
        }
        return rc;
    }
    if (r.status != 200) {
        rc = qdrant_failure(&q->client, &r, "get collection");
        qdrant_reply_free(&r);
        return rc;
    }
    const cJSON *config = cJSON_GetObjectItemCaseSensitive(qdrant_result(&r), "config");
    const cJSON *vectors = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(config, "params"), "vectors");
    const cJSON *size = cJSON_GetObjectItemCaseSensitive(vectors, "size");
    const char *distance = cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(vectors, "distance"));
    const char *model = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(config, "metadata"), "embsync_model"));
    char recorded[256] = "";
    if (model == NULL) {
        FILE *fp = local_record(q, name, "r");
        if (fp != NULL) {
            if (fgets(recorded, sizeof recorded, fp) != NULL)
                recorded[strcspn(recorded, "\n")] = '\0';
            fclose(fp);
            model = recorded;
        }
    }
    if (!cJSON_IsNumber(size) || distance == NULL) {
        HOST(q)->set_error(CTX(q), "collection %s has no single unnamed vector", name);
        *result = EMBSYNC_ENSURE_MISMATCH;
    } else if (json_uint(size, 4294967295.0) != spec->dim ||
               strcmp(distance, q->distance) != 0 || model == NULL ||
               strcmp(model, spec->identity) != 0) {
        /* No record at all (a collection made by another tool) is a
         * mismatch too: never write vectors of an unknown model into it. */
        HOST(q)->set_error(CTX(q), "Qdrant collection holds %s (size %.0f, %s)",
                           model ? model : "an unrecorded model",
                           size->valuedouble, distance);
        *result = EMBSYNC_ENSURE_MISMATCH;
    } else {
        *result = EMBSYNC_ENSURE_EXISTS;
        remember_dim(q, name, spec->dim);
    }
    qdrant_reply_free(&r);
    return EMBSYNC_OK;
}

static int qd_drop(void *state, const char *name)
{
    qdrant *q = state;
    char path[4096];
    if (collection_path(q, name, "", path, sizeof path) != 0)
        return EMBSYNC_FAILED;
    qdrant_reply r;
    int rc = qdrant_call(&q->client, "DELETE", path, NULL, 0, &r);
    /* result false: it was already gone, which is what we wanted. */
    if (rc == EMBSYNC_OK && r.status != 200)
        rc = qdrant_failure(&q->client, &r, "delete collection");
    qdrant_reply_free(&r);
    if (rc == EMBSYNC_OK) {
        local_record(q, name, NULL);
        q->known_dim = 0;
    }
    return rc;
}

/* ---- points ------------------------------------------------------------------ */

/* The vector size of a collection, from its info. */
static int collection_dim(qdrant *q, const char *info_path, const char *name,
                          uint32_t *dim)
{
    if (q->known_dim != 0 && strcmp(q->known_name, name) == 0) {
        *dim = q->known_dim;
        return EMBSYNC_OK;
    }
    qdrant_reply r;
    int rc = qdrant_call(&q->client, "GET", info_path, NULL, 0, &r);
    if (rc == EMBSYNC_OK && r.status != 200)
        rc = qdrant_failure(&q->client, &r, "get collection");
    const cJSON *config = cJSON_GetObjectItemCaseSensitive(qdrant_result(&r), "config");
    const cJSON *size = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(config, "params"), "vectors"),
        "size");
    *dim = (uint32_t)json_uint(size, 65536);
    qdrant_reply_free(&r);
    if (rc == EMBSYNC_OK && *dim == 0) {
        HOST(q)->set_error(CTX(q), "collection %s: unknown vector size", name);
        rc = EMBSYNC_FAILED;
    }
    if (rc == EMBSYNC_OK)
        remember_dim(q, name, *dim);
    return rc;
}

/* The payload with the id added as a string (see ID_FIELD). */
static char *payload_with_id(const char *payload, uint64_t id)
{
    cJSON *o = cJSON_Parse(payload != NULL ? payload : "{}");
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return NULL;
    }
    char text[24];
    snprintf(text, sizeof text, "%" PRIu64, id);
    cJSON_DeleteItemFromObjectCaseSensitive(o, ID_FIELD);
    cJSON_AddStringToObject(o, ID_FIELD, text);
    char *out = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return out;
}

/* {"points":[{"id":N,"vector":[...],"payload":{...}}, ...]} with exact ids
 * and floats that round-trip f32. */
static char *upsert_body(qdrant *q, size_t n, const embsync_point *points,
                         size_t stride, uint32_t dim, size_t *len)
{
    char *text = NULL;
    size_t vector_cap = EMBSYNC_JSON_FLOAT_ARRAY_MAX(dim);
    char *vector = malloc(vector_cap);
    FILE *fp = vector != NULL ? open_memstream(&text, len) : NULL;
    if (fp == NULL) {
        free(vector);
        return NULL;
    }
    fputs("{\"points\":[", fp);
    for (size_t i = 0; i < n; i++) {
        const embsync_point *p = (const embsync_point *)((const char *)points + i * stride);
        size_t vector_len = HOST(q)->json_float_array(p->vector, dim, vector, vector_cap);
        char *payload = vector_len > 0 ? payload_with_id(p->payload, p->id) : NULL;
        if (payload == NULL) {
            HOST(q)->set_error(CTX(q), "point %" PRIu64 ": %s", p->id,
                               vector_len == 0 ? "vector is not finite"
                                               : "payload is not a JSON object");
            fclose(fp);
            free(text);
            free(vector);
            return NULL;
        }
        fprintf(fp, "%s{\"id\":%" PRIu64 ",\"vector\":", i ? "," : "", p->id);
        fwrite(vector, 1, vector_len, fp);
        fprintf(fp, ",\"payload\":%s}", payload);
        cJSON_free(payload);
    }
    fputs("]}", fp);
    free(vector);
    if (fclose(fp) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

static int is_oversize(const qdrant_reply *r)
{
    return r->status == 400 && r->text != NULL &&
           strstr(r->text, "larger than allowed") != NULL;
}

static int upsert_chunk(qdrant *q, const char *path, size_t n,
                        const embsync_point *points, size_t stride, uint32_t dim)
{
    size_t len;
    char *body = upsert_body(q, n, points, stride, dim, &len);
    if (body == NULL)
        return EMBSYNC_FAILED;
    qdrant_reply r;
    int rc = qdrant_call(&q->client, "PUT", path, body, len, &r);
    free(body);
    if (rc == EMBSYNC_OK && is_oversize(&r) && n > 1) {
        /* Over the server's body limit: halve and go on. */
        size_t half = n / 2;
        qdrant_reply_free(&r);
        HOST(q)->log(CTX(q), EMBSYNC_LOG_WARNING,
                     "upsert of %zu points is over Qdrant's body limit; halving", n);
        rc = upsert_chunk(q, path, half, points, stride, dim);
        if (rc == EMBSYNC_OK)
            rc = upsert_chunk(q, path, n - half,
                              (const embsync_point *)((const char *)points + half * stride),
                              stride, dim);
        return rc;
    }
    if (rc == EMBSYNC_OK && r.status != 200)
        rc = qdrant_failure(&q->client, &r, "upsert");
    qdrant_reply_free(&r);
    return rc;
}

static int qd_upsert(void *state, const char *name, size_t n,
                     const embsync_point *points)
{
    qdrant *q = state;
    if (n == 0)
        return EMBSYNC_OK;
    char path[4096], info_path[4096];
    if (collection_path(q, name, "/points?wait=true", path, sizeof path) != 0 ||
        collection_path(q, name, "", info_path, sizeof info_path) != 0)
        return EMBSYNC_FAILED;
    uint32_t dim;
    int rc = collection_dim(q, info_path, name, &dim);
    if (rc != EMBSYNC_OK)
        return rc;
    size_t stride = points[0].abi.size ? points[0].abi.size : sizeof *points;
    for (size_t at = 0; at < n && rc == EMBSYNC_OK; at += (size_t)q->batch_size) {
        size_t chunk = n - at < (size_t)q->batch_size ? n - at : (size_t)q->batch_size;
        rc = upsert_chunk(q, path,
                          chunk, (const embsync_point *)((const char *)points + at * stride),
                          stride, dim);
    }
    return rc;
}

static int qd_remove(void *state, const char *name, size_t n, const uint64_t *ids)
{
    qdrant *q = state;
    char path[4096];
    if (collection_path(q, name, "/points/delete?wait=true", path, sizeof path) != 0)
        return EMBSYNC_FAILED;
    int rc = EMBSYNC_OK;
    size_t per = (size_t)q->batch_size * 8;
    for (size_t at = 0; at < n && rc == EMBSYNC_OK; at += per) {
        size_t chunk = n - at < per ? n - at : per;
        char *body = NULL;
        size_t len;
        FILE *fp = open_memstream(&body, &len);
        if (fp == NULL)
            return EMBSYNC_FAILED;
        fputs("{\"points\":[", fp);
        for (size_t i = 0; i < chunk; i++)
            fprintf(fp, i ? ",%" PRIu64 : "%" PRIu64, ids[at + i]);
        fputs("]}", fp);
        fclose(fp);
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

static int qd_count(void *state, const char *name, uint64_t *count)
{
    qdrant *q = state;
    char path[4096];
    *count = 0;
    if (collection_path(q, name, "/points/count", path, sizeof path) != 0)
        return EMBSYNC_FAILED;
    qdrant_reply r;
    static const char body[] = "{\"exact\":true}";
    int rc = qdrant_call(&q->client, "POST", path, body, sizeof body - 1, &r);
    if (rc == EMBSYNC_OK && r.status == 200) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(qdrant_result(&r), "count");
        *count = json_uint(c, 18446744073709549568.0);
    } else if (rc == EMBSYNC_OK && r.status != 404) {
        rc = qdrant_failure(&q->client, &r, "count");
    }
    qdrant_reply_free(&r);
    return rc;
}

/* The exact id of a hit: the payload's string copy, else the number. */
static uint64_t hit_id(const cJSON *point, cJSON *payload)
{
    const char *text = cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(payload, ID_FIELD));
    if (text != NULL)
        return strtoull(text, NULL, 10);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(point, "id");
    return json_uint(id, 18446744073709549568.0);
}

static int qd_search(void *state, const char *name, const float *vector,
                     size_t k, embsync_hit_cb cb, void *arg)
{
    qdrant *q = state;
    char path[4096], info_path[4096];
    if (collection_path(q, name, "/points/query", path, sizeof path) != 0 ||
        collection_path(q, name, "", info_path, sizeof info_path) != 0)
        return EMBSYNC_FAILED;
    uint32_t dim;
    int rc = collection_dim(q, info_path, name, &dim);
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
    const cJSON *points =
        rc == EMBSYNC_OK
            ? cJSON_GetObjectItemCaseSensitive(qdrant_result(&r), "points")
            : NULL;
    const cJSON *point;
    cJSON_ArrayForEach(point, points)
    {
        cJSON *payload = cJSON_GetObjectItemCaseSensitive(point, "payload");
        uint64_t id = hit_id(point, payload);
        cJSON_DeleteItemFromObjectCaseSensitive(payload, ID_FIELD);
        char *text = payload != NULL ? cJSON_PrintUnformatted(payload) : NULL;
        const cJSON *score = cJSON_GetObjectItemCaseSensitive(point, "score");
        embsync_hit hit = {
            .abi = EMBSYNC_ABI_INIT(embsync_hit),
            .id = id,
            .score = cJSON_IsNumber(score) && fabs(score->valuedouble) <= FLT_MAX
                         ? (float)score->valuedouble : 0.0f,
            .payload = text,
        };
        int stop = cb(arg, &hit);
        cJSON_free(text);
        if (stop)
            break;
    }
    qdrant_reply_free(&r);
    return rc;
}

static const embsync_store_ops ops = {
    .abi = EMBSYNC_ABI_INIT(embsync_store_ops),
    .open = qd_open,
    .close = qd_close,
    .check = qd_check,
    .ensure = qd_ensure,
    .upsert = qd_upsert,
    .remove = qd_remove,
    .count = qd_count,
    .search = qd_search,
    .drop = qd_drop,
};

static const embsync_plugin descriptor = {
    .abi = EMBSYNC_ABI_INIT(embsync_plugin),
    .kind = EMBSYNC_KIND_STORE,
    .name = "qdrant",
    .version = PLUGIN_VERSION,
    .description = "Qdrant over REST (1.10+; model record in collection metadata on 1.16+)",
    .config_keys = keys,
    .config_key_size = sizeof keys[0],
    .flags = EMBSYNC_PLUGIN_PERSISTENT,
    .ops = &ops,
};

EMBSYNC_PLUGIN_ENTRY(descriptor)
