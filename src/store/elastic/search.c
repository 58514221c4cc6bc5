/* Search port on Elasticsearch 8 over its REST API ("http://HOST:PORT/INDEX"
 * or https://; INDEX defaults to "risinggen"), with libcurl.
 *
 * One index, made at open when it does not exist, with an explicit mapping
 * (dynamic: strict):
 *   key    keyword   "type:id", the document's _id and the order of ties
 *   type, rid        keyword   filters, scan order
 *   title, body, tags  text (rg_stems: standard tokenizer, lower case,
 *                      ASCII folding, English stemmer), each with a
 *                      subfield .words (rg_words: the same without the
 *                      stemmer), all copied into `all` (same analyzers)
 *   location geo_point  the venue's point, when the record has one
 *
 * The user's text is never query syntax: it goes into multi_match queries of
 * type bool_prefix (every word a term, the last a prefix), which must match
 * with every word in `all` or in `all.words`; a second clause on title^10,
 * tags^2 and body ranks. Hits are sorted by _score, then key; more than a
 * page of 1,000 is read with search_after on those two values.
 *
 * Writes use refresh=wait_for, so a change is found once the call returns
 * (which takes up to the index's refresh_interval, set to 250 ms); a batch
 * (upsert_many) is one _bulk request without refresh, then one _refresh.
 * Items that the bulk answers 429 or 5xx for, or the whole batch when the
 * request is refused so, are sent again, up to BULK_ATTEMPTS times with a
 * growing pause. A server that cannot be reached or answers 429 or 5xx is
 * RG_EUNAVAIL; any other unexpected answer is logged with its status and
 * RG_EINTERNAL.
 *
 * `risinggen reindex` builds aside in NAME-a or NAME-b and points NAME, an
 * alias from then on, at it (search_build_*).
 *
 * Answers longer than a page are read in one point in time (a PIT, kept a
 * minute, closed after), so that writes and refreshes between pages
 * neither repeat nor drop a hit. */
#include "risinggen/base/error.h"
#include "risinggen/store/search.h"
#include "risinggen/store/pool.h"
#include "risinggen/base/alloc.h"
#include "risinggen/base/buf.h"
#include "risinggen/base/log.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PAGE          1000 /* hits per search request */
#define BULK_ATTEMPTS 4
#define BODY_MAX      (64 * 1024 * 1024) /* bytes of an answer that are read */

struct rg_search {
    char *base;  /* scheme://host:port */
    char *index; /* URL-safe index name */
    char *user, *password;
    rg_pool *handles; /* CURL easy handles, kept for their connections */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int handle_open(void *ctx, void **out)
{
    (void)ctx;
    *out = curl_easy_init();
    return *out ? 0 : rg_error_set(RG_EUNAVAIL, "search is not available now");
}

static void handle_close(void *ctx, void *h)
{
    (void)ctx;
    curl_easy_cleanup(h);
}

static const rg_pool_methods handle_methods = {handle_open, handle_close, NULL};

struct answer {
    rg_buf body;
    bool too_big;
};

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    struct answer *a = arg;
    if (a->body.len + size * n > BODY_MAX) {
        a->too_big = true;
        return 0;
    }
    rg_buf_put(&a->body, data, size * n);
    return size * n;
}

/* One request: method on base/index + path (path starts with '/', or is ""
 * for the index itself; a path that starts with "//" is taken from the
 * base, without the index), with body (NULL: none) of content type ctype.
 * *status is the HTTP status; *out the parsed JSON answer (NULL when it is
 * not JSON or there is none). RG_EUNAVAIL when the server cannot be reached
 * or is overloaded (429, 5xx). */
