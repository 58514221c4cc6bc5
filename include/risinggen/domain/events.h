/* Events: create, read, change and the status rules (events.c), discovery
 * (discovery.c), what organizers see (attendees.c, and finance in
 * payments.h), and the event's channel (channels.h). */
#ifndef RISINGGEN_DOMAIN_EVENTS_H
#define RISINGGEN_DOMAIN_EVENTS_H

#include "risinggen/domain/app.h"

#include <stdio.h>

/* POST /v1/events: organizers and admins; a draft (slug unique: 409). */
int rg_event_create(rg_app *app, const rg_ctx *ctx, json_t *body, json_t **out);
/* GET /v1/events/{id or slug}: anyone for published public events; drafts
 * and non-public ones to their owner and admins (404 to others). */
int rg_event_get(rg_app *app, const rg_ctx *ctx, const char *id_or_slug, json_t **out);
/* The same as JSON text (*out malloc'd, *len its length). */
int rg_event_get_text(rg_app *app, const rg_ctx *ctx, const char *id_or_slug, char **out,
                      size_t *len);
/* PATCH /v1/events/{id}: the owner or an admin; draft -> published ->
 * cancelled or completed. */
int rg_event_patch(rg_app *app, const rg_ctx *ctx, const char *id, json_t *patch, json_t **out);

/* GET /v1/events: published public events by filters, by startDate. */
typedef struct rg_event_query {
    const char *q, *type, *city, *country, *from, *to, *near, *radius_km, *has_spots, *featured;
    const char *cursor;
    const char *sort; /* "date" (NULL) or "relevance" (with q) */
    int limit;
} rg_event_query;
int rg_event_list(rg_app *app, const rg_ctx *ctx, const rg_event_query *q, json_t **out);
/* The same page as JSON text (*out malloc'd, *len its length). */
int rg_event_list_text(rg_app *app, const rg_ctx *ctx, const rg_event_query *q, char **out,
                       size_t *len);
/* A thread that remakes discovery pages which only their age made old, so
 * that no worker waits for their queries (`serve` runs one); without it
 * the caller that finds such a page remakes it. Stop joins the thread. */
int rg_discovery_remaker_start(rg_app *app);
void rg_discovery_remaker_stop(void);

/* GET /v1/events/{id}/attendees: the owner or an admin; ?status=,
 * ?checkedIn=, keyset pages. */
int rg_event_attendees(rg_app *app, const rg_ctx *ctx, const char *id, const char *status,
                       const char *checked_in, const char *cursor, int limit, json_t **out);
/* GET /v1/events/{id}/stats: the owner or an admin. */
int rg_event_stats(rg_app *app, const rg_ctx *ctx, const char *id, json_t **out);

/* Rebuilds the whole search index from the stores aside (every published,
 * public event and every public resource) and puts it in the place of the
 * one in use, which answers and takes writes until then; the events
 * changed during the build (updated since RG_REBUILD_MARGIN_S before its
 * start) are read again at the switch, while writes to the index in use
 * wait, and put in the build or taken out of it. A line on
 * progress (may be NULL) every 10,000 events and at each step. */
#define RG_REBUILD_MARGIN_S 300
typedef struct rg_rebuild_counts {
    long events, resources; /* indexed aside */
    long caught_up;         /* events changed during the build, taken in at the switch */
} rg_rebuild_counts;
int rg_search_rebuild(rg_app *app, FILE *progress, rg_rebuild_counts *out);

/* How the search index differs from the events: entries missing for
 * listed events, entries whose text is not the event's (a change whose
 * index update failed), entries of events that must not be found. */
#define RG_SEARCH_DRIFT_SAMPLES 10
typedef struct rg_search_drift {
    long expected, indexed; /* listed events; event entries in the index */
    long missing, stale, extra;
    char missing_ids[RG_SEARCH_DRIFT_SAMPLES][32]; /* the first of each kind */
    char stale_ids[RG_SEARCH_DRIFT_SAMPLES][32];
    char extra_ids[RG_SEARCH_DRIFT_SAMPLES][32];
} rg_search_drift;
int rg_event_search_check(rg_app *app, rg_search_drift *out);
/* Whether the search index holds no event while some are listed (a new
 * index, e.g. the first start on another search adapter). */
bool rg_event_index_missing(rg_app *app);

#endif
