/* Documents port on SQLite (JSON1), "sqlite:PATH". One table per collection,
 *   "doc_<collection>" (id TEXT PRIMARY KEY, rev INTEGER, body TEXT) WITHOUT ROWID,
 * created on first use of a collection and at open for every collection
 * that has a declared index.
 *
 * The order of risinggen/store/documents.h comes from two expressions per
 * path: its type rank,
 *   CASE json_type(body, '$.p') WHEN 'integer' THEN 1 WHEN 'real' THEN 1
 *     WHEN 'text' THEN 2 WHEN 'object' THEN 3 WHEN 'array' THEN 4
 *     WHEN 'true' THEN 5 WHEN 'false' THEN 5 ELSE 0 END
 * (0: no value), and its value, coalesce(json_extract(body, '$.p'), 0):
 * numbers as numbers, strings as text compared by bytes (BINARY), booleans
 * as 1/0, objects and arrays as their JSON text, no value as 0. A declared
 * index is an expression index on (rank, value, id); a unique one adds a
 * unique index on (rank, json_extract(…)) over the documents that have a
 * value. Filters, sorts and keyset ranges are written with exactly those
 * expressions, so that SQLite uses the index: an equality filter is
 * "rank = T AND value = ?", and a keyset page is read as two index ranges
 * (the rest of the position's rank, then the ranks after it) in one read
 * transaction.
 *
 * Collection names and paths are written into SQL text; the port's wrappers
 * have checked them against strict patterns, and every value is bound.
 *
 * Connections come from the bounded sqlite_common pool, one per operation,
 * with statements cached per connection by their SQL text. Each write is
 * one autocommit statement under the pool's write mutex. */
#include "risinggen/base/alloc.h"
#include "risinggen/base/buf.h"
#include "risinggen/base/error.h"
#include "risinggen/base/log.h"
#include "risinggen/store/documents.h"
#include "sqlite_common.h"

#include <stdlib.h>
#include <string.h>

/* A pool connection and the collections whose table it has ensured. */
struct doc_conn {
    struct rg__sqlite_conn base;
    char **colls;
    int ncolls, capcolls;
};

struct rg_docs {
    struct rg__sqlite_pool pool;
};

static void put_rank(rg_buf *b, const char *path)
{
    rg_buf_printf(b,
                  "(CASE json_type(body, '$.%s') WHEN 'integer' THEN 1 WHEN 'real' THEN 1 "
                  "WHEN 'text' THEN 2 WHEN 'object' THEN 3 WHEN 'array' THEN 4 "
                  "WHEN 'true' THEN 5 WHEN 'false' THEN 5 ELSE 0 END)",
                  path);
}

static void put_value(rg_buf *b, const char *path)
{
    rg_buf_printf(b, "coalesce(json_extract(body, '$.%s'), 0)", path);
}

/* Binds v as the value expression holds it; *owned receives text to free
 * after the statement ran (objects and arrays). */
static void bind_value(sqlite3_stmt *st, int idx, json_t *v, char **owned)
{
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_INTEGER:
        sqlite3_bind_int64(st, idx, json_integer_value(v));
        break;
    case JSON_REAL:
        sqlite3_bind_double(st, idx, json_real_value(v));
        break;
    case JSON_STRING:
        sqlite3_bind_text(st, idx, json_string_value(v), (int)json_string_length(v), SQLITE_STATIC);
        break;
    case JSON_TRUE:
        sqlite3_bind_int(st, idx, 1);
        break;
    case JSON_OBJECT:
    case JSON_ARRAY:
        *owned = json_dumps(v, JSON_COMPACT);
        sqlite3_bind_text(st, idx, *owned ? *owned : "", -1, SQLITE_STATIC);
        break;
    default: /* false, and no value (coalesced to 0) */
        sqlite3_bind_int(st, idx, 0);
    }
}

