/* A registration row and the waiting list, shared by the modules that
 * show registrations or free places (registrations, events, users,
 * attendees, payments, accounts). */
#ifndef RG_REGISTRATION_RECORD_H
#define RG_REGISTRATION_RECORD_H

#include "domain.h"

/* A registration row (columns of registration_get) as API JSON. New ref. */
json_t *rg__registration_view(const rg_rows *rows, int i);
/* Inside a write transaction on c: gives one free place of the event to the
 * first waitlisted registration (pending with a hold of hold_minutes when
 * paid) and takes it again. Returns 1 when someone moved up, 0 when nobody
 * could, or an error. */
int rg__promote_waitlisted(rg_app *app, rg_rel_conn *c, int64_t event_id, bool paid,
                           int64_t hold_minutes, const char *now);

#endif
