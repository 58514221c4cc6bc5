/* Files embedded in the binary at build time (migrations, named queries). */
#ifndef RG_EMBEDDED_H
#define RG_EMBEDDED_H
#include <stddef.h>

struct rg_embedded_file {
    const char *name; /* path relative to the source root: "migrations/sqlite/0001_init.up.sql" */
    const char *data; /* NUL-terminated */
    size_t len;
};

/* Terminated by an entry whose name is NULL. */
extern const struct rg_embedded_file rg_embedded_files[];

#endif
