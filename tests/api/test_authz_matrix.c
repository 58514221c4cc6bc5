/* The authorization matrix: every route of the route table (src/http/routes.c,
 * read through rg_routes[] of the linked library) is called as five callers
 * (the owner of what the route names, another organizer, a participant, an
 * anonymous caller and an admin), and each answer is checked against the
 * expectations below.
 *
 * - No answer is ever a 5xx.
 * - An anonymous caller gets 401 on every RG_AUTH_REQUIRED route.
 * - Every route has an entry here, and every entry names a route: a new
 *   route without authorization expectations fails this suite.
 *
 * "Owner" is the organizer who made the event, venue, channel, message and
 * resource, and whose user id fills /v1/users/{id}; the participant is
 * registered for the owner's events (and has paid where a payment is
 * named). Routes that change what they touch get a fresh target (per route,
 * or per caller), so that the order of the calls does not matter. */
#include "support.h"
#include "http/http.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum who { OWNER, OTHER, PART, ANON, ADMIN, NWHO };
static const char *const who_name[NWHO] = {"owner", "other organizer", "participant", "anonymous",
                                           "admin"};

/* What fills the route's parameter, and how fresh it must be. */
enum target {
    T_NONE,
    T_USER,          /* the owner's user id */
    T_VENUE,         /* the owner's venue */
    T_EVENT,         /* the owner's published event; the participant is confirmed */
    T_EVENT_NEW,     /* a new published event of the owner, per route */
    T_EVENT_STARTED, /* a new event that has started, the participant confirmed, per route */
    T_REG,           /* the participant's registration for T_EVENT */
    T_REG_EACH,      /* a new registration of the participant, per caller */
    T_PAY_REG,       /* the participant's pending registration for a new paid event */
    T_PAYMENT,       /* the participant's payment (owner's paid event) */
    T_PAYMENT_NEW,   /* a new payment of the participant, per route */
    T_PROVIDER,      /* the test payment provider */
    T_CHANNEL,       /* the channel of T_EVENT */
    T_MESSAGE,       /* the owner's message in T_CHANNEL */
    T_RESOURCE,      /* the owner's private resource */
    T_RESOURCE_EACH, /* a new private resource of the owner, per caller */
    T_QUERY,         /* no parameter; the query string ?q=matrix */
};

/* Flags. */
#define FRESH_CALLERS 1u /* callers are new accounts with the same roles */
#define NEW_SESSION   2u /* callers sign in again first (the route ends a session) */
#define IDEMPOTENCY   4u /* send an Idempotency-Key */

typedef struct expect {
    const char *method, *pattern;
    enum target target;
    unsigned flags;
    const char *body; /* "%s" is replaced by the target id where the body names it */
    int want[NWHO][3];
} expect;

/* Shorthands for the common answers. */
#define ALL(s)                                                                                     \
    {                                                                                              \
        {s}, {s}, {s}, {s},                                                                        \
        {                                                                                          \
            s                                                                                      \
        }                                                                                          \
    }
#define SIGNED_IN(s)                                                                               \
    {                                                                                              \
        {s}, {s}, {s}, {401},                                                                      \
        {                                                                                          \
            s                                                                                      \
        }                                                                                          \
    }
#define OWNER_ADMIN(s)                                                                             \
    {                                                                                              \
        {s}, {403}, {403}, {401},                                                                  \
        {                                                                                          \
            s                                                                                      \
        }                                                                                          \
    }
#define ADMIN_ONLY(s)                                                                              \
    {                                                                                              \
        {403}, {403}, {403}, {401},                                                                \
        {                                                                                          \
            s                                                                                      \
        }                                                                                          \
    }
#define ORGANIZERS(s)                                                                              \
    {                                                                                              \
        {s}, {s}, {403}, {401},                                                                    \
        {                                                                                          \
            s                                                                                      \
        }                                                                                          \
    }
#define MEMBERS(s)                                                                                 \
    {                                                                                              \
        {s}, {403, 404}, {s}, {401},                                                               \
        {                                                                                          \
            s                                                                                      \
        }                                                                                          \
    }

