/* The wrappers through which the domain calls every port slot: the single
 * place for checks and per-query metrics, whatever the adapter. */
#include "risinggen/store/cache.h"
#include "risinggen/store/documents.h"
#include "risinggen/base/error.h"
#include "risinggen/base/metrics.h"
#include "risinggen/store/relational.h"
#include "risinggen/store/search.h"
#include "risinggen/base/alloc.h"
#include "risinggen/base/clock.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* ---- relational ---- */

#define IN_USE "rg_pool_in_use{store=\"relational\"}"

int rg_rel_acquire(rg_relational *r, rg_rel_conn **out)
{
    int rc = r->ops->acquire(r->db, out);
    if (rc == 0)
        rg_metrics_gauge_add(IN_USE, 1);
    return rc;
}
static _Thread_local bool read_primary;

void rg_rel_read_primary(bool on)
{
    read_primary = on;
}

bool rg_rel_reading_own_writes(void)
{
    return read_primary;
}

int rg_rel_acquire_read(rg_relational *r, rg_rel_conn **out)
{
    if (read_primary || r->ops->version < 2 || !r->ops->acquire_read)
        return rg_rel_acquire(r, out);
    int rc = r->ops->acquire_read(r->db, out);
    if (rc == 0)
        rg_metrics_gauge_add(IN_USE, 1);
    return rc;
}

void rg_rel_release(rg_relational *r, rg_rel_conn *c)
{
    if (c) {
        r->ops->release(r->db, c);
        rg_metrics_gauge_add(IN_USE, -1);
    }
}
int rg_rel_begin(rg_relational *r, rg_rel_conn *c, bool write)
{
    return r->ops->begin(c, write);
}
int rg_rel_commit(rg_relational *r, rg_rel_conn *c)
{
    return r->ops->commit(c);
}
void rg_rel_rollback(rg_relational *r, rg_rel_conn *c)
{
    (void)r->ops->rollback(c);
}

int rg_rel_query(rg_relational *r, rg_rel_conn *c, const char *name, const rg_param *params, int n,
                 rg_rows **out)
{
    if (out)
        *out = NULL;
    int64_t t0 = rg_mono_us();
    int rc = r->ops->query(c, name, params, n, out);
    rg_metrics_query(name, rg_mono_us() - t0, rc < 0);
    return rc;
}

int rg_rel_exec_script(rg_relational *r, rg_rel_conn *c, const char *sql)
{
    return r->ops->exec_script(c, sql);
}

int rg_rel_ping(rg_relational *r)
{
    return r->ops->ping(r->db);
}

void rg_rows_free(rg_rows *rows)
{
    free(rows);
}

static int col_index(const rg_rows *rows, const char *col)
{
    for (int i = 0; i < rows->ncols; i++)
        if (strcmp(rows->names[i], col) == 0)
            return i;
    return -1;
}

const char *rg_rows_get(const rg_rows *rows, int row, const char *col)
{
    if (!rows || row < 0 || row >= rows->nrows)
        return NULL;
    int i = col_index(rows, col);
    return i < 0 ? NULL : rows->cells[row * rows->ncols + i];
}

int64_t rg_rows_int(const rg_rows *rows, int row, const char *col, int64_t dflt)
{
    const char *v = rg_rows_get(rows, row, col);
    return v ? strtoll(v, NULL, 10) : dflt;
}

double rg_rows_real(const rg_rows *rows, int row, const char *col, double dflt)
{
    const char *v = rg_rows_get(rows, row, col);
    return v ? strtod(v, NULL) : dflt;
}

bool rg_rows_bool(const rg_rows *rows, int row, const char *col)
{
    const char *v = rg_rows_get(rows, row, col);
    return v && (strcmp(v, "1") == 0 || strcmp(v, "t") == 0 || strcmp(v, "true") == 0);
}

/* ---- documents ---- */

int rg_docs_insert(rg_documents *s, const char *coll, const char *id, json_t *doc)
{
    return s->ops->insert(s->d, coll, id, doc);
}

int rg_docs_get(rg_documents *s, const char *coll, const char *id, json_t **out, int64_t *rev)
{
    *out = NULL;
    return s->ops->get(s->d, coll, id, out, rev);
}

int rg_docs_replace(rg_documents *s, const char *coll, const char *id, json_t *doc,
                    int64_t expect_rev)
{
    return s->ops->replace(s->d, coll, id, doc, expect_rev);
}

int rg_docs_remove(rg_documents *s, const char *coll, const char *id)
{
    return s->ops->remove(s->d, coll, id);
}

int rg_docs_find(rg_documents *s, const char *coll, const rg_doc_filter *filters, int nfilters,
                 const char *sort_path, bool desc, const char *after_value, const char *after_id,
                 int limit, json_t **out)
{
    *out = NULL;
    return s->ops->find(s->d, coll, filters, nfilters, sort_path, desc, after_value, after_id,
                        limit, out);
}

