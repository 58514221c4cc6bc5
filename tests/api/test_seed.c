/* `risinggen seed`: data shaped like a platform's (docs/design/bench-dataset.md),
 * made through the domain's rules, seen through the API: every state of a
 * registration, full events, `taken` equal to the holders, a manifest of
 * the visible events by popularity, working tokens, and the same data from
 * the same seed whatever the number of workers. */
#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_EVENTS 400

typedef struct seed_report {
    long made, status[5], payments, refused;
} seed_report;

typedef struct manifest {
    int n;
    long long id[MAX_EVENTS];
    int rank[MAX_EVENTS], capacity[MAX_EVENTS], demand[MAX_EVENTS];
} manifest;

static char out_buf[16384];

/* Runs the seed (on server s) with the options of these tests and reads
 * its report line. */
static void run_seed_as(const api_server *s, const char *seed, const char *jobs, const char *mpath,
                        const char *tpath, bool bulk, seed_report *r)
{
    memset(out_buf, 0, sizeof out_buf);
    int rc =
        srv_cli(s, out_buf, sizeof out_buf, "seed", "--users", "400", "--venues", "70", "--events",
                "160", "--registrations", "2500", "--seed", seed, "--jobs", jobs, "--manifest",
                mpath, "--tokens", tpath, "--token-users", "30", bulk ? "--bulk" : NULL, NULL);
    if (rc != 0) {
        srv_dump_log(s);
        fail_msg("seed exited %d: %s", rc, out_buf);
    }
    const char *line = strstr(out_buf, "\nregistrations: ");
    assert_non_null(line);
    int got = sscanf(line + 1,
                     "registrations: %ld (as the seed left each: %ld confirmed, %ld pending, %ld "
                     "waitlisted, %ld cancelled, %ld checked in; %ld payments recorded; %ld "
                     "refused by the rules)",
                     &r->made, &r->status[0], &r->status[1], &r->status[2], &r->status[3],
                     &r->status[4], &r->payments, &r->refused);
    if (got != 8)
        fail_msg("unexpected report: %s", out_buf);
}

static void run_seed(const api_server *s, const char *seed, const char *jobs, const char *mpath,
                     const char *tpath, seed_report *r)
{
    run_seed_as(s, seed, jobs, mpath, tpath, false, r);
}

static void read_manifest(const char *path, manifest *m)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    m->n = 0;
    while (m->n < MAX_EVENTS && fscanf(f, "%lld %d %d %d", &m->id[m->n], &m->rank[m->n],
                                       &m->capacity[m->n], &m->demand[m->n]) == 4)
        m->n++;
    fclose(f);
}

static void check_platform(const seed_report *rp, const char *mpath, const char *tpath);

static void seed_makes_a_platform(void **state)
{
    (void)state;
    char mpath[700], tpath[700];
    snprintf(mpath, sizeof mpath, "%s/manifest.txt", g_srv.dir);
    snprintf(tpath, sizeof tpath, "%s/tokens.txt", g_srv.dir);
    seed_report r;
    run_seed(&g_srv, "4242", "3", mpath, tpath, &r);
    check_platform(&r, mpath, tpath);
}

/* What a seed made, seen through the API: every state of a registration,
 * taken equal to the holders of each event, the manifest by popularity and
 * skewed, discovery and search finding the events, working tokens. */
