/* Conformance suite of the cache port, run once per adapter.
 *
 * Embedded adapters (ops set, url_env NULL) always run, on a new cache per
 * test. Server adapters run when their URL is in the environment; every key
 * then carries a per-run prefix so that runs do not see each other. An adapter
 * that is not in this build or has no URL prints
 * "SKIPPED cache/<adapter>: <reason>" and its group is skipped.
 *
 * Shared adapters (RG_CACHE_CAP_SHARED) also run tests with two instances of
 * the adapter on one URL, standing for two instances of the service: what one
 * writes, the other sees within 1 s. With RG_TEST_SERVERS set (by
 * scripts/run-tests.sh) the Redis adapter is also taken through an outage of
 * the private server.
 *
 * Over 800 lines on purpose: the suite is the cache port's contract, and one
 * program per port keeps every case in one table that each adapter must
 * pass (a new adapter is one line in `adapters`). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "risinggen/store/cache.h"
#include "risinggen/base/metrics.h"
#include "risinggen/base/error.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef RG_WITH_REDIS
#include <hiredis/hiredis.h>
#endif

struct adapter {
    const char *name;
    const struct rg_cache_ops *ops; /* NULL: not in this build */
    const char *url_env;            /* NULL: embedded, url below */
    const char *url;
    const char *bounded_url; /* a cache limited to 1 MiB, or NULL when the bound is the server's */
    const char *const *bad_urls;
};

static const char *const memory_bad_urls[] = {
    "memory:?max_mb=0",  "memory:?max_mb=-1",          "memory:?max_mb=abc", "memory:?max_mb=",
    "memory:/some/path", "memory:?max_mb=99999999999", "redis://x",          NULL,
};

#ifdef RG_WITH_REDIS
static const char *const redis_bad_urls[] = {
    "redis://",
    "redis://:6379",
    "redis://localhost:0",
    "redis://localhost:65536",
    "redis://localhost:12x",
    "redis://localhost:6379/abc",
    "redis://localhost:6379/-1",
    "redis://localhost?l1_mb=-1",
    "redis://localhost?l1_mb=abc",
    "redis://localhost?l1_mb=2000000",
    "redis://localhost?prefix=",
    "redis://localhost?prefix=%zz",
    "redis://secret@localhost",
    "redis://[::1",
    "redis://local host",
    "redis:localhost",
    "memory:",
    NULL,
};
#endif

static const struct adapter adapters[] = {
    {"memory", &rg_memory_cache_ops, NULL, "memory:", "memory:?max_mb=1", memory_bad_urls},
#ifdef RG_WITH_REDIS
    {"redis", &rg_redis_cache_ops, "RG_TEST_REDIS_URL", NULL, NULL, redis_bad_urls},
#else
    {"redis", NULL, "RG_TEST_REDIS_URL", NULL, NULL, NULL},
#endif
};

static const struct adapter *current;

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* The key prefix a server adapter's URL gets for this run ("rgt<pid>:"), so
 * that runs sharing a server do not see each other. */
static char url_prefix[32];

/* The URL the current adapter opens: an embedded adapter's own, or a server's
 * from the environment with this run's prefix and the extra parameters. */
