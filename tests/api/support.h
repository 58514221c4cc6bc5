/* Support for the black-box API tests: each test program starts its own
 * `risinggen serve` on a free port with a fresh data folder and talks to it
 * over real HTTP (libcurl). Helpers here never look inside the service; they
 * only use the routes of /work/shared/API.md (and the CLI to make an admin),
 * except api_open_stores for the tests that must.
 *
 * Usage in a test program:
 *     int main(void) { ... return cmocka_run_group_tests(tests, api_setup, api_teardown); }
 * api_setup starts g_srv; api_teardown stops it with SIGTERM, checks that it
 * exits 0 within 10 s (graceful shutdown) and removes the data folder. */
#ifndef RG_API_SUPPORT_H
#define RG_API_SUPPORT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

/* The server under test. */

typedef struct api_server {
    pid_t pid;     /* 0 when not running */
    int port;      /* 127.0.0.1:port */
    char dir[512]; /* the data folder (RG_DATA_DIR) */
    char log[600]; /* dir/server.log: the server's stderr and stdout */
    char base[64]; /* "http://127.0.0.1:PORT" */
    /* Server profile (RG_TEST_PROFILE=server): the store URLs the server
     * gets, kept across restarts; empty on the embedded profile. */
    char relational_url[256], document_url[256], cache_url[256];
    char replica_url[256]; /* with RG_TEST_WITH_REPLICA=1: the same database on the replica */
} api_server;

/* The server of this test program; the HTTP helpers talk to it. */
extern api_server g_srv;

/* Starts `RG_BIN serve` with RG_LISTEN=127.0.0.1:<free port>,
 * RG_DATA_DIR=<dir> and RG_ACCESS_LOG=0, then waits (10 s at most) for
 * GET /healthz to answer 200. dir NULL: a new folder made with mkdtemp under
 * RG_TEST_TMP (created if missing); otherwise that folder is reused (restart).
 * Returns 0, or -1 with a message printed. */
int srv_start(api_server *s, const char *dir);
/* SIGTERM, then waits up to 10 s. Returns the exit status (0..255), 128+N
 * when killed by signal N, or -1 when it had to be killed with SIGKILL. */
int srv_stop(api_server *s);
/* SIGKILL, then the server again with the same folder, settings and port
 * (waits for GET /healthz). 0 or -1 with a message printed. */
int srv_kill_restart(api_server *s);
/* False when the server process has ended (it is then reaped, and *how
 * receives its wait status description, e.g. "killed by signal 6"). */
bool srv_alive(api_server *s, char *how, size_t cap);
/* Removes the data folder (unless RG_TEST_KEEP=1). */
void srv_remove_dir(api_server *s);
/* Prints the last bytes of the server log (for failures). */
void srv_dump_log(const api_server *s);
/* Runs `RG_BIN args...` (NULL-terminated) synchronously with the server's
 * environment (RG_DATA_DIR etc.); its stdout goes to out (may be NULL).
 * Returns the exit status or -1. */
int srv_cli(const api_server *s, char *out, size_t cap, ...);

/* cmocka group setup/teardown around g_srv. */
int api_setup(void **state);
int api_teardown(void **state);

/* HTTP. */

typedef struct api_resp {
    long status; /* 0: no HTTP answer (connection refused, reset, timeout) */
    char *body;  /* NUL-terminated, len bytes */
    size_t len;
    json_t *json; /* the parsed body, NULL when it is not JSON */
    char content_type[128];
    char retry_after[64];
    char allow[256];
    char location[256];
    char request_id[80];
    char what[300]; /* "METHOD path", for messages */
    char curl_error[256];
    struct api_resp *prev_, *next_; /* every live answer, freed at teardown */
} api_resp;

typedef struct api_req {
    const char *method;
    const char *path;           /* "/v1/events?x=1", already URL-encoded */
    const char *body;           /* NULL: no body */
    size_t body_len;            /* 0: strlen(body) */
    const char *token;          /* bearer token, or NULL */
    const char *content_type;   /* NULL: application/json when there is a body; "": none */
    const char *const *headers; /* extra "Name: value" lines, NULL-terminated, or NULL */
    bool chunked;               /* send the body with Transfer-Encoding: chunked */
    int trickle_ms;             /* > 0: send the body slowly, over about this long */
    volatile int *sending;      /* if set, becomes 1 once the body starts going out */
    long timeout_ms;            /* 0: 60 s */
} api_req;

/* One request to g_srv. On the main thread a status >= 500 fails the test
 * (never a 500; api_allow_5xx(true) turns that off). Free with resp_free. */
