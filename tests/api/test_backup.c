/* `risinggen backup` on the embedded profile: a full backup taken while
 * the service runs restores exactly what the stores held when it was
 * taken (every row of every table compared), and `verify` finds a wrong
 * key, a flipped byte and a missing file. With a repository set, the
 * service captures every change: a restore to a moment between two writes
 * and to the latest state (after rows deleted by mistake) gives exactly
 * what the stores held then.
 *
 * On the server profile the same, through pgBackRest on the private
 * PostgreSQL of the run: full and incremental backups while the service
 * writes, PostgreSQL's WAL archived into the repository, restores to a
 * moment and to the latest state started as clusters of their own and
 * compared table by table, verify's findings, a killed backup. */
#include "support.h"

#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#ifdef RG_WITH_POSTGRES
#include <libpq-fe.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define KEY       "8f2c6a1e4b7d9035c1e2f3a4b5c6d7e8f0112233445566778899aabbccddeeff"
#define OTHER_KEY "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static char out[16384];

/* Every table but the outbox, whose job marks notifications sent while the
 * test runs, so the tables' state at a moment is known. */
#define REL_TABLES                                                                                 \
    ",venues,events,event_registrations,payments,payment_refunds,idempotency_keys,"                \
    "webhook_events,audit_log,erasures,reset_requests,schema_migrations,"
#define DOC_TABLES                                                                                 \
    ",doc_users,doc_auth,doc_sessions,doc_channels,doc_messages,doc_resources,doc_feedback,"

static int backup(const char *a, const char *b, const char *c, const char *d)
{
    memset(out, 0, sizeof out);
    return srv_cli(&g_srv, out, sizeof out, "backup", a, b, c, d, NULL);
}

/* Every row of the tables named in only (comma-separated) of the SQLite
 * file at path, as text, tables by name and rows by their first column
 * (malloc'd). The tables are those no background job of the service
 * writes, so that what the stores held at the backup is known. */
static char *dump(const char *path, const char *only)
{
    sqlite3 *db;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        fail_msg("cannot open %s", path);
    size_t cap = 1 << 16, len = 0;
    char *text = malloc(cap);
    text[0] = '\0';
    sqlite3_stmt *tables;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT name FROM sqlite_master WHERE type = 'table' "
                                        "AND name NOT LIKE 'sqlite_%' ORDER BY name",
                                        -1, &tables, NULL),
                     SQLITE_OK);
    while (sqlite3_step(tables) == SQLITE_ROW) {
        char sql[300];
        const char *name = (const char *)sqlite3_column_text(tables, 0);
        char want[300];
        snprintf(want, sizeof want, ",%s,", name);
        if (!strstr(only, want))
            continue;
        snprintf(sql, sizeof sql, "SELECT * FROM \"%s\" ORDER BY 1", name);
        sqlite3_stmt *rows;
        assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &rows, NULL), SQLITE_OK);
        len += (size_t)snprintf(text + len, cap - len, "[%s]\n", name);
        while (sqlite3_step(rows) == SQLITE_ROW) {
            for (int i = 0; i < sqlite3_column_count(rows); i++) {
                const char *v = (const char *)sqlite3_column_text(rows, i);
                size_t need = len + (v ? strlen(v) : 4) + 8;
                while (need >= cap)
                    text = realloc(text, cap *= 2);
                len += (size_t)snprintf(text + len, cap - len, "%s|", v ? v : "NULL");
            }
            text[len++] = '\n';
            text[len] = '\0';
        }
        sqlite3_finalize(rows);
    }
    sqlite3_finalize(tables);
    sqlite3_close(db);
    return text;
}

static char *store_path(const char *dir, const char *store)
{
    static char buf[2][800];
    static int k;
    char *b = buf[k++ % 2];
    snprintf(b, sizeof buf[0], "%s/%s.db", dir, store);
    return b;
}

/* The last lines of the server's log hold the command's message. */
static bool log_says(const char *what)
{
    FILE *f = fopen(g_srv.log, "r");
    if (!f)
        return false;
    static char text[1 << 20];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    return strstr(text, what) != NULL;
}

