/* clip: the production embedder, CLIP-as-service over its HTTP gateway
 * (tests/emulators/clip/README.md describes what it speaks), at one or
 * several endpoints (clip_endpoints.c spreads the requests over them). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "clip.h"

static const embsync_config_key keys[] = {
    {"url", EMBSYNC_KEY_STRING, NULL, 0,
     "service base URL(s), comma or blank separated (http://host:8000, or a "
     "Supervisely .../net/<token> base)"},
    {"task_id", EMBSYNC_KEY_STRING, NULL, 0,
     "instead of url: the Supervisely task id(s) serving CLIP (needs supervisely_server)"},
    {"supervisely_server", EMBSYNC_KEY_STRING, NULL, 0,
     "Supervisely address for task_id resolution, e.g. https://app.supervisely.com"},
    {"supervisely_token", EMBSYNC_KEY_STRING, NULL, EMBSYNC_KEY_SECRET,
     "Supervisely API token for task_id resolution"},
    {"auth", EMBSYNC_KEY_STRING, NULL, EMBSYNC_KEY_SECRET,
     "optional Authorization header value (opaque, sent as is)"},
    {"model", EMBSYNC_KEY_STRING, "ViT-B-32::openai", 0,
     "the model the service runs (part of the identity; changing it rebuilds)"},
    {"dim", EMBSYNC_KEY_INT, NULL, 0,
     "vector dimension; learned from a probe encode when not set"},
    {"batch_size", EMBSYNC_KEY_INT, "32", 0, "documents per request"},
    {"parallel_requests", EMBSYNC_KEY_INT, "2", 0,
     "most requests in flight per endpoint (the AIMD ceiling)"},
    {"adaptive", EMBSYNC_KEY_BOOL, "true", 0,
     "adapt requests in flight per endpoint (AIMD); false: always parallel_requests"},
    {"timeout", EMBSYNC_KEY_INT, "60", 0, "seconds per request"},
    {"ready_timeout", EMBSYNC_KEY_INT, "300", 0,
     "seconds to wait for the service to become ready"},
    {"normalize", EMBSYNC_KEY_BOOL, "true", 0, "L2-normalise vectors"},
    {"verify_tls", EMBSYNC_KEY_BOOL, "true", 0, "verify the server certificate"},
    {NULL, 0, NULL, 0, NULL},
};

embsync_http_request clip_post(const clip *c, const char *url,
                               const char **headers, const char *body)
{
    return (embsync_http_request){
        .abi = EMBSYNC_ABI_INIT(embsync_http_request),
        .method = "POST",
        .url = url,
        .headers = headers,
        .body = body,
        .body_len = body != NULL ? strlen(body) : 0,
        .timeout_ms = c->timeout_ms,
        .flags = c->flags,
    };
}

/* ---- task id resolution --------------------------------------------------- */

/* base = supervisely_server + tasks.info(task_id).settings.message.appInfo.baseUrl */
static char *resolve_task(clip *c, long long task_id)
{
    const char *server = c->host->config_get(c->ctx, "supervisely_server");
    const char *token = c->host->config_get(c->ctx, "supervisely_token");
    if (server == NULL || token == NULL) {
        c->host->set_error(c->ctx,
                           "task_id needs supervisely_server and supervisely_token");
        return NULL;
    }
    char url[2048], body[64], key[1024];
    c->host->url_join(server, "public/api/v3/tasks.info", url, sizeof url);
    snprintf(body, sizeof body, "{\"id\":%lld}", task_id);
    snprintf(key, sizeof key, "x-api-key: %s", token);
    const char *headers[] = {"Content-Type: application/json", key, NULL};
    embsync_http_request req = clip_post(c, url, headers, body);
    embsync_http_response resp = {.abi = EMBSYNC_ABI_INIT(embsync_http_response)};
    int rc = c->host->http(c->ctx, &req, &resp);
    char *base = NULL;
    if (rc == EMBSYNC_OK && resp.status == 200) {
        cJSON *o = cJSON_Parse(resp.body);
        const char *path = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(
                cJSON_GetObjectItemCaseSensitive(
                    cJSON_GetObjectItemCaseSensitive(o, "settings"), "message"),
                "appInfo"),
            "baseUrl"));
        if (path != NULL) {
            size_t n = strlen(server) + strlen(path) + 2;
            base = malloc(n);
            if (base != NULL)
                c->host->url_join(server, path, base, n);
        } else {
            c->host->set_error(c->ctx, "task %lld has no appInfo.baseUrl", task_id);
        }
        cJSON_Delete(o);
    } else {
        char what[64];
        snprintf(what, sizeof what, "tasks.info for task %lld", task_id);
        c->host->http_outcome(c->ctx, rc, &resp, what, NULL, EMBSYNC_WHOLE_CALL);
    }
    c->host->http_release(c->ctx, &resp);
    return base;
}

/* ---- ops ------------------------------------------------------------------- */

