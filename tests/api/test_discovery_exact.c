/* Discovery against a brute-force answer: a few thousand seeded events, every
 * visible one read once, the filters applied here in C, and each filter mix
 * paged through with cursors and compared id by id. Discovery reaches its
 * page three ways (docs/performance.md): a date-order walk, the events of a
 * few venues, the search hits; with words, a walk tested by the search
 * port, or the hits gathered past the walk's reach. The mixes below take
 * all of them (place filters leaving few and many events; words that match
 * a few events and every one of them), with and without every other
 * filter, in date order, by distance and by relevance (the events whose
 * title holds every word, then the others, each part in date order). A
 * word matches as the search port says: the text's words (letters and
 * digits, case folded) in title, description and type, every word of q,
 * the last one as a prefix. */
#include "support.h"
#include "risinggen/base/geo.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_EVENTS  6000
#define MAX_VENUES  400
#define PAGE_LIMIT  7
#define RADIUS_SLOP 0.001 /* km: a venue this close to the radius is not judged */

typedef struct venue {
    long long id;
    char city[64], country[64];
    double lat, lng;
} venue;

typedef struct event {
    long long id;
    char type[32], start[32], end[32];
    long long venue_id;
    bool featured, has_spots;
    char words[700]; /* " w1 w2 … " of title, description and type, lower case */
    char title[300]; /* the same of the title alone */
} event;

typedef struct mix {
    const char *type, *city, *country, *from, *to;
    bool near, has_spots, featured;
    double lat, lng, radius;
    const char *q;  /* words */
    bool relevance; /* sort=relevance: those whose title holds every word, then the rest */
    bool distance;  /* sort=distance (with near): nearest venue first */
    int limit;      /* 0: PAGE_LIMIT */
} mix;

static venue venues[MAX_VENUES];
static int nvenues;
static event events[MAX_EVENTS]; /* every visible event, in discovery's order */
static int nevents;
static long compared; /* events found and compared, over every mix */

static const venue *venue_of(long long id)
{
    for (int i = 0; i < nvenues; i++)
        if (venues[i].id == id)
            return &venues[i];
    return NULL;
}

