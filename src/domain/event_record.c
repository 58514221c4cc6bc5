/* An event row as the domain's modules share it: its API views, its row
 * read from the store, who may manage and see it, and its cache entries
 * ("e:<id>" the event's JSON, versioned by "ev:<id>"; "gen:events" the
 * generation of discovery pages). */
#include "risinggen/domain/events.h"
#include "event_record.h"
#include <pthread.h>
#include "risinggen/base/alloc.h"
#include "risinggen/base/clock.h"
#include "risinggen/base/error.h"

#include <stdlib.h>
#include <string.h>

static json_t *time_or_null(const char *t)
{
    return rg_json_time(t);
}

static json_t *int_or_null(const rg_rows *r, int i, const char *col)
{
    const char *v = rg_rows_get(r, i, col);
    return v ? json_integer(strtoll(v, NULL, 10)) : json_null();
}

json_t *rg__event_view(const rg_rows *r, int i)
{
    json_t *cost = json_null();
    const char *minor = rg_rows_get(r, i, "cost_minor");
    if (minor && rg_rows_get(r, i, "cost_currency")) {
        char amount[24];
        rg_money_format(strtoll(minor, NULL, 10), amount);
        cost = json_pack("{s:s, s:s}", "amount", amount, "currency",
                         rg_rows_get(r, i, "cost_currency"));
    }
    json_t *spots = json_null();
    if (rg_rows_get(r, i, "max_participants")) {
        int64_t left = rg_rows_int(r, i, "max_participants", 0) - rg_rows_int(r, i, "taken", 0);
        spots = json_integer(left < 0 ? 0 : left);
    }
    return json_pack(
        "{s:I, s:s, s:s, s:s?, s:s, s:s, s:o, s:o, s:s, s:o, s:s, s:s, s:b, s:b, s:o, s:b, s:o, "
        "s:o, s:I, s:s, s:s, s:o}",
        "id", (json_int_t)rg_rows_int(r, i, "id", 0), "title", rg_rows_get(r, i, "title"), "slug",
        rg_rows_get(r, i, "slug"), "description", rg_rows_get(r, i, "description"), "startDate",
        rg_rows_get(r, i, "start_date"), "endDate", rg_rows_get(r, i, "end_date"),
        "registrationDeadline", time_or_null(rg_rows_get(r, i, "registration_deadline")), "venueId",
        int_or_null(r, i, "venue_id"), "organizerId", rg_rows_get(r, i, "organizer_id"),
        "maxParticipants", int_or_null(r, i, "max_participants"), "status",
        rg_rows_get(r, i, "status"), "type", rg_rows_get(r, i, "type"), "isFeatured",
        rg_rows_bool(r, i, "is_featured"), "isPublic", rg_rows_bool(r, i, "is_public"), "cost",
        cost, "waitlistEnabled", rg_rows_bool(r, i, "waitlist_enabled"), "minAge",
        int_or_null(r, i, "min_age"), "guardianConsentUnder",
        int_or_null(r, i, "guardian_consent_under"), "holdMinutes",
        (json_int_t)rg_rows_int(r, i, "hold_minutes", 30), "createdAt",
        rg_rows_get(r, i, "created_at"), "updatedAt", rg_rows_get(r, i, "updated_at"), "spotsLeft",
        spots);
}

json_t *rg__event_summary(const rg_rows *r, int i)
{
    return json_pack(
        "{s:I, s:s?, s:s?, s:s?, s:s?, s:s?, s:o}", "id",
        (json_int_t)rg_rows_int(r, i, "event_id", 0), "title", rg_rows_get(r, i, "event_title"),
        "slug", rg_rows_get(r, i, "event_slug"), "startDate", rg_rows_get(r, i, "event_start_date"),
        "endDate", rg_rows_get(r, i, "event_end_date"), "status", rg_rows_get(r, i, "event_status"),
        "venueId", int_or_null(r, i, "event_venue_id"));
}

void rg__event_key(int64_t id, char *key, size_t cap)
{
    snprintf(key, cap, "e:%lld", (long long)id);
}

void rg_event_cache_bump(rg_app *app)
{
    /* A generation that was evicted starts again from the clock, never
     * from a number an older page may still be cached under. */
    rg_vcache_bump(app, "gen:events");
}

void rg__event_verkey(int64_t id, char *key, size_t cap)
{
    snprintf(key, cap, "ev:%lld", (long long)id);
}

#define ROWS       16 /* events whose admission row is kept */
#define ROW_TTL_MS 20 /* how long a kept row is used */

/* An event's admission row, as an admission read it (event_record.h). */
struct kept_row {
    int64_t event_id, made_ms;
    rg_rows *ev;
};

struct rg_admit_rows {
    pthread_mutex_t lock;
    struct kept_row rows[ROWS];
    uint64_t changes; /* rg__admit_row_forget calls so far */
};

rg_admit_rows *rg__admit_rows_new(void)
{
    rg_admit_rows *g = rg_xcalloc(1, sizeof *g);
    pthread_mutex_init(&g->lock, NULL);
    return g;
}