static int request(struct rg_search *s, const char *method, const char *path, const char *body,
                   const char *ctype, long *status, json_t **out)
{
    *out = NULL;
    *status = 0;
    void *hv;
    int rc = rg_pool_get(s->handles, &hv);
    if (rc < 0)
        return rc;
    CURL *h = hv;
    curl_easy_reset(h);
    rg_buf url = {0};
    if (strncmp(path, "//", 2) == 0)
        rg_buf_printf(&url, "%s%s", s->base, path + 1);
    else
        rg_buf_printf(&url, "%s/%s%s", s->base, s->index, path);
    struct answer a = {0};
    char err[CURL_ERROR_SIZE] = "";
    struct curl_slist *headers = NULL;
    if (body) {
        rg_buf ct = {0};
        rg_buf_printf(&ct, "Content-Type: %s", ctype);
        headers = curl_slist_append(headers, ct.data);
        rg_buf_free(&ct);
    }
    headers = curl_slist_append(headers, "Accept: application/json");
    headers = curl_slist_append(headers, "Expect:"); /* no 100-continue round trip */
    curl_easy_setopt(h, CURLOPT_URL, url.data);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    } else if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    if (s->user) {
        curl_easy_setopt(h, CURLOPT_USERNAME, s->user);
        curl_easy_setopt(h, CURLOPT_PASSWORD, s->password ? s->password : "");
    }
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &a);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, err);
    CURLcode cc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    curl_slist_free_all(headers);
    rg_pool_put(s->handles, h, cc != CURLE_OK);
    if (cc != CURLE_OK || *status >= 500 || *status == 429) {
        rg_warn("elasticsearch %s %s: %s", method, url.data,
                cc != CURLE_OK   ? (err[0] ? err : curl_easy_strerror(cc))
                : *status == 429 ? "too many requests"
                                 : "server error");
        rg_buf_free(&url);
        rg_buf_free(&a.body);
        return rg_error_set(RG_EUNAVAIL, "search is not available now; try again");
    }
    rg_buf_free(&url);
    if (a.body.len)
        *out = json_loadb(a.body.data, a.body.len, 0, NULL);
    rg_buf_free(&a.body);
    return 0;
}

/* Logs an unexpected answer and returns RG_EINTERNAL. */
static int unexpected(const char *what, long status, json_t *answer)
{
    const char *reason =
        json_string_value(json_object_get(json_object_get(answer, "error"), "reason"));
    rg_err("elasticsearch %s: HTTP %ld%s%s", what, status, reason ? ": " : "",
           reason ? reason : "");
    return rg_error_set(RG_EINTERNAL, "internal error");
}

/* The mapping and settings of the index (exact text: the wire test checks
 * what is sent). */
static const char INDEX_BODY[] =
    "{\"settings\":{\"refresh_interval\":\"250ms\",\"analysis\":{"
    "\"filter\":{\"rg_english\":{\"type\":\"stemmer\",\"language\":\"english\"}},"
    "\"analyzer\":{"
    "\"rg_stems\":{\"type\":\"custom\",\"tokenizer\":\"standard\","
    "\"filter\":[\"lowercase\",\"asciifolding\",\"rg_english\"]},"
    "\"rg_words\":{\"type\":\"custom\",\"tokenizer\":\"standard\","
    "\"filter\":[\"lowercase\",\"asciifolding\"]}}}},"
    "\"mappings\":{\"dynamic\":\"strict\",\"properties\":{"
    "\"key\":{\"type\":\"keyword\"},"
    "\"type\":{\"type\":\"keyword\"},"
    "\"rid\":{\"type\":\"keyword\"},"
    "\"title\":{\"type\":\"text\",\"analyzer\":\"rg_stems\",\"copy_to\":\"all\","
    "\"fields\":{\"words\":{\"type\":\"text\",\"analyzer\":\"rg_words\"}}},"
    "\"body\":{\"type\":\"text\",\"analyzer\":\"rg_stems\",\"copy_to\":\"all\","
    "\"fields\":{\"words\":{\"type\":\"text\",\"analyzer\":\"rg_words\"}}},"
    "\"tags\":{\"type\":\"text\",\"analyzer\":\"rg_stems\",\"copy_to\":\"all\","
    "\"fields\":{\"words\":{\"type\":\"text\",\"analyzer\":\"rg_words\"}}},"
    "\"all\":{\"type\":\"text\",\"analyzer\":\"rg_stems\","
    "\"fields\":{\"words\":{\"type\":\"text\",\"analyzer\":\"rg_words\"}}},"
    "\"location\":{\"type\":\"geo_point\"}}}}";

