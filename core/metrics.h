/* Process-wide counters and gauges, exported in Prometheus text format. */
#ifndef ES_METRICS_H
#define ES_METRICS_H

#include <stdio.h>

/** Add delta to the counter `name{labels}`; labels is the inside of the
 *  braces ("plugin=\"qdrant\",code=\"200\"") or "" for none. */
void es_metric_add(const char *name, const char *labels, double delta);

/** Set the gauge `name{labels}`. */
void es_metric_set(const char *name, const char *labels, double value);

/** Current value (0 when never touched). */
double es_metric_get(const char *name, const char *labels);

/** Write every metric in Prometheus text exposition format; `help` gives
 *  HELP/TYPE lines for known families. */
void es_metrics_write(FILE *out);

/** Forget everything (tests). */
void es_metrics_reset(void);

#endif
