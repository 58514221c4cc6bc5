/* HTTP (libcurl), assertions, JSON paths and fixtures for the API tests. */
#include "support.h"

#include <ctype.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

pthread_t api_main_thread;
bool api_main_thread_set;
static bool allow_5xx;

void api_allow_5xx(bool allow)
{
    allow_5xx = allow;
}

static bool on_main_thread(void)
{
    return api_main_thread_set && pthread_equal(pthread_self(), api_main_thread);
}

const char *fmt(const char *f, ...)
{
    static _Thread_local char bufs[32][2048];
    static _Thread_local int next;
    char *b = bufs[next++ % 32];
    va_list ap;
    va_start(ap, f);
    vsnprintf(b, sizeof bufs[0], f, ap);
    va_end(ap);
    return b;
}

const char *urlenc(const char *s)
{
    static _Thread_local char bufs[8][2048];
    static _Thread_local int next;
    char *b = bufs[next++ % 8];
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && n + 4 < sizeof bufs[0]; p++) {
        if (isalnum(*p) || strchr("-._~", *p))
            b[n++] = (char)*p;
        else
            n += (size_t)snprintf(b + n, 4, "%%%02X", *p);
    }
    b[n] = '\0';
    return b;
}

struct xfer {
    CURL *h;
    struct curl_slist *hdrs;
    api_resp *r;
    size_t cap;
    const char *up;
    size_t up_len, up_off, chunk;
    int trickle_ms;
    volatile int *sending;
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct xfer *x = ud;
    size_t len = size * n;
    if (x->r->len + len + 1 > x->cap) {
        size_t cap = x->cap ? x->cap : 4096;
        while (cap < x->r->len + len + 1)
            cap *= 2;
        char *nb = realloc(x->r->body, cap);
        if (!nb)
            return 0;
        x->r->body = nb;
        x->cap = cap;
    }
    memcpy(x->r->body + x->r->len, p, len);
    x->r->len += len;
    x->r->body[x->r->len] = '\0';
    return len;
}

static void header_value(char *dst, size_t cap, const char *v, size_t n)
{
    while (n && (*v == ' ' || *v == '\t'))
        v++, n--;
    while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
        n--;
    snprintf(dst, cap, "%.*s", (int)n, v);
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct xfer *x = ud;
    size_t len = size * n;
    if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) { /* a new (maybe final) answer */
        x->r->retry_after[0] = x->r->allow[0] = x->r->location[0] = x->r->request_id[0] = '\0';
        return len;
    }
    const char *colon = memchr(p, ':', len);
    if (!colon)
        return len;
    size_t nlen = (size_t)(colon - p), vlen = len - nlen - 1;
    if (nlen == 11 && strncasecmp(p, "Retry-After", 11) == 0)
        header_value(x->r->retry_after, sizeof x->r->retry_after, colon + 1, vlen);
    else if (nlen == 5 && strncasecmp(p, "Allow", 5) == 0)
        header_value(x->r->allow, sizeof x->r->allow, colon + 1, vlen);
    else if (nlen == 8 && strncasecmp(p, "Location", 8) == 0)
        header_value(x->r->location, sizeof x->r->location, colon + 1, vlen);
    else if (nlen == 12 && strncasecmp(p, "X-Request-Id", 12) == 0)
        header_value(x->r->request_id, sizeof x->r->request_id, colon + 1, vlen);
    return len;
}

static size_t on_read(char *buf, size_t size, size_t n, void *ud)
{
    struct xfer *x = ud;
    size_t room = size * n, left = x->up_len - x->up_off;
    if (x->sending)
        *x->sending = 1;
    if (left == 0)
        return 0;
    size_t take = left < room ? left : room;
    if (x->chunk && take > x->chunk)
        take = x->chunk;
    if (x->trickle_ms > 0)
        usleep((useconds_t)x->trickle_ms * 100); /* a tenth of the time per tenth of the body */
    memcpy(buf, x->up + x->up_off, take);
    x->up_off += take;
    return take;
}

