#include <config.h>

#include "inflight.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>

#include "calls.h"
#include "statefile.h"

/* Items asked about and removed per plugin call while resolving. */
#define RESOLVE_CHUNK 256

/* The record is rewritten in place instead of appended to and truncated:
 * truncating freed the file's blocks and the next batch allocated them
 * again, so every batch paid a truncation and an fdatasync that also wrote
 * the inode (size and blocks changed).  Overwriting blocks already there
 * leaves fdatasync only the data to write.
 *
 * The file is a sequence of records, each "R<TAB>LEN<TAB>XXH3<LF>" (decimal
 * byte length and 16 hex digits of the XXH3-64 of the LEN bytes of lines
 * that follow), ended by a "-<LF>" line; what lies past the end marker is
 * an older, longer record's leftovers.  A record whose length or hash does
 * not match was torn by a crash before its fdatasync returned, so the
 * store never saw that batch: reading stops there.  A file of bare lines
 * is a record written by embsync 1.3 and before, read as it was then. */
#define END_MARK "-\n"

typedef int (*line_fn)(void *arg, char *line);

/* Each complete line of [at, end) to `line` (may be NULL), up to a torn
 * one; *stop is where they ended.  0, or -1 when `line` failed. */
static int each_line(char *at, char *end, char **stop, line_fn line, void *arg)
{
    while (at < end) {
        char *nl = memchr(at, '\n', (size_t)(end - at));
        if (nl == NULL)
            break; /* torn: the store never saw that batch */
        *nl = '\0';
        int rc = line != NULL ? line(arg, at) : 0;
        *nl = '\n';
        if (rc != 0)
            return -1;
        at = nl + 1;
    }
    *stop = at;
    return 0;
}

/* The records from the start of buf (size bytes), each complete line of
 * them to `line` (may be NULL); *next is where the next record goes (the
 * end mark, or where reading stopped).  0, or -1 when `line` failed. */
static int scan(char *buf, size_t size, size_t *next, line_fn line, void *arg)
{
    size_t at = 0;
    *next = 0;
    if (size > 0 && (buf[0] == 'U' || buf[0] == 'D')) {
        /* The 1.3 format: complete lines up to a torn one. */
        char *stop;
        int rc = each_line(buf, buf + size, &stop, line, arg);
        *next = (size_t)(stop - buf);
        return rc;
    }
    while (at < size && buf[at] == 'R') {
        char *nl = memchr(buf + at, '\n', size - at);
        unsigned long long len, hash;
        int used = 0;
        if (nl == NULL || nl - (buf + at) > 64)
            break;
        *nl = '\0';
        if (sscanf(buf + at, "R\t%llu\t%16llx%n", &len, &hash, &used) != 2 ||
            buf + at + used != nl) {
            *nl = '\n';
            break;
        }
        *nl = '\n';
        size_t body = (size_t)(nl + 1 - buf);
        char *stop;
        if (len > size - body || XXH3_64bits(buf + body, (size_t)len) != hash)
            break;
        if (each_line(buf + body, buf + body + len, &stop, line, arg) != 0)
            return -1;
        at = body + (size_t)len;
        *next = at;
    }
    return 0;
}

/* The whole file, NUL-terminated; *size its length.  NULL on failure. */
static char *read_all(int fd, size_t *size)
{
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    while (buf != NULL) {
        if (len + 1 >= cap) {
            char *grown = realloc(buf, cap * 2);
            if (grown == NULL)
                break;
            buf = grown;
            cap *= 2;
        }
        ssize_t r = pread(fd, buf + len, cap - len - 1, (off_t)len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            break;
        if (r == 0) {
            buf[len] = '\0';
            *size = len;
            return buf;
        }
        len += (size_t)r;
    }
    free(buf);
    return NULL;
}

int es_inflight_open(es_inflight *f, const char *state_dir,
                     const char *collection)
{
    f->path = NULL;
    f->fd = -1;
    f->end = 0;
    char name[768], dir[4096], path[4096];
    if (es_path_component(collection, name, sizeof name) != 0)
        return -1;
    snprintf(dir, sizeof dir, "%s/core/pending", state_dir);
    if (es_mkdirs(dir) != 0)
        return -1;
    if (snprintf(path, sizeof path, "%s/%s.log", dir, name) >= (int)sizeof path)
        return -1;
    f->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (f->fd < 0 || (f->path = strdup(path)) == NULL) {
        es_inflight_close(f);
        return -1;
    }
    /* A record left by the last run is kept until it is resolved: later
     * batches go after it. */
    size_t size;
    char *buf = read_all(f->fd, &size);
    if (buf == NULL || scan(buf, size, &f->end, NULL, NULL) != 0) {
        free(buf);
        es_inflight_close(f);
        return -1;
    }
    free(buf);
    return 0;
}

void es_inflight_close(es_inflight *f)
{
    if (f->fd >= 0)
        close(f->fd);
    free(f->path);
    f->fd = -1;
    f->path = NULL;
}

/* s with %, tab, CR and LF as %XX, at out (room for 3 × strlen(s)); the
 * end of what was written. */
static char *put_escaped(char *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '%' || c == '\t' || c == '\n' || c == '\r') {
            *out++ = '%';
            *out++ = hex[c >> 4];
            *out++ = hex[c & 15];
        } else {
            *out++ = (char)c;
        }
    }
    return out;
}

