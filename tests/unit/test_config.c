/* The one configuration: every RG_* setting read once into an object,
 * checked with a message naming the variable, secrets hidden when printed,
 * and the README's table of variables the same as the one the program
 * prints. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "risinggen/base/config.h"
#include "risinggen/base/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void defaults_and_derived_defaults(void **state)
{
    (void)state;
    rg_config c;
    rg_config_defaults(&c);
    assert_string_equal(c.listen, "127.0.0.1:8080");
    assert_string_equal(c.data_dir, "data");
    assert_string_equal(c.relational_url, "sqlite:data/relational.db");
    assert_string_equal(c.cache_url, "memory:");
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    assert_int_equal(c.threads, ncpu > 0 ? (int)ncpu * 4 : 8);
    assert_int_equal(c.pool_size, c.threads + 2);
    assert_true(c.auto_migrate && c.access_log);
    assert_int_equal(c.outbox_max_attempts, 8);
    /* Defaults that follow another setting follow it... */
    assert_int_equal(rg_config_set(&c, "RG_DATA_DIR", "/srv/rg"), 0);
    assert_string_equal(c.document_url, "sqlite:/srv/rg/documents.db");
    assert_int_equal(rg_config_set(&c, "RG_THREADS", "3"), 0);
    assert_int_equal(c.pool_size, 5);
    /* ...unless they were set themselves. */
    assert_int_equal(rg_config_set(&c, "RG_SEARCH_URL", "sqlite:/elsewhere/s.db"), 0);
    assert_int_equal(rg_config_set(&c, "RG_POOL_SIZE", "40"), 0);
    assert_int_equal(rg_config_set(&c, "RG_DATA_DIR", "/srv/other"), 0);
    assert_int_equal(rg_config_set(&c, "RG_THREADS", "16"), 0);
    assert_string_equal(c.search_url, "sqlite:/elsewhere/s.db");
    assert_string_equal(c.relational_url, "sqlite:/srv/other/relational.db");
    assert_int_equal(c.pool_size, 40);
    /* Search follows a PostgreSQL relational store (one index for every
     * instance), and no longer once set itself. */
    rg_config c2;
    rg_config_defaults(&c2);
    assert_int_equal(rg_config_set(&c2, "RG_RELATIONAL_URL", "postgresql://db/rg"), 0);
    assert_string_equal(c2.search_url, "postgresql://db/rg");
    assert_int_equal(rg_config_set(&c2, "RG_RELATIONAL_URL", "postgres://other/rg"), 0);
    assert_string_equal(c2.search_url, "postgres://other/rg");
    assert_int_equal(rg_config_set(&c2, "RG_RELATIONAL_URL", "sqlite:x/r.db"), 0);
    assert_string_equal(c2.search_url, "sqlite:data/search.db");
    assert_int_equal(rg_config_set(&c2, "RG_SEARCH_URL", "sqlite:/s/search.db"), 0);
    assert_int_equal(rg_config_set(&c2, "RG_RELATIONAL_URL", "postgresql://db/rg"), 0);
    assert_string_equal(c2.search_url, "sqlite:/s/search.db");
    rg_config_free(&c2);
    /* An empty value restores the default. */
    assert_int_equal(rg_config_set(&c, "RG_CACHE_URL", "redis://127.0.0.1:6379"), 0);
    assert_int_equal(rg_config_set(&c, "RG_CACHE_URL", ""), 0);
    assert_string_equal(c.cache_url, "memory:");
    rg_config_free(&c);
}

static void wrong_values_name_the_variable(void **state)
{
    (void)state;
    static const char *const bad[][2] = {
        {"RG_THREADS", "many"},          {"RG_THREADS", "0"},
        {"RG_THREADS", "2000"},          {"RG_POOL_SIZE", "-1"},
        {"RG_POOL_WAIT_MS", "1.5"},      {"RG_LISTEN", "8080"},
        {"RG_LISTEN", "nohost:80"},      {"RG_LISTEN", "127.0.0.1:70000"},
        {"RG_AUTO_MIGRATE", "maybe"},    {"RG_ACCESS_LOG", "2"},
        {"RG_LOG_LEVEL", "loud"},        {"RG_CACHE_URL", "no scheme"},
        {"RG_OUTBOX_MAX_ATTEMPTS", "0"}, {"RG_RELATIONAL_REPLICA_URLS", "postgresql://a,:b"},
        {"RG_SMTP_FROM", "a\nb"},
    };
    rg_config c;
    rg_config_defaults(&c);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = rg_config_set(&c, bad[i][0], bad[i][1]);
        if (rc != RG_EINVAL || !strstr(rg_error_detail(), bad[i][0]))
            fail_msg("%s=%s: %s (%s)", bad[i][0], bad[i][1], rg_error_name(rc), rg_error_detail());
    }
    /* Nothing changed. */
    assert_string_equal(c.listen, "127.0.0.1:8080");
    assert_int_equal(rg_config_set(&c, "RG_NO_SUCH_THING", "1"), RG_EINVAL);
    /* Spellings a person would use. */
    assert_int_equal(rg_config_set(&c, "RG_ACCESS_LOG", "off"), 0);
    assert_false(c.access_log);
    assert_int_equal(rg_config_set(&c, "RG_AUTO_MIGRATE", "FALSE"), 0);
    assert_false(c.auto_migrate);
    assert_int_equal(rg_config_set(&c, "RG_LISTEN", "localhost:0"), 0);
    rg_config_free(&c);
}

