/* Erasure. DELETE /v1/users/me first records the erasure: a row of the
 * relational table `erasures` with a new tombstone id, and in the same
 * transaction its intent (kind user.erase, its subject the row's id;
 * intents.h). Then the steps below run; each is idempotent and the intent's
 * step says how far they got, so a run that died midway is finished by the
 * intent-resume job (at start, and for intents that stood still). When done,
 * the row forgets the person's id and the intent goes, in one transaction.
 *   1 sessions: every refresh-token family and access token ends.
 *   2 relational, one transaction with its step: the person's id becomes
 *     the tombstone in
 *     event_registrations (their free-text needs and guardian consent are
 *     cleared), payments, payment_refunds, events (past or cancelled ones
 *     only: an organizer of upcoming events is refused 409 before anything
 *     starts), venues and audit_log; their idempotency keys and outbox rows
 *     go. Counts and money stay as they were.
 *   3 content documents: messages, feedback and resources they wrote keep
 *     their place with the tombstone as author; their church-account link
 *     goes.
 *   4 search: their entry, if any.
 *   5 account documents: sessions, auth, user.
 *   6 channels: the person leaves every group channel's members list, and
 *     their readBy entries go from the messages of every channel they could
 *     read (event channels of their registrations, group channels that list
 *     them, channels they organized or created). Arrays cannot be searched
 *     through the documents port's indexes, so the channels are read page by
 *     page (keyset by id); messages are found by their indexed channelId.
 *   7 cache, then the row is marked done with an audit entry (user.erase)
 *     and the intent closed. */
#include "risinggen/domain/audit.h"
#include "risinggen/domain/accounts.h"
#include "domain.h"
#include "event_record.h"
#include "intents.h"
#include "registration_record.h"
#include "risinggen/base/buf.h"
#include "risinggen/base/clock.h"
#include "risinggen/base/error.h"
#include "risinggen/base/id.h"
#include "risinggen/base/log.h"
#include "risinggen/domain/outbox.h"
#include "sessions.h"
#include "user_record.h"

#include <ctype.h>
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ERASE_KIND  "user.erase"
#define ERASE_STEPS 7
#define ERASE_PAGE  100

typedef struct erasure {
    int64_t id;
    char user_id[RG_OID_LEN + 1];
    char tombstone[RG_OID_LEN + 1];
    bool pending;
    char email[321]; /* the person's, kept from step 1 until done ("" if none) */
    rg_intent in;    /* its progress */
} erasure;

static void erasure_from(const rg_rows *r, int i, erasure *e)
{
    memset(e, 0, sizeof *e);
    e->id = rg_rows_int(r, i, "id", 0);
    snprintf(e->user_id, sizeof e->user_id, "%s",
             rg_rows_get(r, i, "user_id") ? rg_rows_get(r, i, "user_id") : "");
    snprintf(e->tombstone, sizeof e->tombstone, "%s", rg_rows_get(r, i, "tombstone_id"));
    const char *status = rg_rows_get(r, i, "status");
    e->pending = status && strcmp(status, "pending") == 0;
    const char *email = rg_rows_get(r, i, "email");
    snprintf(e->email, sizeof e->email, "%s", email ? email : "");
}

/* The erasure that query (erasure_by_user or erasure_by_id) finds for p,
 * if any (*found). */
static int erasure_load(rg_app *app, const char *query, rg_param p, erasure *e, bool *found)
{
    rg_rows *rows;
    int rc = rg_rel_run(app, query, &p, 1, &rows);
    if (rc < 0)
        return rc;
    *found = rows->nrows > 0;
    if (*found)
        erasure_from(rows, 0, e);
    rg_rows_free(rows);
    return 0;
}

/* The row and its intent, in one transaction: RG_ECONFLICT when a
 * concurrent request recorded the person's erasure first. */
