#include "collection.h"
#include "id_list.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <stb_ds.h>
#include <zlib.h>

#define LOG_MAGIC 0x31524c46u     /* "FLR1" */
#define PAYLOAD_MAGIC 0x31504c46u /* "FLP1" */
#define OP_UPSERT 1
#define OP_REMOVE 2
#define COMPACT_MIN_BYTES (16u << 20)

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static void path_of(const fl_collection *c, char *out, size_t len,
                    const char *what, uint64_t gen)
{
    snprintf(out, len, "%s/%s-%" PRIu64 ".%s", c->dir, what, gen,
             strcmp(what, "index") == 0 ? "faiss" : "bin");
}

/* ---- small durable-file helpers ------------------------------------------ */

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int fsync_path(const char *path, int directory)
{
    int fd = open(path, (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

static int write_file_durably(const char *path, const void *data, size_t len,
                              int durable)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    if (write_all(fd, data, len) != 0 || (durable && fsync(fd) != 0)) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return close(fd);
}

/* ---- growable byte buffer for records ------------------------------------ */

typedef struct buf {
    unsigned char *data;
    size_t len, cap;
} buf;

static int buf_put(buf *b, const void *data, size_t len)
{
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + len)
            cap *= 2;
        unsigned char *grown = realloc(b->data, cap);
        if (grown == NULL)
            return -1;
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
    return 0;
}

/* ---- metadata -------------------------------------------------------------- */

static int write_meta(fl_collection *c, uint64_t gen)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "dim", c->dim);
    cJSON_AddNumberToObject(o, "metric", c->metric);
    cJSON_AddStringToObject(o, "identity", c->identity);
    cJSON_AddNumberToObject(o, "generation", (double)gen);
    cJSON_AddStringToObject(o, "format", "faiss-local/1");
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    if (text == NULL)
        return -1;
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/meta.json", c->dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int rc = write_file_durably(tmp, text, strlen(text), c->durable);
    cJSON_free(text);
    if (rc != 0 || rename(tmp, path) != 0)
        return -1;
    return c->durable ? fsync_path(c->dir, 1) : 0;
}

static int read_meta(fl_collection *c, char *err, size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/meta.json", c->dir);
    FILE *fp = fopen(path, "r");
    if (fp == NULL)
        return fail(err, errlen, "%s: %s", path, strerror(errno));
    char text[4096];
    size_t n = fread(text, 1, sizeof text - 1, fp);
    fclose(fp);
    text[n] = '\0';
    cJSON *o = cJSON_Parse(text);
    const char *identity = cJSON_GetStringValue(cJSON_GetObjectItem(o, "identity"));
    double dim = cJSON_GetNumberValue(cJSON_GetObjectItem(o, "dim"));
    double gen = cJSON_GetNumberValue(cJSON_GetObjectItem(o, "generation"));
    if (o == NULL || identity == NULL || !(dim >= 1) || !(gen >= 1)) {
        cJSON_Delete(o);
        return fail(err, errlen, "%s: malformed metadata", path);
    }
    c->dim = (uint32_t)dim;
    c->metric = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "metric"));
    snprintf(c->identity, sizeof c->identity, "%s", identity);
    c->generation = (uint64_t)gen;
    cJSON_Delete(o);
    return 0;
}

/* ---- payload snapshots ----------------------------------------------------- */

static int write_payloads(fl_collection *c, uint64_t gen)
{
    buf b = {0};
    uint32_t magic = PAYLOAD_MAGIC;
    uint64_t count = (uint64_t)hmlen(c->payloads);
    int rc = buf_put(&b, &magic, 4) | buf_put(&b, &count, 8);
    for (ptrdiff_t i = 0; rc == 0 && i < hmlen(c->payloads); i++) {
        uint32_t len = (uint32_t)strlen(c->payloads[i].value);
        rc = buf_put(&b, &c->payloads[i].key, 8) | buf_put(&b, &len, 4) |
             buf_put(&b, c->payloads[i].value, len);
    }
    uint32_t crc = (uint32_t)crc32(0L, b.data, (uInt)b.len);
    rc |= buf_put(&b, &crc, 4);
    char path[4096];
    path_of(c, path, sizeof path, "payloads", gen);
    if (rc == 0)
        rc = write_file_durably(path, b.data, b.len, c->durable);
    c->snapshot_bytes = (uint64_t)b.len + c->dim * 4ull * fl_index_count(c->index);
    free(b.data);
    return rc;
}

