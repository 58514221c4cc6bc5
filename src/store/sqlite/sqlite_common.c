#include "sqlite_common.h"
#include "risinggen/base/error.h"
#include "risinggen/base/alloc.h"
#include "risinggen/base/log.h"
#include "risinggen/base/geo.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

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

static bool is_lock_error(int rc)
{
    return (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED;
}

static int64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#define PRAGMA_RETRY_MS 2000 /* how long pragmas that meet a lock are retried */
#define PRAGMA_PAUSE_MS 100  /* the longest pause between two tries */

/* Runs the pragmas. Processes that open a new file at once race to switch it
 * to WAL, and SQLite answers SQLITE_BUSY to the losers without calling the
 * busy handler; so a lock error is retried with a growing pause until the
 * file is in WAL mode or about 2 s have passed. One log line per failure. */
static int run_pragmas(sqlite3 *db, const char *path, bool sync_full)
{
    char pragmas[512];
    snprintf(pragmas, sizeof pragmas,
             "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s; PRAGMA foreign_keys=ON;"
             "PRAGMA mmap_size=0; PRAGMA cache_size=-1024; PRAGMA temp_store=MEMORY;",
             sync_full ? "FULL" : "NORMAL");
    int64_t start = monotonic_ms();
    long pause_ms = 1;
    for (int attempt = 1;; attempt++) {
        char *msg = NULL;
        int rc = sqlite3_exec(db, pragmas, NULL, NULL, &msg);
        if (rc == SQLITE_OK)
            return 0;
        if (!is_lock_error(rc) || monotonic_ms() - start + pause_ms > PRAGMA_RETRY_MS) {
            rg_err("sqlite pragmas on %s: %s (attempts: %d)", path, msg ? msg : sqlite3_errstr(rc),
                   attempt);
            sqlite3_free(msg);
            return rg_error_set(RG_EUNAVAIL, "the database cannot be opened");
        }
        sqlite3_free(msg);
        struct timespec ts = {0, pause_ms * 1000000L};
        nanosleep(&ts, NULL);
        pause_ms = pause_ms * 2 > PRAGMA_PAUSE_MS ? PRAGMA_PAUSE_MS : pause_ms * 2;
    }
}

int rg__sqlite_open(const char *path, bool sync_full, bool archived, sqlite3 **out)
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
    if ((rc = run_pragmas(db, path, sync_full)) < 0) {
        sqlite3_close(db);
        return rc;
    }
    if (archived) { /* checkpoints belong to the backup archiver */
        sqlite3_wal_autocheckpoint(db, 0);
        sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *)NULL);
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

static void conn_close(void *ctx, void *p)
{
    struct rg__sqlite_pool *pool = ctx;
    struct rg__sqlite_conn *c = p;
    if (pool->hooks && pool->hooks->on_close)
        pool->hooks->on_close(c);
    for (int i = 0; i < RG__SQLITE_STMT_SLOTS; i++)
        if (c->slots[i].stmt) {
            sqlite3_finalize(c->slots[i].stmt);
            free(c->slots[i].key);
        }
    sqlite3_close(c->db);
    free(c);
}

static int conn_open(void *ctx, void **out)
{
    struct rg__sqlite_pool *pool = ctx;
    sqlite3 *db;
    int rc = rg__sqlite_open(pool->path, pool->sync_full, pool->archived, &db);
    if (rc < 0)
        return rc;
    const struct rg__sqlite_hooks *h = pool->hooks;
    struct rg__sqlite_conn *c =
        rg_xcalloc(1, h && h->conn_size > sizeof *c ? h->conn_size : sizeof *c);
    c->db = db;
    c->pool = pool;
    if (h && h->on_conn && (rc = h->on_conn(c)) < 0) {
        conn_close(pool, c);
        return rc;
    }
    *out = c;
    return 0;
}

static const rg_pool_methods sqlite_pool_methods = {.open = conn_open, .close = conn_close};

int rg__sqlite_pool_open(struct rg__sqlite_pool *pool, const char *url,
                         const rg_store_options *opts, const struct rg__sqlite_hooks *hooks,
                         void *ctx)
{
    memset(pool, 0, sizeof *pool);
    bool sync_full;
    char *path = url ? rg__sqlite_path(url, &sync_full) : NULL;
    if (!path)
        return rg_error_set(RG_EINVAL, "not a sqlite: URL");
    sqlite3 *probe;
    bool archived = opts && opts->wal_archived;
    int rc = rg__sqlite_open(path, sync_full, archived, &probe);
    if (rc == 0 && hooks && hooks->on_open)
        rc = hooks->on_open(probe, ctx);
    sqlite3_close(probe);
    if (rc < 0) {
        free(path);
        return rc;
    }
    pool->path = path;
    pool->sync_full = sync_full;
    pool->archived = archived;
    pool->hooks = hooks;
    pthread_mutex_init(&pool->write_lock, NULL);
    int size = opts && opts->pool_size > 0 ? opts->pool_size : RG_POOL_SIZE_DEFAULT;
    int wait = opts ? opts->pool_wait_ms : RG_POOL_WAIT_MS_DEFAULT;
    pool->conns = rg_pool_new(hooks && hooks->labels ? hooks->labels : "store=\"sqlite\"", size,
                              wait, &sqlite_pool_methods, pool);
    return 0;
}

