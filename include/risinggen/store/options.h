/* What every store adapter is opened with besides its URL: the bounds of
 * its connection pool, and for the relational store its read replicas. */
#ifndef RISINGGEN_STORE_OPTIONS_H
#define RISINGGEN_STORE_OPTIONS_H

#include <stdbool.h>

#define RG_POOL_SIZE_DEFAULT    10   /* when options are NULL or pool_size is 0 */
#define RG_POOL_WAIT_MS_DEFAULT 5000 /* when options are NULL */

typedef struct rg_store_options {
    /* At most this many connections to one server (each replica has as many
     * again); 0 means RG_POOL_SIZE_DEFAULT. */
    int pool_size;
    /* How long a caller waits for a connection when all are lent out before
     * the store answers RG_EUNAVAIL (503 with Retry-After). 0: not at all. */
    int pool_wait_ms;
    /* Relational: comma-separated URLs of read replicas, or NULL. */
    const char *replica_urls;
    /* SQLite files: the backup archiver (RG_BACKUP_REPO) owns the WAL's
     * checkpoints, so connections never checkpoint themselves. */
    bool wal_archived;
} rg_store_options;

#endif
