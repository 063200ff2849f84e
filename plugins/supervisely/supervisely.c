/* supervisely: the production source.  Collections are the projects with AI
 * Search enabled; items are their images (shared/protocols/supervisely-api.md,
 * section 6, expressed through the ABI).
 *
 * Differences from the original service, on purpose:
 *  - image lists are streamed with keyset paging (id > last, sorted by id),
 *    so acknowledging images while listing cannot shift a page;
 *  - an image listed as "changed since the project stamp" that still exists
 *    was modified, not deleted: it is re-embedded in the same run instead of
 *    losing its vector for an interval. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <stb_ds.h>

#include <embsync/plugin.h>

#include "sly_api.h"

#define ACK_BATCH 50
#define STAMP_KEY "embeddings_update_started_at"
#define MAX_IDS 64

/* The integer id `key` of a JSON object, or -1 when the server sent
 * something else (absent, not a number, fractional, out of range):
 * converting such a double is undefined behaviour and would give a
 * made-up id. */
static int64_t json_id(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItem(o, key);
    if (!cJSON_IsNumber(v))
        return -1;
    double d = v->valuedouble;
    if (!(d >= 0 && d <= 9007199254740992.0) || d != (double)(int64_t)d)
        return -1;
    return (int64_t)d;
}

typedef struct sly_project {
    int64_t id;
    int64_t team;
    char *embedded_at;      /* project embeddingsUpdatedAt, or NULL */
    int in_progress;
} sly_project;

typedef struct supervisely {
    sly_api api;
    char *origin;           /* scheme://host[:port] of the storage URLs' server */
    char *imgproxy;
    long image_size;
    unsigned concurrency;
    long page_size;
    double stale_after_h;
    const char *generator;
    int64_t project_ids[MAX_IDS], team_ids[MAX_IDS];
    size_t n_project_ids, n_team_ids;
    sly_project *projects;  /* stb_ds array from the last listing */
    const char *state_dir;  /* our own in-flight marks, for crash recovery */
    pthread_mutex_t lock;   /* projects: changes/fetch/ack run concurrently */
    int64_t forced;         /* project whose next changes() lists everything */
} supervisely;

static const embsync_config_key keys[] = {
    {"server", EMBSYNC_KEY_STRING, NULL, EMBSYNC_KEY_REQUIRED,
     "Supervisely address, e.g. https://app.supervisely.com"},
    {"api_server", EMBSYNC_KEY_STRING, NULL, 0,
     "internal API address replacing <server>/public/api"},
    {"token", EMBSYNC_KEY_STRING, NULL, EMBSYNC_KEY_SECRET, "API token (x-api-key)"},
    {"access_token", EMBSYNC_KEY_STRING, NULL, EMBSYNC_KEY_SECRET,
     "instance access token for the instance.admin-info bootstrap"},
    {"imgproxy", EMBSYNC_KEY_STRING, NULL, 0, "imgproxy base URL for resized images"},
    {"image_size", EMBSYNC_KEY_INT, "224", 0, "images are fitted into this square"},
    {"download_concurrency", EMBSYNC_KEY_INT, "8", 0, "parallel image downloads"},
    {"page_size", EMBSYNC_KEY_INT, "1000", 0, "list page size"},
    {"generator_url", EMBSYNC_KEY_STRING, NULL, 0,
     "Embeddings Generator service, asked before clearing a stale in-progress flag"},
    {"stale_after", EMBSYNC_KEY_DOUBLE, "12", 0,
     "hours after which an in-progress flag with an old stamp is cleared"},
    {"team_ids", EMBSYNC_KEY_STRING, NULL, 0, "only these teams (comma-separated)"},
    {"project_ids", EMBSYNC_KEY_STRING, NULL, 0, "only these projects (comma-separated)"},
    {"verify_tls", EMBSYNC_KEY_BOOL, "true", 0, "verify the server certificate"},
    {NULL, 0, NULL, 0, NULL},
};

#define HOST(s) ((s)->api.host)
#define CTX(s) ((s)->api.ctx)

/* ---- small helpers ------------------------------------------------------- */

static size_t parse_ids(const char *text, int64_t *out, size_t max)
{
    size_t n = 0;
    while (text != NULL && *text != '\0' && n < max) {
        char *end;
        long long v = strtoll(text, &end, 10);
        if (end == text)
            break;
        out[n++] = v;
        text = end + strspn(end, ", ");
    }
    return n;
}

