/* Cache port on Redis, with a small in-process level in front of it:
 * "redis://[[user]:password@]host[:port][/db][?prefix=P&l1_mb=N]".
 *
 * Keys. Every key goes to Redis as prefix + key (prefix default "rg:"), so
 * several deployments or test runs share one server. Writes (set, del, incr)
 * also PUBLISH the caller's key on the channel prefix + "invalidate".
 *
 * Level 1 (L1) is the memory adapter ("memory:?max_mb=N", l1_mb default 8, 0
 * turns it off). An entry lives at most L1_TTL_MS (1 s), and never longer than
 * the value's own TTL in Redis, counted from before the GET that read it: that
 * is the hard bound on how long an instance may serve a value another instance
 * has replaced. Invalidation messages only make it shorter:
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
 * Commands run on one blocking connection per calling thread (pthread key),
 * with a 200 ms connect and 500 ms command timeout. Requests are written with
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
 * caps: RG_CACHE_CAP_SHARED. */
#include "risinggen/store/cache.h"
#include "risinggen/store/pool.h"
#include "risinggen/base/error.h"
#include "risinggen/base/metrics.h"
#include "risinggen/base/alloc.h"
#include "risinggen/base/buf.h"
#include "risinggen/base/log.h"

#include <hiredis/hiredis.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_PORT    6379
#define DEFAULT_PREFIX  "rg:"
#define DEFAULT_L1_MB   8
#define MAX_L1_MB       (1 << 20)
#define PREFIX_MAX      128
#define HOST_MAX        255
#define KEY_MAX         4096
#define L1_KEY_MAX      (KEY_MAX + 24) /* "<gen>:" + key */
#define CONNECT_MS      200
#define COMMAND_MS      500
#define BREAK_MS        1000 /* after a failure, no new attempt for this long */
#define L1_TTL_MS       1000 /* the longest an L1 entry lives */
#define EPOCHS          1024 /* invalidation counters, by key hash; power of two */
#define JOURNAL_MAX     4096 /* keys of lost writes kept; beyond, purge the prefix */
#define JOURNAL_SLOTS   (2 * JOURNAL_MAX)
#define SUB_BACKOFF_MIN 50
#define SUB_BACKOFF_MAX 1000
#define SUB_IDLE_MS     1000 /* PING the channel after this much silence */
#define REPLAY_BATCH    256  /* keys per UNLINK */
#define SCAN_COUNT      1000
#define WHY             160 /* room for a cause in the log */
#define INT_TEXT_MAX    24

/* KEYS[1] prefixed key; ARGV: by, ttl_ms, channel, caller's key. The counter
 * gets its TTL only when this call created it; the new value is returned as
 * Redis stores it (text), since Lua numbers are doubles. */
static const char INCR_SCRIPT[] =
    "local created = redis.call('EXISTS', KEYS[1]) == 0\n"
    "redis.call('INCRBY', KEYS[1], ARGV[1])\n"
    "if created and tonumber(ARGV[2]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end\n"
    "redis.call('PUBLISH', ARGV[3], ARGV[4])\n"
    "return redis.call('GET', KEYS[1])\n";

/* One pooled command connection. */
struct conn {
    redisContext *ctx; /* NULL once lost: the pool closes it when it comes back */
    rg_cache *cache;
    char sha[41]; /* the incr script's SHA1 on this server; "" unknown */
};

/* Keys whose write may be lost: an open-addressing set of owned strings. */
struct journal {
    char **slots; /* JOURNAL_SLOTS, allocated on first use */
    size_t count;
    bool overflow; /* more than JOURNAL_MAX: purge the whole prefix */
};

struct rg_cache {
    /* settings */
    char *host, *user, *password, *prefix, *channel;
    size_t plen, chlen;
    int port, db, l1_mb;
    char where[HOST_MAX + 16]; /* "host:port", for the log */

    /* level 1 */
    rg_cache *l1; /* memory adapter; NULL when off */
    _Atomic uint64_t gen;
    _Atomic uint32_t epochs[EPOCHS];

    /* command connections */
    rg_pool *conns;

    /* breaker */
    _Atomic int64_t down_until; /* monotonic ms; 0: closed */
    atomic_bool down;           /* what the log last said */

    /* lost writes */
    pthread_mutex_t journal_lock; /* guards journal */
    pthread_mutex_t replay_lock;  /* one replay at a time */
    atomic_bool journal_pending;
    struct journal journal;

    /* subscriber */
    pthread_t sub;
    bool sub_started;
    int wake[2]; /* close writes to wake[1] */
    atomic_bool stopping;
};

/* ---- small helpers ---- */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t key_hash(const char *key, size_t klen)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < klen; i++)
        h = (h ^ (unsigned char)key[i]) * 1099511628211ull;
    return h;
}

static int unavailable(void)
{
    return rg_error_set(RG_EUNAVAIL, "the cache is unavailable");
}

/* Appends one command in the protocol's form (hiredis format: %b takes a
 * pointer and a size_t, and is binary-safe). */
