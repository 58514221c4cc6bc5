/* Migrations on a real SQLite file: up, status, down, checksum refusal, and
 * the two dialects keeping the same versions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <string.h>

#include "testcfg.h"
#include "embedded.h"
#include "risinggen/domain/app.h"
#include "risinggen/base/error.h"
#include "risinggen/store/migrate.h"
#include "pgtest.h"
#include "tmpdir.h"

struct fixture {
    char dir[512];
    rg_stores st;
};

/* false: SQLite in a scratch folder; true: a fresh PostgreSQL database per
 * test on the private server. */
static bool on_postgres;

static char *pg_url;

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "%s", rg_test_tmpdir());
    char rel[600], docs[600], search[600];
    snprintf(rel, sizeof rel, "sqlite:%s/rel.db", f->dir);
#ifdef RG_WITH_POSTGRES
    if (on_postgres) {
        pg_url = rg_test_pg_create_db("migrations");
        if (!pg_url)
            return -1;
        snprintf(rel, sizeof rel, "%s", pg_url);
    }
#endif
    snprintf(docs, sizeof docs, "sqlite:%s/docs.db", f->dir);
    snprintf(search, sizeof search, "sqlite:%s/search.db", f->dir);
    rg_config cfg;
    rg_test_config(&cfg, rel, docs, NULL, search);
    int rc = rg_stores_open(&f->st, &cfg, rg_app_store_needs());
    rg_config_free(&cfg);
    if (rc < 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    rg_stores_close(&f->st);
    rg_test_rmdir(f->dir);
#ifdef RG_WITH_POSTGRES
    if (pg_url) {
        rg_test_pg_drop_db(pg_url);
        pg_url = NULL;
    }
#endif
    free(f);
    return 0;
}

static int count_migrations(const char *dialect)
{
    char prefix[64];
    int n = 0;
    snprintf(prefix, sizeof prefix, "migrations/%s/", dialect);
    for (const struct rg_embedded_file *e = rg_embedded_files; e->name; e++)
        if (strncmp(e->name, prefix, strlen(prefix)) == 0 && strstr(e->name, ".up.sql"))
            n++;
    return n;
}

static int table_exists(rg_relational *r)
{
    rg_rel_conn *c;
    rg_rel_acquire(r, &c);
    rg_param p[] = {RG_PNULL, RG_PINT(0), RG_PINT(1)};
    rg_rows *rows = NULL;
    int rc = rg_rel_query(r, c, "venue_list", p, 3, &rows);
    rg_rows_free(rows);
    rg_rel_release(r, c);
    rg_error_clear();
    return rc >= 0;
}

static void up_down_up(void **state)
{
    struct fixture *f = *state;
    int applied = -1;
    assert_int_equal(rg_migrate_up(&f->st.rel, &applied), 0);
    assert_int_equal(applied, count_migrations("sqlite"));
    assert_true(applied >= 1);
    assert_true(table_exists(&f->st.rel));
    assert_int_equal(rg_migrate_check(&f->st.rel), 0);
    /* Up again is a no-op. */
    assert_int_equal(rg_migrate_up(&f->st.rel, &applied), 0);
    assert_int_equal(applied, 0);
    char buf[4096] = "";
    FILE *out = fmemopen(buf, sizeof buf, "w");
    assert_int_equal(rg_migrate_status(&f->st.rel, out), 0);
    fclose(out);
    assert_non_null(strstr(buf, "0001  core"));
    assert_null(strstr(buf, "pending"));
    /* Down everything, and the tables are gone. */
    assert_int_equal(rg_migrate_down(&f->st.rel, applied ? applied : 100), 0);
    assert_false(table_exists(&f->st.rel));
    assert_int_not_equal(rg_migrate_check(&f->st.rel), 0);
    rg_error_clear();
    assert_int_equal(rg_migrate_up(&f->st.rel, &applied), 0);
    assert_true(table_exists(&f->st.rel));
}

static void changed_file_is_refused(void **state)
{
    struct fixture *f = *state;
    int applied;
    assert_int_equal(rg_migrate_up(&f->st.rel, &applied), 0);
    rg_rel_conn *c;
    assert_int_equal(rg_rel_acquire(&f->st.rel, &c), 0);
    assert_int_equal(rg_rel_exec_script(&f->st.rel, c,
                                        "UPDATE schema_migrations SET checksum = 'x' "
                                        "WHERE version = 1"),
                     0);
    rg_rel_release(&f->st.rel, c);
    assert_int_equal(rg_migrate_up(&f->st.rel, &applied), RG_ECHECKSUM);
    assert_non_null(strstr(rg_error_detail(), "0001_core was changed"));
    assert_int_equal(rg_migrate_check(&f->st.rel), RG_ECHECKSUM);
    assert_int_equal(rg_migrate_down(&f->st.rel, 1), RG_ECHECKSUM);
    rg_error_clear();
}

static void unknown_version_is_refused(void **state)
{
    struct fixture *f = *state;
    int applied;
    assert_int_equal(rg_migrate_up(&f->st.rel, &applied), 0);
    rg_rel_conn *c;
    assert_int_equal(rg_rel_acquire(&f->st.rel, &c), 0);
    assert_int_equal(rg_rel_exec_script(&f->st.rel, c,
                                        "INSERT INTO schema_migrations VALUES "
                                        "(9999, 'future', 'abc', '2030-01-01T00:00:00Z')"),
                     0);
    rg_rel_release(&f->st.rel, c);
    assert_int_equal(rg_migrate_up(&f->st.rel, &applied), RG_ECHECKSUM);
    assert_non_null(strstr(rg_error_detail(), "9999"));
    rg_error_clear();
}

