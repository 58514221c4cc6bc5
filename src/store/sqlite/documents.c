/* Documents port on SQLite (JSON1). One table per collection,
 *   "doc_<collection>" (id TEXT PRIMARY KEY, rev INTEGER, body TEXT) WITHOUT ROWID,
 * created lazily on first use of a collection and at open for every collection
 * that has a declared index. Each declared index is an expression index on
 * json_extract(body, '$.<path>'); filters and sorts use exactly that expression
 * so that SQLite picks the index.
 *
 * Collection names and paths are written into SQL text, so they are checked
 * against strict patterns first ([a-z_]{1,32} and [A-Za-z0-9_.]{1,64}); every
 * value is bound as a parameter.
 *
 * Threads: one connection per thread from a sqlite_common pool, statements
 * cached per connection by their SQL text. Each write is one autocommit
 * statement under the pool's write mutex. rg_sqlite_doc_ops.close must not
 * run while another thread still uses the store. */
#include "risinggen/store/documents.h"
#include "risinggen/base/error.h"
#include "risinggen/base/alloc.h"
#include "risinggen/base/buf.h"
#include "risinggen/base/log.h"
#include "sqlite_common.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define ID_MAX      512
#define FILTERS_MAX 16

/* A pool connection and the collections whose table it has ensured. */
struct doc_conn {
    struct rg__sqlite_conn base;
    char **colls;
    int ncolls, capcolls;
};

struct rg_docs {
    struct rg__sqlite_pool pool;
};

/* ---- names ---- */

static bool valid_collection(const char *s)
{
    return rg_doc_collection_valid(s);
}

static bool valid_path(const char *s)
{
    return rg_doc_path_valid(s);
}

static bool valid_id(const char *id)
{
    return id && *id && strlen(id) <= ID_MAX;
}

static int check_coll(const char *coll)
{
    if (!valid_collection(coll))
        return rg_error_set(RG_EINVAL, "invalid collection name");
    return 0;
}

/* Appends the indexed expression for path: json_extract(body, '$.path'). */
static void put_expr(rg_buf *b, const char *path)
{
    rg_buf_printf(b, "json_extract(body, '$.%s')", path);
}

/* ---- connections and statements ---- */

static void conn_free_colls(struct rg__sqlite_conn *base)
{
    struct doc_conn *c = (struct doc_conn *)base;
    for (int i = 0; i < c->ncolls; i++)
        free(c->colls[i]);
    free(c->colls);
}

/* The calling thread's connection, opened on first use. Borrowed. */
static int acquire(struct rg_docs *d, struct doc_conn **out)
{
    struct rg__sqlite_conn *c;
    int rc = rg__sqlite_pool_conn(&d->pool, &c);
    if (rc < 0)
        return rc;
    *out = (struct doc_conn *)c;
    return 0;
}

/* Runs sql; the SQLite message goes to the log through rg__sqlite_error. */
static int exec_sql(sqlite3 *db, const char *sql, const char *what)
{
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : rg__sqlite_error(db, rc, what);
}

static int create_table(sqlite3 *db, const char *coll)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "CREATE TABLE IF NOT EXISTS \"doc_%s\" (id TEXT PRIMARY KEY, rev INTEGER NOT NULL, "
             "body TEXT NOT NULL) WITHOUT ROWID",
             coll);
    return exec_sql(db, sql, "documents create table");
}

static int create_index(sqlite3 *db, const rg_doc_index *ix)
{
    rg_buf b = {0};
    rg_buf_printf(&b, "CREATE %sINDEX IF NOT EXISTS \"ix_%s_", ix->unique ? "UNIQUE " : "",
                  ix->collection);
    for (const char *p = ix->path; *p; p++)
        rg_buf_put(&b, *p == '.' ? "_" : p, 1);
    rg_buf_printf(&b, "\" ON \"doc_%s\" (", ix->collection);
    put_expr(&b, ix->path);
    rg_buf_puts(&b, ")");
    int rc = exec_sql(db, b.data, "documents create index");
    if (rc < 0) /* e.g. a unique index over documents that already collide */
        rg_err("documents: cannot create the index on %s.%s", ix->collection, ix->path);
    rg_buf_free(&b);
    return rc;
}

