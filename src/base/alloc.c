#include "risinggen/base/alloc.h"

#include <stdlib.h>
#include <string.h>

void *rg_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        abort();
    return p;
}

void *rg_xcalloc(size_t n, size_t m)
{
    void *p = calloc(n ? n : 1, m ? m : 1);
    if (!p)
        abort();
    return p;
}

char *rg_xstrdup(const char *s)
{
    char *p = strdup(s);
    if (!p)
        abort();
    return p;
}

char *rg_xstrdup_or_null(const char *s)
{
    return s ? rg_xstrdup(s) : NULL;
}

void *rg_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        abort();
    return q;
}

char *rg_xstrndup(const char *s, size_t n)
{
    char *p = strndup(s, n);
    if (!p)
        abort();
    return p;
}
