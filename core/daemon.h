/* `embsync run`: the scheduler and configuration reloads.  What the HTTP
 * routes show is a snapshot of its facts, and what they ask are requests
 * (daemon_api.h); the routes render them, the daemon renders nothing. */
#ifndef ES_DAEMON_H
#define ES_DAEMON_H

#include "app.h"
#include "daemon_api.h"

typedef struct es_daemon es_daemon;

/** Run the daemon on a loaded app (ownership passes to the daemon) until a
 *  stop.  Returns an exit code. */
int es_daemon_run(es_app *app, const char *config_path);

/** Check the backends now when no pass runs (else keep the checks made
 *  before the pass) and probe the Generator the source names, if any. */
void es_daemon_probe(es_daemon *d);

/** A consistent copy of the daemon's facts, with the collections' statuses
 *  read from the state directory; release it with
 *  es_daemon_snapshot_release().  0, or -1 when out of memory. */
int es_daemon_snapshot_read(es_daemon *d, es_daemon_snapshot *out);

/** Start a pass now: 1, or 0 when one is already running. */
int es_daemon_request_run(es_daemon *d);

/** Stop the run of `collection` after the batch in flight and wait (up to
 *  `wait_s`) for it to end. */
void es_daemon_request_stop(es_daemon *d, const char *collection,
                            double wait_s, es_stopped_run *out);

/** Re-read the configuration between passes. */
void es_daemon_request_reload(es_daemon *d);

/** Stop the daemon (a first signal): the batch in flight finishes. */
void es_daemon_request_shutdown(es_daemon *d);

#endif