static void payload_set(fl_collection *c, uint64_t id, char *value)
{
    ptrdiff_t at = hmgeti(c->payloads, id);
    if (at >= 0) {
        free(c->payloads[at].value);
        c->payloads[at].value = value;
    } else {
        hmput(c->payloads, id, value);
        c->ids_stale = 1;
    }
}

static void payload_del(fl_collection *c, uint64_t id)
{
    ptrdiff_t at = hmgeti(c->payloads, id);
    if (at >= 0) {
        free(c->payloads[at].value);
        (void)hmdel(c->payloads, id);
    }
}

static int read_payloads(fl_collection *c, char *err, size_t errlen)
{
    char path[4096];
    path_of(c, path, sizeof path, "payloads", c->generation);
    FILE *fp = fopen(path, "rb");
    if (fp == NULL)
        return fail(err, errlen, "%s: %s", path, strerror(errno));
    struct stat st;
    fstat(fileno(fp), &st);
    unsigned char *data = malloc((size_t)st.st_size + 1);
    size_t n = data ? fread(data, 1, (size_t)st.st_size, fp) : 0;
    fclose(fp);
    uint32_t magic, crc;
    uint64_t count;
    if (data == NULL || n < 16 || n != (size_t)st.st_size) {
        free(data);
        return fail(err, errlen, "%s: cannot read", path);
    }
    memcpy(&magic, data, 4);
    memcpy(&count, data + 4, 8);
    memcpy(&crc, data + n - 4, 4);
    if (magic != PAYLOAD_MAGIC || crc != (uint32_t)crc32(0L, data, (uInt)(n - 4))) {
        free(data);
        return fail(err, errlen, "%s: corrupt payload snapshot", path);
    }
    size_t at = 12;
    for (uint64_t i = 0; i < count; i++) {
        uint64_t id;
        uint32_t len;
        if (at + 12 > n - 4) {
            free(data);
            return fail(err, errlen, "%s: truncated", path);
        }
        memcpy(&id, data + at, 8);
        memcpy(&len, data + at + 8, 4);
        at += 12;
        if (at + len > n - 4) {
            free(data);
            return fail(err, errlen, "%s: truncated", path);
        }
        char *value = malloc(len + 1);
        if (value == NULL) {
            free(data);
            return fail(err, errlen, "out of memory");
        }
        memcpy(value, data + at, len);
        value[len] = '\0';
        at += len;
        payload_set(c, id, value);
    }
    c->snapshot_bytes = n + c->dim * 4ull * fl_index_count(c->index);
    free(data);
    return 0;
}

/* ---- the operation log ----------------------------------------------------- */

