/* Cache port on Redis, with a small in-process level in front of it:
 * "redis://[[user]:password@]host[:port][/db][?prefix=P&l1_mb=N]".
 *
 * Keys. Every key goes to Redis as prefix + key (prefix default "rg:"), so
 * several deployments or test runs share one server. Writes (set, del, incr)
 * also PUBLISH the caller's key on the channel prefix + "invalidate"; a fill
 * does not (its value says whether it is current).
 *
 * Level 1 (L1) is the memory adapter ("memory:?max_mb=N", l1_mb default 8, 0
 * turns it off). It keeps values and absences (a key read and not found)
 * alike. An entry lives at most L1_TTL_MS (1 s), and never longer than the
 * value's own TTL in Redis, counted from before the GET that read it: that
 * is the hard bound on how long an instance may serve a value another
 * instance has replaced, or report absent a key another instance created.
 * Invalidation messages only make it shorter:
 *  - one subscriber thread per adapter, on its own connection, deletes each
 *    key it hears about from L1;
 *  - L1 keys carry a generation, gen + ":" + key. gen is odd while the
 *    subscriber is not subscribed, and then L1 is neither read nor filled;
 *    every (re)subscription and every recovery of the command path moves gen
 *    on, which empties L1 at once (old entries can no longer be found and age
 *    out by TTL and LRU);
 *  - a reader that filled L1 checks afterwards whether an invalidation for a
 *    key of the same hash (epochs[]) or a new generation came while its GET
 *    was in flight, and if so deletes what it filled. Invalidators bump the
 *    epoch before they delete, so one of the two always removes a stale fill.
 *
 * Commands run on blocking connections from a bounded pool (conn.c), with a
 * 200 ms connect and 500 ms command timeout. Requests are written with
 * send(MSG_NOSIGNAL), so a closed socket is an error and never SIGPIPE; a
 * connection found readable while idle (the server closed it) is replaced
 * before use.
 *
 * Outages. Any connection error, timeout or error reply opens a breaker
 * shared by all threads: for BREAK_MS every call returns RG_EUNAVAIL at once,
 * then one call probes. Outages are logged once when they start and once
 * when they end. A write (set, del, incr) that may not have reached Redis is
 * remembered (up to JOURNAL_MAX keys); before anything else is served after
 * the outage, those keys are deleted from Redis (or, if there were more, every
 * key under the prefix) and every instance is told to empty its L1. So a
 * value the service replaced while Redis was out of reach is never served
 * afterwards: an outage costs speed, not correctness.
 *
 * caps: RG_CACHE_CAP_SHARED. The files of the adapter: see redis.h. */
#include "redis.h"
#include "risinggen/base/alloc.h"
#include "risinggen/base/buf.h"
#include "risinggen/base/error.h"
#include "risinggen/base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* KEYS[1] prefixed key; ARGV: by, ttl_ms, channel, caller's key. The counter
 * gets its TTL only when this call created it; the new value is returned as
 * Redis stores it (text), since Lua numbers are doubles. */
const char INCR_SCRIPT[] =
    "local created = redis.call('EXISTS', KEYS[1]) == 0\n"
    "redis.call('INCRBY', KEYS[1], ARGV[1])\n"
    "if created and tonumber(ARGV[2]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end\n"
    "redis.call('PUBLISH', ARGV[3], ARGV[4])\n"
    "return redis.call('GET', KEYS[1])\n";

static void cache_close(rg_cache *c)
{
    if (!c)
        return;
    if (c->sub_started) {
        atomic_store(&c->stopping, true);
        ssize_t w;
        do
            w = write(c->wake[1], "x", 1);
        while (w < 0 && errno == EINTR);
        pthread_join(c->sub, NULL);
    }
    if (c->wake[0] >= 0)
        close(c->wake[0]);
    if (c->wake[1] >= 0)
        close(c->wake[1]);
    rg_pool_free(c->conns);
    journal_free(&c->journal);
    if (c->l1)
        rg_memory_cache_ops.close(c->l1);
    pthread_mutex_destroy(&c->journal_lock);
    pthread_mutex_destroy(&c->replay_lock);
    free(c->host);
    free(c->user);
    free(c->password);
    free(c->prefix);
    free(c->channel);
    free(c);
}

