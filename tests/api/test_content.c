/* Resources, feedback and search over HTTP. */
#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct {
    bool ready;
    api_user org, org2, part, outsider;
    api_user *admin;
    int n;
} F;

static void fixture(void)
{
    if (F.ready)
        return;
    organizer_signup(&F.org, "corg");
    organizer_signup(&F.org2, "corgtwo");
    user_signup(&F.part, "cpart");
    user_signup(&F.outsider, "coutsider");
    F.admin = admin_user();
    F.ready = true;
}

/* A word no other test uses, so that searches see only their own records. */
static const char *unique_word(const char *tag)
{
    static char w[8][64];
    char *b = w[F.n % 8];
    snprintf(b, sizeof w[0], "%s%dx%d", tag, (int)getpid(), ++F.n);
    return b;
}

static api_resp *resource_post(const char *token, json_t *body)
{
    return apij("POST", "/v1/resources", body, token);
}

static void resource_id(api_resp *r, char out[32])
{
    assert_status(r, 201);
    snprintf(out, 32, "%s", jstr(r->json, "id"));
    assert_int_equal(strlen(out), 24);
}

static void resources_crud(void **state)
{
    (void)state;
    fixture();
    api_resp *r = resource_post(
        F.org.access,
        json_pack("{s:s, s:s, s:s, s:s, s:[s, s]}", "title", "Packing list", "description",
                  "What to bring to camp", "type", "document", "url",
                  "https://storage.example.com/files/packing.pdf", "tags", "camp", "kit"));
    char id[32];
    resource_id(r, id);
    assert_str_eq(jstr(r->json, "title"), "Packing list");
    assert_str_eq(jstr(r->json, "createdBy"), F.org.id);
    assert_true(json_is_true(jget(r->json, "isPublic")));
    assert_int_equal(jlen(r->json, "tags"), 2);
    assert_non_null(strstr(r->location, fmt("/v1/resources/%s", id)));
    assert_null(jget(r->json, "schemaVersion"));
    resp_free(r);

    const char *path = fmt("/v1/resources/%s", id);
    const char *readers[] = {NULL, F.part.access, F.org2.access, F.admin->access};
    for (size_t i = 0; i < N_ELEMS(readers); i++) {
        r = api("GET", path, NULL, readers[i]);
        assert_status(r, 200);
        assert_str_eq(jstr(r->json, "id"), id);
        assert_str_eq(jstr(r->json, "url"), "https://storage.example.com/files/packing.pdf");
        resp_free(r);
    }

    /* Who may write. */
    r = resource_post(F.part.access, json_pack("{s:s}", "title", "Mine"));
    assert_problem(r, 403);
    resp_free(r);
    r = resource_post(NULL, json_pack("{s:s}", "title", "Mine"));
    assert_problem(r, 401);
    resp_free(r);
    r = api("PATCH", path, "{\"title\":\"Taken over\"}", F.org2.access);
    assert_problem(r, 403);
    resp_free(r);
    r = api("PATCH", path, "{\"title\":\"Taken over\"}", F.part.access);
    assert_problem(r, 403);
    resp_free(r);
    r = api("PATCH", path, "{\"title\":\"Taken over\"}", NULL);
    assert_problem(r, 401);
    resp_free(r);
    r = api("PATCH", path, "{\"title\":\"Packing list 2\",\"tags\":[\"camp\"]}", F.org.access);
    assert_status(r, 200);
    assert_str_eq(jstr(r->json, "title"), "Packing list 2");
    assert_int_equal(jlen(r->json, "tags"), 1);
    assert_str_eq(jstr(r->json, "description"), "What to bring to camp");
    resp_free(r);
    r = api("PATCH", path, "{\"url\":\"http://insecure.example.com\"}", F.org.access);
    assert_problem(r, 422);
    assert_field_error(r, "url");
    resp_free(r);
    r = api("PATCH", path, "{\"owner\":\"me\"}", F.admin->access);
    assert_problem(r, 422);
    resp_free(r);
    r = api("PATCH", path, "{\"description\":\"Edited by an admin\"}", F.admin->access);
    assert_status(r, 200);
    resp_free(r);

    /* Bad resources. */
    json_t *bad[] = {
        json_pack("{}"),
        json_pack("{s:s}", "title", ""),
        json_pack("{s:s, s:s}", "title", "x", "url", "http://example.org/a"),
        json_pack("{s:s, s:s}", "title", "x", "type", "hologram"),
        json_pack("{s:s, s:s}", "title", "x", "tags", "camp"),
        json_pack("{s:s, s:i}", "title", "x", "eventId", 999999),
        json_pack("{s:s, s:s}", "title", "x", "isPublic", "yes"),
        json_pack("{s:s, s:s}", "title", "x", "colour", "red"),
    };
    for (size_t i = 0; i < N_ELEMS(bad); i++) {
        r = resource_post(F.org.access, bad[i]);
        assert_problem(r, 422);
        resp_free(r);
    }
    /* Linked to another organizer's event: refused. */
    long long ev2 = event_create(F.org2.access, NULL);
    r = resource_post(F.org.access,
                      json_pack("{s:s, s:I}", "title", "x", "eventId", (json_int_t)ev2));
    assert_problem(r, 422);
    assert_field_error(r, "eventId");
    resp_free(r);
    r = resource_post(F.org2.access,
                      json_pack("{s:s, s:I}", "title", "Agenda", "eventId", (json_int_t)ev2));
    assert_status(r, 201);
    assert_int_equal(jint(r->json, "eventId"), ev2);
    resp_free(r);

    /* Private resources: the owner and admins only. */
    r = resource_post(F.org.access, json_pack("{s:s, s:b}", "title", "Staff notes", "isPublic", 0));
    char priv[32];
    resource_id(r, priv);
    resp_free(r);
    const char *ppath = fmt("/v1/resources/%s", priv);
    const char *hidden[] = {NULL, F.part.access, F.org2.access};
    for (size_t i = 0; i < N_ELEMS(hidden); i++) {
        r = api("GET", ppath, NULL, hidden[i]);
        assert_problem(r, 404);
        resp_free(r);
    }
    r = api("GET", ppath, NULL, F.admin->access);
    assert_status(r, 200);
    resp_free(r);

    /* Removal. */
    r = api("DELETE", path, NULL, F.org2.access);
    assert_problem(r, 403);
    resp_free(r);
    r = api("DELETE", path, NULL, F.org.access);
    assert_status(r, 204);
    resp_free(r);
    r = api("GET", path, NULL, F.org.access);
    assert_problem(r, 404);
    resp_free(r);
    r = api("GET", "/v1/resources/not-an-id", NULL, NULL);
    assert_problem(r, 404);
    resp_free(r);
}

