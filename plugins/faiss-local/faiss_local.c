/* faiss-local: the embedded default store.  One FAISS index per collection
 * in the plugin's state directory, persisted crash-safely (collection.h). */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>

#include <embsync/plugin.h>

#include "alias.h"
#include "collection.h"
#include "id_list.h"

#define MAX_OPEN 64

typedef struct faiss_local {
    const embsync_host *host;
    embsync_ctx *ctx;
    const char *root;
    double compact_ratio;
    int durable;
    uint64_t ivf_threshold;
    size_t nprobe;
    /* Open collections, by name; a handful per deployment. */
    struct {
        char *name;
        fl_collection *c;
    } open[MAX_OPEN];
    size_t n_open;
} faiss_local;

static const embsync_config_key keys[] = {
    {"compact_ratio", EMBSYNC_KEY_DOUBLE, "1.0", 0,
     "rewrite a collection's snapshot when its log exceeds this multiple of it"},
    {"ivf_threshold", EMBSYNC_KEY_INT, "20000", 0,
     "points from which a collection is searched through an IVF index "
     "(k-means cells, built at compaction) instead of an exact scan; 0 = always exact"},
    {"nprobe", EMBSYNC_KEY_INT, "16", 0,
     "IVF cells a search reads: more is slower and nearer to exact"},
    {"fsync", EMBSYNC_KEY_BOOL, "true", 0,
     "fsync every change (false only for throwaway benchmarks: a crash can lose acknowledged data)"},
    {NULL, 0, NULL, 0, NULL},
};