static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static api_resp *live;

static api_resp *resp_new(void)
{
    api_resp *r = calloc(1, sizeof *r);
    pthread_mutex_lock(&live_lock);
    r->next_ = live;
    if (live)
        live->prev_ = r;
    live = r;
    pthread_mutex_unlock(&live_lock);
    return r;
}

static void xfer_init(struct xfer *x, const api_req *rq)
{
    memset(x, 0, sizeof *x);
    x->r = resp_new();
    x->r->body = calloc(1, 1);
    snprintf(x->r->what, sizeof x->r->what, "%s %.280s", rq->method, rq->path);
    x->h = curl_easy_init();
    CURL *h = x->h;
    size_t ulen = strlen(g_srv.base) + strlen(rq->path) + 1;
    char *url = malloc(ulen);
    snprintf(url, ulen, "%s%s", g_srv.base, rq->path);
    curl_easy_setopt(h, CURLOPT_URL, url); /* curl keeps its own copy */
    free(url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROXY, "");
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, rq->timeout_ms > 0 ? rq->timeout_ms : 60000L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->r->curl_error);
    curl_easy_setopt(h, CURLOPT_PRIVATE, x);

    bool has_body = rq->body != NULL;
    size_t blen = has_body ? (rq->body_len ? rq->body_len : strlen(rq->body)) : 0;
    bool is_get = strcmp(rq->method, "GET") == 0 && !has_body;
    if (is_get) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(rq->method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (has_body && (rq->chunked || rq->trickle_ms > 0)) {
        x->up = rq->body;
        x->up_len = blen;
        x->trickle_ms = rq->trickle_ms;
        x->sending = rq->sending;
        x->chunk = rq->trickle_ms > 0 ? blen / 10 + 1 : 64 * 1024;
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, x);
        if (rq->chunked)
            x->hdrs = curl_slist_append(x->hdrs, "Transfer-Encoding: chunked");
        else
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
    } else if (has_body || strcmp(rq->method, "POST") == 0 || strcmp(rq->method, "PATCH") == 0 ||
               strcmp(rq->method, "PUT") == 0) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, has_body ? rq->body : "");
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
    } else {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
    }
    x->hdrs = curl_slist_append(x->hdrs, "Expect:");
    if (has_body) {
        if (!rq->content_type)
            x->hdrs = curl_slist_append(x->hdrs, "Content-Type: application/json");
        else if (!*rq->content_type)
            x->hdrs = curl_slist_append(x->hdrs, "Content-Type:");
        else
            x->hdrs = curl_slist_append(x->hdrs, fmt("Content-Type: %s", rq->content_type));
    } else if (!is_get) {
        x->hdrs = curl_slist_append(x->hdrs, "Content-Type:");
    }
    if (rq->token)
        x->hdrs = curl_slist_append(x->hdrs, fmt("Authorization: Bearer %s", rq->token));
    for (const char *const *hd = rq->headers; hd && *hd; hd++)
        x->hdrs = curl_slist_append(x->hdrs, *hd);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, x->hdrs);
}

static api_resp *xfer_finish(struct xfer *x, CURLcode rc)
{
    api_resp *r = x->r;
    if (rc == CURLE_OK) {
        curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &r->status);
        char *ct = NULL;
        curl_easy_getinfo(x->h, CURLINFO_CONTENT_TYPE, &ct);
        snprintf(r->content_type, sizeof r->content_type, "%s", ct ? ct : "");
    } else {
        r->status = 0;
        if (!r->curl_error[0])
            snprintf(r->curl_error, sizeof r->curl_error, "%s", curl_easy_strerror(rc));
    }
    if (r->len)
        r->json = json_loadb(r->body, r->len, 0, NULL);
    curl_slist_free_all(x->hdrs);
    curl_easy_cleanup(x->h);
    x->h = NULL;
    x->hdrs = NULL;
    return r;
}

