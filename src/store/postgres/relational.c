/* Relational port on PostgreSQL (libpq): a bounded pool of connections per
 * server (pg_common), named statements prepared once per connection,
 * transactions in READ COMMITTED (the capacity UPDATE re-checks its WHERE
 * after waiting for a row lock, so one statement both decides and reserves
 * a place).
 *
 * Read replicas (RG_RELATIONAL_REPLICA_URLS, comma-separated), each with a
 * pool of its own: connections acquired with rg_rel_acquire_read go to a
 * replica, round robin; any replica that cannot be reached sends the read
 * to the primary, and a read that fails on a replica (it lags behind a
 * migration, or went away) is run again on the primary. Values come back
 * as text; timestamptz as RFC 3339 UTC, booleans as 1/0. */
#include "pg_common.h"
#include "risinggen/base/error.h"
#include "risinggen/store/relational.h"
#include "risinggen/base/alloc.h"
#include "risinggen/base/buf.h"
#include "risinggen/base/log.h"
#include "risinggen/base/clock.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_REPLICAS    8
#define OID_BOOL        16
#define OID_TIMESTAMPTZ 1184

/* A pooled connection of the primary or of a replica. */
struct rg_rel_conn {
    struct rg__pg_conn pg;
    struct rg_rel *owner; /* set at each acquire */
};

struct rg_rel {
    struct rg__pg_pool primary;
    struct rg__pg_pool replicas[MAX_REPLICAS];
    int nreplicas;
    atomic_uint next_replica;
};

static int pg_open(rg_rel **out, const char *url, const rg_store_options *opts)
{
    struct rg_rel *r = rg_xcalloc(1, sizeof *r);
    int rc = rg__pg_pool_open(&r->primary, url, opts,
                              "store=\"relational\",adapter=\"postgresql\",server=\"primary\"",
                              sizeof(struct rg_rel_conn), true);
    if (rc < 0) {
        free(r);
        return rc;
    }
    static const char *const labels[MAX_REPLICAS] = {
        "store=\"relational\",adapter=\"postgresql\",server=\"replica1\"",
        "store=\"relational\",adapter=\"postgresql\",server=\"replica2\"",
        "store=\"relational\",adapter=\"postgresql\",server=\"replica3\"",
        "store=\"relational\",adapter=\"postgresql\",server=\"replica4\"",
        "store=\"relational\",adapter=\"postgresql\",server=\"replica5\"",
        "store=\"relational\",adapter=\"postgresql\",server=\"replica6\"",
        "store=\"relational\",adapter=\"postgresql\",server=\"replica7\"",
        "store=\"relational\",adapter=\"postgresql\",server=\"replica8\"",
    };
    const char *list = opts ? opts->replica_urls : NULL;
    while (list && *list && r->nreplicas < MAX_REPLICAS) {
        size_t n = strcspn(list, ",");
        char *one = rg_xstrndup(list, n);
        /* A replica that is down (or behind) now is tried again later. */
        if (n && rg__pg_pool_open(&r->replicas[r->nreplicas], one, opts, labels[r->nreplicas],
                                  sizeof(struct rg_rel_conn), false) == 0)
            r->nreplicas++;
        else if (n)
            rg_warn("read replica %d is not a postgresql:// URL; ignored", r->nreplicas + 1);
        free(one);
        list += n + (list[n] == ',');
    }
    rg_error_clear();
    *out = r;
    return 0;
}

static void pg_close(rg_rel *r)
{
    if (!r)
        return;
    rg__pg_pool_close(&r->primary);
    for (int i = 0; i < r->nreplicas; i++)
        rg__pg_pool_close(&r->replicas[i]);
    free(r);
}

static int pg_acquire(rg_rel *r, rg_rel_conn **out)
{
    struct rg__pg_conn *c;
    int rc = rg__pg_get(&r->primary, &c);
    *out = rc == 0 ? (struct rg_rel_conn *)c : NULL;
    if (rc == 0)
        (*out)->owner = r;
    return rc;
}

