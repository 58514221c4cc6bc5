/* The wrappers of the documents port: every argument is checked here, once,
 * against the bounds of risinggen/store/documents.h, before any adapter
 * runs; the adapters trust what reaches them. */
#include "risinggen/store/documents.h"
#include "risinggen/store/stores.h"
#include "risinggen/base/alloc.h"
#include "risinggen/base/error.h"
#include "risinggen/base/validate.h"
#include "risinggen/base/clock.h"
#include "risinggen/base/metrics.h"

#include <stdlib.h>
#include <string.h>

bool rg_doc_collection_valid(const char *s)
{
    if (!s)
        return false;
    size_t n = 0;
    for (; s[n]; n++)
        if (n >= RG_DOC_COLLECTION_MAX || !((s[n] >= 'a' && s[n] <= 'z') || s[n] == '_'))
            return false;
    return n > 0;
}

int rg_doc_type_rank(const json_t *v)
{
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_INTEGER:
    case JSON_REAL:
        return 1;
    case JSON_STRING:
        return 2;
    case JSON_OBJECT:
        return 3;
    case JSON_ARRAY:
        return 4;
    case JSON_TRUE:
    case JSON_FALSE:
        return 5;
    default:
        return 0;
    }
}

bool rg_doc_path_valid(const char *s)
{
    if (!s)
        return false;
    size_t n = 0;
    bool segment_start = true;
    for (; s[n]; n++) {
        char ch = s[n];
        if (n >= RG_DOC_PATH_MAX)
            return false;
        if (ch == '.') {
            if (segment_start || s[n + 1] == '\0')
                return false;
            segment_start = true;
            continue;
        }
        bool letter = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_';
        bool digit = ch >= '0' && ch <= '9';
        if (!letter && !(digit && !segment_start))
            return false;
        segment_start = false;
    }
    return n > 0;
}

static bool id_valid(const char *id)
{
    if (!id)
        return false;
    size_t n = strlen(id);
    return n > 0 && n <= RG_DOC_ID_MAX && rg_utf8_valid(id, n);
}

static int check_coll(const char *coll)
{
    return rg_doc_collection_valid(coll) ? 0 : rg_error_set(RG_EINVAL, "invalid collection name");
}

static int check_id(const char *id)
{
    return id_valid(id) ? 0 : rg_error_set(RG_EINVAL, "invalid document id");
}

/* Whether a string anywhere in v holds U+0000. */
static bool has_nul(json_t *v)
{
    if (json_is_string(v))
        return strlen(json_string_value(v)) != json_string_length(v);
    const char *k; /* keys hold no NUL: jansson takes them as C strings */
    json_t *x;
    size_t i;
    if (json_is_object(v)) {
        json_object_foreach(v, k, x)
        {
            if (has_nul(x))
                return true;
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, x)
        {
            if (has_nul(x))
                return true;
        }
    }
    return false;
}

static int check_doc(const rg_documents *s, json_t *doc)
{
    if (!json_is_object(doc))
        return rg_error_set(RG_EINVAL, "a document must be a JSON object");
    size_t bytes = json_dumpb(doc, NULL, 0, JSON_COMPACT);
    if (bytes == 0 || bytes > RG_DOC_BYTES_MAX)
        return rg_error_set(RG_ETOOBIG, "the document is larger than %d bytes", RG_DOC_BYTES_MAX);
    if (!(s->ops->caps & RG_DOC_CAP_NUL_IN_STRINGS) && has_nul(doc))
        return rg_error_set(RG_EVALIDATION, "text must not contain the character U+0000");
    return 0;
}

static int check_filters(const rg_doc_filter *filters, int n)
{
    if (n < 0 || n > RG_DOC_FILTERS_MAX || (n > 0 && !filters))
        return rg_error_set(RG_EINVAL, "invalid filters");
    for (int i = 0; i < n; i++) {
        if (!rg_doc_path_valid(filters[i].path))
            return rg_error_set(RG_EINVAL, "invalid filter path");
        const char *v = filters[i].value;
        if (filters[i].is_int || !v)
            continue;
        size_t len = strlen(v);
        if (len > RG_DOC_VALUE_MAX || !rg_utf8_valid(v, len))
            return rg_error_set(RG_EINVAL, "invalid filter value");
    }
    return 0;
}

