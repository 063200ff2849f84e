/* faiss-local aliases (alias.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alias.h"

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int fl_alias_read(const char *path, char *out, size_t len)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISLNK(st.st_mode))
        return 0;
    ssize_t n = readlink(path, out, len - 1);
    if (n < 0)
        return -1;
    if ((size_t)n == len - 1 || memchr(out, '/', (size_t)n) != NULL ||
        n == 0 || out[0] == '.') {
        errno = EINVAL;  /* not a link this plugin made */
        return -1;
    }
    out[n] = '\0';
    return 1;
}

int fl_alias_point(const char *root, const char *entry,
                   const char *target_entry, const char *trash,
                   int *replaced_dir)
{
    char link_path[4352], new_path[4352];
    *replaced_dir = 0;
    snprintf(link_path, sizeof link_path, "%s/%s", root, entry);
    snprintf(new_path, sizeof new_path, "%s/%s%s", root, FL_ALIAS_NEW_PREFIX,
             entry);
    if ((unlink(new_path) != 0 && errno != ENOENT) ||
        symlink(target_entry, new_path) != 0)
        return -1;
    struct stat st;
    if (lstat(link_path, &st) == 0 && S_ISDIR(st.st_mode)) {
        /* rename(2) cannot put a link over a directory: move the plain
         * collection away and the link in, back to back. */
        if (rename(link_path, trash) != 0)
            return -1;
        *replaced_dir = 1;
    }
    if (rename(new_path, link_path) != 0)
        return -1;
    return fsync_dir(root);
}

int fl_alias_unlink(const char *root, const char *entry)
{
    char path[4352];
    snprintf(path, sizeof path, "%s/%s", root, entry);
    if (unlink(path) != 0 && errno != ENOENT)
        return -1;
    return fsync_dir(root);
}

int fl_alias_sweep(const char *root)
{
    DIR *d = opendir(root);
    if (d == NULL)
        return errno == ENOENT ? 0 : -1;
    int rc = 0, changed = 0;
    struct dirent *de;
    size_t plen = strlen(FL_ALIAS_NEW_PREFIX);
    char path[4352], name_path[4352];
    struct stat st;
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, FL_ALIAS_NEW_PREFIX, plen) != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", root, de->d_name);
        snprintf(name_path, sizeof name_path, "%s/%s", root, de->d_name + plen);
        if (lstat(name_path, &st) != 0 && errno == ENOENT) {
            if (rename(path, name_path) != 0)
                rc = -1;
        } else if (unlink(path) != 0) {
            rc = -1;
        }
        changed = 1;
    }
    closedir(d);
    if (changed && fsync_dir(root) != 0)
        rc = -1;
    return rc;
}
