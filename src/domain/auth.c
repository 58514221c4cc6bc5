/* Accounts, passwords, sessions and refresh-token families.
 *
 * - users/<id>: the profile (seed's User collection), schemaVersion 1.
 * - auth/<userId>: passwordHash (argon2id), failedAttempts, lastFailedAttempt,
 *   tokens: {familyId: {refreshToken: sha256, refreshTokenExpiry, rotated: [sha256…]}}.
 * - sessions/<sha256(access token)>: userId, familyId, expiresAt. Looked up
 *   through the cache ("s:<hash>"); the document is what survives a restart.
 * Tokens are 256 random bits; only their SHA-256 is stored. A refresh token is
 * "<userId>.<secret>" so that its account is found without a scan. */
#include "domain.h"
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
#define MAX_ROTATED   32

static const char *const gender_values[] = {"male", "female", "other", "unspecified", NULL};

unsigned rg_roles_from_json(json_t *roles)
{
    unsigned r = 0;
    size_t i;
    json_t *x;
    json_array_foreach(roles, i, x)
    {
        const char *s = json_string_value(x);
        if (!s)
            continue;
        if (strcmp(s, "participant") == 0)
            r |= RG_ROLE_PARTICIPANT;
        else if (strcmp(s, "organizer") == 0)
            r |= RG_ROLE_ORGANIZER;
        else if (strcmp(s, "admin") == 0)
            r |= RG_ROLE_ADMIN;
    }
    return r;
}

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

static void normalize_email(const char *in, char *out, size_t cap)
{
    size_t i;
    for (i = 0; in[i] && i + 1 < cap; i++)
        out[i] = (char)((in[i] >= 'A' && in[i] <= 'Z') ? in[i] + 32 : in[i]);
    out[i] = '\0';
}

/* Default preferences merged under what the person gave. */
static json_t *default_preferences(void)
{
    return json_pack("{s:s, s:{s:b, s:b, s:b}, s:{s:b, s:b}}", "language", "en", "notifications",
                     "email", 1, "push", 1, "sms", 0, "privacy", "shareContact", 0, "shareProfile",
                     1);
}

static void merge_defaults(json_t *dst, json_t *defaults)
{
    const char *k;
    json_t *v;
    json_object_foreach(defaults, k, v)
    {
        json_t *cur = json_object_get(dst, k);
        if (!cur)
            json_object_set(dst, k, v);
        else if (json_is_object(cur) && json_is_object(v))
            merge_defaults(cur, v);
    }
}

/* Validates the profile fields shared by signup and PATCH /users/me. */
int rg__validate_profile(v_ctx *v, json_t *body)
{
    v_string(v, body, "firstName", false, 1, 100, NULL);
    v_string(v, body, "lastName", false, 1, 100, NULL);
    v_string(v, body, "churchId", false, 1, 64, NULL);
    const char *dob = NULL;
    if (v_date(v, body, "dateOfBirth", false, &dob) && dob) {
        int age = rg_age_at(dob, rg_now());
        if (age < 0 || age > 130)
            v_fail(v, "dateOfBirth", "must be a past date");
    }
    v_enum(v, body, "gender", false, gender_values, NULL);
    json_t *contact = NULL, *unit = NULL, *prefs = NULL;
    if (v_object(v, body, "contact", &contact) && contact) {
        v_string(v, contact, "phone", false, 3, 32, NULL);
        json_t *addr = NULL;
        if (v_object(v, contact, "address", &addr) && addr) {
            v_string(v, addr, "street", false, 1, 200, NULL);
            v_string(v, addr, "city", false, 1, 100, NULL);
            v_string(v, addr, "country", false, 1, 100, NULL);
            v_string(v, addr, "postalCode", false, 1, 20, NULL);
        }
    }
    if (v_object(v, body, "churchUnit", &unit) && unit) {
        v_string(v, unit, "unitNumber", false, 1, 32, NULL);
        v_string(v, unit, "wardName", false, 1, 120, NULL);
        v_string(v, unit, "stakeName", false, 1, 120, NULL);
    }
    if (v_object(v, body, "preferences", &prefs) && prefs) {
        v_string(v, prefs, "language", false, 2, 10, NULL);
        json_t *n = NULL, *p = NULL;
        if (v_object(v, prefs, "notifications", &n) && n) {
            bool b;
            v_bool(v, n, "email", &b, NULL);
            v_bool(v, n, "push", &b, NULL);
            v_bool(v, n, "sms", &b, NULL);
        }
        if (v_object(v, prefs, "privacy", &p) && p) {
            bool b;
            v_bool(v, p, "shareContact", &b, NULL);
            v_bool(v, p, "shareProfile", &b, NULL);
        }
    }
    return 0;
}

