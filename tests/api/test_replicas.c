/* Read replicas on the server profile: lists and views may come from a
 * streaming replica, a person reads their own writes, and capacity is
 * decided on the primary even when the replica lags far behind. The replica
 * is made to lag by pausing its WAL replay. */
#include "support.h"

#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char *replica_conninfo(void)
{
    return g_srv.replica_url[0] ? g_srv.replica_url : NULL;
}

static void replay(bool on)
{
    PGconn *c = PQconnectdb(replica_conninfo());
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, on ? "SELECT pg_wal_replay_resume()" : "SELECT pg_wal_replay_pause()");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    PQclear(r);
    PQfinish(c);
}

/* Waits until the replica itself holds event id (it replayed that far). */
static void wait_replica_has(long long id)
{
    PGconn *c = PQconnectdb(replica_conninfo());
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    char sql[96];
    snprintf(sql, sizeof sql, "SELECT 1 FROM events WHERE id = %lld AND status = 'published'", id);
    for (int i = 0; i < 1200; i++) { /* up to 30 s */
        PGresult *r = PQexec(c, sql);
        bool found = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
        PQclear(r);
        if (found) {
            PQfinish(c);
            return;
        }
        usleep(25 * 1000);
    }
    PQfinish(c);
    fail_msg("the replica never replayed event %lld", id);
}

/* Waits until anonymous GET path answers want (the replica caught up), for
 * at most 30 s of wall-clock time. An event view read from the replica while
 * it was still behind may be cached and served for up to 10 s (see
 * docs/architecture.md, "Known limits"), and under load the replica may take
 * a few seconds to replay, so the bound is generous; the wait ends as soon as
 * the answer is right. */
static void wait_for(const char *path, long want)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long st = 0;
    for (;;) {
        api_resp *r = api("GET", path, NULL, NULL);
        st = r->status;
        resp_free(r);
        if (st == want)
            return;
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (t.tv_sec - t0.tv_sec > 30)
            break;
        usleep(50 * 1000);
    }
    fail_msg("%s never answered %ld within 30 s (last %ld)", path, want, st);
}

static int count_type(const char *type, const char *token)
{
    api_resp *r = api("GET", fmt("/v1/events?type=%s&limit=100", type), NULL, token);
    assert_status(r, 200);
    int n = (int)jlen(r->json, "items");
    resp_free(r);
    return n;
}

static void reads_follow_the_replica_and_your_own_writes(void **state)
{
    (void)state;
    api_user org, other;
    organizer_signup(&org, "replorg");
    user_signup(&other, "replp");
    const char *type = fmt("replica-%d", (int)getpid());
    char type_copy[64];
    snprintf(type_copy, sizeof type_copy, "%s", type);
    long long a = event_create_published(org.access, json_pack("{s:s}", "type", type_copy));
    wait_replica_has(a);

    replay(false);
    long long b = event_create_published(
        org.access, json_pack("{s:s, s:i}", "type", type_copy, "maxParticipants", 1));
    /* Someone else reads from the lagging replica: B is not there yet. */
    assert_int_equal(count_type(type_copy, other.access), 1);
    api_resp *r = api("GET", fmt("/v1/events/%lld", b), NULL, NULL);
    assert_problem(r, 404);
    resp_free(r);
    /* The lag is measured and exported (a job refreshes it every 5 s). */
    bool lags = false;
    for (int i = 0; i < 300 && !lags; i++) {
        api_resp *m = api("GET", "/metrics", NULL, NULL);
        const char *at = strstr(m->body, "\nrg_replica_lag_seconds ");
        lags = at && strtod(at + strlen("\nrg_replica_lag_seconds "), NULL) > 0;
        resp_free(m);
        if (!lags)
            usleep(100 * 1000);
    }
    if (!lags)
        fail_msg("rg_replica_lag_seconds stayed 0 while the replica did not replay");
    /* The organizer reads their own writes. */
    assert_int_equal(count_type(type_copy, org.access), 2);
    r = api("GET", fmt("/v1/events/%lld", b), NULL, org.access);
    assert_status(r, 200);
    resp_free(r);
    /* Capacity is decided on the primary: the one place is taken once. */
    register_ok(other.access, b, "confirmed");
    api_user third;
    user_signup(&third, "replq");
    r = register_for(third.access, b);
    assert_problem_type(r, 409, "event-full");
    resp_free(r);

    replay(true);
    wait_replica_has(b);
    wait_for(fmt("/v1/events/%lld", b), 200);
    assert_int_equal(count_type(type_copy, NULL), 2);
}

static int resume_and_teardown(void **state)
{
    if (replica_conninfo()) {
        PGconn *c = PQconnectdb(replica_conninfo());
        PQclear(PQexec(c, "SELECT pg_wal_replay_resume()"));
        PQfinish(c);
    }
    return api_teardown(state);
}

int main(void)
{
    const char *profile = getenv("RG_TEST_PROFILE");
    if (!profile || strcmp(profile, "server") != 0 || !getenv("RG_TEST_PG_REPLICA_URL")) {
        printf("SKIPPED api/replicas: needs the server profile with RG_TEST_PG_REPLICA_URL\n");
        return 77;
    }
    setenv("RG_TEST_WITH_REPLICA", "1", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_follow_the_replica_and_your_own_writes),
    };
    return cmocka_run_group_tests(tests, api_setup, resume_and_teardown);
}
