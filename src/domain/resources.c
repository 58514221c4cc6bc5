/* Resources (documents store): resources/<id>: {schemaVersion, title,
 * description, type, url, tags, eventId, isPublic, createdBy, createdAt,
 * updatedAt}. Organizers and admins write them; public ones anyone reads
 * and finds. Public resources are indexed into the search port (type
 * "resource") after each write. A write is coordinated as resource.change
 * (intents.h): 0 the intent, 1 the document written (or, for a delete, the
 * search entry removed), then the other store and the intent closes. A
 * failed index update is a warning: the document stands, and the driver
 * makes the search entry match it later. */
#include "risinggen/domain/content.h"
#include "domain.h"
#include "event_record.h"
#include "intents.h"
#include "risinggen/base/log.h"
#include "risinggen/base/id.h"
#include "risinggen/base/error.h"
#include "risinggen/base/buf.h"
#include "risinggen/base/clock.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define RESOURCE_CHANGE         "resource.change"
#define RESOURCE_SCHEMA_VERSION 1
#define MAX_TAGS                20

static const char *const resource_types[] = {"document", "video",   "audio", "image",
                                             "link",     "article", "other", NULL};
static const char *const resource_fields[] = {"title", "description", "type",     "url",
                                              "tags",  "eventId",     "isPublic", NULL};

/* The shape a resource document has before it is written. */
static int check_resource(json_t *d)
{
    json_t *ev = json_object_get(d, "eventId"), *url = json_object_get(d, "url"),
           *desc = json_object_get(d, "description");
    bool ok = json_integer_value(json_object_get(d, "schemaVersion")) == RESOURCE_SCHEMA_VERSION &&
              rg__json_is_str(d, "title") && rg__json_is_str(d, "type") &&
              json_is_array(json_object_get(d, "tags")) &&
              json_is_boolean(json_object_get(d, "isPublic")) &&
              rg_oid_valid(json_string_value(json_object_get(d, "createdBy"))) &&
              rg__json_is_str(d, "createdAt") && rg__json_is_str(d, "updatedAt") &&
              (json_is_null(ev) || json_is_integer(ev)) &&
              (json_is_null(url) || json_is_string(url)) &&
              (json_is_null(desc) || json_is_string(desc));
    if (!ok) {
        rg_err("refusing to write a resource document of the wrong shape");
        return rg_error_set(RG_EINTERNAL, "internal error");
    }
    return 0;
}

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
        else if (!u || strlen(u) != json_string_length(url) || !rg__https_url_ok(u))
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
    int rc = rg__event_row(app, NULL, json_integer_value(ev), &r);
    if (rc == RG_ENOTFOUND || (rc == 0 && !rg__event_can_manage(who, r))) {
        rg_rows_free(r);
        rg_error_clear();
        rg_error_field("eventId", "no such event of yours");
        return rg_error_set(RG_EVALIDATION, "the event does not exist or is not yours");
    }
    rg_rows_free(r);
    return rc;
}

/* The search entry of resource id made to match doc: indexed when public,
 * gone when private or when doc is NULL (the resource is gone). */
static int sync_search(rg_app *app, const char *id, json_t *doc)
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
    return rc < 0 ? rc : 0;
}

/* The last step of a create or a patch: the search entry, then the intent
 * closes. A failure is a warning, and the intent stays for the driver. A
 * delete that ran meanwhile may have removed the document before this
 * wrote its entry: the document is read again after, and the entry goes
 * if it is gone (the delete removes the entry again after the document,
 * which covers the other order). */
static void index_resource(rg_app *app, const rg_intent *in, json_t *doc)
{
    int rc = sync_search(app, in->subject, doc);
    json_t *now = NULL;
    if (rc == 0 && (rc = rg_docs_get(&app->st.docs, COLL_RESOURCES, in->subject, &now, NULL)) ==
                       RG_ENOTFOUND) {
        rg_error_clear();
        rc = sync_search(app, in->subject, NULL);
    }
    json_decref(now);
    if (rc == 0)
        rc = rg_intent_close(app, in);
    if (rc < 0)
        rg_warn("search index not updated for resource %s yet (%s)", in->subject,
                rg_error_detail());
    rg_error_clear();
}

