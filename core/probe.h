/* `embsync check`: open each backend and probe it once, briefly. */
#ifndef ES_PROBE_H
#define ES_PROBE_H

#include "app.h"

/** What probing one backend found. */
typedef struct es_probe_result {
    int opened;            /* open() succeeded (the section is valid) */
    int rc;                /* check()'s answer when opened */
    double seconds;        /* open and check together */
    char message[2048];    /* why it failed, redacted; "" when ok */
} es_probe_result;

/** Open the three backends of app and call each one's check(), the three
 *  at once, each in probe mode (es_http_probe_begin) for at most `seconds`:
 *  one attempt per request, no retry waits.  results[kind - 1] says how
 *  each went.  Returns the number that failed. */
int es_probe_backends(es_app *app, double seconds, es_probe_result results[3]);

#endif
