/* Church sign-in: verification of OpenID Connect id_tokens.
 *
 * Settings: RG_SSO_ISSUER (the token's iss, compared exactly),
 * RG_SSO_AUDIENCE (our client id: aud, a string or an array holding it) and
 * RG_SSO_JWKS, the provider's key set (risinggen/outbound/jwks.h).
 *
 * A token is accepted only when: it is three base64url parts; its header's
 * alg is exactly RS256 (never "none", HS256 or another family: the key type
 * is fixed by us, not by the token) with no "crit"; its kid names an RSA key
 * of the set (use "sig" and alg RS256 when the key says); the RSASSA-PKCS1-v1_5
 * SHA-256 signature over "header.payload" verifies with that key (2048 bits
 * at least); iss and aud match; exp is in the future and iat and nbf are not,
 * each with 60 s of leeway for clocks; and sub is a non-empty string. */
#include "domain.h"
#include "sso_token.h"
#include "risinggen/outbound/jwks.h"
#include "risinggen/base/alloc.h"
#include "risinggen/base/buf.h"
#include "risinggen/base/log.h"
#include "risinggen/base/clock.h"
#include "risinggen/base/id.h"
#include "risinggen/base/error.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define JWT_MAX       16384
#define LEEWAY_S      60
#define RSA_MIN_BITS  2048
#define RSA_MAX_BYTES 1024 /* 8192 bits */

/* The RSA signing key kid of set, or NULL. */
static json_t *find_key(json_t *set, const char *kid)
{
    size_t i;
    json_t *k;
    json_array_foreach(json_object_get(set, "keys"), i, k)
    {
        const char *id = json_string_value(json_object_get(k, "kid"));
        if (id && strcmp(id, kid) == 0)
            return k;
    }
    return NULL;
}

/* Decodes a base64url member of a JWK (tolerating '=' padding). */
static long b64_member(json_t *jwk, const char *name, unsigned char *out, size_t cap)
{
    const char *s = json_string_value(json_object_get(jwk, name));
    if (!s)
        return -1;
    size_t n = strlen(s);
    while (n && s[n - 1] == '=')
        n--;
    return n ? rg_b64url_decode(s, n, out, cap) : -1;
}

static EVP_PKEY *rsa_from_jwk(json_t *jwk)
{
    unsigned char nb[RSA_MAX_BYTES], eb[16];
    long nlen = b64_member(jwk, "n", nb, sizeof nb), elen = b64_member(jwk, "e", eb, sizeof eb);
    if (nlen <= 0 || elen <= 0 || elen > 8)
        return NULL;
    BIGNUM *n = BN_bin2bn(nb, (int)nlen, NULL), *e = BN_bin2bn(eb, (int)elen, NULL);
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    if (!n || !e || !bld || BN_num_bits(n) < RSA_MIN_BITS || BN_is_odd(e) != 1 || BN_is_one(e))
        goto done;
    if (!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) ||
        !(params = OSSL_PARAM_BLD_to_param(bld)))
        goto done;
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    if (!ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
        pkey = NULL;
done:
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    return pkey;
}

static bool rs256_verify(json_t *jwk, const char *input, size_t len, const unsigned char *sig,
                         size_t siglen)
{
    EVP_PKEY *pkey = rsa_from_jwk(jwk);
    if (!pkey)
        return false;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    bool ok = md && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pkey) == 1 &&
              EVP_DigestVerify(md, sig, siglen, (const unsigned char *)input, len) == 1;
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(pkey);
    return ok;
}

static bool b64url_chars(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
            return false;
    return true;
}

