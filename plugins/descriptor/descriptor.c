/* descriptor: the embedded default embedder, no model needed (desc_features.h). */
#include <stdio.h>
#include <stdlib.h>

#include <embsync/plugin.h>

#include "desc_features.h"

typedef struct descriptor {
    const embsync_host *host;
    embsync_ctx *ctx;
} descriptor;

static int desc_open(const embsync_host *host, embsync_ctx *ctx, void **state)
{
    descriptor *d = calloc(1, sizeof *d);
    if (d == NULL)
        return EMBSYNC_FATAL;
    d->host = host;
    d->ctx = ctx;
    *state = d;
    return EMBSYNC_OK;
}

static void desc_close(void *state)
{
    free(state);
}

static int desc_info(void *state, embsync_model_info *info)
{
    (void)state;
    info->dim = DESC_DIM;
    info->metric = EMBSYNC_METRIC_COSINE;
    snprintf(info->identity, sizeof info->identity, "descriptor:v%d:%d",
             DESC_VERSION, DESC_DIM);
    info->flags = EMBSYNC_MODEL_NORMALIZED | EMBSYNC_MODEL_DETERMINISTIC |
                  EMBSYNC_MODEL_IMAGE;
    return EMBSYNC_OK;
}

static int desc_embed_images(void *state, size_t n, const embsync_blob *inputs,
                             float *vectors, int *status)
{
    descriptor *d = state;
    for (size_t i = 0; i < n; i++) {
        const char *why = NULL;
        if (inputs[i].data == NULL || inputs[i].len > 0x7fffffff ||
            desc_from_image(inputs[i].data, (int)inputs[i].len,
                            vectors + i * DESC_DIM, &why) != 0) {
            status[i] = EMBSYNC_ITEM_FAILED;
            d->host->set_item_error(d->ctx, i, "cannot decode image: %s",
                                    why ? why : "no content");
        } else {
            status[i] = EMBSYNC_OK;
        }
    }
    return EMBSYNC_OK;
}

static const embsync_embedder_ops ops = {
    .abi = EMBSYNC_ABI_INIT(embsync_embedder_ops),
    .open = desc_open,
    .close = desc_close,
    .info = desc_info,
    .embed_images = desc_embed_images,
};

static const embsync_plugin plugin = {
    .abi = EMBSYNC_ABI_INIT(embsync_plugin),
    .kind = EMBSYNC_KIND_EMBEDDER,
    .name = "descriptor",
    .version = "1.0",
    .description = "model-free image descriptor (colour, layout, edges); JPEG and PNG",
    .ops = &ops,
};

EMBSYNC_PLUGIN_ENTRY(plugin)
