/* POST /v1/auth/{signup,login,refresh,logout} and bearer tokens, over HTTP. */
#include "support.h"

#include <stdlib.h>
#include <string.h>

static bool is_oid(const char *s)
{
    if (!s || strlen(s) != 24)
        return false;
    for (const char *p = s; *p; p++)
        if (!strchr("0123456789abcdef", *p))
            return false;
    return true;
}

static api_resp *login(const char *email, const char *password)
{
    return apij("POST", "/v1/auth/login",
                json_pack("{s:s, s:s}", "email", email, "password", password), NULL);
}

static api_resp *refresh(const char *token)
{
    return apij("POST", "/v1/auth/refresh", json_pack("{s:s}", "refreshToken", token), NULL);
}

static long me_status(const char *token)
{
    api_resp *r = api("GET", "/v1/users/me", NULL, token);
    long st = r->status;
    if (st == 401)
        assert_problem(r, 401);
    resp_free(r);
    return st;
}

static void signup_shape(void **state)
{
    (void)state;
    const char *email = unique_email("shape");
    api_resp *r = apij("POST", "/v1/auth/signup",
                       json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "email", email, "password",
                                 "s3cret-passw0rd", "firstName", "Ada", "lastName", "Lovelace",
                                 "dateOfBirth", "1990-12-10", "gender", "female"),
                       NULL);
    assert_status(r, 201);
    assert_true(strncmp(r->content_type, "application/json", 16) == 0);
    json_t *user = json_object_get(r->json, "user");
    assert_true(json_is_object(user));
    assert_true(is_oid(jstr(user, "id")));
    assert_str_eq(jstr(user, "email"), email);
    assert_str_eq(jstr(user, "firstName"), "Ada");
    assert_str_eq(jstr(user, "lastName"), "Lovelace");
    assert_str_eq(jstr(user, "dateOfBirth"), "1990-12-10");
    assert_str_eq(jstr(user, "roles.0"), "participant");
    assert_int_equal(jlen(user, "roles"), 1);
    assert_true(jstr(r->json, "accessToken") && strlen(jstr(r->json, "accessToken")) >= 16);
    assert_true(jstr(r->json, "refreshToken") && strlen(jstr(r->json, "refreshToken")) >= 16);
    assert_true(strcmp(jstr(r->json, "accessToken"), jstr(r->json, "refreshToken")) != 0);
    json_t *exp = json_object_get(r->json, "expiresIn");
    assert_true(json_is_integer(exp) && json_integer_value(exp) > 0);
    /* Location names the new user. */
    assert_true(strstr(r->location, fmt("/v1/users/%s", jstr(user, "id"))) != NULL);
    /* No password, hash or login counters anywhere. */
    assert_false(json_has_key_like(r->json, "password"));
    assert_false(json_has_key_like(r->json, "hash"));
    assert_false(json_has_key_like(r->json, "failedAttempts"));
    assert_null(strstr(r->body, "s3cret-passw0rd"));
    assert_null(strstr(r->body, "$argon2"));

    /* The access token works at once. */
    api_resp *me = api("GET", "/v1/users/me", NULL, jstr(r->json, "accessToken"));
    assert_status(me, 200);
    assert_str_eq(jstr(me->json, "id"), jstr(user, "id"));
    assert_false(json_has_key_like(me->json, "password"));
    assert_false(json_has_key_like(me->json, "hash"));
    resp_free(me);
    resp_free(r);
}

static void signup_duplicate_email_case_insensitive(void **state)
{
    (void)state;
    /* Signed up with mixed case; the same address in any case is taken. */
    char mixed[160], lower[160], upper[160];
    snprintf(lower, sizeof lower, "%s", unique_email("dup"));
    for (size_t i = 0; i <= strlen(lower); i++) {
        char c = lower[i];
        mixed[i] = (char)(i % 2 && c >= 'a' && c <= 'z' ? c - 32 : c);
        upper[i] = (char)(c >= 'a' && c <= 'z' ? c - 32 : c);
    }
    api_user u;
    user_signup_email(&u, mixed);
    const char *variants[] = {mixed, lower, upper};
    for (size_t i = 0; i < N_ELEMS(variants); i++) {
        api_resp *r = apij("POST", "/v1/auth/signup",
                           json_pack("{s:s, s:s, s:s, s:s}", "email", variants[i], "password",
                                     "another-password", "firstName", "B", "lastName", "C"),
                           NULL);
        assert_problem(r, 409);
        resp_free(r);
    }
    /* The first account's password still works, with any case. */
    for (size_t i = 0; i < N_ELEMS(variants); i++) {
        api_resp *r = login(variants[i], u.password);
        assert_status(r, 200);
        assert_str_eq(jstr(r->json, "user.id"), u.id);
        resp_free(r);
    }
    api_resp *r = login(lower, "another-password");
    assert_problem(r, 401);
    resp_free(r);
}

