/* /v1/users/me, /v1/users/{id} and its registrations and preferences. */
#include "support.h"

#include <stdlib.h>
#include <string.h>

static api_resp *get_me(const char *token)
{
    return api("GET", "/v1/users/me", NULL, token);
}

static api_resp *patch_me(const char *token, const char *body)
{
    return api("PATCH", "/v1/users/me", body, token);
}

static void me_get(void **state)
{
    (void)state;
    api_user u;
    user_signup(&u, "me");
    api_resp *r = get_me(u.access);
    assert_status(r, 200);
    assert_str_eq(jstr(r->json, "id"), u.id);
    assert_str_eq(jstr(r->json, "email"), u.email);
    assert_str_eq(jstr(r->json, "firstName"), "Test");
    assert_str_eq(jstr(r->json, "roles.0"), "participant");
    assert_true(json_is_object(jget(r->json, "preferences")));
    assert_false(json_has_key_like(r->json, "password"));
    assert_false(json_has_key_like(r->json, "hash"));
    assert_false(json_has_key_like(r->json, "token"));
    resp_free(r);
    r = get_me(NULL);
    assert_problem(r, 401);
    resp_free(r);
    r = patch_me(NULL, "{\"firstName\":\"X\"}");
    assert_problem(r, 401);
    resp_free(r);
}

static void me_patch_merge(void **state)
{
    (void)state;
    api_user u;
    user_signup(&u, "merge");
    /* A nested member is set; its siblings stay. */
    api_resp *r = patch_me(u.access, "{\"preferences\":{\"privacy\":{\"shareContact\":true}}}");
    assert_status(r, 200);
    assert_true(json_is_true(jget(r->json, "preferences.privacy.shareContact")));
    assert_true(json_is_false(jget(r->json, "preferences.privacy.shareProfile")));
    assert_str_eq(jstr(r->json, "preferences.language"), "en");
    assert_true(json_is_boolean(jget(r->json, "preferences.notifications.email")));
    assert_str_eq(jstr(r->json, "firstName"), "Test");
    resp_free(r);

    /* Several fields, as application/merge-patch+json. */
    api_req rq = {.method = "PATCH",
                  .path = "/v1/users/me",
                  .body = "{\"firstName\":\"Grace\",\"gender\":\"female\",\"churchId\":\"ch-42\","
                          "\"contact\":{\"phone\":\"+44 20 7946 0000\"}}",
                  .token = u.access,
                  .content_type = "application/merge-patch+json"};
    r = api_do(&rq);
    assert_status(r, 200);
    assert_str_eq(jstr(r->json, "firstName"), "Grace");
    assert_str_eq(jstr(r->json, "gender"), "female");
    assert_str_eq(jstr(r->json, "churchId"), "ch-42");
    assert_str_eq(jstr(r->json, "contact.phone"), "+44 20 7946 0000");
    resp_free(r);

    /* null removes an optional field. */
    r = patch_me(u.access, "{\"gender\":null,\"churchId\":null}");
    assert_status(r, 200);
    assert_null(jget(r->json, "gender"));
    assert_null(jget(r->json, "churchId"));
    assert_str_eq(jstr(r->json, "firstName"), "Grace");
    resp_free(r);

    /* What the PATCH answered is what GET reads. */
    r = get_me(u.access);
    assert_status(r, 200);
    assert_null(jget(r->json, "gender"));
    assert_null(jget(r->json, "churchId"));
    assert_str_eq(jstr(r->json, "firstName"), "Grace");
    assert_str_eq(jstr(r->json, "contact.phone"), "+44 20 7946 0000");
    assert_true(json_is_true(jget(r->json, "preferences.privacy.shareContact")));
    assert_true(json_is_false(jget(r->json, "preferences.privacy.shareProfile")));
    resp_free(r);
}

