/* qdrant_payload_entries(): every JSON kind becomes the Value Qdrant's
 * json_with_int.proto gives it (whole numbers integer_value, the rest
 * double_value), nested lists and objects included, and the messages hold
 * their own copies of keys and strings: the request packs the same after
 * the cJSON tree is gone, also for a payload larger than one arena block. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "qdrant_grpc.h"

/* The payload of `json` packed as one point and read back. */
static Qdrant__PointStruct *round_trip(const char *json, qdrant_arena *arena)
{
    cJSON *tree = cJSON_Parse(json);
    assert_non_null(tree);
    Qdrant__PointStruct point = QDRANT__POINT_STRUCT__INIT;
    assert_int_equal(qdrant_payload_entries(tree, arena, &point.payload,
                                            &point.n_payload), 0);
    /* Overwrite, then free the tree: nothing of it may be borrowed. */
    for (cJSON *item = tree->child; item != NULL; item = item->next) {
        memset(item->string, '#', strlen(item->string));
        if (cJSON_IsString(item))
            memset(item->valuestring, '#', strlen(item->valuestring));
    }
    cJSON_Delete(tree);
    size_t len = protobuf_c_message_get_packed_size(&point.base);
    uint8_t *buf = malloc(len);
    assert_non_null(buf);
    protobuf_c_message_pack(&point.base, buf);
    Qdrant__PointStruct *back = qdrant__point_struct__unpack(NULL, len, buf);
    free(buf);
    assert_non_null(back);
    return back;
}

static const Qdrant__Value *field(const Qdrant__PointStruct *p, const char *key)
{
    for (size_t i = 0; i < p->n_payload; i++)
        if (strcmp(p->payload[i]->key, key) == 0)
            return p->payload[i]->value;
    fail_msg("no payload key %s", key);
    return NULL;
}

static void every_kind(void **unused)
{
    (void)unused;
    qdrant_arena arena = {0};
    Qdrant__PointStruct *p = round_trip(
        "{\"id\":123456789012,\"neg\":-3,\"zero\":0,\"half\":1.5,\"huge\":1e300,"
        "\"yes\":true,\"no\":false,\"none\":null,\"s\":\"caf\\u00e9 \\\"q\\\"\","
        "\"list\":[1,\"a\",[2.5],{\"k\":null}],\"obj\":{\"in\":{\"deep\":\"x\"},\"e\":{}},"
        "\"empty\":[]}", &arena);
    qdrant_arena_free(&arena);
    assert_null(arena.head);
    assert_int_equal(p->n_payload, 12);
    assert_int_equal(field(p, "id")->kind_case, QDRANT__VALUE__KIND_INTEGER_VALUE);
    assert_int_equal(field(p, "id")->integer_value, 123456789012);
    assert_int_equal(field(p, "neg")->integer_value, -3);
    assert_int_equal(field(p, "zero")->kind_case, QDRANT__VALUE__KIND_INTEGER_VALUE);
    assert_int_equal(field(p, "half")->kind_case, QDRANT__VALUE__KIND_DOUBLE_VALUE);
    assert_true(field(p, "half")->double_value == 1.5);
    assert_int_equal(field(p, "huge")->kind_case, QDRANT__VALUE__KIND_DOUBLE_VALUE);
    assert_int_equal(field(p, "yes")->kind_case, QDRANT__VALUE__KIND_BOOL_VALUE);
    assert_true(field(p, "yes")->bool_value);
    assert_false(field(p, "no")->bool_value);
    assert_int_equal(field(p, "none")->kind_case, QDRANT__VALUE__KIND_NULL_VALUE);
    assert_string_equal(field(p, "s")->string_value, "caf\xc3\xa9 \"q\"");
    const Qdrant__ListValue *l = field(p, "list")->list_value;
    assert_int_equal(l->n_values, 4);
    assert_int_equal(l->values[0]->integer_value, 1);
    assert_string_equal(l->values[1]->string_value, "a");
    assert_true(l->values[2]->list_value->values[0]->double_value == 2.5);
    assert_string_equal(l->values[3]->struct_value->fields[0]->key, "k");
    assert_int_equal(l->values[3]->struct_value->fields[0]->value->kind_case,
                     QDRANT__VALUE__KIND_NULL_VALUE);
    const Qdrant__Struct *o = field(p, "obj")->struct_value;
    assert_int_equal(o->n_fields, 2);
    assert_string_equal(o->fields[0]->key, "in");
    assert_string_equal(o->fields[0]->value->struct_value->fields[0]->value->string_value, "x");
    assert_int_equal(o->fields[1]->value->kind_case, QDRANT__VALUE__KIND_STRUCT_VALUE);
    assert_int_equal(o->fields[1]->value->struct_value->n_fields, 0);
    assert_int_equal(field(p, "empty")->kind_case, QDRANT__VALUE__KIND_LIST_VALUE);
    assert_int_equal(field(p, "empty")->list_value->n_values, 0);
    qdrant__point_struct__free_unpacked(p, NULL);
}

static void empty_and_large(void **unused)
{
    (void)unused;
    qdrant_arena arena = {0};
    Qdrant__PointStruct *p = round_trip("{}", &arena);
    assert_int_equal(p->n_payload, 0);
    qdrant__point_struct__free_unpacked(p, NULL);
    /* A string longer than an arena block, and many small values after it. */
    size_t big = 100000;
    char *json = malloc(big + 8000);
    assert_non_null(json);
    char *w = json + sprintf(json, "{\"big\":\"");
    memset(w, 'b', big);
    w += big;
    w += sprintf(w, "\",\"many\":[");
    for (int i = 0; i < 1000; i++)
        w += sprintf(w, i ? ",%d" : "%d", i);
    strcpy(w, "]}");
    p = round_trip(json, &arena);
    free(json);
    qdrant_arena_free(&arena);
    assert_int_equal(strlen(field(p, "big")->string_value), big);
    const Qdrant__ListValue *l = field(p, "many")->list_value;
    assert_int_equal(l->n_values, 1000);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(l->values[i]->integer_value, i);
    qdrant__point_struct__free_unpacked(p, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_kind),
        cmocka_unit_test(empty_and_large),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