static const expect expectations[] = {
    {"GET", "/healthz", T_NONE, 0, NULL, ALL(200)},
    {"GET", "/readyz", T_NONE, 0, NULL, ALL(200)},
    {"GET", "/metrics", T_NONE, 0, NULL, ALL(200)},
    {"GET", "/console", T_NONE, 0, NULL, ALL(200)},
    {"GET", "/console/console.js", T_NONE, 0, NULL, ALL(200)},
    {"GET", "/console/console.css", T_NONE, 0, NULL, ALL(200)},
    {"GET", "/console/data", T_NONE, 0, NULL, ADMIN_ONLY(200)},
    {"GET", "/console/indexes", T_NONE, 0, NULL, ADMIN_ONLY(200)},

    {"POST", "/v1/auth/signup", T_NONE, 0,
     "{\"email\":\"matrix-%s@test.risinggen.dev\",\"password\":\"matrix-pass-1\","
     "\"firstName\":\"M\",\"lastName\":\"X\"}",
     ALL(201)},
    {"POST", "/v1/auth/login", T_NONE, 0, "{\"email\":\"%s\",\"password\":\"%s\"}", ALL(200)},
    {"POST", "/v1/auth/refresh", T_NONE, 0, "{\"refreshToken\":\"000000000000000000000000.x\"}",
     ALL(401)},
    {"POST", "/v1/auth/logout", T_NONE, NEW_SESSION, NULL, SIGNED_IN(204)},
    {"POST", "/v1/auth/sso", T_NONE, 0, "{\"idToken\":\"eyJhbGciOiJub25lIn0.e30.\"}", ALL(401)},
    {"POST", "/v1/auth/password-reset", T_NONE, 0,
     "{\"email\":\"nobody-matrix@test.risinggen.dev\"}", ALL(202)},
    {"POST", "/v1/auth/password-reset/confirm", T_NONE, 0,
     "{\"token\":\"not-a-token\",\"newPassword\":\"matrix-pass-2\"}", ALL(400)},

    {"GET", "/v1/users/me", T_NONE, 0, NULL, SIGNED_IN(200)},
    {"PATCH", "/v1/users/me", T_NONE, 0, "{\"firstName\":\"Matrix\"}", SIGNED_IN(200)},
    {"DELETE", "/v1/users/me", T_NONE, FRESH_CALLERS, NULL, SIGNED_IN(204)},
    {"GET", "/v1/users/me/export", T_NONE, 0, NULL, SIGNED_IN(200)},
    /* profiles are private until their person shares them */
    {"GET", "/v1/users/{id}", T_USER, 0, NULL, {{200}, {404}, {404}, {401}, {200}}},
    {"PATCH", "/v1/users/{id}", T_USER, 0, "{\"roles\":[\"participant\",\"organizer\"]}",
     ADMIN_ONLY(200)},
    {"GET", "/v1/users/{id}/registrations", T_USER, 0, NULL, OWNER_ADMIN(200)},
    {"GET", "/v1/users/{id}/preferences", T_USER, 0, NULL, OWNER_ADMIN(200)},
    {"GET", "/v1/users/{id}/payments", T_USER, 0, NULL, OWNER_ADMIN(200)},

    {"POST", "/v1/venues", T_NONE, 0,
     "{\"name\":\"Matrix hall\",\"city\":\"York\",\"country\":\"GB\",\"lat\":53.96,"
     "\"lng\":-1.08}",
     ORGANIZERS(201)},
    {"GET", "/v1/venues", T_NONE, 0, NULL, ALL(200)},
    {"GET", "/v1/venues/{id}", T_VENUE, 0, NULL, ALL(200)},

    {"POST", "/v1/events", T_NONE, 0,
     "{\"title\":\"Matrix event\",\"startDate\":\"2031-01-01T10:00:00Z\",\"endDate\":"
     "\"2031-01-01T12:00:00Z\",\"type\":\"workshop\"}",
     ORGANIZERS(201)},
    {"GET", "/v1/events", T_NONE, 0, NULL, ALL(200)},
    {"GET", "/v1/events/{id}", T_EVENT, 0, NULL, ALL(200)},
    {"PATCH", "/v1/events/{id}", T_EVENT, 0, "{\"description\":\"Matrix\"}", OWNER_ADMIN(200)},
    {"GET", "/v1/events/{id}/attendees", T_EVENT, 0, NULL, OWNER_ADMIN(200)},
    {"GET", "/v1/events/{id}/stats", T_EVENT, 0, NULL, OWNER_ADMIN(200)},
    {"GET", "/v1/events/{id}/finance", T_EVENT, 0, NULL, OWNER_ADMIN(200)},
    {"POST", "/v1/events/{id}/registrations", T_EVENT_NEW, 0, NULL, SIGNED_IN(201)},
    {"GET", "/v1/events/{id}/channel", T_EVENT, 0, NULL, MEMBERS(200)},
    {"POST",
     "/v1/events/{id}/feedback",
     T_EVENT_STARTED,
     0,
     "{\"rating\":4}",
     {{403}, {403}, {201}, {401}, {403}}},
    {"GET", "/v1/events/{id}/feedback", T_EVENT, 0, NULL, OWNER_ADMIN(200)},

    {"GET", "/v1/registrations/{id}", T_REG, 0, NULL, {{200}, {404}, {200}, {401}, {200}}},
    {"POST",
     "/v1/registrations/{id}/cancel",
     T_REG_EACH,
     0,
     NULL,
     {{200}, {404}, {200}, {401}, {200}}},
    {"POST",
     "/v1/registrations/{id}/check-in",
     T_REG,
     0,
     NULL,
     {{200}, {404}, {403}, {401}, {200}}},

    {"POST",
     "/v1/payments",
     T_PAY_REG,
     IDEMPOTENCY,
     "{\"registrationId\":%s,\"paymentMethod\":\"card\",\"provider\":\"test\"}",
     {{403}, {404}, {201}, {401}, {403}}},
    {"GET", "/v1/payments/{id}", T_PAYMENT, 0, NULL, {{200}, {404}, {200}, {401}, {200}}},
    {"POST",
     "/v1/payments/{id}/refund",
     T_PAYMENT_NEW,
     0,
     "{\"amount\":\"1.00\"}",
     {{200}, {404}, {403}, {401}, {200}}},
    {"POST", "/v1/webhooks/payments/{provider}", T_PROVIDER, 0,
     "{\"id\":\"evt_matrix\",\"type\":\"payment.succeeded\"}", ALL(400)},

    {"POST", "/v1/channels", T_NONE, 0, "{\"name\":\"Matrix group\"}", ORGANIZERS(201)},
    {"GET", "/v1/channels/{id}", T_CHANNEL, 0, NULL, MEMBERS(200)},
    {"GET", "/v1/channels/{id}/messages", T_CHANNEL, 0, NULL, MEMBERS(200)},
    {"POST", "/v1/channels/{id}/messages", T_CHANNEL, 0,
     "{\"messageType\":\"message\",\"content\":{\"text\":\"matrix\"}}", MEMBERS(201)},
    {"GET", "/v1/messages/{id}", T_MESSAGE, 0, NULL, MEMBERS(200)},
    {"POST", "/v1/messages/{id}/read", T_MESSAGE, 0, NULL, MEMBERS(200)},

    {"POST", "/v1/resources", T_NONE, 0,
     "{\"title\":\"Matrix notes\",\"type\":\"document\",\"url\":\"https://example.org/m\"}",
     ORGANIZERS(201)},
    {"GET", "/v1/resources/{id}", T_RESOURCE, 0, NULL, {{200}, {404}, {404}, {404}, {200}}},
    {"PATCH",
     "/v1/resources/{id}",
     T_RESOURCE,
     0,
     "{\"description\":\"matrix\"}",
     {{200}, {404}, {404}, {401}, {200}}},
    {"DELETE", "/v1/resources/{id}", T_RESOURCE_EACH, 0, NULL, {{204}, {404}, {404}, {401}, {204}}},
    {"GET", "/v1/search", T_QUERY, 0, NULL, ALL(200)},

    {"GET", "/v1/admin/audit", T_NONE, 0, NULL, ADMIN_ONLY(200)},
};