static void me_patch_refused_changes_nothing(void **state)
{
    (void)state;
    api_user u;
    user_signup(&u, "immut");
    api_resp *before = get_me(u.access);
    assert_status(before, 200);
    struct {
        const char *body;
        const char *field;
    } cases[] = {
        {"{\"email\":\"someone-else@test.risinggen.dev\"}", "email"},
        {"{\"roles\":[\"participant\",\"admin\"]}", "roles"},
        {"{\"favouriteColour\":\"blue\"}", "favouriteColour"},
        {"{\"id\":\"0123456789abcdef01234567\"}", "id"},
        {"{\"firstName\":\"Changed\",\"email\":\"x@test.risinggen.dev\"}", "email"},
        {"{\"firstName\":\"Changed\",\"roles\":[\"admin\"]}", "roles"},
        {"{\"firstName\":null}", "firstName"},
        {"{\"firstName\":\"\"}", "firstName"},
        {"{\"preferences\":{\"privacy\":{\"shareProfile\":\"no\"}}}", "shareProfile"},
        {"{\"dateOfBirth\":\"31-12-1990\"}", "dateOfBirth"},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        api_resp *r = patch_me(u.access, cases[i].body);
        assert_problem(r, 422);
        assert_field_error(r, cases[i].field);
        resp_free(r);
    }
    api_resp *after = get_me(u.access);
    assert_status(after, 200);
    if (!json_equal(before->json, after->json)) {
        print_error("before: %s\nafter:  %s\n", before->body, after->body);
        fail_msg("a refused PATCH changed the user");
    }
    /* Still a participant only: the token cannot do organizer things. */
    api_resp *r = api("POST", "/v1/venues",
                      "{\"name\":\"V\",\"city\":\"London\",\"country\":\"GB\"}", u.access);
    assert_problem(r, 403);
    resp_free(r);
    resp_free(before);
    resp_free(after);
}

static void me_patch_unknown_member_named(void **state)
{
    (void)state;
    api_user u;
    user_signup(&u, "longkey");
    /* An unknown member with a long non-ASCII name is named too (its name
     * may be shortened, but the entry is there). */
    char key[128] = "x";
    for (int i = 0; i < 40; i++)
        strcat(key, "\xc3\xa9");
    api_resp *r = apij("PATCH", "/v1/users/me", json_pack("{s:i}", key, 1), u.access);
    assert_problem(r, 422);
    const char *f = jstr(r->json, "errors.0.field");
    if (jlen(r->json, "errors") != 1 || !f || !*f || strncmp(key, f, strlen(f)) != 0)
        fail_msg("errors[] does not name the unknown member: %s", r->body);
    resp_free(r);
}

/* contact, churchUnit and preferences hold the seed's members only: any
 * other nested key is refused and named, so that no profile grows past a
 * few hundred bytes. */
static void me_patch_nested_members_bounded(void **state)
{
    (void)state;
    api_user u;
    user_signup(&u, "nested");
    static const struct {
        const char *body, *field;
    } cases[] = {
        {"{\"preferences\":{\"theme\":\"dark\"}}", "preferences.theme"},
        {"{\"preferences\":{\"notifications\":{\"pigeon\":true}}}",
         "preferences.notifications.pigeon"},
        {"{\"preferences\":{\"privacy\":{\"x\":{\"y\":1}}}}", "preferences.privacy.x"},
        {"{\"contact\":{\"blob\":{\"a\":[1,2,3]}}}", "contact.blob"},
        {"{\"contact\":{\"address\":{\"floor\":\"3\"}}}", "contact.address.floor"},
        {"{\"churchUnit\":{\"notes\":\"x\"}}", "churchUnit.notes"},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        api_resp *r = patch_me(u.access, cases[i].body);
        assert_problem(r, 422);
        assert_field_error(r, cases[i].field);
        resp_free(r);
    }
    api_resp *r = get_me(u.access);
    assert_null(jget(r->json, "preferences.theme"));
    assert_null(jget(r->json, "contact"));
    resp_free(r);
}