static void signup_validation(void **state)
{
    (void)state;
    struct {
        const char *body;
        const char *field;
    } cases[] = {
        {"{\"email\":\"%s\",\"password\":\"short\",\"firstName\":\"A\",\"lastName\":\"B\"}",
         "password"},
        {"{\"email\":\"%s\",\"firstName\":\"A\",\"lastName\":\"B\"}", "password"},
        {"{\"email\":\"%s\",\"password\":\"long-enough-1\",\"lastName\":\"B\"}", "firstName"},
        {"{\"email\":\"%s\",\"password\":\"long-enough-1\",\"firstName\":\"A\"}", "lastName"},
        {"{\"email\":\"%s\",\"password\":\"long-enough-1\",\"firstName\":\"\",\"lastName\":\"B\"}",
         "firstName"},
        {"{\"password\":\"long-enough-1\",\"firstName\":\"A\",\"lastName\":\"B\"}", "email"},
        {"{\"email\":\"not-an-email%.0s\",\"password\":\"long-enough-1\",\"firstName\":\"A\","
         "\"lastName\":\"B\"}",
         "email"},
        {"{\"email\":\"%s\",\"password\":\"long-enough-1\",\"firstName\":\"A\",\"lastName\":"
         "\"B\",\"dateOfBirth\":\"yesterday\"}",
         "dateOfBirth"},
        {"{\"email\":\"%s\",\"password\":\"long-enough-1\",\"firstName\":\"A\",\"lastName\":"
         "\"B\",\"gender\":\"robot\"}",
         "gender"},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        char body[512];
        snprintf(body, sizeof body, cases[i].body, unique_email("weak"));
        api_resp *r = api("POST", "/v1/auth/signup", body, NULL);
        assert_problem(r, 422);
        assert_field_error(r, cases[i].field);
        resp_free(r);
    }
    /* Too long: an email over 254 characters, a password over 128. */
    char longmail[300], longpw[140];
    memset(longmail, 'a', 260);
    snprintf(longmail + 260, sizeof longmail - 260, "@test.risinggen.dev");
    memset(longpw, 'p', 130);
    longpw[130] = '\0';
    api_resp *lr = apij("POST", "/v1/auth/signup",
                        json_pack("{s:s, s:s, s:s, s:s}", "email", longmail, "password",
                                  "long-enough-1", "firstName", "A", "lastName", "B"),
                        NULL);
    assert_problem(lr, 422);
    assert_field_error(lr, "email");
    resp_free(lr);
    lr = apij("POST", "/v1/auth/signup",
              json_pack("{s:s, s:s, s:s, s:s}", "email", unique_email("longpw"), "password", longpw,
                        "firstName", "A", "lastName", "B"),
              NULL);
    assert_problem(lr, 422);
    assert_field_error(lr, "password");
    resp_free(lr);
    /* An empty or non-object body is not an account either. */
    api_resp *r = api("POST", "/v1/auth/signup", "[]", NULL);
    assert_status2(r, 400, 422);
    assert_problem(r, r->status);
    resp_free(r);
    r = api("POST", "/v1/auth/signup", NULL, NULL);
    assert_status2(r, 400, 422);
    assert_problem(r, r->status);
    resp_free(r);
}