api_resp *api_do(const api_req *rq);
/* Shorthands: body is JSON text (or NULL); apij steals a json_t body. */
api_resp *api(const char *method, const char *path, const char *body, const char *token);
api_resp *apij(const char *method, const char *path, json_t *body, const char *token);
/* Runs n requests at once (curl multi, at most max_conns connections; 0: one
 * connection per request). out[i] receives the answer to reqs[i]. Never
 * fails the test by itself, so it may run on any thread. */
void api_parallel(int n, const api_req *reqs, api_resp **out, int max_conns);
/* The same with one thread per request, all released at once by a barrier
 * (each thread has its own connection). */
void api_parallel_threads(int n, const api_req *reqs, api_resp **out);
void resp_free(api_resp *r);
/* Frees every answer not yet freed (a failed assertion skips resp_free). */
void resp_free_all(void);
void api_allow_5xx(bool allow);

/* printf into one of 32 rotating thread-local buffers (paths, emails). */
const char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
/* Percent-encodes s for a path segment or query value (rotating buffer). */
const char *urlenc(const char *s);

/* Assertions (they report the caller's file and line). */

#define assert_status(r, st) assert_status_((r), (st), __FILE__, __LINE__)
/* The status is one of a or b. */
#define assert_status2(r, a, b) assert_status2_((r), (a), (b), __FILE__, __LINE__)
/* Status st and an RFC 9457 problem: Content-Type application/problem+json;
 * type a string starting https://risinggen.dev/problems/, title, status == st,
 * detail. */
#define assert_problem(r, st) assert_problem_((r), (st), __FILE__, __LINE__)
/* A problem whose type ends with /slug (e.g. "event-full"). */
#define assert_problem_type(r, st, slug) assert_problem_type_((r), (st), (slug), __FILE__, __LINE__)
/* The problem's errors[] has an entry whose field is field (nested names
 * match either way: "shareProfile" ~ "preferences.privacy.shareProfile",
 * "cost" ~ "cost.amount"). */
#define assert_field_error(r, field) assert_field_error_((r), (field), __FILE__, __LINE__)
#define assert_str_eq(a, b)          assert_str_eq_((a), (b), #a, __FILE__, __LINE__)

void assert_status_(const api_resp *r, long st, const char *file, int line);
void assert_status2_(const api_resp *r, long a, long b, const char *file, int line);
void assert_problem_(const api_resp *r, long st, const char *file, int line);
void assert_problem_type_(const api_resp *r, long st, const char *slug, const char *file, int line);
void assert_field_error_(const api_resp *r, const char *field, const char *file, int line);
void assert_str_eq_(const char *a, const char *b, const char *expr, const char *file, int line);

/* JSON. */

/* Dotted paths: "user.id", "items.0.id". NULL / "" / 0 when absent. */
json_t *jget(json_t *o, const char *path);
const char *jstr(json_t *o, const char *path);
json_int_t jint(json_t *o, const char *path);
/* True when some key anywhere in v contains needle (case-insensitive). */
bool json_has_key_like(json_t *v, const char *needle);
/* Number of items in a list answer. */
size_t jlen(json_t *o, const char *path);

/* Accounts and fixtures. */

typedef struct api_user {
    char id[32];
    char email[160];
    char password[64];
    char access[160];
    char refresh[200];
} api_user;

/* A unique email for this program ("<tag>-<n>-<pid>@test.risinggen.dev"). */
const char *unique_email(const char *tag);
/* Signs up (asserts 201) a participant with a unique email. */
void user_signup(api_user *u, const char *tag);
/* Signs up (asserts 201) a participant with this email. */
void user_signup_email(api_user *u, const char *email);
/* Signs up n users at once (16 connections), asserting 201 for each. */
void users_signup_parallel(api_user *u, int n, const char *tag);
/* Logs in again (asserts 200) and keeps the new tokens. */
void user_login(api_user *u);
/* The admin of g_srv, made once with `risinggen admin create` and signed in. */
api_user *admin_user(void);
/* The admin grants participant+organizer (PATCH /v1/users/{id}); roles are
 * read per request, so u's tokens keep working with the new roles. */
void make_organizer(api_user *u);
/* Signs up a user and makes them an organizer. */
void organizer_signup(api_user *u, const char *tag);
/* POST /v1/venues (asserts 201); returns the id. */
long long venue_create(const char *token, const char *name, const char *city, const char *country,
                       double lat, double lng);