void rg__admit_rows_free(rg_admit_rows *g)
{
    if (!g)
        return;
    for (int i = 0; i < ROWS; i++)
        rg_rows_free(g->rows[i].ev);
    pthread_mutex_destroy(&g->lock);
    free(g);
}

static rg_rows *rows_copy(const rg_rows *r)
{
    return rg_rows_make(r->ncols, (const char *const *)r->names, r->nrows,
                        (const char *const *)r->cells);
}

uint64_t rg__admit_row_changes(rg_app *app)
{
    rg_admit_rows *g = app->admit_rows;
    pthread_mutex_lock(&g->lock);
    uint64_t n = g->changes;
    pthread_mutex_unlock(&g->lock);
    return n;
}

rg_rows *rg__admit_row_find(rg_app *app, int64_t event_id)
{
    rg_admit_rows *g = app->admit_rows;
    rg_rows *out = NULL;
    int64_t t = rg_mono_ms();
    pthread_mutex_lock(&g->lock);
    for (int i = 0; i < ROWS && !out; i++)
        if (g->rows[i].ev && g->rows[i].event_id == event_id && t - g->rows[i].made_ms < ROW_TTL_MS)
            out = rows_copy(g->rows[i].ev);
    pthread_mutex_unlock(&g->lock);
    return out;
}

void rg__admit_row_keep(rg_app *app, int64_t event_id, const rg_rows *ev, uint64_t changes)
{
    rg_admit_rows *g = app->admit_rows;
    rg_rows *copy = rows_copy(ev), *old = NULL;
    int64_t t = rg_mono_ms();
    pthread_mutex_lock(&g->lock);
    if (g->changes == changes) { /* else the event may have changed since */
        int at = 0;              /* its slot, else the oldest */
        for (int i = 0; i < ROWS; i++) {
            if (g->rows[i].event_id == event_id) {
                at = i;
                break;
            }
            if (g->rows[i].made_ms < g->rows[at].made_ms)
                at = i;
        }
        old = g->rows[at].ev;
        g->rows[at] = (struct kept_row){.event_id = event_id, .made_ms = t, .ev = copy};
        copy = NULL;
    }
    pthread_mutex_unlock(&g->lock);
    rg_rows_free(old);
    rg_rows_free(copy);
}

void rg__admit_row_forget(rg_app *app, int64_t event_id)
{
    rg_admit_rows *g = app->admit_rows;
    if (!g)
        return;
    rg_rows *old = NULL;
    pthread_mutex_lock(&g->lock);
    g->changes++;
    for (int i = 0; i < ROWS; i++)
        if (g->rows[i].event_id == event_id) {
            old = g->rows[i].ev;
            g->rows[i] = (struct kept_row){0};
        }
    pthread_mutex_unlock(&g->lock);
    rg_rows_free(old);
}

void rg__event_uncache(rg_app *app, int64_t id)
{
    rg__admit_row_forget(app, id);
    rg__event_uncache_admitted(app, id);
}

void rg__event_uncache_admitted(rg_app *app, int64_t id)
{
    char key[40], verkey[40];
    rg__event_verkey(id, verkey, sizeof verkey);
    rg__event_key(id, key, sizeof key);
    /* The version, the entry, then the discovery generation (as
     * rg_vcache_bump, rg_cache_del and rg_event_cache_bump would), in one
     * round trip: a rush's admissions wait for it. */
    rg_cache_write w[] = {{.op = RG_CACHE_WRITE_INCR, .key = verkey, .by = 1},
                          {.op = RG_CACHE_WRITE_DEL, .key = key},
                          {.op = RG_CACHE_WRITE_INCR, .key = "gen:events", .by = 1}};
    rg_cache_write_many(&app->st.cache, w, 3);
    rg_vcache_bumped(app, &w[2]);
    if (w[0].rc == 0 && w[0].out == 1) {
        /* The version had been evicted: moved on from the clock only now,
         * so an entry a reader made under 1 meanwhile goes too. */
        rg_vcache_bumped(app, &w[0]);
        rg_cache_del(&app->st.cache, key);
    }
}

int rg__event_row(rg_app *app, const rg_ctx *reader, int64_t id, rg_rows **out)
{
    rg_param p[] = {RG_PINT(id)};
    int rc = rg_rel_run_read(app, reader, "event_get", p, 1, out);
    if (rc < 0)
        return rc;
    if ((*out)->nrows == 0) {
        rg_rows_free(*out);
        *out = NULL;
        return rg_error_set(RG_ENOTFOUND, "no such event");
    }
    return 0;
}

bool rg__event_can_manage(const rg_principal *who, const rg_rows *r)
{
    return rg_manages(who, rg_rows_get(r, 0, "organizer_id"));
}

bool rg__event_visible(const rg_principal *who, const rg_rows *r)
{
    if (rg__event_can_manage(who, r))
        return true;
    return strcmp(rg_rows_get(r, 0, "status"), "draft") != 0 && rg_rows_bool(r, 0, "is_public");
}