static void search_close(rg_search *s)
{
    if (!s)
        return;
    rg_pool_free(s->handles);
    free(s->base);
    free(s->index);
    free(s->user);
    free(s->password);
    free(s);
}

/* Makes the index unless it exists; another instance making it at the same
 * moment is not an error. */
static int ensure_index(struct rg_search *s)
{
    long status;
    json_t *a;
    int rc = request(s, "HEAD", "", NULL, NULL, &status, &a);
    json_decref(a);
    if (rc < 0 || status == 200)
        return rc;
    if (status != 404)
        return unexpected("index check", status, NULL);
    if ((rc = request(s, "PUT", "", INDEX_BODY, "application/json", &status, &a)) < 0)
        return rc;
    const char *type = json_string_value(json_object_get(json_object_get(a, "error"), "type"));
    if (status != 200 &&
        !(status == 400 && type && !strcmp(type, "resource_already_exists_exception")))
        rc = unexpected("index creation", status, a);
    json_decref(a);
    return rc;
}

/* Opens the index at url: scheme://[user[:password]@]host[:port][/index]. */
static int search_open(rg_search **out, const char *url, const rg_store_options *opts)
{
    *out = NULL;
    pthread_once(&curl_once, curl_init);
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *user = NULL, *pass = NULL;
    int rc = 0;
    if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0))
        rc = rg_error_set(RG_EINVAL, "the Elasticsearch URL is http(s)://host[:port][/index]");
    if (rc == 0 && curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK)
        rc = rg_error_set(RG_EINVAL, "the Elasticsearch URL has no port");
    curl_url_get(u, CURLUPART_PATH, &path, 0);
    curl_url_get(u, CURLUPART_USER, &user, CURLU_URLDECODE);
    curl_url_get(u, CURLUPART_PASSWORD, &pass, CURLU_URLDECODE);
    const char *index = path && path[0] == '/' && path[1] ? path + 1 : "risinggen";
    /* Elasticsearch's rule for names: lower case, no separators. */
    for (const char *p = index; rc == 0 && *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
            rc = rg_error_set(RG_EINVAL, "the Elasticsearch index name is [a-z0-9_-]+");
    struct rg_search *s = NULL;
    if (rc == 0) {
        s = rg_xcalloc(1, sizeof *s);
        rg_buf b = {0};
        rg_buf_printf(&b, "%s://%s:%s", scheme, host, port); /* 80 or 443 when not given */
        s->base = rg_buf_steal(&b);
        s->index = rg_xstrdup(index);
        s->user = user && *user ? rg_xstrdup(user) : NULL;
        s->password = pass ? rg_xstrdup(pass) : NULL;
        int size = opts && opts->pool_size > 0 ? opts->pool_size : 8;
        s->handles = rg_pool_new("store=\"search\",adapter=\"elasticsearch\"", size, 5000,
                                 &handle_methods, NULL);
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_free(user);
    curl_free(pass);
    curl_url_cleanup(u);
    if (rc == 0 && (rc = ensure_index(s)) < 0) {
        search_close(s);
        return rc;
    }
    *out = rc == 0 ? s : NULL;
    return rc;
}

/* The document's _id, "type:id", escaped for a URL path. */
static char *doc_path(const char *type, const char *id, const char *query)
{
    rg_buf key = {0};
    rg_buf_printf(&key, "%s:%s", type, id);
    char *esc = curl_easy_escape(NULL, key.data, (int)key.len);
    rg_buf b = {0};
    rg_buf_printf(&b, "/_doc/%s%s", esc ? esc : "", query);
    curl_free(esc);
    rg_buf_free(&key);
    return rg_buf_steal(&b);
}

static json_t *doc_json(const rg_search_doc *d)
{
    char key[64];
    snprintf(key, sizeof key, "%s:%s", d->type, d->id);
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "key", key, "type", d->type, "rid",
                          d->id, "title", d->title ? d->title : "", "body", d->body ? d->body : "",
                          "tags", d->tags ? d->tags : "");
    if (d->has_point)
        json_object_set_new(j, "location", json_pack("{s:f, s:f}", "lat", d->lat, "lon", d->lng));
    return j;
}

