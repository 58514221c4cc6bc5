/* Backups of the embedded profile's store files (risinggen/store/backup.h,
 * docs/design/backups.md): full backups taken online with SQLite's backup
 * API at a known position of the continuous capture (wal.h), their
 * manifests, restore to the latest state or to a time, retention, and the
 * schedule the running service keeps.
 *
 * A backup is the folder full/<id>/ with <store>.db.enc for the relational
 * and documents stores and manifest.json: each file's size and BLAKE2b-256,
 * the capture position it stands at, and a keyed BLAKE2b of all of it. */
#include "risinggen/store/backup.h"
#include "backup_ports.h"
#include "risinggen/base/alloc.h"
#include "risinggen/base/clock.h"
#include "risinggen/base/error.h"
#include "risinggen/base/log.h"
#include "risinggen/base/metrics.h"
#include "sqlite_common.h"
#include "vault.h"
#include "wal.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NSTORES 2
static const char *const store_names[NSTORES] = {"relational", "documents"};

/* The paths of the store files; RG_EINVAL when a store is not SQLite. */
static int store_files(const rg_config *cfg, char *paths[NSTORES])
{
    const char *urls[NSTORES] = {cfg->relational_url, cfg->document_url};
    for (int i = 0; i < NSTORES; i++) {
        bool sync;
        paths[i] = urls[i] ? rg__sqlite_path(urls[i], &sync) : NULL;
        if (!paths[i]) {
            for (int j = 0; j < i; j++)
                free(paths[j]);
            return rg_error_set(RG_EINVAL,
                                "the %s store is not a SQLite file: the embedded profile's "
                                "backups take both stores on SQLite",
                                store_names[i]);
        }
    }
    return 0;
}

static void free_files(char *paths[NSTORES])
{
    for (int i = 0; i < NSTORES; i++)
        free(paths[i]);
}

static int repo_of(const rg_config *cfg, char *full, size_t cap)
{
    if (!cfg->backup_repo || !*cfg->backup_repo)
        return rg_error_set(RG_EINVAL, "RG_BACKUP_REPO names no folder");
    if ((size_t)snprintf(full, cap, "%s/full", cfg->backup_repo) >= cap)
        return rg_error_set(RG_EINVAL, "RG_BACKUP_REPO is too long");
    return 0;
}

static long long jint(json_t *m, const char *key)
{
    return json_integer_value(json_object_get(m, key));
}

static const char *jstr(json_t *m, const char *key)
{
    const char *v = json_string_value(json_object_get(m, key));
    return v ? v : "";
}

/* A consistent copy of the database that `from` reads (its open read
 * transaction) into the new file dst. */
static int copy_db(sqlite3 *from, const char *src, const char *dst)
{
    sqlite3 *to = NULL;
    int rc = sqlite3_open(dst, &to);
    if (rc == SQLITE_OK) {
        sqlite3_backup *b = sqlite3_backup_init(to, "main", from, "main");
        if (!b) {
            rc = sqlite3_errcode(to);
        } else {
            while ((rc = sqlite3_backup_step(b, 256)) == SQLITE_OK || rc == SQLITE_BUSY ||
                   rc == SQLITE_LOCKED)
                if (rc != SQLITE_OK)
                    sqlite3_sleep(10);
            sqlite3_backup_finish(b);
            rc = rc == SQLITE_DONE ? sqlite3_errcode(to) : rc;
        }
    }
    sqlite3_close(to);
    return rc == SQLITE_OK
               ? 0
               : rg_error_set(RG_EUNAVAIL, "cannot copy %s: %s", src, sqlite3_errstr(rc));
}

