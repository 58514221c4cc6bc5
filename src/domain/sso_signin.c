/* Church sign-in (POST /v1/auth/sso): an OIDC id token verified by
 * sso_token.c, then the account found by its church account id or made on
 * the first sign-in, and tokens issued like a login. The one mapping from a
 * church account to its user is sso_links/<sha256 of the account id>,
 * taken by insert so that two first sign-ins at once make one account. */
#include "risinggen/domain/auth.h"
#include "domain.h"
#include "intents.h"
#include "event_record.h"
#include "registration_record.h"
#include "risinggen/base/buf.h"
#include "risinggen/base/clock.h"
#include "risinggen/base/error.h"
#include "risinggen/base/id.h"
#include "risinggen/base/log.h"
#include "risinggen/domain/outbox.h"
#include "sessions.h"
#include "sso_token.h"
#include "user_record.h"

#include <ctype.h>
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SSO_LINK_ATTEMPTS 4
/* sso.signin (intents.h), a first sign-in: 0 the intent, 1 the link, 2 the
 * auth document, 3 the user document. */
#define SSO_SIGNIN "sso.signin"

/* The church account id: the "church_account_id" claim when present, else
 * sub; printable ASCII, at most 255 characters. */
static int account_of(json_t *claims, char *out, size_t cap)
{
    json_t *cid = json_object_get(claims, "church_account_id");
    if (json_is_integer(cid))
        snprintf(out, cap, "%lld", (long long)json_integer_value(cid));
    else if (json_is_string(cid))
        snprintf(out, cap, "%s", json_string_value(cid));
    else
        snprintf(out, cap, "%s", json_string_value(json_object_get(claims, "sub")));
    size_t n = strlen(out);
    if (n == 0 || n >= cap - 1)
        return rg_error_set(RG_EUNAUTH, "the id token names no usable church account");
    for (const char *p = out; *p; p++)
        if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
            return rg_error_set(RG_EUNAUTH, "the id token names no usable church account");
    return 0;
}

/* A claim usable as a name part (1..100 characters of text), or NULL. */
static const char *name_claim(json_t *claims, const char *key)
{
    const char *s = json_string_value(json_object_get(claims, key));
    size_t chars;
    if (!s || !v_text_ok(s, false, &chars) || chars == 0 || chars > 100)
        return NULL;
    return s;
}

/* The profile of a new church account, from the token's claims. */
static json_t *sso_user_doc(json_t *claims, const char *account, const char *email)
{
    const char *first = name_claim(claims, "given_name");
    const char *last = name_claim(claims, "family_name");
    char fbuf[128] = "", lbuf[128] = "";
    const char *name = name_claim(claims, "name");
    if ((!first || !last) && name) { /* "Ada King Lovelace": "Ada", "King Lovelace" */
        const char *sp = strchr(name, ' ');
        if (sp && sp != name && sp[1]) {
            snprintf(fbuf, sizeof fbuf, "%.*s", (int)(sp - name), name);
            snprintf(lbuf, sizeof lbuf, "%s", sp + 1);
        } else {
            snprintf(fbuf, sizeof fbuf, "%s", name);
        }
        if (!first && fbuf[0])
            first = fbuf;
        if (!last && lbuf[0])
            last = lbuf;
    }
    char now[RG_TIME_LEN + 1];
    rg_time_format(rg_now(), now);
    json_t *doc = json_pack("{s:i, s:s, s:s, s:s, s:[s], s:s, s:n, s:o}", "schemaVersion", 1,
                            "firstName", first ? first : "Church", "lastName",
                            last ? last : "Member", "churchId", account, "roles", "participant",
                            "created", now, "lastLogin", "preferences", rg__default_preferences());
    if (email)
        json_object_set_new(doc, "email", json_string(email));
    return doc;
}

static int set_login_time(json_t *user, void *p)
{
    (void)p;
    char now[RG_TIME_LEN + 1];
    rg_time_format(rg_now(), now);
    json_object_set_new(user, "lastLogin", json_string(now));
    return 0;
}

