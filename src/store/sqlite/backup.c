/* Full backups of the embedded profile's store files (risinggen/store/backup.h,
 * docs/design/backups.md).
 *
 * A file in the repository: "RGB1", the secretstream header, then chunks,
 * each a 4-byte little-endian length and that many bytes of ciphertext of
 * up to CHUNK bytes of plain text; the last chunk carries the FINAL tag.
 * The file key and the manifest's MAC key are derived from RG_BACKUP_KEY
 * (crypto_kdf, context "rgbackup"). The manifest (JSON, keys sorted) lists
 * each file's size and BLAKE2b-256 of its encrypted bytes, and carries a
 * keyed BLAKE2b of everything else in it. */
#include "risinggen/store/backup.h"
#include "risinggen/base/alloc.h"
#include "risinggen/base/clock.h"
#include "risinggen/base/error.h"
#include "sqlite_common.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK   65536
#define MAGIC   "RGB1"
#define KDF_CTX "rgbackup"

typedef struct keys {
    unsigned char file[crypto_secretstream_xchacha20poly1305_KEYBYTES];
    unsigned char mac[crypto_generichash_KEYBYTES];
} keys;

/* The stores a backup holds: name and URL. */
typedef struct store_file {
    const char *store;
    char *path;
} store_file;

static int get_keys(const rg_config *cfg, keys *k)
{
    unsigned char master[crypto_kdf_KEYBYTES];
    size_t n = 0;
    const char *hex = cfg->backup_key ? cfg->backup_key : "";
    if (strlen(hex) != 2 * crypto_kdf_KEYBYTES ||
        sodium_hex2bin(master, sizeof master, hex, strlen(hex), NULL, &n, NULL) != 0 ||
        n != sizeof master)
        return rg_error_set(RG_EINVAL,
                            "RG_BACKUP_KEY must be 64 hex digits (openssl rand -hex 32)");
    crypto_kdf_derive_from_key(k->file, sizeof k->file, 1, KDF_CTX, master);
    crypto_kdf_derive_from_key(k->mac, sizeof k->mac, 2, KDF_CTX, master);
    sodium_memzero(master, sizeof master);
    return 0;
}

static int repo_of(const rg_config *cfg, char *full, size_t cap)
{
    if (!cfg->backup_repo || !*cfg->backup_repo)
        return rg_error_set(RG_EINVAL, "RG_BACKUP_REPO names no folder");
    if ((size_t)snprintf(full, cap, "%s/full", cfg->backup_repo) >= cap)
        return rg_error_set(RG_EINVAL, "RG_BACKUP_REPO is too long");
    return 0;
}

/* The store files of the embedded profile; RG_EINVAL on the server
 * profile, whose backups are PostgreSQL's (pgBackRest). */
static int store_files(const rg_config *cfg, store_file f[2])
{
    const char *urls[2] = {cfg->relational_url, cfg->document_url};
    const char *names[2] = {"relational", "documents"};
    for (int i = 0; i < 2; i++) {
        bool sync;
        f[i].store = names[i];
        f[i].path = urls[i] ? rg__sqlite_path(urls[i], &sync) : NULL;
        if (!f[i].path) {
            free(f[0].path);
            f[0].path = NULL;
            return rg_error_set(RG_EINVAL,
                                "the %s store is not a SQLite file: backups of the server "
                                "profile are taken with pgBackRest, which this build does not "
                                "drive yet",
                                names[i]);
        }
    }
    return 0;
}

static void free_files(store_file f[2])
{
    free(f[0].path);
    free(f[1].path);
}

static int io_error(const char *what, const char *path)
{
    return rg_error_set(RG_EINVAL, "%s %s: %s", what, path, strerror(errno));
}