static void check_platform(const seed_report *rp, const char *mpath, const char *tpath)
{
    seed_report r = *rp;
    /* Every state a registration can be in, payments recorded, nothing
     * refused (demand is cut at capacity plus the waiting list). */
    assert_true(r.made > 2000);
    for (int i = 0; i < 5; i++)
        if (r.status[i] <= 0)
            fail_msg("no registration in state %d: %s", i, out_buf);
    assert_true(r.payments > 0);

    manifest m;
    read_manifest(mpath, &m);
    assert_true(m.n >= 100 && m.n < 160); /* about 85% are open to everyone */
    api_user *admin = admin_user();
    long total = 0;
    int full = 0, sorted_ok = 1;
    for (int i = 0; i < m.n; i++) {
        if (m.rank[i] != i)
            sorted_ok = 0;
        api_resp *ev = api("GET", fmt("/v1/events/%lld", m.id[i]), NULL, NULL);
        assert_status(ev, 200); /* visible to anyone */
        assert_int_equal(jint(ev->json, "maxParticipants"), m.capacity[i]);
        api_resp *st = api("GET", fmt("/v1/events/%lld/stats", m.id[i]), NULL, admin->access);
        assert_status(st, 200);
        json_int_t holders = jint(st->json, "confirmed") + jint(st->json, "pending");
        if (holders != m.capacity[i] - jint(st->json, "spotsLeft"))
            fail_msg("event %lld: %lld hold a place but taken is %lld: %s", m.id[i],
                     (long long)holders, (long long)(m.capacity[i] - jint(st->json, "spotsLeft")),
                     st->body);
        full += jint(st->json, "spotsLeft") == 0;
        total += (long)(holders + jint(st->json, "waitlisted") + jint(st->json, "cancelled"));
        resp_free(ev);
        resp_free(st);
    }
    assert_true(sorted_ok);
    assert_int_equal(total, r.made); /* every registration is on a listed event */
    assert_true(full >= 3);
    /* Skewed: the most popular tenth is asked for, event for event, several
     * times more than the less popular half (capacity cuts the very top). */
    long top = 0, bottom = 0;
    int ntop = m.n / 10, nbottom = m.n - m.n / 2;
    for (int i = 0; i < m.n; i++) {
        if (i < ntop)
            top += m.demand[i];
        else if (i >= m.n / 2)
            bottom += m.demand[i];
    }
    if (top * nbottom <= 3 * bottom * ntop)
        fail_msg("no skew: %ld asked for the top %d events, %ld for the last %d", top, ntop, bottom,
                 nbottom);

    /* Discovery finds them; cities carry venues with coordinates. */
    api_resp *d = api("GET", "/v1/events?city=London&limit=5", NULL, NULL);
    assert_status(d, 200);
    assert_true(jlen(d->json, "items") > 0);
    resp_free(d);
    d = api("GET", "/v1/events?near=51.5074,-0.1278&radiusKm=15&limit=5", NULL, NULL);
    assert_status(d, 200);
    assert_true(jlen(d->json, "items") > 0);
    resp_free(d);
    d = api("GET", "/v1/events?q=camp&limit=5", NULL, NULL);
    assert_status(d, 200);
    assert_true(jlen(d->json, "items") > 0);
    resp_free(d);

    /* One working token per person asked for. */
    FILE *f = fopen(tpath, "r");
    assert_non_null(f);
    char uid[64], tok[256];
    int lines = 0;
    while (fscanf(f, "%63s %255s", uid, tok) == 2) {
        if (lines++ % 10 == 0) {
            api_resp *me = api("GET", "/v1/users/me", NULL, tok);
            assert_status(me, 200);
            assert_str_eq(jstr(me->json, "id"), uid);
            resp_free(me);
        }
    }
    fclose(f);
    assert_int_equal(lines, 30);
}

/* The same seed with one worker, into a data folder of its own: the same
 * report and the same events by rank, capacity and demand. Embedded only:
 * the server profile's stores are one database per test program. */
static void seed_is_deterministic(void **state)
{
    (void)state;
    if (g_srv.relational_url[0])
        skip();
    api_server other = g_srv;
    int len = snprintf(other.dir, sizeof other.dir, "%s/again", g_srv.dir);
    assert_true(len > 0 && (size_t)len < sizeof other.dir);
    assert_int_equal(mkdir(other.dir, 0700), 0);
    char m1[700], m2[700], t1[700], t2[700];
    snprintf(m1, sizeof m1, "%s/m-jobs3.txt", g_srv.dir);
    snprintf(m2, sizeof m2, "%s/m-jobs1.txt", other.dir);
    snprintf(t1, sizeof t1, "%s/t-jobs3.txt", g_srv.dir);
    snprintf(t2, sizeof t2, "%s/t-jobs1.txt", other.dir);
    seed_report a, b;
    run_seed(&g_srv, "777", "3", m1, t1, &a);
    run_seed(&other, "777", "1", m2, t2, &b);
    assert_memory_equal(&a, &b, sizeof a);
    manifest x, y;
    read_manifest(m1, &x);
    read_manifest(m2, &y);
    assert_int_equal(x.n, y.n);
    for (int i = 0; i < x.n; i++) {
        assert_int_equal(x.capacity[i], y.capacity[i]);
        assert_int_equal(x.demand[i], y.demand[i]);
    }
}

