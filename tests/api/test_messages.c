/* Channels and messages over HTTP: the channel a published event gets, who
 * may read and post, announcements, attachments, read receipts under
 * concurrency, notification counts and their delivery through the outbox. */
#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct {
    bool ready;
    api_user org, org2, member, outsider;
    api_user *admin;
    long long event;
    char channel[32];
} F;

/* The id of the channel of event (GET /v1/events/{id}/channel as token). */
static void event_channel(long long event, const char *token, char out[32])
{
    api_resp *r = api("GET", fmt("/v1/events/%lld/channel", event), NULL, token);
    assert_status(r, 200);
    assert_str_eq(jstr(r->json, "type"), "event");
    assert_int_equal(jint(r->json, "eventId"), event);
    snprintf(out, 32, "%s", jstr(r->json, "id"));
    assert_int_equal(strlen(out), 24);
    resp_free(r);
}

static void fixture(void)
{
    if (F.ready)
        return;
    organizer_signup(&F.org, "morg");
    organizer_signup(&F.org2, "morgtwo");
    user_signup(&F.member, "mmember");
    user_signup(&F.outsider, "moutsider");
    F.admin = admin_user();
    F.event = event_create_published(F.org.access, NULL);
    register_ok(F.member.access, F.event, "confirmed");
    event_channel(F.event, F.org.access, F.channel);
    F.ready = true;
}

/* POST a message; returns the answer. */
static api_resp *post(const char *channel, const char *token, json_t *body)
{
    return apij("POST", fmt("/v1/channels/%s/messages", channel), body, token);
}

static json_t *text_msg(const char *type, const char *text)
{
    return json_pack("{s:s, s:{s:s}}", "messageType", type, "content", "text", text);
}

/* Posts and asserts 201; the message id goes to out. */
static void post_ok(const char *channel, const char *token, json_t *body, char out[32])
{
    api_resp *r = post(channel, token, body);
    assert_status(r, 201);
    snprintf(out, 32, "%s", jstr(r->json, "id"));
    resp_free(r);
}

static void channel_made_when_event_published(void **state)
{
    (void)state;
    fixture();
    long long ev = event_create(F.org.access, NULL);
    /* A draft has no channel yet. */
    api_resp *r = api("GET", fmt("/v1/events/%lld/channel", ev), NULL, F.org.access);
    assert_problem(r, 404);
    resp_free(r);
    event_publish(F.org.access, ev);
    char a[32], b[32];
    event_channel(ev, F.org.access, a);
    /* Publishing again (same status) keeps the one channel. */
    r = api("PATCH", fmt("/v1/events/%lld", ev), "{\"status\":\"published\"}", F.org.access);
    assert_status(r, 200);
    resp_free(r);
    event_channel(ev, F.admin->access, b);
    assert_str_eq(a, b);
    r = api("GET", fmt("/v1/channels/%s", a), NULL, F.org.access);
    assert_status(r, 200);
    assert_str_eq(jstr(r->json, "id"), a);
    assert_str_eq(jstr(r->json, "organizerId"), F.org.id);
    assert_int_equal(jint(r->json, "eventId"), ev);
    assert_non_null(jstr(r->json, "name"));
    assert_non_null(jstr(r->json, "createdAt"));
    resp_free(r);
    /* A second channel for the event is a conflict. */
    r = apij("POST", "/v1/channels",
             json_pack("{s:I, s:s}", "eventId", (json_int_t)ev, "name", "x"), F.org.access);
    assert_problem(r, 409);
    resp_free(r);
}

