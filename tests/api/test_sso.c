/* Church sign-in over HTTP (OIDC id tokens, RS256): find or create the
 * account, the church account id claim, a first sign-in raced from many
 * connections, every refusal, and the JWKS from a file or a URL.
 *
 * Id tokens are signed with RSA keys made at run time; the service reads
 * their public halves from a JWKS file (RG_SSO_JWKS), or, in one test, from
 * a JWKS URL served over plain HTTP on 127.0.0.1 by a small server of this
 * program. Mails are caught by the mail catcher of support_mail.c. */
#include "support.h"
#include "domain.h"
#include "risinggen/base/error.h"
#include "risinggen/base/id.h"
#include "risinggen/domain/app.h"

#include <netinet/in.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ISSUER   "https://id.church.test"
#define AUDIENCE "risinggen-test"

static EVP_PKEY *key_a, *key_b; /* key_a is in the JWKS as "k1"; key_b nowhere */
static char jwks_path[600];

static void b64url(const void *in, size_t len, char *out)
{
    rg_b64url_encode(in, len, out);
}

static json_t *jwk_of(EVP_PKEY *k, const char *kid)
{
    BIGNUM *n = NULL, *e = NULL;
    EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_N, &n);
    EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_E, &e);
    unsigned char nb[512], eb[16];
    int nl = BN_bn2bin(n, nb), el = BN_bn2bin(e, eb);
    char ns[800], es[32];
    b64url(nb, (size_t)nl, ns);
    b64url(eb, (size_t)el, es);
    BN_free(n);
    BN_free(e);
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "kty", "RSA", "kid", kid, "use", "sig",
                     "alg", "RS256", "n", ns, "e", es);
}

static char *b64_json(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    char *out = malloc(strlen(s) * 4 / 3 + 8);
    b64url(s, strlen(s), out);
    free(s);
    return out;
}

/* A compact JWS of header and claims (both stolen), signed RS256 with k
 * ("signature" replaced by sig_override when given). */
static char *jwt_sign(json_t *header, json_t *claims, EVP_PKEY *k)
{
    char *h = b64_json(header), *c = b64_json(claims);
    json_decref(header);
    json_decref(claims);
    size_t len = strlen(h) + strlen(c) + 1;
    char *input = malloc(len + 1);
    snprintf(input, len + 1, "%s.%s", h, c);
    unsigned char sig[1024];
    size_t siglen = 0;
    if (k) {
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        siglen = sizeof sig;
        assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k), 1);
        assert_int_equal(
            EVP_DigestSign(md, sig, &siglen, (const unsigned char *)input, strlen(input)), 1);
        EVP_MD_CTX_free(md);
    }
    char *out = malloc(len + siglen * 2 + 8);
    char s64[1500] = "";
    if (siglen)
        b64url(sig, siglen, s64);
    sprintf(out, "%s.%s", input, s64);
    free(input);
    free(h);
    free(c);
    return out;
}

static json_t *header_rs256(const char *kid)
{
    return json_pack("{s:s, s:s, s:s}", "alg", "RS256", "typ", "JWT", "kid", kid);
}

/* Claims for church account sub, valid now. */
static json_t *claims_for(const char *sub, const char *email)
{
    long long now = (long long)time(NULL);
    json_t *c =
        json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:s}", "iss", ISSUER, "aud", AUDIENCE, "sub",
                  sub, "iat", (json_int_t)now, "exp", (json_int_t)(now + 600), "given_name",
                  "Grace", "family_name", "Hopper", "name", "Grace Hopper");
    if (email) {
        json_object_set_new(c, "email", json_string(email));
        json_object_set_new(c, "email_verified", json_true());
    }
    return c;
}

static api_resp *sso(const char *token)
{
    return apij("POST", "/v1/auth/sso", json_pack("{s:s}", "idToken", token), NULL);
}

