/* Venues, events (create, slug, validation, cost, get by id or slug,
 * drafts, patch, times in UTC), statistics and attendees, over HTTP.
 * Discovery (GET /v1/events) is in test_discovery.c. */
#include "support.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Accounts and venues shared by the tests of this program. */
static api_events_fixture F;
static int seq; /* for unique titles and slugs */

static void fixture(void)
{
    events_fixture_make(&F, "ev");
}

static bool contains(const long long *ids, size_t n, long long id)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] == id)
            return true;
    return false;
}

static void venues_create(void **state)
{
    (void)state;
    fixture();
    api_resp *r =
        api("POST", "/v1/venues",
            "{\"name\":\"Town Hall\",\"street\":\"Albert Square\",\"city\":\"Manchester\","
            "\"country\":\"GB\",\"postalCode\":\"M2 5DB\",\"lat\":53.4794,\"lng\":-2.2453,"
            "\"capacity\":1200}",
            F.org.access);
    assert_status(r, 201);
    long long id = jint(r->json, "id");
    assert_true(id > 0);
    assert_str_eq(jstr(r->json, "name"), "Town Hall");
    assert_str_eq(jstr(r->json, "city"), "Manchester");
    assert_str_eq(jstr(r->json, "country"), "GB");
    assert_str_eq(jstr(r->json, "postalCode"), "M2 5DB");
    assert_true(json_is_number(jget(r->json, "lat")));
    assert_float_equal(json_number_value(jget(r->json, "lat")), 53.4794, 1e-6);
    assert_float_equal(json_number_value(jget(r->json, "lng")), -2.2453, 1e-6);
    assert_int_equal(jint(r->json, "capacity"), 1200);
    assert_non_null(strstr(r->location, fmt("/v1/venues/%lld", id)));
    resp_free(r);

    /* Anyone reads it. */
    r = api("GET", fmt("/v1/venues/%lld", id), NULL, NULL);
    assert_status(r, 200);
    assert_int_equal(jint(r->json, "id"), id);
    assert_str_eq(jstr(r->json, "name"), "Town Hall");
    assert_str_eq(jstr(r->json, "street"), "Albert Square");
    resp_free(r);

    /* The admin may create one; a participant may not; anonymous must sign in. */
    const char *ok = "{\"name\":\"Admin Hall\",\"city\":\"Leeds\",\"country\":\"GB\"}";
    r = api("POST", "/v1/venues", ok, F.admin->access);
    assert_status(r, 201);
    resp_free(r);
    r = api("POST", "/v1/venues", ok, F.part.access);
    assert_problem(r, 403);
    resp_free(r);
    r = api("POST", "/v1/venues", ok, NULL);
    assert_problem(r, 401);
    resp_free(r);

    /* Bad input: 422 naming the field. */
    struct {
        const char *body, *field;
    } bad[] = {
        {"{\"name\":\"V\",\"city\":\"X\",\"country\":\"GB\",\"lat\":91,\"lng\":0}", "lat"},
        {"{\"name\":\"V\",\"city\":\"X\",\"country\":\"GB\",\"lat\":-90.5,\"lng\":0}", "lat"},
        {"{\"name\":\"V\",\"city\":\"X\",\"country\":\"GB\",\"lat\":10,\"lng\":181}", "lng"},
        {"{\"name\":\"V\",\"city\":\"X\",\"country\":\"GB\",\"lat\":\"51.5\",\"lng\":0}", "lat"},
        {"{\"name\":\"V\",\"city\":\"X\",\"country\":\"GB\",\"lat\":51.5}", "lng"},
        {"{\"city\":\"X\",\"country\":\"GB\"}", "name"},
        {"{\"name\":\"V\",\"country\":\"GB\"}", "city"},
        {"{\"name\":\"V\",\"city\":\"X\",\"country\":\"GB\",\"capacity\":-3}", "capacity"},
    };
    for (size_t i = 0; i < N_ELEMS(bad); i++) {
        r = api("POST", "/v1/venues", bad[i].body, F.org.access);
        assert_problem(r, 422);
        assert_field_error(r, bad[i].field);
        resp_free(r);
    }

    /* Unknown and malformed ids. */
    const char *missing[] = {"999999", "abc", "0", "-1"};
    for (size_t i = 0; i < N_ELEMS(missing); i++) {
        r = api("GET", fmt("/v1/venues/%s", missing[i]), NULL, NULL);
        assert_problem(r, 404);
        resp_free(r);
    }
}