static int listed(const int64_t *ids, size_t n, int64_t id)
{
    if (n == 0)
        return 1;
    for (size_t i = 0; i < n; i++)
        if (ids[i] == id)
            return 1;
    return 0;
}

static cJSON *filter_cond(const char *field, const char *op, cJSON *value)
{
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "field", field);
    cJSON_AddStringToObject(c, "operator", op);
    cJSON_AddItemToObject(c, "value", value);
    return c;
}

static sly_project *find_project(supervisely *s, int64_t id)
{
    for (ptrdiff_t i = 0; i < arrlen(s->projects); i++)
        if (s->projects[i].id == id)
            return &s->projects[i];
    return NULL;
}

static void forget_projects(supervisely *s)
{
    for (ptrdiff_t i = 0; i < arrlen(s->projects); i++)
        free(s->projects[i].embedded_at);
    arrfree(s->projects);
    s->projects = NULL;
}

/* ---- custom-data stamp (SET-STAMP / CLEAR-STAMP of section 6.2) ---------- */

static int set_stamp(supervisely *s, int64_t id, int clear)
{
    cJSON *body = cJSON_CreateObject(), *info;
    cJSON_AddNumberToObject(body, "id", (double)id);
    int rc = sly_call(&s->api, "projects.info", body, &info, NULL);
    cJSON_Delete(body);
    if (rc != EMBSYNC_OK)
        return rc;
    cJSON *custom = cJSON_DetachItemFromObjectCaseSensitive(info, "customData");
    cJSON_Delete(info);
    if (!cJSON_IsObject(custom)) {
        /* The original threw here and left the project in progress. */
        cJSON_Delete(custom);
        custom = cJSON_CreateObject();
    }
    int present = cJSON_HasObjectItem(custom, STAMP_KEY);
    if (clear && !present) {
        cJSON_Delete(custom);
        return EMBSYNC_OK;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(custom, STAMP_KEY);
    if (!clear) {
        char now[40];
        sly_now(now, sizeof now);
        cJSON_AddStringToObject(custom, STAMP_KEY, now);
    }
    body = cJSON_CreateObject();
    cJSON_AddNumberToObject(body, "id", (double)id);
    cJSON_AddItemToObject(body, "customData", custom);
    cJSON_AddBoolToObject(body, "silent", 1);
    cJSON *answer;
    rc = sly_call(&s->api, "projects.editInfo", body, &answer, NULL);
    cJSON_Delete(body);
    cJSON_Delete(answer);
    return rc;
}

static int set_in_progress(supervisely *s, int64_t id, int on)
{
    cJSON *body = cJSON_CreateObject(), *answer;
    cJSON_AddNumberToObject(body, "id", (double)id);
    cJSON_AddBoolToObject(body, "embeddingsInProgress", on);
    int rc = sly_call(&s->api, "projects.embeddings-in-progress.update", body,
                      &answer, NULL);
    cJSON_Delete(body);
    cJSON_Delete(answer);
    return rc;
}

static int edit_project(supervisely *s, int64_t id, const char *field,
                        cJSON *value)
{
    cJSON *body = cJSON_CreateObject(), *answer;
    cJSON_AddNumberToObject(body, "id", (double)id);
    cJSON_AddItemToObject(body, field, value);
    cJSON_AddBoolToObject(body, "silent", 1);
    int rc = sly_call(&s->api, "projects.editInfo", body, &answer, NULL);
    cJSON_Delete(body);
    cJSON_Delete(answer);
    return rc;
}

/* ---- our in-flight marks ------------------------------------------------- */

/* A run of ours that a crash cut short leaves its project "in progress"
 * with our mark beside it: that one we may take back at once. */
static void inflight_path(const supervisely *s, int64_t id, char *out, size_t len)
{
    snprintf(out, len, "%s/inflight-%" PRId64, s->state_dir ? s->state_dir : ".", id);
}

static void mark_inflight(const supervisely *s, int64_t id, int on)
{
    char path[4096];
    inflight_path(s, id, path, sizeof path);
    if (!on) {
        remove(path);
        return;
    }
    FILE *fp = fopen(path, "w");
    if (fp != NULL)
        fclose(fp);
}

static int was_ours(const supervisely *s, int64_t id)
{
    char path[4096];
    inflight_path(s, id, path, sizeof path);
    FILE *fp = fopen(path, "r");
    if (fp != NULL)
        fclose(fp);
    return fp != NULL;
}

/* ---- open / close / check ------------------------------------------------- */

static void sly_close(void *state)
{
    supervisely *s = state;
    if (s == NULL)
        return;
    forget_projects(s);
    free(s->api.base);
    free(s->api.key_header);
    free(s->origin);
    free(s->imgproxy);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static char *strip_slash(const char *in)
{
    char *out = strdup(in);
    size_t n = out ? strlen(out) : 0;
    while (n > 0 && out[n - 1] == '/')
        out[--n] = '\0';
    return out;
}

static int sly_open(const embsync_host *host, embsync_ctx *ctx, void **state)
{
    supervisely *s = calloc(1, sizeof *s);
    if (s == NULL)
        return EMBSYNC_FATAL;
    pthread_mutex_init(&s->lock, NULL);
    s->api.host = host;
    s->api.ctx = ctx;
    if (!host->config_bool(ctx, "verify_tls", 1))
        s->api.flags |= EMBSYNC_HTTP_INSECURE;
    s->origin = strip_slash(host->config_get(ctx, "server"));
    const char *api_server = host->config_get(ctx, "api_server");
    if (api_server != NULL) {
        s->api.base = strip_slash(api_server);
    } else {
        size_t n = strlen(s->origin) + 16;
        s->api.base = malloc(n);
        snprintf(s->api.base, n, "%s/public/api", s->origin);
    }
    const char *imgproxy = host->config_get(ctx, "imgproxy");
    s->imgproxy = imgproxy ? strip_slash(imgproxy) : NULL;
    s->image_size = host->config_int(ctx, "image_size", 224);
    s->concurrency = (unsigned)host->config_int(ctx, "download_concurrency", 8);
    s->page_size = host->config_int(ctx, "page_size", 1000);
    s->stale_after_h = host->config_double(ctx, "stale_after", 12);
    s->generator = host->config_get(ctx, "generator_url");
    s->state_dir = host->state_dir(ctx);
    s->n_project_ids = parse_ids(host->config_get(ctx, "project_ids"), s->project_ids, MAX_IDS);
    s->n_team_ids = parse_ids(host->config_get(ctx, "team_ids"), s->team_ids, MAX_IDS);
    if (s->image_size < 16 || s->concurrency < 1 || s->page_size < 1 ||
        s->page_size > 20000) {
        host->set_error(ctx, "image_size ≥ 16, download_concurrency ≥ 1, "
                             "page_size 1–20000");
        sly_close(s);
        return EMBSYNC_FATAL;
    }
    const char *token = host->config_get(ctx, "token");
    const char *access = host->config_get(ctx, "access_token");
    char *fetched = NULL;
    if (token == NULL && access != NULL && api_server != NULL) {
        /* Bootstrap: an internal address and an access token only. */
        cJSON *body = cJSON_CreateObject(), *answer;
        cJSON_AddStringToObject(body, "accessToken", access);
        int rc = sly_call(&s->api, "instance.admin-info", body, &answer, NULL);
        cJSON_Delete(body);
        const char *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(answer, "apiToken"));
        if (rc == EMBSYNC_OK && t != NULL) {
            fetched = strdup(t);
            host->add_secret(ctx, fetched);
        }
        cJSON_Delete(answer);
        token = fetched;
    }
    if (token == NULL) {
        host->set_error(ctx, "no API token: set token (or token_file), or "
                             "api_server with access_token");
        sly_close(s);
        return EMBSYNC_FATAL;
    }
    size_t n = strlen(token) + 16;
    s->api.key_header = malloc(n);
    snprintf(s->api.key_header, n, "x-api-key: %s", token);
    free(fetched);
    *state = s;
    return EMBSYNC_OK;
}

static int sly_check(void *state)
{
    supervisely *s = state;
    cJSON *body = cJSON_CreateObject(), *answer;
    int rc = sly_call(&s->api, "instance.version", body, &answer, NULL);
    cJSON_Delete(body);
    cJSON_Delete(answer);
    return rc;
}

/* ---- collections: projects with AI Search on ------------------------------ */

/* Is the team on the free plan?  (Cached per listing.) */
static int team_is_free(supervisely *s, int64_t team, int *free_plan)
{
    cJSON *body = cJSON_CreateObject(), *info;
    cJSON_AddNumberToObject(body, "id", (double)team);
    int rc = sly_call(&s->api, "teams.info", body, &info, NULL);
    cJSON_Delete(body);
    const char *plan = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(info, "usage"), "plan"));
    *free_plan = plan != NULL && strcmp(plan, "free") == 0;
    cJSON_Delete(info);
    return rc;
}

