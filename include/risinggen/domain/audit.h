/* The audit log (relational): what organizers and admins did. */
#ifndef RISINGGEN_DOMAIN_AUDIT_H
#define RISINGGEN_DOMAIN_AUDIT_H

#include "risinggen/domain/app.h"

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
int rg_audit_list(rg_app *app, const rg_ctx *ctx, const rg_audit_query *q, json_t **out);

#endif
