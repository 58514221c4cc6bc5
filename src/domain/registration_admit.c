/* Admissions in groups (registration_admit.h), part of the registrations
 * feature: the admissions of one event that arrive at this
 * instance while another is under way go together into one statement,
 * registration_admit_many, and one commit (on SQLite, one write
 * transaction: below).
 *
 * Every admission to an event takes the event row's lock from its take to
 * its commit, so admissions to one event are serialised, each waiting for
 * the commit (and the flush of the WAL) before it. In a rush that chain is
 * the bound: 1,000 places are 1,000 commits one after the other while
 * every other request queues behind them. A group takes its places with one
 * UPDATE and writes its rows with one INSERT, in the order its members
 * arrived, so a group of n holds the lock once instead of n times.
 *
 * An engine without data-changing WITH (SQLite) runs the group as one
 * write transaction instead: the event checked once, then each member in
 * arrival order. Its writers are serialised for the whole store, so the
 * gain there is one transaction, one commit and one hand-over of the write
 * lock for the group instead of one each.
 *
 * The group forms by itself: the first admission of an event finds nobody
 * leading and leads; those that arrive while it runs wait in arrival order.
 * When the leader's statement is done it answers its group and hands the
 * lead to the first who waits, who takes everyone waiting then (up to
 * GROUP_MAX, one per person), and so on. An admission never waits for more
 * than the statement before its own.
 *
 * The leader also makes the event's cached view stale once for the group,
 * after the commit (while the next group's statement runs) and before
 * anyone of its group is answered.
 *
 * What a member gets: 1 and its registration (admitted); 0 when the group
 * admitted it not, for any reason (the event full, closed or with people
 * waiting; the person registered meanwhile; a person twice in one group),
 * and the caller decides in a transaction of its own, as it does alone; or
 * the store's error when the store failed (every member gets it). */
#include "registration_admit.h"
#include "event_record.h"
#include "registration_record.h"
#include "risinggen/base/alloc.h"
#include "risinggen/base/error.h"
#include "risinggen/base/metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define GROUP_MAX 32 /* admissions in one statement */

struct member {
    const rg_admit *a;
    json_t *view; /* the registration made, or NULL */
    int rc;
    char why[160]; /* the error's detail when rc < 0 */
    bool done, lead;
    bool led;     /* while it leads, whether leading[] holds its event */
    rg_waiter *w; /* parked: woken through w; else it waits on cv */
    pthread_cond_t cv;
    struct member *next; /* waiting, in arrival order */
};

/* A parked admission: its member and a copy of what it admits, which the
 * leader reads while the request's own memory may be gone. */
struct parked {
    struct member m;
    rg_admit a;
    rg_admit_groups *g;
};

#define LEADS 32 /* events with a statement under way at once */

struct rg_admit_groups {
    pthread_mutex_t lock;
    struct member *head, *tail;
    int64_t leading[LEADS]; /* event ids; 0 free */
    rg_metric *groups, *members;
};

rg_admit_groups *rg__admit_groups_new(void)
{
    rg_admit_groups *g = rg_xcalloc(1, sizeof *g);
    pthread_mutex_init(&g->lock, NULL);
    rg_metrics_describe("rg_admission_groups_total", "counter",
                        "Groups of admissions to one event run together.");
    rg_metrics_describe("rg_admission_group_members_total", "counter",
                        "Admissions in those groups (over the groups: their mean size).");
    g->groups = rg_metrics_series("rg_admission_groups_total");
    g->members = rg_metrics_series("rg_admission_group_members_total");
    return g;
}

void rg__admit_groups_free(rg_admit_groups *g)
{
    if (!g)
        return;
    pthread_mutex_destroy(&g->lock);
    free(g);
}

/* With the lock: false when event_id is led already; else the caller leads
 * it, and *slot says whether leading[] marks it so (when LEADS events are
 * led, the caller leads unmarked: those who come after lead too, each
 * alone, and their statements queue on the event row's lock). */
