/* The ids of a faiss-local collection in ascending order, for list_ids():
 * a sorted copy of the payload map's keys, made when first asked for and
 * again after an upsert brought a new id.  A removal keeps it: ids no
 * longer in the map are skipped when read, so a reconciliation removing
 * orphans page by page does not re-sort a million ids per page. */
#ifndef FL_ID_LIST_H
#define FL_ID_LIST_H

#include <stddef.h>
#include <stdint.h>

#include "collection.h"

/** Write into ids (room for max) the collection's ids >= start, ascending,
 *  at most max, and their number into *n.  0, or -1 when out of memory. */
int fl_collection_list_ids(fl_collection *c, uint64_t start, size_t max,
                           uint64_t *ids, size_t *n);

/** Non-zero when the collection has a point with this id. */
int fl_collection_contains(fl_collection *c, uint64_t id);

/** Release the sorted copy (on close). */
void fl_id_list_free(fl_collection *c);

#endif
