/* A crash soak: registrations, payments and cancellations from several
 * threads while the server is killed with SIGKILL at random moments (after a
 * random number of answered writes, 20 times at least) and started again.
 * Afterwards every write that was answered 2xx is there, as answered (or
 * moved on the way the rules move it: a waitlisted place promoted, a pending
 * one paid), no event holds more than its places, and `taken` equals the
 * registrations that hold a place. Runs on both profiles. */
#include "testcfg.h"
#include "support.h"
#include "domain.h"
#include "risinggen/base/error.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { PEOPLE = 100, EVENTS = 6, WORKERS = 6, KILLS = 20, PLACES = 20, MAX_ACKS = 4096 };

struct ack {
    long long reg;
    long long payment; /* 0: none */
    int person, event;
    char status[16];              /* as answered */
    bool pay_tried;               /* a payment was sent; answered when payment != 0 */
    bool cancel_tried, cancelled; /* a cancel was sent; answered 200 */
};

static api_user people[PEOPLE];
static long long events[EVENTS]; /* even: free with a waiting list; odd: paid */
static struct ack acks[MAX_ACKS];
static int nacks;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_int answered; /* writes answered 2xx */
static atomic_bool stop;
static atomic_int keys; /* Idempotency-Keys made */

static unsigned next_rand(unsigned *seed)
{
    *seed = *seed * 1103515245u + 12345u;
    return *seed >> 8;
}

static void record(const struct ack *a)
{
    pthread_mutex_lock(&mu);
    if (nacks < MAX_ACKS)
        acks[nacks++] = *a;
    pthread_mutex_unlock(&mu);
    atomic_fetch_add(&answered, 1);
}

static void *worker(void *p)
{
    unsigned seed = (unsigned)(uintptr_t)p * 2654435761u;
    while (!atomic_load(&stop)) {
        int who = (int)(next_rand(&seed) % PEOPLE), ev = (int)(next_rand(&seed) % EVENTS);
        api_req rq = {.method = "POST",
                      .path = fmt("/v1/events/%lld/registrations", events[ev]),
                      .body = "{\"dietaryRequirements\":\"none\"}",
                      .token = people[who].access,
                      .timeout_ms = 5000};
        api_resp *r = api_do(&rq);
        if (r->status == 201) {
            struct ack a = {.reg = jint(r->json, "id"), .person = who, .event = ev};
            snprintf(a.status, sizeof a.status, "%s", jstr(r->json, "status"));
            resp_free(r);
            if (strcmp(a.status, "pending") == 0) {
                a.pay_tried = true;
                char key[64];
                snprintf(key, sizeof key, "soak-%d-%d", (int)getpid(), atomic_fetch_add(&keys, 1));
                api_resp *pr = pay_key(people[who].access, key, pay_body(a.reg, "card", "test"));
                if (pr->status == 201 && strcmp(jstr(pr->json, "status"), "succeeded") == 0)
                    a.payment = jint(pr->json, "id");
                resp_free(pr);
            }
            if (next_rand(&seed) % 4 == 0) {
                a.cancel_tried = true;
                api_req cq = {.method = "POST",
                              .path = fmt("/v1/registrations/%lld/cancel", a.reg),
                              .body = "{}",
                              .token = people[who].access,
                              .timeout_ms = 5000};
                api_resp *cr = api_do(&cq);
                a.cancelled = cr->status == 200;
                resp_free(cr);
            }
            record(&a);
        } else {
            resp_free(r); /* refused, or no answer while the server was away */
        }
    }
    return NULL;
}

/* A registration's status now, as an admin reads it. */
static json_t *registration_now(long long id)
{
    api_resp *r = api("GET", fmt("/v1/registrations/%lld", id), NULL, admin_user()->access);
    if (r->status != 200)
        fail_msg("registration %lld was answered but is gone: %ld %s", id, r->status, r->body);
    json_t *j = json_incref(r->json);
    resp_free(r);
    return j;
}

