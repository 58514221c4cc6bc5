/* Synthetic data for demos and benchmarks, shaped like a real platform's
 * (docs/design/bench-dataset.md): people, venues in 60 cities, events with
 * skewed popularity and capacity, registrations in every state. Everything
 * goes through the domain functions the routes call, so the data obeys the
 * same rules. Workers own the events whose index is congruent to theirs
 * modulo the number of workers, with their registrations. */
#include "risinggen/domain/registrations.h"
#include "risinggen/domain/payments.h"
#include "risinggen/domain/events.h"
#include "risinggen/domain/venues.h"
#include "risinggen/domain/auth.h"
#include "risinggen/domain/seed.h"
#include "domain.h"
#include "risinggen/base/alloc.h"
#include "risinggen/base/clock.h"
#include "risinggen/base/id.h"
#include "risinggen/base/error.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t next(uint64_t *s) /* splitmix64 */
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int pick(uint64_t *s, int n)
{
    return (int)(next(s) % (uint64_t)n);
}

static double unit(uint64_t *s) /* [0, 1) */
{
    return (double)(next(s) >> 11) / 9007199254740992.0;
}

#define N_ELEMS(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const char *const first_names[] = {
    "Amara",  "Ben",  "Chloe", "Daniel", "Esther", "Felix",  "Grace", "Hugo",  "Isla",
    "Joseph", "Kemi", "Liam",  "Maya",   "Noah",   "Olivia", "Peter", "Ruth",  "Samuel",
    "Tomás",  "Ana",  "Chidi", "Yuki",   "Mateo",  "Sofía",  "Lukas", "Emeka", "Zara"};
static const char *const last_names[] = {
    "Adeyemi", "Brown",   "Clarke", "Davies", "Evans",  "Fischer",  "Green",  "Hughes",
    "Ito",     "Johnson", "Khan",   "Lopez",  "Mensah", "Nowak",    "Okafor", "Silva",
    "Müller",  "Kim",     "Tanaka", "Rossi",  "Dubois", "Kowalski", "Mwangi"};

/* Weight: the share of venues (and so of events) in the city. */
static const struct city {
    const char *city, *country, *currency;
    double lat, lng;
    int weight;
} cities[] = {
    {"London", "UK", "GBP", 51.5074, -0.1278, 60},
    {"Manchester", "UK", "GBP", 53.4808, -2.2426, 20},
    {"Birmingham", "UK", "GBP", 52.4862, -1.8904, 18},
    {"Leeds", "UK", "GBP", 53.8008, -1.5491, 10},
    {"Liverpool", "UK", "GBP", 53.4084, -2.9916, 10},
    {"Bristol", "UK", "GBP", 51.4545, -2.5879, 9},
    {"Edinburgh", "UK", "GBP", 55.9533, -3.1883, 10},
    {"Glasgow", "UK", "GBP", 55.8642, -4.2518, 10},
    {"Cardiff", "UK", "GBP", 51.4816, -3.1791, 8},
    {"Belfast", "UK", "GBP", 54.5973, -5.9301, 7},
    {"Dublin", "Ireland", "EUR", 53.3498, -6.2603, 12},
    {"Cork", "Ireland", "EUR", 51.8985, -8.4756, 4},
    {"Paris", "France", "EUR", 48.8566, 2.3522, 25},
    {"Lyon", "France", "EUR", 45.764, 4.8357, 8},
    {"Berlin", "Germany", "EUR", 52.52, 13.405, 18},
    {"Hamburg", "Germany", "EUR", 53.5511, 9.9937, 8},
    {"München", "Germany", "EUR", 48.1351, 11.582, 8},
    {"Frankfurt", "Germany", "EUR", 50.1109, 8.6821, 7},
    {"Zürich", "Switzerland", "CHF", 47.3769, 8.5417, 6},
    {"Genève", "Switzerland", "CHF", 46.2044, 6.1432, 4},
    {"Madrid", "Spain", "EUR", 40.4168, -3.7038, 14},
    {"Barcelona", "Spain", "EUR", 41.3874, 2.1686, 12},
    {"Lisboa", "Portugal", "EUR", 38.7223, -9.1393, 8},
    {"Roma", "Italy", "EUR", 41.9028, 12.4964, 10},
    {"Milano", "Italy", "EUR", 45.4642, 9.19, 9},
    {"Amsterdam", "Netherlands", "EUR", 52.3676, 4.9041, 9},
    {"Brussels", "Belgium", "EUR", 50.8503, 4.3517, 7},
    {"Stockholm", "Sweden", "SEK", 59.3293, 18.0686, 7},
    {"Oslo", "Norway", "NOK", 59.9139, 10.7522, 6},
    {"København", "Denmark", "DKK", 55.6761, 12.5683, 6},
    {"Warszawa", "Poland", "PLN", 52.2297, 21.0122, 8},
    {"Kraków", "Poland", "PLN", 50.0647, 19.945, 5},
    {"Praha", "Czechia", "CZK", 50.0755, 14.4378, 6},
    {"Wien", "Austria", "EUR", 48.2082, 16.3738, 7},
    {"Lagos", "Nigeria", "NGN", 6.5244, 3.3792, 30},
    {"Abuja", "Nigeria", "NGN", 9.0765, 7.3986, 10},
    {"Accra", "Ghana", "GHS", 5.6037, -0.187, 15},
    {"Nairobi", "Kenya", "KES", -1.2921, 36.8219, 14},
    {"Kampala", "Uganda", "UGX", 0.3476, 32.5825, 8},
    {"Johannesburg", "South Africa", "ZAR", -26.2041, 28.0473, 12},
    {"Cape Town", "South Africa", "ZAR", -33.9249, 18.4241, 9},
    {"New York", "USA", "USD", 40.7128, -74.006, 25},
    {"Los Angeles", "USA", "USD", 34.0522, -118.2437, 20},
    {"Chicago", "USA", "USD", 41.8781, -87.6298, 12},
    {"Salt Lake City", "USA", "USD", 40.7608, -111.891, 18},
    {"Toronto", "Canada", "CAD", 43.6532, -79.3832, 12},
    {"Vancouver", "Canada", "CAD", 49.2827, -123.1207, 7},
    {"Ciudad de México", "Mexico", "MXN", 19.4326, -99.1332, 16},
    {"São Paulo", "Brazil", "BRL", -23.5505, -46.6333, 20},
    {"Rio de Janeiro", "Brazil", "BRL", -22.9068, -43.1729, 12},
    {"Buenos Aires", "Argentina", "ARS", -34.6037, -58.3816, 12},
    {"Santiago", "Chile", "CLP", -33.4489, -70.6693, 9},
    {"Lima", "Peru", "PEN", -12.0464, -77.0428, 10},
    {"Bogotá", "Colombia", "COP", 4.711, -74.0721, 9},
    {"Manila", "Philippines", "PHP", 14.5995, 120.9842, 18},
    {"Tokyo", "Japan", "JPY", 35.6762, 139.6503, 10},
    {"Seoul", "South Korea", "KRW", 37.5665, 126.978, 8},
    {"Sydney", "Australia", "AUD", -33.8688, 151.2093, 12},
    {"Melbourne", "Australia", "AUD", -37.8136, 144.9631, 9},
    {"Auckland", "New Zealand", "NZD", -36.8485, 174.7633, 7},
};

