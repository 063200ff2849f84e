#include <config.h>

#include "metrics.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct metric {
    char *name;
    char *labels;
    double value;
    int gauge;
} metric;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static metric *metrics;
static size_t n_metrics, cap_metrics;

/* Caller holds lock.  Linear search: a few hundred series at most. */
static metric *find_or_add(const char *name, const char *labels, int gauge)
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
    m->gauge = gauge;
    n_metrics++;
    return m;
}

void es_metric_add(const char *name, const char *labels, double delta)
{
    pthread_mutex_lock(&lock);
    metric *m = find_or_add(name, labels ? labels : "", 0);
    if (m != NULL)
        m->value += delta;
    pthread_mutex_unlock(&lock);
}

void es_metric_set(const char *name, const char *labels, double value)
{
    pthread_mutex_lock(&lock);
    metric *m = find_or_add(name, labels ? labels : "", 1);
    if (m != NULL)
        m->value = value;
    pthread_mutex_unlock(&lock);
}

double es_metric_get(const char *name, const char *labels)
{
    double v = 0;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < n_metrics; i++)
        if (strcmp(metrics[i].name, name) == 0 &&
            strcmp(metrics[i].labels, labels ? labels : "") == 0)
            v = metrics[i].value;
    pthread_mutex_unlock(&lock);
    return v;
}

void es_metrics_write(FILE *out)
{
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < n_metrics; i++) {
        int first = 1;
        for (size_t j = 0; j < i; j++)
            if (strcmp(metrics[j].name, metrics[i].name) == 0)
                first = 0;
        if (first)
            fprintf(out, "# TYPE %s %s\n", metrics[i].name,
                    metrics[i].gauge ? "gauge" : "counter");
        /* Series of one family must be adjacent in the exposition. */
        if (!first)
            continue;
        for (size_t j = i; j < n_metrics; j++) {
            if (strcmp(metrics[j].name, metrics[i].name) != 0)
                continue;
            if (*metrics[j].labels)
                fprintf(out, "%s{%s} %.17g\n", metrics[j].name,
                        metrics[j].labels, metrics[j].value);
            else
                fprintf(out, "%s %.17g\n", metrics[j].name, metrics[j].value);
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
