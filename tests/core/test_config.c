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
#include "corekeys.h"
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

/* ${NAME:-DEFAULT}: the default when NAME is unset or empty (nested
 * references expanded); a value made only of such references that comes
 * out empty leaves its key unset, so the plugin's default applies. */
static void env_defaults(void **unused)
{
    (void)unused;
    setenv("ES_TEST_ROOT", "/from/env", 1);
    setenv("ES_TEST_EMPTY", "", 1);
    unsetenv("ES_TEST_UNSET");
    es_config cfg;
    char err[1024];
    write_ini("[core]\ninterval = ${ES_TEST_UNSET:-25}\n"
              "log_level = ${ES_TEST_EMPTY:-}\n"
              "autoupdater_listen = ${ES_TEST_UNSET:-127.0.0.1:30303}\n"
              "autoupdater_without_token = yes\n" PLUGINS
              "root = ${ES_TEST_UNSET:-/dflt}\n"
              "a = ${ES_TEST_EMPTY:-/d2}\n"
              "b = ${ES_TEST_ROOT:-/unused}\n"
              "c = ${ES_TEST_UNSET:-${ES_TEST_ROOT}/n}\n"
              "d = ${ES_TEST_EMPTY}\n"
              "e = ${ES_TEST_UNSET:-}${ES_TEST_EMPTY:-}\n"
              "f = x${ES_TEST_UNSET:-}\n");
    assert_int_equal(es_config_load(path, &cfg, err, sizeof err), 0);
    assert_int_equal(cfg.interval_min, 25);
    assert_int_equal(cfg.log_level, EMBSYNC_LOG_INFO);
    assert_string_equal(cfg.autoupdater_listen, "127.0.0.1:30303");
    assert_int_equal(cfg.autoupdater_without_token, 1);
    assert_int_equal(cfg.store.n_entries, 7);
    assert_string_equal(cfg.store.entries[0].value, "/dflt");
    assert_string_equal(cfg.store.entries[1].value, "/d2");
    assert_string_equal(cfg.store.entries[2].value, "/from/env");
    assert_string_equal(cfg.store.entries[3].value, "/from/env/n");
    assert_string_equal(cfg.store.entries[4].value, ""); /* plain: kept */
    assert_null(cfg.store.entries[5].value);             /* left unset */
    assert_string_equal(cfg.store.entries[6].value, "x");
    es_config_free(&cfg);
    unlink(path);

    /* A key left unset is still checked, and takes the plugin default. */
    expect_error("[core]\nintervl = ${ES_TEST_UNSET:-}\n" PLUGINS,
                 ":2: [core] intervl:", "unknown key");
    es_plugin_config pc;
    assert_int_equal(build("root = /r\nsize = ${ES_TEST_EMPTY:-}\n", &pc, err,
                           sizeof err), 0);
    assert_string_equal(es_plugin_config_get(&pc, "size", NULL), "224");
    es_plugin_config_free(&pc);
    assert_int_equal(build("root = ${ES_TEST_UNSET:-}\n", &pc, err, sizeof err), -1);
    assert_non_null(strstr(err, "[source] root: required by plugin dir"));
    assert_int_equal(build("root = /r\nsise = ${ES_TEST_UNSET:-}\n", &pc, err,
                           sizeof err), -1);
    assert_non_null(strstr(err, "[source] sise: unknown key for plugin dir"));

    expect_error(PLUGINS "root = ${ES_TEST_UNSET:-${ES_TEST_ROOT}\n", ":7:",
                 "unterminated");
    expect_error(PLUGINS "root = ${:-x}\n", ":7:", "bad variable name");
    expect_error(PLUGINS "root = ${ES_TEST_UNSET:-${ES_TEST_UNSET}}\n",
                 ":7: [store] root:", "ES_TEST_UNSET is not set");
    expect_error("[core]\nautoupdater_without_token = sometimes\n" PLUGINS,
                 ":2: [core] autoupdater_without_token:", "'sometimes'");
}

/* A credential directory as systemd's LoadCredential= leaves it. */
static void make_credentials(char *dir, const char *name, const char *value)
{
    strcpy(dir, "/tmp/es-creds-XXXXXX");
    assert_non_null(mkdtemp(dir));
    char file[128];
    snprintf(file, sizeof file, "%s/%s", dir, name);
    FILE *fp = fopen(file, "w");
    assert_non_null(fp);
    fputs(value, fp);
    fclose(fp);
}

static void remove_credentials(const char *dir, const char *name)
{
    char file[128];
    snprintf(file, sizeof file, "%s/%s", dir, name);
    unlink(file);
    rmdir(dir);
}