static void user_get_privacy(void **state)
{
    (void)state;
    api_user viewer, hidden, quiet, open;
    user_signup(&viewer, "viewer");
    user_signup(&hidden, "hidden");
    user_signup(&quiet, "quiet");
    user_signup(&open, "open");
    api_user *admin = admin_user();

    api_resp *r =
        patch_me(hidden.access, "{\"preferences\":{\"privacy\":{\"shareProfile\":false}}}");
    assert_status(r, 200);
    resp_free(r);
    r = patch_me(quiet.access, "{\"contact\":{\"phone\":\"+44 161 496 0000\"},\"preferences\":"
                               "{\"privacy\":{\"shareContact\":false,\"shareProfile\":true}}}");
    assert_status(r, 200);
    resp_free(r);
    r = patch_me(open.access, "{\"contact\":{\"phone\":\"+44 113 496 0000\"},\"preferences\":"
                              "{\"privacy\":{\"shareContact\":true,\"shareProfile\":true}}}");
    assert_status(r, 200);
    resp_free(r);

    /* Private unless the person chose otherwise: a new profile is 404 to
     * others, and its own preferences say so. */
    r = api("GET", fmt("/v1/users/%s", viewer.id), NULL, open.access);
    assert_problem(r, 404);
    resp_free(r);
    r = get_me(viewer.access);
    assert_true(json_is_false(jget(r->json, "preferences.privacy.shareProfile")));
    assert_true(json_is_false(jget(r->json, "preferences.privacy.shareContact")));
    resp_free(r);

    /* shareProfile=false: 404 to others, 200 to the person and to an admin. */
    r = api("GET", fmt("/v1/users/%s", hidden.id), NULL, viewer.access);
    assert_problem(r, 404);
    resp_free(r);
    r = api("GET", fmt("/v1/users/%s", hidden.id), NULL, hidden.access);
    assert_status(r, 200);
    assert_str_eq(jstr(r->json, "id"), hidden.id);
    resp_free(r);
    r = api("GET", fmt("/v1/users/%s", hidden.id), NULL, admin->access);
    assert_status(r, 200);
    assert_str_eq(jstr(r->json, "email"), hidden.email);
    resp_free(r);

    /* shareContact=false: the profile without contact or email. */
    r = api("GET", fmt("/v1/users/%s", quiet.id), NULL, viewer.access);
    assert_status(r, 200);
    assert_str_eq(jstr(r->json, "id"), quiet.id);
    assert_str_eq(jstr(r->json, "firstName"), "Test");
    assert_null(jget(r->json, "contact"));
    assert_null(jget(r->json, "email"));
    assert_null(strstr(r->body, "496 0000"));
    assert_null(strstr(r->body, quiet.email));
    assert_false(json_has_key_like(r->json, "password"));
    resp_free(r);
    /* ...but the person and an admin see it. */
    r = api("GET", fmt("/v1/users/%s", quiet.id), NULL, quiet.access);
    assert_status(r, 200);
    assert_str_eq(jstr(r->json, "contact.phone"), "+44 161 496 0000");
    resp_free(r);
    r = api("GET", fmt("/v1/users/%s", quiet.id), NULL, admin->access);
    assert_status(r, 200);
    assert_str_eq(jstr(r->json, "contact.phone"), "+44 161 496 0000");
    resp_free(r);

    /* shareContact=true: others see the contact. */
    r = api("GET", fmt("/v1/users/%s", open.id), NULL, viewer.access);
    assert_status(r, 200);
    assert_str_eq(jstr(r->json, "contact.phone"), "+44 113 496 0000");
    assert_false(json_has_key_like(r->json, "password"));
    resp_free(r);

    /* Signed in only; unknown and malformed ids are 404. */
    r = api("GET", fmt("/v1/users/%s", open.id), NULL, NULL);
    assert_problem(r, 401);
    resp_free(r);
    const char *bad_ids[] = {"0123456789abcdef01234567", "nothex", "123",
                             "ZZZZZZZZZZZZZZZZZZZZZZZZ"};
    for (size_t i = 0; i < N_ELEMS(bad_ids); i++) {
        r = api("GET", fmt("/v1/users/%s", bad_ids[i]), NULL, viewer.access);
        assert_problem(r, 404);
        resp_free(r);
    }
}

