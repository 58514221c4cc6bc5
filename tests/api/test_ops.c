/* Operations: /healthz, /readyz, /metrics, and a graceful shutdown under
 * load followed by a restart on the same data folder. */
#include "testcfg.h"
#include "support.h"
#include "domain.h"

#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

static void healthz(void **state)
{
    (void)state;
    api_resp *r = api("GET", "/healthz", NULL, NULL);
    assert_status(r, 200);
    assert_true(strncmp(r->content_type, "application/json", 16) == 0);
    assert_str_eq(jstr(r->json, "status"), "ok");
    resp_free(r);
    /* A public route: a bad token does not matter. */
    r = api("GET", "/healthz", NULL, "not-a-valid-token-at-all");
    assert_status(r, 200);
    resp_free(r);
}

static void readyz(void **state)
{
    (void)state;
    api_resp *r = api("GET", "/readyz", NULL, NULL);
    assert_status(r, 200);
    json_t *stores = json_object_get(r->json, "stores");
    assert_true(json_is_object(stores));
    const char *names[] = {"relational", "documents", "cache", "search"};
    for (size_t i = 0; i < N_ELEMS(names); i++)
        assert_str_eq(jstr(stores, names[i]), "up");
    const char *k;
    json_t *v;
    json_object_foreach(stores, k, v)
    {
        if (!json_is_string(v) || strcmp(json_string_value(v), "up") != 0)
            fail_msg("store %s is not up: %s", k, r->body);
    }
    assert_null(json_object_get(r->json, "password"));
    resp_free(r);
}

/* Sum of the samples of metric whose labels contain label (e.g.
 * route="GET /healthz"); -1 when there is none. */
static double metric_sum(const char *text, const char *metric, const char *label)
{
    double sum = -1;
    size_t mlen = strlen(metric);
    for (const char *line = text; line && *line;) {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        if (len > mlen && strncmp(line, metric, mlen) == 0 &&
            (line[mlen] == '{' || line[mlen] == ' ')) {
            char buf[1024];
            snprintf(buf, sizeof buf, "%.*s", (int)len, line);
            const char *close = strrchr(buf, '}');
            if (!label || (strstr(buf, label) && close && strstr(buf, label) < close)) {
                const char *val = strrchr(buf, ' ');
                if (val) {
                    if (sum < 0)
                        sum = 0;
                    sum += strtod(val + 1, NULL);
                }
            }
        }
        line = eol ? eol + 1 : NULL;
    }
    return sum;
}

/* Every line is a comment or "name{labels} value". */
static void assert_prometheus_text(const char *text)
{
    int samples = 0;
    for (const char *line = text; line && *line;) {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        char buf[2048];
        snprintf(buf, sizeof buf, "%.*s", (int)len, line);
        line = eol ? eol + 1 : NULL;
        if (!buf[0] || buf[0] == '#')
            continue;
        const char *p = buf;
        if (!(isalpha((unsigned char)*p) || *p == '_' || *p == ':'))
            fail_msg("not a metric line: %s", buf);
        while (isalnum((unsigned char)*p) || *p == '_' || *p == ':')
            p++;
        if (*p == '{') {
            const char *close = strrchr(p, '}');
            if (!close)
                fail_msg("unclosed labels: %s", buf);
            p = close + 1;
        }
        if (*p != ' ')
            fail_msg("no value: %s", buf);
        char *end;
        strtod(p + 1, &end);
        if (end == p + 1)
            fail_msg("the value is not a number: %s", buf);
        samples++;
    }
    assert_true(samples > 0);
}

static api_resp *metrics(void)
{
    api_resp *r = api("GET", "/metrics", NULL, NULL);
    assert_status(r, 200);
    assert_true(strncmp(r->content_type, "text/plain", 10) == 0);
    return r;
}

static void metrics_counts_requests(void **state)
{
    (void)state;
    for (int i = 0; i < 5; i++) {
        api_resp *r = api("GET", "/healthz", NULL, NULL);
        assert_status(r, 200);
        resp_free(r);
    }
    api_resp *m = metrics();
    assert_prometheus_text(m->body);
    assert_non_null(strstr(m->body, "rg_http_requests_total"));
    assert_non_null(strstr(m->body, "route=\""));
    double before = metric_sum(m->body, "rg_http_requests_total", "route=\"GET /healthz\"");
    if (before < 5)
        fail_msg("rg_http_requests_total{route=\"GET /healthz\"} is %g after 5 calls:\n%.2000s",
                 before, m->body);
    resp_free(m);

    for (int i = 0; i < 3; i++) {
        api_resp *r = api("GET", "/healthz", NULL, NULL);
        resp_free(r);
    }
    m = metrics();
    double after = metric_sum(m->body, "rg_http_requests_total", "route=\"GET /healthz\"");
    if (after < before + 3)
        fail_msg("GET /healthz went from %g to %g after 3 more calls", before, after);
    resp_free(m);
}

