/* Admissions in groups, part of the registrations feature
 * (registration_admit.c; used by registrations.c, made by app.c). */
#ifndef RG_REGISTRATION_ADMIT_H
#define RG_REGISTRATION_ADMIT_H

#include "domain.h"

/* One person's admission to an event that keeps no waiting list, made with
 * the others of this instance to the same event in one statement
 * (registration_admit_many, where the engine has RG_REL_CAP_WRITABLE_CTE)
 * or one write transaction (elsewhere), and one commit, outside any
 * transaction of the caller's. */
typedef struct rg_admit {
    int64_t event_id;
    const char *user_id, *now;
    const char *status;              /* "confirmed", or "pending" with a hold */
    const char *diet, *needs, *hold; /* NULL when not given */
    const char *consent;             /* JSON text, or NULL */
} rg_admit;
rg_admit_groups *rg__admit_groups_new(void);
void rg__admit_groups_free(rg_admit_groups *g);
/* On c, a connection of this thread: 1 when a was admitted, with *view the
 * registration as API JSON (the caller's) and the event's cached view
 * already made stale; 0 when it was not for any reason (the caller decides
 * in a transaction of its own); or the store's error.
 *
 * With a waiter w, a request that would wait for another's group parks
 * instead (RG_PARKED, app.h): a copy of a waits in w->state, and c is free
 * for the caller to release. When the request comes back, the caller calls
 * rg__admit_resumed, which answers as above (leading a group first, on a
 * connection of its own, when it was woken to lead). */
int rg__admit_grouped(rg_app *app, rg_rel_conn *c, const rg_admit *a, rg_waiter *w, json_t **view);
int rg__admit_resumed(rg_app *app, rg_waiter *w, json_t **view);

#endif
