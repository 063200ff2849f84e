#include <config.h>

#include "autoupdater_routes.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "log.h"

#define STOP_WAIT_S 120.0
#define MAX_BODY (64 * 1024)

/* ---- helpers -------------------------------------------------------------- */

/* The original's timestamps: ISO 8601, UTC, microseconds, "Z". */
static void iso_now(char *out, size_t len)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, len - n, ".%06ldZ", ts.tv_nsec / 1000);
}

/* A project id as the original's int path parameter takes it. */
static int parse_project_id(const char *text, int64_t *id)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (*text == '\0' || *end != '\0' || errno != 0)
        return -1;
    *id = v;
    return 0;
}

/* ---- GET /health ------------------------------------------------------------ */

static void add_check(cJSON *checks, const char *name, int ok, const char *why,
                      int *degraded)
{
    char text[400];
    if (ok) {
        cJSON_AddStringToObject(checks, name, "healthy");
        return;
    }
    snprintf(text, sizeof text, "unhealthy: %s", *why ? why : "check failed");
    cJSON_AddStringToObject(checks, name, text);
    *degraded = 1;
}

/* The original's answer when its handler itself fails. */
static unsigned health_error(const char *why, const char *stamp, cJSON **out)
{
    char text[300];
    snprintf(text, sizeof text, "error: %s", why);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", "unhealthy");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(o, "checks"), "general", text);
    cJSON_AddStringToObject(o, "timestamp", stamp);
    *out = o;
    return 500;
}

/* "qdrant" and "clip" are the store's and the embedder's own checks,
 * whatever the plugins; "generator" only when the source names one. */
static unsigned render_health(const es_daemon_snapshot *s, const char *stamp,
                              cJSON **out)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *checks = cJSON_CreateObject();
    if (o == NULL || checks == NULL) {
        cJSON_Delete(o);
        cJSON_Delete(checks);
        return health_error("out of memory", stamp, out);
    }
    const es_backend_view *store = &s->backends[EMBSYNC_KIND_STORE - 1];
    const es_backend_view *embedder = &s->backends[EMBSYNC_KIND_EMBEDDER - 1];
    int degraded = 0;
    add_check(checks, "qdrant", store->status == EMBSYNC_OK, store->error,
              &degraded);
    add_check(checks, "clip", embedder->status == EMBSYNC_OK, embedder->error,
              &degraded);
    if (s->generator_url[0] != '\0')
        add_check(checks, "generator", s->generator_ready, s->generator_error,
                  &degraded);
    add_check(checks, "scheduler", s->scheduler_running,
              "the scheduler is stopping", &degraded);
    cJSON_AddStringToObject(o, "status", degraded ? "degraded" : "healthy");
    cJSON_AddItemToObject(o, "checks", checks);
    cJSON_AddStringToObject(o, "timestamp", stamp);
    *out = o;
    return degraded ? 503 : 200;
}

static unsigned health(const es_route_request *rq, es_route_answer *ans)
{
    const es_daemon_api *d = rq->daemon;
    char stamp[40];
    es_daemon_snapshot s;
    d->probe(d->d);
    iso_now(stamp, sizeof stamp);
    if (d->snapshot(d->d, &s) != 0)
        return health_error("out of memory", stamp, &ans->json);
    unsigned status = render_health(&s, stamp, &ans->json);
    es_daemon_snapshot_release(&s);
    return status;
}

/* ---- POST /stop-embeddings-update/{project_id} ----------------------------- */

/*
 * What each `details` key reports in embsync (the original's steps, mapped
 * onto the engine's stop of one collection):
 *   cancel_task             the stop request reached the project's run
 *                           (always "success" once it is the current one);
 *   clear_current_task      the run ended within the wait: the batch in
 *                           flight was stored and acknowledged, nothing
 *                           further was taken;
 *   clear_in_progress_flag  the source's end() for that run succeeded; for
 *                           the supervisely source that call sets
 *                           embeddingsInProgress false and removes the
 *                           custom-data stamp, and answers once for both
 *   clear_update_flag       (when it fails, both keys read "failed", though
 *                           one of the two steps may have been done);
 *   clear_autorestart       embsync's in-flight record (state_dir) no longer
 *                           names the project, so a restart does not resume
 *                           it.
 * Otherwise a key reads "failed" when its step did not happen.  `success`
 * follows clear_in_progress_flag, as in the original (false: HTTP 400).
 */
