#include <config.h>

#include "http.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "aimd.h"
#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "outcome.h"
#include "retry.h"

#define DEFAULT_TIMEOUT_MS 30000L
#define CONNECT_TIMEOUT_MS 10000L

typedef enum { JOB_WAITING, JOB_RUNNING, JOB_DONE } job_state;

typedef struct job {
    embsync_http_request req;      /* host copy, zero-padded */
    embsync_http_response *resp;
    int *status;
    job_state state;
    double start_at;               /* monotonic seconds, when WAITING */
    double sent_at;                /* when the attempt in flight began */
    unsigned attempts;
    unsigned max_attempts;
    CURL *easy;
    int changed_tls;               /* easy's TLS options are not the defaults */
    int compressed;                /* easy asks for compressed answers */
    struct curl_slist *headers;
    char *buf;                     /* body of the attempt in flight */
    size_t len, cap;
    char curl_error[CURL_ERROR_SIZE];
} job;

/* Connections are kept per thread: each thread that makes requests (the
 * pipeline's fetch, embed and store stages, the source's lister) reuses one
 * multi handle, whose connection cache lets a batch of downloads reuse the
 * connections the previous batch opened instead of paying a TCP and TLS
 * handshake each.  DNS answers and TLS sessions are shared process-wide
 * (libcurl does not support sharing live connections between threads).
 * Easy handles are kept too, for the thread's next requests: making and
 * freeing one per request was a fifth of a download's CPU. */
#define IDLE_EASY_MAX 64

typedef struct kept_easy {
    CURL *e;
    int compressed;                /* Accept-Encoding is on */
} kept_easy;

typedef struct thread_curl {
    CURLM *multi;
    kept_easy idle[IDLE_EASY_MAX];
    size_t n_idle;
} thread_curl;

static CURLSH *share;

/* One retry announced, for HTTP and gRPC alike: the retries metric and the
 * warning "VERB URL: WHY, retrying in D s (attempt N of M)". */
static void announce_retry(const char *origin, const char *verb, const char *url,
                           const char *why, double delay, unsigned attempt,
                           unsigned max_attempts)
{
    char label[256];
    es_metric_labels(label, sizeof label, "plugin", origin, NULL);
    es_metric_add("embsync_http_retries_total", label, 1);
    es_log(EMBSYNC_LOG_WARNING, origin, "%s %s: %s, retrying in %.1f s (attempt %u of %u)",
           verb, url, why, delay, attempt, max_attempts);
}
static size_t on_body(char *data, size_t size, size_t nmemb, void *arg);
static pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
static pthread_key_t thread_key;
static pthread_once_t thread_once = PTHREAD_ONCE_INIT;

static void share_lock(CURL *e, curl_lock_data data, curl_lock_access access,
                       void *arg)
{
    (void)e, (void)access, (void)arg;
    pthread_mutex_lock(&share_locks[data]);
}

static void share_unlock(CURL *e, curl_lock_data data, void *arg)
{
    (void)e, (void)arg;
    pthread_mutex_unlock(&share_locks[data]);
}

static void thread_curl_free(void *arg)
{
    thread_curl *t = arg;
    for (size_t i = 0; i < t->n_idle; i++)
        curl_easy_cleanup(t->idle[i].e);
    curl_multi_cleanup(t->multi);
    free(t);
}

static void thread_key_create(void)
{
    pthread_key_create(&thread_key, thread_curl_free);
}

/* This thread's handles (made on first use, freed at thread exit). */
static thread_curl *this_thread(void)
{
    pthread_once(&thread_once, thread_key_create);
    thread_curl *t = pthread_getspecific(thread_key);
    if (t != NULL)
        return t;
    t = calloc(1, sizeof *t);
    if (t == NULL || (t->multi = curl_multi_init()) == NULL) {
        free(t);
        return NULL;
    }
    pthread_setspecific(thread_key, t);
    return t;
}

/* What every request of ours sets alike, set once per easy handle rather
 * than after a curl_easy_reset() per request (the reset and these options
 * were an eighth of an image download's instructions under callgrind). */
static void easy_defaults(CURL *e)
{
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");  /* every encoding built in */
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    if (share != NULL)
        curl_easy_setopt(e, CURLOPT_SHARE, share);
}

/* An easy handle with easy_defaults(): a kept one, or a new one;
 * *compressed says whether it asks for compressed answers. */
static CURL *easy_take(thread_curl *t, int *compressed)
{
    *compressed = 1;
    if (t->n_idle > 0) {
        t->n_idle--;
        *compressed = t->idle[t->n_idle].compressed;
        return t->idle[t->n_idle].e;
    }
    CURL *e = curl_easy_init();
    if (e != NULL)
        easy_defaults(e);
    return e;
}