static bool lead_take(rg_admit_groups *g, int64_t event_id, bool *slot)
{
    int free_at = -1;
    for (int i = 0; i < LEADS; i++) {
        if (g->leading[i] == event_id)
            return false;
        if (!g->leading[i] && free_at < 0)
            free_at = i;
    }
    *slot = free_at >= 0;
    if (*slot)
        g->leading[free_at] = event_id;
    return true;
}

static void lead_drop(rg_admit_groups *g, int64_t event_id)
{
    for (int i = 0; i < LEADS; i++)
        if (g->leading[i] == event_id)
            g->leading[i] = 0;
}

static void unlink_member(rg_admit_groups *g, struct member *prev, struct member *m)
{
    if (prev)
        prev->next = m->next;
    else
        g->head = m->next;
    if (g->tail == m)
        g->tail = prev;
    m->next = NULL;
}

/* With the lock: takes me and those waiting for my event, in arrival
 * order, one per person, up to GROUP_MAX, off the queue. */
static int take_group(rg_admit_groups *g, struct member *me, struct member **out)
{
    int n = 0;
    out[n++] = me;
    struct member *prev = NULL;
    for (struct member *m = g->head; m;) {
        struct member *next = m->next;
        bool take = m == me;
        if (!take && n < GROUP_MAX && m->a->event_id == me->a->event_id) {
            take = true;
            for (int i = 0; i < n && take; i++)
                take = strcmp(out[i]->a->user_id, m->a->user_id) != 0;
            if (take)
                out[n++] = m;
        }
        if (take)
            unlink_member(g, prev, m);
        else
            prev = m;
        m = next;
    }
    return n;
}

/* Sets every member's answer to the store's error rc. */
static void group_failed(struct member **group, int n, int rc)
{
    for (int i = 0; i < n; i++) {
        group[i]->rc = rc;
        snprintf(group[i]->why, sizeof group[i]->why, "%s", rg_error_detail());
    }
}

/* Runs the statement for the group on c and sets every member's answer;
 * true when it admitted anyone. */
static bool run_group_statement(rg_app *app, rg_rel_conn *c, struct member **group, int n)
{
    json_t *people = json_array();
    for (int i = 0; i < n; i++) {
        const rg_admit *a = group[i]->a;
        json_t *consent = a->consent ? json_loads(a->consent, 0, NULL) : NULL;
        json_array_append_new(people, json_pack("{s:i, s:s, s:s, s:s?, s:s?, s:s?, s:o}", "ord", i,
                                                "user_id", a->user_id, "status", a->status, "diet",
                                                a->diet, "needs", a->needs, "hold", a->hold,
                                                "consent", consent ? consent : json_null()));
        group[i]->view = NULL;
        group[i]->rc = 0;
    }
    char *doc = json_dumps(people, JSON_COMPACT);
    json_decref(people);
    rg_param p[] = {RG_PINT(group[0]->a->event_id), RG_PTEXT(doc), RG_PTEXT(group[0]->a->now)};
    rg_rows *rows = NULL;
    int rc = rg_rel_query(&app->st.rel, c, "registration_admit_many", p, 3, &rows);
    free(doc);
    if (rc == RG_ECONFLICT) {
        /* A member registered meanwhile (or twice at once elsewhere): the
         * statement did nothing, and each decides alone. */
        rg_error_clear();
        return false;
    }
    if (rc < 0) {
        group_failed(group, n, rc);
        return false;
    }
    for (int r = 0; r < rows->nrows; r++)
        for (int i = 0; i < n; i++)
            if (strcmp(rg_rows_get(rows, r, "user_id"), group[i]->a->user_id) == 0)
                group[i]->view = rg__registration_view(rows, r);
    bool admitted = rows->nrows > 0;
    rg_rows_free(rows);
    return admitted;
}

/* Whether the event of row 0 of ev (event_get_for_admission's) takes
 * admissions at now, as registration_admit_many's WHERE asks: published
 * and before its deadline (a place free is the take's to decide). */
static bool event_open(const rg_rows *ev, const char *now)
{
    if (ev->nrows == 0 || strcmp(rg_rows_get(ev, 0, "status"), "published") != 0)
        return false;
    const char *deadline = rg_rows_get(ev, 0, "registration_deadline");
    if (!deadline)
        deadline = rg_rows_get(ev, 0, "end_date");
    return strcmp(now, deadline) <= 0;
}