static void put_cmd(rg_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *cmd = NULL;
    int n = redisvFormatCommand(&cmd, fmt, ap);
    va_end(ap);
    if (n < 0)
        abort(); /* out of memory, or a format error in this file */
    rg_buf_put(b, cmd, (size_t)n);
    redisFreeCommand(cmd);
}

static void put_argv(rg_buf *b, int argc, const char **argv, const size_t *argvlen)
{
    char *cmd = NULL;
    int n = redisFormatCommandArgv(&cmd, argc, argv, argvlen);
    if (n < 0)
        abort();
    rg_buf_put(b, cmd, (size_t)n);
    redisFreeCommand(cmd);
}

static void put_auth(const rg_cache *c, rg_buf *b)
{
    if (c->user)
        put_cmd(b, "AUTH %s %s", c->user, c->password);
    else
        put_cmd(b, "AUTH %s", c->password);
}

static void free_replies(redisReply **r, int n)
{
    for (int i = 0; i < n; i++) {
        if (r[i])
            freeReplyObject(r[i]);
        r[i] = NULL;
    }
}

/* Writes all of b. MSG_NOSIGNAL: a socket the server closed gives EPIPE
 * rather than killing the process; SO_SNDTIMEO bounds the wait. */
static int send_all(int fd, const rg_buf *b, char why[WHY])
{
    const char *p = b->data;
    size_t left = b->len;
    while (left) {
        ssize_t n = send(fd, p, left, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            snprintf(why, WHY, "send: %s", strerror(errno));
            return -1;
        }
        p += n;
        left -= (size_t)n;
    }
    return 0;
}

/* Sends b and reads n replies into r[]. 0, or -1 when the connection failed
 * (the context is then unusable; why says what happened). */
static int exchange(redisContext *ctx, const rg_buf *b, int n, redisReply **r, char why[WHY])
{
    for (int i = 0; i < n; i++)
        r[i] = NULL;
    if (send_all(ctx->fd, b, why) < 0)
        return -1;
    for (int i = 0; i < n; i++) {
        void *rep = NULL;
        if (redisGetReply(ctx, &rep) != REDIS_OK || !rep) {
            snprintf(why, WHY, "%s",
                     ctx->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK)
                         ? "no answer within the command timeout"
                     : ctx->errstr[0] ? ctx->errstr
                                      : "connection lost");
            free_replies(r, i);
            return -1;
        }
        r[i] = rep;
    }
    return 0;
}

/* A TCP connection with the connect and command timeouts, or NULL. */
static redisContext *dial(const rg_cache *c, char why[WHY])
{
    struct timeval connect_tv = {.tv_sec = 0, .tv_usec = CONNECT_MS * 1000};
    redisContext *ctx = redisConnectWithTimeout(c->host, c->port, connect_tv);
    if (!ctx) {
        snprintf(why, WHY, "out of memory");
        return NULL;
    }
    if (ctx->err) {
        snprintf(why, WHY, "%s", ctx->errstr);
        redisFree(ctx);
        return NULL;
    }
    struct timeval cmd_tv = {.tv_sec = 0, .tv_usec = COMMAND_MS * 1000};
    if (redisSetTimeout(ctx, cmd_tv) != REDIS_OK) {
        snprintf(why, WHY, "%s", ctx->errstr);
        redisFree(ctx);
        return NULL;
    }
    redisEnableKeepAlive(ctx); /* best effort: finds a vanished peer eventually */
    return ctx;
}

/* ---- level 1 ---- */

static size_t l1_key(char *buf, uint64_t gen, const char *key, size_t klen)
{
    int n = snprintf(buf, L1_KEY_MAX + 1, "%" PRIu64 ":", gen);
    if (klen > (size_t)(L1_KEY_MAX - n))
        return 0;
    memcpy(buf + n, key, klen);
    buf[(size_t)n + klen] = '\0';
    return (size_t)n + klen;
}

/* Drops key from L1 now, and makes any reader whose GET of a key with the
 * same hash is in flight drop what it is about to fill. */
static void l1_invalidate(rg_cache *c, const char *key, size_t klen)
{
    if (!c->l1)
        return;
    atomic_fetch_add(&c->epochs[key_hash(key, klen) & (EPOCHS - 1)], 1);
    uint64_t g = atomic_load(&c->gen);
    if (g & 1)
        return; /* nothing is kept under an odd generation */
    char buf[L1_KEY_MAX + 1];
    if (l1_key(buf, g, key, klen))
        rg_memory_cache_ops.del(c->l1, buf);
}

/* Empties L1 (a new generation; the old entries can no longer be found). */
static void l1_clear(rg_cache *c)
{
    if (c->l1)
        atomic_fetch_add(&c->gen, 2);
}

/* ---- breaker ---- */

static void breaker_trip(rg_cache *c, const char *why)
{
    atomic_store(&c->down_until, mono_ms() + BREAK_MS);
    if (!atomic_exchange(&c->down, true))
        rg_warn("redis cache %s: not usable (%s); going on without it, next try in %d ms", c->where,
                why, BREAK_MS);
}