/* Keep e for this thread's next request, or free it when enough are kept.
 * A request that changed TLS settings (its own CA file, no verification)
 * leaves a handle that is reset to the defaults, never passed on as it is;
 * the others leave only what every request sets again, and no pointer into
 * the job that is about to be freed. */
static void easy_give_back(thread_curl *t, CURL *e, int changed_tls,
                           int compressed)
{
    if (t->n_idle >= IDLE_EASY_MAX) {
        curl_easy_cleanup(e);
        return;
    }
    if (changed_tls) {
        curl_easy_reset(e);
        easy_defaults(e);
        compressed = 1;
    } else {
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, NULL);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, NULL);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, NULL);
        curl_easy_setopt(e, CURLOPT_ERRORBUFFER, NULL);
        curl_easy_setopt(e, CURLOPT_PRIVATE, NULL);
    }
    t->idle[t->n_idle++] = (kept_easy){e, compressed};
}

int es_http_global_init(void)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return -1;
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&share_locks[i], NULL);
    share = curl_share_init();
    if (share != NULL &&
        (curl_share_setopt(share, CURLSHOPT_LOCKFUNC, share_lock) != CURLSHE_OK ||
         curl_share_setopt(share, CURLSHOPT_UNLOCKFUNC, share_unlock) != CURLSHE_OK ||
         curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK ||
         curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK)) {
        curl_share_cleanup(share);
        share = NULL;
    }
    if (share == NULL)
        es_warn("DNS answers and TLS sessions will not be shared (libcurl share unavailable)");
    return 0;
}

void es_http_global_cleanup(void)
{
    pthread_once(&thread_once, thread_key_create);
    thread_curl *t = pthread_getspecific(thread_key);
    if (t != NULL) {
        pthread_setspecific(thread_key, NULL);
        thread_curl_free(t);
    }
    if (share != NULL)
        curl_share_cleanup(share);
    share = NULL;
    curl_global_cleanup();
}

/* Probe mode: monotonic deadline of this thread's probe, 0 when off. */
static __thread double probe_deadline;
static __thread double probe_seconds;

void es_http_probe_begin(double seconds)
{
    probe_seconds = seconds;
    probe_deadline = es_mono_now() + seconds;
}

void es_http_probe_end(void)
{
    probe_deadline = 0;
}

int es_http_probing(void)
{
    return probe_deadline > 0;
}

/* A probe's request: one attempt, cut to the time the probe has left.
 * Returns -1 when that time is used up. */
static int fit_into_probe(embsync_http_request *req, unsigned *max_attempts)
{
    double left_ms = (probe_deadline - es_mono_now()) * 1000;
    if (left_ms < 1)
        return -1;
    long wanted = req->timeout_ms > 0 ? req->timeout_ms : DEFAULT_TIMEOUT_MS;
    req->timeout_ms = wanted < left_ms ? wanted : (long)left_ms;
    *max_attempts = 1;
    return 0;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    job *j = arg;
    size_t n = size * nmemb;
    if (j->len + n + 1 > j->cap) {
        size_t cap = j->cap ? j->cap : 4096;
        while (cap < j->len + n + 1)
            cap *= 2;
        char *grown = realloc(j->buf, cap);
        if (grown == NULL)
            return 0; /* curl reports a write error */
        j->buf = grown;
        j->cap = cap;
    }
    memcpy(j->buf + j->len, data, n);
    j->len += n;
    j->buf[j->len] = '\0';
    return n;
}

/* Transport failures worth another attempt; TLS verification and bad URLs
 * will not heal by themselves. */
static int retryable_curl(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
        return 1;
    default:
        return 0;
    }
}

