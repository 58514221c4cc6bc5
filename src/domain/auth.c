/* Accounts with a password: signup, login with its lockout, the first
 * admin, and password hashing (sessions.c issues the tokens).
 *
 * - users/<id>: the profile (seed's User collection), schemaVersion 1.
 * - auth/<userId>: passwordHash (argon2id) and the token families of
 *   sessions.c. Failed logins are counted in the cache per e-mail and
 *   client address (rg__login_attempts_key), not in the document. */
#include "risinggen/domain/auth.h"
#include "domain.h"
#include "intents.h"
#include "sessions.h"
#include "user_record.h"
#include "risinggen/base/alloc.h"
#include "risinggen/base/log.h"
#include "risinggen/base/clock.h"
#include "risinggen/base/id.h"
#include "risinggen/base/error.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PW_OPSLIMIT   2
#define PW_MEMLIMIT   (19u * 1024 * 1024)
#define LOCK_ATTEMPTS 5
#define LOCK_WINDOW   900
#define SIGNUP        "signup"

static int hash_password(const char *pw, char out[crypto_pwhash_STRBYTES])
{
    if (crypto_pwhash_str_alg(out, pw, strlen(pw), PW_OPSLIMIT, PW_MEMLIMIT,
                              crypto_pwhash_ALG_ARGON2ID13) != 0)
        return rg_error_set(RG_ENOMEM, "out of memory");
    return 0;
}

/* A hash of a random password, verified against when the email is unknown so
 * that both answers take the same time. */
static char dummy_hash[crypto_pwhash_STRBYTES];
static void dummy_init(void)
{
    char pw[32];
    rg_random_token(pw, 16);
    hash_password(pw, dummy_hash);
}

static int validate_password(v_ctx *v, json_t *body, const char *field, const char **out)
{
    const char *pw = NULL;
    if (v_string(v, body, field, true, 8, 128, &pw) && pw && strlen(pw) > 512)
        v_fail(v, field, "is too long");
    *out = pw;
    return 0;
}

/* The account's two documents: in one transaction when atomic, else one
 * after the other, each step recorded on in when given. */
static int insert_account(rg_app *app, json_t *user, const char *password_hash,
                          char out_id[RG_OID_LEN + 1], bool atomic, rg_intent *in)
{
    if (!rg_oid_valid(out_id))
        rg_oid_new(out_id);
    json_t *auth =
        json_pack("{s:i, s:s, s:s, s:s, s:{}, s:n, s:n}", "schemaVersion", AUTH_SCHEMA_VERSION,
                  "userId", out_id, "authMethod", "password", "passwordHash", password_hash,
                  "tokens", "passwordResetToken", "passwordResetExpiry");
    int rc;
    if (atomic) {
        rg_doc_write w[] = {{RG_DOC_W_INSERT, COLL_AUTH, out_id, auth, 0},
                            {RG_DOC_W_INSERT, COLL_USERS, out_id, user, 0}};
        rc = rg_docs_write_all(&app->st.docs, w, 2);
        json_decref(auth);
        goto done;
    }
    /* Credentials first: a crash between the two writes leaves an auth
     * document nobody can reach, never an account that cannot sign in. */
    rc = rg_docs_insert(&app->st.docs, COLL_AUTH, out_id, auth);
    json_decref(auth);
    if (rc < 0)
        return rc;
    /* A step that cannot be recorded is not undone: the intent stays
     * behind it, and its driver finds what the stores hold. */
    if (in && rg_intent_step(app, in, 1) < 0)
        rg_error_clear();
    rc = rg_docs_insert(&app->st.docs, COLL_USERS, out_id, user);
    if (rc == 0 && in && rg_intent_step(app, in, 2) < 0)
        rg_error_clear();
    if (rc < 0)
        rg_docs_remove(&app->st.docs, COLL_AUTH, out_id);
done:
    if (rc == RG_ECONFLICT) {
        rg_error_clear();
        rg_error_field("email", "is already registered");
        return rg_error_set(RG_ECONFLICT, "an account with this email already exists");
    }
    return rc;
}

int rg_auth_insert_user(rg_app *app, json_t *user, const char *password_hash,
                        char out_id[RG_OID_LEN + 1])
{
    return insert_account(app, user, password_hash, out_id, rg__docs_atomic(app), NULL);
}

static const char *const signup_fields[] = {"email",       "password",    "firstName", "lastName",
                                            "dateOfBirth", "churchId",    "gender",    "contact",
                                            "churchUnit",  "preferences", NULL};