static void user_registrations_and_preferences_self_or_admin(void **state)
{
    (void)state;
    api_user a, b;
    user_signup(&a, "selfa");
    user_signup(&b, "selfb");
    api_user *admin = admin_user();
    const char *routes[] = {"/v1/users/%s/registrations", "/v1/users/%s/preferences"};
    for (size_t i = 0; i < N_ELEMS(routes); i++) {
        const char *path = fmt(routes[i], a.id);
        api_resp *r = api("GET", path, NULL, a.access);
        assert_status(r, 200);
        if (i == 0) {
            assert_true(json_is_array(jget(r->json, "items")));
            assert_int_equal(jlen(r->json, "items"), 0);
            assert_true(json_is_null(jget(r->json, "nextCursor")));
        } else {
            assert_true(json_is_object(jget(r->json, "privacy")));
            assert_true(json_is_boolean(jget(r->json, "privacy.shareProfile")));
        }
        resp_free(r);
        r = api("GET", path, NULL, admin->access);
        assert_status(r, 200);
        resp_free(r);
        r = api("GET", path, NULL, b.access);
        assert_status2(r, 403, 404);
        assert_problem(r, r->status);
        resp_free(r);
        r = api("GET", path, NULL, NULL);
        assert_problem(r, 401);
        resp_free(r);
        r = api("GET", fmt(routes[i], "0123456789abcdef01234567"), NULL, b.access);
        assert_status2(r, 403, 404);
        assert_problem(r, r->status);
        resp_free(r);
    }
    /* The registrations list has a limit from 1 to 100. */
    api_resp *r = api("GET", fmt("/v1/users/%s/registrations?limit=0", a.id), NULL, a.access);
    assert_problem(r, 400);
    resp_free(r);
    r = api("GET", fmt("/v1/users/%s/registrations?limit=101", a.id), NULL, a.access);
    assert_problem(r, 400);
    resp_free(r);
    r = api("GET", fmt("/v1/users/%s/registrations?cursor=%%21%%21", a.id), NULL, a.access);
    assert_problem(r, 400);
    resp_free(r);
    /* Preferences reflect a PATCH of /users/me. */
    r = patch_me(a.access,
                 "{\"preferences\":{\"language\":\"cy\",\"notifications\":{\"sms\":true}}}");
    assert_status(r, 200);
    resp_free(r);
    r = api("GET", fmt("/v1/users/%s/preferences", a.id), NULL, a.access);
    assert_status(r, 200);
    assert_str_eq(jstr(r->json, "language"), "cy");
    assert_true(json_is_true(jget(r->json, "notifications.sms")));
    assert_true(json_is_true(jget(r->json, "notifications.email")));
    resp_free(r);
}

