#include "risinggen/base/error.h"

#include <stdarg.h>
#include <stdio.h>

struct rg_error_state {
    int code;
    char detail[512];
    json_t *fields;
};

static _Thread_local struct rg_error_state tls_err;

#define RG__CASE_NAME(name, num, slug, status, title)                                              \
    case num:                                                                                      \
        return #name;
#define RG__CASE_SLUG(name, num, slug, status, title)                                              \
    case num:                                                                                      \
        return slug;
#define RG__CASE_STATUS(name, num, slug, status, title)                                            \
    case num:                                                                                      \
        return status;
#define RG__CASE_TITLE(name, num, slug, status, title)                                             \
    case num:                                                                                      \
        return title;

const char *rg_error_name(int code)
{
    switch (code) {
        RG_ERROR_MAP(RG__CASE_NAME)
    }
    return "EINTERNAL";
}

const char *rg_error_slug(int code)
{
    switch (code) {
        RG_ERROR_MAP(RG__CASE_SLUG)
    }
    return "internal";
}

int rg_error_status(int code)
{
    switch (code) {
        RG_ERROR_MAP(RG__CASE_STATUS)
    }
    return 500;
}

const char *rg_error_title(int code)
{
    switch (code) {
        RG_ERROR_MAP(RG__CASE_TITLE)
    }
    return "Internal error";
}

int rg_error_set(int code, const char *fmt, ...)
{
    tls_err.code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tls_err.detail, sizeof tls_err.detail, fmt, ap);
    va_end(ap);
    return code;
}

void rg_error_field(const char *field, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!tls_err.fields)
        tls_err.fields = json_array();
    json_array_append_new(tls_err.fields, json_pack("{s:s, s:s}", "field", field, "message", msg));
}

void rg_error_clear(void)
{
    tls_err.code = 0;
    tls_err.detail[0] = '\0';
    json_decref(tls_err.fields);
    tls_err.fields = NULL;
}

const char *rg_error_detail(void)
{
    return tls_err.detail;
}
json_t *rg_error_fields(void)
{
    return tls_err.fields;
}
int rg_error_last(void)
{
    return tls_err.code;
}
