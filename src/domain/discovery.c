/* Discovery: GET /v1/events, published public events by filters, served
 * from the cache as text ("d:<query>", made again after every change to
 * events, seen through the generation "gen:events"). */
#include "risinggen/domain/events.h"
#include "domain.h"
#include "event_record.h"
#include "risinggen/base/alloc.h"
#include "risinggen/base/buf.h"
#include "risinggen/base/clock.h"
#include "risinggen/base/error.h"
#include "risinggen/base/geo.h"
#include "risinggen/base/log.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* A kept page is current for DISCOVERY_TTL_MS and while no event changed
 * (the generation "gen:events" it was made under). A page that is not
 * current is made again by one caller at a time across instances, the one
 * that takes the lock "dr:<key>" (held at most DISCOVERY_REMAKE_MS); the
 * callers that come meanwhile get the page as it was, if it is younger
 * than DISCOVERY_STALE_MS, and so do callers while a quarter of this
 * process's workers are remaking pages. So a change to events costs one
 * query per page, not one per caller, and the first caller after a change
 * (or a session that just wrote) sees it, unless the service is that busy
 * remaking. */
#define DISCOVERY_TTL_MS    10000
#define DISCOVERY_STALE_MS  60000
#define DISCOVERY_REMAKE_MS 5000

/* Pages this process is remaking while it has an older one to serve. A
 * remake runs an uncached query on a worker thread; pages made together
 * grow old together, and unbounded remakes would take every worker at
 * once, so at most a quarter of the workers remake (the others serve what
 * they have). A caller with no page at all always makes it. */
static atomic_int remakes;

/* Below this many events at the venues a place filter leaves, a page is
 * found fastest from those venues' own events (an index per venue and a
 * sort); above it, walking all events in date order finds one sooner. */
#define VENUE_WAY_EVENTS 500

/* One venue that the place filters leave, and its distance from `near`. */
struct place {
    int64_t id;
    double km; /* 0 without near */
};

/* The venues that the place filters leave, by id. */
struct places {
    struct place *v;
    int n;
    long events; /* events at those venues, counted up to VENUE_WAY_EVENTS + 1 */
};

static int place_by_id(const void *a, const void *b)
{
    const struct place *x = a, *y = b;
    return (x->id > y->id) - (x->id < y->id);
}

/* Nearest first; equal distances by id. */
static int place_by_distance(const void *a, const void *b)
{
    const struct place *x = a, *y = b;
    if (x->km != y->km)
        return x->km < y->km ? -1 : 1;
    return place_by_id(a, b);
}

static const struct place *place_find(const struct places *pl, int64_t id)
{
    struct place key = {.id = id};
    return pl->n ? bsearch(&key, pl->v, (size_t)pl->n, sizeof *pl->v, place_by_id) : NULL;
}

/* The venues that the place filters of q leave, in *out (by id). */
static int venues_matching(rg_app *app, const rg_ctx *ctx, const rg_event_query *q, double lat,
                           double lng, double radius, struct places *out)
{
    double dlat = 0, dlng = 0;
    if (q->near)
        rg_geo_box(lat, lng, radius, &dlat, &dlng);
    /* Their events are counted only as far as the choice of way needs. */
    rg_param p[] = {RG_PTEXT(q->city),
                    RG_PTEXT(q->country),
                    q->near ? RG_PREAL(lat) : RG_PNULL,
                    RG_PREAL(lng),
                    RG_PREAL(radius),
                    RG_PREAL(dlat),
                    RG_PREAL(dlng),
                    RG_PINT(VENUE_WAY_EVENTS + 1)};
    rg_rows *rows;
    int rc = rg_rel_run_read(app, ctx, "event_venues_matching", p, 8, &rows);
    if (rc < 0)
        return rc;
    out->n = rows->nrows;
    out->v = rg_xcalloc((size_t)(rows->nrows ? rows->nrows : 1), sizeof *out->v);
    out->events = rows->nrows ? (long)rg_rows_int(rows, 0, "events", 0) : 0;
    for (int i = 0; i < rows->nrows; i++) {
        out->v[i].id = rg_rows_int(rows, i, "id", 0);
        const char *km = rg_rows_get(rows, i, "distance_km");
        out->v[i].km = km ? strtod(km, NULL) : 0;
    }
    rg_rows_free(rows);
    qsort(out->v, (size_t)out->n, sizeof *out->v, place_by_id);
    return 0;
}

