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
#include <microhttpd.h>

#include "control.h"
#include "daemon.h"
#include "generator.h"
#include "log.h"

#define STOP_WAIT_S 120.0
#define MAX_CONNECTIONS 16
#define MAX_BODY (64 * 1024)

struct es_autoupdater {
    struct MHD_Daemon *mhd;
    es_daemon *daemon;
    char *token;            /* NULL: served without one */
};

/* One request's body, gathered across MHD's upload calls. */
typedef struct request {
    char *body;
    size_t len;
    int too_big;
} request;

/* A route answers with a status and a JSON object.  Out of memory is the
 * one error a handler can meet; it answers 500. */
typedef unsigned (*route_fn)(es_autoupdater *a, const char *arg,
                             const request *rq, cJSON **out);

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
static unsigned health(es_autoupdater *a, const char *arg, const request *rq,
                       cJSON **out)
{
    (void)arg;
    (void)rq;
    int status[3];
    char error[3][256];
    es_daemon_backends(a->daemon, status, error);
    char *generator = es_daemon_source_value(a->daemon, "generator_url");
    char stamp[40];
    iso_now(stamp, sizeof stamp);
    cJSON *o = cJSON_CreateObject();
    cJSON *checks = cJSON_CreateObject();
    if (o == NULL || checks == NULL) {
        cJSON_Delete(o);
        cJSON_Delete(checks);
        free(generator);
        return health_error("out of memory", stamp, out);
    }
    int degraded = 0;
    add_check(checks, "qdrant", status[EMBSYNC_KIND_STORE - 1] == EMBSYNC_OK,
              error[EMBSYNC_KIND_STORE - 1], &degraded);
    add_check(checks, "clip", status[EMBSYNC_KIND_EMBEDDER - 1] == EMBSYNC_OK,
              error[EMBSYNC_KIND_EMBEDDER - 1], &degraded);
    if (generator != NULL) {
        char why[256] = "";
        int ready = es_generator_ready(generator, why, sizeof why);
        add_check(checks, "generator", ready, why, &degraded);
        free(generator);
    }
    add_check(checks, "scheduler", es_daemon_scheduler_running(a->daemon),
              "the scheduler is stopping", &degraded);
    cJSON_AddStringToObject(o, "status", degraded ? "degraded" : "healthy");
    cJSON_AddItemToObject(o, "checks", checks);
    cJSON_AddStringToObject(o, "timestamp", stamp);
    *out = o;
    return degraded ? 503 : 200;
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
static unsigned stop_update(es_autoupdater *a, const char *arg,
                            const request *rq, cJSON **out)
{
    (void)rq;
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
    es_daemon_stop_run(a->daemon, name, STOP_WAIT_S, &run);

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
static unsigned processing_progress(es_autoupdater *a, const char *arg,
                                    const request *rq, cJSON **out)
{
    (void)arg;
    cJSON *body = cJSON_ParseWithLength(rq->body ? rq->body : "", rq->len);
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
    es_run_view run;
    es_daemon_run_view(a->daemon, &run);
    int known = *name != '\0' && strcmp(run.collection, name) == 0 &&
                (run.running ||
                 (run.status != ES_PROGRESS_NONE && run.status != EMBSYNC_SKIP));
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
    cJSON_AddNumberToObject(p, "total", (double)run.total);
    cJSON_AddNumberToObject(p, "current", (double)run.done);
    cJSON_AddStringToObject(p, "status", run.running ? "processing"
                                         : run.status == EMBSYNC_OK ? "completed"
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

static unsigned alive(es_autoupdater *a, const char *arg, const request *rq,
                      cJSON **out)
{
    (void)a, (void)arg, (void)rq;
    return status_only("alive", out);
}

static unsigned ready(es_autoupdater *a, const char *arg, const request *rq,
                      cJSON **out)
{
    (void)a, (void)arg, (void)rq;
    return status_only("ready", out);
}

static unsigned is_running(es_autoupdater *a, const char *arg,
                           const request *rq, cJSON **out)
{
    (void)a, (void)arg, (void)rq;
    *out = cJSON_CreateObject();
    cJSON_AddBoolToObject(*out, "running", 1);
    cJSON_AddStringToObject(*out, "mode", "production");
    return 200;
}

/* ---- routing ---------------------------------------------------------------- */

/* A path ending in '/' is a prefix: the rest of the URL is the argument. */
static const struct route {
    const char *method;
    const char *path;
    route_fn fn;
} routes[] = {
    {"GET", "/health", health},
    {"POST", "/stop-embeddings-update/", stop_update},
    {"POST", "/processing_progress", processing_progress},
    {"GET", "/livez", alive},
    {"GET", "/is_alive", alive},
    {"GET", "/readyz", ready},
    {"GET", "/is_ready", ready},
    {"POST", "/is_ready", ready},
    {"POST", "/is_running", is_running},
};

/* The argument of url under route path, or NULL when it does not match. */
static const char *route_match(const char *path, const char *url)
{
    size_t n = strlen(path);
    if (path[n - 1] != '/')
        return strcmp(path, url) == 0 ? "" : NULL;
    if (strncmp(path, url, n) != 0 || url[n] == '\0' || strchr(url + n, '/'))
        return NULL;
    return url + n;
}

/* Errors in the shape of the original's framework: {"detail": ...}. */
static enum MHD_Result detail(struct MHD_Connection *conn, unsigned status,
                              const char *text)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "detail", text);
    char *body = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return es_control_answer(conn, status, "application/json", body);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn,
                              const char *url, const char *method,
                              const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
    (void)version;
    es_autoupdater *a = cls;
    request *rq = *con_cls;
    if (rq == NULL) {
        if ((rq = calloc(1, sizeof *rq)) == NULL)
            return MHD_NO;
        *con_cls = rq;
        return MHD_YES;
    }
    if (*upload_size != 0) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (rq->too_big || rq->len + n > MAX_BODY) {
            rq->too_big = 1;
            return MHD_YES;
        }
        char *grown = realloc(rq->body, rq->len + n + 1);
        if (grown == NULL)
            return MHD_NO;
        memcpy(grown + rq->len, upload, n);
        rq->body = grown;
        rq->len += n;
        rq->body[rq->len] = '\0';
        return MHD_YES;
    }
    if (a->token != NULL && !es_control_bearer_ok(conn, a->token))
        return detail(conn, MHD_HTTP_UNAUTHORIZED,
                      "missing or wrong Authorization: Bearer token");
    if (rq->too_big)
        return detail(conn, 413, "request body too large");

    int path_known = 0;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const char *arg = route_match(routes[i].path, url);
        if (arg == NULL)
            continue;
        path_known = 1;
        if (strcmp(method, routes[i].method) != 0)
            continue;
        cJSON *out = NULL;
        unsigned status = routes[i].fn(a, arg, rq, &out);
        char *body = out != NULL ? cJSON_PrintUnformatted(out) : NULL;
        cJSON_Delete(out);
        return es_control_answer(conn, status, "application/json", body);
    }
    return path_known
               ? detail(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "Method Not Allowed")
               : detail(conn, MHD_HTTP_NOT_FOUND, "Not Found");
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode why)
{
    (void)cls, (void)conn, (void)why;
    request *rq = *con_cls;
    if (rq != NULL) {
        free(rq->body);
        free(rq);
        *con_cls = NULL;
    }
}