static void venues_list_by_city(void **state)
{
    (void)state;
    fixture();
    const char *city = fmt("Testville %ld", (long)getpid());
    char cityc[64];
    snprintf(cityc, sizeof cityc, "%s", city);
    long long a = venue_create(F.org.access, "Hall A", cityc, "GB", 52.0, -1.0);
    long long b = venue_create(F.org2.access, "Hall B", cityc, "GB", 52.1, -1.1);
    venue_create(F.org.access, "Hall C", "Elsewhere", "GB", 52.2, -1.2);

    api_resp *r = api("GET", fmt("/v1/venues?city=%s", urlenc(cityc)), NULL, NULL);
    assert_status(r, 200);
    assert_int_equal(jlen(r->json, "items"), 2);
    long long got[2] = {jint(r->json, "items.0.id"), jint(r->json, "items.1.id")};
    assert_true(contains(got, 2, a) && contains(got, 2, b));
    assert_str_eq(jstr(r->json, "items.0.city"), cityc);
    assert_str_eq(jstr(r->json, "items.1.city"), cityc);
    assert_true(json_is_null(jget(r->json, "nextCursor")));
    resp_free(r);

    /* One per page. */
    r = api("GET", fmt("/v1/venues?city=%s&limit=1", urlenc(cityc)), NULL, NULL);
    assert_status(r, 200);
    assert_int_equal(jlen(r->json, "items"), 1);
    long long first = jint(r->json, "items.0.id");
    const char *next = jstr(r->json, "nextCursor");
    assert_non_null(next);
    api_resp *r2 =
        api("GET", fmt("/v1/venues?city=%s&limit=1&cursor=%s", urlenc(cityc), urlenc(next)), NULL,
            NULL);
    assert_status(r2, 200);
    assert_int_equal(jlen(r2->json, "items"), 1);
    long long second = jint(r2->json, "items.0.id");
    assert_true(first != second && contains(got, 2, first) && contains(got, 2, second));
    resp_free(r2);
    resp_free(r);

    r = api("GET", "/v1/venues?limit=0", NULL, NULL);
    assert_problem(r, 400);
    resp_free(r);
    r = api("GET", "/v1/venues?cursor=%21%21%21", NULL, NULL);
    assert_problem(r, 400);
    resp_free(r);
    r = api("GET", fmt("/v1/venues?city=%s", urlenc("Nowhere at all")), NULL, NULL);
    assert_status(r, 200);
    assert_int_equal(jlen(r->json, "items"), 0);
    resp_free(r);
}