int rg_doc_ops_check(const struct rg_doc_ops *o)
{
    if (!o || !o->scheme)
        return rg_error_set(RG_EINVAL, "not a documents adapter");
    if (o->version != RG_DOC_OPS_VERSION)
        return rg_error_set(RG_EINVAL,
                            "the documents adapter '%s' implements version %d of the port, "
                            "this build needs version %d",
                            o->scheme, o->version, RG_DOC_OPS_VERSION);
    if (!o->open || !o->close || !o->insert || !o->get || !o->replace || !o->remove || !o->find ||
        !o->remove_where || !o->ping)
        return rg_error_set(RG_EINVAL, "the documents adapter '%s' lacks a slot", o->scheme);
    bool tx = o->prepare && o->finish_prepared && o->prepared_list && o->prepared_ready;
    bool none = !o->prepare && !o->finish_prepared && !o->prepared_list && !o->prepared_ready;
    if (!(o->caps & RG_DOC_CAP_PREPARED) ? !none : !tx)
        return rg_error_set(RG_EINVAL,
                            "the documents adapter '%s' must have the prepare slots exactly "
                            "when it has RG_DOC_CAP_PREPARED",
                            o->scheme);
    bool atomic = o->write_all && o->atomic_ready;
    bool no_atomic = !o->write_all && !o->atomic_ready;
    if (!(o->caps & RG_DOC_CAP_ATOMIC) ? !no_atomic : !atomic)
        return rg_error_set(RG_EINVAL,
                            "the documents adapter '%s' must have the atomic slots exactly "
                            "when it has RG_DOC_CAP_ATOMIC",
                            o->scheme);
    return 0;
}

int rg_docs_open(rg_documents *out, const struct rg_doc_ops *ops, const char *url,
                 const rg_store_options *opts, const rg_doc_index *indexes, int nindexes)
{
    memset(out, 0, sizeof *out);
    if (!ops && !(ops = rg_doc_adapter(url)))
        return rg_error_last();
    int rc = rg_doc_ops_check(ops);
    if (rc < 0)
        return rc;
    if (nindexes < 0 || nindexes > RG_DOC_INDEXES_MAX || (nindexes > 0 && !indexes))
        return rg_error_set(RG_EINVAL, "invalid index list");
    for (int i = 0; i < nindexes; i++) {
        if (!rg_doc_collection_valid(indexes[i].collection))
            return rg_error_set(RG_EINVAL, "invalid collection name in index %d", i);
        if (!rg_doc_path_valid(indexes[i].path))
            return rg_error_set(RG_EINVAL, "invalid path in index %d", i);
    }
    if ((rc = ops->open(&out->d, url, opts, indexes, nindexes)) < 0)
        return rc;
    out->ops = ops;
    return 0;
}

void rg_docs_close(rg_documents *s)
{
    if (s->d)
        s->ops->close(s->d);
    s->d = NULL;
}

int rg_docs_insert(rg_documents *s, const char *coll, const char *id, json_t *doc)
{
    int rc;
    if ((rc = check_coll(coll)) < 0 || (rc = check_id(id)) < 0 || (rc = check_doc(s, doc)) < 0)
        return rc;
    int64_t t0 = rg_mono_us();
    return rg_metrics_timed("documents.insert", t0, s->ops->insert(s->d, coll, id, doc));
}

int rg_docs_get(rg_documents *s, const char *coll, const char *id, json_t **out, int64_t *rev)
{
    *out = NULL;
    int rc;
    if ((rc = check_coll(coll)) < 0 || (rc = check_id(id)) < 0)
        return rc;
    int64_t t0 = rg_mono_us();
    return rg_metrics_timed("documents.get", t0, s->ops->get(s->d, coll, id, out, rev));
}

int rg_docs_replace(rg_documents *s, const char *coll, const char *id, json_t *doc,
                    int64_t expect_rev)
{
    int rc;
    if ((rc = check_coll(coll)) < 0 || (rc = check_id(id)) < 0 || (rc = check_doc(s, doc)) < 0)
        return rc;
    if (expect_rev < 0)
        return rg_error_set(RG_EINVAL, "invalid revision");
    int64_t t0 = rg_mono_us();
    return rg_metrics_timed("documents.replace", t0,
                            s->ops->replace(s->d, coll, id, doc, expect_rev));
}

int rg_docs_remove(rg_documents *s, const char *coll, const char *id)
{
    int rc;
    if ((rc = check_coll(coll)) < 0 || (rc = check_id(id)) < 0)
        return rc;
    int64_t t0 = rg_mono_us();
    return rg_metrics_timed("documents.remove", t0, s->ops->remove(s->d, coll, id));
}

