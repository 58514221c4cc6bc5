#include "risinggen/util.h"
#include "risinggen/error.h"

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

void *rg_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        abort();
    return p;
}

void *rg_xcalloc(size_t n, size_t m)
{
    void *p = calloc(n ? n : 1, m ? m : 1);
    if (!p)
        abort();
    return p;
}

char *rg_xstrdup(const char *s)
{
    char *p = strdup(s);
    if (!p)
        abort();
    return p;
}

/* ---- ObjectId ---- */

static atomic_uint oid_counter;
static unsigned char oid_process[5];
static pthread_once_t oid_once = PTHREAD_ONCE_INIT;

static void oid_init(void)
{
    randombytes_buf(oid_process, sizeof oid_process);
    uint32_t c;
    randombytes_buf(&c, sizeof c);
    atomic_store(&oid_counter, c);
}

void rg_oid_new(char out[RG_OID_LEN + 1])
{
    pthread_once(&oid_once, oid_init);
    unsigned char b[12];
    uint32_t t = (uint32_t)time(NULL);
    unsigned c = atomic_fetch_add(&oid_counter, 1);
    b[0] = t >> 24, b[1] = t >> 16, b[2] = t >> 8, b[3] = t;
    memcpy(b + 4, oid_process, 5);
    b[9] = c >> 16, b[10] = c >> 8, b[11] = c;
    sodium_bin2hex(out, RG_OID_LEN + 1, b, sizeof b);
}

bool rg_oid_valid(const char *s)
{
    if (!s)
        return false;
    for (int i = 0; i < RG_OID_LEN; i++)
        if (!isxdigit((unsigned char)s[i]))
            return false;
    return s[RG_OID_LEN] == '\0';
}

/* ---- time ---- */

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

/* ---- hashing, tokens, base64url ---- */

void rg_sha256_hex(const void *data, size_t len, char out[RG_SHA256_HEX + 1])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, data, len);
    sodium_bin2hex(out, RG_SHA256_HEX + 1, h, sizeof h);
}

size_t rg_b64url_encode(const void *in, size_t len, char *out)
{
    size_t cap = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_bin2base64(out, cap, in, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return strlen(out);
}

long rg_b64url_decode(const char *in, size_t len, void *out, size_t cap)
{
    size_t n = 0;
    if (sodium_base642bin(out, cap, in, len, NULL, &n, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
        return -1;
    return (long)n;
}

void rg_random_token(char *out, size_t n)
{
    unsigned char buf[64];
    if (n > sizeof buf)
        n = sizeof buf;
    randombytes_buf(buf, n);
    rg_b64url_encode(buf, n, out);
}

/* ---- money ---- */

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

double rg_distance_km(double lat1, double lng1, double lat2, double lng2)
{
    const double r = 6371.0088, rad = M_PI / 180.0;
    double dlat = (lat2 - lat1) * rad, dlng = (lng2 - lng1) * rad;
    double a = sin(dlat / 2) * sin(dlat / 2) +
               cos(lat1 * rad) * cos(lat2 * rad) * sin(dlng / 2) * sin(dlng / 2);
    return 2 * r * asin(fmin(1.0, sqrt(a)));
}

/* ---- buffers ---- */

static void buf_grow(rg_buf *b, size_t need)
{
    if (b->len + need + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + need + 1)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p)
        abort();
    b->data = p;
    b->cap = cap;
}

void rg_buf_put(rg_buf *b, const void *p, size_t n)
{
    buf_grow(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void rg_buf_puts(rg_buf *b, const char *s)
{
    rg_buf_put(b, s, strlen(s));
}

void rg_buf_printf(rg_buf *b, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        va_end(ap2);
        return;
    }
    buf_grow(b, (size_t)n);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    b->len += (size_t)n;
}

char *rg_buf_steal(rg_buf *b)
{
    if (!b->data)
        buf_grow(b, 0), b->data[0] = '\0';
    char *p = b->data;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

void rg_buf_free(rg_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* ---- logging ---- */

static enum rg_log_level log_level = RG_LOG_INFO;
void rg_log_set_level(enum rg_log_level lvl)
{
    log_level = lvl;
}

void rg_log(enum rg_log_level lvl, const char *fmt, ...)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    if (lvl < log_level)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct timeval tv;
    gettimeofday(&tv, NULL);
    char ts[RG_TIME_LEN + 1];
    rg_time_format(tv.tv_sec, ts);
    json_t *line = json_pack("{s:s, s:s, s:s}", "ts", ts, "level", names[lvl], "msg", msg);
    char *s = json_dumps(line, JSON_COMPACT);
    if (s) {
        fprintf(stderr, "%s\n", s);
        free(s);
    }
    json_decref(line);
}
