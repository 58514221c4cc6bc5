/* A channel document, shared by channels.c, messages.c, events.c (the
 * channel of a published event) and erasure. */
#ifndef RG_CHANNEL_RECORD_H
#define RG_CHANNEL_RECORD_H

#include "domain.h"

#define CHANNEL_SCHEMA_VERSION 1

/* What a person may do in a channel. */
enum rg_channel_access { ACC_NONE, ACC_MEMBER, ACC_ORGANIZER };

/* The shape every channel document has before it is written: 0 or
 * RG_EINTERNAL (a programming error, logged). */
int rg__channel_check(json_t *doc);
/* The API view of a channel document. New reference. */
json_t *rg__channel_view(const char *id, json_t *doc);
/* Loads channels/<id>; RG_ENOTFOUND for a bad or unknown id. */
int rg__channel_load(rg_app *app, const char *id, json_t **doc);
/* Whether user holds a confirmed or pending registration for the event
 * (read on the primary: membership decides access); *checked_in and
 * status (both may be NULL) describe it. */
int rg__registration_of(rg_app *app, int64_t event_id, const char *user, bool *active,
                        bool *checked_in, char status[16]);
/* What who may do in the channel doc. */
int rg__channel_access(rg_app *app, const rg_principal *who, json_t *doc,
                       enum rg_channel_access *out);
/* Loads the channel and checks that who is at least a member (RG_ENOTFOUND
 * when not: a channel is not shown to people outside it). */
int rg__channel_open(rg_app *app, const rg_principal *who, const char *id, json_t **doc,
                     enum rg_channel_access *acc);
/* Every member of the channel but skip, as the keys of *out (new). */
int rg__channel_members(rg_app *app, json_t *chan, const char *skip, json_t **out);
/* The id of the channel of event_id into out (may be NULL) and its
 * document into *doc (may be NULL); RG_ENOTFOUND when it has none. */
int rg__event_channel_find(rg_app *app, int64_t event_id, char out[RG_OID_LEN + 1], json_t **doc);
/* Inserts the channel of event_id (RG_ECONFLICT when it has one). */
int rg__event_channel_insert(rg_app *app, int64_t event_id, const char *title,
                             const char *organizer_id, const char *created_by,
                             const char *description, char out[RG_OID_LEN + 1]);
/* Makes the channel of a published event unless it has one (idempotent, safe
 * under concurrent publishes: channels.eventId is unique); out_id (may be
 * NULL) receives its id. */
int rg__event_channel_ensure(rg_app *app, int64_t event_id, const char *title,
                             const char *organizer_id, char out_id[RG_OID_LEN + 1]);

#endif
