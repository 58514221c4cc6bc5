/* Inside the outbox (src/core/outbox.c): the sender interface, and hooks for
 * tests that need another sender or another clock. */
#ifndef RG_OUTBOX_SENDER_H
#define RG_OUTBOX_SENDER_H

#include "risinggen/domain/outbox.h"

#include <stdint.h>

/* Attempts before a notification is given up (status "failed"); the
 * environment may lower or raise it with RG_OUTBOX_MAX_ATTEMPTS (1..50). */
#define RG_OUTBOX_MAX_ATTEMPTS 8
/* Seconds a claimed row is leased to one deliverer: after a crash mid-send
 * it becomes due again then (delivery is at least once). */
#define RG_OUTBOX_LEASE_S 300

typedef struct rg_outbox_sender {
    const char *name; /* "log", "smtp" */
    /* Delivers n. 0 when delivered; RG_EVALIDATION when it can never be
     * delivered (given up at once); any other RG_E* to be tried again later.
     * Called from one thread at a time. */
    int (*send)(void *ctx, const rg_notification *n);
    void *ctx;
} rg_outbox_sender;

/* The sender for later passes: s (copied), or NULL to go back to the one the
 * environment chooses (SMTP when RG_SMTP_URL is set, else the log sender). */
void rg_outbox_use_sender(const rg_outbox_sender *s);
/* rg_outbox_deliver as if the time were now (seconds since the epoch). */
int rg_outbox_deliver_at(rg_app *app, int max, int64_t now);
/* Seconds to wait after the given number of failed attempts (1, 2, …). */
int64_t rg_outbox_backoff(int attempts);
/* The attempt limit in force. */
int rg_outbox_max_attempts(void);

#endif
