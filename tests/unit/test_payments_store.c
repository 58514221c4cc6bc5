/* Payments at the domain level on real stores (SQLite, then PostgreSQL when
 * the private server runs): what the black-box suite cannot reach without
 * waiting for a hold to lapse, and refunds racing on real threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "domain.h"
#include "payment_record.h"
#include "pgtest.h"
#include "testcfg.h"
#include "tmpdir.h"
#include "risinggen/base/clock.h"
#include "risinggen/base/id.h"
#include "risinggen/base/error.h"

#define USERS  8
#define SECRET "whsec-store-test"

static rg_app app;
static char dir[512];
static char users[USERS][RG_OID_LEN + 1];
static rg_principal organizer;
static const char *relational_url; /* NULL: SQLite in dir */

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
    if (rg_config_set(&cfg, "RG_PAYMENTS_WEBHOOK_SECRET", SECRET) < 0)
        return -1;
    if (rg_app_open(&app, &cfg, true) < 0)
        return -1;
    const char *hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNo";
    for (int i = 0; i < USERS; i++) {
        char email[64];
        snprintf(email, sizeof email, "pay%d@example.org", i);
        json_t *doc = json_pack("{s:s, s:s, s:s, s:[s]}", "email", email, "firstName", "P",
                                "lastName", "Q", "roles", "participant");
        users[i][0] = '\0';
        int rc = rg_auth_insert_user(&app, doc, hash, users[i]);
        json_decref(doc);
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

static rg_principal person(int i)
{
    rg_principal p = {.roles = RG_ROLE_PARTICIPANT};
    memcpy(p.user_id, users[i], sizeof p.user_id);
    return p;
}

/* A published event costing 25.00 GBP; its id as text in out. */
static void make_event(char out[32])
{
    static int n;
    char slug[64];
    snprintf(slug, sizeof slug, "paid-%d", ++n);
    json_t *body = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:{s:s, s:s}}", "title", "Paid",
                             "slug", slug, "startDate", "2030-06-01T09:00:00Z", "endDate",
                             "2030-06-02T17:00:00Z", "type", "conference", "maxParticipants", 10,
                             "cost", "amount", "25.00", "currency", "GBP");
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

static long long register_pending(const char *ev, int user)
{
    rg_principal who = person(user);
    json_t *out;
    assert_int_equal(rg_registration_create(&app, RG_AS(&who), ev, NULL, &out), 0);
    assert_string_equal(json_string_value(json_object_get(out, "status")), "pending");
    long long id = json_integer_value(json_object_get(out, "id"));
    json_decref(out);
    return id;
}

static int pay(int user, long long reg, const char *key, bool pending, json_t **out)
{
    rg_principal who = person(user);
    json_t *body = json_pack("{s:I, s:s, s:s}", "registrationId", (json_int_t)reg, "paymentMethod",
                             "card", "provider", "test");
    if (pending)
        json_object_set_new(body, "simulate", json_string("pending"));
    rg_saved_reply saved;
    int rc = rg_payment_create(&app, RG_AS(&who), key, body, &saved);
    json_decref(body);
    *out = NULL;
    if (rc == 0) {
        *out = json_loads(saved.body, 0, NULL);
        free(saved.body);
    }
    rg_error_clear();
    return rc;
}

static void lapse_holds(const char *ev)
{
    rg_rel_conn *c;
    assert_int_equal(rg_rel_acquire(&app.st.rel, &c), 0);
    char sql[256];
    snprintf(sql, sizeof sql,
             "UPDATE event_registrations SET hold_expires_at = '2000-01-01T00:00:00Z' "
             "WHERE event_id = %s AND status = 'pending'",
             ev);
    assert_int_equal(rg_rel_exec_script(&app.st.rel, c, sql), 0);
    rg_rel_release(&app.st.rel, c);
}

static json_t *registration(long long id)
{
    char s[32];
    snprintf(s, sizeof s, "%lld", id);
    json_t *out;
    assert_int_equal(rg_registration_get(&app, RG_AS(&organizer), s, &out), 0);
    return out;
}

