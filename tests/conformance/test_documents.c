/* Conformance suite of the documents port, run once per adapter.
 *
 * Embedded adapters (ops set, url_env NULL) always run, each test on a fresh
 * store in a new folder under $RG_TEST_TMP (or /tmp). Server adapters run
 * when their URL is in the environment; their collections are emptied before
 * every test. PostgreSQL runs in a database of its own, created for this
 * program on the server of RG_TEST_PG_URL and dropped at the end; MongoDB
 * likewise on the server of RG_TEST_MONGODB_URL. An adapter that is not in this
 * build or has no URL prints "SKIPPED documents/<adapter>: <reason>" and its group is skipped.
 *
 * Over 800 lines on purpose: the suite is the documents port's contract
 * (documents.h), and one program per port keeps every case in one table
 * that each adapter must pass (a new adapter is one line in `adapters`). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "risinggen/store/documents.h"
#include "risinggen/base/error.h"
#ifdef RG_WITH_POSTGRES
#include "pgtest.h"
#endif
#include "mongotest.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct adapter {
    const char *name;
    const struct rg_doc_ops *ops; /* NULL: not in this build */
    const char *url_env;          /* NULL: embedded, stored under a temp folder */
    const char *file;             /* embedded: file name inside the temp folder */
    /* server: a new database on that server (malloc'd URL, NULL on failure)
     * and its removal; NULL: use the URL as it is */
    char *(*create_db)(const char *tag);
    void (*drop_db)(char *url);
};

static const struct adapter adapters[] = {
    {"sqlite", &rg_sqlite_doc_ops, NULL, "documents.db", NULL, NULL},
#ifdef RG_WITH_POSTGRES
    {"postgresql", &rg_pg_doc_ops, "RG_TEST_PG_URL", NULL, rg_test_pg_create_db,
     rg_test_pg_drop_db},
#else
    {"postgresql", NULL, "RG_TEST_PG_URL", NULL, NULL, NULL},
#endif
#ifdef RG_WITH_MONGODB
    {"mongodb", &rg_mongo_doc_ops, "RG_TEST_MONGODB_URL", NULL, rg_test_mongo_create_db,
     rg_test_mongo_drop_db},
#else
    {"mongodb", NULL, "RG_TEST_MONGODB_URL", NULL, NULL, NULL},
#endif
};

static const struct adapter *current;
static char *server_url;        /* server adapters: the URL their tests use */
static char self_exe[PATH_MAX]; /* this program, for child processes */

static const rg_doc_index indexes[] = {
    {"users", "email", true}, {"users", "profile.city", false}, {"items", "group", false},
    {"items", "rank", false}, {"items", "name", false},
};
static const char *const collections[] = {"users", "items", "counters", "notes"};

#define N(a) (sizeof(a) / sizeof((a)[0]))

struct fixture {
    rg_documents port;
    char dir[PATH_MAX];
    char url[PATH_MAX + 32];
};

static void mkdir_p(const char *path)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(buf, 0700);
            *p = '/';
        }
    mkdir(buf, 0700);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

static int make_tmpdir(char out[PATH_MAX], const char *prefix)
{
    const char *base = getenv("RG_TEST_TMP");
    if (!base || !*base)
        base = "/tmp";
    mkdir_p(base);
    snprintf(out, PATH_MAX, "%s/%s-XXXXXX", base, prefix);
    if (!mkdtemp(out)) {
        fprintf(stderr, "mkdtemp %s: %s\n", out, strerror(errno));
        return -1;
    }
    return 0;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    char *url = f->url;
    if (current->url_env) {
        snprintf(url, sizeof f->url, "%s", server_url);
    } else {
        if (make_tmpdir(f->dir, "documents") < 0) {
            free(f);
            return -1;
        }
        snprintf(url, sizeof f->url, "sqlite:%s/%s", f->dir, current->file);
    }
    int rc = rg_docs_open(&f->port, current->ops, url, NULL, indexes, (int)N(indexes));
    if (rc < 0) {
        fprintf(stderr, "open %s: %s (%s)\n", current->name, rg_error_name(rc), rg_error_detail());
        if (f->dir[0])
            nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
        free(f);
        return -1;
    }
    for (size_t i = 0; i < N(collections); i++)
        if (rg_docs_remove_where(&f->port, collections[i], NULL, 0) < 0) {
            fprintf(stderr, "cannot empty %s\n", collections[i]);
            return -1;
        }
    *state = f;
    return 0;
}

static int collect_gid(void *arg, const char *gid)
{
    json_array_append_new(arg, json_string(gid));
    return 0;
}

/* The gids prepared in the test database under prefix (a new array). */
static json_t *prepared(rg_documents *p, const char *prefix)
{
    json_t *gids = json_array();
    if (rg_docs_prepared_list(p, prefix, collect_gid, gids) < 0) {
        json_decref(gids);
        return NULL;
    }
    return gids;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (!f)
        return 0;
    /* A failed test may leave a prepared transaction, which would hold its
     * locks and keep the test database from being dropped. */
    json_t *left = f->port.ops->caps & RG_DOC_CAP_PREPARED ? prepared(&f->port, "") : NULL;
    for (size_t i = 0; i < json_array_size(left); i++)
        (void)rg_docs_finish_prepared(&f->port, json_string_value(json_array_get(left, i)), false);
    json_decref(left);
    rg_docs_close(&f->port);
    if (f->dir[0])
        nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* A find without a keyset position. */
static int find_q(rg_documents *p, const char *coll, const rg_doc_filter *filters, int nfilters,
                  const char *sort, bool desc, int limit, json_t **out)
{
    rg_doc_query q = {
        .filters = filters, .nfilters = nfilters, .sort_path = sort, .desc = desc, .limit = limit};
    return rg_docs_find(p, coll, &q, out);
}

static json_t *parse(const char *text)
{
    json_error_t err;
    json_t *j = json_loads(text, JSON_ALLOW_NUL, &err);
    if (!j)
        fail_msg("bad JSON in test: %s: %s", text, err.text);
    return j;
}

static void insert_text(rg_documents *p, const char *coll, const char *id, const char *json)
{
    json_t *doc = parse(json);
    int rc = rg_docs_insert(p, coll, id, doc);
    json_decref(doc);
    if (rc != 0)
        fail_msg("insert %s/%s: %s (%s)", coll, id, rg_error_name(rc), rg_error_detail());
}

static void assert_doc_equals(json_t *got, const char *want_json)
{
    json_t *want = parse(want_json);
    if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_SORT_KEYS);
        fail_msg("document differs: got %s want %s", g ? g : "(null)", want_json);
    }
    json_decref(want);
}

/* Ids of a find result, joined by commas into buf. */
static const char *ids_of(json_t *arr, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    size_t i;
    json_t *item;
    json_array_foreach(arr, i, item)
    {
        len += (size_t)snprintf(buf + len, len < cap ? cap - len : 0, "%s%s", i ? "," : "",
                                json_string_value(json_object_get(item, "id")));
    }
    return buf;
}

static void assert_find_ids(rg_documents *p, const char *coll, const rg_doc_filter *filters,
                            int nfilters, const char *sort, bool desc, const char *want)
{
    json_t *arr = NULL;
    int rc = find_q(p, coll, filters, nfilters, sort, desc, 100, &arr);
    assert_int_equal(rc, 0);
    assert_true(json_is_array(arr));
    char buf[1024];
    assert_string_equal(ids_of(arr, buf, sizeof buf), want);
    json_decref(arr);
}

