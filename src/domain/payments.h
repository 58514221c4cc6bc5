/* Payments inside the domain: the provider interface, idempotency keys and
 * webhook signatures. The routes' functions are in app.h. */
#ifndef RG_PAYMENTS_H
#define RG_PAYMENTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "risinggen/base/id.h"
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
 * payments_providers.c. charge and refund run inside the payment's write
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
const rg_payment_provider *rg__payment_provider(const char *name);
/* Whether RG_PAYMENTS_PROVIDERS (a comma-separated list; default every
 * provider) lets new payments and webhooks use p. Refunds of existing
 * payments go through their provider either way. */
bool rg__payment_provider_enabled(const rg_payment_provider *p);

/* How far a webhook's timestamp may be from now, in seconds. */
#define RG_WEBHOOK_TOLERANCE_S 300

/* Checks X-RisingGen-Signature: "t=<unix seconds>,v1=<hex HMAC-SHA256 of
 * "<t>.<raw body>">" (several v1 entries allowed, for a secret being
 * rotated) against secret, at time now. 0, or RG_EINVAL with a detail:
 * no secret configured, a malformed header, a timestamp more than
 * RG_WEBHOOK_TOLERANCE_S away from now, or no matching signature. */
int rg__webhook_verify(const char *secret, const char *header, const void *raw, size_t len,
                       int64_t now);
/* The hex signature of raw at t with secret (out[65]), as a provider makes it. */
void rg__webhook_sign(const char *secret, int64_t t, const void *raw, size_t len,
                      char out[RG_SHA256_HEX + 1]);

/* SHA-256 (hex) of an idempotent request: method, path, user and the body
 * in canonical form (keys sorted, compact), so that key order and spacing
 * do not make two equal requests differ. body may be NULL. */
void rg__idem_hash(const char *method, const char *path, const char *user_id, json_t *body,
                   char out[RG_SHA256_HEX + 1]);
/* True when key is a usable Idempotency-Key: 1 to 255 visible ASCII characters. */
bool rg__idem_key_ok(const char *key);

#endif
