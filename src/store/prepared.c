/* The rule of prepared transaction ids (risinggen/store/prepared.h). */
#include "risinggen/store/prepared.h"

#include <string.h>

bool rg_gid_valid(const char *gid)
{
    if (!gid)
        return false;
    size_t n = strlen(gid);
    return n > 0 && n <= RG_GID_MAX &&
           strspn(gid, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}
