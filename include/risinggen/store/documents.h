/* The documents port: users, auth, sessions, channels, messages, resources,
 * feedback. Documents are JSON objects kept by collection and id; each has a
 * revision for optimistic concurrency. Indexes (and unique keys) are declared
 * by the domain at open, the way a MongoDB application ensures its indexes. */
#ifndef RISINGGEN_DOCUMENTS_H
#define RISINGGEN_DOCUMENTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define RG_DOC_OPS_VERSION 1

enum rg_doc_caps {
    RG_DOC_CAP_UNIQUE = 1u << 0, /* enforces unique indexes */
    RG_DOC_CAP_TTL = 1u << 1,
    /* stores strings holding U+0000; without it such a document is refused
     * with RG_EVALIDATION (PostgreSQL JSONB cannot hold it) */
    RG_DOC_CAP_NUL_IN_STRINGS = 1u << 2,
};

typedef struct rg_docs rg_docs;

/* One index: collection, dotted path into the document ("email",
 * "preferences.language"), unique or not. Collection names are [a-z_]. */
typedef struct rg_doc_index {
    const char *collection;
    const char *path;
    bool unique;
} rg_doc_index;

/* Filter on an indexed path: equality, or "less than" when less_than is
 * set; value is compared as text, or as a number when is_int is set. A text
 * equality filter whose value is NULL matches a missing or null field. */
typedef struct rg_doc_filter {
    const char *path;
    const char *value;
    bool is_int;
    int64_t ival;
    bool less_than;
} rg_doc_filter;

struct rg_doc_ops {
    int version;
    unsigned caps;
    const char *scheme;
    /* Opens the store and ensures the given indexes exist. */
    int (*open)(rg_docs **out, const char *url, const rg_doc_index *indexes, int nindexes);
    void (*close)(rg_docs *d);
    /* Inserts doc under id (revision 1). RG_ECONFLICT if the id or a unique
     * key is taken. doc is borrowed. */
    int (*insert)(rg_docs *d, const char *coll, const char *id, json_t *doc);
    /* *out is a new reference (json_decref); *rev, if not NULL, its revision.
     * RG_ENOTFOUND when absent. */
    int (*get)(rg_docs *d, const char *coll, const char *id, json_t **out, int64_t *rev);
    /* Replaces the document if its revision is still expect_rev (0: any).
     * RG_ESTALE when another write came first, RG_ENOTFOUND when gone,
     * RG_ECONFLICT on a unique key. */
    int (*replace)(rg_docs *d, const char *coll, const char *id, json_t *doc, int64_t expect_rev);
    /* Removes one document; 0 also when it was already gone. */
    int (*remove)(rg_docs *d, const char *coll, const char *id);
    /* Documents matching every filter, ordered by sort_path (NULL: id),
     * descending if desc, after the keyset position (after_value, after_id)
     * when after_id is not NULL, at most limit. *out is a new array of
     * {"id": …, "doc": {…}} objects. */
    int (*find)(rg_docs *d, const char *coll, const rg_doc_filter *filters, int nfilters,
                const char *sort_path, bool desc, const char *after_value, const char *after_id,
                int limit, json_t **out);
    /* Removes every document matching the filters; returns how many. */
    int (*remove_where)(rg_docs *d, const char *coll, const rg_doc_filter *filters, int nfilters);
    int (*ping)(rg_docs *d);
};

typedef struct rg_documents {
    const struct rg_doc_ops *ops;
    rg_docs *d;
} rg_documents;

int rg_docs_insert(rg_documents *s, const char *coll, const char *id, json_t *doc);
int rg_docs_get(rg_documents *s, const char *coll, const char *id, json_t **out, int64_t *rev);
int rg_docs_replace(rg_documents *s, const char *coll, const char *id, json_t *doc,
                    int64_t expect_rev);
int rg_docs_remove(rg_documents *s, const char *coll, const char *id);
int rg_docs_find(rg_documents *s, const char *coll, const rg_doc_filter *filters, int nfilters,
                 const char *sort_path, bool desc, const char *after_value, const char *after_id,
                 int limit, json_t **out);
/* The first match of path == value; RG_ENOTFOUND when none. *id_out (may be
 * NULL) receives a malloc'd copy of its id. */
int rg_docs_find_one(rg_documents *s, const char *coll, const char *path, const char *value,
                     json_t **out, char **id_out);
int rg_docs_remove_where(rg_documents *s, const char *coll, const rg_doc_filter *filters,
                         int nfilters);
int rg_docs_ping(rg_documents *s);

/* The names every adapter accepts, since they become part of its query text:
 * a collection is [a-z_]{1,32}; a path is [A-Za-z0-9_.]{1,64} without an
 * empty segment ("a..b", ".a", "a."). */
bool rg_doc_collection_valid(const char *s);
bool rg_doc_path_valid(const char *s);
/* The arguments of find that every adapter refuses alike: at most 16
 * filters on valid paths, a valid sort path, a keyset id of 1..512 bytes, a
 * positive limit. 0 or RG_EINVAL with the detail set. */
int rg_doc_find_args_check(const rg_doc_filter *filters, int nfilters, const char *sort_path,
                           const char *after_id, int limit);

extern const struct rg_doc_ops rg_sqlite_doc_ops;
#ifdef RG_WITH_POSTGRES
extern const struct rg_doc_ops rg_pg_doc_ops;
#endif

#endif