static void metrics_cover_api_md(void **state)
{
    (void)state;
    /* Some traffic that touches the stores and the cache. */
    api_user u;
    user_signup(&u, "metrics");
    for (int i = 0; i < 3; i++) {
        api_resp *r = api("GET", "/v1/users/me", NULL, u.access);
        assert_status(r, 200);
        resp_free(r);
        r = api("GET", "/v1/events?limit=5", NULL, NULL);
        assert_status(r, 200);
        resp_free(r);
        r = api("GET", "/v1/search?q=metrics", NULL, NULL);
        assert_status(r, 200);
        resp_free(r);
    }
    api_resp *m = metrics();
    /* Every store's calls are timed, not only the relational queries. */
    const char *calls[] = {"store=\"documents\",op=\"get\"", "store=\"cache\",op=\"get_many\"",
                           "store=\"search\",op=\"query\""};
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++)
        if (metric_sum(m->body, "rg_store_call_duration_seconds_count", calls[i]) < 1)
            fail_msg("no timing of the store call %s in /metrics:\n%.1500s", calls[i], m->body);
    if (!strstr(m->body, "rg_store_call_errors_total{store=\"documents\",op=\"get\"} "))
        fail_msg("no error count of the store calls in /metrics");
    /* API.md: request counts and latency histograms per route, query
     * timings per named query, cache hits and misses, pool use. */
    if (!strstr(m->body, "_bucket{") ||
        metric_sum(m->body, "rg_http_request_duration_seconds_count",
                   "route=\"GET /v1/users/me\"") < 3)
        fail_msg("no latency histogram for GET /v1/users/me:\n%.1500s", m->body);
    if (!strstr(m->body, "query=\""))
        fail_msg("no per-query timings in /metrics");
    bool hits = false, misses = false, pool = false;
    for (const char *line = m->body; line && *line;) {
        const char *eol = strchr(line, '\n');
        if (*line != '#') {
            size_t n = strcspn(line, "{ \n");
            char name[256];
            snprintf(name, sizeof name, "%.*s", (int)(n < 255 ? n : 255), line);
            hits |= strstr(name, "cache") && strstr(name, "hit");
            misses |= strstr(name, "cache") && strstr(name, "miss");
            pool |= strstr(name, "pool") != NULL;
        }
        line = eol ? eol + 1 : NULL;
    }
    if (!hits || !misses)
        fail_msg("no cache hit/miss counters in /metrics");
    if (!pool) {
        print_error("metric names in /metrics: none mentions \"pool\"\n");
        fail_msg("API.md: /metrics reports pool use; no pool metric found");
    }
    resp_free(m);
}

/* Whether the server log has a line holding both a and b. */
static bool log_line_has(const char *a, const char *b)
{
    for (int i = 0; i < 100; i++) {
        FILE *f = fopen(g_srv.log, "r");
        bool found = false;
        if (f) {
            char line[8192];
            while (!found && fgets(line, sizeof line, f))
                found = strstr(line, a) && strstr(line, b);
            fclose(f);
        }
        if (found)
            return true;
        usleep(50 * 1000);
    }
    return false;
}

