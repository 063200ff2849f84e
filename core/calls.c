#include <config.h>

#include "calls.h"

#include "log.h"
#include "retry.h"

const char *es_status_word(int status)
{
    switch (status) {
    case EMBSYNC_OK: return "ok";
    case EMBSYNC_RETRY: return "retry";
    case EMBSYNC_ITEM_FAILED: return "item failed";
    case EMBSYNC_FAILED: return "failed";
    case EMBSYNC_FATAL: return "fatal";
    case EMBSYNC_SKIP: return "skipped";
    default: return "invalid status";
    }
}

const char *es_call_reason(int status)
{
    return *es_call_error() ? es_call_error() : es_status_word(status);
}

int es_call_retry(es_stop *stop, const char *what, es_call_fn fn, void *arg)
{
    for (unsigned attempt = 1;; attempt++) {
        int rc = fn(arg);
        if (rc != EMBSYNC_RETRY || attempt >= ES_CALL_ATTEMPTS ||
            es_stop_requested(stop))
            return rc;
        double delay = es_retry_delay(attempt + 1, es_call_retry_after());
        es_warn("%s: %s; retrying in %.1f s (attempt %u of %d)", what,
                *es_call_error() ? es_call_error() : "temporary failure", delay,
                attempt + 1, ES_CALL_ATTEMPTS);
        if (es_stop_wait(stop, delay))
            return rc;
    }
}

/* ---- the discipline --------------------------------------------------------- */

/* Make a call that the host serialises (calls.h says which and why) and
 * return its status. */
#define SERIALISED(inst, call)                          \
    do {                                                \
        es_call_begin();                                \
        pthread_rwlock_wrlock(&(inst)->call_lock);      \
        int serialised_rc = (call);                     \
        pthread_rwlock_unlock(&(inst)->call_lock);      \
        return serialised_rc;                           \
    } while (0)

/* An optional operation (ABI 1.2) the plugin does not provide. */
static int lacks(const es_instance *inst, const char *op)
{
    es_call_begin();
    es_call_fail("the %s plugin %s does not provide %s()",
                 es_kind_name(inst->module->desc.kind),
                 inst->module->desc.name, op);
    return EMBSYNC_FAILED;
}

#define SOURCE(inst) (&(inst)->module->ops.source)
#define EMBEDDER(inst) (&(inst)->module->ops.embedder)
#define STORE(inst) (&(inst)->module->ops.store)

int es_plugin_check(es_instance *inst)
{
    const es_module *m = inst->module;
    int (*check)(void *) = NULL;
    switch (m->desc.kind) {
    case EMBSYNC_KIND_SOURCE: check = m->ops.source.check; break;
    case EMBSYNC_KIND_EMBEDDER: check = m->ops.embedder.check; break;
    case EMBSYNC_KIND_STORE: check = m->ops.store.check; break;
    }
    if (check == NULL) {
        es_call_begin();
        return EMBSYNC_OK;
    }
    SERIALISED(inst, check(inst->state));
}

/* ---- source ----------------------------------------------------------------- */

int es_source_list_collections(es_instance *src, embsync_collection_cb cb,
                               void *arg)
{
    SERIALISED(src, SOURCE(src)->list_collections(src->state, cb, arg));
}

int es_source_begin(es_instance *src, const char *collection)
{
    SERIALISED(src, SOURCE(src)->begin(src->state, collection));
}

int es_source_changes(es_instance *src, const char *collection,
                      embsync_change_sink *sink)
{
    es_call_begin();
    return SOURCE(src)->changes(src->state, collection, sink);
}

int es_source_fetch(es_instance *src, const char *collection, size_t n,
                    const embsync_change *items, embsync_blob *out,
                    int *item_status, char *reasons, size_t reason_len)
{
    if (SOURCE(src)->fetch == NULL)
        return lacks(src, "fetch");
    es_call_begin();
    es_call_item_errors(reasons, n, reason_len);
    int rc = SOURCE(src)->fetch(src->state, collection, n, items, out,
                                item_status);
    es_call_item_errors(NULL, 0, 0);
    return rc;
}

int es_source_ack(es_instance *src, const char *collection, size_t n,
                  const embsync_change *done)
{
    es_call_begin();
    return SOURCE(src)->ack(src->state, collection, n, done);
}

int es_source_reset(es_instance *src, const char *collection)
{
    if (SOURCE(src)->reset == NULL)
        return lacks(src, "reset");
    SERIALISED(src, SOURCE(src)->reset(src->state, collection));
}

int es_source_end(es_instance *src, const char *collection, int run_status)
{
    SERIALISED(src, SOURCE(src)->end(src->state, collection, run_status));
}

