/* Events (relational): create, read (served from the cache as text), change
 * and the status rules, with the event's search entry and channel kept in
 * step; rebuilding the search entries of every event. Cache keys are those
 * of event_record.h; TTLs bound staleness anyway. */
#include "risinggen/domain/audit.h"
#include "risinggen/domain/content.h"
#include "risinggen/domain/events.h"
#include "domain.h"
#include "event_record.h"
#include "intents.h"
#include "registration_record.h"
#include "channel_record.h"
#include "user_record.h"
#include "risinggen/base/alloc.h"
#include "risinggen/base/buf.h"
#include "risinggen/base/log.h"
#include "risinggen/base/clock.h"
#include "risinggen/base/id.h"
#include "risinggen/base/error.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* An event's view is checked against its version on every read, so with a
 * cache every instance shares and no read replica its TTL bounds memory,
 * not staleness (EVENT_CACHE_TTL_LONG_MS). A view read from a replica that
 * lagged is served under the current version until it expires, and a
 * process with a cache of its own does not see other processes' versions
 * move: then EVENT_CACHE_TTL_MS bounds how old a view may be
 * (docs/design/caching.md). */
#define EVENT_CACHE_TTL_MS      10000
#define EVENT_CACHE_TTL_LONG_MS 300000

struct event_fields {
    const char *title, *slug, *description, *type, *status, *currency;
    char start[RG_TIME_LEN + 1], end[RG_TIME_LEN + 1], deadline[RG_TIME_LEN + 1];
    int64_t start_t, end_t, deadline_t;
    bool has_deadline, has_venue, has_max, has_cost, has_min_age, has_guardian;
    int64_t venue_id, max, cost_minor, min_age, guardian_under, hold_minutes;
    bool featured, is_public, waitlist;
};

static bool slug_ok(const char *s)
{
    bool digit_only = true;
    size_t n = strlen(s);
    if (n == 0 || n > 200 || s[0] == '-' || s[n - 1] == '-')
        return false;
    for (const char *p = s; *p; p++) {
        if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-'))
            return false;
        if (*p == '-' && p[1] == '-')
            return false;
        digit_only &= isdigit((unsigned char)*p) != 0;
    }
    return !digit_only; /* an all-digit slug would read as an id */
}

/* Lowercase ASCII letters and digits joined by single dashes, from title. */
static void slugify(const char *title, char *out, size_t cap)
{
    size_t n = 0;
    bool dash = false;
    for (const unsigned char *p = (const unsigned char *)title; *p && n + 2 < cap && n < 120; p++) {
        if (isalnum(*p)) {
            if (dash && n)
                out[n++] = '-';
            out[n++] = (char)tolower(*p);
            dash = false;
        } else {
            dash = true;
        }
    }
    out[n] = '\0';
    if (n == 0 || strspn(out, "0123456789") == n)
        snprintf(out + n, cap - n, "%sevent", n ? "-" : "");
}

static const char *const status_values[] = {"draft", "published", "cancelled", "completed", NULL};

/* Applies the body's fields onto f (which holds the current values for a
 * patch), checking each. Strings stay borrowed from body or the row. */