/* Encrypts the file at plain into enc; *size and hash describe enc. */
static int encrypt_file(const keys *k, const char *plain, const char *enc, long long *size,
                        unsigned char hash[crypto_generichash_BYTES])
{
    FILE *in = fopen(plain, "rb");
    if (!in)
        return io_error("cannot read", plain);
    FILE *out = fopen(enc, "wb");
    if (!out) {
        fclose(in);
        return io_error("cannot write", enc);
    }
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, crypto_generichash_BYTES);
    crypto_secretstream_xchacha20poly1305_state st;
    unsigned char header[crypto_secretstream_xchacha20poly1305_HEADERBYTES];
    crypto_secretstream_xchacha20poly1305_init_push(&st, header, k->file);
    unsigned char *buf = rg_xmalloc(CHUNK),
                  *cbuf = rg_xmalloc(CHUNK + crypto_secretstream_xchacha20poly1305_ABYTES);
    int rc = 0;
    *size = 0;
    if (fwrite(MAGIC, 4, 1, out) != 1 || fwrite(header, sizeof header, 1, out) != 1)
        rc = io_error("cannot write", enc);
    crypto_generichash_update(&h, (const unsigned char *)MAGIC, 4);
    crypto_generichash_update(&h, header, sizeof header);
    *size = 4 + (long long)sizeof header;
    bool last = false;
    while (rc == 0 && !last) {
        size_t n = fread(buf, 1, CHUNK, in);
        if (ferror(in)) {
            rc = io_error("cannot read", plain);
            break;
        }
        last = n < CHUNK && feof(in);
        if (n == CHUNK) { /* a full chunk may be the last one */
            int c = getc(in);
            last = c == EOF;
            if (c != EOF)
                ungetc(c, in);
        }
        unsigned long long clen;
        crypto_secretstream_xchacha20poly1305_push(
            &st, cbuf, &clen, buf, n, NULL, 0,
            last ? crypto_secretstream_xchacha20poly1305_TAG_FINAL : 0);
        unsigned char len[4] = {(unsigned char)clen, (unsigned char)(clen >> 8),
                                (unsigned char)(clen >> 16), (unsigned char)(clen >> 24)};
        if (fwrite(len, 4, 1, out) != 1 || fwrite(cbuf, clen, 1, out) != 1) {
            rc = io_error("cannot write", enc);
            break;
        }
        crypto_generichash_update(&h, len, 4);
        crypto_generichash_update(&h, cbuf, clen);
        *size += 4 + (long long)clen;
    }
    crypto_generichash_final(&h, hash, crypto_generichash_BYTES);
    sodium_memzero(buf, CHUNK);
    free(buf);
    free(cbuf);
    fclose(in);
    if (fflush(out) != 0 || fsync(fileno(out)) != 0)
        rc = rc ? rc : io_error("cannot write", enc);
    if (fclose(out) != 0 && rc == 0)
        rc = io_error("cannot write", enc);
    return rc;
}

/* Decrypts enc into plain (NULL: only checks every chunk). */
static int decrypt_file(const keys *k, const char *enc, const char *plain)
{
    FILE *in = fopen(enc, "rb");
    if (!in)
        return io_error("cannot read", enc);
    FILE *out = NULL;
    if (plain && !(out = fopen(plain, "wb"))) {
        fclose(in);
        return io_error("cannot write", plain);
    }
    unsigned char magic[4], header[crypto_secretstream_xchacha20poly1305_HEADERBYTES];
    crypto_secretstream_xchacha20poly1305_state st;
    int rc = 0;
    if (fread(magic, 4, 1, in) != 1 || memcmp(magic, MAGIC, 4) != 0 ||
        fread(header, sizeof header, 1, in) != 1 ||
        crypto_secretstream_xchacha20poly1305_init_pull(&st, header, k->file) != 0)
        rc = rg_error_set(RG_EINVAL, "%s is not a backup file of this format", enc);
    unsigned char *buf = rg_xmalloc(CHUNK),
                  *cbuf = rg_xmalloc(CHUNK + crypto_secretstream_xchacha20poly1305_ABYTES);
    unsigned char tag = 0;
    while (rc == 0 && tag != crypto_secretstream_xchacha20poly1305_TAG_FINAL) {
        unsigned char len[4];
        if (fread(len, 4, 1, in) != 1) {
            rc = rg_error_set(RG_EINVAL, "%s ends before its last chunk", enc);
            break;
        }
        size_t clen =
            (size_t)len[0] | (size_t)len[1] << 8 | (size_t)len[2] << 16 | (size_t)len[3] << 24;
        unsigned long long n;
        if (clen < crypto_secretstream_xchacha20poly1305_ABYTES ||
            clen > CHUNK + crypto_secretstream_xchacha20poly1305_ABYTES ||
            fread(cbuf, clen, 1, in) != 1 ||
            crypto_secretstream_xchacha20poly1305_pull(&st, buf, &n, &tag, cbuf, clen, NULL, 0) !=
                0) {
            rc = rg_error_set(RG_EINVAL, "%s does not decrypt: a damaged file or another key", enc);
            break;
        }
        if (out && n && fwrite(buf, n, 1, out) != 1)
            rc = io_error("cannot write", plain);
    }
    if (rc == 0 && getc(in) != EOF)
        rc = rg_error_set(RG_EINVAL, "%s has bytes after its last chunk", enc);
    sodium_memzero(buf, CHUNK);
    free(buf);
    free(cbuf);
    fclose(in);
    if (out) {
        if ((fflush(out) != 0 || fsync(fileno(out)) != 0) && rc == 0)
            rc = io_error("cannot write", plain);
        if (fclose(out) != 0 && rc == 0)
            rc = io_error("cannot write", plain);
    }
    return rc;
}

