/* supervisely: the production source.  Collections are the projects with AI
 * Search enabled; items are their images (the API calls it makes are the
 * ones tests/emulators/supervisely/README.md emulates).
 *
 * Differences from the original service, on purpose:
 *  - every list is streamed with keyset paging (id > last, sorted by id),
 *    so acknowledging images while listing cannot shift a page and a
 *    server-side page cap cannot end a listing early (sly_list_each);
 *  - modified images are found whichever way the server reads the two
 *    two points images.list leaves open (see sly_changes), and re-embedded in
 *    the same run instead of losing their vector for an interval;
 *  - the project stamp is the server's clock as of before the listing, not
 *    the client's after it, so a change made during a run is seen by the
 *    next one (see sly_run_stamp in sly_images.c);
 *  - images.list asks for the fields each listing reads (`fields`), not
 *    the two dozen of every image, and works alike whether the server
 *    honours that or not (sly_images.c). */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <stb_ds.h>

#include <embsync/plugin.h>

#include "sly_marks.h"
#include "supervisely.h"

#define ACK_BATCH 50
#define STAMP_KEY "embeddings_update_started_at"

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
    {"download_concurrency", EMBSYNC_KEY_INT, "32", 0,
     "most image downloads in flight (the AIMD ceiling)"},
    {"download_adaptive", EMBSYNC_KEY_BOOL, "true", 0,
     "adapt downloads in flight to the server (AIMD); false: always download_concurrency"},
    {"page_size", EMBSYNC_KEY_INT, "1000", 0, "list page size"},
    {"generator_url", EMBSYNC_KEY_STRING, NULL, 0,
     "Embeddings Generator app: asked before touching an in-progress project, "
     "told when a stale one is cleared, and part of check()"},
    {"stale_after", EMBSYNC_KEY_DOUBLE, "12", 0,
     "hours after which an in-progress flag with an old stamp is cleared"},
    {"autorestart_file", EMBSYNC_KEY_STRING, NULL, 0,
     "the original service's record (./state/current_project.json): the "
     "project it names is synced first, once, then the record is reset to {}"},
    {"team_ids", EMBSYNC_KEY_STRING, NULL, 0, "only these teams (comma-separated)"},
    {"project_ids", EMBSYNC_KEY_STRING, NULL, 0, "only these projects (comma-separated)"},
    {"verify_tls", EMBSYNC_KEY_BOOL, "true", 0, "verify the server certificate"},
    {NULL, 0, NULL, 0, NULL},
};

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

static char *dup_opt(const char *text)
{
    return text ? strdup(text) : NULL;
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
    for (ptrdiff_t i = 0; i < arrlen(s->projects); i++) {
        free(s->projects[i].embedded_at);
        free(s->projects[i].created_at);
    }
    arrfree(s->projects);
    s->projects = NULL;
}

/* ---- custom-data stamp: embeddings_update_started_at in customData ------- */

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
    free((char *)s->gen.url);
    if (s->downloads != NULL && s->downloads_max > 0)
        HOST(s)->log(CTX(s), EMBSYNC_LOG_INFO,
                     "downloads in flight went from %u to %u (now %u, ceiling %u)",
                     s->downloads_min, s->downloads_max,
                     HOST(s)->limit_window(s->downloads), s->concurrency);
    if (s->downloads != NULL)
        HOST(s)->limit_free(s->downloads);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* A base URL without its trailing slashes (url_join with an empty path). */
static char *strip_slash(const embsync_host *host, const char *in)
{
    char *out = strdup(in);
    if (out != NULL)
        host->url_join(in, "", out, strlen(in) + 1);
    return out;
}

