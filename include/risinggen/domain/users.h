/* People's profiles and what belongs to them: GET/PATCH /v1/users/me,
 * other people's profiles as their privacy settings allow, roles, their
 * registrations (their payments: payments.h). */
#ifndef RISINGGEN_DOMAIN_USERS_H
#define RISINGGEN_DOMAIN_USERS_H

#include "risinggen/domain/app.h"

int rg_user_get_me(rg_app *app, const rg_ctx *ctx, json_t **out);
/* PATCH /v1/users/me: a JSON merge patch of the profile fields. */
int rg_user_patch_me(rg_app *app, const rg_ctx *ctx, json_t *patch, json_t **out);
/* GET /v1/users/{id}: shareProfile=false hides the profile from others
 * (404), shareContact=false its contact. */
int rg_user_get(rg_app *app, const rg_ctx *ctx, const char *id, json_t **out);
/* PATCH /v1/users/{id}: admins grant or remove roles ({"roles": [...]}). */
int rg_user_set_roles(rg_app *app, const rg_ctx *ctx, const char *id, json_t *body, json_t **out);
int rg_user_preferences(rg_app *app, const rg_ctx *ctx, const char *id, json_t **out);
/* GET /v1/users/{id}/registrations: self or admin, each with its event. */
int rg_user_registrations(rg_app *app, const rg_ctx *ctx, const char *id, const char *cursor,
                          int limit, json_t **out);

#endif
