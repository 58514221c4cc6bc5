/* Registrations (relational). The capacity rule: confirmed + pending never
 * exceed maxParticipants. events.taken counts them; one conditional UPDATE
 * (event_take_place) both decides and reserves a place inside the write
 * transaction, so no interleaving can oversell. A paid event's registration
 * holds its place as `pending` until hold_expires_at; expired holds give
 * their place back (and the waiting list moves up) before anyone registers
 * and in the hold-expiry job. */
#include "risinggen/domain/audit.h"
#include "risinggen/domain/registrations.h"
#include "domain.h"
#include "event_record.h"
#include "registration_admit.h"
#include "registration_record.h"
#include "user_record.h"
#include "risinggen/base/log.h"
#include "risinggen/base/clock.h"
#include "risinggen/base/error.h"

#include <stdlib.h>
#include <string.h>

/* Inside a write transaction: expires the event's lapsed holds, frees their
 * places and moves the waiting list up. Returns how many expired. */
static int expire_event_holds(rg_app *app, rg_rel_conn *c, int64_t event_id, bool paid,
                              int64_t hold_minutes, const char *now)
{
    rg_relational *r = &app->st.rel;
    rg_param p[] = {RG_PINT(event_id), RG_PTEXT(now)};
    int n = rg_rel_query(r, c, "registration_expire_holds", p, 2, NULL);
    if (n <= 0)
        return n;
    rg_param rp[] = {RG_PINT(event_id), RG_PINT(n), RG_PTEXT(now)};
    int rc = rg_rel_query(r, c, "event_release_places", rp, 3, NULL);
    if (rc < 0)
        return rc;
    for (int i = 0; i < n; i++)
        if ((rc = rg__promote_waitlisted(app, c, event_id, paid, hold_minutes, now)) <= 0)
            break;
    return rc < 0 ? rc : n;
}

static int validate_consent(v_ctx *v, json_t *consent)
{
    static const char *const rel[] = {"parent", "guardian", "legal_guardian", "other", NULL};
    v_string(v, consent, "guardianName", true, 1, 200, NULL);
    v_email(v, consent, "guardianEmail", true, NULL);
    v_enum(v, consent, "relationship", true, rel, NULL);
    int64_t t;
    v_time(v, consent, "consentedAt", true, &t, NULL);
    return 0;
}

/* The registering person's age, read from their document the first time an
 * event's age rule asks for it (most events have none, and a sold-out rush
 * then costs no document read per request). */
typedef struct age_of {
    rg_app *app;
    const char *user_id;
    bool known;
    int age; /* -1 when the profile gives no date of birth */
} age_of;

static int age_get(age_of *a, int *out)
{
    if (!a->known) {
        json_t *user = NULL;
        int rc = rg__user_load(a->app, a->user_id, &user);
        if (rc < 0)
            return rc;
        a->age = rg_age_at(json_string_value(json_object_get(user, "dateOfBirth")), rg_now());
        a->known = true;
        json_decref(user);
    }
    *out = a->age;
    return 0;
}

/* Every rule that decides whether who may register for the event of row 0
 * of ev (event_get_for_admission's columns), except capacity: visible,
 * published, before the deadline, old enough, guardian consent, not already
 * registered (registered: whether who holds a registration of it). */
