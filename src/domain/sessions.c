/* Sessions and refresh-token families.
 *
 * - sessions/<sha256(access token)>: userId, familyId, expiresAt. Looked up
 *   through the cache ("s:<hash>"); the document is what survives a restart.
 * - auth/<userId>.tokens: {familyId: {refreshToken: sha256,
 *   refreshTokenExpiry, rotated: [sha256…]}}.
 * Tokens carry 256 random bits; only their SHA-256 is stored. An access token
 * is "<userId>.<familyId>.<secret>", so that authentication asks the cache for
 * the session and everything keyed by its user and family in one trip (the
 * session must name the same user and family, or the token is refused). A
 * refresh token is "<userId>.<secret>" so that its account is found without
 * a scan; using a rotated one again ends its whole family. */
#include "risinggen/domain/auth.h"
#include "sessions.h"
#include "intents.h"
#include "risinggen/base/alloc.h"
#include "risinggen/base/clock.h"
#include "risinggen/base/error.h"
#include "risinggen/base/id.h"
#include "risinggen/base/log.h"
#include "user_record.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ROTATED 32

struct family_ctx {
    const char *family;
    const char *new_hash; /* to set as current */
    const char *old_hash; /* to move to rotated (rotation) */
    int64_t expiry;
    bool remove;
};

static void session_cache_key(const char *hash, char *key, size_t cap)
{
    snprintf(key, cap, "s:%s", hash);
}

