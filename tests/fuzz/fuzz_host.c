#define _GNU_SOURCE
#include "fuzz_host.h"

#include <ftw.h>
#include <pthread.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "blob.h"
#include "clock.h"
#include "limit.h"
#include "outcome.h"
#include "statefile.h"
#include "url.h"

struct embsync_ctx {
    int unused;
};

static struct embsync_ctx the_ctx;
static const embsync_plugin *plugin;
static const fuzz_setting *settings;
static const uint8_t *input;
static size_t input_size, next_at;
static unsigned requests, waits;
static char state_dir[64];

/* Statuses a part's first byte picks from; 200 most of the time. */
static const long statuses[] = {200, 200, 200, 200, 200, 200, 200, 200,
                                201, 202, 204, 400, 401, 403, 404, 409,
                                413, 429, 500, 502, 503, 0};
#define N_STATUSES (sizeof statuses / sizeof statuses[0])

embsync_ctx *fuzz_ctx(void)
{
    return &the_ctx;
}

void fuzz_host_configure(const embsync_plugin *p, const fuzz_setting *s)
{
    plugin = p;
    settings = s;
}

static int remove_entry(const char *path, const struct stat *st, int flag,
                        struct FTW *ftw)
{
    (void)st, (void)flag;
    if (ftw->level > 0)
        remove(path);
    return 0;
}