/* After a successful probe: closes the breaker unless a failure came since. */
static void breaker_reset(rg_cache *c, int64_t probe_until)
{
    if (atomic_compare_exchange_strong(&c->down_until, &probe_until, 0) &&
        atomic_exchange(&c->down, false)) {
        rg_info("redis cache %s: usable again", c->where);
        l1_clear(c);
    }
}

/* An answer that is not what the command gives: the server is not usable as
 * a cache right now (read-only replica, out of memory, loading...). */
static int bad_reply(rg_cache *c, const redisReply *r, const char *what)
{
    char why[WHY];
    if (r && r->type == REDIS_REPLY_ERROR)
        snprintf(why, sizeof why, "%s: %.*s", what, (int)(r->len > 100 ? 100 : r->len), r->str);
    else
        snprintf(why, sizeof why, "%s: unexpected reply type %d", what, r ? r->type : -1);
    breaker_trip(c, why);
    return unavailable();
}

/* ---- command connections ---- */

static void conn_drop(struct conn *k)
{
    if (k->ctx) {
        redisFree(k->ctx);
        k->ctx = NULL;
        k->sha[0] = '\0';
    }
}

/* True when an idle connection has something to read: the server closed it
 * (or sent what nobody asked for). It cannot be used any more. */
static bool conn_stale(const redisContext *ctx)
{
    struct pollfd p = {.fd = ctx->fd, .events = POLLIN};
    int n = poll(&p, 1, 0);
    return n > 0 || (n < 0 && errno != EINTR);
}

/* Opens k's connection: AUTH, SELECT and loading the incr script, in one
 * round trip. 0; -1 when the server cannot be reached; -2 when it answered
 * with an error (a wrong password or database: why holds its message). */
static int conn_open(rg_cache *c, struct conn *k, char why[WHY])
{
    redisContext *ctx = dial(c, why);
    if (!ctx)
        return -1;
    rg_buf b = {0};
    int n = 0;
    if (c->password) {
        put_auth(c, &b);
        n++;
    }
    if (c->db) {
        put_cmd(&b, "SELECT %d", c->db);
        n++;
    }
    put_cmd(&b, "SCRIPT LOAD %s", INCR_SCRIPT);
    n++;
    redisReply *r[3];
    int rc = exchange(ctx, &b, n, r, why);
    rg_buf_free(&b);
    if (rc == 0) {
        for (int i = 0; i < n && rc == 0; i++)
            if (r[i]->type == REDIS_REPLY_ERROR) {
                snprintf(why, WHY, "%.*s", (int)(r[i]->len > 120 ? 120 : r[i]->len), r[i]->str);
                rc = -2;
            }
        const redisReply *sha = r[n - 1];
        if (rc == 0 && sha->type == REDIS_REPLY_STRING && sha->len == 40)
            memcpy(k->sha, sha->str, 41);
        else
            k->sha[0] = '\0';
        free_replies(r, n);
    }
    if (rc < 0) {
        redisFree(ctx);
        return rc;
    }
    k->ctx = ctx;
    return 0;
}

/* The pool's methods: a connection is opened when the pool has room and
 * none idle; one the server closed while idle is replaced. */
static int pool_open(void *ctx, void **out)
{
    rg_cache *c = ctx;
    struct conn *k = rg_xcalloc(1, sizeof *k);
    k->cache = c;
    char why[WHY];
    if (conn_open(c, k, why) < 0) {
        free(k);
        breaker_trip(c, why);
        return unavailable();
    }
    *out = k;
    return 0;
}

static void pool_close(void *ctx, void *p)
{
    (void)ctx;
    conn_drop(p);
    free(p);
}

static bool pool_usable(void *ctx, void *p)
{
    (void)ctx;
    const struct conn *k = p;
    return k->ctx && !conn_stale(k->ctx);
}

static const rg_pool_methods redis_pool_methods = {
    .open = pool_open, .close = pool_close, .usable = pool_usable};

static int journal_replay(rg_cache *c, struct conn *k);

/* Gives k back to the pool; a lost one is closed. */
static void conn_put(rg_cache *c, struct conn *k)
{
    if (k)
        rg_pool_put(c->conns, k, !k->ctx);
}

/* A usable connection from the pool (given back with conn_put). While the
 * breaker is open: RG_EUNAVAIL at once, except for the one caller that
 * probes after BREAK_MS. Writes lost in an outage are undone before the
 * connection is handed out. */
static int conn_get(rg_cache *c, struct conn **out)
{
    *out = NULL;
    int64_t probe_until = 0;
    int64_t du = atomic_load(&c->down_until);
    if (du) {
        int64_t now = mono_ms();
        if (now < du)
            return unavailable();
        probe_until = now + BREAK_MS;
        if (!atomic_compare_exchange_strong(&c->down_until, &du, probe_until))
            return unavailable(); /* another thread is probing */
    }
    void *p;
    int rc = rg_pool_get(c->conns, &p);
    if (rc < 0)
        return rc == RG_EUNAVAIL ? unavailable() : rc;
    struct conn *k = p;
    if (atomic_load(&c->journal_pending) && (rc = journal_replay(c, k)) < 0) {
        conn_put(c, k);
        return rc;
    }
    if (probe_until)
        breaker_reset(c, probe_until);
    *out = k;
    return 0;
}

