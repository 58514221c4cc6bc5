#include "risinggen/store/migrate.h"
#include "embedded.h"
#include "risinggen/base/error.h"
#include "risinggen/base/log.h"
#include "risinggen/base/clock.h"
#include "risinggen/base/id.h"

#include <stdlib.h>
#include <string.h>

struct migration {
    int version;
    char name[128];
    const char *up, *down;
    char checksum[RG_SHA256_HEX + 1];
};

/* Collects the embedded migrations of a dialect, sorted by version. *out is
 * malloc'd (caller frees). */
static int collect(const char *dialect, struct migration **out, int *n)
{
    char prefix[64];
    int len = snprintf(prefix, sizeof prefix, "migrations/%s/", dialect);
    struct migration *m = NULL;
    int cnt = 0;
    for (const struct rg_embedded_file *f = rg_embedded_files; f->name; f++) {
        if (strncmp(f->name, prefix, (size_t)len) != 0)
            continue;
        const char *base = f->name + len;
        char *end;
        long v = strtol(base, &end, 10);
        if (end == base || *end != '_' || v <= 0)
            continue;
        const char *dot = strstr(end, ".up.sql");
        bool up = dot != NULL;
        if (!up && !(dot = strstr(end, ".down.sql")))
            continue;
        int i;
        for (i = 0; i < cnt && m[i].version != v; i++)
            ;
        if (i == cnt) {
            m = realloc(m, sizeof *m * (size_t)(cnt + 1));
            if (!m)
                abort();
            memset(&m[cnt], 0, sizeof *m);
            m[cnt].version = (int)v;
            snprintf(m[cnt].name, sizeof m[cnt].name, "%.*s", (int)(dot - end - 1), end + 1);
            cnt++;
        }
        if (up) {
            m[i].up = f->data;
            rg_sha256_hex(f->data, f->len, m[i].checksum);
        } else {
            m[i].down = f->data;
        }
    }
    for (int i = 1; i < cnt; i++)
        for (int j = i; j > 0 && m[j - 1].version > m[j].version; j--) {
            struct migration t = m[j];
            m[j] = m[j - 1];
            m[j - 1] = t;
        }
    *out = m;
    *n = cnt;
    return 0;
}

struct state {
    rg_rel_conn *conn;
    struct migration *known;
    int nknown;
    rg_rows *applied;
};

static void state_free(rg_relational *r, struct state *s)
{
    rg_rows_free(s->applied);
    free(s->known);
    rg_rel_release(r, s->conn);
}

static int state_load(rg_relational *r, struct state *s)
{
    memset(s, 0, sizeof *s);
    int rc = rg_rel_acquire(r, &s->conn);
    if (rc < 0)
        return rc;
    collect(r->ops->dialect, &s->known, &s->nknown);
    if ((rc = rg_rel_query(r, s->conn, "migrations_ensure", NULL, 0, NULL)) < 0 ||
        (rc = rg_rel_query(r, s->conn, "migrations_list", NULL, 0, &s->applied)) < 0)
        return rc;
    return 0;
}

static struct migration *find_known(struct state *s, int version)
{
    for (int i = 0; i < s->nknown; i++)
        if (s->known[i].version == version)
            return &s->known[i];
    return NULL;
}

static int applied_row(struct state *s, int version)
{
    for (int i = 0; i < s->applied->nrows; i++)
        if (rg_rows_int(s->applied, i, "version", -1) == version)
            return i;
    return -1;
}

/* Refuses a ledger that disagrees with the binary's migrations. */
static int verify(struct state *s)
{
    for (int i = 0; i < s->applied->nrows; i++) {
        int v = (int)rg_rows_int(s->applied, i, "version", -1);
        struct migration *m = find_known(s, v);
        if (!m)
            return rg_error_set(RG_ECHECKSUM,
                                "migration %04d is applied in the database but unknown to this "
                                "build: the database is newer than this binary",
                                v);
        const char *sum = rg_rows_get(s->applied, i, "checksum");
        if (!sum || strcmp(sum, m->checksum) != 0)
            return rg_error_set(RG_ECHECKSUM,
                                "migration %04d_%s was changed after it was applied "
                                "(checksum %.12s… in the database, %.12s… in the file); "
                                "write a new migration instead of editing an applied one",
                                v, m->name, sum ? sum : "?", m->checksum);
    }
    return 0;
}