static int start_attempt(thread_curl *t, job *j)
{
    j->len = 0;
    if (j->buf != NULL)
        j->buf[0] = '\0';
    j->curl_error[0] = '\0';
    if (j->easy == NULL) {
        j->easy = easy_take(t, &j->compressed);
        if (j->easy == NULL)
            return -1;
        const embsync_http_request *r = &j->req;
        /* An empty Expect: stops curl from waiting for 100-continue, which
         * it only asks for before a body: a request without one sends no
         * header list at all unless it has its own (each custom header
         * costs libcurl a scan per header it considers adding). */
        j->headers = r->body != NULL ? curl_slist_append(NULL, "Expect:") : NULL;
        for (const char *const *h = r->headers; h != NULL && *h != NULL; h++)
            j->headers = curl_slist_append(j->headers, *h);
        CURL *e = j->easy;
        curl_easy_setopt(e, CURLOPT_URL, r->url);
        /* The method: libcurl's own for GET, HEAD and POST (a body makes it
         * a POST), the request line's word for the others; each undoing
         * what the handle's previous request may have set. */
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, NULL);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)-1);
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
        if (strcmp(r->method, "HEAD") == 0)
            curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
        if (r->body != NULL) {
            curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                             (curl_off_t)r->body_len);
        }
        int standard = strcmp(r->method, "GET") == 0 ||
                       strcmp(r->method, "HEAD") == 0 ||
                       (strcmp(r->method, "POST") == 0 && r->body != NULL);
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, standard ? NULL : r->method);
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, j->headers);
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
                         r->timeout_ms > 0 ? r->timeout_ms : DEFAULT_TIMEOUT_MS);
        /* Asking for compression costs libcurl a tenth of a small
         * download's instructions, on every request: not for answers it
         * cannot shrink.  Kept handles remember which way they are set. */
        int compress = !(r->flags & EMBSYNC_HTTP_NO_COMPRESSION);
        if (compress != j->compressed) {
            curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, compress ? "" : NULL);
            j->compressed = compress;
        }
        if (r->flags & EMBSYNC_HTTP_INSECURE) {
            curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
            curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
            j->changed_tls = 1;
        }
        if (r->ca_file != NULL && *r->ca_file != '\0') {
            curl_easy_setopt(e, CURLOPT_CAINFO, r->ca_file);
            j->changed_tls = 1;
        }
        curl_easy_setopt(e, CURLOPT_WRITEDATA, j);
        curl_easy_setopt(e, CURLOPT_ERRORBUFFER, j->curl_error);
        curl_easy_setopt(e, CURLOPT_PRIVATE, j);
    }
    j->attempts++;
    j->state = JOB_RUNNING;
    j->sent_at = es_mono_now();
    return curl_multi_add_handle(t->multi, j->easy) == CURLM_OK ? 0 : -1;
}

static double retry_after_of(CURL *e)
{
    struct curl_header *h;
    if (curl_easy_header(e, "Retry-After", 0, CURLH_HEADER, -1, &h) !=
        CURLHE_OK)
        return 0;
    char *end;
    double secs = strtod(h->value, &end);
    if (end != h->value && *end == '\0')
        return secs > 0 ? secs : 0;
    time_t when = curl_getdate(h->value, NULL);
    if (when < 0)
        return 0;
    double left = difftime(when, time(NULL));
    return left > 0 ? left : 0;
}

static void count_request(const char *origin, long code)
{
    char labels[256], code_text[24];
    snprintf(code_text, sizeof code_text, "%ld", code);
    es_metric_labels(labels, sizeof labels, "plugin", origin, "code",
                     code_text, NULL);
    es_metric_add("embsync_http_requests_total", labels, 1);
}

/* One attempt of j ended with rc; decide between done and another try. */
static void finish_attempt(const char *origin, es_stop *stop, es_aimd *limit,
                           job *j, CURLcode rc)
{
    long code = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &code);
    if (limit != NULL) {
        /* Overload says 429, 503 or nothing in time; a refused connection
         * or a 404 says nothing about load. */
        int congested = code == 429 || code == 503 || rc == CURLE_OPERATION_TIMEDOUT;
        if (congested || rc == CURLE_OK)
            es_aimd_sample(limit, j->sent_at, es_mono_now(),
                           congested ? ES_AIMD_CONGESTED : ES_AIMD_OK);
    }
    double retry_after = rc == CURLE_OK ? retry_after_of(j->easy) : 0;
    count_request(origin, code);

    int may_retry = !(j->req.flags & EMBSYNC_HTTP_NO_RETRY) &&
                    j->attempts < j->max_attempts &&
                    !(stop != NULL && es_stop_requested(stop));
    int transient = rc == CURLE_OK ? es_http_retryable_status(code) : retryable_curl(rc);
    if (transient && may_retry) {
        double delay = es_retry_delay(j->attempts + 1, retry_after);
        char status[32];
        snprintf(status, sizeof status, "HTTP %ld", code);
        announce_retry(origin, j->req.method, j->req.url,
                       rc == CURLE_OK ? status
                       : j->curl_error[0] ? j->curl_error : curl_easy_strerror(rc),
                       delay, j->attempts + 1, j->max_attempts);
        j->state = JOB_WAITING;
        j->start_at = es_mono_now() + delay;
        return;
    }

    embsync_http_response *resp = j->resp;
    resp->status = code;
    resp->attempts = j->attempts;
    resp->retry_after = retry_after;
    if (rc == CURLE_OK) {
        resp->body = j->buf != NULL ? j->buf : strdup("");
        resp->body_len = j->len;
        j->buf = NULL;
        j->len = j->cap = 0;
        char *ct = NULL;
        curl_easy_getinfo(j->easy, CURLINFO_CONTENT_TYPE, &ct);
        resp->content_type = ct != NULL ? strdup(ct) : NULL;
        *j->status = transient ? EMBSYNC_RETRY : EMBSYNC_OK;
        es_log(EMBSYNC_LOG_DEBUG, origin, "%s %s -> %ld (%zu bytes)",
               j->req.method, j->req.url, code, resp->body_len);
    } else {
        char msg[CURL_ERROR_SIZE + 64];
        snprintf(msg, sizeof msg, "%s%s",
                 probe_deadline > 0 && rc == CURLE_OPERATION_TIMEDOUT
                     ? "no answer within the probe's deadline: " : "",
                 j->curl_error[0] ? j->curl_error : curl_easy_strerror(rc));
        resp->error = strdup(msg);
        *j->status = transient ? EMBSYNC_RETRY : EMBSYNC_FAILED;
        es_log(EMBSYNC_LOG_DEBUG, origin, "%s %s failed: %s", j->req.method,
               j->req.url, msg);
    }
    j->state = JOB_DONE;
}

