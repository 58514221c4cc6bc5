/* References across stores (risinggen/domain/references.h).
 *
 * Rows to documents: the people named by registrations, payments, events
 * (their organizer) and venues (who made them), each distinct id once, a
 * page at a time in id order (the tables' indexes on those columns), each
 * looked up among the user documents; tombstones are read first and
 * skipped. Documents to rows: channels, feedback and resources name an
 * event by its id; every such document is read, a page at a time by id, and its event
 * looked up. Memory stays bounded by a page; time grows with the ids. */
#include "risinggen/domain/references.h"
#include "domain.h"
#include "event_record.h"
#include "risinggen/base/alloc.h"
#include "risinggen/base/error.h"
#include "risinggen/base/id.h"

#include <stdlib.h>
#include <string.h>

#define PAGE 500 /* the refs_* queries' LIMIT */

struct tombstones {
    char (*v)[40];
    long n, cap;
};

static int tomb_cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

static int tombstones_load(rg_app *app, struct tombstones *t)
{
    char after[40] = "";
    for (;;) {
        rg_param p[] = {RG_PTEXT(after)};
        rg_rows *rows;
        int rc = rg_rel_run(app, "refs_tombstones", p, 1, &rows);
        if (rc < 0)
            return rc;
        int n = rows->nrows;
        for (int i = 0; i < n; i++) {
            if (t->n == t->cap) {
                t->cap = t->cap ? t->cap * 2 : 64;
                t->v = rg_xrealloc(t->v, (size_t)t->cap * sizeof *t->v);
            }
            snprintf(t->v[t->n++], 40, "%s", rg_rows_get(rows, i, "ref"));
            snprintf(after, sizeof after, "%s", rg_rows_get(rows, i, "ref"));
        }
        rg_rows_free(rows);
        if (n < PAGE)
            break;
    }
    if (t->n > 1) /* already in order; kept sorted for bsearch either way */
        qsort(t->v, (size_t)t->n, sizeof *t->v, tomb_cmp);
    return 0;
}

static bool is_tombstone(const struct tombstones *t, const char *id)
{
    return t->n && bsearch(id, t->v, (size_t)t->n, sizeof *t->v, tomb_cmp);
}

static void note_missing(rg_ref_kind *k, const char *id, long holders)
{
    if (k->missing < RG_REFS_SAMPLES) {
        snprintf(k->ids[k->missing], sizeof k->ids[0], "%s", id);
        k->counts[k->missing] = holders;
    }
    k->missing++;
    k->holders += holders;
}

/* One column of rows that names people: query pages its distinct ids,
 * count_query counts the rows that hold one. */
static int check_people(rg_app *app, const struct tombstones *t, const char *query,
                        const char *count_query, rg_ref_kind *k)
{
    char after[40] = "";
    for (;;) {
        rg_param p[] = {RG_PTEXT(after)};
        rg_rows *rows;
        int rc = rg_rel_run(app, query, p, 1, &rows);
        if (rc < 0)
            return rc;
        rc = 0;
        int n = rows->nrows;
        for (int i = 0; i < n && rc == 0; i++) {
            const char *id = rg_rows_get(rows, i, "ref");
            snprintf(after, sizeof after, "%s", id);
            k->checked++;
            if (is_tombstone(t, id))
                continue;
            json_t *doc = NULL;
            rc = rg_oid_valid(id) ? rg_docs_get(&app->st.docs, COLL_USERS, id, &doc, NULL)
                                  : RG_ENOTFOUND;
            json_decref(doc);
            if (rc != RG_ENOTFOUND)
                continue;
            rg_error_clear();
            rg_param cp[] = {RG_PTEXT(id)};
            rg_rows *c;
            if ((rc = rg_rel_run(app, count_query, cp, 1, &c)) < 0)
                break;
            rc = 0;
            note_missing(k, id, c->nrows ? rg_rows_int(c, 0, "n", 0) : 0);
            rg_rows_free(c);
        }
        rg_rows_free(rows);
        if (rc < 0)
            return rc;
        if (n < PAGE)
            return 0;
    }
}

/* The documents of coll that name an event ("eventId", a number). */
static int check_events_named(rg_app *app, const char *coll, rg_ref_kind *k)
{
    char after[RG_OID_LEN + 1] = "";
    for (;;) {
        json_t *arr;
        int rc =
            rg_docs_find(&app->st.docs, coll,
                         &(rg_doc_query){.after_id = after[0] ? after : NULL, .limit = 200}, &arr);
        if (rc < 0)
            return rc;
        size_t i, n = json_array_size(arr);
        json_t *it;
        json_array_foreach(arr, i, it)
        {
            const char *id = json_string_value(json_object_get(it, "id"));
            snprintf(after, sizeof after, "%s", id ? id : "");
            json_t *ev = json_object_get(json_object_get(it, "doc"), "eventId");
            if (!json_is_integer(ev))
                continue;
            k->checked++;
            rg_rows *r = NULL;
            rc = rg__event_row(app, NULL, (int64_t)json_integer_value(ev), &r);
            rg_rows_free(r);
            if (rc == RG_ENOTFOUND) {
                rg_error_clear();
                rc = 0;
                char name[64];
                snprintf(name, sizeof name, "%s (event %lld)", id ? id : "?",
                         (long long)json_integer_value(ev));
                note_missing(k, name, 1);
            }
            if (rc < 0)
                break;
        }
        json_decref(arr);
        if (rc < 0)
            return rc;
        if (n < 200)
            return 0;
    }
}

int rg_references_check(rg_app *app, rg_ref_report *out)
{
    memset(out, 0, sizeof *out);
    static const struct {
        const char *what, *query, *count;
    } people[] = {
        {"event_registrations.user_id -> users", "refs_registrations", "refs_registrations_count"},
        {"payments.user_id -> users", "refs_payments", "refs_payments_count"},
        {"events.organizer_id -> users", "refs_events", "refs_events_count"},
        {"venues.created_by -> users", "refs_venues", "refs_venues_count"},
    };
    struct tombstones t = {0};
    int rc = tombstones_load(app, &t);
    for (int i = 0; i < 4 && rc == 0; i++) {
        out->kinds[i].what = people[i].what;
        rc = check_people(app, &t, people[i].query, people[i].count, &out->kinds[i]);
    }
    free(t.v);
    out->kinds[4].what = "channels.eventId -> events";
    out->kinds[5].what = "feedback.eventId -> events";
    out->kinds[6].what = "resources.eventId -> events";
    if (rc == 0)
        rc = check_events_named(app, COLL_CHANNELS, &out->kinds[4]);
    if (rc == 0)
        rc = check_events_named(app, COLL_FEEDBACK, &out->kinds[5]);
    if (rc == 0)
        rc = check_events_named(app, COLL_RESOURCES, &out->kinds[6]);
    return rc;
}