static void signup_cannot_choose_roles(void **state)
{
    (void)state;
    /* Fields that are not the person's to set: refused, or ignored. */
    const char *email = unique_email("escalate");
    api_resp *r =
        apij("POST", "/v1/auth/signup",
             json_pack("{s:s, s:s, s:s, s:s, s:[s,s], s:s, s:s}", "email", email, "password",
                       "long-enough-1", "firstName", "Eve", "lastName", "X", "roles", "participant",
                       "admin", "id", "0123456789abcdef01234567", "passwordHash", "$argon2id$fake"),
             NULL);
    assert_status2(r, 201, 422);
    if (r->status == 422) {
        assert_problem(r, 422);
        resp_free(r);
        return;
    }
    assert_int_equal(jlen(r->json, "user.roles"), 1);
    assert_str_eq(jstr(r->json, "user.roles.0"), "participant");
    assert_true(strcmp(jstr(r->json, "user.id"), "0123456789abcdef01234567") != 0);
    assert_null(strstr(r->body, "$argon2id$fake"));
    char token[160];
    snprintf(token, sizeof token, "%s", jstr(r->json, "accessToken"));
    resp_free(r);
    /* Not an admin: cannot grant roles, not even to itself. */
    api_resp *me = api("GET", "/v1/users/me", NULL, token);
    assert_status(me, 200);
    assert_int_equal(jlen(me->json, "roles"), 1);
    r = api("PATCH", fmt("/v1/users/%s", jstr(me->json, "id")), "{\"roles\":[\"admin\"]}", token);
    assert_problem(r, 403);
    resp_free(r);
    resp_free(me);
    /* The password given works; the smuggled hash does not. */
    r = login(email, "long-enough-1");
    assert_status(r, 200);
    resp_free(r);
}

static void login_ok_and_wrong(void **state)
{
    (void)state;
    api_user u;
    user_signup(&u, "login");
    api_resp *r = login(u.email, u.password);
    assert_status(r, 200);
    assert_str_eq(jstr(r->json, "user.id"), u.id);
    assert_true(jstr(r->json, "accessToken") && jstr(r->json, "refreshToken"));
    assert_true(json_is_integer(json_object_get(r->json, "expiresIn")));
    assert_false(json_has_key_like(r->json, "password"));
    assert_false(json_has_key_like(r->json, "failedAttempts"));
    /* A new sign-in gets its own tokens; both work. */
    assert_true(strcmp(jstr(r->json, "accessToken"), u.access) != 0);
    assert_int_equal(me_status(jstr(r->json, "accessToken")), 200);
    assert_int_equal(me_status(u.access), 200);
    resp_free(r);

    r = login(u.email, "wrong-password");
    assert_problem(r, 401);
    resp_free(r);
    r = login(unique_email("nobody"), "whatever-password");
    assert_problem(r, 401);
    resp_free(r);
    r = apij("POST", "/v1/auth/login", json_pack("{s:s}", "email", u.email), NULL);
    assert_status2(r, 401, 422);
    assert_problem(r, r->status);
    resp_free(r);
}

static void lockout_after_five_failures(void **state)
{
    (void)state;
    api_user u;
    user_signup(&u, "lock");
    for (int i = 0; i < 5; i++) {
        api_resp *r = login(u.email, fmt("wrong-password-%d", i));
        assert_problem(r, 401);
        assert_null(strstr(r->body, "failedAttempts"));
        resp_free(r);
    }
    /* Now even the right password is refused while the lock lasts. */
    api_resp *r = login(u.email, u.password);
    assert_problem(r, 423);
    assert_null(strstr(r->body, "failedAttempts"));
    assert_null(strstr(r->body, "passwordHash"));
    resp_free(r);
    r = login(u.email, "wrong-again-x");
    assert_problem(r, 423);
    resp_free(r);
    /* The lock is about signing in: the existing session still works, and the
     * counters never show on the profile. */
    api_resp *me = api("GET", "/v1/users/me", NULL, u.access);
    assert_status(me, 200);
    assert_false(json_has_key_like(me->json, "failedAttempts"));
    assert_false(json_has_key_like(me->json, "lastFailedAttempt"));
    resp_free(me);
}

