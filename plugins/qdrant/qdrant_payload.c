/* A point's JSON payload as the protobuf Value map of Qdrant's
 * json_with_int.proto.  A JSON number that is a whole number within int64
 * becomes integer_value, as Qdrant's REST API stores it (serde_json keeps
 * integers), so a payload id compares equal whichever API wrote it; other
 * numbers are double_value.  (cJSON reads numbers as doubles: a whole
 * number above 2^53 in a payload would lose digits; the payloads embsync
 * writes carry ids well below that, and point ids never go this way.) */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "qdrant_grpc.h"

static Qdrant__Value *value_of(const cJSON *j);

static void value_free(Qdrant__Value *v)
{
    if (v != NULL)
        protobuf_c_message_free_unpacked(&v->base, NULL);
}

static Qdrant__Value *list_of(const cJSON *array, Qdrant__Value *v)
{
    Qdrant__ListValue *list = malloc(sizeof *list);
    if (list == NULL)
        return NULL;
    qdrant__list_value__init(list);
    v->kind_case = QDRANT__VALUE__KIND_LIST_VALUE;
    v->list_value = list;
    size_t n = (size_t)cJSON_GetArraySize(array);
    list->values = n ? calloc(n, sizeof *list->values) : NULL;
    if (n && list->values == NULL)
        return NULL;
    const cJSON *item;
    cJSON_ArrayForEach(item, array) {
        Qdrant__Value *element = value_of(item);
        if (element == NULL)
            return NULL;
        list->values[list->n_values++] = element;
    }
    return v;
}

static Qdrant__Value *struct_of(const cJSON *object, Qdrant__Value *v)
{
    Qdrant__Struct *st = malloc(sizeof *st);
    if (st == NULL)
        return NULL;
    qdrant__struct__init(st);
    v->kind_case = QDRANT__VALUE__KIND_STRUCT_VALUE;
    v->struct_value = st;
    size_t n = (size_t)cJSON_GetArraySize(object);
    st->fields = n ? calloc(n, sizeof *st->fields) : NULL;
    if (n && st->fields == NULL)
        return NULL;
    const cJSON *item;
    cJSON_ArrayForEach(item, object) {
        Qdrant__Struct__FieldsEntry *e = malloc(sizeof *e);
        if (e == NULL)
            return NULL;
        qdrant__struct__fields_entry__init(e);
        st->fields[st->n_fields++] = e;
        if ((e->key = strdup(item->string)) == NULL ||
            (e->value = value_of(item)) == NULL)
            return NULL;
    }
    return v;
}

/* NULL when memory runs out (what was made is freed). */
static Qdrant__Value *value_of(const cJSON *j)
{
    Qdrant__Value *v = malloc(sizeof *v);
    if (v == NULL)
        return NULL;
    qdrant__value__init(v);
    Qdrant__Value *done = v;
    if (cJSON_IsBool(j)) {
        v->kind_case = QDRANT__VALUE__KIND_BOOL_VALUE;
        v->bool_value = cJSON_IsTrue(j);
    } else if (cJSON_IsNumber(j)) {
        double d = j->valuedouble;
        if (d == trunc(d) && d >= -9223372036854775808.0 && d < 9223372036854775808.0) {
            v->kind_case = QDRANT__VALUE__KIND_INTEGER_VALUE;
            v->integer_value = (int64_t)d;
        } else {
            v->kind_case = QDRANT__VALUE__KIND_DOUBLE_VALUE;
            v->double_value = d;
        }
    } else if (cJSON_IsString(j)) {
        v->kind_case = QDRANT__VALUE__KIND_STRING_VALUE;
        v->string_value = strdup(j->valuestring);
        if (v->string_value == NULL)
            done = NULL;
    } else if (cJSON_IsArray(j)) {
        done = list_of(j, v);
    } else if (cJSON_IsObject(j)) {
        done = struct_of(j, v);
    } else {
        v->kind_case = QDRANT__VALUE__KIND_NULL_VALUE;
        v->null_value = QDRANT__NULL_VALUE__NULL_VALUE;
    }
    if (done == NULL)
        value_free(v);
    return done;
}

int qdrant_payload_entries(const cJSON *object,
                           Qdrant__PointStruct__PayloadEntry ***entries,
                           size_t *n_entries)
{
    size_t n = (size_t)cJSON_GetArraySize(object), made = 0;
    *entries = NULL;
    *n_entries = 0;
    if (n == 0)
        return 0;
    Qdrant__PointStruct__PayloadEntry **list = calloc(n, sizeof *list);
    if (list == NULL)
        return -1;
    const cJSON *item;
    cJSON_ArrayForEach(item, object) {
        Qdrant__PointStruct__PayloadEntry *e = malloc(sizeof *e);
        if (e == NULL)
            break;
        qdrant__point_struct__payload_entry__init(e);
        list[made++] = e;
        if ((e->key = strdup(item->string)) == NULL ||
            (e->value = value_of(item)) == NULL)
            break;
    }
    if (made != n || list[n - 1]->value == NULL) {
        qdrant_payload_free(list, made);
        return -1;
    }
    *entries = list;
    *n_entries = n;
    return 0;
}

void qdrant_payload_free(Qdrant__PointStruct__PayloadEntry **entries, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (entries[i] != NULL)
            protobuf_c_message_free_unpacked(&entries[i]->base, NULL);
    free(entries);
}
