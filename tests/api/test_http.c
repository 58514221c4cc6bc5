/* The HTTP transport seen from a raw socket: message framing that a proxy in
 * front could read differently (RFC 9112 sections 6.1 and 6.3) is refused
 * and its connection closed, so that nothing hidden in a body runs as a
 * second request; bytes that are not text in the path or the query are
 * refused; a 401 says how to authenticate (RFC 6750 section 3). */
#include "support.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* What the server sent back on one connection for these bytes. */
typedef struct exchange {
    char text[16384];
    size_t len;
    bool closed; /* the server ended the connection */
    int answers; /* status lines seen */
} exchange;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int connect_srv(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g_srv.port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

/* Sends raw on a new connection and reads until the server closes it or
 * wait_ms pass without a byte; then counts the answers. */
static void exchange_run(exchange *x, const char *raw, int wait_ms)
{
    memset(x, 0, sizeof *x);
    int fd = connect_srv();
    size_t n = strlen(raw);
    assert_int_equal(send(fd, raw, n, MSG_NOSIGNAL), (ssize_t)n);
    int64_t until = now_ms() + wait_ms;
    while (now_ms() < until && x->len < sizeof x->text - 1) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int left = (int)(until - now_ms());
        if (poll(&p, 1, left > 0 ? left : 0) <= 0)
            continue;
        ssize_t got = recv(fd, x->text + x->len, sizeof x->text - 1 - x->len, 0);
        if (got <= 0) {
            x->closed = got == 0 || errno == ECONNRESET;
            break;
        }
        x->len += (size_t)got;
        until = now_ms() + wait_ms;
    }
    close(fd);
    x->text[x->len] = '\0';
    for (const char *p = x->text; (p = strstr(p, "HTTP/1.1 ")); p++)
        x->answers++;
}

static bool has(const exchange *x, const char *needle)
{
    return strstr(x->text, needle) != NULL;
}

/* The request after the first one in each case: if it ran, its answer
 * ({"status":"ok"}) would come back on the same connection. */
#define HIDDEN "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
#define LOGIN  "POST /v1/auth/login HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"

/* One answer, with this status, as problem+json, and the connection
 * closed: no hidden request ran. */
static void assert_refused(const exchange *x, const char *status)
{
    if (x->answers != 1 || !has(x, status) || !x->closed || has(x, "\"status\":\"ok\""))
        fail_msg("expected one %s answer and a closed connection, got (closed=%d):\n%s", status,
                 x->closed, x->text);
    assert_true(has(x, "application/problem+json"));
    assert_true(has(x, "Connection: close"));
}

static void content_length_with_chunked_is_refused(void **state)
{
    (void)state;
    exchange x;
    exchange_run(
        &x, LOGIN "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" HIDDEN, 3000);
    assert_refused(&x, "HTTP/1.1 400 ");
}

static void two_content_lengths_are_refused(void **state)
{
    (void)state;
    exchange x;
    exchange_run(&x, LOGIN "Content-Length: 2\r\nContent-Length: 40\r\n\r\n{}" HIDDEN, 3000);
    assert_refused(&x, "HTTP/1.1 400 ");
    /* The same value twice as well: one framing, stated once. */
    exchange_run(&x, LOGIN "Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}" HIDDEN, 3000);
    assert_refused(&x, "HTTP/1.1 400 ");
}

static void unknown_transfer_coding_is_refused_at_once(void **state)
{
    (void)state;
    exchange x;
    int64_t t0 = now_ms();
    exchange_run(&x, LOGIN "Transfer-Encoding: gzip\r\n\r\n{\"email\":\"a@b.c\"}", 5000);
    assert_refused(&x, "HTTP/1.1 501 ");
    assert_true(has(&x, "the only transfer coding understood is chunked"));
    /* Answered when the head arrived, not after a timeout. */
    assert_true(now_ms() - t0 < 4000);
    exchange_run(&x, LOGIN "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n" HIDDEN, 3000);
    assert_refused(&x, "HTTP/1.1 501 ");
}

