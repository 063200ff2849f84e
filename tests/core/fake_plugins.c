#include "fake_plugins.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

fake_world world;

static const embsync_host *host_of;
static embsync_ctx *ctx_of;

void fake_world_reset(size_t n_collections, size_t items_each)
{
    memset(&world, 0, sizeof world);
    world.n_collections = n_collections;
    snprintf(world.model_identity, sizeof world.model_identity, "fake:v1");
    for (size_t c = 0; c < n_collections; c++) {
        snprintf(world.collections[c].name, sizeof world.collections[c].name,
                 "col%zu", c);
        for (size_t i = 0; i < items_each; i++) {
            world.collections[c].items[i].exists = 1;
            world.collections[c].items[i].version = 1;
        }
    }
}

void fake_vector(uint64_t id, unsigned version, float *out)
{
    double norm = 0;
    for (int d = 0; d < FAKE_DIM; d++) {
        out[d] = (float)(1.0 + (double)((id * 7 + version * 3 + (unsigned)d * 5) % 11));
        norm += (double)out[d] * out[d];
    }
    for (int d = 0; d < FAKE_DIM; d++)
        out[d] = (float)(out[d] / sqrt(norm));
}

static fake_collection *col(const char *name)
{
    for (size_t c = 0; c < world.n_collections; c++)
        if (strcmp(world.collections[c].name, name) == 0)
            return &world.collections[c];
    return NULL;
}

static int open_any(const embsync_host *host, embsync_ctx *ctx, void **state)
{
    host_of = host;
    ctx_of = ctx;
    *state = &world;
    return EMBSYNC_OK;
}

static void close_any(void *state)
{
    (void)state;
}

/* ---- source ---- */

static int src_list(void *s, embsync_collection_cb cb, void *arg)
{
    (void)s;
    for (size_t c = 0; c < world.n_collections; c++)
        if (cb(arg, world.collections[c].name) != 0)
            break;
    return EMBSYNC_OK;
}

static int src_begin(void *s, const char *name)
{
    (void)s;
    fake_collection *c = col(name);
    if (c->busy)
        return EMBSYNC_SKIP;
    c->begins++;
    c->begin_seq = ++world.begin_counter;
    return EMBSYNC_OK;
}

static int src_changes(void *s, const char *name, embsync_change_sink *sink)
{
    (void)s;
    fake_collection *c = col(name);
    if (c->fail_changes) {
        host_of->set_error(ctx_of, "listing %s broke", name);
        return EMBSYNC_FAILED;
    }
    /* Emit in pages of 10, like a paged API. */
    embsync_change page[10];
    char versions[10][16], payloads[10][48];
    size_t n = 0;
    for (unsigned i = 0; i < FAKE_MAX_ITEMS; i++) {
        const fake_item *it = &c->items[i];
        int want_upsert = it->exists && c->acked[i] != it->version;
        int want_delete = !it->exists && c->acked[i] != 0;
        if (!want_upsert && !want_delete)
            continue;
        snprintf(versions[n], sizeof versions[n], "%u", it->version);
        snprintf(payloads[n], sizeof payloads[n], "{\"i\":%u,\"v\":%u}", i,
                 it->version);
        page[n] = (embsync_change){
            .abi = EMBSYNC_ABI_INIT(embsync_change),
            .id = i,
            .op = want_upsert ? EMBSYNC_OP_UPSERT : EMBSYNC_OP_DELETE,
            .ref = "ref",
            .version = versions[n],
            .payload = want_upsert ? payloads[n] : NULL,
        };
        if (++n == 10) {
            int rc = sink->emit(sink, page, n);
            if (rc != EMBSYNC_OK)
                return rc;
            n = 0;
        }
    }
    return n > 0 ? sink->emit(sink, page, n) : EMBSYNC_OK;
}

static int src_fetch(void *s, const char *name, size_t n,
                     const embsync_change *items, embsync_blob *out,
                     int *status)
{
    (void)s;
    fake_collection *c = col(name);
    for (size_t k = 0; k < n; k++) {
        const fake_item *it = &c->items[items[k].id];
        char content[48];
        snprintf(content, sizeof content, "%s:%llu:%s:%c",
                 it->undecodable ? "BAD" : "IMG",
                 (unsigned long long)items[k].id, items[k].version,
                 it->bad_vector ? it->bad_vector : '-');
        host_of->blob_set(&out[k], content, strlen(content));
        status[k] = EMBSYNC_OK;
    }
    return EMBSYNC_OK;
}

