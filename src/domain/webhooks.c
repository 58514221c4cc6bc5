/* POST /v1/webhooks/payments/{provider}: signed status updates from a
 * payment provider. The signature (X-RisingGen-Signature) is an HMAC-SHA256
 * of "<t>.<raw body>" with RG_PAYMENTS_WEBHOOK_SECRET; a webhook event id
 * is recorded in the transaction that applies it, so the same event again
 * changes nothing. */
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

#define MAX_SIGNATURES 8 /* v1 entries read from one signature header */

static void hmac_raw(const char *secret, const char *t, const void *raw, size_t len,
                     unsigned char mac[crypto_auth_hmacsha256_BYTES])
{
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)t, strlen(t));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1);
    if (len)
        crypto_auth_hmacsha256_update(&st, raw, len);
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_memzero(&st, sizeof st);
}

void rg__webhook_sign(const char *secret, int64_t t, const void *raw, size_t len,
                      char out[RG_SHA256_HEX + 1])
{
    char ts[24];
    snprintf(ts, sizeof ts, "%lld", (long long)t);
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    hmac_raw(secret, ts, raw, len, mac);
    sodium_bin2hex(out, RG_SHA256_HEX + 1, mac, sizeof mac);
}

int rg__webhook_verify(const char *secret, const char *header, const void *raw, size_t len,
                       int64_t now)
{
    if (!secret || !*secret)
        return rg_error_set(RG_EINVAL, "payment webhooks are not configured on this service");
    if (!header || !*header)
        return rg_error_set(RG_EINVAL, "the X-RisingGen-Signature header is missing");
    if (strlen(header) > 1024)
        return rg_error_set(RG_EINVAL, "the X-RisingGen-Signature header is malformed");
    char ts[16] = "";
    unsigned char sigs[MAX_SIGNATURES][crypto_auth_hmacsha256_BYTES];
    int nsigs = 0;
    bool bad = false;
    for (const char *p = header; *p && !bad;) {
        p += strspn(p, " ,");
        size_t n = strcspn(p, ",");
        size_t m = n;
        while (m && p[m - 1] == ' ')
            m--;
        if (m > 2 && strncmp(p, "t=", 2) == 0) {
            size_t digits = m - 2;
            bad = ts[0] || digits > 12 || strspn(p + 2, "0123456789") < digits;
            if (!bad)
                snprintf(ts, sizeof ts, "%.*s", (int)digits, p + 2);
        } else if (m > 3 && strncmp(p, "v1=", 3) == 0) {
            size_t bin_len = 0;
            if (m - 3 == RG_SHA256_HEX && nsigs < MAX_SIGNATURES &&
                sodium_hex2bin(sigs[nsigs], sizeof sigs[nsigs], p + 3, m - 3, NULL, &bin_len,
                               NULL) == 0 &&
                bin_len == crypto_auth_hmacsha256_BYTES)
                nsigs++;
            else if (m - 3 != RG_SHA256_HEX)
                bad = true;
        } /* other schemes are ignored, as providers add new ones */
        p += n;
    }
    if (bad || !ts[0] || nsigs == 0)
        return rg_error_set(RG_EINVAL, "the X-RisingGen-Signature header is malformed; expected "
                                       "t=<unix seconds>,v1=<hex HMAC-SHA256>");
    int64_t t = strtoll(ts, NULL, 10);
    if (t < now - RG_WEBHOOK_TOLERANCE_S || t > now + RG_WEBHOOK_TOLERANCE_S)
        return rg_error_set(RG_EINVAL, "the signature's timestamp is more than %d seconds from now",
                            RG_WEBHOOK_TOLERANCE_S);
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    hmac_raw(secret, ts, raw, len, mac);
    bool ok = false;
    for (int i = 0; i < nsigs; i++)
        ok |= sodium_memcmp(mac, sigs[i], sizeof mac) == 0;
    sodium_memzero(mac, sizeof mac);
    if (!ok)
        return rg_error_set(RG_EINVAL, "the signature does not match the body");
    return 0;
}

