/* The durable outbox (include/risinggen/outbox.h) on SQLite and PostgreSQL:
 * enqueue inside the caller's transaction, dedupe, delivery, retries with
 * backoff, giving up, and concurrent deliverers that never send twice. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "domain.h"
#include "pgtest.h"
#include "risinggen/domain/outbox.h"
#include "testcfg.h"
#include "tmpdir.h"
#include "risinggen/base/clock.h"
#include "risinggen/base/error.h"

static rg_app app;
static char dir[512];
/* NULL for SQLite in the scratch folder, else a PostgreSQL URL. */
static const char *relational_url;

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "%s", rg_test_tmpdir());
    char rel[600], docs[600], search[600];
    snprintf(rel, sizeof rel, "%s%s%s",
             relational_url ? "" : "sqlite:", relational_url ? relational_url : dir,
             relational_url ? "" : "/rel.db");
    snprintf(docs, sizeof docs, "sqlite:%s/docs.db", dir);
    snprintf(search, sizeof search, "sqlite:%s/search.db", dir);
    static rg_config cfg;
    rg_config_free(&cfg);
    rg_test_config(&cfg, rel, docs, "memory:", search);
    return rg_app_open(&app, &cfg, true) < 0 ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    rg_app_close(&app);
    rg_test_rmdir(dir);
    return 0;
}

/* The rows with this dedupe key (NULL: all); caller frees. */
static rg_rows *rows_for(const char *key)
{
    rg_rows *rows = NULL;
    rg_param p[] = {RG_PTEXT(key)};
    assert_true(rg_rel_run(&app, "outbox_find", p, 1, &rows) >= 0);
    return rows;
}

static const char *status_of(rg_rows *rows)
{
    assert_int_equal(rows->nrows, 1);
    return rg_rows_get(rows, 0, "status");
}

static int enqueue(rg_rel_conn *c, const char *to, const char *key)
{
    /* the subject carries the key, so that a sender sees which row it sends */
    rg_notification n = {"email", to, key ? key : "Hello", "Body with a secret link", key};
    return rg_outbox_enqueue(&app, c, &n);
}

#define MAX_SEEN 512
struct recorder {
    pthread_mutex_t mu;
    int calls;
    char keys[MAX_SEEN][64];
    int fail; /* 0: deliver; else the code to return */
};
static struct recorder rec = {.mu = PTHREAD_MUTEX_INITIALIZER};

static int record_send(void *ctx, const rg_mail *m)
{
    struct recorder *r = ctx;
    pthread_mutex_lock(&r->mu);
    if (r->calls < MAX_SEEN)
        snprintf(r->keys[r->calls], sizeof r->keys[0], "%s", m->subject);
    r->calls++;
    int fail = r->fail;
    pthread_mutex_unlock(&r->mu);
    return fail ? rg_error_set(fail, "injected failure") : 0;
}

/* Puts m in place of the app's mailer. */
static void use_mailer(rg_mailer m)
{
    rg_mailer_close(&app.mailer);
    app.mailer = m;
}

/* The mailer the settings choose (the log sender here). */
static void use_configured_mailer(void)
{
    rg_mailer_close(&app.mailer);
    assert_int_equal(rg_mailer_open(&app.mailer, app.cfg->smtp_url, app.cfg->smtp_from), 0);
}

static void use_recorder(int fail)
{
    pthread_mutex_lock(&rec.mu);
    rec.calls = 0;
    rec.fail = fail;
    pthread_mutex_unlock(&rec.mu);
    use_mailer((rg_mailer){.name = "test", .send = record_send, .ctx = &rec});
}

static int calls_for(const char *key)
{
    int n = 0;
    pthread_mutex_lock(&rec.mu);
    for (int i = 0; i < rec.calls && i < MAX_SEEN; i++)
        if (strcmp(rec.keys[i], key) == 0)
            n++;
    pthread_mutex_unlock(&rec.mu);
    return n;
}

static void rolled_back_enqueue_leaves_nothing(void **state)
{
    (void)state;
    rg_relational *r = &app.st.rel;
    rg_rel_conn *c;
    assert_int_equal(rg_rel_acquire(r, &c), 0);
    assert_int_equal(rg_rel_begin(r, c, true), 0);
    assert_int_equal(enqueue(c, "rb@example.org", "rb-1"), 0);
    rg_rel_rollback(r, c);
    assert_int_equal(rg_rel_begin(r, c, true), 0);
    assert_int_equal(enqueue(c, "cm@example.org", "cm-1"), 0);
    assert_int_equal(rg_rel_commit(r, c), 0);
    rg_rel_release(r, c);

    rg_rows *rows = rows_for("rb-1");
    assert_int_equal(rows->nrows, 0);
    rg_rows_free(rows);
    rows = rows_for("cm-1");
    assert_string_equal(status_of(rows), "pending");
    assert_string_equal(rg_rows_get(rows, 0, "recipient"), "cm@example.org");
    assert_int_equal(rg_rows_int(rows, 0, "attempts", -1), 0);
    assert_non_null(rg_rows_get(rows, 0, "created_at"));
    assert_null(rg_rows_get(rows, 0, "sent_at"));
    rg_rows_free(rows);
}

