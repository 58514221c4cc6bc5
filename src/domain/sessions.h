/* Sessions, shared by sign-in (auth), church sign-in, password reset and
 * erasure. */
#ifndef RG_SESSIONS_H
#define RG_SESSIONS_H

#include "domain.h"

/* Starts a refresh-token family for user_id: {accessToken, refreshToken,
 * expiresIn, tokenType}. *out new reference. */
int rg__auth_issue_tokens(rg_app *app, const char *user_id, json_t **out);
/* Ends every access token of a refresh-token family: 0, or the documents
 * store's error (the sessions may then outlive the call). */
int rg__sessions_revoke_family(rg_app *app, const char *family);

/* Ends every session of user_id: the families named (a JSON array of ids,
 * may be NULL) and any other family a session still belongs to. 0, or the
 * first error of the documents store (the rest is still tried). */
int rg__sessions_end_all(rg_app *app, const char *user_id, json_t *families);

#endif
