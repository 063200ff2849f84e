/* Upsert and Delete over gRPC: the request built with protobuf-c from the
 * points (each vector borrowed in place, never copied or formatted), sent
 * by the host's grpc_unary(), the answer read back as
 * PointsOperationResponse.  wait = true, as on REST: OK means applied. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qdrant_grpc.h"
#include "qdrant_store.h"

/* Qdrant's write ordering from the write_ordering key, as REST's query. */
static int ordering_of(const qdrant *q, Qdrant__WriteOrdering *ordering)
{
    const char *o = q->options.ordering_query;
    if (*o == '\0')
        return 0;
    qdrant__write_ordering__init(ordering);
    ordering->type = strstr(o, "strong") ? QDRANT__WRITE_ORDERING_TYPE__Strong
                     : strstr(o, "medium") ? QDRANT__WRITE_ORDERING_TYPE__Medium
                                            : QDRANT__WRITE_ORDERING_TYPE__Weak;
    return 1;
}

/* Whether an answer refuses the request message as over a size limit.
 * Qdrant 1.19 itself sets no limit on its gRPC services
 * (max_decoding_message_size(usize::MAX)); the limits are those of what
 * stands in front of it: a grpc-core server or proxy (RESOURCE_EXHAUSTED,
 * "Received message larger than max (N vs. M)"), a tonic one at its 4 MiB
 * default (OUT_OF_RANGE, "Error, decoded message length too large: found
 * N bytes, the limit is: M bytes"), or an HTTP proxy's 413. */
static int is_oversize(const embsync_http_response *resp, int grpc_status)
{
    const char *m = resp->error != NULL ? resp->error : "";
    return (grpc_status == 8 && strstr(m, "larger than max") != NULL) ||
           (grpc_status == 11 && strstr(m, "message length too large") != NULL) ||
           resp->status == 413;
}

/* Send `rpc` ("/qdrant.Points/Upsert", ...) with the packed request; OK
 * when it answered status OK, its message then in *resp (release it in
 * every case).  *grpc_status gets the call's status (-1 without one); with
 * `oversize`, a refusal as over a size limit sets it and is FAILED, with
 * an error unless `quiet` (the caller halves the batch). */
static int send_call(qdrant *q, const char *rpc, const ProtobufCMessage *request,
                     const char *what, int *grpc_status, int *oversize, int quiet,
                     embsync_http_response *resp)
{
    *resp = (embsync_http_response){.abi = EMBSYNC_ABI_INIT(embsync_http_response)};
    *grpc_status = -1;
    size_t len = protobuf_c_message_get_packed_size(request);
    uint8_t *body = malloc(len ? len : 1);
    char url[4096];
    if (body == NULL || HOST(q)->url_join(q->grpc_base, rpc, url, sizeof url) == 0) {
        free(body);
        HOST(q)->set_error(CTX(q), "%s: out of memory or grpc_url too long", what);
        return EMBSYNC_FAILED;
    }
    protobuf_c_message_pack(request, body);
    const char *headers[2] = {q->client.key_header, NULL};
    embsync_http_request req = {
        .abi = EMBSYNC_ABI_INIT(embsync_http_request),
        .url = url,
        .headers = headers,
        .body = body,
        .body_len = len,
        .timeout_ms = q->client.timeout_ms,
        .flags = q->client.flags,
        .ca_file = q->client.ca_file,
    };
    int rc = HOST(q)->grpc_unary(CTX(q), &req, resp, grpc_status);
    free(body);
    if (oversize != NULL && rc == EMBSYNC_OK && is_oversize(resp, *grpc_status)) {
        /* Not transient, whatever the status would say: the same message
         * would be refused again. */
        *oversize = 1;
        if (!quiet)
            HOST(q)->set_error(CTX(q), "%s: one point is over the server's message "
                               "size limit (gRPC status %d, HTTP %ld: %s)", what,
                               *grpc_status, resp->status,
                               resp->error != NULL ? resp->error : "no message");
        return EMBSYNC_FAILED;
    }
    return HOST(q)->grpc_outcome(CTX(q), rc, resp, *grpc_status, what,
                                 EMBSYNC_WHOLE_CALL);
}

/* A point write: send_call(), and OK only when Qdrant says the operation
 * completed. */
