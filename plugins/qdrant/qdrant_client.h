/* Talking to Qdrant's REST API through the host's HTTP helper: URLs, the
 * response envelope, and the mapping of status codes to outcomes. */
#ifndef QDRANT_CLIENT_H
#define QDRANT_CLIENT_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include <embsync/plugin.h>

typedef struct qdrant_client {
    const embsync_host *host;
    embsync_ctx *ctx;
    char *base;               /* "http://host:6333", no trailing slash */
    char *key_header;         /* "api-key: ..." or NULL */
    const char *ca_file;
    long timeout_ms;
    unsigned flags;           /* EMBSYNC_HTTP_* */
} qdrant_client;

/** One answer: HTTP status, and the parsed JSON body when there is one. */
typedef struct qdrant_reply {
    long status;
    cJSON *json;              /* owned; NULL for text or empty bodies */
    char *text;               /* owned copy of the raw body */
} qdrant_reply;

/** Send METHOD base+path with an optional JSON body.  Returns EMBSYNC_OK
 *  when an answer arrived (any status), else RETRY/FAILED with the error
 *  set.  Free the reply with qdrant_reply_free(). */
int qdrant_call(qdrant_client *c, const char *method, const char *path,
                const char *body, size_t body_len, qdrant_reply *reply);

void qdrant_reply_free(qdrant_reply *reply);

/** Map a non-200 reply to an outcome by the host's one policy
 *  (host->http_outcome) and set the error in Qdrant's words.  `what` names
 *  the operation in the message. */
int qdrant_failure(qdrant_client *c, const qdrant_reply *reply,
                   const char *what);

/** The `result` member of a successful reply, or NULL. */
const cJSON *qdrant_result(const qdrant_reply *reply);

#endif
