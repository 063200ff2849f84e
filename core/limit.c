#include <config.h>

#include "limit.h"

#include <stdlib.h>

#include "clock.h"

struct embsync_limit {
    es_aimd aimd;
};

embsync_limit *es_limit_new(embsync_ctx *ctx, unsigned ceiling,
                            unsigned flags)
{
    (void)ctx;
    embsync_limit *l = malloc(sizeof *l);
    if (l != NULL)
        es_aimd_init(&l->aimd, ceiling, !(flags & EMBSYNC_LIMIT_FIXED),
                     ceiling);
    return l;
}

unsigned es_limit_window(embsync_limit *l)
{
    return es_aimd_window(&l->aimd);
}

void es_limit_sample(embsync_limit *l, double sent_at, int outcome)
{
    es_aimd_sample(&l->aimd, sent_at, es_mono_now(),
                   outcome == EMBSYNC_LIMIT_CONGESTED ? ES_AIMD_CONGESTED
                                                      : ES_AIMD_OK);
}

void es_limit_restart(embsync_limit *l)
{
    es_aimd_restart(&l->aimd, 1);
}

void es_limit_free(embsync_limit *l)
{
    if (l == NULL)
        return;
    es_aimd_destroy(&l->aimd);
    free(l);
}

es_aimd *es_limit_aimd(embsync_limit *l)
{
    return l != NULL ? &l->aimd : NULL;
}