static int call(qdrant *q, const char *rpc, const ProtobufCMessage *request,
                const char *what, int *grpc_status, int *oversize, int quiet)
{
    embsync_http_response resp;
    int rc = send_call(q, rpc, request, what, grpc_status, oversize, quiet, &resp);
    if (rc == EMBSYNC_OK) {
        Qdrant__PointsOperationResponse *answer = qdrant__points_operation_response__unpack(
            NULL, resp.body_len, (const uint8_t *)resp.body);
        Qdrant__UpdateStatus status = answer != NULL && answer->result != NULL
                                          ? answer->result->status
                                          : QDRANT__UPDATE_STATUS__UnknownUpdateStatus;
        if (status != QDRANT__UPDATE_STATUS__Completed) {
            HOST(q)->set_error(CTX(q), "%s: Qdrant did not say the operation "
                               "completed (%s)", what,
                               answer == NULL ? "unreadable answer"
                               : status == QDRANT__UPDATE_STATUS__Acknowledged
                                   ? "only acknowledged" : "status unknown");
            rc = EMBSYNC_FAILED;
        }
        if (answer != NULL)
            qdrant__points_operation_response__free_unpacked(answer, NULL);
    }
    HOST(q)->http_release(CTX(q), &resp);
    return rc;
}

int qdrant_grpc_health(qdrant *q)
{
    /* grpc_url as an operator wrote it, less any user:password@. */
    const char *u = q->grpc_base, *scheme = strstr(u, "://");
    const char *host = scheme != NULL ? scheme + 3 : u;
    const char *at = strchr(host, '@'), *slash = strchr(host, '/');
    char what[1200];
    if (at != NULL && (slash == NULL || at < slash))
        snprintf(what, sizeof what, "gRPC health check of %.*s%.600s",
                 (int)(host - u), u, at + 1);
    else
        snprintf(what, sizeof what, "gRPC health check of %.600s", u);
    Qdrant__HealthCheckRequest request = QDRANT__HEALTH_CHECK_REQUEST__INIT;
    embsync_http_response resp;
    int status;
    int rc = send_call(q, "/qdrant.Qdrant/HealthCheck", &request.base, what, &status,
                       NULL, 0, &resp);
    if (rc == EMBSYNC_OK) {
        Qdrant__HealthCheckReply *reply = qdrant__health_check_reply__unpack(
            NULL, resp.body_len, (const uint8_t *)resp.body);
        if (reply == NULL) {
            HOST(q)->set_error(CTX(q), "%s: the answer is not a HealthCheckReply", what);
            rc = EMBSYNC_FAILED;
        } else {
            HOST(q)->log(CTX(q), EMBSYNC_LOG_DEBUG, "%s: %s %s", what, reply->title,
                         reply->version);
            qdrant__health_check_reply__free_unpacked(reply, NULL);
        }
    }
    HOST(q)->http_release(CTX(q), &resp);
    return rc;
}

/* Whether no value of v is NaN or infinite (all exponent bits set): the
 * packed floats would carry them, where REST's JSON text cannot.  An OR
 * over the bits, in blocks of 16 that the compiler turns into vector
 * instructions at -O2 (a loop of unknown length it does not): this check
 * was an eighth of an upsert's instructions. */
static int all_finite(const float *v, uint32_t n)
{
    uint32_t bad = 0, k = 0;
    for (; k + 16 <= n; k += 16) {
        uint32_t bits[16];
        memcpy(bits, v + k, sizeof bits);
        for (int i = 0; i < 16; i++)
            bad |= (~bits[i] & 0x7f800000u) == 0;
    }
    for (; k < n; k++) {
        uint32_t bits;
        memcpy(&bits, &v[k], sizeof bits);
        bad |= (~bits & 0x7f800000u) == 0;
    }
    return !bad;
}

/* One point of the request: its id, its vector borrowed, its payload. */
typedef struct point_msg {
    Qdrant__PointStruct point;
    Qdrant__PointId id;
    Qdrant__Vectors vectors;
    Qdrant__Vector vector;
    Qdrant__DenseVector dense;
} point_msg;

