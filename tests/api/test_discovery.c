/* Discovery over HTTP (GET /v1/events): only published public events, by
 * place, dates, free spots, featured and text, limits, keyset pages, and
 * answers that follow writes at once. */
#include "support.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Accounts and venues shared by the tests of this program. */
static api_events_fixture F;
static int seq; /* for unique discovery types */

static void fixture(void)
{
    events_fixture_make(&F, "disc");
}

/* A unique discovery type, so that each test sees only its own events. */
static const char *unique_type(const char *tag)
{
    return fmt("%s-%ld-%d", tag, (long)getpid(), ++seq);
}

/* All ids of GET /v1/events?<query>, following nextCursor (limit 100). */
static size_t list_ids(const char *query, long long *ids, size_t cap)
{
    size_t n = 0;
    char cursor[512] = "";
    for (int page = 0; page < 50; page++) {
        const char *path = cursor[0]
                               ? fmt("/v1/events?%s&limit=100&cursor=%s", query, urlenc(cursor))
                               : fmt("/v1/events?%s&limit=100", query);
        api_resp *r = api("GET", path, NULL, NULL);
        assert_status(r, 200);
        json_t *items = json_object_get(r->json, "items");
        assert_true(json_is_array(items));
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it)
        {
            if (n < cap)
                ids[n] = json_integer_value(json_object_get(it, "id"));
            n++;
        }
        const char *next = jstr(r->json, "nextCursor");
        snprintf(cursor, sizeof cursor, "%s", next ? next : "");
        resp_free(r);
        if (!cursor[0])
            break;
    }
    return n;
}

static bool contains(const long long *ids, size_t n, long long id)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] == id)
            return true;
    return false;
}

/* The discovery answer for query is exactly the given ids (in any order). */
#define assert_lists(query, ...)                                                                   \
    do {                                                                                           \
        long long want_[] = {__VA_ARGS__};                                                         \
        assert_lists_((query), want_, N_ELEMS(want_), __FILE__, __LINE__);                         \
    } while (0)
#define assert_lists_none(query) assert_lists_((query), NULL, 0, __FILE__, __LINE__)

static void assert_lists_(const char *query, const long long *want, size_t nwant, const char *file,
                          int line)
{
    long long got[64];
    size_t n = list_ids(query, got, N_ELEMS(got));
    bool ok = n == nwant;
    for (size_t i = 0; ok && i < nwant; i++)
        ok = contains(got, n, want[i]);
    if (!ok) {
        char g[512] = "", w[512] = "";
        for (size_t i = 0; i < n && i < 64; i++)
            snprintf(g + strlen(g), sizeof g - strlen(g), " %lld", got[i]);
        for (size_t i = 0; i < nwant; i++)
            snprintf(w + strlen(w), sizeof w - strlen(w), " %lld", want[i]);
        print_error("%s:%d: GET /v1/events?%s gave [%s ], expected [%s ]\n", file, line, query, g,
                    w);
        _fail(file, line);
    }
}

static void discovery_published_public_only(void **state)
{
    (void)state;
    fixture();
    char type[64];
    snprintf(type, sizeof type, "%s", unique_type("only"));
    json_t *t = json_pack("{s:s}", "type", type);
    event_create(F.org.access, json_deep_copy(t)); /* draft */
    long long pub = event_create_published(F.org.access, json_deep_copy(t));
    json_t *priv = json_deep_copy(t);
    json_object_set_new(priv, "isPublic", json_false());
    event_create_published(F.org.access, priv);
    long long cancelled = event_create_published(F.org2.access, json_deep_copy(t));
    api_resp *r = api("PATCH", fmt("/v1/events/%lld", cancelled), "{\"status\":\"cancelled\"}",
                      F.org2.access);
    assert_status(r, 200);
    resp_free(r);
    long long pub2 = event_create_published(F.org2.access, json_deep_copy(t));
    json_decref(t);

    assert_lists(fmt("type=%s", type), pub, pub2);
    /* Signed in as the owner or the admin, discovery is still public-only. */
    api_req rq = {
        .method = "GET", .path = fmt("/v1/events?type=%s", type), .token = F.admin->access};
    r = api_do(&rq);
    assert_status(r, 200);
    assert_int_equal(jlen(r->json, "items"), 2);
    for (size_t i = 0; i < 2; i++) {
        json_t *it = json_array_get(json_object_get(r->json, "items"), i);
        assert_str_eq(jstr(it, "status"), "published");
        assert_true(json_is_true(jget(it, "isPublic")));
        assert_true(json_object_get(it, "spotsLeft") != NULL);
    }
    resp_free(r);
}

