/* The codec of CLIP-as-service's POST /post: images go as standard base64
 * `blob` documents, texts as `text` documents, with ids "0".."n-1"; the
 * answer's documents are paired with the request's by id, never by
 * position, and every embedding is checked before it is taken. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "clip.h"

char *clip_encode_body(const doc *docs, size_t n)
{
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "execEndpoint", "/encode");
    cJSON_AddBoolToObject(cJSON_AddObjectToObject(body, "parameters"),
                          "drop_image_content", 1);
    cJSON *data = cJSON_AddArrayToObject(body, "data");
    for (size_t i = 0; i < n; i++) {
        cJSON *d = cJSON_CreateObject();
        char id[24];
        snprintf(id, sizeof id, "%zu", i);
        cJSON_AddStringToObject(d, "id", id);
        if (docs[i].text != NULL) {
            cJSON_AddStringToObject(d, "text", docs[i].text);
        } else {
            /* Standard padded base64, as the service expects. */
            char *b64 = malloc(4 * ((docs[i].len + 2) / 3) + 1);
            if (b64 == NULL) {
                cJSON_Delete(body);
                return NULL;
            }
            EVP_EncodeBlock((unsigned char *)b64, docs[i].data, (int)docs[i].len);
            cJSON_AddStringToObject(d, "blob", b64);
            free(b64);
        }
        cJSON_AddItemToArray(data, d);
    }
    char *text = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    return text;
}

/* Check and copy one answered embedding into out; normalise on request. */
static int take_vector(const clip *c, const cJSON *embedding, float *out)
{
    if (!cJSON_IsArray(embedding) || (uint32_t)cJSON_GetArraySize(embedding) != c->dim)
        return -1;
    double norm = 0;
    uint32_t d = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, embedding)
    {
        /* Beyond FLT_MAX the conversion to float is undefined. */
        if (!cJSON_IsNumber(v) || !(fabs(v->valuedouble) <= FLT_MAX))
            return -1;
        out[d] = (float)v->valuedouble;
        if (!isfinite(out[d]))
            return -1;
        norm += (double)out[d] * out[d];
        d++;
    }
    if (c->normalize) {
        if (!(norm > 0))
            return -1;
        double inv = 1.0 / sqrt(norm);
        for (d = 0; d < c->dim; d++)
            out[d] = (float)(out[d] * inv);
    }
    return 0;
}

/* Parse an answer of n documents into vectors; on an executor error copy
 * its description into why. */
int clip_parse_answer(const clip *c, const char *body, size_t n,
                      float *vectors, char *why, size_t whylen)
{
    cJSON *o = cJSON_Parse(body);
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(o, "header"), "status");
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(status, "code");
    int rc = ANSWER_OK;
    if (o == NULL) {
        snprintf(why, whylen, "answer is not JSON");
        rc = ANSWER_PROTOCOL_ERROR;
    } else if (cJSON_IsNumber(code) && code->valuedouble != 0) {
        const char *desc = cJSON_GetStringValue(
            cJSON_GetObjectItemCaseSensitive(status, "description"));
        snprintf(why, whylen, "%s", desc ? desc : "executor error");
        rc = ANSWER_EXECUTOR_ERROR;
    } else {
        const cJSON *data = cJSON_GetObjectItemCaseSensitive(o, "data");
        char *seen = calloc(n ? n : 1, 1);
        const cJSON *d;
        size_t count = 0;
        cJSON_ArrayForEach(d, data)
        {
            /* Pair by id, never by position. */
            const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "id"));
            char *end;
            unsigned long i = id ? strtoul(id, &end, 10) : n;
            if (id == NULL || *end != '\0' || i >= n || seen == NULL || seen[i] ||
                take_vector(c, cJSON_GetObjectItemCaseSensitive(d, "embedding"),
                            vectors + i * c->dim) != 0) {
                snprintf(why, whylen,
                         "document %s: missing, duplicate, or an embedding that is "
                         "null, not %u long or not finite",
                         id ? id : "(no id)", c->dim);
                rc = ANSWER_PROTOCOL_ERROR;
                break;
            }
            seen[i] = 1;
            count++;
        }
        if (rc == ANSWER_OK && count != n) {
            snprintf(why, whylen, "answered %zu documents of %zu", count, n);
            rc = ANSWER_PROTOCOL_ERROR;
        }
        free(seen);
    }
    cJSON_Delete(o);
    return rc;
}
