/* The coordinator of operations that write more than one store (intents.h). */
#include "intents.h"
#include "risinggen/base/clock.h"
#include "risinggen/base/error.h"
#include "risinggen/base/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void rg_intent_fault(const char *kind, int step)
{
#ifdef RG_FAULTS
    const char *f = getenv("RG_FAULT");
    size_t n = strlen(kind);
    if (f && strncmp(f, kind, n) == 0 && f[n] == ':' && atoi(f + n + 1) == step) {
        fprintf(stderr, "fault: stopping after %s step %d\n", kind, step);
        _exit(137);
    }
#else
    (void)kind;
    (void)step;
#endif
}

int rg_intent_open(rg_app *app, rg_rel_conn *c, const char *kind, const char *subject, int done,
                   rg_intent *out)
{
    memset(out, 0, sizeof *out);
    out->step = done;
    snprintf(out->kind, sizeof out->kind, "%s", kind);
    snprintf(out->subject, sizeof out->subject, "%s", subject);
    char now[RG_TIME_LEN + 1];
    rg_time_format(rg_now(), now);
    rg_param p[] = {RG_PTEXT(kind), RG_PTEXT(subject), RG_PTEXT(now), RG_PINT(done)};
    rg_rows *rows = NULL;
    int rc = c ? rg_rel_query(&app->st.rel, c, "intent_open", p, 4, &rows)
               : rg_rel_run(app, "intent_open", p, 4, &rows);
    if (rc >= 0 && rows->nrows == 1)
        out->id = rg_rows_int(rows, 0, "id", 0);
    else if (rc >= 0)
        rc = rg_error_set(RG_EINTERNAL, "internal error");
    rg_rows_free(rows);
    return rc < 0 ? rc : 0;
}

int rg_intent_step(rg_app *app, rg_intent *in, int step)
{
    char now[RG_TIME_LEN + 1];
    rg_time_format(rg_now(), now);
    rg_param p[] = {RG_PINT(in->id), RG_PINT(step), RG_PTEXT(now)};
    int rc = rg_rel_run(app, "intent_step", p, 3, NULL);
    if (rc < 0)
        return rc;
    in->step = step;
    rg_intent_fault(in->kind, step);
    return 0;
}

int rg_intent_close(rg_app *app, const rg_intent *in)
{
    rg_param p[] = {RG_PINT(in->id)};
    int rc = rg_rel_run(app, "intent_close", p, 1, NULL);
    return rc < 0 ? rc : 0;
}

/* A pass is bounded: at most RESUME_MAX intents, and a kind is left for
 * the next pass after RESUME_FAILS failures in a row (the store its driver
 * needs is likely down, and each failure may have waited for a timeout). */
#define RESUME_MAX   500
#define RESUME_FAILS 3

/* Drives the intents of kind k last advanced at or before cutoff. */
static int resume_kind(rg_app *app, const rg_intent_kind *k, const char *cutoff, int *done,
                       int *failed)
{
    int64_t after = 0;
    int in_a_row = 0;
    for (;;) {
        rg_param p[] = {RG_PTEXT(k->name), RG_PTEXT(cutoff), RG_PINT(after)};
        rg_rows *rows;
        int rc = rg_rel_run(app, "intents_stalled", p, 3, &rows);
        if (rc < 0)
            return rc;
        int n = rows->nrows;
        for (int i = 0; i < n; i++) {
            rg_intent in = {.id = rg_rows_int(rows, i, "id", 0),
                            .step = (int)rg_rows_int(rows, i, "step", 0)};
            snprintf(in.kind, sizeof in.kind, "%s", k->name);
            snprintf(in.subject, sizeof in.subject, "%s", rg_rows_get(rows, i, "subject"));
            after = in.id;
            if (*done + *failed >= RESUME_MAX || in_a_row >= RESUME_FAILS) {
                n = 0; /* the rest waits for the next pass */
                break;
            }
            /* A driver that fails leaves its intent for the next pass. */
            if (k->drive(app, &in) < 0) {
                rg_warn("intent %lld (%s %s, after step %d): %s", (long long)in.id, in.kind,
                        in.subject, in.step, rg_error_detail());
                rg_error_clear();
                (*failed)++;
                in_a_row++;
            } else {
                (*done)++;
                in_a_row = 0;
            }
        }
        rg_rows_free(rows);
        if (n < 100)
            return 0;
    }
}

int rg_intents_resume(rg_app *app, const rg_intent_kind *kinds, int nkinds, int older_s, int *done)
{
    *done = 0;
    int failed = 0;
    for (int i = 0; i < nkinds; i++) {
        char cutoff[RG_TIME_LEN + 1];
        int age = older_s > kinds[i].min_age_s ? older_s : kinds[i].min_age_s;
        rg_time_format(rg_now() - age, cutoff);
        int rc = resume_kind(app, &kinds[i], cutoff, done, &failed);
        if (rc < 0)
            return rc;
    }
    return failed ? rg_error_set(RG_EUNAVAIL, "%d intent(s) could not be finished now", failed) : 0;
}
