/* Payment providers behind rg_payment_provider (risinggen/outbound/payments.h).
 *
 * test   development and tests: succeeds at once, or stays pending until a
 *        signed webhook says how it ended when the body asks
 *        "simulate": "pending". Transaction ids are random.
 * manual an organizer or admin records money received in cash or by
 *        transfer; succeeds at once, no webhooks.
 *
 * RG_PAYMENTS_PROVIDERS (comma-separated, default "manual") says which take
 * new payments; `test` only when listed (make run and the tests list it).
 * A name this build does not know stops the start. */
#include "risinggen/outbound/payments.h"
#include <stdio.h>
#include "risinggen/base/error.h"
#include "risinggen/base/id.h"

#include <stdlib.h>
#include <string.h>

static void random_id(const char *prefix, char out[64])
{
    char tok[48];
    rg_random_token(tok, 18); /* 144 bits, 24 base64url characters */
    snprintf(out, 64, "%s%s", prefix, tok);
}

static const char *const test_fields[] = {"simulate", NULL};

static void test_validate(v_ctx *v, json_t *body)
{
    static const char *const sims[] = {"succeeded", "pending", NULL};
    v_enum(v, body, "simulate", false, sims, NULL);
}

static int test_charge(const rg_pay_charge *c, rg_pay_outcome *out)
{
    const char *sim = json_string_value(json_object_get(c->body, "simulate"));
    out->status = sim && strcmp(sim, "pending") == 0 ? "pending" : "succeeded";
    random_id("test_", out->transaction_id);
    return 0;
}

static int test_refund(const char *transaction_id, int64_t amount_minor, const char *currency,
                       char refund_id[64])
{
    (void)transaction_id, (void)amount_minor, (void)currency;
    random_id("test_re_", refund_id);
    return 0;
}

static const rg_payment_provider provider_test = {
    .name = "test",
    .recorded_by_manager = false,
    .webhooks = true,
    .fields = test_fields,
    .validate = test_validate,
    .charge = test_charge,
    .refund = test_refund,
};

static int manual_charge(const rg_pay_charge *c, rg_pay_outcome *out)
{
    (void)c;
    out->status = "succeeded";
    random_id("manual_", out->transaction_id);
    return 0;
}

static int manual_refund(const char *transaction_id, int64_t amount_minor, const char *currency,
                         char refund_id[64])
{
    (void)transaction_id, (void)amount_minor, (void)currency;
    random_id("manual_re_", refund_id);
    return 0;
}

static const rg_payment_provider provider_manual = {
    .name = "manual",
    .recorded_by_manager = true,
    .webhooks = false,
    .fields = NULL,
    .validate = NULL,
    .charge = manual_charge,
    .refund = manual_refund,
};

static const rg_payment_provider *const providers[] = {&provider_test, &provider_manual, NULL};

const rg_payment_provider *rg_payment_provider_find(const char *name)
{
    if (!name)
        return NULL;
    for (const rg_payment_provider *const *p = providers; *p; p++)
        if (strcmp((*p)->name, name) == 0)
            return *p;
    return NULL;
}

int rg_payment_providers_enable(rg_payment_providers *out, const char *list)
{
    memset(out, 0, sizeof *out);
    for (const char *p = list ? list : ""; *p;) {
        p += strspn(p, " ,");
        size_t len = strcspn(p, " ,");
        if (!len)
            break;
        char name[32];
        snprintf(name, sizeof name, "%.*s", (int)(len < sizeof name ? len : sizeof name - 1), p);
        const rg_payment_provider *found =
            len < sizeof name ? rg_payment_provider_find(name) : NULL;
        if (!found) {
            char known[128] = "";
            size_t k = 0;
            for (const rg_payment_provider *const *q = providers; *q; q++)
                k += (size_t)snprintf(known + k, k < sizeof known ? sizeof known - k : 0, "%s%s",
                                      k ? ", " : "", (*q)->name);
            return rg_error_set(RG_EINVAL,
                                "RG_PAYMENTS_PROVIDERS names '%.*s', which is not a provider of "
                                "this build (%s)",
                                (int)(len > 40 ? 40 : len), p, known);
        }
        bool seen = false;
        for (int i = 0; i < out->n; i++)
            seen = seen || out->enabled[i] == found;
        if (!seen && out->n < RG_PAYMENT_PROVIDERS_MAX)
            out->enabled[out->n++] = found;
        p += len;
    }
    return 0;
}

bool rg_payment_provider_enabled(const rg_payment_providers *set, const rg_payment_provider *p)
{
    if (!p)
        return false;
    for (int i = 0; i < set->n; i++)
        if (set->enabled[i] == p)
            return true;
    return false;
}
