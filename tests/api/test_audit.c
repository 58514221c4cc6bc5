/* The audit log over HTTP: the actions it records (with actor, target and
 * time) and its paging and filters, for admins only. */
#include "support.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static json_t *audit(const char *query)
{
    api_resp *r = api("GET", fmt("/v1/admin/audit%s", query), NULL, admin_user()->access);
    assert_status(r, 200);
    json_t *j = json_incref(r->json);
    resp_free(r);
    return j;
}

/* The first entry of items with action and targetId, or NULL. */
static json_t *find_entry(json_t *page, const char *action, const char *target)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(page, "items"), i, e)
    {
        if (strcmp(jstr(e, "action"), action) == 0 && jstr(e, "targetId") &&
            strcmp(jstr(e, "targetId"), target) == 0)
            return e;
    }
    return NULL;
}

static void audit_records_actions(void **state)
{
    (void)state;
    api_user org, p1, p2, p3;
    organizer_signup(&org, "aud-org");
    user_signup(&p1, "aud-p1");
    user_signup(&p2, "aud-p2");
    user_signup(&p3, "aud-p3");
    api_user *admin = admin_user();
    long long ev = event_create_published(org.access, NULL);
    long long r1 = register_ok(p1.access, ev, "confirmed");
    long long r2 = register_ok(p2.access, ev, "confirmed");
    long long r3 = register_ok(p3.access, ev, "confirmed");
    api_resp *r = api("POST", fmt("/v1/registrations/%lld/check-in", r1), NULL, org.access);
    assert_status(r, 200);
    resp_free(r);
    r = api("POST", fmt("/v1/registrations/%lld/cancel", r2), "{\"reason\":\"double booked\"}",
            org.access);
    assert_status(r, 200);
    resp_free(r);
    /* A person cancelling their own registration is not an organizer action. */
    r = api("POST", fmt("/v1/registrations/%lld/cancel", r3), NULL, p3.access);
    assert_status(r, 200);
    resp_free(r);
    r = api("PATCH", fmt("/v1/events/%lld", ev), "{\"status\":\"completed\"}", org.access);
    assert_status(r, 200);
    resp_free(r);

    const char *evs = fmt("%lld", ev);
    char ev_s[32], r1_s[32], r2_s[32], r3_s[32];
    snprintf(ev_s, sizeof ev_s, "%s", evs);
    snprintf(r1_s, sizeof r1_s, "%lld", r1);
    snprintf(r2_s, sizeof r2_s, "%lld", r2);
    snprintf(r3_s, sizeof r3_s, "%lld", r3);

    json_t *page = audit(fmt("?actor=%s&limit=100", org.id));
    json_t *e = find_entry(page, "event.publish", ev_s);
    assert_non_null(e);
    assert_str_eq(jstr(e, "actorId"), org.id);
    assert_str_eq(jstr(e, "targetType"), "event");
    assert_str_eq(jstr(e, "details.from"), "draft");
    assert_str_eq(jstr(e, "details.to"), "published");
    assert_true(jstr(e, "occurredAt") && strlen(jstr(e, "occurredAt")) == 20);
    assert_non_null(find_entry(page, "event.complete", ev_s));
    e = find_entry(page, "registration.check_in", r1_s);
    assert_non_null(e);
    assert_int_equal(jint(e, "details.eventId"), ev);
    e = find_entry(page, "registration.cancel", r2_s);
    assert_non_null(e);
    assert_str_eq(jstr(e, "details.userId"), p2.id);
    assert_str_eq(jstr(e, "details.reason"), "double booked");
    assert_null(find_entry(page, "registration.cancel", r3_s));
    /* Every entry of the page is the organizer's, newest first. */
    size_t i;
    json_int_t prev = INT64_MAX;
    json_array_foreach(json_object_get(page, "items"), i, e)
    {
        assert_str_eq(jstr(e, "actorId"), org.id);
        assert_true(jint(e, "id") < prev);
        prev = jint(e, "id");
    }
    json_decref(page);

    /* Role changes by the admin. */
    page = audit(fmt("?action=user.roles&actor=%s&limit=100", admin->id));
    e = find_entry(page, "user.roles", org.id);
    assert_non_null(e);
    assert_str_eq(jstr(e, "details.roles.1"), "organizer");
    assert_str_eq(jstr(e, "details.previous.0"), "participant");
    json_array_foreach(json_object_get(page, "items"), i, e)
        assert_str_eq(jstr(e, "action"), "user.roles");
    json_decref(page);
    /* Cancelling an event. */
    long long ev2 = event_create_published(org.access, NULL);
    r = api("PATCH", fmt("/v1/events/%lld", ev2), "{\"status\":\"cancelled\"}", admin->access);
    assert_status(r, 200);
    resp_free(r);
    page = audit("?action=event.cancel&limit=100");
    e = find_entry(page, "event.cancel", fmt("%lld", ev2));
    assert_non_null(e);
    assert_str_eq(jstr(e, "actorId"), admin->id);
    json_decref(page);
}

