/* [core] shard = K/N: parsing, and an assignment that partitions the
 * collections, spreads them evenly and never moves for a given N. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>

#include "configfile.h"
#include "shard.h"

static void parses_k_of_n(void **unused)
{
    (void)unused;
    es_shard s;
    char why[128];
    assert_int_equal(es_shard_parse("2/3", &s, why, sizeof why), 0);
    assert_int_equal(s.k, 2);
    assert_int_equal(s.n, 3);
    assert_int_equal(es_shard_parse("1/1", &s, why, sizeof why), 0);
    assert_int_equal(es_shard_parse("1024/1024", &s, why, sizeof why), 0);
    const char *bad[] = {"", "3", "/3", "2/", "0/3", "4/3", "1/0", "-1/3",
                         "1/1025", "a/3", "1/3x", "1//3"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        why[0] = '\0';
        if (es_shard_parse(bad[i], &s, why, sizeof why) == 0)
            fail_msg("accepted '%s'", bad[i]);
        assert_non_null(strstr(why, "K/N"));
    }
}

/* Each collection belongs to exactly one of N, and N daemons given 1/N to
 * N/N own it once between them. */
static void partitions_and_spreads(void **unused)
{
    (void)unused;
    for (unsigned n = 1; n <= 7; n++) {
        unsigned per[8] = {0};
        for (int i = 0; i < 7000; i++) {
            char name[32];
            snprintf(name, sizeof name, "%d", 1000 + i);
            unsigned owners = 0;
            for (unsigned k = 1; k <= n; k++) {
                es_shard s = {k, n};
                if (es_shard_owns(&s, name)) {
                    owners++;
                    per[k]++;
                }
            }
            assert_int_equal(owners, 1);
        }
        for (unsigned k = 1; k <= n; k++) {
            /* 7000/n each, within 10% */
            double share = (double)per[k] * n / 7000.0;
            if (share < 0.9 || share > 1.1)
                fail_msg("shard %u/%u holds %u of 7000", k, n, per[k]);
        }
    }
    es_shard all = {0, 0};
    assert_true(es_shard_owns(&all, "anything"));
}

/* The hash is part of the deployment: changing it would move collections
 * between running daemons.  These values pin XXH3-64 modulo N. */
static void assignment_is_pinned(void **unused)
{
    (void)unused;
    static const struct {
        const char *name;
        unsigned n, shard;
    } pinned[] = {
#include "test_shard_pinned.h"
    };
    for (size_t i = 0; i < sizeof pinned / sizeof *pinned; i++)
        if (es_shard_of(pinned[i].name, pinned[i].n) != pinned[i].shard)
            fail_msg("%s among %u: shard %u, pinned %u", pinned[i].name,
                     pinned[i].n, es_shard_of(pinned[i].name, pinned[i].n),
                     pinned[i].shard);
}

static void config_key(void **unused)
{
    (void)unused;
    char path[] = "/tmp/es-shard-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "[core]\nshard = 3/4\n[source]\nplugin = dir\n"
                       "[embedder]\nplugin = descriptor\n[store]\n"
                       "plugin = faiss-local\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    es_config cfg;
    char err[512] = "";
    assert_int_equal(es_config_load(path, &cfg, err, sizeof err), 0);
    assert_int_equal(cfg.shard.k, 3);
    assert_int_equal(cfg.shard.n, 4);
    es_config_free(&cfg);

    fd = open(path, O_WRONLY | O_TRUNC);
    text = "[core]\ninterval = 5\nshard = 5/4\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    assert_int_not_equal(es_config_load(path, &cfg, err, sizeof err), 0);
    es_config_free(&cfg);
    unlink(path);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, ":3"));
    assert_non_null(strstr(err, "shard"));
    assert_non_null(strstr(err, "5/4"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_k_of_n),
        cmocka_unit_test(partitions_and_spreads),
        cmocka_unit_test(assignment_is_pinned),
        cmocka_unit_test(config_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
