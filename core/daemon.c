#include <config.h>

#include "daemon.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "autoupdater_routes.h"
#include "clock.h"
#include "commands.h"
#include "control.h"
#include "generator.h"
#include "ledger.h"
#include "log.h"
#include "metrics.h"
#include "progress_display.h"
#include "reconcile.h"
#include "notify.h"
#include "signals.h"
#include "status.h"

struct es_daemon {
    pthread_mutex_t lock;       /* guards everything below but pass_lock */
    pthread_mutex_t pass_lock;  /* held while a pass runs */
    es_app *app;                /* the running configuration */
    int app_owned;              /* allocated here by a reload */
    es_engine *engine;
    const char *config_path;
    es_stop wake;               /* run now, reload, stop */
    int run_requested, reload_requested, stopping, pass_running;
    int64_t last_pass_start, last_pass_end, next_pass_at;
    /* Backend health, refreshed before each pass and by /health when idle. */
    int backend_status[3];
    char backend_error[3][256];
};

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

static void on_stop(void *arg)
{
    es_daemon *d = arg;
    pthread_mutex_lock(&d->lock);
    d->stopping = 1;
    es_stop_request(&d->app->stop);
    pthread_mutex_unlock(&d->lock);
    es_notify_stopping();
    es_stop_request(&d->wake);
}

void es_daemon_request_stop(es_daemon *d)
{
    on_stop(d);
}

static void on_reload(void *arg)
{
    es_daemon_request_reload(arg);
}

void es_daemon_request_reload(es_daemon *d)
{
    pthread_mutex_lock(&d->lock);
    d->reload_requested = 1;
    pthread_mutex_unlock(&d->lock);
    es_stop_request(&d->wake);
}

/* ---- backends ----------------------------------------------------------- */

static int check_one(es_instance *inst)
{
    const es_module *m = inst->module;
    int (*check)(void *) = m->desc.kind == EMBSYNC_KIND_SOURCE ? m->ops.source.check
                           : m->desc.kind == EMBSYNC_KIND_EMBEDDER
                               ? m->ops.embedder.check
                               : m->ops.store.check;
    return check != NULL ? check(inst->state) : EMBSYNC_OK;
}

/* Caller holds pass_lock, so no plugin call is in flight. */
static void refresh_backends(es_daemon *d)
{
    for (int kind = EMBSYNC_KIND_SOURCE; kind <= EMBSYNC_KIND_STORE; kind++) {
        es_call_begin();
        int rc = check_one(es_app_instance(d->app, kind));
        pthread_mutex_lock(&d->lock);
        d->backend_status[kind - 1] = rc;
        snprintf(d->backend_error[kind - 1], sizeof d->backend_error[0], "%s",
                 rc == EMBSYNC_OK ? "" : es_call_error());
        pthread_mutex_unlock(&d->lock);
        char labels[256];
        es_metric_labels(labels, sizeof labels, "kind", es_kind_name(kind),
                         "plugin", d->app->modules[kind - 1]->desc.name, NULL);
        es_metric_set("embsync_backend_up", labels, rc == EMBSYNC_OK);
    }
}

/* ---- reload ------------------------------------------------------------- */

static es_engine *engine_new(es_app *app)
{
    es_engine *e = calloc(1, sizeof *e);
    char err[1024];
    if (e == NULL)
        return NULL;
    if (es_engine_init(e, es_app_instance(app, EMBSYNC_KIND_SOURCE),
                       es_app_instance(app, EMBSYNC_KIND_EMBEDDER),
                       es_app_instance(app, EMBSYNC_KIND_STORE),
                       (size_t)app->cfg.batch_size, &app->stop, err,
                       sizeof err) != EMBSYNC_OK) {
        es_error("%s", err);
        es_engine_destroy(e);
        free(e);
        return NULL;
    }
    e->state_dir = app->cfg.state_dir;
    e->rebuild_in_place = !app->cfg.rebuild_beside;
    /* A long pass says how far it is in the log, at a steady interval. */
    es_progress_display_start(0);
    e->on_progress = es_progress_display_update;
    return e;
}

