/* Accounts and privacy: password reset, church sign-in (find or create),
 * the export of a person's data and their erasure from every store.
 *
 * Password reset. A request makes a token of 256 random bits whatever the
 * email, so that both answers do the same work and say the same thing, and
 * every answer takes at least 50 ms, so that the writes an account needs do
 * not show in the timing; for
 * an account, its SHA-256 goes into the auth document (passwordResetToken,
 * passwordResetExpiry, 30 minutes) and the token itself only into the email,
 * written to the outbox. At most 3 emails per account per 15 minutes. The
 * confirm step finds the account by the token's hash (an index on
 * auth.passwordResetToken), checks and clears the token in one
 * revision-checked write together with the new argon2id hash, the lockout
 * counters and every refresh-token family, then ends the families' sessions.
 *
 * Erasure. DELETE /v1/users/me first records the intent (a row of the
 * relational table `erasures` with a new tombstone id), then runs the steps
 * below; each is idempotent and the row's `step` says how far it got, so a
 * run that died midway is finished by the next start (rg_app_open) or by the
 * sweep. When done, the row forgets the person's id.
 *   1 sessions: every refresh-token family and access token ends.
 *   2 relational, one transaction: the person's id becomes the tombstone in
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
 *   7 cache, then the row is marked done with an audit entry (user.erase). */
#include "domain.h"
#include "registrations.h"
#include "risinggen/domain/outbox.h"
#include "risinggen/base/buf.h"
#include "risinggen/base/log.h"
#include "risinggen/base/clock.h"
#include "risinggen/base/id.h"
#include "risinggen/base/error.h"

#include <ctype.h>
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RESET_TTL_S       1800
#define RESET_MAX_EMAILS  3
#define RESET_WINDOW_MS   (15 * 60 * 1000)
#define RESET_FLOOR_MS    50 /* every reset request takes at least this long */
#define EXPORT_MAX_ITEMS  10000
#define ERASE_STEPS       7
#define ERASE_PAGE        100
#define SSO_LINK_ATTEMPTS 4

/* Documents of the content features that name a person as their author or
 * owner: where the id is, and the key of the export list (NULL: not
 * exported under this path). */
static const struct authored {
    const char *coll, *path, *export_key;
} authored[] = {
    {COLL_MESSAGES, "sender.userId", "messages"}, {COLL_FEEDBACK, "userId", "feedback"},
    {COLL_RESOURCES, "createdBy", "resources"},   {COLL_CHANNELS, "organizerId", "channels"},
    {COLL_CHANNELS, "createdBy", NULL},
};

/* ---- password reset ---- */

struct reset_ctx {
    const char *hash;     /* the token's SHA-256 */
    const char *new_hash; /* argon2id of the new password (confirm) */
    int64_t now;
    json_t *families; /* ids of the families ended (confirm) */
    bool sso_only;    /* the account has no password here */
};

static int set_reset_token(json_t *auth, void *p)
{
    struct reset_ctx *c = p;
    if (!json_string_value(json_object_get(auth, "passwordHash"))) {
        c->sso_only = true;
        return RG_EFORBIDDEN; /* nothing to reset: not written */
    }
    char exp[RG_TIME_LEN + 1];
    rg_time_format(c->now + RESET_TTL_S, exp);
    json_object_set_new(auth, "passwordResetToken", json_string(c->hash));
    json_object_set_new(auth, "passwordResetExpiry", json_string(exp));
    return 0;
}

