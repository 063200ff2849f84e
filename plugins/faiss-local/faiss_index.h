/* A thin C interface over FAISS: an inner-product or L2 flat index with an
 * id map, so vectors are found, replaced and removed by 64-bit id. */
#ifndef FL_FAISS_INDEX_H
#define FL_FAISS_INDEX_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fl_index fl_index;

/** A new empty index; l2 = 0 for inner product, 1 for L2 distance.
 *  NULL when out of memory. */
fl_index *fl_index_new(uint32_t dim, int l2);
void fl_index_free(fl_index *ix);

uint32_t fl_index_dim(const fl_index *ix);
uint64_t fl_index_count(const fl_index *ix);

/** Insert n vectors, replacing any with the same id.  0 or -1. */
int fl_index_upsert(fl_index *ix, size_t n, const uint64_t *ids,
                    const float *vectors);

/** Remove n ids (unknown ids are ignored).  0 or -1. */
int fl_index_remove(fl_index *ix, size_t n, const uint64_t *ids);

/** Up to k nearest ids to query, nearest first; scores are inner
 *  products (higher is nearer) or negated L2 distances.  Returns how many
 *  were found, or -1. */
long fl_index_search(const fl_index *ix, const float *query, size_t k,
                     uint64_t *ids, float *scores);

/** Write the index to path / read one back (FAISS's own format). */
int fl_index_write(const fl_index *ix, const char *path);
fl_index *fl_index_read(const char *path);

/** Keep FAISS's OpenMP to one thread: the daemon has its own threads. */
void fl_index_single_threaded(void);

/** The last error (per thread), for messages. */
const char *fl_index_error(void);

#ifdef __cplusplus
}
#endif

#endif