/* The ids of pl as a JSON array (malloc'd), nearest first when by_distance;
 * with by_distance, *rank_of_after is the place of the venue after_venue
 * in that order (-1 when after_venue is 0, RG_EINVAL when it is gone). */
static int places_json(const struct places *pl, bool by_distance, int64_t after_venue,
                       int64_t *rank_of_after, char **out)
{
    struct place *v = rg_xcalloc((size_t)(pl->n ? pl->n : 1), sizeof *v);
    memcpy(v, pl->v, (size_t)pl->n * sizeof *v);
    if (by_distance)
        qsort(v, (size_t)pl->n, sizeof *v, place_by_distance);
    rg_buf b = {0};
    rg_buf_puts(&b, "[");
    *rank_of_after = after_venue ? -2 : -1;
    for (int i = 0; i < pl->n; i++) {
        rg_buf_printf(&b, "%s%lld", i ? "," : "", (long long)v[i].id);
        if (v[i].id == after_venue)
            *rank_of_after = i;
    }
    rg_buf_puts(&b, "]");
    free(v);
    *out = rg_buf_steal(&b);
    if (*rank_of_after == -2) {
        free(*out);
        *out = NULL;
        return rg_error_set(RG_EINVAL,
                            "the cursor's venue is no longer in the results; start again");
    }
    return 0;
}

/* Whether the search index is a table of the relational store's own
 * PostgreSQL database (the search URL is the relational one). */
static bool words_in_relational(const rg_app *app)
{
    return (app->st.search.ops->caps & RG_SEARCH_CAP_SQL) &&
           strcmp(app->cfg->search_url, app->cfg->relational_url) == 0;
}

/* Appends the event of row i to items, with its distance when q is near. */
static void append_item(json_t *items, const rg_rows *rows, int i, const rg_event_query *q,
                        const struct places *places)
{
    json_t *item = rg__event_view(rows, i);
    const struct place *at =
        q->near ? place_find(places, rg_rows_int(rows, i, "venue_id", 0)) : NULL;
    if (at) /* to the metre */
        json_object_set_new(item, "distanceKm", json_real(round(at->km * 1000) / 1000));
    json_array_append_new(items, item);
}

/* Every search hit of q's words in part, as a JSON array of ids in *ids
 * (malloc'd): the filters and the order apply to all of them, so no event
 * that matches is left out. */
static int gather_ids(rg_app *app, const rg_event_query *q, rg_search_part part, char **ids)
{
    static const char *const types[] = {"event"};
    rg_search_hit *hits;
    int n;
    int rc = rg_search_ids_in(&app->st.search, q->q, part, types, 1, RG_SEARCH_IDS_MAX, &hits, &n);
    if (rc < 0)
        return rc;
    if (n >= RG_SEARCH_IDS_MAX) {
        rg_search_hits_free(hits, n);
        return rg_error_set(RG_EINVAL, "q matches more than %d events: add a word or a filter",
                            RG_SEARCH_IDS_MAX - 1);
    }
    rg_buf b = {0};
    rg_buf_puts(&b, "[");
    for (int i = 0; i < n; i++)
        rg_buf_printf(&b, "%s%s", i ? "," : "", hits[i].id);
    rg_buf_puts(&b, "]");
    rg_search_hits_free(hits, n);
    *ids = rg_buf_steal(&b);
    return 0;
}

/* A discovery query as its statements take it: the filters ($1-$6), the
 * way in, and the order. */
struct way {
    rg_param filters[6];    /* type, from, to, hasSpots, featured, venues */
    const char *walk;       /* the events that pass the filters, in the page's order */
    const char *hits;       /* the same among the search hits ($7) */
    bool by_distance;       /* nearest venue first (the cursor holds the venue's rank) */
    const int64_t *nearest; /* by distance: the venues' ids, nearest first */
    int nvenues;
};

/* What reading one venue's events costs a walk nearest first, counted in
 * events tested: about as much as testing ten. */
#define VENUE_READ_TESTS 10

/* Where a page stands: after (vrank, date, id) in the way's order. */
struct at {
    char vrank[24], date[64], id[24];
};

/* A page being made: its items, how many, whether one more than the limit
 * was found (there is a next page), and the last item's place. */
struct page {
    const rg_event_query *q;
    const struct places *places;
    json_t *items;
    int kept;
    bool full;
    char last_date[64], last_id[24], last_venue[24];
    rg_search_part last_part;
};

/* The way's statement after at, at most limit rows (ids: the hits, or
 * NULL to walk). */
