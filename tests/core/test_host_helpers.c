/* The host helpers of ABI 1.2: one reading of an HTTP answer (the outcome,
 * the error text, Retry-After), durable state files confined to the state
 * directory, and URL joining and escaping. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "host.h"
#include "http.h"
#include "log.h"
#include "outcome.h"

static const embsync_host *H = &es_host_table;

static embsync_http_response answer(long status, const char *body)
{
    embsync_http_response r = {.abi = EMBSYNC_ABI_INIT(embsync_http_response)};
    r.status = status;
    r.body = (char *)body;
    r.body_len = body ? strlen(body) : 0;
    return r;
}

static int outcome(int http_rc, long status, const char *body,
                   const char *detail, size_t item)
{
    embsync_http_response r = answer(status, body);
    es_call_begin();
    return H->http_outcome(NULL, http_rc, &r, "upsert", detail, item);
}

static void statuses_map_by_one_policy(void **unused)
{
    (void)unused;
    for (long s = 200; s < 300; s++)
        assert_int_equal(outcome(EMBSYNC_OK, s, "", NULL, EMBSYNC_WHOLE_CALL), EMBSYNC_OK);
    assert_string_equal(es_call_error(), "");
    /* The retryable set is the one http() retries by. */
    for (long s = 100; s < 600; s++) {
        if (s >= 200 && s < 300)
            continue;
        int http_rc = es_http_retryable_status(s) ? EMBSYNC_RETRY : EMBSYNC_OK;
        int want = es_http_retryable_status(s) ? EMBSYNC_RETRY
                   : s == 401 || s == 403      ? EMBSYNC_FATAL
                                               : EMBSYNC_FAILED;
        assert_int_equal(outcome(http_rc, s, "x", NULL, EMBSYNC_WHOLE_CALL), want);
        assert_int_not_equal(es_call_error()[0], '\0');
    }
    long retryable[] = {408, 429, 500, 502, 503, 504};
    for (size_t i = 0; i < 6; i++)
        assert_true(es_http_retryable_status(retryable[i]));
    assert_false(es_http_retryable_status(501));
    assert_false(es_http_retryable_status(404));
    /* No answer at all: retry; a malformed request: failed. */
    assert_int_equal(outcome(EMBSYNC_RETRY, 0, NULL, NULL, EMBSYNC_WHOLE_CALL), EMBSYNC_RETRY);
    assert_string_equal(es_call_error(), "upsert: no answer");
    assert_int_equal(outcome(EMBSYNC_FAILED, 0, NULL, NULL, EMBSYNC_WHOLE_CALL), EMBSYNC_FAILED);
}

