/* Registrations: capacity, waiting list, cancel, check-in, visibility, and
 * the capacity rule under 200 simultaneous registrations. */
#include "support.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct {
    bool ready;
    api_user org, org2;
    api_user p[4]; /* participants reused by the functional tests */
    api_user *admin;
} F;

static void fixture(void)
{
    if (F.ready)
        return;
    organizer_signup(&F.org, "org");
    organizer_signup(&F.org2, "orgtwo");
    users_signup_parallel(F.p, (int)N_ELEMS(F.p), "part");
    F.admin = admin_user();
    F.ready = true;
}

static api_resp *get_reg(long long id, const char *token)
{
    return api("GET", fmt("/v1/registrations/%lld", id), NULL, token);
}

static void assert_reg_status(long long id, const char *status)
{
    api_resp *r = get_reg(id, F.admin->access);
    assert_status(r, 200);
    assert_str_eq(jstr(r->json, "status"), status);
    resp_free(r);
}

static json_t *stats(long long event_id)
{
    api_resp *r = api("GET", fmt("/v1/events/%lld/stats", event_id), NULL, F.org.access);
    assert_status(r, 200);
    json_t *s = json_incref(r->json);
    resp_free(r);
    return s;
}

#define assert_stat(s, name, want) assert_int_equal(jint((s), (name)), (want))

static void register_free_and_paid(void **state)
{
    (void)state;
    fixture();
    long long free_ev =
        event_create_published(F.org.access, json_pack("{s:i}", "maxParticipants", 5));
    api_resp *r =
        api("POST", fmt("/v1/events/%lld/registrations", free_ev),
            "{\"dietaryRequirements\":\"vegetarian\",\"specialNeeds\":\"step-free access\"}",
            F.p[0].access);
    assert_status(r, 201);
    long long id = jint(r->json, "id");
    assert_true(id > 0);
    assert_int_equal(jint(r->json, "eventId"), free_ev);
    assert_str_eq(jstr(r->json, "userId"), F.p[0].id);
    assert_str_eq(jstr(r->json, "status"), "confirmed");
    assert_str_eq(jstr(r->json, "paymentStatus"), "unpaid");
    assert_str_eq(jstr(r->json, "dietaryRequirements"), "vegetarian");
    assert_str_eq(jstr(r->json, "specialNeeds"), "step-free access");
    assert_true(json_is_false(jget(r->json, "checkedIn")));
    assert_true(json_is_string(jget(r->json, "registrationDate")));
    assert_non_null(strstr(r->location, fmt("/v1/registrations/%lld", id)));
    resp_free(r);
    r = api("GET", fmt("/v1/events/%lld", free_ev), NULL, NULL);
    assert_int_equal(jint(r->json, "spotsLeft"), 4);
    resp_free(r);

    /* Paid: pending, holding a place until holdExpiresAt. */
    long long paid_ev = event_create_published(
        F.org.access, json_pack("{s:i, s:{s:s, s:s}}", "maxParticipants", 5, "cost", "amount",
                                "12.50", "currency", "GBP"));
    r = register_for(F.p[0].access, paid_ev);
    assert_status(r, 201);
    assert_str_eq(jstr(r->json, "status"), "pending");
    assert_str_eq(jstr(r->json, "paymentStatus"), "unpaid");
    const char *hold = jstr(r->json, "holdExpiresAt");
    const char *reg = jstr(r->json, "registrationDate");
    assert_non_null(hold);
    assert_non_null(reg);
    assert_int_equal(strlen(hold), 20); /* 2030-06-01T12:00:00Z */
    assert_true(hold[19] == 'Z');
    assert_true(strcmp(hold, reg) > 0);
    resp_free(r);
    json_t *s = stats(paid_ev);
    assert_stat(s, "pending", 1);
    assert_stat(s, "confirmed", 0);
    assert_stat(s, "spotsLeft", 4);
    json_decref(s);

    /* Twice: 409 already-registered, for either. */
    register_refused(F.p[0].access, free_ev, 409, "already-registered");
    register_refused(F.p[0].access, paid_ev, 409, "already-registered");

    /* Signed in only; unknown events are 404; bad bodies 422. */
    r = register_for(NULL, free_ev);
    assert_problem(r, 401);
    resp_free(r);
    r = register_for(F.p[1].access, 999999);
    assert_problem(r, 404);
    resp_free(r);
    r = api("POST", "/v1/events/not-a-number/registrations", NULL, F.p[1].access);
    assert_problem(r, 404);
    resp_free(r);
    r = api("POST", fmt("/v1/events/%lld/registrations", free_ev), "{\"dietaryRequirements\":42}",
            F.p[1].access);
    assert_problem(r, 422);
    assert_field_error(r, "dietaryRequirements");
    resp_free(r);
    s = stats(free_ev);
    assert_stat(s, "confirmed", 1);
    json_decref(s);
}