static int validate_password(v_ctx *v, json_t *body, const char *field, const char **out)
{
    const char *pw = NULL;
    if (v_string(v, body, field, true, 8, 128, &pw) && pw && strlen(pw) > 512)
        v_fail(v, field, "is too long");
    *out = pw;
    return 0;
}

/* ---- sessions ---- */

static void session_cache_key(const char *hash, char *key, size_t cap)
{
    snprintf(key, cap, "s:%s", hash);
}

/* Issues an access token in familyId for userId; *token is malloc'd. */
static int session_create(rg_app *app, const char *user_id, const char *family, char **token)
{
    char tok[64], hash[RG_SHA256_HEX + 1];
    rg_random_token(tok, 32);
    rg_sha256_hex(tok, strlen(tok), hash);
    int64_t exp = rg_now() + app->access_ttl;
    json_t *doc = json_pack("{s:i, s:s, s:s, s:I}", "schemaVersion", SESSION_SCHEMA_VERSION,
                            "userId", user_id, "familyId", family, "expiresAt", (json_int_t)exp);
    int rc = rg_docs_insert(&app->st.docs, COLL_SESSIONS, hash, doc);
    json_decref(doc);
    if (rc < 0)
        return rc;
    char key[80], val[128];
    session_cache_key(hash, key, sizeof key);
    int n = snprintf(val, sizeof val, "%s %s %lld", user_id, family, (long long)exp);
    rg_cache_set(&app->st.cache, key, val, (size_t)n, (int64_t)app->access_ttl * 1000);
    *token = rg_xstrdup(tok);
    return 0;
}

/* Ends one access token. */
static void session_remove(rg_app *app, const char *token)
{
    char hash[RG_SHA256_HEX + 1], key[80];
    rg_sha256_hex(token, strlen(token), hash);
    session_cache_key(hash, key, sizeof key);
    rg_docs_remove(&app->st.docs, COLL_SESSIONS, hash);
    rg_cache_del(&app->st.cache, key);
}

static void revoked_key(const char *family, char *key, size_t cap)
{
    snprintf(key, cap, "rf:%s", family);
}

/* Ends every access token of a family. A marker goes first: a request that
 * read a session just before its document was deleted would otherwise put
 * it back into the cache for the token's remaining life. */
static void sessions_revoke_family(rg_app *app, const char *family)
{
    char mark[64];
    revoked_key(family, mark, sizeof mark);
    rg_cache_set(&app->st.cache, mark, "1", 1, (int64_t)app->access_ttl * 1000);
    rg_doc_filter f = {.path = "familyId", .value = family};
    json_t *arr = NULL;
    if (rg_docs_find(&app->st.docs, COLL_SESSIONS,
                     &(rg_doc_query){.filters = &f, .nfilters = 1, .limit = 1000}, &arr) == 0) {
        size_t i;
        json_t *x;
        json_array_foreach(arr, i, x)
        {
            char key[80];
            session_cache_key(json_string_value(json_object_get(x, "id")), key, sizeof key);
            rg_cache_del(&app->st.cache, key);
        }
    }
    json_decref(arr);
    rg_docs_remove_where(&app->st.docs, COLL_SESSIONS, &f, 1);
}

