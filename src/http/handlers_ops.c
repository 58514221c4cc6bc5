#include "handlers.h"
#include "risinggen/base/metrics.h"
#include "risinggen/base/buf.h"

#include <stdlib.h>

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

RG_HANDLER(rg_h_metrics)
{
    (void)app, (void)req;
    rg_buf b = {0};
    rg_metrics_render(&b);
    res->status = 200;
    res->len = b.len;
    res->body = rg_buf_steal(&b);
    res->content_type = "text/plain; version=0.0.4";
    return 0;
}
