/* libmicrohttpd glue: a pool of threads each running its own epoll loop with
 * synchronous handlers, and one more thread for the domain's background
 * jobs. Bodies are collected up to RG_MAX_BODY, then the route runs once per
 * request with the request's context (who, read-your-writes) and its id
 * bound to the thread's log lines. */
#include "http.h"
#include "risinggen/base/alloc.h"
#include "risinggen/base/clock.h"
#include "risinggen/base/error.h"
#include "risinggen/base/id.h"
#include "risinggen/base/log.h"
#include "risinggen/base/metrics.h"
#include "risinggen/base/validate.h"
#include "risinggen/domain/auth.h"
#include "risinggen/domain/events.h"
#include "risinggen/domain/jobs.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* What the server's threads share, for the life of rg_server_run. */
struct server {
    rg_app *app;
    rg_guard *guard;
    bool access_log;
    atomic_int inflight; /* requests begun and not yet completed */
};

/* A JSON string of s, with every byte that is not valid UTF-8 (or is a
 * control character) replaced by '?': request lines can hold anything. */
static json_t *safe_string(const char *s)
{
    json_t *j = json_string(s);
    if (j)
        return j;
    size_t n = strlen(s);
    char *copy = rg_xmalloc(n + 1);
    for (size_t i = 0; i <= n; i++)
        copy[i] =
            (s[i] && ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x80)) ? '?' : s[i];
    j = json_string(copy);
    free(copy);
    return j;
}

int rg_reply_json(rg_response *res, int status, json_t *body)
{
    res->status = status;
    res->body = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    res->content_type = "application/json";
    if (!res->body) { /* a value jansson cannot write: never a crash */
        rg_err("response body could not be written as JSON");
        res->status = 500;
        res->body = rg_xstrdup("{\"type\":\"https://risinggen.dev/problems/internal\","
                               "\"title\":\"Internal error\",\"status\":500}");
        res->content_type = "application/problem+json";
    }
    res->len = strlen(res->body);
    return 0;
}

int rg_reply_empty(rg_response *res, int status)
{
    res->status = status;
    res->body = NULL;
    res->len = 0;
    return 0;
}

void rg_reply_problem(rg_request *req, rg_response *res, int code)
{
    const char *instance = req->path;
    if (code >= 0)
        code = RG_EINTERNAL;
    const char *detail = rg_error_last() == code ? rg_error_detail() : "";
    int status = rg_error_status(code);
    if (status == 500)
        detail = "an internal error occurred; it has been logged";
    char type[128];
    snprintf(type, sizeof type, "https://risinggen.dev/problems/%s", rg_error_slug(code));
    json_t *p =
        json_pack("{s:s, s:s, s:i, s:o}", "type", type, "title", rg_error_title(code), "status",
                  status, "detail", safe_string(detail && *detail ? detail : rg_error_title(code)));
    if (instance)
        json_object_set_new(p, "instance", safe_string(instance));
    if (req->request_id[0])
        json_object_set_new(p, "requestId", json_string(req->request_id));
    json_t *fields = rg_error_fields();
    if (fields && rg_error_last() == code)
        json_object_set(p, "errors", fields);
    free(res->body);
    rg_reply_json(res, status, p);
    res->content_type = "application/problem+json";
}

