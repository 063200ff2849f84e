/* A bounded blocking queue of pointers between pipeline stages.  Its bound
 * is what keeps memory flat: a fast stage waits for a slow one. */
#ifndef ES_QUEUE_H
#define ES_QUEUE_H

#include <pthread.h>
#include <stddef.h>

typedef struct es_queue {
    pthread_mutex_t lock;
    pthread_cond_t not_empty, not_full;
    void **slots;
    size_t cap, head, len;
    int closed;
} es_queue;

int es_queue_init(es_queue *q, size_t capacity);
void es_queue_destroy(es_queue *q);

/** Append, waiting while full.  Returns -1 when the queue is closed. */
int es_queue_push(es_queue *q, void *item);

/** Take the oldest item, waiting while empty; NULL once closed and drained. */
void *es_queue_pop(es_queue *q);

/** Take the oldest item without waiting; NULL while empty or once closed
 * and drained. */
void *es_queue_try_pop(es_queue *q);

/** No more pushes; poppers drain what is left, then get NULL. */
void es_queue_close(es_queue *q);

#endif
