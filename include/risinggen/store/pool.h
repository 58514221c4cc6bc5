/* A bounded pool of connections to one server (or one database file), for
 * adapter authors. Each store instance owns its pools; nothing is kept per
 * thread.
 *
 * - At most `size` connections exist at once, opened when needed and kept
 *   when given back (the most recently returned is lent first, so that its
 *   prepared statements stay warm).
 * - rg_pool_get waits up to `wait_ms` for a connection when all are lent;
 *   then it answers RG_EUNAVAIL ("try again"), which the HTTP layer turns
 *   into 503 with Retry-After. Nothing waits forever.
 * - A thread that asks for a second connection of the same pool while it
 *   still holds one (a nested acquire: with a transaction open on the first,
 *   the two would deadlock on a write lock or see different data) is a
 *   programming error: debug builds abort with a message naming the pool,
 *   release builds log it once and go on.
 * - Every connection lent must be given back with rg_pool_put, once.
 *
 * Metrics, labelled with the pool's name ("store=\"relational\",
 * adapter=\"postgresql\",server=\"primary\""): rg_pool_connections (open),
 * rg_pool_in_use (lent), rg_pool_waits_total, rg_pool_timeouts_total. */
#ifndef RISINGGEN_STORE_POOL_H
#define RISINGGEN_STORE_POOL_H

#include <stdbool.h>

typedef struct rg_pool rg_pool;

/* What a pool does with its connections; called without the pool's lock. */
typedef struct rg_pool_methods {
    /* Opens a connection into *out. An error (RG_EUNAVAIL when the server
     * cannot be reached) is returned to the caller of rg_pool_get. */
    int (*open)(void *ctx, void **out);
    void (*close)(void *ctx, void *conn);
    /* Whether an idle connection can still be used (the server may have
     * closed it); a false answer closes it and takes another. May be NULL. */
    bool (*usable)(void *ctx, void *conn);
} rg_pool_methods;

/* A new pool; labels are the Prometheus labels of its metrics (copied),
 * methods and ctx are borrowed for the pool's life. size >= 1; wait_ms >= 0. */
rg_pool *rg_pool_new(const char *labels, int size, int wait_ms, const rg_pool_methods *methods,
                     void *ctx);
/* Closes the idle connections and frees the pool. Every lent connection must
 * have been given back. NULL is accepted. */
void rg_pool_free(rg_pool *p);
/* Lends a connection: 0 and *out, or RG_EUNAVAIL (all lent for wait_ms, or
 * the server cannot be reached) or another error of methods->open. */
int rg_pool_get(rg_pool *p, void **out);
/* Gives back a connection lent by rg_pool_get; broken closes it instead of
 * keeping it (a lost connection, or one left in an unknown state). */
void rg_pool_put(rg_pool *p, void *conn, bool broken);
/* The pool's size (its bound). */
int rg_pool_size(const rg_pool *p);

#endif