static int apply_record(fl_collection *c, const unsigned char *body, size_t len)
{
    if (len < 5)
        return -1;
    uint8_t op = body[0];
    uint32_t n;
    memcpy(&n, body + 1, 4);
    size_t at = 5;
    uint64_t *ids = calloc(n ? n : 1, sizeof *ids);
    float *vectors = op == OP_UPSERT ? malloc((n ? n : 1) * c->dim * sizeof *vectors) : NULL;
    char **values = op == OP_UPSERT ? calloc(n ? n : 1, sizeof *values) : NULL;
    int rc = ids == NULL || (op == OP_UPSERT && (vectors == NULL || values == NULL)) ? -1 : 0;
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        if (at + 8 > len) {
            rc = -1;
            break;
        }
        memcpy(&ids[i], body + at, 8);
        at += 8;
        if (op != OP_UPSERT)
            continue;
        uint32_t plen;
        if (at + 4 > len || (memcpy(&plen, body + at, 4), at + 4 + plen + c->dim * 4ull > len)) {
            rc = -1;
            break;
        }
        at += 4;
        values[i] = malloc(plen + 1);
        if (values[i] == NULL) {
            rc = -1;
            break;
        }
        memcpy(values[i], body + at, plen);
        values[i][plen] = '\0';
        at += plen;
        memcpy(vectors + (size_t)i * c->dim, body + at, c->dim * 4u);
        at += c->dim * 4u;
    }
    if (rc == 0 && op == OP_UPSERT) {
        rc = fl_index_upsert(c->index, n, ids, vectors);
        for (uint32_t i = 0; rc == 0 && i < n; i++) {
            payload_set(c, ids[i], values[i]);
            values[i] = NULL;
        }
    } else if (rc == 0 && op == OP_REMOVE) {
        rc = fl_index_remove(c->index, n, ids);
        for (uint32_t i = 0; rc == 0 && i < n; i++)
            payload_del(c, ids[i]);
    } else if (rc == 0) {
        rc = -1;
    }
    for (uint32_t i = 0; values != NULL && i < n; i++)
        free(values[i]);
    free(values);
    free(vectors);
    free(ids);
    return rc;
}

/* Replay log-G; cut off a torn or corrupt tail (never acknowledged). */
static int replay_log(fl_collection *c, char *err, size_t errlen)
{
    char path[4096];
    path_of(c, path, sizeof path, "log", c->generation);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return fail(err, errlen, "%s: %s", path, strerror(errno));
    uint64_t good = 0;
    for (;;) {
        uint32_t head[3];
        ssize_t got = pread(fd, head, sizeof head, (off_t)good);
        if (got != (ssize_t)sizeof head || head[0] != LOG_MAGIC)
            break;
        unsigned char *body = malloc(head[1] ? head[1] : 1);
        if (body == NULL) {
            close(fd);
            return fail(err, errlen, "out of memory");
        }
        got = pread(fd, body, head[1], (off_t)(good + sizeof head));
        int valid = got == (ssize_t)head[1] &&
                    (uint32_t)crc32(0L, body, head[1]) == head[2];
        if (valid && apply_record(c, body, head[1]) != 0) {
            free(body);
            close(fd);
            return fail(err, errlen, "%s: cannot apply record at %" PRIu64,
                        path, good);
        }
        free(body);
        if (!valid)
            break;
        good += sizeof head + head[1];
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && (uint64_t)st.st_size > good) {
        if (ftruncate(fd, (off_t)good) != 0 || fsync(fd) != 0) {
            close(fd);
            return fail(err, errlen, "%s: cannot cut the torn tail: %s", path,
                        strerror(errno));
        }
    }
    c->log_fd = fd;
    c->log_bytes = good;
    lseek(fd, (off_t)good, SEEK_SET);
    return 0;
}

static int append_record(fl_collection *c, const buf *body, char *err,
                         size_t errlen)
{
    uint32_t head[3] = {LOG_MAGIC, (uint32_t)body->len,
                        (uint32_t)crc32(0L, body->data, (uInt)body->len)};
    if (write_all(c->log_fd, head, sizeof head) != 0 ||
        write_all(c->log_fd, body->data, body->len) != 0 ||
        (c->durable && fdatasync(c->log_fd) != 0)) {
        int saved = errno;
        /* Leave no half record behind for the next append to follow. */
        if (ftruncate(c->log_fd, (off_t)c->log_bytes) == 0)
            lseek(c->log_fd, (off_t)c->log_bytes, SEEK_SET);
        return fail(err, errlen, "writing the log: %s", strerror(saved));
    }
    c->log_bytes += sizeof head + body->len;
    return 0;
}

/* ---- generations ----------------------------------------------------------- */

