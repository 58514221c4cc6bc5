/* The CSV writer: whatever the text, the field reads back (RFC 4180) as
 * that text, with a ' in front exactly when it starts like a formula. */
#include "risinggen/base/csv.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    size_t len = strlen(s);
    rg_buf b = {0};
    rg_csv_field(&b, s, true);
    /* Read it back. */
    const char *p = b.data;
    rg_buf back = {0};
    if (*p == '"') {
        for (p++; !(p[0] == '"' && p[1] != '"'); p++) {
            if (!*p)
                abort(); /* an open quote */
            if (p[0] == '"')
                p++;
            rg_buf_put(&back, p, 1);
        }
        p++;
    } else {
        size_t n = strcspn(p, ",\r\n\"");
        rg_buf_put(&back, p, n);
        p += n;
    }
    if (strcmp(p, "\r\n") != 0)
        abort(); /* the field did not end where it should */
    bool formula = len && strchr("=+-@\t\r\n", s[0]);
    const char *text = back.data ? back.data : "";
    if (formula ? (text[0] != '\'' || strcmp(text + 1, s) != 0) : strcmp(text, s) != 0)
        abort();
    rg_buf_free(&back);
    rg_buf_free(&b);
    free(s);
    return 0;
}
