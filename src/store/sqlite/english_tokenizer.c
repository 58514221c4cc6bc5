/* The FTS5 tokenizer "rg_english": unicode61 (diacritics removed, case
 * folded) with English stems from the Snowball stemmer (libstemmer), the
 * same algorithm as PostgreSQL's english_stem, so both profiles stem alike.
 *
 *   document text  every word, then its stem as a colocated token when it
 *                  differs ("camping" is found as "camping" and as "camp")
 *   query word     its stem alone ("camps" looks for "camp", which every
 *                  form of the word holds in the index)
 *   query prefix   the typed letters alone ("improv"* finds "improvised")
 *
 * A tokenizer instance belongs to one connection (FTS5 makes one per table
 * and connection), and so do its stemmer, which is not thread-safe, and its
 * memo of recent stems: text repeats its words, and a stem read from the
 * memo costs a hash and a compare instead of the Snowball steps (stemming
 * took a ninth of the service's time in discovery with words). */
#include "english_tokenizer.h"

#include <libstemmer.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MEMO_SLOTS 2048 /* direct-mapped, a power of two */
#define MEMO_WORD  24   /* longer words are stemmed every time */

struct memo {
    unsigned char len, stem_len; /* len 0: empty */
    char word[MEMO_WORD], stem[MEMO_WORD];
};

struct english {
    fts5_tokenizer parent; /* unicode61 */
    Fts5Tokenizer *inner;
    struct sb_stemmer *stemmer;
    struct memo memo[MEMO_SLOTS];
};

struct english_call {
    struct english *e;
    int flags; /* FTS5_TOKENIZE_* */
    void *ctx;
    int (*token)(void *ctx, int tflags, const char *tok, int n, int start, int end);
};

static void english_delete(Fts5Tokenizer *t)
{
    struct english *e = (struct english *)t;
    if (!e)
        return;
    if (e->inner)
        e->parent.xDelete(e->inner);
    if (e->stemmer)
        sb_stemmer_delete(e->stemmer);
    free(e);
}

/* ctx is the connection's fts5_api; arguments are not taken. */
static int english_create(void *ctx, const char **argv, int argc, Fts5Tokenizer **out)
{
    (void)argv;
    *out = NULL;
    if (argc != 0)
        return SQLITE_ERROR;
    fts5_api *api = ctx;
    struct english *e = calloc(1, sizeof *e);
    if (!e)
        return SQLITE_NOMEM;
    void *pctx = NULL;
    const char *args[] = {"remove_diacritics", "2"};
    int rc = api->xFindTokenizer(api, "unicode61", &pctx, &e->parent);
    if (rc == SQLITE_OK)
        rc = e->parent.xCreate(pctx, args, 2, &e->inner);
    if (rc == SQLITE_OK && !(e->stemmer = sb_stemmer_new("english", "UTF_8")))
        rc = SQLITE_NOMEM;
    if (rc != SQLITE_OK) {
        english_delete((Fts5Tokenizer *)e);
        return rc;
    }
    *out = (Fts5Tokenizer *)e;
    return SQLITE_OK;
}

/* The stem of tok[0..n) (*stem_len bytes, valid until the next call), or
 * NULL when memory ran out. */
static const char *stem_of(struct english *e, const char *tok, int n, int *stem_len)
{
    struct memo *m = NULL;
    if (n < MEMO_WORD) {
        uint32_t h = 2166136261u; /* FNV-1a */
        for (int i = 0; i < n; i++)
            h = (h ^ (unsigned char)tok[i]) * 16777619u;
        m = &e->memo[h & (MEMO_SLOTS - 1)];
        if (m->len == n && memcmp(m->word, tok, (size_t)n) == 0) {
            *stem_len = m->stem_len;
            return m->stem;
        }
    }
    const sb_symbol *s = sb_stemmer_stem(e->stemmer, (const sb_symbol *)tok, n);
    if (!s)
        return NULL;
    *stem_len = sb_stemmer_length(e->stemmer);
    if (m && *stem_len < MEMO_WORD) {
        m->len = (unsigned char)n;
        memcpy(m->word, tok, (size_t)n);
        m->stem_len = (unsigned char)*stem_len;
        memcpy(m->stem, s, (size_t)*stem_len);
    }
    return (const char *)s;
}

static int on_word(void *ctx, int tflags, const char *tok, int n, int start, int end)
{
    struct english_call *c = ctx;
    bool query = c->flags & FTS5_TOKENIZE_QUERY;
    if (query && (c->flags & FTS5_TOKENIZE_PREFIX))
        return c->token(c->ctx, tflags, tok, n, start, end);
    int sn;
    const char *stem = stem_of(c->e, tok, n, &sn);
    if (!stem)
        return SQLITE_NOMEM;
    bool differs = sn != n || memcmp(stem, tok, (size_t)n) != 0;
    if (query)
        return c->token(c->ctx, tflags, stem, sn, start, end);
    int rc = c->token(c->ctx, tflags, tok, n, start, end);
    if (rc == SQLITE_OK && differs)
        rc = c->token(c->ctx, tflags | FTS5_TOKEN_COLOCATED, stem, sn, start, end);
    return rc;
}

static int english_tokenize(Fts5Tokenizer *t, void *ctx, int flags, const char *text, int n,
                            int (*token)(void *, int, const char *, int, int, int))
{
    struct english *e = (struct english *)t;
    struct english_call c = {e, flags, ctx, token};
    return e->parent.xTokenize(e->inner, &c, flags, text, n, on_word);
}

int rg__sqlite_english_register(sqlite3 *db, fts5_api **api_out)
{
    fts5_api *api = NULL;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_pointer(st, 1, (void *)&api, "fts5_api_ptr", NULL);
        sqlite3_step(st);
    }
    sqlite3_finalize(st);
    if (!api)
        return SQLITE_ERROR;
    fts5_tokenizer tk = {english_create, english_delete, english_tokenize};
    int rc = api->xCreateTokenizer(api, RG__SQLITE_ENGLISH, api, &tk, NULL);
    if (api_out)
        *api_out = api;
    return rc;
}