int qdrant_grpc_upsert(qdrant *q, const char *collection, size_t n,
                       const embsync_point *points, size_t stride, uint32_t dim,
                       int *oversize)
{
    *oversize = 0;
    point_msg *msgs = calloc(n ? n : 1, sizeof *msgs);
    Qdrant__PointStruct **list = calloc(n ? n : 1, sizeof *list);
    qdrant_arena arena = {0};
    int rc = EMBSYNC_OK;
    size_t made = 0;
    if (msgs == NULL || list == NULL) {
        HOST(q)->set_error(CTX(q), "out of memory");
        rc = EMBSYNC_FAILED;
    }
    for (; rc == EMBSYNC_OK && made < n; made++) {
        const embsync_point *p =
            (const embsync_point *)((const char *)points + made * stride);
        point_msg *m = &msgs[made];
        qdrant__point_struct__init(&m->point);
        qdrant__point_id__init(&m->id);
        qdrant__vectors__init(&m->vectors);
        qdrant__vector__init(&m->vector);
        qdrant__dense_vector__init(&m->dense);
        m->id.point_id_options_case = QDRANT__POINT_ID__POINT_ID_OPTIONS_NUM;
        m->id.num = p->id;
        m->dense.n_data = dim;
        m->dense.data = (float *)p->vector; /* borrowed: packing only reads it */
        m->vector.vector_case = QDRANT__VECTOR__VECTOR_DENSE;
        m->vector.dense = &m->dense;
        m->vectors.vectors_options_case = QDRANT__VECTORS__VECTORS_OPTIONS_VECTOR;
        m->vectors.vector = &m->vector;
        m->point.id = &m->id;
        m->point.vectors = &m->vectors;
        list[made] = &m->point;
        int finite = all_finite(p->vector, dim);
        const char *payload = p->payload != NULL ? p->payload : "{}";
        cJSON *parsed = finite ? cJSON_Parse(payload) : NULL;
        if (!cJSON_IsObject(parsed)) {
            HOST(q)->set_error(CTX(q), "point %" PRIu64 ": %s", p->id,
                               !finite ? "vector is not finite"
                                       : "payload is not a JSON object");
            rc = EMBSYNC_FAILED;
        } else if (qdrant_payload_entries(parsed, &arena, &m->point.payload,
                                          &m->point.n_payload) != 0) {
            HOST(q)->set_error(CTX(q), "out of memory");
            rc = EMBSYNC_FAILED;
        }
        cJSON_Delete(parsed);
    }
    if (rc == EMBSYNC_OK) {
        Qdrant__UpsertPoints request = QDRANT__UPSERT_POINTS__INIT;
        Qdrant__WriteOrdering ordering;
        request.collection_name = (char *)collection;
        request.wait = 1;
        request.n_points = n;
        request.points = list;
        if (ordering_of(q, &ordering))
            request.ordering = &ordering;
        int status;
        rc = call(q, "/qdrant.Points/Upsert", &request.base, "upsert (gRPC)", &status, oversize, n > 1);
    }
    qdrant_arena_free(&arena);
    free(list);
    free(msgs);
    return rc;
}

int qdrant_grpc_delete(qdrant *q, const char *collection, size_t n,
                       const uint64_t *ids)
{
    Qdrant__PointId *idv = calloc(n ? n : 1, sizeof *idv);
    Qdrant__PointId **idp = calloc(n ? n : 1, sizeof *idp);
    if (idv == NULL || idp == NULL) {
        free(idv);
        free(idp);
        HOST(q)->set_error(CTX(q), "out of memory");
        return EMBSYNC_FAILED;
    }
    for (size_t i = 0; i < n; i++) {
        qdrant__point_id__init(&idv[i]);
        idv[i].point_id_options_case = QDRANT__POINT_ID__POINT_ID_OPTIONS_NUM;
        idv[i].num = ids[i];
        idp[i] = &idv[i];
    }
    Qdrant__PointsIdsList list = QDRANT__POINTS_IDS_LIST__INIT;
    list.n_ids = n;
    list.ids = idp;
    Qdrant__PointsSelector selector = QDRANT__POINTS_SELECTOR__INIT;
    selector.points_selector_one_of_case = QDRANT__POINTS_SELECTOR__POINTS_SELECTOR_ONE_OF_POINTS;
    selector.points = &list;
    Qdrant__DeletePoints request = QDRANT__DELETE_POINTS__INIT;
    Qdrant__WriteOrdering ordering;
    request.collection_name = (char *)collection;
    request.wait = 1;
    request.points = &selector;
    if (ordering_of(q, &ordering))
        request.ordering = &ordering;
    int status;
    int rc = call(q, "/qdrant.Points/Delete", &request.base, "delete points (gRPC)", &status, NULL, 0);
    if (rc != EMBSYNC_OK && status == 5) /* NOT_FOUND: no collection, no points */
        rc = EMBSYNC_OK;
    free(idp);
    free(idv);
    return rc;
}
