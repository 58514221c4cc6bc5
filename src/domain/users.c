/* User profiles (documents store), cached as JSON text under "u:<id>". */
#include "risinggen/domain/audit.h"
#include "risinggen/domain/users.h"
#include "domain.h"
#include "intents.h"
#include "event_record.h"
#include "registration_record.h"
#include "user_record.h"
#include "risinggen/base/id.h"
#include "risinggen/base/error.h"
#include "risinggen/base/log.h"

#include <stdlib.h>
#include <string.h>

int rg_user_get_me(rg_app *app, const rg_ctx *ctx, json_t **out)
{
    const rg_principal *who = &ctx->who;
    json_t *doc;
    int rc = rg__user_load(app, who->user_id, &doc);
    if (rc < 0)
        return rc;
    *out = rg__user_view(who->user_id, doc);
    json_decref(doc);
    return 0;
}

/* RFC 7396 JSON merge patch of patch onto target (in place). */
static void merge_patch(json_t *target, json_t *patch)
{
    const char *k;
    json_t *v;
    json_object_foreach(patch, k, v)
    {
        if (json_is_null(v)) {
            json_object_del(target, k);
        } else if (json_is_object(v)) {
            json_t *t = json_object_get(target, k);
            if (!json_is_object(t)) {
                t = json_object();
                json_object_set_new(target, k, t);
            }
            merge_patch(t, v);
        } else {
            json_object_set(target, k, v);
        }
    }
}

static const char *const patchable[] = {"firstName",   "lastName", "dateOfBirth",
                                        "gender",      "contact",  "churchUnit",
                                        "preferences", "churchId", NULL};

struct patch_ctx {
    json_t *patch;
    json_t *result;
};

static int apply_patch(json_t *doc, void *p)
{
    struct patch_ctx *c = p;
    merge_patch(doc, c->patch);
    v_ctx v = {0};
    v_string(&v, doc, "firstName", true, 1, 100, NULL);
    v_string(&v, doc, "lastName", true, 1, 100, NULL);
    rg__validate_profile(&v, doc);
    int rc = v_finish(&v);
    if (rc == 0) {
        json_decref(c->result);
        c->result = json_incref(doc);
    }
    return rc;
}

int rg_user_patch_me(rg_app *app, const rg_ctx *ctx, json_t *patch, json_t **out)
{
    const rg_principal *who = &ctx->who;
    if (!json_is_object(patch))
        return rg_error_set(RG_EVALIDATION, "the body must be a JSON merge patch object");
    v_ctx v = {0};
    v_only(&v, patch, patchable);
    int rc = v_finish(&v);
    if (rc < 0)
        return rc;
    struct patch_ctx c = {.patch = patch};
    rc = rg_doc_update(&app->st.docs, COLL_USERS, who->user_id, apply_patch, &c);
    rg__user_uncache(app, who->user_id);
    if (rc == 0)
        *out = rg__user_view(who->user_id, c.result);
    json_decref(c.result);
    return rc;
}

static bool self_or_admin(const rg_principal *who, const char *id)
{
    return rg_is_admin(who) || strcmp(who->user_id, id) == 0;
}

int rg_user_get(rg_app *app, const rg_ctx *ctx, const char *id, json_t **out)
{
    const rg_principal *who = &ctx->who;
    if (!rg_oid_valid(id))
        return rg_error_set(RG_ENOTFOUND, "no such user");
    json_t *doc;
    int rc = rg__user_load(app, id, &doc);
    if (rc == RG_ENOTFOUND)
        return rg_error_set(RG_ENOTFOUND, "no such user");
    if (rc < 0)
        return rc;
    if (self_or_admin(who, id)) {
        *out = rg__user_view(id, doc);
        json_decref(doc);
        return 0;
    }
    json_t *privacy = json_object_get(json_object_get(doc, "preferences"), "privacy");
    if (json_is_false(json_object_get(privacy, "shareProfile"))) {
        json_decref(doc);
        return rg_error_set(RG_ENOTFOUND, "no such user");
    }
    json_t *pub = json_pack(
        "{s:s, s:O?, s:O?, s:O?, s:O?}", "id", id, "firstName", json_object_get(doc, "firstName"),
        "lastName", json_object_get(doc, "lastName"), "churchUnit",
        json_object_get(doc, "churchUnit"), "roles", json_object_get(doc, "roles"));
    if (json_is_true(json_object_get(privacy, "shareContact"))) {
        json_t *c = json_object_get(doc, "contact");
        if (c)
            json_object_set(pub, "contact", c);
        json_object_set(pub, "email", json_object_get(doc, "email"));
    }
    json_decref(doc);
    *out = pub;
    return 0;
}