static void apply_fields(v_ctx *v, json_t *body, struct event_fields *f, bool creating)
{
    int64_t t;
    bool present;
    v_string(v, body, "title", creating, 1, 255, &f->title);
    if (json_object_get(body, "slug") && !json_is_null(json_object_get(body, "slug"))) {
        const char *s = NULL;
        if (v_string(v, body, "slug", false, 1, 200, &s) && s && !slug_ok(s))
            v_fail(v, "slug",
                   "must be lowercase letters, digits and single dashes, not only "
                   "digits");
        else if (s)
            f->slug = s;
    }
    if (json_object_get(body, "description")) {
        f->description = NULL;
        v_string(v, body, "description", false, 0, 20000, &f->description);
    }
    if (v_time(v, body, "startDate", creating, &t, &present) && present)
        f->start_t = t, rg_time_format(t, f->start);
    if (v_time(v, body, "endDate", creating, &t, &present) && present)
        f->end_t = t, rg_time_format(t, f->end);
    if (json_object_get(body, "registrationDeadline")) {
        f->has_deadline = false;
        if (v_time(v, body, "registrationDeadline", false, &t, &present) && present)
            f->has_deadline = true, f->deadline_t = t, rg_time_format(t, f->deadline);
    }
    if (json_object_get(body, "venueId")) {
        f->has_venue = false;
        v_int(v, body, "venueId", false, 1, INT32_MAX, &f->venue_id, &f->has_venue);
    }
    if (json_object_get(body, "maxParticipants")) {
        f->has_max = false;
        v_int(v, body, "maxParticipants", false, 0, 1000000, &f->max, &f->has_max);
    }
    v_string(v, body, "type", creating, 1, 50, &f->type);
    v_bool(v, body, "isFeatured", &f->featured, NULL);
    v_bool(v, body, "isPublic", &f->is_public, NULL);
    v_bool(v, body, "waitlistEnabled", &f->waitlist, NULL);
    if (json_object_get(body, "minAge")) {
        f->has_min_age = false;
        v_int(v, body, "minAge", false, 0, 120, &f->min_age, &f->has_min_age);
    }
    if (json_object_get(body, "guardianConsentUnder")) {
        f->has_guardian = false;
        v_int(v, body, "guardianConsentUnder", false, 0, 120, &f->guardian_under, &f->has_guardian);
    }
    v_int(v, body, "holdMinutes", false, 1, 10080, &f->hold_minutes, NULL);
    json_t *cost = json_object_get(body, "cost");
    if (cost) {
        f->has_cost = false;
        if (json_is_object(cost)) {
            const char *amount = NULL, *cur = NULL;
            json_t *a = json_object_get(cost, "amount");
            if (json_is_number(a))
                v_fail(v, "cost.amount", "must be a decimal string such as \"25.00\"");
            else if (!json_is_string(a) || rg_money_parse(json_string_value(a), &f->cost_minor) < 0)
                v_fail(v, "cost.amount", "must be a decimal string such as \"25.00\"");
            else
                amount = json_string_value(a);
            json_t *c = json_object_get(cost, "currency");
            cur = json_string_value(c);
            if (!cur || strlen(cur) != 3 || !isupper((unsigned char)cur[0]) ||
                !isupper((unsigned char)cur[1]) || !isupper((unsigned char)cur[2])) {
                v_fail(v, "cost.currency", "must be an ISO 4217 code such as GBP");
                cur = NULL;
            }
            if (amount && cur && f->cost_minor > 0)
                f->has_cost = true, f->currency = cur;
        } else if (!json_is_null(cost)) {
            v_fail(v, "cost", "must be {\"amount\": \"25.00\", \"currency\": \"GBP\"} or null");
        }
    }
    if (f->start[0] && f->end[0] && f->end_t < f->start_t)
        v_fail(v, "endDate", "must not be before startDate");
    if (f->has_deadline && f->end[0] && f->deadline_t > f->end_t)
        v_fail(v, "registrationDeadline", "must not be after endDate");
}

static int venue_exists(rg_app *app, int64_t id)
{
    rg_param p[] = {RG_PINT(id)};
    rg_rows *rows;
    int rc = rg_rel_run(app, "venue_get", p, 1, &rows);
    if (rc < 0)
        return rc;
    rc = rows->nrows;
    rg_rows_free(rows);
    return rc;
}

static void fill_params(const struct event_fields *f, rg_param *p)
{
    p[0] = RG_PTEXT(f->title);
    p[1] = RG_PTEXT(f->slug);
    p[2] = RG_PTEXT(f->description);
    p[3] = RG_PTEXT(f->start);
    p[4] = RG_PTEXT(f->end);
    p[5] = f->has_deadline ? RG_PTEXT(f->deadline) : RG_PNULL;
    p[6] = f->has_venue ? RG_PINT(f->venue_id) : RG_PNULL;
    p[7] = f->has_max ? RG_PINT(f->max) : RG_PNULL;
}

/* The options that follow in both statements: type to hold_minutes. */
static void fill_options(const struct event_fields *f, rg_param *p)
{
    p[0] = RG_PTEXT(f->type);
    p[1] = RG_PBOOL(f->featured);
    p[2] = RG_PBOOL(f->is_public);
    p[3] = f->has_cost ? RG_PINT(f->cost_minor) : RG_PNULL;
    p[4] = f->has_cost ? RG_PTEXT(f->currency) : RG_PNULL;
    p[5] = RG_PBOOL(f->waitlist);
    p[6] = f->has_min_age ? RG_PINT(f->min_age) : RG_PNULL;
    p[7] = f->has_guardian ? RG_PINT(f->guardian_under) : RG_PNULL;
    p[8] = RG_PINT(f->hold_minutes);
}

#define EVENT_CHANGE "event.change"

/* Keeps the search index in step with the event: its entry written when it
 * is published and public, else removed. */