static void reload(es_daemon *d)
{
    es_app *next = malloc(sizeof *next);
    char err[2048];
    es_notify_reloading();
    if (next == NULL) {
        es_notify_ready();
        return;
    }
    es_app_init(next);
    es_engine *engine = NULL;
    if (es_app_load(next, d->config_path, err, sizeof err) != 0 ||
        es_app_open_all(next, err, sizeof err) != 0 ||
        (engine = engine_new(next)) == NULL) {
        /* es_app_load applied the new log settings: restore ours. */
        es_log_configure(d->app->cfg.log_level,
                         (es_log_format)d->app->cfg.log_format);
        es_error("reload failed, keeping the running configuration: %s",
                 engine == NULL && *err ? err : "cannot start the engine");
        es_app_close(next);
        free(next);
        es_notify_ready();
        return;
    }
    if (strcmp(next->cfg.listen, d->app->cfg.listen) != 0)
        es_warn("reload: a new control port address takes a restart");
    if (strcmp(next->cfg.autoupdater_listen, d->app->cfg.autoupdater_listen) != 0 ||
        next->cfg.autoupdater_without_token != d->app->cfg.autoupdater_without_token)
        es_warn("reload: a new autoupdater_listen or autoupdater_without_token "
                "takes a restart");
    pthread_mutex_lock(&d->lock);
    es_app *old = d->app;
    es_engine *old_engine = d->engine;
    int old_owned = d->app_owned;
    d->app = next;
    d->engine = engine;
    d->app_owned = 1;
    pthread_mutex_unlock(&d->lock);
    es_engine_destroy(old_engine);
    free(old_engine);
    if (old_owned) {
        es_app_close(old);
        free(old);
    } else {
        /* The first app belongs to main(): release its plugins only. */
        for (int i = 2; i >= 0; i--) {
            es_instance_close(old->instances[i]);
            old->instances[i] = NULL;
        }
    }
    es_info("configuration reloaded from %s", d->config_path);
    es_notify_ready();
}

/* ---- the scheduler ------------------------------------------------------ */

static void run_pass(es_daemon *d)
{
    pthread_mutex_lock(&d->pass_lock);
    pthread_mutex_lock(&d->lock);
    d->pass_running = 1;
    d->last_pass_start = now_s();
    pthread_mutex_unlock(&d->lock);

    refresh_backends(d);
    int failed = es_engine_pass(d->engine);
    if (failed != 0)
        es_warn("pass finished with %d failed collection(s)", failed);
    es_notify_pass(d->app->cfg.state_dir, d->last_pass_start, failed);

    pthread_mutex_lock(&d->lock);
    d->pass_running = 0;
    d->last_pass_end = now_s();
    pthread_mutex_unlock(&d->lock);
    pthread_mutex_unlock(&d->pass_lock);
}

/* After a pass, when reconcile_interval minutes have gone by since the
 * last reconciliation recorded in the state directory (so a restart does
 * not reset the clock; never reconciled counts as due). */
static void maybe_reconcile(es_daemon *d)
{
    int every = d->app->cfg.reconcile_interval_min;
    char why[256];
    if (every <= 0 || es_stop_requested(&d->app->stop) ||
        now_s() - es_reconcile_last(d->app->cfg.state_dir) < every * 60LL)
        return;
    pthread_mutex_lock(&d->pass_lock);
    if (es_reconcile_unsupported(d->engine, why, sizeof why) != NULL) {
        es_warn("reconcile_interval is set, but %s", why);
    } else {
        pthread_mutex_lock(&d->lock);
        d->pass_running = 1;
        pthread_mutex_unlock(&d->lock);
        int failed = es_reconcile_pass(d->engine, NULL, 0);
        if (failed != 0)
            es_warn("reconciliation finished with %d failed collection(s)",
                    failed);
        pthread_mutex_lock(&d->lock);
        d->pass_running = 0;
        pthread_mutex_unlock(&d->lock);
    }
    pthread_mutex_unlock(&d->pass_lock);
}

