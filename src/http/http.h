/* The HTTP layer: libmicrohttpd glue (server.c), the route table
 * (routes.c) and one handler file per resource. Handlers are thin: they
 * read parameters, call the domain and shape the response. */
#ifndef RG_HTTP_H
#define RG_HTTP_H

#include <jansson.h>
#include <microhttpd.h>
#include <signal.h>
#include <stdbool.h>

#include "risinggen/base/log.h"
#include "risinggen/domain/app.h"
#include "risinggen/base/buf.h"

#define RG_MAX_BODY       (1024 * 1024)
#define RG_MAX_JSON_DEPTH 32
#define RG_MAX_PARAMS     4

enum rg_auth_mode {
    RG_AUTH_NONE,     /* public; a token is not looked at */
    RG_AUTH_OPTIONAL, /* public; a valid token identifies the caller */
    RG_AUTH_REQUIRED, /* 401 without a valid token */
};

typedef struct rg_request {
    struct MHD_Connection *conn;
    const char *method;
    const char *path;
    const char *params[RG_MAX_PARAMS]; /* {name} segments in order */
    char *path_copy;
    rg_buf body;
    bool too_big;
    json_t *json; /* the parsed body, NULL when there was none */
    rg_ctx ctx;   /* who is calling, and whether they read their own writes */
    const char *token;
    /* Given to every request (or taken from a well-formed X-Request-Id),
     * sent back in X-Request-Id, in every log line of the request and in
     * every problem+json body. */
    char request_id[RG_REQUEST_ID_MAX + 1];
    const struct rg_route *route;
    int64_t t0;
    bool framing; /* its framing is refused: answered at once, then closed */
    /* How its handler may wait without the thread (app.h); parked while
     * its connection is suspended for that. */
    rg_waiter waiter;
    bool parked;
} rg_request;

typedef struct rg_response {
    int status;
    char *body; /* malloc'd */
    size_t len;
    const char *content_type;
    char location[160];
    char extra_header[192]; /* e.g. "Content-Disposition: …" name and value split at ':' */
    bool close;             /* end the connection after this answer */
    int retry_after;        /* seconds, for a 429 (a 503 says 1) */
} rg_response;

typedef int (*rg_handler)(rg_app *app, rg_request *req, rg_response *res);

typedef struct rg_route {
    const char *method;
    const char *pattern; /* "/v1/events/{id}" */
    rg_handler handler;
    enum rg_auth_mode auth;
    const char *name; /* "GET /v1/events/{id}", for metrics and logs */
} rg_route;

/* The route table (routes.c), ending with a zeroed entry. */
extern const rg_route rg_routes[];

/* Finds the route for method and path; fills params (pointing into a copy of
 * path kept in req). Returns the route, or NULL with *method_mismatch set
 * when the path exists under another method. */
const rg_route *rg_route_match(rg_request *req, const char *method, const char *path,
                               bool *method_mismatch, char *allow, size_t allow_cap);

/* Response helpers. rg_reply_json steals body. */
int rg_reply_json(rg_response *res, int status, json_t *body);
int rg_reply_empty(rg_response *res, int status);
/* Builds the problem+json for code from the thread's error state, with the
 * request's path as instance and its id as requestId. */
void rg_reply_problem(rg_request *req, rg_response *res, int code);

/* Query parameter (decoded) or NULL. */
const char *rg_req_arg(rg_request *req, const char *name);
const char *rg_req_header(rg_request *req, const char *name);
/* limit=1..100 (default 20); RG_EINVAL otherwise. */
int rg_req_limit(rg_request *req, int *out);
/* The body as a JSON object, or RG_EVALIDATION when absent. */
int rg_req_body_object(rg_request *req, json_t **out);

/* What comes off the wire (wire.c). The deepest nesting of a JSON text,
 * counted outside strings. */
int rg_http_json_depth(const char *s, size_t n);
/* libmicrohttpd's decoding of a path or query in place, except that an
 * encoded NUL (%00), which would cut the text there, becomes the byte 0xFF,
 * never valid UTF-8, so that rg_http_valid_text refuses it. New length. */
size_t rg_http_unescape(char *s);
/* Valid UTF-8 without control characters. */
bool rg_http_valid_text(const char *s);
/* One X-Forwarded-For entry as canonical address text, or "?text"
 * (guard.c). */
void rg_http_forwarded_entry(const char *s, size_t n, char out[RG_ADDR_MAX]);

/* The transport's guard (guard.c): per-address connection limits, head and
 * body deadlines, the client's address and rate limits. */
typedef struct rg_guard rg_guard;
/* From RG_MAX_CONNECTIONS_PER_ADDRESS, RG_HEAD_TIMEOUT_S, RG_BODY_TIMEOUT_S,
 * RG_RATE_LIMITS, RG_LIMITS_EXEMPT and RG_PROXY_ADDRESSES; RG_EINVAL
 * naming the variable when one cannot be used. Starts the watchdog. */
int rg_guard_open(rg_guard **out, rg_app *app);
void rg_guard_close(rg_guard *g);
/* libmicrohttpd's accept policy and connection notification. */
enum MHD_Result rg_guard_accept(void *cls, const struct sockaddr *sa, socklen_t len);
void rg_guard_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                     enum MHD_ConnectionNotificationCode code);
/* A request's head came; its body came; its answer is queued; it went. */
void rg_guard_head_done(rg_guard *g, struct MHD_Connection *conn);
void rg_guard_body_done(rg_guard *g, struct MHD_Connection *conn);
void rg_guard_sending(rg_guard *g, struct MHD_Connection *conn);
void rg_guard_request_done(rg_guard *g, struct MHD_Connection *conn);
/* The client's address (see rg_ctx.client). */
void rg_guard_client(rg_guard *g, struct MHD_Connection *conn, char out[RG_ADDR_MAX]);
/* 0, or RG_ERATE with *retry_after seconds when the route's limit for this
 * client address (or account) is used up. */
int rg_guard_rate(rg_guard *g, rg_app *app, const char *route, const rg_ctx *ctx, int *retry_after);

/* Runs the server on app->cfg's RG_LISTEN with RG_THREADS workers until
 * *stop becomes true. Finishes in-flight requests before returning. */
int rg_server_run(rg_app *app, volatile sig_atomic_t *stop);

#endif