/* Section 6.7: an in-progress flag whose stamp is older than stale_after
 * hours, and that no generator task holds, is cleared. */
static void clear_if_stale(supervisely *s, int64_t id)
{
    cJSON *body = cJSON_CreateObject(), *info;
    cJSON_AddNumberToObject(body, "id", (double)id);
    int rc = sly_call(&s->api, "projects.info", body, &info, NULL);
    cJSON_Delete(body);
    const char *stamp = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(info, "customData"), STAMP_KEY));
    int64_t at = sly_parse_time(stamp);
    double hours = at < 0 ? -1 : ((double)time(NULL) * 1e6 - (double)at) / 3.6e9;
    cJSON_Delete(info);
    if (rc != EMBSYNC_OK || at < 0 || hours < s->stale_after_h)
        return;
    if (s->generator != NULL) {
        char url[2048], req_body[128];
        snprintf(url, sizeof url, "%s/task_status", s->generator);
        snprintf(req_body, sizeof req_body, "{\"state\":{\"project_id\":%" PRId64 "}}", id);
        const char *headers[] = {"Content-Type: application/json", NULL};
        embsync_http_request req = {.abi = EMBSYNC_ABI_INIT(embsync_http_request),
                                    .method = "POST", .url = url, .headers = headers,
                                    .body = req_body, .body_len = strlen(req_body),
                                    .flags = s->api.flags, .max_attempts = 2};
        embsync_http_response resp = {.abi = EMBSYNC_ABI_INIT(embsync_http_response)};
        int hrc = HOST(s)->http(CTX(s), &req, &resp);
        cJSON *st = hrc == EMBSYNC_OK && resp.status / 100 == 2 ? cJSON_Parse(resp.body) : NULL;
        int running = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(st, "is_running"));
        cJSON_Delete(st);
        HOST(s)->http_release(CTX(s), &resp);
        if (running)
            return;
    }
    HOST(s)->log(CTX(s), EMBSYNC_LOG_WARNING,
                 "project %" PRId64 ": in progress for %.1f h with no task; clearing",
                 id, hours);
    set_stamp(s, id, 1);
    set_in_progress(s, id, 0);
}