int es_daemon_run(es_app *app, const char *config_path)
{
    es_daemon d = {.app = app, .config_path = config_path};
    pthread_mutex_init(&d.lock, NULL);
    pthread_mutex_init(&d.pass_lock, NULL);
    es_stop_init(&d.wake);
    char err[2048];
    if (es_app_open_all(app, err, sizeof err) != 0) {
        es_error("%s", err);
        return ES_EXIT_FAILED;
    }
    if ((d.engine = engine_new(app)) == NULL)
        return ES_EXIT_FAILED;
    char cannot[256];
    if (app->cfg.reconcile_interval_min > 0 &&
        es_reconcile_unsupported(d.engine, cannot, sizeof cannot) != NULL) {
        es_error("%s: reconcile_interval = %d: %s", app->cfg.path,
                 app->cfg.reconcile_interval_min, cannot);
        es_engine_destroy(d.engine);
        free(d.engine);
        return ES_EXIT_USAGE;
    }
    char labels[96];
    snprintf(labels, sizeof labels, "version=\"%s\",abi=\"%d.%d\"",
             PACKAGE_VERSION, EMBSYNC_ABI_MAJOR, EMBSYNC_ABI_MINOR);
    es_metric_set("embsync_build_info", labels, 1);

    es_control *control = NULL;
    if (app->cfg.listen[0] != '\0') {
        control = es_control_start(&d, app->cfg.listen, app->cfg.control_token,
                                   err, sizeof err);
        if (control == NULL) {
            es_error("control port: %s", err);
            es_engine_destroy(d.engine);
            free(d.engine);
            return ES_EXIT_FAILED;
        }
    }
    es_autoupdater *autoupdater = NULL;
    if (app->cfg.autoupdater_listen[0] != '\0' &&
        (autoupdater = es_autoupdater_start(&d, app->cfg.autoupdater_listen,
                                            app->cfg.control_token,
                                            app->cfg.autoupdater_without_token,
                                            err, sizeof err)) == NULL) {
        es_error("original Auto-Updater routes: %s", err);
        es_control_stop(control);
        es_engine_destroy(d.engine);
        free(d.engine);
        return ES_EXIT_FAILED;
    }
    es_signals_set_hooks(on_stop, on_reload, &d);
    es_info("embsync %s running: a pass every %d minute(s)%s%s",
            PACKAGE_VERSION, app->cfg.interval_min,
            control ? ", control port on " : "", control ? app->cfg.listen : "");
    es_notify_ready();

    for (;;) {
        pthread_mutex_lock(&d.lock);
        int stopping = d.stopping;
        pthread_mutex_unlock(&d.lock);
        if (stopping)
            break;
        int64_t start = now_s();
        run_pass(&d);
        maybe_reconcile(&d);
        /* A pass longer than the interval is followed by the next one at
         * once, a single time: missed runs coalesce. */
        double interval = d.app->cfg.interval_min * 60.0;
        pthread_mutex_lock(&d.lock);
        d.next_pass_at = start + (int64_t)interval;
        pthread_mutex_unlock(&d.lock);
        for (;;) {
            es_stop_clear(&d.wake);
            pthread_mutex_lock(&d.lock);
            int wake_for = d.stopping || d.run_requested || d.reload_requested;
            int do_reload = d.reload_requested;
            d.run_requested = d.reload_requested = 0;
            pthread_mutex_unlock(&d.lock);
            if (do_reload) {
                pthread_mutex_lock(&d.pass_lock);
                reload(&d);
                pthread_mutex_unlock(&d.pass_lock);
            }
            if (wake_for)
                break;
            double wait = (double)(d.next_pass_at - now_s());
            if (wait <= 0)
                break;
            es_stop_wait(&d.wake, wait);
        }
    }

    es_signals_set_hooks(NULL, NULL, NULL);
    es_autoupdater_stop(autoupdater);
    es_control_stop(control);
    es_engine_destroy(d.engine);
    free(d.engine);
    if (d.app_owned) {
        es_app_close(d.app);
        free(d.app);
    }
    es_stop_destroy(&d.wake);
    pthread_mutex_destroy(&d.pass_lock);
    pthread_mutex_destroy(&d.lock);
    es_info("stopped");
    return ES_EXIT_OK;
}

