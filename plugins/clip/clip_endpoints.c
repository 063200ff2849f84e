/* The clip embedder's endpoints: the list of base URLs, the labels that
 * name them without their credentials, what metrics show of each, and their
 * readiness — GET /dry_run at open and check(), and a prober per endpoint
 * that polls one out of rotation, with the retry policy's delays, until it
 * is ready again (clip_pool.c sends the requests). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "clip.h"

#define PROBE_TIMEOUT_MS 5000L

/* ---- lists and labels ----------------------------------------------- */

char **clip_split_list(const char *list, size_t *n)
{
    *n = 0;
    if (list == NULL)
        return NULL;
    size_t cap = 1;
    for (const char *p = list; *p; p++)
        cap += *p == ',' || *p == ' ' || *p == '\t' || *p == '\n';
    char **words = calloc(cap, sizeof *words);
    char *copy = strdup(list);
    if (words == NULL || copy == NULL) {
        free(words);
        free(copy);
        return NULL;
    }
    char *save = NULL;
    for (char *w = strtok_r(copy, ", \t\n", &save); w != NULL;
         w = strtok_r(NULL, ", \t\n", &save))
        words[(*n)++] = strdup(w);
    free(copy);
    if (*n == 0) {
        free(words);
        return NULL;
    }
    return words;
}

/* The base as metrics and logs may show it: no user:password@, no query,
 * and the path segment after /net/ (an app token) blanked. */
static char *redacted_label(const char *base)
{
    char *out = malloc(strlen(base) + 8);
    if (out == NULL)
        return NULL;
    const char *scheme = strstr(base, "://");
    const char *host = scheme != NULL ? scheme + 3 : base;
    const char *at = strchr(host, '@');
    const char *slash = strchr(host, '/');
    size_t o = 0;
    memcpy(out, base, (size_t)(host - base));
    o = (size_t)(host - base);
    if (at != NULL && (slash == NULL || at < slash))
        host = at + 1;
    for (const char *p = host; *p && *p != '?' && *p != '#'; p++) {
        out[o++] = *p;
        if (p - host >= 4 && strncmp(p - 4, "/net/", 5) == 0) {
            memcpy(out + o, "***", 3);
            o += 3;
            while (p[1] && p[1] != '/' && p[1] != '?')
                p++;
        }
    }
    out[o] = '\0';
    return out;
}

static char *joined(const clip *c, const char *base, const char *path)
{
    size_t n = strlen(base) + strlen(path) + 2;
    char *url = malloc(n);
    if (url != NULL)
        c->host->url_join(base, path, url, n);
    return url;
}

int clip_endpoints_init(clip *c, char *const *bases, size_t n)
{
    c->eps = calloc(n, sizeof *c->eps);
    if (c->eps == NULL)
        return -1;
    c->n_eps = n;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->changed, NULL);
    for (size_t i = 0; i < n; i++) {
        endpoint *e = &c->eps[i];
        e->c = c;
        e->up = 1; /* until the first probe says otherwise */
        pthread_cond_init(&e->work, NULL);
        pthread_cond_init(&e->down, NULL);
        e->base = strdup(bases[i]);
        if (e->base == NULL)
            return -1;
        /* The base with its trailing slashes trimmed. */
        c->host->url_join(e->base, "", e->base, strlen(e->base) + 1);
        /* A ".../net/<token>" base carries the app's credential. */
        const char *net = strstr(e->base, "/net/");
        if (net != NULL)
            c->host->add_secret(c->ctx, net + 5);
        e->label = redacted_label(e->base);
        e->post_url = joined(c, e->base, "/post");
        e->dry_run_url = joined(c, e->base, "/dry_run");
        e->limit = c->host->limit_new(c->ctx, c->parallel,
                                      c->adaptive ? 0 : EMBSYNC_LIMIT_FIXED);
        if (!e->label || !e->post_url || !e->dry_run_url || !e->limit)
            return -1;
        /* Two bases that differ only in a blanked token: number them. */
        for (size_t j = 0; j < i; j++)
            if (strcmp(c->eps[j].label, e->label) == 0) {
                size_t len = strlen(e->label) + 24;
                char *numbered = malloc(len);
                if (numbered == NULL)
                    return -1;
                snprintf(numbered, len, "%s#%zu", e->label, i + 1);
                free(e->label);
                e->label = numbered;
                break;
            }
    }
    return 0;
}

