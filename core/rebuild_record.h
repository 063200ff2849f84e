/* The durable record of a rebuild beside the live collection (rebuild.h):
 * `<state_dir>/core/rebuild/<collection>.json`, one JSON object replaced
 * atomically (es_write_atomic), so a crash leaves the old record or the new
 * one.  `embsync status` reads it from another process. */
#ifndef ES_REBUILD_RECORD_H
#define ES_REBUILD_RECORD_H

#include <stddef.h>
#include <stdint.h>

/** The phases a record can be in. */
typedef enum es_rebuild_phase {
    ES_REBUILD_FILLING = 1,  /* the shadow is being filled and caught up */
    ES_REBUILD_SWITCHED = 2  /* the name points at the shadow; the old
                                collection is left to drop */
} es_rebuild_phase;

/** A rebuild in flight, as its record says. */
typedef struct es_rebuild_record {
    char collection[256];
    char shadow[320];
    char old[320];           /* what readers saw when it began */
    char identity[128];
    uint32_t dim;
    int metric;
    int phase;               /* es_rebuild_phase */
    int64_t started;         /* unix seconds */
    uint64_t done, total;    /* items in the shadow, items to hold (last saved) */
} es_rebuild_record;

/** The record of `collection` in state_dir: 1 when there is one (into
 *  *rec), 0 when none, -1 when it cannot be read. */
int es_rebuild_record_load(const char *state_dir, const char *collection,
                           es_rebuild_record *rec);

/** Write rec (replacing the collection's record).  0, or -1 with errno. */
int es_rebuild_record_save(const char *state_dir, const es_rebuild_record *rec);

/** The file beside the record where a rebuild spools the acknowledgements
 *  it holds until its switch (`<collection>.acks`; the directory is made).
 *  0, or -1 when it does not fit or cannot be made. */
int es_rebuild_acks_path(const char *state_dir, const char *collection,
                         char *out, size_t len);

/** Remove the record of `collection` and its held acknowledgements (none:
 *  fine).  0, or -1 with errno. */
int es_rebuild_record_remove(const char *state_dir, const char *collection);

#endif
