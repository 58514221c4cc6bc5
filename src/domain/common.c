#include "domain.h"
#include "risinggen/base/buf.h"
#include "risinggen/base/clock.h"
#include "risinggen/base/id.h"
#include "risinggen/base/error.h"

#include <ctype.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

bool rg_parse_id(const char *s, int64_t *out)
{
    if (!s || !*s || strlen(s) > 10)
        return false;
    int64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (!isdigit((unsigned char)*p))
            return false;
        v = v * 10 + (*p - '0');
    }
    if (v <= 0 || s[0] == '0' || v > INT32_MAX) /* ids are 32-bit in every store */
        return false;
    *out = v;
    return true;
}

void rg_cursor_encode(const char *a, const char *b, char *out, size_t cap)
{
    char raw[512];
    int n = snprintf(raw, sizeof raw, "%s|%s", a ? a : "", b ? b : "");
    if (n < 0 || (size_t)n >= sizeof raw || cap < (size_t)n * 4 / 3 + 4) {
        out[0] = '\0';
        return;
    }
    rg_b64url_encode(raw, (size_t)n, out);
}

int rg_cursor_decode(const char *cursor, char *a, size_t acap, char *b, size_t bcap)
{
    char raw[512];
    size_t len = strlen(cursor);
    if (len == 0 || len > 600)
        return rg_error_set(RG_EINVAL, "the cursor is not valid");
    long n = rg_b64url_decode(cursor, len, raw, sizeof raw - 1);
    if (n < 0)
        return rg_error_set(RG_EINVAL, "the cursor is not valid");
    raw[n] = '\0';
    char *bar = memchr(raw, '|', (size_t)n);
    if (!bar || (size_t)(bar - raw) >= acap || strlen(bar + 1) >= bcap)
        return rg_error_set(RG_EINVAL, "the cursor is not valid");
    *bar = '\0';
    memcpy(a, raw, (size_t)(bar - raw) + 1);
    memcpy(b, bar + 1, strlen(bar + 1) + 1);
    return 0;
}

json_t *rg_json_time(const char *t)
{
    return t ? json_string(t) : json_null();
}

json_t *rg_list_page(json_t *items, const char *next)
{
    return json_pack("{s:o, s:o}", "items", items, "nextCursor",
                     next && *next ? json_string(next) : json_null());
}

int rg_doc_update(rg_documents *docs, const char *coll, const char *id,
                  int (*fn)(json_t *doc, void *ctx), void *ctx)
{
    for (int attempt = 0; attempt < 64; attempt++) {
        if (attempt)
            sched_yield();
        json_t *doc;
        int64_t rev;
        int rc = rg_docs_get(docs, coll, id, &doc, &rev);
        if (rc < 0)
            return rc;
        rc = fn(doc, ctx);
        if (rc < 0) { /* the callback's answer is final, RG_ESTALE included */
            json_decref(doc);
            return rc;
        }
        rc = rg_docs_replace(docs, coll, id, doc, rev);
        json_decref(doc);
        if (rc != RG_ESTALE)
            return rc;
    }
    return rg_error_set(RG_EUNAVAIL, "too many concurrent changes; try again");
}

int rg_rel_run(rg_app *app, const char *name, const rg_param *p, int n, rg_rows **out)
{
    rg_rel_conn *c;
    int rc = rg_rel_acquire(&app->st.rel, &c);
    if (rc < 0)
        return rc;
    rc = rg_rel_query(&app->st.rel, c, name, p, n, out);
    rg_rel_release(&app->st.rel, c);
    return rc;
}

int rg_rel_run_read(rg_app *app, const char *name, const rg_param *p, int n, rg_rows **out)
{
    rg_rel_conn *c;
    int rc = rg_rel_acquire_read(&app->st.rel, &c);
    if (rc < 0)
        return rc;
    rc = rg_rel_query(&app->st.rel, c, name, p, n, out);
    rg_rel_release(&app->st.rel, c);
    return rc;
}

int rg_vcache_get(rg_app *app, const char *key, const char *verkey, char **val, size_t *len,
                  int64_t *version)
{
    char *v = NULL;
    size_t vlen;
    *val = NULL;
    *version = 0;
    if (rg_cache_get(&app->st.cache, verkey, &v, &vlen) == 0)
        *version = strtoll(v, NULL, 10);
    free(v);
    v = NULL;
    if (rg_cache_get(&app->st.cache, key, &v, &vlen) != 0)
        return RG_ENOTFOUND;
    char *nl = memchr(v, '\n', vlen);
    if (!nl || strtoll(v, NULL, 10) != *version) {
        free(v);
        return RG_ENOTFOUND;
    }
    *len = vlen - (size_t)(nl + 1 - v);
    memmove(v, nl + 1, *len + 1);
    *val = v;
    return 0;
}

void rg_vcache_set(rg_app *app, const char *key, int64_t version, const char *val, size_t len,
                   int64_t ttl_ms)
{
    rg_buf b = {0};
    rg_buf_printf(&b, "%lld\n", (long long)version);
    rg_buf_put(&b, val, len);
    rg_cache_set(&app->st.cache, key, b.data, b.len, ttl_ms);
    rg_buf_free(&b);
}

void rg_vcache_bump(rg_app *app, const char *verkey)
{
    /* A version that was evicted starts again from the clock, never from a
     * number an older entry may still carry. */
    int64_t v;
    if (rg_cache_incr(&app->st.cache, verkey, 1, 0, &v) == 0 && v == 1)
        rg_cache_incr(&app->st.cache, verkey, rg_now_ms(), 0, &v);
}
int rg_money_parse(const char *s, int64_t *out)
{
    if (!s || !*s)
        return RG_EINVAL;
    int64_t units = 0;
    const char *p = s;
    int digits = 0;
    while (isdigit((unsigned char)*p)) {
        if (++digits > 8)
            return RG_EINVAL;
        units = units * 10 + (*p++ - '0');
    }
    if (digits == 0)
        return RG_EINVAL;
    int64_t cents = 0;
    if (*p == '.') {
        p++;
        int frac = 0;
        while (isdigit((unsigned char)*p)) {
            if (++frac > 2)
                return RG_EINVAL;
            cents = cents * 10 + (*p++ - '0');
        }
        if (frac == 0)
            return RG_EINVAL;
        if (frac == 1)
            cents *= 10;
    }
    if (*p)
        return RG_EINVAL;
    *out = units * 100 + cents;
    return 0;
}

void rg_money_format(int64_t minor, char out[24])
{
    const char *sign = minor < 0 ? "-" : "";
    uint64_t v = minor < 0 ? (uint64_t)(-(minor + 1)) + 1 : (uint64_t)minor;
    snprintf(out, 24, "%s%llu.%02llu", sign, (unsigned long long)(v / 100),
             (unsigned long long)(v % 100));
}