static int admission_rules(const rg_principal *who, const rg_rows *ev, bool registered,
                           age_of *ages, json_t *consent, const char *now)
{
    int age = -1;
    int rc;
    if (ev->nrows == 0 ||
        (!rg_manages(who, rg_rows_get(ev, 0, "organizer_id")) &&
         (strcmp(rg_rows_get(ev, 0, "status"), "draft") == 0 || !rg_rows_bool(ev, 0, "is_public"))))
        return rg_error_set(RG_ENOTFOUND, "no such event");
    if (strcmp(rg_rows_get(ev, 0, "status"), "published") != 0)
        return rg_error_set(RG_EUNPROCESSABLE, "the event is not open for registration (%s)",
                            rg_rows_get(ev, 0, "status"));
    const char *deadline = rg_rows_get(ev, 0, "registration_deadline");
    if (!deadline)
        deadline = rg_rows_get(ev, 0, "end_date");
    if (strcmp(now, deadline) > 0)
        return rg_error_set(RG_EUNPROCESSABLE, "registration closed at %s", deadline);
    if ((rg_rows_get(ev, 0, "min_age") || rg_rows_get(ev, 0, "guardian_consent_under")) &&
        (rc = age_get(ages, &age)) < 0)
        return rc;
    if (rg_rows_get(ev, 0, "min_age")) {
        int64_t min_age = rg_rows_int(ev, 0, "min_age", 0);
        if (age < 0 && min_age > 0) {
            rg_error_field("dateOfBirth", "is needed on your profile for this event");
            return rg_error_set(RG_EUNPROCESSABLE, "this event has a minimum age of %lld",
                                (long long)min_age);
        }
        if (age >= 0 && age < min_age)
            return rg_error_set(RG_EUNPROCESSABLE, "this event has a minimum age of %lld",
                                (long long)min_age);
    }
    if (rg_rows_get(ev, 0, "guardian_consent_under")) {
        int64_t under = rg_rows_int(ev, 0, "guardian_consent_under", 0);
        if ((age < 0 || age < under) && !consent) {
            rg_error_field("guardianConsent", "is required for attendees under %lld",
                           (long long)under);
            return rg_error_set(RG_EUNPROCESSABLE, "a guardian's consent is required");
        }
    }
    if (registered)
        return rg_error_set(RG_EALREADY, "you are already registered for this event");
    return 0;
}

/* The event row read on c, and admission_rules on it. *ev_out receives the
 * row. */
static int check_admission(rg_relational *r, rg_rel_conn *c, const rg_principal *who,
                           int64_t event_id, age_of *ages, json_t *consent, const char *now,
                           rg_rows **ev_out)
{
    rg_rows *ev = NULL;
    rg_param ep[] = {RG_PINT(event_id), RG_PTEXT(who->user_id)};
    int rc = rg_rel_query(r, c, "event_get_for_admission", ep, 2, &ev);
    if (rc >= 0)
        rc = admission_rules(who, ev, ev->nrows && rg_rows_bool(ev, 0, "registered"), ages, consent,
                             now);
    if (rc < 0) {
        rg_rows_free(ev);
        return rc;
    }
    *ev_out = ev;
    return 0;
}

/* True when the event is full, keeps no waiting list and has no lapsed hold
 * to give back: the answer can only be event-full. Only a paid event's
 * places are held (pending until paid), so a free one has no hold to ask
 * about; holds left from when a free event was paid are given back by the
 * hold-expiry job. */
static bool surely_full(rg_relational *r, rg_rel_conn *c, const rg_rows *ev, const char *now)
{
    if (!rg_rows_get(ev, 0, "max_participants") || rg_rows_bool(ev, 0, "waitlist_enabled") ||
        rg_rows_int(ev, 0, "taken", 0) < rg_rows_int(ev, 0, "max_participants", 0))
        return false;
    if (!rg_rows_get(ev, 0, "cost_minor"))
        return true;
    rg_param p[] = {RG_PINT(rg_rows_int(ev, 0, "id", 0)), RG_PTEXT(now)};
    rg_rows *h = NULL;
    int rc = rg_rel_query(r, c, "event_has_lapsed_holds", p, 2, &h);
    bool full = rc >= 0 && h->nrows == 0;
    rg_rows_free(h);
    rg_error_clear();
    return full;
}

/* Whether an admission to the event of row 0 of ev goes to a group: it
 * keeps no waiting list and, by this row, has a place free. */
static bool may_group(const rg_rows *ev)
{
    return !rg_rows_bool(ev, 0, "waitlist_enabled") &&
           (!rg_rows_get(ev, 0, "max_participants") ||
            rg_rows_int(ev, 0, "taken", 0) < rg_rows_int(ev, 0, "max_participants", 0));
}