/* Opens the intent of a change of resource id (step 0, a fault point). */
static int change_open(rg_app *app, const char *id, rg_intent *in)
{
    int rc = rg_intent_open(app, NULL, RESOURCE_CHANGE, id, 0, in);
    if (rc == 0)
        rg_intent_fault(RESOURCE_CHANGE, 0);
    return rc;
}

/* Ends an intent whose operation failed at its first store, keeping the
 * operation's error. A store that could not be reached may have taken the
 * write all the same: that intent stays, and the driver makes the search
 * entry match what the store holds. */
static int change_abort(rg_app *app, const rg_intent *in, int rc)
{
    if (rc == RG_EUNAVAIL)
        return rc;
    char detail[256];
    snprintf(detail, sizeof detail, "%s", rg_error_detail());
    if (rg_intent_close(app, in) < 0)
        rg_error_clear(); /* the driver finds nothing to change and closes it */
    return rg_error_set(rc, "%s", detail);
}

/* The driver of resource.change: the search entry made to match the
 * document as it stands (none when it is gone). */
int rg__resource_change_drive(rg_app *app, const rg_intent *in)
{
    json_t *doc = NULL;
    int rc = rg_oid_valid(in->subject)
                 ? rg_docs_get(&app->st.docs, COLL_RESOURCES, in->subject, &doc, NULL)
                 : RG_ENOTFOUND;
    if (rc == RG_ENOTFOUND) {
        rg_error_clear();
        rc = rg_oid_valid(in->subject) ? sync_search(app, in->subject, NULL) : 0;
    } else if (rc == 0) {
        rc = sync_search(app, in->subject, doc);
    }
    json_decref(doc);
    return rc < 0 ? rc : rg_intent_close(app, in);
}

int rg_resource_create(rg_app *app, const rg_ctx *ctx, json_t *body, json_t **out)
{
    const rg_principal *who = &ctx->who;
    if (!(who->roles & (RG_ROLE_ORGANIZER | RG_ROLE_ADMIN)))
        return rg_error_set(RG_EFORBIDDEN, "only organizers and admins add resources");
    if (!json_is_object(body))
        return v_not_object(body);
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
    rg_intent in;
    if (rc == 0 && (rc = change_open(app, id, &in)) == 0 &&
        (rc = rg_docs_insert(&app->st.docs, COLL_RESOURCES, id, doc)) < 0)
        rc = change_abort(app, &in, rc);
    if (rc == 0) {
        if (rg_intent_step(app, &in, 1) < 0)
            rg_error_clear(); /* the intent stays at 0: the driver syncs it */
        index_resource(app, &in, doc);
        *out = rg__doc_view(id, doc);
    }
    json_decref(doc);
    return rc;
}

