/* The wrappers of the search port: argument checks before any adapter runs. */
#include "risinggen/store/search.h"
#include "risinggen/base/alloc.h"
#include "risinggen/base/buf.h"
#include "risinggen/base/error.h"
#include "risinggen/base/validate.h"
#include "risinggen/store/stores.h"
#include "risinggen/base/clock.h"
#include "risinggen/base/metrics.h"

#include <stdlib.h>
#include <string.h>

int rg_search_ops_check(const struct rg_search_ops *o)
{
    if (!o || !o->scheme)
        return rg_error_set(RG_EINVAL, "not a search adapter");
    if (o->version != RG_SEARCH_OPS_VERSION)
        return rg_error_set(RG_EINVAL,
                            "the search adapter '%s' implements version %d of the port, "
                            "this build needs version %d",
                            o->scheme, o->version, RG_SEARCH_OPS_VERSION);
    if (!o->open || !o->close || !o->upsert || !o->remove || !o->query || !o->ping || !o->scan ||
        !o->matching || !o->build_begin || !o->build_add || !o->build_end)
        return rg_error_set(RG_EINVAL, "the search adapter '%s' lacks a slot", o->scheme);
    return 0;
}

int rg_search_open(rg_search_port *out, const struct rg_search_ops *ops, const char *url,
                   const rg_store_options *opts)
{
    memset(out, 0, sizeof *out);
    if (!ops && !(ops = rg_search_adapter(url)))
        return rg_error_last();
    int rc = rg_search_ops_check(ops);
    if (rc < 0 || (rc = ops->open(&out->s, url, opts)) < 0)
        return rc;
    out->ops = ops;
    return 0;
}

void rg_search_close(rg_search_port *p)
{
    if (p->s)
        p->ops->close(p->s);
    p->s = NULL;
}

static bool type_valid(const char *t)
{
    if (!t)
        return false;
    size_t n = 0;
    for (; t[n]; n++)
        if (n >= RG_SEARCH_TYPE_MAX || t[n] < 'a' || t[n] > 'z')
            return false;
    return n > 0;
}

static bool id_valid(const char *id)
{
    size_t n = id ? strnlen(id, RG_SEARCH_ID_MAX + 1) : 0;
    return n > 0 && n <= RG_SEARCH_ID_MAX && rg_utf8_valid(id, n);
}

static bool text_valid(const char *s, size_t max)
{
    if (!s)
        return true;
    size_t n = strnlen(s, max + 1);
    return n <= max && rg_utf8_valid(s, n);
}

static int check_key(const char *type, const char *id)
{
    if (!type_valid(type) || !id_valid(id))
        return rg_error_set(RG_EINVAL, "invalid search record type or id");
    return 0;
}

static int check_doc(const rg_search_doc *doc)
{
    if (!doc)
        return rg_error_set(RG_EINVAL, "no search record");
    int rc = check_key(doc->type, doc->id);
    if (rc < 0)
        return rc;
    if (!text_valid(doc->title, RG_SEARCH_TEXT_MAX) || !text_valid(doc->body, RG_SEARCH_TEXT_MAX) ||
        !text_valid(doc->tags, RG_SEARCH_TEXT_MAX))
        return rg_error_set(RG_EINVAL, "search text too long or not UTF-8");
    if (doc->has_point &&
        !(doc->lat >= -90 && doc->lat <= 90 && doc->lng >= -180 && doc->lng <= 180))
        return rg_error_set(RG_EINVAL, "a search record's point is outside -90..90, -180..180");
    return 0;
}

int rg_search_upsert(rg_search_port *p, const rg_search_doc *doc)
{
    int rc = check_doc(doc);
    if (rc < 0)
        return rc;
    int64_t t0 = rg_mono_us();
    return rg_metrics_timed("search.upsert", t0, p->ops->upsert(p->s, doc));
}

static int doc_key_cmp(const void *a, const void *b)
{
    const rg_search_doc *x = *(const rg_search_doc *const *)a,
                        *y = *(const rg_search_doc *const *)b;
    int c = strcmp(x->type, y->type);
    return c ? c : strcmp(x->id, y->id);
}

/* A batch of records for one call: at most RG_SEARCH_LIMIT_MAX, each valid
 * and each (type, id) once (adapters write a batch as one statement). */
