/* Documents port on MongoDB (libmongoc): docs/design/adapters.md,
 * "Documents on MongoDB". A collection holds {_id, rev, body}: the id (an
 * ObjectId when it is 24 lowercase hex digits, else a string), the
 * revision (int64) and the document mapped to BSON (bson_json.h). Writes
 * use the URL's write concern, w=majority when it names none; reads the
 * primary. Finds run as an aggregation that orders by the port's type
 * rank, then the value (numbers, text, booleans; objects and arrays by id
 * alone), then the id, so that sorting and keyset paging agree with the
 * other adapters whatever the documents hold. */
#include "bson_json.h"
#include "risinggen/base/alloc.h"
#include "risinggen/base/error.h"
#include "risinggen/base/log.h"
#include "risinggen/store/documents.h"

#include <mongoc/mongoc.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_DB           "risinggen"
#define SELECTION_TIMEOUT_MS 5000

/* A declared unique index: its value is kept beside the body, under
 * "uq" (see unique_field). */
struct unique_key {
    char collection[RG_DOC_COLLECTION_MAX + 1];
    char path[RG_DOC_PATH_MAX + 1];
};

struct rg_docs {
    mongoc_uri_t *uri;
    mongoc_client_pool_t *pool;
    char *db;
    struct unique_key uniques[RG_DOC_INDEXES_MAX];
    int nuniques;
    bool transactions; /* a replica set or a sharded cluster: write_all runs */
    /* Collections known to exist, which a transaction may write (servers
     * before 4.4 cannot create one inside a transaction). */
    pthread_mutex_t lock;
    char known[RG_DOC_INDEXES_MAX][RG_DOC_COLLECTION_MAX + 1];
    int nknown;
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

/* The driver's own log, into the service's: errors and warnings only. */
static void driver_log(mongoc_log_level_t level, const char *domain, const char *message, void *arg)
{
    (void)arg;
    if (level <= MONGOC_LOG_LEVEL_CRITICAL) /* ERROR is 0, CRITICAL 1 */
        rg_err("mongodb %s: %s", domain, message);
    else if (level == MONGOC_LOG_LEVEL_WARNING)
        rg_warn("mongodb %s: %s", domain, message);
}

static void init_driver(void)
{
    mongoc_log_set_handler(driver_log, NULL);
    mongoc_init(); /* process-wide; mongoc_cleanup is left to exit */
}

/* Set by mongo_error when the last error was one a transaction may meet
 * and pass when run again: a write conflict with a concurrent transaction
 * (112), a transaction the server no longer knows (251), a lock wait that
 * timed out (24). */
static _Thread_local bool transient;

/* An error of the driver or the server as RG_E*: a duplicate key is a
 * conflict; no reachable server, a lost connection, a primary stepping
 * down or a write concern not met are RG_EUNAVAIL, and so is a transient
 * transaction error once write_all has run it again; the rest is logged. */
static int mongo_error(const bson_error_t *e, const char *what)
{
    bool server = e->domain == MONGOC_ERROR_SERVER || e->domain == MONGOC_ERROR_WRITE_CONCERN;
    transient = server && (e->code == 112 || e->code == 251 || e->code == 24);
    if (transient)
        return rg_error_set(RG_EUNAVAIL, "the document store met a concurrent write; try again");
    if (server && (e->code == 11000 || e->code == 11001))
        return rg_error_set(RG_ECONFLICT, "a document with this key exists");
    if (server && e->code == 52) /* DollarPrefixedFieldName, before MongoDB 5.0 */
        return rg_error_set(RG_EVALIDATION, "a member name must not start with '$'");
    if ((server && e->code == 10334) || /* BSONObjectTooLarge */
        (e->domain == MONGOC_ERROR_BSON && e->code == MONGOC_ERROR_BSON_INVALID))
        return rg_error_set(RG_ETOOBIG, "the document is too large for the document store");
    /* Not reachable, or not now: no primary, a lost connection, a primary
     * stepping down, shutting down, a write concern not met, a timeout. */
    static const uint32_t unavailable[] = {6,   7,     50,    64,    89,    91,    189,
                                           262, 10107, 11600, 11602, 13435, 13436, 100};
    bool down = e->domain == MONGOC_ERROR_SERVER_SELECTION || e->domain == MONGOC_ERROR_STREAM ||
                (e->domain == MONGOC_ERROR_CLIENT && e->code != MONGOC_ERROR_CLIENT_AUTHENTICATE) ||
                e->domain == MONGOC_ERROR_WRITE_CONCERN;
    for (size_t i = 0; !down && server && i < sizeof unavailable / sizeof unavailable[0]; i++)
        down = e->code == unavailable[i];
    if (down) {
        rg_warn("mongodb %s: %s", what, e->message);
        return rg_error_set(RG_EUNAVAIL, "the document store is not reachable; try again");
    }
    rg_err("mongodb %s: %s (domain %u, code %u)", what, e->message, e->domain, e->code);
    return rg_error_set(RG_EINTERNAL, "internal error");
}

static int mapping_error(const char *what)
{
    rg_err("mongodb %s: a value BSON cannot hold, or one the port never writes", what);
    return rg_error_set(RG_EINTERNAL, "internal error");
}

/* Appends the id as stored: an ObjectId or a string. */
static bool append_id(bson_t *b, const char *key, const char *id)
{
    return rg__bson_append_text(b, key, -1, id);
}

/* Write options: the client-side key checks are off, since the port
 * allows any member name inside a document (dots, "$", empty) and the
 * body is never a top-level document of the server. */
static const bson_t *write_opts(bson_t *opts)
{
    bson_init(opts);
    BSON_APPEND_BOOL(opts, "validate", false);
    return opts;
}

/* Options that put an operation into session s's transaction (none when s
 * is NULL); false when the driver refuses (err says why). */
static bool session_opts(mongoc_client_session_t *s, bson_t *opts, bson_error_t *err)
{
    return !s || mongoc_client_session_append(s, opts, err);
}

/* A collection of a client from the pool; both given back with put. */
static mongoc_collection_t *get(struct rg_docs *d, const char *coll, mongoc_client_t **client)
{
    *client = mongoc_client_pool_pop(d->pool);
    return mongoc_client_get_collection(*client, d->db, coll);
}

static void put(struct rg_docs *d, mongoc_client_t *client, mongoc_collection_t *c)
{
    mongoc_collection_destroy(c);
    mongoc_client_pool_push(d->pool, client);
}

static int64_t reply_count(const bson_t *reply, const char *field)
{
    bson_iter_t it;
    return bson_iter_init_find(&it, reply, field) ? bson_iter_as_int64(&it) : 0;
}

/* A unique index is not on the body: MongoDB indexes each element of an
 * array, so [1] would collide with 1, which the port keeps apart. The
 * value at the path is copied, wrapped as {"v": value}, to the member
 * "uq.<path with '|' for '.'>" of the stored document (absent without a
 * value), and the unique index is on that member, over the documents that
 * have it. A wrapped array is one value, compared whole. */
static void unique_field(const char *path, char out[RG_DOC_PATH_MAX + 4])
{
    snprintf(out, RG_DOC_PATH_MAX + 4, "uq.%s", path);
    for (char *p = out + 3; *p; p++)
        if (*p == '.')
            *p = '|';
}

/* The value at a path of doc, through objects only; NULL for no value. */
static json_t *value_at(json_t *doc, const char *path)
{
    json_t *v = doc;
    char name[RG_DOC_PATH_MAX + 1];
    for (const char *p = path; v && *p;) {
        size_t n = strcspn(p, ".");
        snprintf(name, sizeof name, "%.*s", (int)n, p);
        v = json_is_object(v) ? json_object_get(v, name) : NULL;
        p += n + (p[n] == '.');
    }
    return json_is_null(v) ? NULL : v;
}

/* The "uq" member of a document of coll (see unique_field). */
static bool append_unique_keys(const struct rg_docs *d, bson_t *b, const char *coll, json_t *doc)
{
    bson_t uq;
    if (!bson_append_document_begin(b, "uq", 2, &uq))
        return false;
    bool ok = true;
    for (int i = 0; ok && i < d->nuniques; i++) {
        json_t *v =
            strcmp(d->uniques[i].collection, coll) == 0 ? value_at(doc, d->uniques[i].path) : NULL;
        if (!v)
            continue;
        char field[RG_DOC_PATH_MAX + 4];
        unique_field(d->uniques[i].path, field);
        bson_t wrap;
        if (!bson_append_document_begin(&uq, field + 3, -1, &wrap)) {
            ok = false;
            break;
        }
        ok = rg__bson_append_json(&wrap, "v", 1, v);
        ok = bson_append_document_end(&uq, &wrap) && ok;
    }
    return bson_append_document_end(b, &uq) && ok;
}

/* createIndexes for one declared index: (path, _id) for finds, and a
 * partial unique index on the path when declared unique. Names derive
 * from the path, so running it again changes nothing. */
static int ensure_index(struct rg_docs *d, mongoc_client_t *client, const rg_doc_index *ix)
{
    char field[RG_DOC_PATH_MAX + 8], name[RG_DOC_PATH_MAX + 8];
    snprintf(field, sizeof field, "body.%s", ix->path);
    bson_t cmd = BSON_INITIALIZER, list, one, key;
    BSON_APPEND_UTF8(&cmd, "createIndexes", ix->collection);
    bson_append_array_begin(&cmd, "indexes", -1, &list);
    bson_append_document_begin(&list, "0", -1, &one);
    bson_append_document_begin(&one, "key", -1, &key);
    BSON_APPEND_INT32(&key, field, 1);
    BSON_APPEND_INT32(&key, "_id", 1);
    bson_append_document_end(&one, &key);
    snprintf(name, sizeof name, "ik_%s", ix->path);
    BSON_APPEND_UTF8(&one, "name", name);
    bson_append_document_end(&list, &one);
    if (ix->unique) {
        unique_field(ix->path, field);
        bson_append_document_begin(&list, "1", -1, &one);
        bson_append_document_begin(&one, "key", -1, &key);
        BSON_APPEND_INT32(&key, field, 1);
        bson_append_document_end(&one, &key);
        snprintf(name, sizeof name, "iu_%s", ix->path);
        BSON_APPEND_UTF8(&one, "name", name);
        BSON_APPEND_BOOL(&one, "unique", true);
        bson_t partial, exists;
        bson_append_document_begin(&one, "partialFilterExpression", -1, &partial);
        bson_append_document_begin(&partial, field, -1, &exists);
        BSON_APPEND_BOOL(&exists, "$exists", true);
        bson_append_document_end(&partial, &exists);
        bson_append_document_end(&one, &partial);
        bson_append_document_end(&list, &one);
    }
    bson_append_array_end(&cmd, &list);
    bson_error_t err;
    bool ok = mongoc_client_write_command_with_opts(client, d->db, &cmd, NULL, NULL, &err);
    bson_destroy(&cmd);
    if (!ok) {
        rg_err("documents: cannot create the index on %s.%s", ix->collection, ix->path);
        return mongo_error(&err, "create index");
    }
    return 0;
}

static void docs_close(rg_docs *d)
{
    if (!d)
        return;
    if (d->pool)
        mongoc_client_pool_destroy(d->pool);
    mongoc_uri_destroy(d->uri);
    pthread_mutex_destroy(&d->lock);
    free(d->db);
    free(d);
}

static int ping_client(struct rg_docs *d, mongoc_client_t *client)
{
    bson_t cmd = BSON_INITIALIZER;
    BSON_APPEND_INT32(&cmd, "ping", 1);
    bson_error_t err;
    bool ok = mongoc_client_command_simple(client, d->db, &cmd, NULL, NULL, &err);
    bson_destroy(&cmd);
    return ok ? 0 : mongo_error(&err, "ping");
}

/* Whether the servers run multi-document transactions: a replica set
 * member answers hello with setName, a mongos with msg "isdbgrid"; a
 * standalone server with neither. Servers older than hello (4.4.2) are
 * asked isMaster. */
static int transactions_run(struct rg_docs *d, mongoc_client_t *client, bool *out)
{
    static const char *const commands[] = {"hello", "isMaster"};
    bson_error_t err;
    bool ok = false;
    bson_t reply;
    for (int i = 0; i < 2 && !ok; i++) {
        bson_t cmd = BSON_INITIALIZER;
        BSON_APPEND_INT32(&cmd, commands[i], 1);
        ok = mongoc_client_command_simple(client, "admin", &cmd, NULL, &reply, &err);
        bson_destroy(&cmd);
        if (!ok)
            bson_destroy(&reply);
    }
    if (!ok)
        return mongo_error(&err, "hello");
    bson_iter_t it;
    *out = bson_iter_init_find(&it, &reply, "setName") ||
           (bson_iter_init_find(&it, &reply, "msg") && BSON_ITER_HOLDS_UTF8(&it) &&
            strcmp(bson_iter_utf8(&it, NULL), "isdbgrid") == 0);
    bson_destroy(&reply);
    return 0;
}

/* Opens the store at a "mongodb://…" or "mongodb+srv://…" url (its
 * database, else "risinggen"), checks that a server answers, and ensures
 * the declared indexes. */
static int docs_open(rg_docs **out, const char *url, const rg_store_options *opts,
                     const rg_doc_index *indexes, int nindexes)
{
    *out = NULL;
    pthread_once(&init_once, init_driver);
    bson_error_t err;
    struct rg_docs *d = rg_xcalloc(1, sizeof *d);
    pthread_mutex_init(&d->lock, NULL);
    if (!(d->uri = mongoc_uri_new_with_error(url, &err))) {
        pthread_mutex_destroy(&d->lock);
        free(d);
        return rg_error_set(RG_EINVAL, "RG_DOCUMENT_URL: %s", err.message);
    }
    const mongoc_write_concern_t *wc = mongoc_uri_get_write_concern(d->uri);
    if (mongoc_write_concern_get_w(wc) == MONGOC_WRITE_CONCERN_W_DEFAULT &&
        !mongoc_write_concern_get_wtag(wc)) {
        mongoc_write_concern_t *majority = mongoc_write_concern_copy(wc);
        mongoc_write_concern_set_w(majority, MONGOC_WRITE_CONCERN_W_MAJORITY);
        mongoc_uri_set_write_concern(d->uri, majority);
        mongoc_write_concern_destroy(majority);
    }
    if (mongoc_write_concern_get_w(mongoc_uri_get_write_concern(d->uri)) == 0) {
        docs_close(d);
        return rg_error_set(RG_EINVAL, "RG_DOCUMENT_URL: w=0 cannot be used: revision checks "
                                       "need acknowledged writes");
    }
    /* A pop that gives up would leave a request without a client: the
     * pool is sized to the service's threads instead, each holding one. */
    if (mongoc_uri_has_option(d->uri, MONGOC_URI_WAITQUEUETIMEOUTMS)) {
        docs_close(d);
        return rg_error_set(RG_EINVAL, "RG_DOCUMENT_URL: leave out waitQueueTimeoutMS; "
                                       "RG_POOL_SIZE bounds the clients");
    }
    if (!mongoc_uri_has_option(d->uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS))
        mongoc_uri_set_option_as_int32(d->uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS,
                                       SELECTION_TIMEOUT_MS);
    const char *db = mongoc_uri_get_database(d->uri);
    d->db = rg_xstrdup(db && *db ? db : DEFAULT_DB);
    d->pool = mongoc_client_pool_new(d->uri);
    if (!d->pool) { /* a mongodb+srv:// name that does not resolve */
        docs_close(d);
        return rg_error_set(RG_EUNAVAIL, "RG_DOCUMENT_URL: the MongoDB servers cannot be found");
    }
    mongoc_client_pool_set_error_api(d->pool, MONGOC_ERROR_API_VERSION_2);
    mongoc_client_pool_set_appname(d->pool, "risinggen");
    mongoc_client_pool_max_size(
        d->pool, (uint32_t)(opts && opts->pool_size > 0 ? opts->pool_size : RG_POOL_SIZE_DEFAULT));
    mongoc_client_t *client = mongoc_client_pool_pop(d->pool);
    int rc = ping_client(d, client);
    if (rc == 0)
        rc = transactions_run(d, client, &d->transactions);
    for (int i = 0; i < nindexes && rc == 0; i++) {
        rc = ensure_index(d, client, &indexes[i]);
        if (indexes[i].unique) {
            struct unique_key *u = &d->uniques[d->nuniques++];
            snprintf(u->collection, sizeof u->collection, "%s", indexes[i].collection);
            snprintf(u->path, sizeof u->path, "%s", indexes[i].path);
        }
    }
    mongoc_client_pool_push(d->pool, client);
    if (rc < 0) {
        docs_close(d);
        return rc;
    }
    *out = d;
    return 0;
}

/* The single writes, on client and, when s is not NULL, inside its
 * transaction. */
static int insert_in(struct rg_docs *d, mongoc_client_t *client, mongoc_client_session_t *s,
                     const char *coll, const char *id, json_t *doc)
{
    bson_t b = BSON_INITIALIZER, body;
    bool ok = append_id(&b, "_id", id) && BSON_APPEND_INT64(&b, "rev", 1) &&
              bson_append_document_begin(&b, "body", -1, &body);
    if (ok) { /* the child is open: close it whatever happens inside */
        ok = rg__bson_from_json(&body, doc);
        ok = bson_append_document_end(&b, &body) && ok;
    }
    ok = ok && append_unique_keys(d, &b, coll, doc);
    if (!ok) {
        bson_destroy(&b);
        return mapping_error("insert");
    }
    mongoc_collection_t *c = mongoc_client_get_collection(client, d->db, coll);
    bson_error_t err;
    bson_t opts;
    write_opts(&opts);
    ok = session_opts(s, &opts, &err) && mongoc_collection_insert_one(c, &b, &opts, NULL, &err);
    bson_destroy(&opts);
    mongoc_collection_destroy(c);
    bson_destroy(&b);
    return ok ? 0 : mongo_error(&err, "insert");
}

static int docs_insert(rg_docs *d, const char *coll, const char *id, json_t *doc)
{
    mongoc_client_t *client = mongoc_client_pool_pop(d->pool);
    int rc = insert_in(d, client, NULL, coll, id, doc);
    mongoc_client_pool_push(d->pool, client);
    return rc;
}

/* The stored {_id, rev, body} as the port's id, revision and document. */
static int read_stored(const bson_t *stored, char **id, int64_t *rev, json_t **doc)
{
    bson_iter_t it;
    *doc = NULL;
    if (rev)
        *rev = bson_iter_init_find(&it, stored, "rev") ? bson_iter_as_int64(&it) : 0;
    if (id) {
        json_t *v = bson_iter_init_find(&it, stored, "_id") ? rg__json_from_iter(&it) : NULL;
        *id = json_is_string(v) ? rg_xstrdup(json_string_value(v)) : NULL;
        json_decref(v);
        if (!*id)
            return mapping_error("read id");
    }
    if (bson_iter_init_find(&it, stored, "body") && BSON_ITER_HOLDS_DOCUMENT(&it))
        *doc = rg__json_from_iter(&it);
    if (!*doc) {
        if (id) {
            free(*id);
            *id = NULL;
        }
        return mapping_error("read document");
    }
    return 0;
}

static int docs_get(rg_docs *d, const char *coll, const char *id, json_t **out, int64_t *rev)
{
    *out = NULL;
    bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER;
    append_id(&filter, "_id", id);
    BSON_APPEND_INT64(&opts, "limit", 1);
    mongoc_client_t *client;
    mongoc_collection_t *c = get(d, coll, &client);
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c, &filter, &opts, NULL);
    const bson_t *stored;
    int rc = RG_ENOTFOUND;
    bson_error_t err;
    if (mongoc_cursor_next(cur, &stored))
        rc = read_stored(stored, NULL, rev, out);
    else if (mongoc_cursor_error(cur, &err))
        rc = mongo_error(&err, "get");
    mongoc_cursor_destroy(cur);
    put(d, client, c);
    bson_destroy(&filter);
    bson_destroy(&opts);
    return rc;
}

