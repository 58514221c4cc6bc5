/* The signing keys of the church's identity provider, for verifying church
 * sign-in id tokens: fetched from a URL (and kept) or read from a file. */
#ifndef RISINGGEN_OUTBOUND_JWKS_H
#define RISINGGEN_OUTBOUND_JWKS_H

#include <jansson.h>
#include <stdbool.h>

typedef struct rg_jwks rg_jwks;

/* The key source named by source (RG_SSO_JWKS): an https:// URL (http://
 * only to a loopback host) or a file path. NULL or "": *out NULL (church
 * sign-in off). RG_EINVAL with a detail naming the variable for a URL that
 * cannot be used. *out belongs to the caller (rg_jwks_close). */
int rg_jwks_open(rg_jwks **out, const char *source);
/* The JSON Web Key Set; refresh asks a URL again when the kept set lacks a
 * key (at most every 30 s). *out is a new reference. RG_EUNAVAIL when no
 * set can be had. */
int rg_jwks_keys(rg_jwks *j, bool refresh, json_t **out);
/* Whether the keys come from a URL (so that asking again may help). */
bool rg_jwks_remote(const rg_jwks *j);
void rg_jwks_close(rg_jwks *j);

#endif
