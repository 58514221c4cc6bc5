/* Feedback (documents store): feedback/<id>: {schemaVersion, key
 * "<eventId>:<userId>" (unique: one per attendee and event), eventId,
 * userId, rating 1..5, comment, createdAt}. Only confirmed or checked-in
 * attendees write it, once the event has started; the organizer reads a
 * summary and the items. */
#include "risinggen/domain/content.h"
#include "channel_record.h"
#include "domain.h"
#include "event_record.h"
#include "risinggen/base/clock.h"
#include "risinggen/base/error.h"
#include "risinggen/base/id.h"
#include "risinggen/base/log.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FEEDBACK_SCHEMA_VERSION 1
#define SUMMARY_PAGE            500

static const char *const feedback_fields[] = {"rating", "comment", NULL};

static int check_feedback(json_t *d)
{
    json_int_t rating = json_integer_value(json_object_get(d, "rating"));
    json_t *comment = json_object_get(d, "comment");
    bool ok = json_integer_value(json_object_get(d, "schemaVersion")) == FEEDBACK_SCHEMA_VERSION &&
              rg__json_is_str(d, "key") && json_is_integer(json_object_get(d, "eventId")) &&
              rg_oid_valid(json_string_value(json_object_get(d, "userId"))) && rating >= 1 &&
              rating <= 5 && (json_is_null(comment) || json_is_string(comment)) &&
              rg__json_is_str(d, "createdAt");
    if (!ok) {
        rg_err("refusing to write a feedback document of the wrong shape");
        return rg_error_set(RG_EINTERNAL, "internal error");
    }
    return 0;
}

int rg_feedback_create(rg_app *app, const rg_ctx *ctx, const char *event_id, json_t *body,
                       json_t **out)
{
    const rg_principal *who = &ctx->who;
    int64_t eid;
    if (!rg_parse_id(event_id, &eid))
        return rg_error_set(RG_ENOTFOUND, "no such event");
    rg_rows *ev;
    int rc = rg__event_row(app, NULL, eid, &ev);
    if (rc < 0)
        return rc;
    bool visible = rg__event_visible(who, ev);
    char start[RG_TIME_LEN + 1];
    snprintf(start, sizeof start, "%s", rg_rows_get(ev, 0, "start_date"));
    rg_rows_free(ev);
    if (!visible)
        return rg_error_set(RG_ENOTFOUND, "no such event");
    if (!json_is_object(body))
        return v_not_object(body);
    v_ctx v = {0};
    v_only(&v, body, feedback_fields);
    int64_t rating = 0;
    const char *comment = NULL;
    v_int(&v, body, "rating", true, 1, 5, &rating, NULL);
    v_string(&v, body, "comment", false, 0, 2000, &comment);
    if ((rc = v_finish(&v)) < 0)
        return rc;
    rg_param p[] = {RG_PINT(eid), RG_PTEXT(who->user_id)};
    rg_rows *reg;
    if ((rc = rg_rel_run(app, "comms_registration_of", p, 2, &reg)) < 0)
        return rc;
    bool attended = reg->nrows > 0 && (strcmp(rg_rows_get(reg, 0, "status"), "confirmed") == 0 ||
                                       rg_rows_bool(reg, 0, "checked_in"));
    rg_rows_free(reg);
    if (!attended)
        return rg_error_set(RG_EFORBIDDEN,
                            "only attendees with a confirmed registration or a check-in give "
                            "feedback");
    char now[RG_TIME_LEN + 1];
    rg_time_format(rg_now(), now);
    if (strcmp(now, start) < 0)
        return rg_error_set(RG_EUNPROCESSABLE, "feedback opens when the event starts (%s)", start);
    char id[RG_OID_LEN + 1], key[64];
    rg_oid_new(id);
    snprintf(key, sizeof key, "%lld:%s", (long long)eid, who->user_id);
    json_t *doc =
        json_pack("{s:i, s:s, s:I, s:s, s:I, s:s?, s:s}", "schemaVersion", FEEDBACK_SCHEMA_VERSION,
                  "key", key, "eventId", (json_int_t)eid, "userId", who->user_id, "rating",
                  (json_int_t)rating, "comment", comment, "createdAt", now);
    if (!json_object_get(doc, "comment"))
        json_object_set_new(doc, "comment", json_null());
    if ((rc = check_feedback(doc)) == 0)
        rc = rg_docs_insert(&app->st.docs, COLL_FEEDBACK, id, doc);
    if (rc == RG_ECONFLICT)
        rc = rg_error_set(RG_ECONFLICT, "you have already given feedback on this event");
    if (rc == 0)
        *out = rg__doc_view(id, doc);
    json_decref(doc);
    return rc;
}

