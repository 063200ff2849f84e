#include <config.h>

#include "log.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

/* Identical lines inside this window are counted, not printed. */
#define REPEAT_WINDOW_S 60.0
#define MAX_SECRETS 64
#define LINE_MAX_LEN 4096

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
/* Read on every log call without the lock, written on a reload. */
static atomic_int log_threshold = EMBSYNC_LOG_INFO;
static es_log_format log_format = ES_LOG_TEXT;
static int log_to_journal = -1; /* -1: not looked at yet */
static char *secrets[MAX_SECRETS];
static size_t secret_count;

static struct {
    char line[LINE_MAX_LEN + 300];
    double first;
    unsigned long suppressed;
} last;

/* syslog(3) priorities, which journald reads from a "<N>" prefix. */
static int syslog_priority(int level)
{
    switch (level) {
    case EMBSYNC_LOG_ERROR: return 3;
    case EMBSYNC_LOG_WARNING: return 4;
    case EMBSYNC_LOG_INFO: return 6;
    default: return 7;
    }
}

/* systemd sets JOURNAL_STREAM to "DEV:INODE" of the stream it connects to
 * stdout/stderr; a child whose stderr was redirected elsewhere inherits the
 * variable, hence the comparison. */
static int stderr_is_journal(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;
    if (js == NULL || sscanf(js, "%llu:%llu", &dev, &ino) != 2 ||
        fstat(STDERR_FILENO, &st) != 0)
        return 0;
    return (unsigned long long)st.st_dev == dev &&
           (unsigned long long)st.st_ino == ino;
}

/* Caller holds log_lock. */
static const char *priority_prefix_locked(int level)
{
    static const char *const prefixes[] = {"<0>", "<1>", "<2>", "<3>",
                                           "<4>", "<5>", "<6>", "<7>"};
    if (log_to_journal < 0)
        log_to_journal = stderr_is_journal();
    return log_to_journal ? prefixes[syslog_priority(level)] : "";
}

const char *es_log_priority_prefix(int level)
{
    pthread_mutex_lock(&log_lock);
    const char *prefix = priority_prefix_locked(level);
    pthread_mutex_unlock(&log_lock);
    return prefix;
}

void es_log_configure(int level, es_log_format format)
{
    int journal = stderr_is_journal();
    pthread_mutex_lock(&log_lock);
    atomic_store_explicit(&log_threshold, level, memory_order_relaxed);
    log_format = format;
    log_to_journal = journal;
    pthread_mutex_unlock(&log_lock);
}

int es_log_enabled(int level)
{
    return level <= atomic_load_explicit(&log_threshold, memory_order_relaxed);
}

int es_log_level_parse(const char *name)
{
    static const struct { const char *name; int level; } levels[] = {
        {"error", EMBSYNC_LOG_ERROR}, {"warning", EMBSYNC_LOG_WARNING},
        {"warn", EMBSYNC_LOG_WARNING}, {"info", EMBSYNC_LOG_INFO},
        {"debug", EMBSYNC_LOG_DEBUG},
    };
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++)
        if (strcasecmp(name, levels[i].name) == 0)
            return levels[i].level;
    return -1;
}

int es_log_format_parse(const char *name)
{
    if (strcasecmp(name, "text") == 0)
        return ES_LOG_TEXT;
    if (strcasecmp(name, "json") == 0)
        return ES_LOG_JSON;
    return -1;
}

void es_secret_add(const char *value)
{
    /* Very short values would redact ordinary words; they are not secrets
     * worth the name anyway. */
    if (value == NULL || strlen(value) < 4)
        return;
    pthread_mutex_lock(&log_lock);
    for (size_t i = 0; i < secret_count; i++)
        if (strcmp(secrets[i], value) == 0)
            goto out;
    if (secret_count < MAX_SECRETS) {
        char *copy = strdup(value);
        if (copy != NULL)
            secrets[secret_count++] = copy;
    }
out:
    pthread_mutex_unlock(&log_lock);
}

void es_secret_clear(void)
{
    pthread_mutex_lock(&log_lock);
    for (size_t i = 0; i < secret_count; i++)
        free(secrets[i]);
    secret_count = 0;
    pthread_mutex_unlock(&log_lock);
}

/* Caller holds log_lock. */
static void redact_locked(const char *in, char *out, size_t outlen)
{
    size_t o = 0;
    while (*in != '\0' && o + 1 < outlen) {
        size_t matched = 0;
        for (size_t i = 0; i < secret_count; i++) {
            size_t len = strlen(secrets[i]);
            if (strncmp(in, secrets[i], len) == 0 && len > matched)
                matched = len;
        }
        if (matched > 0) {
            for (const char *m = "***"; *m != '\0' && o + 1 < outlen; m++)
                out[o++] = *m;
            in += matched;
        } else {
            out[o++] = *in++;
        }
    }
    out[o] = '\0';
}

char *es_redact(const char *in, char *out, size_t outlen)
{
    if (outlen == 0)
        return out;
    pthread_mutex_lock(&log_lock);
    redact_locked(in != NULL ? in : "", out, outlen);
    pthread_mutex_unlock(&log_lock);
    return out;
}

