/* Small helpers shared by every module: ids, time, encoding, logging. */
#ifndef RISINGGEN_UTIL_H
#define RISINGGEN_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define RG_OID_LEN    24 /* hex characters of an ObjectId */
#define RG_TIME_LEN   20 /* "2026-06-01T12:00:00Z" */
#define RG_SHA256_HEX 64 /* hex characters of a SHA-256 digest */

/* Writes a new 24-hex ObjectId (4-byte time, 5 random bytes, 3-byte counter)
 * and its NUL into out[25]. Thread-safe. */
void rg_oid_new(char out[RG_OID_LEN + 1]);
/* True when s is exactly 24 lowercase or uppercase hex digits. */
bool rg_oid_valid(const char *s);

/* Current UTC time in whole seconds and in milliseconds. */
int64_t rg_now(void);
int64_t rg_now_ms(void);
/* Formats t (seconds since the epoch) as RFC 3339 UTC into out[21]. */
void rg_time_format(int64_t t, char out[RG_TIME_LEN + 1]);
/* Parses RFC 3339 ("2026-06-01T12:00:00Z", "…+02:00", fractions dropped)
 * into seconds since the epoch. Returns 0 or RG_EINVAL. */
int rg_time_parse(const char *s, int64_t *out);
/* Parses a date "YYYY-MM-DD" (a real calendar day) into seconds at 00:00 UTC. */
int rg_date_parse(const char *s, int64_t *out);
/* Whole years between a "YYYY-MM-DD" birth date and time t. -1 if invalid. */
int rg_age_at(const char *birth_date, int64_t t);

/* Writes the lowercase hex SHA-256 of data into out[65]. */
void rg_sha256_hex(const void *data, size_t len, char out[RG_SHA256_HEX + 1]);
/* Fills out with n cryptographically random bytes encoded as base64url
 * (no padding); out must hold 4*n/3+4 bytes. */
void rg_random_token(char *out, size_t n);

/* base64url without padding. enc returns the length written (out must hold
 * 4*len/3+4); dec returns the decoded length or -1. */
size_t rg_b64url_encode(const void *in, size_t len, char *out);
long rg_b64url_decode(const char *in, size_t len, void *out, size_t cap);

/* Money: parses "25.00" / "25" / "25.5" into minor units (cents), at most
 * two decimals and 0 ≤ value ≤ 99,999,999.99. Returns 0 or RG_EINVAL. */
int rg_money_parse(const char *s, int64_t *out);
/* Formats minor units as "25.00" into out[24]. */
void rg_money_format(int64_t minor, char out[24]);

/* Great-circle distance in kilometres between two WGS84 points. */
double rg_distance_km(double lat1, double lng1, double lat2, double lng2);

/* Growable byte buffer. Every function accepts a zeroed struct; free accepts
 * a never-used one. Allocation failure aborts (the process cannot go on). */
typedef struct rg_buf {
    char *data;
    size_t len, cap;
} rg_buf;
void rg_buf_put(rg_buf *b, const void *p, size_t n);
void rg_buf_puts(rg_buf *b, const char *s);
void rg_buf_printf(rg_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Gives the NUL-terminated data to the caller (free() it) and resets b. */
char *rg_buf_steal(rg_buf *b);
void rg_buf_free(rg_buf *b);

/* malloc/strdup that abort on failure. */
void *rg_xmalloc(size_t n);
void *rg_xcalloc(size_t n, size_t m);
char *rg_xstrdup(const char *s);

/* Structured logging to stderr: one JSON object per line. */
enum rg_log_level { RG_LOG_DEBUG, RG_LOG_INFO, RG_LOG_WARN, RG_LOG_ERROR };
void rg_log(enum rg_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rg_log_set_level(enum rg_log_level lvl);
#define rg_info(...) rg_log(RG_LOG_INFO, __VA_ARGS__)
#define rg_warn(...) rg_log(RG_LOG_WARN, __VA_ARGS__)
#define rg_err(...)  rg_log(RG_LOG_ERROR, __VA_ARGS__)

#endif
