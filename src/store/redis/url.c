/* Reading "redis://[[user]:password@]host[:port][/db][?prefix=P&l1_mb=N]"
 * (percent-decoded user and password, IPv6 hosts in brackets). */
#include "redis.h"
#include "risinggen/base/alloc.h"
#include "risinggen/base/buf.h"
#include "risinggen/base/error.h"
#include "risinggen/base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* n bytes of s with %XX decoded, malloc'd; NULL when malformed or when it
 * would hold a NUL. */
static char *pct_decode(const char *s, size_t n)
{
    char *out = rg_xmalloc(n + 1), *o = out;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            if (i + 2 >= n) {
                free(out);
                return NULL;
            }
            int a = hexval((unsigned char)s[i + 1]), b = hexval((unsigned char)s[i + 2]);
            if (a < 0 || b < 0 || (a == 0 && b == 0)) {
                free(out);
                return NULL;
            }
            *o++ = (char)(a * 16 + b);
            i += 2;
        } else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    return out;
}

/* A decimal number of n bytes in [lo, hi], digits only. */
static bool parse_num(const char *s, size_t n, long lo, long hi, long *out)
{
    if (n == 0 || n > 10)
        return false;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    if (v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static bool host_char(char ch, bool bracketed)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '.' || ch == '-' || ch == '_' || (bracketed && (ch == ':' || ch == '%'));
}

static int bad_url(const char *why)
{
    return rg_error_set(RG_EINVAL, "invalid redis URL: %s", why);
}

/* Fills the settings of c from url. */
int parse_url(rg_cache *c, const char *url)
{
    c->port = DEFAULT_PORT;
    c->l1_mb = DEFAULT_L1_MB;
    if (!url || strncmp(url, "redis://", 8) != 0)
        return bad_url("it must start with redis://");
    const char *p = url + 8;
    size_t alen = strcspn(p, "/?");
    const char *end = p + alen;
    const char *at = NULL;
    for (const char *q = p; q < end; q++)
        if (*q == '@')
            at = q;
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (!colon)
            return bad_url("write the password as :PASSWORD@ (or USER:PASSWORD@)");
        if (colon > p && !(c->user = pct_decode(p, (size_t)(colon - p))))
            return bad_url("bad %-escape in the user name");
        if (!(c->password = pct_decode(colon + 1, (size_t)(at - colon - 1))))
            return bad_url("bad %-escape in the password");
        if (!*c->password) {
            free(c->password);
            c->password = NULL;
            if (c->user)
                return bad_url("a user name needs a password");
        }
        p = at + 1;
    }
    const char *host = p, *host_end, *port = NULL;
    bool bracketed = *p == '[';
    if (bracketed) {
        const char *close = memchr(p, ']', (size_t)(end - p));
        if (!close)
            return bad_url("unclosed [ in the host");
        host = p + 1;
        host_end = close;
        if (close + 1 < end) {
            if (close[1] != ':')
                return bad_url("unexpected text after the host");
            port = close + 2;
        }
    } else {
        const char *colon = memchr(p, ':', (size_t)(end - p));
        host_end = colon ? colon : end;
        port = colon ? colon + 1 : NULL;
    }
    size_t hlen = (size_t)(host_end - host);
    if (hlen == 0 || hlen > HOST_MAX)
        return bad_url("no host");
    for (size_t i = 0; i < hlen; i++)
        if (!host_char(host[i], bracketed))
            return bad_url("bad character in the host");
    c->host = rg_xmalloc(hlen + 1);
    memcpy(c->host, host, hlen);
    c->host[hlen] = '\0';
    long v;
    if (port) {
        if (!parse_num(port, (size_t)(end - port), 1, 65535, &v))
            return bad_url("the port must be between 1 and 65535");
        c->port = (int)v;
    }
    p = end;
    if (*p == '/') {
        p++;
        size_t n = strcspn(p, "?");
        if (n) {
            if (!parse_num(p, n, 0, INT_MAX, &v))
                return bad_url("the database must be a number");
            c->db = (int)v;
        }
        p += n;
    }
    if (*p == '?') {
        p++;
        while (*p) {
            size_t n = strcspn(p, "&");
            const char *eq = memchr(p, '=', n);
            size_t name = eq ? (size_t)(eq - p) : n;
            const char *val = eq ? eq + 1 : p + n;
            size_t vlen = (size_t)(p + n - val);
            if (name == 6 && strncmp(p, "prefix", 6) == 0) {
                char *pre = pct_decode(val, vlen);
                if (!pre || !*pre || strlen(pre) > PREFIX_MAX) {
                    free(pre);
                    return bad_url("prefix must be 1 to 128 bytes");
                }
                free(c->prefix);
                c->prefix = pre;
            } else if (name == 5 && strncmp(p, "l1_mb", 5) == 0) {
                if (!parse_num(val, vlen, 0, MAX_L1_MB, &v))
                    return bad_url("l1_mb must be between 0 and 1048576");
                c->l1_mb = (int)v;
            } else {
                rg_warn("redis cache: ignoring unknown URL parameter %.*s", (int)name, p);
            }
            p += n;
            if (*p == '&')
                p++;
        }
    } else if (*p) {
        return bad_url("unexpected text after the host");
    }
    if (!c->prefix)
        c->prefix = rg_xstrdup(DEFAULT_PREFIX);
    c->plen = strlen(c->prefix);
    return 0;
}

void free_settings(rg_cache *c)
{
    free(c->host);
    free(c->user);
    free(c->password);
    free(c->prefix);
    free(c);
}
