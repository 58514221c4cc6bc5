/* Relational port on SQLite: named queries from the embedded .sql files, run
 * on a connection borrowed from a sqlite_common pool (statements prepared
 * once per connection and cached by name), results copied
 * into one rg_rows block. Writes run under BEGIN IMMEDIATE behind the pool's
 * write mutex, so the busy timeout applies instead of a deadlock. */
#include "risinggen/base/error.h"
#include "risinggen/store/relational.h"
#include "risinggen/base/alloc.h"
#include "risinggen/base/buf.h"
#include "risinggen/base/log.h"
#include "sqlite_common.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A connection is the pool's, as it is: this adapter keeps nothing more. */
struct rg_rel_conn {
    struct rg__sqlite_conn base;
};

struct rg_rel {
    struct rg__sqlite_pool pool;
};

static const struct rg__sqlite_hooks rel_hooks = {
    .conn_size = sizeof(struct rg_rel_conn),
    .labels = "store=\"relational\",adapter=\"sqlite\"",
};

static int sqlite_open(rg_rel **out, const char *url, const rg_store_options *opts)
{
    struct rg_rel *r = rg_xcalloc(1, sizeof *r);
    int rc = rg__sqlite_pool_open(&r->pool, url, opts, &rel_hooks, NULL);
    if (rc < 0) {
        free(r);
        return rc;
    }
    *out = r;
    return 0;
}

static void sqlite_close(rg_rel *r)
{
    if (!r)
        return;
    rg__sqlite_pool_close(&r->pool);
    free(r);
}

static int sqlite_acquire(rg_rel *r, rg_rel_conn **out)
{
    struct rg__sqlite_conn *c;
    int rc = rg__sqlite_pool_get(&r->pool, &c);
    if (rc < 0)
        return rc;
    *out = (struct rg_rel_conn *)c;
    return 0;
}

/* A connection left inside a transaction by a failed caller is rolled back. */
static void sqlite_release(rg_rel *r, rg_rel_conn *c)
{
    (void)r;
    rg__sqlite_pool_put(c ? &c->base : NULL);
}

/* The statement for a named query, looked up in the embedded queries the
 * first time this connection runs it. */
static int prepare(struct rg__sqlite_conn *c, const char *name, sqlite3_stmt **out, bool *cached)
{
    if ((*out = rg__sqlite_stmt_cached(c, name))) {
        *cached = true;
        return 0;
    }
    const char *sql = rg_query_sql("sqlite", name);
    if (!sql) {
        rg_err("no sqlite query named %s", name);
        return rg_error_set(RG_EINTERNAL, "internal error");
    }
    return rg__sqlite_stmt(c, name, sql, out, cached);
}

static int bind_params(sqlite3_stmt *st, const rg_param *p, int n)
{
    char pname[16];
    for (int i = 0; i < n; i++) {
        snprintf(pname, sizeof pname, "$%d", i + 1);
        int idx = sqlite3_bind_parameter_index(st, pname);
        if (idx == 0)
            continue;
        int rc;
        switch (p[i].type) {
        case RG_P_INT:
            rc = sqlite3_bind_int64(st, idx, p[i].i);
            break;
        case RG_P_REAL:
            rc = sqlite3_bind_double(st, idx, p[i].d);
            break;
        case RG_P_TEXT:
            rc = sqlite3_bind_text(st, idx, p[i].s, -1, SQLITE_STATIC);
            break;
        default:
            rc = sqlite3_bind_null(st, idx);
        }
        if (rc != SQLITE_OK)
            return rc;
    }
    return SQLITE_OK;
}

