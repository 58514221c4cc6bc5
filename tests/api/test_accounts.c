/* Password reset, church sign-in (OIDC id tokens, RS256) and the audit log,
 * over HTTP.
 *
 * Reset emails are caught by a small SMTP server of this program
 * (RG_SMTP_URL points the service's outbox at it). Id tokens are signed
 * with RSA keys made at run time; the service reads their public halves
 * from a JWKS file (RG_SSO_JWKS), or, in one test, from a JWKS URL served
 * over plain HTTP on 127.0.0.1 by a small server of this program. */
#include "testcfg.h"
#include "support.h"
#include "risinggen/domain/app.h"
#include "risinggen/base/clock.h"
#include "risinggen/base/id.h"

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

/* ---- a mail catcher: just enough SMTP for libcurl ---- */

#define MAX_MAILS 256

static struct {
    int fd, port;
    pthread_t thread;
    pthread_mutex_t mu;
    char *rcpt[MAX_MAILS], *data[MAX_MAILS];
    int n;
    volatile int stop;
} smtp = {.fd = -1, .mu = PTHREAD_MUTEX_INITIALIZER};

static void say(int c, const char *s)
{
    ssize_t n = write(c, s, strlen(s));
    (void)n;
}

static void smtp_session(int c)
{
    FILE *in = fdopen(dup(c), "r");
    if (!in)
        return;
    char line[2048], rcpt[512] = "";
    say(c, "220 catcher ESMTP\r\n");
    while (fgets(line, sizeof line, in)) {
        if (strncasecmp(line, "EHLO", 4) == 0 || strncasecmp(line, "HELO", 4) == 0) {
            say(c, "250 catcher\r\n");
        } else if (strncasecmp(line, "MAIL FROM:", 10) == 0 || strncasecmp(line, "RSET", 4) == 0 ||
                   strncasecmp(line, "NOOP", 4) == 0) {
            say(c, "250 OK\r\n");
        } else if (strncasecmp(line, "RCPT TO:", 8) == 0) {
            const char *lt = strchr(line, '<'), *gt = lt ? strchr(lt, '>') : NULL;
            if (lt && gt)
                snprintf(rcpt, sizeof rcpt, "%.*s", (int)(gt - lt - 1), lt + 1);
            say(c, "250 OK\r\n");
        } else if (strncasecmp(line, "DATA", 4) == 0) {
            say(c, "354 go on\r\n");
            size_t cap = 4096, len = 0;
            char *buf = malloc(cap);
            while (fgets(line, sizeof line, in) && strcmp(line, ".\r\n") != 0) {
                size_t l = strlen(line);
                if (len + l + 1 > cap)
                    buf = realloc(buf, cap = (len + l + 1) * 2);
                memcpy(buf + len, line, l);
                len += l;
            }
            buf[len] = '\0';
            pthread_mutex_lock(&smtp.mu);
            if (smtp.n < MAX_MAILS) {
                smtp.rcpt[smtp.n] = strdup(rcpt);
                smtp.data[smtp.n] = buf;
                smtp.n++;
            } else {
                free(buf);
            }
            pthread_mutex_unlock(&smtp.mu);
            say(c, "250 queued\r\n");
        } else if (strncasecmp(line, "QUIT", 4) == 0) {
            say(c, "221 bye\r\n");
            break;
        } else {
            say(c, "502 not here\r\n");
        }
    }
    fclose(in);
}

static void *smtp_loop(void *p)
{
    (void)p;
    while (!smtp.stop) {
        struct pollfd pfd = {.fd = smtp.fd, .events = POLLIN};
        if (poll(&pfd, 1, 200) <= 0)
            continue;
        int c = accept(smtp.fd, NULL, NULL);
        if (c < 0)
            continue;
        smtp_session(c);
        close(c);
    }
    return NULL;
}

