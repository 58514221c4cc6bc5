/* The transport's guard (docs/security.md): who the client is, how many
 * connections an address holds, deadlines for a request's head and body,
 * and rate limits per address or per account.
 *
 * libmicrohttpd 0.9.75 closes only connections that stay silent for the
 * whole connection timeout, so a client sending a byte every few seconds
 * would hold its slot for ever. The guard keeps one record per connection
 * (made in the STARTED notification, dropped in CLOSED) and a watchdog
 * thread shuts down the socket of any connection whose head or body is
 * late; libmicrohttpd then reads the end of the stream and closes it. The
 * record is dropped under the guard's lock before libmicrohttpd closes the
 * descriptor (CLOSED comes first), so a shutdown never reaches a reused
 * descriptor. */
#include "http.h"
#include "risinggen/base/alloc.h"
#include "risinggen/base/clock.h"
#include "risinggen/base/error.h"
#include "risinggen/base/log.h"
#include "risinggen/base/metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>

#define ADDR_BUCKETS   1024
#define MAX_LIST       16
#define SEND_TIMEOUT_S 120 /* for an answer to be read, once queued */

/* A limit: at most limit requests per window seconds. */
struct rate {
    const char *name; /* login, signup, reset, messages, search */
    int limit, window_s;
    bool per_account; /* else per client address */
};

/* One connection: its descriptor and where its current request stands:
 * waiting for a head, then for a body, then served (no deadline while the
 * route runs), then sending the answer. */
struct conn_rec {
    int fd;
    int64_t since_ms; /* when the current phase began */
    bool head_done, body_done, sending, cut;
    char addr[RG_ADDR_MAX];
    struct conn_rec *prev, *next;
};

/* Connections per address, in a small chained table. */
struct addr_count {
    char addr[RG_ADDR_MAX];
    int n;
    struct addr_count *next;
};

struct rg_guard {
    rg_app *app;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    pthread_t watchdog;
    bool stopping;
    struct conn_rec *conns;
    struct addr_count *by_addr[ADDR_BUCKETS];
    int per_address, head_s, body_s;
    char exempt[MAX_LIST][RG_ADDR_MAX], proxies[MAX_LIST][RG_ADDR_MAX];
    int nexempt, nproxies;
    struct rate rates[8];
    int nrates;
    long cut_total, refused_total;
};

static const struct {
    const char *route, *rate;
} rated_routes[] = {
    {"POST /v1/auth/login", "login"},
    {"POST /v1/auth/sso", "login"},
    {"POST /v1/auth/refresh", "login"},
    {"POST /v1/auth/signup", "signup"},
    {"POST /v1/auth/password-reset", "reset"},
    {"POST /v1/auth/password-reset/confirm", "reset"},
    {"POST /v1/channels/{id}/messages", "messages"},
    {"GET /v1/search", "search"},
};

static unsigned addr_hash(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % ADDR_BUCKETS;
}

static bool listed(char list[][RG_ADDR_MAX], int n, const char *addr)
{
    for (int i = 0; i < n; i++)
        if (strcmp(list[i], addr) == 0)
            return true;
    return false;
}

/* A comma-separated list of IPv4 or IPv6 addresses, in canonical text. */
static int parse_addresses(const char *var, const char *text, char out[][RG_ADDR_MAX], int *n)
{
    *n = 0;
    for (const char *p = text ? text : ""; *p;) {
        p += strspn(p, " ,");
        size_t len = strcspn(p, " ,");
        if (!len)
            break;
        char a[RG_ADDR_MAX + 8];
        unsigned char bin[sizeof(struct in6_addr)];
        snprintf(a, sizeof a, "%.*s", (int)(len < sizeof a ? len : sizeof a - 1), p);
        int fam = strchr(a, ':') ? AF_INET6 : AF_INET;
        if (len >= sizeof a || inet_pton(fam, a, bin) != 1 || *n == MAX_LIST)
            return rg_error_set(RG_EINVAL, "%s must list at most %d IP addresses, not \"%.*s\"",
                                var, MAX_LIST, (int)(len > 60 ? 60 : len), p);
        inet_ntop(fam, bin, out[(*n)++], RG_ADDR_MAX);
        p += len;
    }
    return 0;
}

/* "login=300/60,signup=300/600,...": count per window in seconds; "off"
 * for none. Names not given keep no limit. */
