/* Refunds and finance over HTTP: partial and full refunds, never more than
 * was paid (also with 10 refunds at once), who may refund, and an event's
 * finance (totals by currency and status). */
#include "support.h"

#include <stdlib.h>
#include <string.h>

static api_payers_fixture F;

static void fixture(void)
{
    payers_fixture_make(&F, "ref");
}

static api_resp *refund(long long pid, const char *body, const char *token)
{
    return api("POST", fmt("/v1/payments/%lld/refund", pid), body, token);
}

static void refunds(void **state)
{
    (void)state;
    fixture();
    long long ev = paid_event(F.org.access, "25.00", "GBP", 10);
    long long reg = register_ok(F.p[2].access, ev, "pending");
    long long pid = pay_ok(F.p[2].access, reg);

    /* Who: the owner and admins; the payer 403; others 404; anonymous 401. */
    api_resp *r = refund(pid, "{\"amount\":\"1.00\"}", F.p[2].access);
    assert_problem(r, 403);
    resp_free(r);
    r = refund(pid, "{\"amount\":\"1.00\"}", F.p[0].access);
    assert_problem(r, 404);
    resp_free(r);
    r = refund(pid, "{\"amount\":\"1.00\"}", F.org2.access);
    assert_problem(r, 404);
    resp_free(r);
    r = refund(pid, "{\"amount\":\"1.00\"}", NULL);
    assert_problem(r, 401);
    resp_free(r);
    r = refund(999999, "{\"amount\":\"1.00\"}", F.admin->access);
    assert_problem(r, 404);
    resp_free(r);

    /* Bad input: 422 (400 for malformed JSON). */
    const char *bad[] = {"{\"amount\":10}",       "{\"amount\":10.5}",   "{\"amount\":\"abc\"}",
                         "{\"amount\":\"0.00\"}", "{\"amount\":\"-1\"}", "{\"amount\":\"1.001\"}",
                         "{\"reason\":42}",       "{\"extra\":true}",    "[]"};
    for (size_t i = 0; i < N_ELEMS(bad); i++) {
        r = refund(pid, bad[i], F.org.access);
        if (r->status != 422)
            fail_msg("%s -> %ld, want 422: %s", bad[i], r->status, r->body);
        assert_problem(r, 422);
        resp_free(r);
    }
    r = refund(pid, "{\"amount\":", F.org.access);
    assert_problem(r, 400);
    resp_free(r);
    /* More than was paid: refused. */
    r = refund(pid, "{\"amount\":\"25.01\"}", F.org.access);
    assert_problem(r, 422);
    assert_field_error(r, "amount");
    resp_free(r);

    /* Partial by the owner. */
    r = refund(pid, "{\"amount\":\"10.00\",\"reason\":\"left early\"}", F.org.access);
    assert_status(r, 200);
    assert_str_eq(jstr(r->json, "refundStatus"), "partial");
    assert_money(r->json, "refundAmount", "10.00", "GBP");
    assert_money(r->json, "amount", "25.00", "GBP");
    assert_int_equal(strlen(jstr(r->json, "refundDate")), 20);
    assert_str_eq(jstr(r->json, "status"), "succeeded");
    resp_free(r);
    json_t *g = registration(reg);
    assert_str_eq(jstr(g, "paymentStatus"), "partially_refunded");
    json_decref(g);
    r = refund(pid, "{\"amount\":\"15.01\"}", F.org.access);
    assert_problem(r, 422);
    resp_free(r);

    /* With an Idempotency-Key a retried refund is not refunded twice. */
    const char *hdrs[] = {"Idempotency-Key: refund-once", NULL};
    api_req rq = {.method = "POST",
                  .path = fmt("/v1/payments/%lld/refund", pid),
                  .body = "{\"amount\":\"5.00\"}",
                  .token = F.admin->access,
                  .headers = hdrs};
    char path[64];
    snprintf(path, sizeof path, "%s", rq.path);
    rq.path = path;
    api_resp *a = api_do(&rq);
    assert_status(a, 200);
    api_resp *b = api_do(&rq);
    assert_status(b, 200);
    assert_str_eq(a->body, b->body);
    assert_money(b->json, "refundAmount", "15.00", "GBP");
    resp_free(a);
    resp_free(b);
    rq.body = "{\"amount\":\"6.00\"}";
    r = api_do(&rq);
    assert_problem(r, 422);
    resp_free(r);

    /* The rest, by an admin, without a body: full. */
    r = refund(pid, NULL, F.admin->access);
    assert_status(r, 200);
    assert_str_eq(jstr(r->json, "refundStatus"), "full");
    assert_money(r->json, "refundAmount", "25.00", "GBP");
    resp_free(r);
    g = registration(reg);
    assert_str_eq(jstr(g, "paymentStatus"), "refunded");
    json_decref(g);
    r = refund(pid, "{\"amount\":\"0.01\"}", F.org.access);
    assert_problem(r, 422);
    resp_free(r);
    r = refund(pid, NULL, F.org.access);
    assert_problem(r, 422);
    resp_free(r);

    /* A pending payment cannot be refunded. */
    long long reg2 = register_ok(F.p[3].access, ev, "pending");
    r = pay_key(F.p[3].access, new_key(),
                fmt("{\"registrationId\":%lld,\"paymentMethod\":\"card\","
                    "\"provider\":\"test\",\"simulate\":\"pending\"}",
                    reg2));
    assert_status(r, 201);
    long long pending = jint(r->json, "id");
    resp_free(r);
    r = refund(pending, NULL, F.org.access);
    assert_problem(r, 409);
    resp_free(r);
}