static int insert(rg_app *app, const char *user_id)
{
    char tomb[RG_OID_LEN + 1], now[RG_TIME_LEN + 1];
    rg_oid_new(tomb);
    rg_time_format(rg_now(), now);
    rg_relational *r = &app->st.rel;
    rg_rel_conn *c;
    rg_rows *rows = NULL;
    int rc = rg_rel_acquire(r, &c);
    if (rc < 0)
        return rc;
    rg_param p[] = {RG_PTEXT(user_id), RG_PTEXT(tomb), RG_PTEXT(now)};
    rg_intent in;
    if ((rc = rg_rel_begin(r, c, true)) < 0)
        goto out;
    if ((rc = rg_rel_query(r, c, "erasure_insert", p, 3, NULL)) < 0 ||
        (rc = rg_rel_query(r, c, "erasure_by_user", p, 1, &rows)) < 0)
        goto fail;
    if (rows->nrows != 1) {
        rc = rg_error_set(RG_EINTERNAL, "internal error");
        goto fail;
    }
    char subject[24];
    snprintf(subject, sizeof subject, "%lld", (long long)rg_rows_int(rows, 0, "id", 0));
    if ((rc = rg_intent_open(app, c, ERASE_KIND, subject, 0, &in)) < 0 ||
        (rc = rg_rel_commit(r, c)) < 0)
        goto fail;
    rg_intent_fault(ERASE_KIND, 0);
    rc = 0;
    goto out;
fail:
    rg_rel_rollback(r, c);
out:
    rg_rows_free(rows);
    rg_rel_release(r, c);
    return rc;
}

/* e's intent into e->in: the one recorded with it or, for a pending row
 * that has none, a new one (the steps may run again). */
static int erasure_intent(rg_app *app, erasure *e)
{
    char subject[24];
    snprintf(subject, sizeof subject, "%lld", (long long)e->id);
    rg_param p[] = {RG_PTEXT(ERASE_KIND), RG_PTEXT(subject)};
    rg_rows *rows;
    int rc = rg_rel_run(app, "intent_by_subject", p, 2, &rows);
    if (rc < 0)
        return rc;
    bool found = rows->nrows == 1;
    if (found) {
        memset(&e->in, 0, sizeof e->in);
        e->in.id = rg_rows_int(rows, 0, "id", 0);
        e->in.step = (int)rg_rows_int(rows, 0, "step", 0);
        snprintf(e->in.kind, sizeof e->in.kind, "%s", ERASE_KIND);
        snprintf(e->in.subject, sizeof e->in.subject, "%s", subject);
    }
    rg_rows_free(rows);
    return found ? 0 : rg_intent_open(app, NULL, ERASE_KIND, subject, 0, &e->in);
}

/* The person's erasure, recorded now or by an earlier (or concurrent)
 * request, with its intent. */
static int record(rg_app *app, const char *user_id, erasure *e)
{
    bool found;
    int rc = erasure_load(app, "erasure_by_user", RG_PTEXT(user_id), e, &found);
    if (rc < 0)
        return rc;
    if (!found) {
        rc = insert(app, user_id);
        if (rc < 0 && rc != RG_ECONFLICT)
            return rc;
        rg_error_clear(); /* recorded by a concurrent request: take theirs */
        if ((rc = erasure_load(app, "erasure_by_user", RG_PTEXT(user_id), e, &found)) < 0)
            return rc;
        if (!found)
            return rg_error_set(RG_EUNAVAIL, "the erasure could not be recorded; try again");
    }
    return erasure_intent(app, e);
}

int rg_erasure_record(rg_app *app, const char *user_id, char tombstone[RG_OID_LEN + 1])
{
    if (!rg_oid_valid(user_id))
        return rg_error_set(RG_EINVAL, "not a user id");
    erasure e;
    int rc = record(app, user_id, &e);
    if (rc == 0 && tombstone)
        memcpy(tombstone, e.tombstone, RG_OID_LEN + 1);
    return rc;
}

/* The account's credentials go and the account says it is being erased:
 * the families of refresh tokens it had are kept in p (a JSON array) to be
 * ended. Issuing a token updates the same document, so a sign-in either
 * came before (its family is ended here) or is refused (family_apply). */
static int close_auth(json_t *auth, void *p)
{
    json_t *families = p;
    json_array_clear(families);
    const char *fam;
    json_t *v;
    json_object_foreach(json_object_get(auth, "tokens"), fam, v)
    {
        json_array_append_new(families, json_string(fam));
    }
    json_object_set_new(auth, "erasing", json_true());
    json_object_del(auth, "passwordHash");
    json_object_set_new(auth, "passwordResetToken", json_null());
    json_object_set_new(auth, "passwordResetExpiry", json_null());
    json_object_set_new(auth, "tokens", json_object());
    return 0;
}

