/* What the dir source has applied for one collection: for each relative
 * path, the size and modification time whose vector the store confirmed.
 *
 * (Not the core's failed-items ledger: this is the dir source's own record
 * of what it has applied.)
 *
 * On disk: `<name>.ledger` (the folded state, replaced atomically through
 * host->state_write; the suffix predates the name "applied state" and stays,
 * as renaming it would need a migration of existing state directories) and
 * `<name>.journal` (acknowledgements since, appended and fsynced each
 * time).  Loading reads both; folding happens at the end of each run. */
#ifndef DIR_APPLIED_H
#define DIR_APPLIED_H

#include <stddef.h>
#include <stdint.h>

#include <embsync/plugin.h>

typedef struct dir_applied {
    uint64_t size;
    int64_t mtime_ns;
    int seen;            /* met during the current walk */
} dir_applied;

typedef struct dir_entry {
    char *key;           /* relative path (stb_ds string map) */
    dir_applied value;
} dir_entry;

typedef struct dir_applied_state {
    char *state_path, *journal_path;
    const char *state_name;  /* the last component of state_path */
    const embsync_host *host;
    embsync_ctx *ctx;
    dir_entry *map;      /* stb_ds sh map */
    int journal_fd;
} dir_applied_state;

/** Load the applied state kept in the instance's state directory for the
 *  encoded collection name `file`. */
int dir_applied_load(dir_applied_state *l, const embsync_host *host,
                     embsync_ctx *ctx, const char *file, char *err,
                     size_t errlen);

/** Record applied upserts (size/mtime) or deletions (size = UINT64_MAX),
 *  durably (journal append + fsync) before updating the map. */
int dir_applied_record(dir_applied_state *l, size_t n, const char *const *paths,
                      const uint64_t *sizes, const int64_t *mtimes,
                      char *err, size_t errlen);

/** Fold the journal into the `.ledger` file (host->state_write: temp,
 *  fsync, rename, directory fsync). */
int dir_applied_fold(dir_applied_state *l, char *err, size_t errlen);

/** Forget everything, on disk too. */
int dir_applied_reset(dir_applied_state *l);

void dir_applied_free(dir_applied_state *l);

#define DIR_DELETED UINT64_MAX

#endif
