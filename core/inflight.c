#include <config.h>

#include "inflight.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "calls.h"
#include "statefile.h"

/* Items asked about and removed per plugin call while resolving. */
#define RESOLVE_CHUNK 256

int es_inflight_open(es_inflight *f, const char *state_dir,
                     const char *collection)
{
    f->path = NULL;
    f->fd = -1;
    char name[768], dir[4096], path[4096];
    if (es_path_component(collection, name, sizeof name) != 0)
        return -1;
    snprintf(dir, sizeof dir, "%s/core/pending", state_dir);
    if (es_mkdirs(dir) != 0)
        return -1;
    if (snprintf(path, sizeof path, "%s/%s.log", dir, name) >= (int)sizeof path)
        return -1;
    f->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (f->fd < 0 || (f->path = strdup(path)) == NULL) {
        es_inflight_close(f);
        return -1;
    }
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

/* The batch's lines are built in one buffer, without a stdio call per
 * character, and written with one write() and one fdatasync(). */
int es_inflight_record(es_inflight *f, size_t n, const embsync_change *items)
{
    /* "U\t" + 20 digits + "\t" + the escaped ref + "\n" */
    size_t cap = 1;
    for (size_t i = 0; i < n; i++)
        cap += 24 + (items[i].ref != NULL ? 3 * strlen(items[i].ref) : 0) + 1;
    char *text = malloc(cap);
    if (text == NULL)
        return -1;
    char *at = text;
    for (size_t i = 0; i < n; i++) {
        at += snprintf(at, 24, "%c\t%" PRIu64 "\t",
                       items[i].op == EMBSYNC_OP_DELETE ? 'D' : 'U', items[i].id);
        if (items[i].ref != NULL)
            at = put_escaped(at, items[i].ref);
        *at++ = '\n';
    }
    size_t len = (size_t)(at - text), off = 0;
    while (off < len) {
        ssize_t w = write(f->fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            free(text);
            return -1;
        }
        off += (size_t)w;
    }
    free(text);
    return fdatasync(f->fd);
}

int es_inflight_clear(es_inflight *f)
{
    return ftruncate(f->fd, 0);
}

void es_inflight_items_free(es_inflight_item *items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(items[i].ref);
    free(items);
}

int es_inflight_load(const es_inflight *f, es_inflight_item **items, size_t *n)
{
    *items = NULL;
    *n = 0;
    int fd = dup(f->fd);
    FILE *fp = fd >= 0 ? fdopen(fd, "r") : NULL;
    if (fp == NULL) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    rewind(fp);
    es_inflight_item *list = NULL;
    size_t count = 0, cap = 0;
    char *line = NULL;
    size_t line_cap = 0;
    ssize_t len;
    int rc = 0;
    while ((len = getline(&line, &line_cap, fp)) > 0) {
        if (line[len - 1] != '\n')
            break; /* torn: the store never saw that batch */
        line[len - 1] = '\0';
        char op;
        uint64_t id;
        int at = 0;
        if (sscanf(line, "%c\t%" SCNu64 "\t%n", &op, &id, &at) != 2 || at == 0 ||
            (op != 'U' && op != 'D'))
            continue;
        unescape(line + at);
        size_t k = 0;
        while (k < count && list[k].id != id)
            k++;
        if (k == count) {
            if (count == cap) {
                size_t grown_cap = cap ? cap * 2 : 64;
                es_inflight_item *grown = realloc(list, grown_cap * sizeof *grown);
                if (grown == NULL) {
                    rc = -1;
                    break;
                }
                list = grown;
                cap = grown_cap;
            }
            list[count++] = (es_inflight_item){.id = id};
        }
        free(list[k].ref);
        list[k].op = op == 'D' ? EMBSYNC_OP_DELETE : EMBSYNC_OP_UPSERT;
        list[k].ref = line[at] != '\0' ? strdup(line + at) : NULL;
    }
    free(line);
    fclose(fp);
    if (rc != 0) {
        es_inflight_items_free(list, count);
        return -1;
    }
    *items = list;
    *n = count;
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