static int parse_rates(rg_guard *g, const char *text)
{
    static const char *const names[] = {"login", "signup", "reset", "messages", "search"};
    g->nrates = 0;
    if (!text || strcmp(text, "off") == 0)
        return 0;
    for (const char *p = text; *p;) {
        p += strspn(p, " ,");
        size_t len = strcspn(p, " ,");
        if (!len)
            break;
        char item[64], name[16];
        int limit = 0, window = 0, used = 0;
        snprintf(item, sizeof item, "%.*s", (int)(len < sizeof item ? len : sizeof item - 1), p);
        const char *known = NULL;
        if (sscanf(item, "%15[a-z]=%d/%d%n", name, &limit, &window, &used) == 3 &&
            (size_t)used == strlen(item) && limit >= 1 && window >= 1 && window <= 86400)
            for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
                if (strcmp(names[i], name) == 0)
                    known = names[i];
        for (int i = 0; known && i < g->nrates; i++)
            if (g->rates[i].name == known)
                known = NULL; /* named twice */
        if (!known || len >= sizeof item)
            return rg_error_set(RG_EINVAL,
                                "RG_RATE_LIMITS items are NAME=COUNT/SECONDS with NAME one of "
                                "login, signup, reset, messages, search, each once; not "
                                "\"%.*s\"",
                                (int)(len > 40 ? 40 : len), p);
        g->rates[g->nrates++] = (struct rate){known, limit, window, strcmp(known, "messages") == 0};
        p += len;
    }
    return 0;
}

static void addr_of(const struct sockaddr *sa, char out[RG_ADDR_MAX])
{
    out[0] = '\0';
    if (!sa)
        return;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, RG_ADDR_MAX);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, RG_ADDR_MAX);
}

static struct addr_count **addr_slot(rg_guard *g, const char *addr)
{
    struct addr_count **p = &g->by_addr[addr_hash(addr)];
    while (*p && strcmp((*p)->addr, addr) != 0)
        p = &(*p)->next;
    return p;
}

static void addr_add(rg_guard *g, const char *addr, int by)
{
    struct addr_count **p = addr_slot(g, addr);
    if (!*p) {
        if (by < 0)
            return;
        *p = rg_xcalloc(1, sizeof **p);
        snprintf((*p)->addr, sizeof(*p)->addr, "%s", addr);
    }
    (*p)->n += by;
    if ((*p)->n <= 0) {
        struct addr_count *gone = *p;
        *p = gone->next;
        free(gone);
    }
}

enum MHD_Result rg_guard_accept(void *cls, const struct sockaddr *sa, socklen_t len)
{
    (void)len;
    rg_guard *g = cls;
    char addr[RG_ADDR_MAX];
    addr_of(sa, addr);
    /* A proxy in front carries everyone's connections. */
    if (listed(g->exempt, g->nexempt, addr) || listed(g->proxies, g->nproxies, addr))
        return MHD_YES;
    pthread_mutex_lock(&g->mu);
    struct addr_count *c = *addr_slot(g, addr);
    bool full = c && c->n >= g->per_address;
    if (full)
        g->refused_total++;
    pthread_mutex_unlock(&g->mu);
    return full ? MHD_NO : MHD_YES;
}

void rg_guard_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                     enum MHD_ConnectionNotificationCode code)
{
    rg_guard *g = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        struct conn_rec *r = rg_xcalloc(1, sizeof *r);
        const union MHD_ConnectionInfo *fd =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        const union MHD_ConnectionInfo *ca =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        r->fd = fd ? fd->connect_fd : -1;
        addr_of(ca ? ca->client_addr : NULL, r->addr);
        r->since_ms = rg_mono_us() / 1000;
        pthread_mutex_lock(&g->mu);
        r->next = g->conns;
        if (g->conns)
            g->conns->prev = r;
        g->conns = r;
        addr_add(g, r->addr, 1);
        pthread_mutex_unlock(&g->mu);
        *socket_context = r;
        return;
    }
    struct conn_rec *r = *socket_context;
    if (!r)
        return;
    pthread_mutex_lock(&g->mu);
    if (r->prev)
        r->prev->next = r->next;
    else
        g->conns = r->next;
    if (r->next)
        r->next->prev = r->prev;
    addr_add(g, r->addr, -1);
    pthread_mutex_unlock(&g->mu);
    free(r);
    *socket_context = NULL;
}

static struct conn_rec *rec_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *i =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return i ? i->socket_context : NULL;
}

/* The request's head has come: its body has RG_BODY_TIMEOUT_S from now. */
void rg_guard_head_done(rg_guard *g, struct MHD_Connection *conn)
{
    struct conn_rec *r = rec_of(conn);
    if (!r)
        return;
    pthread_mutex_lock(&g->mu);
    r->head_done = true;
    r->body_done = false;
    r->since_ms = rg_mono_us() / 1000;
    pthread_mutex_unlock(&g->mu);
}

/* The request is whole: no deadline while the route runs. */
void rg_guard_body_done(rg_guard *g, struct MHD_Connection *conn)
{
    struct conn_rec *r = rec_of(conn);
    if (!r)
        return;
    pthread_mutex_lock(&g->mu);
    r->body_done = true;
    pthread_mutex_unlock(&g->mu);
}

