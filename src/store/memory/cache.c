/* Cache port in process memory ("memory:" or "memory:?max_mb=N", default 32).
 *
 * Sixteen stripes, each with its own mutex, hash table and LRU list; a key's
 * stripe comes from a keyed hash (SipHash via libsodium, with a random key per
 * cache, so clients cannot aim all their keys at one chain). Each stripe owns
 * a sixteenth of the memory bound, counted as key + value bytes plus the entry
 * overhead; when a write takes it over, least recently used entries go first.
 * Expired entries are misses; they are reclaimed when touched, by a small
 * sweep of a few buckets on every write, and by eviction. Times come from the
 * monotonic clock, so a wall-clock step does not expire or revive entries.
 *
 * The cache is private to the process: caps has no RG_CACHE_CAP_SHARED. */
#include "risinggen/store/cache.h"
#include "risinggen/base/error.h"
#include "risinggen/base/alloc.h"
#include "risinggen/base/log.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NSTRIPES        16 /* power of two */
#define STRIPE_SHIFT    60 /* top 4 bits of the hash pick the stripe */
#define BUCKETS_MIN     64
#define DEFAULT_MB      32
#define MAX_MB          (1 << 20)
#define SWEEP_BUCKETS   2  /* buckets checked for expired entries per write */
#define MALLOC_OVERHEAD 16 /* what the allocator keeps per block, roughly */
#define INT_TEXT_MAX    24 /* "-9223372036854775808" and NUL */

struct entry {
    struct entry *hnext;       /* hash chain */
    struct entry *prev, *next; /* LRU list: head is the most recently used */
    uint64_t hash;
    int64_t expires; /* monotonic ms; 0: never */
    size_t klen, vlen, cost;
    char data[]; /* key, NUL, value, NUL */
};

struct stripe {
    pthread_mutex_t lock;
    struct entry **buckets;
    size_t nbuckets, count;
    struct entry *head, *tail;
    size_t used, cap; /* bytes */
    size_t sweep;     /* next bucket for the expiry sweep */
    char pad[64];     /* keeps neighbouring locks off one cache line */
};