static int mark_erasing(json_t *user, void *p)
{
    (void)p;
    json_object_set_new(user, "erasing", json_true());
    return 0;
}

/* Step 1: the account closes before anything else, so that nobody signs in,
 * resets the password or acts as the person while the rest runs; then no
 * session of the person survives. */
static int step_sessions(rg_app *app, erasure *e)
{
    /* The e-mail goes onto the erasure's row first: the last sweep needs it
     * after the profile is gone. */
    json_t *user = NULL;
    int rc = rg_docs_get(&app->st.docs, COLL_USERS, e->user_id, &user, NULL);
    const char *email = rc == 0 ? json_string_value(json_object_get(user, "email")) : NULL;
    if (email && !e->email[0]) {
        rg_param ep[] = {RG_PINT(e->id), RG_PTEXT(email)};
        rc = rg_rel_run(app, "erasure_set_email", ep, 2, NULL);
        if (rc >= 0)
            snprintf(e->email, sizeof e->email, "%s", email);
    }
    json_decref(user);
    if (rc < 0 && rc != RG_ENOTFOUND)
        return rc;
    rg_error_clear();
    json_t *families = json_array();
    rc = rg_doc_update(&app->st.docs, COLL_AUTH, e->user_id, close_auth, families);
    if (rc == 0 || rc == RG_ENOTFOUND)
        rc = rg_doc_update(&app->st.docs, COLL_USERS, e->user_id, mark_erasing, NULL);
    if (rc < 0 && rc != RG_ENOTFOUND) {
        json_decref(families);
        return rc;
    }
    rg__user_uncache(app, e->user_id);
    rg_error_clear();
    rg__sessions_end_all(app, e->user_id, families);
    json_decref(families);
    return 0;
}

/* Step 2: in one transaction, every relational row keeps its place and
 * loses the person; the intent's step is recorded in it when step > 0
 * (the last sweep runs it again with 0). */
static int relational(rg_app *app, erasure *e, int step)
{
    json_t *user = NULL;
    const char *email = e->email[0] ? e->email : NULL;
    if (!email && rg_docs_get(&app->st.docs, COLL_USERS, e->user_id, &user, NULL) == 0)
        email = json_string_value(json_object_get(user, "email"));
    rg_error_clear();
    rg_relational *r = &app->st.rel;
    rg_rel_conn *c;
    rg_rows *events = NULL;
    int rc = rg_rel_acquire(r, &c);
    if (rc < 0) {
        json_decref(user);
        return rc;
    }
    char now[RG_TIME_LEN + 1];
    rg_time_format(rg_now(), now);
    rg_param p[] = {RG_PTEXT(e->user_id), RG_PTEXT(e->tombstone), RG_PTEXT(now)};
    rg_param one[] = {RG_PTEXT(e->user_id)};
    /* Each statement and how many of (id, tombstone, now) it takes. */
    static const struct {
        const char *name;
        int n;
    } updates[] = {
        {"erasure_registrations", 3},   {"erasure_payments", 3},
        {"erasure_payment_refunds", 2}, {"erasure_events", 3},
        {"erasure_venues", 3},          {"erasure_audit_actor", 2},
        {"erasure_audit_target", 2},    {"erasure_idempotency_keys", 1},
    };
    if ((rc = rg_rel_begin(r, c, true)) < 0)
        goto out;
    if ((rc = rg_rel_query(r, c, "erasure_organized_events", one, 1, &events)) < 0)
        goto fail;
    for (size_t i = 0; i < sizeof updates / sizeof updates[0]; i++)
        if ((rc = rg_rel_query(r, c, updates[i].name, p, updates[i].n, NULL)) < 0)
            goto fail;
    if (email) {
        rg_param ep[] = {RG_PTEXT(email)};
        if ((rc = rg_rel_query(r, c, "erasure_outbox", ep, 1, NULL)) < 0 ||
            (rc = rg_rel_query(r, c, "erasure_reset_requests", ep, 1, NULL)) < 0)
            goto fail;
    }
    rg_param sp[] = {RG_PINT(e->in.id), RG_PINT(step), RG_PTEXT(now)};
    if ((step > 0 && (rc = rg_rel_query(r, c, "intent_step", sp, 3, NULL)) < 0) ||
        (rc = rg_rel_commit(r, c)) < 0)
        goto fail;
    if (step > 0) {
        e->in.step = step;
        rg_intent_fault(ERASE_KIND, step);
    }
    for (int i = 0; i < events->nrows; i++)
        rg__event_uncache(app, rg_rows_int(events, i, "id", 0));
    rc = 0;
    goto out;
fail:
    rg_rel_rollback(r, c);
out:
    rg_rows_free(events);
    rg_rel_release(r, c);
    json_decref(user);
    return rc;
}

