/* A fresh PostgreSQL database per test program, on the private server that
 * scripts/test-servers.sh started (RG_TEST_PG_URL). Header-only; the test
 * programs link libpq through rgcore. */
#ifndef RG_TEST_PGTEST_H
#define RG_TEST_PGTEST_H

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A URL of a new empty database (malloc'd), or NULL when RG_TEST_PG_URL is
 * not set (the caller skips and says why). */
static inline char *rg_test_pg_create_db(const char *tag)
{
    const char *admin = getenv("RG_TEST_PG_URL");
    if (!admin || !*admin)
        return NULL;
    static int counter;
    char name[64], sql[128];
    snprintf(name, sizeof name, "rgt_%s_%d_%d", tag, (int)getpid(), ++counter);
    PGconn *c = PQconnectdb(admin);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "cannot reach %s: %s", admin, PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    PGresult *r = PQexec(c, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf(stderr, "%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    if (!ok)
        return NULL;
    /* Same server, other database: replace the path of the admin URL. */
    const char *slash = strchr(admin + strlen("postgresql://"), '/');
    size_t base = slash ? (size_t)(slash - admin) : strlen(admin);
    char *url = malloc(base + strlen(name) + 2);
    if (!url)
        abort();
    sprintf(url, "%.*s/%s", (int)base, admin, name);
    return url;
}

static inline void rg_test_pg_drop_db(char *url)
{
    const char *admin = getenv("RG_TEST_PG_URL");
    if (!url || !admin)
        return;
    const char *name = strrchr(url, '/') + 1;
    char sql[128];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
    PGconn *c = PQconnectdb(admin);
    PQclear(PQexec(c, sql));
    PQfinish(c);
    free(url);
}

#endif
