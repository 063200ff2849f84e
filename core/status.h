/* What operators see of each collection: the outcome of its last run and
 * of its last successful one, kept in the state directory so `embsync
 * status` and the control port read the same facts. */
#ifndef ES_STATUS_H
#define ES_STATUS_H

#include <stddef.h>
#include <stdint.h>

typedef struct es_collection_status {
    char name[256];
    int64_t last_run_start, last_run_end;  /* unix seconds */
    int64_t last_success;                  /* 0 = never */
    int last_status;                       /* embsync_status of the last run */
    char last_error[512];
    uint64_t embedded, deleted, failed, deferred, waiting;
    double seconds;
    uint64_t ledger_size;                  /* items in the failed ledger */
    int64_t oldest_failed;                 /* first failure of the oldest */
} es_collection_status;

/** Record a run of s->name; keeps the previous last_success when this run
 *  failed. */
int es_status_save(const char *state_dir, es_collection_status *s);

/** Call cb for every collection with a status file, sorted by name.
 *  Returns the number of collections, or -1. */
int es_status_each(const char *state_dir,
                   void (*cb)(const es_collection_status *s, void *arg),
                   void *arg);

/** The collection whose run was in flight when the process died, if any:
 *  copies its name into out and returns 1. */
int es_status_inflight(const char *state_dir, char *out, size_t outlen);
int es_status_mark_inflight(const char *state_dir, const char *collection);
int es_status_clear_inflight(const char *state_dir);

#endif
