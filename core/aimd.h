/* The one adaptive concurrency limit: how many requests may be in flight
 * to one server.  AIMD (additive increase, multiplicative decrease) as in
 * TCP Reno's congestion window, with Reno's slow start, and with a delay
 * signal in the manner of TCP Vegas:
 *
 *   - slow start: below the threshold, each success adds 1 (the window
 *     doubles per round trip) — a cold limit finds a distant server's
 *     depth in a few round trips instead of hundreds;
 *   - additive increase: above it, each success adds 1/window (one more
 *     request in flight per round trip);
 *   - multiplicative decrease: a congestion signal (the server answered
 *     429 or 503, a request timed out, or a latency above
 *     ES_AIMD_LATENCY_FACTOR × the least latency seen plus
 *     ES_AIMD_LATENCY_SLACK) halves the window, at least 1, and sets the
 *     threshold to it.  Answers to requests sent before the last decrease
 *     do not decrease again: one overload costs one halving, as in Reno.
 *
 * The window stays within 1 and the ceiling; a fixed limit is always the
 * ceiling (adaptive = false, for operators who want a fixed number).  The
 * host's limits start at the ceiling (the operator's number holds until
 * the server pushes back) and restart at 1 in slow start when a server
 * that was down comes back.
 * Thread-safe: one limit is shared by every thread talking to its server. */
#ifndef ES_AIMD_H
#define ES_AIMD_H

#include <pthread.h>
#include <stdint.h>

/** Latency signal: slower than FACTOR × floor + SLACK seconds is congested.
 *  The slack keeps a fast local server (a floor under a millisecond) from
 *  reading scheduling noise as overload. */
#define ES_AIMD_LATENCY_FACTOR 3.0
#define ES_AIMD_LATENCY_SLACK 0.020
#define ES_AIMD_BETA 0.5

typedef struct es_aimd {
    pthread_mutex_t lock;
    unsigned ceiling;
    int adaptive;
    double window;       /* 1 ≤ window ≤ ceiling */
    double threshold;    /* slow start below it */
    double floor;        /* least latency of a success, s; 0 = none yet */
    double decreased_at; /* completion time of the last decrease */
    uint64_t increases, decreases;
} es_aimd;

/** Start at min(initial, ceiling) in flight (initial 0 means 1), in slow
 *  start up to the ceiling.  ceiling 0 is taken as 1. */
void es_aimd_init(es_aimd *a, unsigned ceiling, int adaptive, unsigned initial);
void es_aimd_destroy(es_aimd *a);

/** Requests that may be in flight now: floor(window), 1..ceiling. */
unsigned es_aimd_window(es_aimd *a);

enum { ES_AIMD_OK = 0, ES_AIMD_CONGESTED = 1 };

/** One request sent at `sent_at` ended at `done_at` (es_mono_now()
 *  seconds) with `outcome`: a success (its latency may still signal
 *  congestion) or a congestion signal. */
void es_aimd_sample(es_aimd *a, double sent_at, double done_at, int outcome);

/** Back to the start (a server that was down comes back cold). */
void es_aimd_restart(es_aimd *a, unsigned initial);

/** A copy of the state, for tests and metrics. */
typedef struct es_aimd_view {
    double window, threshold, floor;
    uint64_t increases, decreases;
} es_aimd_view;
void es_aimd_read(es_aimd *a, es_aimd_view *out);

#endif
