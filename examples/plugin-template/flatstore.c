/*
 * flatstore — a small embsync STORE plugin, meant to be copied.
 *
 * Each collection is one file, <state_dir>/<collection>.flat, read into
 * memory on use and rewritten whole on every change; search is brute force.
 * That is slow beyond some ten thousand vectors, but it keeps in plain view
 * what every store must get right: configuration keys, error reporting, the
 * ensure()/MISMATCH protocol and the durability rule (a call that returns
 * EMBSYNC_OK has made its effect durable, because the core then acknowledges
 * the items to the source and will not send them again).
 *
 * Build:  cc -std=c11 -shared -fPIC -fvisibility=hidden \
 *            $(pkg-config --cflags embsync-plugin) -o flatstore.so flatstore.c
 *
 * File layout, native byte order (the order mark makes a file written on a
 * machine of the other order fail to load instead of being misread):
 *   "FLATST01"  u32 0x01020304  u32 dim  u32 metric  u32 id_len  identity
 *   u64 count, then per point:  u64 id  u32 payload_len  f32[dim]  payload
 */
#define _POSIX_C_SOURCE 200809L /* fsync, fileno, strdup under -std=c11 */

#include <errno.h>
#include <fcntl.h>
#include <math.h> /* isfinite() only: a macro, so no -lm */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <embsync/plugin.h>

static const char MAGIC[8] = {'F', 'L', 'A', 'T', 'S', 'T', '0', '1'};
#define ORDER_MARK 0x01020304u

/* One point in one allocation: replacing or removing it is one free(). */
typedef struct point {
    uint64_t id;
    char *payload; /* the JSON text, verbatim, right after v[] */
    float v[];     /* dim floats, unit length for cosine (see prepare()) */
} point;

typedef struct coll {
    char *name, *identity;
    uint32_t dim;
    int metric;
    size_t n, cap;
    point **pts;
} coll;

typedef struct flatstore {
    const embsync_host *host;
    embsync_ctx *ctx;
    const char *dir; /* host-owned, valid until close() */
    int durable;
    /* The core syncs one collection at a time, so caching only the last one
     * used bounds memory and costs a reload only when it moves on. */
    coll *cur;
} flatstore;

/* The core checks the [store] section against this table before open(), so
 * open() never sees an unknown key or a value of the wrong type. */
static const embsync_config_key keys[] = {
    {"fsync", EMBSYNC_KEY_BOOL, "true", 0,
     "fsync every change (false only for throwaway data: a crash can lose acknowledged vectors)"},
    {NULL, 0, NULL, 0, NULL},
};

#define ERR(fs, ...) (fs)->host->set_error((fs)->ctx, __VA_ARGS__)

static point *point_new(uint32_t dim, uint64_t id, size_t plen)
{
    point *p = malloc(sizeof *p + dim * sizeof(float) + plen + 1);
    if (p != NULL) {
        p->id = id;
        p->payload = (char *)(p->v + dim);
        p->payload[plen] = '\0';
    }
    return p;
}

static void coll_free(coll *c)
{
    for (size_t i = 0; c != NULL && i < c->n; i++)
        free(c->pts[i]);
    if (c != NULL) {
        free(c->pts);
        free(c->identity);
        free(c->name);
        free(c);
    }
}

/* Forget what is in memory: after a failed write it is ahead of the disk,
 * and the next call must see only what is really durable. */
static void forget(flatstore *fs)
{
    coll_free(fs->cur);
    fs->cur = NULL;
}

/* Collection names come from sources: one path component, never hidden, so
 * they cannot escape state_dir nor collide with our ".NAME.flat.tmp" files. */
static char *path_of(flatstore *fs, const char *name, int tmp)
{
    if (name[0] == '\0' || name[0] == '.' || strchr(name, '/') != NULL) {
        ERR(fs, "collection name '%s' is empty, starts with '.' or contains '/'", name);
        return NULL;
    }
    size_t len = strlen(fs->dir) + strlen(name) + 16;
    char *p = malloc(len);
    if (p == NULL)
        ERR(fs, "out of memory");
    else
        snprintf(p, len, "%s/%s%s.flat%s", fs->dir, tmp ? "." : "", name, tmp ? ".tmp" : "");
    return p;
}

