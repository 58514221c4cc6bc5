/* Venues (relational): where events happen, with coordinates for `near`. */
#include "risinggen/domain/venues.h"
#include "domain.h"
#include "risinggen/base/clock.h"
#include "risinggen/base/error.h"

#include <string.h>

static json_t *venue_view(const rg_rows *r, int i)
{
    json_t *v = json_pack(
        "{s:I, s:s, s:s?, s:s, s:s, s:s?, s:o, s:o, s:o, s:s, s:s, s:s}", "id",
        (json_int_t)rg_rows_int(r, i, "id", 0), "name", rg_rows_get(r, i, "name"), "street",
        rg_rows_get(r, i, "street"), "city", rg_rows_get(r, i, "city"), "country",
        rg_rows_get(r, i, "country"), "postalCode", rg_rows_get(r, i, "postal_code"), "lat",
        rg_rows_get(r, i, "lat") ? json_real(rg_rows_real(r, i, "lat", 0)) : json_null(), "lng",
        rg_rows_get(r, i, "lng") ? json_real(rg_rows_real(r, i, "lng", 0)) : json_null(),
        "capacity",
        rg_rows_get(r, i, "capacity") ? json_integer(rg_rows_int(r, i, "capacity", 0))
                                      : json_null(),
        "createdBy", rg_rows_get(r, i, "created_by"), "createdAt", rg_rows_get(r, i, "created_at"),
        "updatedAt", rg_rows_get(r, i, "updated_at"));
    return v;
}

int rg_venue_create(rg_app *app, const rg_ctx *ctx, json_t *body, json_t **out)
{
    const rg_principal *who = &ctx->who;
    if (!(who->roles & (RG_ROLE_ORGANIZER | RG_ROLE_ADMIN)))
        return rg_error_set(RG_EFORBIDDEN, "only organizers and admins create venues");
    if (!json_is_object(body))
        return v_not_object(body);
    v_ctx v = {0};
    const char *name = NULL, *street = NULL, *city = NULL, *country = NULL, *postal = NULL;
    double lat = 0, lng = 0;
    bool has_lat = false, has_lng = false, has_cap = false;
    int64_t cap = 0;
    v_string(&v, body, "name", true, 1, 255, &name);
    v_string(&v, body, "street", false, 1, 255, &street);
    v_string(&v, body, "city", true, 1, 120, &city);
    v_string(&v, body, "country", true, 2, 120, &country);
    v_string(&v, body, "postalCode", false, 1, 32, &postal);
    v_real(&v, body, "lat", false, -90, 90, &lat, &has_lat);
    v_real(&v, body, "lng", false, -180, 180, &lng, &has_lng);
    v_int(&v, body, "capacity", false, 0, 10000000, &cap, &has_cap);
    if (has_lat != has_lng)
        v_fail(&v, has_lat ? "lng" : "lat", "lat and lng go together");
    int rc = v_finish(&v);
    if (rc < 0)
        return rc;
    char now[RG_TIME_LEN + 1];
    rg_time_format(rg_now(), now);
    rg_param p[] = {RG_PTEXT(name),
                    RG_PTEXT(street),
                    RG_PTEXT(city),
                    RG_PTEXT(country),
                    RG_PTEXT(postal),
                    has_lat ? RG_PREAL(lat) : RG_PNULL,
                    has_lng ? RG_PREAL(lng) : RG_PNULL,
                    has_cap ? RG_PINT(cap) : RG_PNULL,
                    RG_PTEXT(who->user_id),
                    RG_PTEXT(now)};
    rg_rows *rows;
    if ((rc = rg_rel_run(app, "venue_insert", p, 10, &rows)) < 0)
        return rc;
    *out = venue_view(rows, 0);
    rg_rows_free(rows);
    return 0;
}

int rg_venue_get(rg_app *app, const rg_ctx *ctx, const char *id, json_t **out)
{
    int64_t vid;
    if (!rg_parse_id(id, &vid))
        return rg_error_set(RG_ENOTFOUND, "no such venue");
    rg_param p[] = {RG_PINT(vid)};
    rg_rows *rows;
    int rc = rg_rel_run(app, "venue_get", p, 1, &rows);
    if (rc < 0)
        return rc;
    if (rows->nrows == 0) {
        rg_rows_free(rows);
        return rg_error_set(RG_ENOTFOUND, "no such venue");
    }
    *out = venue_view(rows, 0);
    rg_rows_free(rows);
    return 0;
}

int rg_venue_list(rg_app *app, const rg_ctx *ctx, const char *city, const char *cursor, int limit,
                  json_t **out)
{
    int64_t after = 0;
    if (cursor) {
        char a[32], b[8];
        if (rg_cursor_decode(cursor, a, sizeof a, b, sizeof b) < 0 || !rg_parse_id(a, &after))
            return rg_error_set(RG_EINVAL, "the cursor is not valid");
    }
    rg_param p[] = {RG_PTEXT(city), RG_PINT(after), RG_PINT(limit + 1)};
    rg_rows *rows;
    int rc = rg_rel_run_read(app, ctx, "venue_list", p, 3, &rows);
    if (rc < 0)
        return rc;
    json_t *items = json_array();
    int n = rows->nrows > limit ? limit : rows->nrows;
    for (int i = 0; i < n; i++)
        json_array_append_new(items, venue_view(rows, i));
    char next[96] = "";
    if (rows->nrows > limit)
        rg_cursor_encode(rg_rows_get(rows, limit - 1, "id"), "", next, sizeof next);
    rg_rows_free(rows);
    *out = rg_list_page(items, next);
    return 0;
}
