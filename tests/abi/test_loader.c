/* The loader refuses broken modules with one line naming file and reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "module.h"

static char dir[4096];

static es_module *load(const char *name, int kind, char *err, size_t len)
{
    err[0] = '\0';
    return es_module_load(dir, name, kind, err, len);
}

static void assert_refused(const char *name, int kind, const char *reason)
{
    char err[1024];
    es_module *m = load(name, kind, err, sizeof err);
    if (m != NULL)
        fail_msg("%s was loaded, expected a refusal", name);
    if (strstr(err, name) == NULL || strstr(err, reason) == NULL)
        fail_msg("refusal of %s says '%s', expected the file and '%s'", name,
                 err, reason);
    assert_null(strchr(err, '\n'));
}

static void good_module_loads(void **unused)
{
    (void)unused;
    char err[1024];
    es_module *m = load("mod_good", EMBSYNC_KIND_STORE, err, sizeof err);
    if (m == NULL)
        fail_msg("%s", err);
    assert_string_equal(m->desc.name, "teststore");
    assert_non_null(m->ops.store.upsert);
    es_module_unload(m);
}

/* A plugin built against ABI 1.1 loads; what its smaller tables do not
 * hold reads as absent, whatever lies in memory after them. */
static void module_built_for_1_1_loads(void **unused)
{
    (void)unused;
    char err[1024];
    es_module *m = load("mod_v1_1", EMBSYNC_KIND_STORE, err, sizeof err);
    if (m == NULL)
        fail_msg("%s", err);
    assert_int_equal(m->ops.store.abi.minor, 1);
    assert_int_equal(m->ops.store.abi.size, 80);
    assert_non_null(m->ops.store.drop);
    assert_null(m->ops.store.list_ids);
    assert_null(m->ops.store.contains);
    assert_null(m->ops.store.alias_get);
    assert_null(m->ops.store.alias_set);
    es_module_unload(m);
}

static void no_entry_symbol(void **unused)
{
    (void)unused;
    assert_refused("mod_noentry", EMBSYNC_KIND_STORE, "no entry symbol");
}

static void other_major(void **unused)
{
    (void)unused;
    assert_refused("mod_major", EMBSYNC_KIND_STORE, "major differs");
}

static void newer_minor(void **unused)
{
    (void)unused;
    assert_refused("mod_minor", EMBSYNC_KIND_STORE, "newer than this embsync");
}

static void short_size(void **unused)
{
    (void)unused;
    assert_refused("mod_size", EMBSYNC_KIND_STORE, "declares size 12");
}

static void unknown_kind(void **unused)
{
    (void)unused;
    assert_refused("mod_kind", 0, "unknown kind 42");
}

static void wrong_kind_for_section(void **unused)
{
    (void)unused;
    assert_refused("mod_good", EMBSYNC_KIND_SOURCE,
                   "is a store plugin, but the [source] section takes a source plugin");
}

static void missing_file(void **unused)
{
    (void)unused;
    char err[1024];
    assert_null(load("mod_does_not_exist", EMBSYNC_KIND_STORE, err, sizeof err));
    assert_non_null(strstr(err, "mod_does_not_exist"));
    assert_non_null(strstr(err, "cannot load plugin"));
}

static void descriptor_missing_operation(void **unused)
{
    (void)unused;
    static const embsync_source_ops ops = {
        .abi = EMBSYNC_ABI_INIT(embsync_source_ops),
    };
    static const embsync_plugin d = {
        .abi = EMBSYNC_ABI_INIT(embsync_plugin),
        .kind = EMBSYNC_KIND_SOURCE,
        .name = "empty",
        .ops = &ops,
    };
    char err[1024];
    assert_null(es_module_from_descriptor(&d, "inline", EMBSYNC_KIND_SOURCE,
                                          err, sizeof err));
    assert_non_null(strstr(err, "has no open operation"));
}

int main(void)
{
    const char *top = getenv("top_builddir");
    snprintf(dir, sizeof dir, "%s/tests/abi", top ? top : ".");
    es_modules_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(good_module_loads),
        cmocka_unit_test(module_built_for_1_1_loads),
        cmocka_unit_test(no_entry_symbol),
        cmocka_unit_test(other_major),
        cmocka_unit_test(newer_minor),
        cmocka_unit_test(short_size),
        cmocka_unit_test(unknown_kind),
        cmocka_unit_test(wrong_kind_for_section),
        cmocka_unit_test(missing_file),
        cmocka_unit_test(descriptor_missing_operation),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    es_modules_exit();
    return rc;
}
