/* The domain: users, auth, venues, events, registrations. Every function
 * works through the four ports (rg_stores) and never names an adapter.
 *
 * Conventions: functions return 0 on success or a negative RG_E* code with a
 * client-safe detail set (rg_error_set). JSON inputs are borrowed; a json_t
 * **out receives a new reference owned by the caller (json_decref). */
#ifndef RISINGGEN_APP_H
#define RISINGGEN_APP_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "risinggen/store/stores.h"
#include "risinggen/base/id.h"

enum rg_role {
    RG_ROLE_PARTICIPANT = 1u << 0,
    RG_ROLE_ORGANIZER = 1u << 1,
    RG_ROLE_ADMIN = 1u << 2,
};

/* Who is calling. An anonymous caller has user_id[0] == '\0'. */
typedef struct rg_principal {
    char user_id[RG_OID_LEN + 1];
    unsigned roles;
} rg_principal;

typedef struct rg_app {
    const rg_config *cfg; /* borrowed: outlives the app */
    rg_stores st;
    int access_ttl;  /* seconds an access token lives */
    int refresh_ttl; /* seconds a refresh token family lives */
    int hold_sweep_ms;
} rg_app;

/* Opens the stores that cfg names (cfg is borrowed and must outlive the
 * app), applies pending migrations when migrate is set (or refuses to start
 * when the schema is behind or changed). */
int rg_app_open(rg_app *app, const rg_config *cfg, bool migrate);
/* What the domain needs of the stores: capabilities and document indexes. */
const rg_store_needs *rg_app_store_needs(void);
void rg_app_close(rg_app *app);
/* Per-store readiness: {"relational": "up"|"down", …}; returns 0 if all up. */
int rg_app_ready(rg_app *app, json_t **out);

/* ---- auth (src/core/auth.c) ---- */
int rg_auth_signup(rg_app *app, json_t *body, json_t **out);
int rg_auth_login(rg_app *app, json_t *body, json_t **out);
int rg_auth_refresh(rg_app *app, json_t *body, json_t **out);
int rg_auth_logout(rg_app *app, const char *access_token, json_t *body);
/* Resolves a bearer token to its principal; RG_EUNAUTH if unknown/expired. */
int rg_auth_authenticate(rg_app *app, const char *access_token, rg_principal *out);
/* Removes session documents whose access token has expired; returns how many. */
int rg_auth_purge_sessions(rg_app *app);
/* Creates an admin account (command line). */
int rg_auth_create_admin(rg_app *app, const char *email, const char *password, const char *first,
                         const char *last, char out_id[RG_OID_LEN + 1]);
/* Issues a session for user_id without a password check (seed, tests of the
 * CLI); *out_token is malloc'd. */
int rg_auth_issue_session(rg_app *app, const char *user_id, char **out_token);
/* Creates a user with an already-computed password hash (seed). out_id is
 * used as the id when it holds a valid ObjectId, else a new one is written. */
int rg_auth_insert_user(rg_app *app, json_t *user, const char *password_hash,
                        char out_id[RG_OID_LEN + 1]);
unsigned rg_roles_from_json(json_t *roles);

/* ---- users (src/core/users.c) ---- */
int rg_user_get_me(rg_app *app, const rg_principal *who, json_t **out);
int rg_user_patch_me(rg_app *app, const rg_principal *who, json_t *patch, json_t **out);
int rg_user_get(rg_app *app, const rg_principal *who, const char *id, json_t **out);
int rg_user_set_roles(rg_app *app, const rg_principal *who, const char *id, json_t *body,
                      json_t **out);
int rg_user_preferences(rg_app *app, const rg_principal *who, const char *id, json_t **out);
int rg_user_registrations(rg_app *app, const rg_principal *who, const char *id, const char *cursor,
                          int limit, json_t **out);
/* The public shape of a stored user document (adds "id", drops internals). */
json_t *rg_user_view(const char *id, json_t *doc);
/* Loads a user document (cached); *out new reference. */
int rg_user_load(rg_app *app, const char *id, json_t **out);

/* ---- venues (src/core/venues.c) ---- */
int rg_venue_create(rg_app *app, const rg_principal *who, json_t *body, json_t **out);
int rg_venue_get(rg_app *app, const char *id, json_t **out);
int rg_venue_list(rg_app *app, const char *city, const char *cursor, int limit, json_t **out);

/* ---- events (src/core/events.c) ---- */
typedef struct rg_event_query {
    const char *q, *type, *city, *country, *from, *to, *near, *radius_km, *has_spots, *featured;
    const char *cursor;
    int limit;
} rg_event_query;
int rg_event_create(rg_app *app, const rg_principal *who, json_t *body, json_t **out);
int rg_event_get(rg_app *app, const rg_principal *who, const char *id_or_slug, json_t **out);
/* The same as JSON text (*out malloc'd, *len its length). */
int rg_event_get_text(rg_app *app, const rg_principal *who, const char *id_or_slug, char **out,
                      size_t *len);