static int search_upsert(rg_search *s, const rg_search_doc *doc)
{
    json_t *j = doc_json(doc);
    char *body = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    char *path = doc_path(doc->type, doc->id, "?refresh=wait_for");
    long status;
    json_t *a;
    int rc = request(s, "PUT", path, body, "application/json", &status, &a);
    if (rc == 0 && status != 200 && status != 201)
        rc = unexpected("index a record", status, a);
    json_decref(a);
    free(path);
    free(body);
    return rc;
}

static int search_remove(rg_search *s, const char *type, const char *id)
{
    char *path = doc_path(type, id, "?refresh=wait_for");
    long status;
    json_t *a;
    int rc = request(s, "DELETE", path, NULL, NULL, &status, &a);
    if (rc == 0 && status != 200 && status != 404)
        rc = unexpected("remove a record", status, a);
    json_decref(a);
    free(path);
    return rc;
}

/* Sends docs with _bulk (no refresh) to the index at `at` ("" for the
 * index in use, "//NAME" for another), again for the items answered 429 or
 * 5xx, then refreshes that index once. */
static int bulk(struct rg_search *s, const char *at, const rg_search_doc *docs, int n)
{
    bool *todo = rg_xcalloc((size_t)(n ? n : 1), sizeof *todo);
    for (int i = 0; i < n; i++)
        todo[i] = true;
    int rc = 0, left = n;
    for (int attempt = 0; rc == 0 && left > 0; attempt++) {
        if (attempt == BULK_ATTEMPTS) {
            rc = rg_error_set(RG_EUNAVAIL, "search is busy; try again");
            break;
        }
        if (attempt) { /* 100, 200, 400 ms */
            struct timespec ts = {0, 100000000L << (attempt - 1)};
            nanosleep(&ts, NULL);
        }
        rg_buf nd = {0};
        int *sent = rg_xcalloc((size_t)left, sizeof *sent), nsent = 0;
        for (int i = 0; i < n; i++) {
            if (!todo[i])
                continue;
            char key[64];
            snprintf(key, sizeof key, "%s:%s", docs[i].type, docs[i].id);
            json_t *action = json_pack("{s:{s:s}}", "index", "_id", key);
            json_t *src = doc_json(&docs[i]);
            char *a = json_dumps(action, JSON_COMPACT),
                 *b = json_dumps(src, JSON_COMPACT | JSON_SORT_KEYS);
            rg_buf_printf(&nd, "%s\n%s\n", a, b);
            free(a);
            free(b);
            json_decref(action);
            json_decref(src);
            sent[nsent++] = i;
        }
        long status;
        json_t *ans;
        rg_buf path = {0};
        rg_buf_printf(&path, "%s/_bulk", at);
        rc = request(s, "POST", path.data, nd.data, "application/x-ndjson", &status, &ans);
        rg_buf_free(&path);
        rg_buf_free(&nd);
        if (rc == RG_EUNAVAIL && attempt + 1 < BULK_ATTEMPTS) { /* the whole batch again */
            rg_error_clear();
            rc = 0;
            free(sent);
            continue;
        }
        json_t *items = json_object_get(ans, "items");
        if (rc == 0 && (status != 200 || json_array_size(items) != (size_t)nsent))
            rc = unexpected("bulk indexing", status, ans);
        for (int k = 0; rc == 0 && k < nsent; k++) {
            json_t *it = json_object_get(json_array_get(items, (size_t)k), "index");
            json_int_t st = json_integer_value(json_object_get(it, "status"));
            if (st == 200 || st == 201) {
                todo[sent[k]] = false;
                left--;
            } else if (st != 429 && st < 500)
                rc = unexpected("bulk indexing an item", (long)st, it);
        }
        json_decref(ans);
        free(sent);
    }
    free(todo);
    if (rc == 0 && n > 0) {
        long status;
        json_t *a;
        rg_buf path = {0};
        rg_buf_printf(&path, "%s/_refresh", at);
        if ((rc = request(s, "POST", path.data, "", "application/json", &status, &a)) == 0 &&
            status != 200)
            rc = unexpected("refresh", status, a);
        rg_buf_free(&path);
        json_decref(a);
    }
    return rc;
}