static void channel_members_only(void **state)
{
    (void)state;
    fixture();
    const char *path = fmt("/v1/channels/%s", F.channel);
    const char *ok[] = {F.org.access, F.member.access, F.admin->access};
    for (size_t i = 0; i < N_ELEMS(ok); i++) {
        api_resp *r = api("GET", path, NULL, ok[i]);
        assert_status(r, 200);
        resp_free(r);
    }
    const char *no[] = {F.outsider.access, F.org2.access};
    for (size_t i = 0; i < N_ELEMS(no); i++) {
        api_resp *r = api("GET", path, NULL, no[i]);
        assert_problem(r, 404);
        resp_free(r);
        r = api("GET", fmt("%s/messages", path), NULL, no[i]);
        assert_problem(r, 404);
        resp_free(r);
        r = post(F.channel, no[i], text_msg("message", "hello"));
        assert_problem(r, 404);
        resp_free(r);
    }
    api_resp *r = api("GET", path, NULL, NULL);
    assert_problem(r, 401);
    resp_free(r);
    r = api("GET", fmt("%s/messages", path), NULL, NULL);
    assert_problem(r, 401);
    resp_free(r);
    r = api("GET", "/v1/channels/000000000000000000000000", NULL, F.admin->access);
    assert_problem(r, 404);
    resp_free(r);
    r = api("GET", "/v1/channels/not-an-id", NULL, F.admin->access);
    assert_problem(r, 404);
    resp_free(r);

    /* Membership follows the registration: cancelled, out. */
    api_user p;
    user_signup(&p, "mleaver");
    long long reg = register_ok(p.access, F.event, "confirmed");
    r = api("GET", path, NULL, p.access);
    assert_status(r, 200);
    resp_free(r);
    r = api("POST", fmt("/v1/registrations/%lld/cancel", reg), "{}", p.access);
    assert_status(r, 200);
    resp_free(r);
    r = api("GET", path, NULL, p.access);
    assert_problem(r, 404);
    resp_free(r);
}

static void group_channels(void **state)
{
    (void)state;
    fixture();
    api_resp *r =
        apij("POST", "/v1/channels", json_pack("{s:s}", "name", "Helpers"), F.member.access);
    assert_problem(r, 403);
    resp_free(r);
    r = apij("POST", "/v1/channels", json_pack("{s:s}", "name", "Helpers"), NULL);
    assert_problem(r, 401);
    resp_free(r);
    r = apij("POST", "/v1/channels",
             json_pack("{s:s, s:s, s:[s]}", "name", "Helpers", "description", "Set-up crew",
                       "members", F.member.id),
             F.org.access);
    assert_status(r, 201);
    char id[32];
    snprintf(id, sizeof id, "%s", jstr(r->json, "id"));
    assert_str_eq(jstr(r->json, "type"), "group");
    assert_true(json_is_null(jget(r->json, "eventId")));
    assert_non_null(strstr(r->location, fmt("/v1/channels/%s", id)));
    resp_free(r);
    r = api("GET", fmt("/v1/channels/%s", id), NULL, F.member.access);
    assert_status(r, 200);
    assert_str_eq(jstr(r->json, "name"), "Helpers");
    resp_free(r);
    r = api("GET", fmt("/v1/channels/%s", id), NULL, F.outsider.access);
    assert_problem(r, 404);
    resp_free(r);
    r = api("GET", fmt("/v1/channels/%s", id), NULL, F.org2.access);
    assert_problem(r, 404);
    resp_free(r);
    char m[32];
    post_ok(id, F.member.access, text_msg("message", "I can bring chairs"), m);

    /* Bad channels. */
    json_t *bad[] = {
        json_pack("{s:s}", "name", ""),
        json_pack("{}"),
        json_pack("{s:s, s:[s]}", "name", "x", "members", "nope"),
        json_pack("{s:s, s:[s]}", "name", "x", "members", "0123456789abcdef01234567"),
        json_pack("{s:s, s:s}", "name", "x", "colour", "red"),
        json_pack("{s:s, s:i}", "name", "x", "eventId", 999999),
    };
    for (size_t i = 0; i < N_ELEMS(bad); i++) {
        r = apij("POST", "/v1/channels", bad[i], F.org.access);
        assert_problem(r, 422);
        resp_free(r);
    }
    /* Another organizer's event. */
    long long ev2 = event_create(F.org2.access, NULL);
    r = apij("POST", "/v1/channels", json_pack("{s:I}", "eventId", (json_int_t)ev2), F.org.access);
    assert_problem(r, 403);
    resp_free(r);
    /* The owner may make a draft's channel early; publishing then keeps it. */
    r = apij("POST", "/v1/channels",
             json_pack("{s:I, s:s}", "eventId", (json_int_t)ev2, "name", "Early"), F.org2.access);
    assert_status(r, 201);
    char early[32];
    snprintf(early, sizeof early, "%s", jstr(r->json, "id"));
    resp_free(r);
    event_publish(F.org2.access, ev2);
    char after[32];
    event_channel(ev2, F.org2.access, after);
    assert_str_eq(early, after);
}

