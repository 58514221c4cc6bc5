/* The operator's console in a real browser: Debian's headless Chromium,
 * driven over WebDriver (chromedriver's HTTP API, W3C protocol), loads
 * /console, signs an admin in through the form, and checks that the stores,
 * the charts, the pools, the backups, the slowest queries and the index
 * report show what the service answers, and that they follow new traffic.
 * A screenshot is written to RG_TEST_TMP/console-<profile>.png. Without
 * chromium and chromedriver the test prints SKIPPED. */
#include "support.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KEY     "3a1f5c7e9b2d4f6081a3c5e7f9b1d3f5a7c9e1b3d5f7092b4d6f8a0c2e4a6c8e"
#define ELEMENT "element-6066-11e4-a52e-4f735466cecf"

static pid_t g_driver;
static char g_wd[64];       /* http://127.0.0.1:PORT */
static char g_session[128]; /* the WebDriver session id */
static char g_profile_dir[600];

static const char *find_program(const char *name)
{
    static char path[4][512];
    static int next;
    const char *env = getenv("PATH");
    char dirs[2048];
    snprintf(dirs, sizeof dirs, "%s", env ? env : "/usr/bin:/bin");
    char *save = NULL;
    for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        char *p = path[next % 4];
        snprintf(p, sizeof path[0], "%s/%s", d, name);
        if (access(p, X_OK) == 0) {
            next++;
            return p;
        }
    }
    return NULL;
}

static int any_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        fail_msg("no free port");
    close(fd);
    return ntohs(a.sin_port);
}

typedef struct {
    char *data;
    size_t len;
} wd_buf;

static size_t collect(char *data, size_t size, size_t n, void *ctx)
{
    wd_buf *b = ctx;
    size_t add = size * n;
    b->data = realloc(b->data, b->len + add + 1);
    memcpy(b->data + b->len, data, add);
    b->len += add;
    b->data[b->len] = '\0';
    return add;
}

/* One WebDriver command; the answer's "value" (a new reference), or NULL
 * when the driver does not answer or answers with an error (printed). */
static json_t *wd(const char *method, const char *path, json_t *body)
{
    CURL *c = curl_easy_init();
    wd_buf b = {0};
    char url[512], *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    snprintf(url, sizeof url, "%s%s", g_wd, path);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
    if (text)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
    else if (strcmp(method, "POST") == 0)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "{}");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    free(text);
    json_decref(body);
    json_t *all = b.data ? json_loads(b.data, 0, NULL) : NULL, *value = NULL;
    if (rc == CURLE_OK && status == 200 && all)
        value = json_incref(json_object_get(all, "value"));
    else if (strcmp(path, "/status") != 0)
        printf("# WebDriver %s %s: %s, HTTP %ld: %.400s\n", method, path,
               rc == CURLE_OK ? "answered" : curl_easy_strerror(rc), status, b.data ? b.data : "");
    json_decref(all);
    free(b.data);
    return value;
}

static json_t *wd_script(const char *script)
{
    return wd("POST", fmt("/session/%s/execute/sync", g_session),
              json_pack("{s:s, s:[]}", "script", script, "args"));
}

static const char *element(const char *css)
{
    static char id[4][128];
    static int next;
    json_t *v = wd("POST", fmt("/session/%s/element", g_session),
                   json_pack("{s:s, s:s}", "using", "css selector", "value", css));
    assert_non_null(v);
    char *out = id[next++ % 4];
    const char *got = json_string_value(json_object_get(v, ELEMENT));
    if (!got)
        fail_msg("no element %s: %s", css, json_dumps(v, JSON_COMPACT));
    snprintf(out, sizeof id[0], "%s", got);
    json_decref(v);
    return out;
}

static void type_into(const char *css, const char *text)
{
    json_t *v = wd("POST", fmt("/session/%s/element/%s/value", g_session, element(css)),
                   json_pack("{s:s}", "text", text));
    assert_non_null(v);
    json_decref(v);
}

