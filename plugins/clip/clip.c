/* clip: the production embedder, CLIP-as-service over its HTTP gateway
 * (tests/emulators/clip/README.md describes what it speaks).
 *
 * Images go as base64 `blob` documents, texts as `text` documents, to
 * POST <base>/post; answers are matched to requests by document id.  The
 * service fails a whole request when one image cannot be decoded (HTTP 200
 * with a non-zero header.status), so a failed batch is bisected until the
 * bad items stand alone; only they fail. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include <embsync/plugin.h>

#define READY_RECHECK_S 60

typedef struct clip {
    const embsync_host *host;
    embsync_ctx *ctx;
    char *base;                /* no trailing slash */
    char *auth_header;         /* "Authorization: ..." or NULL */
    const char *model;
    uint32_t dim;
    long batch_size;
    unsigned parallel;
    long timeout_ms;
    double ready_timeout_s;
    int normalize;
    unsigned flags;            /* EMBSYNC_HTTP_* */
    time_t ready_at;           /* last successful readiness check, 0 = due */
} clip;

static const embsync_config_key keys[] = {
    {"url", EMBSYNC_KEY_STRING, NULL, 0,
     "service base URL (http://host:8000, or a Supervisely .../net/<token> base)"},
    {"task_id", EMBSYNC_KEY_INT, NULL, 0,
     "instead of url: the Supervisely task serving CLIP (needs supervisely_server)"},
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
    {"parallel_requests", EMBSYNC_KEY_INT, "2", 0, "requests in flight"},
    {"timeout", EMBSYNC_KEY_INT, "60", 0, "seconds per request"},
    {"ready_timeout", EMBSYNC_KEY_INT, "300", 0,
     "seconds to wait for the service to become ready"},
    {"normalize", EMBSYNC_KEY_BOOL, "true", 0, "L2-normalise vectors"},
    {"verify_tls", EMBSYNC_KEY_BOOL, "true", 0, "verify the server certificate"},
    {NULL, 0, NULL, 0, NULL},
};

/* ---- HTTP ------------------------------------------------------------------ */

static embsync_http_request request(clip *c, const char *method,
                                    const char *url, const char *body,
                                    const char *const *headers)
{
    return (embsync_http_request){
        .abi = EMBSYNC_ABI_INIT(embsync_http_request),
        .method = method,
        .url = url,
        .headers = headers,
        .body = body,
        .body_len = body ? strlen(body) : 0,
        .timeout_ms = c->timeout_ms,
        .flags = c->flags,
    };
}

static char *url_of(const clip *c, const char *path)
{
    size_t n = strlen(c->base) + strlen(path) + 2;
    char *url = malloc(n);
    if (url != NULL)
        c->host->url_join(c->base, path, url, n);
    return url;
}

/* Is the whole Flow reachable?  GET /dry_run answers 200 either way: the
 * JSON code says. */
static int dry_run(clip *c)
{
    char *url = url_of(c, "/dry_run");
    const char *headers[] = {"Accept: application/json", c->auth_header, NULL};
    embsync_http_request req = request(c, "GET", url, NULL, headers);
    embsync_http_response resp = {.abi = EMBSYNC_ABI_INIT(embsync_http_response)};
    int rc = c->host->http(c->ctx, &req, &resp);
    if (rc == EMBSYNC_OK) {
        cJSON *o = resp.status == 200 ? cJSON_Parse(resp.body) : NULL;
        const cJSON *code = cJSON_GetObjectItemCaseSensitive(o, "code");
        if (!cJSON_IsNumber(code) || code->valuedouble != 0) {
            const char *why = cJSON_GetStringValue(
                cJSON_GetObjectItemCaseSensitive(o, "description"));
            c->host->set_error(c->ctx, "CLIP service not ready (HTTP %ld): %s",
                               resp.status, why ? why : "no details");
            rc = EMBSYNC_RETRY;
        }
        cJSON_Delete(o);
    } else {
        c->host->set_error(c->ctx, "CLIP service unreachable: %s",
                           resp.error ? resp.error : "no answer");
    }
    c->host->http_release(c->ctx, &resp);
    free(url);
    return rc;
}

/* Wait for readiness with growing delays, up to ready_timeout; done at open,
 * again before use once READY_RECHECK_S has passed, and after any failure. */
