/* Search port on PostgreSQL full text ("postgresql://…"): one index shared
 * by every instance that names the same database, so a change made through
 * one is found through any other at once.
 *
 * Everything lives in the schema rg_search, apart from the relational
 * store's tables and migrations (the two may share a database):
 *
 *   docs(type, rid, title, body, tags, tsv, title_tsv)
 *        PRIMARY KEY (type, rid), GIN (tsv), GIN (title_tsv)
 *
 * tsv is a stored generated column: every field twice, once as English
 * stems (configuration rg_search.stems: unaccent, then the Snowball
 * stemmer) and once as whole words (rg_search.words: unaccent, then
 * lower case), weighted A for the title, B for the tags, C for the body.
 * title_tsv holds the title alone, the same two ways, for the parts of a
 * record (rg_search_part: the title, or the rest).
 *
 * The user's text is never tsquery syntax. rg_search.query(q) passes it
 * through both configurations, as the indexed text was: every word but the
 * last must match as its stem (stop words drop out), the last as a prefix
 * of a whole word or as its stem, so "improv" finds "improvised" and
 * "camps" finds "camp". Lexemes are quoted before the text is read back as
 * a tsquery, and a text without any word is no query (no hits). Ranking is
 * ts_rank over the weights (title 1.0, tags 0.4, body 0.2), then type and
 * id, so equal scores come back in one stable order.
 *
 * Highlights come from ts_headline, in the body first, then the title. Its
 * parser drops HTML tags and entities, which a highlight must show as text:
 * the text goes in with <, > and & as the private-use characters
 * U+E000..U+E002 (turned back afterwards) and without the mark bytes.
 *
 * The schema is made at open, under an advisory lock, by whichever instance
 * comes first; the unaccent extension must be available (Debian's
 * postgresql-15 ships it; it is trusted, so a database owner can create it). */
#include "risinggen/base/error.h"
#include "risinggen/store/search.h"
#include "risinggen/base/alloc.h"
#include "risinggen/base/buf.h"
#include "risinggen/base/log.h"
#include "pg_common.h"

#include <jansson.h>

#include <stdlib.h>
#include <string.h>

/* The table of entries, named name in rg_search (docs, or docs_next for a
 * build aside). title_tsv: see below. */
#define DOCS_TABLE(name)                                                                           \
    "rg_search." name " ("                                                                         \
    "  type text COLLATE \"C\" NOT NULL, rid text COLLATE \"C\" NOT NULL,"                         \
    "  title text NOT NULL, body text NOT NULL, tags text NOT NULL,"                               \
    "  tsv tsvector NOT NULL GENERATED ALWAYS AS ("                                                \
    "    setweight(to_tsvector('rg_search.stems', title), 'A') ||"                                 \
    "    setweight(to_tsvector('rg_search.words', title), 'A') ||"                                 \
    "    setweight(to_tsvector('rg_search.stems', tags), 'B') ||"                                  \
    "    setweight(to_tsvector('rg_search.words', tags), 'B') ||"                                  \
    "    setweight(to_tsvector('rg_search.stems', body), 'C') ||"                                  \
    "    setweight(to_tsvector('rg_search.words', body), 'C')) STORED,"                            \
    "  title_tsv tsvector NOT NULL GENERATED ALWAYS AS ("                                          \
    "    to_tsvector('rg_search.stems', title) || to_tsvector('rg_search.words', title)) STORED,"  \
    "  PRIMARY KEY (type, rid));"