/* Builds a user document from a validated body (no password). */
static json_t *user_doc_from(json_t *body, const char *email, json_t *roles)
{
    char now[RG_TIME_LEN + 1];
    rg_time_format(rg_now(), now);
    json_t *doc = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(body, k, v)
    {
        if (strcmp(k, "password") != 0 && !json_is_null(v))
            json_object_set(doc, k, v);
    }
    json_object_set_new(doc, "schemaVersion", json_integer(USER_SCHEMA_VERSION));
    json_object_set_new(doc, "email", json_string(email));
    json_object_set_new(doc, "roles", roles);
    json_object_set_new(doc, "created", json_string(now));
    json_object_set_new(doc, "lastLogin", json_null());
    json_t *prefs = json_object_get(doc, "preferences");
    if (!prefs) {
        json_object_set_new(doc, "preferences", rg__default_preferences());
    } else {
        prefs = json_deep_copy(prefs);
        json_t *d = rg__default_preferences();
        rg__merge_defaults(prefs, d);
        json_decref(d);
        json_object_set_new(doc, "preferences", prefs);
    }
    return doc;
}

static int create_account(rg_app *app, json_t *body, json_t *roles, char id[RG_OID_LEN + 1],
                          json_t **user_out)
{
    v_ctx v = {0};
    const char *email = NULL, *pw = NULL;
    if (!json_is_object(body)) {
        json_decref(roles);
        return v_not_object(body);
    }
    v_email(&v, body, "email", true, &email);
    validate_password(&v, body, "password", &pw);
    v_string(&v, body, "firstName", true, 1, 100, NULL);
    v_string(&v, body, "lastName", true, 1, 100, NULL);
    rg__validate_profile(&v, body);
    int rc = v_finish(&v);
    if (rc < 0) {
        json_decref(roles);
        return rc;
    }
    json_t *clean = json_object();
    for (const char *const *f = signup_fields; *f; f++)
        if (json_object_get(body, *f))
            json_object_set(clean, *f, json_object_get(body, *f));
    char norm[256], hash[crypto_pwhash_STRBYTES];
    rg__normalize_email(email, norm, sizeof norm);
    if ((rc = hash_password(pw, hash)) < 0) {
        json_decref(clean);
        json_decref(roles);
        return rc;
    }
    json_t *doc = user_doc_from(clean, norm, roles);
    json_decref(clean);
    /* One transaction of the documents store when it runs them: nothing
     * to coordinate. Else signup (intents.h): 1 the auth document, 2 the
     * user document. */
    rg_oid_new(id);
    rg_intent in;
    if (rg__docs_atomic(app)) {
        if ((rc = insert_account(app, doc, hash, id, true, NULL)) == 0)
            rg_intent_fault(SIGNUP, 2); /* both written */
    } else if ((rc = rg_intent_open(app, NULL, SIGNUP, id, 0, &in)) == 0) {
        rg_intent_fault(SIGNUP, 0);
        rc = insert_account(app, doc, hash, id, false, &in);
        /* Done, the intent goes (if it cannot, the job finds the account
         * whole). Undone (a taken e-mail removes the auth document) or
         * failed, it stays: the job removes whatever is left, and the
         * answer keeps its own error. */
        if (rc == 0 && rg_intent_close(app, &in) < 0)
            rg_error_clear();
    }
    if (rc == 0)
        *user_out = doc;
    else
        json_decref(doc);
    return rc;
}

/* An interrupted signup: an account with its user document stands (its
 * owner may sign in); an auth document without one is removed. */
int rg__signup_drive(rg_app *app, const rg_intent *in)
{
    if (!rg_oid_valid(in->subject))
        return rg_intent_close(app, in);
    json_t *user = NULL;
    int rc = rg_docs_get(&app->st.docs, COLL_USERS, in->subject, &user, NULL);
    json_decref(user);
    if (rc == RG_ENOTFOUND) {
        rg_error_clear();
        rc = rg_docs_remove(&app->st.docs, COLL_AUTH, in->subject);
        if (rc == RG_ENOTFOUND) {
            rg_error_clear();
            rc = 0;
        }
    }
    return rc < 0 ? rc : rg_intent_close(app, in);
}

int rg_auth_signup(rg_app *app, json_t *body, json_t **out)
{
    char id[RG_OID_LEN + 1];
    json_t *doc, *tokens;
    int rc = create_account(app, body, json_pack("[s]", "participant"), id, &doc);
    if (rc < 0)
        return rc;
    if ((rc = rg__auth_issue_tokens(app, id, &tokens)) < 0) {
        json_decref(doc);
        return rc;
    }
    json_object_set_new(tokens, "user", rg__user_view(id, doc));
    json_decref(doc);
    *out = tokens;
    return 0;
}