static void test_insert_get_roundtrip(void **state)
{
    struct fixture *f = *state;
    const char *text = "{\"email\":\"ann@example.org\",\"name\":\"Ann\",\"age\":31,\"score\":2.5,"
                       "\"verified\":true,\"nothing\":null,\"tags\":[\"a\",\"b\",{\"c\":1}],"
                       "\"profile\":{\"city\":\"Oslo\",\"langs\":[\"nb\",\"en\"]}}";
    insert_text(&f->port, "users", "u1", text);
    json_t *got = NULL;
    int64_t rev = 0;
    assert_int_equal(rg_docs_get(&f->port, "users", "u1", &got, &rev), 0);
    assert_int_equal(rev, 1);
    assert_doc_equals(got, text);
    json_decref(got);
    /* The caller's document is borrowed: changing it afterwards changes nothing stored. */
    json_t *doc = parse("{\"a\":1}");
    assert_int_equal(rg_docs_insert(&f->port, "notes", "n1", doc), 0);
    json_object_set_new(doc, "a", json_integer(2));
    json_decref(doc);
    assert_int_equal(rg_docs_get(&f->port, "notes", "n1", &got, NULL), 0);
    assert_doc_equals(got, "{\"a\":1}");
    json_decref(got);
    assert_int_equal(rg_docs_ping(&f->port), 0);
}

static void test_get_missing(void **state)
{
    struct fixture *f = *state;
    json_t *got = (json_t *)1;
    int64_t rev = -1;
    assert_int_equal(rg_docs_get(&f->port, "users", "nobody", &got, &rev), RG_ENOTFOUND);
    assert_null(got);
    /* A collection never used before is simply empty. */
    assert_int_equal(rg_docs_get(&f->port, "notes", "nobody", &got, NULL), RG_ENOTFOUND);
}

static void test_duplicate_id(void **state)
{
    struct fixture *f = *state;
    insert_text(&f->port, "notes", "n1", "{\"v\":1}");
    json_t *doc = parse("{\"v\":2}");
    assert_int_equal(rg_docs_insert(&f->port, "notes", "n1", doc), RG_ECONFLICT);
    json_decref(doc);
    json_t *got;
    int64_t rev;
    assert_int_equal(rg_docs_get(&f->port, "notes", "n1", &got, &rev), 0);
    assert_doc_equals(got, "{\"v\":1}");
    assert_int_equal(rev, 1);
    json_decref(got);
}

static void test_duplicate_unique_key(void **state)
{
    struct fixture *f = *state;
    if (!(f->port.ops->caps & RG_DOC_CAP_UNIQUE)) {
        printf("SKIPPED documents/%s unique keys: adapter lacks RG_DOC_CAP_UNIQUE\n",
               current->name);
        skip();
    }
    insert_text(&f->port, "users", "u1", "{\"email\":\"a@x.org\"}");
    insert_text(&f->port, "users", "u2", "{\"email\":\"b@x.org\"}");
    json_t *doc = parse("{\"email\":\"a@x.org\"}");
    assert_int_equal(rg_docs_insert(&f->port, "users", "u3", doc), RG_ECONFLICT);
    /* Taking a used key by replace is refused too, and changes nothing. */
    assert_int_equal(rg_docs_replace(&f->port, "users", "u2", doc, 0), RG_ECONFLICT);
    json_decref(doc);
    json_t *got;
    int64_t rev;
    assert_int_equal(rg_docs_get(&f->port, "users", "u2", &got, &rev), 0);
    assert_doc_equals(got, "{\"email\":\"b@x.org\"}");
    assert_int_equal(rev, 1);
    json_decref(got);
    assert_int_equal(rg_docs_get(&f->port, "users", "u3", &got, NULL), RG_ENOTFOUND);
    /* Documents without the key do not collide with each other. */
    insert_text(&f->port, "users", "u4", "{\"name\":\"no email\"}");
    insert_text(&f->port, "users", "u5", "{\"name\":\"no email either\"}");
    /* A freed key can be taken again. */
    assert_int_equal(rg_docs_remove(&f->port, "users", "u1"), 0);
    insert_text(&f->port, "users", "u6", "{\"email\":\"a@x.org\"}");
}

static void test_replace_revisions(void **state)
{
    struct fixture *f = *state;
    insert_text(&f->port, "notes", "n1", "{\"v\":1}");
    json_t *doc = parse("{\"v\":2}");
    assert_int_equal(rg_docs_replace(&f->port, "notes", "n1", doc, 1), 0);
    json_decref(doc);
    json_t *got;
    int64_t rev;
    assert_int_equal(rg_docs_get(&f->port, "notes", "n1", &got, &rev), 0);
    assert_int_equal(rev, 2);
    assert_doc_equals(got, "{\"v\":2}");
    json_decref(got);

    doc = parse("{\"v\":3}");
    assert_int_equal(rg_docs_replace(&f->port, "notes", "n1", doc, 1), RG_ESTALE);
    assert_int_equal(rg_docs_replace(&f->port, "notes", "n1", doc, 7), RG_ESTALE);
    assert_int_equal(rg_docs_get(&f->port, "notes", "n1", &got, &rev), 0);
    assert_int_equal(rev, 2);
    assert_doc_equals(got, "{\"v\":2}");
    json_decref(got);

    assert_int_equal(rg_docs_replace(&f->port, "notes", "n1", doc, 0), 0);
    json_decref(doc);
    assert_int_equal(rg_docs_get(&f->port, "notes", "n1", &got, &rev), 0);
    assert_int_equal(rev, 3);
    assert_doc_equals(got, "{\"v\":3}");
    json_decref(got);
}

static void test_replace_missing(void **state)
{
    struct fixture *f = *state;
    json_t *doc = parse("{\"v\":1}");
    assert_int_equal(rg_docs_replace(&f->port, "notes", "ghost", doc, 0), RG_ENOTFOUND);
    assert_int_equal(rg_docs_replace(&f->port, "notes", "ghost", doc, 3), RG_ENOTFOUND);
    /* Replace never creates. */
    json_t *got;
    assert_int_equal(rg_docs_get(&f->port, "notes", "ghost", &got, NULL), RG_ENOTFOUND);
    insert_text(&f->port, "notes", "gone", "{\"v\":0}");
    assert_int_equal(rg_docs_remove(&f->port, "notes", "gone"), 0);
    assert_int_equal(rg_docs_replace(&f->port, "notes", "gone", doc, 1), RG_ENOTFOUND);
    json_decref(doc);
}

static void test_remove_idempotent(void **state)
{
    struct fixture *f = *state;
    insert_text(&f->port, "notes", "n1", "{\"v\":1}");
    insert_text(&f->port, "notes", "n2", "{\"v\":2}");
    assert_int_equal(rg_docs_remove(&f->port, "notes", "n1"), 0);
    json_t *got;
    assert_int_equal(rg_docs_get(&f->port, "notes", "n1", &got, NULL), RG_ENOTFOUND);
    assert_int_equal(rg_docs_remove(&f->port, "notes", "n1"), 0);
    assert_int_equal(rg_docs_remove(&f->port, "notes", "never"), 0);
    /* The neighbour is untouched. */
    assert_int_equal(rg_docs_get(&f->port, "notes", "n2", &got, NULL), 0);
    json_decref(got);
    /* The id can be used again, from revision 1. */
    insert_text(&f->port, "notes", "n1", "{\"v\":9}");
    int64_t rev;
    assert_int_equal(rg_docs_get(&f->port, "notes", "n1", &got, &rev), 0);
    assert_int_equal(rev, 1);
    json_decref(got);
}

static void insert_items(rg_documents *p)
{
    insert_text(p, "items", "i1",
                "{\"group\":\"a\",\"rank\":3,\"name\":\"pear\",\"meta\":{\"c\":\"x\"}}");
    insert_text(p, "items", "i2",
                "{\"group\":\"b\",\"rank\":1,\"name\":\"apple\",\"meta\":{\"c\":\"y\"}}");
    insert_text(p, "items", "i3",
                "{\"group\":\"a\",\"rank\":2,\"name\":\"fig\",\"meta\":{\"c\":\"x\"}}");
    insert_text(p, "items", "i4",
                "{\"group\":\"b\",\"rank\":3,\"name\":\"kiwi\",\"meta\":{\"c\":\"x\"}}");
    insert_text(p, "items", "i5", "{\"group\":\"a\",\"rank\":10,\"name\":\"lime\"}");
    insert_text(p, "items", "i6", "{\"group\":\"c\",\"rank\":3,\"name\":\"date\"}");
}

