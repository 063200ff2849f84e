/* One faiss-local collection on disk: metadata, a snapshot (FAISS index +
 * payloads) and an append-only operation log replayed on load.
 *
 * Files in the collection's directory, for generation G:
 *   meta.json       dim, metric, model identity, current generation (the
 *                   commit point: replaced atomically)
 *   index-G.faiss   the FAISS index as of the snapshot
 *   payloads-G.bin  the payloads as of the snapshot
 *   log-G.bin       checksummed records of every upsert/remove since
 *
 * An upsert or remove appends one record and fsyncs before it returns, so
 * acknowledged changes survive a crash; a torn or corrupt tail record was
 * never acknowledged and is cut off on load.  Compaction writes generation
 * G+1 in full, fsyncs it, then switches meta.json: a crash at any point
 * leaves either G or G+1 complete.
 *
 * Compaction is also when the index changes shape: a collection of
 * ivf_threshold points or more gets an IVF index of about sqrt(count)
 * cells, rebuilt when the count has since doubled or halved, and goes back
 * to an exact flat index below half the threshold.  The shape travels in
 * the snapshot, so a reload finds what was written. */
#ifndef FL_COLLECTION_H
#define FL_COLLECTION_H

#include <stddef.h>
#include <stdint.h>

#include "faiss_index.h"

/* Defaults of the faiss-local keys ivf_threshold and nprobe: below 20,000
 * points an exact scan already answers in a few milliseconds. */
#define FL_IVF_THRESHOLD 20000u
#define FL_NPROBE 16u

typedef struct fl_payload {
    uint64_t key;
    char *value;
} fl_payload;

typedef struct fl_collection {
    char *dir;
    uint32_t dim;
    int metric;              /* embsync_metric */
    char identity[128];
    uint64_t generation;
    fl_index *index;
    fl_payload *payloads;    /* stb_ds hash map id -> JSON text */
    int log_fd;
    uint64_t log_bytes;
    uint64_t snapshot_bytes;
    double compact_ratio;    /* compact when log > ratio × snapshot */
    int durable;             /* fsync (off only for throwaway benchmarks) */
    uint64_t ivf_threshold;  /* points from which compaction builds IVF; 0 = never */
    size_t nprobe;           /* IVF cells a search reads */
    uint64_t *sorted_ids;    /* id_list.h: ascending copy of the ids */
    size_t n_sorted;
    int ids_stale;           /* a new id arrived since it was made */
} fl_collection;

/** Does a collection exist in dir? */
int fl_collection_exists(const char *dir);

/** Does dir hold the metadata of a collection whose current snapshot files
 *  are gone?  An earlier version dropped collections file by file, so a
 *  crash could leave that behind: it can never open again. */
int fl_collection_half_deleted(const char *dir);

/** Create an empty collection in dir (replacing any leftover). */
fl_collection *fl_collection_create(const char *dir, uint32_t dim, int metric,
                                    const char *identity, char *err,
                                    size_t errlen);

/** Load a collection: snapshot, then the log. */
fl_collection *fl_collection_open(const char *dir, char *err, size_t errlen);

void fl_collection_close(fl_collection *c);

/** Durably insert or replace n points (vectors already normalised when the
 *  metric wants it). */
int fl_collection_upsert(fl_collection *c, size_t n, const uint64_t *ids,
                         const float *vectors, const char *const *payloads,
                         char *err, size_t errlen);

/** Durably remove n ids. */
int fl_collection_remove(fl_collection *c, size_t n, const uint64_t *ids,
                         char *err, size_t errlen);

/** Compact now: write the next generation in full (changing the index's
 *  shape if its size calls for it) and start an empty log. */
int fl_collection_compact(fl_collection *c, char *err, size_t errlen);

/** Apply c->nprobe to the loaded index (after setting it). */
void fl_collection_tune(fl_collection *c);

/** The payload of id (borrowed), or NULL. */
const char *fl_collection_payload(fl_collection *c, uint64_t id);

/** Delete the collection's files and directory: renamed away first, in
 *  one step, so the collection is whole or gone whatever happens after. */
int fl_collection_destroy(const char *dir);

/** Finish the drops a crash cut short among the collections in root. */
int fl_collection_sweep(const char *root);

/* Name prefix of a dropped collection's directory until it is deleted. */
#define FL_DROPPED_PREFIX ".dropped-"

#endif