struct roles_ctx {
    json_t *roles;
    json_t *result;
    json_t *previous; /* the roles before (for the audit log) */
    /* Set: the roles written are those of the newest decision about id
     * (user.roles), read anew after each read of the document. */
    rg_app *app;
    const char *id;
    json_t *newest;
};

#define USER_ROLES "user.roles"

/* The roles of the newest user.roles decision about id into *out (a new
 * reference), NULL when there is none. */
static int newest_roles(rg_app *app, const char *id, json_t **out)
{
    *out = NULL;
    rg_param p[] = {RG_PTEXT(id), RG_PTEXT(USER_ROLES)};
    rg_rows *rows;
    int rc = rg_rel_run(app, "audit_latest", p, 2, &rows);
    if (rc < 0)
        return rc;
    json_t *d = rows->nrows ? json_loads(rg_rows_get(rows, 0, "details"), 0, NULL) : NULL;
    rg_rows_free(rows);
    json_t *roles = json_object_get(d, "roles");
    if (json_is_array(roles))
        *out = json_incref(roles);
    json_decref(d);
    return 0;
}

/* Without two-phase commit, the decisions (audit entries) and the
 * document are written apart: of two changes of one person at once, the
 * entries may commit in one order and the documents in the other. Reading
 * the newest decision after the document, and writing only if the
 * document has not changed since, makes the last write carry the newest
 * decision whatever the order. */
static int apply_roles(json_t *doc, void *p)
{
    struct roles_ctx *c = p;
    if (c->app) {
        json_decref(c->newest);
        int rc = newest_roles(c->app, c->id, &c->newest);
        if (rc < 0)
            return rc;
    }
    json_decref(c->previous);
    c->previous = json_deep_copy(json_object_get(doc, "roles"));
    json_object_set(doc, "roles", c->newest ? c->newest : c->roles);
    json_decref(c->result);
    c->result = json_incref(doc);
    return 0;
}

/* The audit entry of a role change and its intent, in one transaction. */
static int decide_roles(rg_app *app, const char *actor, const char *id, json_t *details,
                        rg_intent *in)
{
    rg_relational *rel = &app->st.rel;
    rg_rel_conn *c;
    int rc = rg_rel_acquire(rel, &c);
    if (rc < 0)
        return rc;
    if ((rc = rg_rel_begin(rel, c, true)) == 0) {
        if ((rc = rg_audit(app, c, actor, USER_ROLES, "user", id, details)) == 0 &&
            (rc = rg_intent_open(app, c, USER_ROLES, id, 1, in)) == 0)
            rc = rg_rel_commit(rel, c);
        if (rc < 0)
            rg_rel_rollback(rel, c);
    }
    rg_rel_release(rel, c);
    return rc < 0 ? rc : 0;
}

#define USER_ROLES_2PC "user.roles.2pc"
/* user.roles.2pc's steps: 0 the intent, 1 the user document prepared, 2 the
 * audit entry prepared, 3 the decision, 4 and 5 each store committed. */
#define ROLES_DECIDED  3
#define ROLES_ATTEMPTS 5 /* replaces that meet another write first */