const char *rg_req_arg(rg_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *rg_req_header(rg_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

int rg_req_limit(rg_request *req, int *out)
{
    const char *s = rg_req_arg(req, "limit");
    *out = 20;
    if (!s)
        return 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < 1 || v > 100)
        return rg_error_set(RG_EINVAL, "limit must be an integer from 1 to 100");
    *out = (int)v;
    return 0;
}

int rg_req_body_object(rg_request *req, json_t **out)
{
    if (!json_is_object(req->json))
        return v_not_object(req->json);
    *out = req->json;
    return 0;
}

static bool is_json_type(const char *ct)
{
    if (!ct)
        return false;
    size_t n = strcspn(ct, ";");
    while (n && ct[n - 1] == ' ')
        n--;
    return (n == 16 && strncasecmp(ct, "application/json", 16) == 0) ||
           (n == 28 && strncasecmp(ct, "application/merge-patch+json", 28) == 0);
}

/* Request ids of this process: 8 random base64url characters chosen at
 * start, then a counter in 8 more (unique, and cheap enough for every
 * request: no system call). */
static char id_prefix[16];
static atomic_uint_fast64_t id_counter;
static pthread_once_t id_once = PTHREAD_ONCE_INIT;

static void id_init(void)
{
    rg_random_token(id_prefix, 6); /* 6 bytes: 8 characters */
    uint64_t start;
    rg_random_bytes(&start, sizeof start);
    atomic_store(&id_counter, start);
}

static void new_request_id(char out[RG_REQUEST_ID_MAX + 1])
{
    pthread_once(&id_once, id_init);
    uint64_t n = atomic_fetch_add_explicit(&id_counter, 1, memory_order_relaxed);
    unsigned char b[6];
    for (int i = 0; i < 6; i++)
        b[i] = (unsigned char)(n >> (8 * i));
    char tail[16];
    rg_b64url_encode(b, sizeof b, tail);
    snprintf(out, RG_REQUEST_ID_MAX + 1, "%s%s", id_prefix, tail);
}

/* The request's id: the client's X-Request-Id when it is 1..64 characters
 * of [A-Za-z0-9._-] (so that a proxy's id carries through), else a new one
 * of 16 base64url characters. */
static void request_id(rg_request *req)
{
    const char *given = rg_req_header(req, "X-Request-Id");
    size_t n = given ? strspn(given, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                     "0123456789._-")
                     : 0;
    if (given && n > 0 && n <= RG_REQUEST_ID_MAX && given[n] == '\0') {
        memcpy(req->request_id, given, n + 1);
        return;
    }
    new_request_id(req->request_id);
}

/* How a request's body is framed (RFC 9112 section 6): one Content-Length,
 * or Transfer-Encoding: chunked alone. Anything else could be read one way
 * here and another way by a proxy in front, so that a second request hides
 * in the first one's body: such a message is answered 400 (501 for a
 * transfer coding other than chunked) and its connection closed.
 * libmicrohttpd itself refuses a Content-Length that is not a number. */
struct framing {
    int content_length, transfer_encoding;
    const char *cl, *te;
    bool cl_differ;
};

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    (void)kind;
    struct framing *f = cls;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
        if (f->content_length++ && strcmp(f->cl, value ? value : "") != 0)
            f->cl_differ = true;
        f->cl = value ? value : "";
    } else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        f->transfer_encoding++;
        f->te = value ? value : "";
    }
    return MHD_YES;
}

static int check_framing(struct MHD_Connection *conn)
{
    struct framing f = {0};
    MHD_get_connection_values(conn, MHD_HEADER_KIND, count_framing, &f);
    if (f.transfer_encoding && f.content_length)
        return rg_error_set(RG_EINVAL, "send either Content-Length or Transfer-Encoding, not both");
    if (f.content_length > 1)
        return rg_error_set(RG_EINVAL, "Content-Length is given %s",
                            f.cl_differ ? "with different values" : "more than once");
    if (f.transfer_encoding > 1 || (f.te && strcasecmp(f.te, "chunked") != 0))
        return rg_error_set(RG_ENOTIMPL, "the only transfer coding understood is chunked");
    return 0;
}

static size_t unescape(void *cls, struct MHD_Connection *conn, char *s)
{
    (void)cls, (void)conn;
    return rg_http_unescape(s);
}

static enum MHD_Result check_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
    (void)kind;
    const char **bad = cls;
    if (!rg_http_valid_text(key) || (value && !rg_http_valid_text(value))) {
        *bad = key;
        return MHD_NO;
    }
    return MHD_YES;
}