/* Encrypts the file at plain into enc. */
static int encrypt_file(const rg__vault_keys *k, const char *plain, const char *enc,
                        long long *size, char hash[RG__VAULT_HASH_HEX])
{
    FILE *in = fopen(plain, "rb");
    if (!in)
        return rg__vault_io_error("cannot read", plain);
    rg__vault_writer *w;
    int rc = rg__vault_create(k, enc, &w);
    unsigned char *buf = rg_xmalloc(65536);
    size_t n;
    while (rc == 0 && (n = fread(buf, 1, 65536, in)) > 0)
        rc = rg__vault_write(w, buf, n);
    if (rc == 0 && ferror(in))
        rc = rg__vault_io_error("cannot read", plain);
    if (rc == 0)
        rc = rg__vault_finish(w, size, hash);
    else if (w)
        rg__vault_abort(w);
    sodium_memzero(buf, 65536);
    free(buf);
    fclose(in);
    return rc;
}

/* Decrypts enc into plain (NULL: only checks every chunk). */
static int decrypt_file(const rg__vault_keys *k, const char *enc, const char *plain)
{
    rg__vault_reader *r;
    int rc = rg__vault_open(k, enc, &r);
    if (rc < 0)
        return rc;
    FILE *out = NULL;
    if (plain && !(out = fopen(plain, "wb"))) {
        rg__vault_close(r);
        return rg__vault_io_error("cannot write", plain);
    }
    unsigned char *buf = rg_xmalloc(65536);
    long n;
    while ((n = rg__vault_read(r, buf, 65536)) > 0)
        if (out && fwrite(buf, (size_t)n, 1, out) != 1) {
            rc = rg__vault_io_error("cannot write", plain);
            break;
        }
    if (rc == 0 && n < 0)
        rc = (int)n;
    sodium_memzero(buf, 65536);
    free(buf);
    rg__vault_close(r);
    if (out) {
        if ((fflush(out) != 0 || fsync(fileno(out)) != 0) && rc == 0)
            rc = rg__vault_io_error("cannot write", plain);
        if (fclose(out) != 0 && rc == 0)
            rc = rg__vault_io_error("cannot write", plain);
    }
    return rc;
}

