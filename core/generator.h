/* The Embeddings Generator's readiness, as the original Auto-Updater's
 * health check reads it (tests/emulators/generator/README.md):
 * GET <url>/is_ready answering {"status": "ready"}. */
#ifndef ES_GENERATOR_H
#define ES_GENERATOR_H

#include <stddef.h>

/** 1 when the Generator at `base_url` says it is ready; otherwise 0 with
 *  the reason in why.  One attempt, a few seconds at most: a health answer
 *  must not hang on it. */
int es_generator_ready(const char *base_url, char *why, size_t whylen);

#endif