static int src_ack(void *s, const char *name, size_t n,
                   const embsync_change *done)
{
    (void)s;
    fake_collection *c = col(name);
    for (size_t k = 0; k < n; k++)
        c->acked[done[k].id] = done[k].op == EMBSYNC_OP_DELETE
                                   ? 0
                                   : (unsigned)atoi(done[k].version);
    return EMBSYNC_OK;
}

static int src_reset(void *s, const char *name)
{
    (void)s;
    memset(col(name)->acked, 0, sizeof col(name)->acked);
    world.resets++;
    world.last_reset_call = ++world.calls;
    return EMBSYNC_OK;
}

static int src_end(void *s, const char *name, int status)
{
    (void)s;
    col(name)->ends++;
    col(name)->last_end_status = status;
    return EMBSYNC_OK;
}

static int src_exists(void *s, const char *name, size_t n,
                      const embsync_change *items, int *present)
{
    (void)s;
    fake_collection *c = col(name);
    world.exists_calls++;
    for (size_t k = 0; k < n; k++)
        present[k] = items[k].id < FAKE_MAX_ITEMS && c->items[items[k].id].exists;
    return EMBSYNC_OK;
}

static const embsync_source_ops source_ops = {
    .abi = EMBSYNC_ABI_INIT(embsync_source_ops),
    .open = open_any, .close = close_any,
    .list_collections = src_list, .begin = src_begin,
    .changes = src_changes, .fetch = src_fetch, .ack = src_ack,
    .reset = src_reset, .end = src_end, .exists = src_exists,
};

static const embsync_source_ops source_ops_no_exists = {
    .abi = EMBSYNC_ABI_INIT(embsync_source_ops),
    .open = open_any, .close = close_any,
    .list_collections = src_list, .begin = src_begin,
    .changes = src_changes, .fetch = src_fetch, .ack = src_ack,
    .reset = src_reset, .end = src_end,
};

const embsync_plugin fake_source_plugin_no_exists = {
    .abi = EMBSYNC_ABI_INIT(embsync_plugin),
    .kind = EMBSYNC_KIND_SOURCE, .name = "fakesource11", .version = "1",
    .ops = &source_ops_no_exists,
};

const embsync_plugin fake_source_plugin = {
    .abi = EMBSYNC_ABI_INIT(embsync_plugin),
    .kind = EMBSYNC_KIND_SOURCE, .name = "fakesource", .version = "1",
    .ops = &source_ops,
};

/* ---- embedder ---- */

static int emb_info(void *s, embsync_model_info *info)
{
    (void)s;
    info->dim = FAKE_DIM;
    info->metric = EMBSYNC_METRIC_COSINE;
    snprintf(info->identity, sizeof info->identity, "%s", world.model_identity);
    info->flags = (world.unnormalized ? 0 : EMBSYNC_MODEL_NORMALIZED) | EMBSYNC_MODEL_IMAGE;
    return EMBSYNC_OK;
}

static int emb_images(void *s, size_t n, const embsync_blob *in, float *vectors,
                      int *status)
{
    (void)s;
    for (size_t k = 0; k < n; k++) {
        char text[64];
        snprintf(text, sizeof text, "%.*s", (int)in[k].len,
                 (const char *)in[k].data);
        unsigned long long id;
        unsigned version;
        char bad = '-';
        if (strncmp(text, "BAD", 3) == 0 ||
            sscanf(text, "IMG:%llu:%u:%c", &id, &version, &bad) < 2) {
            status[k] = EMBSYNC_ITEM_FAILED;
            host_of->set_item_error(ctx_of, k, "cannot decode %s", text);
            continue;
        }
        float *v = vectors + k * FAKE_DIM;
        fake_vector(id, version, v);
        switch (bad) {
        case 'n': v[1] = NAN; break;
        case 'i': v[FAKE_DIM - 1] = INFINITY; break;
        case 'j': v[0] = -INFINITY; break;
        case 'h': v[2] = FLT_MAX; break;
        case '2': for (int d = 0; d < FAKE_DIM; d++) v[d] *= (float)sqrt(2.0); break;
        }
        status[k] = EMBSYNC_OK;
    }
    return EMBSYNC_OK;
}