static void events_create(void **state)
{
    (void)state;
    fixture();
    char title[80];
    snprintf(title, sizeof title, "Summer Camp %ld %d", (long)getpid(), ++seq);
    char slug[80];
    snprintf(slug, sizeof slug, "summer-camp-%ld-%d", (long)getpid(), seq);
    json_t *body = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:i, s:b}", "title", title,
                             "description", "A week outdoors", "startDate", "2030-07-01T09:00:00Z",
                             "endDate", "2030-07-07T17:00:00Z", "type", "camp", "venueId",
                             (json_int_t)F.london, "maxParticipants", 40, "waitlistEnabled", 1);
    api_resp *r = apij("POST", "/v1/events", body, F.org.access);
    assert_status(r, 201);
    long long id = jint(r->json, "id");
    assert_true(id > 0);
    assert_str_eq(jstr(r->json, "status"), "draft");
    assert_str_eq(jstr(r->json, "slug"), slug);
    assert_str_eq(jstr(r->json, "title"), title);
    assert_str_eq(jstr(r->json, "organizerId"), F.org.id);
    assert_str_eq(jstr(r->json, "startDate"), "2030-07-01T09:00:00Z");
    assert_str_eq(jstr(r->json, "endDate"), "2030-07-07T17:00:00Z");
    assert_int_equal(jint(r->json, "venueId"), F.london);
    assert_int_equal(jint(r->json, "maxParticipants"), 40);
    assert_int_equal(jint(r->json, "spotsLeft"), 40);
    assert_true(json_is_true(jget(r->json, "waitlistEnabled")));
    assert_true(json_is_true(jget(r->json, "isPublic")));
    assert_true(json_is_false(jget(r->json, "isFeatured")));
    assert_true(json_is_null(jget(r->json, "cost")));
    assert_non_null(strstr(r->location, fmt("/v1/events/%lld", id)));
    resp_free(r);

    /* Only organizers and admins. */
    const char *minimal = "{\"title\":\"T\",\"startDate\":\"2030-01-01T10:00:00Z\","
                          "\"endDate\":\"2030-01-01T12:00:00Z\",\"type\":\"talk\"}";
    r = api("POST", "/v1/events", minimal, F.part.access);
    assert_problem(r, 403);
    resp_free(r);
    r = api("POST", "/v1/events", minimal, NULL);
    assert_problem(r, 401);
    resp_free(r);
    r = api("POST", "/v1/events", minimal, F.admin->access);
    assert_status(r, 201);
    assert_str_eq(jstr(r->json, "status"), "draft");
    assert_str_eq(jstr(r->json, "organizerId"), F.admin->id);
    resp_free(r);

    /* Two events with one title get two slugs. */
    r = api("POST", "/v1/events", minimal, F.org.access);
    assert_status(r, 201);
    api_resp *r2 = api("POST", "/v1/events", minimal, F.org.access);
    assert_status(r2, 201);
    assert_true(strcmp(jstr(r->json, "slug"), jstr(r2->json, "slug")) != 0);
    resp_free(r2);
    resp_free(r);
}

static void events_slug_unique(void **state)
{
    (void)state;
    fixture();
    const char *slug = fmt("explicit-slug-%ld-%d", (long)getpid(), ++seq);
    char s[80];
    snprintf(s, sizeof s, "%s", slug);
    long long first = event_create(F.org.access, json_pack("{s:s}", "slug", s));
    api_resp *r = api("GET", fmt("/v1/events/%lld", first), NULL, F.org.access);
    assert_str_eq(jstr(r->json, "slug"), s);
    resp_free(r);

    /* The same slug again, by anyone: 409. */
    const char *body = fmt("{\"title\":\"Other\",\"slug\":\"%s\",\"startDate\":"
                           "\"2030-01-01T10:00:00Z\",\"endDate\":\"2030-01-01T12:00:00Z\","
                           "\"type\":\"talk\"}",
                           s);
    r = api("POST", "/v1/events", body, F.org2.access);
    assert_problem(r, 409);
    assert_field_error(r, "slug");
    resp_free(r);
    /* Renaming another event to it: 409 too. */
    long long second = event_create(F.org.access, NULL);
    r = api("PATCH", fmt("/v1/events/%lld", second), fmt("{\"slug\":\"%s\"}", s), F.org.access);
    assert_problem(r, 409);
    resp_free(r);
    /* Slugs that could not be a slug. */
    const char *bad[] = {"Has Spaces", "UPPER", "12345", "trailing-", "a--b", "'; DROP TABLE x"};
    for (size_t i = 0; i < N_ELEMS(bad); i++) {
        json_t *b = json_pack("{s:s, s:s, s:s, s:s, s:s}", "title", "Slug test", "slug", bad[i],
                              "startDate", "2030-01-01T10:00:00Z", "endDate",
                              "2030-01-01T12:00:00Z", "type", "talk");
        r = apij("POST", "/v1/events", b, F.org.access);
        assert_problem(r, 422);
        assert_field_error(r, "slug");
        resp_free(r);
    }
}

