/* Channels and messages (documents store), with e-mail notifications
 * through the outbox.
 *
 * - channels/<id>: {schemaVersion, type: "event"|"group", name, description,
 *   eventId (event channels; unique), organizerId, members (group channels),
 *   createdBy, createdAt, updatedAt}. A published event gets its channel
 *   automatically (rg__event_channel_ensure, from the publish path).
 * - messages/<id>: the seed's Messages document: {schemaVersion, channelId,
 *   sender {userId, role}, messageType, content {text, attachments}, priority,
 *   sentAt, readBy [{userId, readAt}], metadata {deliveryStatus,
 *   deliveryCount}}.
 *
 * Members of an event channel: the event's organizer and everyone with a
 * confirmed or pending registration (checked in or not), read from the
 * relational store at each request. Members of a group channel: its
 * organizer and its members list. Admins may do what an organizer may. The
 * organizer (and admins) post announcements; members post messages.
 *
 * Notifications: after a message is stored, every member but the sender
 * whose preferences.notifications.email is true gets one outbox e-mail
 * (dedupe key "msg:<messageId>:<userId>", so a retry never doubles it), all
 * in one relational transaction; metadata then records how many. A crash
 * between the two stores leaves deliveryStatus "pending". */
#include "domain.h"
#include "registrations.h"
#include "risinggen/domain/outbox.h"
#include "risinggen/base/alloc.h"
#include "risinggen/base/buf.h"
#include "risinggen/base/log.h"
#include "risinggen/base/clock.h"
#include "risinggen/base/id.h"
#include "risinggen/base/error.h"

#include <stdlib.h>
#include <string.h>

#define CHANNEL_SCHEMA_VERSION 1
#define MESSAGE_SCHEMA_VERSION 1
#define MAX_ATTACHMENTS        10
#define MAX_GROUP_MEMBERS      500
#define MEMBER_PAGE            500

enum access { ACC_NONE, ACC_MEMBER, ACC_ORGANIZER };

/* ---- shared helpers ---- */

static void now_text(char out[RG_TIME_LEN + 1])
{
    rg_time_format(rg_now(), out);
}

/* Copies at most max bytes of s into out[cap] without cutting a UTF-8
 * sequence, adding "…" when it was cut. */
static void utf8_clip(const char *s, size_t max, char *out, size_t cap)
{
    size_t n = strlen(s);
    if (max + 4 > cap)
        max = cap - 4;
    if (n <= max) {
        memcpy(out, s, n + 1);
        return;
    }
    while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
        max--;
    memcpy(out, s, max);
    memcpy(out + max, "\xe2\x80\xa6", 4);
}

/* Brings a stored document to the current schema before it is written
 * again; refuses one written by a newer program. */
static int upgrade(json_t *doc, int current, const char *what)
{
    json_t *v = json_object_get(doc, "schemaVersion");
    if (!v) { /* written before versions were recorded: the first shape */
        json_object_set_new(doc, "schemaVersion", json_integer(current));
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > current) {
        rg_err("%s document has schemaVersion %lld, this program writes %d", what,
               json_is_integer(v) ? (long long)json_integer_value(v) : -1LL, current);
        return rg_error_set(RG_EINTERNAL, "internal error");
    }
    return 0;
}

static bool is_str(json_t *o, const char *k)
{
    return json_is_string(json_object_get(o, k));
}

/* The shape every channel document has before it is written. */
static int check_channel(json_t *d)
{
    json_t *ev = json_object_get(d, "eventId");
    const char *type = json_string_value(json_object_get(d, "type"));
    bool ok = json_integer_value(json_object_get(d, "schemaVersion")) == CHANNEL_SCHEMA_VERSION &&
              type && is_str(d, "name") &&
              rg_oid_valid(json_string_value(json_object_get(d, "organizerId"))) &&
              is_str(d, "createdAt") && is_str(d, "updatedAt");
    if (ok && strcmp(type, "event") == 0)
        ok = json_is_integer(ev);
    else if (ok && strcmp(type, "group") == 0)
        ok = !ev && json_is_array(json_object_get(d, "members"));
    else
        ok = false;
    if (!ok) {
        rg_err("refusing to write a channel document of the wrong shape");
        return rg_error_set(RG_EINTERNAL, "internal error");
    }
    return 0;
}

static int check_message(json_t *d)
{
    json_t *sender = json_object_get(d, "sender"), *content = json_object_get(d, "content");
    json_t *meta = json_object_get(d, "metadata");
    bool ok = json_integer_value(json_object_get(d, "schemaVersion")) == MESSAGE_SCHEMA_VERSION &&
              rg_oid_valid(json_string_value(json_object_get(d, "channelId"))) &&
              json_is_object(sender) &&
              rg_oid_valid(json_string_value(json_object_get(sender, "userId"))) &&
              is_str(sender, "role") && is_str(d, "messageType") && json_is_object(content) &&
              is_str(content, "text") && json_is_array(json_object_get(content, "attachments")) &&
              json_array_size(json_object_get(content, "attachments")) <= MAX_ATTACHMENTS &&
              is_str(d, "priority") && is_str(d, "sentAt") &&
              json_is_array(json_object_get(d, "readBy")) && json_is_object(meta) &&
              is_str(meta, "deliveryStatus") &&
              json_is_integer(json_object_get(meta, "deliveryCount"));
    if (!ok) {
        rg_err("refusing to write a message document of the wrong shape");
        return rg_error_set(RG_EINTERNAL, "internal error");
    }
    return 0;
}

