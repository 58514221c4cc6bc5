/* Conformance suite of the relational port, run once per adapter: SQLite
 * always (a scratch file), PostgreSQL when RG_TEST_PG_URL is set (a fresh
 * database), else "SKIPPED relational/postgresql: …". Every test goes
 * through the port's wrappers with the named queries the domain uses. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "pgtest.h"
#include "risinggen/base/error.h"
#include "risinggen/store/migrate.h"
#include "risinggen/store/relational.h"
#include "risinggen/store/stores.h"
#include "tmpdir.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

static char url[600];
static char dir[512];
static rg_relational rel;

static int setup(void **state)
{
    (void)state;
    if (rg_rel_open(&rel, NULL, url, NULL) < 0)
        return -1;
    int applied;
    return rg_migrate_up(&rel, &applied);
}

static int teardown(void **state)
{
    (void)state;
    rg_rel_close(&rel);
    return 0;
}

static int64_t insert_venue(rg_rel_conn *c, const char *name, int capacity)
{
    rg_param p[] = {RG_PTEXT(name),
                    RG_PNULL,
                    RG_PTEXT("London"),
                    RG_PTEXT("UK"),
                    RG_PNULL,
                    RG_PREAL(51.5),
                    RG_PREAL(-0.125),
                    RG_PINT(capacity),
                    RG_PTEXT("0123456789abcdef01234567"),
                    RG_PTEXT("2026-06-01T12:00:00Z")};
    rg_rows *rows = NULL;
    assert_int_equal(rg_rel_query(&rel, c, "venue_insert", p, 10, &rows), 1);
    int64_t id = rg_rows_int(rows, 0, "id", 0);
    rg_rows_free(rows);
    return id;
}

static int64_t insert_event(rg_rel_conn *c, const char *slug, int max)
{
    rg_param p[] = {RG_PTEXT("Conformance"),
                    RG_PTEXT(slug),
                    RG_PNULL,
                    RG_PTEXT("2030-06-01T09:00:00Z"),
                    RG_PTEXT("2030-06-02T17:00:00Z"),
                    RG_PNULL,
                    RG_PNULL,
                    RG_PINT(max),
                    RG_PTEXT("0123456789abcdef01234567"),
                    RG_PTEXT("conference"),
                    RG_PBOOL(false),
                    RG_PBOOL(true),
                    RG_PINT(2550),
                    RG_PTEXT("GBP"),
                    RG_PBOOL(false),
                    RG_PNULL,
                    RG_PNULL,
                    RG_PINT(30),
                    RG_PTEXT("2026-06-01T12:00:00Z")};
    rg_rows *rows = NULL;
    int rc = rg_rel_query(&rel, c, "event_insert", p, 19, &rows);
    if (rc < 0)
        return rc;
    int64_t id = rg_rows_int(rows, 0, "id", 0);
    rg_rows_free(rows);
    return id;
}

/* Values of every type come back as text in one form on every adapter. */
static void values_round_trip(void **state)
{
    (void)state;
    rg_rel_conn *c;
    assert_int_equal(rg_rel_acquire(&rel, &c), 0);
    int64_t v = insert_venue(c, "Hall \xc3\xa9 'quoted' ; --", 250);
    rg_param g[] = {RG_PINT(v)};
    rg_rows *rows;
    assert_int_equal(rg_rel_query(&rel, c, "venue_get", g, 1, &rows), 1);
    assert_string_equal(rg_rows_get(rows, 0, "name"), "Hall \xc3\xa9 'quoted' ; --");
    assert_null(rg_rows_get(rows, 0, "street"));
    assert_int_equal(rg_rows_int(rows, 0, "capacity", 0), 250);
    assert_true(rg_rows_real(rows, 0, "lng", 0) == -0.125);
    assert_string_equal(rg_rows_get(rows, 0, "created_at"), "2026-06-01T12:00:00Z");
    rg_rows_free(rows);
    int64_t e = insert_event(c, "values-round-trip", 10);
    assert_true(e > 0);
    rg_param ge[] = {RG_PINT(e)};
    assert_int_equal(rg_rel_query(&rel, c, "event_get", ge, 1, &rows), 1);
    assert_string_equal(rg_rows_get(rows, 0, "is_public"), "1"); /* booleans as 1/0 */
    assert_string_equal(rg_rows_get(rows, 0, "is_featured"), "0");
    assert_int_equal(rg_rows_int(rows, 0, "cost_minor", 0), 2550); /* exact money */
    assert_string_equal(rg_rows_get(rows, 0, "start_date"), "2030-06-01T09:00:00Z");
    rg_rows_free(rows);
    rg_rel_release(&rel, c);
}