void fuzz_host_input(const uint8_t *data, size_t size)
{
    input = data;
    input_size = size;
    next_at = 0;
    requests = waits = 0;
    if (state_dir[0] == '\0') {
        snprintf(state_dir, sizeof state_dir, "/tmp/embsync-fuzz-XXXXXX");
        if (mkdtemp(state_dir) == NULL)
            state_dir[0] = '\0';
    } else {
        nftw(state_dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    }
}

/* The next part of the input: [status byte][body] up to a NUL or the end. */
static void next_part(long *status, const uint8_t **body, size_t *len)
{
    if (input_size == 0) {
        *status = 200;
        *body = (const uint8_t *)"";
        *len = 0;
        return;
    }
    if (next_at >= input_size)
        next_at = 0;
    const uint8_t *start = input + next_at;
    const uint8_t *nul = memchr(start, 0, input_size - next_at);
    size_t part = nul != NULL ? (size_t)(nul - start) : input_size - next_at;
    next_at += part + 1;
    if (part == 0) {
        *status = 200;
        *body = start;
        *len = 0;
        return;
    }
    *status = statuses[start[0] % N_STATUSES];
    *body = start + 1;
    *len = part - 1;
}

/* Plugins may make requests from threads of their own (clip's workers):
 * the input is read by one at a time. */
static pthread_mutex_t input_lock = PTHREAD_MUTEX_INITIALIZER;

static int answer_locked(const embsync_http_request *req, embsync_http_response *resp);

static int answer(const embsync_http_request *req, embsync_http_response *resp)
{
    pthread_mutex_lock(&input_lock);
    int rc = answer_locked(req, resp);
    pthread_mutex_unlock(&input_lock);
    return rc;
}

static int answer_locked(const embsync_http_request *req, embsync_http_response *resp)
{
    embsync_abi abi = resp->abi;
    memset(resp, 0, sizeof *resp);
    resp->abi = abi;
    resp->attempts = 1;
    if (req == NULL || req->method == NULL || req->url == NULL) {
        resp->error = strdup("request without method or URL");
        return EMBSYNC_FAILED;
    }
    if (++requests > FUZZ_MAX_REQUESTS) {
        resp->error = strdup("fuzz: request budget used up");
        return EMBSYNC_RETRY;
    }
    long status;
    const uint8_t *body;
    size_t len;
    next_part(&status, &body, &len);
    if (status == 0) {
        resp->error = strdup("fuzz: no answer");
        return EMBSYNC_RETRY;
    }
    resp->status = status;
    resp->body = malloc(len + 1);
    if (resp->body == NULL)
        return EMBSYNC_RETRY;
    if (len > 0)
        memcpy(resp->body, body, len);
    resp->body[len] = '\0';
    resp->body_len = len;
    resp->content_type = strdup("application/json");
    return status == 429 || status >= 500 ? EMBSYNC_RETRY : EMBSYNC_OK;
}

static void host_log(embsync_ctx *ctx, int level, const char *fmt, ...)
{
    (void)ctx, (void)level;
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
}

static void host_set_error(embsync_ctx *ctx, const char *fmt, ...)
{
    (void)ctx;
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
}

static void host_set_item_error(embsync_ctx *ctx, size_t index,
                                const char *fmt, ...)
{
    (void)ctx, (void)index;
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
}

static void host_set_retry_after(embsync_ctx *ctx, double seconds)
{
    (void)ctx, (void)seconds;
}

static const char *host_config_get(embsync_ctx *ctx, const char *key)
{
    (void)ctx;
    for (const fuzz_setting *s = settings; s != NULL && s->key != NULL; s++)
        if (strcmp(s->key, key) == 0)
            return s->value;
    const char *base = plugin != NULL ? (const char *)plugin->config_keys : NULL;
    for (size_t i = 0; base != NULL; i++) {
        const embsync_config_key *k =
            (const embsync_config_key *)(base + i * plugin->config_key_size);
        if (k->name == NULL)
            break;
        if (strcmp(k->name, key) == 0)
            return k->default_value;
    }
    return NULL;
}

static long long host_config_int(embsync_ctx *ctx, const char *key,
                                 long long fallback)
{
    const char *v = host_config_get(ctx, key);
    char *end;
    long long n = v != NULL ? strtoll(v, &end, 10) : 0;
    return v != NULL && end != v && *end == '\0' ? n : fallback;
}

static int host_config_bool(embsync_ctx *ctx, const char *key, int fallback)
{
    const char *v = host_config_get(ctx, key);
    if (v == NULL)
        return fallback;
    if (!strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcmp(v, "1"))
        return 1;
    if (!strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcmp(v, "0"))
        return 0;
    return fallback;
}

static double host_config_double(embsync_ctx *ctx, const char *key,
                                 double fallback)
{
    const char *v = host_config_get(ctx, key);
    char *end;
    double d = v != NULL ? strtod(v, &end) : 0;
    return v != NULL && end != v && *end == '\0' ? d : fallback;
}

static const char *host_state_dir(embsync_ctx *ctx)
{
    (void)ctx;
    return state_dir[0] ? state_dir : NULL;
}

static void host_add_secret(embsync_ctx *ctx, const char *value)
{
    (void)ctx, (void)value;
}

static int host_http(embsync_ctx *ctx, const embsync_http_request *req,
                     embsync_http_response *resp)
{
    (void)ctx;
    return answer(req, resp);
}

static int host_http_many(embsync_ctx *ctx, size_t n,
                          const embsync_http_request *reqs,
                          embsync_http_response *resps, int *status,
                          unsigned parallel)
{
    (void)ctx, (void)parallel;
    if (n > 0 && (reqs == NULL || resps == NULL || status == NULL))
        return EMBSYNC_FAILED;
    for (size_t i = 0; i < n; i++)
        status[i] = answer(&reqs[i], &resps[i]);
    return EMBSYNC_OK;
}

static void host_http_release(embsync_ctx *ctx, embsync_http_response *resp)
{
    (void)ctx;
    if (resp == NULL)
        return;
    free(resp->body);
    free(resp->content_type);
    free((char *)resp->error);
    embsync_abi abi = resp->abi;
    memset(resp, 0, sizeof *resp);
    resp->abi = abi;
}

static void host_counter_add(embsync_ctx *ctx, const char *name, double delta)
{
    (void)ctx, (void)name, (void)delta;
}

static int host_http_many_limited(embsync_ctx *ctx, size_t n,
                                  const embsync_http_request *reqs,
                                  embsync_http_response *resps, int *status,
                                  embsync_limit *limit)
{
    return host_http_many(ctx, n, reqs, resps, status,
                          limit != NULL ? es_limit_window(limit) : 1);
}

static void host_gauge_set(embsync_ctx *ctx, const char *name, const char *label,
                           const char *value, double v)
{
    (void)ctx, (void)name, (void)label, (void)value, (void)v;
}

static void host_counter_add_labelled(embsync_ctx *ctx, const char *name,
                                      const char *label, const char *value,
                                      double delta)
{
    (void)ctx, (void)name, (void)label, (void)value, (void)delta;
}

static int host_stop_requested(embsync_ctx *ctx)
{
    (void)ctx;
    return 0;
}

/* No sleeping; after a few waits in one input, "stop" ends polling loops. */
static int host_retry_wait(embsync_ctx *ctx, unsigned attempt, double at_least)
{
    (void)ctx, (void)attempt, (void)at_least;
    return ++waits > 4;
}

static size_t host_json_float_array(const float *v, size_t n, char *out,
                                    size_t out_len)
{
    size_t at = 0;
    if (out_len < 3)
        return 0;
    out[at++] = '[';
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(v[i]))
            return 0;
        int w = snprintf(out + at, out_len - at, "%s%.9g", i ? "," : "",
                         (double)v[i]);
        if (w < 0 || (size_t)w >= out_len - at)
            return 0;
        at += (size_t)w;
    }
    if (at + 2 > out_len)
        return 0;
    out[at++] = ']';
    out[at] = '\0';
    return at;
}

