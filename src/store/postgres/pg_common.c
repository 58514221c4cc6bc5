#include "pg_common.h"
#include "risinggen/base/error.h"
#include "risinggen/base/alloc.h"
#include "risinggen/base/log.h"
#include "risinggen/base/clock.h"
#include "risinggen/store/prepared.h"

#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The first line of a libpq message, for the log. */
static const char *first_line(const char *msg, char *buf, size_t cap)
{
    snprintf(buf, cap, "%.*s", (int)strcspn(msg ? msg : "", "\n"), msg ? msg : "");
    return buf;
}

/* Closes the libpq connection; the struct stays with its borrower until it
 * comes back to the pool, which then closes it. */
static void conn_lose(struct rg__pg_conn *c)
{
    if (c->conn) {
        PQfinish(c->conn);
        c->conn = NULL;
    }
    c->in_tx = false;
}

static void conn_close(void *ctx, void *p)
{
    (void)ctx;
    struct rg__pg_conn *c = p;
    conn_lose(c);
    for (int i = 0; i < c->nprepared; i++)
        free(c->prepared[i]);
    free(c->prepared);
    free(c);
}

/* Server notices ("relation … already exists, skipping") go to the log at
 * debug level; libpq's default would print them to stderr, outside the
 * structured log. */
static void on_notice(void *arg, const char *message)
{
    (void)arg;
    char line[256];
    rg_log(RG_LOG_DEBUG, "postgresql: %s", first_line(message, line, sizeof line));
}

/* Opens a connection with a bounded connect time, UTC times, a bounded
 * statement time and UTF-8 text whatever the database's encoding or
 * PGCLIENTENCODING say (every string in the program is UTF-8), and no JIT
 * compilation: PostgreSQL compiles a statement's expressions at every
 * execution whose estimated cost passes jit_above_cost, and the estimates
 * of the service's generic plans pass it on large tables (discovery's walk
 * at 1,000,000 events: 15 ms of compiling for a statement that runs in
 * 1 ms). */
static PGconn *connect_url(const char *url)
{
    const char *keys[] = {"dbname",          "connect_timeout", "application_name",
                          "client_encoding", "options",         NULL};
    const char *vals[] = {url,
                          "3",
                          "risinggen",
                          "UTF8",
                          "-c TimeZone=UTC -c DateStyle=ISO -c statement_timeout=15000 -c jit=off",
                          NULL};
    PGconn *conn = PQconnectdbParams(keys, vals, 1);
    if (conn && PQstatus(conn) == CONNECTION_OK) {
        PQsetNoticeProcessor(conn, on_notice, NULL);
        return conn;
    }
    char line[256];
    rg_warn("postgresql connect: %s",
            conn ? first_line(PQerrorMessage(conn), line, sizeof line) : "out of memory");
    PQfinish(conn);
    return NULL;
}

static int conn_open(void *ctx, void **out)
{
    struct rg__pg_pool *pool = ctx;
    if (rg_now_ms() < atomic_load(&pool->down_until_ms))
        return rg_error_set(RG_EUNAVAIL, "the database is not reachable; try again");
    PGconn *conn = connect_url(pool->url);
    if (!conn) {
        atomic_store(&pool->down_until_ms, rg_now_ms() + 1000);
        return rg_error_set(RG_EUNAVAIL, "the database is not reachable; try again");
    }
    struct rg__pg_conn *c = rg_xcalloc(1, pool->conn_size);
    c->conn = conn;
    c->pool = pool;
    *out = c;
    return 0;
}

static bool conn_usable(void *ctx, void *p);

static const rg_pool_methods pg_pool_methods = {
    .open = conn_open, .close = conn_close, .usable = conn_usable};

int rg__pg_pool_open(struct rg__pg_pool *pool, const char *url, const rg_store_options *opts,
                     const char *labels, size_t conn_size, bool probe)
{
    memset(pool, 0, sizeof *pool);
    if (!url || (strncmp(url, "postgresql://", 13) != 0 && strncmp(url, "postgres://", 11) != 0))
        return rg_error_set(RG_EINVAL, "not a postgresql:// URL");
    if (probe) {
        PGconn *c = connect_url(url);
        if (!c)
            return rg_error_set(RG_EUNAVAIL, "the PostgreSQL server cannot be reached");
        PQfinish(c);
    }
    pool->url = rg_xstrdup(url);
    pool->conn_size =
        conn_size > sizeof(struct rg__pg_conn) ? conn_size : sizeof(struct rg__pg_conn);
    int size = opts && opts->pool_size > 0 ? opts->pool_size : RG_POOL_SIZE_DEFAULT;
    int wait = opts ? opts->pool_wait_ms : RG_POOL_WAIT_MS_DEFAULT;
    pool->conns = rg_pool_new(labels, size, wait, &pg_pool_methods, pool);
    return 0;
}