es_autoupdater *es_autoupdater_start(es_daemon *d, const char *listen,
                                     const char *token, int without_token,
                                     char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    int loopback = 0;
    if (es_control_parse_listen(listen, &ss, &loopback) != 0) {
        snprintf(err, errlen, "autoupdater_listen = %s: expected HOST:PORT",
                 listen);
        return NULL;
    }
    int have_token = token != NULL && *token != '\0';
    if (!without_token && !have_token) {
        snprintf(err, errlen,
                 "autoupdater_listen = %s: set control_token (or "
                 "control_token_file) for its routes, or "
                 "autoupdater_without_token = yes to serve them without one",
                 listen);
        return NULL;
    }
    es_autoupdater *a = calloc(1, sizeof *a);
    if (a == NULL)
        return NULL;
    a->daemon = d;
    a->token = without_token ? NULL : strdup(token);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_THREAD_PER_CONNECTION;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    a->mhd = MHD_start_daemon(flags, 0, NULL, NULL, handle, a,
                              MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                              MHD_OPTION_CONNECTION_LIMIT, MAX_CONNECTIONS,
                              MHD_OPTION_CONNECTION_TIMEOUT, 30U,
                              MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
                              MHD_OPTION_END);
    if (a->mhd == NULL) {
        snprintf(err, errlen, "cannot listen on %s (in use, or not allowed)",
                 listen);
        free(a->token);
        free(a);
        return NULL;
    }
    if (without_token)
        es_warn("the original Auto-Updater's routes on %s are served WITHOUT "
                "a token (autoupdater_without_token = yes): anyone who can "
                "reach it can stop a project's run; keep it on the platform's "
                "network only",
                listen);
    return a;
}

void es_autoupdater_stop(es_autoupdater *a)
{
    if (a == NULL)
        return;
    MHD_stop_daemon(a->mhd);
    free(a->token);
    free(a);
}