int rg_auth_authenticate(rg_app *app, const char *token, rg_principal *out)
{
    memset(out, 0, sizeof *out);
    size_t tlen = strlen(token);
    if (tlen < 16 || tlen > 128)
        return rg_error_set(RG_EUNAUTH, "the access token is not valid");
    char hash[RG_SHA256_HEX + 1], key[80], uid[RG_OID_LEN + 1], fam[40];
    rg_sha256_hex(token, tlen, hash);
    session_cache_key(hash, key, sizeof key);
    char *val = NULL;
    size_t len;
    long long exp = 0;
    if (rg_cache_get(&app->st.cache, key, &val, &len) == 0 &&
        sscanf(val, "%24s %39s %lld", uid, fam, &exp) == 3) {
        free(val);
    } else {
        free(val);
        json_t *doc;
        int rc = rg_docs_get(&app->st.docs, COLL_SESSIONS, hash, &doc, NULL);
        if (rc == RG_ENOTFOUND)
            return rg_error_set(RG_EUNAUTH, "the access token is not valid");
        if (rc < 0)
            return rc;
        snprintf(uid, sizeof uid, "%s", json_string_value(json_object_get(doc, "userId")));
        snprintf(fam, sizeof fam, "%s", json_string_value(json_object_get(doc, "familyId")));
        exp = json_integer_value(json_object_get(doc, "expiresAt"));
        json_decref(doc);
        if (exp > rg_now()) {
            char v[128];
            int n = snprintf(v, sizeof v, "%s %s %lld", uid, fam, exp);
            rg_cache_set(&app->st.cache, key, v, (size_t)n, (exp - rg_now()) * 1000);
        }
    }
    if (exp <= rg_now())
        return rg_error_set(RG_EUNAUTH, "the access token has expired");
    char mark[64], *m = NULL;
    size_t mlen;
    revoked_key(fam, mark, sizeof mark);
    if (rg_cache_get(&app->st.cache, mark, &m, &mlen) == 0) {
        free(m);
        rg_cache_del(&app->st.cache, key);
        return rg_error_set(RG_EUNAUTH, "the session has ended");
    }
    json_t *user;
    int rc = rg_user_load(app, uid, &user);
    if (rc == RG_ENOTFOUND)
        return rg_error_set(RG_EUNAUTH, "the account no longer exists");
    if (rc < 0)
        return rc;
    memcpy(out->user_id, uid, sizeof out->user_id);
    out->roles = rg_roles_from_json(json_object_get(user, "roles"));
    json_decref(user);
    return 0;
}

/* ---- refresh-token families ---- */

struct family_ctx {
    const char *family;
    const char *new_hash; /* to set as current */
    const char *old_hash; /* to move to rotated (rotation) */
    int64_t expiry;
    bool remove;
};

static int family_apply(json_t *auth, void *p)
{
    struct family_ctx *c = p;
    json_t *tokens = json_object_get(auth, "tokens");
    if (!json_is_object(tokens)) {
        tokens = json_object();
        json_object_set_new(auth, "tokens", tokens);
    }
    if (c->remove) {
        json_object_del(tokens, c->family);
        return 0;
    }
    /* Drop expired families so the document stays small. */
    const char *k;
    json_t *v;
    void *tmp;
    char now[RG_TIME_LEN + 1];
    rg_time_format(rg_now(), now);
    json_object_foreach_safe(tokens, tmp, k, v)
    {
        const char *e = json_string_value(json_object_get(v, "refreshTokenExpiry"));
        if (e && strcmp(e, now) < 0 && strcmp(k, c->family) != 0)
            json_object_del(tokens, k);
    }
    json_t *fam = json_object_get(tokens, c->family);
    if (c->old_hash) {
        if (!fam || strcmp(json_string_value(json_object_get(fam, "refreshToken")), c->old_hash))
            return RG_ESTALE; /* rotated by someone else meanwhile: caller re-checks */
        json_t *rot = json_object_get(fam, "rotated");
        if (!json_is_array(rot)) {
            rot = json_array();
            json_object_set_new(fam, "rotated", rot);
        }
        json_array_append_new(rot, json_string(c->old_hash));
        while (json_array_size(rot) > MAX_ROTATED)
            json_array_remove(rot, 0);
    } else {
        fam = json_object();
        json_object_set_new(fam, "rotated", json_array());
        json_object_set_new(tokens, c->family, fam);
    }
    char exp[RG_TIME_LEN + 1];
    rg_time_format(c->expiry, exp);
    json_object_set_new(fam, "refreshToken", json_string(c->new_hash));
    json_object_set_new(fam, "refreshTokenExpiry", json_string(exp));
    return 0;
}