static void unique_key_is_a_conflict(void **state)
{
    (void)state;
    rg_rel_conn *c;
    assert_int_equal(rg_rel_acquire(&rel, &c), 0);
    assert_true(insert_event(c, "same-slug", 5) > 0);
    assert_int_equal(insert_event(c, "same-slug", 5), RG_ECONFLICT);
    rg_error_clear();
    rg_rel_release(&rel, c);
}

static void rollback_discards_commit_keeps(void **state)
{
    (void)state;
    rg_rel_conn *c;
    assert_int_equal(rg_rel_acquire(&rel, &c), 0);
    assert_int_equal(rg_rel_begin(&rel, c, true), 0);
    int64_t gone = insert_event(c, "rolled-back", 5);
    rg_rel_rollback(&rel, c);
    assert_int_equal(rg_rel_begin(&rel, c, true), 0);
    int64_t kept = insert_event(c, "committed", 5);
    assert_int_equal(rg_rel_commit(&rel, c), 0);
    rg_rows *rows;
    /* By slug: SQLite may give a rolled-back id to the next row. */
    (void)gone;
    rg_param p1[] = {RG_PTEXT("rolled-back")}, p2[] = {RG_PINT(kept)};
    assert_int_equal(rg_rel_query(&rel, c, "event_get_by_slug", p1, 1, &rows), 0);
    assert_int_equal(rows->nrows, 0);
    rg_rows_free(rows);
    assert_int_equal(rg_rel_query(&rel, c, "event_get", p2, 1, &rows), 1);
    rg_rows_free(rows);
    /* A connection given back inside a transaction is rolled back. */
    assert_int_equal(rg_rel_begin(&rel, c, true), 0);
    assert_true(insert_event(c, "left-open", 5) > 0);
    rg_rel_release(&rel, c);
    assert_int_equal(rg_rel_acquire(&rel, &c), 0);
    rg_param p3[] = {RG_PTEXT("left-open")};
    assert_int_equal(rg_rel_query(&rel, c, "event_get_by_slug", p3, 1, &rows), 0);
    rg_rows_free(rows);
    rg_rel_release(&rel, c);
}

static int count_gid(void *arg, const char *gid)
{
    (void)gid;
    (*(int *)arg)++;
    return 0;
}

static int prepared_count(rg_rel_conn *c, const char *prefix)
{
    int n = 0;
    assert_int_equal(rg_rel_prepared_list(&rel, c, prefix, count_gid, &n), 0);
    return n;
}

static int64_t rows_by_slug(rg_rel_conn *c, const char *slug)
{
    rg_rows *rows;
    rg_param p[] = {RG_PTEXT(slug)};
    assert_true(rg_rel_query(&rel, c, "event_get_by_slug", p, 1, &rows) >= 0);
    int64_t n = rows->nrows;
    rg_rows_free(rows);
    return n;
}

/* Two-phase commit (prepared.h): a prepared transaction is invisible until
 * committed, from another connection too, and gone when rolled back. */