/* Makes sure coll's table exists, once per connection. */
static int ensure_collection(struct doc_conn *c, const char *coll)
{
    for (int i = 0; i < c->ncolls; i++)
        if (strcmp(c->colls[i], coll) == 0)
            return 0;
    bool took = rg__sqlite_write_start(&c->base);
    int rc = create_table(c->base.db, coll);
    rg__sqlite_write_end(&c->base, took);
    if (rc < 0)
        return rc;
    if (c->ncolls == c->capcolls) {
        c->capcolls = c->capcolls ? c->capcolls * 2 : 8;
        char **n = realloc(c->colls, (size_t)c->capcolls * sizeof *n);
        if (!n)
            abort();
        c->colls = n;
    }
    c->colls[c->ncolls++] = rg_xstrdup(coll);
    return 0;
}

/* Connection for an operation on coll: checks the name and ensures the table. */
static int begin_op(struct rg_docs *d, const char *coll, struct doc_conn **out)
{
    int rc = check_coll(coll);
    if (rc < 0)
        return rc;
    if ((rc = acquire(d, out)) < 0)
        return rc;
    return ensure_collection(*out, coll);
}

/* ---- open / close ---- */

static void docs_close(rg_docs *d)
{
    if (!d)
        return;
    rg__sqlite_pool_close(&d->pool);
    free(d);
}

struct index_list {
    const rg_doc_index *indexes;
    int n;
};

/* Creates the tables and indexes for the declared indexes, in one write
 * transaction; several processes may do this at once on the same file. */
