/* The documents port: users, auth, sessions, channels, messages, resources,
 * feedback. This header is the contract every adapter meets (SQLite JSON,
 * PostgreSQL JSONB, MongoDB); tests/conformance/
 * test_documents.c checks each rule below on each adapter.
 *
 * Documents. A document is a JSON object kept in a collection under an id,
 * with a revision: 1 when inserted, one more on each replace. Key order
 * inside a document is not kept. A number comes back with its value (an
 * integer as an integer; 1.50 may come back as 1.5).
 *
 * Names and bounds (checked by the rg_docs_* wrappers before any adapter
 * runs; a call outside them is RG_EINVAL and reaches no adapter):
 * - a collection is [a-z_], 1..RG_DOC_COLLECTION_MAX bytes;
 * - a path is member names joined by '.', 1..RG_DOC_PATH_MAX bytes; a name
 *   is [A-Za-z0-9_] and starts with a letter or '_', so that a path only
 *   ever names object members (never an array position);
 * - an id is valid UTF-8, 1..RG_DOC_ID_MAX bytes;
 * - a text value in a filter is valid UTF-8 of at most RG_DOC_VALUE_MAX
 *   bytes; at most RG_DOC_FILTERS_MAX filters; a find's limit is
 *   1..RG_DOC_LIMIT_MAX; a document is an object of at most RG_DOC_BYTES_MAX
 *   bytes as compact JSON; at most RG_DOC_INDEXES_MAX declared indexes.
 * - an adapter without RG_DOC_CAP_NUL_IN_STRINGS is never given a document
 *   with U+0000 in a string: such a write is RG_EVALIDATION.
 *
 * The value at a path. Missing and JSON null are the same: "no value".
 * Values are typed, and the type decides both matching and order.
 *
 * Order (sorts and keyset pages). Documents are ordered by the value at the
 * sort path, then by id (bytes), both in the requested direction. Values of
 * different types are ordered by type, as MongoDB orders them:
 *     no value < numbers < strings < objects < arrays < booleans
 * Numbers compare by value (1 == 1.0 < 1.5), strings by their UTF-8 bytes
 * (code point order, whatever a server's locale says), false < true.
 * Objects and arrays come in a fixed order among themselves that each
 * adapter chooses. Ascending, documents without a value come first;
 * descending, last.
 *
 * Filters (all must hold). An equality filter with a text value matches
 * strings equal to it; with an integer value (is_int) numbers equal to it:
 * never a string "1", never true. A text equality filter whose value is
 * NULL matches documents without a value. A less-than filter matches values
 * of the filter's type below it (text: strings before it in byte order;
 * integer: smaller numbers); no value never matches.
 *
 * Keyset paging. A find that gives after_id returns the documents that come
 * after the position (after_value, after_id) in the order above, whether or
 * not that document still exists; after_value is the sort value as the
 * previous page showed it (a JSON value of its type; NULL or JSON null for
 * no value) and is ignored without a sort path. Paging through a collection
 * that no one writes visits every matching document exactly once.
 *
 * Uniqueness. An index declared unique refuses (RG_ECONFLICT) a second
 * document with an equal value (same type and value, as filters compare) at
 * its path; documents without a value never conflict. Ids are unique in a
 * collection. An insert or replace that breaks either changes nothing.
 *
 * Indexes are declared by the domain at open, the way a MongoDB
 * application ensures its indexes; every path used in a filter or sort of a
 * hot query should have one. Collections come into being on first use. */
#ifndef RISINGGEN_STORE_DOCUMENTS_H
#define RISINGGEN_STORE_DOCUMENTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "risinggen/store/options.h"
#include "risinggen/store/prepared.h"

#define RG_DOC_OPS_VERSION 4

#define RG_DOC_COLLECTION_MAX 32
#define RG_DOC_PATH_MAX       64
#define RG_DOC_ID_MAX         512
#define RG_DOC_VALUE_MAX      4096
#define RG_DOC_FILTERS_MAX    16
#define RG_DOC_LIMIT_MAX      10000
#define RG_DOC_INDEXES_MAX    64
#define RG_DOC_BYTES_MAX      (16 * 1024 * 1024)
#define RG_DOC_WRITES_MAX     16 /* writes of one transaction (atomic or prepared) */

