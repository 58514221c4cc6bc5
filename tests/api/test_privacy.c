/* Data rights and minors, over HTTP: GET /v1/users/me/export, DELETE
 * /v1/users/me (erasure across every store, finished after a crash), and the
 * guardian's consent in the attendee list. */
#include "testcfg.h"
#include "support.h"
#include "risinggen/domain/app.h"
#include "risinggen/base/error.h"
#include "risinggen/base/id.h"
#include "domain.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct {
    bool ready;
    api_user *admin;
    api_user org;
} F;

static void fixture(void)
{
    if (F.ready)
        return;
    F.admin = admin_user();
    organizer_signup(&F.org, "porg");
    F.ready = true;
}

static bool is_oid(const char *s)
{
    if (!s || strlen(s) != 24)
        return false;
    for (const char *p = s; *p; p++)
        if (!strchr("0123456789abcdef", *p))
            return false;
    return true;
}

/* A published free event of F.org that started an hour ago (feedback opens). */
static long long started_event(json_t *extra)
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
    return event_create_published(F.org.access, body);
}

static void event_channel(long long ev, char out[32])
{
    json_t *c = get_json(fmt("/v1/events/%lld/channel", ev), F.org.access);
    snprintf(out, 32, "%s", jstr(c, "id"));
    json_decref(c);
}

/* Posts a message; its id goes to out. */
static void post_message(const char *channel, const char *token, const char *text, char out[32])
{
    api_resp *r =
        apij("POST", fmt("/v1/channels/%s/messages", channel),
             json_pack("{s:s, s:{s:s}}", "messageType", "message", "content", "text", text), token);
    assert_status(r, 201);
    snprintf(out, 32, "%s", jstr(r->json, "id"));
    resp_free(r);
}

/* Marks message read as token's person. */
static void mark_read(const char *msg, const char *token)
{
    api_resp *r = api("POST", fmt("/v1/messages/%s/read", msg), NULL, token);
    assert_status(r, 200);
    resp_free(r);
}

/* Whether arr (members: ids, or readBy: {userId}) names id. */
static bool names_id(json_t *arr, const char *id)
{
    size_t i;
    json_t *x;
    json_array_foreach(arr, i, x)
    {
        const char *v = json_is_string(x) ? json_string_value(x)
                                          : json_string_value(json_object_get(x, "userId"));
        if (v && strcmp(v, id) == 0)
            return true;
    }
    return false;
}

/* How many messages of channel (read as token, every page) have id in
 * their readBy; *total receives how many messages there are. */
static int readers_in_channel(const char *channel, const char *token, const char *id, int *total)
{
    int n = 0;
    *total = 0;
    char cursor[256] = "";
    for (int page = 0; page < 100; page++) {
        json_t *j = get_json(fmt("/v1/channels/%s/messages?limit=100%s%s", channel,
                                 cursor[0] ? "&cursor=" : "", cursor[0] ? urlenc(cursor) : ""),
                             token);
        size_t i;
        json_t *m;
        json_array_foreach(json_object_get(j, "items"), i, m)
        {
            (*total)++;
            n += names_id(json_object_get(m, "readBy"), id);
        }
        const char *next = jstr(j, "nextCursor");
        snprintf(cursor, sizeof cursor, "%s", next ? next : "");
        json_decref(j);
        if (!cursor[0])
            break;
    }
    return n;
}

static void give_feedback(long long ev, const char *token, int rating, const char *comment)
{
    api_resp *r = apij("POST", fmt("/v1/events/%lld/feedback", ev),
                       json_pack("{s:i, s:s}", "rating", rating, "comment", comment), token);
    assert_status(r, 201);
    resp_free(r);
}

static api_resp *login(const api_user *u)
{
    return apij("POST", "/v1/auth/login",
                json_pack("{s:s, s:s}", "email", u->email, "password", u->password), NULL);
}

