/* The search port: ranked full-text search over events and resources. The
 * store that owns a record (relational or documents) stays its source of
 * truth; the search index is rebuilt from it by `risinggen reindex`. */
#ifndef RISINGGEN_SEARCH_H
#define RISINGGEN_SEARCH_H

#include <stdint.h>

#define RG_SEARCH_OPS_VERSION 1

enum rg_search_caps {
    RG_SEARCH_CAP_HIGHLIGHT = 1u << 0,
    RG_SEARCH_CAP_PREFIX = 1u << 1,
};

typedef struct rg_search rg_search;

/* What is indexed for one record. Strings are borrowed. */
typedef struct rg_search_doc {
    const char *type; /* "event", "resource" */
    const char *id;
    const char *title;
    const char *body;
    const char *tags; /* space-separated keywords: city, type, … */
} rg_search_doc;

typedef struct rg_search_hit {
    char type[16];
    char id[32];
    double score;    /* higher is better */
    char *highlight; /* malloc'd snippet with <em>…</em>, or NULL */
} rg_search_hit;

struct rg_search_ops {
    int version;
    unsigned caps;
    const char *scheme;
    int (*open)(rg_search **out, const char *url);
    void (*close)(rg_search *s);
    /* Inserts or replaces the record (type, id). */
    int (*upsert)(rg_search *s, const rg_search_doc *doc);
    int (*remove)(rg_search *s, const char *type, const char *id);
    /* Hits for the user's words q (plain text, never a query language),
     * limited to types (NULL or ntypes 0: all), best first, at most limit.
     * *out is malloc'd (rg_search_hits_free). */
    int (*query)(rg_search *s, const char *q, const char *const *types, int ntypes, int limit,
                 rg_search_hit **out, int *nout);
    int (*ping)(rg_search *s);
};

typedef struct rg_search_port {
    const struct rg_search_ops *ops;
    rg_search *s;
} rg_search_port;

int rg_search_upsert(rg_search_port *p, const rg_search_doc *doc);
int rg_search_remove(rg_search_port *p, const char *type, const char *id);
int rg_search_query(rg_search_port *p, const char *q, const char *const *types, int ntypes,
                    int limit, rg_search_hit **out, int *nout);
int rg_search_ping(rg_search_port *p);
void rg_search_hits_free(rg_search_hit *hits, int n);

extern const struct rg_search_ops rg_sqlite_search_ops;

#endif