static void me_patch_concurrent_no_lost_update(void **state)
{
    (void)state;
    /* Patches of different members at the same moment all stick. */
    api_user u;
    user_signup(&u, "concurrent");
    const char *bodies[] = {
        "{\"preferences\":{\"notifications\":{\"sms\":true}}}",
        "{\"preferences\":{\"notifications\":{\"push\":false}}}",
        "{\"preferences\":{\"privacy\":{\"shareContact\":true}}}",
        "{\"preferences\":{\"language\":\"fr\"}}",
        "{\"churchId\":\"church-7\"}",
        "{\"gender\":\"other\"}",
        "{\"contact\":{\"phone\":\"+44 1632 960000\"}}",
        "{\"churchUnit\":{\"wardName\":\"North Ward\"}}",
    };
    enum { N = (int)N_ELEMS(bodies) };
    api_req reqs[N];
    api_resp *out[N];
    for (int i = 0; i < N; i++)
        reqs[i] = (api_req){
            .method = "PATCH", .path = "/v1/users/me", .body = bodies[i], .token = u.access};
    api_parallel(N, reqs, out, 0);
    for (int i = 0; i < N; i++) {
        assert_status2(out[i], 200, 409);
        bool ok = out[i]->status == 200;
        resp_free(out[i]);
        if (!ok) { /* a conflict must leave it to the client: retry it */
            api_resp *r = patch_me(u.access, bodies[i]);
            assert_status(r, 200);
            resp_free(r);
        }
    }
    api_resp *r = get_me(u.access);
    assert_status(r, 200);
    assert_true(json_is_true(jget(r->json, "preferences.notifications.sms")));
    assert_true(json_is_false(jget(r->json, "preferences.notifications.push")));
    assert_true(json_is_true(jget(r->json, "preferences.notifications.email")));
    assert_true(json_is_true(jget(r->json, "preferences.privacy.shareContact")));
    assert_true(json_is_false(jget(r->json, "preferences.privacy.shareProfile")));
    assert_str_eq(jstr(r->json, "preferences.language"), "fr");
    assert_str_eq(jstr(r->json, "churchId"), "church-7");
    assert_str_eq(jstr(r->json, "gender"), "other");
    assert_str_eq(jstr(r->json, "contact.phone"), "+44 1632 960000");
    assert_str_eq(jstr(r->json, "churchUnit.wardName"), "North Ward");
    assert_str_eq(jstr(r->json, "firstName"), "Test");
    resp_free(r);
}

static bool has_role(json_t *user, const char *role)
{
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(user, "roles"), i,
                       x) if (json_is_string(x) &&
                              strcmp(json_string_value(x), role) == 0) return true;
    return false;
}

/* Role changes of one person at the same moment: once they are answered,
 * the person's document holds the roles of the newest decision in the
 * audit log, on either profile (two-phase commit or not). */
static void concurrent_role_changes_agree_with_the_audit_log(void **state)
{
    (void)state;
    api_user u;
    user_signup(&u, "rolesrace");
    api_user *admin = admin_user();
    static const char *const sets[] = {"[\"participant\"]", "[\"participant\",\"organizer\"]",
                                       "[\"organizer\"]", "[\"participant\",\"admin\"]"};
    enum { N = 8, ROUNDS = 5 };
    char bodies[N][64], route[64];
    snprintf(route, sizeof route, "/v1/users/%s", u.id);
    for (int round = 0; round < ROUNDS; round++) {
        api_req reqs[N];
        api_resp *out[N];
        for (int i = 0; i < N; i++) {
            snprintf(bodies[i], sizeof bodies[i], "{\"roles\":%s}", sets[(i + round) % 4]);
            reqs[i] = (api_req){
                .method = "PATCH", .path = route, .body = bodies[i], .token = admin->access};
        }
        api_parallel(N, reqs, out, 0);
        for (int i = 0; i < N; i++) {
            /* 409: a two-phase change that met others at every try; 503:
             * one given up. Neither decided anything. */
            long st = out[i]->status;
            if (st != 200 && st != 409 && st != 503)
                fail_msg("round %d: a role change answered %ld", round, st);
            resp_free(out[i]);
        }
        api_resp *r =
            api("GET", fmt("/v1/admin/audit?action=user.roles&actor=%s&limit=100", admin->id), NULL,
                admin->access);
        assert_status(r, 200);
        json_t *newest = NULL;
        json_t *items = json_object_get(r->json, "items");
        for (size_t i = 0; i < json_array_size(items) && !newest; i++)
            if (strcmp(jstr(json_array_get(items, i), "targetId"), u.id) == 0)
                newest = json_incref(jget(json_array_get(items, i), "details.roles"));
        resp_free(r);
        assert_non_null(newest);
        r = api("GET", route, NULL, admin->access);
        assert_status(r, 200);
        if (!json_equal(newest, json_object_get(r->json, "roles"))) {
            char *want = json_dumps(newest, 0), *got = json_dumps(jget(r->json, "roles"), 0);
            fail_msg("round %d: the document holds %s, the newest decision %s", round, got, want);
        }
        resp_free(r);
        json_decref(newest);
    }
}

