/* Operations across stores, stopped after each of their steps (intents.h):
 * the server started with RG_FAULT="kind:step" exits right after that step,
 * as a SIGKILL would; started again without it, the intent-resume job at
 * start takes every operation to its end (an event change: its search entry
 * and channel as the row says; a role change: the roles its audit entry
 * decided) or back (a signup without its user document: the auth document
 * goes), and no intent is left. Runs on both profiles. */
#include "testcfg.h"
#include "support.h"
#include "channel_record.h"
#include "domain.h"
#include "intents.h"
#include "risinggen/base/error.h"
#include "risinggen/store/relational.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RESUMED "finished 1 interrupted operation(s)"

static int search_hits(const char *word, long long id)
{
    api_resp *r = api("GET", fmt("/v1/search?q=%s&types=event", word), NULL, NULL);
    assert_status(r, 200);
    int hits = 0;
    for (size_t i = 0; i < jlen(r->json, "items"); i++)
        hits += jint(json_array_get(json_object_get(r->json, "items"), i), "id") == id;
    resp_free(r);
    return hits;
}

/* Publishing an event: 1 the row (with its intent), 2 the search entry,
 * 3 the channel; the process stops after each in turn. */
static void event_publish_stopped_after_each_step(void **state)
{
    (void)state;
    for (int step = 1; step <= 3; step++) {
        api_user org;
        organizer_signup(&org, fmt("fault%d", step));
        char word[32];
        snprintf(word, sizeof word, "faultpub%dx%d", (int)getpid(), step);
        long long ev = event_create(org.access, json_pack("{s:s}", "title", word));
        crash_restart(fmt("event.change:%d", step));
        crash_stopped_request("PATCH", fmt("/v1/events/%lld", ev), "{\"status\":\"published\"}",
                              org.access);
        int resumed = crash_log_lines(RESUMED);
        crash_restart(NULL);
        /* Done at start, before the server answered /healthz. */
        assert_int_equal(crash_log_lines(RESUMED), resumed + 1);
        api_resp *r = api("GET", fmt("/v1/events/%lld", ev), NULL, NULL);
        assert_status(r, 200);
        assert_string_equal(jstr(r->json, "status"), "published");
        resp_free(r);
        assert_int_equal(search_hits(word, ev), 1);
        rg_app app;
        api_open_stores(&app);
        char channel[RG_OID_LEN + 1];
        assert_int_equal(rg__event_channel_find(&app, ev, channel, NULL), 0);
        assert_int_equal(crash_intents_left(&app, NULL, NULL), 0);
        rg_app_close(&app);
    }
}

/* Cancelling a published event: 1 the row (with its intent), 2 its search
 * entry removed. Stopped after either, the event is cancelled and no
 * longer found once the server is back. */
static void event_cancel_stopped_after_each_step(void **state)
{
    (void)state;
    for (int step = 1; step <= 2; step++) {
        api_user org;
        organizer_signup(&org, fmt("faultcancel%d", step));
        char word[32];
        snprintf(word, sizeof word, "faultcan%dx%d", (int)getpid(), step);
        long long ev = event_create_published(org.access, json_pack("{s:s}", "title", word));
        crash_restart(fmt("event.change:%d", step));
        crash_stopped_request("PATCH", fmt("/v1/events/%lld", ev), "{\"status\":\"cancelled\"}",
                              org.access);
        crash_restart(NULL);
        api_resp *r = api("GET", fmt("/v1/events/%lld", ev), NULL, org.access);
        assert_status(r, 200);
        assert_string_equal(jstr(r->json, "status"), "cancelled");
        resp_free(r);
        /* The entry itself is gone (the API would filter it out anyway). */
        rg_app app;
        api_open_stores(&app);
        static const char *const types[] = {"event"};
        rg_search_hit *hits = NULL;
        int n = -1;
        assert_int_equal(rg_search_ids(&app.st.search, word, types, 1, 10, &hits, &n), 0);
        assert_int_equal(n, 0);
        rg_search_hits_free(hits, n);
        assert_int_equal(crash_intents_left(&app, NULL, NULL), 0);
        rg_app_close(&app);
    }
}

