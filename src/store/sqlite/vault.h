/* The files of a backup repository (docs/design/backups.md): encrypted
 * with libsodium's secretstream (XChaCha20-Poly1305) in chunks, hashed
 * with BLAKE2b, under keys derived from RG_BACKUP_KEY.
 *
 * A file: "RGB1", the secretstream header, then chunks, each a 4-byte
 * little-endian length and that many bytes of ciphertext of up to 64 KiB
 * of plain text; the last chunk carries the FINAL tag, so a truncated
 * file, a flipped byte or another key fails at the chunk it touches.
 * Every function returns 0 or RG_E* with the reason set. */
#ifndef RG_SQLITE_VAULT_H
#define RG_SQLITE_VAULT_H

#include "risinggen/base/config.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>

#define RG__VAULT_HASH_HEX (2 * crypto_generichash_BYTES + 1)

typedef struct rg__vault_keys {
    unsigned char file[crypto_secretstream_xchacha20poly1305_KEYBYTES];
    unsigned char mac[crypto_generichash_KEYBYTES];
} rg__vault_keys;

/* Derives the keys from RG_BACKUP_KEY (64 hex digits). */
int rg__vault_keys_of(const rg_config *cfg, rg__vault_keys *k);

/* Writing: create, write any number of times, then finish (which syncs the
 * file and gives its size and the BLAKE2b-256 of its bytes as hex) or
 * abort (which removes it). */
typedef struct rg__vault_writer rg__vault_writer;
int rg__vault_create(const rg__vault_keys *k, const char *path, rg__vault_writer **out);
int rg__vault_write(rg__vault_writer *w, const void *data, size_t n);
int rg__vault_finish(rg__vault_writer *w, long long *size, char hash[RG__VAULT_HASH_HEX]);
void rg__vault_abort(rg__vault_writer *w);

/* Reading: open, read until it gives 0 (the FINAL chunk was read and
 * nothing follows it), close. */
typedef struct rg__vault_reader rg__vault_reader;
int rg__vault_open(const rg__vault_keys *k, const char *path, rg__vault_reader **out);
/* Up to n bytes into buf: how many (0 at the end), or RG_EINVAL. */
long rg__vault_read(rg__vault_reader *r, void *buf, size_t n);
/* Exactly n bytes, or RG_EINVAL naming the file as cut short. */
int rg__vault_read_all(rg__vault_reader *r, void *buf, size_t n);
void rg__vault_close(rg__vault_reader *r);

/* The size and BLAKE2b-256 (hex) of the bytes of the file at path; -1 when
 * it cannot be read. */
int rg__vault_hash_file(const char *path, long long *size, char hash[RG__VAULT_HASH_HEX]);
/* Keyed BLAKE2b of the JSON of m without its "mac" member, keys sorted. */
void rg__vault_mac(const rg__vault_keys *k, json_t *m, char hex[RG__VAULT_HASH_HEX]);
/* Whether m carries the mac of rg__vault_mac (compared in constant time). */
bool rg__vault_mac_ok(const rg__vault_keys *k, json_t *m);

/* Writes the JSON of m to path through a temporary file, synced and
 * renamed into place. */
int rg__vault_put_json(json_t *m, const char *path);
/* Fsyncs the folder, so that a rename into it survives a crash. */
int rg__vault_sync_dir(const char *dir);
int rg__vault_mkdir_p(const char *path);
/* Removes a folder and the files in it (one level). */
void rg__vault_remove_tree(const char *dir);
int rg__vault_io_error(const char *what, const char *path);

#endif
