/* Deterministic synthetic data for demos and benchmarks: the same options
 * give the same people, venues, events and registrations (ids included). */
#include "risinggen/domain/registrations.h"
#include "risinggen/domain/events.h"
#include "risinggen/domain/venues.h"
#include "risinggen/domain/auth.h"
#include "risinggen/domain/seed.h"
#include "domain.h"
#include "risinggen/base/alloc.h"
#include "risinggen/base/clock.h"
#include "risinggen/base/id.h"
#include "risinggen/base/error.h"

#include <stdlib.h>
#include <string.h>

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

static const char *const first_names[] = {"Amara", "Ben",  "Chloe",  "Daniel", "Esther", "Felix",
                                          "Grace", "Hugo", "Isla",   "Joseph", "Kemi",   "Liam",
                                          "Maya",  "Noah", "Olivia", "Peter",  "Ruth",   "Samuel"};
static const char *const last_names[] = {"Adeyemi", "Brown", "Clarke", "Davies", "Evans",
                                         "Fischer", "Green", "Hughes", "Ito",    "Johnson",
                                         "Khan",    "Lopez", "Mensah", "Nowak",  "Okafor"};
static const struct {
    const char *city, *country;
    double lat, lng;
} cities[] = {{"London", "UK", 51.5074, -0.1278},     {"Manchester", "UK", 53.4808, -2.2426},
              {"Birmingham", "UK", 52.4862, -1.8904}, {"Edinburgh", "UK", 55.9533, -3.1883},
              {"Cardiff", "UK", 51.4816, -3.1791},    {"Dublin", "Ireland", 53.3498, -6.2603},
              {"Paris", "France", 48.8566, 2.3522},   {"Berlin", "Germany", 52.52, 13.405},
              {"Lagos", "Nigeria", 6.5244, 3.3792},   {"Accra", "Ghana", 5.6037, -0.187}};
static const char *const types[] = {"conference", "camp",  "devotional",
                                    "service",    "dance", "sports"};
static const char *const topics[] = {"Youth Conference",   "Summer Camp",   "Devotional Evening",
                                     "Service Project",    "Winter Ball",   "Sports Day",
                                     "Leadership Retreat", "Music Festival"};

static void seed_oid(unsigned seed, unsigned kind, int i, char out[RG_OID_LEN + 1])
{
    snprintf(out, RG_OID_LEN + 1, "5eed%04x%02x%014x", seed & 0xffff, kind & 0xff, (unsigned)i);
}