static void concurrent_refunds(void **state)
{
    (void)state;
    fixture();
    long long ev = paid_event(F.org.access, "25.00", "GBP", 10);
    long long reg = register_ok(F.p[1].access, ev, "pending");
    long long pid = pay_ok(F.p[1].access, reg);
    enum { N = 10 };
    char path[64];
    snprintf(path, sizeof path, "/v1/payments/%lld/refund", pid);
    api_req reqs[N];
    api_resp *out[N];
    for (int i = 0; i < N; i++)
        reqs[i] = (api_req){.method = "POST",
                            .path = path,
                            .body = "{\"amount\":\"3.00\"}",
                            .token = i % 2 ? F.org.access : F.admin->access};
    api_parallel_threads(N, reqs, out);
    int ok = 0;
    for (int i = 0; i < N; i++) {
        if (out[i]->status == 200)
            ok++;
        else if (out[i]->status != 422)
            fail_msg("refund %d -> %ld: %s", i, out[i]->status, out[i]->body);
        resp_free(out[i]);
    }
    /* 8 × 3.00 fit in 25.00; a ninth would not. */
    assert_int_equal(ok, 8);
    json_t *p = payment(pid);
    assert_money(p, "refundAmount", "24.00", "GBP");
    assert_str_eq(jstr(p, "refundStatus"), "partial");
    json_decref(p);

    /* Ten full refunds at once: one succeeds. */
    long long reg2 = register_ok(F.p[2].access, ev, "pending");
    long long pid2 = pay_ok(F.p[2].access, reg2);
    snprintf(path, sizeof path, "/v1/payments/%lld/refund", pid2);
    for (int i = 0; i < N; i++)
        reqs[i] = (api_req){.method = "POST", .path = path, .token = F.org.access};
    api_parallel_threads(N, reqs, out);
    ok = 0;
    for (int i = 0; i < N; i++) {
        if (out[i]->status == 200)
            ok++;
        else if (out[i]->status != 422)
            fail_msg("refund %d -> %ld: %s", i, out[i]->status, out[i]->body);
        resp_free(out[i]);
    }
    assert_int_equal(ok, 1);
    json_t *f = get_json(fmt("/v1/events/%lld/finance", ev), F.org.access);
    assert_str_eq(jstr(f, "totals.GBP.gross"), "50.00");
    assert_str_eq(jstr(f, "totals.GBP.refunded"), "49.00");
    assert_str_eq(jstr(f, "totals.GBP.net"), "1.00");
    json_decref(f);
}