static void events_create_validation(void **state)
{
    (void)state;
    fixture();
    struct {
        const char *extra; /* fields added to a valid body */
        const char *field;
    } cases[] = {
        {"\"startDate\":\"2030-05-02T10:00:00Z\",\"endDate\":\"2030-05-01T10:00:00Z\"", "endDate"},
        {"\"startDate\":\"2030-13-01T10:00:00Z\"", "startDate"},
        {"\"startDate\":\"tomorrow\"", "startDate"},
        {"\"cost\":{\"amount\":25.0,\"currency\":\"GBP\"}", "cost"},
        {"\"cost\":{\"amount\":25,\"currency\":\"GBP\"}", "cost"},
        {"\"cost\":{\"amount\":\"25.001\",\"currency\":\"GBP\"}", "cost"},
        {"\"cost\":{\"amount\":\"abc\",\"currency\":\"GBP\"}", "cost"},
        {"\"cost\":{\"amount\":\"25.00\",\"currency\":\"pounds\"}", "cost"},
        {"\"cost\":25.5", "cost"},
        {"\"maxParticipants\":-1", "maxParticipants"},
        {"\"maxParticipants\":2.5", "maxParticipants"},
        {"\"venueId\":999999", "venueId"},
        {"\"isPublic\":\"yes\"", "isPublic"},
        {"\"registrationDeadline\":\"2030-09-01T00:00:00Z\"", "registrationDeadline"},
        {"\"title\":\"\"", "title"},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        json_t *base = json_loads("{\"title\":\"Valid\",\"startDate\":\"2030-05-01T10:00:00Z\","
                                  "\"endDate\":\"2030-05-03T10:00:00Z\",\"type\":\"talk\"}",
                                  0, NULL);
        json_t *extra = json_loads(fmt("{%s}", cases[i].extra), 0, NULL);
        assert_non_null(extra);
        json_object_update(base, extra);
        json_decref(extra);
        api_resp *r = apij("POST", "/v1/events", base, F.org.access);
        assert_problem(r, 422);
        assert_field_error(r, cases[i].field);
        resp_free(r);
    }
    const char *missing[][2] = {
        {"{\"startDate\":\"2030-05-01T10:00:00Z\",\"endDate\":\"2030-05-03T10:00:00Z\","
         "\"type\":\"talk\"}",
         "title"},
        {"{\"title\":\"T\",\"endDate\":\"2030-05-03T10:00:00Z\",\"type\":\"talk\"}", "startDate"},
    };
    for (size_t i = 0; i < N_ELEMS(missing); i++) {
        api_resp *r = api("POST", "/v1/events", missing[i][0], F.org.access);
        assert_problem(r, 422);
        assert_field_error(r, missing[i][1]);
        resp_free(r);
    }
}

static void events_cost_round_trip(void **state)
{
    (void)state;
    fixture();
    const char *costs[][2] = {{"25.00", "GBP"}, {"0.50", "EUR"}, {"1234.99", "USD"}};
    for (size_t i = 0; i < N_ELEMS(costs); i++) {
        long long id = event_create(F.org.access, json_pack("{s:{s:s, s:s}}", "cost", "amount",
                                                            costs[i][0], "currency", costs[i][1]));
        json_t *want = json_pack("{s:s, s:s}", "amount", costs[i][0], "currency", costs[i][1]);
        api_resp *r = api("GET", fmt("/v1/events/%lld", id), NULL, F.org.access);
        assert_status(r, 200);
        if (!json_equal(jget(r->json, "cost"), want)) {
            print_error("cost is %s\n", r->body);
            fail_msg("cost {\"amount\":\"%s\",\"currency\":\"%s\"} did not round-trip", costs[i][0],
                     costs[i][1]);
        }
        assert_true(json_is_string(jget(r->json, "cost.amount")));
        /* And after publishing, to anyone. */
        event_publish(F.org.access, id);
        resp_free(r);
        r = api("GET", fmt("/v1/events/%lld", id), NULL, NULL);
        assert_status(r, 200);
        assert_true(json_equal(jget(r->json, "cost"), want));
        resp_free(r);
        json_decref(want);
    }
}

