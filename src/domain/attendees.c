/* What an event's organizer sees: the attendee list (JSON or CSV by the
 * handler) and the counts of an event. */
#include "risinggen/domain/events.h"
#include "domain.h"
#include "event_record.h"
#include "registration_record.h"
#include "risinggen/base/error.h"
#include "risinggen/base/id.h"
#include "user_record.h"

#include <stdlib.h>
#include <string.h>

static int load_managed(rg_app *app, const rg_principal *who, const char *id_s, int64_t *id,
                        rg_rows **out)
{
    if (!rg_parse_id(id_s, id))
        return rg_error_set(RG_ENOTFOUND, "no such event");
    int rc = rg__event_row(app, NULL, *id, out);
    if (rc < 0)
        return rc;
    if (!rg__event_can_manage(who, *out)) {
        bool visible = rg__event_visible(who, *out);
        rg_rows_free(*out);
        *out = NULL;
        return visible ? rg_error_set(RG_EFORBIDDEN, "only the organizer or an admin can see this")
                       : rg_error_set(RG_ENOTFOUND, "no such event");
    }
    return 0;
}

int rg_event_attendees(rg_app *app, const rg_ctx *ctx, const char *id_s, const char *status,
                       const char *checked_in, const char *cursor, int limit, json_t **out)
{
    const rg_principal *who = &ctx->who;
    int64_t id, after = 0;
    rg_rows *ev;
    int rc = load_managed(app, who, id_s, &id, &ev);
    if (rc < 0)
        return rc;
    rg_rows_free(ev);
    static const char *const statuses[] = {"pending", "confirmed", "waitlisted", "cancelled"};
    if (status) {
        size_t k;
        for (k = 0; k < 4 && strcmp(status, statuses[k]) != 0; k++)
            ;
        if (k == 4)
            return rg_error_set(RG_EINVAL,
                                "status must be pending, confirmed, waitlisted or cancelled");
    }
    bool ci = false;
    if ((rc = rg__parse_bool_param("checkedIn", checked_in, &ci)) < 0)
        return rc;
    if (cursor) {
        char a[32], b[8];
        if (rg_cursor_decode(cursor, a, sizeof a, b, sizeof b) < 0 || !rg_parse_id(a, &after))
            return rg_error_set(RG_EINVAL, "the cursor is not valid");
    }
    rg_param p[] = {RG_PINT(id), RG_PTEXT(status), checked_in ? RG_PBOOL(ci) : RG_PNULL,
                    RG_PINT(after), RG_PINT(limit + 1)};
    rg_rows *rows;
    if ((rc = rg_rel_run_read(app, ctx, "event_attendees", p, 5, &rows)) < 0)
        return rc;
    json_t *items = json_array();
    int n = rows->nrows > limit ? limit : rows->nrows;
    for (int i = 0; i < n; i++) {
        json_t *reg = rg__registration_view(rows, i), *user = NULL;
        const char *uid = rg_rows_get(rows, i, "user_id");
        json_t *att = json_object();
        if (rg_oid_valid(uid) && rg__user_load(app, uid, &user) == 0) {
            json_object_set(att, "firstName", json_object_get(user, "firstName"));
            json_object_set(att, "lastName", json_object_get(user, "lastName"));
            /* The organizer of an event a person registered for reaches them
             * by email, whatever their profile shares with other people. */
            json_object_set(att, "email", json_object_get(user, "email"));
            json_decref(user);
        }
        rg_error_clear();
        json_object_set_new(reg, "attendee", att);
        json_array_append_new(items, reg);
    }
    char next[96] = "";
    if (rows->nrows > limit)
        rg_cursor_encode(rg_rows_get(rows, limit - 1, "id"), "", next, sizeof next);
    rg_rows_free(rows);
    *out = rg_list_page(items, next);
    return 0;
}

int rg_event_stats(rg_app *app, const rg_ctx *ctx, const char *id_s, json_t **out)
{
    const rg_principal *who = &ctx->who;
    int64_t id;
    rg_rows *ev;
    int rc = load_managed(app, who, id_s, &id, &ev);
    if (rc < 0)
        return rc;
    rg_rows_free(ev);
    rg_param p[] = {RG_PINT(id)};
    rg_rows *r;
    if ((rc = rg_rel_run_read(app, ctx, "event_stats", p, 1, &r)) < 0)
        return rc;
    json_t *max = rg_rows_get(r, 0, "max_participants")
                      ? json_integer(rg_rows_int(r, 0, "max_participants", 0))
                      : json_null();
    json_t *left = json_is_null(max) ? json_null()
                                     : json_integer(rg_rows_int(r, 0, "max_participants", 0) -
                                                    rg_rows_int(r, 0, "taken", 0));
    *out = json_pack("{s:I, s:o, s:I, s:I, s:I, s:I, s:I, s:o}", "eventId", (json_int_t)id,
                     "maxParticipants", max, "confirmed",
                     (json_int_t)rg_rows_int(r, 0, "confirmed", 0), "pending",
                     (json_int_t)rg_rows_int(r, 0, "pending", 0), "waitlisted",
                     (json_int_t)rg_rows_int(r, 0, "waitlisted", 0), "cancelled",
                     (json_int_t)rg_rows_int(r, 0, "cancelled", 0), "checkedIn",
                     (json_int_t)rg_rows_int(r, 0, "checked_in", 0), "spotsLeft", left);
    rg_rows_free(r);
    return 0;
}