api_resp *api_do(const api_req *rq)
{
    struct xfer x;
    xfer_init(&x, rq);
    CURLcode rc = curl_easy_perform(x.h);
    api_resp *r = xfer_finish(&x, rc);
    if (!allow_5xx && r->status >= 500 && on_main_thread()) {
        print_error("%s -> %ld (a server error; never a 5xx here)\n  body: %.800s\n", r->what,
                    r->status, r->body);
        srv_dump_log(&g_srv);
        _fail(__FILE__, __LINE__);
    }
    return r;
}

api_resp *api(const char *method, const char *path, const char *body, const char *token)
{
    api_req rq = {.method = method, .path = path, .body = body, .token = token};
    return api_do(&rq);
}

api_resp *apij(const char *method, const char *path, json_t *body, const char *token)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    api_resp *r = api(method, path, text, token);
    free(text);
    return r;
}

void api_parallel(int n, const api_req *reqs, api_resp **out, int max_conns)
{
    CURLM *m = curl_multi_init();
    if (max_conns > 0)
        curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)max_conns);
    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)(n > 0 ? n : 1));
    struct xfer *xs = calloc((size_t)n, sizeof *xs);
    for (int i = 0; i < n; i++) {
        xfer_init(&xs[i], &reqs[i]);
        curl_multi_add_handle(m, xs[i].h);
    }
    int running = n, left = n;
    while (left > 0) {
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        int q;
        while ((msg = curl_multi_info_read(m, &q))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            struct xfer *x = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
            CURLcode rc = msg->data.result;
            curl_multi_remove_handle(m, msg->easy_handle);
            out[x - xs] = xfer_finish(x, rc);
            left--;
        }
        if (left > 0)
            curl_multi_poll(m, NULL, 0, 200, NULL);
    }
    curl_multi_cleanup(m);
    free(xs);
}

struct racer {
    pthread_barrier_t *go;
    const api_req *rq;
    api_resp **out;
};

static void *race_one(void *p)
{
    struct racer *r = p;
    pthread_barrier_wait(r->go);
    *r->out = api_do(r->rq);
    return NULL;
}

void api_parallel_threads(int n, const api_req *reqs, api_resp **out)
{
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, (unsigned)n);
    pthread_t *th = calloc((size_t)n, sizeof *th);
    struct racer *rs = calloc((size_t)n, sizeof *rs);
    for (int i = 0; i < n; i++) {
        rs[i] = (struct racer){.go = &go, .rq = &reqs[i], .out = &out[i]};
        if (pthread_create(&th[i], NULL, race_one, &rs[i]) != 0)
            abort();
    }
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&go);
    free(rs);
    free(th);
}

void resp_free(api_resp *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&live_lock);
    if (r->prev_)
        r->prev_->next_ = r->next_;
    else
        live = r->next_;
    if (r->next_)
        r->next_->prev_ = r->prev_;
    pthread_mutex_unlock(&live_lock);
    json_decref(r->json);
    free(r->body);
    free(r);
}

void resp_free_all(void)
{
    while (live)
        resp_free(live);
}

static void fail_at(const api_resp *r, const char *file, int line, const char *why)
{
    if (r)
        print_error("%s:%d: %s -> %ld: %s\n  Content-Type: %s\n  body: %.800s%s%s\n", file, line,
                    r->what, r->status, why, r->content_type, r->body ? r->body : "",
                    r->curl_error[0] ? "\n  curl: " : "", r->curl_error);
    else
        print_error("%s:%d: %s\n", file, line, why);
    _fail(file, line);
}

void assert_status_(const api_resp *r, long st, const char *file, int line)
{
    if (!r || r->status != st)
        fail_at(r, file, line, fmt("expected status %ld", st));
}

void assert_status2_(const api_resp *r, long a, long b, const char *file, int line)
{
    if (!r || (r->status != a && r->status != b))
        fail_at(r, file, line, fmt("expected status %ld or %ld", a, b));
}