/* *out belongs to the caller (cache_close). A URL that cannot be read is
 * RG_EINVAL; a server that refuses the password or database is RG_EUNAVAIL;
 * a server that cannot be reached is not an error (the service runs without
 * the cache, slower, until it can be reached). */
static int cache_open(rg_cache **out, const char *url, const rg_store_options *opts)
{
    *out = NULL;
    rg_cache *c = rg_xcalloc(1, sizeof *c);
    int rc = parse_url(c, url);
    if (rc < 0) {
        free_settings(c);
        return rc;
    }
    snprintf(c->where, sizeof c->where, "%s%s%s:%d", strchr(c->host, ':') ? "[" : "", c->host,
             strchr(c->host, ':') ? "]" : "", c->port);
    c->chlen = c->plen + strlen("invalidate");
    c->channel = rg_xmalloc(c->chlen + 1);
    snprintf(c->channel, c->chlen + 1, "%sinvalidate", c->prefix);
    c->wake[0] = c->wake[1] = -1;
    atomic_init(&c->gen, 1); /* odd until subscribed */
    atomic_init(&c->down_until, 0);
    atomic_init(&c->down, false);
    atomic_init(&c->journal_pending, false);
    atomic_init(&c->stopping, false);
    for (int i = 0; i < EPOCHS; i++)
        atomic_init(&c->epochs[i], 0);
    pthread_mutex_init(&c->journal_lock, NULL);
    pthread_mutex_init(&c->replay_lock, NULL);
    c->conns = rg_pool_new("store=\"cache\",adapter=\"redis\"",
                           opts && opts->pool_size > 0 ? opts->pool_size : RG_POOL_SIZE_DEFAULT,
                           opts ? opts->pool_wait_ms : RG_POOL_WAIT_MS_DEFAULT,
                           &rg__redis_pool_methods, c);
    if (pipe2(c->wake, O_CLOEXEC) != 0) {
        c->wake[0] = c->wake[1] = -1;
        rg_err("redis cache: pipe: %s", strerror(errno));
        cache_close(c);
        return rg_error_set(RG_EINTERNAL, "internal error");
    }
    if (c->l1_mb > 0) {
        char l1url[48];
        snprintf(l1url, sizeof l1url, "memory:?max_mb=%d", c->l1_mb);
        if ((rc = rg_memory_cache_ops.open(&c->l1, l1url, NULL)) < 0) {
            cache_close(c);
            return rc;
        }
        if (pthread_create(&c->sub, NULL, sub_main, c) != 0) {
            rg_err("redis cache: cannot start the invalidation thread");
            cache_close(c);
            return rg_error_set(RG_EINTERNAL, "internal error");
        }
        pthread_setname_np(c->sub, "rg-redis-sub");
        c->sub_started = true;
    }
    /* One probe: a refused password or database stops the start; an
     * unreachable server only opens the breaker. */
    struct conn probe = {.cache = c};
    char why[WHY];
    rc = conn_open(c, &probe, why);
    if (rc == -2) {
        rg_err("redis cache %s: the server refused the connection: %s", c->where, why);
        cache_close(c);
        return rg_error_set(RG_EUNAVAIL, "the cache server refused the connection settings");
    }
    if (rc < 0)
        breaker_trip(c, why);
    conn_drop(&probe);
    *out = c;
    return 0;
}

/* Keeps what was just read from Redis in L1 for as long as it may: a value
 * (tagged 'v') or the key's absence (tagged 'n'), so that a key that is
 * usually absent (a version never bumped, a marker never set) is not asked
 * for on every read. The life there (pttl, the reply of PTTL: -2 for an
 * absent key, -1 for one without expiry) is cut to L1_TTL_MS and counted
 * from t0, before the GET left. If an invalidation of a key of the same
 * hash (epoch no longer e0) or a new generation (no longer g) came
 * meanwhile, the fill is taken back. val is NULL for an absent key. */
