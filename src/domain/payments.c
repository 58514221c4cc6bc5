/* Payments (relational): paying for a registration through a provider, and
 * refunds (webhooks.c applies providers' status updates; finance.c reads
 * the money back).
 *
 * Money is integer minor units inside the program and a decimal string
 * outside ({"amount": "25.00", "currency": "GBP"}); the amount always comes
 * from the event. Each write runs in one write transaction:
 *
 * - POST /v1/payments claims its Idempotency-Key first (INSERT … ON CONFLICT
 *   DO NOTHING on (user, key)), so of concurrent requests with one key one
 *   proceeds and the others wait for it (PostgreSQL) or run after it
 *   (SQLite), then replay the answer it stored in the same transaction. A
 *   request that fails stores nothing: its key can be used again.
 * - The registration row is locked before anything is decided, and a unique
 *   index allows one open (pending or succeeded) payment per registration.
 * - A success confirms the registration (pending → confirmed, paid, hold
 *   cleared) in the payment's transaction.
 * - A refund is one conditional UPDATE (refunded + x <= amount), so
 *   concurrent refunds never give back more than was paid.
 * - A webhook event id is recorded in the transaction that applies it; the
 *   same event again changes nothing. */
#include "risinggen/domain/audit.h"
#include "risinggen/domain/payments.h"
#include "domain.h"
#include "payment_record.h"
#include "event_record.h"
#include "registration_record.h"
#include "user_record.h"
#include "risinggen/base/alloc.h"
#include "risinggen/base/buf.h"
#include "risinggen/base/log.h"
#include "risinggen/base/clock.h"
#include "risinggen/base/id.h"
#include "risinggen/base/error.h"

#include <ctype.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* Keys older than this are dropped the next time their owner pays. */
#define IDEM_KEEP_S (24 * 3600)

typedef struct idem_req {
    const char *user, *key, *method, *path;
    char hash[RG_SHA256_HEX + 1];
} idem_req;

/* Inside the write transaction, before anything else: 0 when the key is
 * this request's now; 1 with *out filled when an earlier request with the
 * key was answered (a replay); or an error (422 for another request). */
static int idem_claim(rg_relational *r, rg_rel_conn *c, const idem_req *k, const char *now,
                      rg_saved_reply *out)
{
    rg_param p[] = {RG_PTEXT(k->user),   RG_PTEXT(k->key),  RG_PTEXT(k->hash),
                    RG_PTEXT(k->method), RG_PTEXT(k->path), RG_PTEXT(now)};
    int rc = rg_rel_query(r, c, "idem_claim", p, 6, NULL);
    if (rc != 0)
        return rc < 0 ? rc : 0;
    rg_rows *row;
    rg_param g[] = {RG_PTEXT(k->user), RG_PTEXT(k->key)};
    if ((rc = rg_rel_query(r, c, "idem_get", g, 2, &row)) < 0)
        return rc;
    if (row->nrows == 0 || !rg_rows_get(row, 0, "response_status") ||
        !rg_rows_get(row, 0, "response_body")) {
        rg_rows_free(row);
        return rg_error_set(RG_ECONFLICT,
                            "a request with this Idempotency-Key is in progress; try again");
    }
    if (strcmp(rg_rows_get(row, 0, "request_hash"), k->hash) != 0) {
        rg_rows_free(row);
        return rg_error_set(RG_EUNPROCESSABLE,
                            "this Idempotency-Key was used for a different request; use a new "
                            "key for a new request");
    }
    out->status = (int)rg_rows_int(row, 0, "response_status", 200);
    out->body = rg_xstrdup(rg_rows_get(row, 0, "response_body"));
    out->id = rg_rows_int(row, 0, "resource_id", 0);
    out->replayed = true;
    rg_rows_free(row);
    return 1;
}