static int step_relational(rg_app *app, erasure *e)
{
    return relational(app, e, 2);
}

/* Sets the dotted path of doc to value (in place). */
static void set_path(json_t *doc, const char *path, const char *value)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *o = doc;
    char *save = NULL, *seg = strtok_r(buf, ".", &save);
    while (seg && json_is_object(o)) {
        char *next = strtok_r(NULL, ".", &save);
        if (!next) {
            json_object_set_new(o, seg, json_string(value));
            return;
        }
        o = json_object_get(o, seg);
        seg = next;
    }
}

struct reauthor {
    const char *path, *user_id, *tombstone;
};

static int reauthor_doc(json_t *doc, void *p)
{
    struct reauthor *c = p;
    set_path(doc, c->path, c->tombstone);
    /* Names copied next to the id would still say who wrote it. */
    char parent[128];
    snprintf(parent, sizeof parent, "%s", c->path);
    char *dot = strrchr(parent, '.');
    json_t *o = doc;
    if (dot) {
        *dot = '\0';
        o = json_object_get(doc, parent); /* one level, as in sender.userId */
    }
    if (json_is_object(o) && o != doc) {
        json_object_del(o, "name");
        json_object_del(o, "firstName");
        json_object_del(o, "lastName");
        json_object_del(o, "email");
    }
    /* Keys built from the id, such as feedback's "<eventId>:<userId>". */
    const char *key = json_string_value(json_object_get(doc, "key"));
    const char *at = key ? strstr(key, c->user_id) : NULL;
    if (at) {
        rg_buf b = {0};
        rg_buf_printf(&b, "%.*s%s%s", (int)(at - key), key, c->tombstone, at + RG_OID_LEN);
        json_object_set_new(doc, "key", json_string(b.data));
        rg_buf_free(&b);
    }
    return 0;
}

/* Step 3: what the person wrote stays, under the tombstone. */
static int step_content(rg_app *app, erasure *e)
{
    for (int k = 0; k < rg__nauthored; k++) {
        rg_doc_filter f = {.path = rg__authored[k].path, .value = e->user_id};
        struct reauthor ctx = {rg__authored[k].path, e->user_id, e->tombstone};
        for (int round = 0; round < 10000; round++) {
            json_t *arr = NULL;
            int rc =
                rg_docs_find(&app->st.docs, rg__authored[k].coll,
                             &(rg_doc_query){.filters = &f, .nfilters = 1, .limit = 100}, &arr);
            if (rc < 0)
                return rc;
            size_t n = json_array_size(arr), i;
            json_t *x;
            json_array_foreach(arr, i, x)
            {
                rc = rg_doc_update(&app->st.docs, rg__authored[k].coll,
                                   json_string_value(json_object_get(x, "id")), reauthor_doc, &ctx);
                if (rc < 0 && rc != RG_ENOTFOUND) {
                    json_decref(arr);
                    return rc;
                }
                rg_error_clear();
            }
            json_decref(arr);
            if (n == 0)
                break;
        }
    }
    json_t *auth = NULL;
    if (rg_docs_get(&app->st.docs, COLL_AUTH, e->user_id, &auth, NULL) == 0) {
        const char *link = json_string_value(json_object_get(auth, "ssoLink"));
        int rc = link ? rg_docs_remove(&app->st.docs, COLL_SSO_LINKS, link) : 0;
        json_decref(auth);
        if (rc < 0)
            return rc;
    }
    rg_error_clear();
    return 0;
}

/* Step 4: nothing of the person stays findable. */
static int step_search(rg_app *app, erasure *e)
{
    return rg_search_remove(&app->st.search, "user", e->user_id);
}

