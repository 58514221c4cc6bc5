/* The rules payments lean on that need no store: webhook signatures
 * (X-RisingGen-Signature), the canonical request hash behind an
 * Idempotency-Key, which keys are usable, and the providers' table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "payment_record.h"
#include "risinggen/outbound/payments.h"
#include "risinggen/base/error.h"
#include "risinggen/base/id.h"

#define SECRET "whsec-unit"
#define NOW    1780000000LL

static const char body[] = "{\"id\":\"evt_1\",\"type\":\"payment.succeeded\"}";

static const char *header(const char *secret, long long t, const char *raw)
{
    static char h[256];
    char sig[RG_SHA256_HEX + 1];
    rg__webhook_sign(secret, t, raw, strlen(raw), sig);
    snprintf(h, sizeof h, "t=%lld,v1=%s", t, sig);
    return h;
}

static int verify(const char *secret, const char *h, const char *raw, long long now)
{
    int rc = rg__webhook_verify(secret, h, raw, strlen(raw), now);
    rg_error_clear();
    return rc;
}

static void signature_matches_hmac_sha256(void **state)
{
    (void)state;
    /* Independent of rg__webhook_sign: HMAC-SHA256 of "<t>.<body>". */
    char msg[128];
    snprintf(msg, sizeof msg, "%lld.%s", NOW, body);
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)SECRET, strlen(SECRET));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)msg, strlen(msg));
    crypto_auth_hmacsha256_final(&st, mac);
    char hex[RG_SHA256_HEX + 1], ours[RG_SHA256_HEX + 1];
    sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
    rg__webhook_sign(SECRET, NOW, body, strlen(body), ours);
    assert_string_equal(ours, hex);
    /* RFC 4231 test case 2: key "Jefe". */
    const char *data = "what do ya want for nothing?";
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)"Jefe", 4);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)data, strlen(data));
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
    assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