enum rg_doc_caps {
    RG_DOC_CAP_UNIQUE = 1u << 0, /* enforces unique indexes */
    /* stores strings holding U+0000 (PostgreSQL JSONB cannot) */
    RG_DOC_CAP_NUL_IN_STRINGS = 1u << 2,
    /* Two-phase commit (risinggen/store/prepared.h): the prepare slots. */
    RG_DOC_CAP_PREPARED = 1u << 3,
    /* Several writes in one transaction (write_all): the atomic slots. */
    RG_DOC_CAP_ATOMIC = 1u << 4,
};

typedef struct rg_docs rg_docs;

/* One declared index: collection, path, unique or not. */
typedef struct rg_doc_index {
    const char *collection;
    const char *path;
    bool unique;
} rg_doc_index;

/* A filter on a path (see "Filters" above): text (value) or integer
 * (is_int, ival); equality, or less-than when less_than is set. */
typedef struct rg_doc_filter {
    const char *path;
    const char *value;
    bool is_int;
    int64_t ival;
    bool less_than;
} rg_doc_filter;

/* What a find asks for. Every member may be 0 except limit. */
typedef struct rg_doc_query {
    const rg_doc_filter *filters;
    int nfilters;
    const char *sort_path; /* NULL: by id only */
    bool desc;
    /* Keyset position (see above): start after it; after_id NULL: from the
     * start. after_value is borrowed. */
    const char *after_id;
    json_t *after_value;
    int limit;
} rg_doc_query;

/* One write of a transaction (atomic or prepared): an insert, a replace
 * (expect_rev as the replace slot says) or a removal. */
typedef enum { RG_DOC_W_INSERT, RG_DOC_W_REPLACE, RG_DOC_W_REMOVE } rg_doc_write_op;
typedef struct rg_doc_write {
    rg_doc_write_op op;
    const char *collection;
    const char *id;
    json_t *doc; /* insert and replace; borrowed */
    int64_t expect_rev;
} rg_doc_write;

/* An adapter. The wrappers below have checked every argument against the
 * bounds above before a slot is called. */
struct rg_doc_ops {
    int version; /* RG_DOC_OPS_VERSION */
    unsigned caps;
    const char *scheme;
    /* Opens the store and ensures the given indexes exist. */
    int (*open)(rg_docs **out, const char *url, const rg_store_options *opts,
                const rg_doc_index *indexes, int nindexes);
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
    /* The documents q selects, in its order, at most q->limit; *out is a new
     * array of {"id": …, "doc": {…}} objects. */
    int (*find)(rg_docs *d, const char *coll, const rg_doc_query *q, json_t **out);
    /* Removes every document matching the filters; returns how many. */
    int (*remove_where)(rg_docs *d, const char *coll, const rg_doc_filter *filters, int nfilters);
    int (*ping)(rg_docs *d);
    /* Two-phase commit, set exactly with RG_DOC_CAP_PREPARED. prepare runs
     * the n writes in one transaction and prepares it under gid: each
     * fails as its single slot would (RG_ESTALE, RG_ENOTFOUND,
     * RG_ECONFLICT; a removal of a missing document is no failure), and
     * on any failure nothing stays prepared. Until finish_prepared commits
     * it, readers see none of the writes and a write to the same
     * documents waits. finish_prepared is RG_ENOTFOUND when nothing is
     * prepared under gid; prepared_list and prepared_ready as in the
     * relational port. */
    int (*prepare)(rg_docs *d, const char *gid, const rg_doc_write *writes, int n);
    int (*finish_prepared)(rg_docs *d, const char *gid, bool commit);
    int (*prepared_list)(rg_docs *d, const char *prefix, rg_gid_fn each, void *arg);
    int (*prepared_ready)(rg_docs *d);
    /* Atomic writes, set exactly with RG_DOC_CAP_ATOMIC. write_all runs the
     * n writes in one transaction and commits it: each fails as its single
     * slot would (a removal of a missing document is no failure), and on
     * any failure none of them stays; readers see all of them or none.
     * The one exception: RG_EUNAVAIL from a commit whose outcome the
     * server could not confirm (a MongoDB primary lost at that moment)
     * leaves all of them or none, unknown to the caller.
     * atomic_ready is 1 when the server runs such transactions now (a
     * MongoDB replica set or sharded cluster, not a standalone server), 0
     * when not, or RG_E*. */
    int (*write_all)(rg_docs *d, const rg_doc_write *writes, int n);
    int (*atomic_ready)(rg_docs *d);
};