static void export_everything(void **state)
{
    (void)state;
    fixture();
    api_user p;
    user_signup(&p, "exporter");
    api_resp *r = api(
        "PATCH", "/v1/users/me",
        "{\"dateOfBirth\":\"1990-02-03\",\"contact\":{\"phone\":\"+44 7700 900123\"}}", p.access);
    assert_status(r, 200);
    resp_free(r);
    api_user again = p;
    user_login(&again); /* a second token family */
    r = apij("POST", "/v1/auth/login",
             json_pack("{s:s, s:s}", "email", p.email, "password", "wrong-password-x"), NULL);
    assert_problem(r, 401);
    resp_free(r);

    long long free_ev = started_event(NULL);
    long long reg_free = register_ok(p.access, free_ev, "confirmed");
    long long paid = paid_event(F.org.access, "12.50", "GBP", 10);
    long long reg_paid = register_ok(p.access, paid, "pending");
    long long pid = pay_ok(p.access, reg_paid);
    char chan[32], msg[32];
    event_channel(free_ev, chan);
    post_message(chan, p.access, "Looking forward to it", msg);
    give_feedback(free_ev, p.access, 5, "Lovely day");

    r = api("GET", "/v1/users/me/export", NULL, p.access);
    assert_status(r, 200);
    json_t *x = r->json;
    assert_str_eq(jstr(x, "user.id"), p.id);
    assert_str_eq(jstr(x, "user.email"), p.email);
    assert_str_eq(jstr(x, "user.dateOfBirth"), "1990-02-03");
    assert_str_eq(jstr(x, "user.contact.phone"), "+44 7700 900123");
    assert_true(jstr(x, "exportedAt") != NULL);
    /* The auth document without its secrets. */
    assert_str_eq(jstr(x, "auth.authMethod"), "password");
    json_t *fams = jget(x, "auth.refreshTokenFamilies");
    assert_true(json_array_size(fams) >= 2);
    size_t i;
    json_t *f;
    json_array_foreach(fams, i, f)
    {
        assert_int_equal(json_object_size(f), 1);
        assert_true(jstr(f, "refreshTokenExpiry") != NULL);
    }
    assert_true(jint(x, "sessions.active") >= 2);
    assert_false(json_has_key_like(x, "passwordHash"));
    assert_false(json_has_key_like(x, "rotated"));
    assert_false(json_has_key_like(x, "passwordReset"));
    assert_null(strstr(r->body, "$argon2"));
    assert_null(strstr(r->body, p.refresh));
    assert_null(strstr(r->body, p.access));
    assert_null(strstr(r->body, strchr(again.refresh, '.') + 1));
    /* Registrations with their events, payments, messages and feedback. */
    assert_int_equal(jlen(x, "registrations"), 2);
    bool seen_free = false, seen_paid = false;
    json_t *reg;
    json_array_foreach(json_object_get(x, "registrations"), i, reg)
    {
        seen_free |= jint(reg, "id") == reg_free && jint(reg, "event.id") == free_ev;
        seen_paid |= jint(reg, "id") == reg_paid && jint(reg, "event.id") == paid;
        assert_str_eq(jstr(reg, "userId"), p.id);
    }
    assert_true(seen_free && seen_paid);
    assert_int_equal(jlen(x, "payments"), 1);
    assert_int_equal(jint(x, "payments.0.id"), pid);
    assert_str_eq(jstr(x, "payments.0.amount.amount"), "12.50");
    assert_str_eq(jstr(x, "payments.0.amount.currency"), "GBP");
    assert_int_equal(jlen(x, "messages"), 1);
    assert_str_eq(jstr(x, "messages.0.id"), msg);
    assert_str_eq(jstr(x, "messages.0.content.text"), "Looking forward to it");
    assert_int_equal(jlen(x, "feedback"), 1);
    assert_int_equal(jint(x, "feedback.0.rating"), 5);
    assert_str_eq(jstr(x, "feedback.0.comment"), "Lovely day");
    assert_true(json_is_array(jget(x, "resources")));
    assert_true(json_is_array(jget(x, "auditLog")));
    resp_free(r);

    /* Someone else's data is not in it. */
    r = api("GET", "/v1/users/me/export", NULL, F.org.access);
    assert_status(r, 200);
    assert_str_eq(jstr(r->json, "user.id"), F.org.id);
    assert_null(strstr(r->body, msg));
    /* An organizer's export holds the actions they took. */
    assert_true(jlen(r->json, "auditLog") >= 2);
    assert_str_eq(jstr(r->json, "auditLog.0.action"), "event.publish");
    resp_free(r);
    r = api("GET", "/v1/users/me/export", NULL, NULL);
    assert_problem(r, 401);
    resp_free(r);
}

