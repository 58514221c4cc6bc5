/* The wrappers of the relational port: argument checks before any adapter
 * runs, and the timing of every named query (rg_query_duration_seconds). */
#include "risinggen/store/relational.h"
#include "risinggen/base/alloc.h"
#include "risinggen/base/clock.h"
#include "risinggen/base/error.h"
#include "risinggen/base/log.h"
#include "risinggen/base/metrics.h"
#include "risinggen/store/stores.h"

#include <stdlib.h>
#include <string.h>

int rg_rel_ops_check(const struct rg_rel_ops *o)
{
    if (!o || !o->scheme || !o->dialect)
        return rg_error_set(RG_EINVAL, "not a relational adapter");
    if (o->version != RG_REL_OPS_VERSION)
        return rg_error_set(RG_EINVAL,
                            "the relational adapter '%s' implements version %d of the port, "
                            "this build needs version %d",
                            o->scheme, o->version, RG_REL_OPS_VERSION);
    if (!o->open || !o->close || !o->acquire || !o->release || !o->begin || !o->commit ||
        !o->rollback || !o->query || !o->exec_script || !o->ping || !o->load || !o->explain ||
        !o->indexes)
        return rg_error_set(RG_EINVAL, "the relational adapter '%s' lacks a slot", o->scheme);
    if (!o->acquire_read != !(o->caps & RG_REL_CAP_REPLICAS))
        return rg_error_set(RG_EINVAL,
                            "the relational adapter '%s' must have acquire_read exactly when it "
                            "has RG_REL_CAP_REPLICAS",
                            o->scheme);
    bool tx = o->prepare && o->finish_prepared && o->prepared_list && o->prepared_ready;
    bool none = !o->prepare && !o->finish_prepared && !o->prepared_list && !o->prepared_ready;
    if (!(o->caps & RG_REL_CAP_PREPARED_TX) ? !none : !tx)
        return rg_error_set(RG_EINVAL,
                            "the relational adapter '%s' must have the prepare slots exactly "
                            "when it has RG_REL_CAP_PREPARED_TX",
                            o->scheme);
    return 0;
}

int rg_rel_open(rg_relational *out, const struct rg_rel_ops *ops, const char *url,
                const rg_store_options *opts)
{
    memset(out, 0, sizeof *out);
    if (!ops && !(ops = rg_rel_adapter(url)))
        return rg_error_last();
    int rc = rg_rel_ops_check(ops);
    if (rc < 0 || (rc = ops->open(&out->db, url, opts)) < 0)
        return rc;
    out->ops = ops;
    return 0;
}

void rg_rel_close(rg_relational *r)
{
    if (r->db)
        r->ops->close(r->db);
    r->db = NULL;
}

int rg_rel_acquire(rg_relational *r, rg_rel_conn **out)
{
    *out = NULL;
    return r->ops->acquire(r->db, out);
}

int rg_rel_acquire_read(rg_relational *r, rg_rel_conn **out)
{
    *out = NULL;
    if (!(r->ops->caps & RG_REL_CAP_REPLICAS))
        return r->ops->acquire(r->db, out);
    return r->ops->acquire_read(r->db, out);
}

void rg_rel_release(rg_relational *r, rg_rel_conn *c)
{
    if (c)
        r->ops->release(r->db, c);
}

int rg_rel_begin(rg_relational *r, rg_rel_conn *c, bool write)
{
    if (!c)
        return rg_error_set(RG_EINVAL, "no connection");
    return r->ops->begin(c, write);
}

int rg_rel_commit(rg_relational *r, rg_rel_conn *c)
{
    if (!c)
        return rg_error_set(RG_EINVAL, "no connection");
    return r->ops->commit(c);
}

void rg_rel_rollback(rg_relational *r, rg_rel_conn *c)
{
    if (c)
        (void)r->ops->rollback(c);
}

int rg_rel_two_phase(rg_relational *r)
{
    return (r->ops->caps & RG_REL_CAP_PREPARED_TX) ? r->ops->prepared_ready(r->db) : 0;
}

static int check_two_phase(rg_relational *r, rg_rel_conn *c, const char *gid)
{
    if (!(r->ops->caps & RG_REL_CAP_PREPARED_TX))
        return rg_error_set(RG_EINVAL, "the relational store cannot prepare transactions");
    if (!c || !gid)
        return rg_error_set(RG_EINVAL, "no connection or no transaction id");
    return 0;
}

int rg_rel_prepare(rg_relational *r, rg_rel_conn *c, const char *gid)
{
    int rc = check_two_phase(r, c, gid);
    if (rc == 0 && !rg_gid_valid(gid))
        rc = rg_error_set(RG_EINVAL, "invalid prepared transaction id");
    if (rc < 0) {
        rg_rel_rollback(r, c);
        return rc;
    }
    return r->ops->prepare(c, gid);
}

int rg_rel_finish_prepared(rg_relational *r, rg_rel_conn *c, const char *gid, bool commit)
{
    int rc = check_two_phase(r, c, gid);
    if (rc == 0 && !rg_gid_valid(gid))
        rc = rg_error_set(RG_EINVAL, "invalid prepared transaction id");
    return rc < 0 ? rc : r->ops->finish_prepared(c, gid, commit);
}

int rg_rel_prepared_list(rg_relational *r, rg_rel_conn *c, const char *prefix, rg_gid_fn each,
                         void *arg)
{
    int rc = check_two_phase(r, c, prefix);
    if (rc == 0 && *prefix && !rg_gid_valid(prefix))
        rc = rg_error_set(RG_EINVAL, "invalid prepared transaction prefix");
    return rc < 0 ? rc : r->ops->prepared_list(c, prefix, each, arg);
}