static void every_request_has_an_id(void **state)
{
    (void)state;
    /* Given by the service, different each time, in the header of every
     * answer, and in the body of every problem+json. */
    api_resp *a = api("GET", "/healthz", NULL, NULL), *b = api("GET", "/healthz", NULL, NULL);
    assert_true(strlen(a->request_id) >= 16);
    assert_string_not_equal(a->request_id, b->request_id);
    api_resp *p = api("GET", "/v1/events/999999999", NULL, NULL);
    assert_problem(p, 404);
    assert_true(p->request_id[0]);
    assert_string_equal(jstr(p->json, "requestId"), p->request_id);
    /* A caller's id (a proxy's) is kept when it is well-formed, replaced
     * when it is not. */
    const char *mine[] = {"X-Request-Id: edge-7f3a.91_b", NULL};
    api_req rq = {.method = "GET", .path = "/v1/events/999999998", .headers = mine};
    api_resp *c = api_do(&rq);
    assert_string_equal(c->request_id, "edge-7f3a.91_b");
    assert_string_equal(jstr(c->json, "requestId"), "edge-7f3a.91_b");
    const char *bad[] = {"X-Request-Id: has space\"quote", NULL};
    rq.headers = bad;
    api_resp *d = api_do(&rq);
    assert_true(d->request_id[0] && !strchr(d->request_id, ' '));
    /* Every log line of a request carries its id: publishing an event logs
     * the making of its channel, besides the access line. */
    api_user org;
    organizer_signup(&org, "reqid");
    long long ev = event_create(org.access, NULL);
    const char *ids[] = {"X-Request-Id: publish-trace-1", NULL};
    api_req publish = {.method = "PATCH",
                       .path = fmt("/v1/events/%lld", ev),
                       .body = "{\"status\":\"published\"}",
                       .token = org.access,
                       .headers = ids};
    api_resp *l = api_do(&publish);
    assert_status(l, 200);
    assert_string_equal(l->request_id, "publish-trace-1");
    if (!log_line_has("\"requestId\":\"publish-trace-1\"", fmt("of event %lld", ev)))
        fail_msg("no log line of the publish carries its request id");
    resp_free(a);
    resp_free(b);
    resp_free(p);
    resp_free(c);
    resp_free(d);
    resp_free(l);
}

static void jobs_report_their_runs(void **state)
{
    (void)state;
    /* The outbox job runs every second: within a few its runs show. */
    bool seen = false;
    for (int i = 0; i < 100 && !seen; i++) {
        api_resp *m = metrics();
        seen = metric_sum(m->body, "rg_job_runs_total", "job=\"outbox\"") >= 1 &&
               strstr(m->body, "rg_job_last_duration_seconds{job=\"outbox\"}") &&
               strstr(m->body, "# TYPE rg_job_failures_total counter");
        /* What the alert rules read besides requests: the outbox's backlog
         * (measured at start) and the room left on the data's disk. */
        const char *free_at = strstr(m->body, "rg_volume_free_bytes{volume=\"data\"} ");
        seen = seen && strstr(m->body, "\nrg_outbox_pending ") &&
               strstr(m->body, "\nrg_outbox_oldest_pending_seconds ") && free_at &&
               strtod(free_at + strlen("rg_volume_free_bytes{volume=\"data\"} "), NULL) > 0 &&
               strstr(m->body, "rg_volume_size_bytes{volume=\"data\"} ");
        resp_free(m);
        if (!seen)
            usleep(100 * 1000);
    }
    assert_true(seen);
}

struct slow {
    pthread_t th;
    char email[160];
    char body[512];
    volatile int sending;
    api_resp *resp;
};

static void *slow_signup(void *p)
{
    struct slow *s = p;
    api_req rq = {.method = "POST",
                  .path = "/v1/auth/signup",
                  .body = s->body,
                  .trickle_ms = 1500,
                  .sending = &s->sending,
                  .timeout_ms = 30000};
    s->resp = api_do(&rq);
    return NULL;
}