static void reset_response(embsync_http_response *resp)
{
    embsync_abi abi = resp->abi;
    uint32_t size = abi.size;
    if (size > sizeof *resp || size < offsetof(embsync_http_response, error) +
                                           sizeof resp->error)
        size = sizeof *resp;
    memset(resp, 0, size);
    resp->abi = abi;
}

int es_http_many(const char *origin, es_stop *stop, size_t n,
                 const embsync_http_request *reqs, embsync_http_response *resps,
                 int *status, unsigned parallel)
{
    return es_http_many_limited(origin, stop, n, reqs, resps, status, parallel,
                                NULL);
}

int es_http_many_limited(const char *origin, es_stop *stop, size_t n,
                         const embsync_http_request *reqs,
                         embsync_http_response *resps, int *status,
                         unsigned parallel, es_aimd *limit)
{
    if (n == 0)
        return EMBSYNC_OK;
    if (reqs == NULL || resps == NULL || status == NULL)
        return EMBSYNC_FAILED;
    job *jobs = calloc(n, sizeof *jobs);
    thread_curl *t = this_thread();
    if (jobs == NULL || t == NULL) {
        free(jobs);
        return EMBSYNC_FAILED;
    }
    CURLM *multi = t->multi;
    if (parallel == 0)
        parallel = 1;

    /* Arrays are strided by the plugin's own struct sizes. */
    size_t req_stride = reqs[0].abi.size ? reqs[0].abi.size : sizeof *reqs;
    size_t resp_stride = resps[0].abi.size ? resps[0].abi.size : sizeof *resps;
    for (size_t i = 0; i < n; i++) {
        const embsync_http_request *r =
            (const embsync_http_request *)((const char *)reqs + i * req_stride);
        size_t copy = r->abi.size < sizeof jobs[i].req ? r->abi.size
                                                       : sizeof jobs[i].req;
        memcpy(&jobs[i].req, r, copy);
        jobs[i].resp =
            (embsync_http_response *)((char *)resps + i * resp_stride);
        if (jobs[i].resp->abi.size == 0)
            jobs[i].resp->abi.size = sizeof *resps;
        jobs[i].status = &status[i];
        reset_response(jobs[i].resp);
        jobs[i].max_attempts =
            jobs[i].req.max_attempts ? jobs[i].req.max_attempts : ES_RETRY_ATTEMPTS;
        if (jobs[i].req.method == NULL || jobs[i].req.url == NULL) {
            status[i] = EMBSYNC_FAILED;
            jobs[i].resp->error = strdup("request without method or URL");
            jobs[i].state = JOB_DONE;
        } else if (probe_deadline > 0 &&
                   fit_into_probe(&jobs[i].req, &jobs[i].max_attempts) != 0) {
            char msg[128];
            snprintf(msg, sizeof msg, "no answer within the probe's %g s",
                     probe_seconds);
            status[i] = EMBSYNC_RETRY;
            jobs[i].resp->error = strdup(msg);
            jobs[i].state = JOB_DONE;
        } else {
            jobs[i].state = JOB_WAITING;
            jobs[i].start_at = 0;
        }
    }

    size_t done = 0;
    for (size_t i = 0; i < n; i++)
        done += jobs[i].state == JOB_DONE;
    while (done < n) {
        if (limit != NULL)
            parallel = es_aimd_window(limit);
        double now = es_mono_now(), next_start = -1;
        unsigned running = 0;
        for (size_t i = 0; i < n; i++)
            running += jobs[i].state == JOB_RUNNING;
        for (size_t i = 0; i < n && running < parallel; i++) {
            job *j = &jobs[i];
            if (j->state != JOB_WAITING)
                continue;
            if (j->start_at > now) {
                if (stop != NULL && es_stop_requested(stop)) {
                    /* A stop cuts the wait short: report what we have. */
                    j->resp->status = 0;
                    j->resp->error = strdup("stopped while waiting to retry");
                    *j->status = EMBSYNC_RETRY;
                    j->state = JOB_DONE;
                    done++;
                } else if (next_start < 0 || j->start_at < next_start) {
                    next_start = j->start_at;
                }
                continue;
            }
            if (start_attempt(t, j) != 0) {
                j->resp->error = strdup("cannot start request");
                *j->status = EMBSYNC_FAILED;
                j->state = JOB_DONE;
                done++;
                continue;
            }
            running++;
        }
        if (done == n)
            break;
        int still;
        curl_multi_perform(multi, &still);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(multi, &left)) != NULL) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            job *j;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&j);
            CURLcode rc = msg->data.result;
            curl_multi_remove_handle(multi, j->easy);
            finish_attempt(origin, stop, limit, j, rc);
            if (j->state == JOB_DONE)
                done++;
        }
        if (done == n)
            break;
        /* Finished attempts may have turned into waits: count again. */
        running = 0;
        next_start = -1;
        int startable = 0;
        now = es_mono_now();
        for (size_t i = 0; i < n; i++) {
            if (jobs[i].state == JOB_RUNNING)
                running++;
            else if (jobs[i].state == JOB_WAITING && jobs[i].start_at <= now)
                startable = 1;
            else if (jobs[i].state == JOB_WAITING &&
                     (next_start < 0 || jobs[i].start_at < next_start))
                next_start = jobs[i].start_at;
        }
        /* A slot freed up and a request is ready: start it now rather
         * than sleep in poll until an unrelated socket wakes us. */
        if (limit != NULL)
            parallel = es_aimd_window(limit);
        if (startable && running < parallel)
            continue;
        int timeout_ms = 1000;
        if (running == 0 && next_start > 0) {
            double wait = next_start - es_mono_now();
            if (stop != NULL) {
                if (es_stop_wait(stop, wait > 0 ? wait : 0))
                    continue;
            } else if (wait > 0) {
                struct timespec ts = {(time_t)wait,
                                      (long)((wait - (double)(time_t)wait) * 1e9)};
                nanosleep(&ts, NULL);
            }
            continue;
        }
        if (next_start > 0) {
            double wait_ms = (next_start - es_mono_now()) * 1000;
            if (wait_ms < timeout_ms)
                timeout_ms = wait_ms > 0 ? (int)wait_ms : 0;
        }
        curl_multi_poll(multi, NULL, 0, timeout_ms, NULL);
    }

    for (size_t i = 0; i < n; i++) {
        if (jobs[i].easy != NULL) {
            curl_multi_remove_handle(multi, jobs[i].easy);
            easy_give_back(t, jobs[i].easy, jobs[i].changed_tls,
                           jobs[i].compressed);
        }
        curl_slist_free_all(jobs[i].headers);
        free(jobs[i].buf);
    }
    free(jobs);
    return EMBSYNC_OK;
}