static void conn_free_colls(struct rg__sqlite_conn *base)
{
    struct doc_conn *c = (struct doc_conn *)base;
    for (int i = 0; i < c->ncolls; i++)
        free(c->colls[i]);
    free(c->colls);
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

/* Index names: "<kind>_<collection>_<path, dots as _>". ix_ is the index of
 * an earlier layout (on json_extract alone), dropped at open. */
static void index_name(rg_buf *b, const char *kind, const rg_doc_index *ix)
{
    rg_buf_printf(b, "\"%s_%s_", kind, ix->collection);
    for (const char *p = ix->path; *p; p++)
        rg_buf_put(b, *p == '.' ? "_" : p, 1);
    rg_buf_puts(b, "\"");
}

static int create_index(sqlite3 *db, const rg_doc_index *ix)
{
    rg_buf b = {0};
    rg_buf_puts(&b, "DROP INDEX IF EXISTS ");
    index_name(&b, "ix", ix);
    rg_buf_puts(&b, "; CREATE INDEX IF NOT EXISTS ");
    index_name(&b, "ik", ix);
    rg_buf_printf(&b, " ON \"doc_%s\" (", ix->collection);
    put_rank(&b, ix->path);
    rg_buf_puts(&b, ", ");
    put_value(&b, ix->path);
    rg_buf_puts(&b, ", id)");
    if (ix->unique) {
        rg_buf_puts(&b, "; CREATE UNIQUE INDEX IF NOT EXISTS ");
        index_name(&b, "iu", ix);
        rg_buf_printf(&b, " ON \"doc_%s\" (", ix->collection);
        put_rank(&b, ix->path);
        rg_buf_printf(&b,
                      ", json_extract(body, '$.%s')) WHERE json_type(body, '$.%s') IS NOT NULL "
                      "AND json_type(body, '$.%s') <> 'null'",
                      ix->path, ix->path, ix->path);
    }
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
        c->colls = rg_xrealloc(c->colls, (size_t)c->capcolls * sizeof *c->colls);
    }
    c->colls[c->ncolls++] = rg_xstrdup(coll);
    return 0;
}

/* A connection for an operation on coll, with its table ensured. Given back
 * with end_op. */
static int begin_op(struct rg_docs *d, const char *coll, struct doc_conn **out)
{
    struct rg__sqlite_conn *c;
    int rc = rg__sqlite_pool_get(&d->pool, &c);
    if (rc < 0)
        return rc;
    *out = (struct doc_conn *)c;
    if ((rc = ensure_collection(*out, coll)) < 0) {
        rg__sqlite_pool_put(c);
        *out = NULL;
    }
    return rc;
}

static void end_op(struct doc_conn *c)
{
    rg__sqlite_pool_put(c ? &c->base : NULL);
}

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
    .labels = "store=\"documents\",adapter=\"sqlite\"",
    .conn_size = sizeof(struct doc_conn),
    .on_open = ensure_indexes,
    .on_close = conn_free_colls,
};

/* Opens the store at a "sqlite:PATH" url and ensures the declared indexes.
 * *out belongs to the caller (docs_close). indexes are borrowed. */
static int docs_open(rg_docs **out, const char *url, const rg_store_options *opts,
                     const rg_doc_index *indexes, int nindexes)
{
    *out = NULL;
    struct rg_docs *d = rg_xcalloc(1, sizeof *d);
    struct index_list list = {indexes, nindexes};
    int rc = rg__sqlite_pool_open(&d->pool, url, opts, &doc_hooks, &list);
    if (rc < 0) {
        free(d);
        return rc;
    }
    *out = d;
    return 0;
}

/* The compact JSON text of doc (an object), malloc'd. */
static int dump_doc(json_t *doc, char **out)
{
    *out = json_dumps(doc, JSON_COMPACT);
    return *out ? 0 : rg_error_set(RG_EINVAL, "the document cannot be encoded");
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

static int insert_on(struct doc_conn *c, const char *coll, const char *id, const char *body)
{
    char sql[128];
    snprintf(sql, sizeof sql, "INSERT INTO \"doc_%s\" (id, rev, body) VALUES (?1, 1, ?2)", coll);
    sqlite3_stmt *st;
    bool cached;
    int rc = rg__sqlite_stmt(&c->base, sql, NULL, &st, &cached);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, body, -1, SQLITE_STATIC);
    int src = rg__sqlite_step_write(&c->base, st);
    rc = src == SQLITE_DONE ? 0 : rg__sqlite_error(c->base.db, src, "documents insert");
    rg__sqlite_stmt_done(st, cached);
    return rc;
}