void rg__pg_pool_close(struct rg__pg_pool *pool)
{
    if (!pool->url)
        return;
    rg_pool_free(pool->conns);
    pool->conns = NULL;
    free(pool->url);
    pool->url = NULL;
}

/* True when the server has closed an idle connection (a restart, an
 * administrator): its socket is readable before anything was asked. Checked
 * before each use so that the first request after a restart does not fail. */
static bool closed_by_server(PGconn *conn)
{
    if (PQtransactionStatus(conn) != PQTRANS_IDLE)
        return false;
    struct pollfd pfd = {.fd = PQsocket(conn), .events = POLLIN};
    if (pfd.fd < 0)
        return true;
    /* The service never LISTENs, so anything that arrives on an idle
     * connection is the server saying goodbye (its termination message may
     * come before the end of the stream): open a new one. */
    return poll(&pfd, 1, 0) > 0;
}

static bool conn_usable(void *ctx, void *p)
{
    (void)ctx;
    struct rg__pg_conn *c = p;
    return c->conn && PQstatus(c->conn) == CONNECTION_OK && !closed_by_server(c->conn);
}

int rg__pg_get(struct rg__pg_pool *pool, struct rg__pg_conn **out)
{
    void *c;
    int rc = rg_pool_get(pool->conns, &c);
    *out = rc == 0 ? c : NULL;
    return rc;
}

void rg__pg_put(struct rg__pg_conn *c)
{
    if (!c)
        return;
    if (c->conn && (c->in_tx || PQtransactionStatus(c->conn) != PQTRANS_IDLE)) {
        PGresult *r = PQexec(c->conn, "ROLLBACK");
        PQclear(r);
        c->in_tx = false;
    }
    bool broken = !c->conn || PQstatus(c->conn) != CONNECTION_OK ||
                  PQtransactionStatus(c->conn) != PQTRANS_IDLE;
    rg_pool_put(c->pool->conns, c, broken);
}

int rg__pg_error(struct rg__pg_conn *c, PGresult *res, const char *what)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    char buf[512];
    const char *msg = first_line(res       ? PQresultErrorMessage(res)
                                 : c->conn ? PQerrorMessage(c->conn)
                                           : "",
                                 buf, sizeof buf);
    if (!state || c->conn == NULL || PQstatus(c->conn) != CONNECTION_OK) {
        rg_warn("postgresql %s: connection lost: %s", what, msg);
        conn_lose(c);
        return rg_error_set(RG_EUNAVAIL, "the database is not reachable; try again");
    }
    if (strcmp(state, "23505") == 0)
        return rg_error_set(RG_ECONFLICT, "a record with the same key already exists");
    if (strncmp(state, "23", 2) == 0) {
        rg_warn("postgresql %s: %s", what, msg);
        return rg_error_set(RG_EUNPROCESSABLE, "the change breaks a data rule");
    }
    if (strncmp(state, "22", 2) == 0) { /* data exception: a value out of range */
        rg_warn("postgresql %s: %s", what, msg);
        return rg_error_set(RG_EINVAL, "a value is out of range");
    }
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 || strcmp(state, "57014") == 0 ||
        strcmp(state, "55P03") == 0 || /* lock_timeout */
        strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0 ||
        strncmp(state, "53", 2) == 0) {
        rg_warn("postgresql %s: %s (%s)", what, msg, state);
        return rg_error_set(RG_EUNAVAIL, "the database is busy; try again");
    }
    rg_err("postgresql %s: %s (%s)", what, msg, state);
    return rg_error_set(RG_EINTERNAL, "internal error");
}

static bool is_prepared(struct rg__pg_conn *c, const char *name)
{
    for (int i = 0; i < c->nprepared; i++)
        if (strcmp(c->prepared[i], name) == 0)
            return true;
    return false;
}

static int result_rc(struct rg__pg_conn *c, PGresult *res, const char *what, PGresult **out)
{
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        int rc = rg__pg_error(c, res, what);
        PQclear(res);
        return rc;
    }
    const char *tuples = PQcmdTuples(res);
    int n = tuples && *tuples ? atoi(tuples) : PQntuples(res);
    if (out)
        *out = res;
    else
        PQclear(res);
    return n;
}

int rg__pg_exec(struct rg__pg_conn *c, const char *name, const char *sql, int n,
                const char *const *values, PGresult **out)
{
    if (out)
        *out = NULL;
    if (!c->conn)
        return rg_error_set(RG_EUNAVAIL, "the database is not reachable; try again");
    if (!name)
        return result_rc(c, PQexecParams(c->conn, sql, n, NULL, values, NULL, NULL, 0), "query",
                         out);
    if (!is_prepared(c, name)) {
        PGresult *p = PQprepare(c->conn, name, sql, 0, NULL);
        int rc = result_rc(c, p, name, NULL);
        if (rc < 0)
            return rc;
        if (c->nprepared == c->cap) {
            c->cap = c->cap ? c->cap * 2 : 32;
            c->prepared = rg_xrealloc(c->prepared, sizeof *c->prepared * (size_t)c->cap);
        }
        c->prepared[c->nprepared++] = rg_xstrdup(name);
    }
    return result_rc(c, PQexecPrepared(c->conn, name, n, values, NULL, NULL, 0), name, out);
}

