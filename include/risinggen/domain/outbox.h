/* The durable outbox of notifications (email, later push and SMS).
 *
 * A notification is a row in the relational store, written in the same
 * transaction as the change that causes it when the caller passes its
 * connection, so that a committed change always has its notification and a
 * rolled-back one never does. The outbox job delivers pending rows through
 * the app's mailer (risinggen/outbound/mail.h: the log by default, SMTP when
 * RG_SMTP_URL is set). Failed deliveries are retried with backoff; a
 * delivered row is marked sent and is never sent twice by one pass. */
#ifndef RISINGGEN_DOMAIN_OUTBOX_H
#define RISINGGEN_DOMAIN_OUTBOX_H

#include "risinggen/domain/app.h"

typedef struct rg_notification {
    const char *channel; /* "email" */
    const char *to;      /* address */
    const char *subject;
    const char *body;       /* plain text */
    const char *dedupe_key; /* optional: a second enqueue with the same key is a no-op */
} rg_notification;

/* Enqueues n. c: the caller's open write transaction on the relational
 * store, or NULL to write in a transaction of its own. Strings are copied. */
int rg_outbox_enqueue(rg_app *app, rg_rel_conn *c, const rg_notification *n);
/* Delivers up to max pending notifications; returns how many were sent. */
int rg_outbox_deliver(rg_app *app, int max);
/* rg_outbox_deliver as if the time were now (seconds since the epoch). */
int rg_outbox_deliver_at(rg_app *app, int max, int64_t now);
/* Seconds to wait after the given number of failed attempts (1, 2, …). */
int64_t rg_outbox_backoff(int attempts);
/* The attempt limit in force (RG_OUTBOX_MAX_ATTEMPTS). */
int rg_outbox_max_attempts(const rg_app *app);

/* Seconds a claimed row is leased to one deliverer: after a crash mid-send
 * it becomes due again then (delivery is at least once). */
#define RG_OUTBOX_LEASE_S 300

#endif