/* Requests parked (app.h's rg_waiter), whose connections libmicrohttpd
 * holds suspended: none may be left when the daemon stops. */
static atomic_int parked_now;
static rg_metric *parked_total;

static double parked_gauge(void *ctx)
{
    (void)ctx;
    return atomic_load(&parked_now);
}

static rg_request *request_of(rg_waiter *w)
{
    return (rg_request *)(void *)((char *)w - offsetof(rg_request, waiter));
}

/* In the request's handler, on its thread. */
static void park_request(rg_waiter *w)
{
    rg_request *req = request_of(w);
    atomic_fetch_add(&parked_now, 1);
    rg_metrics_add(parked_total, 1);
    req->parked = true;
    MHD_suspend_connection(req->conn);
}

/* From any thread: the connection's own thread calls the handler again. */
static void wake_request(rg_waiter *w)
{
    MHD_resume_connection(request_of(w)->conn);
}

/* The route's handler, the first time or again after a park. */
static void run_handler(rg_app *app, rg_request *req, rg_response *res)
{
    req->waiter.park = park_request;
    req->waiter.wake = wake_request;
    req->parked = false;
    int rc = req->route->handler(app, req, res);
    if (rc == RG_PARKED && req->parked)
        return;
    if (rc < 0)
        rg_reply_problem(req, res, rc);
    else if (strcmp(req->method, "GET") != 0 && res->status < 300)
        rg_ctx_wrote(app, &req->ctx);
}

/* Parses the body, authenticates, and runs the route. */
static void dispatch(rg_app *app, rg_guard *guard, rg_request *req, rg_response *res)
{
    if (req->framing) {
        rg_reply_problem(req, res, check_framing(req->conn));
        res->close = true;
        return;
    }
    const char *bad = NULL;
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, check_arg, &bad);
    if (!rg_http_valid_text(req->path) || bad) {
        rg_error_set(RG_EINVAL,
                     "the %s holds bytes that are not text (control characters or "
                     "invalid UTF-8)",
                     bad ? "query" : "path");
        rg_reply_problem(req, res, RG_EINVAL);
        return;
    }
    bool mismatch = false;
    char allow[128] = "";
    req->route = rg_route_match(req, req->method, req->path, &mismatch, allow, sizeof allow);
    if (!req->route) {
        if (mismatch) {
            rg_error_set(RG_EMETHOD, "%s is not allowed here; allowed: %s", req->method, allow);
            rg_reply_problem(req, res, RG_EMETHOD);
            snprintf(res->extra_header, sizeof res->extra_header, "Allow:%s", allow);
        } else {
            rg_error_set(RG_ENOTFOUND, "no route %s %s", req->method, req->path);
            rg_reply_problem(req, res, RG_ENOTFOUND);
        }
        return;
    }
    /* The request's context: who calls and whether they changed something a
     * moment ago (then their reads go to the primary, not to a replica that
     * may lag, so that they see their own writes). */
    rg_ctx_begin(app, &req->ctx, NULL);
    const char *authz = rg_req_header(req, MHD_HTTP_HEADER_AUTHORIZATION);
    if (authz && req->route->auth != RG_AUTH_NONE) {
        if (strncasecmp(authz, "Bearer ", 7) != 0) {
            rg_error_set(RG_EUNAUTH, "use Authorization: Bearer <accessToken>");
            rg_reply_problem(req, res, RG_EUNAUTH);
            return;
        }
        req->token = authz + 7;
        int rc = rg_auth_begin(app, req->token, &req->ctx);
        if (rc < 0) {
            rg_reply_problem(req, res, rc);
            return;
        }
    } else if (req->route->auth == RG_AUTH_REQUIRED) {
        rg_error_set(RG_EUNAUTH, "sign in and send Authorization: Bearer <accessToken>");
        rg_reply_problem(req, res, RG_EUNAUTH);
        return;
    }
    if (!req->ctx.who.user_id[0] && req->route->auth == RG_AUTH_REQUIRED) {
        rg_error_set(RG_EUNAUTH, "sign in first");
        rg_reply_problem(req, res, RG_EUNAUTH);
        return;
    }
    rg_guard_client(guard, req->conn, req->ctx.client);
    int limited = rg_guard_rate(guard, app, req->route->name, &req->ctx, &res->retry_after);
    if (limited < 0) {
        int retry = res->retry_after;
        rg_reply_problem(req, res, limited);
        res->retry_after = retry;
        return;
    }
    if (req->too_big) {
        rg_error_set(RG_ETOOBIG, "the body is larger than %d bytes", RG_MAX_BODY);
        rg_reply_problem(req, res, RG_ETOOBIG);
        return;
    }
    if (req->body.len) {
        if (!is_json_type(rg_req_header(req, MHD_HTTP_HEADER_CONTENT_TYPE))) {
            rg_error_set(RG_EMEDIA, "send the body as application/json");
            rg_reply_problem(req, res, RG_EMEDIA);
            return;
        }
        if (rg_http_json_depth(req->body.data, req->body.len) > RG_MAX_JSON_DEPTH) {
            rg_error_set(RG_EJSON, "the JSON nests deeper than %d levels", RG_MAX_JSON_DEPTH);
            rg_reply_problem(req, res, RG_EJSON);
            return;
        }
        json_error_t err;
        req->json = json_loadb(req->body.data, req->body.len, JSON_REJECT_DUPLICATES, &err);
        if (!req->json) {
            rg_error_set(RG_EJSON, "the body is not valid JSON: %s at line %d column %d", err.text,
                         err.line, err.column);
            rg_reply_problem(req, res, RG_EJSON);
            return;
        }
    }
    req->ctx.waiter = &req->waiter;
    run_handler(app, req, res);
}

