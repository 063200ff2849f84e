/* Blobs, the host-owned memory of an item's content (plugin ABI): one
 * implementation for the daemon's host and the fuzzers' host. */
#ifndef ES_BLOB_H
#define ES_BLOB_H

#include <stddef.h>

#include <embsync/plugin.h>

/** Initialise a blob for handing to a plugin. */
void es_blob_init(embsync_blob *blob);

/** Release a blob's host-owned memory and reset it. */
void es_blob_release(embsync_blob *blob);

/* The host functions of the same names, without the es_ prefix. */
unsigned char *es_blob_alloc(embsync_blob *blob, size_t len);
int es_blob_set(embsync_blob *blob, const void *data, size_t len);
void es_blob_take_body(embsync_blob *blob, embsync_http_response *resp);

#endif