static unsigned stop_update(const es_route_request *rq, es_route_answer *ans)
{
    const char *arg = rq->arg;
    cJSON **out = &ans->json;
    int64_t id;
    if (parse_project_id(arg, &id) != 0) {
        /* As the original's framework refuses a path parameter that is not
         * an integer. */
        cJSON *o = cJSON_CreateObject();
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "type", "int_parsing");
        cJSON *loc = cJSON_AddArrayToObject(e, "loc");
        cJSON_AddItemToArray(loc, cJSON_CreateString("path"));
        cJSON_AddItemToArray(loc, cJSON_CreateString("project_id"));
        cJSON_AddStringToObject(e, "msg", "Input should be a valid integer, "
                                          "unable to parse string as an integer");
        cJSON_AddStringToObject(e, "input", arg);
        cJSON_AddItemToArray(cJSON_AddArrayToObject(o, "detail"), e);
        *out = o;
        return 422;
    }
    char name[32], message[160];
    snprintf(name, sizeof name, "%" PRId64, id);
    es_stopped_run run;
    rq->daemon->request_stop(rq->daemon->d, name, STOP_WAIT_S, &run);

    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "project_id", (double)id);
    cJSON_AddBoolToObject(o, "is_current_task", run.was_running);
    cJSON *details = cJSON_CreateObject();
    int success = 1;
    if (!run.was_running) {
        snprintf(message, sizeof message,
                 "Project %" PRId64 " is not being processed now: nothing to stop",
                 id);
    } else {
        int cleared = run.ended && run.end_status == EMBSYNC_OK;
        const struct { const char *key; int ok; } steps[] = {
            {"cancel_task", 1},
            {"clear_current_task", run.ended},
            {"clear_in_progress_flag", cleared},
            {"clear_update_flag", cleared},
            {"clear_autorestart", run.inflight_cleared},
        };
        for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
            cJSON_AddStringToObject(details, steps[i].key,
                                    steps[i].ok ? "success" : "failed");
        success = cleared;
        snprintf(message, sizeof message, "%s",
                 success ? "Stopped auto update task successfully"
                 : run.ended ? "Stopped auto update task, but clearing the "
                               "project's in-progress flag failed"
                             : "Asked the task to stop, but it did not end in time");
        es_info("project %" PRId64 ": stopped through /stop-embeddings-update%s",
                id, success ? "" : " (not cleanly; see details)");
    }
    cJSON_AddBoolToObject(o, "success", success);
    cJSON_AddStringToObject(o, "message", message);
    cJSON_AddItemToObject(o, "details", details);
    *out = o;
    return success ? 200 : 400;
}

/* ---- POST /processing_progress ---------------------------------------------- */

static unsigned progress_error(const char *why, cJSON **out)
{
    char text[200];
    snprintf(text, sizeof text, "Error getting processing progress: %s", why);
    *out = cJSON_CreateObject();
    cJSON_AddStringToObject(*out, "message", text);
    return 500;
}

static unsigned no_progress(const char *message, cJSON **out)
{
    *out = cJSON_CreateObject();
    cJSON_AddStringToObject(*out, "message", message);
    cJSON_AddNullToObject(*out, "progress");
    return 200;
}

/* The project in flight, or the last one until the next starts:
 * total = the changes the source announced for the run (0 until it does),
 * current = those applied and acknowledged. */