static void l1_fill(rg_cache *c, const char *key, size_t klen, uint64_t g, uint32_t e0,
                    const redisReply *pttl, int64_t t0, const char *val, size_t vlen)
{
    if (pttl->type != REDIS_REPLY_INTEGER || (val && pttl->integer == -2))
        return;
    int64_t life = pttl->integer < 0 || pttl->integer > L1_TTL_MS ? L1_TTL_MS : pttl->integer;
    life -= mono_ms() - t0;
    char l1k[L1_KEY_MAX + 1];
    if (life <= 0 || !l1_key(l1k, g, key, klen))
        return;
    char *tagged = rg_xmalloc(vlen + 1);
    tagged[0] = val ? 'v' : 'n';
    if (val)
        memcpy(tagged + 1, val, vlen);
    _Atomic uint32_t *epoch = &c->epochs[key_hash(key, klen) & (EPOCHS - 1)];
    if (rg_memory_cache_ops.set(c->l1, l1k, tagged, vlen + 1, life) == 0 &&
        (atomic_load(&c->gen) != g || atomic_load(epoch) != e0))
        rg_memory_cache_ops.del(c->l1, l1k);
    free(tagged);
}

/* What L1 holds for a key (l1_fill's tagged copy, in *val, malloc'd):
 * true with *val the value, or NULL when the key is known absent; false
 * when L1 has nothing. */
static bool l1_get(rg_cache *c, const char *l1k, char **val, size_t *len)
{
    if (rg_memory_cache_ops.get(c->l1, l1k, val, len) < 0) {
        rg_error_clear();
        return false;
    }
    if (*len == 0 || (*val)[0] != 'v') {
        free(*val);
        *val = NULL;
        *len = 0;
        return true;
    }
    memmove(*val, *val + 1, *len); /* with its NUL */
    --*len;
    return true;
}

/* out[i] is a malloc'd NUL-terminated copy (caller frees) or NULL on a
 * miss; len[i] its length without the NUL. Keys found in L1 are served from
 * there; the others go to Redis in one pipeline, a GET each (with its PTTL
 * when L1 may keep the answer). RG_EUNAVAIL when Redis cannot be used (the
 * caller treats that as misses). */
static int cache_get_many(rg_cache *c, const char *const *keys, int n, char **out, size_t *len)
{
    struct {
        size_t klen;
        bool ask, fill;
        uint32_t e0;
    } q[RG_CACHE_MANY_MAX];
    uint64_t g = c->l1 ? atomic_load(&c->gen) : 1;
    int cmds = 0;
    for (int i = 0; i < n; i++) {
        out[i] = NULL;
        len[i] = 0;
        q[i].klen = strlen(keys[i]);
        q[i].ask = true;
        q[i].fill = false;
        char l1k[L1_KEY_MAX + 1];
        if (!(g & 1) && l1_key(l1k, g, keys[i], q[i].klen)) {
            if (l1_get(c, l1k, &out[i], &len[i])) {
                q[i].ask = false;
                continue;
            }
            /* before the GET leaves */
            q[i].e0 = atomic_load(&c->epochs[key_hash(keys[i], q[i].klen) & (EPOCHS - 1)]);
            q[i].fill = true;
        }
        cmds += q[i].fill ? 2 : 1;
    }
    if (cmds == 0)
        return 0;
    struct conn *k;
    int rc;
    if ((rc = conn_get(c, &k)) < 0)
        goto fail;
    rg_buf b = {0};
    for (int i = 0; i < n; i++) {
        if (!q[i].ask)
            continue;
        put_cmd(&b, "GET %b%b", c->prefix, c->plen, keys[i], q[i].klen);
        if (q[i].fill)
            put_cmd(&b, "PTTL %b%b", c->prefix, c->plen, keys[i], q[i].klen);
    }
    int64_t t0 = mono_ms();
    redisReply *r[2 * RG_CACHE_MANY_MAX];
    rc = roundtrip(c, k, &b, cmds, r);
    rg_buf_free(&b);
    conn_put(c, k);
    if (rc < 0)
        goto fail;
    for (int i = 0, j = 0; i < n; i++) {
        if (!q[i].ask)
            continue;
        const redisReply *v = r[j++], *pttl = q[i].fill ? r[j++] : NULL;
        if (v->type == REDIS_REPLY_NIL) {
            if (pttl)
                l1_fill(c, keys[i], q[i].klen, g, q[i].e0, pttl, t0, NULL, 0);
            continue;
        }
        if (v->type != REDIS_REPLY_STRING) {
            rc = bad_reply(c, v, "GET");
            break;
        }
        out[i] = rg_xmalloc(v->len + 1);
        memcpy(out[i], v->str, v->len);
        out[i][v->len] = '\0';
        len[i] = v->len;
        if (pttl)
            l1_fill(c, keys[i], q[i].klen, g, q[i].e0, pttl, t0, out[i], len[i]);
    }
    free_replies(r, cmds);
    if (rc == 0)
        return 0;
fail:
    for (int i = 0; i < n; i++) {
        free(out[i]);
        out[i] = NULL;
        len[i] = 0;
    }
    return rc;
}