void clip_endpoints_free(clip *c)
{
    if (c->eps == NULL)
        return;
    for (size_t i = 0; c->started && i < c->n_eps; i++) {
        endpoint *e = &c->eps[i];
        /* What the adaptive limit did, for the operator (and bench/run). */
        c->host->log(c->ctx, EMBSYNC_LOG_INFO,
                     "CLIP endpoint %s: %llu requests, %llu errors, in flight "
                     "%u to %u (now %u, ceiling %u), %.0f ms per request",
                     e->label, e->requests, e->errors, e->window_min,
                     e->window_max, c->host->limit_window(e->limit), c->parallel,
                     e->latency * 1000);
    }
    if (c->started) {
        pthread_mutex_lock(&c->lock);
        c->stopping = 1;
        for (size_t i = 0; i < c->n_eps; i++) {
            pthread_cond_broadcast(&c->eps[i].work);
            pthread_cond_broadcast(&c->eps[i].down);
        }
        pthread_mutex_unlock(&c->lock);
        for (size_t i = 0; i < c->n_eps; i++)
            for (unsigned t = 0; t < c->eps[i].n_threads; t++)
                pthread_join(c->eps[i].threads[t], NULL);
    }
    for (size_t i = 0; i < c->n_eps; i++) {
        endpoint *e = &c->eps[i];
        free(e->threads);
        free(e->base);
        free(e->label);
        free(e->post_url);
        free(e->dry_run_url);
        c->host->limit_free(e->limit);
        pthread_cond_destroy(&e->work);
        pthread_cond_destroy(&e->down);
    }
    free(c->eps);
    c->eps = NULL;
    pthread_cond_destroy(&c->changed);
    pthread_mutex_destroy(&c->lock);
}

/* ---- what metrics show ------------------------------------------------ */

/* Caller holds c->lock. */
void clip_show(clip *c, endpoint *e)
{
    const embsync_host *h = c->host;
    unsigned w = h->limit_window(e->limit);
    if (e->window_min == 0 || w < e->window_min)
        e->window_min = w;
    if (w > e->window_max)
        e->window_max = w;
    h->gauge_set(c->ctx, "endpoint_up", "endpoint", e->label, e->up);
    h->gauge_set(c->ctx, "endpoint_in_flight", "endpoint", e->label, e->in_flight);
    h->gauge_set(c->ctx, "endpoint_window", "endpoint", e->label, w);
    h->gauge_set(c->ctx, "endpoint_latency_seconds", "endpoint", e->label,
                 e->latency);
}

/* Caller holds c->lock. */
void clip_take_out(clip *c, endpoint *e, const char *why)
{
    if (why != e->last_error)
        snprintf(e->last_error, sizeof e->last_error, "%s", why);
    c->host->counter_add_labelled(c->ctx, "endpoint_errors", "endpoint",
                                  e->label, 1);
    e->errors++;
    if (e->up) {
        e->up = 0;
        c->host->log(c->ctx, EMBSYNC_LOG_WARNING,
                     "CLIP endpoint %s out of rotation: %s", e->label, why);
        pthread_cond_signal(&e->down);
    }
    clip_show(c, e);
}

/* Caller holds c->lock. */
void clip_bring_back(clip *c, endpoint *e)
{
    if (!e->up) {
        e->up = 1;
        c->host->limit_restart(e->limit);
        if (c->started)
            c->host->log(c->ctx, EMBSYNC_LOG_INFO,
                         "CLIP endpoint %s back in rotation", e->label);
    }
    e->ready_at = c->host->clock_now();
    clip_show(c, e);
}

/* ---- readiness -------------------------------------------------------- */

