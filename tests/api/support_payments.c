/* Payment helpers for the API tests (test_payments, test_refunds,
 * test_webhooks): paid events, payments with an Idempotency-Key, and
 * money assertions. */
#include "support.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

long long paid_event(const char *token, const char *amount, const char *currency, int max)
{
    return event_create_published(token, json_pack("{s:i, s:{s:s, s:s}}", "maxParticipants", max,
                                                   "cost", "amount", amount, "currency", currency));
}

api_resp *pay_key(const char *token, const char *key, const char *body)
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

char *pay_body(long long reg, const char *method, const char *provider)
{
    static _Thread_local char b[4][256];
    static _Thread_local int n;
    char *out = b[n++ % 4];
    snprintf(out, 256, "{\"registrationId\":%lld,\"paymentMethod\":\"%s\",\"provider\":\"%s\"}",
             reg, method, provider);
    return out;
}

const char *new_key(void)
{
    static int n;
    return fmt("key-%d-%d-%ld", (int)getpid(), ++n, (long)time(NULL));
}

long long pay_ok(const char *token, long long reg)
{
    api_resp *r = pay_key(token, new_key(), pay_body(reg, "card", "test"));
    assert_status(r, 201);
    assert_str_eq(jstr(r->json, "status"), "succeeded");
    long long id = jint(r->json, "id");
    assert_true(id > 0);
    resp_free(r);
    return id;
}

json_t *get_json(const char *path, const char *token)
{
    api_resp *r = api("GET", path, NULL, token);
    assert_status(r, 200);
    json_t *j = json_incref(r->json);
    resp_free(r);
    return j;
}

json_t *registration(long long id)
{
    return get_json(fmt("/v1/registrations/%lld", id), admin_user()->access);
}

json_t *payment(long long id)
{
    return get_json(fmt("/v1/payments/%lld", id), admin_user()->access);
}

void assert_money(json_t *o, const char *path, const char *amount, const char *currency)
{
    json_t *m = jget(o, path);
    if (!json_is_object(m))
        fail_msg("%s is not a money object", path);
    assert_str_eq(jstr(m, "amount"), amount);
    assert_str_eq(jstr(m, "currency"), currency);
}

void payers_fixture_make(api_payers_fixture *f, const char *tag)
{
    if (f->ready)
        return;
    organizer_signup(&f->org, fmt("%s-org", tag));
    organizer_signup(&f->org2, fmt("%s-orgtwo", tag));
    users_signup_parallel(f->p, (int)N_ELEMS(f->p), fmt("%s-payer", tag));
    f->admin = admin_user();
    f->ready = true;
}
