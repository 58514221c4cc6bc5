/* The one place where adapters are chosen, by URL scheme. An adapter that
 * this build does not include is simply absent from these tables. */
#include "risinggen/base/error.h"
#include "risinggen/base/metrics.h"
#include "risinggen/store/stores.h"
#include "risinggen/base/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct rg_rel_ops *const rel_adapters[] = {
    &rg_sqlite_rel_ops,
#ifdef RG_WITH_POSTGRES
    &rg_pg_rel_ops,
#endif
};
static const struct rg_doc_ops *const doc_adapters[] = {
    &rg_sqlite_doc_ops,
#ifdef RG_WITH_POSTGRES
    &rg_pg_doc_ops,
#endif
};
static const struct rg_cache_ops *const cache_adapters[] = {
    &rg_memory_cache_ops,
#ifdef RG_WITH_REDIS
    &rg_redis_cache_ops,
#endif
};
static const struct rg_search_ops *const search_adapters[] = {&rg_sqlite_search_ops};

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* True when url starts with "scheme:"; "postgres" also answers "postgresql". */
static bool scheme_is(const char *url, const char *scheme)
{
    size_t n = strlen(scheme);
    if (strncmp(url, scheme, n) == 0 && url[n] == ':')
        return true;
    return strcmp(scheme, "postgresql") == 0 && strncmp(url, "postgres:", 9) == 0;
}

#define FIND(table, url, want)                                                                     \
    do {                                                                                           \
        if (!(url))                                                                                \
            return NULL;                                                                           \
        for (size_t i = 0; i < N(table); i++)                                                      \
            if (table[i]->version >= (want) && scheme_is((url), table[i]->scheme))                 \
                return table[i];                                                                   \
        return NULL;                                                                               \
    } while (0)

const struct rg_rel_ops *rg_rel_adapter(const char *url)
{
    FIND(rel_adapters, url, RG_REL_OPS_VERSION);
}
const struct rg_doc_ops *rg_doc_adapter(const char *url)
{
    FIND(doc_adapters, url, RG_DOC_OPS_VERSION);
}
const struct rg_cache_ops *rg_cache_adapter(const char *url)
{
    FIND(cache_adapters, url, RG_CACHE_OPS_VERSION);
}
const struct rg_search_ops *rg_search_adapter(const char *url)
{
    FIND(search_adapters, url, RG_SEARCH_OPS_VERSION);
}

void rg_store_urls_from_env(rg_store_urls *u)
{
    static char rel[4096], docs[4096], search[4096];
    const char *dir = getenv("RG_DATA_DIR");
    if (!dir || !*dir)
        dir = "data";
    snprintf(rel, sizeof rel, "sqlite:%s/relational.db", dir);
    snprintf(docs, sizeof docs, "sqlite:%s/documents.db", dir);
    snprintf(search, sizeof search, "sqlite:%s/search.db", dir);
    const char *e;
    u->relational = (e = getenv("RG_RELATIONAL_URL")) && *e ? e : rel;
    u->documents = (e = getenv("RG_DOCUMENT_URL")) && *e ? e : docs;
    u->cache = (e = getenv("RG_CACHE_URL")) && *e ? e : "memory:";
    u->search = (e = getenv("RG_SEARCH_URL")) && *e ? e : search;
}

static int unknown(const char *what, const char *url)
{
    const char *colon = strchr(url, ':');
    rg_err("no %s adapter for scheme '%.*s' in this build", what,
           colon ? (int)(colon - url) : (int)strlen(url), url);
    return rg_error_set(RG_EINVAL, "no %s adapter for this URL", what);
}

int rg_stores_open(rg_stores *s, const rg_store_urls *u, const rg_doc_index *indexes, int nindexes)
{
    rg_metrics_describe("rg_pool_connections", "gauge", "Open store connections by store.");
    rg_metrics_describe("rg_pool_in_use", "gauge", "Store connections lent to a request now.");
    rg_metrics_describe("rg_cache_hits_total", "counter", "Cache hits.");
    rg_metrics_describe("rg_cache_misses_total", "counter", "Cache misses.");
    memset(s, 0, sizeof *s);
    int rc;
    if (!(s->rel.ops = rg_rel_adapter(u->relational)))
        return unknown("relational", u->relational);
    if (!(s->docs.ops = rg_doc_adapter(u->documents)))
        return unknown("documents", u->documents);
    if (!(s->cache.ops = rg_cache_adapter(u->cache)))
        return unknown("cache", u->cache);
    if (!(s->search.ops = rg_search_adapter(u->search)))
        return unknown("search", u->search);
    if ((rc = s->rel.ops->open(&s->rel.db, u->relational)) < 0)
        goto fail;
    if ((rc = s->docs.ops->open(&s->docs.d, u->documents, indexes, nindexes)) < 0)
        goto fail;
    if ((rc = s->cache.ops->open(&s->cache.c, u->cache)) < 0)
        goto fail;
    if ((rc = s->search.ops->open(&s->search.s, u->search)) < 0)
        goto fail;
    return 0;
fail:
    rg_stores_close(s);
    return rc;
}

void rg_stores_close(rg_stores *s)
{
    if (s->search.s)
        s->search.ops->close(s->search.s);
    if (s->cache.c)
        s->cache.ops->close(s->cache.c);
    if (s->docs.d)
        s->docs.ops->close(s->docs.d);
    if (s->rel.db)
        s->rel.ops->close(s->rel.db);
    memset(s, 0, sizeof *s);
}
