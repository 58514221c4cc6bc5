/* Documents port on PostgreSQL (JSONB). One table per collection,
 *   "doc_<collection>" (id TEXT COLLATE "C" PRIMARY KEY, rev BIGINT, body JSONB),
 * created at open for every collection that has a declared index and lazily
 * on first use of any other collection. Ids compare byte by byte (COLLATE
 * "C"), as in the SQLite adapter, whatever the database's locale.
 *
 * The value at a path is the expression
 *   NULLIF(body #> '{"a","b"}', 'null'::jsonb)
 * so that a missing field and a JSON null are both SQL NULL, as
 * json_extract makes them in SQLite. Each declared index is a btree on that
 * expression, NULLS FIRST (a forward scan serves ascending order with
 * documents without a value first, a backward scan descending order with
 * them last); a non-unique one also holds id, the tie-break of every sort.
 * Filters, sorts and keyset ranges use exactly that expression, so that
 * PostgreSQL uses the index.
 *
 * Collection names and paths are written into SQL text, so they are checked
 * against strict patterns first ([a-z_]{1,32} and [A-Za-z0-9_.]{1,64}, path
 * segments quoted in the array literal); every value is a parameter.
 * Statements are prepared once per connection under a name derived from a
 * hash of their text (pg_common keeps the names).
 *
 * What differs from the SQLite adapter, for callers:
 * - JSONB cannot hold U+0000 in a string: such a document is refused with
 *   RG_EVALIDATION (caps lack RG_DOC_CAP_NUL_IN_STRINGS).
 * - Key order inside a document is not kept (JSONB orders keys). A real
 *   number of magnitude >= 1e17 comes back as an integer when it fits in 64
 *   bits (JSONB keeps numeric values, not the double's written form).
 * - Sorting across JSON types follows JSONB (string < number < boolean <
 *   array < object), not SQLite's (number < text); strings sort by the
 *   database's collation (use a C or C.UTF-8 database for byte order).
 *   Equality and less-than match only values of the filter's JSON type
 *   (a boolean is not the number 1).
 * - Ids, text filter values and keyset values must be valid UTF-8
 *   (RG_EINVAL otherwise). A path segment of digits also indexes an array
 *   ("tags.0" is the first tag); in SQLite it only names a member "0".
 *
 * Threads: one connection per thread from the pg_common pool; every write
 * is one autocommit statement. Reads (get, find) and remove are run once
 * more when the connection turned out to be lost, so a server restart costs
 * idle threads nothing; other writes report RG_EUNAVAIL and the next call
 * reconnects. rg_pg_doc_ops.close must not run while another thread still
 * uses the store. */
#include "pg_common.h"
#include "risinggen/store/documents.h"
#include "risinggen/base/error.h"
#include "risinggen/base/alloc.h"
#include "risinggen/base/buf.h"
#include "risinggen/base/log.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ID_MAX       512
#define FILTERS_MAX  16
#define PARAMS_MAX   (FILTERS_MAX + 4)
#define DDL_ATTEMPTS 5

struct rg_docs {
    struct rg__pg_pool pool;
    pthread_mutex_t lock; /* guards colls */
    char **colls;         /* collections whose table is known to exist */
    int ncolls, capcolls;
};

/* ---- names and values ---- */

static bool valid_collection(const char *s)
{
    return rg_doc_collection_valid(s);
}

static bool valid_path(const char *s)
{
    return rg_doc_path_valid(s);
}

/* Well-formed UTF-8 (PostgreSQL refuses anything else in a text value). */
static bool valid_utf8(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        int more;
        unsigned min;
        if (c < 0x80) {
            p++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            more = 1, min = 0x80, c &= 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            more = 2, min = 0x800, c &= 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            more = 3, min = 0x10000, c &= 0x07;
        } else {
            return false;
        }
        p++;
        for (int i = 0; i < more; i++, p++) {
            if ((*p & 0xC0) != 0x80)
                return false;
            c = (c << 6) | (*p & 0x3F);
        }
        if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
            return false;
    }
    return true;
}

static bool valid_id(const char *id)
{
    return id && *id && strlen(id) <= ID_MAX && valid_utf8(id);
}

