/* Search port on SQLite FTS5 ("sqlite:PATH").
 *
 *   search_fts(type UNINDEXED, rid UNINDEXED, title, body, tags)
 *     tokenize='unicode61 remove_diacritics 2'
 *   search_keys(docid INTEGER PRIMARY KEY, type, rid, UNIQUE (type, rid))
 *
 * search_keys maps a record (type, rid) to its FTS5 rowid, so that replacing
 * or removing one record is a key lookup instead of a scan of the whole FTS5
 * content (UNINDEXED columns have no index).
 *
 * The user's text is never FTS5 syntax: it goes through the same unicode61
 * tokenizer as the indexed text (so splitting, case and diacritics agree with
 * the index, and words that hold no token vanish instead of making an empty
 * phrase that matches nothing), each token becomes a quoted string, the last
 * one a prefix ("word"*), and they are ANDed. Ranking is
 * bm25(0, 0, 10, 1, 2): the title weighs most, then tags, then body.
 *
 * Threads: one connection per thread, statements cached per connection by
 * their SQL text, writes under BEGIN IMMEDIATE. rg_sqlite_search_ops.close must
 * not run while another thread still uses the store. */
#include "risinggen/error.h"
#include "risinggen/search.h"
#include "risinggen/util.h"
#include "sqlite_common.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STMT_SLOTS 64 /* open addressing, power of two; statements vary only by ntypes */
#define LIMIT_MAX  1000
#define TYPES_MAX  16
#define TOKENS_MAX 16
#define QUERY_MAX  1024 /* bytes of the user's text that are read */

#define SCORE_EXPR "bm25(search_fts, 0.0, 0.0, 10.0, 1.0, 2.0)"
#define ELLIPSIS   "\xe2\x80\xa6"

static const char SCHEMA[] =
    "CREATE VIRTUAL TABLE IF NOT EXISTS search_fts USING fts5(type UNINDEXED, rid UNINDEXED, "
    "title, body, tags, tokenize='unicode61 remove_diacritics 2');"
    "CREATE TABLE IF NOT EXISTS search_keys (docid INTEGER PRIMARY KEY, type TEXT NOT NULL, "
    "rid TEXT NOT NULL, UNIQUE (type, rid));";

struct stmt_slot {
    char *sql; /* owned copy, the cache key */
    sqlite3_stmt *stmt;
};

struct search_conn {
    sqlite3 *db;
    struct rg_search *owner;
    struct search_conn *next;
    fts5_tokenizer tk; /* unicode61, as the index uses it */
    Fts5Tokenizer *tok;
    struct stmt_slot slots[STMT_SLOTS];
};

struct rg_search {
    char *path;
    bool sync_full;
    pthread_key_t key;
    pthread_mutex_t lock; /* guards conns */
    struct search_conn *conns;
};

/* ---- connections and statements ---- */

static void conn_close(struct search_conn *c)
{
    for (int i = 0; i < STMT_SLOTS; i++)
        if (c->slots[i].stmt) {
            sqlite3_finalize(c->slots[i].stmt);
            free(c->slots[i].sql);
        }
    if (c->tok)
        c->tk.xDelete(c->tok);
    sqlite3_close(c->db);
    free(c);
}

static void conn_unlink(struct rg_search *s, struct search_conn *c)
{
    pthread_mutex_lock(&s->lock);
    for (struct search_conn **pp = &s->conns; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    pthread_mutex_unlock(&s->lock);
}

/* Thread exit: the thread's connection goes with it. */
static void conn_destructor(void *p)
{
    struct search_conn *c = p;
    conn_unlink(c->owner, c);
    conn_close(c);
}

/* The FTS5 API of db (documented way: SELECT fts5(?1) with a bound pointer). */
static fts5_api *fts5_api_of(sqlite3 *db)
{
    fts5_api *api = NULL;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_pointer(st, 1, (void *)&api, "fts5_api_ptr", NULL);
        sqlite3_step(st);
    }
    sqlite3_finalize(st);
    return api;
}