static int run_way(rg_app *app, const rg_ctx *ctx, const struct way *w, const char *stmt,
                   const char *ids, const struct at *at, int limit, rg_rows **rows)
{
    rg_param p[11];
    memcpy(p, w->filters, sizeof w->filters);
    int np = 6;
    p[np++] = RG_PTEXT(ids);
    if (w->by_distance)
        p[np++] = RG_PINT(strtoll(at->vrank, NULL, 10));
    p[np++] = RG_PTEXT(at->date);
    p[np++] = RG_PINT(strtoll(at->id, NULL, 10));
    p[np++] = RG_PINT(limit);
    return rg_rel_run_read(app, ctx, stmt, p, np, rows);
}

/* Adds row i to the page, or marks it full when it holds the limit. */
static void page_add(struct page *pg, const rg_rows *rows, int i, rg_search_part part)
{
    if (pg->kept == pg->q->limit) {
        pg->full = true;
        return;
    }
    append_item(pg->items, rows, i, pg->q, pg->places);
    pg->kept++;
    pg->last_part = part;
    snprintf(pg->last_date, sizeof pg->last_date, "%s", rg_rows_get(rows, i, "start_date"));
    snprintf(pg->last_id, sizeof pg->last_id, "%s", rg_rows_get(rows, i, "id"));
    const char *venue = rg_rows_get(rows, i, "venue_id"); /* NULL: no venue, never by distance */
    snprintf(pg->last_venue, sizeof pg->last_venue, "%s", venue ? venue : "");
}

/* Adds to pg the events after at, in the way's order, that the words match
 * in part, until pg is full or they run out. First a walk: the events that
 * pass the filters, in batches, each batch tested by the search port
 * (matching); common words fill a page within a few dozen events, whatever
 * the number of events that hold them. Past the walk's reach, the hits are
 * gathered instead and the rest of the page taken among them, from where
 * the walk stopped. The reach, sqrt(1.5*L*N) events for a page of L among
 * N, is where both ways cost the same (see event_list_matching in
 * queries/postgresql/events.sql), so neither costs more than about twice
 * the cheaper one. */
static int page_part(rg_app *app, const rg_ctx *ctx, const struct way *w, rg_search_part part,
                     struct at at, double reach, struct page *pg)
{
    const rg_event_query *q = pg->q;
    int batch = 4 * (q->limit + 1), rc = 0;
    double tested = 0;
    bool ended = false;
    while (!pg->full && !ended && tested < reach) {
        if (batch > RG_SEARCH_LIMIT_MAX)
            batch = RG_SEARCH_LIMIT_MAX;
        rg_rows *rows;
        long venue = -1; /* nearest first: the venue read now, by its rank */
        if (w->by_distance) {
            /* One venue at a time, its events in date order: the statement
             * of all of them would sort every venue's events again for
             * each batch. */
            venue = strtol(at.vrank, NULL, 10);
            if (venue < 0) {
                venue = 0;
                snprintf(at.date, sizeof at.date, "%s", "0001-01-01T00:00:00Z");
                snprintf(at.id, sizeof at.id, "%s", "0");
            }
            snprintf(at.vrank, sizeof at.vrank, "%ld", venue);
            if (venue >= w->nvenues) {
                ended = true;
                break;
            }
            char one[32];
            snprintf(one, sizeof one, "[%lld]", (long long)w->nearest[venue]);
            struct way at_venue = *w;
            at_venue.filters[5] = RG_PTEXT(one);
            at_venue.by_distance = false;
            rc = run_way(app, ctx, &at_venue, "event_list_at_venues", NULL, &at, batch, &rows);
            tested += VENUE_READ_TESTS;
        } else {
            rc = run_way(app, ctx, w, w->walk, NULL, &at, batch, &rows);
        }
        if (rc < 0)
            return rc;
        rc = 0;
        int n = rows->nrows;
        const char **ids = rg_xcalloc((size_t)(n ? n : 1), sizeof *ids);
        bool *match = rg_xcalloc((size_t)(n ? n : 1), sizeof *match);
        for (int i = 0; i < n; i++)
            ids[i] = rg_rows_get(rows, i, "id");
        if (q->q)
            rc = rg_search_matching(&app->st.search, q->q, part, "event", ids, n, match);
        else /* nearest first without words: every event */
            for (int i = 0; i < n; i++)
                match[i] = true;
        for (int i = 0; rc == 0 && i < n && !pg->full; i++)
            if (match[i])
                page_add(pg, rows, i, part);
        if (n > 0) {
            snprintf(at.date, sizeof at.date, "%s", rg_rows_get(rows, n - 1, "start_date"));
            snprintf(at.id, sizeof at.id, "%s", ids[n - 1]);
        }
        if (venue >= 0 && n < batch) { /* the next venue, from its first event */
            snprintf(at.vrank, sizeof at.vrank, "%ld", venue + 1);
            snprintf(at.date, sizeof at.date, "%s", "0001-01-01T00:00:00Z");
            snprintf(at.id, sizeof at.id, "%s", "0");
            ended = venue + 1 >= w->nvenues;
        } else {
            ended = n < batch;
        }
        tested += n;
        batch *= 2;
        free(ids);
        free(match);
        rg_rows_free(rows);
        if (rc < 0)
            return rc;
    }
    if (pg->full || ended)
        return 0;
    char *hits = NULL;
    if ((rc = gather_ids(app, q, part, &hits)) < 0)
        return rc;
    rg_rows *rows;
    rc = run_way(app, ctx, w, w->hits, hits, &at, q->limit - pg->kept + 1, &rows);
    free(hits);
    if (rc < 0)
        return rc;
    for (int i = 0; i < rows->nrows && !pg->full; i++)
        page_add(pg, rows, i, part);
    rg_rows_free(rows);
    return 0;
}

