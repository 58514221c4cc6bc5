/* The Elasticsearch adapter on the wire, without an Elasticsearch server: a
 * loopback HTTP server in this program answers each request with a recorded
 * Elasticsearch 8 answer (shapes from the Elasticsearch reference: create
 * index, index and delete a document, _bulk, _search with search_after and
 * highlight, _count) and keeps what the adapter sent, which the tests
 * compare with the exact requests the reference describes: the mapping,
 * the bulk NDJSON, the queries. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "risinggen/base/error.h"
#include "risinggen/store/search.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_EXCHANGES 16

struct exchange {
    /* the answer to give */
    int status;
    const char *answer;
    /* what came */
    char method[16];
    char target[512];
    char ctype[64];
    char *body;
};

static struct {
    pthread_mutex_t lock;
    int fd, port;
    struct exchange ex[MAX_EXCHANGES];
    int nplanned, nseen;
    pthread_t thread;
} srv = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* The next request gets this answer. */
static void plan(int status, const char *answer)
{
    pthread_mutex_lock(&srv.lock);
    assert_true(srv.nplanned < MAX_EXCHANGES);
    srv.ex[srv.nplanned++] = (struct exchange){.status = status, .answer = answer};
    pthread_mutex_unlock(&srv.lock);
}

static void reset(void)
{
    pthread_mutex_lock(&srv.lock);
    for (int i = 0; i < srv.nseen; i++)
        free(srv.ex[i].body);
    memset(srv.ex, 0, sizeof srv.ex);
    srv.nplanned = srv.nseen = 0;
    pthread_mutex_unlock(&srv.lock);
}