/* The hits of GET /v1/search?<query>. */
static api_resp *search(const char *query)
{
    return api("GET", fmt("/v1/search?%s", query), NULL, NULL);
}

static json_t *hit_of(api_resp *r, const char *type)
{
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(r->json, "items"), i, it)
    {
        if (strcmp(json_string_value(json_object_get(it, "type")), type) == 0)
            return it;
    }
    return NULL;
}

/* A resource patched and deleted at the same moment is gone from search
 * whichever runs first. */
static void patch_beside_delete_leaves_no_hit(void **state)
{
    (void)state;
    fixture();
    enum { ROUNDS = 12 };
    for (int round = 0; round < ROUNDS; round++) {
        char word[64];
        snprintf(word, sizeof word, "%s", unique_word("kiwi"));
        api_resp *r = resource_post(F.org.access, json_pack("{s:s}", "title", word));
        char id[32], route[64], body[128];
        resource_id(r, id);
        resp_free(r);
        snprintf(route, sizeof route, "/v1/resources/%s", id);
        snprintf(body, sizeof body, "{\"description\":\"more on %s\"}", word);
        api_req reqs[2] = {
            {.method = "PATCH", .path = route, .body = body, .token = F.org.access},
            {.method = "DELETE", .path = route, .token = F.org.access},
        };
        api_resp *out[2];
        api_parallel(2, reqs, out, 0);
        assert_status2(out[0], 200, 404);
        assert_status(out[1], 204);
        resp_free(out[0]);
        resp_free(out[1]);
        r = search(fmt("q=%s&types=resource", word));
        assert_status(r, 200);
        if (jlen(r->json, "items") != 0)
            fail_msg("round %d: a deleted resource is still found", round);
        resp_free(r);
    }
}

