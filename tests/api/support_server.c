/* The server under test: a private `risinggen serve` per test program, on a
 * free port with a fresh data folder, stopped with SIGTERM at the end. */
#include "support.h"
#include "pgtest.h"
#include "mongotest.h"
#include "risinggen/store/stores.h"
#include "risinggen/base/alloc.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

api_server g_srv;

/* Set by api_setup: the thread whose failures cmocka can report. */
extern pthread_t api_main_thread;
extern bool api_main_thread_set;

static const char *const store_url_vars[] = {
    "RG_RELATIONAL_URL", "RG_RELATIONAL_REPLICA_URLS",
    "RG_DOCUMENT_URL",   "RG_CACHE_URL",
    "RG_SEARCH_URL",     NULL,
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int mkdir_p(const char *path)
{
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
        return -1;
    return 0;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sa = {
        .sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

/* The child's environment: the server's data folder and no store URLs from
 * the caller's environment (they would point every program at one store),
 * unless RG_TEST_STORE_URLS=keep. */
static void child_env(const api_server *s)
{
    const char *keep = getenv("RG_TEST_STORE_URLS");
    if (!(keep && strcmp(keep, "keep") == 0))
        for (const char *const *v = store_url_vars; *v; v++)
            unsetenv(*v);
    char listen[64];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", s->port);
    setenv("RG_LISTEN", listen, 1);
    setenv("RG_DATA_DIR", s->dir, 1);
    setenv("RG_ACCESS_LOG", "0", 1);
    /* The tests pay through the test provider, which is off by default. */
    setenv("RG_PAYMENTS_PROVIDERS", "test,manual", 0);
    if (s->relational_url[0])
        setenv("RG_RELATIONAL_URL", s->relational_url, 1);
    if (s->document_url[0])
        setenv("RG_DOCUMENT_URL", s->document_url, 1);
    if (s->cache_url[0])
        setenv("RG_CACHE_URL", s->cache_url, 1);
    if (s->replica_url[0])
        setenv("RG_RELATIONAL_REPLICA_URLS", s->replica_url, 1);
}

/* The server profile: PostgreSQL (a fresh database per test program) for
 * relational data and, where this build has the adapters, for documents,
 * and Redis (a key prefix per test program) for the cache. The mongodb
 * profile is the same with the documents in a database of their own on
 * the MongoDB server of RG_TEST_MONGODB_URL. */
static int server_profile(api_server *s)
{
    const char *profile = getenv("RG_TEST_PROFILE");
    bool mongodb = profile && strcmp(profile, "mongodb") == 0;
    if (!profile || (strcmp(profile, "server") != 0 && !mongodb) || s->relational_url[0])
        return 0;
#ifdef RG_WITH_POSTGRES
    char *db = rg_test_pg_create_db("api");
    if (!db) {
        print_error("the server profile needs RG_TEST_PG_URL (scripts/run-tests.sh sets it)\n");
        return -1;
    }
    snprintf(s->relational_url, sizeof s->relational_url, "%s", db);
    const char *replica = getenv("RG_TEST_PG_REPLICA_URL"), *want = getenv("RG_TEST_WITH_REPLICA");
    if (replica && want && strcmp(want, "1") == 0) {
        const char *slash = strchr(replica + strlen("postgresql://"), '/');
        snprintf(s->replica_url, sizeof s->replica_url, "%.*s%s",
                 (int)(slash ? slash - replica : (long)strlen(replica)), replica, strrchr(db, '/'));
        /* The new database reaches the replica a moment later. */
        for (int i = 0; i < 100; i++) {
            PGconn *c = PQconnectdb(s->replica_url);
            bool ok = PQstatus(c) == CONNECTION_OK;
            PQfinish(c);
            if (ok)
                break;
            usleep(50 * 1000);
        }
    }
    if (rg_doc_adapter(db))
        snprintf(s->document_url, sizeof s->document_url, "%s", db);
    free(db);
#ifdef RG_WITH_MONGODB
    if (mongodb) {
        char *docs = rg_test_mongo_create_db("api");
        snprintf(s->document_url, sizeof s->document_url, "%s", docs ? docs : "");
        free(docs);
    }
#endif
    const char *redis = getenv("RG_TEST_REDIS_URL");
    if (redis && *redis) {
        char url[256];
        snprintf(url, sizeof url, "%s/0?prefix=api%d:", redis, (int)getpid());
        if (rg_cache_adapter(url))
            snprintf(s->cache_url, sizeof s->cache_url, "%s", url);
    }
    return 0;
#else
    print_error("the server profile needs a build WITH_POSTGRES\n");
    return -1;
#endif
}

static const char *rg_bin(void)
{
    const char *bin = getenv("RG_BIN");
    if (!bin || !*bin) {
        print_error("RG_BIN is not set: run the API tests through ctest\n");
        return NULL;
    }
    return bin;
}

/* GET base/healthz once; the HTTP status or 0. */
static long probe(const char *base)
{
    CURL *h = curl_easy_init();
    if (!h)
        return 0;
    char url[128];
    snprintf(url, sizeof url, "%s/healthz", base);
    FILE *sink = fopen("/dev/null", "w");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROXY, "");
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 1000L);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, sink);
    long status = 0;
    if (curl_easy_perform(h) == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    if (sink)
        fclose(sink);
    return status;
}

static int spawn(api_server *s, const char *bin)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        /* Never outlive the test program, even when it crashes. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(127);
        child_env(s);
        int log = open(s->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        int null = open("/dev/null", O_RDONLY);
        if (log >= 0) {
            dup2(log, STDOUT_FILENO);
            dup2(log, STDERR_FILENO);
        }
        if (null >= 0)
            dup2(null, STDIN_FILENO);
        execl(bin, "risinggen", "serve", (char *)NULL);
        fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
        _exit(127);
    }
    s->pid = pid;
    return 0;
}

int srv_start(api_server *s, const char *dir)
{
    pthread_once(&curl_once, curl_init_once);
    const char *bin = rg_bin();
    if (!bin)
        return -1;
    if (dir) {
        if (s->dir != dir)
            snprintf(s->dir, sizeof s->dir, "%s", dir);
    } else {
        const char *tmp = getenv("RG_TEST_TMP");
        if (!tmp || !*tmp)
            tmp = "/tmp/rg-test-tmp";
        if (mkdir_p(tmp) < 0) {
            print_error("cannot create %s: %s\n", tmp, strerror(errno));
            return -1;
        }
        snprintf(s->dir, sizeof s->dir, "%s/%s-XXXXXX", tmp, program_invocation_short_name);
        if (!mkdtemp(s->dir)) {
            print_error("mkdtemp %s: %s\n", s->dir, strerror(errno));
            return -1;
        }
    }
    snprintf(s->log, sizeof s->log, "%s/server.log", s->dir);
    if (server_profile(s) < 0)
        return -1;
    for (int attempt = 0; attempt < 3; attempt++) {
        s->port = free_port();
        if (s->port <= 0) {
            print_error("no free port: %s\n", strerror(errno));
            return -1;
        }
        snprintf(s->base, sizeof s->base, "http://127.0.0.1:%d", s->port);
        if (spawn(s, bin) < 0) {
            print_error("fork: %s\n", strerror(errno));
            return -1;
        }
        int64_t deadline = now_ms() + 10000;
        bool exited = false;
        while (now_ms() < deadline) {
            int st;
            if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
                exited = true;
                break;
            }
            if (probe(s->base) == 200)
                return 0;
            usleep(50 * 1000);
        }
        if (!exited) {
            print_error("the server did not answer /healthz within 10 s\n");
            kill(s->pid, SIGKILL);
            waitpid(s->pid, NULL, 0);
            s->pid = 0;
            srv_dump_log(s);
            return -1;
        }
        /* Exited at once: most likely the port was taken meanwhile; retry. */
        s->pid = 0;
    }
    print_error("the server exited at start three times\n");
    srv_dump_log(s);
    return -1;
}