static void register_full_and_waitlist(void **state)
{
    (void)state;
    fixture();
    long long no_wl =
        event_create_published(F.org.access, json_pack("{s:i}", "maxParticipants", 1));
    register_ok(F.p[0].access, no_wl, "confirmed");
    api_resp *r = register_for(F.p[1].access, no_wl);
    assert_problem_type(r, 409, "event-full");
    resp_free(r);

    long long wl = event_create_published(
        F.org.access, json_pack("{s:i, s:b}", "maxParticipants", 1, "waitlistEnabled", 1));
    long long r0 = register_ok(F.p[0].access, wl, "confirmed");
    long long r1 = register_ok(F.p[1].access, wl, "waitlisted");
    long long r2 = register_ok(F.p[2].access, wl, "waitlisted");
    json_t *s = stats(wl);
    assert_stat(s, "maxParticipants", 1);
    assert_stat(s, "confirmed", 1);
    assert_stat(s, "waitlisted", 2);
    assert_stat(s, "spotsLeft", 0);
    json_decref(s);

    /* The confirmed one cancels: the first waitlisted gets the place. */
    r = api("POST", fmt("/v1/registrations/%lld/cancel", r0), "{\"reason\":\"cannot come\"}",
            F.p[0].access);
    assert_status(r, 200);
    assert_str_eq(jstr(r->json, "status"), "cancelled");
    assert_true(json_is_string(jget(r->json, "cancelledAt")));
    assert_str_eq(jstr(r->json, "cancellationReason"), "cannot come");
    resp_free(r);
    r = get_reg(r1, F.p[1].access);
    assert_status(r, 200);
    assert_str_eq(jstr(r->json, "status"), "confirmed");
    resp_free(r);
    assert_reg_status(r2, "waitlisted");
    s = stats(wl);
    assert_stat(s, "confirmed", 1);
    assert_stat(s, "waitlisted", 1);
    assert_stat(s, "cancelled", 1);
    assert_stat(s, "pending", 0);
    assert_stat(s, "spotsLeft", 0);
    json_decref(s);

    /* The organizer cancels the new one: the next moves up. */
    r = api("POST", fmt("/v1/registrations/%lld/cancel", r1), NULL, F.org.access);
    assert_status(r, 200);
    assert_str_eq(jstr(r->json, "status"), "cancelled");
    resp_free(r);
    assert_reg_status(r2, "confirmed");
    s = stats(wl);
    assert_stat(s, "confirmed", 1);
    assert_stat(s, "waitlisted", 0);
    assert_stat(s, "cancelled", 2);
    assert_stat(s, "spotsLeft", 0);
    json_decref(s);

    /* The last one cancels (by the admin): a place is free again. */
    r = api("POST", fmt("/v1/registrations/%lld/cancel", r2), NULL, F.admin->access);
    assert_status(r, 200);
    resp_free(r);
    s = stats(wl);
    assert_stat(s, "confirmed", 0);
    assert_stat(s, "cancelled", 3);
    assert_stat(s, "spotsLeft", 1);
    json_decref(s);
    r = api("GET", fmt("/v1/events/%lld", wl), NULL, NULL);
    assert_int_equal(jint(r->json, "spotsLeft"), 1);
    resp_free(r);

    /* Someone else cannot cancel it; a cancelled person may register again. */
    long long r3 = register_ok(F.p[3].access, wl, "confirmed");
    r = api("POST", fmt("/v1/registrations/%lld/cancel", r3), NULL, F.p[0].access);
    assert_problem(r, 404);
    resp_free(r);
    r = api("POST", fmt("/v1/registrations/%lld/cancel", r3), NULL, F.org2.access);
    assert_status2(r, 403, 404);
    assert_problem(r, r->status);
    resp_free(r);
    r = api("POST", fmt("/v1/registrations/%lld/cancel", r3), NULL, NULL);
    assert_problem(r, 401);
    resp_free(r);
    assert_reg_status(r3, "confirmed");
    r = register_for(F.p[0].access, wl);
    assert_status(r, 201);
    assert_str_eq(jstr(r->json, "status"), "waitlisted");
    resp_free(r);
}

