#include "sly_generator.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

/* One request to the Generator; *out is the parsed JSON answer of a 2xx
 * (caller frees), NULL otherwise.  Returns the HTTP status, 0 for none. */
static long call(const sly_generator *g, const char *method, const char *route,
                 int64_t project, cJSON **out)
{
    char url[2048], body[96];
    snprintf(url, sizeof url, "%s/%s", g->url, route);
    snprintf(body, sizeof body, "{\"state\":{\"project_id\":%" PRId64 "}}", project);
    const char *headers[] = {"Content-Type: application/json", NULL};
    int post = strcmp(method, "POST") == 0;
    embsync_http_request req = {
        .abi = EMBSYNC_ABI_INIT(embsync_http_request),
        .method = method,
        .url = url,
        .headers = post ? headers : NULL,
        .body = post ? body : NULL,
        .body_len = post ? strlen(body) : 0,
        .timeout_ms = 10000,
        .flags = g->flags,
        .max_attempts = 2,
    };
    embsync_http_response resp = {.abi = EMBSYNC_ABI_INIT(embsync_http_response)};
    int rc = g->host->http(g->ctx, &req, &resp);
    long status = rc == EMBSYNC_OK ? resp.status : 0;
    *out = status / 100 == 2 && resp.body ? cJSON_Parse(resp.body) : NULL;
    if (status / 100 != 2)
        g->host->set_error(g->ctx, "Generator %s: %s", route,
                           status ? "HTTP error" : resp.error ? resp.error : "no answer");
    if (status / 100 != 2 && status != 0) {
        cJSON *err = resp.body ? cJSON_Parse(resp.body) : NULL;
        const char *msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(err, "message"));
        g->host->set_error(g->ctx, "Generator %s: HTTP %ld: %s", route, status,
                           msg ? msg : "no message");
        cJSON_Delete(err);
    }
    g->host->http_release(g->ctx, &resp);
    return status;
}

int sly_generator_ready(const sly_generator *g)
{
    if (g->url == NULL)
        return EMBSYNC_OK;
    cJSON *answer;
    long status = call(g, "GET", "is_ready", 0, &answer);
    const char *state = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(answer, "status"));
    int ready = status == 200 && state != NULL && strcmp(state, "ready") == 0;
    if (status == 200 && !ready)
        g->host->set_error(g->ctx, "Generator is_ready: status is %s, not ready",
                           state ? state : "missing");
    cJSON_Delete(answer);
    return ready ? EMBSYNC_OK : EMBSYNC_RETRY;
}

int sly_generator_running(const sly_generator *g, int64_t project)
{
    if (g->url == NULL)
        return 0;
    cJSON *answer;
    call(g, "POST", "task_status", project, &answer);
    const char *status = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(answer, "status"));
    static const char *const idle[] = {"no_task", "completed", "failed", "cancelled"};
    int running = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(answer, "is_running"));
    for (size_t i = 0; running && status != NULL && i < sizeof idle / sizeof idle[0]; i++)
        if (strcmp(status, idle[i]) == 0)
            running = 0;
    cJSON_Delete(answer);
    return running;
}

void sly_generator_cancel(const sly_generator *g, int64_t project)
{
    if (g->url == NULL)
        return;
    cJSON *answer;
    long status = call(g, "POST", "cancel_embeddings", project, &answer);
    if (status != 200 || answer == NULL)
        g->host->log(g->ctx, EMBSYNC_LOG_WARNING,
                     "project %" PRId64 ": the Generator did not confirm "
                     "cancel_embeddings (HTTP %ld)", project, status);
    cJSON_Delete(answer);
}
