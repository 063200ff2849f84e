#include <config.h>

#include "stop.h"

#include <math.h>
#include <time.h>

void es_stop_init(es_stop *s)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, &attr);
    pthread_condattr_destroy(&attr);
    s->requested = 0;
}

void es_stop_destroy(es_stop *s)
{
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
}

void es_stop_request(es_stop *s)
{
    pthread_mutex_lock(&s->lock);
    __atomic_store_n(&s->requested, 1, __ATOMIC_SEQ_CST);
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

void es_stop_clear(es_stop *s)
{
    pthread_mutex_lock(&s->lock);
    __atomic_store_n(&s->requested, 0, __ATOMIC_SEQ_CST);
    pthread_mutex_unlock(&s->lock);
}

int es_stop_requested(es_stop *s)
{
    return __atomic_load_n(&s->requested, __ATOMIC_SEQ_CST);
}

int es_stop_wait(es_stop *s, double seconds)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    if (seconds > 0) {
        double whole = floor(seconds);
        until.tv_sec += (time_t)whole;
        until.tv_nsec += (long)((seconds - whole) * 1e9);
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
    }
    pthread_mutex_lock(&s->lock);
    while (!s->requested) {
        if (pthread_cond_timedwait(&s->cond, &s->lock, &until) != 0)
            break; /* timed out */
    }
    int stopped = s->requested;
    pthread_mutex_unlock(&s->lock);
    return stopped;
}
