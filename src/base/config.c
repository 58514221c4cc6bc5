#include "risinggen/base/config.h"
#include "risinggen/base/alloc.h"
#include "risinggen/base/error.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

struct var {
    const char *name; /* "RG_LISTEN" */
    enum rg_config_kind kind;
    size_t offset;
    int min, max;
    const char *dflt; /* as documented */
    const char *help;
};

static const struct var vars[] = {
#define RG__CFG_ROW(var, member, kind, min, max, dflt, help)                                       \
    {"RG_" #var, kind, offsetof(rg_config, member), min, max, dflt, help},
    RG_CONFIG_MAP(RG__CFG_ROW)
#undef RG__CFG_ROW
};

#define NVARS (sizeof vars / sizeof vars[0])

static const char *const levels[] = {"debug", "info", "warn", "error"};

static bool is_text(enum rg_config_kind k)
{
    return k == RG_CFG_TEXT || k == RG_CFG_SECRET || k == RG_CFG_URL || k == RG_CFG_URL_LIST ||
           k == RG_CFG_LISTEN;
}

static char **text_at(rg_config *c, const struct var *v)
{
    return (char **)((char *)c + v->offset);
}

static const struct var *find(const char *name)
{
    for (size_t i = 0; i < NVARS; i++)
        if (strcmp(vars[i].name, name) == 0)
            return &vars[i];
    return NULL;
}

static int bad(const struct var *v, const char *value, const char *must)
{
    return rg_error_set(RG_EINVAL, "%s must be %s, not \"%.80s\"", v->name, must, value);
}

static bool has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

static int check_url(const struct var *v, const char *s)
{
    const char *colon = strchr(s, ':');
    if (!colon || colon == s)
        return bad(v, s, "a URL (scheme:…)");
    for (const char *p = s; p < colon; p++)
        if (!isalnum((unsigned char)*p) && *p != '+' && *p != '-' && *p != '.')
            return bad(v, s, "a URL (scheme:…)");
    return 0;
}

static int check_listen(const struct var *v, const char *s)
{
    const char *colon = strrchr(s, ':');
    char host[64];
    if (!colon || colon == s || (size_t)(colon - s) >= sizeof host)
        return bad(v, s, "HOST:PORT with an IPv4 address or localhost");
    snprintf(host, sizeof host, "%.*s", (int)(colon - s), s);
    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    struct in_addr a;
    if (errno || end == colon + 1 || *end || port < 0 || port > 65535 ||
        (strcmp(host, "localhost") != 0 && inet_pton(AF_INET, host, &a) != 1))
        return bad(v, s, "HOST:PORT with an IPv4 address or localhost");
    return 0;
}

static int parse_bool(const struct var *v, const char *s, bool *out)
{
    static const char *const yes[] = {"1", "true", "on", "yes"}, *const no[] = {"0", "false", "off",
                                                                                "no"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0)
            return *out = true, 0;
        if (strcasecmp(s, no[i]) == 0)
            return *out = false, 0;
    }
    return bad(v, s, "1 or 0 (true/false, on/off, yes/no)");
}

static int parse_int(const struct var *v, const char *s, int *out)
{
    char *end;
    errno = 0;
    long n = strtol(s, &end, 10);
    if (errno || end == s || *end || n < v->min || n > v->max) {
        char must[64];
        snprintf(must, sizeof must, "an integer from %d to %d", v->min, v->max);
        return bad(v, s, must);
    }
    *out = (int)n;
    return 0;
}

static int default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 && n < 256 ? (int)n * 4 : 8;
}

/* Settings whose default follows another one, recomputed whenever that one
 * changes unless set explicitly. */
struct derived {
    bool relational_url, document_url, search_url, pool_size;
};

static char *store_url(const char *dir, const char *file)
{
    size_t n = strlen(dir) + strlen(file) + 16;
    char *s = rg_xmalloc(n);
    snprintf(s, n, "sqlite:%s/%s", dir, file);
    return s;
}

static void set_text(rg_config *c, const struct var *v, const char *value)
{
    char **slot = text_at(c, v);
    free(*slot);
    *slot = rg_xstrdup(value);
}

/* Applies value (already checked) to c. */
static int apply(rg_config *c, const struct var *v, const char *value)
{
    if (is_text(v->kind)) {
        set_text(c, v, value);
        return 0;
    }
    void *at = (char *)c + v->offset;
    switch (v->kind) {
    case RG_CFG_BOOL:
        return parse_bool(v, value, at);
    case RG_CFG_INT:
        return parse_int(v, value, at);
    case RG_CFG_LEVEL:
        for (int i = 0; i < 4; i++)
            if (strcasecmp(value, levels[i]) == 0)
                return *(int *)at = i, 0;
        return bad(v, value, "debug, info, warn or error");
    default:
        return rg_error_set(RG_EINTERNAL, "internal error");
    }
}

