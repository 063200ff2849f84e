#include <config.h>

#include "aimd.h"

#include <math.h>

static void start(es_aimd *a, unsigned initial)
{
    a->window = initial == 0 ? 1 : initial;
    if (a->window > a->ceiling)
        a->window = a->ceiling;
    a->threshold = a->ceiling; /* slow start until the first decrease */
    a->floor = 0;
    a->decreased_at = -INFINITY;
}

void es_aimd_init(es_aimd *a, unsigned ceiling, int adaptive, unsigned initial)
{
    pthread_mutex_init(&a->lock, NULL);
    a->ceiling = ceiling == 0 ? 1 : ceiling;
    a->adaptive = adaptive;
    a->increases = a->decreases = 0;
    start(a, initial);
}

void es_aimd_destroy(es_aimd *a)
{
    pthread_mutex_destroy(&a->lock);
}

void es_aimd_restart(es_aimd *a, unsigned initial)
{
    pthread_mutex_lock(&a->lock);
    start(a, initial);
    pthread_mutex_unlock(&a->lock);
}

unsigned es_aimd_window(es_aimd *a)
{
    if (!a->adaptive)
        return a->ceiling;
    pthread_mutex_lock(&a->lock);
    unsigned w = (unsigned)a->window;
    pthread_mutex_unlock(&a->lock);
    return w < 1 ? 1 : w;
}

void es_aimd_sample(es_aimd *a, double sent_at, double done_at, int outcome)
{
    double latency = done_at - sent_at;
    pthread_mutex_lock(&a->lock);
    if (outcome == ES_AIMD_OK && a->floor > 0 &&
        latency > ES_AIMD_LATENCY_FACTOR * a->floor + ES_AIMD_LATENCY_SLACK)
        outcome = ES_AIMD_CONGESTED;
    if (outcome == ES_AIMD_OK) {
        if (a->floor == 0 || latency < a->floor)
            a->floor = latency > 0 ? latency : 1e-6;
        double before = a->window;
        a->window += a->window < a->threshold ? 1.0 : 1.0 / a->window;
        if (a->window > a->ceiling)
            a->window = a->ceiling;
        if (a->window > before)
            a->increases++;
    } else if (sent_at >= a->decreased_at) {
        /* Sent after the last decrease: news of the current window. */
        a->window *= ES_AIMD_BETA;
        if (a->window < 1)
            a->window = 1;
        a->threshold = a->window;
        a->decreased_at = done_at;
        a->decreases++;
    }
    pthread_mutex_unlock(&a->lock);
}

void es_aimd_read(es_aimd *a, es_aimd_view *out)
{
    pthread_mutex_lock(&a->lock);
    out->window = a->adaptive ? a->window : a->ceiling;
    out->threshold = a->threshold;
    out->floor = a->floor;
    out->increases = a->increases;
    out->decreases = a->decreases;
    pthread_mutex_unlock(&a->lock);
}
