/* Backups of the stores (`risinggen backup …`, docs/design/backups.md),
 * one command line for both profiles, in one repository folder
 * (RG_BACKUP_REPO) under one key (RG_BACKUP_KEY).
 *
 * Embedded profile: full backups (folders full/<id>/ of the store files
 * encrypted with libsodium's secretstream, and a manifest of their sizes
 * and BLAKE2b hashes, authenticated with a key derived from the backup
 * key) and, in wal/<store>/, the changes captured continuously between
 * them, so that a restore reaches any moment since the oldest full backup.
 *
 * Server profile: pgBackRest's repository in pgbackrest/ (its AES-256
 * cipher keyed by the backup key, its manifests and checksums), fed by
 * PostgreSQL's WAL archiving; risinggen writes its configuration, creates
 * the stanza and runs it.
 *
 * Every function writes what it did to out and returns 0 or RG_E* with
 * the reason set. */
#ifndef RISINGGEN_STORE_BACKUP_H
#define RISINGGEN_STORE_BACKUP_H

#include "risinggen/base/config.h"
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* A full backup of the relational and documents stores, taken online
 * while the service writes: SQLite's backup API at a known position of the
 * continuous capture (which it starts when none runs), or pgBackRest's
 * backup (incremental: only what changed since the last one; server
 * profile only) after making sure PostgreSQL archives into the
 * repository. */
int rg_backup_create(const rg_config *cfg, bool incremental, FILE *out);
/* Every complete backup, oldest first: id, time, files, bytes; then the
 * capture of each store. */
int rg_backup_list(const rg_config *cfg, FILE *out);
/* Checks backup id (NULL: every one): the manifest opens with the key,
 * every file is there with its size and hash, every chunk decrypts; and
 * every captured segment those backups need. RG_EINVAL naming the first
 * problem found. */
int rg_backup_verify(const rg_config *cfg, const char *id, FILE *out);
/* rg_backup_verify, then a restore of backup id (NULL: the newest, with
 * everything captured since) into a scratch folder of the repository with
 * its checks, then the folder goes: the monthly test of a real repository. */
int rg_backup_verify_restore(const rg_config *cfg, const char *id, FILE *out);
/* Restores into the folder into, which must be empty or absent: backup id
 * (NULL: the newest taken at or before to), then the changes captured
 * after it up to to (an RFC 3339 time, fractions of a second kept; NULL:
 * everything captured). Embedded: the store files, checked with SQLite's
 * integrity_check. Server: a PostgreSQL data directory that replays the
 * archived WAL up to to when it starts. */
int rg_backup_restore(const rg_config *cfg, const char *id, const char *to, const char *into,
                      FILE *out);
/* Removes full backups older than RG_BACKUP_KEEP_DAYS, never the newest,
 * the captured segments no backup kept needs, and what killed backups left
 * behind. */
int rg_backup_prune(const rg_config *cfg, FILE *out);
/* The outcome of the last `verify` of the repository (by the command or
 * after a scheduled backup): "TIME ok|failed: what it said", or "" when
 * none ran. */
void rg_backup_last_verify(const rg_config *cfg, char *line, size_t cap);
/* Parses an RFC 3339 time into milliseconds since the epoch (RG_EINVAL). */
int rg_backup_parse_time(const char *s, int64_t *ms);

/* With a repository set, a thread of the running service keeps the
 * schedule: on the embedded profile it archives the stores' changes every
 * RG_BACKUP_ARCHIVE_MS and takes a full backup when no capture chain runs;
 * on the server profile it takes a full backup when the repository has
 * none and an incremental one hourly, and exports PostgreSQL's archiver
 * state. Both take a full backup daily at RG_BACKUP_FULL_AT, verify it and
 * prune; metrics rg_backup_*. 0 (also when there is nothing to do) or
 * RG_E*. cfg must outlive the thread. */
int rg_backup_service_start(const rg_config *cfg);
/* Stops the thread after a last archiving pass. */
void rg_backup_service_stop(void);

#endif
