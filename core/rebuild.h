/* A collection rebuilt beside the live one (a model change, or an operator's
 * `embsync rebuild`): the new model's vectors go into a shadow collection,
 * `<name>__<short hash of identity, dim and metric>`, which readers never
 * see; it is filled with every current item, caught up with the changes
 * that came meanwhile, then made the live one by one alias_set() of the
 * store, and the old collection is dropped.  Until the switch every search
 * answers from the old collection with its old vectors, after it only from
 * the new one; the two models' vectors never share a collection.
 *
 * Source acknowledgements are held until the switch (spooled to a
 * temporary file; the fill's versions, 16 bytes an item, stay in memory for
 * the catch-up to skip what the fill stored): an item counts as
 * embedded at the source only once its vector is in the collection readers
 * see.  Deletions go to both collections at once, so no vector outlives its
 * item on either side.
 *
 * A durable record in the state directory (`core/rebuild/<name>.json`,
 * replaced atomically) names the collection, its shadow, the model and the
 * phase.  A run cut short (crash, SIGTERM) leaves the live collection
 * untouched and the record behind; the next run resumes it: the fill skips
 * what the shadow already holds (the store's contains()), so nothing stored
 * is embedded again, and the shadow's vectors of items deleted meanwhile
 * are removed.  A record whose model is no longer the embedder's belongs to
 * no rebuild any more: its shadow is dropped.
 *
 * The store needs alias_get(), alias_set(), list_ids() and contains(), the
 * source items() and exists(); without them the engine rebuilds in place
 * (drop, re-create, re-embed), as before. */
#ifndef ES_REBUILD_H
#define ES_REBUILD_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "rebuild_record.h"

/** NULL when the engine's plugins can rebuild beside the live collection,
 *  else buf with why not (the plugin and the operation it lacks). */
const char *es_rebuild_unsupported(const es_engine *e, char *buf, size_t len);

/** The shadow name of `collection` for the engine's model, into out:
 *  `<collection>__<8 hex digits>`, or with a "-b" after them when `avoid`
 *  (the live collection's target) is that name already.  0, or -1 when
 *  out is too small. */
int es_rebuild_shadow_name(const embsync_model_info *model,
                           const char *collection, const char *avoid,
                           char *out, size_t len);

/** Before anything else in a run of a begun collection: settle what an
 *  interrupted rebuild left.  A rebuild whose switch happened is finished
 *  (old collection dropped, record removed); one of another model than
 *  the embedder's has its shadow dropped and its record removed; one of
 *  this model is left for es_rebuild_collection() to resume.  Returns
 *  EMBSYNC_OK or the failing call's status with res->error set. */
int es_rebuild_settle(es_engine *e, const char *collection,
                      es_run_result *res);

/** Non-zero when `collection` has a rebuild of the engine's model in
 *  flight (recorded, not switched): the run resumes it. */
int es_rebuild_pending(es_engine *e, const char *collection);

/** Rebuild the begun collection beside the live one (or resume the
 *  recorded rebuild of this model), switch, drop the old collection.
 *  `collection` must exist in the store.  On success res->rebuilt is set
 *  and res's counts say what was embedded.  Anything else leaves the live
 *  collection as it was and the record for the next run. */
int es_rebuild_collection(es_engine *e, const char *collection,
                          es_run_result *res);

#endif