static struct {
    bool ready;
    api_user owner, other, part, login_target;
    api_user *admin;
    char venue[24], event[24], reg[24], payment[24], channel[32], message[32], resource[32];
} F;

static const char *id_of(api_resp *r, const char *path)
{
    static char buf[64];
    json_t *v = jget(r->json, path);
    if (json_is_integer(v))
        snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
    else
        snprintf(buf, sizeof buf, "%s", json_string_value(v) ? json_string_value(v) : "");
    return buf;
}

static long long owner_paid_event(void)
{
    return event_create_published(
        F.owner.access, json_pack("{s:{s:s, s:s}}", "cost", "amount", "9.00", "currency", "GBP"));
}

/* Pays a pending registration of the participant; the payment id. */
static void pay(long long reg, char out[24])
{
    static int n;
    char h[96];
    snprintf(h, sizeof h, "Idempotency-Key: matrix-fixture-%ld-%d", (long)getpid(), ++n);
    const char *hdrs[] = {h, NULL};
    api_req rq = {.method = "POST",
                  .path = "/v1/payments",
                  .body = fmt("{\"registrationId\":%lld,\"paymentMethod\":\"card\","
                              "\"provider\":\"test\"}",
                              reg),
                  .token = F.part.access,
                  .headers = hdrs};
    api_resp *r = api_do(&rq);
    assert_status(r, 201);
    snprintf(out, 24, "%s", id_of(r, "id"));
    resp_free(r);
}