/* Takes a full backup; *id receives its id. */
static int create(const rg_config *cfg, const rg__vault_keys *k, char id[32], FILE *out)
{
    char full[4096], tmp[4200], dest[4200], plain[4200], enc[4400];
    char *paths[NSTORES] = {0};
    int rc;
    if ((rc = repo_of(cfg, full, sizeof full)) < 0 || (rc = store_files(cfg, paths)) < 0)
        return rc;
    if ((rc = rg__vault_mkdir_p(full)) < 0)
        goto out;
    int64_t now = rg_now();
    char when[RG_TIME_LEN + 1];
    rg_time_format(now, when);
    struct tm tm;
    time_t t = (time_t)now;
    gmtime_r(&t, &tm);
    strftime(id, 32, "%Y%m%dT%H%M%SZ", &tm);
    snprintf(dest, sizeof dest, "%s/%s", full, id);
    for (int n = 2; access(dest, F_OK) == 0; n++) { /* two in one second */
        snprintf(id + 16, 16, "-%d", n);
        snprintf(dest, sizeof dest, "%s/%s", full, id);
    }
    snprintf(tmp, sizeof tmp, "%s/.tmp-%s-%ld", full, id, (long)getpid());
    if (mkdir(tmp, 0700) != 0) {
        rc = rg__vault_io_error("cannot create", tmp);
        goto out;
    }
    json_t *m = json_pack("{s:i, s:s, s:s, s:s, s:[]}", "version", 2, "id", id, "created", when,
                          "profile", "embedded", "files");
    int64_t snapshot_ms = 0;
    for (int i = 0; i < NSTORES && rc == 0; i++) {
        /* The plain copy stays beside the live file (same disk, same
         * rights) and goes once encrypted. */
        snprintf(plain, sizeof plain, "%s.backup-%ld", paths[i], (long)getpid());
        snprintf(enc, sizeof enc, "%s/%s.db.enc", tmp, store_names[i]);
        long long size = 0;
        char hash[RG__VAULT_HASH_HEX];
        int64_t t0 = rg_mono_ms(), at_ms = 0;
        sqlite3 *reader = NULL;
        rg__wal_pos pos;
        if ((rc = rg__wal_snapshot(k, cfg->backup_repo, store_names[i], paths[i], &reader, &pos,
                                   &at_ms)) == 0) {
            rc = copy_db(reader, paths[i], plain);
            sqlite3_close(reader); /* ends its read transaction */
        }
        if (rc == 0)
            rc = encrypt_file(k, plain, enc, &size, hash);
        unlink(plain);
        if (rc < 0)
            break;
        snapshot_ms = at_ms > snapshot_ms ? at_ms : snapshot_ms;
        char name[64];
        snprintf(name, sizeof name, "%s.db.enc", store_names[i]);
        json_array_append_new(json_object_get(m, "files"),
                              json_pack("{s:s, s:s, s:I, s:s, s:I, s:{s:s, s:I}}", "name", name,
                                        "store", store_names[i], "size", (json_int_t)size,
                                        "blake2b", hash, "snapshot_ms", (json_int_t)at_ms, "wal",
                                        "chain", pos.chain, "next", (json_int_t)pos.next));
        fprintf(out, "  %s: %lld bytes encrypted in %.1f s (capture chain %s from segment %lld)\n",
                store_names[i], size, (double)(rg_mono_ms() - t0) / 1000.0, pos.chain, pos.next);
    }
    if (rc == 0) {
        char mac[RG__VAULT_HASH_HEX];
        json_object_set_new(m, "snapshot_ms", json_integer(snapshot_ms));
        rg__vault_mac(k, m, mac);
        json_object_set_new(m, "mac", json_string(mac));
        snprintf(enc, sizeof enc, "%s/manifest.json", tmp);
        rc = rg__vault_put_json(m, enc);
    }
    json_decref(m);
    if (rc == 0 && rename(tmp, dest) != 0)
        rc = rg__vault_io_error("cannot complete", dest);
    if (rc == 0)
        rc = rg__vault_sync_dir(full);
    if (rc < 0)
        rg__vault_remove_tree(tmp);
    else
        fprintf(out, "backup %s complete in %s\n", id, dest);
out:
    free_files(paths);
    return rc;
}

int rg__sqlite_backup_create(const rg_config *cfg, FILE *out)
{
    rg__vault_keys k;
    char id[32];
    int rc = rg__vault_keys_of(cfg, &k);
    if (rc == 0)
        rc = create(cfg, &k, id, out);
    sodium_memzero(&k, sizeof k);
    return rc;
}

/* The ids of the complete backups, oldest first (ids sort by time). */
static int backup_ids(const char *full, char ***ids, int *n)
{
    *ids = NULL;
    *n = 0;
    DIR *d = opendir(full);
    if (!d)
        return errno == ENOENT ? 0 : rg__vault_io_error("cannot read", full);
    struct dirent *e;
    int cap = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *ids = rg_xrealloc(*ids, sizeof **ids * (size_t)cap);
        }
        (*ids)[(*n)++] = rg_xstrdup(e->d_name);
    }
    closedir(d);
    for (int i = 1; i < *n; i++) /* insertion sort: a repository holds tens */
        for (int j = i; j > 0 && strcmp((*ids)[j - 1], (*ids)[j]) > 0; j--) {
            char *x = (*ids)[j];
            (*ids)[j] = (*ids)[j - 1];
            (*ids)[j - 1] = x;
        }
    return 0;
}

static void free_ids(char **ids, int n)
{
    for (int i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
}

static json_t *load_manifest(const char *full, const char *id)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/%s/manifest.json", full, id);
    return json_load_file(path, 0, NULL);
}

/* The capture position of store in manifest m; false when the backup
 * stands at none (taken before continuous capture). */