static int hash_file(const char *path, long long *size,
                     unsigned char hash[crypto_generichash_BYTES])
{
    FILE *in = fopen(path, "rb");
    if (!in)
        return -1;
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, crypto_generichash_BYTES);
    unsigned char *buf = rg_xmalloc(CHUNK);
    size_t n;
    *size = 0;
    while ((n = fread(buf, 1, CHUNK, in)) > 0) {
        crypto_generichash_update(&h, buf, n);
        *size += (long long)n;
    }
    free(buf);
    fclose(in);
    crypto_generichash_final(&h, hash, crypto_generichash_BYTES);
    return 0;
}

/* The manifest's MAC: keyed BLAKE2b of its JSON without "mac", keys sorted. */
static void manifest_mac(const keys *k, json_t *m, char hex[2 * crypto_generichash_BYTES + 1])
{
    json_t *copy = json_deep_copy(m);
    json_object_del(copy, "mac");
    char *text = json_dumps(copy, JSON_SORT_KEYS | JSON_COMPACT);
    unsigned char mac[crypto_generichash_BYTES];
    crypto_generichash(mac, sizeof mac, (const unsigned char *)text, strlen(text), k->mac,
                       sizeof k->mac);
    sodium_bin2hex(hex, 2 * crypto_generichash_BYTES + 1, mac, sizeof mac);
    free(text);
    json_decref(copy);
}

/* A consistent copy of the SQLite database at src into dst (online: a read
 * transaction of its own, the service keeps writing). */
static int snapshot(const char *src, const char *dst)
{
    sqlite3 *from = NULL, *to = NULL;
    int rc = sqlite3_open_v2(src, &from, SQLITE_OPEN_READONLY, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_open(dst, &to);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(from, 5000);
        sqlite3_backup *b = sqlite3_backup_init(to, "main", from, "main");
        if (!b) {
            rc = sqlite3_errcode(to);
        } else {
            while ((rc = sqlite3_backup_step(b, -1)) == SQLITE_OK || rc == SQLITE_BUSY ||
                   rc == SQLITE_LOCKED)
                sqlite3_sleep(10);
            sqlite3_backup_finish(b);
            rc = rc == SQLITE_DONE ? sqlite3_errcode(to) : rc;
        }
    }
    int out = rc == SQLITE_OK
                  ? 0
                  : rg_error_set(RG_EUNAVAIL, "cannot copy %s: %s", src, sqlite3_errstr(rc));
    sqlite3_close(from);
    sqlite3_close(to);
    return out;
}

static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

static int mkdir_p(const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0700) != 0 && errno != EEXIST)
                return io_error("cannot create", buf);
            *p = '/';
        }
    if (mkdir(buf, 0700) != 0 && errno != EEXIST)
        return io_error("cannot create", buf);
    return 0;
}