static void graceful_shutdown_keeps_data(void **state)
{
    (void)state;
    api_user org, part;
    organizer_signup(&org, "org");
    user_signup(&part, "part");
    long long ev = event_create_published(org.access, json_pack("{s:i}", "maxParticipants", 20));
    long long reg = register_ok(part.access, ev, "confirmed");

    /* A few slow requests in flight: each sends its body over 1.5 s. */
    struct slow slow[3];
    for (size_t i = 0; i < N_ELEMS(slow); i++) {
        char email[160];
        snprintf(email, sizeof email, "%s", unique_email("slow"));
        snprintf(slow[i].email, sizeof slow[i].email, "%s", email);
        snprintf(slow[i].body, sizeof slow[i].body,
                 "{\"email\":\"%s\",\"password\":\"slow-password-1\",\"firstName\":\"Slow\","
                 "\"lastName\":\"Request\"}",
                 email);
        slow[i].resp = NULL;
        slow[i].sending = 0;
        assert_int_equal(pthread_create(&slow[i].th, NULL, slow_signup, &slow[i]), 0);
    }
    /* Wait until every one is sending its body (so the server has its
     * request line and headers), then a little more. */
    struct timespec ts = {0, 20 * 1000 * 1000};
    for (int w = 0; w < 250; w++) {
        bool all = true;
        for (size_t i = 0; i < N_ELEMS(slow); i++)
            all &= slow[i].sending != 0;
        if (all)
            break;
        nanosleep(&ts, NULL);
    }
    for (size_t i = 0; i < N_ELEMS(slow); i++)
        assert_true(slow[i].sending);
    ts.tv_nsec = 200 * 1000 * 1000;
    nanosleep(&ts, NULL);

    /* SIGTERM while they are in flight: the server finishes them, exits 0. */
    int rc = srv_stop(&g_srv);
    if (rc != 0)
        srv_dump_log(&g_srv);
    assert_int_equal(rc, 0);
    for (size_t i = 0; i < N_ELEMS(slow); i++) {
        pthread_join(slow[i].th, NULL);
        if (slow[i].resp->status != 201)
            fail_msg("a request in flight at SIGTERM got %ld (%s): %s", slow[i].resp->status,
                     slow[i].resp->curl_error, slow[i].resp->body);
    }

    /* Restart on the same data folder: everything is still there. */
    assert_int_equal(srv_start(&g_srv, g_srv.dir), 0);
    api_resp *r = api("GET", fmt("/v1/registrations/%lld", reg), NULL, part.access);
    assert_status(r, 200);
    assert_str_eq(jstr(r->json, "status"), "confirmed");
    assert_int_equal(jint(r->json, "eventId"), ev);
    resp_free(r);
    r = api("GET", fmt("/v1/events/%lld", ev), NULL, NULL);
    assert_status(r, 200);
    assert_str_eq(jstr(r->json, "status"), "published");
    assert_int_equal(jint(r->json, "spotsLeft"), 19);
    resp_free(r);
    r = api("GET", fmt("/v1/events/%lld/stats", ev), NULL, org.access);
    assert_status(r, 200);
    assert_int_equal(jint(r->json, "confirmed"), 1);
    resp_free(r);
    /* The organizer role and sessions survived too. */
    r = api("POST", "/v1/venues", "{\"name\":\"After\",\"city\":\"Leeds\",\"country\":\"GB\"}",
            org.access);
    assert_status(r, 201);
    resp_free(r);
    /* What the in-flight requests wrote is there. */
    for (size_t i = 0; i < N_ELEMS(slow); i++) {
        r = apij("POST", "/v1/auth/login",
                 json_pack("{s:s, s:s}", "email", slow[i].email, "password", "slow-password-1"),
                 NULL);
        assert_status(r, 200);
        assert_str_eq(jstr(r->json, "user.id"), jstr(slow[i].resp->json, "user.id"));
        resp_free(r);
        resp_free(slow[i].resp);
    }
    /* And the restarted server is ready. */
    r = api("GET", "/readyz", NULL, NULL);
    assert_status(r, 200);
    resp_free(r);
}

/* `risinggen report indexes`: the queries that read whole tables and
 * every index with the named queries that use it. */
static void report_indexes_lists_plans(void **state)
{
    (void)state;
    static char out[1 << 16];
    int rc = srv_cli(&g_srv, out, sizeof out, "report", "indexes", NULL);
    if (rc != 0)
        fail_msg("report indexes exited %d: %s", rc, out);
    assert_non_null(strstr(out, "Named queries that read a whole table"));
    assert_non_null(strstr(out, "  seed_check: events\n"));
    assert_non_null(strstr(out, "events.idx_events_discovery: used by "));
    assert_null(strstr(out, "not explained"));
}

/* Whether the search finds event id for the word. */
static bool found(const char *word, long long id)
{
    api_resp *r = api("GET", fmt("/v1/search?q=%s&types=event", word), NULL, NULL);
    assert_status(r, 200);
    bool hit = false;
    for (size_t i = 0; i < (size_t)jlen(r->json, "items"); i++)
        hit |= jint(json_array_get(json_object_get(r->json, "items"), i), "id") == id;
    resp_free(r);
    return hit;
}

/* `risinggen report search` names the events whose entry is missing,
 * stale or extra; `reindex` mends all three, and the report is clean. */
