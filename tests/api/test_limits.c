/* Limits against abuse, from outside: failed logins lock an e-mail for the
 * address that failed (never for the owner elsewhere, and unknown e-mails
 * alike), rate limits per address and per account answer 429 with
 * Retry-After, and slow or piled-up connections cannot take the service
 * down. The server runs behind a pretend proxy (RG_PROXY_ADDRESSES names
 * 127.0.0.1), so that X-Forwarded-For chooses the client address of a
 * request; without that header requests come from 127.0.0.1, which is
 * exempt, as the fixtures' setup needs. */
#include "support.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HEAD_TIMEOUT_S 2
#define PER_ADDRESS    40

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A request as the client at address from. */
static api_resp *as(const char *from, const char *method, const char *path, const char *body,
                    const char *token)
{
    char h[96];
    snprintf(h, sizeof h, "X-Forwarded-For: 203.0.113.77, %s", from);
    const char *hdrs[] = {h, NULL};
    api_req rq = {.method = method, .path = path, .body = body, .token = token, .headers = hdrs};
    return api_do(&rq);
}

static api_resp *login_as(const char *from, const char *email, const char *pw)
{
    return as(from, "POST", "/v1/auth/login",
              fmt("{\"email\":\"%s\",\"password\":\"%s\"}", email, pw), NULL);
}

static void failed_logins_lock_the_address_not_the_owner(void **state)
{
    (void)state;
    api_user u;
    user_signup(&u, "locked");
    const char *ghost = unique_email("ghost");
    /* Five wrong passwords from one address, for an account and for an
     * e-mail without one: the same answers, then 423 for both, even with
     * the right password. */
    for (int i = 0; i < 5; i++) {
        api_resp *r = login_as("198.51.100.66", u.email, "wrong-password-1");
        assert_problem(r, 401);
        resp_free(r);
        r = login_as("198.51.100.66", ghost, "wrong-password-1");
        assert_problem(r, 401);
        resp_free(r);
    }
    api_resp *r = login_as("198.51.100.66", u.email, u.password);
    assert_problem(r, 423);
    resp_free(r);
    r = login_as("198.51.100.66", ghost, "wrong-password-1");
    assert_problem(r, 423);
    resp_free(r);
    /* The owner, from their own address, is not locked out. */
    r = login_as("198.51.100.7", u.email, u.password);
    assert_status(r, 200);
    resp_free(r);
    /* Signup tells nothing new either way: a taken e-mail is 409 as the
     * contract says, for one that exists and only then. */
    r = as("198.51.100.8", "POST", "/v1/auth/signup",
           fmt("{\"email\":\"%s\",\"password\":\"long-enough-1\",\"firstName\":\"A\","
               "\"lastName\":\"B\"}",
               ghost),
           NULL);
    assert_status(r, 201);
    resp_free(r);
}

static void rate_limits_answer_429_with_retry_after(void **state)
{
    (void)state;
    /* signup=3/60 per address. */
    for (int i = 0; i < 4; i++) {
        api_resp *r = as("198.51.100.20", "POST", "/v1/auth/signup",
                         fmt("{\"email\":\"%s\",\"password\":\"long-enough-1\",\"firstName\":\"A\","
                             "\"lastName\":\"B\"}",
                             unique_email("burst")),
                         NULL);
        if (i < 3) {
            assert_status(r, 201);
        } else {
            assert_problem_type(r, 429, "rate-limited");
            int secs = atoi(r->retry_after);
            assert_true(secs >= 1 && secs <= 61);
        }
        resp_free(r);
    }
    /* Another address is not affected. */
    api_resp *r = as("198.51.100.21", "POST", "/v1/auth/signup",
                     fmt("{\"email\":\"%s\",\"password\":\"long-enough-1\",\"firstName\":\"A\","
                         "\"lastName\":\"B\"}",
                         unique_email("other")),
                     NULL);
    assert_status(r, 201);
    resp_free(r);
    /* search=4/60 per address, anonymous. */
    for (int i = 0; i < 5; i++) {
        r = as("198.51.100.22", "GET", "/v1/search?q=camp", NULL, NULL);
        if (i < 4)
            assert_status(r, 200);
        else
            assert_problem(r, 429);
        resp_free(r);
    }
    /* An exempt address never is. */
    for (int i = 0; i < 8; i++) {
        r = as("192.0.2.250", "GET", "/v1/search?q=camp", NULL, NULL);
        assert_status(r, 200);
        resp_free(r);
    }
}

static api_resp *signup_with(const char *const *headers)
{
    api_req rq = {.method = "POST",
                  .path = "/v1/auth/signup",
                  .body = fmt("{\"email\":\"%s\",\"password\":\"long-enough-1\",\"firstName\":"
                              "\"A\",\"lastName\":\"B\"}",
                              unique_email("xff")),
                  .headers = headers};
    return api_do(&rq);
}

/* The client is the last X-Forwarded-For entry the proxy added, over every
 * such header: what a client writes in front of it changes nothing; a port
 * or brackets are dropped; IPv6 clients count by /64. */