static const char *const prefixes[] = {"Summer",      "Winter",   "Spring",   "Autumn",   "Easter",
                                       "Harvest",     "New Year", "Regional", "National", "City",
                                       "Young Adult", "Youth",    "Family",   "Weekend"};
static const struct topic {
    const char *name, *type;
    int min_hours, max_hours;
} topics[] = {{"Youth Conference", "conference", 8, 56},
              {"Leadership Conference", "conference", 8, 56},
              {"Music Festival", "conference", 6, 48},
              {"Youth Camp", "camp", 48, 144},
              {"Adventure Camp", "camp", 48, 144},
              {"Girls Camp", "camp", 72, 120},
              {"Leadership Retreat", "retreat", 24, 72},
              {"Devotional", "devotional", 1, 2},
              {"Fireside", "devotional", 1, 2},
              {"Service Project", "service", 3, 8},
              {"Food Bank Day", "service", 4, 8},
              {"Dance", "dance", 3, 5},
              {"Ball", "dance", 4, 6},
              {"Sports Day", "sports", 5, 9},
              {"Football Tournament", "sports", 5, 10},
              {"Basketball League", "sports", 3, 6},
              {"Hiking Trip", "sports", 6, 30},
              {"Choir Workshop", "workshop", 3, 6},
              {"Art Workshop", "workshop", 2, 5},
              {"Career Workshop", "workshop", 2, 4}};
static const char *const activities[] = {
    "talks",     "music",   "games",         "service",    "worship",         "hiking",
    "swimming",  "dancing", "sports",        "art",        "scripture study", "leadership training",
    "workshops", "drama",   "a talent show", "a barbecue", "campfires",       "photography"};

static void seed_oid(unsigned seed, unsigned kind, int i, char out[RG_OID_LEN + 1])
{
    snprintf(out, RG_OID_LEN + 1, "5eed%04x%02x%014x", seed & 0xffff, kind & 0xff, (unsigned)i);
}

enum ev_state { EV_DRAFT, EV_PUBLIC, EV_PRIVATE, EV_CANCELLED };

typedef struct seed_event {
    int64_t id;     /* 0 until created (or when creation was refused) */
    int capacity;   /* maxParticipants */
    int organizer;  /* index of the organizing person */
    int rank;       /* popularity rank among events open to everyone, else -1 */
    int demand;     /* registrations to make */
    int first_user; /* the k-th registrant is first_user + k * stride (mod users) */
    uint8_t state;  /* enum ev_state */
    bool paid, waitlist, soon;
} seed_event;

enum { N_STATUS = 5 }; /* confirmed pending waitlisted cancelled checked-in */
static const char *const status_names[N_STATUS] = {"confirmed", "pending", "waitlisted",
                                                   "cancelled", "checked in"};

typedef struct seed_run {
    rg_app *app;
    const rg_seed_opts *o;
    int jobs;
    char (*uids)[RG_OID_LEN + 1];
    int64_t *venues;
    seed_event *ev;
    const char *hash; /* every person's password hash */
    int *venue_city;  /* index in cities[] of each venue */
    int stride;       /* coprime with o->users */
    int64_t base_t;   /* the first day events may start */
    /* progress of the current phase, and what it made */
    atomic_long done, made, refused, payments;
    atomic_long status[N_STATUS];
    /* the first failure stops every worker */
    atomic_bool stop;
    pthread_mutex_t mu;
    int rc;
    char why[256];
} seed_run;

static void fail_with(seed_run *run, int rc)
{
    pthread_mutex_lock(&run->mu);
    if (run->rc == 0) {
        run->rc = rc;
        snprintf(run->why, sizeof run->why, "%s", rg_error_detail());
    }
    pthread_mutex_unlock(&run->mu);
    atomic_store(&run->stop, true);
}

static rg_ctx ctx_of(const seed_run *run, int user, unsigned roles)
{
    rg_principal p = {.roles = roles};
    snprintf(p.user_id, sizeof p.user_id, "%s", run->uids[user]);
    return rg_ctx_for(&p);
}

static void make_people(seed_run *run, int w)
{
    const rg_seed_opts *o = run->o;
    for (int i = w; i < o->users && !atomic_load(&run->stop); i += run->jobs) {
        uint64_t s = o->seed * 0x100000001b3ull + (uint64_t)i; /* one stream per person */
        char email[96], dob[40], now[RG_TIME_LEN + 1];
        snprintf(email, sizeof email, "user%d.%u@example.org", i, o->seed);
        int age = 14 + pick(&s, 20);
        snprintf(dob, sizeof dob, "%04d-%02d-%02d", 2026 - age, 1 + pick(&s, 12), 1 + pick(&s, 28));
        rg_time_format(rg_now(), now);
        json_t *roles = i % 10 == 0 ? json_pack("[s,s]", "participant", "organizer")
                                    : json_pack("[s]", "participant");
        json_t *user = json_pack(
            "{s:i, s:s, s:s, s:s, s:s, s:o, s:{s:s, s:{s:b, s:b, s:b}, s:{s:b, s:b}}, s:s, s:n}",
            "schemaVersion", USER_SCHEMA_VERSION, "email", email, "firstName",
            first_names[pick(&s, N_ELEMS(first_names))], "lastName",
            last_names[pick(&s, N_ELEMS(last_names))], "dateOfBirth", dob, "roles", roles,
            "preferences", "language", "en", "notifications", "email", 1, "push", 1, "sms", 0,
            "privacy", "shareContact", 0, "shareProfile", 1, "created", now, "lastLogin");
        int rc = rg_auth_insert_user(run->app, user, run->hash, run->uids[i]);
        json_decref(user);
        if (rc == RG_ECONFLICT) { /* seeded before */
            rg_error_clear();
        } else if (rc < 0) {
            fail_with(run, rc);
            return;
        } else {
            atomic_fetch_add(&run->made, 1);
        }
        atomic_fetch_add(&run->done, 1);
    }
}

/* The event's shape, drawn from its own stream (so it does not depend on
 * which worker makes it). */