/* ---- views ---- */

static json_t *channel_view(const char *id, json_t *doc)
{
    json_t *v =
        json_pack("{s:s, s:O?, s:O?, s:O?, s:O?, s:O?, s:O?, s:O?, s:O?}", "id", id, "type",
                  json_object_get(doc, "type"), "name", json_object_get(doc, "name"), "description",
                  json_object_get(doc, "description"), "eventId", json_object_get(doc, "eventId"),
                  "organizerId", json_object_get(doc, "organizerId"), "createdBy",
                  json_object_get(doc, "createdBy"), "createdAt", json_object_get(doc, "createdAt"),
                  "updatedAt", json_object_get(doc, "updatedAt"));
    if (!json_object_get(v, "description"))
        json_object_set_new(v, "description", json_null());
    if (!json_object_get(v, "eventId"))
        json_object_set_new(v, "eventId", json_null());
    json_t *members = json_object_get(doc, "members");
    if (members)
        json_object_set(v, "members", members);
    return v;
}

static json_t *message_view(const char *id, json_t *doc)
{
    json_t *v = json_deep_copy(doc);
    json_object_del(v, "schemaVersion");
    json_t *out = json_pack("{s:s}", "id", id);
    json_object_update(out, v);
    json_decref(v);
    return out;
}

/* ---- loading and access ---- */

static int load_channel(rg_app *app, const char *id, json_t **doc)
{
    if (!id || !rg_oid_valid(id))
        return rg_error_set(RG_ENOTFOUND, "no such channel");
    int rc = rg_docs_get(&app->st.docs, COLL_CHANNELS, id, doc, NULL);
    if (rc == RG_ENOTFOUND)
        return rg_error_set(RG_ENOTFOUND, "no such channel");
    return rc;
}

/* Whether user holds a confirmed or pending registration for the event;
 * *checked_in and *status (may be NULL) describe it. */
static int registration_of(rg_app *app, int64_t event_id, const char *user, bool *active,
                           bool *checked_in, char status[16])
{
    rg_param p[] = {RG_PINT(event_id), RG_PTEXT(user)};
    rg_rows *rows;
    /* The primary: membership decides access, and follows a registration
     * made a moment ago. */
    int rc = rg_rel_run(app, "comms_registration_of", p, 2, &rows);
    if (rc < 0)
        return rc;
    *active = rows->nrows > 0;
    if (checked_in)
        *checked_in = rows->nrows > 0 && rg_rows_bool(rows, 0, "checked_in");
    if (status)
        snprintf(status, 16, "%s", rows->nrows > 0 ? rg_rows_get(rows, 0, "status") : "");
    rg_rows_free(rows);
    return 0;
}

static int channel_access(rg_app *app, const rg_principal *who, json_t *doc, enum access *out)
{
    *out = ACC_NONE;
    if (!rg_is_signed_in(who))
        return 0;
    const char *org = json_string_value(json_object_get(doc, "organizerId"));
    if (rg_is_admin(who) || (org && strcmp(org, who->user_id) == 0)) {
        *out = ACC_ORGANIZER;
        return 0;
    }
    json_t *ev = json_object_get(doc, "eventId");
    if (json_is_integer(ev)) {
        bool active;
        int rc = registration_of(app, json_integer_value(ev), who->user_id, &active, NULL, NULL);
        if (rc < 0)
            return rc;
        if (active)
            *out = ACC_MEMBER;
        return 0;
    }
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(doc, "members"), i, m)
    {
        if (json_is_string(m) && strcmp(json_string_value(m), who->user_id) == 0) {
            *out = ACC_MEMBER;
            break;
        }
    }
    return 0;
}

/* Loads the channel and checks that who is at least a member (404 when
 * not: a channel is not shown to people outside it). */
static int open_channel(rg_app *app, const rg_principal *who, const char *id, json_t **doc,
                        enum access *acc)
{
    int rc = load_channel(app, id, doc);
    if (rc < 0)
        return rc;
    if ((rc = channel_access(app, who, *doc, acc)) < 0 || *acc == ACC_NONE) {
        json_decref(*doc);
        *doc = NULL;
        return rc < 0 ? rc : rg_error_set(RG_ENOTFOUND, "no such channel");
    }
    return 0;
}

/* ---- the channel of an event ---- */

/* The id of the channel of event_id into out (may be NULL); RG_ENOTFOUND
 * when it has none. */