static bool wal_pos(json_t *m, const char *store, rg__wal_pos *pos)
{
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(m, "files"), i, f)
    {
        json_t *w = json_object_get(f, "wal");
        if (strcmp(jstr(f, "store"), store) != 0 || !json_is_object(w))
            continue;
        snprintf(pos->chain, sizeof pos->chain, "%s", jstr(w, "chain"));
        pos->next = jint(w, "next");
        return pos->chain[0] && pos->next > 0;
    }
    return false;
}

int rg__sqlite_backup_list(const rg_config *cfg, FILE *out)
{
    char full[4096];
    char **ids;
    int n, rc;
    if ((rc = repo_of(cfg, full, sizeof full)) < 0 || (rc = backup_ids(full, &ids, &n)) < 0)
        return rc;
    for (int i = 0; i < n; i++) {
        json_t *m = load_manifest(full, ids[i]);
        long long bytes = 0;
        size_t j;
        json_t *f;
        json_array_foreach(json_object_get(m, "files"), j, f) bytes += jint(f, "size");
        fprintf(out, "%s  %s  %zu files  %lld bytes%s\n", ids[i], m ? jstr(m, "created") : "?",
                json_array_size(json_object_get(m, "files")), bytes,
                m ? "" : "  (no readable manifest)");
        json_decref(m);
    }
    if (n == 0)
        fprintf(out, "no backups in %s\n", full);
    for (int s = 0; s < NSTORES; s++)
        rg__wal_describe(cfg->backup_repo, store_names[s], out);
    free_ids(ids, n);
    return 0;
}

static int verify_one(const rg__vault_keys *k, const char *full, const char *id, FILE *out)
{
    json_t *m = load_manifest(full, id);
    if (!m)
        return rg_error_set(RG_EINVAL, "backup %s: its manifest is missing or not JSON", id);
    int rc = 0;
    if (!rg__vault_mac_ok(k, m))
        rc = rg_error_set(RG_EINVAL,
                          "backup %s: the key does not open its manifest (another key, or the "
                          "manifest was changed)",
                          id);
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(m, "files"), i, f)
    {
        if (rc < 0)
            break;
        const char *name = jstr(f, "name");
        char path[4600];
        snprintf(path, sizeof path, "%s/%s/%s", full, id, name);
        long long size;
        char hash[RG__VAULT_HASH_HEX];
        if (!*name || strchr(name, '/') || rg__vault_hash_file(path, &size, hash) != 0) {
            rc = rg_error_set(RG_EINVAL, "backup %s: the file %s is missing", id,
                              *name ? name : "(unnamed)");
            break;
        }
        if (size != jint(f, "size") || strcmp(hash, jstr(f, "blake2b")) != 0) {
            rc = rg_error_set(RG_EINVAL, "backup %s: the file %s does not match its checksum", id,
                              name);
            break;
        }
        rc = decrypt_file(k, path, NULL);
    }
    if (rc == 0)
        fprintf(out, "backup %s: verified (%zu files)\n", id,
                json_array_size(json_object_get(m, "files")));
    json_decref(m);
    return rc;
}

/* The lowest segment number any of the backups ids needs, per store
 * (LLONG_MAX: none needs one). */
static void segments_needed(const char *full, char **ids, int n, long long from[NSTORES])
{
    for (int s = 0; s < NSTORES; s++)
        from[s] = LLONG_MAX;
    for (int i = 0; i < n; i++) {
        json_t *m = load_manifest(full, ids[i]);
        rg__wal_pos pos;
        for (int s = 0; s < NSTORES && m; s++)
            if (wal_pos(m, store_names[s], &pos) && pos.next < from[s])
                from[s] = pos.next;
        json_decref(m);
    }
}