/* Creates the unicode61 tokenizer with the index's arguments on c. */
static int tokenizer_open(struct search_conn *c)
{
    fts5_api *api = fts5_api_of(c->db);
    void *ctx = NULL;
    const char *args[] = {"remove_diacritics", "2"};
    if (!api || api->xFindTokenizer(api, "unicode61", &ctx, &c->tk) != SQLITE_OK ||
        c->tk.xCreate(ctx, args, 2, &c->tok) != SQLITE_OK) {
        c->tok = NULL;
        rg_err("sqlite search: the FTS5 unicode61 tokenizer is not available");
        return rg_error_set(RG_EUNAVAIL, "search is not available");
    }
    return 0;
}

/* The calling thread's connection, opened on first use. Borrowed. */
static int acquire(struct rg_search *s, struct search_conn **out)
{
    struct search_conn *c = pthread_getspecific(s->key);
    if (!c) {
        sqlite3 *db;
        int rc = rg__sqlite_open(s->path, s->sync_full, &db);
        if (rc < 0)
            return rc;
        c = rg_xcalloc(1, sizeof *c);
        c->db = db;
        c->owner = s;
        if ((rc = tokenizer_open(c)) < 0) {
            conn_close(c);
            return rc;
        }
        pthread_mutex_lock(&s->lock);
        c->next = s->conns;
        s->conns = c;
        pthread_mutex_unlock(&s->lock);
        pthread_setspecific(s->key, c);
    }
    *out = c;
    return 0;
}

static unsigned hash_text(const char *s)
{
    unsigned h = 2166136261u;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h;
}

/* The cached statement for sql on c (reset it with stmt_done). */
static int prepare(struct search_conn *c, const char *sql, sqlite3_stmt **out)
{
    unsigned h = hash_text(sql) & (STMT_SLOTS - 1);
    for (int probe = 0; probe < STMT_SLOTS; probe++, h = (h + 1) & (STMT_SLOTS - 1)) {
        struct stmt_slot *sl = &c->slots[h];
        if (sl->stmt && strcmp(sl->sql, sql) == 0) {
            *out = sl->stmt;
            return 0;
        }
        if (!sl->stmt) {
            int rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &sl->stmt, NULL);
            if (rc != SQLITE_OK) {
                sqlite3_finalize(sl->stmt);
                sl->stmt = NULL;
                return rg__sqlite_error(c->db, rc, "search prepare");
            }
            sl->sql = rg_xstrdup(sql);
            *out = sl->stmt;
            return 0;
        }
    }
    /* Cannot happen: the set of statements is fixed and smaller than the table. */
    rg_err("sqlite search statement cache full");
    return rg_error_set(RG_EINTERNAL, "internal error");
}

static void stmt_done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

/* Runs a statement without result rows (or ignoring them). */
static int run(struct search_conn *c, const char *sql, const char *what)
{
    sqlite3_stmt *st;
    int rc = prepare(c, sql, &st);
    if (rc < 0)
        return rc;
    int src = sqlite3_step(st);
    rc = src == SQLITE_DONE || src == SQLITE_ROW ? 0 : rg__sqlite_error(c->db, src, what);
    stmt_done(st);
    return rc;
}

static void rollback(struct search_conn *c)
{
    if (!sqlite3_get_autocommit(c->db))
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
}

/* ---- open / close ---- */

static void search_close(rg_search *s)
{
    if (!s)
        return;
    pthread_key_delete(s->key);
    while (s->conns) {
        struct search_conn *c = s->conns;
        s->conns = c->next;
        conn_close(c);
    }
    pthread_mutex_destroy(&s->lock);
    free(s->path);
    free(s);
}

/* rg__sqlite_open for the first connection of a store. Several processes
 * that open a new file at once race to switch it to WAL, and SQLite answers
 * SQLITE_BUSY to the losers without calling the busy handler; so on failure
 * this waits (at most about 5 s) until the file is in WAL mode and opens
 * again. A file that cannot be opened at all fails at once. */