static void set_roles(void **state)
{
    (void)state;
    api_user u, other;
    user_signup(&u, "roles");
    user_signup(&other, "rolesother");
    api_user *admin = admin_user();
    const char *path = fmt("/v1/users/%s", u.id);

    /* Not the admin: 403 (even for oneself), anonymous 401. */
    api_resp *r = api("PATCH", path, "{\"roles\":[\"participant\",\"organizer\"]}", other.access);
    assert_problem(r, 403);
    resp_free(r);
    r = api("PATCH", path, "{\"roles\":[\"participant\",\"admin\"]}", u.access);
    assert_problem(r, 403);
    resp_free(r);
    r = api("PATCH", path, "{\"roles\":[\"participant\",\"organizer\"]}", NULL);
    assert_problem(r, 401);
    resp_free(r);

    /* Before: the participant cannot create a venue. */
    const char *venue = "{\"name\":\"Hall\",\"city\":\"York\",\"country\":\"GB\"}";
    r = api("POST", "/v1/venues", venue, u.access);
    assert_problem(r, 403);
    resp_free(r);

    /* The admin grants organizer; the same token now may (roles per request). */
    r = api("PATCH", path, "{\"roles\":[\"participant\",\"organizer\"]}", admin->access);
    assert_status(r, 200);
    assert_true(has_role(r->json, "organizer"));
    assert_true(has_role(r->json, "participant"));
    assert_false(has_role(r->json, "admin"));
    resp_free(r);
    r = api("POST", "/v1/venues", venue, u.access);
    assert_status(r, 201);
    resp_free(r);
    r = get_me(u.access);
    assert_true(has_role(r->json, "organizer"));
    resp_free(r);

    /* Invalid roles: 422 naming roles, and nothing changes. */
    const char *bad[] = {"{\"roles\":[\"superuser\"]}", "{\"roles\":\"admin\"}",
                         "{\"roles\":[1,2]}", "{\"roles\":[\"organizer\"],\"email\":\"x@y.zz\"}",
                         "{}"};
    for (size_t i = 0; i < N_ELEMS(bad); i++) {
        r = api("PATCH", path, bad[i], admin->access);
        assert_problem(r, 422);
        assert_field_error(r, i == 3 ? "email" : "roles");
        resp_free(r);
    }
    r = get_me(u.access);
    assert_true(has_role(r->json, "organizer"));
    assert_false(has_role(r->json, "admin"));
    resp_free(r);

    /* Taking organizer away works at once too. */
    r = api("PATCH", path, "{\"roles\":[\"participant\"]}", admin->access);
    assert_status(r, 200);
    assert_false(has_role(r->json, "organizer"));
    resp_free(r);
    r = api("POST", "/v1/venues", venue, u.access);
    assert_problem(r, 403);
    resp_free(r);

    /* Unknown and malformed user ids. */
    r = api("PATCH", "/v1/users/0123456789abcdef01234567", "{\"roles\":[\"participant\"]}",
            admin->access);
    assert_problem(r, 404);
    resp_free(r);
    r = api("PATCH", "/v1/users/not-an-id", "{\"roles\":[\"participant\"]}", admin->access);
    assert_problem(r, 404);
    resp_free(r);
}

/* An organizer whose role an admin takes away keeps their name on their
 * events but loses control of them: no patch, cancel, attendee list or
 * export, finance, registration cancel, refund or urgent announcement. */
