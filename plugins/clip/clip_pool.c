/* The pool of requests over several CLIP-as-service endpoints.
 *
 * A call's documents are cut into jobs of batch_size.  Each job goes to the
 * endpoint in rotation with the fewest requests in flight, below that
 * endpoint's limit: an AIMD window from the host, between 1 and
 * parallel_requests — from the ceiling, +1 per round trip, halved on 429,
 * 503, a timeout or an answer far slower than the endpoint's best, and in
 * slow start from 1 when the endpoint comes back.  Every endpoint has
 * parallel_requests workers that send what it is given, and a prober
 * (clip_endpoints.c).
 *
 * An endpoint that fails (no answer, a 5xx, a timeout) or is not ready
 * (dry_run code != 0) leaves the rotation; its prober polls GET /dry_run
 * with the retry policy's delays and brings it back when it answers.  The
 * job it held goes back to the front of the queue, whole, for another
 * endpoint: its vectors are only ever taken from one complete answer, so a
 * document is neither lost nor taken twice.  A 429 keeps the endpoint in
 * rotation with a smaller window; the worker that got it waits the policy's
 * delay (or Retry-After) before it takes more.
 *
 * Several calls may be in progress at once, each on its host thread (the
 * plugin says so in info(): ABI 1.4 concurrent_calls).  Their jobs are
 * given out oldest call first, so a newer call's jobs fill only the places
 * the older one leaves free: while the last jobs of one call are answered,
 * the next call's keep the other endpoints busy instead of the call's end
 * leaving them idle.
 *
 * Workers run on threads of their own and never report through
 * set_error() (that is the calling thread's): what a call must say is kept
 * in it and said by the thread that made the call. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clip.h"

/* Sends of one job that may end without an answer before the call gives
 * up: the policy's number of attempts, plus one per other endpoint. */
#define JOB_SENDS(c) (4 + (unsigned)(c)->n_eps)
#define READY_RECHECK_S 60.0

struct call {
    call *next;                /* the next newer call in progress */
    const doc *docs;
    size_t n;
    float *vectors;
    int *item_status;
    char **item_reason;        /* per document, for ITEM_FAILED ones */
    job *pending, *pending_tail;
    size_t open;               /* jobs not yet settled */
    int rc;                    /* first whole-call failure, or OK */
    int http_rc;               /* with it: what http() said, */
    embsync_http_response resp;/* and the answer (status, body, error) */
    char error[640];           /* or a text of ours */
};

/* ---- dispatch --------------------------------------------------------- */

static void push_front(job **head, job **tail, job *j)
{
    j->next = *head;
    *head = j;
    if (*tail == NULL)
        *tail = j;
}

static void push_back(job **head, job **tail, job *j)
{
    j->next = NULL;
    if (*tail != NULL)
        (*tail)->next = j;
    else
        *head = j;
    *tail = j;
}

static job *pop(job **head, job **tail)
{
    job *j = *head;
    if (j != NULL) {
        *head = j->next;
        if (*head == NULL)
            *tail = NULL;
    }
    return j;
}

/* Where a job given to e now would stand: behind its in flight, or, when e
 * is at its window, behind what it must wait for (half a place less than a
 * free endpoint with as many in flight, so that a tie waits for the full
 * one instead of queueing deeper elsewhere). */
static double depth_of(const clip *c, const endpoint *e)
{
    unsigned window = c->host->limit_window(e->limit);
    return e->in_flight < window ? e->in_flight + 1.0 : window + 0.5;
}

/* Is a better than b for the next job?  Fewest in flight decides, unless
 * the rates (once every endpoint has one) say a would answer it clearly
 * sooner, by more than their noise of a few tenths. */
static int better(const clip *c, const endpoint *a, const endpoint *b, int rates_known)
{
    double da = depth_of(c, a), db = depth_of(c, b);
    if (rates_known) {
        double fa = da / a->rate, fb = db / b->rate;
        if (fa < 0.75 * fb)
            return 1;
        if (fb < 0.75 * fa)
            return 0;
    }
    return da < db;
}

/* Give pending jobs to the endpoints in rotation: each to the one with the
 * fewest requests in flight (or a clearly faster one).  When that one is at
 * its window the job waits for it rather than queue deeper behind another:
 * a job given to a server's queue cannot be taken back, and at the end of
 * a call the longer queue would keep the call waiting while the other
 * servers idle.  Caller holds c->lock. */