int rg_docs_find(rg_documents *s, const char *coll, const rg_doc_query *q, json_t **out)
{
    *out = NULL;
    int rc;
    if ((rc = check_coll(coll)) < 0)
        return rc;
    if (!q)
        return rg_error_set(RG_EINVAL, "no query");
    if ((rc = check_filters(q->filters, q->nfilters)) < 0)
        return rc;
    if (q->sort_path && !rg_doc_path_valid(q->sort_path))
        return rg_error_set(RG_EINVAL, "invalid sort path");
    if (q->after_id && !id_valid(q->after_id))
        return rg_error_set(RG_EINVAL, "invalid keyset id");
    if (q->limit < 1 || q->limit > RG_DOC_LIMIT_MAX)
        return rg_error_set(RG_EINVAL, "limit must be from 1 to %d", RG_DOC_LIMIT_MAX);
    rg_doc_query checked = *q;
    if (!q->sort_path || !q->after_id || json_is_null(q->after_value))
        checked.after_value = NULL; /* one way to say "no value" */
    int64_t t0 = rg_mono_us();
    return rg_metrics_timed("documents.find", t0, s->ops->find(s->d, coll, &checked, out));
}

int rg_docs_find_one(rg_documents *s, const char *coll, const char *path, const char *value,
                     json_t **out, char **id_out)
{
    *out = NULL;
    if (id_out)
        *id_out = NULL;
    rg_doc_filter f = {.path = path, .value = value};
    rg_doc_query q = {.filters = &f, .nfilters = 1, .limit = 1};
    json_t *arr = NULL;
    int rc = rg_docs_find(s, coll, &q, &arr);
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
    int rc;
    if ((rc = check_coll(coll)) < 0 || (rc = check_filters(filters, nfilters)) < 0)
        return rc;
    int64_t t0 = rg_mono_us();
    return rg_metrics_timed("documents.remove_where", t0,
                            s->ops->remove_where(s->d, coll, filters, nfilters));
}

int rg_docs_ping(rg_documents *s)
{
    return s->ops->ping(s->d);
}

int rg_docs_two_phase(rg_documents *s)
{
    return (s->ops->caps & RG_DOC_CAP_PREPARED) ? s->ops->prepared_ready(s->d) : 0;
}

static int check_gid(const rg_documents *s, const char *gid, bool prefix)
{
    if (!(s->ops->caps & RG_DOC_CAP_PREPARED))
        return rg_error_set(RG_EINVAL, "the documents store cannot prepare transactions");
    if (!gid || (!(prefix && !*gid) && !rg_gid_valid(gid)))
        return rg_error_set(RG_EINVAL, "invalid prepared transaction id");
    return 0;
}

/* The writes of one transaction, checked as the single writes are. */
static int check_writes(const rg_documents *s, const rg_doc_write *writes, int n)
{
    int rc;
    if (n < 1 || n > RG_DOC_WRITES_MAX || !writes)
        return rg_error_set(RG_EINVAL, "a transaction has 1 to %d writes", RG_DOC_WRITES_MAX);
    for (int i = 0; i < n; i++) {
        const rg_doc_write *w = &writes[i];
        if ((rc = check_coll(w->collection)) < 0 || (rc = check_id(w->id)) < 0)
            return rc;
        if (w->op == RG_DOC_W_REMOVE)
            continue;
        if (w->op != RG_DOC_W_INSERT && w->op != RG_DOC_W_REPLACE)
            return rg_error_set(RG_EINVAL, "invalid write");
        if ((rc = check_doc(s, w->doc)) < 0)
            return rc;
        if (w->expect_rev < 0)
            return rg_error_set(RG_EINVAL, "invalid revision");
    }
    return 0;
}

int rg_docs_prepare(rg_documents *s, const char *gid, const rg_doc_write *writes, int n)
{
    int rc = check_gid(s, gid, false);
    if (rc < 0 || (rc = check_writes(s, writes, n)) < 0)
        return rc;
    int64_t t0 = rg_mono_us();
    return rg_metrics_timed("documents.prepare", t0, s->ops->prepare(s->d, gid, writes, n));
}

int rg_docs_finish_prepared(rg_documents *s, const char *gid, bool commit)
{
    int rc = check_gid(s, gid, false);
    return rc < 0 ? rc : s->ops->finish_prepared(s->d, gid, commit);
}

int rg_docs_prepared_list(rg_documents *s, const char *prefix, rg_gid_fn each, void *arg)
{
    int rc = check_gid(s, prefix, true);
    return rc < 0 ? rc : s->ops->prepared_list(s->d, prefix, each, arg);
}

int rg_docs_atomic(rg_documents *s)
{
    return (s->ops->caps & RG_DOC_CAP_ATOMIC) ? s->ops->atomic_ready(s->d) : 0;
}

int rg_docs_write_all(rg_documents *s, const rg_doc_write *writes, int n)
{
    if (!(s->ops->caps & RG_DOC_CAP_ATOMIC))
        return rg_error_set(RG_EINVAL, "the documents store cannot write atomically");
    int rc = check_writes(s, writes, n);
    if (rc < 0)
        return rc;
    int64_t t0 = rg_mono_us();
    return rg_metrics_timed("documents.write_all", t0, s->ops->write_all(s->d, writes, n));
}
