/* The sync engine, one collection at a time: begin (the source marks it in
 * progress), ensure (the store's collection has the embedder's size, metric
 * and model, else it is rebuilt beside the live one (rebuild.h) or, when
 * the plugins cannot, dropped and made again), changes (streamed page by
 * page), the pipeline (fetch, embed and store overlapped in bounded stages;
 * deletions go straight to the store), ack (only after the store confirmed
 * a batch durably) and end (the source records the outcome).
 *
 * Where it lives: core/collection_sync.c is that protocol and the pass over
 * every collection, core/pipeline.c the stages, core/run_record.c a run's
 * bookkeeping (ledger, in-progress mark, status, metrics), core/calls.c
 * the calls into the plugins; this file's functions are theirs. */
#ifndef ES_ENGINE_H
#define ES_ENGINE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "host.h"
#include "progress.h"
#include "shard.h"
#include "stop.h"

/** How one collection's run ended. */
typedef struct es_run_result {
    int status;            /* EMBSYNC_OK, SKIP, or what failed it */
    uint64_t embedded, deleted, failed, deferred;
    uint64_t waiting;      /* skipped: still in the ledger's back-off */
    int rebuilt;
    int stopped;           /* cut short by a requested stop (not a failure) */
    double seconds;
    char error[512];
} es_run_result;

/* Group commit: the store stage takes together the batches already
 * waiting for it, up to this many items, and pays one in-flight record (an
 * fdatasync), one upsert and one acknowledgement for all of them instead of
 * one each.  Batches wait there only while the store or the source's
 * acknowledgement is the slower side, so grouping never delays a batch. */
#define ES_STORE_GROUP_ITEMS 256

typedef struct es_engine {
    es_instance *source, *embedder, *store;
    embsync_model_info model;
    size_t batch_size;
    unsigned queue_depth;  /* batches waiting between two stages */
    int sequential;        /* one stage at a time (benchmarks only) */
    /* Items the store stage may take in one call (ES_STORE_GROUP_ITEMS);
     * below batch_size, one batch per call.  Ignored when sequential. */
    size_t store_group_items;
    es_stop *stop;
    /* Where the failed-items ledger, run status and in-flight mark live;
     * NULL keeps none of them (unit tests). */
    const char *state_dir;
    /* The collections a pass runs: those of this daemon's shard. */
    es_shard shard;
    /* The run in flight; read it with es_engine_progress(). */
    es_progress progress;
    /* The bookkeeping of the run in flight (run_record.h); NULL between
     * runs. */
    struct es_run_record *run;
    /* A collection to rebuild beside the live one even when its model is
     * unchanged (`embsync rebuild`); NULL for none. */
    const char *force_rebuild;
    /* Rebuild a changed model's collection in place even when the plugins
     * could build it beside the live one ([core] rebuild_beside = false). */
    int rebuild_in_place;
    /* Called from the store stage after each call (may be NULL). */
    void (*on_progress)(const es_progress_view *p, void *arg);
    void *on_progress_arg;
} es_engine;

/** Set up the engine for three open instances; asks the embedder for its
 *  model.  Returns EMBSYNC_OK or a status with the reason in err. */
int es_engine_init(es_engine *e, es_instance *source, es_instance *embedder,
                   es_instance *store, size_t batch_size, es_stop *stop,
                   char *err, size_t errlen);
void es_engine_destroy(es_engine *e);

/** Where a run's changes come from: emits through sink like a source's
 *  changes() and returns its status. */
typedef int (*es_change_producer)(void *arg, embsync_change_sink *sink);

/** Step 2 alone: the store collection matches the embedder, or is rebuilt
 *  (the source is reset).  For a collection the caller has begun. */
int es_engine_ensure(es_engine *e, const char *collection, es_run_result *res);

/** Steps 3–5 alone, for a collection the caller has begun at the source and
 *  ensured in the store: what `produce` emits is fetched, embedded, stored
 *  and acknowledged like a source's changes.  Fills res's counts and error;
 *  returns the run's status. */
int es_engine_stream(es_engine *e, const char *collection,
                     es_change_producer produce, void *arg, es_run_result *res);

/** Where a stream's writes go and who hears of them, for a stream that is
 *  not a plain sync (a rebuild filling a collection beside the live one).
 *  A zeroed struct, or NULL, is es_engine_stream(). */
typedef struct es_stream_opts {
    /* The store collection upserts and removes go to; NULL = the
     * collection itself.  Like the collection, the caller has ensured it
     * (es_store_ensure() with es_engine_collection_spec()). */
    const char *store_as;
    /* A second store collection the removes also go to (after those of
     * store_as, before the batch counts as stored); NULL = none. */
    const char *remove_also;
    /* Called on the store stage's thread with each batch's changes once
     * the store confirmed them durably, instead of the source's ack();
     * returns an embsync status, retried like ack() on RETRY; anything
     * but OK fails the stream.  Until it returns OK the batch stays in
     * the in-flight record, so a crash in between is resolved like one
     * before ack().  It runs beside the source's changes() and fetch():
     * it may call the store (whose stage waits for it) and the source's
     * ack(), no other source call.  NULL = ack at the source. */
    int (*on_stored)(void *arg, size_t n, const embsync_change *changes);
    void *on_stored_arg;
} es_stream_opts;

/** es_engine_stream() with options (opts may be NULL): changes come from
 *  `produce` and content from the source's fetch() of `collection`; the
 *  failed-items ledger and the in-flight record are those of `collection`,
 *  and the items an interrupted run left in flight that are gone at
 *  the source are removed from store_as and remove_also. */
int es_engine_stream_opts(es_engine *e, const char *collection,
                          const es_stream_opts *opts,
                          es_change_producer produce, void *arg,
                          es_run_result *res);

/** Sync one collection through the six steps. */
int es_engine_sync(es_engine *e, const char *collection, es_run_result *res);

/** Ask the run of `collection` to stop after the batch in flight; returns
 *  non-zero when that collection is the one running. */
int es_engine_stop_collection(es_engine *e, const char *collection);

/** A copy of the progress of the run in flight (or of the last one). */
void es_engine_progress(es_engine *e, es_progress_view *out);

/** One pass: every collection the source lists (a run interrupted by a
 *  crash is resumed first).  Returns the number of collections that
 *  failed (skipped ones, one stopped on request and those a stop kept from
 *  starting do not count), or -1 when the collections could not be
 *  listed. */
int es_engine_pass(es_engine *e);

#endif