static void unescape(char *s)
{
    char *out = s;
    for (; *s; s++) {
        unsigned v;
        if (*s == '%' && sscanf(s + 1, "%2X", &v) == 1) {
            *out++ = (char)v;
            s += 2;
        } else {
            *out++ = *s;
        }
    }
    *out = '\0';
}

static int put_all(int fd, const char *text, size_t len, off_t at)
{
    size_t off = 0;
    while (off < len) {
        ssize_t w = pwrite(fd, text + off, len - off, at + (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        off += (size_t)w;
    }
    return 0;
}

/* The batch's record is built in one buffer, without a stdio call per
 * character, and written with one pwrite() and one fdatasync(). */
#define HEAD_MAX 48 /* "R\t" + 20 digits + "\t" + 16 hex digits + "\n" */

int es_inflight_record(es_inflight *f, size_t n, const embsync_change *items)
{
    /* "U\t" + 20 digits + "\t" + the escaped ref + "\n" */
    size_t cap = HEAD_MAX + sizeof END_MARK;
    for (size_t i = 0; i < n; i++)
        cap += 24 + (items[i].ref != NULL ? 3 * strlen(items[i].ref) : 0) + 1;
    char *text = malloc(cap);
    if (text == NULL)
        return -1;
    char *body = text + HEAD_MAX, *at = body;
    for (size_t i = 0; i < n; i++) {
        at += snprintf(at, 24, "%c\t%" PRIu64 "\t",
                       items[i].op == EMBSYNC_OP_DELETE ? 'D' : 'U', items[i].id);
        if (items[i].ref != NULL)
            at = put_escaped(at, items[i].ref);
        *at++ = '\n';
    }
    size_t len = (size_t)(at - body);
    char head[HEAD_MAX + 1];
    int hlen = snprintf(head, sizeof head, "R\t%zu\t%016llx\n", len,
                        (unsigned long long)XXH3_64bits(body, len));
    char *start = body - hlen;
    memcpy(start, head, (size_t)hlen);
    memcpy(at, END_MARK, sizeof END_MARK - 1);
    size_t total = (size_t)hlen + len + sizeof END_MARK - 1;
    int rc = put_all(f->fd, start, total, (off_t)f->end);
    free(text);
    if (rc != 0 || fdatasync(f->fd) != 0)
        return -1;
    f->end += total - (sizeof END_MARK - 1); /* the next record replaces the mark */
    return 0;
}

/* No fsync: a clear lost in a crash only makes the next run resolve items
 * that were acknowledged (inflight.h). */
int es_inflight_clear(es_inflight *f)
{
    if (put_all(f->fd, END_MARK, sizeof END_MARK - 1, 0) != 0)
        return -1;
    f->end = 0;
    return 0;
}

void es_inflight_items_free(es_inflight_item *items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(items[i].ref);
    free(items);
}

typedef struct loading {
    es_inflight_item *list;
    size_t count, cap;
} loading;

static int load_line(void *arg, char *line)
{
    loading *l = arg;
    char op;
    uint64_t id;
    int at = 0;
    if (sscanf(line, "%c\t%" SCNu64 "\t%n", &op, &id, &at) != 2 || at == 0 ||
        (op != 'U' && op != 'D'))
        return 0;
    unescape(line + at);
    size_t k = 0;
    while (k < l->count && l->list[k].id != id)
        k++;
    if (k == l->count) {
        if (l->count == l->cap) {
            size_t grown_cap = l->cap ? l->cap * 2 : 64;
            es_inflight_item *grown = realloc(l->list, grown_cap * sizeof *grown);
            if (grown == NULL)
                return -1;
            l->list = grown;
            l->cap = grown_cap;
        }
        l->list[l->count++] = (es_inflight_item){.id = id};
    }
    free(l->list[k].ref);
    l->list[k].op = op == 'D' ? EMBSYNC_OP_DELETE : EMBSYNC_OP_UPSERT;
    l->list[k].ref = line[at] != '\0' ? strdup(line + at) : NULL;
    return 0;
}

int es_inflight_load(const es_inflight *f, es_inflight_item **items, size_t *n)
{
    *items = NULL;
    *n = 0;
    size_t size, next;
    char *buf = read_all(f->fd, &size);
    if (buf == NULL)
        return -1;
    loading l = {0};
    int rc = scan(buf, size, &next, load_line, &l);
    free(buf);
    if (rc != 0) {
        es_inflight_items_free(l.list, l.count);
        return -1;
    }
    *items = l.list;
    *n = l.count;
    return 0;
}

/* Ask the source about one chunk and remove what is gone from each store
 * collection of `stores` (NULL-terminated). */
static int resolve_chunk(const char *collection, const char *const *stores,
                         es_instance *source, es_instance *store,
                         es_ledger *ledger, const es_inflight_item *items,
                         size_t n, es_inflight_outcome *out)
{
    embsync_change changes[RESOLVE_CHUNK] = {0};
    int present[RESOLVE_CHUNK];
    uint64_t gone[RESOLVE_CHUNK];
    for (size_t i = 0; i < n; i++) {
        changes[i] = (embsync_change){
            .abi = EMBSYNC_ABI_INIT(embsync_change),
            .id = items[i].id,
            .op = items[i].op,
            .ref = items[i].ref,
        };
        present[i] = 1;
    }
    int rc = es_source_exists(source, collection, n, changes, present);
    if (rc != EMBSYNC_OK)
        return rc;
    size_t ngone = 0;
    for (size_t i = 0; i < n; i++)
        if (!present[i])
            gone[ngone++] = items[i].id;
    if (ngone > 0) {
        for (size_t k = 0; stores[k] != NULL; k++)
            if ((rc = es_store_remove(store, stores[k], ngone, gone)) !=
                EMBSYNC_OK)
                return rc;
        if (ledger != NULL)
            es_ledger_forget(ledger, ngone, gone);
    }
    out->present += n - ngone;
    out->removed += ngone;
    return EMBSYNC_OK;
}

int es_inflight_prune_ledger(const char *collection, es_instance *source,
                             es_instance *store, es_ledger *ledger,
                             size_t *forgotten)
{
    *forgotten = 0;
    if (source->module->ops.source.exists == NULL)
        return EMBSYNC_OK;
    es_inflight_item items[RESOLVE_CHUNK];
    es_ledger_entry entry;
    int rc = EMBSYNC_OK;
    /* Entries are sorted by id and only ever removed here: after a chunk,
     * the next one starts past the last id asked about. */
    uint64_t next = 0;
    int more = 1;
    while (more && rc == EMBSYNC_OK) {
        size_t n = 0;
        more = 0;
        for (size_t i = 0; es_ledger_entry_at(ledger, i, &entry) == 0; i++) {
            if (entry.id < next)
                continue;
            if (n == RESOLVE_CHUNK) {
                more = 1;
                break;
            }
            items[n++] = (es_inflight_item){
                .id = entry.id,
                .op = EMBSYNC_OP_UPSERT,
                .ref = entry.ref[0] != '\0' ? strdup(entry.ref) : NULL,
            };
        }
        if (n == 0)
            break;
        next = items[n - 1].id + 1;
        es_inflight_outcome out = {0};
        const char *stores[] = {collection, NULL};
        rc = resolve_chunk(collection, stores, source, store, ledger, items, n,
                           &out);
        *forgotten += out.removed;
        for (size_t i = 0; i < n; i++)
            free(items[i].ref);
        if (next == 0) /* wrapped past the largest id */
            break;
    }
    return rc;
}

int es_inflight_resolve(es_inflight *f, const char *collection,
                        es_instance *source, es_instance *store,
                        es_ledger *ledger, es_inflight_outcome *out)
{
    const char *stores[] = {collection, NULL};
    return es_inflight_resolve_in(f, collection, stores, source, store, ledger,
                                  out);
}

int es_inflight_resolve_in(es_inflight *f, const char *collection,
                           const char *const *stores, es_instance *source,
                           es_instance *store, es_ledger *ledger,
                           es_inflight_outcome *out)
{
    memset(out, 0, sizeof *out);
    es_inflight_item *items;
    size_t n;
    es_call_begin();
    if (es_inflight_load(f, &items, &n) != 0)
        return EMBSYNC_FAILED;
    out->recorded = n;
    int rc = EMBSYNC_OK;
    if (n > 0 && source->module->ops.source.exists == NULL) {
        /* Nothing can tell a deleted item from a live one here: the live
         * ones come back through changes(); the caller says that orphans
         * are left to reconciliation. */
        out->unchecked = 1;
        out->present = n;
    } else {
        for (size_t at = 0; at < n && rc == EMBSYNC_OK; at += RESOLVE_CHUNK)
            rc = resolve_chunk(collection, stores, source, store, ledger,
                               items + at,
                               n - at < RESOLVE_CHUNK ? n - at : RESOLVE_CHUNK,
                               out);
    }
    es_inflight_items_free(items, n);
    /* Cleared only when every item is settled: a failure keeps them all
     * for the next run (resolving twice is harmless). */
    if (rc == EMBSYNC_OK && n > 0 && es_inflight_clear(f) != 0)
        rc = EMBSYNC_FAILED;
    return rc;
}