/* ---- what the control port serves ---------------------------------------- */

static char *print_json(cJSON *o)
{
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

typedef struct health_walk {
    cJSON *array;
    int64_t stale_after;
    int degraded;
    cJSON *reasons;
    const char *state_dir;
} health_walk;

static void add_collection(const es_collection_status *s, void *arg)
{
    health_walk *w = arg;
    int64_t now = now_s();
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", s->name);
    cJSON_AddNumberToObject(o, "last_success", (double)s->last_success);
    if (s->last_success > 0)
        cJSON_AddNumberToObject(o, "last_success_age_seconds",
                                (double)(now - s->last_success));
    cJSON_AddNumberToObject(o, "last_run_end", (double)s->last_run_end);
    cJSON_AddBoolToObject(o, "last_run_ok", s->last_status == EMBSYNC_OK);
    if (s->last_status != EMBSYNC_OK)
        cJSON_AddStringToObject(o, "last_error", s->last_error);
    cJSON_AddNumberToObject(o, "pending", (double)(s->deferred + s->waiting));
    cJSON_AddNumberToObject(o, "failed", (double)s->ledger_size);
    if (s->oldest_failed > 0)
        cJSON_AddNumberToObject(o, "oldest_pending_age_seconds",
                                (double)(now - s->oldest_failed));
    int stale = s->last_success == 0 || now - s->last_success > w->stale_after;
    cJSON_AddBoolToObject(o, "stale", stale);
    if (stale) {
        w->degraded = 1;
        char why[400];
        snprintf(why, sizeof why, "collection %s has not synced successfully %s",
                 s->name, s->last_success ? "recently" : "yet");
        cJSON_AddItemToArray(w->reasons, cJSON_CreateString(why));
    }
    cJSON_AddItemToArray(w->array, o);
}

char *es_daemon_health(es_daemon *d, int *healthy)
{
    /* Live backend checks only while no pass runs: the threading contract
     * keeps check() from overlapping other calls. */
    if (pthread_mutex_trylock(&d->pass_lock) == 0) {
        refresh_backends(d);
        pthread_mutex_unlock(&d->pass_lock);
    }
    cJSON *o = cJSON_CreateObject();
    cJSON *reasons = cJSON_CreateArray();
    int degraded = 0;
    pthread_mutex_lock(&d->lock);
    cJSON_AddStringToObject(o, "version", PACKAGE_VERSION);
    cJSON *plugins = cJSON_AddObjectToObject(o, "plugins");
    for (int kind = EMBSYNC_KIND_SOURCE; kind <= EMBSYNC_KIND_STORE; kind++) {
        cJSON *p = cJSON_AddObjectToObject(plugins, es_kind_name(kind));
        int ok = d->backend_status[kind - 1] == EMBSYNC_OK;
        cJSON_AddStringToObject(p, "name", d->app->modules[kind - 1]->desc.name);
        cJSON_AddStringToObject(p, "status", ok ? "up" : "down");
        if (!ok) {
            cJSON_AddStringToObject(p, "error", d->backend_error[kind - 1]);
            char why[400];
            snprintf(why, sizeof why, "%s %s is down: %s", es_kind_name(kind),
                     d->app->modules[kind - 1]->desc.name,
                     d->backend_error[kind - 1]);
            cJSON_AddItemToArray(reasons, cJSON_CreateString(why));
            degraded = 1;
        }
    }
    cJSON *sched = cJSON_AddObjectToObject(o, "scheduler");
    cJSON_AddStringToObject(sched, "state", d->pass_running ? "running" : "idle");
    cJSON_AddNumberToObject(sched, "interval_minutes", d->app->cfg.interval_min);
    cJSON_AddNumberToObject(sched, "last_pass_start", (double)d->last_pass_start);
    cJSON_AddNumberToObject(sched, "last_pass_end", (double)d->last_pass_end);
    cJSON_AddNumberToObject(sched, "next_pass_at", (double)d->next_pass_at);
    int stale_min = d->app->cfg.stale_after_min > 0
                        ? d->app->cfg.stale_after_min
                        : 3 * d->app->cfg.interval_min;
    health_walk w = {
        .array = cJSON_AddArrayToObject(o, "collections"),
        .stale_after = (int64_t)stale_min * 60,
        .reasons = reasons,
        .state_dir = d->app->cfg.state_dir,
    };
    es_status_each(d->app->cfg.state_dir, add_collection, &w);
    pthread_mutex_unlock(&d->lock);
    char *generator = es_daemon_source_value(d, "generator_url");
    if (generator != NULL) {
        /* The Generator shares the collections: its readiness is ours to
         * report (supervisely-ai-search.md, section 2). */
        char why[256] = "";
        int ready = es_generator_ready(generator, why, sizeof why);
        cJSON *g = cJSON_AddObjectToObject(o, "generator");
        cJSON_AddStringToObject(g, "url", generator);
        cJSON_AddStringToObject(g, "status", ready ? "up" : "down");
        if (!ready) {
            char reason[400];
            cJSON_AddStringToObject(g, "error", why);
            snprintf(reason, sizeof reason, "generator is down: %s", why);
            cJSON_AddItemToArray(reasons, cJSON_CreateString(reason));
            degraded = 1;
        }
        free(generator);
    }
    pthread_mutex_lock(&d->lock);
    if (d->last_pass_end == 0) {
        /* Nothing is known to be in sync before one pass has ended. */
        degraded = 1;
        cJSON_AddItemToArray(reasons,
                             cJSON_CreateString("the first pass has not finished yet"));
    }
    pthread_mutex_unlock(&d->lock);
    degraded |= w.degraded;
    cJSON_AddStringToObject(o, "status", degraded ? "degraded" : "ok");
    cJSON_AddItemToObject(o, "reasons", reasons);
    *healthy = !degraded;
    return print_json(o);
}

char *es_daemon_progress(es_daemon *d, const char *collection)
{
    es_progress_view p;
    pthread_mutex_lock(&d->lock);
    es_engine_progress(d->engine, &p);
    pthread_mutex_unlock(&d->lock);
    int running = p.stage != ES_STAGE_IDLE &&
                  (collection == NULL || strcmp(collection, p.collection) == 0);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "state", running ? "running" : "idle");
    if (running) {
        double elapsed = es_mono_now() - p.started;
        cJSON_AddStringToObject(o, "collection", p.collection);
        cJSON_AddStringToObject(o, "stage", es_stage_name(p.stage));
        if (p.total > 0)
            cJSON_AddNumberToObject(o, "total", (double)p.total);
        else
            cJSON_AddNullToObject(o, "total");
        cJSON_AddNumberToObject(o, "done", (double)p.done);
        cJSON_AddNumberToObject(o, "failed", (double)p.failed);
        cJSON_AddNumberToObject(o, "elapsed_seconds", elapsed);
        cJSON_AddNumberToObject(o, "rate_per_second",
                                elapsed > 0 ? (double)p.done / elapsed : 0);
    } else if (collection != NULL) {
        cJSON_AddStringToObject(o, "collection", collection);
    }
    return print_json(o);
}

