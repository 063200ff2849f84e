/* Process-wide counters and gauges, exported in Prometheus text format. */
#ifndef ES_METRICS_H
#define ES_METRICS_H

#include <stdio.h>

/** Add delta to the counter `name{labels}`; labels is the inside of the
 *  braces as es_metric_labels() builds it ("plugin=\"qdrant\",code=\"200\"")
 *  or "" for none. */
void es_metric_add(const char *name, const char *labels, double delta);

/** Build a label set in out (len bytes) from key, value pairs ending with
 *  NULL: es_metric_labels(buf, sizeof buf, "collection", name, NULL).
 *  Values are escaped per the text exposition format (backslash, double
 *  quote, newline); keys must be valid label names.  A value that does not
 *  fit is cut short, never inside an escape.  Returns out. */
char *es_metric_labels(char *out, size_t len, ...)
    __attribute__((sentinel));

/** Set the gauge `name{labels}`. */
void es_metric_set(const char *name, const char *labels, double value);

/** Record one observation in the histogram `name{labels}` (seconds; the
 *  buckets suit batch latencies from 5 ms to 60 s). */
void es_metric_observe(const char *name, const char *labels, double value);

/** Current value (0 when never touched; a histogram's count). */
double es_metric_get(const char *name, const char *labels);

/** Write every metric in Prometheus text exposition format. */
void es_metrics_write(FILE *out);

/** Forget everything (tests). */
void es_metrics_reset(void);

#endif