static int smtp_start(void)
{
    smtp.fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    if (smtp.fd < 0 || bind(smtp.fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        listen(smtp.fd, 16) < 0 || getsockname(smtp.fd, (struct sockaddr *)&sa, &len) < 0)
        return -1;
    smtp.port = ntohs(sa.sin_port);
    return pthread_create(&smtp.thread, NULL, smtp_loop, NULL);
}

/* How many mails went to rcpt so far. */
static int mails_to(const char *rcpt)
{
    int n = 0;
    pthread_mutex_lock(&smtp.mu);
    for (int i = 0; i < smtp.n; i++)
        n += strcasecmp(smtp.rcpt[i], rcpt) == 0;
    pthread_mutex_unlock(&smtp.mu);
    return n;
}

/* The body of the nth (0-based) mail to rcpt whose text holds needle,
 * waiting up to 15 s for it; NULL when none came. Caller frees. */
static char *wait_mail(const char *rcpt, const char *needle, int nth)
{
    for (int i = 0; i < 300; i++) {
        char *found = NULL;
        int seen = 0;
        pthread_mutex_lock(&smtp.mu);
        for (int k = 0; k < smtp.n && !found; k++)
            if (strcasecmp(smtp.rcpt[k], rcpt) == 0 && strstr(smtp.data[k], needle) &&
                seen++ == nth)
                found = strdup(smtp.data[k]);
        pthread_mutex_unlock(&smtp.mu);
        if (found)
            return found;
        usleep(50 * 1000);
    }
    return NULL;
}

/* The reset code of the nth reset mail to rcpt (static buffer). */
static const char *reset_code(const char *rcpt, int nth)
{
    static char code[128];
    char *mail = wait_mail(rcpt, "Your reset code: ", nth);
    assert_non_null(mail);
    const char *p = strstr(mail, "Your reset code: ") + strlen("Your reset code: ");
    size_t n = strcspn(p, "\r\n");
    assert_true(n >= 22 && n < sizeof code); /* 128 bits at least, base64url */
    snprintf(code, sizeof code, "%.*s", (int)n, p);
    free(mail);
    return code;
}

/* ---- RSA keys and id tokens ---- */

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
    if (email)
        json_object_set_new(c, "email", json_string(email));
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

/* ---- a JWKS server: answers every GET with the key set ---- */

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

/* ---- password reset ---- */

static api_resp *reset_request(const char *email)
{
    return apij("POST", "/v1/auth/password-reset", json_pack("{s:s}", "email", email), NULL);
}

static api_resp *reset_confirm(const char *token, const char *pw)
{
    return apij("POST", "/v1/auth/password-reset/confirm",
                json_pack("{s:s, s:s}", "token", token, "newPassword", pw), NULL);
}

static api_resp *login(const char *email, const char *pw)
{
    return apij("POST", "/v1/auth/login", json_pack("{s:s, s:s}", "email", email, "password", pw),
                NULL);
}

static void reset_same_answer_for_unknown_email(void **state)
{
    (void)state;
    api_user u;
    user_signup(&u, "same");
    api_resp *known = reset_request(u.email);
    api_resp *unknown = reset_request(unique_email("nobody"));
    assert_status(known, 202);
    assert_status(unknown, 202);
    assert_str_eq(known->body, unknown->body);
    assert_str_eq(known->content_type, unknown->content_type);
    resp_free(known);
    resp_free(unknown);
    /* Case does not matter, and the answer never names the account. */
    char upper[160];
    snprintf(upper, sizeof upper, "%s", u.email);
    for (char *p = upper; *p; p++)
        *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
    api_resp *r = reset_request(upper);
    assert_status(r, 202);
    assert_null(strstr(r->body, u.id));
    resp_free(r);
    /* A malformed body is still refused. */
    r = api("POST", "/v1/auth/password-reset", "{\"email\":5}", NULL);
    assert_problem(r, 422);
    resp_free(r);
    r = api("POST", "/v1/auth/password-reset", "{}", NULL);
    assert_problem(r, 422);
    resp_free(r);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void reset_similar_timing(void **state)
{
    (void)state;
    /* Median of a few of each: an account's writes do not show. */
    api_user u;
    user_signup(&u, "timing");
    double known[5], unknown[5];
    for (int i = 0; i < 5; i++) {
        double t = now_s();
        api_resp *r = reset_request(i < 3 ? u.email : unique_email("ghost"));
        assert_status(r, 202);
        resp_free(r);
        known[i] = now_s() - t;
        t = now_s();
        r = reset_request(unique_email("ghost"));
        assert_status(r, 202);
        resp_free(r);
        unknown[i] = now_s() - t;
    }
    for (int i = 0; i < 5; i++)
        for (int j = i + 1; j < 5; j++) {
            if (known[j] < known[i]) {
                double x = known[i];
                known[i] = known[j];
                known[j] = x;
            }
            if (unknown[j] < unknown[i]) {
                double x = unknown[i];
                unknown[i] = unknown[j];
                unknown[j] = x;
            }
        }
    print_message("reset timing: known %.1f ms, unknown %.1f ms (medians)\n", known[2] * 1000,
                  unknown[2] * 1000);
    assert_true(unknown[2] * 1.5 + 0.010 > known[2]);
    assert_true(known[2] * 1.5 + 0.010 > unknown[2]);
}

static void reset_flow(void **state)
{
    (void)state;
    api_user u;
    user_signup(&u, "reset");
    /* Two sessions, one refreshed: all of them end with the reset. */
    api_user other = u;
    user_login(&other);
    api_resp *r =
        apij("POST", "/v1/auth/refresh", json_pack("{s:s}", "refreshToken", u.refresh), NULL);
    assert_status(r, 200);
    char refreshed[200];
    snprintf(refreshed, sizeof refreshed, "%s", jstr(r->json, "refreshToken"));
    resp_free(r);
    /* Some failed logins count towards the lockout. */
    for (int i = 0; i < 4; i++) {
        r = login(u.email, "wrong-password-1");
        assert_problem(r, 401);
        resp_free(r);
    }

    r = reset_request(u.email);
    assert_status(r, 202);
    resp_free(r);
    char code[128];
    snprintf(code, sizeof code, "%s", reset_code(u.email, 0));

    /* A wrong code, and a new password that breaks the rules. */
    r = reset_confirm("not-the-code-at-all", "brand-new-pass-1");
    assert_problem(r, 400);
    assert_field_error(r, "token");
    resp_free(r);
    r = reset_confirm(code, "short");
    assert_problem(r, 422);
    resp_free(r);

    r = reset_confirm(code, "brand-new-pass-1");
    assert_status(r, 204);
    resp_free(r);
    /* Single use. */
    r = reset_confirm(code, "another-pass-22");
    assert_problem(r, 400);
    resp_free(r);

    /* Every session and refresh-token family ended. */
    const char *tokens[] = {u.access, other.access};
    for (size_t i = 0; i < N_ELEMS(tokens); i++) {
        r = api("GET", "/v1/users/me", NULL, tokens[i]);
        assert_problem(r, 401);
        resp_free(r);
    }
    const char *refreshes[] = {refreshed, other.refresh};
    for (size_t i = 0; i < N_ELEMS(refreshes); i++) {
        r = apij("POST", "/v1/auth/refresh", json_pack("{s:s}", "refreshToken", refreshes[i]),
                 NULL);
        assert_problem(r, 401);
        resp_free(r);
    }
    /* The old password is gone, the new one works, and the lockout counter
     * was cleared (four failures before + two now would lock otherwise). */
    for (int i = 0; i < 2; i++) {
        r = login(u.email, u.password);
        assert_problem(r, 401);
        resp_free(r);
    }
    r = login(u.email, "brand-new-pass-1");
    assert_status(r, 200);
    assert_str_eq(jstr(r->json, "user.id"), u.id);
    /* Nothing about the reset leaks into the profile. */
    assert_false(json_has_key_like(r->json, "reset"));
    resp_free(r);
    /* The person is told their password changed. */
    char *notice = wait_mail(u.email, "password of your RisingGen account was just changed", 0);
    assert_non_null(notice);
    assert_null(strstr(notice, code));
    free(notice);
}

static void reset_latest_code_only_and_throttled(void **state)
{
    (void)state;
    api_user u;
    user_signup(&u, "twice");
    api_resp *r = reset_request(u.email);
    assert_status(r, 202);
    resp_free(r);
    char first[128];
    snprintf(first, sizeof first, "%s", reset_code(u.email, 0));
    r = reset_request(u.email);
    assert_status(r, 202);
    resp_free(r);
    char second[128];
    snprintf(second, sizeof second, "%s", reset_code(u.email, 1));
    assert_string_not_equal(first, second);
    /* Only the latest code works. */
    r = reset_confirm(first, "brand-new-pass-2");
    assert_problem(r, 400);
    resp_free(r);
    r = reset_confirm(second, "brand-new-pass-2");
    assert_status(r, 204);
    resp_free(r);
    /* At most three emails per account per 15 minutes; still 202. */
    for (int i = 0; i < 3; i++) {
        r = reset_request(u.email);
        assert_status(r, 202);
        resp_free(r);
    }
    sleep(3); /* the outbox sends every second */
    int n = 0;
    pthread_mutex_lock(&smtp.mu);
    for (int i = 0; i < smtp.n; i++)
        n += strcasecmp(smtp.rcpt[i], u.email) == 0 && strstr(smtp.data[i], "Your reset code: ");
    pthread_mutex_unlock(&smtp.mu);
    assert_int_equal(n, 3);
}

/* The service's stores, opened by this program (the server keeps running:
 * SQLite in WAL mode and PostgreSQL both allow it). */
static void open_stores(rg_app *app)
{
    char rel[600], docs[600], search[600];
    snprintf(rel, sizeof rel, "%s", g_srv.relational_url);
    if (!rel[0])
        snprintf(rel, sizeof rel, "sqlite:%s/relational.db", g_srv.dir);
    snprintf(docs, sizeof docs, "%s", g_srv.document_url);
    if (!docs[0])
        snprintf(docs, sizeof docs, "sqlite:%s/documents.db", g_srv.dir);
    snprintf(search, sizeof search, "sqlite:%s/search.db", g_srv.dir);
    static rg_config cfg;
    rg_config_free(&cfg);
    rg_test_config(&cfg, rel, docs, g_srv.cache_url[0] ? g_srv.cache_url : "memory:", search);
    assert_int_equal(rg_app_open(app, &cfg, false), 0);
}

static void reset_expired_code_refused(void **state)
{
    (void)state;
    api_user u;
    user_signup(&u, "expired");
    api_resp *r = reset_request(u.email);
    assert_status(r, 202);
    resp_free(r);
    char code[128];
    snprintf(code, sizeof code, "%s", reset_code(u.email, 0));
    /* 31 minutes later, as far as the stored expiry is concerned. */
    rg_app app;
    open_stores(&app);
    json_t *auth = NULL;
    int64_t rev = 0;
    assert_int_equal(rg_docs_get(&app.st.docs, "auth", u.id, &auth, &rev), 0);
    assert_true(json_is_string(json_object_get(auth, "passwordResetToken")));
    /* Only the hash is stored, never the code itself. */
    assert_int_equal(strlen(json_string_value(json_object_get(auth, "passwordResetToken"))), 64);
    char *text = json_dumps(auth, JSON_COMPACT);
    assert_null(strstr(text, code));
    free(text);
    char past[RG_TIME_LEN + 1];
    rg_time_format(rg_now() - 60, past);
    json_object_set_new(auth, "passwordResetExpiry", json_string(past));
    assert_int_equal(rg_docs_replace(&app.st.docs, "auth", u.id, auth, rev), 0);
    json_decref(auth);
    rg_app_close(&app);
    r = reset_confirm(code, "brand-new-pass-3");
    assert_problem(r, 400);
    resp_free(r);
    /* It stays refused, and the old password still works. */
    r = reset_confirm(code, "brand-new-pass-3");
    assert_problem(r, 400);
    resp_free(r);
    r = login(u.email, u.password);
    assert_status(r, 200);
    resp_free(r);
}

static void reset_unknown_email_sends_nothing(void **state)
{
    (void)state;
    const char *ghost = unique_email("ghost-mail");
    char email[160];
    snprintf(email, sizeof email, "%s", ghost);
    api_resp *r = reset_request(email);
    assert_status(r, 202);
    resp_free(r);
    sleep(2);
    assert_int_equal(mails_to(email), 0);
}

static void reset_token_is_not_logged(void **state)
{
    (void)state;
    api_user u;
    user_signup(&u, "nolog");
    api_resp *r = reset_request(u.email);
    assert_status(r, 202);
    resp_free(r);
    char code[128];
    snprintf(code, sizeof code, "%s", reset_code(u.email, 0));
    FILE *f = fopen(g_srv.log, "r");
    assert_non_null(f);
    char line[8192];
    while (fgets(line, sizeof line, f))
        assert_null(strstr(line, code));
    fclose(f);
}

/* ---- church sign-in ---- */

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
    assert_int_equal(mails_to(email), 0);
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

/* ---- audit log ---- */

static json_t *audit(const char *query)
{
    api_resp *r = api("GET", fmt("/v1/admin/audit%s", query), NULL, admin_user()->access);
    assert_status(r, 200);
    json_t *j = json_incref(r->json);
    resp_free(r);
    return j;
}

/* The first entry of items with action and targetId, or NULL. */
static json_t *find_entry(json_t *page, const char *action, const char *target)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(page, "items"), i, e)
    {
        if (strcmp(jstr(e, "action"), action) == 0 && jstr(e, "targetId") &&
            strcmp(jstr(e, "targetId"), target) == 0)
            return e;
    }
    return NULL;
}