static json_t *event_body(seed_run *run, int i, seed_event *e)
{
    const rg_seed_opts *o = run->o;
    uint64_t s = o->seed * 0x9e3779b97f4a7c15ull + (uint64_t)i * 0x632be59bd9b4e019ull;
    int roll = pick(&s, 100);
    e->state = roll < 80 ? EV_PUBLIC : roll < 88 ? EV_DRAFT : roll < 95 ? EV_PRIVATE : EV_CANCELLED;
    e->organizer = 10 * pick(&s, (o->users + 9) / 10);
    e->capacity = 20 + (int)(1980.0 * pow(unit(&s), 6.0));
    e->paid = pick(&s, 5) == 0;
    e->waitlist = pick(&s, 10) < 4;
    e->rank = -1;
    const struct topic *t = &topics[pick(&s, N_ELEMS(topics))];
    int venue = o->venues ? pick(&s, o->venues) : -1;
    char title[160], slug[64], desc[400], start[RG_TIME_LEN + 1], end[RG_TIME_LEN + 1];
    int shape = pick(&s, 4);
    const char *prefix = prefixes[pick(&s, N_ELEMS(prefixes))];
    if (shape == 0)
        snprintf(title, sizeof title, "%s", t->name);
    else if (shape == 1)
        snprintf(title, sizeof title, "%s %s", prefix, t->name);
    else
        snprintf(title, sizeof title, "%s %s %d", prefix, t->name, i % 97 + 1);
    snprintf(slug, sizeof slug, "seed-%u-event-%d", o->seed, i);
    const char *a1 = activities[pick(&s, N_ELEMS(activities))];
    const char *a2 = activities[pick(&s, N_ELEMS(activities))];
    int lo = 12 + pick(&s, 6);
    snprintf(desc, sizeof desc,
             "A %s for young people aged %d to %d: %s, %s and new friends. Bring a packed "
             "lunch and comfortable shoes.",
             t->type, lo, lo + 4 + pick(&s, 14), a1, a2);
    int64_t st = run->base_t + (int64_t)pick(&s, 730) * 86400 + (int64_t)(8 + pick(&s, 12)) * 3600;
    e->soon = st < run->base_t + 30 * 86400;
    rg_time_format(st, start);
    rg_time_format(st + 3600 * (t->min_hours + pick(&s, t->max_hours - t->min_hours + 1)), end);
    json_t *body = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:b, s:b, s:b, s:i}", "title",
                             title, "slug", slug, "description", desc, "startDate", start,
                             "endDate", end, "type", t->type, "maxParticipants", e->capacity,
                             "isFeatured", pick(&s, 20) == 0, "waitlistEnabled", e->waitlist,
                             "isPublic", e->state != EV_PRIVATE, "holdMinutes", 7 * 24 * 60);
    if (venue >= 0)
        json_object_set_new(body, "venueId", json_integer(run->venues[venue]));
    if (e->paid) {
        const char *cur = venue >= 0 ? cities[run->venue_city[venue]].currency : "GBP";
        char amount[32];
        snprintf(amount, sizeof amount, "%d.%02d", 5 + pick(&s, 146), pick(&s, 4) * 25);
        json_object_set_new(body, "cost",
                            json_pack("{s:s, s:s}", "amount", amount, "currency", cur));
    }
    return body;
}

static int set_status(seed_run *run, const seed_event *e, const char *status)
{
    char id[32];
    snprintf(id, sizeof id, "%lld", (long long)e->id);
    rg_ctx org = ctx_of(run, e->organizer, RG_ROLE_ORGANIZER);
    json_t *patch = json_pack("{s:s}", "status", status), *out = NULL;
    int rc = rg_event_patch(run->app, &org, id, patch, &out);
    json_decref(patch);
    json_decref(out);
    return rc;
}

static void make_events(seed_run *run, int w)
{
    for (int i = w; i < run->o->events && !atomic_load(&run->stop); i += run->jobs) {
        seed_event *e = &run->ev[i];
        json_t *body = event_body(run, i, e), *out = NULL;
        rg_ctx org = ctx_of(run, e->organizer, RG_ROLE_ORGANIZER);
        int rc = rg_event_create(run->app, &org, body, &out);
        json_decref(body);
        if (rc == RG_ECONFLICT) { /* the slug exists: seeded before */
            rg_error_clear();
            e->state = EV_DRAFT;
        } else if (rc < 0) {
            fail_with(run, rc);
            return;
        } else {
            e->id = json_integer_value(json_object_get(out, "id"));
            json_decref(out);
            atomic_fetch_add(&run->made, 1);
            if (e->state != EV_DRAFT && (rc = set_status(run, e, "published")) < 0) {
                fail_with(run, rc);
                return;
            }
        }
        atomic_fetch_add(&run->done, 1);
    }
}

/* The most registrations an event can take: its places, a tenth more on a
 * waiting list, and never more than there are people. */
static int limit_of(const seed_event *e, int users)
{
    int lim = e->capacity + (e->waitlist ? e->capacity / 10 : 0);
    return lim < users ? lim : users;
}

/* Ranks the events that everyone may register for at random and gives each
 * a demand falling with its rank (Zipf, exponent 0.9), cut at its capacity
 * (a tenth more where a waiting list takes the rest); what the cut removes
 * is spread over the others, a few times over, so that the total is about
 * the registrations asked for. Private and draft events get none (nobody
 * but their organizer sees them); events to be cancelled keep theirs. */
static void plan_demand(seed_run *run, uint64_t *s)
{
    const rg_seed_opts *o = run->o;
    int n = 0;
    int *open = rg_xcalloc((size_t)o->events + 1, sizeof *open);
    for (int i = 0; i < o->events; i++)
        if (run->ev[i].id && (run->ev[i].state == EV_PUBLIC || run->ev[i].state == EV_CANCELLED))
            open[n++] = i;
    for (int i = n - 1; i > 0; i--) { /* Fisher-Yates: the rank is independent of the index */
        int j = pick(s, i + 1), t = open[i];
        open[i] = open[j], open[j] = t;
    }
    double *want = rg_xcalloc((size_t)n + 1, sizeof *want);
    for (int r = 0; r < n; r++) {
        run->ev[open[r]].rank = r;
        want[r] = 1.0 / pow(r + 1.0, 0.9);
    }
    double left = o->users ? o->registrations : 0;
    for (int pass = 0; pass < 8 && left >= 1; pass++) {
        double total = 0;
        for (int r = 0; r < n; r++) {
            const seed_event *e = &run->ev[open[r]];
            if (want[r] > 0 && e->demand < limit_of(e, o->users))
                total += want[r];
        }
        if (total <= 0)
            break;
        double given = 0;
        for (int r = 0; r < n; r++) {
            seed_event *e = &run->ev[open[r]];
            int lim = limit_of(e, o->users);
            if (e->demand >= lim)
                continue;
            int add = (int)(left * want[r] / total + unit(s));
            if (add > lim - e->demand)
                add = lim - e->demand;
            e->demand += add;
            given += add;
        }
        left -= given;
        if (given == 0)
            break;
    }
    for (int i = 0; i < o->events; i++)
        run->ev[i].first_user = o->users ? pick(s, o->users) : 0;
    free(want);
    free(open);
}

