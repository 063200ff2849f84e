/* Collections: create, check against the embedder, adopt, drop; and the
 * model record, kept in the collection's metadata (1.16+) or, on older
 * servers, in a file of the plugin's state directory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "qdrant_store.h"

int qdrant_full_name(qdrant *q, const char *name, char *out, size_t len)
{
    if (snprintf(out, len, "%s%s", q->prefix, name) >= (int)len) {
        HOST(q)->set_error(CTX(q), "collection name too long: %s", name);
        return -1;
    }
    return 0;
}

int qdrant_collection_path(qdrant *q, const char *name, const char *suffix,
                           char *out, size_t len)
{
    char full[1024], escaped[3100];
    if (snprintf(full, sizeof full, "%s%s", q->prefix, name) >= (int)sizeof full ||
        q->client.host->url_escape(full, escaped, sizeof escaped) == 0 ||
        snprintf(out, len, "/collections/%s%s", escaped, suffix) >= (int)len) {
        HOST(q)->set_error(CTX(q), "collection name too long: %s", name);
        return -1;
    }
    return 0;
}

int qdrant_has_metadata(const qdrant *q)
{
    return q->server_major > 1 || (q->server_major == 1 && q->server_minor >= 16);
}

void qdrant_remember_dim(qdrant *q, const char *name, uint32_t dim)
{
    snprintf(q->known_name, sizeof q->known_name, "%s", name);
    q->known_dim = dim;
}

uint64_t qdrant_json_uint(const cJSON *v, double max)
{
    if (!cJSON_IsNumber(v))
        return 0;
    double d = v->valuedouble;
    if (!(d >= 0 && d <= max) || d != (double)(uint64_t)d)
        return 0;
    return (uint64_t)d;
}

static int metric_of(const char *distance)
{
    if (strcmp(distance, "Cosine") == 0)
        return EMBSYNC_METRIC_COSINE;
    if (strcmp(distance, "Dot") == 0)
        return EMBSYNC_METRIC_DOT;
    return EMBSYNC_METRIC_EUCLID;
}

/* The file, in the state directory, of a collection's model record on
 * servers without collection metadata; 0 when the name does not fit. */
static int local_record_name(qdrant *q, const char *name, char *out, size_t len)
{
    char escaped[3100];
    return q->client.host->url_escape(name, escaped, sizeof escaped) != 0 &&
           snprintf(out, len, "%s%s.model", q->prefix, escaped) < (int)len;
}

static void remove_local_record(qdrant *q, const char *name)
{
    char file[3200], path[4096];
    if (q->state_dir != NULL && local_record_name(q, name, file, sizeof file) &&
        snprintf(path, sizeof path, "%s/%s", q->state_dir, file) < (int)sizeof path)
        remove(path);
}

/* Durably (host->state_write): the record decides, after a crash, whether
 * an existing collection holds this model's vectors. */
static int write_local_record(qdrant *q, const char *name, const char *identity)
{
    char file[3200], text[1100];
    int rc = EMBSYNC_FAILED;
    if (local_record_name(q, name, file, sizeof file) &&
        snprintf(text, sizeof text, "%s\n", identity) < (int)sizeof text &&
        HOST(q)->state_write(CTX(q), file, text, strlen(text)) == 0)
        rc = EMBSYNC_OK;
    if (rc != EMBSYNC_OK)
        HOST(q)->set_error(CTX(q), "cannot keep the model record of %s", name);
    return rc;
}

/* The model a collection records: its metadata's, else the local file's
 * (copied into buf), else NULL. */
static const char *recorded_model(qdrant *q, const char *name, const cJSON *config,
                                  char *buf, size_t len)
{
    const char *model = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(config, "metadata"), "embsync_model"));
    if (model != NULL)
        return model;
    char file[3200];
    char *text = local_record_name(q, name, file, sizeof file)
                     ? HOST(q)->state_read(CTX(q), file, NULL) : NULL;
    if (text == NULL)
        return NULL;
    snprintf(buf, len, "%.*s", (int)strcspn(text, "\n"), text);
    free(text);
    return buf[0] != '\0' ? buf : NULL;
}

/* The collection's info (result.config) into *reply; 404 is an answer. */
static int get_info(qdrant *q, const char *name, qdrant_reply *reply)
{
    char path[4096];
    if (qdrant_collection_path(q, name, "", path, sizeof path) != 0) {
        memset(reply, 0, sizeof *reply);
        return EMBSYNC_FAILED;
    }
    int rc = qdrant_call(&q->client, "GET", path, NULL, 0, reply);
    if (rc == EMBSYNC_OK && reply->status != 200 && reply->status != 404)
        rc = qdrant_failure(&q->client, reply, "get collection");
    return rc;
}

