/* Church sign-in (POST /v1/auth/sso): an OIDC id token verified by
 * sso_token.c, then the account found by its church account id or made on
 * the first sign-in, and tokens issued like a login. The one mapping from a
 * church account to its user is sso_links/<sha256 of the account id>,
 * taken by insert so that two first sign-ins at once make one account. */
#include "risinggen/domain/auth.h"
#include "domain.h"
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

/* Makes sure the auth and user documents of a church account exist under
 * uid (another request, or an interrupted one, may have made either). */
static int sso_ensure_account(rg_app *app, const char *uid, const char *account,
                              const char *link_id, json_t *claims)
{
    json_t *doc = NULL;
    int rc = rg_docs_get(&app->st.docs, COLL_AUTH, uid, &doc, NULL);
    json_decref(doc);
    if (rc == RG_ENOTFOUND) {
        json_t *auth =
            json_pack("{s:i, s:s, s:s, s:s, s:s, s:{}, s:n, s:n}", "schemaVersion", 1, "userId",
                      uid, "authMethod", "church_sso", "churchAccountId", account, "ssoLink",
                      link_id, "tokens", "passwordResetToken", "passwordResetExpiry");
        rc = rg_docs_insert(&app->st.docs, COLL_AUTH, uid, auth);
        json_decref(auth);
        if (rc == RG_ECONFLICT) /* made meanwhile */
            rc = 0;
    }
    if (rc < 0)
        return rc;
    rc = rg_docs_get(&app->st.docs, COLL_USERS, uid, &doc, NULL);
    json_decref(doc);
    if (rc != RG_ENOTFOUND)
        return rc;
    /* A new profile: the email only when the church says it verified it
     * (OpenID Connect's email_verified) and it is a well-formed address;
     * else anyone whose church account claimed an address could take it
     * before its owner signs up. */
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
    rc = rg_docs_insert(&app->st.docs, COLL_USERS, uid, user);
    json_decref(user);
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
        rg_error_field("email", "is already registered to an account that signs in with a "
                                "password");
        return rg_error_set(RG_ECONFLICT, "an account with this email already exists; sign in "
                                          "with its password");
    }
    return rc;
}

/* The user id of a church account: its link, else an auth document that
 * names it, else a new id; the link is taken by insert so that concurrent
 * first sign-ins agree on one id. */
static int sso_user_id(rg_app *app, const char *account, const char *link_id,
                       char uid[RG_OID_LEN + 1], bool *created)
{
    *created = false;
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
        json_t *auth = NULL;
        char *found = NULL;
        rc = rg_docs_find_one(&app->st.docs, COLL_AUTH, "churchAccountId", account, &auth, &found);
        json_decref(auth);
        if (rc == 0 && rg_oid_valid(found)) {
            snprintf(uid, RG_OID_LEN + 1, "%s", found);
        } else {
            if (rc < 0 && rc != RG_ENOTFOUND) {
                free(found);
                return rc;
            }
            rg_error_clear();
            rg_oid_new(uid);
            *created = true;
        }
        free(found);
        json_t *doc = json_pack("{s:i, s:s}", "schemaVersion", 1, "userId", uid);
        rc = rg_docs_insert(&app->st.docs, COLL_SSO_LINKS, link_id, doc);
        json_decref(doc);
        if (rc == 0)
            return 0;
        if (rc != RG_ECONFLICT)
            return rc;
        rg_error_clear(); /* someone else linked it first: use theirs */
        *created = false;
    }
    return rg_error_set(RG_EUNAVAIL, "too many concurrent sign-ins; try again");
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
    bool created;
    if ((rc = account_of(claims, account, sizeof account)) < 0)
        goto done;
    rg_sha256_hex(account, strlen(account), link_id);
    if ((rc = sso_user_id(app, account, link_id, uid, &created)) < 0 ||
        (rc = sso_ensure_account(app, uid, account, link_id, claims)) < 0)
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