/* Discovery with words, where the relational store does not match them in
 * its own statement: by date or nearest first, the events the words match;
 * by relevance, those whose title holds every word (part TITLE), then the
 * others (REST), each in date order. after_part is the cursor's part
 * (relevance). Nearest first without words walks the venues the same way,
 * testing nothing. */
static int page_of_words(rg_app *app, const rg_ctx *ctx, const rg_event_query *q,
                         const struct way *w, bool by_relevance, rg_search_part after_part,
                         const struct at *after, const struct places *places, json_t **out)
{
    rg_rows *est;
    int rc = rg_rel_run_read(app, ctx, "event_count_estimate", NULL, 0, &est);
    if (rc < 0)
        return rc;
    double events = est->nrows ? (double)rg_rows_int(est, 0, "n", 0) : 0;
    rg_rows_free(est);
    rc = 0;
    /* Without words (nearest first) nothing is tested, and the walk is the
     * way. */
    const double reach = q->q ? fmax(200, sqrt(1.5 * (q->limit + 1) * events)) : INFINITY;
    struct page pg = {.q = q, .places = places, .items = json_array()};
    if (!by_relevance) {
        rc = page_part(app, ctx, w, RG_SEARCH_PART_ALL, *after, reach, &pg);
    } else {
        struct at start = {.vrank = "-1", .date = "0001-01-01T00:00:00Z", .id = "0"};
        if (after_part == RG_SEARCH_PART_TITLE)
            rc = page_part(app, ctx, w, RG_SEARCH_PART_TITLE, *after, reach, &pg);
        if (rc == 0 && !pg.full)
            rc = page_part(app, ctx, w, RG_SEARCH_PART_REST,
                           after_part == RG_SEARCH_PART_REST ? *after : start, reach, &pg);
    }
    if (rc < 0) {
        json_decref(pg.items);
        return rc;
    }
    char next[160] = "";
    if (pg.full) {
        char at[112];
        if (by_relevance)
            snprintf(at, sizeof at, "#%d@%s", pg.last_part == RG_SEARCH_PART_TITLE ? 0 : 1,
                     pg.last_date);
        else if (w->by_distance)
            snprintf(at, sizeof at, "@%s@%s", pg.last_venue, pg.last_date);
        else
            snprintf(at, sizeof at, "%s", pg.last_date);
        rg_cursor_encode(at, pg.last_id, next, sizeof next);
    }
    *out = rg_list_page(pg.items, next);
    return 0;
}

