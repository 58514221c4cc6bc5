/* Documents port on PostgreSQL (JSONB). One table per collection,
 *   "doc_<collection>" (id TEXT COLLATE "C" PRIMARY KEY, rev BIGINT, body JSONB),
 * created at open for every collection that has a declared index and on
 * first use of any other collection. Ids compare byte by byte (COLLATE "C"),
 * whatever the database's locale.
 *
 * The order of risinggen/store/documents.h comes from three expressions per
 * path, over the value v = body -> 'a' -> 'b' (member names only: "->" with
 * a text key never indexes an array):
 *   rank  CASE jsonb_typeof(v) WHEN 'number' THEN 1 WHEN 'string' THEN 2
 *           WHEN 'object' THEN 3 WHEN 'array' THEN 4 WHEN 'boolean' THEN 5
 *           ELSE 0 END                                  (0: no value)
 *   num   the number (booleans as 1/0), else 0
 *   txt   the string (objects and arrays as their JSONB text), else '',
 *         COLLATE "C" so that strings compare by bytes whatever the locale.
 * A declared index is a btree on (rank, num, txt, id); a unique one adds a
 * unique index on (rank, num, txt) over the documents that have a value.
 * Filters, sorts and keyset ranges are written with exactly those
 * expressions: an equality filter is "rank = T AND num = … AND txt = …",
 * a keyset page one row comparison "(rank, num, txt, id) > (…)", so that
 * PostgreSQL seeks in the index.
 *
 * Collection names and paths are written into SQL text; the port's wrappers
 * have checked them against strict patterns, and every value is a
 * parameter. Statements are prepared once per connection under a name
 * derived from a hash of their text (pg_common keeps the names).
 *
 * What differs from the SQLite adapter, for callers (within the contract):
 * - JSONB cannot hold U+0000 in a string: the adapter lacks
 *   RG_DOC_CAP_NUL_IN_STRINGS, so the wrappers refuse such documents.
 * - A real number of magnitude >= 1e17 comes back as an integer when it
 *   fits in 64 bits (JSONB keeps numeric values, not the double's form).
 * - Objects and arrays as sort values order by their JSONB text.
 *
 * Connections come from the bounded pg_common pool, one per operation;
 * every write is one autocommit statement. Reads (get, find) and remove are
 * run once more on a new connection when the first turned out to be lost,
 * so a server restart costs idle connections nothing; other writes report
 * RG_EUNAVAIL. */
#include "pg_common.h"
#include "risinggen/base/alloc.h"
#include "risinggen/base/buf.h"
#include "risinggen/base/error.h"
#include "risinggen/base/log.h"
#include "risinggen/store/documents.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PARAMS_MAX   (2 * RG_DOC_FILTERS_MAX + 8)
#define DDL_ATTEMPTS 5

struct rg_docs {
    struct rg__pg_pool pool;
    pthread_mutex_t lock; /* guards colls */
    char **colls;         /* collections whose table is known to exist */
    int ncolls, capcolls;
};

/* The value at path: body -> 'a' -> 'b'. */
static void put_v(rg_buf *b, const char *path)
{
    rg_buf_puts(b, "(body");
    for (const char *p = path; *p;) {
        size_t n = strcspn(p, ".");
        rg_buf_printf(b, " -> '%.*s'", (int)n, p);
        p += n + (p[n] == '.');
    }
    rg_buf_puts(b, ")");
}

static void put_rank(rg_buf *b, const char *path)
{
    rg_buf_puts(b, "(CASE jsonb_typeof(");
    put_v(b, path);
    rg_buf_puts(b, ") WHEN 'number' THEN 1 WHEN 'string' THEN 2 WHEN 'object' THEN 3 "
                   "WHEN 'array' THEN 4 WHEN 'boolean' THEN 5 ELSE 0 END)");
}

static void put_num(rg_buf *b, const char *path)
{
    rg_buf_puts(b, "(CASE jsonb_typeof(");
    put_v(b, path);
    rg_buf_puts(b, ") WHEN 'number' THEN ");
    put_v(b, path);
    rg_buf_puts(b, "::numeric WHEN 'boolean' THEN CASE WHEN ");
    put_v(b, path);
    rg_buf_puts(b, "::boolean THEN 1 ELSE 0 END ELSE 0 END)");
}

