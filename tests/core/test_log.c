/* Log lines as journald and JSON readers see them: priority prefixes when
 * stderr is the journal stream, structured fields beside "msg", secrets
 * redacted in fields too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "log.h"

static char capture_path[64];
static int saved_stderr = -1;

/* Point stderr at a fresh file; returns its dev:inode as JOURNAL_STREAM
 * would name it. */
static void capture_start(char *stream, size_t len)
{
    strcpy(capture_path, "/tmp/es-log-XXXXXX");
    int fd = mkstemp(capture_path);
    assert_true(fd >= 0);
    fflush(stderr);
    saved_stderr = dup(STDERR_FILENO);
    assert_true(dup2(fd, STDERR_FILENO) >= 0);
    close(fd);
    struct stat st;
    assert_int_equal(fstat(STDERR_FILENO, &st), 0);
    snprintf(stream, len, "%llu:%llu", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino);
}

/* Restore stderr; returns the captured text (malloc'd). */
static char *capture_end(void)
{
    fflush(stderr);
    dup2(saved_stderr, STDERR_FILENO);
    close(saved_stderr);
    FILE *fp = fopen(capture_path, "r");
    assert_non_null(fp);
    char *text = calloc(1, 65536);
    assert_non_null(text);
    size_t n = fread(text, 1, 65535, fp);
    text[n] = '\0';
    fclose(fp);
    unlink(capture_path);
    return text;
}

static void journal_stream_gets_priorities(void **unused)
{
    (void)unused;
    char stream[64];
    capture_start(stream, sizeof stream);
    setenv("JOURNAL_STREAM", stream, 1);
    es_log_configure(EMBSYNC_LOG_DEBUG, ES_LOG_TEXT);
    es_error("an error %d", 1);
    es_warn("a warning");
    es_info("an info");
    es_debug("a debug line");
    es_log(EMBSYNC_LOG_WARNING, "qdrant", "from a plugin");
    const char *prefix = es_log_priority_prefix(EMBSYNC_LOG_ERROR);
    char *text = capture_end();
    assert_string_equal(prefix, "<3>");
    assert_string_equal(text, "<3>an error 1\n<4>a warning\n<6>an info\n"
                              "<7>a debug line\n<4>qdrant: from a plugin\n");
    free(text);

    /* The variable inherited, stderr elsewhere: plain stamped lines. */
    capture_start(stream, sizeof stream);
    setenv("JOURNAL_STREAM", "1:2", 1);
    es_log_configure(EMBSYNC_LOG_INFO, ES_LOG_TEXT);
    es_warn("not the journal");
    prefix = es_log_priority_prefix(EMBSYNC_LOG_ERROR);
    text = capture_end();
    assert_string_equal(prefix, "");
    assert_null(strstr(text, "<4>"));
    assert_non_null(strstr(text, "Z warning not the journal\n"));
    free(text);
    unsetenv("JOURNAL_STREAM");
}

static void json_fields_stand_alone(void **unused)
{
    (void)unused;
    char stream[64];
    capture_start(stream, sizeof stream);
    es_log_configure(EMBSYNC_LOG_INFO, ES_LOG_JSON);
    es_secret_add("hunter2-secret");
    const es_log_field fields[] = {
        ES_FIELD_STR("collection", "proj hunter2-secret"),
        ES_FIELD_U64("embedded", 12),
        ES_FIELD_U64("failed", 0),
        ES_FIELD_DBL("duration", 1.5),
        ES_FIELD_STR("msg", "must not replace the message"),
    };
    es_log_fields(EMBSYNC_LOG_INFO, NULL, fields, 5, "collection %s: %d embedded",
                  "proj", 12);
    char *text = capture_end();
    es_secret_clear();
    es_log_configure(EMBSYNC_LOG_INFO, ES_LOG_TEXT);
    cJSON *o = cJSON_Parse(text);
    free(text);
    assert_non_null(o);
    assert_string_equal(cJSON_GetObjectItem(o, "msg")->valuestring,
                        "collection proj: 12 embedded");
    assert_string_equal(cJSON_GetObjectItem(o, "level")->valuestring, "info");
    assert_string_equal(cJSON_GetObjectItem(o, "collection")->valuestring,
                        "proj ***");
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(o, "embedded")));
    assert_int_equal(cJSON_GetObjectItem(o, "embedded")->valueint, 12);
    assert_int_equal(cJSON_GetObjectItem(o, "failed")->valueint, 0);
    assert_true(cJSON_GetObjectItem(o, "duration")->valuedouble == 1.5);
    cJSON_Delete(o);
}

static void text_lines_show_the_message_alone(void **unused)
{
    (void)unused;
    char stream[64];
    capture_start(stream, sizeof stream);
    es_log_configure(EMBSYNC_LOG_INFO, ES_LOG_TEXT);
    const es_log_field fields[] = {ES_FIELD_U64("embedded", 3)};
    es_log_fields(EMBSYNC_LOG_INFO, NULL, fields, 1, "three embedded");
    char *text = capture_end();
    assert_non_null(strstr(text, "Z info    three embedded\n"));
    assert_null(strstr(text, "embedded\":"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(journal_stream_gets_priorities),
        cmocka_unit_test(json_fields_stand_alone),
        cmocka_unit_test(text_lines_show_the_message_alone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