static int sly_open(const embsync_host *host, embsync_ctx *ctx, void **state)
{
    if (!EMBSYNC_HOST_HAS(host, url_escape)) {
        host->set_error(ctx, "needs a host with http_outcome, state files and the URL helpers (ABI 1.2)");
        return EMBSYNC_FATAL;
    }
    supervisely *s = calloc(1, sizeof *s);
    if (s == NULL)
        return EMBSYNC_FATAL;
    pthread_mutex_init(&s->lock, NULL);
    s->api.host = host;
    s->api.ctx = ctx;
    if (!host->config_bool(ctx, "verify_tls", 1))
        s->api.flags |= EMBSYNC_HTTP_INSECURE;
    s->origin = strip_slash(host, host->config_get(ctx, "server"));
    const char *api_server = host->config_get(ctx, "api_server");
    if (api_server != NULL) {
        s->api.base = strip_slash(host, api_server);
    } else {
        size_t n = strlen(s->origin) + 16;
        s->api.base = malloc(n);
        snprintf(s->api.base, n, "%s/public/api", s->origin);
    }
    const char *imgproxy = host->config_get(ctx, "imgproxy");
    s->imgproxy = imgproxy ? strip_slash(host, imgproxy) : NULL;
    s->image_size = host->config_int(ctx, "image_size", 224);
    snprintf(s->preview_options, sizeof s->preview_options,
             "q/ext:jpeg/resize:fit:%ld:%ld:0/q:70/plain", s->image_size, s->image_size);
    s->concurrency = (unsigned)host->config_int(ctx, "download_concurrency", 32);
    s->page_size = host->config_int(ctx, "page_size", 1000);
    s->stale_after_h = host->config_double(ctx, "stale_after", 12);
    s->state_dir = host->state_dir(ctx);
    s->gen = (sly_generator){.host = host, .ctx = ctx, .flags = s->api.flags};
    const char *generator = host->config_get(ctx, "generator_url");
    s->gen.url = generator && *generator ? strip_slash(host, generator) : NULL;
    s->autorestart = host->config_get(ctx, "autorestart_file");
    if (s->autorestart != NULL && *s->autorestart == '\0')
        s->autorestart = NULL;
    s->resume = sly_autorestart_read(s->autorestart);
    s->n_project_ids = parse_ids(host->config_get(ctx, "project_ids"), s->project_ids, MAX_IDS);
    s->n_team_ids = parse_ids(host->config_get(ctx, "team_ids"), s->team_ids, MAX_IDS);
    if (s->image_size < 16 || s->concurrency < 1 || s->page_size < 1 ||
        s->page_size > 20000) {
        host->set_error(ctx, "image_size ≥ 16, download_concurrency ≥ 1, "
                             "page_size 1–20000");
        sly_close(s);
        return EMBSYNC_FATAL;
    }
    /* Downloads in flight follow the image server: more while answers come
     * back as fast as the quickest, fewer on 429, 503, timeouts or a
     * latency far above it.  A 1.2 host has no limits: a fixed number. */
    if (EMBSYNC_HOST_HAS(host, http_many_limited))
        s->downloads = host->limit_new(ctx, s->concurrency,
                                       host->config_bool(ctx, "download_adaptive", 1)
                                           ? 0 : EMBSYNC_LIMIT_FIXED);
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
    return rc == EMBSYNC_OK ? sly_generator_ready(&s->gen) : rc;
}

/* ---- collections: projects with AI Search on ------------------------------ */

/* Is the team on the free plan? */
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

/* The original's stale check: an in-progress flag whose stamp is older
 * than stale_after hours, and that no Generator task holds, is cleared; the
 * Generator is told first (/cancel_embeddings), as the original tells it. */
static void clear_if_stale(supervisely *s, int64_t id)
{
    cJSON *body = cJSON_CreateObject(), *info;
    cJSON_AddNumberToObject(body, "id", (double)id);
    int rc = sly_call(&s->api, "projects.info", body, &info, NULL);
    cJSON_Delete(body);
    const char *stamp = entity_text(cJSON_GetObjectItemCaseSensitive(info, "customData"),
                                    STAMP_KEY);
    int64_t at = sly_parse_time(stamp, NULL);
    double hours = at < 0 ? -1 : ((double)time(NULL) * 1e6 - (double)at) / 3.6e9;
    cJSON_Delete(info);
    if (rc != EMBSYNC_OK || at < 0 || hours < s->stale_after_h)
        return;
    if (sly_generator_running(&s->gen, id)) {
        HOST(s)->log(CTX(s), EMBSYNC_LOG_INFO,
                     "project %" PRId64 ": in progress for %.1f h, but the "
                     "Generator runs a task for it; left alone", id, hours);
        return;
    }
    HOST(s)->log(CTX(s), EMBSYNC_LOG_WARNING,
                 "project %" PRId64 ": in progress for %.1f h with no task; clearing",
                 id, hours);
    sly_generator_cancel(&s->gen, id);
    set_stamp(s, id, 1);
    set_in_progress(s, id, 0);
}