static int index_event(rg_app *app, const rg_rows *r)
{
    char id[32];
    snprintf(id, sizeof id, "%lld", (long long)rg_rows_int(r, 0, "id", 0));
    const char *status = rg_rows_get(r, 0, "status");
    int rc;
    if (strcmp(status, "published") == 0 && rg_rows_bool(r, 0, "is_public")) {
        /* The venue's city and country are words of the event too. */
        int64_t venue = rg_rows_int(r, 0, "venue_id", 0);
        rg_rows *v = NULL;
        if (venue > 0) {
            rg_param p[] = {RG_PINT(venue)};
            if ((rc = rg_rel_run(app, "venue_get", p, 1, &v)) < 0)
                return rc; /* not an entry without its place: the intent stays */
        }
        char tags[600];
        snprintf(tags, sizeof tags, "%s %s %s", rg_rows_get(r, 0, "type"),
                 v && v->nrows ? rg_rows_get(v, 0, "city") : "",
                 v && v->nrows ? rg_rows_get(v, 0, "country") : "");
        rg_search_doc d = {.type = "event",
                           .id = id,
                           .title = rg_rows_get(r, 0, "title"),
                           .body = rg_rows_get(r, 0, "description"),
                           .tags = tags};
        const char *lat = v && v->nrows ? rg_rows_get(v, 0, "lat") : NULL;
        const char *lng = v && v->nrows ? rg_rows_get(v, 0, "lng") : NULL;
        if (lat && lng) {
            d.has_point = true;
            d.lat = strtod(lat, NULL);
            d.lng = strtod(lng, NULL);
        }
        rc = rg_search_upsert(&app->st.search, &d);
        rg_rows_free(v);
    } else {
        rc = rg_search_remove(&app->st.search, "event", id);
    }
    return rc < 0 ? rc : 0;
}

static int load_event(rg_app *app, int64_t id, rg_rows **out)
{
    return rg__event_row(app, NULL, id, out);
}

/* The fields a client may set on an event. */
static const char *const patch_fields[] = {"title",       "slug",
                                           "description", "startDate",
                                           "endDate",     "registrationDeadline",
                                           "venueId",     "maxParticipants",
                                           "status",      "type",
                                           "isFeatured",  "isPublic",
                                           "cost",        "waitlistEnabled",
                                           "minAge",      "guardianConsentUnder",
                                           "holdMinutes", NULL};

int rg_event_create(rg_app *app, const rg_ctx *ctx, json_t *body, json_t **out)
{
    const rg_principal *who = &ctx->who;
    if (!(who->roles & (RG_ROLE_ORGANIZER | RG_ROLE_ADMIN)))
        return rg_error_set(RG_EFORBIDDEN, "only organizers and admins create events");
    if (!json_is_object(body))
        return v_not_object(body);
    struct event_fields f = {.is_public = true, .hold_minutes = 30};
    v_ctx v = {0};
    v_only(&v, body, patch_fields); /* the same fields as PATCH; a typo is an error */
    apply_fields(&v, body, &f, true);
    json_t *status = json_object_get(body, "status");
    if (status && !(json_is_string(status) && strcmp(json_string_value(status), "draft") == 0))
        v_fail(&v, "status", "a new event starts as a draft; publish it with PATCH");
    int rc = v_finish(&v);
    if (rc < 0)
        return rc;
    if (f.has_venue && (rc = venue_exists(app, f.venue_id)) <= 0) {
        if (rc < 0)
            return rc;
        rg_error_field("venueId", "no such venue");
        return rg_error_set(RG_EVALIDATION, "the venue does not exist");
    }
    char slug[160];
    bool generated = !f.slug;
    if (generated) {
        slugify(f.title, slug, sizeof slug);
        f.slug = slug;
    }
    char now[RG_TIME_LEN + 1];
    rg_time_format(rg_now(), now);
    rg_param p[19];
    fill_params(&f, p);
    p[8] = RG_PTEXT(who->user_id);
    fill_options(&f, p + 9);
    p[18] = RG_PTEXT(now);
    rg_rows *rows = NULL;
    rc = rg_rel_run(app, "event_insert", p, 19, &rows);
    /* A generated slug that is taken gets a short random suffix. */
    for (int attempt = 0; rc == RG_ECONFLICT && generated && attempt < 5; attempt++) {
        char suffix[16];
        rg_random_token(suffix, 4);
        for (char *s = suffix; *s; s++)
            *s = isalnum((unsigned char)*s) ? (char)tolower((unsigned char)*s) : 'x';
        char base[128];
        snprintf(base, sizeof base, "%.100s", slug);
        snprintf(slug, sizeof slug, "%s-%s", base, suffix);
        rg_error_clear();
        rc = rg_rel_run(app, "event_insert", p, 19, &rows);
    }
    if (rc == RG_ECONFLICT) {
        rg_error_clear();
        rg_error_field("slug", "is already used by another event");
        return rg_error_set(RG_ECONFLICT, "the slug is already taken");
    }
    if (rc < 0)
        return rc;
    int64_t id = rg_rows_int(rows, 0, "id", 0);
    rg_rows_free(rows);
    if ((rc = load_event(app, id, &rows)) < 0)
        return rc;
    *out = rg__event_view(rows, 0);
    rg_rows_free(rows);
    return 0;
}

/* The cached view of an event is "<audience>\n<json>": audience "*" when
 * everyone may see it, else the organizer's id (admins, and the owner while
 * an organizer: as rg_manages). */
static bool audience_allows(const char *audience, size_t alen, const rg_principal *who)
{
    if (alen == 1 && audience[0] == '*')
        return true;
    return rg_is_admin(who) || ((who->roles & RG_ROLE_ORGANIZER) && who->user_id[0] &&
                                alen == RG_OID_LEN && memcmp(audience, who->user_id, alen) == 0);
}