/* Packs the collected cells into one block: header, name and cell pointers, text. */
static rg_rows *pack_rows(sqlite3_stmt *st, int ncols, int nrows, rg_buf *text, long *offsets)
{
    size_t ptrs = (size_t)ncols * (size_t)(nrows + 1);
    size_t names_len = 0;
    for (int i = 0; i < ncols; i++)
        names_len += strlen(sqlite3_column_name(st, i)) + 1;
    rg_rows *rows = rg_xmalloc(sizeof *rows + ptrs * sizeof(char *) + names_len + text->len + 1);
    char **cellp = (char **)(rows + 1);
    char *names = (char *)(cellp + ptrs);
    char *data = names + names_len;
    if (text->len)
        memcpy(data, text->data, text->len);
    rows->ncols = ncols;
    rows->nrows = nrows;
    rows->names = cellp;
    rows->cells = cellp + ncols;
    for (int i = 0; i < ncols; i++) {
        size_t l = strlen(sqlite3_column_name(st, i)) + 1;
        memcpy(names, sqlite3_column_name(st, i), l);
        rows->names[i] = names;
        names += l;
    }
    for (size_t i = 0; i < (size_t)ncols * (size_t)nrows; i++)
        rows->cells[i] = offsets[i] < 0 ? NULL : data + offsets[i];
    return rows;
}

static int sqlite_query(rg_rel_conn *conn, const char *name, const rg_param *params, int n,
                        rg_rows **out)
{
    struct rg__sqlite_conn *c = &conn->base;
    sqlite3_stmt *st;
    bool cached;
    int rc = prepare(c, name, &st, &cached);
    if (rc < 0)
        return rc;
    if ((rc = bind_params(st, params, n)) != SQLITE_OK) {
        rc = rg__sqlite_error(c->db, rc, name);
        rg__sqlite_stmt_done(st, cached);
        return rc;
    }
    int ncols = sqlite3_column_count(st), nrows = 0;
    rg_buf text = {0};
    long *offsets = NULL;
    size_t cap = 0;
    /* A single write outside a transaction queues on the write mutex too. */
    bool took = !sqlite3_stmt_readonly(st) && rg__sqlite_write_start(c);
    int seen = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        seen++;
        if (!out)
            continue;
        if ((size_t)(nrows + 1) * (size_t)ncols > cap) {
            cap = cap ? cap * 2 : (size_t)ncols * 16;
            offsets = realloc(offsets, cap * sizeof *offsets);
            if (!offsets)
                abort();
        }
        for (int i = 0; i < ncols; i++) {
            long *o = &offsets[nrows * ncols + i];
            if (sqlite3_column_type(st, i) == SQLITE_NULL) {
                *o = -1;
                continue;
            }
            const unsigned char *v = sqlite3_column_text(st, i);
            int len = sqlite3_column_bytes(st, i);
            *o = (long)text.len;
            rg_buf_put(&text, v ? (const char *)v : "", (size_t)len);
            rg_buf_put(&text, "", 1);
        }
        nrows++;
    }
    int result;
    if (rc == SQLITE_DONE) {
        /* Rows changed by a write; rows returned by a read (as libpq counts). */
        result = sqlite3_stmt_readonly(st) ? seen : sqlite3_changes(c->db);
        if (out)
            *out = pack_rows(st, ncols, nrows, &text, offsets);
    } else {
        result = rg__sqlite_error(c->db, rc, name);
    }
    rg__sqlite_stmt_done(st, cached);
    if (took)
        rg__sqlite_write_end(c, true);
    rg_buf_free(&text);
    free(offsets);
    return result;
}

/* Write transactions take the pool's write mutex (see sqlite_common.h). */
static int sqlite_begin(rg_rel_conn *c, bool write)
{
    return rg__sqlite_begin(&c->base, write);
}

static int sqlite_commit(rg_rel_conn *c)
{
    return rg__sqlite_commit(&c->base);
}

static int sqlite_rollback(rg_rel_conn *c)
{
    return rg__sqlite_rollback(&c->base);
}