/* The attendee item of registration reg in the event's list. */
static json_t *attendee(long long ev, long long reg)
{
    json_t *page = get_json(fmt("/v1/events/%lld/attendees?limit=100", ev), F.org.access);
    size_t i;
    json_t *it, *found = NULL;
    json_array_foreach(json_object_get(page, "items"), i, it)
    {
        if (jint(it, "id") == reg)
            found = json_incref(it);
    }
    json_decref(page);
    assert_non_null(found);
    return found;
}

static void erase_person(void **state)
{
    (void)state;
    fixture();
    api_user p, other;
    user_signup(&p, "eraseme");
    user_signup(&other, "stays");
    long long ev =
        started_event(json_pack("{s:i, s:b}", "maxParticipants", 2, "waitlistEnabled", 1));
    api_resp *r =
        api("POST", fmt("/v1/events/%lld/registrations", ev),
            "{\"dietaryRequirements\":\"no nuts\",\"specialNeeds\":\"step-free\"}", p.access);
    assert_status(r, 201);
    long long reg = jint(r->json, "id");
    resp_free(r);
    register_ok(other.access, ev, "confirmed");
    long long paid = paid_event(F.org.access, "12.50", "GBP", 10);
    long long reg_paid = register_ok(p.access, paid, "pending");
    long long pid = pay_ok(p.access, reg_paid);
    char chan[32], msg[32], msg_other[32];
    event_channel(ev, chan);
    post_message(chan, p.access, "Hello from me", msg);
    post_message(chan, other.access, "Hello back", msg_other);
    give_feedback(ev, p.access, 4, "Good");
    /* Read receipts in the event's channel, and a group channel of the
     * organizer that lists both of them, with a message both have read. */
    mark_read(msg_other, p.access);
    mark_read(msg_other, other.access);
    mark_read(msg, other.access);
    r = apij("POST", "/v1/channels",
             json_pack("{s:s, s:[s, s]}", "name", "Helpers", "members", p.id, other.id),
             F.org.access);
    assert_status(r, 201);
    char group[32], group_msg[32];
    snprintf(group, sizeof group, "%s", jstr(r->json, "id"));
    resp_free(r);
    post_message(group, F.org.access, "Thanks for helping", group_msg);
    mark_read(group_msg, p.access);
    mark_read(group_msg, other.access);
    int total;
    assert_int_equal(readers_in_channel(chan, F.org.access, p.id, &total), 1);
    assert_int_equal(readers_in_channel(group, F.org.access, p.id, &total), 1);

    json_t *stats = get_json(fmt("/v1/events/%lld/stats", ev), F.org.access);
    json_t *finance = get_json(fmt("/v1/events/%lld/finance", paid), F.org.access);
    json_t *fb = get_json(fmt("/v1/events/%lld/feedback", ev), F.org.access);

    r = api("DELETE", "/v1/users/me", NULL, p.access);
    assert_status(r, 204);
    resp_free(r);

    /* The person can no longer act or sign in. */
    r = api("GET", "/v1/users/me", NULL, p.access);
    assert_problem(r, 401);
    resp_free(r);
    r = apij("POST", "/v1/auth/refresh", json_pack("{s:s}", "refreshToken", p.refresh), NULL);
    assert_problem(r, 401);
    resp_free(r);
    r = login(&p);
    assert_problem(r, 401);
    resp_free(r);
    r = api("DELETE", "/v1/users/me", NULL, p.access);
    assert_problem(r, 401);
    resp_free(r);
    /* Nobody finds them. */
    r = api("GET", fmt("/v1/users/%s", p.id), NULL, F.admin->access);
    assert_problem(r, 404);
    resp_free(r);

    /* Their registration is still there, under one anonymous id. */
    json_t *a = attendee(ev, reg);
    const char *tomb = jstr(a, "userId");
    char t[32];
    snprintf(t, sizeof t, "%s", tomb ? tomb : "");
    assert_true(is_oid(t));
    assert_string_not_equal(t, p.id);
    assert_str_eq(jstr(a, "status"), "confirmed");
    assert_true(json_is_null(jget(a, "dietaryRequirements")));
    assert_true(json_is_null(jget(a, "specialNeeds")));
    assert_null(jstr(a, "attendee.firstName"));
    assert_null(jstr(a, "attendee.email"));
    json_decref(a);
    json_t *pr = get_json(fmt("/v1/registrations/%lld", reg_paid), F.admin->access);
    assert_str_eq(jstr(pr, "userId"), t);
    json_decref(pr);
    json_t *pay_doc = get_json(fmt("/v1/payments/%lld", pid), F.admin->access);
    assert_str_eq(jstr(pay_doc, "userId"), t);
    json_decref(pay_doc);
    /* Counts and money stay right. */
    json_t *stats2 = get_json(fmt("/v1/events/%lld/stats", ev), F.org.access);
    assert_true(json_equal(stats, stats2));
    json_t *finance2 = get_json(fmt("/v1/events/%lld/finance", paid), F.org.access);
    assert_true(json_equal(finance, finance2));
    json_t *fb2 = get_json(fmt("/v1/events/%lld/feedback", ev), F.org.access);
    assert_true(json_equal(json_object_get(fb, "summary"), json_object_get(fb2, "summary")));
    json_decref(stats);
    json_decref(stats2);
    json_decref(finance);
    json_decref(finance2);
    json_decref(fb);
    json_decref(fb2);
    /* The thread keeps its messages; theirs is signed by the tombstone. */
    json_t *m = get_json(fmt("/v1/messages/%s", msg), F.org.access);
    assert_str_eq(jstr(m, "sender.userId"), t);
    assert_str_eq(jstr(m, "content.text"), "Hello from me");
    json_decref(m);
    m = get_json(fmt("/v1/messages/%s", msg_other), F.org.access);
    assert_str_eq(jstr(m, "sender.userId"), other.id);
    assert_false(names_id(json_object_get(m, "readBy"), p.id));
    assert_false(names_id(json_object_get(m, "readBy"), t));
    assert_true(names_id(json_object_get(m, "readBy"), other.id));
    json_decref(m);
    /* No channel lists them and no message says they read it, while the
     * others' memberships and receipts stay. */
    json_t *g = get_json(fmt("/v1/channels/%s", group), F.org.access);
    assert_false(names_id(json_object_get(g, "members"), p.id));
    assert_true(names_id(json_object_get(g, "members"), other.id));
    json_decref(g);
    g = get_json(fmt("/v1/channels/%s", group), F.admin->access);
    assert_int_equal(json_array_size(json_object_get(g, "members")), 1);
    json_decref(g);
    assert_int_equal(readers_in_channel(chan, F.org.access, p.id, &total), 0);
    assert_int_equal(total, 2);
    assert_int_equal(readers_in_channel(chan, F.admin->access, other.id, &total), 2);
    assert_int_equal(readers_in_channel(group, F.org.access, p.id, &total), 0);
    assert_int_equal(total, 1);
    assert_int_equal(readers_in_channel(group, F.admin->access, other.id, &total), 1);
    /* The erasure is in the audit log, under the tombstone only. */
    json_t *log = get_json("/v1/admin/audit?action=user.erase&limit=100", F.admin->access);
    bool found = false;
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(log, "items"), i, e)
    {
        found |= jstr(e, "targetId") && strcmp(jstr(e, "targetId"), t) == 0;
        char *text = json_dumps(e, JSON_COMPACT);
        bool leaks = strstr(text, p.id) != NULL;
        free(text);
        assert_false(leaks);
    }
    assert_true(found);
    json_decref(log);
    /* The others are untouched. */
    r = api("GET", "/v1/users/me", NULL, other.access);
    assert_status(r, 200);
    resp_free(r);
    /* The email is free again: a new account, a new id. */
    api_user back;
    user_signup_email(&back, p.email);
    assert_string_not_equal(back.id, p.id);
    r = api("GET", "/v1/users/me/export", NULL, back.access);
    assert_status(r, 200);
    assert_int_equal(jlen(r->json, "registrations"), 0);
    assert_int_equal(jlen(r->json, "messages"), 0);
    resp_free(r);
}

