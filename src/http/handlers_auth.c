#include "handlers.h"

RG_HANDLER(rg_h_signup)
{
    json_t *body, *out = NULL;
    int rc = rg_req_body_object(req, &body);
    if (rc == 0)
        rc = rg_auth_signup(app, body, &out);
    if (rc == 0)
        snprintf(res->location, sizeof res->location, "/v1/users/%s",
                 json_string_value(json_object_get(json_object_get(out, "user"), "id")));
    return rg_h_result(res, rc, 201, out);
}

RG_HANDLER(rg_h_login)
{
    json_t *body, *out = NULL;
    int rc = rg_req_body_object(req, &body);
    if (rc == 0)
        rc = rg_auth_login(app, &req->ctx, body, &out);
    return rg_h_result(res, rc, 200, out);
}

RG_HANDLER(rg_h_refresh)
{
    json_t *body, *out = NULL;
    int rc = rg_req_body_object(req, &body);
    if (rc == 0)
        rc = rg_auth_refresh(app, body, &out);
    return rg_h_result(res, rc, 200, out);
}

RG_HANDLER(rg_h_logout)
{
    int rc = rg_auth_logout(app, req->token, req->json);
    return rc < 0 ? rc : rg_reply_empty(res, 204);
}