static void events_get_by_id_and_slug(void **state)
{
    (void)state;
    fixture();
    long long id = event_create_published(
        F.org.access, json_pack("{s:I, s:i, s:s}", "venueId", (json_int_t)F.london,
                                "maxParticipants", 12, "description", "All welcome"));
    api_resp *r = api("GET", fmt("/v1/events/%lld", id), NULL, NULL);
    assert_status(r, 200);
    static const char *const fields[] = {"id",
                                         "title",
                                         "slug",
                                         "description",
                                         "startDate",
                                         "endDate",
                                         "registrationDeadline",
                                         "venueId",
                                         "organizerId",
                                         "maxParticipants",
                                         "status",
                                         "type",
                                         "isFeatured",
                                         "isPublic",
                                         "cost",
                                         "waitlistEnabled",
                                         "minAge",
                                         "guardianConsentUnder",
                                         "createdAt",
                                         "updatedAt",
                                         "spotsLeft"};
    for (size_t i = 0; i < N_ELEMS(fields); i++)
        if (!json_object_get(r->json, fields[i]))
            fail_msg("the event has no \"%s\": %s", fields[i], r->body);
    assert_int_equal(jint(r->json, "id"), id);
    assert_str_eq(jstr(r->json, "status"), "published");
    assert_int_equal(jint(r->json, "spotsLeft"), 12);
    char slug[256];
    snprintf(slug, sizeof slug, "%s", jstr(r->json, "slug"));
    resp_free(r);

    r = api("GET", fmt("/v1/events/%s", slug), NULL, NULL);
    assert_status(r, 200);
    assert_int_equal(jint(r->json, "id"), id);
    assert_int_equal(jint(r->json, "spotsLeft"), 12);
    resp_free(r);
    r = api("GET", fmt("/v1/events/%s", slug), NULL, F.part.access);
    assert_status(r, 200);
    resp_free(r);

    const char *missing[] = {"999999", "no-such-event-slug", "0"};
    for (size_t i = 0; i < N_ELEMS(missing); i++) {
        r = api("GET", fmt("/v1/events/%s", missing[i]), NULL, NULL);
        assert_problem(r, 404);
        resp_free(r);
    }
}

static void events_drafts_hidden(void **state)
{
    (void)state;
    fixture();
    long long draft = event_create(F.org.access, NULL);
    api_resp *r = api("GET", fmt("/v1/events/%lld", draft), NULL, F.org.access);
    assert_status(r, 200);
    char slug[256];
    snprintf(slug, sizeof slug, "%s", jstr(r->json, "slug"));
    resp_free(r);

    const char *others[] = {NULL, F.part.access, F.org2.access};
    for (size_t i = 0; i < N_ELEMS(others); i++) {
        r = api("GET", fmt("/v1/events/%lld", draft), NULL, others[i]);
        assert_problem(r, 404);
        resp_free(r);
        r = api("GET", fmt("/v1/events/%s", slug), NULL, others[i]);
        assert_problem(r, 404);
        resp_free(r);
    }
    r = api("GET", fmt("/v1/events/%lld", draft), NULL, F.admin->access);
    assert_status(r, 200);
    assert_str_eq(jstr(r->json, "status"), "draft");
    resp_free(r);
    r = api("GET", fmt("/v1/events/%s", slug), NULL, F.org.access);
    assert_status(r, 200);
    resp_free(r);

    /* A published but not public event is hidden the same way. */
    long long priv = event_create_published(F.org.access, json_pack("{s:b}", "isPublic", 0));
    for (size_t i = 0; i < N_ELEMS(others); i++) {
        r = api("GET", fmt("/v1/events/%lld", priv), NULL, others[i]);
        assert_problem(r, 404);
        resp_free(r);
    }
    r = api("GET", fmt("/v1/events/%lld", priv), NULL, F.org.access);
    assert_status(r, 200);
    resp_free(r);
    /* Asking the owner first (which may warm a cache) changes nothing. */
    r = api("GET", fmt("/v1/events/%lld", draft), NULL, F.part.access);
    assert_problem(r, 404);
    resp_free(r);
}

