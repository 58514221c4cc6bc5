#include "risinggen/store/pool.h"
#include "risinggen/base/alloc.h"
#include "risinggen/base/clock.h"
#include "risinggen/base/error.h"
#include "risinggen/base/log.h"
#include "risinggen/base/metrics.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct lent {
    void *conn;
    pthread_t owner;
};

struct rg_pool {
    const rg_pool_methods *m;
    void *ctx;
    int size, wait_ms;
    pthread_mutex_t lock;
    pthread_cond_t freed; /* a connection came back, or room to open one */
    void **idle;          /* stack of idle connections, size entries */
    int nidle;
    struct lent *lent; /* size entries; conn NULL: free slot */
    int nopen;         /* idle + lent + being opened */
    atomic_bool warned_nested;
    char *labels;
    rg_metric *m_waits, *m_timeouts;
};

static rg_metric *series(const char *family, const char *labels)
{
    char name[256];
    snprintf(name, sizeof name, "%s{%s}", family, labels);
    return rg_metrics_series(name);
}

/* The gauges, read when /metrics is rendered. */
static double count_open(void *ctx)
{
    rg_pool *p = ctx;
    pthread_mutex_lock(&p->lock);
    int n = p->nopen;
    pthread_mutex_unlock(&p->lock);
    return n;
}

static double count_lent(void *ctx)
{
    rg_pool *p = ctx;
    pthread_mutex_lock(&p->lock);
    int n = p->nopen - p->nidle;
    pthread_mutex_unlock(&p->lock);
    return n;
}

rg_pool *rg_pool_new(const char *labels, int size, int wait_ms, const rg_pool_methods *methods,
                     void *ctx)
{
    rg_pool *p = rg_xcalloc(1, sizeof *p);
    p->m = methods;
    p->ctx = ctx;
    p->size = size < 1 ? 1 : size;
    p->wait_ms = wait_ms < 0 ? 0 : wait_ms;
    pthread_mutex_init(&p->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->freed, &ca);
    pthread_condattr_destroy(&ca);
    p->idle = rg_xcalloc((size_t)p->size, sizeof *p->idle);
    p->lent = rg_xcalloc((size_t)p->size, sizeof *p->lent);
    p->labels = rg_xstrdup(labels);
    p->m_waits = series("rg_pool_waits_total", labels);
    p->m_timeouts = series("rg_pool_timeouts_total", labels);
    rg_metrics_describe("rg_pool_connections", "gauge", "Open store connections by pool.");
    rg_metrics_describe("rg_pool_in_use", "gauge", "Store connections lent out now, by pool.");
    rg_metrics_describe("rg_pool_waits_total", "counter",
                        "Checkouts that waited for a connection, by pool.");
    rg_metrics_describe("rg_pool_timeouts_total", "counter",
                        "Checkouts that found no connection in time (answered 503), by pool.");
    char name[256];
    snprintf(name, sizeof name, "rg_pool_connections{%s}", labels);
    rg_metrics_watch(name, count_open, p);
    snprintf(name, sizeof name, "rg_pool_in_use{%s}", labels);
    rg_metrics_watch(name, count_lent, p);
    return p;
}

void rg_pool_free(rg_pool *p)
{
    if (!p)
        return;
    rg_metrics_unwatch(p);
    pthread_mutex_lock(&p->lock);
    int lent = p->nopen - p->nidle;
    pthread_mutex_unlock(&p->lock);
    if (lent > 0)
        rg_err("pool %s closed with %d connection%s still lent", p->labels, lent,
               lent == 1 ? "" : "s");
    for (int i = 0; i < p->nidle; i++) {
        p->m->close(p->ctx, p->idle[i]);
    }
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->freed);
    free(p->idle);
    free(p->lent);
    free(p->labels);
    free(p);
}

int rg_pool_size(const rg_pool *p)
{
    return p->size;
}

/* Called with the lock held. */
static void note_lent(rg_pool *p, void *conn)
{
    for (int i = 0; i < p->size; i++)
        if (!p->lent[i].conn) {
            p->lent[i] = (struct lent){conn, pthread_self()};
            return;
        }
}