static void search_events_and_resources(void **state)
{
    (void)state;
    fixture();
    const char *w = unique_word("zebra");
    char word[64];
    snprintf(word, sizeof word, "%s", w);
    long long ev = event_create_published(
        F.org.access, json_pack("{s:s, s:s}", "title", fmt("Retreat %s weekend", word),
                                "description", "Hiking and talks"));
    long long draft =
        event_create(F.org.access, json_pack("{s:s}", "title", fmt("Draft %s plans", word)));
    (void)draft;
    api_resp *r = resource_post(F.org.access,
                                json_pack("{s:s, s:s}", "title", fmt("Guide to %s trails", word),
                                          "description", "Maps and tips"));
    char res[32];
    resource_id(r, res);
    resp_free(r);
    r = resource_post(F.org.access,
                      json_pack("{s:s, s:b}", "title", fmt("Private %s", word), "isPublic", 0));
    char priv[32];
    resource_id(r, priv);
    resp_free(r);

    r = search(fmt("q=%s", word));
    assert_status(r, 200);
    assert_int_equal(jlen(r->json, "items"), 2);
    json_t *e = hit_of(r, "event"), *x = hit_of(r, "resource");
    assert_non_null(e);
    assert_non_null(x);
    assert_int_equal(json_integer_value(json_object_get(e, "id")), ev);
    assert_str_eq(json_string_value(json_object_get(x, "id")), res);
    assert_str_eq(json_string_value(json_object_get(e, "title")), fmt("Retreat %s weekend", word));
    assert_str_eq(json_string_value(json_object_get(x, "title")), fmt("Guide to %s trails", word));
    assert_true(json_is_number(json_object_get(e, "score")));
    assert_non_null(strstr(json_string_value(json_object_get(e, "highlight")), "<em>"));
    assert_non_null(strstr(json_string_value(json_object_get(x, "highlight")), "<em>"));
    assert_true(json_is_null(jget(r->json, "nextCursor")));
    resp_free(r);

    r = search(fmt("q=%s&types=resource", word));
    assert_status(r, 200);
    assert_int_equal(jlen(r->json, "items"), 1);
    assert_str_eq(jstr(r->json, "items.0.type"), "resource");
    resp_free(r);
    r = search(fmt("q=%s&types=event", word));
    assert_status(r, 200);
    assert_int_equal(jlen(r->json, "items"), 1);
    assert_str_eq(jstr(r->json, "items.0.type"), "event");
    resp_free(r);
    r = search(fmt("q=%s&types=event,resource&limit=1", word));
    assert_status(r, 200);
    assert_int_equal(jlen(r->json, "items"), 1);
    const char *next = jstr(r->json, "nextCursor");
    assert_non_null(next);
    char cursor[256];
    snprintf(cursor, sizeof cursor, "%s", next);
    resp_free(r);
    r = search(fmt("q=%s&limit=1&cursor=%s", word, urlenc(cursor)));
    assert_status(r, 200);
    assert_int_equal(jlen(r->json, "items"), 1);
    resp_free(r);

    /* Markup in stored text comes back escaped to anonymous searchers. */
    r = resource_post(F.org.access,
                      json_pack("{s:s, s:s}", "title", "Poster", "description",
                                fmt("<img src=x onerror=alert(1)> zq%s </em><b>bold</b>", word)));
    resp_free(r);
    r = search(fmt("q=zq%s", word));
    assert_status(r, 200);
    assert_int_equal(jlen(r->json, "items"), 1);
    const char *hl = jstr(r->json, "items.0.highlight");
    assert_null(strstr(hl, "<img"));
    assert_null(strstr(hl, "<b>"));
    assert_non_null(strstr(hl, "&lt;img src=x onerror=alert(1)&gt;"));
    assert_non_null(strstr(hl, fmt("<em>zq%s</em> &lt;/em&gt;", word)));
    resp_free(r);

    /* Changes reach the search: a renamed resource, an unpublished one. */
    r = api("PATCH", fmt("/v1/resources/%s", res), "{\"isPublic\":false}", F.org.access);
    assert_status(r, 200);
    resp_free(r);
    r = search(fmt("q=%s&types=resource", word));
    assert_status(r, 200);
    assert_int_equal(jlen(r->json, "items"), 0);
    resp_free(r);
    r = api("PATCH", fmt("/v1/resources/%s", res), "{\"isPublic\":true}", F.org.access);
    assert_status(r, 200);
    resp_free(r);
    r = api("DELETE", fmt("/v1/resources/%s", res), NULL, F.admin->access);
    assert_status(r, 204);
    resp_free(r);
    r = search(fmt("q=%s", word));
    assert_status(r, 200);
    assert_int_equal(jlen(r->json, "items"), 1);
    assert_str_eq(jstr(r->json, "items.0.type"), "event");
    resp_free(r);

    /* Bad queries. */
    const char *bad[] = {"",
                         "q=",
                         "q=%20%20",
                         fmt("q=%s&types=venue", word),
                         fmt("q=%s&types=", word),
                         fmt("q=%s&types=event,,resource", word),
                         fmt("q=%s&limit=0", word),
                         fmt("q=%s&cursor=nope", word)};
    for (size_t i = 0; i < N_ELEMS(bad); i++) {
        r = search(bad[i]);
        assert_problem(r, 400);
        resp_free(r);
    }
    /* `risinggen reindex` rebuilds resources' entries too. */
    char out[512] = "";
    assert_int_equal(srv_cli(&g_srv, out, sizeof out, "reindex", NULL), 0);
    assert_non_null(strstr(out, "resources"));
    r = search(fmt("q=%s&types=event", word));
    assert_status(r, 200);
    assert_int_equal(jlen(r->json, "items"), 1);
    resp_free(r);

    /* Signed in or not, the same answer. */
    r = api("GET", fmt("/v1/search?q=%s", word), NULL, F.part.access);
    assert_status(r, 200);
    assert_int_equal(jlen(r->json, "items"), 1);
    resp_free(r);
}

