/* GET /v1/search: the search port's ranked hits across events and
 * resources, each checked against its store of record (published public
 * events, public resources) and titled from it. */
#include "risinggen/domain/content.h"
#include "domain.h"
#include "risinggen/base/error.h"
#include "risinggen/base/id.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SEARCH_WINDOW 1000

/* The hit when its record is still findable: a published public event or a
 * public resource, with its title from the store of record. NULL otherwise. */
static json_t *search_item(rg_app *app, const rg_ctx *ctx, const rg_search_hit *h)
{
    json_t *item = NULL;
    if (strcmp(h->type, "event") == 0) {
        int64_t id;
        rg_rows *ev;
        rg_param p[] = {RG_PINT(0)};
        if (!rg_parse_id(h->id, &id))
            return NULL;
        p[0] = RG_PINT(id);
        if (rg_rel_run_read(app, ctx, "event_get", p, 1, &ev) < 0)
            return NULL;
        if (ev->nrows && strcmp(rg_rows_get(ev, 0, "status"), "published") == 0 &&
            rg_rows_bool(ev, 0, "is_public"))
            item = json_pack("{s:s, s:I, s:s}", "type", "event", "id", (json_int_t)id, "title",
                             rg_rows_get(ev, 0, "title"));
        rg_rows_free(ev);
    } else if (strcmp(h->type, "resource") == 0) {
        json_t *doc;
        if (!rg_oid_valid(h->id) ||
            rg_docs_get(&app->st.docs, COLL_RESOURCES, h->id, &doc, NULL) < 0)
            return NULL;
        if (json_is_true(json_object_get(doc, "isPublic")))
            item = json_pack("{s:s, s:s, s:O}", "type", "resource", "id", h->id, "title",
                             json_object_get(doc, "title"));
        json_decref(doc);
    }
    if (item) {
        json_object_set_new(item, "score", json_real(round(h->score * 1000.0) / 1000.0));
        json_object_set_new(item, "highlight",
                            h->highlight ? json_string(h->highlight) : json_null());
    }
    return item;
}

int rg_search_all(rg_app *app, const rg_ctx *ctx, const char *q, const char *types,
                  const char *cursor, int limit, json_t **out)
{
    if (!q)
        return rg_error_set(RG_EINVAL, "q is required");
    size_t qlen = strlen(q);
    if (qlen > 200)
        return rg_error_set(RG_EINVAL, "q is limited to 200 characters");
    if (strspn(q, " \t\r\n") == qlen)
        return rg_error_set(RG_EINVAL, "q must not be empty");
    const char *want[2];
    int ntypes = 0;
    if (types) {
        bool ev = false, res = false;
        const char *p = types;
        for (;;) {
            size_t n = strcspn(p, ",");
            if (n == 5 && strncmp(p, "event", 5) == 0)
                ev = true;
            else if (n == 8 && strncmp(p, "resource", 8) == 0)
                res = true;
            else
                return rg_error_set(RG_EINVAL,
                                    "types is a comma-separated list of event, resource");
            if (!p[n])
                break;
            p += n + 1;
        }
        if (ev)
            want[ntypes++] = "event";
        if (res)
            want[ntypes++] = "resource";
    } else {
        want[ntypes++] = "event";
        want[ntypes++] = "resource";
    }
    int64_t offset = 0;
    if (cursor) {
        char a[32], b[8];
        if (rg_cursor_decode(cursor, a, sizeof a, b, sizeof b) < 0 || !rg_parse_id(a, &offset) ||
            offset >= SEARCH_WINDOW)
            return rg_error_set(RG_EINVAL, "the cursor is not valid");
    }
    int window = (int)offset + limit + 1;
    if (window > SEARCH_WINDOW)
        window = SEARCH_WINDOW;
    rg_search_hit *hits = NULL;
    int n = 0;
    int rc = rg_search_query(&app->st.search, q, want, ntypes, window, &hits, &n);
    if (rc < 0)
        return rc;
    json_t *items = json_array();
    int end = (int)offset + limit < n ? (int)offset + limit : n;
    for (int i = (int)offset; i < end; i++) {
        json_t *it = search_item(app, ctx, &hits[i]);
        rg_error_clear();
        if (it)
            json_array_append_new(items, it);
    }
    char next[64] = "";
    if (n > end && end < SEARCH_WINDOW) {
        char a[32];
        snprintf(a, sizeof a, "%d", end);
        rg_cursor_encode(a, "", next, sizeof next);
    }
    rg_search_hits_free(hits, n);
    *out = rg_list_page(items, next);
    return 0;
}
