/* Encrypted, hashed files of a backup repository (vault.h). */
#include "vault.h"
#include "risinggen/base/alloc.h"
#include "risinggen/base/error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK   65536
#define ABYTES  crypto_secretstream_xchacha20poly1305_ABYTES
#define MAGIC   "RGB1"
#define KDF_CTX "rgbackup"

int rg__vault_io_error(const char *what, const char *path)
{
    return rg_error_set(RG_EINVAL, "%s %s: %s", what, path, strerror(errno));
}

int rg__vault_keys_of(const rg_config *cfg, rg__vault_keys *k)
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

struct rg__vault_writer {
    FILE *f;
    char *path;
    crypto_secretstream_xchacha20poly1305_state st;
    crypto_generichash_state h;
    unsigned char buf[CHUNK];
    size_t used;
    long long size;
    int rc; /* the first failure */
};

static void put(rg__vault_writer *w, const void *p, size_t n)
{
    if (w->rc == 0 && fwrite(p, n, 1, w->f) != 1)
        w->rc = rg__vault_io_error("cannot write", w->path);
    crypto_generichash_update(&w->h, p, n);
    w->size += (long long)n;
}

static void push(rg__vault_writer *w, bool last)
{
    unsigned char c[CHUNK + ABYTES];
    unsigned long long clen;
    crypto_secretstream_xchacha20poly1305_push(
        &w->st, c, &clen, w->buf, w->used, NULL, 0,
        last ? crypto_secretstream_xchacha20poly1305_TAG_FINAL : 0);
    unsigned char len[4] = {(unsigned char)clen, (unsigned char)(clen >> 8),
                            (unsigned char)(clen >> 16), (unsigned char)(clen >> 24)};
    put(w, len, 4);
    put(w, c, clen);
    w->used = 0;
}

/* A new file only its owner reads. */
static FILE *create_private(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (fd >= 0 && !f)
        close(fd);
    return f;
}

int rg__vault_create(const rg__vault_keys *k, const char *path, rg__vault_writer **out)
{
    *out = NULL;
    FILE *f = create_private(path);
    if (!f)
        return rg__vault_io_error("cannot write", path);
    rg__vault_writer *w = rg_xcalloc(1, sizeof *w);
    w->f = f;
    w->path = rg_xstrdup(path);
    crypto_generichash_init(&w->h, NULL, 0, crypto_generichash_BYTES);
    unsigned char header[crypto_secretstream_xchacha20poly1305_HEADERBYTES];
    crypto_secretstream_xchacha20poly1305_init_push(&w->st, header, k->file);
    put(w, MAGIC, 4);
    put(w, header, sizeof header);
    *out = w;
    return 0;
}

int rg__vault_write(rg__vault_writer *w, const void *data, size_t n)
{
    const unsigned char *p = data;
    while (n > 0 && w->rc == 0) {
        if (w->used == CHUNK) /* a full chunk is pushed once more follows */
            push(w, false);
        size_t take = CHUNK - w->used < n ? CHUNK - w->used : n;
        memcpy(w->buf + w->used, p, take);
        w->used += take;
        p += take;
        n -= take;
    }
    return w->rc;
}

static void writer_free(rg__vault_writer *w)
{
    sodium_memzero(w->buf, sizeof w->buf);
    sodium_memzero(&w->st, sizeof w->st);
    free(w->path);
    free(w);
}

int rg__vault_finish(rg__vault_writer *w, long long *size, char hash[RG__VAULT_HASH_HEX])
{
    push(w, true);
    unsigned char h[crypto_generichash_BYTES];
    crypto_generichash_final(&w->h, h, sizeof h);
    sodium_bin2hex(hash, RG__VAULT_HASH_HEX, h, sizeof h);
    *size = w->size;
    int rc = w->rc;
    if (rc == 0 && (fflush(w->f) != 0 || fsync(fileno(w->f)) != 0))
        rc = rg__vault_io_error("cannot write", w->path);
    if (fclose(w->f) != 0 && rc == 0)
        rc = rg__vault_io_error("cannot write", w->path);
    if (rc < 0)
        unlink(w->path);
    writer_free(w);
    return rc;
}

void rg__vault_abort(rg__vault_writer *w)
{
    if (!w)
        return;
    fclose(w->f);
    unlink(w->path);
    writer_free(w);
}

struct rg__vault_reader {
    FILE *f;
    char *path;
    crypto_secretstream_xchacha20poly1305_state st;
    unsigned char buf[CHUNK];
    size_t have, pos;
    bool final;
};

int rg__vault_open(const rg__vault_keys *k, const char *path, rg__vault_reader **out)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return rg__vault_io_error("cannot read", path);
    unsigned char magic[4], header[crypto_secretstream_xchacha20poly1305_HEADERBYTES];
    rg__vault_reader *r = rg_xcalloc(1, sizeof *r);
    r->f = f;
    r->path = rg_xstrdup(path);
    if (fread(magic, 4, 1, f) != 1 || memcmp(magic, MAGIC, 4) != 0 ||
        fread(header, sizeof header, 1, f) != 1 ||
        crypto_secretstream_xchacha20poly1305_init_pull(&r->st, header, k->file) != 0) {
        int rc = rg_error_set(RG_EINVAL, "%s is not a backup file of this format", path);
        rg__vault_close(r);
        return rc;
    }
    *out = r;
    return 0;
}

