/* The physical walk of a collection's folder: every regular file under it,
 * in sorted order, without following a symbolic link (a link can loop or
 * lead out of the root) and without entering a directory twice (a bind
 * mount can loop too).  Names starting with a dot are not items. */
#ifndef DIR_WALK_H
#define DIR_WALK_H

#include <stddef.h>
#include <sys/stat.h>

/** Called for each regular file: relpath is relative to the walked
 *  folder ("dataset/a.png"), name its last component; both borrowed.
 *  Returns 0 to go on; anything else stops the walk and is returned. */
typedef int (*dir_walk_cb)(void *arg, const char *relpath, const char *name,
                           const struct stat *st);

typedef struct dir_walk_stats {
    size_t links_skipped;   /* symbolic links met and not followed */
    size_t loops_skipped;   /* directories met again below themselves */
} dir_walk_stats;

/** Walk `base`.  Returns 0, the callback's non-zero value, or -1 with the
 *  reason in err when a folder cannot be read. */
int dir_walk(const char *base, dir_walk_cb cb, void *arg, dir_walk_stats *stats,
             char *err, size_t errlen);

#endif
