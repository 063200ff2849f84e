#include <config.h>

#include "metrics.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

static const double buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                 0.5,   1,    2.5,   5,    10,  60};
#define N_BUCKETS (sizeof buckets / sizeof buckets[0])

enum metric_type { COUNTER, GAUGE, HISTOGRAM };

typedef struct metric {
    char *name;
    char *labels;
    double value;               /* counter, gauge; histogram: sum */
    enum metric_type type;
    uint64_t count;             /* histogram */
    uint64_t bucket[N_BUCKETS]; /* histogram, not cumulative */
} metric;

/* The HELP text of each family the core writes; a plugin's own counters
 * (embsync_plugin_NAME_total) share one. */
static const struct {
    const char *name;
    const char *help;
} helps[] = {
    {"embsync_items_total",
     "Items handled per collection, by result (embedded, deleted, failed, deferred)."},
    {"embsync_runs_total", "Sync passes over a collection, by final status."},
    {"embsync_run_duration_seconds",
     "Duration of the last sync pass over a collection."},
    {"embsync_last_success_timestamp_seconds",
     "Unix time at which the last successful pass over a collection ended."},
    {"embsync_batch_duration_seconds",
     "Time one pipeline stage (fetch, embed, store) spent on one batch; "
     "the store stage's on the batches it took together."},
    {"embsync_queue_depth", "Batches waiting between two pipeline stages."},
    {"embsync_http_requests_total",
     "HTTP requests made for a plugin, by status code (0: no answer)."},
    {"embsync_http_retries_total", "HTTP requests retried for a plugin."},
    {"embsync_backend_up",
     "1 when the backend's last health check passed, else 0."},
    {"embsync_build_info", "Version of embsync and of its plugin ABI."},
};

static const char *help_of(const char *name)
{
    for (size_t i = 0; i < sizeof helps / sizeof helps[0]; i++)
        if (strcmp(helps[i].name, name) == 0)
            return helps[i].help;
    if (strncmp(name, "embsync_plugin_", 15) == 0) {
        size_t n = strlen(name);
        return n > 6 && strcmp(name + n - 6, "_total") == 0
                   ? "A counter a plugin reports about its own work."
                   : "A gauge a plugin reports about its own work.";
    }
    return "An embsync metric.";
}

char *es_metric_labels(char *out, size_t len, ...)
{
    size_t at = 0;
    int first = 1;
    va_list ap;
    va_start(ap, len);
    if (len > 0)
        out[0] = '\0';
    for (const char *key; (key = va_arg(ap, const char *)) != NULL;) {
        const char *value = va_arg(ap, const char *);
        if (value == NULL)
            value = "";
        /* key, '=', the quotes, the comma and the NUL must all fit. */
        size_t klen = strlen(key);
        if (at + klen + 5 > len)
            break;
        if (!first)
            out[at++] = ',';
        first = 0;
        memcpy(out + at, key, klen);
        at += klen;
        out[at++] = '=';
        out[at++] = '"';
        /* A value too long is cut, never in the middle of an escape, so
         * the set stays valid exposition text. */
        for (const char *c = value; *c != '\0'; c++) {
            const char *esc = *c == '\\' ? "\\\\"
                              : *c == '"'  ? "\\\""
                              : *c == '\n' ? "\\n"
                                           : NULL;
            size_t need = esc != NULL ? 2 : 1;
            if (at + need + 2 > len)
                break;
            if (esc != NULL) {
                memcpy(out + at, esc, 2);
                at += 2;
            } else {
                out[at++] = *c;
            }
        }
        out[at++] = '"';
        out[at] = '\0';
    }
    va_end(ap);
    return out;
}