static void discovery_place(void **state)
{
    (void)state;
    fixture();
    char type[64];
    snprintf(type, sizeof type, "%s", unique_type("geo"));
    long long lon = event_create_published(
        F.org.access, json_pack("{s:s, s:I}", "type", type, "venueId", (json_int_t)F.london));
    long long man = event_create_published(
        F.org.access, json_pack("{s:s, s:I}", "type", type, "venueId", (json_int_t)F.manchester));
    long long par = event_create_published(
        F.org.access, json_pack("{s:s, s:I}", "type", type, "venueId", (json_int_t)F.paris));
    long long nowhere = event_create_published(F.org.access, json_pack("{s:s}", "type", type));

    assert_lists(fmt("type=%s", type), lon, man, par, nowhere);
    assert_lists(fmt("type=%s&city=Manchester", type), man);
    assert_lists(fmt("type=%s&city=London", type), lon);
    assert_lists(fmt("type=%s&country=FR", type), par);
    assert_lists(fmt("type=%s&country=GB", type), lon, man);
    assert_lists_none(fmt("type=%s&city=Atlantis", type));
    /* 50 km around London finds London only; 300 km adds Manchester (about
     * 262 km) but not Paris (about 344 km). */
    assert_lists(fmt("type=%s&near=51.5074,-0.1278&radiusKm=50", type), lon);
    assert_lists(fmt("type=%s&near=51.5074,-0.1278&radiusKm=300", type), lon, man);
    assert_lists(fmt("type=%s&near=53.4808,-2.2426&radiusKm=10", type), man);
    assert_lists(fmt("type=%s&near=48.8566,2.3522&radiusKm=25&country=FR", type), par);
    assert_lists_none(fmt("type=%s&near=0,0&radiusKm=100", type));

    const char *bad[] = {"near=abc&radiusKm=5",         "near=91,0&radiusKm=5",
                         "near=51.5&radiusKm=5",        "near=51.5,-0.1&radiusKm=-5",
                         "near=51.5,-0.1&radiusKm=abc", "radiusKm=10"};
    for (size_t i = 0; i < N_ELEMS(bad); i++) {
        api_resp *r = api("GET", fmt("/v1/events?type=%s&%s", type, bad[i]), NULL, NULL);
        assert_problem(r, 400);
        resp_free(r);
    }
}

/* Circles that a latitude/longitude box gets wrong when taken naively:
 * across the antimeridian, around a pole, and wide at a high latitude
 * (where the longitudes a circle reaches are more than radius / cos(lat)
 * degrees away). Nearest first with sort=distance, each item with its
 * distance. */