void assert_problem_(const api_resp *r, long st, const char *file, int line)
{
    static const char prefix[] = "https://risinggen.dev/problems/";
    assert_status_(r, st, file, line);
    if (strncasecmp(r->content_type, "application/problem+json", 24) != 0)
        fail_at(r, file, line, "expected Content-Type application/problem+json");
    if (!json_is_object(r->json))
        fail_at(r, file, line, "the problem body is not a JSON object");
    const char *type = jstr(r->json, "type");
    if (!type || strncmp(type, prefix, sizeof prefix - 1) != 0 || !type[sizeof prefix - 1])
        fail_at(r, file, line,
                "problem type must be a string starting "
                "https://risinggen.dev/problems/");
    const char *title = jstr(r->json, "title");
    if (!title || !*title)
        fail_at(r, file, line, "problem title missing");
    json_t *status = json_object_get(r->json, "status");
    if (!json_is_integer(status) || json_integer_value(status) != st)
        fail_at(r, file, line, "problem status must equal the HTTP status");
    const char *detail = jstr(r->json, "detail");
    if (!detail || !*detail)
        fail_at(r, file, line, "problem detail missing");
    if (r->body && (strstr(r->body, ".c:") || strstr(r->body, "sqlite") ||
                    strstr(r->body, "SQLITE") || strstr(r->body, "Traceback")))
        fail_at(r, file, line, "the problem leaks internals");
}

void assert_problem_type_(const api_resp *r, long st, const char *slug, const char *file, int line)
{
    assert_problem_(r, st, file, line);
    const char *type = jstr(r->json, "type");
    const char *want = fmt("https://risinggen.dev/problems/%s", slug);
    if (strcmp(type, want) != 0)
        fail_at(r, file, line, fmt("expected problem type %s", want));
}

void assert_field_error_(const api_resp *r, const char *field, const char *file, int line)
{
    json_t *errors = r && r->json ? json_object_get(r->json, "errors") : NULL;
    size_t i;
    json_t *e;
    json_array_foreach(errors, i, e)
    {
        const char *f = json_string_value(json_object_get(e, "field"));
        size_t fl = f ? strlen(f) : 0, wl = strlen(field);
        /* "shareProfile" also matches "preferences.privacy.shareProfile", and
         * "cost" matches "cost.amount": nested names may be given either way. */
        if (f && (strcmp(f, field) == 0 ||
                  (fl > wl && f[fl - wl - 1] == '.' && strcmp(f + fl - wl, field) == 0) ||
                  (fl > wl && f[wl] == '.' && strncmp(f, field, wl) == 0)))
            return;
    }
    fail_at(r, file, line, fmt("expected errors[] to name the field \"%s\"", field));
}

void assert_str_eq_(const char *a, const char *b, const char *expr, const char *file, int line)
{
    if (a && b && strcmp(a, b) == 0)
        return;
    print_error("%s:%d: %s is \"%s\", expected \"%s\"\n", file, line, expr, a ? a : "(null)",
                b ? b : "(null)");
    _fail(file, line);
}

json_t *jget(json_t *o, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    char *save = NULL;
    for (char *seg = strtok_r(buf, ".", &save); seg && o; seg = strtok_r(NULL, ".", &save)) {
        if (json_is_array(o)) {
            char *end;
            long i = strtol(seg, &end, 10);
            o = *end || i < 0 ? NULL : json_array_get(o, (size_t)i);
        } else {
            o = json_object_get(o, seg);
        }
    }
    return o;
}

const char *jstr(json_t *o, const char *path)
{
    return json_string_value(jget(o, path));
}
json_int_t jint(json_t *o, const char *path)
{
    return json_integer_value(jget(o, path));
}
size_t jlen(json_t *o, const char *path)
{
    return json_array_size(jget(o, path));
}

bool json_has_key_like(json_t *v, const char *needle)
{
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x)
        {
            if (strcasestr(k, needle) || json_has_key_like(x, needle))
                return true;
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) if (json_has_key_like(x, needle)) return true;
    }
    return false;
}

static atomic_int counter;
static const char test_password[] = "correct-horse-42";

