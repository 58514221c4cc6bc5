/* The mailers behind risinggen/outbound/mail.h: the log (one JSON line per
 * message, never the body, which may hold a secret such as a reset link),
 * and SMTP through libcurl (STARTTLS when the server offers it, a 10 s
 * connect and 30 s overall timeout, a 5xx answer about the recipient taken
 * as permanent). */
#include "risinggen/outbound/mail.h"
#include "risinggen/base/alloc.h"
#include "risinggen/base/buf.h"
#include "risinggen/base/error.h"
#include "risinggen/base/id.h"
#include "risinggen/base/log.h"

#include <curl/curl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_ADDRESS 320

/* One log line per message: never the body, which may hold a secret (a
 * password-reset link). */
static int log_send(void *ctx, const rg_mail *m)
{
    (void)ctx;
    rg_info("outbox: delivered email to %s subject \"%.200s\" (%zu bytes, log sender)", m->to,
            m->subject, strlen(m->body));
    return 0;
}

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

static char *build_message(const char *from, const rg_mail *n)
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

static int smtp_send(void *ctx, const rg_mail *n)
{
    struct smtp *s = ctx;
    /* What goes into the envelope and the headers must not break them. */
    if (!n->to || !*n->to || strlen(n->to) > MAX_ADDRESS || strpbrk(n->to, "\r\n<> \t,") ||
        !strchr(n->to, '@') || !n->subject || strpbrk(n->subject, "\r\n") || !n->body)
        return RG_EVALIDATION;
    CURL *curl = curl_easy_init();
    if (!curl)
        return rg_error_set(RG_EUNAVAIL, "smtp: no curl handle");
    char rcpt[MAX_ADDRESS + 3], from[MAX_ADDRESS + 3];
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
        rg_info("outbox: delivered email to %s subject \"%.200s\" (smtp)", n->to, n->subject);
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

static void smtp_close(void *ctx)
{
    struct smtp *s = ctx;
    if (!s)
        return;
    free(s->url);
    free(s->from);
    free(s);
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

int rg_mailer_open(rg_mailer *out, const char *smtp_url, const char *from)
{
    memset(out, 0, sizeof *out);
    if (!smtp_url || !*smtp_url) {
        *out = (rg_mailer){.name = "log", .send = log_send};
        return 0;
    }
    if (strncmp(smtp_url, "smtp://", 7) != 0 && strncmp(smtp_url, "smtps://", 8) != 0)
        return rg_error_set(RG_EINVAL, "RG_SMTP_URL must be an smtp:// or smtps:// URL");
    if (!from || !*from)
        from = "noreply@risinggen.invalid";
    else if (strpbrk(from, "\r\n<> \t,") || !strchr(from, '@') || strlen(from) > MAX_ADDRESS)
        return rg_error_set(RG_EINVAL, "RG_SMTP_FROM must be one e-mail address");
    pthread_once(&curl_once, curl_init);
    struct smtp *s = rg_xcalloc(1, sizeof *s);
    s->url = rg_xstrdup(smtp_url);
    s->from = rg_xstrdup(from);
    *out = (rg_mailer){.name = "smtp", .send = smtp_send, .close = smtp_close, .ctx = s};
    rg_info("mail: sending through SMTP as %s", from);
    return 0;
}

void rg_mailer_close(rg_mailer *m)
{
    if (m->close)
        m->close(m->ctx);
    memset(m, 0, sizeof *m);
}
