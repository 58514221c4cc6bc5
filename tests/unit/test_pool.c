/* The bounded connection pool of risinggen/store/pool.h, with connections
 * that are plain counters: the bound holds under many threads, a checkout
 * waits and then answers RG_EUNAVAIL instead of hanging, broken and stale
 * connections are replaced, and a nested acquire is caught. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "risinggen/base/clock.h"
#include "risinggen/base/error.h"
#include "risinggen/base/metrics.h"
#include "risinggen/store/pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

struct fake {
    int id;
    bool stale;
};

struct counts {
    atomic_int opened, closed, open_now, max_open;
    atomic_int fail_opens; /* the next this many opens fail */
};

static int fake_open(void *ctx, void **out)
{
    struct counts *c = ctx;
    if (atomic_load(&c->fail_opens) > 0) {
        atomic_fetch_sub(&c->fail_opens, 1);
        return rg_error_set(RG_EUNAVAIL, "cannot reach the fake server");
    }
    struct fake *f = calloc(1, sizeof *f);
    f->id = atomic_fetch_add(&c->opened, 1) + 1;
    int now = atomic_fetch_add(&c->open_now, 1) + 1;
    int max = atomic_load(&c->max_open);
    while (now > max && !atomic_compare_exchange_weak(&c->max_open, &max, now))
        ;
    *out = f;
    return 0;
}

static void fake_close(void *ctx, void *conn)
{
    struct counts *c = ctx;
    atomic_fetch_add(&c->closed, 1);
    atomic_fetch_sub(&c->open_now, 1);
    free(conn);
}

static bool fake_usable(void *ctx, void *conn)
{
    (void)ctx;
    return !((struct fake *)conn)->stale;
}

static const rg_pool_methods methods = {fake_open, fake_close, fake_usable};

struct worker {
    rg_pool *pool;
    struct counts *counts;
    atomic_int *in_use, *max_in_use, *timeouts;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < 200; i++) {
        void *c;
        int rc = rg_pool_get(w->pool, &c);
        if (rc < 0) {
            atomic_fetch_add(w->timeouts, 1);
            continue;
        }
        int now = atomic_fetch_add(w->in_use, 1) + 1;
        int max = atomic_load(w->max_in_use);
        while (now > max && !atomic_compare_exchange_weak(w->max_in_use, &max, now))
            ;
        sched_yield();
        atomic_fetch_sub(w->in_use, 1);
        rg_pool_put(w->pool, c, i % 50 == 49); /* now and then a broken one */
    }
    return NULL;
}

static void bound_holds_under_load(void **state)
{
    (void)state;
    struct counts counts = {0};
    rg_pool *p = rg_pool_new("store=\"test\",case=\"load\"", 4, 60000, &methods, &counts);
    atomic_int in_use = 0, max_in_use = 0, timeouts = 0;
    enum { THREADS = 32 };
    pthread_t th[THREADS];
    struct worker w = {p, &counts, &in_use, &max_in_use, &timeouts};
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, work, &w), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&timeouts), 0);
    assert_true(atomic_load(&max_in_use) <= 4);
    assert_true(atomic_load(&counts.max_open) <= 4);
    /* Every broken connection was closed and replaced: what is open now is
     * what was opened minus what was closed, and at most the bound. */
    assert_int_equal(atomic_load(&counts.open_now),
                     atomic_load(&counts.opened) - atomic_load(&counts.closed));
    assert_true(atomic_load(&counts.closed) >= THREADS * 4 - 1);
    assert_int_equal(rg_metrics_value("rg_pool_in_use{store=\"test\",case=\"load\"}"), 0);
    rg_pool_free(p);
    assert_int_equal(atomic_load(&counts.open_now), 0);
}

struct holder {
    rg_pool *pool;
    void *conn;
    int64_t release_after_ms;
};

static void *give_back_later(void *arg)
{
    struct holder *h = arg;
    int64_t until = rg_mono_ms() + h->release_after_ms;
    while (rg_mono_ms() < until)
        usleep(1000);
    rg_pool_put(h->pool, h->conn, false);
    return NULL;
}

static void *get_then_put(void *arg)
{
    rg_pool *p = arg;
    void *c;
    intptr_t rc = rg_pool_get(p, &c);
    if (rc == 0)
        rg_pool_put(p, c, false);
    return (void *)rc;
}