static int ensure_ready(clip *c)
{
    if (c->ready_at != 0 && time(NULL) - c->ready_at < READY_RECHECK_S)
        return EMBSYNC_OK;
    time_t deadline = time(NULL) + (time_t)c->ready_timeout_s;
    for (unsigned attempt = 1;; attempt++) {
        int rc = dry_run(c);
        if (rc == EMBSYNC_OK) {
            c->ready_at = time(NULL);
            return EMBSYNC_OK;
        }
        if (rc != EMBSYNC_RETRY || time(NULL) >= deadline)
            return EMBSYNC_RETRY;
        if (attempt == 1)
            c->host->log(c->ctx, EMBSYNC_LOG_INFO,
                         "waiting for the CLIP service to become ready");
        if (c->host->retry_wait(c->ctx, attempt + 1, 0))
            return EMBSYNC_RETRY; /* stop requested */
    }
}

/* ---- encode ---------------------------------------------------------------- */

typedef struct doc {
    const unsigned char *data;  /* image bytes, or NULL for text */
    size_t len;
    const char *text;
} doc;

static char *encode_body(const doc *docs, size_t n)
{
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "execEndpoint", "/encode");
    cJSON_AddBoolToObject(cJSON_AddObjectToObject(body, "parameters"),
                          "drop_image_content", 1);
    cJSON *data = cJSON_AddArrayToObject(body, "data");
    for (size_t i = 0; i < n; i++) {
        cJSON *d = cJSON_CreateObject();
        char id[24];
        snprintf(id, sizeof id, "%zu", i);
        cJSON_AddStringToObject(d, "id", id);
        if (docs[i].text != NULL) {
            cJSON_AddStringToObject(d, "text", docs[i].text);
        } else {
            /* Standard padded base64, as the service expects. */
            char *b64 = malloc(4 * ((docs[i].len + 2) / 3) + 1);
            if (b64 == NULL) {
                cJSON_Delete(body);
                return NULL;
            }
            EVP_EncodeBlock((unsigned char *)b64, docs[i].data, (int)docs[i].len);
            cJSON_AddStringToObject(d, "blob", b64);
            free(b64);
        }
        cJSON_AddItemToArray(data, d);
    }
    char *text = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    return text;
}

/* Check and copy one answered embedding into out; normalise on request. */
static int take_vector(clip *c, const cJSON *embedding, float *out)
{
    if (!cJSON_IsArray(embedding) || (uint32_t)cJSON_GetArraySize(embedding) != c->dim)
        return -1;
    double norm = 0;
    uint32_t d = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, embedding)
    {
        /* Beyond FLT_MAX the conversion to float is undefined. */
        if (!cJSON_IsNumber(v) || !(fabs(v->valuedouble) <= FLT_MAX))
            return -1;
        out[d] = (float)v->valuedouble;
        if (!isfinite(out[d]))
            return -1;
        norm += (double)out[d] * out[d];
        d++;
    }
    if (c->normalize) {
        if (!(norm > 0))
            return -1;
        double inv = 1.0 / sqrt(norm);
        for (d = 0; d < c->dim; d++)
            out[d] = (float)(out[d] * inv);
    }
    return 0;
}

/* Outcome of one request. */
enum { ANSWER_OK, ANSWER_EXECUTOR_ERROR, ANSWER_PROTOCOL_ERROR };

/* Parse an answer of n documents into vectors; on an executor error copy
 * its description into why. */
static int parse_answer(clip *c, const embsync_http_response *resp, size_t n,
                        float *vectors, char *why, size_t whylen)
{
    cJSON *o = cJSON_Parse(resp->body);
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(o, "header"), "status");
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(status, "code");
    int rc = ANSWER_OK;
    if (o == NULL) {
        snprintf(why, whylen, "answer is not JSON");
        rc = ANSWER_PROTOCOL_ERROR;
    } else if (cJSON_IsNumber(code) && code->valuedouble != 0) {
        const char *desc = cJSON_GetStringValue(
            cJSON_GetObjectItemCaseSensitive(status, "description"));
        snprintf(why, whylen, "%s", desc ? desc : "executor error");
        rc = ANSWER_EXECUTOR_ERROR;
    } else {
        const cJSON *data = cJSON_GetObjectItemCaseSensitive(o, "data");
        char *seen = calloc(n ? n : 1, 1);
        const cJSON *d;
        size_t count = 0;
        cJSON_ArrayForEach(d, data)
        {
            /* Pair by id, never by position. */
            const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "id"));
            char *end;
            unsigned long i = id ? strtoul(id, &end, 10) : n;
            if (id == NULL || *end != '\0' || i >= n || seen == NULL || seen[i] ||
                take_vector(c, cJSON_GetObjectItemCaseSensitive(d, "embedding"),
                            vectors + i * c->dim) != 0) {
                snprintf(why, whylen,
                         "document %s: missing, duplicate, or an embedding that is "
                         "null, not %u long or not finite",
                         id ? id : "(no id)", c->dim);
                rc = ANSWER_PROTOCOL_ERROR;
                break;
            }
            seen[i] = 1;
            count++;
        }
        if (rc == ANSWER_OK && count != n) {
            snprintf(why, whylen, "answered %zu documents of %zu", count, n);
            rc = ANSWER_PROTOCOL_ERROR;
        }
        free(seen);
    }
    cJSON_Delete(o);
    return rc;
}