static void refresh_rotation_and_reuse(void **state)
{
    (void)state;
    api_user u;
    user_signup(&u, "refresh");
    /* A second, independent sign-in of the same person (another family). */
    api_resp *other = login(u.email, u.password);
    assert_status(other, 200);
    char other_access[160], other_refresh[200];
    snprintf(other_access, sizeof other_access, "%s", jstr(other->json, "accessToken"));
    snprintf(other_refresh, sizeof other_refresh, "%s", jstr(other->json, "refreshToken"));
    resp_free(other);

    api_resp *r = refresh(u.refresh);
    assert_status(r, 200);
    char a2[160], r2[200];
    snprintf(a2, sizeof a2, "%s", jstr(r->json, "accessToken") ? jstr(r->json, "accessToken") : "");
    snprintf(r2, sizeof r2, "%s",
             jstr(r->json, "refreshToken") ? jstr(r->json, "refreshToken") : "");
    assert_true(a2[0] && r2[0]);
    assert_true(strcmp(a2, u.access) != 0);
    assert_true(strcmp(r2, u.refresh) != 0);
    assert_true(json_is_integer(json_object_get(r->json, "expiresIn")));
    resp_free(r);
    /* The new pair works and the old access token lives on until logout. */
    assert_int_equal(me_status(a2), 200);
    assert_int_equal(me_status(u.access), 200);

    /* The rotated refresh token again: refused, and the family is revoked. */
    r = refresh(u.refresh);
    assert_problem(r, 401);
    resp_free(r);
    r = refresh(r2);
    assert_problem(r, 401);
    resp_free(r);
    assert_int_equal(me_status(a2), 401);
    assert_int_equal(me_status(u.access), 401);

    /* The other sign-in is another family and keeps working. */
    assert_int_equal(me_status(other_access), 200);
    r = refresh(other_refresh);
    assert_status(r, 200);
    resp_free(r);
}