static void copy_str(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

/* The letter of Latin-1 (UTF-8 C3 xx) without its accent, lower case;
 * 0 for the others. */
static char fold_latin1(unsigned char x)
{
    static const char map[] = "aaaaaaaceeeeiiiidnooooo*ouuuuyts"  /* C3 80..9F */
                              "aaaaaaaceeeeiiiidnooooo/ouuuuyty"; /* C3 A0..BF */
    char c = x >= 0x80 && x <= 0xBF ? map[x - 0x80] : 0;
    return c == '*' || c == '/' || c == 't' || c == 'd' ? 0 : c;
}

/* Appends the words of text (letters and digits, accents of Latin-1
 * removed, lower case) to out as " w1 w2 … " (out starts as " "). */
static void add_words(char *out, size_t cap, const char *text)
{
    size_t n = strlen(out);
    for (const unsigned char *p = (const unsigned char *)(text ? text : ""); *p && n + 2 < cap;) {
        bool in = false;
        for (;;) {
            char c = 0;
            if (isalnum(*p))
                c = (char)tolower(*p), p += 1;
            else if (*p == 0xC3 && p[1] && (c = fold_latin1(p[1])) != 0)
                p += 2;
            if (!c || n + 2 >= cap)
                break;
            out[n++] = c;
            in = true;
        }
        if (in)
            out[n++] = ' ';
        else
            p++;
    }
    out[n] = '\0';
}

/* Whether the words of q are all among words, the last as a prefix. */
static bool matches(const char *words, const char *q)
{
    char qw[300] = " ";
    add_words(qw, sizeof qw, q);
    char *save = NULL, *tok = strtok_r(qw, " ", &save);
    if (!tok)
        return false;
    while (tok) {
        char *next = strtok_r(NULL, " ", &save), pat[80];
        snprintf(pat, sizeof pat, next ? " %s " : " %s", tok);
        if (!strstr(words, pat))
            return false;
        tok = next;
    }
    return true;
}

/* Seeds the data, then reads every visible event through discovery with
 * no filter and every venue they use. */
static int load(void **state)
{
    int rc = api_setup(state);
    if (rc != 0)
        return rc;
    char out[16384];
    rc = srv_cli(&g_srv, out, sizeof out, "seed", "--users", "300", "--venues", "300", "--events",
                 "4000", "--registrations", "9000", "--seed", "31", NULL);
    if (rc != 0) {
        srv_dump_log(&g_srv);
        fail_msg("seed exited %d: %s", rc, out);
    }
    char cursor[256] = "";
    for (;;) {
        api_resp *r = api("GET",
                          fmt("/v1/events?limit=100%s%s", cursor[0] ? "&cursor=" : "",
                              cursor[0] ? urlenc(cursor) : ""),
                          NULL, NULL);
        assert_status(r, 200);
        json_t *items = jget(r->json, "items");
        size_t i;
        json_t *e;
        json_array_foreach(items, i, e)
        {
            assert_true(nevents < MAX_EVENTS);
            event *ev = &events[nevents++];
            ev->id = jint(e, "id");
            copy_str(ev->type, sizeof ev->type, jstr(e, "type"));
            copy_str(ev->start, sizeof ev->start, jstr(e, "startDate"));
            copy_str(ev->end, sizeof ev->end, jstr(e, "endDate"));
            json_t *v = json_object_get(e, "venueId");
            ev->venue_id = json_is_integer(v) ? json_integer_value(v) : 0;
            ev->featured = json_is_true(json_object_get(e, "isFeatured"));
            copy_str(ev->words, sizeof ev->words, " ");
            add_words(ev->words, sizeof ev->words, jstr(e, "title"));
            copy_str(ev->title, sizeof ev->title, " ");
            add_words(ev->title, sizeof ev->title, jstr(e, "title"));
            add_words(ev->words, sizeof ev->words, jstr(e, "description"));
            add_words(ev->words, sizeof ev->words, jstr(e, "type"));
            json_t *spots = json_object_get(e, "spotsLeft");
            ev->has_spots = !json_is_integer(spots) || json_integer_value(spots) > 0;
            if (ev->venue_id && !venue_of(ev->venue_id)) {
                assert_true(nvenues < MAX_VENUES);
                api_resp *vr = api("GET", fmt("/v1/venues/%lld", ev->venue_id), NULL, NULL);
                assert_status(vr, 200);
                venue *vn = &venues[nvenues++];
                vn->id = ev->venue_id;
                copy_str(vn->city, sizeof vn->city, jstr(vr->json, "city"));
                copy_str(vn->country, sizeof vn->country, jstr(vr->json, "country"));
                vn->lat = json_number_value(json_object_get(vr->json, "lat"));
                vn->lng = json_number_value(json_object_get(vr->json, "lng"));
                resp_free(vr);
            }
            const venue *at = ev->venue_id ? venue_of(ev->venue_id) : NULL;
            if (at) { /* the venue's city and country are the event's words too */
                add_words(ev->words, sizeof ev->words, at->city);
                add_words(ev->words, sizeof ev->words, at->country);
            }
        }
        const char *next = jstr(r->json, "nextCursor");
        copy_str(cursor, sizeof cursor, next);
        resp_free(r);
        if (!cursor[0])
            break;
    }
    assert_true(nevents > 2500); /* most of the 4,000 are published and public */
    return 0;
}

/* Whether the mix keeps ev; *unsure when a venue lies on the radius. */
static bool keeps(const mix *m, const event *ev, bool *unsure)
{
    *unsure = false;
    if (m->type && strcmp(ev->type, m->type) != 0)
        return false;
    if (m->from && strcmp(ev->end, m->from) < 0)
        return false;
    if (m->to && strcmp(ev->start, m->to) > 0)
        return false;
    if (m->has_spots && !ev->has_spots)
        return false;
    if (m->featured && !ev->featured)
        return false;
    if (m->q && !matches(ev->words, m->q))
        return false;
    if (m->city || m->country || m->near) {
        const venue *v = ev->venue_id ? venue_of(ev->venue_id) : NULL;
        if (!v)
            return false;
        if (m->city && strcasecmp(v->city, m->city) != 0)
            return false;
        if (m->country && strcasecmp(v->country, m->country) != 0)
            return false;
        if (m->near) {
            double d = rg_distance_km(m->lat, m->lng, v->lat, v->lng);
            if (fabs(d - m->radius) < RADIUS_SLOP)
                *unsure = true;
            if (d > m->radius)
                return false;
        }
    }
    return true;
}

static const char *query_of(const mix *m)
{
    static char q[512];
    int n = snprintf(q, sizeof q, "limit=%d", m->limit ? m->limit : PAGE_LIMIT);
    if (m->q)
        n += snprintf(q + n, sizeof q - (size_t)n, "&q=%s", urlenc(m->q));
    if (m->relevance)
        n += snprintf(q + n, sizeof q - (size_t)n, "&sort=relevance");
    if (m->distance)
        n += snprintf(q + n, sizeof q - (size_t)n, "&sort=distance");
    if (m->type)
        n += snprintf(q + n, sizeof q - (size_t)n, "&type=%s", m->type);
    if (m->city)
        n += snprintf(q + n, sizeof q - (size_t)n, "&city=%s", urlenc(m->city));
    if (m->country)
        n += snprintf(q + n, sizeof q - (size_t)n, "&country=%s", urlenc(m->country));
    if (m->from)
        n += snprintf(q + n, sizeof q - (size_t)n, "&from=%s", m->from);
    if (m->to)
        n += snprintf(q + n, sizeof q - (size_t)n, "&to=%s", m->to);
    if (m->near)
        n += snprintf(q + n, sizeof q - (size_t)n, "&near=%.4f,%.4f&radiusKm=%g", m->lat, m->lng,
                      m->radius);
    if (m->has_spots)
        n += snprintf(q + n, sizeof q - (size_t)n, "&hasSpots=true");
    if (m->featured)
        snprintf(q + n, sizeof q - (size_t)n, "&featured=true");
    return q;
}

/* Nearest first: an event's place in distance order (its venue's
 * distance, then the venue's id, then date order, which is the order of
 * events[]). */
struct placed {
    double km;
    long long venue;
    int at; /* in events[] */
    bool unsure;
};

static int by_distance(const void *a, const void *b)
{
    const struct placed *x = a, *y = b;
    if (x->km != y->km)
        return x->km < y->km ? -1 : 1;
    if (x->venue != y->venue)
        return x->venue < y->venue ? -1 : 1;
    return x->at - y->at;
}

static void check_mix(const mix *asked)
{
    /* The point as the query sends it (4 decimals): distances here and in
     * the service are then of the same point. */
    mix sent = *asked;
    sent.lat = round(sent.lat * 1e4) / 1e4;
    sent.lng = round(sent.lng * 1e4) / 1e4;
    const mix *m = &sent;
    static long long want[MAX_EVENTS];
    static bool unsure_id[MAX_EVENTS];
    static struct placed placed[MAX_EVENTS];
    int nwant = 0;
    for (int i = 0; i < nevents; i++) {
        bool unsure;
        bool keep = keeps(m, &events[i], &unsure);
        if (keep || unsure) {
            const venue *v = m->near ? venue_of(events[i].venue_id) : NULL;
            placed[nwant] = (struct placed){v ? rg_distance_km(m->lat, m->lng, v->lat, v->lng) : 0,
                                            events[i].venue_id, i, unsure};
            unsure_id[nwant] = unsure;
            want[nwant++] = events[i].id;
        }
    }
    if (m->relevance) { /* stable: each part stays in date order */
        int k = 0;
        for (int pass = 0; pass < 2; pass++)
            for (int j = 0; j < nwant; j++)
                if (matches(events[placed[j].at].title, m->q) == (pass == 0)) {
                    want[k] = events[placed[j].at].id;
                    unsure_id[k++] = placed[j].unsure;
                }
    }
    if (m->distance) {
        qsort(placed, (size_t)nwant, sizeof placed[0], by_distance);
        for (int k = 0; k < nwant; k++) {
            want[k] = events[placed[k].at].id;
            unsure_id[k] = placed[k].unsure;
        }
    }
    const char *q = query_of(m);
    char query[512];
    copy_str(query, sizeof query, q);
    char cursor[256] = "";
    int at = 0, pages = 0;
    for (;;) {
        api_resp *r = api("GET",
                          fmt("/v1/events?%s%s%s", query, cursor[0] ? "&cursor=" : "",
                              cursor[0] ? urlenc(cursor) : ""),
                          NULL, NULL);
        assert_status(r, 200);
        json_t *items = jget(r->json, "items");
        assert_true(json_array_size(items) <= (size_t)(m->limit ? m->limit : PAGE_LIMIT));
        size_t i;
        json_t *e;
        json_array_foreach(items, i, e)
        {
            long long id = jint(e, "id");
            while (at < nwant && unsure_id[at] && want[at] != id)
                at++; /* a venue on the radius that the store left out */
            if (at >= nwant || want[at] != id)
                fail_msg("%s: item %d of page %d is event %lld, expected %lld", query, (int)i,
                         pages + 1, id, at < nwant ? want[at] : -1);
            if (m->near) { /* the distance, to the metre */
                json_t *km = json_object_get(e, "distanceKm");
                const venue *v = venue_of(jint(e, "venueId"));
                assert_non_null(v);
                double d = rg_distance_km(m->lat, m->lng, v->lat, v->lng);
                if (!json_is_number(km) || fabs(json_number_value(km) - d) > 0.0006)
                    fail_msg("%s: event %lld is %.4f km away, distanceKm says %.4f", query, id, d,
                             json_number_value(km));
            }
            at++;
            compared++;
        }
        pages++;
        const char *next = jstr(r->json, "nextCursor");
        copy_str(cursor, sizeof cursor, next);
        resp_free(r);
        if (!cursor[0])
            break;
        assert_true(pages <= nevents / (m->limit ? m->limit : PAGE_LIMIT) + 2);
    }
    while (at < nwant && unsure_id[at])
        at++;
    if (at != nwant)
        fail_msg("%s: %d events found of %d", query, at, nwant);
}

/* The most and least common city and country among the venues in use. */
static void extremes(bool cities, const char **most, const char **least)
{
    int best = -1, worst = 1 << 30;
    for (int i = 0; i < nvenues; i++) {
        const char *name = cities ? venues[i].city : venues[i].country;
        int n = 0;
        for (int j = 0; j < nevents; j++) {
            const venue *v = events[j].venue_id ? venue_of(events[j].venue_id) : NULL;
            n += v && strcmp(cities ? v->city : v->country, name) == 0;
        }
        if (n > best) {
            best = n;
            *most = name;
        }
        if (n < worst) {
            worst = n;
            *least = name;
        }
    }
}

static void discovery_equals_brute_force(void **state)
{
    (void)state;
    const char *big_city, *small_city, *big_country, *small_country;
    extremes(true, &big_city, &small_city);
    extremes(false, &big_country, &small_country);
    /* Both ways in through venues: a country with more events than the
     * venue way takes (VENUE_WAY_EVENTS, 500, in discovery.c), a city with
     * few. */
    mix big = {.country = big_country}, small = {.city = small_city};
    int nbig = 0, nsmall = 0;
    for (int i = 0; i < nevents; i++) {
        bool unsure;
        nbig += keeps(&big, &events[i], &unsure);
        nsmall += keeps(&small, &events[i], &unsure);
    }
    if (nbig <= 500 || nsmall >= 100)
        fail_msg("%s holds %d events, %s %d", big_country, nbig, small_city, nsmall);
    const venue *v0 = venue_of(events[nevents / 2].venue_id);
    assert_non_null(v0);
    const char *from = events[nevents / 4].start, *to = events[nevents / 2].end;
    const mix base[] = {
        {0},
        {.type = "camp"},
        {.featured = true},
        {.has_spots = true},
        {.from = from},
        {.to = to},
        {.from = from, .to = to},
        {.city = big_city},
        {.city = small_city},
        {.country = big_country},
        {.country = small_country},
        {.near = true, .lat = v0->lat, .lng = v0->lng, .radius = 5},
        {.near = true, .lat = v0->lat, .lng = v0->lng, .radius = 400},
        {.city = "Atlantis"},
    };
    int checked = 0;
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++) {
        /* Each place mix alone and with the other filters, one and all. */
        mix m = base[i];
        check_mix(&m);
        mix with[] = {m, m, m, m, m};
        with[0].type = "conference";
        with[1].featured = true;
        with[2].has_spots = true;
        with[3].from = from;
        with[3].to = to;
        with[4].type = "camp";
        with[4].featured = true;
        with[4].has_spots = true;
        with[4].from = from;
        for (int k = 0; k < 5; k++)
            check_mix(&with[k]);
        checked += 6;
    }
    assert_int_equal(checked, 84);
    assert_true(compared > 10000);
}