static int search_upsert_many(rg_search *s, const rg_search_doc *docs, int n)
{
    return bulk(s, "", docs, n);
}

/* Building aside: the index name given in the URL becomes an alias of one of
 * two indexes, NAME-a and NAME-b, each made with INDEX_BODY. A build fills
 * the one the alias does not point to (or NAME-a while NAME is still an
 * index itself), and one _aliases request points the alias at it and
 * deletes the old index (remove_index), atomically. */

/* The index that the name stands for now (malloc'd): the alias's target, or
 * the name itself when it is no alias. */
static int current_index(struct rg_search *s, char **out)
{
    *out = NULL;
    long status;
    json_t *a;
    rg_buf path = {0};
    rg_buf_printf(&path, "//_alias/%s", s->index);
    int rc = request(s, "GET", path.data, NULL, NULL, &status, &a);
    rg_buf_free(&path);
    if (rc == 0 && status == 200 && json_object_size(a) == 1)
        *out = rg_xstrdup(json_object_iter_key(json_object_iter(a)));
    else if (rc == 0 && status == 404)
        *out = rg_xstrdup(s->index);
    else if (rc == 0)
        rc = unexpected("alias lookup", status, a);
    json_decref(a);
    return rc;
}

/* The index the name stands for now and the one a build fills (both
 * malloc'd; cur may be NULL when not wanted). */
static int build_target(struct rg_search *s, char **cur, char **target)
{
    char *c;
    int rc = current_index(s, &c);
    if (rc < 0)
        return rc;
    rg_buf b = {0};
    size_t n = strlen(s->index);
    bool on_a = strncmp(c, s->index, n) == 0 && strcmp(c + n, "-a") == 0;
    rg_buf_printf(&b, "%s-%s", s->index, on_a ? "b" : "a");
    *target = rg_buf_steal(&b);
    if (cur)
        *cur = c;
    else
        free(c);
    return 0;
}

/* Deletes the index name; 0 also when there is none. */
static int drop_index(struct rg_search *s, const char *name)
{
    long status;
    json_t *a;
    rg_buf path = {0};
    rg_buf_printf(&path, "//%s", name);
    int rc = request(s, "DELETE", path.data, NULL, NULL, &status, &a);
    rg_buf_free(&path);
    if (rc == 0 && status != 200 && status != 404)
        rc = unexpected("index deletion", status, a);
    json_decref(a);
    return rc;
}

static int search_build_begin(rg_search *s)
{
    char *target = NULL;
    int rc = build_target(s, NULL, &target);
    if (rc < 0 || (rc = drop_index(s, target)) < 0) {
        free(target);
        return rc;
    }
    long status;
    json_t *a;
    rg_buf path = {0};
    rg_buf_printf(&path, "//%s", target);
    rc = request(s, "PUT", path.data, INDEX_BODY, "application/json", &status, &a);
    if (rc == 0 && status != 200)
        rc = unexpected("index creation", status, a);
    json_decref(a);
    rg_buf_free(&path);
    free(target);
    return rc;
}

static int search_build_add(rg_search *s, const rg_search_doc *docs, int n)
{
    char *target = NULL;
    int rc = build_target(s, NULL, &target);
    if (rc == 0) {
        rg_buf at = {0};
        rg_buf_printf(&at, "//%s", target);
        rc = bulk(s, at.data, docs, n);
        rg_buf_free(&at);
    }
    free(target);
    return rc;
}

/* The sink of a switch: bulk into the build's index. Nothing holds the
 * index in use meanwhile: a write made through it between the caller's read
 * and the alias switch is not in the build. */
struct target_sink {
    rg_search_sink base;
    struct rg_search *s;
    const char *at; /* "//NAME" */
};

static int target_put(rg_search_sink *k, const rg_search_doc *docs, int n)
{
    struct target_sink *t = (struct target_sink *)k;
    return bulk(t->s, t->at, docs, n);
}

static int target_drop(rg_search_sink *k, const char *type, const char *id)
{
    struct target_sink *t = (struct target_sink *)k;
    char *doc = doc_path(type, id, "");
    rg_buf path = {0};
    rg_buf_printf(&path, "%s%s", t->at, doc);
    long status;
    json_t *a;
    int rc = request(t->s, "DELETE", path.data, NULL, NULL, &status, &a);
    if (rc == 0 && status != 200 && status != 404)
        rc = unexpected("remove a record from the build", status, a);
    json_decref(a);
    rg_buf_free(&path);
    free(doc);
    return rc;
}

