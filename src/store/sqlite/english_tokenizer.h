/* The FTS5 tokenizer of the SQLite search index (english_tokenizer.c). */
#ifndef RG_SQLITE_ENGLISH_TOKENIZER_H
#define RG_SQLITE_ENGLISH_TOKENIZER_H

#include <sqlite3.h>
#include <stdbool.h>

#define RG__SQLITE_ENGLISH "rg_english"

/* Registers the tokenizer on db, whose FTS5 API goes to *api_out when
 * api_out is not NULL. Every connection that reads or writes the index
 * registers it before it touches the FTS5 table. SQLITE_OK or a SQLite
 * error code. */
int rg__sqlite_english_register(sqlite3 *db, fts5_api **api_out);

#endif