static void posting_roles(void **state)
{
    (void)state;
    fixture();
    api_resp *r = post(F.channel, F.member.access, text_msg("message", "Is there parking?"));
    assert_status(r, 201);
    assert_int_equal(strlen(jstr(r->json, "id")), 24);
    assert_str_eq(jstr(r->json, "channelId"), F.channel);
    assert_str_eq(jstr(r->json, "sender.userId"), F.member.id);
    assert_str_eq(jstr(r->json, "sender.role"), "participant");
    assert_str_eq(jstr(r->json, "messageType"), "message");
    assert_str_eq(jstr(r->json, "content.text"), "Is there parking?");
    assert_int_equal(jlen(r->json, "content.attachments"), 0);
    assert_str_eq(jstr(r->json, "priority"), "normal");
    assert_non_null(jstr(r->json, "sentAt"));
    assert_int_equal(jlen(r->json, "readBy"), 0);
    assert_non_null(jstr(r->json, "metadata.deliveryStatus"));
    assert_true(json_is_integer(jget(r->json, "metadata.deliveryCount")));
    assert_null(jget(r->json, "schemaVersion"));
    resp_free(r);

    /* Members do not announce, nor shout. */
    r = post(F.channel, F.member.access, text_msg("announcement", "Free pizza"));
    assert_problem(r, 403);
    resp_free(r);
    r = post(F.channel, F.member.access,
             json_pack("{s:s, s:{s:s}}", "priority", "urgent", "content", "text", "Help"));
    assert_problem(r, 422);
    assert_field_error(r, "priority");
    resp_free(r);
    r = post(F.channel, NULL, text_msg("message", "anon"));
    assert_problem(r, 401);
    resp_free(r);

    json_t *body = json_pack(
        "{s:s, s:s, s:{s:s, s:[{s:s, s:s, s:s}, {s:s, s:s, s:s}]}}", "messageType", "announcement",
        "priority", "urgent", "content", "text", "Schedule changed", "attachments", "type", "file",
        "url", "https://storage.example.com/files/schedule.pdf", "name", "Conference Schedule.pdf",
        "type", "link", "url", "https://example.org/map?x=1", "name", "Map");
    r = post(F.channel, F.org.access, body);
    assert_status(r, 201);
    assert_str_eq(jstr(r->json, "sender.role"), "organizer");
    assert_str_eq(jstr(r->json, "messageType"), "announcement");
    assert_str_eq(jstr(r->json, "priority"), "urgent");
    assert_int_equal(jlen(r->json, "content.attachments"), 2);
    assert_str_eq(jstr(r->json, "content.attachments.0.name"), "Conference Schedule.pdf");
    assert_str_eq(jstr(r->json, "content.attachments.1.type"), "link");
    char id[32];
    snprintf(id, sizeof id, "%s", jstr(r->json, "id"));
    assert_non_null(strstr(r->location, fmt("/v1/messages/%s", id)));
    resp_free(r);

    r = post(F.channel, F.admin->access, text_msg("announcement", "Admin notice"));
    assert_status(r, 201);
    assert_str_eq(jstr(r->json, "sender.role"), "admin");
    resp_free(r);

    /* One message by id: members only. */
    r = api("GET", fmt("/v1/messages/%s", id), NULL, F.member.access);
    assert_status(r, 200);
    assert_str_eq(jstr(r->json, "content.text"), "Schedule changed");
    resp_free(r);
    r = api("GET", fmt("/v1/messages/%s", id), NULL, F.outsider.access);
    assert_problem(r, 404);
    resp_free(r);
    r = api("POST", fmt("/v1/messages/%s/read", id), NULL, F.org2.access);
    assert_problem(r, 404);
    resp_free(r);
    r = api("POST", fmt("/v1/messages/%s/read", id), NULL, NULL);
    assert_problem(r, 401);
    resp_free(r);
}

