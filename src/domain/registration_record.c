/* A registration row as the domain's modules share it, and the waiting
 * list rule that any change freeing a place applies. */
#include "registration_record.h"
#include "risinggen/base/clock.h"
#include "risinggen/base/log.h"

#include <stdlib.h>

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

json_t *rg__registration_view(const rg_rows *r, int i)
{
    json_t *consent = json_null();
    const char *gc = rg_rows_get(r, i, "guardian_consent");
    if (gc) {
        json_t *x = json_loads(gc, 0, NULL);
        if (x)
            consent = x;
    }
    const char *pid = rg_rows_get(r, i, "payment_id");
    return json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:b, s:o, s:o, s:o, s:o, "
                     "s:o}",
                     "id", (json_int_t)rg_rows_int(r, i, "id", 0), "eventId",
                     (json_int_t)rg_rows_int(r, i, "event_id", 0), "userId",
                     rg_rows_get(r, i, "user_id"), "registrationDate",
                     rg_rows_get(r, i, "registration_date"), "status", rg_rows_get(r, i, "status"),
                     "paymentStatus", rg_rows_get(r, i, "payment_status"), "paymentId",
                     pid ? json_integer(strtoll(pid, NULL, 10)) : json_null(),
                     "dietaryRequirements", str_or_null(rg_rows_get(r, i, "dietary_requirements")),
                     "specialNeeds", str_or_null(rg_rows_get(r, i, "special_needs")), "checkedIn",
                     rg_rows_bool(r, i, "checked_in"), "checkedInAt",
                     str_or_null(rg_rows_get(r, i, "checked_in_at")), "cancelledAt",
                     str_or_null(rg_rows_get(r, i, "cancelled_at")), "cancellationReason",
                     str_or_null(rg_rows_get(r, i, "cancellation_reason")), "holdExpiresAt",
                     str_or_null(rg_rows_get(r, i, "hold_expires_at")), "guardianConsent", consent);
}

int rg__promote_waitlisted(rg_app *app, rg_rel_conn *c, int64_t event_id, bool paid,
                           int64_t hold_minutes, const char *now)
{
    rg_relational *r = &app->st.rel;
    rg_rows *w;
    rg_param p[] = {RG_PINT(event_id)};
    int rc = rg_rel_query(r, c, "registration_first_waitlisted", p, 1, &w);
    if (rc < 0)
        return rc;
    if (w->nrows == 0) {
        rg_rows_free(w);
        return 0;
    }
    int64_t rid = rg_rows_int(w, 0, "id", 0);
    rg_rows_free(w);
    rg_param tp[] = {RG_PINT(event_id), RG_PTEXT(now)};
    if ((rc = rg_rel_query(r, c, "event_take_place", tp, 2, NULL)) <= 0)
        return rc; /* 0: no place after all */
    char hold[RG_TIME_LEN + 1];
    rg_time_format(rg_now() + hold_minutes * 60, hold);
    rg_param pp[] = {RG_PINT(rid), RG_PTEXT(paid ? "pending" : "confirmed"),
                     paid ? RG_PTEXT(hold) : RG_PNULL, RG_PTEXT(now)};
    if ((rc = rg_rel_query(r, c, "registration_promote", pp, 4, NULL)) < 0)
        return rc;
    rg_info("registration %lld moved up from the waiting list of event %lld", (long long)rid,
            (long long)event_id);
    return 1;
}
