/* The relational port: venues, events, registrations, payments, the
 * migrations ledger.
 *
 * An adapter is one static const struct rg_rel_ops. The domain never calls a
 * slot: it calls the rg_rel_* wrappers below (timing and checks live there).
 * Statements are named: each dialect's queries/<dialect>/ files is embedded in
 * the binary and every statement is looked up by name and prepared once per
 * connection. Parameters are written $1, $2… in every dialect. */
#ifndef RISINGGEN_RELATIONAL_H
#define RISINGGEN_RELATIONAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RG_REL_OPS_VERSION 2

enum rg_rel_caps {
    RG_REL_CAP_RETURNING = 1u << 0,   /* UPDATE … RETURNING */
    RG_REL_CAP_PREPARED_TX = 1u << 1, /* PREPARE TRANSACTION */
    RG_REL_CAP_REPLICAS = 1u << 2,
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

struct rg_rel_ops {
    int version; /* RG_REL_OPS_VERSION */
    unsigned caps;
    const char *scheme;  /* URL scheme this adapter serves: "sqlite" */
    const char *dialect; /* query and migration folder: "sqlite", "postgresql" */
    /* url is the whole RG_RELATIONAL_URL; *out belongs to the caller (close). */
    int (*open)(rg_rel **out, const char *url);
    void (*close)(rg_rel *db);
    /* A connection for the calling thread; release gives it back. */
    int (*acquire)(rg_rel *db, rg_rel_conn **out);
    void (*release)(rg_rel *db, rg_rel_conn *c);
    /* write=true takes the write lock at once (BEGIN IMMEDIATE). */
    int (*begin)(rg_rel_conn *c, bool write);
    int (*commit)(rg_rel_conn *c);
    int (*rollback)(rg_rel_conn *c);
    /* Runs the named statement. Returns rows changed by a write or rows
     * returned by a read (>= 0), or RG_E*. When out
     * is not NULL it receives the result rows (caller frees). A unique-key
     * violation is RG_ECONFLICT; a store that cannot be reached RG_EUNAVAIL. */
    int (*query)(rg_rel_conn *c, const char *name, const rg_param *params, int n, rg_rows **out);
    /* Runs a script of several statements (migrations). */
    int (*exec_script)(rg_rel_conn *c, const char *sql);
    /* 0 when the store answers. */
    int (*ping)(rg_rel *db);
    /* Version 2. A connection for reads that may lag behind the primary (a
     * read replica); NULL when the adapter has none. Released with release. */
    int (*acquire_read)(rg_rel *db, rg_rel_conn **out);
};

/* The wrappers the domain calls. */
typedef struct rg_relational {
    const struct rg_rel_ops *ops;
    rg_rel *db;
} rg_relational;

int rg_rel_acquire(rg_relational *r, rg_rel_conn **out);
/* A connection for a read that may be served by a replica: discovery,
 * lists, stats. Never for capacity or money decisions. It is the primary
 * while the calling thread reads its own writes (rg_rel_read_primary). */
int rg_rel_acquire_read(rg_relational *r, rg_rel_conn **out);
/* Sets, for the calling thread, whether reads must see its own writes. */
void rg_rel_read_primary(bool on);
/* Whether the calling thread reads its own writes now (caches filled from a
 * replica are then skipped too). */
bool rg_rel_reading_own_writes(void);
void rg_rel_release(rg_relational *r, rg_rel_conn *c);
int rg_rel_begin(rg_relational *r, rg_rel_conn *c, bool write);
int rg_rel_commit(rg_relational *r, rg_rel_conn *c);
void rg_rel_rollback(rg_relational *r, rg_rel_conn *c);
int rg_rel_query(rg_relational *r, rg_rel_conn *c, const char *name, const rg_param *params, int n,
                 rg_rows **out);
int rg_rel_exec_script(rg_relational *r, rg_rel_conn *c, const char *sql);
int rg_rel_ping(rg_relational *r);

void rg_rows_free(rg_rows *rows);
/* Cell by column name; NULL for SQL NULL or an unknown column. */
const char *rg_rows_get(const rg_rows *rows, int row, const char *col);
int64_t rg_rows_int(const rg_rows *rows, int row, const char *col, int64_t dflt);
double rg_rows_real(const rg_rows *rows, int row, const char *col, double dflt);
bool rg_rows_bool(const rg_rows *rows, int row, const char *col);

/* Named statements of a dialect, embedded at build time. Returns the SQL text
 * (static) or NULL. */
const char *rg_query_sql(const char *dialect, const char *name);

/* Adapters known to this build. */
extern const struct rg_rel_ops rg_sqlite_rel_ops;
#ifdef RG_WITH_POSTGRES
extern const struct rg_rel_ops rg_pg_rel_ops;
#endif

#endif