int es_source_exists(es_instance *src, const char *collection, size_t n,
                     const embsync_change *items, int *present)
{
    if (SOURCE(src)->exists == NULL)
        return lacks(src, "exists");
    SERIALISED(src, SOURCE(src)->exists(src->state, collection, n, items,
                                        present));
}

int es_source_items(es_instance *src, const char *collection,
                    embsync_change_sink *sink)
{
    if (SOURCE(src)->items == NULL)
        return lacks(src, "items");
    es_call_begin();
    return SOURCE(src)->items(src->state, collection, sink);
}

/* ---- embedder --------------------------------------------------------------- */

int es_embedder_info(es_instance *emb, embsync_model_info *info)
{
    es_call_begin();
    pthread_rwlock_wrlock(&emb->call_lock);
    info->concurrent_calls = 0;
    int rc = EMBEDDER(emb)->info(emb->state, info);
    /* A plugin built before 1.4 never meant anything by the member. */
    if (emb->module->desc.abi.minor < 4)
        info->concurrent_calls = 0;
    __atomic_store_n(&emb->concurrent_calls,
                     rc == EMBSYNC_OK ? info->concurrent_calls : 0,
                     __ATOMIC_RELAXED);
    pthread_rwlock_unlock(&emb->call_lock);
    return rc;
}

int es_embedder_embed_images(es_instance *emb, size_t n,
                             const embsync_blob *inputs, float *vectors,
                             int *item_status, char *reasons,
                             size_t reason_len)
{
    es_call_begin();
    es_call_item_errors(reasons, n, reason_len);
    /* Shared among embed_images() calls when the plugin takes several at
     * once: then only the other calls exclude them. */
    if (__atomic_load_n(&emb->concurrent_calls, __ATOMIC_RELAXED) > 1)
        pthread_rwlock_rdlock(&emb->call_lock);
    else
        pthread_rwlock_wrlock(&emb->call_lock);
    int rc = EMBEDDER(emb)->embed_images(emb->state, n, inputs, vectors,
                                         item_status);
    pthread_rwlock_unlock(&emb->call_lock);
    es_call_item_errors(NULL, 0, 0);
    return rc;
}

int es_embedder_embed_text(es_instance *emb, const char *text, float *vector)
{
    if (EMBEDDER(emb)->embed_text == NULL)
        return lacks(emb, "embed_text");
    SERIALISED(emb, EMBEDDER(emb)->embed_text(emb->state, text, vector));
}

/* ---- store ------------------------------------------------------------------ */

int es_store_ensure(es_instance *st, const char *collection,
                    const embsync_collection_spec *spec, int *result)
{
    SERIALISED(st, STORE(st)->ensure(st->state, collection, spec, result));
}

int es_store_upsert(es_instance *st, const char *collection, size_t n,
                    const embsync_point *points)
{
    SERIALISED(st, STORE(st)->upsert(st->state, collection, n, points));
}

int es_store_remove(es_instance *st, const char *collection, size_t n,
                    const uint64_t *ids)
{
    SERIALISED(st, STORE(st)->remove(st->state, collection, n, ids));
}

int es_store_count(es_instance *st, const char *collection, uint64_t *count)
{
    SERIALISED(st, STORE(st)->count(st->state, collection, count));
}

int es_store_search(es_instance *st, const char *collection,
                    const float *vector, size_t k, embsync_hit_cb cb,
                    void *arg)
{
    SERIALISED(st, STORE(st)->search(st->state, collection, vector, k, cb,
                                     arg));
}

int es_store_drop(es_instance *st, const char *collection)
{
    SERIALISED(st, STORE(st)->drop(st->state, collection));
}

int es_store_list_ids(es_instance *st, const char *collection, uint64_t start,
                      size_t max, uint64_t *ids, size_t *n)
{
    if (STORE(st)->list_ids == NULL)
        return lacks(st, "list_ids");
    SERIALISED(st, STORE(st)->list_ids(st->state, collection, start, max, ids,
                                       n));
}

int es_store_contains(es_instance *st, const char *collection, size_t n,
                      const uint64_t *ids, int *present)
{
    if (STORE(st)->contains == NULL)
        return lacks(st, "contains");
    SERIALISED(st, STORE(st)->contains(st->state, collection, n, ids,
                                       present));
}

int es_store_alias_get(es_instance *st, const char *name, char *target,
                       size_t target_len)
{
    if (STORE(st)->alias_get == NULL)
        return lacks(st, "alias_get");
    SERIALISED(st, STORE(st)->alias_get(st->state, name, target, target_len));
}

int es_store_alias_set(es_instance *st, const char *name, const char *target)
{
    if (STORE(st)->alias_set == NULL)
        return lacks(st, "alias_set");
    SERIALISED(st, STORE(st)->alias_set(st->state, name, target));
}