/* Step 5: the account itself. */
static int step_account(rg_app *app, erasure *e)
{
    rg_doc_filter f = {.path = "userId", .value = e->user_id};
    int rc = rg_docs_remove_where(&app->st.docs, COLL_SESSIONS, &f, 1);
    if (rc >= 0)
        rc = rg_docs_remove(&app->st.docs, COLL_AUTH, e->user_id);
    if (rc >= 0)
        rc = rg_docs_remove(&app->st.docs, COLL_USERS, e->user_id);
    return rc < 0 ? rc : 0;
}

/* Step 6 helpers: the person's id leaves channels' members and messages'
 * readBy. Each callback answers RG_EALREADY when there is nothing to change,
 * so rg_doc_update writes nothing and a rerun is cheap. */
static int drop_member(json_t *doc, void *p)
{
    const char *uid = p;
    json_t *members = json_object_get(doc, "members");
    bool changed = false;
    for (size_t i = json_array_size(members); i-- > 0;) {
        const char *m = json_string_value(json_array_get(members, i));
        if (m && strcmp(m, uid) == 0) {
            json_array_remove(members, i);
            changed = true;
        }
    }
    return changed ? 0 : RG_EALREADY;
}

static int drop_read(json_t *doc, void *p)
{
    const char *uid = p;
    json_t *read_by = json_object_get(doc, "readBy");
    bool changed = false;
    for (size_t i = json_array_size(read_by); i-- > 0;) {
        const char *u = json_string_value(json_object_get(json_array_get(read_by, i), "userId"));
        if (u && strcmp(u, uid) == 0) {
            json_array_remove(read_by, i);
            changed = true;
        }
    }
    return changed ? 0 : RG_EALREADY;
}

static bool has_member(json_t *doc, const char *uid)
{
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(doc, "members"), i, m)
    {
        if (json_is_string(m) && strcmp(json_string_value(m), uid) == 0)
            return true;
    }
    return false;
}

static bool has_reader(json_t *doc, const char *uid)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(doc, "readBy"), i, e)
    {
        const char *u = json_string_value(json_object_get(e, "userId"));
        if (u && strcmp(u, uid) == 0)
            return true;
    }
    return false;
}

static bool names(json_t *doc, const char *path, const erasure *e)
{
    const char *v = json_string_value(json_object_get(doc, path));
    return v && (strcmp(v, e->user_id) == 0 || strcmp(v, e->tombstone) == 0);
}

/* Applies fn to the document id of coll; a document gone or unchanged is
 * not an error. */
static int update_quietly(rg_app *app, const char *coll, const char *id,
                          int (*fn)(json_t *, void *), const char *uid)
{
    int rc = rg_doc_update(&app->st.docs, coll, id, fn, (void *)uid);
    if (rc == RG_ENOTFOUND || rc == RG_EALREADY)
        rc = 0;
    rg_error_clear();
    return rc < 0 ? rc : 0;
}

/* Drops the person's readBy entries from every message of channel. */
static int unread_channel(rg_app *app, const erasure *e, const char *channel)
{
    rg_doc_filter f = {.path = "channelId", .value = channel};
    char after[RG_OID_LEN + 8] = "";
    for (;;) {
        json_t *arr = NULL;
        int rc = rg_docs_find(&app->st.docs, COLL_MESSAGES,
                              &(rg_doc_query){.filters = &f,
                                              .nfilters = 1,
                                              .after_id = after[0] ? after : NULL,
                                              .limit = ERASE_PAGE},
                              &arr);
        if (rc < 0)
            return rc;
        size_t n = json_array_size(arr), i;
        json_t *x;
        json_array_foreach(arr, i, x)
        {
            const char *id = json_string_value(json_object_get(x, "id"));
            snprintf(after, sizeof after, "%s", id ? id : "");
            if (id && has_reader(json_object_get(x, "doc"), e->user_id) &&
                (rc = update_quietly(app, COLL_MESSAGES, id, drop_read, e->user_id)) < 0)
                break;
        }
        json_decref(arr);
        if (rc < 0)
            return rc;
        if (n < ERASE_PAGE)
            return 0;
    }
}

