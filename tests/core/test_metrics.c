/* Prometheus text exposition of counters, gauges and histograms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "metrics.h"

static char *render(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);
    es_metrics_write(fp);
    fclose(fp);
    return text;
}

static void families_and_series(void **unused)
{
    (void)unused;
    es_metrics_reset();
    es_metric_add("embsync_items_total", "collection=\"a\"", 2);
    es_metric_set("embsync_queue_depth", "queue=\"to_store\"", 3);
    es_metric_add("embsync_items_total", "collection=\"b\"", 1);
    es_metric_add("embsync_items_total", "collection=\"a\"", 5);
    char *text = render();
    const char *want =
        "# HELP embsync_items_total Items handled per collection, by result "
        "(embedded, deleted, failed, deferred).\n"
        "# TYPE embsync_items_total counter\n"
        "embsync_items_total{collection=\"a\"} 7\n"
        "embsync_items_total{collection=\"b\"} 1\n"
        "# HELP embsync_queue_depth Batches waiting between two pipeline "
        "stages.\n"
        "# TYPE embsync_queue_depth gauge\n"
        "embsync_queue_depth{queue=\"to_store\"} 3\n";
    assert_string_equal(text, want);
    free(text);
}

static void histogram_buckets_are_cumulative(void **unused)
{
    (void)unused;
    es_metrics_reset();
    es_metric_observe("lat", "stage=\"embed\"", 0.003);
    es_metric_observe("lat", "stage=\"embed\"", 0.2);
    es_metric_observe("lat", "stage=\"embed\"", 100);
    char *text = render();
    assert_non_null(strstr(text, "# TYPE lat histogram\n"));
    assert_non_null(strstr(text, "lat_bucket{stage=\"embed\",le=\"0.005\"} 1\n"));
    assert_non_null(strstr(text, "lat_bucket{stage=\"embed\",le=\"0.1\"} 1\n"));
    assert_non_null(strstr(text, "lat_bucket{stage=\"embed\",le=\"0.25\"} 2\n"));
    assert_non_null(strstr(text, "lat_bucket{stage=\"embed\",le=\"60\"} 2\n"));
    assert_non_null(strstr(text, "lat_bucket{stage=\"embed\",le=\"+Inf\"} 3\n"));
    assert_non_null(strstr(text, "lat_sum{stage=\"embed\"} 100.203"));
    assert_non_null(strstr(text, "lat_count{stage=\"embed\"} 3\n"));
    assert_true(es_metric_get("lat", "stage=\"embed\"") == 3);
    free(text);
}

static void label_values_are_escaped(void **unused)
{
    (void)unused;
    es_metrics_reset();
    char labels[128];
    es_metric_labels(labels, sizeof labels, "collection", "we\"ird\\name\nx",
                     "result", "ok", NULL);
    assert_string_equal(labels,
                        "collection=\"we\\\"ird\\\\name\\nx\",result=\"ok\"");
    es_metric_add("embsync_items_total", labels, 1);
    char *text = render();
    assert_non_null(strstr(
        text, "embsync_items_total{collection=\"we\\\"ird\\\\name\\nx\","
              "result=\"ok\"} 1\n"));
    free(text);
}

static void a_long_value_is_cut_outside_an_escape(void **unused)
{
    (void)unused;
    char value[64];
    memset(value, '"', sizeof value - 1);
    value[sizeof value - 1] = '\0';
    /* 2 + 2 + 1 bytes of frame: room for 5 escapes and a half. */
    for (size_t len = 8; len < 20; len++) {
        char labels[20];
        es_metric_labels(labels, len, "c", value, NULL);
        size_t n = strlen(labels);
        assert_true(n < len);
        assert_true(n >= 4);
        assert_memory_equal(labels, "c=\"", 3);
        assert_int_equal(labels[n - 1], '"');
        /* Between the quotes: only complete \" pairs. */
        assert_int_equal((n - 4) % 2, 0);
        for (size_t i = 3; i + 1 < n; i += 2)
            assert_memory_equal(labels + i, "\\\"", 2);
    }
}

static void every_family_has_help_and_type(void **unused)
{
    (void)unused;
    es_metrics_reset();
    es_metric_add("embsync_plugin_pages_total", "plugin=\"x\"", 1);
    es_metric_set("something_else", "", 2);
    es_metric_observe("embsync_batch_duration_seconds", "stage=\"embed\"", 0.1);
    char *text = render();
    assert_non_null(strstr(text, "# HELP embsync_plugin_pages_total A counter a "
                                 "plugin reports about its own work.\n"
                                 "# TYPE embsync_plugin_pages_total counter\n"));
    assert_non_null(strstr(text, "# HELP something_else An embsync metric.\n"
                                 "# TYPE something_else gauge\n"));
    assert_non_null(strstr(text, "# HELP embsync_batch_duration_seconds "));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(families_and_series),
        cmocka_unit_test(histogram_buckets_are_cumulative),
        cmocka_unit_test(label_values_are_escaped),
        cmocka_unit_test(a_long_value_is_cut_outside_an_escape),
        cmocka_unit_test(every_family_has_help_and_type),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