int rg__sqlite_backup_verify(const rg_config *cfg, const char *id, FILE *out)
{
    rg__vault_keys k;
    char full[4096];
    char **ids = NULL;
    int n = 0, rc;
    if ((rc = rg__vault_keys_of(cfg, &k)) < 0 || (rc = repo_of(cfg, full, sizeof full)) < 0)
        return rc;
    if (id) {
        if ((rc = verify_one(&k, full, id, out)) == 0) {
            ids = rg_xmalloc(sizeof *ids);
            ids[0] = rg_xstrdup(id);
            n = 1;
        }
    } else if ((rc = backup_ids(full, &ids, &n)) == 0) {
        if (n == 0)
            rc = rg_error_set(RG_EINVAL, "no backups in %s", full);
        for (int i = 0; i < n && rc == 0; i++)
            rc = verify_one(&k, full, ids[i], out);
    }
    long long from[NSTORES];
    segments_needed(full, ids, n, from);
    for (int s = 0; s < NSTORES && rc == 0; s++)
        if (from[s] != LLONG_MAX)
            rc = rg__wal_verify(&k, cfg->backup_repo, store_names[s], from[s], out);
    free_ids(ids, n);
    sodium_memzero(&k, sizeof k);
    return rc;
}

static int restore_into(const rg_config *cfg, const char *id, int64_t until_ms, const char *into,
                        bool hint, FILE *out);

int rg__sqlite_backup_restore(const rg_config *cfg, const char *id, const char *to,
                              const char *into, FILE *out)
{
    int64_t until_ms = INT64_MAX;
    if (to && rg_backup_parse_time(to, &until_ms) < 0)
        return rg_error_set(RG_EINVAL,
                            "--to takes an RFC 3339 time such as 2026-06-01T12:00:00Z or "
                            "2026-06-01T14:00:00.250+02:00");
    return restore_into(cfg, id, until_ms, into, true, out);
}

int rg__sqlite_backup_verify_restore(const rg_config *cfg, const char *id, FILE *out)
{
    char full[4096], scratch[4200];
    int rc = repo_of(cfg, full, sizeof full);
    if (rc < 0 || (rc = rg__vault_mkdir_p(full)) < 0)
        return rc;
    snprintf(scratch, sizeof scratch, "%s/.verify-XXXXXX", full);
    if (!mkdtemp(scratch))
        return rg__vault_io_error("cannot create", scratch);
    rc = restore_into(cfg, id, INT64_MAX, scratch, false, out);
    rg__vault_remove_tree(scratch);
    if (rc == 0)
        fprintf(out, "the restore into a scratch folder passed its checks; the folder is gone\n");
    return rc;
}

static bool empty_dir(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return true;
    struct dirent *e;
    bool empty = true;
    while ((e = readdir(d)))
        empty = empty && (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0);
    closedir(d);
    return empty;
}

static int integrity_check(const char *path)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int rc = 0;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW ||
        strcmp((const char *)sqlite3_column_text(st, 0), "ok") != 0)
        rc = rg_error_set(RG_EINVAL, "the restored %s fails SQLite's integrity check", path);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rc;
}

/* The backup a restore starts from: id, or the newest whose snapshot is
 * at or before until_ms. */
static int pick_base(const char *full, char **ids, int n, const char *id, int64_t until_ms,
                     const char **base)
{
    *base = NULL;
    if (id) {
        for (int i = 0; i < n; i++)
            if (strcmp(ids[i], id) == 0)
                *base = ids[i];
        return *base ? 0 : rg_error_set(RG_EINVAL, "no backup %s in %s", id, full);
    }
    for (int i = n - 1; i >= 0 && !*base; i--) {
        json_t *m = load_manifest(full, ids[i]);
        int64_t at = m ? jint(m, "snapshot_ms") : 0;
        if (m && !at) { /* taken before capture: its creation second */
            int64_t t;
            at = rg_time_parse(jstr(m, "created"), &t) == 0 ? t * 1000 : 0;
        }
        if (m && at <= until_ms)
            *base = ids[i];
        json_decref(m);
    }
    if (!*base && n)
        return rg_error_set(RG_EINVAL, "no backup was taken at or before that time; `backup "
                                       "list` shows the oldest");
    if (!*base)
        return rg_error_set(RG_EINVAL, "no backups in %s", full);
    return 0;
}