/* Appends the indexed expression for path:
 * NULLIF(body #> '{"a","b"}', 'null'::jsonb). Segments are quoted so that a
 * segment such as "null" is a key, not an SQL NULL in the array literal. */
static void put_expr(rg_buf *b, const char *path)
{
    rg_buf_puts(b, "NULLIF(body #> '{\"");
    for (const char *p = path; *p; p++) {
        if (*p == '.')
            rg_buf_puts(b, "\",\"");
        else
            rg_buf_put(b, p, 1);
    }
    rg_buf_puts(b, "\"}', 'null'::jsonb)");
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

/* ---- statements ---- */

/* A statement being built: SQL text and its text parameters. */
struct query {
    rg_buf sql;
    const char *values[PARAMS_MAX];
    char ints[PARAMS_MAX][24];
    int n;
    char *owned; /* a malloc'd parameter (the keyset value), or NULL */
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
    free(q->owned);
    q->owned = NULL;
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

/* ---- tables and indexes ---- */

static int create_table(struct rg__pg_conn *c, const char *coll)
{
    char sql[192];
    snprintf(sql, sizeof sql,
             "CREATE TABLE IF NOT EXISTS \"doc_%s\" (id TEXT COLLATE \"C\" PRIMARY KEY, "
             "rev BIGINT NOT NULL, body JSONB NOT NULL)",
             coll);
    return run_ddl(c, sql, "documents create table");
}

/* Index names: ix_<collection>_<path, dots as _>, cut to fit PostgreSQL's 63
 * bytes, then a hash of what the index is (so that "a.b" and "a_b", long
 * paths cut alike, or an index turned unique never share a name). */
static void index_name(const rg_doc_index *ix, char out[64])
{
    char what[160];
    snprintf(what, sizeof what, "%s|%s|%s|v1", ix->collection, ix->path,
             ix->unique ? "unique" : "id");
    int len = snprintf(out, 64, "ix_%s_", ix->collection);
    for (const char *p = ix->path; *p && len < 54; p++)
        out[len++] = *p == '.' ? '_' : *p;
    snprintf(out + len, (size_t)(64 - len), "_%08x", (unsigned)(fnv1a(what) & 0xffffffffu));
}

static int create_index(struct rg__pg_conn *c, const rg_doc_index *ix)
{
    char name[64];
    index_name(ix, name);
    rg_buf b = {0};
    rg_buf_printf(&b, "CREATE %sINDEX IF NOT EXISTS \"%s\" ON \"doc_%s\" ((",
                  ix->unique ? "UNIQUE " : "", name, ix->collection);
    put_expr(&b, ix->path);
    rg_buf_puts(&b, ix->unique ? ") NULLS FIRST)" : ") NULLS FIRST, id)");
    int rc = run_ddl(c, b.data, "documents create index");
    if (rc < 0) /* e.g. a unique index over documents that already collide */
        rg_err("documents: cannot create the index on %s.%s", ix->collection, ix->path);
    rg_buf_free(&b);
    return rc;
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
        char **n = realloc(d->colls, (size_t)d->capcolls * sizeof *n);
        if (!n)
            abort();
        d->colls = n;
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

/* The calling thread's connection for an operation on coll: checks the name
 * and ensures the table. Borrowed. */
static int begin_op(struct rg_docs *d, const char *coll, struct rg__pg_conn **out)
{
    if (!valid_collection(coll))
        return rg_error_set(RG_EINVAL, "invalid collection name");
    int rc = rg__pg_conn(&d->pool, out);
    if (rc < 0)
        return rc;
    return ensure_collection(d, *out, coll);
}

/* True when an operation failed because the connection was lost (it has
 * been dropped, so running an idempotent operation again reconnects). */
static bool retry_lost(int rc, const struct rg__pg_conn *c, int attempt)
{
    return rc == RG_EUNAVAIL && c && !c->conn && attempt == 0;
}

/* ---- open / close ---- */

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
    int rc = rg__pg_conn(&d->pool, &c);
    for (int i = 0; i < n && rc == 0; i++) {
        rc = ensure_collection(d, c, indexes[i].collection);
        if (rc == 0)
            rc = create_index(c, &indexes[i]);
    }
    return rc;
}

/* Opens the store at a "postgresql://…" (or "postgres://…") url and ensures
 * the declared indexes. *out belongs to the caller (docs_close). indexes are
 * borrowed. */
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
    int rc = rg__pg_pool_open(&d->pool, url,
                              "rg_pool_connections{store=\"documents\",adapter=\"postgresql\"}");
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

/* ---- single documents ---- */

/* True when the compact JSON text s holds an escaped U+0000 (JSON text has
 * a backslash only inside strings, always starting an escape). */
static bool has_nul_escape(const char *s)
{
    for (; *s; s++)
        if (*s == '\\') {
            if (s[1] == 'u' && strncmp(s + 2, "0000", 4) == 0)
                return true;
            if (s[1])
                s++;
        }
    return false;
}

/* The compact JSON text of doc (an object), malloc'd. */
static int dump_doc(json_t *doc, char **out)
{
    *out = NULL;
    if (!json_is_object(doc))
        return rg_error_set(RG_EINVAL, "a document must be a JSON object");
    char *s = json_dumps(doc, JSON_COMPACT);
    if (!s)
        return rg_error_set(RG_EINVAL, "the document cannot be encoded");
    if (has_nul_escape(s)) {
        free(s);
        return rg_error_set(RG_EVALIDATION,
                            "text in a document cannot contain the NUL character (\\u0000)");
    }
    *out = s;
    return 0;
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

static int docs_insert(rg_docs *d, const char *coll, const char *id, json_t *doc)
{
    if (!valid_id(id))
        return rg_error_set(RG_EINVAL, "invalid document id");
    struct rg__pg_conn *c;
    int rc = begin_op(d, coll, &c);
    if (rc < 0)
        return rc;
    char *body;
    if ((rc = dump_doc(doc, &body)) < 0)
        return rc;
    char sql[128];
    snprintf(sql, sizeof sql, "INSERT INTO \"doc_%s\" (id, rev, body) VALUES ($1, 1, $2::jsonb)",
             coll);
    const char *values[] = {id, body};
    rc = run(c, sql, 2, values, NULL);
    free(body);
    return rc < 0 ? rc : 0;
}

static int get_once(struct rg_docs *d, const char *coll, const char *id, json_t **out, int64_t *rev,
                    struct rg__pg_conn **cp)
{
    int rc = begin_op(d, coll, cp);
    if (rc < 0)
        return rc;
    char sql[96];
    snprintf(sql, sizeof sql, "SELECT rev, body FROM \"doc_%s\" WHERE id = $1", coll);
    PGresult *res;
    if ((rc = run(*cp, sql, 1, &id, &res)) < 0)
        return rc;
    if (PQntuples(res) == 0) {
        rc = rg_error_set(RG_ENOTFOUND, "no such document");
    } else if ((rc = load_body(PQgetvalue(res, 0, 1), PQgetlength(res, 0, 1), out)) == 0 && rev) {
        *rev = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    }
    PQclear(res);
    return rc;
}

static int docs_get(rg_docs *d, const char *coll, const char *id, json_t **out, int64_t *rev)
{
    *out = NULL;
    if (!valid_id(id))
        return rg_error_set(RG_EINVAL, "invalid document id");
    int rc = 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        struct rg__pg_conn *c = NULL;
        rc = get_once(d, coll, id, out, rev, &c);
        if (!retry_lost(rc, c, attempt))
            break;
    }
    return rc;
}

static int docs_replace(rg_docs *d, const char *coll, const char *id, json_t *doc,
                        int64_t expect_rev)
{
    if (!valid_id(id))
        return rg_error_set(RG_EINVAL, "invalid document id");
    if (expect_rev < 0)
        return rg_error_set(RG_EINVAL, "invalid revision");
    struct rg__pg_conn *c;
    int rc = begin_op(d, coll, &c);
    if (rc < 0)
        return rc;
    char *body;
    if ((rc = dump_doc(doc, &body)) < 0)
        return rc;
    char sql[192];
    snprintf(sql, sizeof sql,
             "UPDATE \"doc_%s\" SET body = $2::jsonb, rev = rev + 1 "
             "WHERE id = $1 AND ($3::bigint = 0 OR rev = $3::bigint)",
             coll);
    char revs[24];
    snprintf(revs, sizeof revs, "%lld", (long long)expect_rev);
    const char *values[] = {id, body, revs};
    rc = run(c, sql, 3, values, NULL);
    free(body);
    if (rc != 0)
        return rc < 0 ? rc : 0;
    /* No row changed: the document is gone, or (only with expect_rev) another
     * write came first. Read committed: this sees the latest commit. */
    snprintf(sql, sizeof sql, "SELECT 1 FROM \"doc_%s\" WHERE id = $1", coll);
    if ((rc = run(c, sql, 1, &id, NULL)) < 0)
        return rc;
    return rc > 0 ? rg_error_set(RG_ESTALE, "the document was changed by another request")
                  : rg_error_set(RG_ENOTFOUND, "no such document");
}

static int docs_remove(rg_docs *d, const char *coll, const char *id)
{
    if (!valid_id(id))
        return rg_error_set(RG_EINVAL, "invalid document id");
    int rc = 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        struct rg__pg_conn *c = NULL;
        if ((rc = begin_op(d, coll, &c)) < 0)
            return rc;
        char sql[96];
        snprintf(sql, sizeof sql, "DELETE FROM \"doc_%s\" WHERE id = $1", coll);
        rc = run(c, sql, 1, &id, NULL);
        if (!retry_lost(rc, c, attempt))
            break;
    }
    return rc < 0 ? rc : 0;
}

/* ---- queries ---- */

static int check_filters(const rg_doc_filter *filters, int n)
{
    if (n < 0 || n > FILTERS_MAX || (n > 0 && !filters))
        return rg_error_set(RG_EINVAL, "invalid filters");
    for (int i = 0; i < n; i++) {
        if (!valid_path(filters[i].path))
            return rg_error_set(RG_EINVAL, "invalid filter path");
        if (!filters[i].is_int && filters[i].value && !valid_utf8(filters[i].value))
            return rg_error_set(RG_EINVAL, "invalid filter value");
    }
    return 0;
}

/* Appends " AND <condition>" per filter to b, adding parameters to q:
 * equality with the JSON value (text or number), IS NULL for a text equality
 * without a value; "less than" only among values of the filter's JSON type
 * (in JSONB every string sorts before every number). */
static void put_filters(rg_buf *b, struct query *q, const rg_doc_filter *filters, int n)
{
    for (int i = 0; i < n; i++) {
        const rg_doc_filter *f = &filters[i];
        rg_buf_puts(b, " AND ");
        if (!f->is_int && !f->value) {
            if (f->less_than) {
                rg_buf_puts(b, "FALSE");
            } else {
                put_expr(b, f->path);
                rg_buf_puts(b, " IS NULL");
            }
            continue;
        }
        put_expr(b, f->path);
        int p = f->is_int ? q_int(q, f->ival) : q_text(q, f->value);
        rg_buf_printf(b, " %s to_jsonb($%d::%s)", f->less_than ? "<" : "=", p,
                      f->is_int ? "bigint" : "text");
        if (f->less_than && f->is_int) {
            rg_buf_puts(b, " AND jsonb_typeof(");
            put_expr(b, f->path);
            rg_buf_puts(b, ") = 'number'");
        }
    }
}

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
    if (errno || *end || !isfinite(v))
        return false;
    *out = v;
    return true;
}