static void erase_organizer(void **state)
{
    (void)state;
    fixture();
    api_user org;
    organizer_signup(&org, "erase-org");
    long long ev = event_create(org.access, NULL); /* an upcoming draft */
    long long venue = venue_create(org.access, "Org Hall", "Leeds", "GB", 53.8, -1.55);
    api_resp *r = api("DELETE", "/v1/users/me", NULL, org.access);
    assert_problem(r, 409);
    resp_free(r);
    /* Nothing happened: the account still works. */
    r = api("GET", "/v1/users/me", NULL, org.access);
    assert_status(r, 200);
    resp_free(r);
    r = api("PATCH", fmt("/v1/events/%lld", ev), "{\"status\":\"cancelled\"}", org.access);
    assert_status(r, 200);
    resp_free(r);
    r = api("DELETE", "/v1/users/me", NULL, org.access);
    assert_status(r, 204);
    resp_free(r);
    json_t *e = get_json(fmt("/v1/events/%lld", ev), F.admin->access);
    const char *t = jstr(e, "organizerId");
    assert_true(is_oid(t));
    assert_string_not_equal(t, org.id);
    /* Their actions stay in the log, under the same tombstone. */
    json_t *log = get_json(fmt("/v1/admin/audit?actor=%s", t), F.admin->access);
    assert_true(jlen(log, "items") >= 1);
    json_decref(log);
    log = get_json(fmt("/v1/admin/audit?actor=%s", org.id), F.admin->access);
    assert_int_equal(jlen(log, "items"), 0);
    json_decref(log);
    json_decref(e);
    (void)venue;
}

