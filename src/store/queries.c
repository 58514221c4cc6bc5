/* Named statements, embedded from the .sql files under queries/<dialect>/
 * and queries/common/. A file holds several statements, each introduced by
 * a line "-- name: NAME". A dialect's own statement wins over the common one. */
#include "embedded.h"
#include "risinggen/store/relational.h"
#include "risinggen/base/alloc.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct named {
    char dialect[16];
    char name[64];
    char *sql;
};

static struct named *table;
static int ntable;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void add(const char *dialect, const char *name, size_t nlen, const char *sql, size_t len)
{
    while (len && (sql[len - 1] == '\n' || sql[len - 1] == ' ' || sql[len - 1] == ';'))
        len--;
    table = realloc(table, sizeof *table * (size_t)(ntable + 1));
    if (!table)
        abort();
    struct named *q = &table[ntable++];
    snprintf(q->dialect, sizeof q->dialect, "%s", dialect);
    snprintf(q->name, sizeof q->name, "%.*s", (int)nlen, name);
    q->sql = rg_xmalloc(len + 1);
    memcpy(q->sql, sql, len);
    q->sql[len] = '\0';
}

static void load(void)
{
    static const char marker[] = "-- name:";
    for (const struct rg_embedded_file *f = rg_embedded_files; f->name; f++) {
        if (strncmp(f->name, "queries/", 8) != 0)
            continue;
        const char *d = f->name + 8, *slash = strchr(d, '/');
        if (!slash)
            continue;
        char dialect[16];
        snprintf(dialect, sizeof dialect, "%.*s", (int)(slash - d), d);
        const char *p = strstr(f->data, marker);
        while (p) {
            const char *name = p + sizeof marker - 1;
            while (*name == ' ')
                name++;
            size_t nlen = strcspn(name, " \r\n");
            const char *body = name + nlen;
            body += strcspn(body, "\n");
            if (*body)
                body++;
            const char *next = strstr(body, marker);
            add(dialect, name, nlen, body, next ? (size_t)(next - body) : strlen(body));
            p = next;
        }
    }
}

const char *rg_query_sql(const char *dialect, const char *name)
{
    pthread_once(&once, load);
    const char *common = NULL;
    for (int i = 0; i < ntable; i++) {
        if (strcmp(table[i].name, name) != 0)
            continue;
        if (strcmp(table[i].dialect, dialect) == 0)
            return table[i].sql;
        if (strcmp(table[i].dialect, "common") == 0)
            common = table[i].sql;
    }
    return common;
}

int rg_query_count(void)
{
    pthread_once(&once, load);
    return ntable;
}

const char *rg_query_at(int i, const char **dialect)
{
    pthread_once(&once, load);
    if (i < 0 || i >= ntable)
        return NULL;
    if (dialect)
        *dialect = table[i].dialect;
    return table[i].name;
}
