/* Messages (documents store) in channels, with e-mail notifications
 * through the outbox.
 *
 * messages/<id>: the seed's Messages document: {schemaVersion, channelId,
 * sender {userId, role}, messageType, content {text, attachments},
 * priority, sentAt, readBy [{userId, readAt}], metadata {deliveryStatus,
 * deliveryCount}}. The organizer (and admins) post announcements; members
 * post messages (see channel_record.c for who is a member).
 *
 * Notifications: after a message is stored, every member but the sender
 * whose preferences.notifications.email is true gets one outbox e-mail (for
 * a member's message, only the channel's organizer)
 * (dedupe key "msg:<messageId>:<userId>", so a retry never doubles it), all
 * in one relational transaction; metadata then records how many. Posting
 * is coordinated as message.post (intents.h): 0 the intent, 1 the message
 * ("pending"), 2 the e-mails queued; then "sent" and the intent closes. A
 * message whose e-mails could not be queued stays "pending" with its
 * intent, and the driver queues them later. */
#include "risinggen/domain/channels.h"
#include "channel_record.h"
#include "domain.h"
#include "intents.h"
#include "user_record.h"
#include "risinggen/domain/outbox.h"
#include "risinggen/base/alloc.h"
#include "risinggen/base/buf.h"
#include "risinggen/base/log.h"
#include "risinggen/base/clock.h"
#include "risinggen/base/id.h"
#include "risinggen/base/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MESSAGE_POST "message.post"

#define MESSAGE_SCHEMA_VERSION 1
#define MAX_ATTACHMENTS        10