static const char *str(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void lapsed_hold_cannot_be_paid(void **state)
{
    (void)state;
    char ev[32];
    make_event(ev);
    long long reg = register_pending(ev, 1);
    lapse_holds(ev);
    json_t *out;
    /* Lapsed but not yet expired, then cancelled by the hold-expiry job: 409 both times. */
    assert_int_equal(pay(1, reg, "lapsed-1", false, &out), RG_ECONFLICT);
    assert_true(rg_registration_expire_holds(&app) >= 1);
    json_t *r = registration(reg);
    assert_string_equal(str(r, "status"), "cancelled");
    json_decref(r);
    assert_int_equal(pay(1, reg, "lapsed-2", false, &out), RG_ECONFLICT);
    rg_principal who = person(1);
    json_t *list;
    assert_int_equal(rg_user_payments(&app, RG_AS(&who), users[1], NULL, 20, &list), 0);
    assert_int_equal(json_array_size(json_object_get(list, "items")), 0);
    json_decref(list);
}

static void late_success_is_kept_for_refund(void **state)
{
    (void)state;
    char ev[32];
    make_event(ev);
    long long reg = register_pending(ev, 2);
    json_t *p;
    assert_int_equal(pay(2, reg, "late-1", true, &p), 0);
    assert_string_equal(str(p, "status"), "pending");
    long long pid = json_integer_value(json_object_get(p, "id"));
    char tx[128];
    snprintf(tx, sizeof tx, "%s", str(p, "providerTransactionId"));
    json_decref(p);
    lapse_holds(ev);
    assert_true(rg_registration_expire_holds(&app) >= 1);

    char body[256], sig[RG_SHA256_HEX + 1], header[160];
    snprintf(body, sizeof body,
             "{\"id\":\"evt-late-%lld\",\"type\":\"payment.succeeded\","
             "\"data\":{\"providerTransactionId\":\"%s\"}}",
             pid, tx);
    int64_t t = rg_now();
    rg__webhook_sign(SECRET, t, body, strlen(body), sig);
    snprintf(header, sizeof header, "t=%lld,v1=%s", (long long)t, sig);
    json_t *parsed = json_loads(body, 0, NULL), *out;
    assert_int_equal(rg_payment_webhook(&app, "test", header, body, strlen(body), parsed, &out), 0);
    assert_string_equal(str(out, "status"), "succeeded");
    json_decref(out);
    /* Again: a duplicate, nothing changes. */
    assert_int_equal(rg_payment_webhook(&app, "test", header, body, strlen(body), parsed, &out), 0);
    assert_true(json_is_true(json_object_get(out, "duplicate")));
    json_decref(out);
    json_decref(parsed);

    json_t *r = registration(reg);
    assert_string_equal(str(r, "status"), "cancelled");
    assert_string_equal(str(r, "paymentStatus"), "paid");
    assert_int_equal(json_integer_value(json_object_get(r, "paymentId")), pid);
    json_decref(r);
    /* The organizer gives it back in full. */
    char ps[32];
    snprintf(ps, sizeof ps, "%lld", pid);
    rg_saved_reply saved;
    assert_int_equal(rg_payment_refund(&app, RG_AS(&organizer), ps, NULL, NULL, &saved), 0);
    json_t *after = json_loads(saved.body, 0, NULL);
    free(saved.body);
    assert_string_equal(str(after, "refundStatus"), "full");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(after, "refundAmount"), "amount")),
        "25.00");
    json_decref(after);
}

struct refunder {
    pthread_barrier_t *go;
    const char *payment;
    int rc;
};

static void *refund_one(void *arg)
{
    struct refunder *r = arg;
    json_t *body = json_pack("{s:s}", "amount", "2.00");
    pthread_barrier_wait(r->go);
    rg_saved_reply saved;
    r->rc = rg_payment_refund(&app, RG_AS(&organizer), r->payment, NULL, body, &saved);
    if (r->rc == 0)
        free(saved.body);
    json_decref(body);
    rg_error_clear();
    return NULL;
}

static void refunds_race_on_threads(void **state)
{
    (void)state;
    char ev[32];
    make_event(ev);
    long long reg = register_pending(ev, 3);
    json_t *p;
    assert_int_equal(pay(3, reg, "race-1", false, &p), 0);
    char ps[32];
    snprintf(ps, sizeof ps, "%lld", (long long)json_integer_value(json_object_get(p, "id")));
    json_decref(p);
    enum { N = 16 };
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, N);
    pthread_t t[N];
    struct refunder r[N];
    for (int i = 0; i < N; i++) {
        r[i] = (struct refunder){.go = &go, .payment = ps};
        assert_int_equal(pthread_create(&t[i], NULL, refund_one, &r[i]), 0);
    }
    int ok = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        if (r[i].rc == 0)
            ok++;
        else if (r[i].rc != RG_EUNPROCESSABLE)
            fail_msg("refund %d: %s", i, rg_error_name(r[i].rc));
    }
    pthread_barrier_destroy(&go);
    assert_int_equal(ok, 12); /* 12 × 2.00 ≤ 25.00 < 13 × 2.00 */
    json_t *f;
    assert_int_equal(rg_event_finance(&app, RG_AS(&organizer), ev, &f), 0);
    json_t *gbp = json_object_get(json_object_get(f, "totals"), "GBP");
    assert_string_equal(str(gbp, "gross"), "25.00");
    assert_string_equal(str(gbp, "refunded"), "24.00");
    assert_string_equal(str(gbp, "net"), "1.00");
    json_decref(f);
    json_t *reg_view = registration(reg);
    assert_string_equal(str(reg_view, "paymentStatus"), "partially_refunded");
    json_decref(reg_view);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lapsed_hold_cannot_be_paid),
        cmocka_unit_test(late_success_is_kept_for_refund),
        cmocka_unit_test(refunds_race_on_threads),
    };
    int failed = cmocka_run_group_tests_name("payments on sqlite", tests, setup, teardown);
#ifdef RG_WITH_POSTGRES
    char *pg = rg_test_pg_create_db("payments");
    if (pg) {
        relational_url = pg;
        failed += cmocka_run_group_tests_name("payments on postgresql", tests, setup, teardown);
        rg_test_pg_drop_db(pg);
    } else {
        printf("SKIPPED relational/postgresql payments: RG_TEST_PG_URL is not set\n");
    }
#endif
    return failed;
}
