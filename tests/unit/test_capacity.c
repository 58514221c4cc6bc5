/* The capacity invariant at the domain level, on real SQLite, under real
 * thread concurrency: never more confirmed + pending than maxParticipants. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <sodium.h>
#include <string.h>

#include "domain.h"
#include "pgtest.h"
#include "testcfg.h"
#include "tmpdir.h"
#include "risinggen/base/id.h"
#include "risinggen/base/error.h"

#define USERS 200

static rg_app app;
static char dir[512];
static char users[USERS][RG_OID_LEN + 1];
static rg_principal organizer;

/* The relational store under test: NULL for SQLite in the scratch folder,
 * else a PostgreSQL URL. */
static const char *relational_url;

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "%s", rg_test_tmpdir());
    char rel[600], docs[600], search[600];
    snprintf(rel, sizeof rel, "%s%s%s",
             relational_url ? "" : "sqlite:", relational_url ? relational_url : dir,
             relational_url ? "" : "/rel.db");
    snprintf(docs, sizeof docs, "sqlite:%s/docs.db", dir);
    snprintf(search, sizeof search, "sqlite:%s/search.db", dir);
    static rg_config cfg;
    rg_config_free(&cfg);
    rg_test_config(&cfg, rel, docs, "memory:", search);
    if (rg_app_open(&app, &cfg, true) < 0)
        return -1;
    /* People are inserted with one precomputed hash: argon2 is not under test. */
    const char *hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNo";
    for (int i = 0; i < USERS; i++) {
        char email[64];
        snprintf(email, sizeof email, "p%d@example.org", i);
        json_t *u2 =
            json_pack("{s:s, s:s, s:s, s:[s], s:s}", "email", email, "firstName", "P", "lastName",
                      "Q", "roles", "participant", "dateOfBirth", "2001-01-01");
        users[i][0] = '\0';
        int rc = rg_auth_insert_user(&app, u2, hash, users[i]);
        json_decref(u2);
        if (rc < 0)
            return -1;
    }
    snprintf(organizer.user_id, sizeof organizer.user_id, "%s", users[0]);
    organizer.roles = RG_ROLE_ORGANIZER | RG_ROLE_PARTICIPANT;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    rg_app_close(&app);
    rg_test_rmdir(dir);
    return 0;
}

/* Creates and publishes an event; returns its id as text in out. */
static void make_event(int max, bool waitlist, bool paid, char out[32])
{
    static int n;
    char slug[64];
    snprintf(slug, sizeof slug, "rush-%d", ++n);
    json_t *body = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:i, s:b, s:o}", "title", "Rush", "slug", slug, "startDate",
        "2030-06-01T09:00:00Z", "endDate", "2030-06-02T17:00:00Z", "type", "conference",
        "maxParticipants", max, "waitlistEnabled", waitlist, "cost",
        paid ? json_pack("{s:s, s:s}", "amount", "10.00", "currency", "GBP") : json_null());
    json_t *ev;
    assert_int_equal(rg_event_create(&app, RG_AS(&organizer), body, &ev), 0);
    json_decref(body);
    snprintf(out, 32, "%lld", (long long)json_integer_value(json_object_get(ev, "id")));
    json_decref(ev);
    json_t *patch = json_pack("{s:s}", "status", "published");
    assert_int_equal(rg_event_patch(&app, RG_AS(&organizer), out, patch, &ev), 0);
    json_decref(patch);
    json_decref(ev);
}

struct racer {
    pthread_barrier_t *start;
    const char *event;
    int user;
    int rc;
    char status[16];
};

static void *race(void *p)
{
    struct racer *r = p;
    rg_principal who = {.roles = RG_ROLE_PARTICIPANT};
    memcpy(who.user_id, users[r->user], sizeof who.user_id);
    pthread_barrier_wait(r->start);
    json_t *out = NULL;
    r->rc = rg_registration_create(&app, RG_AS(&who), r->event, NULL, &out);
    if (r->rc == 0)
        snprintf(r->status, sizeof r->status, "%s",
                 json_string_value(json_object_get(out, "status")));
    json_decref(out);
    rg_error_clear();
    return NULL;
}

