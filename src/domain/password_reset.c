/* Password reset. A request is one row in reset_requests, whatever the
 * email, so that every answer does the same work, says the same thing and
 * takes the same time (nothing waits on a worker thread); the
 * password-reset job then takes the rows and, for an account, makes a token
 * of 256 random bits: its SHA-256 goes into the auth document
 * (passwordResetToken, passwordResetExpiry, 30 minutes) and the token
 * itself only into the email, written to the outbox. At most 3 emails per
 * account per 15 minutes. The confirm step finds the account by the
 * token's hash (an index on auth.passwordResetToken), checks and clears the
 * token in one revision-checked write together with the new argon2id hash,
 * the lockout counters and every refresh-token family, then ends the
 * families' sessions. */
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
#include "user_record.h"

#include <ctype.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RESET_TTL_S      1800
#define RESET_MAX_EMAILS 3
#define RESET_WINDOW_MS  (15 * 60 * 1000)
#define RESET_BATCH      50                 /* requests per pass of the job */
#define RESET_CLAIM_S    120                /* a taken request is taken again after this */
#define RESET_REQUEST    "password.request" /* its fault points (intents.h) */

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
    const char *link = app->cfg->password_reset_url;
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

int rg_auth_password_reset(rg_app *app, json_t *body)
{
    if (!json_is_object(body))
        return v_not_object(body);
    static const char *const only[] = {"email", NULL};
    v_ctx v = {0};
    const char *email = NULL;
    v_only(&v, body, only);
    v_string(&v, body, "email", true, 1, 254, &email);
    int rc = v_finish(&v);
    if (rc < 0)
        return rc;
    char norm[256], now[RG_TIME_LEN + 1];
    rg__normalize_email(email, norm, sizeof norm);
    rg_time_format(rg_now(), now);
    rg_param p[] = {RG_PTEXT(norm), RG_PTEXT(now)};
    rc = rg_rel_run(app, "reset_request_insert", p, 2, NULL);
    return rc < 0 ? rc : 0;
}

static int reset_for(rg_app *app, const char *norm);

/* Requests are claimed for RESET_CLAIM_S and deleted once their e-mail
 * is queued: one whose pass died or failed (a store down) is taken again
 * when its claim runs out, until it is as old as a code lives. A pass that
 * died after queueing and before deleting sends a second code, which
 * replaces the first. */
int rg_auth_password_reset_pass(rg_app *app)
{
    rg_rows *rows = NULL;
    rg_relational *r = &app->st.rel;
    rg_rel_conn *c;
    int rc = rg_rel_acquire(r, &c);
    if (rc < 0)
        return rc;
    int64_t now = rg_now();
    char until[RG_TIME_LEN + 1], now_s[RG_TIME_LEN + 1], stale[RG_TIME_LEN + 1];
    rg_time_format(now + RESET_CLAIM_S, until);
    rg_time_format(now, now_s);
    rg_time_format(now - RESET_TTL_S, stale);
    rg_param p[] = {RG_PINT(RESET_BATCH), RG_PTEXT(until), RG_PTEXT(now_s)};
    rg_param old[] = {RG_PTEXT(stale)};
    if ((rc = rg_rel_begin(r, c, true)) == 0) {
        rc = rg_rel_query(r, c, "reset_requests_expire", old, 1, NULL);
        if (rc >= 0)
            rc = rg_rel_query(r, c, "reset_requests_take", p, 3, &rows);
        if (rc >= 0)
            rc = rg_rel_commit(r, c);
        if (rc < 0)
            rg_rel_rollback(r, c);
    }
    rg_rel_release(r, c);
    if (rc < 0) {
        rg_rows_free(rows);
        return rc;
    }
    int done = 0;
    int *order = rg_rows_order_by_int(rows, "id"); /* oldest first */
    for (int k = 0; k < rows->nrows; k++) {
        int i = order[k];
        rg_intent_fault(RESET_REQUEST, 0); /* claimed */
        rg_param id[] = {RG_PINT(rg_rows_int(rows, i, "id", 0))};
        if ((rc = reset_for(app, rg_rows_get(rows, i, "email"))) == 0) {
            rg_intent_fault(RESET_REQUEST, 1); /* queued */
            rc = rg_rel_run(app, "reset_request_done", id, 1, NULL);
        }
        if (rc < 0) {
            rg_warn("password reset request %lld not handled yet: %s", (long long)id[0].i,
                    rg_error_detail());
            rg_error_clear();
            continue;
        }
        done++;
    }
    free(order);
    rg_rows_free(rows);
    return done;
}

