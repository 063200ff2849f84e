/* The ids of the benchmarks' synthetic source and store: item i of the one
 * collection has id (i + 1) × SYNTHETIC_STRIDE, ascending with i, so a
 * store can list them in order without holding them, and spread over the
 * u64 range as i grows (past 2^53, where a double loses them, from the
 * 8,193rd item on; near 2^64 - 1 for the last of SYNTHETIC_SPAN). */
#ifndef SYNTHETIC_H
#define SYNTHETIC_H

#include <stdint.h>

#define SYNTHETIC_COLLECTION "synthetic"
/* Items the id space is divided among (the most either plugin holds). */
#define SYNTHETIC_SPAN (UINT64_C(1) << 24)
#define SYNTHETIC_STRIDE (UINT64_MAX / (SYNTHETIC_SPAN + 1))

static inline uint64_t synthetic_id(uint64_t i)
{
    return (i + 1) * SYNTHETIC_STRIDE;
}

/* The i of an id, or SYNTHETIC_SPAN when it is no synthetic id. */
static inline uint64_t synthetic_index(uint64_t id)
{
    if (id == 0 || id % SYNTHETIC_STRIDE != 0 || id / SYNTHETIC_STRIDE > SYNTHETIC_SPAN)
        return SYNTHETIC_SPAN;
    return id / SYNTHETIC_STRIDE - 1;
}

#endif