/* What a new registration row holds (registration_insert's parameters). */
typedef struct admission {
    int64_t event_id;
    const char *user_id, *now, *diet, *needs, *consent;
    int64_t now_t; /* now, in seconds */
    bool paid;
    char hold[RG_TIME_LEN + 1]; /* a paid event's hold, until then */
} admission;

/* The status and hold of a registration for the event of row 0 of ev. */
static void admission_hold(admission *a, const rg_rows *ev)
{
    a->paid = rg_rows_get(ev, 0, "cost_minor") != NULL;
    a->hold[0] = '\0';
    if (a->paid)
        rg_time_format(a->now_t + rg_rows_int(ev, 0, "hold_minutes", 30) * 60, a->hold);
}

static void admission_params(const admission *a, rg_param p[8])
{
    p[0] = RG_PINT(a->event_id);
    p[1] = RG_PTEXT(a->user_id);
    p[2] = RG_PTEXT(a->now);
    p[3] = RG_PTEXT(a->paid ? "pending" : "confirmed");
    p[4] = RG_PTEXT(a->diet);
    p[5] = RG_PTEXT(a->needs);
    p[6] = a->paid ? RG_PTEXT(a->hold) : RG_PNULL;
    p[7] = RG_PTEXT(a->consent);
}

/* The admission inside a write transaction, where every case is decided:
 * the checks again, lapsed holds expired, the waiting list moved up, then
 * the row and the place (or the waiting list). The new row's id in *rid;
 * *ev the event row read inside (the caller frees it). */
static int admit_in_transaction(rg_app *app, rg_rel_conn *c, const rg_principal *who,
                                int64_t event_id, age_of *ages, json_t *consent, admission *a,
                                rg_rows **ev, int64_t *rid)
{
    rg_relational *r = &app->st.rel;
    int rc;
    if ((rc = rg_rel_begin(r, c, true)) < 0)
        return rc;
    if ((rc = check_admission(r, c, who, event_id, ages, consent, a->now, ev)) < 0)
        goto fail;
    admission_hold(a, *ev);
    int64_t hold_minutes = rg_rows_int(*ev, 0, "hold_minutes", 30);
    if ((rc = expire_event_holds(app, c, event_id, a->paid, hold_minutes, a->now)) < 0)
        goto fail;
    /* A free place belongs to whoever waits for it first. */
    while ((rc = rg__promote_waitlisted(app, c, event_id, a->paid, hold_minutes, a->now)) > 0)
        ;
    if (rc < 0)
        goto fail;
    /* The row goes in first, as if a place were free, and the place is taken
     * last: the event row's lock, which every admission to the event waits
     * for, is held from the take to the commit and no longer. */
    rg_param ip[8];
    admission_params(a, ip);
    rg_rows *ins;
    rc = rg_rel_query(r, c, "registration_insert", ip, 8, &ins);
    if (rc == RG_ECONFLICT) {
        rc = rg_error_set(RG_EALREADY, "you are already registered for this event");
        goto fail;
    }
    if (rc < 0)
        goto fail;
    *rid = rg_rows_int(ins, 0, "id", 0);
    rg_rows_free(ins);
    rg_param tp[] = {RG_PINT(event_id), RG_PTEXT(a->now)};
    if ((rc = rg_rel_query(r, c, "event_take_place", tp, 2, NULL)) < 0)
        goto fail;
    if (rc == 0) {
        if (!rg_rows_bool(*ev, 0, "waitlist_enabled")) {
            rc = rg_error_set(RG_EFULL, "the event is full");
            goto fail;
        }
        rg_param gp[] = {RG_PINT(*rid)};
        if ((rc = rg_rel_query(r, c, "registration_to_waitlist", gp, 1, NULL)) < 0)
            goto fail;
    }
    if ((rc = rg_rel_commit(r, c)) < 0)
        goto fail;
    return 0;
fail:
    rg_rel_rollback(r, c);
    return rc;
}

/* The admission in a write transaction of its own, where every case is
 * decided, and the registration read back after the commit. */
