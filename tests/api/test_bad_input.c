/* Bad input on every route: malformed, oversized, mistyped, hostile. Every
 * answer in this program is checked to be below 500 (api_do fails the test
 * on a 5xx), and after all of it the data seen through the API is unchanged.
 *
 * Over 800 lines on purpose: the final check (nothing changed) holds only
 * when every case has run against the same server and data, so the cases
 * stay in one program around the one route table they walk. */
#include "support.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { NONE, OPTIONAL, REQUIRED };

/* Mirrors src/http/routes.c. wrong_types: a body of the right shape with
 * values of the wrong JSON types (NULL: the route reads no body). field: a
 * string member the route reads (for the NUL test). */
static const struct route {
    const char *method, *pattern;
    int auth;
    const char *wrong_types;
    const char *field;
} routes[] = {
    {"GET", "/healthz", NONE, NULL, NULL},
    {"GET", "/readyz", NONE, NULL, NULL},
    {"GET", "/metrics", NONE, NULL, NULL},
    {"POST", "/v1/auth/signup", NONE,
     "{\"email\":5,\"password\":true,\"firstName\":[],\"lastName\":{},\"gender\":1}", "email"},
    {"POST", "/v1/auth/login", NONE, "{\"email\":5,\"password\":false}", "email"},
    {"POST", "/v1/auth/refresh", NONE, "{\"refreshToken\":12345}", "refreshToken"},
    {"POST", "/v1/auth/logout", REQUIRED, NULL, NULL},
    {"GET", "/v1/users/me", REQUIRED, NULL, NULL},
    {"PATCH", "/v1/users/me", REQUIRED,
     "{\"firstName\":5,\"preferences\":{\"privacy\":{\"shareProfile\":\"false\"}}}", "firstName"},
    {"GET", "/v1/users/{id}", REQUIRED, NULL, NULL},
    {"PATCH", "/v1/users/{id}", REQUIRED, "{\"roles\":\"admin\"}", "roles"},
    {"GET", "/v1/users/{id}/registrations", REQUIRED, NULL, NULL},
    {"GET", "/v1/users/{id}/preferences", REQUIRED, NULL, NULL},
    {"POST", "/v1/venues", REQUIRED,
     "{\"name\":5,\"city\":true,\"country\":\"GB\",\"lat\":\"51.5\",\"lng\":\"0\"}", "name"},
    {"GET", "/v1/venues", OPTIONAL, NULL, NULL},
    {"GET", "/v1/venues/{id}", OPTIONAL, NULL, NULL},
    {"POST", "/v1/events", REQUIRED,
     "{\"title\":5,\"startDate\":20300101,\"endDate\":true,\"type\":[],\"isPublic\":\"yes\"}",
     "title"},
    {"GET", "/v1/events", OPTIONAL, NULL, NULL},
    {"GET", "/v1/events/{id}", OPTIONAL, NULL, NULL},
    {"PATCH", "/v1/events/{id}", REQUIRED,
     "{\"title\":5,\"isFeatured\":\"true\",\"maxParticipants\":\"10\"}", "title"},
    {"GET", "/v1/events/{id}/attendees", REQUIRED, NULL, NULL},
    {"GET", "/v1/events/{id}/stats", REQUIRED, NULL, NULL},
    {"POST", "/v1/events/{id}/registrations", REQUIRED,
     "{\"dietaryRequirements\":5,\"specialNeeds\":false}", "dietaryRequirements"},
    {"GET", "/v1/registrations/{id}", REQUIRED, NULL, NULL},
    {"POST", "/v1/registrations/{id}/cancel", REQUIRED, "{\"reason\":5}", "reason"},
    {"POST", "/v1/registrations/{id}/check-in", REQUIRED, NULL, NULL},
    /* channels, messages, content, feedback, search */
    {"POST", "/v1/channels", REQUIRED, "{\"name\":5,\"members\":\"x\"}", "name"},
    {"GET", "/v1/channels/{id}", REQUIRED, NULL, NULL},
    {"GET", "/v1/channels/{id}/messages", REQUIRED, NULL, NULL},
    {"POST", "/v1/channels/{id}/messages", REQUIRED,
     "{\"messageType\":5,\"content\":{\"text\":true}}", "messageType"},
    {"GET", "/v1/messages/{id}", REQUIRED, NULL, NULL},
    {"POST", "/v1/messages/{id}/read", REQUIRED, NULL, NULL},
    {"GET", "/v1/events/{id}/channel", REQUIRED, NULL, NULL},
    {"POST", "/v1/resources", REQUIRED, "{\"title\":5,\"isPublic\":\"yes\"}", "title"},
    {"GET", "/v1/resources/{id}", OPTIONAL, NULL, NULL},
    {"PATCH", "/v1/resources/{id}", REQUIRED, "{\"title\":5,\"tags\":\"x\"}", "title"},
    {"DELETE", "/v1/resources/{id}", REQUIRED, NULL, NULL},
    {"POST", "/v1/events/{id}/feedback", REQUIRED, "{\"rating\":\"5\",\"comment\":5}", "rating"},
    {"GET", "/v1/events/{id}/feedback", REQUIRED, NULL, NULL},
    {"GET", "/v1/search", NONE, NULL, NULL},
    /* payments */
    {"POST", "/v1/payments", REQUIRED,
     "{\"registrationId\":\"1\",\"paymentMethod\":5,\"provider\":true}", "paymentMethod"},
    {"GET", "/v1/payments/{id}", REQUIRED, NULL, NULL},
    {"POST", "/v1/payments/{id}/refund", REQUIRED, "{\"amount\":25,\"reason\":5}", "reason"},
    {"POST", "/v1/webhooks/payments/{provider}", NONE, "{\"id\":5,\"type\":[]}", "id"},
    {"GET", "/v1/users/{id}/payments", REQUIRED, NULL, NULL},
    {"GET", "/v1/events/{id}/finance", REQUIRED, NULL, NULL},
    /* accounts and privacy */
    {"POST", "/v1/auth/sso", NONE, "{\"idToken\":5}", "idToken"},
    {"POST", "/v1/auth/password-reset", NONE, "{\"email\":5}", "email"},
    {"POST", "/v1/auth/password-reset/confirm", NONE, "{\"token\":5,\"newPassword\":true}",
     "token"},
    {"GET", "/v1/users/me/export", REQUIRED, NULL, NULL},
    {"DELETE", "/v1/users/me", REQUIRED, NULL, NULL},
    {"GET", "/v1/admin/audit", REQUIRED, NULL, NULL},
};

