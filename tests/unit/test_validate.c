/* Field validation: every check refuses what it must and names the field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "risinggen/base/error.h"
#include "risinggen/base/validate.h"

static int field_errors(void)
{
    json_t *f = rg_error_fields();
    return f ? (int)json_array_size(f) : 0;
}

static const char *first_field(void)
{
    return json_string_value(json_object_get(json_array_get(rg_error_fields(), 0), "field"));
}

static void strings(void **state)
{
    (void)state;
    rg_error_clear();
    json_t *o =
        json_pack("{s:s, s:i, s:s, s:s}", "name", "Ada", "num", 3, "empty", "", "ctl", "a\x01z");
    v_ctx v = {0};
    const char *s = NULL;
    assert_true(v_string(&v, o, "name", true, 1, 10, &s));
    assert_string_equal(s, "Ada");
    assert_false(v_string(&v, o, "num", true, 1, 10, &s));
    assert_false(v_string(&v, o, "empty", true, 1, 10, &s));
    assert_false(v_string(&v, o, "ctl", true, 1, 10, &s));
    assert_false(v_string(&v, o, "missing", true, 1, 10, &s));
    assert_true(v_string(&v, o, "missing", false, 1, 10, &s));
    assert_int_equal(v.errors, 4);
    assert_int_equal(field_errors(), 4);
    assert_string_equal(first_field(), "num");
    assert_int_equal(v_finish(&v), RG_EVALIDATION);
    json_decref(o);
    rg_error_clear();
}

static void unicode_length(void **state)
{
    (void)state;
    rg_error_clear();
    /* Five characters, ten bytes: limits count characters. */
    json_t *o = json_pack("{s:s}", "n", "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9");
    v_ctx v = {0};
    assert_true(v_string(&v, o, "n", true, 5, 5, NULL));
    assert_false(v_string(&v, o, "n", true, 1, 4, NULL));
    json_decref(o);
    rg_error_clear();
}

static void emails(void **state)
{
    (void)state;
    const char *good[] = {"a@b.org", "first.last+tag@example.co.uk"};
    const char *bad[] = {"a",         "@b.org", "a@b",      "a@@b.org",
                         "a b@c.org", "a@.org", "a@b.org.", "'; DROP TABLE users; --@x.org"};
    for (size_t i = 0; i < 2; i++) {
        json_t *o = json_pack("{s:s}", "email", good[i]);
        v_ctx v = {0};
        assert_true(v_email(&v, o, "email", true, NULL));
        json_decref(o);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *o = json_pack("{s:s}", "email", bad[i]);
        v_ctx v = {0};
        assert_false(v_email(&v, o, "email", true, NULL));
        json_decref(o);
    }
    rg_error_clear();
}

static void numbers_and_enums(void **state)
{
    (void)state;
    json_t *o =
        json_pack("{s:i, s:f, s:s, s:b, s:s}", "n", 5, "f", 1.5, "s", "7", "b", 1, "e", "blue");
    v_ctx v = {0};
    int64_t n;
    bool present, b;
    double d;
    assert_true(v_int(&v, o, "n", true, 0, 10, &n, &present) && n == 5 && present);
    assert_false(v_int(&v, o, "n", true, 6, 10, &n, NULL));
    assert_false(v_int(&v, o, "f", true, 0, 10, &n, NULL)); /* not an integer */
    assert_false(v_int(&v, o, "s", true, 0, 10, &n, NULL)); /* a string is not a number */
    assert_true(v_real(&v, o, "f", true, 0, 2, &d, NULL) && d == 1.5);
    assert_true(v_bool(&v, o, "b", &b, NULL) && b);
    assert_false(v_bool(&v, o, "s", &b, NULL));
    static const char *const colours[] = {"red", "green", NULL};
    assert_false(v_enum(&v, o, "e", true, colours, NULL));
    v_ctx only = {0};
    static const char *const allowed[] = {"n", "f", NULL};
    assert_false(v_only(&only, o, allowed));
    assert_int_equal(only.errors, 3);
    json_decref(o);
    rg_error_clear();
}

static void times(void **state)
{
    (void)state;
    json_t *o = json_pack("{s:s, s:s, s:s}", "t", "2026-06-01T12:00:00Z", "d", "2026-06-01", "bad",
                          "tomorrow");
    v_ctx v = {0};
    int64_t t;
    const char *d;
    assert_true(v_time(&v, o, "t", true, &t, NULL));
    assert_false(v_time(&v, o, "d", true, &t, NULL));
    assert_true(v_date(&v, o, "d", true, &d));
    assert_false(v_date(&v, o, "bad", true, &d));
    assert_int_equal(v.errors, 2);
    json_decref(o);
    rg_error_clear();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(strings), cmocka_unit_test(unicode_length),
        cmocka_unit_test(emails),  cmocka_unit_test(numbers_and_enums),
        cmocka_unit_test(times),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
