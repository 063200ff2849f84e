/* Reconciliation: make a store collection equal to its source collection
 * whatever happened behind embsync's back (a crash in a window nobody has
 * found, another writer).  Both sides are walked in pages, so memory stays
 * flat at a million items:
 *   1. the store's ids (list_ids) against the source (exists): store ids
 *      the source no longer has are orphans and are removed;
 *   2. the failed-items ledger against the source (exists): entries of
 *      items that are gone are dropped;
 *   3. the source's items (items) against the store (contains): items the
 *      store lacks are written to an unnamed temporary file, then streamed
 *      through the engine's pipeline (fetched, embedded, stored and
 *      acknowledged like any change).
 * All between the source's begin() and end() of the collection.  A dry run
 * walks and counts and changes nothing. */
#ifndef ES_RECONCILE_H
#define ES_RECONCILE_H

#include <stdint.h>

#include "engine.h"

typedef struct es_reconcile_result {
    int status;             /* EMBSYNC_OK, SKIP, or what failed it */
    int dry_run;
    uint64_t store_ids;     /* ids read from the store */
    uint64_t source_items;  /* items the source listed */
    uint64_t orphans;       /* store ids the source no longer has */
    uint64_t missing;       /* source items the store lacks */
    uint64_t forgotten;     /* failed-ledger entries of gone items */
    es_run_result run;      /* the missing items' way through the pipeline */
    double seconds;
    char error[512];
} es_reconcile_result;

/** NULL when the source and the store can be reconciled, else buf with
 *  why not: a sentence naming the plugin and the operation it lacks. */
const char *es_reconcile_unsupported(const es_engine *e, char *buf,
                                     size_t len);

/** Reconcile one collection; logs, counts in /metrics, records its status
 *  in the engine's state_dir.  Returns res->status. */
int es_reconcile_collection(es_engine *e, const char *collection, int dry_run,
                            es_reconcile_result *res);

/** Reconcile every collection the source lists, or only `only`.  Returns
 *  the number that failed, or -1 (logged) when reconciliation is not
 *  possible with these plugins, the collections cannot be listed or
 *  `only` is not one of them. */
int es_reconcile_pass(es_engine *e, const char *only, int dry_run);

/** When the latest reconciliation recorded in state_dir ended (unix
 *  seconds, 0 = never); dry runs do not count. */
int64_t es_reconcile_last(const char *state_dir);

/** Steps 1-3 alone, for a collection the caller has begun at the source
 *  and ensured in the store, against the store collection opts->store_as
 *  (NULL opts or store_as: the collection itself); the missing items go
 *  through es_engine_stream_opts() with opts.  Fills res's counts (the
 *  pipeline's in res->run) and error, not its status; returns the
 *  status.  A rebuild fills its shadow with it. */
int es_reconcile_into(es_engine *e, const char *collection,
                      const es_stream_opts *opts, es_reconcile_result *res);

/** For `embsync status`: print the last reconciliation of `collection`
 *  (nothing when it never had one). */
void es_reconcile_print_status(const char *state_dir, const char *collection);

#endif