/* A signup: 0 the intent, 1 the auth document, 2 the user document. Stopped
 * after 0 or 1, the account never was (its auth document goes); after 2,
 * it stands and signs in. */
static void signup_stopped_after_each_step(void **state)
{
    (void)state;
    for (int step = 0; step <= 2; step++) {
        const char *email = unique_email(fmt("faultsign%d", step));
        /* As on a documents store without transactions: one document
         * after the other. */
        setenv("RG_FAULT_NO_ATOMIC", "1", 1);
        crash_restart(fmt("signup:%d", step));
        unsetenv("RG_FAULT_NO_ATOMIC");
        crash_stopped_request("POST", "/v1/auth/signup",
                              fmt("{\"email\":\"%s\",\"password\":\"correct horse battery\","
                                  "\"firstName\":\"Fault\",\"lastName\":\"Step\"}",
                                  email),
                              NULL);
        /* The intent names the account. Signups are undone only once they
         * have stood still for a minute (one in flight on another instance
         * must keep its documents): this one is made older. */
        rg_app app;
        api_open_stores(&app);
        char kind[32] = "", id[64] = "";
        assert_int_equal(crash_intents_left(&app, kind, id), 1);
        assert_string_equal(kind, "signup");
        rg_app_close(&app);
        crash_age_intents();
        int resumed = crash_log_lines(RESUMED);
        crash_restart(NULL);
        assert_int_equal(crash_log_lines(RESUMED), resumed + 1);
        api_open_stores(&app);
        json_t *doc = NULL;
        int auth = rg_docs_get(&app.st.docs, COLL_AUTH, id, &doc, NULL);
        json_decref(doc);
        doc = NULL;
        int user = rg_docs_get(&app.st.docs, COLL_USERS, id, &doc, NULL);
        json_decref(doc);
        assert_int_equal(crash_intents_left(&app, NULL, NULL), 0);
        rg_app_close(&app);
        rg_error_clear();
        api_user u = {0};
        snprintf(u.email, sizeof u.email, "%s", email);
        snprintf(u.password, sizeof u.password, "%s", "correct horse battery");
        if (step < 2) {
            assert_int_equal(auth, RG_ENOTFOUND);
            assert_int_equal(user, RG_ENOTFOUND);
            /* The e-mail is free: the signup can be made again. */
            api_resp *r =
                apij("POST", "/v1/auth/signup",
                     json_pack("{s:s, s:s, s:s, s:s}", "email", email, "password",
                               "correct horse battery", "firstName", "Fault", "lastName", "Step"),
                     NULL);
            assert_status(r, 201);
            resp_free(r);
        } else {
            assert_int_equal(auth, 0);
            assert_int_equal(user, 0);
        }
        user_login(&u);
        assert_true(u.access[0] != '\0');
    }
}

/* On a documents store that runs transactions (SQLite and PostgreSQL
 * here), a signup writes both documents in one and records no intent:
 * stopped right after it, the account is whole once the server is back. */
static void signup_in_one_transaction(void **state)
{
    (void)state;
    crash_need_atomic("signup in one transaction");
    rg_app app;
    const char *email = unique_email("faultsignatomic");
    crash_restart("signup:2");
    crash_stopped_request("POST", "/v1/auth/signup",
                          fmt("{\"email\":\"%s\",\"password\":\"correct horse battery\","
                              "\"firstName\":\"Fault\",\"lastName\":\"Atomic\"}",
                              email),
                          NULL);
    api_open_stores(&app);
    assert_int_equal(crash_intents_left(&app, NULL, NULL), 0);
    rg_app_close(&app);
    crash_restart(NULL);
    api_user u = {0};
    snprintf(u.email, sizeof u.email, "%s", email);
    snprintf(u.password, sizeof u.password, "%s", "correct horse battery");
    user_login(&u);
    assert_true(u.access[0] != '\0');
}