typedef struct rg_documents {
    const struct rg_doc_ops *ops;
    rg_docs *d;
} rg_documents;

/* Opens the adapter ops (NULL: the one serving url's scheme) after checking
 * it against this port (version, slots), and the indexes against the
 * bounds. *out belongs to the caller (rg_docs_close). */
int rg_docs_open(rg_documents *out, const struct rg_doc_ops *ops, const char *url,
                 const rg_store_options *opts, const rg_doc_index *indexes, int nindexes);
void rg_docs_close(rg_documents *s);

int rg_docs_insert(rg_documents *s, const char *coll, const char *id, json_t *doc);
int rg_docs_get(rg_documents *s, const char *coll, const char *id, json_t **out, int64_t *rev);
int rg_docs_replace(rg_documents *s, const char *coll, const char *id, json_t *doc,
                    int64_t expect_rev);
int rg_docs_remove(rg_documents *s, const char *coll, const char *id);
int rg_docs_find(rg_documents *s, const char *coll, const rg_doc_query *q, json_t **out);
/* The first document (by id) whose text at path equals value; RG_ENOTFOUND
 * when none. *id_out (may be NULL) receives a malloc'd copy of its id. */
int rg_docs_find_one(rg_documents *s, const char *coll, const char *path, const char *value,
                     json_t **out, char **id_out);
int rg_docs_remove_where(rg_documents *s, const char *coll, const rg_doc_filter *filters,
                         int nfilters);
int rg_docs_ping(rg_documents *s);
/* Two-phase commit (the slots above): rg_docs_two_phase is 1 when the
 * adapter has the capability and its server takes prepared transactions
 * now, else 0 (or RG_E*); the others check their arguments as the single
 * writes do, and are RG_EINVAL without the capability. */
int rg_docs_two_phase(rg_documents *s);
int rg_docs_prepare(rg_documents *s, const char *gid, const rg_doc_write *writes, int n);
int rg_docs_finish_prepared(rg_documents *s, const char *gid, bool commit);
int rg_docs_prepared_list(rg_documents *s, const char *prefix, rg_gid_fn each, void *arg);
/* Atomic writes (the slots above): rg_docs_atomic is 1 when the adapter
 * has the capability and its server runs transactions now, else 0 (or
 * RG_E*); rg_docs_write_all checks its writes as rg_docs_prepare does and
 * is RG_EINVAL without the capability. */
int rg_docs_atomic(rg_documents *s);
int rg_docs_write_all(rg_documents *s, const rg_doc_write *writes, int n);

/* Whether a collection name or a path follows the rules above. */
bool rg_doc_collection_valid(const char *s);
bool rg_doc_path_valid(const char *s);

/* The place of a value's type in the order above: 0 no value (NULL or JSON
 * null), 1 numbers, 2 strings, 3 objects, 4 arrays, 5 booleans. Adapters
 * that sort by a rank expression compare against this. */
int rg_doc_type_rank(const json_t *v);

/* Checks ops against this port: RG_DOC_OPS_VERSION, every slot set, and
 * the prepare slots exactly with RG_DOC_CAP_PREPARED, the atomic ones
 * exactly with RG_DOC_CAP_ATOMIC.
 * 0, or RG_EINVAL with a detail naming what is wrong. */
int rg_doc_ops_check(const struct rg_doc_ops *ops);

extern const struct rg_doc_ops rg_sqlite_doc_ops;
#ifdef RG_WITH_POSTGRES
extern const struct rg_doc_ops rg_pg_doc_ops;
#endif
#ifdef RG_WITH_MONGODB
extern const struct rg_doc_ops rg_mongo_doc_ops;
#endif

#endif
