/* The two implementations behind risinggen/store/backup.h, and what they
 * share (src/store/backup.c picks one by the relational store's URL):
 * the embedded profile's own backups of the SQLite files
 * (src/store/sqlite/backup.c) and the server profile's, which pgBackRest
 * takes (src/store/postgres/backup.c). Each function is the one of
 * backup.h without the profile in its name. */
#ifndef RG_STORE_BACKUP_PORTS_H
#define RG_STORE_BACKUP_PORTS_H

#include "risinggen/base/config.h"
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

int rg__sqlite_backup_create(const rg_config *cfg, FILE *out);
int rg__sqlite_backup_list(const rg_config *cfg, FILE *out);
int rg__sqlite_backup_verify(const rg_config *cfg, const char *id, FILE *out);
int rg__sqlite_backup_verify_restore(const rg_config *cfg, const char *id, FILE *out);
int rg__sqlite_backup_restore(const rg_config *cfg, const char *id, const char *to,
                              const char *into, FILE *out);
int rg__sqlite_backup_prune(const rg_config *cfg, FILE *out);
int rg__sqlite_backup_service_start(const rg_config *cfg);
void rg__sqlite_backup_service_stop(void);

#ifdef RG_WITH_POSTGRES
int rg__pg_backup_create(const rg_config *cfg, bool incremental, FILE *out);
int rg__pg_backup_list(const rg_config *cfg, FILE *out);
int rg__pg_backup_verify(const rg_config *cfg, const char *id, FILE *out);
int rg__pg_backup_verify_restore(const rg_config *cfg, const char *id, FILE *out);
int rg__pg_backup_restore(const rg_config *cfg, const char *id, const char *to, const char *into,
                          FILE *out);
int rg__pg_backup_prune(const rg_config *cfg, FILE *out);
int rg__pg_backup_service_start(const rg_config *cfg);
void rg__pg_backup_service_stop(void);
#endif

/* RG_BACKUP_FULL_AT: the minute of the day (UTC) of the daily full
 * backup, or -1 for "off" (RG_EINVAL otherwise). */
int rg__backup_full_at(const char *s, int *minute);
/* The next time (seconds) after t when the clock shows minute `at`. */
int64_t rg__backup_next_daily(int64_t t, int at);
/* Splits text into lines for the log (at warn when failed). */
void rg__backup_log_lines(char *text, bool failed);

#endif