static void refresh_chain(void **state)
{
    (void)state;
    api_user u;
    user_signup(&u, "chain");
    char cur[200];
    snprintf(cur, sizeof cur, "%s", u.refresh);
    for (int i = 0; i < 3; i++) {
        api_resp *r = refresh(cur);
        assert_status(r, 200);
        snprintf(cur, sizeof cur, "%s", jstr(r->json, "refreshToken"));
        assert_int_equal(me_status(jstr(r->json, "accessToken")), 200);
        resp_free(r);
    }
    /* Garbage and unknown refresh tokens are 401; a missing one is refused. */
    const char *bad[] = {"garbage", "0123456789abcdef01234567.not-a-real-secret",
                         fmt("%s.%s", u.id, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
                         "........................................"};
    for (size_t i = 0; i < N_ELEMS(bad); i++) {
        api_resp *r = refresh(bad[i]);
        assert_problem(r, 401);
        resp_free(r);
    }
    api_resp *r = api("POST", "/v1/auth/refresh", "{}", NULL);
    assert_status2(r, 401, 422);
    assert_problem(r, r->status);
    resp_free(r);
    /* The current token of the chain still works after those. */
    r = refresh(cur);
    assert_status(r, 200);
    resp_free(r);
}

static void logout_ends_the_session(void **state)
{
    (void)state;
    api_user u;
    user_signup(&u, "logout");
    api_resp *other = login(u.email, u.password);
    assert_status(other, 200);
    char other_access[160];
    snprintf(other_access, sizeof other_access, "%s", jstr(other->json, "accessToken"));
    resp_free(other);

    api_resp *r = api("POST", "/v1/auth/logout", NULL, u.access);
    assert_status(r, 204);
    assert_int_equal(r->len, 0);
    resp_free(r);
    assert_int_equal(me_status(u.access), 401);
    /* Its refresh token is gone with it. */
    r = refresh(u.refresh);
    assert_problem(r, 401);
    resp_free(r);
    /* Logging out again with the dead token: 401. */
    r = api("POST", "/v1/auth/logout", NULL, u.access);
    assert_problem(r, 401);
    resp_free(r);
    /* Anonymous logout: 401. */
    r = api("POST", "/v1/auth/logout", NULL, NULL);
    assert_problem(r, 401);
    resp_free(r);
    /* Another sign-in of the same person is not affected. */
    assert_int_equal(me_status(other_access), 200);
}

static void malformed_tokens(void **state)
{
    (void)state;
    char longtok[400];
    memset(longtok, 'A', sizeof longtok - 1);
    longtok[sizeof longtok - 1] = '\0';
    const char *tokens[] = {
        "abc",         "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        longtok,       "not a token at all",
        "' OR '1'='1", "%00%00%00%00%00%00%00%00%00%00",
    };
    for (size_t i = 0; i < N_ELEMS(tokens); i++) {
        assert_int_equal(me_status(tokens[i]), 401);
    }
    /* Authorization without the Bearer scheme. */
    api_user u;
    user_signup(&u, "scheme");
    const char *headers[][2] = {
        {fmt("Authorization: %s", u.access), NULL},
        {fmt("Authorization: Basic %s", "dXNlcjpwYXNzd29yZA=="), NULL},
        {fmt("Authorization: Token %s", u.access), NULL},
        {"Authorization: Bearer", NULL},
        {"Authorization: Bearer ", NULL},
    };
    for (size_t i = 0; i < N_ELEMS(headers); i++) {
        api_req rq = {.method = "GET", .path = "/v1/users/me", .headers = headers[i]};
        api_resp *r = api_do(&rq);
        assert_problem(r, 401);
        resp_free(r);
    }
    /* No Authorization at all on a signed-in route. */
    api_resp *r = api("GET", "/v1/users/me", NULL, NULL);
    assert_problem(r, 401);
    resp_free(r);
    /* And the proper header works (the cases above were refused for their form). */
    assert_int_equal(me_status(u.access), 200);
}

/* An access token names its person and refresh family before its secret,
 * so that one trip to the cache authenticates it; what it names must be
 * what its session says, so no one changes the names to be someone else. */
static void access_token_names_checked(void **state)
{
    (void)state;
    api_user a, b;
    user_signup(&a, "named-a");
    user_signup(&b, "named-b");
    assert_int_equal(strlen(a.access), 24 + 1 + 24 + 1 + 43);
    assert_memory_equal(a.access, a.id, 24);
    assert_int_equal(a.access[24], '.');
    assert_int_equal(a.access[49], '.');
    /* a's secret under b's name, under b's family, and the names swapped. */
    char forged[3][400];
    snprintf(forged[0], sizeof forged[0], "%.24s%s", b.access, a.access + 24);
    snprintf(forged[1], sizeof forged[1], "%.25s%.24s%s", a.access, b.access + 25, a.access + 49);
    snprintf(forged[2], sizeof forged[2], "%.24s.%.24s%s", a.access + 25, a.access, a.access + 49);
    for (int i = 0; i < 3; i++)
        assert_int_equal(me_status(forged[i]), 401);
    /* The real ones still work, once cached and after. */
    for (int i = 0; i < 2; i++) {
        assert_int_equal(me_status(a.access), 200);
        assert_int_equal(me_status(b.access), 200);
    }
}

static void signup_same_email_concurrently(void **state)
{
    (void)state;
    enum { N = 8 };
    const char *email = unique_email("race");
    char body[256];
    snprintf(body, sizeof body,
             "{\"email\":\"%s\",\"password\":\"race-password-1\",\"firstName\":\"R\","
             "\"lastName\":\"C\"}",
             email);
    api_req reqs[N];
    api_resp *out[N];
    for (int i = 0; i < N; i++)
        reqs[i] = (api_req){.method = "POST", .path = "/v1/auth/signup", .body = body};
    api_parallel(N, reqs, out, 0);
    int created = 0, conflict = 0;
    for (int i = 0; i < N; i++) {
        if (out[i]->status == 201)
            created++;
        else if (out[i]->status == 409)
            conflict++;
        else
            fail_msg("%s -> %ld: %s", out[i]->what, out[i]->status, out[i]->body);
        resp_free(out[i]);
    }
    assert_int_equal(created, 1);
    assert_int_equal(conflict, N - 1);
    api_resp *r = login(email, "race-password-1");
    assert_status(r, 200);
    resp_free(r);
}

static void lockout_counts_every_failure(void **state)
{
    (void)state;
    /* Failures sent at the same moment are all counted. */
    api_user u;
    user_signup(&u, "lockrace");
    enum { N = 8 };
    char body[256];
    snprintf(body, sizeof body, "{\"email\":\"%s\",\"password\":\"not-the-password\"}", u.email);
    api_req reqs[N];
    api_resp *out[N];
    for (int i = 0; i < N; i++)
        reqs[i] = (api_req){.method = "POST", .path = "/v1/auth/login", .body = body};
    api_parallel(N, reqs, out, 0);
    for (int i = 0; i < N; i++) {
        assert_status2(out[i], 401, 423);
        resp_free(out[i]);
    }
    api_resp *r = login(u.email, u.password);
    assert_problem(r, 423);
    resp_free(r);

    /* A success before the fifth failure starts the count again; the email's
     * letter case does not matter. */
    api_user v;
    user_signup(&v, "lockreset");
    char upper[160];
    snprintf(upper, sizeof upper, "%s", v.email);
    upper[0] = (char)(upper[0] - 32);
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 4; i++) {
            r = login(i % 2 ? upper : v.email, "wrong-password");
            assert_problem(r, 401);
            resp_free(r);
        }
        r = login(v.email, v.password);
        assert_status(r, 200);
        resp_free(r);
    }
    for (int i = 0; i < 5; i++) {
        r = login(upper, "wrong-password");
        assert_problem(r, 401);
        resp_free(r);
    }
    r = login(v.email, v.password);
    assert_problem(r, 423);
    resp_free(r);
}