static void forwarded_for_read_from_the_end(void **state)
{
    (void)state;
    for (int i = 0; i < 4; i++) {
        const char *h[] = {fmt("X-Forwarded-For: 10.%d.0.1", i), "X-Forwarded-For: 127.0.0.1",
                           fmt("X-Forwarded-For: 198.51.100.50:%d", 4000 + i), NULL};
        api_resp *r = signup_with(h);
        if (i < 3)
            assert_status(r, 201);
        else
            assert_problem(r, 429);
        resp_free(r);
    }
    const char *v6[] = {"X-Forwarded-For: [2001:db8:1:2::5]:443",
                        "X-Forwarded-For: 2001:db8:1:2:aaaa::6", "X-Forwarded-For: 2001:db8:1:2::7",
                        "X-Forwarded-For: 2001:db8:1:2:ffff:ffff:ffff:ffff"};
    for (int i = 0; i < 4; i++) {
        const char *h[] = {v6[i], NULL};
        api_resp *r = signup_with(h);
        if (i < 3)
            assert_status(r, 201);
        else
            assert_problem(r, 429);
        resp_free(r);
    }
    /* Another /64 is another client. */
    const char *h[] = {"X-Forwarded-For: 2001:db8:1:3::5", NULL};
    api_resp *r = signup_with(h);
    assert_status(r, 201);
    resp_free(r);
}

static void messages_limited_per_account(void **state)
{
    (void)state;
    api_user org, a, b;
    organizer_signup(&org, "lim-org");
    user_signup(&a, "lim-a");
    user_signup(&b, "lim-b");
    long long ev = event_create_published(org.access, json_pack("{s:i}", "maxParticipants", 10));
    register_ok(a.access, ev, "confirmed");
    register_ok(b.access, ev, "confirmed");
    json_t *ch = get_json(fmt("/v1/events/%lld/channel", ev), a.access);
    char path[96];
    snprintf(path, sizeof path, "/v1/channels/%s/messages", jstr(ch, "id"));
    json_decref(ch);
    const char *msg = "{\"messageType\":\"message\",\"content\":{\"text\":\"hello\"}}";
    /* messages=3/60 per account, whatever the address. */
    for (int i = 0; i < 4; i++) {
        api_resp *r = as(i % 2 ? "198.51.100.30" : "198.51.100.31", "POST", path, msg, a.access);
        if (i < 3)
            assert_status(r, 201);
        else
            assert_problem(r, 429);
        resp_free(r);
    }
    api_resp *r = as("198.51.100.30", "POST", path, msg, b.access);
    assert_status(r, 201);
    resp_free(r);
}

/* A socket to the server from a source address on the loopback. */
static int connect_from(const char *source)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in src = {.sin_family = AF_INET};
    inet_pton(AF_INET, source, &src.sin_addr);
    assert_int_equal(bind(fd, (struct sockaddr *)&src, sizeof src), 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g_srv.port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Whether the server ended the connection (0 bytes or a reset) within
 * wait_ms, discarding anything it sent first. */
static bool ended_within(int fd, int wait_ms)
{
    int64_t until = now_ms() + wait_ms;
    char buf[512];
    while (now_ms() < until) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)(until - now_ms())) <= 0)
            continue;
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            return true;
    }
    return false;
}

static void slow_heads_and_bodies_are_cut(void **state)
{
    (void)state;
    /* A head sent a byte at a time, twice a second, never finishes. */
    int fd = connect_from("127.0.0.3");
    assert_true(fd >= 0);
    const char *head =
        "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    int64_t t0 = now_ms();
    bool ended = false;
    for (size_t i = 0; head[i] && !ended; i++) {
        if (send(fd, head + i, 1, MSG_NOSIGNAL) != 1)
            ended = true;
        else
            ended = ended_within(fd, 500);
    }
    if (!ended)
        ended = ended_within(fd, (HEAD_TIMEOUT_S + 3) * 1000);
    assert_true(ended);
    assert_true(now_ms() - t0 < (HEAD_TIMEOUT_S + 4) * 1000);
    close(fd);
    /* A body that trickles after its head. */
    fd = connect_from("127.0.0.3");
    assert_true(fd >= 0);
    const char *post = "POST /v1/auth/login HTTP/1.1\r\nHost: t\r\nContent-Type: "
                       "application/json\r\nContent-Length: 200\r\n\r\n{";
    assert_int_equal(send(fd, post, strlen(post), MSG_NOSIGNAL), (ssize_t)strlen(post));
    t0 = now_ms();
    ended = false;
    for (int i = 0; i < 40 && !ended; i++) {
        if (send(fd, " ", 1, MSG_NOSIGNAL) != 1)
            ended = true;
        else
            ended = ended_within(fd, 500);
    }
    assert_true(ended);
    close(fd);
}