static int sly_list(void *state, embsync_collection_cb cb, void *arg)
{
    supervisely *s = state;
    pthread_mutex_lock(&s->lock);
    forget_projects(s);
    pthread_mutex_unlock(&s->lock);
    int64_t free_teams[MAX_IDS], paid_teams[MAX_IDS];
    size_t n_free = 0, n_paid = 0;
    for (int page = 1, pages = 1; page <= pages; page++) {
        cJSON *body = cJSON_CreateObject(), *answer;
        cJSON_AddBoolToObject(body, "skipExported", 1);
        cJSON *extra = cJSON_AddArrayToObject(body, "extraFields");
        cJSON_AddItemToArray(extra, cJSON_CreateString("embeddingsEnabled"));
        cJSON_AddItemToArray(extra, cJSON_CreateString("embeddingsInProgress"));
        cJSON_AddItemToArray(extra, cJSON_CreateString("embeddingsUpdatedAt"));
        cJSON *flt = cJSON_AddArrayToObject(body, "filter");
        cJSON_AddItemToArray(flt, filter_cond("embeddingsEnabled", "=", cJSON_CreateTrue()));
        cJSON_AddStringToObject(body, "sort", "id");
        cJSON_AddStringToObject(body, "sort_order", "asc");
        cJSON_AddNumberToObject(body, "page", page);
        cJSON_AddNumberToObject(body, "per_page", (double)s->page_size);
        int rc = sly_call(&s->api, "projects.list.all", body, &answer, NULL);
        cJSON_Delete(body);
        if (rc != EMBSYNC_OK)
            return rc;
        const cJSON *count = cJSON_GetObjectItemCaseSensitive(answer, "pagesCount");
        pages = cJSON_IsNumber(count) && count->valuedouble >= 1 &&
                        count->valuedouble < 1e6
                    ? (int)count->valuedouble : 1;
        const cJSON *e;
        cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(answer, "entities"))
        {
            sly_project p = {
                .id = json_id(e, "id"),
                .team = json_id(e, "teamId"),
                .in_progress = cJSON_IsTrue(cJSON_GetObjectItem(e, "embeddingsInProgress")),
            };
            if (p.id < 0 || p.team < 0) {
                HOST(s)->log(CTX(s), EMBSYNC_LOG_WARNING,
                             "a project without a valid id or teamId; skipped");
                continue;
            }
            if (!listed(s->project_ids, s->n_project_ids, p.id) ||
                !listed(s->team_ids, s->n_team_ids, p.team))
                continue;
            int is_free = listed(free_teams, n_free, p.team) && n_free > 0;
            if (!is_free && !(n_paid > 0 && listed(paid_teams, n_paid, p.team))) {
                rc = team_is_free(s, p.team, &is_free);
                if (rc != EMBSYNC_OK) {
                    HOST(s)->log(CTX(s), EMBSYNC_LOG_WARNING,
                                 "project %" PRId64 ": team %" PRId64 " unknown; skipped",
                                 p.id, p.team);
                    continue;
                }
                if (is_free && n_free < MAX_IDS)
                    free_teams[n_free++] = p.team;
                else if (!is_free && n_paid < MAX_IDS)
                    paid_teams[n_paid++] = p.team;
            }
            if (is_free) {
                /* As the original: AI Search is not for free teams. */
                HOST(s)->log(CTX(s), EMBSYNC_LOG_INFO,
                             "project %" PRId64 ": team on the free plan; "
                             "disabling AI Search", p.id);
                edit_project(s, p.id, "embeddingsEnabled", cJSON_CreateFalse());
                continue;
            }
            if (p.in_progress && was_ours(s, p.id)) {
                HOST(s)->log(CTX(s), EMBSYNC_LOG_INFO,
                             "project %" PRId64 ": resuming our run cut short", p.id);
                set_stamp(s, p.id, 1);
                set_in_progress(s, p.id, 0);
                p.in_progress = 0;
            }
            if (p.in_progress) {
                clear_if_stale(s, p.id);
                continue; /* skipped this pass either way */
            }
            const char *at = cJSON_GetStringValue(cJSON_GetObjectItem(e, "embeddingsUpdatedAt"));
            p.embedded_at = at ? strdup(at) : NULL;
            pthread_mutex_lock(&s->lock);
            arrput(s->projects, p);
            pthread_mutex_unlock(&s->lock);
            char name[32];
            snprintf(name, sizeof name, "%" PRId64, p.id);
            if (cb(arg, name) != 0) {
                cJSON_Delete(answer);
                return EMBSYNC_OK;
            }
        }
        cJSON_Delete(answer);
    }
    return EMBSYNC_OK;
}