static void dedupe_key_makes_a_second_enqueue_a_no_op(void **state)
{
    (void)state;
    assert_int_equal(enqueue(NULL, "dd@example.org", "dd-1"), 0);
    assert_int_equal(enqueue(NULL, "dd@example.org", "dd-1"), 0);
    /* Also inside a transaction: no error, and the transaction goes on. */
    rg_relational *r = &app.st.rel;
    rg_rel_conn *c;
    assert_int_equal(rg_rel_acquire(r, &c), 0);
    assert_int_equal(rg_rel_begin(r, c, true), 0);
    assert_int_equal(enqueue(c, "dd@example.org", "dd-1"), 0);
    assert_int_equal(enqueue(c, "dd2@example.org", "dd-2"), 0);
    assert_int_equal(rg_rel_commit(r, c), 0);
    rg_rel_release(r, c);
    rg_rows *rows = rows_for("dd-1");
    assert_int_equal(rows->nrows, 1);
    rg_rows_free(rows);
    rows = rows_for("dd-2");
    assert_int_equal(rows->nrows, 1);
    rg_rows_free(rows);

    /* Without a key every enqueue is a row. */
    rows = rows_for(NULL);
    int before = rows->nrows;
    rg_rows_free(rows);
    assert_int_equal(enqueue(NULL, "nokey@example.org", NULL), 0);
    assert_int_equal(enqueue(NULL, "nokey@example.org", NULL), 0);
    rows = rows_for(NULL);
    assert_int_equal(rows->nrows, before + 2);
    rg_rows_free(rows);
}

static void bad_notifications_are_refused(void **state)
{
    (void)state;
    rg_notification n = {"sms", "a@example.org", "S", "B", NULL};
    assert_int_equal(rg_outbox_enqueue(&app, NULL, &n), RG_EINVAL);
    n.channel = "email";
    n.to = "a@example.org\r\nBcc: b@example.org";
    assert_int_equal(rg_outbox_enqueue(&app, NULL, &n), RG_EINVAL);
    n.to = "not-an-address";
    assert_int_equal(rg_outbox_enqueue(&app, NULL, &n), RG_EINVAL);
    n.to = "a@example.org";
    n.subject = "two\nlines";
    assert_int_equal(rg_outbox_enqueue(&app, NULL, &n), RG_EINVAL);
    n.subject = "S";
    n.body = NULL;
    assert_int_equal(rg_outbox_enqueue(&app, NULL, &n), RG_EINVAL);
    assert_int_equal(rg_outbox_enqueue(&app, NULL, NULL), RG_EINVAL);
    rg_error_clear();
}

static void deliver_marks_sent_once(void **state)
{
    (void)state;
    use_recorder(0);
    assert_int_equal(enqueue(NULL, "ds@example.org", "ds-1"), 0);
    int sent = rg_outbox_deliver(&app, 100);
    assert_true(sent >= 1);
    assert_int_equal(calls_for("ds-1"), 1);
    rg_rows *rows = rows_for("ds-1");
    assert_string_equal(status_of(rows), "sent");
    assert_non_null(rg_rows_get(rows, 0, "sent_at"));
    assert_int_equal(rg_rows_int(rows, 0, "attempts", -1), 1);
    rg_rows_free(rows);
    /* Nothing is due any more: a second pass sends nothing. */
    assert_int_equal(rg_outbox_deliver(&app, 100), 0);
    assert_int_equal(calls_for("ds-1"), 1);
    /* A sent key stays deduplicated. */
    assert_int_equal(enqueue(NULL, "ds@example.org", "ds-1"), 0);
    assert_int_equal(rg_outbox_deliver(&app, 100), 0);

    /* The default log sender delivers too. */
    use_configured_mailer();
    assert_int_equal(enqueue(NULL, "log@example.org", "log-1"), 0);
    assert_int_equal(rg_outbox_deliver(&app, 100), 1);
    rows = rows_for("log-1");
    assert_string_equal(status_of(rows), "sent");
    rg_rows_free(rows);
}