static int search_build_end(rg_search *s, bool use, rg_search_changes changes, void *ctx)
{
    char *cur = NULL, *target = NULL;
    int rc = build_target(s, &cur, &target);
    if (rc == 0 && !use)
        rc = drop_index(s, target);
    if (rc == 0 && use && changes) {
        rg_buf at = {0};
        rg_buf_printf(&at, "//%s", target);
        struct target_sink sink = {{target_put, target_drop}, s, at.data};
        rc = changes(ctx, &sink.base);
        rg_buf_free(&at);
    }
    if (rc == 0 && use) {
        json_t *body = json_pack("{s:[{s:{s:s, s:s}}, {s:{s:s}}]}", "actions", "add", "index",
                                 target, "alias", s->index, "remove_index", "index", cur);
        char *text = json_dumps(body, JSON_COMPACT);
        json_decref(body);
        long status;
        json_t *a;
        rc = request(s, "POST", "//_aliases", text, "application/json", &status, &a);
        if (rc == 0 && status != 200)
            rc = unexpected("alias switch", status, a);
        json_decref(a);
        free(text);
    }
    free(cur);
    free(target);
    return rc;
}

/* Every word of q (the last as a prefix) in the title. */
static json_t *title_match(const char *q)
{
    return json_pack("{s:{s:s, s:s, s:[s, s], s:s}}", "multi_match", "query", q, "type",
                     "bool_prefix", "fields", "title", "title.words", "operator", "and");
}

/* The query of the user's words q within types, in part of the records
 * (TITLE: must match in the title; REST: must not). */
static json_t *words_query(const char *q, rg_search_part part, const char *const *types, int ntypes)
{
    json_t *filter = json_array();
    if (ntypes) {
        json_t *t = json_array();
        for (int i = 0; i < ntypes; i++)
            json_array_append_new(t, json_string(types[i]));
        json_array_append_new(filter, json_pack("{s:{s:o}}", "terms", "type", t));
    }
    json_t *query = json_pack(
        "{s:{s:o, s:[{s:{s:s, s:s, s:[s, s], s:s}}], s:[{s:{s:s, s:s, s:[s, s, s]}}]}}", "bool",
        "filter", filter, "must", "multi_match", "query", q, "type", "bool_prefix", "fields", "all",
        "all.words", "operator", "and", "should", "multi_match", "query", q, "type", "bool_prefix",
        "fields", "title^10", "tags^2", "body");
    json_t *b = json_object_get(query, "bool");
    if (part == RG_SEARCH_PART_TITLE)
        json_array_append_new(json_object_get(b, "must"), title_match(q));
    else if (part == RG_SEARCH_PART_REST)
        json_object_set_new(b, "must_not", json_pack("[o]", title_match(q)));
    return query;
}