static void put_txt(rg_buf *b, const char *path)
{
    rg_buf_puts(b, "((CASE jsonb_typeof(");
    put_v(b, path);
    rg_buf_puts(b, ") WHEN 'string' THEN ");
    put_v(b, path);
    rg_buf_puts(b, " #>> '{}' WHEN 'object' THEN ");
    put_v(b, path);
    rg_buf_puts(b, "::text WHEN 'array' THEN ");
    put_v(b, path);
    rg_buf_puts(b, "::text ELSE '' END) COLLATE \"C\")");
}

/* 64-bit FNV-1a of s. */
static uint64_t fnv1a(const char *s)
{
    uint64_t h = 14695981039346656037ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

/* A statement being built: SQL text and its text parameters. */
struct query {
    rg_buf sql;
    const char *values[PARAMS_MAX];
    char ints[PARAMS_MAX][24];
    int n;
    char *owned[2]; /* malloc'd parameters (the keyset value), or NULL */
};

/* Adds a text parameter (borrowed) and returns its number. */
static int q_text(struct query *q, const char *v)
{
    q->values[q->n] = v;
    return ++q->n;
}

static int q_int(struct query *q, int64_t v)
{
    snprintf(q->ints[q->n], sizeof q->ints[q->n], "%lld", (long long)v);
    q->values[q->n] = q->ints[q->n];
    return ++q->n;
}

/* Runs sql, prepared under a name derived from its text. Returns rows
 * affected or RG_E*; *out (may be NULL) as rg__pg_exec. */
static int run(struct rg__pg_conn *c, const char *sql, int n, const char *const *values,
               PGresult **out)
{
    char name[24];
    snprintf(name, sizeof name, "rgd_%016llx", (unsigned long long)fnv1a(sql));
    return rg__pg_exec(c, name, sql, n, values, out);
}

static void query_free(struct query *q)
{
    rg_buf_free(&q->sql);
    free(q->owned[0]);
    free(q->owned[1]);
    q->owned[0] = q->owned[1] = NULL;
}

/* Runs q and frees it. */
static int run_query(struct rg__pg_conn *c, struct query *q, PGresult **out)
{
    int rc = run(c, q->sql.data, q->n, q->values, out);
    query_free(q);
    return rc;
}

/* Runs a CREATE … IF NOT EXISTS statement. Threads or processes that create
 * the same object at once race in the catalogs: the loser gets
 * duplicate_table or unique_violation on a catalog index (pg_type, pg_class)
 * once the winner has committed, so the object exists and the statement is
 * simply run again. A unique violation on one of our indexes (documents that
 * already collide) is a real failure. */
static int run_ddl(struct rg__pg_conn *c, const char *sql, const char *what)
{
    for (int attempt = 1;; attempt++) {
        if (!c->conn)
            return rg_error_set(RG_EUNAVAIL, "the database is not reachable; try again");
        PGresult *res = PQexec(c->conn, sql);
        if (res && PQresultStatus(res) == PGRES_COMMAND_OK) {
            PQclear(res);
            return 0;
        }
        const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        const char *cons = res ? PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME) : NULL;
        bool race = state && (strcmp(state, "42P07") == 0 || strcmp(state, "42710") == 0 ||
                              (strcmp(state, "23505") == 0 && (!cons || !strncmp(cons, "pg_", 3))));
        if (race && attempt < DDL_ATTEMPTS) {
            PQclear(res);
            continue;
        }
        int rc = rg__pg_error(c, res, what);
        PQclear(res);
        return rc;
    }
}

static int create_table(struct rg__pg_conn *c, const char *coll)
{
    char sql[192];
    snprintf(sql, sizeof sql,
             "CREATE TABLE IF NOT EXISTS \"doc_%s\" (id TEXT COLLATE \"C\" PRIMARY KEY, "
             "rev BIGINT NOT NULL, body JSONB NOT NULL)",
             coll);
    return run_ddl(c, sql, "documents create table");
}