/* Deliver a project to the listing's callback; non-zero stops the listing. */
static int offer(supervisely *s, sly_project *p, const cJSON *e,
                 embsync_collection_cb cb, void *arg)
{
    p->embedded_at = sly_tick_end(entity_text(e, "embeddingsUpdatedAt"));
    p->created_at = dup_opt(entity_text(e, "createdAt"));
    p->next_stamp = -1;
    pthread_mutex_lock(&s->lock);
    arrput(s->projects, *p);
    pthread_mutex_unlock(&s->lock);
    char name[32];
    snprintf(name, sizeof name, "%" PRId64, p->id);
    return cb(arg, name);
}

/* The original's autorestart record: the project it names is
 * taken back (stamp and flag cleared) and listed first, once.  Unlike the
 * original, a project whose AI Search was turned off meanwhile, that the
 * filters leave out, or that the Generator now holds, is not synced; the
 * record is reset in every case once it has been acted on (end() resets it
 * after the resumed run). */
static int offer_resumed(supervisely *s, embsync_collection_cb cb, void *arg,
                         int *stopped)
{
    int64_t id = s->resume;
    cJSON *body = cJSON_CreateObject(), *info;
    cJSON_AddNumberToObject(body, "id", (double)id);
    cJSON *extra = cJSON_AddArrayToObject(body, "extraFields");
    cJSON_AddItemToArray(extra, cJSON_CreateString("embeddingsEnabled"));
    cJSON_AddItemToArray(extra, cJSON_CreateString("embeddingsInProgress"));
    cJSON_AddItemToArray(extra, cJSON_CreateString("embeddingsUpdatedAt"));
    int missing = 0;
    int rc = sly_call(&s->api, "projects.info", body, &info, &missing);
    cJSON_Delete(body);
    if (rc != EMBSYNC_OK && !missing)
        return rc; /* try again on the next listing */
    sly_project p = {
        .id = id,
        .team = entity_int(info, "teamId"),
    };
    const char *why = missing ? "no longer exists"
        : cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(info, "embeddingsEnabled"))
            ? "has AI Search off"
        : !listed(s->project_ids, s->n_project_ids, id) ||
                !listed(s->team_ids, s->n_team_ids, p.team)
            ? "is not among the configured projects"
        : sly_generator_running(&s->gen, id) ? "is being embedded by the Generator"
                                             : NULL;
    if (why != NULL) {
        HOST(s)->log(CTX(s), EMBSYNC_LOG_INFO,
                     "project %" PRId64 " from the autorestart record %s; not resumed",
                     id, why);
        sly_autorestart_clear(s->autorestart);
        s->resume = 0;
        cJSON_Delete(info);
        return EMBSYNC_OK;
    }
    HOST(s)->log(CTX(s), EMBSYNC_LOG_INFO,
                 "project %" PRId64 ": resuming the run the autorestart record names", id);
    set_stamp(s, id, 1);
    set_in_progress(s, id, 0);
    *stopped = offer(s, &p, info, cb, arg) != 0;
    cJSON_Delete(info);
    return EMBSYNC_OK;
}

typedef struct listing {
    supervisely *s;
    embsync_collection_cb cb;
    void *arg;
    int64_t free_teams[MAX_IDS], paid_teams[MAX_IDS];
    size_t n_free, n_paid;
    int stopped;
} listing;

static int list_page(void *arg, const cJSON *entities, double matched)
{
    (void)matched;
    listing *l = arg;
    supervisely *s = l->s;
    const cJSON *e;
    cJSON_ArrayForEach(e, entities)
    {
        sly_project p = {
            .id = entity_id(e),
            .team = entity_int(e, "teamId"),
            .in_progress = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "embeddingsInProgress")),
        };
        if (p.id < 0 || p.team < 0) {
            HOST(s)->log(CTX(s), EMBSYNC_LOG_WARNING,
                         "a project without a valid id or teamId; skipped");
            continue;
        }
        if (!listed(s->project_ids, s->n_project_ids, p.id) ||
            !listed(s->team_ids, s->n_team_ids, p.team) || p.id == s->resume)
            continue;
        int is_free = l->n_free > 0 && listed(l->free_teams, l->n_free, p.team);
        if (!is_free && !(l->n_paid > 0 && listed(l->paid_teams, l->n_paid, p.team))) {
            if (team_is_free(s, p.team, &is_free) != EMBSYNC_OK) {
                HOST(s)->log(CTX(s), EMBSYNC_LOG_WARNING,
                             "project %" PRId64 ": team %" PRId64 " unknown; skipped",
                             p.id, p.team);
                continue;
            }
            if (is_free && l->n_free < MAX_IDS)
                l->free_teams[l->n_free++] = p.team;
            else if (!is_free && l->n_paid < MAX_IDS)
                l->paid_teams[l->n_paid++] = p.team;
        }
        if (is_free) {
            /* As the original: AI Search is not for free teams. */
            HOST(s)->log(CTX(s), EMBSYNC_LOG_INFO,
                         "project %" PRId64 ": team on the free plan; "
                         "disabling AI Search", p.id);
            edit_project(s, p.id, "embeddingsEnabled", cJSON_CreateFalse());
            continue;
        }
        if (p.in_progress && sly_mark_isset(&s->api, SLY_MARK_INFLIGHT, p.id)) {
            /* A run of ours that a crash cut short: ours to take back,
             * unless the Generator has taken the project since. */
            if (sly_generator_running(&s->gen, p.id)) {
                HOST(s)->log(CTX(s), EMBSYNC_LOG_INFO,
                             "project %" PRId64 ": our cut-short run is now the "
                             "Generator's task; left alone", p.id);
                sly_mark_clear(&s->api, SLY_MARK_INFLIGHT, p.id);
                continue;
            }
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
        if (offer(s, &p, e, l->cb, l->arg) != 0) {
            l->stopped = 1;
            return EMBSYNC_SKIP; /* ends the listing, not an error */
        }
    }
    return EMBSYNC_OK;
}

