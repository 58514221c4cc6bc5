/* The durable outbox (include/risinggen/outbox.h): rows in the relational
 * table `outbox`, claimed by a deliverer with a lease (PostgreSQL: FOR UPDATE
 * SKIP LOCKED; SQLite: inside BEGIN IMMEDIATE), sent outside any transaction,
 * then marked sent or rescheduled with exponential backoff until the attempt
 * limit (status "failed"). Senders: the log sender (default) and SMTP through
 * libcurl when RG_SMTP_URL is set. */
#include "domain.h"
#include "outbox_sender.h"
#include "risinggen/domain/outbox.h"
#include "risinggen/base/alloc.h"
#include "risinggen/base/buf.h"
#include "risinggen/base/log.h"
#include "risinggen/base/clock.h"
#include "risinggen/base/id.h"
#include "risinggen/base/error.h"

#include <curl/curl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_RECIPIENT 320
#define MAX_SUBJECT   998
#define MAX_DEDUPE    255
#define MAX_BATCH     100

/* ---- enqueue ---- */

static bool has_line_break(const char *s)
{
    return strpbrk(s, "\r\n") != NULL;
}

static int check(const rg_notification *n)
{
    if (!n || !n->channel || strcmp(n->channel, "email") != 0)
        return rg_error_set(RG_EINVAL, "outbox: unknown notification channel");
    if (!n->to || !*n->to || strlen(n->to) > MAX_RECIPIENT || has_line_break(n->to) ||
        !strchr(n->to, '@') || strpbrk(n->to, "<> \t,"))
        return rg_error_set(RG_EINVAL, "outbox: the recipient is not an address");
    if (!n->subject || strlen(n->subject) > MAX_SUBJECT || has_line_break(n->subject))
        return rg_error_set(RG_EINVAL, "outbox: the subject is missing or too long");
    if (!n->body)
        return rg_error_set(RG_EINVAL, "outbox: the body is missing");
    if (n->dedupe_key && (!*n->dedupe_key || strlen(n->dedupe_key) > MAX_DEDUPE))
        return rg_error_set(RG_EINVAL, "outbox: the dedupe key is empty or too long");
    return 0;
}

int rg_outbox_enqueue(rg_app *app, rg_rel_conn *c, const rg_notification *n)
{
    int rc = check(n);
    if (rc < 0)
        return rc;
    char now[RG_TIME_LEN + 1];
    rg_time_format(rg_now(), now);
    rg_param p[] = {RG_PTEXT(n->channel), RG_PTEXT(n->to),         RG_PTEXT(n->subject),
                    RG_PTEXT(n->body),    RG_PTEXT(n->dedupe_key), RG_PTEXT(now)};
    rg_relational *r = &app->st.rel;
    if (c) {
        rc = rg_rel_query(r, c, "outbox_insert", p, 6, NULL);
        return rc < 0 ? rc : 0;
    }
    if ((rc = rg_rel_acquire(r, &c)) < 0)
        return rc;
    if ((rc = rg_rel_begin(r, c, true)) == 0) {
        rc = rg_rel_query(r, c, "outbox_insert", p, 6, NULL);
        if (rc >= 0)
            rc = rg_rel_commit(r, c);
        if (rc < 0)
            rg_rel_rollback(r, c);
    }
    rg_rel_release(r, c);
    return rc < 0 ? rc : 0;
}

/* ---- the log sender ---- */

/* One log line per message: never the body, which may hold a secret (a
 * password-reset link). */
static int log_send(void *ctx, const rg_notification *n)
{
    (void)ctx;
    rg_info("outbox: delivered %s to %s subject \"%.200s\" (%zu bytes, log sender)", n->channel,
            n->to, n->subject, strlen(n->body));
    return 0;
}

/* ---- the SMTP sender ---- */

struct smtp {
    char *url, *from;
};

struct upload {
    const char *data;
    size_t len, pos;
};

static size_t read_cb(char *dst, size_t size, size_t nmemb, void *p)
{
    struct upload *u = p;
    size_t room = size * nmemb, left = u->len - u->pos;
    size_t n = left < room ? left : room;
    memcpy(dst, u->data + u->pos, n);
    u->pos += n;
    return n;
}

static size_t discard_cb(char *ptr, size_t size, size_t nmemb, void *p)
{
    (void)ptr;
    (void)p;
    return size * nmemb;
}

static bool is_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80)
            return false;
    return true;
}

/* A header value: ASCII as it is, anything else as an RFC 2047 encoded word. */
static void put_header_text(rg_buf *b, const char *s)
{
    if (is_ascii(s)) {
        rg_buf_puts(b, s);
        return;
    }
    size_t len = strlen(s);
    size_t cap = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
    char *enc = rg_xmalloc(cap);
    sodium_bin2base64(enc, cap, (const unsigned char *)s, len, sodium_base64_VARIANT_ORIGINAL);
    rg_buf_printf(b, "=?UTF-8?B?%s?=", enc);
    free(enc);
}

