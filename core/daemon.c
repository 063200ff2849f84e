#include <config.h>

#include "daemon.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "autoupdater_routes.h"
#include "calls.h"
#include "clock.h"
#include "control_routes.h"
#include "generator.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "progress_display.h"
#include "reconcile.h"
#include "run_record.h"
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
    /* Backend health, refreshed before each pass and by probes when idle. */
    int backend_status[3];
    char backend_error[3][256];
    /* The last probe of the Generator, of generator_probed. */
    char generator_probed[1024];
    int generator_ready;
    char generator_error[256];
};

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

void es_daemon_request_shutdown(es_daemon *d)
{
    pthread_mutex_lock(&d->lock);
    d->stopping = 1;
    es_stop_request(&d->app->stop);
    pthread_mutex_unlock(&d->lock);
    es_notify_stopping();
    es_stop_request(&d->wake);
}

void es_daemon_request_reload(es_daemon *d)
{
    pthread_mutex_lock(&d->lock);
    d->reload_requested = 1;
    pthread_mutex_unlock(&d->lock);
    es_stop_request(&d->wake);
}

/* The signal hooks (SIGTERM/SIGINT, SIGHUP). */
static void on_stop(void *arg)
{
    es_daemon_request_shutdown(arg);
}

static void on_reload(void *arg)
{
    es_daemon_request_reload(arg);
}

/* ---- backends ----------------------------------------------------------- */

/* Caller holds pass_lock, so no plugin call is in flight. */
static void refresh_backends(es_daemon *d)
{
    for (int kind = EMBSYNC_KIND_SOURCE; kind <= EMBSYNC_KIND_STORE; kind++) {
        int rc = es_plugin_check(es_app_instance(d->app, kind));
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
    if (e == NULL || es_app_engine_init(app, e) != 0) {
        free(e);
        return NULL;
    }
    /* A long pass says how far it is in the log, at a steady interval. */
    es_progress_display_start(0);
    e->on_progress = es_progress_display_update;
    return e;
}

static void engine_free(es_engine *e)
{
    es_engine_destroy(e);
    free(e);
}

static void reload(es_daemon *d)
{
    es_app *next = malloc(sizeof *next);
    char err[2048] = "";
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
                 *err ? err : "cannot start the engine");
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
    engine_free(old_engine);
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

/* A pass or a reconciliation starts (1) or ends (0); *stamp gets the time. */
static void set_pass_running(es_daemon *d, int running, int64_t *stamp)
{
    pthread_mutex_lock(&d->lock);
    d->pass_running = running;
    if (stamp != NULL)
        *stamp = now_s();
    pthread_mutex_unlock(&d->lock);
}

static void run_pass(es_daemon *d)
{
    pthread_mutex_lock(&d->pass_lock);
    set_pass_running(d, 1, &d->last_pass_start);

    refresh_backends(d);
    int failed = es_engine_pass(d->engine);
    if (failed != 0)
        es_warn("pass finished with %d failed collection(s)", failed);
    es_notify_pass(d->app->cfg.state_dir, d->last_pass_start, failed);

    set_pass_running(d, 0, &d->last_pass_end);
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
        set_pass_running(d, 1, NULL);
        int failed = es_reconcile_pass(d->engine, NULL, 0);
        if (failed != 0)
            es_warn("reconciliation finished with %d failed collection(s)",
                    failed);
        set_pass_running(d, 0, NULL);
    }
    pthread_mutex_unlock(&d->pass_lock);
}

/* Until the next pass is due (an interval after `start`), a run is
 * requested or a stop; a reload requested meanwhile is done here, between
 * passes.  A pass longer than the interval is followed by the next one at
 * once, a single time: missed runs coalesce. */
static void wait_for_next_pass(es_daemon *d, int64_t start)
{
    pthread_mutex_lock(&d->lock);
    d->next_pass_at = start + (int64_t)d->app->cfg.interval_min * 60;
    pthread_mutex_unlock(&d->lock);
    for (;;) {
        es_stop_clear(&d->wake);
        pthread_mutex_lock(&d->lock);
        int wake_for = d->stopping || d->run_requested || d->reload_requested;
        int do_reload = d->reload_requested;
        d->run_requested = d->reload_requested = 0;
        pthread_mutex_unlock(&d->lock);
        if (do_reload) {
            pthread_mutex_lock(&d->pass_lock);
            reload(d);
            pthread_mutex_unlock(&d->pass_lock);
        }
        if (wake_for)
            return;
        double wait = (double)(d->next_pass_at - now_s());
        if (wait <= 0)
            return;
        es_stop_wait(&d->wake, wait);
    }
}

/* ---- what the routes read and ask ----------------------------------------- */

/* A copy of a [source] value of the running configuration into out ("" when
 * unset).  Caller holds d->lock. */
static void source_value(es_daemon *d, const char *key, char *out, size_t len)
{
    const es_section *sec = &d->app->cfg.source;
    out[0] = '\0';
    for (size_t i = 0; i < sec->n_entries; i++)
        if (strcmp(sec->entries[i].key, key) == 0 && sec->entries[i].value != NULL)
            snprintf(out, len, "%s", sec->entries[i].value);
}