static const char *level_name(int level)
{
    switch (level) {
    case EMBSYNC_LOG_ERROR: return "error";
    case EMBSYNC_LOG_WARNING: return "warning";
    case EMBSYNC_LOG_INFO: return "info";
    default: return "debug";
    }
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct {
    void (*before)(void *arg), (*after)(void *arg);
    void *arg;
} line_hook;

void es_log_set_line_hook(void (*before)(void *arg), void (*after)(void *arg),
                          void *arg)
{
    pthread_mutex_lock(&log_lock);
    line_hook.before = before;
    line_hook.after = after;
    line_hook.arg = arg;
    pthread_mutex_unlock(&log_lock);
}

static void emit_line_locked(int level, const char *origin, const char *msg,
                             const es_log_field *fields, size_t n_fields);

/* Caller holds log_lock.  A live progress line on the terminal is cleared
 * first and drawn again below the log line. */
static void emit_locked(int level, const char *origin, const char *msg,
                        const es_log_field *fields, size_t n_fields)
{
    if (line_hook.before != NULL)
        line_hook.before(line_hook.arg);
    emit_line_locked(level, origin, msg, fields, n_fields);
    if (line_hook.after != NULL)
        line_hook.after(line_hook.arg);
}

static void emit_line_locked(int level, const char *origin, const char *msg,
                             const es_log_field *fields, size_t n_fields)
{
    const char *prefix = priority_prefix_locked(level);
    char stamp[32];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = (int)strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(stamp + n, sizeof stamp - (size_t)n, ".%03ldZ",
             ts.tv_nsec / 1000000);

    if (log_format == ES_LOG_JSON) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "ts", stamp);
        cJSON_AddStringToObject(o, "level", level_name(level));
        cJSON_AddStringToObject(o, "origin", origin != NULL ? origin : "core");
        cJSON_AddStringToObject(o, "msg", msg);
        for (size_t i = 0; i < n_fields; i++) {
            const es_log_field *f = &fields[i];
            if (cJSON_GetObjectItemCaseSensitive(o, f->name) != NULL)
                continue; /* never shadow ts, level, origin, msg */
            if (f->type == ES_FIELD_UINT)
                cJSON_AddNumberToObject(o, f->name, (double)f->u);
            else if (f->type == ES_FIELD_DOUBLE)
                cJSON_AddNumberToObject(o, f->name, f->d);
            else {
                char clean[LINE_MAX_LEN];
                redact_locked(f->s != NULL ? f->s : "", clean, sizeof clean);
                cJSON_AddStringToObject(o, f->name, clean);
            }
        }
        char *text = cJSON_PrintUnformatted(o);
        if (text != NULL)
            fprintf(stderr, "%s%s\n", prefix, text);
        cJSON_free(text);
        cJSON_Delete(o);
    } else if (log_to_journal) {
        /* The journal stamps and levels each line itself. */
        fprintf(stderr, "%s%s%s%s\n", prefix, origin != NULL ? origin : "",
                origin != NULL ? ": " : "", msg);
    } else {
        fprintf(stderr, "%s %-7s %s%s%s\n", stamp, level_name(level),
                origin != NULL ? origin : "", origin != NULL ? ": " : "", msg);
    }
}

static void vlog_fields(int level, const char *origin,
                        const es_log_field *fields, size_t n_fields,
                        const char *fmt, va_list ap) EMBSYNC_PRINTF(5, 0);

static void vlog_fields(int level, const char *origin,
                        const es_log_field *fields, size_t n_fields,
                        const char *fmt, va_list ap)
{
    if (!es_log_enabled(level))
        return;
    char raw[LINE_MAX_LEN], clean[LINE_MAX_LEN], keyed[LINE_MAX_LEN + 300];
    vsnprintf(raw, sizeof raw, fmt, ap);

    pthread_mutex_lock(&log_lock);
    redact_locked(raw, clean, sizeof clean);
    snprintf(keyed, sizeof keyed, "%d|%s|%s", level, origin ? origin : "",
             clean);
    double t = now_s();
    if (strcmp(keyed, last.line) == 0 && t - last.first < REPEAT_WINDOW_S) {
        last.suppressed++;
    } else {
        if (last.suppressed > 0) {
            char note[128];
            snprintf(note, sizeof note,
                     "last message repeated %lu more times",
                     last.suppressed);
            emit_locked(EMBSYNC_LOG_INFO, NULL, note, NULL, 0);
        }
        snprintf(last.line, sizeof last.line, "%s", keyed);
        last.first = t;
        last.suppressed = 0;
        emit_locked(level, origin, clean, fields, n_fields);
    }
    pthread_mutex_unlock(&log_lock);
}

void es_vlog(int level, const char *origin, const char *fmt, va_list ap)
{
    vlog_fields(level, origin, NULL, 0, fmt, ap);
}

void es_log_fields(int level, const char *origin, const es_log_field *fields,
                   size_t n_fields, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog_fields(level, origin, fields, n_fields, fmt, ap);
    va_end(ap);
}

void es_log(int level, const char *origin, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    es_vlog(level, origin, fmt, ap);
    va_end(ap);
}
