/* Signing up and in: accounts with a password (auth.c), sessions and
 * refresh-token families (sessions.c), password reset (password_reset.c)
 * and church sign-in (sso_signin.c). */
#ifndef RISINGGEN_DOMAIN_AUTH_H
#define RISINGGEN_DOMAIN_AUTH_H

#include "risinggen/domain/app.h"

/* POST /v1/auth/signup: a participant account and its first tokens. */
int rg_auth_signup(rg_app *app, json_t *body, json_t **out);
/* POST /v1/auth/login: RG_EUNAUTH for a wrong email or password (same time
 * either way), RG_ELOCKED after 5 failures in 15 minutes. */
int rg_auth_login(rg_app *app, const rg_ctx *ctx, json_t *body, json_t **out);
/* POST /v1/auth/refresh: rotates the refresh token; reusing a rotated one
 * ends its whole family (RG_EUNAUTH). */
int rg_auth_refresh(rg_app *app, json_t *body, json_t **out);
/* POST /v1/auth/logout: ends the refresh-token family of access_token. */
int rg_auth_logout(rg_app *app, const char *access_token, json_t *body);
/* Resolves a bearer token to its principal and begins the request's context
 * as rg_ctx_begin does for that principal, with fewer trips to the cache;
 * RG_EUNAUTH if the token is unknown, expired or ended. */
int rg_auth_begin(rg_app *app, const char *access_token, rg_ctx *ctx);
/* Removes session documents whose access token has expired; returns how many. */
int rg_auth_purge_sessions(rg_app *app);
/* Creates an admin account (command line). */
int rg_auth_create_admin(rg_app *app, const char *email, const char *password, const char *first,
                         const char *last, char out_id[RG_OID_LEN + 1]);
/* Issues a session for user_id without a password check (seed, tests of the
 * CLI); *out_token is malloc'd. */
int rg_auth_issue_session(rg_app *app, const char *user_id, char **out_token);
/* Creates a user with an already-computed password hash (seed). out_id is
 * used as the id when it holds a valid ObjectId, else a new one is written. */
int rg_auth_insert_user(rg_app *app, json_t *user, const char *password_hash,
                        char out_id[RG_OID_LEN + 1]);
/* An argon2id hash of password with the service's parameters (malloc'd). */
int rg_auth_hash_password(const char *password, char **out);

/* POST /v1/auth/password-reset: always 0 for a well-formed body, whether or
 * not the email has an account: the request is recorded, the same way for
 * every email. */
int rg_auth_password_reset(rg_app *app, json_t *body);
/* The password-reset job: handles the recorded requests (a token for each
 * account, sent through the outbox). Returns how many were handled. */
int rg_auth_password_reset_pass(rg_app *app);
/* POST /v1/auth/password-reset/confirm: RG_EINVAL for a bad, used or expired
 * token. Ends every session of the account. */
int rg_auth_password_reset_confirm(rg_app *app, const rg_ctx *ctx, json_t *body);
/* POST /v1/auth/sso: an OIDC id_token (RS256) from the church's identity
 * provider (RG_SSO_ISSUER, RG_SSO_AUDIENCE, RG_SSO_JWKS); tokens like login. */
int rg_auth_sso(rg_app *app, json_t *body, json_t **out);

#endif