static void prepared_commit_and_rollback(void **state)
{
    (void)state;
    rg_rel_conn *c, *other;
    /* The test servers allow them. */
    assert_int_equal(rg_rel_two_phase(&rel), (rel.ops->caps & RG_REL_CAP_PREPARED_TX) ? 1 : 0);
    assert_int_equal(rg_rel_acquire(&rel, &c), 0);
    if (!(rel.ops->caps & RG_REL_CAP_PREPARED_TX)) {
        assert_int_equal(rg_rel_begin(&rel, c, true), 0);
        assert_int_equal(rg_rel_prepare(&rel, c, "t.1"), RG_EINVAL);
        rg_rel_release(&rel, c);
        printf("SKIPPED relational/%s prepared transactions: adapter lacks "
               "RG_REL_CAP_PREPARED_TX\n",
               rel.ops->scheme);
        skip();
    }
    assert_int_equal(rg_rel_begin(&rel, c, true), 0);
    assert_true(insert_event(c, "prepared-then-committed", 5) > 0);
    assert_int_equal(rg_rel_prepare(&rel, c, "t.a"), 0);
    assert_int_equal(rows_by_slug(c, "prepared-then-committed"), 0);
    assert_int_equal(prepared_count(c, "t."), 1);
    assert_int_equal(prepared_count(c, "u."), 0);
    /* Finished from whichever connection the pool lends next, as recovery
     * does (a thread holds one connection of a pool at a time). */
    rg_rel_release(&rel, c);
    assert_int_equal(rg_rel_acquire(&rel, &other), 0);
    assert_int_equal(rg_rel_finish_prepared(&rel, other, "t.a", true), 0);
    assert_int_equal(rg_rel_finish_prepared(&rel, other, "t.a", true), RG_ENOTFOUND);
    rg_rel_release(&rel, other);
    assert_int_equal(rg_rel_acquire(&rel, &c), 0);
    assert_int_equal(rows_by_slug(c, "prepared-then-committed"), 1);

    assert_int_equal(rg_rel_begin(&rel, c, true), 0);
    assert_true(insert_event(c, "prepared-then-rolled-back", 5) > 0);
    assert_int_equal(rg_rel_prepare(&rel, c, "t.b"), 0);
    assert_int_equal(rg_rel_finish_prepared(&rel, c, "t.b", false), 0);
    assert_int_equal(rows_by_slug(c, "prepared-then-rolled-back"), 0);
    assert_int_equal(prepared_count(c, ""), 0);

    /* A prepare that fails (a taken id) rolls back and leaves nothing. */
    assert_int_equal(rg_rel_begin(&rel, c, true), 0);
    assert_true(insert_event(c, "prepared-twice", 5) > 0);
    assert_int_equal(rg_rel_prepare(&rel, c, "t.c"), 0);
    assert_int_equal(rg_rel_begin(&rel, c, true), 0);
    assert_true(insert_event(c, "prepared-under-a-taken-id", 5) > 0);
    assert_true(rg_rel_prepare(&rel, c, "t.c") < 0);
    rg_error_clear();
    assert_int_equal(rg_rel_finish_prepared(&rel, c, "t.c", true), 0);
    assert_int_equal(rows_by_slug(c, "prepared-twice"), 1);
    assert_int_equal(rows_by_slug(c, "prepared-under-a-taken-id"), 0);
    assert_int_equal(rg_rel_begin(&rel, c, true), 0);
    assert_int_equal(rg_rel_prepare(&rel, c, "bad gid"), RG_EINVAL);
    assert_int_equal(prepared_count(c, ""), 0);
    rg_rel_release(&rel, c);
}

struct taker {
    pthread_barrier_t *go;
    int64_t event;
    int got;
};

/* Each try takes a connection from the pool and gives it back, as a
 * request does; there are more threads than connections. */
static void *take(void *arg)
{
    struct taker *t = arg;
    pthread_barrier_wait(t->go);
    for (int i = 0; i < 10; i++) {
        rg_rel_conn *c;
        if (rg_rel_acquire(&rel, &c) < 0)
            continue;
        if (rg_rel_begin(&rel, c, true) == 0) {
            rg_param p[] = {RG_PINT(t->event), RG_PTEXT("2026-06-01T12:00:00Z")};
            int rc = rg_rel_query(&rel, c, "event_take_place", p, 2, NULL);
            if (rc >= 0 && rg_rel_commit(&rel, c) == 0)
                t->got += rc;
            else
                rg_rel_rollback(&rel, c);
        }
        rg_rel_release(&rel, c);
    }
    rg_error_clear();
    return NULL;
}

/* The conditional UPDATE that decides and reserves: 16 threads × 10 tries
 * at 37 places take exactly 37. */
