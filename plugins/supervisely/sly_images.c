/* The image listings of a project and the project stamp rule. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "supervisely.h"

#define EXISTS_BATCH 50 /* ids per `id in` filter, as the original's helper */

/* A stamp as read back, taken as the end of the tick its digits name: we
 * write the end of a tick (sly_run_stamp), and a server answering milliseconds
 * while keeping microseconds would otherwise list the images of that last
 * millisecond as changed, run after run. */
char *sly_tick_end(const char *text)
{
    int64_t step, at = sly_parse_time(text, &step);
    if (at < 0)
        return text ? strdup(text) : NULL;
    char out[40];
    sly_format_time(at + step - 1, out, sizeof out);
    return strdup(out);
}


/* The resized-image URL: Supervisely serves previews through imgproxy,
 * which resizes and re-encodes on the fly, so the app downloads JPEGs of
 * image_size pixels rather than the originals.  Pieces copied rather than
 * printed: this runs once per image. */
static char *resize_url(supervisely *s, const char *full)
{
    if (full == NULL)
        return NULL;
    size_t olen = strlen(s->origin);
    const char *rest = strncmp(full, s->origin, olen) == 0 ? full + olen : NULL;
    if (rest == NULL) {
        /* Another origin: use the storage URL's own. */
        const char *scheme = strstr(full, "://");
        rest = scheme ? strchr(scheme + 3, '/') : NULL;
        if (rest == NULL)
            return strdup(full);
    }
    const char *head = s->imgproxy ? s->imgproxy : full;
    size_t head_len = s->imgproxy ? strlen(s->imgproxy) : (size_t)(rest - full);
    const char *mid = s->imgproxy ? "/" : "/previews/";
    size_t mid_len = strlen(mid), opt_len = strlen(s->preview_options);
    size_t rest_len = strlen(rest);
    char *url = malloc(head_len + mid_len + opt_len + rest_len + 1);
    if (url == NULL)
        return NULL;
    char *at = url;
    memcpy(at, head, head_len);
    memcpy(at += head_len, mid, mid_len);
    memcpy(at += mid_len, s->preview_options, opt_len);
    memcpy(at += opt_len, rest, rest_len + 1);
    return url;
}

/* The image fields each listing asks for (the request's `fields`): what
 * the code below reads, nothing more, so the server parses, sends and we
 * parse four fields an image instead of two dozen.  Only names of the
 * reference's image field list (section 2.7), so a server refusing names
 * it does not know still answers.  `id` wherever sly_list_each pages (its
 * cursor). */
static const char *const upsert_fields[] = {"id", "datasetId", "fullStorageUrl", "updatedAt"};
static const char *const id_fields[] = {"id"};
static const char *const time_fields[] = {"updatedAt"};

static void ask_fields(cJSON *body, const char *const *names, int n)
{
    cJSON_AddItemToObject(body, "fields", cJSON_CreateStringArray(names, n));
}

#define ASK_FIELDS(body, names) ask_fields(body, names, (int)(sizeof names / sizeof *names))

/* The images.list body of a mode (sly_list_each adds the id cursor). */
static cJSON *list_body(int64_t project, sly_list_mode mode, const char *since)
{
    cJSON *body = cJSON_CreateObject();
    cJSON_AddNumberToObject(body, "projectId", (double)project);
    cJSON_AddBoolToObject(body, "forceMetadataForLinks", 0);
    cJSON *flt = cJSON_AddArrayToObject(body, "filter");
    if (mode == SLY_NEVER_EMBEDDED)
        cJSON_AddItemToArray(flt, sly_filter("embeddingsUpdatedAt", "eq", cJSON_CreateNull()));
    if (mode == SLY_MODIFIED || mode == SLY_GONE)
        cJSON_AddItemToArray(flt, sly_filter("updatedAt", "gt", cJSON_CreateString(since)));
    if (mode == SLY_MODIFIED)
        cJSON_AddItemToArray(flt, sly_filter("embeddingsUpdatedAt", "not", cJSON_CreateNull()));
    if (mode == SLY_GONE) {
        cJSON_AddBoolToObject(body, "showDisabled", 1);
        ASK_FIELDS(body, id_fields); /* only the ids: they go to sly_still_enabled */
    } else {
        ASK_FIELDS(body, upsert_fields); /* image_change's */
    }
    return body;
}

/* Which of these images are still enabled images of the project: the
 * `id in` listing without showDisabled (enabled only, under either reading
 * of showDisabled), paged like every list.  present[i] for ids[i]. */
typedef struct presence {
    const int64_t *ids;
    int *present;
    size_t n;
} presence;

static int mark_present(void *arg, const cJSON *entities, double listed)
{
    (void)listed;
    presence *pr = arg;
    const cJSON *e;
    cJSON_ArrayForEach(e, entities)
    {
        int64_t id = entity_id(e);
        for (size_t i = 0; i < pr->n; i++)
            if (pr->ids[i] == id)
                pr->present[i] = 1;
    }
    return EMBSYNC_OK;
}

