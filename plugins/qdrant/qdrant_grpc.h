/* Point writes over Qdrant's gRPC API (service qdrant.Points), used when
 * the store section sets grpc_url: the vectors travel as packed float32
 * instead of decimal text.  Everything else stays on REST. */
#ifndef QDRANT_GRPC_H
#define QDRANT_GRPC_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include <embsync/plugin.h>

#include "qdrant_points.pb-c.h"

struct qdrant;

/** Upsert n points (stride bytes apart) of `dim` floats into the Qdrant
 *  collection `collection` (the full name, prefix included; an alias is
 *  resolved by the server), wait = true: OK means applied. */
int qdrant_grpc_upsert(struct qdrant *q, const char *collection, size_t n,
                       const embsync_point *points, size_t stride, uint32_t dim);

/** Delete n ids from `collection`, wait = true; a missing collection holds
 *  none of them (OK). */
int qdrant_grpc_delete(struct qdrant *q, const char *collection, size_t n,
                       const uint64_t *ids);

/** The members of a JSON object as a payload map: *entries (n_entries of
 *  them) malloc'd with every value beneath, integers as integer_value so
 *  ids stay integers.  -1 when memory runs out (nothing to free). */
int qdrant_payload_entries(const cJSON *object,
                           Qdrant__PointStruct__PayloadEntry ***entries,
                           size_t *n_entries);

/** Free what qdrant_payload_entries() made. */
void qdrant_payload_free(Qdrant__PointStruct__PayloadEntry **entries, size_t n);

#endif
