/* Telling the service manager the truth about start-up, reloads and stops
 * (sd_notify).  Every call is a no-op outside a Type=notify service. */
#ifndef ES_NOTIFY_H
#define ES_NOTIFY_H

#include <stdint.h>

#include <embsync/plugin.h>

/** The configuration is valid, the plugins are open: serving. */
void es_notify_ready(void);

/** A reload starts; es_notify_ready() ends it, whatever its outcome. */
void es_notify_reloading(void);

/** A requested stop: the batch in flight is finishing. */
void es_notify_stopping(void);

/** One line for `systemctl status` (the last pass's summary). */
void es_notify_status(const char *fmt, ...) EMBSYNC_PRINTF(1, 2);

/** STATUS= for a pass that started at `since` (unix seconds) and ended
 *  with `failed` failed collections (-1: none could be listed): the counts
 *  of the collections it ran, from their status files in state_dir. */
void es_notify_pass(const char *state_dir, int64_t since, int failed);

#endif
