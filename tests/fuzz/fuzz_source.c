/* A source plugin's parsing of its server's answers, through its ops
 * table: listings, project and image infos, custom data, downloads. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "fuzz_host.h"
#include "fuzz_plugin.h"

#define KEEP 16

typedef struct kept {
    embsync_change changes[KEEP];
    size_t n;
    char collection[64];
} kept;

static char *dup_or_null(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

static int keep(embsync_change_sink *sink, const embsync_change *changes,
                size_t n)
{
    kept *k = sink->host_private;
    for (size_t i = 0; i < n && k->n < KEEP; i++) {
        embsync_change *c = &k->changes[k->n++];
        *c = changes[i];
        c->ref = dup_or_null(changes[i].ref);
        c->version = dup_or_null(changes[i].version);
        c->payload = dup_or_null(changes[i].payload);
    }
    return EMBSYNC_OK;
}

static void set_total(embsync_change_sink *sink, uint64_t total)
{
    (void)sink, (void)total;
}

static int first_collection(void *arg, const char *name)
{
    kept *k = arg;
    if (k->collection[0] == '\0' && strlen(name) < sizeof k->collection)
        strcpy(k->collection, name);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const embsync_plugin *p = embsync_plugin_entry();
    const embsync_source_ops *ops = p->ops;
    fuzz_host_configure(p, fuzz_settings);
    fuzz_host_input(data, size);
    void *st = NULL;
    if (ops->open(&fuzz_host, fuzz_ctx(), &st) != EMBSYNC_OK || st == NULL)
        return 0;
    kept k = {.n = 0};
    if (ops->check != NULL)
        ops->check(st);
    ops->list_collections(st, first_collection, &k);
    const char *coll = k.collection[0] ? k.collection : fuzz_collection;
    if (ops->begin(st, coll) == EMBSYNC_OK) {
        embsync_change_sink sink = {.abi = EMBSYNC_ABI_INIT(embsync_change_sink),
                                    .emit = keep, .set_total = set_total,
                                    .host_private = &k};
        ops->changes(st, coll, &sink);
        size_t n_up = 0;
        embsync_change up[KEEP];
        for (size_t i = 0; i < k.n; i++)
            if (k.changes[i].op == EMBSYNC_OP_UPSERT)
                up[n_up++] = k.changes[i];
        embsync_blob blobs[KEEP];
        int status[KEEP];
        for (size_t i = 0; i < n_up; i++) {
            memset(&blobs[i], 0, sizeof blobs[i]);
            blobs[i].abi = (embsync_abi)EMBSYNC_ABI_INIT(embsync_blob);
        }
        if (n_up > 0)
            ops->fetch(st, coll, n_up, up, blobs, status);
        for (size_t i = 0; i < n_up; i++)
            es_blob_release(&blobs[i]);
        if (ops->exists != NULL && k.n > 0) {
            int present[KEEP];
            ops->exists(st, coll, k.n, k.changes, present);
        }
        if (ops->items != NULL) {
            kept more = {.n = 0};
            embsync_change_sink all = sink;
            all.host_private = &more;
            ops->items(st, coll, &all);
            for (size_t i = 0; i < more.n; i++) {
                free((char *)more.changes[i].ref);
                free((char *)more.changes[i].version);
                free((char *)more.changes[i].payload);
            }
        }
        if (k.n > 0)
            ops->ack(st, coll, k.n, k.changes);
        if (ops->reset != NULL)
            ops->reset(st, coll);
        ops->end(st, coll, EMBSYNC_OK);
    }
    for (size_t i = 0; i < k.n; i++) {
        free((char *)k.changes[i].ref);
        free((char *)k.changes[i].version);
        free((char *)k.changes[i].payload);
    }
    ops->close(st);
    return 0;
}