static void check_in(void **state)
{
    (void)state;
    fixture();
    long long ev = event_create_published(F.org.access, json_pack("{s:i}", "maxParticipants", 10));
    long long a = register_ok(F.p[0].access, ev, "confirmed");
    long long b = register_ok(F.p[1].access, ev, "confirmed");
    const char *path = fmt("/v1/registrations/%lld/check-in", a);
    char p[64];
    snprintf(p, sizeof p, "%s", path);

    /* Not by the registrant (403) nor strangers. */
    api_resp *r = api("POST", p, NULL, F.p[0].access);
    assert_problem(r, 403);
    resp_free(r);
    r = api("POST", p, NULL, F.p[1].access);
    assert_status2(r, 403, 404);
    assert_problem(r, r->status);
    resp_free(r);
    r = api("POST", p, NULL, F.org2.access);
    assert_status2(r, 403, 404);
    assert_problem(r, r->status);
    resp_free(r);
    r = api("POST", p, NULL, NULL);
    assert_problem(r, 401);
    resp_free(r);
    assert_reg_status(a, "confirmed");
    r = get_reg(a, F.org.access);
    assert_true(json_is_false(jget(r->json, "checkedIn")));
    resp_free(r);

    /* The owner checks in; again gives the same time (idempotent). */
    r = api("POST", p, NULL, F.org.access);
    assert_status(r, 200);
    assert_true(json_is_true(jget(r->json, "checkedIn")));
    char at[40];
    assert_non_null(jstr(r->json, "checkedInAt"));
    snprintf(at, sizeof at, "%s", jstr(r->json, "checkedInAt"));
    resp_free(r);
    struct timespec ts = {1, 100 * 1000 * 1000}; /* so that a new time would differ */
    nanosleep(&ts, NULL);
    r = api("POST", p, NULL, F.org.access);
    assert_status(r, 200);
    assert_true(json_is_true(jget(r->json, "checkedIn")));
    assert_str_eq(jstr(r->json, "checkedInAt"), at);
    resp_free(r);
    r = api("POST", p, NULL, F.admin->access);
    assert_status(r, 200);
    assert_str_eq(jstr(r->json, "checkedInAt"), at);
    resp_free(r);
    json_t *s = stats(ev);
    assert_stat(s, "checkedIn", 1);
    assert_stat(s, "confirmed", 2);
    json_decref(s);

    /* A cancelled registration cannot be checked in. */
    r = api("POST", fmt("/v1/registrations/%lld/cancel", b), NULL, F.p[1].access);
    assert_status(r, 200);
    resp_free(r);
    r = api("POST", fmt("/v1/registrations/%lld/check-in", b), NULL, F.org.access);
    assert_problem(r, 409);
    resp_free(r);
    r = get_reg(b, F.org.access);
    assert_true(json_is_false(jget(r->json, "checkedIn")));
    resp_free(r);
    r = api("POST", "/v1/registrations/999999/check-in", NULL, F.org.access);
    assert_problem(r, 404);
    resp_free(r);
}

static void get_registration_visibility(void **state)
{
    (void)state;
    fixture();
    long long ev = event_create_published(F.org.access, NULL);
    long long id = register_ok(F.p[0].access, ev, "confirmed");
    const char *who[] = {F.p[0].access, F.org.access, F.admin->access};
    for (size_t i = 0; i < N_ELEMS(who); i++) {
        api_resp *r = get_reg(id, who[i]);
        assert_status(r, 200);
        assert_int_equal(jint(r->json, "id"), id);
        assert_int_equal(jint(r->json, "eventId"), ev);
        assert_str_eq(jstr(r->json, "userId"), F.p[0].id);
        static const char *const fields[] = {"id",
                                             "eventId",
                                             "userId",
                                             "registrationDate",
                                             "status",
                                             "paymentStatus",
                                             "paymentId",
                                             "dietaryRequirements",
                                             "specialNeeds",
                                             "checkedIn",
                                             "checkedInAt",
                                             "cancelledAt",
                                             "cancellationReason",
                                             "guardianConsent"};
        for (size_t k = 0; k < N_ELEMS(fields); k++)
            if (!json_object_get(r->json, fields[k]))
                fail_msg("the registration has no \"%s\": %s", fields[k], r->body);
        resp_free(r);
    }
    api_resp *r = get_reg(id, F.p[1].access);
    assert_problem(r, 404);
    resp_free(r);
    r = get_reg(id, F.org2.access);
    assert_problem(r, 404);
    resp_free(r);
    r = get_reg(id, NULL);
    assert_problem(r, 401);
    resp_free(r);
    r = get_reg(999999, F.admin->access);
    assert_problem(r, 404);
    resp_free(r);
    r = api("GET", "/v1/registrations/abc", NULL, F.admin->access);
    assert_problem(r, 404);
    resp_free(r);
}