static int restore_into(const rg_config *cfg, const char *id, int64_t until_ms, const char *into,
                        bool hint, FILE *out)
{
    rg__vault_keys k;
    char full[4096];
    char **ids = NULL;
    int n = 0, rc;
    const char *base;
    json_t *m = NULL;
    if ((rc = rg__vault_keys_of(cfg, &k)) < 0 || (rc = repo_of(cfg, full, sizeof full)) < 0 ||
        (rc = backup_ids(full, &ids, &n)) < 0)
        return rc;
    if (!into || !*into) {
        rc = rg_error_set(RG_EINVAL, "restore needs --into FOLDER");
        goto out;
    }
    if ((rc = pick_base(full, ids, n, id, until_ms, &base)) < 0)
        goto out;
    if (!empty_dir(into)) {
        rc = rg_error_set(RG_EINVAL, "%s is not empty: a restore never writes over data", into);
        goto out;
    }
    if ((rc = verify_one(&k, full, base, out)) < 0 || (rc = rg__vault_mkdir_p(into)) < 0)
        goto out;
    m = load_manifest(full, base);
    for (int i = 0; i < NSTORES && rc == 0; i++) {
        char enc[4600], plain[4600], tmp[4700];
        snprintf(enc, sizeof enc, "%s/%s/%s.db.enc", full, base, store_names[i]);
        snprintf(plain, sizeof plain, "%s/%s.db", into, store_names[i]);
        snprintf(tmp, sizeof tmp, "%s.restoring", plain);
        int applied = 0;
        int64_t reached = 0;
        rg__wal_pos pos;
        if ((rc = decrypt_file(&k, enc, tmp)) == 0 && wal_pos(m, store_names[i], &pos))
            rc = rg__wal_apply(&k, cfg->backup_repo, store_names[i], &pos, until_ms, tmp, &applied,
                               &reached);
        if (rc == 0 && rename(tmp, plain) != 0)
            rc = rg__vault_io_error("cannot write", plain);
        unlink(tmp);
        if (rc == 0)
            rc = integrity_check(plain);
        if (rc < 0)
            break;
        if (applied) {
            char when[RG_TIME_LEN + 1];
            rg_time_format(reached / 1000, when);
            when[RG_TIME_LEN - 1] = '\0'; /* the Z comes after the milliseconds */
            fprintf(out, "  %s: restored into %s, then %d captured segments up to %s.%03dZ\n",
                    store_names[i], plain, applied, when, (int)(reached % 1000));
        } else {
            fprintf(out, "  %s: restored into %s as the backup holds it\n", store_names[i], plain);
        }
    }
    if (rc == 0 && hint)
        fprintf(out,
                "backup %s restored into %s; serve it with RG_DATA_DIR=%s after `risinggen "
                "reindex` (the search index is rebuilt from the stores)\n",
                base, into, into);
out:
    json_decref(m);
    free_ids(ids, n);
    sodium_memzero(&k, sizeof k);
    return rc;
}