/* A rename or unlink survives a crash only once the directory is synced. */
static int sync_dir(flatstore *fs)
{
    int fd = open(fs->dir, O_RDONLY | O_DIRECTORY);
    int rc = fd >= 0 && fsync(fd) == 0 ? 0 : -1;
    if (rc != 0)
        ERR(fs, "cannot sync directory %s: %s", fs->dir, strerror(errno));
    if (fd >= 0)
        close(fd);
    return rc;
}

/* Write everything to a temporary file, sync it, rename it over the old
 * one, sync the directory: after a crash the file is the old version or the
 * new one, never a torn mix. */
static int save(flatstore *fs, const coll *c)
{
    char *tmp = path_of(fs, c->name, 1), *dst = path_of(fs, c->name, 0);
    FILE *fp = tmp != NULL && dst != NULL ? fopen(tmp, "wb") : NULL;
    uint32_t head[4] = {ORDER_MARK, c->dim, (uint32_t)c->metric, (uint32_t)strlen(c->identity)};
    uint64_t count = c->n;
    int ok = fp != NULL && fwrite(MAGIC, 8, 1, fp) == 1 && fwrite(head, sizeof head, 1, fp) == 1 &&
             fwrite(c->identity, 1, head[3], fp) == head[3] && fwrite(&count, 8, 1, fp) == 1;
    for (size_t i = 0; ok && i < c->n; i++) {
        const point *p = c->pts[i];
        uint32_t plen = (uint32_t)strlen(p->payload);
        ok = fwrite(&p->id, 8, 1, fp) == 1 && fwrite(&plen, 4, 1, fp) == 1 &&
             fwrite(p->v, sizeof(float), c->dim, fp) == c->dim &&
             fwrite(p->payload, 1, plen, fp) == plen;
    }
    ok = ok && fflush(fp) == 0 && (!fs->durable || fsync(fileno(fp)) == 0);
    if (fp != NULL && fclose(fp) != 0)
        ok = 0;
    if (ok && rename(tmp, dst) != 0)
        ok = 0;
    if (!ok && tmp != NULL && dst != NULL) { /* else path_of() said why */
        ERR(fs, "cannot write %s: %s", dst, strerror(errno));
        unlink(tmp);
    }
    free(tmp);
    free(dst);
    return ok && (!fs->durable || sync_dir(fs) == 0) ? 0 : -1;
}

/* Reads never run past the end of the file, so a damaged length can
 * neither overrun a buffer nor ask malloc for gigabytes. */
typedef struct reader { FILE *fp; uint64_t left; int bad; } reader;

static void take(reader *r, void *p, size_t len)
{
    if (r->bad || len > r->left || fread(p, 1, len, r->fp) != len)
        r->bad = 1;
    else
        r->left -= len;
}

/* Read a collection file: OK with *out NULL when there is none. */
static int load(flatstore *fs, const char *name, const char *path, coll **out)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) {
        if (errno == ENOENT)
            return EMBSYNC_OK;
        ERR(fs, "cannot open %s: %s", path, strerror(errno));
        return EMBSYNC_FAILED;
    }
    struct stat st;
    reader r = {fp, 0, fstat(fileno(fp), &st) != 0};
    r.left = r.bad ? 0 : (uint64_t)st.st_size;
    char magic[8];
    uint32_t head[4] = {0}, plen = 0;
    uint64_t count = 0, id = 0;
    const char *why = "out of memory";
    coll *c = calloc(1, sizeof *c);
    take(&r, magic, 8);
    take(&r, head, sizeof head);
    if (c == NULL)
        goto fail;
    why = "damaged or truncated file";
    if (r.bad || memcmp(magic, MAGIC, 8) != 0 || head[0] != ORDER_MARK || head[1] == 0 ||
        head[2] < EMBSYNC_METRIC_COSINE || head[2] > EMBSYNC_METRIC_EUCLID || head[3] > r.left)
        goto fail;
    if ((c->identity = calloc(1, (size_t)head[3] + 1)) == NULL)
        goto nomem;
    c->dim = head[1];
    c->metric = (int)head[2];
    take(&r, c->identity, head[3]);
    take(&r, &count, 8);
    if (r.bad || count > r.left / (12 + 4 * (uint64_t)c->dim))
        goto fail;
    c->cap = (size_t)count + 1; /* + 1: no zero-size allocation */
    if ((c->name = strdup(name)) == NULL || (c->pts = calloc(c->cap, sizeof *c->pts)) == NULL)
        goto nomem;
    for (; c->n < count; c->n++) {
        take(&r, &id, 8);
        take(&r, &plen, 4);
        if (r.bad || plen > r.left)
            goto fail;
        if ((c->pts[c->n] = point_new(c->dim, id, plen)) == NULL)
            goto nomem;
        take(&r, c->pts[c->n]->v, c->dim * sizeof(float));
        take(&r, c->pts[c->n]->payload, plen);
    }
    if (r.bad || r.left != 0)
        goto fail;
    fclose(fp);
    *out = c;
    return EMBSYNC_OK;