static int status_index(const char *status)
{
    for (int i = 0; i < N_STATUS; i++)
        if (strcmp(status, status_names[i]) == 0)
            return i;
    return -1;
}

/* The k-th registration of event i and what follows it: a recorded payment
 * for most unpaid holds, a cancellation now and then, a check-in for half
 * of those confirmed for an event of the next 30 days. */
static int register_one(seed_run *run, int i, int k)
{
    const rg_seed_opts *o = run->o;
    seed_event *e = &run->ev[i];
    uint64_t s = (o->seed * 0xd1b54a32d192ed03ull) ^ ((uint64_t)i << 24) ^ (uint64_t)k;
    next(&s);
    int user = (int)(((int64_t)e->first_user + (int64_t)k * run->stride) % o->users);
    rg_ctx me = ctx_of(run, user, RG_ROLE_PARTICIPANT);
    rg_ctx org = ctx_of(run, e->organizer, RG_ROLE_ORGANIZER);
    char eid[32], rid[32];
    snprintf(eid, sizeof eid, "%lld", (long long)e->id);
    json_t *body = json_pack("{s:s, s:o}", "dietaryRequirements", pick(&s, 6) ? "" : "vegetarian",
                             "guardianConsent",
                             json_pack("{s:s, s:s, s:s, s:s}", "guardianName", "A Parent",
                                       "guardianEmail", "parent@example.org", "relationship",
                                       "parent", "consentedAt", "2026-01-01T00:00:00Z"));
    json_t *out = NULL;
    int rc = rg_registration_create(run->app, &me, eid, body, &out);
    json_decref(body);
    if (rc == RG_EFULL || rc == RG_EALREADY) { /* the rules refused it */
        rg_error_clear();
        atomic_fetch_add(&run->refused, 1);
        return 0;
    }
    if (rc < 0)
        return rc;
    snprintf(rid, sizeof rid, "%lld", (long long)json_integer_value(json_object_get(out, "id")));
    int st = status_index(json_string_value(json_object_get(out, "status")));
    json_decref(out);
    atomic_fetch_add(&run->made, 1);
    if (st == 1 && pick(&s, 5) != 0) { /* pending: the organizer records the payment */
        char key[48];
        snprintf(key, sizeof key, "seed-%u-%s", o->seed, rid);
        json_t *pay =
            json_pack("{s:I, s:s, s:s}", "registrationId", (json_int_t)strtoll(rid, NULL, 10),
                      "paymentMethod", "cash", "provider", "manual");
        rg_saved_reply reply;
        rc = rg_payment_create(run->app, &org, key, pay, &reply);
        json_decref(pay);
        free(reply.body);
        if (rc < 0)
            return rc;
        atomic_fetch_add(&run->payments, 1);
        st = 0;
    }
    if (pick(&s, 100) < 6) {
        json_t *why = json_pack("{s:s}", "reason", "plans changed");
        rc = rg_registration_cancel(run->app, &me, rid, why, &out);
        json_decref(why);
        if (rc < 0)
            return rc;
        json_decref(out);
        st = 3;
    } else if (st == 0 && e->soon && pick(&s, 2) == 0) {
        if ((rc = rg_registration_check_in(run->app, &org, rid, &out)) < 0)
            return rc;
        json_decref(out);
        st = 4;
    }
    if (st >= 0)
        atomic_fetch_add(&run->status[st], 1);
    return 0;
}

static void make_registrations(seed_run *run, int w)
{
    const rg_seed_opts *o = run->o;
    size_t n = 0;
    for (int i = w; i < o->events; i += run->jobs)
        n += (size_t)run->ev[i].demand;
    /* One entry per registration to make, naming its event, shuffled:
     * events fill side by side, as they do in life. */
    int *t = rg_xcalloc(n + 1, sizeof *t);
    size_t m = 0;
    for (int i = w; i < o->events; i += run->jobs)
        for (int k = 0; k < run->ev[i].demand; k++)
            t[m++] = i;
    uint64_t s = o->seed * 0xa0761d6478bd642full + (uint64_t)w;
    for (size_t a = m; a > 1; a--) {
        size_t b = next(&s) % a;
        int x = t[a - 1];
        t[a - 1] = t[b], t[b] = x;
    }
    int *seen = rg_xcalloc((size_t)o->events + 1, sizeof *seen);
    for (size_t a = 0; a < m && !atomic_load(&run->stop); a++) {
        int i = t[a];
        int rc = register_one(run, i, seen[i]++);
        if (rc < 0) {
            fail_with(run, rc);
            break;
        }
        atomic_fetch_add(&run->done, 1);
    }
    /* Cancelled events: after their registrations, as organizers do. */
    for (int i = w; i < o->events && !atomic_load(&run->stop); i += run->jobs) {
        if (run->ev[i].state != EV_CANCELLED || !run->ev[i].id)
            continue;
        int rc = set_status(run, &run->ev[i], "cancelled");
        if (rc < 0) {
            fail_with(run, rc);
            break;
        }
    }
    free(seen);
    free(t);
}

typedef struct worker {
    seed_run *run;
    int w;
    void (*fn)(seed_run *, int);
    pthread_mutex_t *mu;
    pthread_cond_t *cv;
    int *running;
} worker;

static void *worker_main(void *arg)
{
    worker *wk = arg;
    wk->fn(wk->run, wk->w);
    rg_error_clear();
    pthread_mutex_lock(wk->mu);
    --*wk->running;
    pthread_cond_signal(wk->cv);
    pthread_mutex_unlock(wk->mu);
    return NULL;
}

/* Runs fn on run->jobs workers and reports the progress of what every 2 s
 * until they finish. */
static int run_phase(seed_run *run, const char *what, long total, void (*fn)(seed_run *, int),
                     FILE *progress)
{
    atomic_store(&run->done, 0);
    atomic_store(&run->made, 0);
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cv;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&cv, &ca);
    pthread_condattr_destroy(&ca);
    int running = run->jobs;
    worker *wk = rg_xcalloc((size_t)run->jobs, sizeof *wk);
    pthread_t *th = rg_xcalloc((size_t)run->jobs, sizeof *th);
    int64_t t0 = rg_mono_ms();
    for (int w = 0; w < run->jobs; w++) {
        wk[w] = (worker){run, w, fn, &mu, &cv, &running};
        if (pthread_create(&th[w], NULL, worker_main, &wk[w]) != 0)
            abort();
    }
    pthread_mutex_lock(&mu);
    while (running > 0) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += 2;
        if (pthread_cond_timedwait(&cv, &mu, &until) == ETIMEDOUT && progress) {
            long d = atomic_load(&run->done);
            double secs = (double)(rg_mono_ms() - t0) / 1000.0;
            fprintf(progress, "  %s: %ld of %ld (%.0f/s)\n", what, d, total, d / secs);
            fflush(progress);
        }
    }
    pthread_mutex_unlock(&mu);
    for (int w = 0; w < run->jobs; w++)
        pthread_join(th[w], NULL);
    pthread_cond_destroy(&cv);
    free(th);
    free(wk);
    if (progress) {
        double secs = (double)(rg_mono_ms() - t0) / 1000.0;
        fprintf(progress, "  %s: %ld in %.1f s\n", what, atomic_load(&run->done), secs);
        fflush(progress);
    }
    if (run->rc < 0)
        return rg_error_set(run->rc, "seeding %s: %s", what, run->why);
    return 0;
}