int rg__pg_command(struct rg__pg_conn *c, const char *sql)
{
    if (!c->conn)
        return rg_error_set(RG_EUNAVAIL, "the database is not reachable; try again");
    int rc = result_rc(c, PQexec(c->conn, sql), "command", NULL);
    return rc < 0 ? rc : 0;
}

int rg__pg_ping(struct rg__pg_pool *pool)
{
    struct rg__pg_conn *c;
    int rc = rg__pg_get(pool, &c);
    if (rc < 0)
        return rc;
    rc = rg__pg_command(c, "SELECT 1");
    rg__pg_put(c);
    return rc;
}

/* "PREPARE TRANSACTION '<gid>@<database>'" and the like: the literal
 * quoted by libpq, malloc'd, or NULL when the connection is gone. */
static char *gid_command(struct rg__pg_conn *c, const char *verb, const char *gid)
{
    char full[RG_GID_MAX + 80];
    snprintf(full, sizeof full, "%s@%s", gid, PQdb(c->conn));
    char *lit = PQescapeLiteral(c->conn, full, strlen(full));
    if (!lit)
        return NULL;
    size_t n = strlen(verb) + strlen(lit) + 2;
    char *sql = rg_xmalloc(n);
    snprintf(sql, n, "%s %s", verb, lit);
    PQfreemem(lit);
    return sql;
}

int rg__pg_prepare(struct rg__pg_conn *c, const char *gid)
{
    if (!c->conn) {
        c->in_tx = false;
        return rg_error_set(RG_EUNAVAIL, "the database is not reachable; try again");
    }
    char *sql = gid_command(c, "PREPARE TRANSACTION", gid);
    int rc = sql ? rg__pg_command(c, sql) : rg__pg_error(c, NULL, "prepare");
    if (rc < 0 && c->conn && PQtransactionStatus(c->conn) != PQTRANS_IDLE)
        (void)rg__pg_command(c, "ROLLBACK");
    c->in_tx = false;
    free(sql);
    return rc;
}

int rg__pg_finish_prepared(struct rg__pg_conn *c, const char *gid, bool commit)
{
    if (!c->conn)
        return rg_error_set(RG_EUNAVAIL, "the database is not reachable; try again");
    char *sql = gid_command(c, commit ? "COMMIT PREPARED" : "ROLLBACK PREPARED", gid);
    if (!sql)
        return rg__pg_error(c, NULL, "finish prepared");
    PGresult *res = PQexec(c->conn, sql);
    free(sql);
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (state && strcmp(state, "42704") == 0) { /* no such prepared transaction */
        PQclear(res);
        return rg_error_set(RG_ENOTFOUND, "no such prepared transaction");
    }
    int rc = result_rc(c, res, "finish prepared", NULL);
    return rc < 0 ? rc : 0;
}

int rg__pg_prepared_list(struct rg__pg_conn *c, const char *prefix,
                         int (*each)(void *arg, const char *gid), void *arg)
{
    PGresult *res;
    int rc = rg__pg_exec(c, NULL,
                         "SELECT gid FROM pg_prepared_xacts WHERE database = current_database() "
                         "ORDER BY prepared",
                         0, NULL, &res);
    if (rc < 0)
        return rc;
    const char *db = PQdb(c->conn);
    size_t np = strlen(prefix), nd = strlen(db);
    rc = 0;
    for (int i = 0; i < PQntuples(res) && rc >= 0; i++) {
        const char *full = PQgetvalue(res, i, 0);
        size_t n = strlen(full);
        /* Ours: "<prefix>…@<database>", with a gid that fits. */
        if (n <= nd + 1 || n - nd - 1 > RG_GID_MAX || strncmp(full, prefix, np) != 0 ||
            full[n - nd - 1] != '@' || strcmp(full + n - nd, db) != 0)
            continue;
        char gid[RG_GID_MAX + 1];
        memcpy(gid, full, n - nd - 1);
        gid[n - nd - 1] = '\0';
        rc = each(arg, gid);
    }
    PQclear(res);
    return rc < 0 ? rc : 0;
}

int rg__pg_prepared_ready(struct rg__pg_pool *pool)
{
    struct rg__pg_conn *c;
    int rc = rg__pg_get(pool, &c);
    if (rc < 0)
        return rc;
    PGresult *res;
    if ((rc = rg__pg_exec(c, NULL, "SELECT current_setting('max_prepared_transactions')::int > 0",
                          0, NULL, &res)) >= 0) {
        rc = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
        PQclear(res);
    }
    rg__pg_put(c);
    return rc;
}