/* A published free event that started an hour ago and ends tomorrow. */
static long long started_event(const char *token, json_t *extra)
{
    char start[32], end[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&(time_t){now - 3600}, &tm);
    strftime(start, sizeof start, "%Y-%m-%dT%H:%M:%SZ", &tm);
    gmtime_r(&(time_t){now + 86400}, &tm);
    strftime(end, sizeof end, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *body = json_pack("{s:s, s:s}", "startDate", start, "endDate", end);
    if (extra) {
        json_object_update(body, extra);
        json_decref(extra);
    }
    return event_create_published(token, body);
}

static api_resp *feedback(long long ev, const char *token, const char *body)
{
    return api("POST", fmt("/v1/events/%lld/feedback", ev), body, token);
}

static void feedback_rules(void **state)
{
    (void)state;
    fixture();
    long long ev = started_event(F.org.access, NULL);
    api_user a;
    user_signup(&a, "cattendee");
    register_ok(a.access, ev, "confirmed");

    /* Bad ratings and comments. */
    const char *bad[] = {"{\"rating\":0}",
                         "{\"rating\":6}",
                         "{\"rating\":4.5}",
                         "{\"rating\":\"5\"}",
                         "{\"rating\":null}",
                         "{}",
                         "{\"rating\":-1}",
                         "{\"rating\":5,\"stars\":5}",
                         "{\"rating\":5,\"comment\":7}"};
    for (size_t i = 0; i < N_ELEMS(bad); i++) {
        api_resp *r = feedback(ev, a.access, bad[i]);
        assert_problem(r, 422);
        resp_free(r);
    }
    char *long_comment = malloc(2100);
    memset(long_comment, 'c', 2001);
    long_comment[2001] = '\0';
    api_resp *r = apij("POST", fmt("/v1/events/%lld/feedback", ev),
                       json_pack("{s:i, s:s}", "rating", 4, "comment", long_comment), a.access);
    assert_problem(r, 422);
    assert_field_error(r, "comment");
    resp_free(r);
    long_comment[2000] = '\0'; /* exactly 2000 is fine */

    r = apij("POST", fmt("/v1/events/%lld/feedback", ev),
             json_pack("{s:i, s:s}", "rating", 5, "comment", long_comment), a.access);
    free(long_comment);
    assert_status(r, 201);
    assert_int_equal(jint(r->json, "rating"), 5);
    assert_int_equal(jint(r->json, "eventId"), ev);
    assert_str_eq(jstr(r->json, "userId"), a.id);
    assert_int_equal(strlen(jstr(r->json, "id")), 24);
    assert_null(jget(r->json, "key"));
    resp_free(r);
    /* Once per person and event. */
    r = feedback(ev, a.access, "{\"rating\":1}");
    assert_problem(r, 409);
    resp_free(r);

    /* Not attendees. */
    r = feedback(ev, F.outsider.access, "{\"rating\":3}");
    assert_problem(r, 403);
    resp_free(r);
    r = feedback(ev, F.org.access, "{\"rating\":5}");
    assert_problem(r, 403);
    resp_free(r);
    r = feedback(ev, NULL, "{\"rating\":3}");
    assert_problem(r, 401);
    resp_free(r);
    api_user c;
    user_signup(&c, "ccancel");
    long long reg = register_ok(c.access, ev, "confirmed");
    r = api("POST", fmt("/v1/registrations/%lld/cancel", reg), "{}", c.access);
    assert_status(r, 200);
    resp_free(r);
    r = feedback(ev, c.access, "{\"rating\":3}");
    assert_problem(r, 403);
    resp_free(r);
    r = feedback(999999, a.access, "{\"rating\":3}");
    assert_problem(r, 404);
    resp_free(r);

    /* Before the event starts: 422. */
    long long future = event_create_published(F.org.access, NULL);
    register_ok(a.access, future, "confirmed");
    r = feedback(future, a.access, "{\"rating\":4}");
    assert_problem(r, 422);
    resp_free(r);

    /* Paid: pending is not enough, a check-in is. */
    long long paid = started_event(
        F.org.access, json_pack("{s:{s:s, s:s}}", "cost", "amount", "10.00", "currency", "GBP"));
    api_user p;
    user_signup(&p, "cpending");
    long long preg = register_ok(p.access, paid, "pending");
    r = feedback(paid, p.access, "{\"rating\":4}");
    assert_problem(r, 403);
    resp_free(r);
    r = api("POST", fmt("/v1/registrations/%lld/check-in", preg), NULL, F.org.access);
    assert_status(r, 200);
    resp_free(r);
    r = feedback(paid, p.access, "{\"rating\":4}");
    assert_status(r, 201);
    resp_free(r);
}

static void feedback_summary_for_owner(void **state)
{
    (void)state;
    fixture();
    long long ev = started_event(F.org.access, NULL);
    enum { N = 5 };
    api_user people[N];
    users_signup_parallel(people, N, "crater");
    const int ratings[N] = {5, 4, 4, 1, 4};
    for (int i = 0; i < N; i++) {
        register_ok(people[i].access, ev, "confirmed");
        api_resp *r = feedback(ev, people[i].access,
                               fmt("{\"rating\":%d,\"comment\":\"r%d\"}", ratings[i], i));
        assert_status(r, 201);
        resp_free(r);
    }
    const char *path = fmt("/v1/events/%lld/feedback", ev);
    api_resp *r = api("GET", path, NULL, F.org.access);
    assert_status(r, 200);
    assert_int_equal(jint(r->json, "summary.count"), 5);
    /* (5+4+4+1+4)/5 = 3.6 */
    json_t *avg = jget(r->json, "summary.average");
    assert_true(json_is_number(avg));
    assert_true(json_number_value(avg) > 3.59 && json_number_value(avg) < 3.61);
    assert_int_equal(jint(r->json, "summary.histogram.1"), 1);
    assert_int_equal(jint(r->json, "summary.histogram.2"), 0);
    assert_int_equal(jint(r->json, "summary.histogram.3"), 0);
    assert_int_equal(jint(r->json, "summary.histogram.4"), 3);
    assert_int_equal(jint(r->json, "summary.histogram.5"), 1);
    assert_int_equal(jlen(r->json, "items"), 5);
    assert_non_null(strstr(r->body, "\"average\":3.6"));
    resp_free(r);

    /* Keyset pages of two: every item once. */
    char seen[N][32];
    int n = 0;
    char cursor[256] = "";
    for (int page = 0; page < 10; page++) {
        r = api("GET",
                cursor[0] ? fmt("%s?limit=2&cursor=%s", path, urlenc(cursor))
                          : fmt("%s?limit=2", path),
                NULL, F.admin->access);
        assert_status(r, 200);
        assert_int_equal(jint(r->json, "summary.count"), 5);
        size_t i;
        json_t *it;
        json_array_foreach(json_object_get(r->json, "items"), i, it)
        {
            const char *id = json_string_value(json_object_get(it, "id"));
            for (int k = 0; k < n; k++)
                assert_true(strcmp(seen[k], id) != 0);
            assert_true(n < N);
            snprintf(seen[n++], 32, "%s", id);
        }
        const char *next = jstr(r->json, "nextCursor");
        snprintf(cursor, sizeof cursor, "%s", next ? next : "");
        resp_free(r);
        if (!cursor[0])
            break;
    }
    assert_int_equal(n, N);

    /* Only the owner and admins read it. */
    const char *others[] = {F.org2.access, people[0].access, F.part.access};
    for (size_t i = 0; i < N_ELEMS(others); i++) {
        r = api("GET", path, NULL, others[i]);
        assert_problem(r, 403);
        resp_free(r);
    }
    r = api("GET", path, NULL, NULL);
    assert_problem(r, 401);
    resp_free(r);
    r = api("GET", fmt("%s?cursor=nope", path), NULL, F.org.access);
    assert_problem(r, 400);
    resp_free(r);

    /* No feedback yet: zero counts, no average. */
    long long quiet = started_event(F.org.access, NULL);
    r = api("GET", fmt("/v1/events/%lld/feedback", quiet), NULL, F.org.access);
    assert_status(r, 200);
    assert_int_equal(jint(r->json, "summary.count"), 0);
    assert_true(json_is_null(jget(r->json, "summary.average")));
    assert_int_equal(jint(r->json, "summary.histogram.5"), 0);
    assert_int_equal(jlen(r->json, "items"), 0);
    resp_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(resources_crud),
        cmocka_unit_test(search_events_and_resources),
        cmocka_unit_test(patch_beside_delete_leaves_no_hit),
        cmocka_unit_test(feedback_rules),
        cmocka_unit_test(feedback_summary_for_owner),
    };
    return cmocka_run_group_tests(tests, api_setup, api_teardown);
}