static int pg_acquire_read(rg_rel *r, rg_rel_conn **out)
{
    if (r->nreplicas == 0)
        return pg_acquire(r, out);
    unsigned start = atomic_fetch_add(&r->next_replica, 1);
    for (int k = 0; k < r->nreplicas; k++) {
        int i = (int)((start + (unsigned)k) % (unsigned)r->nreplicas);
        struct rg__pg_conn *c;
        if (rg__pg_get(&r->replicas[i], &c) == 0) {
            *out = (struct rg_rel_conn *)c;
            (*out)->owner = r;
            return 0;
        }
    }
    rg_error_clear();
    return pg_acquire(r, out);
}

static void pg_release(rg_rel *r, rg_rel_conn *c)
{
    (void)r;
    rg__pg_put(&c->pg);
}

static int pg_begin(rg_rel_conn *c, bool write)
{
    (void)write; /* row locks taken by the statements themselves */
    int rc = rg__pg_command(&c->pg, "BEGIN");
    if (rc == 0)
        c->pg.in_tx = true;
    return rc;
}

static int pg_commit(rg_rel_conn *c)
{
    int rc = rg__pg_command(&c->pg, "COMMIT");
    c->pg.in_tx = false;
    return rc;
}

static int pg_rollback(rg_rel_conn *c)
{
    if (!c->pg.conn || !c->pg.in_tx)
        return 0;
    int rc = rg__pg_command(&c->pg, "ROLLBACK");
    c->pg.in_tx = false;
    return rc;
}

/* "2026-06-01 12:00:00.123+00" → "2026-06-01T12:00:00Z" (the session runs in UTC). */
static size_t put_time(rg_buf *b, const char *v)
{
    size_t n = strlen(v);
    if (n < 19 || v[10] != ' ') {
        rg_buf_put(b, v, n + 1);
        return n;
    }
    char t[RG_TIME_LEN + 1];
    memcpy(t, v, 19);
    t[10] = 'T';
    t[19] = 'Z';
    t[20] = '\0';
    rg_buf_put(b, t, RG_TIME_LEN + 1);
    return RG_TIME_LEN;
}

static rg_rows *to_rows(PGresult *res)
{
    int ncols = PQnfields(res), nrows = PQntuples(res);
    rg_buf text = {0};
    size_t ncells = (size_t)ncols * (size_t)nrows;
    long *offsets = rg_xcalloc(ncells ? ncells : 1, sizeof *offsets);
    size_t names_len = 0;
    for (int j = 0; j < ncols; j++)
        names_len += strlen(PQfname(res, j)) + 1;
    for (int i = 0; i < nrows; i++)
        for (int j = 0; j < ncols; j++) {
            long *o = &offsets[(size_t)i * (size_t)ncols + (size_t)j];
            if (PQgetisnull(res, i, j)) {
                *o = -1;
                continue;
            }
            *o = (long)text.len;
            const char *v = PQgetvalue(res, i, j);
            Oid type = PQftype(res, j);
            if (type == OID_BOOL)
                rg_buf_put(&text, v[0] == 't' ? "1" : "0", 2);
            else if (type == OID_TIMESTAMPTZ)
                put_time(&text, v);
            else
                rg_buf_put(&text, v, strlen(v) + 1);
        }
    size_t ptrs = (size_t)ncols * (size_t)(nrows + 1);
    rg_rows *rows = rg_xmalloc(sizeof *rows + ptrs * sizeof(char *) + names_len + text.len + 1);
    char **cellp = (char **)(rows + 1);
    char *names = (char *)(cellp + ptrs);
    char *data = names + names_len;
    if (text.len)
        memcpy(data, text.data, text.len);
    rows->ncols = ncols;
    rows->nrows = nrows;
    rows->names = cellp;
    rows->cells = cellp + ncols;
    for (int j = 0; j < ncols; j++) {
        size_t l = strlen(PQfname(res, j)) + 1;
        memcpy(names, PQfname(res, j), l);
        rows->names[j] = names;
        names += l;
    }
    for (size_t k = 0; k < ncells; k++)
        rows->cells[k] = offsets[k] < 0 ? NULL : data + offsets[k];
    rg_buf_free(&text);
    free(offsets);
    return rows;
}

