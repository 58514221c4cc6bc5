/* Process-wide counters and latency histograms, rendered as Prometheus text.
 * Names passed in must outlive the process (string literals, route patterns). */
#ifndef RISINGGEN_METRICS_H
#define RISINGGEN_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "risinggen/util.h"

int64_t rg_metrics_clock_us(void);
/* One HTTP request on route (pattern, e.g. "GET /v1/events/{id}"). */
void rg_metrics_request(const char *route, int status, int64_t dur_us);
/* One named query. */
void rg_metrics_query(const char *name, int64_t dur_us, bool failed);
/* Adds delta to a gauge; series is the metric name with its labels,
 * e.g. "rg_pool_connections{store=\"relational\"}". */
void rg_metrics_gauge_add(const char *series, int64_t delta);
/* Appends the whole exposition to out. */
void rg_metrics_render(rg_buf *out);

#endif
