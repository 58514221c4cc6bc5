/* The one place where adapters are chosen, by URL scheme. An adapter that
 * this build does not include is simply absent from these tables; one that
 * does not implement this build's version of its port is refused here
 * ("registration"), so the wrappers never meet an older or newer layout. */
#include "risinggen/store/stores.h"
#include "risinggen/base/error.h"
#include "risinggen/base/log.h"

#include <stdio.h>
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
#ifdef RG_WITH_MONGODB
    &rg_mongo_doc_ops,
#endif
};
static const struct rg_cache_ops *const cache_adapters[] = {
    &rg_memory_cache_ops,
#ifdef RG_WITH_REDIS
    &rg_redis_cache_ops,
#endif
};
static const struct rg_search_ops *const search_adapters[] = {
    &rg_sqlite_search_ops,
#ifdef RG_WITH_POSTGRES
    &rg_pg_search_ops,
#endif
    &rg_es_search_ops,
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* True when url starts with "scheme:"; "postgresql" also answers
 * "postgres:", "http" "https:", and "mongodb" "mongodb+srv:". */
static bool scheme_is(const char *url, const char *scheme)
{
    size_t n = strlen(scheme);
    if (strncmp(url, scheme, n) == 0 && url[n] == ':')
        return true;
    return (strcmp(scheme, "postgresql") == 0 && strncmp(url, "postgres:", 9) == 0) ||
           (strcmp(scheme, "http") == 0 && strncmp(url, "https:", 6) == 0) ||
           (strcmp(scheme, "mongodb") == 0 && strncmp(url, "mongodb+srv:", 12) == 0);
}

static void no_adapter(const char *what, const char *url)
{
    const char *colon = url ? strchr(url, ':') : NULL;
    int n = colon ? (int)(colon - url) : (url ? (int)strlen(url) : 0);
    rg_error_set(RG_EINVAL, "no %s adapter for the scheme '%.*s' in this build", what,
                 n > 40 ? 40 : n, url ? url : "");
}

#define FIND(table, url, what, check)                                                              \
    do {                                                                                           \
        for (size_t i = 0; url && i < N(table); i++)                                               \
            if (scheme_is((url), table[i]->scheme))                                                \
                return check(table[i]) == 0 ? table[i] : NULL;                                     \
        no_adapter(what, url);                                                                     \
        return NULL;                                                                               \
    } while (0)

const struct rg_rel_ops *rg_rel_adapter(const char *url)
{
    FIND(rel_adapters, url, "relational", rg_rel_ops_check);
}
const struct rg_doc_ops *rg_doc_adapter(const char *url)
{
    FIND(doc_adapters, url, "documents", rg_doc_ops_check);
}
const struct rg_cache_ops *rg_cache_adapter(const char *url)
{
    FIND(cache_adapters, url, "cache", rg_cache_ops_check);
}
const struct rg_search_ops *rg_search_adapter(const char *url)
{
    FIND(search_adapters, url, "search", rg_search_ops_check);
}

void rg_store_options_from(const rg_config *cfg, rg_store_options *out)
{
    memset(out, 0, sizeof *out);
    out->pool_size = cfg->pool_size;
    out->pool_wait_ms = cfg->pool_wait_ms;
    out->replica_urls = cfg->relational_replica_urls && *cfg->relational_replica_urls
                            ? cfg->relational_replica_urls
                            : NULL;
    out->wal_archived = cfg->backup_repo && *cfg->backup_repo;
}

/* Prefixes the thread's error detail with the variable it is about. */
static int about(const char *var, int rc)
{
    char detail[400];
    snprintf(detail, sizeof detail, "%s", rg_error_detail());
    return rg_error_set(rc, "%s: %s", var, detail);
}

static int lacks(const char *var, const char *scheme, unsigned missing, const char *const names[],
                 int nnames)
{
    char list[256] = "";
    size_t len = 0;
    for (int b = 0; b < nnames; b++)
        if ((missing & (1u << b)) && names[b])
            len += (size_t)snprintf(list + len, len < sizeof list ? sizeof list - len : 0, "%s%s",
                                    len ? ", " : "", names[b]);
    return rg_error_set(RG_EINVAL, "%s: the '%s' adapter lacks what the service needs: %s", var,
                        scheme, list[0] ? list : "unknown capabilities");
}

static const char *const rel_cap_names[] = {"RETURNING", NULL, "read replicas"};
static const char *const doc_cap_names[] = {"unique indexes", NULL, "U+0000 in strings"};
static const char *const cache_cap_names[] = {"sharing between instances"};
static const char *const search_cap_names[] = {"highlights", "prefix matching", "English stemming",
                                               "words matched in SQL"};

int rg_stores_open(rg_stores *s, const rg_config *cfg, const rg_store_needs *needs)
{
    static const rg_store_needs none;
    if (!needs)
        needs = &none;
    memset(s, 0, sizeof *s);
    rg_store_options opts;
    rg_store_options_from(cfg, &opts);
    const struct rg_rel_ops *rel = rg_rel_adapter(cfg->relational_url);
    if (!rel)
        return about("RG_RELATIONAL_URL", rg_error_last());
    const struct rg_doc_ops *doc = rg_doc_adapter(cfg->document_url);
    if (!doc)
        return about("RG_DOCUMENT_URL", rg_error_last());
    const struct rg_cache_ops *cache = rg_cache_adapter(cfg->cache_url);
    if (!cache)
        return about("RG_CACHE_URL", rg_error_last());
    const struct rg_search_ops *search = rg_search_adapter(cfg->search_url);
    if (!search)
        return about("RG_SEARCH_URL", rg_error_last());
    if (needs->rel_caps & ~rel->caps)
        return lacks("RG_RELATIONAL_URL", rel->scheme, needs->rel_caps & ~rel->caps, rel_cap_names,
                     (int)N(rel_cap_names));
    if (needs->doc_caps & ~doc->caps)
        return lacks("RG_DOCUMENT_URL", doc->scheme, needs->doc_caps & ~doc->caps, doc_cap_names,
                     (int)N(doc_cap_names));
    if (needs->cache_caps & ~cache->caps)
        return lacks("RG_CACHE_URL", cache->scheme, needs->cache_caps & ~cache->caps,
                     cache_cap_names, (int)N(cache_cap_names));
    if (needs->search_caps & ~search->caps)
        return lacks("RG_SEARCH_URL", search->scheme, needs->search_caps & ~search->caps,
                     search_cap_names, (int)N(search_cap_names));
    int rc;
    if ((rc = rg_rel_open(&s->rel, rel, cfg->relational_url, &opts)) < 0) {
        rc = about("RG_RELATIONAL_URL", rc);
        goto fail;
    }
    if ((rc = rg_docs_open(&s->docs, doc, cfg->document_url, &opts, needs->indexes,
                           needs->nindexes)) < 0) {
        rc = about("RG_DOCUMENT_URL", rc);
        goto fail;
    }
    if ((rc = rg_cache_open(&s->cache, cache, cfg->cache_url, &opts)) < 0) {
        rc = about("RG_CACHE_URL", rc);
        goto fail;
    }
    opts.wal_archived = false; /* the search index is rebuilt, not backed up */
    if ((rc = rg_search_open(&s->search, search, cfg->search_url, &opts)) < 0) {
        rc = about("RG_SEARCH_URL", rc);
        goto fail;
    }
    return 0;
fail:
    rg_stores_close(s);
    return rc;
}

void rg_stores_close(rg_stores *s)
{
    if (s->search.ops)
        rg_search_close(&s->search);
    if (s->cache.ops)
        rg_cache_close(&s->cache);
    if (s->docs.ops)
        rg_docs_close(&s->docs);
    if (s->rel.ops)
        rg_rel_close(&s->rel);
    memset(s, 0, sizeof *s);
}
