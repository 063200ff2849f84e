/* Config parsing, including every error path: each names file, line, key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "configfile.h"
#include "log.h"

static char path[64];

static void write_ini(const char *text)
{
    strcpy(path, "/tmp/es-config-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

#define PLUGINS "[source]\nplugin = dir\n[embedder]\nplugin = descriptor\n[store]\nplugin = faiss-local\n"

/* Load text; expect failure whose message contains each needle. */
static void expect_error(const char *text, const char *needle1,
                         const char *needle2)
{
    es_config cfg;
    char err[1024] = "";
    write_ini(text);
    int rc = es_config_load(path, &cfg, err, sizeof err);
    es_config_free(&cfg);
    unlink(path);
    if (rc == 0)
        fail_msg("accepted, expected an error with '%s'", needle1);
    if (strstr(err, path) == NULL || strstr(err, needle1) == NULL ||
        (needle2 && strstr(err, needle2) == NULL))
        fail_msg("error '%s' lacks file or '%s' / '%s'", err, needle1,
                 needle2 ? needle2 : "");
}

static void defaults_and_values(void **unused)
{
    (void)unused;
    es_config cfg;
    char err[1024];
    write_ini("[core]\nstate_dir = /tmp/st\nbatch_size = 7\n" PLUGINS
              "root = /data\n");
    assert_int_equal(es_config_load(path, &cfg, err, sizeof err), 0);
    assert_int_equal(cfg.interval_min, 10);
    assert_int_equal(cfg.batch_size, 7);
    assert_string_equal(cfg.state_dir, "/tmp/st");
    assert_string_equal(cfg.source.plugin, "dir");
    assert_int_equal(cfg.source.n_entries, 0);
    assert_int_equal(cfg.store.n_entries, 1);
    assert_string_equal(cfg.store.entries[0].key, "root");
    assert_int_equal(cfg.store.entries[0].line, 10);
    assert_int_equal(cfg.store.line, 8);
    assert_string_equal(cfg.store.plugin, "faiss-local");
    es_config_free(&cfg);
    unlink(path);
}

static void interval_out_of_range(void **unused)
{
    (void)unused;
    expect_error("[core]\ninterval = 0\n" PLUGINS, ":2: [core] interval:",
                 "1 to 1440");
    expect_error("[core]\n\ninterval = 1441\n" PLUGINS, ":3: [core] interval:",
                 NULL);
    expect_error("[core]\ninterval = ten\n" PLUGINS, ":2:", "'ten'");
}

static void unknown_core_key(void **unused)
{
    (void)unused;
    expect_error("[core]\nintervl = 5\n" PLUGINS, ":2: [core] intervl:",
                 "unknown key");
}

static void bad_log_level(void **unused)
{
    (void)unused;
    expect_error("[core]\nlog_level = loud\n" PLUGINS, ":2: [core] log_level:",
                 "loud");
}

static void unknown_section(void **unused)
{
    (void)unused;
    expect_error(PLUGINS "[sorce]\nplugin = dir\n", ":8: [sorce] plugin:",
                 "unknown section");
}

static void missing_plugin_section(void **unused)
{
    (void)unused;
    expect_error("[source]\nplugin = dir\n[store]\nplugin = x\n",
                 "missing section [embedder]", NULL);
    expect_error("[source]\nroot = /x\n[embedder]\nplugin = d\n[store]\nplugin = x\n",
                 ":1: [source] plugin:", "missing key");
}

static void duplicate_key(void **unused)
{
    (void)unused;
    expect_error(PLUGINS "root = /a\nroot = /b\n", ":8: [store] root:",
                 "first on line 7");
}