static void error_text_names_the_answer(void **unused)
{
    (void)unused;
    assert_int_equal(outcome(EMBSYNC_OK, 404, "{\"status\":\"gone\"}", NULL,
                             EMBSYNC_WHOLE_CALL), EMBSYNC_FAILED);
    assert_string_equal(es_call_error(), "upsert: HTTP 404: {\"status\":\"gone\"}");
    assert_int_equal(outcome(EMBSYNC_OK, 422, "raw body", "bad vector size",
                             EMBSYNC_WHOLE_CALL), EMBSYNC_FAILED);
    assert_string_equal(es_call_error(), "upsert: HTTP 422: bad vector size");
    assert_int_equal(outcome(EMBSYNC_RETRY, 503, "busy", NULL, EMBSYNC_WHOLE_CALL),
                     EMBSYNC_RETRY);
    assert_string_equal(es_call_error(), "upsert: HTTP 503 after retries: busy");
    /* Only a short excerpt of a long body. */
    char big[5000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    outcome(EMBSYNC_OK, 400, big, NULL, EMBSYNC_WHOLE_CALL);
    assert_int_equal(strlen(es_call_error()), strlen("upsert: HTTP 400: ") + 200);
    /* The transport's reason when there was no answer. */
    embsync_http_response r = answer(0, NULL);
    r.error = "Could not resolve host: qdrant.invalid";
    es_call_begin();
    assert_int_equal(H->http_outcome(NULL, EMBSYNC_RETRY, &r, "count", NULL,
                                     EMBSYNC_WHOLE_CALL), EMBSYNC_RETRY);
    assert_string_equal(es_call_error(), "count: Could not resolve host: qdrant.invalid");
}

static void error_text_is_redacted(void **unused)
{
    (void)unused;
    es_secret_add("s3cr3t-token-value");
    outcome(EMBSYNC_OK, 400, "token s3cr3t-token-value refused", NULL, EMBSYNC_WHOLE_CALL);
    assert_null(strstr(es_call_error(), "s3cr3t-token-value"));
    assert_non_null(strstr(es_call_error(), "HTTP 400"));
    es_secret_clear();
}

static void retry_after_is_passed_on(void **unused)
{
    (void)unused;
    embsync_http_response r = answer(429, "slow down");
    r.retry_after = 7.5;
    es_call_begin();
    assert_int_equal(H->http_outcome(NULL, EMBSYNC_RETRY, &r, "scroll", NULL,
                                     EMBSYNC_WHOLE_CALL), EMBSYNC_RETRY);
    assert_true(es_call_retry_after() == 7.5);
    /* Not for an outcome that is not retried. */
    r = answer(400, "no");
    r.retry_after = 3;
    es_call_begin();
    H->http_outcome(NULL, EMBSYNC_OK, &r, "scroll", NULL, EMBSYNC_WHOLE_CALL);
    assert_true(es_call_retry_after() == 0);
}

static void per_item_answers_fail_the_item(void **unused)
{
    (void)unused;
    char slots[3][128];
    es_call_item_errors(&slots[0][0], 3, sizeof slots[0]);
    assert_int_equal(outcome(EMBSYNC_OK, 404, "no such image", NULL, 1),
                     EMBSYNC_ITEM_FAILED);
    assert_string_equal(slots[1], "upsert: HTTP 404: no such image");
    assert_string_equal(slots[0], "");
    assert_string_equal(es_call_error(), "");
    assert_int_equal(outcome(EMBSYNC_RETRY, 502, "", NULL, 2), EMBSYNC_RETRY);
    assert_string_equal(slots[2], "upsert: HTTP 502 after retries: no details");
    /* Credentials are the whole call's problem. */
    assert_int_equal(outcome(EMBSYNC_OK, 401, "who?", NULL, 0), EMBSYNC_FATAL);
    assert_string_equal(slots[0], "");
    assert_string_equal(es_call_error(), "upsert: HTTP 401: who?");
    es_call_item_errors(NULL, 0, 0);
}

/* A context whose state directory is a fresh temporary one. */
typedef struct fixture {
    embsync_ctx ctx;
    char dir[64];
} fixture;

static int setup_state(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (f == NULL)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/es-host-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    f->ctx.state_dir = strdup(f->dir);
    pthread_mutex_init(&f->ctx.state_dir_lock, NULL);
    *state = f;
    return 0;
}

static int teardown_state(void **state)
{
    fixture *f = *state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        return -1;
    pthread_mutex_destroy(&f->ctx.state_dir_lock);
    free(f->ctx.state_dir);
    free(f);
    return 0;
}

static void state_files_are_replaced_whole(void **state)
{
    fixture *f = *state;
    size_t len = 99;
    errno = 0;
    assert_null(H->state_read(&f->ctx, "marks", &len));
    assert_int_equal(errno, ENOENT);
    assert_int_equal(H->state_write(&f->ctx, "marks", "first\n", 6), 0);
    assert_int_equal(H->state_write(&f->ctx, "marks", "2nd", 3), 0);
    char *text = H->state_read(&f->ctx, "marks", &len);
    assert_non_null(text);
    assert_int_equal(len, 3);
    assert_string_equal(text, "2nd");
    free(text);
    /* The file is where state_dir() says, and no temp file is left. */
    char path[256];
    snprintf(path, sizeof path, "%s/marks", f->dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 3);
    assert_int_equal(st.st_mode & 077, 0);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "test $(ls -A '%s' | wc -l) -eq 1", f->dir);
    assert_int_equal(system(cmd), 0);
    /* Binary content, NULs included. */
    assert_int_equal(H->state_write(&f->ctx, "bin", "a\0b", 3), 0);
    text = H->state_read(&f->ctx, "bin", &len);
    assert_int_equal(len, 3);
    assert_memory_equal(text, "a\0b", 3);
    free(text);
}