static int send_reset_email(rg_app *app, const char *to, const char *token, const char *hash)
{
    const char *link = getenv("RG_PASSWORD_RESET_URL");
    rg_buf body = {0};
    rg_buf_puts(&body, "Someone asked to reset the password of your RisingGen account.\n\n");
    rg_buf_printf(&body, "Your reset code: %s\n\n", token);
    if (link && *link && !strpbrk(link, "\r\n"))
        rg_buf_printf(&body, "Or open this link: %s%stoken=%s\n\n", link,
                      strchr(link, '?') ? "&" : "?", token);
    rg_buf_puts(&body, "The code works once, within 30 minutes. If you did not ask for it, "
                       "ignore this email: your password stays as it is.\n");
    char key[96];
    snprintf(key, sizeof key, "password-reset:%s", hash);
    rg_notification n = {.channel = "email",
                         .to = to,
                         .subject = "Reset your RisingGen password",
                         .body = body.data,
                         .dedupe_key = key};
    int rc = rg_outbox_enqueue(app, NULL, &n);
    sodium_memzero(body.data, body.len);
    rg_buf_free(&body);
    return rc;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until floor_ms after t0, so that the answer's timing does not tell
 * whether there was an account to write to. */
static void wait_until(int64_t t0, int floor_ms)
{
    int64_t left = t0 + floor_ms - mono_ms();
    if (left > 0 && left <= floor_ms) {
        struct timespec ts = {.tv_sec = left / 1000, .tv_nsec = (left % 1000) * 1000000};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
    }
}

static int password_reset(rg_app *app, json_t *body);

int rg_auth_password_reset(rg_app *app, json_t *body)
{
    int64_t t0 = mono_ms();
    int rc = password_reset(app, body);
    if (rc != RG_EVALIDATION)
        wait_until(t0, RESET_FLOOR_MS);
    return rc;
}

static int password_reset(rg_app *app, json_t *body)
{
    if (!json_is_object(body))
        return rg_error_set(RG_EVALIDATION, "the body must be a JSON object");
    static const char *const only[] = {"email", NULL};
    v_ctx v = {0};
    const char *email = NULL;
    v_only(&v, body, only);
    v_string(&v, body, "email", true, 1, 254, &email);
    int rc = v_finish(&v);
    if (rc < 0)
        return rc;
    char norm[256], token[64], hash[RG_SHA256_HEX + 1];
    rg__normalize_email(email, norm, sizeof norm);
    /* The same work whatever the email: a token and its hash, and a read of
     * an auth document. */
    rg_random_token(token, 32);
    rg_sha256_hex(token, strlen(token), hash);
    json_t *user = NULL;
    char *id = NULL;
    rc = rg_docs_find_one(&app->st.docs, COLL_USERS, "email", norm, &user, &id);
    if (rc == RG_ENOTFOUND) {
        json_t *none = NULL;
        char fake[RG_OID_LEN + 1];
        memcpy(fake, hash, RG_OID_LEN);
        fake[RG_OID_LEN] = '\0';
        rg_docs_get(&app->st.docs, COLL_AUTH, fake, &none, NULL);
        json_decref(none);
        sodium_memzero(token, sizeof token);
        rg_error_clear();
        return 0;
    }
    if (rc < 0)
        return rc;
    const char *to = json_string_value(json_object_get(user, "email"));
    char key[64];
    snprintf(key, sizeof key, "pwr:%s", id);
    int64_t count = 0;
    if (rg_cache_incr(&app->st.cache, key, 1, RESET_WINDOW_MS, &count) == 0 &&
        count > RESET_MAX_EMAILS) {
        rg_info("password reset for user %s not sent: %d already sent in 15 minutes", id,
                RESET_MAX_EMAILS);
        rc = 0;
        goto done;
    }
    rg_error_clear();
    struct reset_ctx c = {.hash = hash, .now = rg_now()};
    rc = rg_doc_update(&app->st.docs, COLL_AUTH, id, set_reset_token, &c);
    if (rc < 0 && c.sso_only) {
        rg_info("password reset for user %s not sent: the account signs in with the church", id);
        rc = 0;
        goto done;
    }
    if (rc == RG_ENOTFOUND) { /* a profile without credentials (interrupted signup) */
        rc = 0;
        goto done;
    }
    if (rc < 0)
        goto done;
    if (!to || (rc = send_reset_email(app, to, token, hash)) < 0)
        goto done;
    rg_info("password reset requested for user %s", id);
    rc = 0;
done:
    sodium_memzero(token, sizeof token);
    if (rc == 0)
        rg_error_clear();
    json_decref(user);
    free(id);
    return rc;
}

static int bad_token(void)
{
    rg_error_field("token", "is not valid, was used already or has expired");
    return rg_error_set(RG_EINVAL, "the reset token is not valid or has expired; ask for a new "
                                   "one");
}

static int apply_reset(json_t *auth, void *p)
{
    struct reset_ctx *c = p;
    json_decref(c->families); /* from an attempt that lost a race */
    c->families = NULL;
    const char *cur = json_string_value(json_object_get(auth, "passwordResetToken"));
    const char *exp = json_string_value(json_object_get(auth, "passwordResetExpiry"));
    int64_t until = 0;
    if (!cur || strlen(cur) != RG_SHA256_HEX || sodium_memcmp(cur, c->hash, RG_SHA256_HEX) != 0)
        return bad_token(); /* used (or replaced) meanwhile */
    if (!exp || rg_time_parse(exp, &until) < 0 || until <= c->now) {
        /* Expired: forget it, so it cannot be tried again. */
        json_object_set_new(auth, "passwordResetToken", json_null());
        json_object_set_new(auth, "passwordResetExpiry", json_null());
        return 0;
    }
    c->families = json_array();
    const char *fam;
    json_t *v;
    json_object_foreach(json_object_get(auth, "tokens"), fam, v)
    {
        json_array_append_new(c->families, json_string(fam));
    }
    json_object_set_new(auth, "passwordHash", json_string(c->new_hash));
    json_object_set_new(auth, "passwordResetToken", json_null());
    json_object_set_new(auth, "passwordResetExpiry", json_null());
    json_object_set_new(auth, "failedAttempts", json_integer(0));
    json_object_set_new(auth, "lastFailedAttempt", json_null());
    json_object_del(auth, "failedWindowStart");
    json_object_set_new(auth, "tokens", json_object());
    return 0;
}

/* Ends every session of user_id: the families named (those the auth
 * document listed) and any other family a session still belongs to. */
static void end_all_sessions(rg_app *app, const char *user_id, json_t *families)
{
    size_t i;
    json_t *f;
    json_array_foreach(families, i, f) rg__sessions_revoke_family(app, json_string_value(f));
    rg_doc_filter flt = {.path = "userId", .value = user_id};
    for (int round = 0; round < 100; round++) {
        json_t *arr = NULL;
        if (rg_docs_find(&app->st.docs, COLL_SESSIONS,
                         &(rg_doc_query){.filters = &flt, .nfilters = 1, .limit = 200}, &arr) < 0 ||
            json_array_size(arr) == 0) {
            json_decref(arr);
            break;
        }
        json_t *s;
        json_array_foreach(arr, i, s)
        {
            const char *fam =
                json_string_value(json_object_get(json_object_get(s, "doc"), "familyId"));
            if (fam)
                rg__sessions_revoke_family(app, fam); /* removes the family's sessions */
            else
                rg_docs_remove(&app->st.docs, COLL_SESSIONS,
                               json_string_value(json_object_get(s, "id")));
        }
        json_decref(arr);
    }
    rg_error_clear();
}

int rg_auth_password_reset_confirm(rg_app *app, json_t *body)
{
    if (!json_is_object(body))
        return rg_error_set(RG_EVALIDATION, "the body must be a JSON object");
    static const char *const only[] = {"token", "newPassword", NULL};
    v_ctx v = {0};
    const char *token = NULL, *pw = NULL;
    v_only(&v, body, only);
    v_string(&v, body, "token", true, 1, 200, &token);
    v_string(&v, body, "newPassword", true, 8, 128, &pw);
    int rc = v_finish(&v);
    if (rc < 0)
        return rc;
    char hash[RG_SHA256_HEX + 1];
    rg_sha256_hex(token, strlen(token), hash);
    json_t *auth = NULL;
    char *id = NULL;
    rc = rg_docs_find_one(&app->st.docs, COLL_AUTH, "passwordResetToken", hash, &auth, &id);
    json_decref(auth);
    if (rc == RG_ENOTFOUND)
        return bad_token();
    if (rc < 0)
        return rc;
    char *pw_hash = NULL;
    if ((rc = rg_auth_hash_password(pw, &pw_hash)) < 0) {
        free(id);
        return rc;
    }
    struct reset_ctx c = {.hash = hash, .new_hash = pw_hash, .now = rg_now()};
    rc = rg_doc_update(&app->st.docs, COLL_AUTH, id, apply_reset, &c);
    sodium_memzero(pw_hash, strlen(pw_hash));
    free(pw_hash);
    if (rc == RG_ENOTFOUND)
        rc = bad_token();
    if (rc == 0 && !c.families) /* it had expired: cleared, and refused */
        rc = bad_token();
    if (rc < 0)
        goto done;
    end_all_sessions(app, id, c.families);
    rg_info("password of user %s reset: every session ended", id);
    /* Tell the person, without any secret. */
    json_t *user = NULL;
    if (rg_docs_get(&app->st.docs, COLL_USERS, id, &user, NULL) == 0) {
        const char *to = json_string_value(json_object_get(user, "email"));
        rg_notification n = {.channel = "email",
                             .to = to,
                             .subject = "Your RisingGen password was changed",
                             .body = "The password of your RisingGen account was just changed "
                                     "with a reset code, and every device was signed out.\n\n"
                                     "If this was not you, ask for a new reset code at once.\n"};
        if (to && rg_outbox_enqueue(app, NULL, &n) < 0)
            rg_warn("password change notice for user %s not queued", id);
    }
    json_decref(user);
    rg_error_clear();
    rc = 0;
done:
    json_decref(c.families);
    free(id);
    return rc;
}

/* ---- church sign-in ---- */

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
            json_pack("{s:i, s:s, s:s, s:s, s:s, s:{}, s:i, s:n, s:n, s:n}", "schemaVersion", 1,
                      "userId", uid, "authMethod", "church_sso", "churchAccountId", account,
                      "ssoLink", link_id, "tokens", "failedAttempts", 0, "lastFailedAttempt",
                      "passwordResetToken", "passwordResetExpiry");
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
    /* A new profile: the email only when it is a well-formed address. */
    char norm[256] = "";
    v_ctx v = {0};
    const char *email = NULL;
    json_t *em = json_pack("{s:O?}", "email", json_object_get(claims, "email"));
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
        return rg_error_set(RG_EVALIDATION, "the body must be a JSON object");
    static const char *const only[] = {"idToken", NULL};
    v_ctx v = {0};
    const char *token = NULL;
    v_only(&v, body, only);
    v_string(&v, body, "idToken", true, 1, 16384, &token);
    int rc = v_finish(&v);
    if (rc < 0)
        return rc;
    json_t *claims = NULL;
    if ((rc = rg__sso_verify(token, &claims)) < 0)
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
    if ((rc = rg_user_load(app, uid, &user)) < 0)
        goto done;
    json_t *tokens;
    if ((rc = rg__auth_issue_tokens(app, uid, &tokens)) < 0)
        goto done;
    json_object_set_new(tokens, "user", rg_user_view(uid, user));
    if (created)
        rg_info("church sign-in made account %s", uid);
    *out = tokens;
done:
    json_decref(user);
    json_decref(claims);
    return rc;
}