static int search_query(rg_search *s, const char *q, rg_search_part part, const char *const *types,
                        int ntypes, int limit, bool highlight, rg_search_hit **out, int *nout)
{
    *out = NULL;
    *nout = 0;
    rg_search_hit *hits = rg_xcalloc((size_t)limit, sizeof *hits);
    int n = 0, rc = 0;
    json_t *after = NULL; /* the last hit's sort values */
    char *pit = NULL;     /* the point in time of an answer of several pages */
    if (limit > PAGE) {
        long status;
        json_t *a;
        if ((rc = request(s, "POST", "/_pit?keep_alive=1m", "", "application/json", &status, &a)) ==
            0) {
            const char *id = json_string_value(json_object_get(a, "id"));
            if (status == 200 && id)
                pit = rg_xstrdup(id);
            else
                rc = unexpected("open a point in time", status, a);
        }
        json_decref(a);
    }
    while (rc == 0 && n < limit) {
        int size = limit - n < PAGE ? limit - n : PAGE;
        json_t *body =
            json_pack("{s:i, s:o, s:[{s:s}, {s:s}], s:b, s:b, s:[s, s]}", "size", size, "query",
                      words_query(q, part, types, ntypes), "sort", "_score", "desc", "key", "asc",
                      "track_total_hits", 0, "_source", 0, "docvalue_fields", "type", "rid");
        if (after)
            json_object_set(body, "search_after", after);
        if (pit) /* a search in a PIT names no index */
            json_object_set_new(body, "pit",
                                json_pack("{s:s, s:s}", "id", pit, "keep_alive", "1m"));
        if (highlight)
            json_object_set_new(body, "highlight",
                                json_pack("{s:[s], s:[s], s:{s:{s:i, s:i}, s:{s:i}}}", "pre_tags",
                                          RG_SEARCH_MARK_OPEN, "post_tags", RG_SEARCH_MARK_CLOSE,
                                          "fields", "body", "number_of_fragments", 1,
                                          "fragment_size", 120, "title", "number_of_fragments", 0));
        char *text = json_dumps(body, JSON_COMPACT);
        json_decref(body);
        long status;
        json_t *a;
        rc = request(s, "POST", pit ? "//_search" : "/_search", text, "application/json", &status,
                     &a);
        free(text);
        json_t *page = json_object_get(json_object_get(a, "hits"), "hits");
        if (rc == 0 && (status != 200 || !json_is_array(page)))
            rc = unexpected("search", status, a);
        const char *next_pit = json_string_value(json_object_get(a, "pit_id"));
        if (rc == 0 && pit && next_pit && strcmp(next_pit, pit) != 0) { /* it may change */
            free(pit);
            pit = rg_xstrdup(next_pit);
        }
        size_t i;
        json_t *hit;
        json_array_foreach(page, i, hit)
        {
            if (rc < 0 || n == limit)
                break;
            json_t *f = json_object_get(hit, "fields");
            const char *type = json_string_value(json_array_get(json_object_get(f, "type"), 0));
            const char *rid = json_string_value(json_array_get(json_object_get(f, "rid"), 0));
            if (!type || !rid)
                continue;
            rg_search_hit *h = &hits[n++];
            snprintf(h->type, sizeof h->type, "%s", type);
            snprintf(h->id, sizeof h->id, "%s", rid);
            h->score = json_number_value(json_object_get(hit, "_score"));
            json_t *hl = json_object_get(hit, "highlight");
            const char *frag = json_string_value(json_array_get(json_object_get(hl, "body"), 0));
            if (!frag)
                frag = json_string_value(json_array_get(json_object_get(hl, "title"), 0));
            if (highlight && frag)
                h->highlight = rg_xstrdup(frag);
        }
        json_decref(after);
        after =
            json_incref(json_object_get(json_array_get(page, json_array_size(page) - 1), "sort"));
        bool more = rc == 0 && json_array_size(page) == (size_t)size && after;
        json_decref(a);
        if (!more)
            break;
    }
    json_decref(after);
    if (pit) { /* closed now rather than in a minute; a failure only logs */
        json_t *body = json_pack("{s:s}", "id", pit);
        char *text = json_dumps(body, JSON_COMPACT);
        long status;
        json_t *a;
        int saved = rc;
        if (request(s, "DELETE", "//_pit", text, "application/json", &status, &a) == 0 &&
            status != 200)
            unexpected("close a point in time", status, a);
        json_decref(a);
        json_decref(body);
        free(text);
        free(pit);
        if (saved == 0)
            rg_error_clear();
        rc = saved;
    }
    if (rc < 0) {
        rg_search_hits_free(hits, n);
        return rc;
    }
    if (n == 0) {
        free(hits);
        hits = NULL;
    }
    *out = hits;
    *nout = n;
    return 0;
}

/* The words' query filtered to the records' keys: one search of at most n
 * hits. */
