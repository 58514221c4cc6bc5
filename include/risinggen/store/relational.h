/* The relational port: venues, events, registrations, payments, the
 * migrations ledger.
 *
 * An adapter is one static const struct rg_rel_ops. The domain never calls a
 * slot: it calls the rg_rel_* wrappers below, which check every argument
 * (query names, parameter counts and types) before an adapter runs and time
 * each named query for /metrics. Statements are named: each dialect's
 * queries/<dialect>/ files are embedded in the binary and every statement is
 * looked up by name and prepared once per connection. Parameters are
 * written $1, $2… in every dialect.
 *
 * Connections come from a bounded pool owned by the store (see
 * risinggen/store/pool.h): rg_rel_acquire waits up to the pool's wait and
 * then answers RG_EUNAVAIL; every connection acquired is released once, and
 * a thread holds at most one connection of a store at a time (a nested
 * acquire aborts debug builds). Releasing a connection rolls back a
 * transaction left open on it. */
#ifndef RISINGGEN_RELATIONAL_H
#define RISINGGEN_RELATIONAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "risinggen/store/options.h"
#include "risinggen/store/prepared.h"

#define RG_REL_OPS_VERSION 6

#define RG_REL_PARAMS_MAX 32 /* parameters of one statement */
#define RG_REL_NAME_MAX   63 /* bytes of a query name */

enum rg_rel_caps {
    RG_REL_CAP_RETURNING = 1u << 0, /* INSERT/UPDATE … RETURNING */
    /* Two-phase commit (risinggen/store/prepared.h): the prepare slots. */
    RG_REL_CAP_PREPARED_TX = 1u << 1,
    RG_REL_CAP_REPLICAS = 1u << 2, /* acquire_read may lend a replica's connection */
    /* A WITH may change rows (UPDATE … RETURNING inside WITH, then INSERT …
     * SELECT from it): the statements that need it (registration_admit)
     * exist only in the dialect of such an adapter. */
    RG_REL_CAP_WRITABLE_CTE = 1u << 3,
};

typedef struct rg_rel rg_rel;           /* one adapter instance (a database) */
typedef struct rg_rel_conn rg_rel_conn; /* a connection, used by one thread at a time */

typedef enum { RG_P_NULL, RG_P_INT, RG_P_TEXT, RG_P_REAL } rg_param_type;
typedef struct rg_param {
    rg_param_type type;
    int64_t i;
    double d;
    const char *s; /* borrowed for the duration of the call */
} rg_param;

#define RG_PNULL    ((rg_param){.type = RG_P_NULL})
#define RG_PINT(v)  ((rg_param){.type = RG_P_INT, .i = (int64_t)(v)})
#define RG_PREAL(v) ((rg_param){.type = RG_P_REAL, .d = (double)(v)})
static inline rg_param rg__ptext(const char *s)
{
    return s ? (rg_param){.type = RG_P_TEXT, .s = s} : (rg_param){.type = RG_P_NULL};
}
#define RG_PTEXT(v) rg__ptext(v)
#define RG_PBOOL(v) RG_PINT((v) ? 1 : 0)

/* A materialised result: every value as text (NULL for SQL NULL). One
 * allocation owned by the caller, freed with rg_rows_free. */
typedef struct rg_rows {
    int ncols, nrows;
    char **names; /* ncols */
    char **cells; /* nrows * ncols, row-major */
} rg_rows;

/* A source of rows for rg_rel_load: fills values[0..ncols-1] (text, NULL
 * for SQL NULL; each stays valid until the next call) and returns 1 for a
 * row, 0 after the last one, or an RG_E* code to stop the load. */
typedef int (*rg_rel_row_fn)(void *arg, const char **values);

