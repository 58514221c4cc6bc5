/* The JSON and BSON mapping of the MongoDB documents adapter
 * (src/store/mongodb/bson_json.h): ObjectIds, instants, Decimal128 for
 * reals, strings holding U+0000, and every value back as it was written.
 * No server is needed. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#ifdef RG_WITH_MONGODB
#include "mongodb/bson_json.h"

static const char *const sample =
    "{\"s\":\"plain\",\"oid\":\"5f1d7c2e9b1e8a3d4c2b1a09\",\"at\":\"2026-06-01T12:00:00Z\","
    "\"atms\":\"2026-06-01T12:00:00.250Z\",\"before1970\":\"1969-12-31T23:59:59.500Z\","
    "\"n\":42,\"neg\":-7,\"big\":9007199254740993,\"r\":1.5,\"money\":19.99,\"tiny\":1e-300,"
    "\"huge\":1e20,\"t\":true,\"f\":false,\"z\":null,\"arr\":[1,\"x\",{\"a\":[]},null],"
    "\"obj\":{\"k\":\"v\",\"deep\":{\"oid\":\"000000000000000000000000\"}},"
    "\"nul\":\"a\\u0000b\",\"upper\":\"5F1D7C2E9B1E8A3D4C2B1A09\",\"short\":\"5f1d7c2e\","
    "\"notdate\":\"2026-02-30T00:00:00Z\",\"ms0\":\"2026-06-01T12:00:00.000Z\","
    "\"offset\":\"2026-06-01T12:00:00+02:00\",\"unicode\":\"Gr\\u00fc\\u00dfe \\ud83d\\ude00\"}";

static json_t *parse(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, JSON_ALLOW_NUL, &e);
    if (!v)
        fail_msg("bad JSON in the test: %s", e.text);
    return v;
}

static bson_type_t type_of(const bson_t *b, const char *key)
{
    bson_iter_t it;
    assert_true(bson_iter_init_find(&it, b, key));
    return bson_iter_type(&it);
}

static void every_value_comes_back_as_written(void **state)
{
    (void)state;
    json_t *doc = parse(sample);
    bson_t b = BSON_INITIALIZER;
    assert_true(rg__bson_from_json(&b, doc));
    json_t *back = rg__json_from_bson(&b);
    assert_non_null(back);
    if (!json_equal(doc, back)) {
        char *want = json_dumps(doc, JSON_SORT_KEYS | JSON_ENCODE_ANY);
        char *got = json_dumps(back, JSON_SORT_KEYS | JSON_ENCODE_ANY);
        fail_msg("want %s\n got %s", want, got);
    }
    /* Integers stay integers and reals reals. */
    assert_true(json_is_integer(json_object_get(back, "big")));
    assert_true(json_is_real(json_object_get(back, "huge")));
    json_decref(back);
    json_decref(doc);
    bson_destroy(&b);
}