int rg_event_get_text(rg_app *app, const rg_ctx *ctx, const char *id_or_slug, char **out,
                      size_t *len)
{
    const rg_principal *who = &ctx->who;
    int64_t id, version = 0;
    rg_rows *rows = NULL;
    int rc;
    char key[40] = "";
    if (rg_parse_id(id_or_slug, &id)) {
        char verkey[40];
        rg__event_key(id, key, sizeof key);
        rg__event_verkey(id, verkey, sizeof verkey);
        char *val = NULL;
        size_t vlen;
        /* Someone who just changed data skips views a replica may have filled. */
        if (rg_vcache_get(app, key, verkey, &val, &vlen, &version) == 0 && !ctx->read_own_writes) {
            char *nl = memchr(val, '\n', vlen);
            if (nl) {
                if (!audience_allows(val, (size_t)(nl - val), who)) {
                    free(val);
                    return rg_error_set(RG_ENOTFOUND, "no such event");
                }
                *len = vlen - (size_t)(nl + 1 - val);
                memmove(val, nl + 1, *len + 1);
                *out = val;
                return 0;
            }
        }
        free(val);
        rc = rg__event_row(app, ctx, id, &rows);
    } else {
        /* By slug: not cached, as the version must be known before reading. */
        if (strlen(id_or_slug) > 200)
            return rg_error_set(RG_ENOTFOUND, "no such event");
        rg_param p[] = {RG_PTEXT(id_or_slug)};
        rc = rg_rel_run_read(app, ctx, "event_get_by_slug", p, 1, &rows);
        if (rc >= 0 && rows->nrows == 0) {
            rg_rows_free(rows);
            return rg_error_set(RG_ENOTFOUND, "no such event");
        }
    }
    if (rc < 0)
        return rc;
    json_t *ev = rg__event_view(rows, 0);
    char *text = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    if (!text)
        abort();
    if (key[0]) {
        bool everyone = strcmp(rg_rows_get(rows, 0, "status"), "draft") != 0 &&
                        rg_rows_bool(rows, 0, "is_public");
        rg_buf entry = {0};
        rg_buf_printf(&entry, "%s\n%s", everyone ? "*" : rg_rows_get(rows, 0, "organizer_id"),
                      text);
        bool replicas = app->cfg->relational_replica_urls && *app->cfg->relational_replica_urls;
        bool shared = app->st.cache.ops->caps & RG_CACHE_CAP_SHARED;
        rg_vcache_set(app, key, version, entry.data, entry.len,
                      shared && !replicas ? EVENT_CACHE_TTL_LONG_MS : EVENT_CACHE_TTL_MS);
        rg_buf_free(&entry);
    }
    bool visible = rg__event_visible(who, rows);
    rg_rows_free(rows);
    if (!visible) {
        free(text);
        return rg_error_set(RG_ENOTFOUND, "no such event");
    }
    *out = text;
    *len = strlen(text);
    return 0;
}

int rg_event_get(rg_app *app, const rg_ctx *ctx, const char *id_or_slug, json_t **out)
{
    char *text;
    size_t len;
    int rc = rg_event_get_text(app, ctx, id_or_slug, &text, &len);
    if (rc < 0)
        return rc;
    *out = json_loadb(text, len, 0, NULL);
    free(text);
    return *out ? 0 : rg_error_set(RG_EINTERNAL, "internal error");
}

static bool transition_ok(const char *from, const char *to)
{
    if (strcmp(from, to) == 0)
        return true;
    if (strcmp(from, "draft") == 0)
        return strcmp(to, "published") == 0 || strcmp(to, "cancelled") == 0;
    if (strcmp(from, "published") == 0)
        return strcmp(to, "cancelled") == 0 || strcmp(to, "completed") == 0;
    return false;
}

/* Writes the event row and, when the change opened places (a larger
 * maximum, a published event with people waiting), moves waitlisted people up
 * into them, all in one transaction; an event that became free confirms the
 * registrations that were waiting for payment. Returns rows changed (0: places were
 * taken meanwhile below the new maximum) or an error. */
