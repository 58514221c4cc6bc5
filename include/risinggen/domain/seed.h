/* Synthetic data for demos and benchmarks (`risinggen seed`). */
#ifndef RISINGGEN_DOMAIN_SEED_H
#define RISINGGEN_DOMAIN_SEED_H

#include "risinggen/domain/app.h"
#include <stdio.h>

typedef struct rg_seed_opts {
    int users, venues, events, registrations;
    unsigned seed;
    const char *tokens_out; /* file for "userId token" lines, or NULL */
    const char *password;   /* password of every synthetic user */
} rg_seed_opts;
/* Adds deterministic data (the same seed gives the same data) and writes
 * what it did to report. */
int rg_seed(rg_app *app, const rg_seed_opts *opts, FILE *report);

#endif
