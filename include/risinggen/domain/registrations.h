/* Registrations (relational) and the capacity rule: never more confirmed +
 * pending than maxParticipants, under any concurrency. */
#ifndef RISINGGEN_DOMAIN_REGISTRATIONS_H
#define RISINGGEN_DOMAIN_REGISTRATIONS_H

#include "risinggen/domain/app.h"

/* POST /v1/events/{id}/registrations: confirmed (free), pending (paid: a
 * hold that expires unpaid) or waitlisted (full); RG_EALREADY, RG_EFULL.
 * With ctx->waiter, RG_PARKED while it waits for the admissions before it
 * (app.h): call it again, with the same ctx, body and id, when woken. */
int rg_registration_create(rg_app *app, const rg_ctx *ctx, const char *event_id, json_t *body,
                           json_t **out);
/* GET /v1/registrations/{id}: the registrant, the organizer, an admin. */
int rg_registration_get(rg_app *app, const rg_ctx *ctx, const char *id, json_t **out);
/* POST /v1/registrations/{id}/cancel: the freed place goes to the first
 * waitlisted. */
int rg_registration_cancel(rg_app *app, const rg_ctx *ctx, const char *id, json_t *body,
                           json_t **out);
/* POST /v1/registrations/{id}/check-in: the organizer or an admin;
 * idempotent; RG_ECONFLICT when cancelled. */
int rg_registration_check_in(rg_app *app, const rg_ctx *ctx, const char *id, json_t **out);
/* Cancels pending registrations whose hold expired, freeing their places
 * (and moving waitlisted people up). Returns how many expired. */
int rg_registration_expire_holds(rg_app *app);

#endif