/* Mails due together go out in the order they were queued, also after a
 * failed pass rescheduled them all. */
static void due_rows_go_out_in_queue_order(void **state)
{
    (void)state;
    enum { N = 12 };
    char key[32];
    for (int round = 0; round < 2; round++) {
        use_recorder(round == 0 ? RG_EUNAVAIL : 0);
        if (round == 0)
            for (int i = 0; i < N; i++) {
                snprintf(key, sizeof key, "qo-%02d", i);
                assert_int_equal(enqueue(NULL, "qo@example.org", key), 0);
            }
        int64_t at = rg_now() + (round == 0 ? 0 : rg_outbox_backoff(1) + 1);
        rg_outbox_deliver_at(&app, 100, at);
        char order[N][64];
        int seen = 0;
        pthread_mutex_lock(&rec.mu);
        for (int i = 0; i < rec.calls && i < MAX_SEEN; i++)
            if (strncmp(rec.keys[i], "qo-", 3) == 0 && seen < N)
                memcpy(order[seen++], rec.keys[i], sizeof order[0]);
        pthread_mutex_unlock(&rec.mu);
        assert_int_equal(seen, N);
        for (int i = 0; i < N; i++) {
            snprintf(key, sizeof key, "qo-%02d", i);
            assert_string_equal(order[i], key);
        }
    }
}

static void failing_sender_is_retried_later(void **state)
{
    (void)state;
    use_recorder(RG_EUNAVAIL);
    assert_int_equal(enqueue(NULL, "fs@example.org", "fs-1"), 0);
    int64_t now = rg_now();
    assert_int_equal(rg_outbox_deliver_at(&app, 100, now), 0);
    assert_int_equal(calls_for("fs-1"), 1);
    rg_rows *rows = rows_for("fs-1");
    assert_string_equal(status_of(rows), "pending");
    assert_int_equal(rg_rows_int(rows, 0, "attempts", -1), 1);
    assert_non_null(strstr(rg_rows_get(rows, 0, "last_error"), "injected"));
    int64_t next;
    assert_int_equal(rg_time_parse(rg_rows_get(rows, 0, "next_attempt_at"), &next), 0);
    assert_int_equal(next, now + rg_outbox_backoff(1));
    rg_rows_free(rows);

    /* Not due yet: not tried again. */
    assert_int_equal(rg_outbox_deliver_at(&app, 100, now + 1), 0);
    assert_int_equal(calls_for("fs-1"), 1);

    /* Later, with the sender working again, it goes out. */
    use_recorder(0);
    assert_int_equal(rg_outbox_deliver_at(&app, 100, next), 1);
    assert_int_equal(calls_for("fs-1"), 1);
    rows = rows_for("fs-1");
    assert_string_equal(status_of(rows), "sent");
    assert_int_equal(rg_rows_int(rows, 0, "attempts", -1), 2);
    assert_null(rg_rows_get(rows, 0, "last_error"));
    rg_rows_free(rows);
}

static void backoff_grows_and_gives_up(void **state)
{
    (void)state;
    assert_true(rg_outbox_backoff(2) == 2 * rg_outbox_backoff(1));
    assert_true(rg_outbox_backoff(3) == 2 * rg_outbox_backoff(2));
    assert_true(rg_outbox_backoff(40) <= 6 * 3600);

    use_recorder(RG_EUNAVAIL);
    assert_int_equal(enqueue(NULL, "gu@example.org", "gu-1"), 0);
    int limit = rg_outbox_max_attempts(&app);
    int64_t t = rg_now();
    for (int i = 0; i < limit + 3; i++) {
        rg_outbox_deliver_at(&app, 100, t);
        t += 7 * 3600;
    }
    assert_int_equal(calls_for("gu-1"), limit);
    rg_rows *rows = rows_for("gu-1");
    assert_string_equal(status_of(rows), "failed");
    assert_int_equal(rg_rows_int(rows, 0, "attempts", -1), limit);
    rg_rows_free(rows);

    /* A message that can never be delivered is given up at once. */
    use_recorder(RG_EVALIDATION);
    assert_int_equal(enqueue(NULL, "pf@example.org", "pf-1"), 0);
    rg_outbox_deliver_at(&app, 100, t);
    rows = rows_for("pf-1");
    assert_string_equal(status_of(rows), "failed");
    assert_int_equal(rg_rows_int(rows, 0, "attempts", -1), 1);
    rg_rows_free(rows);
}