static int pg_query(rg_rel_conn *c, const char *name, const rg_param *p, int n, rg_rows **out)
{
    const char *sql = rg_query_sql("postgresql", name);
    if (!sql) {
        rg_err("no postgresql query named %s", name);
        return rg_error_set(RG_EINTERNAL, "internal error");
    }
    char bufs[RG_REL_PARAMS_MAX][32];
    const char *values[RG_REL_PARAMS_MAX];
    for (int i = 0; i < n; i++) {
        switch (p[i].type) {
        case RG_P_INT:
            snprintf(bufs[i], sizeof bufs[i], "%lld", (long long)p[i].i);
            values[i] = bufs[i];
            break;
        case RG_P_REAL:
            snprintf(bufs[i], sizeof bufs[i], "%.17g", p[i].d);
            values[i] = bufs[i];
            break;
        case RG_P_TEXT:
            values[i] = p[i].s;
            break;
        default:
            values[i] = NULL;
        }
    }
    PGresult *res = NULL;
    int rc = rg__pg_exec(&c->pg, name, sql, n, values, out ? &res : NULL);
    if (rc < 0 && c->pg.pool != &c->owner->primary) {
        /* A replica that lags behind a migration, or went away: ask the
         * primary, on a connection taken and given back here. */
        rg_error_clear();
        rg_rel_conn *primary;
        if ((rc = pg_acquire(c->owner, &primary)) == 0) {
            rc = rg__pg_exec(&primary->pg, name, sql, n, values, out ? &res : NULL);
            pg_release(c->owner, primary);
        }
    }
    if (rc >= 0 && out) {
        *out = to_rows(res);
        PQclear(res);
    }
    return rc;
}

static int pg_exec_script(rg_rel_conn *c, const char *sql)
{
    return rg__pg_command(&c->pg, sql);
}

/* One value in COPY's text format: backslash, tab, newline and carriage
 * return escaped, \N for NULL (PostgreSQL's COPY reference, "Text
 * Format"). */
static void copy_value(rg_buf *b, const char *v)
{
    if (!v) {
        rg_buf_put(b, "\\N", 2);
        return;
    }
    for (;;) {
        size_t n = strcspn(v, "\\\t\n\r");
        rg_buf_put(b, v, n);
        v += n;
        if (!*v)
            return;
        char esc[2] = {'\\', *v == '\t' ? 't' : *v == '\n' ? 'n' : *v == '\r' ? 'r' : '\\'};
        rg_buf_put(b, esc, 2);
        v++;
    }
}

/* COPY … FROM STDIN in a transaction of its own, rows sent in blocks of
 * about 256 KB; libpq does the protocol. A failure, or a stop by next,
 * ends the COPY with PQputCopyEnd's error message and rolls back. */