static int ensure_indexes(sqlite3 *db, void *ctx)
{
    const struct index_list *list = ctx;
    const rg_doc_index *indexes = list->indexes;
    int n = list->n;
    if (n == 0)
        return 0;
    int rc = exec_sql(db, "BEGIN IMMEDIATE", "documents begin");
    if (rc < 0)
        return rc;
    for (int i = 0; i < n && rc == 0; i++) {
        bool seen = false;
        for (int j = 0; j < i && !seen; j++)
            seen = strcmp(indexes[j].collection, indexes[i].collection) == 0;
        if (!seen)
            rc = create_table(db, indexes[i].collection);
        if (rc == 0)
            rc = create_index(db, &indexes[i]);
    }
    if (rc == 0)
        return exec_sql(db, "COMMIT", "documents commit");
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static const struct rg__sqlite_hooks doc_hooks = {
    .metric = "rg_pool_connections{store=\"documents\",adapter=\"sqlite\"}",
    .conn_size = sizeof(struct doc_conn),
    .on_open = ensure_indexes,
    .on_close = conn_free_colls,
};

/* Opens the store at a "sqlite:PATH" url and ensures the declared indexes.
 * *out belongs to the caller (docs_close). indexes are borrowed. */
static int docs_open(rg_docs **out, const char *url, const rg_doc_index *indexes, int nindexes)
{
    *out = NULL;
    if (nindexes < 0 || (nindexes > 0 && !indexes))
        return rg_error_set(RG_EINVAL, "invalid index list");
    for (int i = 0; i < nindexes; i++) {
        if (!valid_collection(indexes[i].collection))
            return rg_error_set(RG_EINVAL, "invalid collection name in index %d", i);
        if (!valid_path(indexes[i].path))
            return rg_error_set(RG_EINVAL, "invalid path in index %d", i);
    }
    struct rg_docs *d = rg_xcalloc(1, sizeof *d);
    struct index_list list = {indexes, nindexes};
    int rc = rg__sqlite_pool_open(&d->pool, url, &doc_hooks, &list);
    if (rc < 0) {
        free(d);
        return rc;
    }
    *out = d;
    return 0;
}

/* ---- single documents ---- */

/* The compact JSON text of doc (an object), malloc'd. */
static int dump_doc(json_t *doc, char **out)
{
    *out = NULL;
    if (!json_is_object(doc))
        return rg_error_set(RG_EINVAL, "a document must be a JSON object");
    char *s = json_dumps(doc, JSON_COMPACT);
    if (!s)
        return rg_error_set(RG_EINVAL, "the document cannot be encoded");
    *out = s;
    return 0;
}

/* Parses a stored body; *out is a new reference. */
static int load_body(sqlite3_stmt *st, int col, json_t **out)
{
    const char *text = (const char *)sqlite3_column_text(st, col);
    int len = sqlite3_column_bytes(st, col);
    json_error_t jerr;
    json_t *doc = text ? json_loadb(text, (size_t)len, JSON_ALLOW_NUL, &jerr) : NULL;
    if (!json_is_object(doc)) {
        json_decref(doc);
        rg_err("documents: stored body is not a JSON object");
        return rg_error_set(RG_EINTERNAL, "internal error");
    }
    *out = doc;
    return 0;
}

/* The statement "<head> FROM doc_<coll> WHERE id = ?1" with id bound. */
static int by_id(struct doc_conn *c, const char *head, const char *coll, const char *id,
                 sqlite3_stmt **out, bool *cached)
{
    char sql[128];
    snprintf(sql, sizeof sql, "%s FROM \"doc_%s\" WHERE id = ?1", head, coll);
    int rc = rg__sqlite_stmt(&c->base, sql, NULL, out, cached);
    if (rc == 0)
        sqlite3_bind_text(*out, 1, id, -1, SQLITE_STATIC);
    return rc;
}

static int docs_insert(rg_docs *d, const char *coll, const char *id, json_t *doc)
{
    if (!valid_id(id))
        return rg_error_set(RG_EINVAL, "invalid document id");
    struct doc_conn *c;
    int rc = begin_op(d, coll, &c);
    if (rc < 0)
        return rc;
    char *body;
    if ((rc = dump_doc(doc, &body)) < 0)
        return rc;
    char sql[128];
    snprintf(sql, sizeof sql, "INSERT INTO \"doc_%s\" (id, rev, body) VALUES (?1, 1, ?2)", coll);
    sqlite3_stmt *st;
    bool cached;
    if ((rc = rg__sqlite_stmt(&c->base, sql, NULL, &st, &cached)) == 0) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, body, -1, SQLITE_STATIC);
        int src = rg__sqlite_step_write(&c->base, st);
        rc = src == SQLITE_DONE ? 0 : rg__sqlite_error(c->base.db, src, "documents insert");
        rg__sqlite_stmt_done(st, cached);
    }
    free(body);
    return rc;
}

static int docs_get(rg_docs *d, const char *coll, const char *id, json_t **out, int64_t *rev)
{
    *out = NULL;
    if (!valid_id(id))
        return rg_error_set(RG_EINVAL, "invalid document id");
    struct doc_conn *c;
    int rc = begin_op(d, coll, &c);
    if (rc < 0)
        return rc;
    sqlite3_stmt *st;
    bool cached;
    if ((rc = by_id(c, "SELECT rev, body", coll, id, &st, &cached)) < 0)
        return rc;
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        if ((rc = load_body(st, 1, out)) == 0 && rev)
            *rev = sqlite3_column_int64(st, 0);
    } else if (src == SQLITE_DONE) {
        rc = rg_error_set(RG_ENOTFOUND, "no such document");
    } else {
        rc = rg__sqlite_error(c->base.db, src, "documents get");
    }
    rg__sqlite_stmt_done(st, cached);
    return rc;
}

/* 1 when a document with id exists, 0 when not, or an error. */
static int doc_exists(struct doc_conn *c, const char *coll, const char *id)
{
    sqlite3_stmt *st;
    bool cached;
    int rc = by_id(c, "SELECT 1", coll, id, &st, &cached);
    if (rc < 0)
        return rc;
    int src = sqlite3_step(st);
    rc = src == SQLITE_ROW    ? 1
         : src == SQLITE_DONE ? 0
                              : rg__sqlite_error(c->base.db, src, "documents exists");
    rg__sqlite_stmt_done(st, cached);
    return rc;
}

