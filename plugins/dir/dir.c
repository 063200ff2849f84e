/* dir: the embedded default source.  Each top-level folder of `root` is a
 * collection, deeper folders are its datasets, each image file an item.
 * Changes are found from size and modification time against the applied
 * state: what the store confirmed (applied.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <stb_ds.h>
#include <xxhash.h>

#include <embsync/plugin.h>

#include "applied.h"
#include "walk.h"

#define PAGE 256
#define MAX_EXTENSIONS 16

typedef struct id_set_entry {
    uint64_t key;
    char value;
} id_set_entry;

/* One collection's run: begin() to end(). */
typedef struct dir_run {
    char *name;
    int lock_fd;
    dir_applied_state applied;
    pthread_mutex_t lock;  /* changes(), fetch(), ack() overlap */
    /* exists() of ids without a ref: the ids of the collection's files,
     * walked once per run when first needed (reconciliation asks about a
     * store's ids a page at a time). */
    id_set_entry *id_set;  /* stb_ds hash map used as a set */
    int have_id_set;
} dir_run;

typedef struct dir_source {
    const embsync_host *host;
    embsync_ctx *ctx;
    const char *root;
    const char *state;
    char extensions[MAX_EXTENSIONS][16];
    size_t n_extensions;
    dir_run **runs;        /* stb_ds array of the runs begun; one or two */
} dir_source;

static const embsync_config_key keys[] = {
    {"root", EMBSYNC_KEY_STRING, NULL, EMBSYNC_KEY_REQUIRED,
     "folder whose top-level subfolders are the collections"},
    {"extensions", EMBSYNC_KEY_STRING, "jpg,jpeg,png", 0,
     "comma-separated file extensions that are items (case-insensitive)"},
    {NULL, 0, NULL, 0, NULL},
};

/* ---- helpers ----------------------------------------------------------- */

/* Stable across runs and machines: a hash of the path in the collection. */
static uint64_t dir_item_id(const char *relpath)
{
    return XXH3_64bits(relpath, strlen(relpath));
}

static int wanted(const dir_source *s, const char *name)
{
    const char *dot = strrchr(name, '.');
    if (dot == NULL || name[0] == '.')
        return 0;
    for (size_t i = 0; i < s->n_extensions; i++)
        if (strcasecmp(dot + 1, s->extensions[i]) == 0)
            return 1;
    return 0;
}

static int64_t mtime_ns(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

static char *encode_name(const char *name)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = malloc(strlen(name) * 3 + 1), *o = out;
    if (out == NULL)
        return NULL;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
            (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' ||
            (*p == '.' && p != (const unsigned char *)name)) {
            *o++ = (char)*p;
        } else {
            *o++ = '%';
            *o++ = hex[*p >> 4];
            *o++ = hex[*p & 15];
        }
    }
    *o = '\0';
    return out;
}

static dir_run *find_run(dir_source *s, const char *name)
{
    for (ptrdiff_t i = 0; i < arrlen(s->runs); i++)
        if (strcmp(s->runs[i]->name, name) == 0)
            return s->runs[i];
    s->host->set_error(s->ctx, "collection %s: no begin() before this call",
                       name);
    return NULL;
}

static char *join(const char *a, const char *b, const char *c)
{
    size_t n = strlen(a) + strlen(b) + (c ? strlen(c) : 0) + 3;
    char *out = malloc(n);
    if (out != NULL)
        snprintf(out, n, "%s/%s%s%s", a, b, c ? "/" : "", c ? c : "");
    return out;
}

static void run_free(dir_run *r)
{
    hmfree(r->id_set);
    dir_applied_free(&r->applied);
    if (r->lock_fd >= 0)
        close(r->lock_fd); /* releases the flock */
    pthread_mutex_destroy(&r->lock);
    free(r->name);
    free(r);
}

/* ---- open / close / check ---------------------------------------------- */

