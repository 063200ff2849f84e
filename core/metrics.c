#include <config.h>

#include "metrics.h"

#include <inttypes.h>
#include <pthread.h>
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