static const embsync_embedder_ops embedder_ops = {
    .abi = EMBSYNC_ABI_INIT(embsync_embedder_ops),
    .open = open_any, .close = close_any,
    .info = emb_info, .embed_images = emb_images,
};

const embsync_plugin fake_embedder_plugin = {
    .abi = EMBSYNC_ABI_INIT(embsync_plugin),
    .kind = EMBSYNC_KIND_EMBEDDER, .name = "fakeembedder", .version = "1",
    .ops = &embedder_ops,
};

/* ---- store ---- */

static fake_store_collection *scol(const char *name)
{
    fake_collection *c = col(name);
    return c != NULL ? &world.store[c - world.collections] : NULL;
}

static int st_ensure(void *s, const char *name,
                     const embsync_collection_spec *spec, int *result)
{
    (void)s;
    fake_store_collection *sc = scol(name);
    if (!sc->exists) {
        memset(sc, 0, sizeof *sc);
        sc->exists = 1;
        sc->dim = spec->dim;
        snprintf(sc->identity, sizeof sc->identity, "%s", spec->identity);
        *result = EMBSYNC_ENSURE_CREATED;
    } else if (sc->dim != spec->dim || strcmp(sc->identity, spec->identity)) {
        *result = EMBSYNC_ENSURE_MISMATCH;
    } else {
        *result = EMBSYNC_ENSURE_EXISTS;
    }
    return EMBSYNC_OK;
}

static int st_upsert(void *s, const char *name, size_t n,
                     const embsync_point *points)
{
    (void)s;
    world.upsert_calls++;
    if (world.retry_upserts > 0) {
        world.retry_upserts--;
        host_of->set_error(ctx_of, "store busy");
        return EMBSYNC_RETRY;
    }
    if (world.fail_upsert_on_call == world.upsert_calls) {
        host_of->set_error(ctx_of, "disk full");
        return EMBSYNC_FAILED;
    }
    fake_store_collection *sc = scol(name);
    for (size_t k = 0; k < n; k++) {
        fake_point *p = &sc->points[points[k].id];
        p->present = 1;
        memcpy(p->vector, points[k].vector, sizeof p->vector);
        snprintf(p->payload, sizeof p->payload, "%s", points[k].payload);
    }
    return EMBSYNC_OK;
}

static int st_remove(void *s, const char *name, size_t n, const uint64_t *ids)
{
    (void)s;
    world.remove_calls++;
    for (size_t k = 0; k < n; k++)
        if (ids[k] < FAKE_MAX_ITEMS)
            scol(name)->points[ids[k]].present = 0;
    return EMBSYNC_OK;
}

static int st_count(void *s, const char *name, uint64_t *count)
{
    (void)s;
    *count = 0;
    for (size_t i = 0; i < FAKE_MAX_ITEMS; i++)
        *count += scol(name)->points[i].present;
    return EMBSYNC_OK;
}

static int st_search(void *s, const char *name, const float *v, size_t k,
                     embsync_hit_cb cb, void *arg)
{
    (void)s, (void)name, (void)v, (void)k, (void)cb, (void)arg;
    return EMBSYNC_OK;
}

static int st_drop(void *s, const char *name)
{
    (void)s;
    memset(scol(name), 0, sizeof *scol(name));
    world.drops++;
    world.last_drop_call = ++world.calls;
    return EMBSYNC_OK;
}

static const embsync_store_ops store_ops = {
    .abi = EMBSYNC_ABI_INIT(embsync_store_ops),
    .open = open_any, .close = close_any,
    .ensure = st_ensure, .upsert = st_upsert, .remove = st_remove,
    .count = st_count, .search = st_search, .drop = st_drop,
};

const embsync_plugin fake_store_plugin = {
    .abi = EMBSYNC_ABI_INIT(embsync_plugin),
    .kind = EMBSYNC_KIND_STORE, .name = "fakestore", .version = "1",
    .ops = &store_ops,
};
