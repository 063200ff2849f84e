/* A thin C interface over FAISS, so vectors are found, replaced and removed
 * by 64-bit id.  Two kinds of index hold the same points: an exact flat
 * index (every query reads every vector) and an IVF index (vectors grouped
 * in k-means cells; a query reads the nprobe cells nearest to it), for
 * collections too big to scan per query. */
#ifndef FL_FAISS_INDEX_H
#define FL_FAISS_INDEX_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fl_index fl_index;

/** A new empty flat index; l2 = 0 for inner product, 1 for L2 distance.
 *  NULL when out of memory. */
fl_index *fl_index_new(uint32_t dim, int l2);
void fl_index_free(fl_index *ix);

uint32_t fl_index_dim(const fl_index *ix);
uint64_t fl_index_count(const fl_index *ix);

/** IVF cells of the index, or 0 for a flat index. */
size_t fl_index_cells(const fl_index *ix);

/** A new index with every point of src: flat when cells is 0, else IVF
 *  with `cells` k-means cells trained on a sample of src's vectors.  src
 *  is left as it was.  NULL on error (fl_index_error()). */
fl_index *fl_index_rebuild(const fl_index *src, size_t cells);

/** Cells an IVF search reads (at least 1; a flat index ignores it). */
void fl_index_set_nprobe(fl_index *ix, size_t nprobe);

/** Insert n vectors, replacing any with the same id.  0 or -1. */
int fl_index_upsert(fl_index *ix, size_t n, const uint64_t *ids,
                    const float *vectors);

/** Remove n ids (unknown ids are ignored).  0 or -1. */
int fl_index_remove(fl_index *ix, size_t n, const uint64_t *ids);

/** Up to k nearest ids to query, nearest first; scores are inner
 *  products (higher is nearer) or negated L2 distances.  Exact on a flat
 *  index; on an IVF index, the nearest among the nprobe cells read.
 *  Returns how many were found, or -1. */
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