static void audit_records_actions(void **state)
{
    (void)state;
    api_user org, p1, p2, p3;
    organizer_signup(&org, "aud-org");
    user_signup(&p1, "aud-p1");
    user_signup(&p2, "aud-p2");
    user_signup(&p3, "aud-p3");
    api_user *admin = admin_user();
    long long ev = event_create_published(org.access, NULL);
    long long r1 = register_ok(p1.access, ev, "confirmed");
    long long r2 = register_ok(p2.access, ev, "confirmed");
    long long r3 = register_ok(p3.access, ev, "confirmed");
    api_resp *r = api("POST", fmt("/v1/registrations/%lld/check-in", r1), NULL, org.access);
    assert_status(r, 200);
    resp_free(r);
    r = api("POST", fmt("/v1/registrations/%lld/cancel", r2), "{\"reason\":\"double booked\"}",
            org.access);
    assert_status(r, 200);
    resp_free(r);
    /* A person cancelling their own registration is not an organizer action. */
    r = api("POST", fmt("/v1/registrations/%lld/cancel", r3), NULL, p3.access);
    assert_status(r, 200);
    resp_free(r);
    r = api("PATCH", fmt("/v1/events/%lld", ev), "{\"status\":\"completed\"}", org.access);
    assert_status(r, 200);
    resp_free(r);

    const char *evs = fmt("%lld", ev);
    char ev_s[32], r1_s[32], r2_s[32], r3_s[32];
    snprintf(ev_s, sizeof ev_s, "%s", evs);
    snprintf(r1_s, sizeof r1_s, "%lld", r1);
    snprintf(r2_s, sizeof r2_s, "%lld", r2);
    snprintf(r3_s, sizeof r3_s, "%lld", r3);

    json_t *page = audit(fmt("?actor=%s&limit=100", org.id));
    json_t *e = find_entry(page, "event.publish", ev_s);
    assert_non_null(e);
    assert_str_eq(jstr(e, "actorId"), org.id);
    assert_str_eq(jstr(e, "targetType"), "event");
    assert_str_eq(jstr(e, "details.from"), "draft");
    assert_str_eq(jstr(e, "details.to"), "published");
    assert_true(jstr(e, "occurredAt") && strlen(jstr(e, "occurredAt")) == 20);
    assert_non_null(find_entry(page, "event.complete", ev_s));
    e = find_entry(page, "registration.check_in", r1_s);
    assert_non_null(e);
    assert_int_equal(jint(e, "details.eventId"), ev);
    e = find_entry(page, "registration.cancel", r2_s);
    assert_non_null(e);
    assert_str_eq(jstr(e, "details.userId"), p2.id);
    assert_str_eq(jstr(e, "details.reason"), "double booked");
    assert_null(find_entry(page, "registration.cancel", r3_s));
    /* Every entry of the page is the organizer's, newest first. */
    size_t i;
    json_int_t prev = INT64_MAX;
    json_array_foreach(json_object_get(page, "items"), i, e)
    {
        assert_str_eq(jstr(e, "actorId"), org.id);
        assert_true(jint(e, "id") < prev);
        prev = jint(e, "id");
    }
    json_decref(page);

    /* Role changes by the admin. */
    page = audit(fmt("?action=user.roles&actor=%s&limit=100", admin->id));
    e = find_entry(page, "user.roles", org.id);
    assert_non_null(e);
    assert_str_eq(jstr(e, "details.roles.1"), "organizer");
    assert_str_eq(jstr(e, "details.previous.0"), "participant");
    json_array_foreach(json_object_get(page, "items"), i, e)
        assert_str_eq(jstr(e, "action"), "user.roles");
    json_decref(page);
    /* Cancelling an event. */
    long long ev2 = event_create_published(org.access, NULL);
    r = api("PATCH", fmt("/v1/events/%lld", ev2), "{\"status\":\"cancelled\"}", admin->access);
    assert_status(r, 200);
    resp_free(r);
    page = audit("?action=event.cancel&limit=100");
    e = find_entry(page, "event.cancel", fmt("%lld", ev2));
    assert_non_null(e);
    assert_str_eq(jstr(e, "actorId"), admin->id);
    json_decref(page);
}