typedef struct find_status {
    const char *name;
    es_collection_status found;
    int ok;
} find_status;

static void match_status(const es_collection_status *s, void *arg)
{
    find_status *f = arg;
    if (strcmp(s->name, f->name) == 0) {
        f->found = *s;
        f->ok = 1;
    }
}

void es_daemon_stop_run(es_daemon *d, const char *collection, double wait_s,
                        es_stopped_run *out)
{
    memset(out, 0, sizeof *out);
    out->end_status = ES_PROGRESS_NONE;
    pthread_mutex_lock(&d->lock);
    es_engine *e = d->engine;
    char state_dir[4096];
    snprintf(state_dir, sizeof state_dir, "%s", d->app->cfg.state_dir);
    es_progress_view p;
    es_engine_progress(e, &p);
    uint64_t ended_before = p.ended;
    out->was_running = es_engine_stop_collection(e, collection);
    pthread_mutex_unlock(&d->lock);
    if (!out->was_running)
        return;
    /* Wait for the run to wind down: the batch in flight is stored and
     * acknowledged, the source state cleared by end(). */
    struct timespec step = {0, 20 * 1000 * 1000};
    for (double waited = 0; waited < wait_s; waited += 0.02) {
        /* The pass moves on at once: the outcome is in the ended record. */
        es_engine_progress(e, &p);
        if (p.ended != ended_before &&
            strcmp(p.ended_collection, collection) == 0) {
            out->ended = 1;
            out->end_status = p.ended_end_status;
        }
        if (out->ended)
            break;
        nanosleep(&step, NULL);
    }
    /* The engine drops its in-flight record just after the run ends. */
    char inflight[256];
    for (int i = 0; out->ended && i < 100; i++) {
        if (!es_status_inflight(state_dir, inflight, sizeof inflight) ||
            strcmp(inflight, collection) != 0) {
            out->inflight_cleared = 1;
            break;
        }
        nanosleep(&step, NULL);
    }
}

