/* Relational port on SQLite: one connection per thread (opened on first use,
 * closed when the thread ends or the store closes), statements prepared once
 * per connection by name, writes under BEGIN IMMEDIATE so the busy timeout
 * applies instead of a deadlock. */
#include "risinggen/error.h"
#include "risinggen/relational.h"
#include "risinggen/util.h"
#include "sqlite_common.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define STMT_SLOTS 256 /* open addressing, power of two */

struct stmt_slot {
    char *name; /* owned copy */
    sqlite3_stmt *stmt;
};

struct rg_rel_conn {
    sqlite3 *db;
    struct rg_rel *owner;
    struct rg_rel_conn *next;
    bool holds_write; /* owns rg_rel.write_lock */
    struct stmt_slot slots[STMT_SLOTS];
};

struct rg_rel {
    char *path;
    bool sync_full;
    pthread_key_t key;
    pthread_mutex_t lock;       /* guards conns */
    pthread_mutex_t write_lock; /* one writer at a time in this process */
    struct rg_rel_conn *conns;
};

static void conn_close(struct rg_rel_conn *c)
{
    for (int i = 0; i < STMT_SLOTS; i++)
        if (c->slots[i].stmt) {
            sqlite3_finalize(c->slots[i].stmt);
            free(c->slots[i].name);
        }
    sqlite3_close(c->db);
    free(c);
}