static int gcd(int a, int b)
{
    while (b) {
        int t = a % b;
        a = b, b = t;
    }
    return a;
}

/* Venues: one in each city first, then in cities drawn by weight, within
 * about 10 km of the centre (0.09 degrees of latitude either way). */
static int make_venues(seed_run *run, uint64_t *s, FILE *report)
{
    const rg_seed_opts *o = run->o;
    int total = 0;
    for (int c = 0; c < N_ELEMS(cities); c++)
        total += cities[c].weight;
    rg_ctx org = ctx_of(run, 0, RG_ROLE_ORGANIZER | RG_ROLE_ADMIN);
    for (int v = 0; v < o->venues; v++) {
        int ci = v;
        if (v >= N_ELEMS(cities)) {
            int x = pick(s, total);
            for (ci = 0; (x -= cities[ci].weight) >= 0;)
                ci++;
        }
        run->venue_city[v] = ci;
        const struct city *c = &cities[ci];
        double dlat = (unit(s) - 0.5) * 0.18,
               dlng = (unit(s) - 0.5) * 0.18 / cos(c->lat * M_PI / 180);
        char name[128], street[64];
        static const char *const kinds[] = {
            "Hall",          "Chapel",     "Centre",           "Community Hall",
            "Sports Centre", "Campground", "Conference Centre"};
        snprintf(name, sizeof name, "%s %s %d", c->city, kinds[pick(s, N_ELEMS(kinds))], v + 1);
        snprintf(street, sizeof street, "%d Chapel Street", 1 + pick(s, 200));
        json_t *body =
            json_pack("{s:s, s:s, s:s, s:s, s:f, s:f, s:i}", "name", name, "street", street, "city",
                      c->city, "country", c->country, "lat", c->lat + dlat, "lng", c->lng + dlng,
                      "capacity", 50 + pick(s, 2000));
        json_t *out;
        int rc = rg_venue_create(run->app, &org, body, &out);
        json_decref(body);
        if (rc < 0)
            return rc;
        run->venues[v] = json_integer_value(json_object_get(out, "id"));
        json_decref(out);
    }
    fprintf(report, "venues: %d in %d cities\n", o->venues,
            o->venues < N_ELEMS(cities) ? o->venues : N_ELEMS(cities));
    return 0;
}

static int domain_events_and_registrations(seed_run *run, uint64_t *s, FILE *report)
{
    const rg_seed_opts *o = run->o;
    int rc;
    if ((rc = run_phase(run, "events", o->events, make_events, report)) < 0)
        return rc;
    int by_state[4] = {0};
    for (int i = 0; i < o->events; i++)
        if (run->ev[i].id)
            by_state[run->ev[i].state]++;
    fprintf(report,
            "events: %ld new (%d published for everyone, %d private, %d drafts, %d to be "
            "cancelled after their registrations)\n",
            atomic_load(&run->made), by_state[EV_PUBLIC], by_state[EV_PRIVATE], by_state[EV_DRAFT],
            by_state[EV_CANCELLED]);

    plan_demand(run, s);
    long planned = 0;
    int full = 0;
    for (int i = 0; i < o->events; i++) {
        planned += run->ev[i].demand;
        full += run->ev[i].demand > 0 && run->ev[i].demand >= run->ev[i].capacity;
    }
    fprintf(report, "registrations planned: %ld (%d events asked for at least their places)\n",
            planned, full);
    if ((rc = run_phase(run, "registrations", planned, make_registrations, report)) < 0)
        return rc;
    fprintf(report, "registrations: %ld (as the seed left each: ", atomic_load(&run->made));
    for (int st = 0; st < N_STATUS; st++)
        fprintf(report, "%s%ld %s", st ? ", " : "", atomic_load(&run->status[st]),
                status_names[st]);
    fprintf(report, "; %ld payments recorded; %ld refused by the rules)\n",
            atomic_load(&run->payments), atomic_load(&run->refused));

    return 0;
}

/* The bulk path (docs/design/bulk-seed.md): the same events and the same
 * registrations, decided in memory from the same random draws, loaded
 * straight into the tables with the relational port's load (COPY on
 * PostgreSQL), then checked against the rules the domain keeps. */

enum { BR_CONFIRMED, BR_PENDING, BR_WAITLISTED, BR_CANCELLED };
static const char *const br_names[] = {"confirmed", "pending", "waitlisted", "cancelled"};

typedef struct bulk_reg {
    int user;
    uint8_t status; /* BR_* */
    bool paid, checked_in, veg;
} bulk_reg;

/* Event i's registrations as register_one leaves them, drawn from the same
 * streams: a place while there is one, else the waiting list or a refusal;
 * most unpaid holds paid; 6% cancelled, each freed place going to the first
 * on the waiting list; half of the confirmed ones of an event of the next
 * 30 days checked in. regs and wait hold the event's demand. Returns how
 * many registrations; *taken the places held, *refused those refused. */
static int simulate(const seed_run *run, int i, bulk_reg *regs, int *wait, int *taken, int *refused)
{
    const rg_seed_opts *o = run->o;
    const seed_event *e = &run->ev[i];
    int n = 0, held = 0, qh = 0, qt = 0;
    *refused = 0;
    for (int k = 0; k < e->demand; k++) {
        uint64_t s = (o->seed * 0xd1b54a32d192ed03ull) ^ ((uint64_t)i << 24) ^ (uint64_t)k;
        next(&s);
        bulk_reg r = {.user = (int)(((int64_t)e->first_user + (int64_t)k * run->stride) % o->users),
                      .veg = pick(&s, 6) == 0};
        if (held < e->capacity) {
            r.status = e->paid ? BR_PENDING : BR_CONFIRMED;
            held++;
        } else if (e->waitlist) {
            r.status = BR_WAITLISTED;
            wait[qt++] = n;
        } else {
            ++*refused;
            continue;
        }
        if (r.status == BR_PENDING && pick(&s, 5) != 0) {
            r.status = BR_CONFIRMED;
            r.paid = true;
        }
        if (pick(&s, 100) < 6) {
            if (r.status == BR_WAITLISTED) {
                qt--; /* it was the last to join */
            } else if (qh < qt) {
                regs[wait[qh++]].status = e->paid ? BR_PENDING : BR_CONFIRMED;
            } else {
                held--;
            }
            r.status = BR_CANCELLED;
        } else if (r.status == BR_CONFIRMED && e->soon && pick(&s, 2) == 0) {
            r.checked_in = true;
        }
        regs[n++] = r;
    }
    *taken = held;
    return n;
}