static int update_and_fill(rg_app *app, const rg_principal *who, int64_t id, const rg_param *p,
                           const struct event_fields *f, const char *status, const char *now,
                           rg_intent *in)
{
    rg_relational *rel = &app->st.rel;
    rg_rel_conn *c;
    int rc = rg_rel_acquire(rel, &c);
    if (rc < 0)
        return rc;
    if ((rc = rg_rel_begin(rel, c, true)) < 0)
        goto out;
    int changed = rg_rel_query(rel, c, "event_update", p, 20, NULL);
    if ((rc = changed) <= 0)
        goto fail;
    if (!f->has_cost) { /* free now: nobody has anything left to pay */
        rg_param cp[] = {RG_PINT(id), RG_PTEXT(now)};
        if ((rc = rg_rel_query(rel, c, "registrations_confirm_pending", cp, 2, NULL)) < 0)
            goto fail;
    }
    if (strcmp(status, "published") == 0) {
        int moved;
        while ((moved = rg__promote_waitlisted(app, c, id, f->has_cost, f->hold_minutes, now)) > 0)
            ;
        if ((rc = moved) < 0)
            goto fail;
    }
    /* Audit (accounts and privacy): a status change commits with its entry. */
    if (strcmp(f->status, status) != 0) {
        char action[32], target[24];
        snprintf(action, sizeof action, "event.%s",
                 strcmp(status, "published") == 0   ? "publish"
                 : strcmp(status, "cancelled") == 0 ? "cancel"
                 : strcmp(status, "completed") == 0 ? "complete"
                                                    : "status");
        snprintf(target, sizeof target, "%lld", (long long)id);
        json_t *d = json_pack("{s:s, s:s}", "from", f->status, "to", status);
        rc = rg_audit(app, c, who->user_id, action, "event", target, d);
        json_decref(d);
        if (rc < 0)
            goto fail;
    }
    /* The search entry and the channel follow the row: the intent commits
     * with it, so that they follow it even after a crash (intents.h). */
    char subject[24];
    snprintf(subject, sizeof subject, "%lld", (long long)id);
    if ((rc = rg_intent_open(app, c, EVENT_CHANGE, subject, 1, in)) < 0)
        goto fail;
    if ((rc = rg_rel_commit(rel, c)) < 0)
        goto fail;
    rc = changed;
    goto out;
fail:
    rg_rel_rollback(rel, c);
out:
    rg_rel_release(rel, c);
    return rc;
}

/* The steps of an event change after its row (event.change, intents.h):
 * 2 the search entry as the row says, 3 the channel of a published event
 * (made once: its unique eventId index keeps one), then the intent closes.
 * Each step reads the row as it is now, so running them again, or after a
 * later change, writes the same. */
static int follow_change(rg_app *app, rg_intent *in, const rg_rows *r)
{
    /* The driver does every step again, so steps 2 and 3 are not recorded
     * (one write less each); their fault points stay. */
    int rc = index_event(app, r);
    if (rc == 0)
        rg_intent_fault(in->kind, 2);
    if (rc == 0 && strcmp(rg_rows_get(r, 0, "status"), "published") == 0) {
        int64_t id = rg_rows_int(r, 0, "id", 0);
        rc = rg__event_channel_ensure(app, id, rg_rows_get(r, 0, "title"),
                                      rg_rows_get(r, 0, "organizer_id"), NULL);
    }
    if (rc == 0) {
        rg_intent_fault(in->kind, 3);
        rc = rg_intent_close(app, in);
    }
    return rc < 0 ? rc : 0;
}

int rg__event_change_drive(rg_app *app, const rg_intent *in)
{
    int64_t id;
    rg_rows *r = NULL;
    rg_intent at = *in;
    int rc = rg_parse_id(in->subject, &id) ? load_event(app, id, &r) : RG_ENOTFOUND;
    if (rc == RG_ENOTFOUND) {
        rg_error_clear();
        rg_rows_free(r);
        return rg_intent_close(app, in); /* no such event: nothing to follow */
    }
    if (rc < 0)
        return rc;
    if (r && r->nrows) {
        rg__event_uncache(app, id);
        rc = follow_change(app, &at, r);
    } else {
        rc = rg_intent_close(app, in); /* no such event: nothing to follow */
    }
    rg_rows_free(r);
    return rc;
}