static int check_message(json_t *d)
{
    json_t *sender = json_object_get(d, "sender"), *content = json_object_get(d, "content");
    json_t *meta = json_object_get(d, "metadata");
    bool ok = json_integer_value(json_object_get(d, "schemaVersion")) == MESSAGE_SCHEMA_VERSION &&
              rg_oid_valid(json_string_value(json_object_get(d, "channelId"))) &&
              json_is_object(sender) &&
              rg_oid_valid(json_string_value(json_object_get(sender, "userId"))) &&
              rg__json_is_str(sender, "role") && rg__json_is_str(d, "messageType") &&
              json_is_object(content) && rg__json_is_str(content, "text") &&
              json_is_array(json_object_get(content, "attachments")) &&
              json_array_size(json_object_get(content, "attachments")) <= MAX_ATTACHMENTS &&
              rg__json_is_str(d, "priority") && rg__json_is_str(d, "sentAt") &&
              json_is_array(json_object_get(d, "readBy")) && json_is_object(meta) &&
              rg__json_is_str(meta, "deliveryStatus") &&
              json_is_integer(json_object_get(meta, "deliveryCount"));
    if (!ok) {
        rg_err("refusing to write a message document of the wrong shape");
        return rg_error_set(RG_EINTERNAL, "internal error");
    }
    return 0;
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
    int rc = rg__channel_members(app, chan, sender, &set);
    if (rc < 0)
        return rc;
    /* A member's message reaches the organizer's mailbox only: a member
     * never mails everyone in the channel (with links of their choosing). */
    const char *role = json_string_value(json_object_get(json_object_get(msg, "sender"), "role"));
    const char *org = json_string_value(json_object_get(chan, "organizerId"));
    if (!role || strcmp(role, "participant") == 0) {
        json_t *only = json_object();
        if (org && json_object_get(set, org))
            json_object_set_new(only, org, json_true());
        json_decref(set);
        set = only;
    }
    size_t n = json_object_size(set), k = 0;
    struct recipient *to = rg_xcalloc(n ? n : 1, sizeof *to);
    const char *uid;
    json_t *unused;
    json_object_foreach(set, uid, unused)
    {
        json_t *u;
        if (rg__user_load(app, uid, &u) < 0) { /* an erased account: nobody to tell */
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
        rg__utf8_clip(json_string_value(json_object_get(chan, "name")), 150, name, sizeof name);
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
    int rc = rg__doc_upgrade(doc, MESSAGE_SCHEMA_VERSION, "message");
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

static const char *const message_fields[] = {"messageType", "content", "priority", NULL};
static const char *const content_fields[] = {"text", "attachments", NULL};
static const char *const attachment_fields[] = {"type", "url", "name", NULL};
static const char *const message_types[] = {"message", "announcement", NULL};
static const char *const priorities[] = {"low", "normal", "high", "urgent", NULL};
static const char *const attachment_types[] = {"file", "image", "link", NULL};

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
        if (!url || strlen(url) != json_string_length(u) || !rg__https_url_ok(url)) {
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

int rg_message_post(rg_app *app, const rg_ctx *ctx, const char *channel_id, json_t *body,
                    json_t **out)
{
    const rg_principal *who = &ctx->who;
    json_t *chan;
    enum rg_channel_access acc;
    int rc = rg__channel_open(app, who, channel_id, &chan, &acc);
    if (rc < 0)
        return rc;
    json_t *attachments = NULL, *doc = NULL;
    struct meta_ctx m = {0};
    if (!json_is_object(body)) {
        rc = v_not_object(body);
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
    const char *role = (org && strcmp(org, who->user_id) == 0 && (who->roles & RG_ROLE_ORGANIZER))
                           ? "organizer"
                       : rg_is_admin(who) ? "admin"
                                          : "participant";
    char id[RG_OID_LEN + 1], now[RG_TIME_LEN + 1];
    rg_oid_new(id);
    rg__now_text(now);
    doc = json_pack("{s:i, s:s, s:{s:s, s:s}, s:s, s:{s:s, s:O}, s:s, s:s, s:[], s:{s:s, s:i}}",
                    "schemaVersion", MESSAGE_SCHEMA_VERSION, "channelId", channel_id, "sender",
                    "userId", who->user_id, "role", role, "messageType", type, "content", "text",
                    text, "attachments", attachments, "priority", priority, "sentAt", now, "readBy",
                    "metadata", "deliveryStatus", "pending", "deliveryCount", 0);
    rg_intent in;
    if ((rc = check_message(doc)) < 0 ||
        (rc = rg_intent_open(app, NULL, MESSAGE_POST, id, 0, &in)) < 0)
        goto done;
    rg_intent_fault(MESSAGE_POST, 0);
    if ((rc = rg_docs_insert(&app->st.docs, COLL_MESSAGES, id, doc)) < 0) {
        if (rc == RG_EUNAVAIL) /* maybe stored: the driver finds out */
            goto done;
        int saved = rc; /* nothing stored: the intent goes */
        char detail[256];
        snprintf(detail, sizeof detail, "%s", rg_error_detail());
        if (rg_intent_close(app, &in) < 0)
            rg_error_clear();
        rc = rg_error_set(saved, "%s", detail);
        goto done;
    }
    int count = 0;
    int nrc = rg_intent_step(app, &in, 1);
    if (nrc == 0)
        nrc = notify(app, chan, id, doc, who->user_id, &count);
    if (nrc == 0)
        nrc = rg_intent_step(app, &in, 2);
    if (nrc < 0) {
        /* The message is posted; its e-mails are left to the driver. */
        rg_warn("message %s: notifications not queued yet (%s)", id, rg_error_detail());
        rg_error_clear();
        *out = message_view(id, doc);
        goto done;
    }
    m.status = "sent";
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
        if (rg_intent_close(app, &in) < 0)
            rg_error_clear(); /* the driver finds it sent and closes it */
    }
done:
    json_decref(m.result);
    json_decref(doc);
    json_decref(attachments);
    json_decref(chan);
    return rc;
}

int rg_message_list(rg_app *app, const rg_ctx *ctx, const char *channel_id, const char *cursor,
                    int limit, json_t **out)
{
    const rg_principal *who = &ctx->who;
    char after_at[64] = "", after_id[RG_OID_LEN + 8] = "";
    if (cursor &&
        (rg_cursor_decode(cursor, after_at, sizeof after_at, after_id, sizeof after_id) < 0 ||
         !rg_oid_valid(after_id) || rg_time_parse(after_at, &(int64_t){0}) < 0))
        return rg_error_set(RG_EINVAL, "the cursor is not valid");
    json_t *chan;
    enum rg_channel_access acc;
    int rc = rg__channel_open(app, who, channel_id, &chan, &acc);
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
    enum rg_channel_access acc;
    rc = rg__channel_open(app, who, json_string_value(json_object_get(*msg, "channelId")), &chan,
                          &acc);
    if (rc < 0) {
        json_decref(*msg);
        *msg = NULL;
        return rc == RG_ENOTFOUND ? rg_error_set(RG_ENOTFOUND, "no such message") : rc;
    }
    json_decref(chan);
    return 0;
}

int rg_message_get(rg_app *app, const rg_ctx *ctx, const char *id, json_t **out)
{
    const rg_principal *who = &ctx->who;
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
    int rc = rg__doc_upgrade(doc, MESSAGE_SCHEMA_VERSION, "message");
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

int rg_message_read(rg_app *app, const rg_ctx *ctx, const char *id, json_t **out)
{
    const rg_principal *who = &ctx->who;
    json_t *msg;
    int rc = open_message(app, who, id, &msg);
    if (rc < 0)
        return rc;
    json_decref(msg);
    struct read_ctx r = {.user = who->user_id};
    rg__now_text(r.now);
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

/* The driver of message.post: a message never stored is nothing to
 * finish; one still "pending" gets its e-mails queued (keyed by message and
 * member, so one half-queued before a crash is not queued twice) and is
 * marked "sent". */
int rg__message_post_drive(rg_app *app, const rg_intent *in)
{
    json_t *msg = NULL;
    int rc = rg_oid_valid(in->subject)
                 ? rg_docs_get(&app->st.docs, COLL_MESSAGES, in->subject, &msg, NULL)
                 : RG_ENOTFOUND;
    if (rc == RG_ENOTFOUND) {
        rg_error_clear();
        return rg_intent_close(app, in);
    }
    if (rc < 0)
        return rc;
    const char *status =
        json_string_value(json_object_get(json_object_get(msg, "metadata"), "deliveryStatus"));
    const char *chan_id = json_string_value(json_object_get(msg, "channelId"));
    json_t *chan = NULL;
    if (status && strcmp(status, "pending") == 0 && chan_id) {
        rc = rg_docs_get(&app->st.docs, COLL_CHANNELS, chan_id, &chan, NULL);
        int count = 0;
        const char *sender =
            json_string_value(json_object_get(json_object_get(msg, "sender"), "userId"));
        if (rc == 0)
            rc = notify(app, chan, in->subject, msg, sender ? sender : "", &count);
        if (rc == RG_ENOTFOUND) { /* the channel went: nobody to tell */
            rg_error_clear();
            rc = 0;
        }
        struct meta_ctx m = {.status = "sent", .count = count};
        if (rc == 0)
            rc = rg_doc_update(&app->st.docs, COLL_MESSAGES, in->subject, set_meta, &m);
        if (rc == RG_ENOTFOUND) { /* erased meanwhile */
            rg_error_clear();
            rc = 0;
        }
        json_decref(m.result);
    }
    json_decref(chan);
    json_decref(msg);
    return rc < 0 ? rc : rg_intent_close(app, in);
}
