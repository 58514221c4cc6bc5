/* Checks of what comes off the wire, apart from libmicrohttpd's glue so that
 * the fuzz targets (fuzz/) reach them. */
#include "http.h"
#include "risinggen/base/validate.h"

#include <string.h>

int rg_http_json_depth(const char *s, size_t n)
{
    int depth = 0, max = 0;
    bool in_str = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = false;
        } else if (c == '"') {
            in_str = true;
        } else if (c == '{' || c == '[') {
            if (++depth > max)
                max = depth;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return max;
}

size_t rg_http_unescape(char *s)
{
    for (char *p = strstr(s, "%00"); p; p = strstr(p + 3, "%00"))
        p[1] = p[2] = 'F';
    return MHD_http_unescape(s);
}

bool rg_http_valid_text(const char *s)
{
    size_t n = strlen(s);
    if (!rg_utf8_valid(s, n))
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}