static void register_not_open(void **state)
{
    (void)state;
    fixture();
    /* A draft is not there for participants. */
    long long draft = event_create(F.org.access, NULL);
    api_resp *r = register_for(F.p[0].access, draft);
    assert_problem(r, 404);
    resp_free(r);
    /* A published event that is not public is not there either. */
    long long priv = event_create_published(F.org.access, json_pack("{s:b}", "isPublic", 0));
    r = register_for(F.p[0].access, priv);
    assert_problem(r, 404);
    resp_free(r);
    /* A cancelled event: 422. */
    long long cancelled = event_create_published(F.org.access, NULL);
    r = api("PATCH", fmt("/v1/events/%lld", cancelled), "{\"status\":\"cancelled\"}", F.org.access);
    assert_status(r, 200);
    resp_free(r);
    r = register_for(F.p[0].access, cancelled);
    assert_problem(r, 422);
    resp_free(r);
    /* A completed event: 422. */
    long long done = event_create_published(F.org.access, NULL);
    r = api("PATCH", fmt("/v1/events/%lld", done), "{\"status\":\"completed\"}", F.org.access);
    assert_status(r, 200);
    resp_free(r);
    r = register_for(F.p[0].access, done);
    assert_problem(r, 422);
    resp_free(r);
    /* Past the registration deadline: 422. */
    long long late = event_create_published(
        F.org.access, json_pack("{s:s}", "registrationDeadline", "2021-01-01T00:00:00Z"));
    r = register_for(F.p[0].access, late);
    assert_problem(r, 422);
    resp_free(r);
    /* An event that already ended (no deadline given): 422. */
    long long past = event_create_published(
        F.org.access, json_pack("{s:s, s:s}", "startDate", "2021-05-01T10:00:00Z", "endDate",
                                "2021-05-02T10:00:00Z"));
    r = register_for(F.p[0].access, past);
    assert_problem(r, 422);
    resp_free(r);
    /* None of those took a place. */
    long long ids[] = {cancelled, done, late, past};
    for (size_t i = 0; i < N_ELEMS(ids); i++) {
        json_t *s = stats(ids[i]);
        assert_stat(s, "confirmed", 0);
        assert_stat(s, "pending", 0);
        json_decref(s);
    }
}

static void user_registrations_list(void **state)
{
    (void)state;
    fixture();
    api_user u;
    user_signup(&u, "lister");
    long long ev = event_create_published(
        F.org.access, json_pack("{s:s}", "title", "Listed event for registrations"));
    long long ev2 = event_create_published(F.org.access, NULL);
    long long id = register_ok(u.access, ev, "confirmed");
    long long id2 = register_ok(u.access, ev2, "confirmed");
    api_resp *r = api("GET", fmt("/v1/users/%s/registrations", u.id), NULL, u.access);
    assert_status(r, 200);
    assert_int_equal(jlen(r->json, "items"), 2);
    bool found = false;
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(r->json, "items"), i, it)
    {
        assert_str_eq(jstr(it, "userId"), u.id);
        if (jint(it, "id") == id) {
            found = true;
            assert_int_equal(jint(it, "eventId"), ev);
            assert_str_eq(jstr(it, "status"), "confirmed");
            assert_true(json_is_object(jget(it, "event")));
            assert_int_equal(jint(it, "event.id"), ev);
            assert_str_eq(jstr(it, "event.title"), "Listed event for registrations");
            assert_non_null(jstr(it, "event.slug"));
            assert_non_null(jstr(it, "event.startDate"));
        } else {
            assert_int_equal(jint(it, "id"), id2);
        }
    }
    assert_true(found);
    resp_free(r);
    /* Paging, one at a time. */
    r = api("GET", fmt("/v1/users/%s/registrations?limit=1", u.id), NULL, F.admin->access);
    assert_status(r, 200);
    assert_int_equal(jlen(r->json, "items"), 1);
    const char *next = jstr(r->json, "nextCursor");
    assert_non_null(next);
    api_resp *r2 =
        api("GET", fmt("/v1/users/%s/registrations?limit=1&cursor=%s", u.id, urlenc(next)), NULL,
            u.access);
    assert_status(r2, 200);
    assert_int_equal(jlen(r2->json, "items"), 1);
    assert_true(jint(r->json, "items.0.id") != jint(r2->json, "items.0.id"));
    resp_free(r2);
    resp_free(r);
    /* Others may not list them. */
    r = api("GET", fmt("/v1/users/%s/registrations", u.id), NULL, F.p[0].access);
    assert_status2(r, 403, 404);
    assert_problem(r, r->status);
    resp_free(r);
    r = api("GET", fmt("/v1/users/%s/registrations", u.id), NULL, F.org.access);
    assert_status2(r, 403, 404);
    resp_free(r);
}