/* Step 6: the person leaves every channel's members and read receipts. */
static int step_channels(rg_app *app, erasure *e)
{
    /* Events they registered for, whatever the status (a cancelled
     * registration may have read messages before): after step 2 their
     * registrations carry the tombstone. */
    rg_param p[] = {RG_PTEXT(e->user_id), RG_PTEXT(e->tombstone)};
    rg_rows *rows;
    int rc = rg_rel_run(app, "erasure_registered_events", p, 2, &rows);
    if (rc < 0)
        return rc;
    json_t *events = json_object();
    for (int i = 0; i < rows->nrows; i++) {
        const char *ev = rg_rows_get(rows, i, "event_id");
        if (ev)
            json_object_set_new(events, ev, json_true());
    }
    rg_rows_free(rows);
    /* Every channel, page by page: drop the person from members, and note
     * the channels whose messages they could read. */
    json_t *read = json_array();
    char after[RG_OID_LEN + 8] = "";
    for (;;) {
        json_t *arr = NULL;
        if ((rc = rg_docs_find(
                 &app->st.docs, COLL_CHANNELS,
                 &(rg_doc_query){.after_id = after[0] ? after : NULL, .limit = ERASE_PAGE}, &arr)) <
            0)
            break;
        size_t n = json_array_size(arr), i;
        json_t *x;
        json_array_foreach(arr, i, x)
        {
            const char *id = json_string_value(json_object_get(x, "id"));
            json_t *doc = json_object_get(x, "doc");
            if (!id)
                continue;
            snprintf(after, sizeof after, "%s", id);
            json_t *ev = json_object_get(doc, "eventId");
            char evs[32] = "";
            if (json_is_integer(ev))
                snprintf(evs, sizeof evs, "%lld", (long long)json_integer_value(ev));
            bool member = has_member(doc, e->user_id);
            if (member || (evs[0] && json_object_get(events, evs)) ||
                names(doc, "organizerId", e) || names(doc, "createdBy", e))
                json_array_append_new(read, json_string(id));
            if (member &&
                (rc = update_quietly(app, COLL_CHANNELS, id, drop_member, e->user_id)) < 0)
                break;
        }
        json_decref(arr);
        if (rc < 0 || n < ERASE_PAGE)
            break;
    }
    size_t i;
    json_t *id;
    json_array_foreach(read, i, id)
    {
        if (rc < 0)
            break;
        rc = unread_channel(app, e, json_string_value(id));
    }
    json_decref(read);
    json_decref(events);
    return rc < 0 ? rc : 0;
}

/* Step 7: caches forget, and the ledger forgets who it was. */
static int step_finish(rg_app *app, erasure *e)
{
    /* A last sweep of the rows and documents that name the person: what a
     * request signed in before step 1 wrote after steps 2 and 3 ran. */
    int rc = relational(app, e, 0);
    if (rc == 0)
        rc = step_content(app, e);
    if (rc < 0)
        return rc;
    char key[64];
    rg__user_uncache(app, e->user_id);
    snprintf(key, sizeof key, "rw:%s", e->user_id);
    rg_cache_del(&app->st.cache, key);
    snprintf(key, sizeof key, "pwr:%s", e->user_id);
    rg_cache_del(&app->st.cache, key);
    rg_error_clear();
    rg_relational *r = &app->st.rel;
    rg_rel_conn *c;
    if ((rc = rg_rel_acquire(r, &c)) < 0)
        return rc;
    char now[RG_TIME_LEN + 1];
    rg_time_format(rg_now(), now);
    rg_param p[] = {RG_PINT(e->id), RG_PINT(ERASE_STEPS), RG_PTEXT(now)};
    if ((rc = rg_rel_begin(r, c, true)) < 0)
        goto out;
    if ((rc = rg_rel_query(r, c, "erasure_finish", p, 3, NULL)) < 0)
        goto fail;
    if (rc == 1 &&
        (rc = rg_audit(app, c, e->tombstone, "user.erase", "user", e->tombstone, NULL)) < 0)
        goto fail;
    rg_param ip[] = {RG_PINT(e->in.id)};
    if ((rc = rg_rel_query(r, c, "intent_close", ip, 1, NULL)) < 0 ||
        (rc = rg_rel_commit(r, c)) < 0)
        goto fail;
    rc = 0;
    goto out;
fail:
    rg_rel_rollback(r, c);
out:
    rg_rel_release(r, c);
    return rc;
}