/* HELP text escapes only backslash and newline. */
static void write_help(FILE *out, const char *name)
{
    fprintf(out, "# HELP %s ", name);
    for (const char *c = help_of(name); *c != '\0'; c++) {
        if (*c == '\\')
            fputs("\\\\", out);
        else if (*c == '\n')
            fputs("\\n", out);
        else
            fputc(*c, out);
    }
    fputc('\n', out);
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static metric *metrics;
static size_t n_metrics, cap_metrics;

/* Caller holds lock.  Linear search: a few hundred series at most. */
static metric *find_or_add(const char *name, const char *labels,
                           enum metric_type type)
{
    for (size_t i = 0; i < n_metrics; i++)
        if (strcmp(metrics[i].name, name) == 0 &&
            strcmp(metrics[i].labels, labels) == 0)
            return &metrics[i];
    if (n_metrics == cap_metrics) {
        size_t cap = cap_metrics ? cap_metrics * 2 : 64;
        metric *grown = realloc(metrics, cap * sizeof *grown);
        if (grown == NULL)
            return NULL;
        metrics = grown;
        cap_metrics = cap;
    }
    metric *m = &metrics[n_metrics];
    m->name = strdup(name);
    m->labels = strdup(labels);
    if (m->name == NULL || m->labels == NULL) {
        free(m->name);
        free(m->labels);
        return NULL;
    }
    m->value = 0;
    m->type = type;
    m->count = 0;
    memset(m->bucket, 0, sizeof m->bucket);
    n_metrics++;
    return m;
}

void es_metric_add(const char *name, const char *labels, double delta)
{
    pthread_mutex_lock(&lock);
    metric *m = find_or_add(name, labels ? labels : "", COUNTER);
    if (m != NULL)
        m->value += delta;
    pthread_mutex_unlock(&lock);
}

void es_metric_set(const char *name, const char *labels, double value)
{
    pthread_mutex_lock(&lock);
    metric *m = find_or_add(name, labels ? labels : "", GAUGE);
    if (m != NULL)
        m->value = value;
    pthread_mutex_unlock(&lock);
}

void es_metric_observe(const char *name, const char *labels, double value)
{
    pthread_mutex_lock(&lock);
    metric *m = find_or_add(name, labels ? labels : "", HISTOGRAM);
    if (m != NULL) {
        m->value += value;
        m->count++;
        for (size_t b = 0; b < N_BUCKETS; b++) {
            if (value <= buckets[b]) {
                m->bucket[b]++;
                break;
            }
        }
    }
    pthread_mutex_unlock(&lock);
}

double es_metric_get(const char *name, const char *labels)
{
    double v = 0;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < n_metrics; i++)
        if (strcmp(metrics[i].name, name) == 0 &&
            strcmp(metrics[i].labels, labels ? labels : "") == 0)
            v = metrics[i].type == HISTOGRAM ? (double)metrics[i].count
                                             : metrics[i].value;
    pthread_mutex_unlock(&lock);
    return v;
}

static void write_histogram(FILE *out, const metric *m)
{
    const char *sep = *m->labels ? "," : "";
    uint64_t cumulative = 0;
    for (size_t b = 0; b < N_BUCKETS; b++) {
        cumulative += m->bucket[b];
        fprintf(out, "%s_bucket{%s%sle=\"%g\"} %" PRIu64 "\n", m->name,
                m->labels, sep, buckets[b], cumulative);
    }
    fprintf(out, "%s_bucket{%s%sle=\"+Inf\"} %" PRIu64 "\n", m->name,
            m->labels, sep, m->count);
    if (*m->labels) {
        fprintf(out, "%s_sum{%s} %.17g\n", m->name, m->labels, m->value);
        fprintf(out, "%s_count{%s} %" PRIu64 "\n", m->name, m->labels,
                m->count);
    } else {
        fprintf(out, "%s_sum %.17g\n%s_count %" PRIu64 "\n", m->name,
                m->value, m->name, m->count);
    }
}

void es_metrics_write(FILE *out)
{
    static const char *const type_names[] = {"counter", "gauge", "histogram"};
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < n_metrics; i++) {
        /* All series of a family go together, after one TYPE line. */
        int first = 1;
        for (size_t j = 0; j < i && first; j++)
            if (strcmp(metrics[j].name, metrics[i].name) == 0)
                first = 0;
        if (!first)
            continue;
        write_help(out, metrics[i].name);
        fprintf(out, "# TYPE %s %s\n", metrics[i].name,
                type_names[metrics[i].type]);
        for (size_t j = i; j < n_metrics; j++) {
            const metric *m = &metrics[j];
            if (strcmp(m->name, metrics[i].name) != 0)
                continue;
            if (m->type == HISTOGRAM)
                write_histogram(out, m);
            else if (*m->labels)
                fprintf(out, "%s{%s} %.17g\n", m->name, m->labels, m->value);
            else
                fprintf(out, "%s %.17g\n", m->name, m->value);
        }
    }
    pthread_mutex_unlock(&lock);
}

void es_metrics_reset(void)
{
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < n_metrics; i++) {
        free(metrics[i].name);
        free(metrics[i].labels);
    }
    free(metrics);
    metrics = NULL;
    n_metrics = cap_metrics = 0;
    pthread_mutex_unlock(&lock);
}