/* The dimension from a probe of two texts: both answers must agree, so one
 * malformed answer cannot set the size of every collection. */
static int probe_dim(clip *c, endpoint *e)
{
    const char *headers[] = {"Content-Type: application/json",
                             "Accept: application/json", c->auth_header, NULL};
    doc probe[2] = {{.text = "a photo"}, {.text = "a drawing"}};
    char *body = clip_encode_body(probe, 2);
    embsync_http_request req = clip_post(c, e->post_url, headers, body);
    embsync_http_response resp = {.abi = EMBSYNC_ABI_INIT(embsync_http_response)};
    int rc = c->host->http(c->ctx, &req, &resp);
    cJSON *o = rc == EMBSYNC_OK && resp.status == 200 ? cJSON_Parse(resp.body) : NULL;
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(o, "data");
    int sizes[2] = {0, 0};
    for (int i = 0; i < 2; i++) {
        const cJSON *emb = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetArrayItem(data, i), "embedding");
        sizes[i] = cJSON_IsArray(emb) ? cJSON_GetArraySize(emb) : 0;
    }
    cJSON_Delete(o);
    c->host->http_release(c->ctx, &resp);
    free(body);
    if (sizes[0] == 0 || sizes[0] != sizes[1]) {
        c->host->set_error(c->ctx,
                           "cannot learn the vector dimension from a probe encode "
                           "(answers of %d and %d numbers); set dim",
                           sizes[0], sizes[1]);
        return rc == EMBSYNC_OK ? EMBSYNC_RETRY : rc;
    }
    c->dim = (uint32_t)sizes[0];
    return EMBSYNC_OK;
}

static void clip_close(void *state)
{
    clip *c = state;
    if (c == NULL)
        return;
    clip_endpoints_free(c);
    free(c->auth_header);
    free(c);
}

static void free_words(char **words, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(words[i]);
    free(words);
}

/* The base URLs: the url list, or one per task id through tasks.info. */
static char **bases_of(clip *c, size_t *n)
{
    const char *urls = c->host->config_get(c->ctx, "url");
    const char *tasks = c->host->config_get(c->ctx, "task_id");
    if ((urls == NULL) == (tasks == NULL)) {
        c->host->set_error(c->ctx, "set exactly one of url and task_id");
        return NULL;
    }
    char **words = clip_split_list(urls != NULL ? urls : tasks, n);
    if (words == NULL) {
        c->host->set_error(c->ctx, "%s is empty", urls != NULL ? "url" : "task_id");
        return NULL;
    }
    for (size_t i = 0; tasks != NULL && i < *n; i++) {
        char *end;
        long long id = strtoll(words[i], &end, 10);
        if (*end != '\0' || id <= 0) {
            c->host->set_error(c->ctx, "task_id: '%s' is not a task id", words[i]);
            free_words(words, *n);
            return NULL;
        }
        free(words[i]);
        words[i] = resolve_task(c, id);
        if (words[i] == NULL) {
            free_words(words, *n);
            return NULL;
        }
    }
    return words;
}

static int clip_open(const embsync_host *host, embsync_ctx *ctx, void **state)
{
    if (!EMBSYNC_HOST_HAS(host, counter_add_labelled)) {
        host->set_error(ctx, "needs a host with adaptive limits and labelled metrics (ABI 1.3)");
        return EMBSYNC_FATAL;
    }
    clip *c = calloc(1, sizeof *c);
    if (c == NULL)
        return EMBSYNC_FATAL;
    c->host = host;
    c->ctx = ctx;
    c->model = host->config_get(ctx, "model");
    c->batch_size = host->config_int(ctx, "batch_size", 32);
    long long parallel = host->config_int(ctx, "parallel_requests", 2);
    c->adaptive = host->config_bool(ctx, "adaptive", 1);
    c->timeout_ms = host->config_int(ctx, "timeout", 60) * 1000;
    c->ready_timeout_s = (double)host->config_int(ctx, "ready_timeout", 300);
    c->normalize = host->config_bool(ctx, "normalize", 1);
    if (!host->config_bool(ctx, "verify_tls", 1))
        c->flags |= EMBSYNC_HTTP_INSECURE;
    if (c->batch_size < 1 || parallel < 1 || parallel > 64) {
        host->set_error(ctx, "batch_size must be ≥ 1 and parallel_requests 1–64");
        clip_close(c);
        return EMBSYNC_FATAL;
    }
    c->parallel = (unsigned)parallel;
    const char *auth = host->config_get(ctx, "auth");
    if (auth != NULL && *auth != '\0') {
        size_t n = strlen(auth) + 20;
        c->auth_header = malloc(n);
        snprintf(c->auth_header, n, "Authorization: %s", auth);
    }
    size_t n_bases = 0;
    char **bases = bases_of(c, &n_bases);
    if (bases == NULL) {
        clip_close(c);
        return EMBSYNC_FATAL;
    }
    int bad = clip_endpoints_init(c, bases, n_bases);
    free_words(bases, n_bases);
    if (bad) {
        host->set_error(ctx, "out of memory");
        clip_close(c);
        return EMBSYNC_FATAL;
    }

    c->dim = (uint32_t)host->config_int(ctx, "dim", 0);
    int rc = clip_wait_ready(c);
    if (c->dim == 0) {
        /* Learn the dimension from a probe encode at a ready endpoint. */
        endpoint *ready = NULL;
        for (size_t i = 0; i < c->n_eps && ready == NULL; i++)
            if (c->eps[i].up)
                ready = &c->eps[i];
        if (rc == EMBSYNC_OK)
            rc = probe_dim(c, ready);
        if (rc != EMBSYNC_OK) {
            clip_close(c);
            return rc;
        }
        host->log(ctx, EMBSYNC_LOG_INFO, "CLIP service at %s: %s, %u dimensions",
                  ready->base, c->model, c->dim);
    } else if (rc != EMBSYNC_OK) {
        host->log(ctx, EMBSYNC_LOG_WARNING, "CLIP service not ready yet; will retry");
    }
    if (c->n_eps > 1)
        host->log(ctx, EMBSYNC_LOG_INFO, "%zu CLIP endpoints, up to %u requests in flight each%s",
                  c->n_eps, c->parallel, c->adaptive ? " (AIMD)" : "");
    *state = c;
    return EMBSYNC_OK;
}