/* Forgets a lent connection that never reached its borrower, and closes it. */
static void discard(rg_pool *p, void *conn)
{
    pthread_mutex_lock(&p->lock);
    for (int i = 0; i < p->size; i++)
        if (p->lent[i].conn == conn)
            p->lent[i].conn = NULL;
    pthread_mutex_unlock(&p->lock);
    p->m->close(p->ctx, conn);
    pthread_mutex_lock(&p->lock);
    p->nopen--;
    pthread_cond_signal(&p->freed);
    pthread_mutex_unlock(&p->lock);
}

static void check_nested(rg_pool *p)
{
    pthread_t self = pthread_self();
    for (int i = 0; i < p->size; i++)
        if (p->lent[i].conn && pthread_equal(p->lent[i].owner, self)) {
#ifndef NDEBUG
            rg_err("nested acquire: this thread already holds a connection of pool %s "
                   "(release it before taking another; see docs/architecture.md, "
                   "\"Threads and connections\")",
                   p->labels);
            abort();
#else
            if (!atomic_exchange(&p->warned_nested, true))
                rg_err("nested acquire: a thread took a second connection of pool %s "
                       "while holding one (logged once)",
                       p->labels);
            return;
#endif
        }
}

static void deadline_after(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

int rg_pool_get(rg_pool *p, void **out)
{
    *out = NULL;
    struct timespec deadline;
    bool waited = false, have_deadline = false;
    pthread_mutex_lock(&p->lock);
    check_nested(p);
    for (;;) {
        if (p->nidle > 0) {
            void *c = p->idle[--p->nidle];
            note_lent(p, c);
            pthread_mutex_unlock(&p->lock);
            if (p->m->usable && !p->m->usable(p->ctx, c)) {
                /* the server closed it while idle: replace it */
                discard(p, c);
                pthread_mutex_lock(&p->lock);
                continue;
            }
            *out = c;
            return 0;
        }
        if (p->nopen < p->size) {
            p->nopen++;
            pthread_mutex_unlock(&p->lock);
            void *c = NULL;
            int rc = p->m->open(p->ctx, &c);
            pthread_mutex_lock(&p->lock);
            if (rc < 0) {
                p->nopen--;
                pthread_cond_signal(&p->freed); /* another waiter may try */
                pthread_mutex_unlock(&p->lock);
                return rc;
            }
            note_lent(p, c);
            pthread_mutex_unlock(&p->lock);
            *out = c;
            return 0;
        }
        if (!have_deadline) {
            deadline_after(&deadline, p->wait_ms);
            have_deadline = true;
        }
        if (!waited) {
            waited = true;
            rg_metrics_add(p->m_waits, 1);
        }
        int w = p->wait_ms > 0 ? pthread_cond_timedwait(&p->freed, &p->lock, &deadline) : ETIMEDOUT;
        if (w == ETIMEDOUT && p->nidle == 0 && p->nopen >= p->size) {
            pthread_mutex_unlock(&p->lock);
            rg_metrics_add(p->m_timeouts, 1);
            rg_warn("pool %s: every one of its %d connections stayed in use for %d ms", p->labels,
                    p->size, p->wait_ms);
            return rg_error_set(RG_EUNAVAIL, "the service is busy; try again");
        }
    }
}

void rg_pool_put(rg_pool *p, void *conn, bool broken)
{
    if (!conn)
        return;
    pthread_mutex_lock(&p->lock);
    bool found = false;
    for (int i = 0; i < p->size; i++)
        if (p->lent[i].conn == conn) {
            p->lent[i].conn = NULL;
            found = true;
            break;
        }
    if (!found) {
        pthread_mutex_unlock(&p->lock);
        rg_err("pool %s: a connection it did not lend was given back", p->labels);
#ifndef NDEBUG
        abort();
#endif
        return;
    }
    if (!broken) {
        p->idle[p->nidle++] = conn;
        pthread_cond_signal(&p->freed);
        pthread_mutex_unlock(&p->lock);
        return;
    }
    pthread_mutex_unlock(&p->lock);
    /* closed before its place is given up, so that the server never sees
     * more than size connections */
    p->m->close(p->ctx, conn);
    pthread_mutex_lock(&p->lock);
    p->nopen--;
    pthread_cond_signal(&p->freed);
    pthread_mutex_unlock(&p->lock);
}