static void events_patch(void **state)
{
    (void)state;
    fixture();
    long long id = event_create(F.org.access, NULL);
    const char *path = fmt("/v1/events/%lld", id);
    char p[64];
    snprintf(p, sizeof p, "%s", path);

    /* On a draft, others cannot even see it. */
    api_resp *r = api("PATCH", p, "{\"title\":\"Hijack\"}", F.org2.access);
    assert_status2(r, 403, 404);
    assert_problem(r, r->status);
    resp_free(r);

    /* The owner edits and publishes. */
    r = api("PATCH", p, "{\"title\":\"Renamed\",\"maxParticipants\":30}", F.org.access);
    assert_status(r, 200);
    assert_str_eq(jstr(r->json, "title"), "Renamed");
    assert_int_equal(jint(r->json, "maxParticipants"), 30);
    assert_str_eq(jstr(r->json, "status"), "draft");
    resp_free(r);
    r = api("PATCH", p, "{\"status\":\"published\"}", F.org.access);
    assert_status(r, 200);
    assert_str_eq(jstr(r->json, "status"), "published");
    assert_str_eq(jstr(r->json, "title"), "Renamed");
    resp_free(r);
    r = api("GET", p, NULL, NULL);
    assert_status(r, 200);
    assert_str_eq(jstr(r->json, "status"), "published");
    assert_str_eq(jstr(r->json, "title"), "Renamed");
    resp_free(r);

    /* Another organizer: 403; a participant: 403 (or 404); anonymous: 401. */
    r = api("PATCH", p, "{\"title\":\"Hijack\"}", F.org2.access);
    assert_problem(r, 403);
    resp_free(r);
    r = api("PATCH", p, "{\"title\":\"Hijack\"}", F.part.access);
    assert_status2(r, 403, 404);
    assert_problem(r, r->status);
    resp_free(r);
    r = api("PATCH", p, "{\"title\":\"Hijack\"}", NULL);
    assert_problem(r, 401);
    resp_free(r);

    /* published -> draft is not a transition; bad fields are 422. */
    struct {
        const char *body, *field;
    } bad[] = {
        {"{\"status\":\"draft\"}", "status"},
        {"{\"status\":\"archived\"}", "status"},
        {"{\"endDate\":\"2020-01-01T00:00:00Z\"}", "endDate"},
        {"{\"organizerId\":\"0123456789abcdef01234567\"}", "organizerId"},
        {"{\"spotsLeft\":1000}", "spotsLeft"},
        {"{\"maxParticipants\":\"ten\"}", "maxParticipants"},
    };
    for (size_t i = 0; i < N_ELEMS(bad); i++) {
        r = api("PATCH", p, bad[i].body, F.org.access);
        assert_problem(r, 422);
        assert_field_error(r, bad[i].field);
        resp_free(r);
    }
    r = api("GET", p, NULL, NULL);
    assert_str_eq(jstr(r->json, "title"), "Renamed");
    assert_str_eq(jstr(r->json, "status"), "published");
    assert_str_eq(jstr(r->json, "organizerId"), F.org.id);
    resp_free(r);

    /* The admin may edit anyone's event, and cancel it; cancelled is final. */
    r = api("PATCH", p, "{\"title\":\"By admin\"}", F.admin->access);
    assert_status(r, 200);
    assert_str_eq(jstr(r->json, "title"), "By admin");
    resp_free(r);
    r = api("PATCH", p, "{\"status\":\"cancelled\"}", F.org.access);
    assert_status(r, 200);
    assert_str_eq(jstr(r->json, "status"), "cancelled");
    resp_free(r);
    r = api("PATCH", p, "{\"status\":\"published\"}", F.org.access);
    assert_problem(r, 422);
    assert_field_error(r, "status");
    resp_free(r);

    r = api("PATCH", "/v1/events/999999", "{\"title\":\"X\"}", F.org.access);
    assert_problem(r, 404);
    resp_free(r);
}

static void events_times_in_utc(void **state)
{
    (void)state;
    fixture();
    /* Times with an offset are the same instants, given back in UTC. */
    long long id = event_create(
        F.org.access, json_pack("{s:s, s:s, s:s}", "startDate", "2030-06-01T12:00:00+02:00",
                                "endDate", "2030-06-01T18:30:00-01:00", "registrationDeadline",
                                "2030-05-31T23:00:00-01:00"));
    api_resp *r = api("GET", fmt("/v1/events/%lld", id), NULL, F.org.access);
    assert_status(r, 200);
    assert_str_eq(jstr(r->json, "startDate"), "2030-06-01T10:00:00Z");
    assert_str_eq(jstr(r->json, "endDate"), "2030-06-01T19:30:00Z");
    assert_str_eq(jstr(r->json, "registrationDeadline"), "2030-06-01T00:00:00Z");
    const char *created = jstr(r->json, "createdAt");
    assert_non_null(created);
    assert_int_equal(strlen(created), 20);
    assert_true(created[10] == 'T' && created[19] == 'Z');
    resp_free(r);
    /* An end before the start once offsets are applied. */
    r = api("POST", "/v1/events",
            "{\"title\":\"Offsets\",\"type\":\"talk\",\"startDate\":\"2030-06-01T10:00:00Z\","
            "\"endDate\":\"2030-06-01T11:00:00+02:00\"}",
            F.org.access);
    assert_problem(r, 422);
    assert_field_error(r, "endDate");
    resp_free(r);
}

