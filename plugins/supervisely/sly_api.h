/* Calling Supervisely's public API (POST <api_base>/v3/<method>) through
 * the host's HTTP helper, and the small pieces of its conventions. */
#ifndef SLY_API_H
#define SLY_API_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include <embsync/plugin.h>

typedef struct sly_api {
    const embsync_host *host;
    embsync_ctx *ctx;
    char *base;          /* ".../public/api" or the internal api_server */
    char *key_header;    /* "x-api-key: ..." */
    unsigned flags;      /* EMBSYNC_HTTP_* */
} sly_api;

/** Call `method` with a JSON body; on HTTP 200 *out is the parsed answer
 *  (caller frees; a text answer becomes a JSON string).  404 answers
 *  EMBSYNC_FAILED with *status404 set when the pointer is given.  Other
 *  answers map to RETRY (after the host's retries), FATAL (401/403) or
 *  FAILED, with the error set. */
int sly_call(sly_api *api, const char *method, cJSON *body, cJSON **out,
             int *status404);

/** Current UTC as the client stamps it: %Y-%m-%dT%H:%M:%S.%fZ. */
void sly_now(char *out, size_t len);

/** Parse a stamp (1-6 fraction digits, Z) into microseconds; -1 if bad. */
int64_t sly_parse_time(const char *text);

#endif
