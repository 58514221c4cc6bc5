/* Settings of an in-process app or store set for a test: the given store
 * URLs (cache "memory:" when NULL), everything else at its default, whatever
 * the environment says. Header-only. */
#ifndef RG_TEST_TESTCFG_H
#define RG_TEST_TESTCFG_H

#include "risinggen/base/config.h"

#include <stdio.h>
#include <stdlib.h>

static inline void rg_test_config(rg_config *cfg, const char *rel, const char *docs,
                                  const char *cache, const char *search)
{
    rg_config_defaults(cfg);
    if (rg_config_set(cfg, "RG_RELATIONAL_URL", rel) < 0 ||
        rg_config_set(cfg, "RG_DOCUMENT_URL", docs) < 0 ||
        rg_config_set(cfg, "RG_CACHE_URL", cache ? cache : "memory:") < 0 ||
        rg_config_set(cfg, "RG_SEARCH_URL", search) < 0) {
        fprintf(stderr, "test settings refused\n");
        abort();
    }
}

#endif
