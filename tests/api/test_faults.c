/* Faults on the server profile: PostgreSQL stopped during requests (503
 * with Retry-After, then recovery by itself, no half-applied write); Redis
 * stopped or flushed (logins may be lost, data never); two instances sharing
 * PostgreSQL and Redis (a session made on one works on the other, and a
 * change made on one is seen by the other within a second). Stops the shared
 * private servers, so ctest runs it alone (RUN_SERIAL). */
#include "support.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void servers(const char *what)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "bash '%s' %s '%s' >/dev/null 2>&1", getenv("RG_TEST_SERVERS_SCRIPT"),
             what, getenv("RG_TEST_SERVERS"));
    assert_int_equal(system(cmd), 0);
}

static long status_of(const char *method, const char *path, const char *body, const char *token)
{
    api_resp *r = api(method, path, body, token);
    long st = r->status;
    resp_free(r);
    return st;
}

/* Polls until GET path answers want, at most ms milliseconds; returns the wait. */
static int wait_status(const char *path, const char *token, long want, int ms)
{
    for (int waited = 0; waited <= ms; waited += 50) {
        if (status_of("GET", path, NULL, token) == want)
            return waited;
        usleep(50 * 1000);
    }
    fail_msg("GET %s never answered %ld within %d ms", path, want, ms);
    return -1;
}

static void postgres_stops_and_comes_back(void **state)
{
    (void)state;
    api_user org, p1, p2;
    organizer_signup(&org, "fpg");
    user_signup(&p1, "fpg1");
    user_signup(&p2, "fpg2");
    long long ev = event_create_published(org.access, json_pack("{s:i}", "maxParticipants", 5));
    register_ok(p1.access, ev, "confirmed");

    api_allow_5xx(true);
    servers("pg-stop");
    /* Requests that need the relational store: 503 with Retry-After. */
    api_resp *r = register_for(p2.access, ev);
    assert_problem(r, 503);
    assert_true(r->retry_after[0] != '\0');
    resp_free(r);
    r = api("GET", fmt("/v1/events?type=outage-%d", (int)getpid()), NULL, NULL);
    assert_problem(r, 503);
    resp_free(r);
    r = api("GET", "/readyz", NULL, NULL);
    assert_int_equal(r->status, 503);
    assert_string_equal(jstr(r->json, "stores.relational"), "down");
    resp_free(r);
    /* The process lives on. */
    assert_int_equal(status_of("GET", "/healthz", NULL, NULL), 200);
    servers("pg-start");
    int waited = wait_status("/readyz", NULL, 200, 10000);
    print_message("recovered %d ms after PostgreSQL came back\n", waited);
    api_allow_5xx(false);

    /* Nothing half-applied: p2's refused registration does not exist. */
    r = api("GET", fmt("/v1/events/%lld/stats", ev), NULL, org.access);
    assert_status(r, 200);
    assert_int_equal(jint(r->json, "confirmed"), 1);
    resp_free(r);
    register_ok(p2.access, ev, "confirmed");
}

static void redis_stops_and_is_flushed(void **state)
{
    (void)state;
    api_user u, org;
    user_signup(&u, "fredis");
    organizer_signup(&org, "fredisorg");
    long long ev = event_create_published(org.access, NULL);
    api_allow_5xx(true);
    servers("redis-stop");
    /* Slower, not wrong: sessions live in the documents store too. */
    assert_int_equal(status_of("GET", "/v1/users/me", NULL, u.access), 200);
    user_login(&u);
    assert_int_equal(status_of("GET", "/v1/users/me", NULL, u.access), 200);
    register_ok(u.access, ev, "confirmed");
    assert_int_equal(status_of("GET", fmt("/v1/events/%lld", ev), NULL, NULL), 200);
    servers("redis-start");
    wait_status("/readyz", NULL, 200, 5000);
    api_allow_5xx(false);
    /* Flushed: the data are all still there, and so is the sign-in. */
    char cmd[256];
    snprintf(cmd, sizeof cmd, "redis-cli -p %s flushall >/dev/null", getenv("RG_TEST_REDIS_PORT"));
    assert_int_equal(system(cmd), 0);
    usleep(1100 * 1000); /* the in-process level forgets within a second */
    assert_int_equal(status_of("GET", "/v1/users/me", NULL, u.access), 200);
    api_resp *r = api("GET", fmt("/v1/events/%lld/stats", ev), NULL, org.access);
    assert_status(r, 200);
    assert_int_equal(jint(r->json, "confirmed"), 1);
    resp_free(r);
}

static void two_instances_share_sessions_and_changes(void **state)
{
    (void)state;
    api_server b = {0};
    memcpy(b.relational_url, g_srv.relational_url, sizeof b.relational_url);
    memcpy(b.document_url, g_srv.document_url, sizeof b.document_url);
    memcpy(b.cache_url, g_srv.cache_url, sizeof b.cache_url);
    assert_int_equal(srv_start(&b, NULL), 0);
    api_server a = g_srv;

    api_user org;
    organizer_signup(&org, "two"); /* on A */
    long long ev = event_create_published(org.access, json_pack("{s:s}", "title", "Before"));
    g_srv = b; /* talk to B */
    api_resp *r = api("GET", "/v1/users/me", NULL, org.access);
    assert_status(r, 200); /* a session made on A works on B */
    resp_free(r);
    r = api("GET", fmt("/v1/events/%lld", ev), NULL, NULL);
    assert_status(r, 200);
    assert_string_equal(jstr(r->json, "title"), "Before"); /* B now holds it in cache */
    resp_free(r);
    g_srv = a;
    r = api("PATCH", fmt("/v1/events/%lld", ev), "{\"title\":\"After\"}", org.access);
    assert_status(r, 200);
    resp_free(r);
    g_srv = b;
    int waited = -1;
    for (int t = 0; t <= 1000; t += 20) {
        r = api("GET", fmt("/v1/events/%lld", ev), NULL, NULL);
        bool fresh = r->status == 200 && strcmp(jstr(r->json, "title"), "After") == 0;
        resp_free(r);
        if (fresh) {
            waited = t;
            break;
        }
        usleep(20 * 1000);
    }
    g_srv = a;
    srv_stop(&b);
    srv_remove_dir(&b);
    if (waited < 0)
        fail_msg("instance B served the old title for more than a second");
    print_message("instance B saw the change after %d ms\n", waited);
}

int main(void)
{
    const char *profile = getenv("RG_TEST_PROFILE");
    if (!profile || strcmp(profile, "server") != 0 || !getenv("RG_TEST_SERVERS")) {
        printf("SKIPPED api/faults: needs the server profile and RG_TEST_SERVERS\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(postgres_stops_and_comes_back),
        cmocka_unit_test(redis_stops_and_is_flushed),
        cmocka_unit_test(two_instances_share_sessions_and_changes),
    };
    return cmocka_run_group_tests(tests, api_setup, api_teardown);
}