static char *build_message(const char *from, const rg_notification *n)
{
    rg_buf b = {0};
    char date[64], rnd[16];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    rg_random_token(rnd, 9);
    rg_buf_printf(&b, "Date: %s\r\nFrom: <%s>\r\nTo: <%s>\r\nSubject: ", date, from, n->to);
    put_header_text(&b, n->subject);
    rg_buf_printf(&b,
                  "\r\nMessage-ID: <%lld.%s@risinggen>\r\nMIME-Version: 1.0\r\n"
                  "Content-Type: text/plain; charset=UTF-8\r\n"
                  "Content-Transfer-Encoding: 8bit\r\n\r\n",
                  (long long)now, rnd);
    /* Lines end in CRLF; curl escapes a leading dot itself. */
    for (const char *p = n->body; *p; p++) {
        if (*p == '\r')
            continue;
        if (*p == '\n')
            rg_buf_put(&b, "\r\n", 2);
        else
            rg_buf_put(&b, p, 1);
    }
    rg_buf_puts(&b, "\r\n");
    return rg_buf_steal(&b);
}

static int smtp_send(void *ctx, const rg_notification *n)
{
    struct smtp *s = ctx;
    if (check(n) < 0) {
        rg_error_clear();
        return RG_EVALIDATION;
    }
    CURL *curl = curl_easy_init();
    if (!curl)
        return rg_error_set(RG_EUNAVAIL, "smtp: no curl handle");
    char rcpt[MAX_RECIPIENT + 3], from[MAX_RECIPIENT + 3];
    snprintf(rcpt, sizeof rcpt, "<%s>", n->to);
    snprintf(from, sizeof from, "<%s>", s->from);
    struct curl_slist *rcpts = curl_slist_append(NULL, rcpt);
    char *msg = build_message(s->from, n);
    struct upload up = {msg, strlen(msg), 0};
    char err[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(curl, CURLOPT_URL, s->url);
    curl_easy_setopt(curl, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpts);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt(curl, CURLOPT_READDATA, &up);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard_cb);
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)up.len);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_USE_SSL, (long)CURLUSESSL_TRY);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, err);
    CURLcode cc = curl_easy_perform(curl);
    long code = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(curl);
    curl_slist_free_all(rcpts);
    free(msg);
    if (cc == CURLE_OK) {
        rg_info("outbox: delivered %s to %s subject \"%.200s\" (smtp)", n->channel, n->to,
                n->subject);
        return 0;
    }
    rg_warn("outbox: smtp delivery to %s failed: %s (%ld)", n->to,
            err[0] ? err : curl_easy_strerror(cc), code);
    /* 5xx on the recipient is permanent; anything else may pass later. */
    if ((cc == CURLE_SEND_ERROR || cc == CURLE_LOGIN_DENIED || cc == CURLE_RECV_ERROR) &&
        code >= 550 && code < 560)
        return RG_EVALIDATION;
    return rg_error_set(RG_EUNAVAIL, "smtp: %s", curl_easy_strerror(cc));
}

/* ---- choosing the sender ---- */

static pthread_mutex_t sender_mu = PTHREAD_MUTEX_INITIALIZER;
static bool sender_chosen;
static rg_outbox_sender sender;
static struct smtp smtp_cfg;
static int max_attempts = RG_OUTBOX_MAX_ATTEMPTS;

static void choose_from_env(void)
{
    const char *ma = getenv("RG_OUTBOX_MAX_ATTEMPTS");
    if (ma && atoi(ma) >= 1 && atoi(ma) <= 50)
        max_attempts = atoi(ma);
    const char *url = getenv("RG_SMTP_URL");
    if (url && *url) {
        const char *from = getenv("RG_SMTP_FROM");
        if (!from || !*from || has_line_break(from) || !strchr(from, '@'))
            from = "noreply@risinggen.invalid";
        curl_global_init(CURL_GLOBAL_DEFAULT);
        free(smtp_cfg.url);
        free(smtp_cfg.from);
        smtp_cfg.url = rg_xstrdup(url);
        smtp_cfg.from = rg_xstrdup(from);
        sender = (rg_outbox_sender){"smtp", smtp_send, &smtp_cfg};
        rg_info("outbox: sending email through SMTP as %s", from);
    } else {
        sender = (rg_outbox_sender){"log", log_send, NULL};
    }
    sender_chosen = true;
}

static rg_outbox_sender current_sender(void)
{
    pthread_mutex_lock(&sender_mu);
    if (!sender_chosen)
        choose_from_env();
    rg_outbox_sender s = sender;
    pthread_mutex_unlock(&sender_mu);
    return s;
}

void rg_outbox_use_sender(const rg_outbox_sender *s)
{
    pthread_mutex_lock(&sender_mu);
    if (s) {
        if (!sender_chosen)
            choose_from_env();
        sender = *s;
    } else {
        sender_chosen = false;
    }
    pthread_mutex_unlock(&sender_mu);
}

int rg_outbox_max_attempts(void)
{
    current_sender();
    return max_attempts;
}