struct rg_cache {
    unsigned char hkey[crypto_shorthash_KEYBYTES];
    size_t max_bytes;
    struct stripe stripes[NSTRIPES];
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t key_hash(const rg_cache *c, const char *key, size_t klen)
{
    unsigned char h[crypto_shorthash_BYTES];
    crypto_shorthash(h, (const unsigned char *)key, klen, c->hkey);
    uint64_t v;
    memcpy(&v, h, sizeof v);
    return v;
}

static inline const char *entry_val(const struct entry *e)
{
    return e->data + e->klen + 1;
}
static inline bool expired(const struct entry *e, int64_t now)
{
    return e->expires && e->expires <= now;
}

/* A new entry (not linked anywhere) holding key and val. */
static struct entry *entry_new(const char *key, size_t klen, uint64_t hash, const char *val,
                               size_t vlen, int64_t expires)
{
    struct entry *e = rg_xmalloc(sizeof *e + klen + vlen + 2);
    e->hnext = e->prev = e->next = NULL;
    e->hash = hash;
    e->expires = expires;
    e->klen = klen;
    e->vlen = vlen;
    e->cost = sizeof *e + klen + vlen + 2 + MALLOC_OVERHEAD + sizeof(struct entry *);
    memcpy(e->data, key, klen);
    e->data[klen] = '\0';
    if (vlen)
        memcpy(e->data + klen + 1, val, vlen);
    e->data[klen + 1 + vlen] = '\0';
    return e;
}

/* Frees a chain of entries linked through hnext. */
static void free_chain(struct entry *e)
{
    while (e) {
        struct entry *n = e->hnext;
        free(e);
        e = n;
    }
}

static struct entry **find_slot(struct stripe *s, uint64_t hash, const char *key, size_t klen)
{
    struct entry **pp = &s->buckets[hash & (s->nbuckets - 1)];
    for (; *pp; pp = &(*pp)->hnext) {
        struct entry *e = *pp;
        if (e->hash == hash && e->klen == klen && memcmp(e->data, key, klen) == 0)
            return pp;
    }
    return pp;
}

static void lru_unlink(struct stripe *s, struct entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        s->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        s->tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_push(struct stripe *s, struct entry *e)
{
    e->prev = NULL;
    e->next = s->head;
    if (s->head)
        s->head->prev = e;
    s->head = e;
    if (!s->tail)
        s->tail = e;
}

/* Takes the entry at *pp out of the stripe and puts it on *garbage. */
static void unlink_at(struct stripe *s, struct entry **pp, struct entry **garbage)
{
    struct entry *e = *pp;
    *pp = e->hnext;
    lru_unlink(s, e);
    s->count--;
    s->used -= e->cost;
    e->hnext = *garbage;
    *garbage = e;
}

static void unlink_entry(struct stripe *s, struct entry *e, struct entry **garbage)
{
    struct entry **pp = &s->buckets[e->hash & (s->nbuckets - 1)];
    while (*pp != e)
        pp = &(*pp)->hnext;
    unlink_at(s, pp, garbage);
}

static void grow(struct stripe *s)
{
    size_t n = s->nbuckets * 2;
    struct entry **b = calloc(n, sizeof *b);
    if (!b)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < s->nbuckets; i++) {
        struct entry *e = s->buckets[i];
        while (e) {
            struct entry *next = e->hnext;
            struct entry **dst = &b[e->hash & (n - 1)];
            e->hnext = *dst;
            *dst = e;
            e = next;
        }
    }
    free(s->buckets);
    s->buckets = b;
    s->nbuckets = n;
    s->sweep = 0;
}

/* Links e (whose key is absent) as the most recently used, then sweeps a few
 * buckets for expired entries and evicts from the LRU end while over the bound. */
static void insert_entry(struct stripe *s, struct entry *e, int64_t now, struct entry **garbage)
{
    if (s->count >= s->nbuckets)
        grow(s);
    struct entry **head = &s->buckets[e->hash & (s->nbuckets - 1)];
    e->hnext = *head;
    *head = e;
    lru_push(s, e);
    s->count++;
    s->used += e->cost;
    for (int i = 0; i < SWEEP_BUCKETS; i++) {
        struct entry **pp = &s->buckets[s->sweep];
        s->sweep = (s->sweep + 1) & (s->nbuckets - 1);
        while (*pp) {
            if (*pp != e && expired(*pp, now))
                unlink_at(s, pp, garbage);
            else
                pp = &(*pp)->hnext;
        }
    }
    while (s->used > s->cap && s->tail && s->tail != e)
        unlink_entry(s, s->tail, garbage);
}

static struct stripe *stripe_of(rg_cache *c, uint64_t hash)
{
    return &c->stripes[(hash >> STRIPE_SHIFT) & (NSTRIPES - 1)];
}

/* "memory:", "memory://", optionally followed by "?max_mb=N" (1 ≤ N ≤ 2^20). */
static int parse_url(const char *url, size_t *max_bytes)
{
    *max_bytes = (size_t)DEFAULT_MB << 20;
    if (!url || strncmp(url, "memory:", 7) != 0)
        return rg_error_set(RG_EINVAL, "not a memory: URL");
    const char *p = url + 7;
    if (strncmp(p, "//", 2) == 0)
        p += 2;
    if (*p == '\0')
        return 0;
    if (*p != '?')
        return rg_error_set(RG_EINVAL, "memory: URL takes no path");
    p++;
    while (*p) {
        const char *amp = strchr(p, '&');
        size_t n = amp ? (size_t)(amp - p) : strlen(p);
        if (n >= 7 && strncmp(p, "max_mb=", 7) == 0) {
            char num[16];
            if (n - 7 >= sizeof num)
                return rg_error_set(RG_EINVAL, "max_mb must be between 1 and %d", MAX_MB);
            memcpy(num, p + 7, n - 7);
            num[n - 7] = '\0';
            char *end;
            errno = 0;
            long v = strtol(num, &end, 10);
            if (errno || *end || num[0] < '0' || num[0] > '9' || v < 1 || v > MAX_MB)
                return rg_error_set(RG_EINVAL, "max_mb must be between 1 and %d", MAX_MB);
            *max_bytes = (size_t)v << 20;
        } else {
            rg_warn("memory cache: ignoring unknown URL parameter %.*s", (int)n, p);
        }
        p += n;
        if (*p == '&')
            p++;
    }
    return 0;
}

/* *out belongs to the caller (cache_close). */
static int cache_open(rg_cache **out, const char *url, const rg_store_options *opts)
{
    (void)opts; /* nothing to pool: the cache is this process's memory */
    *out = NULL;
    size_t max_bytes;
    int rc = parse_url(url, &max_bytes);
    if (rc < 0)
        return rc;
    if (sodium_init() < 0) {
        rg_err("memory cache: libsodium cannot start");
        return rg_error_set(RG_EINTERNAL, "internal error");
    }
    void *mem;
    if (posix_memalign(&mem, 64, sizeof(rg_cache)) != 0)
        abort();
    rg_cache *c = mem;
    memset(c, 0, sizeof *c);
    randombytes_buf(c->hkey, sizeof c->hkey);
    c->max_bytes = max_bytes;
    for (int i = 0; i < NSTRIPES; i++) {
        struct stripe *s = &c->stripes[i];
        pthread_mutex_init(&s->lock, NULL);
        s->nbuckets = BUCKETS_MIN;
        s->buckets = rg_xcalloc(s->nbuckets, sizeof *s->buckets);
        s->cap = max_bytes / NSTRIPES;
    }
    *out = c;
    return 0;
}

static void cache_close(rg_cache *c)
{
    if (!c)
        return;
    for (int i = 0; i < NSTRIPES; i++) {
        struct stripe *s = &c->stripes[i];
        struct entry *e = s->head;
        while (e) {
            struct entry *n = e->next;
            free(e);
            e = n;
        }
        free(s->buckets);
        pthread_mutex_destroy(&s->lock);
    }
    free(c);
}

/* *out is a malloc'd NUL-terminated copy (caller frees); *len (if not NULL)
 * its length without the NUL. RG_ENOTFOUND on a miss. */
static int cache_get(rg_cache *c, const char *key, char **out, size_t *len)
{
    *out = NULL;
    size_t klen = strlen(key);
    uint64_t h = key_hash(c, key, klen);
    struct stripe *s = stripe_of(c, h);
    int64_t now = mono_ms();
    struct entry *garbage = NULL;
    char *copy = NULL;
    size_t vlen = 0;
    pthread_mutex_lock(&s->lock);
    struct entry **pp = find_slot(s, h, key, klen);
    struct entry *e = *pp;
    if (e && expired(e, now)) {
        unlink_at(s, pp, &garbage);
        e = NULL;
    }
    if (e) {
        if (s->head != e) {
            lru_unlink(s, e);
            lru_push(s, e);
        }
        vlen = e->vlen;
        copy = rg_xmalloc(vlen + 1);
        memcpy(copy, entry_val(e), vlen + 1);
    }
    pthread_mutex_unlock(&s->lock);
    free_chain(garbage);
    if (!copy)
        return rg_error_set(RG_ENOTFOUND, "not in the cache");
    *out = copy;
    if (len)
        *len = vlen;
    return 0;
}

/* Stores len bytes of val (borrowed, may hold NULs) under key. A value that
 * alone exceeds a stripe's share of the bound is refused with RG_ETOOBIG, and
 * any older value under key is dropped. */
static int cache_set(rg_cache *c, const char *key, const char *val, size_t len, int64_t ttl_ms)
{
    size_t klen = strlen(key);
    uint64_t h = key_hash(c, key, klen);
    struct stripe *s = stripe_of(c, h);
    int64_t now = mono_ms();
    struct entry *e = NULL;
    if (len <= s->cap)
        e = entry_new(key, klen, h, val, len, ttl_ms ? now + ttl_ms : 0);
    struct entry *garbage = NULL;
    pthread_mutex_lock(&s->lock);
    struct entry **pp = find_slot(s, h, key, klen);
    if (*pp)
        unlink_at(s, pp, &garbage);
    if (e && e->cost <= s->cap)
        insert_entry(s, e, now, &garbage);
    else if (e) {
        e->hnext = garbage;
        garbage = e;
        e = NULL;
    }
    pthread_mutex_unlock(&s->lock);
    free_chain(garbage);
    if (!e)
        return rg_error_set(RG_ETOOBIG, "the value is too large for the cache");
    return 0;
}

/* Removes key; 0 also when it was absent. */
static int cache_del(rg_cache *c, const char *key)
{
    size_t klen = strlen(key);
    uint64_t h = key_hash(c, key, klen);
    struct stripe *s = stripe_of(c, h);
    struct entry *garbage = NULL;
    pthread_mutex_lock(&s->lock);
    struct entry **pp = find_slot(s, h, key, klen);
    if (*pp)
        unlink_at(s, pp, &garbage);
    pthread_mutex_unlock(&s->lock);
    free_chain(garbage);
    return 0;
}

/* The value as a strict decimal int64 ("-12", not " 12", "+12" or "12x"). */
static bool parse_counter(const char *v, size_t len, int64_t *out)
{
    if (len == 0 || len >= INT_TEXT_MAX || strlen(v) != len)
        return false;
    if (v[0] != '-' && (v[0] < '0' || v[0] > '9'))
        return false;
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || end != v + len)
        return false;
    *out = n;
    return true;
}

