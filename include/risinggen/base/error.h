/* One numbered error list for the whole program.
 *
 * Every function that can fail returns int: 0 (or a count) on success and a
 * negative RG_E* code on failure. The code decides the HTTP status and the
 * problem type; a human-readable detail for the client and optional field
 * errors are kept per thread (rg_error_last), libgit2 style. Backend messages
 * (SQLite, libpq, hiredis) never reach the client: adapters log them and
 * return a code. Codes are never renumbered or reused. */
#ifndef RISINGGEN_ERROR_H
#define RISINGGEN_ERROR_H

#include <jansson.h>

/*        name         num  slug                    status title */
#define RG_ERROR_MAP(X)                                                                            \
    X(OK, 0, "ok", 200, "OK")                                                                      \
    X(EINVAL, -1, "bad-request", 400, "Bad request")                                               \
    X(EJSON, -2, "malformed-json", 400, "Malformed JSON")                                          \
    X(EUNAUTH, -3, "unauthenticated", 401, "Not authenticated")                                    \
    X(EFORBIDDEN, -4, "forbidden", 403, "Not allowed")                                             \
    X(ENOTFOUND, -5, "not-found", 404, "Not found")                                                \
    X(EMETHOD, -6, "method-not-allowed", 405, "Method not allowed")                                \
    X(ECONFLICT, -7, "conflict", 409, "Conflict")                                                  \
    X(EFULL, -8, "event-full", 409, "Event full")                                                  \
    X(EALREADY, -9, "already-registered", 409, "Already registered")                               \
    X(ETOOBIG, -10, "payload-too-large", 413, "Payload too large")                                 \
    X(EMEDIA, -11, "unsupported-media-type", 415, "Unsupported media type")                        \
    X(EVALIDATION, -12, "validation", 422, "Validation failed")                                    \
    X(ELOCKED, -13, "account-locked", 423, "Account locked")                                       \
    X(ERATE, -14, "rate-limited", 429, "Too many requests")                                        \
    X(EUNAVAIL, -15, "store-unavailable", 503, "Service unavailable")                              \
    X(ENOMEM, -16, "internal", 500, "Internal error")                                              \
    X(EINTERNAL, -17, "internal", 500, "Internal error")                                           \
    X(ESTALE, -18, "conflict", 409, "Concurrent update")                                           \
    X(ENOTACCEPT, -19, "not-acceptable", 406, "Not acceptable")                                    \
    X(ECHECKSUM, -20, "migration-checksum", 500, "Migration changed after it was applied")         \
    X(EUNPROCESSABLE, -21, "unprocessable", 422, "Request breaks a rule")                          \
    X(EHEADERS, -22, "headers-too-large", 431, "Request header fields too large")                  \
    X(ENOTIMPL, -23, "not-implemented", 501, "Not implemented")

enum rg_error_code {
#define RG__ENUM(name, num, slug, status, title) RG_##name = num,
    RG_ERROR_MAP(RG__ENUM)
#undef RG__ENUM
};

/* Name ("EINVAL"), problem slug, HTTP status and title of a code. Static strings. */
const char *rg_error_name(int code);
const char *rg_error_slug(int code);
int rg_error_status(int code);
const char *rg_error_title(int code);

/* Records a client-safe detail for the calling thread and returns code. */
int rg_error_set(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Adds a field error ({"field", "message"}) to the thread's current error. */
void rg_error_field(const char *field, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Clears the thread's error (detail and fields). */
void rg_error_clear(void);
/* The thread's last detail ("" if none); valid until the next set/clear. */
const char *rg_error_detail(void);
/* The thread's field errors (borrowed; NULL if none). */
json_t *rg_error_fields(void);
/* Problem type and status of the last rg_error_set on this thread. */
int rg_error_last(void);

#endif