static long sso_status(char *token)
{
    api_resp *r = sso(token);
    long st = r->status;
    if (st == 401)
        assert_problem(r, 401);
    resp_free(r);
    free(token);
    return st;
}

static const char *sub_unique(const char *tag)
{
    static int n;
    return fmt("%s-%d-%ld", tag, ++n, (long)getpid());
}

static void say(int c, const char *s)
{
    ssize_t n = write(c, s, strlen(s));
    (void)n;
}

static struct {
    int fd, port;
    pthread_t thread;
    char *body;
    volatile int stop;
    volatile int hits; /* requests answered */
} jwks_srv = {.fd = -1};

static void *jwks_loop(void *p)
{
    (void)p;
    while (!jwks_srv.stop) {
        struct pollfd pfd = {.fd = jwks_srv.fd, .events = POLLIN};
        if (poll(&pfd, 1, 100) <= 0)
            continue;
        int c = accept(jwks_srv.fd, NULL, NULL);
        if (c < 0)
            continue;
        /* Reads the request head (no body for a GET), then answers. */
        char req[4096];
        size_t len = 0;
        while (len < sizeof req - 1) {
            struct pollfd cp = {.fd = c, .events = POLLIN};
            if (poll(&cp, 1, 5000) <= 0)
                break;
            ssize_t n = read(c, req + len, sizeof req - 1 - len);
            if (n <= 0)
                break;
            len += (size_t)n;
            req[len] = '\0';
            if (strstr(req, "\r\n\r\n"))
                break;
        }
        char head[256];
        snprintf(head, sizeof head,
                 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                 "Connection: close\r\n\r\n",
                 strlen(jwks_srv.body));
        say(c, head);
        say(c, jwks_srv.body);
        __atomic_add_fetch(&jwks_srv.hits, 1, __ATOMIC_SEQ_CST);
        close(c);
    }
    return NULL;
}