static void good_signatures_pass(void **state)
{
    (void)state;
    assert_int_equal(verify(SECRET, header(SECRET, NOW, body), body, NOW), 0);
    /* Within five minutes either way. */
    assert_int_equal(verify(SECRET, header(SECRET, NOW - 300, body), body, NOW), 0);
    assert_int_equal(verify(SECRET, header(SECRET, NOW + 300, body), body, NOW), 0);
    /* Spaces, and a second v1 (a secret being rotated), and unknown schemes. */
    char sig[RG_SHA256_HEX + 1], h[400];
    rg__webhook_sign(SECRET, NOW, body, strlen(body), sig);
    snprintf(h, sizeof h, "t=%lld, v0=abc, v1=%064d, v1=%s", NOW, 0, sig);
    assert_int_equal(verify(SECRET, h, body, NOW), 0);
    /* Uppercase hex is hex. */
    for (char *p = sig; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    snprintf(h, sizeof h, "t=%lld,v1=%s", NOW, sig);
    assert_int_equal(verify(SECRET, h, body, NOW), 0);
    /* An empty body can be signed too. */
    assert_int_equal(verify(SECRET, header(SECRET, NOW, ""), "", NOW), 0);
}

static void bad_signatures_fail(void **state)
{
    (void)state;
    /* Another secret, another body, another time. */
    assert_int_equal(verify(SECRET, header("other", NOW, body), body, NOW), RG_EINVAL);
    assert_int_equal(verify(SECRET, header(SECRET, NOW, "{}"), body, NOW), RG_EINVAL);
    char sig[RG_SHA256_HEX + 1], h[400];
    rg__webhook_sign(SECRET, NOW, body, strlen(body), sig);
    snprintf(h, sizeof h, "t=%lld,v1=%s", NOW + 1, sig);
    assert_int_equal(verify(SECRET, h, body, NOW), RG_EINVAL);
    /* Too old, or from too far ahead. */
    assert_int_equal(verify(SECRET, header(SECRET, NOW - 301, body), body, NOW), RG_EINVAL);
    assert_int_equal(verify(SECRET, header(SECRET, NOW + 301, body), body, NOW), RG_EINVAL);
    assert_int_equal(verify(SECRET, header(SECRET, 0, body), body, NOW), RG_EINVAL);
    /* No secret configured: every webhook is refused. */
    assert_int_equal(verify(NULL, header(SECRET, NOW, body), body, NOW), RG_EINVAL);
    assert_int_equal(verify("", header("", NOW, body), body, NOW), RG_EINVAL);
    /* Malformed headers. */
    const char *bad[] = {
        NULL,
        "",
        "t=1780000000",
        "v1=0000000000000000000000000000000000000000000000000000000000000000",
        "t=abc,v1=0000000000000000000000000000000000000000000000000000000000000000",
        "t=-5,v1=0000000000000000000000000000000000000000000000000000000000000000",
        "t=1780000000,v1=zz00000000000000000000000000000000000000000000000000000000000000",
        "t=1780000000,v1=00",
        "t=1780000000,t=1780000000,v1="
        "0000000000000000000000000000000000000000000000000000000000000000",
        "t=99999999999999999999,v1="
        "0000000000000000000000000000000000000000000000000000000000000000",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (verify(SECRET, bad[i], body, NOW) != RG_EINVAL)
            fail_msg("header %s was accepted", bad[i] ? bad[i] : "(none)");
    char big[2048];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(verify(SECRET, big, body, NOW), RG_EINVAL);
}

static void request_hash_is_canonical(void **state)
{
    (void)state;
    char a[RG_SHA256_HEX + 1], b[RG_SHA256_HEX + 1];
    json_t *x = json_loads(
        "{\"registrationId\":1,\"paymentMethod\":\"card\",\"provider\":\"test\"}", 0, NULL);
    json_t *y = json_loads("{ \"provider\" : \"test\",\n\"registrationId\":1, "
                           "\"paymentMethod\":\"card\"}",
                           0, NULL);
    rg__idem_hash("POST", "/v1/payments", "u1", x, a);
    rg__idem_hash("POST", "/v1/payments", "u1", y, b);
    assert_string_equal(a, b);
    assert_int_equal(strlen(a), RG_SHA256_HEX);
    /* Anything else differs: user, path, method, a value, a type. */
    rg__idem_hash("POST", "/v1/payments", "u2", x, b);
    assert_string_not_equal(a, b);
    rg__idem_hash("POST", "/v1/payments/1/refund", "u1", x, b);
    assert_string_not_equal(a, b);
    rg__idem_hash("PUT", "/v1/payments", "u1", x, b);
    assert_string_not_equal(a, b);
    json_object_set_new(y, "registrationId", json_string("1"));
    rg__idem_hash("POST", "/v1/payments", "u1", y, b);
    assert_string_not_equal(a, b);
    json_object_set_new(y, "registrationId", json_integer(2));
    rg__idem_hash("POST", "/v1/payments", "u1", y, b);
    assert_string_not_equal(a, b);
    /* No body is a body of its own. */
    rg__idem_hash("POST", "/v1/payments", "u1", NULL, b);
    assert_string_not_equal(a, b);
    char c[RG_SHA256_HEX + 1];
    rg__idem_hash("POST", "/v1/payments", "u1", NULL, c);
    assert_string_equal(b, c);
    json_decref(x);
    json_decref(y);
}

static void usable_keys(void **state)
{
    (void)state;
    assert_true(rg__idem_key_ok("a"));
    assert_true(rg__idem_key_ok("550e8400-e29b-41d4-a716-446655440000"));
    assert_true(rg__idem_key_ok("!~key:with/punctuation"));
    char k[300];
    memset(k, 'k', sizeof k);
    k[255] = '\0';
    assert_true(rg__idem_key_ok(k));
    k[255] = 'k';
    k[256] = '\0';
    assert_false(rg__idem_key_ok(k));
    assert_false(rg__idem_key_ok(NULL));
    assert_false(rg__idem_key_ok(""));
    assert_false(rg__idem_key_ok("with space"));
    assert_false(rg__idem_key_ok("tab\there"));
    assert_false(rg__idem_key_ok("caf\xc3\xa9"));
}

static void providers(void **state)
{
    (void)state;
    const rg_payment_provider *t = rg_payment_provider_find("test");
    const rg_payment_provider *m = rg_payment_provider_find("manual");
    assert_non_null(t);
    assert_non_null(m);
    assert_null(rg_payment_provider_find("stripe"));
    assert_null(rg_payment_provider_find(NULL));
    assert_true(t->webhooks && !t->recorded_by_manager);
    assert_true(m->recorded_by_manager && !m->webhooks);
    /* Test: succeeds at once, or pending on request; random transaction ids. */
    json_t *b = json_pack("{s:s}", "simulate", "pending");
    rg_pay_charge c = {.amount_minor = 2500, .currency = "GBP", .method = "card", .body = b};
    rg_pay_outcome o1 = {0}, o2 = {0};
    assert_int_equal(t->charge(&c, &o1), 0);
    assert_string_equal(o1.status, "pending");
    json_object_del(b, "simulate");
    assert_int_equal(t->charge(&c, &o2), 0);
    assert_string_equal(o2.status, "succeeded");
    assert_string_not_equal(o1.transaction_id, o2.transaction_id);
    assert_true(strlen(o1.transaction_id) >= 20);
    assert_int_equal(m->charge(&c, &o1), 0);
    assert_string_equal(o1.status, "succeeded");
    char rid[64];
    assert_int_equal(m->refund(o1.transaction_id, 100, "GBP", rid), 0);
    assert_true(rid[0] != '\0');
    json_decref(b);
    /* RG_PAYMENTS_PROVIDERS chooses which ones take new payments; a name
     * this build does not know stops the start with a message naming the
     * variable. */
    rg_payment_providers set;
    /* Unset, only manual takes payments: the test provider confirms a paid
     * registration without money and is never on unless listed. */
    rg_config defaults;
    rg_config_defaults(&defaults);
    assert_int_equal(rg_payment_providers_enable(&set, defaults.payments_providers), 0);
    assert_false(rg_payment_provider_enabled(&set, t));
    assert_true(rg_payment_provider_enabled(&set, m));
    rg_config_free(&defaults);
    assert_int_equal(rg_payment_providers_enable(&set, "test,manual"), 0);
    assert_true(rg_payment_provider_enabled(&set, t));
    assert_int_equal(rg_payment_providers_enable(&set, "manual"), 0);
    assert_false(rg_payment_provider_enabled(&set, t));
    assert_true(rg_payment_provider_enabled(&set, m));
    assert_int_equal(rg_payment_providers_enable(&set, " test , manual,test"), 0);
    assert_int_equal(set.n, 2);
    assert_true(rg_payment_provider_enabled(&set, t));
    assert_int_equal(rg_payment_providers_enable(&set, "testing"), RG_EINVAL);
    assert_non_null(strstr(rg_error_detail(), "RG_PAYMENTS_PROVIDERS"));
    assert_non_null(strstr(rg_error_detail(), "testing"));
    assert_int_equal(rg_payment_providers_enable(&set, ""), 0);
    assert_int_equal(set.n, 0);
    assert_false(rg_payment_provider_enabled(&set, t));
    assert_false(rg_payment_provider_enabled(&set, NULL));
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(signature_matches_hmac_sha256),
        cmocka_unit_test(good_signatures_pass),
        cmocka_unit_test(bad_signatures_fail),
        cmocka_unit_test(request_hash_is_canonical),
        cmocka_unit_test(usable_keys),
        cmocka_unit_test(providers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