static int idem_store(rg_relational *r, rg_rel_conn *c, const idem_req *k, int status,
                      const char *body, int64_t id)
{
    rg_param p[] = {RG_PTEXT(k->user), RG_PTEXT(k->key), RG_PINT(status), RG_PTEXT(body),
                    RG_PINT(id)};
    int rc = rg_rel_query(r, c, "idem_store", p, 5, NULL);
    return rc < 0 ? rc : 0;
}

/* Drops the user's keys older than IDEM_KEEP_S; failures only cost space. */
static void idem_purge(rg_app *app, const char *user)
{
    char before[RG_TIME_LEN + 1];
    rg_time_format(rg_now() - IDEM_KEEP_S, before);
    rg_param p[] = {RG_PTEXT(user), RG_PTEXT(before)};
    rg_rel_run(app, "idem_purge_user", p, 2, NULL);
    rg_error_clear();
}

/* The payment's row as JSON text, read inside the transaction. */
static int payment_text(rg_relational *r, rg_rel_conn *c, int64_t id, char **text)
{
    rg_rows *row;
    rg_param p[] = {RG_PINT(id)};
    int rc = rg_rel_query(r, c, "payment_get", p, 1, &row);
    if (rc < 0)
        return rc;
    if (row->nrows == 0) {
        rg_rows_free(row);
        return rg_error_set(RG_EINTERNAL, "internal error");
    }
    json_t *v = rg__payment_view(row, 0);
    rg_rows_free(row);
    *text = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    if (!*text)
        abort();
    return 0;
}

/* paymentMethod: a lowercase word such as card, cash, bank_transfer. */
static bool method_ok(const char *s)
{
    if (!islower((unsigned char)s[0]))
        return false;
    for (const char *p = s; *p; p++)
        if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_' || *p == '-'))
            return false;
    return true;
}

static int validate_create(const rg_app *app, json_t *body, int64_t *reg_id, const char **method,
                           const rg_payment_provider **prov)
{
    if (!json_is_object(body))
        return v_not_object(body);
    v_ctx v = {0};
    const char *pname = NULL;
    v_int(&v, body, "registrationId", true, 1, INT32_MAX, reg_id, NULL);
    if (v_string(&v, body, "paymentMethod", true, 1, 50, method) && *method && !method_ok(*method))
        v_fail(&v, "paymentMethod",
               "must be a lowercase word such as card, cash or bank_transfer (letters, digits, _ "
               "and -)");
    if (v_string(&v, body, "provider", true, 1, 50, &pname) && pname) {
        *prov = rg_payment_provider_find(pname);
        if (!rg_payment_provider_enabled(&app->providers, *prov)) {
            *prov = NULL;
            v_fail(&v, "provider", "is not a payment provider of this service");
        }
    }
    if (json_object_get(body, "amount"))
        v_fail(&v, "amount", "is set by the event; do not send it");
    if (json_object_get(body, "currency"))
        v_fail(&v, "currency", "is set by the event; do not send it");
    const char *allowed[16] = {"registrationId", "paymentMethod", "provider", "amount", "currency"};
    size_t n = 5;
    for (const char *const *f = *prov ? (*prov)->fields : NULL; f && *f && n < 15; f++)
        allowed[n++] = *f;
    allowed[n] = NULL;
    v_only(&v, body, allowed);
    if (*prov && (*prov)->validate)
        (*prov)->validate(&v, body);
    return v_finish(&v);
}

/* Inside the transaction, with the registration row locked: every rule that
 * decides whether who may pay for it now. */