/* Issues an access token in familyId for userId; *token is malloc'd. */
static int session_create(rg_app *app, const char *user_id, const char *family, char **token)
{
    char secret[64], tok[128], hash[RG_SHA256_HEX + 1];
    rg_random_token(secret, 32);
    snprintf(tok, sizeof tok, "%s.%s.%s", user_id, family, secret);
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
    rg_cache_fill(&app->st.cache, key, val, (size_t)n, (int64_t)app->access_ttl * 1000);
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
int rg__sessions_revoke_family(rg_app *app, const char *family)
{
    char mark[64];
    revoked_key(family, mark, sizeof mark);
    rg_cache_set(&app->st.cache, mark, "1", 1, (int64_t)app->access_ttl * 1000);
    rg_doc_filter f = {.path = "familyId", .value = family};
    json_t *arr = NULL;
    int rc = rg_docs_find(&app->st.docs, COLL_SESSIONS,
                          &(rg_doc_query){.filters = &f, .nfilters = 1, .limit = 1000}, &arr);
    if (rc == 0) {
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
    /* The documents are what ends the tokens for good (the marker lives in
     * the cache): their removal decides the result. */
    int removed = rg_docs_remove_where(&app->st.docs, COLL_SESSIONS, &f, 1);
    return rc < 0 ? rc : removed < 0 ? removed : 0;
}

/* The user and family an access token names ("<userId>.<familyId>.<secret>",
 * both ObjectIds); false for a token of another form. */
static bool token_names(const char *token, char uid[RG_OID_LEN + 1], char fam[RG_OID_LEN + 1])
{
    const char *a = strchr(token, '.'), *b = a ? strchr(a + 1, '.') : NULL;
    if (!a || !b || a - token != RG_OID_LEN || b - a - 1 != RG_OID_LEN)
        return false;
    memcpy(uid, token, RG_OID_LEN);
    uid[RG_OID_LEN] = '\0';
    memcpy(fam, a + 1, RG_OID_LEN);
    fam[RG_OID_LEN] = '\0';
    return rg_oid_valid(uid) && rg_oid_valid(fam);
}

/* The session of hash (its cache entry skey) from the sessions collection,
 * after a cache miss: its user, family and expiry; the entry is filled. */
static int session_load(rg_app *app, const char *hash, const char *skey, char *uid, char *fam,
                        long long *exp)
{
    json_t *doc;
    int rc = rg_docs_get(&app->st.docs, COLL_SESSIONS, hash, &doc, NULL);
    if (rc == RG_ENOTFOUND)
        return rg_error_set(RG_EUNAUTH, "the access token is not valid");
    if (rc < 0)
        return rc;
    snprintf(uid, RG_OID_LEN + 1, "%s", json_string_value(json_object_get(doc, "userId")));
    snprintf(fam, 40, "%s", json_string_value(json_object_get(doc, "familyId")));
    *exp = json_integer_value(json_object_get(doc, "expiresAt"));
    json_decref(doc);
    if (*exp > rg_now()) {
        char v[128];
        int n = snprintf(v, sizeof v, "%s %s %lld", uid, fam, *exp);
        /* A session's entry never changes; ending it deletes it. */
        rg_cache_fill(&app->st.cache, skey, v, (size_t)n, (*exp - rg_now()) * 1000);
    }
    return 0;
}

/* One trip to the cache for a token that names its user and family: the
 * session by the token's hash and, in the same get_many, everything keyed by
 * that user and family (the family's ended-marker, the user's document and
 * its version, the user's recent-write marker). Two trips for any other
 * token: the session first, then the rest. */
int rg_auth_begin(rg_app *app, const char *token, rg_ctx *ctx)
{
    memset(ctx, 0, sizeof *ctx);
    size_t tlen = strlen(token);
    if (tlen < 16 || tlen > 128)
        return rg_error_set(RG_EUNAUTH, "the access token is not valid");
    char hash[RG_SHA256_HEX + 1], skey[80], uid[RG_OID_LEN + 1], fam[40];
    char named_uid[RG_OID_LEN + 1], named_fam[RG_OID_LEN + 1];
    rg_sha256_hex(token, tlen, hash);
    session_cache_key(hash, skey, sizeof skey);
    bool named = token_names(token, named_uid, named_fam);
    char mark[64], ukey[RG_USER_KEY_LEN], uverkey[RG_USER_KEY_LEN], wrote[40];
    enum { MARK, UVER, USER, WROTE, SESSION };
    const char *keys[] = {
        [MARK] = mark, [UVER] = uverkey, [USER] = ukey, [WROTE] = wrote, [SESSION] = skey};
    char *v[5] = {0};
    size_t l[5] = {0};
    if (named) {
        revoked_key(named_fam, mark, sizeof mark);
        rg__user_cache_keys(named_uid, ukey, uverkey);
        rg__wrote_key(named_uid, wrote, sizeof wrote);
        rg_cache_get_many(&app->st.cache, keys, 5, v, l);
    } else {
        rg_cache_get(&app->st.cache, skey, &v[SESSION], &l[SESSION]);
    }
    long long exp = 0;
    int rc = 0;
    if (!v[SESSION] || sscanf(v[SESSION], "%24s %39s %lld", uid, fam, &exp) != 3)
        rc = session_load(app, hash, skey, uid, fam, &exp);
    free(v[SESSION]);
    if (rc == 0 && named && (strcmp(uid, named_uid) != 0 || strcmp(fam, named_fam) != 0))
        rc = rg_error_set(RG_EUNAUTH, "the access token is not valid");
    if (rc == 0 && exp <= rg_now())
        rc = rg_error_set(RG_EUNAUTH, "the access token has expired");
    if (rc < 0) {
        for (int i = MARK; i <= WROTE; i++)
            free(v[i]);
        return rc;
    }
    if (!named) {
        revoked_key(fam, mark, sizeof mark);
        rg__user_cache_keys(uid, ukey, uverkey);
        rg__wrote_key(uid, wrote, sizeof wrote);
        rg_cache_get_many(&app->st.cache, keys, 4, v, l);
    }
    bool wrote_recently = v[WROTE] != NULL;
    free(v[WROTE]);
    if (v[MARK]) {
        free(v[MARK]);
        free(v[UVER]);
        free(v[USER]);
        rg_cache_del(&app->st.cache, skey);
        return rg_error_set(RG_EUNAUTH, "the session has ended");
    }
    json_t *user;
    rc = rg__user_load_fetched(app, uid, v[UVER], v[USER], l[USER], &user);
    if (rc == RG_ENOTFOUND)
        return rg_error_set(RG_EUNAUTH, "the account no longer exists");
    if (rc < 0)
        return rc;
    if (json_is_true(json_object_get(user, "erasing"))) {
        json_decref(user);
        return rg_error_set(RG_EUNAUTH, "the account is being erased");
    }
    memcpy(ctx->who.user_id, uid, sizeof ctx->who.user_id);
    ctx->who.roles = rg_roles_from_json(json_object_get(user, "roles"));
    ctx->read_own_writes = wrote_recently;
    json_decref(user);
    rg_error_clear();
    return 0;
}

static int family_apply(json_t *auth, void *p)
{
    struct family_ctx *c = p;
    if (json_is_true(json_object_get(auth, "erasing")) && !c->remove)
        return rg_error_set(RG_EUNAUTH, "the account is being erased");
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

int rg__auth_issue_tokens(rg_app *app, const char *user_id, json_t **out)
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
    int rc = rg__auth_issue_tokens(app, user_id, &t);
    if (rc < 0)
        return rc;
    *out_token = rg_xstrdup(json_string_value(json_object_get(t, "accessToken")));
    json_decref(t);
    return 0;
}

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

#define SESSION_REVOKE "session.revoke"

/* The two writes of a revocation: the family out of the auth document
 * (its refresh token refused), then its sessions ended (its access
 * tokens refused). */
static int revoke_writes(rg_app *app, const char *user_id, const char *fam, const char *kind)
{
    struct family_ctx fc = {.family = fam, .remove = true};
    int rc = rg_doc_update(&app->st.docs, COLL_AUTH, user_id, family_apply, &fc);
    if (rc == 0 && kind)
        rg_intent_fault(kind, 1);
    int ended = rg__sessions_revoke_family(app, fam);
    return rc < 0 ? rc : ended;
}

/* A revocation (logout, a reused refresh token), coordinated as
 * session.revoke (intents.h) with the subject "<userId>.<familyId>": the
 * intent, the auth document, the sessions; the driver does both writes
 * again, so only the intent and its end are written. Without the
 * relational store the revocation still runs, uncoordinated. */
static int revoke_family(rg_app *app, const char *user_id, const char *family)
{
    char fam[RG_OID_LEN + 1], subject[RG_INTENT_SUBJECT_MAX];
    snprintf(fam, sizeof fam, "%s", family); /* families are ObjectIds */
    snprintf(subject, sizeof subject, "%.24s.%s", user_id, fam);
    rg_intent in;
    if (rg_intent_open(app, NULL, SESSION_REVOKE, subject, 0, &in) < 0) {
        rg_warn("revocation of family %s not recorded as an intent: %s", fam, rg_error_detail());
        rg_error_clear();
    } else {
        rg_intent_fault(SESSION_REVOKE, 0);
    }
    int rc = revoke_writes(app, user_id, fam, in.id ? SESSION_REVOKE : NULL);
    if (in.id && rc != RG_EUNAVAIL) {
        rg_intent_fault(SESSION_REVOKE, 2);
        if (rg_intent_close(app, &in) < 0)
            rg_error_clear(); /* the job does it again */
    }
    return rc;
}

int rg__session_revoke_drive(rg_app *app, const rg_intent *in)
{
    const char *dot = strchr(in->subject, '.');
    char uid[RG_OID_LEN + 1];
    if (dot && dot - in->subject == RG_OID_LEN) {
        snprintf(uid, sizeof uid, "%.*s", RG_OID_LEN, in->subject);
        int rc = revoke_writes(app, uid, dot + 1, NULL);
        if (rc < 0 && rc != RG_ENOTFOUND) /* an account erased since has nothing left */
            return rc;
        rg_error_clear();
    }
    return rg_intent_close(app, in);
}

int rg_auth_refresh(rg_app *app, json_t *body, json_t **out)
{
    v_ctx v = {0};
    const char *rt = NULL;
    if (!json_is_object(body))
        return v_not_object(body);
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

int rg_auth_purge_sessions(rg_app *app)
{
    rg_doc_filter f = {.path = "expiresAt", .is_int = true, .ival = rg_now(), .less_than = true};
    return rg_docs_remove_where(&app->st.docs, COLL_SESSIONS, &f, 1);
}

/* Ends every session of user_id: the families named (those the auth
 * document listed) and any other family a session still belongs to. */
int rg__sessions_end_all(rg_app *app, const char *user_id, json_t *families)
{
    size_t i;
    json_t *f;
    int rc = 0;
    json_array_foreach(families, i, f)
    {
        int r = rg__sessions_revoke_family(app, json_string_value(f));
        rc = rc < 0 ? rc : r;
    }
    rg_doc_filter flt = {.path = "userId", .value = user_id};
    for (int round = 0; round < 100; round++) {
        json_t *arr = NULL;
        int r = rg_docs_find(&app->st.docs, COLL_SESSIONS,
                             &(rg_doc_query){.filters = &flt, .nfilters = 1, .limit = 200}, &arr);
        if (r < 0 || json_array_size(arr) == 0) {
            rc = rc < 0 ? rc : r;
            json_decref(arr);
            break;
        }
        json_t *s;
        json_array_foreach(arr, i, s)
        {
            const char *fam =
                json_string_value(json_object_get(json_object_get(s, "doc"), "familyId"));
            if (fam)
                r = rg__sessions_revoke_family(app, fam); /* removes the family's sessions */
            else
                r = rg_docs_remove(&app->st.docs, COLL_SESSIONS,
                                   json_string_value(json_object_get(s, "id")));
            rc = rc < 0 ? rc : r == RG_ENOTFOUND ? 0 : r;
        }
        json_decref(arr);
        if (rc < 0)
            break;
    }
    return rc;
}