/* Nearest first: around a venue in use, at a small radius and one that
 * holds the whole Earth, alone, with filters and with words. */
static void discovery_by_distance_equals_brute_force(void **state)
{
    (void)state;
    const venue *v0 = venue_of(events[nevents / 2].venue_id);
    assert_non_null(v0);
    const char *from = events[nevents / 4].start;
    double lat = v0->lat, lng = v0->lng;
    const mix base[] = {
        {.near = true, .lat = lat, .lng = lng, .radius = 400},
        {.near = true, .lat = lat, .lng = lng, .radius = 20000, .limit = 60},
        {.near = true,
         .lat = -lat,
         .lng = lng > 0 ? lng - 180 : lng + 180,
         .radius = 20000,
         .limit = 60},
    };
    int checked = 0;
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++) {
        mix m = base[i];
        m.distance = true;
        mix with[] = {m, m, m, m, m, m};
        with[1].type = "camp";
        with[2].has_spots = true;
        with[2].from = from;
        with[3].q = "youth";
        with[4].q = "lunch";
        with[4].featured = true;
        with[5].q = "zurich"; /* rare and far: more than a walk tests */
        for (size_t k = 0; k < sizeof with / sizeof with[0]; k++) {
            check_mix(&with[k]);
            checked++;
        }
    }
    assert_int_equal(checked, 18);
    /* A distance cursor is not a date cursor. */
    api_resp *r =
        api("GET",
            fmt("/v1/events?near=%.4f,%.4f&radiusKm=400&sort=distance&limit=1", v0->lat, v0->lng),
            NULL, NULL);
    assert_status(r, 200);
    char cursor[256];
    copy_str(cursor, sizeof cursor, jstr(r->json, "nextCursor"));
    resp_free(r);
    assert_true(cursor[0]);
    r = api(
        "GET",
        fmt("/v1/events?near=%.4f,%.4f&radiusKm=400&cursor=%s", v0->lat, v0->lng, urlenc(cursor)),
        NULL, NULL);
    assert_problem(r, 400);
    resp_free(r);
}

