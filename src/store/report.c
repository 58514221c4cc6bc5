/* The index report (risinggen/store/report.h). */
#include "risinggen/store/report.h"
#include "risinggen/base/alloc.h"
#include "risinggen/base/error.h"

#include <stdlib.h>
#include <string.h>

typedef struct use {
    char *idx;
    int queries;
} use;

static use *use_of(use **uses, int *n, const char *idx)
{
    for (int i = 0; i < *n; i++)
        if (strcmp((*uses)[i].idx, idx) == 0)
            return &(*uses)[i];
    *uses = rg_xrealloc(*uses, sizeof **uses * (size_t)(*n + 1));
    (*uses)[*n] = (use){rg_xstrdup(idx), 0};
    return &(*uses)[(*n)++];
}

int rg_report_indexes(rg_relational *r, FILE *out)
{
    rg_rel_conn *c;
    int rc = rg_rel_acquire(r, &c);
    if (rc < 0)
        return rc;
    const char *dialect = r->ops->dialect;
    use *uses = NULL;
    int nuses = 0, explained = 0, full = 0;
    fprintf(out, "Named queries that read a whole table (%s):\n", dialect);
    for (int i = 0; i < rg_query_count(); i++) {
        const char *d;
        const char *name = rg_query_at(i, &d);
        bool first = true; /* each name once, whichever file holds it */
        for (int j = 0; j < i && first; j++)
            first = strcmp(rg_query_at(j, NULL), name) != 0;
        if (!first || strncmp(name, "load_", 5) == 0 || !rg_query_sql(dialect, name))
            continue;
        rg_rows *plan;
        if (rg_rel_explain(r, c, name, &plan) < 0) {
            fprintf(out, "  %s: not explained (%s)\n", name, rg_error_detail());
            rg_error_clear();
            continue;
        }
        explained++;
        for (int k = 0; k < plan->nrows; k++) {
            const char *idx = rg_rows_get(plan, k, "idx");
            if (idx)
                use_of(&uses, &nuses, idx)->queries++;
            if (rg_rows_bool(plan, k, "full_scan")) {
                fprintf(out, "  %s: %s\n", name, rg_rows_get(plan, k, "tbl"));
                full++;
            }
        }
        rg_rows_free(plan);
    }
    if (!full)
        fprintf(out, "  none\n");
    rg_rows *ix;
    if ((rc = rg_rel_indexes(r, c, &ix)) >= 0) {
        fprintf(out, "\nIndexes (%d named queries explained):\n", explained);
        for (int k = 0; k < ix->nrows; k++) {
            const char *idx = rg_rows_get(ix, k, "idx");
            const char *scans = rg_rows_get(ix, k, "scans");
            int q = 0;
            for (int u = 0; u < nuses; u++)
                if (strcmp(uses[u].idx, idx) == 0)
                    q = uses[u].queries;
            fprintf(out, "  %s.%s: used by %d named %s%s%s%s\n", rg_rows_get(ix, k, "tbl"), idx, q,
                    q == 1 ? "query" : "queries", scans ? ", " : "", scans ? scans : "",
                    scans ? " scans since the statistics were reset" : "");
        }
        rg_rows_free(ix);
        rc = 0;
    }
    for (int u = 0; u < nuses; u++)
        free(uses[u].idx);
    free(uses);
    rg_rel_release(r, c);
    return rc;
}
