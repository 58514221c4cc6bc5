/* The coordinator of operations that write more than one store (intents.h). */
#include "intents.h"
#include "risinggen/base/alloc.h"
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

void rg_intent_gid(const rg_intent *in, char store, char out[RG_GID_MAX + 1])
{
    snprintf(out, RG_GID_MAX + 1, "rg.%c.%lld", store, (long long)in->id);
}

int rg_intent_decide(rg_app *app, rg_intent *in, int decided)
{
    char now[RG_TIME_LEN + 1];
    rg_time_format(rg_now(), now);
    rg_param p[] = {RG_PINT(in->id), RG_PINT(decided), RG_PTEXT(now)};
    int rc = rg_rel_run(app, "intent_step", p, 3, NULL);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return rg_error_set(RG_ESTALE, "the operation was given up before its decision");
    in->step = decided;
    rg_intent_fault(in->kind, decided);
    return 0;
}

int rg_intent_abandon(rg_app *app, const rg_intent *in, int decided)
{
    rg_param p[] = {RG_PINT(in->id), RG_PINT(decided)};
    int rc = rg_rel_run(app, "intent_abandon", p, 2, NULL);
    if (rc != 0)
        return rc < 0 ? rc : 1;
    /* Nothing removed: decided meanwhile, or already gone. */
    rg_rows *rows;
    if ((rc = rg_rel_run(app, "intent_get", p, 1, &rows)) < 0)
        return rc;
    rc = rows->nrows == 0;
    rg_rows_free(rows);
    return rc;
}

/* Finishes one store's transaction of in; RG_ENOTFOUND (finished before)
 * is no failure. */
static int finish_one(rg_app *app, const char *gid, char store, bool commit)
{
    int rc;
    if (store == RG_INTENT_STORE_DOCS) {
        rc = rg_docs_finish_prepared(&app->st.docs, gid, commit);
    } else {
        rg_rel_conn *c;
        if ((rc = rg_rel_acquire(&app->st.rel, &c)) < 0)
            return rc;
        rc = rg_rel_finish_prepared(&app->st.rel, c, gid, commit);
        rg_rel_release(&app->st.rel, c);
    }
    if (rc == RG_ENOTFOUND) {
        rg_error_clear();
        rc = 0;
    }
    return rc;
}

int rg_intent_finish(rg_app *app, const rg_intent *in, bool commit)
{
    char gid[RG_GID_MAX + 1];
    rg_intent_gid(in, RG_INTENT_STORE_REL, gid);
    int rc = finish_one(app, gid, RG_INTENT_STORE_REL, commit);
    if (rc == 0 && commit)
        rg_intent_fault(in->kind, in->step + 1);
    rg_intent_gid(in, RG_INTENT_STORE_DOCS, gid);
    int rd = finish_one(app, gid, RG_INTENT_STORE_DOCS, commit);
    if (rd == 0 && commit)
        rg_intent_fault(in->kind, in->step + 2);
    return rc < 0 ? rc : rd;
}

struct sweep {
    char (*gids)[RG_GID_MAX + 1];
    int n, cap;
};

static int sweep_collect(void *arg, const char *gid)
{
    struct sweep *s = arg;
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 16;
        s->gids = rg_xrealloc(s->gids, (size_t)s->cap * sizeof *s->gids);
    }
    snprintf(s->gids[s->n++], RG_GID_MAX + 1, "%s", gid);
    return 0;
}

/* Rolls back the gids of one store whose intent is gone. The listing comes
 * first: an intent is never written after its gid was prepared, and never
 * again once removed, so a gid listed and then without its intent belongs
 * to an operation given up (or one that finished since: its gid is gone
 * and the rollback finds nothing). */
static int sweep_store(rg_app *app, char store, int *n)
{
    struct sweep s = {0};
    char prefix[8];
    snprintf(prefix, sizeof prefix, "rg.%c.", store);
    int rc;
    if (store == RG_INTENT_STORE_DOCS) {
        rc = rg_docs_prepared_list(&app->st.docs, prefix, sweep_collect, &s);
    } else {
        rg_rel_conn *c;
        if ((rc = rg_rel_acquire(&app->st.rel, &c)) == 0) {
            rc = rg_rel_prepared_list(&app->st.rel, c, prefix, sweep_collect, &s);
            rg_rel_release(&app->st.rel, c);
        }
    }
    for (int i = 0; i < s.n && rc == 0; i++) {
        rg_param p[] = {RG_PINT(atoll(s.gids[i] + strlen(prefix)))};
        rg_rows *rows;
        if ((rc = rg_rel_run(app, "intent_get", p, 1, &rows)) < 0)
            break;
        bool orphan = rows->nrows == 0;
        rg_rows_free(rows);
        if (orphan && (rc = finish_one(app, s.gids[i], store, false)) == 0) {
            rg_warn("rolled back the prepared transaction %s: its operation was given up",
                    s.gids[i]);
            (*n)++;
        }
    }
    free(s.gids);
    return rc;
}

int rg_intents_sweep_prepared(rg_app *app, int *n)
{
    *n = 0;
    if (!(app->st.rel.ops->caps & RG_REL_CAP_PREPARED_TX) ||
        !(app->st.docs.ops->caps & RG_DOC_CAP_PREPARED))
        return 0;
    int rc = sweep_store(app, RG_INTENT_STORE_REL, n);
    int rd = sweep_store(app, RG_INTENT_STORE_DOCS, n);
    return rc < 0 ? rc : rd;
}
