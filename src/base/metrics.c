#include "risinggen/base/metrics.h"
#include "risinggen/base/alloc.h"
#include "risinggen/base/clock.h"
#include "risinggen/base/error.h"
#include "risinggen/base/log.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>

#define NBUCKETS 12 /* RG_METRICS_NBUCKETS - 1: the last one is +Inf */
static const double bucket_ms[NBUCKETS] = {0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500};

struct series {
    const char *name; /* owned copy */
    const char *key;  /* the caller's pointer, compared first */
    atomic_uint_fast64_t count, errors, sum_us;
    atomic_uint_fast64_t buckets[NBUCKETS];
    atomic_uint_fast64_t by_class[6]; /* 1xx..5xx */
    _Atomic double value;             /* counters and gauges */
};

#define MAX_SERIES 256
struct family {
    struct series s[MAX_SERIES];
    atomic_int n;
    pthread_mutex_t lock;
};

struct watch {
    char *series;
    double (*fn)(void *ctx);
    void *ctx;
};
static struct watch watches[256];
static int nwatches;

static struct family routes = {.lock = PTHREAD_MUTEX_INITIALIZER};
static struct family queries = {.lock = PTHREAD_MUTEX_INITIALIZER};
static struct family calls = {.lock = PTHREAD_MUTEX_INITIALIZER};
static atomic_int_fast64_t slow_us;
static struct family values = {.lock = PTHREAD_MUTEX_INITIALIZER};

struct description {
    const char *family, *type, *help;
};
static struct description described[64];
static int ndescribed;
static pthread_mutex_t describe_lock = PTHREAD_MUTEX_INITIALIZER;

/* The series called name, created on first use; NULL when the family is
 * full. Readers never lock: a series is written in full before n moves on.
 * Route and query names live as long as the process, so their pointer is
 * compared first (key); other names may be built in a caller's buffer. */
static struct series *lookup(struct family *f, const char *name)
{
    int n = atomic_load_explicit(&f->n, memory_order_acquire);
    bool stable = f != &values;
    for (int i = 0; i < n; i++)
        if ((stable && f->s[i].key == name) || strcmp(f->s[i].name, name) == 0)
            return &f->s[i];
    pthread_mutex_lock(&f->lock);
    n = atomic_load(&f->n);
    for (int i = 0; i < n; i++)
        if (strcmp(f->s[i].name, name) == 0) {
            pthread_mutex_unlock(&f->lock);
            return &f->s[i];
        }
    struct series *s = NULL;
    if (n < MAX_SERIES) {
        s = &f->s[n];
        s->name = rg_xstrdup(name); /* the caller's string may not outlive the series */
        s->key = name;
        atomic_store_explicit(&f->n, n + 1, memory_order_release);
    }
    pthread_mutex_unlock(&f->lock);
    return s;
}

static void observe(struct series *s, int64_t dur_us)
{
    atomic_fetch_add_explicit(&s->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->sum_us, (uint64_t)dur_us, memory_order_relaxed);
    double ms = dur_us / 1000.0;
    for (int i = 0; i < NBUCKETS; i++)
        if (ms <= bucket_ms[i]) {
            atomic_fetch_add_explicit(&s->buckets[i], 1, memory_order_relaxed);
            break;
        }
}

void rg_metrics_request(const char *route, int status, int64_t dur_us)
{
    struct series *s = lookup(&routes, route);
    if (!s)
        return;
    observe(s, dur_us);
    int cls = status / 100;
    if (cls >= 1 && cls <= 5)
        atomic_fetch_add_explicit(&s->by_class[cls], 1, memory_order_relaxed);
    if (status >= 500)
        atomic_fetch_add_explicit(&s->errors, 1, memory_order_relaxed);
}

void rg_metrics_set_slow_ms(int64_t ms)
{
    atomic_store(&slow_us, ms > 0 ? ms * 1000 : 0);
}

static void slow_check(const char *what, const char *name, int64_t dur_us)
{
    int64_t limit = atomic_load_explicit(&slow_us, memory_order_relaxed);
    if (limit > 0 && dur_us > limit)
        rg_warn("slow %s %s: %.1f ms (RG_SLOW_MS %lld)", what, name, dur_us / 1000.0,
                (long long)(limit / 1000));
}

void rg_metrics_query(const char *name, int64_t dur_us, bool failed)
{
    slow_check("query", name, dur_us);
    struct series *s = lookup(&queries, name);
    if (!s)
        return;
    observe(s, dur_us);
    if (failed)
        atomic_fetch_add_explicit(&s->errors, 1, memory_order_relaxed);
}