/* The role change as one transaction in each store, prepared in both, then
 * committed in both once the decision is recorded: no reader sees the new
 * roles without their audit entry, or the reverse, except between the two
 * commits. *result: the document as written. */
static int set_roles_two_phase(rg_app *app, const char *actor, const char *id, json_t *roles,
                               json_t **result)
{
    rg_intent in;
    int rc = rg_intent_open(app, NULL, USER_ROLES_2PC, id, 0, &in);
    if (rc < 0)
        return rc;
    rg_intent_fault(USER_ROLES_2PC, 0);
    char dgid[RG_GID_MAX + 1], rgid[RG_GID_MAX + 1];
    rg_intent_gid(&in, RG_INTENT_STORE_DOCS, dgid);
    rg_intent_gid(&in, RG_INTENT_STORE_REL, rgid);
    json_t *doc = NULL, *previous = NULL;
    for (int attempt = 0; attempt < ROLES_ATTEMPTS; attempt++) {
        json_decref(doc);
        int64_t rev;
        if ((rc = rg_docs_get(&app->st.docs, COLL_USERS, id, &doc, &rev)) < 0)
            break;
        previous = json_object_get(doc, "roles");
        json_incref(previous);
        json_object_set(doc, "roles", roles);
        rg_doc_write w = {RG_DOC_W_REPLACE, COLL_USERS, id, doc, rev};
        if ((rc = rg_docs_prepare(&app->st.docs, dgid, &w, 1)) != RG_ESTALE)
            break;
        json_decref(previous);
        previous = NULL;
        rg_error_clear();
    }
    if (rc == 0) {
        rg_intent_fault(USER_ROLES_2PC, 1);
        json_t *d = json_pack("{s:O, s:O?}", "roles", roles, "previous", previous);
        rg_relational *rel = &app->st.rel;
        rg_rel_conn *c;
        if ((rc = rg_rel_acquire(rel, &c)) == 0) {
            if ((rc = rg_rel_begin(rel, c, true)) == 0 &&
                (rc = rg_audit(app, c, actor, USER_ROLES, "user", id, d)) == 0)
                rc = rg_rel_prepare(rel, c, rgid);
            rg_rel_rollback(rel, c); /* nothing open after a prepare */
            rg_rel_release(rel, c);
        }
        json_decref(d);
    }
    bool given_up = false;
    if (rc == 0) {
        rg_intent_fault(USER_ROLES_2PC, 2);
        rc = rg_intent_decide(app, &in, ROLES_DECIDED);
        given_up = rc == RG_ESTALE;
        if (rc < 0 && !given_up) {
            /* The decision may have been recorded: the driver ends it. */
            rg_warn("role change of %s: the decision could not be recorded; intent %lld ends it",
                    id, (long long)in.id);
            json_decref(doc);
            json_decref(previous);
            return rc;
        }
    }
    if (rc == 0) {
        /* Decided: the commits cannot be refused; one that fails now is
         * finished by the driver, and the change is answered as made. */
        if (rg_intent_finish(app, &in, true) < 0 || rg_intent_close(app, &in) < 0) {
            rg_warn("role change of %s: %s; intent %lld finishes it", id, rg_error_detail(),
                    (long long)in.id);
            rg_error_clear();
        }
        rg__user_uncache(app, id);
        *result = doc;
        json_decref(previous);
        return 0;
    }
    /* Undecided: the intent goes first, then whatever may be prepared (a
     * PREPARE whose answer was lost may have happened); what a failure here
     * leaves prepared, the intent-resume job rolls back. */
    int err = rc;
    char detail[256];
    snprintf(detail, sizeof detail, "%s", rg_error_detail());
    if (rg_intent_abandon(app, &in, ROLES_DECIDED) != 1 || rg_intent_finish(app, &in, false) < 0) {
        rg_warn("role change of %s given up: %s; the intent-resume job ends it", id,
                rg_error_detail());
        rg_error_clear();
    }
    json_decref(doc);
    json_decref(previous);
    if (err == RG_ENOTFOUND)
        return rg_error_set(RG_ENOTFOUND, "no such user");
    if (given_up)
        return rg_error_set(RG_EUNAVAIL, "the role change took too long and was given up; "
                                         "try again");
    return rg_error_set(err, "%s", detail);
}