void rg__sqlite_pool_close(struct rg__sqlite_pool *pool)
{
    if (!pool->path)
        return;
    rg_pool_free(pool->conns);
    pool->conns = NULL;
    pthread_mutex_destroy(&pool->write_lock);
    free(pool->path);
    pool->path = NULL;
}

int rg__sqlite_pool_get(struct rg__sqlite_pool *pool, struct rg__sqlite_conn **out)
{
    void *c;
    int rc = rg_pool_get(pool->conns, &c);
    *out = rc == 0 ? c : NULL;
    return rc;
}

static unsigned hash_key(const char *s)
{
    unsigned h = 2166136261u;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h;
}

/* The slot that holds key, else the empty slot where it would go. The table
 * is never full (RG__SQLITE_STMT_KEPT < RG__SQLITE_STMT_SLOTS). */
static struct rg__sqlite_slot *find_slot(struct rg__sqlite_conn *c, const char *key)
{
    unsigned mask = RG__SQLITE_STMT_SLOTS - 1, h = hash_key(key) & mask;
    for (;; h = (h + 1) & mask) {
        struct rg__sqlite_slot *s = &c->slots[h];
        if (!s->stmt || strcmp(s->key, key) == 0)
            return s;
    }
}

sqlite3_stmt *rg__sqlite_stmt_cached(struct rg__sqlite_conn *c, const char *key)
{
    return find_slot(c, key)->stmt;
}

int rg__sqlite_stmt(struct rg__sqlite_conn *c, const char *key, const char *sql, sqlite3_stmt **out,
                    bool *cached)
{
    struct rg__sqlite_slot *s = find_slot(c, key);
    if (s->stmt) {
        *out = s->stmt;
        *cached = true;
        return 0;
    }
    bool keep = c->nslots < RG__SQLITE_STMT_KEPT;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v3(c->db, sql ? sql : key, -1, keep ? SQLITE_PREPARE_PERSISTENT : 0,
                                &st, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(st);
        *out = NULL;
        *cached = false;
        return rg__sqlite_error(c->db, rc, key);
    }
    if (keep) {
        s->key = rg_xstrdup(key);
        s->stmt = st;
        c->nslots++;
    }
    *out = st;
    *cached = keep;
    return 0;
}

void rg__sqlite_stmt_done(sqlite3_stmt *st, bool cached)
{
    if (!st)
        return;
    if (cached) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    } else {
        sqlite3_finalize(st);
    }
}

int rg__sqlite_run(struct rg__sqlite_conn *c, const char *sql)
{
    sqlite3_stmt *st;
    bool cached;
    int rc = rg__sqlite_stmt(c, sql, NULL, &st, &cached);
    if (rc < 0)
        return rc;
    int src = sqlite3_step(st);
    rc = src == SQLITE_DONE || src == SQLITE_ROW ? 0 : rg__sqlite_error(c->db, src, sql);
    rg__sqlite_stmt_done(st, cached);
    return rc;
}

static void write_unlock(struct rg__sqlite_conn *c)
{
    if (c->holds_write) {
        c->holds_write = false;
        pthread_mutex_unlock(&c->pool->write_lock);
    }
}

int rg__sqlite_begin(struct rg__sqlite_conn *c, bool write)
{
    if (!write)
        return rg__sqlite_run(c, "BEGIN");
    if (c->holds_write) { /* the mutex is not recursive: taking it again would hang */
        rg_err("sqlite: a write transaction is already open on this connection");
        return rg_error_set(RG_EINTERNAL, "internal error");
    }
    pthread_mutex_lock(&c->pool->write_lock);
    c->holds_write = true;
    int rc = rg__sqlite_run(c, "BEGIN IMMEDIATE");
    if (rc < 0)
        write_unlock(c);
    return rc;
}

int rg__sqlite_commit(struct rg__sqlite_conn *c)
{
    int rc = rg__sqlite_run(c, "COMMIT");
    if (rc < 0 && !sqlite3_get_autocommit(c->db))
        return rc; /* still open: the caller rolls back */
    write_unlock(c);
    return rc;
}

int rg__sqlite_rollback(struct rg__sqlite_conn *c)
{
    int rc = sqlite3_get_autocommit(c->db) ? 0 : rg__sqlite_run(c, "ROLLBACK");
    write_unlock(c);
    return rc;
}

void rg__sqlite_pool_put(struct rg__sqlite_conn *c)
{
    if (!c)
        return;
    bool broken = false;
    if (!sqlite3_get_autocommit(c->db))
        broken = sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL) != SQLITE_OK;
    write_unlock(c);
    rg_pool_put(c->pool->conns, c, broken);
}

bool rg__sqlite_write_start(struct rg__sqlite_conn *c)
{
    if (c->holds_write)
        return false;
    pthread_mutex_lock(&c->pool->write_lock);
    c->holds_write = true;
    return true;
}

void rg__sqlite_write_end(struct rg__sqlite_conn *c, bool took)
{
    if (took)
        write_unlock(c);
}

int rg__sqlite_step_write(struct rg__sqlite_conn *c, sqlite3_stmt *st)
{
    bool took = rg__sqlite_write_start(c);
    int rc = sqlite3_step(st);
    rg__sqlite_write_end(c, took);
    return rc;
}