static void stats_and_attendees(void **state)
{
    (void)state;
    fixture();
    api_user a, b;
    user_signup(&a, "attendee");
    user_signup(&b, "attendeeb");
    long long id = event_create_published(F.org.access, json_pack("{s:i}", "maxParticipants", 10));
    register_ok(a.access, id, "confirmed");
    long long rb = register_ok(b.access, id, "confirmed");
    api_resp *r = api("POST", fmt("/v1/registrations/%lld/cancel", rb), NULL, b.access);
    assert_status(r, 200);
    resp_free(r);

    const char *stats = fmt("/v1/events/%lld/stats", id);
    char sp[64];
    snprintf(sp, sizeof sp, "%s", stats);
    const char *managers[] = {F.org.access, F.admin->access};
    for (size_t i = 0; i < N_ELEMS(managers); i++) {
        r = api("GET", sp, NULL, managers[i]);
        assert_status(r, 200);
        assert_int_equal(jint(r->json, "maxParticipants"), 10);
        assert_int_equal(jint(r->json, "confirmed"), 1);
        assert_int_equal(jint(r->json, "pending"), 0);
        assert_int_equal(jint(r->json, "waitlisted"), 0);
        assert_int_equal(jint(r->json, "cancelled"), 1);
        assert_int_equal(jint(r->json, "checkedIn"), 0);
        assert_int_equal(jint(r->json, "spotsLeft"), 9);
        resp_free(r);
    }
    r = api("GET", sp, NULL, F.org2.access);
    assert_problem(r, 403);
    resp_free(r);
    r = api("GET", sp, NULL, a.access);
    assert_status2(r, 403, 404);
    assert_problem(r, r->status);
    resp_free(r);
    r = api("GET", sp, NULL, NULL);
    assert_problem(r, 401);
    resp_free(r);
    r = api("GET", "/v1/events/999999/stats", NULL, F.org.access);
    assert_problem(r, 404);
    resp_free(r);

    /* Attendees as JSON. */
    const char *att = fmt("/v1/events/%lld/attendees", id);
    char ap[64];
    snprintf(ap, sizeof ap, "%s", att);
    r = api("GET", ap, NULL, F.org.access);
    assert_status(r, 200);
    assert_int_equal(jlen(r->json, "items"), 2);
    bool found = false;
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(r->json, "items"), i, it)
    {
        if (strcmp(jstr(it, "userId"), a.id) == 0) {
            found = true;
            assert_str_eq(jstr(it, "status"), "confirmed");
            assert_str_eq(jstr(it, "attendee.firstName"), "Test");
            assert_str_eq(jstr(it, "attendee.lastName"), "attendee");
            assert_true(json_is_false(jget(it, "checkedIn")));
        }
    }
    assert_true(found);
    resp_free(r);
    r = api("GET", fmt("%s?status=confirmed", ap), NULL, F.admin->access);
    assert_status(r, 200);
    assert_int_equal(jlen(r->json, "items"), 1);
    assert_str_eq(jstr(r->json, "items.0.userId"), a.id);
    resp_free(r);
    r = api("GET", fmt("%s?status=cancelled", ap), NULL, F.org.access);
    assert_int_equal(jlen(r->json, "items"), 1);
    assert_str_eq(jstr(r->json, "items.0.userId"), b.id);
    resp_free(r);
    r = api("GET", fmt("%s?checkedIn=true", ap), NULL, F.org.access);
    assert_status(r, 200);
    assert_int_equal(jlen(r->json, "items"), 0);
    resp_free(r);
    r = api("GET", fmt("%s?status=bogus", ap), NULL, F.org.access);
    assert_problem(r, 400);
    resp_free(r);

    /* Attendees as CSV: a header line, then one line per registration. */
    const char *csv_hdr[] = {"Accept: text/csv", NULL};
    api_req rq = {.method = "GET", .path = ap, .token = F.org.access, .headers = csv_hdr};
    r = api_do(&rq);
    assert_status(r, 200);
    assert_true(strncmp(r->content_type, "text/csv", 8) == 0);
    const char *eol = strchr(r->body, '\n');
    assert_non_null(eol);
    char header[512];
    snprintf(header, sizeof header, "%.*s", (int)(eol - r->body), r->body);
    assert_non_null(strstr(header, "status"));
    assert_non_null(strchr(header, ','));
    assert_null(strstr(header, a.email)); /* the first line is a header, not data */
    assert_non_null(strstr(r->body, a.email));
    assert_non_null(strstr(r->body, b.email));
    int lines = 0;
    for (const char *p = r->body; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 3);
    resp_free(r);
    const char *others[] = {F.org2.access, a.access};
    for (size_t k = 0; k < N_ELEMS(others); k++) {
        rq.token = others[k];
        r = api_do(&rq);
        assert_status2(r, 403, 404);
        assert_problem(r, r->status);
        resp_free(r);
        r = api("GET", ap, NULL, others[k]);
        assert_status2(r, 403, 404);
        assert_problem(r, r->status);
        resp_free(r);
    }
    rq.token = NULL;
    r = api_do(&rq);
    assert_problem(r, 401);
    resp_free(r);
}

