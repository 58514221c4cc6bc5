#include "domain.h"
#include "risinggen/base/log.h"
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

int rg_rel_run_read(rg_app *app, const rg_ctx *reader, const char *name, const rg_param *p, int n,
                    rg_rows **out)
{
    rg_rel_conn *c;
    int rc = reader && !reader->read_own_writes ? rg_rel_acquire_read(&app->st.rel, &c)
                                                : rg_rel_acquire(&app->st.rel, &c);
    if (rc < 0)
        return rc;
    rc = rg_rel_query(&app->st.rel, c, name, p, n, out);
    rg_rel_release(&app->st.rel, c);
    return rc;
}

void rg__wrote_key(const char *user_id, char *key, size_t cap)
{
    snprintf(key, cap, "rw:%s", user_id);
}

int rg_vcache_take(char *ver, char *entry, size_t elen, char **val, size_t *len, int64_t *version)
{
    *val = NULL;
    *version = ver ? strtoll(ver, NULL, 10) : 0;
    free(ver);
    char *nl = entry ? memchr(entry, '\n', elen) : NULL;
    if (!nl || strtoll(entry, NULL, 10) != *version) {
        free(entry);
        return RG_ENOTFOUND;
    }
    *len = elen - (size_t)(nl + 1 - entry);
    memmove(entry, nl + 1, *len + 1);
    *val = entry;
    return 0;
}

int rg_vcache_get(rg_app *app, const char *key, const char *verkey, char **val, size_t *len,
                  int64_t *version)
{
    const char *keys[] = {verkey, key};
    char *v[2];
    size_t l[2];
    rg_cache_get_many(&app->st.cache, keys, 2, v, l);
    return rg_vcache_take(v[0], v[1], l[1], val, len, version);
}

void rg_vcache_set(rg_app *app, const char *key, int64_t version, const char *val, size_t len,
                   int64_t ttl_ms)
{
    rg_buf b = {0};
    rg_buf_printf(&b, "%lld\n", (long long)version);
    rg_buf_put(&b, val, len);
    rg_cache_fill(&app->st.cache, key, b.data, b.len, ttl_ms); /* it carries its version */
    rg_buf_free(&b);
}

void rg_vcache_bumped(rg_app *app, const rg_cache_write *w)
{
    /* A counter that was evicted starts again from the clock, never from a
     * number an older entry may still carry. */
    int64_t v;
    if (w->rc == 0 && w->out == 1)
        rg_cache_incr(&app->st.cache, w->key, rg_now_ms(), 0, &v);
}

void rg_vcache_bump(rg_app *app, const char *verkey)
{
    rg_cache_write w = {.op = RG_CACHE_WRITE_INCR, .key = verkey, .by = 1};
    w.rc = rg_cache_incr(&app->st.cache, verkey, 1, 0, &w.out);
    rg_vcache_bumped(app, &w);
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

int rg__parse_bool_param(const char *name, const char *s, bool *out)
{
    if (!s) {
        *out = false;
        return 0;
    }
    if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0)
        *out = true;
    else if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0)
        *out = false;
    else
        return rg_error_set(RG_EINVAL, "%s must be true or false", name);
    return 0;
}

int rg__parse_bound(const char *name, const char *s, bool end_of_day, char out[RG_TIME_LEN + 1])
{
    int64_t t;
    if (rg_date_parse(s, &t) == 0)
        t += end_of_day ? 86399 : 0;
    else if (rg_time_parse(s, &t) < 0)
        return rg_error_set(RG_EINVAL, "%s must be a date YYYY-MM-DD or an RFC 3339 time", name);
    rg_time_format(t, out);
    return 0;
}

int rg__parse_range(const char *from_s, const char *to_s, char from[RG_TIME_LEN + 1],
                    char to[RG_TIME_LEN + 1])
{
    int rc;
    if (from_s && (rc = rg__parse_bound("from", from_s, false, from)) < 0)
        return rc;
    if (to_s && (rc = rg__parse_bound("to", to_s, true, to)) < 0)
        return rc;
    if (from_s && to_s && strcmp(from, to) > 0)
        return rg_error_set(RG_EINVAL, "from must not be after to");
    return 0;
}

/* Brings a stored document to the current schema before it is written
 * again; refuses one written by a newer program. */
int rg__doc_upgrade(json_t *doc, int current, const char *what)
{
    json_t *v = json_object_get(doc, "schemaVersion");
    if (!v) { /* written before versions were recorded: the first shape */
        json_object_set_new(doc, "schemaVersion", json_integer(current));
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > current) {
        rg_err("%s document has schemaVersion %lld, this program writes %d", what,
               json_is_integer(v) ? (long long)json_integer_value(v) : -1LL, current);
        return rg_error_set(RG_EINTERNAL, "internal error");
    }
    return 0;
}

bool rg__json_is_str(json_t *o, const char *k)
{
    return json_is_string(json_object_get(o, k));
}

bool rg__docs_atomic(rg_app *app)
{
#ifdef RG_FAULTS
    if (getenv("RG_FAULT_NO_ATOMIC"))
        return false;
#endif
    int rc = rg_docs_atomic(&app->st.docs);
    if (rc < 0)
        rg_error_clear(); /* the one-by-one path then finds the store down */
    return rc == 1;
}

/* https://host… with no spaces or control characters, at most 2048 bytes. */
bool rg__https_url_ok(const char *s)
{
    if (strncmp(s, "https://", 8) != 0 || strlen(s) > 2048)
        return false;
    const char *host = s + 8;
    size_t hlen = strcspn(host, "/?#");
    if (hlen == 0 || host[0] == '@' || host[0] == ':')
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= 0x20 || *p == 0x7f || *p == '"' || *p == '<' || *p == '>' || *p == '\\')
            return false;
    return true;
}

/* Copies at most max bytes of s into out[cap] without cutting a UTF-8
 * sequence, adding "…" when it was cut. */
void rg__utf8_clip(const char *s, size_t max, char *out, size_t cap)
{
    size_t n = strlen(s);
    if (max + 4 > cap)
        max = cap - 4;
    if (n <= max) {
        memcpy(out, s, n + 1);
        return;
    }
    while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
        max--;
    memcpy(out, s, max);
    memcpy(out + max, "\xe2\x80\xa6", 4);
}

json_t *rg__doc_view(const char *id, json_t *doc)
{
    json_t *v = json_deep_copy(doc);
    json_object_del(v, "schemaVersion");
    json_object_del(v, "key");
    json_t *out = json_pack("{s:s}", "id", id);
    json_object_update(out, v);
    json_decref(v);
    return out;
}

/* Documents of the content features that name a person as their author or
 * owner: where the id is, and the key of the export list (NULL: not
 * exported under this path). */
const struct rg_authored rg__authored[] = {
    {COLL_MESSAGES, "sender.userId", "messages"}, {COLL_FEEDBACK, "userId", "feedback"},
    {COLL_RESOURCES, "createdBy", "resources"},   {COLL_CHANNELS, "organizerId", "channels"},
    {COLL_CHANNELS, "createdBy", NULL},
};
const int rg__nauthored = (int)(sizeof rg__authored / sizeof rg__authored[0]);

void rg__now_text(char out[RG_TIME_LEN + 1])
{
    rg_time_format(rg_now(), out);
}