/* 1 when a document has the id, 0 when not, or RG_E*. */
static int id_exists(mongoc_collection_t *c, mongoc_client_session_t *s, const char *id)
{
    bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER;
    append_id(&filter, "_id", id);
    bson_error_t err;
    int64_t n = session_opts(s, &opts, &err)
                    ? mongoc_collection_count_documents(c, &filter, &opts, NULL, NULL, &err)
                    : -1;
    bson_destroy(&filter);
    bson_destroy(&opts);
    return n < 0 ? mongo_error(&err, "count") : n > 0;
}

static int replace_in(struct rg_docs *d, mongoc_client_t *client, mongoc_client_session_t *s,
                      const char *coll, const char *id, json_t *doc, int64_t expect_rev)
{
    bson_t filter = BSON_INITIALIZER, update = BSON_INITIALIZER, set, body, inc;
    append_id(&filter, "_id", id);
    if (expect_rev)
        BSON_APPEND_INT64(&filter, "rev", expect_rev);
    bson_append_document_begin(&update, "$set", -1, &set);
    bson_append_document_begin(&set, "body", -1, &body);
    bool ok = rg__bson_from_json(&body, doc);
    ok = bson_append_document_end(&set, &body) && ok;
    ok = ok && append_unique_keys(d, &set, coll, doc);
    bson_append_document_end(&update, &set);
    bson_append_document_begin(&update, "$inc", -1, &inc);
    BSON_APPEND_INT64(&inc, "rev", 1);
    bson_append_document_end(&update, &inc);
    int rc = 0;
    if (!ok) {
        rc = mapping_error("replace");
    } else {
        mongoc_collection_t *c = mongoc_client_get_collection(client, d->db, coll);
        bson_t reply, opts;
        bson_error_t err;
        write_opts(&opts);
        bool appended = session_opts(s, &opts, &err);
        bool updated =
            appended && mongoc_collection_update_one(c, &filter, &update, &opts, &reply, &err);
        if (!appended)
            bson_init(&reply); /* update_one always initializes it */
        bson_destroy(&opts);
        if (!updated)
            rc = mongo_error(&err, "replace");
        else if (reply_count(&reply, "matchedCount") == 0 && (rc = id_exists(c, s, id)) >= 0)
            rc = rc ? rg_error_set(RG_ESTALE, "the document was changed by another request")
                    : rg_error_set(RG_ENOTFOUND, "no such document");
        bson_destroy(&reply);
        mongoc_collection_destroy(c);
    }
    bson_destroy(&filter);
    bson_destroy(&update);
    return rc < 0 ? rc : 0;
}