static int admit_alone(rg_app *app, rg_rel_conn *c, const rg_principal *who, age_of *ages,
                       json_t *consent, admission *adm, json_t **out)
{
    rg_rows *ev = NULL, *reg = NULL;
    int64_t rid = 0;
    int rc = admit_in_transaction(app, c, who, adm->event_id, ages, consent, adm, &ev, &rid);
    rg_rows_free(ev);
    if (rc < 0)
        return rc;
    rg__event_uncache(app, adm->event_id);
    /* Read back after the commit, on the same connection: the lock is gone. */
    rg_param gp[] = {RG_PINT(rid)};
    if ((rc = rg_rel_query(&app->st.rel, c, "registration_get", gp, 1, &reg)) < 0)
        return rc;
    *out = rg__registration_view(reg, 0);
    rg_rows_free(reg);
    return 0;
}

/* A parked admission back (registration_admit.h): its group's answer, or
 * when the group did not admit it, the admission alone, decided now. */
static int admit_resumed(rg_app *app, const rg_ctx *ctx, age_of *ages, json_t *consent,
                         admission *adm, json_t **out)
{
    int rc = rg__admit_resumed(app, ctx->waiter, out);
    if (rc != 0)
        return rc < 0 ? rc : 0;
    rg__admit_row_forget(app, adm->event_id);
    rg_rel_conn *c;
    if ((rc = rg_rel_acquire(&app->st.rel, &c)) < 0)
        return rc;
    char *consent_text = consent ? json_dumps(consent, JSON_COMPACT) : NULL;
    adm->consent = consent_text;
    rc = admit_alone(app, c, &ctx->who, ages, consent, adm, out);
    free(consent_text);
    rg_rel_release(&app->st.rel, c);
    return rc;
}

int rg_registration_create(rg_app *app, const rg_ctx *ctx, const char *event_id_s, json_t *body,
                           json_t **out)
{
    const rg_principal *who = &ctx->who;
    int64_t event_id;
    if (!rg_parse_id(event_id_s, &event_id))
        return rg_error_set(RG_ENOTFOUND, "no such event");
    if (body && !json_is_object(body))
        return rg_error_set(RG_EVALIDATION, "the body must be a JSON object");
    v_ctx v = {0};
    const char *diet = NULL, *needs = NULL;
    json_t *consent = NULL;
    v_string(&v, body, "dietaryRequirements", false, 0, 1000, &diet);
    v_string(&v, body, "specialNeeds", false, 0, 1000, &needs);
    if (v_object(&v, body, "guardianConsent", &consent) && consent)
        validate_consent(&v, consent);
    int rc = v_finish(&v);
    if (rc < 0)
        return rc;

    age_of ages = {.app = app, .user_id = who->user_id};
    char now[RG_TIME_LEN + 1];
    int64_t now_t = rg_now();
    rg_time_format(now_t, now);
    if (ctx->waiter && ctx->waiter->state) {
        admission adm = {.event_id = event_id,
                         .user_id = who->user_id,
                         .now = now,
                         .now_t = now_t,
                         .diet = diet,
                         .needs = needs};
        return admit_resumed(app, ctx, &ages, consent, &adm, out);
    }
    /* A sold-out event refuses from the memo, without a query. */
    rg_sold_out_entry *memo = rg__sold_out_find(app, event_id, now);
    if (memo) {
        rc = admission_rules(who, rg__sold_out_event(memo), rg__sold_out_holds(memo, who->user_id),
                             &ages, consent, now);
        rg__sold_out_put(memo);
        return rc < 0 ? rc : rg_error_set(RG_EFULL, "the event is full");
    }
    rg_relational *r = &app->st.rel;
    rg_rel_conn *c;
    if ((rc = rg_rel_acquire(r, &c)) < 0)
        return rc;
    rg_rows *ev = NULL;
    char *consent_text = NULL;
    /* Right after another admission here, the event row it read, when by
     * that row this one may go to a group (event_record.h); else,
     * and whenever that row would refuse, the row read now. */
    if ((ev = rg__admit_row_find(app, event_id)) &&
        (!may_group(ev) || admission_rules(who, ev, false, &ages, consent, now) < 0)) {
        rg_error_clear();
        rg_rows_free(ev);
        ev = NULL;
    }
    if (!ev) {
        uint64_t changes = rg__admit_row_changes(app);
        /* First without the write lock: in a sold-out rush most people are
         * refused here, and only the others queue for the lock. */
        if ((rc = check_admission(r, c, who, event_id, &ages, consent, now, &ev)) < 0)
            goto out;
        if (surely_full(r, c, ev, now)) {
            rg__sold_out_remember(app, c, ev, now);
            rc = rg_error_set(RG_EFULL, "the event is full");
            goto out;
        }
        if (may_group(ev))
            rg__admit_row_keep(app, event_id, ev, changes);
    }
    consent_text = consent ? json_dumps(consent, JSON_COMPACT) : NULL;
    admission adm = {.event_id = event_id,
                     .user_id = who->user_id,
                     .now = now,
                     .now_t = now_t,
                     .diet = diet,
                     .needs = needs,
                     .consent = consent_text};
    admission_hold(&adm, ev);
    if (may_group(ev)) {
        /* Shared with the admissions to the same event that arrive
         * meanwhile (registration_admit.c): one statement, whose event row
         * lock is held inside the server for the take and the commit and
         * once for the group; or, without data-changing WITH, one write
         * transaction for the group. */
        rg_admit ga = {.event_id = event_id,
                       .user_id = who->user_id,
                       .now = now,
                       .status = adm.paid ? "pending" : "confirmed",
                       .diet = diet,
                       .needs = needs,
                       .hold = adm.paid ? adm.hold : NULL,
                       .consent = consent_text};
        if ((rc = rg__admit_grouped(app, c, &ga, ctx->waiter, out)) != 0) {
            rc = rc < 0 || rc == RG_PARKED ? rc : 0;
            goto out;
        }
        /* Not admitted: full after all, lapsed holds, people waiting,
         * registered meanwhile; the transaction below decides. The kept
         * row may say a place is free when none is: the next admissions
         * read the row afresh (and a full event's go to the memo). */
        rg__admit_row_forget(app, event_id);
    }
    rc = admit_alone(app, c, who, &ages, consent, &adm, out);
out:
    free(consent_text);
    rg_rows_free(ev);
    rg_rel_release(r, c);
    return rc;
}

