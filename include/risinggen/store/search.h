/* The search port: ranked full-text search over events and resources. The
 * store that owns a record (relational or documents) stays its source of
 * truth; the search index is rebuilt from it by `risinggen reindex`.
 *
 * The rg_search_* wrappers check every argument before an adapter runs: a
 * record type is [a-z]{1,RG_SEARCH_TYPE_MAX}, an id 1..RG_SEARCH_ID_MAX
 * bytes, indexed text valid UTF-8 of at most RG_SEARCH_TEXT_MAX bytes per
 * field; a query's text at most RG_SEARCH_QUERY_MAX bytes of UTF-8, at most
 * RG_SEARCH_TYPES_MAX types, a limit 1..RG_SEARCH_LIMIT_MAX. */
#ifndef RISINGGEN_SEARCH_H
#define RISINGGEN_SEARCH_H

#include <stdbool.h>
#include <stdint.h>

#include "risinggen/store/options.h"

#define RG_SEARCH_OPS_VERSION 7

/* An adapter's highlight is the matched field's plain text with each match
 * between these two bytes (since version 4); the wrapper gives callers HTML:
 * the text escaped, the marks turned into <em> and </em>. */
#define RG_SEARCH_MARK_OPEN  "\x02"
#define RG_SEARCH_MARK_CLOSE "\x03"

#define RG_SEARCH_TYPE_MAX  15 /* bytes, without the NUL (rg_search_hit.type) */
#define RG_SEARCH_ID_MAX    31 /* bytes, without the NUL (rg_search_hit.id) */
#define RG_SEARCH_TEXT_MAX  (256 * 1024)
#define RG_SEARCH_QUERY_MAX 1024
#define RG_SEARCH_TYPES_MAX 16
#define RG_SEARCH_LIMIT_MAX 1000
/* rg_search_ids, which carries no highlights, takes up to this many: every
 * hit of all but the broadest words, so that discovery filters them all. */
#define RG_SEARCH_IDS_MAX 100000

enum rg_search_caps {
    RG_SEARCH_CAP_HIGHLIGHT = 1u << 0, /* hits carry a highlight */
    RG_SEARCH_CAP_PREFIX = 1u << 1,    /* the last word matches as a prefix */
    RG_SEARCH_CAP_STEMS = 1u << 2,     /* English words match their other forms */
    /* The index is a table of the PostgreSQL database at the adapter's URL:
     * rg_search.docs (type, rid, tsv) and the function rg_search.query(text)
     * that makes the tsquery of a user's words, so a relational store on
     * the same URL may match words in its own statements. */
    RG_SEARCH_CAP_SQL = 1u << 3,
};

/* Which part of a record the words must match (since version 6). ALL: the
 * words anywhere (title, body, tags); TITLE: every word in the title;
 * REST: ALL but not TITLE. Discovery by relevance pages through the
 * TITLE matches, then the REST. */
typedef enum rg_search_part {
    RG_SEARCH_PART_ALL = 0,
    RG_SEARCH_PART_TITLE,
    RG_SEARCH_PART_REST,
} rg_search_part;

typedef struct rg_search rg_search;

/* What is indexed for one record. Strings are borrowed. */
typedef struct rg_search_doc {
    const char *type; /* "event", "resource" */
    const char *id;
    const char *title;
    const char *body;
    const char *tags; /* space-separated keywords: city, type, … */
    bool has_point;   /* the place of the record (an event's venue), for */
    double lat, lng;  /* adapters that keep one (Elasticsearch's geo_point) */
} rg_search_doc;

/* A record as the index holds it (rg_search_scan). Strings are owned. */
typedef struct rg_search_entry {
    char type[16];
    char id[32];
    char *title, *body, *tags; /* "" where nothing was indexed */
} rg_search_entry;

typedef struct rg_search_hit {
    char type[16];
    char id[32];
    double score;    /* higher is better */
    char *highlight; /* malloc'd snippet: HTML-escaped text with <em>…</em>, or NULL */
} rg_search_hit;

/* What a build takes in at its switch (build_end with changes): the caller
 * reads its stores while the index is held, so that a write made through
 * the index in use meanwhile either is read by it or waits for the switch
 * and lands in the new index. The adapter provides put (records into the
 * build) and drop (a key out of it). */
typedef struct rg_search_sink {
    int (*put)(struct rg_search_sink *k, const rg_search_doc *docs, int n);
    int (*drop)(struct rg_search_sink *k, const char *type, const char *id);
} rg_search_sink;
typedef int (*rg_search_changes)(void *ctx, rg_search_sink *sink);