/* ---- a project's run ------------------------------------------------------ */

static int64_t project_id(const char *name)
{
    return strtoll(name, NULL, 10);
}

static int sly_begin(void *state, const char *name)
{
    supervisely *s = state;
    int64_t id = project_id(name);
    pthread_mutex_lock(&s->lock);
    sly_project *p = find_project(s, id);
    int busy = p == NULL || p->in_progress;
    pthread_mutex_unlock(&s->lock);
    if (busy)
        return EMBSYNC_SKIP;
    mark_inflight(s, id, 1);
    int rc = set_in_progress(s, id, 1);
    if (rc == EMBSYNC_OK && (rc = set_stamp(s, id, 0)) != EMBSYNC_OK)
        set_in_progress(s, id, 0); /* do not leave it in progress */
    if (rc != EMBSYNC_OK)
        mark_inflight(s, id, 0);
    return rc;
}

static int sly_end(void *state, const char *name, int run_status)
{
    supervisely *s = state;
    int64_t id = project_id(name);
    int rc = EMBSYNC_OK;
    if (run_status == EMBSYNC_OK) {
        char now[40];
        sly_now(now, sizeof now);
        rc = edit_project(s, id, "embeddingsUpdatedAt", cJSON_CreateString(now));
    }
    /* In every path: not in progress, no stamp. */
    int rc2 = set_in_progress(s, id, 0);
    int rc3 = set_stamp(s, id, 1);
    pthread_mutex_lock(&s->lock);
    if (s->forced == id)
        s->forced = 0;
    pthread_mutex_unlock(&s->lock);
    if (rc2 == EMBSYNC_OK)
        mark_inflight(s, id, 0);
    return rc != EMBSYNC_OK ? rc : rc2 != EMBSYNC_OK ? rc2 : rc3;
}

static int sly_reset(void *state, const char *name)
{
    supervisely *s = state;
    pthread_mutex_lock(&s->lock);
    s->forced = project_id(name);
    pthread_mutex_unlock(&s->lock);
    return EMBSYNC_OK;
}

/* ---- changes ----------------------------------------------------------------- */