int rg__sqlite_backup_prune(const rg_config *cfg, FILE *out)
{
    char full[4096];
    char **ids;
    int n, rc;
    if ((rc = repo_of(cfg, full, sizeof full)) < 0)
        return rc;
    /* What killed backups left. */
    DIR *d = opendir(full);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (strncmp(e->d_name, ".tmp-", 5) != 0 && strncmp(e->d_name, ".verify-", 8) != 0)
            continue;
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", full, e->d_name);
        rg__vault_remove_tree(path);
        fprintf(out, "removed the unfinished %s\n", e->d_name);
    }
    if (d)
        closedir(d);
    if ((rc = backup_ids(full, &ids, &n)) < 0)
        return rc;
    char cut[RG_TIME_LEN + 1];
    rg_time_format(rg_now() - (int64_t)cfg->backup_keep_days * 86400, cut);
    int removed = 0;
    for (int i = 0; i < n - 1; i++) { /* never the newest */
        json_t *m = load_manifest(full, ids[i]);
        const char *created = m ? jstr(m, "created") : "";
        if (*created && strcmp(created, cut) < 0) {
            char path[4400];
            snprintf(path, sizeof path, "%s/%s", full, ids[i]);
            rg__vault_remove_tree(path);
            fprintf(out, "removed backup %s (%s)\n", ids[i], created);
            free(ids[i]);
            ids[i] = NULL;
            removed++;
        }
        json_decref(m);
    }
    int kept = 0;
    for (int i = 0; i < n; i++)
        if (ids[i])
            ids[kept++] = ids[i];
    /* Segments older than every backup kept apply to none. */
    long long from[NSTORES];
    segments_needed(full, ids, kept, from);
    for (int s = 0; s < NSTORES; s++)
        if (from[s] != LLONG_MAX)
            rg__wal_prune(cfg->backup_repo, store_names[s], from[s], out);
    fprintf(out, "%d removed, %d kept (RG_BACKUP_KEEP_DAYS %d)\n", removed, kept,
            cfg->backup_keep_days);
    free_ids(ids, kept);
    return 0;
}

/* The schedule of a running service. */