static void finance(void **state)
{
    (void)state;
    fixture();
    long long ev = paid_event(F.org.access, "19.99", "GBP", 10);
    long long r0 = register_ok(F.p[0].access, ev, "pending");
    long long r1 = register_ok(F.p[1].access, ev, "pending");
    long long r2 = register_ok(F.p[2].access, ev, "pending");
    long long r3 = register_ok(F.p[3].access, ev, "pending");
    long long p0 = pay_ok(F.p[0].access, r0);
    pay_ok(F.p[1].access, r1);
    api_resp *r = pay_key(F.org.access, new_key(), pay_body(r2, "cash", "manual"));
    assert_status(r, 201);
    resp_free(r);
    r = pay_key(F.p[3].access, new_key(),
                fmt("{\"registrationId\":%lld,\"paymentMethod\":\"card\","
                    "\"provider\":\"test\",\"simulate\":\"pending\"}",
                    r3));
    assert_status(r, 201);
    resp_free(r);
    r = refund(p0, "{\"amount\":\"5.33\"}", F.org.access);
    assert_status(r, 200);
    resp_free(r);

    r = api("GET", fmt("/v1/events/%lld/finance", ev), NULL, F.org.access);
    assert_status(r, 200);
    json_t *f = r->json;
    assert_int_equal(jint(f, "eventId"), ev);
    /* Exact: 3 × 19.99 = 59.97, less 5.33. */
    assert_str_eq(jstr(f, "totals.GBP.gross"), "59.97");
    assert_str_eq(jstr(f, "totals.GBP.refunded"), "5.33");
    assert_str_eq(jstr(f, "totals.GBP.net"), "54.64");
    assert_int_equal(jint(f, "payments"), 4);
    assert_int_equal(jint(f, "byStatus.succeeded"), 3);
    assert_int_equal(jint(f, "byStatus.pending"), 1);
    assert_int_equal(jint(f, "byStatus.failed"), 0);
    assert_int_equal(jint(f, "byMethod.card"), 3);
    assert_int_equal(jint(f, "byMethod.cash"), 1);
    assert_int_equal(jint(f, "byRefundStatus.partial"), 1);
    resp_free(r);

    /* A new price in another currency: one total per currency. */
    r = api("PATCH", fmt("/v1/events/%lld", ev),
            "{\"cost\":{\"amount\":\"10.50\",\"currency\":\"EUR\"},\"maxParticipants\":11}",
            F.org.access);
    assert_status(r, 200);
    resp_free(r);
    api_user u;
    user_signup(&u, "eurpayer");
    long long r4 = register_ok(u.access, ev, "pending");
    r = pay_key(u.access, new_key(), pay_body(r4, "card", "test"));
    assert_status(r, 201);
    assert_money(r->json, "amount", "10.50", "EUR");
    resp_free(r);
    json_t *g = get_json(fmt("/v1/events/%lld/finance", ev), F.admin->access);
    assert_str_eq(jstr(g, "totals.GBP.gross"), "59.97");
    assert_str_eq(jstr(g, "totals.EUR.gross"), "10.50");
    assert_str_eq(jstr(g, "totals.EUR.refunded"), "0.00");
    assert_str_eq(jstr(g, "totals.EUR.net"), "10.50");
    json_decref(g);

    /* Who: owner and admin only. */
    r = api("GET", fmt("/v1/events/%lld/finance", ev), NULL, F.p[0].access);
    assert_problem(r, 403);
    resp_free(r);
    r = api("GET", fmt("/v1/events/%lld/finance", ev), NULL, F.org2.access);
    assert_problem(r, 403);
    resp_free(r);
    r = api("GET", fmt("/v1/events/%lld/finance", ev), NULL, NULL);
    assert_problem(r, 401);
    resp_free(r);
    r = api("GET", "/v1/events/999999/finance", NULL, F.admin->access);
    assert_problem(r, 404);
    resp_free(r);
    long long draft = event_create(F.org.access, NULL);
    r = api("GET", fmt("/v1/events/%lld/finance", draft), NULL, F.p[0].access);
    assert_problem(r, 404);
    resp_free(r);
    r = api("GET", fmt("/v1/events/%lld/finance", draft), NULL, F.org.access);
    assert_status(r, 200);
    assert_int_equal(jint(r->json, "payments"), 0);
    assert_int_equal(json_object_size(jget(r->json, "totals")), 0);
    resp_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(refunds),
        cmocka_unit_test(concurrent_refunds),
        cmocka_unit_test(finance),
    };
    return cmocka_run_group_tests(tests, api_setup, api_teardown);
}
