/* Payments over HTTP: paying for a registration (test and manual
 * providers), who may pay, bad input, states that refuse a payment, the
 * Idempotency-Key (replay byte for byte, another body 422, 20 requests at
 * once make one payment) and a user's payment history. Refunds and finance
 * are in test_refunds.c, webhooks in test_webhooks.c. */
#include "support.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static api_payers_fixture F;

static void fixture(void)
{
    payers_fixture_make(&F, "pay");
}

static void pay_confirms_registration(void **state)
{
    (void)state;
    fixture();
    long long ev = paid_event(F.org.access, "25.00", "GBP", 10);
    long long reg = register_ok(F.p[0].access, ev, "pending");
    const char *key = new_key();
    char k[128];
    snprintf(k, sizeof k, "%s", key);
    api_resp *r = pay_key(F.p[0].access, k, pay_body(reg, "card", "test"));
    assert_status(r, 201);
    assert_true(strncmp(r->content_type, "application/json", 16) == 0);
    long long id = jint(r->json, "id");
    assert_true(id > 0);
    assert_non_null(strstr(r->location, fmt("/v1/payments/%lld", id)));
    static const char *const fields[] = {"id",
                                         "userId",
                                         "eventId",
                                         "registrationId",
                                         "amount",
                                         "paymentMethod",
                                         "status",
                                         "provider",
                                         "providerTransactionId",
                                         "paymentDate",
                                         "refundStatus",
                                         "refundAmount",
                                         "refundDate"};
    for (size_t i = 0; i < N_ELEMS(fields); i++)
        if (!json_object_get(r->json, fields[i]))
            fail_msg("the payment has no \"%s\": %s", fields[i], r->body);
    assert_str_eq(jstr(r->json, "userId"), F.p[0].id);
    assert_int_equal(jint(r->json, "eventId"), ev);
    assert_int_equal(jint(r->json, "registrationId"), reg);
    assert_money(r->json, "amount", "25.00", "GBP");
    assert_true(json_is_string(jget(r->json, "amount.amount"))); /* never a float */
    assert_str_eq(jstr(r->json, "paymentMethod"), "card");
    assert_str_eq(jstr(r->json, "status"), "succeeded");
    assert_str_eq(jstr(r->json, "provider"), "test");
    assert_true(strlen(jstr(r->json, "providerTransactionId")) > 10);
    assert_int_equal(strlen(jstr(r->json, "paymentDate")), 20);
    assert_str_eq(jstr(r->json, "refundStatus"), "none");
    assert_true(json_is_null(jget(r->json, "refundAmount")));
    assert_true(json_is_null(jget(r->json, "refundDate")));
    char tx[128];
    snprintf(tx, sizeof tx, "%s", jstr(r->json, "providerTransactionId"));
    resp_free(r);

    /* The registration is confirmed and paid, in the same transaction. */
    json_t *g = registration(reg);
    assert_str_eq(jstr(g, "status"), "confirmed");
    assert_str_eq(jstr(g, "paymentStatus"), "paid");
    assert_int_equal(jint(g, "paymentId"), id);
    assert_true(json_is_null(jget(g, "holdExpiresAt")));
    json_decref(g);
    json_t *s = get_json(fmt("/v1/events/%lld/stats", ev), F.org.access);
    assert_int_equal(jint(s, "confirmed"), 1);
    assert_int_equal(jint(s, "pending"), 0);
    json_decref(s);

    /* Payer, owner and admin see it; nobody else does. */
    const char *who[] = {F.p[0].access, F.org.access, F.admin->access};
    for (size_t i = 0; i < N_ELEMS(who); i++) {
        r = api("GET", fmt("/v1/payments/%lld", id), NULL, who[i]);
        assert_status(r, 200);
        assert_int_equal(jint(r->json, "id"), id);
        assert_str_eq(jstr(r->json, "providerTransactionId"), tx);
        resp_free(r);
    }
    const char *others[] = {F.p[1].access, F.org2.access};
    for (size_t i = 0; i < N_ELEMS(others); i++) {
        r = api("GET", fmt("/v1/payments/%lld", id), NULL, others[i]);
        assert_problem(r, 404);
        resp_free(r);
    }
    r = api("GET", fmt("/v1/payments/%lld", id), NULL, NULL);
    assert_problem(r, 401);
    resp_free(r);
    r = api("GET", "/v1/payments/999999", NULL, F.admin->access);
    assert_problem(r, 404);
    resp_free(r);
    r = api("GET", "/v1/payments/abc", NULL, F.admin->access);
    assert_problem(r, 404);
    resp_free(r);

    /* Paying again, with another key: 409. */
    r = pay_key(F.p[0].access, new_key(), pay_body(reg, "card", "test"));
    assert_problem(r, 409);
    resp_free(r);
}

