/* References across stores (`risinggen check --references`): rows that name
 * a person whose user document is missing, and documents that name an
 * event whose row is missing. The ids of erased people (tombstones) stand
 * for nobody by design and are not reported. */
#ifndef RISINGGEN_DOMAIN_REFERENCES_H
#define RISINGGEN_DOMAIN_REFERENCES_H

#include "risinggen/domain/app.h"

#define RG_REFS_SAMPLES 10

typedef struct rg_ref_kind {
    const char *what;              /* "event_registrations.user_id -> users", … */
    long missing;                  /* distinct ids that point nowhere */
    long holders;                  /* rows or documents that hold them */
    long checked;                  /* distinct ids (rows) or documents (documents) looked at */
    char ids[RG_REFS_SAMPLES][64]; /* the first missing ids */
    long counts[RG_REFS_SAMPLES];  /* how many hold each */
} rg_ref_kind;

#define RG_REF_KINDS 7
typedef struct rg_ref_report {
    rg_ref_kind kinds[RG_REF_KINDS];
} rg_ref_report;

/* Reads every reference; RG_E* when a store fails (the report is then
 * partial). */
int rg_references_check(rg_app *app, rg_ref_report *out);

#endif