/* The resized-image URL (section 3). */
static char *resize_url(supervisely *s, const char *full)
{
    char options[96];
    snprintf(options, sizeof options, "q/ext:jpeg/resize:fit:%ld:%ld:0/q:70/plain",
             s->image_size, s->image_size);
    size_t olen = strlen(s->origin);
    if (full == NULL)
        return NULL;
    const char *rest = strncmp(full, s->origin, olen) == 0 ? full + olen : NULL;
    if (rest == NULL) {
        /* Another origin: use the storage URL's own. */
        const char *scheme = strstr(full, "://");
        rest = scheme ? strchr(scheme + 3, '/') : NULL;
        if (rest == NULL)
            return strdup(full);
    }
    size_t n = strlen(full) + strlen(options) + (s->imgproxy ? strlen(s->imgproxy) : olen) + 16;
    char *url = malloc(n);
    if (url == NULL)
        return NULL;
    if (s->imgproxy != NULL)
        snprintf(url, n, "%s/%s%s", s->imgproxy, options, rest);
    else
        snprintf(url, n, "%.*s/previews/%s%s", (int)(rest - full), full, options, rest);
    return url;
}

/* Which images a listing wants. */
typedef enum list_mode {
    NEVER_EMBEDDED,   /* embeddingsUpdatedAt is null */
    CHANGED_SINCE,    /* updated after the project stamp, incl. disabled */
    EVERYTHING        /* after a rebuild of the store */
} list_mode;

/* One page of images after `after`, by id. */
static int list_page(supervisely *s, int64_t project, int64_t after,
                     list_mode mode, const char *since, cJSON **answer)
{
    cJSON *body = cJSON_CreateObject();
    cJSON_AddNumberToObject(body, "projectId", (double)project);
    cJSON_AddBoolToObject(body, "forceMetadataForLinks", 0);
    cJSON_AddNumberToObject(body, "per_page", (double)s->page_size);
    cJSON_AddNumberToObject(body, "page", 1);
    cJSON_AddStringToObject(body, "sort", "id");
    cJSON_AddStringToObject(body, "sort_order", "asc");
    cJSON *flt = cJSON_AddArrayToObject(body, "filter");
    cJSON_AddItemToArray(flt, filter_cond("id", ">", cJSON_CreateNumber((double)after)));
    if (mode == NEVER_EMBEDDED) {
        cJSON_AddItemToArray(flt, filter_cond("embeddingsUpdatedAt", "eq", cJSON_CreateNull()));
    } else if (mode == CHANGED_SINCE) {
        cJSON_AddItemToArray(flt, filter_cond("updatedAt", "gt", cJSON_CreateString(since)));
        cJSON_AddItemToArray(flt, filter_cond("embeddingsUpdatedAt", "not", cJSON_CreateNull()));
        cJSON_AddBoolToObject(body, "showDisabled", 1);
    }
    int rc = sly_call(&s->api, "images.list", body, answer, NULL);
    cJSON_Delete(body);
    return rc;
}

/* Which of these ids still exist (listed without showDisabled)? */
static int still_there(supervisely *s, int64_t project, const cJSON *entities,
                       cJSON **answer)
{
    cJSON *body = cJSON_CreateObject();
    cJSON_AddNumberToObject(body, "projectId", (double)project);
    cJSON_AddNumberToObject(body, "per_page", (double)s->page_size);
    cJSON_AddNumberToObject(body, "page", 1);
    cJSON *ids = cJSON_CreateArray();
    const cJSON *e;
    cJSON_ArrayForEach(e, entities)
        cJSON_AddItemToArray(ids, cJSON_CreateNumber(cJSON_GetNumberValue(cJSON_GetObjectItem(e, "id"))));
    cJSON_AddItemToArray(cJSON_AddArrayToObject(body, "filter"), filter_cond("id", "in", ids));
    int rc = sly_call(&s->api, "images.list", body, answer, NULL);
    cJSON_Delete(body);
    return rc;
}

static int contains_id(const cJSON *entities, double id)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, entities)
        if (cJSON_GetNumberValue(cJSON_GetObjectItem(e, "id")) == id)
            return 1;
    return 0;
}