/* The auth document of a church account under uid. */
static json_t *sso_auth_doc(const char *uid, const char *account, const char *link_id)
{
    return json_pack("{s:i, s:s, s:s, s:s, s:s, s:{}, s:n, s:n}", "schemaVersion", 1, "userId", uid,
                     "authMethod", "church_sso", "churchAccountId", account, "ssoLink", link_id,
                     "tokens", "passwordResetToken", "passwordResetExpiry");
}

/* A new profile: the email only when the church says it verified it
 * (OpenID Connect's email_verified) and it is a well-formed address; else
 * anyone whose church account claimed an address could take it before its
 * owner signs up. */
static json_t *sso_new_user(json_t *claims, const char *account)
{
    char norm[256] = "";
    v_ctx v = {0};
    const char *email = NULL;
    json_t *verified = json_object_get(claims, "email_verified");
    bool is_verified = json_is_true(verified) || (json_is_string(verified) &&
                                                  strcmp(json_string_value(verified), "true") == 0);
    json_t *em =
        json_pack("{s:O?}", "email", is_verified ? json_object_get(claims, "email") : NULL);
    if (v_email(&v, em, "email", false, &email) && email)
        rg__normalize_email(email, norm, sizeof norm);
    rg_error_clear();
    json_t *user = sso_user_doc(claims, account, norm[0] ? norm : NULL);
    json_decref(em);
    return user;
}

/* The e-mail of the church account belongs to an account that signs in
 * with a password. */
static int sso_email_taken(void)
{
    rg_error_clear();
    rg_error_field("email", "is already registered to an account that signs in with a "
                            "password");
    return rg_error_set(RG_ECONFLICT, "an account with this email already exists; sign in "
                                      "with its password");
}

/* Makes sure the auth and user documents of a church account exist under
 * uid (another request, or an interrupted one, may have made either); in
 * (NULL unless this is a first sign-in) records the steps. */
static int sso_ensure_account(rg_app *app, const char *uid, const char *account,
                              const char *link_id, json_t *claims, rg_intent *in)
{
    json_t *doc = NULL;
    int rc = rg_docs_get(&app->st.docs, COLL_AUTH, uid, &doc, NULL);
    json_decref(doc);
    if (rc == RG_ENOTFOUND) {
        json_t *auth = sso_auth_doc(uid, account, link_id);
        rc = rg_docs_insert(&app->st.docs, COLL_AUTH, uid, auth);
        json_decref(auth);
        if (rc == RG_ECONFLICT) /* made meanwhile */
            rc = 0;
    }
    if (rc == 0 && in)
        rc = rg_intent_step(app, in, 2);
    if (rc < 0)
        return rc;
    rc = rg_docs_get(&app->st.docs, COLL_USERS, uid, &doc, NULL);
    json_decref(doc);
    if (rc != RG_ENOTFOUND)
        return rc;
    json_t *user = sso_new_user(claims, account);
    rc = rg_docs_insert(&app->st.docs, COLL_USERS, uid, user);
    json_decref(user);
    if (rc == 0 && in && rg_intent_step(app, in, 3) < 0)
        rg_error_clear(); /* the account stands; the driver finds it so */
    if (rc == RG_ECONFLICT) {
        rg_error_clear();
        if (rg_docs_get(&app->st.docs, COLL_USERS, uid, &doc, NULL) == 0) { /* made meanwhile */
            json_decref(doc);
            return 0;
        }
        rg_error_clear();
        /* The email belongs to another account: undo, and say so. */
        rg_docs_remove(&app->st.docs, COLL_AUTH, uid);
        rg_docs_remove(&app->st.docs, COLL_SSO_LINKS, link_id);
        return sso_email_taken();
    }
    return rc;
}

/* The id of the account an auth document of the church account names,
 * skipping one being erased (its link is gone and must not come back):
 * 0 with *uid set, RG_ENOTFOUND, or RG_E*. */
