#include <config.h>

#include "queue.h"

#include <stdlib.h>

int es_queue_init(es_queue *q, size_t capacity)
{
    q->slots = calloc(capacity, sizeof *q->slots);
    if (q->slots == NULL)
        return -1;
    q->cap = capacity;
    q->head = q->len = 0;
    q->closed = 0;
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->not_empty, NULL);
    pthread_cond_init(&q->not_full, NULL);
    return 0;
}

void es_queue_destroy(es_queue *q)
{
    free(q->slots);
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->not_empty);
    pthread_cond_destroy(&q->not_full);
}

int es_queue_push(es_queue *q, void *item)
{
    pthread_mutex_lock(&q->lock);
    while (q->len == q->cap && !q->closed)
        pthread_cond_wait(&q->not_full, &q->lock);
    if (q->closed) {
        pthread_mutex_unlock(&q->lock);
        return -1;
    }
    q->slots[(q->head + q->len) % q->cap] = item;
    q->len++;
    pthread_cond_signal(&q->not_empty);
    pthread_mutex_unlock(&q->lock);
    return 0;
}

/* The oldest item, or NULL when there is none; called with the lock. */
static void *take_locked(es_queue *q)
{
    if (q->len == 0)
        return NULL;
    void *item = q->slots[q->head];
    q->head = (q->head + 1) % q->cap;
    q->len--;
    pthread_cond_signal(&q->not_full);
    return item;
}

void *es_queue_pop(es_queue *q)
{
    pthread_mutex_lock(&q->lock);
    while (q->len == 0 && !q->closed)
        pthread_cond_wait(&q->not_empty, &q->lock);
    void *item = take_locked(q);
    pthread_mutex_unlock(&q->lock);
    return item;
}

void *es_queue_try_pop(es_queue *q)
{
    pthread_mutex_lock(&q->lock);
    void *item = take_locked(q);
    pthread_mutex_unlock(&q->lock);
    return item;
}

void es_queue_close(es_queue *q)
{
    pthread_mutex_lock(&q->lock);
    q->closed = 1;
    pthread_cond_broadcast(&q->not_empty);
    pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->lock);
}
