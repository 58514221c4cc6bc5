/* Command connections of the Redis cache adapter: a bounded pool
 * (risinggen/store/pool.h) of blocking connections with a 200 ms connect
 * and 500 ms command timeout, requests written with send(MSG_NOSIGNAL) (a
 * closed socket is an error, never SIGPIPE), a connection found readable
 * while idle (the server closed it) replaced before use; and the breaker
 * that any failure opens for every thread at once. */
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

int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t key_hash(const char *key, size_t klen)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < klen; i++)
        h = (h ^ (unsigned char)key[i]) * 1099511628211ull;
    return h;
}

int unavailable(void)
{
    return rg_error_set(RG_EUNAVAIL, "the cache is unavailable");
}

/* Appends one command in the protocol's form (hiredis format: %b takes a
 * pointer and a size_t, and is binary-safe). */
void put_cmd(rg_buf *b, const char *fmt, ...)
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

void put_argv(rg_buf *b, int argc, const char **argv, const size_t *argvlen)
{
    char *cmd = NULL;
    int n = redisFormatCommandArgv(&cmd, argc, argv, argvlen);
    if (n < 0)
        abort();
    rg_buf_put(b, cmd, (size_t)n);
    redisFreeCommand(cmd);
}

void put_auth(const rg_cache *c, rg_buf *b)
{
    if (c->user)
        put_cmd(b, "AUTH %s %s", c->user, c->password);
    else
        put_cmd(b, "AUTH %s", c->password);
}

void free_replies(redisReply **r, int n)
{
    for (int i = 0; i < n; i++) {
        if (r[i])
            freeReplyObject(r[i]);
        r[i] = NULL;
    }
}

/* Writes all of b. MSG_NOSIGNAL: a socket the server closed gives EPIPE
 * rather than killing the process; SO_SNDTIMEO bounds the wait. */
int send_all(int fd, const rg_buf *b, char why[WHY])
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
int exchange(redisContext *ctx, const rg_buf *b, int n, redisReply **r, char why[WHY])
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
redisContext *dial(const rg_cache *c, char why[WHY])
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

void breaker_trip(rg_cache *c, const char *why)
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
int bad_reply(rg_cache *c, const redisReply *r, const char *what)
{
    char why[WHY];
    if (r && r->type == REDIS_REPLY_ERROR)
        snprintf(why, sizeof why, "%s: %.*s", what, (int)(r->len > 100 ? 100 : r->len), r->str);
    else
        snprintf(why, sizeof why, "%s: unexpected reply type %d", what, r ? r->type : -1);
    breaker_trip(c, why);
    return unavailable();
}

void conn_drop(struct conn *k)
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
int conn_open(rg_cache *c, struct conn *k, char why[WHY])
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

/* Gives k back to the pool; a lost one is closed. */
void conn_put(rg_cache *c, struct conn *k)
{
    if (k)
        rg_pool_put(c->conns, k, !k->ctx);
}

/* A usable connection from the pool (given back with conn_put). While the
 * breaker is open: RG_EUNAVAIL at once, except for the one caller that
 * probes after BREAK_MS. Writes lost in an outage are undone before the
 * connection is handed out. */
int conn_get(rg_cache *c, struct conn **out)
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
int roundtrip(rg_cache *c, struct conn *k, const rg_buf *b, int n, redisReply **r)
{
    char why[WHY];
    if (exchange(k->ctx, b, n, r, why) < 0) {
        conn_drop(k);
        breaker_trip(c, why);
        return unavailable();
    }
    return 0;
}

const rg_pool_methods rg__redis_pool_methods = {
    .open = pool_open, .close = pool_close, .usable = pool_usable};