/* --bulk loads the same data as the domain path makes from the same seed
 * (compared report for report on the embedded profile, where a second data
 * folder is at hand), with the same rules held; it refuses a database that
 * already holds events before writing anything. */
static void bulk_seed_loads_the_same_platform(void **state)
{
    (void)state;
    char mpath[700], tpath[700];
    snprintf(mpath, sizeof mpath, "%s/bulk-manifest.txt", g_srv.dir);
    snprintf(tpath, sizeof tpath, "%s/bulk-tokens.txt", g_srv.dir);
    seed_report bulk;
    run_seed_as(&g_srv, "5151", "2", mpath, tpath, true, &bulk);
    if (!strstr(out_buf, "0 events whose taken differs from their holders, 0 over capacity, 0 "
                         "people twice in one event, 0 registrations without their event, 0 "
                         "paid without their payment"))
        fail_msg("the load's check: %s", out_buf);
    check_platform(&bulk, mpath, tpath);

    char out[4096];
    int rc =
        srv_cli(&g_srv, out, sizeof out, "seed", "--users", "10", "--events", "5", "--bulk", NULL);
    if (rc != 1 || strstr(out, "people"))
        fail_msg("a second bulk seed exited %d after writing: %s", rc, out);

    if (g_srv.relational_url[0])
        return;
    api_server other = g_srv;
    int len = snprintf(other.dir, sizeof other.dir, "%s/domain", g_srv.dir);
    assert_true(len > 0 && (size_t)len < sizeof other.dir);
    assert_int_equal(mkdir(other.dir, 0700), 0);
    char m2[700], t2[700];
    snprintf(m2, sizeof m2, "%s/manifest.txt", other.dir);
    snprintf(t2, sizeof t2, "%s/tokens.txt", other.dir);
    seed_report domain;
    run_seed(&other, "5151", "1", m2, t2, &domain);
    if (memcmp(&bulk, &domain, sizeof bulk) != 0)
        fail_msg("bulk made %ld (%ld/%ld/%ld/%ld/%ld, %ld paid, %ld refused), the domain %ld "
                 "(%ld/%ld/%ld/%ld/%ld, %ld paid, %ld refused)",
                 bulk.made, bulk.status[0], bulk.status[1], bulk.status[2], bulk.status[3],
                 bulk.status[4], bulk.payments, bulk.refused, domain.made, domain.status[0],
                 domain.status[1], domain.status[2], domain.status[3], domain.status[4],
                 domain.payments, domain.refused);
    manifest x, y;
    read_manifest(mpath, &x);
    read_manifest(m2, &y);
    assert_int_equal(x.n, y.n);
    for (int i = 0; i < x.n; i++) {
        assert_int_equal(x.id[i], y.id[i]);
        assert_int_equal(x.capacity[i], y.capacity[i]);
        assert_int_equal(x.demand[i], y.demand[i]);
    }
}

/* Options that are not numbers, out of range or unknown stop the seed
 * before it writes anything. */
static void seed_refuses_bad_options(void **state)
{
    (void)state;
    char out[4096];
    const char *bad[][2] = {{"--users", "x"}, {"--users", "-1"},   {"--jobs", "0"},
                            {"--jobs", "65"}, {"--events", "1e3"}, {"--bogus", "1"},
                            {"--seed", "12a"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = srv_cli(&g_srv, out, sizeof out, "seed", bad[i][0], bad[i][1], NULL);
        if (rc != 2)
            fail_msg("seed %s %s exited %d: %s", bad[i][0], bad[i][1], rc, out);
    }
    assert_int_equal(srv_cli(&g_srv, out, sizeof out, "seed", "--users", NULL), 2);
    api_resp *r = api("GET", "/v1/events?limit=1", NULL, NULL);
    assert_status(r, 200);
    assert_int_equal(jlen(r->json, "items"), 0); /* nothing was made */
    resp_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(seed_refuses_bad_options),
        cmocka_unit_test(bulk_seed_loads_the_same_platform),
        cmocka_unit_test(seed_makes_a_platform),
        cmocka_unit_test(seed_is_deterministic),
    };
    return cmocka_run_group_tests(tests, api_setup, api_teardown);
}
