/* The audit log of organizer and admin actions: the relational table
 * audit_log (migration 0004) says who did what to which target, and when.
 * rg_audit is the one writer, inside the caller's write transaction when it
 * has one, so that an action and its entry commit or roll back together.
 * Admins read the log with GET /v1/admin/audit, newest first.
 *
 * Actions in use: event.publish, event.cancel, event.complete,
 * registration.check_in, registration.cancel (by the organizer or an admin),
 * user.roles, user.erase, payment.refund. */
#include "risinggen/domain/audit.h"
#include "domain.h"
#include "risinggen/base/log.h"
#include "risinggen/base/clock.h"
#include "risinggen/base/id.h"
#include "risinggen/base/error.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static bool name_ok(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > max)
        return false;
    for (const char *p = s; *p; p++)
        if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '.' || *p == '_' ||
              *p == '-'))
            return false;
    return true;
}

int rg_audit(rg_app *app, rg_rel_conn *c, const char *who, const char *action,
             const char *target_type, const char *target_id, json_t *details)
{
    if (!name_ok(action, 64) || !name_ok(target_type, 32) ||
        (target_id && strlen(target_id) > 64) || (details && !json_is_object(details))) {
        rg_err("audit: refused a malformed entry (action %s)", action ? action : "(null)");
        return rg_error_set(RG_EINTERNAL, "internal error");
    }
    char now[RG_TIME_LEN + 1];
    rg_time_format(rg_now(), now);
    char *text = details ? json_dumps(details, JSON_COMPACT) : NULL;
    rg_param p[] = {RG_PTEXT(now),       RG_PTEXT(who && *who ? who : NULL),
                    RG_PTEXT(action),    RG_PTEXT(target_type),
                    RG_PTEXT(target_id), RG_PTEXT(text)};
    int rc = c ? rg_rel_query(&app->st.rel, c, "audit_insert", p, 6, NULL)
               : rg_rel_run(app, "audit_insert", p, 6, NULL);
    if (rc < 0)
        rg_err("audit: could not record %s by %s on %s %s (%s)", action, who ? who : "-",
               target_type, target_id ? target_id : "-", text ? text : "{}");
    free(text);
    return rc < 0 ? rc : 0;
}

static json_t *audit_view(const rg_rows *r, int i)
{
    json_t *details = json_null();
    const char *d = rg_rows_get(r, i, "details");
    if (d) {
        json_t *x = json_loads(d, 0, NULL);
        if (x)
            details = x;
    }
    const char *actor = rg_rows_get(r, i, "actor_id"), *target = rg_rows_get(r, i, "target_id");
    return json_pack("{s:I, s:s, s:o, s:s, s:s, s:o, s:o}", "id",
                     (json_int_t)rg_rows_int(r, i, "id", 0), "occurredAt",
                     rg_rows_get(r, i, "occurred_at"), "actorId",
                     actor ? json_string(actor) : json_null(), "action",
                     rg_rows_get(r, i, "action"), "targetType", rg_rows_get(r, i, "target_type"),
                     "targetId", target ? json_string(target) : json_null(), "details", details);
}

int rg_audit_list(rg_app *app, const rg_ctx *ctx, const rg_audit_query *q, json_t **out)
{
    const rg_principal *who = &ctx->who;
    if (!rg_is_admin(who))
        return rg_error_set(RG_EFORBIDDEN, "only an admin can read the audit log");
    if (q->action && !name_ok(q->action, 64))
        return rg_error_set(RG_EINVAL, "action must be a name such as event.publish");
    if (q->actor && !rg_oid_valid(q->actor))
        return rg_error_set(RG_EINVAL, "actor must be a user id (24 hex digits)");
    char from[RG_TIME_LEN + 1], to[RG_TIME_LEN + 1];
    int rc;
    if ((rc = rg__parse_range(q->from, q->to, from, to)) < 0)
        return rc;
    int64_t before = INT64_MAX;
    if (q->cursor) {
        char a[32], b[8];
        char *end;
        if (rg_cursor_decode(q->cursor, a, sizeof a, b, sizeof b) < 0)
            return rg_error_set(RG_EINVAL, "the cursor is not valid");
        before = strtoll(a, &end, 10);
        if (end == a || *end || before <= 0)
            return rg_error_set(RG_EINVAL, "the cursor is not valid");
    }
    char actor[RG_OID_LEN + 1] = "";
    if (q->actor) { /* ids are stored in lowercase */
        for (int i = 0; i < RG_OID_LEN; i++)
            actor[i] = (char)tolower((unsigned char)q->actor[i]);
        actor[RG_OID_LEN] = '\0';
    }
    rg_param p[] = {RG_PTEXT(q->action),
                    RG_PTEXT(q->actor ? actor : NULL),
                    q->from ? RG_PTEXT(from) : RG_PNULL,
                    q->to ? RG_PTEXT(to) : RG_PNULL,
                    RG_PINT(before),
                    RG_PINT(q->limit + 1)};
    rg_rows *rows;
    if ((rc = rg_rel_run(app, "audit_list", p, 6, &rows)) < 0)
        return rc;
    json_t *items = json_array();
    int n = rows->nrows > q->limit ? q->limit : rows->nrows;
    for (int i = 0; i < n; i++)
        json_array_append_new(items, audit_view(rows, i));
    char next[96] = "";
    if (rows->nrows > q->limit)
        rg_cursor_encode(rg_rows_get(rows, q->limit - 1, "id"), "", next, sizeof next);
    rg_rows_free(rows);
    *out = rg_list_page(items, next);
    return 0;
}

/* Every entry whose actor is user_id, oldest first (the person's export). */
int rg__audit_by_actor(rg_app *app, const char *user_id, json_t **out)
{
    json_t *items = json_array();
    int64_t after = 0;
    for (int page = 0; page < 100; page++) {
        rg_param p[] = {RG_PTEXT(user_id), RG_PINT(after), RG_PINT(500)};
        rg_rows *rows;
        int rc = rg_rel_run(app, "audit_by_actor", p, 3, &rows);
        if (rc < 0) {
            json_decref(items);
            return rc;
        }
        for (int i = 0; i < rows->nrows; i++) {
            json_array_append_new(items, audit_view(rows, i));
            after = rg_rows_int(rows, i, "id", after);
        }
        int n = rows->nrows;
        rg_rows_free(rows);
        if (n < 500)
            break;
    }
    *out = items;
    return 0;
}