typedef struct job {
    size_t first, n;           /* a slice of the caller's documents */
    char *body;
    char *url;
    embsync_http_response resp;
    int status;
} job;

static int encode_slices(clip *c, const doc *docs, job *jobs, size_t n_jobs,
                         float *vectors, int *item_status);

/* Encode docs[first..first+n) by halves until each executor failure is one
 * document. */
static int bisect(clip *c, const doc *docs, size_t first, size_t n,
                  float *vectors, int *item_status, const char *why)
{
    if (n == 1) {
        item_status[first] = EMBSYNC_ITEM_FAILED;
        c->host->set_item_error(c->ctx, first, "CLIP service rejected it: %s", why);
        return EMBSYNC_OK;
    }
    job halves[2] = {{.first = first, .n = n / 2},
                     {.first = first + n / 2, .n = n - n / 2}};
    return encode_slices(c, docs, halves, 2, vectors, item_status);
}

static int encode_slices(clip *c, const doc *docs, job *jobs, size_t n_jobs,
                         float *vectors, int *item_status)
{
    embsync_http_request *reqs = calloc(n_jobs, sizeof *reqs);
    embsync_http_response *resps = calloc(n_jobs, sizeof *resps);
    int *status = calloc(n_jobs, sizeof *status);
    const char *headers[] = {"Content-Type: application/json",
                             "Accept: application/json", c->auth_header, NULL};
    int rc = EMBSYNC_OK;
    if (reqs == NULL || resps == NULL || status == NULL) {
        c->host->set_error(c->ctx, "out of memory");
        rc = EMBSYNC_FAILED;
        goto out;
    }
    char *url = url_of(c, "/post");
    for (size_t j = 0; j < n_jobs; j++) {
        jobs[j].body = encode_body(docs + jobs[j].first, jobs[j].n);
        reqs[j] = request(c, "POST", url, jobs[j].body, headers);
        resps[j] = (embsync_http_response){.abi = EMBSYNC_ABI_INIT(embsync_http_response)};
        if (jobs[j].body == NULL)
            rc = EMBSYNC_FAILED;
    }
    if (rc == EMBSYNC_OK)
        rc = c->host->http_many(c->ctx, n_jobs, reqs, resps, status, c->parallel);
    for (size_t j = 0; j < n_jobs && rc == EMBSYNC_OK; j++) {
        const embsync_http_response *r = &resps[j];
        char why[512] = "";
        if (status[j] != EMBSYNC_OK) {
            rc = c->host->http_outcome(c->ctx, status[j], r, "CLIP service",
                                       NULL, EMBSYNC_WHOLE_CALL);
            c->ready_at = 0; /* re-check readiness before the next call */
        } else if (r->status == 413) {
            rc = bisect(c, docs, jobs[j].first, jobs[j].n, vectors, item_status,
                        "request too large");
        } else if (r->status != 200) {
            rc = c->host->http_outcome(c->ctx, status[j], r, "CLIP service",
                                       NULL, EMBSYNC_WHOLE_CALL);
            if (rc == EMBSYNC_OK) /* a 2xx other than 200 breaks the protocol */
                rc = EMBSYNC_FAILED;
            c->host->set_error(c->ctx, "CLIP service answered %ld: %.300s",
                               r->status, r->body ? r->body : "");
        } else {
            switch (parse_answer(c, r, jobs[j].n, vectors + jobs[j].first * c->dim,
                                 why, sizeof why)) {
            case ANSWER_OK:
                for (size_t i = 0; i < jobs[j].n; i++)
                    item_status[jobs[j].first + i] = EMBSYNC_OK;
                break;
            case ANSWER_EXECUTOR_ERROR:
                rc = bisect(c, docs, jobs[j].first, jobs[j].n, vectors,
                            item_status, why);
                break;
            default:
                c->host->set_error(c->ctx, "CLIP service broke the protocol: %s", why);
                c->ready_at = 0;
                rc = EMBSYNC_RETRY;
            }
        }
    }
    for (size_t j = 0; j < n_jobs; j++) {
        free(jobs[j].body);
        jobs[j].body = NULL;
        c->host->http_release(c->ctx, &resps[j]);
    }
    free(url);
out:
    free(reqs);
    free(resps);
    free(status);
    return rc;
}

