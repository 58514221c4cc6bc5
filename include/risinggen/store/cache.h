/* The cache port: sessions, rate-limit counters, hot query results. Never the
 * source of truth: a miss or an outage only costs speed. Values are opaque
 * bytes; ttl_ms 0 means no expiry.
 *
 * The rg_cache_* wrappers check every argument before an adapter runs: a
 * key is 1..RG_CACHE_KEY_MAX bytes, a value at most RG_CACHE_VALUE_MAX
 * bytes, a TTL 0..RG_CACHE_TTL_MAX_MS; anything else is RG_EINVAL. They
 * count hits and misses (rg_cache_hits_total, rg_cache_misses_total). */
#ifndef RISINGGEN_CACHE_H
#define RISINGGEN_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "risinggen/store/options.h"

#define RG_CACHE_OPS_VERSION 5

#define RG_CACHE_KEY_MAX    4096
#define RG_CACHE_VALUE_MAX  (16 * 1024 * 1024)
#define RG_CACHE_TTL_MAX_MS (30LL * 24 * 3600 * 1000)
#define RG_CACHE_MANY_MAX   16 /* keys of one get_many */

enum rg_cache_caps {
    RG_CACHE_CAP_SHARED = 1u << 0, /* seen by every instance of the service */
};

typedef struct rg_cache rg_cache;

/* One write of write_many: a del of key, or an incr of key by `by` (with
 * ttl_ms when it creates the counter) whose new value goes to out. rc is
 * this write's result, as del or incr would return it. */
typedef struct rg_cache_write {
    enum { RG_CACHE_WRITE_DEL, RG_CACHE_WRITE_INCR } op;
    const char *key;
    int64_t by, ttl_ms; /* incr */
    int64_t out;        /* incr: the new value */
    int rc;
} rg_cache_write;

struct rg_cache_ops {
    int version;
    unsigned caps;
    const char *scheme;
    int (*open)(rg_cache **out, const char *url, const rg_store_options *opts);
    void (*close)(rg_cache *c);
    /* *out is malloc'd (caller frees) and NUL-terminated; RG_ENOTFOUND on a miss. */
    int (*get)(rg_cache *c, const char *key, char **out, size_t *len);
    /* n keys (1..RG_CACHE_MANY_MAX) looked up together, in one round trip
     * where the adapter has round trips: out[i] and len[i] as get gives
     * them, out[i] NULL on a miss. 0 also when some or all miss; on an
     * error every out[i] is NULL. Since version 4. */
    int (*get_many)(rg_cache *c, const char *const *keys, int n, char **out, size_t *len);
    int (*set)(rg_cache *c, const char *key, const char *val, size_t len, int64_t ttl_ms);
    /* Stores val like set, for a value read from the source of truth after a
     * miss, without telling other instances to drop their copies of key: only
     * for keys whose value says whether it is current (a version inside it, a
     * generation in the key) or never changes once made (a session). A fill
     * that does not arrive is only a miss later. Since version 3. */
    int (*fill)(rg_cache *c, const char *key, const char *val, size_t len, int64_t ttl_ms);
    int (*del)(rg_cache *c, const char *key);
    /* Adds by to the integer at key (0 when absent, then given ttl_ms) and
     * returns the new value in *out. Atomic. */
    int (*incr)(rg_cache *c, const char *key, int64_t by, int64_t ttl_ms, int64_t *out);
    int (*ping)(rg_cache *c);
    /* n writes (1..RG_CACHE_MANY_MAX) done in order, in one round trip
     * where the adapter has round trips, each as del or incr alone would
     * do it (and announce it); w[i].rc and w[i].out are set for every one.
     * Returns the code of the first write that failed (the error's detail
     * may be a later one's), or 0. Since version 5. */
    int (*write_many)(rg_cache *c, rg_cache_write *w, int n);
};

typedef struct rg_cache_port {
    const struct rg_cache_ops *ops;
    rg_cache *c;
} rg_cache_port;

/* Opens the adapter ops (NULL: the one serving url's scheme) after checking
 * it against this port. *out belongs to the caller (rg_cache_close). */
int rg_cache_open(rg_cache_port *out, const struct rg_cache_ops *ops, const char *url,
                  const rg_store_options *opts);
void rg_cache_close(rg_cache_port *p);
int rg_cache_get(rg_cache_port *p, const char *key, char **out, size_t *len);
int rg_cache_get_many(rg_cache_port *p, const char *const *keys, int n, char **out, size_t *len);
int rg_cache_set(rg_cache_port *p, const char *key, const char *val, size_t len, int64_t ttl_ms);
int rg_cache_fill(rg_cache_port *p, const char *key, const char *val, size_t len, int64_t ttl_ms);
int rg_cache_del(rg_cache_port *p, const char *key);
int rg_cache_incr(rg_cache_port *p, const char *key, int64_t by, int64_t ttl_ms, int64_t *out);
int rg_cache_write_many(rg_cache_port *p, rg_cache_write *w, int n);
int rg_cache_ping(rg_cache_port *p);
/* Checks ops against this port (version, slots). 0 or RG_EINVAL. */
int rg_cache_ops_check(const struct rg_cache_ops *ops);

extern const struct rg_cache_ops rg_memory_cache_ops;
#ifdef RG_WITH_REDIS
/* "redis://[[user]:password@]host[:port][/db][?prefix=P&l1_mb=N]": Redis with
 * a small in-process level kept coherent across instances (at most 1 s). */
extern const struct rg_cache_ops rg_redis_cache_ops;
#endif

#endif