/* Fires n registrations at once; counts answers by kind. */
static void fire(const char *event, int n, int *ok, int *full, int *waitlisted)
{
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)n);
    pthread_t t[USERS];
    struct racer r[USERS];
    for (int i = 0; i < n; i++) {
        r[i] = (struct racer){.start = &start, .event = event, .user = i};
        assert_int_equal(pthread_create(&t[i], NULL, race, &r[i]), 0);
    }
    *ok = *full = *waitlisted = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(t[i], NULL);
        if (r[i].rc == 0 && strcmp(r[i].status, "waitlisted") == 0)
            (*waitlisted)++;
        else if (r[i].rc == 0)
            (*ok)++;
        else if (r[i].rc == RG_EFULL)
            (*full)++;
        else
            fail_msg("unexpected answer %s for user %d", rg_error_name(r[i].rc), i);
    }
    pthread_barrier_destroy(&start);
}

static void stats_of(const char *event, json_t **out)
{
    assert_int_equal(rg_event_stats(&app, RG_AS(&organizer), event, out), 0);
}

static void rush_never_oversells(void **state)
{
    (void)state;
    for (int round = 0; round < 5; round++) {
        char ev[32];
        make_event(25, false, false, ev);
        int ok, full, wl;
        fire(ev, USERS, &ok, &full, &wl);
        assert_int_equal(ok, 25);
        assert_int_equal(full, USERS - 25);
        assert_int_equal(wl, 0);
        json_t *s;
        stats_of(ev, &s);
        assert_int_equal(json_integer_value(json_object_get(s, "confirmed")), 25);
        assert_int_equal(json_integer_value(json_object_get(s, "spotsLeft")), 0);
        json_decref(s);
    }
}

/* A waiter as the server gives one: park counts, wake lets the racer's
 * thread go on (it calls again, as the server does). */
struct parking {
    rg_waiter w;
    sem_t back;
    atomic_int parks, wakes;
};

static void park(rg_waiter *w)
{
    struct parking *k = (struct parking *)(void *)w;
    atomic_fetch_add(&k->parks, 1);
}

static void wake(rg_waiter *w)
{
    struct parking *k = (struct parking *)(void *)w;
    atomic_fetch_add(&k->wakes, 1);
    sem_post(&k->back);
}

struct parked_racer {
    pthread_barrier_t *start;
    const char *event;
    int user;
    int rc;
    struct parking k;
};

static void *race_parked(void *p)
{
    struct parked_racer *r = p;
    rg_ctx ctx = {.read_own_writes = true, .waiter = &r->k.w};
    ctx.who.roles = RG_ROLE_PARTICIPANT;
    memcpy(ctx.who.user_id, users[r->user], sizeof ctx.who.user_id);
    pthread_barrier_wait(r->start);
    json_t *out = NULL;
    while ((r->rc = rg_registration_create(&app, &ctx, r->event, NULL, &out)) == RG_PARKED)
        sem_wait(&r->k.back);
    json_decref(out);
    rg_error_clear();
    return NULL;
}

/* Admissions that wait for a group park (the server's threads go on with
 * other requests) and are called again when woken, to lead or with their
 * answer: still exactly the capacity in, every park woken once, and every
 * request answered. */