/* The registration row with its event's organizer, when who may see it. */
static int load_visible(rg_app *app, const rg_principal *who, const char *id_s, rg_rows **out,
                        bool *manager)
{
    int64_t id;
    if (!rg_parse_id(id_s, &id))
        return rg_error_set(RG_ENOTFOUND, "no such registration");
    rg_param p[] = {RG_PINT(id)};
    int rc = rg_rel_run(app, "registration_get", p, 1, out);
    if (rc < 0)
        return rc;
    rg_rows *r = *out;
    *manager = r->nrows && rg_manages(who, rg_rows_get(r, 0, "event_organizer_id"));
    if (r->nrows == 0 || (!*manager && strcmp(rg_rows_get(r, 0, "user_id"), who->user_id) != 0)) {
        rg_rows_free(r);
        *out = NULL;
        return rg_error_set(RG_ENOTFOUND, "no such registration");
    }
    return 0;
}

int rg_registration_get(rg_app *app, const rg_ctx *ctx, const char *id, json_t **out)
{
    const rg_principal *who = &ctx->who;
    rg_rows *r;
    bool manager;
    int rc = load_visible(app, who, id, &r, &manager);
    if (rc < 0)
        return rc;
    *out = rg__registration_view(r, 0);
    rg_rows_free(r);
    return 0;
}

