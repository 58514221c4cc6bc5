/* The wrappers of the cache port: argument checks before any adapter runs,
 * and the hit and miss counters. */
#include "risinggen/store/cache.h"
#include "risinggen/base/error.h"
#include "risinggen/base/metrics.h"
#include "risinggen/store/stores.h"
#include "risinggen/base/clock.h"

#include <stdatomic.h>
#include <string.h>

/* Hits and misses of every cache port of the process, read by /metrics. */
static atomic_uint_fast64_t hits, misses;

static double read_counter(void *ctx)
{
    return (double)atomic_load_explicit((atomic_uint_fast64_t *)ctx, memory_order_relaxed);
}

static void watch_counters(void)
{
    rg_metrics_describe("rg_cache_hits_total", "counter", "Cache hits.");
    rg_metrics_describe("rg_cache_misses_total", "counter", "Cache misses.");
    rg_metrics_unwatch(&hits);
    rg_metrics_unwatch(&misses);
    rg_metrics_watch("rg_cache_hits_total", read_counter, &hits);
    rg_metrics_watch("rg_cache_misses_total", read_counter, &misses);
}

int rg_cache_ops_check(const struct rg_cache_ops *o)
{
    if (!o || !o->scheme)
        return rg_error_set(RG_EINVAL, "not a cache adapter");
    if (o->version != RG_CACHE_OPS_VERSION)
        return rg_error_set(RG_EINVAL,
                            "the cache adapter '%s' implements version %d of the port, "
                            "this build needs version %d",
                            o->scheme, o->version, RG_CACHE_OPS_VERSION);
    if (!o->open || !o->close || !o->get || !o->get_many || !o->set || !o->fill || !o->del ||
        !o->incr || !o->ping || !o->write_many)
        return rg_error_set(RG_EINVAL, "the cache adapter '%s' lacks a slot", o->scheme);
    return 0;
}

int rg_cache_open(rg_cache_port *out, const struct rg_cache_ops *ops, const char *url,
                  const rg_store_options *opts)
{
    memset(out, 0, sizeof *out);
    if (!ops && !(ops = rg_cache_adapter(url)))
        return rg_error_last();
    int rc = rg_cache_ops_check(ops);
    if (rc < 0 || (rc = ops->open(&out->c, url, opts)) < 0)
        return rc;
    watch_counters();
    out->ops = ops;
    return 0;
}

void rg_cache_close(rg_cache_port *p)
{
    if (p->c)
        p->ops->close(p->c);
    p->c = NULL;
}

static int check_key(const char *key)
{
    if (!key || !*key || strnlen(key, RG_CACHE_KEY_MAX + 1) > RG_CACHE_KEY_MAX)
        return rg_error_set(RG_EINVAL, "invalid cache key");
    return 0;
}

static int check_ttl(int64_t ttl_ms)
{
    if (ttl_ms < 0 || ttl_ms > RG_CACHE_TTL_MAX_MS)
        return rg_error_set(RG_EINVAL, "invalid cache ttl");
    return 0;
}

int rg_cache_get(rg_cache_port *p, const char *key, char **out, size_t *len)
{
    *out = NULL;
    int rc = check_key(key);
    if (rc < 0)
        return rc;
    int64_t t0 = rg_mono_us();
    rc = rg_metrics_timed("cache.get", t0, p->ops->get(p->c, key, out, len));
    atomic_fetch_add_explicit(rc == 0 ? &hits : &misses, 1, memory_order_relaxed);
    return rc;
}

int rg_cache_get_many(rg_cache_port *p, const char *const *keys, int n, char **out, size_t *len)
{
    if (n < 1 || n > RG_CACHE_MANY_MAX)
        return rg_error_set(RG_EINVAL, "invalid number of cache keys");
    int rc = 0;
    for (int i = 0; i < n; i++) {
        out[i] = NULL;
        len[i] = 0;
        if (rc == 0)
            rc = check_key(keys[i]);
    }
    if (rc < 0)
        return rc;
    int64_t t0 = rg_mono_us();
    rc = rg_metrics_timed("cache.get_many", t0, p->ops->get_many(p->c, keys, n, out, len));
    uint_fast64_t hit = 0;
    for (int i = 0; i < n; i++)
        hit += out[i] != NULL;
    atomic_fetch_add_explicit(&hits, hit, memory_order_relaxed);
    atomic_fetch_add_explicit(&misses, (uint_fast64_t)n - hit, memory_order_relaxed);
    return rc;
}

/* The checks of a write of val under key (set and fill). */
static int check_write(const char *key, const char *val, size_t len, int64_t ttl_ms)
{
    int rc;
    if ((rc = check_key(key)) < 0 || (rc = check_ttl(ttl_ms)) < 0)
        return rc;
    if ((len && !val) || len > RG_CACHE_VALUE_MAX)
        return rg_error_set(RG_EINVAL, "invalid cache value");
    return 0;
}

int rg_cache_set(rg_cache_port *p, const char *key, const char *val, size_t len, int64_t ttl_ms)
{
    int rc = check_write(key, val, len, ttl_ms);
    if (rc < 0)
        return rc;
    int64_t t0 = rg_mono_us();
    return rg_metrics_timed("cache.set", t0, p->ops->set(p->c, key, val ? val : "", len, ttl_ms));
}

int rg_cache_fill(rg_cache_port *p, const char *key, const char *val, size_t len, int64_t ttl_ms)
{
    int rc = check_write(key, val, len, ttl_ms);
    if (rc < 0)
        return rc;
    int64_t t0 = rg_mono_us();
    return rg_metrics_timed("cache.fill", t0, p->ops->fill(p->c, key, val ? val : "", len, ttl_ms));
}

int rg_cache_del(rg_cache_port *p, const char *key)
{
    int rc = check_key(key);
    if (rc < 0)
        return rc;
    int64_t t0 = rg_mono_us();
    return rg_metrics_timed("cache.del", t0, p->ops->del(p->c, key));
}

int rg_cache_incr(rg_cache_port *p, const char *key, int64_t by, int64_t ttl_ms, int64_t *out)
{
    int rc;
    if ((rc = check_key(key)) < 0 || (rc = check_ttl(ttl_ms)) < 0)
        return rc;
    if (!out)
        return rg_error_set(RG_EINVAL, "no output");
    int64_t t0 = rg_mono_us();
    return rg_metrics_timed("cache.incr", t0, p->ops->incr(p->c, key, by, ttl_ms, out));
}

int rg_cache_write_many(rg_cache_port *p, rg_cache_write *w, int n)
{
    if (n < 1 || n > RG_CACHE_MANY_MAX)
        return rg_error_set(RG_EINVAL, "invalid number of cache writes");
    int rc = 0;
    for (int i = 0; i < n; i++) {
        w[i].out = 0;
        w[i].rc = 0;
        if (rc == 0 && (w[i].op != RG_CACHE_WRITE_DEL && w[i].op != RG_CACHE_WRITE_INCR))
            rc = rg_error_set(RG_EINVAL, "invalid cache write");
        if (rc == 0)
            rc = check_key(w[i].key);
        if (rc == 0 && w[i].op == RG_CACHE_WRITE_INCR)
            rc = check_ttl(w[i].ttl_ms);
    }
    if (rc < 0) {
        for (int i = 0; i < n; i++)
            w[i].rc = rc;
        return rc;
    }
    int64_t t0 = rg_mono_us();
    return rg_metrics_timed("cache.write_many", t0, p->ops->write_many(p->c, w, n));
}

int rg_cache_ping(rg_cache_port *p)
{
    return p->ops->ping(p->c);
}
