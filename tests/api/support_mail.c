/* A mail catcher for the API tests: just enough SMTP on 127.0.0.1 for the
 * service's libcurl sender. Every mail is kept in memory with its
 * recipient. */
#include "support.h"

#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

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

static int listen_loopback(void)
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

int mails_to(const char *rcpt, const char *needle)
{
    int n = 0;
    pthread_mutex_lock(&smtp.mu);
    for (int i = 0; i < smtp.n; i++)
        n += strcasecmp(smtp.rcpt[i], rcpt) == 0 && (!needle || strstr(smtp.data[i], needle));
    pthread_mutex_unlock(&smtp.mu);
    return n;
}

char *wait_mail(const char *rcpt, const char *needle, int nth)
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

int mail_catcher_start(void)
{
    if (listen_loopback() != 0) {
        if (smtp.fd >= 0)
            close(smtp.fd);
        smtp.fd = -1;
        return -1;
    }
    char url[64];
    snprintf(url, sizeof url, "smtp://127.0.0.1:%d", smtp.port);
    setenv("RG_SMTP_URL", url, 1);
    setenv("RG_SMTP_FROM", "noreply@test.risinggen.dev", 1);
    return 0;
}

void mail_catcher_stop(void)
{
    if (smtp.fd < 0)
        return;
    smtp.stop = 1;
    pthread_join(smtp.thread, NULL);
    close(smtp.fd);
    smtp.fd = -1;
    for (int i = 0; i < smtp.n; i++) {
        free(smtp.rcpt[i]);
        free(smtp.data[i]);
    }
    smtp.n = 0;
}

const char *mail_reset_code(const char *rcpt, int nth)
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