static int sly_list(void *state, embsync_collection_cb cb, void *arg)
{
    supervisely *s = state;
    pthread_mutex_lock(&s->lock);
    forget_projects(s);
    pthread_mutex_unlock(&s->lock);
    listing l = {.s = s, .cb = cb, .arg = arg};
    if (s->resume != 0) {
        int rc = offer_resumed(s, cb, arg, &l.stopped);
        if (rc != EMBSYNC_OK || l.stopped)
            return rc;
    }
    cJSON *body = cJSON_CreateObject();
    cJSON_AddBoolToObject(body, "skipExported", 1);
    cJSON *extra = cJSON_AddArrayToObject(body, "extraFields");
    cJSON_AddItemToArray(extra, cJSON_CreateString("embeddingsEnabled"));
    cJSON_AddItemToArray(extra, cJSON_CreateString("embeddingsInProgress"));
    cJSON_AddItemToArray(extra, cJSON_CreateString("embeddingsUpdatedAt"));
    cJSON *flt = cJSON_AddArrayToObject(body, "filter");
    cJSON_AddItemToArray(flt, sly_filter("embeddingsEnabled", "=", cJSON_CreateTrue()));
    int rc = sly_list_each(&s->api, "projects.list.all", body, s->page_size,
                           list_page, &l);
    cJSON_Delete(body);
    return l.stopped ? EMBSYNC_OK : rc;
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
    /* The Generator may have started on it since the listing. */
    if (sly_generator_running(&s->gen, id)) {
        HOST(s)->log(CTX(s), EMBSYNC_LOG_INFO,
                     "project %" PRId64 ": the Generator runs a task for it; skipped", id);
        return EMBSYNC_SKIP;
    }
    if (sly_mark_set(&s->api, SLY_MARK_INFLIGHT, id) != 0)
        HOST(s)->log(CTX(s), EMBSYNC_LOG_WARNING,
                     "project %" PRId64 ": cannot write the in-flight mark in %s; "
                     "a crash now leaves the project for the stale check",
                     id, s->state_dir ? s->state_dir : ".");
    int rc = set_in_progress(s, id, 1);
    if (rc == EMBSYNC_OK && (rc = set_stamp(s, id, 0)) != EMBSYNC_OK)
        set_in_progress(s, id, 0); /* do not leave it in progress */
    if (rc != EMBSYNC_OK)
        sly_mark_clear(&s->api, SLY_MARK_INFLIGHT, id);
    return rc;
}

static int sly_end(void *state, const char *name, int run_status)
{
    supervisely *s = state;
    int64_t id = project_id(name);
    int rc = EMBSYNC_OK;
    pthread_mutex_lock(&s->lock);
    sly_project *p = find_project(s, id);
    int64_t stamp = p ? p->next_stamp : -1;
    pthread_mutex_unlock(&s->lock);
    if (run_status == EMBSYNC_OK && stamp >= 0) {
        char text[40];
        sly_format_time(stamp, text, sizeof text);
        rc = edit_project(s, id, "embeddingsUpdatedAt", cJSON_CreateString(text));
    }
    /* The rebuilt project is whole once a run of it completed. */
    if (run_status == EMBSYNC_OK && rc == EMBSYNC_OK) {
        sly_mark_clear(&s->api, SLY_MARK_RESET, id);
        sly_mark_clear(&s->api, SLY_MARK_STARTED, id);
    }
    /* In every path: not in progress, no stamp. */
    int rc2 = set_in_progress(s, id, 0);
    int rc3 = set_stamp(s, id, 1);
    if (rc2 == EMBSYNC_OK)
        sly_mark_clear(&s->api, SLY_MARK_INFLIGHT, id);
    if (id == s->resume) {
        sly_autorestart_clear(s->autorestart);
        s->resume = 0;
    }
    return rc != EMBSYNC_OK ? rc : rc2 != EMBSYNC_OK ? rc2 : rc3;
}