/* Index names: <kind>_<collection>_<path, dots as _>, cut to fit PostgreSQL's
 * 63 bytes, then a hash of what the index is (so that "a.b" and "a_b", long
 * paths cut alike, or an index turned unique never share a name). version
 * "v1" is the layout before type ranks, on the JSONB value alone. */
static void index_name(const rg_doc_index *ix, const char *kind, const char *version, char out[64])
{
    char what[160];
    snprintf(what, sizeof what, "%s|%s|%s|%s", ix->collection, ix->path,
             ix->unique ? "unique" : "id", version);
    int len = snprintf(out, 64, "%s_%s_", kind, ix->collection);
    for (const char *p = ix->path; *p && len < 54; p++)
        out[len++] = *p == '.' ? '_' : *p;
    snprintf(out + len, (size_t)(64 - len), "_%08x", (unsigned)(fnv1a(what) & 0xffffffffu));
}

static void put_key(rg_buf *b, const char *path)
{
    put_rank(b, path);
    rg_buf_puts(b, ", ");
    put_num(b, path);
    rg_buf_puts(b, ", ");
    put_txt(b, path);
}

/* 1 when the index named name exists, 0 when not, or RG_E*. Looked up
 * before any DDL: CREATE INDEX IF NOT EXISTS and DROP INDEX lock the table
 * before they look, and would wait behind a prepared transaction that
 * holds a row of it (one a crash left for recovery, which runs after the
 * stores are open). */
static int index_exists(struct rg__pg_conn *c, const char *name)
{
    const char *values[] = {name};
    int rc = rg__pg_exec(c, NULL,
                         "SELECT 1 FROM pg_class WHERE relname = $1 AND relkind = 'i' "
                         "AND relnamespace = current_schema()::regnamespace",
                         1, values, NULL);
    return rc < 0 ? rc : rc > 0;
}

static int create_index(struct rg__pg_conn *c, const rg_doc_index *ix)
{
    char name[64];
    index_name(ix, "ix", "v1", name);
    rg_buf b = {0};
    int rc = index_exists(c, name);
    if (rc > 0) {
        rg_buf_printf(&b, "DROP INDEX IF EXISTS \"%s\"", name);
        rc = run_ddl(c, b.data, "documents drop index");
    }
    b.len = 0;
    index_name(ix, "ik", "v2", name);
    rg_buf_printf(&b, "CREATE INDEX IF NOT EXISTS \"%s\" ON \"doc_%s\" (", name, ix->collection);
    put_key(&b, ix->path);
    rg_buf_puts(&b, ", id)");
    if (rc == 0 && (rc = index_exists(c, name)) == 0)
        rc = run_ddl(c, b.data, "documents create index");
    if (rc >= 0 && ix->unique) {
        b.len = 0;
        index_name(ix, "iu", "v2", name);
        rg_buf_printf(&b, "CREATE UNIQUE INDEX IF NOT EXISTS \"%s\" ON \"doc_%s\" (", name,
                      ix->collection);
        put_key(&b, ix->path);
        rg_buf_puts(&b, ") WHERE ");
        put_rank(&b, ix->path);
        rg_buf_puts(&b, " <> 0");
        if ((rc = index_exists(c, name)) == 0)
            rc = run_ddl(c, b.data, "documents create index");
    }
    if (rc < 0) /* e.g. a unique index over documents that already collide */
        rg_err("documents: cannot create the index on %s.%s", ix->collection, ix->path);
    rg_buf_free(&b);
    return rc < 0 ? rc : 0;
}

static bool known_collection(struct rg_docs *d, const char *coll)
{
    bool found = false;
    pthread_mutex_lock(&d->lock);
    for (int i = 0; i < d->ncolls && !found; i++)
        found = strcmp(d->colls[i], coll) == 0;
    pthread_mutex_unlock(&d->lock);
    return found;
}

