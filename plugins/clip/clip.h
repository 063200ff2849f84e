/* The clip embedder's parts: the codec of CLIP-as-service's /post
 * (clip_codec.c), its endpoints with their adaptive limits and the pool of
 * requests spread over them (clip_endpoints.c), and the plugin's
 * operations (clip.c). */
#ifndef CLIP_H
#define CLIP_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <embsync/plugin.h>

/* One document of a request: image bytes, or a text. */
typedef struct doc {
    const unsigned char *data; /* image bytes, or NULL for text */
    size_t len;
    const char *text;
} doc;

typedef struct clip clip;
typedef struct call call;

/* A slice of one call's documents, sent as one request. */
typedef struct job {
    struct job *next;
    call *k;                   /* the call it is a slice of */
    size_t first, n;
    unsigned attempts;         /* sends that ended without an answer */
    unsigned depth;            /* its endpoint's in flight with it, when given */
} job;

/* One CLIP-as-service base URL and what we know of it. */
typedef struct endpoint {
    clip *c;
    char *base;                /* no trailing slash */
    char *label;               /* the base with credentials blanked */
    char *post_url, *dry_run_url;
    embsync_limit *limit;      /* requests in flight (AIMD) */
    int up;                    /* in rotation */
    unsigned in_flight;        /* jobs given to it and not yet settled */
    job *queue, *queue_tail;   /* given to it, no worker has them yet */
    pthread_cond_t work;       /* its workers wait for a job */
    pthread_cond_t down;       /* its prober waits for it to fail */
    pthread_t *threads;        /* workers, then the prober */
    unsigned n_threads;
    double latency;            /* smoothed seconds per answered request */
    double rate;               /* smoothed requests answered per second, 0 =
                                  not known yet (Little: depth / latency) */
    double ready_at;           /* last good readiness check (clock_now) */
    unsigned busy_streak;      /* 429s in a row */
    unsigned window_min, window_max; /* what the limit went through */
    unsigned long long requests, errors;
    char last_error[256];
} endpoint;

struct clip {
    const embsync_host *host;
    embsync_ctx *ctx;
    char *auth_header;         /* "Authorization: ..." or NULL */
    const char *model;
    uint32_t dim;
    long batch_size;
    unsigned parallel;         /* ceiling of requests in flight per endpoint */
    int adaptive;
    long timeout_ms;
    double ready_timeout_s;
    int normalize;
    unsigned flags;            /* EMBSYNC_HTTP_* */
    endpoint *eps;
    size_t n_eps;
    size_t next_ep;            /* where the least-in-flight search starts */
    pthread_mutex_t lock;      /* everything below, and endpoints' state */
    pthread_cond_t changed;    /* a job settled or an endpoint came back */
    call *calls, *calls_tail;  /* the calls in progress, oldest first */
    int started, start_failed, stopping;
};

/* ---- clip_codec.c ---- */

/** The /post body for n documents with ids "0".."n-1"; NULL out of memory. */
char *clip_encode_body(const doc *docs, size_t n);

/** A POST of the JSON text `body` to `url` with the plugin's timeout and
 *  TLS flags; headers and body are borrowed for the request's lifetime. */
embsync_http_request clip_post(const clip *c, const char *url,
                               const char **headers, const char *body);

enum { ANSWER_OK, ANSWER_EXECUTOR_ERROR, ANSWER_PROTOCOL_ERROR };

/** Parse an answer of n documents into vectors (n × c->dim), paired by id;
 *  on an error, copy its description into why. */
int clip_parse_answer(const clip *c, const char *body, size_t n,
                      float *vectors, char *why, size_t whylen);

/* ---- clip_endpoints.c ---- */

/* How long a prober's wait (and a 429's) grows: the retry policy's delay
 * for this attempt, 2–4 s at most. */
#define PROBE_ATTEMPT_MAX 5

/** Publish e's gauges.  Caller holds c->lock (so do the next two). */
void clip_show(clip *c, endpoint *e);
/** Take e out of rotation for `why` (its prober starts polling). */
void clip_take_out(clip *c, endpoint *e, const char *why);
/** Put e back into rotation, its limit in slow start from 1. */
void clip_bring_back(clip *c, endpoint *e);
/** The prober thread of one endpoint (arg: the endpoint). */
void *clip_prober(void *arg);

/** Split `list` (URLs or task ids, comma or blank separated) into a
 *  malloc'd array of malloc'd words; NULL when empty or out of memory. */
char **clip_split_list(const char *list, size_t *n);

/** Set up the endpoints from their base URLs (copied). */
int clip_endpoints_init(clip *c, char *const *bases, size_t n);
void clip_endpoints_free(clip *c);

/** GET /dry_run of one endpoint, one attempt: EMBSYNC_OK when the Flow is
 *  ready; otherwise RETRY with the reason in e->last_error (and through
 *  set_error on the calling thread). */
int clip_dry_run(clip *c, endpoint *e);

/** Probe every endpoint once on this thread and take it in or out of
 *  rotation accordingly; returns how many are up. */
size_t clip_probe_all(clip *c);

/** Wait, with the retry policy's delays up to ready_timeout, until at
 *  least one endpoint is ready. */
int clip_wait_ready(clip *c);

/* ---- clip_pool.c ---- */

/** Give the calls' pending jobs to endpoints, the oldest call's first.
 *  Caller holds c->lock. */
void clip_dispatch(clip *c);

/** Encode n documents over the endpoints, writing vectors and
 *  item_status; the embedder's result for the call. */
int clip_encode(clip *c, const doc *docs, size_t n, float *vectors,
                int *item_status);

#endif