static void pay_who_may(void **state)
{
    (void)state;
    fixture();
    long long ev = paid_event(F.org.access, "10.00", "GBP", 10);
    long long reg = register_ok(F.p[1].access, ev, "pending");
    char *body = pay_body(reg, "card", "test");
    /* Another participant and another organizer do not see it. */
    api_resp *r = pay_key(F.p[2].access, new_key(), body);
    assert_problem(r, 404);
    resp_free(r);
    r = pay_key(F.org2.access, new_key(), body);
    assert_problem(r, 404);
    resp_free(r);
    r = pay_key(NULL, new_key(), body);
    assert_problem(r, 401);
    resp_free(r);
    /* The owner and an admin do not pay online for someone. */
    r = pay_key(F.org.access, new_key(), body);
    assert_problem(r, 403);
    resp_free(r);
    r = pay_key(F.admin->access, new_key(), body);
    assert_problem(r, 403);
    resp_free(r);
    /* The registrant does not record a manual payment. */
    r = pay_key(F.p[1].access, new_key(), pay_body(reg, "cash", "manual"));
    assert_problem(r, 403);
    resp_free(r);
    r = pay_key(F.org2.access, new_key(), pay_body(reg, "cash", "manual"));
    assert_problem(r, 404);
    resp_free(r);
    json_t *g = registration(reg);
    assert_str_eq(jstr(g, "status"), "pending");
    assert_str_eq(jstr(g, "paymentStatus"), "unpaid");
    json_decref(g);

    /* The owner records cash received: the payer is the registrant. */
    r = pay_key(F.org.access, new_key(), pay_body(reg, "cash", "manual"));
    assert_status(r, 201);
    assert_str_eq(jstr(r->json, "provider"), "manual");
    assert_str_eq(jstr(r->json, "paymentMethod"), "cash");
    assert_str_eq(jstr(r->json, "status"), "succeeded");
    assert_str_eq(jstr(r->json, "userId"), F.p[1].id);
    assert_money(r->json, "amount", "10.00", "GBP");
    long long pid = jint(r->json, "id");
    resp_free(r);
    g = registration(reg);
    assert_str_eq(jstr(g, "status"), "confirmed");
    assert_str_eq(jstr(g, "paymentStatus"), "paid");
    assert_int_equal(jint(g, "paymentId"), pid);
    json_decref(g);
    /* The payer sees it in the history. */
    r = api("GET", fmt("/v1/payments/%lld", pid), NULL, F.p[1].access);
    assert_status(r, 200);
    resp_free(r);

    /* An admin records one for another event's registration. */
    long long ev2 = paid_event(F.org.access, "7.25", "EUR", 10);
    long long reg2 = register_ok(F.p[2].access, ev2, "pending");
    r = pay_key(F.admin->access, new_key(), pay_body(reg2, "bank_transfer", "manual"));
    assert_status(r, 201);
    assert_money(r->json, "amount", "7.25", "EUR");
    assert_str_eq(jstr(r->json, "userId"), F.p[2].id);
    resp_free(r);
}