static void env_expansion(void **unused)
{
    (void)unused;
    setenv("ES_TEST_ROOT", "/from/env", 1);
    es_config cfg;
    char err[1024];
    write_ini(PLUGINS "root = ${ES_TEST_ROOT}/x\n");
    assert_int_equal(es_config_load(path, &cfg, err, sizeof err), 0);
    assert_string_equal(cfg.store.entries[0].value, "/from/env/x");
    es_config_free(&cfg);
    unlink(path);
    unsetenv("ES_TEST_UNSET");
    expect_error(PLUGINS "root = ${ES_TEST_UNSET}\n", ":7: [store] root:",
                 "ES_TEST_UNSET is not set");
    expect_error(PLUGINS "root = ${ES_TEST_ROOT\n", ":7:", "unterminated");
}

static void syntax_error(void **unused)
{
    (void)unused;
    expect_error(PLUGINS "this line has no equals sign\n", ":7:", "syntax");
    expect_error("orphan = 1\n" PLUGINS, ":1:", "outside of any [section]");
}

static const embsync_config_key keys[] = {
    {"root", EMBSYNC_KEY_STRING, NULL, EMBSYNC_KEY_REQUIRED, "folder"},
    {"size", EMBSYNC_KEY_INT, "224", 0, "pixels"},
    {"verify", EMBSYNC_KEY_BOOL, "true", 0, "TLS"},
    {"token", EMBSYNC_KEY_STRING, NULL, EMBSYNC_KEY_SECRET, "secret"},
    {NULL, 0, NULL, 0, NULL},
};

static int build(const char *section_text, es_plugin_config *pc, char *err,
                 size_t len)
{
    char text[2048];
    snprintf(text, sizeof text,
             "[embedder]\nplugin = d\n[store]\nplugin = s\n[source]\nplugin = dir\n%s",
             section_text);
    es_config cfg;
    write_ini(text);
    int rc = es_config_load(path, &cfg, err, len);
    if (rc == 0)
        rc = es_plugin_config_build(&cfg, &cfg.source, keys, sizeof keys[0],
                                    pc, err, len);
    es_config_free(&cfg);
    unlink(path);
    return rc;
}

static void plugin_keys_validated(void **unused)
{
    (void)unused;
    es_plugin_config pc;
    char err[1024];
    assert_int_equal(build("root = /r\nsize = 64\n", &pc, err, sizeof err), 0);
    assert_string_equal(es_plugin_config_get(&pc, "root", NULL), "/r");
    assert_string_equal(es_plugin_config_get(&pc, "size", NULL), "64");
    assert_string_equal(es_plugin_config_get(&pc, "verify", NULL), "true");
    assert_null(es_plugin_config_get(&pc, "token", NULL));
    es_plugin_config_free(&pc);

    assert_int_equal(build("root = /r\nsise = 64\n", &pc, err, sizeof err), -1);
    assert_non_null(strstr(err, ":8: [source] sise: unknown key for plugin dir"));
    assert_int_equal(build("root = /r\nsize = big\n", &pc, err, sizeof err), -1);
    assert_non_null(strstr(err, ":8: [source] size: expected an integer"));
    assert_int_equal(build("root = /r\nverify = maybe\n", &pc, err, sizeof err), -1);
    assert_non_null(strstr(err, "[source] verify: expected a boolean"));
    assert_int_equal(build("size = 1\n", &pc, err, sizeof err), -1);
    assert_non_null(strstr(err, ":5: [source] root: required by plugin dir"));
}