const char *unique_email(const char *tag)
{
    return fmt("%s-%d-%ld@test.risinggen.dev", tag, atomic_fetch_add(&counter, 1) + 1,
               (long)getpid());
}

static json_t *signup_body(api_user *u, const char *tag)
{
    snprintf(u->email, sizeof u->email, "%s", unique_email(tag));
    snprintf(u->password, sizeof u->password, "%s", test_password);
    return json_pack("{s:s, s:s, s:s, s:s}", "email", u->email, "password", u->password,
                     "firstName", "Test", "lastName", tag);
}

static void take_tokens(api_user *u, json_t *body)
{
    snprintf(u->id, sizeof u->id, "%s", jstr(body, "user.id") ? jstr(body, "user.id") : "");
    snprintf(u->access, sizeof u->access, "%s",
             jstr(body, "accessToken") ? jstr(body, "accessToken") : "");
    snprintf(u->refresh, sizeof u->refresh, "%s",
             jstr(body, "refreshToken") ? jstr(body, "refreshToken") : "");
}

void user_signup(api_user *u, const char *tag)
{
    memset(u, 0, sizeof *u);
    api_resp *r = apij("POST", "/v1/auth/signup", signup_body(u, tag), NULL);
    assert_status(r, 201);
    take_tokens(u, r->json);
    assert_true(u->id[0] && u->access[0] && u->refresh[0]);
    resp_free(r);
}

void user_signup_email(api_user *u, const char *email)
{
    memset(u, 0, sizeof *u);
    snprintf(u->email, sizeof u->email, "%s", email);
    snprintf(u->password, sizeof u->password, "%s", test_password);
    api_resp *r = apij("POST", "/v1/auth/signup",
                       json_pack("{s:s, s:s, s:s, s:s}", "email", u->email, "password", u->password,
                                 "firstName", "Test", "lastName", "User"),
                       NULL);
    assert_status(r, 201);
    take_tokens(u, r->json);
    assert_true(u->id[0] && u->access[0] && u->refresh[0]);
    resp_free(r);
}

void users_signup_parallel(api_user *u, int n, const char *tag)
{
    api_req *reqs = calloc((size_t)n, sizeof *reqs);
    char **bodies = calloc((size_t)n, sizeof *bodies);
    api_resp **out = calloc((size_t)n, sizeof *out);
    for (int i = 0; i < n; i++) {
        memset(&u[i], 0, sizeof u[i]);
        json_t *b = signup_body(&u[i], tag);
        bodies[i] = json_dumps(b, JSON_COMPACT);
        json_decref(b);
        reqs[i] = (api_req){.method = "POST", .path = "/v1/auth/signup", .body = bodies[i]};
    }
    api_parallel(n, reqs, out, 16);
    for (int i = 0; i < n; i++) {
        assert_status(out[i], 201);
        take_tokens(&u[i], out[i]->json);
        resp_free(out[i]);
        free(bodies[i]);
    }
    free(out);
    free(bodies);
    free(reqs);
}

void user_login(api_user *u)
{
    api_resp *r = apij("POST", "/v1/auth/login",
                       json_pack("{s:s, s:s}", "email", u->email, "password", u->password), NULL);
    assert_status(r, 200);
    take_tokens(u, r->json);
    assert_true(u->id[0] && u->access[0] && u->refresh[0]);
    resp_free(r);
}

api_user *admin_user(void)
{
    static api_user admin;
    static char made_in[512];
    if (admin.id[0] && strcmp(made_in, g_srv.dir) == 0)
        return &admin;
    memset(&admin, 0, sizeof admin);
    snprintf(admin.email, sizeof admin.email, "%s", unique_email("admin"));
    snprintf(admin.password, sizeof admin.password, "%s", test_password);
    char out[512];
    int rc = srv_cli(&g_srv, out, sizeof out, "admin", "create", "--email", admin.email,
                     "--password", admin.password, (const char *)NULL);
    if (rc != 0) {
        print_error("`risinggen admin create` exited %d: %s\n", rc, out);
        srv_dump_log(&g_srv);
    }
    assert_int_equal(rc, 0);
    user_login(&admin);
    snprintf(made_in, sizeof made_in, "%s", g_srv.dir);
    return &admin;
}