/* The driver of user.roles.2pc: an undecided change is given up (the
 * intent first, then what is prepared), a decided one committed. */
int rg__user_roles_2pc_drive(rg_app *app, const rg_intent *in)
{
    if (in->step < ROLES_DECIDED) {
        int rc = rg_intent_abandon(app, in, ROLES_DECIDED);
        if (rc <= 0)
            return rc; /* decided meanwhile: the next pass commits it */
        return rg_intent_finish(app, in, false);
    }
    int rc = rg_intent_finish(app, in, true);
    rg__user_uncache(app, in->subject);
    return rc < 0 ? rc : rg_intent_close(app, in);
}

int rg_user_set_roles(rg_app *app, const rg_ctx *ctx, const char *id, json_t *body, json_t **out)
{
    const rg_principal *who = &ctx->who;
    if (!rg_is_admin(who))
        return rg_error_set(RG_EFORBIDDEN, "only an admin can change roles");
    if (!rg_oid_valid(id))
        return rg_error_set(RG_ENOTFOUND, "no such user");
    v_ctx v = {0};
    static const char *const only[] = {"roles", NULL};
    if (!json_is_object(body))
        return v_not_object(body);
    v_only(&v, body, only);
    json_t *roles = json_object_get(body, "roles");
    json_t *clean = json_array();
    if (!json_is_array(roles)) {
        v_fail(&v, "roles", "must be an array of roles");
    } else {
        static const char *const names[] = {"participant", "organizer", "admin"};
        size_t i;
        json_t *r;
        json_array_foreach(roles, i, r)
        {
            const char *s = json_string_value(r);
            size_t k;
            for (k = 0; k < 3 && (!s || strcmp(s, names[k]) != 0); k++)
                ;
            if (k == 3) {
                v_fail(&v, "roles", "each role must be participant, organizer or admin");
                break;
            }
            /* Keep each role once. */
            size_t j;
            json_t *e;
            bool dup = false;
            json_array_foreach(clean, j, e) dup |= strcmp(json_string_value(e), s) == 0;
            if (!dup)
                json_array_append_new(clean, json_string(s));
        }
    }
    int rc = v_finish(&v);
    if (rc < 0) {
        json_decref(clean);
        return rc;
    }
    if (app->two_phase) {
        json_t *doc = NULL;
        if ((rc = set_roles_two_phase(app, who->user_id, id, clean, &doc)) == 0)
            *out = rg__user_view(id, doc);
        json_decref(doc);
        json_decref(clean);
        return rc;
    }
    /* user.roles (intents.h): 1 the decision, the audit entry and the
     * intent in one relational transaction; 2 the user document. The
     * driver applies the newest decision again. */
    json_t *doc = NULL;
    if ((rc = rg_docs_get(&app->st.docs, COLL_USERS, id, &doc, NULL)) < 0) {
        json_decref(clean);
        return rc == RG_ENOTFOUND ? rg_error_set(RG_ENOTFOUND, "no such user") : rc;
    }
    json_t *d = json_pack("{s:O, s:O?}", "roles", clean, "previous", json_object_get(doc, "roles"));
    json_decref(doc);
    rg_intent in;
    rc = decide_roles(app, who->user_id, id, d, &in);
    json_decref(d);
    struct roles_ctx c = {.roles = clean, .app = app, .id = id};
    if (rc == 0) {
        rg_intent_fault(USER_ROLES, 1);
        rc = rg_doc_update(&app->st.docs, COLL_USERS, id, apply_roles, &c);
        rg__user_uncache(app, id);
        if (rc == RG_ENOTFOUND) { /* erased meanwhile: nothing to follow */
            if (rg_intent_close(app, &in) < 0)
                rg_error_clear();
            rc = rg_error_set(RG_ENOTFOUND, "no such user");
        } else if (rc == 0) {
            /* A failure to record the end leaves the intent to the job,
             * which writes the same roles again. */
            if (rg_intent_step(app, &in, 2) < 0 || rg_intent_close(app, &in) < 0)
                rg_error_clear();
        }
    }
    if (rc == 0)
        *out = rg__user_view(id, c.result);
    json_decref(clean);
    json_decref(c.previous);
    json_decref(c.result);
    json_decref(c.newest);
    return rc;
}