static void *deliver_thread(void *p)
{
    int *sent = p;
    for (int i = 0; i < 20; i++) {
        int n = rg_outbox_deliver(&app, 7);
        if (n > 0)
            *sent += n;
    }
    return NULL;
}

static void concurrent_deliverers_never_send_twice(void **state)
{
    (void)state;
    use_recorder(0);
    rg_outbox_deliver(&app, 100); /* whatever earlier tests left due */
    use_recorder(0);
    enum { N = 60, T = 4 };
    char key[32];
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "cc-%d", i);
        assert_int_equal(enqueue(NULL, "cc@example.org", key), 0);
    }
    pthread_t th[T];
    int sent[T] = {0};
    for (int i = 0; i < T; i++)
        pthread_create(&th[i], NULL, deliver_thread, &sent[i]);
    for (int i = 0; i < T; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(sent[0] + sent[1] + sent[2] + sent[3], N);
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "cc-%d", i);
        assert_int_equal(calls_for(key), 1);
        rg_rows *rows = rows_for(key);
        assert_string_equal(status_of(rows), "sent");
        rg_rows_free(rows);
    }
}

struct smtpd {
    int listen_fd, port;
    volatile int rcpt_code; /* the answer to RCPT TO */
    pthread_t th;
    pthread_mutex_t mu;
    char data[8192]; /* the last message received (DATA) */
    char rcpt[256];
    int messages;
};
static struct smtpd smtpd = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void say(int fd, const char *s)
{
    ssize_t n = write(fd, s, strlen(s));
    (void)n;
}

/* Reads one CRLF-terminated line into buf; false at the end. */
static bool read_line(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    char c;
    while (n + 1 < cap && read(fd, &c, 1) == 1) {
        buf[n++] = c;
        if (c == '\n')
            break;
    }
    buf[n] = '\0';
    return n > 0;
}

static void *smtpd_run(void *p)
{
    struct smtpd *d = p;
    int fd;
    while ((fd = accept(d->listen_fd, NULL, NULL)) >= 0) {
        char line[1024];
        say(fd, "220 test ESMTP\r\n");
        while (read_line(fd, line, sizeof line)) {
            if (strncasecmp(line, "EHLO", 4) == 0 || strncasecmp(line, "HELO", 4) == 0) {
                say(fd, "250 test\r\n");
            } else if (strncasecmp(line, "MAIL FROM:", 10) == 0) {
                say(fd, "250 OK\r\n");
            } else if (strncasecmp(line, "RCPT TO:", 8) == 0) {
                pthread_mutex_lock(&d->mu);
                snprintf(d->rcpt, sizeof d->rcpt, "%.200s", line + 8);
                pthread_mutex_unlock(&d->mu);
                char answer[64];
                snprintf(answer, sizeof answer, "%d %s\r\n", d->rcpt_code,
                         d->rcpt_code == 250 ? "OK" : "no");
                say(fd, answer);
            } else if (strncasecmp(line, "DATA", 4) == 0) {
                say(fd, "354 go on\r\n");
                char msg[8192];
                size_t n = 0;
                while (read_line(fd, line, sizeof line) && strcmp(line, ".\r\n") != 0) {
                    size_t l = strlen(line);
                    if (n + l < sizeof msg) {
                        memcpy(msg + n, line, l);
                        n += l;
                    }
                }
                msg[n] = '\0';
                pthread_mutex_lock(&d->mu);
                memcpy(d->data, msg, n + 1);
                d->messages++;
                pthread_mutex_unlock(&d->mu);
                say(fd, "250 queued\r\n");
            } else if (strncasecmp(line, "QUIT", 4) == 0) {
                say(fd, "221 bye\r\n");
                break;
            } else {
                say(fd, "502 what\r\n");
            }
        }
        close(fd);
    }
    return NULL;
}

