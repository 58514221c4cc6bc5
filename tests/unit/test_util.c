/* Time, money, ids, encodings: the small rules everything else leans on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>

#include "domain.h"
#include "risinggen/base/clock.h"
#include "risinggen/base/id.h"
#include "risinggen/base/geo.h"
#include "risinggen/base/error.h"
#include "risinggen/base/csv.h"
#include "risinggen/base/metrics.h"

static void time_round_trip(void **state)
{
    (void)state;
    int64_t t;
    assert_int_equal(rg_time_parse("2026-06-01T12:00:00Z", &t), 0);
    assert_int_equal(t, 1780315200);
    char out[RG_TIME_LEN + 1];
    rg_time_format(t, out);
    assert_string_equal(out, "2026-06-01T12:00:00Z");
    /* Offsets and fractions normalise to UTC seconds. */
    assert_int_equal(rg_time_parse("2026-06-01T14:00:00.123+02:00", &t), 0);
    rg_time_format(t, out);
    assert_string_equal(out, "2026-06-01T12:00:00Z");
    assert_int_equal(rg_time_parse("2024-02-29T00:00:00Z", &t), 0);
}

static void time_rejects(void **state)
{
    (void)state;
    int64_t t;
    const char *bad[] = {"",
                         "2026-06-01",
                         "2026-13-01T00:00:00Z",
                         "2026-02-30T00:00:00Z",
                         "2025-02-29T00:00:00Z",
                         "2026-06-01T24:00:00Z",
                         "2026-06-01T12:00:00",
                         "2026-06-01T12:00:00+2:00",
                         "2026-06-01T12:00:00Zjunk",
                         "2026-06-01 12:00:00Z",
                         "'; DROP TABLE x; --"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(rg_time_parse(bad[i], &t), RG_EINVAL);
}

static void dates_and_ages(void **state)
{
    (void)state;
    int64_t t, now;
    assert_int_equal(rg_date_parse("2000-01-01", &t), 0);
    assert_int_equal(t, 946684800);
    assert_int_equal(rg_date_parse("2000-1-01", &t), RG_EINVAL);
    assert_int_equal(rg_date_parse("2001-02-29", &t), RG_EINVAL);
    assert_int_equal(rg_time_parse("2026-06-01T00:00:00Z", &now), 0);
    assert_int_equal(rg_age_at("2010-06-01", now), 16); /* birthday today */
    assert_int_equal(rg_age_at("2010-06-02", now), 15); /* tomorrow */
    assert_int_equal(rg_age_at("nonsense", now), -1);
}

static void money(void **state)
{
    (void)state;
    int64_t m;
    char out[24];
    assert_int_equal(rg_money_parse("25.00", &m), 0);
    assert_int_equal(m, 2500);
    assert_int_equal(rg_money_parse("25", &m), 0);
    assert_int_equal(m, 2500);
    assert_int_equal(rg_money_parse("0.5", &m), 0);
    assert_int_equal(m, 50);
    assert_int_equal(rg_money_parse("99999999.99", &m), 0);
    assert_int_equal(m, 9999999999);
    const char *bad[] = {"", "-1", "1.234", "1.", ".5", "1e3", "100000000", "12,00", " 1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(rg_money_parse(bad[i], &m), RG_EINVAL);
    rg_money_format(2500, out);
    assert_string_equal(out, "25.00");
    rg_money_format(5, out);
    assert_string_equal(out, "0.05");
    rg_money_format(-150, out);
    assert_string_equal(out, "-1.50");
}

static void object_ids(void **state)
{
    (void)state;
    char a[RG_OID_LEN + 1], b[RG_OID_LEN + 1];
    rg_oid_new(a);
    rg_oid_new(b);
    assert_true(rg_oid_valid(a));
    assert_string_not_equal(a, b);
    assert_false(rg_oid_valid("123"));
    assert_false(rg_oid_valid("zzzzzzzzzzzzzzzzzzzzzzzz"));
    assert_false(rg_oid_valid("0123456789abcdef012345678"));
    /* Ids sort in the order they were made (at most one step back, where
     * the 3-byte counter wraps), and their last 5 bytes are random: no two
     * alike and never the one before plus one, so that one id does not
     * lead to the next. */
    enum { N = 2000 };
    static char ids[N][RG_OID_LEN + 1];
    int back = 0, next_of_previous = 0;
    for (int i = 0; i < N; i++) {
        rg_oid_new(ids[i]);
        if (i == 0)
            continue;
        back += strcmp(ids[i - 1], ids[i]) >= 0;
        unsigned long long prev = strtoull(ids[i - 1] + 14, NULL, 16),
                           cur = strtoull(ids[i] + 14, NULL, 16);
        next_of_previous += cur == prev + 1;
    }
    assert_true(back <= 1);
    assert_int_equal(next_of_previous, 0);
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++)
            assert_true(strcmp(ids[i] + 14, ids[j] + 14) != 0);
}

/* CSV fields: RFC 4180 quoting, and anything a spreadsheet could run as a
 * formula (a leading =, +, -, @, tab, CR or LF) quoted behind a '. */
static void csv_fields(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"plain", "plain,"},
        {"", ","},
        {"a,b", "\"a,b\","},
        {"say \"hi\"", "\"say \"\"hi\"\"\","},
        {"two\nlines", "\"two\nlines\","},
        {"=HYPERLINK(\"x\")", "\"'=HYPERLINK(\"\"x\"\")\","},
        {"+1", "\"'+1\","},
        {"-1", "\"'-1\","},
        {"@SUM(A1)", "\"'@SUM(A1)\","},
        {"\t=1", "\"'\t=1\","},
        {"\r=1", "\"'\r=1\","},
        {"\n=1", "\"'\n=1\","},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rg_buf b = {0};
        rg_csv_field(&b, cases[i].in, false);
        assert_string_equal(b.data, cases[i].out);
        rg_buf_free(&b);
    }
    rg_buf b = {0};
    rg_csv_field(&b, NULL, true);
    assert_string_equal(b.data, "\r\n");
    rg_buf_free(&b);
}

