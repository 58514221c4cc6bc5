/* The redis:// URL of RG_CACHE_URL: user, password and their %-escapes,
 * [IPv6] hosts, ports, the database and the query. */
#include "redis/redis.h"
#include "risinggen/base/error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *url = malloc(size + 1);
    memcpy(url, data, size);
    url[size] = '\0';
    rg_cache *c = calloc(1, sizeof *c); /* free_settings frees it */
    (void)parse_url(c, url);
    free_settings(c);
    rg_error_clear();
    free(url);
    return 0;
}