static void remove_generation(fl_collection *c, uint64_t gen)
{
    static const char *const what[] = {"index", "payloads", "log"};
    char path[4096];
    for (size_t i = 0; i < 3; i++) {
        path_of(c, path, sizeof path, what[i], gen);
        unlink(path);
    }
}

/* Rebuild the index when its shape no longer suits its size: flat past the
 * threshold, IVF under half of it, or IVF cells off by more than sqrt(2)
 * from sqrt(n) (the count doubled or halved since they were trained), so a
 * query reads nprobe lists of about sqrt(n) vectors.  The hysteresis keeps
 * a collection near a boundary from rebuilding at every compaction. */
static int reshape(fl_collection *c, char *err, size_t errlen)
{
    uint64_t n = fl_index_count(c->index);
    size_t cells = fl_index_cells(c->index), want = cells;
    size_t ideal = (size_t)llround(sqrt((double)n));
    double squared = (double)cells * (double)cells;
    if (c->ivf_threshold == 0)
        want = 0;
    else if (cells == 0 && n >= c->ivf_threshold)
        want = ideal;
    else if (cells > 0 && n < c->ivf_threshold / 2)
        want = 0;
    else if (cells > 0 && ((double)n > 2.0 * squared || (double)n < 0.5 * squared))
        want = ideal;
    if (want == cells)
        return 0;
    fl_index *rebuilt = fl_index_rebuild(c->index, want);
    if (rebuilt == NULL)
        return fail(err, errlen, "rebuilding the index with %zu cells: %s", want,
                    fl_index_error());
    fl_index_free(c->index);
    c->index = rebuilt;
    fl_collection_tune(c);
    return 0;
}

/* Write generation gen in full, then make it current. */
static int write_generation(fl_collection *c, uint64_t gen, char *err,
                            size_t errlen)
{
    char path[4096];
    /* A failed rebuild keeps the index it had: still correct, only slower. */
    (void)reshape(c, err, errlen);
    path_of(c, path, sizeof path, "index", gen);
    if (fl_index_write(c->index, path) != 0)
        return fail(err, errlen, "writing %s: %s", path, fl_index_error());
    if (c->durable && fsync_path(path, 0) != 0)
        return fail(err, errlen, "%s: %s", path, strerror(errno));
    if (write_payloads(c, gen) != 0)
        return fail(err, errlen, "writing payloads: %s", strerror(errno));
    path_of(c, path, sizeof path, "log", gen);
    if (write_file_durably(path, "", 0, c->durable) != 0)
        return fail(err, errlen, "%s: %s", path, strerror(errno));
    if (write_meta(c, gen) != 0) /* the commit point */
        return fail(err, errlen, "writing metadata: %s", strerror(errno));
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return fail(err, errlen, "%s: %s", path, strerror(errno));
    uint64_t old = c->generation;
    if (c->log_fd >= 0)
        close(c->log_fd);
    c->log_fd = fd;
    c->log_bytes = 0;
    c->generation = gen;
    if (old != 0 && old != gen)
        remove_generation(c, old);
    return 0;
}

int fl_collection_compact(fl_collection *c, char *err, size_t errlen)
{
    return write_generation(c, c->generation + 1, err, errlen);
}

void fl_collection_tune(fl_collection *c)
{
    fl_index_set_nprobe(c->index, c->nprobe);
}

static void maybe_compact(fl_collection *c)
{
    uint64_t limit = (uint64_t)((double)c->snapshot_bytes * c->compact_ratio);
    if (limit < COMPACT_MIN_BYTES)
        limit = COMPACT_MIN_BYTES;
    if (c->log_bytes <= limit)
        return;
    char err[512];
    /* A failed compaction loses nothing: the log still holds everything. */
    (void)fl_collection_compact(c, err, sizeof err);
}

/* ---- public ----------------------------------------------------------------- */

int fl_collection_exists(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/meta.json", dir);
    return access(path, F_OK) == 0;
}

