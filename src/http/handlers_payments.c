/* Payments, refunds, provider webhooks, payment history, event finance. */
#include "handlers.h"

#include <stdlib.h>
#include <string.h>

/* Sends an answer that was stored with its Idempotency-Key (or is being
 * stored now) exactly as it was written. */
static int reply_saved(rg_response *res, rg_saved_reply *saved, bool location)
{
    res->status = saved->status;
    res->body = saved->body;
    res->len = strlen(saved->body);
    res->content_type = "application/json";
    saved->body = NULL;
    if (location && saved->id > 0)
        snprintf(res->location, sizeof res->location, "/v1/payments/%lld", (long long)saved->id);
    if (saved->replayed)
        snprintf(res->extra_header, sizeof res->extra_header, "Idempotent-Replayed:true");
    return 0;
}

RG_HANDLER(rg_h_payment_create)
{
    rg_saved_reply saved;
    int rc =
        rg_payment_create(app, &req->ctx, rg_req_header(req, "Idempotency-Key"), req->json, &saved);
    if (rc < 0)
        return rc;
    return reply_saved(res, &saved, true);
}

RG_HANDLER(rg_h_payment_get)
{
    json_t *out = NULL;
    int rc = rg_payment_get(app, &req->ctx, req->params[0], &out);
    return rg_h_result(res, rc, 200, out);
}

RG_HANDLER(rg_h_payment_refund)
{
    rg_saved_reply saved;
    int rc = rg_payment_refund(app, &req->ctx, req->params[0],
                               rg_req_header(req, "Idempotency-Key"), req->json, &saved);
    if (rc < 0)
        return rc;
    return reply_saved(res, &saved, false);
}

RG_HANDLER(rg_h_payment_webhook)
{
    json_t *out = NULL;
    int rc =
        rg_payment_webhook(app, req->params[0], rg_req_header(req, "X-RisingGen-Signature"),
                           req->body.data ? req->body.data : "", req->body.len, req->json, &out);
    return rg_h_result(res, rc, 200, out);
}

RG_HANDLER(rg_h_user_payments)
{
    json_t *out = NULL;
    int limit;
    int rc = rg_req_limit(req, &limit);
    if (rc == 0)
        rc = rg_user_payments(app, &req->ctx, req->params[0], rg_req_arg(req, "cursor"), limit,
                              &out);
    return rg_h_result(res, rc, 200, out);
}

RG_HANDLER(rg_h_event_finance)
{
    json_t *out = NULL;
    int rc = rg_event_finance(app, &req->ctx, req->params[0], &out);
    return rg_h_result(res, rc, 200, out);
}
