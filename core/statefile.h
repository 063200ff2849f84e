/* Files in the state directory: safe names and crash-safe replacement. */
#ifndef ES_STATEFILE_H
#define ES_STATEFILE_H

#include <stddef.h>

/** Percent-encode name into a single safe path component (anything but
 *  [A-Za-z0-9_-] and a non-leading '.' is encoded).  Returns 0, or -1
 *  when out is too small. */
int es_path_component(const char *name, char *out, size_t outlen);

/** mkdir -p with mode 0700. */
int es_mkdirs(const char *path);

/** Replace `path` with `len` bytes so that a crash leaves the old or the
 *  new content, never a mix: temp file, fsync, rename, fsync directory. */
int es_write_atomic(const char *path, const void *data, size_t len);

/** Make the directory entry of `path` durable (fsync of its directory):
 *  a file just created, renamed or removed survives a crash only then.
 *  0, or -1 with errno. */
int es_sync_dir_of(const char *path);

/** Read a whole file (NUL-terminated); NULL with errno set on failure. */
char *es_read_all(const char *path, size_t *len);

#endif
