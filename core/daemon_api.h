/* What the HTTP routes know of the daemon: a snapshot of its facts and the
 * requests they may make, as plain C data behind a table of functions.
 * The routes render JSON from these; the daemon fills them (daemon.c) and
 * tests hand-make them, so neither side sees the other's insides. */
#ifndef ES_DAEMON_API_H
#define ES_DAEMON_API_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <embsync/plugin.h>

#include "progress.h"
#include "status.h"

/** One backend (by kind - 1: source, embedder, store) as last checked. */
typedef struct es_backend_view {
    char plugin[128];      /* the module's name */
    int status;            /* its check(): EMBSYNC_OK or why it failed */
    char error[256];       /* "" when up */
} es_backend_view;

/** A consistent copy of what the daemon knows, taken at `now`. */
typedef struct es_daemon_snapshot {
    int64_t now;           /* unix seconds when it was taken */
    double mono_now;       /* es_mono_now() then */
    es_progress_view progress;
    int scheduler_running; /* the loop runs: no stop requested */
    int pass_running;      /* a pass (or a reconciliation) is in flight */
    int64_t last_pass_start, last_pass_end, next_pass_at;  /* unix s, 0 = not yet */
    int interval_min;
    int stale_after_min;   /* a collection without success for longer is stale */
    es_backend_view backends[3];
    /* The Generator named by the source's generator_url ("" when none) and
     * what its last probe found. */
    char generator_url[1024];
    int generator_ready;
    char generator_error[256];
    /* The state directory's status of each collection, sorted by name. */
    es_collection_status *collections;
    size_t n_collections;
} es_daemon_snapshot;

static inline void es_daemon_snapshot_release(es_daemon_snapshot *s)
{
    free(s->collections);
    s->collections = NULL;
    s->n_collections = 0;
}

/** What a stop of one collection's run did. */
typedef struct es_stopped_run {
    int was_running;       /* the collection's run was in flight */
    int ended;             /* it ended within the wait */
    int end_status;        /* the source's end() in it, or ES_PROGRESS_NONE */
    int inflight_cleared;  /* the in-flight record no longer names it */
} es_stopped_run;

/** The daemon as the routes use it: es_daemon_probe() and the others of
 *  daemon.h, or a test's own functions over a struct es_daemon of its own. */
struct es_daemon;
typedef struct es_daemon_api {
    struct es_daemon *d;
    /** Check the backends now when no pass runs (otherwise the checks made
     *  before the pass stand) and probe the Generator, if one is named. */
    void (*probe)(struct es_daemon *d);
    /** Fill *out (release it after); 0, or -1 when out of memory. */
    int (*snapshot)(struct es_daemon *d, es_daemon_snapshot *out);
    /** Start a pass now: 1, or 0 when one is already running. */
    int (*request_run)(struct es_daemon *d);
    /** Stop the run of `collection` after the batch in flight and wait (up
     *  to `wait_s`) for it to end. */
    void (*request_stop)(struct es_daemon *d, const char *collection,
                         double wait_s, es_stopped_run *out);
} es_daemon_api;

#endif
