/* GET /v1/users/me/export: everything the stores hold about the caller,
 * from every store: the profile, the account (without secrets), sessions,
 * registrations, payments, the documents they wrote and the audit entries
 * of what they did. */
#include "risinggen/domain/accounts.h"
#include "domain.h"
#include "event_record.h"
#include "registration_record.h"
#include "risinggen/base/buf.h"
#include "risinggen/base/clock.h"
#include "risinggen/base/error.h"
#include "risinggen/base/id.h"
#include "risinggen/base/log.h"
#include "risinggen/domain/outbox.h"
#include "sessions.h"
#include "user_record.h"

#include <ctype.h>
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EXPORT_MAX_ITEMS 10000

static json_t *auth_view(json_t *auth)
{
    json_t *fams = json_array();
    const char *k;
    json_t *f;
    json_object_foreach(json_object_get(auth, "tokens"), k, f)
    {
        json_t *e = json_object_get(f, "refreshTokenExpiry");
        json_array_append_new(fams, json_pack("{s:O?}", "refreshTokenExpiry", e));
    }
    json_t *m = json_object_get(auth, "authMethod"), *a = json_object_get(auth, "churchAccountId");
    json_t *v = json_pack("{s:O?, s:o}", "authMethod", m, "refreshTokenFamilies", fams);
    if (json_is_string(a))
        json_object_set(v, "churchAccountId", a);
    return v;
}

/* Every document of coll whose path is user_id, by id: {id, …doc}. */
static int docs_of(rg_app *app, const char *coll, const char *path, const char *user_id,
                   json_t **out)
{
    json_t *items = json_array();
    rg_doc_filter f = {.path = path, .value = user_id};
    char after[512] = "";
    while (json_array_size(items) < EXPORT_MAX_ITEMS) {
        json_t *arr = NULL;
        int rc = rg_docs_find(
            &app->st.docs, coll,
            &(rg_doc_query){
                .filters = &f, .nfilters = 1, .after_id = after[0] ? after : NULL, .limit = 100},
            &arr);
        if (rc < 0) {
            json_decref(items);
            return rc;
        }
        size_t i;
        json_t *x;
        json_array_foreach(arr, i, x)
        {
            const char *id = json_string_value(json_object_get(x, "id"));
            json_t *item = json_pack("{s:s}", "id", id);
            json_object_update(item, json_object_get(x, "doc"));
            json_object_del(item, "schemaVersion");
            json_array_append_new(items, item);
            snprintf(after, sizeof after, "%s", id);
        }
        size_t n = json_array_size(arr);
        json_decref(arr);
        if (n < 100)
            break;
    }
    *out = items;
    return 0;
}

static int export_registrations(rg_app *app, const char *uid, json_t **out)
{
    json_t *items = json_array();
    int64_t before = INT32_MAX;
    while (json_array_size(items) < EXPORT_MAX_ITEMS) {
        rg_param p[] = {RG_PTEXT(uid), RG_PINT(before), RG_PINT(100)};
        rg_rows *rows;
        int rc = rg_rel_run(app, "registrations_by_user", p, 3, &rows);
        if (rc < 0) {
            json_decref(items);
            return rc;
        }
        for (int i = 0; i < rows->nrows; i++) {
            json_t *r = rg__registration_view(rows, i);
            json_object_set_new(r, "event", rg__event_summary(rows, i));
            json_array_append_new(items, r);
            before = rg_rows_int(rows, i, "id", before);
        }
        int n = rows->nrows;
        rg_rows_free(rows);
        if (n < 100)
            break;
    }
    *out = items;
    return 0;
}

static json_t *money(const rg_rows *r, int i, const char *col)
{
    const char *minor = rg_rows_get(r, i, col), *cur = rg_rows_get(r, i, "currency");
    if (!minor)
        return json_null();
    char amount[24];
    rg_money_format(strtoll(minor, NULL, 10), amount);
    return json_pack("{s:s, s:s?}", "amount", amount, "currency", cur);
}

static json_t *text_or_null(const rg_rows *r, int i, const char *col)
{
    const char *s = rg_rows_get(r, i, col);
    return s ? json_string(s) : json_null();
}