static int find_event_channel(rg_app *app, int64_t event_id, char out[RG_OID_LEN + 1], json_t **doc)
{
    rg_doc_filter f = {.path = "eventId", .is_int = true, .ival = event_id};
    json_t *arr;
    int rc = rg_docs_find(&app->st.docs, COLL_CHANNELS,
                          &(rg_doc_query){.filters = &f, .nfilters = 1, .limit = 1}, &arr);
    if (rc < 0)
        return rc;
    json_t *first = json_array_get(arr, 0);
    if (!first) {
        json_decref(arr);
        return RG_ENOTFOUND;
    }
    if (out)
        snprintf(out, RG_OID_LEN + 1, "%s", json_string_value(json_object_get(first, "id")));
    if (doc)
        *doc = json_incref(json_object_get(first, "doc"));
    json_decref(arr);
    return 0;
}

static int insert_event_channel(rg_app *app, int64_t event_id, const char *title,
                                const char *organizer_id, const char *created_by,
                                const char *description, char out[RG_OID_LEN + 1])
{
    char id[RG_OID_LEN + 1], now[RG_TIME_LEN + 1], name[220];
    rg_oid_new(id);
    now_text(now);
    utf8_clip(title && *title ? title : "Event", 200, name, sizeof name);
    json_t *doc = json_pack(
        "{s:i, s:s, s:s, s:s?, s:I, s:s, s:s, s:s, s:s}", "schemaVersion", CHANNEL_SCHEMA_VERSION,
        "type", "event", "name", name, "description", description, "eventId", (json_int_t)event_id,
        "organizerId", organizer_id, "createdBy", created_by, "createdAt", now, "updatedAt", now);
    int rc = check_channel(doc);
    if (rc == 0)
        rc = rg_docs_insert(&app->st.docs, COLL_CHANNELS, id, doc);
    json_decref(doc);
    if (rc == 0 && out)
        memcpy(out, id, RG_OID_LEN + 1);
    return rc;
}

int rg__event_channel_ensure(rg_app *app, int64_t event_id, const char *title,
                             const char *organizer_id, char out_id[RG_OID_LEN + 1])
{
    char id[RG_OID_LEN + 1];
    int rc = find_event_channel(app, event_id, id, NULL);
    if (rc == RG_ENOTFOUND) {
        rc = insert_event_channel(app, event_id, title, organizer_id, organizer_id, NULL, id);
        if (rc == RG_ECONFLICT) { /* a concurrent publish made it first */
            rg_error_clear();
            rc = find_event_channel(app, event_id, id, NULL);
        } else if (rc == 0) {
            rg_info("created the channel %s of event %lld", id, (long long)event_id);
        }
    }
    if (rc == 0 && out_id)
        memcpy(out_id, id, RG_OID_LEN + 1);
    return rc;
}

int rg_event_channel(rg_app *app, const rg_principal *who, const char *event_id, json_t **out)
{
    int64_t eid;
    if (!rg_parse_id(event_id, &eid))
        return rg_error_set(RG_ENOTFOUND, "no such event");
    char id[RG_OID_LEN + 1];
    json_t *doc = NULL;
    int rc = find_event_channel(app, eid, id, &doc);
    if (rc == RG_ENOTFOUND) {
        /* Published before channels existed, or the publish could not make
         * it: made now. */
        rg_rows *ev;
        if ((rc = rg__event_row(app, eid, false, &ev)) < 0)
            return rc;
        bool published = strcmp(rg_rows_get(ev, 0, "status"), "draft") != 0;
        if (published)
            rc = rg__event_channel_ensure(app, eid, rg_rows_get(ev, 0, "title"),
                                          rg_rows_get(ev, 0, "organizer_id"), id);
        else
            rc = rg_error_set(RG_ENOTFOUND, "the event has no channel until it is published");
        rg_rows_free(ev);
        if (rc == 0)
            rc = rg_docs_get(&app->st.docs, COLL_CHANNELS, id, &doc, NULL);
    }
    if (rc < 0)
        return rc;
    enum access acc;
    rc = channel_access(app, who, doc, &acc);
    if (rc == 0 && acc == ACC_NONE)
        rc = rg_error_set(RG_ENOTFOUND, "no such channel");
    if (rc == 0)
        *out = channel_view(id, doc);
    json_decref(doc);
    return rc;
}

/* ---- channels ---- */

static const char *const channel_fields[] = {"name", "description", "eventId", "members", NULL};

