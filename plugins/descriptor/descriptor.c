/* descriptor: the embedded default embedder, no model needed (desc_features.h). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <embsync/plugin.h>

#include "desc_features.h"

typedef struct descriptor {
    const embsync_host *host;
    embsync_ctx *ctx;
    uint64_t max_pixels;
} descriptor;

static const embsync_config_key keys[] = {
    {"max_pixels", EMBSYNC_KEY_INT, "100000000", 0,
     "refuse images of more pixels than this (width x height, read from "
     "the header before decoding)"},
    {NULL, 0, NULL, 0, NULL},
};

static int desc_open(const embsync_host *host, embsync_ctx *ctx, void **state)
{
    descriptor *d = calloc(1, sizeof *d);
    if (d == NULL)
        return EMBSYNC_FATAL;
    d->host = host;
    d->ctx = ctx;
    long long max_pixels = host->config_int(ctx, "max_pixels",
                                            (long long)DESC_DEFAULT_MAX_PIXELS);
    if (max_pixels < 1) {
        host->set_error(ctx, "max_pixels must be at least 1, not %lld",
                        max_pixels);
        free(d);
        return EMBSYNC_FATAL;
    }
    d->max_pixels = (uint64_t)max_pixels;
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
                            d->max_pixels, vectors + i * DESC_DIM, &why) != 0) {
            status[i] = EMBSYNC_ITEM_FAILED;
            d->host->set_item_error(d->ctx, i, "cannot decode image: %s",
                                    why != NULL && *why ? why : "no content");
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
    .description = "model-free image descriptor (DCT, layout, edges, colour; "
                   "mirror-invariant); JPEG, PNG and what stb_image reads",
    .config_keys = keys,
    .config_key_size = sizeof(embsync_config_key),
    .ops = &ops,
};

EMBSYNC_PLUGIN_ENTRY(plugin)