static void secret_from_file_is_redacted(void **unused)
{
    (void)unused;
    char secret_path[] = "/tmp/es-secret-XXXXXX";
    int fd = mkstemp(secret_path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "s3cr3t-t0ken\n", 13), 13);
    close(fd);
    char text[256];
    snprintf(text, sizeof text, "root = /r\ntoken_file = %s\n", secret_path);
    es_plugin_config pc;
    char err[1024];
    assert_int_equal(build(text, &pc, err, sizeof err), 0);
    assert_string_equal(es_plugin_config_get(&pc, "token", NULL), "s3cr3t-t0ken");
    char out[128];
    es_redact("auth=s3cr3t-t0ken;", out, sizeof out);
    assert_string_equal(out, "auth=***;");
    es_plugin_config_free(&pc);

    snprintf(text, sizeof text, "root = /r\ntoken = a\ntoken_file = %s\n",
             secret_path);
    assert_int_equal(build(text, &pc, err, sizeof err), -1);
    assert_non_null(strstr(err, "token is already set"));
    unlink(secret_path);
    snprintf(text, sizeof text, "root = /r\ntoken_file = %s\n", secret_path);
    assert_int_equal(build(text, &pc, err, sizeof err), -1);
    assert_non_null(strstr(err, "[source] token_file: cannot read"));
}

static void line_too_long(void **unused)
{
    (void)unused;
    char text[1024];
    char big[600];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    snprintf(text, sizeof text, PLUGINS "root = %s\n", big);
    expect_error(text, ":7:", "line longer than");
}

/* inih goes on after a malformed line; the error must name that line, not
 * what the following lines then look like. */
static void malformed_line_is_named_itself(void **unused)
{
    (void)unused;
    /* Without its ']', [embedder]'s plugin line would be a second
     * `plugin =` in [source]. */
    expect_error("[source]\nplugin = dir\n[embedder\nplugin = descriptor\n"
                 "[store]\nplugin = faiss-local\n",
                 ":3: section header without closing ']'", NULL);
    expect_error("[source]\nplugin = dir\nroot /x\nroot = /y\nroot = /z\n"
                 "[embedder]\nplugin = d\n[store]\nplugin = s\n",
                 ":3: syntax error", NULL);
    /* Comments and blank lines are no syntax errors. */
    es_config cfg;
    char err[512];
    write_ini("; comment\n# comment\n\n  ; indented\n" PLUGINS "root = /a\n");
    int rc = es_config_load(path, &cfg, err, sizeof err);
    unlink(path);
    assert_int_equal(rc, 0);
    es_config_free(&cfg);
}

static void empty_plugin_names_its_line(void **unused)
{
    (void)unused;
    expect_error("[source]\nroot = /x\nplugin =\n[embedder]\nplugin = d\n"
                 "[store]\nplugin = x\n",
                 ":3: [source] plugin: empty", NULL);
}

static void empty_required_key(void **unused)
{
    (void)unused;
    es_plugin_config pc;
    char err[1024];
    assert_int_equal(build("size = 1\nroot =\n", &pc, err, sizeof err), -1);
    assert_non_null(strstr(err, ":8: [source] root: required by plugin dir, but empty"));
    assert_non_null(strstr(err, path));
    /* An empty optional string is a value like any other. */
    assert_int_equal(build("root = /r\ntoken =\n", &pc, err, sizeof err), 0);
    es_plugin_config_free(&pc);
}

static void unknown_key_lists_the_known(void **unused)
{
    (void)unused;
    es_plugin_config pc;
    char err[1024];
    assert_int_equal(build("root = /r\nsise = 64\n", &pc, err, sizeof err), -1);
    assert_non_null(strstr(err, "(its keys: root, size, verify, token)"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_and_values),
        cmocka_unit_test(interval_out_of_range),
        cmocka_unit_test(unknown_core_key),
        cmocka_unit_test(bad_log_level),
        cmocka_unit_test(unknown_section),
        cmocka_unit_test(missing_plugin_section),
        cmocka_unit_test(duplicate_key),
        cmocka_unit_test(env_expansion),
        cmocka_unit_test(syntax_error),
        cmocka_unit_test(plugin_keys_validated),
        cmocka_unit_test(secret_from_file_is_redacted),
        cmocka_unit_test(line_too_long),
        cmocka_unit_test(malformed_line_is_named_itself),
        cmocka_unit_test(empty_plugin_names_its_line),
        cmocka_unit_test(empty_required_key),
        cmocka_unit_test(unknown_key_lists_the_known),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