static void log_access(rg_request *req, const rg_response *res, int64_t dur_us)
{
    char ts[RG_TIME_LEN + 1];
    rg_time_format(rg_now(), ts);
    json_t *line = json_pack(
        "{s:s, s:s, s:o, s:o, s:i, s:f, s:I, s:s?, s:s}", "ts", ts, "kind", "access", "method",
        safe_string(req->method), "path", safe_string(req->path), "status", res->status, "ms",
        dur_us / 1000.0, "bytes", (json_int_t)res->len, "user",
        req->ctx.who.user_id[0] ? req->ctx.who.user_id : NULL, "requestId", req->request_id);
    char *s = json_dumps(line, JSON_COMPACT);
    if (s) {
        fprintf(stderr, "%s\n", s);
        free(s);
    }
    json_decref(line);
}

static enum MHD_Result send_response(struct MHD_Connection *conn, const rg_request *req,
                                     rg_response *res)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(res->len, res->body, MHD_RESPMEM_MUST_FREE);
    res->body = NULL;
    if (!r)
        return MHD_NO;
    if (res->content_type)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, res->content_type);
    if (res->location[0])
        MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, res->location);
    if (res->status == 503 || res->status == 429) {
        char secs[16];
        snprintf(secs, sizeof secs, "%d", res->retry_after > 0 ? res->retry_after : 1);
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, secs);
    }
    if (res->status == 401) /* RFC 6750 section 3 */
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                req->token ? "Bearer realm=\"risinggen\", error=\"invalid_token\""
                                           : "Bearer realm=\"risinggen\"");
    if (res->close)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    if (res->extra_header[0]) {
        char name[64];
        char *colon = strchr(res->extra_header, ':');
        if (colon) {
            snprintf(name, sizeof name, "%.*s", (int)(colon - res->extra_header),
                     res->extra_header);
            MHD_add_response_header(r, name, colon + 1);
        }
    }
    MHD_add_response_header(r, "X-Request-Id", req->request_id);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)res->status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    (void)version;
    struct server *srv = cls;
    rg_request *req = *con_cls;
    if (!req) {
        req = rg_xcalloc(1, sizeof *req);
        req->conn = conn;
        req->method = method;
        req->path = url;
        req->t0 = rg_mono_us();
        request_id(req);
        atomic_fetch_add(&srv->inflight, 1);
        const char *cl =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > RG_MAX_BODY)
            req->too_big = true;
        *con_cls = req;
        rg_guard_head_done(srv->guard, conn);
        /* A refused framing is answered at once, before any body is read. */
        if (!(req->framing = check_framing(conn) < 0))
            return MHD_YES;
    } else if (*upload_size) {
        if (!req->too_big && req->body.len + *upload_size <= RG_MAX_BODY)
            rg_buf_put(&req->body, upload, *upload_size);
        else
            req->too_big = true;
        *upload_size = 0;
        return MHD_YES;
    }
    rg_error_clear();
    rg_log_bind(req->request_id);
    rg_response res = {0};
    if (req->parked) { /* back from a park: the handler goes on */
        atomic_fetch_sub(&parked_now, 1);
        run_handler(srv->app, req, &res);
    } else {
        rg_guard_body_done(srv->guard, conn);
        dispatch(srv->app, srv->guard, req, &res);
    }
    rg_error_clear();
    if (req->parked) {
        rg_log_bind(NULL);
        return MHD_YES;
    }
    int64_t dur = rg_mono_us() - req->t0;
    rg_metrics_request(req->route ? req->route->name : "unmatched", res.status, dur);
    if (srv->access_log)
        log_access(req, &res, dur);
    rg_log_bind(NULL);
    enum MHD_Result queued = send_response(conn, req, &res);
    rg_guard_sending(srv->guard, conn);
    return queued;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)toe;
    struct server *srv = cls;
    rg_guard_request_done(srv->guard, conn);
    rg_request *req = *con_cls;
    if (!req)
        return;
    if (req->parked) /* ended before its handler could go on */
        atomic_fetch_sub(&parked_now, 1);
    if (req->waiter.state)
        req->waiter.drop(req->waiter.state);
    json_decref(req->json);
    rg_buf_free(&req->body);
    free(req->path_copy);
    free(req);
    *con_cls = NULL;
    atomic_fetch_sub(&srv->inflight, 1);
}

