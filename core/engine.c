#include <config.h>

#include "engine.h"

#include <stdio.h>
#include <string.h>

#include "calls.h"

int es_engine_init(es_engine *e, es_instance *source, es_instance *embedder,
                   es_instance *store, size_t batch_size, es_stop *stop,
                   char *err, size_t errlen)
{
    memset(e, 0, sizeof *e);
    e->source = source;
    e->embedder = embedder;
    e->store = store;
    e->batch_size = batch_size ? batch_size : 32;
    e->store_group_items = ES_STORE_GROUP_ITEMS;
    e->stop = stop;
    es_progress_init(&e->progress);
    e->model.abi = (embsync_abi)EMBSYNC_ABI_INIT(embsync_model_info);
    int rc = es_embedder_info(embedder, &e->model);
    e->model.abi = (embsync_abi)EMBSYNC_ABI_INIT(embsync_model_info);
    e->model.identity[sizeof e->model.identity - 1] = '\0';
    if (rc != EMBSYNC_OK) {
        snprintf(err, errlen, "embedder %s: cannot describe its model: %s",
                 embedder->module->desc.name, es_call_reason(rc));
        return rc;
    }
    if (e->model.dim == 0 || e->model.dim > 65536 ||
        e->model.identity[0] == '\0') {
        snprintf(err, errlen,
                 "embedder %s: invalid model description (dim %u, identity '%s')",
                 embedder->module->desc.name, e->model.dim, e->model.identity);
        return EMBSYNC_FATAL;
    }
    return EMBSYNC_OK;
}

void es_engine_destroy(es_engine *e)
{
    es_progress_destroy(&e->progress);
}

int es_engine_stop_collection(es_engine *e, const char *collection)
{
    return es_progress_request_stop(&e->progress, collection);
}

void es_engine_progress(es_engine *e, es_progress_view *out)
{
    es_progress_read(&e->progress, out);
}