static void test_find_filters(void **state)
{
    struct fixture *f = *state;
    insert_items(&f->port);
    rg_doc_filter ga = {.path = "group", .value = "a"};
    assert_find_ids(&f->port, "items", &ga, 1, NULL, false, "i1,i3,i5");
    rg_doc_filter r3 = {.path = "rank", .is_int = true, .ival = 3};
    assert_find_ids(&f->port, "items", &r3, 1, NULL, false, "i1,i4,i6");
    rg_doc_filter both[] = {ga, r3};
    assert_find_ids(&f->port, "items", both, 2, NULL, false, "i1");
    /* Integer 10 is not the text "10", and the text filter does not match numbers. */
    rg_doc_filter r10 = {.path = "rank", .is_int = true, .ival = 10};
    assert_find_ids(&f->port, "items", &r10, 1, NULL, false, "i5");
    rg_doc_filter t10 = {.path = "rank", .value = "10"};
    assert_find_ids(&f->port, "items", &t10, 1, NULL, false, "");
    rg_doc_filter nested = {.path = "meta.c", .value = "x"};
    assert_find_ids(&f->port, "items", &nested, 1, NULL, false, "i1,i3,i4");
    rg_doc_filter none = {.path = "group", .value = "zzz"};
    assert_find_ids(&f->port, "items", &none, 1, NULL, false, "");
    assert_find_ids(&f->port, "items", NULL, 0, NULL, false, "i1,i2,i3,i4,i5,i6");
    assert_find_ids(&f->port, "notes", NULL, 0, NULL, false, "");

    /* The result carries each document whole. */
    json_t *arr = NULL;
    rg_doc_filter kiwi = {.path = "name", .value = "kiwi"};
    assert_int_equal(find_q(&f->port, "items", &kiwi, 1, NULL, false, 10, &arr), 0);
    assert_int_equal(json_array_size(arr), 1);
    assert_doc_equals(json_object_get(json_array_get(arr, 0), "doc"),
                      "{\"group\":\"b\",\"rank\":3,\"name\":\"kiwi\",\"meta\":{\"c\":\"x\"}}");
    json_decref(arr);

    /* limit */
    assert_int_equal(find_q(&f->port, "items", &ga, 1, NULL, false, 2, &arr), 0);
    assert_int_equal(json_array_size(arr), 2);
    json_decref(arr);

    /* find_one */
    json_t *doc;
    char *id;
    assert_int_equal(rg_docs_find_one(&f->port, "items", "name", "fig", &doc, &id), 0);
    assert_string_equal(id, "i3");
    assert_int_equal(json_integer_value(json_object_get(doc, "rank")), 2);
    json_decref(doc);
    free(id);
    assert_int_equal(rg_docs_find_one(&f->port, "items", "name", "mango", &doc, &id), RG_ENOTFOUND);
    assert_null(doc);
    assert_null(id);
}

static void test_find_sort(void **state)
{
    struct fixture *f = *state;
    insert_items(&f->port);
    /* Ties on rank are broken by id, in the same direction. */
    assert_find_ids(&f->port, "items", NULL, 0, "rank", false, "i2,i3,i1,i4,i6,i5");
    assert_find_ids(&f->port, "items", NULL, 0, "rank", true, "i5,i6,i4,i1,i3,i2");
    assert_find_ids(&f->port, "items", NULL, 0, "name", false, "i2,i6,i3,i4,i5,i1");
    assert_find_ids(&f->port, "items", NULL, 0, "name", true, "i1,i5,i4,i3,i6,i2");
    assert_find_ids(&f->port, "items", NULL, 0, NULL, true, "i6,i5,i4,i3,i2,i1");
    rg_doc_filter ga = {.path = "group", .value = "a"};
    assert_find_ids(&f->port, "items", &ga, 1, "rank", true, "i5,i1,i3");
}

/* Pages through the items of coll sorted by sort_path (NULL: id) with pages
 * of size, each page starting after the last one's position (its sort value
 * as the page showed it, typed), and checks that the concatenation is
 * exactly want. When drop is set, the document at each position is removed
 * before the next page is asked for: a position needs no document. */
static void page_through_ex(rg_documents *p, const char *coll, const char *sort_path, bool desc,
                            int size, bool drop, const char *want)
{
    char got[4096] = "", after_id[64];
    size_t len = 0;
    json_t *after_value = NULL;
    bool have_after = false;
    int pages = 0, total = 0;
    for (;;) {
        json_t *arr = NULL;
        rg_doc_query q = {.sort_path = sort_path,
                          .desc = desc,
                          .after_id = have_after ? after_id : NULL,
                          .after_value = after_value,
                          .limit = size};
        int rc = rg_docs_find(p, coll, &q, &arr);
        assert_int_equal(rc, 0);
        size_t n = json_array_size(arr);
        assert_true(n <= (size_t)size);
        if (n == 0) {
            json_decref(arr);
            break;
        }
        pages++;
        total += (int)n;
        assert_true(pages <= 200);
        for (size_t i = 0; i < n; i++) {
            json_t *item = json_array_get(arr, i);
            len += (size_t)snprintf(got + len, sizeof got - len, "%s%s", len ? "," : "",
                                    json_string_value(json_object_get(item, "id")));
        }
        json_t *last = json_array_get(arr, n - 1);
        snprintf(after_id, sizeof after_id, "%s", json_string_value(json_object_get(last, "id")));
        json_decref(after_value);
        after_value = NULL;
        if (sort_path) {
            json_t *v = json_object_get(json_object_get(last, "doc"), sort_path);
            after_value = v ? json_deep_copy(v) : NULL;
        }
        have_after = true;
        if (drop)
            assert_int_equal(rg_docs_remove(p, coll, after_id), 0);
        json_decref(arr);
    }
    json_decref(after_value);
    assert_int_equal(pages, (total + size - 1) / size);
    assert_string_equal(got, want);
}

static void page_through(rg_documents *p, const char *sort_path, bool desc, int size,
                         const char *want)
{
    page_through_ex(p, "items", sort_path, desc, size, false, want);
}