void es_http_release(embsync_http_response *resp)
{
    if (resp == NULL)
        return;
    free(resp->body);
    free(resp->content_type);
    free((char *)resp->error);
    reset_response(resp);
}

/* ---- gRPC unary calls (ABI 1.4) ----------------------------------------
 * A gRPC call is one HTTP/2 POST: the request message behind a 5-byte
 * prefix (compressed flag, big-endian length), the answer the same way,
 * and the call's status in the grpc-status trailer (or, for an answer
 * without a message, in the headers: "trailers-only").  It runs on this
 * thread's multi handle so that calls reuse one HTTP/2 connection, with
 * the same options, timeouts and retry policy as http(). */

#define GRPC_PREFIX 5

/* The value of header `name` from the trailers, else the headers, or NULL;
 * valid until the handle's next transfer.  The headers also answer for
 * trailers that this libcurl (7.88) files among them for HTTP/2, as well
 * as for a trailers-only answer. */
static const char *grpc_header(CURL *e, const char *name)
{
    struct curl_header *h;
    if (curl_easy_header(e, name, 0, CURLH_TRAILER, -1, &h) == CURLHE_OK ||
        curl_easy_header(e, name, 0, CURLH_HEADER, -1, &h) == CURLHE_OK)
        return h->value;
    return NULL;
}

/* libcurl before 8.0 fails a request that asks for HTTP/2 with prior
 * knowledge on a connection it reuses ("Error in the HTTP2 framing
 * layer", curl issue 10634).  So a thread asks for prior knowledge to
 * open its connection to an http:// origin, and for plain HTTP/2 to reuse
 * it; an attempt that had to open a new connection that way (the old one
 * was closed) spoke HTTP/1.1 with an Upgrade no gRPC server takes, reached
 * no method, and is made again with prior knowledge. */