/* What the three loads walk through: event by event, and within an event
 * its registrations; ids given in that order. */
typedef struct bulk_cursor {
    seed_run *run;
    int i, k, n; /* the event, its next registration, how many it has */
    bulk_reg *regs;
    int *wait, *taken;
    int64_t first_event_id, reg_id, pay_id;
    char now[RG_TIME_LEN + 1], hold[RG_TIME_LEN + 1];
    char v[8][48]; /* numbers and ids as text */
    char meta[64];
    json_t *body; /* the event row's source, kept until the next row */
    long rows;
} bulk_cursor;

static int64_t event_id_of(const bulk_cursor *cur, int i)
{
    return cur->first_event_id + i;
}

static int events_row(void *arg, const char **val)
{
    bulk_cursor *cur = arg;
    seed_run *run = cur->run;
    if (cur->i >= run->o->events || atomic_load(&run->stop))
        return 0;
    int i = cur->i++;
    seed_event tmp = run->ev[i]; /* event_body redraws the shape */
    json_decref(cur->body);
    json_t *b = cur->body = event_body(run, i, &tmp);
    const seed_event *e = &run->ev[i];
    json_t *cost = json_object_get(b, "cost");
    snprintf(cur->v[0], sizeof cur->v[0], "%lld", (long long)e->id);
    snprintf(cur->v[1], sizeof cur->v[1], "%d", e->capacity);
    snprintf(cur->v[2], sizeof cur->v[2], "%d", cur->taken[i]);
    snprintf(cur->v[3], sizeof cur->v[3], "%lld",
             (long long)json_integer_value(json_object_get(b, "venueId")));
    const char *status = e->state == EV_DRAFT       ? "draft"
                         : e->state == EV_CANCELLED ? "cancelled"
                                                    : "published";
    const char *row[20] = {cur->v[0],
                           json_string_value(json_object_get(b, "title")),
                           json_string_value(json_object_get(b, "slug")),
                           json_string_value(json_object_get(b, "description")),
                           json_string_value(json_object_get(b, "startDate")),
                           json_string_value(json_object_get(b, "endDate")),
                           json_object_get(b, "venueId") ? cur->v[3] : NULL,
                           run->uids[e->organizer],
                           cur->v[1],
                           cur->v[2],
                           status,
                           json_string_value(json_object_get(b, "type")),
                           json_is_true(json_object_get(b, "isFeatured")) ? "1" : "0",
                           e->state != EV_PRIVATE ? "1" : "0",
                           cost ? json_string_value(json_object_get(cost, "amount")) : NULL,
                           cost ? json_string_value(json_object_get(cost, "currency")) : NULL,
                           e->waitlist ? "1" : "0",
                           "10080",
                           cur->now,
                           cur->now};
    memcpy(val, row, sizeof row);
    atomic_fetch_add(&run->done, 1);
    return 1;
}

/* The next registration of the walk, or NULL at the end; *i its event. */
static const bulk_reg *next_reg(bulk_cursor *cur, int *i)
{
    seed_run *run = cur->run;
    while (cur->k >= cur->n) {
        if (cur->i >= run->o->events || atomic_load(&run->stop))
            return NULL;
        int refused, taken;
        cur->n = run->ev[cur->i].demand
                     ? simulate(run, cur->i, cur->regs, cur->wait, &taken, &refused)
                     : 0;
        cur->k = 0;
        cur->i++;
    }
    *i = cur->i - 1;
    cur->reg_id++;
    return &cur->regs[cur->k++];
}

static const char consent_text[] =
    "{\"guardianName\":\"A Parent\",\"guardianEmail\":\"parent@example.org\","
    "\"relationship\":\"parent\",\"consentedAt\":\"2026-01-01T00:00:00Z\"}";

static int registrations_row(void *arg, const char **val)
{
    bulk_cursor *cur = arg;
    int i;
    const bulk_reg *r = next_reg(cur, &i);
    if (!r)
        return 0;
    bool cancelled = r->status == BR_CANCELLED;
    snprintf(cur->v[0], sizeof cur->v[0], "%lld", (long long)(cur->reg_id - 1));
    snprintf(cur->v[1], sizeof cur->v[1], "%lld", (long long)event_id_of(cur, i));
    const char *row[15] = {cur->v[0],
                           cur->v[1],
                           cur->run->uids[r->user],
                           cur->now,
                           br_names[r->status],
                           r->paid ? "paid" : "unpaid",
                           r->veg ? "vegetarian" : "",
                           NULL,
                           r->checked_in ? "1" : "0",
                           r->checked_in ? cur->now : NULL,
                           cancelled ? cur->now : NULL,
                           cancelled ? "plans changed" : NULL,
                           r->status == BR_PENDING ? cur->hold : NULL,
                           consent_text,
                           cur->now};
    memcpy(val, row, sizeof row);
    atomic_fetch_add(&cur->run->done, 1);
    return 1;
}

static int payments_row(void *arg, const char **val)
{
    bulk_cursor *cur = arg;
    int i;
    const bulk_reg *r;
    while ((r = next_reg(cur, &i)) && !r->paid)
        ;
    if (!r)
        return 0;
    seed_run *run = cur->run;
    const seed_event *e = &run->ev[i];
    seed_event tmp = *e;
    json_decref(cur->body);
    cur->body = event_body(run, i, &tmp);
    json_t *cost = json_object_get(cur->body, "cost");
    int64_t pid = cur->pay_id++;
    snprintf(cur->v[0], sizeof cur->v[0], "%lld", (long long)pid);
    snprintf(cur->v[1], sizeof cur->v[1], "%lld", (long long)event_id_of(cur, i));
    snprintf(cur->v[2], sizeof cur->v[2], "%lld", (long long)(cur->reg_id - 1));
    snprintf(cur->v[3], sizeof cur->v[3], "manual_seed%u_%lld", run->o->seed, (long long)pid);
    snprintf(cur->meta, sizeof cur->meta, "{\"recordedBy\":\"%s\"}", run->uids[e->organizer]);
    const char *row[15] = {cur->v[0],
                           run->uids[r->user],
                           cur->v[1],
                           cur->v[2],
                           json_string_value(json_object_get(cost, "amount")),
                           json_string_value(json_object_get(cost, "currency")),
                           "cash",
                           "succeeded",
                           cur->v[3],
                           "manual",
                           cur->now,
                           "none",
                           cur->meta,
                           cur->now,
                           cur->now};
    memcpy(val, row, sizeof row);
    atomic_fetch_add(&run->done, 1);
    return 1;
}

