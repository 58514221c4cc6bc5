/* What the PostgreSQL adapters (relational, documents) share: one libpq
 * connection per thread per store, opened on first use and opened again
 * after the server went away; statements prepared once per connection by
 * name; SQLSTATE mapped to RG_E* codes (the server's message goes to the
 * log, never to a client). */
#ifndef RG_PG_COMMON_H
#define RG_PG_COMMON_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdbool.h>

struct rg__pg_pool;

struct rg__pg_conn {
    PGconn *conn;
    struct rg__pg_pool *pool;
    struct rg__pg_conn *next;
    char **prepared; /* names prepared on this connection (owned) */
    int nprepared, cap;
    bool in_tx;
};

struct rg__pg_pool {
    char *url;
    _Atomic long long down_until_ms; /* after a failed connect, fail fast until then */
    const char *metric;              /* gauge series of open connections, or NULL */
    pthread_key_t key;
    pthread_mutex_t lock; /* guards conns */
    struct rg__pg_conn *conns;
};

/* Sets up pool for url ("postgresql://…" or "postgres://…"). With probe it
 * connects once, so that an unreachable server fails at start; without it
 * the first use connects (read replicas). metric is static. */
int rg__pg_pool_open(struct rg__pg_pool *pool, const char *url, const char *metric);
int rg__pg_pool_open_lazy(struct rg__pg_pool *pool, const char *url, const char *metric);
void rg__pg_pool_close(struct rg__pg_pool *pool);
/* This thread's connection, (re)connected when needed. RG_EUNAVAIL when the
 * server cannot be reached; for a second after a failed connect, every caller
 * gets RG_EUNAVAIL at once instead of waiting for its own timeout. */
int rg__pg_conn(struct rg__pg_pool *pool, struct rg__pg_conn **out);
/* Runs the statement sql under name (prepared once per connection; name NULL
 * runs it unprepared) with text parameters (NULL for SQL NULL). *out (may be
 * NULL) receives the result, to PQclear. Returns rows affected (>= 0) or
 * RG_E*; a lost connection is dropped so that the next call reconnects. */
int rg__pg_exec(struct rg__pg_conn *c, const char *name, const char *sql, int n,
                const char *const *values, PGresult **out);
/* Runs a fixed command (BEGIN, COMMIT, a script of several statements). */
int rg__pg_command(struct rg__pg_conn *c, const char *sql);
/* Maps a failed result (or a NULL one) to RG_E* and logs the server's text. */
int rg__pg_error(struct rg__pg_conn *c, PGresult *res, const char *what);
/* Rolls back a transaction left open and forgets a broken connection. */
void rg__pg_release(struct rg__pg_conn *c);
/* 0 when the server answers. */
int rg__pg_ping(struct rg__pg_pool *pool);

#endif