/* A draft or a private event answers every route exactly as an id that
 * does not exist, for anyone who may not see it: the same status, type and
 * detail, so that nobody learns which ids are taken. */
static void hidden_events_answer_like_missing_ones(void **state)
{
    (void)state;
    fixture();
    api_user other;
    user_signup(&other, "prober");
    long long draft = event_create(F.org.access, NULL);
    long long priv = event_create_published(F.org.access, json_pack("{s:b}", "isPublic", 0));
    long long missing = priv + 100000;
    static const struct {
        const char *method, *path, *body;
    } routes[] = {
        {"GET", "/v1/events/%lld", NULL},
        {"PATCH", "/v1/events/%lld", "{\"title\":\"x\"}"},
        {"GET", "/v1/events/%lld/attendees", NULL},
        {"GET", "/v1/events/%lld/stats", NULL},
        {"GET", "/v1/events/%lld/finance", NULL},
        {"GET", "/v1/events/%lld/channel", NULL},
        {"GET", "/v1/events/%lld/feedback", NULL},
        {"POST", "/v1/events/%lld/feedback", "{\"rating\":5}"},
        {"POST", "/v1/events/%lld/registrations", "{}"},
    };
    const char *tokens[] = {other.access, NULL};
    for (size_t t = 0; t < N_ELEMS(tokens); t++)
        for (size_t i = 0; i < N_ELEMS(routes); i++) {
            long long ids[] = {missing, draft, priv};
            char want[512] = "";
            for (size_t k = 0; k < N_ELEMS(ids); k++) {
                api_resp *r =
                    api(routes[i].method, fmt(routes[i].path, ids[k]), routes[i].body, tokens[t]);
                if (r->status == 401) { /* anonymous where sign-in is needed: says nothing */
                    resp_free(r);
                    continue;
                }
                char got[512];
                snprintf(got, sizeof got, "%ld %s %s", r->status, jstr(r->json, "type"),
                         jstr(r->json, "detail"));
                if (k == 0)
                    snprintf(want, sizeof want, "%s", got);
                else if (strcmp(want, got) != 0)
                    fail_msg("%s %s: a %s event answers \"%s\", a missing one \"%s\"",
                             routes[i].method, routes[i].path, k == 1 ? "draft" : "private", got,
                             want);
                resp_free(r);
            }
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(venues_create),
        cmocka_unit_test(venues_list_by_city),
        cmocka_unit_test(events_create),
        cmocka_unit_test(events_slug_unique),
        cmocka_unit_test(events_create_validation),
        cmocka_unit_test(events_cost_round_trip),
        cmocka_unit_test(events_get_by_id_and_slug),
        cmocka_unit_test(events_drafts_hidden),
        cmocka_unit_test(events_patch),
        cmocka_unit_test(events_times_in_utc),
        cmocka_unit_test(stats_and_attendees),
        cmocka_unit_test(hidden_events_answer_like_missing_ones),
    };
    return cmocka_run_group_tests(tests, api_setup, api_teardown);
}
