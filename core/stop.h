/* A stop request that sleeping threads wake up for at once. */
#ifndef ES_STOP_H
#define ES_STOP_H

#include <pthread.h>

typedef struct es_stop {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int requested;   /* read without the lock by pollers: only ever grows */
} es_stop;

void es_stop_init(es_stop *s);
void es_stop_destroy(es_stop *s);

/** Ask everything watching s to stop; wakes every waiter. */
void es_stop_request(es_stop *s);

/** Clear a request (the next pass may run). */
void es_stop_clear(es_stop *s);

int es_stop_requested(es_stop *s);

/** Wait up to `seconds`; returns non-zero when a stop was requested.
 *  Sleeps without waking up in between. */
int es_stop_wait(es_stop *s, double seconds);

#endif