/* What the program starts with, and what must still be there at the end. */
static struct {
    bool ready;
    api_user *admin;
    api_user org, part, quitter, target;
    long long venue, events[3], reg;
    size_t discoverable; /* published public events anonymous discovery finds */
    char admin_me[4096];
} F;

static size_t count_discoverable(void)
{
    size_t n = 0;
    char cursor[512] = "";
    for (int page = 0; page < 100; page++) {
        api_resp *r = api("GET",
                          cursor[0] ? fmt("/v1/events?limit=100&cursor=%s", urlenc(cursor))
                                    : "/v1/events?limit=100",
                          NULL, NULL);
        assert_status(r, 200);
        n += jlen(r->json, "items");
        const char *next = jstr(r->json, "nextCursor");
        snprintf(cursor, sizeof cursor, "%s", next ? next : "");
        resp_free(r);
        if (!cursor[0])
            break;
    }
    return n;
}

static void fixture(void)
{
    if (F.ready)
        return;
    F.admin = admin_user();
    organizer_signup(&F.org, "org");
    user_signup(&F.part, "part");
    user_signup(&F.quitter, "quitter");
    user_signup(&F.target, "target");
    F.venue = venue_create(F.org.access, "Hall", "Bristol", "GB", 51.45, -2.58);
    for (size_t i = 0; i < N_ELEMS(F.events); i++)
        F.events[i] = event_create_published(
            F.org.access,
            json_pack("{s:I, s:i}", "venueId", (json_int_t)F.venue, "maxParticipants", 50));
    F.reg = register_ok(F.part.access, F.events[0], "confirmed");
    F.discoverable = count_discoverable();
    assert_int_equal(F.discoverable, N_ELEMS(F.events));
    api_resp *r = api("GET", "/v1/users/me", NULL, F.admin->access);
    assert_status(r, 200);
    snprintf(F.admin_me, sizeof F.admin_me, "%s", r->body);
    resp_free(r);
    F.ready = true;
}

/* A new resource of the organizer; its id goes to out. */
static void comms_resource(char out[32])
{
    api_resp *r = api("POST", "/v1/resources", "{\"title\":\"Handbook\"}", F.org.access);
    assert_status(r, 201);
    snprintf(out, 32, "%s", jstr(r->json, "id"));
    resp_free(r);
}

/* An id for the route's {id} when it names a channel, message or resource
 * (made once; DELETE gets a resource of its own each time), else NULL. */
static const char *comms_id(const struct route *rt)
{
    static char channel[32], message[32], resource[32];
    static char doomed[32];
    if (!channel[0]) {
        api_resp *r = api("GET", fmt("/v1/events/%lld/channel", F.events[1]), NULL, F.org.access);
        assert_status(r, 200);
        snprintf(channel, sizeof channel, "%s", jstr(r->json, "id"));
        resp_free(r);
        r = api("POST", fmt("/v1/channels/%s/messages", channel), "{\"content\":{\"text\":\"hi\"}}",
                F.org.access);
        assert_status(r, 201);
        snprintf(message, sizeof message, "%s", jstr(r->json, "id"));
        resp_free(r);
        comms_resource(resource);
    }
    if (strncmp(rt->pattern, "/v1/channels/{id}", 17) == 0)
        return channel;
    if (strncmp(rt->pattern, "/v1/messages/{id}", 17) == 0)
        return message;
    if (strncmp(rt->pattern, "/v1/resources/{id}", 18) == 0) {
        if (strcmp(rt->method, "DELETE") != 0)
            return resource;
        comms_resource(doomed);
        return doomed;
    }
    return NULL;
}