static void discovery_around_the_globe(void **state)
{
    (void)state;
    fixture();
    char type[64];
    snprintf(type, sizeof type, "%s", unique_type("globe"));
    struct {
        const char *city;
        double lat, lng;
        long long event;
    } at[] = {
        {"Suva East", -17.80, 179.95, 0}, {"Suva West", -17.80, -179.95, 0},
        {"Polar A", 89.60, 0.0, 0},       {"Polar B", 89.60, 180.0, 0},
        {"North A", 70.0, 0.0, 0},        {"North B", 72.1, 27.2, 0},
    };
    for (size_t i = 0; i < N_ELEMS(at); i++) {
        long long venue =
            venue_create(F.org.access, at[i].city, at[i].city, "XX", at[i].lat, at[i].lng);
        at[i].event = event_create_published(
            F.org.access, json_pack("{s:s, s:I}", "type", type, "venueId", (json_int_t)venue));
    }
    /* About 10.6 km apart, on either side of the antimeridian. */
    assert_lists(fmt("type=%s&near=-17.8,179.99&radiusKm=20", type), at[0].event, at[1].event);
    assert_lists(fmt("type=%s&near=-17.8,-179.99&radiusKm=20", type), at[0].event, at[1].event);
    /* About 89 km apart, across the North Pole. */
    assert_lists(fmt("type=%s&near=89.9,90&radiusKm=60", type), at[2].event, at[3].event);
    assert_lists(fmt("type=%s&near=89.6,0&radiusKm=100", type), at[2].event, at[3].event);
    /* 1,000.1 km apart, 27.2 degrees of longitude: more than the 26.6 of
     * 1010 / (111 × cos 70°), fewer than the circle's 27.5 (at 72.1°). */
    assert_lists(fmt("type=%s&near=70,0&radiusKm=1010", type), at[4].event, at[5].event);
    assert_lists(fmt("type=%s&near=70,0&radiusKm=990", type), at[4].event);

    /* Nearest first, with the distance of each, through the pages. */
    const char *path = fmt("/v1/events?type=%s&near=-17.8,179.96&radiusKm=20000&sort=distance"
                           "&limit=1",
                           type);
    char cursor[512] = "";
    double last = -1;
    size_t n = 0;
    long long order[N_ELEMS(at)];
    for (;;) {
        api_resp *r =
            api("GET", cursor[0] ? fmt("%s&cursor=%s", path, urlenc(cursor)) : path, NULL, NULL);
        assert_status(r, 200);
        json_t *items = json_object_get(r->json, "items");
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it)
        {
            double km = json_number_value(json_object_get(it, "distanceKm"));
            assert_true(json_is_number(json_object_get(it, "distanceKm")));
            assert_true(km >= last);
            last = km;
            assert_true(n < N_ELEMS(at));
            order[n++] = jint(it, "id");
        }
        const char *next = jstr(r->json, "nextCursor");
        snprintf(cursor, sizeof cursor, "%s", next ? next : "");
        resp_free(r);
        if (!cursor[0])
            break;
    }
    assert_int_equal(n, N_ELEMS(at));
    assert_int_equal(order[0], at[0].event); /* 1.06 km */
    assert_int_equal(order[1], at[1].event); /* 9.5 km, across the antimeridian */
    /* Without near there is no distance to sort by; a date cursor is not a
     * distance cursor. */
    api_resp *r = api("GET", fmt("/v1/events?type=%s&sort=distance", type), NULL, NULL);
    assert_problem(r, 400);
    resp_free(r);
    r = api("GET", fmt("/v1/events?type=%s&limit=1", type), NULL, NULL);
    assert_status(r, 200);
    assert_null(
        json_object_get(json_array_get(json_object_get(r->json, "items"), 0), "distanceKm"));
    char date_cursor[512];
    snprintf(date_cursor, sizeof date_cursor, "%s", jstr(r->json, "nextCursor"));
    resp_free(r);
    r = api("GET", fmt("%s&cursor=%s", path, urlenc(date_cursor)), NULL, NULL);
    assert_problem(r, 400);
    resp_free(r);
}

