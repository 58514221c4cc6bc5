/* A person's data as a whole: its export (export.c) and its erasure from
 * every store (erasure.c). */
#ifndef RISINGGEN_DOMAIN_ACCOUNTS_H
#define RISINGGEN_DOMAIN_ACCOUNTS_H

#include "risinggen/domain/app.h"

/* GET /v1/users/me/export: everything the stores hold about the caller. */
int rg_user_export(rg_app *app, const rg_ctx *ctx, json_t **out);
/* DELETE /v1/users/me: erases the caller from every store (see
 * docs/design/erasure.md). RG_ECONFLICT while they organize upcoming
 * events. */
int rg_user_erase(rg_app *app, const rg_ctx *ctx);
/* Records the erasure of user_id and its intent (the first step of
 * rg_user_erase); *tombstone (may be NULL) receives the anonymous id that
 * replaces it. */
int rg_erasure_record(rg_app *app, const char *user_id, char tombstone[RG_OID_LEN + 1]);
/* Takes every erasure not done at most max_steps further (0: to its end;
 * tests: the intent-resume job drives them otherwise). Returns how many
 * were finished. */
int rg_erasure_resume(rg_app *app, int max_steps);

#endif