static __thread char grpc_warm_origin[512];

/* "http://host:port" of url into out (empty when it does not fit). */
static void grpc_origin(const char *url, char *out, size_t len)
{
    const char *scheme_end = strstr(url, "://");
    const char *path = scheme_end ? strchr(scheme_end + 3, '/') : NULL;
    size_t n = path ? (size_t)(path - url) : strlen(url);
    if (n >= len)
        n = 0;
    memcpy(out, url, n);
    out[n] = '\0';
}

/* The request as it goes out: the 5-byte prefix, then the caller's
 * message, read by libcurl in place rather than copied into one buffer
 * first (a batch of 512-d points is some 70 kB). */
typedef struct grpc_upload {
    unsigned char prefix[GRPC_PREFIX];
    const unsigned char *message;
    size_t message_len;
    size_t at;                     /* bytes of prefix + message sent */
} grpc_upload;

static size_t grpc_read(char *out, size_t size, size_t nmemb, void *arg)
{
    grpc_upload *u = arg;
    size_t room = size * nmemb, n = 0;
    if (u->at < GRPC_PREFIX) {
        n = GRPC_PREFIX - u->at < room ? GRPC_PREFIX - u->at : room;
        memcpy(out, u->prefix + u->at, n);
        u->at += n;
    }
    size_t from = u->at - GRPC_PREFIX, left = u->message_len - from;
    if (room > n && left > 0) {
        size_t more = left < room - n ? left : room - n;
        memcpy(out + n, u->message + from, more);
        u->at += more;
        n += more;
    }
    return n;
}

/* libcurl rewinds the request to send it again on a new connection. */
static int grpc_seek(void *arg, curl_off_t offset, int origin)
{
    grpc_upload *u = arg;
    if (origin != SEEK_SET || offset < 0 ||
        (size_t)offset > GRPC_PREFIX + u->message_len)
        return CURL_SEEKFUNC_CANTSEEK;
    u->at = (size_t)offset;
    return CURL_SEEKFUNC_OK;
}

static CURL *grpc_easy(const embsync_http_request *r, int reuse,
                       grpc_upload *upload, job *j)
{
    /* A handle of its own per call rather than a recycled one: the
     * connection, which is what matters, is the thread's multi handle's. */
    CURL *e = curl_easy_init();
    if (e == NULL)
        return NULL;
    j->headers = curl_slist_append(NULL, "Expect:");
    j->headers = curl_slist_append(j->headers, "Content-Type: application/grpc");
    j->headers = curl_slist_append(j->headers, "TE: trailers");
    j->headers = curl_slist_append(j->headers, "User-Agent: embsync-grpc/" PACKAGE_VERSION);
    for (const char *const *h = r->headers; h != NULL && *h != NULL; h++)
        j->headers = curl_slist_append(j->headers, *h);
    curl_easy_setopt(e, CURLOPT_URL, r->url);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    upload->at = 0;
    curl_easy_setopt(e, CURLOPT_READFUNCTION, grpc_read);
    curl_easy_setopt(e, CURLOPT_READDATA, upload);
    curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, grpc_seek);
    curl_easy_setopt(e, CURLOPT_SEEKDATA, upload);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                     (curl_off_t)(GRPC_PREFIX + upload->message_len));
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, j->headers);
    /* gRPC is HTTP/2 only: prior knowledge for http:// (see above), and for
     * https:// h2 by ALPN (an answer in HTTP/1.1 is refused below). */
    int tls = strncmp(r->url, "https://", 8) == 0;
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
                     tls ? (long)CURL_HTTP_VERSION_2TLS
                     : reuse ? (long)CURL_HTTP_VERSION_2_0
                             : (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
    curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
                     r->timeout_ms > 0 ? r->timeout_ms : DEFAULT_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    int insecure = (r->flags & EMBSYNC_HTTP_INSECURE) != 0;
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, insecure ? 0L : 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, insecure ? 0L : 2L);
    if (r->ca_file != NULL && *r->ca_file != '\0')
        curl_easy_setopt(e, CURLOPT_CAINFO, r->ca_file);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, j);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, j->curl_error);
    if (share != NULL)
        curl_easy_setopt(e, CURLOPT_SHARE, share);
    return e;
}

