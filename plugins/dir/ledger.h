/* What the dir source has applied for one collection: for each relative
 * path, the size and modification time whose vector the store confirmed.
 *
 * On disk: `<name>.ledger` (the folded state, replaced atomically) and
 * `<name>.journal` (acknowledgements since, appended and fsynced each
 * time).  Loading reads both; folding happens at the end of each run. */
#ifndef DIR_LEDGER_H
#define DIR_LEDGER_H

#include <stddef.h>
#include <stdint.h>

typedef struct dir_applied {
    uint64_t size;
    int64_t mtime_ns;
    int seen;            /* met during the current walk */
} dir_applied;

typedef struct dir_entry {
    char *key;           /* relative path (stb_ds string map) */
    dir_applied value;
} dir_entry;

typedef struct dir_ledger {
    char *ledger_path, *journal_path;
    dir_entry *map;      /* stb_ds sh map */
    int journal_fd;
} dir_ledger;

/** Load the ledger in `dir` for the encoded collection name `file`. */
int dir_ledger_load(dir_ledger *l, const char *dir, const char *file,
                    char *err, size_t errlen);

/** Record applied upserts (size/mtime) or deletions (size = UINT64_MAX),
 *  durably (journal append + fsync) before updating the map. */
int dir_ledger_record(dir_ledger *l, size_t n, const char *const *paths,
                      const uint64_t *sizes, const int64_t *mtimes,
                      char *err, size_t errlen);

/** Fold the journal into the ledger file (temp, fsync, rename). */
int dir_ledger_fold(dir_ledger *l, char *err, size_t errlen);

/** Forget everything, on disk too. */
int dir_ledger_reset(dir_ledger *l);

void dir_ledger_free(dir_ledger *l);

#define DIR_DELETED UINT64_MAX

#endif