static void adapter_url(char *buf, size_t cap, const char *extra)
{
    if (!current->url_env) {
        snprintf(buf, cap, "%s", current->url);
        return;
    }
    const char *env = getenv(current->url_env);
    snprintf(url_prefix, sizeof url_prefix, "rgt%ld:", (long)getpid());
    snprintf(buf, cap, "%s%sprefix=%s%s%s", env, strchr(env, '?') ? "&" : "?", url_prefix,
             extra ? "&" : "", extra ? extra : "");
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct fixture {
    rg_cache_port port;
    char prefix[48];
};

static int setup(void **state)
{
    static atomic_int run;
    struct fixture *f = calloc(1, sizeof *f);
    char url[512];
    adapter_url(url, sizeof url, NULL);
    snprintf(f->prefix, sizeof f->prefix, "rgtest:%ld:%ld:%d:", (long)getpid(), (long)time(NULL),
             atomic_fetch_add(&run, 1));
    int rc = rg_cache_open(&f->port, current->ops, url, NULL);
    if (rc < 0) {
        fprintf(stderr, "open %s: %s (%s)\n", current->name, rg_error_name(rc), rg_error_detail());
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f) {
        rg_cache_close(&f->port);
        free(f);
    }
    return 0;
}

/* The test's key for name (prefix + name), in a rotating static buffer. */
static const char *K(const struct fixture *f, const char *name)
{
    static _Thread_local char bufs[4][256];
    static _Thread_local int next;
    char *b = bufs[next++ & 3];
    snprintf(b, sizeof bufs[0], "%s%s", f->prefix, name);
    return b;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static void assert_value(rg_cache_port *p, const char *key, const char *want, size_t want_len)
{
    char *out = NULL;
    size_t len = 0;
    int rc = rg_cache_get(p, key, &out, &len);
    if (rc != 0)
        fail_msg("get %s: %s", key, rg_error_name(rc));
    assert_int_equal(len, want_len);
    assert_memory_equal(out, want, want_len);
    assert_int_equal(out[len], '\0');
    free(out);
}

static void assert_miss(rg_cache_port *p, const char *key)
{
    char *out = (char *)1;
    size_t len = 0;
    assert_int_equal(rg_cache_get(p, key, &out, &len), RG_ENOTFOUND);
    assert_null(out);
}

static void test_set_get_del(void **state)
{
    struct fixture *f = *state;
    rg_cache_port *p = &f->port;
    assert_int_equal(rg_cache_set(p, K(f, "k"), "hello", 5, 0), 0);
    assert_value(p, K(f, "k"), "hello", 5);
    /* Overwrite with a longer, then a shorter, then an empty value. */
    assert_int_equal(rg_cache_set(p, K(f, "k"), "a longer value", 14, 0), 0);
    assert_value(p, K(f, "k"), "a longer value", 14);
    assert_int_equal(rg_cache_set(p, K(f, "k"), "ab", 2, 0), 0);
    assert_value(p, K(f, "k"), "ab", 2);
    assert_int_equal(rg_cache_set(p, K(f, "k"), "", 0, 0), 0);
    assert_value(p, K(f, "k"), "", 0);
    /* Other keys are separate. */
    assert_int_equal(rg_cache_set(p, K(f, "k2"), "other", 5, 0), 0);
    assert_value(p, K(f, "k2"), "other", 5);
    assert_int_equal(rg_cache_del(p, K(f, "k")), 0);
    assert_miss(p, K(f, "k"));
    assert_value(p, K(f, "k2"), "other", 5);
    assert_int_equal(rg_cache_del(p, K(f, "k")), 0);
    assert_int_equal(rg_cache_del(p, K(f, "never")), 0);
    /* len may be NULL. */
    char *out = NULL;
    assert_int_equal(p->ops->get(p->c, K(f, "k2"), &out, NULL), 0);
    assert_string_equal(out, "other");
    free(out);
    assert_int_equal(rg_cache_ping(p), 0);
}

/* get_many answers each key as get would, hits and misses mixed, in the
 * order asked, with the counters moved per key. */
static void test_get_many(void **state)
{
    struct fixture *f = *state;
    rg_cache_port *p = &f->port;
    char ka[256], kb[256], kz[256], kn[256];
    snprintf(ka, sizeof ka, "%s", K(f, "ma"));
    snprintf(kb, sizeof kb, "%s", K(f, "mb"));
    snprintf(kz, sizeof kz, "%s", K(f, "mz"));
    snprintf(kn, sizeof kn, "%s", K(f, "never"));
    assert_int_equal(rg_cache_set(p, ka, "alpha", 5, 0), 0);
    assert_int_equal(rg_cache_set(p, kb, "b\0b", 3, 0), 0);
    assert_int_equal(rg_cache_set(p, kz, "", 0, 0), 0);
    const char *keys[] = {ka, kn, kb, ka, kz};
    char *out[5];
    size_t len[5];
    for (int round = 0; round < 2; round++) { /* the second may come from a local level */
        double hits0 = rg_metrics_value("rg_cache_hits_total");
        double misses0 = rg_metrics_value("rg_cache_misses_total");
        assert_int_equal(rg_cache_get_many(p, keys, 5, out, len), 0);
        assert_non_null(out[0]);
        assert_int_equal(len[0], 5);
        assert_string_equal(out[0], "alpha");
        assert_null(out[1]);
        assert_int_equal(len[1], 0);
        assert_int_equal(len[2], 3);
        assert_memory_equal(out[2], "b\0b", 4); /* with its NUL */
        assert_string_equal(out[3], "alpha");
        assert_non_null(out[4]);
        assert_int_equal(len[4], 0);
        assert_int_equal(out[4][0], '\0');
        assert_true(rg_metrics_value("rg_cache_hits_total") >= hits0 + 4);
        assert_true(rg_metrics_value("rg_cache_misses_total") >= misses0 + 1);
        for (int i = 0; i < 5; i++)
            free(out[i]);
    }
    /* A deleted key is a miss at once, the others stay. */
    assert_int_equal(rg_cache_del(p, ka), 0);
    assert_int_equal(rg_cache_get_many(p, keys, 3, out, len), 0);
    assert_null(out[0]);
    assert_null(out[1]);
    assert_int_equal(len[2], 3);
    free(out[2]);
    /* The limits, checked before the adapter runs: every out[i] is NULL. */
    const char *many[RG_CACHE_MANY_MAX + 1];
    char *outs[RG_CACHE_MANY_MAX + 1];
    size_t lens[RG_CACHE_MANY_MAX + 1];
    for (int i = 0; i <= RG_CACHE_MANY_MAX; i++)
        many[i] = kb;
    assert_int_equal(rg_cache_get_many(p, many, RG_CACHE_MANY_MAX, outs, lens), 0);
    for (int i = 0; i < RG_CACHE_MANY_MAX; i++) {
        assert_int_equal(lens[i], 3);
        free(outs[i]);
    }
    assert_int_equal(rg_cache_get_many(p, many, RG_CACHE_MANY_MAX + 1, outs, lens), RG_EINVAL);
    assert_int_equal(rg_cache_get_many(p, many, 0, outs, lens), RG_EINVAL);
    const char *bad[] = {kb, ""};
    assert_int_equal(rg_cache_get_many(p, bad, 2, outs, lens), RG_EINVAL);
    assert_null(outs[0]);
    assert_null(outs[1]);
}

static void test_miss(void **state)
{
    struct fixture *f = *state;
    assert_miss(&f->port, K(f, "absent"));
    double misses0 = rg_metrics_value("rg_cache_misses_total");
    assert_miss(&f->port, K(f, "absent"));
    assert_true(rg_metrics_value("rg_cache_misses_total") >= misses0 + 1);
}

static void test_ttl(void **state)
{
    struct fixture *f = *state;
    rg_cache_port *p = &f->port;
    assert_int_equal(rg_cache_set(p, K(f, "short"), "v", 1, 50), 0);
    assert_int_equal(rg_cache_set(p, K(f, "forever"), "w", 1, 0), 0);
    assert_int_equal(rg_cache_set(p, K(f, "long"), "x", 1, 60000), 0);
    int64_t n;
    assert_int_equal(rg_cache_incr(p, K(f, "counter"), 5, 50, &n), 0);
    assert_int_equal(n, 5);
    assert_value(p, K(f, "short"), "v", 1);
    sleep_ms(120);
    assert_miss(p, K(f, "short"));
    assert_value(p, K(f, "forever"), "w", 1);
    assert_value(p, K(f, "long"), "x", 1);
    /* An expired counter starts again from zero. */
    assert_miss(p, K(f, "counter"));
    assert_int_equal(rg_cache_incr(p, K(f, "counter"), 2, 0, &n), 0);
    assert_int_equal(n, 2);
    /* Setting again gives a new life. */
    assert_int_equal(rg_cache_set(p, K(f, "short"), "again", 5, 0), 0);
    sleep_ms(60);
    assert_value(p, K(f, "short"), "again", 5);
}

static void test_incr(void **state)
{
    struct fixture *f = *state;
    rg_cache_port *p = &f->port;
    int64_t n = 0;
    assert_int_equal(rg_cache_incr(p, K(f, "c"), 1, 0, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(rg_cache_incr(p, K(f, "c"), 41, 0, &n), 0);
    assert_int_equal(n, 42);
    assert_value(p, K(f, "c"), "42", 2);
    assert_int_equal(rg_cache_incr(p, K(f, "c"), -50, 0, &n), 0);
    assert_int_equal(n, -8);
    assert_value(p, K(f, "c"), "-8", 2);
    /* A number written by set counts too. */
    assert_int_equal(rg_cache_set(p, K(f, "d"), "100", 3, 0), 0);
    assert_int_equal(rg_cache_incr(p, K(f, "d"), 0, 0, &n), 0);
    assert_int_equal(n, 100);
    /* incr keeps the ttl that created the counter. */
    assert_int_equal(rg_cache_incr(p, K(f, "e"), 1, 60000, &n), 0);
    assert_int_equal(rg_cache_incr(p, K(f, "e"), 1, 0, &n), 0);
    assert_int_equal(n, 2);
}

static void test_incr_not_integer(void **state)
{
    struct fixture *f = *state;
    rg_cache_port *p = &f->port;
    static const char *const bad[] = {"abc", "12abc", " 12", "1.5", ""};
    for (size_t i = 0; i < N(bad); i++) {
        assert_int_equal(rg_cache_set(p, K(f, "s"), bad[i], strlen(bad[i]), 0), 0);
        int64_t n = 77;
        assert_int_equal(rg_cache_incr(p, K(f, "s"), 1, 0, &n), RG_EINVAL);
        assert_int_equal(n, 77);
        assert_value(p, K(f, "s"), bad[i], strlen(bad[i]));
    }
    /* Digits followed by a NUL byte and more are not an integer either. */
    assert_int_equal(rg_cache_set(p, K(f, "s"), "12\0003", 4, 0), 0);
    int64_t n;
    assert_int_equal(rg_cache_incr(p, K(f, "s"), 1, 0, &n), RG_EINVAL);
    /* Overflow is refused, the value stays. */
    assert_int_equal(rg_cache_set(p, K(f, "big"), "9223372036854775807", 19, 0), 0);
    assert_int_equal(rg_cache_incr(p, K(f, "big"), 1, 0, &n), RG_EINVAL);
    assert_value(p, K(f, "big"), "9223372036854775807", 19);
}

#define THREADS 8
#define PER     1000

/* Writes in one call: each as del or incr alone would do it, in order, each
 * with its own result; a bad argument writes nothing. */
static void test_write_many(void **state)
{
    struct fixture *f = *state;
    rg_cache_port *p = &f->port;
    char c[256], gone[256], t[256], s[256];
    snprintf(c, sizeof c, "%s", K(f, "c"));
    snprintf(gone, sizeof gone, "%s", K(f, "gone"));
    snprintf(t, sizeof t, "%s", K(f, "t"));
    snprintf(s, sizeof s, "%s", K(f, "s"));
    assert_int_equal(rg_cache_set(p, gone, "x", 1, 0), 0);
    rg_cache_write w[] = {{.op = RG_CACHE_WRITE_INCR, .key = c, .by = 2},
                          {.op = RG_CACHE_WRITE_DEL, .key = gone},
                          {.op = RG_CACHE_WRITE_INCR, .key = c, .by = 3},
                          {.op = RG_CACHE_WRITE_INCR, .key = t, .by = 1, .ttl_ms = 100}};
    assert_int_equal(rg_cache_write_many(p, w, 4), 0);
    assert_int_equal(w[0].rc, 0);
    assert_int_equal(w[0].out, 2);
    assert_int_equal(w[1].rc, 0);
    assert_int_equal(w[2].out, 5);
    assert_int_equal(w[3].out, 1);
    assert_miss(p, gone);
    assert_value(p, c, "5", 1);
    /* The counter it made has the TTL it was given. */
    sleep_ms(150);
    assert_miss(p, t);
    /* One write's failure is its own: the others are done. */
    assert_int_equal(rg_cache_set(p, s, "abc", 3, 0), 0);
    rg_cache_write x[] = {{.op = RG_CACHE_WRITE_DEL, .key = gone},
                          {.op = RG_CACHE_WRITE_INCR, .key = s, .by = 1},
                          {.op = RG_CACHE_WRITE_INCR, .key = c, .by = 1}};
    assert_int_equal(rg_cache_write_many(p, x, 3), RG_EINVAL);
    assert_int_equal(x[0].rc, 0);
    assert_int_equal(x[1].rc, RG_EINVAL);
    assert_int_equal(x[2].rc, 0);
    assert_int_equal(x[2].out, 6);
    assert_value(p, s, "abc", 3);
    /* Bad arguments: nothing is written. */
    rg_cache_write many[RG_CACHE_MANY_MAX + 1];
    for (int i = 0; i <= RG_CACHE_MANY_MAX; i++)
        many[i] = (rg_cache_write){.op = RG_CACHE_WRITE_INCR, .key = c, .by = 1};
    assert_int_equal(rg_cache_write_many(p, many, 0), RG_EINVAL);
    assert_int_equal(rg_cache_write_many(p, many, RG_CACHE_MANY_MAX + 1), RG_EINVAL);
    rg_cache_write bad_key[] = {{.op = RG_CACHE_WRITE_INCR, .key = c, .by = 1},
                                {.op = RG_CACHE_WRITE_DEL, .key = ""}};
    assert_int_equal(rg_cache_write_many(p, bad_key, 2), RG_EINVAL);
    assert_int_equal(bad_key[0].rc, RG_EINVAL); /* not done either */
    rg_cache_write bad_ttl[] = {{.op = RG_CACHE_WRITE_INCR, .key = c, .by = 1, .ttl_ms = -1}};
    assert_int_equal(rg_cache_write_many(p, bad_ttl, 1), RG_EINVAL);
    rg_cache_write bad_op[] = {{.op = (int)RG_CACHE_WRITE_INCR + 1, .key = c, .by = 1}};
    assert_int_equal(rg_cache_write_many(p, bad_op, 1), RG_EINVAL);
    assert_value(p, c, "6", 1);
}

struct incr_ctx {
    struct fixture *f;
    atomic_int failures;
};

static void *incr_thread(void *arg)
{
    struct incr_ctx *ctx = arg;
    const char *key = K(ctx->f, "shared");
    char k[256];
    snprintf(k, sizeof k, "%s", key);
    for (int i = 0; i < PER; i++) {
        int64_t n;
        if (rg_cache_incr(&ctx->f->port, k, 1, 0, &n) != 0 || n < 1 || n > THREADS * PER)
            atomic_fetch_add(&ctx->failures, 1);
    }
    return NULL;
}

static void test_incr_concurrent(void **state)
{
    struct fixture *f = *state;
    struct incr_ctx ctx = {.f = f};
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, incr_thread, &ctx), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&ctx.failures), 0);
    char want[16];
    snprintf(want, sizeof want, "%d", THREADS * PER);
    assert_value(&f->port, K(f, "shared"), want, strlen(want));
}

/* Writers and readers on a small key space: every value read is the one its
 * key was written with, never a torn or foreign one. */
struct mixed_ctx {
    struct fixture *f;
    int id;
    atomic_int *failures;
};

static void *mixed_thread(void *arg)
{
    struct mixed_ctx *ctx = arg;
    unsigned seed = (unsigned)ctx->id * 2654435761u;
    char key[256], val[600];
    for (int i = 0; i < 3000; i++) {
        seed = seed * 1103515245u + 12345u;
        int k = (int)((seed >> 8) % 64);
        snprintf(key, sizeof key, "%smixed%d", ctx->f->prefix, k);
        int op = (int)((seed >> 20) % 10);
        if (op < 4) {
            int n = snprintf(val, sizeof val, "%d:", k);
            int extra = (int)((seed >> 4) % 500);
            memset(val + n, 'a' + k % 26, (size_t)extra);
            if (rg_cache_set(&ctx->f->port, key, val, (size_t)(n + extra), 0) != 0)
                atomic_fetch_add(ctx->failures, 1);
        } else if (op < 5) {
            rg_cache_del(&ctx->f->port, key);
        } else {
            char *out = NULL;
            size_t len = 0;
            int rc = rg_cache_get(&ctx->f->port, key, &out, &len);
            if (rc == 0) {
                char head[16];
                int n = snprintf(head, sizeof head, "%d:", k);
                bool ok = len >= (size_t)n && memcmp(out, head, (size_t)n) == 0 && out[len] == 0;
                for (size_t j = (size_t)n; ok && j < len; j++)
                    ok = out[j] == 'a' + k % 26;
                if (!ok)
                    atomic_fetch_add(ctx->failures, 1);
                free(out);
            } else if (rc != RG_ENOTFOUND) {
                atomic_fetch_add(ctx->failures, 1);
            }
        }
    }
    return NULL;
}

static void test_mixed_concurrent(void **state)
{
    struct fixture *f = *state;
    atomic_int failures = 0;
    struct mixed_ctx ctx[THREADS];
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) {
        ctx[i] = (struct mixed_ctx){f, i, &failures};
        assert_int_equal(pthread_create(&th[i], NULL, mixed_thread, &ctx[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&failures), 0);
}

static void test_binary_values(void **state)
{
    struct fixture *f = *state;
    rg_cache_port *p = &f->port;
    assert_int_equal(rg_cache_set(p, K(f, "nul"), "a\0b\0c", 5, 0), 0);
    assert_value(p, K(f, "nul"), "a\0b\0c", 5);
    char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (char)(255 - i);
    assert_int_equal(rg_cache_set(p, K(f, "bytes"), all, sizeof all, 0), 0);
    assert_value(p, K(f, "bytes"), all, sizeof all);
    /* Only len bytes are taken. */
    assert_int_equal(rg_cache_set(p, K(f, "cut"), "abcdef", 3, 0), 0);
    assert_value(p, K(f, "cut"), "abc", 3);
    /* Keys with unusual bytes. */
    assert_int_equal(rg_cache_set(p, K(f, "k\xc3\xa9 y:\t*"), "u", 1, 0), 0);
    assert_value(p, K(f, "k\xc3\xa9 y:\t*"), "u", 1);
    assert_miss(p, K(f, "k\xc3\xa9 y:\t"));
}

static void test_memory_bound(void **state)
{
    (void)state;
    if (current->ops->caps & RG_CACHE_CAP_SHARED) {
        printf("SKIPPED cache/%s memory bound: a shared cache is bounded by its server "
               "(maxmemory), not in this process\n",
               current->name);
        skip();
    }
    if (!current->bounded_url) {
        printf("SKIPPED cache/%s memory bound: the bound is the server's setting\n", current->name);
        skip();
    }
    rg_cache_port p;
    assert_int_equal(rg_cache_open(&p, current->ops, current->bounded_url, NULL), 0);
    enum { VALUE = 10 * 1024, COUNT = 500 }; /* 5 MB through a 1 MiB cache */
    char *val = malloc(VALUE);
    char key[32];
    for (int i = 0; i < COUNT; i++) {
        memset(val, 'a' + i % 26, VALUE);
        snprintf(val, 32, "value %d|", i);
        snprintf(key, sizeof key, "bound:%04d", i);
        assert_int_equal(rg_cache_set(&p, key, val, VALUE, 0), 0);
    }
    /* The latest is there, whole. */
    memset(val, 'a' + (COUNT - 1) % 26, VALUE);
    snprintf(val, 32, "value %d|", COUNT - 1);
    snprintf(key, sizeof key, "bound:%04d", COUNT - 1);
    assert_value(&p, key, val, VALUE);
    /* The first ones were evicted, and what is left fits in the bound. */
    int present = 0, early_present = 0;
    for (int i = 0; i < COUNT; i++) {
        char *out = NULL;
        size_t len;
        snprintf(key, sizeof key, "bound:%04d", i);
        if (rg_cache_get(&p, key, &out, &len) == 0) {
            present++;
            early_present += i < 20;
            assert_int_equal(len, VALUE);
            free(out);
        }
    }
    printf("cache/%s: %d of %d values of %d bytes kept within 1 MiB\n", current->name, present,
           COUNT, VALUE);
    assert_int_equal(early_present, 0);
    assert_true(present >= 1);
    assert_true((size_t)present * VALUE <= 1024 * 1024);
    free(val);
    rg_cache_close(&p);
}

static void test_bad_urls(void **state)
{
    (void)state;
    if (!current->bad_urls) {
        printf("SKIPPED cache/%s bad URLs: none listed\n", current->name);
        skip();
    }
    for (const char *const *u = current->bad_urls; *u; u++) {
        rg_cache_port c;
        int rc = rg_cache_open(&c, current->ops, *u, NULL);
        if (rc != RG_EINVAL)
            fail_msg("open %s: %s, want EINVAL", *u, rg_error_name(rc));
        assert_null(c.c);
    }
    /* Another spelling that must open: a memory cache of 2 MiB, or the
     * server without its in-process level. */
    char url[512];
    if (current->url_env)
        adapter_url(url, sizeof url, "l1_mb=0");
    else
        snprintf(url, sizeof url, "memory://?max_mb=2");
    rg_cache_port p;
    assert_int_equal(rg_cache_open(&p, current->ops, url, NULL), 0);
    char key[64];
    snprintf(key, sizeof key, "alt:%ld", (long)getpid());
    assert_int_equal(rg_cache_set(&p, key, "v", 1, 0), 0);
    assert_value(&p, key, "v", 1);
    assert_int_equal(rg_cache_del(&p, key), 0);
    assert_miss(&p, key);
    rg_cache_close(&p);
}

static void test_lru_order(void **state)
{
    (void)state;
    if (current->ops->caps & RG_CACHE_CAP_SHARED) {
        printf("SKIPPED cache/%s LRU order: a shared cache evicts by its server's policy "
               "(maxmemory-policy), not in this process\n",
               current->name);
        skip();
    }
    if (!current->bounded_url) {
        printf("SKIPPED cache/%s LRU order: the bound is the server's setting\n", current->name);
        skip();
    }
    rg_cache_port p;
    assert_int_equal(rg_cache_open(&p, current->ops, current->bounded_url, NULL), 0);
    enum { VALUE = 4 * 1024 };
    char *val = calloc(1, VALUE);
    /* "hot" is read after every write; it must outlive 2 MiB of cold writes. */
    assert_int_equal(rg_cache_set(&p, "hot", "keep me", 7, 0), 0);
    char key[32];
    for (int i = 0; i < 512; i++) {
        snprintf(key, sizeof key, "cold:%04d", i);
        assert_int_equal(rg_cache_set(&p, key, val, VALUE, 0), 0);
        assert_value(&p, "hot", "keep me", 7);
    }
    free(val);
    rg_cache_close(&p);
}

struct pair {
    rg_cache_port a, b; /* two instances of the service */
    char prefix[48];
    bool redis_stopped; /* the outage test stopped the server: teardown restarts it */
};

static int setup_pair(void **state)
{
    *state = NULL;
    if (!(current->ops->caps & RG_CACHE_CAP_SHARED))
        return 0;
    static atomic_int run;
    struct pair *f = calloc(1, sizeof *f);
    char url[512];
    adapter_url(url, sizeof url, NULL);
    snprintf(f->prefix, sizeof f->prefix, "pair:%ld:%ld:%d:", (long)getpid(), (long)time(NULL),
             atomic_fetch_add(&run, 1));
    int rc = rg_cache_open(&f->a, current->ops, url, NULL);
    if (rc == 0 && (rc = rg_cache_open(&f->b, current->ops, url, NULL)) < 0)
        rg_cache_close(&f->a);
    if (rc < 0) {
        fprintf(stderr, "open %s: %s (%s)\n", current->name, rg_error_name(rc), rg_error_detail());
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

/* Runs scripts/test-servers.sh CMD on this run's private servers. */
static int servers(const char *cmd)
{
    const char *script = getenv("RG_TEST_SERVERS_SCRIPT"), *dir = getenv("RG_TEST_SERVERS");
    if (!script || !dir)
        return -1;
    char line[1024];
    snprintf(line, sizeof line, "bash '%s' %s '%s' >/dev/null 2>&1", script, cmd, dir);
    return system(line);
}

static int teardown_pair(void **state)
{
    struct pair *f = *state;
    if (f) {
        if (f->redis_stopped && servers("redis-start") != 0)
            fprintf(stderr, "could not start Redis again\n");
        rg_cache_close(&f->a);
        rg_cache_close(&f->b);
        free(f);
    }
    return 0;
}

#define NEED_SHARED(f, what)                                                                       \
    do {                                                                                           \
        if (!(f)) {                                                                                \
            printf("SKIPPED cache/%s %s: not shared between instances\n", current->name, what);    \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

static const char *KP(const struct pair *f, const char *name)
{
    static _Thread_local char bufs[4][256];
    static _Thread_local int next;
    char *b = bufs[next++ & 3];
    snprintf(b, sizeof bufs[0], "%s%s", f->prefix, name);
    return b;
}

/* Polls get on p every 20 ms until it gives want (NULL: a miss); returns the
 * ms that took, or -1 after limit_ms. */
static long wait_for(rg_cache_port *p, const char *key, const char *want, size_t want_len,
                     long limit_ms)
{
    int64_t t0 = now_ms();
    for (;;) {
        char *out = NULL;
        size_t len = 0;
        int rc = rg_cache_get(p, key, &out, &len);
        bool ok =
            want ? rc == 0 && len == want_len && memcmp(out, want, len) == 0 : rc == RG_ENOTFOUND;
        free(out);
        long elapsed = (long)(now_ms() - t0);
        if (ok)
            return elapsed;
        if (elapsed > limit_ms)
            return -1;
        sleep_ms(20);
    }
}

#define COHERENT_MS 1100 /* the bound is 1 s; 100 ms for the poll and a busy machine */

static void test_shared_coherence(void **state)
{
    struct pair *f = *state;
    NEED_SHARED(f, "two instances");
    char k[256];
    snprintf(k, sizeof k, "%s", KP(f, "k"));
    /* A writes, B reads (B keeps it in its in-process level, if any). */
    assert_int_equal(rg_cache_set(&f->a, k, "v1", 2, 0), 0);
    assert_value(&f->b, k, "v1", 2);
    assert_value(&f->b, k, "v1", 2);
    /* A overwrites: B sees the new value within 1 s, by get and get_many. */
    assert_int_equal(rg_cache_set(&f->a, k, "v2", 2, 0), 0);
    long ms = wait_for(&f->b, k, "v2", 2, COHERENT_MS);
    const char *keys[] = {k};
    char *out[1];
    size_t len[1];
    assert_int_equal(rg_cache_get_many(&f->b, keys, 1, out, len), 0);
    assert_non_null(out[0]);
    assert_string_equal(out[0], "v2");
    free(out[0]);
    if (ms < 0)
        fail_msg("instance B still served the old value %d ms after A's write", COHERENT_MS);
    printf("cache/%s: B saw A's overwrite after %ld ms\n", current->name, ms);
    /* A reads its own write at once. */
    assert_int_equal(rg_cache_set(&f->a, k, "v3", 2, 0), 0);
    assert_value(&f->a, k, "v3", 2);
    assert_true(wait_for(&f->b, k, "v3", 2, COHERENT_MS) >= 0);
    /* A deletes: B misses within 1 s. */
    assert_int_equal(rg_cache_del(&f->a, k), 0);
    assert_miss(&f->a, k);
    ms = wait_for(&f->b, k, NULL, 0, COHERENT_MS);
    if (ms < 0)
        fail_msg("instance B still served a deleted value %d ms after A's del", COHERENT_MS);
    printf("cache/%s: B saw A's del after %ld ms\n", current->name, ms);
    /* And the other way round. */
    assert_int_equal(rg_cache_set(&f->b, k, "w", 1, 0), 0);
    assert_true(wait_for(&f->a, k, "w", 1, COHERENT_MS) >= 0);
    /* A counter moved on A is seen moved on B. */
    int64_t n = 0;
    assert_int_equal(rg_cache_incr(&f->a, KP(f, "c"), 5, 0, &n), 0);
    assert_int_equal(n, 5);
    assert_value(&f->b, KP(f, "c"), "5", 1);
    assert_int_equal(rg_cache_incr(&f->a, KP(f, "c"), 1, 0, &n), 0);
    assert_true(wait_for(&f->b, KP(f, "c"), "6", 1, COHERENT_MS) >= 0);
    /* A value with a TTL expires for both. */
    assert_int_equal(rg_cache_set(&f->a, KP(f, "t"), "x", 1, 100), 0);
    assert_value(&f->b, KP(f, "t"), "x", 1);
    sleep_ms(150);
    assert_miss(&f->a, KP(f, "t"));
    assert_miss(&f->b, KP(f, "t"));
}

/* A fill stores like set (overwriting, with its TTL); only what it tells
 * other instances differs (test_fill_is_quiet). */
static void test_fill(void **state)
{
    struct fixture *f = *state;
    rg_cache_port *p = &f->port;
    assert_int_equal(rg_cache_fill(p, K(f, "f"), "first", 5, 0), 0);
    assert_value(p, K(f, "f"), "first", 5);
    assert_int_equal(rg_cache_fill(p, K(f, "f"), "2", 1, 0), 0);
    assert_value(p, K(f, "f"), "2", 1);
    assert_int_equal(rg_cache_set(p, K(f, "f"), "set", 3, 0), 0);
    assert_value(p, K(f, "f"), "set", 3);
    assert_int_equal(rg_cache_fill(p, K(f, "ft"), "x", 1, 100), 0);
    assert_value(p, K(f, "ft"), "x", 1);
    assert_true(wait_for(p, K(f, "ft"), NULL, 0, 1000) >= 0); /* expired */
    assert_int_equal(rg_cache_fill(p, "", "x", 1, 0), RG_EINVAL);
    assert_int_equal(rg_cache_fill(p, K(f, "f"), "x", 1, -1), RG_EINVAL);
}

/* A fill is read by the other instance from the shared store, and it sends
 * no invalidation: B keeps serving its own copy of a key that A filled
 * (within the in-process level's life), which is why only values that say
 * whether they are current may be filled. */
static void test_fill_is_quiet(void **state)
{
    struct pair *f = *state;
    NEED_SHARED(f, "two instances");
    char k[256];
    snprintf(k, sizeof k, "%s", KP(f, "q"));
    assert_int_equal(rg_cache_fill(&f->a, k, "v1", 2, 0), 0);
    assert_value(&f->b, k, "v1", 2); /* B reads it, and may keep it in-process */
    assert_int_equal(rg_cache_set(&f->a, k, "v2", 2, 0), 0);
    assert_true(wait_for(&f->b, k, "v2", 2, COHERENT_MS) >= 0); /* a set is told */
    assert_int_equal(rg_cache_fill(&f->a, k, "v3", 2, 0), 0);
    assert_value(&f->a, k, "v3", 2); /* the filling instance reads its fill */
    /* B sees v3 at the latest when its copy ends (1 s). */
    assert_true(wait_for(&f->b, k, "v3", 2, COHERENT_MS) >= 0);
}

#define SHARED_THREADS 4 /* per instance */
#define SHARED_PER     500

struct shared_incr_ctx {
    rg_cache_port *p;
    const char *key;
    atomic_int *failures;
};

static void *shared_incr_thread(void *arg)
{
    struct shared_incr_ctx *ctx = arg;
    for (int i = 0; i < SHARED_PER; i++) {
        int64_t n;
        if (rg_cache_incr(ctx->p, ctx->key, 1, 0, &n) != 0 || n < 1 ||
            n > 2 * SHARED_THREADS * SHARED_PER)
            atomic_fetch_add(ctx->failures, 1);
    }
    return NULL;
}

static void test_shared_incr(void **state)
{
    struct pair *f = *state;
    NEED_SHARED(f, "two-instance incr");
    char key[256];
    snprintf(key, sizeof key, "%s", KP(f, "sum"));
    atomic_int failures = 0;
    struct shared_incr_ctx ctx[2] = {{&f->a, key, &failures}, {&f->b, key, &failures}};
    pthread_t th[2 * SHARED_THREADS];
    for (int i = 0; i < 2 * SHARED_THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, shared_incr_thread, &ctx[i & 1]), 0);
    for (int i = 0; i < 2 * SHARED_THREADS; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&failures), 0);
    char want[16];
    snprintf(want, sizeof want, "%d", 2 * SHARED_THREADS * SHARED_PER);
    assert_true(wait_for(&f->a, key, want, strlen(want), COHERENT_MS) >= 0);
    assert_true(wait_for(&f->b, key, want, strlen(want), COHERENT_MS) >= 0);
}

/* expr must fail with RG_EUNAVAIL within 50 ms. */
#define FAILS_FAST(expr)                                                                           \
    do {                                                                                           \
        int64_t t0_ = now_ms();                                                                    \
        int rc_ = (expr);                                                                          \
        long ms_ = (long)(now_ms() - t0_);                                                         \
        if (rc_ != RG_EUNAVAIL || ms_ > 50)                                                        \
            fail_msg("%s: %s after %ld ms, want EUNAVAIL within 50 ms", #expr, rg_error_name(rc_), \
                     ms_);                                                                         \
    } while (0)

static void test_shared_outage(void **state)
{
    struct pair *f = *state;
    NEED_SHARED(f, "outage");
    if (!getenv("RG_TEST_SERVERS") || !getenv("RG_TEST_SERVERS_SCRIPT")) {
        printf("SKIPPED cache/%s outage: RG_TEST_SERVERS is not set (scripts/run-tests.sh sets "
               "it)\n",
               current->name);
        skip();
    }
    char k[256];
    snprintf(k, sizeof k, "%s", KP(f, "k"));
    assert_int_equal(rg_cache_set(&f->a, k, "before", 6, 0), 0);
    assert_value(&f->a, k, "before", 6);
    assert_value(&f->b, k, "before", 6);
    int64_t filled = now_ms();

    f->redis_stopped = true;
    assert_int_equal(servers("redis-stop"), 0);
    rg_cache_port *ports[2] = {&f->a, &f->b};
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < 2; i++) {
            rg_cache_port *p = ports[i];
            char fresh[64];
            snprintf(fresh, sizeof fresh, "fresh%d%d", round, i);
            char *out = NULL;
            size_t len;
            int64_t n = 0;
            FAILS_FAST(rg_cache_get(p, KP(f, fresh), &out, &len));
            assert_null(out);
            const char *keys[] = {KP(f, fresh), k};
            char *outs[2];
            size_t lens[2];
            FAILS_FAST(rg_cache_get_many(p, keys, 2, outs, lens));
            assert_null(outs[0]);
            assert_null(outs[1]);
            FAILS_FAST(rg_cache_set(p, KP(f, "w"), "x", 1, 0));
            FAILS_FAST(rg_cache_del(p, KP(f, "w")));
            FAILS_FAST(rg_cache_incr(p, KP(f, "n"), 1, 0, &n));
            FAILS_FAST(rg_cache_ping(p));
        }

    assert_int_equal(servers("redis-start"), 0);
    f->redis_stopped = false;
    int64_t started = now_ms();
    while (rg_cache_ping(&f->a) != 0 || rg_cache_ping(&f->b) != 0) {
        if (now_ms() - started > 2000)
            fail_msg("the cache was still unavailable 2 s after the server came back");
        sleep_ms(20);
    }
    int64_t usable = now_ms();
    printf("cache/%s: usable again %ld ms after the server came back\n", current->name,
           (long)(usable - started));
    /* The restarted server is empty: neither instance may still answer from
     * its in-process level. */
    assert_miss(&f->a, k);
    assert_miss(&f->b, k);
    printf("cache/%s: in-process levels were empty %ld ms after they were filled%s\n",
           current->name, (long)(now_ms() - filled),
           now_ms() - filled < 1000 ? "" : " (their 1 s life had ended anyway)");
    assert_int_equal(rg_cache_set(&f->a, k, "after", 5, 0), 0);
    assert_value(&f->a, k, "after", 5);
    assert_true(wait_for(&f->b, k, "after", 5, COHERENT_MS) >= 0);
    int64_t n = 0;
    int rc = rg_cache_incr(&f->b, KP(f, "n"), 1, 0, &n);
    if (rc != 0)
        fail_msg("incr after the outage: %s (%s)", rg_error_name(rc), rg_error_detail());
    assert_int_equal(n, 1);
}

#ifdef RG_WITH_REDIS
/* A plain connection to the test server, or NULL (with the reason printed)
 * when the URL is not a plain redis://host:port. */
static redisContext *raw_redis(void)
{
    const char *url = getenv("RG_TEST_REDIS_URL");
    char host[256];
    int port = 0;
    if (!url || strchr(url, '@') || sscanf(url, "redis://%255[^:/?]:%d", host, &port) != 2) {
        printf("SKIPPED cache/redis raw: RG_TEST_REDIS_URL is not redis://host:port\n");
        return NULL;
    }
    struct timeval tv = {2, 0};
    redisContext *c = redisConnectWithTimeout(host, port, tv);
    if (!c || c->err) {
        printf("SKIPPED cache/redis raw: cannot connect\n");
        if (c)
            redisFree(c);
        return NULL;
    }
    return c;
}

/* Runs a command on the raw connection; true when it gave no error. */
static bool raw_ok(redisContext *c, const char *fmt, const char *a, const char *b)
{
    redisReply *r = redisCommand(c, fmt, a, b);
    bool ok = r && r->type != REDIS_REPLY_ERROR;
    if (r)
        freeReplyObject(r);
    return ok;
}

static bool is_redis(void)
{
    return current->ops == &rg_redis_cache_ops;
}
#endif

/* A write that bypasses the adapter (so no invalidation message) is still
 * seen within 1 s: the life of an in-process entry is the hard bound. */
static void test_redis_stale_bound(void **state)
{
    struct pair *f = *state;
#ifdef RG_WITH_REDIS
    if (f && is_redis()) {
        redisContext *raw = raw_redis();
        if (!raw)
            skip();
        char rk[300];
        char k[256];
        snprintf(k, sizeof k, "%s", KP(f, "behind"));
        snprintf(rk, sizeof rk, "%s%s", url_prefix, k);
        long stale_ms = -1;
        for (int attempt = 0; attempt < 10 && stale_ms < 0; attempt++) {
            sleep_ms(100); /* lets B's invalidation channel come up */
            assert_int_equal(rg_cache_set(&f->a, k, "v1", 2, 0), 0);
            /* B may answer from its in-process level until A's message comes
             * (the previous attempt left "v2" there); and a message arriving
             * while B's GET is in flight makes B drop what it read. */
            sleep_ms(50);
            assert_true(wait_for(&f->b, k, "v1", 2, COHERENT_MS) >= 0);
            assert_true(raw_ok(raw, "SET %s %s", rk, "v2"));
            int64_t t0 = now_ms();
            char *out = NULL;
            size_t len;
            bool served_stale =
                rg_cache_get(&f->b, k, &out, &len) == 0 && len == 2 && memcmp(out, "v1", 2) == 0;
            free(out);
            if (!served_stale)
                continue; /* B did not keep it in process this time; try again */
            long ms = wait_for(&f->b, k, "v2", 2, COHERENT_MS);
            if (ms < 0)
                fail_msg("instance B served a replaced value for more than %d ms", COHERENT_MS);
            stale_ms = (long)(now_ms() - t0);
        }
        redisFree(raw);
        if (stale_ms < 0)
            fail_msg("instance B never kept a value in its in-process level");
        printf(
            "cache/redis: a value replaced behind the adapter's back was served for at most %ld ms "
            "(bound 1000, polled every 20 ms)\n",
            stale_ms);
        return;
    }
#endif
    (void)f;
    printf("SKIPPED cache/%s stale bound: Redis only\n", current->name);
    skip();
}

/* An absence is kept in the in-process level like a value: a key created
 * behind the adapter's back (no message) is reported absent for at most
 * the 1 s bound, and one created through another instance is found at once
 * (its message removes the kept absence), by get and by get_many. */
static void test_redis_absence_kept(void **state)
{
    struct pair *f = *state;
#ifdef RG_WITH_REDIS
    if (f && is_redis()) {
        redisContext *raw = raw_redis();
        if (!raw)
            skip();
        long absent_ms = -1;
        /* Until B's invalidation channel is up (a busy machine, a sanitizer
         * build), B keeps nothing: poll, for up to 10 s. */
        int64_t until = now_ms() + 10000;
        for (int attempt = 0; now_ms() < until && absent_ms < 0; attempt++) {
            char k[256], rk[300];
            snprintf(k, sizeof k, "%s-%d", KP(f, "absent"), attempt);
            snprintf(rk, sizeof rk, "%s%s", url_prefix, k);
            assert_true(wait_for(&f->b, k, NULL, 0, COHERENT_MS) >= 0);
            assert_true(raw_ok(raw, "SET %s %s", rk, "v1"));
            int64_t t0 = now_ms();
            char *out = NULL;
            size_t len;
            bool kept = rg_cache_get(&f->b, k, &out, &len) == RG_ENOTFOUND;
            free(out);
            rg_error_clear();
            if (!kept) { /* not kept, or aged out already: try again */
                sleep_ms(20);
                continue;
            }
            if (wait_for(&f->b, k, "v1", 2, COHERENT_MS) < 0)
                fail_msg("instance B reported a created key absent for more than %d ms",
                         COHERENT_MS);
            absent_ms = (long)(now_ms() - t0);
        }
        redisFree(raw);
        if (absent_ms < 0)
            fail_msg("instance B never kept an absence in its in-process level");
        /* Through the adapter: A's write tells B. */
        char k[256];
        snprintf(k, sizeof k, "%s", KP(f, "absent-told"));
        assert_true(wait_for(&f->b, k, NULL, 0, COHERENT_MS) >= 0);
        assert_int_equal(rg_cache_set(&f->a, k, "v2", 2, 0), 0);
        assert_true(wait_for(&f->b, k, "v2", 2, COHERENT_MS) >= 0);
        const char *keys[] = {k};
        char *many[1];
        size_t lens[1];
        assert_int_equal(rg_cache_get_many(&f->b, keys, 1, many, lens), 0);
        assert_non_null(many[0]);
        assert_memory_equal(many[0], "v2", 2);
        free(many[0]);
        printf("cache/redis: a key created behind the adapter's back was reported absent for at "
               "most %ld ms (bound 1000, polled every 20 ms)\n",
               absent_ms);
        return;
    }
#endif
    (void)f;
    printf("SKIPPED cache/%s absence kept: Redis only\n", current->name);
    skip();
}

/* When the invalidation channel is cut (the server kills its pub/sub
 * clients), the adapter subscribes again and empties its in-process level,
 * since messages may have been lost meanwhile: a value replaced behind its
 * back is then served for much less than the 1 s bound. */
static void test_redis_resubscribe_clears(void **state)
{
    struct pair *f = *state;
#ifdef RG_WITH_REDIS
    if (f && is_redis()) {
        redisContext *raw = raw_redis();
        if (!raw)
            skip();
        char rk[300], k[256];
        snprintf(k, sizeof k, "%s", KP(f, "resub"));
        snprintf(rk, sizeof rk, "%s%s", url_prefix, k);
        long ms = -1;
        for (int attempt = 0; attempt < 10 && ms < 0; attempt++) {
            sleep_ms(100);
            assert_int_equal(rg_cache_set(&f->a, k, "v1", 2, 0), 0);
            sleep_ms(50); /* as in test_redis_stale_bound */
            int64_t filled = now_ms();
            assert_true(wait_for(&f->b, k, "v1", 2, COHERENT_MS) >= 0);
            assert_true(raw_ok(raw, "SET %s %s", rk, "v2"));
            char *out = NULL;
            size_t len;
            bool in_l1 =
                rg_cache_get(&f->b, k, &out, &len) == 0 && len == 2 && memcmp(out, "v1", 2) == 0;
            free(out);
            if (!in_l1)
                continue;
            assert_true(raw_ok(raw, "CLIENT KILL TYPE %s%s", "pubsub", ""));
            assert_true(wait_for(&f->b, k, "v2", 2, COHERENT_MS) >= 0);
            ms = (long)(now_ms() - filled);
        }
        redisFree(raw);
        if (ms < 0)
            fail_msg("instance B never kept a value in its in-process level");
        printf("cache/redis: after its channel was cut, B dropped a value %ld ms after reading "
               "it\n",
               ms);
        assert_true(ms < 700);
        return;
    }
#endif
    (void)f;
    printf("SKIPPED cache/%s resubscribe: Redis only\n", current->name);
    skip();
}

/* A write that times out (the server pauses writes) is undone when the
 * server answers again, before anything is read: the old value it was meant
 * to replace is never served afterwards. */
static void test_redis_lost_write(void **state)
{
    struct pair *f = *state;
#ifdef RG_WITH_REDIS
    if (f && is_redis()) {
        redisContext *raw = raw_redis();
        if (!raw)
            skip();
        char rk[300];
        char k[256];
        snprintf(k, sizeof k, "%s", KP(f, "lost"));
        snprintf(rk, sizeof rk, "%s%s", url_prefix, k);
        assert_true(raw_ok(raw, "SET %s %s", rk, "stale"));
        assert_value(&f->a, k, "stale", 5);
        assert_true(raw_ok(raw, "CLIENT PAUSE %s %s", "1200", "WRITE"));
        int64_t t0 = now_ms();
        int rc = rg_cache_set(&f->a, k, "new", 3, 0);
        long ms = (long)(now_ms() - t0);
        printf("cache/redis: a write during CLIENT PAUSE gave %s after %ld ms\n", rg_error_name(rc),
               ms);
        assert_int_equal(rc, RG_EUNAVAIL);
        assert_true(ms < 900);
        char *out = NULL;
        size_t len;
        FAILS_FAST(rg_cache_get(&f->a, k, &out, &len));
        /* Once the pause is over, the key is gone rather than "stale". */
        t0 = now_ms();
        for (;;) {
            rc = rg_cache_get(&f->a, k, &out, &len);
            if (rc != RG_EUNAVAIL)
                break;
            if (now_ms() - t0 > 5000)
                fail_msg("the cache was still unavailable 5 s after the pause");
            sleep_ms(20);
        }
        if (rc == 0)
            fail_msg("served \"%.*s\" after a lost write", (int)len, out);
        assert_int_equal(rc, RG_ENOTFOUND);
        assert_true(wait_for(&f->b, k, NULL, 0, COHERENT_MS) >= 0);
        redisReply *r = redisCommand(raw, "EXISTS %s", rk);
        assert_non_null(r);
        assert_int_equal(r->integer, 0);
        freeReplyObject(r);
        redisFree(raw);
        return;
    }
#endif
    (void)f;
    printf("SKIPPED cache/%s lost write: Redis only\n", current->name);
    skip();
}

/* Writes made together reach the other instance as if made one by one; on
 * Redis, also when the server lost its scripts. */
static void test_shared_write_many(void **state)
{
    struct pair *f = *state;
    NEED_SHARED(f, "two instances");
    char c[256], k[256];
    snprintf(c, sizeof c, "%s", KP(f, "c"));
    snprintf(k, sizeof k, "%s", KP(f, "k"));
    int64_t n = 0;
    assert_int_equal(rg_cache_incr(&f->a, c, 1, 0, &n), 0);
    assert_int_equal(rg_cache_set(&f->a, k, "v", 1, 0), 0);
    assert_value(&f->b, c, "1", 1); /* in B's in-process level, if any */
    assert_value(&f->b, k, "v", 1);
    rg_cache_write w[] = {{.op = RG_CACHE_WRITE_INCR, .key = c, .by = 1},
                          {.op = RG_CACHE_WRITE_DEL, .key = k}};
    assert_int_equal(rg_cache_write_many(&f->a, w, 2), 0);
    assert_int_equal(w[0].out, 2);
    assert_value(&f->a, c, "2", 1);
    assert_miss(&f->a, k);
    if (wait_for(&f->b, c, "2", 1, COHERENT_MS) < 0)
        fail_msg("instance B still served the old counter %d ms after A's write", COHERENT_MS);
    if (wait_for(&f->b, k, NULL, 0, COHERENT_MS) < 0)
        fail_msg("instance B still served a deleted value %d ms after A's write", COHERENT_MS);
#ifdef RG_WITH_REDIS
    if (is_redis()) {
        redisContext *raw = raw_redis();
        if (!raw)
            return;
        assert_true(raw_ok(raw, "SCRIPT %s %s", "FLUSH", "SYNC"));
        redisFree(raw);
        rg_cache_write x[] = {{.op = RG_CACHE_WRITE_INCR, .key = c, .by = 5},
                              {.op = RG_CACHE_WRITE_DEL, .key = k}};
        assert_int_equal(rg_cache_write_many(&f->a, x, 2), 0);
        assert_int_equal(x[0].out, 7);
        assert_true(wait_for(&f->b, c, "7", 1, COHERENT_MS) >= 0);
    }
#endif
}

static void test_adapter_skipped(void **state)
{
    (void)state;
    skip();
}

#define T(fn)  cmocka_unit_test_setup_teardown(fn, setup, teardown)
#define T2(fn) cmocka_unit_test_setup_teardown(fn, setup_pair, teardown_pair)

static const struct CMUnitTest tests[] = {
    T(test_set_get_del),
    T(test_fill),
    T(test_get_many),
    T(test_miss),
    T(test_ttl),
    T(test_incr),
    T(test_incr_not_integer),
    T(test_write_many),
    T(test_incr_concurrent),
    T(test_mixed_concurrent),
    T(test_binary_values),
    T(test_memory_bound),
    T(test_lru_order),
    T(test_bad_urls),
    T2(test_shared_coherence),
    T2(test_fill_is_quiet),
    T2(test_shared_incr),
    T2(test_shared_write_many),
    T2(test_shared_outage),
    T2(test_redis_stale_bound),
    T2(test_redis_absence_kept),
    T2(test_redis_resubscribe_clears),
    T2(test_redis_lost_write),
};

static const struct CMUnitTest skipped[] = {cmocka_unit_test(test_adapter_skipped)};

int main(void)
{
    int failed = 0;
    for (size_t i = 0; i < N(adapters); i++) {
        const struct adapter *a = &adapters[i];
        char group[64];
        snprintf(group, sizeof group, "cache/%s", a->name);
        const char *env = a->url_env ? getenv(a->url_env) : NULL;
        char reason[128] = "";
        if (!a->ops)
            snprintf(reason, sizeof reason, "adapter not in this build");
        else if (a->url_env && (!env || !*env))
            snprintf(reason, sizeof reason, "%s is not set", a->url_env);
        if (reason[0]) {
            printf("SKIPPED %s: %s\n", group, reason);
            fflush(stdout);
            failed += _cmocka_run_group_tests(group, skipped, N(skipped), NULL, NULL);
            continue;
        }
        current = a;
        failed += _cmocka_run_group_tests(group, tests, N(tests), NULL, NULL);
    }
    return failed ? 1 : 0;
}
