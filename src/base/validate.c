#include "risinggen/base/validate.h"
#include "risinggen/base/error.h"
#include "risinggen/base/clock.h"

#include <string.h>

void v_fail(v_ctx *v, const char *field, const char *msg)
{
    v->errors++;
    rg_error_field(field, "%s", msg);
}

bool v_text_ok(const char *s, bool multiline, size_t *chars)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 && !(multiline && (*p == '\n' || *p == '\t' || *p == '\r')))
            return false;
        if (*p == 0x7f)
            return false;
        if ((*p & 0xc0) != 0x80)
            n++;
    }
    *chars = n;
    return true; /* jansson has already refused invalid UTF-8 */
}

bool rg_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (p < end) {
        unsigned c = *p++;
        int more;
        unsigned min;
        if (c < 0x80)
            continue;
        if ((c & 0xE0) == 0xC0)
            more = 1, min = 0x80, c &= 0x1F;
        else if ((c & 0xF0) == 0xE0)
            more = 2, min = 0x800, c &= 0x0F;
        else if ((c & 0xF8) == 0xF0)
            more = 3, min = 0x10000, c &= 0x07;
        else
            return false;
        if (end - p < more)
            return false;
        for (int i = 0; i < more; i++, p++) {
            if ((*p & 0xC0) != 0x80)
                return false;
            c = (c << 6) | (*p & 0x3F);
        }
        if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
            return false;
    }
    return true;
}

static json_t *field_value(json_t *obj, const char *field)
{
    json_t *x = json_object_get(obj, field);
    return json_is_null(x) ? NULL : x;
}

static bool missing(v_ctx *v, const char *field, bool required)
{
    if (required)
        v_fail(v, field, "is required");
    return !required;
}

bool v_string(v_ctx *v, json_t *obj, const char *field, bool required, size_t min, size_t max,
              const char **out)
{
    json_t *x = field_value(obj, field);
    if (!x)
        return missing(v, field, required);
    if (!json_is_string(x)) {
        v_fail(v, field, "must be a string");
        return false;
    }
    size_t chars;
    const char *s = json_string_value(x);
    if (strlen(s) != json_string_length(x) || !v_text_ok(s, max > 255, &chars)) {
        v_fail(v, field, "contains characters that are not allowed");
        return false;
    }
    if (chars < min || chars > max) {
        char msg[96];
        if (min == max)
            snprintf(msg, sizeof msg, "must be %zu characters", min);
        else
            snprintf(msg, sizeof msg, "must be %zu to %zu characters", min, max);
        v_fail(v, field, msg);
        return false;
    }
    if (out)
        *out = s;
    return true;
}

bool v_email(v_ctx *v, json_t *obj, const char *field, bool required, const char **out)
{
    const char *s = NULL;
    if (!v_string(v, obj, field, required, 3, 254, &s))
        return false;
    if (!s)
        return true;
    const char *at = strchr(s, '@');
    if (!at || at == s || strchr(at + 1, '@') || !strchr(at + 1, '.') || at[1] == '.' ||
        s[strlen(s) - 1] == '.' || strpbrk(s, " \t,;<>()[]\\\"")) {
        v_fail(v, field, "must be an email address");
        return false;
    }
    if (out)
        *out = s;
    return true;
}

bool v_int(v_ctx *v, json_t *obj, const char *field, bool required, int64_t min, int64_t max,
           int64_t *out, bool *present)
{
    json_t *x = field_value(obj, field);
    if (present)
        *present = x != NULL;
    if (!x)
        return missing(v, field, required);
    if (!json_is_integer(x)) {
        v_fail(v, field, "must be an integer");
        return false;
    }
    json_int_t i = json_integer_value(x);
    if (i < min || i > max) {
        char msg[96];
        snprintf(msg, sizeof msg, "must be between %lld and %lld", (long long)min, (long long)max);
        v_fail(v, field, msg);
        return false;
    }
    *out = i;
    return true;
}