struct rg_search_ops {
    int version;
    unsigned caps;
    const char *scheme;
    int (*open)(rg_search **out, const char *url, const rg_store_options *opts);
    void (*close)(rg_search *s);
    /* Inserts or replaces the record (type, id). */
    int (*upsert)(rg_search *s, const rg_search_doc *doc);
    /* The same for n records at once, found by queries when it returns;
     * all or, on failure, any of them may have been written (since version
     * 5; NULL: the wrapper calls upsert for each). */
    int (*upsert_many)(rg_search *s, const rg_search_doc *docs, int n);
    int (*remove)(rg_search *s, const char *type, const char *id);
    /* Hits for the user's words q (plain text, never a query language) in
     * part of the records, limited to types (NULL or ntypes 0: all), best
     * first, at most limit. *out is malloc'd (rg_search_hits_free).
     * Without highlight no hit carries one, and an adapter need not make
     * them (since version 3); highlights are asked for part ALL only. */
    int (*query)(rg_search *s, const char *q, rg_search_part part, const char *const *types,
                 int ntypes, int limit, bool highlight, rg_search_hit **out, int *nout);
    int (*ping)(rg_search *s);
    /* The records of type whose id sorts after `after` (bytewise; "" for
     * the first), in that order, at most limit, with the text they were
     * indexed with: for checks against the stores (since version 5). *out
     * is malloc'd (rg_search_entries_free). */
    int (*scan)(rg_search *s, const char *type, const char *after, int limit, rg_search_entry **out,
                int *nout);
    /* Which of the n records (type, ids[i]) the user's words q match in
     * part, as query would find them: out[i] true for those (since version
     * 6). A caller that walks records in its own order (discovery) tests
     * them this way instead of gathering every hit. */
    int (*matching)(rg_search *s, const char *q, rg_search_part part, const char *type,
                    const char *const *ids, int n, bool *out);
    /* Building aside (since version 7): build_begin makes a second, empty
     * index of the current shape (dropping an unfinished build's), build_add
     * upserts records into it while the index keeps answering and taking
     * writes, and build_end(use) either puts it in the index's place in one
     * step, the old one dropped, or drops it. One build at a time: a
     * build_begin while another port builds the same index is
     * RG_ECONFLICT where the adapter can tell (SQLite, PostgreSQL); the
     * same port may begin again (starting over); build_end without a
     * build is RG_EINVAL where the adapter keeps one. */
    int (*build_begin)(rg_search *s);
    int (*build_add)(rg_search *s, const rg_search_doc *docs, int n);
    /* With use and changes (may be NULL), changes(ctx, sink) runs while
     * writes to the index in use wait (SQLite: its write lock; PostgreSQL:
     * docs' lock; Elasticsearch: nothing waits), just before the switch. */
    int (*build_end)(rg_search *s, bool use, rg_search_changes changes, void *ctx);
};

typedef struct rg_search_port {
    const struct rg_search_ops *ops;
    rg_search *s;
} rg_search_port;

/* Opens the adapter ops (NULL: the one serving url's scheme) after checking
 * it against this port. *out belongs to the caller (rg_search_close). */
int rg_search_open(rg_search_port *out, const struct rg_search_ops *ops, const char *url,
                   const rg_store_options *opts);
void rg_search_close(rg_search_port *p);
int rg_search_upsert(rg_search_port *p, const rg_search_doc *doc);
/* n records (at most RG_SEARCH_LIMIT_MAX, each (type, id) once) in one call
 * where the adapter can: for rebuilding the index. */
int rg_search_upsert_many(rg_search_port *p, const rg_search_doc *docs, int n);
int rg_search_remove(rg_search_port *p, const char *type, const char *id);
int rg_search_query(rg_search_port *p, const char *q, const char *const *types, int ntypes,
                    int limit, rg_search_hit **out, int *nout);
/* The same hits in the same order, without highlights: for callers that
 * only want the ids (discovery), and cheaper. */
int rg_search_ids(rg_search_port *p, const char *q, const char *const *types, int ntypes, int limit,
                  rg_search_hit **out, int *nout);
/* The same in part of the records. */
int rg_search_ids_in(rg_search_port *p, const char *q, rg_search_part part,
                     const char *const *types, int ntypes, int limit, rg_search_hit **out,
                     int *nout);
int rg_search_ping(rg_search_port *p);
/* At most limit (1..RG_SEARCH_LIMIT_MAX) records of type after the id
 * `after` ("" or NULL: from the first), in bytewise id order. */
int rg_search_scan(rg_search_port *p, const char *type, const char *after, int limit,
                   rg_search_entry **out, int *nout);
/* Which of the n (at most RG_SEARCH_LIMIT_MAX) records (type, ids[i]) the
 * words q match in part: out[i] is set for each. Text that holds no word
 * matches nothing. */
int rg_search_matching(rg_search_port *p, const char *q, rg_search_part part, const char *type,
                       const char *const *ids, int n, bool *out);
/* Building aside (ops->build_*): at most RG_SEARCH_LIMIT_MAX records per
 * rg_search_build_add, each (type, id) once. */
int rg_search_build_begin(rg_search_port *p);
int rg_search_build_add(rg_search_port *p, const rg_search_doc *docs, int n);
int rg_search_build_end(rg_search_port *p, bool use);
/* build_end(use) with changes taken in while the index is held. */
int rg_search_build_switch(rg_search_port *p, rg_search_changes changes, void *ctx);
void rg_search_hits_free(rg_search_hit *hits, int n);
void rg_search_entries_free(rg_search_entry *e, int n);
/* Checks ops against this port (version, slots). 0 or RG_EINVAL. */
int rg_search_ops_check(const struct rg_search_ops *ops);

extern const struct rg_search_ops rg_sqlite_search_ops;
extern const struct rg_search_ops rg_pg_search_ops;
extern const struct rg_search_ops rg_es_search_ops;

#endif
