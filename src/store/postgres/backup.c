/* Backups of the server profile (risinggen/store/backup.h,
 * docs/design/backups.md): pgBackRest takes them, risinggen drives it.
 *
 * The repository folder RG_BACKUP_REPO holds pgbackrest.conf (written on
 * every command from the settings, the key as its cipher pass), server.json
 * (what `backup create` learnt of the server: its data directory, socket,
 * port, version and the settings a restored copy must match), pgBackRest's
 * own repository in pgbackrest/, its logs and locks, and last-verify.json.
 * pgBackRest reads the data directory, so these commands run on the
 * PostgreSQL host; as root they run pgBackRest as the owner of the data
 * directory, who also owns the repository (PostgreSQL's archive_command
 * writes into it as that user). */
#include "risinggen/base/alloc.h"
#include "risinggen/base/clock.h"
#include "risinggen/base/error.h"
#include "risinggen/base/log.h"
#include "risinggen/base/metrics.h"
#include "risinggen/store/backup.h"
#include "backup_ports.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STANZA "risinggen"

typedef struct {
    char repo[2048];
    char conf[2200];
    char exe[1024];     /* pgbackrest */
    char pass_env[128]; /* PGBACKREST_REPO1_CIPHER_PASS=<key> for every run */
    json_t *server;     /* server.json */
    uid_t uid;          /* owner of the data directory and of the repository */
    gid_t gid;
} pgb;

/* Every run of pgBackRest gets the key of the settings of now through its
 * environment (which comes before the configuration file); the file, which
 * PostgreSQL's archive_command reads, changes only once a key has been
 * shown to open the repository (create). */
static void set_pass(const rg_config *cfg, pgb *p)
{
    snprintf(p->pass_env, sizeof p->pass_env, "PGBACKREST_REPO1_CIPHER_PASS=%s", cfg->backup_key);
}