static double in_flight(void *ctx)
{
    return atomic_load(&((struct server *)ctx)->inflight);
}

struct runner {
    rg_app *app;
    volatile sig_atomic_t *stop;
};

static void *run_jobs(void *p)
{
    struct runner *r = p;
    rg_jobs_run(r->app, r->stop);
    return NULL;
}

/* RG_MAX_CONNECTIONS, lowered to what the open-file limit leaves after the
 * stores' connections and the process's own files: a connection past it
 * would fail later, inside a request, instead of waiting in the backlog. */
static unsigned connection_limit(const rg_config *cfg)
{
    struct rlimit rl;
    unsigned want = (unsigned)cfg->max_connections;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return want;
    if (rl.rlim_cur < rl.rlim_max && rl.rlim_cur < want + 1024) {
        rl.rlim_cur = rl.rlim_max < want + 1024 ? rl.rlim_max : want + 1024;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    rlim_t reserve = 128 + 4 * (rlim_t)cfg->pool_size;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < reserve + want) {
        unsigned fit = rl.rlim_cur > reserve + 16 ? (unsigned)(rl.rlim_cur - reserve) : 16;
        rg_warn("RG_MAX_CONNECTIONS is %u but the open-file limit (%llu) leaves room for %u: "
                "serving at most %u connections",
                want, (unsigned long long)rl.rlim_cur, fit, fit);
        return fit;
    }
    return want;
}

