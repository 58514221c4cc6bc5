/* Route handlers, one file per resource. */
#ifndef RG_HANDLERS_H
#define RG_HANDLERS_H

#include "http.h"
#include "risinggen/domain/accounts.h"
#include "risinggen/domain/audit.h"
#include "risinggen/domain/auth.h"
#include "risinggen/domain/channels.h"
#include "risinggen/domain/content.h"
#include "risinggen/domain/events.h"
#include "risinggen/domain/payments.h"
#include "risinggen/domain/registrations.h"
#include "risinggen/domain/users.h"
#include "risinggen/domain/venues.h"

#define RG_HANDLER(name) int name(rg_app *app, rg_request *req, rg_response *res)

/* handlers_ops.c */
RG_HANDLER(rg_h_healthz);
RG_HANDLER(rg_h_readyz);
RG_HANDLER(rg_h_metrics);
/* handlers_console.c */
RG_HANDLER(rg_h_console);
RG_HANDLER(rg_h_console_js);
RG_HANDLER(rg_h_console_css);
RG_HANDLER(rg_h_console_data);
RG_HANDLER(rg_h_console_indexes);
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
/* handlers_payments.c */
RG_HANDLER(rg_h_payment_create);
RG_HANDLER(rg_h_payment_get);
RG_HANDLER(rg_h_payment_refund);
RG_HANDLER(rg_h_payment_webhook);
RG_HANDLER(rg_h_user_payments);
RG_HANDLER(rg_h_event_finance);
/* handlers_comms.c: channels, messages, resources, feedback, search */
RG_HANDLER(rg_h_channel_create);
RG_HANDLER(rg_h_channel_get);
RG_HANDLER(rg_h_event_channel);
RG_HANDLER(rg_h_message_list);
RG_HANDLER(rg_h_message_post);
RG_HANDLER(rg_h_message_get);
RG_HANDLER(rg_h_message_read);
RG_HANDLER(rg_h_resource_create);
RG_HANDLER(rg_h_resource_get);
RG_HANDLER(rg_h_resource_patch);
RG_HANDLER(rg_h_resource_delete);
RG_HANDLER(rg_h_feedback_create);
RG_HANDLER(rg_h_feedback_list);
RG_HANDLER(rg_h_search);
/* handlers_accounts.c: password reset, church sign-in, export, erasure, audit */
RG_HANDLER(rg_h_sso);
RG_HANDLER(rg_h_password_reset);
RG_HANDLER(rg_h_password_reset_confirm);
RG_HANDLER(rg_h_me_export);
RG_HANDLER(rg_h_me_delete);
RG_HANDLER(rg_h_audit_list);

/* Replies with out (stolen) and status when rc is 0; returns rc. */
int rg_h_result(rg_response *res, int rc, int status, json_t *out);

#endif
