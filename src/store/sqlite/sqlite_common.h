/* What the SQLite adapters (relational, documents, search) share: opening a
 * database file with the project's pragmas and mapping SQLite result codes to
 * RG_E* codes (the SQLite message goes to the log, never to a client). */
#ifndef RG_SQLITE_COMMON_H
#define RG_SQLITE_COMMON_H

#include <sqlite3.h>
#include <stdbool.h>

/* The file path of a "sqlite:PATH[?synchronous=full]" URL, malloc'd, and
 * whether full synchronous mode was asked for. NULL when url is not sqlite:. */
char *rg__sqlite_path(const char *url, bool *sync_full);
/* Opens path (creating its folder) in WAL mode with busy timeout, foreign
 * keys, mmap and the synchronous level. *out belongs to the caller. */
int rg__sqlite_open(const char *path, bool sync_full, sqlite3 **out);
/* Maps a SQLite result code to RG_E* and logs what SQLite said about it. */
int rg__sqlite_error(sqlite3 *db, int rc, const char *what);

#endif