static int cache_get(rg_cache *c, const char *key, char **out, size_t *len)
{
    size_t l;
    int rc = cache_get_many(c, &key, 1, out, &l);
    if (rc < 0)
        return rc;
    if (!*out)
        return rg_error_set(RG_ENOTFOUND, "not in the cache");
    if (len)
        *len = l;
    return 0;
}

/* A write of key is done (or failed): local L1 first, and a write that may
 * not have reached Redis goes to the journal. */
static int write_done(rg_cache *c, const char *key, size_t klen, int rc)
{
    l1_invalidate(c, key, klen);
    if (rc == RG_EUNAVAIL)
        journal_add(c, key);
    return rc;
}

/* Stores len bytes of val (borrowed, may hold NULs) under key, for ttl_ms
 * (0: no expiry). */
/* Appends the SET of key (with its TTL, if any) to b. */
static void put_set(rg_buf *b, const rg_cache *c, const char *key, size_t klen, const char *val,
                    size_t len, int64_t ttl_ms)
{
    if (ttl_ms)
        put_cmd(b, "SET %b%b %b PX %lld", c->prefix, c->plen, key, klen, val, len,
                (long long)ttl_ms);
    else
        put_cmd(b, "SET %b%b %b", c->prefix, c->plen, key, klen, val, len);
}

static int cache_set(rg_cache *c, const char *key, const char *val, size_t len, int64_t ttl_ms)
{
    size_t klen = strlen(key);
    int rc;
    struct conn *k;
    if ((rc = conn_get(c, &k)) == 0) {
        rg_buf b = {0};
        put_set(&b, c, key, klen, val, len, ttl_ms);
        put_cmd(&b, "PUBLISH %b %b", c->channel, c->chlen, key, klen);
        redisReply *r[2];
        rc = roundtrip(c, k, &b, 2, r);
        rg_buf_free(&b);
        conn_put(c, k);
        if (rc == 0) {
            if (r[0]->type != REDIS_REPLY_STATUS)
                rc = bad_reply(c, r[0], "SET");
            else if (r[1]->type != REDIS_REPLY_INTEGER)
                rc = bad_reply(c, r[1], "PUBLISH");
            free_replies(r, 2);
        }
    }
    return write_done(c, key, klen, rc);
}

/* SET without the PUBLISH: the value is current by its own account (see
 * rg_cache_ops.fill), so other instances' copies need not go. A fill that
 * may not have reached Redis is no lost write: it is not journalled. */
static int cache_fill(rg_cache *c, const char *key, const char *val, size_t len, int64_t ttl_ms)
{
    size_t klen = strlen(key);
    int rc;
    struct conn *k;
    if ((rc = conn_get(c, &k)) == 0) {
        rg_buf b = {0};
        put_set(&b, c, key, klen, val, len, ttl_ms);
        redisReply *r[1];
        rc = roundtrip(c, k, &b, 1, r);
        rg_buf_free(&b);
        conn_put(c, k);
        if (rc == 0) {
            if (r[0]->type != REDIS_REPLY_STATUS)
                rc = bad_reply(c, r[0], "SET");
            free_replies(r, 1);
        }
    }
    l1_invalidate(c, key, klen);
    return rc;
}

