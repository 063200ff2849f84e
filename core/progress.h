/* The run in flight, as other threads see it.  The engine writes it through
 * the functions below; everyone else (the progress display, the control
 * port, the Auto-Updater routes) reads a copy with es_progress_read() and
 * never takes the lock itself. */
#ifndef ES_PROGRESS_H
#define ES_PROGRESS_H

#include <pthread.h>
#include <stdint.h>

/** Where a collection's run is. */
typedef enum es_stage {
    ES_STAGE_IDLE = 0,   /* no run */
    ES_STAGE_BEGIN,      /* the source is marking it in progress */
    ES_STAGE_ENSURE,     /* the store collection is checked or created */
    ES_STAGE_REBUILD,    /* a new collection is built beside the live one */
    ES_STAGE_SYNC,       /* changes stream through the pipeline */
    ES_STAGE_RECONCILE,  /* store and source are compared */
    ES_STAGE_END         /* the source records the outcome */
} es_stage;

/** The stage's name as /progress and the logs spell it ("idle", ...). */
const char *es_stage_name(es_stage stage);

#define ES_PROGRESS_NONE (-1)

/** A consistent copy of the progress, taken by es_progress_read(). */
typedef struct es_progress_view {
    char collection[256];  /* the run's collection ("" before the first) */
    es_stage stage;
    uint64_t total;        /* 0 = unknown */
    uint64_t done;         /* changes applied and acknowledged */
    uint64_t failed;
    double started;        /* es_mono_now() when the run began */
    int end_status;        /* the source's end() in this run, or
                              ES_PROGRESS_NONE before it answered */
    /* The last run that ended (a pass goes on at once, so a stop request
     * reads its outcome here): its collection, how it ended, what end()
     * answered; `ended` counts the runs ended. */
    char ended_collection[256];
    int ended_status, ended_end_status;
    uint64_t ended;
    /* A rebuild beside the live collection, while one is in flight:
     * the collection being built ("" when none), items in it, items to
     * put in it (0 = unknown). */
    char rebuild_target[256];
    uint64_t rebuild_done, rebuild_total;
} es_progress_view;

/** The shared record; its members are private to progress.c. */
typedef struct es_progress {
    pthread_mutex_t lock;
    es_progress_view v;
    char stop_collection[256]; /* a stop requested for this run */
} es_progress;

void es_progress_init(es_progress *p);
void es_progress_destroy(es_progress *p);

/** A run of `collection` begins at `stage`: counters, rebuild and stop
 *  request are cleared. */
void es_progress_start(es_progress *p, const char *collection, es_stage stage);

/** The run moves to `stage` (ES_STAGE_IDLE: it is over). */
void es_progress_set_stage(es_progress *p, es_stage stage);

void es_progress_set_total(es_progress *p, uint64_t total);

/** done and failed grow by these. */
void es_progress_add(es_progress *p, uint64_t done, uint64_t failed);

/** What the source's end() answered in this run. */
void es_progress_end_answer(es_progress *p, int end_status);

/** The run of `collection` ended with `status`. */
void es_progress_ended(es_progress *p, const char *collection, int status);

/** A rebuild into `target` has `done` of `total` items (target NULL or
 *  "": no rebuild in flight). */
void es_progress_rebuild(es_progress *p, const char *target, uint64_t done,
                         uint64_t total);

/** Ask the run of `collection` to stop; returns non-zero when it is the
 *  one running (otherwise nothing is recorded). */
int es_progress_request_stop(es_progress *p, const char *collection);

/** Non-zero when a stop was requested for the run of `collection`. */
int es_progress_stop_requested(es_progress *p, const char *collection);

/** Copy the progress into *out. */
void es_progress_read(es_progress *p, es_progress_view *out);

#endif