/* Adds by to the counter at key, creating it at 0 with ttl_ms when absent or
 * expired (an existing counter keeps its expiry). The new value is stored as
 * decimal text and returned in *out. RG_EINVAL if the value is not an integer
 * or the sum overflows. */
static int cache_incr(rg_cache *c, const char *key, int64_t by, int64_t ttl_ms, int64_t *out)
{
    size_t klen = strlen(key);
    int rc;
    uint64_t h = key_hash(c, key, klen);
    struct stripe *s = stripe_of(c, h);
    int64_t now = mono_ms();
    struct entry *garbage = NULL;
    int64_t cur = 0, expires = ttl_ms ? now + ttl_ms : 0, sum = 0;
    rc = 0;
    pthread_mutex_lock(&s->lock);
    struct entry **pp = find_slot(s, h, key, klen);
    struct entry *old = *pp;
    if (old && expired(old, now)) {
        unlink_at(s, pp, &garbage);
        old = NULL;
    }
    if (old) {
        if (!parse_counter(entry_val(old), old->vlen, &cur))
            rc = rg_error_set(RG_EINVAL, "the cached value is not an integer");
        else
            expires = old->expires;
    }
    if (rc == 0 && __builtin_add_overflow(cur, by, &sum))
        rc = rg_error_set(RG_EINVAL, "the counter would overflow");
    if (rc == 0) {
        char text[INT_TEXT_MAX];
        int n = snprintf(text, sizeof text, "%" PRId64, sum);
        if (old)
            unlink_at(s, pp, &garbage);
        insert_entry(s, entry_new(key, klen, h, text, (size_t)n, expires), now, &garbage);
    }
    pthread_mutex_unlock(&s->lock);
    free_chain(garbage);
    if (rc == 0 && out)
        *out = sum;
    return rc;
}