nomem:
    why = "out of memory";
fail:
    /* Never a silent "missing": only the operator may throw data away. */
    ERR(fs, "cannot load %s: %s", path, why);
    fclose(fp);
    coll_free(c);
    return EMBSYNC_FAILED;
}

/* The collection `name`, from memory or disk; OK with *out NULL if missing. */
static int get(flatstore *fs, const char *name, coll **out)
{
    *out = NULL;
    if (fs->cur != NULL && strcmp(fs->cur->name, name) == 0) {
        *out = fs->cur;
        return EMBSYNC_OK;
    }
    char *path = path_of(fs, name, 0);
    int rc = path != NULL ? load(fs, name, path, out) : EMBSYNC_FAILED;
    free(path);
    if (*out != NULL) {
        forget(fs);
        fs->cur = *out;
    }
    return rc;
}

/* sqrt() without libm, so the module needs nothing beyond libc: scale x
 * into [1, 4), where a few Newton steps reach double precision. */
static double root(double x)
{
    double scale = 1, r = 1.5;
    for (; x >= 4; x /= 4)
        scale *= 2;
    for (; x < 1; x *= 4)
        scale /= 2;
    for (int i = 0; i < 6; i++)
        r = 0.5 * (r + x / r);
    return r * scale;
}

/* Cosine becomes a plain inner product once vectors are unit length. */
static int prepare(const coll *c, const float *in, float *out)
{
    double norm = 0;
    for (uint32_t d = 0; d < c->dim; d++) {
        if (!isfinite(in[d]))
            return -1;
        norm += (double)in[d] * in[d];
    }
    int cosine = c->metric == EMBSYNC_METRIC_COSINE;
    if (cosine && !(norm > 0))
        return -1;
    double scale = cosine ? 1.0 / root(norm) : 1.0;
    for (uint32_t d = 0; d < c->dim; d++)
        out[d] = (float)(in[d] * scale);
    return 0;
}

static size_t find(const coll *c, uint64_t id)
{
    size_t i = 0;
    while (i < c->n && c->pts[i]->id != id)
        i++;
    return i;
}

static int fs_open(const embsync_host *host, embsync_ctx *ctx, void **state)
{
    flatstore *fs = calloc(1, sizeof *fs);
    const char *dir = host->state_dir(ctx);
    if (fs == NULL || dir == NULL) {
        host->set_error(ctx, fs ? "no state directory (the log says why)" : "out of memory");
        free(fs);
        return EMBSYNC_FATAL;
    }
    fs->host = host;
    fs->ctx = ctx;
    fs->dir = dir;
    fs->durable = host->config_bool(ctx, "fsync", 1);
    if (!fs->durable)
        host->log(ctx, EMBSYNC_LOG_WARNING, "fsync = false: a crash may lose acknowledged vectors");
    *state = fs;
    return EMBSYNC_OK;
}

static void fs_close(void *state)
{
    if (state != NULL)
        forget(state);
    free(state);
}

static int fs_check(void *state)
{
    flatstore *fs = state;
    if (access(fs->dir, W_OK | X_OK) == 0)
        return EMBSYNC_OK;
    ERR(fs, "state directory %s is not writable: %s", fs->dir, strerror(errno));
    return EMBSYNC_FATAL; /* waiting will not fix permissions */
}