typedef struct bulk_load_job {
    seed_run *run;
    const char *name;
    int ncols;
    rg_rel_row_fn fn;
    bulk_cursor *cur;
    int rc;
    bool finished;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} bulk_load_job;

static void *bulk_load_main(void *arg)
{
    bulk_load_job *job = arg;
    rg_relational *r = &job->run->app->st.rel;
    rg_rel_conn *c;
    int rc = rg_rel_acquire(r, &c);
    if (rc == 0) {
        rc = rg_rel_load(r, c, job->name, job->ncols, job->fn, job->cur);
        rg_rel_release(r, c);
    }
    if (rc < 0)
        fail_with(job->run, rc);
    rg_error_clear();
    pthread_mutex_lock(&job->mu);
    job->rc = rc;
    job->finished = true;
    pthread_cond_signal(&job->cv);
    pthread_mutex_unlock(&job->mu);
    return NULL;
}

/* One table's load on a thread of its own, its progress reported every 2 s. */
static int bulk_load(seed_run *run, bulk_cursor *cur, const char *what, const char *name, int ncols,
                     rg_rel_row_fn fn, long total, FILE *report)
{
    cur->i = cur->k = cur->n = 0;
    atomic_store(&run->done, 0);
    bulk_load_job job = {.run = run, .name = name, .ncols = ncols, .fn = fn, .cur = cur};
    pthread_mutex_init(&job.mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&job.cv, &ca);
    pthread_condattr_destroy(&ca);
    int64_t t0 = rg_mono_ms();
    pthread_t th;
    if (pthread_create(&th, NULL, bulk_load_main, &job) != 0)
        abort();
    pthread_mutex_lock(&job.mu);
    while (!job.finished) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += 2;
        if (pthread_cond_timedwait(&job.cv, &job.mu, &until) == ETIMEDOUT) {
            long d = atomic_load(&run->done);
            fprintf(report, "  %s: %ld of %ld (%.0f/s)\n", what, d, total,
                    d / ((double)(rg_mono_ms() - t0) / 1000.0));
            fflush(report);
        }
    }
    pthread_mutex_unlock(&job.mu);
    pthread_join(th, NULL);
    pthread_cond_destroy(&job.cv);
    pthread_mutex_destroy(&job.mu);
    json_decref(cur->body);
    cur->body = NULL;
    fprintf(report, "  %s: %ld in %.1f s\n", what, atomic_load(&run->done),
            (double)(rg_mono_ms() - t0) / 1000.0);
    fflush(report);
    if (job.rc < 0)
        return rg_error_set(job.rc, "loading %s: %s", what, run->why);
    return 0;
}

/* One of the seed's statements, in a transaction of its own without the
 * statement timeout: over ten million rows they take minutes. */
static int run_one(rg_app *app, const char *name, const rg_param *p, int n, rg_rows **out)
{
    rg_relational *r = &app->st.rel;
    rg_rel_conn *c;
    int rc = rg_rel_acquire(r, &c);
    if (rc < 0)
        return rc;
    if ((rc = rg_rel_begin(r, c, true)) == 0) {
        if ((rc = rg_rel_query(r, c, "seed_no_timeout", NULL, 0, NULL)) >= 0 &&
            (rc = rg_rel_query(r, c, name, p, n, out)) >= 0) {
            int done = rc;
            rc = rg_rel_commit(r, c);
            rc = rc < 0 ? rc : done;
        }
        if (rc < 0) {
            rg_rel_rollback(r, c);
            if (out) {
                rg_rows_free(*out);
                *out = NULL;
            }
        }
    }
    rg_rel_release(r, c);
    return rc;
}

static int bulk_events_and_registrations(seed_run *run, uint64_t *s, FILE *report)
{
    const rg_seed_opts *o = run->o;
    rg_app *app = run->app;
    rg_rows *ids = NULL;
    int rc = run_one(app, "seed_next_ids", NULL, 0, &ids);
    if (rc < 0)
        return rc;
    bulk_cursor cur = {.run = run,
                       .first_event_id = 1,
                       .reg_id = rg_rows_int(ids, 0, "registration_id", 1),
                       .pay_id = rg_rows_int(ids, 0, "payment_id", 1)};
    rg_rows_free(ids);
    int64_t first_reg = cur.reg_id;
    rg_time_format(rg_now(), cur.now);
    rg_time_format(rg_now() + 7 * 24 * 3600, cur.hold);

    /* Every event's shape and id, then the demand, then what its
     * registrations leave: the places taken, written with the event. */
    int by_state[4] = {0};
    for (int i = 0; i < o->events; i++) {
        json_decref(event_body(run, i, &run->ev[i]));
        run->ev[i].id = event_id_of(&cur, i);
        by_state[run->ev[i].state]++;
    }
    plan_demand(run, s);
    int most = 1;
    for (int i = 0; i < o->events; i++)
        most = run->ev[i].demand > most ? run->ev[i].demand : most;
    cur.regs = rg_xcalloc((size_t)most, sizeof *cur.regs);
    cur.wait = rg_xcalloc((size_t)most, sizeof *cur.wait);
    cur.taken = rg_xcalloc((size_t)o->events + 1, sizeof *cur.taken);
    long planned = 0, regs = 0, refused = 0, paid = 0, by_status[N_STATUS] = {0};
    int full = 0;
    for (int i = 0; i < o->events; i++) {
        const seed_event *e = &run->ev[i];
        planned += e->demand;
        full += e->demand > 0 && e->demand >= e->capacity;
        if (!e->demand)
            continue;
        int r, n = simulate(run, i, cur.regs, cur.wait, &cur.taken[i], &r);
        refused += r;
        regs += n;
        for (int k = 0; k < n; k++) {
            paid += cur.regs[k].paid;
            by_status[cur.regs[k].checked_in ? 4 : cur.regs[k].status]++;
        }
    }
    fprintf(report,
            "events: %d new (%d published for everyone, %d private, %d drafts, %d "
            "cancelled after their registrations)\n",
            o->events, by_state[EV_PUBLIC], by_state[EV_PRIVATE], by_state[EV_DRAFT],
            by_state[EV_CANCELLED]);
    fprintf(report, "registrations planned: %ld (%d events asked for at least their places)\n",
            planned, full);
    fflush(report);

    if ((rc = bulk_load(run, &cur, "events", "load_events", 20, events_row, o->events, report)) <
            0 ||
        (rc = bulk_load(run, &cur, "registrations", "load_registrations", 15, registrations_row,
                        regs, report)) < 0)
        goto out;
    cur.reg_id = first_reg;
    if ((rc = bulk_load(run, &cur, "payments", "load_payments", 15, payments_row, paid, report)) <
        0)
        goto out;
    rg_param lp[] = {RG_PINT(first_reg)};
    int64_t t0 = rg_mono_ms();
    if ((rc = run_one(app, "seed_link_payments", lp, 1, NULL)) < 0 ||
        (rc = run_one(app, "seed_sequences", NULL, 0, NULL)) < 0)
        goto out;
    rg_rows *chk = NULL;
    if ((rc = run_one(app, "seed_check", NULL, 0, &chk)) < 0)
        goto out;
    fprintf(report,
            "  checked in %.1f s: %s events whose taken differs from their holders, %s over "
            "capacity, %s people twice in one event, %s registrations without their event, %s "
            "paid without their payment\n",
            (double)(rg_mono_ms() - t0) / 1000.0, rg_rows_get(chk, 0, "wrong_taken"),
            rg_rows_get(chk, 0, "over_capacity"), rg_rows_get(chk, 0, "twice"),
            rg_rows_get(chk, 0, "orphans"), rg_rows_get(chk, 0, "unlinked"));
    bool broken = false;
    for (int j = 0; j < chk->ncols; j++)
        broken |= strcmp(chk->cells[j], "0") != 0;
    rg_rows_free(chk);
    if (broken) {
        rc = rg_error_set(RG_EINTERNAL, "the loaded data breaks the rules (see above)");
        goto out;
    }
    fprintf(report, "registrations: %ld (as the seed left each: ", regs);
    for (int st = 0; st < N_STATUS; st++)
        fprintf(report, "%s%ld %s", st ? ", " : "", by_status[st], status_names[st]);
    fprintf(report, "; %ld payments recorded; %ld refused by the rules)\n", paid, refused);
    /* The search index from the rows, as `risinggen reindex` builds it;
     * channels are made on first use (GET /v1/events/{id}/channel). */
    t0 = rg_mono_ms();
    rg_rebuild_counts indexed;
    if ((rc = rg_search_rebuild(app, NULL, &indexed)) < 0)
        goto out;
    fprintf(report, "search: %ld events indexed in %.1f s\n", indexed.events,
            (double)(rg_mono_ms() - t0) / 1000.0);
out:
    free(cur.regs);
    free(cur.wait);
    free(cur.taken);
    json_decref(cur.body);
    return rc;
}