/* Appends the DEL of key and its announcement (two replies) to b. */
static void put_del(rg_buf *b, const rg_cache *c, const char *key, size_t klen)
{
    put_cmd(b, "DEL %b%b", c->prefix, c->plen, key, klen);
    put_cmd(b, "PUBLISH %b %b", c->channel, c->chlen, key, klen);
}

/* The two replies of put_del: 0, or the error of a bad one. */
static int del_replies(rg_cache *c, redisReply **r)
{
    if (r[0]->type != REDIS_REPLY_INTEGER)
        return bad_reply(c, r[0], "DEL");
    if (r[1]->type != REDIS_REPLY_INTEGER)
        return bad_reply(c, r[1], "PUBLISH");
    return 0;
}

/* Removes key; 0 also when it was absent. */
static int cache_del(rg_cache *c, const char *key)
{
    size_t klen = strlen(key);
    int rc;
    struct conn *k;
    if ((rc = conn_get(c, &k)) == 0) {
        rg_buf b = {0};
        put_del(&b, c, key, klen);
        redisReply *r[2];
        rc = roundtrip(c, k, &b, 2, r);
        rg_buf_free(&b);
        conn_put(c, k);
        if (rc == 0) {
            rc = del_replies(c, r);
            free_replies(r, 2);
        }
    }
    return write_done(c, key, klen, rc);
}

static bool reply_mentions(const redisReply *r, const char *what)
{
    return r->type == REDIS_REPLY_ERROR && r->str && strstr(r->str, what);
}

/* Appends the script that adds by to the counter at key (see cache_incr),
 * by its SHA1 on a connection that loaded it, else as text. */
static void put_incr(rg_buf *b, const rg_cache *c, const struct conn *k, bool by_sha,
                     const char *key, size_t klen, int64_t by, int64_t ttl_ms)
{
    if (by_sha)
        put_cmd(b, "EVALSHA %s 1 %b%b %lld %lld %b %b", k->sha, c->prefix, c->plen, key, klen,
                (long long)by, (long long)ttl_ms, c->channel, c->chlen, key, klen);
    else
        put_cmd(b, "EVAL %s 1 %b%b %lld %lld %b %b", INCR_SCRIPT, c->prefix, c->plen, key, klen,
                (long long)by, (long long)ttl_ms, c->channel, c->chlen, key, klen);
}

/* The reply of put_incr's script: the new value in *out, or the error. */
static int incr_reply(rg_cache *c, const redisReply *r, int64_t *out)
{
    if (reply_mentions(r, "not an integer"))
        return rg_error_set(RG_EINVAL, "the cached value is not an integer");
    if (reply_mentions(r, "overflow"))
        return rg_error_set(RG_EINVAL, "the counter would overflow");
    if (r->type != REDIS_REPLY_STRING || r->len == 0 || r->len >= INT_TEXT_MAX)
        return bad_reply(c, r, "EVAL");
    char text[INT_TEXT_MAX];
    memcpy(text, r->str, r->len);
    text[r->len] = '\0';
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || *end)
        return bad_reply(c, r, "EVAL");
    *out = v;
    return 0;
}

/* Adds by to the counter at key, creating it at 0 with ttl_ms when absent (an
 * existing counter keeps its expiry), atomically in Redis (one script). The
 * new value goes to *out. RG_EINVAL if the value is not an integer or the sum
 * overflows (the value stays as it was). */
