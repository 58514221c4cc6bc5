#include "handlers.h"

RG_HANDLER(rg_h_me_get)
{
    json_t *out = NULL;
    int rc = rg_user_get_me(app, &req->ctx, &out);
    return rg_h_result(res, rc, 200, out);
}

RG_HANDLER(rg_h_me_patch)
{
    json_t *body, *out = NULL;
    int rc = rg_req_body_object(req, &body);
    if (rc == 0)
        rc = rg_user_patch_me(app, &req->ctx, body, &out);
    return rg_h_result(res, rc, 200, out);
}

RG_HANDLER(rg_h_user_get)
{
    json_t *out = NULL;
    int rc = rg_user_get(app, &req->ctx, req->params[0], &out);
    return rg_h_result(res, rc, 200, out);
}

RG_HANDLER(rg_h_user_patch)
{
    json_t *body, *out = NULL;
    int rc = rg_req_body_object(req, &body);
    if (rc == 0)
        rc = rg_user_set_roles(app, &req->ctx, req->params[0], body, &out);
    return rg_h_result(res, rc, 200, out);
}

RG_HANDLER(rg_h_user_registrations)
{
    json_t *out = NULL;
    int limit;
    int rc = rg_req_limit(req, &limit);
    if (rc == 0)
        rc = rg_user_registrations(app, &req->ctx, req->params[0], rg_req_arg(req, "cursor"), limit,
                                   &out);
    return rg_h_result(res, rc, 200, out);
}

RG_HANDLER(rg_h_user_preferences)
{
    json_t *out = NULL;
    int rc = rg_user_preferences(app, &req->ctx, req->params[0], &out);
    return rg_h_result(res, rc, 200, out);
}
