/* A plugin that breaks the embedder contract on purpose: the checker must
 * catch it.  It ignores its input (one constant vector for everything)
 * and so also accepts input that is no image at all. */
#include <string.h>

#include <embsync/plugin.h>

enum { DIM = 8 };

static int bad_open(const embsync_host *host, embsync_ctx *ctx, void **state)
{
    (void)host;
    (void)ctx;
    *state = NULL;
    return EMBSYNC_OK;
}

static void bad_close(void *state)
{
    (void)state;
}

static int bad_info(void *state, embsync_model_info *info)
{
    (void)state;
    info->dim = DIM;
    info->metric = EMBSYNC_METRIC_COSINE;
    strcpy(info->identity, "bad-constant:1");
    info->flags = EMBSYNC_MODEL_IMAGE | EMBSYNC_MODEL_NORMALIZED |
                  EMBSYNC_MODEL_DETERMINISTIC;
    return EMBSYNC_OK;
}

static int bad_embed(void *state, size_t n, const embsync_blob *inputs,
                     float *vectors, int *status)
{
    (void)state;
    (void)inputs;
    for (size_t i = 0; i < n; i++) {
        memset(vectors + i * DIM, 0, DIM * sizeof(float));
        vectors[i * DIM] = 1.0f;
        status[i] = EMBSYNC_OK;
    }
    return EMBSYNC_OK;
}

static const embsync_embedder_ops ops = {
    .abi = EMBSYNC_ABI_INIT(embsync_embedder_ops),
    .open = bad_open,
    .close = bad_close,
    .info = bad_info,
    .embed_images = bad_embed,
};

static const embsync_plugin descriptor = {
    .abi = EMBSYNC_ABI_INIT(embsync_plugin),
    .kind = EMBSYNC_KIND_EMBEDDER,
    .name = "bad-embedder",
    .version = "0",
    .description = "embeds every input to the same vector (checker test)",
    .ops = &ops,
};

EMBSYNC_PLUGIN_ENTRY(descriptor)