/* Run in one transaction (one simple-query string). */
static const char SCHEMA[] =
    /* An upgrade rewrites the table (title_tsv below): longer than the
     * pool's statement timeout at a million entries. */
    "SET LOCAL statement_timeout = 0;"
    "SELECT pg_advisory_xact_lock(72435001);" /* one instance at a time */
    "CREATE SCHEMA IF NOT EXISTS rg_search;"
    "SET LOCAL search_path = rg_search, public;"
    "CREATE EXTENSION IF NOT EXISTS unaccent SCHEMA rg_search;"
    "DO $do$ BEGIN"
    "  IF NOT EXISTS (SELECT 1 FROM pg_ts_config WHERE cfgname = 'words'"
    "                 AND cfgnamespace = 'rg_search'::regnamespace) THEN"
    "    CREATE TEXT SEARCH CONFIGURATION rg_search.stems (COPY = pg_catalog.english);"
    "    ALTER TEXT SEARCH CONFIGURATION rg_search.stems ALTER MAPPING FOR asciiword, asciihword,"
    "      hword_asciipart, word, hword, hword_part WITH unaccent, english_stem;"
    "    CREATE TEXT SEARCH CONFIGURATION rg_search.words (COPY = pg_catalog.simple);"
    "    ALTER TEXT SEARCH CONFIGURATION rg_search.words ALTER MAPPING FOR asciiword, asciihword,"
    "      hword_asciipart, word, hword, hword_part WITH unaccent, simple;"
    "  END IF;"
    "END $do$;"
    "CREATE TABLE IF NOT EXISTS " DOCS_TABLE(
        "docs") "CREATE INDEX IF NOT EXISTS docs_tsv ON rg_search.docs USING gin (tsv);"
                /* The title's words alone, with their own index: a weight-restricted
                 * tsquery on tsv would read every entry that holds the words anywhere
                 * from the GIN index and test each one's weights. */
                /* Looked up first: ALTER TABLE would lock the table at every start. */
                "DO $do$ BEGIN"
                "  IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = "
                "'rg_search.docs'::regclass"
                "                 AND attname = 'title_tsv' AND NOT attisdropped) THEN"
                "    ALTER TABLE rg_search.docs ADD COLUMN title_tsv tsvector NOT NULL"
                "      GENERATED ALWAYS AS (to_tsvector('rg_search.stems', title) ||"
                "                           to_tsvector('rg_search.words', title)) STORED;"
                "  END IF;"
                "END $do$;"
                "CREATE INDEX IF NOT EXISTS docs_title_tsv ON rg_search.docs USING gin (title_tsv);"
                /* A lexeme as a quoted tsquery operand. */
                "CREATE OR REPLACE FUNCTION rg_search.lexeme(l text) RETURNS text"
                "  LANGUAGE sql IMMUTABLE PARALLEL SAFE"
                "  AS $f$ SELECT '''' || replace(replace(l, '\\', '\\\\'), '''', '''''') || '''' "
                "$f$;"
                /* The tsquery of the user's words (at most 16), NULL when there is none.
                 * Positions come from the same parser in both configurations. */
                "CREATE OR REPLACE FUNCTION rg_search.query(q text) RETURNS tsquery"
                "  LANGUAGE sql STABLE PARALLEL SAFE AS $f$"
                "  WITH w AS ("
                "    SELECT true AS word, l.lexeme, p FROM unnest(to_tsvector('rg_search.words', "
                "q)) l,"
                "      unnest(l.positions) p WHERE p <= 16"
                "    UNION ALL"
                "    SELECT false, l.lexeme, p FROM unnest(to_tsvector('rg_search.stems', q)) l,"
                "      unnest(l.positions) p WHERE p <= 16),"
                "  last AS (SELECT max(p) AS p FROM w WHERE word)"
                "  SELECT nullif(concat_ws(' & ',"
                "    (SELECT string_agg(DISTINCT rg_search.lexeme(lexeme), ' & ')"
                "       FROM w, last WHERE NOT word AND w.p < last.p),"
                /* the last word: a prefix of a word, or its stem when that differs
                 * (ts_rank counts one operand per lexeme) */
                "    (SELECT '(' || string_agg(rg_search.lexeme(lexeme)"
                "                              || CASE WHEN word THEN ':*' ELSE '' END, ' | ') || "
                "')'"
                "       FROM w, last WHERE w.p = last.p AND (word OR lexeme NOT IN"
                "         (SELECT x.lexeme FROM w x WHERE x.word AND x.p = last.p)))), '')::tsquery"
                "  $f$;"
                /* The marked excerpt of the body, else of the title, where q matches. */
                "CREATE OR REPLACE FUNCTION rg_search.headline(title text, body text, q tsquery)"
                "  RETURNS text LANGUAGE plpgsql STABLE PARALLEL SAFE AS $f$"
                "  DECLARE"
                "    o CONSTANT text := 'StartSel=\"' || chr(2) || '\", StopSel=\"' || chr(3) ||"
                "                       '\", MaxWords=24, MinWords=12';"
                "    shown CONSTANT text := U&'\\E000\\E001\\E002';"
                "    h text;"
                "  BEGIN"
                "    FOR i IN 1..4 LOOP"
                "      h := ts_headline(CASE i % 2 WHEN 1 THEN 'rg_search.stems' ELSE "
                "'rg_search.words'"
                "                       END::regconfig,"
                "                       translate(CASE WHEN i <= 2 THEN body ELSE title END,"
                "                                 '<>&' || chr(2) || chr(3), shown),"
                "                       q, o || CASE WHEN i > 2 THEN ', HighlightAll=true' ELSE '' "
                "END);"
                "      IF strpos(h, chr(2)) > 0 THEN RETURN translate(h, shown, '<>&'); END IF;"
                "    END LOOP;"
                "    RETURN NULL;"
                "  END $f$;";

