/* The failed-items ledger of one collection: items that failed for good
 * (or keep failing), why, and when to try them again.  Kept in the state
 * directory; retried on later runs with a growing delay; cleared when the
 * item succeeds or is deleted at the source. */
#ifndef ES_LEDGER_H
#define ES_LEDGER_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef struct es_ledger_entry {
    uint64_t id;
    char ref[256];         /* the source's name for it (path, image id) */
    char step[8];          /* "fetch", "embed", "store" */
    char reason[256];
    unsigned attempts;
    int64_t first_failed;  /* unix seconds */
    int64_t next_attempt;  /* unix seconds */
} es_ledger_entry;

typedef struct es_ledger {
    char *path;
    es_ledger_entry *entries; /* sorted by id */
    size_t n, cap;
    int dirty;
    pthread_mutex_t lock;
} es_ledger;

/** Load the ledger of `collection` under state_dir (empty when none). */
int es_ledger_open(es_ledger *l, const char *state_dir, const char *collection);

/** Non-zero when item `id` may be attempted at `now`. */
int es_ledger_due(es_ledger *l, uint64_t id, int64_t now);

/** Record a failure of `id` (source reference `ref`, may be NULL) at
 *  `step`; the next attempt is delayed 1 min × 4^(attempts-1), at most a
 *  day. */
void es_ledger_fail(es_ledger *l, uint64_t id, const char *ref,
                    const char *step, const char *reason, int64_t now);

/** Forget `id` (it succeeded or is gone). */
void es_ledger_clear(es_ledger *l, uint64_t id);

/** Forget n items that no longer exist at the source (in-flight
 *  resolution, reconciliation); returns how many were in the ledger.
 *  Save with es_ledger_save(). */
size_t es_ledger_forget(es_ledger *l, size_t n, const uint64_t *ids);

/** Write it back (atomically) when it changed. */
int es_ledger_save(es_ledger *l);

void es_ledger_close(es_ledger *l);

/** Delay before attempt number attempts+1, in seconds. */
int64_t es_ledger_backoff(unsigned attempts);

/** Copy of entry i (sorted by id), for reports; 0, or -1 past the end. */
int es_ledger_entry_at(es_ledger *l, size_t i, es_ledger_entry *out);

#endif