void make_organizer(api_user *u)
{
    api_user *admin = admin_user();
    api_resp *r = api("PATCH", fmt("/v1/users/%s", u->id),
                      "{\"roles\":[\"participant\",\"organizer\"]}", admin->access);
    assert_status(r, 200);
    json_t *roles = json_object_get(r->json, "roles");
    bool organizer = false;
    size_t i;
    json_t *x;
    json_array_foreach(roles, i, x) organizer |= strcmp(json_string_value(x), "organizer") == 0;
    assert_true(organizer);
    resp_free(r);
}

void organizer_signup(api_user *u, const char *tag)
{
    user_signup(u, tag);
    make_organizer(u);
}

long long venue_create(const char *token, const char *name, const char *city, const char *country,
                       double lat, double lng)
{
    api_resp *r = apij("POST", "/v1/venues",
                       json_pack("{s:s, s:s, s:s, s:s, s:f, s:f, s:i}", "name", name, "street",
                                 "1 High Street", "city", city, "country", country, "lat", lat,
                                 "lng", lng, "capacity", 500),
                       token);
    assert_status(r, 201);
    long long id = jint(r->json, "id");
    assert_true(id > 0);
    resp_free(r);
    return id;
}

long long event_create(const char *token, json_t *extra)
{
    json_t *body =
        json_pack("{s:s, s:s, s:s, s:s}", "title",
                  fmt("Test event %d", atomic_fetch_add(&counter, 1) + 1), "startDate",
                  "2030-06-01T10:00:00Z", "endDate", "2030-06-02T16:00:00Z", "type", "conference");
    if (extra) {
        json_object_update(body, extra);
        json_decref(extra);
    }
    api_resp *r = apij("POST", "/v1/events", body, token);
    assert_status(r, 201);
    assert_str_eq(jstr(r->json, "status"), "draft");
    long long id = jint(r->json, "id");
    assert_true(id > 0);
    resp_free(r);
    return id;
}

void event_publish(const char *token, long long id)
{
    api_resp *r = api("PATCH", fmt("/v1/events/%lld", id), "{\"status\":\"published\"}", token);
    assert_status(r, 200);
    assert_str_eq(jstr(r->json, "status"), "published");
    resp_free(r);
}

long long event_create_published(const char *token, json_t *extra)
{
    long long id = event_create(token, extra);
    event_publish(token, id);
    return id;
}

api_resp *register_for(const char *token, long long event_id)
{
    return api("POST", fmt("/v1/events/%lld/registrations", event_id), NULL, token);
}

long long register_ok(const char *token, long long event_id, const char *want)
{
    api_resp *r = register_for(token, event_id);
    assert_status(r, 201);
    assert_str_eq(jstr(r->json, "status"), want);
    long long id = jint(r->json, "id");
    assert_true(id > 0);
    resp_free(r);
    return id;
}

void register_refused(const char *token, long long event_id, int status, const char *type)
{
    api_resp *r = register_for(token, event_id);
    assert_problem_type(r, status, type);
    resp_free(r);
}

void events_fixture_make(api_events_fixture *f, const char *tag)
{
    if (f->ready)
        return;
    organizer_signup(&f->org, fmt("%s-org", tag));
    organizer_signup(&f->org2, fmt("%s-orgtwo", tag));
    user_signup(&f->part, fmt("%s-part", tag));
    f->admin = admin_user();
    f->london = venue_create(f->org.access, "Excel London", "London", "GB", 51.5074, -0.1278);
    f->manchester =
        venue_create(f->org.access, "Manchester Central", "Manchester", "GB", 53.4808, -2.2426);
    f->paris = venue_create(f->org.access, "Salle Pleyel", "Paris", "FR", 48.8566, 2.3522);
    f->ready = true;
}