/* A payment (made once) of the admin's, for a paid event that is not public,
 * so that what discovery finds does not change. */
static const char *payment_id(void)
{
    static char id[32];
    if (id[0])
        return id;
    long long ev =
        event_create_published(F.org.access, json_pack("{s:b, s:{s:s, s:s}}", "isPublic", 0, "cost",
                                                       "amount", "5.00", "currency", "GBP"));
    long long reg = register_ok(F.admin->access, ev, "pending");
    const char *hdrs[] = {"Idempotency-Key: bad-input-payment", NULL};
    api_req rq = {.method = "POST",
                  .path = "/v1/payments",
                  .body = fmt("{\"registrationId\":%lld,\"paymentMethod\":\"card\","
                              "\"provider\":\"test\"}",
                              reg),
                  .token = F.admin->access,
                  .headers = hdrs};
    api_resp *r = api_do(&rq);
    assert_status(r, 201);
    snprintf(id, sizeof id, "%lld", (long long)jint(r->json, "id"));
    resp_free(r);
    return id;
}

/* The route's path with {id} filled in with something that exists. */
static const char *path_of(const struct route *rt)
{
    const char *id = NULL;
    if (strncmp(rt->pattern, "/v1/users/{id}", 14) == 0)
        id = F.part.id;
    else if (strncmp(rt->pattern, "/v1/venues/{id}", 15) == 0)
        id = fmt("%lld", F.venue);
    else if (strncmp(rt->pattern, "/v1/events/{id}", 15) == 0)
        id = fmt("%lld", F.events[1]);
    else if (strncmp(rt->pattern, "/v1/registrations/{id}", 22) == 0)
        id = fmt("%lld", F.reg);
    if (!id && strstr(rt->pattern, "{id}"))
        id = comms_id(rt); /* channels, messages, resources */
    if (!id && strncmp(rt->pattern, "/v1/payments/{id}", 17) == 0)
        id = payment_id(); /* payments */
    if (strcmp(rt->pattern, "/v1/webhooks/payments/{provider}") == 0)
        return "/v1/webhooks/payments/test"; /* payments */
    if (!id)
        return rt->pattern;
    const char *brace = strstr(rt->pattern, "{id}");
    return fmt("%.*s%s%s", (int)(brace - rt->pattern), rt->pattern, id, brace + 4);
}

/* A token allowed to call the route. POST /v1/auth/logout gets a fresh
 * session of its own, so that a request that wrongly succeeded cannot end
 * the admin's. */
static const char *token_for(const struct route *rt)
{
    if (rt->auth == NONE)
        return NULL;
    if (strcmp(rt->pattern, "/v1/auth/logout") == 0) {
        user_login(&F.quitter);
        return F.quitter.access;
    }
    /* accounts and privacy: an erasure takes someone of its own */
    if (strcmp(rt->method, "DELETE") == 0 && strcmp(rt->pattern, "/v1/users/me") == 0) {
        static api_user doomed;
        user_signup(&doomed, "doomed");
        return doomed.access;
    }
    return F.admin->access;
}

static bool has_body(const struct route *rt)
{
    return strcmp(rt->method, "POST") == 0 || strcmp(rt->method, "PATCH") == 0;
}

static api_resp *send_body(const struct route *rt, const char *body, size_t len,
                           const char *content_type)
{
    api_req rq = {.method = rt->method,
                  .path = path_of(rt),
                  .body = body,
                  .body_len = len,
                  .token = token_for(rt),
                  .content_type = content_type};
    return api_do(&rq);
}

#define FOR_EACH_BODY_ROUTE(rt)                                                                    \
    for (const struct route *rt = routes; rt < routes + N_ELEMS(routes); rt++)                     \
        if (has_body(rt))

static void every_route_answers(void **state)
{
    (void)state;
    fixture();
    /* Sanity: each route of the table exists (no 404/405 for a well-formed
     * call) and refuses anonymous callers where it must. */
    for (const struct route *rt = routes; rt < routes + N_ELEMS(routes); rt++) {
        if (rt->auth == REQUIRED) {
            api_req rq = {
                .method = rt->method, .path = path_of(rt), .body = has_body(rt) ? "{}" : NULL};
            api_resp *r = api_do(&rq);
            assert_problem(r, 401);
            resp_free(r);
        }
        if (!has_body(rt)) {
            api_resp *r = api(rt->method, path_of(rt), NULL, token_for(rt));
            if (r->status == 404 || r->status == 405 || r->status >= 500)
                fail_msg("%s -> %ld: %s", r->what, r->status, r->body);
            resp_free(r);
        }
    }
}