/* A role change: 1 the audit entry with its intent (one transaction), 2
 * the user document. Stopped after either, the roles are those decided
 * once the server is back, and the audit log holds the change. */
static int count_gid(void *arg, const char *gid)
{
    (void)gid;
    (*(int *)arg)++;
    return 0;
}

/* Transactions the coordinator prepared and did not finish, in both
 * stores (each listed by its own prefix: the two stores may be one
 * database). */
static int prepared_left(rg_app *app)
{
    int n = 0;
    rg_rel_conn *c;
    assert_int_equal(rg_rel_acquire(&app->st.rel, &c), 0);
    assert_int_equal(rg_rel_prepared_list(&app->st.rel, c, "rg.r.", count_gid, &n), 0);
    rg_rel_release(&app->st.rel, c);
    assert_int_equal(rg_docs_prepared_list(&app->st.docs, "rg.d.", count_gid, &n), 0);
    return n;
}

/* The roles of u as the service shows them to u, and how many audit
 * entries of a role change u has (0 or 1 here). */
static size_t roles_of(const api_user *u, bool *organizer)
{
    json_t *me = get_json("/v1/users/me", u->access);
    json_t *roles = json_object_get(me, "roles");
    size_t n = json_array_size(roles);
    *organizer = false;
    for (size_t i = 0; i < n; i++)
        *organizer |= strcmp(json_string_value(json_array_get(roles, i)), "organizer") == 0;
    json_decref(me);
    return n;
}

static int role_audits(rg_app *app, const char *id)
{
    rg_rows *rows;
    rg_param p[] = {RG_PTEXT(id), RG_PTEXT("user.roles")};
    rg_rel_conn *c;
    assert_int_equal(rg_rel_acquire(&app->st.rel, &c), 0);
    assert_true(rg_rel_query(&app->st.rel, c, "audit_latest", p, 2, &rows) >= 0);
    rg_rel_release(&app->st.rel, c);
    int n = rows->nrows;
    rg_rows_free(rows);
    return n;
}

/* Whether the stores of this profile commit role changes in two phases. */
static bool two_phase_profile(void)
{
    rg_app app;
    api_open_stores(&app);
    bool on = app.two_phase;
    rg_app_close(&app);
    return on;
}

/* A role change, stopped after each step of its kind: user.roles (1 the
 * audit entry with the intent, 2 the document; the driver applies the
 * decision) or, where both stores prepare transactions, user.roles.2pc
 * (0 the intent, 1 and 2 each store prepared, 3 the decision, 4 and 5 each
 * store committed; undecided is undone, decided is committed). */
static void roles_stopped_after_each_step(void **state)
{
    (void)state;
    api_user *admin = admin_user();
    bool two_phase = two_phase_profile();
    const char *kind = two_phase ? "user.roles.2pc" : "user.roles";
    int first = two_phase ? 0 : 1, last = two_phase ? 5 : 2;
    for (int step = first; step <= last; step++) {
        api_user u;
        user_signup(&u, fmt("faultroles%s%d", two_phase ? "tp" : "", step));
        crash_restart(fmt("%s:%d", kind, step));
        crash_stopped_request("PATCH", fmt("/v1/users/%s", u.id),
                              "{\"roles\":[\"participant\",\"organizer\"]}", admin->access);
        crash_age_intents();
        int resumed = crash_log_lines(RESUMED);
        crash_restart(NULL);
        assert_int_equal(crash_log_lines(RESUMED), resumed + 1);
        bool decided = !two_phase || step >= 3, organizer;
        size_t n = roles_of(&u, &organizer);
        if (n != (decided ? 2u : 1u) || organizer != decided)
            fail_msg("%s step %d: %zu role(s), organizer %d", kind, step, n, organizer);
        rg_app app;
        api_open_stores(&app);
        assert_int_equal(crash_intents_left(&app, NULL, NULL), 0);
        assert_int_equal(role_audits(&app, u.id), decided ? 1 : 0);
        if (two_phase)
            assert_int_equal(prepared_left(&app), 0);
        rg_app_close(&app);
    }
}