int rg_channel_create(rg_app *app, const rg_principal *who, json_t *body, json_t **out)
{
    if (!(who->roles & (RG_ROLE_ORGANIZER | RG_ROLE_ADMIN)))
        return rg_error_set(RG_EFORBIDDEN, "only organizers and admins create channels");
    if (!json_is_object(body))
        return rg_error_set(RG_EVALIDATION, "the body must be a JSON object");
    v_ctx v = {0};
    v_only(&v, body, channel_fields);
    const char *name = NULL, *description = NULL;
    int64_t event_id = 0;
    bool has_event = false;
    v_int(&v, body, "eventId", false, 1, INT32_MAX, &event_id, &has_event);
    v_string(&v, body, "name", !has_event, 1, 200, &name);
    v_string(&v, body, "description", false, 0, 2000, &description);
    json_t *members = json_object_get(body, "members");
    json_t *list = json_array();
    if (members && !json_is_null(members)) {
        if (has_event) {
            v_fail(&v, "members", "an event's channel has the event's attendees as members");
        } else if (!json_is_array(members) || json_array_size(members) > MAX_GROUP_MEMBERS) {
            v_fail(&v, "members", "must be an array of at most 500 user ids");
        } else {
            size_t i, j;
            json_t *m, *e;
            json_array_foreach(members, i, m)
            {
                const char *s = json_string_value(m);
                if (!s || !rg_oid_valid(s)) {
                    v_fail(&v, "members", "each member must be a user id");
                    break;
                }
                bool dup = strcmp(s, who->user_id) == 0;
                json_array_foreach(list, j, e) dup |= strcmp(json_string_value(e), s) == 0;
                if (!dup)
                    json_array_append_new(list, json_string(s));
            }
        }
    }
    int rc = v_finish(&v);
    if (rc < 0)
        goto done;
    char id[RG_OID_LEN + 1], now[RG_TIME_LEN + 1];
    if (has_event) {
        rg_rows *ev;
        if ((rc = rg__event_row(app, event_id, false, &ev)) < 0) {
            if (rc != RG_ENOTFOUND)
                goto done;
            rg_error_clear();
            rg_error_field("eventId", "no such event");
            rc = rg_error_set(RG_EVALIDATION, "the event does not exist");
            goto done;
        }
        const char *org = rg_rows_get(ev, 0, "organizer_id");
        if (!rg_is_admin(who) && strcmp(org, who->user_id) != 0) {
            rg_rows_free(ev);
            rc = rg_error_set(RG_EFORBIDDEN, "only the event's organizer or an admin can do this");
            goto done;
        }
        rc = insert_event_channel(app, event_id, name ? name : rg_rows_get(ev, 0, "title"), org,
                                  who->user_id, description, id);
        rg_rows_free(ev);
        if (rc == RG_ECONFLICT) {
            rg_error_clear();
            rg_error_field("eventId", "already has a channel");
            rc = rg_error_set(RG_ECONFLICT, "the event already has its channel");
        }
        if (rc < 0)
            goto done;
    } else {
        size_t i;
        json_t *m;
        json_array_foreach(list, i, m)
        {
            json_t *u;
            if ((rc = rg_user_load(app, json_string_value(m), &u)) < 0) {
                if (rc == RG_ENOTFOUND) {
                    rg_error_clear();
                    rg_error_field("members", "no such user: %s", json_string_value(m));
                    rc = rg_error_set(RG_EVALIDATION, "a member does not exist");
                }
                goto done;
            }
            json_decref(u);
        }
        rg_oid_new(id);
        now_text(now);
        json_t *doc =
            json_pack("{s:i, s:s, s:s, s:s?, s:s, s:O, s:s, s:s, s:s}", "schemaVersion",
                      CHANNEL_SCHEMA_VERSION, "type", "group", "name", name, "description",
                      description, "organizerId", who->user_id, "members", list, "createdBy",
                      who->user_id, "createdAt", now, "updatedAt", now);
        if ((rc = check_channel(doc)) == 0)
            rc = rg_docs_insert(&app->st.docs, COLL_CHANNELS, id, doc);
        json_decref(doc);
        if (rc < 0)
            goto done;
    }
    json_t *doc;
    if ((rc = rg_docs_get(&app->st.docs, COLL_CHANNELS, id, &doc, NULL)) < 0)
        goto done;
    *out = channel_view(id, doc);
    json_decref(doc);
done:
    json_decref(list);
    return rc;
}

int rg_channel_get(rg_app *app, const rg_principal *who, const char *id, json_t **out)
{
    json_t *doc;
    enum access acc;
    int rc = open_channel(app, who, id, &doc, &acc);
    if (rc < 0)
        return rc;
    *out = channel_view(id, doc);
    json_decref(doc);
    return 0;
}

/* ---- members and notifications ---- */

/* Adds id to set (a JSON object used as a set) unless it is skip. */
static void add_member(json_t *set, const char *id, const char *skip)
{
    if (id && rg_oid_valid(id) && (!skip || strcmp(id, skip) != 0))
        json_object_set_new(set, id, json_true());
}