static int pg_load(rg_rel_conn *c, const char *name, int ncols, rg_rel_row_fn next, void *arg)
{
    const char *sql = rg_query_sql("postgresql", name);
    if (!sql) {
        rg_err("no postgresql query named %s", name);
        return rg_error_set(RG_EINTERNAL, "internal error");
    }
    if (!c->pg.conn)
        return rg_error_set(RG_EUNAVAIL, "the database is not reachable; try again");
    PGconn *conn = c->pg.conn;
    /* A load of millions of rows runs for minutes: the connection's
     * statement_timeout is lifted for its transaction alone. */
    int rc = rg__pg_command(&c->pg, "BEGIN; SET LOCAL statement_timeout = 0");
    if (rc < 0)
        return rc;
    c->pg.in_tx = true;
    PGresult *res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_COPY_IN) {
        rc = rg__pg_error(&c->pg, res, name);
        PQclear(res);
        pg_rollback(c);
        return rc;
    }
    PQclear(res);
    rg_buf b = {0};
    const char *values[RG_REL_PARAMS_MAX];
    for (;;) {
        int more = next(arg, values);
        if (more < 0) {
            rc = more;
            break;
        }
        if (more > 0) {
            for (int j = 0; j < ncols; j++) {
                if (j)
                    rg_buf_put(&b, "\t", 1);
                copy_value(&b, values[j]);
            }
            rg_buf_put(&b, "\n", 1);
        }
        if (b.len >= 256 * 1024 || (!more && b.len)) {
            if (PQputCopyData(conn, b.data, (int)b.len) != 1) {
                rc = rg__pg_error(&c->pg, NULL, name);
                break;
            }
            b.len = 0;
        }
        if (!more)
            break;
    }
    rg_buf_free(&b);
    if (c->pg.conn) {
        int saved = rc;
        PQputCopyEnd(conn, rc < 0 ? "the load was stopped" : NULL);
        int got = 0;
        while ((res = PQgetResult(conn))) {
            if (!got++) {
                if (PQresultStatus(res) != PGRES_COMMAND_OK)
                    rc = saved < 0 ? saved : rg__pg_error(&c->pg, res, name);
                else if (rc == 0)
                    rc = atoi(PQcmdTuples(res));
            }
            PQclear(res);
            if (!c->pg.conn)
                break;
        }
    }
    if (rc >= 0) {
        int loaded = rc;
        rc = pg_commit(c);
        return rc < 0 ? rc : loaded;
    }
    pg_rollback(c);
    return rc;
}

/* The scans of a plan node and its children (EXPLAIN's JSON): a Seq Scan
 * reads every row; an index scan names its index; a Bitmap Index Scan
 * takes its table from the Bitmap Heap Scan above it. */
typedef struct scan_list {
    int n;
    char tbl[64][64], idx[64][64];
    bool full[64];
} scan_list;

static void walk_plan(json_t *node, const char *parent_rel, scan_list *l)
{
    const char *type = json_string_value(json_object_get(node, "Node Type"));
    const char *rel = json_string_value(json_object_get(node, "Relation Name"));
    const char *idx = json_string_value(json_object_get(node, "Index Name"));
    if (type && l->n < 64) {
        bool seq = strcmp(type, "Seq Scan") == 0;
        bool by_index =
            idx && (strcmp(type, "Index Scan") == 0 || strcmp(type, "Index Only Scan") == 0 ||
                    strcmp(type, "Bitmap Index Scan") == 0);
        const char *t = rel ? rel : parent_rel;
        if ((seq || by_index) && t) {
            snprintf(l->tbl[l->n], sizeof l->tbl[0], "%s", t);
            snprintf(l->idx[l->n], sizeof l->idx[0], "%s", by_index ? idx : "");
            l->full[l->n] = seq;
            l->n++;
        }
    }
    size_t i;
    json_t *child;
    json_array_foreach(json_object_get(node, "Plans"), i, child)
        walk_plan(child, rel ? rel : parent_rel, l);
}

/* The generic plan of the named statement (the one for any parameters):
 * prepared under plan_cache_mode = force_generic_plan and explained with
 * every parameter NULL, in a transaction rolled back. */