/* Emit one page: upserts (with URL, version, payload) and deletes. */
static int emit_page(supervisely *s, embsync_change_sink *sink,
                     const cJSON *entities, const cJSON *existing, int deletes)
{
    int n = cJSON_GetArraySize(entities), rc = EMBSYNC_OK;
    embsync_change *changes = calloc((size_t)(n ? n : 1), sizeof *changes);
    char **strings = calloc((size_t)(n ? n : 1) * 2, sizeof *strings);
    if (changes == NULL || strings == NULL) {
        free(changes);
        free(strings);
        return EMBSYNC_FAILED;
    }
    int k = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, entities)
    {
        int64_t image_id = json_id(e, "id");
        if (image_id < 0) {
            HOST(s)->log(CTX(s), EMBSYNC_LOG_WARNING,
                         "an image without a valid id; skipped");
            continue;
        }
        double id = (double)image_id;
        int op = deletes && !contains_id(existing, id) ? EMBSYNC_OP_DELETE
                                                       : EMBSYNC_OP_UPSERT;
        const char *full = cJSON_GetStringValue(cJSON_GetObjectItem(e, "fullStorageUrl"));
        const char *updated = cJSON_GetStringValue(cJSON_GetObjectItem(e, "updatedAt"));
        char *url = op == EMBSYNC_OP_UPSERT ? resize_url(s, full) : NULL;
        char *payload = NULL;
        if (op == EMBSYNC_OP_UPSERT) {
            cJSON *p = cJSON_CreateObject();
            cJSON_AddNumberToObject(p, "dataset_id",
                                    cJSON_GetNumberValue(cJSON_GetObjectItem(e, "datasetId")));
            cJSON_AddStringToObject(p, "full_url", full ? full : "");
            cJSON_AddStringToObject(p, "cas_url", url ? url : "");
            cJSON_AddStringToObject(p, "updated_at", updated ? updated : "");
            payload = cJSON_PrintUnformatted(p);
            cJSON_Delete(p);
        }
        strings[2 * k] = url;
        strings[2 * k + 1] = payload;
        changes[k] = (embsync_change){
            .abi = EMBSYNC_ABI_INIT(embsync_change),
            .id = (uint64_t)id,
            .op = op,
            .ref = url,
            .version = updated,
            .payload = payload,
        };
        if (op == EMBSYNC_OP_UPSERT && url == NULL) {
            HOST(s)->log(CTX(s), EMBSYNC_LOG_WARNING,
                         "image %.0f has no storage URL; skipped", id);
            /* The slot is reused by the next image: free its payload now. */
            cJSON_free(payload);
            strings[2 * k + 1] = NULL;
            continue;
        }
        k++;
    }
    if (k > 0)
        rc = sink->emit(sink, changes, (size_t)k);
    for (int i = 0; i < 2 * n; i++)
        cJSON_free(strings[i]);
    free(strings);
    free(changes);
    return rc;
}

/* Stream one image list page by page (keyset paging by id). */
static int stream(supervisely *s, embsync_change_sink *sink, int64_t project,
                  list_mode mode, const char *since)
{
    int64_t after = 0;
    for (;;) {
        cJSON *answer = NULL, *existing = NULL;
        int rc = list_page(s, project, after, mode, since, &answer);
        const cJSON *entities = cJSON_GetObjectItemCaseSensitive(answer, "entities");
        int n = cJSON_GetArraySize(entities);
        if (rc == EMBSYNC_OK && n > 0 && mode == CHANGED_SINCE)
            rc = still_there(s, project, entities, &existing);
        if (rc == EMBSYNC_OK && n > 0)
            rc = emit_page(s, sink, entities,
                           cJSON_GetObjectItemCaseSensitive(existing, "entities"),
                           mode == CHANGED_SINCE);
        int64_t last = n > 0 ? json_id(cJSON_GetArrayItem(entities, n - 1), "id") : -1;
        if (n > 0 && last <= after && rc == EMBSYNC_OK) {
            /* Keyset paging must move forward, or it never ends. */
            HOST(s)->set_error(CTX(s), "images.list: page does not end after id %" PRId64,
                               after);
            rc = EMBSYNC_RETRY;
        }
        after = last;
        cJSON_Delete(answer);
        cJSON_Delete(existing);
        if (rc != EMBSYNC_OK || n < s->page_size)
            return rc;
    }
}

static int sly_changes(void *state, const char *name, embsync_change_sink *sink)
{
    supervisely *s = state;
    int64_t id = project_id(name);
    pthread_mutex_lock(&s->lock);
    sly_project *p = find_project(s, id);
    char *since = p && p->embedded_at ? strdup(p->embedded_at) : NULL;
    int forced = s->forced == id;
    pthread_mutex_unlock(&s->lock);
    int rc;
    if (forced) {
        /* The store was rebuilt: every image again, nothing to delete. */
        rc = stream(s, sink, id, EVERYTHING, NULL);
    } else {
        rc = stream(s, sink, id, NEVER_EMBEDDED, NULL);
        if (rc == EMBSYNC_OK && since != NULL)
            rc = stream(s, sink, id, CHANGED_SINCE, since);
    }
    free(since);
    return rc;
}