static int docs_insert(rg_docs *d, const char *coll, const char *id, json_t *doc)
{
    char *body;
    int rc = dump_doc(doc, &body);
    if (rc < 0)
        return rc;
    struct doc_conn *c;
    if ((rc = begin_op(d, coll, &c)) == 0) {
        rc = insert_on(c, coll, id, body);
        end_op(c);
    }
    free(body);
    return rc;
}

static int get_on(struct doc_conn *c, const char *coll, const char *id, json_t **out, int64_t *rev)
{
    sqlite3_stmt *st;
    bool cached;
    int rc = by_id(c, "SELECT rev, body", coll, id, &st, &cached);
    if (rc < 0)
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

static int docs_get(rg_docs *d, const char *coll, const char *id, json_t **out, int64_t *rev)
{
    *out = NULL;
    struct doc_conn *c;
    int rc = begin_op(d, coll, &c);
    if (rc < 0)
        return rc;
    rc = get_on(c, coll, id, out, rev);
    end_op(c);
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

static int replace_on(struct doc_conn *c, const char *coll, const char *id, const char *body,
                      int64_t expect_rev)
{
    char sql[160];
    snprintf(
        sql, sizeof sql,
        "UPDATE \"doc_%s\" SET body = ?1, rev = rev + 1 WHERE id = ?2 AND (?3 = 0 OR rev = ?3)",
        coll);
    sqlite3_stmt *st;
    bool cached;
    int rc = rg__sqlite_stmt(&c->base, sql, NULL, &st, &cached);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(st, 1, body, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, expect_rev);
    int src = rg__sqlite_step_write(&c->base, st);
    bool changed = src == SQLITE_DONE && sqlite3_changes(c->base.db) > 0;
    if (src != SQLITE_DONE)
        rc = rg__sqlite_error(c->base.db, src, "documents replace");
    rg__sqlite_stmt_done(st, cached);
    if (rc < 0 || changed)
        return rc;
    rc = doc_exists(c, coll, id);
    if (rc == 1)
        return rg_error_set(RG_ESTALE, "the document was changed by another request");
    return rc == 0 ? rg_error_set(RG_ENOTFOUND, "no such document") : rc;
}

static int docs_replace(rg_docs *d, const char *coll, const char *id, json_t *doc,
                        int64_t expect_rev)
{
    char *body;
    int rc = dump_doc(doc, &body);
    if (rc < 0)
        return rc;
    struct doc_conn *c;
    if ((rc = begin_op(d, coll, &c)) == 0) {
        rc = replace_on(c, coll, id, body, expect_rev);
        end_op(c);
    }
    free(body);
    return rc;
}

static int remove_on(struct doc_conn *c, const char *coll, const char *id)
{
    sqlite3_stmt *st;
    bool cached;
    int rc = by_id(c, "DELETE", coll, id, &st, &cached);
    if (rc == 0) {
        int src = rg__sqlite_step_write(&c->base, st);
        rc = src == SQLITE_DONE ? 0 : rg__sqlite_error(c->base.db, src, "documents remove");
        rg__sqlite_stmt_done(st, cached);
    }
    return rc;
}

static int docs_remove(rg_docs *d, const char *coll, const char *id)
{
    struct doc_conn *c;
    int rc = begin_op(d, coll, &c);
    if (rc < 0)
        return rc;
    rc = remove_on(c, coll, id);
    end_op(c);
    return rc;
}

static int write_on(struct doc_conn *c, const rg_doc_write *w)
{
    if (w->op == RG_DOC_W_REMOVE)
        return remove_on(c, w->collection, w->id);
    char *body;
    int rc = dump_doc(w->doc, &body);
    if (rc < 0)
        return rc;
    rc = w->op == RG_DOC_W_INSERT ? insert_on(c, w->collection, w->id, body)
                                  : replace_on(c, w->collection, w->id, body, w->expect_rev);
    free(body);
    return rc;
}

/* One write transaction of the file (BEGIN IMMEDIATE, under the pool's
 * write lock so that the process's other writers wait their turn). */
static int docs_write_all(rg_docs *d, const rg_doc_write *writes, int n)
{
    struct doc_conn *c = NULL;
    int rc = begin_op(d, writes[0].collection, &c);
    for (int i = 1; i < n && rc == 0; i++)
        rc = ensure_collection(c, writes[i].collection);
    if (rc < 0) {
        end_op(c);
        return rc;
    }
    bool took = rg__sqlite_write_start(&c->base);
    rc = exec_sql(c->base.db, "BEGIN IMMEDIATE", "documents begin");
    if (rc == 0) {
        for (int i = 0; i < n && rc == 0; i++)
            rc = write_on(c, &writes[i]);
        if (rc == 0)
            rc = exec_sql(c->base.db, "COMMIT", "documents commit");
        if (rc < 0)
            sqlite3_exec(c->base.db, "ROLLBACK", NULL, NULL, NULL);
    }
    rg__sqlite_write_end(&c->base, took);
    end_op(c);
    return rc;
}

static int docs_atomic_ready(rg_docs *d)
{
    (void)d;
    return 1;
}

/* Appends " AND <condition>" per filter, numbering parameters from *next:
 * a typed equality or less-than on (rank, value). */
static void put_filters(rg_buf *b, const rg_doc_filter *filters, int n, int *next)
{
    for (int i = 0; i < n; i++) {
        const rg_doc_filter *f = &filters[i];
        rg_buf_puts(b, " AND ");
        if (!f->is_int && !f->value) { /* no value: never less than anything */
            if (f->less_than) {
                rg_buf_puts(b, "0");
            } else {
                put_rank(b, f->path);
                rg_buf_puts(b, " = 0");
            }
            continue;
        }
        put_rank(b, f->path);
        rg_buf_printf(b, " = %d AND ", f->is_int ? 1 : 2);
        put_value(b, f->path);
        rg_buf_printf(b, " %s ?%d", f->less_than ? "<" : "=", (*next)++);
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

/* Which part of the order one statement reads. */
enum part {
    PART_ALL,    /* from the start (keyset on id only, when there is no sort path) */
    PART_SAME,   /* the rest of the keyset position's rank */
    PART_AFTER,  /* the ranks after the position's */
    PART_DELETE, /* DELETE of every document matching the filters */
};

static void put_order(rg_buf *b, const rg_doc_query *q, bool with_rank)
{
    const char *dir = q->desc ? "DESC" : "ASC";
    rg_buf_puts(b, " ORDER BY ");
    if (q->sort_path) {
        if (with_rank) {
            put_rank(b, q->sort_path);
            rg_buf_printf(b, " %s, ", dir);
        }
        put_value(b, q->sort_path);
        rg_buf_printf(b, " %s, ", dir);
    }
    rg_buf_printf(b, "id %s", dir);
}

/* Prepares and binds the statement for part (limit for the reads). */
static int part_stmt(struct doc_conn *c, const char *coll, const rg_doc_query *q, enum part part,
                     int limit, sqlite3_stmt **out, bool *cached, char **owned)
{
    rg_buf b = {0};
    int next = 1;
    rg_buf_printf(&b, "%s FROM \"doc_%s\" WHERE 1",
                  part == PART_DELETE ? "DELETE" : "SELECT id, body", coll);
    put_filters(&b, q->filters, q->nfilters, &next);
    const char *gt = q->desc ? "<" : ">", *ge = q->desc ? "<=" : ">=";
    int p_rank = 0, p_val = 0, p_id = 0, p_limit = 0;
    switch (part) {
    case PART_ALL:
        if (q->after_id) {
            p_id = next++;
            rg_buf_printf(&b, " AND id %s ?%d", gt, p_id);
        }
        put_order(&b, q, true);
        break;
    case PART_SAME:
        /* rank = r AND value >= v AND (value > v OR id > after): one range */
        p_rank = next++;
        p_val = next++;
        p_id = next++;
        rg_buf_puts(&b, " AND ");
        put_rank(&b, q->sort_path);
        rg_buf_printf(&b, " = ?%d AND ", p_rank);
        put_value(&b, q->sort_path);
        rg_buf_printf(&b, " %s ?%d AND (", ge, p_val);
        put_value(&b, q->sort_path);
        rg_buf_printf(&b, " %s ?%d OR id %s ?%d)", gt, p_val, gt, p_id);
        put_order(&b, q, false);
        break;
    case PART_AFTER:
        p_rank = next++;
        rg_buf_puts(&b, " AND ");
        put_rank(&b, q->sort_path);
        rg_buf_printf(&b, " %s ?%d", gt, p_rank);
        put_order(&b, q, true);
        break;
    case PART_DELETE:
        break;
    }
    if (part != PART_DELETE) {
        p_limit = next++;
        rg_buf_printf(&b, " LIMIT ?%d", p_limit);
    }
    sqlite3_stmt *st;
    int rc = rg__sqlite_stmt(&c->base, b.data, NULL, &st, cached);
    rg_buf_free(&b);
    if (rc < 0)
        return rc;
    int bind = 1;
    bind_filters(st, q->filters, q->nfilters, &bind);
    if (p_rank)
        sqlite3_bind_int(st, p_rank, rg_doc_type_rank(q->after_value));
    if (p_val)
        bind_value(st, p_val, q->after_value, owned);
    if (p_id)
        sqlite3_bind_text(st, p_id, q->after_id, -1, SQLITE_STATIC);
    if (p_limit)
        sqlite3_bind_int(st, p_limit, limit);
    *out = st;
    return 0;
}

/* Runs one part and appends its rows to arr as {"id", "doc"} objects. */
static int run_part(struct doc_conn *c, const char *coll, const rg_doc_query *q, enum part part,
                    int limit, json_t *arr)
{
    sqlite3_stmt *st;
    bool cached;
    char *owned = NULL;
    int rc = part_stmt(c, coll, q, part, limit, &st, &cached, &owned);
    if (rc < 0) {
        free(owned);
        return rc;
    }
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
    free(owned);
    return rc;
}

/* A keyset page on a sort path: the rest of the position's rank, then (if
 * the page is not full) the ranks after it, in one read transaction so that
 * both parts see the same data. */
static int find_after(struct doc_conn *c, const char *coll, const rg_doc_query *q, json_t *arr)
{
    int rc = rg__sqlite_begin(&c->base, false);
    if (rc < 0)
        return rc;
    rc = run_part(c, coll, q, PART_SAME, q->limit, arr);
    int got = (int)json_array_size(arr);
    if (rc == 0 && got < q->limit)
        rc = run_part(c, coll, q, PART_AFTER, q->limit - got, arr);
    if (rc == 0)
        rc = rg__sqlite_commit(&c->base);
    if (rc < 0)
        rg__sqlite_rollback(&c->base);
    return rc;
}

static int docs_find(rg_docs *d, const char *coll, const rg_doc_query *q, json_t **out)
{
    *out = NULL;
    struct doc_conn *c;
    int rc = begin_op(d, coll, &c);
    if (rc < 0)
        return rc;
    json_t *arr = json_array();
    if (q->after_id && q->sort_path)
        rc = find_after(c, coll, q, arr);
    else
        rc = run_part(c, coll, q, PART_ALL, q->limit, arr);
    end_op(c);
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
    struct doc_conn *c;
    int rc = begin_op(d, coll, &c);
    if (rc < 0)
        return rc;
    rg_doc_query q = {.filters = filters, .nfilters = nfilters};
    sqlite3_stmt *st;
    bool cached;
    char *owned = NULL;
    if ((rc = part_stmt(c, coll, &q, PART_DELETE, 0, &st, &cached, &owned)) == 0) {
        int src = rg__sqlite_step_write(&c->base, st);
        rc = src == SQLITE_DONE ? sqlite3_changes(c->base.db)
                                : rg__sqlite_error(c->base.db, src, "documents remove_where");
        rg__sqlite_stmt_done(st, cached);
    }
    free(owned);
    end_op(c);
    return rc;
}

static int docs_ping(rg_docs *d)
{
    struct rg__sqlite_conn *c;
    int rc = rg__sqlite_pool_get(&d->pool, &c);
    if (rc < 0)
        return rc;
    rc = rg__sqlite_run(c, "SELECT 1");
    rg__sqlite_pool_put(c);
    return rc;
}

const struct rg_doc_ops rg_sqlite_doc_ops = {
    .version = RG_DOC_OPS_VERSION,
    .caps = RG_DOC_CAP_UNIQUE | RG_DOC_CAP_NUL_IN_STRINGS | RG_DOC_CAP_ATOMIC,
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
    .write_all = docs_write_all,
    .atomic_ready = docs_atomic_ready,
};
