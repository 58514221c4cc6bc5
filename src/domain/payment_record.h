/* Payments inside the domain, shared by payments.c, webhooks.c and
 * finance.c: views, idempotency keys and webhook signatures. */
#ifndef RG_PAYMENT_RECORD_H
#define RG_PAYMENT_RECORD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "risinggen/base/id.h"
#include "risinggen/base/validate.h"
#include "risinggen/domain/app.h"
#include "risinggen/store/relational.h"

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

/* A payment row as API JSON. New reference. */
json_t *rg__payment_view(const rg_rows *r, int i);
/* {"amount": "25.00", "currency": …}. New reference. */
json_t *rg__money_json(int64_t minor, const char *currency);
/* A JSON string of s, or null. New reference. */
json_t *rg__str_or_null(const char *s);
/* Whether who may manage the money of an event organized by organizer_id
 * (the organizer or an admin). */
bool rg__payment_manager(const rg_principal *who, const char *organizer_id);

#endif