static int check_payable(const rg_rows *reg, const rg_principal *who,
                         const rg_payment_provider *prov, const char *now, rg_rel_conn *c,
                         rg_relational *r)
{
    if (reg->nrows == 0)
        return rg_error_set(RG_ENOTFOUND, "no such registration");
    bool manager = rg__payment_manager(who, rg_rows_get(reg, 0, "event_organizer_id"));
    bool registrant = strcmp(rg_rows_get(reg, 0, "user_id"), who->user_id) == 0;
    if (!manager && !registrant)
        return rg_error_set(RG_ENOTFOUND, "no such registration");
    if (prov->recorded_by_manager && !manager)
        return rg_error_set(RG_EFORBIDDEN,
                            "only the event's organizer or an admin records %s payments",
                            prov->name);
    if (!prov->recorded_by_manager && !registrant)
        return rg_error_set(RG_EFORBIDDEN, "only the registrant pays with the %s provider",
                            prov->name);
    if (!rg_rows_get(reg, 0, "event_cost_minor") || !rg_rows_get(reg, 0, "event_cost_currency") ||
        rg_rows_int(reg, 0, "event_cost_minor", 0) <= 0)
        return rg_error_set(RG_EUNPROCESSABLE, "this event is free; there is nothing to pay");
    if (strcmp(rg_rows_get(reg, 0, "event_status"), "cancelled") == 0)
        return rg_error_set(RG_EUNPROCESSABLE, "the event was cancelled");
    const char *status = rg_rows_get(reg, 0, "status");
    const char *hold = rg_rows_get(reg, 0, "hold_expires_at");
    if (strcmp(status, "cancelled") == 0)
        return rg_error_set(RG_ECONFLICT, "the registration was cancelled (an unpaid hold "
                                          "expires); register again");
    if (strcmp(status, "waitlisted") == 0)
        return rg_error_set(RG_ECONFLICT, "the registration is on the waiting list; it can be paid "
                                          "once it holds a place");
    if (strcmp(status, "pending") == 0 && hold && strcmp(hold, now) < 0)
        return rg_error_set(RG_ECONFLICT, "the hold on this registration expired at %s", hold);
    if (strcmp(rg_rows_get(reg, 0, "payment_status"), "unpaid") != 0)
        return rg_error_set(RG_ECONFLICT, "the registration is already paid (%s)",
                            rg_rows_get(reg, 0, "payment_status"));
    rg_rows *open;
    rg_param op[] = {RG_PINT(rg_rows_int(reg, 0, "id", 0))};
    int rc = rg_rel_query(r, c, "payment_open_for_registration", op, 1, &open);
    if (rc < 0)
        return rc;
    if (open->nrows) {
        rc = rg_error_set(RG_ECONFLICT, "payment %s for this registration is already %s",
                          rg_rows_get(open, 0, "id"), rg_rows_get(open, 0, "status"));
        rg_rows_free(open);
        return rc;
    }
    rg_rows_free(open);
    return 0;
}