/* The metadata object embsync records. */
static cJSON *model_metadata(const embsync_collection_spec *spec)
{
    cJSON *meta = cJSON_CreateObject();
    cJSON_AddStringToObject(meta, "embsync_model", spec->identity);
    cJSON_AddNumberToObject(meta, "embsync_dim", spec->dim);
    cJSON_AddStringToObject(meta, "embsync_version", QDRANT_PLUGIN_VERSION);
    return meta;
}

/* After metadata was sent (with the create, or by PATCH), read it back:
 * a server older than 1.16 ignores a metadata key on create without an
 * error, so one that dropped it gets the local record instead.  Where it is
 * known to keep none, the local record at once. */
static int confirm_record(qdrant *q, const char *name,
                          const embsync_collection_spec *spec)
{
    if (!qdrant_has_metadata(q))
        return write_local_record(q, name, spec->identity);
    qdrant_reply r;
    int rc = get_info(q, name, &r);
    if (rc == EMBSYNC_OK && r.status != 200)
        rc = qdrant_failure(&q->client, &r, "get collection");
    const char *model = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(qdrant_result(&r), "config"), "metadata"),
        "embsync_model"));
    if (rc == EMBSYNC_OK && (model == NULL || strcmp(model, spec->identity) != 0)) {
        HOST(q)->log(CTX(q), EMBSYNC_LOG_WARNING,
                     "Qdrant kept no metadata for %s%s: the model record is "
                     "kept in the state directory", q->prefix, name);
        rc = write_local_record(q, name, spec->identity);
    }
    qdrant_reply_free(&r);
    return rc;
}

static int create_payload_index(qdrant *q, const char *name)
{
    char path[4200], body[256];
    if (qdrant_collection_path(q, name, "/index?wait=true", path, sizeof path) != 0)
        return EMBSYNC_FAILED;
    snprintf(body, sizeof body, "{\"field_name\":\"%s\",\"field_schema\":\"%s\"}",
             q->index_field, q->index_type);
    qdrant_reply r;
    int rc = qdrant_call(&q->client, "PUT", path, body, strlen(body), &r);
    if (rc == EMBSYNC_OK && r.status != 200)
        rc = qdrant_failure(&q->client, &r, "create payload index");
    qdrant_reply_free(&r);
    return rc;
}

static int create_collection(qdrant *q, const char *name,
                             const embsync_collection_spec *spec)
{
    char path[4096];
    if (qdrant_collection_path(q, name, "", path, sizeof path) != 0)
        return EMBSYNC_FAILED;
    cJSON *body = cJSON_CreateObject();
    cJSON *vectors = cJSON_AddObjectToObject(body, "vectors");
    cJSON_AddNumberToObject(vectors, "size", spec->dim);
    cJSON_AddStringToObject(vectors, "distance", q->distance);
    qdrant_options_add(q, body);
    cJSON_AddItemToObject(body, "metadata", model_metadata(spec));
    char *text = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    qdrant_reply r;
    int rc = qdrant_call(&q->client, "PUT", path, text, strlen(text), &r);
    cJSON_free(text);
    /* 409: a create whose answer was lost, retried; it exists now. */
    if (rc == EMBSYNC_OK && r.status != 200 && r.status != 409)
        rc = qdrant_failure(&q->client, &r, "create collection");
    qdrant_reply_free(&r);
    if (rc == EMBSYNC_OK && q->index_field[0] != '\0')
        rc = create_payload_index(q, name);
    if (rc == EMBSYNC_OK)
        rc = confirm_record(q, name, spec);
    return rc;
}

/* A collection of the right shape that records no model: what the
 * Embeddings Generator (or the service embsync replaces) creates for every
 * project, holding vectors of the deployment's one CLIP model.  Record the
 * model beside the points, touching none of them. */
static int adopt_collection(qdrant *q, const char *name,
                            const embsync_collection_spec *spec, const cJSON *info)
{
    int rc = EMBSYNC_OK;
    if (qdrant_has_metadata(q)) {
        char path[4096];
        if (qdrant_collection_path(q, name, "", path, sizeof path) != 0)
            return EMBSYNC_FAILED;
        /* PATCH merges into whatever metadata the collection has. */
        cJSON *body = cJSON_CreateObject();
        cJSON_AddItemToObject(body, "metadata", model_metadata(spec));
        char *text = cJSON_PrintUnformatted(body);
        cJSON_Delete(body);
        qdrant_reply r;
        rc = qdrant_call(&q->client, "PATCH", path, text, strlen(text), &r);
        cJSON_free(text);
        if (rc == EMBSYNC_OK && r.status != 200)
            rc = qdrant_failure(&q->client, &r, "record the model in the metadata");
        qdrant_reply_free(&r);
    }
    if (rc == EMBSYNC_OK)
        rc = confirm_record(q, name, spec);
    /* The index only speeds up filters; creating it rewrites no point. */
    const cJSON *schema = cJSON_GetObjectItemCaseSensitive(info, "payload_schema");
    if (rc == EMBSYNC_OK && q->index_field[0] != '\0' &&
        cJSON_GetObjectItemCaseSensitive(schema, q->index_field) == NULL)
        rc = create_payload_index(q, name);
    if (rc == EMBSYNC_OK) {
        const cJSON *count = cJSON_GetObjectItemCaseSensitive(info, "points_count");
        HOST(q)->log(CTX(q), EMBSYNC_LOG_INFO,
                     "adopted Qdrant collection %s%s (size %u, %s, no model "
                     "record): recorded %s in its %s; its %.0f points are kept",
                     q->prefix, name, spec->dim, q->distance, spec->identity,
                     qdrant_has_metadata(q) ? "metadata" : "local record",
                     cJSON_IsNumber(count) ? count->valuedouble : 0.0);
    }
    return rc;
}

