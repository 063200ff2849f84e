/* A zero-cost embedder for the benchmarks: it measures the framework, not a
 * model.  Each input maps to one of a fixed set of dense unit vectors,
 * chosen by a hash of its bytes, so results stay deterministic and
 * searchable.  Dense, because a real model's vectors are: a one-hot vector
 * of zeros would make the text a JSON store receives unrealistically cheap
 * to write. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include <embsync/plugin.h>

/* Vectors to pick from: enough that the inputs of a test set rarely share one. */
#define TABLE_SIZE 1024u

typedef struct null_embedder {
    const embsync_host *host;
    embsync_ctx *ctx;
    uint32_t dim;
    unsigned long long seed;
    float *table; /* TABLE_SIZE unit vectors of dim values */
} null_embedder;

static const embsync_config_key keys[] = {
    {"dim", EMBSYNC_KEY_INT, "512", 0, "vector dimension"},
    {"seed", EMBSYNC_KEY_INT, "0", 0,
     "another table of vectors, and so another model identity (tests of "
     "a model change at the same dimension)"},
    {NULL, 0, NULL, 0, NULL},
};

static int null_open(const embsync_host *host, embsync_ctx *ctx, void **state)
{
    null_embedder *n = calloc(1, sizeof *n);
    if (n == NULL)
        return EMBSYNC_FATAL;
    n->host = host;
    n->ctx = ctx;
    long long dim = host->config_int(ctx, "dim", 512);
    if (dim < 2 || dim > 65536) {
        host->set_error(ctx, "dim must be from 2 to 65536, not %lld", dim);
        free(n);
        return EMBSYNC_FATAL;
    }
    n->dim = (uint32_t)dim;
    long long seed = host->config_int(ctx, "seed", 0);
    if (seed < 0) {
        host->set_error(ctx, "seed must not be negative, not %lld", seed);
        free(n);
        return EMBSYNC_FATAL;
    }
    n->seed = (unsigned long long)seed;
    n->table = malloc((size_t)TABLE_SIZE * n->dim * sizeof *n->table);
    if (n->table == NULL) {
        free(n);
        return EMBSYNC_FATAL;
    }
    /* Values of a fixed xorshift sequence, normalised: the same table in
     * every run, so vectors are deterministic across restarts. */
    uint64_t x = 0x9e3779b97f4a7c15ull ^ (n->seed * 0xbf58476d1ce4e5b9ull);
    if (x == 0)  /* xorshift stays at zero */
        x = 1;
    for (uint32_t row = 0; row < TABLE_SIZE; row++) {
        float *v = n->table + (size_t)row * n->dim;
        double norm = 0;
        for (uint32_t d = 0; d < n->dim; d++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            v[d] = (float)((double)(x >> 11) / 9007199254740992.0 - 0.5);
            norm += (double)v[d] * v[d];
        }
        for (uint32_t d = 0; d < n->dim; d++)
            v[d] = (float)(v[d] / sqrt(norm));
    }
    *state = n;
    return EMBSYNC_OK;
}

static void null_close(void *state)
{
    null_embedder *n = state;
    if (n != NULL)
        free(n->table);
    free(n);
}

static int null_info(void *state, embsync_model_info *info)
{
    null_embedder *n = state;
    info->dim = n->dim;
    info->metric = EMBSYNC_METRIC_COSINE;
    if (n->seed != 0)
        snprintf(info->identity, sizeof info->identity, "null:%u:seed%llu",
                 n->dim, n->seed);
    else
        snprintf(info->identity, sizeof info->identity, "null:%u", n->dim);
    info->flags = EMBSYNC_MODEL_NORMALIZED | EMBSYNC_MODEL_DETERMINISTIC |
                  EMBSYNC_MODEL_IMAGE | EMBSYNC_MODEL_TEXT;
    return EMBSYNC_OK;
}

static void vector_of(const null_embedder *n, const void *data, size_t len,
                      float *out)
{
    size_t row = XXH3_64bits(data, len) % TABLE_SIZE;
    memcpy(out, n->table + row * n->dim, n->dim * sizeof *out);
}

/* No decoding, but input that cannot be a picture is still refused, as
 * a real model would refuse it: JPEG or PNG by signature. */
static int looks_like_image(const unsigned char *p, size_t len)
{
    static const unsigned char jpeg[] = {0xff, 0xd8, 0xff};
    static const unsigned char png[] = {0x89, 'P', 'N', 'G'};
    return (len > sizeof jpeg && memcmp(p, jpeg, sizeof jpeg) == 0) ||
           (len > sizeof png && memcmp(p, png, sizeof png) == 0);
}

static int null_embed_images(void *state, size_t count,
                             const embsync_blob *inputs, float *vectors,
                             int *status)
{
    null_embedder *n = state;
    for (size_t i = 0; i < count; i++) {
        if (inputs[i].data == NULL ||
            !looks_like_image(inputs[i].data, inputs[i].len)) {
            n->host->set_item_error(n->ctx, i, "not a JPEG or PNG image");
            status[i] = EMBSYNC_ITEM_FAILED;
            continue;
        }
        vector_of(n, inputs[i].data, inputs[i].len, vectors + i * n->dim);
        status[i] = EMBSYNC_OK;
    }
    return EMBSYNC_OK;
}

static int null_embed_text(void *state, const char *text, float *vector)
{
    null_embedder *n = state;
    vector_of(n, text, strlen(text), vector);
    return EMBSYNC_OK;
}

/* The tests also build this embedder as a plugin of ABI 1.1 declares
 * itself (NULL_ABI_MINOR=1; neither table changed size in 1.2), so the
 * checker shows that such a plugin still loads and conforms. */
#ifdef NULL_ABI_MINOR
#define NULL_ABI(T) {EMBSYNC_ABI_MAJOR, NULL_ABI_MINOR, (uint32_t)sizeof(T)}
#else
#define NULL_ABI(T) EMBSYNC_ABI_INIT(T)
#endif

static const embsync_embedder_ops ops = {
    .abi = NULL_ABI(embsync_embedder_ops),
    .open = null_open,
    .close = null_close,
    .info = null_info,
    .embed_images = null_embed_images,
    .embed_text = null_embed_text,
};

static const embsync_plugin descriptor = {
    .abi = NULL_ABI(embsync_plugin),
    .kind = EMBSYNC_KIND_EMBEDDER,
    .name = "null",
    .version = "1",
    .description = "zero-cost embedder for benchmarks (a dense unit vector by content hash)",
    .config_keys = keys,
    .config_key_size = sizeof keys[0],
    .ops = &ops,
};

EMBSYNC_PLUGIN_ENTRY(descriptor)