static void make_refresh(const char *user_id, char *tok, size_t cap, char hash[RG_SHA256_HEX + 1])
{
    char secret[64];
    rg_random_token(secret, 32);
    snprintf(tok, cap, "%s.%s", user_id, secret);
    rg_sha256_hex(tok, strlen(tok), hash);
}

/* New family with its first refresh and access tokens: {accessToken, …}. */
static int issue_tokens(rg_app *app, const char *user_id, json_t **out)
{
    char family[RG_OID_LEN + 1], rt[128], rh[RG_SHA256_HEX + 1];
    rg_oid_new(family);
    make_refresh(user_id, rt, sizeof rt, rh);
    struct family_ctx fc = {
        .family = family, .new_hash = rh, .expiry = rg_now() + app->refresh_ttl};
    int rc = rg_doc_update(&app->st.docs, COLL_AUTH, user_id, family_apply, &fc);
    if (rc < 0)
        return rc;
    char *at;
    if ((rc = session_create(app, user_id, family, &at)) < 0)
        return rc;
    *out = json_pack("{s:s, s:s, s:i, s:s}", "accessToken", at, "refreshToken", rt, "expiresIn",
                     app->access_ttl, "tokenType", "Bearer");
    free(at);
    return 0;
}

int rg_auth_issue_session(rg_app *app, const char *user_id, char **out_token)
{
    json_t *t;
    int rc = issue_tokens(app, user_id, &t);
    if (rc < 0)
        return rc;
    *out_token = rg_xstrdup(json_string_value(json_object_get(t, "accessToken")));
    json_decref(t);
    return 0;
}

/* ---- signup, login ---- */

int rg_auth_insert_user(rg_app *app, json_t *user, const char *password_hash,
                        char out_id[RG_OID_LEN + 1])
{
    if (!rg_oid_valid(out_id))
        rg_oid_new(out_id);
    /* Credentials first: a crash between the two writes leaves an auth
     * document nobody can reach, never an account that cannot sign in. */
    json_t *auth = json_pack("{s:i, s:s, s:s, s:s, s:{}, s:i, s:n, s:n, s:n}", "schemaVersion",
                             AUTH_SCHEMA_VERSION, "userId", out_id, "authMethod", "password",
                             "passwordHash", password_hash, "tokens", "failedAttempts", 0,
                             "lastFailedAttempt", "passwordResetToken", "passwordResetExpiry");
    int rc = rg_docs_insert(&app->st.docs, COLL_AUTH, out_id, auth);
    json_decref(auth);
    if (rc < 0)
        return rc;
    rc = rg_docs_insert(&app->st.docs, COLL_USERS, out_id, user);
    if (rc < 0)
        rg_docs_remove(&app->st.docs, COLL_AUTH, out_id);
    if (rc == RG_ECONFLICT) {
        rg_error_clear();
        rg_error_field("email", "is already registered");
        return rg_error_set(RG_ECONFLICT, "an account with this email already exists");
    }
    return rc;
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
        json_object_set_new(doc, "preferences", default_preferences());
    } else {
        prefs = json_deep_copy(prefs);
        json_t *d = default_preferences();
        merge_defaults(prefs, d);
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
        return rg_error_set(RG_EVALIDATION, "the body must be a JSON object");
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
    normalize_email(email, norm, sizeof norm);
    if ((rc = hash_password(pw, hash)) < 0) {
        json_decref(clean);
        json_decref(roles);
        return rc;
    }
    json_t *doc = user_doc_from(clean, norm, roles);
    json_decref(clean);
    id[0] = '\0';
    rc = rg_auth_insert_user(app, doc, hash, id);
    if (rc == 0)
        *user_out = doc;
    else
        json_decref(doc);
    return rc;
}