static void smtpd_start(void)
{
    smtpd.listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(smtpd.listen_fd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t len = sizeof sa;
    getsockname(smtpd.listen_fd, (struct sockaddr *)&sa, &len);
    smtpd.port = ntohs(sa.sin_port);
    assert_int_equal(listen(smtpd.listen_fd, 8), 0);
    smtpd.rcpt_code = 250;
    pthread_create(&smtpd.th, NULL, smtpd_run, &smtpd);
}

static void smtpd_stop(void)
{
    shutdown(smtpd.listen_fd, SHUT_RDWR);
    close(smtpd.listen_fd);
    pthread_join(smtpd.th, NULL);
}

static void smtp_sender_delivers_and_retries(void **state)
{
    (void)state;
    smtpd_start();
    char url[64];
    snprintf(url, sizeof url, "smtp://127.0.0.1:%d", smtpd.port);
    rg_mailer smtp;
    assert_int_equal(rg_mailer_open(&smtp, url, "events@example.org"), 0);
    assert_string_equal(smtp.name, "smtp");
    use_mailer(smtp);
    rg_outbox_deliver(&app, 100); /* whatever earlier tests left due */

    rg_notification n = {"email", "smtp@example.org", "Caf\xc3\xa9 opens at nine",
                         "Line one\nLine two\n.leading dot", "smtp-1"};
    assert_int_equal(rg_outbox_enqueue(&app, NULL, &n), 0);
    int before = smtpd.messages;
    assert_int_equal(rg_outbox_deliver(&app, 100), 1);
    assert_int_equal(smtpd.messages, before + 1);
    pthread_mutex_lock(&smtpd.mu);
    assert_non_null(strstr(smtpd.rcpt, "<smtp@example.org>"));
    assert_non_null(strstr(smtpd.data, "From: <events@example.org>\r\n"));
    assert_non_null(strstr(smtpd.data, "To: <smtp@example.org>\r\n"));
    assert_non_null(strstr(smtpd.data, "Subject: =?UTF-8?B?"));
    assert_non_null(strstr(smtpd.data, "Content-Type: text/plain; charset=UTF-8\r\n"));
    assert_non_null(strstr(smtpd.data, "\r\n\r\nLine one\r\nLine two\r\n"));
    assert_non_null(strstr(smtpd.data, "\r\n..leading dot")); /* dot-stuffed */
    pthread_mutex_unlock(&smtpd.mu);
    rg_rows *rows = rows_for("smtp-1");
    assert_string_equal(status_of(rows), "sent");
    rg_rows_free(rows);

    /* A temporary refusal: tried again later. */
    smtpd.rcpt_code = 451;
    n.dedupe_key = "smtp-2";
    assert_int_equal(rg_outbox_enqueue(&app, NULL, &n), 0);
    int64_t now = rg_now();
    assert_int_equal(rg_outbox_deliver_at(&app, 100, now), 0);
    rows = rows_for("smtp-2");
    assert_string_equal(status_of(rows), "pending");
    assert_int_equal(rg_rows_int(rows, 0, "attempts", -1), 1);
    rg_rows_free(rows);
    smtpd.rcpt_code = 250;
    assert_int_equal(rg_outbox_deliver_at(&app, 100, now + rg_outbox_backoff(1)), 1);
    rows = rows_for("smtp-2");
    assert_string_equal(status_of(rows), "sent");
    rg_rows_free(rows);

    /* A permanent refusal: given up at once. */
    smtpd.rcpt_code = 550;
    n.dedupe_key = "smtp-3";
    assert_int_equal(rg_outbox_enqueue(&app, NULL, &n), 0);
    assert_int_equal(rg_outbox_deliver(&app, 100), 0);
    rows = rows_for("smtp-3");
    assert_string_equal(status_of(rows), "failed");
    rg_rows_free(rows);

    /* The server gone: tried again later. */
    smtpd_stop();
    n.dedupe_key = "smtp-4";
    assert_int_equal(rg_outbox_enqueue(&app, NULL, &n), 0);
    assert_int_equal(rg_outbox_deliver(&app, 100), 0);
    rows = rows_for("smtp-4");
    assert_string_equal(status_of(rows), "pending");
    rg_rows_free(rows);

    use_configured_mailer();
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rolled_back_enqueue_leaves_nothing),
        cmocka_unit_test(dedupe_key_makes_a_second_enqueue_a_no_op),
        cmocka_unit_test(bad_notifications_are_refused),
        cmocka_unit_test(deliver_marks_sent_once),
        cmocka_unit_test(due_rows_go_out_in_queue_order),
        cmocka_unit_test(failing_sender_is_retried_later),
        cmocka_unit_test(backoff_grows_and_gives_up),
        cmocka_unit_test(concurrent_deliverers_never_send_twice),
        cmocka_unit_test(smtp_sender_delivers_and_retries),
    };
    int failed = cmocka_run_group_tests_name("outbox on sqlite", tests, setup, teardown);
#ifdef RG_WITH_POSTGRES
    char *pg = rg_test_pg_create_db("outbox");
    if (pg) {
        relational_url = pg;
        failed += cmocka_run_group_tests_name("outbox on postgresql", tests, setup, teardown);
        rg_test_pg_drop_db(pg);
    } else {
        printf("SKIPPED relational/postgresql outbox: RG_TEST_PG_URL is not set\n");
    }
#endif
    return failed;
}
