/* The operator's console (docs/operations.md): a page of plain HTML, CSS
 * and JavaScript from ops/console/, embedded in the binary, and the data
 * it draws, for admins only: store health, request and query latency over
 * the last hour, the slowest named queries, the backups and their last
 * verify, and the index report. Pool use comes from /metrics. */
#include "handlers.h"
#include "embedded.h"
#include "risinggen/base/clock.h"
#include "risinggen/base/error.h"
#include "risinggen/base/metrics.h"
#include "risinggen/store/backup.h"
#include "risinggen/store/report.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CSP                                                                                        \
    "Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; "           \
    "connect-src 'self'; img-src 'self'; form-action 'none'; frame-ancestors 'none'"

static int asset(rg_response *res, const char *name, const char *type)
{
    for (const struct rg_embedded_file *f = rg_embedded_files; f->name; f++)
        if (strcmp(f->name, name) == 0) {
            res->status = 200;
            res->body = malloc(f->len ? f->len : 1);
            memcpy(res->body, f->data, f->len);
            res->len = f->len;
            res->content_type = type;
            snprintf(res->extra_header, sizeof res->extra_header, "%s", CSP);
            return 0;
        }
    return rg_error_set(RG_ENOTFOUND, "this build carries no %s", name);
}

RG_HANDLER(rg_h_console)
{
    (void)app, (void)req;
    return asset(res, "ops/console/console.html", "text/html; charset=utf-8");
}

RG_HANDLER(rg_h_console_js)
{
    (void)app, (void)req;
    return asset(res, "ops/console/console.js", "text/javascript; charset=utf-8");
}

RG_HANDLER(rg_h_console_css)
{
    (void)app, (void)req;
    return asset(res, "ops/console/console.css", "text/css; charset=utf-8");
}

static int admin_only(const rg_request *req)
{
    if (!(req->ctx.who.roles & RG_ROLE_ADMIN))
        return rg_error_set(RG_EFORBIDDEN, "only an admin can read the console");
    return 0;
}

/* The time under which a share q of the n observations in buckets fall
 * (the bucket's upper bound, ms); 0 without observations. */
static double quantile(const uint64_t *buckets, uint64_t n, double q)
{
    if (n == 0)
        return 0;
    uint64_t want = (uint64_t)ceil(q * (double)n), seen = 0;
    for (int i = 0; i < RG_METRICS_NBUCKETS; i++) {
        seen += buckets[i];
        if (seen >= want)
            return isinf(rg_metrics_bucket_ms(i)) ? rg_metrics_bucket_ms(i - 1) * 2
                                                  : rg_metrics_bucket_ms(i);
    }
    return rg_metrics_bucket_ms(RG_METRICS_NBUCKETS - 2) * 2;
}

/* One point per interval between two samples. */
static json_t *interval(const rg_metrics_sample *a, const rg_metrics_sample *b)
{
    uint64_t rb[RG_METRICS_NBUCKETS], qb[RG_METRICS_NBUCKETS];
    for (int i = 0; i < RG_METRICS_NBUCKETS; i++) {
        rb[i] = b->request_buckets[i] - a->request_buckets[i];
        qb[i] = b->query_buckets[i] - a->query_buckets[i];
    }
    uint64_t n = b->requests - a->requests, qn = b->queries - a->queries;
    double secs = (double)(b->t - a->t > 0 ? b->t - a->t : 1);
    return json_pack("{s:I, s:f, s:I, s:f, s:f, s:f, s:f}", "t", (json_int_t)b->t, "requestsPerS",
                     (double)n / secs, "errors5xx", (json_int_t)(b->errors - a->errors), "p50Ms",
                     quantile(rb, n, 0.50), "p99Ms", quantile(rb, n, 0.99), "queriesPerS",
                     (double)qn / secs, "queryP99Ms", quantile(qb, qn, 0.99));
}

