/* Field validation for request bodies. Each check records a field error
 * (rg_error_field) and returns false when the value is wrong; call
 * v_finish() at the end to turn recorded errors into RG_EVALIDATION. A
 * missing optional field is fine; JSON null counts as missing unless noted. */
#ifndef RG_VALIDATE_H
#define RG_VALIDATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct v_ctx {
    int errors;
} v_ctx;

/* A string of min..max UTF-8 characters (control characters refused).
 * *out is borrowed from obj; unchanged when absent. */
bool v_string(v_ctx *v, json_t *obj, const char *field, bool required, size_t min, size_t max,
              const char **out);
bool v_email(v_ctx *v, json_t *obj, const char *field, bool required, const char **out);
bool v_int(v_ctx *v, json_t *obj, const char *field, bool required, int64_t min, int64_t max,
           int64_t *out, bool *present);
bool v_real(v_ctx *v, json_t *obj, const char *field, bool required, double min, double max,
            double *out, bool *present);
bool v_bool(v_ctx *v, json_t *obj, const char *field, bool *out, bool *present);
/* RFC 3339 time; *out seconds since the epoch. */
bool v_time(v_ctx *v, json_t *obj, const char *field, bool required, int64_t *out, bool *present);
/* YYYY-MM-DD. */
bool v_date(v_ctx *v, json_t *obj, const char *field, bool required, const char **out);
bool v_object(v_ctx *v, json_t *obj, const char *field, json_t **out);
/* One of a NULL-terminated list of strings. */
bool v_enum(v_ctx *v, json_t *obj, const char *field, bool required, const char *const *allowed,
            const char **out);
/* Refuses fields not in the NULL-terminated list. */
bool v_only(v_ctx *v, json_t *obj, const char *const *allowed);
/* The same for the object at path ("contact.address"), named in errors as
 * path.field. */
bool v_only_at(v_ctx *v, json_t *obj, const char *path, const char *const *allowed);
void v_fail(v_ctx *v, const char *field, const char *msg);
/* 0 when no error was recorded, else RG_EVALIDATION with a summary detail. */
int v_finish(v_ctx *v);
/* The error for a body that is not a JSON object: RG_EJSON (400) when there
 * is no body at all, RG_EVALIDATION (422) for other JSON. */
int v_not_object(const json_t *body);
/* True when the n bytes at s are well-formed UTF-8 (no overlong forms,
 * surrogates or code points past U+10FFFF); a NUL byte counts as U+0000. */
bool rg_utf8_valid(const char *s, size_t n);
/* True when s is valid UTF-8 without control characters (tab/newline allowed
 * when multiline). Length in characters goes to *chars. */
bool v_text_ok(const char *s, bool multiline, size_t *chars);

#endif