static void malformed_json(void **state)
{
    (void)state;
    fixture();
    const char *bodies[] = {"{",          "{\"title\":}", "{'title':'x'}", "not json",
                            "{\"a\":1,}", "{\"a\":1}{}",  "\"\\x\"",       "{\"a\":01}",
                            "[1,2",       "{\"a\":"};
    FOR_EACH_BODY_ROUTE(rt)
    {
        for (size_t i = 0; i < N_ELEMS(bodies); i++) {
            api_resp *r = send_body(rt, bodies[i], 0, NULL);
            assert_problem(r, 400);
            resp_free(r);
        }
    }
}

static void wrong_content_type(void **state)
{
    (void)state;
    fixture();
    const char *types[] = {"text/plain", "application/x-www-form-urlencoded", "application/xml", "",
                           "application/jsonx"};
    FOR_EACH_BODY_ROUTE(rt)
    {
        for (size_t i = 0; i < N_ELEMS(types); i++) {
            api_resp *r = send_body(rt, "{\"title\":\"x\"}", 0, types[i]);
            assert_problem(r, 415);
            resp_free(r);
        }
        /* With parameters and other letter case, JSON is JSON. */
        api_resp *r = send_body(rt, "{", 0, "Application/JSON; charset=utf-8");
        assert_problem(r, 400);
        resp_free(r);
    }
}

static void body_too_large(void **state)
{
    (void)state;
    fixture();
    size_t len = 1024 * 1024 + 64;
    char *big = malloc(len + 1);
    memset(big, ' ', len);
    memcpy(big, "{\"title\":\"", 10);
    memset(big + 10, 'x', len - 12);
    memcpy(big + len - 2, "\"}", 2);
    big[len] = '\0';
    FOR_EACH_BODY_ROUTE(rt)
    {
        api_resp *r = send_body(rt, big, len, NULL);
        assert_problem(r, 413);
        resp_free(r);
    }
    /* Without a Content-Length (chunked), the limit holds too. */
    api_req rq = {
        .method = "POST", .path = "/v1/auth/signup", .body = big, .body_len = len, .chunked = true};
    api_resp *r = api_do(&rq);
    assert_problem(r, 413);
    resp_free(r);
    rq.path = "/v1/events";
    rq.token = F.org.access;
    r = api_do(&rq);
    assert_problem(r, 413);
    resp_free(r);
    free(big);
    /* (A small chunked body is read as usual.) */
    const char *small = fmt("{\"email\":\"%s\",\"password\":\"wrong-password\"}", F.org.email);
    api_req crq = {.method = "POST", .path = "/v1/auth/login", .body = small, .chunked = true};
    r = api_do(&crq);
    assert_problem(r, 401);
    resp_free(r);
    /* Oversized headers and URLs are refused (4xx), not a crash or a hang. */
    char *pad = malloc(100 * 1024);
    memset(pad, 'a', 100 * 1024 - 1);
    pad[100 * 1024 - 1] = '\0';
    char *hdr = malloc(100 * 1024 + 16);
    snprintf(hdr, 100 * 1024 + 16, "X-Pad: %s", pad);
    const char *hdrs[] = {hdr, NULL};
    api_req hrq = {.method = "GET", .path = "/healthz", .headers = hdrs};
    r = api_do(&hrq);
    if (r->status < 400 || r->status >= 500)
        fail_msg("a 100 KiB header got %ld", r->status);
    resp_free(r);
    char *url = malloc(100 * 1024 + 32);
    snprintf(url, 100 * 1024 + 32, "/v1/events?q=%s", pad);
    r = api("GET", url, NULL, NULL);
    if (r->status < 400 || r->status >= 500)
        fail_msg("a 100 KiB URL got %ld", r->status);
    resp_free(r);
    free(url);
    free(hdr);
    free(pad);
    /* ...and the server carries on. */
    r = api("GET", "/readyz", NULL, NULL);
    assert_status(r, 200);
    resp_free(r);
    /* Just under the limit is read (and refused for its content, not size). */
    size_t ok = 1024 * 1024 - 16;
    char *under = malloc(ok + 1);
    memset(under, ' ', ok);
    memcpy(under, "{\"email\":1}", 11);
    under[ok] = '\0';
    r = api("POST", "/v1/auth/login", under, NULL);
    assert_problem(r, 422);
    resp_free(r);
    free(under);
}

static char *nested(int depth, bool arrays)
{
    size_t cap = (size_t)depth * 8 + 16, n = 0;
    char *s = malloc(cap);
    for (int i = 0; i < depth; i++)
        n += (size_t)snprintf(s + n, cap - n, "%s", arrays ? "[" : "{\"a\":");
    n += (size_t)snprintf(s + n, cap - n, "1");
    for (int i = 0; i < depth; i++)
        n += (size_t)snprintf(s + n, cap - n, "%s", arrays ? "]" : "}");
    return s;
}

