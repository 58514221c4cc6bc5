/* The coordinator of operations that write more than one store
 * (docs/design/consistency.md). An operation records its intent in the
 * relational table `intents` before its first write, or in the same
 * transaction as its first relational write; it advances the intent's step
 * after each store it writes and closes the intent (the row goes) when it is
 * done. Each kind has a driver that takes an intent left at any step to the
 * operation's end, forward or back as the kind says, with steps that may
 * run twice: the intent-resume job runs the drivers at start and for the
 * intents that have not moved for a while (a crash, an outage, a step that
 * failed and was answered as a warning).
 *
 * Test builds (RG_FAULTS) stop the process with _exit(137), as a SIGKILL
 * would, right after the step named by RG_FAULT="kind:step" is recorded. */
#ifndef RG_DOMAIN_INTENTS_H
#define RG_DOMAIN_INTENTS_H

#include "domain.h"

#include <stdbool.h>
#include <stdint.h>

#define RG_INTENT_KIND_MAX    32
#define RG_INTENT_SUBJECT_MAX 64

typedef struct rg_intent {
    int64_t id;
    char kind[RG_INTENT_KIND_MAX];
    char subject[RG_INTENT_SUBJECT_MAX]; /* what it is about: an event id, a user id */
    int step;                            /* the last step done; 0: none yet */
} rg_intent;

/* Records an intent of kind about subject, in c's transaction when c is
 * given (it then commits with the operation's first relational write,
 * which is step `done`), else on its own (done 0). *out receives it. */
int rg_intent_open(rg_app *app, rg_rel_conn *c, const char *kind, const char *subject, int done,
                   rg_intent *out);
/* Records that step is done (a fault point in test builds). */
int rg_intent_step(rg_app *app, rg_intent *in, int step);
/* The operation is done: the intent goes. */
int rg_intent_close(rg_app *app, const rg_intent *in);
/* The fault point of kind after step, without a recorded intent (steps
 * whose record commits with them). */
void rg_intent_fault(const char *kind, int step);

/* Two-phase commit across the relational and the documents store, when
 * both prepare transactions (app->two_phase): the operation records its
 * intent on its own (step 0), prepares one transaction in each store under
 * the gids rg_intent_gid names (steps before `decided`), then records the
 * decision with rg_intent_decide, which holds only while the intent is
 * still there: the driver of an undecided intent removes it first
 * (rg_intent_abandon) and then rolls back what is prepared, so exactly one
 * of the two wins. After the decision, rg_intent_finish commits both. */
#define RG_INTENT_STORE_REL  'r'
#define RG_INTENT_STORE_DOCS 'd'
/* "rg.<store>.<intent id>". */
void rg_intent_gid(const rg_intent *in, char store, char out[RG_GID_MAX + 1]);
/* Records step `decided`: 0, RG_ESTALE when the intent was abandoned
 * meanwhile (then nothing may be committed), or RG_E* (the outcome is then
 * unknown to the caller, and the driver ends it). */
int rg_intent_decide(rg_app *app, rg_intent *in, int decided);
/* Removes an intent not yet at step `decided`: 1 when removed (or gone),
 * 0 when it was decided meanwhile. */
int rg_intent_abandon(rg_app *app, const rg_intent *in, int decided);
/* Commits (or rolls back) the transactions prepared for in in both
 * stores; one already finished is no failure. */
int rg_intent_finish(rg_app *app, const rg_intent *in, bool commit);
/* Rolls back the prepared transactions of both stores whose intent is
 * gone (a crash between the abandon and the rollback, or a prepare that
 * came after its intent was abandoned); *n counts them. */
int rg_intents_sweep_prepared(rg_app *app, int *n);

/* A kind of intent and its driver, which takes an intent left at any step
 * to the operation's end and closes it. */
typedef struct rg_intent_kind {
    const char *name;
    int (*drive)(rg_app *app, const rg_intent *in);
    /* Seconds an intent must have stood still before it is driven: 0 for
     * a kind whose driver writes what the stores already say (it may run
     * beside the operation itself), more for one that undoes (a signup in
     * flight on another instance must not lose its auth document). */
    int min_age_s;
} rg_intent_kind;

/* Drives to their end the intents of the n kinds last advanced at least
 * older_s seconds ago (and at least each kind's min_age_s); *done counts
 * those closed. The table of kinds is the jobs' (jobs.c), which may call
 * every domain file. */
int rg_intents_resume(rg_app *app, const rg_intent_kind *kinds, int n, int older_s, int *done);

/* The drivers (events.c, auth.c, users.c, password_reset.c, sessions.c,
 * sso_signin.c, messages.c, erasure.c, resources.c). */
int rg__event_change_drive(rg_app *app, const rg_intent *in);
int rg__signup_drive(rg_app *app, const rg_intent *in);
int rg__user_roles_drive(rg_app *app, const rg_intent *in);
int rg__user_roles_2pc_drive(rg_app *app, const rg_intent *in);
int rg__password_reset_drive(rg_app *app, const rg_intent *in);
int rg__session_revoke_drive(rg_app *app, const rg_intent *in);
int rg__sso_signin_drive(rg_app *app, const rg_intent *in);
int rg__message_post_drive(rg_app *app, const rg_intent *in);
int rg__user_erase_drive(rg_app *app, const rg_intent *in);
int rg__resource_change_drive(rg_app *app, const rg_intent *in);

#endif