int rg_auth_create_admin(rg_app *app, const char *email, const char *password, const char *first,
                         const char *last, char out_id[RG_OID_LEN + 1])
{
    json_t *body = json_pack("{s:s, s:s, s:s, s:s}", "email", email, "password", password,
                             "firstName", first, "lastName", last);
    json_t *doc;
    int rc = create_account(app, body, json_pack("[s,s,s]", "participant", "organizer", "admin"),
                            out_id, &doc);
    json_decref(body);
    if (rc == 0)
        json_decref(doc);
    return rc;
}

static int set_last_login(json_t *user, void *p)
{
    (void)p;
    char now[RG_TIME_LEN + 1];
    rg_time_format(rg_now(), now);
    json_object_set_new(user, "lastLogin", json_string(now));
    return 0;
}

/* Failed logins are counted per e-mail and client address, in the cache
 * (shared by every instance on Redis): an attacker elsewhere cannot lock the
 * owner out, and an e-mail without an account counts and locks exactly like
 * one with. The key holds a digest, never the e-mail. */
void rg__login_attempts_key(const char *email, const char *client, char key[64])
{
    char buf[320], h[RG_SHA256_HEX + 1], bucket[RG_ADDR_MAX];
    rg_addr_bucket(client, bucket);
    int n = snprintf(buf, sizeof buf, "%s\n%s", email, bucket);
    rg_sha256_hex(buf, (size_t)(n < (int)sizeof buf ? n : (int)sizeof buf - 1), h);
    snprintf(key, 64, "lf:%.40s", h);
}

static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

int rg_auth_login(rg_app *app, const rg_ctx *ctx, json_t *body, json_t **out)
{
    v_ctx v = {0};
    const char *email = NULL, *pw = NULL;
    if (!json_is_object(body))
        return v_not_object(body);
    v_string(&v, body, "email", true, 1, 254, &email);
    v_string(&v, body, "password", true, 1, 512, &pw);
    int rc = v_finish(&v);
    if (rc < 0)
        return rc;
    char norm[256], key[64];
    rg__normalize_email(email, norm, sizeof norm);
    rg__login_attempts_key(norm, ctx->client, key);
    /* The attempt counts as failed until the password proves right, so
     * that guesses sent in parallel cannot get past the limit. */
    int64_t failures = 0;
    if (rg_cache_incr(&app->st.cache, key, 1, (int64_t)LOCK_WINDOW * 1000, &failures) < 0)
        failures = 0; /* the cache is down: no lockout rather than no login */
    rg_error_clear();
    pthread_once(&dummy_once, dummy_init);
    if (failures > LOCK_ATTEMPTS) {
        /* As long as a wrong password takes. */
        (void)!crypto_pwhash_str_verify(dummy_hash, pw, strlen(pw));
        return rg_error_set(RG_ELOCKED, "too many failed logins for this account from this "
                                        "address; try again within 15 minutes");
    }
    json_t *user = NULL, *auth = NULL;
    char *id = NULL;
    rc = rg_docs_find_one(&app->st.docs, COLL_USERS, "email", norm, &user, &id);
    if (rc == RG_ENOTFOUND) {
        (void)!crypto_pwhash_str_verify(dummy_hash, pw, strlen(pw));
        return rg_error_set(RG_EUNAUTH, "the email or password is wrong");
    }
    if (rc < 0)
        return rc;
    if ((rc = rg_docs_get(&app->st.docs, COLL_AUTH, id, &auth, NULL)) < 0) {
        if (rc == RG_ENOTFOUND) {
            (void)!crypto_pwhash_str_verify(dummy_hash, pw, strlen(pw));
            rc = rg_error_set(RG_EUNAUTH, "the email or password is wrong");
        }
        goto done;
    }
    const char *hash = json_string_value(json_object_get(auth, "passwordHash"));
    bool ok = hash && crypto_pwhash_str_verify(hash, pw, strlen(pw)) == 0;
    if (!hash)
        (void)!crypto_pwhash_str_verify(dummy_hash, pw, strlen(pw));
    if (!ok) {
        rc = rg_error_set(RG_EUNAUTH, "the email or password is wrong");
        goto done;
    }
    rg_cache_del(&app->st.cache, key);
    rg_error_clear();
    rg_doc_update(&app->st.docs, COLL_USERS, id, set_last_login, NULL);
    rg__user_uncache(app, id);
    json_t *tokens;
    if ((rc = rg__auth_issue_tokens(app, id, &tokens)) < 0)
        goto done;
    json_object_set_new(tokens, "user", rg__user_view(id, user));
    *out = tokens;
done:
    json_decref(user);
    json_decref(auth);
    free(id);
    return rc;
}

int rg_auth_hash_password(const char *password, char **out)
{
    char hash[crypto_pwhash_STRBYTES];
    int rc = hash_password(password, hash);
    if (rc == 0)
        *out = rg_xstrdup(hash);
    return rc;
}
