#include "handlers.h"

RG_HANDLER(rg_h_registration_create)
{
    json_t *out = NULL;
    int rc = rg_registration_create(app, &req->ctx, req->params[0], req->json, &out);
    if (rc == RG_PARKED) /* called again when its group is done */
        return rc;
    if (rc == 0)
        snprintf(res->location, sizeof res->location, "/v1/registrations/%lld",
                 (long long)json_integer_value(json_object_get(out, "id")));
    return rg_h_result(res, rc, 201, out);
}

RG_HANDLER(rg_h_registration_get)
{
    json_t *out = NULL;
    int rc = rg_registration_get(app, &req->ctx, req->params[0], &out);
    return rg_h_result(res, rc, 200, out);
}

RG_HANDLER(rg_h_registration_cancel)
{
    json_t *out = NULL;
    int rc = rg_registration_cancel(app, &req->ctx, req->params[0], req->json, &out);
    return rg_h_result(res, rc, 200, out);
}

RG_HANDLER(rg_h_registration_check_in)
{
    json_t *out = NULL;
    int rc = rg_registration_check_in(app, &req->ctx, req->params[0], &out);
    return rg_h_result(res, rc, 200, out);
}
