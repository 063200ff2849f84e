/* Changes kept in a file instead of memory, so that what is gathered about
 * a million items (reconciliation's missing items, a rebuild's
 * acknowledgements held until its switch) costs disk, not RAM.  Each change
 * is its id, its op and its ref, version and payload, each a u32 length
 * (UINT32_MAX for NULL) and the bytes.  Written, rewound, read back in
 * pages.  An unnamed spool is gone when closed (or when the process dies);
 * a named one, once synced, outlives a crash and is read again by the next
 * process. */
#ifndef ES_CHANGE_SPOOL_H
#define ES_CHANGE_SPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <embsync/plugin.h>

typedef struct es_change_spool {
    FILE *fp;
    uint64_t n;      /* changes written */
} es_change_spool;

/** An unnamed spool.  0, or -1 with errno when no temporary file can be
 *  made. */
int es_spool_open(es_change_spool *s);

/** A spool in the file `path`, created empty (an old one is truncated).
 *  0, or -1 with errno. */
int es_spool_create(es_change_spool *s, const char *path);

/** Make what was put into the spool at `path` durable: its data and its
 *  directory entry.  0, or -1 with errno. */
int es_spool_sync(es_change_spool *s, const char *path);

/** Open the spool a process left at `path`, for reading from its first
 *  change.  0, or -1 with errno (ENOENT: there is none). */
int es_spool_open_read(es_change_spool *s, const char *path);

/** Append c (its strings are copied).  0, or -1 with errno. */
int es_spool_put(es_change_spool *s, const embsync_change *c);

/** Go back to the first change, for reading.  0 or -1. */
int es_spool_rewind(es_change_spool *s);

/** Read up to max changes into page; their strings are the caller's, freed
 *  with es_spool_page_free().  Returns how many (0 at the end), or -1 for a
 *  short or unreadable file. */
long es_spool_read(es_change_spool *s, embsync_change *page, size_t max);

void es_spool_page_free(embsync_change *page, size_t n);

void es_spool_close(es_change_spool *s);

#endif