static void remember_collection(struct rg_docs *d, const char *coll)
{
    if (known_collection(d, coll))
        return;
    pthread_mutex_lock(&d->lock);
    if (d->ncolls == d->capcolls) {
        d->capcolls = d->capcolls ? d->capcolls * 2 : 8;
        d->colls = rg_xrealloc(d->colls, (size_t)d->capcolls * sizeof *d->colls);
    }
    d->colls[d->ncolls++] = rg_xstrdup(coll);
    pthread_mutex_unlock(&d->lock);
}

/* Makes sure coll's table exists, once per store. */
static int ensure_collection(struct rg_docs *d, struct rg__pg_conn *c, const char *coll)
{
    if (known_collection(d, coll))
        return 0;
    int rc = create_table(c, coll);
    if (rc == 0)
        remember_collection(d, coll);
    return rc;
}

/* A connection for an operation on coll, with its table ensured; given back
 * with rg__pg_put. */
static int begin_op(struct rg_docs *d, const char *coll, struct rg__pg_conn **out)
{
    int rc = rg__pg_get(&d->pool, out);
    if (rc < 0)
        return rc;
    if ((rc = ensure_collection(d, *out, coll)) < 0) {
        rg__pg_put(*out);
        *out = NULL;
    }
    return rc;
}

/* True when an operation failed because the connection was lost: running an
 * idempotent operation again takes a new one. */
static bool retry_lost(int rc, const struct rg__pg_conn *c, int attempt)
{
    return rc == RG_EUNAVAIL && c && !c->conn && attempt == 0;
}