static int check(const struct var *v, const char *value)
{
    if (has_control(value))
        return bad(v, "…", "free of control characters");
    switch (v->kind) {
    case RG_CFG_URL:
        return check_url(v, value);
    case RG_CFG_URL_LIST:
        for (const char *p = value; *p;) {
            size_t n = strcspn(p, ",");
            char one[1024];
            snprintf(one, sizeof one, "%.*s", (int)(n < sizeof one ? n : sizeof one - 1), p);
            int rc = n ? check_url(v, one) : 0;
            if (rc < 0)
                return rc;
            p += n + (p[n] == ',');
        }
        return 0;
    case RG_CFG_LISTEN:
        return check_listen(v, value);
    default:
        return 0;
    }
}

/* The default of v as a value (for settings with a default in words, the
 * computed one). */
static void default_of(const rg_config *c, const struct var *v, char *out, size_t cap)
{
    if (strcmp(v->name, "RG_THREADS") == 0)
        snprintf(out, cap, "%d", default_threads());
    else if (strcmp(v->name, "RG_POOL_SIZE") == 0)
        snprintf(out, cap, "%d", c->threads + 2 > v->max ? v->max : c->threads + 2);
    else if (strcmp(v->name, "RG_RELATIONAL_URL") == 0)
        snprintf(out, cap, "sqlite:%s/relational.db", c->data_dir);
    else if (strcmp(v->name, "RG_DOCUMENT_URL") == 0)
        snprintf(out, cap, "sqlite:%s/documents.db", c->data_dir);
    else if (strcmp(v->name, "RG_SEARCH_URL") == 0 && c->relational_url &&
             (strncmp(c->relational_url, "postgresql:", 11) == 0 ||
              strncmp(c->relational_url, "postgres:", 9) == 0))
        snprintf(out, cap, "%s", c->relational_url); /* one index for every instance */
    else if (strcmp(v->name, "RG_SEARCH_URL") == 0)
        snprintf(out, cap, "sqlite:%s/search.db", c->data_dir);
    else
        snprintf(out, cap, "%s", v->dflt);
}

/* Which derived defaults are still defaults: a setting equal to what its
 * default would be is treated as not set. */
static struct derived still_default(const rg_config *c)
{
    struct derived d;
    char *u = store_url(c->data_dir, "relational.db");
    d.relational_url = strcmp(c->relational_url, u) == 0;
    free(u);
    u = store_url(c->data_dir, "documents.db");
    d.document_url = strcmp(c->document_url, u) == 0;
    free(u);
    char buf[1200];
    default_of(c, find("RG_SEARCH_URL"), buf, sizeof buf);
    d.search_url = strcmp(c->search_url, buf) == 0;
    d.pool_size = c->pool_size == (c->threads + 2 > 1000 ? 1000 : c->threads + 2);
    return d;
}

static void rederive(rg_config *c, struct derived d)
{
    char buf[1200];
    if (d.relational_url)
        default_of(c, find("RG_RELATIONAL_URL"), buf, sizeof buf),
            set_text(c, find("RG_RELATIONAL_URL"), buf);
    if (d.document_url)
        default_of(c, find("RG_DOCUMENT_URL"), buf, sizeof buf),
            set_text(c, find("RG_DOCUMENT_URL"), buf);
    if (d.search_url)
        default_of(c, find("RG_SEARCH_URL"), buf, sizeof buf),
            set_text(c, find("RG_SEARCH_URL"), buf);
    if (d.pool_size)
        c->pool_size = c->threads + 2 > 1000 ? 1000 : c->threads + 2;
}

void rg_config_defaults(rg_config *out)
{
    memset(out, 0, sizeof *out);
    /* data_dir and threads first: other defaults follow them */
    static const char *const first[] = {"RG_DATA_DIR", "RG_THREADS"};
    char buf[1200];
    for (int i = 0; i < 2; i++) {
        default_of(out, find(first[i]), buf, sizeof buf);
        (void)apply(out, find(first[i]), buf);
    }
    for (size_t i = 0; i < NVARS; i++) {
        default_of(out, &vars[i], buf, sizeof buf);
        (void)apply(out, &vars[i], buf);
    }
    rg_error_clear();
}

