/* The four stores of the service, opened together from the configuration:
 * the one place where adapters are chosen, by the scheme of each URL
 * (src/store/registry.c). */
#ifndef RISINGGEN_STORE_STORES_H
#define RISINGGEN_STORE_STORES_H

#include "risinggen/base/config.h"
#include "risinggen/store/cache.h"
#include "risinggen/store/documents.h"
#include "risinggen/store/relational.h"
#include "risinggen/store/search.h"

typedef struct rg_stores {
    rg_relational rel;
    rg_documents docs;
    rg_cache_port cache;
    rg_search_port search;
} rg_stores;

/* What the caller needs of the stores: the capability bits each adapter
 * must have (RG_*_CAP_*), and the document indexes to ensure. */
typedef struct rg_store_needs {
    unsigned rel_caps, doc_caps, cache_caps, search_caps;
    const rg_doc_index *indexes; /* borrowed for the call */
    int nindexes;
} rg_store_needs;

/* The adapter serving url's scheme, checked against its port (see
 * "registration" in docs/architecture.md), or NULL with RG_EINVAL and a
 * detail naming the scheme: no adapter in this build, or one that does not
 * implement this build's version of the port. */
const struct rg_rel_ops *rg_rel_adapter(const char *url);
const struct rg_doc_ops *rg_doc_adapter(const char *url);
const struct rg_cache_ops *rg_cache_adapter(const char *url);
const struct rg_search_ops *rg_search_adapter(const char *url);

/* The pool bounds and replicas of cfg, as adapters take them. */
void rg_store_options_from(const rg_config *cfg, rg_store_options *out);

/* Opens the four stores named by cfg (RG_*_URL). Refuses, with RG_EINVAL
 * and a detail naming the variable, a URL no adapter serves or an adapter
 * that lacks a capability in needs; on any failure closes what was opened.
 * cfg is borrowed for the call. */
int rg_stores_open(rg_stores *out, const rg_config *cfg, const rg_store_needs *needs);
void rg_stores_close(rg_stores *s);

#endif