static void acknowledged_writes_survive_kills(void **state)
{
    (void)state;
    api_user org;
    organizer_signup(&org, "soak-org");
    for (int e = 0; e < EVENTS; e += 2) {
        events[e] = event_create_published(
            org.access, json_pack("{s:i, s:b}", "maxParticipants", PLACES, "waitlistEnabled", 1));
        events[e + 1] = paid_event(org.access, "12.50", "GBP", PLACES);
    }
    users_signup_parallel(people, PEOPLE, "soak");
    api_allow_5xx(true); /* a store may answer 503 while it recovers */

    pthread_t th[WORKERS];
    for (int i = 0; i < WORKERS; i++)
        pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)(i + 1));
    unsigned seed = (unsigned)getpid();
    int kills = 0, restart = 0;
    bool stalled = false;
    for (; kills < KILLS && !stalled && restart == 0; kills++) {
        /* A random moment: after 1 to 8 more answered writes. */
        int want = atomic_load(&answered) + 1 + (int)(next_rand(&seed) % 8);
        int64_t until = (int64_t)time(NULL) + 60;
        while (atomic_load(&answered) < want && time(NULL) < until)
            usleep(2000);
        stalled = atomic_load(&answered) < want;
        if (!stalled)
            restart = srv_kill_restart(&g_srv);
    }
    atomic_store(&stop, true);
    for (int i = 0; i < WORKERS; i++)
        pthread_join(th[i], NULL);
    assert_false(stalled);
    assert_int_equal(restart, 0);
    api_allow_5xx(false);
    printf("# %d kills, %d answered registrations\n", kills, nacks);
    assert_true(nacks > KILLS);

    /* Every answered write is there. */
    int promoted = 0;
    for (int i = 0; i < nacks; i++) {
        const struct ack *a = &acks[i];
        json_t *reg = registration_now(a->reg);
        const char *now = jstr(reg, "status");
        /* A write sent but never answered may or may not have happened. */
        if (a->cancel_tried && !a->cancelled && strcmp(now, "cancelled") == 0) {
            json_decref(reg);
            continue;
        }
        if (a->pay_tried && !a->payment && strcmp(now, "confirmed") == 0) {
            json_decref(reg);
            continue;
        }
        if (a->cancelled) {
            assert_str_eq(now, "cancelled");
        } else if (a->payment) {
            assert_str_eq(now, "confirmed");
            assert_str_eq(jstr(reg, "paymentStatus"), "paid");
        } else if (strcmp(a->status, "confirmed") == 0) {
            assert_str_eq(now, "confirmed");
        } else if (strcmp(a->status, "waitlisted") == 0) {
            promoted += strcmp(now, "waitlisted") != 0;
        } else if (strcmp(now, a->status) != 0 && strcmp(now, "confirmed") != 0) {
            fail_msg("registration %lld was answered %s and is now %s", a->reg, a->status, now);
        }
        json_decref(reg);
        if (a->payment) {
            json_t *pay = get_json(fmt("/v1/payments/%lld", a->payment), admin_user()->access);
            assert_str_eq(jstr(pay, "status"), "succeeded");
            json_decref(pay);
        }
    }
    printf("# %d waitlisted places promoted meanwhile\n", promoted);

    /* No event over its places; taken equals the registrations holding one. */
    assert_int_equal(srv_stop(&g_srv), 0);
    rg_app app;
    api_open_stores(&app);
    for (int e = 0; e < EVENTS; e++) {
        rg_rows *rows = NULL;
        rg_param p[] = {RG_PINT(events[e])};
        assert_true(rg_rel_run(&app, "event_stats", p, 1, &rows) >= 0);
        int64_t taken = rg_rows_int(rows, 0, "taken", -1),
                holding = rg_rows_int(rows, 0, "confirmed", 0) + rg_rows_int(rows, 0, "pending", 0);
        if (taken != holding || taken > PLACES)
            fail_msg("event %lld: taken %lld, holding %lld, places %d", events[e], (long long)taken,
                     (long long)holding, PLACES);
        rg_rows_free(rows);
    }
    rg_app_close(&app);
    assert_int_equal(srv_start(&g_srv, g_srv.dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(acknowledged_writes_survive_kills),
    };
    return cmocka_run_group_tests(tests, api_setup, api_teardown);
}