static void discovery_dates(void **state)
{
    (void)state;
    fixture();
    char type[64];
    snprintf(type, sizeof type, "%s", unique_type("dates"));
    long long e1 = event_create_published(
        F.org.access, json_pack("{s:s, s:s, s:s}", "type", type, "startDate",
                                "2031-03-01T09:00:00Z", "endDate", "2031-03-03T17:00:00Z"));
    long long e2 = event_create_published(
        F.org.access, json_pack("{s:s, s:s, s:s}", "type", type, "startDate",
                                "2031-03-10T09:00:00Z", "endDate", "2031-03-12T17:00:00Z"));
    long long e3 = event_create_published(
        F.org.access, json_pack("{s:s, s:s, s:s}", "type", type, "startDate",
                                "2031-04-01T09:00:00Z", "endDate", "2031-04-02T17:00:00Z"));
    /* Events overlapping [from, to] (dates are whole days). */
    assert_lists(fmt("type=%s&from=2031-03-02&to=2031-03-10", type), e1, e2);
    assert_lists(fmt("type=%s&from=2031-03-03&to=2031-03-03", type), e1);
    assert_lists_none(fmt("type=%s&from=2031-03-04&to=2031-03-09", type));
    assert_lists(fmt("type=%s&from=2031-03-11", type), e2, e3);
    assert_lists(fmt("type=%s&to=2031-03-01", type), e1);
    assert_lists(fmt("type=%s&from=2031-03-12T18:00:00Z", type), e3);

    /* And they come ordered by startDate. */
    api_resp *r = api("GET", fmt("/v1/events?type=%s", type), NULL, NULL);
    assert_status(r, 200);
    assert_int_equal(jlen(r->json, "items"), 3);
    assert_int_equal(jint(r->json, "items.0.id"), e1);
    assert_int_equal(jint(r->json, "items.1.id"), e2);
    assert_int_equal(jint(r->json, "items.2.id"), e3);
    resp_free(r);

    /* A walk with a start date begins at it less the longest event's span:
     * an event of two years, begun long before, is still found, by date
     * and by words; one that ends the second before `from` is not, one
     * that ends on it is. */
    char long_type[64];
    snprintf(long_type, sizeof long_type, "%s", unique_type("span"));
    long long longest = event_create_published(
        F.org.access,
        json_pack("{s:s, s:s, s:s, s:s}", "type", long_type, "title", "Quillowisp gap year",
                  "startDate", "2030-01-01T09:00:00Z", "endDate", "2032-01-01T17:00:00Z"));
    event_create_published(F.org.access,
                           json_pack("{s:s, s:s, s:s, s:s}", "type", long_type, "title",
                                     "Quillowisp week", "startDate", "2031-05-25T09:00:00Z",
                                     "endDate", "2031-05-31T23:59:59Z"));
    long long ends_on_from = event_create_published(
        F.org.access,
        json_pack("{s:s, s:s, s:s, s:s}", "type", long_type, "title", "Quillowisp month",
                  "startDate", "2031-05-02T09:00:00Z", "endDate", "2031-06-01T00:00:00Z"));
    assert_lists(fmt("type=%s&from=2031-06-01", long_type), longest, ends_on_from);
    assert_lists("q=quillowisp&from=2031-06-01", longest, ends_on_from);
    assert_lists(fmt("type=%s&from=2031-06-02", long_type), longest);

    const char *bad[] = {"from=yesterday", "to=2031-02-30", "from=2031-03-10&to=2031-03-01"};
    for (size_t i = 0; i < N_ELEMS(bad); i++) {
        r = api("GET", fmt("/v1/events?type=%s&%s", type, bad[i]), NULL, NULL);
        assert_problem(r, 400);
        resp_free(r);
    }
}