int srv_kill_restart(api_server *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
        s->pid = 0;
    }
    const char *bin = rg_bin();
    if (!bin)
        return -1;
    /* The same port, so that clients in other threads keep their address
     * (s->base) while the server is away; the listener sets SO_REUSEADDR. */
    for (int attempt = 0; attempt < 50; attempt++) {
        if (spawn(s, bin) < 0)
            return -1;
        int64_t deadline = now_ms() + 10000;
        while (now_ms() < deadline) {
            int st;
            if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
                s->pid = 0;
                break;
            }
            if (probe(s->base) == 200)
                return 0;
            usleep(20 * 1000);
        }
        if (s->pid > 0) {
            print_error("the restarted server did not answer /healthz within 10 s\n");
            srv_dump_log(s);
            return -1;
        }
        usleep(100 * 1000); /* the port is not free again yet */
    }
    print_error("the server could not start again on port %d\n", s->port);
    srv_dump_log(s);
    return -1;
}

bool srv_alive(api_server *s, char *how, size_t cap)
{
    if (s->pid <= 0) {
        snprintf(how, cap, "not started");
        return false;
    }
    int st;
    pid_t got = waitpid(s->pid, &st, WNOHANG);
    if (got == 0)
        return true;
    if (got == s->pid && WIFSIGNALED(st))
        snprintf(how, cap, "killed by signal %d", WTERMSIG(st));
    else if (got == s->pid && WIFEXITED(st))
        snprintf(how, cap, "exited with %d", WEXITSTATUS(st));
    else
        snprintf(how, cap, "gone");
    s->pid = 0;
    return false;
}

