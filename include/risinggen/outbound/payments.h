/* Payment providers: the outbound side of payments. The domain asks a
 * provider to charge or refund; the amount and currency always come from
 * the event. */
#ifndef RISINGGEN_OUTBOUND_PAYMENTS_H
#define RISINGGEN_OUTBOUND_PAYMENTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "risinggen/base/validate.h"

/* What a provider is asked to charge: the amount and currency come from the
 * event, never from the client. */
typedef struct rg_pay_charge {
    int64_t amount_minor;
    const char *currency;
    const char *method; /* paymentMethod */
    json_t *body;       /* the request, for the provider's own fields (borrowed) */
} rg_pay_charge;

typedef struct rg_pay_outcome {
    const char *status; /* "succeeded", "pending" (a webhook tells later) or "failed"; static */
    char transaction_id[64];
} rg_pay_outcome;

/* A payment provider: one static const instance per provider, in
 * src/outbound/payment_providers.c. charge and refund run inside the payment's write
 * transaction, so they must answer quickly (a network provider would record
 * a pending payment first and learn the outcome by webhook). */
typedef struct rg_payment_provider {
    const char *name; /* "test", "manual": the body's "provider" */
    /* false: the registrant pays; true: the event's organizer or an admin
     * records money received (cash, transfer). */
    bool recorded_by_manager;
    /* Reports outcomes through signed POST /v1/webhooks/payments/{name}. */
    bool webhooks;
    /* Body fields of its own, besides registrationId, paymentMethod and
     * provider (NULL-terminated; may be NULL). */
    const char *const *fields;
    /* Checks those fields (may be NULL). */
    void (*validate)(v_ctx *v, json_t *body);
    /* 0 with *out filled, or RG_E*. */
    int (*charge)(const rg_pay_charge *c, rg_pay_outcome *out);
    /* Gives back amount_minor of the transaction; refund_id receives the
     * provider's reference. 0 or RG_E*. */
    int (*refund)(const char *transaction_id, int64_t amount_minor, const char *currency,
                  char refund_id[64]);
} rg_payment_provider;

/* The provider called name, or NULL when this build has none. */
const rg_payment_provider *rg_payment_provider_find(const char *name);

/* The providers that take new payments and webhooks, chosen at start.
 * Refunds of existing payments go through their provider either way. */
#define RG_PAYMENT_PROVIDERS_MAX 8
typedef struct rg_payment_providers {
    const rg_payment_provider *enabled[RG_PAYMENT_PROVIDERS_MAX];
    int n;
} rg_payment_providers;

/* The providers of a comma-separated list (RG_PAYMENTS_PROVIDERS). RG_EINVAL
 * with a detail naming the variable for a name this build does not know. */
int rg_payment_providers_enable(rg_payment_providers *out, const char *list);
bool rg_payment_provider_enabled(const rg_payment_providers *set, const rg_payment_provider *p);

#endif