static int fs_ensure(void *state, const char *name, const embsync_collection_spec *spec,
                     int *result)
{
    flatstore *fs = state;
    const char *identity = spec->identity != NULL ? spec->identity : "";
    coll *c;
    int rc = get(fs, name, &c);
    if (rc != EMBSYNC_OK)
        return rc;
    if (c != NULL) {
        int same = c->dim == spec->dim && c->metric == spec->metric &&
                   strcmp(c->identity, identity) == 0;
        if (!same) /* the core quotes this in its "rebuilding" warning */
            ERR(fs, "holds %s (dim %u, metric %d), wanted %s (dim %u, metric %d)",
                c->identity, c->dim, c->metric, identity, spec->dim, spec->metric);
        *result = same ? EMBSYNC_ENSURE_EXISTS : EMBSYNC_ENSURE_MISMATCH;
        return EMBSYNC_OK;
    }
    if (spec->dim == 0 || spec->metric < EMBSYNC_METRIC_COSINE ||
        spec->metric > EMBSYNC_METRIC_EUCLID) {
        ERR(fs, "cannot create %s: dim %u, metric %d", name, spec->dim, spec->metric);
        return EMBSYNC_FAILED;
    }
    if ((c = calloc(1, sizeof *c)) == NULL || (c->name = strdup(name)) == NULL ||
        (c->identity = strdup(identity)) == NULL) {
        ERR(fs, "out of memory");
        coll_free(c);
        return EMBSYNC_FAILED;
    }
    c->dim = spec->dim;
    c->metric = spec->metric;
    if (save(fs, c) != 0) {
        coll_free(c);
        return EMBSYNC_FAILED;
    }
    forget(fs);
    fs->cur = c;
    *result = EMBSYNC_ENSURE_CREATED;
    return EMBSYNC_OK;
}

/* Room for `extra` more points, so that applying a batch cannot fail half way. */
static int reserve(coll *c, size_t extra)
{
    if (c->n + extra <= c->cap)
        return 0;
    size_t cap = c->cap * 2 > c->n + extra ? c->cap * 2 : c->n + extra;
    point **pts = realloc(c->pts, cap * sizeof *pts);
    if (pts == NULL)
        return -1;
    c->pts = pts;
    c->cap = cap;
    return 0;
}

static int fs_upsert(void *state, const char *name, size_t n, const embsync_point *points)
{
    flatstore *fs = state;
    coll *c;
    int rc = get(fs, name, &c);
    if (rc == EMBSYNC_OK && c == NULL)
        ERR(fs, "collection %s does not exist (ensure() creates it)", name);
    if (c == NULL)
        return EMBSYNC_FAILED;
    /* The host builds the array with its own sizeof(embsync_point): step by
     * the size it declares, which stays right if a later minor appends members. */
    size_t stride = n > 0 && points[0].abi.size ? points[0].abi.size : sizeof *points;
    point **fresh = calloc(n + 1, sizeof *fresh);
    if (fresh == NULL || reserve(c, n) != 0) {
        ERR(fs, "out of memory");
        rc = EMBSYNC_FAILED;
    }
    /* Build every point first, so a bad one changes nothing. */
    for (size_t i = 0; rc == EMBSYNC_OK && i < n; i++) {
        const embsync_point *p = (const void *)((const char *)points + i * stride);
        const char *payload = p->payload != NULL ? p->payload : "{}";
        size_t plen = strlen(payload);
        if (plen > UINT32_MAX || (fresh[i] = point_new(c->dim, p->id, plen)) == NULL) {
            ERR(fs, "point %llu: payload too large for memory", (unsigned long long)p->id);
        } else if (prepare(c, p->vector, fresh[i]->v) != 0) {
            ERR(fs, "point %llu: vector is zero or not finite", (unsigned long long)p->id);
        } else {
            memcpy(fresh[i]->payload, payload, plen); /* verbatim: never parsed */
            continue;
        }
        rc = EMBSYNC_FAILED;
    }
    for (size_t i = 0; rc == EMBSYNC_OK && i < n; i++) {
        size_t at = find(c, fresh[i]->id);
        if (at == c->n)
            c->n++;
        else
            free(c->pts[at]); /* a known id: vector AND payload are replaced */
        c->pts[at] = fresh[i];
        fresh[i] = NULL;
    }
    if (rc == EMBSYNC_OK && save(fs, c) != 0) {
        forget(fs); /* not OK, so not acknowledged: the core sends them again */
        rc = EMBSYNC_FAILED;
    }
    for (size_t i = 0; fresh != NULL && i < n; i++)
        free(fresh[i]);
    free(fresh);
    return rc;
}

