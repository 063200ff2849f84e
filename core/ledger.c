#include <config.h>

#include "ledger.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "retry.h"
#include "statefile.h"

#define FIRST_DELAY_S 60
#define MAX_DELAY_S 86400

int64_t es_ledger_backoff(unsigned attempts)
{
    int64_t delay = FIRST_DELAY_S;
    for (unsigned i = 1; i < attempts && delay < MAX_DELAY_S; i++)
        delay *= 4;
    return delay < MAX_DELAY_S ? delay : MAX_DELAY_S;
}

/* Index of id, or where it would go (*found = 0). */
static size_t find(const es_ledger *l, uint64_t id, int *found)
{
    size_t lo = 0, hi = l->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (l->entries[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < l->n && l->entries[lo].id == id;
    return lo;
}

static es_ledger_entry *insert(es_ledger *l, uint64_t id)
{
    int found;
    size_t at = find(l, id, &found);
    if (found)
        return &l->entries[at];
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        es_ledger_entry *grown = realloc(l->entries, cap * sizeof *grown);
        if (grown == NULL)
            return NULL;
        l->entries = grown;
        l->cap = cap;
    }
    memmove(&l->entries[at + 1], &l->entries[at],
            (l->n - at) * sizeof *l->entries);
    l->n++;
    memset(&l->entries[at], 0, sizeof l->entries[at]);
    l->entries[at].id = id;
    return &l->entries[at];
}

static void load(es_ledger *l)
{
    char *text = es_read_all(l->path, NULL);
    if (text == NULL)
        return;
    cJSON *root = cJSON_Parse(text);
    free(text);
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(root, "items");
    const cJSON *it;
    cJSON_ArrayForEach(it, items)
    {
        /* Ids are strings: JSON numbers would lose u64 precision. */
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(it, "id"));
        if (id == NULL)
            continue;
        es_ledger_entry *e = insert(l, strtoull(id, NULL, 10));
        if (e == NULL)
            break;
        const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(it, "ref"));
        snprintf(e->ref, sizeof e->ref, "%s", s ? s : "");
        s = cJSON_GetStringValue(cJSON_GetObjectItem(it, "step"));
        snprintf(e->step, sizeof e->step, "%s", s ? s : "?");
        s = cJSON_GetStringValue(cJSON_GetObjectItem(it, "reason"));
        snprintf(e->reason, sizeof e->reason, "%s", s ? s : "");
        e->attempts = (unsigned)cJSON_GetNumberValue(cJSON_GetObjectItem(it, "attempts"));
        e->first_failed = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(it, "first_failed"));
        e->next_attempt = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(it, "next_attempt"));
    }
    cJSON_Delete(root);
}

int es_ledger_open(es_ledger *l, const char *state_dir, const char *collection)
{
    memset(l, 0, sizeof *l);
    pthread_mutex_init(&l->lock, NULL);
    char name[768], dir[4096], path[4096];
    if (es_path_component(collection, name, sizeof name) != 0)
        return -1;
    snprintf(dir, sizeof dir, "%s/core/ledger", state_dir);
    if (es_mkdirs(dir) != 0)
        return -1;
    if (snprintf(path, sizeof path, "%s/%s.json", dir, name) >= (int)sizeof path)
        return -1;
    l->path = strdup(path);
    if (l->path == NULL)
        return -1;
    load(l);
    return 0;
}

int es_ledger_due(es_ledger *l, uint64_t id, int64_t now)
{
    int found;
    pthread_mutex_lock(&l->lock);
    size_t at = find(l, id, &found);
    int due = !found || l->entries[at].next_attempt <= now;
    pthread_mutex_unlock(&l->lock);
    return due;
}

void es_ledger_fail(es_ledger *l, uint64_t id, const char *ref,
                    const char *step, const char *reason, int64_t now)
{
    pthread_mutex_lock(&l->lock);
    es_ledger_entry *e = insert(l, id);
    if (e != NULL) {
        if (e->attempts == 0)
            e->first_failed = now;
        e->attempts++;
        if (ref != NULL)
            snprintf(e->ref, sizeof e->ref, "%s", ref);
        snprintf(e->step, sizeof e->step, "%s", step);
        snprintf(e->reason, sizeof e->reason, "%s", reason);
        e->next_attempt =
            now + (int64_t)((double)es_ledger_backoff(e->attempts) * es_retry_scale());
        l->dirty = 1;
    }
    pthread_mutex_unlock(&l->lock);
}

/* Caller holds l->lock. */
static int remove_locked(es_ledger *l, uint64_t id)
{
    int found;
    size_t at = find(l, id, &found);
    if (found) {
        memmove(&l->entries[at], &l->entries[at + 1],
                (l->n - at - 1) * sizeof *l->entries);
        l->n--;
        l->dirty = 1;
    }
    return found;
}

void es_ledger_clear(es_ledger *l, uint64_t id)
{
    pthread_mutex_lock(&l->lock);
    (void)remove_locked(l, id);
    pthread_mutex_unlock(&l->lock);
}

size_t es_ledger_forget(es_ledger *l, size_t n, const uint64_t *ids)
{
    size_t removed = 0;
    pthread_mutex_lock(&l->lock);
    for (size_t i = 0; i < n; i++)
        removed += (size_t)remove_locked(l, ids[i]);
    pthread_mutex_unlock(&l->lock);
    return removed;
}

int es_ledger_save(es_ledger *l)
{
    pthread_mutex_lock(&l->lock);
    if (!l->dirty || l->path == NULL) {
        pthread_mutex_unlock(&l->lock);
        return 0;
    }
    cJSON *root = cJSON_CreateObject();
    cJSON *items = cJSON_AddArrayToObject(root, "items");
    for (size_t i = 0; i < l->n; i++) {
        const es_ledger_entry *e = &l->entries[i];
        char id[24];
        snprintf(id, sizeof id, "%" PRIu64, e->id);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", id);
        if (e->ref[0] != '\0')
            cJSON_AddStringToObject(o, "ref", e->ref);
        cJSON_AddStringToObject(o, "step", e->step);
        cJSON_AddStringToObject(o, "reason", e->reason);
        cJSON_AddNumberToObject(o, "attempts", e->attempts);
        cJSON_AddNumberToObject(o, "first_failed", (double)e->first_failed);
        cJSON_AddNumberToObject(o, "next_attempt", (double)e->next_attempt);
        cJSON_AddItemToArray(items, o);
    }
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    int rc = text != NULL ? es_write_atomic(l->path, text, strlen(text)) : -1;
    cJSON_free(text);
    if (rc == 0)
        l->dirty = 0;
    pthread_mutex_unlock(&l->lock);
    return rc;
}

int es_ledger_entry_at(es_ledger *l, size_t i, es_ledger_entry *out)
{
    pthread_mutex_lock(&l->lock);
    int rc = i < l->n ? 0 : -1;
    if (rc == 0)
        *out = l->entries[i];
    pthread_mutex_unlock(&l->lock);
    return rc;
}

void es_ledger_close(es_ledger *l)
{
    free(l->entries);
    free(l->path);
    pthread_mutex_destroy(&l->lock);
    memset(l, 0, sizeof *l);
}
