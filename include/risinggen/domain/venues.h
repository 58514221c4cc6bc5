/* Venues (relational): where events happen, with coordinates for geo search. */
#ifndef RISINGGEN_DOMAIN_VENUES_H
#define RISINGGEN_DOMAIN_VENUES_H

#include "risinggen/domain/app.h"

/* POST /v1/venues: organizers and admins. */
int rg_venue_create(rg_app *app, const rg_ctx *ctx, json_t *body, json_t **out);
int rg_venue_get(rg_app *app, const rg_ctx *ctx, const char *id, json_t **out);
/* GET /v1/venues?city=: keyset pages by id. */
int rg_venue_list(rg_app *app, const rg_ctx *ctx, const char *city, const char *cursor, int limit,
                  json_t **out);

#endif