static void content_length_not_a_number_closes(void **state)
{
    (void)state;
    exchange x;
    exchange_run(&x, LOGIN "Content-Length: -1\r\n\r\n" HIDDEN, 3000);
    /* libmicrohttpd answers this one itself: 400 and the connection
     * closed, and the hidden request never runs. */
    assert_true(has(&x, "HTTP/1.1 400 "));
    assert_true(x.closed);
    assert_false(has(&x, "\"status\":\"ok\""));
}

static void chunked_alone_still_works(void **state)
{
    (void)state;
    exchange x;
    exchange_run(&x,
                 LOGIN "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                       "2\r\n{}\r\n0\r\n\r\n",
                 3000);
    /* The body arrived whole: the login's own validation answers. */
    assert_int_equal(x.answers, 1);
    assert_true(has(&x, "HTTP/1.1 422 "));
    assert_true(has(&x, "\"field\":\"email\""));
}

static void nul_in_path_or_query_is_refused(void **state)
{
    (void)state;
    exchange x;
    exchange_run(&x, "GET /v1/events/%00 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 3000);
    assert_int_equal(x.answers, 1);
    assert_true(has(&x, "HTTP/1.1 400 "));
    assert_false(has(&x, "\"items\""));
    api_resp *r = api("GET", "/v1/events?q=a%00b", NULL, NULL);
    assert_problem(r, 400);
    resp_free(r);
    r = api("GET", "/v1/events?city=%C3%28", NULL, NULL);
    assert_problem(r, 400);
    resp_free(r);
    /* Encoded text that is valid stays valid. */
    r = api("GET", "/v1/events?q=caf%C3%A9", NULL, NULL);
    assert_status(r, 200);
    resp_free(r);
}

static void empty_body_where_json_is_expected_is_malformed(void **state)
{
    (void)state;
    api_resp *r = api("POST", "/v1/auth/login", "", NULL);
    assert_problem_type(r, 400, "malformed-json");
    resp_free(r);
    /* Valid JSON of the wrong shape breaks a rule instead. */
    r = api("POST", "/v1/auth/login", "[1]", NULL);
    assert_problem(r, 422);
    resp_free(r);
}

static void unauthorized_says_bearer(void **state)
{
    (void)state;
    exchange x;
    exchange_run(&x, "GET /v1/users/me HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 3000);
    assert_true(has(&x, "HTTP/1.1 401 "));
    assert_true(has(&x, "WWW-Authenticate: Bearer realm=\"risinggen\"\r\n"));
    exchange_run(&x,
                 "GET /v1/users/me HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer nope\r\n"
                 "Connection: close\r\n\r\n",
                 3000);
    assert_true(has(&x, "HTTP/1.1 401 "));
    assert_true(has(&x, "WWW-Authenticate: Bearer realm=\"risinggen\", error=\"invalid_token\""));
}

/* A request head of up to about 14 KB is served (the connection memory is
 * 16 KB, libmicrohttpd grows the read buffer into it); a larger one is 431
 * and changes nothing. */
static void head_size_limit(void **state)
{
    (void)state;
    static char raw[48 * 1024];
    size_t sizes[] = {12 * 1024, 40 * 1024};
    const char *want[] = {"HTTP/1.1 200 ", "HTTP/1.1 431 "};
    for (int i = 0; i < 2; i++) {
        int n = snprintf(raw, sizeof raw, "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: ");
        memset(raw + n, 'a', sizes[i]);
        snprintf(raw + n + sizes[i], sizeof raw - (size_t)n - sizes[i],
                 "\r\nConnection: close\r\n\r\n");
        exchange x;
        exchange_run(&x, raw, 3000);
        if (!has(&x, want[i]))
            fail_msg("a head of %zu bytes: expected %s, got:\n%.300s", sizes[i], want[i], x.text);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(content_length_with_chunked_is_refused),
        cmocka_unit_test(two_content_lengths_are_refused),
        cmocka_unit_test(unknown_transfer_coding_is_refused_at_once),
        cmocka_unit_test(content_length_not_a_number_closes),
        cmocka_unit_test(chunked_alone_still_works),
        cmocka_unit_test(nul_in_path_or_query_is_refused),
        cmocka_unit_test(empty_body_where_json_is_expected_is_malformed),
        cmocka_unit_test(unauthorized_says_bearer),
        cmocka_unit_test(head_size_limit),
    };
    return cmocka_run_group_tests(tests, api_setup, api_teardown);
}