void clip_dispatch(clip *c)
{
    /* A failed call sends nothing more. */
    for (call *k = c->calls; k != NULL; k = k->next) {
        job *j;
        while (k->rc != EMBSYNC_OK &&
               (j = pop(&k->pending, &k->pending_tail)) != NULL) {
            free(j);
            k->open--;
        }
    }
    int rates_known = 1;
    for (size_t i = 0; i < c->n_eps; i++)
        if (c->eps[i].up && !(c->eps[i].rate > 0))
            rates_known = 0;
    for (call *k = c->calls; k != NULL; k = k->next) {
        while (k->pending != NULL) {
            endpoint *best = NULL;
            for (size_t i = 0; i < c->n_eps; i++) {
                endpoint *e = &c->eps[(c->next_ep + i) % c->n_eps];
                if (e->up && (best == NULL || better(c, e, best, rates_known)))
                    best = e;
            }
            /* The best is full: a newer call's job waits too, behind it. */
            if (best == NULL ||
                best->in_flight >= c->host->limit_window(best->limit))
                return;
            c->next_ep = (c->next_ep + 1) % c->n_eps; /* ties take turns */
            job *j = pop(&k->pending, &k->pending_tail);
            push_back(&best->queue, &best->queue_tail, j);
            best->in_flight++;
            j->depth = best->in_flight;
            clip_show(c, best);
            pthread_cond_signal(&best->work);
        }
    }
}

/* ---- one request ------------------------------------------------------ */

typedef enum {
    SENT_DONE,       /* answered: vectors or per-item failures are written */
    SENT_SPLIT,      /* send it again in halves */
    SENT_AGAIN,      /* no use answer from this endpoint: another one */
    SENT_BUSY,       /* 429: again, after a wait */
    SENT_CALL_FAILS  /* the call fails: k->rc and its reason are set */
} sent;

/* Keep the first reason a call fails for.  Caller holds c->lock. */
static void call_fails(call *k, int rc, int http_rc,
                       const embsync_http_response *r, const char *text)
{
    if (k->rc != EMBSYNC_OK)
        return;
    k->rc = rc;
    k->http_rc = http_rc;
    if (r != NULL) {
        k->resp.status = r->status;
        k->resp.retry_after = r->retry_after;
        k->resp.body = r->body ? strdup(r->body) : NULL;
        k->resp.body_len = k->resp.body ? strlen(k->resp.body) : 0;
        k->resp.error = r->error ? strdup(r->error) : NULL;
    }
    snprintf(k->error, sizeof k->error, "%s", text ? text : "");
}

static void item_rejected(call *k, size_t i, const char *why)
{
    k->item_status[i] = EMBSYNC_ITEM_FAILED;
    size_t len = strlen(why) + 32;
    free(k->item_reason[i]);
    k->item_reason[i] = malloc(len);
    if (k->item_reason[i] != NULL)
        snprintf(k->item_reason[i], len, "CLIP service rejected it: %s", why);
}

/* Send job j to endpoint e and read the answer.  Runs on e's worker
 * without the lock: it writes only j's own rows of the call's arrays. */