/* The next chunk into r->buf. */
static int pull(rg__vault_reader *r)
{
    unsigned char len[4], c[CHUNK + ABYTES], tag = 0;
    if (fread(len, 4, 1, r->f) != 1)
        return rg_error_set(RG_EINVAL, "%s ends before its last chunk", r->path);
    size_t clen =
        (size_t)len[0] | (size_t)len[1] << 8 | (size_t)len[2] << 16 | (size_t)len[3] << 24;
    unsigned long long n;
    if (clen < ABYTES || clen > CHUNK + ABYTES || fread(c, clen, 1, r->f) != 1 ||
        crypto_secretstream_xchacha20poly1305_pull(&r->st, r->buf, &n, &tag, c, clen, NULL, 0) != 0)
        return rg_error_set(RG_EINVAL, "%s does not decrypt: a damaged file or another key",
                            r->path);
    r->have = (size_t)n;
    r->pos = 0;
    if (tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL) {
        r->final = true;
        if (getc(r->f) != EOF)
            return rg_error_set(RG_EINVAL, "%s has bytes after its last chunk", r->path);
    }
    return 0;
}

long rg__vault_read(rg__vault_reader *r, void *buf, size_t n)
{
    unsigned char *p = buf;
    size_t got = 0;
    while (got < n) {
        if (r->pos == r->have) {
            if (r->final)
                break;
            int rc = pull(r);
            if (rc < 0)
                return rc;
            continue;
        }
        size_t take = r->have - r->pos < n - got ? r->have - r->pos : n - got;
        memcpy(p + got, r->buf + r->pos, take);
        r->pos += take;
        got += take;
    }
    return (long)got;
}

int rg__vault_read_all(rg__vault_reader *r, void *buf, size_t n)
{
    long got = rg__vault_read(r, buf, n);
    if (got < 0)
        return (int)got;
    if ((size_t)got != n)
        return rg_error_set(RG_EINVAL, "%s is cut short", r->path);
    return 0;
}

void rg__vault_close(rg__vault_reader *r)
{
    if (!r)
        return;
    fclose(r->f);
    sodium_memzero(r->buf, sizeof r->buf);
    sodium_memzero(&r->st, sizeof r->st);
    free(r->path);
    free(r);
}

int rg__vault_hash_file(const char *path, long long *size, char hash[RG__VAULT_HASH_HEX])
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
    unsigned char bin[crypto_generichash_BYTES];
    crypto_generichash_final(&h, bin, sizeof bin);
    sodium_bin2hex(hash, RG__VAULT_HASH_HEX, bin, sizeof bin);
    return 0;
}

void rg__vault_mac(const rg__vault_keys *k, json_t *m, char hex[RG__VAULT_HASH_HEX])
{
    json_t *copy = json_deep_copy(m);
    json_object_del(copy, "mac");
    char *text = json_dumps(copy, JSON_SORT_KEYS | JSON_COMPACT);
    unsigned char mac[crypto_generichash_BYTES];
    crypto_generichash(mac, sizeof mac, (const unsigned char *)text, strlen(text), k->mac,
                       sizeof k->mac);
    sodium_bin2hex(hex, RG__VAULT_HASH_HEX, mac, sizeof mac);
    free(text);
    json_decref(copy);
}

bool rg__vault_mac_ok(const rg__vault_keys *k, json_t *m)
{
    char mac[RG__VAULT_HASH_HEX];
    rg__vault_mac(k, m, mac);
    const char *want = json_string_value(json_object_get(m, "mac"));
    return want && strlen(want) == strlen(mac) && sodium_memcmp(want, mac, strlen(mac)) == 0;
}

int rg__vault_sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return rg__vault_io_error("cannot open", dir);
    int rc = fsync(fd) == 0 ? 0 : rg__vault_io_error("cannot sync", dir);
    close(fd);
    return rc;
}

int rg__vault_put_json(json_t *m, const char *path)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = create_private(tmp);
    if (!f)
        return rg__vault_io_error("cannot write", tmp);
    int rc = json_dumpf(m, f, JSON_SORT_KEYS | JSON_INDENT(2)) == 0 && fputc('\n', f) != EOF &&
                     fflush(f) == 0 && fsync(fileno(f)) == 0
                 ? 0
                 : rg__vault_io_error("cannot write", tmp);
    if (fclose(f) != 0 && rc == 0)
        rc = rg__vault_io_error("cannot write", tmp);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = rg__vault_io_error("cannot write", path);
    if (rc < 0)
        unlink(tmp);
    return rc;
}

int rg__vault_mkdir_p(const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0700) != 0 && errno != EEXIST)
                return rg__vault_io_error("cannot create", buf);
            *p = '/';
        }
    if (mkdir(buf, 0700) != 0 && errno != EEXIST)
        return rg__vault_io_error("cannot create", buf);
    return 0;
}

void rg__vault_remove_tree(const char *dir)
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
