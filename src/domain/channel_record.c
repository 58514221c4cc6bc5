/* A channel document (channels/<id>) as channels.c and messages.c share it:
 * its shape, its view, who may read it (and how: member or organizer), its
 * members for notifications, and the channel of an event, made once a
 * published event needs it.
 *
 * Members of an event channel: the event's organizer and everyone with a
 * confirmed or pending registration (checked in or not), read from the
 * relational store at each request. Members of a group channel: its
 * organizer and its members list. Admins may do what an organizer may. */
#include "channel_record.h"
#include "risinggen/base/clock.h"
#include "risinggen/base/error.h"
#include "risinggen/base/id.h"
#include "risinggen/base/log.h"

#include <stdio.h>
#include <string.h>

#define MEMBER_PAGE 500

/* The shape every channel document has before it is written. */
int rg__channel_check(json_t *d)
{
    json_t *ev = json_object_get(d, "eventId");
    const char *type = json_string_value(json_object_get(d, "type"));
    bool ok = json_integer_value(json_object_get(d, "schemaVersion")) == CHANNEL_SCHEMA_VERSION &&
              type && rg__json_is_str(d, "name") &&
              rg_oid_valid(json_string_value(json_object_get(d, "organizerId"))) &&
              rg__json_is_str(d, "createdAt") && rg__json_is_str(d, "updatedAt");
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

json_t *rg__channel_view(const char *id, json_t *doc)
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

int rg__channel_load(rg_app *app, const char *id, json_t **doc)
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
int rg__registration_of(rg_app *app, int64_t event_id, const char *user, bool *active,
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

int rg__channel_access(rg_app *app, const rg_principal *who, json_t *doc,
                       enum rg_channel_access *out)
{
    *out = ACC_NONE;
    if (!rg_is_signed_in(who))
        return 0;
    const char *org = json_string_value(json_object_get(doc, "organizerId"));
    if (rg_manages(who, org)) {
        *out = ACC_ORGANIZER;
        return 0;
    }
    json_t *ev = json_object_get(doc, "eventId");
    if (json_is_integer(ev)) {
        bool active;
        int rc =
            rg__registration_of(app, json_integer_value(ev), who->user_id, &active, NULL, NULL);
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
int rg__channel_open(rg_app *app, const rg_principal *who, const char *id, json_t **doc,
                     enum rg_channel_access *acc)
{
    int rc = rg__channel_load(app, id, doc);
    if (rc < 0)
        return rc;
    if ((rc = rg__channel_access(app, who, *doc, acc)) < 0 || *acc == ACC_NONE) {
        json_decref(*doc);
        *doc = NULL;
        return rc < 0 ? rc : rg_error_set(RG_ENOTFOUND, "no such channel");
    }
    return 0;
}

/* The id of the channel of event_id into out (may be NULL); RG_ENOTFOUND
 * when it has none. */
int rg__event_channel_find(rg_app *app, int64_t event_id, char out[RG_OID_LEN + 1], json_t **doc)
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

int rg__event_channel_insert(rg_app *app, int64_t event_id, const char *title,
                             const char *organizer_id, const char *created_by,
                             const char *description, char out[RG_OID_LEN + 1])
{
    char id[RG_OID_LEN + 1], now[RG_TIME_LEN + 1], name[220];
    rg_oid_new(id);
    rg__now_text(now);
    rg__utf8_clip(title && *title ? title : "Event", 200, name, sizeof name);
    json_t *doc = json_pack(
        "{s:i, s:s, s:s, s:s?, s:I, s:s, s:s, s:s, s:s}", "schemaVersion", CHANNEL_SCHEMA_VERSION,
        "type", "event", "name", name, "description", description, "eventId", (json_int_t)event_id,
        "organizerId", organizer_id, "createdBy", created_by, "createdAt", now, "updatedAt", now);
    int rc = rg__channel_check(doc);
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
    int rc = rg__event_channel_find(app, event_id, id, NULL);
    if (rc == RG_ENOTFOUND) {
        rc = rg__event_channel_insert(app, event_id, title, organizer_id, organizer_id, NULL, id);
        if (rc == RG_ECONFLICT) { /* a concurrent publish made it first */
            rg_error_clear();
            rc = rg__event_channel_find(app, event_id, id, NULL);
        } else if (rc == 0) {
            rg_info("created the channel %s of event %lld", id, (long long)event_id);
        }
    }
    if (rc == 0 && out_id)
        memcpy(out_id, id, RG_OID_LEN + 1);
    return rc;
}

/* Adds id to set (a JSON object used as a set) unless it is skip. */
static void add_member(json_t *set, const char *id, const char *skip)
{
    if (id && rg_oid_valid(id) && (!skip || strcmp(id, skip) != 0))
        json_object_set_new(set, id, json_true());
}

/* Every member of the channel but skip, as the keys of *out. */
int rg__channel_members(rg_app *app, json_t *chan, const char *skip, json_t **out)
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