static void refresh_same_token_concurrently(void **state)
{
    (void)state;
    /* Using one refresh token several times at once is reuse: at most one
     * answer gets a new pair, the others are 401 (never a 5xx), and that
     * family ends. Several rounds, as the overlap is a matter of timing. */
    api_user u;
    user_signup(&u, "refrace");
    enum { N = 4, ROUNDS = 150 };
    for (int round = 0; round < ROUNDS; round++) {
        if (round)
            user_login(&u); /* a new family */
        char body[256];
        snprintf(body, sizeof body, "{\"refreshToken\":\"%s\"}", u.refresh);
        api_req reqs[N];
        api_resp *out[N];
        for (int i = 0; i < N; i++)
            reqs[i] = (api_req){.method = "POST", .path = "/v1/auth/refresh", .body = body};
        api_parallel_threads(N, reqs, out);
        int ok = 0;
        char new_refresh[200] = "", new_access[160] = "";
        for (int i = 0; i < N; i++) {
            if (out[i]->status == 200) {
                ok++;
                snprintf(new_refresh, sizeof new_refresh, "%s", jstr(out[i]->json, "refreshToken"));
                snprintf(new_access, sizeof new_access, "%s", jstr(out[i]->json, "accessToken"));
            } else {
                if (out[i]->status != 401)
                    print_error("round %d, request %d of %d concurrent refreshes of one token\n",
                                round, i, N);
                assert_problem(out[i], 401);
            }
            resp_free(out[i]);
        }
        assert_true(ok <= 1);
        /* The family is over: its tokens, old and new, are refused. */
        api_resp *r = refresh(u.refresh);
        assert_problem(r, 401);
        resp_free(r);
        if (ok) {
            r = refresh(new_refresh);
            assert_problem(r, 401);
            resp_free(r);
            if (me_status(new_access) != 401)
                fail_msg("round %d: the access token of the one refresh that won still works "
                         "after the reuse revoked its family",
                         round);
        }
        assert_int_equal(me_status(u.access), 401);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(signup_shape),
        cmocka_unit_test(signup_duplicate_email_case_insensitive),
        cmocka_unit_test(signup_validation),
        cmocka_unit_test(signup_cannot_choose_roles),
        cmocka_unit_test(login_ok_and_wrong),
        cmocka_unit_test(lockout_after_five_failures),
        cmocka_unit_test(refresh_rotation_and_reuse),
        cmocka_unit_test(refresh_chain),
        cmocka_unit_test(logout_ends_the_session),
        cmocka_unit_test(malformed_tokens),
        cmocka_unit_test(access_token_names_checked),
        cmocka_unit_test(signup_same_email_concurrently),
        cmocka_unit_test(lockout_counts_every_failure),
        cmocka_unit_test(refresh_same_token_concurrently),
    };
    return cmocka_run_group_tests(tests, api_setup, api_teardown);
}
