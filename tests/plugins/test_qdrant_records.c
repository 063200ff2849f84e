/* Reading point records from Qdrant's answer text: exact u64 ids over the
 * whole range, payload spans as sent, and keys named "id" or "payload"
 * elsewhere in the answer (inside payloads, in strings) left alone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "qdrant_records.h"

static void payload_is(const char *text, const qdrant_record *r, const char *want)
{
    assert_int_equal(r->payload_len, strlen(want));
    assert_memory_equal(text + r->payload_at, want, strlen(want));
}

static void query_answer_ids_are_exact(void **unused)
{
    (void)unused;
    const char *text =
        "{\"result\":{\"points\":["
        "{\"id\":18446744073709551615,\"version\":3,\"score\":0.9,"
        "\"payload\":{\"dataset_id\":7,\"full_url\":\"a\\\"id\\\":1\",\"id\":5}},"
        "{\"id\":9007199254740993,\"version\":1,\"score\":0.5},"
        "{\"payload\":{\"nested\":{\"id\":3,\"payload\":{}}},\"id\":0,\"score\":0.1},"
        "{\"id\":\"5c56c793-69f3-4fbf-87e6-c4bf54c28c26\",\"score\":0.0,\"payload\":null}"
        "]},\"status\":\"ok\",\"time\":0.001}";
    qdrant_record r[4];
    assert_int_equal(qdrant_records(text, QDRANT_RECORDS_IN_POINTS, r, 4), 4);
    assert_true(r[0].has_int_id);
    assert_true(r[0].id == UINT64_MAX);
    payload_is(text, &r[0], "{\"dataset_id\":7,\"full_url\":\"a\\\"id\\\":1\",\"id\":5}");
    assert_true(r[1].has_int_id);
    assert_true(r[1].id == 9007199254740993ull); /* 2^53 + 1: no double holds it */
    assert_int_equal(r[1].payload_len, 0);
    assert_true(r[2].has_int_id);
    assert_true(r[2].id == 0);
    payload_is(text, &r[2], "{\"nested\":{\"id\":3,\"payload\":{}}}");
    assert_false(r[3].has_int_id);
    assert_int_equal(r[3].payload_len, 0);
}

static void retrieve_answer_and_spacing(void **unused)
{
    (void)unused;
    const char *text =
        "{ \"status\" : \"ok\", \"result\" : [ { \"id\" : 12345678901234567890 ,"
        " \"payload\" : null , \"vector\" : null } ,\n{\"id\":42} ], \"time\":0 }";
    qdrant_record r[2];
    assert_int_equal(qdrant_records(text, QDRANT_RECORDS_IN_RESULT, r, 2), 2);
    assert_true(r[0].has_int_id && r[0].id == 12345678901234567890ull);
    assert_int_equal(r[0].payload_len, 0);
    assert_true(r[1].has_int_id && r[1].id == 42);
    /* The same text read for the other layout holds no records. */
    assert_int_equal(qdrant_records(text, QDRANT_RECORDS_IN_POINTS, r, 2), 0);
}

static void more_records_than_room_and_bad_ids(void **unused)
{
    (void)unused;
    const char *text = "{\"result\":{\"points\":[{\"id\":1},{\"id\":-2},{\"id\":1.5},"
                       "{\"id\":18446744073709551616},{\"id\":7}],"
                       "\"next_page_offset\":8}}";
    qdrant_record r[4];
    assert_int_equal(qdrant_records(text, QDRANT_RECORDS_IN_POINTS, r, 4), 5);
    assert_true(r[0].has_int_id && r[0].id == 1);
    assert_false(r[1].has_int_id); /* negative */
    assert_false(r[2].has_int_id); /* not an integer */
    assert_false(r[3].has_int_id); /* over 2^64 - 1 */
}

static void broken_text_is_refused(void **unused)
{
    (void)unused;
    qdrant_record r[1];
    assert_int_equal(qdrant_records("{\"result\":[{\"id\":1}", QDRANT_RECORDS_IN_RESULT, r, 1), -1);
    assert_int_equal(qdrant_records("{\"result\":\"unterminated", QDRANT_RECORDS_IN_RESULT, r, 1), -1);
    assert_int_equal(qdrant_records("{\"result\":[]}}", QDRANT_RECORDS_IN_RESULT, r, 1), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(query_answer_ids_are_exact),
        cmocka_unit_test(retrieve_answer_and_spacing),
        cmocka_unit_test(more_records_than_room_and_bad_ids),
        cmocka_unit_test(broken_text_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