static void secret_from_credential(void **unused)
{
    (void)unused;
    char dir[64];
    make_credentials(dir, "sly-token", "cr3d-T0ken-value\n");
    setenv("CREDENTIALS_DIRECTORY", dir, 1);
    es_plugin_config pc;
    char err[1024];
    assert_int_equal(build("root = /r\ntoken_credential = sly-token\n", &pc,
                           err, sizeof err), 0);
    assert_string_equal(es_plugin_config_get(&pc, "token", NULL),
                        "cr3d-T0ken-value");
    char out[128];
    es_redact("Bearer cr3d-T0ken-value", out, sizeof out);
    assert_string_equal(out, "Bearer ***");
    es_plugin_config_free(&pc);

    /* Only string keys take one, as with _file. */
    assert_int_equal(build("root = /r\nsize_credential = sly-token\n", &pc,
                           err, sizeof err), -1);
    assert_non_null(strstr(err, "[source] size_credential: unknown key"));
    /* One value, one way. */
    assert_int_equal(build("root = /r\ntoken = x\ntoken_credential = sly-token\n",
                           &pc, err, sizeof err), -1);
    assert_non_null(strstr(err, "token is already set"));
    /* A name, not a path. */
    assert_int_equal(build("root = /r\ntoken_credential = ../etc/passwd\n",
                           &pc, err, sizeof err), -1);
    assert_non_null(strstr(err, "'../etc/passwd' is not a credential name"));

    /* Missing from the directory: the error names it and the unit line. */
    assert_int_equal(build("root = /r\ntoken_credential = qdrant-key\n", &pc,
                           err, sizeof err), -1);
    assert_non_null(strstr(err, ":8: [source] token_credential: credential qdrant-key:"));
    assert_non_null(strstr(err, "LoadCredential=qdrant-key:"));

    /* Outside a unit: no directory at all. */
    unsetenv("CREDENTIALS_DIRECTORY");
    assert_int_equal(build("root = /r\ntoken_credential = sly-token\n", &pc,
                           err, sizeof err), -1);
    assert_non_null(strstr(err, "$CREDENTIALS_DIRECTORY is not set"));
    remove_credentials(dir, "sly-token");
}

static void control_token_from_credential(void **unused)
{
    (void)unused;
    char dir[64];
    make_credentials(dir, "control", "ctl-S3cret-token\n");
    setenv("CREDENTIALS_DIRECTORY", dir, 1);
    es_config cfg;
    char err[1024];
    write_ini("[core]\ncontrol_token_credential = control\n" PLUGINS);
    assert_int_equal(es_config_load(path, &cfg, err, sizeof err), 0);
    assert_string_equal(cfg.control_token, "ctl-S3cret-token");
    char out[128];
    es_redact("token ctl-S3cret-token", out, sizeof out);
    assert_string_equal(out, "token ***");
    es_config_free(&cfg);
    unlink(path);
    unsetenv("CREDENTIALS_DIRECTORY");
    expect_error("[core]\ncontrol_token_credential = control\n" PLUGINS,
                 ":2: [core] control_token_credential:",
                 "$CREDENTIALS_DIRECTORY is not set");
    remove_credentials(dir, "control");
}

/* embsync.ini(5) is written from es_core_keys: it must name exactly the
 * keys the parser accepts. */
static void documented_core_keys_are_the_parsed_ones(void **unused)
{
    (void)unused;
    size_t documented = 0, parsed = 0;
    for (const embsync_config_key *k = es_core_keys; k->name != NULL; k++) {
        documented++;
        size_t i;
        for (i = 0; es_config_core_key(i) != NULL; i++)
            if (strcmp(es_config_core_key(i), k->name) == 0)
                break;
        if (es_config_core_key(i) == NULL)
            fail_msg("[core] %s is documented but not parsed", k->name);
    }
    for (; es_config_core_key(parsed) != NULL; parsed++) {
        const embsync_config_key *k;
        for (k = es_core_keys; k->name != NULL; k++)
            if (strcmp(es_config_core_key(parsed), k->name) == 0)
                break;
        if (k->name == NULL)
            fail_msg("[core] %s is parsed but not documented in core/corekeys.c",
                     es_config_core_key(parsed));
    }
    assert_int_equal(documented, parsed);

    /* Each documented default is one the parser takes. */
    for (const embsync_config_key *k = es_core_keys; k->name != NULL; k++) {
        if (k->default_value == NULL || *k->default_value == '\0')
            continue;
        char text[512];
        snprintf(text, sizeof text, "[core]\n%s = %s\n" PLUGINS, k->name,
                 k->default_value);
        es_config cfg;
        char err[1024];
        write_ini(text);
        int rc = es_config_load(path, &cfg, err, sizeof err);
        es_config_free(&cfg);
        unlink(path);
        if (rc != 0)
            fail_msg("documented default of [core] %s refused: %s", k->name, err);
    }
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
        cmocka_unit_test(secret_from_credential),
        cmocka_unit_test(control_token_from_credential),
        cmocka_unit_test(documented_core_keys_are_the_parsed_ones),
        cmocka_unit_test(line_too_long),
        cmocka_unit_test(env_defaults),
        cmocka_unit_test(malformed_line_is_named_itself),
        cmocka_unit_test(empty_plugin_names_its_line),
        cmocka_unit_test(empty_required_key),
        cmocka_unit_test(unknown_key_lists_the_known),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
