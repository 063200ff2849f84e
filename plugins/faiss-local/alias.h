/* faiss-local aliases: a collection name that is a symbolic link, in the
 * state directory, to the directory of another collection beside it (the
 * link's text is that directory's name, never a path).  Repointing is a
 * rename(2) of a new link over the old one: atomic, so a reader opens the
 * old collection or the new one, never neither. */
#ifndef FL_ALIAS_H
#define FL_ALIAS_H

#include <stddef.h>

/* Name prefix of a link made beside `name` and not yet renamed over it. */
#define FL_ALIAS_NEW_PREFIX ".alias-new-"

/** The directory name `path` (root/entry) links to, into out: 1 when path
 *  is an alias link, 0 when it is not (a directory or nothing), -1 on
 *  error (errno set). */
int fl_alias_read(const char *path, char *out, size_t len);

/** Make root/entry a link to root/target_entry in one rename(2) over
 *  whatever link is there.  When root/entry is a plain directory, it is
 *  first renamed to trash (a name fl_collection_sweep() deletes) and the
 *  link put in its place right after; *replaced_dir says so.  Durable
 *  (the directory is fsynced) when it returns 0; -1 with errno set. */
int fl_alias_point(const char *root, const char *entry,
                   const char *target_entry, const char *trash,
                   int *replaced_dir);

/** Remove the link root/entry (not what it points to), durably. */
int fl_alias_unlink(const char *root, const char *entry);

/** Finish the switches a crash cut short in root: a new link whose name is
 *  free takes it (its target was complete before the link was made);
 *  one whose name is taken again is removed. */
int fl_alias_sweep(const char *root);

#endif