static void checkout_waits_then_answers_unavailable(void **state)
{
    (void)state;
    struct counts counts = {0};
    rg_pool *p = rg_pool_new("store=\"test\",case=\"wait\"", 1, 100, &methods, &counts);
    void *held;
    assert_int_equal(rg_pool_get(p, &held), 0);
    /* Another thread asks while the only connection is lent: it waits its
     * 100 ms and is told to try again (the caller answers 503). */
    pthread_t t;
    double timeouts0 = rg_metrics_value("rg_pool_timeouts_total{store=\"test\",case=\"wait\"}");
    int64_t t0 = rg_mono_ms();
    assert_int_equal(pthread_create(&t, NULL, get_then_put, p), 0);
    void *rc;
    pthread_join(t, &rc);
    assert_int_equal((intptr_t)rc, RG_EUNAVAIL);
    assert_true(rg_mono_ms() - t0 >= 100);
    double timeouts1 = rg_metrics_value("rg_pool_timeouts_total{store=\"test\",case=\"wait\"}");
    if (timeouts1 != timeouts0 + 1)
        fail_msg("timeouts %g then %g", timeouts0, timeouts1);
    /* When the connection comes back within the wait, the waiter gets it. */
    rg_pool_put(p, held, false);
    rg_pool_free(p);
    p = rg_pool_new("store=\"test\",case=\"wait2\"", 1, 60000, &methods, &counts);
    assert_int_equal(rg_pool_get(p, &held), 0);
    struct holder h = {p, held, 50};
    pthread_t giver;
    assert_int_equal(pthread_create(&giver, NULL, give_back_later, &h), 0);
    assert_int_equal(pthread_create(&t, NULL, get_then_put, p), 0);
    pthread_join(giver, NULL);
    pthread_join(t, &rc);
    assert_int_equal((intptr_t)rc, 0);
    rg_pool_free(p);
}

static void failed_open_and_stale_connections(void **state)
{
    (void)state;
    struct counts counts = {0};
    rg_pool *p = rg_pool_new("store=\"test\",case=\"fail\"", 2, 1000, &methods, &counts);
    atomic_store(&counts.fail_opens, 1);
    void *c;
    assert_int_equal(rg_pool_get(p, &c), RG_EUNAVAIL);
    /* The failed open took no room: the place can be used. */
    void *b;
    assert_int_equal(rg_pool_get(p, &b), 0);
    rg_pool_put(p, b, false);
    /* An idle connection the server closed is replaced, never lent. */
    ((struct fake *)b)->stale = true;
    int stale_id = ((struct fake *)b)->id;
    assert_int_equal(rg_pool_get(p, &c), 0);
    assert_int_not_equal(((struct fake *)c)->id, stale_id);
    assert_false(((struct fake *)c)->stale);
    rg_pool_put(p, c, false);
    assert_int_equal(atomic_load(&counts.closed), 1);
    rg_pool_free(p);
    assert_int_equal(atomic_load(&counts.open_now), 0);
}

static void nested_acquire_is_caught(void **state)
{
    (void)state;
    struct counts counts = {0};
    rg_pool *p = rg_pool_new("store=\"test\",case=\"nested\"", 4, 1000, &methods, &counts);
    /* Two threads each holding one is fine. */
    void *a;
    assert_int_equal(rg_pool_get(p, &a), 0);
    pthread_t t;
    void *rc;
    assert_int_equal(pthread_create(&t, NULL, get_then_put, p), 0);
    pthread_join(t, &rc);
    assert_int_equal((intptr_t)rc, 0);
    /* One thread asking for a second one: a debug build stops at once. */
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        void *b;
        int r = rg_pool_get(p, &b);
        _exit(r == 0 ? 0 : 3);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
#ifndef NDEBUG
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
#else
    /* a release build logs it once and lends the second connection */
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
#endif
    rg_pool_put(p, a, false);
    rg_pool_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bound_holds_under_load),
        cmocka_unit_test(checkout_waits_then_answers_unavailable),
        cmocka_unit_test(failed_open_and_stale_connections),
        cmocka_unit_test(nested_acquire_is_caught),
    };
    return cmocka_run_group_tests_name("pool", tests, NULL, NULL);
}