static void pay_bad_input(void **state)
{
    (void)state;
    fixture();
    long long ev = paid_event(F.org.access, "12.00", "GBP", 10);
    long long reg = register_ok(F.p[3].access, ev, "pending");
    const char *tok = F.p[3].access;
    char good[256];
    snprintf(good, sizeof good, "%s", pay_body(reg, "card", "test"));

    /* No Idempotency-Key, or an unusable one: 400. */
    api_resp *r = pay_key(tok, NULL, good);
    assert_problem(r, 400);
    resp_free(r);
    char longkey[300];
    memset(longkey, 'k', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = '\0';
    r = pay_key(tok, longkey, good);
    assert_problem(r, 400);
    resp_free(r);

    /* Malformed JSON 400; not JSON 415. */
    r = pay_key(tok, new_key(), "{\"registrationId\":");
    assert_problem(r, 400);
    resp_free(r);
    {
        const char *hdrs[] = {"Idempotency-Key: ct-key", NULL};
        api_req rq = {.method = "POST",
                      .path = "/v1/payments",
                      .body = good,
                      .token = tok,
                      .content_type = "text/plain",
                      .headers = hdrs};
        r = api_do(&rq);
        assert_problem(r, 415);
        resp_free(r);
    }

    struct {
        const char *body, *field;
    } bad[] = {
        {"[]", NULL},
        {"{}", "registrationId"},
        {fmt("{\"registrationId\":\"%lld\",\"paymentMethod\":\"card\",\"provider\":\"test\"}", reg),
         "registrationId"},
        {fmt("{\"registrationId\":%lld.5,\"paymentMethod\":\"card\",\"provider\":\"test\"}", reg),
         "registrationId"},
        {fmt("{\"registrationId\":%lld,\"paymentMethod\":42,\"provider\":\"test\"}", reg),
         "paymentMethod"},
        {fmt("{\"registrationId\":%lld,\"paymentMethod\":\"Card Visa\",\"provider\":\"test\"}",
             reg),
         "paymentMethod"},
        {fmt("{\"registrationId\":%lld,\"provider\":\"test\"}", reg), "paymentMethod"},
        {fmt("{\"registrationId\":%lld,\"paymentMethod\":\"card\"}", reg), "provider"},
        {fmt("{\"registrationId\":%lld,\"paymentMethod\":\"card\",\"provider\":\"stripe\"}", reg),
         "provider"},
        {fmt("{\"registrationId\":%lld,\"paymentMethod\":\"card\",\"provider\":\"test\","
             "\"amount\":\"1.00\"}",
             reg),
         "amount"},
        {fmt("{\"registrationId\":%lld,\"paymentMethod\":\"card\",\"provider\":\"test\","
             "\"amount\":12.0}",
             reg),
         "amount"},
        {fmt("{\"registrationId\":%lld,\"paymentMethod\":\"card\",\"provider\":\"test\","
             "\"amount\":{\"amount\":\"1.00\",\"currency\":\"GBP\"}}",
             reg),
         "amount"},
        {fmt("{\"registrationId\":%lld,\"paymentMethod\":\"card\",\"provider\":\"test\","
             "\"currency\":\"USD\"}",
             reg),
         "currency"},
        {fmt("{\"registrationId\":%lld,\"paymentMethod\":\"card\",\"provider\":\"test\","
             "\"simulate\":\"maybe\"}",
             reg),
         "simulate"},
        {fmt("{\"registrationId\":%lld,\"paymentMethod\":\"cash\",\"provider\":\"manual\","
             "\"simulate\":\"pending\"}",
             reg),
         "simulate"},
        {fmt("{\"registrationId\":%lld,\"paymentMethod\":\"card\",\"provider\":\"test\","
             "\"tip\":\"5.00\"}",
             reg),
         "tip"},
    };
    char bodies[N_ELEMS(bad)][400];
    for (size_t i = 0; i < N_ELEMS(bad); i++)
        snprintf(bodies[i], sizeof bodies[i], "%s", bad[i].body);
    for (size_t i = 0; i < N_ELEMS(bad); i++) {
        r = pay_key(tok, "reused-after-422", bodies[i]);
        if (r->status != 422)
            fail_msg("%s -> %ld, want 422: %s", bodies[i], r->status, r->body);
        assert_problem(r, 422);
        if (bad[i].field)
            assert_field_error(r, bad[i].field);
        resp_free(r);
    }
    /* Unknown registration: 404. */
    r = pay_key(tok, new_key(), pay_body(999999, "card", "test"));
    assert_problem(r, 404);
    resp_free(r);
    /* Nothing was paid, and the key refused above is free for a good request. */
    r = api("GET", fmt("/v1/users/%s/payments", F.p[3].id), NULL, tok);
    assert_status(r, 200);
    assert_int_equal(jlen(r->json, "items"), 0);
    resp_free(r);
    r = pay_key(tok, "reused-after-422", good);
    assert_status(r, 201);
    resp_free(r);
}

static void pay_refused_by_state(void **state)
{
    (void)state;
    fixture();
    /* A free event: nothing to pay (422). */
    long long free_ev =
        event_create_published(F.org.access, json_pack("{s:i}", "maxParticipants", 5));
    long long reg = register_ok(F.p[0].access, free_ev, "confirmed");
    api_resp *r = pay_key(F.p[0].access, new_key(), pay_body(reg, "card", "test"));
    assert_problem(r, 422);
    resp_free(r);

    /* A cancelled registration (as when its hold expired): 409. */
    long long ev = paid_event(F.org.access, "5.00", "GBP", 1);
    reg = register_ok(F.p[0].access, ev, "pending");
    r = api("POST", fmt("/v1/registrations/%lld/cancel", reg), NULL, F.p[0].access);
    assert_status(r, 200);
    resp_free(r);
    r = pay_key(F.p[0].access, new_key(), pay_body(reg, "card", "test"));
    assert_problem(r, 409);
    resp_free(r);

    /* A waitlisted one holds no place yet: 409. */
    long long wl = event_create_published(
        F.org.access, json_pack("{s:i, s:b, s:{s:s, s:s}}", "maxParticipants", 1, "waitlistEnabled",
                                1, "cost", "amount", "5.00", "currency", "GBP"));
    long long first = register_ok(F.p[1].access, wl, "pending");
    long long waiting = register_ok(F.p[2].access, wl, "waitlisted");
    r = pay_key(F.p[2].access, new_key(), pay_body(waiting, "card", "test"));
    assert_problem(r, 409);
    resp_free(r);
    /* The first pays; no payment was made for the others. */
    pay_ok(F.p[1].access, first);
    json_t *f = get_json(fmt("/v1/events/%lld/finance", ev), F.org.access);
    assert_int_equal(jint(f, "payments"), 0);
    json_decref(f);
}

static void idempotent_replay(void **state)
{
    (void)state;
    fixture();
    long long ev = paid_event(F.org.access, "19.99", "GBP", 10);
    long long reg = register_ok(F.p[0].access, ev, "pending");
    char key[128], body[256];
    snprintf(key, sizeof key, "%s", new_key());
    snprintf(body, sizeof body, "%s", pay_body(reg, "card", "test"));
    api_resp *first = pay_key(F.p[0].access, key, body);
    assert_status(first, 201);

    /* The same request again: the same answer, byte for byte. */
    struct timespec ts = {1, 100 * 1000 * 1000}; /* a new answer would have other times */
    nanosleep(&ts, NULL);
    api_resp *again = pay_key(F.p[0].access, key, body);
    assert_status(again, 201);
    assert_int_equal(again->len, first->len);
    assert_memory_equal(again->body, first->body, first->len);
    assert_str_eq(again->location, first->location);
    resp_free(again);
    /* The same body written differently (key order, spaces) is the same request. */
    char reordered[256];
    snprintf(reordered, sizeof reordered,
             "{ \"provider\": \"test\", \"paymentMethod\": \"card\", \"registrationId\": %lld }",
             reg);
    again = pay_key(F.p[0].access, key, reordered);
    assert_status(again, 201);
    assert_str_eq(again->body, first->body);
    resp_free(again);

    /* The key with another body: 422, nothing changes. */
    api_resp *r = pay_key(F.p[0].access, key, pay_body(reg, "paypal", "test"));
    assert_problem(r, 422);
    resp_free(r);
    r = pay_key(F.p[0].access, key, pay_body(reg + 1000, "card", "test"));
    assert_problem(r, 422);
    resp_free(r);

    /* Keys belong to their user: another person's key does not collide. */
    long long reg1 = register_ok(F.p[1].access, ev, "pending");
    r = pay_key(F.p[1].access, key, pay_body(reg1, "card", "test"));
    assert_status(r, 201);
    assert_int_not_equal(jint(r->json, "id"), jint(first->json, "id"));
    resp_free(r);

    r = api("GET", fmt("/v1/users/%s/payments", F.p[0].id), NULL, F.p[0].access);
    assert_status(r, 200);
    long long n = 0;
    for (size_t i = 0; i < jlen(r->json, "items"); i++)
        n += jint(r->json, fmt("items.%zu.eventId", i)) == ev;
    assert_int_equal(n, 1);
    resp_free(r);
    resp_free(first);
}

static void concurrent_same_key(void **state)
{
    (void)state;
    fixture();
    long long ev = paid_event(F.org.access, "42.10", "GBP", 10);
    long long reg = register_ok(F.p[2].access, ev, "pending");
    enum { N = 20 };
    char key[128], header[160], body[256];
    snprintf(key, sizeof key, "%s", new_key());
    snprintf(header, sizeof header, "Idempotency-Key: %s", key);
    snprintf(body, sizeof body, "%s", pay_body(reg, "card", "test"));
    const char *hdrs[] = {header, NULL};
    api_req reqs[N];
    api_resp *out[N];
    for (int i = 0; i < N; i++)
        reqs[i] = (api_req){.method = "POST",
                            .path = "/v1/payments",
                            .body = body,
                            .token = F.p[2].access,
                            .headers = hdrs};
    api_parallel_threads(N, reqs, out);
    for (int i = 0; i < N; i++) {
        if (out[i]->status != 201)
            fail_msg("request %d -> %ld: %s", i, out[i]->status, out[i]->body);
        assert_str_eq(out[i]->body, out[0]->body);
    }
    long long pid = jint(out[0]->json, "id");
    for (int i = 0; i < N; i++)
        resp_free(out[i]);
    /* Exactly one payment. */
    json_t *f = get_json(fmt("/v1/events/%lld/finance", ev), F.org.access);
    assert_int_equal(jint(f, "payments"), 1);
    assert_str_eq(jstr(f, "totals.GBP.gross"), "42.10");
    json_decref(f);
    json_t *g = registration(reg);
    assert_int_equal(jint(g, "paymentId"), pid);
    json_decref(g);

    /* Twenty different keys for one registration: one payment, the rest 409. */
    long long reg2 = register_ok(F.p[3].access, ev, "pending");
    char headers[N][160];
    const char *hd[N][2];
    snprintf(body, sizeof body, "%s", pay_body(reg2, "card", "test"));
    for (int i = 0; i < N; i++) {
        snprintf(headers[i], sizeof headers[i], "Idempotency-Key: %s-%d", key, i);
        hd[i][0] = headers[i];
        hd[i][1] = NULL;
        reqs[i] = (api_req){.method = "POST",
                            .path = "/v1/payments",
                            .body = body,
                            .token = F.p[3].access,
                            .headers = hd[i]};
    }
    api_parallel_threads(N, reqs, out);
    int created = 0;
    for (int i = 0; i < N; i++) {
        if (out[i]->status == 201)
            created++;
        else if (out[i]->status != 409)
            fail_msg("request %d -> %ld: %s", i, out[i]->status, out[i]->body);
        resp_free(out[i]);
    }
    assert_int_equal(created, 1);
    f = get_json(fmt("/v1/events/%lld/finance", ev), F.org.access);
    assert_int_equal(jint(f, "payments"), 2);
    assert_str_eq(jstr(f, "totals.GBP.gross"), "84.20");
    json_decref(f);
}

static void user_payment_history(void **state)
{
    (void)state;
    fixture();
    api_user u;
    user_signup(&u, "history");
    long long ids[3];
    for (int i = 0; i < 3; i++) {
        long long ev = paid_event(F.org.access, i == 1 ? "3.50" : "8.00", "GBP", 5);
        ids[i] = pay_ok(u.access, register_ok(u.access, ev, "pending"));
    }
    api_resp *r = api("GET", fmt("/v1/users/%s/payments?limit=2", u.id), NULL, u.access);
    assert_status(r, 200);
    assert_int_equal(jlen(r->json, "items"), 2);
    assert_int_equal(jint(r->json, "items.0.id"), ids[2]); /* newest first */
    assert_int_equal(jint(r->json, "items.1.id"), ids[1]);
    assert_money(r->json, "items.1.amount", "3.50", "GBP");
    assert_str_eq(jstr(r->json, "items.0.userId"), u.id);
    const char *next = jstr(r->json, "nextCursor");
    assert_non_null(next);
    char cursor[128];
    snprintf(cursor, sizeof cursor, "%s", next);
    resp_free(r);
    r = api("GET", fmt("/v1/users/%s/payments?limit=2&cursor=%s", u.id, urlenc(cursor)), NULL,
            u.access);
    assert_status(r, 200);
    assert_int_equal(jlen(r->json, "items"), 1);
    assert_int_equal(jint(r->json, "items.0.id"), ids[0]);
    assert_true(json_is_null(jget(r->json, "nextCursor")));
    resp_free(r);
    r = api("GET", fmt("/v1/users/%s/payments", u.id), NULL, F.admin->access);
    assert_status(r, 200);
    assert_int_equal(jlen(r->json, "items"), 3);
    resp_free(r);

    /* Nobody else; bad parameters 400. */
    r = api("GET", fmt("/v1/users/%s/payments", u.id), NULL, F.p[0].access);
    assert_status2(r, 403, 404);
    assert_problem(r, r->status);
    resp_free(r);
    r = api("GET", fmt("/v1/users/%s/payments", u.id), NULL, F.org.access);
    assert_status2(r, 403, 404);
    resp_free(r);
    r = api("GET", fmt("/v1/users/%s/payments", u.id), NULL, NULL);
    assert_problem(r, 401);
    resp_free(r);
    r = api("GET", fmt("/v1/users/%s/payments?limit=0", u.id), NULL, u.access);
    assert_problem(r, 400);
    resp_free(r);
    r = api("GET", fmt("/v1/users/%s/payments?cursor=%%21%%21", u.id), NULL, u.access);
    assert_problem(r, 400);
    resp_free(r);
    r = api("GET", "/v1/users/not-an-id/payments", NULL, F.admin->access);
    assert_problem(r, 404);
    resp_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pay_confirms_registration),
        cmocka_unit_test(pay_who_may),
        cmocka_unit_test(pay_bad_input),
        cmocka_unit_test(pay_refused_by_state),
        cmocka_unit_test(idempotent_replay),
        cmocka_unit_test(concurrent_same_key),
        cmocka_unit_test(user_payment_history),
    };
    return cmocka_run_group_tests(tests, api_setup, api_teardown);
}
