/* The one monotonic clock the core measures durations and deadlines with. */
#ifndef ES_CLOCK_H
#define ES_CLOCK_H

/** Seconds on CLOCK_MONOTONIC: only differences mean anything. */
double es_mono_now(void);

#endif