/* The two-phase race: the driver gives an undecided change up while its
 * operation is still working, and the operation's decision is then
 * refused; a transaction prepared for an intent already gone is rolled back
 * by the sweep. */
static void two_phase_driver_wins_over_a_late_decision(void **state)
{
    (void)state;
    rg_app app;
    api_open_stores(&app);
    if (!app.two_phase) {
        rg_app_close(&app);
        printf("SKIPPED two-phase race: the stores of this profile do not prepare "
               "transactions\n");
        skip();
    }
    api_user u;
    user_signup(&u, "tworace");
    rg_intent in;
    assert_int_equal(rg_intent_open(&app, NULL, "user.roles.2pc", u.id, 0, &in), 0);
    char gid[RG_GID_MAX + 1];
    rg_intent_gid(&in, RG_INTENT_STORE_DOCS, gid);
    json_t *doc;
    int64_t rev;
    assert_int_equal(rg_docs_get(&app.st.docs, "users", u.id, &doc, &rev), 0);
    json_object_set_new(doc, "roles", json_pack("[s]", "admin"));
    rg_doc_write w = {RG_DOC_W_REPLACE, "users", u.id, doc, rev};
    assert_int_equal(rg_docs_prepare(&app.st.docs, gid, &w, 1), 0);
    assert_int_equal(prepared_left(&app), 1);
    assert_int_equal(rg__user_roles_2pc_drive(&app, &in), 0);
    assert_int_equal(rg_intent_decide(&app, &in, 3), RG_ESTALE);
    rg_error_clear();
    assert_int_equal(prepared_left(&app), 0);
    bool organizer;
    assert_int_equal(roles_of(&u, &organizer), 1);

    rg_intent gone = in;
    gone.id += 1000000;
    rg_intent_gid(&gone, RG_INTENT_STORE_DOCS, gid);
    assert_int_equal(rg_docs_prepare(&app.st.docs, gid, &w, 1), 0);
    int swept;
    assert_int_equal(rg_intents_sweep_prepared(&app, &swept), 0);
    assert_int_equal(swept, 1);
    assert_int_equal(prepared_left(&app), 0);
    assert_int_equal(roles_of(&u, &organizer), 1);
    json_decref(doc);
    rg_app_close(&app);
}

/* A password reset: 0 the intent, 1 the auth document (new password,
 * families emptied), 2 every session ended. Stopped after 0 or 1, the
 * sessions end all the same once the server is back: the access token of
 * before is refused; after 1 the new password signs in, after 0 the old
 * one still does and the code still works. */
static void password_reset_stopped_after_each_step(void **state)
{
    (void)state;
    for (int step = 0; step <= 1; step++) {
        api_user u;
        user_signup(&u, fmt("faultreset%d", step));
        api_resp *r =
            apij("POST", "/v1/auth/password-reset", json_pack("{s:s}", "email", u.email), NULL);
        assert_status(r, 202);
        resp_free(r);
        char code[128];
        snprintf(code, sizeof code, "%s", mail_reset_code(u.email, 0));
        crash_restart(fmt("password.reset:%d", step));
        crash_stopped_request(
            "POST", "/v1/auth/password-reset/confirm",
            fmt("{\"token\":\"%s\",\"newPassword\":\"a new long password\"}", code), NULL);
        crash_age_intents();
        int resumed = crash_log_lines(RESUMED);
        crash_restart(NULL);
        assert_int_equal(crash_log_lines(RESUMED), resumed + 1);
        r = api("GET", "/v1/users/me", NULL, u.access);
        assert_problem(r, 401);
        resp_free(r);
        api_user again = u;
        if (step == 1) {
            snprintf(again.password, sizeof again.password, "%s", "a new long password");
        } else {
            r = apij("POST", "/v1/auth/password-reset/confirm",
                     json_pack("{s:s, s:s}", "token", code, "newPassword", "a new long password"),
                     NULL);
            assert_status(r, 204);
            resp_free(r);
            snprintf(again.password, sizeof again.password, "%s", "a new long password");
        }
        user_login(&again);
        rg_app app;
        api_open_stores(&app);
        assert_int_equal(crash_intents_left(&app, NULL, NULL), 0);
        rg_app_close(&app);
    }
}

