/* Password reset over HTTP: the same answer for known and unknown emails,
 * the code by mail (caught by the mail catcher of support_mail.c, which
 * RG_SMTP_URL points the service's outbox at), the latest code only,
 * throttling, expiry, and the code never in the log. */
#include "testcfg.h"
#include "support.h"
#include "risinggen/domain/app.h"
#include "risinggen/base/clock.h"
#include "risinggen/base/id.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* Returns once every mail queued before the call has been sent: the outbox
 * sends the rows due in the order they were queued, so a reset mail for a
 * new account, queued now, arrives after all of them. */
static void outbox_drained(void)
{
    api_user c;
    user_signup(&c, "drain");
    api_resp *r = reset_request(c.email);
    assert_status(r, 202);
    resp_free(r);
    char *mail = wait_mail(c.email, "Your reset code: ", 0);
    assert_non_null(mail);
    free(mail);
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
    snprintf(code, sizeof code, "%s", mail_reset_code(u.email, 0));

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
    snprintf(first, sizeof first, "%s", mail_reset_code(u.email, 0));
    r = reset_request(u.email);
    assert_status(r, 202);
    resp_free(r);
    char second[128];
    snprintf(second, sizeof second, "%s", mail_reset_code(u.email, 1));
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
    char *third = wait_mail(u.email, "Your reset code: ", 2);
    assert_non_null(third);
    free(third);
    outbox_drained();
    assert_int_equal(mails_to(u.email, "Your reset code: "), 3);
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
    snprintf(code, sizeof code, "%s", mail_reset_code(u.email, 0));
    /* 31 minutes later, as far as the stored expiry is concerned. */
    rg_app app;
    api_open_stores(&app);
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
    outbox_drained();
    assert_int_equal(mails_to(email, NULL), 0);
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
    snprintf(code, sizeof code, "%s", mail_reset_code(u.email, 0));
    FILE *f = fopen(g_srv.log, "r");
    assert_non_null(f);
    char line[8192];
    while (fgets(line, sizeof line, f))
        assert_null(strstr(line, code));
    fclose(f);
}

static int setup(void **state)
{
    if (mail_catcher_start() != 0) {
        print_error("cannot start the mail catcher\n");
        return -1;
    }
    return api_setup(state);
}

static int teardown(void **state)
{
    int rc = api_teardown(state);
    mail_catcher_stop();
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
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