int fl_collection_half_deleted(const char *dir)
{
    fl_collection probe = {.dir = (char *)dir};
    char err[256], path[4096];
    if (read_meta(&probe, err, sizeof err) != 0)
        return 0;
    static const char *const parts[] = {"index", "payloads"};
    for (size_t i = 0; i < 2; i++) {
        path_of(&probe, path, sizeof path, parts[i], probe.generation);
        if (access(path, F_OK) != 0 && errno == ENOENT)
            return 1;
    }
    return 0;
}

static fl_collection *alloc_collection(const char *dir)
{
    fl_collection *c = calloc(1, sizeof *c);
    if (c == NULL || (c->dir = strdup(dir)) == NULL) {
        free(c);
        return NULL;
    }
    c->log_fd = -1;
    c->compact_ratio = 1.0;
    c->durable = 1;
    c->ivf_threshold = FL_IVF_THRESHOLD;
    c->nprobe = FL_NPROBE;
    return c;
}

fl_collection *fl_collection_create(const char *dir, uint32_t dim, int metric,
                                    const char *identity, char *err,
                                    size_t errlen)
{
    fl_collection_destroy(dir);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        fail(err, errlen, "%s: %s", dir, strerror(errno));
        return NULL;
    }
    fl_collection *c = alloc_collection(dir);
    if (c == NULL) {
        fail(err, errlen, "out of memory");
        return NULL;
    }
    c->dim = dim;
    c->metric = metric;
    snprintf(c->identity, sizeof c->identity, "%s", identity);
    c->index = fl_index_new(dim, metric == 3 /* EMBSYNC_METRIC_EUCLID */);
    if (c->index == NULL || write_generation(c, 1, err, errlen) != 0) {
        if (c->index == NULL)
            fail(err, errlen, "cannot create a FAISS index: %s", fl_index_error());
        fl_collection_close(c);
        return NULL;
    }
    return c;
}

fl_collection *fl_collection_open(const char *dir, char *err, size_t errlen)
{
    fl_collection *c = alloc_collection(dir);
    if (c == NULL) {
        fail(err, errlen, "out of memory");
        return NULL;
    }
    char path[4096];
    if (read_meta(c, err, errlen) != 0)
        goto fail;
    path_of(c, path, sizeof path, "index", c->generation);
    c->index = fl_index_read(path);
    if (c->index == NULL) {
        fail(err, errlen, "%s: %s", path, fl_index_error());
        goto fail;
    }
    if (fl_index_dim(c->index) != c->dim) {
        fail(err, errlen, "%s: dimension %u, metadata says %u", path,
             fl_index_dim(c->index), c->dim);
        goto fail;
    }
    fl_collection_tune(c);
    if (read_payloads(c, err, errlen) != 0 || replay_log(c, err, errlen) != 0)
        goto fail;
    /* Leftovers of a compaction cut short by a crash, before or after its
     * commit point. */
    remove_generation(c, c->generation + 1);
    if (c->generation > 1)
        remove_generation(c, c->generation - 1);
    return c;
fail:
    fl_collection_close(c);
    return NULL;
}

void fl_collection_close(fl_collection *c)
{
    if (c == NULL)
        return;
    if (c->log_fd >= 0)
        close(c->log_fd);
    for (ptrdiff_t i = 0; i < hmlen(c->payloads); i++)
        free(c->payloads[i].value);
    hmfree(c->payloads);
    fl_id_list_free(c);
    fl_index_free(c->index);
    free(c->dir);
    free(c);
}

int fl_collection_upsert(fl_collection *c, size_t n, const uint64_t *ids,
                         const float *vectors, const char *const *payloads,
                         char *err, size_t errlen)
{
    buf body = {0};
    uint8_t op = OP_UPSERT;
    uint32_t count = (uint32_t)n;
    int rc = buf_put(&body, &op, 1) | buf_put(&body, &count, 4);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        uint32_t plen = (uint32_t)strlen(payloads[i]);
        rc = buf_put(&body, &ids[i], 8) | buf_put(&body, &plen, 4) |
             buf_put(&body, payloads[i], plen) |
             buf_put(&body, vectors + i * c->dim, c->dim * 4u);
    }
    if (rc != 0) {
        free(body.data);
        return fail(err, errlen, "out of memory");
    }
    /* Durable first: the record is the acknowledgement's guarantee. */
    rc = append_record(c, &body, err, errlen);
    if (rc == 0 && apply_record(c, body.data, body.len) != 0)
        rc = fail(err, errlen, "applying the upsert: %s", fl_index_error());
    free(body.data);
    if (rc == 0)
        maybe_compact(c);
    return rc;
}