static int encode(clip *c, const doc *docs, size_t n, float *vectors,
                  int *item_status)
{
    int rc = ensure_ready(c);
    if (rc != EMBSYNC_OK)
        return rc;
    size_t n_jobs = (n + (size_t)c->batch_size - 1) / (size_t)c->batch_size;
    job *jobs = calloc(n_jobs ? n_jobs : 1, sizeof *jobs);
    if (jobs == NULL) {
        c->host->set_error(c->ctx, "out of memory");
        return EMBSYNC_FAILED;
    }
    for (size_t j = 0; j < n_jobs; j++) {
        jobs[j].first = j * (size_t)c->batch_size;
        jobs[j].n = n - jobs[j].first < (size_t)c->batch_size
                        ? n - jobs[j].first
                        : (size_t)c->batch_size;
    }
    rc = encode_slices(c, docs, jobs, n_jobs, vectors, item_status);
    free(jobs);
    return rc;
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
    embsync_http_request req = request(c, "POST", url, body, headers);
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
static int probe_dim(clip *c)
{
    char *url = url_of(c, "/post");
    const char *headers[] = {"Content-Type: application/json",
                             "Accept: application/json", c->auth_header, NULL};
    doc probe[2] = {{.text = "a photo"}, {.text = "a drawing"}};
    char *body = encode_body(probe, 2);
    embsync_http_request req = request(c, "POST", url, body, headers);
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
    free(url);
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
    free(c->base);
    free(c->auth_header);
    free(c);
}

static int clip_open(const embsync_host *host, embsync_ctx *ctx, void **state)
{
    if (!EMBSYNC_HOST_HAS(host, url_escape)) {
        host->set_error(ctx, "needs a host with http_outcome and the URL helpers (ABI 1.2)");
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
    const char *url = host->config_get(ctx, "url");
    long long task_id = host->config_int(ctx, "task_id", 0);
    if ((url == NULL) == (task_id == 0)) {
        host->set_error(ctx, "set exactly one of url and task_id");
        clip_close(c);
        return EMBSYNC_FATAL;
    }
    c->base = url != NULL ? strdup(url) : resolve_task(c, task_id);
    if (c->base == NULL) {
        clip_close(c);
        return EMBSYNC_FATAL;
    }
    /* An empty path: the base with its trailing slashes trimmed. */
    c->host->url_join(c->base, "", c->base, strlen(c->base) + 1);
    /* A ".../net/<token>" base carries the app's credential. */
    if (strstr(c->base, "/net/") != NULL)
        host->add_secret(ctx, strstr(c->base, "/net/") + 5);

    c->dim = (uint32_t)host->config_int(ctx, "dim", 0);
    int rc = ensure_ready(c);
    if (c->dim == 0) {
        /* Learn the dimension from a probe encode. */
        if (rc != EMBSYNC_OK) {
            clip_close(c);
            return rc;
        }
        rc = probe_dim(c);
        if (rc != EMBSYNC_OK) {
            clip_close(c);
            return rc;
        }
        host->log(ctx, EMBSYNC_LOG_INFO, "CLIP service at %s: %s, %u dimensions",
                  c->base, c->model, c->dim);
    } else if (rc != EMBSYNC_OK) {
        host->log(ctx, EMBSYNC_LOG_WARNING, "CLIP service not ready yet; will retry");
    }
    *state = c;
    return EMBSYNC_OK;
}

static int clip_check(void *state)
{
    clip *c = state;
    c->ready_at = 0;
    return dry_run(c) == EMBSYNC_OK ? (c->ready_at = time(NULL), EMBSYNC_OK)
                                    : EMBSYNC_RETRY;
}

static int clip_info(void *state, embsync_model_info *info)
{
    clip *c = state;
    info->dim = c->dim;
    info->metric = EMBSYNC_METRIC_COSINE;
    snprintf(info->identity, sizeof info->identity, "clip:%s:%u", c->model, c->dim);
    info->flags = EMBSYNC_MODEL_TEXT | EMBSYNC_MODEL_IMAGE |
                  (c->normalize ? EMBSYNC_MODEL_NORMALIZED : 0);
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
    int rc = encode(c, docs, n, vectors, item_status);
    free(docs);
    return rc;
}

static int clip_embed_text(void *state, const char *text, float *vector)
{
    clip *c = state;
    doc d = {.text = text};
    int item = EMBSYNC_RETRY;
    int rc = encode(c, &d, 1, vector, &item);
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
    .version = "1.0",
    .description = "CLIP-as-service over HTTP (images and texts)",
    .config_keys = keys,
    .config_key_size = sizeof keys[0],
    .ops = &ops,
};

EMBSYNC_PLUGIN_ENTRY(descriptor)
