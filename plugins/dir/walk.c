#include "walk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The directories from the base down to the one being read. */
typedef struct ancestor {
    dev_t dev;
    ino_t ino;
    const struct ancestor *up;
} ancestor;

static int visible(const struct dirent *de)
{
    return de->d_name[0] != '.';
}

static int walk_dir(const char *base, const char *rel, const ancestor *up,
                    dir_walk_cb cb, void *arg, dir_walk_stats *stats,
                    char *err, size_t errlen)
{
    size_t plen = strlen(base) + strlen(rel) + 2;
    char *path = malloc(plen);
    if (path == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    snprintf(path, plen, "%s%s%s", base, *rel ? "/" : "", rel);
    struct dirent **names;
    int n = scandir(path, &names, visible, alphasort);
    if (n < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        free(path);
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        size_t clen = strlen(rel) + strlen(name) + 2;
        char *child_rel = rc == 0 ? malloc(clen) : NULL;
        struct stat st;
        if (rc == 0 && child_rel == NULL) {
            snprintf(err, errlen, "out of memory");
            rc = -1;
        }
        if (child_rel != NULL) {
            snprintf(child_rel, clen, "%s%s%s", rel, *rel ? "/" : "", name);
            char *child = malloc(strlen(base) + clen + 1);
            int got = child != NULL &&
                      (sprintf(child, "%s/%s", base, child_rel),
                       lstat(child, &st) == 0);
            free(child);
            if (!got) {
                /* Gone since it was listed: not an item any more. */
            } else if (S_ISLNK(st.st_mode)) {
                stats->links_skipped++;
            } else if (S_ISDIR(st.st_mode)) {
                int again = 0;
                for (const ancestor *a = up; a != NULL && !again; a = a->up)
                    again = a->dev == st.st_dev && a->ino == st.st_ino;
                if (again) {
                    stats->loops_skipped++;
                } else {
                    ancestor here = {st.st_dev, st.st_ino, up};
                    rc = walk_dir(base, child_rel, &here, cb, arg, stats, err,
                                  errlen);
                }
            } else if (S_ISREG(st.st_mode)) {
                rc = cb(arg, child_rel, name, &st);
            }
        }
        free(child_rel);
        free(names[i]);
    }
    free(names);
    free(path);
    return rc;
}

int dir_walk(const char *base, dir_walk_cb cb, void *arg, dir_walk_stats *stats,
             char *err, size_t errlen)
{
    memset(stats, 0, sizeof *stats);
    struct stat st;
    if (stat(base, &st) != 0) {
        snprintf(err, errlen, "%s: %s", base, strerror(errno));
        return -1;
    }
    ancestor top = {st.st_dev, st.st_ino, NULL};
    return walk_dir(base, "", &top, cb, arg, stats, err, errlen);
}
