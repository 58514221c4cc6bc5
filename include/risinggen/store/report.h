/* `risinggen report indexes`: which indexes the named queries use and
 * which queries read whole tables, from the engine's own plans (EXPLAIN
 * QUERY PLAN on SQLite, the generic plan on PostgreSQL) and, where the
 * engine counts them, the scans of each index (pg_stat_user_indexes). */
#ifndef RISINGGEN_STORE_REPORT_H
#define RISINGGEN_STORE_REPORT_H

#include "risinggen/store/relational.h"
#include <stdio.h>

/* Writes the report to out. 0, or RG_E* when the store cannot be read. */
int rg_report_indexes(rg_relational *r, FILE *out);

#endif
