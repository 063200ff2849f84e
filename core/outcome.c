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
