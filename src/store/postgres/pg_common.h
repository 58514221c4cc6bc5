/* What the PostgreSQL adapters (relational, documents) share: a bounded pool
 * of libpq connections per server (risinggen/store/pool.h), replaced when
 * the server went away; statements prepared once per connection by name;
 * SQLSTATE mapped to RG_E* codes (the server's message goes to the log,
 * never to a client). */
#ifndef RG_PG_COMMON_H
#define RG_PG_COMMON_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "risinggen/store/options.h"
#include "risinggen/store/pool.h"

struct rg__pg_pool;

/* One pooled connection. An adapter that keeps more per connection puts
 * this struct first in its own and gives that size to rg__pg_pool_open. */
struct rg__pg_conn {
    PGconn *conn; /* NULL once lost: the pool closes it when it comes back */
    struct rg__pg_pool *pool;
    char **prepared; /* names prepared on this connection (owned) */
    int nprepared, cap;
    bool in_tx;
};

struct rg__pg_pool {
    char *url;
    size_t conn_size;
    _Atomic long long down_until_ms; /* after a failed connect, fail fast until then */
    rg_pool *conns;
};

/* Sets up pool for url ("postgresql://…" or "postgres://…") with the
 * bounds of opts (NULL: defaults); labels name its metrics. With probe it
 * connects once, so that an unreachable server fails at start; without it
 * the first use connects (read replicas). conn_size is the adapter's
 * connection struct (0: struct rg__pg_conn). */
int rg__pg_pool_open(struct rg__pg_pool *pool, const char *url, const rg_store_options *opts,
                     const char *labels, size_t conn_size, bool probe);
/* Closes every connection; all must have been given back. */
void rg__pg_pool_close(struct rg__pg_pool *pool);
/* Lends a connection (bounded, with a wait: risinggen/store/pool.h); one
 * the server closed while idle is replaced first. RG_EUNAVAIL when the
 * server cannot be reached; for a second after a failed connect, every
 * caller gets RG_EUNAVAIL at once instead of waiting for its own timeout. */
int rg__pg_get(struct rg__pg_pool *pool, struct rg__pg_conn **out);
/* Gives c back: a transaction left open is rolled back; a lost connection
 * is closed. NULL is accepted. */
void rg__pg_put(struct rg__pg_conn *c);
/* Runs the statement sql under name (prepared once per connection; name NULL
 * runs it unprepared) with text parameters (NULL for SQL NULL). *out (may be
 * NULL) receives the result, to PQclear. Returns rows affected (>= 0) or
 * RG_E*; a lost connection is marked so (c->conn NULL). */
int rg__pg_exec(struct rg__pg_conn *c, const char *name, const char *sql, int n,
                const char *const *values, PGresult **out);
/* Runs a fixed command (BEGIN, COMMIT, a script of several statements). */
int rg__pg_command(struct rg__pg_conn *c, const char *sql);
/* Maps a failed result (or a NULL one) to RG_E* and logs the server's text. */
int rg__pg_error(struct rg__pg_conn *c, PGresult *res, const char *what);
/* Two-phase commit (risinggen/store/prepared.h). The gid a caller gives
 * is stored as "gid@database", so that two databases of one server never
 * share one. */
/* Prepares c's open transaction under gid; c has none open afterwards,
 * whatever the outcome (a failed PREPARE rolls the transaction back). */
int rg__pg_prepare(struct rg__pg_conn *c, const char *gid);
/* COMMIT PREPARED (commit) or ROLLBACK PREPARED; RG_ENOTFOUND when no
 * transaction of this database is prepared under gid. */
int rg__pg_finish_prepared(struct rg__pg_conn *c, const char *gid, bool commit);
/* Calls each with the gids prepared in this database that start with
 * prefix, oldest first. */
int rg__pg_prepared_list(struct rg__pg_conn *c, const char *prefix,
                         int (*each)(void *arg, const char *gid), void *arg);
/* 1 when the server accepts PREPARE TRANSACTION (max_prepared_transactions
 * above 0), 0 when not, or RG_E*. */
int rg__pg_prepared_ready(struct rg__pg_pool *pool);
/* 0 when the server answers. */
int rg__pg_ping(struct rg__pg_pool *pool);

#endif