static void discovery_spots_and_featured(void **state)
{
    (void)state;
    fixture();
    char type[64];
    snprintf(type, sizeof type, "%s", unique_type("spots"));
    long long full =
        event_create_published(F.org.access, json_pack("{s:s, s:i, s:b}", "type", type,
                                                       "maxParticipants", 1, "isFeatured", 1));
    long long open = event_create_published(
        F.org.access, json_pack("{s:s, s:i}", "type", type, "maxParticipants", 5));
    long long unlimited = event_create_published(F.org.access, json_pack("{s:s}", "type", type));
    register_ok(F.part.access, full, "confirmed");

    api_resp *r = api("GET", fmt("/v1/events/%lld", full), NULL, NULL);
    assert_int_equal(jint(r->json, "spotsLeft"), 0);
    resp_free(r);
    assert_lists(fmt("type=%s", type), full, open, unlimited);
    assert_lists(fmt("type=%s&hasSpots=true", type), open, unlimited);
    assert_lists(fmt("type=%s&featured=true", type), full);
    assert_lists_none(fmt("type=%s&featured=true&hasSpots=true", type));

    r = api("GET", fmt("/v1/events?type=%s&hasSpots=maybe", type), NULL, NULL);
    assert_problem(r, 400);
    resp_free(r);
    r = api("GET", fmt("/v1/events?type=%s&featured=yes", type), NULL, NULL);
    assert_problem(r, 400);
    resp_free(r);
}

static void discovery_text(void **state)
{
    (void)state;
    fixture();
    char type[64];
    snprintf(type, sizeof type, "%s", unique_type("text"));
    long long by_title = event_create_published(
        F.org.access, json_pack("{s:s, s:s, s:s}", "type", type, "title", "Zephyrquokka retreat",
                                "description", "A quiet weekend"));
    long long by_desc = event_create_published(
        F.org.access, json_pack("{s:s, s:s, s:s}", "type", type, "title", "Music workshop",
                                "description", "Bring your xylobanjo and a friend"));
    event_create_published(F.org.access,
                           json_pack("{s:s, s:s, s:s}", "type", type, "title", "Plain meeting",
                                     "description", "Nothing to see"));
    /* A draft with the word is not found. */
    event_create(F.org.access,
                 json_pack("{s:s, s:s}", "type", type, "title", "Zephyrquokka draft"));

    assert_lists("q=zephyrquokka", by_title);
    assert_lists("q=Zephyrquokka", by_title);
    assert_lists("q=xylobanjo", by_desc);
    assert_lists(fmt("q=xylobanjo&type=%s", type), by_desc);
    assert_lists_none("q=qwertyzxcvbnonexistent");

    /* After a title change the old word no longer finds it. */
    api_resp *r = api("PATCH", fmt("/v1/events/%lld", by_title),
                      "{\"title\":\"Kookaburra retreat\"}", F.org.access);
    assert_status(r, 200);
    resp_free(r);
    assert_lists_none("q=zephyrquokka");
    assert_lists("q=kookaburra", by_title);

    r = api("GET", fmt("/v1/events?q=%s", urlenc("\"unbalanced (quote AND OR NOT *")), NULL, NULL);
    assert_status2(r, 200, 400);
    resp_free(r);
}

static void discovery_limits(void **state)
{
    (void)state;
    fixture();
    const char *bad[] = {"limit=0",
                         "limit=101",
                         "limit=-1",
                         "limit=abc",
                         "limit=10abc",
                         "limit=",
                         "cursor=%21%21%21",
                         "cursor=bm90LWEtY3Vyc29y",
                         "cursor="
                         "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"};
    for (size_t i = 0; i < N_ELEMS(bad); i++) {
        api_resp *r = api("GET", fmt("/v1/events?%s", bad[i]), NULL, NULL);
        assert_problem(r, 400);
        resp_free(r);
    }
    const char *ok[] = {"limit=1", "limit=100", ""};
    for (size_t i = 0; i < N_ELEMS(ok); i++) {
        api_resp *r = api("GET", fmt("/v1/events?%s", ok[i]), NULL, NULL);
        assert_status(r, 200);
        assert_true(json_is_array(jget(r->json, "items")));
        assert_true(json_object_get(r->json, "nextCursor") != NULL);
        resp_free(r);
    }
}

