/* Logging for the daemon and its plugins: levels, text or JSON lines on
 * stderr, secret redaction, and rate-limiting of repeated lines. */
#ifndef ES_LOG_H
#define ES_LOG_H

#include <stdarg.h>

#include <embsync/plugin.h>

typedef enum es_log_format { ES_LOG_TEXT = 0, ES_LOG_JSON = 1 } es_log_format;

/** Set the threshold (EMBSYNC_LOG_*) and the line format. */
void es_log_configure(int level, es_log_format format);

/** Parse "error", "warning", "info", "debug"; -1 when unknown. */
int es_log_level_parse(const char *name);

/** Parse "text" or "json"; -1 when unknown. */
int es_log_format_parse(const char *name);

/** Never print `value` (length ≥ 4) in any log line or error text. */
void es_secret_add(const char *value);

/** Forget every registered secret (tests; config reload). */
void es_secret_clear(void);

/** Copy `in` into out (size outlen) with every known secret replaced by
 *  "***". Returns out. */
char *es_redact(const char *in, char *out, size_t outlen);

/** Log a line from the core (origin NULL) or from a plugin (its name). */
void es_log(int level, const char *origin, const char *fmt, ...)
    EMBSYNC_PRINTF(3, 4);
void es_vlog(int level, const char *origin, const char *fmt, va_list ap)
    EMBSYNC_PRINTF(3, 0);

/** Call before(arg) ahead of every log line and after(arg) behind it, under
 *  the log's lock (they must not log); NULLs remove the hook.  The
 *  terminal's live progress line clears and redraws itself through it. */
void es_log_set_line_hook(void (*before)(void *arg), void (*after)(void *arg),
                          void *arg);

/** Non-zero when a line at `level` would be printed. */
int es_log_enabled(int level);

#define es_error(...) es_log(EMBSYNC_LOG_ERROR, NULL, __VA_ARGS__)
#define es_warn(...) es_log(EMBSYNC_LOG_WARNING, NULL, __VA_ARGS__)
#define es_info(...) es_log(EMBSYNC_LOG_INFO, NULL, __VA_ARGS__)
#define es_debug(...) es_log(EMBSYNC_LOG_DEBUG, NULL, __VA_ARGS__)

#endif