static int fs_remove(void *state, const char *name, size_t n, const uint64_t *ids)
{
    flatstore *fs = state;
    coll *c;
    int rc = get(fs, name, &c);
    if (c == NULL)
        return rc; /* a missing collection holds none of them: OK */
    size_t before = c->n;
    for (size_t i = 0; i < n; i++) {
        size_t at = find(c, ids[i]);
        if (at == c->n)
            continue; /* unknown ids are not an error */
        free(c->pts[at]);
        c->pts[at] = c->pts[--c->n]; /* order does not matter: fill the hole */
    }
    if (c->n != before && save(fs, c) != 0) {
        forget(fs);
        return EMBSYNC_FAILED;
    }
    return EMBSYNC_OK;
}

static int fs_count(void *state, const char *name, uint64_t *count)
{
    coll *c;
    int rc = get(state, name, &c);
    *count = c != NULL ? c->n : 0;
    return rc;
}

static int fs_search(void *state, const char *name, const float *vector, size_t k,
                     embsync_hit_cb cb, void *arg)
{
    flatstore *fs = state;
    coll *c;
    int rc = get(fs, name, &c);
    if (rc == EMBSYNC_OK && c == NULL)
        ERR(fs, "collection %s does not exist", name);
    if (c == NULL)
        return EMBSYNC_FAILED;
    k = k < c->n ? k : c->n;
    float *q = malloc(c->dim * sizeof *q), *score = malloc((k + 1) * sizeof *score);
    size_t *best = malloc((k + 1) * sizeof *best), have = 0;
    if (q == NULL || score == NULL || best == NULL) {
        ERR(fs, "out of memory");
        rc = EMBSYNC_FAILED;
    } else if (prepare(c, vector, q) != 0) {
        ERR(fs, "query vector is zero or not finite");
        rc = EMBSYNC_FAILED;
    }
    /* Keep the k best in order by insertion: O(n·k), fine for a small k. */
    for (size_t i = 0; rc == EMBSYNC_OK && k > 0 && i < c->n; i++) {
        const float *v = c->pts[i]->v;
        double s = 0; /* "higher is nearer": euclid scores minus the distance² */
        for (uint32_t d = 0; d < c->dim; d++) {
            double t = (double)v[d] - q[d];
            s += c->metric == EMBSYNC_METRIC_EUCLID ? -t * t : (double)v[d] * q[d];
        }
        if (have == k && s <= score[k - 1])
            continue;
        size_t at = have < k ? have++ : k - 1;
        for (; at > 0 && score[at - 1] < s; at--) {
            best[at] = best[at - 1];
            score[at] = score[at - 1];
        }
        best[at] = i;
        score[at] = (float)s;
    }
    for (size_t j = 0; rc == EMBSYNC_OK && j < have; j++) {
        embsync_hit hit = {
            .abi = EMBSYNC_ABI_INIT(embsync_hit),
            .id = c->pts[best[j]]->id,
            .score = score[j],
            .payload = c->pts[best[j]]->payload,
        };
        if (cb(arg, &hit) != 0)
            break;
    }
    free(q);
    free(score);
    free(best);
    return rc;
}

static int fs_drop(void *state, const char *name)
{
    flatstore *fs = state;
    char *path = path_of(fs, name, 0);
    int rc = path != NULL ? EMBSYNC_OK : EMBSYNC_FAILED;
    if (fs->cur != NULL && strcmp(fs->cur->name, name) == 0)
        forget(fs);
    if (path != NULL && unlink(path) != 0 && errno != ENOENT) {
        ERR(fs, "cannot delete %s: %s", path, strerror(errno));
        rc = EMBSYNC_FAILED;
    } else if (path != NULL && fs->durable && sync_dir(fs) != 0) {
        rc = EMBSYNC_FAILED; /* the file could come back after a crash */
    }
    free(path);
    return rc;
}

static const embsync_store_ops ops = {
    .abi = EMBSYNC_ABI_INIT(embsync_store_ops),
    .open = fs_open,
    .close = fs_close,
    .check = fs_check,
    .ensure = fs_ensure,
    .upsert = fs_upsert,
    .remove = fs_remove,
    .count = fs_count,
    .search = fs_search,
    .drop = fs_drop,
};

static const embsync_plugin descriptor = {
    .abi = EMBSYNC_ABI_INIT(embsync_plugin),
    .kind = EMBSYNC_KIND_STORE,
    .name = "flatstore",
    .version = "1.0",
    .description = "one flat file per collection in the state directory, brute-force search",
    .config_keys = keys,
    .config_key_size = sizeof keys[0],
    .flags = EMBSYNC_PLUGIN_PERSISTENT,
    .ops = &ops,
};

EMBSYNC_PLUGIN_ENTRY(descriptor)
