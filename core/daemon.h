/* `embsync run`: the scheduler, configuration reloads, and the facts the
 * control port serves (health, progress), behind one lock. */
#ifndef ES_DAEMON_H
#define ES_DAEMON_H

#include <pthread.h>
#include <stdint.h>

#include "app.h"
#include "engine.h"
#include "stop.h"

typedef struct es_daemon es_daemon;

/** Run the daemon on a loaded app (ownership passes to the daemon) until a
 *  stop.  Returns an exit code. */
int es_daemon_run(es_app *app, const char *config_path);

/* For the control port.  Each returns a malloc'd JSON text. */

/** Health; *healthy is set to 1 (serve 200) or 0 (serve 503). */
char *es_daemon_health(es_daemon *d, int *healthy);

/** The run in flight (or idle), optionally only for `collection`. */
char *es_daemon_progress(es_daemon *d, const char *collection);

/** Stop the work on `collection` after the batch in flight and wait (up to
 *  `wait_s`) for its run to end.  *status is the HTTP status to answer. */
char *es_daemon_stop_collection(es_daemon *d, const char *collection,
                                double wait_s, int *status);

/** Start a pass now, or note that one is already running. */
char *es_daemon_request_run(es_daemon *d);

/* For the original Auto-Updater's routes (autoupdater_routes.c): facts,
 * not JSON, since that service answers in shapes of its own. */

/** The run in flight, or the last one until the next starts. */
typedef struct es_run_view {
    char collection[256];  /* "" before the first run */
    int running;           /* 1 while it runs */
    int status;            /* how it ended (when not running) */
    uint64_t total, done, failed;
} es_run_view;
void es_daemon_run_view(es_daemon *d, es_run_view *out);

/** The backend checks (refreshed now when no pass runs, else the ones made
 *  before the pass): status[kind - 1] and the error text of each. */
void es_daemon_backends(es_daemon *d, int status[3], char error[3][256]);

/** 1 while the scheduler loop runs (not stopping). */
int es_daemon_scheduler_running(es_daemon *d);

/** A copy of a [source] value of the running configuration, or NULL when
 *  unset (free it). */
char *es_daemon_source_value(es_daemon *d, const char *key);

/** What a stop of one collection's run did. */
typedef struct es_stopped_run {
    int was_running;       /* the collection's run was in flight */
    int ended;             /* it ended within the wait */
    int end_status;        /* the source's end() in it, or ES_PROGRESS_NONE */
    int inflight_cleared;  /* the in-flight record no longer names it */
} es_stopped_run;

/** Stop the run of `collection` after the batch in flight and wait (up to
 *  `wait_s`) for it to end. */
void es_daemon_stop_run(es_daemon *d, const char *collection, double wait_s,
                        es_stopped_run *out);

/** Ask the daemon to re-read its configuration between passes. */
void es_daemon_request_reload(es_daemon *d);

/** Stop it (first signal); the batch in flight finishes. */
void es_daemon_request_stop(es_daemon *d);

#endif