static void holds_and_cancellations_keep_counts(void **state)
{
    (void)state;
    fixture();
    /* A pending (paid, unpaid yet) registration holds its place. */
    long long paid = event_create_published(
        F.org.access, json_pack("{s:i, s:{s:s, s:s}, s:b}", "maxParticipants", 1, "cost", "amount",
                                "5.00", "currency", "EUR", "waitlistEnabled", 0));
    long long hold = register_ok(F.p[0].access, paid, "pending");
    api_resp *r = register_for(F.p[1].access, paid);
    assert_problem_type(r, 409, "event-full");
    resp_free(r);
    /* Cancelling the hold gives the place back. */
    r = api("POST", fmt("/v1/registrations/%lld/cancel", hold), NULL, F.p[0].access);
    assert_status(r, 200);
    assert_str_eq(jstr(r->json, "status"), "cancelled");
    resp_free(r);
    register_ok(F.p[1].access, paid, "pending");

    /* A waitlisted person leaving frees no place. */
    long long ev = event_create_published(
        F.org.access, json_pack("{s:i, s:b}", "maxParticipants", 1, "waitlistEnabled", 1));
    long long c = register_ok(F.p[0].access, ev, "confirmed");
    long long w1 = register_ok(F.p[1].access, ev, "waitlisted");
    long long w2 = register_ok(F.p[2].access, ev, "waitlisted");
    r = api("POST", fmt("/v1/registrations/%lld/cancel", w1), NULL, F.p[1].access);
    assert_status(r, 200);
    resp_free(r);
    assert_reg_status(c, "confirmed");
    assert_reg_status(w2, "waitlisted");
    json_t *s = stats(ev);
    assert_stat(s, "confirmed", 1);
    assert_stat(s, "waitlisted", 1);
    assert_stat(s, "cancelled", 1);
    assert_stat(s, "spotsLeft", 0);
    json_decref(s);

    /* Cancelling twice changes nothing the second time. */
    r = api("POST", fmt("/v1/registrations/%lld/cancel", w1), NULL, F.p[1].access);
    assert_status2(r, 200, 409);
    resp_free(r);
    s = stats(ev);
    assert_stat(s, "confirmed", 1);
    assert_stat(s, "waitlisted", 1);
    assert_stat(s, "cancelled", 1);
    assert_stat(s, "spotsLeft", 0);
    json_decref(s);

    /* The maximum cannot go below the places taken. */
    long long big = event_create_published(F.org.access, json_pack("{s:i}", "maxParticipants", 5));
    register_ok(F.p[0].access, big, "confirmed");
    register_ok(F.p[1].access, big, "confirmed");
    r = api("PATCH", fmt("/v1/events/%lld", big), "{\"maxParticipants\":1}", F.org.access);
    assert_problem(r, 422);
    assert_field_error(r, "maxParticipants");
    resp_free(r);
    r = api("PATCH", fmt("/v1/events/%lld", big), "{\"maxParticipants\":2}", F.org.access);
    assert_status(r, 200);
    assert_int_equal(jint(r->json, "spotsLeft"), 0);
    resp_free(r);
    register_refused(F.p[2].access, big, 409, "event-full");
}

static void age_rules(void **state)
{
    (void)state;
    fixture();
    api_user child, adult, unknown;
    user_signup(&child, "child");
    user_signup(&adult, "adult");
    user_signup(&unknown, "noage");
    api_resp *r = api("PATCH", "/v1/users/me", "{\"dateOfBirth\":\"2016-01-15\"}", child.access);
    assert_status(r, 200);
    resp_free(r);
    r = api("PATCH", "/v1/users/me", "{\"dateOfBirth\":\"1990-01-15\"}", adult.access);
    assert_status(r, 200);
    resp_free(r);

    long long adults_only = event_create_published(F.org.access, json_pack("{s:i}", "minAge", 18));
    r = register_for(child.access, adults_only);
    assert_problem(r, 422);
    resp_free(r);
    r = register_for(unknown.access, adults_only);
    assert_problem(r, 422);
    resp_free(r);
    register_ok(adult.access, adults_only, "confirmed");

    long long youth =
        event_create_published(F.org.access, json_pack("{s:i}", "guardianConsentUnder", 16));
    r = register_for(child.access, youth);
    assert_problem(r, 422);
    assert_field_error(r, "guardianConsent");
    resp_free(r);
    r = api("POST", fmt("/v1/events/%lld/registrations", youth),
            "{\"guardianConsent\":{\"guardianName\":\"Pat Parent\"}}", child.access);
    assert_problem(r, 422);
    resp_free(r);
    r = api("POST", fmt("/v1/events/%lld/registrations", youth),
            "{\"guardianConsent\":{\"guardianName\":\"Pat Parent\",\"guardianEmail\":"
            "\"pat@test.risinggen.dev\",\"relationship\":\"parent\",\"consentedAt\":"
            "\"2029-01-01T10:00:00Z\"}}",
            child.access);
    assert_status(r, 201);
    assert_str_eq(jstr(r->json, "status"), "confirmed");
    assert_str_eq(jstr(r->json, "guardianConsent.guardianName"), "Pat Parent");
    resp_free(r);
    register_ok(adult.access, youth, "confirmed");
    json_t *s = stats(youth);
    assert_stat(s, "confirmed", 2);
    json_decref(s);
}