static int open_first(const char *path, bool sync_full, sqlite3 **out)
{
    int rc = rg__sqlite_open(path, sync_full, out);
    if (rc != RG_EUNAVAIL)
        return rc;
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return rc;
    }
    sqlite3_busy_timeout(db, 100);
    for (int attempt = 0; attempt < 50; attempt++) {
        int src = sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
        if ((src & 0xff) != SQLITE_BUSY && (src & 0xff) != SQLITE_LOCKED)
            break;
        struct timespec ts = {0, 5 * 1000000L};
        nanosleep(&ts, NULL);
    }
    sqlite3_close(db);
    return rg__sqlite_open(path, sync_full, out);
}

/* Opens the index at a "sqlite:PATH" url, creating its tables. *out belongs
 * to the caller (search_close). */
static int search_open(rg_search **out, const char *url)
{
    *out = NULL;
    bool sync_full;
    char *path = url ? rg__sqlite_path(url, &sync_full) : NULL;
    if (!path)
        return rg_error_set(RG_EINVAL, "not a sqlite: URL");
    sqlite3 *probe;
    int rc = open_first(path, sync_full, &probe);
    if (rc < 0) {
        free(path);
        return rc;
    }
    int src = sqlite3_exec(probe, SCHEMA, NULL, NULL, NULL);
    if (src != SQLITE_OK)
        rc = rg__sqlite_error(probe, src, "search schema");
    sqlite3_close(probe);
    if (rc < 0) {
        free(path);
        return rc;
    }
    struct rg_search *s = rg_xcalloc(1, sizeof *s);
    s->path = path;
    s->sync_full = sync_full;
    pthread_mutex_init(&s->lock, NULL);
    if (pthread_key_create(&s->key, conn_destructor) != 0) {
        pthread_mutex_destroy(&s->lock);
        free(path);
        free(s);
        rg_err("sqlite search: no thread-specific key left");
        return rg_error_set(RG_EINTERNAL, "internal error");
    }
    *out = s;
    return 0;
}

/* ---- writes ---- */

static bool valid_key(const char *type, const char *id)
{
    return type && *type && strlen(type) < sizeof(((rg_search_hit *)0)->type) && id && *id &&
           strlen(id) < sizeof(((rg_search_hit *)0)->id);
}

/* The docid of (type, id): 1 and *docid when found, 0 when not, or an error. */
static int lookup_docid(struct search_conn *c, const char *type, const char *id, int64_t *docid)
{
    sqlite3_stmt *st;
    int rc = prepare(c, "SELECT docid FROM search_keys WHERE type = ?1 AND rid = ?2", &st);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(st, 1, type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        *docid = sqlite3_column_int64(st, 0);
        rc = 1;
    } else {
        rc = src == SQLITE_DONE ? 0 : rg__sqlite_error(c->db, src, "search lookup");
    }
    stmt_done(st);
    return rc;
}

static int delete_fts_row(struct search_conn *c, int64_t docid)
{
    sqlite3_stmt *st;
    int rc = prepare(c, "DELETE FROM search_fts WHERE rowid = ?1", &st);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, docid);
    int src = sqlite3_step(st);
    rc = src == SQLITE_DONE ? 0 : rg__sqlite_error(c->db, src, "search delete");
    stmt_done(st);
    return rc;
}

static int upsert_locked(struct search_conn *c, const rg_search_doc *doc)
{
    int64_t docid = 0;
    int rc = lookup_docid(c, doc->type, doc->id, &docid);
    if (rc < 0)
        return rc;
    sqlite3_stmt *st;
    int src;
    if (rc == 1) {
        if ((rc = delete_fts_row(c, docid)) < 0)
            return rc;
    } else {
        if ((rc = prepare(c, "INSERT INTO search_keys (type, rid) VALUES (?1, ?2)", &st)) < 0)
            return rc;
        sqlite3_bind_text(st, 1, doc->type, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, doc->id, -1, SQLITE_STATIC);
        src = sqlite3_step(st);
        rc = src == SQLITE_DONE ? 0 : rg__sqlite_error(c->db, src, "search key");
        docid = sqlite3_last_insert_rowid(c->db);
        stmt_done(st);
        if (rc < 0)
            return rc;
    }
    if ((rc = prepare(c,
                      "INSERT INTO search_fts (rowid, type, rid, title, body, tags) "
                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                      &st)) < 0)
        return rc;
    sqlite3_bind_int64(st, 1, docid);
    sqlite3_bind_text(st, 2, doc->type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, doc->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, doc->title ? doc->title : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, doc->body ? doc->body : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, doc->tags ? doc->tags : "", -1, SQLITE_STATIC);
    src = sqlite3_step(st);
    rc = src == SQLITE_DONE ? 0 : rg__sqlite_error(c->db, src, "search insert");
    stmt_done(st);
    return rc;
}

