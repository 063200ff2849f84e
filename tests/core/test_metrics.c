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
        "# TYPE embsync_items_total counter\n"
        "embsync_items_total{collection=\"a\"} 7\n"
        "embsync_items_total{collection=\"b\"} 1\n"
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(families_and_series),
        cmocka_unit_test(histogram_buckets_are_cumulative),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