static void piled_up_connections_leave_others_served(void **state)
{
    (void)state;
    /* 1,200 connections that send half a head, from twenty addresses:
     * each address gets PER_ADDRESS of them, the rest are refused, and
     * everyone else is served meanwhile. */
    enum { ADDRS = 20, EACH = 60 };
    static int fds[ADDRS * EACH];
    int open_n = 0;
    for (int a = 0; a < ADDRS; a++) {
        char src[32];
        snprintf(src, sizeof src, "127.0.1.%d", a + 1);
        for (int i = 0; i < EACH; i++) {
            int fd = connect_from(src);
            if (fd >= 0)
                send(fd, "GET /healthz HTTP/1.1\r\nHo", 25, MSG_NOSIGNAL);
            fds[open_n++] = fd;
        }
    }
    for (int i = 0; i < 20; i++) {
        api_resp *r = api("GET", "/healthz", NULL, NULL);
        assert_status(r, 200);
        resp_free(r);
    }
    /* Every one of them is closed: refused at once, or cut after the head
     * deadline. */
    int64_t until = now_ms() + (HEAD_TIMEOUT_S + 5) * 1000;
    int ended = 0;
    for (int i = 0; i < open_n; i++) {
        if (fds[i] < 0) {
            ended++;
            continue;
        }
        int left = (int)(until - now_ms());
        if (ended_within(fds[i], left > 0 ? left : 1))
            ended++;
        close(fds[i]);
    }
    assert_int_equal(ended, open_n);
    api_resp *m = api("GET", "/metrics", NULL, NULL);
    assert_status(m, 200);
    assert_non_null(strstr(m->body, "rg_http_connections_refused_total"));
    assert_non_null(strstr(m->body, "rg_http_connections_cut_total"));
    resp_free(m);
}

static void metrics_only_for_loopback_or_token(void **state)
{
    (void)state;
    api_resp *r = as("198.51.100.40", "GET", "/metrics", NULL, NULL);
    assert_problem(r, 404);
    resp_free(r);
    r = api("GET", "/metrics", NULL, NULL);
    assert_status(r, 200);
    resp_free(r);
    /* Through a proxy on this host that is not listed, every client comes
     * from the loopback: a forwarded request is not a local scraper. */
    const char *const forwarded[][2] = {{"X-Forwarded-For: 198.51.100.41", NULL},
                                        {"Forwarded: for=198.51.100.41", NULL},
                                        {"X-Real-IP: 198.51.100.41", NULL}};
    for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++) {
        api_req rq = {.method = "GET", .path = "/metrics", .headers = forwarded[i]};
        r = api_do(&rq);
        assert_problem(r, 404);
        resp_free(r);
    }
    /* With a token, only a request that bears it, from anywhere. */
    assert_int_equal(srv_stop(&g_srv), 0);
    setenv("RG_METRICS_TOKEN", "scrape-secret-0123456789", 1);
    assert_int_equal(srv_start(&g_srv, g_srv.dir), 0);
    r = api("GET", "/metrics", NULL, NULL);
    assert_problem(r, 401);
    resp_free(r);
    r = api("GET", "/metrics", NULL, "scrape-secret-wrong-56789");
    assert_problem(r, 401);
    resp_free(r);
    r = as("198.51.100.40", "GET", "/metrics", NULL, "scrape-secret-0123456789");
    assert_status(r, 200);
    assert_non_null(strstr(r->body, "rg_http_requests_total"));
    resp_free(r);
    /* An admin's access token opens it too; a participant's does not. */
    api_user *admin = admin_user();
    r = as("198.51.100.40", "GET", "/metrics", NULL, admin->access);
    assert_status(r, 200);
    resp_free(r);
    api_user p;
    user_signup(&p, "metrics-participant");
    r = as("198.51.100.40", "GET", "/metrics", NULL, p.access);
    assert_problem(r, 401);
    resp_free(r);
    unsetenv("RG_METRICS_TOKEN");
}

int main(void)
{
    /* 1,200 sockets at once: more than a default soft limit of 1,024. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4096 && rl.rlim_max >= 4096) {
        rl.rlim_cur = 4096;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    setenv("RG_PROXY_ADDRESSES", "127.0.0.1", 1);
    setenv("RG_LIMITS_EXEMPT", "127.0.0.1,192.0.2.250", 1);
    setenv("RG_RATE_LIMITS", "login=1000/60,signup=3/60,reset=5/60,messages=3/60,search=4/60", 1);
    setenv("RG_HEAD_TIMEOUT_S", "2", 1);
    setenv("RG_BODY_TIMEOUT_S", "2", 1);
    setenv("RG_MAX_CONNECTIONS_PER_ADDRESS", "40", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(failed_logins_lock_the_address_not_the_owner),
        cmocka_unit_test(rate_limits_answer_429_with_retry_after),
        cmocka_unit_test(forwarded_for_read_from_the_end),
        cmocka_unit_test(messages_limited_per_account),
        cmocka_unit_test(slow_heads_and_bodies_are_cut),
        cmocka_unit_test(piled_up_connections_leave_others_served),
        cmocka_unit_test(metrics_only_for_loopback_or_token),
    };
    return cmocka_run_group_tests(tests, api_setup, api_teardown);
}