/* ---- export ---- */

static json_t *auth_view(json_t *auth)
{
    json_t *fams = json_array();
    const char *k;
    json_t *f;
    json_object_foreach(json_object_get(auth, "tokens"), k, f)
    {
        json_t *e = json_object_get(f, "refreshTokenExpiry");
        json_array_append_new(fams, json_pack("{s:O?}", "refreshTokenExpiry", e));
    }
    json_t *m = json_object_get(auth, "authMethod"), *a = json_object_get(auth, "churchAccountId");
    json_t *v = json_pack("{s:O?, s:I, s:O?, s:o}", "authMethod", m, "failedAttempts",
                          (json_int_t)json_integer_value(json_object_get(auth, "failedAttempts")),
                          "lastFailedAttempt", json_object_get(auth, "lastFailedAttempt"),
                          "refreshTokenFamilies", fams);
    if (json_is_string(a))
        json_object_set(v, "churchAccountId", a);
    return v;
}

/* Every document of coll whose path is user_id, by id: {id, …doc}. */
static int docs_of(rg_app *app, const char *coll, const char *path, const char *user_id,
                   json_t **out)
{
    json_t *items = json_array();
    rg_doc_filter f = {.path = path, .value = user_id};
    char after[512] = "";
    while (json_array_size(items) < EXPORT_MAX_ITEMS) {
        json_t *arr = NULL;
        int rc = rg_docs_find(
            &app->st.docs, coll,
            &(rg_doc_query){
                .filters = &f, .nfilters = 1, .after_id = after[0] ? after : NULL, .limit = 100},
            &arr);
        if (rc < 0) {
            json_decref(items);
            return rc;
        }
        size_t i;
        json_t *x;
        json_array_foreach(arr, i, x)
        {
            const char *id = json_string_value(json_object_get(x, "id"));
            json_t *item = json_pack("{s:s}", "id", id);
            json_object_update(item, json_object_get(x, "doc"));
            json_object_del(item, "schemaVersion");
            json_array_append_new(items, item);
            snprintf(after, sizeof after, "%s", id);
        }
        size_t n = json_array_size(arr);
        json_decref(arr);
        if (n < 100)
            break;
    }
    *out = items;
    return 0;
}

