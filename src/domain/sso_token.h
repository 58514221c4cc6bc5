/* Verification of church sign-in id tokens (sso_token.c), for sso_signin.c. */
#ifndef RG_SSO_TOKEN_H
#define RG_SSO_TOKEN_H

#include "domain.h"

/* Verifies an OIDC id_token against RG_SSO_ISSUER, RG_SSO_AUDIENCE and the
 * app's key source; *claims receives its payload (new reference).
 * RG_EUNAUTH for a token that does not pass, RG_EUNAVAIL when no keys can
 * be had. */
int rg__sso_verify(rg_app *app, const char *id_token, json_t **claims);

#endif
