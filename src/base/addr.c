#include "risinggen/base/addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

void rg_addr_bucket(const char *addr, char out[RG_ADDR_MAX])
{
    struct in6_addr a;
    if (strchr(addr, ':') && inet_pton(AF_INET6, addr, &a) == 1) {
        memset(a.s6_addr + 8, 0, 8);
        char text[RG_ADDR_MAX];
        inet_ntop(AF_INET6, &a, text, sizeof text);
        snprintf(out, RG_ADDR_MAX, "%.*s/64",
                 (int)(strlen(text) < RG_ADDR_MAX - 4 ? strlen(text) : RG_ADDR_MAX - 4), text);
        return;
    }
    snprintf(out, RG_ADDR_MAX, "%s", addr);
}