static int cache_ping(rg_cache *c)
{
    (void)c;
    return 0;
}

/* One process, no round trips: each key as get finds it. */
static int cache_get_many(rg_cache *c, const char *const *keys, int n, char **out, size_t *len)
{
    for (int i = 0; i < n; i++)
        if (cache_get(c, keys[i], &out[i], &len[i]) < 0)
            rg_error_clear();
    return 0;
}

/* One process, no round trips: each write as del or incr does it. */
static int cache_write_many(rg_cache *c, rg_cache_write *w, int n)
{
    int first = 0;
    for (int i = 0; i < n; i++) {
        w[i].rc = w[i].op == RG_CACHE_WRITE_DEL
                      ? cache_del(c, w[i].key)
                      : cache_incr(c, w[i].key, w[i].by, w[i].ttl_ms, &w[i].out);
        if (w[i].rc < 0 && first == 0)
            first = w[i].rc;
    }
    return first;
}

const struct rg_cache_ops rg_memory_cache_ops = {
    .version = RG_CACHE_OPS_VERSION,
    .caps = 0,
    .scheme = "memory",
    .open = cache_open,
    .close = cache_close,
    .get = cache_get,
    .get_many = cache_get_many,
    .set = cache_set,
    .fill = cache_set, /* one process: no other instance to leave alone */
    .del = cache_del,
    .incr = cache_incr,
    .ping = cache_ping,
    .write_many = cache_write_many,
};
