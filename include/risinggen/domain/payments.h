/* Payments (relational): idempotent creation, refunds, provider webhooks
 * and an event's finance. Providers are in risinggen/outbound/payments.h. */
#ifndef RISINGGEN_DOMAIN_PAYMENTS_H
#define RISINGGEN_DOMAIN_PAYMENTS_H

#include "risinggen/domain/app.h"

/* An answer kept with its Idempotency-Key and replayed byte for byte. */
typedef struct rg_saved_reply {
    int status;    /* HTTP status */
    char *body;    /* JSON text, malloc'd (caller frees) */
    int64_t id;    /* the payment it is about */
    bool replayed; /* an earlier request with the same key was answered so */
} rg_saved_reply;
/* POST /v1/payments: idem_key is the Idempotency-Key header (RG_EINVAL when
 * NULL). The amount comes from the event; a success confirms the
 * registration in the same transaction. */
int rg_payment_create(rg_app *app, const rg_ctx *ctx, const char *idem_key, json_t *body,
                      rg_saved_reply *out);
/* GET /v1/payments/{id}: the payer, the event's organizer, an admin. */
int rg_payment_get(rg_app *app, const rg_ctx *ctx, const char *id, json_t **out);
/* POST /v1/payments/{id}/refund: {amount?, reason?}; idem_key optional. */
int rg_payment_refund(rg_app *app, const rg_ctx *ctx, const char *id, const char *idem_key,
                      json_t *body, rg_saved_reply *out);
/* POST /v1/webhooks/payments/{provider}: raw/len is the signed body,
 * signature the X-RisingGen-Signature header. */
int rg_payment_webhook(rg_app *app, const char *provider, const char *signature, const void *raw,
                       size_t len, json_t *body, json_t **out);
/* GET /v1/users/{id}/payments: self or admin, newest first. */
int rg_user_payments(rg_app *app, const rg_ctx *ctx, const char *id, const char *cursor, int limit,
                     json_t **out);
/* GET /v1/events/{id}/finance: the organizer or an admin. */
int rg_event_finance(rg_app *app, const rg_ctx *ctx, const char *id, json_t **out);

#endif
