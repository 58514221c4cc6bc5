/* Channels, messages, resources, feedback and search. */
#include "handlers.h"
#include "risinggen/base/error.h"

#include <stdio.h>
#include <string.h>

static void location(rg_response *res, const char *prefix, json_t *out)
{
    snprintf(res->location, sizeof res->location, "%s/%s", prefix,
             json_string_value(json_object_get(out, "id")));
}

RG_HANDLER(rg_h_channel_create)
{
    json_t *body, *out = NULL;
    int rc = rg_req_body_object(req, &body);
    if (rc == 0)
        rc = rg_channel_create(app, &req->ctx, body, &out);
    if (rc == 0)
        location(res, "/v1/channels", out);
    return rg_h_result(res, rc, 201, out);
}

RG_HANDLER(rg_h_channel_get)
{
    json_t *out = NULL;
    int rc = rg_channel_get(app, &req->ctx, req->params[0], &out);
    return rg_h_result(res, rc, 200, out);
}

RG_HANDLER(rg_h_event_channel)
{
    json_t *out = NULL;
    int rc = rg_event_channel(app, &req->ctx, req->params[0], &out);
    return rg_h_result(res, rc, 200, out);
}

RG_HANDLER(rg_h_message_list)
{
    json_t *out = NULL;
    int limit;
    int rc = rg_req_limit(req, &limit);
    if (rc == 0)
        rc =
            rg_message_list(app, &req->ctx, req->params[0], rg_req_arg(req, "cursor"), limit, &out);
    return rg_h_result(res, rc, 200, out);
}

RG_HANDLER(rg_h_message_post)
{
    json_t *body, *out = NULL;
    int rc = rg_req_body_object(req, &body);
    if (rc == 0)
        rc = rg_message_post(app, &req->ctx, req->params[0], body, &out);
    if (rc == 0)
        location(res, "/v1/messages", out);
    return rg_h_result(res, rc, 201, out);
}

RG_HANDLER(rg_h_message_get)
{
    json_t *out = NULL;
    int rc = rg_message_get(app, &req->ctx, req->params[0], &out);
    return rg_h_result(res, rc, 200, out);
}

RG_HANDLER(rg_h_message_read)
{
    json_t *out = NULL;
    int rc = rg_message_read(app, &req->ctx, req->params[0], &out);
    return rg_h_result(res, rc, 200, out);
}

RG_HANDLER(rg_h_resource_create)
{
    json_t *body, *out = NULL;
    int rc = rg_req_body_object(req, &body);
    if (rc == 0)
        rc = rg_resource_create(app, &req->ctx, body, &out);
    if (rc == 0)
        location(res, "/v1/resources", out);
    return rg_h_result(res, rc, 201, out);
}

RG_HANDLER(rg_h_resource_get)
{
    json_t *out = NULL;
    int rc = rg_resource_get(app, &req->ctx, req->params[0], &out);
    return rg_h_result(res, rc, 200, out);
}

RG_HANDLER(rg_h_resource_patch)
{
    json_t *body, *out = NULL;
    int rc = rg_req_body_object(req, &body);
    if (rc == 0)
        rc = rg_resource_patch(app, &req->ctx, req->params[0], body, &out);
    return rg_h_result(res, rc, 200, out);
}

RG_HANDLER(rg_h_resource_delete)
{
    int rc = rg_resource_delete(app, &req->ctx, req->params[0]);
    if (rc < 0)
        return rc;
    return rg_reply_empty(res, 204);
}

RG_HANDLER(rg_h_feedback_create)
{
    json_t *body, *out = NULL;
    int rc = rg_req_body_object(req, &body);
    if (rc == 0)
        rc = rg_feedback_create(app, &req->ctx, req->params[0], body, &out);
    return rg_h_result(res, rc, 201, out);
}

RG_HANDLER(rg_h_feedback_list)
{
    json_t *out = NULL;
    int limit;
    int rc = rg_req_limit(req, &limit);
    if (rc == 0)
        rc = rg_feedback_list(app, &req->ctx, req->params[0], rg_req_arg(req, "cursor"), limit,
                              &out);
    return rg_h_result(res, rc, 200, out);
}

RG_HANDLER(rg_h_search)
{
    json_t *out = NULL;
    int limit;
    int rc = rg_req_limit(req, &limit);
    if (rc == 0)
        rc = rg_search_all(app, &req->ctx, rg_req_arg(req, "q"), rg_req_arg(req, "types"),
                           rg_req_arg(req, "cursor"), limit, &out);
    return rg_h_result(res, rc, 200, out);
}
