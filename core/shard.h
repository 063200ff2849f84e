/* Several daemons sharing one source: `[core] shard = K/N` gives this one
 * the collections whose name hashes to K of N.  The hash is XXH3-64 of the
 * name (frozen by xxHash since 0.8.0), so a collection's shard depends on
 * its name and N alone: it never moves while N stays the same, whichever
 * daemon starts first or however the source orders its list. */
#ifndef ES_SHARD_H
#define ES_SHARD_H

#include <stddef.h>

/** This daemon's part of the collections; n == 0 (or 1) means all. */
typedef struct es_shard {
    unsigned k; /* 1..n */
    unsigned n;
} es_shard;

/** Parse "K/N" (1 <= K <= N <= 1024).  Returns 0, or -1 with the reason
 *  in why. */
int es_shard_parse(const char *text, es_shard *out, char *why, size_t whylen);

/** The shard, 1..n, that `collection` belongs to among n. */
unsigned es_shard_of(const char *collection, unsigned n);

/** Non-zero when `collection` is this daemon's to run. */
int es_shard_owns(const es_shard *shard, const char *collection);

#endif