/* Inserts or replaces the record (doc->type, doc->id); doc is borrowed. type
 * must be shorter than 16 bytes and id shorter than 32 (the hit's fields). */
static int search_upsert(rg_search *s, const rg_search_doc *doc)
{
    if (!doc || !valid_key(doc->type, doc->id))
        return rg_error_set(RG_EINVAL, "invalid search record type or id");
    struct search_conn *c;
    int rc = acquire(s, &c);
    if (rc < 0)
        return rc;
    if ((rc = run(c, "BEGIN IMMEDIATE", "search begin")) < 0)
        return rc;
    if ((rc = upsert_locked(c, doc)) == 0)
        rc = run(c, "COMMIT", "search commit");
    if (rc < 0)
        rollback(c);
    return rc;
}

/* Removes the record; 0 also when it was not indexed. */
static int search_remove(rg_search *s, const char *type, const char *id)
{
    if (!valid_key(type, id))
        return rg_error_set(RG_EINVAL, "invalid search record type or id");
    struct search_conn *c;
    int rc = acquire(s, &c);
    if (rc < 0)
        return rc;
    if ((rc = run(c, "BEGIN IMMEDIATE", "search begin")) < 0)
        return rc;
    int64_t docid;
    rc = lookup_docid(c, type, id, &docid);
    if (rc == 1 && (rc = delete_fts_row(c, docid)) == 0) {
        sqlite3_stmt *st;
        if ((rc = prepare(c, "DELETE FROM search_keys WHERE docid = ?1", &st)) == 0) {
            sqlite3_bind_int64(st, 1, docid);
            int src = sqlite3_step(st);
            rc = src == SQLITE_DONE ? 0 : rg__sqlite_error(c->db, src, "search remove");
            stmt_done(st);
        }
    }
    if (rc == 0)
        rc = run(c, "COMMIT", "search commit");
    if (rc < 0)
        rollback(c);
    return rc;
}

/* ---- queries ---- */

struct match_builder {
    rg_buf buf;
    int ntokens;
    size_t last_end; /* buf.len just after the last token's closing quote */
};

/* Adds one token as a quoted FTS5 string ("" inside doubles a quote). */
static int on_token(void *ctx, int tflags, const char *tok, int n, int start, int end)
{
    (void)start;
    (void)end;
    struct match_builder *mb = ctx;
    if ((tflags & FTS5_TOKEN_COLOCATED) || n <= 0)
        return SQLITE_OK;
    if (mb->ntokens == TOKENS_MAX)
        return SQLITE_DONE; /* stops the tokenizer: the rest is ignored */
    if (mb->ntokens)
        rg_buf_puts(&mb->buf, " AND ");
    rg_buf_puts(&mb->buf, "\"");
    for (int i = 0; i < n; i++)
        rg_buf_put(&mb->buf, tok[i] == '"' ? "\"\"" : &tok[i], tok[i] == '"' ? 2 : 1);
    rg_buf_puts(&mb->buf, "\"");
    mb->last_end = mb->buf.len;
    mb->ntokens++;
    return SQLITE_OK;
}

/* The FTS5 expression for the user's text q, malloc'd, or NULL when q holds
 * no word. */
