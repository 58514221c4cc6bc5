/* Process-wide metrics rendered as Prometheus text: latency histograms of
 * HTTP routes and named queries, counters and gauges. Any module adds to a
 * series by its full name with labels ("rg_cache_hits_total",
 * "rg_job_runs_total{job=\"outbox\"}"); the module that owns a family
 * describes it once (rg_metrics_describe) so that /metrics carries its HELP
 * and TYPE. Route and query names, and family names given to
 * rg_metrics_describe, must outlive the process (string literals, route
 * patterns); counter and gauge series names are copied on first use. At
 * most 256 series of each kind are kept, and later ones are dropped. */
#ifndef RISINGGEN_BASE_METRICS_H
#define RISINGGEN_BASE_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "risinggen/base/buf.h"

/* One HTTP request on route (pattern, e.g. "GET /v1/events/{id}"). */
void rg_metrics_request(const char *route, int status, int64_t dur_us);
/* One named query. */
void rg_metrics_query(const char *name, int64_t dur_us, bool failed);
/* One call of a store port ("documents.get", "cache.get_many", …: a
 * string that lives as long as the process): its time, and whether the
 * store failed it (unreachable or an internal error; a miss or a conflict
 * is an answer). */
void rg_metrics_call(const char *store_op, int64_t dur_us, bool failed);
/* rg_metrics_call for a call that began at t0_us (rg_mono_us) and returned
 * rc: failed when rc is RG_EUNAVAIL, RG_EINTERNAL or RG_ENOMEM. Returns
 * rc, so that a port's wrapper can end with
 *   return rg_metrics_timed("documents.get", t0, s->ops->get(…)); */
int rg_metrics_timed(const char *store_op, int64_t t0_us, int rc);
/* Queries and store calls slower than ms are logged with their name and
 * time, never their parameters (0: none). */
void rg_metrics_set_slow_ms(int64_t ms);
/* Adds n to a counter series. */
void rg_metrics_count(const char *series, uint64_t n);
/* Adds delta to a gauge series, or sets it. */
void rg_metrics_gauge_add(const char *series, double delta);
void rg_metrics_gauge_set(const char *series, double value);
/* A counter or gauge series looked up once, for hot paths: NULL when the
 * table is full (rg_metrics_add accepts NULL). */
typedef struct rg_metric rg_metric;
rg_metric *rg_metrics_series(const char *series);
void rg_metrics_add(rg_metric *m, double delta);
/* A gauge whose value fn(ctx) gives when the exposition is rendered, so
 * that what changes on every request costs nothing until it is read
 * (open connections of a pool, requests in flight). series is copied.
 * rg_metrics_unwatch(ctx) removes every watch of ctx; it must run before
 * ctx goes away. */
void rg_metrics_watch(const char *series, double (*fn)(void *ctx), void *ctx);
void rg_metrics_unwatch(void *ctx);
/* HELP and TYPE ("counter", "gauge") of the family whose series start with
 * family followed by '{' or nothing. Describing a family twice is harmless. */
void rg_metrics_describe(const char *family, const char *type, const char *help);
/* The current value of a counter or gauge series (0 when unknown): for tests
 * and for the operator's command line. */
double rg_metrics_value(const char *series);
/* Appends the whole exposition to out. */
void rg_metrics_render(rg_buf *out);

/* The recent past, for the operator's console: totals of every route and
 * every named query taken every RG_METRICS_SAMPLE_S seconds, an hour of
 * them kept. Latency buckets are not cumulative; bucket i holds times up
 * to rg_metrics_bucket_ms(i), the last one everything above. */
#define RG_METRICS_NBUCKETS  13
#define RG_METRICS_SAMPLE_S  10
#define RG_METRICS_HISTORY_N 361
typedef struct rg_metrics_sample {
    int64_t t;                 /* seconds since the epoch */
    uint64_t requests, errors; /* answers, and those with a 5xx status */
    uint64_t request_buckets[RG_METRICS_NBUCKETS];
    uint64_t queries, query_errors;
    uint64_t query_buckets[RG_METRICS_NBUCKETS];
} rg_metrics_sample;
/* The upper bound of bucket i in ms (the last: infinity). */
double rg_metrics_bucket_ms(int i);
/* The totals now. */
void rg_metrics_sample_now(rg_metrics_sample *out);
/* Takes a sample into the history (a background job calls it). */
void rg_metrics_history_add(void);
/* Up to max samples of the history, oldest first; how many. */
int rg_metrics_history(rg_metrics_sample *out, int max);
/* Calls fn for every named query with its totals since start. */
void rg_metrics_each_query(void (*fn)(void *ctx, const char *name, uint64_t count, uint64_t errors,
                                      uint64_t sum_us, const uint64_t buckets[RG_METRICS_NBUCKETS]),
                           void *ctx);

#endif