int fl_collection_remove(fl_collection *c, size_t n, const uint64_t *ids,
                         char *err, size_t errlen)
{
    buf body = {0};
    uint8_t op = OP_REMOVE;
    uint32_t count = (uint32_t)n;
    int rc = buf_put(&body, &op, 1) | buf_put(&body, &count, 4) |
             buf_put(&body, ids, n * 8);
    if (rc != 0) {
        free(body.data);
        return fail(err, errlen, "out of memory");
    }
    rc = append_record(c, &body, err, errlen);
    if (rc == 0 && apply_record(c, body.data, body.len) != 0)
        rc = fail(err, errlen, "applying the removal: %s", fl_index_error());
    free(body.data);
    if (rc == 0)
        maybe_compact(c);
    return rc;
}

const char *fl_collection_payload(fl_collection *c, uint64_t id)
{
    ptrdiff_t at = hmgeti(c->payloads, id);
    return at >= 0 ? c->payloads[at].value : NULL;
}

/* Delete a directory of collection files: meta.json first, so that even a
 * tree cut short here does not define a collection any more. */
static int remove_tree(const char *dir)
{
    char path[4352];
    snprintf(path, sizeof path, "%s/meta.json", dir);
    if (unlink(path) != 0 && errno != ENOENT && errno != ENOTDIR)
        return -1;
    DIR *d = opendir(dir);
    if (d == NULL)
        return errno == ENOENT ? 0 : -1;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        unlink(path);
    }
    closedir(d);
    return rmdir(dir) == 0 || errno == ENOENT ? 0 : -1;
}

/* Where a dropped collection waits to be deleted: beside the collections,
 * under a name none of them can have (theirs never start with a dot). */
static int trash_of(const char *dir, char *out, size_t len)
{
    const char *slash = strrchr(dir, '/');
    int n = slash != NULL
                ? snprintf(out, len, "%.*s/%s%s", (int)(slash - dir), dir,
                           FL_DROPPED_PREFIX, slash + 1)
                : snprintf(out, len, "%s%s", FL_DROPPED_PREFIX, dir);
    return n > 0 && (size_t)n < len ? 0 : -1;
}

int fl_collection_destroy(const char *dir)
{
    char trash[4352], parent[4096];
    if (trash_of(dir, trash, sizeof trash) != 0)
        return -1;
    /* What an earlier drop cut short, first: the name is needed. */
    if (remove_tree(trash) != 0)
        return -1;
    /* The rename is the drop: atomic, so a crash leaves the collection
     * whole or gone, and the deleting after it is finished on the next
     * start (fl_collection_sweep) if it is cut short. */
    if (rename(dir, trash) != 0)
        return errno == ENOENT ? 0 : -1;
    const char *slash = strrchr(dir, '/');
    snprintf(parent, sizeof parent, "%.*s", slash ? (int)(slash - dir) : 1,
             slash ? dir : ".");
    if (fsync_path(parent, 1) != 0)
        return -1;
    return remove_tree(trash);
}

int fl_collection_sweep(const char *root)
{
    DIR *d = opendir(root);
    if (d == NULL)
        return errno == ENOENT ? 0 : -1;
    int rc = 0;
    struct dirent *de;
    char path[4352];
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, FL_DROPPED_PREFIX, strlen(FL_DROPPED_PREFIX)) != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", root, de->d_name);
        if (remove_tree(path) != 0)
            rc = -1;
    }
    closedir(d);
    return rc;
}
