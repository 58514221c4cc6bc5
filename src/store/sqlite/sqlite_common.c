#include "sqlite_common.h"
#include "risinggen/error.h"
#include "risinggen/util.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

char *rg__sqlite_path(const char *url, bool *sync_full)
{
    if (strncmp(url, "sqlite:", 7) != 0)
        return NULL;
    const char *p = url + 7;
    if (strncmp(p, "//", 2) == 0)
        p += 2;
    char *path = rg_xstrdup(p);
    char *q = strchr(path, '?');
    *sync_full = false;
    if (q) {
        *sync_full = strstr(q, "synchronous=full") != NULL;
        *q = '\0';
    }
    return path;
}

static void mkdirs_for(const char *path)
{
    char *dir = rg_xstrdup(path);
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(dir, 0700) != 0 && errno != EEXIST)
            rg_warn("cannot create folder %s: %s", dir, strerror(errno));
        *p = '/';
    }
    free(dir);
}

/* rg_distance_km(lat1, lng1, lat2, lng2): great-circle distance for geo queries. */
static void distance_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    for (int i = 0; i < argc; i++)
        if (sqlite3_value_type(argv[i]) == SQLITE_NULL) {
            sqlite3_result_null(ctx);
            return;
        }
    sqlite3_result_double(
        ctx, rg_distance_km(sqlite3_value_double(argv[0]), sqlite3_value_double(argv[1]),
                            sqlite3_value_double(argv[2]), sqlite3_value_double(argv[3])));
}

int rg__sqlite_open(const char *path, bool sync_full, sqlite3 **out)
{
    *out = NULL;
    if (strcmp(path, ":memory:") != 0)
        mkdirs_for(path);
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(
        path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        rg_err("sqlite open %s: %s", path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return rg_error_set(RG_EUNAVAIL, "the database cannot be opened");
    }
    sqlite3_busy_timeout(db, 5000);
    char pragmas[512];
    snprintf(pragmas, sizeof pragmas,
             "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s; PRAGMA foreign_keys=ON;"
             "PRAGMA mmap_size=0; PRAGMA cache_size=-1024; PRAGMA temp_store=MEMORY;",
             sync_full ? "FULL" : "NORMAL");
    char *msg = NULL;
    if (sqlite3_exec(db, pragmas, NULL, NULL, &msg) != SQLITE_OK) {
        rg_err("sqlite pragmas on %s: %s", path, msg ? msg : "?");
        sqlite3_free(msg);
        sqlite3_close(db);
        return rg_error_set(RG_EUNAVAIL, "the database cannot be opened");
    }
    sqlite3_create_function(db, "rg_distance_km", 4, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
                            distance_fn, NULL, NULL);
    *out = db;
    return 0;
}

int rg__sqlite_error(sqlite3 *db, int rc, const char *what)
{
    int ext = db ? sqlite3_extended_errcode(db) : rc;
    switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
        if (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY)
            return rg_error_set(RG_ECONFLICT, "a record with the same key already exists");
        rg_warn("sqlite %s: %s", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        return rg_error_set(RG_EUNPROCESSABLE, "the change breaks a data rule");
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        rg_warn("sqlite %s: busy", what);
        return rg_error_set(RG_EUNAVAIL, "the database is busy; try again");
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        rg_err("sqlite %s: %s", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        return rg_error_set(RG_EUNAVAIL, "the database cannot be used right now");
    case SQLITE_NOMEM:
        return rg_error_set(RG_ENOMEM, "out of memory");
    default:
        rg_err("sqlite %s: %s", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        return rg_error_set(RG_EINTERNAL, "internal error");
    }
}
