/* The one reading of a gRPC status (ABI 1.4, host->grpc_outcome): which
 * statuses are retried, which are the credentials' fault, which fail the
 * call or the item, and the error text; and grpc_unary()'s refusals that
 * need no server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "host.h"
#include "http.h"
#include "log.h"
#include "outcome.h"

static const embsync_host *H = &es_host_table;

static int outcome(int rc, int grpc_status, const char *message, size_t item)
{
    embsync_http_response r = {.abi = EMBSYNC_ABI_INIT(embsync_http_response)};
    r.status = grpc_status >= 0 ? 200 : 0;
    r.error = message;
    es_call_begin();
    return H->grpc_outcome(NULL, rc, &r, grpc_status, "upsert", item);
}

static void statuses_map_by_one_policy(void **unused)
{
    (void)unused;
    assert_int_equal(outcome(EMBSYNC_OK, 0, NULL, EMBSYNC_WHOLE_CALL), EMBSYNC_OK);
    assert_string_equal(es_call_error(), "");
    for (int s = 1; s <= 16; s++) {
        int retry = s == 14 || s == 8 || s == 4 || s == 10 || s == 13;
        int want = retry ? EMBSYNC_RETRY
                   : s == 16 || s == 7 ? EMBSYNC_FATAL : EMBSYNC_FAILED;
        assert_int_equal(es_grpc_retryable_status(s), retry);
        assert_int_equal(outcome(retry ? EMBSYNC_RETRY : EMBSYNC_OK, s, "m",
                                 EMBSYNC_WHOLE_CALL), want);
        assert_int_not_equal(es_call_error()[0], '\0');
        /* The status decides, not whether the host already gave up. */
        assert_int_equal(outcome(EMBSYNC_OK, s, "m", EMBSYNC_WHOLE_CALL), want);
    }
    /* No status at all: nothing was had (retry) or the call was malformed. */
    assert_int_equal(outcome(EMBSYNC_RETRY, -1, "Connection refused",
                             EMBSYNC_WHOLE_CALL), EMBSYNC_RETRY);
    assert_string_equal(es_call_error(), "upsert: Connection refused");
    assert_int_equal(outcome(EMBSYNC_FAILED, -1, NULL, EMBSYNC_WHOLE_CALL),
                     EMBSYNC_FAILED);
    assert_string_equal(es_call_error(), "upsert: request failed");
}

static void error_text_names_the_status(void **unused)
{
    (void)unused;
    outcome(EMBSYNC_OK, 3, "Wrong input: Vector dimension error: expected dim: "
            "512, got 4", EMBSYNC_WHOLE_CALL);
    assert_string_equal(es_call_error(),
                        "upsert: gRPC INVALID_ARGUMENT (3): Wrong input: Vector "
                        "dimension error: expected dim: 512, got 4");
    outcome(EMBSYNC_RETRY, 14, NULL, EMBSYNC_WHOLE_CALL);
    assert_string_equal(es_call_error(),
                        "upsert: gRPC UNAVAILABLE (14) after retries: no details");
    outcome(EMBSYNC_OK, 40, "odd", EMBSYNC_WHOLE_CALL);
    assert_string_equal(es_call_error(), "upsert: gRPC UNKNOWN (40): odd");
    es_secret_add("s3cr3t-api-key");
    outcome(EMBSYNC_OK, 16, "key s3cr3t-api-key refused", EMBSYNC_WHOLE_CALL);
    assert_null(strstr(es_call_error(), "s3cr3t-api-key"));
    es_secret_clear();
}

static void per_item_statuses_fail_the_item(void **unused)
{
    (void)unused;
    char slots[2][128];
    es_call_item_errors(&slots[0][0], 2, sizeof slots[0]);
    assert_int_equal(outcome(EMBSYNC_OK, 5, "no such collection", 1),
                     EMBSYNC_ITEM_FAILED);
    assert_string_equal(slots[1], "upsert: gRPC NOT_FOUND (5): no such collection");
    assert_int_equal(outcome(EMBSYNC_OK, 7, "read-only key", 0), EMBSYNC_FATAL);
    assert_string_equal(slots[0], "");
    assert_string_equal(es_call_error(), "upsert: gRPC PERMISSION_DENIED (7): read-only key");
    es_call_item_errors(NULL, 0, 0);
}

static void http_answers_without_status_map_per_spec(void **unused)
{
    (void)unused;
    assert_int_equal(es_grpc_status_of_http(401), 16);
    assert_int_equal(es_grpc_status_of_http(403), 7);
    assert_int_equal(es_grpc_status_of_http(404), 12);
    assert_int_equal(es_grpc_status_of_http(503), 14);
    assert_int_equal(es_grpc_status_of_http(429), 14);
    assert_int_equal(es_grpc_status_of_http(418), 2);
}

static void unary_refuses_without_a_server(void **unused)
{
    (void)unused;
    embsync_http_response resp = {.abi = EMBSYNC_ABI_INIT(embsync_http_response)};
    int status = 99;
    embsync_http_request bad = {.abi = EMBSYNC_ABI_INIT(embsync_http_request)};
    assert_int_equal(H->grpc_unary(NULL, &bad, &resp, &status), EMBSYNC_FAILED);
    assert_int_equal(status, -1);
    assert_non_null(resp.error);
    H->http_release(NULL, &resp);
    /* Nothing listens on port 9 of loopback: no status, retry, and one
     * attempt only when asked. */
    embsync_http_request req = {
        .abi = EMBSYNC_ABI_INIT(embsync_http_request),
        .url = "http://127.0.0.1:9/qdrant.Points/Upsert",
        .body = "\x0a\x01x", .body_len = 3,
        .flags = EMBSYNC_HTTP_NO_RETRY,
    };
    assert_int_equal(H->grpc_unary(NULL, &req, &resp, &status), EMBSYNC_RETRY);
    assert_int_equal(status, -1);
    assert_int_equal(resp.status, 0);
    assert_non_null(resp.error);
    H->http_release(NULL, &resp);
}

int main(void)
{
    es_http_global_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(statuses_map_by_one_policy),
        cmocka_unit_test(error_text_names_the_status),
        cmocka_unit_test(per_item_statuses_fail_the_item),
        cmocka_unit_test(http_answers_without_status_map_per_spec),
        cmocka_unit_test(unary_refuses_without_a_server),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    es_http_global_cleanup();
    return rc;
}
