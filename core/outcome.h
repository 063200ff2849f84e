/* The one reading of an HTTP answer as an embsync outcome (host->http_outcome
 * and the retry policy of core/http.c), free of the host's state so that
 * test hosts share it. */
#ifndef ES_OUTCOME_H
#define ES_OUTCOME_H

#include <stddef.h>

#include <embsync/plugin.h>

/** Non-zero for the statuses the policy retries (408, 429, 500, 502, 503,
 *  504): the one list, read by es_http_many and by es_http_outcome. */
int es_http_retryable_status(long code);

/** The outcome of one answer: OK for 2xx; RETRY for no answer and the
 *  retryable statuses; FATAL for 401 and 403; FAILED otherwise (ITEM_FAILED
 *  when per_item).  Unless OK, writes the reason into text ("WHAT: HTTP 404:
 *  DETAIL", DETAIL defaulting to the body's first 200 bytes). */
int es_http_outcome(int http_rc, const embsync_http_response *resp,
                    const char *what, const char *detail, int per_item,
                    char *text, size_t text_len);

/* ---- gRPC (ABI 1.4) ---------------------------------------------------- */

/** gRPC status codes (grpc/doc/statuscodes.md) the policy names. */
enum {
    ES_GRPC_OK = 0,
    ES_GRPC_UNKNOWN = 2,
    ES_GRPC_INVALID_ARGUMENT = 3,
    ES_GRPC_DEADLINE_EXCEEDED = 4,
    ES_GRPC_NOT_FOUND = 5,
    ES_GRPC_PERMISSION_DENIED = 7,
    ES_GRPC_RESOURCE_EXHAUSTED = 8,
    ES_GRPC_ABORTED = 10,
    ES_GRPC_UNIMPLEMENTED = 12,
    ES_GRPC_INTERNAL = 13,
    ES_GRPC_UNAVAILABLE = 14,
    ES_GRPC_UNAUTHENTICATED = 16
};

/** "UNAVAILABLE" for 14, …; "UNKNOWN" for a code gRPC does not define. */
const char *es_grpc_status_name(int code);

/** Non-zero for the statuses the policy retries: UNAVAILABLE,
 *  RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED, ABORTED, and INTERNAL (what
 *  Qdrant answers for a service error, its REST 500, which HTTP retries). */
int es_grpc_retryable_status(int code);

/** The status an HTTP answer without grpc-status stands for, per the gRPC
 *  spec's http-grpc-status-mapping (404 UNIMPLEMENTED, 503 UNAVAILABLE…). */
int es_grpc_status_of_http(long http_status);

/** The outcome of one gRPC call: OK for status 0; RETRY without a status
 *  (no answer) and for the retryable ones; FATAL for UNAUTHENTICATED and
 *  PERMISSION_DENIED (401/403 in HTTP); FAILED otherwise (ITEM_FAILED when
 *  per_item).  Unless OK, writes the reason into text ("WHAT: gRPC
 *  NOT_FOUND (5): MESSAGE", the message from resp->error). */
int es_grpc_outcome(int grpc_rc, const embsync_http_response *resp,
                    int grpc_status, const char *what, int per_item,
                    char *text, size_t text_len);

#endif