static void discovery_keyset_pagination(void **state)
{
    (void)state;
    fixture();
    char type[64];
    snprintf(type, sizeof type, "%s", unique_type("page"));
    enum { N = 25 };
    long long ids[N];
    for (int i = 0; i < N; i++) {
        /* 12 distinct start dates, so several events share one. */
        const char *start = fmt("2031-02-%02dT10:00:00Z", 1 + (i * 7) % 12);
        ids[i] = event_create_published(i % 2 ? F.org.access : F.org2.access,
                                        json_pack("{s:s, s:s, s:s, s:s}", "type", type, "startDate",
                                                  start, "endDate", "2031-03-01T00:00:00Z", "title",
                                                  fmt("Paged %d", i)));
    }
    long long seen[N + 10];
    size_t nseen = 0;
    char cursor[512] = "", last_start[40] = "";
    int pages = 0;
    size_t sizes[8] = {0};
    do {
        const char *path = cursor[0]
                               ? fmt("/v1/events?type=%s&limit=10&cursor=%s", type, urlenc(cursor))
                               : fmt("/v1/events?type=%s&limit=10", type);
        api_resp *r = api("GET", path, NULL, NULL);
        assert_status(r, 200);
        json_t *items = json_object_get(r->json, "items");
        assert_true(json_array_size(items) <= 10);
        sizes[pages] = json_array_size(items);
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it)
        {
            long long id = json_integer_value(json_object_get(it, "id"));
            if (contains(seen, nseen, id))
                fail_msg("event %lld came twice while paging", id);
            assert_true(nseen < N_ELEMS(seen));
            seen[nseen++] = id;
            const char *start = jstr(it, "startDate");
            assert_non_null(start);
            if (strcmp(start, last_start) < 0)
                fail_msg("startDate %s came after %s", start, last_start);
            snprintf(last_start, sizeof last_start, "%s", start);
        }
        const char *next = jstr(r->json, "nextCursor");
        snprintf(cursor, sizeof cursor, "%s", next ? next : "");
        resp_free(r);
        pages++;
    } while (cursor[0] && pages < 8);
    assert_int_equal(nseen, N);
    for (int i = 0; i < N; i++)
        if (!contains(seen, nseen, ids[i]))
            fail_msg("event %lld never came while paging", ids[i]);
    assert_int_equal(pages, 3);
    assert_int_equal(sizes[0], 10);
    assert_int_equal(sizes[1], 10);
    assert_int_equal(sizes[2], 5);
}

static void discovery_follows_writes(void **state)
{
    (void)state;
    fixture();
    /* The same query, asked again after each change, sees the change. */
    char type[64], q[128], qs[160];
    snprintf(type, sizeof type, "%s", unique_type("fresh"));
    snprintf(q, sizeof q, "type=%s", type);
    snprintf(qs, sizeof qs, "type=%s&hasSpots=true", type);
    long long a = event_create_published(F.org.access, json_pack("{s:s}", "type", type));
    long long b =
        event_create(F.org.access, json_pack("{s:s, s:i}", "type", type, "maxParticipants", 1));
    assert_lists(q, a);
    assert_lists(qs, a);
    event_publish(F.org.access, b);
    assert_lists(q, a, b);
    assert_lists(qs, a, b);

    /* b fills up, and frees up again. */
    api_resp *r = api("GET", fmt("/v1/events/%lld", b), NULL, NULL);
    assert_int_equal(jint(r->json, "spotsLeft"), 1);
    resp_free(r);
    long long reg = register_ok(F.part.access, b, "confirmed");
    assert_lists(qs, a);
    r = api("GET", fmt("/v1/events/%lld", b), NULL, NULL);
    assert_int_equal(jint(r->json, "spotsLeft"), 0);
    resp_free(r);
    r = api("POST", fmt("/v1/registrations/%lld/cancel", reg), NULL, F.part.access);
    assert_status(r, 200);
    resp_free(r);
    assert_lists(qs, a, b);
    r = api("GET", fmt("/v1/events/%lld", b), NULL, NULL);
    assert_int_equal(jint(r->json, "spotsLeft"), 1);
    resp_free(r);

    /* Renamed, cancelled, made private. */
    r = api("PATCH", fmt("/v1/events/%lld", b), "{\"title\":\"Fresh title\"}", F.org.access);
    assert_status(r, 200);
    resp_free(r);
    r = api("GET", fmt("/v1/events/%lld", b), NULL, NULL);
    assert_str_eq(jstr(r->json, "title"), "Fresh title");
    resp_free(r);
    r = api("PATCH", fmt("/v1/events/%lld", a), "{\"status\":\"cancelled\"}", F.org.access);
    assert_status(r, 200);
    resp_free(r);
    assert_lists(q, b);
    r = api("PATCH", fmt("/v1/events/%lld", b), "{\"isPublic\":false}", F.org.access);
    assert_status(r, 200);
    resp_free(r);
    assert_lists_none(q);
    r = api("GET", fmt("/v1/events/%lld", b), NULL, NULL);
    assert_problem(r, 404);
    resp_free(r);
    r = api("GET", fmt("/v1/events/%lld", b), NULL, F.part.access);
    assert_problem(r, 404);
    resp_free(r);
}

