/* The in-process level (L1) of the Redis cache adapter and the subscriber
 * thread that keeps it coherent across instances (see cache.c). */
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

size_t l1_key(char *buf, uint64_t gen, const char *key, size_t klen)
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
void l1_invalidate(rg_cache *c, const char *key, size_t klen)
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
void l1_clear(rg_cache *c)
{
    if (c->l1)
        atomic_fetch_add(&c->gen, 2);
}

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

void *sub_main(void *arg)
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
