/* Wall-clock and monotonic time, RFC 3339 times and calendar dates. */
#ifndef RISINGGEN_BASE_CLOCK_H
#define RISINGGEN_BASE_CLOCK_H

#include <stdint.h>

#define RG_TIME_LEN 20 /* "2026-06-01T12:00:00Z" */

/* Current UTC time in whole seconds and in milliseconds. */
int64_t rg_now(void);
int64_t rg_now_ms(void);
/* Monotonic time (for durations and timeouts), in milliseconds and in
 * microseconds, from an arbitrary origin. */
int64_t rg_mono_ms(void);
int64_t rg_mono_us(void);
/* Formats t (seconds since the epoch) as RFC 3339 UTC into out[21]. */
void rg_time_format(int64_t t, char out[RG_TIME_LEN + 1]);
/* Parses RFC 3339 ("2026-06-01T12:00:00Z", "…+02:00", fractions dropped)
 * into seconds since the epoch. Returns 0 or RG_EINVAL. */
int rg_time_parse(const char *s, int64_t *out);
/* Parses a date "YYYY-MM-DD" (a real calendar day) into seconds at 00:00 UTC. */
int rg_date_parse(const char *s, int64_t *out);
/* Whole years between a "YYYY-MM-DD" birth date and time t. -1 if invalid. */
int rg_age_at(const char *birth_date, int64_t t);

#endif
