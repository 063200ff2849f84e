/* A point's JSON payload as the protobuf Value map of Qdrant's
 * json_with_int.proto.  A JSON number that is a whole number within int64
 * becomes integer_value, as Qdrant's REST API stores it (serde_json keeps
 * integers), so a payload id compares equal whichever API wrote it; other
 * numbers are double_value.  (cJSON reads numbers as doubles: a whole
 * number above 2^53 in a payload would lose digits; the payloads embsync
 * writes carry ids well below that, and point ids never go this way.)
 *
 * The messages, keys and strings come from an arena of a few blocks per
 * batch: a malloc, strdup and free per value cost more than the packing.
 * The strings are copied rather than borrowed from the cJSON tree so that
 * the tree can go at once: while a batch's trees are all alive, malloc
 * serves each new parse from colder memory (measured: the parse cost 25%
 * more than the copies do). */
#include <math.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "qdrant_grpc.h"

/* Blocks big enough for a batch of the payloads embsync writes (four keys,
 * about 90 bytes of messages each) in one or two of them. */
#define ARENA_BLOCK 16384

struct qdrant_arena_block {
    struct qdrant_arena_block *next;
    size_t used, size;
    alignas(max_align_t) unsigned char data[];
};

static void *arena_get(qdrant_arena *a, size_t size)
{
    size = (size + alignof(max_align_t) - 1) & ~(alignof(max_align_t) - 1);
    struct qdrant_arena_block *b = a->head;
    if (b == NULL || b->size - b->used < size) {
        size_t room = size > ARENA_BLOCK ? size : ARENA_BLOCK;
        b = malloc(sizeof *b + room);
        if (b == NULL)
            return NULL;
        b->next = a->head;
        b->used = 0;
        b->size = room;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += size;
    return p;
}

void qdrant_arena_free(qdrant_arena *a)
{
    for (struct qdrant_arena_block *b = a->head, *next; b != NULL; b = next) {
        next = b->next;
        free(b);
    }
    a->head = NULL;
}

static char *arena_strdup(qdrant_arena *a, const char *text)
{
    size_t len = strlen(text) + 1;
    char *copy = arena_get(a, len);
    return copy != NULL ? memcpy(copy, text, len) : NULL;
}

static Qdrant__Value *value_of(const cJSON *j, qdrant_arena *a);

static Qdrant__Value *list_of(const cJSON *array, Qdrant__Value *v, qdrant_arena *a)
{
    Qdrant__ListValue *list = arena_get(a, sizeof *list);
    size_t n = (size_t)cJSON_GetArraySize(array);
    Qdrant__Value **values = n ? arena_get(a, n * sizeof *values) : NULL;
    if (list == NULL || (n && values == NULL))
        return NULL;
    qdrant__list_value__init(list);
    list->values = values;
    v->kind_case = QDRANT__VALUE__KIND_LIST_VALUE;
    v->list_value = list;
    const cJSON *item;
    cJSON_ArrayForEach(item, array) {
        if ((values[list->n_values++] = value_of(item, a)) == NULL)
            return NULL;
    }
    return v;
}

static Qdrant__Value *struct_of(const cJSON *object, Qdrant__Value *v, qdrant_arena *a)
{
    Qdrant__Struct *st = arena_get(a, sizeof *st);
    size_t n = (size_t)cJSON_GetArraySize(object);
    Qdrant__Struct__FieldsEntry **fields = n ? arena_get(a, n * sizeof *fields) : NULL;
    Qdrant__Struct__FieldsEntry *entries = n ? arena_get(a, n * sizeof *entries) : NULL;
    if (st == NULL || (n && (fields == NULL || entries == NULL)))
        return NULL;
    qdrant__struct__init(st);
    st->fields = fields;
    v->kind_case = QDRANT__VALUE__KIND_STRUCT_VALUE;
    v->struct_value = st;
    const cJSON *item;
    cJSON_ArrayForEach(item, object) {
        Qdrant__Struct__FieldsEntry *e = &entries[st->n_fields];
        qdrant__struct__fields_entry__init(e);
        fields[st->n_fields++] = e;
        if ((e->key = arena_strdup(a, item->string)) == NULL ||
            (e->value = value_of(item, a)) == NULL)
            return NULL;
    }
    return v;
}

/* NULL when memory runs out. */
static Qdrant__Value *value_of(const cJSON *j, qdrant_arena *a)
{
    Qdrant__Value *v = arena_get(a, sizeof *v);
    if (v == NULL)
        return NULL;
    qdrant__value__init(v);
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
        if ((v->string_value = arena_strdup(a, j->valuestring)) == NULL)
            return NULL;
    } else if (cJSON_IsArray(j)) {
        return list_of(j, v, a);
    } else if (cJSON_IsObject(j)) {
        return struct_of(j, v, a);
    } else {
        v->kind_case = QDRANT__VALUE__KIND_NULL_VALUE;
        v->null_value = QDRANT__NULL_VALUE__NULL_VALUE;
    }
    return v;
}

int qdrant_payload_entries(const cJSON *object, qdrant_arena *arena,
                           Qdrant__PointStruct__PayloadEntry ***entries,
                           size_t *n_entries)
{
    size_t n = (size_t)cJSON_GetArraySize(object), made = 0;
    *entries = NULL;
    *n_entries = 0;
    if (n == 0)
        return 0;
    Qdrant__PointStruct__PayloadEntry **list = arena_get(arena, n * sizeof *list);
    Qdrant__PointStruct__PayloadEntry *e = arena_get(arena, n * sizeof *e);
    if (list == NULL || e == NULL)
        return -1;
    const cJSON *item;
    cJSON_ArrayForEach(item, object) {
        qdrant__point_struct__payload_entry__init(&e[made]);
        list[made] = &e[made];
        if ((e[made].key = arena_strdup(arena, item->string)) == NULL ||
            (e[made].value = value_of(item, arena)) == NULL)
            return -1;
        made++;
    }
    *entries = list;
    *n_entries = n;
    return 0;
}