static void report_search_and_reindex(void **state)
{
    (void)state;
    api_user org;
    organizer_signup(&org, "drift");
    char word[32];
    snprintf(word, sizeof word, "drift%d", (int)getpid());
    long long a = event_create_published(org.access, json_pack("{s:s}", "title", word));
    long long b = event_create_published(org.access, json_pack("{s:s}", "title", word));
    static char out[1 << 14];
    int rc = srv_cli(&g_srv, out, sizeof out, "report", "search", NULL);
    if (rc != 0)
        fail_msg("report search exited %d: %s", rc, out);
    assert_non_null(strstr(out, "the index is current"));
    /* Behind the service's back: a's entry removed, b's text replaced, an
     * entry for an event that does not exist. */
    rg_app app;
    api_open_stores(&app);
    char ida[32], idb[32];
    snprintf(ida, sizeof ida, "%lld", a);
    snprintf(idb, sizeof idb, "%lld", b);
    assert_int_equal(rg_search_remove(&app.st.search, "event", ida), 0);
    rg_search_doc stale = {
        .type = "event", .id = idb, .title = "old words", .body = "", .tags = ""};
    assert_int_equal(rg_search_upsert(&app.st.search, &stale), 0);
    rg_search_doc ghost = {
        .type = "event", .id = "987654321", .title = word, .body = "", .tags = ""};
    assert_int_equal(rg_search_upsert(&app.st.search, &ghost), 0);
    rg_app_close(&app);
    assert_false(found(word, a));
    assert_false(found(word, b));
    rc = srv_cli(&g_srv, out, sizeof out, "report", "search", NULL);
    assert_int_equal(rc, 1);
    assert_non_null(
        strstr(out, fmt("missing (listed events the index lacks): 1 (events %s)", ida)));
    assert_non_null(
        strstr(out, fmt("stale (entries whose text is not the event's): 1 (events %s)", idb)));
    assert_non_null(
        strstr(out, "extra (entries of events that must not be found): 1 (events 987654321)"));
    rc = srv_cli(&g_srv, out, sizeof out, "reindex", NULL);
    if (rc != 0)
        fail_msg("reindex exited %d: %s", rc, out);
    assert_non_null(strstr(out, "aside and switched"));
    assert_true(found(word, a) && found(word, b));
    rc = srv_cli(&g_srv, out, sizeof out, "report", "search", NULL);
    if (rc != 0)
        fail_msg("report search after reindex exited %d: %s", rc, out);
    assert_non_null(strstr(out, "missing (listed events the index lacks): 0\n"));
    assert_non_null(strstr(out, "the index is current"));
}

struct reindex_job {
    char out[4096];
    int rc;
    atomic_bool done;
};

static void *run_reindex(void *arg)
{
    struct reindex_job *j = arg;
    j->rc = srv_cli(&g_srv, j->out, sizeof j->out, "reindex", NULL);
    atomic_store(&j->done, true);
    return NULL;
}

/* `reindex` builds aside and switches: while it runs, search keeps finding
 * what it found, and events published meanwhile are found once it is done,
 * through the new index. */
static void reindex_keeps_answering(void **state)
{
    (void)state;
    api_user org;
    organizer_signup(&org, "aside");
    char probe[32];
    snprintf(probe, sizeof probe, "aside%d", (int)getpid());
    long long kept = event_create_published(org.access, json_pack("{s:s}", "title", probe));
    for (int i = 0; i < 150; i++) /* something to build */
        event_create_published(org.access, json_pack("{s:s}", "title", "Filler evening"));
    static struct reindex_job job;
    atomic_init(&job.done, false);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, run_reindex, &job), 0);
    enum { LATE = 40 };
    long long late[LATE];
    char words[LATE][32];
    int nlate = 0, probes = 0;
    while (!atomic_load(&job.done) || nlate == 0) {
        if (!found(probe, kept))
            fail_msg("event %lld not found while reindex ran (probe %d)", kept, probes);
        probes++;
        if (nlate < LATE) {
            snprintf(words[nlate], sizeof words[nlate], "late%dx%d", (int)getpid(), nlate);
            late[nlate] =
                event_create_published(org.access, json_pack("{s:s}", "title", words[nlate]));
            nlate++;
        }
    }
    pthread_join(t, NULL);
    if (job.rc != 0)
        fail_msg("reindex exited %d: %s", job.rc, job.out);
    assert_true(found(probe, kept));
    /* Discovery's words, which on the server profile are matched inside
     * its own statement, read the new index too. */
    api_resp *r = api("GET", fmt("/v1/events?q=%s", words[0]), NULL, NULL);
    assert_status(r, 200);
    assert_int_equal(jlen(r->json, "items"), 1);
    assert_int_equal(jint(json_array_get(json_object_get(r->json, "items"), 0), "id"), late[0]);
    resp_free(r);
    for (int i = 0; i < nlate; i++)
        if (!found(words[i], late[i]))
            fail_msg("event %lld, published while reindex ran (%d of %d), is not found", late[i],
                     i + 1, nlate);
    static char out[1 << 14];
    int rc = srv_cli(&g_srv, out, sizeof out, "report", "search", NULL);
    if (rc != 0)
        fail_msg("report search after reindex exited %d: %s", rc, out);
    printf("reindex beside %d probes and %d events published\n", probes, nlate);
}