/* In the group's write transaction, member m at now (the leader's, as
 * every row of a group statement has it): 1 admitted, with m->view its
 * registration read back; 0 not, *full when no place was left (else it
 * holds a registration already); or the store's error. */
static int admit_member(rg_relational *r, rg_rel_conn *c, struct member *m, const char *now,
                        bool *full)
{
    const rg_admit *a = m->a;
    rg_rows *ev = NULL, *ins = NULL, *reg = NULL;
    rg_param ep[] = {RG_PINT(a->event_id), RG_PTEXT(a->user_id)};
    int rc = rg_rel_query(r, c, "event_get_for_admission", ep, 2, &ev);
    bool registered = rc >= 0 && ev->nrows && rg_rows_bool(ev, 0, "registered");
    rg_rows_free(ev);
    if (rc < 0 || registered)
        return rc < 0 ? rc : 0;
    rg_param tp[] = {RG_PINT(a->event_id), RG_PTEXT(now)};
    if ((rc = rg_rel_query(r, c, "event_take_place", tp, 2, NULL)) <= 0) {
        *full = rc == 0;
        return rc;
    }
    rg_param ip[] = {RG_PINT(a->event_id), RG_PTEXT(a->user_id), RG_PTEXT(now),
                     RG_PTEXT(a->status),  RG_PTEXT(a->diet),    RG_PTEXT(a->needs),
                     RG_PTEXT(a->hold),    RG_PTEXT(a->consent)};
    if ((rc = rg_rel_query(r, c, "registration_insert", ip, 8, &ins)) < 0)
        return rc;
    rg_param gp[] = {RG_PINT(rg_rows_int(ins, 0, "id", 0))};
    rg_rows_free(ins);
    if ((rc = rg_rel_query(r, c, "registration_get", gp, 1, &reg)) < 0)
        return rc;
    m->view = rg__registration_view(reg, 0);
    rg_rows_free(reg);
    return 1;
}

/* The group as one write transaction on c (engines without data-changing
 * WITH): the event checked once (open, nobody waiting), then every member
 * in arrival order until no place is left, each admitted one's
 * registration read back, and one commit. True when it admitted anyone.
 * The write lock is held throughout, so what a member is told cannot be
 * overtaken; a failure undoes the whole group. */
static bool run_group_transaction(rg_app *app, rg_rel_conn *c, struct member **group, int n)
{
    rg_relational *r = &app->st.rel;
    const rg_admit *lead = group[0]->a;
    rg_rows *ev = NULL, *waiting = NULL;
    for (int i = 0; i < n; i++) {
        group[i]->view = NULL;
        group[i]->rc = 0;
    }
    int rc = rg_rel_begin(r, c, true);
    if (rc < 0) {
        group_failed(group, n, rc);
        return false;
    }
    rg_param ep[] = {RG_PINT(lead->event_id), RG_PTEXT(lead->user_id)};
    rg_param wp[] = {RG_PINT(lead->event_id)};
    if ((rc = rg_rel_query(r, c, "event_get_for_admission", ep, 2, &ev)) >= 0 &&
        event_open(ev, lead->now))
        rc = rg_rel_query(r, c, "registration_first_waitlisted", wp, 1, &waiting);
    bool open = rc >= 0 && waiting && waiting->nrows == 0;
    rg_rows_free(ev);
    rg_rows_free(waiting);
    /* Registered already, or full: 0, and the caller decides alone. */
    bool full = false, admitted = false;
    for (int i = 0; open && !full && i < n && rc >= 0; i++)
        if ((rc = admit_member(r, c, group[i], lead->now, &full)) > 0)
            admitted = true;
    if (rc >= 0)
        rc = rg_rel_commit(r, c);
    if (rc >= 0)
        return admitted;
    rg_rel_rollback(r, c);
    for (int i = 0; i < n; i++) {
        json_decref(group[i]->view);
        group[i]->view = NULL;
    }
    if (rc == RG_ECONFLICT) { /* each decides alone */
        rg_error_clear();
        return false;
    }
    group_failed(group, n, rc);
    return false;
}