static void message_bad_input(void **state)
{
    (void)state;
    fixture();
    char long_name[202], long_url[2100];
    memset(long_name, 'n', 201);
    long_name[201] = '\0';
    snprintf(long_url, sizeof long_url, "https://example.org/");
    memset(long_url + strlen(long_url), 'a', sizeof long_url - strlen(long_url) - 1);
    long_url[sizeof long_url - 1] = '\0';
    json_t *eleven = json_array();
    for (int i = 0; i < 11; i++)
        json_array_append_new(eleven, json_pack("{s:s, s:s, s:s}", "type", "image", "url",
                                                fmt("https://example.org/%d.png", i), "name",
                                                fmt("pic %d", i)));
    struct {
        json_t *body;
        const char *field;
    } cases[] = {
        {json_pack("{s:{s:s, s:[{s:s, s:s, s:s}]}}", "content", "text", "x", "attachments", "type",
                   "file", "url", "http://example.org/a.pdf", "name", "a.pdf"),
         "url"},
        {json_pack("{s:{s:s, s:o}}", "content", "text", "x", "attachments", eleven), "attachments"},
        {json_pack("{s:{s:s, s:[{s:s, s:s, s:s}]}}", "content", "text", "x", "attachments", "type",
                   "file", "url", "https://example.org/a.pdf", "name", long_name),
         "name"},
        {json_pack("{s:{s:s, s:[{s:s, s:s, s:s}]}}", "content", "text", "x", "attachments", "type",
                   "video", "url", "https://example.org/a.mp4", "name", "a"),
         "type"},
        {json_pack("{s:{s:s, s:[{s:s, s:s, s:s}]}}", "content", "text", "x", "attachments", "type",
                   "file", "url", long_url, "name", "a"),
         "url"},
        {json_pack("{s:{s:s, s:[{s:s, s:s, s:s}]}}", "content", "text", "x", "attachments", "type",
                   "file", "url", "javascript:alert(1)", "name", "a"),
         "url"},
        {json_pack("{s:{s:s, s:[s]}}", "content", "text", "x", "attachments", "https://x.org"),
         "attachments"},
        {json_pack("{s:s}", "messageType", "message"), "content"},
        {json_pack("{s:{s:s}}", "content", "text", ""), "text"},
        {json_pack("{s:{s:i}}", "content", "text", 5), "text"},
        {json_pack("{s:s, s:{s:s}}", "messageType", "shout", "content", "text", "x"),
         "messageType"},
        {json_pack("{s:s, s:{s:s}}", "priority", "critical", "content", "text", "x"), "priority"},
        {json_pack("{s:s, s:{s:s}}", "colour", "red", "content", "text", "x"), "colour"},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        api_resp *r = post(F.channel, F.org.access, cases[i].body);
        assert_problem(r, 422);
        assert_field_error(r, cases[i].field);
        resp_free(r);
    }
    api_resp *r = api("POST", fmt("/v1/channels/%s/messages", F.channel), "[1]", F.org.access);
    assert_problem(r, 422);
    resp_free(r);
    r = api("POST", fmt("/v1/channels/%s/messages", F.channel), "{\"content\":", F.org.access);
    assert_problem(r, 400);
    resp_free(r);
    /* Exactly ten attachments pass. */
    json_t *ten = json_array();
    for (int i = 0; i < 10; i++)
        json_array_append_new(ten, json_pack("{s:s, s:s, s:s}", "type", "image", "url",
                                             fmt("https://example.org/%d.png", i), "name", "p"));
    r = post(F.channel, F.org.access,
             json_pack("{s:{s:s, s:o}}", "content", "text", "ten", "attachments", ten));
    assert_status(r, 201);
    assert_int_equal(jlen(r->json, "content.attachments"), 10);
    resp_free(r);
}

static size_t read_by_count(const char *msg, const char *user)
{
    api_resp *r = api("GET", fmt("/v1/messages/%s", msg), NULL, F.org.access);
    assert_status(r, 200);
    size_t n = 0, i;
    json_t *e;
    json_array_foreach(json_object_get(r->json, "readBy"), i, e)
    {
        assert_non_null(json_string_value(json_object_get(e, "readAt")));
        if (!user || strcmp(json_string_value(json_object_get(e, "userId")), user) == 0)
            n++;
    }
    resp_free(r);
    return n;
}