static void attendees_follow_check_in(void **state)
{
    (void)state;
    fixture();
    long long ev = event_create_published(F.org.access, NULL);
    long long a = register_ok(F.p[0].access, ev, "confirmed");
    register_ok(F.p[1].access, ev, "confirmed");
    api_resp *r = api("POST", fmt("/v1/registrations/%lld/check-in", a), NULL, F.org.access);
    assert_status(r, 200);
    resp_free(r);
    r = api("GET", fmt("/v1/events/%lld/attendees?checkedIn=true", ev), NULL, F.org.access);
    assert_status(r, 200);
    assert_int_equal(jlen(r->json, "items"), 1);
    assert_int_equal(jint(r->json, "items.0.id"), a);
    assert_true(json_is_true(jget(r->json, "items.0.checkedIn")));
    resp_free(r);
    r = api("GET", fmt("/v1/events/%lld/attendees?checkedIn=false", ev), NULL, F.org.access);
    assert_int_equal(jlen(r->json, "items"), 1);
    assert_str_eq(jstr(r->json, "items.0.userId"), F.p[1].id);
    resp_free(r);
}

enum { CROWD = 200, CAPACITY = 25, ROUNDS = 3 };

static void concurrent_registrations(void **state)
{
    (void)state;
    fixture();
    static api_user crowd[CROWD];
    users_signup_parallel(crowd, CROWD, "crowd");
    static api_req reqs[CROWD];
    static api_resp *out[CROWD];
    static char paths[CROWD][64];
    for (int round = 0; round < ROUNDS; round++) {
        long long ev = event_create_published(
            F.org.access, json_pack("{s:i, s:b, s:s}", "maxParticipants", CAPACITY,
                                    "waitlistEnabled", 0, "title", fmt("Rush %d", round)));
        for (int i = 0; i < CROWD; i++) {
            snprintf(paths[i], sizeof paths[i], "/v1/events/%lld/registrations", ev);
            reqs[i] = (api_req){.method = "POST", .path = paths[i], .token = crowd[i].access};
        }
        /* All at once: one connection per request. */
        api_parallel(CROWD, reqs, out, 0);
        int created = 0, full = 0, other = 0;
        for (int i = 0; i < CROWD; i++) {
            if (out[i]->status == 201 && jstr(out[i]->json, "status") &&
                strcmp(jstr(out[i]->json, "status"), "confirmed") == 0) {
                created++;
            } else if (out[i]->status == 409 && jstr(out[i]->json, "type") &&
                       strcmp(jstr(out[i]->json, "type"),
                              "https://risinggen.dev/problems/event-full") == 0) {
                full++;
            } else {
                if (other++ < 5)
                    print_error("round %d: %s -> %ld %s %s\n", round, out[i]->what, out[i]->status,
                                out[i]->body, out[i]->curl_error);
            }
        }
        for (int i = 0; i < CROWD; i++)
            resp_free(out[i]);
        if (created != CAPACITY || full != CROWD - CAPACITY || other)
            fail_msg("round %d: %d confirmed, %d event-full, %d other; expected %d and %d", round,
                     created, full, other, CAPACITY, CROWD - CAPACITY);
        json_t *s = stats(ev);
        assert_stat(s, "confirmed", CAPACITY);
        assert_stat(s, "pending", 0);
        assert_stat(s, "waitlisted", 0);
        assert_stat(s, "spotsLeft", 0);
        json_decref(s);
        api_resp *r = api("GET", fmt("/v1/events/%lld", ev), NULL, NULL);
        assert_int_equal(jint(r->json, "spotsLeft"), 0);
        resp_free(r);
        r = api("GET", fmt("/v1/events/%lld/attendees?limit=100", ev), NULL, F.org.access);
        assert_status(r, 200);
        assert_int_equal(jlen(r->json, "items"), CAPACITY);
        resp_free(r);
    }
}

static void concurrent_same_user(void **state)
{
    (void)state;
    fixture();
    /* Each person sends three registrations at once: one each is created. */
    enum { USERS = 20, TIMES = 3 };
    static api_user people[USERS];
    users_signup_parallel(people, USERS, "twice");
    long long ev = event_create_published(F.org.access, json_pack("{s:i}", "maxParticipants", 100));
    static char path[64];
    snprintf(path, sizeof path, "/v1/events/%lld/registrations", ev);
    static api_req reqs[USERS * TIMES];
    static api_resp *out[USERS * TIMES];
    for (int i = 0; i < USERS * TIMES; i++)
        reqs[i] = (api_req){.method = "POST", .path = path, .token = people[i % USERS].access};
    api_parallel(USERS * TIMES, reqs, out, 0);
    int per_user[USERS] = {0}, already = 0;
    for (int i = 0; i < USERS * TIMES; i++) {
        if (out[i]->status == 201)
            per_user[i % USERS]++;
        else if (out[i]->status == 409 && jstr(out[i]->json, "type") &&
                 strcmp(jstr(out[i]->json, "type"),
                        "https://risinggen.dev/problems/already-registered") == 0)
            already++;
        else
            fail_msg("%s -> %ld: %s", out[i]->what, out[i]->status, out[i]->body);
        resp_free(out[i]);
    }
    for (int u = 0; u < USERS; u++)
        if (per_user[u] != 1)
            fail_msg("user %d got %d registrations", u, per_user[u]);
    assert_int_equal(already, USERS * (TIMES - 1));
    json_t *s = stats(ev);
    assert_stat(s, "confirmed", USERS);
    assert_stat(s, "spotsLeft", 100 - USERS);
    json_decref(s);
}

