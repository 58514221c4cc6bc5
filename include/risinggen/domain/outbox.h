/* The durable outbox of notifications (email, later push and SMS).
 *
 * A notification is a row in the relational store, written in the same
 * transaction as the change that causes it when the caller passes its
 * connection, so that a committed change always has its notification and a
 * rolled-back one never does. A background sender (the server's sweep
 * thread) delivers pending rows through a sender chosen by RG_SMTP_URL:
 * the log sender by default (one JSON log line per message), SMTP through
 * libcurl when set. Failed deliveries are retried with backoff; a delivered
 * row is marked sent and is never sent twice by one sender pass. */
#ifndef RISINGGEN_OUTBOX_H
#define RISINGGEN_OUTBOX_H

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

#endif
