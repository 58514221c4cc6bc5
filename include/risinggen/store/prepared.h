/* Two-phase commit across stores (docs/design/consistency.md): what the
 * relational and the documents ports share when an adapter can prepare a
 * transaction (PostgreSQL's PREPARE TRANSACTION) and finish it later, from
 * any connection, after a crash too.
 *
 * A prepared transaction is named by a global id (gid) the caller chooses:
 * [A-Za-z0-9._-], 1..RG_GID_MAX bytes. Its writes are invisible to readers
 * and its row locks held until it is finished (committed or rolled back).
 * An adapter keeps gids apart per database (two databases of one server
 * may use the same gid), and lists only those of its own database. */
#ifndef RISINGGEN_STORE_PREPARED_H
#define RISINGGEN_STORE_PREPARED_H

#include <stdbool.h>

#define RG_GID_MAX 64

/* Called with each prepared gid; a negative return stops the listing and
 * is returned. */
typedef int (*rg_gid_fn)(void *arg, const char *gid);

/* Whether gid follows the rule above. */
bool rg_gid_valid(const char *gid);

#endif
