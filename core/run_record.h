/* The bookkeeping of one collection's run, owned here with one lifetime
 * per run: the failed-items ledger (opened once, used by every stream of
 * the run and counted for the status), the in-progress mark that lets a
 * pass resume an interrupted run first (set, cleared and read only here),
 * and at the end the metrics, the saved status and the run's log line.
 * Everything in the state directory is skipped when the engine has none
 * (unit tests). */
#ifndef ES_RUN_RECORD_H
#define ES_RUN_RECORD_H

#include <stdint.h>

#include "engine.h"
#include "ledger.h"

typedef struct es_run_record {
    es_engine *e;
    const char *collection;
    double start;          /* es_mono_now() */
    int64_t started_at;    /* unix seconds */
    es_ledger ledger;
    int has_ledger;
    int marked;            /* this run holds the in-progress mark */
    struct es_run_record *outer;  /* the engine's record before this one */
} es_run_record;

/** Start the record of a run of `collection`: the clocks, the ledger, and
 *  the engine's note that this is the run in flight (es_run_record_of). */
void es_run_record_open(es_run_record *r, es_engine *e, const char *collection);

/** The record of the run of `collection` open on e, or NULL. */
es_run_record *es_run_record_of(es_engine *e, const char *collection);

/** Mark the collection in progress in the state directory, so a crash
 *  leaves it to be resumed first. */
void es_run_record_mark(es_run_record *r);

/** The run's failed-items ledger, NULL when there is none. */
es_ledger *es_run_record_ledger(es_run_record *r);

/** Write the ledger back when it changed (a warning when it cannot). */
void es_run_record_save_ledger(es_run_record *r);

/** End the record without a report (a skipped or reconciliation run):
 *  saves and closes the ledger, drops the mark. */
void es_run_record_close(es_run_record *r);

/** End the record of a sync that ran: res->seconds, the metrics, the
 *  status saved with the ledger's size, the mark dropped unless a stop of
 *  the process cut the run short (the next pass resumes it), the run's log
 *  line; then as es_run_record_close(). */
void es_run_record_finish(es_run_record *r, es_run_result *res);

/** The collection whose run a crash or a stop interrupted: copies its
 *  name into out and returns 1, else 0. */
int es_run_record_interrupted(const char *state_dir, char *out, size_t len);

#endif