static void docs_close(rg_docs *d)
{
    if (!d)
        return;
    rg__pg_pool_close(&d->pool);
    for (int i = 0; i < d->ncolls; i++)
        free(d->colls[i]);
    free(d->colls);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

/* Creates the tables and indexes for the declared indexes. Several processes
 * may do this at once on the same database (see run_ddl). */
static int ensure_indexes(struct rg_docs *d, const rg_doc_index *indexes, int n)
{
    if (n == 0)
        return 0;
    struct rg__pg_conn *c;
    int rc = rg__pg_get(&d->pool, &c);
    for (int i = 0; i < n && rc == 0; i++) {
        rc = ensure_collection(d, c, indexes[i].collection);
        if (rc == 0)
            rc = create_index(c, &indexes[i]);
    }
    rg__pg_put(c);
    return rc;
}

/* Opens the store at a "postgresql://…" (or "postgres://…") url and ensures
 * the declared indexes. *out belongs to the caller (docs_close). */
static int docs_open(rg_docs **out, const char *url, const rg_store_options *opts,
                     const rg_doc_index *indexes, int nindexes)
{
    *out = NULL;
    struct rg_docs *d = rg_xcalloc(1, sizeof *d);
    int rc = rg__pg_pool_open(&d->pool, url, opts, "store=\"documents\",adapter=\"postgresql\"", 0,
                              true);
    if (rc < 0) {
        free(d);
        return rc;
    }
    pthread_mutex_init(&d->lock, NULL);
    if ((rc = ensure_indexes(d, indexes, nindexes)) < 0) {
        docs_close(d);
        return rc;
    }
    *out = d;
    return 0;
}

/* The compact JSON text of doc, malloc'd. */
static int dump_doc(json_t *doc, char **out)
{
    *out = json_dumps(doc, JSON_COMPACT);
    return *out ? 0 : rg_error_set(RG_EINVAL, "the document cannot be encoded");
}

/* JSONB writes numbers without an exponent, so a large real (1e20) comes
 * back as an integer too big for jansson: a copy of text (malloc'd) with
 * ".0" after every integer outside strings that does not fit in 64 bits. */
static char *widen_big_integers(const char *text, size_t len)
{
    rg_buf b = {0};
    size_t i = 0;
    while (i < len) {
        char ch = text[i];
        if (ch == '"') { /* copy the string, escapes included */
            size_t j = i + 1;
            while (j < len && text[j] != '"')
                j += text[j] == '\\' ? 2 : 1;
            j = j < len ? j + 1 : len;
            rg_buf_put(&b, text + i, j - i);
            i = j;
        } else if (ch == '-' || (ch >= '0' && ch <= '9')) {
            size_t j = i + 1;
            while (j < len && strchr("0123456789.eE+-", text[j]))
                j++;
            rg_buf_put(&b, text + i, j - i);
            bool integer = true;
            for (size_t k = i; k < j; k++)
                integer = integer && !strchr(".eE", text[k]);
            if (integer) {
                char num[32];
                errno = 0;
                if (j - i >= sizeof num) {
                    errno = ERANGE;
                } else {
                    memcpy(num, text + i, j - i);
                    num[j - i] = '\0';
                    (void)strtoll(num, NULL, 10);
                }
                if (errno == ERANGE)
                    rg_buf_puts(&b, ".0");
            }
            i = j;
        } else {
            rg_buf_put(&b, &text[i], 1);
            i++;
        }
    }
    rg_buf_puts(&b, "");
    return rg_buf_steal(&b);
}

/* Parses a stored body (JSONB text); *out is a new reference. */
static int load_body(const char *text, int len, json_t **out)
{
    json_error_t jerr;
    json_t *doc = json_loadb(text, (size_t)len, 0, &jerr);
    if (!doc && json_error_code(&jerr) == json_error_numeric_overflow) {
        char *wide = widen_big_integers(text, (size_t)len);
        doc = json_loads(wide, 0, &jerr);
        free(wide);
    }
    if (!json_is_object(doc)) {
        json_decref(doc);
        rg_err("documents: stored body is not a JSON object: %s", jerr.text);
        return rg_error_set(RG_EINTERNAL, "internal error");
    }
    *out = doc;
    return 0;
}

static int insert_on(struct rg__pg_conn *c, const char *coll, const char *id, const char *body)
{
    char sql[128];
    snprintf(sql, sizeof sql, "INSERT INTO \"doc_%s\" (id, rev, body) VALUES ($1, 1, $2::jsonb)",
             coll);
    const char *values[] = {id, body};
    int rc = run(c, sql, 2, values, NULL);
    return rc < 0 ? rc : 0;
}

static int docs_insert(rg_docs *d, const char *coll, const char *id, json_t *doc)
{
    char *body;
    int rc = dump_doc(doc, &body);
    if (rc < 0)
        return rc;
    struct rg__pg_conn *c;
    if ((rc = begin_op(d, coll, &c)) == 0) {
        rc = insert_on(c, coll, id, body);
        rg__pg_put(c);
    }
    free(body);
    return rc;
}

static int get_once(struct rg_docs *d, const char *coll, const char *id, json_t **out, int64_t *rev,
                    bool *lost)
{
    struct rg__pg_conn *c;
    int rc = begin_op(d, coll, &c);
    if (rc < 0)
        return rc;
    char sql[96];
    snprintf(sql, sizeof sql, "SELECT rev, body FROM \"doc_%s\" WHERE id = $1", coll);
    PGresult *res;
    if ((rc = run(c, sql, 1, &id, &res)) >= 0) {
        if (PQntuples(res) == 0)
            rc = rg_error_set(RG_ENOTFOUND, "no such document");
        else if ((rc = load_body(PQgetvalue(res, 0, 1), PQgetlength(res, 0, 1), out)) == 0 && rev)
            *rev = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        PQclear(res);
    }
    *lost = !c->conn;
    rg__pg_put(c);
    return rc;
}

static int docs_get(rg_docs *d, const char *coll, const char *id, json_t **out, int64_t *rev)
{
    *out = NULL;
    int rc = 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        bool lost = false;
        rc = get_once(d, coll, id, out, rev, &lost);
        if (!(rc == RG_EUNAVAIL && lost && attempt == 0))
            break;
    }
    return rc;
}

