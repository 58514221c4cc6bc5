/* Search port on SQLite FTS5 ("sqlite:PATH").
 *
 *   search_fts(type UNINDEXED, rid UNINDEXED, title, body, tags)
 *     tokenize='rg_english'
 *   search_keys(docid INTEGER PRIMARY KEY, type, rid, UNIQUE (type, rid))
 *
 * search_keys maps a record (type, rid) to its FTS5 rowid, so that replacing
 * or removing one record is a key lookup instead of a scan of the whole FTS5
 * content (UNINDEXED columns have no index).
 *
 * rg_english (english_tokenizer.c) is unicode61 without diacritics, with
 * each word's English stem colocated beside it. The user's text is never
 * FTS5 syntax: it goes through the same tokenizer as the indexed text (so
 * splitting, case and diacritics agree with the index, and words that hold
 * no token vanish instead of making an empty phrase that matches nothing),
 * each token becomes a quoted string, and they are ANDed: every word but
 * the last matches as its stem, the last as a prefix of a word or as its
 * stem ("camps" finds "camp", "improv" finds "improvised"), as on
 * PostgreSQL. Ranking is bm25(0, 0, 10, 1, 2): the title weighs most, then
 * tags, then body.
 *
 * An index made with an older tokenizer is rebuilt from its own stored text
 * when it is opened (create_schema, REBUILD).
 *
 * Connections come from the bounded sqlite_common pool, one per operation,
 * with statements cached per connection by their SQL text; writes run under
 * BEGIN IMMEDIATE behind the pool's write mutex. The port's wrappers have
 * checked types, ids, text and limits. */
#include "risinggen/base/error.h"
#include "risinggen/store/search.h"
#include "risinggen/base/alloc.h"
#include "risinggen/base/buf.h"
#include "risinggen/base/log.h"
#include "english_tokenizer.h"
#include "sqlite_common.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define TOKENS_MAX 16
#define QUERY_MAX  1024 /* bytes of the user's text that are read */

#define SCORE_EXPR "bm25(search_fts, 0.0, 0.0, 10.0, 1.0, 2.0)"
#define ELLIPSIS   "\xe2\x80\xa6"

#define FTS_TABLE(name)                                                                            \
    "CREATE VIRTUAL TABLE " name " USING fts5(type UNINDEXED, rid UNINDEXED, title, body, tags, "  \
    "tokenize='" RG__SQLITE_ENGLISH "');"
#define KEYS_TABLE(name)                                                                           \
    "CREATE TABLE " name " (docid INTEGER PRIMARY KEY, type TEXT NOT NULL, rid TEXT NOT NULL, "    \
    "UNIQUE (type, rid));"

/* The index, and the one a build fills aside (build_begin … build_end).
 * Every statement that names either is in one of these two sets. */
struct tables {
    const char *create, *drop, *lookup, *insert_key, *insert_fts, *delete_fts, *delete_key;
};

