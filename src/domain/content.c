/* Content and feedback (documents store) and the search across events and
 * resources.
 *
 * - resources/<id>: {schemaVersion, title, description, type, url, tags,
 *   eventId, isPublic, createdBy, createdAt, updatedAt}. Public resources
 *   are indexed into the search port (type "resource") after each write; a
 *   failed index update is logged and the document stands (like events).
 * - feedback/<id>: {schemaVersion, key "<eventId>:<userId>" (unique: one
 *   per attendee and event), eventId, userId, rating 1..5, comment,
 *   createdAt}. Only confirmed or checked-in attendees, once the event has
 *   started.
 * - Search: the port's ranked hits, each checked against its store of
 *   record (published public events, public resources) and titled from it. */
#include "domain.h"
#include "registrations.h"
#include "risinggen/base/log.h"
#include "risinggen/base/id.h"
#include "risinggen/base/error.h"
#include "risinggen/base/buf.h"
#include "risinggen/base/clock.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define RESOURCE_SCHEMA_VERSION 1
#define FEEDBACK_SCHEMA_VERSION 1
#define MAX_TAGS                20
#define SUMMARY_PAGE            500
#define SEARCH_WINDOW           1000

static const char *const resource_types[] = {"document", "video",   "audio", "image",
                                             "link",     "article", "other", NULL};
static const char *const resource_fields[] = {"title", "description", "type",     "url",
                                              "tags",  "eventId",     "isPublic", NULL};

static bool is_str(json_t *o, const char *k)
{
    return json_is_string(json_object_get(o, k));
}