int qdrant_ensure(void *state, const char *name,
                  const embsync_collection_spec *spec, int *result)
{
    qdrant *q = state;
    char concrete[1024];
    int is_alias;
    /* Qdrant resolves an alias itself; the local model record, kept per
     * concrete collection, is found through it. */
    if (!qdrant_has_metadata(q)) {
        int rc = qdrant_resolve(q, name, concrete, sizeof concrete, &is_alias);
        if (rc != EMBSYNC_OK)
            return rc;
        name = concrete;
    }
    qdrant_reply r;
    int rc = get_info(q, name, &r);
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
            qdrant_remember_dim(q, name, spec->dim);
        }
        return rc;
    }
    const cJSON *info = qdrant_result(&r);
    const cJSON *config = cJSON_GetObjectItemCaseSensitive(info, "config");
    const cJSON *vectors = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(config, "params"), "vectors");
    const cJSON *size = cJSON_GetObjectItemCaseSensitive(vectors, "size");
    const char *distance = cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(vectors, "distance"));
    char buf[256];
    const char *model = recorded_model(q, name, config, buf, sizeof buf);
    if (!cJSON_IsNumber(size) || distance == NULL) {
        HOST(q)->set_error(CTX(q), "collection %s has no single unnamed vector", name);
        *result = EMBSYNC_ENSURE_MISMATCH;
    } else if (qdrant_json_uint(size, 4294967295.0) != spec->dim ||
               strcmp(distance, q->distance) != 0 ||
               (model != NULL && strcmp(model, spec->identity) != 0)) {
        HOST(q)->set_error(CTX(q), "Qdrant collection holds %s (size %.0f, %s)",
                           model ? model : "an unrecorded model",
                           size->valuedouble, distance);
        *result = EMBSYNC_ENSURE_MISMATCH;
    } else if (model == NULL && !q->adopt) {
        /* The strict reading: vectors of an unrecorded model are never
         * trusted, the collection is rebuilt. */
        HOST(q)->set_error(CTX(q), "Qdrant collection holds an unrecorded model "
                           "(size %.0f, %s) and adopt = false", size->valuedouble,
                           distance);
        *result = EMBSYNC_ENSURE_MISMATCH;
    } else if (model == NULL) {
        rc = adopt_collection(q, name, spec, info);
        if (rc == EMBSYNC_OK) {
            *result = EMBSYNC_ENSURE_ADOPTED;
            qdrant_remember_dim(q, name, spec->dim);
        }
    } else {
        *result = EMBSYNC_ENSURE_EXISTS;
        qdrant_remember_dim(q, name, spec->dim);
    }
    qdrant_reply_free(&r);
    return rc;
}

int qdrant_drop_collection(qdrant *q, const char *name)
{
    char path[4096];
    if (qdrant_collection_path(q, name, "", path, sizeof path) != 0)
        return EMBSYNC_FAILED;
    qdrant_reply r;
    int rc = qdrant_call(&q->client, "DELETE", path, NULL, 0, &r);
    /* result false: it was already gone, which is what we wanted. */
    if (rc == EMBSYNC_OK && r.status != 200)
        rc = qdrant_failure(&q->client, &r, "delete collection");
    qdrant_reply_free(&r);
    if (rc == EMBSYNC_OK) {
        remove_local_record(q, name);
        q->known_dim = 0;
    }
    return rc;
}

int qdrant_drop(void *state, const char *name)
{
    qdrant *q = state;
    char target[1024];
    int is_alias;
    /* DELETE does not resolve an alias: drop what it points to, which
     * takes the alias with it. */
    int rc = qdrant_resolve(q, name, target, sizeof target, &is_alias);
    if (rc == EMBSYNC_OK)
        rc = qdrant_drop_collection(q, target);
    return rc;
}