static void test_keyset_pagination(void **state)
{
    struct fixture *f = *state;
    /* 25 documents: ranks with many ties, three without a rank (they sort
     * first ascending and last descending), inserted out of order. */
    for (int k = 0; k < 25; k++) {
        int i = (k * 7) % 25;
        char id[16], json[128];
        snprintf(id, sizeof id, "d%02d", i);
        if (i % 9 == 4)
            snprintf(json, sizeof json, "{\"name\":\"n%02d\"}", 24 - i);
        else
            snprintf(json, sizeof json, "{\"rank\":%d,\"name\":\"n%02d\"}", (i * 3) % 5, 24 - i);
        insert_text(&f->port, "items", id, json);
    }
    /* Expected orders, computed independently of the store. */
    char asc[512] = "", desc[512] = "", by_id[512] = "", by_id_desc[512] = "", by_name[512] = "";
    size_t la = 0, ld = 0;
    for (int rank = -1; rank < 5; rank++)
        for (int i = 0; i < 25; i++) {
            int r = i % 9 == 4 ? -1 : (i * 3) % 5;
            if (r == rank)
                la += (size_t)snprintf(asc + la, sizeof asc - la, "%sd%02d", la ? "," : "", i);
        }
    for (int rank = 4; rank >= -1; rank--)
        for (int i = 24; i >= 0; i--) {
            int r = i % 9 == 4 ? -1 : (i * 3) % 5;
            if (r == rank)
                ld += (size_t)snprintf(desc + ld, sizeof desc - ld, "%sd%02d", ld ? "," : "", i);
        }
    size_t li = 0, lj = 0, ln = 0;
    for (int i = 0; i < 25; i++) {
        li += (size_t)snprintf(by_id + li, sizeof by_id - li, "%sd%02d", i ? "," : "", i);
        lj += (size_t)snprintf(by_id_desc + lj, sizeof by_id_desc - lj, "%sd%02d", i ? "," : "",
                               24 - i);
        ln += (size_t)snprintf(by_name + ln, sizeof by_name - ln, "%sd%02d", i ? "," : "",
                               24 - i); /* name n(24-i): ascending name is descending id */
    }
    /* Pages of 10 as the API serves them; pages of 2 also start inside the
     * group without a rank and cross from one group to the other. */
    static const int sizes[] = {10, 2};
    for (size_t s = 0; s < N(sizes); s++) {
        page_through(&f->port, "rank", false, sizes[s], asc);
        page_through(&f->port, "rank", true, sizes[s], desc);
        page_through(&f->port, NULL, false, sizes[s], by_id);
        page_through(&f->port, NULL, true, sizes[s], by_id_desc);
        page_through(&f->port, "name", false, sizes[s], by_name);
        page_through(&f->port, "name", true, sizes[s], by_id);
    }
}

static void test_remove_where(void **state)
{
    struct fixture *f = *state;
    insert_items(&f->port);
    rg_doc_filter ga = {.path = "group", .value = "a"};
    assert_int_equal(rg_docs_remove_where(&f->port, "items", &ga, 1), 3);
    assert_find_ids(&f->port, "items", &ga, 1, NULL, false, "");
    assert_int_equal(rg_docs_remove_where(&f->port, "items", &ga, 1), 0);
    rg_doc_filter both[] = {{.path = "group", .value = "b"},
                            {.path = "rank", .is_int = true, .ival = 3}};
    assert_int_equal(rg_docs_remove_where(&f->port, "items", both, 2), 1);
    assert_find_ids(&f->port, "items", NULL, 0, NULL, false, "i2,i6");
}

/* "less than" filters, the way expired sessions are purged. */
static void test_less_than(void **state)
{
    struct fixture *f = *state;
    insert_items(&f->port);
    rg_doc_filter lt3 = {.path = "rank", .is_int = true, .ival = 3, .less_than = true};
    assert_find_ids(&f->port, "items", &lt3, 1, NULL, false, "i2,i3");
    rg_doc_filter lt_kiwi = {.path = "name", .value = "kiwi", .less_than = true};
    assert_find_ids(&f->port, "items", &lt_kiwi, 1, NULL, false, "i2,i3,i6");
    rg_doc_filter both[] = {{.path = "group", .value = "a"}, lt3};
    assert_int_equal(rg_docs_remove_where(&f->port, "items", both, 2), 1);
    assert_find_ids(&f->port, "items", NULL, 0, NULL, false, "i1,i2,i4,i5,i6");
    rg_doc_filter lt100 = {.path = "rank", .is_int = true, .ival = 100, .less_than = true};
    assert_int_equal(rg_docs_remove_where(&f->port, "items", &lt100, 1), 5);
}

static void test_unicode_roundtrip(void **state)
{
    struct fixture *f = *state;
    const char *text = "{\"name\":\"Zo\\u00eb \\u00c5se M\\u00fcller \\u2014 \\u6771\\u4eac "
                       "\\ud83c\\udf89\",\"quote\":\"she said \\\"hi\\\" \\\\ o/\\n\\ttab\","
                       "\"\\u00e9l\\u00e8ve\":\"cl\\u00e9\",\"nul\":\"a\\u0000b\","
                       "\"profile\":{\"city\":\"S\\u00e3o Paulo\"}}";
    bool nul_ok = f->port.ops->caps & RG_DOC_CAP_NUL_IN_STRINGS;
    json_t *got;
    if (!nul_ok) {
        /* The store cannot hold U+0000: the document is refused as invalid
         * (never a server error), by insert and by replace, and nothing is
         * stored; the same text without it goes through. */
        json_t *doc = parse(text);
        assert_int_equal(rg_docs_insert(&f->port, "users", "u-ünï", doc), RG_EVALIDATION);
        assert_true(strstr(rg_error_detail(), "U+0000") != NULL);
        assert_int_equal(rg_docs_get(&f->port, "users", "u-ünï", &got, NULL), RG_ENOTFOUND);
        insert_text(&f->port, "notes", "n1", "{\"v\":1}");
        assert_int_equal(rg_docs_replace(&f->port, "notes", "n1", doc, 0), RG_EVALIDATION);
        json_t *nested_nul = parse("{\"a\":{\"b\":[\"x\",\"y\\u0000\"]}}");
        assert_int_equal(rg_docs_replace(&f->port, "notes", "n1", nested_nul, 0), RG_EVALIDATION);
        json_decref(nested_nul);
        int64_t rev;
        assert_int_equal(rg_docs_get(&f->port, "notes", "n1", &got, &rev), 0);
        assert_doc_equals(got, "{\"v\":1}");
        assert_int_equal(rev, 1);
        json_decref(got);
        /* An escaped backslash followed by "u0000" is not a NUL. */
        insert_text(&f->port, "notes", "n2", "{\"v\":\"\\\\u0000\"}");
        json_object_set_new(doc, "nul", json_string("ab"));
        assert_int_equal(rg_docs_insert(&f->port, "users", "u-ünï", doc), 0);
        json_decref(doc);
        text = "{\"name\":\"Zo\\u00eb \\u00c5se M\\u00fcller \\u2014 \\u6771\\u4eac "
               "\\ud83c\\udf89\",\"quote\":\"she said \\\"hi\\\" \\\\ o/\\n\\ttab\","
               "\"\\u00e9l\\u00e8ve\":\"cl\\u00e9\",\"nul\":\"ab\","
               "\"profile\":{\"city\":\"S\\u00e3o Paulo\"}}";
    } else {
        insert_text(&f->port, "users", "u-ünï", text);
    }
    assert_int_equal(rg_docs_get(&f->port, "users", "u-ünï", &got, NULL), 0);
    assert_doc_equals(got, text);
    json_t *nul = json_object_get(got, "nul");
    assert_int_equal(json_string_length(nul), nul_ok ? 3 : 2);
    json_decref(got);
    rg_doc_filter city = {.path = "profile.city", .value = "São Paulo"};
    assert_find_ids(&f->port, "users", &city, 1, NULL, false, "u-ünï");
}