bool v_real(v_ctx *v, json_t *obj, const char *field, bool required, double min, double max,
            double *out, bool *present)
{
    json_t *x = field_value(obj, field);
    if (present)
        *present = x != NULL;
    if (!x)
        return missing(v, field, required);
    if (!json_is_number(x)) {
        v_fail(v, field, "must be a number");
        return false;
    }
    double d = json_number_value(x);
    if (!(d >= min && d <= max)) {
        char msg[96];
        snprintf(msg, sizeof msg, "must be between %g and %g", min, max);
        v_fail(v, field, msg);
        return false;
    }
    *out = d;
    return true;
}

bool v_bool(v_ctx *v, json_t *obj, const char *field, bool *out, bool *present)
{
    json_t *x = field_value(obj, field);
    if (present)
        *present = x != NULL;
    if (!x)
        return true;
    if (!json_is_boolean(x)) {
        v_fail(v, field, "must be true or false");
        return false;
    }
    *out = json_is_true(x);
    return true;
}

bool v_time(v_ctx *v, json_t *obj, const char *field, bool required, int64_t *out, bool *present)
{
    json_t *x = field_value(obj, field);
    if (present)
        *present = x != NULL;
    if (!x)
        return missing(v, field, required);
    if (!json_is_string(x) || rg_time_parse(json_string_value(x), out) < 0) {
        v_fail(v, field, "must be an RFC 3339 time such as 2026-06-01T12:00:00Z");
        return false;
    }
    return true;
}

bool v_date(v_ctx *v, json_t *obj, const char *field, bool required, const char **out)
{
    json_t *x = field_value(obj, field);
    if (!x)
        return missing(v, field, required);
    int64_t t;
    if (!json_is_string(x) || rg_date_parse(json_string_value(x), &t) < 0) {
        v_fail(v, field, "must be a date YYYY-MM-DD");
        return false;
    }
    if (out)
        *out = json_string_value(x);
    return true;
}

bool v_object(v_ctx *v, json_t *obj, const char *field, json_t **out)
{
    json_t *x = field_value(obj, field);
    if (!x)
        return true;
    if (!json_is_object(x)) {
        v_fail(v, field, "must be an object");
        return false;
    }
    if (out)
        *out = x;
    return true;
}

bool v_enum(v_ctx *v, json_t *obj, const char *field, bool required, const char *const *allowed,
            const char **out)
{
    json_t *x = field_value(obj, field);
    if (!x)
        return missing(v, field, required);
    if (json_is_string(x))
        for (const char *const *a = allowed; *a; a++)
            if (strcmp(*a, json_string_value(x)) == 0) {
                if (out)
                    *out = *a;
                return true;
            }
    char msg[256] = "must be one of:";
    for (const char *const *a = allowed; *a; a++) {
        strncat(msg, " ", sizeof msg - strlen(msg) - 1);
        strncat(msg, *a, sizeof msg - strlen(msg) - 1);
    }
    v_fail(v, field, msg);
    return false;
}

bool v_only(v_ctx *v, json_t *obj, const char *const *allowed)
{
    return v_only_at(v, obj, NULL, allowed);
}

bool v_only_at(v_ctx *v, json_t *obj, const char *path, const char *const *allowed)
{
    const char *key;
    json_t *val;
    bool ok = true;
    json_object_foreach(obj, key, val)
    {
        const char *const *a;
        for (a = allowed; *a && strcmp(*a, key) != 0; a++)
            ;
        if (!*a) {
            /* The name, shortened to 64 bytes on a UTF-8 character boundary. */
            char f[80];
            size_t n = strlen(key);
            if (n > 64) {
                n = 64;
                while (n && ((unsigned char)key[n] & 0xc0) == 0x80)
                    n--;
            }
            memcpy(f, key, n);
            f[n] = '\0';
            char named[160];
            snprintf(named, sizeof named, "%s%s%s", path ? path : "", path ? "." : "", f);
            v_fail(v, named, "is not a field that can be set here");
            ok = false;
        }
    }
    return ok;
}

int v_not_object(const json_t *body)
{
    if (!body)
        return rg_error_set(RG_EJSON, "a JSON object body is required");
    return rg_error_set(RG_EVALIDATION, "the body must be a JSON object");
}

int v_finish(v_ctx *v)
{
    if (!v->errors)
        return 0;
    return rg_error_set(RG_EVALIDATION, "%d field%s did not pass validation", v->errors,
                        v->errors == 1 ? "" : "s");
}