static int docs_replace(rg_docs *d, const char *coll, const char *id, json_t *doc,
                        int64_t expect_rev)
{
    mongoc_client_t *client = mongoc_client_pool_pop(d->pool);
    int rc = replace_in(d, client, NULL, coll, id, doc, expect_rev);
    mongoc_client_pool_push(d->pool, client);
    return rc;
}

static int remove_in(struct rg_docs *d, mongoc_client_t *client, mongoc_client_session_t *s,
                     const char *coll, const char *id)
{
    bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER;
    append_id(&filter, "_id", id);
    mongoc_collection_t *c = mongoc_client_get_collection(client, d->db, coll);
    bson_error_t err;
    bool ok =
        session_opts(s, &opts, &err) && mongoc_collection_delete_one(c, &filter, &opts, NULL, &err);
    mongoc_collection_destroy(c);
    bson_destroy(&filter);
    bson_destroy(&opts);
    return ok ? 0 : mongo_error(&err, "remove");
}

static int docs_remove(rg_docs *d, const char *coll, const char *id)
{
    mongoc_client_t *client = mongoc_client_pool_pop(d->pool);
    int rc = remove_in(d, client, NULL, coll, id);
    mongoc_client_pool_push(d->pool, client);
    return rc;
}

/* Makes sure coll exists before a transaction writes it: "create", where
 * NamespaceExists (48) is no failure; remembered once known. */