int rg_registration_cancel(rg_app *app, const rg_ctx *ctx, const char *id_s, json_t *body,
                           json_t **out)
{
    const rg_principal *who = &ctx->who;
    v_ctx v = {0};
    const char *reason = NULL;
    if (body && !json_is_object(body))
        return rg_error_set(RG_EVALIDATION, "the body must be a JSON object");
    v_string(&v, body, "reason", false, 0, 500, &reason);
    int rc = v_finish(&v);
    if (rc < 0)
        return rc;
    rg_rows *r;
    bool manager;
    if ((rc = load_visible(app, who, id_s, &r, &manager)) < 0)
        return rc;
    int64_t id = rg_rows_int(r, 0, "id", 0), event_id = rg_rows_int(r, 0, "event_id", 0);
    bool paid = rg_rows_get(r, 0, "event_cost_minor") != NULL;
    int64_t hold_minutes = rg_rows_int(r, 0, "event_hold_minutes", 30);
    rg_rows_free(r);
    r = NULL;

    rg_relational *rel = &app->st.rel;
    rg_rel_conn *c;
    if ((rc = rg_rel_acquire(rel, &c)) < 0)
        return rc;
    char now[RG_TIME_LEN + 1];
    rg_time_format(rg_now(), now);
    if ((rc = rg_rel_begin(rel, c, true)) < 0)
        goto out;
    rg_param gp[] = {RG_PINT(id)};
    if ((rc = rg_rel_query(rel, c, "registration_get", gp, 1, &r)) < 0)
        goto fail;
    if (rg_rows_bool(r, 0, "checked_in")) {
        rc = rg_error_set(RG_ECONFLICT, "a checked-in registration cannot be cancelled");
        goto fail;
    }
    const char *why = reason ? reason
                             : (manager && strcmp(rg_rows_get(r, 0, "user_id"), who->user_id) != 0
                                    ? "cancelled by the organizer"
                                    : "cancelled by the attendee");
    /* Each UPDATE re-checks the status under the row lock, so of two
     * concurrent cancellations only one frees the place. */
    rg_param cp[] = {RG_PINT(id), RG_PTEXT(now), RG_PTEXT(why)};
    int held = rg_rel_query(rel, c, "registration_cancel_holding", cp, 3, NULL);
    if ((rc = held) < 0)
        goto fail;
    if (held == 0 && (rc = rg_rel_query(rel, c, "registration_cancel_waiting", cp, 3, NULL)) < 0)
        goto fail;
    if (held == 1) {
        rg_param rp[] = {RG_PINT(event_id), RG_PINT(1), RG_PTEXT(now)};
        if ((rc = rg_rel_query(rel, c, "event_release_places", rp, 3, NULL)) < 0 ||
            (rc = rg__promote_waitlisted(app, c, event_id, paid, hold_minutes, now)) < 0)
            goto fail;
    }
    /* Audit (accounts and privacy): someone else's registration cancelled by
     * the organizer or an admin, in the same transaction. */
    if (manager && strcmp(rg_rows_get(r, 0, "user_id"), who->user_id) != 0 &&
        strcmp(rg_rows_get(r, 0, "status"), "cancelled") != 0) {
        char target[24];
        snprintf(target, sizeof target, "%lld", (long long)id);
        json_t *d = json_pack("{s:I, s:s, s:s, s:s}", "eventId", (json_int_t)event_id, "userId",
                              rg_rows_get(r, 0, "user_id"), "previousStatus",
                              rg_rows_get(r, 0, "status"), "reason", why);
        rc = rg_audit(app, c, who->user_id, "registration.cancel", "registration", target, d);
        json_decref(d);
        if (rc < 0)
            goto fail;
    }
    rg_rows_free(r);
    if ((rc = rg_rel_query(rel, c, "registration_get", gp, 1, &r)) < 0)
        goto fail;
    if ((rc = rg_rel_commit(rel, c)) < 0)
        goto fail;
    rg__event_uncache(app, event_id);
    *out = rg__registration_view(r, 0);
    rc = 0;
    goto out;
fail:
    rg_rel_rollback(rel, c);
out:
    rg_rows_free(r);
    rg_rel_release(rel, c);
    return rc;
}