/* A password-reset request is claimed by the job (0), its e-mail queued
 * (1), then the request deleted. Stopped after either, the request is
 * taken again once its claim has run out (made to here), and a code
 * arrives that resets the password: after 1 a second one, which replaces
 * the first. */
static void password_request_stopped_midway(void **state)
{
    (void)state;
    for (int step = 0; step <= 1; step++) {
        api_user u;
        user_signup(&u, fmt("faultrequest%d", step));
        crash_restart(fmt("password.request:%d", step));
        api_resp *r =
            apij("POST", "/v1/auth/password-reset", json_pack("{s:s}", "email", u.email), NULL);
        assert_status(r, 202);
        resp_free(r);
        crash_wait_stopped();
        rg_app app;
        api_open_stores(&app);
        rg_rel_conn *c;
        assert_int_equal(rg_rel_acquire(&app.st.rel, &c), 0);
        assert_int_equal(
            rg_rel_exec_script(&app.st.rel, c,
                               "UPDATE reset_requests SET claimed_until = '2000-01-01T00:00:00Z'"),
            0);
        rg_rel_release(&app.st.rel, c);
        rg_app_close(&app);
        crash_restart(NULL);
        char code[128];
        snprintf(code, sizeof code, "%s", mail_reset_code(u.email, step));
        r = apij("POST", "/v1/auth/password-reset/confirm",
                 json_pack("{s:s, s:s}", "token", code, "newPassword", "a new long password"),
                 NULL);
        assert_status(r, 204);
        resp_free(r);
        assert_int_equal(mails_to(u.email, "Your reset code: "), step + 1);
        api_user again = u;
        snprintf(again.password, sizeof again.password, "%s", "a new long password");
        user_login(&again);
    }
}

/* A logout: 0 the intent, 1 the family out of the auth document, 2 its
 * sessions ended. Stopped after 0 or 1, both tokens are refused once the
 * server is back. */
static void logout_stopped_after_each_step(void **state)
{
    (void)state;
    for (int step = 0; step <= 1; step++) {
        api_user u;
        user_signup(&u, fmt("faultlogout%d", step));
        crash_restart(fmt("session.revoke:%d", step));
        crash_stopped_request("POST", "/v1/auth/logout", NULL, u.access);
        crash_age_intents();
        int resumed = crash_log_lines(RESUMED);
        crash_restart(NULL);
        assert_int_equal(crash_log_lines(RESUMED), resumed + 1);
        api_resp *r = api("GET", "/v1/users/me", NULL, u.access);
        assert_problem(r, 401);
        resp_free(r);
        r = apij("POST", "/v1/auth/refresh", json_pack("{s:s}", "refreshToken", u.refresh), NULL);
        assert_problem(r, 401);
        resp_free(r);
        rg_app app;
        api_open_stores(&app);
        assert_int_equal(crash_intents_left(&app, NULL, NULL), 0);
        rg_app_close(&app);
    }
}

/* The messages of channel chan whose text is text, as member sees them:
 * how many, and the delivery status and count of the first. */