int clip_dry_run(clip *c, endpoint *e)
{
    const char *headers[] = {"Accept: application/json", c->auth_header, NULL};
    embsync_http_request req = {
        .abi = EMBSYNC_ABI_INIT(embsync_http_request),
        .method = "GET",
        .url = e->dry_run_url,
        .headers = headers,
        .timeout_ms = c->timeout_ms < PROBE_TIMEOUT_MS ? c->timeout_ms : PROBE_TIMEOUT_MS,
        .flags = c->flags,
        .max_attempts = 1,
    };
    embsync_http_response resp = {.abi = EMBSYNC_ABI_INIT(embsync_http_response)};
    int rc = c->host->http(c->ctx, &req, &resp);
    char why[256];
    if (rc == EMBSYNC_OK) {
        cJSON *o = resp.status == 200 ? cJSON_Parse(resp.body) : NULL;
        const cJSON *code = cJSON_GetObjectItemCaseSensitive(o, "code");
        if (!cJSON_IsNumber(code) || code->valuedouble != 0) {
            const char *d = cJSON_GetStringValue(
                cJSON_GetObjectItemCaseSensitive(o, "description"));
            snprintf(why, sizeof why, "not ready (HTTP %ld): %s", resp.status,
                     d ? d : "no details");
            rc = EMBSYNC_RETRY;
        }
        cJSON_Delete(o);
    } else {
        snprintf(why, sizeof why, "unreachable: %s",
                 resp.error ? resp.error : "no answer");
        rc = EMBSYNC_RETRY;
    }
    c->host->http_release(c->ctx, &resp);
    if (rc != EMBSYNC_OK) {
        pthread_mutex_lock(&c->lock);
        snprintf(e->last_error, sizeof e->last_error, "%s", why);
        pthread_mutex_unlock(&c->lock);
        c->host->set_error(c->ctx, "CLIP service %s", why);
    }
    return rc;
}

size_t clip_probe_all(clip *c)
{
    size_t up = 0;
    for (size_t i = 0; i < c->n_eps; i++) {
        int ok = clip_dry_run(c, &c->eps[i]) == EMBSYNC_OK;
        pthread_mutex_lock(&c->lock);
        if (ok)
            clip_bring_back(c, &c->eps[i]);
        else
            clip_take_out(c, &c->eps[i], c->eps[i].last_error);
        up += ok;
        pthread_mutex_unlock(&c->lock);
    }
    return up;
}

int clip_wait_ready(clip *c)
{
    double deadline = c->host->clock_now() + c->ready_timeout_s;
    for (unsigned attempt = 1;; attempt++) {
        if (clip_probe_all(c) > 0)
            return EMBSYNC_OK;
        if (c->host->clock_now() >= deadline)
            return EMBSYNC_RETRY;
        if (attempt == 1)
            c->host->log(c->ctx, EMBSYNC_LOG_INFO,
                         "waiting for the CLIP service to become ready");
        if (c->host->retry_wait(c->ctx, attempt + 1, 0))
            return EMBSYNC_RETRY; /* stop requested */
    }
}

/* Polls an endpoint out of rotation until it is ready again. */
void *clip_prober(void *arg)
{
    endpoint *e = arg;
    clip *c = e->c;
    unsigned attempt = 0;
    pthread_mutex_lock(&c->lock);
    for (;;) {
        while (!c->stopping && e->up) {
            attempt = 0;
            pthread_cond_wait(&e->down, &c->lock);
        }
        if (c->stopping)
            break;
        pthread_mutex_unlock(&c->lock);
        if (attempt < PROBE_ATTEMPT_MAX)
            attempt++;
        int stop = c->host->retry_wait(c->ctx, attempt + 1, 0);
        int ok = !stop && clip_dry_run(c, e) == EMBSYNC_OK;
        pthread_mutex_lock(&c->lock);
        if (ok) {
            clip_bring_back(c, e);
            clip_dispatch(c);
            pthread_cond_broadcast(&c->changed);
        } else if (stop && !c->stopping) {
            /* Stopping: no more probes, but wake for close(). */
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            pthread_cond_timedwait(&e->down, &c->lock, &ts);
        }
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

