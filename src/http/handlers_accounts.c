/* Password reset, church sign-in, export and erasure of one's data, and the
 * audit log. */
#include "handlers.h"

RG_HANDLER(rg_h_sso)
{
    json_t *body, *out = NULL;
    int rc = rg_req_body_object(req, &body);
    if (rc == 0)
        rc = rg_auth_sso(app, body, &out);
    return rg_h_result(res, rc, 200, out);
}

RG_HANDLER(rg_h_password_reset)
{
    json_t *body;
    int rc = rg_req_body_object(req, &body);
    if (rc == 0)
        rc = rg_auth_password_reset(app, body);
    if (rc < 0)
        return rc;
    /* The same answer whether or not the email has an account. */
    return rg_reply_json(
        res, 202,
        json_pack("{s:s}", "message", "if an account uses this email, a reset code is on its way"));
}

RG_HANDLER(rg_h_password_reset_confirm)
{
    json_t *body;
    int rc = rg_req_body_object(req, &body);
    if (rc == 0)
        rc = rg_auth_password_reset_confirm(app, &req->ctx, body);
    return rc < 0 ? rc : rg_reply_empty(res, 204);
}

RG_HANDLER(rg_h_me_export)
{
    json_t *out = NULL;
    int rc = rg_user_export(app, &req->ctx, &out);
    if (rc == 0)
        snprintf(res->extra_header, sizeof res->extra_header,
                 "Content-Disposition:attachment; filename=\"risinggen-export.json\"");
    return rg_h_result(res, rc, 200, out);
}

RG_HANDLER(rg_h_me_delete)
{
    int rc = rg_user_erase(app, &req->ctx);
    return rc < 0 ? rc : rg_reply_empty(res, 204);
}

RG_HANDLER(rg_h_audit_list)
{
    json_t *out = NULL;
    rg_audit_query q = {.action = rg_req_arg(req, "action"),
                        .actor = rg_req_arg(req, "actor"),
                        .from = rg_req_arg(req, "from"),
                        .to = rg_req_arg(req, "to"),
                        .cursor = rg_req_arg(req, "cursor")};
    int rc = rg_req_limit(req, &q.limit);
    if (rc == 0)
        rc = rg_audit_list(app, &req->ctx, &q, &out);
    return rg_h_result(res, rc, 200, out);
}