static int docs_replace(rg_docs *d, const char *coll, const char *id, json_t *doc,
                        int64_t expect_rev)
{
    if (!valid_id(id))
        return rg_error_set(RG_EINVAL, "invalid document id");
    if (expect_rev < 0)
        return rg_error_set(RG_EINVAL, "invalid revision");
    struct doc_conn *c;
    int rc = begin_op(d, coll, &c);
    if (rc < 0)
        return rc;
    char *body;
    if ((rc = dump_doc(doc, &body)) < 0)
        return rc;
    char sql[160];
    snprintf(
        sql, sizeof sql,
        "UPDATE \"doc_%s\" SET body = ?1, rev = rev + 1 WHERE id = ?2 AND (?3 = 0 OR rev = ?3)",
        coll);
    sqlite3_stmt *st;
    bool cached;
    if ((rc = rg__sqlite_stmt(&c->base, sql, NULL, &st, &cached)) == 0) {
        sqlite3_bind_text(st, 1, body, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, expect_rev);
        int src = rg__sqlite_step_write(&c->base, st);
        if (src != SQLITE_DONE)
            rc = rg__sqlite_error(c->base.db, src, "documents replace");
        else if (sqlite3_changes(c->base.db) == 0)
            rc = 1; /* decided below */
        rg__sqlite_stmt_done(st, cached);
    }
    free(body);
    if (rc == 1) {
        rc = doc_exists(c, coll, id);
        if (rc == 1)
            rc = rg_error_set(RG_ESTALE, "the document was changed by another request");
        else if (rc == 0)
            rc = rg_error_set(RG_ENOTFOUND, "no such document");
    }
    return rc;
}

static int docs_remove(rg_docs *d, const char *coll, const char *id)
{
    if (!valid_id(id))
        return rg_error_set(RG_EINVAL, "invalid document id");
    struct doc_conn *c;
    int rc = begin_op(d, coll, &c);
    if (rc < 0)
        return rc;
    sqlite3_stmt *st;
    bool cached;
    if ((rc = by_id(c, "DELETE", coll, id, &st, &cached)) < 0)
        return rc;
    int src = rg__sqlite_step_write(&c->base, st);
    rc = src == SQLITE_DONE ? 0 : rg__sqlite_error(c->base.db, src, "documents remove");
    rg__sqlite_stmt_done(st, cached);
    return rc;
}

/* ---- queries ---- */

static int check_filters(const rg_doc_filter *filters, int n)
{
    if (n < 0 || n > FILTERS_MAX || (n > 0 && !filters))
        return rg_error_set(RG_EINVAL, "invalid filters");
    for (int i = 0; i < n; i++)
        if (!valid_path(filters[i].path))
            return rg_error_set(RG_EINVAL, "invalid filter path");
    return 0;
}

/* Appends " AND expr = ?N" (or "< ?N") per filter (IS NULL for a text
 * equality filter without a value), numbering parameters from *next. */
static void put_filters(rg_buf *b, const rg_doc_filter *filters, int n, int *next)
{
    for (int i = 0; i < n; i++) {
        rg_buf_puts(b, " AND ");
        put_expr(b, filters[i].path);
        if (!filters[i].is_int && !filters[i].value)
            rg_buf_puts(b, filters[i].less_than ? " < NULL" : " IS NULL");
        else
            rg_buf_printf(b, " %s ?%d", filters[i].less_than ? "<" : "=", (*next)++);
    }
}

static void bind_filters(sqlite3_stmt *st, const rg_doc_filter *filters, int n, int *next)
{
    for (int i = 0; i < n; i++) {
        if (filters[i].is_int)
            sqlite3_bind_int64(st, (*next)++, filters[i].ival);
        else if (filters[i].value)
            sqlite3_bind_text(st, (*next)++, filters[i].value, -1, SQLITE_STATIC);
    }
}