static int ensure_collection(struct rg_docs *d, mongoc_client_t *client, const char *coll)
{
    bool known = false;
    pthread_mutex_lock(&d->lock);
    for (int i = 0; i < d->nknown && !known; i++)
        known = strcmp(d->known[i], coll) == 0;
    pthread_mutex_unlock(&d->lock);
    if (known)
        return 0;
    bson_t cmd = BSON_INITIALIZER, reply;
    BSON_APPEND_UTF8(&cmd, "create", coll);
    bson_error_t err;
    bool ok = mongoc_client_command_simple(client, d->db, &cmd, NULL, &reply, &err);
    bson_destroy(&cmd);
    bson_destroy(&reply);
    if (!ok && !(err.domain == MONGOC_ERROR_SERVER && err.code == 48)) /* NamespaceExists */
        return mongo_error(&err, "create collection");
    pthread_mutex_lock(&d->lock);
    if (d->nknown < RG_DOC_INDEXES_MAX)
        snprintf(d->known[d->nknown++], sizeof d->known[0], "%s", coll);
    pthread_mutex_unlock(&d->lock);
    return 0;
}

/* One try of write_all: a session, its transaction, the writes, the
 * commit, or the abort after a failure. */
static int one_transaction(struct rg_docs *d, mongoc_client_t *client, const rg_doc_write *writes,
                           int n)
{
    bson_error_t err;
    int rc = 0;
    mongoc_client_session_t *s = mongoc_client_start_session(client, NULL, &err);
    if (!s || !mongoc_client_session_start_transaction(s, NULL, &err)) {
        rc = mongo_error(&err, "transaction");
    } else {
        for (int i = 0; i < n && rc == 0; i++) {
            const rg_doc_write *w = &writes[i];
            rc = w->op == RG_DOC_W_INSERT ? insert_in(d, client, s, w->collection, w->id, w->doc)
                 : w->op == RG_DOC_W_REPLACE
                     ? replace_in(d, client, s, w->collection, w->id, w->doc, w->expect_rev)
                     : remove_in(d, client, s, w->collection, w->id);
        }
        if (rc == 0) {
            bson_t reply; /* always initialized by the commit */
            bool ok = mongoc_client_session_commit_transaction(s, &reply, &err);
            bson_destroy(&reply);
            if (!ok)
                rc = mongo_error(&err, "commit");
        }
        if (rc < 0 && mongoc_client_session_in_transaction(s))
            mongoc_client_session_abort_transaction(s, NULL);
    }
    if (s)
        mongoc_client_session_destroy(s);
    return rc;
}