static int messages_with(const char *chan, const char *text, const char *token, char status[16],
                         long long *count)
{
    api_resp *r = api("GET", fmt("/v1/channels/%s/messages?limit=50", chan), NULL, token);
    assert_status(r, 200);
    int n = 0;
    json_t *items = json_object_get(r->json, "items");
    for (size_t i = 0; i < json_array_size(items); i++) {
        json_t *m = json_array_get(items, i);
        if (strcmp(jstr(m, "content.text"), text) != 0)
            continue;
        if (n++ == 0) {
            snprintf(status, 16, "%s", jstr(m, "metadata.deliveryStatus"));
            *count = jint(m, "metadata.deliveryCount");
        }
    }
    resp_free(r);
    return n;
}

/* Posting a message: 0 the intent, 1 the message ("pending"), 2 its
 * e-mails queued. Stopped after 0 the message never was; after 1 or 2 it
 * stands, "sent", and the member gets its e-mail exactly once. */
static void message_post_stopped_after_each_step(void **state)
{
    (void)state;
    for (int step = 0; step <= 2; step++) {
        api_user org, member;
        organizer_signup(&org, fmt("faultmsgorg%d", step));
        user_signup(&member, fmt("faultmsgmember%d", step));
        long long ev = event_create_published(org.access, NULL);
        register_ok(member.access, ev, "confirmed");
        api_resp *r = api("GET", fmt("/v1/events/%lld/channel", ev), NULL, org.access);
        assert_status(r, 200);
        char chan[32];
        snprintf(chan, sizeof chan, "%s", jstr(r->json, "id"));
        resp_free(r);
        char text[64];
        snprintf(text, sizeof text, "crash-notice-%d-%d", (int)getpid(), step);
        crash_restart(fmt("message.post:%d", step));
        crash_stopped_request(
            "POST", fmt("/v1/channels/%s/messages", chan),
            fmt("{\"messageType\":\"announcement\",\"content\":{\"text\":\"%s\"}}", text),
            org.access);
        crash_age_intents();
        crash_restart(NULL);
        rg_app app;
        api_open_stores(&app);
        assert_int_equal(crash_intents_left(&app, NULL, NULL), 0);
        rg_app_close(&app);
        char status[16] = "";
        long long count = -1;
        int n = messages_with(chan, text, member.access, status, &count);
        if (step == 0) {
            assert_int_equal(n, 0);
            assert_int_equal(mails_to(member.email, text), 0);
            continue;
        }
        assert_int_equal(n, 1);
        assert_string_equal(status, "sent");
        assert_int_equal(count, 1);
        char *mail = wait_mail(member.email, text, 0);
        assert_non_null(mail);
        free(mail);
        assert_int_equal(mails_to(member.email, text), 1);
    }
}

/* An erasure: 0 the ledger row and its intent, 1 sessions, 2 relational
 * rows, 3 content, 4 search, 5 account documents, 6 channels (7 closes
 * it). Stopped after any of them, the next start finishes it: the person
 * cannot sign in, their documents are gone, and their registration stands
 * under the tombstone. */
static void erasure_stopped_after_each_step(void **state)
{
    (void)state;
    api_user org;
    organizer_signup(&org, "faulteraseorg");
    long long ev = event_create_published(org.access, NULL);
    for (int step = 0; step <= 6; step++) {
        api_user u;
        user_signup(&u, fmt("faulterase%d", step));
        long long reg = register_ok(u.access, ev, "confirmed");
        crash_restart(fmt("user.erase:%d", step));
        crash_stopped_request("DELETE", "/v1/users/me", NULL, u.access);
        crash_restart(NULL);
        api_resp *r = apij("POST", "/v1/auth/login",
                           json_pack("{s:s, s:s}", "email", u.email, "password", u.password), NULL);
        assert_problem(r, 401);
        resp_free(r);
        r = api("GET", fmt("/v1/events/%lld/attendees?limit=100", ev), NULL, org.access);
        assert_status(r, 200);
        const char *holder = NULL;
        json_t *items = json_object_get(r->json, "items");
        for (size_t i = 0; i < json_array_size(items); i++)
            if (jint(json_array_get(items, i), "id") == reg)
                holder = jstr(json_array_get(items, i), "userId");
        assert_non_null(holder);
        assert_string_not_equal(holder, u.id);
        resp_free(r);
        rg_app app;
        api_open_stores(&app);
        json_t *doc = NULL;
        assert_int_equal(rg_docs_get(&app.st.docs, "users", u.id, &doc, NULL), RG_ENOTFOUND);
        assert_int_equal(rg_docs_get(&app.st.docs, "auth", u.id, &doc, NULL), RG_ENOTFOUND);
        rg_error_clear();
        assert_int_equal(crash_intents_left(&app, NULL, NULL), 0);
        rg_app_close(&app);
    }
}