static int sso_account_by_auth(rg_app *app, const char *account, char uid[RG_OID_LEN + 1])
{
    rg_doc_filter f = {.path = "churchAccountId", .value = account};
    json_t *arr = NULL;
    int rc = rg_docs_find(&app->st.docs, COLL_AUTH,
                          &(rg_doc_query){.filters = &f, .nfilters = 1, .limit = 10}, &arr);
    if (rc < 0)
        return rc;
    rc = RG_ENOTFOUND;
    size_t i;
    json_t *x;
    json_array_foreach(arr, i, x)
    {
        const char *id = json_string_value(json_object_get(x, "id"));
        if (rc == RG_ENOTFOUND && rg_oid_valid(id) &&
            !json_is_true(json_object_get(json_object_get(x, "doc"), "erasing"))) {
            snprintf(uid, RG_OID_LEN + 1, "%s", id);
            rc = 0;
        }
    }
    json_decref(arr);
    return rc;
}

/* A first sign-in in one transaction of the documents store: the link,
 * auth and user documents under a new uid, all or none. 0, 1 when a
 * concurrent first sign-in linked the account first (its link stands: use
 * it), or RG_E*. */
static int sso_create_atomic(rg_app *app, const char *account, const char *link_id, json_t *claims,
                             const char *uid)
{
    json_t *link = json_pack("{s:i, s:s}", "schemaVersion", 1, "userId", uid);
    json_t *auth = sso_auth_doc(uid, account, link_id);
    json_t *user = sso_new_user(claims, account);
    rg_doc_write w[] = {{RG_DOC_W_INSERT, COLL_SSO_LINKS, link_id, link, 0},
                        {RG_DOC_W_INSERT, COLL_AUTH, uid, auth, 0},
                        {RG_DOC_W_INSERT, COLL_USERS, uid, user, 0}};
    int rc = rg_docs_write_all(&app->st.docs, w, 3);
    json_decref(link);
    json_decref(auth);
    json_decref(user);
    if (rc != RG_ECONFLICT)
        return rc;
    /* Taken: the link by a concurrent first sign-in, or the e-mail. */
    rg_error_clear();
    json_t *theirs = NULL;
    rc = rg_docs_get(&app->st.docs, COLL_SSO_LINKS, link_id, &theirs, NULL);
    json_decref(theirs);
    if (rc == 0)
        return 1;
    if (rc != RG_ENOTFOUND)
        return rc;
    return sso_email_taken();
}

/* The user id of a church account: its link, else an auth document that
 * names it, else a new id; the link is taken by insert so that concurrent
 * first sign-ins agree on one id. A new id makes the whole account in one
 * transaction when the documents store runs them (*whole), else opens the
 * intent of a first sign-in (*in, id 0 otherwise) before its link is
 * written. */
static int sso_user_id(rg_app *app, const char *account, const char *link_id, json_t *claims,
                       char uid[RG_OID_LEN + 1], bool *created, bool *whole, rg_intent *in)
{
    *created = false;
    *whole = false;
    memset(in, 0, sizeof *in);
    bool atomic = rg__docs_atomic(app);
    for (int attempt = 0; attempt < SSO_LINK_ATTEMPTS; attempt++) {
        json_t *link = NULL;
        int rc = rg_docs_get(&app->st.docs, COLL_SSO_LINKS, link_id, &link, NULL);
        if (rc == 0) {
            const char *u = json_string_value(json_object_get(link, "userId"));
            bool ok = u && rg_oid_valid(u);
            if (ok)
                snprintf(uid, RG_OID_LEN + 1, "%s", u);
            json_decref(link);
            if (ok)
                return 0;
            rg_docs_remove(&app->st.docs, COLL_SSO_LINKS, link_id);
            continue;
        }
        if (rc != RG_ENOTFOUND)
            return rc;
        rg_error_clear();
        /* An account made before links existed, or by other tools. */
        rc = sso_account_by_auth(app, account, uid);
        if (rc == RG_ENOTFOUND && atomic) {
            rg_error_clear();
            rg_oid_new(uid);
            rc = sso_create_atomic(app, account, link_id, claims, uid);
            if (rc == 0) {
                *created = *whole = true;
                rg_intent_fault(SSO_SIGNIN, 3); /* all three written */
                return 0;
            }
            if (rc < 0)
                return rc;
            continue; /* linked meanwhile: the next attempt reads the link */
        }
        if (rc == RG_ENOTFOUND) {
            rg_error_clear();
            rg_oid_new(uid);
            *created = true;
            if ((rc = rg_intent_open(app, NULL, SSO_SIGNIN, uid, 0, in)) < 0)
                return rc;
            rg_intent_fault(SSO_SIGNIN, 0);
        } else if (rc < 0) {
            return rc;
        }
        json_t *doc = json_pack("{s:i, s:s}", "schemaVersion", 1, "userId", uid);
        rc = rg_docs_insert(&app->st.docs, COLL_SSO_LINKS, link_id, doc);
        json_decref(doc);
        if (rc == 0)
            return *created ? rg_intent_step(app, in, 1) : 0;
        if (*created) { /* nothing written under this id */
            int saved = rc;
            if (rg_intent_close(app, in) < 0)
                rg_error_clear();
            memset(in, 0, sizeof *in);
            rc = saved;
        }
        if (rc != RG_ECONFLICT)
            return rc;
        rg_error_clear(); /* someone else linked it first: use theirs */
        *created = false;
    }
    return rg_error_set(RG_EUNAVAIL, "too many concurrent sign-ins; try again");
}