#define WRITE_ALL_TRIES 5

/* The writes in one transaction of a session (a replica set or a sharded
 * cluster; the URL's write concern commits it). A write that fails aborts
 * it; one that met a concurrent transaction runs the whole transaction
 * again (up to WRITE_ALL_TRIES times), so that two inserts of one key end
 * as one success and one RG_ECONFLICT. A commit whose outcome the driver
 * could not learn after its one retry is RG_EUNAVAIL: the writes may stand
 * (documents.h). */
static int docs_write_all(rg_docs *d, const rg_doc_write *writes, int n)
{
    if (!d->transactions)
        return rg_error_set(RG_EUNAVAIL, "the MongoDB server runs no transactions (a standalone "
                                         "server; a replica set does)");
    mongoc_client_t *client = mongoc_client_pool_pop(d->pool);
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++)
        rc = ensure_collection(d, client, writes[i].collection);
    for (int attempt = 0; rc == 0; attempt++) {
        transient = false;
        rc = one_transaction(d, client, writes, n);
        if (rc == 0 || !transient || attempt + 1 == WRITE_ALL_TRIES)
            break;
        rg_error_clear();
        rc = 0;
        sched_yield();
    }
    mongoc_client_pool_push(d->pool, client);
    return rc;
}

static int docs_atomic_ready(rg_docs *d)
{
    return d->transactions ? 1 : 0;
}

