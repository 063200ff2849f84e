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
 *  resolved by the server), wait = true: OK means applied.  *oversize is
 *  set when the message was refused as over a size limit (a batch of more
 *  than one point is then not reported as failed: the caller halves it). */
int qdrant_grpc_upsert(struct qdrant *q, const char *collection, size_t n,
                       const embsync_point *points, size_t stride, uint32_t dim,
                       int *oversize);

/** Call qdrant.Qdrant/HealthCheck at grpc_url: OK when it answers, else
 *  the error names grpc_url (without any user:password in it). */
int qdrant_grpc_health(struct qdrant *q);

/** Delete n ids from `collection`, wait = true; a missing collection holds
 *  none of them (OK). */
int qdrant_grpc_delete(struct qdrant *q, const char *collection, size_t n,
                       const uint64_t *ids);

/** Where the payload messages of one request live: a few blocks, freed
 *  at once by qdrant_arena_free().  Zero-initialise it. */
typedef struct qdrant_arena {
    struct qdrant_arena_block *head;
} qdrant_arena;

/** Free every block of the arena (it is empty again afterwards). */
void qdrant_arena_free(qdrant_arena *arena);

/** The members of a JSON object as a payload map: *entries (n_entries of
 *  them) and every value beneath taken from `arena`, integers as
 *  integer_value so ids stay integers; keys and strings are copied, so
 *  `object` may go at once.  -1 when memory runs out (what was taken goes
 *  with the arena). */
int qdrant_payload_entries(const cJSON *object, qdrant_arena *arena,
                           Qdrant__PointStruct__PayloadEntry ***entries,
                           size_t *n_entries);

#endif
