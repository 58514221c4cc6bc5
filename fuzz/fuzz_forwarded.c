/* One X-Forwarded-For entry, and the bucket a client address counts in. */
#include "http/http.h"
#include "risinggen/base/addr.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char out[RG_ADDR_MAX], bucket[RG_ADDR_MAX];
    rg_http_forwarded_entry((const char *)data, size, out);
    if (!memchr(out, '\0', sizeof out))
        abort();
    rg_addr_bucket(out, bucket);
    if (!memchr(bucket, '\0', sizeof bucket))
        abort();
    return 0;
}
