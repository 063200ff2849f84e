/* How the pass in flight shows itself.  On a terminal: one live line for
 * the collection being synced (done/total, percentage, rate, time left),
 * cleared and drawn again around every log line so the two never overwrite
 * or run into each other.  Elsewhere (a pipe, a journal): a progress log
 * line at a steady interval while a pass lasts. */
#ifndef ES_PROGRESS_DISPLAY_H
#define ES_PROGRESS_DISPLAY_H

#include <stddef.h>

#include "progress.h"

/** Seconds between progress log lines without a terminal, unless the
 *  environment's EMBSYNC_PROGRESS_INTERVAL says otherwise. */
#define ES_PROGRESS_LOG_INTERVAL 10.0

/** Describe a snapshot: "shapes: 120/400 (30%), 310/s, 1 s left", or
 *  "shapes: 120 done, 310/s" while the total is unknown. */
void es_progress_describe(const es_progress_view *snapshot, double now, char *buf,
                          size_t len);

/** Start showing progress: a live line when `tty`, log lines otherwise. */
void es_progress_display_start(int tty);

/** The engine's on_progress callback (arg unused). */
void es_progress_display_update(const es_progress_view *p, void *arg);

/** Clear the live line and stop. */
void es_progress_display_stop(void);

#endif