static bool run_group(rg_app *app, rg_rel_conn *c, struct member **group, int n)
{
    return app->st.rel.ops->caps & RG_REL_CAP_WRITABLE_CTE
               ? run_group_statement(app, c, group, n)
               : run_group_transaction(app, c, group, n);
}

/* With the lock: m's answer is set, or m leads now. A member waiting on
 * its condition is signalled at once; a parked one is put on wake[] for
 * wake_all, after the lock is released. */
static void notify(struct member *m, struct member **wake, int *nwake)
{
    if (m->w)
        wake[(*nwake)++] = m;
    else
        pthread_cond_signal(&m->cv);
}

/* Without the lock. A woken request may free its member at once, so each
 * one's waiter is read before its wake and nothing after. */
static void wake_all(struct member **wake, int nwake)
{
    for (int i = 0; i < nwake; i++) {
        rg_waiter *w = wake[i]->w;
        w->wake(w);
    }
}

/* With the lock, me leading (and off the queue): the lead goes to the first
 * who waits for the same event, or the event is led no more. */
static void pass_lead(rg_admit_groups *g, struct member *me, struct member **wake, int *nwake)
{
    struct member *next = g->head;
    while (next && next->a->event_id != me->a->event_id)
        next = next->next;
    if (next && me->led) {
        next->lead = true;
        next->led = true;
        notify(next, wake, nwake);
    } else if (me->led) {
        lead_drop(g, me->a->event_id);
    }
}

/* With the lock, me leading: runs my group on c, hands the lead on, and
 * answers the group. Returns without the lock. No c: no connection could
 * be had, and every member gets that error (rg_error_last). */
static void lead(rg_app *app, rg_admit_groups *g, rg_rel_conn *c, struct member *me)
{
    struct member *group[GROUP_MAX], *wake[GROUP_MAX];
    int n = take_group(g, me, group), nwake = 0;
    pthread_mutex_unlock(&g->lock);
    rg_metrics_add(g->groups, 1);
    rg_metrics_add(g->members, n);
    bool admitted = false;
    if (c)
        admitted = run_group(app, c, group, n);
    else
        group_failed(group, n, rg_error_last());
    /* The next group's statement starts while this one's event is
     * uncached; this group is answered after. */
    pthread_mutex_lock(&g->lock);
    pass_lead(g, me, wake, &nwake);
    pthread_mutex_unlock(&g->lock);
    wake_all(wake, nwake);
    if (admitted)
        rg__event_uncache_admitted(app, me->a->event_id);
    nwake = 0;
    pthread_mutex_lock(&g->lock);
    for (int i = 1; i < n; i++) {
        group[i]->done = true;
        notify(group[i], wake, &nwake);
    }
    pthread_mutex_unlock(&g->lock);
    wake_all(wake, nwake);
}

/* With the lock: me last in the queue, leading when nobody leads its
 * event. */
static void enqueue(rg_admit_groups *g, struct member *me)
{
    if (g->tail)
        g->tail->next = me;
    else
        g->head = me;
    g->tail = me;
    me->led = true;
    me->lead = lead_take(g, me->a->event_id, &me->led);
}

static int answer(struct member *me, json_t **view)
{
    if (me->rc < 0)
        return rg_error_set(me->rc, "%s", me->why);
    *view = me->view;
    return me->view ? 1 : 0;
}

static struct parked *parked_new(rg_admit_groups *g, const rg_admit *a, rg_waiter *w)
{
    struct parked *p = rg_xcalloc(1, sizeof *p);
    p->g = g;
    p->a = (rg_admit){.event_id = a->event_id,
                      .user_id = rg_xstrdup(a->user_id),
                      .now = rg_xstrdup(a->now),
                      .status = rg_xstrdup(a->status),
                      .diet = rg_xstrdup_or_null(a->diet),
                      .needs = rg_xstrdup_or_null(a->needs),
                      .hold = rg_xstrdup_or_null(a->hold),
                      .consent = rg_xstrdup_or_null(a->consent)};
    p->m.a = &p->a;
    p->m.w = w;
    return p;
}