static void rush_with_parked_waits(void **state)
{
    (void)state;
    static struct parked_racer r[USERS];
    static pthread_t t[USERS];
    int parks = 0;
    for (int round = 0; round < 5; round++) {
        char ev[32];
        make_event(25, false, false, ev);
        pthread_barrier_t start;
        pthread_barrier_init(&start, NULL, USERS);
        for (int i = 0; i < USERS; i++) {
            r[i] = (struct parked_racer){.start = &start, .event = ev, .user = i};
            r[i].k.w = (rg_waiter){.park = park, .wake = wake};
            sem_init(&r[i].k.back, 0, 0);
            assert_int_equal(pthread_create(&t[i], NULL, race_parked, &r[i]), 0);
        }
        int ok = 0, full = 0;
        for (int i = 0; i < USERS; i++) {
            pthread_join(t[i], NULL);
            if (r[i].rc == 0)
                ok++;
            else if (r[i].rc == RG_EFULL)
                full++;
            else
                fail_msg("unexpected answer %s for user %d", rg_error_name(r[i].rc), i);
            assert_int_equal(atomic_load(&r[i].k.parks), atomic_load(&r[i].k.wakes));
            assert_null(r[i].k.w.state);
            parks += atomic_load(&r[i].k.parks);
            sem_destroy(&r[i].k.back);
        }
        pthread_barrier_destroy(&start);
        assert_int_equal(ok, 25);
        assert_int_equal(full, USERS - 25);
        json_t *s;
        stats_of(ev, &s);
        assert_int_equal(json_integer_value(json_object_get(s, "confirmed")), 25);
        assert_int_equal(json_integer_value(json_object_get(s, "spotsLeft")), 0);
        json_decref(s);
    }
    /* 200 admissions at once, five times: some wait for a group. */
    assert_true(parks > 0);
}

static void waiting_list_moves_up(void **state)
{
    (void)state;
    char ev[32];
    make_event(3, true, false, ev);
    int ok, full, wl;
    fire(ev, 12, &ok, &full, &wl);
    assert_int_equal(ok, 3);
    assert_int_equal(wl, 9);
    assert_int_equal(full, 0);
    /* Cancel one confirmed registration: exactly one waitlisted moves up. */
    json_t *list;
    assert_int_equal(
        rg_event_attendees(&app, RG_AS(&organizer), ev, "confirmed", NULL, NULL, 100, &list), 0);
    json_t *first = json_array_get(json_object_get(list, "items"), 0);
    char rid[32];
    snprintf(rid, sizeof rid, "%lld", (long long)json_integer_value(json_object_get(first, "id")));
    json_decref(list);
    json_t *out;
    assert_int_equal(rg_registration_cancel(&app, RG_AS(&organizer), rid, NULL, &out), 0);
    assert_string_equal(json_string_value(json_object_get(out, "status")), "cancelled");
    json_decref(out);
    json_t *s;
    stats_of(ev, &s);
    assert_int_equal(json_integer_value(json_object_get(s, "confirmed")), 3);
    assert_int_equal(json_integer_value(json_object_get(s, "waitlisted")), 8);
    assert_int_equal(json_integer_value(json_object_get(s, "cancelled")), 1);
    json_decref(s);
    /* Cancelling again changes nothing. */
    assert_int_equal(rg_registration_cancel(&app, RG_AS(&organizer), rid, NULL, &out), 0);
    json_decref(out);
    stats_of(ev, &s);
    assert_int_equal(json_integer_value(json_object_get(s, "confirmed")), 3);
    json_decref(s);
}

static void larger_maximum_moves_waiting_list_up(void **state)
{
    (void)state;
    char ev[32];
    make_event(2, true, false, ev);
    int ok, full, wl;
    fire(ev, 5, &ok, &full, &wl);
    assert_int_equal(ok, 2);
    assert_int_equal(wl, 3);
    json_t *patch = json_pack("{s:i}", "maxParticipants", 4), *out;
    assert_int_equal(rg_event_patch(&app, RG_AS(&organizer), ev, patch, &out), 0);
    assert_int_equal(json_integer_value(json_object_get(out, "spotsLeft")), 0);
    json_decref(patch);
    json_decref(out);
    json_t *s;
    stats_of(ev, &s);
    assert_int_equal(json_integer_value(json_object_get(s, "confirmed")), 4);
    assert_int_equal(json_integer_value(json_object_get(s, "waitlisted")), 1);
    json_decref(s);
    /* A maximum below the places taken is refused and changes nothing. */
    patch = json_pack("{s:i}", "maxParticipants", 3);
    assert_int_equal(rg_event_patch(&app, RG_AS(&organizer), ev, patch, &out), RG_EVALIDATION);
    rg_error_clear();
    json_decref(patch);
    stats_of(ev, &s);
    assert_int_equal(json_integer_value(json_object_get(s, "maxParticipants")), 4);
    json_decref(s);
}