int rg_event_patch(rg_app *app, const rg_principal *who, const char *id, json_t *patch,
                   json_t **out);
int rg_event_list(rg_app *app, const rg_event_query *q, json_t **out);
/* The same page as JSON text (*out malloc'd, *len its length). */
int rg_event_list_text(rg_app *app, const rg_event_query *q, char **out, size_t *len);
int rg_event_attendees(rg_app *app, const rg_principal *who, const char *id, const char *status,
                       const char *checked_in, const char *cursor, int limit, json_t **out);
int rg_event_stats(rg_app *app, const rg_principal *who, const char *id, json_t **out);
/* Rebuilds the search entries of every published, public event. */
int rg_event_reindex(rg_app *app, int *count);
/* Marks every cached event view and discovery page stale. */
void rg_event_cache_bump(rg_app *app);

/* ---- registrations (src/core/registrations.c) ---- */
int rg_registration_create(rg_app *app, const rg_principal *who, const char *event_id, json_t *body,
                           json_t **out);
int rg_registration_get(rg_app *app, const rg_principal *who, const char *id, json_t **out);
int rg_registration_cancel(rg_app *app, const rg_principal *who, const char *id, json_t *body,
                           json_t **out);
int rg_registration_check_in(rg_app *app, const rg_principal *who, const char *id, json_t **out);
/* Cancels pending registrations whose hold expired, freeing their places
 * (and moving waitlisted people up). Returns how many expired. */
int rg_registration_expire_holds(rg_app *app);

/* ---- synthetic data (src/core/seed.c) ---- */
typedef struct rg_seed_opts {
    int users, venues, events, registrations;
    unsigned seed;
    const char *tokens_out; /* file for "userId token" lines, or NULL */
    const char *password;   /* password of every synthetic user */
} rg_seed_opts;
int rg_seed(rg_app *app, const rg_seed_opts *opts, FILE *report);
/* An argon2id hash of password with the service's parameters (malloc'd). */
int rg_auth_hash_password(const char *password, char **out);

/* ---- accounts and privacy (src/core/accounts.c, sso.c, audit.c) ---- */
/* POST /v1/auth/password-reset: always 0 for a well-formed body, whether or
 * not the email has an account; the token goes out through the outbox. */
int rg_auth_password_reset(rg_app *app, json_t *body);
/* POST /v1/auth/password-reset/confirm: RG_EINVAL for a bad, used or expired
 * token. Ends every session of the account. */
int rg_auth_password_reset_confirm(rg_app *app, json_t *body);
/* POST /v1/auth/sso: an OIDC id_token (RS256) from the church's identity
 * provider (RG_SSO_ISSUER, RG_SSO_AUDIENCE, RG_SSO_JWKS); tokens like login. */
int rg_auth_sso(rg_app *app, json_t *body, json_t **out);
/* GET /v1/users/me/export: everything the stores hold about the caller. */
int rg_user_export(rg_app *app, const rg_principal *who, json_t **out);
/* DELETE /v1/users/me: erases the caller from every store (see
 * docs/architecture.md, "Erasure"). RG_ECONFLICT while they organize
 * upcoming events. */
int rg_user_erase(rg_app *app, const rg_principal *who);
/* Records the intent to erase user_id (the first step of rg_user_erase);
 * *tombstone (may be NULL) receives the anonymous id that replaces it. */
int rg_erasure_record(rg_app *app, const char *user_id, char tombstone[RG_OID_LEN + 1]);
/* Finishes every recorded erasure that is not done (run at start and by the
 * sweep); max_steps > 0 stops each after that many steps (tests). Returns
 * how many were finished. */
int rg_erasure_resume(rg_app *app, int max_steps);

/* Records an organizer or admin action in the relational audit_log: who
 * (the actor's user id; NULL for the service itself) did action
 * ("event.publish", "payment.refund", …) to target_type/target_id, with
 * details (borrowed JSON object, may be NULL). c: the caller's open write
 * transaction, so that the entry commits or rolls back with the change; NULL
 * writes it in a transaction of its own. */
int rg_audit(rg_app *app, rg_rel_conn *c, const char *who, const char *action,
             const char *target_type, const char *target_id, json_t *details);
typedef struct rg_audit_query {
    const char *action, *actor, *from, *to, *cursor;
    int limit;
} rg_audit_query;
/* GET /v1/admin/audit: newest first, admins only. */
int rg_audit_list(rg_app *app, const rg_principal *who, const rg_audit_query *q, json_t **out);
/* ---- end of accounts and privacy ---- */