/* The core's own reading of an answer; the text goes where set_error's
 * would. */
static int host_http_outcome(embsync_ctx *ctx, int http_rc,
                             const embsync_http_response *resp,
                             const char *what, const char *detail, size_t item)
{
    char text[512];
    int outcome = es_http_outcome(http_rc, resp, what, detail,
                                  item != EMBSYNC_WHOLE_CALL, text, sizeof text);
    if (outcome != EMBSYNC_OK)
        host_set_error(ctx, "%s", text);
    return outcome;
}

/* A gRPC call (1.4) is answered from the input like an HTTP request: a 200
 * part is status OK with the part's bytes as the answer message (so the
 * plugin's decoder reads fuzzed messages), other statuses stand for the
 * gRPC status the spec maps them to. */
static int host_grpc_unary(embsync_ctx *ctx, const embsync_http_request *req,
                           embsync_http_response *resp, int *grpc_status)
{
    (void)ctx;
    *grpc_status = -1;
    if (req == NULL || req->url == NULL) {
        embsync_abi abi = resp->abi;
        memset(resp, 0, sizeof *resp);
        resp->abi = abi;
        resp->error = strdup("gRPC call without URL");
        return EMBSYNC_FAILED;
    }
    embsync_http_request post = *req;
    post.method = "POST";
    int rc = answer(&post, resp);
    if (rc == EMBSYNC_OK && resp->status != 0)
        *grpc_status = resp->status == 200 ? 0 : es_grpc_status_of_http(resp->status);
    return rc;
}

static int host_grpc_outcome(embsync_ctx *ctx, int grpc_rc,
                             const embsync_http_response *resp, int grpc_status,
                             const char *what, size_t item)
{
    char text[512];
    int outcome = es_grpc_outcome(grpc_rc, resp, grpc_status, what,
                                  item != EMBSYNC_WHOLE_CALL, text, sizeof text);
    if (outcome != EMBSYNC_OK)
        host_set_error(ctx, "%s", text);
    return outcome;
}

static int host_state_write(embsync_ctx *ctx, const char *name,
                            const void *data, size_t len)
{
    char path[256];
    if (name == NULL || *name == '\0' || strchr(name, '/') != NULL ||
        snprintf(path, sizeof path, "%s/%s", host_state_dir(ctx), name) >=
            (int)sizeof path)
        return -1;
    return es_write_atomic(path, data, len);
}

static char *host_state_read(embsync_ctx *ctx, const char *name, size_t *len)
{
    char path[256];
    if (name == NULL || *name == '\0' || strchr(name, '/') != NULL ||
        snprintf(path, sizeof path, "%s/%s", host_state_dir(ctx), name) >=
            (int)sizeof path)
        return NULL;
    return es_read_all(path, len);
}

const embsync_host fuzz_host = {
    .abi = EMBSYNC_ABI_INIT(embsync_host),
    .log = host_log,
    .set_error = host_set_error,
    .set_item_error = host_set_item_error,
    .set_retry_after = host_set_retry_after,
    .config_get = host_config_get,
    .config_int = host_config_int,
    .config_bool = host_config_bool,
    .config_double = host_config_double,
    .state_dir = host_state_dir,
    .add_secret = host_add_secret,
    .blob_set = es_blob_set,
    .blob_alloc = es_blob_alloc,
    .http = host_http,
    .http_many = host_http_many,
    .http_release = host_http_release,
    .counter_add = host_counter_add,
    .stop_requested = host_stop_requested,
    .retry_wait = host_retry_wait,
    .json_float_array = host_json_float_array,
    .http_outcome = host_http_outcome,
    .state_write = host_state_write,
    .state_read = host_state_read,
    .url_join = es_url_join,
    .url_escape = es_url_escape,
    .clock_now = es_mono_now,
    .limit_new = es_limit_new,
    .limit_window = es_limit_window,
    .limit_sample = es_limit_sample,
    .limit_restart = es_limit_restart,
    .limit_free = es_limit_free,
    .http_many_limited = host_http_many_limited,
    .gauge_set = host_gauge_set,
    .counter_add_labelled = host_counter_add_labelled,
    .grpc_unary = host_grpc_unary,
    .grpc_outcome = host_grpc_outcome,
    .blob_take_body = es_blob_take_body,
};