/* Resources whose search hits for word number how many. */
static int resource_hits(const char *word)
{
    api_resp *r = api("GET", fmt("/v1/search?q=%s&types=resource", word), NULL, NULL);
    assert_status(r, 200);
    int n = (int)json_array_size(json_object_get(r->json, "items"));
    resp_free(r);
    return n;
}

/* A resource's creation (0 the intent, 1 the document, then its search
 * entry) and deletion (0 the intent, 1 the search entry removed, then the
 * document). Stopped after any step, the next start leaves the search
 * matching the documents: a created resource is found, one never written
 * is not, and a deletion that did not reach the document is undone. */
static void resource_change_stopped_after_each_step(void **state)
{
    (void)state;
    api_user org;
    organizer_signup(&org, "faultresource");
    for (int step = 0; step <= 1; step++) {
        char word[32];
        snprintf(word, sizeof word, "quokka%dx%d", (int)getpid(), step);
        crash_restart(fmt("resource.change:%d", step));
        crash_stopped_request("POST", "/v1/resources",
                              fmt("{\"title\":\"Notes on %s\",\"type\":\"article\"}", word),
                              org.access);
        crash_age_intents();
        crash_restart(NULL);
        assert_int_equal(resource_hits(word), step == 0 ? 0 : 1);

        snprintf(word, sizeof word, "wombat%dx%d", (int)getpid(), step);
        api_resp *r =
            api("POST", "/v1/resources",
                fmt("{\"title\":\"Notes on %s\",\"type\":\"article\"}", word), org.access);
        assert_status(r, 201);
        char id[32];
        snprintf(id, sizeof id, "%s", jstr(r->json, "id"));
        resp_free(r);
        crash_restart(fmt("resource.change:%d", step));
        crash_stopped_request("DELETE", fmt("/v1/resources/%s", id), NULL, org.access);
        crash_age_intents();
        crash_restart(NULL);
        r = api("GET", fmt("/v1/resources/%s", id), NULL, org.access);
        assert_status(r, 200);
        resp_free(r);
        assert_int_equal(resource_hits(word), 1);
        rg_app app;
        api_open_stores(&app);
        assert_int_equal(crash_intents_left(&app, NULL, NULL), 0);
        rg_app_close(&app);
    }
}

static int setup(void **state)
{
    if (mail_catcher_start() != 0) {
        print_error("cannot start the mail catcher\n");
        return -1;
    }
    return api_setup(state);
}

static int teardown(void **state)
{
    int rc = api_teardown(state);
    mail_catcher_stop();
    return rc;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(event_publish_stopped_after_each_step),
        cmocka_unit_test(event_cancel_stopped_after_each_step),
        cmocka_unit_test(signup_stopped_after_each_step),
        cmocka_unit_test(signup_in_one_transaction),
        cmocka_unit_test(roles_stopped_after_each_step),
        cmocka_unit_test(two_phase_driver_wins_over_a_late_decision),
        cmocka_unit_test(password_reset_stopped_after_each_step),
        cmocka_unit_test(password_request_stopped_midway),
        cmocka_unit_test(logout_stopped_after_each_step),
        cmocka_unit_test(message_post_stopped_after_each_step),
        cmocka_unit_test(erasure_stopped_after_each_step),
        cmocka_unit_test(resource_change_stopped_after_each_step),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