/* The driver of user.roles: the newest decision about the person, applied
 * to their document. */
int rg__user_roles_drive(rg_app *app, const rg_intent *in)
{
    json_t *roles = NULL;
    int rc = rg_oid_valid(in->subject) ? newest_roles(app, in->subject, &roles) : 0;
    if (rc < 0)
        return rc;
    if (roles) {
        struct roles_ctx c = {.roles = roles, .app = app, .id = in->subject};
        rc = rg_doc_update(&app->st.docs, COLL_USERS, in->subject, apply_roles, &c);
        rg__user_uncache(app, in->subject);
        json_decref(c.previous);
        json_decref(c.result);
        json_decref(c.newest);
        if (rc == RG_ENOTFOUND) { /* erased since */
            rg_error_clear();
            rc = 0;
        }
    }
    json_decref(roles);
    return rc < 0 ? rc : rg_intent_close(app, in);
}

int rg_user_preferences(rg_app *app, const rg_ctx *ctx, const char *id, json_t **out)
{
    const rg_principal *who = &ctx->who;
    if (!rg_oid_valid(id) || !self_or_admin(who, id))
        return rg_error_set(rg_oid_valid(id) ? RG_EFORBIDDEN : RG_ENOTFOUND,
                            "only the person or an admin can read preferences");
    json_t *doc;
    int rc = rg__user_load(app, id, &doc);
    if (rc == RG_ENOTFOUND)
        return rg_error_set(RG_ENOTFOUND, "no such user");
    if (rc < 0)
        return rc;
    json_t *p = json_object_get(doc, "preferences");
    *out = p ? json_incref(p) : json_object();
    json_decref(doc);
    return 0;
}

int rg_user_registrations(rg_app *app, const rg_ctx *ctx, const char *id, const char *cursor,
                          int limit, json_t **out)
{
    const rg_principal *who = &ctx->who;
    if (!rg_oid_valid(id) || !self_or_admin(who, id))
        return rg_error_set(rg_oid_valid(id) ? RG_EFORBIDDEN : RG_ENOTFOUND,
                            "only the person or an admin can list registrations");
    int64_t after = INT32_MAX;
    if (cursor) {
        char a[32], b[32];
        int rc = rg_cursor_decode(cursor, a, sizeof a, b, sizeof b);
        if (rc < 0 || !rg_parse_id(a, &after))
            return rg_error_set(RG_EINVAL, "the cursor is not valid");
    }
    rg_param p[] = {RG_PTEXT(id), RG_PINT(after), RG_PINT(limit + 1)};
    rg_rows *rows;
    int rc = rg_rel_run_read(app, ctx, "registrations_by_user", p, 3, &rows);
    if (rc < 0)
        return rc;
    json_t *items = json_array();
    int n = rows->nrows > limit ? limit : rows->nrows;
    for (int i = 0; i < n; i++) {
        json_t *r = rg__registration_view(rows, i);
        json_object_set_new(r, "event", rg__event_summary(rows, i));
        json_array_append_new(items, r);
    }
    char next[96] = "";
    if (rows->nrows > limit)
        rg_cursor_encode(rg_rows_get(rows, limit - 1, "id"), "", next, sizeof next);
    rg_rows_free(rows);
    *out = rg_list_page(items, next);
    return 0;
}