static void deeply_nested(void **state)
{
    (void)state;
    fixture();
    char *objs = nested(100, false), *arrs = nested(100, true);
    char *deeper = nested(5000, true);
    FOR_EACH_BODY_ROUTE(rt)
    {
        char *bodies[] = {objs, arrs, deeper};
        for (size_t i = 0; i < N_ELEMS(bodies); i++) {
            api_resp *r = send_body(rt, bodies[i], 0, NULL);
            assert_problem(r, 400);
            resp_free(r);
        }
    }
    /* Nesting inside a member the route reads. */
    char *inner = nested(100, false);
    const char *body = fmt("{\"preferences\":%s}", inner);
    api_resp *r = api("PATCH", "/v1/users/me", body, F.part.access);
    assert_problem(r, 400);
    resp_free(r);
    free(inner);
    free(objs);
    free(arrs);
    free(deeper);
}

static void wrong_types(void **state)
{
    (void)state;
    fixture();
    FOR_EACH_BODY_ROUTE(rt)
    {
        if (!rt->wrong_types)
            continue;
        api_resp *r = send_body(rt, rt->wrong_types, 0, NULL);
        assert_status2(r, 422, 400);
        assert_problem(r, r->status);
        resp_free(r);
        /* A JSON value that is not an object. */
        const char *not_objects[] = {"[]", "42", "\"text\"", "null", "true"};
        for (size_t i = 0; i < N_ELEMS(not_objects); i++) {
            r = send_body(rt, not_objects[i], 0, NULL);
            assert_status2(r, 422, 400);
            assert_problem(r, r->status);
            resp_free(r);
        }
    }
    /* A few more, one field at a time, each naming its field. */
    struct {
        const char *method, *path, *body, *field;
        const char *token;
    } cases[] = {
        {"POST", "/v1/venues",
         "{\"name\":\"V\",\"city\":\"X\",\"country\":\"GB\",\"capacity\":\"9\"}", "capacity",
         F.org.access},
        {"POST", "/v1/events",
         "{\"title\":\"T\",\"startDate\":\"2030-01-01T10:00:00Z\",\"endDate\":"
         "\"2030-01-01T12:00:00Z\",\"type\":\"talk\",\"waitlistEnabled\":\"true\"}",
         "waitlistEnabled", F.org.access},
        {"POST", "/v1/events",
         "{\"title\":\"T\",\"startDate\":\"2030-01-01T10:00:00Z\",\"endDate\":"
         "\"2030-01-01T12:00:00Z\",\"type\":\"talk\",\"venueId\":\"1\"}",
         "venueId", F.org.access},
        {"PATCH", "/v1/users/me", "{\"preferences\":{\"notifications\":{\"email\":1}}}", "email",
         F.part.access},
        {"PATCH", "/v1/users/me", "{\"contact\":\"+44 1234\"}", "contact", F.part.access},
        {"PATCH", "/v1/users/me", "{\"lastName\":12}", "lastName", F.part.access},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        api_resp *r = api(cases[i].method, cases[i].path, cases[i].body, cases[i].token);
        assert_problem(r, 422);
        assert_field_error(r, cases[i].field);
        resp_free(r);
    }
}

static void invalid_utf8_and_nul(void **state)
{
    (void)state;
    fixture();
    FOR_EACH_BODY_ROUTE(rt)
    {
        const char *f = rt->field ? rt->field : "x";
        /* Raw bytes that are not UTF-8: a lone continuation byte, an overlong
         * "/", a 0xff, a truncated sequence, an encoded surrogate. */
        const char *raw[] = {"\x80", "\xc0\xaf", "\xff\xfe", "\xe2\x82", "\xed\xa0\x80"};
        for (size_t i = 0; i < N_ELEMS(raw); i++) {
            const char *body = fmt("{\"%s\":\"ab%scd\"}", f, raw[i]);
            api_resp *r = send_body(rt, body, 0, NULL);
            assert_problem(r, 400);
            resp_free(r);
        }
        /* A NUL inside a string, escaped and raw; a lone surrogate escape. */
        char rawnul[64];
        int n = snprintf(rawnul, sizeof rawnul, "{\"%s\":\"ab", f);
        rawnul[n++] = '\0';
        n += snprintf(rawnul + n, sizeof rawnul - (size_t)n, "cd\"}");
        api_resp *r = send_body(rt, rawnul, (size_t)n, NULL);
        assert_status2(r, 400, 422);
        assert_problem(r, r->status);
        resp_free(r);
        r = send_body(rt, fmt("{\"%s\":\"ab\\u0000cd\"}", f), 0, NULL);
        assert_status2(r, 400, 422);
        assert_problem(r, r->status);
        resp_free(r);
        r = send_body(rt, fmt("{\"%s\":\"ab\\ud800cd\"}", f), 0, NULL);
        assert_status2(r, 400, 422);
        assert_problem(r, r->status);
        resp_free(r);
    }
    /* Control characters in a one-line field are refused too. */
    api_resp *r = api("PATCH", "/v1/users/me", "{\"firstName\":\"a\\u0007b\"}", F.part.access);
    assert_problem(r, 422);
    assert_field_error(r, "firstName");
    resp_free(r);
}