/* count, average and histogram over every feedback of the event. */
static int feedback_summary(rg_app *app, int64_t eid, json_t **out)
{
    rg_doc_filter f = {.path = "eventId", .is_int = true, .ival = eid};
    int64_t hist[6] = {0}, count = 0, sum = 0;
    char after[RG_OID_LEN + 1] = "";
    for (;;) {
        json_t *arr;
        int rc = rg_docs_find(&app->st.docs, COLL_FEEDBACK,
                              &(rg_doc_query){.filters = &f,
                                              .nfilters = 1,
                                              .after_id = after[0] ? after : NULL,
                                              .limit = SUMMARY_PAGE},
                              &arr);
        if (rc < 0)
            return rc;
        size_t i;
        json_t *it;
        json_array_foreach(arr, i, it)
        {
            json_int_t r =
                json_integer_value(json_object_get(json_object_get(it, "doc"), "rating"));
            if (r >= 1 && r <= 5) {
                hist[r]++;
                count++;
                sum += r;
            }
            snprintf(after, sizeof after, "%s", json_string_value(json_object_get(it, "id")));
        }
        size_t n = json_array_size(arr);
        json_decref(arr);
        if (n < SUMMARY_PAGE)
            break;
    }
    json_t *avg = count ? json_real(round((double)sum * 10.0 / (double)count) / 10.0) : json_null();
    *out =
        json_pack("{s:I, s:o, s:{s:I, s:I, s:I, s:I, s:I}}", "count", (json_int_t)count, "average",
                  avg, "histogram", "1", (json_int_t)hist[1], "2", (json_int_t)hist[2], "3",
                  (json_int_t)hist[3], "4", (json_int_t)hist[4], "5", (json_int_t)hist[5]);
    return 0;
}

int rg_feedback_list(rg_app *app, const rg_ctx *ctx, const char *event_id, const char *cursor,
                     int limit, json_t **out)
{
    const rg_principal *who = &ctx->who;
    int64_t eid;
    if (!rg_parse_id(event_id, &eid))
        return rg_error_set(RG_ENOTFOUND, "no such event");
    char after[RG_OID_LEN + 8] = "", unused[8];
    if (cursor && (rg_cursor_decode(cursor, after, sizeof after, unused, sizeof unused) < 0 ||
                   !rg_oid_valid(after)))
        return rg_error_set(RG_EINVAL, "the cursor is not valid");
    rg_rows *ev;
    int rc = rg__event_row(app, NULL, eid, &ev);
    if (rc < 0)
        return rc;
    bool mine = rg__event_can_manage(who, ev), visible = rg__event_visible(who, ev);
    rg_rows_free(ev);
    if (!mine)
        return visible ? rg_error_set(RG_EFORBIDDEN, "only the organizer or an admin can see this")
                       : rg_error_set(RG_ENOTFOUND, "no such event");
    json_t *summary;
    if ((rc = feedback_summary(app, eid, &summary)) < 0)
        return rc;
    rg_doc_filter f = {.path = "eventId", .is_int = true, .ival = eid};
    json_t *arr;
    rc = rg_docs_find(&app->st.docs, COLL_FEEDBACK,
                      &(rg_doc_query){.filters = &f,
                                      .nfilters = 1,
                                      .desc = true,
                                      .after_id = cursor ? after : NULL,
                                      .limit = limit + 1},
                      &arr);
    if (rc < 0) {
        json_decref(summary);
        return rc;
    }
    json_t *items = json_array();
    size_t n = json_array_size(arr);
    for (size_t i = 0; i < n && i < (size_t)limit; i++) {
        json_t *it = json_array_get(arr, i);
        json_array_append_new(items, rg__doc_view(json_string_value(json_object_get(it, "id")),
                                                  json_object_get(it, "doc")));
    }
    char next[96] = "";
    if (n > (size_t)limit)
        rg_cursor_encode(
            json_string_value(json_object_get(json_array_get(arr, (size_t)limit - 1), "id")), "",
            next, sizeof next);
    json_decref(arr);
    json_t *page = rg_list_page(items, next);
    json_object_set_new(page, "eventId", json_integer(eid));
    json_object_set_new(page, "summary", summary);
    *out = page;
    return 0;
}
