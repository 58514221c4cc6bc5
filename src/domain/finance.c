/* Money read back: a person's payment history and an event's finance (per
 * currency: gross, refunded, net; counts by status and method). */
#include "domain.h"
#include "event_record.h"
#include "payment_record.h"
#include "registration_record.h"
#include "risinggen/base/alloc.h"
#include "risinggen/base/buf.h"
#include "risinggen/base/clock.h"
#include "risinggen/base/error.h"
#include "risinggen/base/id.h"
#include "risinggen/base/log.h"
#include "risinggen/domain/audit.h"
#include "risinggen/domain/payments.h"

#include <ctype.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

int rg_user_payments(rg_app *app, const rg_ctx *ctx, const char *id, const char *cursor, int limit,
                     json_t **out)
{
    const rg_principal *who = &ctx->who;
    if (!rg_oid_valid(id))
        return rg_error_set(RG_ENOTFOUND, "no such user");
    if (!rg_is_admin(who) && strcmp(id, who->user_id) != 0)
        return rg_error_set(RG_EFORBIDDEN, "only the person or an admin can list payments");
    int64_t before = (int64_t)INT32_MAX + 1;
    if (cursor) {
        char a[32], b[32];
        if (rg_cursor_decode(cursor, a, sizeof a, b, sizeof b) < 0 || !rg_parse_id(a, &before))
            return rg_error_set(RG_EINVAL, "the cursor is not valid");
    }
    rg_param p[] = {RG_PTEXT(id), RG_PINT(before), RG_PINT(limit + 1)};
    rg_rows *rows;
    int rc = rg_rel_run(app, "payments_by_user", p, 3, &rows);
    if (rc < 0)
        return rc;
    json_t *items = json_array();
    int n = rows->nrows > limit ? limit : rows->nrows;
    for (int i = 0; i < n; i++)
        json_array_append_new(items, rg__payment_view(rows, i));
    char next[96] = "";
    if (rows->nrows > limit)
        rg_cursor_encode(rg_rows_get(rows, limit - 1, "id"), "", next, sizeof next);
    rg_rows_free(rows);
    *out = rg_list_page(items, next);
    return 0;
}

static void count_into(json_t *obj, const char *key, json_int_t n)
{
    if (!key)
        key = "none";
    json_t *have = json_object_get(obj, key);
    json_object_set_new(obj, key, json_integer((have ? json_integer_value(have) : 0) + n));
}

int rg_event_finance(rg_app *app, const rg_ctx *ctx, const char *id_s, json_t **out)
{
    const rg_principal *who = &ctx->who;
    int64_t id;
    if (!rg_parse_id(id_s, &id))
        return rg_error_set(RG_ENOTFOUND, "no such event");
    rg_param p[] = {RG_PINT(id)};
    rg_rows *ev;
    int rc = rg_rel_run(app, "event_get", p, 1, &ev);
    if (rc < 0)
        return rc;
    if (ev->nrows == 0) {
        rg_rows_free(ev);
        return rg_error_set(RG_ENOTFOUND, "no such event");
    }
    if (!rg__payment_manager(who, rg_rows_get(ev, 0, "organizer_id"))) {
        bool visible =
            strcmp(rg_rows_get(ev, 0, "status"), "draft") != 0 && rg_rows_bool(ev, 0, "is_public");
        rg_rows_free(ev);
        return visible ? rg_error_set(RG_EFORBIDDEN, "only the organizer or an admin can see this")
                       : rg_error_set(RG_ENOTFOUND, "no such event");
    }
    rg_rows_free(ev);
    /* Both from the primary: money reports never lag behind the payments. */
    rg_rows *totals = NULL, *counts = NULL;
    if ((rc = rg_rel_run(app, "event_finance_totals", p, 1, &totals)) < 0 ||
        (rc = rg_rel_run(app, "event_finance_counts", p, 1, &counts)) < 0) {
        rg_rows_free(totals);
        return rc;
    }
    json_t *per = json_object();
    for (int i = 0; i < totals->nrows; i++) {
        int64_t gross = rg_rows_int(totals, i, "gross_minor", 0);
        int64_t refunded = rg_rows_int(totals, i, "refunded_minor", 0);
        char g[24], rf[24], net[24];
        rg_money_format(gross, g);
        rg_money_format(refunded, rf);
        rg_money_format(gross - refunded, net);
        json_object_set_new(per, rg_rows_get(totals, i, "currency"),
                            json_pack("{s:s, s:s, s:s}", "gross", g, "refunded", rf, "net", net));
    }
    json_t *by_status = json_pack("{s:i, s:i, s:i}", "pending", 0, "succeeded", 0, "failed", 0);
    json_t *by_method = json_object();
    json_t *by_refund = json_pack("{s:i, s:i, s:i}", "none", 0, "partial", 0, "full", 0);
    json_int_t total = 0;
    for (int i = 0; i < counts->nrows; i++) {
        json_int_t n = rg_rows_int(counts, i, "n", 0);
        count_into(by_status, rg_rows_get(counts, i, "status"), n);
        count_into(by_method, rg_rows_get(counts, i, "payment_method"), n);
        count_into(by_refund, rg_rows_get(counts, i, "refund_status"), n);
        total += n;
    }
    rg_rows_free(totals);
    rg_rows_free(counts);
    *out = json_pack("{s:I, s:o, s:I, s:o, s:o, s:o}", "eventId", (json_int_t)id, "totals", per,
                     "payments", total, "byStatus", by_status, "byMethod", by_method,
                     "byRefundStatus", by_refund);
    return 0;
}
