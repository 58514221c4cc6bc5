/* A person's profile document, shared by the modules that read or write it
 * (auth, users, sessions, accounts, events, registrations, messages). */
#ifndef RG_USER_RECORD_H
#define RG_USER_RECORD_H

#include "domain.h"

/* Loads the users/<id> document (cached); *out new reference. RG_ENOTFOUND
 * when there is no such person. */
int rg__user_load(rg_app *app, const char *id, json_t **out);
/* The cache keys of a user's document and of its version, for callers that
 * fetch them with other keys in one rg_cache_get_many. */
#define RG_USER_KEY_LEN 64
void rg__user_cache_keys(const char *id, char *key, char *verkey);
/* rg__user_load with the version (ver) and entry (entry, elen) already
 * fetched, either NULL on a miss; takes both. */
int rg__user_load_fetched(rg_app *app, const char *id, char *ver, char *entry, size_t elen,
                          json_t **out);
/* The public shape of a stored user document (adds "id", drops internals).
 * New reference; doc is borrowed. */
json_t *rg__user_view(const char *id, json_t *doc);
/* Drops the cached profile of a user after a change to it. */
void rg__user_uncache(rg_app *app, const char *id);
/* Validates the profile fields shared by signup, SSO and PATCH /users/me. */
int rg__validate_profile(v_ctx *v, json_t *body);
/* Lowercase copy of an email address. */
void rg__normalize_email(const char *in, char *out, size_t cap);
/* The preferences a new account starts with. New reference. */
json_t *rg__default_preferences(void);
/* Adds to dst every member of defaults it lacks, object by object. */
void rg__merge_defaults(json_t *dst, json_t *defaults);

/* The role bits of a "roles" array; unknown names count for nothing. */
unsigned rg_roles_from_json(json_t *roles);

#endif