int rg_payment_webhook(rg_app *app, const char *provider, const char *signature, const void *raw,
                       size_t len, json_t *body, json_t **out)
{
    const rg_payment_provider *prov = rg_payment_provider_find(provider);
    if (!prov || !prov->webhooks || !rg_payment_provider_enabled(&app->providers, prov))
        return rg_error_set(RG_ENOTFOUND, "no payment provider sends webhooks here");
    int rc = rg__webhook_verify(app->cfg->payments_webhook_secret, signature, raw, len, rg_now());
    if (rc < 0)
        return rc;
    if (!json_is_object(body))
        return v_not_object(body);
    v_ctx v = {0};
    const char *event_id = NULL, *type = NULL, *tx = NULL;
    json_t *data = NULL;
    v_string(&v, body, "id", true, 1, 255, &event_id);
    v_string(&v, body, "type", true, 1, 100, &type);
    const char *new_status = NULL;
    if (type && strcmp(type, "payment.succeeded") == 0)
        new_status = "succeeded";
    else if (type && strcmp(type, "payment.failed") == 0)
        new_status = "failed";
    if (new_status) {
        if (v_object(&v, body, "data", &data) && !data)
            v_fail(&v, "data", "is required");
        if (data)
            v_string(&v, data, "providerTransactionId", true, 1, 255, &tx);
    }
    if ((rc = v_finish(&v)) < 0)
        return rc;

    rg_relational *r = &app->st.rel;
    rg_rel_conn *c;
    if ((rc = rg_rel_acquire(r, &c)) < 0)
        return rc;
    rg_rows *pay = NULL;
    char now[RG_TIME_LEN + 1];
    rg_time_format(rg_now(), now);
    int64_t pid = 0, event = 0;
    if ((rc = rg_rel_begin(r, c, true)) < 0)
        goto out;
    if (new_status) {
        rg_param tp[] = {RG_PTEXT(prov->name), RG_PTEXT(tx)};
        if ((rc = rg_rel_query(r, c, "payment_lock_by_provider_tx", tp, 2, &pay)) < 0)
            goto fail;
        if (pay->nrows == 0) { /* not recorded: the provider may send it again */
            rc = rg_error_set(RG_ENOTFOUND, "no payment has this providerTransactionId");
            goto fail;
        }
        pid = rg_rows_int(pay, 0, "id", 0);
        event = rg_rows_int(pay, 0, "event_id", 0);
    }
    rg_param ep[] = {RG_PTEXT(prov->name), RG_PTEXT(event_id), RG_PTEXT(type),
                     pid ? RG_PINT(pid) : RG_PNULL, RG_PTEXT(now)};
    if ((rc = rg_rel_query(r, c, "webhook_event_record", ep, 5, NULL)) < 0)
        goto fail;
    if (rc == 0) { /* seen before: nothing changes */
        rg_rel_rollback(r, c);
        *out = json_pack("{s:b, s:b, s:s}", "received", 1, "duplicate", 1, "eventId", event_id);
        rc = 0;
        goto out;
    }
    const char *final = NULL;
    if (new_status) {
        rg_param sp[] = {RG_PINT(pid), RG_PTEXT(new_status), RG_PTEXT(now)};
        if ((rc = rg_rel_query(r, c, "payment_set_status", sp, 3, NULL)) < 0)
            goto fail;
        bool changed = rc == 1;
        final = changed ? new_status : rg_rows_get(pay, 0, "status");
        const char *reg = rg_rows_get(pay, 0, "registration_id");
        if (changed && strcmp(new_status, "succeeded") == 0 && reg) {
            rg_param cp[] = {RG_PINT(strtoll(reg, NULL, 10)), RG_PINT(pid), RG_PTEXT(now)};
            if ((rc = rg_rel_query(r, c, "registration_confirm_paid", cp, 3, NULL)) < 0)
                goto fail;
            if (rc == 0) {
                /* The hold lapsed before the money arrived: the payment is
                 * recorded as paid on the cancelled registration, for the
                 * organizer to refund. */
                rg_warn("payment %lld succeeded after registration %s was cancelled; refund it",
                        (long long)pid, reg);
                if ((rc = rg_rel_query(r, c, "registration_mark_paid", cp, 3, NULL)) < 0)
                    goto fail;
            }
        }
        if (changed)
            rg_info("payment %lld is %s (webhook %s)", (long long)pid, new_status, event_id);
    }
    if ((rc = rg_rel_commit(r, c)) < 0)
        goto fail;
    if (event)
        rg__event_uncache(app, event);
    *out = json_pack("{s:b, s:b, s:s}", "received", 1, "duplicate", 0, "eventId", event_id);
    if (pid) {
        json_object_set_new(*out, "paymentId", json_integer(pid));
        json_object_set_new(*out, "status", json_string(final));
    } else {
        json_object_set_new(*out, "ignored", json_true());
    }
    rc = 0;
    goto out;
fail:
    rg_rel_rollback(r, c);
out:
    rg_rel_release(r, c);
    rg_rows_free(pay);
    return rc;
}