/* An adapter. The wrappers have checked every argument before a slot runs. */
struct rg_rel_ops {
    int version; /* RG_REL_OPS_VERSION */
    unsigned caps;
    const char *scheme;  /* URL scheme this adapter serves: "sqlite" */
    const char *dialect; /* query and migration folder: "sqlite", "postgresql" */
    /* url is the whole RG_RELATIONAL_URL; *out belongs to the caller (close). */
    int (*open)(rg_rel **out, const char *url, const rg_store_options *opts);
    void (*close)(rg_rel *db);
    /* A connection of the primary from the pool; release gives it back. */
    int (*acquire)(rg_rel *db, rg_rel_conn **out);
    /* A connection for reads that may lag behind the primary (a replica);
     * set only with RG_REL_CAP_REPLICAS. Released with release. */
    int (*acquire_read)(rg_rel *db, rg_rel_conn **out);
    void (*release)(rg_rel *db, rg_rel_conn *c);
    /* write=true takes the write lock at once (BEGIN IMMEDIATE). */
    int (*begin)(rg_rel_conn *c, bool write);
    int (*commit)(rg_rel_conn *c);
    int (*rollback)(rg_rel_conn *c);
    /* Runs the named statement. Returns rows changed by a write or rows
     * returned by a read (>= 0), or RG_E*. When out is not NULL it receives
     * the result rows (caller frees). A unique-key violation is
     * RG_ECONFLICT; a store that cannot be reached RG_EUNAVAIL. */
    int (*query)(rg_rel_conn *c, const char *name, const rg_param *params, int n, rg_rows **out);
    /* Runs a script of several statements (migrations). */
    int (*exec_script)(rg_rel_conn *c, const char *sql);
    /* Bulk load (the seed): appends every row next gives through the named
     * load statement (in the dialect's files: COPY … FROM STDIN on
     * PostgreSQL, an INSERT … VALUES ($1, …) on SQLite), all or nothing,
     * outside any transaction of the caller's. Returns the rows loaded or
     * RG_E* (next's own code when it stopped the load); nothing stays of a
     * load that failed. */
    int (*load)(rg_rel_conn *c, const char *name, int ncols, rg_rel_row_fn next, void *arg);
    /* The plan of the named statement as the engine would run it for any
     * parameters: one row per table or index it reads, columns "tbl",
     * "idx" (NULL without an index) and "full_scan" (1 when every row of
     * tbl is read). Nothing is run. */
    int (*explain)(rg_rel_conn *c, const char *name, rg_rows **out);
    /* Every index of the schema: "tbl", "idx", and "scans" (the engine's
     * count of scans since its statistics were reset; NULL where the
     * engine keeps none). */
    int (*indexes)(rg_rel_conn *c, rg_rows **out);
    /* 0 when the store answers. */
    int (*ping)(rg_rel *db);
    /* Two-phase commit, set exactly with RG_REL_CAP_PREPARED_TX. prepare
     * ends c's open transaction by preparing it under gid (none is open
     * afterwards, whatever the outcome); finish_prepared commits or rolls
     * back a prepared transaction from any connection (RG_ENOTFOUND when
     * none has that gid); prepared_list calls each with the prepared gids
     * starting with prefix; prepared_ready is 1 when the server takes
     * prepared transactions now (PostgreSQL: max_prepared_transactions
     * above 0), else 0. */
    int (*prepare)(rg_rel_conn *c, const char *gid);
    int (*finish_prepared)(rg_rel_conn *c, const char *gid, bool commit);
    int (*prepared_list)(rg_rel_conn *c, const char *prefix, rg_gid_fn each, void *arg);
    int (*prepared_ready)(rg_rel *db);
};

/* The wrappers the domain calls. */
typedef struct rg_relational {
    const struct rg_rel_ops *ops;
    rg_rel *db;
} rg_relational;

/* Opens the adapter ops (NULL: the one serving url's scheme) after checking
 * it against this port. *out belongs to the caller (rg_rel_close). */
int rg_rel_open(rg_relational *out, const struct rg_rel_ops *ops, const char *url,
                const rg_store_options *opts);
