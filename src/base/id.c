#include "risinggen/base/id.h"

#include <ctype.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

static atomic_uint oid_counter;
static pthread_once_t oid_once = PTHREAD_ONCE_INIT;

static void oid_init(void)
{
    uint32_t c;
    randombytes_buf(&c, sizeof c);
    atomic_store(&oid_counter, c);
}

/* 12 bytes as MongoDB's ObjectId lays them out for sorting: the time in
 * seconds (4 bytes), then a counter (3 bytes) so that ids of one process
 * sort in the order they were made, then 40 random bits of each id's own
 * (5 bytes): knowing one id, or when another was made, does not tell its
 * value; finding one id by trying takes about 2^39 guesses. */
void rg_oid_new(char out[RG_OID_LEN + 1])
{
    pthread_once(&oid_once, oid_init);
    unsigned char b[12];
    uint32_t t = (uint32_t)time(NULL);
    unsigned c = atomic_fetch_add(&oid_counter, 1);
    b[0] = t >> 24, b[1] = t >> 16, b[2] = t >> 8, b[3] = t;
    b[4] = c >> 16, b[5] = c >> 8, b[6] = c;
    randombytes_buf(b + 7, 5);
    sodium_bin2hex(out, RG_OID_LEN + 1, b, sizeof b);
}

bool rg_oid_valid(const char *s)
{
    if (!s)
        return false;
    for (int i = 0; i < RG_OID_LEN; i++)
        if (!isxdigit((unsigned char)s[i]))
            return false;
    return s[RG_OID_LEN] == '\0';
}

void rg_sha256_hex(const void *data, size_t len, char out[RG_SHA256_HEX + 1])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, data, len);
    sodium_bin2hex(out, RG_SHA256_HEX + 1, h, sizeof h);
}

size_t rg_b64url_encode(const void *in, size_t len, char *out)
{
    size_t cap = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_bin2base64(out, cap, in, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return strlen(out);
}

long rg_b64url_decode(const char *in, size_t len, void *out, size_t cap)
{
    size_t n = 0;
    if (sodium_base642bin(out, cap, in, len, NULL, &n, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
        return -1;
    return (long)n;
}

void rg_random_token(char *out, size_t n)
{
    unsigned char buf[64];
    if (n > sizeof buf)
        n = sizeof buf;
    randombytes_buf(buf, n);
    rg_b64url_encode(buf, n, out);
}

void rg_random_bytes(void *out, size_t n)
{
    randombytes_buf(out, n);
}