int rg_event_patch(rg_app *app, const rg_ctx *ctx, const char *id_s, json_t *patch, json_t **out)
{
    const rg_principal *who = &ctx->who;
    int64_t id;
    if (!rg_parse_id(id_s, &id))
        return rg_error_set(RG_ENOTFOUND, "no such event");
    if (!json_is_object(patch))
        return v_not_object(patch);
    rg_rows *r;
    int rc = load_event(app, id, &r);
    if (rc < 0)
        return rc;
    if (!rg__event_can_manage(who, r)) {
        bool visible = rg__event_visible(who, r);
        rg_rows_free(r);
        return visible ? rg_error_set(RG_EFORBIDDEN, "only the organizer or an admin can change "
                                                     "this event")
                       : rg_error_set(RG_ENOTFOUND, "no such event");
    }
    struct event_fields f = {0};
    f.title = rg_rows_get(r, 0, "title");
    f.slug = rg_rows_get(r, 0, "slug");
    f.description = rg_rows_get(r, 0, "description");
    f.type = rg_rows_get(r, 0, "type");
    f.status = rg_rows_get(r, 0, "status");
    snprintf(f.start, sizeof f.start, "%s", rg_rows_get(r, 0, "start_date"));
    snprintf(f.end, sizeof f.end, "%s", rg_rows_get(r, 0, "end_date"));
    rg_time_parse(f.start, &f.start_t);
    rg_time_parse(f.end, &f.end_t);
    if ((f.has_deadline = rg_rows_get(r, 0, "registration_deadline") != NULL)) {
        snprintf(f.deadline, sizeof f.deadline, "%s", rg_rows_get(r, 0, "registration_deadline"));
        rg_time_parse(f.deadline, &f.deadline_t);
    }
    f.has_venue = rg_rows_get(r, 0, "venue_id") != NULL;
    f.venue_id = rg_rows_int(r, 0, "venue_id", 0);
    f.has_max = rg_rows_get(r, 0, "max_participants") != NULL;
    f.max = rg_rows_int(r, 0, "max_participants", 0);
    f.has_cost = rg_rows_get(r, 0, "cost_minor") != NULL;
    f.cost_minor = rg_rows_int(r, 0, "cost_minor", 0);
    f.currency = rg_rows_get(r, 0, "cost_currency");
    f.featured = rg_rows_bool(r, 0, "is_featured");
    f.is_public = rg_rows_bool(r, 0, "is_public");
    f.waitlist = rg_rows_bool(r, 0, "waitlist_enabled");
    f.has_min_age = rg_rows_get(r, 0, "min_age") != NULL;
    f.min_age = rg_rows_int(r, 0, "min_age", 0);
    f.has_guardian = rg_rows_get(r, 0, "guardian_consent_under") != NULL;
    f.guardian_under = rg_rows_int(r, 0, "guardian_consent_under", 0);
    f.hold_minutes = rg_rows_int(r, 0, "hold_minutes", 30);
    int64_t taken = rg_rows_int(r, 0, "taken", 0);

    v_ctx v = {0};
    v_only(&v, patch, patch_fields);
    apply_fields(&v, patch, &f, false);
    const char *new_status = f.status;
    if (json_object_get(patch, "status") &&
        v_enum(&v, patch, "status", true, status_values, &new_status) &&
        !transition_ok(f.status, new_status)) {
        char msg[128];
        snprintf(msg, sizeof msg, "cannot go from %s to %s", f.status, new_status);
        v_fail(&v, "status", msg);
    }
    if (f.has_max && f.max < taken) {
        char msg[128];
        snprintf(msg, sizeof msg, "cannot be below the %lld places already taken",
                 (long long)taken);
        v_fail(&v, "maxParticipants", msg);
    }
    if ((rc = v_finish(&v)) < 0)
        goto done;
    if (f.has_venue && json_object_get(patch, "venueId") &&
        (rc = venue_exists(app, f.venue_id)) <= 0) {
        if (rc == 0) {
            rg_error_field("venueId", "no such venue");
            rc = rg_error_set(RG_EVALIDATION, "the venue does not exist");
        }
        goto done;
    }
    char now[RG_TIME_LEN + 1];
    rg_time_format(rg_now(), now);
    rg_param p[20];
    p[0] = RG_PINT(id);
    fill_params(&f, p + 1);
    p[9] = RG_PTEXT(new_status);
    fill_options(&f, p + 10);
    p[19] = RG_PTEXT(now);
    rg_intent in;
    rc = update_and_fill(app, who, id, p, &f, new_status, now, &in);
    if (rc == RG_ECONFLICT) {
        rg_error_clear();
        rg_error_field("slug", "is already used by another event");
        rc = rg_error_set(RG_ECONFLICT, "the slug is already taken");
        goto done;
    }
    if (rc == 0) /* places were taken meanwhile below the new maximum */
        rc = rg_error_set(RG_ECONFLICT, "places were taken meanwhile; read the event and retry");
    if (rc < 0)
        goto done;
    rg_intent_fault(EVENT_CHANGE, 1);
    rg_rows_free(r);
    r = NULL;
    rg__event_uncache(app, id);
    if ((rc = load_event(app, id, &r)) < 0)
        goto done;
    /* The change stands once its row is written: a step that fails here is
     * a warning, and the intent-resume job finishes it. */
    if (follow_change(app, &in, r) < 0) {
        rg_warn("event %lld: its search entry or channel could not be written now; the "
                "intent-resume job will (%s)",
                (long long)id, rg_error_detail());
        rg_error_clear();
    }
    *out = rg__event_view(r, 0);
    rc = 0;
done:
    rg_rows_free(r);
    return rc;
}

/* The search record of row i of event_index_all (id and tags are the
 * caller's buffers), as index_event makes it for one event. */
static void event_doc(const rg_rows *rows, int i, char id[32], char tags[600], rg_search_doc *d)
{
    snprintf(id, 32, "%s", rg_rows_get(rows, i, "id"));
    snprintf(tags, 600, "%s %s %s", rg_rows_get(rows, i, "type"), rg_rows_get(rows, i, "city"),
             rg_rows_get(rows, i, "country"));
    *d = (rg_search_doc){.type = "event",
                         .id = id,
                         .title = rg_rows_get(rows, i, "title"),
                         .body = rg_rows_get(rows, i, "description"),
                         .tags = tags};
    const char *lat = rg_rows_get(rows, i, "lat"), *lng = rg_rows_get(rows, i, "lng");
    if (lat && lng) {
        d->has_point = true;
        d->lat = strtod(lat, NULL);
        d->lng = strtod(lng, NULL);
    }
}