static void audit_paging_and_filters(void **state)
{
    (void)state;
    api_user org;
    organizer_signup(&org, "aud-page");
    for (int i = 0; i < 5; i++)
        event_create_published(org.access, NULL);
    /* Keyset pages of 2 walk the organizer's 5 entries exactly once. */
    int seen = 0, pages = 0;
    char cursor[256] = "";
    json_int_t prev = INT64_MAX;
    do {
        json_t *page = audit(cursor[0] ? fmt("?actor=%s&limit=2&cursor=%s", org.id, urlenc(cursor))
                                       : fmt("?actor=%s&limit=2", org.id));
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(page, "items"), i, e)
        {
            assert_true(jint(e, "id") < prev);
            prev = jint(e, "id");
            seen++;
        }
        const char *next = jstr(page, "nextCursor");
        snprintf(cursor, sizeof cursor, "%s", next ? next : "");
        json_decref(page);
        pages++;
    } while (cursor[0] && pages < 10);
    assert_int_equal(seen, 5);
    assert_int_equal(pages, 3);

    /* Time window: everything today, nothing in 2001. */
    char today[16];
    time_t t = time(NULL);
    strftime(today, sizeof today, "%Y-%m-%d", gmtime(&t));
    json_t *page = audit(fmt("?actor=%s&from=%s&to=%s&limit=100", org.id, today, today));
    assert_int_equal(jlen(page, "items"), 5);
    json_decref(page);
    page = audit(fmt("?actor=%s&to=2001-01-01", org.id));
    assert_int_equal(jlen(page, "items"), 0);
    json_decref(page);
    page = audit(fmt("?actor=%s&from=2001-01-01T00:00:00Z", org.id));
    assert_int_equal(jlen(page, "items"), 5);
    json_decref(page);

    /* Bad parameters. */
    const char *bad[] = {
        "?actor=nope", "?action=DROP%20TABLE", "?from=yesterday", "?to=2030-13-01",
        "?limit=0",    "?limit=101",           "?cursor=zzzz",    "?from=2030-01-02&to=2030-01-01"};
    for (size_t i = 0; i < N_ELEMS(bad); i++) {
        api_resp *r = api("GET", fmt("/v1/admin/audit%s", bad[i]), NULL, admin_user()->access);
        assert_problem(r, 400);
        resp_free(r);
    }
    /* Admins only. */
    api_resp *r = api("GET", "/v1/admin/audit", NULL, org.access);
    assert_problem(r, 403);
    resp_free(r);
    r = api("GET", "/v1/admin/audit", NULL, NULL);
    assert_problem(r, 401);
    resp_free(r);
}

