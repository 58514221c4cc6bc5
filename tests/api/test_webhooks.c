/* Payment webhooks over HTTP: signed events (good, bad, old, replayed)
 * that settle a pending payment, and a server without a webhook secret that
 * refuses them all. */
#include "support.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SECRET "whsec-test-payments-0123456789"

static api_payers_fixture F;

static void fixture(void)
{
    payers_fixture_make(&F, "hook");
}

static void sign(const char *secret, long long t, const char *body, char out[65])
{
    char ts[24];
    snprintf(ts, sizeof ts, "%lld", t);
    crypto_auth_hmacsha256_state st;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)ts, strlen(ts));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, strlen(body));
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_bin2hex(out, 65, mac, sizeof mac);
}

/* POST /v1/webhooks/payments/provider with header (NULL: none). */
static api_resp *webhook_raw(const char *provider, const char *body, const char *header)
{
    char h[400];
    snprintf(h, sizeof h, "X-RisingGen-Signature: %s", header ? header : "");
    const char *hdrs[] = {h, NULL};
    api_req rq = {.method = "POST",
                  .path = fmt("/v1/webhooks/payments/%s", provider),
                  .body = body,
                  .headers = header ? hdrs : NULL};
    return api_do(&rq);
}

/* Signed with secret at now + skew seconds. */
static api_resp *webhook(const char *provider, const char *body, const char *secret, long skew)
{
    long long t = (long long)time(NULL) + skew;
    char sig[65], header[160];
    sign(secret, t, body, sig);
    snprintf(header, sizeof header, "t=%lld,v1=%s", t, sig);
    return webhook_raw(provider, body, header);
}

static const char *event_body(const char *id, const char *type, const char *tx)
{
    return fmt("{\"id\":\"%s\",\"type\":\"%s\",\"data\":{\"providerTransactionId\":\"%s\"}}", id,
               type, tx);
}

