/* The sold-out memo (part of the event record, event_record.h): for an
 * event that is surely full, its admission row and the people who hold a
 * registration of it, kept in process so that the refusals of a sold-out
 * rush are answered without a query.
 *
 * An entry is made by a request that found the event surely full, and
 * carries the event's cache version read before its rows: every change to
 * the event or its registrations bumps that version (rg__event_uncache)
 * after its commit, so an entry whose version is no longer the cache's is
 * never used. The version is read through the cache port (the in-process
 * level of the Redis adapter holds it, and another instance's bump reaches
 * it by invalidation within L1_TTL_MS). An entry also ends after
 * MEMO_TTL_MS whatever the version says (a process stopped between a
 * commit and its bump), and when the first hold of a paid event lapses.
 * A cache that cannot answer turns the memo off for that request.
 *
 * The memo only refuses: an admission always goes to the relational store,
 * which decides capacity. At worst a stale entry answers event-full (or
 * already registered) within those bounds after a change made room. */
#include "event_record.h"
#include "risinggen/base/alloc.h"
#include "risinggen/base/clock.h"
#include "risinggen/base/error.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define MEMO_SLOTS  16    /* events remembered at once */
#define MEMO_TTL_MS 2000  /* the longest an entry is used */
#define ROSTER_MAX  20000 /* an event with more holders is not remembered */
#define BUILDS      4     /* entries being made at once */

struct rg_sold_out_entry {
    atomic_int refs;
    int64_t event_id, version, made_ms;
    char first_hold[48]; /* the earliest lapse of a pending hold; "" none */
    rg_rows *ev;         /* event_get_for_admission's row */
    rg_rows *roster;     /* user_id of every registration not cancelled */
    const char **ids;    /* roster's user ids, sorted */
    int nids;
};

struct rg_sold_out {
    pthread_mutex_t lock;
    rg_sold_out_entry *slot[MEMO_SLOTS];
    int64_t building[BUILDS]; /* event ids; 0 free */
};

rg_sold_out *rg__sold_out_new(void)
{
    rg_sold_out *m = rg_xcalloc(1, sizeof *m);
    pthread_mutex_init(&m->lock, NULL);
    return m;
}

static void entry_put(rg_sold_out_entry *e)
{
    if (!e || atomic_fetch_sub(&e->refs, 1) != 1)
        return;
    rg_rows_free(e->ev);
    rg_rows_free(e->roster);
    free(e->ids);
    free(e);
}

