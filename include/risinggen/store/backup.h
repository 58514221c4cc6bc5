/* Backups of the stores (`risinggen backup …`, docs/design/backups.md): a
 * repository folder (RG_BACKUP_REPO) of full backups, each a folder
 * full/<id>/ with the store files encrypted (libsodium secretstream, the
 * key RG_BACKUP_KEY) and a manifest of their sizes and BLAKE2b hashes,
 * itself authenticated with a key derived from the backup key.
 *
 * The embedded profile (SQLite files) is served here; every function
 * writes what it did to out and returns 0 or RG_E* with the reason set. */
#ifndef RISINGGEN_STORE_BACKUP_H
#define RISINGGEN_STORE_BACKUP_H

#include "risinggen/base/config.h"
#include <stdio.h>

/* A full backup of the relational and documents stores, taken online with
 * SQLite's backup API while the service writes. */
int rg_backup_create(const rg_config *cfg, FILE *out);
/* Every complete backup, oldest first: id, time, files, bytes. */
int rg_backup_list(const rg_config *cfg, FILE *out);
/* Checks backup id (NULL: every one): the manifest opens with the key,
 * every file is there with its size and hash, every chunk decrypts.
 * RG_EINVAL naming the first problem found. */
int rg_backup_verify(const rg_config *cfg, const char *id, FILE *out);
/* rg_backup_verify, then a restore of backup id (NULL: the newest) into a
 * scratch folder of the repository with its checks, then the folder goes:
 * the monthly test of a real repository. */
int rg_backup_verify_restore(const rg_config *cfg, const char *id, FILE *out);
/* Writes the store files of backup id (NULL: the newest) into the folder
 * into, which must be empty or absent, and checks them with SQLite's
 * integrity_check. */
int rg_backup_restore(const rg_config *cfg, const char *id, const char *into, FILE *out);
/* Removes full backups older than RG_BACKUP_KEEP_DAYS, never the newest,
 * and what killed backups left behind. */
int rg_backup_prune(const rg_config *cfg, FILE *out);

#endif
