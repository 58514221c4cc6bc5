/* Query parameters and path segments: the decoding of the path, the text
 * check, keyset cursors, ids, times, dates, money and coordinates, each fed
 * the same bytes as a NUL-terminated string. */
#include "domain.h"
#include "http/http.h"
#include "risinggen/base/clock.h"
#include "risinggen/base/geo.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    char *copy = strdup(s);
    size_t n = rg_http_unescape(copy);
    if (n > strlen(s))
        abort(); /* decoding never lengthens */
    (void)rg_http_valid_text(copy);
    free(copy);

    char a[256], b[256];
    if (rg_cursor_decode(s, a, sizeof a, b, sizeof b) == 0) {
        char again[1024];
        rg_cursor_encode(a, b, again, sizeof again);
    }
    int64_t id, t, minor;
    (void)rg_parse_id(s, &id);
    if (rg_time_parse(s, &t) == 0) {
        char out[RG_TIME_LEN + 1];
        rg_time_format(t, out);
    }
    if (rg_money_parse(s, &minor) == 0) {
        char out[24];
        rg_money_format(minor, out);
    }
    rg_error_clear();
    free(s);
    return 0;
}
