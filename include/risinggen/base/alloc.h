/* Allocation that cannot fail: the process cannot go on without memory, so
 * these abort instead of returning NULL. Memory comes from malloc and is
 * given back with free. */
#ifndef RISINGGEN_BASE_ALLOC_H
#define RISINGGEN_BASE_ALLOC_H

#include <stddef.h>

void *rg_xmalloc(size_t n);
void *rg_xcalloc(size_t n, size_t m);
/* realloc(p, n) that aborts on failure; n 0 is treated as 1. */
void *rg_xrealloc(void *p, size_t n);
char *rg_xstrdup(const char *s);
/* rg_xstrdup(s), or NULL when s is NULL. */
char *rg_xstrdup_or_null(const char *s);
/* A NUL-terminated copy of the first n bytes of s. */
char *rg_xstrndup(const char *s, size_t n);

#endif