int rg_backup_create(const rg_config *cfg, FILE *out)
{
    keys k;
    char full[4096], tmp[4200], dest[4200], plain[4200], enc[4400];
    store_file f[2] = {0};
    int rc;
    if ((rc = get_keys(cfg, &k)) < 0 || (rc = repo_of(cfg, full, sizeof full)) < 0 ||
        (rc = store_files(cfg, f)) < 0 || (rc = mkdir_p(full)) < 0)
        goto out;
    int64_t now = rg_now();
    char when[RG_TIME_LEN + 1], id[32];
    rg_time_format(now, when);
    struct tm tm;
    time_t t = (time_t)now;
    gmtime_r(&t, &tm);
    strftime(id, sizeof id, "%Y%m%dT%H%M%SZ", &tm);
    snprintf(dest, sizeof dest, "%s/%s", full, id);
    for (int n = 2; access(dest, F_OK) == 0; n++) { /* two in one second */
        snprintf(id + 16, sizeof id - 16, "-%d", n);
        snprintf(dest, sizeof dest, "%s/%s", full, id);
    }
    snprintf(tmp, sizeof tmp, "%s/.tmp-%s-%ld", full, id, (long)getpid());
    if (mkdir(tmp, 0700) != 0) {
        rc = io_error("cannot create", tmp);
        goto out;
    }
    json_t *m = json_pack("{s:i, s:s, s:s, s:s, s:[]}", "version", 1, "id", id, "created", when,
                          "profile", "embedded", "files");
    for (int i = 0; i < 2 && rc == 0; i++) {
        /* The plain copy stays beside the live file (same disk, same
         * rights) and goes once encrypted. */
        snprintf(plain, sizeof plain, "%s.backup-%ld", f[i].path, (long)getpid());
        snprintf(enc, sizeof enc, "%s/%s.db.enc", tmp, f[i].store);
        long long size = 0;
        unsigned char hash[crypto_generichash_BYTES];
        char hex[2 * crypto_generichash_BYTES + 1];
        int64_t t0 = rg_mono_ms();
        if ((rc = snapshot(f[i].path, plain)) == 0)
            rc = encrypt_file(&k, plain, enc, &size, hash);
        unlink(plain);
        if (rc < 0)
            break;
        sodium_bin2hex(hex, sizeof hex, hash, sizeof hash);
        char name[64];
        snprintf(name, sizeof name, "%s.db.enc", f[i].store);
        json_array_append_new(json_object_get(m, "files"),
                              json_pack("{s:s, s:s, s:I, s:s}", "name", name, "store", f[i].store,
                                        "size", (json_int_t)size, "blake2b", hex));
        fprintf(out, "  %s: %lld bytes encrypted in %.1f s\n", f[i].store, size,
                (double)(rg_mono_ms() - t0) / 1000.0);
    }
    if (rc == 0) {
        char mac[2 * crypto_generichash_BYTES + 1];
        manifest_mac(&k, m, mac);
        json_object_set_new(m, "mac", json_string(mac));
        snprintf(enc, sizeof enc, "%s/manifest.json", tmp);
        if (json_dump_file(m, enc, JSON_SORT_KEYS | JSON_INDENT(2)) != 0)
            rc = io_error("cannot write", enc);
    }
    json_decref(m);
    if (rc == 0 && rename(tmp, dest) != 0)
        rc = io_error("cannot complete", dest);
    if (rc < 0)
        remove_tree(tmp);
    else
        fprintf(out, "backup %s complete in %s\n", id, dest);
out:
    free_files(f);
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
        return errno == ENOENT ? 0 : io_error("cannot read", full);
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

int rg_backup_list(const rg_config *cfg, FILE *out)
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
        json_array_foreach(json_object_get(m, "files"), j, f) bytes +=
            json_integer_value(json_object_get(f, "size"));
        fprintf(out, "%s  %s  %zu files  %lld bytes%s\n", ids[i],
                m ? json_string_value(json_object_get(m, "created")) : "?",
                json_array_size(json_object_get(m, "files")), bytes,
                m ? "" : "  (no readable manifest)");
        json_decref(m);
    }
    if (n == 0)
        fprintf(out, "no backups in %s\n", full);
    free_ids(ids, n);
    return 0;
}