int sly_still_enabled(supervisely *s, int64_t project, size_t n,
                         const int64_t *ids, int *present)
{
    memset(present, 0, n * sizeof *present);
    for (size_t at = 0; at < n; at += EXISTS_BATCH) {
        size_t m = n - at < EXISTS_BATCH ? n - at : EXISTS_BATCH;
        cJSON *body = cJSON_CreateObject();
        cJSON_AddNumberToObject(body, "projectId", (double)project);
        cJSON *list = cJSON_CreateArray();
        for (size_t i = 0; i < m; i++)
            cJSON_AddItemToArray(list, sly_id(ids[at + i]));
        cJSON_AddItemToArray(cJSON_AddArrayToObject(body, "filter"),
                             sly_filter("id", "in", list));
        ASK_FIELDS(body, id_fields);
        presence pr = {.ids = ids + at, .present = present + at, .n = m};
        int rc = sly_list_each(&s->api, "images.list", body, s->page_size,
                               mark_present, &pr);
        cJSON_Delete(body);
        if (rc != EMBSYNC_OK)
            return rc;
    }
    return EMBSYNC_OK;
}

/* The upsert of one listed image: resize URL as ref, updatedAt as version,
 * and the payload the Embeddings Generator reads back from every point,
 * exactly its four keys (dataset_id, full_url, cas_url, updated_at).  NULL
 * when it has no URL.  The payload is still cJSON's printing, with the
 * costly parts left out: an integer dataset id goes in as its decimal
 * digits (cJSON prints every number as a double, trying two precisions),
 * the strings by reference instead of copies, and the buffer sized once. */
static int image_change(supervisely *s, const cJSON *e, embsync_change *c,
                        char **url, char **payload)
{
    const char *full = entity_text(e, "fullStorageUrl");
    const char *updated = entity_text(e, "updatedAt");
    int64_t id = entity_id(e);
    *url = NULL;
    *payload = NULL;
    if (id < 0) {
        HOST(s)->log(CTX(s), EMBSYNC_LOG_WARNING,
                     "an image without a valid id; skipped");
        return -1;
    }
    *url = resize_url(s, full);
    if (*url == NULL) {
        HOST(s)->log(CTX(s), EMBSYNC_LOG_WARNING,
                     "image %" PRId64 " has no storage URL; skipped", id);
        return -1;
    }
    const char *text = updated ? updated : "";
    cJSON *p = cJSON_CreateObject();
    int64_t dataset = entity_int(e, "datasetId");
    if (dataset >= 0) {
        cJSON_AddItemToObjectCS(p, "dataset_id", sly_id(dataset));
    } else { /* not an integer: as cJSON has it (null when absent) */
        cJSON_AddItemToObjectCS(p, "dataset_id", cJSON_CreateNumber(cJSON_GetNumberValue(
                                    cJSON_GetObjectItemCaseSensitive(e, "datasetId"))));
    }
    cJSON_AddItemToObjectCS(p, "full_url", cJSON_CreateStringReference(full));
    cJSON_AddItemToObjectCS(p, "cas_url", cJSON_CreateStringReference(*url));
    cJSON_AddItemToObjectCS(p, "updated_at", cJSON_CreateStringReference(text));
    /* Keys, quotes and digits come to under 80 bytes. */
    *payload = cJSON_PrintBuffered(p, (int)(strlen(full) + strlen(*url) + strlen(text) + 80), 0);
    cJSON_Delete(p);
    *c = (embsync_change){
        .abi = EMBSYNC_ABI_INIT(embsync_change),
        .id = (uint64_t)id,
        .op = EMBSYNC_OP_UPSERT,
        .ref = *url,
        .version = updated,
        .payload = *payload,
    };
    return 0;
}

typedef struct streaming {
    supervisely *s;
    embsync_change_sink *sink;
    int64_t project;
    sly_list_mode mode;
    sly_run_count *count;
    int counted;            /* this listing's total is in count->expected */
} streaming;

/* One page of a listing to the sink: upserts, or for GONE the deletes of
 * the listed images no longer enabled (those still enabled were modified,
 * and SLY_MODIFIED or SLY_NEVER_EMBEDDED has them). */
