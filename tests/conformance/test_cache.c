/* Conformance suite of the cache port, run once per adapter.
 *
 * Embedded adapters (ops set, url_env NULL) always run, on a new cache per
 * test. Server adapters run when their URL is in the environment; every key
 * then carries a per-run prefix so that runs do not see each other. An adapter
 * that is not in this build or has no URL prints
 * "SKIPPED cache/<adapter>: <reason>" and its group is skipped. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "risinggen/cache.h"
#include "risinggen/error.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

static const struct adapter adapters[] = {
    {"memory", &rg_memory_cache_ops, NULL, "memory:", "memory:?max_mb=1", memory_bad_urls},
    {"redis", NULL, "RG_TEST_REDIS_URL", NULL, NULL, NULL},
};

static const struct adapter *current;

#define N(a) (sizeof(a) / sizeof((a)[0]))

struct fixture {
    rg_cache_port port;
    char prefix[48];
};

static int setup(void **state)
{
    static atomic_int run;
    struct fixture *f = calloc(1, sizeof *f);
    const char *url = current->url_env ? getenv(current->url_env) : current->url;
    snprintf(f->prefix, sizeof f->prefix, "rgtest:%ld:%ld:%d:", (long)getpid(), (long)time(NULL),
             atomic_fetch_add(&run, 1));
    int rc = current->ops->open(&f->port.c, url);
    if (rc < 0) {
        fprintf(stderr, "open %s: %s (%s)\n", current->name, rg_error_name(rc), rg_error_detail());
        free(f);
        return -1;
    }
    f->port.ops = current->ops;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f) {
        f->port.ops->close(f->port.c);
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

/* ---- tests ---- */

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

static void test_miss(void **state)
{
    struct fixture *f = *state;
    assert_miss(&f->port, K(f, "absent"));
    uint64_t hits0, misses0, hits1, misses1;
    rg_cache_stats(&hits0, &misses0);
    assert_miss(&f->port, K(f, "absent"));
    rg_cache_stats(&hits1, &misses1);
    assert_true(misses1 >= misses0 + 1);
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
    if (!current->bounded_url) {
        printf("SKIPPED cache/%s memory bound: the bound is the server's setting\n", current->name);
        skip();
    }
    rg_cache_port p = {.ops = current->ops};
    assert_int_equal(current->ops->open(&p.c, current->bounded_url), 0);
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
    current->ops->close(p.c);
}

static void test_bad_urls(void **state)
{
    (void)state;
    if (!current->bad_urls) {
        printf("SKIPPED cache/%s bad URLs: none listed\n", current->name);
        skip();
    }
    for (const char *const *u = current->bad_urls; *u; u++) {
        rg_cache *c = NULL;
        int rc = current->ops->open(&c, *u);
        if (rc != RG_EINVAL)
            fail_msg("open %s: %s, want EINVAL", *u, rg_error_name(rc));
        assert_null(c);
    }
    rg_cache *c = NULL;
    assert_int_equal(current->ops->open(&c, "memory://?max_mb=2"), 0);
    current->ops->close(c);
}

static void test_lru_order(void **state)
{
    (void)state;
    if (!current->bounded_url) {
        printf("SKIPPED cache/%s LRU order: the bound is the server's setting\n", current->name);
        skip();
    }
    rg_cache_port p = {.ops = current->ops};
    assert_int_equal(current->ops->open(&p.c, current->bounded_url), 0);
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
    current->ops->close(p.c);
}

/* ---- running ---- */

static void test_adapter_skipped(void **state)
{
    (void)state;
    skip();
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

static const struct CMUnitTest tests[] = {
    T(test_set_get_del),
    T(test_miss),
    T(test_ttl),
    T(test_incr),
    T(test_incr_not_integer),
    T(test_incr_concurrent),
    T(test_mixed_concurrent),
    T(test_binary_values),
    T(test_memory_bound),
    T(test_lru_order),
    T(test_bad_urls),
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
