#include <config.h>

#include "progress.h"

#include <stdio.h>
#include <string.h>

#include "clock.h"

const char *es_stage_name(es_stage stage)
{
    switch (stage) {
    case ES_STAGE_IDLE: return "idle";
    case ES_STAGE_BEGIN: return "begin";
    case ES_STAGE_ENSURE: return "ensure";
    case ES_STAGE_REBUILD: return "rebuild";
    case ES_STAGE_SYNC: return "sync";
    case ES_STAGE_RECONCILE: return "reconcile";
    case ES_STAGE_END: return "end";
    }
    return "unknown";
}

void es_progress_init(es_progress *p)
{
    memset(p, 0, sizeof *p);
    pthread_mutex_init(&p->lock, NULL);
    p->v.stage = ES_STAGE_IDLE;
    p->v.end_status = ES_PROGRESS_NONE;
    p->v.ended_status = p->v.ended_end_status = ES_PROGRESS_NONE;
}

void es_progress_destroy(es_progress *p)
{
    pthread_mutex_destroy(&p->lock);
}

void es_progress_start(es_progress *p, const char *collection, es_stage stage)
{
    pthread_mutex_lock(&p->lock);
    snprintf(p->v.collection, sizeof p->v.collection, "%s", collection);
    p->v.stage = stage;
    p->v.total = p->v.done = p->v.failed = 0;
    p->v.started = es_mono_now();
    p->v.end_status = ES_PROGRESS_NONE;
    p->v.rebuild_target[0] = '\0';
    p->v.rebuild_done = p->v.rebuild_total = 0;
    p->stop_collection[0] = '\0';
    pthread_mutex_unlock(&p->lock);
}

void es_progress_set_stage(es_progress *p, es_stage stage)
{
    pthread_mutex_lock(&p->lock);
    p->v.stage = stage;
    pthread_mutex_unlock(&p->lock);
}

void es_progress_set_total(es_progress *p, uint64_t total)
{
    pthread_mutex_lock(&p->lock);
    p->v.total = total;
    pthread_mutex_unlock(&p->lock);
}

void es_progress_add(es_progress *p, uint64_t done, uint64_t failed)
{
    pthread_mutex_lock(&p->lock);
    p->v.done += done;
    p->v.failed += failed;
    pthread_mutex_unlock(&p->lock);
}

void es_progress_end_answer(es_progress *p, int end_status)
{
    pthread_mutex_lock(&p->lock);
    p->v.end_status = end_status;
    pthread_mutex_unlock(&p->lock);
}

void es_progress_ended(es_progress *p, const char *collection, int status)
{
    pthread_mutex_lock(&p->lock);
    snprintf(p->v.ended_collection, sizeof p->v.ended_collection, "%s",
             collection);
    p->v.ended_status = status;
    p->v.ended_end_status = p->v.end_status;
    p->v.ended++;
    pthread_mutex_unlock(&p->lock);
}

void es_progress_rebuild(es_progress *p, const char *target, uint64_t done,
                         uint64_t total)
{
    pthread_mutex_lock(&p->lock);
    snprintf(p->v.rebuild_target, sizeof p->v.rebuild_target, "%s",
             target != NULL ? target : "");
    p->v.rebuild_done = done;
    p->v.rebuild_total = total;
    pthread_mutex_unlock(&p->lock);
}

int es_progress_request_stop(es_progress *p, const char *collection)
{
    pthread_mutex_lock(&p->lock);
    int running = p->v.stage != ES_STAGE_IDLE &&
                  strcmp(p->v.collection, collection) == 0;
    if (running)
        snprintf(p->stop_collection, sizeof p->stop_collection, "%s",
                 collection);
    pthread_mutex_unlock(&p->lock);
    return running;
}

int es_progress_stop_requested(es_progress *p, const char *collection)
{
    pthread_mutex_lock(&p->lock);
    int mine = strcmp(p->stop_collection, collection) == 0;
    pthread_mutex_unlock(&p->lock);
    return mine;
}

void es_progress_read(es_progress *p, es_progress_view *out)
{
    pthread_mutex_lock(&p->lock);
    *out = p->v;
    pthread_mutex_unlock(&p->lock);
}