static int emit_page(void *arg, const cJSON *entities, double listed)
{
    streaming *st = arg;
    supervisely *s = st->s;
    embsync_change_sink *sink = st->sink;
    if (!st->counted && listed >= 0) {
        st->counted = 1;
        st->count->expected += (uint64_t)listed;
        if (sink->set_total != NULL)
            sink->set_total(sink, st->count->expected);
    }
    size_t n = (size_t)cJSON_GetArraySize(entities), k = 0;
    embsync_change *changes = calloc(n ? n : 1, sizeof *changes);
    char **strings = calloc(2 * (n ? n : 1), sizeof *strings);
    int64_t *ids = calloc(n ? n : 1, sizeof *ids);
    int *present = calloc(n ? n : 1, sizeof *present);
    int rc = changes && strings && ids && present ? EMBSYNC_OK : EMBSYNC_FAILED;
    const cJSON *e;
    if (rc == EMBSYNC_OK && st->mode == SLY_GONE) {
        cJSON_ArrayForEach(e, entities)
            ids[k++] = entity_id(e);
        rc = sly_still_enabled(s, st->project, n, ids, present);
        k = 0;
        for (size_t i = 0; rc == EMBSYNC_OK && i < n; i++)
            if (!present[i])
                changes[k++] = (embsync_change){.abi = EMBSYNC_ABI_INIT(embsync_change),
                                                .id = (uint64_t)ids[i],
                                                .op = EMBSYNC_OP_DELETE};
    } else if (rc == EMBSYNC_OK) {
        cJSON_ArrayForEach(e, entities)
            if (image_change(s, e, &changes[k], &strings[2 * k], &strings[2 * k + 1]) == 0)
                k++;
            else
                cJSON_free(strings[2 * k]);
    }
    if (rc == EMBSYNC_OK && k > 0)
        rc = sink->emit(sink, changes, k);
    if (rc == EMBSYNC_OK)
        st->count->emitted += k;
    for (size_t i = 0; strings && i < 2 * k; i++)
        cJSON_free(strings[i]);
    free(strings);
    free(changes);
    free(ids);
    free(present);
    return rc;
}

int sly_stream_images(supervisely *s, embsync_change_sink *sink, int64_t project,
                      sly_list_mode mode, const char *since,
                      sly_run_count *count)
{
    streaming st = {.s = s, .sink = sink, .project = project, .mode = mode,
                    .count = count};
    cJSON *body = list_body(project, mode, since);
    int rc = sly_list_each(&s->api, "images.list", body, s->page_size, emit_page, &st);
    cJSON_Delete(body);
    return rc;
}

/* The newest updatedAt among the project's images, enabled or not
 * (microseconds, with the step of the digits the server wrote), or -1. */
static int newest_update(supervisely *s, int64_t project, int64_t *newest,
                         int64_t *step)
{
    *newest = -1;
    *step = 1;
    for (int disabled = 0; disabled < 2; disabled++) {
        /* showDisabled lists the disabled only, or everything: ask both. */
        cJSON *body = cJSON_CreateObject(), *answer;
        cJSON_AddNumberToObject(body, "projectId", (double)project);
        cJSON_AddStringToObject(body, "sort", "updatedAt");
        cJSON_AddStringToObject(body, "sort_order", "desc");
        cJSON_AddNumberToObject(body, "page", 1);
        cJSON_AddNumberToObject(body, "per_page", 1);
        if (disabled)
            cJSON_AddBoolToObject(body, "showDisabled", 1);
        ASK_FIELDS(body, time_fields);
        int rc = sly_call(&s->api, "images.list", body, &answer, NULL);
        cJSON_Delete(body);
        if (rc != EMBSYNC_OK)
            return rc;
        const cJSON *e;
        cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(answer, "entities"))
        {
            int64_t g, at = sly_parse_time(entity_text(e, "updatedAt"), &g);
            if (at > *newest) {
                *newest = at;
                *step = g;
            }
        }
        cJSON_Delete(answer);
    }
    return EMBSYNC_OK;
}

/* The project stamp this run writes when it succeeds; the next run lists
 * "updatedAt > stamp".  It must be a time of the server's clock (updatedAt
 * is written by the server) as of before the listing began: then every
 * image changed after the listing began has a later updatedAt and is seen
 * by the next run, and every image changed before was seen by this one.
 * The original stamps the client's clock after processing, which hides the
 * changes made during the run (and depends on both clocks agreeing).
 *
 * The server's clock is read from its own data: the newest updatedAt of
 * the project's images is a moment of that clock no later than now, and
 * as no image has a later one yet, stamping it loses nothing.  It is
 * written as the end of its tick (a server answering milliseconds may
 * keep microseconds: "…45.123Z" stands for up to …45.123999), and the
 * listing waits out one tick more, so a change made after the listing
 * began falls in a later tick.  A project without images takes its
 * createdAt (every image it gets is later); failing both, the old stamp
 * stays (an older stamp only lists more). */
int sly_run_stamp(supervisely *s, int64_t project, const char *created,
                  int64_t *stamp)
{
    int64_t newest, step;
    int rc = newest_update(s, project, &newest, &step);
    if (rc != EMBSYNC_OK)
        return rc;
    if (newest < 0)
        newest = sly_parse_time(created, &step);
    *stamp = newest < 0 ? -1 : newest + step - 1;
    if (newest >= 0) {
        int64_t wait = step + 1000;
        if (wait > 1000000)
            wait = 1000000;
        struct timespec ts = {.tv_sec = (time_t)(wait / 1000000),
                              .tv_nsec = (long)(wait % 1000000) * 1000};
        nanosleep(&ts, NULL);
    }
    return EMBSYNC_OK;
}