static void loaded_once_from_the_environment(void **state)
{
    (void)state;
    setenv("RG_THREADS", "6", 1);
    setenv("RG_DATA_DIR", "/var/lib/rg", 1);
    setenv("RG_SMTP_URL", "smtp://mail.example.org", 1);
    rg_config c;
    assert_int_equal(rg_config_load(&c), 0);
    assert_int_equal(c.threads, 6);
    assert_int_equal(c.pool_size, 8);
    assert_string_equal(c.relational_url, "sqlite:/var/lib/rg/relational.db");
    assert_string_equal(c.smtp_url, "smtp://mail.example.org");
    /* Read once: a change to the environment afterwards changes nothing. */
    setenv("RG_THREADS", "9", 1);
    assert_int_equal(c.threads, 6);
    rg_config_free(&c);
    /* A wrong value stops the load with the variable's name. */
    setenv("RG_THREADS", "lots", 1);
    assert_int_equal(rg_config_load(&c), RG_EINVAL);
    assert_non_null(strstr(rg_error_detail(), "RG_THREADS"));
    unsetenv("RG_THREADS");
    unsetenv("RG_DATA_DIR");
    unsetenv("RG_SMTP_URL");
}

static void secrets_never_printed(void **state)
{
    (void)state;
    rg_config c;
    rg_config_defaults(&c);
    assert_int_equal(rg_config_set(&c, "RG_RELATIONAL_URL", "postgresql://rg:hunter2@db/rg"), 0);
    assert_int_equal(rg_config_set(&c, "RG_RELATIONAL_REPLICA_URLS",
                                   "postgresql://rg:s3cret@r1/rg,postgresql://r2/rg"),
                     0);
    assert_int_equal(rg_config_set(&c, "RG_CACHE_URL", "redis://:redispw@cache:6379/2"), 0);
    assert_int_equal(rg_config_set(&c, "RG_PAYMENTS_WEBHOOK_SECRET", "whsec-very-secret"), 0);
    assert_int_equal(rg_config_set(&c, "RG_ADMIN_PASSWORD", "adminpw1"), 0);
    rg_buf out = {0};
    rg_config_print(&c, &out);
    assert_null(strstr(out.data, "hunter2"));
    assert_null(strstr(out.data, "s3cret"));
    assert_null(strstr(out.data, "redispw"));
    assert_null(strstr(out.data, "whsec-very-secret"));
    assert_null(strstr(out.data, "adminpw1"));
    assert_non_null(strstr(out.data, "RG_RELATIONAL_URL=postgresql://rg:***@db/rg\n"));
    assert_non_null(strstr(
        out.data, "RG_RELATIONAL_REPLICA_URLS=postgresql://rg:***@r1/rg,postgresql://r2/rg\n"));
    assert_non_null(strstr(out.data, "RG_PAYMENTS_WEBHOOK_SECRET=(set)\n"));
    assert_non_null(strstr(out.data, "RG_SSO_ISSUER=\n"));
    rg_buf_free(&out);
    rg_config_free(&c);
}

/* The README's table of variables is exactly `risinggen config --markdown`. */
static void readme_lists_every_variable(void **state)
{
    (void)state;
    rg_buf want = {0};
    rg_config_markdown(&want);
    FILE *f = fopen(RG_SOURCE_DIR "/README.md", "r");
    assert_non_null(f);
    static char readme[1 << 17];
    size_t n = fread(readme, 1, sizeof readme - 1, f);
    readme[n] = '\0';
    fclose(f);
    if (!strstr(readme, want.data))
        fail_msg("README.md does not hold the table of `risinggen config --markdown`:\n%s",
                 want.data);
    rg_buf_free(&want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_and_derived_defaults),
        cmocka_unit_test(wrong_values_name_the_variable),
        cmocka_unit_test(loaded_once_from_the_environment),
        cmocka_unit_test(secrets_never_printed),
        cmocka_unit_test(readme_lists_every_variable),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