static void unknown_routes(void **state)
{
    (void)state;
    fixture();
    char longpath[700] = "/v1/events/";
    memset(longpath + 11, 'a', 600);
    longpath[611] = '\0';
    const char *paths[] = {"/",
                           "/v1",
                           "/v1/nope",
                           "/v2/events",
                           "/v1/events/1/nope",
                           "/v1/users/me/extra",
                           "/v1/a/b/c/d/e/f/g/h/i/j",
                           "/healthz/extra",
                           "/V1/EVENTS",
                           longpath};
    const char *methods[] = {"GET", "POST", "DELETE"};
    for (size_t i = 0; i < N_ELEMS(paths); i++)
        for (size_t m = 0; m < N_ELEMS(methods); m++) {
            api_resp *r = api(methods[m], paths[i], NULL, F.admin->access);
            assert_problem(r, 404);
            resp_free(r);
        }
}

/* The methods the table has for pattern, as a bit set over all_methods. */
static const char *const all_methods[] = {"GET", "POST", "PATCH", "PUT", "DELETE"};

static unsigned methods_of(const char *pattern)
{
    unsigned set = 0;
    for (const struct route *rt = routes; rt < routes + N_ELEMS(routes); rt++)
        if (strcmp(rt->pattern, pattern) == 0)
            for (size_t m = 0; m < N_ELEMS(all_methods); m++)
                if (strcmp(rt->method, all_methods[m]) == 0)
                    set |= 1u << m;
    return set;
}