/* Every member of the channel but skip, as the keys of *out. */
static int channel_members(rg_app *app, json_t *chan, const char *skip, json_t **out)
{
    json_t *set = json_object();
    add_member(set, json_string_value(json_object_get(chan, "organizerId")), skip);
    json_t *ev = json_object_get(chan, "eventId");
    if (!json_is_integer(ev)) {
        size_t i;
        json_t *m;
        json_array_foreach(json_object_get(chan, "members"), i, m)
            add_member(set, json_string_value(m), skip);
        *out = set;
        return 0;
    }
    char after[RG_OID_LEN + 1] = "";
    for (;;) {
        rg_param p[] = {RG_PINT(json_integer_value(ev)), RG_PTEXT(after), RG_PINT(MEMBER_PAGE)};
        rg_rows *rows;
        int rc = rg_rel_run(app, "comms_event_member_ids", p, 3, &rows);
        if (rc < 0) {
            json_decref(set);
            return rc;
        }
        for (int i = 0; i < rows->nrows; i++) {
            const char *u = rg_rows_get(rows, i, "user_id");
            add_member(set, u, skip);
            snprintf(after, sizeof after, "%s", u ? u : "");
        }
        int n = rows->nrows;
        rg_rows_free(rows);
        if (n < MEMBER_PAGE)
            break;
    }
    *out = set;
    return 0;
}

struct recipient {
    char user[RG_OID_LEN + 1];
    char *email;
};

static char *notification_body(json_t *chan, json_t *msg)
{
    rg_buf b = {0};
    json_t *content = json_object_get(msg, "content");
    const char *type = json_string_value(json_object_get(msg, "messageType"));
    const char *prio = json_string_value(json_object_get(msg, "priority"));
    rg_buf_printf(&b, "%s in %s", strcmp(type, "announcement") == 0 ? "Announcement" : "Message",
                  json_string_value(json_object_get(chan, "name")));
    if (strcmp(prio, "normal") != 0)
        rg_buf_printf(&b, " (priority: %s)", prio);
    rg_buf_printf(&b, "\n\n%s\n", json_string_value(json_object_get(content, "text")));
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(content, "attachments"), i, a)
    {
        rg_buf_printf(&b, "%s%s: %s\n", i ? "" : "\nAttachments:\n",
                      json_string_value(json_object_get(a, "name")),
                      json_string_value(json_object_get(a, "url")));
    }
    rg_buf_puts(&b, "\nYou get this e-mail because e-mail notifications are on in your "
                    "preferences.\n");
    return rg_buf_steal(&b);
}

/* Enqueues one e-mail per member with e-mail notifications on (all in one
 * relational transaction); *count receives how many. */
static int notify(rg_app *app, json_t *chan, const char *msg_id, json_t *msg, const char *sender,
                  int *count)
{
    *count = 0;
    json_t *set;
    int rc = channel_members(app, chan, sender, &set);
    if (rc < 0)
        return rc;
    size_t n = json_object_size(set), k = 0;
    struct recipient *to = rg_xcalloc(n ? n : 1, sizeof *to);
    const char *uid;
    json_t *unused;
    json_object_foreach(set, uid, unused)
    {
        json_t *u;
        if (rg_user_load(app, uid, &u) < 0) { /* an erased account: nobody to tell */
            rg_error_clear();
            continue;
        }
        json_t *pref = json_object_get(json_object_get(u, "preferences"), "notifications");
        const char *email = json_string_value(json_object_get(u, "email"));
        if (json_is_true(json_object_get(pref, "email")) && email && *email) {
            snprintf(to[k].user, sizeof to[k].user, "%s", uid);
            to[k].email = rg_xstrdup(email);
            k++;
        }
        json_decref(u);
    }
    json_decref(set);
    if (k > 0) {
        char subject[300], name[220];
        const char *type = json_string_value(json_object_get(msg, "messageType"));
        utf8_clip(json_string_value(json_object_get(chan, "name")), 150, name, sizeof name);
        snprintf(subject, sizeof subject, "[%s] New %s", name,
                 strcmp(type, "announcement") == 0 ? "announcement" : "message");
        char *body = notification_body(chan, msg);
        rg_relational *r = &app->st.rel;
        rg_rel_conn *c;
        if ((rc = rg_rel_acquire(r, &c)) == 0) {
            if ((rc = rg_rel_begin(r, c, true)) == 0) {
                for (size_t i = 0; i < k && rc == 0; i++) {
                    char key[96];
                    snprintf(key, sizeof key, "msg:%s:%s", msg_id, to[i].user);
                    rg_notification nt = {"email", to[i].email, subject, body, key};
                    rc = rg_outbox_enqueue(app, c, &nt);
                    if (rc == RG_EINVAL) { /* an address the outbox cannot take */
                        rg_error_clear();
                        rc = 0;
                        continue;
                    }
                    if (rc == 0)
                        (*count)++;
                }
                if (rc == 0)
                    rc = rg_rel_commit(r, c);
                if (rc < 0) {
                    rg_rel_rollback(r, c);
                    *count = 0;
                }
            }
            rg_rel_release(r, c);
        }
        free(body);
    }
    for (size_t i = 0; i < k; i++)
        free(to[i].email);
    free(to);
    return rc;
}

struct meta_ctx {
    const char *status;
    int count;
    json_t *result;
};