/* One round trip on k; a failed connection is dropped and opens the breaker. */
static int roundtrip(rg_cache *c, struct conn *k, const rg_buf *b, int n, redisReply **r)
{
    char why[WHY];
    if (exchange(k->ctx, b, n, r, why) < 0) {
        conn_drop(k);
        breaker_trip(c, why);
        return unavailable();
    }
    return 0;
}

/* ---- lost writes ---- */

static void journal_free(struct journal *j)
{
    if (j->slots) {
        for (size_t i = 0; i < JOURNAL_SLOTS; i++)
            free(j->slots[i]);
        free(j->slots);
    }
    memset(j, 0, sizeof *j);
}

/* Under journal_lock. */
static void journal_put(struct journal *j, const char *key)
{
    if (j->overflow)
        return;
    if (j->count >= JOURNAL_MAX) {
        journal_free(j);
        j->overflow = true;
        return;
    }
    if (!j->slots)
        j->slots = rg_xcalloc(JOURNAL_SLOTS, sizeof *j->slots);
    size_t i = key_hash(key, strlen(key)) & (JOURNAL_SLOTS - 1);
    for (; j->slots[i]; i = (i + 1) & (JOURNAL_SLOTS - 1))
        if (strcmp(j->slots[i], key) == 0)
            return;
    j->slots[i] = rg_xstrdup(key);
    j->count++;
}

/* Remembers that a write of key may not have reached Redis (or may have, and
 * its invalidation message not). */
static void journal_add(rg_cache *c, const char *key)
{
    pthread_mutex_lock(&c->journal_lock);
    journal_put(&c->journal, key);
    atomic_store(&c->journal_pending, true);
    pthread_mutex_unlock(&c->journal_lock);
}

/* Deletes every key under the prefix, SCAN by SCAN. */
static int purge_prefix(rg_cache *c, struct conn *k)
{
    rg_buf pattern = {0};
    for (size_t i = 0; i < c->plen; i++) {
        if (strchr("*?[]\\", c->prefix[i]))
            rg_buf_put(&pattern, "\\", 1);
        rg_buf_put(&pattern, &c->prefix[i], 1);
    }
    rg_buf_put(&pattern, "*", 1);
    char cursor[32] = "0";
    int rc = 0;
    do {
        rg_buf b = {0};
        put_cmd(&b, "SCAN %s MATCH %b COUNT %d", cursor, pattern.data, pattern.len, SCAN_COUNT);
        redisReply *r[1];
        rc = roundtrip(c, k, &b, 1, r);
        rg_buf_free(&b);
        if (rc < 0)
            break;
        const redisReply *s = r[0];
        if (s->type != REDIS_REPLY_ARRAY || s->elements != 2 ||
            s->element[0]->type != REDIS_REPLY_STRING || s->element[0]->len >= sizeof cursor ||
            s->element[1]->type != REDIS_REPLY_ARRAY) {
            rc = bad_reply(c, s, "SCAN");
            free_replies(r, 1);
            break;
        }
        memcpy(cursor, s->element[0]->str, s->element[0]->len + 1);
        const redisReply *keys = s->element[1];
        if (keys->elements) {
            size_t n = keys->elements;
            const char **argv = rg_xmalloc((n + 1) * sizeof *argv);
            size_t *lens = rg_xmalloc((n + 1) * sizeof *lens);
            argv[0] = "UNLINK";
            lens[0] = 6;
            for (size_t i = 0; i < n; i++) {
                argv[i + 1] = keys->element[i]->str ? keys->element[i]->str : "";
                lens[i + 1] = keys->element[i]->len;
            }
            rg_buf u = {0};
            put_argv(&u, (int)(n + 1), argv, lens);
            free(argv);
            free(lens);
            redisReply *ur[1];
            rc = roundtrip(c, k, &u, 1, ur);
            rg_buf_free(&u);
            if (rc == 0) {
                if (ur[0]->type != REDIS_REPLY_INTEGER)
                    rc = bad_reply(c, ur[0], "UNLINK");
                free_replies(ur, 1);
            }
        }
        free_replies(r, 1);
    } while (rc == 0 && strcmp(cursor, "0") != 0);
    rg_buf_free(&pattern);
    return rc;
}

/* Deletes the journal's keys from Redis and tells every instance to empty its
 * L1 (an empty message). Runs on one thread at a time; the others get
 * RG_EUNAVAIL meanwhile rather than a value that may be stale. */