int rg_auth_signup(rg_app *app, json_t *body, json_t **out)
{
    char id[RG_OID_LEN + 1];
    json_t *doc, *tokens;
    int rc = create_account(app, body, json_pack("[s]", "participant"), id, &doc);
    if (rc < 0)
        return rc;
    if ((rc = issue_tokens(app, id, &tokens)) < 0) {
        json_decref(doc);
        return rc;
    }
    json_object_set_new(tokens, "user", rg_user_view(id, doc));
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

struct login_ctx {
    int64_t now;
    int64_t locked_for; /* seconds, when the account is locked */
};

/* Runs before the password is checked, in one revision-checked write: a
 * locked account is refused, otherwise this attempt is counted as a failure
 * until the password proves right, so that guesses sent in parallel cannot
 * get past the limit. Failures count within 15 minutes of the first; five
 * lock the account for 15 minutes after the last. */
static int reserve_attempt(json_t *auth, void *p)
{
    struct login_ctx *c = p;
    int attempts = (int)json_integer_value(json_object_get(auth, "failedAttempts"));
    int64_t start = 0, last = 0;
    const char *ws = json_string_value(json_object_get(auth, "failedWindowStart"));
    const char *lf = json_string_value(json_object_get(auth, "lastFailedAttempt"));
    if (!ws || rg_time_parse(ws, &start) < 0)
        start = c->now;
    if (!lf || rg_time_parse(lf, &last) < 0)
        last = 0;
    if (attempts >= LOCK_ATTEMPTS && c->now - last < LOCK_WINDOW) {
        c->locked_for = LOCK_WINDOW - (c->now - last);
        return RG_ELOCKED;
    }
    if (attempts >= LOCK_ATTEMPTS || c->now - start >= LOCK_WINDOW) {
        attempts = 0;
        start = c->now;
    }
    char now[RG_TIME_LEN + 1], st[RG_TIME_LEN + 1];
    rg_time_format(c->now, now);
    rg_time_format(start, st);
    json_object_set_new(auth, "failedAttempts", json_integer(attempts + 1));
    json_object_set_new(auth, "lastFailedAttempt", json_string(now));
    json_object_set_new(auth, "failedWindowStart", json_string(st));
    return 0;
}

/* After the right password: the attempt did not fail after all. */
static int clear_attempts(json_t *auth, void *p)
{
    (void)p;
    json_object_set_new(auth, "failedAttempts", json_integer(0));
    json_object_set_new(auth, "lastFailedAttempt", json_null());
    json_object_del(auth, "failedWindowStart");
    return 0;
}

static int set_last_login(json_t *user, void *p)
{
    (void)p;
    char now[RG_TIME_LEN + 1];
    rg_time_format(rg_now(), now);
    json_object_set_new(user, "lastLogin", json_string(now));
    return 0;
}

static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

int rg_auth_login(rg_app *app, json_t *body, json_t **out)
{
    v_ctx v = {0};
    const char *email = NULL, *pw = NULL;
    if (!json_is_object(body))
        return rg_error_set(RG_EVALIDATION, "the body must be a JSON object");
    v_string(&v, body, "email", true, 1, 254, &email);
    v_string(&v, body, "password", true, 1, 512, &pw);
    int rc = v_finish(&v);
    if (rc < 0)
        return rc;
    char norm[256];
    normalize_email(email, norm, sizeof norm);
    json_t *user = NULL, *auth = NULL;
    char *id = NULL;
    rc = rg_docs_find_one(&app->st.docs, COLL_USERS, "email", norm, &user, &id);
    if (rc == RG_ENOTFOUND) {
        pthread_once(&dummy_once, dummy_init);
        (void)!crypto_pwhash_str_verify(dummy_hash, pw, strlen(pw));
        return rg_error_set(RG_EUNAUTH, "the email or password is wrong");
    }
    if (rc < 0)
        return rc;
    if ((rc = rg_docs_get(&app->st.docs, COLL_AUTH, id, &auth, NULL)) < 0) {
        if (rc == RG_ENOTFOUND)
            rc = rg_error_set(RG_EUNAUTH, "the email or password is wrong");
        goto done;
    }
    struct login_ctx lc = {.now = rg_now()};
    rc = rg_doc_update(&app->st.docs, COLL_AUTH, id, reserve_attempt, &lc);
    if (rc == RG_ELOCKED) {
        rc = rg_error_set(RG_ELOCKED,
                          "too many failed logins; the account is locked for %lld more seconds",
                          (long long)lc.locked_for);
        goto done;
    }
    if (rc < 0)
        goto done;
    const char *hash = json_string_value(json_object_get(auth, "passwordHash"));
    bool ok = hash && crypto_pwhash_str_verify(hash, pw, strlen(pw)) == 0;
    if (!hash) {
        pthread_once(&dummy_once, dummy_init);
        (void)!crypto_pwhash_str_verify(dummy_hash, pw, strlen(pw));
    }
    if (!ok) {
        rc = rg_error_set(RG_EUNAUTH, "the email or password is wrong");
        goto done;
    }
    if ((rc = rg_doc_update(&app->st.docs, COLL_AUTH, id, clear_attempts, NULL)) < 0)
        goto done;
    rg_doc_update(&app->st.docs, COLL_USERS, id, set_last_login, NULL);
    rg__user_uncache(app, id);
    json_t *tokens;
    if ((rc = issue_tokens(app, id, &tokens)) < 0)
        goto done;
    json_object_set_new(tokens, "user", rg_user_view(id, user));
    *out = tokens;
done:
    json_decref(user);
    json_decref(auth);
    free(id);
    return rc;
}

/* ---- refresh, logout ---- */

/* Finds which family holds hash as current ("current") or as a rotated token. */
static const char *family_of(json_t *auth, const char *hash, bool *rotated)
{
    const char *k;
    json_t *fam;
    json_object_foreach(json_object_get(auth, "tokens"), k, fam)
    {
        const char *cur = json_string_value(json_object_get(fam, "refreshToken"));
        if (cur && sodium_memcmp(cur, hash, RG_SHA256_HEX) == 0) {
            *rotated = false;
            return k;
        }
        size_t i;
        json_t *r;
        json_array_foreach(json_object_get(fam, "rotated"), i, r)
        {
            const char *s = json_string_value(r);
            if (s && strcmp(s, hash) == 0) {
                *rotated = true;
                return k;
            }
        }
    }
    return NULL;
}

static int revoke_family(rg_app *app, const char *user_id, const char *family)
{
    char fam[64];
    snprintf(fam, sizeof fam, "%s", family);
    struct family_ctx fc = {.family = fam, .remove = true};
    int rc = rg_doc_update(&app->st.docs, COLL_AUTH, user_id, family_apply, &fc);
    sessions_revoke_family(app, fam);
    return rc;
}

int rg_auth_refresh(rg_app *app, json_t *body, json_t **out)
{
    v_ctx v = {0};
    const char *rt = NULL;
    if (!json_is_object(body))
        return rg_error_set(RG_EVALIDATION, "the body must be a JSON object");
    v_string(&v, body, "refreshToken", true, 1, 200, &rt);
    int rc = v_finish(&v);
    if (rc < 0)
        return rc;
    const char *dot = strchr(rt, '.');
    char uid[RG_OID_LEN + 1];
    if (!dot || dot - rt != RG_OID_LEN)
        return rg_error_set(RG_EUNAUTH, "the refresh token is not valid");
    memcpy(uid, rt, RG_OID_LEN);
    uid[RG_OID_LEN] = '\0';
    if (!rg_oid_valid(uid))
        return rg_error_set(RG_EUNAUTH, "the refresh token is not valid");
    char hash[RG_SHA256_HEX + 1];
    rg_sha256_hex(rt, strlen(rt), hash);
    for (int attempt = 0; attempt < 4; attempt++) {
        json_t *auth;
        rc = rg_docs_get(&app->st.docs, COLL_AUTH, uid, &auth, NULL);
        if (rc == RG_ENOTFOUND)
            return rg_error_set(RG_EUNAUTH, "the refresh token is not valid");
        if (rc < 0)
            return rc;
        bool rotated = false;
        const char *f = family_of(auth, hash, &rotated);
        char family[64] = "";
        int64_t exp = 0;
        if (f) {
            snprintf(family, sizeof family, "%s", f);
            const char *e = json_string_value(json_object_get(
                json_object_get(json_object_get(auth, "tokens"), f), "refreshTokenExpiry"));
            if (!e || rg_time_parse(e, &exp) < 0)
                exp = 0;
        }
        json_decref(auth);
        if (!f)
            return rg_error_set(RG_EUNAUTH, "the refresh token is not valid");
        if (rotated) {
            rg_warn("refresh token reuse for user %s: family revoked", uid);
            revoke_family(app, uid, family);
            return rg_error_set(RG_EUNAUTH, "the refresh token was already used; every session "
                                            "of this sign-in has been ended");
        }
        if (exp <= rg_now())
            return rg_error_set(RG_EUNAUTH, "the refresh token has expired");
        char nrt[128], nh[RG_SHA256_HEX + 1];
        make_refresh(uid, nrt, sizeof nrt, nh);
        struct family_ctx fc = {.family = family,
                                .new_hash = nh,
                                .old_hash = hash,
                                .expiry = rg_now() + app->refresh_ttl};
        /* The access token exists before the rotation is written, so that a
         * concurrent revocation of the family always finds and ends it. */
        char *at;
        if ((rc = session_create(app, uid, family, &at)) < 0)
            return rc;
        rc = rg_doc_update(&app->st.docs, COLL_AUTH, uid, family_apply, &fc);
        if (rc < 0) {
            session_remove(app, at);
            free(at);
            if (rc == RG_ESTALE)
                continue; /* rotated or revoked meanwhile: look again */
            return rc;
        }
        *out = json_pack("{s:s, s:s, s:i, s:s}", "accessToken", at, "refreshToken", nrt,
                         "expiresIn", app->access_ttl, "tokenType", "Bearer");
        free(at);
        return 0;
    }
    return rg_error_set(RG_EUNAUTH, "the refresh token is not valid");
}

int rg_auth_logout(rg_app *app, const char *access_token, json_t *body)
{
    (void)body;
    char hash[RG_SHA256_HEX + 1];
    rg_sha256_hex(access_token, strlen(access_token), hash);
    json_t *s;
    int rc = rg_docs_get(&app->st.docs, COLL_SESSIONS, hash, &s, NULL);
    if (rc == RG_ENOTFOUND)
        return 0;
    if (rc < 0)
        return rc;
    char uid[RG_OID_LEN + 1], fam[64];
    snprintf(uid, sizeof uid, "%s", json_string_value(json_object_get(s, "userId")));
    snprintf(fam, sizeof fam, "%s", json_string_value(json_object_get(s, "familyId")));
    json_decref(s);
    return revoke_family(app, uid, fam);
}

int rg_auth_hash_password(const char *password, char **out)
{
    char hash[crypto_pwhash_STRBYTES];
    int rc = hash_password(password, hash);
    if (rc == 0)
        *out = rg_xstrdup(hash);
    return rc;
}

int rg_auth_purge_sessions(rg_app *app)
{
    rg_doc_filter f = {.path = "expiresAt", .is_int = true, .ival = rg_now(), .less_than = true};
    return rg_docs_remove_where(&app->st.docs, COLL_SESSIONS, &f, 1);
}

/* ---- shared with accounts.c (password reset, church sign-in, erasure) ---- */

void rg__sessions_revoke_family(rg_app *app, const char *family)
{
    sessions_revoke_family(app, family);
}

int rg__auth_issue_tokens(rg_app *app, const char *user_id, json_t **out)
{
    return issue_tokens(app, user_id, out);
}

void rg__normalize_email(const char *in, char *out, size_t cap)
{
    normalize_email(in, out, cap);
}

json_t *rg__default_preferences(void)
{
    return default_preferences();
}