static int discovery_query(rg_app *app, const rg_ctx *ctx, const rg_event_query *q, json_t **out)
{
    char from[RG_TIME_LEN + 1], to[RG_TIME_LEN + 1];
    bool has_spots, featured;
    int rc;
    if ((rc = rg__parse_bool_param("hasSpots", q->has_spots, &has_spots)) < 0 ||
        (rc = rg__parse_bool_param("featured", q->featured, &featured)) < 0)
        return rc;
    if ((rc = rg__parse_range(q->from, q->to, from, to)) < 0)
        return rc;
    double lat = 0, lng = 0, radius = 50;
    if (q->near) {
        char *end;
        lat = strtod(q->near, &end);
        if (end == q->near || *end != ',')
            return rg_error_set(RG_EINVAL, "near must be lat,lng");
        const char *l2 = end + 1;
        lng = strtod(l2, &end);
        if (end == l2 || *end || !(lat >= -90 && lat <= 90) || !(lng >= -180 && lng <= 180))
            return rg_error_set(RG_EINVAL, "near must be lat,lng within -90..90, -180..180");
    }
    if (q->radius_km) {
        char *end;
        radius = strtod(q->radius_km, &end);
        if (end == q->radius_km || *end || !(radius > 0 && radius <= 20000))
            return rg_error_set(RG_EINVAL, "radiusKm must be a number between 0 and 20000");
    }
    bool by_relevance = false, by_distance = false;
    if (q->sort && strcmp(q->sort, "relevance") == 0) {
        if (!q->q)
            return rg_error_set(RG_EINVAL, "sort=relevance needs q");
        by_relevance = true;
    } else if (q->sort && strcmp(q->sort, "distance") == 0) {
        if (!q->near)
            return rg_error_set(RG_EINVAL, "sort=distance needs near");
        by_distance = true;
    } else if (q->sort && strcmp(q->sort, "date") != 0)
        return rg_error_set(RG_EINVAL, "sort is date, relevance or distance");
    /* The cursor: the last start date and id in date order; "#part@start
     * date" and the id by relevance (part 0: the events whose title holds
     * every word, 1: the others); "@venue@start date" and the id by
     * distance. */
    char after_date[64] = "0001-01-01T00:00:00Z", after_id_s[32] = "0";
    int64_t after_id = 0, after_venue = 0;
    rg_search_part after_part = RG_SEARCH_PART_TITLE;
    if (q->cursor) {
        char mark = by_relevance ? '#' : by_distance ? '@' : 0;
        if ((rc = rg_cursor_decode(q->cursor, after_date, sizeof after_date, after_id_s,
                                   sizeof after_id_s)) < 0 ||
            !rg_parse_id(after_id_s, &after_id) ||
            (mark ? after_date[0] != mark : (after_date[0] == '#' || after_date[0] == '@')))
            return rg_error_set(RG_EINVAL, "the cursor is not valid");
        if (by_relevance) {
            if ((after_date[1] != '0' && after_date[1] != '1') || after_date[2] != '@')
                return rg_error_set(RG_EINVAL, "the cursor is not valid");
            after_part = after_date[1] == '0' ? RG_SEARCH_PART_TITLE : RG_SEARCH_PART_REST;
            memmove(after_date, after_date + 3, strlen(after_date + 3) + 1);
        }
        if (by_distance) {
            char *end;
            after_venue = strtoll(after_date + 1, &end, 10);
            if (after_venue <= 0 || *end != '@')
                return rg_error_set(RG_EINVAL, "the cursor is not valid");
            memmove(after_date, end + 1, strlen(end + 1) + 1);
        }
    }
    if (q->q && strlen(q->q) > 200)
        return rg_error_set(RG_EINVAL, "q is limited to 200 characters");
    struct places places = {0};
    char *venues = NULL;
    int64_t after_vrank = -1;
    if (q->city || q->country || q->near) {
        if ((rc = venues_matching(app, ctx, q, lat, lng, radius, &places)) < 0 ||
            (rc = places_json(&places, by_distance, after_venue, &after_vrank, &venues)) < 0) {
            free(places.v);
            return rc;
        }
        if (places.events == 0) { /* no event at any venue: an empty page */
            free(venues);
            free(places.v);
            *out = rg_list_page(json_array(), NULL);
            return 0;
        }
    }
    /* The way in: the venues nearest first for distance; else the venues'
     * own events when they hold few; else every event in date order, which
     * soon finds a page when most events pass. */
    int64_t *nearest = NULL;
    if (by_distance) {
        struct place *v = rg_xcalloc((size_t)(places.n ? places.n : 1), sizeof *v);
        memcpy(v, places.v, (size_t)places.n * sizeof *v);
        qsort(v, (size_t)places.n, sizeof *v, place_by_distance);
        nearest = rg_xcalloc((size_t)(places.n ? places.n : 1), sizeof *nearest);
        for (int i = 0; i < places.n; i++)
            nearest[i] = v[i].id;
        free(v);
    }
    struct way w = {
        .filters = {RG_PTEXT(q->type), q->from ? RG_PTEXT(from) : RG_PNULL,
                    q->to ? RG_PTEXT(to) : RG_PNULL, RG_PBOOL(has_spots), RG_PBOOL(featured),
                    RG_PTEXT(venues)},
        .walk = by_distance                                   ? "event_list_by_distance"
                : venues && places.events <= VENUE_WAY_EVENTS ? "event_list_at_venues"
                                                              : "event_list",
        .hits = by_distance ? "event_list_by_distance" : "event_list_of_ids",
        .by_distance = by_distance,
        .nearest = nearest,
        .nvenues = places.n,
    };
    struct at after;
    snprintf(after.vrank, sizeof after.vrank, "%lld", (long long)after_vrank);
    snprintf(after.date, sizeof after.date, "%s", after_date);
    snprintf(after.id, sizeof after.id, "%lld", (long long)after_id);
    /* In date order, words are matched by the relational store itself when
     * the search index is a table of its database (event_list_matching);
     * otherwise events are walked and tested through the search port. */
    bool matched_here = q->q && !by_relevance && !by_distance && words_in_relational(app);
    if ((q->q && !matched_here) || by_distance) {
        rc = page_of_words(app, ctx, q, &w, by_relevance, after_part, &after, &places, out);
        free(nearest);
        free(venues);
        free(places.v);
        return rc;
    }
    rg_rows *rows = NULL;
    rc = run_way(app, ctx, &w, matched_here ? "event_list_matching" : w.walk,
                 matched_here ? q->q : NULL, &after, q->limit + 1, &rows);
    free(nearest);
    free(venues);
    if (rc < 0) {
        free(places.v);
        return rc;
    }
    json_t *items = json_array();
    int n = rows->nrows > q->limit ? q->limit : rows->nrows;
    for (int i = 0; i < n; i++)
        append_item(items, rows, i, q, &places);
    char next[160] = "";
    int last = q->limit - 1;
    if (rows->nrows > q->limit) /* in date order: nearest first walked above */
        rg_cursor_encode(rg_rows_get(rows, last, "start_date"), rg_rows_get(rows, last, "id"), next,
                         sizeof next);
    rg_rows_free(rows);
    free(places.v);
    *out = rg_list_page(items, next);
    return 0;
}

