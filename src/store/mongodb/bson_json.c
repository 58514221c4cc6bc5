/* JSON and BSON, both ways (bson_json.h). */
#include "bson_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static bool is_oid_text(const char *s, size_t n)
{
    if (n != 24)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

/* The two instant forms: "YYYY-MM-DDTHH:MM:SSZ" (ms 0) and
 * "YYYY-MM-DDTHH:MM:SS.mmmZ" (ms above 0). */
static void format_instant(int64_t ms, char out[32])
{
    time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    int frac = (int)(ms - (int64_t)secs * 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    if (frac)
        snprintf(out + n, 32 - n, ".%03dZ", frac);
    else
        snprintf(out + n, 32 - n, "Z");
}

/* The instant s names, when s is exactly one of the two forms as
 * format_instant writes it (so that it reads back unchanged). */
static bool parse_instant(const char *s, size_t n, int64_t *ms)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd";
    if (n != 20 && n != 24)
        return false;
    for (size_t i = 0; i < 19; i++)
        if (shape[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != shape[i])
            return false;
    int frac = 0;
    if (n == 24) {
        if (s[19] != '.' || s[23] != 'Z')
            return false;
        for (int i = 20; i < 23; i++) {
            if (!(s[i] >= '0' && s[i] <= '9'))
                return false;
            frac = frac * 10 + (s[i] - '0');
        }
        if (frac == 0)
            return false; /* written as the whole-second form */
    } else if (s[19] != 'Z') {
        return false;
    }
    struct tm tm = {0};
    tm.tm_year = atoi(s) - 1900;
    tm.tm_mon = atoi(s + 5) - 1;
    tm.tm_mday = atoi(s + 8);
    tm.tm_hour = atoi(s + 11);
    tm.tm_min = atoi(s + 14);
    tm.tm_sec = atoi(s + 17);
    time_t secs = timegm(&tm);
    *ms = (int64_t)secs * 1000 + frac;
    char again[32];
    format_instant(*ms, again);
    return strlen(again) == n && memcmp(again, s, n) == 0; /* no 30 February */
}

bool rg__bson_append_text(bson_t *b, const char *key, int klen, const char *text)
{
    size_t n = strlen(text);
    int64_t ms;
    if (is_oid_text(text, n)) {
        bson_oid_t oid;
        bson_oid_init_from_string(&oid, text);
        return bson_append_oid(b, key, klen, &oid);
    }
    if (parse_instant(text, n, &ms))
        return bson_append_date_time(b, key, klen, ms);
    return bson_append_utf8(b, key, klen, text, (int)n);
}

/* The shortest %g text that reads back as d. */
static void shortest_real(double d, char out[40])
{
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, 40, "%.*g", prec, d);
        if (strtod(out, NULL) == d)
            return;
    }
}

bool rg__bson_append_json(bson_t *b, const char *key, int klen, const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        bson_t child;
        if (!bson_append_document_begin(b, key, klen, &child))
            return false;
        bool ok = rg__bson_from_json(&child, v);
        return bson_append_document_end(b, &child) && ok;
    }
    case JSON_ARRAY: {
        bson_t child;
        if (!bson_append_array_begin(b, key, klen, &child))
            return false;
        bool ok = true;
        for (size_t i = 0; ok && i < json_array_size(v); i++) {
            char ikey[24];
            const char *k;
            size_t kn = bson_uint32_to_string((uint32_t)i, &k, ikey, sizeof ikey);
            ok = rg__bson_append_json(&child, k, (int)kn, json_array_get(v, i));
        }
        return bson_append_array_end(b, &child) && ok;
    }
    case JSON_STRING: {
        const char *s = json_string_value(v);
        size_t n = json_string_length(v);
        if (strlen(s) == n)
            return rg__bson_append_text(b, key, klen, s);
        return bson_append_utf8(b, key, klen, s, (int)n); /* holds U+0000 */
    }
    case JSON_INTEGER:
        return bson_append_int64(b, key, klen, (int64_t)json_integer_value(v));
    case JSON_REAL: {
        char text[40];
        shortest_real(json_real_value(v), text);
        bson_decimal128_t dec;
        return bson_decimal128_from_string(text, &dec) &&
               bson_append_decimal128(b, key, klen, &dec);
    }
    case JSON_TRUE:
    case JSON_FALSE:
        return bson_append_bool(b, key, klen, json_is_true(v));
    case JSON_NULL:
    default:
        return bson_append_null(b, key, klen);
    }
}

bool rg__bson_from_json(bson_t *b, const json_t *obj)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        if (!rg__bson_append_json(b, k, (int)strlen(k), v))
            return false;
    }
    return true;
}

static json_t *array_from_iter(bson_iter_t *child)
{
    json_t *arr = json_array();
    while (bson_iter_next(child)) {
        json_t *x = rg__json_from_iter(child);
        if (!x) {
            json_decref(arr);
            return NULL;
        }
        json_array_append_new(arr, x);
    }
    return arr;
}

static json_t *object_from_iter(bson_iter_t *child)
{
    json_t *obj = json_object();
    while (bson_iter_next(child)) {
        json_t *x = rg__json_from_iter(child);
        if (!x || json_object_setn_new_nocheck(obj, bson_iter_key(child), bson_iter_key_len(child),
                                               x) < 0) {
            json_decref(obj);
            return NULL;
        }
    }
    return obj;
}

json_t *rg__json_from_iter(const bson_iter_t *it)
{
    bson_iter_t child;
    switch (bson_iter_type(it)) {
    case BSON_TYPE_DOCUMENT:
        return bson_iter_recurse(it, &child) ? object_from_iter(&child) : NULL;
    case BSON_TYPE_ARRAY:
        return bson_iter_recurse(it, &child) ? array_from_iter(&child) : NULL;
    case BSON_TYPE_UTF8: {
        uint32_t n;
        const char *s = bson_iter_utf8(it, &n);
        return json_stringn(s, n);
    }
    case BSON_TYPE_OID: {
        char hex[25];
        bson_oid_to_string(bson_iter_oid(it), hex);
        return json_string(hex);
    }
    case BSON_TYPE_DATE_TIME: {
        char text[32];
        format_instant(bson_iter_date_time(it), text);
        return json_string(text);
    }
    case BSON_TYPE_INT32:
        return json_integer(bson_iter_int32(it));
    case BSON_TYPE_INT64:
        return json_integer(bson_iter_int64(it));
    case BSON_TYPE_DOUBLE:
        return json_real(bson_iter_double(it));
    case BSON_TYPE_DECIMAL128: {
        bson_decimal128_t dec;
        char text[BSON_DECIMAL128_STRING];
        if (!bson_iter_decimal128(it, &dec))
            return NULL;
        bson_decimal128_to_string(&dec, text);
        char *end;
        double d = strtod(text, &end);
        return *end ? NULL : json_real(d); /* NaN and Infinity are not JSON */
    }
    case BSON_TYPE_BOOL:
        return json_boolean(bson_iter_bool(it));
    case BSON_TYPE_NULL:
    case BSON_TYPE_UNDEFINED:
        return json_null();
    default:
        return NULL;
    }
}

json_t *rg__json_from_bson(const bson_t *b)
{
    bson_iter_t it;
    return bson_iter_init(&it, b) ? object_from_iter(&it) : NULL;
}