static void parked_free(struct parked *p)
{
    const char *s[] = {p->a.user_id, p->a.now,  p->a.status, p->a.diet,
                       p->a.needs,   p->a.hold, p->a.consent};
    for (size_t i = 0; i < sizeof s / sizeof *s; i++)
        free((char *)s[i]);
    free(p);
}

/* The request ended parked: off the queue, and the lead passed on if it
 * had been given it; an answer set for it is dropped (the admission
 * stands, as for a client that goes before its answer). */
static void parked_drop(void *state)
{
    struct parked *p = state;
    rg_admit_groups *g = p->g;
    struct member *wake[1];
    int nwake = 0;
    pthread_mutex_lock(&g->lock);
    if (!p->m.done) {
        struct member *prev = NULL, *m = g->head;
        while (m && m != &p->m) {
            prev = m;
            m = m->next;
        }
        if (m)
            unlink_member(g, prev, m);
        if (p->m.lead)
            pass_lead(g, &p->m, wake, &nwake);
    }
    pthread_mutex_unlock(&g->lock);
    wake_all(wake, nwake);
    json_decref(p->m.view);
    parked_free(p);
}

/* Parks the request while another leads the event's admissions (the
 * leader's thread runs the group, and this one serves other requests);
 * leads at once when nobody does. */
static int admit_parking(rg_app *app, rg_rel_conn *c, const rg_admit *a, rg_waiter *w,
                         json_t **view)
{
    rg_admit_groups *g = app->admit_groups;
    pthread_mutex_lock(&g->lock);
    bool led = false;
    for (int i = 0; i < LEADS && !led; i++)
        led = g->leading[i] == a->event_id;
    if (!led) {
        /* Leading at once, on this thread: the request's own memory lasts
         * until the group is answered. */
        struct member me = {.a = a, .w = w};
        enqueue(g, &me);
        lead(app, g, c, &me);
        return answer(&me, view);
    }
    pthread_mutex_unlock(&g->lock);
    struct parked *p = parked_new(g, a, w);
    /* Parked before anyone can find it in the queue, so that a wake never
     * comes before the park. */
    w->park(w);
    w->state = p;
    w->drop = parked_drop;
    pthread_mutex_lock(&g->lock);
    enqueue(g, &p->m);
    bool leads = p->m.lead; /* the leader finished meanwhile */
    pthread_mutex_unlock(&g->lock);
    if (leads)
        w->wake(w);
    return RG_PARKED;
}

int rg__admit_grouped(rg_app *app, rg_rel_conn *c, const rg_admit *a, rg_waiter *w, json_t **view)
{
    if (w)
        return admit_parking(app, c, a, w, view);
    rg_admit_groups *g = app->admit_groups;
    struct member me = {.a = a};
    pthread_cond_init(&me.cv, NULL);
    pthread_mutex_lock(&g->lock);
    enqueue(g, &me);
    while (!me.done && !me.lead)
        pthread_cond_wait(&me.cv, &g->lock);
    if (me.done)
        pthread_mutex_unlock(&g->lock);
    else
        lead(app, g, c, &me);
    pthread_cond_destroy(&me.cv);
    return answer(&me, view);
}

int rg__admit_resumed(rg_app *app, rg_waiter *w, json_t **view)
{
    struct parked *p = w->state;
    rg_admit_groups *g = p->g;
    w->state = NULL;
    w->drop = NULL;
    pthread_mutex_lock(&g->lock);
    bool leads = !p->m.done; /* else woken with its answer */
    pthread_mutex_unlock(&g->lock);
    if (leads) {
        /* Only this thread changes what it leads: the lock may go meanwhile. */
        rg_rel_conn *c = NULL;
        if (rg_rel_acquire(&app->st.rel, &c) < 0)
            c = NULL;
        pthread_mutex_lock(&g->lock);
        lead(app, g, c, &p->m);
        if (c)
            rg_rel_release(&app->st.rel, c);
    }
    int rc = answer(&p->m, view);
    parked_free(p);
    return rc;
}
