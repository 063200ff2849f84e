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

/** Receives one page of entities and the number the listing matched when
 *  it began (the first page's `total`; -1 when the server gave none);
 *  returns EMBSYNC_OK to go on. */
typedef int (*sly_page_cb)(void *arg, const cJSON *entities, double listed);

/** Call cb with every entity `method` lists for `body` (a template the
 *  caller keeps: its filter is copied and extended), in ascending id order.
 *  Keyset paging: each request is page 1 of "id > the last id seen", so
 *  neither acknowledgements made while listing nor a server-side cap on
 *  the page size can shift or cut a page.  Paging stops only when the
 *  envelope says so (total or pagesCount) or a page comes back empty,
 *  never because a page was shorter than per_page.  A server that does not
 *  honour the id cursor is reported (FAILED), never looped on. */
int sly_list_each(sly_api *api, const char *method, const cJSON *body,
                  long per_page, sly_page_cb cb, void *arg);

/** An entity id as a JSON number, printed as an integer: cJSON prints
 *  every number through "%1.15g", reads it back with sscanf and may print
 *  it again, a few thousand instructions, and this is done per image (the
 *  acknowledgement's id, the payload's dataset id).  The text is the one
 *  cJSON would print for an id below 2^53.  NULL out of memory. */
cJSON *sly_id(int64_t id);

/** A list filter condition {"field","operator","value"} (value is taken). */
cJSON *sly_filter(const char *field, const char *op, cJSON *value);

/** Current UTC as the client stamps it: %Y-%m-%dT%H:%M:%S.%fZ. */
void sly_now(char *out, size_t len);

/** Parse a stamp (1-6 fraction digits, Z) into microseconds; -1 if bad.
 *  When granularity is given it receives the step of the digits written
 *  (1000 us for "…45.123Z"). */
int64_t sly_parse_time(const char *text, int64_t *granularity);

/** Write microseconds since the epoch as a client stamp (6 digits). */
void sly_format_time(int64_t us, char *out, size_t len);

#endif