static void read_receipts_once_under_concurrency(void **state)
{
    (void)state;
    fixture();
    char msg[32];
    post_ok(F.channel, F.org.access, text_msg("announcement", "Doors open at nine"), msg);
    enum { N = 10 };
    api_req reqs[N];
    api_resp *out[N];
    char path[96]; /* fmt's buffers rotate: keep a copy */
    snprintf(path, sizeof path, "/v1/messages/%s/read", msg);
    for (int i = 0; i < N; i++)
        reqs[i] = (api_req){.method = "POST", .path = path, .token = F.member.access};
    api_parallel_threads(N, reqs, out);
    for (int i = 0; i < N; i++) {
        assert_status(out[i], 200);
        resp_free(out[i]);
    }
    assert_int_equal(read_by_count(msg, F.member.id), 1);
    assert_int_equal(read_by_count(msg, NULL), 1);
    /* Again later: still one. */
    api_resp *r = api("POST", path, NULL, F.member.access);
    assert_status(r, 200);
    assert_int_equal(jlen(r->json, "readBy"), 1);
    assert_str_eq(jstr(r->json, "readBy.0.userId"), F.member.id);
    resp_free(r);

    /* Ten different members at once: ten entries, none lost. */
    api_user people[N];
    users_signup_parallel(people, N, "mreader");
    char tokens[N][160];
    for (int i = 0; i < N; i++) {
        register_ok(people[i].access, F.event, "confirmed");
        snprintf(tokens[i], sizeof tokens[i], "%s", people[i].access);
        reqs[i] = (api_req){.method = "POST", .path = path, .token = tokens[i]};
    }
    api_parallel_threads(N, reqs, out);
    for (int i = 0; i < N; i++) {
        assert_status(out[i], 200);
        resp_free(out[i]);
    }
    assert_int_equal(read_by_count(msg, NULL), N + 1);
    for (int i = 0; i < N; i++)
        assert_int_equal(read_by_count(msg, people[i].id), 1);
}

static void email_off(api_user *u)
{
    api_resp *r = api("PATCH", "/v1/users/me",
                      "{\"preferences\":{\"notifications\":{\"email\":false}}}", u->access);
    assert_status(r, 200);
    resp_free(r);
}

/* True once the server log holds needle (waits up to 10 s). */
static bool log_has(const char *needle)
{
    for (int i = 0; i < 100; i++) {
        FILE *f = fopen(g_srv.log, "r");
        if (f) {
            char line[4096];
            bool found = false;
            while (!found && fgets(line, sizeof line, f))
                found = strstr(line, needle) != NULL;
            fclose(f);
            if (found)
                return true;
        }
        usleep(100 * 1000);
    }
    return false;
}