/* Collection names come from sources: keep them to one safe path part. */
static int dir_of(const faiss_local *f, const char *name, char *out, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = (size_t)snprintf(out, len, "%s/", f->root);
    if (*name == '\0')
        return -1;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        int plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                    (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' ||
                    (*p == '.' && p != (const unsigned char *)name);
        if (o + 4 >= len)
            return -1;
        if (plain) {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    out[o] = '\0';
    return 0;
}

/* dir_of()'s encoding undone: the collection name of a directory name. */
static void name_of(const char *entry, char *out, size_t len)
{
    size_t o = 0;
    for (const char *p = entry; *p && o + 1 < len; p++) {
        unsigned hi, lo;
        if (p[0] == '%' && p[1] && p[2] && sscanf(p + 1, "%1x%1x", &hi, &lo) == 2) {
            out[o++] = (char)(hi << 4 | lo);
            p += 2;
        } else {
            out[o++] = *p;
        }
    }
    out[o] = '\0';
}

/* The collection `name` means: the one its alias link points to, else
 * `name`.  Every operation works on that one, so an alias and its target
 * share one open collection (one writer of its files), and a repointed
 * alias finds the new target at its next call. */
static const char *concrete(faiss_local *f, const char *name, char *buf,
                            size_t len)
{
    char dir[4096], entry[1024];
    if (dir_of(f, name, dir, sizeof dir) != 0 ||
        fl_alias_read(dir, entry, sizeof entry) != 1)
        return name;
    name_of(entry, buf, len);
    return buf;
}

static fl_collection *find_open(faiss_local *f, const char *name)
{
    for (size_t i = 0; i < f->n_open; i++)
        if (strcmp(f->open[i].name, name) == 0)
            return f->open[i].c;
    return NULL;
}

static void forget(faiss_local *f, const char *name)
{
    for (size_t i = 0; i < f->n_open; i++) {
        if (strcmp(f->open[i].name, name) == 0) {
            fl_collection_close(f->open[i].c);
            free(f->open[i].name);
            f->open[i] = f->open[--f->n_open];
            return;
        }
    }
}

static int remember(faiss_local *f, const char *name, fl_collection *c)
{
    if (f->n_open == MAX_OPEN) {
        /* Close the oldest: it reloads from disk when needed again. */
        fl_collection_close(f->open[0].c);
        free(f->open[0].name);
        memmove(&f->open[0], &f->open[1], (MAX_OPEN - 1) * sizeof f->open[0]);
        f->n_open--;
    }
    char *copy = strdup(name);
    if (copy == NULL)
        return -1;
    c->compact_ratio = f->compact_ratio;
    c->durable = f->durable;
    c->ivf_threshold = f->ivf_threshold;
    c->nprobe = f->nprobe;
    fl_collection_tune(c);
    f->open[f->n_open].name = copy;
    f->open[f->n_open].c = c;
    f->n_open++;
    return 0;
}

/* The open collection `name`, loading it from disk; NULL with *missing set
 * when it does not exist, or with an error set. */
static fl_collection *get(faiss_local *f, const char *name, int *missing)
{
    char target[1024];
    name = concrete(f, name, target, sizeof target);
    *missing = 0;
    fl_collection *c = find_open(f, name);
    if (c != NULL)
        return c;
    char dir[4096], err[512];
    if (dir_of(f, name, dir, sizeof dir) != 0) {
        f->host->set_error(f->ctx, "collection name '%s' is empty or too long",
                           name);
        return NULL;
    }
    if (!fl_collection_exists(dir)) {
        *missing = 1;
        return NULL;
    }
    c = fl_collection_open(dir, err, sizeof err);
    if (c == NULL) {
        f->host->set_error(f->ctx, "collection %s: %s", name, err);
        return NULL;
    }
    if (remember(f, name, c) != 0) {
        fl_collection_close(c);
        f->host->set_error(f->ctx, "out of memory");
        return NULL;
    }
    return c;
}

/* A compaction may have rebuilt the index: say how searches work now. */
static void log_shape_change(faiss_local *f, const char *name,
                             const fl_collection *c, size_t cells_before)
{
    size_t cells = fl_index_cells(c->index);
    if (cells == cells_before)
        return;
    if (cells == 0)
        f->host->log(f->ctx, EMBSYNC_LOG_INFO,
                     "collection %s: %llu points, searched exactly again", name,
                     (unsigned long long)fl_index_count(c->index));
    else
        f->host->log(f->ctx, EMBSYNC_LOG_INFO,
                     "collection %s: %llu points, searched through an IVF index "
                     "of %zu cells, %zu read per query",
                     name, (unsigned long long)fl_index_count(c->index), cells,
                     c->nprobe < cells ? c->nprobe : cells);
}

static int fl_open(const embsync_host *host, embsync_ctx *ctx, void **state)
{
    faiss_local *f = calloc(1, sizeof *f);
    if (f == NULL)
        return EMBSYNC_FATAL;
    f->host = host;
    f->ctx = ctx;
    f->root = host->state_dir(ctx);
    f->compact_ratio = host->config_double(ctx, "compact_ratio", 1.0);
    f->durable = host->config_bool(ctx, "fsync", 1);
    long long threshold = host->config_int(ctx, "ivf_threshold", FL_IVF_THRESHOLD);
    long long nprobe = host->config_int(ctx, "nprobe", FL_NPROBE);
    if (f->root == NULL) {
        host->set_error(ctx, "no state directory");
        free(f);
        return EMBSYNC_FATAL;
    }
    if (!(f->compact_ratio > 0)) {
        host->set_error(ctx, "compact_ratio must be positive");
        free(f);
        return EMBSYNC_FATAL;
    }
    /* Fewer points than that make cells too small to be worth training. */
    if (threshold != 0 && threshold < 1000) {
        host->set_error(ctx, "ivf_threshold must be 0 (always exact) or at least 1000, not %lld",
                        threshold);
        free(f);
        return EMBSYNC_FATAL;
    }
    if (nprobe < 1 || nprobe > 65536) {
        host->set_error(ctx, "nprobe must be from 1 to 65536, not %lld", nprobe);
        free(f);
        return EMBSYNC_FATAL;
    }
    f->ivf_threshold = (uint64_t)threshold;
    f->nprobe = (size_t)nprobe;
    if (!f->durable)
        host->log(ctx, EMBSYNC_LOG_WARNING,
                  "fsync = false: a crash may lose acknowledged vectors");
    fl_index_single_threaded();
    if (fl_alias_sweep(f->root) != 0)
        host->log(ctx, EMBSYNC_LOG_WARNING,
                  "cannot finish switching an alias in %s", f->root);
    if (fl_collection_sweep(f->root) != 0)
        host->log(ctx, EMBSYNC_LOG_WARNING,
                  "cannot finish deleting a dropped collection in %s", f->root);
    *state = f;
    return EMBSYNC_OK;
}

static void fl_close(void *state)
{
    faiss_local *f = state;
    if (f == NULL)
        return;
    while (f->n_open > 0)
        forget(f, f->open[0].name);
    free(f);
}

static int fl_check(void *state)
{
    faiss_local *f = state;
    return f->root != NULL ? EMBSYNC_OK : EMBSYNC_FAILED;
}

static int fl_ensure(void *state, const char *name,
                     const embsync_collection_spec *spec, int *result)
{
    faiss_local *f = state;
    char target[1024];
    name = concrete(f, name, target, sizeof target);
    int missing;
    fl_collection *c = get(f, name, &missing);
    char dir[4096], err[512];
    if (c == NULL && !missing) {
        /* Never "exists but fails to open" for good: the engine rebuilds a
         * collection it is told mismatches, the source first re-listing
         * everything. */
        if (dir_of(f, name, dir, sizeof dir) != 0 || !fl_collection_half_deleted(dir))
            return EMBSYNC_FAILED;
        f->host->set_error(f->ctx, "its files are half deleted (a drop cut "
                                   "short by an earlier version)");
        *result = EMBSYNC_ENSURE_MISMATCH;
        return EMBSYNC_OK;
    }
    if (c != NULL) {
        if (c->dim != spec->dim || c->metric != spec->metric ||
            strcmp(c->identity, spec->identity) != 0) {
            f->host->set_error(f->ctx,
                               "holds %s (dim %u), wanted %s (dim %u)",
                               c->identity, c->dim, spec->identity, spec->dim);
            *result = EMBSYNC_ENSURE_MISMATCH;
        } else {
            *result = EMBSYNC_ENSURE_EXISTS;
        }
        return EMBSYNC_OK;
    }
    if (dir_of(f, name, dir, sizeof dir) != 0)
        return EMBSYNC_FAILED;
    c = fl_collection_create(dir, spec->dim, spec->metric, spec->identity, err,
                             sizeof err);
    if (c == NULL || remember(f, name, c) != 0) {
        fl_collection_close(c);
        f->host->set_error(f->ctx, "cannot create collection %s: %s", name, err);
        return EMBSYNC_FAILED;
    }
    *result = EMBSYNC_ENSURE_CREATED;
    return EMBSYNC_OK;
}

static fl_collection *existing(faiss_local *f, const char *name)
{
    int missing;
    fl_collection *c = get(f, name, &missing);
    if (c == NULL && missing)
        f->host->set_error(f->ctx, "collection %s does not exist", name);
    return c;
}

/* Cosine is inner product on unit vectors: normalise on the way in. */
static int prepare(const fl_collection *c, const float *in, float *out)
{
    double norm = 0;
    for (uint32_t d = 0; d < c->dim; d++) {
        if (!isfinite(in[d]))
            return -1;
        norm += (double)in[d] * in[d];
    }
    if (c->metric == EMBSYNC_METRIC_COSINE) {
        if (norm == 0)
            return -1;
        double inv = 1.0 / sqrt(norm);
        for (uint32_t d = 0; d < c->dim; d++)
            out[d] = (float)(in[d] * inv);
    } else {
        memcpy(out, in, c->dim * sizeof *out);
    }
    return 0;
}

static int fl_upsert(void *state, const char *name, size_t n,
                     const embsync_point *points)
{
    faiss_local *f = state;
    fl_collection *c = existing(f, name);
    if (c == NULL)
        return EMBSYNC_FAILED;
    uint64_t *ids = malloc(n * sizeof *ids);
    float *vectors = malloc(n * c->dim * sizeof *vectors);
    const char **payloads = malloc(n * sizeof *payloads);
    int rc = EMBSYNC_OK;
    if (ids == NULL || vectors == NULL || payloads == NULL) {
        f->host->set_error(f->ctx, "out of memory");
        rc = EMBSYNC_FAILED;
        goto out;
    }
    /* Points are strided by the caller's struct size. */
    size_t stride = n > 0 && points[0].abi.size ? points[0].abi.size : sizeof *points;
    for (size_t i = 0; i < n; i++) {
        const embsync_point *p = (const embsync_point *)((const char *)points + i * stride);
        ids[i] = p->id;
        payloads[i] = p->payload != NULL ? p->payload : "{}";
        if (prepare(c, p->vector, vectors + i * c->dim) != 0) {
            f->host->set_error(f->ctx, "point %llu: vector is zero or not finite",
                               (unsigned long long)p->id);
            rc = EMBSYNC_FAILED;
            goto out;
        }
    }
    char err[512];
    size_t cells = fl_index_cells(c->index);
    if (fl_collection_upsert(c, n, ids, vectors, payloads, err, sizeof err) != 0) {
        f->host->set_error(f->ctx, "collection %s: %s", name, err);
        rc = EMBSYNC_FAILED;
    } else {
        log_shape_change(f, name, c, cells);
    }
out:
    free(ids);
    free(vectors);
    free(payloads);
    return rc;
}

static int fl_remove(void *state, const char *name, size_t n, const uint64_t *ids)
{
    faiss_local *f = state;
    int missing;
    fl_collection *c = get(f, name, &missing);
    if (c == NULL)
        return missing ? EMBSYNC_OK : EMBSYNC_FAILED; /* nothing to remove */
    char err[512];
    size_t cells = fl_index_cells(c->index);
    if (fl_collection_remove(c, n, ids, err, sizeof err) != 0) {
        f->host->set_error(f->ctx, "collection %s: %s", name, err);
        return EMBSYNC_FAILED;
    }
    log_shape_change(f, name, c, cells);
    return EMBSYNC_OK;
}

static int fl_count(void *state, const char *name, uint64_t *count)
{
    faiss_local *f = state;
    int missing;
    fl_collection *c = get(f, name, &missing);
    *count = c != NULL ? fl_index_count(c->index) : 0;
    return c != NULL || missing ? EMBSYNC_OK : EMBSYNC_FAILED;
}

static int fl_search(void *state, const char *name, const float *vector,
                     size_t k, embsync_hit_cb cb, void *arg)
{
    faiss_local *f = state;
    fl_collection *c = existing(f, name);
    if (c == NULL)
        return EMBSYNC_FAILED;
    uint64_t count = fl_index_count(c->index);
    if (k > count)
        k = (size_t)count;
    float *query = malloc(c->dim * sizeof *query);
    uint64_t *ids = malloc((k ? k : 1) * sizeof *ids);
    float *scores = malloc((k ? k : 1) * sizeof *scores);
    int rc = EMBSYNC_OK;
    if (query == NULL || ids == NULL || scores == NULL) {
        f->host->set_error(f->ctx, "out of memory");
        rc = EMBSYNC_FAILED;
    } else if (prepare(c, vector, query) != 0) {
        f->host->set_error(f->ctx, "query vector is zero or not finite");
        rc = EMBSYNC_FAILED;
    } else {
        long found = fl_index_search(c->index, query, k, ids, scores);
        if (found < 0) {
            f->host->set_error(f->ctx, "search failed: %s", fl_index_error());
            rc = EMBSYNC_FAILED;
        }
        for (long i = 0; i < found; i++) {
            embsync_hit hit = {
                .abi = EMBSYNC_ABI_INIT(embsync_hit),
                .id = ids[i],
                .score = scores[i],
                .payload = fl_collection_payload(c, ids[i]),
            };
            if (cb(arg, &hit) != 0)
                break;
        }
    }
    free(query);
    free(ids);
    free(scores);
    return rc;
}

static int fl_drop(void *state, const char *name)
{
    faiss_local *f = state;
    char dir[4096], entry[1024], target[1024];
    if (dir_of(f, name, dir, sizeof dir) != 0)
        return EMBSYNC_FAILED;
    int link = fl_alias_read(dir, entry, sizeof entry);
    if (link < 0) {
        f->host->set_error(f->ctx, "cannot read %s", dir);
        return EMBSYNC_FAILED;
    }
    if (link) {
        /* The link first: a crash after it leaves a collection no name
         * reads, never a name that points at nothing. */
        if (fl_alias_unlink(f->root, dir + strlen(f->root) + 1) != 0) {
            f->host->set_error(f->ctx, "cannot remove the alias %s", dir);
            return EMBSYNC_FAILED;
        }
        name_of(entry, target, sizeof target);
        name = target;
        if (dir_of(f, name, dir, sizeof dir) != 0)
            return EMBSYNC_FAILED;
    }
    forget(f, name);
    if (fl_collection_destroy(dir) != 0) {
        f->host->set_error(f->ctx, "cannot delete %s", dir);
        return EMBSYNC_FAILED;
    }
    return EMBSYNC_OK;
}

static int fl_list_ids(void *state, const char *name, uint64_t start,
                       size_t max, uint64_t *ids, size_t *n)
{
    faiss_local *f = state;
    int missing;
    *n = 0;
    fl_collection *c = get(f, name, &missing);
    if (c == NULL)
        return missing ? EMBSYNC_OK : EMBSYNC_FAILED;
    if (fl_collection_list_ids(c, start, max, ids, n) != 0) {
        f->host->set_error(f->ctx, "out of memory");
        return EMBSYNC_FAILED;
    }
    return EMBSYNC_OK;
}

static int fl_contains(void *state, const char *name, size_t n,
                       const uint64_t *ids, int *present)
{
    faiss_local *f = state;
    int missing;
    fl_collection *c = get(f, name, &missing);
    if (c == NULL && !missing)
        return EMBSYNC_FAILED;
    for (size_t i = 0; i < n; i++)
        present[i] = c != NULL && fl_collection_contains(c, ids[i]);
    return EMBSYNC_OK;
}

static int fl_alias_get(void *state, const char *name, char *target,
                        size_t target_len)
{
    faiss_local *f = state;
    char dir[4096], entry[1024];
    if (dir_of(f, name, dir, sizeof dir) != 0) {
        f->host->set_error(f->ctx, "collection name '%s' is empty or too long",
                           name);
        return EMBSYNC_FAILED;
    }
    int link = fl_alias_read(dir, entry, sizeof entry);
    if (link < 0) {
        f->host->set_error(f->ctx, "cannot read %s", dir);
        return EMBSYNC_FAILED;
    }
    target[0] = '\0';
    if (!fl_collection_exists(dir))  /* through the link: its target */
        return EMBSYNC_OK;
    if (link)
        name_of(entry, target, target_len);
    else
        snprintf(target, target_len, "%s", name);
    return EMBSYNC_OK;
}

static int fl_alias_set(void *state, const char *name, const char *target)
{
    faiss_local *f = state;
    char buf[1024], dir[4096], target_dir[4096], trash[4352];
    target = concrete(f, target, buf, sizeof buf);
    if (strcmp(name, target) == 0) {
        f->host->set_error(f->ctx, "an alias cannot point at itself: %s", name);
        return EMBSYNC_FAILED;
    }
    if (dir_of(f, name, dir, sizeof dir) != 0 ||
        dir_of(f, target, target_dir, sizeof target_dir) != 0) {
        f->host->set_error(f->ctx, "collection name is empty or too long");
        return EMBSYNC_FAILED;
    }
    if (!fl_collection_exists(target_dir)) {
        f->host->set_error(f->ctx, "cannot point %s at %s: no such collection",
                           name, target);
        return EMBSYNC_FAILED;
    }
    const char *entry = dir + strlen(f->root) + 1;
    snprintf(trash, sizeof trash, "%s/%s%s", f->root, FL_DROPPED_PREFIX, entry);
    struct stat st;
    int plain = lstat(dir, &st) == 0 && S_ISDIR(st.st_mode);
    if (plain) {
        f->host->log(f->ctx, EMBSYNC_LOG_WARNING,
                     "%s is a plain collection: it is renamed away and the "
                     "link to %s put in its place right after, one short "
                     "switch-over during which %s does not exist (later "
                     "switches are one atomic rename)", name, target, name);
        forget(f, name);
        /* The trash name must be free: finish earlier drops first. */
        if (fl_collection_sweep(f->root) != 0) {
            f->host->set_error(f->ctx, "cannot clear %s", trash);
            return EMBSYNC_FAILED;
        }
    }
    int replaced;
    if (fl_alias_point(f->root, entry, target_dir + strlen(f->root) + 1, trash,
                       &replaced) != 0) {
        f->host->set_error(f->ctx, "cannot point %s at %s: %s", name, target,
                           strerror(errno));
        return EMBSYNC_FAILED;
    }
    if (replaced && fl_collection_sweep(f->root) != 0)
        f->host->log(f->ctx, EMBSYNC_LOG_WARNING, "cannot finish deleting the "
                     "former collection %s (%s)", name, trash);
    f->host->log(f->ctx, EMBSYNC_LOG_INFO, "%s now points at %s", name, target);
    return EMBSYNC_OK;
}

static const embsync_store_ops ops = {
    .abi = EMBSYNC_ABI_INIT(embsync_store_ops),
    .open = fl_open,
    .close = fl_close,
    .check = fl_check,
    .ensure = fl_ensure,
    .upsert = fl_upsert,
    .remove = fl_remove,
    .count = fl_count,
    .search = fl_search,
    .drop = fl_drop,
    .list_ids = fl_list_ids,
    .contains = fl_contains,
    .alias_get = fl_alias_get,
    .alias_set = fl_alias_set,
};

static const embsync_plugin descriptor = {
    .abi = EMBSYNC_ABI_INIT(embsync_plugin),
    .kind = EMBSYNC_KIND_STORE,
    .name = "faiss-local",
    .version = "1.0",
    .description = "FAISS index per collection in the state directory, crash-safe",
    .config_keys = keys,
    .config_key_size = sizeof keys[0],
    .flags = EMBSYNC_PLUGIN_PERSISTENT,
    .ops = &ops,
};

EMBSYNC_PLUGIN_ENTRY(descriptor)