/* FNV-1a of a record's three texts, for comparing what the index holds
 * with what it should hold. */
static uint64_t doc_print(const char *title, const char *body, const char *tags)
{
    uint64_t h = 14695981039346656037ull;
    const char *parts[] = {title ? title : "", body ? body : "", tags ? tags : ""};
    for (int k = 0; k < 3; k++) {
        for (const unsigned char *p = (const unsigned char *)parts[k]; *p; p++)
            h = (h ^ *p) * 1099511628211ull;
        h = (h ^ 0x1f) * 1099511628211ull;
    }
    return h;
}

/* What the index holds of events: ids in bytewise order, each with the
 * print of its text and whether a listed event claimed it. */
struct held {
    char id[32];
    uint64_t print;
    bool claimed;
};

struct held_set {
    struct held *v;
    long n, cap;
};

static int held_load(rg_app *app, struct held_set *h)
{
    char after[32] = "";
    for (;;) {
        rg_search_entry *e;
        int n, rc = rg_search_scan(&app->st.search, "event", after, RG_SEARCH_LIMIT_MAX, &e, &n);
        if (rc < 0)
            return rc;
        for (int i = 0; i < n; i++) {
            if (h->n == h->cap) {
                h->cap = h->cap ? h->cap * 2 : 1024;
                h->v = rg_xrealloc(h->v, (size_t)h->cap * sizeof *h->v);
            }
            struct held *x = &h->v[h->n++];
            snprintf(x->id, sizeof x->id, "%s", e[i].id);
            x->print = doc_print(e[i].title, e[i].body, e[i].tags);
            x->claimed = false;
            snprintf(after, sizeof after, "%s", e[i].id);
        }
        rg_search_entries_free(e, n);
        if (n < RG_SEARCH_LIMIT_MAX)
            return 0;
    }
}

static int held_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const struct held *)elem)->id);
}

static struct held *held_find(struct held_set *h, const char *id)
{
    return h->n ? bsearch(id, h->v, (size_t)h->n, sizeof *h->v, held_cmp) : NULL;
}

#define INDEX_PAGE 500 /* event_index_all's and event_index_changed's LIMIT */

/* Calls listed(ctx, docs, n) with the search records of the published,
 * public events, and gone(ctx, id) (may be NULL) with the ids of the
 * others, a page at a time in id order: every listed event when since is
 * NULL, else every event changed at or after since. */
static int each_event(rg_app *app, const char *since,
                      int (*listed)(void *ctx, const rg_search_doc *docs, int n),
                      int (*gone)(void *ctx, const char *id), void *ctx)
{
    char(*ids)[32] = rg_xcalloc(INDEX_PAGE, sizeof *ids);
    char(*tags)[600] = rg_xcalloc(INDEX_PAGE, sizeof *tags);
    rg_search_doc *docs = rg_xcalloc(INDEX_PAGE, sizeof *docs);
    int64_t after = 0;
    int rc;
    for (;;) {
        rg_param p[] = {RG_PTEXT(since), RG_PINT(after)};
        rg_rows *rows;
        rc = since ? rg_rel_run(app, "event_index_changed", p, 2, &rows)
                   : rg_rel_run(app, "event_index_all", p + 1, 1, &rows);
        if (rc < 0)
            break;
        rc = 0;
        int n = rows->nrows < INDEX_PAGE ? rows->nrows : INDEX_PAGE, k = 0;
        for (int i = 0; i < n && rc == 0; i++) {
            after = rg_rows_int(rows, i, "id", after);
            if (strcmp(rg_rows_get(rows, i, "status"), "published") == 0 &&
                rg_rows_bool(rows, i, "is_public")) {
                event_doc(rows, i, ids[k], tags[k], &docs[k]);
                k++;
            } else if (gone) {
                rc = gone(ctx, rg_rows_get(rows, i, "id"));
            }
        }
        if (rc == 0 && k)
            rc = listed(ctx, docs, k);
        rg_rows_free(rows);
        if (rc < 0 || n == 0)
            break;
    }
    free(ids);
    free(tags);
    free(docs);
    return rc < 0 ? rc : 0;
}

struct rebuild_run {
    rg_app *app;
    FILE *progress;
    int64_t t0;
    long done;
};

static int build_page(void *ctx, const rg_search_doc *docs, int n)
{
    struct rebuild_run *r = ctx;
    int rc = rg_search_build_add(&r->app->st.search, docs, n);
    long before = r->done;
    r->done += rc == 0 ? n : 0;
    if (rc == 0 && r->progress && r->done / 10000 != before / 10000)
        fprintf(r->progress, "search: %ld events indexed aside (%.1f s)\n", r->done,
                (double)(rg_mono_ms() - r->t0) / 1000.0);
    return rc;
}

