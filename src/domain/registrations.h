/* Views shared by the modules that print registrations and events. */
#ifndef RG_REGISTRATIONS_H
#define RG_REGISTRATIONS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "risinggen/store/relational.h"

/* A registration row (columns of registration_get) as API JSON. New ref. */
json_t *rg__registration_view(const rg_rows *rows, int i);
/* The event_* columns of a joined row as a short event summary. New ref. */
json_t *rg__event_summary(const rg_rows *rows, int i);
/* An event row (columns of event_get) as API JSON with spotsLeft. New ref. */
json_t *rg__event_view(const rg_rows *rows, int i);

struct rg_app;
/* The event row (columns of event_get), or RG_ENOTFOUND; read_only lets a
 * replica answer (views, never decisions). *out is the caller's. */
int rg__event_row(struct rg_app *app, int64_t id, bool read_only, rg_rows **out);
/* Drops the cached view of event id and bumps the discovery generation. */
void rg__event_uncache(struct rg_app *app, int64_t id);

/* Inside a write transaction: gives one free place of the event to the first
 * waitlisted registration (pending with a hold when paid). Returns 1 when
 * someone moved up, 0 when nobody could, or an error. */
int rg__promote_waitlisted(struct rg_app *app, struct rg_rel_conn *c, int64_t event_id, bool paid,
                           int64_t hold_minutes, const char *now);

#endif