/* The page of q as response text. */
static int page_text(rg_app *app, const rg_ctx *ctx, const rg_event_query *q, char **out,
                     size_t *len)
{
    json_t *page = NULL;
    int rc = discovery_query(app, ctx, q, &page);
    if (rc < 0)
        return rc;
    *out = json_dumps(page, JSON_COMPACT);
    json_decref(page);
    if (!*out)
        abort();
    *len = strlen(*out);
    return 0;
}

void rg__discovery_key(const rg_event_query *q, rg_buf *key)
{
    /* Every parameter, so equal queries share a page. */
    rg_buf_printf(key, "d:%d", q->limit);
    const char *parts[] = {q->q,    q->type,      q->city,      q->country,  q->from,   q->to,
                           q->near, q->radius_km, q->has_spots, q->featured, q->cursor, q->sort};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) /* length-prefixed: no collisions */
        if (parts[i])
            rg_buf_printf(key, "|%zu:%s", strlen(parts[i]), parts[i]);
        else
            rg_buf_puts(key, "|-");
}

/* The generation of events ("gen:events") in *gen, and the page kept under
 * key in *page (NULL when there is none), in one round trip. A generation
 * that is missing starts again from the clock (see rg_event_cache_bump). */
static void page_lookup(rg_app *app, const char *key, int64_t *gen, char **page, size_t *len)
{
    const char *keys[2] = {"gen:events", key};
    char *v[2];
    size_t l[2];
    rg_cache_get_many(&app->st.cache, keys, 2, v, l);
    *gen = v[0] ? strtoll(v[0], NULL, 10) : 0;
    if (!v[0])
        rg_cache_incr(&app->st.cache, "gen:events", rg_now_ms(), 0, gen);
    free(v[0]);
    *page = v[1];
    *len = l[1];
}

/* A kept page is "<generation> <made, ms since the epoch>\n<text>". Its
 * generation and when it was made in *pgen and *made, and where its text
 * starts; NULL when page is not of that form. */
static const char *page_parse(const char *page, size_t len, int64_t *pgen, int64_t *made)
{
    char *end;
    const char *nl = memchr(page, '\n', len);
    if (!nl)
        return NULL;
    *pgen = strtoll(page, &end, 10);
    if (*end != ' ')
        return NULL;
    *made = strtoll(end + 1, &end, 10);
    return end == nl ? nl + 1 : NULL;
}

/* Gives the text of page (what follows its header) to *out and *len. */
static void page_take(char *page, size_t len, const char *text, char **out, size_t *len_out)
{
    size_t off = (size_t)(text - page);
    memmove(page, text, len - off + 1);
    *out = page;
    *len_out = len - off;
}