int rg_metrics_timed(const char *store_op, int64_t t0_us, int rc)
{
    rg_metrics_call(store_op, rg_mono_us() - t0_us,
                    rc == RG_EUNAVAIL || rc == RG_EINTERNAL || rc == RG_ENOMEM);
    return rc;
}

void rg_metrics_call(const char *store_op, int64_t dur_us, bool failed)
{
    slow_check("store call", store_op, dur_us);
    struct series *s = lookup(&calls, store_op);
    if (!s)
        return;
    observe(s, dur_us);
    if (failed)
        atomic_fetch_add_explicit(&s->errors, 1, memory_order_relaxed);
}

void rg_metrics_add(rg_metric *m, double delta);
static void value_add(const char *series, double delta)
{
    rg_metrics_add((rg_metric *)lookup(&values, series), delta);
}

rg_metric *rg_metrics_series(const char *series)
{
    return (rg_metric *)lookup(&values, series);
}

void rg_metrics_add(rg_metric *m, double delta)
{
    struct series *s = (struct series *)m;
    if (!s)
        return;
    double old = atomic_load_explicit(&s->value, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(&s->value, &old, old + delta,
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
}

void rg_metrics_count(const char *series, uint64_t n)
{
    value_add(series, (double)n);
}

void rg_metrics_gauge_add(const char *series, double delta)
{
    value_add(series, delta);
}

void rg_metrics_gauge_set(const char *series, double value)
{
    struct series *s = lookup(&values, series);
    if (s)
        atomic_store_explicit(&s->value, value, memory_order_relaxed);
}

/* The sum of the watches called series (two stores of one kind and
 * labels, in tests, watch under one name). Called with describe_lock. */
static double watched(const char *series)
{
    double sum = 0;
    for (int w = 0; w < nwatches; w++)
        if (strcmp(watches[w].series, series) == 0)
            sum += watches[w].fn(watches[w].ctx);
    return sum;
}

/* Whether an earlier watch has w's name (it was rendered with it). */
static bool watch_seen(int w)
{
    for (int v = 0; v < w; v++)
        if (strcmp(watches[v].series, watches[w].series) == 0)
            return true;
    return false;
}

double rg_metrics_value(const char *series)
{
    int n = atomic_load_explicit(&values.n, memory_order_acquire);
    for (int i = 0; i < n; i++)
        if (strcmp(values.s[i].name, series) == 0)
            return atomic_load(&values.s[i].value);
    pthread_mutex_lock(&describe_lock);
    double v = watched(series);
    pthread_mutex_unlock(&describe_lock);
    return v;
}

void rg_metrics_watch(const char *series, double (*fn)(void *ctx), void *ctx)
{
    pthread_mutex_lock(&describe_lock);
    if (nwatches < (int)(sizeof watches / sizeof watches[0]))
        watches[nwatches++] = (struct watch){rg_xstrdup(series), fn, ctx};
    pthread_mutex_unlock(&describe_lock);
}

void rg_metrics_unwatch(void *ctx)
{
    pthread_mutex_lock(&describe_lock);
    for (int i = 0; i < nwatches;) {
        if (watches[i].ctx == ctx) {
            free(watches[i].series);
            watches[i] = watches[--nwatches];
        } else {
            i++;
        }
    }
    pthread_mutex_unlock(&describe_lock);
}

void rg_metrics_describe(const char *family, const char *type, const char *help)
{
    pthread_mutex_lock(&describe_lock);
    bool known = false;
    for (int i = 0; i < ndescribed && !known; i++)
        known = strcmp(described[i].family, family) == 0;
    if (!known && ndescribed < (int)(sizeof described / sizeof described[0]))
        described[ndescribed++] = (struct description){family, type, help};
    pthread_mutex_unlock(&describe_lock);
}

double rg_metrics_bucket_ms(int i)
{
    return i < NBUCKETS ? bucket_ms[i] : INFINITY;
}

/* Adds the totals of family f into count, errors and buckets. */
static void add_totals(struct family *f, uint64_t *count, uint64_t *errors,
                       uint64_t buckets[RG_METRICS_NBUCKETS], bool by_status)
{
    int n = atomic_load_explicit(&f->n, memory_order_acquire);
    for (int i = 0; i < n; i++) {
        struct series *s = &f->s[i];
        uint64_t c = atomic_load(&s->count), in_buckets = 0;
        *count += c;
        *errors += by_status ? atomic_load(&s->by_class[5]) : atomic_load(&s->errors);
        for (int b = 0; b < NBUCKETS; b++) {
            uint64_t v = atomic_load(&s->buckets[b]);
            buckets[b] += v;
            in_buckets += v;
        }
        buckets[NBUCKETS] += c > in_buckets ? c - in_buckets : 0;
    }
}

void rg_metrics_sample_now(rg_metrics_sample *out)
{
    memset(out, 0, sizeof *out);
    out->t = rg_now();
    add_totals(&routes, &out->requests, &out->errors, out->request_buckets, true);
    add_totals(&queries, &out->queries, &out->query_errors, out->query_buckets, false);
}

static struct {
    pthread_mutex_t lock;
    rg_metrics_sample ring[RG_METRICS_HISTORY_N];
    int next, n;
} history = {.lock = PTHREAD_MUTEX_INITIALIZER};

void rg_metrics_history_add(void)
{
    rg_metrics_sample s;
    rg_metrics_sample_now(&s);
    pthread_mutex_lock(&history.lock);
    history.ring[history.next] = s;
    history.next = (history.next + 1) % RG_METRICS_HISTORY_N;
    if (history.n < RG_METRICS_HISTORY_N)
        history.n++;
    pthread_mutex_unlock(&history.lock);
}

int rg_metrics_history(rg_metrics_sample *out, int max)
{
    pthread_mutex_lock(&history.lock);
    int n = history.n < max ? history.n : max;
    for (int i = 0; i < n; i++) {
        int at = (history.next - n + i + RG_METRICS_HISTORY_N) % RG_METRICS_HISTORY_N;
        out[i] = history.ring[at];
    }
    pthread_mutex_unlock(&history.lock);
    return n;
}

void rg_metrics_each_query(void (*fn)(void *ctx, const char *name, uint64_t count, uint64_t errors,
                                      uint64_t sum_us, const uint64_t buckets[RG_METRICS_NBUCKETS]),
                           void *ctx)
{
    int n = atomic_load_explicit(&queries.n, memory_order_acquire);
    for (int i = 0; i < n; i++) {
        struct series *s = &queries.s[i];
        uint64_t b[RG_METRICS_NBUCKETS] = {0}, count = atomic_load(&s->count), in_buckets = 0;
        for (int j = 0; j < NBUCKETS; j++)
            in_buckets += b[j] = atomic_load(&s->buckets[j]);
        b[NBUCKETS] = count > in_buckets ? count - in_buckets : 0;
        fn(ctx, s->name, count, atomic_load(&s->errors), atomic_load(&s->sum_us), b);
    }
}

/* A histogram's lines; labels is the label set without braces. */
static void render_labelled(rg_buf *out, const char *metric, const char *labels, struct series *s)
{
    uint64_t cum = 0;
    for (int i = 0; i < NBUCKETS; i++) {
        cum += atomic_load(&s->buckets[i]);
        rg_buf_printf(out, "%s_bucket{%s,le=\"%g\"} %llu\n", metric, labels, bucket_ms[i] / 1000.0,
                      (unsigned long long)cum);
    }
    rg_buf_printf(out, "%s_bucket{%s,le=\"+Inf\"} %llu\n", metric, labels,
                  (unsigned long long)atomic_load(&s->count));
    rg_buf_printf(out, "%s_sum{%s} %.6f\n", metric, labels, atomic_load(&s->sum_us) / 1e6);
    rg_buf_printf(out, "%s_count{%s} %llu\n", metric, labels,
                  (unsigned long long)atomic_load(&s->count));
}

static void render_hist(rg_buf *out, const char *metric, const char *label, struct series *s)
{
    char labels[200];
    snprintf(labels, sizeof labels, "%s=\"%s\"", label, s->name);
    render_labelled(out, metric, labels, s);
}

/* "documents.get" → store="documents",op="get". */
static void call_labels(const char *name, char *out, size_t cap)
{
    const char *dot = strchr(name, '.');
    if (dot)
        snprintf(out, cap, "store=\"%.*s\",op=\"%s\"", (int)(dot - name), name, dot + 1);
    else
        snprintf(out, cap, "store=\"%s\",op=\"\"", name);
}

static void render_call_hist(rg_buf *out, struct series *s)
{
    char labels[160];
    call_labels(s->name, labels, sizeof labels);
    render_labelled(out, "rg_store_call_duration_seconds", labels, s);
}

/* Whether series belongs to family: its name, or its name and labels. */
static bool in_family(const char *series, const char *family)
{
    size_t n = strlen(family);
    return strncmp(series, family, n) == 0 && (series[n] == '\0' || series[n] == '{');
}

static void render_value(rg_buf *out, struct series *s)
{
    rg_buf_printf(out, "%s %.17g\n", s->name, atomic_load(&s->value));
}

void rg_metrics_render(rg_buf *out)
{
    int n = atomic_load(&routes.n);
    rg_buf_puts(out, "# HELP rg_http_requests_total HTTP requests by route and status class.\n"
                     "# TYPE rg_http_requests_total counter\n");
    for (int i = 0; i < n; i++)
        for (int c = 1; c <= 5; c++) {
            uint64_t v = atomic_load(&routes.s[i].by_class[c]);
            if (v)
                rg_buf_printf(out, "rg_http_requests_total{route=\"%s\",code=\"%dxx\"} %llu\n",
                              routes.s[i].name, c, (unsigned long long)v);
        }
    rg_buf_puts(out, "# HELP rg_http_request_duration_seconds Request latency by route.\n"
                     "# TYPE rg_http_request_duration_seconds histogram\n");
    for (int i = 0; i < n; i++)
        render_hist(out, "rg_http_request_duration_seconds", "route", &routes.s[i]);
    n = atomic_load(&queries.n);
    rg_buf_puts(out, "# HELP rg_query_duration_seconds Named query latency.\n"
                     "# TYPE rg_query_duration_seconds histogram\n");
    for (int i = 0; i < n; i++)
        render_hist(out, "rg_query_duration_seconds", "query", &queries.s[i]);
    rg_buf_puts(out, "# HELP rg_query_errors_total Named queries that failed.\n"
                     "# TYPE rg_query_errors_total counter\n");
    for (int i = 0; i < n; i++)
        rg_buf_printf(out, "rg_query_errors_total{query=\"%s\"} %llu\n", queries.s[i].name,
                      (unsigned long long)atomic_load(&queries.s[i].errors));
    n = atomic_load(&calls.n);
    rg_buf_puts(out, "# HELP rg_store_call_duration_seconds Store port calls by store and "
                     "operation.\n# TYPE rg_store_call_duration_seconds histogram\n");
    for (int i = 0; i < n; i++)
        render_call_hist(out, &calls.s[i]);
    rg_buf_puts(out, "# HELP rg_store_call_errors_total Store port calls the store failed.\n"
                     "# TYPE rg_store_call_errors_total counter\n");
    for (int i = 0; i < n; i++) {
        char labels[160];
        call_labels(calls.s[i].name, labels, sizeof labels);
        rg_buf_printf(out, "rg_store_call_errors_total{%s} %llu\n", labels,
                      (unsigned long long)atomic_load(&calls.s[i].errors));
    }

    /* Described families in the order they were described, each with its
     * series and watched gauges; then whatever no description claims. The
     * lock keeps watches from going away while they are read. */
    n = atomic_load(&values.n);
    pthread_mutex_lock(&describe_lock);
    int nd = ndescribed;
    for (int d = 0; d < nd; d++) {
        rg_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", described[d].family, described[d].help,
                      described[d].family, described[d].type);
        for (int i = 0; i < n; i++)
            if (in_family(values.s[i].name, described[d].family))
                render_value(out, &values.s[i]);
        for (int w = 0; w < nwatches; w++)
            if (in_family(watches[w].series, described[d].family) && !watch_seen(w))
                rg_buf_printf(out, "%s %.17g\n", watches[w].series, watched(watches[w].series));
    }
    for (int i = 0; i < n; i++) {
        bool claimed = false;
        for (int d = 0; d < nd && !claimed; d++)
            claimed = in_family(values.s[i].name, described[d].family);
        if (!claimed)
            render_value(out, &values.s[i]);
    }
    for (int w = 0; w < nwatches; w++) {
        bool claimed = false;
        for (int d = 0; d < nd && !claimed; d++)
            claimed = in_family(watches[w].series, described[d].family);
        if (!claimed && !watch_seen(w))
            rg_buf_printf(out, "%s %.17g\n", watches[w].series, watched(watches[w].series));
    }
    pthread_mutex_unlock(&describe_lock);
}
