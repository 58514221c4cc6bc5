/* For the few API tests that look at the stores behind the server (a reset
 * code that expired, an erasure that a crash cut short): the service's
 * stores opened in this program, as `risinggen serve` opens them. */
#include "testcfg.h"
#include "support.h"

#include <stdio.h>

void api_open_stores(rg_app *app)
{
    char rel[600], docs[600], search[600];
    snprintf(rel, sizeof rel, "%s", g_srv.relational_url);
    if (!rel[0])
        snprintf(rel, sizeof rel, "sqlite:%s/relational.db", g_srv.dir);
    snprintf(docs, sizeof docs, "%s", g_srv.document_url);
    if (!docs[0])
        snprintf(docs, sizeof docs, "sqlite:%s/documents.db", g_srv.dir);
    /* As the service's default: the relational database when it is
     * PostgreSQL, else a file of the data folder. */
    if (g_srv.relational_url[0])
        snprintf(search, sizeof search, "%s", g_srv.relational_url);
    else
        snprintf(search, sizeof search, "sqlite:%s/search.db", g_srv.dir);
    static rg_config cfg;
    rg_config_free(&cfg);
    rg_test_config(&cfg, rel, docs, g_srv.cache_url[0] ? g_srv.cache_url : "memory:", search);
    assert_int_equal(rg_app_open(app, &cfg, false), 0);
}
