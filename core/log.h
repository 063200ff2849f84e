/* Logging for the daemon and its plugins: levels, text or JSON lines on
 * stderr, secret redaction, and rate-limiting of repeated lines. */
#ifndef ES_LOG_H
#define ES_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <embsync/plugin.h>

typedef enum es_log_format { ES_LOG_TEXT = 0, ES_LOG_JSON = 1 } es_log_format;

/** Set the threshold (EMBSYNC_LOG_*) and the line format.  Also looks
 *  again whether stderr is the journal (JOURNAL_STREAM names stderr's
 *  device and inode): then every line starts with its syslog priority,
 *  "<3>" to "<7>", as sd-daemon(3) describes, and carries no time stamp
 *  of its own. */
void es_log_configure(int level, es_log_format format);

/** "<3>" … "<7>" for a line at `level` written straight to stderr when
 *  stderr is the journal, "" otherwise. */
const char *es_log_priority_prefix(int level);

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

/** A named value of a structured line: in log_format = json each becomes a
 *  field of its own beside "msg"; text lines show the message alone. */
typedef struct es_log_field {
    const char *name;
    enum { ES_FIELD_UINT, ES_FIELD_DOUBLE, ES_FIELD_STRING } type;
    uint64_t u;
    double d;
    const char *s;
} es_log_field;

#define ES_FIELD_U64(n, v) \
    ((es_log_field){.name = (n), .type = ES_FIELD_UINT, .u = (uint64_t)(v)})
#define ES_FIELD_DBL(n, v) \
    ((es_log_field){.name = (n), .type = ES_FIELD_DOUBLE, .d = (double)(v)})
#define ES_FIELD_STR(n, v) \
    ((es_log_field){.name = (n), .type = ES_FIELD_STRING, .s = (v)})

/** es_log with structured fields (borrowed for the call; string values are
 *  redacted like the message). */
void es_log_fields(int level, const char *origin, const es_log_field *fields,
                   size_t n_fields, const char *fmt, ...) EMBSYNC_PRINTF(5, 6);

#define es_error(...) es_log(EMBSYNC_LOG_ERROR, NULL, __VA_ARGS__)
#define es_warn(...) es_log(EMBSYNC_LOG_WARNING, NULL, __VA_ARGS__)
#define es_info(...) es_log(EMBSYNC_LOG_INFO, NULL, __VA_ARGS__)
#define es_debug(...) es_log(EMBSYNC_LOG_DEBUG, NULL, __VA_ARGS__)

#endif
