/* The in-flight record of one collection: the items of the batch the store
 * stage is writing, recorded durably before the store sees them and
 * forgotten once the source acknowledged them.  A record left behind means
 * the process died (or the run failed) with items the store may hold and
 * the source never heard of; the next run resolves them before changes():
 * an item that still exists is left to be emitted again (it was never
 * acknowledged, so the source still lists it; upserts are idempotent), an
 * item that is gone is removed from the store and from the failed-items
 * ledger, since no later change would ever name it again.
 *
 * On disk: `<state_dir>/core/pending/<collection>.log`, one line per item,
 * "U|D<TAB>ID<TAB>REF" with REF escaped like the dir ledger's paths (%XX
 * for %, TAB, LF, CR; empty for none), each batch's lines under a header
 * with their length and hash, rewritten in place (inflight.c).  One write
 * and one fdatasync per batch; clearing is an end mark written at the
 * start without fsync: a clear lost in a crash only makes the next run
 * resolve items that were acknowledged, which finds them existing (left
 * alone) or gone (removed: right anyway). */
#ifndef ES_INFLIGHT_H
#define ES_INFLIGHT_H

#include <stddef.h>
#include <stdint.h>

#include <embsync/plugin.h>

#include "host.h"
#include "ledger.h"

typedef struct es_inflight {
    char *path;
    int fd;
    size_t end;    /* where the next batch's record goes */
} es_inflight;

/** One recorded item. */
typedef struct es_inflight_item {
    uint64_t id;
    int op;        /* EMBSYNC_OP_UPSERT or EMBSYNC_OP_DELETE */
    char *ref;     /* NULL when the change had none */
} es_inflight_item;

/** Open (create) the record of `collection` under state_dir.  0 or -1. */
int es_inflight_open(es_inflight *f, const char *state_dir,
                     const char *collection);

/** Durably append the n changes about to be written to the store. */
int es_inflight_record(es_inflight *f, size_t n, const embsync_change *items);

/** Forget everything recorded: it was acknowledged or resolved. */
int es_inflight_clear(es_inflight *f);

/** The items recorded (complete lines only; a torn last line belongs to a
 *  batch the store never saw), each id once.  *items is the caller's to
 *  free with es_inflight_items_free.  0 or -1. */
int es_inflight_load(const es_inflight *f, es_inflight_item **items,
                     size_t *n);
void es_inflight_items_free(es_inflight_item *items, size_t n);

void es_inflight_close(es_inflight *f);

/** What resolving a record found. */
typedef struct es_inflight_outcome {
    size_t recorded;   /* items in the record */
    size_t present;    /* still at the source: left to be emitted again */
    size_t removed;    /* gone: removed from the store */
    int unchecked;     /* the source has no exists(): nothing was removed */
} es_inflight_outcome;

/** Resolve what the record of `collection` holds, through the source's
 *  exists() and the store's remove(); forget the gone items in `ledger`
 *  (may be NULL) and clear the record.  Returns EMBSYNC_OK (also when
 *  there was nothing to do), or the failing call's status with the record
 *  kept for the next run; the reason is in es_call_error(). */
int es_inflight_resolve(es_inflight *f, const char *collection,
                        es_instance *source, es_instance *store,
                        es_ledger *ledger, es_inflight_outcome *out);

/** es_inflight_resolve() for items that went to other store collections:
 *  the gone ones are removed from each of `stores` (NULL-terminated). */
int es_inflight_resolve_in(es_inflight *f, const char *collection,
                           const char *const *stores, es_instance *source,
                           es_instance *store, es_ledger *ledger,
                           es_inflight_outcome *out);

/** Ask the source about every item of the failed-items ledger and forget
 *  (and remove from the store) those that no longer exist, so the ledger
 *  shrinks when bad items are deleted: no change will ever name an item
 *  that never reached the store.  *forgotten says how many went.  A
 *  source without exists() leaves the ledger as it is. */
int es_inflight_prune_ledger(const char *collection, es_instance *source,
                             es_instance *store, es_ledger *ledger,
                             size_t *forgotten);

#endif
