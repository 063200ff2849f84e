/* For pthread_rwlockattr_setkind_np() (es_instance_open). */
#define _GNU_SOURCE
#include <config.h>

#include "host.h"

#include <errno.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "clock.h"
#include "limit.h"
#include "http.h"
#include "json_floats.h"
#include "log.h"
#include "metrics.h"
#include "outcome.h"
#include "retry.h"
#include "statefile.h"
#include "url.h"

#define ERROR_LEN 1024

/* What the plugin reported during the call in flight on this thread. */
static __thread char call_error[ERROR_LEN];
static __thread double call_retry_after;
static __thread char *item_slots;
static __thread size_t item_count, item_len;

void es_call_begin(void)
{
    call_error[0] = '\0';
    call_retry_after = 0;
}

const char *es_call_error(void)
{
    return call_error;
}

double es_call_retry_after(void)
{
    return call_retry_after;
}

void es_call_item_errors(char *slots, size_t n, size_t len)
{
    item_slots = slots;
    item_count = slots != NULL ? n : 0;
    item_len = len;
    for (size_t i = 0; i < item_count; i++)
        slots[i * len] = '\0';
}

static const char *plugin_name(embsync_ctx *ctx)
{
    return ctx != NULL && ctx->module != NULL ? ctx->module->desc.name
                                              : "plugin";
}

static void host_log(embsync_ctx *ctx, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    es_vlog(level, plugin_name(ctx), fmt, ap);
    va_end(ap);
}

static void set_call_error(const char *fmt, va_list ap)
{
    char raw[ERROR_LEN];
    vsnprintf(raw, sizeof raw, fmt, ap);
    es_redact(raw, call_error, sizeof call_error);
}

static void host_set_error(embsync_ctx *ctx, const char *fmt, ...)
{
    (void)ctx;
    va_list ap;
    va_start(ap, fmt);
    set_call_error(fmt, ap);
    va_end(ap);
}

void es_call_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_call_error(fmt, ap);
    va_end(ap);
}

static void host_set_item_error(embsync_ctx *ctx, size_t index,
                                const char *fmt, ...)
{
    (void)ctx;
    if (item_slots == NULL || index >= item_count)
        return;
    char raw[ERROR_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    es_redact(raw, item_slots + index * item_len, item_len);
}

static void host_set_retry_after(embsync_ctx *ctx, double seconds)
{
    (void)ctx;
    call_retry_after = seconds > 0 ? seconds : 0;
}

static const char *host_config_get(embsync_ctx *ctx, const char *key)
{
    return es_plugin_config_get(&ctx->config, key, NULL);
}

static long long host_config_int(embsync_ctx *ctx, const char *key,
                                 long long fallback)
{
    const char *v = es_plugin_config_get(&ctx->config, key, NULL);
    long long out;
    return v != NULL && es_parse_int(v, &out) == 0 ? out : fallback;
}

static int host_config_bool(embsync_ctx *ctx, const char *key, int fallback)
{
    const char *v = es_plugin_config_get(&ctx->config, key, NULL);
    int out;
    return v != NULL && es_parse_bool(v, &out) == 0 ? out : fallback;
}

static double host_config_double(embsync_ctx *ctx, const char *key,
                                 double fallback)
{
    const char *v = es_plugin_config_get(&ctx->config, key, NULL);
    double out;
    return v != NULL && es_parse_double(v, &out) == 0 ? out : fallback;
}

static const char *host_state_dir(embsync_ctx *ctx)
{
    pthread_mutex_lock(&ctx->state_dir_lock);
    if (ctx->state_dir == NULL) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s-%s", ctx->state_root,
                 es_kind_name(ctx->module->desc.kind), ctx->module->desc.name);
        if (es_mkdirs(path) == 0)
            ctx->state_dir = strdup(path);
        else
            es_log(EMBSYNC_LOG_ERROR, plugin_name(ctx),
                   "cannot create state directory %s: %s", path,
                   strerror(errno));
    }
    pthread_mutex_unlock(&ctx->state_dir_lock);
    return ctx->state_dir;
}

static void host_add_secret(embsync_ctx *ctx, const char *value)
{
    (void)ctx;
    es_secret_add(value);
}

static int host_http_many(embsync_ctx *ctx, size_t n,
                          const embsync_http_request *reqs,
                          embsync_http_response *resps, int *status,
                          unsigned parallel)
{
    return es_http_many(plugin_name(ctx), ctx->stop, n, reqs, resps, status,
                        parallel);
}