static void click(const char *css)
{
    json_t *v = wd("POST", fmt("/session/%s/element/%s/click", g_session, element(css)), NULL);
    assert_non_null(v);
    json_decref(v);
}

/* chromedriver on a free port, ready to take a session. */
static bool driver_start(const char *chromedriver)
{
    for (int attempt = 0; attempt < 3; attempt++) {
        int port = any_free_port();
        snprintf(g_wd, sizeof g_wd, "http://127.0.0.1:%d", port);
        char log[700];
        snprintf(log, sizeof log, "%s/chromedriver.log", g_srv.dir);
        g_driver = fork();
        if (g_driver == 0) {
            FILE *f = freopen(log, "a", stdout);
            (void)f;
            dup2(STDOUT_FILENO, STDERR_FILENO);
            execl(chromedriver, chromedriver, fmt("--port=%d", port), (char *)NULL);
            _exit(127);
        }
        /* Ready once GET /status says so; the driver may take a while on a
         * busy machine, and it may have lost the port to another program. */
        for (int i = 0; i < 600; i++) {
            json_t *st = wd("GET", "/status", NULL);
            bool ready = st && json_is_true(json_object_get(st, "ready"));
            json_decref(st);
            if (ready)
                return true;
            int status;
            if (waitpid(g_driver, &status, WNOHANG) == g_driver) {
                g_driver = 0;
                break;
            }
            struct timespec ts = {0, 50 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        if (g_driver) {
            kill(g_driver, SIGKILL);
            waitpid(g_driver, NULL, 0);
            g_driver = 0;
        }
    }
    return false;
}

static void driver_stop(void)
{
    if (g_session[0]) {
        json_decref(wd("DELETE", fmt("/session/%s", g_session), NULL));
        g_session[0] = '\0';
    }
    if (g_driver) {
        kill(g_driver, SIGTERM);
        waitpid(g_driver, NULL, 0);
        g_driver = 0;
    }
}

static int console_teardown(void **state)
{
    (void)state;
    driver_stop();
    return 0;
}

/* What the page shows now, read from its DOM (one round trip). */
static json_t *page_state(void)
{
    json_t *v = wd_script(
        "const $ = (id) => document.getElementById(id);"
        "const inked = (c) => { const d = c.getContext('2d').getImageData(0, 0, c.width,"
        "  c.height).data; let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++;"
        "  return n; };"
        "const rows = (id) => [...$(id).rows].map((r) => [...r.cells].map((c) => c.textContent));"
        "return { signedIn: !$('console').hidden,"
        "  formShown: getComputedStyle($('signin')).display !== 'none',"
        "  consoleShown: getComputedStyle($('console')).display !== 'none', error: "
        "$('signin-error').textContent,"
        "  stores: rows('stores'), requestsNow: $('requests-now').textContent,"
        "  lastHour: Number($('requests-hour').textContent),"
        "  p99Now: $('p99-now').textContent, q99Now: $('q99-now').textContent,"
        "  requestPoints: Number($('requests-chart').dataset.points || 0),"
        "  latencyPoints: Number($('latency-chart').dataset.points || 0),"
        "  requestInk: inked($('requests-chart')), latencyInk: inked($('latency-chart')),"
        "  pools: rows('pools'), slow: rows('slow-queries'), backups: $('backups').children.length,"
        "  lastVerify: $('last-verify').textContent, indexes: $('indexes').textContent,"
        "  updated: $('updated').textContent };");
    assert_non_null(v);
    return v;
}

static bool is_number(const char *s)
{
    char *end;
    if (!s || !*s)
        return false;
    strtod(s, &end);
    return end != s && (*end == '\0' || *end == ' ');
}

static bool filled(json_t *st, bool with_backups, const char **why)
{
    size_t i;
    json_t *r;
    int up = 0;
    json_array_foreach(json_object_get(st, "stores"), i, r) up +=
        strcmp(json_string_value(json_array_get(r, 1)), "up") == 0;
    if (up != 4)
        return *why = "four stores up", false;
    if (!is_number(jstr(st, "requestsNow")) || !is_number(jstr(st, "p99Now")) ||
        !is_number(jstr(st, "q99Now")))
        return *why = "the current figures", false;
    if (jint(st, "requestPoints") < 1 || jint(st, "latencyPoints") < 1 ||
        jint(st, "requestInk") == 0 || jint(st, "latencyInk") == 0)
        return *why = "both charts drawn", false;
    if (jlen(st, "pools") < 1)
        return *why = "the pools", false;
    if (jlen(st, "slow") < 1)
        return *why = "the slowest queries", false;
    if (!strstr(jstr(st, "indexes"), "Indexes ("))
        return *why = "the index report", false;
    if (with_backups && (!strstr(jstr(st, "lastVerify"), " ok: ") || jint(st, "backups") < 1))
        return *why = "the backups and the last verify", false;
    return true;
}

/* Polls the page until it shows everything (60 s at most). */
static json_t *wait_filled(bool with_backups)
{
    const char *why = "";
    for (int i = 0; i < 600; i++) {
        json_t *st = page_state();
        if (filled(st, with_backups, &why))
            return st;
        if (i == 599)
            fail_msg("the console never showed %s: %s", why, json_dumps(st, JSON_COMPACT));
        json_decref(st);
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static void screenshot(const char *file)
{
    json_t *v = wd("GET", fmt("/session/%s/screenshot", g_session), NULL);
    assert_non_null(v);
    const char *b64 = json_string_value(v);
    size_t cap = strlen(b64), len = 0;
    unsigned char *png = malloc(cap);
    assert_int_equal(
        sodium_base642bin(png, cap, b64, cap, NULL, &len, NULL, sodium_base64_VARIANT_ORIGINAL), 0);
    assert_true(len > 8 && memcmp(png, "\x89PNG", 4) == 0);
    FILE *f = fopen(file, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(png, 1, len, f), len);
    fclose(f);
    free(png);
    json_decref(v);
    printf("# console screenshot (%zu bytes): %s\n", len, file);
}

static void console_in_a_browser(void **state)
{
    (void)state;
    const char *chromium = find_program("chromium"), *driver = find_program("chromedriver");
    if (!chromium || !driver) {
        printf("SKIPPED console/browser: %s is not installed (Debian packages chromium and "
               "chromium-driver; `make test` installs them)\n",
               chromium ? "chromedriver" : "chromium");
        return;
    }
    bool embedded = !g_srv.relational_url[0];
    api_resp *r;
    if (embedded) {
        /* A repository, so that the console lists a backup and the
         * result of its verify. */
        char repo[600];
        snprintf(repo, sizeof repo, "%s/console-repo", g_srv.dir);
        setenv("RG_BACKUP_REPO", repo, 1);
        setenv("RG_BACKUP_KEY", KEY, 1);
        assert_int_equal(srv_stop(&g_srv), 0);
        assert_int_equal(srv_start(&g_srv, g_srv.dir), 0);
        /* The service takes a full backup as it starts; verify it. */
        double done = 0;
        for (int i = 0; i < 600 && done <= 0; i++) {
            r = api("GET", "/metrics", NULL, NULL);
            assert_status(r, 200);
            const char *at = strstr(r->body, "\nrg_backup_last_success_timestamp_seconds ");
            done = at ? strtod(strchr(at + 1, ' '), NULL) : 0;
            resp_free(r);
            struct timespec ts = {0, 100 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        assert_true(done > 0);
        char out[4096];
        int rc = srv_cli(&g_srv, out, sizeof out, "backup", "verify", (char *)NULL);
        if (rc != 0)
            srv_dump_log(&g_srv);
        assert_int_equal(rc, 0);
    }
    api_user *admin = admin_user();
    api_user person;
    user_signup(&person, "console-person");
    /* The data and the index report are for admins. */
    r = api("GET", "/console/data", NULL, NULL);
    assert_problem(r, 401);
    resp_free(r);
    r = api("GET", "/console/data", NULL, person.access);
    assert_problem(r, 403);
    resp_free(r);
    r = api("GET", "/console/indexes", NULL, person.access);
    assert_problem(r, 403);
    resp_free(r);
    r = api("GET", "/console", NULL, NULL);
    assert_status(r, 200);
    assert_true(strstr(r->body, "<canvas id=\"requests-chart\"") != NULL);
    resp_free(r);

    assert_true(driver_start(driver));
    snprintf(g_profile_dir, sizeof g_profile_dir, "%s/chromium-profile", g_srv.dir);
    json_t *caps =
        json_pack("{s:{s:{s:s, s:{s:s, s:[s,s,s,s,s,s]}}}}", "capabilities", "alwaysMatch",
                  "browserName", "chrome", "goog:chromeOptions", "binary", chromium, "args",
                  "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--window-size=1280,1600", fmt("--user-data-dir=%s", g_profile_dir));
    json_t *session = wd("POST", "/session", caps);
    assert_non_null(session);
    snprintf(g_session, sizeof g_session, "%s", jstr(session, "sessionId"));
    json_decref(session);
    assert_true(g_session[0]);

    json_decref(wd("POST", fmt("/session/%s/url", g_session),
                   json_pack("{s:s}", "url", fmt("%s/console", g_srv.base))));
    /* A wrong password is refused on the form. */
    type_into("#email", admin->email);
    type_into("#password", "not-the-password");
    click("#signin-button");
    json_t *st = NULL;
    for (int i = 0; i < 300; i++) {
        st = page_state();
        if (jstr(st, "error")[0])
            break;
        json_decref(st);
        st = NULL;
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    assert_non_null(st);
    assert_false(json_is_true(json_object_get(st, "signedIn")));
    assert_false(json_is_true(json_object_get(st, "consoleShown")));
    json_decref(st);
    json_decref(
        wd("POST", fmt("/session/%s/element/%s/clear", g_session, element("#password")), NULL));
    type_into("#password", admin->password);
    click("#signin-button");

    st = wait_filled(embedded);
    assert_true(json_is_true(json_object_get(st, "signedIn")));
    assert_true(json_is_true(json_object_get(st, "consoleShown")));
    assert_false(json_is_true(json_object_get(st, "formShown")));
    /* The pools name the stores; every slow-query row has its figures. */
    bool has_relational_pool = false;
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(st, "pools"), i, row) has_relational_pool |=
        strncmp(json_string_value(json_array_get(row, 0)), "relational", 10) == 0;
    assert_true(has_relational_pool);
    json_array_foreach(json_object_get(st, "slow"), i, row)
    {
        assert_int_equal(json_array_size(row), 5);
        for (size_t c = 1; c < 5; c++)
            assert_true(is_number(json_string_value(json_array_get(row, c))));
    }
    if (!embedded)
        assert_true(strstr(jstr(st, "lastVerify"), "no repository") != NULL);
    char *shown = json_dumps(st, JSON_COMPACT);
    printf("# the console shows: %.2000s\n", shown);
    free(shown);

    /* The numbers follow the traffic: 100 more requests show in the
     * hour's count at the next refresh. */
    long long before = jint(st, "lastHour"), after = before;
    json_decref(st);
    assert_true(before > 0);
    for (int k = 0; k < 100; k++) {
        r = api("GET", "/healthz", NULL, NULL);
        assert_status(r, 200);
        resp_free(r);
    }
    for (int k = 0; k < 600 && after < before + 100; k++) {
        st = page_state();
        after = jint(st, "lastHour");
        json_decref(st);
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    printf("# requests in the last hour on the page: %lld, then %lld after 100 more\n", before,
           after);
    assert_true(after >= before + 100);

    const char *tmp = getenv("RG_TEST_TMP");
    if (tmp)
        mkdir(tmp, 0755);
    screenshot(fmt("%s/console-%s.png", tmp ? tmp : g_srv.dir, embedded ? "embedded" : "server"));
    driver_stop();
    if (embedded) {
        unsetenv("RG_BACKUP_REPO");
        unsetenv("RG_BACKUP_KEY");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(console_in_a_browser, console_teardown),
    };
    return cmocka_run_group_tests(tests, api_setup, api_teardown);
}