void rg__sold_out_free(rg_sold_out *m)
{
    if (!m)
        return;
    for (int i = 0; i < MEMO_SLOTS; i++)
        entry_put(m->slot[i]);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

void rg__sold_out_put(rg_sold_out_entry *e)
{
    entry_put(e);
}

/* The event's cache version (0 when the key is absent: never bumped, or
 * evicted); false when the cache cannot say. */
static bool event_version(rg_app *app, int64_t event_id, int64_t *out)
{
    char verkey[40], *v = NULL;
    rg__event_verkey(event_id, verkey, sizeof verkey);
    int rc = rg_cache_get(&app->st.cache, verkey, &v, NULL);
    if (rc == RG_ENOTFOUND) {
        rg_error_clear();
        *out = 0;
        return true;
    }
    if (rc < 0) {
        rg_error_clear();
        return false;
    }
    *out = strtoll(v, NULL, 10);
    free(v);
    return true;
}

rg_sold_out_entry *rg__sold_out_find(rg_app *app, int64_t event_id, const char *now)
{
    rg_sold_out *m = app->sold_out;
    if (!m)
        return NULL;
    rg_sold_out_entry *e = NULL;
    int64_t t = rg_mono_ms();
    pthread_mutex_lock(&m->lock);
    for (int i = 0; i < MEMO_SLOTS && !e; i++)
        if (m->slot[i] && m->slot[i]->event_id == event_id &&
            t - m->slot[i]->made_ms < MEMO_TTL_MS) {
            e = m->slot[i];
            atomic_fetch_add(&e->refs, 1);
        }
    pthread_mutex_unlock(&m->lock);
    if (!e)
        return NULL;
    int64_t v;
    if ((e->first_hold[0] && strcmp(now, e->first_hold) > 0) || !event_version(app, event_id, &v) ||
        v != e->version) {
        entry_put(e);
        return NULL;
    }
    return e;
}

const rg_rows *rg__sold_out_event(const rg_sold_out_entry *e)
{
    return e->ev;
}

static int by_id(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

bool rg__sold_out_holds(const rg_sold_out_entry *e, const char *user_id)
{
    return e->nids && bsearch(&user_id, e->ids, (size_t)e->nids, sizeof *e->ids, by_id) != NULL;
}

/* Claims the making of event_id's entry; false when another thread makes it
 * or BUILDS are under way. */
static bool build_claim(rg_sold_out *m, int64_t event_id, bool claim)
{
    bool ok = false;
    pthread_mutex_lock(&m->lock);
    int free_at = -1;
    for (int i = 0; i < BUILDS; i++) {
        if (m->building[i] == event_id) {
            if (!claim)
                m->building[i] = 0;
            free_at = -2;
            break;
        }
        if (!m->building[i] && free_at == -1)
            free_at = i;
    }
    if (claim && free_at >= 0) {
        m->building[free_at] = event_id;
        ok = true;
    }
    pthread_mutex_unlock(&m->lock);
    return ok;
}

/* Whether the memo holds an entry of event_id at version v, young enough. */
static bool fresh(rg_sold_out *m, int64_t event_id, int64_t v)
{
    bool yes = false;
    int64_t t = rg_mono_ms();
    pthread_mutex_lock(&m->lock);
    for (int i = 0; i < MEMO_SLOTS; i++)
        if (m->slot[i] && m->slot[i]->event_id == event_id)
            yes = m->slot[i]->version == v && t - m->slot[i]->made_ms < MEMO_TTL_MS;
    pthread_mutex_unlock(&m->lock);
    return yes;
}

/* Whether the row shows the event full without a waiting list, with at
 * most ROSTER_MAX holders. */
static bool full_row(const rg_rows *ev)
{
    return ev->nrows && rg_rows_get(ev, 0, "max_participants") &&
           !rg_rows_bool(ev, 0, "waitlist_enabled") &&
           rg_rows_int(ev, 0, "taken", 0) >= rg_rows_int(ev, 0, "max_participants", 0) &&
           rg_rows_int(ev, 0, "taken", 0) <= ROSTER_MAX;
}

/* Whether the roster leaves the event surely full at now: no pending hold
 * of a paid event lapsed (as surely_full in registrations.c, which asks
 * about holds only for a paid event). The earliest lapse still to come in
 * first_hold. */
static bool no_lapse(const rg_rows *ev, const rg_rows *roster, const char *now, char *first_hold,
                     size_t cap)
{
    first_hold[0] = '\0';
    if (!rg_rows_get(ev, 0, "cost_minor"))
        return true;
    for (int i = 0; i < roster->nrows; i++) {
        const char *h = rg_rows_get(roster, i, "hold_until");
        if (h && (!first_hold[0] || strcmp(h, first_hold) < 0))
            snprintf(first_hold, cap, "%s", h);
    }
    return !first_hold[0] || strcmp(now, first_hold) <= 0;
}

void rg__sold_out_remember(rg_app *app, rg_rel_conn *c, const rg_rows *seen, const char *now)
{
    rg_sold_out *m = app->sold_out;
    if (!m || !full_row(seen)) /* too many holders to remember */
        return;
    int64_t event_id = rg_rows_int(seen, 0, "id", 0), v;
    /* An absent version (0) is not remembered: the key can be evicted after
     * a bump and read as 0 again, which would make an old entry current. */
    if (!event_version(app, event_id, &v) || v == 0 || fresh(m, event_id, v) ||
        !build_claim(m, event_id, true))
        return;
    rg_relational *r = &app->st.rel;
    rg_rows *ev = NULL, *roster = NULL;
    rg_param ep[] = {RG_PINT(event_id), RG_PTEXT("")};
    rg_param rp[] = {RG_PINT(event_id), RG_PINT(ROSTER_MAX + 1)};
    char first_hold[48];
    if (rg_rel_query(r, c, "event_get_for_admission", ep, 2, &ev) < 0 || !full_row(ev) ||
        rg_rel_query(r, c, "event_roster", rp, 2, &roster) < 0 || roster->nrows > ROSTER_MAX ||
        !no_lapse(ev, roster, now, first_hold, sizeof first_hold)) {
        rg_error_clear();
        rg_rows_free(ev);
        rg_rows_free(roster);
        build_claim(m, event_id, false);
        return;
    }
    rg_sold_out_entry *e = rg_xcalloc(1, sizeof *e);
    atomic_init(&e->refs, 1);
    e->event_id = event_id;
    e->version = v;
    e->made_ms = rg_mono_ms();
    memcpy(e->first_hold, first_hold, sizeof first_hold);
    e->ev = ev;
    e->roster = roster;
    e->nids = roster->nrows;
    e->ids = rg_xcalloc((size_t)(e->nids ? e->nids : 1), sizeof *e->ids);
    for (int i = 0; i < e->nids; i++)
        e->ids[i] = rg_rows_get(roster, i, "user_id");
    qsort(e->ids, (size_t)e->nids, sizeof *e->ids, by_id);

    rg_sold_out_entry *old = NULL;
    pthread_mutex_lock(&m->lock);
    int at = -1;
    for (int i = 0; i < MEMO_SLOTS && at < 0; i++)
        if (m->slot[i] && m->slot[i]->event_id == event_id)
            at = i;
    for (int i = 0; i < MEMO_SLOTS && at < 0; i++)
        if (!m->slot[i])
            at = i;
    if (at < 0) { /* the oldest entry makes way */
        at = 0;
        for (int i = 1; i < MEMO_SLOTS; i++)
            if (m->slot[i]->made_ms < m->slot[at]->made_ms)
                at = i;
    }
    old = m->slot[at];
    m->slot[at] = e;
    for (int i = 0; i < BUILDS; i++)
        if (m->building[i] == event_id)
            m->building[i] = 0;
    pthread_mutex_unlock(&m->lock);
    entry_put(old);
}