static int parse_listen(const char *listen, struct sockaddr_in *sa)
{
    char host[64];
    const char *colon = strrchr(listen, ':');
    if (!colon || colon - listen >= (long)sizeof host)
        return -1;
    snprintf(host, sizeof host, "%.*s", (int)(colon - listen), listen);
    long port = strtol(colon + 1, NULL, 10);
    if (port < 0 || port > 65535)
        return -1;
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    if (strcmp(host, "localhost") == 0)
        snprintf(host, sizeof host, "127.0.0.1");
    return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

int rg_server_run(rg_app *app, volatile sig_atomic_t *stop)
{
    const char *listen = app->cfg->listen;
    struct sockaddr_in sa;
    if (parse_listen(listen, &sa) < 0) {
        rg_err("RG_LISTEN must be HOST:PORT with an IPv4 address, not %s", listen);
        return RG_EINVAL;
    }
    struct server srv = {.app = app, .access_log = app->cfg->access_log};
    int rc = rg_guard_open(&srv.guard, app);
    if (rc < 0) {
        rg_err("%s", rg_error_detail());
        return rc;
    }
    unsigned max_conns = connection_limit(app->cfg);
    rg_metrics_describe("rg_http_in_flight", "gauge", "Requests being served now.");
    rg_metrics_watch("rg_http_in_flight", in_flight, &srv);
    rg_metrics_describe("rg_http_parked", "gauge",
                        "Requests waiting for another without a thread now.");
    rg_metrics_watch("rg_http_parked", parked_gauge, &srv);
    rg_metrics_describe("rg_http_parked_total", "counter",
                        "Requests that waited for another without a thread.");
    parked_total = rg_metrics_series("rg_http_parked_total");
    unsigned threads = (unsigned)app->cfg->threads;
    /* No MHD_USE_TURBO: with it, libmicrohttpd (0.9.75) puts a new
     * connection on its ready list instead of in the epoll set and relies on
     * an optimistic read; under a burst of connections some were then never
     * read until the 30 s connection timeout closed them with a reset
     * (seen as "Connection reset by peer" by 128 of 200 clients at once).
     * Each connection's memory is 16 KB (heads up to about 14 KB, 431
     * above): libmicrohttpd clears it for every request, and at 64 KB the
     * service spent 9% more CPU per event read (docs/performance.md). */
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME, 0,
        rg_guard_accept, srv.guard, on_request, &srv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(16 * 1024), MHD_OPTION_CONNECTION_LIMIT,
        max_conns, MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, &srv, MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL,
        MHD_OPTION_NOTIFY_CONNECTION, rg_guard_notify, srv.guard, MHD_OPTION_END);
    if (!d) {
        rg_metrics_unwatch(&srv);
        rg_guard_close(srv.guard);
        rg_err("cannot listen on %s (address in use?)", listen);
        return RG_EUNAVAIL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    rg_info("listening on http://%s:%u with %u threads", inet_ntoa(sa.sin_addr),
            info ? info->port : ntohs(sa.sin_port), threads);
    struct runner jr = {app, stop};
    pthread_t jobs;
    pthread_create(&jobs, NULL, run_jobs, &jr);
    if (rg_discovery_remaker_start(app) < 0) /* callers remake pages themselves then */
        rg_warn("%s", rg_error_detail());
    while (!*stop)
        usleep(50 * 1000);
    rg_info("shutting down: finishing requests in flight");
    MHD_quiesce_daemon(d);
    for (int i = 0; i < 200 && atomic_load(&srv.inflight) > 0; i++)
        usleep(50 * 1000);
    /* A parked request is woken when the request it waits for is done;
     * libmicrohttpd must not stop with its connection suspended. */
    while (atomic_load(&parked_now) > 0)
        usleep(10 * 1000);
    MHD_stop_daemon(d);
    rg_discovery_remaker_stop();
    rg_guard_close(srv.guard);
    pthread_join(jobs, NULL);
    rg_metrics_unwatch(&srv);
    rg_info("stopped");
    return 0;
}
