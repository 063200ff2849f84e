#include <config.h>

#include "rebuild_record.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "statefile.h"

static int record_path(const char *state_dir, const char *collection,
                       char *out, size_t len, int create)
{
    char enc[768], dir[4096];
    snprintf(dir, sizeof dir, "%s/core/rebuild", state_dir);
    if (es_path_component(collection, enc, sizeof enc) != 0 ||
        (create && es_mkdirs(dir) != 0))
        return -1;
    return snprintf(out, len, "%s/%s.json", dir, enc) < (int)len ? 0 : -1;
}

int es_rebuild_acks_path(const char *state_dir, const char *collection,
                         char *out, size_t len)
{
    char json[4096];
    if (record_path(state_dir, collection, json, sizeof json, 1) != 0)
        return -1;
    size_t n = strlen(json) - strlen(".json");
    return snprintf(out, len, "%.*s.acks", (int)n, json) < (int)len ? 0 : -1;
}

static double num(const cJSON *o, const char *key)
{
    return cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, key));
}

static void str(const cJSON *o, const char *key, char *out, size_t len)
{
    const char *s =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
    snprintf(out, len, "%s", s != NULL ? s : "");
}

static int record_parse(const char *text, es_rebuild_record *rec)
{
    cJSON *o = cJSON_Parse(text);
    if (o == NULL)
        return -1;
    memset(rec, 0, sizeof *rec);
    str(o, "collection", rec->collection, sizeof rec->collection);
    str(o, "shadow", rec->shadow, sizeof rec->shadow);
    str(o, "old", rec->old, sizeof rec->old);
    str(o, "identity", rec->identity, sizeof rec->identity);
    rec->dim = (uint32_t)num(o, "dim");
    rec->metric = (int)num(o, "metric");
    const char *phase =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "phase"));
    rec->phase = phase != NULL && strcmp(phase, "switched") == 0
                     ? ES_REBUILD_SWITCHED
                     : ES_REBUILD_FILLING;
    rec->started = (int64_t)num(o, "started");
    rec->done = (uint64_t)num(o, "done");
    rec->total = (uint64_t)num(o, "total");
    cJSON_Delete(o);
    return rec->collection[0] && rec->shadow[0] && rec->identity[0] ? 0 : -1;
}

int es_rebuild_record_load(const char *state_dir, const char *collection,
                           es_rebuild_record *rec)
{
    char path[4096];
    if (record_path(state_dir, collection, path, sizeof path, 0) != 0)
        return -1;
    char *text = es_read_all(path, NULL);
    if (text == NULL)
        return errno == ENOENT ? 0 : -1;
    int rc = record_parse(text, rec) == 0 &&
                     strcmp(rec->collection, collection) == 0
                 ? 1
                 : -1;
    free(text);
    return rc;
}

int es_rebuild_record_save(const char *state_dir, const es_rebuild_record *rec)
{
    char path[4096];
    if (record_path(state_dir, rec->collection, path, sizeof path, 1) != 0)
        return -1;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "collection", rec->collection);
    cJSON_AddStringToObject(o, "shadow", rec->shadow);
    cJSON_AddStringToObject(o, "old", rec->old);
    cJSON_AddStringToObject(o, "identity", rec->identity);
    cJSON_AddNumberToObject(o, "dim", rec->dim);
    cJSON_AddNumberToObject(o, "metric", rec->metric);
    cJSON_AddStringToObject(o, "phase", rec->phase == ES_REBUILD_SWITCHED
                                            ? "switched" : "filling");
    cJSON_AddNumberToObject(o, "started", (double)rec->started);
    cJSON_AddNumberToObject(o, "done", (double)rec->done);
    cJSON_AddNumberToObject(o, "total", (double)rec->total);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    int rc = text != NULL ? es_write_atomic(path, text, strlen(text)) : -1;
    cJSON_free(text);
    return rc;
}

int es_rebuild_record_remove(const char *state_dir, const char *collection)
{
    char path[4096], acks[4096];
    if (record_path(state_dir, collection, path, sizeof path, 0) != 0)
        return -1;
    /* The held acknowledgements first: they mean nothing without it. */
    if (es_rebuild_acks_path(state_dir, collection, acks, sizeof acks) == 0 &&
        unlink(acks) != 0 && errno != ENOENT)
        return -1;
    return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
}