static void serve_one(int c)
{
    char buf[1 << 20];
    size_t len = 0;
    char *end = NULL;
    while (!end && len < sizeof buf - 1) {
        ssize_t n = read(c, buf + len, sizeof buf - 1 - len);
        if (n <= 0)
            return;
        len += (size_t)n;
        buf[len] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    if (!end)
        return;
    size_t head = (size_t)(end - buf) + 4, clen = 0;
    const char *cl = strcasestr(buf, "\r\nContent-Length:");
    if (cl && cl < end)
        clen = strtoul(cl + 17, NULL, 10);
    while (len < head + clen && len < sizeof buf - 1) {
        ssize_t n = read(c, buf + len, sizeof buf - 1 - len);
        if (n <= 0)
            return;
        len += (size_t)n;
    }
    pthread_mutex_lock(&srv.lock);
    struct exchange *x = srv.nseen < srv.nplanned ? &srv.ex[srv.nseen++] : NULL;
    if (x) {
        sscanf(buf, "%15s %511s", x->method, x->target);
        const char *ct = strcasestr(buf, "\r\nContent-Type:");
        if (ct && ct < end)
            sscanf(ct + 15, " %63[^\r]", x->ctype);
        x->body = strndup(buf + head, clen);
    }
    int status = x ? x->status : 500;
    const char *answer = x && x->answer ? x->answer : "";
    bool head_only = x && strcmp(x->method, "HEAD") == 0;
    pthread_mutex_unlock(&srv.lock);
    char *out = NULL;
    int n = asprintf(&out,
                     "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n%s",
                     status, strlen(answer), head_only ? "" : answer);
    for (ssize_t at = 0, w; n > 0 && at < n; at += w)
        if ((w = write(c, out + at, (size_t)(n - at))) <= 0)
            break;
    free(out);
}

static void *serve(void *arg)
{
    (void)arg;
    for (;;) {
        int c = accept(srv.fd, NULL, NULL);
        if (c < 0)
            return NULL;
        serve_one(c);
        close(c);
    }
}

static int start(void **state)
{
    (void)state;
    srv.fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    if (bind(srv.fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(srv.fd, 16) < 0 ||
        getsockname(srv.fd, (struct sockaddr *)&a, &alen) < 0)
        return -1;
    srv.port = ntohs(a.sin_port);
    return pthread_create(&srv.thread, NULL, serve, NULL);
}

static int stop(void **state)
{
    (void)state;
    shutdown(srv.fd, SHUT_RDWR);
    close(srv.fd);
    pthread_join(srv.thread, NULL);
    reset();
    return 0;
}

/* The request i as sent. */
static const struct exchange *seen(int i)
{
    pthread_mutex_lock(&srv.lock);
    assert_true(i < srv.nseen);
    const struct exchange *x = &srv.ex[i];
    pthread_mutex_unlock(&srv.lock);
    return x;
}

static void assert_json_body(const struct exchange *x, const char *want)
{
    json_error_t e;
    json_t *got = json_loads(x->body, 0, &e), *w = json_loads(want, 0, &e);
    assert_non_null(w);
    if (!got || !json_equal(got, w))
        fail_msg("%s %s sent\n%s\nwant\n%s", x->method, x->target, x->body, want);
    json_decref(got);
    json_decref(w);
}

/* From the Elasticsearch reference: create index, with its settings and
 * mappings (analysis: custom analyzers of the standard tokenizer with the
 * lowercase, asciifolding and stemmer token filters; copy_to; multi-fields;
 * geo_point). */
static const char WANT_INDEX[] =
    "{\"settings\": {\"refresh_interval\": \"250ms\", \"analysis\": {"
    "  \"filter\": {\"rg_english\": {\"type\": \"stemmer\", \"language\": \"english\"}},"
    "  \"analyzer\": {"
    "    \"rg_stems\": {\"type\": \"custom\", \"tokenizer\": \"standard\","
    "                 \"filter\": [\"lowercase\", \"asciifolding\", \"rg_english\"]},"
    "    \"rg_words\": {\"type\": \"custom\", \"tokenizer\": \"standard\","
    "                 \"filter\": [\"lowercase\", \"asciifolding\"]}}}},"
    " \"mappings\": {\"dynamic\": \"strict\", \"properties\": {"
    "  \"key\": {\"type\": \"keyword\"}, \"type\": {\"type\": \"keyword\"},"
    "  \"rid\": {\"type\": \"keyword\"},"
    "  \"title\": {\"type\": \"text\", \"analyzer\": \"rg_stems\", \"copy_to\": \"all\","
    "             \"fields\": {\"words\": {\"type\": \"text\", \"analyzer\": \"rg_words\"}}},"
    "  \"body\": {\"type\": \"text\", \"analyzer\": \"rg_stems\", \"copy_to\": \"all\","
    "            \"fields\": {\"words\": {\"type\": \"text\", \"analyzer\": \"rg_words\"}}},"
    "  \"tags\": {\"type\": \"text\", \"analyzer\": \"rg_stems\", \"copy_to\": \"all\","
    "            \"fields\": {\"words\": {\"type\": \"text\", \"analyzer\": \"rg_words\"}}},"
    "  \"all\": {\"type\": \"text\", \"analyzer\": \"rg_stems\","
    "           \"fields\": {\"words\": {\"type\": \"text\", \"analyzer\": \"rg_words\"}}},"
    "  \"location\": {\"type\": \"geo_point\"}}}}";

static void open_port(rg_search_port *p)
{
    plan(404, "");
    plan(200, "{\"acknowledged\":true,\"shards_acknowledged\":true,\"index\":\"rgtest\"}");
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/rgtest", srv.port);
    int rc = rg_search_open(p, NULL, url, NULL);
    if (rc != 0)
        fail_msg("open: %s (%s)", rg_error_name(rc), rg_error_detail());
}

static void creates_the_index_with_its_mapping(void **state)
{
    (void)state;
    reset();
    rg_search_port p;
    open_port(&p);
    assert_string_equal(seen(0)->method, "HEAD");
    assert_string_equal(seen(0)->target, "/rgtest");
    assert_string_equal(seen(1)->method, "PUT");
    assert_string_equal(seen(1)->target, "/rgtest");
    assert_string_equal(seen(1)->ctype, "application/json");
    assert_json_body(seen(1), WANT_INDEX);
    rg_search_close(&p);
    /* An index that exists is used as it is. */
    reset();
    plan(200, "");
    char url[64];
    snprintf(url, sizeof url, "https://127.0.0.1:%d/Bad/Name", srv.port);
    assert_int_equal(rg_search_open(&p, NULL, url, NULL), RG_EINVAL);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/rgtest", srv.port);
    assert_int_equal(rg_search_open(&p, NULL, url, NULL), 0);
    rg_search_close(&p);
    /* Another instance made it meanwhile: not an error. */
    reset();
    plan(404, "");
    plan(400, "{\"error\":{\"type\":\"resource_already_exists_exception\",\"reason\":"
              "\"index [rgtest/abc] already exists\"},\"status\":400}");
    assert_int_equal(rg_search_open(&p, NULL, url, NULL), 0);
    rg_search_close(&p);
}

static void writes_one_record(void **state)
{
    (void)state;
    reset();
    rg_search_port p;
    open_port(&p);
    plan(201, "{\"_index\":\"rgtest\",\"_id\":\"event:e 1\",\"_version\":1,\"result\":\"created\","
              "\"_shards\":{\"total\":2,\"successful\":1,\"failed\":0},\"_seq_no\":0,"
              "\"_primary_term\":1}");
    rg_search_doc d = {.type = "event",
                       .id = "e 1",
                       .title = "Jazz \"Festival\"",
                       .body = "Z\xc3\xbcrich",
                       .tags = "music",
                       .has_point = true,
                       .lat = 47.5,
                       .lng = 8.25};
    assert_int_equal(rg_search_upsert(&p, &d), 0);
    assert_string_equal(seen(2)->method, "PUT");
    assert_string_equal(seen(2)->target, "/rgtest/_doc/event%3Ae%201?refresh=wait_for");
    assert_json_body(seen(2),
                     "{\"key\": \"event:e 1\", \"type\": \"event\", \"rid\": \"e 1\","
                     " \"title\": \"Jazz \\\"Festival\\\"\", \"body\": \"Z\\u00fcrich\","
                     " \"tags\": \"music\", \"location\": {\"lat\": 47.5, \"lon\": 8.25}}");
    /* Removing one that is not there is not an error. */
    plan(404,
         "{\"_index\":\"rgtest\",\"_id\":\"event:e9\",\"_version\":1,\"result\":\"not_found\"}");
    assert_int_equal(rg_search_remove(&p, "event", "e9"), 0);
    assert_string_equal(seen(3)->method, "DELETE");
    assert_string_equal(seen(3)->target, "/rgtest/_doc/event%3Ae9?refresh=wait_for");
    /* A server error is "try again"; a refused record is an internal error. */
    plan(503, "{\"error\":{\"type\":\"cluster_block_exception\"},\"status\":503}");
    assert_int_equal(rg_search_upsert(&p, &d), RG_EUNAVAIL);
    plan(429, "{\"error\":{\"type\":\"circuit_breaking_exception\"},\"status\":429}");
    assert_int_equal(rg_search_upsert(&p, &d), RG_EUNAVAIL);
    plan(400, "{\"error\":{\"type\":\"strict_dynamic_mapping_exception\",\"reason\":\"x\"},"
              "\"status\":400}");
    assert_int_equal(rg_search_upsert(&p, &d), RG_EINTERNAL);
    rg_search_close(&p);
}

static void bulk_sends_ndjson_and_retries_what_was_refused(void **state)
{
    (void)state;
    reset();
    rg_search_port p;
    open_port(&p);
    /* The whole request refused first (a full queue), then an item. */
    plan(429, "{\"error\":{\"type\":\"es_rejected_execution_exception\",\"reason\":\"full\"},"
              "\"status\":429}");
    plan(200,
         "{\"took\":30,\"errors\":true,\"items\":["
         "{\"index\":{\"_index\":\"rgtest\",\"_id\":\"event:1\",\"status\":201,"
         "\"result\":\"created\"}},"
         "{\"index\":{\"_index\":\"rgtest\",\"_id\":\"event:2\",\"status\":429,"
         "\"error\":{\"type\":\"es_rejected_execution_exception\",\"reason\":\"queue full\"}}},"
         "{\"index\":{\"_index\":\"rgtest\",\"_id\":\"event:3\",\"status\":200,"
         "\"result\":\"updated\"}}]}");
    plan(200, "{\"took\":3,\"errors\":false,\"items\":["
              "{\"index\":{\"_index\":\"rgtest\",\"_id\":\"event:2\",\"status\":201,"
              "\"result\":\"created\"}}]}");
    plan(200, "{\"_shards\":{\"total\":2,\"successful\":1,\"failed\":0}}");
    rg_search_doc d[] = {
        {.type = "event", .id = "1", .title = "One", .body = "", .tags = ""},
        {.type = "event", .id = "2", .title = "Two\nlines", .body = NULL, .tags = "t"},
        {.type = "event", .id = "3", .title = "Three", .body = "b", .tags = ""},
    };
    assert_int_equal(rg_search_upsert_many(&p, d, 3), 0);
    assert_string_equal(seen(2)->body, seen(3)->body);
    const struct exchange *x = seen(3);
    assert_string_equal(x->method, "POST");
    assert_string_equal(x->target, "/rgtest/_bulk");
    assert_string_equal(x->ctype, "application/x-ndjson");
    assert_string_equal(
        x->body,
        "{\"index\":{\"_id\":\"event:1\"}}\n"
        "{\"body\":\"\",\"key\":\"event:1\",\"rid\":\"1\",\"tags\":\"\",\"title\":\"One\","
        "\"type\":\"event\"}\n"
        "{\"index\":{\"_id\":\"event:2\"}}\n"
        "{\"body\":\"\",\"key\":\"event:2\",\"rid\":\"2\",\"tags\":\"t\",\"title\":\"Two\\nlines\","
        "\"type\":\"event\"}\n"
        "{\"index\":{\"_id\":\"event:3\"}}\n"
        "{\"body\":\"b\",\"key\":\"event:3\",\"rid\":\"3\",\"tags\":\"\",\"title\":\"Three\","
        "\"type\":\"event\"}\n");
    assert_string_equal(seen(4)->target, "/rgtest/_bulk");
    assert_string_equal(seen(4)->body,
                        "{\"index\":{\"_id\":\"event:2\"}}\n"
                        "{\"body\":\"\",\"key\":\"event:2\",\"rid\":\"2\",\"tags\":\"t\","
                        "\"title\":\"Two\\nlines\",\"type\":\"event\"}\n");
    assert_string_equal(seen(5)->method, "POST");
    assert_string_equal(seen(5)->target, "/rgtest/_refresh");
    /* Refused every time: "try again", after four attempts. */
    for (int k = 0; k < 4; k++)
        plan(429, "{\"error\":{\"type\":\"es_rejected_execution_exception\"},\"status\":429}");
    assert_int_equal(rg_search_upsert_many(&p, d, 1), RG_EUNAVAIL);
    /* The same record twice in one batch is refused before anything is sent. */
    rg_search_doc twice[] = {d[0], d[0]};
    assert_int_equal(rg_search_upsert_many(&p, twice, 2), RG_EINVAL);
    rg_search_close(&p);
}

static const char WANT_QUERY[] =
    "{\"size\": 10, \"track_total_hits\": false, \"_source\": false,"
    " \"docvalue_fields\": [\"type\", \"rid\"],"
    " \"sort\": [{\"_score\": \"desc\"}, {\"key\": \"asc\"}],"
    " \"query\": {\"bool\": {"
    "   \"filter\": [{\"terms\": {\"type\": [\"event\"]}}],"
    "   \"must\": [{\"multi_match\": {\"query\": \"jazz \\\" OR fest\", \"type\": \"bool_prefix\","
    "              \"fields\": [\"all\", \"all.words\"], \"operator\": \"and\"}}],"
    "   \"should\": [{\"multi_match\": {\"query\": \"jazz \\\" OR fest\", \"type\": "
    "\"bool_prefix\","
    "                \"fields\": [\"title^10\", \"tags^2\", \"body\"]}}]}},"
    " \"highlight\": {\"pre_tags\": [\"\\u0002\"], \"post_tags\": [\"\\u0003\"],"
    "   \"fields\": {\"body\": {\"number_of_fragments\": 1, \"fragment_size\": 120},"
    "              \"title\": {\"number_of_fragments\": 0}}}}";

static void searches_with_highlights(void **state)
{
    (void)state;
    reset();
    rg_search_port p;
    open_port(&p);
    plan(200,
         "{\"took\":5,\"timed_out\":false,\"_shards\":{\"total\":1,\"successful\":1,"
         "\"skipped\":0,\"failed\":0},\"hits\":{\"max_score\":null,\"hits\":["
         "{\"_index\":\"rgtest\",\"_id\":\"event:e1\",\"_score\":12.5,"
         "\"fields\":{\"type\":[\"event\"],\"rid\":[\"e1\"]},"
         "\"highlight\":{\"body\":[\"Three nights of \\u0002jazz\\u0003 <b>by</b> the fjord\"]},"
         "\"sort\":[12.5,\"event:e1\"]},"
         "{\"_index\":\"rgtest\",\"_id\":\"event:e2\",\"_score\":3.25,"
         "\"fields\":{\"type\":[\"event\"],\"rid\":[\"e2\"]},"
         "\"highlight\":{\"title\":[\"\\u0002Jazz\\u0003 night\"]},"
         "\"sort\":[3.25,\"event:e2\"]}]}}");
    const char *const types[] = {"event"};
    rg_search_hit *hits;
    int n;
    assert_int_equal(rg_search_query(&p, "jazz \" OR fest", types, 1, 10, &hits, &n), 0);
    assert_string_equal(seen(2)->target, "/rgtest/_search");
    assert_json_body(seen(2), WANT_QUERY);
    assert_int_equal(n, 2);
    assert_string_equal(hits[0].id, "e1");
    assert_true(hits[0].score > hits[1].score);
    /* The port's wrapper escapes the text and turns the marks into <em>. */
    assert_string_equal(hits[0].highlight,
                        "Three nights of <em>jazz</em> &lt;b&gt;by&lt;/b&gt; the fjord");
    assert_string_equal(hits[1].highlight, "<em>Jazz</em> night");
    rg_search_hits_free(hits, n);
    rg_search_close(&p);
}

/* matching: the words' query, filtered to the records' keys, in one
 * search of at most as many hits as records. */
static void tests_given_records(void **state)
{
    (void)state;
    reset();
    rg_search_port p;
    open_port(&p);
    plan(200, "{\"took\":2,\"timed_out\":false,\"hits\":{\"max_score\":null,\"hits\":["
              "{\"_index\":\"rgtest\",\"_id\":\"event:e3\",\"_score\":1.5,"
              "\"fields\":{\"rid\":[\"e3\"]}}]}}");
    const char *ids[] = {"e1", "e3", "e\"7"};
    bool got[3];
    assert_int_equal(rg_search_matching(&p, "jazz fest", RG_SEARCH_PART_ALL, "event", ids, 3, got),
                     0);
    assert_string_equal(seen(2)->method, "POST");
    assert_string_equal(seen(2)->target, "/rgtest/_search");
    assert_json_body(seen(2),
                     "{\"size\": 3, \"track_total_hits\": false, \"_source\": false,"
                     " \"docvalue_fields\": [\"rid\"],"
                     " \"query\": {\"bool\": {"
                     "   \"filter\": [{\"terms\": {\"type\": [\"event\"]}},"
                     "     {\"terms\": {\"key\": [\"event:e1\", \"event:e3\", \"event:e\\\"7\"]}}],"
                     "   \"must\": [{\"multi_match\": {\"query\": \"jazz fest\","
                     "     \"type\": \"bool_prefix\", \"fields\": [\"all\", \"all.words\"],"
                     "     \"operator\": \"and\"}}]}}}");
    assert_false(got[0]);
    assert_true(got[1]);
    assert_false(got[2]);
    /* The title alone must hold every word; the rest must not. */
    plan(200, "{\"hits\":{\"hits\":[]}}");
    plan(200, "{\"hits\":{\"hits\":[]}}");
    assert_int_equal(rg_search_matching(&p, "jazz", RG_SEARCH_PART_TITLE, "event", ids, 1, got), 0);
    assert_int_equal(rg_search_matching(&p, "jazz", RG_SEARCH_PART_REST, "event", ids, 1, got), 0);
    static const char words[] = "{\"multi_match\": {\"query\": \"jazz\", \"type\": \"bool_prefix\","
                                " \"fields\": [\"all\", \"all.words\"], \"operator\": \"and\"}}";
    static const char title[] =
        "{\"multi_match\": {\"query\": \"jazz\", \"type\": \"bool_prefix\","
        " \"fields\": [\"title\", \"title.words\"], \"operator\": \"and\"}}";
    static const char filter[] = "\"filter\": [{\"terms\": {\"type\": [\"event\"]}},"
                                 " {\"terms\": {\"key\": [\"event:e1\"]}}]";
    char want[1024];
    snprintf(want, sizeof want,
             "{\"size\": 1, \"track_total_hits\": false, \"_source\": false,"
             " \"docvalue_fields\": [\"rid\"], \"query\": {\"bool\": {%s, \"must\": [%s, %s]}}}",
             filter, words, title);
    assert_json_body(seen(3), want);
    snprintf(want, sizeof want,
             "{\"size\": 1, \"track_total_hits\": false, \"_source\": false,"
             " \"docvalue_fields\": [\"rid\"], \"query\": {\"bool\": {%s, \"must\": [%s],"
             " \"must_not\": [%s]}}}",
             filter, words, title);
    assert_json_body(seen(4), want);
    /* A refusal is an error, never "nothing matches". */
    plan(503, "{\"error\":\"unavailable\"}");
    assert_true(rg_search_matching(&p, "jazz", RG_SEARCH_PART_ALL, "event", ids, 3, got) < 0);
    rg_search_close(&p);
}

/* A page of n hits "event:<from+i>", each with score 1, in the point in
 * time pit (NULL: none). */
static char *page_of(int from, int n, const char *pit)
{
    json_t *hits = json_array();
    for (int i = 0; i < n; i++) {
        char id[16], key[32];
        snprintf(id, sizeof id, "%d", from + i);
        snprintf(key, sizeof key, "event:%d", from + i);
        json_array_append_new(hits, json_pack("{s:s, s:f, s:{s:[s], s:[s]}, s:[f, s]}", "_id", key,
                                              "_score", 1.0, "fields", "type", "event", "rid", id,
                                              "sort", 1.0, key));
    }
    json_t *a = json_pack("{s:i, s:b, s:{s:o}}", "took", 1, "timed_out", 0, "hits", "hits", hits);
    if (pit)
        json_object_set_new(a, "pit_id", json_string(pit));
    char *s = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    return s;
}

static void pages_beyond_a_thousand_with_search_after(void **state)
{
    (void)state;
    reset();
    rg_search_port p;
    open_port(&p);
    /* More than a page: every page in one point in time, which the
     * answers may renew, closed at the end. */
    char *first = page_of(0, 1000, "pit-2"), *second = page_of(1000, 2, "pit-2");
    plan(200, "{\"id\":\"pit-1\"}");
    plan(200, first);
    plan(200, second);
    plan(200, "{\"succeeded\":true,\"num_freed\":1}");
    rg_search_hit *hits;
    int n;
    assert_int_equal(rg_search_ids(&p, "common", NULL, 0, 1500, &hits, &n), 0);
    assert_int_equal(n, 1002);
    assert_string_equal(hits[1001].id, "1001");
    assert_null(hits[0].highlight);
    rg_search_hits_free(hits, n);
    assert_string_equal(seen(2)->method, "POST");
    assert_string_equal(seen(2)->target, "/rgtest/_pit?keep_alive=1m");
    assert_string_equal(seen(3)->target, "/_search");
    assert_string_equal(seen(4)->target, "/_search");
    assert_string_equal(seen(5)->method, "DELETE");
    assert_string_equal(seen(5)->target, "/_pit");
    assert_json_body(seen(5), "{\"id\": \"pit-2\"}");
    json_error_t e;
    json_t *q1 = json_loads(seen(3)->body, 0, &e), *q2 = json_loads(seen(4)->body, 0, &e);
    assert_int_equal(json_integer_value(json_object_get(q1, "size")), 1000);
    assert_null(json_object_get(q1, "search_after"));
    assert_null(json_object_get(q1, "highlight"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(q1, "pit"), "id")),
                        "pit-1");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(q1, "pit"), "keep_alive")), "1m");
    assert_string_equal(json_string_value(json_object_get(json_object_get(q2, "pit"), "id")),
                        "pit-2");
    assert_int_equal(json_integer_value(json_object_get(q2, "size")), 500);
    json_t *after = json_object_get(q2, "search_after");
    assert_true(json_is_array(after) && json_array_size(after) == 2);
    assert_string_equal(json_string_value(json_array_get(after, 1)), "event:999");
    /* All types: no filter. */
    assert_int_equal(json_array_size(json_object_get(
                         json_object_get(json_object_get(q1, "query"), "bool"), "filter")),
                     0);
    json_decref(q1);
    json_decref(q2);
    free(first);
    free(second);
    rg_search_close(&p);
}