static void audit_paging_and_filters(void **state)
{
    (void)state;
    api_user org;
    organizer_signup(&org, "aud-page");
    for (int i = 0; i < 5; i++)
        event_create_published(org.access, NULL);
    /* Keyset pages of 2 walk the organizer's 5 entries exactly once. */
    int seen = 0, pages = 0;
    char cursor[256] = "";
    json_int_t prev = INT64_MAX;
    do {
        json_t *page = audit(cursor[0] ? fmt("?actor=%s&limit=2&cursor=%s", org.id, urlenc(cursor))
                                       : fmt("?actor=%s&limit=2", org.id));
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(page, "items"), i, e)
        {
            assert_true(jint(e, "id") < prev);
            prev = jint(e, "id");
            seen++;
        }
        const char *next = jstr(page, "nextCursor");
        snprintf(cursor, sizeof cursor, "%s", next ? next : "");
        json_decref(page);
        pages++;
    } while (cursor[0] && pages < 10);
    assert_int_equal(seen, 5);
    assert_int_equal(pages, 3);

    /* Time window: everything today, nothing in 2001. */
    char today[16];
    time_t t = time(NULL);
    strftime(today, sizeof today, "%Y-%m-%d", gmtime(&t));
    json_t *page = audit(fmt("?actor=%s&from=%s&to=%s&limit=100", org.id, today, today));
    assert_int_equal(jlen(page, "items"), 5);
    json_decref(page);
    page = audit(fmt("?actor=%s&to=2001-01-01", org.id));
    assert_int_equal(jlen(page, "items"), 0);
    json_decref(page);
    page = audit(fmt("?actor=%s&from=2001-01-01T00:00:00Z", org.id));
    assert_int_equal(jlen(page, "items"), 5);
    json_decref(page);

    /* Bad parameters. */
    const char *bad[] = {
        "?actor=nope", "?action=DROP%20TABLE", "?from=yesterday", "?to=2030-13-01",
        "?limit=0",    "?limit=101",           "?cursor=zzzz",    "?from=2030-01-02&to=2030-01-01"};
    for (size_t i = 0; i < N_ELEMS(bad); i++) {
        api_resp *r = api("GET", fmt("/v1/admin/audit%s", bad[i]), NULL, admin_user()->access);
        assert_problem(r, 400);
        resp_free(r);
    }
    /* Admins only. */
    api_resp *r = api("GET", "/v1/admin/audit", NULL, org.access);
    assert_problem(r, 403);
    resp_free(r);
    r = api("GET", "/v1/admin/audit", NULL, NULL);
    assert_problem(r, 401);
    resp_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(audit_records_actions),
        cmocka_unit_test(audit_paging_and_filters),
    };
    return cmocka_run_group_tests(tests, api_setup, api_teardown);
}