static bool owns(const rg_principal *who, json_t *doc)
{
    const char *by = json_string_value(json_object_get(doc, "createdBy"));
    return rg_manages(who, by);
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

int rg_resource_get(rg_app *app, const rg_ctx *ctx, const char *id, json_t **out)
{
    const rg_principal *who = &ctx->who;
    json_t *doc;
    int rc = load_resource(app, who, id, &doc);
    if (rc < 0)
        return rc;
    *out = rg__doc_view(id, doc);
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
    int rc = rg__doc_upgrade(doc, RESOURCE_SCHEMA_VERSION, "resource");
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

int rg_resource_patch(rg_app *app, const rg_ctx *ctx, const char *id, json_t *patch, json_t **out)
{
    const rg_principal *who = &ctx->who;
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
    rg_intent in;
    if ((rc = change_open(app, id, &in)) < 0)
        return rc;
    rc = rg_doc_update(&app->st.docs, COLL_RESOURCES, id, apply_resource_patch, &c);
    if (rc == RG_ENOTFOUND)
        rc = rg_error_set(RG_ENOTFOUND, "no such resource");
    if (rc < 0)
        rc = change_abort(app, &in, rc);
    if (rc == 0) {
        if (rg_intent_step(app, &in, 1) < 0)
            rg_error_clear();
        index_resource(app, &in, c.result);
        *out = rg__doc_view(id, c.result);
    }
    json_decref(c.result);
    return rc;
}

int rg_resource_delete(rg_app *app, const rg_ctx *ctx, const char *id)
{
    const rg_principal *who = &ctx->who;
    json_t *doc;
    int rc = load_resource(app, who, id, &doc);
    if (rc < 0)
        return rc;
    bool mine = owns(who, doc);
    json_decref(doc);
    if (!mine)
        return rg_error_set(RG_EFORBIDDEN, "only the resource's owner or an admin can remove it");
    /* Out of the index first: a search never finds a removed resource. A
     * failure after it is answered, and the driver indexes the resource
     * again (it was not removed). */
    rg_intent in;
    if ((rc = change_open(app, id, &in)) < 0)
        return rc;
    if ((rc = rg_search_remove(&app->st.search, "resource", id)) < 0)
        return change_abort(app, &in, rc);
    if ((rc = rg_intent_step(app, &in, 1)) < 0 ||
        (rc = rg_docs_remove(&app->st.docs, COLL_RESOURCES, id)) < 0)
        return rc; /* the intent stays: the driver indexes it again */
    /* Once more: a patch that indexed between the two removals. */
    if (rg_search_remove(&app->st.search, "resource", id) < 0 || rg_intent_close(app, &in) < 0)
        rg_error_clear(); /* the intent stays or goes; the driver finds it gone */
    return 0;
}

/* Calls visit(ctx, id, d) for every resource in id order: d its search
 * record when it is public, NULL when it must not be found. */
static int each_resource(rg_app *app,
                         int (*visit)(void *ctx, const char *id, const rg_search_doc *d), void *ctx)
{
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
            if (json_is_true(json_object_get(doc, "isPublic"))) {
                rg_buf tags = {0};
                rg_buf_puts(&tags, json_string_value(json_object_get(doc, "type")));
                size_t k;
                json_t *t;
                json_array_foreach(json_object_get(doc, "tags"), k, t)
                    rg_buf_printf(&tags, " %s", json_string_value(t));
                rg_search_doc d = {.type = "resource",
                                   .id = id,
                                   .title = json_string_value(json_object_get(doc, "title")),
                                   .body = json_string_value(json_object_get(doc, "description")),
                                   .tags = tags.data};
                rc = visit(ctx, id, &d);
                rg_buf_free(&tags);
            } else {
                rc = visit(ctx, id, NULL);
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

struct resource_run {
    rg_app *app;
    int count;
};

static int reindex_one(void *ctx, const char *id, const rg_search_doc *d)
{
    struct resource_run *r = ctx;
    if (!d)
        return rg_search_remove(&r->app->st.search, "resource", id);
    r->count++;
    return rg_search_upsert(&r->app->st.search, d);
}

int rg_resource_reindex(rg_app *app, int *count)
{
    struct resource_run r = {app, 0};
    int rc = each_resource(app, reindex_one, &r);
    *count = r.count;
    return rc;
}

static int build_one(void *ctx, const char *id, const rg_search_doc *d)
{
    (void)id;
    struct resource_run *r = ctx;
    if (!d)
        return 0;
    r->count++;
    return rg_search_build_add(&r->app->st.search, d, 1);
}

int rg_resource_build(rg_app *app, int *count)
{
    struct resource_run r = {app, 0};
    int rc = each_resource(app, build_one, &r);
    *count = r.count;
    return rc;
}

int rg_resource_prune(rg_app *app)
{
    char after[32] = ""; /* an entry's id (rg_search_entry) */
    for (;;) {
        rg_search_entry *e = NULL;
        int n = 0;
        int rc = rg_search_scan(&app->st.search, "resource", after, RG_SEARCH_LIMIT_MAX, &e, &n);
        if (rc < 0)
            return rc;
        for (int i = 0; i < n && rc == 0; i++) {
            snprintf(after, sizeof after, "%s", e[i].id);
            json_t *doc = NULL;
            rc = rg_oid_valid(e[i].id)
                     ? rg_docs_get(&app->st.docs, COLL_RESOURCES, e[i].id, &doc, NULL)
                     : RG_ENOTFOUND;
            bool listed = rc == 0 && json_is_true(json_object_get(doc, "isPublic"));
            json_decref(doc);
            if (rc == RG_ENOTFOUND) {
                rg_error_clear();
                rc = 0;
            }
            if (rc == 0 && !listed)
                rc = rg_search_remove(&app->st.search, "resource", e[i].id);
        }
        rg_search_entries_free(e, n);
        if (rc < 0)
            return rc;
        if (n < RG_SEARCH_LIMIT_MAX)
            return 0;
    }
}