int rg_docs_find_one(rg_documents *s, const char *coll, const char *path, const char *value,
                     json_t **out, char **id_out)
{
    rg_doc_filter f = {.path = path, .value = value};
    json_t *arr = NULL;
    *out = NULL;
    if (id_out)
        *id_out = NULL;
    int rc = s->ops->find(s->d, coll, &f, 1, NULL, false, NULL, NULL, 1, &arr);
    if (rc < 0)
        return rc;
    json_t *first = json_array_get(arr, 0);
    if (!first) {
        json_decref(arr);
        return RG_ENOTFOUND;
    }
    *out = json_incref(json_object_get(first, "doc"));
    if (id_out)
        *id_out = rg_xstrdup(json_string_value(json_object_get(first, "id")));
    json_decref(arr);
    return 0;
}

int rg_docs_remove_where(rg_documents *s, const char *coll, const rg_doc_filter *filters,
                         int nfilters)
{
    return s->ops->remove_where(s->d, coll, filters, nfilters);
}

bool rg_doc_collection_valid(const char *s)
{
    if (!s)
        return false;
    size_t n = 0;
    for (; s[n]; n++)
        if (n >= 32 || !((s[n] >= 'a' && s[n] <= 'z') || s[n] == '_'))
            return false;
    return n > 0;
}

bool rg_doc_path_valid(const char *s)
{
    if (!s)
        return false;
    size_t n = 0;
    for (; s[n]; n++) {
        char ch = s[n];
        if (n >= 64)
            return false;
        if (ch == '.') {
            if (n == 0 || s[n - 1] == '.' || s[n + 1] == '\0')
                return false;
            continue;
        }
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_'))
            return false;
    }
    return n > 0;
}

int rg_doc_find_args_check(const rg_doc_filter *filters, int nfilters, const char *sort_path,
                           const char *after_id, int limit)
{
    if (nfilters < 0 || nfilters > 16 || (nfilters > 0 && !filters))
        return rg_error_set(RG_EINVAL, "invalid filters");
    for (int i = 0; i < nfilters; i++)
        if (!rg_doc_path_valid(filters[i].path))
            return rg_error_set(RG_EINVAL, "invalid filter path");
    if (sort_path && !rg_doc_path_valid(sort_path))
        return rg_error_set(RG_EINVAL, "invalid sort path");
    if (after_id && (!*after_id || strlen(after_id) > 512))
        return rg_error_set(RG_EINVAL, "invalid keyset id");
    if (limit <= 0)
        return rg_error_set(RG_EINVAL, "limit must be positive");
    return 0;
}

int rg_docs_ping(rg_documents *s)
{
    return s->ops->ping(s->d);
}

/* ---- cache ---- */

int rg_cache_get(rg_cache_port *p, const char *key, char **out, size_t *len)
{
    *out = NULL;
    int rc = p->ops->get(p->c, key, out, len);
    rg_metrics_count(rc == 0 ? "rg_cache_hits_total" : "rg_cache_misses_total", 1);
    return rc;
}

int rg_cache_set(rg_cache_port *p, const char *key, const char *val, size_t len, int64_t ttl_ms)
{
    return p->ops->set(p->c, key, val, len, ttl_ms);
}

int rg_cache_del(rg_cache_port *p, const char *key)
{
    return p->ops->del(p->c, key);
}

int rg_cache_incr(rg_cache_port *p, const char *key, int64_t by, int64_t ttl_ms, int64_t *out)
{
    return p->ops->incr(p->c, key, by, ttl_ms, out);
}

int rg_cache_ping(rg_cache_port *p)
{
    return p->ops->ping(p->c);
}

void rg_cache_stats(uint64_t *hits, uint64_t *misses)
{
    *hits = (uint64_t)rg_metrics_value("rg_cache_hits_total");
    *misses = (uint64_t)rg_metrics_value("rg_cache_misses_total");
}

/* ---- search ---- */

int rg_search_upsert(rg_search_port *p, const rg_search_doc *doc)
{
    return p->ops->upsert(p->s, doc);
}

int rg_search_remove(rg_search_port *p, const char *type, const char *id)
{
    return p->ops->remove(p->s, type, id);
}

int rg_search_query(rg_search_port *p, const char *q, const char *const *types, int ntypes,
                    int limit, rg_search_hit **out, int *nout)
{
    *out = NULL;
    *nout = 0;
    return p->ops->query(p->s, q, types, ntypes, limit, out, nout);
}

int rg_search_ping(rg_search_port *p)
{
    return p->ops->ping(p->s);
}

void rg_search_hits_free(rg_search_hit *hits, int n)
{
    for (int i = 0; i < n; i++)
        free(hits[i].highlight);
    free(hits);
}
