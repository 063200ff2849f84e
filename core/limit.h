/* The host table's adaptive limits (plugin ABI 1.3) over core/aimd.c: one
 * implementation for the daemon's host and the fuzzers' host. */
#ifndef ES_LIMIT_H
#define ES_LIMIT_H

#include <embsync/plugin.h>

#include "aimd.h"

/* The host functions of the same names, without the es_ prefix. */
embsync_limit *es_limit_new(embsync_ctx *ctx, unsigned ceiling,
                            unsigned flags);
unsigned es_limit_window(embsync_limit *limit);
void es_limit_sample(embsync_limit *limit, double sent_at, int outcome);
void es_limit_restart(embsync_limit *limit);
void es_limit_free(embsync_limit *limit);

/** The AIMD state behind a limit (NULL for NULL), for the HTTP helper. */
es_aimd *es_limit_aimd(embsync_limit *limit);

#endif