static void erasure_finished_after_crash(void **state)
{
    (void)state;
    fixture();
    api_user p[2];
    long long ev = started_event(NULL);
    long long reg[2];
    char chan[32], msg[2][32];
    event_channel(ev, chan);
    for (int i = 0; i < 2; i++) {
        user_signup(&p[i], i ? "crash-recorded" : "crash-midway");
        reg[i] = register_ok(p[i].access, ev, "confirmed");
        post_message(chan, p[i].access, "before the crash", msg[i]);
    }
    /* The service went down after recording both erasures: the first had
     * done two of its steps (sessions, relational), the second none. */
    assert_int_equal(srv_stop(&g_srv), 0);
    rg_app app;
    api_open_stores(&app);
    char tomb[2][RG_OID_LEN + 1];
    assert_int_equal(rg_erasure_record(&app, p[0].id, tomb[0]), 0);
    assert_int_equal(rg_erasure_resume(&app, 2), 0);
    assert_int_equal(rg_erasure_record(&app, p[1].id, tomb[1]), 0);
    /* Recording twice gives the same tombstone. */
    char again[RG_OID_LEN + 1];
    assert_int_equal(rg_erasure_record(&app, p[1].id, again), 0);
    assert_string_equal(again, tomb[1]);
    json_t *doc = NULL;
    assert_int_equal(rg_docs_get(&app.st.docs, "users", p[0].id, &doc, NULL), 0);
    json_decref(doc);
    rg_app_close(&app);

    /* The next start finishes both. */
    assert_int_equal(srv_start(&g_srv, g_srv.dir), 0);
    for (int i = 0; i < 2; i++) {
        api_resp *r = login(&p[i]);
        assert_problem(r, 401);
        resp_free(r);
        r = api("GET", fmt("/v1/users/%s", p[i].id), NULL, F.admin->access);
        assert_problem(r, 404);
        resp_free(r);
        json_t *a = attendee(ev, reg[i]);
        assert_str_eq(jstr(a, "userId"), tomb[i]);
        json_decref(a);
        json_t *m = get_json(fmt("/v1/messages/%s", msg[i]), F.org.access);
        assert_str_eq(jstr(m, "sender.userId"), tomb[i]);
        json_decref(m);
        json_t *log =
            get_json(fmt("/v1/admin/audit?action=user.erase&actor=%s", tomb[i]), F.admin->access);
        assert_int_equal(jlen(log, "items"), 1);
        assert_str_eq(jstr(log, "items.0.targetId"), tomb[i]);
        json_decref(log);
    }
    /* Done erasures are not run again. */
    rg_app app2;
    assert_int_equal(srv_stop(&g_srv), 0);
    api_open_stores(&app2);
    assert_int_equal(rg_erasure_resume(&app2, 0), 0);
    rg_app_close(&app2);
    assert_int_equal(srv_start(&g_srv, g_srv.dir), 0);
}