/* Run one transfer on this thread's multi handle to its end. */
static CURLcode grpc_transfer(thread_curl *t, CURL *e)
{
    if (curl_multi_add_handle(t->multi, e) != CURLM_OK)
        return CURLE_FAILED_INIT;
    CURLcode rc = CURLE_FAILED_INIT;
    for (;;) {
        int still = 0;
        if (curl_multi_perform(t->multi, &still) != CURLM_OK)
            break;
        CURLMsg *msg;
        int left, done = 0;
        while ((msg = curl_multi_info_read(t->multi, &left)) != NULL)
            if (msg->msg == CURLMSG_DONE && msg->easy_handle == e) {
                rc = msg->data.result;
                done = 1;
            }
        if (done)
            break;
        curl_multi_poll(t->multi, NULL, 0, 1000, NULL);
    }
    curl_multi_remove_handle(t->multi, e);
    return rc;
}

/* What one finished attempt says: *grpc_status (-1: none), and the
 * message or the reason in resp/error.  Returns 0 for an answer. */
static int grpc_read_answer(CURL *e, job *j, long code, int *grpc_status,
                            char *why, size_t why_len, char **message)
{
    long version = 0;
    curl_easy_getinfo(e, CURLINFO_HTTP_VERSION, &version);
    if (version != CURL_HTTP_VERSION_2_0) {
        snprintf(why, why_len, "the server answered without HTTP/2 (HTTP %ld): "
                 "not a gRPC endpoint", code);
        *grpc_status = -1;
        return -1;
    }
    const char *status = grpc_header(e, "grpc-status");
    char *end = NULL;
    long value = status != NULL ? strtol(status, &end, 10) : -1;
    if (status == NULL || end == status || *end != '\0' || value < 0 || value > 63)
        *grpc_status = code == 200 ? ES_GRPC_UNKNOWN : es_grpc_status_of_http(code);
    else
        *grpc_status = (int)value;
    const char *text = grpc_header(e, "grpc-message");
    if (text != NULL && *text != '\0') {
        int n = 0;
        char *decoded = curl_easy_unescape(e, text, 0, &n);
        *message = decoded != NULL ? strdup(decoded) : NULL;
        curl_free(decoded);
    } else if (status == NULL) {
        char msg[96];
        snprintf(msg, sizeof msg, code == 200 ? "answer without grpc-status"
                                              : "HTTP %ld without grpc-status", code);
        *message = strdup(msg);
    }
    if (*grpc_status != 0)
        return 0;
    /* Status OK: the body must hold exactly one uncompressed message. */
    const unsigned char *b = (const unsigned char *)j->buf;
    size_t len = b != NULL ? j->len : 0;
    if (len == 0)
        return 0; /* an empty message is a valid answer */
    uint32_t mlen = len >= GRPC_PREFIX
                        ? (uint32_t)b[1] << 24 | (uint32_t)b[2] << 16 |
                              (uint32_t)b[3] << 8 | b[4]
                        : 0;
    if (len < GRPC_PREFIX || b[0] != 0 || (size_t)mlen != len - GRPC_PREFIX) {
        free(*message);
        *message = strdup(len >= GRPC_PREFIX && b[0] != 0
                              ? "compressed answer, none was asked for"
                              : "answer message is not one length-prefixed message");
        *grpc_status = ES_GRPC_INTERNAL;
        return 0;
    }
    memmove(j->buf, j->buf + GRPC_PREFIX, mlen);
    j->len = mlen;
    j->buf[mlen] = '\0';
    return 0;
}