/* {"$type": "$body.<path>"} under key. */
static void append_type_of(bson_t *b, const char *key, const char *field)
{
    bson_t t;
    char ref[RG_DOC_PATH_MAX + 8];
    snprintf(ref, sizeof ref, "$%s", field);
    bson_append_document_begin(b, key, -1, &t);
    BSON_APPEND_UTF8(&t, "$type", ref);
    bson_append_document_end(b, &t);
}

/* {"$in": [{"$type": field}, [types…]]} under key. */
static void append_type_in(bson_t *b, const char *key, const char *field, const char *const *types,
                           int n)
{
    bson_t in, args, list;
    bson_append_document_begin(b, key, -1, &in);
    bson_append_array_begin(&in, "$in", -1, &args);
    append_type_of(&args, "0", field);
    bson_append_array_begin(&args, "1", -1, &list);
    for (int i = 0; i < n; i++) {
        char k[12];
        snprintf(k, sizeof k, "%d", i);
        bson_append_utf8(&list, k, -1, types[i], -1);
    }
    bson_append_array_end(&args, &list);
    bson_append_array_end(&in, &args);
    bson_append_document_end(b, &in);
}

static const char *const number_types[] = {"int", "long", "double", "decimal"};
static const char *const text_types[] = {"string", "objectId", "date"};
static const char *const no_value_types[] = {"missing", "null"};

/* The filter value as stored: a text (string, ObjectId, date) or an
 * integer. */
static void append_filter_value(bson_t *b, const char *key, const rg_doc_filter *f)
{
    if (f->is_int)
        bson_append_int64(b, key, -1, f->ival);
    else
        rg__bson_append_text(b, key, -1, f->value);
}

/* The BSON type name of a text as stored. */
static const char *text_type(const char *text)
{
    bson_t probe = BSON_INITIALIZER;
    rg__bson_append_text(&probe, "v", 1, text);
    bson_iter_t it;
    bson_type_t t = bson_iter_init_find(&it, &probe, "v") ? bson_iter_type(&it) : BSON_TYPE_UTF8;
    bson_destroy(&probe);
    return t == BSON_TYPE_OID ? "objectId" : t == BSON_TYPE_DATE_TIME ? "date" : "string";
}

/* One filter as two members of an $and list: a plain condition on the
 * field (which an index serves) and an $expr that holds it to the port's
 * typed rules (a value inside an array never matches, true is not 1). */
static void append_filter(bson_t *and, int *n, const rg_doc_filter *f)
{
    char field[RG_DOC_PATH_MAX + 8], ref[RG_DOC_PATH_MAX + 9], k[12];
    snprintf(field, sizeof field, "body.%s", f->path);
    snprintf(ref, sizeof ref, "$%s", field);
    bson_t plain, cond, expr, args, all;
    if (!f->is_int && !f->value) {
        snprintf(k, sizeof k, "%d", (*n)++);
        bson_append_document_begin(and, k, -1, &expr);
        if (f->less_than) { /* no value is never less than anything */
            BSON_APPEND_BOOL(&expr, "$expr", false);
        } else {
            append_type_in(&expr, "$expr", field, no_value_types, 2);
        }
        bson_append_document_end(and, &expr);
        return;
    }
    snprintf(k, sizeof k, "%d", (*n)++);
    bson_append_document_begin(and, k, -1, &plain);
    if (f->less_than) {
        bson_append_document_begin(&plain, field, -1, &cond);
        append_filter_value(&cond, "$lt", f);
        bson_append_document_end(&plain, &cond);
    } else {
        append_filter_value(&plain, field, f);
    }
    bson_append_document_end(and, &plain);

    snprintf(k, sizeof k, "%d", (*n)++);
    bson_append_document_begin(and, k, -1, &expr);
    bson_append_document_begin(&expr, "$expr", -1, &all);
    bson_append_array_begin(&all, "$and", -1, &args);
    if (f->is_int) {
        append_type_in(&args, "0", field, number_types, 4);
    } else {
        bson_t eq, pair;
        bson_append_document_begin(&args, "0", -1, &eq);
        bson_append_array_begin(&eq, "$eq", -1, &pair);
        append_type_of(&pair, "0", field);
        bson_append_utf8(&pair, "1", 1, text_type(f->value), -1);
        bson_append_array_end(&eq, &pair);
        bson_append_document_end(&args, &eq);
    }
    bson_t op, pair;
    bson_append_document_begin(&args, "1", -1, &op);
    bson_append_array_begin(&op, f->less_than ? "$lt" : "$eq", -1, &pair);
    bson_append_utf8(&pair, "0", 1, ref, -1);
    bson_t lit; /* a text starting with '$' is a constant, not a path */
    bson_append_document_begin(&pair, "1", 1, &lit);
    append_filter_value(&lit, "$literal", f);
    bson_append_document_end(&pair, &lit);
    bson_append_array_end(&op, &pair);
    bson_append_document_end(&args, &op);
    bson_append_array_end(&all, &args);
    bson_append_document_end(&expr, &all);
    bson_append_document_end(and, &expr);
}

/* {"$and": [...]} of the filters into b (nothing for none). */
static void append_filters(bson_t *b, const rg_doc_filter *filters, int nfilters)
{
    if (nfilters == 0)
        return;
    bson_t and;
    int n = 0;
    bson_append_array_begin(b, "$and", -1, &and);
    for (int i = 0; i < nfilters; i++)
        append_filter(&and, &n, &filters[i]);
    bson_append_array_end(b, &and);
}

/* {$addFields: {_k: rank}} then {$addFields: {_v: value or null}}: the
 * port's order as two fields (docs at the top of this file). */
