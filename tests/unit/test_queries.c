/* Every named statement exists for every dialect (its own text or the
 * common one) and returns the same columns, in the same order, on SQLite
 * and on PostgreSQL: the domain reads rows by column name, so a dialect
 * that names a column otherwise breaks it only on that store. Each
 * statement is prepared (not run) on a migrated database of each engine. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "risinggen/base/error.h"
#include "risinggen/store/migrate.h"
#include "risinggen/store/relational.h"
#include "risinggen/store/search.h"
#include "tmpdir.h"
#ifdef RG_WITH_POSTGRES
#include "pgtest.h"
#endif

#include "sqlite/sqlite_common.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const dialects[] = {"sqlite", "postgresql"};

/* Statements that exist only where the adapter has the capability they
 * need, and the dialect that has them; the domain runs them only then. */
static const struct {
    const char *name, *dialect;
} one_dialect[] = {
    {"registration_admit_many", "postgresql"}, /* RG_REL_CAP_WRITABLE_CTE */
    {"event_list_matching", "postgresql"},     /* RG_SEARCH_CAP_SQL, the index in this database */
};

/* The dialect name is written for alone, or NULL when it is in every one. */
static const char *only_in(const char *name)
{
    for (size_t i = 0; i < sizeof one_dialect / sizeof one_dialect[0]; i++)
        if (strcmp(one_dialect[i].name, name) == 0)
            return one_dialect[i].dialect;
    return NULL;
}

/* The distinct names of every statement. */
static int names(const char **out, int cap)
{
    int n = 0;
    for (int i = 0; i < rg_query_count(); i++) {
        const char *name = rg_query_at(i, NULL);
        bool seen = false;
        for (int j = 0; j < n && !seen; j++)
            seen = strcmp(out[j], name) == 0;
        if (!seen && n < cap)
            out[n++] = name;
    }
    return n;
}

/* Column names of a prepared statement, joined by commas into buf. */
struct columns {
    char text[1024];
};

static int migrate(const char *url)
{
    rg_relational rel;
    int rc = rg_rel_open(&rel, NULL, url, NULL);
    if (rc == 0) {
        rc = rg_migrate_up(&rel, NULL);
        rg_rel_close(&rel);
    }
    return rc;
}

static void sqlite_columns(sqlite3 *db, const char *name, struct columns *out)
{
    const char *sql = rg_query_sql("sqlite", name);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("sqlite cannot prepare %s: %s", name, sqlite3_errmsg(db));
    size_t len = 0;
    out->text[0] = '\0';
    for (int i = 0; i < sqlite3_column_count(st); i++)
        len += (size_t)snprintf(out->text + len, sizeof out->text - len, "%s%s", i ? "," : "",
                                sqlite3_column_name(st, i));
    sqlite3_finalize(st);
}

static void every_statement_in_every_dialect(void **state)
{
    (void)state;
    const char *all[512];
    int n = names(all, 512);
    assert_true(n > 50);
    for (int i = 0; i < n; i++) {
        const char *only = only_in(all[i]);
        for (size_t d = 0; d < sizeof dialects / sizeof dialects[0]; d++) {
            bool want = !only || strcmp(only, dialects[d]) == 0;
            if (want && !rg_query_sql(dialects[d], all[i]))
                fail_msg("the statement %s has no %s text (nor a common one)", all[i], dialects[d]);
            if (!want && rg_query_sql(dialects[d], all[i]))
                fail_msg("the statement %s is for %s alone, yet has a %s text", all[i], only,
                         dialects[d]);
        }
    }
    /* A dialect's own text wins over the common one: one of the two, never
     * both, is what a name means there. */
    for (int i = 0; i < rg_query_count(); i++) {
        const char *dialect;
        const char *name = rg_query_at(i, &dialect);
        for (int j = i + 1; j < rg_query_count(); j++) {
            const char *d2;
            const char *n2 = rg_query_at(j, &d2);
            if (strcmp(name, n2) == 0 && strcmp(dialect, d2) == 0)
                fail_msg("the statement %s is written twice for %s", name, dialect);
        }
    }
}

static void same_columns_on_both_engines(void **state)
{
    (void)state;
    const char *all[512];
    int n = names(all, 512);
    char dir[512], path[600], url[640];
    snprintf(dir, sizeof dir, "%s", rg_test_tmpdir());
    snprintf(path, sizeof path, "%s/rel.db", dir);
    snprintf(url, sizeof url, "sqlite:%s", path);
    assert_int_equal(migrate(url), 0);
    sqlite3 *db; /* opened as the adapter opens it: with its SQL functions */
    assert_int_equal(rg__sqlite_open(path, false, false, &db), 0);
    struct columns *lite = calloc((size_t)n, sizeof *lite);
    for (int i = 0; i < n; i++)
        if (!only_in(all[i]))
            sqlite_columns(db, all[i], &lite[i]);
    sqlite3_close(db);
    rg_test_rmdir(dir);
#ifdef RG_WITH_POSTGRES
    char *pg = rg_test_pg_create_db("queries");
    if (!pg) {
        printf("SKIPPED queries/postgresql: RG_TEST_PG_URL is not set\n");
        free(lite);
        return;
    }
    assert_int_equal(migrate(pg), 0);
    /* The search index on the same database, whose schema the words of
     * event_list_matching need (the service's default with PostgreSQL). */
    rg_search_port search;
    assert_int_equal(rg_search_open(&search, &rg_pg_search_ops, pg, NULL), 0);
    rg_search_close(&search);
    PGconn *c = PQconnectdb(pg);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    int checked = 0;
    for (int i = 0; i < n; i++) {
        if (only_in(all[i]) && strcmp(only_in(all[i]), "postgresql") != 0)
            continue;
        if (strncmp(all[i], "load_", 5) == 0) {
            /* A COPY … FROM STDIN cannot be prepared: started, then ended
             * with an error, which checks its table and columns. */
            PGresult *r = PQexec(c, rg_query_sql("postgresql", all[i]));
            if (PQresultStatus(r) != PGRES_COPY_IN)
                fail_msg("postgresql cannot start %s: %s", all[i], PQresultErrorMessage(r));
            PQclear(r);
            assert_int_equal(PQputCopyEnd(c, "checked"), 1);
            while ((r = PQgetResult(c)))
                PQclear(r);
            checked++;
            continue;
        }
        char stmt[32];
        snprintf(stmt, sizeof stmt, "q%d", i);
        PGresult *r = PQprepare(c, stmt, rg_query_sql("postgresql", all[i]), 0, NULL);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            fail_msg("postgresql cannot prepare %s: %s", all[i], PQresultErrorMessage(r));
        PQclear(r);
        r = PQdescribePrepared(c, stmt);
        char cols[1024] = "";
        size_t len = 0;
        for (int k = 0; k < PQnfields(r); k++)
            len += (size_t)snprintf(cols + len, sizeof cols - len, "%s%s", k ? "," : "",
                                    PQfname(r, k));
        PQclear(r);
        if (!only_in(all[i]) && strcmp(cols, lite[i].text) != 0)
            fail_msg("%s returns (%s) on sqlite but (%s) on postgresql", all[i], lite[i].text,
                     cols);
        checked++;
    }
    PQfinish(c);
    rg_test_pg_drop_db(pg);
    printf("queries: %d statements return the same columns on both engines\n", checked);
#else
    printf("SKIPPED queries/postgresql: adapter not in this build\n");
#endif
    free(lite);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_statement_in_every_dialect),
        cmocka_unit_test(same_columns_on_both_engines),
    };
    return cmocka_run_group_tests_name("queries", tests, NULL, NULL);
}
