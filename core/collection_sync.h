/* The protocol of one collection's sync, and the pass over every
 * collection: begin at the source, ensure the store collection (dropped
 * and made again, the source reset, when it holds another model's
 * vectors), stream the changes through the pipeline (after settling what
 * an interrupted run left in flight), end at the source; its functions are
 * those of engine.h (es_engine_ensure, es_engine_stream[_opts],
 * es_engine_sync, es_engine_pass). */
#ifndef ES_COLLECTION_SYNC_H
#define ES_COLLECTION_SYNC_H

#include "engine.h"

/** The collections the source lists (its list_collections() under the
 *  retry policy) into *names, n of them, the caller's to free with
 *  es_engine_names_free().  0, or -1 (logged) when they cannot be had. */
int es_engine_list_collections(es_engine *e, char ***names, size_t *n);
void es_engine_names_free(char **names, size_t n);

/** What es_engine_ensure() asks the store for: the embedder's size,
 *  metric and model identity (spec->identity points into e). */
void es_engine_collection_spec(const es_engine *e,
                               embsync_collection_spec *spec);

#endif
