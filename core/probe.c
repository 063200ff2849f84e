#include <config.h>

#include "probe.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "calls.h"
#include "clock.h"
#include "http.h"
#include "log.h"

typedef struct probe_job {
    es_app *app;
    int kind;
    double seconds;
    es_probe_result *out;
} probe_job;

/* The probe mode and the call error are per thread, so each backend gets
 * its own thread, deadline and error. */
static void *probe_one(void *arg)
{
    probe_job *j = arg;
    es_probe_result *r = j->out;
    char err[2048];
    double start = es_mono_now();
    es_http_probe_begin(j->seconds);
    r->opened = es_app_open(j->app, j->kind, err, sizeof err) == 0;
    r->rc = EMBSYNC_FAILED;
    if (r->opened) {
        r->rc = es_plugin_check(es_app_instance(j->app, j->kind));
        snprintf(err, sizeof err, "%s",
                 r->rc == EMBSYNC_OK ? ""
                 : *es_call_error() ? es_call_error() : "no reason");
    }
    es_http_probe_end();
    r->seconds = es_mono_now() - start;
    es_redact(err, r->message, sizeof r->message);
    return NULL;
}

int es_probe_backends(es_app *app, double seconds, es_probe_result results[3])
{
    probe_job jobs[3];
    pthread_t threads[3];
    int started[3] = {0, 0, 0};
    for (int kind = EMBSYNC_KIND_SOURCE; kind <= EMBSYNC_KIND_STORE; kind++) {
        int i = kind - 1;
        memset(&results[i], 0, sizeof results[i]);
        jobs[i] = (probe_job){app, kind, seconds, &results[i]};
        started[i] = pthread_create(&threads[i], NULL, probe_one, &jobs[i]) == 0;
        if (!started[i])
            probe_one(&jobs[i]); /* no thread: probe here, in turn */
    }
    int bad = 0;
    for (int i = 0; i < 3; i++) {
        if (started[i])
            pthread_join(threads[i], NULL);
        bad += !results[i].opened || results[i].rc != EMBSYNC_OK;
    }
    return bad;
}
