/* The Embeddings Generator's routes the Auto-Updater calls
 * (tests/emulators/generator/README.md): GET /is_ready,
 * POST /task_status, POST /cancel_embeddings, each POST with the body
 * {"state":{"project_id":N}}. */
#ifndef SLY_GENERATOR_H
#define SLY_GENERATOR_H

#include <stdint.h>

#include <embsync/plugin.h>

typedef struct sly_generator {
    const embsync_host *host;
    embsync_ctx *ctx;
    const char *url;   /* base URL without a trailing '/', or NULL: no Generator */
    unsigned flags;    /* EMBSYNC_HTTP_* */
} sly_generator;

/** OK when GET /is_ready answers 200 {"status": "ready"}, RETRY otherwise
 *  (with the error set).  OK when no Generator is configured. */
int sly_generator_ready(const sly_generator *g);

/** Does the Generator hold a running task for the project?  As the
 *  original reads /task_status: running only when is_running is true and
 *  the status is none of no_task, completed, failed, cancelled; a non-2xx
 *  answer or no answer counts as "no task".  0 when no Generator is
 *  configured. */
int sly_generator_running(const sly_generator *g, int64_t project);

/** POST /cancel_embeddings for the project, as the original does before it
 *  clears a stale flag; a failure is only logged. */
void sly_generator_cancel(const sly_generator *g, int64_t project);

#endif