static void scans_and_pings(void **state)
{
    (void)state;
    reset();
    rg_search_port p;
    open_port(&p);
    plan(200, "{\"hits\":{\"hits\":[{\"_id\":\"event:10\",\"_source\":{\"rid\":\"10\","
              "\"title\":\"Ten\",\"body\":\"\",\"tags\":\"t\"},\"sort\":[\"10\"]}]}}");
    rg_search_entry *e;
    int n;
    assert_int_equal(rg_search_scan(&p, "event", "1", 50, &e, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(e[0].id, "10");
    assert_string_equal(e[0].title, "Ten");
    assert_string_equal(e[0].tags, "t");
    rg_search_entries_free(e, n);
    assert_json_body(seen(2), "{\"size\": 50, \"track_total_hits\": false,"
                              " \"_source\": [\"rid\", \"title\", \"body\", \"tags\"],"
                              " \"sort\": [{\"rid\": \"asc\"}],"
                              " \"query\": {\"bool\": {\"filter\": ["
                              "   {\"term\": {\"type\": \"event\"}},"
                              "   {\"range\": {\"rid\": {\"gt\": \"1\"}}}]}}}");
    plan(200, "{\"count\":1,\"_shards\":{\"total\":1,\"successful\":1,\"skipped\":0,"
              "\"failed\":0}}");
    assert_int_equal(rg_search_ping(&p), 0);
    assert_string_equal(seen(3)->method, "GET");
    assert_string_equal(seen(3)->target, "/rgtest/_count");
    rg_search_close(&p);
}

#define NO_ALIAS "{\"error\":\"alias [rgtest] missing\",\"status\":404}"
#define NO_INDEX                                                                                   \
    "{\"error\":{\"type\":\"index_not_found_exception\",\"reason\":\"no such index\"},"            \
    "\"status\":404}"
#define ACKED "{\"acknowledged\":true}"

/* Building aside (index aliases in the reference: get alias, the add and
 * remove_index actions of _aliases): the first build fills rgtest-a and
 * turns the index rgtest into an alias of it in one _aliases request; the
 * next fills rgtest-b; an abandoned build deletes its index. */
static void builds_aside_and_switches_the_alias(void **state)
{
    (void)state;
    reset();
    rg_search_port p;
    open_port(&p);
    plan(404, NO_ALIAS);
    plan(404, NO_INDEX);
    plan(200, "{\"acknowledged\":true,\"shards_acknowledged\":true,\"index\":\"rgtest-a\"}");
    assert_int_equal(rg_search_build_begin(&p), 0);
    assert_string_equal(seen(2)->method, "GET");
    assert_string_equal(seen(2)->target, "/_alias/rgtest");
    assert_string_equal(seen(3)->method, "DELETE");
    assert_string_equal(seen(3)->target, "/rgtest-a");
    assert_string_equal(seen(4)->method, "PUT");
    assert_string_equal(seen(4)->target, "/rgtest-a");
    assert_json_body(seen(4), WANT_INDEX);
    plan(404, NO_ALIAS);
    plan(200, "{\"took\":3,\"errors\":false,\"items\":[{\"index\":{\"_index\":\"rgtest-a\","
              "\"_id\":\"event:1\",\"status\":201,\"result\":\"created\"}}]}");
    plan(200, "{\"_shards\":{\"total\":2,\"successful\":1,\"failed\":0}}");
    rg_search_doc d = {.type = "event", .id = "1", .title = "Kite", .body = "", .tags = ""};
    assert_int_equal(rg_search_build_add(&p, &d, 1), 0);
    assert_string_equal(seen(6)->method, "POST");
    assert_string_equal(seen(6)->target, "/rgtest-a/_bulk");
    assert_string_equal(seen(6)->ctype, "application/x-ndjson");
    assert_string_equal(seen(6)->body,
                        "{\"index\":{\"_id\":\"event:1\"}}\n"
                        "{\"body\":\"\",\"key\":\"event:1\",\"rid\":\"1\",\"tags\":\"\","
                        "\"title\":\"Kite\",\"type\":\"event\"}\n");
    assert_string_equal(seen(7)->target, "/rgtest-a/_refresh");
    plan(404, NO_ALIAS);
    plan(200, ACKED);
    assert_int_equal(rg_search_build_end(&p, true), 0);
    assert_string_equal(seen(9)->method, "POST");
    assert_string_equal(seen(9)->target, "/_aliases");
    assert_json_body(seen(9), "{\"actions\": [{\"add\": {\"index\": \"rgtest-a\", \"alias\": "
                              "\"rgtest\"}}, {\"remove_index\": {\"index\": \"rgtest\"}}]}");

    /* rgtest is now an alias of rgtest-a: the next build fills rgtest-b. */
    reset();
    const char *alias = "{\"rgtest-a\":{\"aliases\":{\"rgtest\":{}}}}";
    plan(200, alias);
    plan(404, NO_INDEX);
    plan(200, "{\"acknowledged\":true,\"shards_acknowledged\":true,\"index\":\"rgtest-b\"}");
    assert_int_equal(rg_search_build_begin(&p), 0);
    assert_string_equal(seen(1)->target, "/rgtest-b");
    assert_string_equal(seen(2)->target, "/rgtest-b");
    plan(200, alias);
    plan(200, ACKED);
    assert_int_equal(rg_search_build_end(&p, true), 0);
    assert_json_body(seen(4), "{\"actions\": [{\"add\": {\"index\": \"rgtest-b\", \"alias\": "
                              "\"rgtest\"}}, {\"remove_index\": {\"index\": \"rgtest-a\"}}]}");
    /* Abandoned: its index is deleted, the alias left alone. */
    reset();
    plan(200, "{\"rgtest-b\":{\"aliases\":{\"rgtest\":{}}}}");
    plan(200, ACKED);
    assert_int_equal(rg_search_build_end(&p, false), 0);
    assert_string_equal(seen(1)->method, "DELETE");
    assert_string_equal(seen(1)->target, "/rgtest-a");
    /* An alias lookup that fails is an error, not a guess. */
    reset();
    plan(403, "{\"error\":{\"type\":\"security_exception\",\"reason\":\"denied\"},"
              "\"status\":403}");
    assert_int_equal(rg_search_build_begin(&p), RG_EINTERNAL);
    rg_search_close(&p);
}

static void a_server_that_is_not_there(void **state)
{
    (void)state;
    int fd = socket(AF_INET, SOCK_STREAM, 0); /* a port that nothing listens on */
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/rgtest", ntohs(a.sin_port));
    rg_search_port p;
    assert_int_equal(rg_search_open(&p, NULL, url, NULL), RG_EUNAVAIL);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(creates_the_index_with_its_mapping),
        cmocka_unit_test(writes_one_record),
        cmocka_unit_test(bulk_sends_ndjson_and_retries_what_was_refused),
        cmocka_unit_test(searches_with_highlights),
        cmocka_unit_test(pages_beyond_a_thousand_with_search_after),
        cmocka_unit_test(scans_and_pings),
        cmocka_unit_test(tests_given_records),
        cmocka_unit_test(builds_aside_and_switches_the_alias),
        cmocka_unit_test(a_server_that_is_not_there),
    };
    return cmocka_run_group_tests(tests, start, stop);
}