/* The words' test in part $4 (rg_search_part: 0 all, 1 title, 2 rest). */
#define PART_TEST                                                                                  \
    "CASE $4::int WHEN 1 THEN d.title_tsv @@ q.q "                                                 \
    "WHEN 2 THEN d.tsv @@ q.q AND NOT d.title_tsv @@ q.q ELSE d.tsv @@ q.q END"

#define QUERY_HEAD(test)                                                                           \
    "WITH q AS MATERIALIZED (SELECT rg_search.query($1) AS q), "                                   \
    "top AS (SELECT d.type, d.rid, d.title, d.body, ts_rank(d.tsv, q.q) AS score "                 \
    "FROM rg_search.docs d, q WHERE " test " "                                                     \
    "AND ($2::text[] IS NULL OR d.type = ANY ($2::text[])) "                                       \
    "ORDER BY score DESC, d.type, d.rid LIMIT $3) "
#define QUERY_IDS_TAIL "SELECT type, rid, score, NULL FROM top ORDER BY score DESC, type, rid"

/* One statement per part, so that each plans with its own GIN index. */
static const char QUERY_IDS[] = QUERY_HEAD("d.tsv @@ q.q") QUERY_IDS_TAIL;
static const char QUERY_IDS_TITLE[] = QUERY_HEAD("d.title_tsv @@ q.q") QUERY_IDS_TAIL;
static const char QUERY_IDS_REST[] =
    QUERY_HEAD("d.tsv @@ q.q AND NOT d.title_tsv @@ q.q") QUERY_IDS_TAIL;
static const char QUERY_HIGHLIGHT[] =
    QUERY_HEAD("d.tsv @@ q.q") "SELECT top.type, top.rid, top.score, rg_search.headline(top.title, "
                               "top.body, q.q) "
                               "FROM top, q ORDER BY score DESC, type, rid";

struct rg_search {
    struct rg__pg_pool pool;
    /* A connection of its own, outside the pool (a thread may hold one
     * pool connection at a time), that holds the build's advisory lock
     * from build_begin to build_end: a session lock, which the server
     * drops with a connection that closes or dies. NULL when this port
     * builds nothing. */
    PGconn *build_conn;
};

static void build_unlock(struct rg_search *s);

static void search_close(rg_search *s)
{
    if (!s)
        return;
    build_unlock(s);
    rg__pg_pool_close(&s->pool);
    free(s);
}