static void backup_restores_what_the_stores_held(void **state)
{
    (void)state;
    char repo[700], into[700], busy[700];
    snprintf(repo, sizeof repo, "%s/repo", g_srv.dir);
    snprintf(into, sizeof into, "%s/restored", g_srv.dir);
    snprintf(busy, sizeof busy, "%s/busy", g_srv.dir);
    setenv("RG_BACKUP_REPO", repo, 1);
    setenv("RG_BACKUP_KEY", KEY, 1);
    if (g_srv.relational_url[0])
        return; /* pgbackrest_backups_and_point_in_time */
    /* Known data: a person, an organizer's event with a registration. */
    api_user a, org;
    user_signup(&a, "backup-a");
    user_signup(&org, "backup-org");
    make_organizer(&org);
    api_resp *ev = api("POST", "/v1/events",
                       "{\"title\":\"Backed up\",\"slug\":\"backed-up\",\"startDate\":"
                       "\"2031-06-01T09:00:00Z\",\"endDate\":\"2031-06-02T17:00:00Z\","
                       "\"type\":\"camp\",\"maxParticipants\":10}",
                       org.access);
    assert_status(ev, 201);
    resp_free(ev);
    char *rel_then = dump(store_path(g_srv.dir, "relational"), REL_TABLES);
    char *doc_then = dump(store_path(g_srv.dir, "documents"), DOC_TABLES);
    assert_non_null(strstr(rel_then, "backed-up"));
    assert_non_null(strstr(doc_then, "backup-a"));

    if (backup("create", NULL, NULL, NULL) != 0)
        fail_msg("backup create: %s", out);
    assert_non_null(strstr(out, "complete"));
    /* Written after the backup: not in it. */
    api_user b;
    user_signup(&b, "backup-b");

    assert_int_equal(backup("list", NULL, NULL, NULL), 0);
    assert_non_null(strstr(out, "2 files"));
    if (backup("verify", NULL, NULL, NULL) != 0)
        fail_msg("backup verify: %s", out);
    if (backup("restore", "--into", into, NULL) != 0)
        fail_msg("backup restore: %s", out);
    char *rel_back = dump(store_path(into, "relational"), REL_TABLES);
    char *doc_back = dump(store_path(into, "documents"), DOC_TABLES);
    assert_string_equal(rel_back, rel_then);
    assert_string_equal(doc_back, doc_then);
    char *doc_now = dump(store_path(g_srv.dir, "documents"), DOC_TABLES);
    assert_true(strcmp(doc_now, doc_then) != 0); /* b came after */
    free(doc_now);

    /* Never over data. */
    assert_int_equal(mkdir(busy, 0700), 0);
    FILE *f = fopen(store_path(busy, "relational"), "w");
    fputs("live", f);
    fclose(f);
    assert_int_equal(backup("restore", "--into", busy, NULL), 1);
    assert_true(log_says("is not empty"));

    /* A wrong key, a flipped byte, a missing file: verify says which. */
    char id[64] = "", enc[1200];
    assert_int_equal(backup("list", NULL, NULL, NULL), 0);
    sscanf(out, "%63s", id);
    setenv("RG_BACKUP_KEY", OTHER_KEY, 1);
    assert_int_equal(backup("verify", NULL, NULL, NULL), 1);
    assert_true(log_says("the key does not open its manifest"));
    setenv("RG_BACKUP_KEY", KEY, 1);
    snprintf(enc, sizeof enc, "%s/full/%s/relational.db.enc", repo, id);
    FILE *e = fopen(enc, "r+b");
    assert_non_null(e);
    fseek(e, 100, SEEK_SET);
    int c = fgetc(e);
    fseek(e, 100, SEEK_SET);
    fputc(c ^ 0x20, e);
    fclose(e);
    assert_int_equal(backup("verify", id, NULL, NULL), 1);
    assert_true(log_says("relational.db.enc does not match its checksum"));
    e = fopen(enc, "r+b");
    fseek(e, 100, SEEK_SET);
    fputc(c, e);
    fclose(e);
    assert_int_equal(backup("verify", id, NULL, NULL), 0);
    snprintf(enc, sizeof enc, "%s/full/%s/documents.db.enc", repo, id);
    char moved[1300];
    snprintf(moved, sizeof moved, "%s.away", enc);
    assert_int_equal(rename(enc, moved), 0);
    assert_int_equal(backup("verify", id, NULL, NULL), 1);
    assert_true(log_says("the file documents.db.enc is missing"));
    assert_int_equal(rename(moved, enc), 0);

    /* Backups killed at arbitrary moments (SIGKILL to the command, after
     * 0 to 40 ms) leave the repository usable: the next backup completes
     * and verifies. What a killed one leaves is not a backup, and prune
     * clears it. */
    for (int k = 0; k < 6; k++) {
        pid_t pid = fork();
        if (pid == 0) {
            setpgid(0, 0);
            char o[4096];
            _exit(srv_cli(&g_srv, o, sizeof o, "backup", "create", NULL));
        }
        setpgid(pid, pid);
        struct timespec at = {0, (long)(k * 8) * 1000 * 1000}; /* the moment of the kill */
        nanosleep(&at, NULL);
        kill(-pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    assert_int_equal(backup("verify", NULL, NULL, NULL), 0);
    char left[1200];
    snprintf(left, sizeof left, "%s/full/.tmp-20260101T000000Z-1", repo);
    assert_int_equal(mkdir(left, 0700), 0);
    assert_int_equal(backup("create", NULL, NULL, NULL), 0);
    assert_int_equal(backup("list", NULL, NULL, NULL), 0);
    assert_null(strstr(out, ".tmp-"));
    /* The monthly check: a scratch restore, gone afterwards. */
    if (backup("verify", "--restore", NULL, NULL) != 0)
        fail_msg("backup verify --restore: %s", out);
    assert_non_null(strstr(out, "the restore into a scratch folder passed its checks"));
    assert_int_equal(backup("prune", NULL, NULL, NULL), 0);
    assert_non_null(strstr(out, "removed the unfinished .tmp-20260101T000000Z-1"));
    assert_null(strstr(out, ".verify-"));        /* none was left */
    assert_non_null(strstr(out, "0 removed, ")); /* every complete one is minutes old */
    assert_int_equal(backup("verify", NULL, NULL, NULL), 0);

    free(rel_then);
    free(doc_then);
    free(rel_back);
    free(doc_back);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The value of a series of /metrics (-1 when absent). */
static double metric(const char *series)
{
    api_resp *r = api("GET", "/metrics", NULL, NULL);
    assert_status(r, 200);
    double v = -1;
    const char *at = strstr(r->body, series);
    if (at)
        v = strtod(at + strlen(series), NULL);
    resp_free(r);
    return v;
}

/* Waits (60 s at most) until the service has archived every change of both
 * stores committed before t_ms. */
static void wait_archived(int64_t t_ms)
{
    for (int64_t until = now_ms() + 60000; now_ms() < until;) {
        if (metric("rg_backup_wal_archived_until_seconds{store=\"relational\"} ") * 1000 >
                (double)t_ms &&
            metric("rg_backup_wal_archived_until_seconds{store=\"documents\"} ") * 1000 >
                (double)t_ms)
            return;
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    srv_dump_log(&g_srv);
    fail_msg("the service did not archive its changes within 60 s");
}

static void format_ms(int64_t ms, char text[40])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char sec[32];
    strftime(sec, sizeof sec, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(text, 40, "%s.%03dZ", sec, (int)(ms % 1000));
}

/* A change made behind the service's back, as an operator with the sqlite3
 * shell would make it (and, like the service, without checkpointing). */
static void delete_by_mistake(const char *path, const char *sql)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    sqlite3_wal_autocheckpoint(db, 0);
    sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *)NULL);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    assert_true(sqlite3_changes(db) > 0);
    sqlite3_close(db);
}

static void restore_to_a_moment_and_to_the_latest(void **state)
{
    (void)state;
    if (g_srv.relational_url[0])
        return; /* pgbackrest_backups_and_point_in_time */
    char repo[600], then[600], latest[600], early[600], at[40], before[40];
    snprintf(repo, sizeof repo, "%s/capture", g_srv.dir);
    snprintf(then, sizeof then, "%s/at-T", g_srv.dir);
    snprintf(latest, sizeof latest, "%s/latest", g_srv.dir);
    snprintf(early, sizeof early, "%s/early", g_srv.dir);
    setenv("RG_BACKUP_REPO", repo, 1);
    setenv("RG_BACKUP_KEY", KEY, 1);
    setenv("RG_BACKUP_ARCHIVE_MS", "100", 1);
    format_ms(now_ms() - 1000, before);
    /* The service with a repository: it takes a full backup at start (no
     * capture runs yet) and archives every change from there on. */
    assert_int_equal(srv_stop(&g_srv), 0);
    assert_int_equal(srv_start(&g_srv, g_srv.dir), 0);

    api_user c, org;
    user_signup(&c, "pitr-c");
    organizer_signup(&org, "pitr-org");
    long long ev = event_create_published(org.access, NULL);
    long long kept = register_ok(c.access, ev, "confirmed");
    wait_archived(now_ms());
    int64_t t = now_ms();
    format_ms(t, at);
    char *rel_then = dump(store_path(g_srv.dir, "relational"), REL_TABLES);
    char *doc_then = dump(store_path(g_srv.dir, "documents"), DOC_TABLES);
    assert_non_null(strstr(doc_then, "pitr-c"));

    /* After T: more writes, then every registration deleted by mistake. */
    api_user d;
    user_signup(&d, "pitr-d");
    long long ev2 = event_create_published(org.access, NULL);
    register_ok(d.access, ev2, "confirmed");
    register_ok(d.access, ev, "confirmed");
    delete_by_mistake(store_path(g_srv.dir, "relational"), "DELETE FROM event_registrations");
    wait_archived(now_ms());
    char *rel_latest = dump(store_path(g_srv.dir, "relational"), REL_TABLES);
    char *doc_latest = dump(store_path(g_srv.dir, "documents"), DOC_TABLES);
    assert_true(strcmp(rel_latest, rel_then) != 0);
    assert_non_null(strstr(doc_latest, "pitr-d"));

    if (srv_cli(&g_srv, out, sizeof out, "backup", "restore", "--to", at, "--into", then, NULL) !=
        0)
        fail_msg("backup restore --to %s: %s", at, out);
    char *rel_back = dump(store_path(then, "relational"), REL_TABLES);
    char *doc_back = dump(store_path(then, "documents"), DOC_TABLES);
    assert_string_equal(rel_back, rel_then);
    assert_string_equal(doc_back, doc_then);
    char line[64];
    snprintf(line, sizeof line, "|%lld|", kept);
    assert_non_null(strstr(rel_back, line)); /* the registration the mistake deleted */
    free(rel_back);
    free(doc_back);

    if (backup("restore", "--into", latest, NULL) != 0)
        fail_msg("backup restore: %s", out);
    rel_back = dump(store_path(latest, "relational"), REL_TABLES);
    doc_back = dump(store_path(latest, "documents"), DOC_TABLES);
    assert_string_equal(rel_back, rel_latest);
    assert_string_equal(doc_back, doc_latest);
    free(rel_back);
    free(doc_back);

    /* The restored folder serves: its search index rebuilt, check passes. */
    api_server restored = g_srv;
    snprintf(restored.dir, sizeof restored.dir, "%.500s", then);
    if (srv_cli(&restored, out, sizeof out, "reindex", NULL) != 0 ||
        srv_cli(&restored, out, sizeof out, "check", NULL) != 0)
        fail_msg("check of the restored folder: %s", out);

    /* Before the oldest backup there is nothing to restore. */
    assert_int_equal(srv_cli(&g_srv, out, sizeof out, "backup", "restore", "--to", before, "--into",
                             early, NULL),
                     1);
    assert_true(log_says("no backup was taken at or before that time"));

    /* verify reads every segment: a flipped byte and a missing one are
     * found. */
    if (backup("verify", NULL, NULL, NULL) != 0)
        fail_msg("backup verify: %s", out);
    assert_non_null(strstr(out, "segments verified"));
    char seg[1200], moved[1300];
    snprintf(seg, sizeof seg, "%s/wal/relational/000000000001.seg", repo);
    FILE *e = fopen(seg, "r+b");
    assert_non_null(e);
    fseek(e, 60, SEEK_SET);
    int ch = fgetc(e);
    fseek(e, 60, SEEK_SET);
    fputc(ch ^ 0x01, e);
    fclose(e);
    assert_int_equal(backup("verify", NULL, NULL, NULL), 1);
    assert_true(log_says("000000000001.seg does not decrypt"));
    e = fopen(seg, "r+b");
    fseek(e, 60, SEEK_SET);
    fputc(ch, e);
    fclose(e);
    snprintf(moved, sizeof moved, "%s.away", seg);
    assert_int_equal(rename(seg, moved), 0);
    assert_int_equal(backup("verify", NULL, NULL, NULL), 1);
    assert_true(log_says("segment 1 of the relational store is missing"));
    assert_int_equal(rename(moved, seg), 0);
    assert_int_equal(backup("verify", NULL, NULL, NULL), 0);

    free(rel_then);
    free(doc_then);
    free(rel_latest);
    free(doc_latest);
    unsetenv("RG_BACKUP_ARCHIVE_MS");
}

#ifdef RG_WITH_POSTGRES
static PGconn *pg_open(const char *url)
{
    PGconn *c = PQconnectdb(url);
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("cannot reach %s: %s", url, PQerrorMessage(c));
    return c;
}

static char *pg_one(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    char *v = strdup(PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    return v;
}

/* Every row of the tables named in only, from the database at url, as
 * text: tables by name, rows by their first column (as dump does). */
static char *pg_dump(const char *url, const char *only)
{
    PGconn *c = pg_open(url);
    PGresult *t = PQexec(c, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                            "ORDER BY tablename COLLATE \"C\"");
    assert_int_equal(PQresultStatus(t), PGRES_TUPLES_OK);
    size_t cap = 1 << 16, len = 0;
    char *text = malloc(cap);
    text[0] = '\0';
    for (int i = 0; i < PQntuples(t); i++) {
        char want[300], sql[300];
        snprintf(want, sizeof want, ",%s,", PQgetvalue(t, i, 0));
        if (!strstr(only, want))
            continue;
        snprintf(sql, sizeof sql, "SELECT * FROM \"%s\" ORDER BY 1", PQgetvalue(t, i, 0));
        PGresult *r = PQexec(c, sql);
        assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
        len += (size_t)snprintf(text + len, cap - len, "[%s]\n", PQgetvalue(t, i, 0));
        for (int row = 0; row < PQntuples(r); row++) {
            for (int col = 0; col < PQnfields(r); col++) {
                const char *v = PQgetisnull(r, row, col) ? "NULL" : PQgetvalue(r, row, col);
                while (len + strlen(v) + 8 >= cap)
                    text = realloc(text, cap *= 2);
                len += (size_t)snprintf(text + len, cap - len, "%s|", v);
            }
            text[len++] = '\n';
            text[len] = '\0';
        }
        PQclear(r);
    }
    PQclear(t);
    PQfinish(c);
    return text;
}

/* Closes the WAL segment that holds what was written so far and waits
 * (60 s at most) until PostgreSQL has archived it. */
static void archive_now(const char *url)
{
    PGconn *c = pg_open(url);
    char *seg = pg_one(c, "SELECT pg_walfile_name(pg_switch_wal())");
    for (int64_t until = now_ms() + 60000;;) {
        char sql[200];
        snprintf(sql, sizeof sql,
                 "SELECT coalesce(last_archived_wal, '') >= '%s' FROM pg_stat_archiver", seg);
        char *done = pg_one(c, sql);
        bool ok = strcmp(done, "t") == 0;
        free(done);
        if (ok)
            break;
        if (now_ms() > until)
            fail_msg("PostgreSQL did not archive WAL segment %s within 60 s", seg);
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    free(seg);
    PQfinish(c);
}

/* A restored data directory started as a cluster of its own; its URL for
 * the test's database once recovery has ended. */
static const char *run_restored(const char *data, int port)
{
    const char *script = getenv("RG_TEST_SERVERS_SCRIPT"), *servers = getenv("RG_TEST_SERVERS");
    char cmd[2000];
    snprintf(cmd, sizeof cmd, "%s pg-run %s %s %d", script, servers, data, port);
    if (system(cmd) != 0)
        fail_msg("the cluster restored into %s did not start (%s.log)", data, data);
    static char url[2][300];
    static int k;
    char *u = url[k++ % 2];
    snprintf(u, sizeof url[0], "postgresql://postgres@127.0.0.1:%d/%s", port,
             strrchr(g_srv.relational_url, '/') + 1);
    for (int64_t until = now_ms() + 120000;;) {
        PGconn *c = PQconnectdb(u);
        bool done = false;
        if (PQstatus(c) == CONNECTION_OK) {
            PGresult *r = PQexec(c, "SELECT pg_is_in_recovery()");
            done = PQresultStatus(r) == PGRES_TUPLES_OK && strcmp(PQgetvalue(r, 0, 0), "f") == 0;
            PQclear(r);
        }
        PQfinish(c);
        if (done)
            return u;
        if (now_ms() > until)
            fail_msg("the cluster restored into %s did not finish its recovery", data);
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static void halt_restored(const char *data)
{
    char cmd[2000];
    snprintf(cmd, sizeof cmd, "%s pg-halt %s %s", getenv("RG_TEST_SERVERS_SCRIPT"),
             getenv("RG_TEST_SERVERS"), data);
    assert_int_equal(system(cmd), 0);
}

static int port_of_free(void)
{
    for (int i = 0; i < 100; i++) {
        int p = 20000 + (int)((unsigned)rand() % 12000u);
        char cmd[100];
        snprintf(cmd, sizeof cmd, "exec 3<>/dev/tcp/127.0.0.1/%d", p);
        char sh[200];
        snprintf(sh, sizeof sh, "bash -c '%s' 2>/dev/null", cmd);
        if (system(sh) != 0)
            return p;
    }
    fail_msg("no free port");
    return -1;
}

/* Flips one bit of the file at path (again: back). */
static void flip(const char *path, long at)
{
    FILE *e = fopen(path, "r+b");
    assert_non_null(e);
    fseek(e, at, SEEK_SET);
    int c = fgetc(e);
    fseek(e, at, SEEK_SET);
    fputc(c ^ 0x01, e);
    fclose(e);
}

/* The first file under dir whose name ends with suffix (static). */
static const char *find_file(const char *dir, const char *suffix)
{
    static char found[1500];
    char cmd[1600];
    snprintf(cmd, sizeof cmd, "find %s -type f -name '*%s' | sort | head -n 1", dir, suffix);
    FILE *p = popen(cmd, "r");
    found[0] = '\0';
    if (p && fgets(found, sizeof found, p))
        found[strcspn(found, "\n")] = '\0';
    if (p)
        pclose(p);
    if (!found[0])
        fail_msg("no file *%s under %s", suffix, dir);
    return found;
}
#endif

static void pgbackrest_backups_and_point_in_time(void **state)
{
    (void)state;
    if (!g_srv.relational_url[0])
        return; /* the two tests above */
#ifndef RG_WITH_POSTGRES
    printf("SKIPPED backup/server: this build has no PostgreSQL support\n");
#else
    const char *servers = getenv("RG_TEST_SERVERS"), *script = getenv("RG_TEST_SERVERS_SCRIPT");
    if (!servers || !script) {
        printf("SKIPPED backup/server: needs the private PostgreSQL of scripts/run-tests.sh, "
               "whose data directory pgBackRest reads\n");
        return;
    }
    if (system("command -v pgbackrest >/dev/null") != 0) {
        printf("SKIPPED backup/server: pgBackRest is not installed (Debian package pgbackrest; "
               "`make test` installs it)\n");
        return;
    }
    /* The repository and the restores live beside the servers: PostgreSQL's
     * own user writes the archive and owns the restored clusters. */
    char repo[600], then[600], latest[600], early[600];
    snprintf(repo, sizeof repo, "%s/backup-repo-%d", servers, (int)getpid());
    snprintf(then, sizeof then, "%s/restored-at-T-%d", servers, (int)getpid());
    snprintf(latest, sizeof latest, "%s/restored-latest-%d", servers, (int)getpid());
    snprintf(early, sizeof early, "%s/restored-early-%d", servers, (int)getpid());
    setenv("RG_BACKUP_REPO", repo, 1);
    setenv("RG_BACKUP_KEY", KEY, 1);

    /* The service with a repository: it sets PostgreSQL's WAL archiving to
     * the repository and takes the first full backup as it starts. */
    assert_int_equal(srv_stop(&g_srv), 0);
    assert_int_equal(srv_start(&g_srv, g_srv.dir), 0);
    for (int64_t until = now_ms() + 120000;
         metric("\nrg_backup_last_success_timestamp_seconds ") <= 0;) {
        if (now_ms() > until) {
            srv_dump_log(&g_srv);
            fail_msg("the service took no full backup at start within 120 s");
        }
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    assert_true(metric("rg_backup_wal_archived_until_seconds{store=\"postgresql\"} ") >= 0);

    /* Known data, a moment T, then more writes and a mistake. */
    api_user c, org;
    user_signup(&c, "pg-pitr-c");
    organizer_signup(&org, "pg-pitr-org");
    long long ev = event_create_published(org.access, NULL);
    long long kept = register_ok(c.access, ev, "confirmed");
    if (backup("create", "--incremental", NULL, NULL) != 0)
        fail_msg("backup create --incremental: %s", out);
    assert_non_null(strstr(out, "(incremental) complete"));
    char at[40], before[40];
    int64_t t = now_ms() + 1;
    format_ms(t, at);
    struct timespec pause = {0, 20 * 1000 * 1000};
    nanosleep(&pause, NULL);
    char *rel_then = pg_dump(g_srv.relational_url, REL_TABLES);
    char *doc_then = pg_dump(g_srv.relational_url, DOC_TABLES);
    assert_non_null(strstr(doc_then, "pg-pitr-c"));

    api_user d;
    user_signup(&d, "pg-pitr-d");
    long long ev2 = event_create_published(org.access, NULL);
    register_ok(d.access, ev2, "confirmed");
    register_ok(d.access, ev, "confirmed");
    PGconn *db = pg_open(g_srv.relational_url);
    free(pg_one(db, "DELETE FROM event_registrations")); /* the mistake */
    PQfinish(db);
    char *rel_latest = pg_dump(g_srv.relational_url, REL_TABLES);
    char *doc_latest = pg_dump(g_srv.relational_url, DOC_TABLES);
    assert_true(strcmp(rel_latest, rel_then) != 0);
    assert_non_null(strstr(doc_latest, "pg-pitr-d"));
    archive_now(g_srv.relational_url);

    assert_int_equal(backup("list", NULL, NULL, NULL), 0);
    assert_non_null(strstr(out, "  full  "));
    assert_non_null(strstr(out, "  incr  "));

    /* To T: exactly what the tables held then, the deleted rows back. */
    int64_t t0 = now_ms();
    if (srv_cli(&g_srv, out, sizeof out, "backup", "restore", "--to", at, "--into", then, NULL) !=
        0)
        fail_msg("backup restore --to %s: %s", at, out);
    const char *url = run_restored(then, port_of_free());
    printf("# restore to T and recovery: %lld ms\n", (long long)(now_ms() - t0));
    char *rel_back = pg_dump(url, REL_TABLES), *doc_back = pg_dump(url, DOC_TABLES);
    assert_string_equal(rel_back, rel_then);
    assert_string_equal(doc_back, doc_then);
    assert_non_null(strstr(rel_back, fmt("\n%lld|", kept))); /* the registration deleted */
    free(rel_back);
    free(doc_back);
    /* The restored cluster serves: `risinggen check` passes on it. */
    api_server restored = g_srv;
    snprintf(restored.dir, sizeof restored.dir, "%.500s-folder", then);
    mkdir(restored.dir, 0700);
    snprintf(restored.relational_url, sizeof restored.relational_url, "%s", url);
    snprintf(restored.document_url, sizeof restored.document_url, "%s", url);
    if (srv_cli(&restored, out, sizeof out, "check", NULL) != 0)
        fail_msg("check of the restored cluster: %s", out);
    halt_restored(then);

    /* To the latest state: the mistake is there too. */
    if (backup("restore", "--into", latest, NULL) != 0)
        fail_msg("backup restore: %s", out);
    url = run_restored(latest, port_of_free());
    rel_back = pg_dump(url, REL_TABLES);
    doc_back = pg_dump(url, DOC_TABLES);
    assert_string_equal(rel_back, rel_latest);
    assert_string_equal(doc_back, doc_latest);
    free(rel_back);
    free(doc_back);
    halt_restored(latest);

    /* Never over data; never before the oldest backup. */
    assert_int_equal(backup("restore", "--into", latest, NULL), 1);
    assert_true(log_says("is not empty"));
    format_ms(now_ms() - 3600 * 1000, before);
    assert_int_equal(srv_cli(&g_srv, out, sizeof out, "backup", "restore", "--to", before, "--into",
                             early, NULL),
                     1);
    assert_true(log_says("no backup ended before that moment"));

    /* verify: a wrong key, a flipped byte, a missing file, a missing WAL
     * segment. */
    if (backup("verify", NULL, NULL, NULL) != 0)
        fail_msg("backup verify: %s", out);
    setenv("RG_BACKUP_KEY", OTHER_KEY, 1);
    assert_int_equal(backup("verify", NULL, NULL, NULL), 1);
    assert_true(log_says("does not open with this RG_BACKUP_KEY"));
    setenv("RG_BACKUP_KEY", KEY, 1);
    char dir[800], file[1500], moved[1600];
    snprintf(dir, sizeof dir, "%s/pgbackrest/backup/risinggen", repo);
    snprintf(file, sizeof file, "%s", find_file(dir, "pg_control.lz4"));
    flip(file, 40);
    assert_int_equal(backup("verify", NULL, NULL, NULL), 1);
    assert_true(log_says("checksum invalid: 1"));
    flip(file, 40);
    snprintf(moved, sizeof moved, "%s.away", file);
    assert_int_equal(rename(file, moved), 0);
    assert_int_equal(backup("verify", NULL, NULL, NULL), 1);
    assert_true(log_says("missing: 1"));
    assert_int_equal(rename(moved, file), 0);
    /* The WAL segment after the incremental backup's first one. */
    assert_int_equal(backup("verify", NULL, NULL, NULL), 0);
    snprintf(dir, sizeof dir, "%s/pgbackrest/archive/risinggen", repo);
    char cmd[2000];
    snprintf(cmd, sizeof cmd,
             "ls %s/*/*/ | grep -E '^[0-9A-F]{24}-' | sort | tail -n 2 | head -n 1", dir);
    FILE *ls = popen(cmd, "r");
    char seg[200] = "";
    assert_non_null(fgets(seg, sizeof seg, ls));
    pclose(ls);
    seg[strcspn(seg, "\n")] = '\0';
    snprintf(file, sizeof file, "%s", find_file(dir, seg));
    snprintf(moved, sizeof moved, "%s/../%s.away", repo, seg);
    assert_int_equal(rename(file, moved), 0);
    assert_int_equal(backup("verify", NULL, NULL, NULL), 1);
    assert_true(log_says("WAL segments are missing from the archive"));
    assert_int_equal(rename(moved, file), 0);

    /* A backup killed halfway (the command and pgBackRest's processes)
     * leaves the repository usable: the next one completes. */
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        char o[4096];
        _exit(srv_cli(&g_srv, o, sizeof o, "backup", "create", NULL));
    }
    setpgid(pid, pid);
    snprintf(dir, sizeof dir, "%s/pgbackrest/backup/risinggen", repo);
    snprintf(cmd, sizeof cmd, "ls -d %s/*F %s/*I 2>/dev/null | wc -l", dir, dir);
    int had = -1, now = -1;
    for (int64_t until = now_ms() + 60000; now_ms() < until;) {
        ls = popen(cmd, "r");
        int n = 0;
        if (fscanf(ls, "%d", &n) != 1)
            n = 0;
        pclose(ls);
        if (had < 0)
            had = n;
        now = n;
        int st;
        if (n > had || waitpid(pid, &st, WNOHANG) == pid)
            break;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(-pid, SIGKILL);
    waitpid(pid, NULL, 0);
    printf("# killed a backup %s\n", now > had ? "while it copied" : "(it had ended)");
    if (backup("create", NULL, NULL, NULL) != 0)
        fail_msg("backup create after a killed one: %s", out);
    if (backup("verify", NULL, NULL, NULL) != 0)
        fail_msg("backup verify after a killed backup: %s", out);

    /* The monthly check: a scratch restore started, read and checked. */
    t0 = now_ms();
    if (backup("verify", "--restore", NULL, NULL) != 0)
        fail_msg("backup verify --restore: %s", out);
    printf("# verify --restore: %lld ms\n", (long long)(now_ms() - t0));
    assert_non_null(strstr(out, "B-tree indexes pass amcheck"));
    assert_non_null(strstr(out, "passed its checks"));
    assert_int_equal(backup("prune", NULL, NULL, NULL), 0);

    /* PostgreSQL stops archiving into this repository, which goes. */
    assert_int_equal(srv_stop(&g_srv), 0);
    unsetenv("RG_BACKUP_REPO");
    db = pg_open(getenv("RG_TEST_PG_URL"));
    free(pg_one(db, "ALTER SYSTEM RESET archive_command"));
    free(pg_one(db, "ALTER SYSTEM RESET archive_timeout"));
    free(pg_one(db, "SELECT pg_reload_conf()"));
    PQfinish(db);
    assert_int_equal(srv_start(&g_srv, g_srv.dir), 0);
    free(rel_then);
    free(doc_then);
    free(rel_latest);
    free(doc_latest);
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(backup_restores_what_the_stores_held),
        cmocka_unit_test(restore_to_a_moment_and_to_the_latest),
        cmocka_unit_test(pgbackrest_backups_and_point_in_time),
    };
    return cmocka_run_group_tests(tests, api_setup, api_teardown);
}