/* Runs the steps after e->in.step; max_steps > 0 stops after that many.
 * 1 when the erasure is done. */
static int run_erasure(rg_app *app, erasure *e, int max_steps)
{
    static int (*const steps[ERASE_STEPS])(rg_app *, erasure *) = {
        step_sessions, step_relational, step_content, step_search,
        step_account,  step_channels,   step_finish};
    int done = 0;
    for (int s = e->in.step + 1; s <= ERASE_STEPS; s++) {
        if (max_steps > 0 && done == max_steps)
            return 0;
        int rc = steps[s - 1](app, e);
        /* Steps 2 and 7 (the last) record their progress in their own
         * transaction. */
        if (rc == 0 && s != 2 && s != ERASE_STEPS)
            rc = rg_intent_step(app, &e->in, s);
        if (rc < 0) {
            rg_warn("erasure %lld stopped at step %d; it will be finished later", (long long)e->id,
                    s);
            return rc;
        }
        done++;
    }
    rg_info("erasure %lld done", (long long)e->id);
    return 1;
}

int rg_user_erase(rg_app *app, const rg_ctx *ctx)
{
    const rg_principal *who = &ctx->who;
    char now[RG_TIME_LEN + 1];
    rg_time_format(rg_now(), now);
    rg_param p[] = {RG_PTEXT(who->user_id), RG_PTEXT(now)};
    rg_rows *rows;
    int rc = rg_rel_run(app, "erasure_upcoming_events", p, 2, &rows);
    if (rc < 0)
        return rc;
    int64_t upcoming = rg_rows_int(rows, 0, "n", 0);
    rg_rows_free(rows);
    if (upcoming > 0)
        return rg_error_set(RG_ECONFLICT,
                            "you organize %lld upcoming event%s: cancel or complete %s "
                            "before erasing your account",
                            (long long)upcoming, upcoming == 1 ? "" : "s",
                            upcoming == 1 ? "it" : "them");
    erasure e;
    if ((rc = record(app, who->user_id, &e)) < 0)
        return rc;
    rc = run_erasure(app, &e, 0);
    return rc < 0 ? rc : 0;
}

/* Takes in's erasure at most max_steps further (0: to its end); an intent
 * whose erasure is done or gone closes. 1 when done. */
static int drive(rg_app *app, const rg_intent *in, int max_steps)
{
    char *end;
    long long id = strtoll(in->subject, &end, 10);
    erasure e;
    bool found = false;
    int rc =
        *end == '\0' && id > 0 ? erasure_load(app, "erasure_by_id", RG_PINT(id), &e, &found) : 0;
    if (rc < 0)
        return rc;
    if (!found || !e.pending || !rg_oid_valid(e.user_id)) {
        rc = rg_intent_close(app, in);
        return rc < 0 ? rc : 1;
    }
    e.in = *in;
    return run_erasure(app, &e, max_steps);
}

int rg__user_erase_drive(rg_app *app, const rg_intent *in)
{
    int rc = drive(app, in, 0);
    return rc < 0 ? rc : 0;
}

int rg_erasure_resume(rg_app *app, int max_steps)
{
    char cutoff[RG_TIME_LEN + 1];
    rg_time_format(rg_now(), cutoff);
    int64_t after = 0;
    int finished = 0;
    for (;;) {
        rg_param p[] = {RG_PTEXT(ERASE_KIND), RG_PTEXT(cutoff), RG_PINT(after)};
        rg_rows *rows;
        int rc = rg_rel_run(app, "intents_stalled", p, 3, &rows);
        if (rc < 0)
            return rc;
        int n = rows->nrows;
        for (int i = 0; i < n; i++) {
            rg_intent in = {.id = rg_rows_int(rows, i, "id", 0),
                            .step = (int)rg_rows_int(rows, i, "step", 0)};
            snprintf(in.kind, sizeof in.kind, "%s", ERASE_KIND);
            snprintf(in.subject, sizeof in.subject, "%s", rg_rows_get(rows, i, "subject"));
            after = in.id;
            if (drive(app, &in, max_steps) == 1)
                finished++;
            rg_error_clear();
        }
        rg_rows_free(rows);
        if (n < 100)
            return finished;
    }
}
