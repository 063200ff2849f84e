#include "qdrant_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int qdrant_call(qdrant_client *c, const char *method, const char *path,
                const char *body, size_t body_len, qdrant_reply *reply)
{
    memset(reply, 0, sizeof *reply);
    size_t url_len = strlen(c->base) + strlen(path) + 2;
    char *url = malloc(url_len);
    if (url == NULL) {
        c->host->set_error(c->ctx, "out of memory");
        return EMBSYNC_FAILED;
    }
    c->host->url_join(c->base, path, url, url_len);
    const char *headers[4];
    size_t h = 0;
    headers[h++] = "Content-Type: application/json";
    headers[h++] = "Accept: application/json";
    if (c->key_header != NULL)
        headers[h++] = c->key_header;
    headers[h] = NULL;
    embsync_http_request req = {
        .abi = EMBSYNC_ABI_INIT(embsync_http_request),
        .method = method,
        .url = url,
        .headers = headers,
        .body = body,
        .body_len = body_len,
        .timeout_ms = c->timeout_ms,
        .flags = c->flags,
        .ca_file = c->ca_file,
    };
    embsync_http_response resp = {.abi = EMBSYNC_ABI_INIT(embsync_http_response)};
    int rc = c->host->http(c->ctx, &req, &resp);
    reply->status = resp.status;
    if (resp.body != NULL) {
        reply->text = strdup(resp.body);
        if (resp.content_type != NULL &&
            strstr(resp.content_type, "application/json") != NULL)
            reply->json = cJSON_Parse(resp.body);
    }
    if (rc == EMBSYNC_RETRY) {
        if (resp.retry_after > 0)
            c->host->set_retry_after(c->ctx, resp.retry_after);
        if (resp.status != 0) {
            char what[512];
            snprintf(what, sizeof what, "%s %s", method, path);
            qdrant_failure(c, reply, what);
        }
        else
            c->host->set_error(c->ctx, "%s %s: %s", method, path,
                               resp.error ? resp.error : "no answer");
    } else if (rc != EMBSYNC_OK) {
        c->host->set_error(c->ctx, "%s %s: %s", method, path,
                           resp.error ? resp.error : "request failed");
    }
    c->host->http_release(c->ctx, &resp);
    free(url);
    return rc;
}

void qdrant_reply_free(qdrant_reply *reply)
{
    cJSON_Delete(reply->json);
    free(reply->text);
    memset(reply, 0, sizeof *reply);
}

const cJSON *qdrant_result(const qdrant_reply *reply)
{
    return reply->json != NULL
               ? cJSON_GetObjectItemCaseSensitive(reply->json, "result")
               : NULL;
}

/* status.error of the envelope, or the plain-text body (401s are text). */
static const char *message_of(const qdrant_reply *reply)
{
    const cJSON *status = reply->json != NULL
                              ? cJSON_GetObjectItemCaseSensitive(reply->json, "status")
                              : NULL;
    const char *msg = cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(status, "error"));
    if (msg != NULL)
        return msg;
    return reply->text != NULL && *reply->text ? reply->text : "no details";
}

int qdrant_failure(qdrant_client *c, const qdrant_reply *reply, const char *what)
{
    const char *msg = message_of(reply);
    embsync_http_response answer = {
        .abi = EMBSYNC_ABI_INIT(embsync_http_response),
        .status = reply->status,
    };
    int rc = c->host->http_outcome(c->ctx, EMBSYNC_OK, &answer, what, msg,
                                   EMBSYNC_WHOLE_CALL);
    if (rc == EMBSYNC_OK) /* a 2xx other than the 200 Qdrant always sends */
        rc = EMBSYNC_FAILED;
    /* The host's outcome, in words an operator of Qdrant acts on. */
    if (reply->status == 401)
        c->host->set_error(c->ctx, "%s: Qdrant refused the API key (401): %s",
                           what, msg);
    else if (reply->status == 403)
        c->host->set_error(c->ctx,
                           "%s: the API key may not write (403, a read-only key?): %s",
                           what, msg);
    else if (reply->status == 404)
        c->host->set_error(c->ctx, "%s: not found (404): %s", what, msg);
    else
        c->host->set_error(c->ctx, "%s: Qdrant answered %ld%s: %s", what,
                           reply->status,
                           rc == EMBSYNC_RETRY ? " after retries" : "", msg);
    return rc;
}
