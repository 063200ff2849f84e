/* In-process fake plugins for the engine tests: a source, an embedder and a
 * store over plain arrays, with switches to inject failures. */
#ifndef FAKE_PLUGINS_H
#define FAKE_PLUGINS_H

#include <stddef.h>
#include <stdint.h>

#include <embsync/plugin.h>

#define FAKE_MAX_ITEMS 256
#define FAKE_MAX_COLLECTIONS 4
#define FAKE_DIM 4

typedef struct fake_item {
    int exists;
    unsigned version;        /* bumped on modification */
    int undecodable;         /* the embedder rejects it */
    char bad_vector;         /* the embedder returns a broken vector:
                                'n' NaN, 'i' +inf, 'j' -inf, 'h' FLT_MAX,
                                '2' a norm of 2; 0 = a good one */
} fake_item;

typedef struct fake_collection {
    char name[32];
    fake_item items[FAKE_MAX_ITEMS];
    unsigned acked[FAKE_MAX_ITEMS];   /* version acknowledged, 0 = none */
    int fail_changes;                 /* changes() returns FAILED */
    int busy;                         /* begin() returns SKIP */
    int begins, ends;
    int begin_seq;                    /* order of the last begin() */
    int last_end_status;
} fake_collection;

typedef struct fake_point {
    int present;
    float vector[FAKE_DIM];
    char payload[64];
} fake_point;

typedef struct fake_store_collection {
    int exists;
    char identity[64];
    uint32_t dim;
    fake_point points[FAKE_MAX_ITEMS];
} fake_store_collection;

typedef struct fake_world {
    fake_collection collections[FAKE_MAX_COLLECTIONS];
    size_t n_collections;
    char model_identity[64];
    fake_store_collection store[FAKE_MAX_COLLECTIONS];
    int upsert_calls, remove_calls, drops, resets, exists_calls;
    int calls;                 /* every counted call, for their order */
    int last_reset_call, last_drop_call;
    int begin_counter;
    int fail_upsert_on_call;   /* the Nth upsert call fails (0 = never) */
    int retry_upserts;         /* that many upsert calls answer RETRY first */
    int unnormalized;          /* the embedder's model does not normalise */
} fake_world;

extern fake_world world;

extern const embsync_plugin fake_source_plugin;
/* The same source at ABI 1.1: no exists(). */
extern const embsync_plugin fake_source_plugin_no_exists;
extern const embsync_plugin fake_embedder_plugin;
extern const embsync_plugin fake_store_plugin;

/** Reset the world to n collections of m items each, all unsynced. */
void fake_world_reset(size_t n_collections, size_t items_each);

/** The vector the fake embedder gives item id at version v. */
void fake_vector(uint64_t id, unsigned version, float *out);

#endif