int rg_payment_create(rg_app *app, const rg_ctx *ctx, const char *idem_key, json_t *body,
                      rg_saved_reply *out)
{
    const rg_principal *who = &ctx->who;
    memset(out, 0, sizeof *out);
    if (!idem_key)
        return rg_error_set(RG_EINVAL, "the Idempotency-Key header is required");
    if (!rg__idem_key_ok(idem_key))
        return rg_error_set(RG_EINVAL, "the Idempotency-Key must be 1 to 255 visible ASCII "
                                       "characters");
    int64_t reg_id = 0;
    const char *method = NULL;
    const rg_payment_provider *prov = NULL;
    int rc = validate_create(app, body, &reg_id, &method, &prov);
    if (rc < 0)
        return rc;
    idem_req k = {.user = who->user_id, .key = idem_key, .method = "POST", .path = "/v1/payments"};
    rg__idem_hash(k.method, k.path, k.user, body, k.hash);

    rg_relational *r = &app->st.rel;
    rg_rel_conn *c;
    if ((rc = rg_rel_acquire(r, &c)) < 0)
        return rc;
    rg_rows *reg = NULL;
    char *text = NULL, *meta = NULL;
    char now[RG_TIME_LEN + 1];
    rg_time_format(rg_now(), now);
    if ((rc = rg_rel_begin(r, c, true)) < 0)
        goto out;
    if ((rc = idem_claim(r, c, &k, now, out)) != 0) {
        rg_rel_rollback(r, c);
        rc = rc > 0 ? 0 : rc;
        goto out;
    }
    rg_param lp[] = {RG_PINT(reg_id)};
    if ((rc = rg_rel_query(r, c, "payment_registration_lock", lp, 1, &reg)) < 0 ||
        (rc = check_payable(reg, who, prov, now, c, r)) < 0)
        goto fail;
    int64_t event_id = rg_rows_int(reg, 0, "event_id", 0);
    rg_pay_charge charge = {.amount_minor = rg_rows_int(reg, 0, "event_cost_minor", 0),
                            .currency = rg_rows_get(reg, 0, "event_cost_currency"),
                            .method = method,
                            .body = body};
    rg_pay_outcome outcome = {0};
    if ((rc = prov->charge(&charge, &outcome)) < 0)
        goto fail;
    bool succeeded = strcmp(outcome.status, "succeeded") == 0;
    if (prov->recorded_by_manager) {
        json_t *m = json_pack("{s:s}", "recordedBy", who->user_id);
        meta = json_dumps(m, JSON_COMPACT);
        json_decref(m);
    }
    rg_param ip[] = {RG_PTEXT(rg_rows_get(reg, 0, "user_id")),
                     RG_PINT(event_id),
                     RG_PINT(reg_id),
                     RG_PINT(charge.amount_minor),
                     RG_PTEXT(charge.currency),
                     RG_PTEXT(method),
                     RG_PTEXT(outcome.status),
                     RG_PTEXT(outcome.transaction_id),
                     RG_PTEXT(prov->name),
                     succeeded ? RG_PTEXT(now) : RG_PNULL,
                     RG_PTEXT(meta),
                     RG_PTEXT(now)};
    rg_rows *ins;
    rc = rg_rel_query(r, c, "payment_insert", ip, 12, &ins);
    if (rc == RG_ECONFLICT) {
        rc = rg_error_set(RG_ECONFLICT, "this registration already has a payment");
        goto fail;
    }
    if (rc < 0)
        goto fail;
    int64_t pid = rg_rows_int(ins, 0, "id", 0);
    rg_rows_free(ins);
    if (succeeded) {
        rg_param cp[] = {RG_PINT(reg_id), RG_PINT(pid), RG_PTEXT(now)};
        if ((rc = rg_rel_query(r, c, "registration_confirm_paid", cp, 3, NULL)) < 0)
            goto fail;
        if (rc == 0) { /* cannot happen with the row locked; never take money for nothing */
            rc = rg_error_set(RG_ECONFLICT, "the registration changed meanwhile; try again");
            goto fail;
        }
    }
    if ((rc = payment_text(r, c, pid, &text)) < 0 ||
        (rc = idem_store(r, c, &k, 201, text, pid)) < 0)
        goto fail;
    if ((rc = rg_rel_commit(r, c)) < 0)
        goto fail;
    rg_info("payment %lld (%s, %s) for registration %lld: %s", (long long)pid, prov->name, method,
            (long long)reg_id, outcome.status);
    rg__event_uncache(app, event_id);
    out->status = 201;
    out->body = text;
    out->id = pid;
    text = NULL;
    rc = 0;
    rg_rel_release(r, c);
    rg_rows_free(reg);
    free(meta);
    idem_purge(app, who->user_id);
    return 0;
fail:
    rg_rel_rollback(r, c);
out:
    rg_rel_release(r, c);
    rg_rows_free(reg);
    free(text);
    free(meta);
    return rc;
}

int rg_payment_get(rg_app *app, const rg_ctx *ctx, const char *id_s, json_t **out)
{
    const rg_principal *who = &ctx->who;
    int64_t id;
    if (!rg_parse_id(id_s, &id))
        return rg_error_set(RG_ENOTFOUND, "no such payment");
    rg_param p[] = {RG_PINT(id)};
    rg_rows *row;
    int rc = rg_rel_run(app, "payment_get", p, 1, &row);
    if (rc < 0)
        return rc;
    if (row->nrows == 0 || !(rg__payment_manager(who, rg_rows_get(row, 0, "event_organizer_id")) ||
                             strcmp(rg_rows_get(row, 0, "user_id"), who->user_id) == 0)) {
        rg_rows_free(row);
        return rg_error_set(RG_ENOTFOUND, "no such payment");
    }
    *out = rg__payment_view(row, 0);
    rg_rows_free(row);
    return 0;
}