int rg_migrate_up(rg_relational *r, int *applied)
{
    struct state s;
    int rc = state_load(r, &s), count = 0;
    if (rc == 0)
        rc = verify(&s);
    for (int i = 0; rc == 0 && i < s.nknown; i++) {
        struct migration *m = &s.known[i];
        if (applied_row(&s, m->version) >= 0)
            continue;
        if (!m->up) {
            rc = rg_error_set(RG_EINTERNAL, "migration %04d has no up script", m->version);
            break;
        }
        char now[RG_TIME_LEN + 1];
        rg_time_format(rg_now(), now);
        rg_param p[] = {RG_PINT(m->version), RG_PTEXT(m->name), RG_PTEXT(m->checksum),
                        RG_PTEXT(now)};
        if ((rc = rg_rel_begin(r, s.conn, true)) < 0)
            break;
        /* Another process may have applied it since the ledger was read. */
        rg_rows *now_applied = NULL;
        rg_param vp[] = {RG_PINT(m->version)};
        if ((rc = rg_rel_query(r, s.conn, "migrations_get", vp, 1, &now_applied)) < 0) {
            rg_rel_rollback(r, s.conn);
            break;
        }
        int there = now_applied->nrows;
        rg_rows_free(now_applied);
        if (there) {
            rg_rel_rollback(r, s.conn);
            continue;
        }
        if ((rc = rg_rel_exec_script(r, s.conn, m->up)) < 0 ||
            (rc = rg_rel_query(r, s.conn, "migrations_insert", p, 4, NULL)) < 0 ||
            (rc = rg_rel_commit(r, s.conn)) < 0) {
            rg_rel_rollback(r, s.conn);
            rg_err("migration %04d_%s failed", m->version, m->name);
            break;
        }
        rg_info("applied migration %04d_%s", m->version, m->name);
        count++;
    }
    if (applied)
        *applied = count;
    state_free(r, &s);
    return rc < 0 ? rc : 0;
}

int rg_migrate_down(rg_relational *r, int n)
{
    struct state s;
    int rc = state_load(r, &s);
    if (rc == 0)
        rc = verify(&s);
    for (int i = s.applied ? s.applied->nrows - 1 : -1; rc == 0 && n > 0 && i >= 0; i--, n--) {
        int v = (int)rg_rows_int(s.applied, i, "version", -1);
        struct migration *m = find_known(&s, v);
        if (!m || !m->down) {
            rc = rg_error_set(RG_EINTERNAL, "migration %04d has no down script", v);
            break;
        }
        rg_param p[] = {RG_PINT(v)};
        if ((rc = rg_rel_begin(r, s.conn, true)) < 0)
            break;
        if ((rc = rg_rel_exec_script(r, s.conn, m->down)) < 0 ||
            (rc = rg_rel_query(r, s.conn, "migrations_delete", p, 1, NULL)) < 0 ||
            (rc = rg_rel_commit(r, s.conn)) < 0) {
            rg_rel_rollback(r, s.conn);
            break;
        }
        rg_info("rolled back migration %04d_%s", v, m->name);
    }
    state_free(r, &s);
    return rc < 0 ? rc : 0;
}

int rg_migrate_status(rg_relational *r, FILE *out)
{
    struct state s;
    int rc = state_load(r, &s);
    if (rc == 0) {
        for (int i = 0; i < s.nknown; i++) {
            struct migration *m = &s.known[i];
            int row = applied_row(&s, m->version);
            const char *sum = row >= 0 ? rg_rows_get(s.applied, row, "checksum") : NULL;
            fprintf(out, "%04d  %-32s %-22s%s\n", m->version, m->name,
                    row >= 0 ? rg_rows_get(s.applied, row, "applied_at") : "pending",
                    row >= 0 && (!sum || strcmp(sum, m->checksum) != 0) ? "  CHANGED" : "");
        }
        for (int i = 0; i < s.applied->nrows; i++) {
            int v = (int)rg_rows_int(s.applied, i, "version", -1);
            if (!find_known(&s, v))
                fprintf(out, "%04d  %-32s %-22s  UNKNOWN TO THIS BUILD\n", v,
                        rg_rows_get(s.applied, i, "name"), rg_rows_get(s.applied, i, "applied_at"));
        }
    }
    state_free(r, &s);
    return rc;
}

int rg_migrate_check(rg_relational *r)
{
    struct state s;
    int rc = state_load(r, &s);
    if (rc == 0)
        rc = verify(&s);
    for (int i = 0; rc == 0 && i < s.nknown; i++)
        if (applied_row(&s, s.known[i].version) < 0)
            rc = rg_error_set(RG_EUNAVAIL, "migration %04d_%s is not applied", s.known[i].version,
                              s.known[i].name);
    state_free(r, &s);
    return rc;
}