/* ---- payments (src/core/payments.c, payments_providers.c) ---- */
/* An answer kept with its Idempotency-Key and replayed byte for byte. */
typedef struct rg_saved_reply {
    int status;    /* HTTP status */
    char *body;    /* JSON text, malloc'd (caller frees) */
    int64_t id;    /* the payment it is about */
    bool replayed; /* an earlier request with the same key was answered so */
} rg_saved_reply;
/* POST /v1/payments: idem_key is the Idempotency-Key header (RG_EINVAL when
 * NULL). The amount comes from the event; a success confirms the
 * registration in the same transaction. */
int rg_payment_create(rg_app *app, const rg_principal *who, const char *idem_key, json_t *body,
                      rg_saved_reply *out);
/* GET /v1/payments/{id}: the payer, the event's organizer, an admin. */
int rg_payment_get(rg_app *app, const rg_principal *who, const char *id, json_t **out);
/* POST /v1/payments/{id}/refund: {amount?, reason?}; idem_key optional. */
int rg_payment_refund(rg_app *app, const rg_principal *who, const char *id, const char *idem_key,
                      json_t *body, rg_saved_reply *out);
/* POST /v1/webhooks/payments/{provider}: raw/len is the signed body,
 * signature the X-RisingGen-Signature header. */
int rg_payment_webhook(rg_app *app, const char *provider, const char *signature, const void *raw,
                       size_t len, json_t *body, json_t **out);
/* GET /v1/users/{id}/payments: self or admin, newest first. */
int rg_user_payments(rg_app *app, const rg_principal *who, const char *id, const char *cursor,
                     int limit, json_t **out);
/* GET /v1/events/{id}/finance: the organizer or an admin. */
int rg_event_finance(rg_app *app, const rg_principal *who, const char *id, json_t **out);
/* ---- end of payments ---- */

/* ---- channels, messages, content, feedback, search (src/core/comms.c, content.c) ---- */
/* POST /v1/channels: organizer or admin; {name, description?, members?}
 * makes a group channel, {eventId, name?, description?} the channel of an
 * event the caller organizes (409 when it has one). */
int rg_channel_create(rg_app *app, const rg_principal *who, json_t *body, json_t **out);
/* GET /v1/channels/{id}: its organizer, members, admins (404 to others). */
int rg_channel_get(rg_app *app, const rg_principal *who, const char *id, json_t **out);
/* GET /v1/events/{id}/channel: the channel of a published event. */
int rg_event_channel(rg_app *app, const rg_principal *who, const char *event_id, json_t **out);
/* GET /v1/channels/{id}/messages: members; newest first, keyset cursor. */
int rg_message_list(rg_app *app, const rg_principal *who, const char *channel_id,
                    const char *cursor, int limit, json_t **out);
/* POST /v1/channels/{id}/messages: members post messages, the organizer
 * announcements; members with e-mail notifications on get one outbox e-mail. */
/* Queues the notifications of messages a crash left at deliveryStatus
 * "pending" (run by the sweep). Returns how many were completed. */
int rg_message_resume_deliveries(rg_app *app);
int rg_message_post(rg_app *app, const rg_principal *who, const char *channel_id, json_t *body,
                    json_t **out);
/* GET /v1/messages/{id}: members of its channel. */
int rg_message_get(rg_app *app, const rg_principal *who, const char *id, json_t **out);
/* POST /v1/messages/{id}/read: one readBy entry per person, idempotent. */
int rg_message_read(rg_app *app, const rg_principal *who, const char *id, json_t **out);
/* Resources: organizers and admins write; public ones anyone reads and finds. */
int rg_resource_create(rg_app *app, const rg_principal *who, json_t *body, json_t **out);
int rg_resource_get(rg_app *app, const rg_principal *who, const char *id, json_t **out);
int rg_resource_patch(rg_app *app, const rg_principal *who, const char *id, json_t *patch,
                      json_t **out);
int rg_resource_delete(rg_app *app, const rg_principal *who, const char *id);
/* Rebuilds the search entries of every resource; *count the public ones. */
int rg_resource_reindex(rg_app *app, int *count);
/* POST /v1/events/{id}/feedback: confirmed or checked-in attendees, once the
 * event has started; one per person and event (409). */
int rg_feedback_create(rg_app *app, const rg_principal *who, const char *event_id, json_t *body,
                       json_t **out);
/* GET /v1/events/{id}/feedback: the organizer or an admin; summary and items. */
int rg_feedback_list(rg_app *app, const rg_principal *who, const char *event_id, const char *cursor,
                     int limit, json_t **out);
/* GET /v1/search: q (required), types "event,resource" (NULL: both). */
int rg_search_all(rg_app *app, const char *q, const char *types, const char *cursor, int limit,
                  json_t **out);
/* ---- end of channels, messages, content, feedback, search ---- */

#endif
