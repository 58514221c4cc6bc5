/* Versioned, checksummed migrations with up and down, per dialect, embedded
 * from migrations/<dialect>/NNNN_name.{up,down}.sql. The ledger table
 * schema_migrations records version, name, checksum (SHA-256 of the up
 * script) and when it was applied. */
#ifndef RISINGGEN_MIGRATE_H
#define RISINGGEN_MIGRATE_H

#include <stdio.h>

#include "risinggen/store/relational.h"

/* Applies every pending migration in order, each in its own transaction.
 * Refuses (RG_ECHECKSUM, with the version named in the error detail) when an
 * applied migration's file changed, or the database has a version this binary
 * does not know. *applied (may be NULL) receives how many ran. */
int rg_migrate_up(rg_relational *r, int *applied);
/* Rolls back the last n applied migrations (n >= 1), newest first. */
int rg_migrate_down(rg_relational *r, int n);
/* Writes one line per known migration: version, name, applied time or
 * "pending", and "CHANGED" where the checksum no longer matches. */
int rg_migrate_status(rg_relational *r, FILE *out);
/* 0 when every known migration is applied with a matching checksum. */
int rg_migrate_check(rg_relational *r);

#endif
