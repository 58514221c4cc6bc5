/* Content: resources (resources.c), feedback on events (feedback.c) and
 * the search across events and resources (search.c). */
#ifndef RISINGGEN_DOMAIN_CONTENT_H
#define RISINGGEN_DOMAIN_CONTENT_H

#include "risinggen/domain/app.h"

/* Resources: organizers and admins write; public ones anyone reads and finds. */
int rg_resource_create(rg_app *app, const rg_ctx *ctx, json_t *body, json_t **out);
int rg_resource_get(rg_app *app, const rg_ctx *ctx, const char *id, json_t **out);
int rg_resource_patch(rg_app *app, const rg_ctx *ctx, const char *id, json_t *patch, json_t **out);
int rg_resource_delete(rg_app *app, const rg_ctx *ctx, const char *id);
/* Rebuilds the search entries of every resource where they stand; *count
 * the public ones. */
int rg_resource_reindex(rg_app *app, int *count);
/* Adds every public resource to the search index being built aside
 * (rg_search_build_begin); *count of them. */
int rg_resource_build(rg_app *app, int *count);
/* Removes the search entries of resources that are gone or not public. */
int rg_resource_prune(rg_app *app);
/* POST /v1/events/{id}/feedback: confirmed or checked-in attendees, once the
 * event has started; one per person and event (409). */
int rg_feedback_create(rg_app *app, const rg_ctx *ctx, const char *event_id, json_t *body,
                       json_t **out);
/* GET /v1/events/{id}/feedback: the organizer or an admin; summary and items. */
int rg_feedback_list(rg_app *app, const rg_ctx *ctx, const char *event_id, const char *cursor,
                     int limit, json_t **out);
/* GET /v1/search: q (required), types "event,resource" (NULL: both). */
int rg_search_all(rg_app *app, const rg_ctx *ctx, const char *q, const char *types,
                  const char *cursor, int limit, json_t **out);

#endif