struct find_args {
    const char *coll;
    const rg_doc_filter *filters;
    int nfilters;
    const char *sort_path;
    bool desc;
    const char *after_value, *after_id;
    int limit;
};

/* The keyset value as JSON text (malloc'd), of the JSON type that sort_path
 * has in the after_id document when it still exists, else as the literal
 * looks (a number, or else a string), as the SQLite adapter binds it. */
static int key_json(struct rg__pg_conn *c, const struct find_args *a, char **out)
{
    *out = NULL;
    if (!valid_utf8(a->after_value))
        return rg_error_set(RG_EINVAL, "invalid keyset value");
    rg_buf b = {0};
    rg_buf_puts(&b, "SELECT jsonb_typeof(");
    put_expr(&b, a->sort_path);
    rg_buf_printf(&b, ") FROM \"doc_%s\" WHERE id = $1", a->coll);
    PGresult *res;
    int rc = run(c, b.data, 1, &a->after_id, &res);
    rg_buf_free(&b);
    if (rc < 0)
        return rc;
    char type[16] = "";
    if (PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
        snprintf(type, sizeof type, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);

    const char *v = a->after_value;
    int64_t i;
    double r;
    char num[40];
    json_t *j = NULL;
    if (strcmp(type, "string") == 0) {
        j = json_string(v);
    } else if (strcmp(type, "boolean") == 0 && (!strcmp(v, "true") || !strcmp(v, "false"))) {
        j = json_boolean(v[0] == 't');
    } else if (strcmp(type, "object") == 0 || strcmp(type, "array") == 0) {
        j = json_loads(v, JSON_DECODE_ANY, NULL);
        if (!json_is_object(j) && !json_is_array(j)) {
            json_decref(j);
            j = NULL;
        }
    }
    if (j) {
        *out = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
        json_decref(j);
    } else if (parse_int(v, &i)) {
        snprintf(num, sizeof num, "%lld", (long long)i);
        *out = rg_xstrdup(num);
    } else if (parse_real(v, &r)) {
        snprintf(num, sizeof num, "%.17g", r);
        *out = rg_xstrdup(num);
    } else {
        j = json_string(v);
        *out = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
        json_decref(j);
    }
    if (!*out)
        return rg_error_set(RG_EINVAL, "invalid keyset value");
    return 0;
}

/* Appends the order of the sort: value (documents without one first
 * ascending, last descending, as in SQLite), then id; "k" names the value
 * column of the union's outer query. */
static void put_order(rg_buf *b, const struct find_args *a, bool outer)
{
    rg_buf_puts(b, " ORDER BY ");
    if (a->sort_path) {
        if (outer)
            rg_buf_puts(b, "k");
        else
            put_expr(b, a->sort_path);
        rg_buf_puts(b, a->desc ? " DESC NULLS LAST, " : " ASC NULLS FIRST, ");
    }
    rg_buf_puts(b, a->desc ? "id DESC" : "id ASC");
}

/* One SELECT over the collection: the filters (where), an extra condition
 * (cond, may be NULL), the sort order and the limit. */
static void put_select(rg_buf *b, const struct find_args *a, const char *cols, const char *where,
                       const char *cond, int p_limit)
{
    rg_buf_printf(b, "SELECT %s FROM \"doc_%s\" WHERE TRUE%s", cols, a->coll, where);
    if (cond)
        rg_buf_printf(b, " AND %s", cond);
    put_order(b, a, false);
    rg_buf_printf(b, " LIMIT $%d", p_limit);
}

/* Builds the find statement into q (free it with query_free). With a keyset
 * position on a sort path, documents without a value are a segment of their
 * own (by id); the position lies in one segment, read from there with a
 * range its index can seek to, and when the order goes on into the other
 * segment, that one is read from its start in the same statement (UNION ALL
 * of two index scans, so one snapshot). */
static int build_find(struct rg__pg_conn *c, const struct find_args *a, struct query *q)
{
    rg_buf where = {0}, e = {0}, seg1 = {0}, seg2 = {0};
    put_filters(&where, q, a->filters, a->nfilters);
    const char *w = where.data ? where.data : "";
    int rc = 0;
    if (!a->sort_path || !a->after_id) {
        char cond[32] = "";
        if (a->after_id)
            snprintf(cond, sizeof cond, "id %s $%d", a->desc ? "<" : ">", q_text(q, a->after_id));
        int p_limit = q_int(q, a->limit);
        put_select(&q->sql, a, "id, body", w, cond[0] ? cond : NULL, p_limit);
        rg_buf_free(&where);
        return 0;
    }
    put_expr(&e, a->sort_path);
    const char *lt = a->desc ? "<" : ">";
    bool in_null = a->after_value == NULL;
    if (in_null) {
        int p_after = q_text(q, a->after_id);
        rg_buf_printf(&seg1, "%s IS NULL AND id %s $%d", e.data, lt, p_after);
        rg_buf_printf(&seg2, "%s IS NOT NULL", e.data);
    } else {
        if ((rc = key_json(c, a, &q->owned)) < 0)
            goto done;
        int p_val = q_text(q, q->owned);
        int p_after = q_text(q, a->after_id);
        rg_buf_printf(&seg1, "(%s, id) %s ($%d::jsonb, $%d)", e.data, lt, p_val, p_after);
        rg_buf_printf(&seg2, "%s IS NULL", e.data);
    }
    int p_limit = q_int(q, a->limit);
    /* Ascending, nothing-first: after the null segment comes the value one.
     * Descending, nothing-last: after the value segment comes the null one. */
    bool two = in_null ? !a->desc : a->desc;
    if (!two) {
        put_select(&q->sql, a, "id, body", w, seg1.data, p_limit);
    } else {
        rg_buf cols = {0};
        rg_buf_printf(&cols, "id, body, %s AS k", e.data);
        rg_buf_puts(&q->sql, "SELECT id, body FROM ((");
        put_select(&q->sql, a, cols.data, w, seg1.data, p_limit);
        rg_buf_puts(&q->sql, ") UNION ALL (");
        put_select(&q->sql, a, cols.data, w, seg2.data, p_limit);
        rg_buf_puts(&q->sql, ")) s");
        put_order(&q->sql, a, true);
        rg_buf_printf(&q->sql, " LIMIT $%d", p_limit);
        rg_buf_free(&cols);
    }
done:
    rg_buf_free(&where);
    rg_buf_free(&e);
    rg_buf_free(&seg1);
    rg_buf_free(&seg2);
    return rc;
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

static int find_once(struct rg_docs *d, const struct find_args *a, json_t *arr,
                     struct rg__pg_conn **cp)
{
    int rc = begin_op(d, a->coll, cp);
    if (rc < 0)
        return rc;
    struct query q = {0};
    PGresult *res = NULL;
    if ((rc = build_find(*cp, a, &q)) == 0)
        rc = run_query(*cp, &q, &res);
    else
        query_free(&q);
    if (rc < 0)
        return rc;
    rc = append_rows(res, arr);
    PQclear(res);
    return rc;
}

/* Documents matching the filters in the requested order; *out is a new array
 * (json_decref) of {"id", "doc"} objects. limit must be positive. after_value
 * is taken with the JSON type that sort_path has in the after_id document
 * (so that "10" is a number or a string as stored), or as its literal looks
 * when that document is gone; NULL after_value is the position among
 * documents without a sort value. */
static int docs_find(rg_docs *d, const char *coll, const rg_doc_filter *filters, int nfilters,
                     const char *sort_path, bool desc, const char *after_value,
                     const char *after_id, int limit, json_t **out)
{
    *out = NULL;
    int rc = rg_doc_find_args_check(filters, nfilters, sort_path, after_id, limit);
    if (rc < 0 || (rc = check_filters(filters, nfilters)) < 0) /* and UTF-8 values */
        return rc;
    struct find_args a = {coll, filters, nfilters, sort_path, desc, after_value, after_id, limit};
    json_t *arr = NULL;
    for (int attempt = 0; attempt < 2; attempt++) {
        struct rg__pg_conn *c = NULL;
        json_decref(arr);
        arr = json_array();
        rc = find_once(d, &a, arr, &c);
        if (!retry_lost(rc, c, attempt))
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
    int rc = check_filters(filters, nfilters);
    if (rc < 0)
        return rc;
    struct rg__pg_conn *c;
    if ((rc = begin_op(d, coll, &c)) < 0)
        return rc;
    struct query q = {0};
    rg_buf_printf(&q.sql, "DELETE FROM \"doc_%s\" WHERE TRUE", coll);
    put_filters(&q.sql, &q, filters, nfilters);
    return run_query(c, &q, NULL);
}

static int docs_ping(rg_docs *d)
{
    return rg__pg_ping(&d->pool);
}

const struct rg_doc_ops rg_pg_doc_ops = {
    .version = RG_DOC_OPS_VERSION,
    .caps = RG_DOC_CAP_UNIQUE,
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
};