static int set_meta(json_t *doc, void *p)
{
    struct meta_ctx *m = p;
    int rc = upgrade(doc, MESSAGE_SCHEMA_VERSION, "message");
    if (rc < 0)
        return rc;
    json_t *meta = json_pack("{s:s, s:i}", "deliveryStatus", m->status, "deliveryCount", m->count);
    json_object_set_new(doc, "metadata", meta);
    if ((rc = check_message(doc)) < 0)
        return rc;
    json_decref(m->result);
    m->result = json_incref(doc);
    return 0;
}

/* ---- messages ---- */

static const char *const message_fields[] = {"messageType", "content", "priority", NULL};
static const char *const content_fields[] = {"text", "attachments", NULL};
static const char *const attachment_fields[] = {"type", "url", "name", NULL};
static const char *const message_types[] = {"message", "announcement", NULL};
static const char *const priorities[] = {"low", "normal", "high", "urgent", NULL};
static const char *const attachment_types[] = {"file", "image", "link", NULL};

/* https://host… with no spaces or control characters, at most 2048 bytes. */
static bool https_url_ok(const char *s)
{
    if (strncmp(s, "https://", 8) != 0 || strlen(s) > 2048)
        return false;
    const char *host = s + 8;
    size_t hlen = strcspn(host, "/?#");
    if (hlen == 0 || host[0] == '@' || host[0] == ':')
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= 0x20 || *p == 0x7f || *p == '"' || *p == '<' || *p == '>' || *p == '\\')
            return false;
    return true;
}

/* Checks the attachments array and returns a clean copy (new reference). */
static json_t *check_attachments(v_ctx *v, json_t *arr)
{
    json_t *clean = json_array();
    if (!arr || json_is_null(arr))
        return clean;
    if (!json_is_array(arr)) {
        v_fail(v, "content.attachments", "must be an array");
        return clean;
    }
    if (json_array_size(arr) > MAX_ATTACHMENTS) {
        v_fail(v, "content.attachments", "at most 10 attachments");
        return clean;
    }
    size_t i;
    json_t *a;
    json_array_foreach(arr, i, a)
    {
        char field[64];
        if (!json_is_object(a)) {
            v_fail(v, "content.attachments", "each attachment must be an object {type, url, name}");
            continue;
        }
        v_ctx one = {0};
        v_only(&one, a, attachment_fields);
        const char *type = NULL, *url = NULL, *name = NULL;
        /* Field errors name the attachment: content.attachments.N.type. */
        char ft[64], fn[64];
        snprintf(ft, sizeof ft, "content.attachments.%zu.type", i);
        snprintf(fn, sizeof fn, "content.attachments.%zu.name", i);
        json_t *named = json_object();
        if (json_object_get(a, "type"))
            json_object_set(named, ft, json_object_get(a, "type"));
        if (json_object_get(a, "name"))
            json_object_set(named, fn, json_object_get(a, "name"));
        v_enum(&one, named, ft, true, attachment_types, &type);
        v_string(&one, named, fn, true, 1, 200, &name);
        json_decref(named); /* type and name point into a, which holds them too */
        json_t *u = json_object_get(a, "url");
        url = json_string_value(u);
        snprintf(field, sizeof field, "content.attachments.%zu.url", i);
        if (!url || strlen(url) != json_string_length(u) || !https_url_ok(url)) {
            v_fail(&one, field, "must be an https:// URL of at most 2048 characters");
            url = NULL;
        }
        v->errors += one.errors;
        if (!one.errors)
            json_array_append_new(
                clean, json_pack("{s:s, s:s, s:s}", "type", type, "url", url, "name", name));
    }
    return clean;
}