/* The driver of sso.signin: a first sign-in whose user document exists
 * stands (its owner signs in again); one without it is undone, its auth
 * document and link removed, so that the next sign-in starts afresh. */
int rg__sso_signin_drive(rg_app *app, const rg_intent *in)
{
    json_t *doc = NULL;
    int rc = rg_oid_valid(in->subject)
                 ? rg_docs_get(&app->st.docs, COLL_USERS, in->subject, &doc, NULL)
                 : RG_ENOTFOUND;
    json_decref(doc);
    if (rc == RG_ENOTFOUND) {
        rg_error_clear();
        rc = rg_oid_valid(in->subject) ? rg_docs_remove(&app->st.docs, COLL_AUTH, in->subject) : 0;
        rg_doc_filter f = {.path = "userId", .value = in->subject};
        if (rc == 0)
            rc = rg_docs_remove_where(&app->st.docs, COLL_SSO_LINKS, &f, 1);
    }
    return rc < 0 ? rc : rg_intent_close(app, in);
}

int rg_auth_sso(rg_app *app, json_t *body, json_t **out)
{
    if (!json_is_object(body))
        return v_not_object(body);
    static const char *const only[] = {"idToken", NULL};
    v_ctx v = {0};
    const char *token = NULL;
    v_only(&v, body, only);
    v_string(&v, body, "idToken", true, 1, 16384, &token);
    int rc = v_finish(&v);
    if (rc < 0)
        return rc;
    json_t *claims = NULL;
    if ((rc = rg__sso_verify(app, token, &claims)) < 0)
        return rc;
    char account[256], link_id[RG_SHA256_HEX + 1], uid[RG_OID_LEN + 1];
    json_t *user = NULL;
    bool created, whole;
    rg_intent in = {0};
    if ((rc = account_of(claims, account, sizeof account)) < 0)
        goto done;
    rg_sha256_hex(account, strlen(account), link_id);
    if ((rc = sso_user_id(app, account, link_id, claims, uid, &created, &whole, &in)) < 0)
        goto done;
    if (!whole)
        rc = sso_ensure_account(app, uid, account, link_id, claims, in.id ? &in : NULL);
    /* Done, or undone by sso_ensure_account (an e-mail taken): the intent
     * goes; any other failure leaves it to the driver, which undoes. */
    if (in.id && (rc == 0 || rc == RG_ECONFLICT) && rg_intent_close(app, &in) < 0)
        rg_error_clear();
    if (rc < 0)
        goto done;
    rg_doc_update(&app->st.docs, COLL_USERS, uid, set_login_time, NULL);
    rg__user_uncache(app, uid);
    rg_error_clear();
    if ((rc = rg__user_load(app, uid, &user)) < 0)
        goto done;
    json_t *tokens;
    if ((rc = rg__auth_issue_tokens(app, uid, &tokens)) < 0)
        goto done;
    json_object_set_new(tokens, "user", rg__user_view(uid, user));
    if (created)
        rg_info("church sign-in made account %s", uid);
    *out = tokens;
done:
    json_decref(user);
    json_decref(claims);
    return rc;
}
