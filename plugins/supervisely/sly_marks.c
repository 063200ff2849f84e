#include "sly_marks.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>


static void mark_name(const char *kind, int64_t project, char *out,
                      size_t len)
{
    snprintf(out, len, "%s-%" PRId64, kind, project);
}

static void mark_path(const sly_api *api, const char *kind, int64_t project,
                      char *out, size_t len)
{
    const char *dir = api->host->state_dir(api->ctx);
    snprintf(out, len, "%s/%s-%" PRId64, dir ? dir : ".", kind, project);
}

int sly_mark_write(const sly_api *api, const char *kind, int64_t project,
                   const char *text)
{
    char name[128];
    mark_name(kind, project, name, sizeof name);
    return api->host->state_write(api->ctx, name, text, strlen(text));
}

int sly_mark_set(const sly_api *api, const char *kind, int64_t project)
{
    return sly_mark_write(api, kind, project, "1\n");
}

char *sly_mark_read(const sly_api *api, const char *kind, int64_t project)
{
    char name[128];
    mark_name(kind, project, name, sizeof name);
    return api->host->state_read(api->ctx, name, NULL);
}

int sly_mark_isset(const sly_api *api, const char *kind, int64_t project)
{
    char path[4096];
    mark_path(api, kind, project, path, sizeof path);
    return access(path, F_OK) == 0;
}

/* A removal lost to a crash only repeats work (a run taken back, a full
 * listing done again), never hides any: no fsync needed. */
void sly_mark_clear(const sly_api *api, const char *kind, int64_t project)
{
    char path[4096];
    mark_path(api, kind, project, path, sizeof path);
    unlink(path);
}

/* The record belongs to the original service and lives outside our state
 * directory, so the host's state files do not reach it.  It is small. */
int64_t sly_autorestart_read(const char *path)
{
    char text[4096];
    size_t n = 0;
    FILE *fp = path ? fopen(path, "rb") : NULL;
    if (fp != NULL) {
        n = fread(text, 1, sizeof text - 1, fp);
        fclose(fp);
    }
    text[n] = '\0';
    cJSON *record = n > 0 ? cJSON_Parse(text) : NULL;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(record, "project_id");
    int64_t project = cJSON_IsNumber(id) && id->valuedouble > 0
                          ? (int64_t)id->valuedouble : 0;
    cJSON_Delete(record);
    return project;
}

/* Rewritten in place, not replaced: a crash leaves the old record (the run
 * is resumed once more, which repeats work) or a torn one (which reads as
 * no record, like {}), so neither loses anything. */
int sly_autorestart_clear(const char *path)
{
    if (path == NULL || access(path, F_OK) != 0)
        return 0;
    FILE *fp = fopen(path, "wb");
    if (fp == NULL)
        return -1;
    int bad = fputs("{}", fp) == EOF;
    return fclose(fp) != 0 || bad ? -1 : 0;
}