static void demoted_organizer_loses_control(void **state)
{
    (void)state;
    api_user org, part;
    organizer_signup(&org, "demoted");
    user_signup(&part, "demotedpart");
    long long venue = venue_create(org.access, "Demo Hall", "York", "GB", 53.96, -1.08);
    long long ev = event_create_published(org.access, json_pack("{s:I}", "venueId", venue));
    long long reg = register_ok(part.access, ev, "confirmed");
    long long paid = paid_event(org.access, "10.00", "GBP", 5);
    long long preg = register_ok(part.access, paid, "pending");
    long long pid = pay_ok(part.access, preg);
    api_resp *r = api("GET", fmt("/v1/events/%lld/channel", ev), NULL, org.access);
    assert_status(r, 200);
    char channel[64];
    snprintf(channel, sizeof channel, "%s", jstr(r->json, "id"));
    resp_free(r);

    r = api("PATCH", fmt("/v1/users/%s", org.id), "{\"roles\":[\"participant\"]}",
            admin_user()->access);
    assert_status(r, 200);
    resp_free(r);

    const char *csv[] = {"Accept: text/csv", NULL};
    struct {
        const char *method, *path, *body;
        const char *const *headers;
    } tries[] = {
        {"PATCH", fmt("/v1/events/%lld", ev), "{\"title\":\"Taken over\"}", NULL},
        {"PATCH", fmt("/v1/events/%lld", ev), "{\"status\":\"cancelled\"}", NULL},
        {"GET", fmt("/v1/events/%lld/attendees", ev), NULL, NULL},
        {"GET", fmt("/v1/events/%lld/attendees", ev), NULL, csv},
        {"GET", fmt("/v1/events/%lld/stats", ev), NULL, NULL},
        {"GET", fmt("/v1/events/%lld/finance", paid), NULL, NULL},
        {"POST", fmt("/v1/registrations/%lld/cancel", reg), "{}", NULL},
        {"POST", fmt("/v1/registrations/%lld/check-in", reg), NULL, NULL},
        {"POST", fmt("/v1/payments/%lld/refund", pid), "{\"amount\":\"1.00\"}", NULL},
        {"POST", fmt("/v1/channels/%s/messages", channel),
         "{\"priority\":\"urgent\",\"messageType\":\"announcement\",\"content\":{\"text\":\"Go\"}}",
         NULL},
    };
    for (size_t i = 0; i < N_ELEMS(tries); i++) {
        api_req rq = {.method = tries[i].method,
                      .path = tries[i].path,
                      .body = tries[i].body,
                      .token = org.access,
                      .headers = tries[i].headers};
        r = api_do(&rq);
        if (r->status != 403 && r->status != 404 && r->status != 422)
            fail_msg("%s %s by a demoted organizer answered %ld: %s", tries[i].method,
                     tries[i].path, r->status, r->body);
        resp_free(r);
    }
    /* Nothing changed: the event, the registration and the payment. */
    r = api("GET", fmt("/v1/events/%lld", ev), NULL, part.access);
    assert_status(r, 200);
    assert_str_eq(jstr(r->json, "status"), "published");
    assert_true(strcmp(jstr(r->json, "title"), "Taken over") != 0);
    assert_str_eq(jstr(r->json, "organizerId"), org.id);
    resp_free(r);
    r = api("GET", fmt("/v1/registrations/%lld", reg), NULL, part.access);
    assert_str_eq(jstr(r->json, "status"), "confirmed");
    assert_false(json_is_true(jget(r->json, "checkedIn")));
    resp_free(r);
    r = api("GET", fmt("/v1/payments/%lld", pid), NULL, part.access);
    assert_str_eq(jstr(r->json, "refundStatus"), "none");
    resp_free(r);

    /* Given back the role, they manage their events again. */
    make_organizer(&org);
    r = api("GET", fmt("/v1/events/%lld/attendees", ev), NULL, org.access);
    assert_status(r, 200);
    resp_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(me_get),
        cmocka_unit_test(me_patch_merge),
        cmocka_unit_test(me_patch_refused_changes_nothing),
        cmocka_unit_test(me_patch_unknown_member_named),
        cmocka_unit_test(me_patch_nested_members_bounded),
        cmocka_unit_test(me_patch_concurrent_no_lost_update),
        cmocka_unit_test(concurrent_role_changes_agree_with_the_audit_log),
        cmocka_unit_test(user_get_privacy),
        cmocka_unit_test(user_registrations_and_preferences_self_or_admin),
        cmocka_unit_test(set_roles),
        cmocka_unit_test(demoted_organizer_loses_control),
    };
    return cmocka_run_group_tests(tests, api_setup, api_teardown);
}