/* Erasure closes the account before any other step: while the rest runs,
 * the password, the refresh token, a reset and the old access token all
 * fail, and what a request signed in before wrote meanwhile is swept up at
 * the end, so nothing stays under the person's id. */
static void erasure_closes_the_account_first(void **state)
{
    (void)state;
    fixture();
    api_user p;
    user_signup(&p, "closing");
    long long ev = event_create_published(F.org.access, json_pack("{s:i}", "maxParticipants", 50));
    assert_int_equal(srv_stop(&g_srv), 0);
    rg_app app;
    api_open_stores(&app);
    char tomb[RG_OID_LEN + 1];
    assert_int_equal(rg_erasure_record(&app, p.id, tomb), 0);
    assert_int_equal(rg_erasure_resume(&app, 1), 0); /* step 1 only */

    json_t *out = NULL;
    json_t *body = json_pack("{s:s, s:s}", "email", p.email, "password", p.password);
    assert_int_equal(rg_auth_login(&app, &(rg_ctx){.client = "127.0.0.1"}, body, &out), RG_EUNAUTH);
    json_decref(body);
    body = json_pack("{s:s}", "refreshToken", p.refresh);
    assert_int_equal(rg_auth_refresh(&app, body, &out), RG_EUNAUTH);
    json_decref(body);
    rg_ctx ctx;
    assert_int_equal(rg_auth_begin(&app, p.access, &ctx), RG_EUNAUTH);
    /* A reset answers as always and leaves nothing to confirm. */
    body = json_pack("{s:s}", "email", p.email);
    assert_int_equal(rg_auth_password_reset(&app, body), 0);
    json_decref(body);
    json_t *auth = NULL;
    assert_int_equal(rg_docs_get(&app.st.docs, "auth", p.id, &auth, NULL), 0);
    assert_true(json_is_null(json_object_get(auth, "passwordResetToken")));
    assert_null(json_object_get(auth, "passwordHash"));
    json_decref(auth);

    /* A request authenticated before step 1 registers, with notes, after
     * the relational step has run. */
    assert_int_equal(rg_erasure_resume(&app, 1), 0); /* step 2 */
    rg_principal who = {.roles = RG_ROLE_PARTICIPANT};
    memcpy(who.user_id, p.id, RG_OID_LEN);
    char ev_id[32];
    snprintf(ev_id, sizeof ev_id, "%lld", ev);
    body =
        json_pack("{s:s, s:s}", "dietaryRequirements", "peanut allergy", "specialNeeds", "inhaler");
    json_t *reg = NULL;
    assert_int_equal(rg_registration_create(&app, RG_AS(&who), ev_id, body, &reg), 0);
    json_decref(body);
    json_int_t reg_id = json_integer_value(json_object_get(reg, "id"));
    json_decref(reg);
    /* Steps 3 to 5: the profile is gone; then a mail is queued to the
     * person's address, as a request in flight could. */
    assert_int_equal(rg_erasure_resume(&app, 3), 0);
    char late[64];
    snprintf(late, sizeof late, "late-mail-%d", (int)getpid());
    rg_notification n = {"email", p.email, "Your registration", "Body", late};
    assert_int_equal(rg_outbox_enqueue(&app, NULL, &n), 0);
    assert_true(rg_erasure_resume(&app, 0) >= 1);
    rg_rows *mail = NULL;
    rg_param mp[] = {RG_PTEXT(late)};
    assert_true(rg_rel_run(&app, "outbox_find", mp, 1, &mail) >= 0);
    assert_int_equal(mail->nrows, 0);
    rg_rows_free(mail);
    rg_rows *rows = NULL;
    rg_param rp[] = {RG_PINT(reg_id)};
    assert_true(rg_rel_run(&app, "registration_get", rp, 1, &rows) >= 0);
    assert_int_equal(rows->nrows, 1);
    assert_string_equal(rg_rows_get(rows, 0, "user_id"), tomb);
    assert_null(rg_rows_get(rows, 0, "dietary_requirements"));
    assert_null(rg_rows_get(rows, 0, "special_needs"));
    rg_rows_free(rows);
    rg_app_close(&app);
    assert_int_equal(srv_start(&g_srv, g_srv.dir), 0);
    api_resp *r = login(&p);
    assert_problem(r, 401);
    resp_free(r);
}