int rg_seed(rg_app *app, const rg_seed_opts *o, FILE *report)
{
    if (o->events > 0 && o->users <= 0)
        return rg_error_set(RG_EINVAL, "events need at least one person to organize them");
    if (o->bulk) { /* before anything is written */
        rg_rows *ids = NULL;
        int rc = run_one(app, "seed_next_ids", NULL, 0, &ids);
        if (rc < 0)
            return rc;
        int64_t existing = rg_rows_int(ids, 0, "events", 0);
        rg_rows_free(ids);
        if (existing > 0)
            return rg_error_set(RG_ECONFLICT,
                                "the database holds %lld events: a bulk seed loads into one "
                                "without events",
                                (long long)existing);
    }
    seed_run run = {.app = app, .o = o, .jobs = o->jobs > 0 ? o->jobs : 1};
    pthread_mutex_init(&run.mu, NULL);
    uint64_t s = o->seed ? o->seed : 1;
    char *hash = NULL;
    FILE *tokens = NULL, *manifest = NULL;
    int rc = rg_auth_hash_password(o->password ? o->password : "risinggen-demo", &hash);
    if (rc < 0)
        return rc;
    run.hash = hash;
    if (o->tokens_out && !(tokens = fopen(o->tokens_out, "w"))) {
        rc = rg_error_set(RG_EINVAL, "cannot write %s", o->tokens_out);
        goto done;
    }
    if (o->manifest_out && !(manifest = fopen(o->manifest_out, "w"))) {
        rc = rg_error_set(RG_EINVAL, "cannot write %s", o->manifest_out);
        goto done;
    }
    run.uids = rg_xcalloc((size_t)o->users + 1, sizeof *run.uids);
    for (int i = 0; i < o->users; i++)
        seed_oid(o->seed, 1, i, run.uids[i]);
    run.venues = rg_xcalloc((size_t)o->venues + 1, sizeof *run.venues);
    run.venue_city = rg_xcalloc((size_t)o->venues + 1, sizeof *run.venue_city);
    run.ev = rg_xcalloc((size_t)o->events + 1, sizeof *run.ev);
    run.stride = 1;
    for (int c = (int)(o->users * 0.618) + 1; o->users > 1 && c < o->users * 2; c++)
        if (gcd(c, o->users) == 1) {
            run.stride = c;
            break;
        }
    run.base_t = rg_now() + 86400;
    run.base_t -= run.base_t % 86400;

    /* People: one in ten (the first among them) an organizer. */
    if ((rc = run_phase(&run, "people", o->users, make_people, report)) < 0)
        goto done;
    fprintf(report, "people: %d (%ld new)\n", o->users, atomic_load(&run.made));
    if ((rc = make_venues(&run, &s, report)) < 0)
        goto done;

    if ((rc = o->bulk ? bulk_events_and_registrations(&run, &s, report)
                      : domain_events_and_registrations(&run, &s, report)) < 0)
        goto done;

    /* Tokens last, so that they have their whole life left when it ends. */
    int ntok = o->token_users >= 0 && o->token_users < o->users ? o->token_users : o->users;
    for (int i = 0; tokens && i < ntok; i++) {
        char *tok;
        if ((rc = rg_auth_issue_session(app, run.uids[i], &tok)) < 0)
            goto done;
        fprintf(tokens, "%s %s\n", run.uids[i], tok);
        free(tok);
    }
    if (tokens)
        fprintf(report, "access tokens: %d, in %s\n", ntok, o->tokens_out);
    if (manifest) { /* the visible events, most popular first */
        int *by_rank = rg_xcalloc((size_t)o->events + 1, sizeof *by_rank);
        int n = 0;
        for (int i = 0; i < o->events; i++)
            if (run.ev[i].rank >= 0) {
                by_rank[run.ev[i].rank] = i;
                n++;
            }
        for (int r = 0; r < n; r++) {
            const seed_event *e = &run.ev[by_rank[r]];
            fprintf(manifest, "%lld %d %d %d\n", (long long)e->id, r, e->capacity, e->demand);
        }
        free(by_rank);
    }
done:
    free(run.ev);
    free(run.venue_city);
    free(run.venues);
    free(run.uids);
    free(hash);
    if (tokens && fclose(tokens) != 0 && rc == 0)
        rc = rg_error_set(RG_EINTERNAL, "cannot write %s", o->tokens_out);
    if (manifest && fclose(manifest) != 0 && rc == 0)
        rc = rg_error_set(RG_EINTERNAL, "cannot write %s", o->manifest_out);
    pthread_mutex_destroy(&run.mu);
    return rc;
}