static unsigned parse_allow(const char *allow)
{
    unsigned set = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", allow);
    char *save = NULL;
    for (char *t = strtok_r(buf, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
        size_t m;
        for (m = 0; m < N_ELEMS(all_methods) && strcmp(all_methods[m], t) != 0; m++)
            ;
        set |= m < N_ELEMS(all_methods) ? 1u << m : 1u << 31;
    }
    return set;
}

static void wrong_method(void **state)
{
    (void)state;
    fixture();
    for (const struct route *rt = routes; rt < routes + N_ELEMS(routes); rt++) {
        unsigned allowed = methods_of(rt->pattern);
        for (size_t m = 0; m < N_ELEMS(all_methods); m++) {
            if (allowed & (1u << m))
                continue;
            api_resp *r = api(all_methods[m], path_of(rt), NULL, F.admin->access);
            assert_problem(r, 405);
            if (!r->allow[0])
                fail_msg("%s -> 405 without an Allow header", r->what);
            if (parse_allow(r->allow) != allowed)
                fail_msg("%s -> Allow: %s; the route table allows other methods", r->what,
                         r->allow);
            resp_free(r);
        }
    }
}

static void sql_looking_input(void **state)
{
    (void)state;
    fixture();
    const char *sql[] = {"'; DROP TABLE events; --",
                         "1 OR 1=1",
                         "' OR '1'='1",
                         "\" OR \"\"=\"",
                         "1; DELETE FROM users",
                         "%' --",
                         "x') UNION SELECT * FROM users --"};
    for (size_t i = 0; i < N_ELEMS(sql); i++) {
        const char *s = sql[i];
        /* As a title: stored and given back as it was. */
        json_t *b =
            json_pack("{s:s, s:s, s:s, s:s}", "title", s, "startDate", "2030-01-01T10:00:00Z",
                      "endDate", "2030-01-01T12:00:00Z", "type", "talk");
        api_resp *r = apij("POST", "/v1/events", b, F.org.access);
        assert_status(r, 201);
        assert_str_eq(jstr(r->json, "title"), s);
        long long id = jint(r->json, "id");
        resp_free(r);
        r = api("GET", fmt("/v1/events/%lld", id), NULL, F.org.access);
        assert_status(r, 200);
        assert_str_eq(jstr(r->json, "title"), s);
        resp_free(r);
        /* As a slug: not a slug. */
        b = json_pack("{s:s, s:s, s:s, s:s, s:s}", "title", "T", "slug", s, "startDate",
                      "2030-01-01T10:00:00Z", "endDate", "2030-01-01T12:00:00Z", "type", "talk");
        r = apij("POST", "/v1/events", b, F.org.access);
        assert_problem(r, 422);
        resp_free(r);
        /* As an email, to sign up and to log in. */
        b = json_pack("{s:s, s:s, s:s, s:s}", "email", s, "password", "long-enough-1", "firstName",
                      "A", "lastName", "B");
        r = apij("POST", "/v1/auth/signup", b, NULL);
        assert_problem(r, 422);
        assert_field_error(r, "email");
        resp_free(r);
        b = json_pack("{s:s, s:s}", "email", s, "password", s);
        r = apij("POST", "/v1/auth/login", b, NULL);
        assert_status2(r, 401, 422);
        assert_problem(r, r->status);
        resp_free(r);
        /* A real account with a hostile password: wrong like any other, and
         * counted towards the lock (5 failures) like any other. */
        b = json_pack("{s:s, s:s}", "email", F.target.email, "password", s);
        r = apij("POST", "/v1/auth/login", b, NULL);
        assert_problem(r, i < 5 ? 401 : 423);
        resp_free(r);
        /* In query parameters. */
        r = api("GET", fmt("/v1/events?q=%s", urlenc(s)), NULL, NULL);
        assert_status2(r, 200, 400);
        resp_free(r);
        const char *params[] = {"type", "city", "country"};
        for (size_t p = 0; p < N_ELEMS(params); p++) {
            r = api("GET", fmt("/v1/events?%s=%s", params[p], urlenc(s)), NULL, NULL);
            assert_status(r, 200);
            assert_int_equal(jlen(r->json, "items"), 0);
            resp_free(r);
        }
        const char *bad_params[] = {"cursor", "limit", "from", "near", "hasSpots"};
        for (size_t p = 0; p < N_ELEMS(bad_params); p++) {
            r = api("GET", fmt("/v1/events?%s=%s", bad_params[p], urlenc(s)), NULL, NULL);
            assert_problem(r, 400);
            resp_free(r);
        }
        r = api("GET", fmt("/v1/venues?city=%s", urlenc(s)), NULL, NULL);
        assert_status(r, 200);
        assert_int_equal(jlen(r->json, "items"), 0);
        resp_free(r);
        /* As a path id of every route with one. */
        for (const struct route *rt = routes; rt < routes + N_ELEMS(routes); rt++) {
            const char *brace = strstr(rt->pattern, "{id}");
            if (!brace)
                continue;
            const char *path =
                fmt("%.*s%s%s", (int)(brace - rt->pattern), rt->pattern, urlenc(s), brace + 4);
            api_req rq = {.method = rt->method,
                          .path = path,
                          .token = F.admin->access,
                          .body = has_body(rt) ? "{}" : NULL};
            r = api_do(&rq);
            assert_status2(r, 404, 400);
            assert_problem(r, r->status);
            resp_free(r);
        }
        /* As a token. */
        r = api("GET", "/v1/users/me", NULL, s);
        assert_problem(r, 401);
        resp_free(r);
        /* In a profile: stored as text. */
        b = json_pack("{s:s}", "lastName", s);
        r = apij("PATCH", "/v1/users/me", b, F.part.access);
        assert_status(r, 200);
        assert_str_eq(jstr(r->json, "lastName"), s);
        resp_free(r);
    }
    /* Odd query strings. */
    const char *queries[] = {"q=%ff%fe",
                             "q=%00",
                             "q=%zz",
                             "limit=%00",
                             "q=",
                             "city=",
                             "q="
                             "a%20b%20c%20d%20e%20f%20g%20h%20i%20j%20k%20l%20m%20n%20o",
                             "type=a&type=b",
                             "near=%00,%00&radiusKm=5"};
    for (size_t i = 0; i < N_ELEMS(queries); i++) {
        api_resp *r = api("GET", fmt("/v1/events?%s", queries[i]), NULL, NULL);
        assert_status2(r, 200, 400);
        resp_free(r);
    }
    /* A long Authorization header. */
    char tok[2001];
    memset(tok, 'a', sizeof tok - 1);
    tok[sizeof tok - 1] = '\0';
    const char *hdr[] = {fmt("Authorization: Bearer %s", tok), NULL};
    api_req rq = {.method = "GET", .path = "/v1/users/me", .headers = hdr};
    api_resp *r = api_do(&rq);
    assert_problem(r, 401);
    resp_free(r);
}

/* Request lines that are not UTF-8 text (or are cut inside a character when
 * echoed back) are refused like any other; the server must not die. Each
 * case restarts the server if it did, so that all are reported. */
static void request_line_not_utf8(void **state)
{
    (void)state;
    fixture();
    char longpath[2048] = "/v1/x";
    for (int i = 0; i < 300; i++)
        strcat(longpath, "%C3%A9"); /* 600 bytes of valid UTF-8 once decoded */
    const struct {
        const char *method, *path;
        long want;
    } cases[] = {
        {"GET", "/v1/nope%FF", 404},
        {"GET", "/v1/%C3%28", 404},
        {"GET", "/v1/events/%FF/nope", 404},
        {"G\xff"
         "T",
         "/v1/events", 405},
        {"GET", longpath, 404},
    };
    char failures[2048] = "";
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        api_req rq = {.method = cases[i].method, .path = cases[i].path, .timeout_ms = 5000};
        api_resp *r = api_do(&rq);
        char how[64];
        bool alive = srv_alive(&g_srv, how, sizeof how);
        /* No answer: give a dying process a moment to be seen as dead. */
        for (int w = 0; alive && r->status == 0 && w < 40; w++) {
            struct timespec ts = {0, 50 * 1000 * 1000};
            nanosleep(&ts, NULL);
            alive = srv_alive(&g_srv, how, sizeof how);
        }
        char what[120], method[16];
        snprintf(method, sizeof method, "%s", cases[i].method);
        for (char *m = method; *m; m++)
            if ((unsigned char)*m >= 0x80)
                *m = '?';
        snprintf(what, sizeof what, "case %zu (%s %.60s)", i, method, cases[i].path);
        if (!alive) {
            snprintf(failures + strlen(failures), sizeof failures - strlen(failures),
                     "  %s: no answer (curl: %s); the server %s\n", what, r->curl_error, how);
            assert_int_equal(srv_start(&g_srv, g_srv.dir), 0);
        } else if (r->status < 400 || r->status >= 500 ||
                   (r->status != cases[i].want && r->status != 400)) {
            snprintf(failures + strlen(failures), sizeof failures - strlen(failures),
                     "  %s: status %ld, expected %ld (or 400)%s%s\n", what, r->status,
                     cases[i].want, r->curl_error[0] ? "; curl: " : "", r->curl_error);
        } else {
            assert_problem(r, r->status);
        }
        resp_free(r);
    }
    if (failures[0]) {
        print_error("%s", failures);
        fail_msg("the server did not answer every request line with a 4xx problem");
    }
    api_resp *r = api("GET", "/readyz", NULL, NULL);
    assert_status(r, 200);
    resp_free(r);
}