/* Durable (issue: a kill anywhere in a rebuild pass): until a run of the
 * project completes, changes() lists every image again, so a collection
 * rebuilt empty is never left listing only the unstamped ones. */
static int sly_reset(void *state, const char *name)
{
    supervisely *s = state;
    if (sly_mark_set(&s->api, SLY_MARK_RESET, project_id(name)) != 0) {
        HOST(s)->set_error(CTX(s), "cannot record the reset of project %s in %s",
                           name, s->state_dir ? s->state_dir : ".");
        return EMBSYNC_FAILED;
    }
    return EMBSYNC_OK;
}

/* Pending changes whichever way the server reads the two points
 * images.list leaves open (does showDisabled list the disabled only or everything;
 * does changing an image null its embeddingsUpdatedAt):
 *   MODIFIED (embedded, changed since the stamp, enabled: no showDisabled,
 *     which lists the enabled under both readings) re-embeds the modified
 *     images whose stamp the server kept;
 *   NEVER_EMBEDDED has the new ones and those whose stamp it nulled;
 *   GONE lists every image changed since the stamp with showDisabled and,
 *     after an existence check without it, deletes those no longer enabled
 *     (the stamp filter is left out: a server nulling it on change, or an
 *     image disabled before it was ever stamped, must not hide a delete).
 * MODIFIED runs before NEVER_EMBEDDED: an image acknowledged in this run
 * gets a stamp, so it cannot come back in a later listing of the run. */
static int sly_changes(void *state, const char *name, embsync_change_sink *sink)
{
    supervisely *s = state;
    int64_t id = project_id(name);
    pthread_mutex_lock(&s->lock);
    sly_project *p = find_project(s, id);
    char *since = p ? dup_opt(p->embedded_at) : NULL;
    char *created = p ? dup_opt(p->created_at) : NULL;
    pthread_mutex_unlock(&s->lock);
    int64_t stamp = -1;
    int rc = sly_run_stamp(s, id, created, &stamp);
    pthread_mutex_lock(&s->lock);
    if ((p = find_project(s, id)) != NULL)
        p->next_stamp = stamp;
    pthread_mutex_unlock(&s->lock);
    /* A project never stamped has no "changed since" to list modified and
     * deleted images by, yet a run of ours cut short (killed, failed) may
     * have stored and stamped images changed since: the first such run's
     * stamp, kept on disk before any image is listed, bounds them until a
     * run completes. */
    char *started = NULL;
    const char *changed_since = since;
    if (rc == EMBSYNC_OK && since == NULL) {
        started = sly_mark_read(&s->api, SLY_MARK_STARTED, id);
        changed_since = started;
        char text[40];
        sly_format_time(stamp, text, sizeof text);
        if (started == NULL && stamp >= 0 &&
            sly_mark_write(&s->api, SLY_MARK_STARTED, id, text) != 0) {
            HOST(s)->set_error(CTX(s), "cannot record the run's start in %s",
                               s->state_dir ? s->state_dir : ".");
            rc = EMBSYNC_FAILED;
        }
    }
    sly_run_count count = {0};
    if (rc == EMBSYNC_OK && sly_mark_isset(&s->api, SLY_MARK_RESET, id)) {
        /* The store was rebuilt: every image again. */
        rc = sly_stream_images(s, sink, id, SLY_EVERYTHING, NULL, &count);
    } else if (rc == EMBSYNC_OK) {
        if (changed_since != NULL)
            rc = sly_stream_images(s, sink, id, SLY_MODIFIED, changed_since,
                                   &count);
        if (rc == EMBSYNC_OK)
            rc = sly_stream_images(s, sink, id, SLY_NEVER_EMBEDDED, NULL,
                                   &count);
    }
    if (rc == EMBSYNC_OK && changed_since != NULL)
        rc = sly_stream_images(s, sink, id, SLY_GONE, changed_since, &count);
    /* Every listing is done: the total is what they emitted. */
    if (rc == EMBSYNC_OK && sink->set_total != NULL)
        sink->set_total(sink, count.emitted);
    free(started);
    free(since);
    free(created);
    return rc;
}

