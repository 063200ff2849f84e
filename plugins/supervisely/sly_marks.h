/* What the supervisely source keeps on disk between runs: per-project marks
 * in its state directory, and the original service's autorestart record. */
#ifndef SLY_MARKS_H
#define SLY_MARKS_H

#include <stdint.h>

#include "sly_api.h"

/* The kinds of mark, one file each per project. */
#define SLY_MARK_INFLIGHT "inflight" /* a run of ours is under way */
#define SLY_MARK_RESET "reset"       /* the store was rebuilt: list everything */
#define SLY_MARK_STARTED "started"   /* stamp of the first run of a project
                                        never stamped yet (its text) */

/** Set a mark durably (host->state_write: temp file, fsync, rename,
 *  directory fsync): once this returns 0 a crash cannot lose it.  -1 on
 *  failure.  Marks live in the instance's state directory. */
int sly_mark_set(const sly_api *api, const char *kind, int64_t project);

/** Set a mark holding `text`, as durably as sly_mark_set(). */
int sly_mark_write(const sly_api *api, const char *kind, int64_t project,
                   const char *text);

/** The text of a mark (caller frees), or NULL when it is not set. */
char *sly_mark_read(const sly_api *api, const char *kind, int64_t project);

/** 1 when the mark is set, else 0. */
int sly_mark_isset(const sly_api *api, const char *kind, int64_t project);

/** Remove a mark. */
void sly_mark_clear(const sly_api *api, const char *kind, int64_t project);

/** The project id the autorestart record at `path` names
 *  ({"project_id": N}), or 0 when the file is missing, empty ({}), or not
 *  such an object (the original treats all of these as "nothing"). */
int64_t sly_autorestart_read(const char *path);

/** Reset the record to {} as the original does (it never deletes it);
 *  a missing file is left missing.  Returns 0, or -1 on failure. */
int sly_autorestart_clear(const char *path);

#endif