#define TABLES(fts, keys)                                                                          \
    {                                                                                              \
        "DROP TABLE IF EXISTS " fts ";DROP TABLE IF EXISTS " keys ";" FTS_TABLE(fts)               \
            KEYS_TABLE(keys),                                                                      \
            "DROP TABLE IF EXISTS " fts ";DROP TABLE IF EXISTS " keys ";",                         \
            "SELECT docid FROM " keys " WHERE type = ?1 AND rid = ?2",                             \
            "INSERT INTO " keys " (type, rid) VALUES (?1, ?2)",                                    \
            "INSERT INTO " fts " (rowid, type, rid, title, body, tags) "                           \
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",                                                     \
            "DELETE FROM " fts " WHERE rowid = ?1", "DELETE FROM " keys " WHERE docid = ?1"        \
    }

static const struct tables LIVE = TABLES("search_fts", "search_keys");
static const struct tables ASIDE = TABLES("search_fts_next", "search_keys_next");

/* The aside tables take the index's names; the old ones go. */
static const char SWITCH[] = "DROP TABLE search_fts; DROP TABLE search_keys;"
                             "ALTER TABLE search_fts_next RENAME TO search_fts;"
                             "ALTER TABLE search_keys_next RENAME TO search_keys;";

/* A pool connection and the query tokenizer made on it. */
struct search_conn {
    struct rg__sqlite_conn base;
    fts5_tokenizer tk; /* rg_english, as the index uses it */
    Fts5Tokenizer *tok;
};

struct rg_search {
    struct rg__sqlite_pool pool;
    int build_fd; /* PATH.build-lock, locked while this port builds aside; -1 */
};

/* Registers rg_english on a new connection and makes the instance that
 * tokenizes the user's text there. */
static int tokenizer_open(struct rg__sqlite_conn *base)
{
    struct search_conn *c = (struct search_conn *)base;
    fts5_api *api = NULL;
    void *ctx = NULL;
    if (rg__sqlite_english_register(base->db, &api) != SQLITE_OK ||
        api->xFindTokenizer(api, RG__SQLITE_ENGLISH, &ctx, &c->tk) != SQLITE_OK ||
        c->tk.xCreate(ctx, NULL, 0, &c->tok) != SQLITE_OK) {
        c->tok = NULL;
        rg_err("sqlite search: the FTS5 tokenizer " RG__SQLITE_ENGLISH " cannot be made");
        return rg_error_set(RG_EUNAVAIL, "search is not available");
    }
    return 0;
}

static void tokenizer_close(struct rg__sqlite_conn *base)
{
    struct search_conn *c = (struct search_conn *)base;
    if (c->tok)
        c->tk.xDelete(c->tok);
}

/* A connection from the pool; given back with release. */
static int acquire(struct rg_search *s, struct search_conn **out)
{
    struct rg__sqlite_conn *c;
    int rc = rg__sqlite_pool_get(&s->pool, &c);
    *out = rc == 0 ? (struct search_conn *)c : NULL;
    return rc;
}

static void release(struct search_conn *c)
{
    rg__sqlite_pool_put(c ? &c->base : NULL);
}

static void build_unlock(struct rg_search *s)
{
    if (s->build_fd >= 0)
        close(s->build_fd); /* and the lock with it */
    s->build_fd = -1;
}

static void search_close(rg_search *s)
{
    if (!s)
        return;
    build_unlock(s);
    rg__sqlite_pool_close(&s->pool);
    free(s);
}

/* The text of sqlite_schema.sql for table name, malloc'd, or NULL. */
static char *table_sql(sqlite3 *db, const char *name)
{
    sqlite3_stmt *st = NULL;
    char *sql = NULL;
    if (sqlite3_prepare_v2(db, "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?1",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
            sql = rg_xstrdup((const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    return sql;
}

/* An index made with another tokenizer (unicode61, before stems) is made
 * again with rg_english from the text it stores, under the same docids:
 * one write transaction, a minute or so at a million records. */
static const char REBUILD[] =
    "BEGIN IMMEDIATE;"
    "DROP TABLE IF EXISTS search_fts_next;" FTS_TABLE(
        "search_fts_next") "INSERT INTO search_fts_next (rowid, type, rid, title, body, tags) "
                           "SELECT rowid, type, rid, title, body, tags FROM search_fts;"
                           "DROP TABLE search_fts;"
                           "ALTER TABLE search_fts_next RENAME TO search_fts;"
                           "COMMIT;";

static int create_schema(sqlite3 *db, void *ctx)
{
    (void)ctx;
    if (rg__sqlite_english_register(db, NULL) != SQLITE_OK) {
        rg_err("sqlite search: the FTS5 tokenizer " RG__SQLITE_ENGLISH " cannot be registered");
        return rg_error_set(RG_EUNAVAIL, "search is not available");
    }
    char *fts = table_sql(db, "search_fts");
    int src = SQLITE_OK;
    if (!fts)
        src = sqlite3_exec(db, FTS_TABLE("search_fts"), NULL, NULL, NULL);
    else if (!strstr(fts, "'" RG__SQLITE_ENGLISH "'")) {
        rg_info("sqlite search: rebuilding the index with the " RG__SQLITE_ENGLISH " tokenizer");
        if ((src = sqlite3_exec(db, REBUILD, NULL, NULL, NULL)) != SQLITE_OK)
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    }
    free(fts);
    char *keys = src == SQLITE_OK ? table_sql(db, "search_keys") : NULL;
    if (src == SQLITE_OK && !keys)
        src = sqlite3_exec(db, KEYS_TABLE("search_keys"), NULL, NULL, NULL);
    free(keys);
    return src == SQLITE_OK ? 0 : rg__sqlite_error(db, src, "search schema");
}

static const struct rg__sqlite_hooks search_hooks = {
    .labels = "store=\"search\",adapter=\"sqlite\"",
    .conn_size = sizeof(struct search_conn),
    .on_open = create_schema,
    .on_conn = tokenizer_open,
    .on_close = tokenizer_close,
};

/* Opens the index at a "sqlite:PATH" url, creating its tables. *out belongs
 * to the caller (search_close). */
static int search_open(rg_search **out, const char *url, const rg_store_options *opts)
{
    *out = NULL;
    struct rg_search *s = rg_xcalloc(1, sizeof *s);
    s->build_fd = -1;
    int rc = rg__sqlite_pool_open(&s->pool, url, opts, &search_hooks, NULL);
    if (rc < 0) {
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

/* The docid of (type, id) in tables t: 1 and *docid when found, 0 when not,
 * or an error. */
static int lookup_docid(struct search_conn *c, const struct tables *t, const char *type,
                        const char *id, int64_t *docid)
{
    sqlite3_stmt *st;
    bool cached;
    int rc = rg__sqlite_stmt(&c->base, t->lookup, NULL, &st, &cached);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(st, 1, type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        *docid = sqlite3_column_int64(st, 0);
        rc = 1;
    } else {
        rc = src == SQLITE_DONE ? 0 : rg__sqlite_error(c->base.db, src, "search lookup");
    }
    rg__sqlite_stmt_done(st, cached);
    return rc;
}

/* Runs a DELETE whose one parameter is a docid. */
static int delete_docid(struct search_conn *c, const char *sql, int64_t docid, const char *what)
{
    sqlite3_stmt *st;
    bool cached;
    int rc = rg__sqlite_stmt(&c->base, sql, NULL, &st, &cached);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, docid);
    int src = sqlite3_step(st);
    rc = src == SQLITE_DONE ? 0 : rg__sqlite_error(c->base.db, src, what);
    rg__sqlite_stmt_done(st, cached);
    return rc;
}

/* The docid for a new record (type, id) in tables t. */
static int insert_key(struct search_conn *c, const struct tables *t, const char *type,
                      const char *id, int64_t *docid)
{
    sqlite3_stmt *st;
    bool cached;
    int rc = rg__sqlite_stmt(&c->base, t->insert_key, NULL, &st, &cached);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(st, 1, type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    int src = sqlite3_step(st);
    rc = src == SQLITE_DONE ? 0 : rg__sqlite_error(c->base.db, src, "search key");
    *docid = sqlite3_last_insert_rowid(c->base.db);
    rg__sqlite_stmt_done(st, cached);
    return rc;
}

static int upsert_in(struct search_conn *c, const struct tables *t, const rg_search_doc *doc)
{
    int64_t docid = 0;
    int rc = lookup_docid(c, t, doc->type, doc->id, &docid);
    if (rc == 1)
        rc = delete_docid(c, t->delete_fts, docid, "search delete");
    else if (rc == 0)
        rc = insert_key(c, t, doc->type, doc->id, &docid);
    if (rc < 0)
        return rc;
    sqlite3_stmt *st;
    bool cached;
    if ((rc = rg__sqlite_stmt(&c->base, t->insert_fts, NULL, &st, &cached)) < 0)
        return rc;
    sqlite3_bind_int64(st, 1, docid);
    sqlite3_bind_text(st, 2, doc->type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, doc->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, doc->title ? doc->title : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, doc->body ? doc->body : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, doc->tags ? doc->tags : "", -1, SQLITE_STATIC);
    int src = sqlite3_step(st);
    rc = src == SQLITE_DONE ? 0 : rg__sqlite_error(c->base.db, src, "search insert");
    rg__sqlite_stmt_done(st, cached);
    return rc;
}

static int upsert_locked(struct search_conn *c, const void *arg)
{
    return upsert_in(c, &LIVE, arg);
}

struct record_key {
    const char *type, *id;
};

static int remove_locked(struct search_conn *c, const void *arg)
{
    const struct record_key *k = arg;
    int64_t docid;
    int rc = lookup_docid(c, &LIVE, k->type, k->id, &docid);
    if (rc == 1 && (rc = delete_docid(c, LIVE.delete_fts, docid, "search remove")) == 0)
        rc = delete_docid(c, LIVE.delete_key, docid, "search remove");
    return rc;
}

/* Runs work in a write transaction (BEGIN IMMEDIATE behind the pool's write
 * mutex) on a connection of the pool. */
static int write_tx(struct rg_search *s, int (*work)(struct search_conn *c, const void *arg),
                    const void *arg)
{
    struct search_conn *c;
    int rc = acquire(s, &c);
    if (rc < 0)
        return rc;
    if ((rc = rg__sqlite_begin(&c->base, true)) == 0) {
        if ((rc = work(c, arg)) == 0)
            rc = rg__sqlite_commit(&c->base);
        if (rc < 0)
            rg__sqlite_rollback(&c->base);
    }
    release(c);
    return rc;
}

/* Inserts or replaces the record (doc->type, doc->id); doc is borrowed. type
 * must be shorter than 16 bytes and id shorter than 32 (the hit's fields). */
static int search_upsert(rg_search *s, const rg_search_doc *doc)
{
    return write_tx(s, upsert_locked, doc);
}

struct doc_batch {
    const struct tables *t;
    const rg_search_doc *docs;
    int n;
};

static int upsert_many_locked(struct search_conn *c, const void *arg)
{
    const struct doc_batch *b = arg;
    int rc = 0;
    for (int i = 0; i < b->n && rc == 0; i++)
        rc = upsert_in(c, b->t, &b->docs[i]);
    return rc;
}

/* The records in one write transaction: all or none. */
static int search_upsert_many(rg_search *s, const rg_search_doc *docs, int n)
{
    struct doc_batch b = {&LIVE, docs, n};
    return write_tx(s, upsert_many_locked, &b);
}

/* Removes the record; 0 also when it was not indexed. */
static int search_remove(rg_search *s, const char *type, const char *id)
{
    struct record_key k = {type, id};
    return write_tx(s, remove_locked, &k);
}

/* Runs statements that are not kept (schema changes). */
static int exec_locked(struct search_conn *c, const void *sql)
{
    int src = sqlite3_exec(c->base.db, sql, NULL, NULL, NULL);
    return src == SQLITE_OK ? 0 : rg__sqlite_error(c->base.db, src, "search build");
}

/* Building aside: search_fts_next and search_keys_next, made empty (an
 * unfinished build's are dropped), filled while the index answers, and put
 * in its place by one write transaction. */
/* One build at a time per index file, across processes: an exclusive
 * flock on PATH.build-lock, held from build_begin to build_end (the
 * kernel drops it with a process that dies). */
static int build_lock(struct rg_search *s)
{
    if (s->build_fd >= 0)
        return 0; /* this port's own build, begun again */
    rg_buf path = {0};
    rg_buf_printf(&path, "%s.build-lock", s->pool.path);
    int fd = open(path.data, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    rg_buf_free(&path);
    if (fd < 0)
        return rg_error_set(RG_EUNAVAIL, "the search index's build lock cannot be opened");
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        close(fd);
        return rg_error_set(RG_ECONFLICT, "another reindex is building this search index");
    }
    s->build_fd = fd;
    return 0;
}

static int search_build_begin(rg_search *s)
{
    int rc = build_lock(s);
    if (rc == 0 && (rc = write_tx(s, exec_locked, ASIDE.create)) < 0)
        build_unlock(s);
    return rc;
}

static int search_build_add(rg_search *s, const rg_search_doc *docs, int n)
{
    struct doc_batch b = {&ASIDE, docs, n};
    return write_tx(s, upsert_many_locked, &b);
}

/* The sink of a switch: writes into the aside tables on the connection
 * that holds the write transaction. */
struct aside_sink {
    rg_search_sink base;
    struct search_conn *c;
};

static int aside_put(rg_search_sink *k, const rg_search_doc *docs, int n)
{
    struct aside_sink *a = (struct aside_sink *)k;
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++)
        rc = upsert_in(a->c, &ASIDE, &docs[i]);
    return rc;
}

static int aside_drop(rg_search_sink *k, const char *type, const char *id)
{
    struct aside_sink *a = (struct aside_sink *)k;
    int64_t docid;
    int rc = lookup_docid(a->c, &ASIDE, type, id, &docid);
    if (rc == 1 && (rc = delete_docid(a->c, ASIDE.delete_fts, docid, "search build")) == 0)
        rc = delete_docid(a->c, ASIDE.delete_key, docid, "search build");
    return rc < 0 ? rc : 0;
}

struct switch_args {
    rg_search_changes changes;
    void *ctx;
};

/* Inside the write transaction: the caller's changes into the aside tables
 * (the service's own writes wait for this lock), then the switch. */
static int switch_locked(struct search_conn *c, const void *arg)
{
    const struct switch_args *a = arg;
    struct aside_sink sink = {{aside_put, aside_drop}, c};
    int rc = a->changes ? a->changes(a->ctx, &sink.base) : 0;
    return rc < 0 ? rc : exec_locked(c, SWITCH);
}

static int search_build_end(rg_search *s, bool use, rg_search_changes changes, void *ctx)
{
    if (s->build_fd < 0)
        return rg_error_set(RG_EINVAL, "no build of this port to end");
    struct switch_args a = {changes, ctx};
    int rc = use ? write_tx(s, switch_locked, &a) : write_tx(s, exec_locked, ASIDE.drop);
    build_unlock(s);
    return rc;
}

/* The user's words as the index's tokenizer reads a document: word i as
 * typed (folded) at buf.data + off[i], and its stem at stem_off[i]
 * (the same bytes when the stem is the word). */
struct query_words {
    rg_buf buf;
    size_t off[TOKENS_MAX], stem_off[TOKENS_MAX];
    int len[TOKENS_MAX], stem_len[TOKENS_MAX];
    int n;
};

static int on_query_token(void *ctx, int tflags, const char *tok, int n, int start, int end)
{
    (void)start;
    (void)end;
    struct query_words *w = ctx;
    if (n <= 0)
        return SQLITE_OK;
    if (tflags & FTS5_TOKEN_COLOCATED) { /* the stem of the word before */
        if (w->n > 0) {
            w->stem_off[w->n - 1] = w->buf.len;
            w->stem_len[w->n - 1] = n;
            rg_buf_put(&w->buf, tok, (size_t)n);
        }
        return SQLITE_OK;
    }
    if (w->n == TOKENS_MAX)
        return SQLITE_DONE; /* stops the tokenizer: the rest is ignored */
    w->off[w->n] = w->stem_off[w->n] = w->buf.len;
    w->len[w->n] = w->stem_len[w->n] = n;
    w->n++;
    rg_buf_put(&w->buf, tok, (size_t)n);
    return SQLITE_OK;
}

/* The words of q (at most TOKENS_MAX; none when q holds no word). */
static int query_words(struct search_conn *c, const char *q, struct query_words *w)
{
    memset(w, 0, sizeof *w);
    int src = c->tk.xTokenize(c->tok, w, FTS5_TOKENIZE_DOCUMENT, q, (int)strnlen(q, QUERY_MAX),
                              on_query_token);
    if (src != SQLITE_OK && src != SQLITE_DONE) {
        rg_buf_free(&w->buf);
        rg_err("sqlite search: tokenizer failed (%d)", src);
        return rg_error_set(RG_EINTERNAL, "internal error");
    }
    return 0;
}

/* Word i as a quoted FTS5 string ("" inside doubles a quote). */
static void put_quoted(rg_buf *b, const struct query_words *w, int i)
{
    const char *tok = w->buf.data + w->off[i];
    rg_buf_puts(b, "\"");
    for (int k = 0; k < w->len[i]; k++)
        rg_buf_put(b, tok[k] == '"' ? "\"\"" : &tok[k], tok[k] == '"' ? 2 : 1);
    rg_buf_puts(b, "\"");
}

/* The FTS5 expression for the user's text q, malloc'd, or NULL when q holds
 * no word. A quoted word is read by rg_english as a query: its stem; the
 * last word is also a prefix, which the tokenizer leaves as typed. */
static int build_match(struct search_conn *c, const char *q, char **out)
{
    *out = NULL;
    struct query_words w;
    int rc = query_words(c, q, &w);
    if (rc < 0 || w.n == 0) {
        rg_buf_free(&w.buf);
        return rc;
    }
    rg_buf m = {0};
    for (int i = 0; i < w.n; i++) {
        if (i)
            rg_buf_puts(&m, " AND ");
        if (i < w.n - 1) {
            put_quoted(&m, &w, i);
            continue;
        }
        rg_buf_puts(&m, "(");
        put_quoted(&m, &w, i);
        rg_buf_puts(&m, "* OR ");
        put_quoted(&m, &w, i);
        rg_buf_puts(&m, ")");
    }
    rg_buf_free(&w.buf);
    *out = rg_buf_steal(&m);
    return 0;
}

/* The FTS5 query of the user's words q in part of the records (*out
 * malloc'd, NULL when q holds no word): FTS5 column filters and NOT
 * ("{title} : (…)" for TITLE, "(…) NOT {title} : (…)" for REST). */
static int build_part_match(struct search_conn *c, const char *q, rg_search_part part, char **out)
{
    char *m;
    int rc = build_match(c, q, &m);
    if (rc < 0 || !m || part == RG_SEARCH_PART_ALL) {
        *out = m;
        return rc;
    }
    rg_buf b = {0};
    if (part == RG_SEARCH_PART_TITLE)
        rg_buf_printf(&b, "{title} : (%s)", m);
    else
        rg_buf_printf(&b, "(%s) NOT ({title} : (%s))", m, m);
    free(m);
    *out = rg_buf_steal(&b);
    return 0;
}

static bool has_mark(const unsigned char *s)
{
    return s && strstr((const char *)s, RG_SEARCH_MARK_OPEN);
}

/* Hits for the words of q, best first. *out is malloc'd (rg_search_hits_free),
 * NULL with *nout 0 when nothing matches. */
static int search_query(rg_search *s, const char *q, rg_search_part part, const char *const *types,
                        int ntypes, int limit, bool highlight, rg_search_hit **out, int *nout)
{
    *out = NULL;
    *nout = 0;
    struct search_conn *c;
    int rc = acquire(s, &c);
    if (rc < 0)
        return rc;
    char *match;
    if ((rc = build_part_match(c, q, part, &match)) < 0 || !match) {
        release(c);
        return rc;
    }

    rg_buf sql = {0};
    /* SQLite computes the result columns of every match before it sorts
     * and cuts: snippets, which tokenize the text again, only when asked. */
    rg_buf_puts(&sql, highlight ? "SELECT type, rid, -" SCORE_EXPR " AS score, "
                                  "snippet(search_fts, 3, '" RG_SEARCH_MARK_OPEN
                                  "', '" RG_SEARCH_MARK_CLOSE "', '" ELLIPSIS "', 12), "
                                  "snippet(search_fts, 2, '" RG_SEARCH_MARK_OPEN
                                  "', '" RG_SEARCH_MARK_CLOSE "', '" ELLIPSIS "', 12) "
                                  "FROM search_fts WHERE search_fts MATCH ?1"
                                : "SELECT type, rid, -" SCORE_EXPR " AS score, NULL, NULL "
                                  "FROM search_fts WHERE search_fts MATCH ?1");
    if (ntypes) {
        rg_buf_puts(&sql, " AND type IN (");
        for (int i = 0; i < ntypes; i++)
            rg_buf_printf(&sql, "%s?%d", i ? ", " : "", i + 2);
        rg_buf_puts(&sql, ")");
    }
    rg_buf_printf(&sql, " ORDER BY score DESC, rowid LIMIT ?%d", ntypes + 2);
    sqlite3_stmt *st;
    bool cached;
    rc = rg__sqlite_stmt(&c->base, sql.data, NULL, &st, &cached);
    rg_buf_free(&sql);
    if (rc < 0) {
        free(match);
        release(c);
        return rc;
    }
    sqlite3_bind_text(st, 1, match, -1, SQLITE_STATIC);
    for (int i = 0; i < ntypes; i++)
        sqlite3_bind_text(st, i + 2, types[i], -1, SQLITE_STATIC);
    sqlite3_bind_int(st, ntypes + 2, limit);

    rg_search_hit *hits = NULL;
    int n = 0, cap = 0, src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            hits = rg_xrealloc(hits, (size_t)cap * sizeof *hits);
        }
        rg_search_hit *h = &hits[n++];
        memset(h, 0, sizeof *h);
        snprintf(h->type, sizeof h->type, "%s", (const char *)sqlite3_column_text(st, 0));
        snprintf(h->id, sizeof h->id, "%s", (const char *)sqlite3_column_text(st, 1));
        h->score = sqlite3_column_double(st, 2);
        const unsigned char *body = sqlite3_column_text(st, 3);
        const unsigned char *title = sqlite3_column_text(st, 4);
        if (has_mark(body))
            h->highlight = rg_xstrdup((const char *)body);
        else if (has_mark(title))
            h->highlight = rg_xstrdup((const char *)title);
    }
    rc = src == SQLITE_DONE ? 0 : rg__sqlite_error(c->base.db, src, "search query");
    rg__sqlite_stmt_done(st, cached);
    release(c);
    free(match);
    if (rc < 0) {
        rg_search_hits_free(hits, n);
        return rc;
    }
    *out = hits;
    *nout = n;
    return 0;
}

static int search_ping(rg_search *s)
{
    struct search_conn *c;
    int rc = acquire(s, &c);
    if (rc < 0)
        return rc;
    rc = rg__sqlite_run(&c->base, "SELECT 1");
    release(c);
    return rc;
}

/* Which words one field holds: bit i for word i, as FTS5 would match the
 * expression build_match writes. The field's tokens are every word and
 * every stem (colocated); a word but the last matches as its stem, the
 * last as a prefix of a token or as its stem. */
struct field_scan {
    const struct query_words *w;
    uint32_t found;
};

static bool token_is(const char *tok, int n, const char *want, int wn, bool prefix)
{
    return (prefix ? n >= wn : n == wn) && memcmp(tok, want, (size_t)wn) == 0;
}

static int on_field_token(void *ctx, int tflags, const char *tok, int n, int start, int end)
{
    (void)tflags;
    (void)start;
    (void)end;
    struct field_scan *fs = ctx;
    const struct query_words *w = fs->w;
    const char *b = w->buf.data;
    for (int i = 0; i < w->n; i++)
        if (token_is(tok, n, b + w->stem_off[i], w->stem_len[i], false) ||
            (i == w->n - 1 && token_is(tok, n, b + w->off[i], w->len[i], true)))
            fs->found |= 1u << i;
    return SQLITE_OK;
}

static int field_tokens(struct search_conn *c, const struct query_words *w,
                        const unsigned char *text, uint32_t *found)
{
    if (!text)
        return SQLITE_OK;
    struct field_scan fs = {w, 0};
    int src = c->tk.xTokenize(c->tok, &fs, FTS5_TOKENIZE_DOCUMENT, (const char *)text,
                              (int)strlen((const char *)text), on_field_token);
    *found |= fs.found;
    return src;
}

/* Each record's stored text read by its rowid (found by search_keys'
 * (type, rid) index) and run through the index's own tokenizer, its tokens
 * compared with the query's: what MATCH would answer for that one row. A
 * MATCH limited to the rowid costs as much as the whole query when the
 * last word is a prefix (FTS5 merges every term that begins with it), so
 * it is not asked. */
static int search_matching(rg_search *s, const char *q, rg_search_part part, const char *type,
                           const char *const *ids, int n, bool *out)
{
    struct search_conn *c;
    int rc = acquire(s, &c);
    if (rc < 0)
        return rc;
    struct query_words qt;
    if ((rc = query_words(c, q, &qt)) < 0) {
        release(c);
        return rc;
    }
    if (qt.n == 0) { /* no word: nothing matches */
        release(c);
        rg_buf_free(&qt.buf);
        return 0;
    }
    const uint32_t all = (1u << qt.n) - 1;
    sqlite3_stmt *st;
    bool cached;
    if ((rc = rg__sqlite_stmt(
             &c->base,
             "SELECT f.title, f.body, f.tags FROM search_keys k "
             "JOIN search_fts f ON f.rowid = k.docid WHERE k.type = ?1 AND k.rid = ?2",
             NULL, &st, &cached)) < 0) {
        release(c);
        rg_buf_free(&qt.buf);
        return rc;
    }
    sqlite3_bind_text(st, 1, type, -1, SQLITE_STATIC);
    int src = SQLITE_DONE;
    for (int i = 0; i < n && rc == 0; i++) {
        sqlite3_bind_text(st, 2, ids[i], -1, SQLITE_STATIC);
        src = sqlite3_step(st);
        if (src == SQLITE_ROW) {
            uint32_t title = 0, any = 0;
            int t1 = field_tokens(c, &qt, sqlite3_column_text(st, 0), &title);
            int t2 = field_tokens(c, &qt, sqlite3_column_text(st, 1), &any);
            int t3 = field_tokens(c, &qt, sqlite3_column_text(st, 2), &any);
            if (t1 != SQLITE_OK || t2 != SQLITE_OK || t3 != SQLITE_OK) {
                rg_err("sqlite search: tokenizer failed");
                rc = rg_error_set(RG_EINTERNAL, "internal error");
                break;
            }
            any |= title;
            out[i] = part == RG_SEARCH_PART_TITLE  ? title == all
                     : part == RG_SEARCH_PART_REST ? any == all && title != all
                                                   : any == all;
        } else if (src != SQLITE_DONE) {
            rc = rg__sqlite_error(c->base.db, src, "search matching");
            break;
        }
        sqlite3_reset(st);
    }
    rg__sqlite_stmt_done(st, cached);
    release(c);
    rg_buf_free(&qt.buf);
    return rc;
}

/* The records of type after `after`, by search_keys' (type, rid) index. */
static int search_scan(rg_search *s, const char *type, const char *after, int limit,
                       rg_search_entry **out, int *nout)
{
    struct search_conn *c;
    int rc = acquire(s, &c);
    if (rc < 0)
        return rc;
    sqlite3_stmt *st;
    bool cached;
    if ((rc = rg__sqlite_stmt(&c->base,
                              "SELECT k.rid, f.title, f.body, f.tags FROM search_keys k "
                              "JOIN search_fts f ON f.rowid = k.docid "
                              "WHERE k.type = ?1 AND k.rid > ?2 ORDER BY k.rid LIMIT ?3",
                              NULL, &st, &cached)) < 0) {
        release(c);
        return rc;
    }
    sqlite3_bind_text(st, 1, type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, after, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, limit);
    rg_search_entry *e = rg_xcalloc((size_t)limit, sizeof *e);
    int n = 0, src = SQLITE_DONE;
    while (n < limit && (src = sqlite3_step(st)) == SQLITE_ROW) {
        snprintf(e[n].type, sizeof e[n].type, "%s", type);
        snprintf(e[n].id, sizeof e[n].id, "%s", (const char *)sqlite3_column_text(st, 0));
        const unsigned char *t = sqlite3_column_text(st, 1), *b = sqlite3_column_text(st, 2),
                            *g = sqlite3_column_text(st, 3);
        e[n].title = rg_xstrdup(t ? (const char *)t : "");
        e[n].body = rg_xstrdup(b ? (const char *)b : "");
        e[n].tags = rg_xstrdup(g ? (const char *)g : "");
        n++;
    }
    rc = n == limit || src == SQLITE_DONE ? 0 : rg__sqlite_error(c->base.db, src, "search scan");
    rg__sqlite_stmt_done(st, cached);
    release(c);
    if (rc < 0) {
        rg_search_entries_free(e, n);
        return rc;
    }
    *out = e;
    *nout = n;
    return 0;
}

const struct rg_search_ops rg_sqlite_search_ops = {
    .version = RG_SEARCH_OPS_VERSION,
    .caps = RG_SEARCH_CAP_HIGHLIGHT | RG_SEARCH_CAP_PREFIX | RG_SEARCH_CAP_STEMS,
    .scheme = "sqlite",
    .open = search_open,
    .close = search_close,
    .upsert = search_upsert,
    .upsert_many = search_upsert_many,
    .remove = search_remove,
    .query = search_query,
    .ping = search_ping,
    .scan = search_scan,
    .matching = search_matching,
    .build_begin = search_build_begin,
    .build_add = search_build_add,
    .build_end = search_build_end,
};
