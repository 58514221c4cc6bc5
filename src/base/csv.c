#include "risinggen/base/csv.h"

#include <string.h>

#define FORMULA_LEADS "=+-@\t\r\n"

void rg_csv_field(rg_buf *b, const char *s, bool last)
{
    if (!s)
        s = "";
    bool defuse = *s && strchr(FORMULA_LEADS, *s);
    if (defuse || strpbrk(s, ",\"\r\n")) {
        rg_buf_puts(b, defuse ? "\"'" : "\"");
        for (const char *p = s; *p; p++) {
            if (*p == '"')
                rg_buf_puts(b, "\"");
            rg_buf_put(b, p, 1);
        }
        rg_buf_puts(b, "\"");
    } else {
        rg_buf_puts(b, s);
    }
    rg_buf_puts(b, last ? "\r\n" : ",");
}