/* How many visible events the words of q match. */
static int count_matching(const char *q)
{
    int n = 0;
    for (int i = 0; i < nevents; i++)
        n += matches(events[i].words, q);
    return n;
}

static void discovery_with_words_equals_brute_force(void **state)
{
    (void)state;
    /* Words every event holds ("lunch": more hits than any cut of the
     * search's answer would keep), a common title word, two words, a
     * prefix as typed, a rare word, and one that matches nothing. */
    const char *words[] = {"lunch", "youth",  "summer camp", "youth conf", "worksh", "girls",
                           "zzzyx", "london", "youth uk",    "camp germ",  "zurich", "Zürich"};
    int all = count_matching("lunch");
    printf("# %d visible events; \"lunch\" matches %d, \"youth\" %d, \"summer camp\" %d, "
           "\"london\" %d, \"zurich\" %d\n",
           nevents, all, count_matching("youth"), count_matching("summer camp"),
           count_matching("london"), count_matching("zurich"));
    assert_true(count_matching("london") > 0); /* a venue's city finds its events */
    assert_int_equal(all, nevents);
    assert_true(all > 1000);
    assert_true(count_matching("worksh") > 0 && count_matching("zzzyx") == 0);
    const char *from = events[nevents / 4].start, *to = events[nevents / 2].end;
    const venue *v0 = venue_of(events[nevents / 2].venue_id);
    assert_non_null(v0);
    int checked = 0;
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        mix m = {.q = words[i], .limit = 50};
        mix with[] = {m, m, m, m, m, m, m, m};
        with[1].type = "camp";
        with[2].to = to;
        with[3].from = from;
        with[3].has_spots = true;
        with[4].featured = true;
        with[5].near = true;
        with[5].lat = v0->lat;
        with[5].lng = v0->lng;
        with[5].radius = 400;
        with[6].relevance = true;
        with[7].relevance = true;
        with[7].type = "camp";
        with[7].from = from;
        for (size_t k = 0; k < sizeof with / sizeof with[0]; k++) {
            check_mix(&with[k]);
            checked++;
        }
    }
    assert_int_equal(checked, 96);
    /* By relevance, a title that holds both words comes first. */
    api_resp *r = api("GET", "/v1/events?q=summer%20camp&sort=relevance&limit=5", NULL, NULL);
    assert_status(r, 200);
    char first[700] = " ";
    add_words(first, sizeof first, jstr(r->json, "items.0.title"));
    assert_true(strstr(first, " summer ") && strstr(first, " camp "));
    resp_free(r);
    /* A cursor holds to its sort; relevance needs words. */
    r = api("GET", "/v1/events?sort=relevance", NULL, NULL);
    assert_problem(r, 400);
    resp_free(r);
    r = api("GET", "/v1/events?q=youth&sort=size", NULL, NULL);
    assert_problem(r, 400);
    resp_free(r);
    r = api("GET", "/v1/events?q=youth&limit=2", NULL, NULL);
    assert_status(r, 200);
    char cursor[256];
    copy_str(cursor, sizeof cursor, jstr(r->json, "nextCursor"));
    resp_free(r);
    assert_true(cursor[0]);
    r = api("GET", fmt("/v1/events?q=youth&sort=relevance&cursor=%s", urlenc(cursor)), NULL, NULL);
    assert_problem(r, 400);
    resp_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(discovery_equals_brute_force),
        cmocka_unit_test(discovery_with_words_equals_brute_force),
        cmocka_unit_test(discovery_by_distance_equals_brute_force),
    };
    return cmocka_run_group_tests(tests, load, api_teardown);
}
