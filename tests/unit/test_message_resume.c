/* A message whose notifications a crash left unqueued gets them from the
 * driver of its message.post intent, once, on SQLite (documents and
 * relational). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <string.h>

#include "domain.h"
#include "intents.h"
#include "testcfg.h"
#include "tmpdir.h"
#include "risinggen/base/clock.h"
#include "risinggen/base/id.h"

static rg_app app;
static char dir[512];

static void person(const char *email, const char *role, char id[RG_OID_LEN + 1])
{
    const char *hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNo";
    json_t *u = json_pack("{s:s, s:s, s:s, s:[s,s], s:{s:{s:b}}}", "email", email, "firstName", "A",
                          "lastName", "B", "roles", "participant", role, "preferences",
                          "notifications", "email", 1);
    id[0] = '\0';
    assert_int_equal(rg_auth_insert_user(&app, u, hash, id), 0);
    json_decref(u);
}

static void interrupted_message_is_completed(void **state)
{
    (void)state;
    char org_id[RG_OID_LEN + 1], p1[RG_OID_LEN + 1], p2[RG_OID_LEN + 1];
    person("org@example.org", "organizer", org_id);
    person("p1@example.org", "participant", p1);
    person("p2@example.org", "participant", p2);
    rg_principal org = {.roles = RG_ROLE_ORGANIZER | RG_ROLE_PARTICIPANT};
    memcpy(org.user_id, org_id, sizeof org.user_id);
    json_t *body =
               json_pack("{s:s, s:s, s:s, s:s}", "title", "Camp", "startDate",
                         "2030-06-01T09:00:00Z", "endDate", "2030-06-02T17:00:00Z", "type", "camp"),
           *out;
    assert_int_equal(rg_event_create(&app, RG_AS(&org), body, &out), 0);
    json_decref(body);
    char ev[32];
    snprintf(ev, sizeof ev, "%lld", (long long)json_integer_value(json_object_get(out, "id")));
    json_decref(out);
    body = json_pack("{s:s}", "status", "published");
    assert_int_equal(rg_event_patch(&app, RG_AS(&org), ev, body, &out), 0);
    json_decref(body);
    json_decref(out);
    const char *people[] = {p1, p2};
    for (int i = 0; i < 2; i++) {
        rg_principal p = {.roles = RG_ROLE_PARTICIPANT};
        memcpy(p.user_id, people[i], sizeof p.user_id);
        assert_int_equal(rg_registration_create(&app, RG_AS(&p), ev, NULL, &out), 0);
        json_decref(out);
    }
    json_t *chan;
    assert_int_equal(rg_event_channel(&app, RG_AS(&org), ev, &chan), 0);
    char chan_id[RG_OID_LEN + 1];
    snprintf(chan_id, sizeof chan_id, "%s", json_string_value(json_object_get(chan, "id")));
    json_decref(chan);
    body = json_pack("{s:s, s:{s:s}, s:s}", "messageType", "announcement", "content", "text",
                     "Bring a sleeping bag", "priority", "normal");
    json_t *msg;
    assert_int_equal(rg_message_post(&app, RG_AS(&org), chan_id, body, &msg), 0);
    json_decref(body);
    char msg_id[RG_OID_LEN + 1];
    snprintf(msg_id, sizeof msg_id, "%s", json_string_value(json_object_get(msg, "id")));
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(msg, "metadata"), "deliveryCount")), 2);
    json_decref(msg);

    /* As if the process died between storing the message and queueing its
     * e-mails: the message pending, its intent after step 1. */
    json_t *doc;
    int64_t rev;
    assert_int_equal(rg_docs_get(&app.st.docs, COLL_MESSAGES, msg_id, &doc, &rev), 0);
    json_object_set_new(doc, "metadata",
                        json_pack("{s:s, s:i}", "deliveryStatus", "pending", "deliveryCount", 0));
    assert_int_equal(rg_docs_replace(&app.st.docs, COLL_MESSAGES, msg_id, doc, rev), 0);
    json_decref(doc);
    rg_intent in;
    assert_int_equal(rg_intent_open(&app, NULL, "message.post", msg_id, 1, &in), 0);

    assert_int_equal(rg__message_post_drive(&app, &in), 0);
    assert_int_equal(rg_docs_get(&app.st.docs, COLL_MESSAGES, msg_id, &doc, NULL), 0);
    json_t *meta = json_object_get(doc, "metadata");
    assert_string_equal(json_string_value(json_object_get(meta, "deliveryStatus")), "sent");
    assert_int_equal(json_integer_value(json_object_get(meta, "deliveryCount")), 2);
    json_decref(doc);
    /* The intent is closed: another pass finds nothing to drive. */
    rg_rows *rows;
    assert_true(rg_rel_run(&app, "intents_all", NULL, 0, &rows) >= 0);
    assert_int_equal(rows->nrows, 0);
    rg_rows_free(rows);
    /* A message never stored (a crash after the intent alone): the
     * driver just closes its intent. */
    char never[RG_OID_LEN + 1];
    rg_oid_new(never);
    assert_int_equal(rg_intent_open(&app, NULL, "message.post", never, 0, &in), 0);
    assert_int_equal(rg__message_post_drive(&app, &in), 0);
    assert_true(rg_rel_run(&app, "intents_all", NULL, 0, &rows) >= 0);
    assert_int_equal(rows->nrows, 0);
    rg_rows_free(rows);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    snprintf(dir, sizeof dir, "%s", rg_test_tmpdir());
    char rel[600], docs[600], search[600];
    snprintf(rel, sizeof rel, "sqlite:%s/rel.db", dir);
    snprintf(docs, sizeof docs, "sqlite:%s/docs.db", dir);
    snprintf(search, sizeof search, "sqlite:%s/search.db", dir);
    static rg_config cfg;
    rg_config_free(&cfg);
    rg_test_config(&cfg, rel, docs, "memory:", search);
    if (rg_app_open(&app, &cfg, true) < 0)
        return 1;
    const struct CMUnitTest tests[] = {cmocka_unit_test(interrupted_message_is_completed)};
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    rg_app_close(&app);
    rg_test_rmdir(dir);
    return failed;
}
