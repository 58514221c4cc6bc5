/* Choosing adapters: one version policy (an adapter must implement this
 * build's version of its port, with every slot, or it is refused when it is
 * looked up), capabilities the service needs asked for at open, and clear
 * messages naming the setting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "risinggen/base/error.h"
#include "risinggen/store/stores.h"
#include "testcfg.h"
#include "tmpdir.h"

#include <stdio.h>
#include <string.h>

static void every_adapter_of_this_build_registers(void **state)
{
    (void)state;
    assert_int_equal(rg_rel_ops_check(&rg_sqlite_rel_ops), 0);
    assert_int_equal(rg_doc_ops_check(&rg_sqlite_doc_ops), 0);
    assert_int_equal(rg_cache_ops_check(&rg_memory_cache_ops), 0);
    assert_int_equal(rg_search_ops_check(&rg_sqlite_search_ops), 0);
#ifdef RG_WITH_POSTGRES
    assert_int_equal(rg_rel_ops_check(&rg_pg_rel_ops), 0);
    assert_int_equal(rg_doc_ops_check(&rg_pg_doc_ops), 0);
#endif
#ifdef RG_WITH_REDIS
    assert_int_equal(rg_cache_ops_check(&rg_redis_cache_ops), 0);
#endif
#ifdef RG_WITH_MONGODB
    assert_int_equal(rg_doc_ops_check(&rg_mongo_doc_ops), 0);
    assert_ptr_equal(rg_doc_adapter("mongodb://db1,db2/rg?replicaSet=rs0"), &rg_mongo_doc_ops);
    assert_ptr_equal(rg_doc_adapter("mongodb+srv://cluster.example.org/rg"), &rg_mongo_doc_ops);
#endif
    /* A capability bit an adapter sets has its slot, and the other way round. */
    assert_null(rg_sqlite_rel_ops.acquire_read);
    assert_false(rg_sqlite_rel_ops.caps & RG_REL_CAP_REPLICAS);
}

static void another_version_is_refused(void **state)
{
    (void)state;
    struct rg_rel_ops old = rg_sqlite_rel_ops;
    old.version = RG_REL_OPS_VERSION - 1;
    assert_int_equal(rg_rel_ops_check(&old), RG_EINVAL);
    assert_non_null(strstr(rg_error_detail(), "version"));
    rg_relational r;
    assert_int_equal(rg_rel_open(&r, &old, "sqlite:/nonexistent/x.db", NULL), RG_EINVAL);
    assert_null(r.db);
    struct rg_doc_ops newer = rg_sqlite_doc_ops;
    newer.version = RG_DOC_OPS_VERSION + 1;
    assert_int_equal(rg_doc_ops_check(&newer), RG_EINVAL);
    struct rg_cache_ops cache = rg_memory_cache_ops;
    cache.version = 0;
    assert_int_equal(rg_cache_ops_check(&cache), RG_EINVAL);
    struct rg_search_ops search = rg_sqlite_search_ops;
    search.version = 1;
    assert_int_equal(rg_search_ops_check(&search), RG_EINVAL);
}

