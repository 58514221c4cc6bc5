/* The one place where adapters are chosen: by the scheme of each RG_*_URL. */
#ifndef RISINGGEN_STORES_H
#define RISINGGEN_STORES_H

#include "risinggen/store/cache.h"
#include "risinggen/store/documents.h"
#include "risinggen/store/relational.h"
#include "risinggen/store/search.h"

typedef struct rg_store_urls {
    const char *relational; /* sqlite:PATH, postgresql://… */
    const char *documents;  /* sqlite:PATH, postgresql://…, mongodb://… */
    const char *cache;      /* memory:, redis://… */
    const char *search;     /* sqlite:PATH, http(s)://… */
} rg_store_urls;

typedef struct rg_stores {
    rg_relational rel;
    rg_documents docs;
    rg_cache_port cache;
    rg_search_port search;
} rg_stores;

/* Fills urls from the environment, defaulting to the embedded stores under
 * data_dir (RG_DATA_DIR, default "data"). Strings are static or from getenv. */
void rg_store_urls_from_env(rg_store_urls *urls);

/* The adapter serving url's scheme, or NULL (unknown scheme or not built in). */
const struct rg_rel_ops *rg_rel_adapter(const char *url);
const struct rg_doc_ops *rg_doc_adapter(const char *url);
const struct rg_cache_ops *rg_cache_adapter(const char *url);
const struct rg_search_ops *rg_search_adapter(const char *url);

/* Opens all four stores; on failure closes what was opened and returns the
 * error. indexes are the document indexes the domain needs. */
int rg_stores_open(rg_stores *out, const rg_store_urls *urls, const rg_doc_index *indexes,
                   int nindexes);
void rg_stores_close(rg_stores *s);

#endif