static int dir_open(const embsync_host *host, embsync_ctx *ctx, void **state)
{
    if (!EMBSYNC_HOST_HAS(host, state_write)) {
        host->set_error(ctx, "needs a host with state_write (ABI 1.2)");
        return EMBSYNC_FATAL;
    }
    dir_source *s = calloc(1, sizeof *s);
    if (s == NULL)
        return EMBSYNC_FATAL;
    s->host = host;
    s->ctx = ctx;
    s->root = host->config_get(ctx, "root");
    s->state = host->state_dir(ctx);
    const char *ext = host->config_get(ctx, "extensions");
    while (ext != NULL && *ext != '\0' && s->n_extensions < MAX_EXTENSIONS) {
        size_t len = strcspn(ext, ",");
        while (len > 0 && (*ext == ' ' || *ext == '.'))
            ext++, len--;
        if (len > 0 && len < sizeof s->extensions[0]) {
            memcpy(s->extensions[s->n_extensions], ext, len);
            s->extensions[s->n_extensions][len] = '\0';
            char *end = s->extensions[s->n_extensions] + len - 1;
            while (end > s->extensions[s->n_extensions] && *end == ' ')
                *end-- = '\0';
            s->n_extensions++;
        }
        ext += len + (ext[len] == ',');
    }
    struct stat st;
    if (s->root == NULL || stat(s->root, &st) != 0 || !S_ISDIR(st.st_mode)) {
        host->set_error(ctx, "root %s is not a readable folder: %s",
                        s->root ? s->root : "(unset)",
                        s->root ? strerror(errno ? errno : ENOTDIR) : "");
        free(s);
        return EMBSYNC_FATAL;
    }
    if (s->state == NULL || s->n_extensions == 0) {
        host->set_error(ctx, s->state ? "no extensions given" : "no state directory");
        free(s);
        return EMBSYNC_FATAL;
    }
    *state = s;
    return EMBSYNC_OK;
}

static void dir_close(void *state)
{
    dir_source *s = state;
    if (s == NULL)
        return;
    for (ptrdiff_t i = 0; i < arrlen(s->runs); i++)
        run_free(s->runs[i]);
    arrfree(s->runs);
    free(s);
}

static int dir_check(void *state)
{
    dir_source *s = state;
    if (access(s->root, R_OK | X_OK) != 0) {
        s->host->set_error(s->ctx, "%s: %s", s->root, strerror(errno));
        return EMBSYNC_RETRY;
    }
    return EMBSYNC_OK;
}

/* ---- collections ---------------------------------------------------------- */

static int is_visible_dir(const struct dirent *de)
{
    return de->d_name[0] != '.';
}