static void test_bad_names(void **state)
{
    struct fixture *f = *state;
    static const char *const bad_colls[] = {
        "Users",
        "users1",
        "",
        "a-b",
        "a b",
        "doc\"; DROP TABLE doc_users; --",
        "abcdefghijklmnopqrstuvwxyzabcdefg", /* 33 */
    };
    json_t *doc = parse("{\"v\":1}"), *got = NULL, *arr = NULL;
    for (size_t i = 0; i < N(bad_colls); i++) {
        const char *c = bad_colls[i];
        assert_int_equal(rg_docs_insert(&f->port, c, "x", doc), RG_EINVAL);
        assert_int_equal(rg_docs_get(&f->port, c, "x", &got, NULL), RG_EINVAL);
        assert_int_equal(rg_docs_replace(&f->port, c, "x", doc, 0), RG_EINVAL);
        assert_int_equal(rg_docs_remove(&f->port, c, "x"), RG_EINVAL);
        assert_int_equal(find_q(&f->port, c, NULL, 0, NULL, false, 10, &arr), RG_EINVAL);
        assert_int_equal(rg_docs_remove_where(&f->port, c, NULL, 0), RG_EINVAL);
    }
    assert_int_equal(rg_docs_insert(&f->port, NULL, "x", doc), RG_EINVAL);
    /* The longest valid name works. */
    assert_int_equal(rg_docs_insert(&f->port, "abcdefghijklmnopqrstuvwxyz_abcde", "x", doc), 0);
    /* Paths are checked as well. */
    static const char *const bad_paths[] = {"", "a..b", ".a", "a.", "a-b", "a')--", "$.a", "a b"};
    for (size_t i = 0; i < N(bad_paths); i++) {
        rg_doc_filter flt = {.path = bad_paths[i], .value = "1"};
        assert_int_equal(find_q(&f->port, "items", &flt, 1, NULL, false, 10, &arr), RG_EINVAL);
        assert_int_equal(find_q(&f->port, "items", NULL, 0, bad_paths[i], false, 10, &arr),
                         RG_EINVAL);
        assert_int_equal(rg_docs_remove_where(&f->port, "items", &flt, 1), RG_EINVAL);
    }
    /* A document is an object. */
    json_t *array = json_array();
    assert_int_equal(rg_docs_insert(&f->port, "notes", "arr", array), RG_EINVAL);
    json_decref(array);
    json_decref(doc);

    /* Bad names in the index list stop open. */
    {
        char url[PATH_MAX + 32];
        if (current->url_env)
            snprintf(url, sizeof url, "%s", f->url);
        else
            snprintf(url, sizeof url, "sqlite:%s/other.db", f->dir);
        rg_doc_index bad[] = {{"users", "email", true}, {"Bad", "x", false}};
        rg_documents d;
        assert_int_equal(rg_docs_open(&d, current->ops, url, NULL, bad, 2), RG_EINVAL);
        assert_null(d.d);
        rg_doc_index bad_path[] = {{"users", "x'); DROP TABLE y; --", false}};
        assert_int_equal(rg_docs_open(&d, current->ops, url, NULL, bad_path, 1), RG_EINVAL);
    }
}

/* 8 threads × 50 optimistic increments of one counter: get, add one,
 * replace at the revision read, retry on RG_ESTALE. */
#define THREADS    8
#define INCREMENTS 50

struct incr_ctx {
    rg_documents *port;
    atomic_int failures;
    atomic_int retries;
};

static void *incr_thread(void *arg)
{
    struct incr_ctx *ctx = arg;
    for (int i = 0; i < INCREMENTS; i++) {
        for (int attempt = 0;; attempt++) {
            if (attempt > 10000) {
                atomic_fetch_add(&ctx->failures, 1);
                break;
            }
            json_t *doc = NULL;
            int64_t rev = 0;
            int rc = rg_docs_get(ctx->port, "counters", "c", &doc, &rev);
            if (rc < 0) {
                atomic_fetch_add(&ctx->failures, 1);
                break;
            }
            json_int_t n = json_integer_value(json_object_get(doc, "n"));
            json_object_set_new(doc, "n", json_integer(n + 1));
            rc = rg_docs_replace(ctx->port, "counters", "c", doc, rev);
            json_decref(doc);
            if (rc == 0)
                break;
            if (rc == RG_ESTALE || rc == RG_EUNAVAIL) { /* lost the race, or busy */
                atomic_fetch_add(&ctx->retries, 1);
                continue;
            }
            atomic_fetch_add(&ctx->failures, 1);
            break;
        }
    }
    return NULL;
}

static void test_concurrent_increments(void **state)
{
    struct fixture *f = *state;
    insert_text(&f->port, "counters", "c", "{\"n\":0,\"label\":\"visits\"}");
    struct incr_ctx ctx = {.port = &f->port};
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, incr_thread, &ctx), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&ctx.failures), 0);
    printf("documents/%s: %d increments needed %d retries\n", current->name, THREADS * INCREMENTS,
           atomic_load(&ctx.retries));
    json_t *doc;
    int64_t rev;
    assert_int_equal(rg_docs_get(&f->port, "counters", "c", &doc, &rev), 0);
    assert_int_equal(json_integer_value(json_object_get(doc, "n")), THREADS * INCREMENTS);
    assert_string_equal(json_string_value(json_object_get(doc, "label")), "visits");
    assert_int_equal(rev, 1 + THREADS * INCREMENTS);
    json_decref(doc);
}

/* Several processes open the same store at once (each ensuring the declared
 * indexes) and write into a collection that none has used before. */
#define PROCS    4
#define PER_PROC 20

static int child_work(const char *url, int k)
{
    rg_documents p;
    int rc = rg_docs_open(&p, current->ops, url, NULL, indexes, (int)N(indexes));
    if (rc < 0)
        return 10;
    for (int i = 0; i < PER_PROC && rc == 0; i++) {
        char id[32], email[64];
        snprintf(id, sizeof id, "p%d-%02d", k, i);
        snprintf(email, sizeof email, "p%d-%02d@example.org", k, i);
        json_t *doc = json_pack("{s:i, s:i}", "proc", k, "i", i);
        rc = rg_docs_insert(&p, "notes", id, doc);
        json_object_set_new(doc, "email", json_string(email));
        if (rc == 0)
            rc = rg_docs_insert(&p, "users", id, doc);
        json_decref(doc);
    }
    rg_docs_close(&p);
    return rc == 0 ? 0 : 11;
}