static int build_match(struct search_conn *c, const char *q, char **out)
{
    *out = NULL;
    size_t n = strnlen(q, QUERY_MAX);
    struct match_builder mb = {0};
    int src = c->tk.xTokenize(c->tok, &mb, FTS5_TOKENIZE_QUERY, q, (int)n, on_token);
    if (src != SQLITE_OK && src != SQLITE_DONE) {
        rg_buf_free(&mb.buf);
        rg_err("sqlite search: tokenizer failed (%d)", src);
        return rg_error_set(RG_EINTERNAL, "internal error");
    }
    if (mb.ntokens == 0) {
        rg_buf_free(&mb.buf);
        return 0;
    }
    mb.buf.len = mb.last_end; /* drop anything after the last token */
    rg_buf_puts(&mb.buf, "*");
    *out = rg_buf_steal(&mb.buf);
    return 0;
}

static bool has_em(const unsigned char *s)
{
    return s && strstr((const char *)s, "<em>");
}

/* Hits for the words of q, best first. *out is malloc'd (rg_search_hits_free),
 * NULL with *nout 0 when nothing matches. limit is capped at 1000. */
static int search_query(rg_search *s, const char *q, const char *const *types, int ntypes,
                        int limit, rg_search_hit **out, int *nout)
{
    *out = NULL;
    *nout = 0;
    if (limit <= 0)
        return rg_error_set(RG_EINVAL, "limit must be positive");
    if (limit > LIMIT_MAX)
        limit = LIMIT_MAX;
    if (!types)
        ntypes = 0;
    if (ntypes < 0 || ntypes > TYPES_MAX)
        return rg_error_set(RG_EINVAL, "too many types");
    for (int i = 0; i < ntypes; i++)
        if (!types[i])
            return rg_error_set(RG_EINVAL, "invalid type");
    if (!q)
        return 0;
    struct search_conn *c;
    int rc = acquire(s, &c);
    if (rc < 0)
        return rc;
    char *match;
    if ((rc = build_match(c, q, &match)) < 0 || !match)
        return rc;

    rg_buf sql = {0};
    rg_buf_puts(&sql, "SELECT type, rid, -" SCORE_EXPR " AS score, "
                      "snippet(search_fts, 3, '<em>', '</em>', '" ELLIPSIS "', 12), "
                      "snippet(search_fts, 2, '<em>', '</em>', '" ELLIPSIS "', 12) "
                      "FROM search_fts WHERE search_fts MATCH ?1");
    if (ntypes) {
        rg_buf_puts(&sql, " AND type IN (");
        for (int i = 0; i < ntypes; i++)
            rg_buf_printf(&sql, "%s?%d", i ? ", " : "", i + 2);
        rg_buf_puts(&sql, ")");
    }
    rg_buf_printf(&sql, " ORDER BY score DESC, rowid LIMIT ?%d", ntypes + 2);
    sqlite3_stmt *st;
    rc = prepare(c, sql.data, &st);
    rg_buf_free(&sql);
    if (rc < 0) {
        free(match);
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
            rg_search_hit *grown = realloc(hits, (size_t)cap * sizeof *hits);
            if (!grown)
                abort();
            hits = grown;
        }
        rg_search_hit *h = &hits[n++];
        memset(h, 0, sizeof *h);
        snprintf(h->type, sizeof h->type, "%s", (const char *)sqlite3_column_text(st, 0));
        snprintf(h->id, sizeof h->id, "%s", (const char *)sqlite3_column_text(st, 1));
        h->score = sqlite3_column_double(st, 2);
        const unsigned char *body = sqlite3_column_text(st, 3);
        const unsigned char *title = sqlite3_column_text(st, 4);
        if (has_em(body))
            h->highlight = rg_xstrdup((const char *)body);
        else if (has_em(title))
            h->highlight = rg_xstrdup((const char *)title);
    }
    rc = src == SQLITE_DONE ? 0 : rg__sqlite_error(c->db, src, "search query");
    stmt_done(st);
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
    return rc < 0 ? rc : run(c, "SELECT 1", "search ping");
}

const struct rg_search_ops rg_sqlite_search_ops = {
    .version = RG_SEARCH_OPS_VERSION,
    .caps = RG_SEARCH_CAP_HIGHLIGHT | RG_SEARCH_CAP_PREFIX,
    .scheme = "sqlite",
    .open = search_open,
    .close = search_close,
    .upsert = search_upsert,
    .remove = search_remove,
    .query = search_query,
    .ping = search_ping,
};