/* The events' generation now: "gen:events", started from the clock when
 * missing (see rg_event_cache_bump). */
static int64_t generation(rg_app *app)
{
    char *g = NULL;
    size_t glen;
    int64_t gen = 0;
    if (rg_cache_get(&app->st.cache, "gen:events", &g, &glen) == 0)
        gen = strtoll(g, NULL, 10);
    else
        rg_cache_incr(&app->st.cache, "gen:events", rg_now_ms(), 0, &gen);
    free(g);
    return gen;
}

/* Runs the query of q and keeps its page under key, as made under gen (the
 * generation read before the query) at now. */
static int page_make(rg_app *app, const rg_ctx *ctx, const rg_event_query *q, const char *key,
                     int64_t gen, int64_t now, char **out, size_t *len)
{
    int rc = page_text(app, ctx, q, out, len);
    if (rc == 0) {
        rg_buf kept = {0};
        rg_buf_printf(&kept, "%lld %lld\n", (long long)gen, (long long)now);
        rg_buf_put(&kept, *out, *len);
        rg_cache_fill(&app->st.cache, key, kept.data, kept.len, DISCOVERY_STALE_MS);
        rg_buf_free(&kept);
    }
    return rc;
}

/* Pages that only their age made old (no event changed since) are remade
 * on a thread of their own while one runs (rg_discovery_remaker_start, by
 * `serve`): the caller that takes a page's lock queues its remake and is
 * served the old page. A worker thread serves many connections, and one
 * that runs an uncached query makes all of them wait; pages made together
 * also grow old together. A page that a change made old is still remade by
 * the caller, who then sees the change. Past REMAKE_QUEUE waiting remakes,
 * callers remake pages themselves. */
#define REMAKE_QUEUE 64

struct remake {
    struct remake *next;
    rg_event_query q; /* owns its strings */
    char *key;
};

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct remake *head, *tail;
    int n;
    bool on, stop;
    pthread_t thread;
} remaker = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void remake_free(struct remake *r)
{
    const char *parts[] = {r->q.q,         r->q.type,     r->q.city,   r->q.country,
                           r->q.from,      r->q.to,       r->q.near,   r->q.radius_km,
                           r->q.has_spots, r->q.featured, r->q.cursor, r->q.sort};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        free((void *)parts[i]);
    free(r->key);
    free(r);
}

static void remake_unlock(rg_app *app, const char *key)
{
    char lock[1100];
    snprintf(lock, sizeof lock, "dr:%s", key);
    rg_cache_del(&app->st.cache, lock);
}

/* Queues the remake of the page of q under key; false when no remaker runs
 * or too many wait. */
static bool remake_queue(const rg_event_query *q, const char *key)
{
    pthread_mutex_lock(&remaker.mu);
    bool queued = remaker.on && !remaker.stop && remaker.n < REMAKE_QUEUE;
    if (queued) {
        struct remake *r = rg_xcalloc(1, sizeof *r);
        r->q = (rg_event_query){.q = rg_xstrdup_or_null(q->q),
                                .type = rg_xstrdup_or_null(q->type),
                                .city = rg_xstrdup_or_null(q->city),
                                .country = rg_xstrdup_or_null(q->country),
                                .from = rg_xstrdup_or_null(q->from),
                                .to = rg_xstrdup_or_null(q->to),
                                .near = rg_xstrdup_or_null(q->near),
                                .radius_km = rg_xstrdup_or_null(q->radius_km),
                                .has_spots = rg_xstrdup_or_null(q->has_spots),
                                .featured = rg_xstrdup_or_null(q->featured),
                                .cursor = rg_xstrdup_or_null(q->cursor),
                                .sort = rg_xstrdup_or_null(q->sort),
                                .limit = q->limit};
        r->key = rg_xstrdup(key);
        if (remaker.tail)
            remaker.tail->next = r;
        else
            remaker.head = r;
        remaker.tail = r;
        remaker.n++;
        pthread_cond_signal(&remaker.cv);
    }
    pthread_mutex_unlock(&remaker.mu);
    return queued;
}