static void take_place_never_oversells(void **state)
{
    (void)state;
    rg_rel_conn *c;
    assert_int_equal(rg_rel_acquire(&rel, &c), 0);
    int64_t e = insert_event(c, "take-place", 37);
    rg_param pub[] = {RG_PINT(e),
                      RG_PTEXT("Conformance"),
                      RG_PTEXT("take-place"),
                      RG_PNULL,
                      RG_PTEXT("2030-06-01T09:00:00Z"),
                      RG_PTEXT("2030-06-02T17:00:00Z"),
                      RG_PNULL,
                      RG_PNULL,
                      RG_PINT(37),
                      RG_PTEXT("published"),
                      RG_PTEXT("conference"),
                      RG_PBOOL(false),
                      RG_PBOOL(true),
                      RG_PNULL,
                      RG_PNULL,
                      RG_PBOOL(false),
                      RG_PNULL,
                      RG_PNULL,
                      RG_PINT(30),
                      RG_PTEXT("2026-06-01T12:00:00Z")};
    assert_int_equal(rg_rel_query(&rel, c, "event_update", pub, 20, NULL), 1);
    rg_rel_release(&rel, c);
    enum { N = 16 };
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, N);
    pthread_t th[N];
    struct taker t[N];
    for (int i = 0; i < N; i++) {
        t[i] = (struct taker){.go = &go, .event = e};
        pthread_create(&th[i], NULL, take, &t[i]);
    }
    int total = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        total += t[i].got;
    }
    pthread_barrier_destroy(&go);
    assert_int_equal(total, 37);
    assert_int_equal(rg_rel_acquire(&rel, &c), 0);
    rg_rows *rows;
    rg_param ge[] = {RG_PINT(e)};
    assert_int_equal(rg_rel_query(&rel, c, "event_get", ge, 1, &rows), 1);
    assert_int_equal(rg_rows_int(rows, 0, "taken", -1), 37);
    rg_rows_free(rows);
    rg_rel_release(&rel, c);
}

/* Rows for load_events: n events from id first, the k-th failing with
 * stop_rc when stop_at is reached. */
typedef struct event_rows {
    int64_t first;
    int n, k, stop_at, stop_rc;
    const char *slug_prefix;
    char id[24], slug[64];
} event_rows;

static int next_event_row(void *arg, const char **v)
{
    event_rows *g = arg;
    if (g->k == g->stop_at)
        return rg_error_set(g->stop_rc, "stopped at row %d", g->k);
    if (g->k >= g->n)
        return 0;
    snprintf(g->id, sizeof g->id, "%lld", (long long)(g->first + g->k));
    snprintf(g->slug, sizeof g->slug, "%s-%d", g->slug_prefix, g->k);
    g->k++;
    const char *row[20] = {g->id,
                           "Loaded \xc3\xa9vent",
                           g->slug,
                           "tab\there, new\nline, back\\slash, \\N and a\rreturn",
                           "2030-06-01T09:00:00Z",
                           "2030-06-02T17:00:00Z",
                           NULL,
                           "0123456789abcdef01234567",
                           "40",
                           "3",
                           "published",
                           "camp",
                           "0",
                           "1",
                           "12.50",
                           "GBP",
                           "1",
                           "10080",
                           "2026-06-01T12:00:00Z",
                           "2026-06-01T12:00:00Z"};
    memcpy(v, row, sizeof row);
    return 1;
}

static int64_t event_count(rg_rel_conn *c, int64_t id)
{
    rg_param p[] = {RG_PINT(id)};
    rg_rows *rows;
    int n = rg_rel_query(&rel, c, "event_get", p, 1, &rows);
    assert_true(n >= 0);
    rg_rows_free(rows);
    return n;
}

/* The bulk load keeps every value as given (text escapes, NULL, money,
 * booleans, times), keeps nothing of a load that failed or was stopped,
 * and the ids it gave are followed by the store's own after
 * seed_sequences. */
static void bulk_load_all_or_nothing(void **state)
{
    (void)state;
    rg_rel_conn *c;
    assert_int_equal(rg_rel_acquire(&rel, &c), 0);
    event_rows g = {.first = 9001, .n = 3, .stop_at = -1, .slug_prefix = "loaded"};
    assert_int_equal(rg_rel_load(&rel, c, "load_events", 20, next_event_row, &g), 3);
    rg_param ge[] = {RG_PINT(9002)};
    rg_rows *rows;
    assert_int_equal(rg_rel_query(&rel, c, "event_get", ge, 1, &rows), 1);
    assert_string_equal(rg_rows_get(rows, 0, "title"), "Loaded \xc3\xa9vent");
    assert_string_equal(rg_rows_get(rows, 0, "description"),
                        "tab\there, new\nline, back\\slash, \\N and a\rreturn");
    assert_null(rg_rows_get(rows, 0, "venue_id"));
    assert_int_equal(rg_rows_int(rows, 0, "cost_minor", 0), 1250);
    assert_int_equal(rg_rows_int(rows, 0, "taken", 0), 3);
    assert_string_equal(rg_rows_get(rows, 0, "waitlist_enabled"), "1");
    assert_string_equal(rg_rows_get(rows, 0, "is_featured"), "0");
    assert_string_equal(rg_rows_get(rows, 0, "start_date"), "2030-06-01T09:00:00Z");
    rg_rows_free(rows);

    /* Stopped by its source after two rows: neither is kept. */
    event_rows stop = {
        .first = 9101, .n = 5, .stop_at = 2, .stop_rc = RG_EINVAL, .slug_prefix = "stopped"};
    assert_int_equal(rg_rel_load(&rel, c, "load_events", 20, next_event_row, &stop), RG_EINVAL);
    rg_error_clear();
    assert_int_equal(event_count(c, 9101), 0);
    assert_int_equal(event_count(c, 9102), 0);
    /* A row the store refuses (a slug taken) fails the whole load. */
    event_rows dup = {.first = 9201, .n = 3, .stop_at = -1, .slug_prefix = "loaded"};
    assert_int_equal(rg_rel_load(&rel, c, "load_events", 20, next_event_row, &dup), RG_ECONFLICT);
    rg_error_clear();
    assert_int_equal(event_count(c, 9201), 0);
    /* The connection is usable afterwards, and new rows follow the loaded ids. */
    assert_int_equal(rg_rel_query(&rel, c, "seed_sequences", NULL, 0, NULL), 1);
    int64_t after = insert_event(c, "after-the-load", 10);
    assert_true(after > 9003);
    rg_rel_release(&rel, c);
}