static int validate_refund(json_t *body, int64_t *amount, bool *has_amount, const char **reason)
{
    *has_amount = false;
    if (!body)
        return 0;
    if (!json_is_object(body))
        return v_not_object(body);
    static const char *const fields[] = {"amount", "reason", NULL};
    v_ctx v = {0};
    v_only(&v, body, fields);
    json_t *a = json_object_get(body, "amount");
    if (a && !json_is_null(a)) {
        if (!json_is_string(a) || rg_money_parse(json_string_value(a), amount) < 0)
            v_fail(&v, "amount", "must be a decimal string such as \"10.00\"");
        else if (*amount <= 0)
            v_fail(&v, "amount", "must be more than 0.00");
        else
            *has_amount = true;
    }
    v_string(&v, body, "reason", false, 0, 500, reason);
    return v_finish(&v);
}

int rg_payment_refund(rg_app *app, const rg_ctx *ctx, const char *id_s, const char *idem_key,
                      json_t *body, rg_saved_reply *out)
{
    const rg_principal *who = &ctx->who;
    memset(out, 0, sizeof *out);
    int64_t id, amount = 0;
    bool has_amount;
    const char *reason = NULL;
    if (!rg_parse_id(id_s, &id))
        return rg_error_set(RG_ENOTFOUND, "no such payment");
    if (idem_key && !rg__idem_key_ok(idem_key))
        return rg_error_set(RG_EINVAL, "the Idempotency-Key must be 1 to 255 visible ASCII "
                                       "characters");
    int rc = validate_refund(body, &amount, &has_amount, &reason);
    if (rc < 0)
        return rc;
    char path[64];
    snprintf(path, sizeof path, "/v1/payments/%lld/refund", (long long)id);
    idem_req k = {.user = who->user_id, .key = idem_key, .method = "POST", .path = path};
    if (idem_key)
        rg__idem_hash(k.method, k.path, k.user, body, k.hash);

    rg_relational *r = &app->st.rel;
    rg_rel_conn *c;
    if ((rc = rg_rel_acquire(r, &c)) < 0)
        return rc;
    rg_rows *pay = NULL, *applied = NULL;
    char *text = NULL;
    char now[RG_TIME_LEN + 1];
    rg_time_format(rg_now(), now);
    if ((rc = rg_rel_begin(r, c, true)) < 0)
        goto out;
    if (idem_key && (rc = idem_claim(r, c, &k, now, out)) != 0) {
        rg_rel_rollback(r, c);
        rc = rc > 0 ? 0 : rc;
        goto out;
    }
    rg_param p[] = {RG_PINT(id)};
    if ((rc = rg_rel_query(r, c, "payment_get", p, 1, &pay)) < 0)
        goto fail;
    if (pay->nrows == 0) {
        rc = rg_error_set(RG_ENOTFOUND, "no such payment");
        goto fail;
    }
    if (!rg__payment_manager(who, rg_rows_get(pay, 0, "event_organizer_id"))) {
        rc = strcmp(rg_rows_get(pay, 0, "user_id"), who->user_id) == 0
                 ? rg_error_set(RG_EFORBIDDEN, "only the event's organizer or an admin refunds")
                 : rg_error_set(RG_ENOTFOUND, "no such payment");
        goto fail;
    }
    int64_t event_id = rg_rows_int(pay, 0, "event_id", 0);
    rg_rows_free(pay);
    if ((rc = rg_rel_query(r, c, "payment_lock", p, 1, &pay)) < 0)
        goto fail;
    if (pay->nrows == 0) {
        rc = rg_error_set(RG_ENOTFOUND, "no such payment");
        goto fail;
    }
    const char *status = rg_rows_get(pay, 0, "status");
    if (strcmp(status, "succeeded") != 0) {
        rc = rg_error_set(RG_ECONFLICT, "only a succeeded payment can be refunded; this one is %s",
                          status);
        goto fail;
    }
    int64_t paid = rg_rows_int(pay, 0, "amount_minor", 0);
    int64_t left = paid - rg_rows_int(pay, 0, "refunded_minor", 0);
    const char *currency = rg_rows_get(pay, 0, "currency");
    char left_s[24];
    rg_money_format(left, left_s);
    if (left <= 0) {
        rc = rg_error_set(RG_EUNPROCESSABLE, "the payment is already fully refunded");
        goto fail;
    }
    if (!has_amount)
        amount = left;
    if (amount > left) {
        rg_error_field("amount", "is more than the %s %s left to refund", left_s, currency);
        rc = rg_error_set(RG_EUNPROCESSABLE, "a refund cannot be more than was paid (%s %s left)",
                          left_s, currency);
        goto fail;
    }
    const rg_payment_provider *prov = rg_payment_provider_find(rg_rows_get(pay, 0, "provider"));
    if (!prov) {
        rc = rg_error_set(RG_EUNPROCESSABLE, "the payment's provider is not available");
        goto fail;
    }
    char refund_id[64] = "";
    if ((rc = prov->refund(rg_rows_get(pay, 0, "provider_transaction_id"), amount, currency,
                           refund_id)) < 0)
        goto fail;
    /* The statement decides again: never more than was paid, whoever came first. */
    rg_param ap[] = {RG_PINT(id), RG_PINT(amount), RG_PTEXT(now)};
    if ((rc = rg_rel_query(r, c, "payment_refund_apply", ap, 3, &applied)) < 0)
        goto fail;
    if (applied->nrows == 0) {
        rc = rg_error_set(RG_EUNPROCESSABLE, "a refund cannot be more than was paid");
        goto fail;
    }
    bool full = strcmp(rg_rows_get(applied, 0, "refund_status"), "full") == 0;
    rg_param rp[] = {RG_PINT(id),      RG_PINT(amount),     RG_PTEXT(currency),
                     RG_PTEXT(reason), RG_PTEXT(refund_id), RG_PTEXT(who->user_id),
                     RG_PTEXT(now)};
    if ((rc = rg_rel_query(r, c, "payment_refund_insert", rp, 7, NULL)) < 0)
        goto fail;
    if (rg_rows_get(pay, 0, "registration_id")) {
        rg_param sp[] = {RG_PINT(rg_rows_int(pay, 0, "registration_id", 0)),
                         RG_PTEXT(full ? "refunded" : "partially_refunded"), RG_PTEXT(now)};
        if ((rc = rg_rel_query(r, c, "registration_set_payment_status", sp, 3, NULL)) < 0)
            goto fail;
    }
    char amount_s[24], pid[32];
    rg_money_format(amount, amount_s);
    snprintf(pid, sizeof pid, "%lld", (long long)id);
    json_t *details =
        json_pack("{s:s, s:s, s:s?}", "amount", amount_s, "currency", currency, "reason", reason);
    rc = rg_audit(app, c, who->user_id, "payment.refund", "payment", pid, details);
    json_decref(details);
    if (rc < 0)
        goto fail;
    if ((rc = payment_text(r, c, id, &text)) < 0 ||
        (idem_key && (rc = idem_store(r, c, &k, 200, text, id)) < 0))
        goto fail;
    if ((rc = rg_rel_commit(r, c)) < 0)
        goto fail;
    rg__event_uncache(app, event_id);
    out->status = 200;
    out->body = text;
    out->id = id;
    text = NULL;
    rc = 0;
    goto out;
fail:
    rg_rel_rollback(r, c);
out:
    rg_rel_release(r, c);
    rg_rows_free(pay);
    rg_rows_free(applied);
    free(text);
    return rc;
}