static void stored_types_follow_the_mapping(void **state)
{
    (void)state;
    json_t *doc = parse(sample);
    bson_t b = BSON_INITIALIZER;
    assert_true(rg__bson_from_json(&b, doc));
    assert_int_equal(type_of(&b, "s"), BSON_TYPE_UTF8);
    assert_int_equal(type_of(&b, "oid"), BSON_TYPE_OID);
    assert_int_equal(type_of(&b, "at"), BSON_TYPE_DATE_TIME);
    assert_int_equal(type_of(&b, "atms"), BSON_TYPE_DATE_TIME);
    assert_int_equal(type_of(&b, "before1970"), BSON_TYPE_DATE_TIME);
    assert_int_equal(type_of(&b, "n"), BSON_TYPE_INT64);
    assert_int_equal(type_of(&b, "r"), BSON_TYPE_DECIMAL128);
    assert_int_equal(type_of(&b, "money"), BSON_TYPE_DECIMAL128);
    assert_int_equal(type_of(&b, "t"), BSON_TYPE_BOOL);
    assert_int_equal(type_of(&b, "z"), BSON_TYPE_NULL);
    assert_int_equal(type_of(&b, "arr"), BSON_TYPE_ARRAY);
    assert_int_equal(type_of(&b, "obj"), BSON_TYPE_DOCUMENT);
    /* Strings that only look like the mapped forms stay strings. */
    assert_int_equal(type_of(&b, "upper"), BSON_TYPE_UTF8);
    assert_int_equal(type_of(&b, "short"), BSON_TYPE_UTF8);
    assert_int_equal(type_of(&b, "notdate"), BSON_TYPE_UTF8);
    assert_int_equal(type_of(&b, "ms0"), BSON_TYPE_UTF8);
    assert_int_equal(type_of(&b, "offset"), BSON_TYPE_UTF8);

    bson_iter_t it;
    assert_true(bson_iter_init_find(&it, &b, "at"));
    assert_int_equal(bson_iter_date_time(&it), 1780315200000LL);
    assert_true(bson_iter_init_find(&it, &b, "atms"));
    assert_int_equal(bson_iter_date_time(&it), 1780315200250LL);
    assert_true(bson_iter_init_find(&it, &b, "before1970"));
    assert_int_equal(bson_iter_date_time(&it), -500);
    assert_true(bson_iter_init_find(&it, &b, "oid"));
    char hex[25];
    bson_oid_to_string(bson_iter_oid(&it), hex);
    assert_string_equal(hex, "5f1d7c2e9b1e8a3d4c2b1a09");
    /* Decimal128 keeps the decimal text, not the double's. */
    bson_decimal128_t dec;
    char text[BSON_DECIMAL128_STRING];
    assert_true(bson_iter_init_find(&it, &b, "money"));
    assert_true(bson_iter_decimal128(&it, &dec));
    bson_decimal128_to_string(&dec, text);
    assert_string_equal(text, "19.99");
    assert_true(bson_iter_init_find(&it, &b, "nul"));
    uint32_t len;
    const char *s = bson_iter_utf8(&it, &len);
    assert_int_equal(len, 3);
    assert_memory_equal(s, "a\0b", 3);
    json_decref(doc);
    bson_destroy(&b);
}

static void text_values_map_as_documents_do(void **state)
{
    (void)state;
    bson_t b = BSON_INITIALIZER;
    assert_true(rg__bson_append_text(&b, "id", -1, "5f1d7c2e9b1e8a3d4c2b1a09"));
    assert_true(rg__bson_append_text(&b, "when", -1, "2030-01-01T00:00:00Z"));
    assert_true(rg__bson_append_text(&b, "name", -1, "Ada"));
    assert_int_equal(type_of(&b, "id"), BSON_TYPE_OID);
    assert_int_equal(type_of(&b, "when"), BSON_TYPE_DATE_TIME);
    assert_int_equal(type_of(&b, "name"), BSON_TYPE_UTF8);
    bson_destroy(&b);
}

static void values_from_other_writers_are_read(void **state)
{
    (void)state;
    bson_t b = BSON_INITIALIZER;
    BSON_APPEND_INT32(&b, "i32", 7);
    BSON_APPEND_DOUBLE(&b, "dbl", 2.25);
    bson_decimal128_t dec;
    assert_true(bson_decimal128_from_string("1E+3", &dec));
    BSON_APPEND_DECIMAL128(&b, "dec", &dec);
    json_t *doc = rg__json_from_bson(&b);
    assert_non_null(doc);
    assert_int_equal(json_integer_value(json_object_get(doc, "i32")), 7);
    assert_true(json_real_value(json_object_get(doc, "dbl")) == 2.25);
    assert_true(json_real_value(json_object_get(doc, "dec")) == 1000.0);
    json_decref(doc);
    /* A type the port never writes is refused, not guessed. */
    uint8_t raw[2] = {1, 2};
    BSON_APPEND_BINARY(&b, "bin", BSON_SUBTYPE_BINARY, raw, 2);
    assert_null(rg__json_from_bson(&b));
    bson_destroy(&b);
    bson_t nan = BSON_INITIALIZER;
    assert_true(bson_decimal128_from_string("NaN", &dec));
    BSON_APPEND_DECIMAL128(&nan, "dec", &dec);
    assert_null(rg__json_from_bson(&nan));
    bson_destroy(&nan);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_value_comes_back_as_written),
        cmocka_unit_test(stored_types_follow_the_mapping),
        cmocka_unit_test(text_values_map_as_documents_do),
        cmocka_unit_test(values_from_other_writers_are_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
#else
static void not_in_this_build(void **state)
{
    (void)state;
    printf("SKIPPED bson mapping: the MongoDB adapter is not in this build\n");
    skip();
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(not_in_this_build)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
#endif