static int check_batch(const rg_search_doc *docs, int n)
{
    if (n < 0 || n > RG_SEARCH_LIMIT_MAX || (n && !docs))
        return rg_error_set(RG_EINVAL, "from 0 to %d search records at once", RG_SEARCH_LIMIT_MAX);
    for (int i = 0; i < n; i++) {
        int rc = check_doc(&docs[i]);
        if (rc < 0)
            return rc;
    }
    if (n > 1) {
        const rg_search_doc **by_key = rg_xcalloc((size_t)n, sizeof *by_key);
        for (int i = 0; i < n; i++)
            by_key[i] = &docs[i];
        qsort(by_key, (size_t)n, sizeof *by_key, doc_key_cmp);
        bool twice = false;
        for (int i = 1; i < n && !twice; i++)
            twice = doc_key_cmp(&by_key[i - 1], &by_key[i]) == 0;
        free(by_key);
        if (twice)
            return rg_error_set(RG_EINVAL, "a search record is twice in one batch");
    }
    return 0;
}

int rg_search_upsert_many(rg_search_port *p, const rg_search_doc *docs, int n)
{
    int rc = check_batch(docs, n);
    if (rc < 0)
        return rc;
    if (!p->ops->upsert_many) {
        for (int i = 0; i < n && rc == 0; i++)
            rc = rg_search_upsert(p, &docs[i]);
        return rc;
    }
    int64_t t0 = rg_mono_us();
    return n ? rg_metrics_timed("search.upsert_many", t0, p->ops->upsert_many(p->s, docs, n)) : 0;
}

int rg_search_remove(rg_search_port *p, const char *type, const char *id)
{
    int rc = check_key(type, id);
    if (rc < 0)
        return rc;
    int64_t t0 = rg_mono_us();
    return rg_metrics_timed("search.remove", t0, p->ops->remove(p->s, type, id));
}

/* The adapter's marked text as HTML: every character that means something
 * in HTML escaped, and the marks as <em>…</em> when they pair up in order
 * (else dropped, so that no element is ever left open). */
static char *highlight_html(const char *marked)
{
    bool paired = true;
    int depth = 0;
    for (const char *s = marked; *s && paired; s++) {
        if (*s == RG_SEARCH_MARK_OPEN[0])
            paired = depth++ == 0;
        else if (*s == RG_SEARCH_MARK_CLOSE[0])
            paired = depth-- == 1;
    }
    paired = paired && depth == 0;
    rg_buf b = {0};
    for (const char *s = marked; *s; s++) {
        switch (*s) {
        case '&':
            rg_buf_puts(&b, "&amp;");
            break;
        case '<':
            rg_buf_puts(&b, "&lt;");
            break;
        case '>':
            rg_buf_puts(&b, "&gt;");
            break;
        case '"':
            rg_buf_puts(&b, "&quot;");
            break;
        case '\'':
            rg_buf_puts(&b, "&#39;");
            break;
        default:
            if (*s == RG_SEARCH_MARK_OPEN[0])
                rg_buf_puts(&b, paired ? "<em>" : "");
            else if (*s == RG_SEARCH_MARK_CLOSE[0])
                rg_buf_puts(&b, paired ? "</em>" : "");
            else
                rg_buf_put(&b, s, 1);
        }
    }
    return rg_buf_steal(&b);
}

static bool part_valid(rg_search_part part)
{
    return part == RG_SEARCH_PART_ALL || part == RG_SEARCH_PART_TITLE ||
           part == RG_SEARCH_PART_REST;
}

static int query(rg_search_port *p, const char *q, rg_search_part part, const char *const *types,
                 int ntypes, int limit, bool highlight, rg_search_hit **out, int *nout)
{
    *out = NULL;
    *nout = 0;
    if (!part_valid(part) || (highlight && part != RG_SEARCH_PART_ALL))
        return rg_error_set(RG_EINVAL, "invalid part of the records to search");
    int max = highlight ? RG_SEARCH_LIMIT_MAX : RG_SEARCH_IDS_MAX;
    if (limit < 1 || limit > max)
        return rg_error_set(RG_EINVAL, "limit must be from 1 to %d", max);
    if (!types)
        ntypes = 0;
    if (ntypes < 0 || ntypes > RG_SEARCH_TYPES_MAX)
        return rg_error_set(RG_EINVAL, "too many types");
    for (int i = 0; i < ntypes; i++)
        if (!type_valid(types[i]))
            return rg_error_set(RG_EINVAL, "invalid type");
    if (!text_valid(q, RG_SEARCH_QUERY_MAX))
        return rg_error_set(RG_EINVAL, "the search text is longer than %d bytes",
                            RG_SEARCH_QUERY_MAX);
    if (!q || !*q)
        return 0;
    int64_t t0 = rg_mono_us();
    int rc =
        rg_metrics_timed(highlight ? "search.query" : "search.ids", t0,
                         p->ops->query(p->s, q, part, types, ntypes, limit, highlight, out, nout));
    for (int i = 0; rc >= 0 && i < *nout; i++) {
        rg_search_hit *h = &(*out)[i];
        if (!highlight || !h->highlight) {
            free(h->highlight);
            h->highlight = NULL;
            continue;
        }
        char *html = highlight_html(h->highlight);
        free(h->highlight);
        h->highlight = html;
    }
    return rc;
}