/* The answer is queued: a client that does not read it is cut after
 * SEND_TIMEOUT_S. */
void rg_guard_sending(rg_guard *g, struct MHD_Connection *conn)
{
    struct conn_rec *r = rec_of(conn);
    if (!r)
        return;
    pthread_mutex_lock(&g->mu);
    r->sending = true;
    r->since_ms = rg_mono_us() / 1000;
    pthread_mutex_unlock(&g->mu);
}

/* The answer is sent: the next request's head has RG_HEAD_TIMEOUT_S. */
void rg_guard_request_done(rg_guard *g, struct MHD_Connection *conn)
{
    struct conn_rec *r = rec_of(conn);
    if (!r)
        return;
    pthread_mutex_lock(&g->mu);
    r->head_done = r->body_done = r->sending = false;
    r->since_ms = rg_mono_us() / 1000;
    pthread_mutex_unlock(&g->mu);
}

static void *watchdog(void *p)
{
    rg_guard *g = p;
    pthread_mutex_lock(&g->mu);
    while (!g->stopping) {
        int64_t now = rg_mono_us() / 1000;
        for (struct conn_rec *r = g->conns; r; r = r->next) {
            if (r->cut || (r->body_done && !r->sending) || r->fd < 0)
                continue;
            int64_t limit = (r->sending     ? SEND_TIMEOUT_S
                             : r->head_done ? g->body_s
                                            : g->head_s) *
                            (int64_t)1000;
            int unread = 0;
            /* Bytes the server has not read yet: it is behind, not the
             * client (a worker busy with a long request). */
            if (now - r->since_ms > limit && !r->sending && ioctl(r->fd, FIONREAD, &unread) == 0 &&
                unread > 0)
                continue;
            if (now - r->since_ms > limit) {
                /* libmicrohttpd sees the end of the stream and closes it. */
                shutdown(r->fd, SHUT_RDWR);
                r->cut = true;
                g->cut_total++;
            }
        }
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += 250 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&g->wake, &g->mu, &ts);
    }
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

static double cut_count(void *ctx)
{
    rg_guard *g = ctx;
    pthread_mutex_lock(&g->mu);
    double v = (double)g->cut_total;
    pthread_mutex_unlock(&g->mu);
    return v;
}

static double refused_count(void *ctx)
{
    rg_guard *g = ctx;
    pthread_mutex_lock(&g->mu);
    double v = (double)g->refused_total;
    pthread_mutex_unlock(&g->mu);
    return v;
}

int rg_guard_open(rg_guard **out, rg_app *app)
{
    const rg_config *cfg = app->cfg;
    rg_guard *g = rg_xcalloc(1, sizeof *g);
    g->app = app;
    g->per_address = cfg->max_connections_per_address;
    g->head_s = cfg->head_timeout_s;
    g->body_s = cfg->body_timeout_s;
    int rc = parse_addresses("RG_LIMITS_EXEMPT", cfg->limits_exempt, g->exempt, &g->nexempt);
    if (rc == 0)
        rc = parse_addresses("RG_PROXY_ADDRESSES", cfg->proxy_addresses, g->proxies, &g->nproxies);
    if (rc == 0)
        rc = parse_rates(g, cfg->rate_limits);
    if (rc < 0) {
        free(g);
        return rc;
    }
    pthread_mutex_init(&g->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&g->wake, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&g->watchdog, NULL, watchdog, g) != 0) {
        pthread_mutex_destroy(&g->mu);
        pthread_cond_destroy(&g->wake);
        free(g);
        return rg_error_set(RG_EINTERNAL, "cannot start the connection watchdog");
    }
    rg_metrics_describe("rg_http_connections_cut_total", "counter",
                        "Connections closed because a request's head or body came too slowly.");
    rg_metrics_watch("rg_http_connections_cut_total", cut_count, g);
    rg_metrics_describe("rg_http_connections_refused_total", "counter",
                        "Connections refused because their address held too many.");
    rg_metrics_watch("rg_http_connections_refused_total", refused_count, g);
    *out = g;
    return 0;
}

void rg_guard_close(rg_guard *g)
{
    if (!g)
        return;
    pthread_mutex_lock(&g->mu);
    g->stopping = true;
    pthread_cond_signal(&g->wake);
    pthread_mutex_unlock(&g->mu);
    pthread_join(g->watchdog, NULL);
    rg_metrics_unwatch(g);
    for (int i = 0; i < ADDR_BUCKETS; i++)
        while (g->by_addr[i]) {
            struct addr_count *n = g->by_addr[i]->next;
            free(g->by_addr[i]);
            g->by_addr[i] = n;
        }
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->wake);
    free(g);
}

