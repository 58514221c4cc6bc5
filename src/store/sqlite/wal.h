/* Continuous capture of the embedded stores' changes (docs/design/backups.md):
 * the frames of a SQLite WAL, archived into the backup repository as
 * encrypted segments before any checkpoint may copy them into the database
 * file, and applied to a full backup's copy on restore.
 *
 * Per store the repository holds wal/<store>/: segments NNNNNNNNNNNN.seg
 * (numbered without a gap across chains), state.json (the archived
 * position, authenticated) and a lock file that serialises every process
 * archiving the store. A chain is the run of segments that apply to the
 * full backups taken in it; it breaks when the WAL no longer continues the
 * archived position (it was checkpointed and reset by a process that does
 * not archive), and the next full backup starts a new one. */
#ifndef RG_SQLITE_WAL_H
#define RG_SQLITE_WAL_H

#include "vault.h"

#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>

#define RG__WAL_CHAIN_LEN 16

/* Where a full backup stands in the capture: the chain and the number of
 * the first segment that applies after it. */
typedef struct rg__wal_pos {
    char chain[RG__WAL_CHAIN_LEN + 1];
    long long next;
} rg__wal_pos;

/* A read transaction on the store file at path whose snapshot is exactly
 * the archived position: holds the store's writers for the moment it takes
 * to archive what the WAL holds (starting a chain if there is none), opens
 * *reader (to be closed by the caller) in a read transaction, and lets
 * the writers go. *at_ms is the snapshot's time. */
int rg__wal_snapshot(const rg__vault_keys *k, const char *repo, const char *store, const char *path,
                     sqlite3 **reader, rg__wal_pos *pos, int64_t *at_ms);

/* Applies the segments of chain pos->chain from pos->next on, those
 * captured at or before until_ms (INT64_MAX: all), to the plain database
 * file at dbfile. *applied counts them and *reached_ms is the capture time
 * of the last one (unchanged when none applies). */
int rg__wal_apply(const rg__vault_keys *k, const char *repo, const char *store,
                  const rg__wal_pos *pos, int64_t until_ms, const char *dbfile, int *applied,
                  int64_t *reached_ms);

/* Checks every segment of store from number from on: none missing, each
 * decrypts, names its predecessor's hash, and the last one is the state's.
 * Writes one line to out. */
int rg__wal_verify(const rg__vault_keys *k, const char *repo, const char *store, long long from,
                   FILE *out);

/* Removes the segments of store numbered below keep_from. */
int rg__wal_prune(const char *repo, const char *store, long long keep_from, FILE *out);

/* One line per store for `backup list`: chain, segments, last capture. */
void rg__wal_describe(const char *repo, const char *store, FILE *out);

/* The archiver of one store inside a running service: a pass archives
 * what was committed since the last one and, when the WAL has grown past
 * about 4 MB, checkpoints no further than what is archived. */
typedef struct rg__wal_archiver rg__wal_archiver;
int rg__wal_archiver_open(const rg__vault_keys *k, const char *repo, const char *store,
                          const char *path, rg__wal_archiver **out);
/* 0 (nothing to archive, or archived); 1 when no chain runs (no full
 * backup yet, or the chain broke): a full backup is needed; RG_E* on
 * failure. *began_ms: when the pass began (everything committed before is
 * archived when it returns 0). */
int rg__wal_archiver_pass(rg__wal_archiver *a, int64_t *began_ms);
void rg__wal_archiver_close(rg__wal_archiver *a);

#endif
