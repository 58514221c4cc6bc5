/* Synthetic data for demos and benchmarks (`risinggen seed`). */
#ifndef RISINGGEN_DOMAIN_SEED_H
#define RISINGGEN_DOMAIN_SEED_H

#include "risinggen/domain/app.h"
#include <stdbool.h>
#include <stdio.h>

typedef struct rg_seed_opts {
    int users, venues, events, registrations;
    unsigned seed;
    int jobs;                 /* workers (1 when 0) */
    const char *tokens_out;   /* file for "userId token" lines, or NULL */
    int token_users;          /* tokens for the first N people (-1: all) */
    const char *manifest_out; /* file for "eventId rank capacity demand" lines of
                                 the visible events, most popular first, or NULL */
    const char *password;     /* password of every synthetic user */
    bool bulk;                /* events, registrations and payments loaded
                                 straight into their tables (an empty
                                 database; docs/design/bulk-seed.md) */
} rg_seed_opts;
/* Adds data shaped like a platform's (docs/design/bench-dataset.md) through
 * the domain functions and writes what it did, and its progress, to report.
 * The same seed gives the same data, whatever the number of workers; with
 * one worker the same row ids too. */
int rg_seed(rg_app *app, const rg_seed_opts *opts, FILE *report);

#endif