/* How the keyset value is bound: as the type the sort path has in the
 * after_id document when it still exists, else as its literal looks. */
enum key_type { KEY_NULL, KEY_INT, KEY_REAL, KEY_TEXT };

static bool parse_int(const char *s, int64_t *out)
{
    if (!*s || (*s != '-' && (*s < '0' || *s > '9')))
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

static bool parse_real(const char *s, double *out)
{
    if (!*s || (*s != '-' && *s != '.' && (*s < '0' || *s > '9')))
        return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

struct key_value {
    enum key_type type;
    int64_t i;
    double r;
};

static int stored_type(struct doc_conn *c, const char *coll, const char *sort_path,
                       const char *after_id, char type[8])
{
    rg_buf b = {0};
    rg_buf_puts(&b, "SELECT typeof(");
    put_expr(&b, sort_path);
    rg_buf_printf(&b, ") FROM \"doc_%s\" WHERE id = ?1", coll);
    sqlite3_stmt *st;
    bool cached;
    int rc = rg__sqlite_stmt(&c->base, b.data, NULL, &st, &cached);
    rg_buf_free(&b);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(st, 1, after_id, -1, SQLITE_STATIC);
    int src = sqlite3_step(st);
    type[0] = '\0';
    if (src == SQLITE_ROW)
        snprintf(type, 8, "%s", (const char *)sqlite3_column_text(st, 0));
    else if (src != SQLITE_DONE)
        rc = rg__sqlite_error(c->base.db, src, "documents keyset");
    rg__sqlite_stmt_done(st, cached);
    return rc;
}

static int key_value(struct doc_conn *c, const char *coll, const char *sort_path,
                     const char *after_value, const char *after_id, struct key_value *kv)
{
    memset(kv, 0, sizeof *kv);
    if (!after_value) {
        kv->type = KEY_NULL;
        return 0;
    }
    char type[8];
    int rc = stored_type(c, coll, sort_path, after_id, type);
    if (rc < 0)
        return rc;
    if (strcmp(type, "text") == 0) {
        kv->type = KEY_TEXT;
    } else if (strcmp(type, "integer") == 0 &&
               (strcmp(after_value, "true") == 0 || strcmp(after_value, "false") == 0)) {
        kv->type = KEY_INT;
        kv->i = after_value[0] == 't';
    } else if (strcmp(type, "real") != 0 && parse_int(after_value, &kv->i)) {
        kv->type = KEY_INT;
    } else if (parse_real(after_value, &kv->r)) {
        kv->type = KEY_REAL;
    } else {
        kv->type = KEY_TEXT;
    }
    return 0;
}

struct find_args {
    const char *coll;
    const rg_doc_filter *filters;
    int nfilters;
    const char *sort_path;
    bool desc;
    const char *after_value, *after_id;
};

/* Which documents one statement covers. With a sort path, documents without a
 * value (NULL) come first ascending and last descending, as SQLite orders
 * them; a keyset position lies in one of the two segments, and each segment
 * is read with a range its index can seek to. */
enum segment {
    SEG_ALL,   /* every document, in the requested order (keyset on id only) */
    SEG_NULL,  /* documents without a sort value, by id */
    SEG_VALUE, /* documents with a sort value, by (value, id) */
    SEG_DELETE /* DELETE of every document matching the filters */
};

/* Prepares and binds the statement for seg; kv is the keyset position, or
 * NULL to start at the segment's beginning. */
static int segment_stmt(struct doc_conn *c, const struct find_args *a, enum segment seg,
                        const struct key_value *kv, int limit, sqlite3_stmt **out, bool *cached)
{
    rg_buf b = {0};
    int next = 1;
    rg_buf_printf(&b, "%s FROM \"doc_%s\" WHERE 1",
                  seg == SEG_DELETE ? "DELETE" : "SELECT id, body", a->coll);
    put_filters(&b, a->filters, a->nfilters, &next);
    const char *lt = a->desc ? "<" : ">", *le = a->desc ? "<=" : ">=";
    const char *dir = a->desc ? "DESC" : "ASC";
    int p_after = 0, p_val = 0, p_limit = 0;
    switch (seg) {
    case SEG_ALL:
        if (a->after_id) {
            p_after = next++;
            rg_buf_printf(&b, " AND id %s ?%d", lt, p_after);
        }
        rg_buf_puts(&b, " ORDER BY ");
        if (a->sort_path) {
            put_expr(&b, a->sort_path);
            rg_buf_printf(&b, " %s, ", dir);
        }
        break;
    case SEG_NULL:
        rg_buf_puts(&b, " AND ");
        put_expr(&b, a->sort_path);
        rg_buf_puts(&b, " IS NULL");
        if (kv) {
            p_after = next++;
            rg_buf_printf(&b, " AND id %s ?%d", lt, p_after);
        }
        rg_buf_puts(&b, " ORDER BY ");
        break;
    case SEG_VALUE:
        rg_buf_puts(&b, " AND ");
        put_expr(&b, a->sort_path);
        if (kv) {
            /* value >= v AND (value > v OR id > after): a seekable range */
            p_val = next++;
            p_after = next++;
            rg_buf_printf(&b, " %s ?%d AND (", le, p_val);
            put_expr(&b, a->sort_path);
            rg_buf_printf(&b, " %s ?%d OR id %s ?%d)", lt, p_val, lt, p_after);
        } else {
            rg_buf_puts(&b, " IS NOT NULL");
        }
        rg_buf_puts(&b, " ORDER BY ");
        put_expr(&b, a->sort_path);
        rg_buf_printf(&b, " %s, ", dir);
        break;
    case SEG_DELETE:
        break;
    }
    if (seg != SEG_DELETE) {
        p_limit = next++;
        rg_buf_printf(&b, "id %s LIMIT ?%d", dir, p_limit);
    }
    sqlite3_stmt *st;
    int rc = rg__sqlite_stmt(&c->base, b.data, NULL, &st, cached);
    rg_buf_free(&b);
    if (rc < 0)
        return rc;
    int bind = 1;
    bind_filters(st, a->filters, a->nfilters, &bind);
    if (p_after)
        sqlite3_bind_text(st, p_after, a->after_id, -1, SQLITE_STATIC);
    if (p_val) {
        if (kv->type == KEY_INT)
            sqlite3_bind_int64(st, p_val, kv->i);
        else if (kv->type == KEY_REAL)
            sqlite3_bind_double(st, p_val, kv->r);
        else
            sqlite3_bind_text(st, p_val, a->after_value, -1, SQLITE_STATIC);
    }
    if (p_limit)
        sqlite3_bind_int(st, p_limit, limit);
    *out = st;
    return 0;
}

/* Runs one segment and appends its rows to arr as {"id", "doc"} objects. */
static int run_segment(struct doc_conn *c, const struct find_args *a, enum segment seg,
                       const struct key_value *kv, int limit, json_t *arr)
{
    sqlite3_stmt *st;
    bool cached;
    int rc = segment_stmt(c, a, seg, kv, limit, &st, &cached);
    if (rc < 0)
        return rc;
    int src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *doc;
        if ((rc = load_body(st, 1, &doc)) < 0)
            break;
        json_t *item = json_object();
        json_object_set_new(item, "id", json_string((const char *)sqlite3_column_text(st, 0)));
        json_object_set_new(item, "doc", doc);
        json_array_append_new(arr, item);
    }
    if (rc == 0 && src != SQLITE_DONE)
        rc = rg__sqlite_error(c->base.db, src, "documents find");
    rg__sqlite_stmt_done(st, cached);
    return rc;
}

/* Keyset read: the segment holding the position from there on, then, if the
 * page is not full, the next segment from its start; in one read transaction
 * so that both parts see the same data. */
static int find_after(struct doc_conn *c, const struct find_args *a, int limit, json_t *arr)
{
    struct key_value kv;
    int rc = key_value(c, a->coll, a->sort_path, a->after_value, a->after_id, &kv);
    if (rc < 0)
        return rc;
    enum segment first = kv.type == KEY_NULL ? SEG_NULL : SEG_VALUE;
    bool has_next = kv.type == KEY_NULL ? !a->desc : a->desc;
    if (!has_next)
        return run_segment(c, a, first, &kv, limit, arr);
    if ((rc = rg__sqlite_begin(&c->base, false)) < 0)
        return rc;
    rc = run_segment(c, a, first, &kv, limit, arr);
    int got = (int)json_array_size(arr);
    if (rc == 0 && got < limit)
        rc = run_segment(c, a, first == SEG_NULL ? SEG_VALUE : SEG_NULL, NULL, limit - got, arr);
    if (rc == 0)
        rc = rg__sqlite_commit(&c->base);
    if (rc < 0)
        rg__sqlite_rollback(&c->base);
    return rc;
}

/* Documents matching the filters in the requested order; *out is a new array
 * (json_decref) of {"id", "doc"} objects. limit must be positive. after_value
 * is bound with the type that sort_path has in the after_id document (so that
 * "10" is a number or a text as stored), or as its literal looks when that
 * document is gone; NULL after_value is the position among documents without
 * a sort value. */
static int docs_find(rg_docs *d, const char *coll, const rg_doc_filter *filters, int nfilters,
                     const char *sort_path, bool desc, const char *after_value,
                     const char *after_id, int limit, json_t **out)
{
    *out = NULL;
    int rc = rg_doc_find_args_check(filters, nfilters, sort_path, after_id, limit);
    if (rc < 0)
        return rc;
    struct doc_conn *c;
    if ((rc = begin_op(d, coll, &c)) < 0)
        return rc;
    struct find_args a = {coll, filters, nfilters, sort_path, desc, after_value, after_id};
    json_t *arr = json_array();
    if (after_id && sort_path)
        rc = find_after(c, &a, limit, arr);
    else
        rc = run_segment(c, &a, SEG_ALL, NULL, limit, arr);
    if (rc < 0) {
        json_decref(arr);
        return rc;
    }
    *out = arr;
    return 0;
}

static int docs_remove_where(rg_docs *d, const char *coll, const rg_doc_filter *filters,
                             int nfilters)
{
    int rc = check_filters(filters, nfilters);
    if (rc < 0)
        return rc;
    struct doc_conn *c;
    if ((rc = begin_op(d, coll, &c)) < 0)
        return rc;
    struct find_args a = {.coll = coll, .filters = filters, .nfilters = nfilters};
    sqlite3_stmt *st;
    bool cached;
    if ((rc = segment_stmt(c, &a, SEG_DELETE, NULL, 0, &st, &cached)) < 0)
        return rc;
    int src = rg__sqlite_step_write(&c->base, st);
    rc = src == SQLITE_DONE ? sqlite3_changes(c->base.db)
                            : rg__sqlite_error(c->base.db, src, "documents remove_where");
    rg__sqlite_stmt_done(st, cached);
    return rc;
}

static int docs_ping(rg_docs *d)
{
    struct doc_conn *c;
    int rc = acquire(d, &c);
    return rc < 0 ? rc : rg__sqlite_run(&c->base, "SELECT 1");
}

const struct rg_doc_ops rg_sqlite_doc_ops = {
    .version = RG_DOC_OPS_VERSION,
    .caps = RG_DOC_CAP_UNIQUE | RG_DOC_CAP_NUL_IN_STRINGS,
    .scheme = "sqlite",
    .open = docs_open,
    .close = docs_close,
    .insert = docs_insert,
    .get = docs_get,
    .replace = docs_replace,
    .remove = docs_remove,
    .find = docs_find,
    .remove_where = docs_remove_where,
    .ping = docs_ping,
};
