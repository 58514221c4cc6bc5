#include "handlers.h"
#include "risinggen/base/metrics.h"
#include "risinggen/base/buf.h"
#include "risinggen/base/error.h"
#include "risinggen/domain/auth.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int rg_h_result(rg_response *res, int rc, int status, json_t *out)
{
    if (rc < 0) {
        json_decref(out);
        return rc;
    }
    return rg_reply_json(res, status, out);
}

RG_HANDLER(rg_h_healthz)
{
    (void)app, (void)req;
    return rg_reply_json(res, 200, json_pack("{s:s}", "status", "ok"));
}

RG_HANDLER(rg_h_readyz)
{
    (void)req;
    json_t *stores;
    int rc = rg_app_ready(app, &stores);
    return rg_reply_json(
        res, rc < 0 ? 503 : 200,
        json_pack("{s:s, s:o}", "status", rc < 0 ? "unavailable" : "ready", "stores", stores));
}

static bool loopback(const char *addr)
{
    return strncmp(addr, "127.", 4) == 0 || strcmp(addr, "::1") == 0;
}

/* Who may read /metrics: a request bearing RG_METRICS_TOKEN or an admin's
 * access token, from anywhere; without RG_METRICS_TOKEN, also a request
 * from the loopback that no proxy forwarded (a scraper on the same host):
 * a local proxy that is not in RG_PROXY_ADDRESSES makes every client look
 * local, and its forwarding headers say so. Others are told nothing exists
 * here, or, when they sent a token, that it does not open it. */
RG_HANDLER(rg_h_metrics)
{
    const char *want = app->cfg->metrics_token;
    bool has_want = want && *want;
    const char *authz = rg_req_header(req, MHD_HTTP_HEADER_AUTHORIZATION);
    const char *bearer = authz && strncasecmp(authz, "Bearer ", 7) == 0 ? authz + 7 : NULL;
    bool forwarded = rg_req_header(req, "X-Forwarded-For") || rg_req_header(req, "Forwarded") ||
                     rg_req_header(req, "X-Real-IP");
    bool ok = !has_want && !forwarded && loopback(req->ctx.client);
    if (!ok && bearer && has_want && strlen(bearer) == strlen(want) &&
        sodium_memcmp(bearer, want, strlen(want)) == 0)
        ok = true;
    if (!ok && bearer && rg_auth_begin(app, bearer, &req->ctx) == 0)
        ok = (req->ctx.who.roles & RG_ROLE_ADMIN) != 0;
    rg_error_clear();
    if (!ok && (authz || has_want)) {
        req->token = authz; /* for WWW-Authenticate's error="invalid_token" */
        return rg_error_set(RG_EUNAUTH, "send Authorization: Bearer <RG_METRICS_TOKEN> or an "
                                        "admin's access token");
    }
    if (!ok)
        return rg_error_set(RG_ENOTFOUND, "no route GET /metrics");
    rg_buf b = {0};
    rg_metrics_render(&b);
    res->status = 200;
    res->len = b.len;
    res->body = rg_buf_steal(&b);
    res->content_type = "text/plain; version=0.0.4";
    return 0;
}
