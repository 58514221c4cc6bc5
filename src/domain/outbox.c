/* The durable outbox (risinggen/domain/outbox.h): rows in the relational
 * table `outbox`, claimed by a deliverer with a lease (PostgreSQL: FOR UPDATE
 * SKIP LOCKED; SQLite: inside BEGIN IMMEDIATE), sent outside any transaction
 * through the app's mailer (risinggen/outbound/mail.h), then marked sent or
 * rescheduled with exponential backoff until the attempt limit
 * (RG_OUTBOX_MAX_ATTEMPTS; status "failed"). */
#include "domain.h"
#include "risinggen/domain/outbox.h"
#include "risinggen/base/alloc.h"
#include "risinggen/base/buf.h"
#include "risinggen/base/log.h"
#include "risinggen/base/clock.h"
#include "risinggen/base/id.h"
#include "risinggen/base/error.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_RECIPIENT 320
#define MAX_SUBJECT   998
#define MAX_DEDUPE    255
#define MAX_BATCH     100

static bool has_line_break(const char *s)
{
    return strpbrk(s, "\r\n") != NULL;
}

static int check(const rg_notification *n)
{
    if (!n || !n->channel || strcmp(n->channel, "email") != 0)
        return rg_error_set(RG_EINVAL, "outbox: unknown notification channel");
    if (!n->to || !*n->to || strlen(n->to) > MAX_RECIPIENT || has_line_break(n->to) ||
        !strchr(n->to, '@') || strpbrk(n->to, "<> \t,"))
        return rg_error_set(RG_EINVAL, "outbox: the recipient is not an address");
    if (!n->subject || strlen(n->subject) > MAX_SUBJECT || has_line_break(n->subject))
        return rg_error_set(RG_EINVAL, "outbox: the subject is missing or too long");
    if (!n->body)
        return rg_error_set(RG_EINVAL, "outbox: the body is missing");
    if (n->dedupe_key && (!*n->dedupe_key || strlen(n->dedupe_key) > MAX_DEDUPE))
        return rg_error_set(RG_EINVAL, "outbox: the dedupe key is empty or too long");
    return 0;
}

int rg_outbox_enqueue(rg_app *app, rg_rel_conn *c, const rg_notification *n)
{
    int rc = check(n);
    if (rc < 0)
        return rc;
    char now[RG_TIME_LEN + 1];
    rg_time_format(rg_now(), now);
    rg_param p[] = {RG_PTEXT(n->channel), RG_PTEXT(n->to),         RG_PTEXT(n->subject),
                    RG_PTEXT(n->body),    RG_PTEXT(n->dedupe_key), RG_PTEXT(now)};
    rg_relational *r = &app->st.rel;
    if (c) {
        rc = rg_rel_query(r, c, "outbox_insert", p, 6, NULL);
        return rc < 0 ? rc : 0;
    }
    if ((rc = rg_rel_acquire(r, &c)) < 0)
        return rc;
    if ((rc = rg_rel_begin(r, c, true)) == 0) {
        rc = rg_rel_query(r, c, "outbox_insert", p, 6, NULL);
        if (rc >= 0)
            rc = rg_rel_commit(r, c);
        if (rc < 0)
            rg_rel_rollback(r, c);
    }
    rg_rel_release(r, c);
    return rc < 0 ? rc : 0;
}

int rg_outbox_max_attempts(const rg_app *app)
{
    return app->cfg->outbox_max_attempts;
}

int64_t rg_outbox_backoff(int attempts)
{
    /* 30 s, 1 min, 2 min, … at most 6 h. */
    if (attempts < 1)
        attempts = 1;
    if (attempts > 20)
        return 6 * 3600;
    int64_t s = (int64_t)30 << (attempts - 1);
    return s > 6 * 3600 ? 6 * 3600 : s;
}

static int claim(rg_relational *r, rg_rel_conn *c, int max, int64_t now, rg_rows **rows)
{
    char t_now[RG_TIME_LEN + 1], t_lease[RG_TIME_LEN + 1];
    rg_time_format(now, t_now);
    rg_time_format(now + RG_OUTBOX_LEASE_S, t_lease);
    rg_param p[] = {RG_PTEXT(t_now), RG_PTEXT(t_lease), RG_PINT(max)};
    int rc = rg_rel_begin(r, c, true);
    if (rc < 0)
        return rc;
    rc = rg_rel_query(r, c, "outbox_claim", p, 3, rows);
    if (rc >= 0)
        rc = rg_rel_commit(r, c);
    if (rc < 0) {
        rg_rel_rollback(r, c);
        rg_rows_free(*rows);
        *rows = NULL;
    }
    return rc;
}

