/* The cache port: sessions, rate-limit counters, hot query results. Never the
 * source of truth: a miss or an outage only costs speed. Values are opaque
 * bytes; ttl_ms 0 means no expiry. */
#ifndef RISINGGEN_CACHE_H
#define RISINGGEN_CACHE_H

#include <stddef.h>
#include <stdint.h>

#define RG_CACHE_OPS_VERSION 1

enum rg_cache_caps {
    RG_CACHE_CAP_SHARED = 1u << 0, /* seen by every instance of the service */
};

typedef struct rg_cache rg_cache;

struct rg_cache_ops {
    int version;
    unsigned caps;
    const char *scheme;
    int (*open)(rg_cache **out, const char *url);
    void (*close)(rg_cache *c);
    /* *out is malloc'd (caller frees) and NUL-terminated; RG_ENOTFOUND on a miss. */
    int (*get)(rg_cache *c, const char *key, char **out, size_t *len);
    int (*set)(rg_cache *c, const char *key, const char *val, size_t len, int64_t ttl_ms);
    int (*del)(rg_cache *c, const char *key);
    /* Adds by to the integer at key (0 when absent, then given ttl_ms) and
     * returns the new value in *out. Atomic. */
    int (*incr)(rg_cache *c, const char *key, int64_t by, int64_t ttl_ms, int64_t *out);
    int (*ping)(rg_cache *c);
};

typedef struct rg_cache_port {
    const struct rg_cache_ops *ops;
    rg_cache *c;
} rg_cache_port;

int rg_cache_get(rg_cache_port *p, const char *key, char **out, size_t *len);
int rg_cache_set(rg_cache_port *p, const char *key, const char *val, size_t len, int64_t ttl_ms);
int rg_cache_del(rg_cache_port *p, const char *key);
int rg_cache_incr(rg_cache_port *p, const char *key, int64_t by, int64_t ttl_ms, int64_t *out);
int rg_cache_ping(rg_cache_port *p);
/* Hit and miss counters since start (for /metrics). */
void rg_cache_stats(uint64_t *hits, uint64_t *misses);

extern const struct rg_cache_ops rg_memory_cache_ops;
#ifdef RG_WITH_REDIS
/* "redis://[[user]:password@]host[:port][/db][?prefix=P&l1_mb=N]": Redis with
 * a small in-process level kept coherent across instances (at most 1 s). */
extern const struct rg_cache_ops rg_redis_cache_ops;
#endif

#endif