static void append_sort_fields(bson_t *pipeline, int *stage, const char *sort_path)
{
    char field[RG_DOC_PATH_MAX + 8], ref[RG_DOC_PATH_MAX + 9], k[12];
    snprintf(field, sizeof field, "body.%s", sort_path);
    snprintf(ref, sizeof ref, "$%s", field);
    bson_t st, add, sw, branches, br;
    snprintf(k, sizeof k, "%d", (*stage)++);
    bson_append_document_begin(pipeline, k, -1, &st);
    bson_append_document_begin(&st, "$addFields", -1, &add);
    bson_append_document_begin(&add, "_k", -1, &sw);
    bson_t inner;
    bson_append_document_begin(&sw, "$switch", -1, &inner);
    bson_append_array_begin(&inner, "branches", -1, &branches);
    static const char *const object_type[] = {"object"}, *const array_type[] = {"array"},
                             *const bool_type[] = {"bool"};
    const struct {
        const char *const *types;
        int n, rank;
    } ranks[] = {{number_types, 4, 1},
                 {text_types, 3, 2},
                 {object_type, 1, 3},
                 {array_type, 1, 4},
                 {bool_type, 1, 5}};
    for (int i = 0; i < 5; i++) {
        char bk[12];
        snprintf(bk, sizeof bk, "%d", i);
        bson_append_document_begin(&branches, bk, -1, &br);
        append_type_in(&br, "case", field, ranks[i].types, ranks[i].n);
        BSON_APPEND_INT32(&br, "then", ranks[i].rank);
        bson_append_document_end(&branches, &br);
    }
    bson_append_array_end(&inner, &branches);
    BSON_APPEND_INT32(&inner, "default", 0);
    bson_append_document_end(&sw, &inner);
    bson_append_document_end(&add, &sw);
    bson_append_document_end(&st, &add);
    bson_append_document_end(pipeline, &st);

    /* _v: the value for numbers, text and booleans; null otherwise. */
    snprintf(k, sizeof k, "%d", (*stage)++);
    bson_append_document_begin(pipeline, k, -1, &st);
    bson_append_document_begin(&st, "$addFields", -1, &add);
    bson_t v, args, in, inargs, list;
    bson_append_document_begin(&add, "_v", -1, &v);
    bson_append_array_begin(&v, "$cond", -1, &args);
    bson_append_document_begin(&args, "0", -1, &in);
    bson_append_array_begin(&in, "$in", -1, &inargs);
    BSON_APPEND_UTF8(&inargs, "0", "$_k");
    bson_append_array_begin(&inargs, "1", -1, &list);
    BSON_APPEND_INT32(&list, "0", 1);
    BSON_APPEND_INT32(&list, "1", 2);
    BSON_APPEND_INT32(&list, "2", 5);
    bson_append_array_end(&inargs, &list);
    bson_append_array_end(&in, &inargs);
    bson_append_document_end(&args, &in);
    BSON_APPEND_UTF8(&args, "1", ref);
    bson_append_null(&args, "2", 1);
    bson_append_array_end(&v, &args);
    bson_append_document_end(&add, &v);
    bson_append_document_end(&st, &add);
    bson_append_document_end(pipeline, &st);
}

/* [field, value] under op ("$gt", "$lt", "$eq") into list at key. */
static bool append_compare(bson_t *list, const char *key, const char *op, const char *field,
                           const json_t *value, const char *id)
{
    bson_t cmp, pair, lit;
    bson_append_document_begin(list, key, -1, &cmp);
    bson_append_array_begin(&cmp, op, -1, &pair);
    BSON_APPEND_UTF8(&pair, "0", field);
    bson_append_document_begin(&pair, "1", 1, &lit); /* a constant, never a path */
    bool ok =
        id ? append_id(&lit, "$literal", id) : rg__bson_append_json(&lit, "$literal", 8, value);
    bson_append_document_end(&pair, &lit);
    bson_append_array_end(&cmp, &pair);
    bson_append_document_end(list, &cmp);
    return ok;
}

/* The keyset condition: after (rank, value, id) in the order's direction. */
static bool append_keyset(bson_t *pipeline, int *stage, const rg_doc_query *q)
{
    const char *beyond = q->desc ? "$lt" : "$gt";
    int rank = rg_doc_type_rank(q->after_value);
    json_t *value = (rank == 1 || rank == 2 || rank == 5) ? q->after_value : NULL;
    json_t *none = json_null(), *r = json_integer(rank);
    char k[12];
    snprintf(k, sizeof k, "%d", (*stage)++);
    bson_t st, match, expr, or, alt, and;
    bson_append_document_begin(pipeline, k, -1, &st);
    bson_append_document_begin(&st, "$match", -1, &match);
    bson_append_document_begin(&match, "$expr", -1, &expr);
    bson_append_array_begin(&expr, "$or", -1, & or);
    bool ok = append_compare(& or, "0", beyond, "$_k", r, NULL);
    bson_append_document_begin(& or, "1", -1, &alt);
    bson_append_array_begin(&alt, "$and", -1, &and);
    ok = append_compare(&and, "0", "$eq", "$_k", r, NULL) && ok;
    ok = append_compare(&and, "1", beyond, "$_v", value ? value : none, NULL) && ok;
    bson_append_array_end(&alt, &and);
    bson_append_document_end(& or, &alt);
    bson_append_document_begin(& or, "2", -1, &alt);
    bson_append_array_begin(&alt, "$and", -1, &and);
    ok = append_compare(&and, "0", "$eq", "$_k", r, NULL) && ok;
    ok = append_compare(&and, "1", "$eq", "$_v", value ? value : none, NULL) && ok;
    ok = append_compare(&and, "2", beyond, "$_id", NULL, q->after_id) && ok;
    bson_append_array_end(&alt, &and);
    bson_append_document_end(& or, &alt);
    bson_append_array_end(&expr, & or);
    bson_append_document_end(&match, &expr);
    bson_append_document_end(&st, &match);
    bson_append_document_end(pipeline, &st);
    json_decref(none);
    json_decref(r);
    return ok;
}