static int replace_on(struct rg__pg_conn *c, const char *coll, const char *id, const char *body,
                      int64_t expect_rev)
{
    char sql[192];
    snprintf(sql, sizeof sql,
             "UPDATE \"doc_%s\" SET body = $2::jsonb, rev = rev + 1 "
             "WHERE id = $1 AND ($3::bigint = 0 OR rev = $3::bigint)",
             coll);
    char revs[24];
    snprintf(revs, sizeof revs, "%lld", (long long)expect_rev);
    const char *values[] = {id, body, revs};
    int rc = run(c, sql, 3, values, NULL);
    if (rc == 0) {
        /* No row changed: the document is gone, or (only with expect_rev)
         * another write came first. Read committed: this sees the latest
         * commit. */
        snprintf(sql, sizeof sql, "SELECT 1 FROM \"doc_%s\" WHERE id = $1", coll);
        if ((rc = run(c, sql, 1, &id, NULL)) >= 0)
            rc = rc > 0 ? rg_error_set(RG_ESTALE, "the document was changed by another request")
                        : rg_error_set(RG_ENOTFOUND, "no such document");
    }
    return rc < 0 ? rc : 0;
}

static int docs_replace(rg_docs *d, const char *coll, const char *id, json_t *doc,
                        int64_t expect_rev)
{
    char *body;
    int rc = dump_doc(doc, &body);
    if (rc < 0)
        return rc;
    struct rg__pg_conn *c;
    if ((rc = begin_op(d, coll, &c)) == 0) {
        rc = replace_on(c, coll, id, body, expect_rev);
        rg__pg_put(c);
    }
    free(body);
    return rc;
}

static int remove_on(struct rg__pg_conn *c, const char *coll, const char *id)
{
    char sql[96];
    snprintf(sql, sizeof sql, "DELETE FROM \"doc_%s\" WHERE id = $1", coll);
    int rc = run(c, sql, 1, &id, NULL);
    return rc < 0 ? rc : 0;
}

static int docs_remove(rg_docs *d, const char *coll, const char *id)
{
    int rc = 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        struct rg__pg_conn *c = NULL;
        if ((rc = begin_op(d, coll, &c)) < 0)
            return rc;
        rc = remove_on(c, coll, id);
        bool again = retry_lost(rc, c, attempt);
        rg__pg_put(c);
        if (!again)
            break;
    }
    return rc < 0 ? rc : 0;
}

/* Appends " AND <condition>" per filter to b, adding parameters to q: a
 * typed equality or less-than on (rank, num, txt). */
static void put_filters(rg_buf *b, struct query *q, const rg_doc_filter *filters, int n)
{
    for (int i = 0; i < n; i++) {
        const rg_doc_filter *f = &filters[i];
        rg_buf_puts(b, " AND ");
        if (!f->is_int && !f->value) { /* no value: never less than anything */
            if (f->less_than) {
                rg_buf_puts(b, "FALSE");
            } else {
                put_rank(b, f->path);
                rg_buf_puts(b, " = 0");
            }
            continue;
        }
        const char *op = f->less_than ? "<" : "=";
        put_rank(b, f->path);
        if (f->is_int) {
            rg_buf_puts(b, " = 1 AND ");
            put_num(b, f->path);
            rg_buf_printf(b, " %s $%d::numeric", op, q_int(q, f->ival));
        } else {
            rg_buf_puts(b, " = 2 AND ");
            put_num(b, f->path);
            rg_buf_puts(b, " = 0 AND ");
            put_txt(b, f->path);
            rg_buf_printf(b, " %s ($%d::text COLLATE \"C\")", op, q_text(q, f->value));
        }
    }
}

/* The num and txt parameters of a keyset value, as the expressions hold
 * it; *owned receives text to free. */
static void key_params(struct query *q, json_t *v, int *p_num, int *p_txt)
{
    char *num = NULL, *txt = NULL;
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_INTEGER:
    case JSON_REAL:
        num = json_dumps(v, JSON_ENCODE_ANY);
        break;
    case JSON_TRUE:
        num = rg_xstrdup("1");
        break;
    case JSON_STRING:
        txt = rg_xstrndup(json_string_value(v), json_string_length(v));
        break;
    case JSON_OBJECT:
    case JSON_ARRAY:
        /* given as JSON; the statement turns it into JSONB's own text,
         * which is what the txt expression holds */
        txt = json_dumps(v, JSON_COMPACT);
        break;
    default:
        break;
    }
    if (!num)
        num = rg_xstrdup("0");
    if (!txt)
        txt = rg_xstrdup("");
    q->owned[0] = num;
    q->owned[1] = txt;
    *p_num = q_text(q, num);
    *p_txt = q_text(q, txt);
}