static void concurrent_cancels_move_the_waitlist(void **state)
{
    (void)state;
    fixture();
    enum { MAX = 10, USERS = 30 };
    static api_user people[USERS];
    users_signup_parallel(people, USERS, "queue");
    long long ev = event_create_published(
        F.org.access, json_pack("{s:i, s:b}", "maxParticipants", MAX, "waitlistEnabled", 1));
    long long regs[USERS];
    for (int i = 0; i < USERS; i++)
        regs[i] = register_ok(people[i].access, ev, i < MAX ? "confirmed" : "waitlisted");
    /* All the confirmed cancel at once, each twice. */
    static char paths[MAX * 2][64];
    static api_req reqs[MAX * 2];
    static api_resp *out[MAX * 2];
    for (int i = 0; i < MAX * 2; i++) {
        snprintf(paths[i], sizeof paths[i], "/v1/registrations/%lld/cancel", regs[i % MAX]);
        reqs[i] = (api_req){.method = "POST", .path = paths[i], .token = people[i % MAX].access};
    }
    api_parallel(MAX * 2, reqs, out, 0);
    for (int i = 0; i < MAX * 2; i++) {
        assert_status2(out[i], 200, 409);
        resp_free(out[i]);
    }
    json_t *s = stats(ev);
    assert_stat(s, "confirmed", MAX);
    assert_stat(s, "cancelled", MAX);
    assert_stat(s, "waitlisted", USERS - 2 * MAX);
    assert_stat(s, "pending", 0);
    assert_stat(s, "spotsLeft", 0);
    json_decref(s);
    /* The first ten of the waiting list, in order, moved up. */
    for (int i = MAX; i < USERS; i++)
        assert_reg_status(regs[i], i < 2 * MAX ? "confirmed" : "waitlisted");
}

/* How many times the service has run the named query. */
static long long query_count(const char *name)
{
    api_resp *r = api("GET", "/metrics", NULL, NULL);
    assert_status(r, 200);
    const char *at = strstr(r->body, fmt("rg_query_duration_seconds_count{query=\"%s\"} ", name));
    long long n = at ? strtoll(strchr(at, '}') + 2, NULL, 10) : 0;
    resp_free(r);
    return n;
}

/* A sold-out event refuses from the sold-out memo, without a query, with
 * the answer the relational store would give (event-full, or
 * already-registered for a holder), and a change that makes room is seen
 * by the next registration. */
static void sold_out_refuses_without_queries(void **state)
{
    (void)state;
    fixture();
    long long ev = event_create_published(F.org.access, json_pack("{s:i}", "maxParticipants", 2));
    long long r0 = register_ok(F.p[0].access, ev, "confirmed");
    register_ok(F.p[1].access, ev, "confirmed");
    /* The memo lives 2 s: on a busy machine a round may outlast it, so the
     * refusals are tried in rounds until one ran no query. */
    bool quiet = false;
    for (int round = 0; round < 10 && !quiet; round++) {
        register_refused(F.p[2].access, ev, 409, "event-full"); /* made here, if not yet */
        long long before = query_count("event_get_for_admission");
        register_refused(F.p[3].access, ev, 409, "event-full");
        register_refused(F.p[0].access, ev, 409, "already-registered");
        register_refused(F.p[2].access, ev, 409, "event-full");
        quiet = query_count("event_get_for_admission") == before;
    }
    assert_true(quiet);

    /* A cancellation frees a place: taken at once. */
    api_resp *r = api("POST", fmt("/v1/registrations/%lld/cancel", r0), "{}", F.p[0].access);
    assert_status(r, 200);
    resp_free(r);
    register_ok(F.p[3].access, ev, "confirmed");
    register_refused(F.p[0].access, ev, 409, "event-full");
    /* So does a larger maximum. */
    r = api("PATCH", fmt("/v1/events/%lld", ev), "{\"maxParticipants\":3}", F.org.access);
    assert_status(r, 200);
    resp_free(r);
    register_ok(F.p[2].access, ev, "confirmed");
    /* And a cancelled event answers as one. */
    register_refused(F.p[0].access, ev, 409, "event-full");
    r = api("PATCH", fmt("/v1/events/%lld", ev), "{\"status\":\"cancelled\"}", F.org.access);
    assert_status(r, 200);
    resp_free(r);
    r = register_for(F.p[0].access, ev);
    assert_problem(r, 422);
    resp_free(r);
}

