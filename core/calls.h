/* The core's calls into plugins: one function per operation, each doing
 * the call discipline (the thread's error slot cleared before, per-item
 * reasons attached for batch calls, an optional operation the plugin lacks
 * answered FAILED with a sentence saying so), and one retry helper.
 *
 * Serialisation.  The threading contract of include/embsync/plugin.h says
 * the host serialises every embedder and store call, and every source call
 * but changes(), items(), fetch() and ack().  Those serialised calls take
 * the instance's call_lock here, so the promise holds by construction, not
 * by an argument about which thread calls what: today the pipeline (one
 * thread per stage: embed calls only on the embed stage, store calls only
 * on the store stage or on the engine's thread while no stage runs) and the
 * daemon's pass lock (health checks never beside a pass) already keep the
 * calls apart, so the lock is never contended and costs one uncontended
 * mutex per batch call; it makes a new caller (a search from the control
 * port, a rebuild beside a sync) safe without a second look.
 * An embedder that says concurrent_calls > 1 (ABI 1.4) is the one
 * exception: its embed_images() calls take call_lock shared, so they
 * overlap one another (the pipeline's embed workers make at most
 * concurrent_calls of them, pipeline.c) while info(), check() and
 * embed_text() still take it exclusive and so never run beside one; the
 * lock prefers writers, so a search waits for the calls in flight, not for
 * the end of the pass.  The plugin's answer is read from info() only for
 * plugins built against 1.4 or later.
 * changes(), items(), fetch() and ack() take no lock: the contract lets
 * them overlap each other, and the pipeline is what keeps each of them from
 * overlapping itself (one producer, one fetch stage, one store stage) and
 * all of them inside begin() .. end(), where no serialised source call is
 * made.  A plugin never calls the host back into these functions, so the
 * lock is never taken twice on one thread. */
#ifndef ES_CALLS_H
#define ES_CALLS_H

#include <stddef.h>
#include <stdint.h>

#include <embsync/plugin.h>

#include "host.h"
#include "stop.h"

/* ---- one attempt of one operation ---------------------------------------- */

int es_plugin_check(es_instance *inst);

int es_source_list_collections(es_instance *src, embsync_collection_cb cb,
                               void *arg);
int es_source_begin(es_instance *src, const char *collection);
int es_source_changes(es_instance *src, const char *collection,
                      embsync_change_sink *sink);
/** reasons: n slots of reason_len bytes for set_item_error() (may be NULL). */
int es_source_fetch(es_instance *src, const char *collection, size_t n,
                    const embsync_change *items, embsync_blob *out,
                    int *item_status, char *reasons, size_t reason_len);
int es_source_ack(es_instance *src, const char *collection, size_t n,
                  const embsync_change *done);
int es_source_reset(es_instance *src, const char *collection);
int es_source_end(es_instance *src, const char *collection, int run_status);
int es_source_exists(es_instance *src, const char *collection, size_t n,
                     const embsync_change *items, int *present);
int es_source_items(es_instance *src, const char *collection,
                    embsync_change_sink *sink);

int es_embedder_info(es_instance *emb, embsync_model_info *info);
int es_embedder_embed_images(es_instance *emb, size_t n,
                             const embsync_blob *inputs, float *vectors,
                             int *item_status, char *reasons,
                             size_t reason_len);
int es_embedder_embed_text(es_instance *emb, const char *text, float *vector);

int es_store_ensure(es_instance *st, const char *collection,
                    const embsync_collection_spec *spec, int *result);
int es_store_upsert(es_instance *st, const char *collection, size_t n,
                    const embsync_point *points);
int es_store_remove(es_instance *st, const char *collection, size_t n,
                    const uint64_t *ids);
int es_store_count(es_instance *st, const char *collection, uint64_t *count);
int es_store_search(es_instance *st, const char *collection,
                    const float *vector, size_t k, embsync_hit_cb cb,
                    void *arg);
int es_store_drop(es_instance *st, const char *collection);
int es_store_list_ids(es_instance *st, const char *collection, uint64_t start,
                      size_t max, uint64_t *ids, size_t *n);
int es_store_contains(es_instance *st, const char *collection, size_t n,
                      const uint64_t *ids, int *present);
int es_store_alias_get(es_instance *st, const char *name, char *target,
                       size_t target_len);
int es_store_alias_set(es_instance *st, const char *name, const char *target);

/* ---- the retry policy of plugin calls ------------------------------------ */

/* Attempts of one plugin call that answers RETRY.  Fewer than the HTTP
 * layer's: a plugin's RETRY often means its requests were already retried,
 * and what stays broken is picked up by the next pass. */
#define ES_CALL_ATTEMPTS 3

/** One attempt of a call: returns its embsync status, the reason (if any)
 *  in es_call_error(). */
typedef int (*es_call_fn)(void *arg);

/** Make fn(arg) until it answers something else than RETRY, at most
 *  ES_CALL_ATTEMPTS times, waiting es_retry_delay() (at least the
 *  plugin's Retry-After) between attempts, and not again once `stop` is
 *  requested (the wait ends at once then).  Each retry is logged as a
 *  warning naming `what`.  Returns the last attempt's status. */
int es_call_retry(es_stop *stop, const char *what, es_call_fn fn, void *arg);

/** A word for an embsync status ("ok", "retry", "failed" ...). */
const char *es_status_word(int status);

/** The plugin's reason for the last call on this thread, or `status`'s
 *  word when it gave none. */
const char *es_call_reason(int status);

#endif