static int upgrade(json_t *doc, int current, const char *what)
{
    json_t *v = json_object_get(doc, "schemaVersion");
    if (!v) {
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

/* The shape a resource document has before it is written. */
static int check_resource(json_t *d)
{
    json_t *ev = json_object_get(d, "eventId"), *url = json_object_get(d, "url"),
           *desc = json_object_get(d, "description");
    bool ok =
        json_integer_value(json_object_get(d, "schemaVersion")) == RESOURCE_SCHEMA_VERSION &&
        is_str(d, "title") && is_str(d, "type") && json_is_array(json_object_get(d, "tags")) &&
        json_is_boolean(json_object_get(d, "isPublic")) &&
        rg_oid_valid(json_string_value(json_object_get(d, "createdBy"))) &&
        is_str(d, "createdAt") && is_str(d, "updatedAt") &&
        (json_is_null(ev) || json_is_integer(ev)) && (json_is_null(url) || json_is_string(url)) &&
        (json_is_null(desc) || json_is_string(desc));
    if (!ok) {
        rg_err("refusing to write a resource document of the wrong shape");
        return rg_error_set(RG_EINTERNAL, "internal error");
    }
    return 0;
}

static int check_feedback(json_t *d)
{
    json_int_t rating = json_integer_value(json_object_get(d, "rating"));
    json_t *comment = json_object_get(d, "comment");
    bool ok = json_integer_value(json_object_get(d, "schemaVersion")) == FEEDBACK_SCHEMA_VERSION &&
              is_str(d, "key") && json_is_integer(json_object_get(d, "eventId")) &&
              rg_oid_valid(json_string_value(json_object_get(d, "userId"))) && rating >= 1 &&
              rating <= 5 && (json_is_null(comment) || json_is_string(comment)) &&
              is_str(d, "createdAt");
    if (!ok) {
        rg_err("refusing to write a feedback document of the wrong shape");
        return rg_error_set(RG_EINTERNAL, "internal error");
    }
    return 0;
}

static json_t *doc_view(const char *id, json_t *doc)
{
    json_t *v = json_deep_copy(doc);
    json_object_del(v, "schemaVersion");
    json_object_del(v, "key");
    json_t *out = json_pack("{s:s}", "id", id);
    json_object_update(out, v);
    json_decref(v);
    return out;
}

/* https://host… with no spaces or control characters, at most 2048 bytes. */
static bool https_url_ok(const char *s)
{
    if (strncmp(s, "https://", 8) != 0 || strlen(s) > 2048)
        return false;
    const char *host = s + 8;
    if (strcspn(host, "/?#") == 0 || host[0] == '@' || host[0] == ':')
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= 0x20 || *p == 0x7f || *p == '"' || *p == '<' || *p == '>' || *p == '\\')
            return false;
    return true;
}

static bool manages(const rg_principal *who, const rg_rows *ev)
{
    return rg_is_admin(who) ||
           (who->user_id[0] && strcmp(who->user_id, rg_rows_get(ev, 0, "organizer_id")) == 0);
}

static bool event_visible(const rg_principal *who, const rg_rows *ev)
{
    return manages(who, ev) ||
           (strcmp(rg_rows_get(ev, 0, "status"), "draft") != 0 && rg_rows_bool(ev, 0, "is_public"));
}

/* ---- resources ---- */

/* Applies body's fields onto doc (a resource being made or changed). */
static void resource_fields_apply(v_ctx *v, json_t *body, json_t *doc, bool creating)
{
    const char *s;
    if (v_string(v, body, "title", creating, 1, 200, &s) && json_object_get(body, "title"))
        json_object_set_new(doc, "title", json_string(s));
    if (json_object_get(body, "description")) {
        s = NULL;
        if (v_string(v, body, "description", false, 0, 5000, &s))
            json_object_set_new(doc, "description", s ? json_string(s) : json_null());
    }
    if (json_object_get(body, "type") && !json_is_null(json_object_get(body, "type"))) {
        if (v_enum(v, body, "type", true, resource_types, &s))
            json_object_set_new(doc, "type", json_string(s));
    }
    json_t *url = json_object_get(body, "url");
    if (url) {
        const char *u = json_string_value(url);
        if (json_is_null(url))
            json_object_set_new(doc, "url", json_null());
        else if (!u || strlen(u) != json_string_length(url) || !https_url_ok(u))
            v_fail(v, "url", "must be an https:// URL of at most 2048 characters");
        else
            json_object_set_new(doc, "url", json_string(u));
    }
    json_t *tags = json_object_get(body, "tags");
    if (tags) {
        json_t *clean = json_array();
        if (json_is_null(tags)) {
            /* no tags */
        } else if (!json_is_array(tags) || json_array_size(tags) > MAX_TAGS) {
            v_fail(v, "tags", "must be an array of at most 20 words");
        } else {
            size_t i;
            json_t *t;
            json_array_foreach(tags, i, t)
            {
                json_t *tmp = json_pack("{s:O}", "tags", t);
                const char *w = NULL;
                bool ok = v_string(v, tmp, "tags", true, 1, 50, &w);
                if (ok)
                    json_array_append_new(clean, json_string(w));
                json_decref(tmp);
                if (!ok)
                    break;
            }
        }
        json_object_set_new(doc, "tags", clean);
    }
    if (json_object_get(body, "eventId")) {
        int64_t ev;
        bool present;
        if (v_int(v, body, "eventId", false, 1, INT32_MAX, &ev, &present))
            json_object_set_new(doc, "eventId", present ? json_integer(ev) : json_null());
    }
    if (json_object_get(body, "isPublic")) {
        bool b, present;
        if (v_bool(v, body, "isPublic", &b, &present) && present)
            json_object_set_new(doc, "isPublic", json_boolean(b));
    }
}

/* The linked event must exist and be the caller's (or the caller an admin). */
static int check_resource_event(rg_app *app, const rg_principal *who, json_t *doc)
{
    json_t *ev = json_object_get(doc, "eventId");
    if (!json_is_integer(ev))
        return 0;
    rg_rows *r = NULL;
    int rc = rg__event_row(app, json_integer_value(ev), false, &r);
    if (rc == RG_ENOTFOUND || (rc == 0 && !manages(who, r))) {
        rg_rows_free(r);
        rg_error_clear();
        rg_error_field("eventId", "no such event of yours");
        return rg_error_set(RG_EVALIDATION, "the event does not exist or is not yours");
    }
    rg_rows_free(r);
    return rc;
}

static void index_resource(rg_app *app, const char *id, json_t *doc)
{
    int rc;
    if (doc && json_is_true(json_object_get(doc, "isPublic"))) {
        rg_buf tags = {0};
        rg_buf_puts(&tags, json_string_value(json_object_get(doc, "type")));
        size_t i;
        json_t *t;
        json_array_foreach(json_object_get(doc, "tags"), i, t)
            rg_buf_printf(&tags, " %s", json_string_value(t));
        rg_search_doc d = {.type = "resource",
                           .id = id,
                           .title = json_string_value(json_object_get(doc, "title")),
                           .body = json_string_value(json_object_get(doc, "description")),
                           .tags = tags.data};
        rc = rg_search_upsert(&app->st.search, &d);
        rg_buf_free(&tags);
    } else {
        rc = rg_search_remove(&app->st.search, "resource", id);
    }
    if (rc < 0)
        rg_warn("search index not updated for resource %s (rebuild with `risinggen reindex`)", id);
    rg_error_clear();
}

int rg_resource_create(rg_app *app, const rg_principal *who, json_t *body, json_t **out)
{
    if (!(who->roles & (RG_ROLE_ORGANIZER | RG_ROLE_ADMIN)))
        return rg_error_set(RG_EFORBIDDEN, "only organizers and admins add resources");
    if (!json_is_object(body))
        return rg_error_set(RG_EVALIDATION, "the body must be a JSON object");
    char id[RG_OID_LEN + 1], now[RG_TIME_LEN + 1];
    rg_oid_new(id);
    rg_time_format(rg_now(), now);
    json_t *doc = json_pack("{s:i, s:s, s:n, s:s, s:n, s:[], s:n, s:b, s:s, s:s, s:s}",
                            "schemaVersion", RESOURCE_SCHEMA_VERSION, "title", "", "description",
                            "type", "document", "url", "tags", "eventId", "isPublic", 1,
                            "createdBy", who->user_id, "createdAt", now, "updatedAt", now);
    v_ctx v = {0};
    v_only(&v, body, resource_fields);
    resource_fields_apply(&v, body, doc, true);
    int rc = v_finish(&v);
    if (rc == 0)
        rc = check_resource_event(app, who, doc);
    if (rc == 0)
        rc = check_resource(doc);
    if (rc == 0)
        rc = rg_docs_insert(&app->st.docs, COLL_RESOURCES, id, doc);
    if (rc == 0) {
        index_resource(app, id, doc);
        *out = doc_view(id, doc);
    }
    json_decref(doc);
    return rc;
}

static bool owns(const rg_principal *who, json_t *doc)
{
    const char *by = json_string_value(json_object_get(doc, "createdBy"));
    return rg_is_admin(who) || (who->user_id[0] && by && strcmp(by, who->user_id) == 0);
}

static int load_resource(rg_app *app, const rg_principal *who, const char *id, json_t **doc)
{
    if (!id || !rg_oid_valid(id))
        return rg_error_set(RG_ENOTFOUND, "no such resource");
    int rc = rg_docs_get(&app->st.docs, COLL_RESOURCES, id, doc, NULL);
    if (rc == RG_ENOTFOUND)
        return rg_error_set(RG_ENOTFOUND, "no such resource");
    if (rc < 0)
        return rc;
    if (!json_is_true(json_object_get(*doc, "isPublic")) && !owns(who, *doc)) {
        json_decref(*doc);
        *doc = NULL;
        return rg_error_set(RG_ENOTFOUND, "no such resource");
    }
    return 0;
}

int rg_resource_get(rg_app *app, const rg_principal *who, const char *id, json_t **out)
{
    json_t *doc;
    int rc = load_resource(app, who, id, &doc);
    if (rc < 0)
        return rc;
    *out = doc_view(id, doc);
    json_decref(doc);
    return 0;
}

struct patch_ctx {
    const rg_principal *who;
    json_t *patch;
    json_t *result;
};

static int apply_resource_patch(json_t *doc, void *p)
{
    struct patch_ctx *c = p;
    if (!owns(c->who, doc))
        return json_is_true(json_object_get(doc, "isPublic"))
                   ? rg_error_set(RG_EFORBIDDEN,
                                  "only the resource's owner or an admin can change it")
                   : rg_error_set(RG_ENOTFOUND, "no such resource");
    int rc = upgrade(doc, RESOURCE_SCHEMA_VERSION, "resource");
    if (rc < 0)
        return rc;
    v_ctx v = {0};
    resource_fields_apply(&v, c->patch, doc, false);
    if ((rc = v_finish(&v)) < 0)
        return rc;
    char now[RG_TIME_LEN + 1];
    rg_time_format(rg_now(), now);
    json_object_set_new(doc, "updatedAt", json_string(now));
    if ((rc = check_resource(doc)) < 0)
        return rc;
    json_decref(c->result);
    c->result = json_incref(doc);
    return 0;
}

int rg_resource_patch(rg_app *app, const rg_principal *who, const char *id, json_t *patch,
                      json_t **out)
{
    json_t *doc;
    int rc = load_resource(app, who, id, &doc);
    if (rc < 0)
        return rc;
    json_decref(doc);
    if (!json_is_object(patch))
        return rg_error_set(RG_EVALIDATION, "the body must be a JSON merge patch object");
    v_ctx v = {0};
    v_only(&v, patch, resource_fields);
    if ((rc = v_finish(&v)) < 0)
        return rc;
    /* The event link is checked before the update, with the patch's value. */
    if (json_is_integer(json_object_get(patch, "eventId")) &&
        (rc = check_resource_event(app, who, patch)) < 0)
        return rc;
    struct patch_ctx c = {who, patch, NULL};
    rc = rg_doc_update(&app->st.docs, COLL_RESOURCES, id, apply_resource_patch, &c);
    if (rc == RG_ENOTFOUND)
        rc = rg_error_set(RG_ENOTFOUND, "no such resource");
    if (rc == 0) {
        index_resource(app, id, c.result);
        *out = doc_view(id, c.result);
    }
    json_decref(c.result);
    return rc;
}

int rg_resource_delete(rg_app *app, const rg_principal *who, const char *id)
{
    json_t *doc;
    int rc = load_resource(app, who, id, &doc);
    if (rc < 0)
        return rc;
    bool mine = owns(who, doc);
    json_decref(doc);
    if (!mine)
        return rg_error_set(RG_EFORBIDDEN, "only the resource's owner or an admin can remove it");
    /* Out of the index first: a search never finds a removed resource. */
    rc = rg_search_remove(&app->st.search, "resource", id);
    if (rc < 0)
        return rc;
    return rg_docs_remove(&app->st.docs, COLL_RESOURCES, id);
}

int rg_resource_reindex(rg_app *app, int *count)
{
    *count = 0;
    char after[RG_OID_LEN + 1] = "";
    for (;;) {
        json_t *arr;
        int rc =
            rg_docs_find(&app->st.docs, COLL_RESOURCES,
                         &(rg_doc_query){.after_id = after[0] ? after : NULL, .limit = 200}, &arr);
        if (rc < 0)
            return rc;
        size_t i;
        json_t *it;
        json_array_foreach(arr, i, it)
        {
            const char *id = json_string_value(json_object_get(it, "id"));
            json_t *doc = json_object_get(it, "doc");
            rg_search_doc d = {0};
            if (json_is_true(json_object_get(doc, "isPublic"))) {
                rg_buf tags = {0};
                rg_buf_puts(&tags, json_string_value(json_object_get(doc, "type")));
                size_t k;
                json_t *t;
                json_array_foreach(json_object_get(doc, "tags"), k, t)
                    rg_buf_printf(&tags, " %s", json_string_value(t));
                d = (rg_search_doc){
                    "resource", id, json_string_value(json_object_get(doc, "title")),
                    json_string_value(json_object_get(doc, "description")), tags.data};
                rc = rg_search_upsert(&app->st.search, &d);
                rg_buf_free(&tags);
                (*count)++;
            } else {
                rc = rg_search_remove(&app->st.search, "resource", id);
            }
            snprintf(after, sizeof after, "%s", id);
            if (rc < 0)
                break;
        }
        size_t n = json_array_size(arr);
        json_decref(arr);
        if (rc < 0)
            return rc;
        if (n < 200)
            return 0;
    }
}

/* ---- feedback ---- */

static const char *const feedback_fields[] = {"rating", "comment", NULL};

int rg_feedback_create(rg_app *app, const rg_principal *who, const char *event_id, json_t *body,
                       json_t **out)
{
    int64_t eid;
    if (!rg_parse_id(event_id, &eid))
        return rg_error_set(RG_ENOTFOUND, "no such event");
    rg_rows *ev;
    int rc = rg__event_row(app, eid, false, &ev);
    if (rc < 0)
        return rc;
    bool visible = event_visible(who, ev);
    char start[RG_TIME_LEN + 1];
    snprintf(start, sizeof start, "%s", rg_rows_get(ev, 0, "start_date"));
    rg_rows_free(ev);
    if (!visible)
        return rg_error_set(RG_ENOTFOUND, "no such event");
    if (!json_is_object(body))
        return rg_error_set(RG_EVALIDATION, "the body must be a JSON object");
    v_ctx v = {0};
    v_only(&v, body, feedback_fields);
    int64_t rating = 0;
    const char *comment = NULL;
    v_int(&v, body, "rating", true, 1, 5, &rating, NULL);
    v_string(&v, body, "comment", false, 0, 2000, &comment);
    if ((rc = v_finish(&v)) < 0)
        return rc;
    rg_param p[] = {RG_PINT(eid), RG_PTEXT(who->user_id)};
    rg_rows *reg;
    if ((rc = rg_rel_run(app, "comms_registration_of", p, 2, &reg)) < 0)
        return rc;
    bool attended = reg->nrows > 0 && (strcmp(rg_rows_get(reg, 0, "status"), "confirmed") == 0 ||
                                       rg_rows_bool(reg, 0, "checked_in"));
    rg_rows_free(reg);
    if (!attended)
        return rg_error_set(RG_EFORBIDDEN,
                            "only attendees with a confirmed registration or a check-in give "
                            "feedback");
    char now[RG_TIME_LEN + 1];
    rg_time_format(rg_now(), now);
    if (strcmp(now, start) < 0)
        return rg_error_set(RG_EUNPROCESSABLE, "feedback opens when the event starts (%s)", start);
    char id[RG_OID_LEN + 1], key[64];
    rg_oid_new(id);
    snprintf(key, sizeof key, "%lld:%s", (long long)eid, who->user_id);
    json_t *doc =
        json_pack("{s:i, s:s, s:I, s:s, s:I, s:s?, s:s}", "schemaVersion", FEEDBACK_SCHEMA_VERSION,
                  "key", key, "eventId", (json_int_t)eid, "userId", who->user_id, "rating",
                  (json_int_t)rating, "comment", comment, "createdAt", now);
    if (!json_object_get(doc, "comment"))
        json_object_set_new(doc, "comment", json_null());
    if ((rc = check_feedback(doc)) == 0)
        rc = rg_docs_insert(&app->st.docs, COLL_FEEDBACK, id, doc);
    if (rc == RG_ECONFLICT)
        rc = rg_error_set(RG_ECONFLICT, "you have already given feedback on this event");
    if (rc == 0)
        *out = doc_view(id, doc);
    json_decref(doc);
    return rc;
}

/* count, average and histogram over every feedback of the event. */
static int feedback_summary(rg_app *app, int64_t eid, json_t **out)
{
    rg_doc_filter f = {.path = "eventId", .is_int = true, .ival = eid};
    int64_t hist[6] = {0}, count = 0, sum = 0;
    char after[RG_OID_LEN + 1] = "";
    for (;;) {
        json_t *arr;
        int rc = rg_docs_find(&app->st.docs, COLL_FEEDBACK,
                              &(rg_doc_query){.filters = &f,
                                              .nfilters = 1,
                                              .after_id = after[0] ? after : NULL,
                                              .limit = SUMMARY_PAGE},
                              &arr);
        if (rc < 0)
            return rc;
        size_t i;
        json_t *it;
        json_array_foreach(arr, i, it)
        {
            json_int_t r =
                json_integer_value(json_object_get(json_object_get(it, "doc"), "rating"));
            if (r >= 1 && r <= 5) {
                hist[r]++;
                count++;
                sum += r;
            }
            snprintf(after, sizeof after, "%s", json_string_value(json_object_get(it, "id")));
        }
        size_t n = json_array_size(arr);
        json_decref(arr);
        if (n < SUMMARY_PAGE)
            break;
    }
    json_t *avg = count ? json_real(round((double)sum * 10.0 / (double)count) / 10.0) : json_null();
    *out =
        json_pack("{s:I, s:o, s:{s:I, s:I, s:I, s:I, s:I}}", "count", (json_int_t)count, "average",
                  avg, "histogram", "1", (json_int_t)hist[1], "2", (json_int_t)hist[2], "3",
                  (json_int_t)hist[3], "4", (json_int_t)hist[4], "5", (json_int_t)hist[5]);
    return 0;
}

int rg_feedback_list(rg_app *app, const rg_principal *who, const char *event_id, const char *cursor,
                     int limit, json_t **out)
{
    int64_t eid;
    if (!rg_parse_id(event_id, &eid))
        return rg_error_set(RG_ENOTFOUND, "no such event");
    char after[RG_OID_LEN + 8] = "", unused[8];
    if (cursor && (rg_cursor_decode(cursor, after, sizeof after, unused, sizeof unused) < 0 ||
                   !rg_oid_valid(after)))
        return rg_error_set(RG_EINVAL, "the cursor is not valid");
    rg_rows *ev;
    int rc = rg__event_row(app, eid, false, &ev);
    if (rc < 0)
        return rc;
    bool mine = manages(who, ev), visible = event_visible(who, ev);
    rg_rows_free(ev);
    if (!mine)
        return visible ? rg_error_set(RG_EFORBIDDEN, "only the organizer or an admin can see this")
                       : rg_error_set(RG_ENOTFOUND, "no such event");
    json_t *summary;
    if ((rc = feedback_summary(app, eid, &summary)) < 0)
        return rc;
    rg_doc_filter f = {.path = "eventId", .is_int = true, .ival = eid};
    json_t *arr;
    rc = rg_docs_find(&app->st.docs, COLL_FEEDBACK,
                      &(rg_doc_query){.filters = &f,
                                      .nfilters = 1,
                                      .desc = true,
                                      .after_id = cursor ? after : NULL,
                                      .limit = limit + 1},
                      &arr);
    if (rc < 0) {
        json_decref(summary);
        return rc;
    }
    json_t *items = json_array();
    size_t n = json_array_size(arr);
    for (size_t i = 0; i < n && i < (size_t)limit; i++) {
        json_t *it = json_array_get(arr, i);
        json_array_append_new(items, doc_view(json_string_value(json_object_get(it, "id")),
                                              json_object_get(it, "doc")));
    }
    char next[96] = "";
    if (n > (size_t)limit)
        rg_cursor_encode(
            json_string_value(json_object_get(json_array_get(arr, (size_t)limit - 1), "id")), "",
            next, sizeof next);
    json_decref(arr);
    json_t *page = rg_list_page(items, next);
    json_object_set_new(page, "eventId", json_integer(eid));
    json_object_set_new(page, "summary", summary);
    *out = page;
    return 0;
}

/* ---- search ---- */

/* The hit when its record is still findable: a published public event or a
 * public resource, with its title from the store of record. NULL otherwise. */
static json_t *search_item(rg_app *app, const rg_search_hit *h)
{
    json_t *item = NULL;
    if (strcmp(h->type, "event") == 0) {
        int64_t id;
        rg_rows *ev;
        rg_param p[] = {RG_PINT(0)};
        if (!rg_parse_id(h->id, &id))
            return NULL;
        p[0] = RG_PINT(id);
        if (rg_rel_run_read(app, "event_get", p, 1, &ev) < 0)
            return NULL;
        if (ev->nrows && strcmp(rg_rows_get(ev, 0, "status"), "published") == 0 &&
            rg_rows_bool(ev, 0, "is_public"))
            item = json_pack("{s:s, s:I, s:s}", "type", "event", "id", (json_int_t)id, "title",
                             rg_rows_get(ev, 0, "title"));
        rg_rows_free(ev);
    } else if (strcmp(h->type, "resource") == 0) {
        json_t *doc;
        if (!rg_oid_valid(h->id) ||
            rg_docs_get(&app->st.docs, COLL_RESOURCES, h->id, &doc, NULL) < 0)
            return NULL;
        if (json_is_true(json_object_get(doc, "isPublic")))
            item = json_pack("{s:s, s:s, s:O}", "type", "resource", "id", h->id, "title",
                             json_object_get(doc, "title"));
        json_decref(doc);
    }
    if (item) {
        json_object_set_new(item, "score", json_real(round(h->score * 1000.0) / 1000.0));
        json_object_set_new(item, "highlight",
                            h->highlight ? json_string(h->highlight) : json_null());
    }
    return item;
}

int rg_search_all(rg_app *app, const char *q, const char *types, const char *cursor, int limit,
                  json_t **out)
{
    if (!q)
        return rg_error_set(RG_EINVAL, "q is required");
    size_t qlen = strlen(q);
    if (qlen > 200)
        return rg_error_set(RG_EINVAL, "q is limited to 200 characters");
    if (strspn(q, " \t\r\n") == qlen)
        return rg_error_set(RG_EINVAL, "q must not be empty");
    const char *want[2];
    int ntypes = 0;
    if (types) {
        bool ev = false, res = false;
        const char *p = types;
        for (;;) {
            size_t n = strcspn(p, ",");
            if (n == 5 && strncmp(p, "event", 5) == 0)
                ev = true;
            else if (n == 8 && strncmp(p, "resource", 8) == 0)
                res = true;
            else
                return rg_error_set(RG_EINVAL,
                                    "types is a comma-separated list of event, resource");
            if (!p[n])
                break;
            p += n + 1;
        }
        if (ev)
            want[ntypes++] = "event";
        if (res)
            want[ntypes++] = "resource";
    } else {
        want[ntypes++] = "event";
        want[ntypes++] = "resource";
    }
    int64_t offset = 0;
    if (cursor) {
        char a[32], b[8];
        if (rg_cursor_decode(cursor, a, sizeof a, b, sizeof b) < 0 || !rg_parse_id(a, &offset) ||
            offset >= SEARCH_WINDOW)
            return rg_error_set(RG_EINVAL, "the cursor is not valid");
    }
    int window = (int)offset + limit + 1;
    if (window > SEARCH_WINDOW)
        window = SEARCH_WINDOW;
    rg_search_hit *hits = NULL;
    int n = 0;
    int rc = rg_search_query(&app->st.search, q, want, ntypes, window, &hits, &n);
    if (rc < 0)
        return rc;
    json_t *items = json_array();
    int end = (int)offset + limit < n ? (int)offset + limit : n;
    for (int i = (int)offset; i < end; i++) {
        json_t *it = search_item(app, &hits[i]);
        rg_error_clear();
        if (it)
            json_array_append_new(items, it);
    }
    char next[64] = "";
    if (n > end && end < SEARCH_WINDOW) {
        char a[32];
        snprintf(a, sizeof a, "%d", end);
        rg_cursor_encode(a, "", next, sizeof next);
    }
    rg_search_hits_free(hits, n);
    *out = rg_list_page(items, next);
    return 0;
}