static bool log_contains_now(const char *needle)
{
    FILE *f = fopen(g_srv.log, "r");
    if (!f)
        return false;
    char line[4096];
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

static void delivery_count_follows_preferences(void **state)
{
    (void)state;
    fixture();
    long long ev = event_create_published(F.org.access, NULL);
    enum { N = 5 };
    api_user people[N];
    users_signup_parallel(people, N, "mnotify");
    for (int i = 0; i < N; i++)
        register_ok(people[i].access, ev, "confirmed");
    email_off(&people[1]);
    email_off(&people[3]);
    /* Waitlisted and cancelled people are not members. */
    api_user gone;
    user_signup(&gone, "mgone");
    long long reg = register_ok(gone.access, ev, "confirmed");
    api_resp *r = api("POST", fmt("/v1/registrations/%lld/cancel", reg), "{}", gone.access);
    assert_status(r, 200);
    resp_free(r);
    char chan[32];
    event_channel(ev, F.org.access, chan);

    const char *secret = fmt("Secret-door-code-%d", (int)getpid());
    r = post(chan, F.org.access,
             json_pack("{s:s, s:s, s:{s:s}}", "messageType", "announcement", "priority", "high",
                       "content", "text", secret));
    assert_status(r, 201);
    /* Everyone but the sender with e-mail on: people 0, 2, 4. */
    assert_int_equal(jint(r->json, "metadata.deliveryCount"), 3);
    assert_str_eq(jstr(r->json, "metadata.deliveryStatus"), "sent");
    char msg[32];
    snprintf(msg, sizeof msg, "%s", jstr(r->json, "id"));
    resp_free(r);
    r = api("GET", fmt("/v1/messages/%s", msg), NULL, people[0].access);
    assert_status(r, 200);
    assert_int_equal(jint(r->json, "metadata.deliveryCount"), 3);
    resp_free(r);

    /* A member's message reaches the organizer's mailbox only, never every
     * member's (with links of the member's choosing). */
    const char *thanks = fmt("Thanks-with-link-%d", (int)getpid());
    r = post(chan, people[0].access,
             json_pack("{s:s, s:{s:s, s:[{s:s, s:s, s:s}]}}", "messageType", "message", "content",
                       "text", thanks, "attachments", "type", "link", "name", "prize", "url",
                       "https://example.org/win"));
    assert_status(r, 201);
    assert_int_equal(jint(r->json, "metadata.deliveryCount"), 1); /* org */
    resp_free(r);

    /* The outbox's log sender delivers each e-mail: one line per message,
     * with the recipient, never the body. */
    assert_true(log_has(fmt("outbox: delivered email to %s", people[0].email)));
    assert_true(log_has(fmt("outbox: delivered email to %s", people[2].email)));
    assert_true(log_has(fmt("outbox: delivered email to %s", people[4].email)));
    assert_true(log_has(fmt("outbox: delivered email to %s", F.org.email)));
    assert_false(log_contains_now(fmt("outbox: delivered email to %s", people[1].email)));
    assert_false(log_contains_now(fmt("outbox: delivered email to %s", people[3].email)));
    assert_false(log_contains_now(fmt("outbox: delivered email to %s", gone.email)));
    assert_false(log_contains_now(secret));
}

static void messages_newest_first_in_pages(void **state)
{
    (void)state;
    fixture();
    long long ev = event_create_published(F.org.access, NULL);
    char chan[32];
    event_channel(ev, F.org.access, chan);
    enum { N = 23 };
    char ids[N][32];
    for (int i = 0; i < N; i++)
        post_ok(chan, F.org.access, text_msg("announcement", fmt("note %d", i)), ids[i]);
    char seen[N][32];
    int n = 0;
    char cursor[512] = "", last_at[32] = "9999";
    for (int page = 0; page < 20; page++) {
        const char *path =
            cursor[0] ? fmt("/v1/channels/%s/messages?limit=5&cursor=%s", chan, urlenc(cursor))
                      : fmt("/v1/channels/%s/messages?limit=5", chan);
        api_resp *r = api("GET", path, NULL, F.org.access);
        assert_status(r, 200);
        assert_true(jlen(r->json, "items") <= 5);
        size_t i;
        json_t *it;
        json_array_foreach(json_object_get(r->json, "items"), i, it)
        {
            const char *at = json_string_value(json_object_get(it, "sentAt"));
            assert_true(strcmp(at, last_at) <= 0);
            snprintf(last_at, sizeof last_at, "%s", at);
            assert_true(n < N);
            snprintf(seen[n++], 32, "%s", json_string_value(json_object_get(it, "id")));
        }
        const char *next = jstr(r->json, "nextCursor");
        snprintf(cursor, sizeof cursor, "%s", next ? next : "");
        resp_free(r);
        if (!cursor[0])
            break;
    }
    assert_int_equal(n, N);
    /* Newest first: the reverse of the posting order, each once. */
    for (int i = 0; i < N; i++)
        assert_str_eq(seen[i], ids[N - 1 - i]);

    const char *bad[] = {"limit=0", "limit=101", "limit=x", "cursor=!!!", "cursor=bm9wZQ"};
    for (size_t i = 0; i < N_ELEMS(bad); i++) {
        api_resp *r =
            api("GET", fmt("/v1/channels/%s/messages?%s", chan, bad[i]), NULL, F.org.access);
        assert_problem(r, 400);
        resp_free(r);
    }
    /* A member of another event's channel sees none of these. */
    api_resp *r = api("GET", fmt("/v1/channels/%s/messages", chan), NULL, F.member.access);
    assert_problem(r, 404);
    resp_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(channel_made_when_event_published),
        cmocka_unit_test(channel_members_only),
        cmocka_unit_test(group_channels),
        cmocka_unit_test(posting_roles),
        cmocka_unit_test(message_bad_input),
        cmocka_unit_test(read_receipts_once_under_concurrency),
        cmocka_unit_test(delivery_count_follows_preferences),
        cmocka_unit_test(messages_newest_first_in_pages),
    };
    return cmocka_run_group_tests(tests, api_setup, api_teardown);
}