static void put_order(rg_buf *b, const rg_doc_query *a)
{
    const char *dir = a->desc ? " DESC" : " ASC";
    rg_buf_puts(b, " ORDER BY ");
    if (a->sort_path) {
        put_rank(b, a->sort_path);
        rg_buf_puts(b, dir);
        rg_buf_puts(b, ", ");
        put_num(b, a->sort_path);
        rg_buf_puts(b, dir);
        rg_buf_puts(b, ", ");
        put_txt(b, a->sort_path);
        rg_buf_puts(b, dir);
        rg_buf_puts(b, ", ");
    }
    rg_buf_printf(b, "id%s", dir);
}

/* Builds the find statement into q (free it with query_free). */
static void build_find(const char *coll, const rg_doc_query *a, struct query *q)
{
    rg_buf_printf(&q->sql, "SELECT id, body FROM \"doc_%s\" WHERE TRUE", coll);
    put_filters(&q->sql, q, a->filters, a->nfilters);
    const char *gt = a->desc ? "<" : ">";
    if (a->after_id && !a->sort_path) {
        rg_buf_printf(&q->sql, " AND id %s $%d", gt, q_text(q, a->after_id));
    } else if (a->after_id) {
        int p_rank = q_int(q, rg_doc_type_rank(a->after_value)), p_num, p_txt;
        key_params(q, a->after_value, &p_num, &p_txt);
        int p_id = q_text(q, a->after_id);
        bool json_text = json_is_object(a->after_value) || json_is_array(a->after_value);
        rg_buf_puts(&q->sql, " AND (");
        put_key(&q->sql, a->sort_path);
        rg_buf_printf(&q->sql,
                      ", id) %s ($%d::int, $%d::numeric, ($%d::%s) COLLATE \"C\", $%d::text)", gt,
                      p_rank, p_num, p_txt, json_text ? "jsonb::text" : "text", p_id);
    }
    put_order(&q->sql, a);
    rg_buf_printf(&q->sql, " LIMIT $%d", q_int(q, a->limit));
}

/* Appends the rows (id, body) of res to arr as {"id", "doc"} objects. */
static int append_rows(PGresult *res, json_t *arr)
{
    for (int r = 0; r < PQntuples(res); r++) {
        json_t *doc;
        int rc = load_body(PQgetvalue(res, r, 1), PQgetlength(res, r, 1), &doc);
        if (rc < 0)
            return rc;
        json_t *item = json_object();
        json_object_set_new(item, "id", json_string(PQgetvalue(res, r, 0)));
        json_object_set_new(item, "doc", doc);
        json_array_append_new(arr, item);
    }
    return 0;
}

static int find_once(struct rg_docs *d, const char *coll, const rg_doc_query *a, json_t *arr,
                     bool *lost)
{
    struct rg__pg_conn *c;
    int rc = begin_op(d, coll, &c);
    if (rc < 0)
        return rc;
    struct query q = {0};
    PGresult *res = NULL;
    build_find(coll, a, &q);
    rc = run_query(c, &q, &res);
    *lost = !c->conn;
    rg__pg_put(c);
    if (rc < 0)
        return rc;
    rc = append_rows(res, arr);
    PQclear(res);
    return rc;
}

static int docs_find(rg_docs *d, const char *coll, const rg_doc_query *q, json_t **out)
{
    *out = NULL;
    int rc = 0;
    json_t *arr = NULL;
    for (int attempt = 0; attempt < 2; attempt++) {
        bool lost = false;
        json_decref(arr);
        arr = json_array();
        rc = find_once(d, coll, q, arr, &lost);
        if (!(rc == RG_EUNAVAIL && lost && attempt == 0))
            break;
    }
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
    struct rg__pg_conn *c;
    int rc = begin_op(d, coll, &c);
    if (rc < 0)
        return rc;
    struct query q = {0};
    rg_buf_printf(&q.sql, "DELETE FROM \"doc_%s\" WHERE TRUE", coll);
    put_filters(&q.sql, &q, filters, nfilters);
    rc = run_query(c, &q, NULL);
    rg__pg_put(c);
    return rc;
}