static int export_registrations(rg_app *app, const char *uid, json_t **out)
{
    json_t *items = json_array();
    int64_t before = INT32_MAX;
    while (json_array_size(items) < EXPORT_MAX_ITEMS) {
        rg_param p[] = {RG_PTEXT(uid), RG_PINT(before), RG_PINT(100)};
        rg_rows *rows;
        int rc = rg_rel_run(app, "registrations_by_user", p, 3, &rows);
        if (rc < 0) {
            json_decref(items);
            return rc;
        }
        for (int i = 0; i < rows->nrows; i++) {
            json_t *r = rg__registration_view(rows, i);
            json_object_set_new(r, "event", rg__event_summary(rows, i));
            json_array_append_new(items, r);
            before = rg_rows_int(rows, i, "id", before);
        }
        int n = rows->nrows;
        rg_rows_free(rows);
        if (n < 100)
            break;
    }
    *out = items;
    return 0;
}

static json_t *money(const rg_rows *r, int i, const char *col)
{
    const char *minor = rg_rows_get(r, i, col), *cur = rg_rows_get(r, i, "currency");
    if (!minor)
        return json_null();
    char amount[24];
    rg_money_format(strtoll(minor, NULL, 10), amount);
    return json_pack("{s:s, s:s?}", "amount", amount, "currency", cur);
}

