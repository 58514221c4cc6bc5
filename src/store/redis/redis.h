/* What the files of the Redis cache adapter share (see cache.c for the
 * whole design): the adapter's state, its settings, and the functions each
 * file offers the others.
 *   cache.c        the port: open, close, get, set, del, incr, ping
 *   conn.c         command connections (pooled), round trips, the breaker
 *   invalidation.c the in-process level (L1) and the subscriber that keeps
 *                  it coherent across instances
 *   journal.c      writes an outage may have lost, undone afterwards
 *   url.c          reading the redis:// URL */
#ifndef RG_REDIS_H
#define RG_REDIS_H

#include "risinggen/base/buf.h"
#include "risinggen/store/cache.h"
#include "risinggen/store/pool.h"

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* The script behind incr (cache.c), loaded on every new connection. */
extern const char INCR_SCRIPT[];

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

/* conn.c */
int64_t mono_ms(void);
uint64_t key_hash(const char *key, size_t klen);
/* RG_EUNAVAIL, "the cache is unavailable". */
int unavailable(void);
/* Appends one command in RESP ("%b" takes a pointer and a length). */
void put_cmd(rg_buf *b, const char *fmt, ...);
void put_argv(rg_buf *b, int argc, const char **argv, const size_t *argvlen);
void put_auth(const rg_cache *c, rg_buf *b);
/* Opens k's connection: AUTH, SELECT and loading the incr script, in one
 * round trip. 0; -1 when the server cannot be reached; -2 when it answered
 * with an error (why holds its message). */
int conn_open(rg_cache *c, struct conn *k, char why[WHY]);
void free_replies(redisReply **r, int n);
/* Writes all of b to fd (MSG_NOSIGNAL); -1 with why on a failure. */
int send_all(int fd, const rg_buf *b, char why[WHY]);
/* Sends b and reads n replies on ctx; -1 with why on a failure. */
int exchange(redisContext *ctx, const rg_buf *b, int n, redisReply **r, char why[WHY]);
redisContext *dial(const rg_cache *c, char why[WHY]);
void breaker_trip(rg_cache *c, const char *why);
/* An error reply: logged, the breaker opened, RG_EUNAVAIL. */
int bad_reply(rg_cache *c, const redisReply *r, const char *what);
void conn_drop(struct conn *k);
/* A usable pooled connection, or RG_EUNAVAIL (breaker open, none in time). */
int conn_get(rg_cache *c, struct conn **out);
void conn_put(rg_cache *c, struct conn *k);
/* One round trip on k; a failed connection is dropped and opens the breaker. */
int roundtrip(rg_cache *c, struct conn *k, const rg_buf *b, int n, redisReply **r);
extern const rg_pool_methods rg__redis_pool_methods;

/* invalidation.c */
/* The L1 key of key under generation gen into buf; 0 when it does not fit. */
size_t l1_key(char *buf, uint64_t gen, const char *key, size_t klen);
void l1_invalidate(rg_cache *c, const char *key, size_t klen);
void l1_clear(rg_cache *c);
/* The subscriber thread (pthread_create's start routine; arg is the cache). */
void *sub_main(void *arg);

/* journal.c */
void journal_free(struct journal *j);
void journal_add(rg_cache *c, const char *key);
/* Undoes in Redis what lost writes may have left; 0 or RG_EUNAVAIL. */
int journal_replay(rg_cache *c, struct conn *k);

/* url.c */
/* Fills c's settings from url; RG_EINVAL with a detail when it cannot be read. */
int parse_url(rg_cache *c, const char *url);
void free_settings(rg_cache *c);

#endif