/* Every named query the domain runs exists in this build; a bad name or a
 * parameter list the adapters cannot take is a programming error, logged
 * with the name. */
static int check_query(const char *name, const rg_param *params, int n)
{
    if (!name || !*name || strlen(name) > RG_REL_NAME_MAX) {
        rg_err("relational: invalid query name");
        return rg_error_set(RG_EINTERNAL, "internal error");
    }
    if (n < 0 || n > RG_REL_PARAMS_MAX || (n > 0 && !params)) {
        rg_err("relational: query %s with %d parameters (at most %d)", name, n, RG_REL_PARAMS_MAX);
        return rg_error_set(RG_EINTERNAL, "internal error");
    }
    for (int i = 0; i < n; i++) {
        rg_param_type t = params[i].type;
        if (t != RG_P_NULL && t != RG_P_INT && t != RG_P_TEXT && t != RG_P_REAL) {
            rg_err("relational: query %s, parameter %d of unknown type", name, i + 1);
            return rg_error_set(RG_EINTERNAL, "internal error");
        }
        if (t == RG_P_TEXT && !params[i].s) {
            rg_err("relational: query %s, text parameter %d is NULL", name, i + 1);
            return rg_error_set(RG_EINTERNAL, "internal error");
        }
    }
    return 0;
}

int rg_rel_query(rg_relational *r, rg_rel_conn *c, const char *name, const rg_param *params, int n,
                 rg_rows **out)
{
    if (out)
        *out = NULL;
    int rc = check_query(name, params, n);
    if (rc < 0)
        return rc;
    if (!c)
        return rg_error_set(RG_EINVAL, "no connection");
    int64_t t0 = rg_mono_us();
    rc = r->ops->query(c, name, params, n, out);
    rg_metrics_query(name, rg_mono_us() - t0, rc < 0);
    return rc;
}

int rg_rel_exec_script(rg_relational *r, rg_rel_conn *c, const char *sql)
{
    if (!c || !sql)
        return rg_error_set(RG_EINVAL, "no connection or script");
    return r->ops->exec_script(c, sql);
}

int rg_rel_load(rg_relational *r, rg_rel_conn *c, const char *name, int ncols, rg_rel_row_fn next,
                void *arg)
{
    if (!c || !next || !name || strncmp(name, "load_", 5) != 0 || strlen(name) > RG_REL_NAME_MAX ||
        ncols <= 0 || ncols > RG_REL_PARAMS_MAX) {
        rg_err("relational: load %s with %d columns", name ? name : "(null)", ncols);
        return rg_error_set(RG_EINTERNAL, "internal error");
    }
    int64_t t0 = rg_mono_us();
    int rc = r->ops->load(c, name, ncols, next, arg);
    rg_metrics_query(name, rg_mono_us() - t0, rc < 0);
    return rc;
}

int rg_rel_explain(rg_relational *r, rg_rel_conn *c, const char *name, rg_rows **out)
{
    *out = NULL;
    int rc = check_query(name, NULL, 0);
    if (rc < 0)
        return rc;
    if (!c || strncmp(name, "load_", 5) == 0)
        return rg_error_set(RG_EINVAL, "no connection, or a load statement");
    return r->ops->explain(c, name, out);
}

int rg_rel_indexes(rg_relational *r, rg_rel_conn *c, rg_rows **out)
{
    *out = NULL;
    if (!c)
        return rg_error_set(RG_EINVAL, "no connection");
    return r->ops->indexes(c, out);
}

int rg_rel_ping(rg_relational *r)
{
    return r->ops->ping(r->db);
}

void rg_rows_free(rg_rows *rows)
{
    free(rows);
}

rg_rows *rg_rows_make(int ncols, const char *const *names, int nrows, const char *const *cells)
{
    size_t ncells = (size_t)ncols * (size_t)nrows, text = 0;
    for (int j = 0; j < ncols; j++)
        text += strlen(names[j]) + 1;
    for (size_t k = 0; k < ncells; k++)
        text += cells[k] ? strlen(cells[k]) + 1 : 0;
    size_t ptrs = (size_t)ncols * (size_t)(nrows + 1);
    rg_rows *rows = rg_xmalloc(sizeof *rows + ptrs * sizeof(char *) + text + 1);
    char **cellp = (char **)(rows + 1);
    char *data = (char *)(cellp + ptrs);
    rows->ncols = ncols;
    rows->nrows = nrows;
    rows->names = cellp;
    rows->cells = cellp + ncols;
    for (int j = 0; j < ncols; j++) {
        size_t l = strlen(names[j]) + 1;
        memcpy(data, names[j], l);
        rows->names[j] = data;
        data += l;
    }
    for (size_t k = 0; k < ncells; k++) {
        if (!cells[k]) {
            rows->cells[k] = NULL;
            continue;
        }
        size_t l = strlen(cells[k]) + 1;
        memcpy(data, cells[k], l);
        rows->cells[k] = data;
        data += l;
    }
    return rows;
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

struct row_key {
    int64_t key;
    int row;
};

static int by_key(const void *a, const void *b)
{
    const struct row_key *x = a, *y = b;
    return (x->key > y->key) - (x->key < y->key);
}

int *rg_rows_order_by_int(const rg_rows *rows, const char *col)
{
    int n = rows ? rows->nrows : 0;
    struct row_key *k = rg_xmalloc((size_t)(n > 0 ? n : 1) * sizeof *k);
    for (int i = 0; i < n; i++)
        k[i] = (struct row_key){rg_rows_int(rows, i, col, 0), i};
    qsort(k, (size_t)n, sizeof *k, by_key);
    int *order = rg_xmalloc((size_t)(n > 0 ? n : 1) * sizeof *order);
    for (int i = 0; i < n; i++)
        order[i] = k[i].row;
    free(k);
    return order;
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
