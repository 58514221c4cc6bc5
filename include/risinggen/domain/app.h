/* The domain's frame: the application object that holds the stores and the
 * outbound integrations chosen at start, who is calling (rg_principal) and
 * the request context every domain function takes (rg_ctx).
 *
 * The domain's functions are declared by area, one header each: auth.h,
 * users.h, accounts.h, venues.h, events.h, registrations.h, payments.h,
 * channels.h, content.h, audit.h, outbox.h, jobs.h, seed.h. Every function
 * works through the ports and never names an adapter.
 *
 * Conventions: functions return 0 on success or a negative RG_E* code with a
 * client-safe detail set (rg_error_set). JSON inputs are borrowed; a json_t
 * **out receives a new reference owned by the caller (json_decref). */
#ifndef RISINGGEN_DOMAIN_APP_H
#define RISINGGEN_DOMAIN_APP_H

#include <jansson.h>
#include <stdbool.h>

#include "risinggen/base/addr.h"
#include "risinggen/base/config.h"
#include "risinggen/base/id.h"
#include "risinggen/outbound/jwks.h"
#include "risinggen/outbound/mail.h"
#include "risinggen/outbound/payments.h"
#include "risinggen/store/stores.h"

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

/* How a request waits for another without holding its thread: the HTTP
 * server gives one with each request, other callers none (the domain then
 * waits in the calling thread).
 *
 * A domain function that would wait calls park, keeps what it needs in
 * state (with drop to free it) and returns RG_PARKED. When the wait is over,
 * another thread calls wake; the server then calls the same function again
 * with the same request, and the function finds its state and goes on. If
 * the request ends before that (its connection closed), the server calls
 * drop(state) instead. park and wake are the server's, state and drop the
 * domain's. */
typedef struct rg_waiter rg_waiter;
struct rg_waiter {
    void (*park)(rg_waiter *w);
    void (*wake)(rg_waiter *w); /* any thread; w may be gone when it returns */
    void *state;
    void (*drop)(void *state);
};
/* What a domain function returns when it parked its request. */
#define RG_PARKED 2 /* never 0 or 1, which domain functions return for success */

/* What a request carries down through the domain. */
typedef struct rg_ctx {
    rg_principal who;
    /* The caller changed something a moment ago: their reads go to the
     * primary and skip caches that a replica may have filled, so that they
     * see their own writes (rg_ctx_begin sets it). */
    bool read_own_writes;
    /* The client's address (the peer's, or the one a listed proxy names),
     * "" when not known. */
    char client[RG_ADDR_MAX];
    /* How this request may wait without its thread, or NULL. */
    rg_waiter *waiter;
} rg_ctx;

typedef struct rg_sold_out rg_sold_out;
typedef struct rg_admit_rows rg_admit_rows;
typedef struct rg_admit_groups rg_admit_groups;
typedef struct rg_app {
    const rg_config *cfg; /* borrowed: outlives the app */
    rg_stores st;
    /* outbound integrations, chosen from cfg at open */
    rg_mailer mailer;               /* notifications (outbox) */
    rg_jwks *jwks;                  /* church sign-in keys; NULL: sign-in off */
    rg_payment_providers providers; /* providers that take new payments */
    int access_ttl;                 /* seconds an access token lives */
    int refresh_ttl;                /* seconds a refresh token family lives */
    /* The relational and the documents store both prepare transactions
     * (two PostgreSQL databases with max_prepared_transactions above 0):
     * operations that write both commit them together
     * (docs/design/consistency.md). */
    bool two_phase;
    /* Events surely full, remembered for their refusals (event_record.h). */
    struct rg_sold_out *sold_out;
    /* Events' admission rows kept a moment for the next admission
     * (event_record.h). */
    struct rg_admit_rows *admit_rows;
    /* Admissions to one event made together (registration_record.h). */
    struct rg_admit_groups *admit_groups;
} rg_app;

/* Opens the stores that cfg names and the outbound integrations it chooses
 * (cfg is borrowed and must outlive the app), applies pending migrations
 * when migrate is set (or refuses to start when the schema is behind or
 * changed), then finishes what a crash left unfinished. RG_EINVAL with a
 * detail naming the variable for a setting that cannot be used. */
int rg_app_open(rg_app *app, const rg_config *cfg, bool migrate);
/* What the domain needs of the stores: capabilities and document indexes. */
const rg_store_needs *rg_app_store_needs(void);
void rg_app_close(rg_app *app);
/* Per-store readiness: {"relational": "up"|"down", …}; returns 0 if all up. */
int rg_app_ready(rg_app *app, json_t **out);

/* The context of a request of who (copied; NULL: anonymous): whether they
 * changed something in the last few seconds decides read_own_writes. */
void rg_ctx_begin(rg_app *app, rg_ctx *ctx, const rg_principal *who);
/* After a request of ctx changed something: the caller's reads go to the
 * primary for the next few seconds. */
void rg_ctx_wrote(rg_app *app, const rg_ctx *ctx);
/* The context of work the service does on its own behalf or on who's
 * (command line, seed, tests): reads its own writes. */
rg_ctx rg_ctx_for(const rg_principal *who);

#endif
