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

/** Ask the daemon to re-read its configuration between passes. */
void es_daemon_request_reload(es_daemon *d);

/** Stop it (first signal); the batch in flight finishes. */
void es_daemon_request_stop(es_daemon *d);

#endif