int rg_registration_check_in(rg_app *app, const rg_ctx *ctx, const char *id_s, json_t **out)
{
    const rg_principal *who = &ctx->who;
    rg_rows *r;
    bool manager;
    int rc = load_visible(app, who, id_s, &r, &manager);
    if (rc < 0)
        return rc;
    if (!manager) {
        rg_rows_free(r);
        return rg_error_set(RG_EFORBIDDEN, "only the organizer or an admin checks people in");
    }
    const char *status = rg_rows_get(r, 0, "status");
    if (strcmp(status, "cancelled") == 0 || strcmp(status, "waitlisted") == 0) {
        rc = rg_error_set(RG_ECONFLICT, "a %s registration cannot be checked in", status);
        rg_rows_free(r);
        return rc;
    }
    int64_t id = rg_rows_int(r, 0, "id", 0);
    int64_t event_id = rg_rows_int(r, 0, "event_id", 0);
    bool again = rg_rows_bool(r, 0, "checked_in");
    rg_rows_free(r);
    char now[RG_TIME_LEN + 1];
    rg_time_format(rg_now(), now);
    rg_param p[] = {RG_PINT(id), RG_PTEXT(now)};
    /* The check-in and its audit entry (accounts and privacy) commit together. */
    rg_relational *rel = &app->st.rel;
    rg_rel_conn *c;
    if ((rc = rg_rel_acquire(rel, &c)) < 0)
        return rc;
    if ((rc = rg_rel_begin(rel, c, true)) == 0) {
        rc = rg_rel_query(rel, c, "registration_check_in", p, 2, NULL);
        if (rc == 0) /* cancelled meanwhile */
            rc = rg_error_set(RG_ECONFLICT, "the registration was cancelled");
        if (rc > 0) {
            char target[24];
            snprintf(target, sizeof target, "%lld", (long long)id);
            json_t *d = json_pack("{s:I, s:b}", "eventId", (json_int_t)event_id, "again", again);
            rc = rg_audit(app, c, who->user_id, "registration.check_in", "registration", target, d);
            json_decref(d);
        }
        if (rc >= 0)
            rc = rg_rel_commit(rel, c);
        if (rc < 0)
            rg_rel_rollback(rel, c);
    }
    rg_rel_release(rel, c);
    if (rc < 0)
        return rc;
    rg__event_uncache(app, event_id);
    rg_param gp[] = {RG_PINT(id)};
    if ((rc = rg_rel_run(app, "registration_get", gp, 1, &r)) < 0)
        return rc;
    *out = rg__registration_view(r, 0);
    rg_rows_free(r);
    return 0;
}

int rg_registration_expire_holds(rg_app *app)
{
    char now[RG_TIME_LEN + 1];
    rg_time_format(rg_now(), now);
    rg_param p[] = {RG_PTEXT(now)};
    rg_rows *events;
    int rc = rg_rel_run(app, "events_with_expired_holds", p, 1, &events);
    if (rc < 0)
        return rc;
    int total = 0;
    rg_relational *rel = &app->st.rel;
    rg_rel_conn *c;
    if ((rc = rg_rel_acquire(rel, &c)) < 0) {
        rg_rows_free(events);
        return rc;
    }
    for (int i = 0; i < events->nrows; i++) {
        int64_t eid = rg_rows_int(events, i, "event_id", 0);
        rg_rows *ev = NULL;
        rg_param ep[] = {RG_PINT(eid)};
        if ((rc = rg_rel_begin(rel, c, true)) < 0)
            break;
        if ((rc = rg_rel_query(rel, c, "event_get", ep, 1, &ev)) < 0 || ev->nrows == 0) {
            rg_rows_free(ev);
            rg_rel_rollback(rel, c);
            continue;
        }
        int n = expire_event_holds(app, c, eid, rg_rows_get(ev, 0, "cost_minor") != NULL,
                                   rg_rows_int(ev, 0, "hold_minutes", 30), now);
        rg_rows_free(ev);
        if (n < 0 || (rc = rg_rel_commit(rel, c)) < 0) {
            rg_rel_rollback(rel, c);
            rc = n < 0 ? n : rc;
            break;
        }
        total += n;
        rg__event_uncache(app, eid);
    }
    rg_rel_release(rel, c);
    rg_rows_free(events);
    return rc < 0 ? rc : total;
}