static void state_files_stay_in_the_state_directory(void **state)
{
    fixture *f = *state;
    const char *bad[] = {"", ".", "..", "../escape", "a/b", "/etc/passwd"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        errno = 0;
        assert_int_equal(H->state_write(&f->ctx, bad[i], "x", 1), -1);
        assert_int_equal(errno, EINVAL);
        assert_null(H->state_read(&f->ctx, bad[i], NULL));
    }
    char path[256];
    snprintf(path, sizeof path, "%s/../escape", f->dir);
    assert_int_not_equal(access(path, F_OK), 0);
}

static void url_join_puts_one_slash(void **unused)
{
    (void)unused;
    char out[64];
    assert_int_equal(H->url_join("http://h:6333", "/collections", out, sizeof out), 25);
    assert_string_equal(out, "http://h:6333/collections");
    H->url_join("http://h:6333///", "collections", out, sizeof out);
    assert_string_equal(out, "http://h:6333/collections");
    H->url_join("http://h/api/", "//v3/x?a=1", out, sizeof out);
    assert_string_equal(out, "http://h/api/v3/x?a=1");
    H->url_join("http://h/api//", "", out, sizeof out);
    assert_string_equal(out, "http://h/api");
    /* In place, for trimming a configured base. */
    char base[32] = "https://x.test/net/t//";
    H->url_join(base, "", base, sizeof base);
    assert_string_equal(base, "https://x.test/net/t");
    /* Too small: nothing half-written. */
    assert_int_equal(H->url_join("http://h", "abc", out, 12), 0);
    assert_string_equal(out, "");
    assert_int_equal(H->url_join("http://h", "abc", out, 13), 12);
}

static void url_escape_keeps_only_unreserved(void **unused)
{
    (void)unused;
    char out[128];
    assert_int_equal(H->url_escape("AZaz09-._~", out, sizeof out), 10);
    assert_string_equal(out, "AZaz09-._~");
    H->url_escape("a b/c?d&e=f%", out, sizeof out);
    assert_string_equal(out, "a%20b%2Fc%3Fd%26e%3Df%25");
    H->url_escape("\xc3\xa9t\xc3\xa9", out, sizeof out);
    assert_string_equal(out, "%C3%A9t%C3%A9");
    /* 3 * strlen + 1 always fits; one byte less does not. */
    assert_int_equal(H->url_escape("//", out, 7), 6);
    assert_int_equal(H->url_escape("//", out, 6), 0);
    assert_string_equal(out, "");
}

int main(void)
{
    es_log_configure(EMBSYNC_LOG_ERROR, ES_LOG_TEXT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(statuses_map_by_one_policy),
        cmocka_unit_test(error_text_names_the_answer),
        cmocka_unit_test(error_text_is_redacted),
        cmocka_unit_test(retry_after_is_passed_on),
        cmocka_unit_test(per_item_answers_fail_the_item),
        cmocka_unit_test_setup_teardown(state_files_are_replaced_whole,
                                        setup_state, teardown_state),
        cmocka_unit_test_setup_teardown(state_files_stay_in_the_state_directory,
                                        setup_state, teardown_state),
        cmocka_unit_test(url_join_puts_one_slash),
        cmocka_unit_test(url_escape_keeps_only_unreserved),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
