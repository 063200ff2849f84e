/* An embedder through its ops table: the server's answers (CLIP) or the
 * image bytes themselves (descriptor) come from the fuzz input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_host.h"
#include "fuzz_plugin.h"

/* Past this a model's answer is not believable; the core would not ask. */
#define DIM_MAX 65536

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const embsync_plugin *p = embsync_plugin_entry();
    const embsync_embedder_ops *ops = p->ops;
    fuzz_host_configure(p, fuzz_settings);
    fuzz_host_input(data, size);
    void *st = NULL;
    if (ops->open(&fuzz_host, fuzz_ctx(), &st) != EMBSYNC_OK || st == NULL)
        return 0;
    if (ops->check != NULL)
        ops->check(st);
    embsync_model_info info = {.abi = EMBSYNC_ABI_INIT(embsync_model_info)};
    if (ops->info(st, &info) == EMBSYNC_OK && info.dim > 0 && info.dim <= DIM_MAX) {
        /* Two items: the input, and the input without its first byte. */
        embsync_blob blobs[2];
        for (int i = 0; i < 2; i++) {
            memset(&blobs[i], 0, sizeof blobs[i]);
            blobs[i].abi = (embsync_abi)EMBSYNC_ABI_INIT(embsync_blob);
            blobs[i].data = size > (size_t)i ? data + i : NULL;
            blobs[i].len = size > (size_t)i ? size - (size_t)i : 0;
        }
        float *vectors = calloc(2 * (size_t)info.dim, sizeof *vectors);
        int status[2] = {EMBSYNC_RETRY, EMBSYNC_RETRY};
        if (vectors != NULL)
            ops->embed_images(st, 2, blobs, vectors, status);
        if (vectors != NULL && ops->embed_text != NULL &&
            (info.flags & EMBSYNC_MODEL_TEXT))
            ops->embed_text(st, "a photo of a cat", vectors);
        free(vectors);
    }
    ops->close(st);
    return 0;
}
