/* What the SQLite adapters (relational, documents, search) share: opening a
 * database file with the project's pragmas, a bounded pool of connections
 * (risinggen/store/pool.h), a per-connection statement cache, write
 * transactions serialised by a mutex, and mapping SQLite result codes to
 * RG_E* codes (the SQLite message goes to the log, never to a client).
 *
 * Threads: a connection is used by the one thread that borrowed it until it
 * gives it back. rg__sqlite_pool_close must not run while another thread
 * still uses the pool. Writers of one process
 * queue on the pool's write mutex rather than in SQLite's busy handler, which
 * sleeps and polls; the busy timeout still covers other processes (the
 * command line) writing to the same file. A connection takes its pool's
 * write mutex at most once: for a write transaction (rg__sqlite_begin(c,
 * true) until commit, rollback or release) or around one autocommit write
 * (rg__sqlite_write_start … _end). Documents and search take no other lock
 * while they hold theirs, so a thread inside a relational write transaction
 * may write documents or search entries (other files, other pools); it may
 * not take a second connection of the same pool (the pool refuses a nested
 * acquire). */
#ifndef RG_SQLITE_COMMON_H
#define RG_SQLITE_COMMON_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>

#include "risinggen/store/options.h"
#include "risinggen/store/pool.h"

/* The file path of a "sqlite:PATH[?synchronous=full]" URL, malloc'd, and
 * whether full synchronous mode was asked for. NULL when url is not sqlite:. */
char *rg__sqlite_path(const char *url, bool *sync_full);
/* Opens path (creating its folder) in WAL mode with busy timeout, foreign
 * keys, mmap and the synchronous level. Pragmas that meet a lock (two
 * processes switching a new file to WAL at once) are retried for about 2 s.
 * archived: the backup archiver owns the checkpoints of this file (wal.h),
 * so the connection makes none, neither automatically nor at close.
 * *out belongs to the caller (sqlite3_close). */
int rg__sqlite_open(const char *path, bool sync_full, bool archived, sqlite3 **out);
/* Maps a SQLite result code to RG_E* and logs what SQLite said about it. */
int rg__sqlite_error(sqlite3 *db, int rc, const char *what);

/* Connection pool. */

#define RG__SQLITE_STMT_SLOTS 512 /* open addressing, power of two */
#define RG__SQLITE_STMT_KEPT  384 /* beyond this, statements are prepared uncached */

struct rg__sqlite_slot {
    char *key; /* owned copy */
    sqlite3_stmt *stmt;
};

/* One pooled connection. An adapter that keeps more per connection puts
 * this struct first in its own and gives that size in rg__sqlite_hooks. */
struct rg__sqlite_conn {
    sqlite3 *db;
    /* The rest belongs to sqlite_common.c. */
    struct rg__sqlite_pool *pool;
    bool holds_write; /* owns pool->write_lock */
    int nslots;
    struct rg__sqlite_slot slots[RG__SQLITE_STMT_SLOTS];
};

/* What an adapter adds to a pool; every member may be 0 / NULL. */
struct rg__sqlite_hooks {
    size_t conn_size; /* its connection struct, which starts with rg__sqlite_conn */
    /* Once, at pool open, on a connection of its own: creates tables and
     * indexes. ctx is the one given to rg__sqlite_pool_open. */
    int (*on_open)(sqlite3 *db, void *ctx);
    /* After a connection opens; when it fails, the connection is closed
     * (with on_close) and the error is returned. */
    int (*on_conn)(struct rg__sqlite_conn *c);
    /* Before a connection closes: frees what the adapter keeps in it. */
    void (*on_close)(struct rg__sqlite_conn *c);
    /* Labels of the pool's metrics: "store=\"relational\",adapter=\"sqlite\"". */
    const char *labels;
};

struct rg__sqlite_pool {
    char *path;
    bool sync_full;
    bool archived; /* rg_store_options.wal_archived */
    const struct rg__sqlite_hooks *hooks;
    rg_pool *conns;
    pthread_mutex_t write_lock; /* one writer at a time in this process */
};

/* Sets up *pool for a "sqlite:PATH" url, with the bounds of opts (NULL:
 * defaults). The file is opened once here (and hooks->on_open run on it),
 * so that a bad path fails at start, not at the first request. hooks
 * (borrowed, may be NULL) must outlive the pool. On failure nothing is left
 * to close. */
int rg__sqlite_pool_open(struct rg__sqlite_pool *pool, const char *url,
                         const rg_store_options *opts, const struct rg__sqlite_hooks *hooks,
                         void *ctx);
/* Closes every connection of the pool and frees what it holds (not *pool).
 * Every connection must have been given back. */
void rg__sqlite_pool_close(struct rg__sqlite_pool *pool);
/* Lends a connection of the pool (see risinggen/store/pool.h: bounded, with
 * a wait; RG_EUNAVAIL when none comes free in time). */
int rg__sqlite_pool_get(struct rg__sqlite_pool *pool, struct rg__sqlite_conn **out);
/* Gives c back: a transaction a failed caller left open is rolled back and
 * the write mutex released first. NULL is accepted. */
void rg__sqlite_pool_put(struct rg__sqlite_conn *c);

/* Statements. */

/* The statement cached on c under key, or NULL. */
sqlite3_stmt *rg__sqlite_stmt_cached(struct rg__sqlite_conn *c, const char *key);
/* The statement for key, prepared from sql (key itself when sql is NULL) on
 * the first use. *cached says whether it stays in the cache or, when the
 * cache is full, belongs to the caller; either way rg__sqlite_stmt_done
 * gives it back. */
int rg__sqlite_stmt(struct rg__sqlite_conn *c, const char *key, const char *sql, sqlite3_stmt **out,
                    bool *cached);
/* Resets and unbinds a cached statement; finalizes one that is not. NULL is
 * accepted. */
void rg__sqlite_stmt_done(sqlite3_stmt *st, bool cached);
/* Runs sql (a cached statement keyed by its text), ignoring result rows. */
int rg__sqlite_run(struct rg__sqlite_conn *c, const char *sql);

/* Transactions and writes. */

/* BEGIN, or for a write the pool's write mutex and then BEGIN IMMEDIATE. A
 * write transaction that is already open on c is refused. */
int rg__sqlite_begin(struct rg__sqlite_conn *c, bool write);
/* COMMIT. When it fails and the transaction is still open, the write mutex
 * stays taken and the caller rolls back; otherwise the mutex is released. */
int rg__sqlite_commit(struct rg__sqlite_conn *c);
/* ROLLBACK when a transaction is open, then releases the write mutex. */
int rg__sqlite_rollback(struct rg__sqlite_conn *c);
/* One write in autocommit mode: takes the pool's write mutex unless c
 * already holds it, and says whether it took it, for rg__sqlite_write_end. */
bool rg__sqlite_write_start(struct rg__sqlite_conn *c);
void rg__sqlite_write_end(struct rg__sqlite_conn *c, bool took);
/* Steps st, one write in autocommit mode, between the two. Returns SQLite's
 * code. */
int rg__sqlite_step_write(struct rg__sqlite_conn *c, sqlite3_stmt *st);

#endif