static int pg_explain(rg_rel_conn *c, const char *name, rg_rows **out)
{
    const char *sql = rg_query_sql("postgresql", name);
    if (!sql)
        return rg_error_set(RG_EINVAL, "no postgresql query named %s", name);
    if (!c->pg.conn)
        return rg_error_set(RG_EUNAVAIL, "the database is not reachable; try again");
    int rc = rg__pg_command(&c->pg, "BEGIN; SET LOCAL plan_cache_mode = force_generic_plan");
    if (rc < 0)
        return rc;
    c->pg.in_tx = true;
    PGconn *conn = c->pg.conn;
    PGresult *res = PQprepare(conn, "rg_explain", sql, 0, NULL);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        rc = rg__pg_error(&c->pg, res, name);
        PQclear(res);
        pg_rollback(c);
        return rc;
    }
    PQclear(res);
    res = PQdescribePrepared(conn, "rg_explain");
    int nparams = PQresultStatus(res) == PGRES_COMMAND_OK ? PQnparams(res) : 0;
    PQclear(res);
    rg_buf q = {0};
    rg_buf_puts(&q, "EXPLAIN (FORMAT JSON) EXECUTE rg_explain");
    for (int i = 0; i < nparams; i++)
        rg_buf_puts(&q, i ? ", NULL" : "(NULL");
    rg_buf_puts(&q, nparams ? ")" : "");
    res = PQexec(conn, q.data);
    rg_buf_free(&q);
    json_t *plan = NULL;
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
        rc = rg__pg_error(&c->pg, res, name);
    else
        plan = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    PQclear(res);
    pg_rollback(c);
    /* A prepared statement outlives the transaction. */
    if (c->pg.conn)
        rg__pg_command(&c->pg, "DEALLOCATE rg_explain");
    if (rc < 0)
        return rc;
    scan_list *l = rg_xcalloc(1, sizeof *l);
    walk_plan(json_object_get(json_array_get(plan, 0), "Plan"), NULL, l);
    json_decref(plan);
    const char *cells[64 * 3];
    for (int i = 0; i < l->n; i++) {
        cells[3 * i] = l->tbl[i];
        cells[3 * i + 1] = l->idx[i][0] ? l->idx[i] : NULL;
        cells[3 * i + 2] = l->full[i] ? "1" : "0";
    }
    static const char *const names[] = {"tbl", "idx", "full_scan"};
    *out = rg_rows_make(3, names, l->n, cells);
    rc = l->n;
    free(l);
    return rc;
}

/* Every index with its scans since the statistics were reset. */
static int pg_indexes(rg_rel_conn *c, rg_rows **out)
{
    PGresult *res = NULL;
    int rc = rg__pg_exec(&c->pg, NULL,
                         "SELECT relname AS tbl, indexrelname AS idx, idx_scan::text AS scans "
                         "FROM pg_stat_user_indexes ORDER BY relname, indexrelname",
                         0, NULL, &res);
    if (rc < 0)
        return rc;
    *out = to_rows(res);
    PQclear(res);
    return rc;
}

static int pg_ping(rg_rel *r)
{
    return rg__pg_ping(&r->primary);
}

static int pg_prepare(rg_rel_conn *c, const char *gid)
{
    return rg__pg_prepare(&c->pg, gid);
}

static int pg_finish_prepared(rg_rel_conn *c, const char *gid, bool commit)
{
    return rg__pg_finish_prepared(&c->pg, gid, commit);
}

static int pg_prepared_list(rg_rel_conn *c, const char *prefix, rg_gid_fn each, void *arg)
{
    return rg__pg_prepared_list(&c->pg, prefix, each, arg);
}

static int pg_prepared_ready(rg_rel *r)
{
    return rg__pg_prepared_ready(&r->primary);
}

const struct rg_rel_ops rg_pg_rel_ops = {
    .version = RG_REL_OPS_VERSION,
    .caps = RG_REL_CAP_RETURNING | RG_REL_CAP_REPLICAS | RG_REL_CAP_WRITABLE_CTE |
            RG_REL_CAP_PREPARED_TX,
    .scheme = "postgresql",
    .dialect = "postgresql",
    .open = pg_open,
    .close = pg_close,
    .acquire = pg_acquire,
    .release = pg_release,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .query = pg_query,
    .exec_script = pg_exec_script,
    .load = pg_load,
    .explain = pg_explain,
    .indexes = pg_indexes,
    .ping = pg_ping,
    .acquire_read = pg_acquire_read,
    .prepare = pg_prepare,
    .finish_prepared = pg_finish_prepared,
    .prepared_list = pg_prepared_list,
    .prepared_ready = pg_prepared_ready,
};