static struct {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    bool running, stop;
    const rg_config *cfg;
    rg__vault_keys k;
    rg__wal_archiver *arch[NSTORES];
    int full_at_min; /* minute of the day (UTC) of the daily full backup; -1: none */
} svc = {.mu = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

/* A full backup and a prune, their lines in the log. */
static bool scheduled_full(void)
{
    char *text = NULL, id[32];
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    int rc = create(svc.cfg, &svc.k, id, out);
    if (rc == 0 && (rc = rg_backup_verify(svc.cfg, id, out)) == 0)
        rg_backup_prune(svc.cfg, out);
    fclose(out);
    rg__backup_log_lines(text, rc < 0);
    free(text);
    if (rc < 0) {
        rg_warn("backup: the full backup failed: %s", rg_error_detail());
        rg_metrics_count("rg_backup_failures_total", 1);
        return false;
    }
    rg_metrics_gauge_set("rg_backup_last_success_timestamp_seconds", (double)rg_now());
    return true;
}

static void archive_all(bool *need_full)
{
    for (int s = 0; s < NSTORES; s++) {
        int64_t began;
        int rc = rg__wal_archiver_pass(svc.arch[s], &began);
        char series[96];
        if (rc == 1) {
            *need_full = true;
        } else if (rc < 0) {
            snprintf(series, sizeof series, "rg_backup_wal_archive_failures_total{store=\"%s\"}",
                     store_names[s]);
            rg_metrics_count(series, 1);
            rg_warn("backup: archiving the %s store's WAL failed: %s", store_names[s],
                    rg_error_detail());
        } else {
            snprintf(series, sizeof series, "rg_backup_wal_archived_until_seconds{store=\"%s\"}",
                     store_names[s]);
            rg_metrics_gauge_set(series, (double)began / 1000.0);
        }
    }
}

static void *service_main(void *arg)
{
    (void)arg;
    bool need_full = false;
    int64_t next_full =
                svc.full_at_min >= 0 ? rg__backup_next_daily(rg_now(), svc.full_at_min) : INT64_MAX,
            retry_at = 0;
    pthread_mutex_lock(&svc.mu);
    while (!svc.stop) {
        pthread_mutex_unlock(&svc.mu);
        archive_all(&need_full);
        int64_t now = rg_now();
        if ((need_full && now >= retry_at) || now >= next_full) {
            if (scheduled_full()) {
                need_full = false;
                if (now >= next_full)
                    next_full = rg__backup_next_daily(now, svc.full_at_min);
            } else {
                retry_at = now + 60; /* a failing backup is tried again each minute */
                if (now >= next_full)
                    next_full = now + 60;
            }
        }
        pthread_mutex_lock(&svc.mu);
        if (svc.stop)
            break;
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        int64_t ns = until.tv_nsec + (int64_t)svc.cfg->backup_archive_ms * 1000000;
        until.tv_sec += (time_t)(ns / 1000000000);
        until.tv_nsec = (long)(ns % 1000000000);
        pthread_cond_timedwait(&svc.wake, &svc.mu, &until);
    }
    pthread_mutex_unlock(&svc.mu);
    archive_all(&need_full); /* what the last requests wrote */
    return NULL;
}

int rg__sqlite_backup_service_start(const rg_config *cfg)
{
    if (!cfg->backup_repo || !*cfg->backup_repo)
        return 0;
    char *paths[NSTORES] = {0};
    int rc = store_files(cfg, paths);
    if (rc < 0)
        return rc;
    rc = rg__vault_keys_of(cfg, &svc.k);
    if (rc == 0)
        rc = rg__backup_full_at(cfg->backup_full_at, &svc.full_at_min);
    for (int s = 0; s < NSTORES && rc == 0; s++)
        rc =
            rg__wal_archiver_open(&svc.k, cfg->backup_repo, store_names[s], paths[s], &svc.arch[s]);
    free_files(paths);
    if (rc < 0) {
        for (int s = 0; s < NSTORES; s++) {
            rg__wal_archiver_close(svc.arch[s]);
            svc.arch[s] = NULL;
        }
        return rc;
    }
    rg_metrics_describe("rg_backup_last_success_timestamp_seconds", "gauge",
                        "When the newest complete full backup in the repository was taken.");
    rg_metrics_describe("rg_backup_failures_total", "counter",
                        "Full backups the service began and could not complete.");
    rg_metrics_describe("rg_backup_wal_archived_until_seconds", "gauge",
                        "Every change committed before this time is archived.");
    rg_metrics_describe("rg_backup_wal_archive_failures_total", "counter",
                        "Passes of the WAL archiver that failed.");
    char full[4096], **ids;
    int n;
    if (repo_of(cfg, full, sizeof full) == 0 && backup_ids(full, &ids, &n) == 0) {
        json_t *m = n ? load_manifest(full, ids[n - 1]) : NULL;
        int64_t t;
        if (m && rg_time_parse(jstr(m, "created"), &t) == 0)
            rg_metrics_gauge_set("rg_backup_last_success_timestamp_seconds", (double)t);
        json_decref(m);
        free_ids(ids, n);
    }
    svc.cfg = cfg;
    svc.stop = false;
    if (pthread_create(&svc.thread, NULL, service_main, NULL) != 0) {
        for (int s = 0; s < NSTORES; s++)
            rg__wal_archiver_close(svc.arch[s]);
        return rg_error_set(RG_EUNAVAIL, "cannot start the backup thread");
    }
    svc.running = true;
    rg_info("backup: capturing changes into %s every %d ms; full backups %s%s", cfg->backup_repo,
            cfg->backup_archive_ms, svc.full_at_min >= 0 ? "daily at " : "only on demand",
            svc.full_at_min >= 0 ? cfg->backup_full_at : "");
    return 0;
}

void rg__sqlite_backup_service_stop(void)
{
    if (!svc.running)
        return;
    pthread_mutex_lock(&svc.mu);
    svc.stop = true;
    pthread_cond_signal(&svc.wake);
    pthread_mutex_unlock(&svc.mu);
    pthread_join(svc.thread, NULL);
    for (int s = 0; s < NSTORES; s++) {
        rg__wal_archiver_close(svc.arch[s]);
        svc.arch[s] = NULL;
    }
    sodium_memzero(&svc.k, sizeof svc.k);
    svc.running = false;
}