static const char *sget(json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

static long long iget(json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

static int key_ok(const rg_config *cfg)
{
    const char *k = cfg->backup_key ? cfg->backup_key : "";
    bool hex = strlen(k) == 64;
    for (const char *p = k; hex && *p; p++)
        hex = (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F');
    return hex ? 0
               : rg_error_set(RG_EINVAL,
                              "RG_BACKUP_KEY must be 64 hex digits (openssl rand -hex 32)");
}

static int find_exe(const char *name, char *path, size_t cap)
{
    const char *env = getenv("PATH");
    char dirs[4096];
    snprintf(dirs, sizeof dirs, "%s", env && *env ? env : "/usr/local/bin:/usr/bin:/bin");
    char *save = NULL;
    for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        snprintf(path, cap, "%s/%s", d, name);
        if (access(path, X_OK) == 0)
            return 0;
    }
    return RG_ENOTFOUND;
}

/* The repository path: absolute, and plain enough to stand in the
 * archive_command of postgresql.conf unquoted. */
static int repo_path(const rg_config *cfg, pgb *p)
{
    const char *r = cfg->backup_repo ? cfg->backup_repo : "";
    if (!*r)
        return rg_error_set(RG_EINVAL, "RG_BACKUP_REPO names no folder");
    /* Absolute: PostgreSQL's archive_command names it from another
     * folder, and every command must name the same one. */
    if (r[0] != '/')
        return rg_error_set(RG_EINVAL, "RG_BACKUP_REPO must be an absolute path on the server "
                                       "profile (PostgreSQL's archive_command names it)");
    char abs[2048];
    snprintf(abs, sizeof abs, "%s", r);
    for (const char *c = abs; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              strchr("/._-+", *c)))
            return rg_error_set(RG_EINVAL,
                                "RG_BACKUP_REPO may hold only letters, digits and / . _ - + on "
                                "the server profile (it stands in PostgreSQL's archive_command)");
    if (strlen(abs) > 1500)
        return rg_error_set(RG_EINVAL, "RG_BACKUP_REPO is too long");
    snprintf(p->repo, sizeof p->repo, "%s", abs);
    snprintf(p->conf, sizeof p->conf, "%s/pgbackrest.conf", abs);
    return 0;
}

/* A folder of the repository, the owner's. The owner can write in the
 * repository, so as root nothing there is followed as a symbolic link. */
static int mkdir_owned(const pgb *p, const char *path, mode_t mode)
{
    if (mkdir(path, mode) != 0 && errno != EEXIST)
        return rg_error_set(RG_EUNAVAIL, "cannot create %s: %s", path, strerror(errno));
    struct stat st;
    if (lstat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return rg_error_set(RG_EUNAVAIL, "%s is not a folder", path);
    if (geteuid() == 0 && lchown(path, p->uid, p->gid) != 0)
        return rg_error_set(RG_EUNAVAIL, "cannot hand %s to the owner of the data directory: %s",
                            path, strerror(errno));
    return 0;
}

static int write_owned(const pgb *p, const char *path, const char *text)
{
    char tmp[2300];
    snprintf(tmp, sizeof tmp, "%s.XXXXXX", path);
    int fd = mkostemp(tmp, O_CLOEXEC); /* a new file of its own: O_EXCL, 0600 */
    if (fd < 0)
        return rg_error_set(RG_EUNAVAIL, "cannot write %s: %s", path, strerror(errno));
    size_t len = strlen(text);
    bool ok = write(fd, text, len) == (ssize_t)len && fsync(fd) == 0;
    if (geteuid() == 0 && fchown(fd, p->uid, p->gid) != 0)
        ok = false;
    close(fd);
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return rg_error_set(RG_EUNAVAIL, "cannot write %s: %s", path, strerror(errno));
    }
    return 0;
}

/* pgbackrest.conf from server.json and the settings of now. */
static int write_conf(const rg_config *cfg, pgb *p)
{
    char dir[2200], *text = NULL;
    size_t len = 0;
    snprintf(dir, sizeof dir, "%s/log", p->repo);
    int rc = mkdir_owned(p, p->repo, 0700);
    if (rc == 0)
        rc = mkdir_owned(p, dir, 0700);
    snprintf(dir, sizeof dir, "%s/lock", p->repo);
    if (rc == 0)
        rc = mkdir_owned(p, dir, 0700);
    if (rc < 0)
        return rc;
    FILE *f = open_memstream(&text, &len);
    fprintf(f,
            "# Written by `risinggen backup` on every run: edits do not last.\n"
            "[global]\n"
            "repo1-path=%s/pgbackrest\n"
            "repo1-cipher-type=aes-256-cbc\n"
            "repo1-cipher-pass=%s\n"
            "repo1-retention-full-type=time\n"
            "repo1-retention-full=%d\n"
            "lock-path=%s/lock\n"
            "log-path=%s/log\n"
            "log-level-console=info\n"
            "log-level-file=detail\n"
            "start-fast=y\n"
            "compress-type=lz4\n"
            "\n[" STANZA "]\n"
            "pg1-path=%s\n"
            "pg1-port=%lld\n"
            "pg1-socket-path=%s\n"
            "pg1-user=%s\n"
            "pg1-database=%s\n",
            p->repo, cfg->backup_key, cfg->backup_keep_days, p->repo, p->repo,
            sget(p->server, "dataDirectory"), iget(p->server, "port"), sget(p->server, "socket"),
            sget(p->server, "user"), sget(p->server, "database"));
    fclose(f);
    rc = write_owned(p, p->conf, text);
    sodium_memzero(text, len); /* it holds the key */
    free(text);
    return rc;
}

/* Runs pgbackrest with args (NULL-terminated) as the repository's owner;
 * *text receives what it printed (to free). Its exit status, or RG_E*. */
static int run(const pgb *p, char **text, ...)
{
    const char *argv[32];
    char config[2300];
    int n = 0;
    snprintf(config, sizeof config, "--config=%s", p->conf);
    argv[n++] = p->exe;
    argv[n++] = config;
    argv[n++] = "--stanza=" STANZA;
    va_list ap;
    va_start(ap, text);
    for (const char *a; n < 31 && (a = va_arg(ap, const char *));)
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    /* The environment of now, with the key (prepared before fork: the
     * child runs only async-signal-safe calls). */
    extern char **environ;
    size_t nenv = 0;
    while (environ[nenv])
        nenv++;
    const char **envp = malloc((nenv + 2) * sizeof *envp);
    if (!envp)
        abort();
    size_t e = 0;
    for (size_t i = 0; i < nenv; i++)
        if (strncmp(environ[i], "PGBACKREST_", 11) != 0)
            envp[e++] = environ[i];
    envp[e++] = p->pass_env;
    envp[e] = NULL;
    *text = NULL;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        free(envp);
        return rg_error_set(RG_EUNAVAIL, "pipe: %s", strerror(errno));
    }
    bool drop = geteuid() == 0 && p->uid != 0;
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        free(envp);
        return rg_error_set(RG_EUNAVAIL, "fork: %s", strerror(errno));
    }
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        dup2(fds[1], STDERR_FILENO);
        int null = open("/dev/null", O_RDONLY);
        if (null >= 0)
            dup2(null, STDIN_FILENO);
        if (drop && (setgroups(0, NULL) != 0 || setgid(p->gid) != 0 || setuid(p->uid) != 0))
            _exit(126);
        execve(p->exe, (char *const *)argv, (char *const *)envp);
        _exit(127);
    }
    free(envp);
    close(fds[1]);
    size_t len = 0, cap = 4096;
    char *buf = rg_xmalloc(cap);
    for (;;) {
        if (len + 4096 + 1 > cap)
            buf = rg_xrealloc(buf, cap *= 2);
        ssize_t got = read(fds[0], buf + len, 4096);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        len += (size_t)got;
    }
    buf[len] = '\0';
    close(fds[0]);
    int status = 0;
    pid_t got;
    while ((got = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
        ;
    *text = buf;
    if (got != pid)
        return rg_error_set(RG_EUNAVAIL, "lost pgBackRest's process: %s", strerror(errno));
    if (WIFEXITED(status) && WEXITSTATUS(status) == 126)
        return rg_error_set(RG_EUNAVAIL, "cannot run pgBackRest as uid %d", (int)p->uid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The lines of pgBackRest's output that say what went wrong, as one. */
static int failed(const char *what, const char *text, int status)
{
    char lines[1500] = "";
    size_t used = 0;
    const char *at = text ? text : "";
    for (const char *line = at; *line;) {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        const char *e = strstr(line, "ERROR:");
        if (e && e < line + len && used < sizeof lines - 2) {
            used += (size_t)snprintf(lines + used, sizeof lines - used, "%s%.*s", used ? "; " : "",
                                     (int)(len - (size_t)(e - line)), e);
        } else if (used && e == NULL && len > 0 && line[0] == ' ' && used < sizeof lines - 2) {
            const char *s = line;
            while (*s == ' ')
                s++;
            used += (size_t)snprintf(lines + used, sizeof lines - used, " %.*s",
                                     (int)(len - (size_t)(s - line)), s);
        }
        line = eol ? eol + 1 : line + len;
    }
    return rg_error_set(RG_EUNAVAIL, "pgBackRest %s failed (exit %d)%s%s", what, status,
                        used ? ": " : "", lines);
}

static int find_pgbackrest(pgb *p)
{
    if (find_exe("pgbackrest", p->exe, sizeof p->exe) < 0)
        return rg_error_set(RG_EUNAVAIL, "pgBackRest is not installed (Debian package "
                                         "pgbackrest): the server profile's backups are its");
    for (const char *c = p->exe; *c; c++) /* it stands unquoted in archive_command */
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              strchr("/._-+", *c)))
            return rg_error_set(RG_EINVAL,
                                "the path of pgbackrest (%s) may hold only letters, "
                                "digits and / . _ - +",
                                p->exe);
    return 0;
}

static void close_repo(pgb *p)
{
    json_decref(p->server);
    p->server = NULL;
    sodium_memzero(p->pass_env, sizeof p->pass_env);
}

/* What the repository knows of the server (server.json), and the
 * configuration written from it: the commands that need no server. */
static int open_repo(const rg_config *cfg, pgb *p)
{
    memset(p, 0, sizeof *p);
    int rc = key_ok(cfg);
    if (rc == 0)
        rc = repo_path(cfg, p);
    if (rc == 0)
        rc = find_pgbackrest(p);
    if (rc < 0)
        return rc;
    char path[2200];
    snprintf(path, sizeof path, "%s/server.json", p->repo);
    p->server = json_load_file(path, 0, NULL);
    struct stat st;
    if (!p->server || lstat(p->repo, &st) != 0 || !S_ISDIR(st.st_mode)) {
        close_repo(p);
        return rg_error_set(RG_EINVAL,
                            "%s holds no pgBackRest repository of risinggen: `backup create` "
                            "makes one",
                            p->repo);
    }
    p->uid = st.st_uid;
    p->gid = st.st_gid;
    set_pass(cfg, p);
    /* A repository brought from elsewhere without its configuration. */
    return access(p->conf, F_OK) == 0 ? 0 : write_conf(cfg, p);
}

/* The server's facts, from a connection to the relational store. */
static PGconn *connect_url(const char *url)
{
    const char *keys[] = {"dbname", "connect_timeout", "application_name", NULL};
    const char *vals[] = {url, "10", "risinggen-backup", NULL};
    return PQconnectdbParams(keys, vals, 1);
}

static char *one(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    char *v = NULL;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
        v = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

static int learn_server(PGconn *c, pgb *p)
{
    PGresult *r = PQexec(
        c, "SELECT current_setting('data_directory'), current_setting('unix_socket_directories'), "
           "current_setting('port')::int, current_user, current_database(), "
           "current_setting('server_version_num')::int / 10000, "
           "current_setting('max_connections')::int, current_setting('max_worker_processes')::int, "
           "current_setting('max_wal_senders')::int, "
           "current_setting('max_prepared_transactions')::int, "
           "current_setting('max_locks_per_transaction')::int, "
           "(SELECT setting::bigint FROM pg_settings WHERE name = 'wal_segment_size')");
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        int rc = rg_error_set(RG_EINVAL,
                              "PostgreSQL does not tell its data directory to this role (%s): "
                              "backups need a superuser or a member of pg_read_all_settings",
                              PQresultErrorMessage(r));
        PQclear(r);
        return rc;
    }
    char sock[1024];
    snprintf(sock, sizeof sock, "%s", PQgetvalue(r, 0, 1));
    char *comma = strchr(sock, ',');
    if (comma)
        *comma = '\0';
    char *s = sock;
    while (*s == ' ')
        s++;
    json_decref(p->server);
    p->server =
        json_pack("{s:s, s:s, s:I, s:s, s:s, s:I, s:{s:I, s:I, s:I, s:I, s:I}, s:I}",
                  "dataDirectory", PQgetvalue(r, 0, 0), "socket", s, "port",
                  (json_int_t)atoll(PQgetvalue(r, 0, 2)), "user", PQgetvalue(r, 0, 3), "database",
                  PQgetvalue(r, 0, 4), "major", (json_int_t)atoll(PQgetvalue(r, 0, 5)), "settings",
                  "max_connections", (json_int_t)atoll(PQgetvalue(r, 0, 6)), "max_worker_processes",
                  (json_int_t)atoll(PQgetvalue(r, 0, 7)), "max_wal_senders",
                  (json_int_t)atoll(PQgetvalue(r, 0, 8)), "max_prepared_transactions",
                  (json_int_t)atoll(PQgetvalue(r, 0, 9)), "max_locks_per_transaction",
                  (json_int_t)atoll(PQgetvalue(r, 0, 10)), "walSegmentSize",
                  (json_int_t)atoll(PQgetvalue(r, 0, 11)));
    PQclear(r);
    if (!*s)
        return rg_error_set(RG_EINVAL, "PostgreSQL listens on no Unix socket "
                                       "(unix_socket_directories), which pgBackRest needs");
    struct stat st;
    if (stat(sget(p->server, "dataDirectory"), &st) != 0)
        return rg_error_set(RG_EINVAL,
                            "cannot see PostgreSQL's data directory %s (%s): pgBackRest reads it, "
                            "so `risinggen backup` runs on the database host, as root or as the "
                            "directory's owner",
                            sget(p->server, "dataDirectory"), strerror(errno));
    p->uid = st.st_uid;
    p->gid = st.st_gid;
    return 0;
}

/* PostgreSQL hands every WAL segment to pgBackRest: archive_mode must be
 * on (a restart); archive_command is set here when this role may. */
static int ensure_archiving(PGconn *c, const pgb *p, FILE *out)
{
    char want[3400];
    snprintf(want, sizeof want, "%s --config=%s --stanza=" STANZA " archive-push %%p", p->exe,
             p->conf);
    char *mode = one(c, "SELECT current_setting('archive_mode')"),
         *cmd = one(c, "SELECT current_setting('archive_command')"),
         *super = one(c, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"),
         *timeout = one(c, "SELECT setting FROM pg_settings WHERE name = 'archive_timeout'");
    int rc = 0;
    if (!mode || strcmp(mode, "off") == 0) {
        rc = rg_error_set(RG_EINVAL,
                          "PostgreSQL does not archive its WAL, so no moment between backups "
                          "could be restored. Add to postgresql.conf, then restart it:\n"
                          "  archive_mode = on\n  archive_command = '%s'",
                          want);
    } else if (!cmd || strcmp(cmd, want) != 0 || !timeout || strcmp(timeout, "0") == 0) {
        if (!super || strcmp(super, "t") != 0) {
            rc = rg_error_set(RG_EINVAL,
                              "PostgreSQL's archive_command is not pgBackRest's for this "
                              "repository, and this role may not change it. Add to "
                              "postgresql.conf, then reload it:\n"
                              "  archive_command = '%s'\n  archive_timeout = 60",
                              want);
        } else {
            char *lit = PQescapeLiteral(c, want, strlen(want)), sql[7000];
            snprintf(sql, sizeof sql, "ALTER SYSTEM SET archive_command = %s", lit ? lit : "NULL");
            PQfreemem(lit);
            PGresult *r = lit ? PQexec(c, sql) : NULL;
            bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
            PQclear(r);
            if (ok && (!timeout || strcmp(timeout, "0") == 0)) {
                r = PQexec(c, "ALTER SYSTEM SET archive_timeout = 60");
                ok = PQresultStatus(r) == PGRES_COMMAND_OK;
                PQclear(r);
            }
            if (ok) {
                r = PQexec(c, "SELECT pg_reload_conf()");
                ok = PQresultStatus(r) == PGRES_TUPLES_OK;
                PQclear(r);
            }
            /* The reload reaches this session at its next statement. */
            for (int i = 0; ok && i < 200; i++) {
                free(cmd);
                cmd = one(c, "SELECT current_setting('archive_command')");
                if (cmd && strcmp(cmd, want) == 0)
                    break;
                struct timespec ts = {0, 50 * 1000 * 1000};
                nanosleep(&ts, NULL);
            }
            if (!ok || !cmd || strcmp(cmd, want) != 0)
                rc = rg_error_set(RG_EUNAVAIL, "cannot set PostgreSQL's archive_command (%s)",
                                  PQerrorMessage(c));
            else
                fprintf(out,
                        "PostgreSQL now archives its WAL into %s/pgbackrest "
                        "(archive_command set with ALTER SYSTEM, archive_timeout 60 s)\n",
                        p->repo);
        }
    }
    free(mode);
    free(cmd);
    free(super);
    free(timeout);
    return rc;
}

static int stanza_ready(const pgb *p, FILE *out)
{
    char *text;
    int st = run(p, &text, "stanza-create", (char *)NULL);
    int rc = st == 0 ? 0 : st < 0 ? st : failed("stanza-create", text, st);
    free(text);
    if (rc < 0)
        return rc;
    st = run(p, &text, "check", (char *)NULL);
    rc = st == 0 ? 0 : st < 0 ? st : failed("check (of WAL archiving)", text, st);
    free(text);
    if (rc == 0)
        fprintf(out, "stanza %s ready; PostgreSQL's WAL reaches the repository\n", STANZA);
    return rc;
}

/* "new backup label = X" of pgBackRest's output. */
static void label_of(const char *text, char *label, size_t cap)
{
    const char *at = strstr(text, "new backup label = ");
    label[0] = '\0';
    if (at) {
        at += strlen("new backup label = ");
        size_t n = strcspn(at, " \r\n");
        snprintf(label, cap, "%.*s", (int)n, at);
    }
}

static int info(const pgb *p, json_t **stanza);

/* An existing repository must open with the key of the settings before
 * the configuration that PostgreSQL's archive_command reads takes it:
 * a wrong key there would stop the archiving. */
static int key_opens(const rg_config *cfg, pgb *p)
{
    char path[2300];
    snprintf(path, sizeof path, "%s/pgbackrest/backup/" STANZA "/backup.info", p->repo);
    if (access(path, F_OK) != 0)
        return 0; /* a new repository */
    int rc = access(p->conf, F_OK) == 0 ? 0 : write_conf(cfg, p);
    json_t *s = NULL;
    if (rc == 0)
        rc = info(p, &s);
    json_decref(s);
    return rc;
}

static int create(const rg_config *cfg, bool incremental, char *label, size_t cap, FILE *out)
{
    pgb p = {0};
    int rc = key_ok(cfg);
    if (rc == 0)
        rc = repo_path(cfg, &p);
    if (rc == 0)
        rc = find_pgbackrest(&p);
    if (rc < 0)
        return rc;
    PGconn *c = connect_url(cfg->relational_url);
    if (PQstatus(c) != CONNECTION_OK) {
        rc = rg_error_set(RG_EUNAVAIL, "cannot reach PostgreSQL: %s", PQerrorMessage(c));
        PQfinish(c);
        return rc;
    }
    rc = learn_server(c, &p);
    set_pass(cfg, &p);
    char path[2200], *text = NULL;
    if (rc == 0)
        rc = key_opens(cfg, &p);
    if (rc == 0)
        rc = write_conf(cfg, &p);
    if (rc == 0) {
        text = json_dumps(p.server, JSON_INDENT(2));
        snprintf(path, sizeof path, "%s/server.json", p.repo);
        rc = text ? write_owned(&p, path, text) : rg_error_set(RG_EUNAVAIL, "out of memory");
        free(text);
        text = NULL;
    }
    if (rc == 0)
        rc = ensure_archiving(c, &p, out);
    PQfinish(c);
    if (rc == 0)
        rc = stanza_ready(&p, out);
    if (rc == 0) {
        int64_t t0 = rg_now_ms();
        int st =
            run(&p, &text, "backup", incremental ? "--type=incr" : "--type=full", (char *)NULL);
        if (st != 0)
            rc = st < 0 ? st : failed("backup", text, st);
        else {
            label_of(text, label, cap);
            fprintf(out, "backup %s (%s) complete in %.1f s\n", label,
                    strstr(text, "incr backup size") ? "incremental" : "full",
                    (double)(rg_now_ms() - t0) / 1000.0);
        }
        free(text);
    }
    close_repo(&p);
    return rc;
}

int rg__pg_backup_create(const rg_config *cfg, bool incremental, FILE *out)
{
    char label[64];
    return create(cfg, incremental, label, sizeof label, out);
}

/* pgBackRest's view of the repository (info --output=json), its stanza. */
static int info(const pgb *p, json_t **stanza)
{
    char *text;
    *stanza = NULL;
    int st = run(p, &text, "--log-level-console=warn", "info", "--output=json", (char *)NULL);
    json_t *all =
        st == 0 ? json_loads(strchr(text, '[') ? strchr(text, '[') : text, 0, NULL) : NULL;
    int rc = 0;
    if (st != 0)
        rc = st < 0 ? st : failed("info", text, st);
    else if (strstr(text, "unable to load info file"))
        /* Read with a wrong key, the info file is noise (not even UTF-8). */
        rc = rg_error_set(RG_EINVAL,
                          "the repository does not open with this RG_BACKUP_KEY: pgBackRest "
                          "cannot read its backup.info (a wrong key, or the file is damaged)");
    else if (!json_is_array(all) || !json_array_size(all))
        rc = rg_error_set(RG_EUNAVAIL, "pgBackRest info said nothing readable");
    free(text);
    if (rc < 0) {
        json_decref(all);
        return rc;
    }
    json_t *s = json_array_get(all, 0), *status = json_object_get(s, "status");
    long long code = iget(status, "code");
    if (code != 0 && code != 2 /* no backups yet */) {
        rc = rg_error_set(RG_EINVAL,
                          "the repository does not open: %s (a wrong RG_BACKUP_KEY reads as a "
                          "missing stanza)",
                          sget(status, "message"));
        json_decref(all);
        return rc;
    }
    *stanza = json_incref(s);
    json_decref(all);
    return 0;
}

static void iso(long long t, char out[RG_TIME_LEN + 1])
{
    rg_time_format((int64_t)t, out);
}

int rg__pg_backup_list(const rg_config *cfg, FILE *out)
{
    pgb p;
    json_t *s = NULL;
    int rc = open_repo(cfg, &p);
    if (rc == 0)
        rc = info(&p, &s);
    if (rc == 0) {
        size_t i;
        json_t *b;
        json_t *backups = json_object_get(s, "backup");
        json_array_foreach(backups, i, b)
        {
            char stop[RG_TIME_LEN + 1];
            iso(iget(json_object_get(b, "timestamp"), "stop"), stop);
            json_t *inf = json_object_get(b, "info");
            bool full = strcmp(sget(b, "type"), "full") == 0;
            fprintf(out, "%s  %s  %s  %lld bytes (%lld %s the repository)%s\n", sget(b, "label"),
                    stop, sget(b, "type"), iget(inf, "size"),
                    iget(json_object_get(inf, "repository"), full ? "size" : "delta"),
                    full ? "in" : "new in",
                    json_is_true(json_object_get(b, "error")) ? "  (pages failed checksums)" : "");
        }
        if (!json_array_size(backups))
            fprintf(out, "no backups in %s/pgbackrest\n", p.repo);
        json_array_foreach(json_object_get(s, "archive"), i, b)
            fprintf(out, "wal %s: %s to %s, in %s/pgbackrest\n", sget(b, "id"), sget(b, "min"),
                    sget(b, "max"), p.repo);
        json_decref(s);
    }
    close_repo(&p);
    return rc;
}

/* Segment names are TTTTTTTT + log + seg (8 hex each); log * per + seg
 * counts segments within a timeline. */
static bool segment(const char *name, unsigned *tl, unsigned long long *no, unsigned long long per)
{
    unsigned a, b, c;
    if (strlen(name) < 24 || sscanf(name, "%8x%8x%8x", &a, &b, &c) != 3)
        return false;
    for (int i = 0; i < 24; i++)
        if (!strchr("0123456789ABCDEF", name[i]))
            return false;
    *tl = a;
    *no = (unsigned long long)b * per + c;
    return true;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every WAL segment from the oldest backup's first one on is in the
 * archive, without a gap in any timeline (pgBackRest's verify of this
 * version does not report a missing one). */
static int wal_complete(const pgb *p, json_t *s, FILE *out)
{
    unsigned long long per =
        0x100000000ULL / (unsigned long long)(iget(p->server, "walSegmentSize")
                                                  ? iget(p->server, "walSegmentSize")
                                                  : 16 * 1024 * 1024);
    const char *first = "";
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(s, "backup"), i, b)
    {
        const char *start = sget(json_object_get(b, "archive"), "start");
        if (!*first || strcmp(start, first) < 0)
            first = start;
    }
    int rc = 0, found = 0;
    json_array_foreach(json_object_get(s, "archive"), i, b)
    {
        char dir[2600];
        snprintf(dir, sizeof dir, "%s/pgbackrest/archive/" STANZA "/%s", p->repo, sget(b, "id"));
        char **names = NULL;
        size_t n = 0, cap = 0;
        DIR *top = opendir(dir);
        struct dirent *e;
        while (top && (e = readdir(top))) {
            if (strlen(e->d_name) != 16)
                continue;
            char sub[2900];
            snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name);
            DIR *d = opendir(sub);
            struct dirent *f;
            while (d && (f = readdir(d))) {
                unsigned tl;
                unsigned long long no;
                if (strchr(f->d_name, '.') != f->d_name + 24 && strlen(f->d_name) > 25 &&
                    f->d_name[24] == '-' && segment(f->d_name, &tl, &no, per)) {
                    if (n == cap)
                        names = realloc(names, (cap = cap ? cap * 2 : 256) * sizeof *names);
                    names[n++] = strndup(f->d_name, 24);
                }
            }
            if (d)
                closedir(d);
        }
        if (top)
            closedir(top);
        qsort(names, n, sizeof *names, by_name);
        unsigned prev_tl = 0;
        unsigned long long prev = 0;
        bool have = false;
        for (size_t k = 0; k < n && rc == 0; k++) {
            unsigned tl;
            unsigned long long no;
            segment(names[k], &tl, &no, per);
            if (*first && strcmp(names[k] + 8, first + 8) < 0)
                continue; /* older than every backup kept */
            if (have && tl == prev_tl && no != prev + 1 && no != prev)
                rc =
                    rg_error_set(RG_EINVAL,
                                 "WAL segments are missing from the archive after %08X%08X%08X "
                                 "(the next one there is %s): no moment after it can be restored",
                                 prev_tl, (unsigned)(prev / per), (unsigned)(prev % per), names[k]);
            if (*first && !have && strncmp(names[k], first, 8) == 0 && strcmp(names[k], first) > 0)
                rc = rg_error_set(RG_EINVAL,
                                  "WAL segment %s, where the oldest backup begins, is missing "
                                  "from the archive",
                                  first);
            prev_tl = tl;
            prev = no;
            have = true;
            found++;
        }
        for (size_t k = 0; k < n; k++)
            free(names[k]);
        free(names);
    }
    if (rc == 0)
        fprintf(out, "%d archived WAL segments in order from %s on\n", found,
                *first ? first : "the start");
    return rc;
}

int rg__pg_backup_verify(const rg_config *cfg, const char *id, FILE *out)
{
    pgb p;
    json_t *s = NULL;
    int rc = open_repo(cfg, &p);
    if (rc == 0)
        rc = info(&p, &s);
    if (rc == 0 && !json_array_size(json_object_get(s, "backup")))
        rc = rg_error_set(RG_EINVAL, "no backups in %s/pgbackrest", p.repo);
    if (rc == 0 && id) {
        bool known = false;
        size_t i;
        json_t *b;
        json_array_foreach(json_object_get(s, "backup"), i, b) known |=
            strcmp(sget(b, "label"), id) == 0;
        if (!known)
            rc = rg_error_set(RG_ENOTFOUND, "no backup %s in %s/pgbackrest", id, p.repo);
    }
    char *text = NULL;
    if (rc == 0) {
        int st = run(&p, &text, "verify", (char *)NULL);
        if (st != 0)
            rc = st < 0 ? st : failed("verify", text, st);
        else if (strstr(text, "status: error")) {
            /* The indented summary lines below "status: error", joined. */
            char what[1200] = "";
            size_t used = 0;
            const char *line = strchr(strstr(text, "status: error"), '\n');
            while (line && *++line == ' ' && used < sizeof what - 2) {
                const char *eol = strchr(line, '\n');
                size_t len = eol ? (size_t)(eol - line) : strlen(line);
                const char *c = line;
                while (*c == ' ')
                    c++;
                used += (size_t)snprintf(what + used, sizeof what - used, "%s%.*s",
                                         used ? "; " : "", (int)(line + len - c), c);
                line = eol;
            }
            rc = rg_error_set(RG_EINVAL, "pgBackRest verify found damage: %s", what);
        }
        free(text);
    }
    if (rc == 0)
        rc = wal_complete(&p, s, out);
    if (rc == 0)
        fprintf(out,
                "%zu backup(s) in %s/pgbackrest verified: every file's checksum, every "
                "archived WAL segment's, and the WAL chain\n",
                json_array_size(json_object_get(s, "backup")), p.repo);
    json_decref(s);
    close_repo(&p);
    return rc;
}

static bool empty_or_absent(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return errno == ENOENT;
    struct dirent *e;
    bool empty = true;
    while (empty && (e = readdir(d)))
        empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
    closedir(d);
    return empty;
}

/* The newest backup that ended at or before until_ms (INT64_MAX: the
 * newest); RG_EINVAL naming the oldest when none did. */
static int pick(json_t *s, const char *id, int64_t until_ms, char *label, size_t cap)
{
    size_t i;
    json_t *b, *best = NULL;
    long long oldest = 0;
    json_array_foreach(json_object_get(s, "backup"), i, b)
    {
        long long stop = iget(json_object_get(b, "timestamp"), "stop");
        if (!oldest || stop < oldest)
            oldest = stop;
        if (id ? strcmp(sget(b, "label"), id) == 0
               : until_ms == INT64_MAX || stop * 1000 <= until_ms)
            best = b;
    }
    if (!best) {
        if (id)
            return rg_error_set(RG_ENOTFOUND, "no backup %s in the repository", id);
        if (!oldest)
            return rg_error_set(RG_EINVAL, "the repository holds no backup yet");
        char t[RG_TIME_LEN + 1];
        iso(oldest, t);
        return rg_error_set(RG_EINVAL, "no backup ended before that moment: the oldest ended at %s",
                            t);
    }
    snprintf(label, cap, "%s", sget(best, "label"));
    return 0;
}

static int restore(pgb *p, const char *id, int64_t until_ms, const char *into, FILE *out)
{
    json_t *s = NULL;
    char label[64];
    int rc = info(p, &s);
    if (rc == 0)
        rc = pick(s, id, until_ms, label, sizeof label);
    json_decref(s);
    if (rc < 0)
        return rc;
    if (!empty_or_absent(into))
        return rg_error_set(
            RG_EINVAL, "%s is not empty: a restore writes only into an empty or new folder", into);
    if ((rc = mkdir_owned(p, into, 0700)) < 0)
        return rc;
    char pgpath[2200], set[100], target[120] = "";
    snprintf(pgpath, sizeof pgpath, "--pg1-path=%s", into);
    snprintf(set, sizeof set, "--set=%s", label);
    if (until_ms != INT64_MAX) {
        time_t t = (time_t)(until_ms / 1000);
        struct tm tm;
        gmtime_r(&t, &tm);
        char sec[40];
        strftime(sec, sizeof sec, "%Y-%m-%d %H:%M:%S", &tm);
        snprintf(target, sizeof target, "--target=%s.%03d+00", sec, (int)(until_ms % 1000));
    }
    char *text;
    int64_t t0 = rg_now_ms();
    int st = until_ms != INT64_MAX ? run(p, &text, "restore", pgpath, set, "--type=time", target,
                                         "--target-action=promote", (char *)NULL)
                                   : run(p, &text, "restore", pgpath, set, (char *)NULL);
    if (st != 0)
        rc = st < 0 ? st : failed("restore", text, st);
    free(text);
    if (rc == 0)
        fprintf(out,
                "backup %s restored into %s in %.1f s; PostgreSQL replays the archived WAL %s%s "
                "when it starts there, then takes writes\n",
                label, into, (double)(rg_now_ms() - t0) / 1000.0,
                until_ms != INT64_MAX ? "up to " : "to its end", target[0] ? target + 9 : "");
    return rc;
}

int rg__pg_backup_restore(const rg_config *cfg, const char *id, const char *to, const char *into,
                          FILE *out)
{
    int64_t until_ms = INT64_MAX;
    if (!into || !*into)
        return rg_error_set(RG_EINVAL, "--into names the folder to restore into");
    if (to && rg_backup_parse_time(to, &until_ms) < 0)
        return rg_error_set(RG_EINVAL,
                            "--to takes an RFC 3339 time such as 2026-06-01T12:00:00Z or "
                            "2026-06-01T14:00:00.250+02:00");
    pgb p;
    int rc = open_repo(cfg, &p);
    if (rc == 0)
        rc = restore(&p, id, until_ms, into, out);
    if (rc == 0)
        fprintf(out,
                "start it as %s with the settings of the old server (for a copy beside it: "
                "another port, and archive_mode=off so that it does not archive into this "
                "repository), e.g.\n  pg_ctl -D %s -o \"-p 5433 -c archive_mode=off\" -w start\n"
                "then point RG_RELATIONAL_URL and RG_DOCUMENT_URL at it and run `risinggen "
                "check`\n",
                sget(p.server, "user"), into);
    close_repo(&p);
    return rc;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/* Runs a PostgreSQL program (pg_ctl) of the server's major version as the
 * repository's owner; 0 when it exits 0. */
static int run_pg(const pgb *p, const char *const *argv)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, STDIN_FILENO);
            dup2(null, STDOUT_FILENO);
            dup2(null, STDERR_FILENO);
        }
        if (geteuid() == 0 && p->uid != 0 &&
            (setgroups(0, NULL) != 0 || setgid(p->gid) != 0 || setuid(p->uid) != 0))
            _exit(126);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int status = 0;
    pid_t got;
    while ((got = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
        ;
    return got == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static void remove_tree(const char *path)
{
    struct stat top;
    DIR *d = lstat(path, &top) == 0 && S_ISDIR(top.st_mode) ? opendir(path) : NULL;
    if (!d) {
        unlink(path);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char sub[4200];
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        struct stat st;
        if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
            remove_tree(sub);
        else
            unlink(sub);
    }
    closedir(d);
    rmdir(path);
}

/* The checks of a restored cluster: recovery ends and it is promoted,
 * every table of the service's database reads to its end, and every
 * B-tree index passes amcheck's bt_index_check. */
static int check_restored(PGconn *c, FILE *out)
{
    for (int i = 0; i < 6000; i++) { /* 10 min at most */
        char *rec = one(c, "SELECT pg_is_in_recovery()");
        bool done = rec && strcmp(rec, "f") == 0;
        free(rec);
        if (done)
            break;
        if (PQstatus(c) != CONNECTION_OK || i == 5999)
            return rg_error_set(RG_EINVAL, "the restored cluster did not finish its recovery");
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    PGresult *r = PQexec(c, "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c "
                            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' "
                            "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
                            "AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 1");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        int rc = rg_error_set(RG_EINVAL, "the restored cluster does not list its tables: %s",
                              PQresultErrorMessage(r));
        PQclear(r);
        return rc;
    }
    long long rows = 0;
    int tables = PQntuples(r), rc = 0;
    for (int i = 0; i < tables && rc == 0; i++) {
        char sql[600];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", PQgetvalue(r, i, 0));
        char *n = one(c, sql);
        if (!n)
            rc = rg_error_set(RG_EINVAL, "table %s of the restored cluster does not read: %s",
                              PQgetvalue(r, i, 0), PQerrorMessage(c));
        else
            rows += atoll(n);
        free(n);
    }
    PQclear(r);
    if (rc < 0)
        return rc;
    char *has = one(c, "SELECT count(*) FROM schema_migrations");
    if (!has) {
        rc = rg_error_set(RG_EINVAL, "the restored database has no schema_migrations: %s",
                          PQerrorMessage(c));
        return rc;
    }
    free(has);
    r = PQexec(c, "CREATE EXTENSION IF NOT EXISTS amcheck");
    bool amcheck = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    int indexes = 0;
    if (amcheck) {
        r = PQexec(c, "SELECT c.relname, bt_index_check(c.oid, true) FROM pg_index i "
                      "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam "
                      "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE a.amname = 'btree' "
                      "AND i.indisvalid AND n.nspname NOT IN ('pg_catalog', "
                      "'information_schema') AND n.nspname NOT LIKE 'pg_toast%'");
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
            rc = rg_error_set(RG_EINVAL, "an index of the restored cluster fails amcheck: %s",
                              PQresultErrorMessage(r));
        else
            indexes = PQntuples(r);
        PQclear(r);
    }
    if (rc == 0)
        fprintf(out,
                "restored cluster: %d tables read to the end (%lld rows), %d B-tree indexes %s\n",
                tables, rows, indexes, amcheck ? "pass amcheck" : "(amcheck is not installed)");
    return rc;
}

int rg__pg_backup_verify_restore(const rg_config *cfg, const char *id, FILE *out)
{
    int rc = rg_backup_verify(cfg, id, out);
    pgb p;
    if (rc < 0 || (rc = open_repo(cfg, &p)) < 0)
        return rc;
    char scratch[2200], data[2300], sock[64] = "/tmp/rg-verify-XXXXXX", ctl[300], log[2400],
                                    lock[2300];
    snprintf(scratch, sizeof scratch, "%s/verify-XXXXXX", p.repo);
    if (!mkdtemp(scratch)) {
        close_repo(&p);
        return rg_error_set(RG_EUNAVAIL, "cannot make a scratch folder: %s", strerror(errno));
    }
    if (!mkdtemp(sock)) {
        rc = rg_error_set(RG_EUNAVAIL, "cannot make a socket folder: %s", strerror(errno));
        remove_tree(scratch);
        close_repo(&p);
        return rc;
    }
    /* Held while the copy lives, so that prune leaves it alone. */
    snprintf(lock, sizeof lock, "%s/lock", scratch);
    int lock_fd = open(lock, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (lock_fd >= 0)
        flock(lock_fd, LOCK_EX);
    snprintf(data, sizeof data, "%s/data", scratch);
    snprintf(log, sizeof log, "%s/postgresql.log", scratch);
    rc = mkdir_owned(&p, scratch, 0700);
    if (rc == 0)
        rc = mkdir_owned(&p, sock, 0700);
    if (rc == 0)
        rc = restore(&p, id, INT64_MAX, data, out);
    /* A cluster whose configuration lived elsewhere (Debian keeps it in
     * /etc/postgresql) starts with the defaults and trusts the socket,
     * which only the owner can reach (its folder is 0700). */
    char conf[2400];
    snprintf(conf, sizeof conf, "%s/postgresql.conf", data);
    if (rc == 0 && access(conf, F_OK) != 0)
        rc = write_owned(&p, conf, "# the scratch copy of `risinggen backup verify --restore`\n");
    snprintf(conf, sizeof conf, "%s/pg_hba.conf", data);
    if (rc == 0 && access(conf, F_OK) != 0)
        rc = write_owned(&p, conf, "local all all trust\n");
    snprintf(ctl, sizeof ctl, "/usr/lib/postgresql/%lld/bin/pg_ctl", iget(p.server, "major"));
    if (rc == 0 && access(ctl, X_OK) != 0 && find_exe("pg_ctl", ctl, sizeof ctl) < 0)
        rc = rg_error_set(RG_EUNAVAIL, "no pg_ctl of PostgreSQL %lld to start the restored copy",
                          iget(p.server, "major"));
    if (rc == 0) {
        json_t *set = json_object_get(p.server, "settings");
        int port = free_port();
        char opts[1200];
        snprintf(opts, sizeof opts,
                 "-p %d -k %s -c listen_addresses='' -c archive_mode=off -c max_connections=%lld "
                 "-c max_worker_processes=%lld -c max_wal_senders=%lld "
                 "-c max_prepared_transactions=%lld -c max_locks_per_transaction=%lld",
                 port, sock, iget(set, "max_connections"), iget(set, "max_worker_processes"),
                 iget(set, "max_wal_senders"), iget(set, "max_prepared_transactions"),
                 iget(set, "max_locks_per_transaction"));
        const char *start[] = {ctl,  "-D",  data, "-l", log,     "-w",
                               "-t", "600", "-o", opts, "start", NULL};
        if (run_pg(&p, start) != 0)
            rc = rg_error_set(RG_EINVAL, "the restored copy did not start (its log: %s)", log);
        else {
            char portstr[16];
            snprintf(portstr, sizeof portstr, "%d", port);
            const char *keys[] = {"host", "port", "user", "dbname", NULL};
            const char *vals[] = {sock, portstr, sget(p.server, "user"), sget(p.server, "database"),
                                  NULL};
            PGconn *c = PQconnectdbParams(keys, vals, 0);
            for (int i = 0; i < 600 && PQstatus(c) != CONNECTION_OK; i++) {
                PQfinish(c);
                struct timespec ts = {0, 100 * 1000 * 1000};
                nanosleep(&ts, NULL);
                c = PQconnectdbParams(keys, vals, 0);
            }
            rc = PQstatus(c) == CONNECTION_OK
                     ? check_restored(c, out)
                     : rg_error_set(RG_EINVAL, "cannot reach the restored copy: %s",
                                    PQerrorMessage(c));
            PQfinish(c);
        }
    }
    /* Stopped whenever it runs, also after a start that timed out. */
    char pid[2400];
    snprintf(pid, sizeof pid, "%s/postmaster.pid", data);
    if (access(pid, F_OK) == 0) {
        const char *stop[] = {ctl, "-D", data, "-m", "immediate", "-w", "stop", NULL};
        run_pg(&p, stop);
    }
    if (rc == 0) {
        remove_tree(scratch);
        fprintf(out, "the restore into a scratch cluster passed its checks; the copy is gone\n");
    } else {
        fprintf(out, "the scratch copy stays in %s for a look\n", scratch);
    }
    remove_tree(sock);
    if (lock_fd >= 0)
        close(lock_fd);
    close_repo(&p);
    return rc;
}

int rg__pg_backup_prune(const rg_config *cfg, FILE *out)
{
    pgb p;
    int rc = open_repo(cfg, &p);
    char *text = NULL;
    if (rc == 0) {
        int st = run(&p, &text, "expire", (char *)NULL);
        if (st != 0)
            rc = st < 0 ? st : failed("expire", text, st);
        else {
            int removed = 0;
            for (const char *at = text; (at = strstr(at, "expire full backup")); at++)
                removed++;
            fprintf(out,
                    "pgBackRest expired %d full backup set(s) older than %d days with the WAL "
                    "only they needed (RG_BACKUP_KEEP_DAYS; the newest always stays)\n",
                    removed, cfg->backup_keep_days);
        }
        free(text);
    }
    /* Scratch copies a killed verify --restore left. */
    DIR *d = rc == 0 ? opendir(p.repo) : NULL;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strncmp(e->d_name, "verify-", 7) == 0) {
            char path[4200], lock[4300];
            snprintf(path, sizeof path, "%s/%s", p.repo, e->d_name);
            snprintf(lock, sizeof lock, "%s/lock", path);
            int fd = open(lock, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
            bool in_use = fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) != 0;
            if (fd >= 0)
                close(fd);
            if (in_use)
                continue; /* a verify --restore that runs now */
            remove_tree(path);
            fprintf(out, "removed the scratch copy %s\n", e->d_name);
        }
    if (d)
        closedir(d);
    close_repo(&p);
    return rc;
}

/* The schedule of a running service: a full backup daily at
 * RG_BACKUP_FULL_AT (and at start when the repository has none), an
 * incremental one every hour between, each full one verified and followed
 * by expire; PostgreSQL archives its WAL continuously. Every 10 s the
 * archiver's state (pg_stat_archiver) becomes metrics. */

static struct {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    bool running, stop;
    const rg_config *cfg;
    int full_at_min;
    long long failed_seen;
} svc = {.mu = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

#define SERIES_UNTIL  "rg_backup_wal_archived_until_seconds{store=\"postgresql\"}"
#define SERIES_FAILED "rg_backup_wal_archive_failures_total{store=\"postgresql\"}"

/* Everything written before the last segment switch is archived once
 * that segment is (the archiving time stands for the switch's); with
 * nothing written since, everything is. */
static void archiver_metrics(PGconn **c)
{
    if (!*c || PQstatus(*c) != CONNECTION_OK) {
        PQfinish(*c);
        *c = connect_url(svc.cfg->relational_url);
        if (PQstatus(*c) != CONNECTION_OK)
            return;
    }
    PGresult *r =
        PQexec(*c, "SELECT extract(epoch FROM a.last_archived_time), a.failed_count, "
                   "a.last_failed_time IS NULL OR a.last_failed_time < a.last_archived_time, "
                   "pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0') % s.setting::numeric = 0 AND "
                   "a.last_archived_wal = pg_walfile_name(pg_current_wal_lsn() - 1), "
                   "extract(epoch FROM now()) FROM pg_stat_archiver a, pg_settings s "
                   "WHERE s.name = 'wal_segment_size'");
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        double archived = PQgetisnull(r, 0, 0) ? 0 : atof(PQgetvalue(r, 0, 0));
        long long failed_count = atoll(PQgetvalue(r, 0, 1));
        bool healthy = strcmp(PQgetvalue(r, 0, 2), "t") == 0;
        bool at_segment_start = strcmp(PQgetvalue(r, 0, 3), "t") == 0;
        double now = atof(PQgetvalue(r, 0, 4));
        rg_metrics_gauge_set(SERIES_UNTIL, at_segment_start ? now : archived);
        /* archive_timeout closes a segment only after writes PostgreSQL
         * deems important; what an idle server wrote meanwhile would wait
         * for the next busy moment, so the service closes it after 2 min,
         * at most every 2 min, and never while archiving fails (each
         * segment it closes would then wait in pg_wal). */
        static double last_switch;
        if (!at_segment_start && healthy && now - archived > 120 && now - last_switch > 120) {
            PQclear(PQexec(*c, "SELECT pg_switch_wal()"));
            last_switch = now;
        }
        if (failed_count > svc.failed_seen) {
            rg_metrics_count(SERIES_FAILED, (uint64_t)(failed_count - svc.failed_seen));
            svc.failed_seen = failed_count;
        }
    }
    PQclear(r);
}

static bool scheduled(bool full)
{
    char *text = NULL, label[64] = "";
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    int rc = create(svc.cfg, !full, label, sizeof label, out);
    if (rc == 0 && full && (rc = rg_backup_verify(svc.cfg, NULL, out)) == 0)
        rg__pg_backup_prune(svc.cfg, out);
    fclose(out);
    rg__backup_log_lines(text, rc < 0);
    free(text);
    if (rc < 0) {
        rg_warn("backup: the %s backup failed: %s", full ? "full" : "incremental",
                rg_error_detail());
        rg_metrics_count("rg_backup_failures_total", 1);
        return false;
    }
    if (full)
        rg_metrics_gauge_set("rg_backup_last_success_timestamp_seconds", (double)rg_now());
    return true;
}

static void *service_main(void *arg)
{
    (void)arg;
    PGconn *c = NULL;
    pgb p;
    json_t *s = NULL;
    bool need_full = true;
    if (open_repo(svc.cfg, &p) == 0 && info(&p, &s) == 0) {
        size_t n = json_array_size(json_object_get(s, "backup"));
        for (size_t i = n; i-- > 0;) {
            json_t *b = json_array_get(json_object_get(s, "backup"), i);
            if (strcmp(sget(b, "type"), "full") == 0) {
                rg_metrics_gauge_set("rg_backup_last_success_timestamp_seconds",
                                     (double)iget(json_object_get(b, "timestamp"), "stop"));
                need_full = false;
                break;
            }
        }
    }
    json_decref(s);
    close_repo(&p);
    rg_error_clear();
    int64_t next_full =
                svc.full_at_min >= 0 ? rg__backup_next_daily(rg_now(), svc.full_at_min) : INT64_MAX,
            next_incr = rg_now() + 3600, retry_at = 0;
    pthread_mutex_lock(&svc.mu);
    while (!svc.stop) {
        pthread_mutex_unlock(&svc.mu);
        archiver_metrics(&c);
        int64_t now = rg_now();
        if ((need_full && now >= retry_at) || now >= next_full) {
            if (scheduled(true)) {
                need_full = false;
                next_incr = now + 3600;
                if (now >= next_full)
                    next_full = rg__backup_next_daily(now, svc.full_at_min);
            } else {
                retry_at = now + 60;
                if (now >= next_full)
                    next_full = now + 60;
            }
        } else if (now >= next_incr) {
            next_incr = now + (scheduled(false) ? 3600 : 60);
        }
        pthread_mutex_lock(&svc.mu);
        if (svc.stop)
            break;
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 10;
        pthread_cond_timedwait(&svc.wake, &svc.mu, &until);
    }
    pthread_mutex_unlock(&svc.mu);
    PQfinish(c);
    return NULL;
}

int rg__pg_backup_service_start(const rg_config *cfg)
{
    pgb p = {0};
    int rc = key_ok(cfg);
    if (rc == 0)
        rc = repo_path(cfg, &p);
    if (rc == 0)
        rc = find_pgbackrest(&p);
    if (rc == 0)
        rc = rg__backup_full_at(cfg->backup_full_at, &svc.full_at_min);
    if (rc < 0)
        return rc;
    rg_metrics_describe("rg_backup_last_success_timestamp_seconds", "gauge",
                        "When the newest complete full backup in the repository was taken.");
    rg_metrics_describe("rg_backup_failures_total", "counter",
                        "Scheduled backups the service began and could not complete.");
    rg_metrics_describe("rg_backup_wal_archived_until_seconds", "gauge",
                        "Every change committed before this time is archived.");
    rg_metrics_describe("rg_backup_wal_archive_failures_total", "counter",
                        "WAL segments PostgreSQL failed to archive (pg_stat_archiver).");
    svc.cfg = cfg;
    svc.stop = false;
    svc.failed_seen = 0;
    PGconn *c = connect_url(cfg->relational_url);
    char *f =
        PQstatus(c) == CONNECTION_OK ? one(c, "SELECT failed_count FROM pg_stat_archiver") : NULL;
    svc.failed_seen = f ? atoll(f) : 0;
    free(f);
    PQfinish(c);
    if (pthread_create(&svc.thread, NULL, service_main, NULL) != 0)
        return rg_error_set(RG_EUNAVAIL, "cannot start the backup thread");
    svc.running = true;
    rg_info("backup: pgBackRest into %s/pgbackrest; full backups %s%s, incremental hourly, WAL "
            "archived by PostgreSQL",
            p.repo, svc.full_at_min >= 0 ? "daily at " : "only on demand",
            svc.full_at_min >= 0 ? cfg->backup_full_at : "");
    return 0;
}

void rg__pg_backup_service_stop(void)
{
    if (!svc.running)
        return;
    pthread_mutex_lock(&svc.mu);
    svc.stop = true;
    pthread_cond_signal(&svc.wake);
    pthread_mutex_unlock(&svc.mu);
    pthread_join(svc.thread, NULL);
    svc.running = false;
}