static void add_query(void *ctx, const char *name, uint64_t count, uint64_t errors, uint64_t sum_us,
                      const uint64_t buckets[RG_METRICS_NBUCKETS])
{
    if (count == 0)
        return;
    json_array_append_new(ctx, json_pack("{s:s, s:I, s:I, s:f, s:f}", "name", name, "count",
                                         (json_int_t)count, "errors", (json_int_t)errors, "meanMs",
                                         (double)sum_us / 1000.0 / (double)count, "p99Ms",
                                         quantile(buckets, count, 0.99)));
}

static int by_p99_then_mean(const void *x, const void *y)
{
    json_t *a = *(json_t *const *)x, *b = *(json_t *const *)y;
    double pa = json_real_value(json_object_get(a, "p99Ms")),
           pb = json_real_value(json_object_get(b, "p99Ms"));
    if (pa != pb)
        return pa < pb ? 1 : -1;
    double ma = json_real_value(json_object_get(a, "meanMs")),
           mb = json_real_value(json_object_get(b, "meanMs"));
    return ma < mb ? 1 : ma > mb ? -1 : 0;
}

/* The slowest 10 named queries since start. */
static json_t *slowest_queries(void)
{
    json_t *all = json_array();
    rg_metrics_each_query(add_query, all);
    size_t n = json_array_size(all);
    json_t **v = malloc((n ? n : 1) * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = json_incref(json_array_get(all, i));
    qsort(v, n, sizeof *v, by_p99_then_mean);
    json_t *top = json_array();
    for (size_t i = 0; i < n; i++)
        if (i < 10)
            json_array_append_new(top, v[i]);
        else
            json_decref(v[i]);
    free(v);
    json_decref(all);
    return top;
}

/* What `risinggen backup list` says, line by line, and the last verify. */
static json_t *backups(const rg_config *cfg)
{
    if (!cfg->backup_repo || !*cfg->backup_repo)
        return json_pack("{s:b}", "configured", false);
    char *text = NULL, last[700];
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    int rc = rg_backup_list(cfg, out);
    fclose(out);
    json_t *lines = json_array();
    char *save = NULL;
    for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
        json_array_append_new(lines, json_string(l));
    free(text);
    if (rc < 0)
        json_array_append_new(lines, json_string(rg_error_detail()));
    rg_error_clear();
    rg_backup_last_verify(cfg, last, sizeof last);
    return json_pack("{s:b, s:o, s:s?}", "configured", true, "lines", lines, "lastVerify",
                     last[0] ? last : NULL);
}

RG_HANDLER(rg_h_console_data)
{
    int rc = admin_only(req);
    if (rc < 0)
        return rc;
    json_t *stores;
    rg_app_ready(app, &stores);
    rg_error_clear();
    static rg_metrics_sample hist[RG_METRICS_HISTORY_N + 1];
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&lock);
    int n = rg_metrics_history(hist, RG_METRICS_HISTORY_N);
    rg_metrics_sample_now(&hist[n]); /* the interval still running */
    json_t *points = json_array();
    for (int i = 0; i < n; i++)
        if (hist[i + 1].t > hist[i].t || i + 1 == n)
            json_array_append_new(points, interval(&hist[i], &hist[i + 1]));
    json_int_t hour = (json_int_t)(hist[n].requests - hist[0].requests);
    pthread_mutex_unlock(&lock);
    return rg_reply_json(res, 200,
                         json_pack("{s:I, s:I, s:o, s:o, s:I, s:o, s:o}", "now",
                                   (json_int_t)rg_now(), "sampleSeconds",
                                   (json_int_t)RG_METRICS_SAMPLE_S, "stores", stores, "history",
                                   points, "requestsLastHour", hour, "slowQueries",
                                   slowest_queries(), "backups", backups(app->cfg)));
}

RG_HANDLER(rg_h_console_indexes)
{
    int rc = admin_only(req);
    if (rc < 0)
        return rc;
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    rc = rg_report_indexes(&app->st.rel, out);
    fclose(out);
    if (rc < 0) {
        free(text);
        return rc;
    }
    res->status = 200;
    res->body = text;
    res->len = len;
    res->content_type = "text/plain; charset=utf-8";
    return 0;
}
