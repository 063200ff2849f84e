#include <config.h>

#include "outcome.h"

#include <stdio.h>

int es_http_retryable_status(long code)
{
    return code == 408 || code == 429 || code == 500 || code == 502 ||
           code == 503 || code == 504;
}

int es_http_outcome(int http_rc, const embsync_http_response *resp,
                    const char *what, const char *detail, int per_item,
                    char *text, size_t text_len)
{
    long status = resp != NULL ? resp->status : 0;
    if (http_rc == EMBSYNC_OK && status >= 200 && status < 300)
        return EMBSYNC_OK;
    int outcome;
    if (status == 0 || http_rc == EMBSYNC_RETRY || es_http_retryable_status(status))
        outcome = EMBSYNC_RETRY;
    else if (status == 401 || status == 403)
        outcome = EMBSYNC_FATAL;
    else
        outcome = per_item ? EMBSYNC_ITEM_FAILED : EMBSYNC_FAILED;
    if (what == NULL)
        what = "HTTP request";
    if (status == 0) {
        const char *why = resp != NULL && resp->error != NULL ? resp->error
                          : http_rc == EMBSYNC_FAILED ? "request failed"
                                                      : "no answer";
        snprintf(text, text_len, "%s: %s", what, why);
        if (http_rc == EMBSYNC_FAILED)
            outcome = per_item ? EMBSYNC_ITEM_FAILED : EMBSYNC_FAILED;
    } else {
        int body = detail == NULL && resp->body != NULL && resp->body_len > 0;
        snprintf(text, text_len, "%s: HTTP %ld%s: %.*s", what, status,
                 outcome == EMBSYNC_RETRY ? " after retries" : "",
                 body ? 200 : (int)text_len,
                 detail != NULL ? detail : body ? resp->body : "no details");
    }
    return outcome;
}

/* ---- gRPC (ABI 1.4) ---------------------------------------------------- */

static const char *const grpc_names[] = {
    "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
    "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
    "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
};

const char *es_grpc_status_name(int code)
{
    if (code >= 0 && (size_t)code < sizeof grpc_names / sizeof grpc_names[0])
        return grpc_names[code];
    return "UNKNOWN";
}

int es_grpc_retryable_status(int code)
{
    return code == ES_GRPC_UNAVAILABLE || code == ES_GRPC_RESOURCE_EXHAUSTED ||
           code == ES_GRPC_DEADLINE_EXCEEDED || code == ES_GRPC_ABORTED ||
           code == ES_GRPC_INTERNAL;
}

int es_grpc_status_of_http(long http_status)
{
    switch (http_status) {
    case 400: return ES_GRPC_INTERNAL;
    case 401: return ES_GRPC_UNAUTHENTICATED;
    case 403: return ES_GRPC_PERMISSION_DENIED;
    case 404: return ES_GRPC_UNIMPLEMENTED;
    case 429: case 502: case 503: case 504: return ES_GRPC_UNAVAILABLE;
    default: return ES_GRPC_UNKNOWN;
    }
}

int es_grpc_outcome(int grpc_rc, const embsync_http_response *resp,
                    int grpc_status, const char *what, int per_item,
                    char *text, size_t text_len)
{
    if (grpc_rc == EMBSYNC_OK && grpc_status == 0)
        return EMBSYNC_OK;
    if (what == NULL)
        what = "gRPC call";
    const char *detail = resp != NULL && resp->error != NULL && *resp->error
                             ? resp->error : NULL;
    int outcome;
    if (grpc_status < 0) {
        /* No status at all: the call went unanswered, or was malformed. */
        outcome = grpc_rc == EMBSYNC_FAILED
                      ? (per_item ? EMBSYNC_ITEM_FAILED : EMBSYNC_FAILED)
                      : EMBSYNC_RETRY;
        snprintf(text, text_len, "%s: %s", what,
                 detail != NULL ? detail
                 : grpc_rc == EMBSYNC_FAILED ? "request failed" : "no answer");
        return outcome;
    }
    if (grpc_rc == EMBSYNC_RETRY || es_grpc_retryable_status(grpc_status))
        outcome = EMBSYNC_RETRY;
    else if (grpc_status == ES_GRPC_UNAUTHENTICATED ||
             grpc_status == ES_GRPC_PERMISSION_DENIED)
        outcome = EMBSYNC_FATAL;
    else
        outcome = per_item ? EMBSYNC_ITEM_FAILED : EMBSYNC_FAILED;
    snprintf(text, text_len, "%s: gRPC %s (%d)%s: %.*s", what,
             es_grpc_status_name(grpc_status), grpc_status,
             outcome == EMBSYNC_RETRY ? " after retries" : "", 300,
             detail != NULL ? detail : "no details");
    return outcome;
}