static void webhooks(void **state)
{
    (void)state;
    fixture();
    long long ev = paid_event(F.org.access, "30.00", "GBP", 10);
    long long reg = register_ok(F.p[0].access, ev, "pending");
    api_resp *r = pay_key(F.p[0].access, new_key(),
                          fmt("{\"registrationId\":%lld,\"paymentMethod\":\"card\","
                              "\"provider\":\"test\",\"simulate\":\"pending\"}",
                              reg));
    assert_status(r, 201);
    assert_str_eq(jstr(r->json, "status"), "pending");
    assert_true(json_is_null(jget(r->json, "paymentDate")));
    long long pid = jint(r->json, "id");
    char tx[128];
    snprintf(tx, sizeof tx, "%s", jstr(r->json, "providerTransactionId"));
    resp_free(r);
    json_t *g = registration(reg);
    assert_str_eq(jstr(g, "status"), "pending");
    assert_str_eq(jstr(g, "paymentStatus"), "unpaid");
    json_decref(g);
    /* A second payment while one is pending: 409. */
    r = pay_key(F.p[0].access, new_key(), pay_body(reg, "card", "test"));
    assert_problem(r, 409);
    resp_free(r);

    char evt[64];
    snprintf(evt, sizeof evt, "evt-%d-%lld", (int)getpid(), pid);
    char body[300];
    snprintf(body, sizeof body, "%s", event_body(evt, "payment.succeeded", tx));

    /* Refused with 400: no signature, another secret, malformed, too old,
     * from the future, a body changed after signing. */
    r = webhook_raw("test", body, NULL);
    assert_problem(r, 400);
    resp_free(r);
    r = webhook("test", body, "not-the-secret", 0);
    assert_problem(r, 400);
    resp_free(r);
    r = webhook_raw("test", body, "v1=abc");
    assert_problem(r, 400);
    resp_free(r);
    r = webhook_raw("test", body, "t=notanumber,v1=00");
    assert_problem(r, 400);
    resp_free(r);
    r = webhook("test", body, SECRET, -301);
    assert_problem(r, 400);
    resp_free(r);
    r = webhook("test", body, SECRET, -3600);
    assert_problem(r, 400);
    resp_free(r);
    r = webhook("test", body, SECRET, 400);
    assert_problem(r, 400);
    resp_free(r);
    {
        long long t = (long long)time(NULL);
        char sig[65], header[160], tampered[300];
        sign(SECRET, t, body, sig);
        snprintf(header, sizeof header, "t=%lld,v1=%s", t, sig);
        snprintf(tampered, sizeof tampered, "%s", event_body(evt, "payment.failed", tx));
        r = webhook_raw("test", tampered, header);
        assert_problem(r, 400);
        resp_free(r);
        /* The signed timestamp is part of what is signed. */
        snprintf(header, sizeof header, "t=%lld,v1=%s", t + 1, sig);
        r = webhook_raw("test", body, header);
        assert_problem(r, 400);
        resp_free(r);
    }
    /* None of those changed anything. */
    json_t *p = payment(pid);
    assert_str_eq(jstr(p, "status"), "pending");
    json_decref(p);
    /* Providers without webhooks, or unknown ones: 404. */
    r = webhook("manual", body, SECRET, 0);
    assert_problem(r, 404);
    resp_free(r);
    r = webhook("stripe", body, SECRET, 0);
    assert_problem(r, 404);
    resp_free(r);

    /* A good one: the payment succeeds and confirms the registration. */
    r = webhook("test", body, SECRET, -60);
    assert_status(r, 200);
    assert_true(json_is_true(jget(r->json, "received")));
    assert_true(json_is_false(jget(r->json, "duplicate")));
    assert_int_equal(jint(r->json, "paymentId"), pid);
    assert_str_eq(jstr(r->json, "status"), "succeeded");
    resp_free(r);
    p = payment(pid);
    assert_str_eq(jstr(p, "status"), "succeeded");
    assert_int_equal(strlen(jstr(p, "paymentDate")), 20);
    char updated[40];
    snprintf(updated, sizeof updated, "%s", jstr(p, "updatedAt"));
    json_decref(p);
    g = registration(reg);
    assert_str_eq(jstr(g, "status"), "confirmed");
    assert_str_eq(jstr(g, "paymentStatus"), "paid");
    assert_int_equal(jint(g, "paymentId"), pid);
    assert_true(json_is_null(jget(g, "holdExpiresAt")));
    json_decref(g);

    /* The same event again (a replay, signed anew): 200, nothing changes. */
    struct timespec ts = {1, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
    r = webhook("test", body, SECRET, 0);
    assert_status(r, 200);
    assert_true(json_is_true(jget(r->json, "duplicate")));
    resp_free(r);
    /* A later failure for a succeeded payment changes nothing either. */
    char evt2[80];
    snprintf(evt2, sizeof evt2, "%s-late", evt);
    r = webhook("test", event_body(evt2, "payment.failed", tx), SECRET, 0);
    assert_status(r, 200);
    assert_str_eq(jstr(r->json, "status"), "succeeded");
    resp_free(r);
    p = payment(pid);
    assert_str_eq(jstr(p, "status"), "succeeded");
    assert_str_eq(jstr(p, "updatedAt"), updated);
    json_decref(p);

    /* An unknown transaction: 404 (the provider tries again later). */
    r = webhook("test", event_body("evt-unknown-tx", "payment.succeeded", "test_nosuchtx"), SECRET,
                0);
    assert_problem(r, 404);
    resp_free(r);
    /* Other event types are acknowledged and ignored; signed but wrong: 422. */
    r = webhook("test", fmt("{\"id\":\"%s-other\",\"type\":\"charge.dispute.created\"}", evt),
                SECRET, 0);
    assert_status(r, 200);
    assert_true(json_is_true(jget(r->json, "ignored")));
    resp_free(r);
    r = webhook("test", "{\"type\":\"payment.succeeded\"}", SECRET, 0);
    assert_problem(r, 422);
    resp_free(r);
    r = webhook("test", "[1,2]", SECRET, 0);
    assert_problem(r, 422);
    resp_free(r);

    /* A failure: the registration keeps its hold and may be paid again. */
    long long reg2 = register_ok(F.p[1].access, ev, "pending");
    r = pay_key(F.p[1].access, new_key(),
                fmt("{\"registrationId\":%lld,\"paymentMethod\":\"card\","
                    "\"provider\":\"test\",\"simulate\":\"pending\"}",
                    reg2));
    assert_status(r, 201);
    long long pid2 = jint(r->json, "id");
    snprintf(tx, sizeof tx, "%s", jstr(r->json, "providerTransactionId"));
    resp_free(r);
    char evt3[80];
    snprintf(evt3, sizeof evt3, "%s-fail", evt);
    r = webhook("test", event_body(evt3, "payment.failed", tx), SECRET, 0);
    assert_status(r, 200);
    assert_str_eq(jstr(r->json, "status"), "failed");
    resp_free(r);
    p = payment(pid2);
    assert_str_eq(jstr(p, "status"), "failed");
    assert_true(json_is_null(jget(p, "paymentDate")));
    json_decref(p);
    g = registration(reg2);
    assert_str_eq(jstr(g, "status"), "pending");
    assert_str_eq(jstr(g, "paymentStatus"), "unpaid");
    json_decref(g);
    long long pid3 = pay_ok(F.p[1].access, reg2);
    assert_true(pid3 != pid2);
    json_t *f = get_json(fmt("/v1/events/%lld/finance", ev), F.org.access);
    assert_int_equal(jint(f, "byStatus.succeeded"), 2);
    assert_int_equal(jint(f, "byStatus.failed"), 1);
    assert_str_eq(jstr(f, "totals.GBP.gross"), "60.00");
    json_decref(f);
}

/* A server without RG_PAYMENTS_WEBHOOK_SECRET refuses every webhook. */
static void webhooks_without_secret(void **state)
{
    (void)state;
    fixture();
    api_server saved = g_srv;
    memset(&g_srv, 0, sizeof g_srv);
    unsetenv("RG_PAYMENTS_WEBHOOK_SECRET");
    int started = srv_start(&g_srv, NULL);
    setenv("RG_PAYMENTS_WEBHOOK_SECRET", SECRET, 1);
    if (started != 0) {
        g_srv = saved;
        fail_msg("a second server did not start");
    }
    const char *body = event_body("evt-nosecret", "payment.succeeded", "test_x");
    api_resp *r = webhook("test", body, SECRET, 0);
    assert_problem(r, 400);
    resp_free(r);
    r = webhook("test", body, "", 0);
    assert_problem(r, 400);
    resp_free(r);
    int rc = srv_stop(&g_srv);
    srv_remove_dir(&g_srv);
    g_srv = saved;
    assert_int_equal(rc, 0);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    setenv("RG_PAYMENTS_WEBHOOK_SECRET", SECRET, 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(webhooks),
        cmocka_unit_test(webhooks_without_secret),
    };
    return cmocka_run_group_tests(tests, api_setup, api_teardown);
}
