/* Identifiers, digests and random tokens: ObjectIds, SHA-256 in hex,
 * base64url. */
#ifndef RISINGGEN_BASE_ID_H
#define RISINGGEN_BASE_ID_H

#include <stdbool.h>
#include <stddef.h>

#define RG_OID_LEN    24 /* hex characters of an ObjectId */
#define RG_SHA256_HEX 64 /* hex characters of a SHA-256 digest */

/* Writes a new 24-hex ObjectId (4-byte time, 3-byte counter, 5 random bytes
 * of its own: not guessable from another id) and its NUL into out[25].
 * Thread-safe. */
void rg_oid_new(char out[RG_OID_LEN + 1]);
/* True when s is exactly 24 lowercase or uppercase hex digits. */
bool rg_oid_valid(const char *s);

/* Writes the lowercase hex SHA-256 of data into out[65]. */
void rg_sha256_hex(const void *data, size_t len, char out[RG_SHA256_HEX + 1]);
/* Fills out with n cryptographically random bytes encoded as base64url
 * (no padding); out must hold 4*n/3+4 bytes. */
void rg_random_token(char *out, size_t n);

/* Fills out with n cryptographically random bytes. */
void rg_random_bytes(void *out, size_t n);

/* base64url without padding. enc returns the length written (out must hold
 * 4*len/3+4); dec returns the decoded length or -1. */
size_t rg_b64url_encode(const void *in, size_t len, char *out);
long rg_b64url_decode(const char *in, size_t len, void *out, size_t cap);

#endif