/* `risinggen check --references`: clean at first; a registration whose
 * person's document is gone, a channel and a resource of an event that
 * does not exist are reported with their ids; an erased person's rows (a tombstone) are
 * not. */
static void check_references_reports_what_points_nowhere(void **state)
{
    (void)state;
    api_user org, kept, gone, erased;
    organizer_signup(&org, "refs");
    user_signup(&kept, "refs1");
    user_signup(&gone, "refs2");
    user_signup(&erased, "refs3");
    long long ev = event_create_published(org.access, NULL);
    register_ok(kept.access, ev, "confirmed");
    register_ok(gone.access, ev, "confirmed");
    register_ok(erased.access, ev, "confirmed");
    api_resp *r = api("DELETE", "/v1/users/me", NULL, erased.access);
    assert_status(r, 204);
    resp_free(r);
    static char out[1 << 14];
    int rc = srv_cli(&g_srv, out, sizeof out, "check", "--references", NULL);
    if (rc != 0)
        fail_msg("check --references exited %d: %s", rc, out);
    assert_non_null(strstr(out, "every reference holds"));
    /* Behind the service's back. */
    rg_app app;
    api_open_stores(&app);
    json_t *doc = NULL;
    assert_int_equal(rg_docs_get(&app.st.docs, COLL_USERS, gone.id, &doc, NULL), 0);
    assert_int_equal(rg_docs_remove(&app.st.docs, COLL_USERS, gone.id), 0);
    const char *ghost = "0123456789abcdef01234567";
    json_t *channel = json_pack("{s:s, s:I, s:s}", "name", "ghost", "eventId",
                                (json_int_t)987654321, "type", "event");
    assert_int_equal(rg_docs_insert(&app.st.docs, COLL_CHANNELS, ghost, channel), 0);
    json_decref(channel);
    json_t *resource = json_pack("{s:s, s:I}", "title", "ghost", "eventId", (json_int_t)987654322);
    assert_int_equal(rg_docs_insert(&app.st.docs, COLL_RESOURCES, ghost, resource), 0);
    json_decref(resource);
    rc = srv_cli(&g_srv, out, sizeof out, "check", "--references", NULL);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "event_registrations.user_id -> users: "));
    assert_non_null(strstr(out, fmt("1 missing, held by 1 (%s (1))", gone.id)));
    assert_non_null(strstr(out, fmt("(%s (event 987654321) (1))", ghost)));
    assert_non_null(strstr(out, "resources.eventId -> events: "));
    assert_non_null(strstr(out, fmt("(%s (event 987654322) (1))", ghost)));
    assert_non_null(strstr(out, "references point nowhere"));
    assert_null(strstr(out, "payments.user_id -> users: 0 checked, 1"));
    /* Put back: the other tests' stores as they were. */
    assert_int_equal(rg_docs_insert(&app.st.docs, COLL_USERS, gone.id, doc), 0);
    json_decref(doc);
    assert_int_equal(rg_docs_remove(&app.st.docs, COLL_CHANNELS, ghost), 0);
    assert_int_equal(rg_docs_remove(&app.st.docs, COLL_RESOURCES, ghost), 0);
    rg_app_close(&app);
    rc = srv_cli(&g_srv, out, sizeof out, "check", "--references", NULL);
    if (rc != 0)
        fail_msg("check --references exited %d after the repair: %s", rc, out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(healthz),
        cmocka_unit_test(readyz),
        cmocka_unit_test(metrics_counts_requests),
        cmocka_unit_test(metrics_cover_api_md),
        cmocka_unit_test(report_indexes_lists_plans),
        cmocka_unit_test(report_search_and_reindex),
        cmocka_unit_test(reindex_keeps_answering),
        cmocka_unit_test(check_references_reports_what_points_nowhere),
        cmocka_unit_test(every_request_has_an_id),
        cmocka_unit_test(jobs_report_their_runs),
        cmocka_unit_test(graceful_shutdown_keeps_data),
    };
    return cmocka_run_group_tests(tests, api_setup, api_teardown);
}