int rg_config_set(rg_config *c, const char *name, const char *value)
{
    const struct var *v = name ? find(name) : NULL;
    if (!v)
        return rg_error_set(RG_EINVAL, "%s is not a setting", name ? name : "(null)");
    struct derived d = still_default(c);
    char buf[1200];
    if (!value || !*value) {
        default_of(c, v, buf, sizeof buf);
        value = buf;
    } else {
        int rc = check(v, value);
        if (rc < 0)
            return rc;
        /* an explicit value is never replaced by a derived default */
        if (v->offset == offsetof(rg_config, relational_url))
            d.relational_url = false;
        else if (v->offset == offsetof(rg_config, document_url))
            d.document_url = false;
        else if (v->offset == offsetof(rg_config, search_url))
            d.search_url = false;
        else if (v->offset == offsetof(rg_config, pool_size))
            d.pool_size = false;
    }
    int rc = apply(c, v, value);
    if (rc < 0)
        return rc;
    rederive(c, d);
    return 0;
}

void rg_config_free(rg_config *c)
{
    for (size_t i = 0; i < NVARS; i++)
        if (is_text(vars[i].kind)) {
            char **slot = text_at(c, &vars[i]);
            if (vars[i].kind == RG_CFG_SECRET && *slot)
                memset(*slot, 0, strlen(*slot));
            free(*slot);
            *slot = NULL;
        }
}

int rg_config_load(rg_config *out)
{
    rg_config_defaults(out);
    /* data dir and threads first, so that the derived defaults follow them
     * whatever order the rows are in */
    static const char *const first[] = {"RG_DATA_DIR", "RG_THREADS"};
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < NVARS; i++) {
            bool early = strcmp(vars[i].name, first[0]) == 0 || strcmp(vars[i].name, first[1]) == 0;
            if (early != (pass == 0))
                continue;
            const char *value = getenv(vars[i].name);
            if (!value || !*value)
                continue;
            int rc = rg_config_set(out, vars[i].name, value);
            if (rc < 0) {
                rg_config_free(out);
                return rc;
            }
        }
    return 0;
}

void rg_config_redact_url(const char *url, char *out, unsigned cap)
{
    const char *scheme = strstr(url, "://");
    const char *at = scheme ? strchr(scheme + 3, '@') : NULL;
    const char *colon = at ? memchr(scheme + 3, ':', (size_t)(at - scheme - 3)) : NULL;
    if (!colon)
        snprintf(out, cap, "%s", url);
    else
        snprintf(out, cap, "%.*s:***%s", (int)(colon - url), url, at);
}

static void print_value(const rg_config *c, const struct var *v, rg_buf *out)
{
    const void *at = (const char *)c + v->offset;
    const char *s = is_text(v->kind) ? *(char *const *)at : NULL;
    char red[1200];
    switch (v->kind) {
    case RG_CFG_SECRET:
        rg_buf_puts(out, s && *s ? "(set)" : "");
        break;
    case RG_CFG_URL:
        rg_config_redact_url(s ? s : "", red, sizeof red);
        rg_buf_puts(out, red);
        break;
    case RG_CFG_URL_LIST:
        for (const char *p = s ? s : ""; *p;) {
            size_t n = strcspn(p, ",");
            char one[1024];
            snprintf(one, sizeof one, "%.*s", (int)(n < sizeof one ? n : sizeof one - 1), p);
            rg_config_redact_url(one, red, sizeof red);
            rg_buf_puts(out, red);
            p += n;
            if (*p == ',')
                rg_buf_puts(out, ","), p++;
        }
        break;
    case RG_CFG_BOOL:
        rg_buf_puts(out, *(const bool *)at ? "1" : "0");
        break;
    case RG_CFG_INT:
        rg_buf_printf(out, "%d", *(const int *)at);
        break;
    case RG_CFG_LEVEL:
        rg_buf_puts(out, levels[*(const int *)at & 3]);
        break;
    default:
        rg_buf_puts(out, s ? s : "");
    }
}

void rg_config_print(const rg_config *c, rg_buf *out)
{
    for (size_t i = 0; i < NVARS; i++) {
        rg_buf_printf(out, "%s=", vars[i].name);
        print_value(c, &vars[i], out);
        rg_buf_puts(out, "\n");
    }
}

void rg_config_markdown(rg_buf *out)
{
    rg_buf_puts(out, "| variable | default | meaning |\n|---|---|---|\n");
    for (size_t i = 0; i < NVARS; i++) {
        const char *d = vars[i].dflt;
        /* a default in words ("4 × cores") is not a literal value */
        const char *q = *d && !strchr(d, ' ') ? "`" : "";
        rg_buf_printf(out, "| `%s` | %s%s%s | %s |\n", vars[i].name, q, *d ? d : "none", q,
                      vars[i].help);
    }
}
