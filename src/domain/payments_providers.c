/* Payment providers behind rg_payment_provider (payments.h).
 *
 * test   development and tests: succeeds at once, or stays pending until a
 *        signed webhook says how it ended when the body asks
 *        "simulate": "pending". Transaction ids are random.
 * manual an organizer or admin records money received in cash or by
 *        transfer; succeeds at once, no webhooks.
 *
 * RG_PAYMENTS_PROVIDERS (comma-separated, default "test,manual") says which
 * are enabled; production sets it to the real ones (e.g. "manual"). */
#include "payments.h"
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

/* ---- test ---- */

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

/* ---- manual ---- */

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

static bool enabled(const char *name)
{
    const char *list = getenv("RG_PAYMENTS_PROVIDERS");
    if (!list || !*list)
        return true;
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        p += strspn(p, " ,");
        size_t len = strcspn(p, " ,");
        if (len == n && strncmp(p, name, n) == 0)
            return true;
        p += len;
    }
    return false;
}

const rg_payment_provider *rg__payment_provider(const char *name)
{
    if (!name)
        return NULL;
    for (const rg_payment_provider *const *p = providers; *p; p++)
        if (strcmp((*p)->name, name) == 0)
            return *p;
    return NULL;
}

bool rg__payment_provider_enabled(const rg_payment_provider *p)
{
    return p && enabled(p->name);
}