int rg_message_post(rg_app *app, const rg_principal *who, const char *channel_id, json_t *body,
                    json_t **out)
{
    json_t *chan;
    enum access acc;
    int rc = open_channel(app, who, channel_id, &chan, &acc);
    if (rc < 0)
        return rc;
    json_t *attachments = NULL, *doc = NULL;
    struct meta_ctx m = {0};
    if (!json_is_object(body)) {
        rc = rg_error_set(RG_EVALIDATION, "the body must be a JSON object");
        goto done;
    }
    v_ctx v = {0};
    v_only(&v, body, message_fields);
    const char *type = "message", *priority = "normal", *text = NULL;
    v_enum(&v, body, "messageType", false, message_types, &type);
    v_enum(&v, body, "priority", false, priorities, &priority);
    json_t *content = json_object_get(body, "content");
    if (!json_is_object(content)) {
        v_fail(&v, "content", "is required: {text, attachments}");
    } else {
        v_only(&v, content, content_fields);
        if (!json_is_string(json_object_get(content, "text"))) {
            v_fail(&v, "content.text", "is required and must be a string");
        } else {
            json_t *tmp = json_pack("{s:O}", "content.text", json_object_get(content, "text"));
            v_string(&v, tmp, "content.text", true, 1, 10000, NULL);
            json_decref(tmp);
            text = json_string_value(json_object_get(content, "text"));
        }
        attachments = check_attachments(&v, json_object_get(content, "attachments"));
    }
    if ((rc = v_finish(&v)) < 0)
        goto done;
    if (strcmp(type, "announcement") == 0 && acc != ACC_ORGANIZER) {
        rc = rg_error_set(RG_EFORBIDDEN, "only the channel's organizer posts announcements");
        goto done;
    }
    if ((strcmp(priority, "high") == 0 || strcmp(priority, "urgent") == 0) &&
        acc != ACC_ORGANIZER) {
        v_ctx pv = {0};
        v_fail(&pv, "priority", "high and urgent are for the channel's organizer");
        rc = v_finish(&pv);
        goto done;
    }
    const char *org = json_string_value(json_object_get(chan, "organizerId"));
    const char *role = (org && strcmp(org, who->user_id) == 0) ? "organizer"
                       : rg_is_admin(who)                      ? "admin"
                                                               : "participant";
    char id[RG_OID_LEN + 1], now[RG_TIME_LEN + 1];
    rg_oid_new(id);
    now_text(now);
    doc = json_pack("{s:i, s:s, s:{s:s, s:s}, s:s, s:{s:s, s:O}, s:s, s:s, s:[], s:{s:s, s:i}}",
                    "schemaVersion", MESSAGE_SCHEMA_VERSION, "channelId", channel_id, "sender",
                    "userId", who->user_id, "role", role, "messageType", type, "content", "text",
                    text, "attachments", attachments, "priority", priority, "sentAt", now, "readBy",
                    "metadata", "deliveryStatus", "pending", "deliveryCount", 0);
    if ((rc = check_message(doc)) < 0 ||
        (rc = rg_docs_insert(&app->st.docs, COLL_MESSAGES, id, doc)) < 0)
        goto done;
    int count = 0;
    int nrc = notify(app, chan, id, doc, who->user_id, &count);
    if (nrc < 0) {
        rg_warn("message %s: notifications not queued (%s)", id, rg_error_detail());
        rg_error_clear();
    }
    m.status = nrc < 0 ? "failed" : "sent";
    m.count = count;
    if ((rc = rg_doc_update(&app->st.docs, COLL_MESSAGES, id, set_meta, &m)) < 0) {
        /* The message is stored; only its delivery record lags. */
        rg_warn("message %s: delivery metadata not recorded", id);
        rg_error_clear();
        rc = 0;
        json_object_set_new(
            doc, "metadata",
            json_pack("{s:s, s:i}", "deliveryStatus", m.status, "deliveryCount", count));
        *out = message_view(id, doc);
    } else {
        *out = message_view(id, m.result);
    }
done:
    json_decref(m.result);
    json_decref(doc);
    json_decref(attachments);
    json_decref(chan);
    return rc;
}

int rg_message_list(rg_app *app, const rg_principal *who, const char *channel_id,
                    const char *cursor, int limit, json_t **out)
{
    char after_at[64] = "", after_id[RG_OID_LEN + 8] = "";
    if (cursor &&
        (rg_cursor_decode(cursor, after_at, sizeof after_at, after_id, sizeof after_id) < 0 ||
         !rg_oid_valid(after_id) || rg_time_parse(after_at, &(int64_t){0}) < 0))
        return rg_error_set(RG_EINVAL, "the cursor is not valid");
    json_t *chan;
    enum access acc;
    int rc = open_channel(app, who, channel_id, &chan, &acc);
    if (rc < 0)
        return rc;
    json_decref(chan);
    rg_doc_filter f = {.path = "channelId", .value = channel_id};
    /* sentAt is always a string (an RFC 3339 time) */
    json_t *after_value = cursor ? json_string(after_at) : NULL;
    rg_doc_query q = {.filters = &f,
                      .nfilters = 1,
                      .sort_path = "sentAt",
                      .desc = true,
                      .after_id = cursor ? after_id : NULL,
                      .after_value = after_value,
                      .limit = limit + 1};
    json_t *arr;
    rc = rg_docs_find(&app->st.docs, COLL_MESSAGES, &q, &arr);
    json_decref(after_value);
    if (rc < 0)
        return rc;
    json_t *items = json_array();
    size_t n = json_array_size(arr);
    for (size_t i = 0; i < n && i < (size_t)limit; i++) {
        json_t *it = json_array_get(arr, i);
        json_array_append_new(items, message_view(json_string_value(json_object_get(it, "id")),
                                                  json_object_get(it, "doc")));
    }
    char next[256] = "";
    if (n > (size_t)limit) {
        json_t *last = json_array_get(arr, (size_t)limit - 1);
        rg_cursor_encode(json_string_value(json_object_get(json_object_get(last, "doc"), "sentAt")),
                         json_string_value(json_object_get(last, "id")), next, sizeof next);
    }
    json_decref(arr);
    *out = rg_list_page(items, next);
    return 0;
}