static unsigned processing_progress(const es_route_request *rq,
                                    es_route_answer *ans)
{
    cJSON **out = &ans->json;
    cJSON *body = cJSON_ParseWithLength(rq->body ? rq->body : "", rq->body_len);
    cJSON *state = cJSON_GetObjectItemCaseSensitive(body, "state");
    if (!cJSON_IsObject(state)) {
        cJSON_Delete(body);
        return progress_error(body == NULL ? "the body is not JSON"
                                           : "no \"state\" object in the body",
                              out);
    }
    cJSON *pid = cJSON_GetObjectItemCaseSensitive(state, "project_id");
    char message[300];
    if (pid == NULL || cJSON_IsNull(pid)) {
        cJSON_Delete(body);
        return no_progress("Project ID is not specified. "
                           "Send {\"state\": {\"project_id\": <id>}}.",
                           out);
    }
    char name[32] = "";
    int64_t id = 0;
    /* An integer, within the range where a double holds every one. */
    if (cJSON_IsNumber(pid) && fabs(pid->valuedouble) <= 9007199254740992.0 &&
        pid->valuedouble == (double)(int64_t)pid->valuedouble) {
        id = (int64_t)pid->valuedouble;
        snprintf(name, sizeof name, "%" PRId64, id);
    }
    es_daemon_snapshot snap;
    if (rq->daemon->snapshot(rq->daemon->d, &snap) != 0) {
        cJSON_Delete(body);
        return progress_error("out of memory", out);
    }
    es_daemon_snapshot_release(&snap); /* its progress is all this needs */
    const es_progress_view *run = &snap.progress;
    int running = run->stage != ES_STAGE_IDLE;
    /* How the last run ended, while it is the last. */
    int status = !running && strcmp(run->ended_collection, run->collection) == 0
                     ? run->ended_status
                     : ES_PROGRESS_NONE;
    int known = *name != '\0' && strcmp(run->collection, name) == 0 &&
                (running || (status != ES_PROGRESS_NONE && status != EMBSYNC_SKIP));
    if (!known) {
        /* Printed as the original's f-string prints it: a text as is. */
        char *shown = *name || cJSON_IsString(pid) ? NULL
                                                    : cJSON_PrintUnformatted(pid);
        snprintf(message, sizeof message,
                 "No processing progress found for project %.200s",
                 *name ? name : cJSON_IsString(pid) ? pid->valuestring
                 : shown ? shown : "?");
        free(shown);
        cJSON_Delete(body);
        return no_progress(message, out);
    }
    cJSON_Delete(body);
    cJSON *o = cJSON_CreateObject();
    cJSON *p = cJSON_AddObjectToObject(o, "progress");
    cJSON_AddNumberToObject(p, "project_id", (double)id);
    cJSON_AddNumberToObject(p, "total", (double)run->total);
    cJSON_AddNumberToObject(p, "current", (double)run->done);
    cJSON_AddStringToObject(p, "status", running ? "processing"
                                         : status == EMBSYNC_OK ? "completed"
                                                                : "error");
    *out = o;
    return 200;
}

/* ---- the probes every Supervisely app serves ---------------------------------- */

static unsigned status_only(const char *value, cJSON **out)
{
    *out = cJSON_CreateObject();
    cJSON_AddStringToObject(*out, "status", value);
    return 200;
}

static unsigned alive(const es_route_request *rq, es_route_answer *ans)
{
    (void)rq;
    return status_only("alive", &ans->json);
}

static unsigned ready(const es_route_request *rq, es_route_answer *ans)
{
    (void)rq;
    return status_only("ready", &ans->json);
}

static unsigned is_running(const es_route_request *rq, es_route_answer *ans)
{
    (void)rq;
    cJSON *o = ans->json = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "running", 1);
    cJSON_AddStringToObject(o, "mode", "production");
    return 200;
}

/* ---- the table ---------------------------------------------------------------- */

const es_route es_autoupdater_routes[] = {
    {"GET", "/health", health},
    {"POST", "/stop-embeddings-update/*", stop_update},
    {"POST", "/processing_progress", processing_progress},
    {"GET", "/livez", alive},
    {"GET", "/is_alive", alive},
    {"GET", "/readyz", ready},
    {"GET", "/is_ready", ready},
    {"POST", "/is_ready", ready},
    {"POST", "/is_running", is_running},
};
const size_t es_autoupdater_n_routes =
    sizeof es_autoupdater_routes / sizeof es_autoupdater_routes[0];

es_listener *es_autoupdater_start(const es_daemon_api *d, const char *listen,
                                  const char *token, int without_token,
                                  char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    int loopback;
    if (es_control_parse_listen(listen, &ss, &loopback) == 0 &&
        !without_token && (token == NULL || *token == '\0')) {
        snprintf(err, errlen,
                 "autoupdater_listen = %s: set control_token (or "
                 "control_token_file) for its routes, or "
                 "autoupdater_without_token = yes to serve them without one",
                 listen);
        return NULL;
    }
    /* Errors in the shape of the original's framework: {"detail": ...}. */
    const es_listener_spec spec = {
        .setting = "autoupdater_listen",
        .listen = listen,
        .token = without_token ? NULL : token,
        .token_for_reads = 1,
        .max_body = MAX_BODY,
        .routes = es_autoupdater_routes,
        .n_routes = es_autoupdater_n_routes,
        .daemon = d,
        .error_key = "detail",
        .not_found = "Not Found",
        .not_allowed = "Method Not Allowed",
    };
    es_listener *l = es_listener_start(&spec, err, errlen);
    if (l != NULL && without_token)
        es_warn("the original Auto-Updater's routes on %s are served WITHOUT "
                "a token (autoupdater_without_token = yes): anyone who can "
                "reach it can stop a project's run; keep it on the platform's "
                "network only",
                listen);
    return l;
}