static sent send_job(clip *c, endpoint *e, call *k, job *j, double *sent_at,
                     int *congested)
{
    const char *headers[] = {"Content-Type: application/json",
                             "Accept: application/json", c->auth_header, NULL};
    char *body = clip_encode_body(k->docs + j->first, j->n);
    if (body == NULL) {
        pthread_mutex_lock(&c->lock);
        call_fails(k, EMBSYNC_FAILED, EMBSYNC_OK, NULL, "out of memory");
        pthread_mutex_unlock(&c->lock);
        return SENT_CALL_FAILS;
    }
    embsync_http_request req = clip_post(c, e->post_url, headers, body);
    /* Two attempts: one more on a fresh connection (the gateway drops idle
     * keep-alive connections); a second failure moves the job to another
     * endpoint, and a lone endpoint is probed back with the policy's
     * delays. */
    req.max_attempts = 2;
    embsync_http_response resp = {.abi = EMBSYNC_ABI_INIT(embsync_http_response)};
    *sent_at = c->host->clock_now();
    int rc = c->host->http(c->ctx, &req, &resp);
    double took = c->host->clock_now() - *sent_at;
    free(body);
    *congested = 0;
    sent out = SENT_DONE;
    char why[512] = "";
    if (resp.status == 0) {
        /* No answer: refused, reset, or nothing in time. */
        *congested = took * 1000 >= 0.95 * (double)c->timeout_ms;
        snprintf(why, sizeof why, "%s", resp.error ? resp.error : "no answer");
        out = SENT_AGAIN;
    } else if (resp.status == 429) {
        *congested = 1;
        out = SENT_BUSY;
    } else if (resp.status >= 500) {
        *congested = resp.status == 503 || resp.status == 504;
        snprintf(why, sizeof why, "HTTP %ld", resp.status);
        out = SENT_AGAIN;
    } else if (resp.status == 413) {
        if (j->n == 1)
            item_rejected(k, j->first, "request too large");
        out = j->n == 1 ? SENT_DONE : SENT_SPLIT;
    } else if (resp.status != 200) {
        pthread_mutex_lock(&c->lock);
        call_fails(k, EMBSYNC_FAILED, rc, &resp, NULL);
        pthread_mutex_unlock(&c->lock);
        out = SENT_CALL_FAILS;
    } else {
        switch (clip_parse_answer(c, resp.body, j->n, k->vectors + j->first * c->dim,
                                  why, sizeof why)) {
        case ANSWER_OK:
            for (size_t i = 0; i < j->n; i++)
                k->item_status[j->first + i] = EMBSYNC_OK;
            break;
        case ANSWER_EXECUTOR_ERROR:
            /* The service fails a whole request for one bad image: halve
             * until the bad ones stand alone; only they fail. */
            if (j->n == 1)
                item_rejected(k, j->first, why);
            out = j->n == 1 ? SENT_DONE : SENT_SPLIT;
            break;
        default: {
            char text[600];
            snprintf(text, sizeof text, "CLIP service broke the protocol: %s", why);
            pthread_mutex_lock(&c->lock);
            call_fails(k, EMBSYNC_RETRY, rc, NULL, text);
            e->ready_at = 0; /* re-check its readiness before the next call */
            pthread_mutex_unlock(&c->lock);
            out = SENT_CALL_FAILS;
        }
        }
    }
    pthread_mutex_lock(&c->lock);
    c->host->counter_add_labelled(c->ctx, "endpoint_requests", "endpoint", e->label, 1);
    e->requests++;
    if (resp.status != 0)
        e->latency = e->latency > 0 ? 0.8 * e->latency + 0.2 * took : took;
    if (out == SENT_DONE && took > 0) {
        /* Little's law: what was in flight with it, over its latency. */
        double rate = j->depth / took;
        e->rate = e->rate > 0 ? 0.8 * e->rate + 0.2 * rate : rate;
    } else if (out == SENT_BUSY) {
        e->rate /= 2; /* it takes less than it did: others come first */
    }
    if (out == SENT_AGAIN)
        clip_take_out(c, e, why);
    else if (out == SENT_BUSY) {
        c->host->counter_add_labelled(c->ctx, "endpoint_errors", "endpoint", e->label, 1);
        e->errors++;
    }
    if (out == SENT_BUSY && e->busy_streak < PROBE_ATTEMPT_MAX)
        e->busy_streak++;
    else if (out != SENT_BUSY)
        e->busy_streak = 0;
    unsigned busy_streak = e->busy_streak;
    if (out == SENT_AGAIN && ++j->attempts >= JOB_SENDS(c)) {
        char text[600];
        snprintf(text, sizeof text, "CLIP service (%zu endpoint%s) gave no answer %u times; last: %s",
                 c->n_eps, c->n_eps == 1 ? "" : "s", j->attempts, why);
        call_fails(k, EMBSYNC_RETRY, rc, &resp, text);
        out = SENT_CALL_FAILS;
    }
    pthread_mutex_unlock(&c->lock);
    if (out == SENT_BUSY) {
        /* Hold this slot for the policy's delay (or Retry-After): with the
         * window down to one, nothing else goes to this endpoint meanwhile. */
        c->host->retry_wait(c->ctx, busy_streak + 1, resp.retry_after);
    }
    c->host->http_release(c->ctx, &resp);
    return out;
}