static int export_payments(rg_app *app, const char *uid, json_t **out)
{
    json_t *items = json_array();
    int64_t after = 0;
    while (json_array_size(items) < EXPORT_MAX_ITEMS) {
        rg_param p[] = {RG_PTEXT(uid), RG_PINT(after), RG_PINT(100)};
        rg_rows *rows;
        int rc = rg_rel_run(app, "export_payments", p, 3, &rows);
        if (rc < 0) {
            json_decref(items);
            return rc;
        }
        for (int i = 0; i < rows->nrows; i++) {
            const char *ev = rg_rows_get(rows, i, "event_id");
            json_array_append_new(
                items, json_pack("{s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "id",
                                 (json_int_t)rg_rows_int(rows, i, "id", 0), "eventId",
                                 ev ? json_integer(strtoll(ev, NULL, 10)) : json_null(), "amount",
                                 money(rows, i, "amount_minor"), "paymentMethod",
                                 text_or_null(rows, i, "payment_method"), "status",
                                 text_or_null(rows, i, "status"), "provider",
                                 text_or_null(rows, i, "provider"), "paymentDate",
                                 text_or_null(rows, i, "payment_date"), "refundStatus",
                                 text_or_null(rows, i, "refund_status"), "refundAmount",
                                 money(rows, i, "refund_amount_minor"), "refundDate",
                                 text_or_null(rows, i, "refund_date"), "createdAt",
                                 text_or_null(rows, i, "created_at")));
            after = rg_rows_int(rows, i, "id", after);
        }
        int n = rows->nrows;
        rg_rows_free(rows);
        if (n < 100)
            break;
    }
    *out = items;
    return 0;
}

static int count_sessions(rg_app *app, const char *uid, json_int_t *out)
{
    rg_doc_filter f = {.path = "userId", .value = uid};
    char after[128] = "";
    *out = 0;
    for (int page = 0; page < 100; page++) {
        json_t *arr = NULL;
        int rc = rg_docs_find(
            &app->st.docs, COLL_SESSIONS,
            &(rg_doc_query){
                .filters = &f, .nfilters = 1, .after_id = after[0] ? after : NULL, .limit = 500},
            &arr);
        if (rc < 0)
            return rc;
        size_t n = json_array_size(arr);
        int64_t now = rg_now();
        size_t i;
        json_t *s;
        json_array_foreach(arr, i, s)
        {
            if (json_integer_value(json_object_get(json_object_get(s, "doc"), "expiresAt")) > now)
                (*out)++;
            snprintf(after, sizeof after, "%s", json_string_value(json_object_get(s, "id")));
        }
        json_decref(arr);
        if (n < 500)
            break;
    }
    return 0;
}

int rg_user_export(rg_app *app, const rg_ctx *ctx, json_t **out)
{
    const rg_principal *who = &ctx->who;
    const char *uid = who->user_id;
    json_t *user = NULL, *auth = NULL, *part = NULL;
    int rc = rg_docs_get(&app->st.docs, COLL_USERS, uid, &user, NULL);
    if (rc < 0)
        return rc;
    char now[RG_TIME_LEN + 1];
    rg_time_format(rg_now(), now);
    json_t *ex = json_pack("{s:i, s:s, s:o}", "exportVersion", 1, "exportedAt", now, "user",
                           rg__user_view(uid, user));
    json_decref(user);
    rc = rg_docs_get(&app->st.docs, COLL_AUTH, uid, &auth, NULL);
    if (rc < 0 && rc != RG_ENOTFOUND)
        goto fail;
    json_object_set_new(ex, "auth", auth ? auth_view(auth) : json_null());
    json_decref(auth);
    rg_error_clear();
    json_int_t sessions;
    if ((rc = count_sessions(app, uid, &sessions)) < 0)
        goto fail;
    json_object_set_new(ex, "sessions", json_pack("{s:I}", "active", sessions));
    if ((rc = export_registrations(app, uid, &part)) < 0)
        goto fail;
    json_object_set_new(ex, "registrations", part);
    if ((rc = export_payments(app, uid, &part)) < 0)
        goto fail;
    json_object_set_new(ex, "payments", part);
    for (int i = 0; i < rg__nauthored; i++) {
        if (!rg__authored[i].export_key)
            continue;
        if ((rc = docs_of(app, rg__authored[i].coll, rg__authored[i].path, uid, &part)) < 0)
            goto fail;
        json_object_set_new(ex, rg__authored[i].export_key, part);
    }
    if ((rc = rg__audit_by_actor(app, uid, &part)) < 0)
        goto fail;
    json_object_set_new(ex, "auditLog", part);
    *out = ex;
    return 0;
fail:
    json_decref(ex);
    return rc;
}