int rg_seed(rg_app *app, const rg_seed_opts *o, FILE *report)
{
    uint64_t s = o->seed ? o->seed : 1;
    char *hash = NULL;
    int rc = rg_auth_hash_password(o->password ? o->password : "risinggen-demo", &hash);
    if (rc < 0)
        return rc;
    FILE *tokens = NULL;
    if (o->tokens_out && !(tokens = fopen(o->tokens_out, "w"))) {
        free(hash);
        return rg_error_set(RG_EINVAL, "cannot write %s", o->tokens_out);
    }
    char(*ids)[RG_OID_LEN + 1] = rg_xcalloc((size_t)(o->users ? o->users : 1), sizeof *ids);
    int made = 0;
    /* People: the first is an organizer, every tenth too. */
    for (int i = 0; i < o->users; i++) {
        char email[96];
        snprintf(email, sizeof email, "user%d.%u@example.org", i, o->seed);
        int age = 14 + pick(&s, 20);
        char dob[48];
        snprintf(dob, sizeof dob, "%04d-%02d-%02d", 2026 - age, 1 + pick(&s, 12), 1 + pick(&s, 28));
        json_t *roles = i % 10 == 0 ? json_pack("[s,s]", "participant", "organizer")
                                    : json_pack("[s]", "participant");
        char now[RG_TIME_LEN + 1];
        rg_time_format(rg_now(), now);
        json_t *user = json_pack(
            "{s:i, s:s, s:s, s:s, s:s, s:o, s:{s:s, s:{s:b, s:b, s:b}, s:{s:b, s:b}}, s:s, s:n}",
            "schemaVersion", USER_SCHEMA_VERSION, "email", email, "firstName",
            first_names[pick(&s, 18)], "lastName", last_names[pick(&s, 15)], "dateOfBirth", dob,
            "roles", roles, "preferences", "language", "en", "notifications", "email", 1, "push", 1,
            "sms", 0, "privacy", "shareContact", 0, "shareProfile", 1, "created", now, "lastLogin");
        seed_oid(o->seed, 1, i, ids[i]);
        rc = rg_auth_insert_user(app, user, hash, ids[i]);
        json_decref(user);
        if (rc == RG_ECONFLICT) { /* already seeded */
            rg_error_clear();
            rc = 0;
        } else if (rc < 0) {
            goto done;
        } else {
            made++;
        }
        if (tokens) {
            char *tok;
            if ((rc = rg_auth_issue_session(app, ids[i], &tok)) < 0)
                goto done;
            fprintf(tokens, "%s %s\n", ids[i], tok);
            free(tok);
        }
    }
    fprintf(report, "users: %d (%d new)\n", o->users, made);
    const char *organizer = o->users ? ids[0] : "000000000000000000000000";
    rg_principal org = {.roles = RG_ROLE_ORGANIZER | RG_ROLE_ADMIN};
    snprintf(org.user_id, sizeof org.user_id, "%s", organizer);
    rg_ctx org_ctx = rg_ctx_for(&org);
    int64_t *venue_ids = rg_xcalloc((size_t)(o->venues ? o->venues : 1), sizeof *venue_ids);
    for (int i = 0; i < o->venues; i++) {
        int c = i % 10;
        double jitter_lat = (pick(&s, 2000) - 1000) / 20000.0;
        double jitter_lng = (pick(&s, 2000) - 1000) / 20000.0;
        char name[96];
        snprintf(name, sizeof name, "%s Hall %d", cities[c].city, i);
        json_t *body = json_pack("{s:s, s:s, s:s, s:s, s:f, s:f, s:i}", "name", name, "street",
                                 "1 Chapel Street", "city", cities[c].city, "country",
                                 cities[c].country, "lat", cities[c].lat + jitter_lat, "lng",
                                 cities[c].lng + jitter_lng, "capacity", 100 + pick(&s, 2000));
        json_t *out;
        rc = rg_venue_create(app, &org_ctx, body, &out);
        json_decref(body);
        if (rc < 0)
            goto done_v;
        venue_ids[i] = json_integer_value(json_object_get(out, "id"));
        json_decref(out);
    }
    fprintf(report, "venues: %d\n", o->venues);
    int64_t *event_ids = rg_xcalloc((size_t)(o->events ? o->events : 1), sizeof *event_ids);
    int64_t base = rg_now() + 86400 * 7;
    base -= base % 3600;
    for (int i = 0; i < o->events; i++) {
        char start[RG_TIME_LEN + 1], end[RG_TIME_LEN + 1], title[128], slug[64];
        int64_t st = base + (int64_t)pick(&s, 365) * 86400 + (int64_t)pick(&s, 12) * 3600;
        rg_time_format(st, start);
        rg_time_format(st + 3600 * (2 + pick(&s, 70)), end);
        snprintf(title, sizeof title, "%s %d", topics[pick(&s, 8)], i);
        snprintf(slug, sizeof slug, "seed-%u-event-%d", o->seed, i);
        bool paid = pick(&s, 4) == 0;
        json_t *body = json_pack(
            "{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:b, s:b, s:o}", "title", title, "slug", slug,
            "description", "A gathering for young people: talks, music, service and friends.",
            "startDate", start, "endDate", end, "type", types[pick(&s, 6)], "maxParticipants",
            20 + pick(&s, 500), "isFeatured", pick(&s, 10) == 0, "waitlistEnabled",
            pick(&s, 2) == 0, "cost",
            paid ? json_pack("{s:s, s:s}", "amount", "25.00", "currency", "GBP") : json_null());
        if (o->venues)
            json_object_set_new(body, "venueId", json_integer(venue_ids[i % o->venues]));
        json_t *out;
        rc = rg_event_create(app, &org_ctx, body, &out);
        json_decref(body);
        if (rc == RG_ECONFLICT) {
            rg_error_clear();
            continue;
        }
        if (rc < 0)
            goto done_e;
        event_ids[i] = json_integer_value(json_object_get(out, "id"));
        json_decref(out);
        char id[32];
        snprintf(id, sizeof id, "%lld", (long long)event_ids[i]);
        json_t *pub = json_pack("{s:s}", "status", "published");
        rc = rg_event_patch(app, &org_ctx, id, pub, &out);
        json_decref(pub);
        if (rc < 0)
            goto done_e;
        json_decref(out);
    }
    fprintf(report, "events: %d\n", o->events);
    int regs = 0;
    for (int i = 0; i < o->registrations && o->users && o->events; i++) {
        rg_principal who = {.roles = RG_ROLE_PARTICIPANT};
        snprintf(who.user_id, sizeof who.user_id, "%s", ids[pick(&s, o->users)]);
        int64_t eid = event_ids[pick(&s, o->events)];
        if (!eid)
            continue;
        char id[32];
        snprintf(id, sizeof id, "%lld", (long long)eid);
        json_t *body = json_pack("{s:s, s:o}", "dietaryRequirements",
                                 pick(&s, 5) ? "" : "vegetarian", "guardianConsent",
                                 json_pack("{s:s, s:s, s:s, s:s}", "guardianName", "A Parent",
                                           "guardianEmail", "parent@example.org", "relationship",
                                           "parent", "consentedAt", "2026-01-01T00:00:00Z"));
        json_t *out;
        rg_ctx ctx = rg_ctx_for(&who);
        rc = rg_registration_create(app, &ctx, id, body, &out);
        json_decref(body);
        if (rc == 0) {
            regs++;
            json_decref(out);
        }
        rg_error_clear();
        rc = 0;
    }
    fprintf(report, "registrations: %d\n", regs);
done_e:
    free(event_ids);
done_v:
    free(venue_ids);
done:
    free(ids);
    free(hash);
    if (tokens)
        fclose(tokens);
    return rc;
}
