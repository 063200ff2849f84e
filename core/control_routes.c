#include <config.h>

#include "control_routes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "module.h"

#define STOP_WAIT_S 120.0

/* ---- GET /health -------------------------------------------------------------- */

static void add_reason(cJSON *reasons, const char *text)
{
    cJSON_AddItemToArray(reasons, cJSON_CreateString(text));
}

static void add_plugins(cJSON *o, const es_daemon_snapshot *s, cJSON *reasons)
{
    cJSON *plugins = cJSON_AddObjectToObject(o, "plugins");
    for (int kind = EMBSYNC_KIND_SOURCE; kind <= EMBSYNC_KIND_STORE; kind++) {
        const es_backend_view *b = &s->backends[kind - 1];
        const char *kind_name = es_kind_name(kind);
        cJSON *p = cJSON_AddObjectToObject(plugins, kind_name);
        int up = b->status == EMBSYNC_OK;
        cJSON_AddStringToObject(p, "name", b->plugin);
        cJSON_AddStringToObject(p, "status", up ? "up" : "down");
        if (!up) {
            char why[600];
            cJSON_AddStringToObject(p, "error", b->error);
            snprintf(why, sizeof why, "%s %s is down: %s", kind_name,
                     b->plugin, b->error);
            add_reason(reasons, why);
        }
    }
}

static void add_scheduler(cJSON *o, const es_daemon_snapshot *s)
{
    cJSON *sched = cJSON_AddObjectToObject(o, "scheduler");
    cJSON_AddStringToObject(sched, "state", s->pass_running ? "running" : "idle");
    cJSON_AddNumberToObject(sched, "interval_minutes", s->interval_min);
    cJSON_AddNumberToObject(sched, "last_pass_start", (double)s->last_pass_start);
    cJSON_AddNumberToObject(sched, "last_pass_end", (double)s->last_pass_end);
    cJSON_AddNumberToObject(sched, "next_pass_at", (double)s->next_pass_at);
}

/* Returns 1 when the collection is stale. */
static int add_collection(cJSON *array, const es_collection_status *c,
                          const es_daemon_snapshot *s, cJSON *reasons)
{
    int64_t stale_after = (int64_t)s->stale_after_min * 60;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", c->name);
    cJSON_AddNumberToObject(o, "last_success", (double)c->last_success);
    if (c->last_success > 0)
        cJSON_AddNumberToObject(o, "last_success_age_seconds",
                                (double)(s->now - c->last_success));
    cJSON_AddNumberToObject(o, "last_run_end", (double)c->last_run_end);
    cJSON_AddBoolToObject(o, "last_run_ok", c->last_status == EMBSYNC_OK);
    if (c->last_status != EMBSYNC_OK)
        cJSON_AddStringToObject(o, "last_error", c->last_error);
    cJSON_AddNumberToObject(o, "pending", (double)(c->deferred + c->waiting));
    cJSON_AddNumberToObject(o, "failed", (double)c->ledger_size);
    if (c->oldest_failed > 0)
        cJSON_AddNumberToObject(o, "oldest_pending_age_seconds",
                                (double)(s->now - c->oldest_failed));
    int stale = c->last_success == 0 || s->now - c->last_success > stale_after;
    cJSON_AddBoolToObject(o, "stale", stale);
    if (stale) {
        char why[400];
        snprintf(why, sizeof why, "collection %s has not synced successfully %s",
                 c->name, c->last_success ? "recently" : "yet");
        add_reason(reasons, why);
    }
    cJSON_AddItemToArray(array, o);
    return stale;
}

/* A rebuild beside the live collection, while one is in flight. */
static void add_rebuild(cJSON *o, const es_progress_view *p)
{
    if (p->rebuild_target[0] == '\0')
        return;
    cJSON *r = cJSON_AddObjectToObject(o, "rebuild");
    cJSON_AddStringToObject(r, "target", p->rebuild_target);
    cJSON_AddNumberToObject(r, "done", (double)p->rebuild_done);
    if (p->rebuild_total > 0)
        cJSON_AddNumberToObject(r, "total", (double)p->rebuild_total);
    else
        cJSON_AddNullToObject(r, "total");
}

/* Degraded (503) when a backend or the Generator is down, a collection is
 * stale, or no pass has ended yet: nothing is known to be in sync then. */
static cJSON *render_health(const es_daemon_snapshot *s, int *healthy)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *reasons = cJSON_CreateArray();
    int degraded = 0;
    cJSON_AddStringToObject(o, "version", PACKAGE_VERSION);
    add_plugins(o, s, reasons);
    for (int i = 0; i < 3; i++)
        degraded |= s->backends[i].status != EMBSYNC_OK;
    add_scheduler(o, s);
    cJSON *array = cJSON_AddArrayToObject(o, "collections");
    for (size_t i = 0; i < s->n_collections; i++)
        degraded |= add_collection(array, &s->collections[i], s, reasons);
    add_rebuild(o, &s->progress);
    if (s->generator_url[0] != '\0') {
        /* The Generator shares the collections: its readiness is ours to
         * report. */
        cJSON *g = cJSON_AddObjectToObject(o, "generator");
        cJSON_AddStringToObject(g, "url", s->generator_url);
        cJSON_AddStringToObject(g, "status", s->generator_ready ? "up" : "down");
        if (!s->generator_ready) {
            char reason[400];
            cJSON_AddStringToObject(g, "error", s->generator_error);
            snprintf(reason, sizeof reason, "generator is down: %s",
                     s->generator_error);
            add_reason(reasons, reason);
            degraded = 1;
        }
    }
    if (s->last_pass_end == 0) {
        degraded = 1;
        add_reason(reasons, "the first pass has not finished yet");
    }
    cJSON_AddStringToObject(o, "status", degraded ? "degraded" : "ok");
    cJSON_AddItemToObject(o, "reasons", reasons);
    *healthy = !degraded;
    return o;
}