int rg_search_query(rg_search_port *p, const char *q, const char *const *types, int ntypes,
                    int limit, rg_search_hit **out, int *nout)
{
    return query(p, q, RG_SEARCH_PART_ALL, types, ntypes, limit, true, out, nout);
}

int rg_search_ids(rg_search_port *p, const char *q, const char *const *types, int ntypes, int limit,
                  rg_search_hit **out, int *nout)
{
    return query(p, q, RG_SEARCH_PART_ALL, types, ntypes, limit, false, out, nout);
}

int rg_search_ids_in(rg_search_port *p, const char *q, rg_search_part part,
                     const char *const *types, int ntypes, int limit, rg_search_hit **out,
                     int *nout)
{
    return query(p, q, part, types, ntypes, limit, false, out, nout);
}

int rg_search_ping(rg_search_port *p)
{
    return p->ops->ping(p->s);
}

int rg_search_scan(rg_search_port *p, const char *type, const char *after, int limit,
                   rg_search_entry **out, int *nout)
{
    *out = NULL;
    *nout = 0;
    if (!type_valid(type))
        return rg_error_set(RG_EINVAL, "invalid search record type");
    if (after && *after && !id_valid(after))
        return rg_error_set(RG_EINVAL, "invalid search record id");
    if (limit < 1 || limit > RG_SEARCH_LIMIT_MAX)
        return rg_error_set(RG_EINVAL, "limit must be from 1 to %d", RG_SEARCH_LIMIT_MAX);
    int64_t t0 = rg_mono_us();
    return rg_metrics_timed("search.scan", t0,
                            p->ops->scan(p->s, type, after ? after : "", limit, out, nout));
}

int rg_search_matching(rg_search_port *p, const char *q, rg_search_part part, const char *type,
                       const char *const *ids, int n, bool *out)
{
    if (n < 0 || n > RG_SEARCH_LIMIT_MAX)
        return rg_error_set(RG_EINVAL, "from 0 to %d records at once", RG_SEARCH_LIMIT_MAX);
    memset(out, 0, (size_t)n * sizeof *out);
    if (!type_valid(type))
        return rg_error_set(RG_EINVAL, "invalid search record type");
    if (!part_valid(part))
        return rg_error_set(RG_EINVAL, "invalid part of the records to search");
    for (int i = 0; i < n; i++)
        if (!ids[i] || !id_valid(ids[i]))
            return rg_error_set(RG_EINVAL, "invalid search record id");
    if (!text_valid(q, RG_SEARCH_QUERY_MAX))
        return rg_error_set(RG_EINVAL, "the search text is longer than %d bytes",
                            RG_SEARCH_QUERY_MAX);
    if (!q || !*q || n == 0)
        return 0;
    int64_t t0 = rg_mono_us();
    return rg_metrics_timed("search.matching", t0,
                            p->ops->matching(p->s, q, part, type, ids, n, out));
}

void rg_search_entries_free(rg_search_entry *e, int n)
{
    for (int i = 0; i < n; i++) {
        free(e[i].title);
        free(e[i].body);
        free(e[i].tags);
    }
    free(e);
}

void rg_search_hits_free(rg_search_hit *hits, int n)
{
    for (int i = 0; i < n; i++)
        free(hits[i].highlight);
    free(hits);
}

int rg_search_build_begin(rg_search_port *p)
{
    int64_t t0 = rg_mono_us();
    return rg_metrics_timed("search.build_begin", t0, p->ops->build_begin(p->s));
}

int rg_search_build_add(rg_search_port *p, const rg_search_doc *docs, int n)
{
    int rc = check_batch(docs, n);
    if (rc < 0 || n == 0)
        return rc;
    int64_t t0 = rg_mono_us();
    return rg_metrics_timed("search.build_add", t0, p->ops->build_add(p->s, docs, n));
}

int rg_search_build_end(rg_search_port *p, bool use)
{
    int64_t t0 = rg_mono_us();
    return rg_metrics_timed("search.build_end", t0, p->ops->build_end(p->s, use, NULL, NULL));
}

int rg_search_build_switch(rg_search_port *p, rg_search_changes changes, void *ctx)
{
    int64_t t0 = rg_mono_us();
    return rg_metrics_timed("search.build_end", t0, p->ops->build_end(p->s, true, changes, ctx));
}