void es_daemon_probe(es_daemon *d)
{
    /* Live backend checks only while no pass runs: the threading contract
     * keeps check() from overlapping other calls. */
    if (pthread_mutex_trylock(&d->pass_lock) == 0) {
        refresh_backends(d);
        pthread_mutex_unlock(&d->pass_lock);
    }
    char url[sizeof d->generator_probed], why[sizeof d->generator_error] = "";
    pthread_mutex_lock(&d->lock);
    source_value(d, "generator_url", url, sizeof url);
    pthread_mutex_unlock(&d->lock);
    if (url[0] == '\0')
        return;
    int ready = es_generator_ready(url, why, sizeof why);
    pthread_mutex_lock(&d->lock);
    snprintf(d->generator_probed, sizeof d->generator_probed, "%s", url);
    d->generator_ready = ready;
    snprintf(d->generator_error, sizeof d->generator_error, "%s", why);
    pthread_mutex_unlock(&d->lock);
}

typedef struct status_list {
    es_collection_status *items;
    size_t n, cap;
    int out_of_memory;
} status_list;

static void add_status(const es_collection_status *s, void *arg)
{
    status_list *l = arg;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        es_collection_status *grown = realloc(l->items, cap * sizeof *grown);
        if (grown == NULL) {
            l->out_of_memory = 1;
            return;
        }
        l->items = grown;
        l->cap = cap;
    }
    l->items[l->n++] = *s;
}

int es_daemon_snapshot_read(es_daemon *d, es_daemon_snapshot *out)
{
    char state_dir[4096];
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&d->lock);
    const es_config *cfg = &d->app->cfg;
    out->now = now_s();
    out->mono_now = es_mono_now();
    es_engine_progress(d->engine, &out->progress);
    out->scheduler_running = !d->stopping;
    out->pass_running = d->pass_running;
    out->last_pass_start = d->last_pass_start;
    out->last_pass_end = d->last_pass_end;
    out->next_pass_at = d->next_pass_at;
    out->interval_min = cfg->interval_min;
    out->stale_after_min = cfg->stale_after_min > 0 ? cfg->stale_after_min
                                                    : 3 * cfg->interval_min;
    for (int i = 0; i < 3; i++) {
        es_backend_view *b = &out->backends[i];
        snprintf(b->plugin, sizeof b->plugin, "%s", d->app->modules[i]->desc.name);
        b->status = d->backend_status[i];
        snprintf(b->error, sizeof b->error, "%s", d->backend_error[i]);
    }
    source_value(d, "generator_url", out->generator_url, sizeof out->generator_url);
    if (out->generator_url[0] != '\0') {
        int probed = strcmp(out->generator_url, d->generator_probed) == 0;
        out->generator_ready = probed && d->generator_ready;
        snprintf(out->generator_error, sizeof out->generator_error, "%s",
                 probed ? d->generator_error : "not checked yet");
    }
    snprintf(state_dir, sizeof state_dir, "%s", cfg->state_dir);
    pthread_mutex_unlock(&d->lock);

    status_list l = {0};
    es_status_each(state_dir, add_status, &l);
    if (l.out_of_memory) {
        free(l.items);
        return -1;
    }
    out->collections = l.items;
    out->n_collections = l.n;
    return 0;
}

int es_daemon_request_run(es_daemon *d)
{
    pthread_mutex_lock(&d->lock);
    int running = d->pass_running;
    if (!running)
        d->run_requested = 1;
    pthread_mutex_unlock(&d->lock);
    if (!running)
        es_stop_request(&d->wake);
    return !running;
}

void es_daemon_request_stop(es_daemon *d, const char *collection, double wait_s,
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
            break;
        }
        nanosleep(&step, NULL);
    }
    /* The engine drops its in-flight record just after the run ends. */
    char inflight[256];
    for (int i = 0; out->ended && i < 100; i++) {
        if (!es_run_record_interrupted(state_dir, inflight, sizeof inflight) ||
            strcmp(inflight, collection) != 0) {
            out->inflight_cleared = 1;
            break;
        }
        nanosleep(&step, NULL);
    }
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
        engine_free(d.engine);
        return ES_EXIT_USAGE;
    }
    char labels[96];
    snprintf(labels, sizeof labels, "version=\"%s\",abi=\"%d.%d\"",
             PACKAGE_VERSION, EMBSYNC_ABI_MAJOR, EMBSYNC_ABI_MINOR);
    es_metric_set("embsync_build_info", labels, 1);

    const es_daemon_api api = {
        .d = &d,
        .probe = es_daemon_probe,
        .snapshot = es_daemon_snapshot_read,
        .request_run = es_daemon_request_run,
        .request_stop = es_daemon_request_stop,
    };
    es_listener *control = NULL;
    if (app->cfg.listen[0] != '\0') {
        control = es_control_start(&api, app->cfg.listen, app->cfg.control_token,
                                   err, sizeof err);
        if (control == NULL) {
            es_error("control port: %s", err);
            engine_free(d.engine);
            return ES_EXIT_FAILED;
        }
    }
    es_listener *autoupdater = NULL;
    if (app->cfg.autoupdater_listen[0] != '\0' &&
        (autoupdater = es_autoupdater_start(&api, app->cfg.autoupdater_listen,
                                            app->cfg.control_token,
                                            app->cfg.autoupdater_without_token,
                                            err, sizeof err)) == NULL) {
        es_error("original Auto-Updater routes: %s", err);
        es_listener_stop(control);
        engine_free(d.engine);
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
        wait_for_next_pass(&d, start);
    }

    es_signals_set_hooks(NULL, NULL, NULL);
    es_listener_stop(autoupdater);
    es_listener_stop(control);
    engine_free(d.engine);
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