int srv_stop(api_server *s)
{
    if (s->pid <= 0)
        return -1;
    char how[64];
    if (!srv_alive(s, how, sizeof how)) {
        print_error("the server had ended before SIGTERM: %s\n", how);
        return -1;
    }
    kill(s->pid, SIGTERM);
    int64_t deadline = now_ms() + 10000;
    int st = 0;
    pid_t got = 0;
    while (now_ms() < deadline) {
        got = waitpid(s->pid, &st, WNOHANG);
        if (got == s->pid || got < 0)
            break;
        usleep(20 * 1000);
    }
    int rc;
    if (got != s->pid) {
        print_error("the server did not exit within 10 s of SIGTERM; killing it\n");
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
        rc = -1;
    } else if (WIFEXITED(st)) {
        rc = WEXITSTATUS(st);
    } else if (WIFSIGNALED(st)) {
        rc = 128 + WTERMSIG(st);
        print_error("the server ended on signal %d after SIGTERM\n", WTERMSIG(st));
        srv_dump_log(s);
    } else {
        rc = -1;
    }
    if (rc > 0 && rc < 128) {
        print_error("the server exited with %d after SIGTERM\n", rc);
        srv_dump_log(s);
    }
    s->pid = 0;
    return rc;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

void srv_remove_dir(api_server *s)
{
    const char *keep = getenv("RG_TEST_KEEP");
    if (keep && strcmp(keep, "1") == 0) {
        print_message("keeping %s\n", s->dir);
        return;
    }
    if (s->dir[0])
        nftw(s->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
#ifdef RG_WITH_MONGODB
    if (strncmp(s->document_url, "mongodb", 7) == 0)
        rg_test_mongo_drop_db(rg_xstrdup(s->document_url));
#endif
#ifdef RG_WITH_POSTGRES
    if (s->relational_url[0]) {
        rg_test_pg_drop_db(rg_xstrdup(s->relational_url));
        s->relational_url[0] = s->document_url[0] = s->cache_url[0] = s->replica_url[0] = '\0';
    }
#endif
}

void srv_dump_log(const api_server *s)
{
    FILE *f = fopen(s->log, "r");
    if (!f)
        return;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    long from = size > 4000 ? size - 4000 : 0;
    fseek(f, from, SEEK_SET);
    char buf[4001];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    print_error("---- %s (last %zu bytes) ----\n%s\n---- end of server log ----\n", s->log, n, buf);
}

int srv_cli(const api_server *s, char *out, size_t cap, ...)
{
    const char *bin = rg_bin();
    if (!bin)
        return -1;
    const char *argv[32];
    int argc = 0;
    argv[argc++] = "risinggen";
    va_list ap;
    va_start(ap, cap);
    const char *a;
    while ((a = va_arg(ap, const char *)) && argc < 31)
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    int fds[2];
    if (pipe(fds) < 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        child_env(s);
        close(fds[0]);
        int log = open(s->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        int null = open("/dev/null", O_RDONLY);
        dup2(fds[1], STDOUT_FILENO);
        if (log >= 0)
            dup2(log, STDERR_FILENO);
        if (null >= 0)
            dup2(null, STDIN_FILENO);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    size_t len = 0;
    char sink[256];
    for (;;) {
        char *dst = out && len + 1 < cap ? out + len : sink;
        size_t room = out && len + 1 < cap ? cap - len - 1 : sizeof sink;
        ssize_t n = read(fds[0], dst, room);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (dst != sink)
            len += (size_t)n;
    }
    if (out && cap)
        out[len] = '\0';
    close(fds[0]);
    int st;
    if (waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A server-profile run without the private servers is skipped (ctest's
 * SKIP_RETURN_CODE 77), saying why. */
__attribute__((constructor)) static void skip_without_servers(void)
{
    const char *profile = getenv("RG_TEST_PROFILE");
    const char *pg = getenv("RG_TEST_PG_URL"), *mongo = getenv("RG_TEST_MONGODB_URL");
    bool mongodb = profile && strcmp(profile, "mongodb") == 0;
    const char *why = NULL;
    if (profile && (strcmp(profile, "server") == 0 || mongodb) && (!pg || !*pg))
        why = "RG_TEST_PG_URL is not set";
#ifdef RG_WITH_MONGODB
    else if (mongodb && (!mongo || !*mongo))
        why = "RG_TEST_MONGODB_URL is not set (no MongoDB server here)";
#else
    else if (mongodb)
        why = "the MongoDB adapter is not in this build";
    (void)mongo;
#endif
    if (why) {
        printf("SKIPPED api/%s profile: %s\n", profile, why);
        fflush(stdout);
        _exit(77);
    }
}

int api_setup(void **state)
{
    (void)state;
    pthread_once(&curl_once, curl_init_once);
    api_main_thread = pthread_self();
    api_main_thread_set = true;
    return srv_start(&g_srv, NULL);
}

int api_teardown(void **state)
{
    (void)state;
    resp_free_all();
    if (g_srv.pid <= 0) {
        print_error("no server was running at teardown\n");
        if (g_srv.dir[0])
            srv_remove_dir(&g_srv);
        return -1;
    }
    int rc = srv_stop(&g_srv);
    if (rc != 0) {
        print_error("the server exited with %d after SIGTERM (graceful shutdown exits 0)\n", rc);
        srv_dump_log(&g_srv);
    }
    srv_remove_dir(&g_srv);
    return rc == 0 ? 0 : -1;
}
