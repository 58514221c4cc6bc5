/* Payments: paying for a registration (test and manual providers), the
 * Idempotency-Key (replay byte for byte, another body 422, 20 requests at
 * once make one payment), signed webhooks (good, bad, old, replayed),
 * refunds (partial, full, never more than paid, also 10 at once), payment
 * history and an event's finance, with who may do what. */
#include "support.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SECRET "whsec-test-payments-0123456789"

static struct {
    bool ready;
    api_user org, org2;
    api_user p[4];
    api_user *admin;
} F;

static void fixture(void)
{
    if (F.ready)
        return;
    organizer_signup(&F.org, "payorg");
    organizer_signup(&F.org2, "payorgtwo");
    users_signup_parallel(F.p, (int)N_ELEMS(F.p), "payer");
    F.admin = admin_user();
    F.ready = true;
}

/* A published event of F.org costing amount currency. */
static long long paid_event(const char *amount, const char *currency, int max)
{
    return event_create_published(F.org.access,
                                  json_pack("{s:i, s:{s:s, s:s}}", "maxParticipants", max, "cost",
                                            "amount", amount, "currency", currency));
}

static api_resp *pay_key(const char *token, const char *key, const char *body)
{
    char h[320] = "";
    if (key)
        snprintf(h, sizeof h, "Idempotency-Key: %s", key);
    const char *hdrs[] = {h, NULL};
    api_req rq = {.method = "POST",
                  .path = "/v1/payments",
                  .body = body,
                  .token = token,
                  .headers = key ? hdrs : NULL};
    return api_do(&rq);
}

static char *pay_body(long long reg, const char *method, const char *provider)
{
    static _Thread_local char b[4][256];
    static _Thread_local int n;
    char *out = b[n++ % 4];
    snprintf(out, 256, "{\"registrationId\":%lld,\"paymentMethod\":\"%s\",\"provider\":\"%s\"}",
             reg, method, provider);
    return out;
}

static const char *new_key(void)
{
    static int n;
    return fmt("key-%d-%d-%ld", (int)getpid(), ++n, (long)time(NULL));
}

/* Pays reg with the test provider (asserts 201 succeeded); the payment id. */
static long long pay_ok(const char *token, long long reg)
{
    api_resp *r = pay_key(token, new_key(), pay_body(reg, "card", "test"));
    assert_status(r, 201);
    assert_str_eq(jstr(r->json, "status"), "succeeded");
    long long id = jint(r->json, "id");
    assert_true(id > 0);
    resp_free(r);
    return id;
}

static json_t *get_json(const char *path, const char *token)
{
    api_resp *r = api("GET", path, NULL, token);
    assert_status(r, 200);
    json_t *j = json_incref(r->json);
    resp_free(r);
    return j;
}

static json_t *registration(long long id)
{
    return get_json(fmt("/v1/registrations/%lld", id), F.admin->access);
}

static json_t *payment(long long id)
{
    return get_json(fmt("/v1/payments/%lld", id), F.admin->access);
}

static void assert_money(json_t *o, const char *path, const char *amount, const char *currency)
{
    json_t *m = jget(o, path);
    if (!json_is_object(m))
        fail_msg("%s is not a money object", path);
    assert_str_eq(jstr(m, "amount"), amount);
    assert_str_eq(jstr(m, "currency"), currency);
}

/* ---- webhooks ---- */

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

/* ---- tests ---- */

static void pay_confirms_registration(void **state)
{
    (void)state;
    fixture();
    long long ev = paid_event("25.00", "GBP", 10);
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
    long long ev = paid_event("10.00", "GBP", 10);
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
    long long ev2 = paid_event("7.25", "EUR", 10);
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
    long long ev = paid_event("12.00", "GBP", 10);
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
    long long ev = paid_event("5.00", "GBP", 1);
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
    long long ev = paid_event("19.99", "GBP", 10);
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
    long long ev = paid_event("42.10", "GBP", 10);
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

static void webhooks(void **state)
{
    (void)state;
    fixture();
    long long ev = paid_event("30.00", "GBP", 10);
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

static api_resp *refund(long long pid, const char *body, const char *token)
{
    return api("POST", fmt("/v1/payments/%lld/refund", pid), body, token);
}

static void refunds(void **state)
{
    (void)state;
    fixture();
    long long ev = paid_event("25.00", "GBP", 10);
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
    long long ev = paid_event("25.00", "GBP", 10);
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
    long long ev = paid_event("19.99", "GBP", 10);
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

static void user_payment_history(void **state)
{
    (void)state;
    fixture();
    api_user u;
    user_signup(&u, "history");
    long long ids[3];
    for (int i = 0; i < 3; i++) {
        long long ev = paid_event(i == 1 ? "3.50" : "8.00", "GBP", 5);
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
    if (sodium_init() < 0)
        return 1;
    setenv("RG_PAYMENTS_WEBHOOK_SECRET", SECRET, 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pay_confirms_registration),
        cmocka_unit_test(pay_who_may),
        cmocka_unit_test(pay_bad_input),
        cmocka_unit_test(pay_refused_by_state),
        cmocka_unit_test(idempotent_replay),
        cmocka_unit_test(concurrent_same_key),
        cmocka_unit_test(webhooks),
        cmocka_unit_test(webhooks_without_secret),
        cmocka_unit_test(refunds),
        cmocka_unit_test(concurrent_refunds),
        cmocka_unit_test(finance),
        cmocka_unit_test(user_payment_history),
    };
    return cmocka_run_group_tests(tests, api_setup, api_teardown);
}