/* One short write transaction per finished row. */
static int finish(rg_relational *r, rg_rel_conn *c, const char *name, const rg_param *p, int n)
{
    int rc = rg_rel_begin(r, c, true);
    if (rc < 0)
        return rc;
    rc = rg_rel_query(r, c, name, p, n, NULL);
    if (rc >= 0)
        rc = rg_rel_commit(r, c);
    if (rc < 0)
        rg_rel_rollback(r, c);
    return rc;
}

int rg_outbox_deliver_at(rg_app *app, int max, int64_t now)
{
    if (max <= 0)
        return 0;
    if (max > MAX_BATCH)
        max = MAX_BATCH;
    const rg_mailer *mailer = &app->mailer;
    int limit = rg_outbox_max_attempts(app);
    rg_relational *r = &app->st.rel;
    rg_rel_conn *c;
    int rc = rg_rel_acquire(r, &c);
    if (rc < 0)
        return rc;
    rg_rows *rows = NULL;
    char t_now[RG_TIME_LEN + 1];
    rg_time_format(now, t_now);
    rg_param dp[] = {RG_PTEXT(t_now)};
    if ((rc = rg_rel_query(r, c, "outbox_due", dp, 1, &rows)) < 0 || rows->nrows == 0) {
        rg_rows_free(rows);
        rg_rel_release(r, c);
        return rc < 0 ? rc : 0;
    }
    rg_rows_free(rows);
    rows = NULL;
    if ((rc = claim(r, c, max, now, &rows)) < 0) {
        rg_rel_release(r, c);
        return rc;
    }
    int sent = 0;
    int *order = rg_rows_order_by_int(rows, "id"); /* in the order they were queued */
    for (int k = 0; k < rows->nrows; k++) {
        int i = order[k];
        const char *id = rg_rows_get(rows, i, "id");
        int attempts = (int)rg_rows_int(rows, i, "attempts", 1);
        rg_notification n = {
            .channel = rg_rows_get(rows, i, "channel"),
            .to = rg_rows_get(rows, i, "recipient"),
            .subject = rg_rows_get(rows, i, "subject"),
            .body = rg_rows_get(rows, i, "body"),
            .dedupe_key = rg_rows_get(rows, i, "dedupe_key"),
        };
        rg_error_clear();
        int src = strcmp(n.channel, "email") == 0
                      ? mailer->send(mailer->ctx, &(rg_mail){n.to, n.subject, n.body})
                      : rg_error_set(RG_EVALIDATION, "no sender for channel %s", n.channel);
        char t[RG_TIME_LEN + 1];
        if (src == 0) {
            rg_time_format(rg_now(), t);
            rg_param p[] = {RG_PTEXT(id), RG_PTEXT(t)};
            if (finish(r, c, "outbox_mark_sent", p, 2) < 0)
                rg_warn("outbox: %s was sent but could not be marked sent", id);
            sent++;
            continue;
        }
        const char *why = rg_error_detail()[0] ? rg_error_detail() : rg_error_name(src);
        char reason[256];
        snprintf(reason, sizeof reason, "%s", why);
        bool permanent = src == RG_EVALIDATION;
        rg_time_format(now + rg_outbox_backoff(attempts), t);
        rg_param p[] = {RG_PTEXT(id), RG_PTEXT(t), RG_PTEXT(reason),
                        RG_PINT(permanent ? 0 : limit)};
        if (permanent || attempts >= limit)
            rg_warn("outbox: giving up %s to %s after %d attempt%s: %s", n.channel, n.to, attempts,
                    attempts == 1 ? "" : "s", reason);
        else
            rg_info("outbox: %s to %s failed (attempt %d of %d), next at %s: %s", n.channel, n.to,
                    attempts, limit, t, reason);
        if (finish(r, c, "outbox_reschedule", p, 4) < 0)
            rg_warn("outbox: could not reschedule %s", id);
    }
    free(order);
    rg_rows_free(rows);
    rg_rel_release(r, c);
    rg_error_clear();
    return sent;
}

int rg_outbox_deliver(rg_app *app, int max)
{
    return rg_outbox_deliver_at(app, max, rg_now());
}