/* Put a job's outcome into the call.  Caller holds c->lock. */
static void settle(clip *c, call *k, job *j, sent out)
{
    if (k->rc != EMBSYNC_OK)
        out = SENT_CALL_FAILS; /* nothing more for a failed call */
    switch (out) {
    case SENT_SPLIT: {
        job *half = calloc(1, sizeof *half);
        if (half == NULL) {
            call_fails(k, EMBSYNC_FAILED, EMBSYNC_OK, NULL, "out of memory");
            free(j);
            k->open--;
            break;
        }
        half->k = k;
        half->first = j->first + j->n / 2;
        half->n = j->n - j->n / 2;
        j->n /= 2;
        j->attempts = 0;
        push_front(&k->pending, &k->pending_tail, half);
        push_front(&k->pending, &k->pending_tail, j);
        k->open++;
        break;
    }
    case SENT_AGAIN:
    case SENT_BUSY:
        push_front(&k->pending, &k->pending_tail, j);
        break;
    default:
        free(j);
        k->open--;
    }
}

static void *worker(void *arg)
{
    endpoint *e = arg;
    clip *c = e->c;
    pthread_mutex_lock(&c->lock);
    for (;;) {
        while (!c->stopping && e->queue == NULL)
            pthread_cond_wait(&e->work, &c->lock);
        if (c->stopping)
            break;
        job *j = pop(&e->queue, &e->queue_tail);
        call *k = j->k;
        int live = k->rc == EMBSYNC_OK;
        pthread_mutex_unlock(&c->lock);
        double sent_at = 0;
        int congested = 0;
        sent out = live ? send_job(c, e, k, j, &sent_at, &congested) : SENT_CALL_FAILS;
        if (sent_at > 0 && (out != SENT_AGAIN || congested))
            c->host->limit_sample(e->limit, sent_at,
                                  congested ? EMBSYNC_LIMIT_CONGESTED : EMBSYNC_LIMIT_OK);
        pthread_mutex_lock(&c->lock);
        e->in_flight--;
        settle(c, k, j, out);
        clip_show(c, e);
        clip_dispatch(c);
        pthread_cond_broadcast(&c->changed);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

static int start_threads(clip *c)
{
    for (size_t i = 0; i < c->n_eps; i++) {
        endpoint *e = &c->eps[i];
        e->threads = calloc(c->parallel + 1, sizeof *e->threads);
        if (e->threads == NULL)
            return -1;
        for (unsigned t = 0; t <= c->parallel; t++) {
            if (pthread_create(&e->threads[t], NULL, t < c->parallel ? worker : clip_prober, e) != 0)
                return -1;
            e->n_threads++;
        }
    }
    return 0;
}

/* The threads start with the first call rather than at open, so that
 * check and info start none.  Calls may arrive together (concurrent_calls),
 * so the start is decided once, under the lock; the new threads wait for
 * the lock before they look at anything. */
static int ensure_threads(clip *c)
{
    pthread_mutex_lock(&c->lock);
    if (!c->started) {
        c->started = 1;
        c->start_failed = start_threads(c) != 0;
    }
    int failed = c->start_failed;
    pthread_mutex_unlock(&c->lock);
    return failed ? -1 : 0;
}

/* ---- a call ----------------------------------------------------------- */

/* Say why a call failed, on the calling thread. */
static int report(clip *c, call *k)
{
    int rc = k->rc;
    if (k->error[0] != '\0') {
        c->host->set_error(c->ctx, "%s", k->error);
        if (k->resp.retry_after > 0)
            c->host->set_retry_after(c->ctx, k->resp.retry_after);
    } else if (rc != EMBSYNC_OK) {
        rc = c->host->http_outcome(c->ctx, k->http_rc, &k->resp, "CLIP service",
                                   NULL, EMBSYNC_WHOLE_CALL);
        if (rc == EMBSYNC_OK) /* a 2xx other than 200 breaks the protocol */
            rc = EMBSYNC_FAILED;
        c->host->set_error(c->ctx, "CLIP service answered %ld: %.300s",
                           k->resp.status, k->resp.body ? k->resp.body : "");
    }
    return rc;
}

/* Endpoints in rotation.  Caller holds c->lock. */
static size_t up_count(const clip *c)
{
    size_t up = 0;
    for (size_t i = 0; i < c->n_eps; i++)
        up += c->eps[i].up;
    return up;
}

int clip_encode(clip *c, const doc *docs, size_t n, float *vectors,
                int *item_status)
{
    if (n == 0)
        return EMBSYNC_OK;
    /* Readiness is checked again once a minute, and after a protocol
     * error; without any endpoint in rotation, wait for one. */
    double now = c->host->clock_now();
    for (size_t i = 0; i < c->n_eps; i++) {
        endpoint *e = &c->eps[i];
        pthread_mutex_lock(&c->lock);
        int due = e->up && (e->ready_at == 0 || now - e->ready_at >= READY_RECHECK_S);
        pthread_mutex_unlock(&c->lock);
        if (due) {
            int ok = clip_dry_run(c, e) == EMBSYNC_OK;
            pthread_mutex_lock(&c->lock);
            if (ok)
                clip_bring_back(c, e);
            else
                clip_take_out(c, e, e->last_error);
            pthread_mutex_unlock(&c->lock);
        }
    }
    pthread_mutex_lock(&c->lock);
    size_t up = up_count(c);
    pthread_mutex_unlock(&c->lock);
    if (up == 0 && clip_wait_ready(c) != EMBSYNC_OK)
        return EMBSYNC_RETRY; /* the error names the last endpoint's reason */
    if (ensure_threads(c) != 0) {
        c->host->set_error(c->ctx, "cannot start the request threads");
        return EMBSYNC_FAILED;
    }

    call k = {.docs = docs, .n = n, .vectors = vectors, .item_status = item_status,
              .rc = EMBSYNC_OK,
              .resp = {.abi = EMBSYNC_ABI_INIT(embsync_http_response)}};
    k.item_reason = calloc(n, sizeof *k.item_reason);
    if (k.item_reason == NULL) {
        c->host->set_error(c->ctx, "out of memory");
        return EMBSYNC_FAILED;
    }
    pthread_mutex_lock(&c->lock);
    for (size_t first = 0; first < n; first += (size_t)c->batch_size) {
        job *j = calloc(1, sizeof *j);
        if (j == NULL) {
            call_fails(&k, EMBSYNC_FAILED, EMBSYNC_OK, NULL, "out of memory");
            break;
        }
        j->k = &k;
        j->first = first;
        j->n = n - first < (size_t)c->batch_size ? n - first : (size_t)c->batch_size;
        push_back(&k.pending, &k.pending_tail, j);
        k.open++;
    }
    if (c->calls_tail != NULL)
        c->calls_tail->next = &k;
    else
        c->calls = &k;
    c->calls_tail = &k;
    clip_dispatch(c);
    double all_down_since = 0;
    while (k.open > 0) {
        if (k.rc == EMBSYNC_OK && k.pending != NULL && up_count(c) == 0) {
            /* Nowhere to send the rest: wait for a prober, up to
             * ready_timeout, then let the core retry the call. */
            double t = c->host->clock_now();
            if (all_down_since == 0) {
                all_down_since = t;
                c->host->log(c->ctx, EMBSYNC_LOG_INFO,
                             "waiting for the CLIP service to become ready");
            }
            if (t - all_down_since >= c->ready_timeout_s ||
                c->host->stop_requested(c->ctx)) {
                char text[512];
                snprintf(text, sizeof text, "no CLIP endpoint is ready; %s: %s",
                         c->eps[0].label, c->eps[0].last_error);
                call_fails(&k, EMBSYNC_RETRY, EMBSYNC_RETRY, NULL, text);
                clip_dispatch(c); /* drops what is pending */
                continue;
            }
        } else {
            all_down_since = 0;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 200 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&c->changed, &c->lock, &ts);
    }
    call **at = &c->calls, *prev = NULL;
    while (*at != &k) {
        prev = *at;
        at = &(*at)->next;
    }
    *at = k.next;
    if (c->calls_tail == &k)
        c->calls_tail = prev;
    pthread_mutex_unlock(&c->lock);

    int rc = report(c, &k);
    for (size_t i = 0; i < n; i++) {
        if (rc == EMBSYNC_OK && k.item_reason[i] != NULL)
            c->host->set_item_error(c->ctx, i, "%s", k.item_reason[i]);
        free(k.item_reason[i]);
    }
    free(k.item_reason);
    free(k.resp.body);
    free((char *)k.resp.error);
    return rc;
}
