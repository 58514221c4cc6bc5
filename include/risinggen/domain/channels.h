/* Channels and messages (documents store), with e-mail notifications
 * through the outbox. */
#ifndef RISINGGEN_DOMAIN_CHANNELS_H
#define RISINGGEN_DOMAIN_CHANNELS_H

#include "risinggen/domain/app.h"

/* POST /v1/channels: organizer or admin; {name, description?, members?}
 * makes a group channel, {eventId, name?, description?} the channel of an
 * event the caller organizes (409 when it has one). */
int rg_channel_create(rg_app *app, const rg_ctx *ctx, json_t *body, json_t **out);
/* GET /v1/channels/{id}: its organizer, members, admins (404 to others). */
int rg_channel_get(rg_app *app, const rg_ctx *ctx, const char *id, json_t **out);
/* GET /v1/events/{id}/channel: the channel of a published event. */
int rg_event_channel(rg_app *app, const rg_ctx *ctx, const char *event_id, json_t **out);
/* GET /v1/channels/{id}/messages: members; newest first, keyset cursor. */
int rg_message_list(rg_app *app, const rg_ctx *ctx, const char *channel_id, const char *cursor,
                    int limit, json_t **out);
/* POST /v1/channels/{id}/messages: members post messages, the organizer
 * announcements; members with e-mail notifications on get one outbox e-mail. */
int rg_message_post(rg_app *app, const rg_ctx *ctx, const char *channel_id, json_t *body,
                    json_t **out);
/* GET /v1/messages/{id}: members of its channel. */
int rg_message_get(rg_app *app, const rg_ctx *ctx, const char *id, json_t **out);
/* POST /v1/messages/{id}/read: one readBy entry per person, idempotent. */
int rg_message_read(rg_app *app, const rg_ctx *ctx, const char *id, json_t **out);

#endif