int es_grpc_unary(const char *origin, es_stop *stop,
                  const embsync_http_request *request,
                  embsync_http_response *resp, int *grpc_status)
{
    *grpc_status = -1;
    if (resp->abi.size == 0)
        resp->abi.size = sizeof *resp;
    reset_response(resp);
    embsync_http_request r = {0};
    size_t copy = request != NULL && request->abi.size < sizeof r ? request->abi.size
                                                                  : sizeof r;
    if (request != NULL)
        memcpy(&r, request, copy);
    if (request == NULL || r.url == NULL || (r.body == NULL && r.body_len > 0) ||
        r.body_len > 0xffffffffu) {
        resp->error = strdup("gRPC call without URL or with a bad message");
        return EMBSYNC_FAILED;
    }
    unsigned max_attempts = r.max_attempts ? r.max_attempts : ES_RETRY_ATTEMPTS;
    if (probe_deadline > 0 && fit_into_probe(&r, &max_attempts) != 0) {
        char msg[128];
        snprintf(msg, sizeof msg, "no answer within the probe's %g s", probe_seconds);
        resp->error = strdup(msg);
        return EMBSYNC_RETRY;
    }
    thread_curl *t = this_thread();
    if (t == NULL) {
        resp->error = strdup("out of memory");
        return EMBSYNC_FAILED;
    }
    grpc_upload upload = {
        .prefix = {0, (unsigned char)(r.body_len >> 24), (unsigned char)(r.body_len >> 16),
                   (unsigned char)(r.body_len >> 8), (unsigned char)r.body_len},
        .message = r.body,
        .message_len = r.body_len,
    };

    char origin_of_url[sizeof grpc_warm_origin];
    grpc_origin(r.url, origin_of_url, sizeof origin_of_url);
    int result = EMBSYNC_RETRY;
    for (unsigned attempt = 1;; attempt++) {
        job j = {0};
        int reuse = origin_of_url[0] != '\0' &&
                    strcmp(grpc_warm_origin, origin_of_url) == 0;
        CURL *e = grpc_easy(&r, reuse, &upload, &j);
        if (e == NULL) {
            curl_slist_free_all(j.headers);
            resp->error = strdup("cannot start request");
            result = EMBSYNC_FAILED;
            break;
        }
        CURLcode rc = grpc_transfer(t, e);
        long connects = 0, version = 0;
        curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &connects);
        curl_easy_getinfo(e, CURLINFO_HTTP_VERSION, &version);
        if (reuse && connects > 0 && strncmp(r.url, "http://", 7) == 0) {
            /* Not the connection we meant to reuse: again, cold. */
            grpc_warm_origin[0] = '\0';
            curl_easy_cleanup(e);
            curl_slist_free_all(j.headers);
            free(j.buf);
            attempt--;
            continue;
        }
        if (rc == CURLE_OK && version == CURL_HTTP_VERSION_2_0)
            snprintf(grpc_warm_origin, sizeof grpc_warm_origin, "%s", origin_of_url);
        else if (rc != CURLE_OK)
            grpc_warm_origin[0] = '\0';
        long code = 0;
        char why[CURL_ERROR_SIZE + 128] = "";
        char *message = NULL;
        int status = -1;
        if (rc == CURLE_OK) {
            curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
            grpc_read_answer(e, &j, code, &status, why, sizeof why, &message);
        } else {
            snprintf(why, sizeof why, "%s%s",
                     probe_deadline > 0 && rc == CURLE_OPERATION_TIMEDOUT
                         ? "no answer within the probe's deadline: " : "",
                     j.curl_error[0] ? j.curl_error : curl_easy_strerror(rc));
        }
        count_request(origin, code);
        curl_easy_cleanup(e);
        curl_slist_free_all(j.headers);

        /* RESOURCE_EXHAUSTED is a quota that may recover, except when it
         * refuses this message as over the receiver's size limit (grpc-core's
         * words): the same bytes again would only be refused again. */
        int too_large = status == ES_GRPC_RESOURCE_EXHAUSTED && message != NULL &&
                        strstr(message, "larger than max") != NULL;
        int transient = status >= 0 ? es_grpc_retryable_status(status) && !too_large
                                    : rc != CURLE_OK && retryable_curl(rc);
        int may_retry = !(r.flags & EMBSYNC_HTTP_NO_RETRY) && attempt < max_attempts &&
                        !(stop != NULL && es_stop_requested(stop));
        if (transient && may_retry) {
            double delay = es_retry_delay(attempt + 1, 0);
            char said[1024];
            if (status >= 0)
                snprintf(said, sizeof said, "%s%s%s", es_grpc_status_name(status),
                         message ? ": " : "", message ? message : "");
            announce_retry(origin, "gRPC", r.url, status >= 0 ? said : why, delay,
                           attempt + 1, max_attempts);
            free(message);
            free(j.buf);
            int stopped = 0;
            if (stop != NULL) {
                stopped = es_stop_wait(stop, delay);
            } else {
                struct timespec ts = {(time_t)delay,
                                      (long)((delay - (double)(time_t)delay) * 1e9)};
                nanosleep(&ts, NULL);
            }
            if (stopped) {
                resp->error = strdup("stopped while waiting to retry");
                result = EMBSYNC_RETRY;
                break;
            }
            continue;
        }
        resp->status = code;
        resp->attempts = attempt;
        *grpc_status = status;
        if (status >= 0) {
            resp->body = j.buf != NULL ? j.buf : strdup("");
            resp->body_len = j.buf != NULL ? j.len : 0;
            resp->content_type = strdup("application/grpc");
            resp->error = message;
            result = transient ? EMBSYNC_RETRY : EMBSYNC_OK;
            es_log(EMBSYNC_LOG_DEBUG, origin, "gRPC %s -> %s (%zu bytes)", r.url,
                   es_grpc_status_name(status), resp->body_len);
        } else {
            free(j.buf);
            free(message);
            resp->error = strdup(why);
            result = transient ? EMBSYNC_RETRY : EMBSYNC_FAILED;
            es_log(EMBSYNC_LOG_DEBUG, origin, "gRPC %s failed: %s", r.url, why);
        }
        break;
    }
    return result;
}
