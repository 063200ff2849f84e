/* Aliases: the name readers use pointing at a concrete collection, so a
 * collection can be rebuilt beside the live one and swapped in with one
 * create_alias (Qdrant 1.19 applies an action list in order and undoes
 * nothing on a later failure, so a single action is the only atomic
 * switch). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "qdrant_store.h"

int qdrant_resolve(qdrant *q, const char *name, char *target, size_t len,
                   int *is_alias)
{
    char full[1024];
    *is_alias = 0;
    if (snprintf(full, sizeof full, "%s%s", q->prefix, name) >= (int)sizeof full ||
        snprintf(target, len, "%s", name) >= (int)len) {
        HOST(q)->set_error(CTX(q), "collection name too long: %s", name);
        return EMBSYNC_FAILED;
    }
    qdrant_reply r;
    int rc = qdrant_call(&q->client, "GET", "/aliases", NULL, 0, &r);
    if (rc == EMBSYNC_OK && r.status != 200)
        rc = qdrant_failure(&q->client, &r, "list aliases");
    const cJSON *alias;
    cJSON_ArrayForEach(alias, cJSON_GetObjectItemCaseSensitive(qdrant_result(&r),
                                                               "aliases")) {
        const char *a = cJSON_GetStringValue(
            cJSON_GetObjectItemCaseSensitive(alias, "alias_name"));
        const char *c = cJSON_GetStringValue(
            cJSON_GetObjectItemCaseSensitive(alias, "collection_name"));
        if (rc != EMBSYNC_OK || a == NULL || c == NULL || strcmp(a, full) != 0)
            continue;
        size_t plen = strlen(q->prefix);
        /* Every other call prepends the prefix again. */
        if (strncmp(c, q->prefix, plen) != 0) {
            HOST(q)->set_error(CTX(q), "alias %s points at %s, outside "
                               "collection_prefix %s", full, c, q->prefix);
            rc = EMBSYNC_FAILED;
        } else if (snprintf(target, len, "%s", c + plen) >= (int)len) {
            HOST(q)->set_error(CTX(q), "collection name too long: %s", c);
            rc = EMBSYNC_FAILED;
        } else {
            *is_alias = 1;
        }
        break;
    }
    qdrant_reply_free(&r);
    return rc;
}

/* Whether a collection (or an alias: exists resolves it) of that name is. */
static int exists(qdrant *q, const char *name, int *found)
{
    char path[4200];
    if (qdrant_collection_path(q, name, "/exists", path, sizeof path) != 0)
        return EMBSYNC_FAILED;
    qdrant_reply r;
    int rc = qdrant_call(&q->client, "GET", path, NULL, 0, &r);
    if (rc == EMBSYNC_OK && r.status != 200)
        rc = qdrant_failure(&q->client, &r, "collection exists");
    *found = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(qdrant_result(&r),
                                                           "exists"));
    qdrant_reply_free(&r);
    return rc;
}

int qdrant_alias_get(void *state, const char *name, char *target, size_t len)
{
    qdrant *q = state;
    int is_alias, found = 0;
    int rc = qdrant_resolve(q, name, target, len, &is_alias);
    if (rc == EMBSYNC_OK && !is_alias)
        rc = exists(q, name, &found);
    if (rc == EMBSYNC_OK && !is_alias && !found)
        target[0] = '\0';
    return rc;
}

/* One create_alias action: binds `name`, or repoints it when it is an
 * alias already, in one step. */
static int create_alias(qdrant *q, const char *name, const char *target)
{
    char alias[1024], collection[1024];
    snprintf(alias, sizeof alias, "%s%s", q->prefix, name);
    snprintf(collection, sizeof collection, "%s%s", q->prefix, target);
    cJSON *body = cJSON_CreateObject();
    cJSON *action = cJSON_CreateObject();
    cJSON *create = cJSON_AddObjectToObject(action, "create_alias");
    cJSON_AddStringToObject(create, "alias_name", alias);
    cJSON_AddStringToObject(create, "collection_name", collection);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(body, "actions"), action);
    char *text = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    qdrant_reply r;
    int rc = qdrant_call(&q->client, "POST", "/collections/aliases", text,
                         strlen(text), &r);
    cJSON_free(text);
    if (rc == EMBSYNC_OK && r.status != 200)
        rc = qdrant_failure(&q->client, &r, "create alias");
    qdrant_reply_free(&r);
    return rc;
}

int qdrant_alias_set(void *state, const char *name, const char *target)
{
    qdrant *q = state;
    char current[1024];
    int is_alias, found = 0;
    if (strcmp(name, target) == 0) {
        HOST(q)->set_error(CTX(q), "an alias cannot point at itself: %s", name);
        return EMBSYNC_FAILED;
    }
    int rc = qdrant_resolve(q, name, current, sizeof current, &is_alias);
    if (rc == EMBSYNC_OK && !is_alias)
        rc = exists(q, name, &found);
    if (rc == EMBSYNC_OK && found && !is_alias) {
        /* Check the target first: the plain collection goes only when the
         * alias can follow at once. */
        int target_found = 0;
        rc = exists(q, target, &target_found);
        if (rc == EMBSYNC_OK && !target_found) {
            HOST(q)->set_error(CTX(q), "cannot point %s%s at %s%s: no such "
                               "collection", q->prefix, name, q->prefix, target);
            return EMBSYNC_FAILED;
        }
        if (rc == EMBSYNC_OK) {
            HOST(q)->log(CTX(q), EMBSYNC_LOG_WARNING,
                         "%s%s is a plain collection and Qdrant forbids an alias "
                         "with a collection's name: it is deleted and the alias "
                         "to %s%s created right after, one short switch-over "
                         "during which %s%s does not exist (later switches are "
                         "atomic)", q->prefix, name, q->prefix, target,
                         q->prefix, name);
            rc = qdrant_drop_collection(q, name);
        }
    }
    if (rc == EMBSYNC_OK)
        rc = create_alias(q, name, target);
    if (rc == EMBSYNC_OK) {
        q->known_dim = 0;  /* the name now means another collection */
        HOST(q)->log(CTX(q), EMBSYNC_LOG_INFO, "%s%s now points at %s%s",
                     q->prefix, name, q->prefix, target);
    }
    return rc;
}