static json_t *text_or_null(const rg_rows *r, int i, const char *col)
{
    const char *s = rg_rows_get(r, i, col);
    return s ? json_string(s) : json_null();
}

static int export_payments(rg_app *app, const char *uid, json_t **out)
{
    json_t *items = json_array();
    int64_t after = 0;
    while (json_array_size(items) < EXPORT_MAX_ITEMS) {
        rg_param p[] = {RG_PTEXT(uid), RG_PINT(after), RG_PINT(100)};
        rg_rows *rows;
        int rc = rg_rel_run(app, "export_payments", p, 3, &rows);
        if (rc < 0) {
            json_decref(items);
            return rc;
        }
        for (int i = 0; i < rows->nrows; i++) {
            const char *ev = rg_rows_get(rows, i, "event_id");
            json_array_append_new(
                items, json_pack("{s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "id",
                                 (json_int_t)rg_rows_int(rows, i, "id", 0), "eventId",
                                 ev ? json_integer(strtoll(ev, NULL, 10)) : json_null(), "amount",
                                 money(rows, i, "amount_minor"), "paymentMethod",
                                 text_or_null(rows, i, "payment_method"), "status",
                                 text_or_null(rows, i, "status"), "provider",
                                 text_or_null(rows, i, "provider"), "paymentDate",
                                 text_or_null(rows, i, "payment_date"), "refundStatus",
                                 text_or_null(rows, i, "refund_status"), "refundAmount",
                                 money(rows, i, "refund_amount_minor"), "refundDate",
                                 text_or_null(rows, i, "refund_date"), "createdAt",
                                 text_or_null(rows, i, "created_at")));
            after = rg_rows_int(rows, i, "id", after);
        }
        int n = rows->nrows;
        rg_rows_free(rows);
        if (n < 100)
            break;
    }
    *out = items;
    return 0;
}