/* Runs a fixed script (one transaction) on a pooled connection. */
static int command(struct rg_search *s, const char *sql)
{
    struct rg__pg_conn *c;
    int rc = rg__pg_get(&s->pool, &c);
    if (rc == 0) {
        rc = rg__pg_command(c, sql);
        rg__pg_put(c);
    }
    return rc;
}

static int search_open(rg_search **out, const char *url, const rg_store_options *opts)
{
    *out = NULL;
    struct rg_search *s = rg_xcalloc(1, sizeof *s);
    int rc =
        rg__pg_pool_open(&s->pool, url, opts, "store=\"search\",adapter=\"postgresql\"", 0, true);
    if (rc < 0) {
        free(s);
        return rc;
    }
    if ((rc = command(s, SCHEMA)) < 0) {
        search_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

/* Runs one statement on a pooled connection, once more on a new connection
 * when the first was lost (every statement here may run twice). */
static int run(struct rg_search *s, const char *name, const char *sql, int n,
               const char *const *values, PGresult **out)
{
    int rc = 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        struct rg__pg_conn *c;
        if ((rc = rg__pg_get(&s->pool, &c)) < 0)
            return rc;
        rc = rg__pg_exec(c, name, sql, n, values, out);
        bool lost = rc == RG_EUNAVAIL && !c->conn;
        rg__pg_put(c);
        if (!lost)
            break;
    }
    return rc < 0 ? rc : 0;
}

static int search_upsert(rg_search *s, const rg_search_doc *doc)
{
    const char *v[] = {doc->type, doc->id, doc->title ? doc->title : "", doc->body ? doc->body : "",
                       doc->tags ? doc->tags : ""};
    return run(s, "search_upsert",
               "INSERT INTO rg_search.docs (type, rid, title, body, tags) "
               "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (type, rid) DO UPDATE "
               "SET title = excluded.title, body = excluded.body, tags = excluded.tags",
               5, v, NULL);
}

#define UPSERT_MANY(table)                                                                         \
    "INSERT INTO rg_search." table " (type, rid, title, body, tags) "                              \
    "SELECT x->>0, x->>1, x->>2, x->>3, x->>4 FROM jsonb_array_elements($1::jsonb) x "             \
    "ON CONFLICT (type, rid) DO UPDATE "                                                           \
    "SET title = excluded.title, body = excluded.body, tags = excluded.tags"

/* The records in one statement (sql: UPSERT_MANY), from a JSON array
 * (jansson escapes the text): all or none. */
static char *docs_json(const rg_search_doc *docs, int n)
{
    json_t *arr = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(arr, json_pack("[s, s, s, s, s]", docs[i].type, docs[i].id,
                                             docs[i].title ? docs[i].title : "",
                                             docs[i].body ? docs[i].body : "",
                                             docs[i].tags ? docs[i].tags : ""));
    char *text = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    return text;
}

static int upsert_into(struct rg_search *s, const char *name, const char *sql,
                       const rg_search_doc *docs, int n)
{
    char *text = docs_json(docs, n);
    const char *v[] = {text};
    int rc = run(s, name, sql, 1, v, NULL);
    free(text);
    return rc;
}

static int search_upsert_many(rg_search *s, const rg_search_doc *docs, int n)
{
    return upsert_into(s, "search_upsert_many", UPSERT_MANY("docs"), docs, n);
}

static int search_remove(rg_search *s, const char *type, const char *id)
{
    const char *v[] = {type, id};
    return run(s, "search_remove", "DELETE FROM rg_search.docs WHERE type = $1 AND rid = $2", 2, v,
               NULL);
}

static int search_query(rg_search *s, const char *q, rg_search_part part, const char *const *types,
                        int ntypes, int limit, bool highlight, rg_search_hit **out, int *nout)
{
    *out = NULL;
    *nout = 0;
    /* The wrappers checked each type ([a-z]+): an array literal needs no
     * quoting. */
    rg_buf arr = {0};
    for (int i = 0; i < ntypes; i++)
        rg_buf_printf(&arr, "%s%s", i ? "," : "{", types[i]);
    if (ntypes)
        rg_buf_puts(&arr, "}");
    char lim[16];
    snprintf(lim, sizeof lim, "%d", limit);
    const char *v[] = {q, ntypes ? arr.data : NULL, lim};
    PGresult *res = NULL;
    int rc = highlight ? run(s, "search_query", QUERY_HIGHLIGHT, 3, v, &res)
             : part == RG_SEARCH_PART_TITLE
                 ? run(s, "search_ids_title", QUERY_IDS_TITLE, 3, v, &res)
             : part == RG_SEARCH_PART_REST ? run(s, "search_ids_rest", QUERY_IDS_REST, 3, v, &res)
                                           : run(s, "search_ids", QUERY_IDS, 3, v, &res);
    rg_buf_free(&arr);
    if (rc < 0)
        return rc;
    int n = PQntuples(res);
    rg_search_hit *hits = n ? rg_xcalloc((size_t)n, sizeof *hits) : NULL;
    for (int i = 0; i < n; i++) {
        rg_search_hit *h = &hits[i];
        snprintf(h->type, sizeof h->type, "%s", PQgetvalue(res, i, 0));
        snprintf(h->id, sizeof h->id, "%s", PQgetvalue(res, i, 1));
        h->score = strtod(PQgetvalue(res, i, 2), NULL);
        if (!PQgetisnull(res, i, 3))
            h->highlight = rg_xstrdup(PQgetvalue(res, i, 3));
    }
    PQclear(res);
    *out = hits;
    *nout = n;
    return 0;
}

static int search_scan(rg_search *s, const char *type, const char *after, int limit,
                       rg_search_entry **out, int *nout)
{
    char lim[16];
    snprintf(lim, sizeof lim, "%d", limit);
    const char *v[] = {type, after, lim};
    PGresult *res = NULL;
    int rc = run(s, "search_scan",
                 "SELECT rid, title, body, tags FROM rg_search.docs "
                 "WHERE type = $1 AND rid > $2 ORDER BY rid LIMIT $3",
                 3, v, &res);
    if (rc < 0)
        return rc;
    int n = PQntuples(res);
    rg_search_entry *e = rg_xcalloc((size_t)(n ? n : 1), sizeof *e);
    for (int i = 0; i < n; i++) {
        snprintf(e[i].type, sizeof e[i].type, "%s", type);
        snprintf(e[i].id, sizeof e[i].id, "%s", PQgetvalue(res, i, 0));
        e[i].title = rg_xstrdup(PQgetvalue(res, i, 1));
        e[i].body = rg_xstrdup(PQgetvalue(res, i, 2));
        e[i].tags = rg_xstrdup(PQgetvalue(res, i, 3));
    }
    PQclear(res);
    *out = e;
    *nout = n;
    return 0;
}

/* Each record found by key and tested (the tsquery made once, by an
 * InitPlan): a few keys never gather the words' hits from the GIN index. */
static int search_matching(rg_search *s, const char *q, rg_search_part part, const char *type,
                           const char *const *ids, int n, bool *out)
{
    json_t *arr = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(arr, json_string(ids[i]));
    char *text = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    char pn[4];
    snprintf(pn, sizeof pn, "%d", (int)part);
    const char *v[] = {q, type, text, pn};
    PGresult *res = NULL;
    int rc =
        run(s, "search_matching",
            "WITH q AS MATERIALIZED (SELECT rg_search.query($1) AS q) "
            "SELECT x.i - 1 FROM jsonb_array_elements_text($3::jsonb) WITH ORDINALITY x(rid, i) "
            "JOIN rg_search.docs d ON d.type = $2 AND d.rid = x.rid "
            "CROSS JOIN q WHERE " PART_TEST,
            4, v, &res);
    free(text);
    if (rc < 0)
        return rc;
    for (int r = 0; r < PQntuples(res); r++) {
        long i = strtol(PQgetvalue(res, r, 0), NULL, 10);
        if (i >= 0 && i < n)
            out[i] = true;
    }
    PQclear(res);
    return 0;
}

/* Building aside: rg_search.docs_next, made with its key only, filled, then
 * given its GIN indexes and put in docs' place in one transaction: the
 * swap waits for the statements that read docs (2 s at most, then the
 * whole switch again) and holds back new ones while it waits and for as
 * long as the renames take. Statements prepared on docs plan again on
 * the new table (PostgreSQL re-reads a prepared statement's names when a
 * table it uses is dropped). */
static const char BUILD_BEGIN[] = "SET LOCAL statement_timeout = 0;"
                                  "DROP TABLE IF EXISTS rg_search.docs_next;"
                                  "CREATE TABLE " DOCS_TABLE("docs_next");
static const char BUILD_DROP[] = "DROP TABLE IF EXISTS rg_search.docs_next;";
static const char BUILD_INDEXES[] =
    "SET LOCAL statement_timeout = 0;"
    "CREATE INDEX IF NOT EXISTS docs_next_tsv ON rg_search.docs_next USING gin (tsv);"
    "CREATE INDEX IF NOT EXISTS docs_next_title_tsv ON rg_search.docs_next USING gin (title_tsv);"
    "ANALYZE rg_search.docs_next;";
/* Waiting for the lock holds back every new reader of docs: give up after
 * 2 s (behind a long reader) and try again (switch_or_drop). */
static const char BUILD_HOLD[] = "SET LOCAL statement_timeout = 0;"
                                 "SET LOCAL lock_timeout = '2s';"
                                 "LOCK TABLE rg_search.docs IN ACCESS EXCLUSIVE MODE;";
static const char BUILD_SWITCH[] =
    "DROP TABLE rg_search.docs;"
    "ALTER TABLE rg_search.docs_next RENAME TO docs;"
    "ALTER INDEX rg_search.docs_next_pkey RENAME TO docs_pkey;"
    "ALTER INDEX rg_search.docs_next_tsv RENAME TO docs_tsv;"
    "ALTER INDEX rg_search.docs_next_title_tsv RENAME TO docs_title_tsv;";

#define RG_STR_(x) #x
#define RG_STR(x)  RG_STR_(x)
#define BUILD_LOCK 72435002 /* pg_advisory_lock key of a build aside */

static void build_unlock(struct rg_search *s)
{
    if (!s->build_conn)
        return;
    /* Released before the connection goes: the server drops a closed
     * session's locks only once its backend has seen the close, and a
     * build begun right after would find the lock still held. */
    PQclear(PQexec(s->build_conn, "SELECT pg_advisory_unlock(" RG_STR(BUILD_LOCK) ")"));
    PQfinish(s->build_conn); /* and the lock with it, if the unlock failed */
    s->build_conn = NULL;
}

/* One build at a time per database, across instances and commands. */
static int build_lock(struct rg_search *s)
{
    if (s->build_conn)
        return 0; /* this port's own build, begun again */
    PGconn *c = PQconnectdb(s->pool.url);
    if (PQstatus(c) != CONNECTION_OK) {
        rg_warn("postgresql search: the build lock's connection failed: %s", PQerrorMessage(c));
        PQfinish(c);
        return rg_error_set(RG_EUNAVAIL, "the database is not reachable; try again");
    }
    PGresult *res = PQexec(c, "SELECT pg_try_advisory_lock(" RG_STR(BUILD_LOCK) ")");
    bool ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
    bool got = ok && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    if (!got) {
        PQfinish(c);
        return ok ? rg_error_set(RG_ECONFLICT, "another reindex is building this search index")
                  : rg_error_set(RG_EUNAVAIL, "the database is not reachable; try again");
    }
    s->build_conn = c;
    return 0;
}

static int search_build_begin(rg_search *s)
{
    int rc = build_lock(s);
    if (rc == 0 && (rc = command(s, BUILD_BEGIN)) < 0)
        build_unlock(s);
    return rc;
}

static int search_build_add(rg_search *s, const rg_search_doc *docs, int n)
{
    return upsert_into(s, "search_build_add", UPSERT_MANY("docs_next"), docs, n);
}

#define SWITCH_ATTEMPTS 10

static int switch_or_drop(struct rg_search *s, bool use, rg_search_changes changes, void *ctx);

static int search_build_end(rg_search *s, bool use, rg_search_changes changes, void *ctx)
{
    if (!s->build_conn)
        return rg_error_set(RG_EINVAL, "no build of this port to end");
    int rc = switch_or_drop(s, use, changes, ctx);
    build_unlock(s);
    return rc;
}

/* The sink of a switch: writes into docs_next in the transaction that
 * holds docs' lock. */
struct next_sink {
    rg_search_sink base;
    struct rg__pg_conn *c;
};

static int next_put(rg_search_sink *k, const rg_search_doc *docs, int n)
{
    struct next_sink *a = (struct next_sink *)k;
    char *text = docs_json(docs, n);
    const char *v[] = {text};
    int rc = rg__pg_exec(a->c, "search_build_put", UPSERT_MANY("docs_next"), 1, v, NULL);
    free(text);
    return rc < 0 ? rc : 0;
}

static int next_drop(rg_search_sink *k, const char *type, const char *id)
{
    struct next_sink *a = (struct next_sink *)k;
    const char *v[] = {type, id};
    int rc =
        rg__pg_exec(a->c, "search_build_drop",
                    "DELETE FROM rg_search.docs_next WHERE type = $1 AND rid = $2", 2, v, NULL);
    return rc < 0 ? rc : 0;
}

/* docs held, the caller's changes into docs_next, the swap: one
 * transaction on one connection. */
static int switch_once(struct rg_search *s, rg_search_changes changes, void *ctx)
{
    struct rg__pg_conn *c;
    int rc = rg__pg_get(&s->pool, &c);
    if (rc < 0)
        return rc;
    struct next_sink sink = {{next_put, next_drop}, c};
    if ((rc = rg__pg_command(c, "BEGIN")) == 0) {
        if ((rc = rg__pg_command(c, BUILD_HOLD)) == 0 &&
            (rc = changes ? changes(ctx, &sink.base) : 0) == 0 &&
            (rc = rg__pg_command(c, BUILD_SWITCH)) == 0)
            rc = rg__pg_command(c, "COMMIT");
        if (rc < 0) {
            int keep = rc;
            rg__pg_command(c, "ROLLBACK");
            rc = keep;
        }
    }
    rg__pg_put(c);
    return rc;
}

static int switch_or_drop(struct rg_search *s, bool use, rg_search_changes changes, void *ctx)
{
    if (!use)
        return command(s, BUILD_DROP);
    int rc = command(s, BUILD_INDEXES);
    if (rc < 0)
        return rc;
    /* A lock that timed out, or a database that was busy, is tried again,
     * up to SWITCH_ATTEMPTS times. */
    for (int attempt = 0; attempt < SWITCH_ATTEMPTS; attempt++) {
        if ((rc = switch_once(s, changes, ctx)) != RG_EUNAVAIL)
            return rc;
        rg_error_clear();
    }
    return rg_error_set(RG_EUNAVAIL, "the search index is busy; the switch did not happen");
}

static int search_ping(rg_search *s)
{
    return rg__pg_ping(&s->pool);
}

const struct rg_search_ops rg_pg_search_ops = {
    .version = RG_SEARCH_OPS_VERSION,
    .caps =
        RG_SEARCH_CAP_HIGHLIGHT | RG_SEARCH_CAP_PREFIX | RG_SEARCH_CAP_STEMS | RG_SEARCH_CAP_SQL,
    .scheme = "postgresql",
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