static unsigned health(const es_route_request *rq, es_route_answer *ans)
{
    const es_daemon_api *d = rq->daemon;
    es_daemon_snapshot s;
    d->probe(d->d);
    if (d->snapshot(d->d, &s) != 0)
        return 500;
    int healthy;
    ans->json = render_health(&s, &healthy);
    es_daemon_snapshot_release(&s);
    return healthy ? 200 : 503;
}

/* ---- GET /metrics --------------------------------------------------------------- */

static unsigned metrics(const es_route_request *rq, es_route_answer *ans)
{
    (void)rq;
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);
    if (fp != NULL) {
        es_metrics_write(fp);
        fclose(fp);
    }
    ans->text = text;
    ans->type = "text/plain; version=0.0.4; charset=utf-8";
    return 200;
}

/* ---- GET /progress[?collection=NAME] -------------------------------------------- */

static cJSON *render_progress(const es_daemon_snapshot *s, const char *only)
{
    const es_progress_view *p = &s->progress;
    int running = p->stage != ES_STAGE_IDLE &&
                  (only == NULL || strcmp(only, p->collection) == 0);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "state", running ? "running" : "idle");
    if (running) {
        double elapsed = s->mono_now - p->started;
        cJSON_AddStringToObject(o, "collection", p->collection);
        cJSON_AddStringToObject(o, "stage", es_stage_name(p->stage));
        if (p->total > 0)
            cJSON_AddNumberToObject(o, "total", (double)p->total);
        else
            cJSON_AddNullToObject(o, "total");
        cJSON_AddNumberToObject(o, "done", (double)p->done);
        cJSON_AddNumberToObject(o, "failed", (double)p->failed);
        cJSON_AddNumberToObject(o, "elapsed_seconds", elapsed);
        cJSON_AddNumberToObject(o, "rate_per_second",
                                elapsed > 0 ? (double)p->done / elapsed : 0);
        add_rebuild(o, p);
    } else if (only != NULL) {
        cJSON_AddStringToObject(o, "collection", only);
    }
    return o;
}

static unsigned progress(const es_route_request *rq, es_route_answer *ans)
{
    const es_daemon_api *d = rq->daemon;
    es_daemon_snapshot s;
    if (d->snapshot(d->d, &s) != 0)
        return 500;
    ans->json = render_progress(&s, rq->query(rq, "collection"));
    es_daemon_snapshot_release(&s);
    return 200;
}

/* ---- POST /run ------------------------------------------------------------------ */

static unsigned run(const es_route_request *rq, es_route_answer *ans)
{
    int started = rq->daemon->request_run(rq->daemon->d);
    cJSON *o = ans->json = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "started", started);
    if (!started)
        cJSON_AddStringToObject(o, "note", "a pass is already running");
    return 202;
}

/* ---- POST /collections/<name>/stop ---------------------------------------------- */

static const es_collection_status *find_status(const es_daemon_snapshot *s,
                                               const char *name)
{
    for (size_t i = 0; i < s->n_collections; i++)
        if (strcmp(s->collections[i].name, name) == 0)
            return &s->collections[i];
    return NULL;
}

/* What the stopped run did, from its status record. */
static unsigned stop(const es_route_request *rq, es_route_answer *ans)
{
    const es_daemon_api *d = rq->daemon;
    es_stopped_run run;
    d->request_stop(d->d, rq->arg, STOP_WAIT_S, &run);
    cJSON *o = ans->json = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "collection", rq->arg);
    if (!run.was_running) {
        cJSON_AddStringToObject(o, "error", "collection is not being synced now");
        return 409;
    }
    cJSON_AddBoolToObject(o, "stopped", 1);
    es_daemon_snapshot s;
    if (d->snapshot(d->d, &s) == 0) {
        const es_collection_status *c = find_status(&s, rq->arg);
        if (c != NULL) {
            cJSON_AddNumberToObject(o, "embedded", (double)c->embedded);
            cJSON_AddNumberToObject(o, "deleted", (double)c->deleted);
            cJSON_AddNumberToObject(o, "failed", (double)c->failed);
        }
        es_daemon_snapshot_release(&s);
    }
    return 200;
}

/* ---- the table ------------------------------------------------------------------ */

const es_route es_control_routes[] = {
    {"GET", "/health", health},
    {"GET", "/metrics", metrics},
    {"GET", "/progress", progress},
    {"POST", "/run", run},
    {"POST", "/collections/*/stop", stop},
};
const size_t es_control_n_routes =
    sizeof es_control_routes / sizeof es_control_routes[0];

es_listener *es_control_start(const es_daemon_api *d, const char *listen,
                              const char *token, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    int loopback = 0;
    if (es_control_parse_listen(listen, &ss, &loopback) == 0 && !loopback &&
        (token == NULL || *token == '\0')) {
        snprintf(err, errlen,
                 "listen = %s is not a loopback address: set control_token "
                 "(or control_token_file) first",
                 listen);
        return NULL;
    }
    const es_listener_spec spec = {
        .setting = "listen",
        .listen = listen,
        .token = token,
        .routes = es_control_routes,
        .n_routes = es_control_n_routes,
        .daemon = d,
        .error_key = "error",
        .not_found = "no such route",
        .not_allowed = "method not allowed",
    };
    return es_listener_start(&spec, err, errlen);
}