static int journal_replay(rg_cache *c, struct conn *k)
{
    if (pthread_mutex_trylock(&c->replay_lock) != 0)
        return unavailable();
    pthread_mutex_lock(&c->journal_lock);
    struct journal j = c->journal;
    memset(&c->journal, 0, sizeof c->journal);
    pthread_mutex_unlock(&c->journal_lock);

    int rc = 0;
    if (j.overflow) {
        rc = purge_prefix(c, k);
    } else if (j.count) {
        rg_buf b = {0};
        const char **argv = rg_xmalloc((REPLAY_BATCH + 1) * sizeof *argv);
        size_t *lens = rg_xmalloc((REPLAY_BATCH + 1) * sizeof *lens);
        char **owned = rg_xmalloc(REPLAY_BATCH * sizeof *owned);
        int argc = 1, ncmd = 0;
        argv[0] = "UNLINK";
        lens[0] = 6;
        for (size_t i = 0; i <= JOURNAL_SLOTS; i++) {
            if (i < JOURNAL_SLOTS && j.slots[i]) {
                size_t klen = strlen(j.slots[i]);
                char *pk = rg_xmalloc(c->plen + klen + 1);
                memcpy(pk, c->prefix, c->plen);
                memcpy(pk + c->plen, j.slots[i], klen + 1);
                owned[argc - 1] = pk;
                argv[argc] = pk;
                lens[argc] = c->plen + klen;
                argc++;
            }
            if (argc > 1 && (argc == REPLAY_BATCH + 1 || i == JOURNAL_SLOTS)) {
                put_argv(&b, argc, argv, lens);
                ncmd++;
                for (int a = 0; a < argc - 1; a++)
                    free(owned[a]);
                argc = 1;
            }
        }
        free(argv);
        free(lens);
        free(owned);
        redisReply **r = rg_xcalloc((size_t)ncmd, sizeof *r);
        rc = roundtrip(c, k, &b, ncmd, r);
        rg_buf_free(&b);
        for (int i = 0; rc == 0 && i < ncmd; i++)
            if (r[i]->type != REDIS_REPLY_INTEGER)
                rc = bad_reply(c, r[i], "UNLINK");
        free_replies(r, ncmd);
        free(r);
    }
    if (rc == 0) {
        rg_buf b = {0};
        put_cmd(&b, "PUBLISH %b %b", c->channel, c->chlen, "", (size_t)0);
        redisReply *r[1];
        rc = roundtrip(c, k, &b, 1, r);
        rg_buf_free(&b);
        if (rc == 0) {
            if (r[0]->type != REDIS_REPLY_INTEGER)
                rc = bad_reply(c, r[0], "PUBLISH");
            free_replies(r, 1);
        }
    }

    pthread_mutex_lock(&c->journal_lock);
    if (rc < 0) {
        /* Put back what is still to be done. */
        if (j.overflow) {
            journal_free(&c->journal);
            c->journal.overflow = true;
        } else {
            for (size_t i = 0; j.slots && i < JOURNAL_SLOTS; i++)
                if (j.slots[i])
                    journal_put(&c->journal, j.slots[i]);
        }
    } else {
        if (j.overflow)
            rg_info("redis cache %s: removed every key under the prefix, since more than %d "
                    "writes may have been lost while it was out of reach",
                    c->where, JOURNAL_MAX);
        else
            rg_info("redis cache %s: removed %zu key(s) whose writes may have been lost while "
                    "it was out of reach",
                    c->where, j.count);
        if (!c->journal.count && !c->journal.overflow)
            atomic_store(&c->journal_pending, false);
    }
    pthread_mutex_unlock(&c->journal_lock);
    journal_free(&j);
    if (rc == 0)
        l1_clear(c);
    pthread_mutex_unlock(&c->replay_lock);
    return rc;
}

/* ---- subscriber ---- */

/* Waits for the next reply on the subscriber's connection: 1 with *out (to
 * freeReplyObject), 0 when timeout_ms passed, -1 when the connection failed,
 * -2 when the adapter is closing. */
static int sub_next(rg_cache *c, redisContext *ctx, int timeout_ms, redisReply **out)
{
    *out = NULL;
    for (;;) {
        void *r = NULL;
        if (redisGetReplyFromReader(ctx, &r) != REDIS_OK)
            return -1;
        if (r) {
            *out = r;
            return 1;
        }
        struct pollfd p[2] = {{.fd = ctx->fd, .events = POLLIN},
                              {.fd = c->wake[0], .events = POLLIN}};
        int n = poll(p, 2, timeout_ms);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (p[1].revents)
            return -2;
        if (n == 0)
            return 0;
        if (redisBufferRead(ctx) != REDIS_OK)
            return -1;
    }
}

/* True when the adapter closes within ms. */
static bool sub_wait(rg_cache *c, int ms)
{
    struct pollfd p = {.fd = c->wake[0], .events = POLLIN};
    int n = poll(&p, 1, ms);
    return n > 0 || atomic_load(&c->stopping);
}