static void missing_slots_are_refused(void **state)
{
    (void)state;
    struct rg_rel_ops rel = rg_sqlite_rel_ops;
    rel.ping = NULL;
    assert_int_equal(rg_rel_ops_check(&rel), RG_EINVAL);
    assert_non_null(strstr(rg_error_detail(), "slot"));
    /* acquire_read only with the replicas capability, and always with it */
    rel = rg_sqlite_rel_ops;
    rel.caps |= RG_REL_CAP_REPLICAS;
    assert_int_equal(rg_rel_ops_check(&rel), RG_EINVAL);
    struct rg_doc_ops doc = rg_sqlite_doc_ops;
    doc.find = NULL;
    assert_int_equal(rg_doc_ops_check(&doc), RG_EINVAL);
    /* The prepare slots exactly with the two-phase capability. */
    rel = rg_sqlite_rel_ops;
    rel.caps |= RG_REL_CAP_PREPARED_TX;
    assert_int_equal(rg_rel_ops_check(&rel), RG_EINVAL);
    doc = rg_sqlite_doc_ops;
    doc.caps |= RG_DOC_CAP_PREPARED;
    assert_int_equal(rg_doc_ops_check(&doc), RG_EINVAL);
    /* The atomic slots exactly with their capability. */
    doc = rg_sqlite_doc_ops;
    doc.atomic_ready = NULL;
    assert_int_equal(rg_doc_ops_check(&doc), RG_EINVAL);
    doc = rg_sqlite_doc_ops;
    doc.caps &= ~(unsigned)RG_DOC_CAP_ATOMIC;
    assert_int_equal(rg_doc_ops_check(&doc), RG_EINVAL);
    assert_non_null(strstr(rg_error_detail(), "atomic"));
#ifdef RG_WITH_POSTGRES
    rel = rg_pg_rel_ops;
    rel.finish_prepared = NULL;
    assert_int_equal(rg_rel_ops_check(&rel), RG_EINVAL);
    doc = rg_pg_doc_ops;
    doc.caps &= ~(unsigned)RG_DOC_CAP_PREPARED;
    assert_int_equal(rg_doc_ops_check(&doc), RG_EINVAL);
#endif
}

static void stores_say_which_setting_is_wrong(void **state)
{
    (void)state;
    char dir[512];
    snprintf(dir, sizeof dir, "%s", rg_test_tmpdir());
    char rel[600], docs[600], search[600];
    snprintf(rel, sizeof rel, "sqlite:%s/rel.db", dir);
    snprintf(docs, sizeof docs, "sqlite:%s/docs.db", dir);
    snprintf(search, sizeof search, "sqlite:%s/search.db", dir);
    rg_config cfg;
    rg_test_config(&cfg, rel, docs, NULL, search);
    rg_stores st;
    /* An adapter without a capability the caller needs. */
    rg_store_needs needs = {.rel_caps = RG_REL_CAP_REPLICAS};
    assert_int_equal(rg_stores_open(&st, &cfg, &needs), RG_EINVAL);
    assert_non_null(strstr(rg_error_detail(), "RG_RELATIONAL_URL"));
    assert_non_null(strstr(rg_error_detail(), "read replicas"));
    /* What the domain needs, the embedded adapters have. */
    assert_int_equal(rg_stores_open(&st, &cfg, rg_app_store_needs()), 0);
    rg_stores_close(&st);
    /* A scheme no adapter of this build serves. */
    assert_int_equal(rg_config_set(&cfg, "RG_DOCUMENT_URL", "couchdb://127.0.0.1/rg"), 0);
    assert_int_equal(rg_stores_open(&st, &cfg, rg_app_store_needs()), RG_EINVAL);
    assert_non_null(strstr(rg_error_detail(), "RG_DOCUMENT_URL"));
    assert_non_null(strstr(rg_error_detail(), "couchdb"));
#ifdef RG_WITH_MONGODB
    /* MongoDB: a URL the driver cannot parse, and a server that does not
     * answer (no MongoDB runs here: nothing listens on port 1). */
    assert_int_equal(rg_config_set(&cfg, "RG_DOCUMENT_URL", "mongodb://"), 0);
    assert_int_equal(rg_stores_open(&st, &cfg, rg_app_store_needs()), RG_EINVAL);
    assert_non_null(strstr(rg_error_detail(), "RG_DOCUMENT_URL"));
    assert_int_equal(rg_config_set(&cfg, "RG_DOCUMENT_URL",
                                   "mongodb://127.0.0.1:1/rg?serverSelectionTimeoutMS=200"),
                     0);
    assert_int_equal(rg_stores_open(&st, &cfg, rg_app_store_needs()), RG_EUNAVAIL);
#endif
    rg_config_free(&cfg);
    rg_test_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_adapter_of_this_build_registers),
        cmocka_unit_test(another_version_is_refused),
        cmocka_unit_test(missing_slots_are_refused),
        cmocka_unit_test(stores_say_which_setting_is_wrong),
    };
    return cmocka_run_group_tests_name("registry", tests, NULL, NULL);
}