static void guardian_consent_in_attendee_list(void **state)
{
    (void)state;
    fixture();
    api_user child, adult;
    user_signup(&child, "child");
    user_signup(&adult, "adult");
    api_resp *r = api("PATCH", "/v1/users/me", "{\"dateOfBirth\":\"2016-04-01\"}", child.access);
    assert_status(r, 200);
    resp_free(r);
    r = api("PATCH", "/v1/users/me", "{\"dateOfBirth\":\"1985-04-01\"}", adult.access);
    assert_status(r, 200);
    resp_free(r);
    long long ev = event_create_published(
        F.org.access, json_pack("{s:i, s:i}", "guardianConsentUnder", 16, "minAge", 8));
    r = register_for(child.access, ev);
    assert_problem(r, 422);
    assert_field_error(r, "guardianConsent");
    resp_free(r);
    r = api("POST", fmt("/v1/events/%lld/registrations", ev),
            "{\"guardianConsent\":{\"guardianName\":\"Pat Parent\",\"guardianEmail\":"
            "\"pat@test.risinggen.dev\",\"relationship\":\"parent\",\"consentedAt\":"
            "\"2029-01-01T10:00:00Z\"}}",
            child.access);
    assert_status(r, 201);
    long long child_reg = jint(r->json, "id");
    resp_free(r);
    long long adult_reg = register_ok(adult.access, ev, "confirmed");

    json_t *a = attendee(ev, child_reg);
    assert_str_eq(jstr(a, "guardianConsent.guardianName"), "Pat Parent");
    assert_str_eq(jstr(a, "guardianConsent.guardianEmail"), "pat@test.risinggen.dev");
    assert_str_eq(jstr(a, "guardianConsent.relationship"), "parent");
    assert_str_eq(jstr(a, "guardianConsent.consentedAt"), "2029-01-01T10:00:00Z");
    json_decref(a);
    a = attendee(ev, adult_reg);
    assert_true(json_is_null(jget(a, "guardianConsent")));
    json_decref(a);

    /* The CSV carries the same. */
    const char *hdrs[] = {"Accept: text/csv", NULL};
    api_req rq = {.method = "GET",
                  .path = fmt("/v1/events/%lld/attendees", ev),
                  .token = F.org.access,
                  .headers = hdrs};
    r = api_do(&rq);
    assert_status(r, 200);
    assert_non_null(strstr(r->content_type, "text/csv"));
    const char *nl = strstr(r->body, "\r\n");
    assert_non_null(nl);
    assert_non_null(strstr(r->body, "guardianName,guardianEmail,guardianRelationship,"
                                    "guardianConsentedAt\r\n"));
    const char *row = strstr(r->body, fmt("\r\n%lld,", child_reg));
    assert_non_null(row);
    assert_non_null(
        strstr(row, "Pat Parent,pat@test.risinggen.dev,parent,2029-01-01T10:00:00Z\r\n"));
    row = strstr(r->body, fmt("\r\n%lld,", adult_reg));
    assert_non_null(row);
    assert_non_null(strstr(row, "false,,") || strstr(row, ",,,,\r\n"));
    /* Every row has the header's 16 columns. */
    int commas = 0;
    for (const char *c = r->body; c < nl; c++)
        commas += *c == ',';
    assert_int_equal(commas, 15);
    resp_free(r);

    /* Only the organizer and admins see the list. */
    r = api("GET", fmt("/v1/events/%lld/attendees", ev), NULL, adult.access);
    assert_problem(r, 403);
    resp_free(r);

    /* An erased child's consent (the guardian's data) goes with them. */
    r = api("DELETE", "/v1/users/me", NULL, child.access);
    assert_status(r, 204);
    resp_free(r);
    a = attendee(ev, child_reg);
    assert_true(json_is_null(jget(a, "guardianConsent")));
    assert_string_not_equal(jstr(a, "userId"), child.id);
    json_decref(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(export_everything),
        cmocka_unit_test(erase_person),
        cmocka_unit_test(erase_organizer),
        cmocka_unit_test(erasure_finished_after_crash),
        cmocka_unit_test(erasure_closes_the_account_first),
        cmocka_unit_test(guardian_consent_in_attendee_list),
    };
    return cmocka_run_group_tests(tests, api_setup, api_teardown);
}