/* ABI 1.2: every enabled image, as changes() would give it. */
static int sly_items(void *state, const char *name, embsync_change_sink *sink)
{
    sly_run_count count = {0};
    return sly_stream_images(state, sink, project_id(name), SLY_EVERYTHING,
                             NULL, &count);
}

/* ABI 1.2: present[i] = 1 when image items[i].id is still an enabled image
 * of the project.  A disabled image answers 0 under either reading of
 * showDisabled, stamped or not (the `id in` listing leaves it out). */
static int sly_exists(void *state, const char *name, size_t n,
                      const embsync_change *items, int *present)
{
    supervisely *s = state;
    int64_t *ids = calloc(n ? n : 1, sizeof *ids);
    if (ids == NULL)
        return EMBSYNC_FAILED;
    /* Items are strided by the caller's struct size. */
    size_t stride = n > 0 && items[0].abi.size ? items[0].abi.size : sizeof *items;
    for (size_t i = 0; i < n; i++)
        ids[i] = (int64_t)((const embsync_change *)((const char *)items + i * stride))->id;
    int rc = sly_still_enabled(s, project_id(name), n, ids, present);
    free(ids);
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
        /* The preview route takes no credentials: none are sent.  A JPEG
         * does not shrink under HTTP compression: none is asked for. */
        reqs[i] = (embsync_http_request){.abi = EMBSYNC_ABI_INIT(embsync_http_request),
                                         .method = "GET", .url = items[i].ref,
                                         .flags = s->api.flags | EMBSYNC_HTTP_NO_COMPRESSION,
                                         .timeout_ms = 60000};
        resps[i] = (embsync_http_response){.abi = EMBSYNC_ABI_INIT(embsync_http_response)};
    }
    int rc = s->downloads != NULL
                 ? HOST(s)->http_many_limited(CTX(s), n, reqs, resps, http_status,
                                              s->downloads)
                 : HOST(s)->http_many(CTX(s), n, reqs, resps, http_status, s->concurrency);
    if (s->downloads != NULL) {
        unsigned w = HOST(s)->limit_window(s->downloads);
        HOST(s)->gauge_set(CTX(s), "downloads_window", "server", s->origin, w);
        pthread_mutex_lock(&s->lock);
        if (s->downloads_min == 0 || w < s->downloads_min)
            s->downloads_min = w;
        if (w > s->downloads_max)
            s->downloads_max = w;
        pthread_mutex_unlock(&s->lock);
    }
    for (size_t i = 0; i < n && rc == EMBSYNC_OK; i++) {
        if (http_status[i] == EMBSYNC_OK && resps[i].status < 400 && resps[i].body_len > 0) {
            if (EMBSYNC_HOST_HAS(HOST(s), blob_take_body)) {
                HOST(s)->blob_take_body(&out[i], &resps[i]);
            } else if (HOST(s)->blob_set(&out[i], resps[i].body, resps[i].body_len) != 0) {
                status[i] = EMBSYNC_RETRY;
                HOST(s)->set_item_error(CTX(s), i, "out of memory");
                continue;
            }
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
        /* Once per image: the id as its digits (sly_id), the stamp by
         * reference. */
        for (size_t i = at; i < n && i < at + ACK_BATCH; i++) {
            cJSON *img = cJSON_CreateObject();
            cJSON_AddItemToObjectCS(img, "id", sly_id((int64_t)done[i].id));
            cJSON_AddItemToObjectCS(img, "embeddingsUpdatedAt",
                                    done[i].op == EMBSYNC_OP_UPSERT
                                        ? cJSON_CreateStringReference(now)
                                        : cJSON_CreateNull());
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
    .exists = sly_exists,
    .items = sly_items,
};

static const embsync_plugin descriptor = {
    .abi = EMBSYNC_ABI_INIT(embsync_plugin),
    .kind = EMBSYNC_KIND_SOURCE,
    .name = "supervisely",
    .version = "1.2",
    .description = "Supervisely projects with AI Search enabled; images as items",
    .config_keys = keys,
    .config_key_size = sizeof keys[0],
    .ops = &ops,
};

EMBSYNC_PLUGIN_ENTRY(descriptor)