static int reset_for(rg_app *app, const char *norm)
{
    char token[64], hash[RG_SHA256_HEX + 1];
    json_t *user = NULL;
    char *id = NULL;
    int rc = rg_docs_find_one(&app->st.docs, COLL_USERS, "email", norm, &user, &id);
    if (rc == RG_ENOTFOUND) { /* no account: nothing to send */
        rg_error_clear();
        return 0;
    }
    if (rc < 0)
        return rc;
    const char *to = json_string_value(json_object_get(user, "email"));
    char key[64];
    snprintf(key, sizeof key, "pwr:%s", id);
    int64_t count = 0;
    bool counted = rg_cache_incr(&app->st.cache, key, 1, RESET_WINDOW_MS, &count) == 0;
    if (counted && count > RESET_MAX_EMAILS) {
        rg_info("password reset for user %s not sent: %d already sent in 15 minutes", id,
                RESET_MAX_EMAILS);
        rc = 0;
        goto done;
    }
    rg_error_clear();
    rg_random_token(token, 32);
    rg_sha256_hex(token, strlen(token), hash);
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
    if (rc < 0 && counted) { /* nothing sent: the retry must not count twice */
        char detail[256];
        snprintf(detail, sizeof detail, "%s", rg_error_detail());
        int64_t left;
        rg_cache_incr(&app->st.cache, key, -1, RESET_WINDOW_MS, &left);
        rc = rg_error_set(rc, "%s", detail);
    }
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
    json_object_del(auth, "failedAttempts"); /* kept there by earlier versions */
    json_object_del(auth, "lastFailedAttempt");
    json_object_del(auth, "failedWindowStart");
    json_object_set_new(auth, "tokens", json_object());
    return 0;
}

#define PASSWORD_RESET "password.reset"

/* The driver of password.reset: every session of the person ends, whether
 * or not the new password was written (ending them is what a reset must
 * not miss; the reset code stays usable when it was not). */
int rg__password_reset_drive(rg_app *app, const rg_intent *in)
{
    int rc = rg_oid_valid(in->subject) ? rg__sessions_end_all(app, in->subject, NULL) : 0;
    return rc < 0 ? rc : rg_intent_close(app, in);
}

int rg_auth_password_reset_confirm(rg_app *app, const rg_ctx *ctx, json_t *body)
{
    if (!json_is_object(body))
        return v_not_object(body);
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
    /* password.reset (intents.h): 1 the auth document (new hash, token
     * cleared, families emptied), 2 every session ended. */
    struct reset_ctx c = {.hash = hash, .new_hash = pw_hash, .now = rg_now()};
    rg_intent in;
    if ((rc = rg_intent_open(app, NULL, PASSWORD_RESET, id, 0, &in)) == 0) {
        rg_intent_fault(PASSWORD_RESET, 0);
        rc = rg_doc_update(&app->st.docs, COLL_AUTH, id, apply_reset, &c);
    }
    sodium_memzero(pw_hash, strlen(pw_hash));
    free(pw_hash);
    if (rc == RG_ENOTFOUND)
        rc = bad_token();
    if (rc == 0 && !c.families) /* it had expired: cleared, and refused */
        rc = bad_token();
    if (rc < 0) {
        /* A refused code changed nothing: the intent goes. A store that
         * failed may have written the password: the intent stays, and
         * the job ends the sessions. */
        if (in.id && rc != RG_EUNAVAIL) {
            int keep = rc;
            if (rg_intent_close(app, &in) < 0)
                rc = keep; /* the answer keeps its own error */
        }
        goto done;
    }
    if (rg_intent_step(app, &in, 1) < 0)
        rg_error_clear(); /* not recorded: the driver ends the sessions all the same */
    /* Sessions that could not be ended leave the intent to the job. */
    if (rg__sessions_end_all(app, id, c.families) == 0 && rg_intent_step(app, &in, 2) == 0)
        rg_intent_close(app, &in);
    rg_error_clear();
    rg_info("password of user %s reset: every session ended", id);
    /* Tell the person, without any secret. */
    json_t *user = NULL;
    if (rg_docs_get(&app->st.docs, COLL_USERS, id, &user, NULL) == 0) {
        const char *to = json_string_value(json_object_get(user, "email"));
        /* The person signs in again from where they reset. */
        char key[64];
        rg__login_attempts_key(to ? to : "", ctx->client, key);
        rg_cache_del(&app->st.cache, key);
        rg_error_clear();
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
