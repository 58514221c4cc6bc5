/* A church sign-in id token, verified against a fixed issuer, audience and
 * key set: the three base64url parts, the header and payload JSON, the
 * algorithm and key choice and the RS256 check. */
#include "domain.h"
#include "sso_token.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static rg_app app;
static rg_config cfg;

static void init(void)
{
    rg_config_defaults(&cfg);
    rg_config_set(&cfg, "RG_SSO_ISSUER", "https://church.example");
    rg_config_set(&cfg, "RG_SSO_AUDIENCE", "risinggen");
    rg_config_set(&cfg, "RG_SSO_JWKS", RG_FUZZ_DIR "/sso_jwks.json");
    app.cfg = &cfg;
    if (rg_jwks_open(&app.jwks, cfg.sso_jwks) < 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!app.cfg)
        init();
    char *tok = malloc(size + 1);
    memcpy(tok, data, size);
    tok[size] = '\0';
    json_t *claims = NULL;
    if (rg__sso_verify(&app, tok, &claims) == 0)
        json_decref(claims);
    rg_error_clear();
    free(tok);
    return 0;
}