/* The value of an unlabelled counter in /metrics. */
static double counter(const char *name)
{
    api_resp *m = api("GET", "/metrics", NULL, NULL);
    assert_status(m, 200);
    size_t n = strlen(name);
    double v = -1;
    for (const char *line = m->body; line && *line; line = strchr(line, '\n'), line += !!line)
        if (strncmp(line, name, n) == 0 && line[n] == ' ')
            v = strtod(line + n + 1, NULL);
    resp_free(m);
    return v;
}

/* RG_DISCOVERY_CACHE=0 (for measuring the queries themselves): every list
 * runs its query, reads nothing from the cache, and still answers the same
 * and follows writes. */
static void discovery_without_page_cache(void **state)
{
    fixture();
    char type[64], q[128];
    snprintf(type, sizeof type, "%s", unique_type("nocache"));
    snprintf(q, sizeof q, "/v1/events?type=%s&limit=5", type);
    event_create_published(F.org.access, json_pack("{s:s}", "type", type));
    api_resp *cached = api("GET", q, NULL, NULL);
    assert_status(cached, 200);
    char *want = strdup(cached->body);
    resp_free(cached);
    assert_int_equal(srv_stop(&g_srv), 0);
    setenv("RG_DISCOVERY_CACHE", "0", 1);
    int rc = srv_start(&g_srv, g_srv.dir);
    unsetenv("RG_DISCOVERY_CACHE");
    assert_int_equal(rc, 0);
    double hits = counter("rg_cache_hits_total");
    for (int i = 0; i < 5; i++) {
        api_resp *r = api("GET", q, NULL, NULL);
        assert_status(r, 200);
        assert_string_equal(r->body, want);
        resp_free(r);
    }
    assert_true(counter("rg_cache_hits_total") == hits);
    free(want);
    discovery_follows_writes(state);
    assert_int_equal(srv_stop(&g_srv), 0);
    assert_int_equal(srv_start(&g_srv, g_srv.dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(discovery_published_public_only),
        cmocka_unit_test(discovery_place),
        cmocka_unit_test(discovery_around_the_globe),
        cmocka_unit_test(discovery_dates),
        cmocka_unit_test(discovery_spots_and_featured),
        cmocka_unit_test(discovery_text),
        cmocka_unit_test(discovery_limits),
        cmocka_unit_test(discovery_keyset_pagination),
        cmocka_unit_test(discovery_follows_writes),
        cmocka_unit_test(discovery_without_page_cache),
    };
    return cmocka_run_group_tests(tests, api_setup, api_teardown);
}
