/* The qdrant store's instance and the operations its files share:
 * qdrant.c (keys, open, check, the descriptor), qdrant_collections.c
 * (ensure, adoption, drop, the model record), qdrant_points.c (writes,
 * search, id listing) and qdrant_grpc.c (writes over gRPC). */
#ifndef QDRANT_STORE_H
#define QDRANT_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <embsync/plugin.h>

#include <cjson/cJSON.h>

#include "qdrant_client.h"

#define QDRANT_PLUGIN_VERSION "1.1"

/* Options of the collections embsync creates and of its writes, as the
 * store section sets them; 0 or -1: unset, Qdrant's default. */
typedef struct qdrant_options {
    long long shard_number, replication_factor, write_consistency_factor;
    int hnsw_m;                   /* hnsw_m is set (0 is a value) */
    long long hnsw_m_value, hnsw_ef_construct;
    int on_disk;                  /* -1 unset, else 0/1 */
    int int8;                     /* quantization = int8 */
    int always_ram;               /* -1 unset, else 0/1 */
    char ordering_query[32];      /* "&ordering=strong", or "" */
} qdrant_options;

typedef struct qdrant {
    qdrant_client client;
    char *grpc_base;          /* grpc_url without trailing slashes, or NULL:
                                 point writes over gRPC (qdrant_grpc.c) */
    const char *prefix;
    const char *distance;     /* Cosine, Dot, Euclid, Manhattan */
    long batch_size;
    char index_field[128];
    char index_type[32];
    const char *state_dir;
    int server_major, server_minor;
    int adopt;                /* adopt collections that record no model */
    qdrant_options options;
    /* The vector size of the last collection ensured: upserts need it and
     * the host serialises calls, so one entry saves a request per batch. */
    char known_name[1024];
    uint32_t known_dim;
} qdrant;

#define HOST(q) ((q)->client.host)
#define CTX(q) ((q)->client.ctx)

/** "<prefix+name>" (unescaped, as gRPC names a collection) into out; -1
 *  (error set) when it does not fit. */
int qdrant_full_name(qdrant *q, const char *name, char *out, size_t len);

/** "/collections/<prefix+name, escaped><suffix>" into out; -1 (error set)
 *  when it does not fit. */
int qdrant_collection_path(qdrant *q, const char *name, const char *suffix,
                           char *out, size_t len);

/** Whether the server keeps collection metadata (1.16+). */
int qdrant_has_metadata(const qdrant *q);

/** Remember the vector size of the collection just ensured. */
void qdrant_remember_dim(qdrant *q, const char *name, uint32_t dim);

/** A JSON number as a non-negative integer no larger than max, or 0 when
 *  the server sent anything else: converting a negative, fractional or
 *  huge double is undefined behaviour. */
uint64_t qdrant_json_uint(const cJSON *v, double max);

/** Read and check the options keys; -1 with the error set (naming the key
 *  and what it allows) when one is wrong. */
int qdrant_options_read(qdrant *q);

/** Add the options that are set to a CreateCollection body (with its
 *  "vectors" object already in it). */
void qdrant_options_add(const qdrant *q, cJSON *body);

int qdrant_ensure(void *state, const char *name,
                  const embsync_collection_spec *spec, int *result);
int qdrant_drop(void *state, const char *name);
/** DELETE the collection `name` itself (an alias's name deletes nothing)
 *  and its local model record. */
int qdrant_drop_collection(qdrant *q, const char *name);

/** The concrete collection `name` means into target (without the prefix):
 *  the one an alias `name` points to (*is_alias = 1), else `name`. */
int qdrant_resolve(qdrant *q, const char *name, char *target, size_t len,
                   int *is_alias);
int qdrant_alias_get(void *state, const char *name, char *target, size_t len);
int qdrant_alias_set(void *state, const char *name, const char *target);

int qdrant_upsert(void *state, const char *name, size_t n,
                  const embsync_point *points);
int qdrant_remove(void *state, const char *name, size_t n, const uint64_t *ids);
int qdrant_count(void *state, const char *name, uint64_t *count);
int qdrant_search(void *state, const char *name, const float *vector,
                  size_t k, embsync_hit_cb cb, void *arg);
int qdrant_list_ids(void *state, const char *name, uint64_t start, size_t max,
                    uint64_t *ids, size_t *n);
int qdrant_contains(void *state, const char *name, size_t n,
                    const uint64_t *ids, int *present);

#endif