char *es_daemon_stop_collection(es_daemon *d, const char *collection,
                                double wait_s, int *status)
{
    es_stopped_run run;
    es_daemon_stop_run(d, collection, wait_s, &run);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "collection", collection);
    if (!run.was_running) {
        *status = 409;
        cJSON_AddStringToObject(o, "error", "collection is not being synced now");
        return print_json(o);
    }
    find_status f = {.name = collection};
    es_status_each(d->app->cfg.state_dir, match_status, &f);
    *status = 200;
    cJSON_AddBoolToObject(o, "stopped", 1);
    if (f.ok) {
        cJSON_AddNumberToObject(o, "embedded", (double)f.found.embedded);
        cJSON_AddNumberToObject(o, "deleted", (double)f.found.deleted);
        cJSON_AddNumberToObject(o, "failed", (double)f.found.failed);
    }
    return print_json(o);
}

char *es_daemon_request_run(es_daemon *d)
{
    pthread_mutex_lock(&d->lock);
    int running = d->pass_running;
    if (!running)
        d->run_requested = 1;
    pthread_mutex_unlock(&d->lock);
    if (!running)
        es_stop_request(&d->wake);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "started", !running);
    if (running)
        cJSON_AddStringToObject(o, "note", "a pass is already running");
    return print_json(o);
}

/* ---- facts for the original Auto-Updater's routes ------------------------ */

void es_daemon_run_view(es_daemon *d, es_run_view *out)
{
    memset(out, 0, sizeof *out);
    es_progress_view p;
    pthread_mutex_lock(&d->lock);
    es_engine_progress(d->engine, &p);
    pthread_mutex_unlock(&d->lock);
    snprintf(out->collection, sizeof out->collection, "%s", p.collection);
    out->running = p.stage != ES_STAGE_IDLE;
    out->status = !out->running && strcmp(p.ended_collection, p.collection) == 0
                      ? p.ended_status
                      : ES_PROGRESS_NONE;
    out->total = p.total;
    out->done = p.done;
    out->failed = p.failed;
}

void es_daemon_backends(es_daemon *d, int status[3], char error[3][256])
{
    if (pthread_mutex_trylock(&d->pass_lock) == 0) {
        refresh_backends(d);
        pthread_mutex_unlock(&d->pass_lock);
    }
    pthread_mutex_lock(&d->lock);
    for (int i = 0; i < 3; i++) {
        status[i] = d->backend_status[i];
        snprintf(error[i], 256, "%s", d->backend_error[i]);
    }
    pthread_mutex_unlock(&d->lock);
}

int es_daemon_scheduler_running(es_daemon *d)
{
    pthread_mutex_lock(&d->lock);
    int running = !d->stopping;
    pthread_mutex_unlock(&d->lock);
    return running;
}

char *es_daemon_source_value(es_daemon *d, const char *key)
{
    char *value = NULL;
    pthread_mutex_lock(&d->lock);
    const es_section *sec = &d->app->cfg.source;
    for (size_t i = 0; i < sec->n_entries; i++)
        if (strcmp(sec->entries[i].key, key) == 0 && sec->entries[i].value != NULL)
            value = strdup(sec->entries[i].value);
    pthread_mutex_unlock(&d->lock);
    return value;
}
