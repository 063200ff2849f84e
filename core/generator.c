#include <config.h>

#include "generator.h"

#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "http.h"
#include "log.h"

#define READY_TIMEOUT_MS 3000

int es_generator_ready(const char *base_url, char *why, size_t whylen)
{
    char url[2048];
    size_t len = strlen(base_url);
    while (len > 0 && base_url[len - 1] == '/')
        len--;
    if ((size_t)snprintf(url, sizeof url, "%.*s/is_ready", (int)len, base_url) >=
        sizeof url) {
        snprintf(why, whylen, "generator_url is too long");
        return 0;
    }
    const char *headers[] = {"Accept: application/json", NULL};
    embsync_http_request req = {
        .abi = EMBSYNC_ABI_INIT(embsync_http_request),
        .method = "GET",
        .url = url,
        .headers = headers,
        .timeout_ms = READY_TIMEOUT_MS,
        .max_attempts = 1,
    };
    embsync_http_response resp = {.abi = EMBSYNC_ABI_INIT(embsync_http_response)};
    int status = EMBSYNC_FAILED;
    int ready = 0;
    if (es_http_many("generator", NULL, 1, &req, &resp, &status, 1) != EMBSYNC_OK ||
        resp.status == 0) {
        /* A transport error may quote the URL: no secret leaves in it. */
        es_redact(resp.error != NULL ? resp.error : "no answer from /is_ready",
                  why, whylen);
    } else if (resp.status != 200) {
        snprintf(why, whylen, "/is_ready answered HTTP %ld", resp.status);
    } else {
        cJSON *body = cJSON_ParseWithLength(resp.body, resp.body_len);
        const char *s =
            cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "status"));
        ready = s != NULL && strcmp(s, "ready") == 0;
        if (!ready)
            snprintf(why, whylen, "/is_ready answered %s",
                     body == NULL ? "a body that is not JSON"
                     : s != NULL  ? "a status other than \"ready\""
                                  : "no status");
        cJSON_Delete(body);
    }
    es_http_release(&resp);
    return ready;
}