static int cache_incr(rg_cache *c, const char *key, int64_t by, int64_t ttl_ms, int64_t *out)
{
    size_t klen = strlen(key);
    int rc;
    struct conn *k;
    if ((rc = conn_get(c, &k)) < 0)
        return write_done(c, key, klen, rc);
    redisReply *r[1] = {NULL};
    bool by_sha = k->sha[0] != '\0';
    for (;;) {
        rg_buf b = {0};
        put_incr(&b, c, k, by_sha, key, klen, by, ttl_ms);
        rc = roundtrip(c, k, &b, 1, r);
        rg_buf_free(&b);
        if (rc < 0) {
            conn_put(c, k);
            return write_done(c, key, klen, rc);
        }
        if (!by_sha || !reply_mentions(r[0], "NOSCRIPT"))
            break;
        /* The server lost its scripts (restart, SCRIPT FLUSH): send the text,
         * which loads it again under the same SHA1. */
        by_sha = false;
        free_replies(r, 1);
    }
    conn_put(c, k);
    int64_t sum = 0;
    rc = incr_reply(c, r[0], &sum);
    free_replies(r, 1);
    rc = write_done(c, key, klen, rc);
    if (rc == 0 && out)
        *out = sum;
    return rc;
}

/* The writes in one pipeline, in order. An incr whose script the server had
 * lost (SCRIPT FLUSH on a live connection) is sent again alone after the
 * others, and the dels that came after it are sent again after it, so
 * that none of them precedes it in the end. */
static int cache_write_many(rg_cache *c, rg_cache_write *w, int n)
{
    struct conn *k;
    int rc = conn_get(c, &k);
    redisReply *r[2 * RG_CACHE_MANY_MAX];
    int cmds = 0;
    if (rc == 0) {
        bool by_sha = k->sha[0] != '\0';
        rg_buf b = {0};
        for (int i = 0; i < n; i++) {
            size_t klen = strlen(w[i].key);
            if (w[i].op == RG_CACHE_WRITE_DEL)
                put_del(&b, c, w[i].key, klen);
            else
                put_incr(&b, c, k, by_sha, w[i].key, klen, w[i].by, w[i].ttl_ms);
            cmds += w[i].op == RG_CACHE_WRITE_DEL ? 2 : 1;
        }
        rc = roundtrip(c, k, &b, cmds, r);
        rg_buf_free(&b);
        conn_put(c, k);
    }
    int first = 0;
    for (int i = 0, j = 0; i < n; i++) {
        bool del = w[i].op == RG_CACHE_WRITE_DEL;
        if (rc < 0)
            w[i].rc = rc;
        else if (del)
            w[i].rc = del_replies(c, &r[j]);
        else if (reply_mentions(r[j], "NOSCRIPT"))
            w[i].rc = 1; /* below */
        else
            w[i].rc = incr_reply(c, r[j], &w[i].out);
        j += del ? 2 : 1;
        if (w[i].rc <= 0)
            w[i].rc = write_done(c, w[i].key, strlen(w[i].key), w[i].rc);
    }
    if (rc == 0)
        free_replies(r, cmds);
    bool redo_dels = false;
    for (int i = 0; i < n; i++) {
        if (w[i].rc == 1) {
            w[i].rc = cache_incr(c, w[i].key, w[i].by, w[i].ttl_ms, &w[i].out);
            redo_dels = true;
        } else if (redo_dels && w[i].op == RG_CACHE_WRITE_DEL) {
            w[i].rc = cache_del(c, w[i].key);
        }
        if (w[i].rc < 0 && first == 0)
            first = w[i].rc;
    }
    return first;
}

static int cache_ping(rg_cache *c)
{
    struct conn *k;
    int rc = conn_get(c, &k);
    if (rc < 0)
        return rc;
    rg_buf b = {0};
    put_cmd(&b, "PING");
    redisReply *r[1];
    rc = roundtrip(c, k, &b, 1, r);
    rg_buf_free(&b);
    conn_put(c, k);
    if (rc < 0)
        return rc;
    if (r[0]->type != REDIS_REPLY_STATUS)
        rc = bad_reply(c, r[0], "PING");
    free_replies(r, 1);
    return rc;
}

const struct rg_cache_ops rg_redis_cache_ops = {
    .version = RG_CACHE_OPS_VERSION,
    .caps = RG_CACHE_CAP_SHARED,
    .scheme = "redis",
    .open = cache_open,
    .close = cache_close,
    .get = cache_get,
    .get_many = cache_get_many,
    .set = cache_set,
    .fill = cache_fill,
    .del = cache_del,
    .incr = cache_incr,
    .ping = cache_ping,
    .write_many = cache_write_many,
};