static enum MHD_Result join_forwarded(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    (void)kind;
    rg_buf *b = cls;
    if (value && strcasecmp(key, "X-Forwarded-For") == 0 && b->len < 4096)
        rg_buf_printf(b, "%s%s", b->len ? "," : "", value);
    return MHD_YES;
}

/* One X-Forwarded-For entry as an address in canonical text: a port
 * ("192.0.2.1:443") and brackets ("[2001:db8::1]:443") are dropped. An entry
 * that is no address is kept as text (at most RG_ADDR_MAX - 2 bytes, after
 * a '?'), so that it still names one client rather than the proxy. */
void rg_http_forwarded_entry(const char *s, size_t n, char out[RG_ADDR_MAX])
{
    char a[64];
    snprintf(a, sizeof a, "%.*s", (int)(n < sizeof a ? n : sizeof a - 1), s);
    char *host = a;
    if (host[0] == '[') {
        host++;
        char *close = strchr(host, ']');
        if (close)
            *close = '\0';
    } else if (strchr(host, ':') == strrchr(host, ':') && strchr(host, ':')) {
        *strchr(host, ':') = '\0'; /* IPv4 with a port */
    }
    unsigned char bin[sizeof(struct in6_addr)];
    int fam = strchr(host, ':') ? AF_INET6 : AF_INET;
    if (n < sizeof a && inet_pton(fam, host, bin) == 1)
        inet_ntop(fam, bin, out, RG_ADDR_MAX);
    else
        snprintf(out, RG_ADDR_MAX, "?%.*s", (int)(n < RG_ADDR_MAX - 2 ? n : RG_ADDR_MAX - 2), s);
}

/* The client's address: the peer's, or, when the peer is a listed proxy,
 * the last entry of X-Forwarded-For (every such header, in order) that is
 * not a listed proxy. */
void rg_guard_client(rg_guard *g, struct MHD_Connection *conn, char out[RG_ADDR_MAX])
{
    struct conn_rec *r = rec_of(conn);
    if (r)
        memcpy(out, r->addr, RG_ADDR_MAX);
    else {
        const union MHD_ConnectionInfo *ca =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        addr_of(ca ? ca->client_addr : NULL, out);
    }
    if (!g->nproxies || !listed(g->proxies, g->nproxies, out))
        return;
    rg_buf xff = {0};
    MHD_get_connection_values(conn, MHD_HEADER_KIND, join_forwarded, &xff);
    size_t end = xff.len;
    while (end > 0) {
        size_t start = end;
        while (start > 0 && xff.data[start - 1] != ',')
            start--;
        const char *s = xff.data + start;
        size_t n = end - start;
        while (n && (*s == ' ' || *s == '\t'))
            s++, n--;
        while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
            n--;
        if (n) {
            rg_http_forwarded_entry(s, n, out);
            if (!listed(g->proxies, g->nproxies, out))
                break;
        }
        end = start > 0 ? start - 1 : 0;
    }
    rg_buf_free(&xff);
}

int rg_guard_rate(rg_guard *g, rg_app *app, const char *route, const rg_ctx *ctx, int *retry_after)
{
    *retry_after = 0;
    const char *name = NULL;
    for (size_t i = 0; i < sizeof rated_routes / sizeof rated_routes[0] && !name; i++)
        if (strcmp(rated_routes[i].route, route) == 0)
            name = rated_routes[i].rate;
    const struct rate *rate = NULL;
    for (int i = 0; name && i < g->nrates && !rate; i++)
        if (strcmp(g->rates[i].name, name) == 0)
            rate = &g->rates[i];
    if (!rate)
        return 0;
    const char *subject = rate->per_account ? ctx->who.user_id : ctx->client;
    if (!subject[0] || (!rate->per_account && listed(g->exempt, g->nexempt, ctx->client)))
        return 0;
    /* A window opens with the first request and lasts window_s: the count's
     * expiry is set when it is made and kept by every increment. */
    char key[128], bucket[RG_ADDR_MAX];
    if (rate->per_account)
        snprintf(bucket, sizeof bucket, "%s", subject);
    else
        rg_addr_bucket(subject, bucket);
    snprintf(key, sizeof key, "rl:%s:%s", rate->name, bucket);
    int64_t count = 0;
    if (rg_cache_incr(&app->st.cache, key, 1, (int64_t)rate->window_s * 1000, &count) < 0) {
        rg_error_clear(); /* the cache is down: no limit rather than no service */
        return 0;
    }
    if (count <= rate->limit)
        return 0;
    *retry_after = rate->window_s; /* at most that long */
    return rg_error_set(RG_ERATE, "too many %s requests from %s; try again in %d seconds",
                        rate->name, rate->per_account ? "this account" : "this address",
                        *retry_after);
}