/* A base64url part holding a JSON object; NULL otherwise. */
static json_t *json_part(const char *s, size_t n)
{
    if (n == 0 || n > JWT_MAX)
        return NULL;
    char *raw = rg_xmalloc(n);
    long len = rg_b64url_decode(s, n, raw, n);
    json_t *j = len > 0 ? json_loadb(raw, (size_t)len, JSON_REJECT_DUPLICATES, NULL) : NULL;
    free(raw);
    if (!json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

static int refuse(const char *why, const char *detail)
{
    rg_info("sso: id token refused: %s", why);
    return rg_error_set(RG_EUNAUTH, "%s", detail);
}

static bool aud_ok(json_t *aud, const char *want)
{
    if (json_is_string(aud))
        return strcmp(json_string_value(aud), want) == 0;
    size_t i;
    json_t *a;
    json_array_foreach(aud, i, a)
    {
        if (json_is_string(a) && strcmp(json_string_value(a), want) == 0)
            return true;
    }
    return false;
}

/* Checks the claims of a token whose signature verified. */
static int check_claims(json_t *c, const char *issuer, const char *audience)
{
    const char *iss = json_string_value(json_object_get(c, "iss"));
    if (!iss || strcmp(iss, issuer) != 0)
        return refuse("wrong issuer", "the id token was not issued by the church's sign-in");
    if (!aud_ok(json_object_get(c, "aud"), audience))
        return refuse("wrong audience", "the id token is not meant for this service");
    const char *azp = json_string_value(json_object_get(c, "azp"));
    if (azp && strcmp(azp, audience) != 0)
        return refuse("wrong azp", "the id token is not meant for this service");
    double now = (double)rg_now();
    json_t *exp = json_object_get(c, "exp"), *iat = json_object_get(c, "iat"),
           *nbf = json_object_get(c, "nbf");
    if (!json_is_number(exp) || !json_is_number(iat) || (nbf && !json_is_number(nbf)))
        return refuse("exp or iat missing", "the id token lacks its validity times");
    if (now > json_number_value(exp) + LEEWAY_S)
        return refuse("expired", "the id token has expired");
    if (json_number_value(iat) > now + LEEWAY_S)
        return refuse("issued in the future", "the id token is not valid yet");
    if (nbf && json_number_value(nbf) > now + LEEWAY_S)
        return refuse("not before", "the id token is not valid yet");
    const char *sub = json_string_value(json_object_get(c, "sub"));
    if (!sub || !*sub || strlen(sub) > 255)
        return refuse("no subject", "the id token names no account");
    return 0;
}

int rg__sso_verify(rg_app *app, const char *token, json_t **claims)
{
    *claims = NULL;
    const char *issuer = app->cfg->sso_issuer, *audience = app->cfg->sso_audience;
    if (!*issuer || !*audience || !app->jwks)
        return rg_error_set(RG_EUNAUTH, "church sign-in is not set up on this service");
    size_t len = strlen(token);
    const char *d1 = memchr(token, '.', len);
    const char *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
    if (len > JWT_MAX || !d1 || !d2 || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token)) ||
        !b64url_chars(token, (size_t)(d1 - token)) ||
        !b64url_chars(d1 + 1, (size_t)(d2 - d1 - 1)) ||
        !b64url_chars(d2 + 1, len - (size_t)(d2 + 1 - token)))
        return refuse("not a compact JWS", "the id token is not a signed JWT");
    json_t *header = json_part(token, (size_t)(d1 - token));
    json_t *payload = json_part(d1 + 1, (size_t)(d2 - d1 - 1));
    json_t *set = NULL;
    unsigned char *sig = NULL;
    int rc;
    if (!header || !payload) {
        rc = refuse("unreadable header or payload", "the id token is not a signed JWT");
        goto done;
    }
    const char *alg = json_string_value(json_object_get(header, "alg"));
    const char *typ = json_string_value(json_object_get(header, "typ"));
    const char *kid = json_string_value(json_object_get(header, "kid"));
    if (!alg || strcmp(alg, "RS256") != 0) {
        rc = refuse("alg is not RS256", "the id token must be signed with RS256");
        goto done;
    }
    if (json_object_get(header, "crit") || (typ && strcasecmp(typ, "JWT") != 0)) {
        rc = refuse("crit or typ", "the id token has a header this service does not accept");
        goto done;
    }
    if (!kid || !*kid) {
        rc = refuse("no kid", "the id token does not name its signing key");
        goto done;
    }
    if ((rc = rg_jwks_keys(app->jwks, false, &set)) < 0)
        goto done;
    json_t *key = find_key(set, kid);
    if (!key && rg_jwks_remote(app->jwks)) {
        json_decref(set);
        set = NULL;
        if ((rc = rg_jwks_keys(app->jwks, true, &set)) < 0)
            goto done;
        key = find_key(set, kid);
    }
    const char *kty = json_string_value(json_object_get(key, "kty"));
    const char *use = json_string_value(json_object_get(key, "use"));
    const char *kalg = json_string_value(json_object_get(key, "alg"));
    if (!key || !kty || strcmp(kty, "RSA") != 0 || (use && strcmp(use, "sig") != 0) ||
        (kalg && strcmp(kalg, "RS256") != 0)) {
        rc = refuse("unknown kid", "the id token is signed with a key this service does not know");
        goto done;
    }
    size_t slen = len - (size_t)(d2 + 1 - token);
    sig = rg_xmalloc(slen + 1);
    long siglen = slen ? rg_b64url_decode(d2 + 1, slen, sig, slen + 1) : -1;
    if (siglen <= 0 || !rs256_verify(key, token, (size_t)(d2 - token), sig, (size_t)siglen)) {
        rc = refuse("bad signature", "the id token's signature is not valid");
        goto done;
    }
    if ((rc = check_claims(payload, issuer, audience)) < 0)
        goto done;
    *claims = json_incref(payload);
    rc = 0;
done:
    free(sig);
    json_decref(set);
    json_decref(header);
    json_decref(payload);
    return rc;
}