/* Last: after everything above, nothing changed that should not have. */
static void nothing_changed(void **state)
{
    (void)state;
    fixture();
    assert_int_equal(count_discoverable(), F.discoverable);
    api_resp *r = api("GET", "/readyz", NULL, NULL);
    assert_status(r, 200);
    resp_free(r);
    for (size_t i = 0; i < N_ELEMS(F.events); i++) {
        r = api("GET", fmt("/v1/events/%lld", F.events[i]), NULL, NULL);
        assert_status(r, 200);
        assert_str_eq(jstr(r->json, "status"), "published");
        assert_int_equal(jint(r->json, "maxParticipants"), 50);
        assert_int_equal(jint(r->json, "spotsLeft"), i == 0 ? 49 : 50);
        resp_free(r);
    }
    r = api("GET", fmt("/v1/registrations/%lld", F.reg), NULL, F.part.access);
    assert_status(r, 200);
    assert_str_eq(jstr(r->json, "status"), "confirmed");
    /* Every check-in request of this program was malformed. */
    assert_true(json_is_false(jget(r->json, "checkedIn")));
    resp_free(r);
    /* The people are all there, and can still sign in. */
    api_user *people[] = {F.admin, &F.org, &F.part, &F.quitter};
    for (size_t i = 0; i < N_ELEMS(people); i++) {
        r = api("GET", fmt("/v1/users/%s", people[i]->id), NULL, F.admin->access);
        assert_status(r, 200);
        assert_str_eq(jstr(r->json, "email"), people[i]->email);
        resp_free(r);
        user_login(people[i]);
    }
    r = api("GET", fmt("/v1/users/%s", F.target.id), NULL, F.admin->access);
    assert_status(r, 200);
    assert_str_eq(jstr(r->json, "email"), F.target.email);
    resp_free(r);
    /* The admin's own document is as it was; the participant is still a
     * participant only. */
    r = api("GET", "/v1/users/me", NULL, F.admin->access);
    assert_status(r, 200);
    json_t *before = json_loads(F.admin_me, 0, NULL);
    json_object_del(before, "lastLogin");
    json_object_del(r->json, "lastLogin");
    assert_true(json_equal(before, r->json));
    json_decref(before);
    resp_free(r);
    r = api("GET", "/v1/users/me", NULL, F.part.access);
    assert_int_equal(jlen(r->json, "roles"), 1);
    assert_str_eq(jstr(r->json, "roles.0"), "participant");
    resp_free(r);
    r = api("GET", fmt("/v1/venues/%lld", F.venue), NULL, NULL);
    assert_status(r, 200);
    assert_str_eq(jstr(r->json, "name"), "Hall");
    resp_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_route_answers),   cmocka_unit_test(malformed_json),
        cmocka_unit_test(wrong_content_type),    cmocka_unit_test(body_too_large),
        cmocka_unit_test(deeply_nested),         cmocka_unit_test(wrong_types),
        cmocka_unit_test(invalid_utf8_and_nul),  cmocka_unit_test(unknown_routes),
        cmocka_unit_test(wrong_method),          cmocka_unit_test(sql_looking_input),
        cmocka_unit_test(request_line_not_utf8), cmocka_unit_test(nothing_changed),
    };
    return cmocka_run_group_tests(tests, api_setup, api_teardown);
}