/* An admission right after another one here uses the event row that one
 * read (one event_get_for_admission less, on either engine), and a change
 * to the event made here is seen by the next admission at once. */
static void admission_row_kept_until_the_event_changes(void **state)
{
    (void)state;
    fixture();
    enum { PEOPLE = 24 };
    static api_user people[PEOPLE];
    users_signup_parallel(people, PEOPLE, "kept");
    long long ev = event_create_published(F.org.access, json_pack("{s:i}", "maxParticipants", 100));
    const char *path = fmt("/v1/events/%lld", ev);
    /* In pairs, after a change that drops the kept row: the first reads
     * the row, the second reuses it if it comes within 20 ms (a busy
     * machine may miss that: then the next pair). */
    bool reused = false;
    int i = 0;
    for (; i + 2 < PEOPLE && !reused; i += 2) {
        api_resp *r = api("PATCH", path, fmt("{\"description\":\"round %d\"}", i), F.org.access);
        assert_status(r, 200);
        resp_free(r);
        long long a = query_count("event_get_for_admission");
        register_ok(people[i].access, ev, "confirmed");
        long long b = query_count("event_get_for_admission");
        register_ok(people[i + 1].access, ev, "confirmed");
        long long c = query_count("event_get_for_admission");
        reused = c - b == b - a - 1;
    }
    assert_true(reused);
    /* A minimum age the next person (no date of birth) lacks: refused,
     * although the row kept a moment ago had none. */
    register_ok(people[i].access, ev, "confirmed");
    api_resp *r = api("PATCH", path, "{\"minAge\":18}", F.org.access);
    assert_status(r, 200);
    resp_free(r);
    r = register_for(people[i + 1].access, ev);
    assert_problem(r, 422);
    resp_free(r);
}

static void concurrent_capacity_change(void **state)
{
    (void)state;
    fixture();
    /* Registrations racing with the organizer lowering the maximum: never
     * more confirmed than the maximum in the end. */
    enum { USERS = 60, PATCHES = 4 };
    static api_user people[USERS];
    users_signup_parallel(people, USERS, "shrink");
    long long ev = event_create_published(F.org.access, json_pack("{s:i}", "maxParticipants", 50));
    static char path[64], epath[64];
    snprintf(path, sizeof path, "/v1/events/%lld/registrations", ev);
    snprintf(epath, sizeof epath, "/v1/events/%lld", ev);
    static api_req reqs[USERS + PATCHES];
    static api_resp *out[USERS + PATCHES];
    int n = 0;
    for (int i = 0; i < USERS; i++) {
        reqs[n++] = (api_req){.method = "POST", .path = path, .token = people[i].access};
        if (i % 15 == 7)
            reqs[n++] = (api_req){.method = "PATCH",
                                  .path = epath,
                                  .body = "{\"maxParticipants\":20}",
                                  .token = F.org.access};
    }
    api_parallel(n, reqs, out, 0);
    int created = 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(reqs[i].method, "POST") == 0 && out[i]->status == 201)
            created++;
        else if (strcmp(reqs[i].method, "POST") == 0)
            assert_problem_type(out[i], 409, "event-full");
        else if (out[i]->status != 200) { /* more places were taken already: 409 or 422 */
            assert_status2(out[i], 409, 422);
            assert_problem(out[i], out[i]->status);
        }
        resp_free(out[i]);
    }
    json_t *s = stats(ev);
    json_int_t max = jint(s, "maxParticipants");
    assert_true(max == 20 || max == 50);
    assert_int_equal(jint(s, "confirmed"), created);
    assert_true(jint(s, "confirmed") + jint(s, "pending") <= max);
    assert_int_equal(jint(s, "spotsLeft"), max - created);
    json_decref(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(register_free_and_paid),
        cmocka_unit_test(register_full_and_waitlist),
        cmocka_unit_test(check_in),
        cmocka_unit_test(get_registration_visibility),
        cmocka_unit_test(register_not_open),
        cmocka_unit_test(user_registrations_list),
        cmocka_unit_test(holds_and_cancellations_keep_counts),
        cmocka_unit_test(age_rules),
        cmocka_unit_test(attendees_follow_check_in),
        cmocka_unit_test(concurrent_registrations),
        cmocka_unit_test(concurrent_same_user),
        cmocka_unit_test(concurrent_cancels_move_the_waitlist),
        cmocka_unit_test(concurrent_capacity_change),
        cmocka_unit_test(sold_out_refuses_without_queries),
        cmocka_unit_test(admission_row_kept_until_the_event_changes),
    };
    return cmocka_run_group_tests(tests, api_setup, api_teardown);
}
