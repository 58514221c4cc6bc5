/* Route handlers, one file per resource. */
#ifndef RG_HANDLERS_H
#define RG_HANDLERS_H

#include "http.h"

#define RG_HANDLER(name) int name(rg_app *app, rg_request *req, rg_response *res)

/* handlers_ops.c */
RG_HANDLER(rg_h_healthz);
RG_HANDLER(rg_h_readyz);
RG_HANDLER(rg_h_metrics);
/* handlers_auth.c */
RG_HANDLER(rg_h_signup);
RG_HANDLER(rg_h_login);
RG_HANDLER(rg_h_refresh);
RG_HANDLER(rg_h_logout);
/* handlers_users.c */
RG_HANDLER(rg_h_me_get);
RG_HANDLER(rg_h_me_patch);
RG_HANDLER(rg_h_user_get);
RG_HANDLER(rg_h_user_patch);
RG_HANDLER(rg_h_user_registrations);
RG_HANDLER(rg_h_user_preferences);
/* handlers_events.c */
RG_HANDLER(rg_h_venue_create);
RG_HANDLER(rg_h_venue_list);
RG_HANDLER(rg_h_venue_get);
RG_HANDLER(rg_h_event_create);
RG_HANDLER(rg_h_event_list);
RG_HANDLER(rg_h_event_get);
RG_HANDLER(rg_h_event_patch);
RG_HANDLER(rg_h_event_attendees);
RG_HANDLER(rg_h_event_stats);
/* handlers_registrations.c */
RG_HANDLER(rg_h_registration_create);
RG_HANDLER(rg_h_registration_get);
RG_HANDLER(rg_h_registration_cancel);
RG_HANDLER(rg_h_registration_check_in);

/* Replies with out (stolen) and status when rc is 0; returns rc. */
int rg_h_result(rg_response *res, int rc, int status, json_t *out);

#endif
