#include <config.h>

#include "status.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "statefile.h"

static int status_path(const char *state_dir, const char *name, char *out,
                       size_t outlen)
{
    char enc[768], dir[4096];
    snprintf(dir, sizeof dir, "%s/core/status", state_dir);
    if (es_path_component(name, enc, sizeof enc) != 0 || es_mkdirs(dir) != 0)
        return -1;
    return snprintf(out, outlen, "%s/%s.json", dir, enc) < (int)outlen ? 0 : -1;
}

static double num(const cJSON *o, const char *key)
{
    return cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, key));
}

static int parse(const char *text, es_collection_status *s)
{
    cJSON *o = cJSON_Parse(text);
    if (o == NULL)
        return -1;
    memset(s, 0, sizeof *s);
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(o, "collection"));
    const char *err = cJSON_GetStringValue(cJSON_GetObjectItem(o, "last_error"));
    snprintf(s->name, sizeof s->name, "%s", name ? name : "");
    snprintf(s->last_error, sizeof s->last_error, "%s", err ? err : "");
    s->last_run_start = (int64_t)num(o, "last_run_start");
    s->last_run_end = (int64_t)num(o, "last_run_end");
    s->last_success = (int64_t)num(o, "last_success");
    s->last_status = (int)num(o, "last_status");
    s->embedded = (uint64_t)num(o, "embedded");
    s->deleted = (uint64_t)num(o, "deleted");
    s->failed = (uint64_t)num(o, "failed");
    s->deferred = (uint64_t)num(o, "deferred");
    s->waiting = (uint64_t)num(o, "waiting");
    s->seconds = num(o, "seconds");
    s->ledger_size = (uint64_t)num(o, "ledger_size");
    s->oldest_failed = (int64_t)num(o, "oldest_failed");
    cJSON_Delete(o);
    return name != NULL ? 0 : -1;
}

int es_status_save(const char *state_dir, es_collection_status *s)
{
    char path[4096];
    if (status_path(state_dir, s->name, path, sizeof path) != 0)
        return -1;
    if (s->last_success == 0) {
        char *old = es_read_all(path, NULL);
        es_collection_status prev;
        if (old != NULL && parse(old, &prev) == 0)
            s->last_success = prev.last_success;
        free(old);
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "collection", s->name);
    cJSON_AddNumberToObject(o, "last_run_start", (double)s->last_run_start);
    cJSON_AddNumberToObject(o, "last_run_end", (double)s->last_run_end);
    cJSON_AddNumberToObject(o, "last_success", (double)s->last_success);
    cJSON_AddNumberToObject(o, "last_status", s->last_status);
    cJSON_AddStringToObject(o, "last_error", s->last_error);
    cJSON_AddNumberToObject(o, "embedded", (double)s->embedded);
    cJSON_AddNumberToObject(o, "deleted", (double)s->deleted);
    cJSON_AddNumberToObject(o, "failed", (double)s->failed);
    cJSON_AddNumberToObject(o, "deferred", (double)s->deferred);
    cJSON_AddNumberToObject(o, "waiting", (double)s->waiting);
    cJSON_AddNumberToObject(o, "seconds", s->seconds);
    cJSON_AddNumberToObject(o, "ledger_size", (double)s->ledger_size);
    cJSON_AddNumberToObject(o, "oldest_failed", (double)s->oldest_failed);
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    int rc = text ? es_write_atomic(path, text, strlen(text)) : -1;
    cJSON_free(text);
    return rc;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const es_collection_status *)a)->name,
                  ((const es_collection_status *)b)->name);
}

int es_status_each(const char *state_dir,
                   void (*cb)(const es_collection_status *s, void *arg),
                   void *arg)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/core/status", state_dir);
    DIR *d = opendir(dir);
    if (d == NULL)
        return errno == ENOENT ? 0 : -1;
    es_collection_status *all = NULL;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len < 6 || strcmp(de->d_name + len - 5, ".json") != 0)
            continue;
        char path[4352];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        char *text = es_read_all(path, NULL);
        es_collection_status s;
        if (text != NULL && parse(text, &s) == 0) {
            es_collection_status *grown = realloc(all, (n + 1) * sizeof *all);
            if (grown != NULL) {
                all = grown;
                all[n++] = s;
            }
        }
        free(text);
    }
    closedir(d);
    if (n > 0) /* qsort's array must not be NULL, even for 0 items */
        qsort(all, n, sizeof *all, by_name);
    for (size_t i = 0; i < n; i++)
        cb(&all[i], arg);
    free(all);
    return (int)n;
}

static void inflight_path(const char *state_dir, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s/core/inflight", state_dir);
}

int es_status_inflight(const char *state_dir, char *out, size_t outlen)
{
    char path[4096];
    inflight_path(state_dir, path, sizeof path);
    char *text = es_read_all(path, NULL);
    if (text == NULL || *text == '\0') {
        free(text);
        return 0;
    }
    snprintf(out, outlen, "%s", text);
    free(text);
    return 1;
}

int es_status_mark_inflight(const char *state_dir, const char *collection)
{
    char dir[4096], path[4096];
    snprintf(dir, sizeof dir, "%s/core", state_dir);
    if (es_mkdirs(dir) != 0)
        return -1;
    inflight_path(state_dir, path, sizeof path);
    return es_write_atomic(path, collection, strlen(collection));
}

int es_status_clear_inflight(const char *state_dir)
{
    char path[4096];
    inflight_path(state_dir, path, sizeof path);
    return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
}