static int search_matching(rg_search *s, const char *q, rg_search_part part, const char *type,
                           const char *const *ids, int n, bool *out)
{
    json_t *keys = json_array();
    for (int i = 0; i < n; i++) {
        char key[RG_SEARCH_TYPE_MAX + RG_SEARCH_ID_MAX + 2];
        snprintf(key, sizeof key, "%s:%s", type, ids[i]);
        json_array_append_new(keys, json_string(key));
    }
    json_t *query = words_query(q, part, &type, 1), *b = json_object_get(query, "bool");
    json_array_append_new(json_object_get(b, "filter"),
                          json_pack("{s:{s:o}}", "terms", "key", keys));
    json_object_del(b, "should"); /* only ranks */
    json_t *body = json_pack("{s:i, s:o, s:b, s:b, s:[s]}", "size", n, "query", query,
                             "track_total_hits", 0, "_source", 0, "docvalue_fields", "rid");
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    long status;
    json_t *a;
    int rc = request(s, "POST", "/_search", text, "application/json", &status, &a);
    free(text);
    json_t *page = json_object_get(json_object_get(a, "hits"), "hits");
    if (rc == 0 && (status != 200 || !json_is_array(page)))
        rc = unexpected("search", status, a);
    size_t k;
    json_t *hit;
    json_array_foreach(page, k, hit)
    {
        if (rc < 0)
            break;
        const char *rid = json_string_value(
            json_array_get(json_object_get(json_object_get(hit, "fields"), "rid"), 0));
        for (int i = 0; rid && i < n; i++)
            if (strcmp(ids[i], rid) == 0)
                out[i] = true;
    }
    json_decref(a);
    return rc;
}

static int search_scan(rg_search *s, const char *type, const char *after, int limit,
                       rg_search_entry **out, int *nout)
{
    json_t *body = json_pack(
        "{s:i, s:{s:{s:[{s:{s:s}}, {s:{s:{s:s}}}]}}, s:[{s:s}], s:b, s:[s, s, s, s]}", "size",
        limit, "query", "bool", "filter", "term", "type", type, "range", "rid", "gt", after, "sort",
        "rid", "asc", "track_total_hits", 0, "_source", "rid", "title", "body", "tags");
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    long status;
    json_t *a;
    int rc = request(s, "POST", "/_search", text, "application/json", &status, &a);
    free(text);
    json_t *page = json_object_get(json_object_get(a, "hits"), "hits");
    if (rc == 0 && (status != 200 || !json_is_array(page)))
        rc = unexpected("scan", status, a);
    if (rc < 0) {
        json_decref(a);
        return rc;
    }
    size_t n = json_array_size(page);
    rg_search_entry *e = rg_xcalloc(n ? n : 1, sizeof *e);
    size_t i;
    json_t *hit;
    int k = 0;
    json_array_foreach(page, i, hit)
    {
        json_t *src = json_object_get(hit, "_source");
        const char *rid = json_string_value(json_object_get(src, "rid"));
        if (!rid)
            continue;
        snprintf(e[k].type, sizeof e[k].type, "%s", type);
        snprintf(e[k].id, sizeof e[k].id, "%s", rid);
        const char *t = json_string_value(json_object_get(src, "title")),
                   *b = json_string_value(json_object_get(src, "body")),
                   *g = json_string_value(json_object_get(src, "tags"));
        e[k].title = rg_xstrdup(t ? t : "");
        e[k].body = rg_xstrdup(b ? b : "");
        e[k].tags = rg_xstrdup(g ? g : "");
        k++;
    }
    json_decref(a);
    *out = e;
    *nout = k;
    return 0;
}

static int search_ping(rg_search *s)
{
    long status;
    json_t *a;
    int rc = request(s, "GET", "/_count", NULL, NULL, &status, &a);
    if (rc == 0 && status != 200)
        rc = unexpected("ping", status, a);
    json_decref(a);
    return rc;
}

const struct rg_search_ops rg_es_search_ops = {
    .version = RG_SEARCH_OPS_VERSION,
    .caps = RG_SEARCH_CAP_HIGHLIGHT | RG_SEARCH_CAP_PREFIX | RG_SEARCH_CAP_STEMS,
    .scheme = "http",
    .open = search_open,
    .close = search_close,
    .upsert = search_upsert,
    .upsert_many = search_upsert_many,
    .remove = search_remove,
    .query = search_query,
    .ping = search_ping,
    .scan = search_scan,
    .matching = search_matching,
    .build_begin = search_build_begin,
    .build_add = search_build_add,
    .build_end = search_build_end,
};