/* Loads a message and checks that who belongs to its channel. */
static int open_message(rg_app *app, const rg_principal *who, const char *id, json_t **msg)
{
    if (!id || !rg_oid_valid(id))
        return rg_error_set(RG_ENOTFOUND, "no such message");
    int rc = rg_docs_get(&app->st.docs, COLL_MESSAGES, id, msg, NULL);
    if (rc == RG_ENOTFOUND)
        return rg_error_set(RG_ENOTFOUND, "no such message");
    if (rc < 0)
        return rc;
    json_t *chan;
    enum access acc;
    rc = open_channel(app, who, json_string_value(json_object_get(*msg, "channelId")), &chan, &acc);
    if (rc < 0) {
        json_decref(*msg);
        *msg = NULL;
        return rc == RG_ENOTFOUND ? rg_error_set(RG_ENOTFOUND, "no such message") : rc;
    }
    json_decref(chan);
    return 0;
}

int rg_message_get(rg_app *app, const rg_principal *who, const char *id, json_t **out)
{
    json_t *msg;
    int rc = open_message(app, who, id, &msg);
    if (rc < 0)
        return rc;
    *out = message_view(id, msg);
    json_decref(msg);
    return 0;
}

struct read_ctx {
    const char *user;
    char now[RG_TIME_LEN + 1];
    json_t *result;
};

static int add_read(json_t *doc, void *p)
{
    struct read_ctx *r = p;
    json_t *read_by = json_object_get(doc, "readBy");
    size_t i;
    json_t *e;
    json_array_foreach(read_by, i, e)
    {
        const char *u = json_string_value(json_object_get(e, "userId"));
        if (u && strcmp(u, r->user) == 0) { /* read before: nothing to write */
            json_decref(r->result);
            r->result = json_incref(doc);
            return RG_EALREADY;
        }
    }
    int rc = upgrade(doc, MESSAGE_SCHEMA_VERSION, "message");
    if (rc < 0)
        return rc;
    if (!json_is_array(read_by)) {
        read_by = json_array();
        json_object_set_new(doc, "readBy", read_by);
    }
    json_array_append_new(read_by, json_pack("{s:s, s:s}", "userId", r->user, "readAt", r->now));
    if ((rc = check_message(doc)) < 0)
        return rc;
    json_decref(r->result);
    r->result = json_incref(doc);
    return 0;
}

int rg_message_read(rg_app *app, const rg_principal *who, const char *id, json_t **out)
{
    json_t *msg;
    int rc = open_message(app, who, id, &msg);
    if (rc < 0)
        return rc;
    json_decref(msg);
    struct read_ctx r = {.user = who->user_id};
    now_text(r.now);
    rc = rg_doc_update(&app->st.docs, COLL_MESSAGES, id, add_read, &r);
    if (rc == RG_EALREADY)
        rc = 0;
    if (rc == RG_ENOTFOUND)
        rc = rg_error_set(RG_ENOTFOUND, "no such message");
    if (rc == 0)
        *out = message_view(id, r.result);
    json_decref(r.result);
    return rc;
}

/* Messages whose notifications a crash left unqueued (deliveryStatus still
 * "pending" a minute after they were sent) get them now. Enqueueing is keyed
 * by message and member, so a message half-notified before the crash is not
 * notified twice. Returns how many messages were completed. */
int rg_message_resume_deliveries(rg_app *app)
{
    char cutoff[RG_TIME_LEN + 1];
    rg_time_format(rg_now() - 60, cutoff);
    rg_doc_filter f = {.path = "metadata.deliveryStatus", .value = "pending"};
    json_t *page = NULL;
    int rc = rg_docs_find(&app->st.docs, COLL_MESSAGES,
                          &(rg_doc_query){.filters = &f, .nfilters = 1, .limit = 50}, &page);
    if (rc < 0)
        return rc;
    int done = 0;
    size_t i;
    json_t *item;
    json_array_foreach(page, i, item)
    {
        const char *id = json_string_value(json_object_get(item, "id"));
        json_t *msg = json_object_get(item, "doc");
        const char *sent = json_string_value(json_object_get(msg, "sentAt"));
        const char *chan_id = json_string_value(json_object_get(msg, "channelId"));
        if (!id || !sent || !chan_id || strcmp(sent, cutoff) > 0)
            continue; /* recent: its request may still be queueing */
        json_t *chan = NULL;
        if (rg_docs_get(&app->st.docs, COLL_CHANNELS, chan_id, &chan, NULL) < 0) {
            rg_error_clear();
            continue;
        }
        int count = 0;
        const char *sender =
            json_string_value(json_object_get(json_object_get(msg, "sender"), "userId"));
        int nrc = notify(app, chan, id, msg, sender ? sender : "", &count);
        json_decref(chan);
        if (nrc < 0) {
            rg_error_clear();
            continue;
        }
        struct meta_ctx m = {.status = "sent", .count = count};
        if (rg_doc_update(&app->st.docs, COLL_MESSAGES, id, set_meta, &m) == 0)
            done++;
        json_decref(m.result);
        rg_error_clear();
    }
    json_decref(page);
    return done;
}