static int sqlite_exec_script(rg_rel_conn *c, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(c->base.db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        rg_err("sqlite script: %s", msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return rg_error_set(RG_EINTERNAL, "the script failed");
    }
    return 0;
}

/* The named INSERT once per row, in one write transaction: all or nothing. */
static int sqlite_load(rg_rel_conn *conn, const char *name, int ncols, rg_rel_row_fn next,
                       void *arg)
{
    struct rg__sqlite_conn *c = &conn->base;
    sqlite3_stmt *st;
    bool cached;
    int rc = prepare(c, name, &st, &cached);
    if (rc < 0)
        return rc;
    int idx[RG_REL_PARAMS_MAX];
    for (int j = 0; j < ncols; j++) {
        char pname[16];
        snprintf(pname, sizeof pname, "$%d", j + 1);
        idx[j] = sqlite3_bind_parameter_index(st, pname);
    }
    if ((rc = rg__sqlite_begin(c, true)) < 0) {
        rg__sqlite_stmt_done(st, cached);
        return rc;
    }
    const char *values[RG_REL_PARAMS_MAX];
    int loaded = 0, more;
    while ((more = next(arg, values)) > 0) {
        for (int j = 0; j < ncols && rc == 0; j++)
            if (idx[j] && (values[j] ? sqlite3_bind_text(st, idx[j], values[j], -1, SQLITE_STATIC)
                                     : sqlite3_bind_null(st, idx[j])) != SQLITE_OK)
                rc = rg__sqlite_error(c->db, sqlite3_errcode(c->db), name);
        int step = rc == 0 ? sqlite3_step(st) : SQLITE_OK;
        if (rc == 0 && step != SQLITE_DONE)
            rc = rg__sqlite_error(c->db, step, name);
        sqlite3_reset(st);
        if (rc < 0)
            break;
        loaded++;
    }
    if (rc == 0 && more < 0)
        rc = more;
    rg__sqlite_stmt_done(st, cached);
    if (rc == 0 && (rc = rg__sqlite_commit(c)) == 0)
        return loaded;
    rg__sqlite_rollback(c);
    return rc;
}

/* Whether name is a table of the schema (a plan also names subqueries). */
static bool is_table(sqlite3 *db, const char *name)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", -1,
                           &st, NULL) != SQLITE_OK)
        return false;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    bool yes = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return yes;
}

/* The table the statement sql names alias after (`FROM t a`, `JOIN t AS
 * a`), into out; false when it names none. */
static bool alias_table(const char *sql, const char *alias, char out[64])
{
    static const char *const words[] = {"from ", "join ", "update ", "into ", NULL};
    size_t alen = strlen(alias);
    for (const char *p = sql; *p; p++) {
        for (const char *const *w = words; *w; w++) {
            size_t wl = strlen(*w);
            if (strncasecmp(p, *w, wl) != 0 ||
                (p > sql && (isalnum((unsigned char)p[-1]) || p[-1] == '_')))
                continue;
            const char *t = p + wl;
            while (*t == ' ' || *t == '\n')
                t++;
            size_t tl =
                strspn(t, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
            if (tl == 0 || tl >= 64)
                continue;
            const char *a = t + tl;
            while (*a == ' ' || *a == '\n')
                a++;
            if (strncasecmp(a, "as ", 3) == 0)
                for (a += 3; *a == ' ';)
                    a++;
            if (strncmp(a, alias, alen) == 0 && !isalnum((unsigned char)a[alen]) &&
                a[alen] != '_') {
                memcpy(out, t, tl);
                out[tl] = '\0';
                return true;
            }
        }
    }
    return false;
}

/* The table an index belongs to, into out. */
static bool index_table(sqlite3 *db, const char *idx, char out[64])
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           "SELECT tbl_name FROM sqlite_master WHERE type = 'index' AND name = ?",
                           -1, &st, NULL) != SQLITE_OK)
        return false;
    sqlite3_bind_text(st, 1, idx, -1, SQLITE_STATIC);
    bool yes = sqlite3_step(st) == SQLITE_ROW;
    if (yes)
        snprintf(out, 64, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return yes;
}

/* EXPLAIN QUERY PLAN of the named statement, its lines read: "SCAN t"
 * reads every row of t, "SCAN t USING [COVERING] INDEX i" every entry of
 * i, "SEARCH t USING … INDEX i (…)" a range of i. */