static void expired_holds_free_places(void **state)
{
    (void)state;
    char ev[32];
    make_event(2, true, true, ev);
    int ok, full, wl;
    fire(ev, 5, &ok, &full, &wl);
    assert_int_equal(ok, 2); /* pending, with holds */
    assert_int_equal(wl, 3);
    /* Let the holds lapse. */
    rg_rel_conn *c;
    assert_int_equal(rg_rel_acquire(&app.st.rel, &c), 0);
    char sql[256];
    snprintf(sql, sizeof sql,
             "UPDATE event_registrations SET hold_expires_at = '2000-01-01T00:00:00Z' "
             "WHERE event_id = %s AND status = 'pending'",
             ev);
    assert_int_equal(rg_rel_exec_script(&app.st.rel, c, sql), 0);
    rg_rel_release(&app.st.rel, c);
    assert_int_equal(rg_registration_expire_holds(&app), 2);
    json_t *s;
    stats_of(ev, &s);
    assert_int_equal(json_integer_value(json_object_get(s, "pending")), 2); /* moved up */
    assert_int_equal(json_integer_value(json_object_get(s, "waitlisted")), 1);
    assert_int_equal(json_integer_value(json_object_get(s, "cancelled")), 2);
    assert_int_equal(json_integer_value(json_object_get(s, "spotsLeft")), 0);
    json_decref(s);
}

static void age_rules(void **state)
{
    (void)state;
    char ev[32];
    make_event(10, false, false, ev);
    json_t *patch = json_pack("{s:i}", "guardianConsentUnder", 30), *out;
    assert_int_equal(rg_event_patch(&app, RG_AS(&organizer), ev, patch, &out), 0);
    json_decref(patch);
    json_decref(out);
    rg_principal who = {.roles = RG_ROLE_PARTICIPANT};
    memcpy(who.user_id, users[5], sizeof who.user_id);
    /* Born 2001: under 30, so consent is needed. */
    assert_int_equal(rg_registration_create(&app, RG_AS(&who), ev, NULL, &out), RG_EUNPROCESSABLE);
    rg_error_clear();
    json_t *body = json_pack("{s:{s:s, s:s, s:s, s:s}}", "guardianConsent", "guardianName", "Pat Q",
                             "guardianEmail", "pat@example.org", "relationship", "parent",
                             "consentedAt", "2026-01-01T00:00:00Z");
    assert_int_equal(rg_registration_create(&app, RG_AS(&who), ev, body, &out), 0);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(out, "guardianConsent"), "guardianName")),
        "Pat Q");
    json_decref(out);
    json_decref(body);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rush_never_oversells),
        cmocka_unit_test(rush_with_parked_waits),
        cmocka_unit_test(waiting_list_moves_up),
        cmocka_unit_test(larger_maximum_moves_waiting_list_up),
        cmocka_unit_test(expired_holds_free_places),
        cmocka_unit_test(age_rules),
    };
    int failed = cmocka_run_group_tests_name("capacity on sqlite", tests, setup, teardown);
#ifdef RG_WITH_POSTGRES
    char *pg = rg_test_pg_create_db("capacity");
    if (pg) {
        relational_url = pg;
        failed += cmocka_run_group_tests_name("capacity on postgresql", tests, setup, teardown);
        rg_test_pg_drop_db(pg);
    } else {
        printf("SKIPPED relational/postgresql capacity: RG_TEST_PG_URL is not set\n");
    }
#endif
    return failed;
}
