/* Internal helpers shared by the domain modules. */
#ifndef RG_DOMAIN_H
#define RG_DOMAIN_H

#include "risinggen/domain/app.h"
#include "risinggen/base/error.h"
#include "risinggen/base/validate.h"
#include "risinggen/base/id.h"

#include <jansson.h>

#define COLL_USERS             "users"
#define COLL_AUTH              "auth"
#define COLL_SESSIONS          "sessions"
#define USER_SCHEMA_VERSION    1
#define AUTH_SCHEMA_VERSION    1
#define SESSION_SCHEMA_VERSION 1

static inline bool rg_is_admin(const rg_principal *p)
{
    return p && (p->roles & RG_ROLE_ADMIN);
}
static inline bool rg_is_signed_in(const rg_principal *p)
{
    return p && p->user_id[0];
}

/* Parses a positive integer id ("42"); false for anything else. */
bool rg_parse_id(const char *s, int64_t *out);
/* Keyset cursors: an opaque base64url of "a|b". */
void rg_cursor_encode(const char *a, const char *b, char *out, size_t cap);
int rg_cursor_decode(const char *cursor, char *a, size_t acap, char *b, size_t bcap);
/* Money: parses "25.00" / "25" / "25.5" into minor units (cents), at most
 * two decimals and 0 <= value <= 99,999,999.99. Returns 0 or RG_EINVAL. */
int rg_money_parse(const char *s, int64_t *out);
/* Formats minor units as "25.00" into out[24]. */
void rg_money_format(int64_t minor, char out[24]);
/* Copies a stored RFC 3339 time through as a JSON string, or null. */
json_t *rg_json_time(const char *t);
/* {"items": items, "nextCursor": next or null}; steals items. */
json_t *rg_list_page(json_t *items, const char *next);
/* Runs get → fn → replace with the revision, retrying on a concurrent write.
 * fn may change doc in place and return 0, or an error to stop. */
int rg_doc_update(rg_documents *docs, const char *coll, const char *id,
                  int (*fn)(json_t *doc, void *ctx), void *ctx);
/* Versioned cache entries, so that a reader that loaded data before a write
 * never puts it back into the cache after the writer cleared it. An entry is
 * "<version>\n<value>"; a reader takes the version first (rg_vcache_get
 * does), loads from the store, then stores with that version; a writer
 * bumps the version after its write, which makes every older entry a miss.
 * rg_vcache_get: 0 and *val (malloc'd, after the version line) on a hit that
 * matches; otherwise RG_ENOTFOUND with *version to store under. */
int rg_vcache_get(rg_app *app, const char *key, const char *verkey, char **val, size_t *len,
                  int64_t *version);
void rg_vcache_set(rg_app *app, const char *key, int64_t version, const char *val, size_t len,
                   int64_t ttl_ms);
void rg_vcache_bump(rg_app *app, const char *verkey);
/* Drops the cached profile of a user after a change to it. */
void rg__user_uncache(rg_app *app, const char *id);

/* Runs a relational statement on a connection of its own (no transaction). */
int rg_rel_run(rg_app *app, const char *name, const rg_param *p, int n, rg_rows **out);
/* The same for a read that a replica may serve (lists, discovery, stats). */
int rg_rel_run_read(rg_app *app, const char *name, const rg_param *p, int n, rg_rows **out);
/* Validates the profile fields shared by signup and PATCH /users/me. */
int rg__validate_profile(v_ctx *v, json_t *body);

/* ---- accounts and privacy (accounts.c, sso.c, audit.c) ---- */
/* sso_links/<sha256 of the church account id>: {userId}, the one mapping from
 * a church account to its user, taken by insert so that two first sign-ins
 * at once make one account. */
#define COLL_SSO_LINKS "sso_links"
/* Ends every access token of a refresh-token family (auth.c). */
void rg__sessions_revoke_family(rg_app *app, const char *family);
/* Starts a refresh-token family for user_id: {accessToken, refreshToken,
 * expiresIn, tokenType} (auth.c). */
int rg__auth_issue_tokens(rg_app *app, const char *user_id, json_t **out);
/* Lowercase copy of an email address (auth.c). */
void rg__normalize_email(const char *in, char *out, size_t cap);
/* The preferences a new account starts with (auth.c). New reference. */
json_t *rg__default_preferences(void);
/* Verifies an OIDC id_token against RG_SSO_ISSUER, RG_SSO_AUDIENCE and the
 * keys of RG_SSO_JWKS; *claims receives its payload (sso.c). */
int rg__sso_verify(const char *id_token, json_t **claims);
/* Every audit entry whose actor is user_id, oldest first (audit.c). */
int rg__audit_by_actor(rg_app *app, const char *user_id, json_t **out);
/* ---- end of accounts and privacy ---- */

/* ---- channels, messages, content, feedback (comms.c, content.c) ---- */
#define COLL_CHANNELS  "channels"
#define COLL_MESSAGES  "messages"
#define COLL_RESOURCES "resources"
#define COLL_FEEDBACK  "feedback"
/* Makes the channel of a published event unless it has one (idempotent, safe
 * under concurrent publishes: channels.eventId is unique); out_id (may be
 * NULL) receives its id (comms.c). */
int rg__event_channel_ensure(rg_app *app, int64_t event_id, const char *title,
                             const char *organizer_id, char out_id[RG_OID_LEN + 1]);
/* ---- end of channels, messages, content, feedback ---- */

#endif