static int count_sessions(rg_app *app, const char *uid, json_int_t *out)
{
    rg_doc_filter f = {.path = "userId", .value = uid};
    char after[128] = "";
    *out = 0;
    for (int page = 0; page < 100; page++) {
        json_t *arr = NULL;
        int rc = rg_docs_find(
            &app->st.docs, COLL_SESSIONS,
            &(rg_doc_query){
                .filters = &f, .nfilters = 1, .after_id = after[0] ? after : NULL, .limit = 500},
            &arr);
        if (rc < 0)
            return rc;
        size_t n = json_array_size(arr);
        int64_t now = rg_now();
        size_t i;
        json_t *s;
        json_array_foreach(arr, i, s)
        {
            if (json_integer_value(json_object_get(json_object_get(s, "doc"), "expiresAt")) > now)
                (*out)++;
            snprintf(after, sizeof after, "%s", json_string_value(json_object_get(s, "id")));
        }
        json_decref(arr);
        if (n < 500)
            break;
    }
    return 0;
}

int rg_user_export(rg_app *app, const rg_principal *who, json_t **out)
{
    const char *uid = who->user_id;
    json_t *user = NULL, *auth = NULL, *part = NULL;
    int rc = rg_docs_get(&app->st.docs, COLL_USERS, uid, &user, NULL);
    if (rc < 0)
        return rc;
    char now[RG_TIME_LEN + 1];
    rg_time_format(rg_now(), now);
    json_t *ex = json_pack("{s:i, s:s, s:o}", "exportVersion", 1, "exportedAt", now, "user",
                           rg_user_view(uid, user));
    json_decref(user);
    rc = rg_docs_get(&app->st.docs, COLL_AUTH, uid, &auth, NULL);
    if (rc < 0 && rc != RG_ENOTFOUND)
        goto fail;
    json_object_set_new(ex, "auth", auth ? auth_view(auth) : json_null());
    json_decref(auth);
    rg_error_clear();
    json_int_t sessions;
    if ((rc = count_sessions(app, uid, &sessions)) < 0)
        goto fail;
    json_object_set_new(ex, "sessions", json_pack("{s:I}", "active", sessions));
    if ((rc = export_registrations(app, uid, &part)) < 0)
        goto fail;
    json_object_set_new(ex, "registrations", part);
    if ((rc = export_payments(app, uid, &part)) < 0)
        goto fail;
    json_object_set_new(ex, "payments", part);
    for (size_t i = 0; i < sizeof authored / sizeof authored[0]; i++) {
        if (!authored[i].export_key)
            continue;
        if ((rc = docs_of(app, authored[i].coll, authored[i].path, uid, &part)) < 0)
            goto fail;
        json_object_set_new(ex, authored[i].export_key, part);
    }
    if ((rc = rg__audit_by_actor(app, uid, &part)) < 0)
        goto fail;
    json_object_set_new(ex, "auditLog", part);
    *out = ex;
    return 0;
fail:
    json_decref(ex);
    return rc;
}

