#include "sly_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int sly_call(sly_api *api, const char *method, cJSON *body, cJSON **out,
             int *status404)
{
    *out = NULL;
    if (status404 != NULL)
        *status404 = 0;
    char url[2048];
    snprintf(url, sizeof url, "%s/v3/%s", api->base, method);
    char *text = cJSON_PrintUnformatted(body);
    const char *headers[] = {"Content-Type: application/json", api->key_header, NULL};
    embsync_http_request req = {
        .abi = EMBSYNC_ABI_INIT(embsync_http_request),
        .method = "POST",
        .url = url,
        .headers = headers,
        .body = text,
        .body_len = text ? strlen(text) : 0,
        .timeout_ms = 60000,
        .flags = api->flags,
    };
    embsync_http_response resp = {.abi = EMBSYNC_ABI_INIT(embsync_http_response)};
    int rc = api->host->http(api->ctx, &req, &resp);
    cJSON_free(text);
    if (rc == EMBSYNC_OK && resp.status == 200) {
        *out = cJSON_Parse(resp.body);
        if (*out == NULL) /* plain-text answers (session tokens) */
            *out = cJSON_CreateString(resp.body);
    } else {
        cJSON *err = resp.body ? cJSON_Parse(resp.body) : NULL;
        const char *msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(err, "error"));
        if (rc == EMBSYNC_OK && resp.status == 404 && status404 != NULL)
            *status404 = 1;
        if (rc != EMBSYNC_OK || resp.status == 0)
            api->host->set_error(api->ctx, "%s: %s", method,
                                 resp.error ? resp.error
                                 : resp.status ? "server kept failing" : "no answer");
        else
            api->host->set_error(api->ctx, "%s: HTTP %ld: %s", method, resp.status,
                                 msg ? msg : "no details");
        if (resp.retry_after > 0)
            api->host->set_retry_after(api->ctx, resp.retry_after);
        if (rc == EMBSYNC_OK)
            rc = resp.status == 401 || resp.status == 403 ? EMBSYNC_FATAL
                 : resp.status == 408 || resp.status == 429 || resp.status >= 500
                     ? EMBSYNC_RETRY
                     : EMBSYNC_FAILED;
        cJSON_Delete(err);
    }
    api->host->http_release(api->ctx, &resp);
    return rc;
}

void sly_now(char *out, size_t len)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, len - n, ".%06ldZ", ts.tv_nsec / 1000);
}

int64_t sly_parse_time(const char *text)
{
    struct tm tm = {0};
    char frac[8] = "";
    if (text == NULL ||
        sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d.%6[0-9]Z", &tm.tm_year, &tm.tm_mon,
               &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, frac) != 7)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    int64_t us = 0;
    for (int i = 0; i < 6; i++)
        us = us * 10 + (frac[i] != '\0' && i < (int)strlen(frac) ? frac[i] - '0' : 0);
    return (int64_t)timegm(&tm) * 1000000 + us;
}