/* ---- fetch and ack ----------------------------------------------------------- */

static int sly_fetch(void *state, const char *name, size_t n,
                     const embsync_change *items, embsync_blob *out, int *status)
{
    (void)name;
    supervisely *s = state;
    embsync_http_request *reqs = calloc(n ? n : 1, sizeof *reqs);
    embsync_http_response *resps = calloc(n ? n : 1, sizeof *resps);
    int *http_status = calloc(n ? n : 1, sizeof *http_status);
    if (reqs == NULL || resps == NULL || http_status == NULL) {
        free(reqs);
        free(resps);
        free(http_status);
        return EMBSYNC_FAILED;
    }
    for (size_t i = 0; i < n; i++) {
        /* The preview route takes no credentials: none are sent. */
        reqs[i] = (embsync_http_request){.abi = EMBSYNC_ABI_INIT(embsync_http_request),
                                         .method = "GET", .url = items[i].ref,
                                         .flags = s->api.flags, .timeout_ms = 60000};
        resps[i] = (embsync_http_response){.abi = EMBSYNC_ABI_INIT(embsync_http_response)};
    }
    int rc = HOST(s)->http_many(CTX(s), n, reqs, resps, http_status, s->concurrency);
    for (size_t i = 0; i < n && rc == EMBSYNC_OK; i++) {
        if (http_status[i] == EMBSYNC_OK && resps[i].status < 400 && resps[i].body_len > 0) {
            HOST(s)->blob_set(&out[i], resps[i].body, resps[i].body_len);
            out[i].mime = "image/jpeg";
            status[i] = EMBSYNC_OK;
        } else if (http_status[i] == EMBSYNC_OK) {
            /* 404 and the like: gone or broken at the source. */
            status[i] = EMBSYNC_ITEM_FAILED;
            HOST(s)->set_item_error(CTX(s), i, "download answered HTTP %ld", resps[i].status);
        } else {
            status[i] = EMBSYNC_RETRY;
            HOST(s)->set_item_error(CTX(s), i, "download failed: %s",
                                    resps[i].error ? resps[i].error : "server kept failing");
        }
    }
    for (size_t i = 0; i < n; i++)
        HOST(s)->http_release(CTX(s), &resps[i]);
    free(reqs);
    free(resps);
    free(http_status);
    return rc;
}

static int sly_ack(void *state, const char *name, size_t n,
                   const embsync_change *done)
{
    (void)name;
    supervisely *s = state;
    char now[40];
    sly_now(now, sizeof now);
    for (size_t at = 0; at < n; at += ACK_BATCH) {
        cJSON *body = cJSON_CreateObject(), *answer;
        cJSON *images = cJSON_AddArrayToObject(body, "images");
        for (size_t i = at; i < n && i < at + ACK_BATCH; i++) {
            cJSON *img = cJSON_CreateObject();
            cJSON_AddNumberToObject(img, "id", (double)done[i].id);
            if (done[i].op == EMBSYNC_OP_UPSERT)
                cJSON_AddStringToObject(img, "embeddingsUpdatedAt", now);
            else
                cJSON_AddNullToObject(img, "embeddingsUpdatedAt");
            cJSON_AddItemToArray(images, img);
        }
        int rc = sly_call(&s->api, "images.embeddings-updated-at.update", body,
                          &answer, NULL);
        cJSON_Delete(body);
        cJSON_Delete(answer);
        if (rc != EMBSYNC_OK)
            return rc;
    }
    return EMBSYNC_OK;
}

static const embsync_source_ops ops = {
    .abi = EMBSYNC_ABI_INIT(embsync_source_ops),
    .open = sly_open,
    .close = sly_close,
    .check = sly_check,
    .list_collections = sly_list,
    .begin = sly_begin,
    .changes = sly_changes,
    .fetch = sly_fetch,
    .ack = sly_ack,
    .reset = sly_reset,
    .end = sly_end,
};

static const embsync_plugin descriptor = {
    .abi = EMBSYNC_ABI_INIT(embsync_plugin),
    .kind = EMBSYNC_KIND_SOURCE,
    .name = "supervisely",
    .version = "1.0",
    .description = "Supervisely projects with AI Search enabled; images as items",
    .config_keys = keys,
    .config_key_size = sizeof keys[0],
    .ops = &ops,
};

EMBSYNC_PLUGIN_ENTRY(descriptor)