int64_t rg_outbox_backoff(int attempts)
{
    /* 30 s, 1 min, 2 min, … at most 6 h. */
    if (attempts < 1)
        attempts = 1;
    if (attempts > 20)
        return 6 * 3600;
    int64_t s = (int64_t)30 << (attempts - 1);
    return s > 6 * 3600 ? 6 * 3600 : s;
}

/* ---- delivery ---- */

static int claim(rg_relational *r, rg_rel_conn *c, int max, int64_t now, rg_rows **rows)
{
    char t_now[RG_TIME_LEN + 1], t_lease[RG_TIME_LEN + 1];
    rg_time_format(now, t_now);
    rg_time_format(now + RG_OUTBOX_LEASE_S, t_lease);
    rg_param p[] = {RG_PTEXT(t_now), RG_PTEXT(t_lease), RG_PINT(max)};
    int rc = rg_rel_begin(r, c, true);
    if (rc < 0)
        return rc;
    rc = rg_rel_query(r, c, "outbox_claim", p, 3, rows);
    if (rc >= 0)
        rc = rg_rel_commit(r, c);
    if (rc < 0) {
        rg_rel_rollback(r, c);
        rg_rows_free(*rows);
        *rows = NULL;
    }
    return rc;
}

/* One short write transaction per finished row. */
static int finish(rg_relational *r, rg_rel_conn *c, const char *name, const rg_param *p, int n)
{
    int rc = rg_rel_begin(r, c, true);
    if (rc < 0)
        return rc;
    rc = rg_rel_query(r, c, name, p, n, NULL);
    if (rc >= 0)
        rc = rg_rel_commit(r, c);
    if (rc < 0)
        rg_rel_rollback(r, c);
    return rc;
}

int rg_outbox_deliver_at(rg_app *app, int max, int64_t now)
{
    if (max <= 0)
        return 0;
    if (max > MAX_BATCH)
        max = MAX_BATCH;
    rg_outbox_sender s = current_sender();
    int limit = rg_outbox_max_attempts();
    rg_relational *r = &app->st.rel;
    rg_rel_conn *c;
    int rc = rg_rel_acquire(r, &c);
    if (rc < 0)
        return rc;
    rg_rows *rows = NULL;
    char t_now[RG_TIME_LEN + 1];
    rg_time_format(now, t_now);
    rg_param dp[] = {RG_PTEXT(t_now)};
    if ((rc = rg_rel_query(r, c, "outbox_due", dp, 1, &rows)) < 0 || rows->nrows == 0) {
        rg_rows_free(rows);
        rg_rel_release(r, c);
        return rc < 0 ? rc : 0;
    }
    rg_rows_free(rows);
    rows = NULL;
    if ((rc = claim(r, c, max, now, &rows)) < 0) {
        rg_rel_release(r, c);
        return rc;
    }
    int sent = 0;
    for (int i = 0; i < rows->nrows; i++) {
        const char *id = rg_rows_get(rows, i, "id");
        int attempts = (int)rg_rows_int(rows, i, "attempts", 1);
        rg_notification n = {
            .channel = rg_rows_get(rows, i, "channel"),
            .to = rg_rows_get(rows, i, "recipient"),
            .subject = rg_rows_get(rows, i, "subject"),
            .body = rg_rows_get(rows, i, "body"),
            .dedupe_key = rg_rows_get(rows, i, "dedupe_key"),
        };
        rg_error_clear();
        int src = s.send(s.ctx, &n);
        char t[RG_TIME_LEN + 1];
        if (src == 0) {
            rg_time_format(rg_now(), t);
            rg_param p[] = {RG_PTEXT(id), RG_PTEXT(t)};
            if (finish(r, c, "outbox_mark_sent", p, 2) < 0)
                rg_warn("outbox: %s was sent but could not be marked sent", id);
            sent++;
            continue;
        }
        const char *why = rg_error_detail()[0] ? rg_error_detail() : rg_error_name(src);
        char reason[256];
        snprintf(reason, sizeof reason, "%s", why);
        bool permanent = src == RG_EVALIDATION;
        rg_time_format(now + rg_outbox_backoff(attempts), t);
        rg_param p[] = {RG_PTEXT(id), RG_PTEXT(t), RG_PTEXT(reason),
                        RG_PINT(permanent ? 0 : limit)};
        if (permanent || attempts >= limit)
            rg_warn("outbox: giving up %s to %s after %d attempt%s: %s", n.channel, n.to, attempts,
                    attempts == 1 ? "" : "s", reason);
        else
            rg_info("outbox: %s to %s failed (attempt %d of %d), next at %s: %s", n.channel, n.to,
                    attempts, limit, t, reason);
        if (finish(r, c, "outbox_reschedule", p, 4) < 0)
            rg_warn("outbox: could not reschedule %s", id);
    }
    rg_rows_free(rows);
    rg_rel_release(r, c);
    rg_error_clear();
    return sent;
}

int rg_outbox_deliver(rg_app *app, int max)
{
    return rg_outbox_deliver_at(app, max, rg_now());
}