/* A connection subscribed to the channel, or NULL. */
static redisContext *sub_connect(rg_cache *c, char why[WHY])
{
    redisContext *ctx = dial(c, why);
    if (!ctx)
        return NULL;
    rg_buf b = {0};
    int n = 0;
    if (c->password) {
        put_auth(c, &b);
        n++;
    }
    put_cmd(&b, "SUBSCRIBE %b", c->channel, c->chlen);
    n++;
    int rc = send_all(ctx->fd, &b, why);
    rg_buf_free(&b);
    for (int i = 0; rc == 0 && i < n; i++) {
        redisReply *r;
        int got = sub_next(c, ctx, COMMAND_MS, &r);
        if (got <= 0) {
            snprintf(why, WHY, "%s",
                     got == 0         ? "no answer to SUBSCRIBE"
                     : got == -2      ? "closing"
                     : ctx->errstr[0] ? ctx->errstr
                                      : "connection lost");
            rc = -1;
            break;
        }
        if (r->type == REDIS_REPLY_ERROR) {
            snprintf(why, WHY, "%.*s", (int)(r->len > 120 ? 120 : r->len), r->str);
            rc = -1;
        } else if (i == n - 1 && (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
                                  r->element[0]->type != REDIS_REPLY_STRING ||
                                  strcmp(r->element[0]->str, "subscribe") != 0)) {
            snprintf(why, WHY, "unexpected answer to SUBSCRIBE");
            rc = -1;
        }
        freeReplyObject(r);
    }
    if (rc < 0) {
        redisFree(ctx);
        return NULL;
    }
    return ctx;
}

/* Handles one message: a key drops that key from L1, an empty one all of L1. */
static void sub_message(rg_cache *c, const redisReply *r)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[0]->type != REDIS_REPLY_STRING || strcmp(r->element[0]->str, "message") != 0 ||
        r->element[2]->type != REDIS_REPLY_STRING)
        return; /* subscribe confirmations, PING answers */
    const redisReply *m = r->element[2];
    if (m->len == 0)
        l1_clear(c);
    else if (m->len <= KEY_MAX)
        l1_invalidate(c, m->str, m->len);
}

/* Reads messages until the connection fails (why says how) or the adapter
 * closes. A PING after SUB_IDLE_MS of silence that gets no answer within
 * SUB_IDLE_MS more counts as a failure. */
static void sub_listen(rg_cache *c, redisContext *ctx, char why[WHY])
{
    bool ping_out = false;
    for (;;) {
        redisReply *r;
        int got = sub_next(c, ctx, SUB_IDLE_MS, &r);
        if (got == -2)
            return;
        if (got < 0) {
            snprintf(why, WHY, "%s", ctx->errstr[0] ? ctx->errstr : "connection lost");
            return;
        }
        if (got == 0) {
            if (ping_out) {
                snprintf(why, WHY, "no answer to PING");
                return;
            }
            rg_buf b = {0};
            put_cmd(&b, "PING");
            int rc = send_all(ctx->fd, &b, why);
            rg_buf_free(&b);
            if (rc < 0)
                return;
            ping_out = true;
            continue;
        }
        ping_out = false;
        sub_message(c, r);
        freeReplyObject(r);
    }
}

static void *sub_main(void *arg)
{
    rg_cache *c = arg;
    int backoff = SUB_BACKOFF_MIN;
    bool said_down = false;
    while (!atomic_load(&c->stopping)) {
        char why[WHY] = "";
        redisContext *ctx = sub_connect(c, why);
        if (ctx) {
            atomic_fetch_add(&c->gen, 1); /* even: L1 on, and empty */
            if (said_down)
                rg_info("redis cache %s: invalidation channel back; in-process level on", c->where);
            said_down = false;
            backoff = SUB_BACKOFF_MIN;
            sub_listen(c, ctx, why);
            atomic_fetch_add(&c->gen, 1); /* odd: L1 off */
            redisFree(ctx);
        }
        if (atomic_load(&c->stopping))
            break;
        if (!said_down)
            rg_warn("redis cache %s: invalidation channel lost (%s); in-process level off until "
                    "it is back",
                    c->where, why);
        said_down = true;
        if (sub_wait(c, backoff))
            break;
        backoff = backoff * 2 > SUB_BACKOFF_MAX ? SUB_BACKOFF_MAX : backoff * 2;
    }
    return NULL;
}

/* ---- URL ---- */

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* n bytes of s with %XX decoded, malloc'd; NULL when malformed or when it
 * would hold a NUL. */
static char *pct_decode(const char *s, size_t n)
{
    char *out = rg_xmalloc(n + 1), *o = out;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            if (i + 2 >= n) {
                free(out);
                return NULL;
            }
            int a = hexval((unsigned char)s[i + 1]), b = hexval((unsigned char)s[i + 2]);
            if (a < 0 || b < 0 || (a == 0 && b == 0)) {
                free(out);
                return NULL;
            }
            *o++ = (char)(a * 16 + b);
            i += 2;
        } else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    return out;
}

