/* An event row, shared by the modules that show, change or decide on events
 * (events, discovery, attendees, registrations, payments, channels,
 * content, accounts). */
#ifndef RG_EVENT_RECORD_H
#define RG_EVENT_RECORD_H

#include "domain.h"
#include "risinggen/base/buf.h"
#include "risinggen/domain/events.h"

/* An event row (columns of event_get) as API JSON with spotsLeft. New ref. */
json_t *rg__event_view(const rg_rows *rows, int i);
/* The event_* columns of a joined row as a short event summary. New ref. */
json_t *rg__event_summary(const rg_rows *rows, int i);
/* The event row (columns of event_get), or RG_ENOTFOUND; *out is the
 * caller's. With a reader, a replica may answer (views for that reader,
 * never decisions); NULL reads the primary. */
int rg__event_row(rg_app *app, const rg_ctx *reader, int64_t id, rg_rows **out);
/* Whether who organizes the event of row 0, or is an admin. */
bool rg__event_can_manage(const rg_principal *who, const rg_rows *r);
/* Whether who may see the event of row 0: drafts and non-public events
 * exist only for their owner and admins. */
bool rg__event_visible(const rg_principal *who, const rg_rows *r);
/* The cache key of an event's view ("e:<id>") and of its version
 * ("ev:<id>", see rg_vcache_get). */
void rg__event_key(int64_t id, char *key, size_t cap);
void rg__event_verkey(int64_t id, char *key, size_t cap);
/* Drops the cached view of event id and bumps the discovery generation,
 * and the admission row kept for it (rg__admit_row_forget). */
void rg__event_uncache(rg_app *app, int64_t id);
/* The same after admissions only took places: the admission row stays. */
void rg__event_uncache_admitted(rg_app *app, int64_t id);
/* Marks every cached event view and discovery page stale. */
void rg_event_cache_bump(rg_app *app);
/* The cache key of the discovery page of q ("d:<limit>|<parameters>",
 * appended to key); "dr:" + that key is the lock of its remaking. */
void rg__discovery_key(const rg_event_query *q, rg_buf *key);

/* The sold-out memo (event_sold_out.c): events surely full, with their
 * admission row and who holds a place, so that a rush's refusals need no
 * query. An entry is used only while the event's cache version is the one
 * read before its rows, for at most 2 s, and until a paid event's first
 * hold lapses. */
typedef struct rg_sold_out_entry rg_sold_out_entry;
/* The admission row of an event (event_get_for_admission's) that an
 * admission here read from the store less than 20 ms ago, for the checks
 * an admission makes before its group (the group's statement or
 * transaction decides again what it must: open, a place, nobody waiting,
 * not registered): in a rush, one read of the row every 20 ms instead of
 * one per admission. Any change to the event made here drops it at once
 * (rg__admit_row_forget, from rg__event_uncache; the places the groups
 * take do not); another instance's change is seen within 20 ms.
 * rg__admit_row_changes before the read and rg__admit_row_keep after it
 * keep the row unless a change came between; rg__admit_row_find gives a
 * copy (the caller's), or NULL. */
uint64_t rg__admit_row_changes(rg_app *app);
void rg__admit_row_keep(rg_app *app, int64_t event_id, const rg_rows *ev, uint64_t changes);
rg_rows *rg__admit_row_find(rg_app *app, int64_t event_id);
void rg__admit_row_forget(rg_app *app, int64_t event_id);
rg_admit_rows *rg__admit_rows_new(void);
void rg__admit_rows_free(rg_admit_rows *g);

rg_sold_out *rg__sold_out_new(void);
void rg__sold_out_free(rg_sold_out *m);
/* The entry of event_id still valid at now, or NULL; release it with
 * rg__sold_out_put. */
rg_sold_out_entry *rg__sold_out_find(rg_app *app, int64_t event_id, const char *now);
void rg__sold_out_put(rg_sold_out_entry *e);
/* Its event_get_for_admission row (registered: false). */
const rg_rows *rg__sold_out_event(const rg_sold_out_entry *e);
/* Whether user_id holds a registration of the event that is not cancelled. */
bool rg__sold_out_holds(const rg_sold_out_entry *e, const char *user_id);
/* After a request found the event of seen (its event_get_for_admission
 * row) surely full on c (outside a transaction): reads the event and its
 * holders again and remembers them, unless it has more holders than the
 * memo keeps, a fresh entry exists, another thread is making it, its
 * version is absent from the cache, or it is no longer surely full. Errors
 * leave the memo as it was. */
void rg__sold_out_remember(rg_app *app, rg_rel_conn *c, const rg_rows *seen, const char *now);

#endif