/* The pipeline of a find: filters, the order's fields, the keyset, sort,
 * limit, and the order's fields dropped again. */
static bool build_pipeline(bson_t *pipeline, const rg_doc_query *q)
{
    int stage = 0;
    char k[12];
    bson_t st, match, sort;
    snprintf(k, sizeof k, "%d", stage++);
    bson_append_document_begin(pipeline, k, -1, &st);
    bson_append_document_begin(&st, "$match", -1, &match);
    append_filters(&match, q->filters, q->nfilters);
    bool ok = true;
    if (!q->sort_path && q->after_id) {
        /* By id alone, in the BSON order $sort uses (a query's $gt would
         * compare only ids of the same type). */
        ok = append_compare(&match, "$expr", q->desc ? "$lt" : "$gt", "$_id", NULL, q->after_id);
    }
    bson_append_document_end(&st, &match);
    bson_append_document_end(pipeline, &st);
    if (q->sort_path) {
        append_sort_fields(pipeline, &stage, q->sort_path);
        if (q->after_id)
            ok = append_keyset(pipeline, &stage, q);
    }
    int dir = q->desc ? -1 : 1;
    snprintf(k, sizeof k, "%d", stage++);
    bson_append_document_begin(pipeline, k, -1, &st);
    bson_append_document_begin(&st, "$sort", -1, &sort);
    if (q->sort_path) {
        BSON_APPEND_INT32(&sort, "_k", dir);
        BSON_APPEND_INT32(&sort, "_v", dir);
    }
    BSON_APPEND_INT32(&sort, "_id", dir);
    bson_append_document_end(&st, &sort);
    bson_append_document_end(pipeline, &st);
    snprintf(k, sizeof k, "%d", stage++);
    bson_append_document_begin(pipeline, k, -1, &st);
    BSON_APPEND_INT64(&st, "$limit", q->limit);
    bson_append_document_end(pipeline, &st);
    bson_t keep;
    snprintf(k, sizeof k, "%d", stage++);
    bson_append_document_begin(pipeline, k, -1, &st);
    bson_append_document_begin(&st, "$project", -1, &keep);
    BSON_APPEND_INT32(&keep, "body", 1);
    bson_append_document_end(&st, &keep);
    bson_append_document_end(pipeline, &st);
    return ok;
}

static int docs_find(rg_docs *d, const char *coll, const rg_doc_query *q, json_t **out)
{
    *out = NULL;
    bson_t pipeline = BSON_INITIALIZER;
    if (!build_pipeline(&pipeline, q)) {
        bson_destroy(&pipeline);
        return mapping_error("find");
    }
    bson_t opts = BSON_INITIALIZER;
    BSON_APPEND_BOOL(&opts, "allowDiskUse", true);
    mongoc_client_t *client;
    mongoc_collection_t *c = get(d, coll, &client);
    mongoc_cursor_t *cur =
        mongoc_collection_aggregate(c, MONGOC_QUERY_NONE, &pipeline, &opts, NULL);
    json_t *arr = json_array();
    const bson_t *stored;
    int rc = 0;
    while (rc == 0 && mongoc_cursor_next(cur, &stored)) {
        char *id;
        json_t *doc;
        if ((rc = read_stored(stored, &id, NULL, &doc)) == 0) {
            json_array_append_new(arr, json_pack("{s:s, s:o}", "id", id, "doc", doc));
            free(id);
        }
    }
    bson_error_t err;
    if (rc == 0 && mongoc_cursor_error(cur, &err))
        rc = mongo_error(&err, "find");
    mongoc_cursor_destroy(cur);
    put(d, client, c);
    bson_destroy(&pipeline);
    bson_destroy(&opts);
    if (rc < 0) {
        json_decref(arr);
        return rc;
    }
    *out = arr;
    return 0;
}

static int docs_remove_where(rg_docs *d, const char *coll, const rg_doc_filter *filters,
                             int nfilters)
{
    bson_t filter = BSON_INITIALIZER, reply;
    append_filters(&filter, filters, nfilters);
    mongoc_client_t *client;
    mongoc_collection_t *c = get(d, coll, &client);
    bson_error_t err;
    int rc = mongoc_collection_delete_many(c, &filter, NULL, &reply, &err)
                 ? (int)reply_count(&reply, "deletedCount")
                 : mongo_error(&err, "remove_where");
    bson_destroy(&reply);
    put(d, client, c);
    bson_destroy(&filter);
    return rc;
}

static int docs_ping(rg_docs *d)
{
    mongoc_client_t *client = mongoc_client_pool_pop(d->pool);
    int rc = ping_client(d, client);
    mongoc_client_pool_push(d->pool, client);
    return rc;
}

const struct rg_doc_ops rg_mongo_doc_ops = {
    .version = RG_DOC_OPS_VERSION,
    .caps = RG_DOC_CAP_UNIQUE | RG_DOC_CAP_NUL_IN_STRINGS | RG_DOC_CAP_ATOMIC,
    .scheme = "mongodb",
    .open = docs_open,
    .close = docs_close,
    .insert = docs_insert,
    .get = docs_get,
    .replace = docs_replace,
    .remove = docs_remove,
    .find = docs_find,
    .remove_where = docs_remove_where,
    .ping = docs_ping,
    .write_all = docs_write_all,
    .atomic_ready = docs_atomic_ready,
};