/* A decimal number of n bytes in [lo, hi], digits only. */
static bool parse_num(const char *s, size_t n, long lo, long hi, long *out)
{
    if (n == 0 || n > 10)
        return false;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    if (v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static bool host_char(char ch, bool bracketed)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '.' || ch == '-' || ch == '_' || (bracketed && (ch == ':' || ch == '%'));
}

static int bad_url(const char *why)
{
    return rg_error_set(RG_EINVAL, "invalid redis URL: %s", why);
}

/* Fills the settings of c from url. */
static int parse_url(rg_cache *c, const char *url)
{
    c->port = DEFAULT_PORT;
    c->l1_mb = DEFAULT_L1_MB;
    if (!url || strncmp(url, "redis://", 8) != 0)
        return bad_url("it must start with redis://");
    const char *p = url + 8;
    size_t alen = strcspn(p, "/?");
    const char *end = p + alen;
    const char *at = NULL;
    for (const char *q = p; q < end; q++)
        if (*q == '@')
            at = q;
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (!colon)
            return bad_url("write the password as :PASSWORD@ (or USER:PASSWORD@)");
        if (colon > p && !(c->user = pct_decode(p, (size_t)(colon - p))))
            return bad_url("bad %-escape in the user name");
        if (!(c->password = pct_decode(colon + 1, (size_t)(at - colon - 1))))
            return bad_url("bad %-escape in the password");
        if (!*c->password) {
            free(c->password);
            c->password = NULL;
            if (c->user)
                return bad_url("a user name needs a password");
        }
        p = at + 1;
    }
    const char *host = p, *host_end, *port = NULL;
    bool bracketed = *p == '[';
    if (bracketed) {
        const char *close = memchr(p, ']', (size_t)(end - p));
        if (!close)
            return bad_url("unclosed [ in the host");
        host = p + 1;
        host_end = close;
        if (close + 1 < end) {
            if (close[1] != ':')
                return bad_url("unexpected text after the host");
            port = close + 2;
        }
    } else {
        const char *colon = memchr(p, ':', (size_t)(end - p));
        host_end = colon ? colon : end;
        port = colon ? colon + 1 : NULL;
    }
    size_t hlen = (size_t)(host_end - host);
    if (hlen == 0 || hlen > HOST_MAX)
        return bad_url("no host");
    for (size_t i = 0; i < hlen; i++)
        if (!host_char(host[i], bracketed))
            return bad_url("bad character in the host");
    c->host = rg_xmalloc(hlen + 1);
    memcpy(c->host, host, hlen);
    c->host[hlen] = '\0';
    long v;
    if (port) {
        if (!parse_num(port, (size_t)(end - port), 1, 65535, &v))
            return bad_url("the port must be between 1 and 65535");
        c->port = (int)v;
    }
    p = end;
    if (*p == '/') {
        p++;
        size_t n = strcspn(p, "?");
        if (n) {
            if (!parse_num(p, n, 0, INT_MAX, &v))
                return bad_url("the database must be a number");
            c->db = (int)v;
        }
        p += n;
    }
    if (*p == '?') {
        p++;
        while (*p) {
            size_t n = strcspn(p, "&");
            const char *eq = memchr(p, '=', n);
            size_t name = eq ? (size_t)(eq - p) : n;
            const char *val = eq ? eq + 1 : p + n;
            size_t vlen = (size_t)(p + n - val);
            if (name == 6 && strncmp(p, "prefix", 6) == 0) {
                char *pre = pct_decode(val, vlen);
                if (!pre || !*pre || strlen(pre) > PREFIX_MAX) {
                    free(pre);
                    return bad_url("prefix must be 1 to 128 bytes");
                }
                free(c->prefix);
                c->prefix = pre;
            } else if (name == 5 && strncmp(p, "l1_mb", 5) == 0) {
                if (!parse_num(val, vlen, 0, MAX_L1_MB, &v))
                    return bad_url("l1_mb must be between 0 and 1048576");
                c->l1_mb = (int)v;
            } else {
                rg_warn("redis cache: ignoring unknown URL parameter %.*s", (int)name, p);
            }
            p += n;
            if (*p == '&')
                p++;
        }
    } else if (*p) {
        return bad_url("unexpected text after the host");
    }
    if (!c->prefix)
        c->prefix = rg_xstrdup(DEFAULT_PREFIX);
    c->plen = strlen(c->prefix);
    return 0;
}

/* ---- the port ---- */

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

