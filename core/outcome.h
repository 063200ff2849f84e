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

#endif