/* The events changed during the build, taken in at the switch, while
 * writes to the index in use wait (rg_search_build_switch). */
struct catch_up {
    rg_app *app;
    const char *since;
    rg_search_sink *sink;
    long done;
};

static int catch_up_put(void *ctx, const rg_search_doc *docs, int n)
{
    struct catch_up *u = ctx;
    u->done += n;
    return u->sink->put(u->sink, docs, n);
}

static int catch_up_drop(void *ctx, const char *id)
{
    struct catch_up *u = ctx;
    u->done++;
    return u->sink->drop(u->sink, "event", id);
}

static int catch_up_changes(void *ctx, rg_search_sink *sink)
{
    struct catch_up *u = ctx;
    u->sink = sink;
    return each_event(u->app, u->since, catch_up_put, catch_up_drop, u);
}

int rg_search_rebuild(rg_app *app, FILE *progress, rg_rebuild_counts *out)
{
    memset(out, 0, sizeof *out);
    /* Changes made while the build runs reach the index in use, not the
     * one aside: the events changed since a little before the start are
     * read again at the switch, while writes to the index in use wait for
     * it, and put in the build (or taken out of it, those no longer
     * listed). A write that waited lands in the new index after the
     * switch; one made before was read. updated_at is a writer's clock at
     * its transaction's start: the margin covers transactions that commit
     * later and clocks a little apart. */
    char since[RG_TIME_LEN + 1];
    rg_time_format(rg_now() - RG_REBUILD_MARGIN_S, since);
    struct rebuild_run run = {app, progress, rg_mono_ms(), 0};
    int resources = 0;
    int rc = rg_search_build_begin(&app->st.search);
    if (rc < 0)
        return rc;
    if ((rc = each_event(app, NULL, build_page, NULL, &run)) == 0)
        rc = rg_resource_build(app, &resources);
    out->events = run.done;
    out->resources = resources;
    if (rc < 0) {
        int err = rc;
        rg_search_build_end(&app->st.search, false);
        return err;
    }
    if (progress)
        fprintf(progress, "search: %ld events and %d resources indexed aside (%.1f s)\n",
                out->events, resources, (double)(rg_mono_ms() - run.t0) / 1000.0);
    struct catch_up u = {app, since, NULL, 0};
    if ((rc = rg_search_build_switch(&app->st.search, catch_up_changes, &u)) < 0)
        return rc;
    out->caught_up = u.done;
    if (progress)
        fprintf(progress,
                "search: switched, with %ld events changed since the start taken in "
                "(%.1f s)\n",
                u.done, (double)(rg_mono_ms() - run.t0) / 1000.0);
    /* Resources where they stand, and the entries of those deleted
     * meanwhile (a change of a resource during the build is taken in here,
     * after the switch). */
    if ((rc = rg_resource_reindex(app, &resources)) == 0)
        rc = rg_resource_prune(app);
    return rc;
}

bool rg_event_index_missing(rg_app *app)
{
    rg_search_entry *e = NULL;
    int n = 0;
    rg_rows *rows = NULL;
    rg_param p[] = {RG_PINT(0)};
    bool missing = rg_search_scan(&app->st.search, "event", "", 1, &e, &n) == 0 && n == 0 &&
                   rg_rel_run(app, "event_index_all", p, 1, &rows) == 0 && rows->nrows > 0;
    rg_search_entries_free(e, n);
    rg_rows_free(rows);
    rg_error_clear();
    return missing;
}

struct check_run {
    struct held_set *held;
    rg_search_drift *out;
};

static void sample(char (*ids)[32], long n, const char *id)
{
    if (n <= RG_SEARCH_DRIFT_SAMPLES)
        snprintf(ids[n - 1], 32, "%s", id);
}

static int check_page(void *ctx, const rg_search_doc *docs, int n)
{
    struct check_run *c = ctx;
    for (int i = 0; i < n; i++) {
        const rg_search_doc *d = &docs[i];
        c->out->expected++;
        struct held *x = held_find(c->held, d->id);
        if (!x) {
            c->out->missing++;
            sample(c->out->missing_ids, c->out->missing, d->id);
            continue;
        }
        x->claimed = true;
        if (x->print != doc_print(d->title, d->body, d->tags)) {
            c->out->stale++;
            sample(c->out->stale_ids, c->out->stale, d->id);
        }
    }
    return 0;
}

int rg_event_search_check(rg_app *app, rg_search_drift *out)
{
    memset(out, 0, sizeof *out);
    struct held_set held = {0};
    int rc = held_load(app, &held);
    struct check_run run = {&held, out};
    if (rc == 0)
        rc = each_event(app, NULL, check_page, NULL, &run);
    out->indexed = held.n;
    for (long i = 0; rc == 0 && i < held.n; i++)
        if (!held.v[i].claimed) {
            out->extra++;
            sample(out->extra_ids, out->extra, held.v[i].id);
        }
    free(held.v);
    return rc;
}