static void conn_unlink(struct rg_rel *r, struct rg_rel_conn *c)
{
    pthread_mutex_lock(&r->lock);
    for (struct rg_rel_conn **pp = &r->conns; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    pthread_mutex_unlock(&r->lock);
}

/* Thread exit: the thread's connection goes with it. */
static void conn_destructor(void *p)
{
    struct rg_rel_conn *c = p;
    conn_unlink(c->owner, c);
    conn_close(c);
}

static int sqlite_open(rg_rel **out, const char *url)
{
    bool sync_full;
    char *path = rg__sqlite_path(url, &sync_full);
    if (!path)
        return rg_error_set(RG_EINVAL, "not a sqlite: URL");
    /* Open once here so that a bad path fails at start, not at the first request. */
    sqlite3 *probe;
    int rc = rg__sqlite_open(path, sync_full, &probe);
    if (rc < 0) {
        free(path);
        return rc;
    }
    sqlite3_close(probe);
    struct rg_rel *r = rg_xcalloc(1, sizeof *r);
    r->path = path;
    r->sync_full = sync_full;
    pthread_mutex_init(&r->lock, NULL);
    pthread_mutex_init(&r->write_lock, NULL);
    pthread_key_create(&r->key, conn_destructor);
    *out = r;
    return 0;
}

static void sqlite_close(rg_rel *r)
{
    if (!r)
        return;
    pthread_key_delete(r->key);
    while (r->conns) {
        struct rg_rel_conn *c = r->conns;
        r->conns = c->next;
        conn_close(c);
    }
    pthread_mutex_destroy(&r->lock);
    pthread_mutex_destroy(&r->write_lock);
    free(r->path);
    free(r);
}

static int sqlite_acquire(rg_rel *r, rg_rel_conn **out)
{
    struct rg_rel_conn *c = pthread_getspecific(r->key);
    if (!c) {
        sqlite3 *db;
        int rc = rg__sqlite_open(r->path, r->sync_full, &db);
        if (rc < 0)
            return rc;
        c = rg_xcalloc(1, sizeof *c);
        c->db = db;
        c->owner = r;
        pthread_mutex_lock(&r->lock);
        c->next = r->conns;
        r->conns = c;
        pthread_mutex_unlock(&r->lock);
        pthread_setspecific(r->key, c);
    }
    *out = c;
    return 0;
}

static void write_unlock(struct rg_rel_conn *c)
{
    if (c->holds_write) {
        c->holds_write = false;
        pthread_mutex_unlock(&c->owner->write_lock);
    }
}

static void sqlite_release(rg_rel *r, rg_rel_conn *c)
{
    (void)r;
    /* A connection left inside a transaction by a failed caller is rolled back. */
    if (c && !sqlite3_get_autocommit(c->db))
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    if (c)
        write_unlock(c);
}

static unsigned hash_name(const char *s)
{
    unsigned h = 2166136261u;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h;
}

static int prepare(struct rg_rel_conn *c, const char *name, const char *sql, sqlite3_stmt **out)
{
    unsigned h = hash_name(name) & (STMT_SLOTS - 1);
    for (int probe = 0; probe < STMT_SLOTS; probe++, h = (h + 1) & (STMT_SLOTS - 1)) {
        struct stmt_slot *s = &c->slots[h];
        if (s->stmt && strcmp(s->name, name) == 0) {
            *out = s->stmt;
            return 0;
        }
        if (!s->stmt) {
            if (!sql && !(sql = rg_query_sql("sqlite", name))) {
                rg_err("no sqlite query named %s", name);
                return rg_error_set(RG_EINTERNAL, "internal error");
            }
            int rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->stmt, NULL);
            if (rc != SQLITE_OK)
                return rg__sqlite_error(c->db, rc, name);
            s->name = rg_xstrdup(name);
            *out = s->stmt;
            return 0;
        }
    }
    /* Table full: prepare without caching is not offered; raise STMT_SLOTS. */
    rg_err("sqlite statement cache full at %s", name);
    return rg_error_set(RG_EINTERNAL, "internal error");
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

static int sqlite_query(rg_rel_conn *c, const char *name, const rg_param *params, int n,
                        rg_rows **out)
{
    sqlite3_stmt *st;
    int rc = prepare(c, name, NULL, &st);
    if (rc < 0)
        return rc;
    if ((rc = bind_params(st, params, n)) != SQLITE_OK) {
        sqlite3_clear_bindings(st);
        return rg__sqlite_error(c->db, rc, name);
    }
    int ncols = sqlite3_column_count(st), nrows = 0;
    rg_buf text = {0};
    long *offsets = NULL;
    size_t cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
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
        result = sqlite3_changes(c->db);
        if (out)
            *out = pack_rows(st, ncols, nrows, &text, offsets);
    } else {
        result = rg__sqlite_error(c->db, rc, name);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    rg_buf_free(&text);
    free(offsets);
    return result;
}

static int run_fixed(rg_rel_conn *c, const char *name, const char *sql)
{
    sqlite3_stmt *st;
    int rc = prepare(c, name, sql, &st);
    if (rc < 0)
        return rc;
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : rg__sqlite_error(c->db, rc, name);
}

/* Writers of this process queue on a mutex rather than in SQLite's busy
 * handler, which sleeps and polls; the busy timeout still covers other
 * processes (the command line) writing to the same file. */
static int sqlite_begin(rg_rel_conn *c, bool write)
{
    if (!write)
        return run_fixed(c, "#begin", "BEGIN");
    pthread_mutex_lock(&c->owner->write_lock);
    c->holds_write = true;
    int rc = run_fixed(c, "#begin_immediate", "BEGIN IMMEDIATE");
    if (rc < 0)
        write_unlock(c);
    return rc;
}

static int sqlite_commit(rg_rel_conn *c)
{
    int rc = run_fixed(c, "#commit", "COMMIT");
    if (rc < 0 && !sqlite3_get_autocommit(c->db))
        return rc; /* still open: the caller rolls back */
    write_unlock(c);
    return rc;
}

static int sqlite_rollback(rg_rel_conn *c)
{
    int rc = sqlite3_get_autocommit(c->db) ? 0 : run_fixed(c, "#rollback", "ROLLBACK");
    write_unlock(c);
    return rc;
}

static int sqlite_exec_script(rg_rel_conn *c, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(c->db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        rg_err("sqlite script: %s", msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return rg_error_set(RG_EINTERNAL, "the script failed");
    }
    return 0;
}

static int sqlite_ping(rg_rel *r)
{
    rg_rel_conn *c;
    int rc = sqlite_acquire(r, &c);
    if (rc < 0)
        return rc;
    return run_fixed(c, "#ping", "SELECT 1");
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
    .ping = sqlite_ping,
};
