/* faiss-local's alias links: repointing replaces the link in one rename,
 * a plain collection directory is moved to the trash with the link put in
 * its place, a switch cut short by a crash is finished (or its leftover
 * removed) at the next open, and removing or sweeping never follows a link
 * into the collection it names. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "alias.h"
#include "collection.h"

static char root[64];

static void path(char *out, size_t len, const char *entry)
{
    snprintf(out, len, "%s/%s", root, entry);
}

static void make_dir_with_file(const char *entry)
{
    char p[256];
    path(p, sizeof p, entry);
    assert_int_equal(mkdir(p, 0700), 0);
    snprintf(p, sizeof p, "%s/%s/meta.json", root, entry);
    FILE *fp = fopen(p, "w");
    assert_non_null(fp);
    fputs("{}", fp);
    fclose(fp);
}

static int has_meta(const char *entry)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s/meta.json", root, entry);
    return access(p, F_OK) == 0;
}

static int setup(void **unused)
{
    (void)unused;
    strcpy(root, "/tmp/es-alias-XXXXXX");
    assert_non_null(mkdtemp(root));
    return 0;
}

static int teardown(void **unused)
{
    (void)unused;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_read(void **unused)
{
    (void)unused;
    char p[256], out[64];
    make_dir_with_file("plain");
    path(p, sizeof p, "plain");
    assert_int_equal(fl_alias_read(p, out, sizeof out), 0);
    path(p, sizeof p, "none");
    assert_int_equal(fl_alias_read(p, out, sizeof out), 0);
    /* A link this plugin never makes (a path) is refused, not followed. */
    path(p, sizeof p, "foreign");
    assert_int_equal(symlink("/etc", p), 0);
    assert_int_equal(fl_alias_read(p, out, sizeof out), -1);
}

static void test_point_and_repoint(void **unused)
{
    (void)unused;
    char p[256], out[64], trash[256];
    int replaced = -1;
    make_dir_with_file("x");
    make_dir_with_file("y");
    path(trash, sizeof trash, FL_DROPPED_PREFIX "name");
    assert_int_equal(fl_alias_point(root, "name", "x", trash, &replaced), 0);
    assert_int_equal(replaced, 0);
    path(p, sizeof p, "name");
    assert_int_equal(fl_alias_read(p, out, sizeof out), 1);
    assert_string_equal(out, "x");
    assert_true(has_meta("name"));
    assert_int_equal(fl_alias_point(root, "name", "y", trash, &replaced), 0);
    assert_int_equal(replaced, 0);
    assert_int_equal(fl_alias_read(p, out, sizeof out), 1);
    assert_string_equal(out, "y");
    assert_true(has_meta("x"));  /* the former target is left alone */
    path(p, sizeof p, FL_ALIAS_NEW_PREFIX "name");
    assert_int_equal(access(p, F_OK), -1);
}

static void test_plain_directory_replaced(void **unused)
{
    (void)unused;
    char p[256], out[64], trash[256];
    int replaced = 0;
    make_dir_with_file("name");
    make_dir_with_file("x");
    path(trash, sizeof trash, FL_DROPPED_PREFIX "name");
    assert_int_equal(fl_alias_point(root, "name", "x", trash, &replaced), 0);
    assert_int_equal(replaced, 1);
    path(p, sizeof p, "name");
    assert_int_equal(fl_alias_read(p, out, sizeof out), 1);
    assert_string_equal(out, "x");
    assert_true(has_meta(FL_DROPPED_PREFIX "name"));
    /* The sweep deletes the trash and nothing the link names. */
    assert_int_equal(fl_collection_sweep(root), 0);
    assert_false(has_meta(FL_DROPPED_PREFIX "name"));
    assert_true(has_meta("x"));
    assert_true(has_meta("name"));
}

static void test_sweep_finishes_cut_short_switch(void **unused)
{
    (void)unused;
    char p[256], out[64];
    make_dir_with_file("x");
    /* Crash after the plain directory went to the trash, before the
     * rename of the new link: the name is free, the link takes it. */
    path(p, sizeof p, FL_ALIAS_NEW_PREFIX "name");
    assert_int_equal(symlink("x", p), 0);
    /* Crash before a repoint's rename: the name is taken, the new link
     * is a leftover. */
    path(p, sizeof p, "other");
    assert_int_equal(symlink("x", p), 0);
    path(p, sizeof p, FL_ALIAS_NEW_PREFIX "other");
    assert_int_equal(symlink("y", p), 0);
    assert_int_equal(fl_alias_sweep(root), 0);
    path(p, sizeof p, "name");
    assert_int_equal(fl_alias_read(p, out, sizeof out), 1);
    assert_string_equal(out, "x");
    path(p, sizeof p, "other");
    assert_int_equal(fl_alias_read(p, out, sizeof out), 1);
    assert_string_equal(out, "x");
    path(p, sizeof p, FL_ALIAS_NEW_PREFIX "other");
    assert_int_equal(access(p, F_OK), -1);
    assert_int_equal(errno, ENOENT);
}

static void test_unlink_keeps_target(void **unused)
{
    (void)unused;
    char p[256], trash[256];
    int replaced;
    make_dir_with_file("x");
    path(trash, sizeof trash, FL_DROPPED_PREFIX "name");
    assert_int_equal(fl_alias_point(root, "name", "x", trash, &replaced), 0);
    assert_int_equal(fl_alias_unlink(root, "name"), 0);
    path(p, sizeof p, "name");
    struct stat st;
    assert_int_equal(lstat(p, &st), -1);
    assert_true(has_meta("x"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_point_and_repoint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plain_directory_replaced, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep_finishes_cut_short_switch, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unlink_keeps_target, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