/* OK while at least one endpoint is ready; the others are named. */
static int clip_check(void *state)
{
    clip *c = state;
    size_t up = clip_probe_all(c);
    if (up == c->n_eps)
        return EMBSYNC_OK;
    char down[1024] = "";
    size_t o = 0;
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->n_eps && o < sizeof down; i++)
        if (!c->eps[i].up)
            o += (size_t)snprintf(down + o, sizeof down - o, "%s%s: %s", o ? "; " : "",
                                  c->eps[i].label, c->eps[i].last_error);
    pthread_mutex_unlock(&c->lock);
    if (up > 0) {
        c->host->log(c->ctx, EMBSYNC_LOG_WARNING, "%zu of %zu CLIP endpoints ready; down: %s",
                     up, c->n_eps, down);
        return EMBSYNC_OK;
    }
    c->host->set_error(c->ctx, "no CLIP endpoint is ready: %s", down);
    return EMBSYNC_RETRY;
}

static int clip_info(void *state, embsync_model_info *info)
{
    clip *c = state;
    info->dim = c->dim;
    info->metric = EMBSYNC_METRIC_COSINE;
    snprintf(info->identity, sizeof info->identity, "clip:%s:%u", c->model, c->dim);
    info->flags = EMBSYNC_MODEL_TEXT | EMBSYNC_MODEL_IMAGE |
                  (c->normalize ? EMBSYNC_MODEL_NORMALIZED : 0);
    /* One call's jobs cannot keep every request place busy at its end, the
     * next call's fill them (clip_pool.c); as many calls as there are
     * places keeps them all busy even when each call is one request. */
    info->concurrent_calls = (unsigned)c->n_eps * c->parallel;
    return EMBSYNC_OK;
}

static int clip_embed_images(void *state, size_t n, const embsync_blob *inputs,
                             float *vectors, int *item_status)
{
    clip *c = state;
    doc *docs = calloc(n ? n : 1, sizeof *docs);
    if (docs == NULL)
        return EMBSYNC_FAILED;
    for (size_t i = 0; i < n; i++) {
        docs[i].data = inputs[i].data;
        docs[i].len = inputs[i].len;
        item_status[i] = EMBSYNC_RETRY;
    }
    int rc = clip_encode(c, docs, n, vectors, item_status);
    free(docs);
    return rc;
}

static int clip_embed_text(void *state, const char *text, float *vector)
{
    clip *c = state;
    doc d = {.text = text};
    int item = EMBSYNC_RETRY;
    int rc = clip_encode(c, &d, 1, vector, &item);
    if (rc == EMBSYNC_OK && item != EMBSYNC_OK) {
        c->host->set_error(c->ctx, "the CLIP service could not embed the text");
        rc = EMBSYNC_FAILED;
    }
    return rc;
}

static const embsync_embedder_ops ops = {
    .abi = EMBSYNC_ABI_INIT(embsync_embedder_ops),
    .open = clip_open,
    .close = clip_close,
    .check = clip_check,
    .info = clip_info,
    .embed_images = clip_embed_images,
    .embed_text = clip_embed_text,
};

static const embsync_plugin descriptor = {
    .abi = EMBSYNC_ABI_INIT(embsync_plugin),
    .kind = EMBSYNC_KIND_EMBEDDER,
    .name = "clip",
    .version = "1.2",
    .description = "CLIP-as-service over HTTP (images and texts), at one or several endpoints",
    .config_keys = keys,
    .config_key_size = sizeof keys[0],
    .ops = &ops,
};

EMBSYNC_PLUGIN_ENTRY(descriptor)