static void cursors(void **state)
{
    (void)state;
    char c[128], a[64], b[64];
    rg_cursor_encode("2026-06-01T12:00:00Z", "42", c, sizeof c);
    assert_int_equal(rg_cursor_decode(c, a, sizeof a, b, sizeof b), 0);
    assert_string_equal(a, "2026-06-01T12:00:00Z");
    assert_string_equal(b, "42");
    assert_int_equal(rg_cursor_decode("!!!", a, sizeof a, b, sizeof b), RG_EINVAL);
    assert_int_equal(rg_cursor_decode("", a, sizeof a, b, sizeof b), RG_EINVAL);
    int64_t id;
    assert_true(rg_parse_id("42", &id) && id == 42);
    assert_false(rg_parse_id("042", &id));
    assert_false(rg_parse_id("0", &id));
    assert_false(rg_parse_id("1 OR 1=1", &id));
    assert_false(rg_parse_id("99999999999999999999", &id));
}

static void distance(void **state)
{
    (void)state;
    /* London to Manchester is about 262 km. */
    double d = rg_distance_km(51.5074, -0.1278, 53.4808, -2.2426);
    assert_true(d > 255 && d < 270);
    assert_true(rg_distance_km(10, 10, 10, 10) < 1e-9);
}

/* Every point of a circle lies in its rg_geo_box, the box taken modulo
 * 360 degrees of longitude: centres from the equator to the poles, radii
 * from 1 to 5,000 km, 360 points on each circle's edge (the farthest a
 * point inside can be). */
static void geo_box_holds_the_circle(void **state)
{
    (void)state;
    const double rad = M_PI / 180;
    for (double lat = -89.5; lat <= 89.5; lat += 7.9)
        for (double r = 1; r <= 5000; r *= 3.7) {
            double lng = 179.0 - lat, dlat, dlng;
            rg_geo_box(lat, lng, r, &dlat, &dlng);
            double d = r / RG_EARTH_RADIUS_KM;
            for (int k = 0; k < 360; k++) {
                /* the point at distance r, bearing k degrees */
                double b = k * rad, p1 = lat * rad;
                double p2 = asin(sin(p1) * cos(d) + cos(p1) * sin(d) * cos(b));
                double l2 =
                    lng * rad + atan2(sin(b) * sin(d) * cos(p1), cos(d) - sin(p1) * sin(p2));
                double plat = p2 / rad, plng = fmod(l2 / rad + 540, 360) - 180;
                assert_true(fabs(rg_distance_km(lat, lng, plat, plng) - r) < 1e-6 * r + 1e-6);
                assert_true(fabs(plat - lat) <= dlat);
                double off = fabs(fmod(plng - lng + 540, 360) - 180); /* across the antimeridian */
                if (off > dlng)
                    fail_msg("(%g, %g) r=%g: (%g, %g) is %g degrees away, box %g", lat, lng, r,
                             plat, plng, off, dlng);
            }
        }
}

static void hashing(void **state)
{
    (void)state;
    char h[RG_SHA256_HEX + 1];
    rg_sha256_hex("abc", 3, h);
    assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    char t1[64], t2[64];
    rg_random_token(t1, 32);
    rg_random_token(t2, 32);
    assert_int_equal(strlen(t1), 43); /* 256 bits in base64url */
    assert_string_not_equal(t1, t2);
}

/* RG_SLOW_MS: a named query or store call over the threshold is logged
 * with its name and time (never its parameters); under it, or with the
 * threshold at 0, nothing is. */
static void slow_calls_are_logged(void **state)
{
    (void)state;
    char path[] = "/tmp/rg-slow-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    assert_true(saved >= 0 && dup2(fd, STDERR_FILENO) >= 0);
    rg_metrics_set_slow_ms(2);
    rg_metrics_call("documents.slowtest", 5000, false);
    rg_metrics_call("documents.fasttest", 1500, false);
    rg_metrics_query("slow_query_test", 3000, true);
    rg_metrics_set_slow_ms(0);
    rg_metrics_call("documents.offtest", 900000, false);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    char text[4096] = "";
    ssize_t n = pread(fd, text, sizeof text - 1, 0);
    close(fd);
    unlink(path);
    assert_true(n > 0);
    text[n] = '\0';
    if (!strstr(text, "slow store call documents.slowtest: 5.0 ms (RG_SLOW_MS 2)") ||
        !strstr(text, "slow query slow_query_test: 3.0 ms") || strstr(text, "fasttest") ||
        strstr(text, "offtest"))
        fail_msg("the slow log:\n%s", text);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(time_round_trip),
        cmocka_unit_test(time_rejects),
        cmocka_unit_test(dates_and_ages),
        cmocka_unit_test(money),
        cmocka_unit_test(object_ids),
        cmocka_unit_test(cursors),
        cmocka_unit_test(csv_fields),
        cmocka_unit_test(distance),
        cmocka_unit_test(geo_box_holds_the_circle),
        cmocka_unit_test(hashing),
        cmocka_unit_test(slow_calls_are_logged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