static int verify_one(const keys *k, const char *full, const char *id, FILE *out)
{
    json_t *m = load_manifest(full, id);
    if (!m)
        return rg_error_set(RG_EINVAL, "backup %s: its manifest is missing or not JSON", id);
    int rc = 0;
    char mac[2 * crypto_generichash_BYTES + 1];
    manifest_mac(k, m, mac);
    const char *want = json_string_value(json_object_get(m, "mac"));
    if (!want || strlen(want) != strlen(mac) || sodium_memcmp(want, mac, strlen(mac)) != 0)
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
        const char *name = json_string_value(json_object_get(f, "name"));
        char path[4600];
        snprintf(path, sizeof path, "%s/%s/%s", full, id, name ? name : "");
        long long size;
        unsigned char hash[crypto_generichash_BYTES];
        char hex[2 * crypto_generichash_BYTES + 1];
        if (!name || strchr(name, '/') || hash_file(path, &size, hash) != 0) {
            rc = rg_error_set(RG_EINVAL, "backup %s: the file %s is missing", id,
                              name ? name : "(unnamed)");
            break;
        }
        sodium_bin2hex(hex, sizeof hex, hash, sizeof hash);
        if (size != json_integer_value(json_object_get(f, "size")) ||
            strcmp(hex, json_string_value(json_object_get(f, "blake2b"))
                            ? json_string_value(json_object_get(f, "blake2b"))
                            : "") != 0) {
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

int rg_backup_verify(const rg_config *cfg, const char *id, FILE *out)
{
    keys k;
    char full[4096];
    char **ids = NULL;
    int n = 0, rc;
    if ((rc = get_keys(cfg, &k)) < 0 || (rc = repo_of(cfg, full, sizeof full)) < 0)
        return rc;
    if (id) {
        rc = verify_one(&k, full, id, out);
    } else if ((rc = backup_ids(full, &ids, &n)) == 0) {
        if (n == 0)
            rc = rg_error_set(RG_EINVAL, "no backups in %s", full);
        for (int i = 0; i < n && rc == 0; i++)
            rc = verify_one(&k, full, ids[i], out);
    }
    free_ids(ids, n);
    sodium_memzero(&k, sizeof k);
    return rc;
}

static int restore_into(const rg_config *cfg, const char *id, const char *into, bool hint,
                        FILE *out);

int rg_backup_restore(const rg_config *cfg, const char *id, const char *into, FILE *out)
{
    return restore_into(cfg, id, into, true, out);
}

int rg_backup_verify_restore(const rg_config *cfg, const char *id, FILE *out)
{
    char full[4096], scratch[4200];
    int rc = repo_of(cfg, full, sizeof full);
    if (rc < 0 || (rc = mkdir_p(full)) < 0)
        return rc;
    snprintf(scratch, sizeof scratch, "%s/.verify-XXXXXX", full);
    if (!mkdtemp(scratch))
        return io_error("cannot create", scratch);
    rc = restore_into(cfg, id, scratch, false, out);
    remove_tree(scratch);
    if (rc == 0)
        fprintf(out, "the restore into a scratch folder passed its checks; the folder is gone\n");
    return rc;
}

static int restore_into(const rg_config *cfg, const char *id, const char *into, bool hint,
                        FILE *out)
{
    keys k;
    char full[4096];
    char **ids = NULL;
    int n = 0, rc;
    if ((rc = get_keys(cfg, &k)) < 0 || (rc = repo_of(cfg, full, sizeof full)) < 0 ||
        (rc = backup_ids(full, &ids, &n)) < 0)
        return rc;
    if (!into || !*into) {
        rc = rg_error_set(RG_EINVAL, "restore needs --into FOLDER");
        goto out;
    }
    if (!id && n > 0)
        id = ids[n - 1];
    if (!id) {
        rc = rg_error_set(RG_EINVAL, "no backups in %s", full);
        goto out;
    }
    DIR *d = opendir(into);
    if (d) {
        struct dirent *e;
        bool empty = true;
        while ((e = readdir(d)))
            empty = empty && (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0);
        closedir(d);
        if (!empty) {
            rc = rg_error_set(RG_EINVAL, "%s is not empty: a restore never writes over data", into);
            goto out;
        }
    }
    if ((rc = verify_one(&k, full, id, out)) < 0 || (rc = mkdir_p(into)) < 0)
        goto out;
    static const char *const stores[] = {"relational", "documents"};
    for (int i = 0; i < 2 && rc == 0; i++) {
        char enc[4600], plain[4600], tmp[4700];
        snprintf(enc, sizeof enc, "%s/%s/%s.db.enc", full, id, stores[i]);
        snprintf(plain, sizeof plain, "%s/%s.db", into, stores[i]);
        snprintf(tmp, sizeof tmp, "%s.restoring", plain);
        if ((rc = decrypt_file(&k, enc, tmp)) == 0 && rename(tmp, plain) != 0)
            rc = io_error("cannot write", plain);
        unlink(tmp);
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        if (rc == 0 &&
            (sqlite3_open_v2(plain, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
             sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) != SQLITE_OK ||
             sqlite3_step(st) != SQLITE_ROW ||
             strcmp((const char *)sqlite3_column_text(st, 0), "ok") != 0))
            rc = rg_error_set(RG_EINVAL, "the restored %s fails SQLite's integrity check", plain);
        sqlite3_finalize(st);
        sqlite3_close(db);
        if (rc == 0)
            fprintf(out, "  %s: restored into %s\n", stores[i], plain);
    }
    if (rc == 0 && hint)
        fprintf(out,
                "backup %s restored into %s; serve it with RG_DATA_DIR=%s after `risinggen "
                "reindex` (the search index is rebuilt from the stores)\n",
                id, into, into);
out:
    free_ids(ids, n);
    sodium_memzero(&k, sizeof k);
    return rc;
}

int rg_backup_prune(const rg_config *cfg, FILE *out)
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
        remove_tree(path);
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
        const char *created = m ? json_string_value(json_object_get(m, "created")) : NULL;
        if (created && strcmp(created, cut) < 0) {
            char path[4400];
            snprintf(path, sizeof path, "%s/%s", full, ids[i]);
            remove_tree(path);
            fprintf(out, "removed backup %s (%s)\n", ids[i], created);
            removed++;
        }
        json_decref(m);
    }
    fprintf(out, "%d removed, %d kept (RG_BACKUP_KEEP_DAYS %d)\n", removed, n - removed,
            cfg->backup_keep_days);
    free_ids(ids, n);
    return 0;
}
