/* For tests that run the domain in-process: settings with the given store
 * URLs (cache "memory:" when NULL) and everything else at its default,
 * whatever the environment says; the domain's headers; calls made as a
 * principal. Header-only. */
#ifndef RG_TEST_TESTCFG_H
#define RG_TEST_TESTCFG_H

#include "risinggen/base/config.h"
#include "risinggen/domain/accounts.h"
#include "risinggen/domain/app.h"
#include "risinggen/domain/audit.h"
#include "risinggen/domain/auth.h"
#include "risinggen/domain/channels.h"
#include "risinggen/domain/content.h"
#include "risinggen/domain/events.h"
#include "risinggen/domain/jobs.h"
#include "risinggen/domain/outbox.h"
#include "risinggen/domain/payments.h"
#include "risinggen/domain/registrations.h"
#include "risinggen/domain/users.h"
#include "risinggen/domain/venues.h"

#include <stdio.h>
#include <stdlib.h>

static inline void rg_test_config(rg_config *cfg, const char *rel, const char *docs,
                                  const char *cache, const char *search)
{
    rg_config_defaults(cfg);
    if (rg_config_set(cfg, "RG_RELATIONAL_URL", rel) < 0 ||
        rg_config_set(cfg, "RG_DOCUMENT_URL", docs) < 0 ||
        rg_config_set(cfg, "RG_CACHE_URL", cache ? cache : "memory:") < 0 ||
        rg_config_set(cfg, "RG_SEARCH_URL", search) < 0 ||
        rg_config_set(cfg, "RG_PAYMENTS_PROVIDERS", "test,manual") < 0) {
        fprintf(stderr, "test settings refused\n");
        abort();
    }
}

/* The context of a call made as the principal p: a pointer to a request
 * context that lives until the end of the enclosing statement's block. */
#define RG_AS(p) (&(rg_ctx){.who = *(p), .read_own_writes = true})

#endif