static int host_http(embsync_ctx *ctx, const embsync_http_request *req,
                     embsync_http_response *resp)
{
    int status = EMBSYNC_FAILED;
    int rc = host_http_many(ctx, 1, req, resp, &status, 1);
    return rc == EMBSYNC_OK ? status : rc;
}

static void host_http_release(embsync_ctx *ctx, embsync_http_response *resp)
{
    (void)ctx;
    es_http_release(resp);
}

static void host_counter_add(embsync_ctx *ctx, const char *name, double delta)
{
    char metric[160], labels[256];
    for (const char *c = name; *c != '\0'; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_'))
            return; /* not a valid metric name part: refuse quietly */
    snprintf(metric, sizeof metric, "embsync_plugin_%s_total", name);
    es_metric_labels(labels, sizeof labels, "plugin", plugin_name(ctx), NULL);
    es_metric_add(metric, labels, delta);
}

/* ---- 1.3: adaptive limits (core/aimd.c) and labelled metrics ---------- */

static int host_http_many_limited(embsync_ctx *ctx, size_t n,
                                  const embsync_http_request *reqs,
                                  embsync_http_response *resps, int *status,
                                  embsync_limit *limit)
{
    return es_http_many_limited(plugin_name(ctx), ctx->stop, n, reqs, resps,
                                status, 1, es_limit_aimd(limit));
}

static int metric_word(const char *s)
{
    if (s == NULL || *s == '\0')
        return 0;
    for (const char *c = s; *c != '\0'; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_'))
            return 0;
    return 1;
}

/* The labels of a plugin metric with one label of the plugin's; the value
 * is redacted too, in case a plugin forgot a secret in it. */
static int plugin_metric(embsync_ctx *ctx, const char *name, const char *suffix,
                         const char *label, const char *value, char *metric,
                         size_t metric_len, char *labels, size_t labels_len)
{
    if (!metric_word(name) || !metric_word(label) || value == NULL ||
        strcmp(label, "plugin") == 0)
        return -1;
    char clean[512];
    es_redact(value, clean, sizeof clean);
    snprintf(metric, metric_len, "embsync_plugin_%s%s", name, suffix);
    es_metric_labels(labels, labels_len, "plugin", plugin_name(ctx), label,
                     clean, NULL);
    return 0;
}

static void host_gauge_set(embsync_ctx *ctx, const char *name,
                           const char *label, const char *value, double v)
{
    char metric[160], labels[768];
    if (plugin_metric(ctx, name, "", label, value, metric, sizeof metric,
                      labels, sizeof labels) == 0)
        es_metric_set(metric, labels, v);
}

static void host_counter_add_labelled(embsync_ctx *ctx, const char *name,
                                      const char *label, const char *value,
                                      double delta)
{
    char metric[160], labels[768];
    if (plugin_metric(ctx, name, "_total", label, value, metric, sizeof metric,
                      labels, sizeof labels) == 0)
        es_metric_add(metric, labels, delta);
}

static int host_stop_requested(embsync_ctx *ctx)
{
    return ctx->stop != NULL && es_stop_requested(ctx->stop);
}

static int host_retry_wait(embsync_ctx *ctx, unsigned attempt, double at_least)
{
    if (es_http_probing())
        return 1; /* a probe reports the first failure; it does not wait */
    double delay = es_retry_delay(attempt, at_least);
    if (ctx->stop == NULL) {
        es_stop tmp;
        es_stop_init(&tmp);
        es_stop_wait(&tmp, delay);
        es_stop_destroy(&tmp);
        return 0;
    }
    return es_stop_wait(ctx->stop, delay);
}

/* The one reading of an HTTP answer (ABI 1.2): core/outcome.c. */
static int host_http_outcome(embsync_ctx *ctx, int http_rc,
                             const embsync_http_response *resp,
                             const char *what, const char *detail, size_t item)
{
    int per_item = item != EMBSYNC_WHOLE_CALL;
    char text[ERROR_LEN];
    int outcome = es_http_outcome(http_rc, resp, what, detail, per_item, text,
                                  sizeof text);
    if (outcome == EMBSYNC_OK)
        return outcome;
    if (outcome == EMBSYNC_RETRY && resp != NULL && resp->retry_after > 0)
        host_set_retry_after(ctx, resp->retry_after);
    if (per_item && outcome != EMBSYNC_FATAL)
        host_set_item_error(ctx, item, "%s", text);
    else
        host_set_error(ctx, "%s", text);
    return outcome;
}

/* ---- 1.4: gRPC unary calls (core/http.c) and their outcome ----------- */

static int host_grpc_unary(embsync_ctx *ctx, const embsync_http_request *req,
                           embsync_http_response *resp, int *grpc_status)
{
    int ignored;
    return es_grpc_unary(plugin_name(ctx), ctx != NULL ? ctx->stop : NULL, req, resp,
                         grpc_status != NULL ? grpc_status : &ignored);
}

static int host_grpc_outcome(embsync_ctx *ctx, int grpc_rc,
                             const embsync_http_response *resp, int grpc_status,
                             const char *what, size_t item)
{
    int per_item = item != EMBSYNC_WHOLE_CALL;
    char text[ERROR_LEN];
    int outcome = es_grpc_outcome(grpc_rc, resp, grpc_status, what, per_item,
                                  text, sizeof text);
    if (outcome == EMBSYNC_OK)
        return outcome;
    if (per_item && outcome != EMBSYNC_FATAL)
        host_set_item_error(ctx, item, "%s", text);
    else
        host_set_error(ctx, "%s", text);
    return outcome;
}

/* A path inside the state directory: components neither empty nor "." nor
 * "..", no leading '/'. */
static int state_path(embsync_ctx *ctx, const char *name, char *out,
                      size_t out_len)
{
    const char *dir = host_state_dir(ctx);
    if (dir == NULL)
        return -1;
    if (name == NULL || *name == '\0' || strchr(name, '/') != NULL ||
        strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
        errno = EINVAL;
        return -1;
    }
    if (snprintf(out, out_len, "%s/%s", dir, name) >= (int)out_len) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

static int host_state_write(embsync_ctx *ctx, const char *name,
                            const void *data, size_t len)
{
    char path[4096];
    if (state_path(ctx, name, path, sizeof path) != 0)
        return -1;
    return es_write_atomic(path, data, len);
}

static char *host_state_read(embsync_ctx *ctx, const char *name, size_t *len)
{
    char path[4096];
    if (state_path(ctx, name, path, sizeof path) != 0)
        return NULL;
    return es_read_all(path, len);
}

const embsync_host es_host_table = {
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
    .json_float_array = es_json_float_array,
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

static int (*open_op(const es_module *m))(const embsync_host *, embsync_ctx *,
                                          void **)
{
    switch (m->desc.kind) {
    case EMBSYNC_KIND_SOURCE: return m->ops.source.open;
    case EMBSYNC_KIND_EMBEDDER: return m->ops.embedder.open;
    default: return m->ops.store.open;
    }
}

static void (*close_op(const es_module *m))(void *)
{
    switch (m->desc.kind) {
    case EMBSYNC_KIND_SOURCE: return m->ops.source.close;
    case EMBSYNC_KIND_EMBEDDER: return m->ops.embedder.close;
    default: return m->ops.store.close;
    }
}

es_instance *es_instance_open(const es_module *m, const es_config *cfg,
                              const es_section *sec, es_stop *stop, char *err,
                              size_t errlen)
{
    es_instance *inst = calloc(1, sizeof *inst);
    if (inst == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    inst->module = m;
    inst->ctx.module = m;
    inst->ctx.stop = stop;
    /* Writers first: a check() or info() waits for the embed_images()
     * calls in flight, not for every one the pipeline can start. */
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
#ifdef __GLIBC__
    pthread_rwlockattr_setkind_np(&attr,
                                  PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
#endif
    pthread_rwlock_init(&inst->call_lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    pthread_mutex_init(&inst->ctx.state_dir_lock, NULL);
    inst->ctx.state_root = strdup(cfg->state_dir);
    if (es_plugin_config_build(cfg, sec, m->desc.config_keys,
                               m->desc.config_key_size, &inst->ctx.config, err,
                               errlen) != 0) {
        es_instance_close(inst);
        return NULL;
    }
    es_call_begin();
    int rc = open_op(m)(&es_host_table, &inst->ctx, &inst->state);
    if (rc != EMBSYNC_OK) {
        snprintf(err, errlen, "%s plugin %s: cannot open: %s",
                 es_kind_name(m->desc.kind), m->desc.name,
                 *es_call_error() ? es_call_error() : "no reason given");
        inst->state = NULL;
        es_instance_close(inst);
        return NULL;
    }
    return inst;
}

void es_instance_close(es_instance *inst)
{
    if (inst == NULL)
        return;
    if (inst->state != NULL)
        close_op(inst->module)(inst->state);
    es_plugin_config_free(&inst->ctx.config);
    free(inst->ctx.state_root);
    free(inst->ctx.state_dir);
    pthread_mutex_destroy(&inst->ctx.state_dir_lock);
    pthread_rwlock_destroy(&inst->call_lock);
    free(inst);
}