static void free_settings(rg_cache *c)
{
    free(c->host);
    free(c->user);
    free(c->password);
    free(c->prefix);
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
    c->conns =
        rg_pool_new("store=\"cache\",adapter=\"redis\"",
                    opts && opts->pool_size > 0 ? opts->pool_size : RG_POOL_SIZE_DEFAULT,
                    opts ? opts->pool_wait_ms : RG_POOL_WAIT_MS_DEFAULT, &redis_pool_methods, c);
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

/* *out is a malloc'd NUL-terminated copy (caller frees); *len (if not NULL)
 * its length without the NUL. RG_ENOTFOUND on a miss, RG_EUNAVAIL when Redis
 * cannot be used (the caller treats that as a miss). */
static int cache_get(rg_cache *c, const char *key, char **out, size_t *len)
{
    *out = NULL;
    size_t klen = strlen(key);
    int rc;
    char l1k[L1_KEY_MAX + 1];
    bool fill = false;
    uint64_t g = 0;
    uint32_t e0 = 0;
    _Atomic uint32_t *epoch = &c->epochs[key_hash(key, klen) & (EPOCHS - 1)];
    if (c->l1) {
        g = atomic_load(&c->gen);
        if (!(g & 1) && l1_key(l1k, g, key, klen)) {
            if (rg_memory_cache_ops.get(c->l1, l1k, out, len) == 0)
                return 0;
            e0 = atomic_load(epoch); /* before the GET leaves */
            fill = true;
        }
    }
    struct conn *k;
    if ((rc = conn_get(c, &k)) < 0)
        return rc;
    rg_buf b = {0};
    put_cmd(&b, "GET %b%b", c->prefix, c->plen, key, klen);
    if (fill)
        put_cmd(&b, "PTTL %b%b", c->prefix, c->plen, key, klen);
    int64_t t0 = mono_ms();
    redisReply *r[2];
    int n = fill ? 2 : 1;
    rc = roundtrip(c, k, &b, n, r);
    rg_buf_free(&b);
    conn_put(c, k);
    if (rc < 0)
        return rc;
    if (r[0]->type == REDIS_REPLY_NIL) {
        free_replies(r, n);
        return rg_error_set(RG_ENOTFOUND, "not in the cache");
    }
    if (r[0]->type != REDIS_REPLY_STRING) {
        rc = bad_reply(c, r[0], "GET");
        free_replies(r, n);
        return rc;
    }
    size_t vlen = r[0]->len;
    char *copy = rg_xmalloc(vlen + 1);
    memcpy(copy, r[0]->str, vlen);
    copy[vlen] = '\0';
    if (fill && r[1]->type == REDIS_REPLY_INTEGER && r[1]->integer != -2) {
        int64_t life =
            r[1]->integer < 0 || r[1]->integer > L1_TTL_MS ? L1_TTL_MS : (int64_t)r[1]->integer;
        life -= mono_ms() - t0;
        if (life > 0 && rg_memory_cache_ops.set(c->l1, l1k, copy, vlen, life) == 0 &&
            (atomic_load(&c->gen) != g || atomic_load(epoch) != e0))
            rg_memory_cache_ops.del(c->l1, l1k);
    }
    free_replies(r, n);
    *out = copy;
    if (len)
        *len = vlen;
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
static int cache_set(rg_cache *c, const char *key, const char *val, size_t len, int64_t ttl_ms)
{
    size_t klen = strlen(key);
    int rc;
    struct conn *k;
    if ((rc = conn_get(c, &k)) == 0) {
        rg_buf b = {0};
        if (ttl_ms)
            put_cmd(&b, "SET %b%b %b PX %lld", c->prefix, c->plen, key, klen, val, len,
                    (long long)ttl_ms);
        else
            put_cmd(&b, "SET %b%b %b", c->prefix, c->plen, key, klen, val, len);
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

/* Removes key; 0 also when it was absent. */
static int cache_del(rg_cache *c, const char *key)
{
    size_t klen = strlen(key);
    int rc;
    struct conn *k;
    if ((rc = conn_get(c, &k)) == 0) {
        rg_buf b = {0};
        put_cmd(&b, "DEL %b%b", c->prefix, c->plen, key, klen);
        put_cmd(&b, "PUBLISH %b %b", c->channel, c->chlen, key, klen);
        redisReply *r[2];
        rc = roundtrip(c, k, &b, 2, r);
        rg_buf_free(&b);
        conn_put(c, k);
        if (rc == 0) {
            if (r[0]->type != REDIS_REPLY_INTEGER)
                rc = bad_reply(c, r[0], "DEL");
            else if (r[1]->type != REDIS_REPLY_INTEGER)
                rc = bad_reply(c, r[1], "PUBLISH");
            free_replies(r, 2);
        }
    }
    return write_done(c, key, klen, rc);
}

static bool reply_mentions(const redisReply *r, const char *what)
{
    return r->type == REDIS_REPLY_ERROR && r->str && strstr(r->str, what);
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
        if (by_sha)
            put_cmd(&b, "EVALSHA %s 1 %b%b %lld %lld %b %b", k->sha, c->prefix, c->plen, key, klen,
                    (long long)by, (long long)ttl_ms, c->channel, c->chlen, key, klen);
        else
            put_cmd(&b, "EVAL %s 1 %b%b %lld %lld %b %b", INCR_SCRIPT, c->prefix, c->plen, key,
                    klen, (long long)by, (long long)ttl_ms, c->channel, c->chlen, key, klen);
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
    if (reply_mentions(r[0], "not an integer")) {
        free_replies(r, 1);
        return rg_error_set(RG_EINVAL, "the cached value is not an integer");
    }
    if (reply_mentions(r[0], "overflow")) {
        free_replies(r, 1);
        return rg_error_set(RG_EINVAL, "the counter would overflow");
    }
    int64_t sum = 0;
    if (r[0]->type == REDIS_REPLY_STRING && r[0]->len > 0 && r[0]->len < INT_TEXT_MAX) {
        char text[INT_TEXT_MAX];
        memcpy(text, r[0]->str, r[0]->len);
        text[r[0]->len] = '\0';
        char *end;
        errno = 0;
        long long v = strtoll(text, &end, 10);
        if (errno || *end)
            rc = bad_reply(c, r[0], "EVAL");
        else
            sum = v;
    } else {
        rc = bad_reply(c, r[0], "EVAL");
    }
    free_replies(r, 1);
    rc = write_done(c, key, klen, rc);
    if (rc == 0 && out)
        *out = sum;
    return rc;
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
    .set = cache_set,
    .del = cache_del,
    .incr = cache_incr,
    .ping = cache_ping,
};
