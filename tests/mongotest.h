/* A database of its own per test program on the MongoDB server of
 * RG_TEST_MONGODB_URL (none can run on the build machines: everything that
 * needs it is skipped, saying so, when the variable is not set). MongoDB
 * makes a database on its first write; rg_test_mongo_drop_db removes it.
 * Header-only; the test programs link libmongoc through rgcore. */
#ifndef RG_TEST_MONGOTEST_H
#define RG_TEST_MONGOTEST_H

#ifdef RG_WITH_MONGODB
#include <mongoc/mongoc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* RG_TEST_MONGODB_URL with its database replaced by a new name (malloc'd),
 * its options kept; NULL when the variable is not set. */
static inline char *rg_test_mongo_create_db(const char *tag)
{
    const char *base = getenv("RG_TEST_MONGODB_URL");
    const char *hosts = base ? strstr(base, "://") : NULL;
    if (!hosts)
        return NULL;
    hosts += 3;
    size_t end = (size_t)(hosts - base) + strcspn(hosts, "/?");
    const char *rest = base + end;
    if (*rest == '/')
        rest += 1 + strcspn(rest + 1, "?");
    static int counter;
    char name[64];
    snprintf(name, sizeof name, "rgt_%s_%d_%d", tag, (int)getpid(), ++counter);
    size_t n = end + strlen(name) + strlen(rest) + 2;
    char *url = malloc(n);
    if (!url)
        abort();
    snprintf(url, n, "%.*s/%s%s", (int)end, base, name, rest);
    return url;
}

static inline void rg_test_mongo_drop_db(char *url)
{
    if (!url)
        return;
    mongoc_init();
    mongoc_uri_t *uri = mongoc_uri_new(url);
    mongoc_client_t *client = uri ? mongoc_client_new_from_uri(uri) : NULL;
    if (client) {
        mongoc_database_t *db = mongoc_client_get_database(client, mongoc_uri_get_database(uri));
        bson_error_t err;
        if (!mongoc_database_drop(db, &err))
            fprintf(stderr, "cannot drop the test database of %s: %s\n", url, err.message);
        mongoc_database_destroy(db);
        mongoc_client_destroy(client);
    }
    mongoc_uri_destroy(uri);
    free(url);
}
#endif

#endif