/* POST /v1/events with defaults (title, 2030 dates, type "conference")
 * overridden by extra (stolen, may be NULL); asserts 201 and draft. */
long long event_create(const char *token, json_t *extra);
/* PATCH status published (asserts 200). */
void event_publish(const char *token, long long id);
long long event_create_published(const char *token, json_t *extra);
/* POST /v1/events/{id}/registrations; returns the answer. */
api_resp *register_for(const char *token, long long event_id);
/* Registers and asserts 201 with status want; returns the registration id. */
long long register_ok(const char *token, long long event_id, const char *want);
/* Registers and asserts the problem of that status and type. */
void register_refused(const char *token, long long event_id, int status, const char *type);

/* Payments (support_payments.c). A published event of the organizer with
 * token, costing amount currency, with max places. */
long long paid_event(const char *token, const char *amount, const char *currency, int max);
/* POST /v1/payments with Idempotency-Key key (NULL: none). */
api_resp *pay_key(const char *token, const char *key, const char *body);
/* A payment body (one of 4 rotating thread-local buffers). */
char *pay_body(long long reg, const char *method, const char *provider);
/* An Idempotency-Key not used before. */
const char *new_key(void);
/* Pays reg with the test provider (asserts 201 succeeded); the payment id. */
long long pay_ok(const char *token, long long reg);
/* GET path (asserts 200); the body, to json_decref. */
json_t *get_json(const char *path, const char *token);
/* A registration or a payment as the admin sees it (asserts 200). */
json_t *registration(long long id);
json_t *payment(long long id);
/* o's money object at path is amount in currency. */
void assert_money(json_t *o, const char *path, const char *amount, const char *currency);

/* The mail catcher (support_mail.c): an SMTP server on 127.0.0.1 that keeps
 * every mail. mail_catcher_start starts it and points RG_SMTP_URL and
 * RG_SMTP_FROM at it, for the server started afterwards (0, or -1). */
int mail_catcher_start(void);
void mail_catcher_stop(void);
/* How many mails went to rcpt so far (whose text holds needle, unless NULL). */
int mails_to(const char *rcpt, const char *needle);
/* The body of the nth (0-based) mail to rcpt whose text holds needle,
 * waiting up to 15 s for it; NULL when none came. Caller frees. */
char *wait_mail(const char *rcpt, const char *needle, int nth);
/* The code of the nth password-reset mail to rcpt (static buffer); fails
 * the test when it is not there or shorter than 128 bits of base64url. */
const char *mail_reset_code(const char *rcpt, int nth);

/* Two organizers, a participant and the admin, with three venues of org
 * (London, Manchester, Paris); made on the first call, tag keeps emails
 * apart. */
typedef struct api_events_fixture {
    bool ready;
    api_user org, org2, part;
    api_user *admin;
    long long london, manchester, paris;
} api_events_fixture;
void events_fixture_make(api_events_fixture *f, const char *tag);

/* Two organizers, four payers and the admin; made on the first call. */
typedef struct api_payers_fixture {
    bool ready;
    api_user org, org2;
    api_user p[4];
    api_user *admin;
} api_payers_fixture;
void payers_fixture_make(api_payers_fixture *f, const char *tag);

struct rg_app;
/* The service's stores opened in this program (support_stores.c), with the
 * server's store URLs and data folder; SQLite in WAL mode and PostgreSQL
 * both allow it while the server runs. Close with rg_app_close. */
void api_open_stores(struct rg_app *app);

/* Crashes (support_crash.c): operations across stores stopped after a step
 * (RG_FAULT="kind:step" in test builds ends the server with _exit(137)
 * right after it, as a SIGKILL would). */
/* Restarts the server with RG_FAULT=fault (NULL: none). */
void crash_restart(const char *fault);
/* Waits (10 s at most) for the server to end at its fault point. */
void crash_wait_stopped(void);
/* Sends a request that must stop the server (no answer), then waits for it
 * to end. */
long crash_stopped_request(const char *method, const char *path, const char *body,
                           const char *token);
/* How many intents the stores hold; kind and subject (may be NULL) of the
 * oldest. */
int crash_intents_left(struct rg_app *app, char kind[32], char subject[64]);
/* Makes every intent look still for long, as if the minute that kinds
 * which undo wait for had passed. */
void crash_age_intents(void);
/* How many lines of the server's log (all its runs) hold needle. */
int crash_log_lines(const char *needle);
/* Skips the test (saying SKIPPED what) unless the documents store runs
 * transactions now (rg_docs_atomic). */
void crash_need_atomic(const char *what);

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

#endif