/* ---- setup ---- */

static int setup(void **state)
{
    if (smtp_start() != 0) {
        print_error("cannot start the mail catcher\n");
        return -1;
    }
    char url[64];
    snprintf(url, sizeof url, "smtp://127.0.0.1:%d", smtp.port);
    setenv("RG_SMTP_URL", url, 1);
    setenv("RG_SMTP_FROM", "noreply@test.risinggen.dev", 1);

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
    smtp.stop = 1;
    pthread_join(smtp.thread, NULL);
    close(smtp.fd);
    for (int i = 0; i < smtp.n; i++) {
        free(smtp.rcpt[i]);
        free(smtp.data[i]);
    }
    jwks_srv_stop();
    unlink(jwks_path);
    EVP_PKEY_free(key_a);
    EVP_PKEY_free(key_b);
    return rc;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reset_same_answer_for_unknown_email),
        cmocka_unit_test(reset_similar_timing),
        cmocka_unit_test(reset_flow),
        cmocka_unit_test(reset_latest_code_only_and_throttled),
        cmocka_unit_test(reset_expired_code_refused),
        cmocka_unit_test(reset_unknown_email_sends_nothing),
        cmocka_unit_test(reset_token_is_not_logged),
        cmocka_unit_test(sso_find_or_create),
        cmocka_unit_test(sso_church_account_id_claim),
        cmocka_unit_test(sso_concurrent_first_sign_in_one_account),
        cmocka_unit_test(sso_refusals),
        cmocka_unit_test(sso_email_of_password_account),
        cmocka_unit_test(sso_jwks_url),
        cmocka_unit_test(audit_records_actions),
        cmocka_unit_test(audit_paging_and_filters),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