static void new_resource(char out[32])
{
    api_resp *r = api("POST", "/v1/resources",
                      "{\"title\":\"Owner notes\",\"type\":\"document\",\"url\":"
                      "\"https://example.org/o\",\"isPublic\":false}",
                      F.owner.access);
    assert_status(r, 201);
    snprintf(out, 32, "%s", id_of(r, "id"));
    resp_free(r);
}

static long long started_event(void)
{
    char start[32], end[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&(time_t){now - 3600}, &tm);
    strftime(start, sizeof start, "%Y-%m-%dT%H:%M:%SZ", &tm);
    gmtime_r(&(time_t){now + 86400}, &tm);
    strftime(end, sizeof end, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return event_create_published(F.owner.access,
                                  json_pack("{s:s, s:s}", "startDate", start, "endDate", end));
}

static void fixture(void)
{
    if (F.ready)
        return;
    F.admin = admin_user();
    organizer_signup(&F.owner, "mx-owner");
    organizer_signup(&F.other, "mx-other");
    user_signup(&F.part, "mx-part");
    user_signup(&F.login_target, "mx-login");
    snprintf(F.venue, sizeof F.venue, "%lld",
             venue_create(F.owner.access, "Owner hall", "Bath", "GB", 51.38, -2.36));
    long long ev = event_create_published(F.owner.access, NULL);
    snprintf(F.event, sizeof F.event, "%lld", ev);
    snprintf(F.reg, sizeof F.reg, "%lld", register_ok(F.part.access, ev, "confirmed"));
    long long pe = owner_paid_event();
    pay(register_ok(F.part.access, pe, "pending"), F.payment);
    api_resp *r = api("GET", fmt("/v1/events/%lld/channel", ev), NULL, F.owner.access);
    assert_status(r, 200);
    snprintf(F.channel, sizeof F.channel, "%s", id_of(r, "id"));
    resp_free(r);
    r = api("POST", fmt("/v1/channels/%s/messages", F.channel),
            "{\"messageType\":\"announcement\",\"content\":{\"text\":\"Welcome\"}}",
            F.owner.access);
    assert_status(r, 201);
    snprintf(F.message, sizeof F.message, "%s", id_of(r, "id"));
    resp_free(r);
    new_resource(F.resource);
    F.ready = true;
}

static const expect *expectation_of(const rg_route *rt)
{
    for (size_t i = 0; i < N_ELEMS(expectations); i++)
        if (strcmp(expectations[i].method, rt->method) == 0 &&
            strcmp(expectations[i].pattern, rt->pattern) == 0)
            return &expectations[i];
    return NULL;
}

/* Fills tid for the route's target (per route; per caller for *_EACH). */
static void make_target(const expect *e, char tid[64])
{
    tid[0] = '\0';
    switch (e->target) {
    case T_NONE:
    case T_QUERY:
        break;
    case T_USER:
        snprintf(tid, 64, "%s", F.owner.id);
        break;
    case T_VENUE:
        snprintf(tid, 64, "%s", F.venue);
        break;
    case T_EVENT:
        snprintf(tid, 64, "%s", F.event);
        break;
    case T_EVENT_NEW:
        snprintf(tid, 64, "%lld", event_create_published(F.owner.access, NULL));
        break;
    case T_EVENT_STARTED: {
        long long ev = started_event();
        register_ok(F.part.access, ev, "confirmed");
        snprintf(tid, 64, "%lld", ev);
        break;
    }
    case T_REG:
        snprintf(tid, 64, "%s", F.reg);
        break;
    case T_REG_EACH:
        snprintf(
            tid, 64, "%lld",
            register_ok(F.part.access, event_create_published(F.owner.access, NULL), "confirmed"));
        break;
    case T_PAY_REG:
        snprintf(tid, 64, "%lld", register_ok(F.part.access, owner_paid_event(), "pending"));
        break;
    case T_PAYMENT:
        snprintf(tid, 64, "%s", F.payment);
        break;
    case T_PAYMENT_NEW: {
        char pid[24];
        pay(register_ok(F.part.access, owner_paid_event(), "pending"), pid);
        snprintf(tid, 64, "%s", pid);
        break;
    }
    case T_PROVIDER:
        snprintf(tid, 64, "test");
        break;
    case T_CHANNEL:
        snprintf(tid, 64, "%s", F.channel);
        break;
    case T_MESSAGE:
        snprintf(tid, 64, "%s", F.message);
        break;
    case T_RESOURCE:
        snprintf(tid, 64, "%s", F.resource);
        break;
    case T_RESOURCE_EACH: {
        char rid[32];
        new_resource(rid);
        snprintf(tid, 64, "%s", rid);
        break;
    }
    }
}

/* The pattern with its one parameter filled in. */
static const char *path_of(const char *pattern, const char *tid)
{
    const char *open = strchr(pattern, '{');
    if (!open)
        return pattern;
    const char *close = strchr(open, '}');
    return fmt("%.*s%s%s", (int)(open - pattern), pattern, tid, close + 1);
}

/* The token of caller w for this route (NULL: anonymous). */
static const char *token_of(const expect *e, enum who w, api_user *fresh)
{
    api_user *u = w == OWNER   ? &F.owner
                  : w == OTHER ? &F.other
                  : w == PART  ? &F.part
                  : w == ADMIN ? F.admin
                               : NULL;
    if (!u)
        return NULL;
    if (e->flags & FRESH_CALLERS) {
        user_signup(fresh, "mx-fresh");
        if (w == OWNER || w == OTHER)
            make_organizer(fresh);
        if (w == ADMIN) {
            api_resp *r = api("PATCH", fmt("/v1/users/%s", fresh->id),
                              "{\"roles\":[\"participant\",\"admin\"]}", F.admin->access);
            assert_status(r, 200);
            resp_free(r);
        }
        return fresh->access;
    }
    if (e->flags & NEW_SESSION) {
        *fresh = *u;
        user_login(fresh);
        return fresh->access;
    }
    return u->access;
}

static bool wanted(const int *want, long status)
{
    for (int i = 0; i < 3 && want[i]; i++)
        if (want[i] == status)
            return true;
    return false;
}

/* Runs one route as every caller; returns how many answers were unexpected. */
static int run_route(const rg_route *rt, const expect *e)
{
    int bad = 0;
    char tid[64];
    bool each = e->target == T_REG_EACH || e->target == T_RESOURCE_EACH;
    if (!each)
        make_target(e, tid);
    for (int w = 0; w < NWHO; w++) {
        if (each)
            make_target(e, tid);
        api_user fresh;
        const char *token = token_of(e, (enum who)w, &fresh);
        const char *body = NULL;
        static int n;
        if (e->body && strstr(e->pattern, "/v1/auth/login"))
            body = fmt(e->body, F.login_target.email, F.login_target.password);
        else if (e->body && strstr(e->pattern, "/v1/auth/signup"))
            body = fmt(e->body, fmt("%ld-%d", (long)getpid(), ++n));
        else if (e->body)
            body = fmt(e->body, tid);
        char key[96];
        snprintf(key, sizeof key, "Idempotency-Key: matrix-%ld-%d", (long)getpid(), ++n);
        const char *hdrs[] = {key, NULL};
        api_req rq = {.method = rt->method,
                      .path = e->target == T_QUERY ? fmt("%s?q=matrix", rt->pattern)
                                                   : path_of(rt->pattern, tid),
                      .body = body,
                      .token = token,
                      .headers = (e->flags & IDEMPOTENCY) ? hdrs : NULL};
        api_resp *r = api_do(&rq); /* fails the test on a 5xx */
        if (r->status >= 500) {
            print_error("%s as %s: %ld\n", rt->name, who_name[w], r->status);
            bad++;
        }
        if (w == ANON && rt->auth == RG_AUTH_REQUIRED && r->status != 401) {
            print_error("%s as anonymous: %ld, not 401 (the route requires a sign-in)\n", rt->name,
                        r->status);
            bad++;
        }
        if (!wanted(e->want[w], r->status)) {
            print_error("%s as %s: %ld, expected %d%s%s (%.200s)\n", rt->name, who_name[w],
                        r->status, e->want[w][0], e->want[w][1] ? " or " : "",
                        e->want[w][1] ? fmt("%d", e->want[w][1]) : "", r->body ? r->body : "");
            bad++;
        }
        resp_free(r);
    }
    return bad;
}

static void every_route_has_expectations(void **state)
{
    (void)state;
    int missing = 0, stale = 0;
    for (const rg_route *rt = rg_routes; rt->method; rt++)
        if (!expectation_of(rt)) {
            print_error("route %s has no entry in the authorization expectations of "
                        "tests/api/test_authz_matrix.c\n",
                        rt->name);
            missing++;
        }
    for (size_t i = 0; i < N_ELEMS(expectations); i++) {
        bool found = false;
        for (const rg_route *rt = rg_routes; rt->method && !found; rt++)
            found = strcmp(expectations[i].method, rt->method) == 0 &&
                    strcmp(expectations[i].pattern, rt->pattern) == 0;
        if (!found) {
            print_error("expectation %s %s names no route of src/http/routes.c\n",
                        expectations[i].method, expectations[i].pattern);
            stale++;
        }
    }
    assert_int_equal(missing, 0);
    assert_int_equal(stale, 0);
}

static void every_route_as_every_caller(void **state)
{
    (void)state;
    fixture();
    int bad = 0, routes = 0;
    for (const rg_route *rt = rg_routes; rt->method; rt++) {
        const expect *e = expectation_of(rt);
        if (!e)
            continue; /* reported by every_route_has_expectations */
        bad += run_route(rt, e);
        routes++;
    }
    print_message("%d routes x %d callers checked\n", routes, NWHO);
    assert_int_equal(bad, 0);
}

static void anonymous_never_passes_required_routes_with_bad_tokens(void **state)
{
    (void)state;
    fixture();
    /* A token that is not one, and one that was: both 401 on every
     * signed-in route, before the handler runs. */
    api_user gone;
    user_signup(&gone, "mx-gone");
    api_resp *r = api("POST", "/v1/auth/logout", NULL, gone.access);
    assert_status(r, 204);
    resp_free(r);
    const char *tokens[] = {"not-a-real-token-at-all", gone.access};
    for (const rg_route *rt = rg_routes; rt->method; rt++) {
        if (rt->auth != RG_AUTH_REQUIRED)
            continue;
        const char *tid = strstr(rt->pattern, "{id}") ? "1" : "";
        for (size_t i = 0; i < N_ELEMS(tokens); i++) {
            api_resp *x = api(rt->method, path_of(rt->pattern, tid), NULL, tokens[i]);
            if (x->status != 401)
                print_error("%s with a bad token: %ld\n", rt->name, x->status);
            assert_problem(x, 401);
            resp_free(x);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_route_has_expectations),
        cmocka_unit_test(every_route_as_every_caller),
        cmocka_unit_test(anonymous_never_passes_required_routes_with_bad_tokens),
    };
    return cmocka_run_group_tests(tests, api_setup, api_teardown);
}