/* The step of erasure erasure_id: on its row (-1 if none) and on its
 * intent (-1 if none). */
static void erasure_steps(rg_relational *r, long long erasure_id, int *row, int *intent)
{
    rg_rel_conn *c;
    assert_int_equal(rg_rel_acquire(r, &c), 0);
    char subject[24];
    snprintf(subject, sizeof subject, "%lld", erasure_id);
    rg_param id[] = {RG_PINT(erasure_id)};
    rg_param by[] = {RG_PTEXT("user.erase"), RG_PTEXT(subject)};
    rg_rows *rows;
    assert_true(rg_rel_query(r, c, "erasure_by_id", id, 1, &rows) >= 0);
    *row = rows->nrows == 1 ? (int)rg_rows_int(rows, 0, "step", 0) : -1;
    rg_rows_free(rows);
    assert_true(rg_rel_query(r, c, "intent_by_subject", by, 2, &rows) >= 0);
    *intent = rows->nrows == 1 ? (int)rg_rows_int(rows, 0, "step", 0) : -1;
    rg_rows_free(rows);
    rg_rel_release(r, c);
}

/* Version 9 moves a pending erasure's progress onto an intent of its own,
 * and down moves it back. */
static void erasure_progress_moves_to_its_intent(void **state)
{
    struct fixture *f = *state;
    rg_relational *r = &f->st.rel;
    int applied;
    assert_int_equal(rg_migrate_up(r, &applied), 0);
    assert_int_equal(rg_migrate_down(r, applied - 8), 0); /* back to version 8 */
    rg_rel_conn *c;
    assert_int_equal(rg_rel_acquire(r, &c), 0);
    rg_param ins[] = {RG_PTEXT("5f0000000000000000000001"), RG_PTEXT("5f00000000000000000000ff"),
                      RG_PTEXT("2026-01-01T00:00:00.000Z")};
    rg_param by_user[] = {RG_PTEXT("5f0000000000000000000001")};
    rg_rows *rows;
    assert_true(rg_rel_query(r, c, "erasure_insert", ins, 3, NULL) >= 0);
    assert_true(rg_rel_query(r, c, "erasure_by_user", by_user, 1, &rows) >= 0);
    assert_int_equal(rows->nrows, 1);
    long long id = rg_rows_int(rows, 0, "id", 0);
    rg_rows_free(rows);
    rg_rel_release(r, c);
    int row, intent;
    erasure_steps(r, id, &row, &intent);
    assert_int_equal(intent, -1);

    assert_int_equal(rg_migrate_up(r, &applied), 0);
    erasure_steps(r, id, &row, &intent);
    assert_int_equal(intent, 0);
    /* The erasure moves on (intents.c writes this), then version 9 goes. */
    char subject[24];
    snprintf(subject, sizeof subject, "%lld", id);
    rg_param by[] = {RG_PTEXT("user.erase"), RG_PTEXT(subject)};
    assert_int_equal(rg_rel_acquire(r, &c), 0);
    assert_true(rg_rel_query(r, c, "intent_by_subject", by, 2, &rows) >= 0);
    rg_param step[] = {RG_PINT(rg_rows_int(rows, 0, "id", 0)), RG_PINT(4),
                       RG_PTEXT("2026-01-01T00:01:00.000Z")};
    rg_rows_free(rows);
    assert_true(rg_rel_query(r, c, "intent_step", step, 3, NULL) >= 0);
    rg_rel_release(r, c);
    assert_int_equal(rg_migrate_down(r, applied), 0);
    erasure_steps(r, id, &row, &intent);
    assert_int_equal(row, 4);
    assert_int_equal(intent, -1);
    assert_int_equal(rg_migrate_up(r, &applied), 0);
    erasure_steps(r, id, &row, &intent);
    assert_int_equal(intent, 4);
}

/* Every version exists in both dialects, with the same name, up and down. */
static void dialects_are_twins(void **state)
{
    (void)state;
    for (const struct rg_embedded_file *e = rg_embedded_files; e->name; e++) {
        const char *twin = NULL;
        char want[256];
        if (strncmp(e->name, "migrations/sqlite/", 18) == 0)
            snprintf(want, sizeof want, "migrations/postgresql/%s", e->name + 18);
        else if (strncmp(e->name, "migrations/postgresql/", 22) == 0)
            snprintf(want, sizeof want, "migrations/sqlite/%s", e->name + 22);
        else
            continue;
        for (const struct rg_embedded_file *g = rg_embedded_files; g->name; g++)
            if (strcmp(g->name, want) == 0)
                twin = g->name;
        if (!twin)
            fail_msg("%s has no twin %s", e->name, want);
    }
    assert_int_equal(count_migrations("sqlite"), count_migrations("postgresql"));
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(up_down_up, setup, teardown),
        cmocka_unit_test_setup_teardown(changed_file_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_version_is_refused, setup, teardown),
        cmocka_unit_test(dialects_are_twins),
        cmocka_unit_test_setup_teardown(erasure_progress_moves_to_its_intent, setup, teardown),
    };
    int failed = cmocka_run_group_tests_name("migrations on sqlite", tests, NULL, NULL);
#ifdef RG_WITH_POSTGRES
    if (getenv("RG_TEST_PG_URL") && *getenv("RG_TEST_PG_URL")) {
        on_postgres = true;
        failed += cmocka_run_group_tests_name("migrations on postgresql", tests, NULL, NULL);
    } else {
        printf("SKIPPED relational/postgresql migrations: RG_TEST_PG_URL is not set\n");
    }
#endif
    return failed;
}
