#include <config.h>

#include "retry.h"

#include <math.h>
#include <stdlib.h>
#include <time.h>

#define BASE_DELAY_S 0.5
#define MAX_DELAY_S 60.0

static double scale = 1.0;

void es_retry_set_scale(double s)
{
    scale = s > 0 ? s : 1.0;
}

double es_retry_scale(void)
{
    return scale;
}

double es_retry_delay(unsigned attempt, double at_least)
{
    /* The scale shortens our own backoff (tests); what a server asked for
     * with Retry-After is honoured as given. */
    if (attempt < 2)
        return at_least > 0 ? at_least : 0;
    double cap = BASE_DELAY_S * pow(2.0, (double)(attempt - 2));
    if (cap > MAX_DELAY_S)
        cap = MAX_DELAY_S;
    /* Full jitter keeps many clients from retrying in lockstep; half the cap
     * is kept as a floor so a retry never comes back instantly. */
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)attempt ^
                    (unsigned)(size_t)&cap;
    double jitter = (double)rand_r(&seed) / RAND_MAX;
    double delay = cap * (0.5 + 0.5 * jitter) * scale;
    return delay < at_least ? at_least : delay;
}
