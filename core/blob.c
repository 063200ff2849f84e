#include <config.h>

#include "blob.h"

#include <stdlib.h>
#include <string.h>

void es_blob_init(embsync_blob *blob)
{
    memset(blob, 0, sizeof *blob);
    blob->abi = (embsync_abi)EMBSYNC_ABI_INIT(embsync_blob);
}

void es_blob_release(embsync_blob *blob)
{
    free(blob->host_private);
    blob->host_private = NULL;
    blob->data = NULL;
    blob->len = 0;
}

unsigned char *es_blob_alloc(embsync_blob *blob, size_t len)
{
    unsigned char *mem = malloc(len ? len : 1);
    if (mem == NULL)
        return NULL;
    free(blob->host_private);
    blob->host_private = mem;
    blob->data = mem;
    blob->len = len;
    return mem;
}

int es_blob_set(embsync_blob *blob, const void *data, size_t len)
{
    unsigned char *mem = es_blob_alloc(blob, len);
    if (mem == NULL)
        return -1;
    if (len > 0)
        memcpy(mem, data, len);
    return 0;
}

/* An answer's body is malloc()ed memory, as a blob's is (see http.c). */
void es_blob_take_body(embsync_blob *blob, embsync_http_response *resp)
{
    es_blob_release(blob);
    if (resp->body == NULL || resp->body_len == 0)
        return;
    /* The answer's buffer grew by doubling: give back its unused tail
     * (a shrinking realloc stays in place), so that a blob waiting for
     * the embedder holds no more than its bytes. */
    char *body = realloc(resp->body, resp->body_len + 1);
    if (body == NULL)
        body = resp->body;
    blob->host_private = body;
    blob->data = (const unsigned char *)body;
    blob->len = resp->body_len;
    resp->body = NULL;
    resp->body_len = 0;
}