/* The engine's plan names the scans of a named statement: a read by
 * primary key reads no whole table, the seed's check counts over every
 * event; the schema's indexes are listed. */
static void explain_names_scans(void **state)
{
    (void)state;
    rg_rel_conn *c;
    assert_int_equal(rg_rel_acquire(&rel, &c), 0);
    rg_rows *plan;
    assert_true(rg_rel_explain(&rel, c, "event_get", &plan) >= 1);
    bool events_read = false;
    for (int i = 0; i < plan->nrows; i++) {
        if (strcmp(rg_rows_get(plan, i, "tbl"), "events") == 0) {
            events_read = true;
            assert_false(rg_rows_bool(plan, i, "full_scan"));
        }
    }
    assert_true(events_read);
    rg_rows_free(plan);
    assert_true(rg_rel_explain(&rel, c, "seed_check", &plan) >= 1);
    bool whole = false;
    for (int i = 0; i < plan->nrows; i++)
        whole |= strcmp(rg_rows_get(plan, i, "tbl"), "events") == 0 &&
                 rg_rows_bool(plan, i, "full_scan");
    assert_true(whole);
    rg_rows_free(plan);
    assert_int_equal(rg_rel_explain(&rel, c, "load_events", &plan), RG_EINVAL);
    rg_error_clear();
    rg_rows *ix;
    assert_true(rg_rel_indexes(&rel, c, &ix) > 5);
    bool found = false;
    for (int i = 0; i < ix->nrows; i++)
        found |= strcmp(rg_rows_get(ix, i, "idx"), "idx_events_discovery") == 0 &&
                 strcmp(rg_rows_get(ix, i, "tbl"), "events") == 0;
    assert_true(found);
    rg_rows_free(ix);
    /* The connection is usable afterwards (no transaction left open). */
    assert_true(insert_event(c, "after-explain", 5) > 0);
    rg_rel_release(&rel, c);
}

static void ping_answers(void **state)
{
    (void)state;
    assert_int_equal(rg_rel_ping(&rel), 0);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(values_round_trip),
        cmocka_unit_test(unique_key_is_a_conflict),
        cmocka_unit_test(rollback_discards_commit_keeps),
        cmocka_unit_test(prepared_commit_and_rollback),
        cmocka_unit_test(take_place_never_oversells),
        cmocka_unit_test(bulk_load_all_or_nothing),
        cmocka_unit_test(explain_names_scans),
        cmocka_unit_test(ping_answers),
    };
    snprintf(dir, sizeof dir, "%s", rg_test_tmpdir());
    snprintf(url, sizeof url, "sqlite:%s/relational.db", dir);
    int failed = cmocka_run_group_tests_name("relational/sqlite", tests, setup, teardown);
    rg_test_rmdir(dir);
#ifdef RG_WITH_POSTGRES
    char *pg = rg_test_pg_create_db("relational");
    if (pg) {
        snprintf(url, sizeof url, "%s", pg);
        failed += cmocka_run_group_tests_name("relational/postgresql", tests, setup, teardown);
        rg_test_pg_drop_db(pg);
    } else {
        printf("SKIPPED relational/postgresql: RG_TEST_PG_URL is not set\n");
    }
#else
    printf("SKIPPED relational/postgresql: adapter not in this build\n");
#endif
    return failed;
}
