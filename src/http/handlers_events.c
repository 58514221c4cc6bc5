#include "handlers.h"
#include "risinggen/base/error.h"
#include "risinggen/base/alloc.h"
#include "risinggen/base/buf.h"
#include "risinggen/base/csv.h"

#include <stdlib.h>
#include <string.h>

RG_HANDLER(rg_h_venue_create)
{
    json_t *body, *out = NULL;
    int rc = rg_req_body_object(req, &body);
    if (rc == 0)
        rc = rg_venue_create(app, &req->ctx, body, &out);
    if (rc == 0)
        snprintf(res->location, sizeof res->location, "/v1/venues/%lld",
                 (long long)json_integer_value(json_object_get(out, "id")));
    return rg_h_result(res, rc, 201, out);
}

RG_HANDLER(rg_h_venue_list)
{
    json_t *out = NULL;
    int limit;
    int rc = rg_req_limit(req, &limit);
    if (rc == 0)
        rc = rg_venue_list(app, &req->ctx, rg_req_arg(req, "city"), rg_req_arg(req, "cursor"),
                           limit, &out);
    return rg_h_result(res, rc, 200, out);
}

RG_HANDLER(rg_h_venue_get)
{
    json_t *out = NULL;
    int rc = rg_venue_get(app, &req->ctx, req->params[0], &out);
    return rg_h_result(res, rc, 200, out);
}

RG_HANDLER(rg_h_event_create)
{
    json_t *body, *out = NULL;
    int rc = rg_req_body_object(req, &body);
    if (rc == 0)
        rc = rg_event_create(app, &req->ctx, body, &out);
    if (rc == 0)
        snprintf(res->location, sizeof res->location, "/v1/events/%lld",
                 (long long)json_integer_value(json_object_get(out, "id")));
    return rg_h_result(res, rc, 201, out);
}

RG_HANDLER(rg_h_event_list)
{
    rg_event_query q = {
        .q = rg_req_arg(req, "q"),
        .type = rg_req_arg(req, "type"),
        .city = rg_req_arg(req, "city"),
        .country = rg_req_arg(req, "country"),
        .from = rg_req_arg(req, "from"),
        .to = rg_req_arg(req, "to"),
        .near = rg_req_arg(req, "near"),
        .radius_km = rg_req_arg(req, "radiusKm"),
        .has_spots = rg_req_arg(req, "hasSpots"),
        .featured = rg_req_arg(req, "featured"),
        .cursor = rg_req_arg(req, "cursor"),
        .sort = rg_req_arg(req, "sort"),
    };
    if (q.radius_km && !q.near)
        return rg_error_set(RG_EINVAL, "radiusKm needs near=lat,lng");
    int rc = rg_req_limit(req, &q.limit);
    if (rc == 0)
        rc = rg_event_list_text(app, &req->ctx, &q, &res->body, &res->len);
    if (rc < 0)
        return rc;
    res->status = 200;
    res->content_type = "application/json";
    return 0;
}

RG_HANDLER(rg_h_event_get)
{
    int rc = rg_event_get_text(app, &req->ctx, req->params[0], &res->body, &res->len);
    if (rc < 0)
        return rc;
    res->status = 200;
    res->content_type = "application/json";
    return 0;
}

RG_HANDLER(rg_h_event_patch)
{
    json_t *body, *out = NULL;
    int rc = rg_req_body_object(req, &body);
    if (rc == 0)
        rc = rg_event_patch(app, &req->ctx, req->params[0], body, &out);
    return rg_h_result(res, rc, 200, out);
}

static const char *jstr(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void csv_row(rg_buf *b, json_t *reg)
{
    char id[32];
    snprintf(id, sizeof id, "%lld", (long long)json_integer_value(json_object_get(reg, "id")));
    json_t *att = json_object_get(reg, "attendee");
    json_t *gc = json_object_get(reg, "guardianConsent");
    rg_csv_field(b, id, false);
    rg_csv_field(b, jstr(reg, "userId"), false);
    rg_csv_field(b, jstr(att, "firstName"), false);
    rg_csv_field(b, jstr(att, "lastName"), false);
    rg_csv_field(b, jstr(att, "email"), false);
    rg_csv_field(b, jstr(reg, "status"), false);
    rg_csv_field(b, jstr(reg, "paymentStatus"), false);
    rg_csv_field(b, jstr(reg, "dietaryRequirements"), false);
    rg_csv_field(b, jstr(reg, "specialNeeds"), false);
    rg_csv_field(b, json_is_true(json_object_get(reg, "checkedIn")) ? "true" : "false", false);
    rg_csv_field(b, jstr(reg, "checkedInAt"), false);
    rg_csv_field(b, jstr(reg, "registrationDate"), false);
    rg_csv_field(b, jstr(gc, "guardianName"), false);
    rg_csv_field(b, jstr(gc, "guardianEmail"), false);
    rg_csv_field(b, jstr(gc, "relationship"), false);
    rg_csv_field(b, jstr(gc, "consentedAt"), true);
}

static bool wants_csv(rg_request *req)
{
    const char *accept = rg_req_header(req, MHD_HTTP_HEADER_ACCEPT);
    const char *format = rg_req_arg(req, "format");
    return (accept && strstr(accept, "text/csv")) || (format && strcmp(format, "csv") == 0);
}

RG_HANDLER(rg_h_event_attendees)
{
    const char *status = rg_req_arg(req, "status"), *checked_in = rg_req_arg(req, "checkedIn");
    json_t *out = NULL;
    int limit;
    int rc = rg_req_limit(req, &limit);
    if (rc < 0)
        return rc;
    if (!wants_csv(req)) {
        rc = rg_event_attendees(app, &req->ctx, req->params[0], status, checked_in,
                                rg_req_arg(req, "cursor"), limit, &out);
        return rg_h_result(res, rc, 200, out);
    }
    /* CSV is the whole list, page after page. */
    rg_buf b = {0};
    rg_buf_puts(&b, "registrationId,userId,firstName,lastName,email,status,paymentStatus,"
                    "dietaryRequirements,specialNeeds,checkedIn,checkedInAt,registrationDate,"
                    "guardianName,guardianEmail,guardianRelationship,guardianConsentedAt\r\n");
    char *cursor = NULL;
    do {
        rc = rg_event_attendees(app, &req->ctx, req->params[0], status, checked_in, cursor, 100,
                                &out);
        free(cursor);
        cursor = NULL;
        if (rc < 0)
            break;
        size_t i;
        json_t *reg;
        json_array_foreach(json_object_get(out, "items"), i, reg) csv_row(&b, reg);
        const char *next = jstr(out, "nextCursor");
        cursor = next ? rg_xstrdup(next) : NULL;
        json_decref(out);
    } while (cursor);
    if (rc < 0) {
        rg_buf_free(&b);
        return rc;
    }
    res->status = 200;
    res->len = b.len;
    res->body = rg_buf_steal(&b);
    res->content_type = "text/csv; charset=utf-8";
    snprintf(res->extra_header, sizeof res->extra_header,
             "Content-Disposition:attachment; filename=\"attendees.csv\"");
    return 0;
}

RG_HANDLER(rg_h_event_stats)
{
    json_t *out = NULL;
    int rc = rg_event_stats(app, &req->ctx, req->params[0], &out);
    return rg_h_result(res, rc, 200, out);
}
