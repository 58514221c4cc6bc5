/* Growable byte buffer, always NUL-terminated after its data. Every function
 * accepts a zeroed struct; rg_buf_free accepts a never-used one. Allocation
 * failure aborts (see alloc.h). */
#ifndef RISINGGEN_BASE_BUF_H
#define RISINGGEN_BASE_BUF_H

#include <stddef.h>

typedef struct rg_buf {
    char *data;
    size_t len, cap;
} rg_buf;

void rg_buf_put(rg_buf *b, const void *p, size_t n);
void rg_buf_puts(rg_buf *b, const char *s);
void rg_buf_printf(rg_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Gives the NUL-terminated data to the caller (free() it) and resets b. */
char *rg_buf_steal(rg_buf *b);
void rg_buf_free(rg_buf *b);

#endif
