/* Payments as the payment modules share them: their API view, who manages
 * them, the request hash behind an Idempotency-Key. */
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

json_t *rg__str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

json_t *rg__money_json(int64_t minor, const char *currency)
{
    char amount[24];
    rg_money_format(minor, amount);
    return json_pack("{s:s, s:s}", "amount", amount, "currency", currency ? currency : "");
}

/* A payment row (payment_get, payments_by_user) as API JSON. New ref. */
json_t *rg__payment_view(const rg_rows *r, int i)
{
    const char *cur = rg_rows_get(r, i, "currency");
    int64_t refunded = rg_rows_int(r, i, "refunded_minor", 0);
    const char *refund_status = rg_rows_get(r, i, "refund_status");
    const char *reg = rg_rows_get(r, i, "registration_id");
    json_t *v = json_pack(
        "{s:I, s:s?, s:I, s:o, s:o, s:s?, s:s?, s:s?, s:o, s:o, s:s, s:o, s:o, s:o, s:o}", "id",
        (json_int_t)rg_rows_int(r, i, "id", 0), "userId", rg_rows_get(r, i, "user_id"), "eventId",
        (json_int_t)rg_rows_int(r, i, "event_id", 0), "registrationId",
        reg ? json_integer(strtoll(reg, NULL, 10)) : json_null(), "amount",
        rg__money_json(rg_rows_int(r, i, "amount_minor", 0), cur), "paymentMethod",
        rg_rows_get(r, i, "payment_method"), "status", rg_rows_get(r, i, "status"), "provider",
        rg_rows_get(r, i, "provider"), "providerTransactionId",
        rg__str_or_null(rg_rows_get(r, i, "provider_transaction_id")), "paymentDate",
        rg_json_time(rg_rows_get(r, i, "payment_date")), "refundStatus",
        refund_status ? refund_status : "none", "refundAmount",
        refunded > 0 ? rg__money_json(refunded, cur) : json_null(), "refundDate",
        rg_json_time(rg_rows_get(r, i, "refund_date")), "createdAt",
        rg_json_time(rg_rows_get(r, i, "created_at")), "updatedAt",
        rg_json_time(rg_rows_get(r, i, "updated_at")));
    if (!v)
        abort();
    return v;
}

bool rg__payment_manager(const rg_principal *who, const char *organizer_id)
{
    return rg_manages(who, organizer_id);
}

void rg__idem_hash(const char *method, const char *path, const char *user_id, json_t *body,
                   char out[RG_SHA256_HEX + 1])
{
    char *canon = body ? json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
    rg_buf b = {0};
    rg_buf_printf(&b, "%s\n%s\n%s\n%s", method, path, user_id ? user_id : "",
                  canon ? canon : "null");
    free(canon);
    rg_sha256_hex(b.data, b.len, out);
    rg_buf_free(&b);
}

bool rg__idem_key_ok(const char *key)
{
    if (!key)
        return false;
    size_t n = strlen(key);
    if (n == 0 || n > 255)
        return false;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        if (*p < 0x21 || *p > 0x7e)
            return false;
    return true;
}