static int dir_list(void *state, embsync_collection_cb cb, void *arg)
{
    dir_source *s = state;
    struct dirent **names;
    int n = scandir(s->root, &names, is_visible_dir, alphasort);
    if (n < 0) {
        s->host->set_error(s->ctx, "%s: %s", s->root, strerror(errno));
        return EMBSYNC_RETRY;
    }
    int stop = 0;
    for (int i = 0; i < n; i++) {
        char *path = join(s->root, names[i]->d_name, NULL);
        struct stat st;
        /* lstat: a linked folder is not followed, like links below. */
        if (!stop && path != NULL && lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
            stop = cb(arg, names[i]->d_name);
        free(path);
        free(names[i]);
    }
    free(names);
    return EMBSYNC_OK;
}

static int dir_begin(void *state, const char *name)
{
    dir_source *s = state;
    char *file = encode_name(name);
    char *base = file ? join(s->state, file, NULL) : NULL;
    char *lock_file = base ? malloc(strlen(base) + 6) : NULL;
    dir_run *r = calloc(1, sizeof *r);
    int rc = EMBSYNC_FAILED;
    if (lock_file == NULL || r == NULL || (r->name = strdup(name)) == NULL) {
        s->host->set_error(s->ctx, "out of memory");
        free(r);
        r = NULL;
        goto out;
    }
    pthread_mutex_init(&r->lock, NULL);
    r->applied.journal_fd = -1;
    sprintf(lock_file, "%s.lock", base);
    /* Two daemons on one state directory: the second one skips. */
    r->lock_fd = open(lock_file, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (r->lock_fd < 0 || flock(r->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        if (r->lock_fd >= 0 && errno == EWOULDBLOCK)
            rc = EMBSYNC_SKIP;
        else
            s->host->set_error(s->ctx, "%s: %s", lock_file, strerror(errno));
        goto out;
    }
    char err[512];
    if (dir_applied_load(&r->applied, s->host, s->ctx, file, err, sizeof err) != 0) {
        s->host->set_error(s->ctx, "collection %s: %s", name, err);
        goto out;
    }
    arrput(s->runs, r);
    r = NULL;
    rc = EMBSYNC_OK;
out:
    if (r != NULL)
        run_free(r);
    free(file);
    free(base);
    free(lock_file);
    return rc;
}

static int dir_end(void *state, const char *name, int run_status)
{
    (void)run_status;
    dir_source *s = state;
    for (ptrdiff_t i = 0; i < arrlen(s->runs); i++) {
        dir_run *r = s->runs[i];
        if (strcmp(r->name, name) != 0)
            continue;
        char err[512];
        int rc = dir_applied_fold(&r->applied, err, sizeof err);
        if (rc != 0)
            s->host->set_error(s->ctx, "collection %s: %s", name, err);
        arrdel(s->runs, i);
        run_free(r);
        return rc == 0 ? EMBSYNC_OK : EMBSYNC_FAILED;
    }
    return EMBSYNC_OK;
}

static int dir_reset(void *state, const char *name)
{
    dir_source *s = state;
    dir_run *r = find_run(s, name);
    if (r == NULL)
        return EMBSYNC_FAILED;
    pthread_mutex_lock(&r->lock);
    int rc = dir_applied_reset(&r->applied);
    pthread_mutex_unlock(&r->lock);
    return rc == 0 ? EMBSYNC_OK : EMBSYNC_FAILED;
}

/* ---- changes ------------------------------------------------------------ */

typedef struct page {
    embsync_change items[PAGE];
    char *strings[PAGE][3];
    size_t n;
    uint64_t counted;   /* a walk without a sink only counts */
} page;

static void page_clear(page *p)
{
    for (size_t i = 0; i < p->n; i++)
        for (int k = 0; k < 3; k++)
            free(p->strings[i][k]);
    p->n = 0;
}

static int page_flush(page *p, embsync_change_sink *sink)
{
    int rc = p->n > 0 ? sink->emit(sink, p->items, p->n) : EMBSYNC_OK;
    page_clear(p);
    return rc;
}

static char *payload_json(const char *relpath, const struct stat *st)
{
    cJSON *o = cJSON_CreateObject();
    const char *slash = strrchr(relpath, '/');
    char *dataset = strndup(relpath, slash ? (size_t)(slash - relpath) : 0);
    cJSON_AddStringToObject(o, "path", relpath);
    cJSON_AddStringToObject(o, "dataset", dataset ? dataset : "");
    cJSON_AddNumberToObject(o, "size", (double)st->st_size);
    cJSON_AddNumberToObject(o, "mtime", (double)st->st_mtim.tv_sec);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    free(dataset);
    return text;
}

static int add_change(page *p, embsync_change_sink *sink, int op,
                      const char *relpath, const struct stat *st)
{
    size_t i = p->n;
    p->strings[i][0] = strdup(relpath);
    p->strings[i][1] = NULL;
    p->strings[i][2] = NULL;
    if (op == EMBSYNC_OP_UPSERT) {
        char version[64];
        snprintf(version, sizeof version, "%" PRIu64 ":%" PRId64,
                 (uint64_t)st->st_size, mtime_ns(st));
        p->strings[i][1] = strdup(version);
        p->strings[i][2] = payload_json(relpath, st);
    }
    p->items[i] = (embsync_change){
        .abi = EMBSYNC_ABI_INIT(embsync_change),
        .id = dir_item_id(relpath),
        .op = op,
        .ref = p->strings[i][0],
        .version = p->strings[i][1],
        .payload = p->strings[i][2],
    };
    p->n++;
    return p->n == PAGE ? page_flush(p, sink) : EMBSYNC_OK;
}

/* What the walk of changes() needs in its callback. */
typedef struct change_walk {
    dir_source *s;
    dir_run *r;
    page *p;
    embsync_change_sink *sink;
} change_walk;

static int change_seen(void *arg, const char *relpath, const char *name,
                       const struct stat *st)
{
    change_walk *w = arg;
    if (!wanted(w->s, name))
        return EMBSYNC_OK;
    pthread_mutex_lock(&w->r->lock);
    dir_entry *e = shgetp_null(w->r->applied.map, relpath);
    dir_applied *a = e != NULL ? &e->value : NULL;
    int changed = a == NULL || a->size != (uint64_t)st->st_size ||
                  a->mtime_ns != mtime_ns(st);
    if (a != NULL)
        a->seen = 1;
    pthread_mutex_unlock(&w->r->lock);
    if (!changed)
        return EMBSYNC_OK;
    if (w->sink == NULL) { /* the counting walk */
        w->p->counted++;
        return EMBSYNC_OK;
    }
    return add_change(w->p, w->sink, EMBSYNC_OP_UPSERT, relpath, st);
}

/* Once per walk, not once per link: a folder of links would flood the log. */
static void report_skipped(dir_source *s, const char *name,
                           const dir_walk_stats *st)
{
    if (st->links_skipped > 0)
        s->host->log(s->ctx, EMBSYNC_LOG_INFO,
                     "collection %s: skipped %zu symbolic link(s): links are "
                     "not followed (one can loop or lead out of the root)",
                     name, st->links_skipped);
    if (st->loops_skipped > 0)
        s->host->log(s->ctx, EMBSYNC_LOG_WARNING,
                     "collection %s: skipped %zu folder(s) met again inside "
                     "themselves (a mount loop)",
                     name, st->loops_skipped);
}

static int dir_changes(void *state, const char *name, embsync_change_sink *sink)
{
    dir_source *s = state;
    dir_run *r = find_run(s, name);
    if (r == NULL)
        return EMBSYNC_FAILED;
    page *p = calloc(1, sizeof *p);
    char *base = join(s->root, name, NULL);
    if (p == NULL || base == NULL) {
        free(p);
        free(base);
        s->host->set_error(s->ctx, "out of memory");
        return EMBSYNC_FAILED;
    }
    pthread_mutex_lock(&r->lock);
    for (ptrdiff_t i = 0; i < shlen(r->applied.map); i++)
        r->applied.map[i].value.seen = 0;
    pthread_mutex_unlock(&r->lock);

    /* A first walk only counts (stat() again is cheap next to embedding),
     * so progress can say done/total. */
    change_walk w = {.s = s, .r = r, .p = p, .sink = NULL};
    dir_walk_stats stats;
    char err[512];
    int rc = dir_walk(base, change_seen, &w, &stats, err, sizeof err);
    if (rc == EMBSYNC_OK && sink->set_total != NULL) {
        uint64_t total = p->counted;
        pthread_mutex_lock(&r->lock);
        for (ptrdiff_t i = 0; i < shlen(r->applied.map); i++)
            total += !r->applied.map[i].value.seen;
        pthread_mutex_unlock(&r->lock);
        sink->set_total(sink, total);
    }
    if (rc == EMBSYNC_OK) {
        w.sink = sink;
        rc = dir_walk(base, change_seen, &w, &stats, err, sizeof err);
    }
    if (rc < 0) {
        s->host->set_error(s->ctx, "%s", err);
        rc = EMBSYNC_RETRY;
    }
    report_skipped(s, name, &stats);
    if (rc == EMBSYNC_OK)
        rc = page_flush(p, sink);
    /* What the applied state has and the walk did not meet was deleted.  Collect
     * the paths first: emit() may block while ack() changes the map. */
    char **gone = NULL;
    if (rc == EMBSYNC_OK) {
        pthread_mutex_lock(&r->lock);
        for (ptrdiff_t i = 0; i < shlen(r->applied.map); i++)
            if (!r->applied.map[i].value.seen)
                arrput(gone, strdup(r->applied.map[i].key));
        pthread_mutex_unlock(&r->lock);
    }
    for (ptrdiff_t i = 0; i < arrlen(gone); i++) {
        if (rc == EMBSYNC_OK && gone[i] != NULL)
            rc = add_change(p, sink, EMBSYNC_OP_DELETE, gone[i], NULL);
        free(gone[i]);
    }
    arrfree(gone);
    if (rc == EMBSYNC_OK)
        rc = page_flush(p, sink);
    page_clear(p);
    free(p);
    free(base);
    return rc;
}

/* ---- fetch and ack --------------------------------------------------------- */

static int dir_fetch(void *state, const char *name, size_t n,
                     const embsync_change *items, embsync_blob *out, int *status)
{
    dir_source *s = state;
    for (size_t i = 0; i < n; i++) {
        char *path = join(s->root, name, items[i].ref);
        FILE *fp = path ? fopen(path, "rb") : NULL;
        status[i] = EMBSYNC_ITEM_FAILED;
        if (fp == NULL) {
            s->host->set_item_error(s->ctx, i, "%s: %s", items[i].ref,
                                    strerror(errno ? errno : ENOMEM));
            free(path);
            continue;
        }
        struct stat st;
        unsigned char *data = NULL;
        if (fstat(fileno(fp), &st) == 0 &&
            (data = s->host->blob_alloc(&out[i], (size_t)st.st_size)) != NULL &&
            fread(data, 1, (size_t)st.st_size, fp) == (size_t)st.st_size) {
            out[i].mime = NULL;
            status[i] = EMBSYNC_OK;
        } else {
            s->host->set_item_error(s->ctx, i, "%s: cannot read: %s",
                                    items[i].ref, strerror(errno ? errno : EIO));
        }
        fclose(fp);
        free(path);
    }
    return EMBSYNC_OK;
}

static int dir_ack(void *state, const char *name, size_t n,
                   const embsync_change *done)
{
    dir_source *s = state;
    dir_run *r = find_run(s, name);
    if (r == NULL)
        return EMBSYNC_FAILED;
    const char **paths = malloc(n * sizeof *paths);
    uint64_t *sizes = malloc(n * sizeof *sizes);
    int64_t *mtimes = malloc(n * sizeof *mtimes);
    int rc = EMBSYNC_OK;
    if (paths == NULL || sizes == NULL || mtimes == NULL) {
        s->host->set_error(s->ctx, "out of memory");
        rc = EMBSYNC_FAILED;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        paths[i] = done[i].ref;
        mtimes[i] = 0;
        sizes[i] = DIR_DELETED;
        /* Record the version that was fetched, not what is on disk now:
         * a file changed since stays pending. */
        if (done[i].op == EMBSYNC_OP_UPSERT &&
            (done[i].version == NULL ||
             sscanf(done[i].version, "%" SCNu64 ":%" SCNd64, &sizes[i],
                    &mtimes[i]) != 2)) {
            s->host->set_error(s->ctx, "item %s: bad version token", done[i].ref);
            rc = EMBSYNC_FAILED;
            goto out;
        }
    }
    char err[512];
    pthread_mutex_lock(&r->lock);
    if (dir_applied_record(&r->applied, n, paths, sizes, mtimes, err, sizeof err) != 0) {
        s->host->set_error(s->ctx, "collection %s: %s", name, err);
        rc = EMBSYNC_FAILED;
    }
    pthread_mutex_unlock(&r->lock);
out:
    free(paths);
    free(sizes);
    free(mtimes);
    return rc;
}

/* ---- exists ---------------------------------------------------------------- */

/* Is `ref` an item of the collection whose folder is `real_base` (already
 * free of links): a visible regular image file reached without a link? */
static int ref_is_item(const dir_source *s, const char *real_base,
                       const char *ref)
{
    if (*ref == '\0' || *ref == '/' || strstr(ref, "//") != NULL ||
        ref[strlen(ref) - 1] == '/')
        return 0;
    /* No "." or ".." and no hidden part: the walk would not meet it. */
    for (const char *part = ref; part != NULL;
         part = strchr(part, '/') ? strchr(part, '/') + 1 : NULL)
        if (*part == '.')
            return 0;
    const char *name = strrchr(ref, '/');
    if (!wanted(s, name != NULL ? name + 1 : ref))
        return 0;
    char *path = join(real_base, ref, NULL);
    struct stat st;
    char *real = path != NULL && lstat(path, &st) == 0 && S_ISREG(st.st_mode)
                     ? realpath(path, NULL)
                     : NULL;
    /* A link anywhere on the way would make the real path differ. */
    int inside = real != NULL && strcmp(real, path) == 0;
    free(real);
    free(path);
    return inside;
}

typedef struct id_walk {
    const dir_source *s;
    id_set_entry *set;     /* stb_ds hash map used as a set */
} id_walk;

static int collect_id(void *arg, const char *relpath, const char *name,
                      const struct stat *st)
{
    (void)st;
    id_walk *w = arg;
    if (wanted(w->s, name))
        hmput(w->set, dir_item_id(relpath), 1);
    return 0;
}

static int dir_exists(void *state, const char *name, size_t n,
                      const embsync_change *items, int *present)
{
    dir_source *s = state;
    char *base = join(s->root, name, NULL);
    char *real_base = base != NULL ? realpath(base, NULL) : NULL;
    if (real_base == NULL) {
        int gone = base != NULL && (errno == ENOENT || errno == ENOTDIR);
        if (!gone)
            s->host->set_error(s->ctx, "%s: %s", base ? base : name,
                               base ? strerror(errno) : "out of memory");
        free(base);
        /* No folder, no items. */
        for (size_t i = 0; gone && i < n; i++)
            present[i] = 0;
        return gone ? EMBSYNC_OK : EMBSYNC_RETRY;
    }
    dir_run *r = NULL;
    for (ptrdiff_t i = 0; i < arrlen(s->runs); i++)
        if (strcmp(s->runs[i]->name, name) == 0)
            r = s->runs[i];
    size_t unknown = 0;
    for (size_t i = 0; i < n; i++) {
        const char *ref = items[i].ref;
        /* Without a ref (an id read back from the store), the applied
         * state knows the path of every item acknowledged so far. */
        if (ref == NULL && r != NULL && !r->have_id_set) {
            pthread_mutex_lock(&r->lock);
            for (ptrdiff_t k = 0; ref == NULL && k < shlen(r->applied.map); k++)
                if (dir_item_id(r->applied.map[k].key) == items[i].id)
                    ref = r->applied.map[k].key;
            pthread_mutex_unlock(&r->lock);
        }
        if (ref != NULL) {
            present[i] = dir_item_id(ref) == items[i].id &&
                         ref_is_item(s, real_base, ref);
        } else {
            present[i] = -1;
            unknown++;
        }
    }
    int rc = EMBSYNC_OK;
    if (unknown > 0) {
        /* An id is a hash of the path: it cannot be turned back into one,
         * so only a walk can say whether some file of the folder has it.
         * One walk answers every such id of the run (or of the call, outside
         * a run). */
        id_walk w = {.s = s};
        if (r != NULL && r->have_id_set) {
            w.set = r->id_set;
        } else {
            dir_walk_stats stats;
            char err[512];
            if (dir_walk(real_base, collect_id, &w, &stats, err, sizeof err) != 0) {
                s->host->set_error(s->ctx, "%s", err);
                rc = EMBSYNC_RETRY;
            }
        }
        for (size_t i = 0; rc == EMBSYNC_OK && i < n; i++)
            if (present[i] < 0)
                present[i] = hmgeti(w.set, items[i].id) >= 0;
        if (rc == EMBSYNC_OK && r != NULL && !r->have_id_set) {
            r->id_set = w.set;
            r->have_id_set = 1;
        } else if (r == NULL || w.set != r->id_set) {
            hmfree(w.set);
        }
    }
    free(real_base);
    free(base);
    return rc;
}

/* ---- items ------------------------------------------------------------------ */

typedef struct item_walk {
    dir_source *s;
    page *p;
    embsync_change_sink *sink;
} item_walk;

static int item_seen(void *arg, const char *relpath, const char *name,
                     const struct stat *st)
{
    item_walk *w = arg;
    return wanted(w->s, name)
               ? add_change(w->p, w->sink, EMBSYNC_OP_UPSERT, relpath, st)
               : EMBSYNC_OK;
}

/* Every current image, whatever the applied state says; nothing changes. */
static int dir_items(void *state, const char *name, embsync_change_sink *sink)
{
    dir_source *s = state;
    if (find_run(s, name) == NULL)
        return EMBSYNC_FAILED;
    page *p = calloc(1, sizeof *p);
    char *base = join(s->root, name, NULL);
    if (p == NULL || base == NULL) {
        s->host->set_error(s->ctx, "out of memory");
        free(p);
        free(base);
        return EMBSYNC_FAILED;
    }
    item_walk w = {.s = s, .p = p, .sink = sink};
    dir_walk_stats stats;
    char err[512];
    int rc = dir_walk(base, item_seen, &w, &stats, err, sizeof err);
    if (rc < 0) {
        s->host->set_error(s->ctx, "%s", err);
        rc = EMBSYNC_RETRY;
    }
    if (rc == EMBSYNC_OK)
        rc = page_flush(p, sink);
    page_clear(p);
    free(p);
    free(base);
    return rc;
}

static const embsync_source_ops ops = {
    .abi = EMBSYNC_ABI_INIT(embsync_source_ops),
    .open = dir_open,
    .close = dir_close,
    .check = dir_check,
    .list_collections = dir_list,
    .begin = dir_begin,
    .changes = dir_changes,
    .fetch = dir_fetch,
    .ack = dir_ack,
    .reset = dir_reset,
    .end = dir_end,
    .exists = dir_exists,
    .items = dir_items,
};

static const embsync_plugin descriptor = {
    .abi = EMBSYNC_ABI_INIT(embsync_plugin),
    .kind = EMBSYNC_KIND_SOURCE,
    .name = "dir",
    .version = "1.0",
    .description = "a local folder: top-level subfolders are collections",
    .config_keys = keys,
    .config_key_size = sizeof keys[0],
    .ops = &ops,
};

EMBSYNC_PLUGIN_ENTRY(descriptor)