static int sqlite_explain(rg_rel_conn *conn, const char *name, rg_rows **out)
{
    sqlite3 *db = conn->base.db;
    const char *sql = rg_query_sql("sqlite", name);
    if (!sql)
        return rg_error_set(RG_EINVAL, "no sqlite query named %s", name);
    rg_buf q = {0};
    rg_buf_printf(&q, "EXPLAIN QUERY PLAN %s", sql);
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, q.data, -1, &st, NULL);
    rg_buf_free(&q);
    if (rc != SQLITE_OK)
        return rg__sqlite_error(db, rc, name);
    enum { MAXN = 64 };
    char tbl[MAXN][64], idx[MAXN][64];
    const char *cells[MAXN * 3];
    int n = 0;
    while (sqlite3_step(st) == SQLITE_ROW && n < MAXN) {
        const char *d = (const char *)sqlite3_column_text(st, 3);
        bool scan = d && strncmp(d, "SCAN ", 5) == 0;
        if (!d || (!scan && strncmp(d, "SEARCH ", 7) != 0))
            continue;
        char named[64];
        if (sscanf(d + (scan ? 5 : 7), "%63s", named) != 1)
            continue;
        const char *i = strstr(d, " INDEX ");
        idx[n][0] = '\0';
        if (i)
            sscanf(i + 7, "%63s", idx[n]);
        else if (strstr(d, "PRIMARY KEY"))
            snprintf(idx[n], sizeof idx[n], "(primary key)");
        /* The plan names a table by its alias in the statement. */
        if (!(i && index_table(db, idx[n], tbl[n])) && !is_table(db, strcpy(tbl[n], named)) &&
            !(alias_table(sql, named, tbl[n]) && is_table(db, tbl[n])))
            continue;
        cells[3 * n] = tbl[n];
        cells[3 * n + 1] = idx[n][0] ? idx[n] : NULL;
        cells[3 * n + 2] = scan && !i ? "1" : "0";
        n++;
    }
    sqlite3_finalize(st);
    static const char *const names[] = {"tbl", "idx", "full_scan"};
    *out = rg_rows_make(3, names, n, cells);
    return n;
}

/* Every index of the schema; SQLite counts no scans. */
static int sqlite_indexes(rg_rel_conn *conn, rg_rows **out)
{
    sqlite3 *db = conn->base.db;
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db,
                                "SELECT tbl_name, name FROM sqlite_master WHERE type = 'index' "
                                "ORDER BY tbl_name, name",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rg__sqlite_error(db, rc, "indexes");
    rg_buf text = {0};
    long *offsets = NULL;
    int n = 0, cap = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            offsets = rg_xrealloc(offsets, sizeof *offsets * (size_t)cap * 2);
        }
        for (int j = 0; j < 2; j++) {
            offsets[2 * n + j] = (long)text.len;
            rg_buf_puts(&text, (const char *)sqlite3_column_text(st, j));
            rg_buf_put(&text, "", 1);
        }
        n++;
    }
    sqlite3_finalize(st);
    const char **cells = rg_xcalloc((size_t)n * 3 + 1, sizeof *cells);
    for (int k = 0; k < n; k++) {
        cells[3 * k] = text.data + offsets[2 * k];
        cells[3 * k + 1] = text.data + offsets[2 * k + 1];
        cells[3 * k + 2] = NULL;
    }
    static const char *const names[] = {"tbl", "idx", "scans"};
    *out = rg_rows_make(3, names, n, cells);
    free(cells);
    free(offsets);
    rg_buf_free(&text);
    return n;
}

static int sqlite_ping(rg_rel *r)
{
    struct rg__sqlite_conn *c;
    int rc = rg__sqlite_pool_get(&r->pool, &c);
    if (rc < 0)
        return rc;
    rc = rg__sqlite_run(c, "SELECT 1");
    rg__sqlite_pool_put(c);
    return rc;
}

const struct rg_rel_ops rg_sqlite_rel_ops = {
    .version = RG_REL_OPS_VERSION,
    .caps = RG_REL_CAP_RETURNING,
    .scheme = "sqlite",
    .dialect = "sqlite",
    .open = sqlite_open,
    .close = sqlite_close,
    .acquire = sqlite_acquire,
    .release = sqlite_release,
    .begin = sqlite_begin,
    .commit = sqlite_commit,
    .rollback = sqlite_rollback,
    .query = sqlite_query,
    .exec_script = sqlite_exec_script,
    .load = sqlite_load,
    .explain = sqlite_explain,
    .indexes = sqlite_indexes,
    .ping = sqlite_ping,
};