static int docs_ping(rg_docs *d)
{
    return rg__pg_ping(&d->pool);
}

/* One write of a prepared transaction, on c inside it. */
static int write_on(struct rg__pg_conn *c, const rg_doc_write *w)
{
    if (w->op == RG_DOC_W_REMOVE)
        return remove_on(c, w->collection, w->id);
    char *body;
    int rc = dump_doc(w->doc, &body);
    if (rc == 0) {
        rc = w->op == RG_DOC_W_INSERT ? insert_on(c, w->collection, w->id, body)
                                      : replace_on(c, w->collection, w->id, body, w->expect_rev);
        free(body);
    }
    return rc;
}

/* The n writes in one transaction, ended by COMMIT, or by PREPARE
 * TRANSACTION under gid when gid is given. */
static int run_writes(rg_docs *d, const rg_doc_write *writes, int n, const char *gid)
{
    struct rg__pg_conn *c;
    int rc = rg__pg_get(&d->pool, &c);
    if (rc < 0)
        return rc;
    for (int i = 0; i < n && rc == 0; i++) /* tables first: DDL stays out of it */
        rc = ensure_collection(d, c, writes[i].collection);
    if (rc == 0 && (rc = rg__pg_command(c, "BEGIN")) == 0) {
        c->in_tx = true;
        for (int i = 0; i < n && rc == 0; i++)
            rc = write_on(c, &writes[i]);
        if (rc == 0 && gid)
            rc = rg__pg_prepare(c, gid);
        else if (rc == 0 && (rc = rg__pg_command(c, "COMMIT")) == 0)
            c->in_tx = false;
    }
    rg__pg_put(c); /* rolls back a transaction left open by a failed write */
    return rc;
}

static int docs_prepare(rg_docs *d, const char *gid, const rg_doc_write *writes, int n)
{
    return run_writes(d, writes, n, gid);
}

static int docs_write_all(rg_docs *d, const rg_doc_write *writes, int n)
{
    return run_writes(d, writes, n, NULL);
}

static int docs_atomic_ready(rg_docs *d)
{
    (void)d;
    return 1;
}

static int docs_finish_prepared(rg_docs *d, const char *gid, bool commit)
{
    struct rg__pg_conn *c;
    int rc = rg__pg_get(&d->pool, &c);
    if (rc < 0)
        return rc;
    rc = rg__pg_finish_prepared(c, gid, commit);
    rg__pg_put(c);
    return rc;
}

static int docs_prepared_list(rg_docs *d, const char *prefix, rg_gid_fn each, void *arg)
{
    struct rg__pg_conn *c;
    int rc = rg__pg_get(&d->pool, &c);
    if (rc < 0)
        return rc;
    rc = rg__pg_prepared_list(c, prefix, each, arg);
    rg__pg_put(c);
    return rc;
}

static int docs_prepared_ready(rg_docs *d)
{
    return rg__pg_prepared_ready(&d->pool);
}

const struct rg_doc_ops rg_pg_doc_ops = {
    .version = RG_DOC_OPS_VERSION,
    .caps = RG_DOC_CAP_UNIQUE | RG_DOC_CAP_PREPARED | RG_DOC_CAP_ATOMIC,
    .scheme = "postgresql",
    .open = docs_open,
    .close = docs_close,
    .insert = docs_insert,
    .get = docs_get,
    .replace = docs_replace,
    .remove = docs_remove,
    .find = docs_find,
    .remove_where = docs_remove_where,
    .ping = docs_ping,
    .prepare = docs_prepare,
    .finish_prepared = docs_finish_prepared,
    .prepared_list = docs_prepared_list,
    .prepared_ready = docs_prepared_ready,
    .write_all = docs_write_all,
    .atomic_ready = docs_atomic_ready,
};
