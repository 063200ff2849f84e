#include "sly_api.h"

#include <inttypes.h>
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
    char path[256];
    snprintf(path, sizeof path, "v3/%s", method);
    api->host->url_join(api->base, path, url, sizeof url);
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
        rc = api->host->http_outcome(api->ctx, rc, &resp, method,
                                     msg ? msg : "no details", EMBSYNC_WHOLE_CALL);
        if (rc == EMBSYNC_OK) /* a 2xx other than the 200 the API sends */
            rc = EMBSYNC_FAILED;
        cJSON_Delete(err);
    }
    api->host->http_release(api->ctx, &resp);
    return rc;
}

cJSON *sly_id(int64_t id)
{
    char text[24];
    snprintf(text, sizeof text, "%" PRId64, id);
    return cJSON_CreateRaw(text);
}

cJSON *sly_filter(const char *field, const char *op, cJSON *value)
{
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "field", field);
    cJSON_AddStringToObject(c, "operator", op);
    cJSON_AddItemToObject(c, "value", value);
    return c;
}

/* What the envelope says about entities beyond this page.  `total` counts
 * what still matches (the id cursor is part of the filter), `pagesCount`
 * the pages of that; a page as long as asked is never taken as the last
 * one, in case a server's total undercounts. */
static int more_pages(const cJSON *answer, int n, long per_page)
{
    const cJSON *total = cJSON_GetObjectItemCaseSensitive(answer, "total");
    const cJSON *pages = cJSON_GetObjectItemCaseSensitive(answer, "pagesCount");
    if (n >= per_page)
        return 1;
    if (cJSON_IsNumber(total))
        return total->valuedouble > n;
    if (cJSON_IsNumber(pages))
        return pages->valuedouble > 1;
    return 1; /* nothing said: ask until an empty page */
}

int sly_list_each(sly_api *api, const char *method, const cJSON *body,
                  long per_page, sly_page_cb cb, void *arg)
{
    double after = 0, listed = -1;
    for (int page = 1;; page++) {
        cJSON *req = cJSON_Duplicate(body, 1), *answer = NULL;
        if (req == NULL)
            return EMBSYNC_FAILED;
        cJSON *flt = cJSON_GetObjectItemCaseSensitive(req, "filter");
        if (flt == NULL)
            flt = cJSON_AddArrayToObject(req, "filter");
        cJSON_AddItemToArray(flt, sly_filter("id", ">", cJSON_CreateNumber(after)));
        cJSON_DeleteItemFromObjectCaseSensitive(req, "sort");
        cJSON_DeleteItemFromObjectCaseSensitive(req, "sort_order");
        cJSON_AddStringToObject(req, "sort", "id");
        cJSON_AddStringToObject(req, "sort_order", "asc");
        cJSON_AddNumberToObject(req, "page", 1);
        cJSON_AddNumberToObject(req, "per_page", (double)per_page);
        int rc = sly_call(api, method, req, &answer, NULL);
        cJSON_Delete(req);
        const cJSON *entities = cJSON_GetObjectItemCaseSensitive(answer, "entities");
        int n = cJSON_GetArraySize(entities);
        double last = after;
        const cJSON *e;
        cJSON_ArrayForEach(e, entities)
        {
            double id = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(e, "id"));
            if (rc == EMBSYNC_OK && !(id > last)) {
                api->host->set_error(api->ctx, "%s: the server ignored the id "
                                     "cursor (id %.0f after %.0f)", method, id, last);
                rc = EMBSYNC_FAILED;
            }
            last = id;
        }
        /* Later pages count only what is beyond the cursor. */
        const cJSON *total = cJSON_GetObjectItemCaseSensitive(answer, "total");
        if (page == 1 && cJSON_IsNumber(total) && total->valuedouble >= 0)
            listed = total->valuedouble;
        if (rc == EMBSYNC_OK && n > 0)
            rc = cb(arg, entities, listed);
        int more = rc == EMBSYNC_OK && n > 0 && more_pages(answer, n, per_page);
        cJSON_Delete(answer);
        if (!more)
            return rc;
        after = last;
    }
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

void sly_format_time(int64_t us, char *out, size_t len)
{
    time_t sec = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    size_t n = strftime(out, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, len - n, ".%06ldZ", (long)(us % 1000000));
}

int64_t sly_parse_time(const char *text, int64_t *granularity)
{
    struct tm tm = {0};
    char frac[8] = "";
    if (text == NULL ||
        sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d.%6[0-9]Z", &tm.tm_year, &tm.tm_mon,
               &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, frac) != 7)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    int64_t us = 0, step = 1;
    size_t digits = strlen(frac);
    for (size_t i = 0; i < 6; i++) {
        us = us * 10 + (i < digits ? frac[i] - '0' : 0);
        if (i >= digits)
            step *= 10;
    }
    if (granularity != NULL)
        *granularity = step;
    return (int64_t)timegm(&tm) * 1000000 + us;
}