static int jwks_srv_start(json_t *set)
{
    jwks_srv.body = json_dumps(set, JSON_COMPACT);
    jwks_srv.stop = 0;
    jwks_srv.hits = 0;
    jwks_srv.fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    if (jwks_srv.fd < 0 || bind(jwks_srv.fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        listen(jwks_srv.fd, 16) < 0 || getsockname(jwks_srv.fd, (struct sockaddr *)&sa, &len) < 0)
        return -1;
    jwks_srv.port = ntohs(sa.sin_port);
    return pthread_create(&jwks_srv.thread, NULL, jwks_loop, NULL);
}

/* Stops answering: the port is closed, so a fetch is refused at once. */
static void jwks_srv_stop(void)
{
    if (jwks_srv.fd < 0)
        return;
    jwks_srv.stop = 1;
    pthread_join(jwks_srv.thread, NULL);
    close(jwks_srv.fd);
    jwks_srv.fd = -1;
    free(jwks_srv.body);
    jwks_srv.body = NULL;
}

static int jwks_hits(void)
{
    return __atomic_load_n(&jwks_srv.hits, __ATOMIC_SEQ_CST);
}

static api_resp *reset_request(const char *email)
{
    return apij("POST", "/v1/auth/password-reset", json_pack("{s:s}", "email", email), NULL);
}

static api_resp *login(const char *email, const char *pw)
{
    return apij("POST", "/v1/auth/login", json_pack("{s:s, s:s}", "email", email, "password", pw),
                NULL);
}

static void sso_find_or_create(void **state)
{
    (void)state;
    const char *sub = sub_unique("acct");
    char subject[64], email[160];
    snprintf(subject, sizeof subject, "%s", sub);
    snprintf(email, sizeof email, "%s", unique_email("church"));
    char *tok = jwt_sign(header_rs256("k1"), claims_for(subject, email), key_a);
    api_resp *r = sso(tok);
    free(tok);
    assert_status(r, 200);
    char id[32], access[160];
    snprintf(id, sizeof id, "%s", jstr(r->json, "user.id"));
    snprintf(access, sizeof access, "%s", jstr(r->json, "accessToken"));
    assert_int_equal(strlen(id), 24);
    assert_true(jstr(r->json, "refreshToken") != NULL);
    assert_true(jint(r->json, "expiresIn") > 0);
    assert_str_eq(jstr(r->json, "user.email"), email);
    assert_str_eq(jstr(r->json, "user.firstName"), "Grace");
    assert_str_eq(jstr(r->json, "user.lastName"), "Hopper");
    assert_str_eq(jstr(r->json, "user.roles.0"), "participant");
    resp_free(r);

    /* The second sign-in finds the same person. */
    tok = jwt_sign(header_rs256("k1"), claims_for(subject, email), key_a);
    r = sso(tok);
    free(tok);
    assert_status(r, 200);
    assert_str_eq(jstr(r->json, "user.id"), id);
    resp_free(r);

    /* The auth document says church_sso and holds no password. */
    r = api("GET", "/v1/users/me/export", NULL, access);
    assert_status(r, 200);
    assert_str_eq(jstr(r->json, "auth.authMethod"), "church_sso");
    assert_str_eq(jstr(r->json, "auth.churchAccountId"), subject);
    assert_false(json_has_key_like(r->json, "passwordHash"));
    resp_free(r);
    /* No password sign-in for this account, and no reset email either. */
    r = login(email, "anything-at-all");
    assert_problem(r, 401);
    resp_free(r);
    r = reset_request(email);
    assert_status(r, 202);
    resp_free(r);
    sleep(2);
    assert_int_equal(mails_to(email, NULL), 0);
}

static void sso_church_account_id_claim(void **state)
{
    (void)state;
    /* church_account_id wins over sub: two subs, one account. */
    json_t *c1 = claims_for(sub_unique("sub-a"), NULL);
    json_object_set_new(c1, "church_account_id", json_string(sub_unique("cai")));
    const char *acct = json_string_value(json_object_get(c1, "church_account_id"));
    char account[64];
    snprintf(account, sizeof account, "%s", acct);
    char *tok = jwt_sign(header_rs256("k1"), c1, key_a);
    api_resp *r = sso(tok);
    free(tok);
    assert_status(r, 200);
    char id[32];
    snprintf(id, sizeof id, "%s", jstr(r->json, "user.id"));
    resp_free(r);
    json_t *c2 = claims_for(sub_unique("sub-b"), NULL);
    json_object_set_new(c2, "church_account_id", json_string(account));
    tok = jwt_sign(header_rs256("k1"), c2, key_a);
    r = sso(tok);
    free(tok);
    assert_status(r, 200);
    assert_str_eq(jstr(r->json, "user.id"), id);
    resp_free(r);
}

static void sso_concurrent_first_sign_in_one_account(void **state)
{
    (void)state;
    const char *sub = sub_unique("race");
    char subject[64];
    snprintf(subject, sizeof subject, "%s", sub);
    enum { N = 6 };
    char *bodies[N];
    api_req reqs[N];
    api_resp *out[N];
    for (int i = 0; i < N; i++) {
        char *tok = jwt_sign(header_rs256("k1"), claims_for(subject, NULL), key_a);
        json_t *b = json_pack("{s:s}", "idToken", tok);
        bodies[i] = json_dumps(b, JSON_COMPACT);
        json_decref(b);
        free(tok);
        reqs[i] = (api_req){.method = "POST", .path = "/v1/auth/sso", .body = bodies[i]};
    }
    api_parallel_threads(N, reqs, out);
    const char *first = NULL;
    for (int i = 0; i < N; i++) {
        assert_status(out[i], 200);
        const char *id = jstr(out[i]->json, "user.id");
        if (!first)
            first = id;
        assert_str_eq(id, first);
    }
    for (int i = 0; i < N; i++) {
        resp_free(out[i]);
        free(bodies[i]);
    }
}

/* A signed id token for subject, as the JSON body of POST /v1/auth/sso
 * (rotating buffer). */
static const char *sso_body(const char *subject)
{
    char *tok = jwt_sign(header_rs256("k1"), claims_for(subject, NULL), key_a);
    const char *body = fmt("{\"idToken\":\"%s\"}", tok);
    free(tok);
    return body;
}

/* What the stores hold of account id: its auth and user documents (0 or
 * RG_ENOTFOUND) and how many links name it. */
static void sso_account_state(const char *id, int *auth, int *user, size_t *links)
{
    rg_app app;
    api_open_stores(&app);
    json_t *doc = NULL;
    *auth = rg_docs_get(&app.st.docs, COLL_AUTH, id, &doc, NULL);
    json_decref(doc);
    doc = NULL;
    *user = rg_docs_get(&app.st.docs, COLL_USERS, id, &doc, NULL);
    json_decref(doc);
    rg_doc_filter f = {.path = "userId", .value = id};
    json_t *arr = NULL;
    assert_int_equal(rg_docs_find(&app.st.docs, COLL_SSO_LINKS,
                                  &(rg_doc_query){.filters = &f, .nfilters = 1, .limit = 10}, &arr),
                     0);
    *links = json_array_size(arr);
    json_decref(arr);
    rg_error_clear();
    rg_app_close(&app);
}

/* A first sign-in stopped after each step (sso.signin: 0 the intent, 1 the
 * link, 2 the auth document, 3 the user document): stopped before the user
 * document, nothing of the account stays once the server is back and the
 * next sign-in makes it afresh; after it, the account stands and the next
 * sign-in finds it. */
static void sso_first_sign_in_stopped_after_each_step(void **state)
{
    (void)state;
    for (int step = 0; step <= 3; step++) {
        char subject[64];
        snprintf(subject, sizeof subject, "%s", sub_unique(fmt("crash%d", step)));
        /* As on a documents store without transactions: one document
         * after the other. */
        setenv("RG_FAULT_NO_ATOMIC", "1", 1);
        crash_restart(fmt("sso.signin:%d", step));
        unsetenv("RG_FAULT_NO_ATOMIC");
        crash_stopped_request("POST", "/v1/auth/sso", sso_body(subject), NULL);
        rg_app app;
        api_open_stores(&app);
        char kind[32] = "", id[64] = "";
        assert_int_equal(crash_intents_left(&app, kind, id), 1);
        assert_string_equal(kind, "sso.signin");
        rg_app_close(&app);
        crash_age_intents();
        crash_restart(NULL);
        int auth, user;
        size_t links;
        sso_account_state(id, &auth, &user, &links);
        api_open_stores(&app);
        assert_int_equal(crash_intents_left(&app, NULL, NULL), 0);
        rg_app_close(&app);
        if (step < 3) {
            if (auth != RG_ENOTFOUND || user != RG_ENOTFOUND || links != 0)
                fail_msg("step %d: auth %d, user %d, %zu link(s) left of %s", step, auth, user,
                         links, id);
        } else {
            assert_int_equal(auth, 0);
            assert_int_equal(user, 0);
            assert_int_equal(links, 1);
        }
        api_resp *r = api("POST", "/v1/auth/sso", sso_body(subject), NULL);
        assert_status(r, 200);
        if (step < 3)
            assert_string_not_equal(jstr(r->json, "user.id"), id);
        else
            assert_str_eq(jstr(r->json, "user.id"), id);
        resp_free(r);
    }
}

/* On a documents store that runs transactions, a first sign-in writes
 * the link, auth and user documents in one and records no intent: stopped
 * right after it, the account is whole and the next sign-in finds it. */
static void sso_first_sign_in_in_one_transaction(void **state)
{
    (void)state;
    crash_need_atomic("first church sign-in in one transaction");
    rg_app app;
    char subject[64];
    snprintf(subject, sizeof subject, "%s", sub_unique("crashatomic"));
    crash_restart("sso.signin:3");
    crash_stopped_request("POST", "/v1/auth/sso", sso_body(subject), NULL);
    api_open_stores(&app);
    assert_int_equal(crash_intents_left(&app, NULL, NULL), 0);
    rg_app_close(&app);
    crash_restart(NULL);
    api_resp *r = api("POST", "/v1/auth/sso", sso_body(subject), NULL);
    assert_status(r, 200);
    char id[32];
    snprintf(id, sizeof id, "%s", jstr(r->json, "user.id"));
    resp_free(r);
    int auth, user;
    size_t links;
    sso_account_state(id, &auth, &user, &links);
    assert_int_equal(auth, 0);
    assert_int_equal(user, 0);
    assert_int_equal(links, 1);
}

/* A sign-in while the account is being erased, after the erasure removed
 * the link and before it removed the account: the sign-in must not link
 * the church account to the erased id again, but make a new account. */
static void sso_during_erasure_makes_a_new_account(void **state)
{
    (void)state;
    char subject[64], old[32];
    snprintf(subject, sizeof subject, "%s", sub_unique("erasing"));
    api_resp *r = api("POST", "/v1/auth/sso", sso_body(subject), NULL);
    assert_status(r, 200);
    snprintf(old, sizeof old, "%s", jstr(r->json, "user.id"));
    resp_free(r);
    /* The erasure's steps 1 and 3: the account closed, the link removed. */
    rg_app app;
    api_open_stores(&app);
    json_t *auth = NULL;
    int64_t rev;
    assert_int_equal(rg_docs_get(&app.st.docs, COLL_AUTH, old, &auth, &rev), 0);
    json_object_set_new(auth, "erasing", json_true());
    assert_int_equal(rg_docs_replace(&app.st.docs, COLL_AUTH, old, auth, rev), 0);
    json_decref(auth);
    rg_doc_filter f = {.path = "userId", .value = old};
    assert_int_equal(rg_docs_remove_where(&app.st.docs, COLL_SSO_LINKS, &f, 1), 1);
    rg_app_close(&app);

    r = api("POST", "/v1/auth/sso", sso_body(subject), NULL);
    assert_status(r, 200);
    assert_string_not_equal(jstr(r->json, "user.id"), old);
    resp_free(r);
    int a, u;
    size_t links;
    sso_account_state(old, &a, &u, &links);
    assert_int_equal(links, 0);
}

static void sso_refusals(void **state)
{
    (void)state;
    long long now = (long long)time(NULL);
    const char *sub = sub_unique("bad");
    char subject[64];
    snprintf(subject, sizeof subject, "%s", sub);

    /* Signed by a key the service does not have, under a known kid. */
    assert_int_equal(sso_status(jwt_sign(header_rs256("k1"), claims_for(subject, NULL), key_b)),
                     401);
    /* A kid that is not in the key set. */
    assert_int_equal(sso_status(jwt_sign(header_rs256("nope"), claims_for(subject, NULL), key_a)),
                     401);
    /* No kid at all. */
    assert_int_equal(
        sso_status(jwt_sign(json_pack("{s:s}", "alg", "RS256"), claims_for(subject, NULL), key_a)),
        401);
    /* alg none, with and without a signature. */
    assert_int_equal(sso_status(jwt_sign(json_pack("{s:s, s:s}", "alg", "none", "kid", "k1"),
                                         claims_for(subject, NULL), NULL)),
                     401);
    assert_int_equal(sso_status(jwt_sign(json_pack("{s:s, s:s}", "alg", "none", "kid", "k1"),
                                         claims_for(subject, NULL), key_a)),
                     401);
    /* HS256 keyed with the public key's JWKS text (the classic confusion). */
    {
        json_t *hs = json_pack("{s:s, s:s}", "alg", "HS256", "kid", "k1");
        char *h = b64_json(hs);
        json_decref(hs);
        json_t *cl = claims_for(subject, NULL);
        char *c = b64_json(cl);
        json_decref(cl);
        char input[4096];
        snprintf(input, sizeof input, "%s.%s", h, c);
        FILE *f = fopen(jwks_path, "r");
        char secret[8192];
        size_t sl = fread(secret, 1, sizeof secret, f);
        fclose(f);
        unsigned char mac[32];
        unsigned int ml = 0;
        HMAC(EVP_sha256(), secret, (int)sl, (unsigned char *)input, strlen(input), mac, &ml);
        char m64[64];
        b64url(mac, ml, m64);
        char *tok = malloc(strlen(input) + 80);
        sprintf(tok, "%s.%s", input, m64);
        assert_int_equal(sso_status(tok), 401);
        free(h);
        free(c);
    }
    /* A changed payload under a good signature. */
    {
        char *tok = jwt_sign(header_rs256("k1"), claims_for(subject, NULL), key_a);
        char *other = jwt_sign(header_rs256("k1"), claims_for("someone-else", NULL), key_b);
        char *d1 = strchr(tok, '.'), *d2 = strchr(d1 + 1, '.');
        char *o1 = strchr(other, '.'), *o2 = strchr(o1 + 1, '.');
        char *mixed = malloc(strlen(tok) + strlen(other) + 1);
        sprintf(mixed, "%.*s%.*s%s", (int)(d1 - tok), tok, (int)(o2 - o1), o1, d2);
        free(tok);
        free(other);
        assert_int_equal(sso_status(mixed), 401);
    }
    /* Expired (beyond the 60 s leeway), and within it. */
    json_t *c = claims_for(subject, NULL);
    json_object_set_new(c, "exp", json_integer(now - 300));
    json_object_set_new(c, "iat", json_integer(now - 900));
    assert_int_equal(sso_status(jwt_sign(header_rs256("k1"), c, key_a)), 401);
    c = claims_for(subject, NULL);
    json_object_set_new(c, "exp", json_integer(now - 20));
    assert_int_equal(sso_status(jwt_sign(header_rs256("k1"), c, key_a)), 200);
    /* Issued in the future; not valid before a future time. */
    c = claims_for(subject, NULL);
    json_object_set_new(c, "iat", json_integer(now + 3600));
    assert_int_equal(sso_status(jwt_sign(header_rs256("k1"), c, key_a)), 401);
    c = claims_for(subject, NULL);
    json_object_set_new(c, "nbf", json_integer(now + 3600));
    assert_int_equal(sso_status(jwt_sign(header_rs256("k1"), c, key_a)), 401);
    /* Missing exp. */
    c = claims_for(subject, NULL);
    json_object_del(c, "exp");
    assert_int_equal(sso_status(jwt_sign(header_rs256("k1"), c, key_a)), 401);
    /* Wrong audience, wrong issuer; an audience array that holds ours is fine. */
    c = claims_for(subject, NULL);
    json_object_set_new(c, "aud", json_string("someone-else"));
    assert_int_equal(sso_status(jwt_sign(header_rs256("k1"), c, key_a)), 401);
    c = claims_for(subject, NULL);
    json_object_set_new(c, "aud", json_pack("[s, s]", "other", "another"));
    assert_int_equal(sso_status(jwt_sign(header_rs256("k1"), c, key_a)), 401);
    c = claims_for(subject, NULL);
    json_object_set_new(c, "iss", json_string("https://evil.test"));
    assert_int_equal(sso_status(jwt_sign(header_rs256("k1"), c, key_a)), 401);
    c = claims_for(subject, NULL);
    json_object_set_new(c, "aud", json_pack("[s, s]", "other", AUDIENCE));
    assert_int_equal(sso_status(jwt_sign(header_rs256("k1"), c, key_a)), 200);
    /* No subject. */
    c = claims_for(subject, NULL);
    json_object_del(c, "sub");
    assert_int_equal(sso_status(jwt_sign(header_rs256("k1"), c, key_a)), 401);
    /* Not a JWT at all; not JSON; no body. */
    static const char *const junk[] = {"", "abc", "a.b", "a.b.c.d", "...", "e30.e30.", "!!.??.##"};
    for (size_t i = 0; i < N_ELEMS(junk); i++) {
        api_resp *r = sso(junk[i]);
        assert_true(r->status == 401 || r->status == 422);
        resp_free(r);
    }
    api_resp *r = api("POST", "/v1/auth/sso", "{}", NULL);
    assert_problem(r, 422);
    resp_free(r);
    r = api("POST", "/v1/auth/sso", "{\"idToken\":5}", NULL);
    assert_problem(r, 422);
    resp_free(r);
}

/* An address the church did not verify is not taken: the profile has no
 * email and the address stays free for its owner. */
static void sso_unverified_email_not_taken(void **state)
{
    (void)state;
    char email[160];
    snprintf(email, sizeof email, "%s", unique_email("unverified"));
    for (int variant = 0; variant < 2; variant++) {
        json_t *claims = claims_for(sub_unique("unverified"), email);
        if (variant == 0)
            json_object_del(claims, "email_verified");
        else
            json_object_set_new(claims, "email_verified", json_false());
        char *tok = jwt_sign(header_rs256("k1"), claims, key_a);
        api_resp *r = sso(tok);
        free(tok);
        assert_status(r, 200);
        assert_null(jstr(r->json, "user.email"));
        resp_free(r);
    }
    api_user owner;
    user_signup_email(&owner, email);
}

static void sso_email_of_password_account(void **state)
{
    (void)state;
    api_user u;
    user_signup(&u, "taken");
    char *tok = jwt_sign(header_rs256("k1"), claims_for(sub_unique("clash"), u.email), key_a);
    api_resp *r = sso(tok);
    free(tok);
    assert_problem(r, 409);
    resp_free(r);
    /* The password account is untouched. */
    r = login(u.email, u.password);
    assert_status(r, 200);
    assert_str_eq(jstr(r->json, "user.id"), u.id);
    resp_free(r);
}

/* The size of the server's log (where the command line's errors go too). */
static long log_size(void)
{
    struct stat st;
    return stat(g_srv.log, &st) == 0 ? (long)st.st_size : 0;
}

/* Whether the server's log holds needle after its first from bytes. */
static bool log_has_since(long from, const char *needle)
{
    FILE *f = fopen(g_srv.log, "r");
    if (!f)
        return false;
    fseek(f, from, SEEK_SET);
    char line[4096];
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

/* Restarts the service with RG_SSO_JWKS set to src. */
static void restart_with_jwks(const char *src)
{
    setenv("RG_SSO_JWKS", src, 1);
    assert_int_equal(srv_stop(&g_srv), 0);
    assert_int_equal(srv_start(&g_srv, g_srv.dir), 0);
}

static void sso_jwks_url(void **state)
{
    (void)state;
    json_t *set = json_pack("{s:[o]}", "keys", jwk_of(key_a, "k1"));
    assert_int_equal(jwks_srv_start(set), 0);
    json_decref(set);
    restart_with_jwks(fmt("http://127.0.0.1:%d/jwks.json", jwks_srv.port));
    char subject[64];
    snprintf(subject, sizeof subject, "%s", sub_unique("url"));

    /* The first sign-in fetches the set; the next ones use the kept copy. */
    assert_int_equal(sso_status(jwt_sign(header_rs256("k1"), claims_for(subject, NULL), key_a)),
                     200);
    assert_int_equal(jwks_hits(), 1);
    assert_int_equal(sso_status(jwt_sign(header_rs256("k1"), claims_for(subject, NULL), key_a)),
                     200);
    assert_int_equal(jwks_hits(), 1);
    /* A kid the set lacks asks the provider again at most once, however
     * often it comes. */
    for (int i = 0; i < 3; i++)
        assert_int_equal(
            sso_status(jwt_sign(header_rs256("rotated"), claims_for(subject, NULL), key_b)), 401);
    assert_true(jwks_hits() <= 2);

    /* The provider goes away: the kept set still signs people in, and an
     * unknown kid is still refused 401 (not 5xx). */
    jwks_srv_stop();
    assert_int_equal(sso_status(jwt_sign(header_rs256("k1"), claims_for(subject, NULL), key_a)),
                     200);
    assert_int_equal(
        sso_status(jwt_sign(header_rs256("rotated"), claims_for(subject, NULL), key_b)), 401);
    assert_int_equal(sso_status(jwt_sign(header_rs256("k1"), claims_for(subject, NULL), key_a)),
                     200);

    /* Plain http to any other host is refused before anything is fetched,
     * also when the URL only looks like loopback (user info): the service
     * does not start with it, and says which setting is wrong. */
    const char *refused[] = {"http://192.0.2.1/jwks.json", "http://127.0.0.1@192.0.2.1/jwks.json",
                             "http://127.0.0.1.example.test/jwks.json"};
    assert_int_equal(srv_stop(&g_srv), 0);
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        setenv("RG_SSO_JWKS", refused[i], 1);
        long from = log_size();
        assert_int_not_equal(srv_cli(&g_srv, NULL, 0, "check", NULL), 0);
        assert_true(log_has_since(from, "RG_SSO_JWKS must be an https:// URL"));
    }
    setenv("RG_SSO_JWKS", jwks_path, 1);
    assert_int_equal(srv_start(&g_srv, g_srv.dir), 0);
    assert_int_equal(sso_status(jwt_sign(header_rs256("k1"), claims_for(subject, NULL), key_a)),
                     200);
}

static int setup(void **state)
{
    if (mail_catcher_start() != 0) {
        print_error("cannot start the mail catcher\n");
        return -1;
    }

    key_a = EVP_RSA_gen(2048);
    key_b = EVP_RSA_gen(2048);
    if (!key_a || !key_b)
        return -1;
    const char *tmp = getenv("RG_TEST_TMP");
    if (!tmp || !*tmp)
        tmp = "/tmp/rg-test-tmp";
    mkdir(tmp, 0755);
    snprintf(jwks_path, sizeof jwks_path, "%s/jwks-%ld.json", tmp, (long)getpid());
    /* A second, unrelated key in the set makes the kid matter. */
    EVP_PKEY *key_c = EVP_RSA_gen(2048);
    json_t *set = json_pack("{s:[o, o]}", "keys", jwk_of(key_a, "k1"), jwk_of(key_c, "k3"));
    EVP_PKEY_free(key_c);
    if (json_dump_file(set, jwks_path, JSON_COMPACT) != 0)
        return -1;
    json_decref(set);
    setenv("RG_SSO_ISSUER", ISSUER, 1);
    setenv("RG_SSO_AUDIENCE", AUDIENCE, 1);
    setenv("RG_SSO_JWKS", jwks_path, 1);
    return api_setup(state);
}

static int teardown(void **state)
{
    int rc = api_teardown(state);
    mail_catcher_stop();
    jwks_srv_stop();
    unlink(jwks_path);
    EVP_PKEY_free(key_a);
    EVP_PKEY_free(key_b);
    return rc;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sso_find_or_create),
        cmocka_unit_test(sso_church_account_id_claim),
        cmocka_unit_test(sso_concurrent_first_sign_in_one_account),
        cmocka_unit_test(sso_first_sign_in_stopped_after_each_step),
        cmocka_unit_test(sso_first_sign_in_in_one_transaction),
        cmocka_unit_test(sso_during_erasure_makes_a_new_account),
        cmocka_unit_test(sso_refusals),
        cmocka_unit_test(sso_email_of_password_account),
        cmocka_unit_test(sso_unverified_email_not_taken),
        cmocka_unit_test(sso_jwks_url),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