static void test_concurrent_open(void **state)
{
    struct fixture *f = *state;
    /* Embedded stores race on a file that does not exist yet, server stores
     * that can make one on a database without tables. */
    char url[PATH_MAX + 32];
    char *race_db = current->create_db ? current->create_db("docsrace") : NULL;
    if (current->create_db)
        assert_non_null(race_db);
    if (race_db)
        snprintf(url, sizeof url, "%s", race_db);
    else if (current->url_env)
        snprintf(url, sizeof url, "%s", f->url);
    else
        snprintf(url, sizeof url, "sqlite:%s/race.db", f->dir);
    /* Each child is this program run afresh (see main), so that it shares
     * nothing with this process's open store. */
    fflush(NULL);
    pid_t pids[PROCS];
    char adapter[8];
    snprintf(adapter, sizeof adapter, "%d", (int)(current - adapters));
    for (int k = 0; k < PROCS; k++) {
        pids[k] = fork();
        assert_true(pids[k] >= 0);
        if (pids[k] == 0) {
            char num[8];
            snprintf(num, sizeof num, "%d", k);
            execl(self_exe, self_exe, "--open-child", adapter, url, num, (char *)NULL);
            _exit(12);
        }
    }
    for (int k = 0; k < PROCS; k++) {
        int status = 0;
        assert_int_equal(waitpid(pids[k], &status, 0), pids[k]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    rg_documents p;
    assert_int_equal(rg_docs_open(&p, current->ops, url, NULL, indexes, (int)N(indexes)), 0);
    json_t *arr = NULL;
    assert_int_equal(find_q(&p, "notes", NULL, 0, NULL, false, 1000, &arr), 0);
    assert_int_equal(json_array_size(arr), PROCS * PER_PROC);
    json_decref(arr);
    rg_doc_filter one = {.path = "email", .value = "p3-07@example.org"};
    assert_find_ids(&p, "users", &one, 1, NULL, false, "p3-07");
    /* The unique index was created by one of them and holds. */
    json_t *dup = json_pack("{s:s}", "email", "p0-00@example.org");
    assert_int_equal(rg_docs_insert(&p, "users", "dup", dup), RG_ECONFLICT);
    json_decref(dup);
    rg_docs_close(&p);
    if (race_db)
        current->drop_db(race_db);
}

/* Values of every JSON type at one sort path, and documents without one. */
static void insert_mixed(rg_documents *p)
{
    static const char *const docs[][2] = {
        {"m01", "{\"rank\":2}"},         {"m02", "{\"rank\":\"9\"}"},
        {"m03", "{\"rank\":true}"},      {"m04", "{}"},
        {"m05", "{\"rank\":-3}"},        {"m06", "{\"rank\":\"10\"}"},
        {"m07", "{\"rank\":[1]}"},       {"m08", "{\"rank\":null}"},
        {"m09", "{\"rank\":1.5}"},       {"m10", "{\"rank\":false}"},
        {"m11", "{\"rank\":{\"a\":1}}"}, {"m12", "{\"rank\":\"b\"}"},
        {"m13", "{\"rank\":2.0}"},       {"m14", "{\"rank\":\"\\u00e9\"}"},
        {"m15", "{\"rank\":\"Z\"}"},     {"m16", "{\"rank\":1e3}"},
    };
    for (size_t i = 0; i < N(docs); i++)
        insert_text(p, "items", docs[i][0], docs[i][1]);
}

/* no value < numbers < strings (UTF-8 bytes) < objects < arrays < booleans,
 * ties by id; descending is the exact reverse. */
#define MIXED_ASC  "m04,m08,m05,m09,m01,m13,m16,m06,m02,m15,m12,m14,m11,m07,m10,m03"
#define MIXED_DESC "m03,m10,m07,m11,m14,m12,m15,m02,m06,m16,m13,m01,m09,m05,m08,m04"

static void test_order_of_types(void **state)
{
    struct fixture *f = *state;
    insert_mixed(&f->port);
    assert_find_ids(&f->port, "items", NULL, 0, "rank", false, MIXED_ASC);
    assert_find_ids(&f->port, "items", NULL, 0, "rank", true, MIXED_DESC);
    /* Keyset pages of every size visit each document once, in that order. */
    for (int size = 1; size <= 5; size++) {
        page_through(&f->port, "rank", false, size, MIXED_ASC);
        page_through(&f->port, "rank", true, size, MIXED_DESC);
    }
}

static void test_keyset_without_the_document(void **state)
{
    struct fixture *f = *state;
    insert_mixed(&f->port);
    /* Each page starts after a document that is gone by then. */
    page_through_ex(&f->port, "items", "rank", false, 3, true, MIXED_ASC);
    assert_true(rg_docs_remove_where(&f->port, "items", NULL, 0) >= 0);
    insert_mixed(&f->port);
    page_through_ex(&f->port, "items", "rank", true, 2, true, MIXED_DESC);
    /* A position nobody ever held: after the number 1.7 comes 2 (m01). */
    assert_true(rg_docs_remove_where(&f->port, "items", NULL, 0) >= 0);
    insert_mixed(&f->port);
    json_t *arr = NULL, *v = json_real(1.7);
    rg_doc_query q = {.sort_path = "rank", .after_id = "zzz", .after_value = v, .limit = 2};
    assert_int_equal(rg_docs_find(&f->port, "items", &q, &arr), 0);
    char buf[256];
    assert_string_equal(ids_of(arr, buf, sizeof buf), "m01,m13");
    json_decref(arr);
    json_decref(v);
    /* After the string "9", whatever the id: "Z" (m15). */
    v = json_string("9");
    q = (rg_doc_query){.sort_path = "rank", .after_id = "m99", .after_value = v, .limit = 1};
    assert_int_equal(rg_docs_find(&f->port, "items", &q, &arr), 0);
    assert_string_equal(ids_of(arr, buf, sizeof buf), "m15");
    json_decref(arr);
    json_decref(v);
    /* A JSON null position is the same as none: among documents without a value. */
    v = json_null();
    q = (rg_doc_query){.sort_path = "rank", .after_id = "m04", .after_value = v, .limit = 2};
    assert_int_equal(rg_docs_find(&f->port, "items", &q, &arr), 0);
    assert_string_equal(ids_of(arr, buf, sizeof buf), "m08,m05");
    json_decref(arr);
    json_decref(v);
}

static void test_typed_filters(void **state)
{
    struct fixture *f = *state;
    insert_mixed(&f->port);
    insert_text(&f->port, "items", "m17", "{\"rank\":1}");
    insert_text(&f->port, "items", "m18", "{\"rank\":\"1\"}");
    insert_text(&f->port, "items", "m19", "{\"rank\":1.0}");
    /* An integer matches numbers of that value, never true or "1". */
    rg_doc_filter one = {.path = "rank", .is_int = true, .ival = 1};
    assert_find_ids(&f->port, "items", &one, 1, NULL, false, "m17,m19");
    rg_doc_filter two = {.path = "rank", .is_int = true, .ival = 2};
    assert_find_ids(&f->port, "items", &two, 1, NULL, false, "m01,m13");
    rg_doc_filter zero = {.path = "rank", .is_int = true, .ival = 0};
    assert_find_ids(&f->port, "items", &zero, 1, NULL, false, "");
    /* A text matches strings only. */
    rg_doc_filter t1 = {.path = "rank", .value = "1"};
    assert_find_ids(&f->port, "items", &t1, 1, NULL, false, "m18");
    rg_doc_filter ttrue = {.path = "rank", .value = "true"};
    assert_find_ids(&f->port, "items", &ttrue, 1, NULL, false, "");
    /* No value: missing or null. */
    rg_doc_filter none = {.path = "rank"};
    assert_find_ids(&f->port, "items", &none, 1, NULL, false, "m04,m08");
    /* Less than, within the filter's type: numbers below 2 (not false, not
     * strings), strings before "9" by bytes (not numbers). */
    rg_doc_filter lt2 = {.path = "rank", .is_int = true, .ival = 2, .less_than = true};
    assert_find_ids(&f->port, "items", &lt2, 1, NULL, false, "m05,m09,m17,m19");
    rg_doc_filter lt9 = {.path = "rank", .value = "9", .less_than = true};
    assert_find_ids(&f->port, "items", &lt9, 1, NULL, false, "m06,m18");
    rg_doc_filter lt_none = {.path = "rank", .less_than = true};
    assert_find_ids(&f->port, "items", &lt_none, 1, NULL, false, "");
    /* remove_where obeys the same rules. */
    assert_int_equal(rg_docs_remove_where(&f->port, "items", &one, 1), 2);
    assert_find_ids(&f->port, "items", &t1, 1, NULL, false, "m18");
}

static void test_unique_is_typed(void **state)
{
    struct fixture *f = *state;
    if (!(f->port.ops->caps & RG_DOC_CAP_UNIQUE)) {
        printf("SKIPPED documents/%s typed unique keys: adapter lacks RG_DOC_CAP_UNIQUE\n",
               current->name);
        skip();
    }
    insert_text(&f->port, "users", "u1", "{\"email\":1}");
    /* Another type with a look-alike value is another key. */
    insert_text(&f->port, "users", "u2", "{\"email\":\"1\"}");
    insert_text(&f->port, "users", "u3", "{\"email\":true}");
    insert_text(&f->port, "users", "u4", "{\"email\":[1]}");
    /* The same number written otherwise is the same key. */
    json_t *doc = parse("{\"email\":1.0}");
    assert_int_equal(rg_docs_insert(&f->port, "users", "u5", doc), RG_ECONFLICT);
    json_decref(doc);
    doc = parse("{\"email\":true}");
    assert_int_equal(rg_docs_insert(&f->port, "users", "u6", doc), RG_ECONFLICT);
    json_decref(doc);
    /* No value never conflicts, null or missing. */
    insert_text(&f->port, "users", "u7", "{\"email\":null}");
    insert_text(&f->port, "users", "u8", "{\"email\":null}");
    insert_text(&f->port, "users", "u9", "{}");
}

static void test_path_rules(void **state)
{
    struct fixture *f = *state;
    /* A path names object members only: a segment that starts with a digit
     * (an array position in some stores) is refused. */
    static const char *const bad[] = {"tags.0", "0", "a.1b", "a.b.", "-a"};
    json_t *arr = NULL;
    for (size_t i = 0; i < N(bad); i++) {
        rg_doc_filter flt = {.path = bad[i], .value = "x"};
        assert_int_equal(find_q(&f->port, "items", &flt, 1, NULL, false, 10, &arr), RG_EINVAL);
        assert_int_equal(find_q(&f->port, "items", NULL, 0, bad[i], false, 10, &arr), RG_EINVAL);
    }
    assert_true(rg_doc_path_valid("a2.b_3._c"));
    /* A path through an array finds nothing. */
    insert_text(&f->port, "items", "a1", "{\"meta\":[{\"c\":\"x\"}]}");
    insert_text(&f->port, "items", "a2", "{\"meta\":{\"c\":\"x\"}}");
    rg_doc_filter c = {.path = "meta.c", .value = "x"};
    assert_find_ids(&f->port, "items", &c, 1, NULL, false, "a2");
    /* Bounds: limit, filters, keyset id, value length. */
    assert_int_equal(find_q(&f->port, "items", NULL, 0, NULL, false, 0, &arr), RG_EINVAL);
    assert_int_equal(find_q(&f->port, "items", NULL, 0, NULL, false, RG_DOC_LIMIT_MAX + 1, &arr),
                     RG_EINVAL);
    rg_doc_filter many[RG_DOC_FILTERS_MAX + 1];
    for (int i = 0; i <= RG_DOC_FILTERS_MAX; i++)
        many[i] = (rg_doc_filter){.path = "group", .value = "a"};
    assert_int_equal(find_q(&f->port, "items", many, RG_DOC_FILTERS_MAX + 1, NULL, false, 10, &arr),
                     RG_EINVAL);
    assert_int_equal(find_q(&f->port, "items", many, RG_DOC_FILTERS_MAX, NULL, false, 10, &arr), 0);
    json_decref(arr);
    char *long_value = malloc(RG_DOC_VALUE_MAX + 2);
    memset(long_value, 'v', RG_DOC_VALUE_MAX + 1);
    long_value[RG_DOC_VALUE_MAX + 1] = '\0';
    rg_doc_filter lv = {.path = "group", .value = long_value};
    assert_int_equal(find_q(&f->port, "items", &lv, 1, NULL, false, 10, &arr), RG_EINVAL);
    free(long_value);
    rg_doc_filter bad_utf8 = {.path = "group", .value = "\xc3\x28"};
    assert_int_equal(find_q(&f->port, "items", &bad_utf8, 1, NULL, false, 10, &arr), RG_EINVAL);
    json_t *doc = parse("{\"v\":1}");
    assert_int_equal(rg_docs_insert(&f->port, "notes", "\xff", doc), RG_EINVAL);
    char long_id[RG_DOC_ID_MAX + 2];
    memset(long_id, 'i', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    assert_int_equal(rg_docs_insert(&f->port, "notes", long_id, doc), RG_EINVAL);
    long_id[RG_DOC_ID_MAX] = '\0';
    assert_int_equal(rg_docs_insert(&f->port, "notes", long_id, doc), 0);
    assert_int_equal(rg_docs_replace(&f->port, "notes", long_id, doc, -1), RG_EINVAL);
    json_decref(doc);
}

static size_t prepared_count(rg_documents *p, const char *prefix)
{
    json_t *gids = prepared(p, prefix);
    assert_non_null(gids);
    size_t n = json_array_size(gids);
    json_decref(gids);
    return n;
}

/* The value of "v" in notes/id, or -1 when the document is missing; *rev
 * its revision. */
static json_int_t note_v(rg_documents *p, const char *id, int64_t *rev)
{
    json_t *got;
    int rc = rg_docs_get(p, "notes", id, &got, rev);
    if (rc == RG_ENOTFOUND)
        return -1;
    assert_int_equal(rc, 0);
    json_int_t v = json_integer_value(json_object_get(got, "v"));
    json_decref(got);
    return v;
}

/* Two-phase commit (prepared.h): writes prepared together stay invisible
 * until committed, vanish when rolled back, and a failing write leaves
 * nothing prepared. */
static void test_prepared(void **state)
{
    struct fixture *f = *state;
    rg_doc_write rm = {RG_DOC_W_REMOVE, "notes", "n1", NULL, 0};
    if (!(f->port.ops->caps & RG_DOC_CAP_PREPARED)) {
        assert_int_equal(rg_docs_two_phase(&f->port), 0);
        assert_int_equal(rg_docs_prepare(&f->port, "t.1", &rm, 1), RG_EINVAL);
        printf("SKIPPED documents/%s prepared transactions: adapter lacks RG_DOC_CAP_PREPARED\n",
               current->name);
        skip();
    }
    /* The test servers set max_prepared_transactions. */
    assert_int_equal(rg_docs_two_phase(&f->port), 1);
    assert_int_equal(rg_docs_prepare(&f->port, "bad gid", &rm, 1), RG_EINVAL);
    assert_int_equal(rg_docs_prepare(&f->port, "t.0", &rm, 0), RG_EINVAL);
    insert_text(&f->port, "notes", "n1", "{\"v\":1}");
    insert_text(&f->port, "notes", "n2", "{\"v\":2}");
    json_t *v9 = parse("{\"v\":9}"), *v3 = parse("{\"v\":3}");
    rg_doc_write w[] = {{RG_DOC_W_REPLACE, "notes", "n1", v9, 1},
                        {RG_DOC_W_INSERT, "notes", "n3", v3, 0},
                        {RG_DOC_W_REMOVE, "notes", "n2", NULL, 0}};
    assert_int_equal(rg_docs_prepare(&f->port, "t.a", w, 3), 0);
    int64_t rev;
    assert_int_equal(note_v(&f->port, "n1", &rev), 1);
    assert_int_equal(rev, 1);
    assert_int_equal(note_v(&f->port, "n2", NULL), 2);
    assert_int_equal(note_v(&f->port, "n3", NULL), -1);
    assert_int_equal(prepared_count(&f->port, "t."), 1);
    assert_int_equal(prepared_count(&f->port, "x."), 0);
    assert_int_equal(rg_docs_finish_prepared(&f->port, "t.a", true), 0);
    assert_int_equal(note_v(&f->port, "n1", &rev), 9);
    assert_int_equal(rev, 2);
    assert_int_equal(note_v(&f->port, "n2", NULL), -1);
    assert_int_equal(note_v(&f->port, "n3", &rev), 3);
    assert_int_equal(rev, 1);
    assert_int_equal(prepared_count(&f->port, ""), 0);
    assert_int_equal(rg_docs_finish_prepared(&f->port, "t.a", true), RG_ENOTFOUND);

    /* Rolled back: nothing changes. */
    rg_doc_write back = {RG_DOC_W_REPLACE, "notes", "n1", v3, 2};
    assert_int_equal(rg_docs_prepare(&f->port, "t.b", &back, 1), 0);
    assert_int_equal(rg_docs_finish_prepared(&f->port, "t.b", false), 0);
    assert_int_equal(note_v(&f->port, "n1", &rev), 9);
    assert_int_equal(rev, 2);

    /* A write that fails (a stale revision, a missing document, a taken
     * id) leaves nothing prepared and the writes before it undone. */
    rg_doc_write stale[] = {{RG_DOC_W_INSERT, "notes", "n4", v3, 0},
                            {RG_DOC_W_REPLACE, "notes", "n1", v3, 1}};
    assert_int_equal(rg_docs_prepare(&f->port, "t.c", stale, 2), RG_ESTALE);
    rg_doc_write gone[] = {{RG_DOC_W_INSERT, "notes", "n4", v3, 0},
                           {RG_DOC_W_REPLACE, "notes", "n2", v3, 0}};
    assert_int_equal(rg_docs_prepare(&f->port, "t.d", gone, 2), RG_ENOTFOUND);
    rg_doc_write taken[] = {{RG_DOC_W_INSERT, "notes", "n4", v3, 0},
                            {RG_DOC_W_INSERT, "notes", "n3", v3, 0}};
    assert_int_equal(rg_docs_prepare(&f->port, "t.e", taken, 2), RG_ECONFLICT);
    assert_int_equal(note_v(&f->port, "n4", NULL), -1);
    assert_int_equal(prepared_count(&f->port, ""), 0);
    json_decref(v9);
    json_decref(v3);
}

/* Atomic writes: all of them stand, or none (signup's auth and user
 * documents, a first church sign-in's link, auth and user). */
static void test_write_all(void **state)
{
    struct fixture *f = *state;
    rg_doc_write rm = {RG_DOC_W_REMOVE, "notes", "n1", NULL, 0};
    if (!(f->port.ops->caps & RG_DOC_CAP_ATOMIC)) {
        assert_int_equal(rg_docs_atomic(&f->port), 0);
        assert_int_equal(rg_docs_write_all(&f->port, &rm, 1), RG_EINVAL);
        printf("SKIPPED documents/%s atomic writes: adapter lacks RG_DOC_CAP_ATOMIC\n",
               current->name);
        skip();
    }
    if (rg_docs_atomic(&f->port) != 1) {
        assert_int_equal(rg_docs_write_all(&f->port, &rm, 1), RG_EUNAVAIL);
        printf("SKIPPED documents/%s atomic writes: the server runs no transactions (a "
               "standalone MongoDB; a replica set does)\n",
               current->name);
        skip();
    }
    assert_int_equal(rg_docs_write_all(&f->port, &rm, 0), RG_EINVAL);
    assert_int_equal(rg_docs_write_all(&f->port, NULL, 1), RG_EINVAL);
    rg_doc_write bad = {RG_DOC_W_INSERT, "bad name", "n1", NULL, 0};
    assert_int_equal(rg_docs_write_all(&f->port, &bad, 1), RG_EINVAL);
    insert_text(&f->port, "notes", "n1", "{\"v\":1}");
    insert_text(&f->port, "notes", "n2", "{\"v\":2}");
    json_t *v9 = parse("{\"v\":9}"), *v3 = parse("{\"v\":3}");
    json_t *mail = parse("{\"email\":\"w@x.org\"}");
    rg_doc_write w[] = {{RG_DOC_W_REPLACE, "notes", "n1", v9, 1},
                        {RG_DOC_W_INSERT, "notes", "n3", v3, 0},
                        {RG_DOC_W_REMOVE, "notes", "n2", NULL, 0},
                        {RG_DOC_W_INSERT, "users", "w1", mail, 0},
                        {RG_DOC_W_REMOVE, "notes", "never", NULL, 0}};
    assert_int_equal(rg_docs_write_all(&f->port, w, 5), 0);
    int64_t rev;
    assert_int_equal(note_v(&f->port, "n1", &rev), 9);
    assert_int_equal(rev, 2);
    assert_int_equal(note_v(&f->port, "n2", NULL), -1);
    assert_int_equal(note_v(&f->port, "n3", &rev), 3);
    assert_int_equal(rev, 1);
    json_t *got = NULL;
    assert_int_equal(rg_docs_get(&f->port, "users", "w1", &got, NULL), 0);
    json_decref(got);

    /* A write that fails (a stale revision, a missing document, a taken
     * id, a taken unique key) undoes the writes before it. */
    rg_doc_write stale[] = {{RG_DOC_W_INSERT, "notes", "n4", v3, 0},
                            {RG_DOC_W_REPLACE, "notes", "n1", v3, 1}};
    assert_int_equal(rg_docs_write_all(&f->port, stale, 2), RG_ESTALE);
    rg_doc_write gone[] = {{RG_DOC_W_INSERT, "notes", "n4", v3, 0},
                           {RG_DOC_W_REPLACE, "notes", "n2", v3, 0}};
    assert_int_equal(rg_docs_write_all(&f->port, gone, 2), RG_ENOTFOUND);
    rg_doc_write taken[] = {{RG_DOC_W_INSERT, "notes", "n4", v3, 0},
                            {RG_DOC_W_INSERT, "notes", "n3", v3, 0}};
    assert_int_equal(rg_docs_write_all(&f->port, taken, 2), RG_ECONFLICT);
    if (f->port.ops->caps & RG_DOC_CAP_UNIQUE) {
        rg_doc_write key[] = {{RG_DOC_W_INSERT, "notes", "n4", v3, 0},
                              {RG_DOC_W_INSERT, "users", "w2", mail, 0}};
        assert_int_equal(rg_docs_write_all(&f->port, key, 2), RG_ECONFLICT);
    }
    assert_int_equal(note_v(&f->port, "n4", NULL), -1);
    assert_int_equal(note_v(&f->port, "n1", &rev), 9);
    assert_int_equal(rev, 2);
    json_decref(v9);
    json_decref(v3);
    json_decref(mail);
}

static void test_adapter_skipped(void **state)
{
    (void)state;
    skip();
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

static const struct CMUnitTest tests[] = {
    T(test_insert_get_roundtrip),
    T(test_get_missing),
    T(test_duplicate_id),
    T(test_duplicate_unique_key),
    T(test_replace_revisions),
    T(test_replace_missing),
    T(test_remove_idempotent),
    T(test_find_filters),
    T(test_find_sort),
    T(test_keyset_pagination),
    T(test_remove_where),
    T(test_less_than),
    T(test_unicode_roundtrip),
    T(test_bad_names),
    T(test_concurrent_increments),
    T(test_concurrent_open),
    T(test_order_of_types),
    T(test_keyset_without_the_document),
    T(test_typed_filters),
    T(test_unique_is_typed),
    T(test_path_rules),
    T(test_prepared),
    T(test_write_all),
};

static const struct CMUnitTest skipped[] = {cmocka_unit_test(test_adapter_skipped)};

int main(int argc, char **argv)
{
    /* A child of test_concurrent_open: --open-child ADAPTER URL K */
    if (argc == 5 && strcmp(argv[1], "--open-child") == 0) {
        int a = atoi(argv[2]);
        if (a < 0 || (size_t)a >= N(adapters) || !adapters[a].ops)
            return 13;
        current = &adapters[a];
        server_url = argv[3];
        return child_work(argv[3], atoi(argv[4]));
    }
    ssize_t n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
    if (n > 0)
        self_exe[n] = '\0';
    else
        snprintf(self_exe, sizeof self_exe, "%s", argv[0]);
    int failed = 0;
    for (size_t i = 0; i < N(adapters); i++) {
        const struct adapter *a = &adapters[i];
        char group[64];
        snprintf(group, sizeof group, "documents/%s", a->name);
        const char *env = a->url_env ? getenv(a->url_env) : NULL;
        char reason[128] = "";
        if (!a->ops)
            snprintf(reason, sizeof reason, "adapter not in this build");
        else if (a->url_env && (!env || !*env))
            snprintf(reason, sizeof reason, "%s is not set", a->url_env);
        if (reason[0]) {
            printf("SKIPPED %s: %s\n", group, reason);
            fflush(stdout);
            failed += _cmocka_run_group_tests(group, skipped, N(skipped), NULL, NULL);
            continue;
        }
        current = a;
        server_url = a->url_env && !a->create_db ? (char *)env : NULL;
        if (a->create_db && !(server_url = a->create_db("docs"))) {
            printf("FAILED %s: cannot create a test database on %s\n", group, a->url_env);
            failed++;
            continue;
        }
        failed += _cmocka_run_group_tests(group, tests, N(tests), NULL, NULL);
        if (a->create_db)
            a->drop_db(server_url);
        server_url = NULL;
    }
    return failed ? 1 : 0;
}