/* ---- erasure ---- */

typedef struct erasure {
    int64_t id;
    char user_id[RG_OID_LEN + 1];
    char tombstone[RG_OID_LEN + 1];
    int step;
} erasure;

static void erasure_from(const rg_rows *r, int i, erasure *e)
{
    e->id = rg_rows_int(r, i, "id", 0);
    snprintf(e->user_id, sizeof e->user_id, "%s",
             rg_rows_get(r, i, "user_id") ? rg_rows_get(r, i, "user_id") : "");
    snprintf(e->tombstone, sizeof e->tombstone, "%s", rg_rows_get(r, i, "tombstone_id"));
    e->step = (int)rg_rows_int(r, i, "step", 0);
}

static int erasure_load(rg_app *app, const char *user_id, erasure *e, bool *found)
{
    rg_param p[] = {RG_PTEXT(user_id)};
    rg_rows *rows;
    int rc = rg_rel_run(app, "erasure_by_user", p, 1, &rows);
    if (rc < 0)
        return rc;
    *found = rows->nrows > 0;
    if (*found)
        erasure_from(rows, 0, e);
    rg_rows_free(rows);
    return 0;
}

static int record(rg_app *app, const char *user_id, erasure *e)
{
    bool found;
    int rc = erasure_load(app, user_id, e, &found);
    if (rc < 0 || found)
        return rc;
    char tomb[RG_OID_LEN + 1], now[RG_TIME_LEN + 1];
    rg_oid_new(tomb);
    rg_time_format(rg_now(), now);
    rg_param p[] = {RG_PTEXT(user_id), RG_PTEXT(tomb), RG_PTEXT(now)};
    rc = rg_rel_run(app, "erasure_insert", p, 3, NULL);
    if (rc < 0 && rc != RG_ECONFLICT)
        return rc;
    rg_error_clear(); /* recorded by a concurrent request: take theirs */
    if ((rc = erasure_load(app, user_id, e, &found)) < 0)
        return rc;
    return found ? 0 : rg_error_set(RG_EUNAVAIL, "the erasure could not be recorded; try again");
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

static int set_step(rg_app *app, const erasure *e, int step)
{
    rg_param p[] = {RG_PINT(e->id), RG_PINT(step)};
    int rc = rg_rel_run(app, "erasure_set_step", p, 2, NULL);
    return rc < 0 ? rc : 0;
}

/* Step 1: no session of the person survives. */
static int step_sessions(rg_app *app, const erasure *e)
{
    json_t *auth = NULL, *families = json_array();
    if (rg_docs_get(&app->st.docs, COLL_AUTH, e->user_id, &auth, NULL) == 0) {
        const char *fam;
        json_t *v;
        json_object_foreach(json_object_get(auth, "tokens"), fam, v)
        {
            json_array_append_new(families, json_string(fam));
        }
    }
    json_decref(auth);
    rg_error_clear();
    end_all_sessions(app, e->user_id, families);
    json_decref(families);
    return 0;
}

/* Step 2: in one transaction, every relational row keeps its place and
 * loses the person. */
static int step_relational(rg_app *app, const erasure *e)
{
    json_t *user = NULL;
    const char *email = NULL;
    if (rg_docs_get(&app->st.docs, COLL_USERS, e->user_id, &user, NULL) == 0)
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
        if ((rc = rg_rel_query(r, c, "erasure_outbox", ep, 1, NULL)) < 0)
            goto fail;
    }
    rg_param sp[] = {RG_PINT(e->id), RG_PINT(2)};
    if ((rc = rg_rel_query(r, c, "erasure_set_step", sp, 2, NULL)) < 0 ||
        (rc = rg_rel_commit(r, c)) < 0)
        goto fail;
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
static int step_content(rg_app *app, const erasure *e)
{
    for (size_t k = 0; k < sizeof authored / sizeof authored[0]; k++) {
        rg_doc_filter f = {.path = authored[k].path, .value = e->user_id};
        struct reauthor ctx = {authored[k].path, e->user_id, e->tombstone};
        for (int round = 0; round < 10000; round++) {
            json_t *arr = NULL;
            int rc =
                rg_docs_find(&app->st.docs, authored[k].coll,
                             &(rg_doc_query){.filters = &f, .nfilters = 1, .limit = 100}, &arr);
            if (rc < 0)
                return rc;
            size_t n = json_array_size(arr), i;
            json_t *x;
            json_array_foreach(arr, i, x)
            {
                rc = rg_doc_update(&app->st.docs, authored[k].coll,
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
static int step_search(rg_app *app, const erasure *e)
{
    return rg_search_remove(&app->st.search, "user", e->user_id);
}

/* Step 5: the account itself. */
static int step_account(rg_app *app, const erasure *e)
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
static int step_channels(rg_app *app, const erasure *e)
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
static int step_finish(rg_app *app, const erasure *e)
{
    char key[64];
    rg__user_uncache(app, e->user_id);
    snprintf(key, sizeof key, "rw:%s", e->user_id);
    rg_cache_del(&app->st.cache, key);
    snprintf(key, sizeof key, "pwr:%s", e->user_id);
    rg_cache_del(&app->st.cache, key);
    rg_error_clear();
    rg_relational *r = &app->st.rel;
    rg_rel_conn *c;
    int rc = rg_rel_acquire(r, &c);
    if (rc < 0)
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
    if ((rc = rg_rel_commit(r, c)) < 0)
        goto fail;
    rc = 0;
    goto out;
fail:
    rg_rel_rollback(r, c);
out:
    rg_rel_release(r, c);
    return rc;
}

/* Runs the steps after e->step; max_steps > 0 stops after that many. */
static int run_erasure(rg_app *app, erasure *e, int max_steps)
{
    static int (*const steps[ERASE_STEPS])(rg_app *, const erasure *) = {
        step_sessions, step_relational, step_content, step_search,
        step_account,  step_channels,   step_finish};
    int done = 0;
    for (int s = e->step + 1; s <= ERASE_STEPS; s++) {
        if (max_steps > 0 && done == max_steps)
            return 0;
        int rc = steps[s - 1](app, e);
        /* Steps 2 and 6 write their progress in their own transaction. */
        if (rc == 0 && s != 2 && s != ERASE_STEPS)
            rc = set_step(app, e, s);
        if (rc < 0) {
            rg_warn("erasure %lld stopped at step %d; it will be finished later", (long long)e->id,
                    s);
            return rc;
        }
        e->step = s;
        done++;
    }
    rg_info("erasure %lld done", (long long)e->id);
    return 1;
}

int rg_user_erase(rg_app *app, const rg_principal *who)
{
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
                            "you organize %lld upcoming event%s: cancel %s or ask an admin to "
                            "hand %s over before erasing your account",
                            (long long)upcoming, upcoming == 1 ? "" : "s",
                            upcoming == 1 ? "it" : "them", upcoming == 1 ? "it" : "them");
    erasure e;
    if ((rc = record(app, who->user_id, &e)) < 0)
        return rc;
    rc = run_erasure(app, &e, 0);
    return rc < 0 ? rc : 0;
}

int rg_erasure_resume(rg_app *app, int max_steps)
{
    int64_t after = 0;
    int finished = 0;
    for (;;) {
        rg_param p[] = {RG_PINT(after)};
        rg_rows *rows;
        int rc = rg_rel_run(app, "erasures_pending", p, 1, &rows);
        if (rc < 0)
            return rc;
        int n = rows->nrows;
        for (int i = 0; i < n; i++) {
            erasure e;
            erasure_from(rows, i, &e);
            after = e.id;
            if (!rg_oid_valid(e.user_id))
                continue;
            if (run_erasure(app, &e, max_steps) == 1)
                finished++;
            rg_error_clear();
        }
        rg_rows_free(rows);
        if (n < 100)
            return finished;
    }
}