void rg_rel_close(rg_relational *r);
int rg_rel_acquire(rg_relational *r, rg_rel_conn **out);
/* A connection for a read that a replica may serve: discovery, lists,
 * stats. Never for capacity or money decisions, nor for a caller that must
 * read its own writes (take rg_rel_acquire then). The primary's when the
 * adapter has no replicas. */
int rg_rel_acquire_read(rg_relational *r, rg_rel_conn **out);
void rg_rel_release(rg_relational *r, rg_rel_conn *c);
int rg_rel_begin(rg_relational *r, rg_rel_conn *c, bool write);
int rg_rel_commit(rg_relational *r, rg_rel_conn *c);
void rg_rel_rollback(rg_relational *r, rg_rel_conn *c);
int rg_rel_query(rg_relational *r, rg_rel_conn *c, const char *name, const rg_param *params, int n,
                 rg_rows **out);
int rg_rel_exec_script(rg_relational *r, rg_rel_conn *c, const char *sql);
int rg_rel_explain(rg_relational *r, rg_rel_conn *c, const char *name, rg_rows **out);
int rg_rel_indexes(rg_relational *r, rg_rel_conn *c, rg_rows **out);
/* The bulk load of the slot above; name must start with "load_". */
int rg_rel_load(rg_relational *r, rg_rel_conn *c, const char *name, int ncols, rg_rel_row_fn next,
                void *arg);
int rg_rel_ping(rg_relational *r);
/* Two-phase commit (the slots above). rg_rel_two_phase is 1 when the
 * adapter has the capability and the server takes prepared transactions,
 * else 0 (or RG_E* when it cannot tell); the others are RG_EINVAL without
 * the capability or with a gid or prefix that breaks prepared.h's rule. */
int rg_rel_two_phase(rg_relational *r);
int rg_rel_prepare(rg_relational *r, rg_rel_conn *c, const char *gid);
int rg_rel_finish_prepared(rg_relational *r, rg_rel_conn *c, const char *gid, bool commit);
int rg_rel_prepared_list(rg_relational *r, rg_rel_conn *c, const char *prefix, rg_gid_fn each,
                         void *arg);

/* Checks ops against this port: RG_REL_OPS_VERSION, every slot set,
 * acquire_read set exactly when RG_REL_CAP_REPLICAS is, and the prepare
 * slots exactly when RG_REL_CAP_PREPARED_TX is. 0 or RG_EINVAL. */
int rg_rel_ops_check(const struct rg_rel_ops *ops);

void rg_rows_free(rg_rows *rows);
/* Rows built from text (for adapters): ncols names, nrows * ncols cells
 * row-major (NULL for SQL NULL), copied into one rg_rows. */
rg_rows *rg_rows_make(int ncols, const char *const *names, int nrows, const char *const *cells);
/* Cell by column name; NULL for SQL NULL or an unknown column. */
const char *rg_rows_get(const rg_rows *rows, int row, const char *col);
int64_t rg_rows_int(const rg_rows *rows, int row, const char *col, int64_t dflt);
double rg_rows_real(const rg_rows *rows, int row, const char *col, double dflt);
bool rg_rows_bool(const rg_rows *rows, int row, const char *col);
/* The row numbers ordered by the integer column col, smallest first
 * (malloc'd, rows->nrows of them): the rows of an UPDATE or DELETE …
 * RETURNING come in whatever order the engine wrote them. */
int *rg_rows_order_by_int(const rg_rows *rows, const char *col);

/* Named statements of a dialect, embedded at build time. Returns the SQL text
 * (static) or NULL. */
const char *rg_query_sql(const char *dialect, const char *name);
/* The named statements of the build, one entry per file's statement:
 * rg_query_count() entries, the i-th's name returned and its dialect
 * ("common", "sqlite", "postgresql") in *dialect. Static strings. */
int rg_query_count(void);
const char *rg_query_at(int i, const char **dialect);

/* Adapters known to this build. */
extern const struct rg_rel_ops rg_sqlite_rel_ops;
#ifdef RG_WITH_POSTGRES
extern const struct rg_rel_ops rg_pg_rel_ops;
#endif

#endif