static void *remaker_main(void *arg)
{
    rg_app *app = arg;
    rg_log_bind("discovery-remake");
    pthread_mutex_lock(&remaker.mu);
    for (;;) {
        while (!remaker.head && !remaker.stop)
            pthread_cond_wait(&remaker.cv, &remaker.mu);
        struct remake *r = remaker.head;
        if (!r)
            break;
        remaker.head = r->next;
        if (!remaker.head)
            remaker.tail = NULL;
        remaker.n--;
        bool stopping = remaker.stop; /* the rest is only unlocked */
        pthread_mutex_unlock(&remaker.mu);
        if (!stopping) {
            rg_ctx anyone = {0};
            char *text;
            size_t len;
            int64_t gen = generation(app), now = rg_now_ms();
            if (page_make(app, &anyone, &r->q, r->key, gen, now, &text, &len) == 0)
                free(text);
            rg_error_clear();
        }
        remake_unlock(app, r->key);
        remake_free(r);
        pthread_mutex_lock(&remaker.mu);
    }
    pthread_mutex_unlock(&remaker.mu);
    rg_log_bind(NULL);
    return NULL;
}

int rg_discovery_remaker_start(rg_app *app)
{
    pthread_mutex_lock(&remaker.mu);
    int rc = 0;
    if (!remaker.on) {
        remaker.stop = false;
        if (pthread_create(&remaker.thread, NULL, remaker_main, app) == 0)
            remaker.on = true;
        else
            rc = rg_error_set(RG_EINTERNAL, "cannot start the discovery remaker");
    }
    pthread_mutex_unlock(&remaker.mu);
    return rc;
}

void rg_discovery_remaker_stop(void)
{
    pthread_mutex_lock(&remaker.mu);
    bool on = remaker.on;
    remaker.stop = true;
    pthread_cond_broadcast(&remaker.cv);
    pthread_mutex_unlock(&remaker.mu);
    if (on)
        pthread_join(remaker.thread, NULL);
    pthread_mutex_lock(&remaker.mu);
    remaker.on = false;
    pthread_mutex_unlock(&remaker.mu);
}

int rg_event_list_text(rg_app *app, const rg_ctx *ctx, const rg_event_query *q, char **out,
                       size_t *len)
{
    if (!app->cfg->discovery_cache) /* RG_DISCOVERY_CACHE=0: every list runs its query */
        return page_text(app, ctx, q, out, len);
    rg_buf key = {0};
    rg__discovery_key(q, &key);
    if (key.len >= 1024) { /* not worth keeping */
        rg_buf_free(&key);
        return page_text(app, ctx, q, out, len);
    }
    int64_t gen, pgen = 0, made = 0, now = rg_now_ms();
    char *page;
    size_t plen;
    page_lookup(app, key.data, &gen, &page, &plen);
    const char *text = page ? page_parse(page, plen, &pgen, &made) : NULL;
    int64_t age = now > made ? now - made : 0; /* another instance's clock may be ahead */
    bool current = text && pgen == gen && age < DISCOVERY_TTL_MS;
    bool usable = text && age < DISCOVERY_STALE_MS;
    bool remaking = false; /* this caller remakes the page, holding its lock */
    if (!ctx->read_own_writes && (current || usable)) {
        /* A page that is no longer current but still usable is made again
         * by the caller that takes the lock (or the remaker thread, when
         * only its age made it old); the others get it as it is. */
        if (!current) {
            int most = app->cfg->threads / 4 > 1 ? app->cfg->threads / 4 : 1;
            if (atomic_fetch_add(&remakes, 1) < most) {
                char lock[1100];
                snprintf(lock, sizeof lock, "dr:%s", key.data);
                int64_t n = 1;
                remaking =
                    rg_cache_incr(&app->st.cache, lock, 1, DISCOVERY_REMAKE_MS, &n) < 0 || n == 1;
                if (remaking && pgen == gen && remake_queue(q, key.data))
                    remaking = false; /* the remaker has it now, its lock included */
            }
            if (!remaking)
                atomic_fetch_sub(&remakes, 1);
        }
        if (!remaking) {
            page_take(page, plen, text, out, len);
            rg_buf_free(&key);
            return 0;
        }
    }
    free(page);
    int rc = page_make(app, ctx, q, key.data, gen, now, out, len);
    if (remaking) {
        remake_unlock(app, key.data);
        atomic_fetch_sub(&remakes, 1);
    }
    rg_buf_free(&key);
    return rc;
}

int rg_event_list(rg_app *app, const rg_ctx *ctx, const rg_event_query *q, json_t **out)
{
    char *text;
    size_t len;
    int rc = rg_event_list_text(app, ctx, q, &text, &len);
    if (rc < 0)
        return rc;
    *out = json_loadb(text, len, 0, NULL);
    free(text);
    return *out ? 0 : rg_error_set(RG_EINTERNAL, "internal error");
}
