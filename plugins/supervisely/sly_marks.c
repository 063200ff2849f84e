#include "sly_marks.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "statefile.h"

static void mark_path(const char *dir, const char *kind, int64_t project,
                      char *out, size_t len)
{
    snprintf(out, len, "%s/%s-%" PRId64, dir ? dir : ".", kind, project);
}

int sly_mark_write(const char *dir, const char *kind, int64_t project,
                   const char *text)
{
    char path[4096];
    mark_path(dir, kind, project, path, sizeof path);
    return es_write_atomic(path, text, strlen(text));
}

int sly_mark_set(const char *dir, const char *kind, int64_t project)
{
    return sly_mark_write(dir, kind, project, "1\n");
}

char *sly_mark_read(const char *dir, const char *kind, int64_t project)
{
    char path[4096];
    mark_path(dir, kind, project, path, sizeof path);
    return es_read_all(path, NULL);
}

int sly_mark_isset(const char *dir, const char *kind, int64_t project)
{
    char path[4096];
    mark_path(dir, kind, project, path, sizeof path);
    return access(path, F_OK) == 0;
}

/* A removal lost to a crash only repeats work (a run taken back, a full
 * listing done again), never hides any: no fsync needed. */
void sly_mark_clear(const char *dir, const char *kind, int64_t project)
{
    char path[4096];
    mark_path(dir, kind, project, path, sizeof path);
    unlink(path);
}

int64_t sly_autorestart_read(const char *path)
{
    char *text = path ? es_read_all(path, NULL) : NULL;
    cJSON *record = text ? cJSON_Parse(text) : NULL;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(record, "project_id");
    int64_t project = cJSON_IsNumber(id) && id->valuedouble > 0
                          ? (int64_t)id->valuedouble : 0;
    cJSON_Delete(record);
    free(text);
    return project;
}

int sly_autorestart_clear(const char *path)
{
    if (path == NULL || access(path, F_OK) != 0)
        return 0;
    return es_write_atomic(path, "{}", 2);
}
