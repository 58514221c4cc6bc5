#include "risinggen/base/clock.h"
#include "risinggen/base/error.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t rg_now(void)
{
    return (int64_t)time(NULL);
}

int64_t rg_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void rg_time_format(int64_t t, char out[RG_TIME_LEN + 1])
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, RG_TIME_LEN + 1, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int days_in_month(int y, int m)
{
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return d[m - 1];
}

/* Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int parse_digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static int parse_ymd(const char *s, int *y, int *m, int *d)
{
    if (parse_digits(s, 4, y) || s[4] != '-' || parse_digits(s + 5, 2, m) || s[7] != '-' ||
        parse_digits(s + 8, 2, d))
        return -1;
    if (*y < 1900 || *y > 2999 || *m < 1 || *m > 12 || *d < 1 || *d > days_in_month(*y, *m))
        return -1;
    return 0;
}

int rg_date_parse(const char *s, int64_t *out)
{
    int y, m, d;
    if (!s || strlen(s) != 10 || parse_ymd(s, &y, &m, &d))
        return RG_EINVAL;
    *out = days_from_civil(y, m, d) * 86400;
    return 0;
}

int rg_time_parse(const char *s, int64_t *out)
{
    int y, mo, d, h, mi, sec;
    if (!s || strlen(s) < 20 || parse_ymd(s, &y, &mo, &d))
        return RG_EINVAL;
    if ((s[10] != 'T' && s[10] != 't') || parse_digits(s + 11, 2, &h) || s[13] != ':' ||
        parse_digits(s + 14, 2, &mi) || s[16] != ':' || parse_digits(s + 17, 2, &sec))
        return RG_EINVAL;
    if (h > 23 || mi > 59 || sec > 59)
        return RG_EINVAL;
    const char *p = s + 19;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return RG_EINVAL;
        while (isdigit((unsigned char)*p))
            p++;
    }
    int64_t off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (parse_digits(p + 1, 2, &oh) || p[3] != ':' || parse_digits(p + 4, 2, &om) || oh > 23 ||
            om > 59)
            return RG_EINVAL;
        off = (oh * 3600 + om * 60) * (*p == '+' ? 1 : -1);
        p += 6;
    } else {
        return RG_EINVAL;
    }
    if (*p)
        return RG_EINVAL;
    *out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off;
    return 0;
}

int rg_age_at(const char *birth, int64_t t)
{
    int y, m, d;
    if (!birth || strlen(birth) != 10 || parse_ymd(birth, &y, &m, &d))
        return -1;
    time_t tt = (time_t)t;
    struct tm now;
    gmtime_r(&tt, &now);
    int age = now.tm_year + 1900 - y;
    if (now.tm_mon + 1 < m || (now.tm_mon + 1 == m && now.tm_mday < d))
        age--;
    return age;
}

int64_t rg_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t rg_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
