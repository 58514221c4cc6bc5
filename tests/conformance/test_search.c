/* Conformance suite of the search port, run once per adapter.
 *
 * Embedded adapters (ops set, url_env NULL) always run, each test on a fresh
 * index in a new folder under $RG_TEST_TMP (or /tmp). Server adapters run when
 * their URL is in the environment; every record the suite writes is removed
 * again in teardown. An adapter that is not in this build or has no URL prints
 * "SKIPPED search/<adapter>: <reason>" and its group is skipped. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "risinggen/base/error.h"
#include "risinggen/store/search.h"
#include "risinggen/base/validate.h"
#ifdef RG_WITH_POSTGRES
#include "pgtest.h"
#endif

#include <errno.h>
#include <sqlite3.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct adapter {
    const char *name;
    const struct rg_search_ops *ops; /* NULL: not in this build */
    const char *url_env;             /* NULL: embedded, stored under a temp folder */
    const char *file;                /* embedded: file name inside the temp folder */
    /* server: a new database on that server (malloc'd URL, NULL on failure)
     * and its removal; NULL: use the URL as it is */
    char *(*create_db)(const char *tag);
    void (*drop_db)(char *url);
};

static const struct adapter adapters[] = {
    {"sqlite", &rg_sqlite_search_ops, NULL, "search.db", NULL, NULL},
#ifdef RG_WITH_POSTGRES
    {"postgresql", &rg_pg_search_ops, "RG_TEST_PG_URL", NULL, rg_test_pg_create_db,
     rg_test_pg_drop_db},
#else
    {"postgresql", NULL, "RG_TEST_PG_URL", NULL, NULL, NULL},
#endif
    {"elasticsearch", &rg_es_search_ops, "RG_TEST_ELASTICSEARCH_URL", NULL, NULL, NULL},
};

static const struct adapter *current;
static char *server_url; /* server adapters: the URL their tests use */

#define N(a) (sizeof(a) / sizeof((a)[0]))

#define MAX_WRITTEN 160

struct fixture {
    rg_search_port port;
    char dir[PATH_MAX];
    /* What the test wrote, for cleaning a server index. */
    char written[MAX_WRITTEN][2][32];
    int nwritten;
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
    char url[PATH_MAX + 32];
    if (current->url_env) {
        snprintf(url, sizeof url, "%s", server_url);
    } else {
        if (make_tmpdir(f->dir, "search") < 0) {
            free(f);
            return -1;
        }
        snprintf(url, sizeof url, "sqlite:%s/%s", f->dir, current->file);
    }
    int rc = rg_search_open(&f->port, current->ops, url, NULL);
    if (rc < 0) {
        fprintf(stderr, "open %s: %s (%s)\n", current->name, rg_error_name(rc), rg_error_detail());
        if (f->dir[0])
            nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (!f)
        return 0;
    for (int i = 0; i < f->nwritten; i++)
        rg_search_remove(&f->port, f->written[i][0], f->written[i][1]);
    rg_search_close(&f->port);
    if (f->dir[0])
        nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static void put(struct fixture *f, const char *type, const char *id, const char *title,
                const char *body, const char *tags)
{
    rg_search_doc d = {.type = type, .id = id, .title = title, .body = body, .tags = tags};
    int rc = rg_search_upsert(&f->port, &d);
    if (rc != 0)
        fail_msg("upsert %s/%s: %s (%s)", type, id, rg_error_name(rc), rg_error_detail());
    if (f->nwritten < MAX_WRITTEN) {
        snprintf(f->written[f->nwritten][0], 32, "%s", type);
        snprintf(f->written[f->nwritten][1], 32, "%s", id);
        f->nwritten++;
    }
}

struct result {
    rg_search_hit *hits;
    int n;
    char ids[1024]; /* "type/id,type/id" best first */
};

static void query(struct fixture *f, const char *q, const char *const *types, int ntypes, int limit,
                  struct result *r)
{
    memset(r, 0, sizeof *r);
    int rc = rg_search_query(&f->port, q, types, ntypes, limit, &r->hits, &r->n);
    if (rc != 0)
        fail_msg("query '%s': %s (%s)", q, rg_error_name(rc), rg_error_detail());
    size_t len = 0;
    for (int i = 0; i < r->n; i++)
        len += (size_t)snprintf(r->ids + len, len < sizeof r->ids ? sizeof r->ids - len : 0,
                                "%s%s/%s", i ? "," : "", r->hits[i].type, r->hits[i].id);
    /* Without highlights: the same hits in the same order, and none. */
    rg_search_hit *bare;
    int nbare;
    assert_int_equal(rg_search_ids(&f->port, q, types, ntypes, limit, &bare, &nbare), 0);
    assert_int_equal(nbare, r->n);
    for (int i = 0; i < nbare; i++) {
        assert_string_equal(bare[i].type, r->hits[i].type);
        assert_string_equal(bare[i].id, r->hits[i].id);
        assert_null(bare[i].highlight);
    }
    rg_search_hits_free(bare, nbare);
}

static void result_free(struct result *r)
{
    rg_search_hits_free(r->hits, r->n);
}

/* The ids matching q, in rank order. */
static void assert_query(struct fixture *f, const char *q, const char *want)
{
    struct result r;
    query(f, q, NULL, 0, 50, &r);
    if (strcmp(r.ids, want) != 0)
        fail_msg("query '%s': got [%s] want [%s]", q, r.ids, want);
    result_free(&r);
}

/* The same ids, in any order (for results whose ranks may tie). */
static void assert_query_set(struct fixture *f, const char *q, const char *const *types, int ntypes,
                             const char *const *want, int nwant)
{
    struct result r;
    query(f, q, types, ntypes, 50, &r);
    if (r.n != nwant)
        fail_msg("query '%s': got [%s], want %d hits", q, r.ids, nwant);
    for (int i = 0; i < nwant; i++) {
        bool found = false;
        for (int j = 0; j < r.n && !found; j++) {
            char key[64];
            snprintf(key, sizeof key, "%s/%s", r.hits[j].type, r.hits[j].id);
            found = strcmp(key, want[i]) == 0;
        }
        if (!found)
            fail_msg("query '%s': got [%s], missing %s", q, r.ids, want[i]);
    }
    result_free(&r);
}

static void put_corpus(struct fixture *f)
{
    put(f, "event", "jazz1", "Jazz Festival in Oslo",
        "Three nights of improvised music by the fjord, with local bands.", "oslo music");
    put(f, "event", "salsa1", "Salsa workshop for beginners",
        "Learn the basic steps with two teachers, then dance together.", "bergen dance");
    put(f, "event", "social1", "Evening social at the harbour",
        "Includes a short salsa lesson before the social starts, then open floor.", "bergen dance");
    put(f, "resource", "guide1", "Salsa shoes: a buying guide",
        "How to choose shoes for dancing on wooden floors.", "guide");
}

static void test_title_and_body_words(void **state)
{
    struct fixture *f = *state;
    put_corpus(f);
    assert_query(f, "jazz", "event/jazz1");
    assert_query(f, "improvised", "event/jazz1");
    assert_query(f, "fjord", "event/jazz1");
    /* Case does not matter; several words must all match, in any column. */
    assert_query(f, "JAZZ Oslo", "event/jazz1");
    assert_query(f, "oslo improvised", "event/jazz1");
    assert_query(f, "jazz berlin", "");
    assert_query(f, "teachers", "event/salsa1");
    assert_int_equal(rg_search_ping(&f->port), 0);
}

static void test_prefix_last_word(void **state)
{
    struct fixture *f = *state;
    put_corpus(f);
    assert_query(f, "festi", "event/jazz1");
    assert_query(f, "jazz fest", "event/jazz1");
    assert_query(f, "improv", "event/jazz1");
    /* Only the last word is a prefix. */
    assert_query(f, "fest jazz", "");
    assert_query(f, "xyzzy", "");
}

static void test_title_ranks_above_body(void **state)
{
    struct fixture *f = *state;
    put_corpus(f);
    const char *const events[] = {"event"};
    struct result r;
    query(f, "salsa", events, 1, 10, &r);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.hits[0].id, "salsa1");
    assert_string_equal(r.hits[1].id, "social1");
    assert_true(r.hits[0].score > r.hits[1].score);
    assert_true(r.hits[1].score > 0);
    result_free(&r);
}

static void test_types_filter(void **state)
{
    struct fixture *f = *state;
    put_corpus(f);
    const char *const resource[] = {"resource"};
    const char *const event[] = {"event"};
    const char *const both[] = {"event", "resource"};
    const char *const none[] = {"venue"};
    const char *const want_res[] = {"resource/guide1"};
    const char *const want_ev[] = {"event/salsa1", "event/social1"};
    const char *const want_all[] = {"event/salsa1", "event/social1", "resource/guide1"};
    assert_query_set(f, "salsa", resource, 1, want_res, 1);
    assert_query_set(f, "salsa", event, 1, want_ev, 2);
    assert_query_set(f, "salsa", both, 2, want_all, 3);
    assert_query_set(f, "salsa", NULL, 0, want_all, 3);
    assert_query_set(f, "salsa", none, 1, NULL, 0);
    /* The same id under two types is two records. */
    put(f, "resource", "jazz1", "Jazz history notes", "Reading list.", "");
    const char *const want_jazz[] = {"event/jazz1", "resource/jazz1"};
    assert_query_set(f, "jazz", NULL, 0, want_jazz, 2);
}

static void test_remove(void **state)
{
    struct fixture *f = *state;
    put_corpus(f);
    assert_int_equal(rg_search_remove(&f->port, "event", "jazz1"), 0);
    assert_query(f, "jazz", "");
    assert_query(f, "improvised", "");
    /* Removing again, or something never indexed, is not an error. */
    assert_int_equal(rg_search_remove(&f->port, "event", "jazz1"), 0);
    assert_int_equal(rg_search_remove(&f->port, "event", "never"), 0);
    /* The others are still there. */
    assert_query(f, "teachers", "event/salsa1");
    /* And the record can come back. */
    put(f, "event", "jazz1", "Jazz again", "", "");
    assert_query(f, "jazz", "event/jazz1");
}

static void test_upsert_replaces(void **state)
{
    struct fixture *f = *state;
    put_corpus(f);
    put(f, "event", "jazz1", "Blues night", "Slow songs by the fjord.", "oslo");
    assert_query(f, "jazz", "");
    assert_query(f, "improvised", "");
    assert_query(f, "blues", "event/jazz1");
    assert_query(f, "fjord", "event/jazz1");
    put(f, "event", "jazz1", "Blues night", "Slow songs by the fjord.", "oslo");
    assert_query(f, "blues", "event/jazz1");
}

static void test_hostile_input(void **state)
{
    struct fixture *f = *state;
    put_corpus(f);
    static const char *const nasty[] = {
        "\"); DROP TABLE x; -- NEAR( * ^ :",
        "title:jazz",
        "jazz OR salsa",
        "jazz NOT oslo",
        "NEAR(jazz oslo)",
        "\"jazz",
        "jazz\"",
        "jazz*",
        "-jazz",
        "+jazz",
        "AND",
        "OR OR",
        "*",
        "^jazz",
        "{title body}: jazz",
        "jazz)",
        "'; DELETE FROM search_fts; --",
        "\xff\xfe\xfd",
        "caf\xc3",
        "\\",
    };
    for (size_t i = 0; i < N(nasty); i++) {
        rg_search_hit *hits = NULL;
        int n = -1;
        int rc = rg_search_query(&f->port, nasty[i], NULL, 0, 20, &hits, &n);
        /* Text that is not UTF-8 is refused by the port, before any adapter;
         * anything else is words, never an error. */
        bool utf8 = rg_utf8_valid(nasty[i], strlen(nasty[i]));
        if (rc != (utf8 ? 0 : RG_EINVAL))
            fail_msg("query '%s': %s (%s)", nasty[i], rg_error_name(rc), rg_error_detail());
        assert_true(n >= 0);
        rg_search_hits_free(hits, n);
    }
    /* Operators are plain words: "jazz OR salsa" needs "or" in the text too. */
    assert_query(f, "jazz OR salsa", "");
    assert_query(f, "title:jazz", "");
    /* Nothing was destroyed. */
    assert_query(f, "teachers", "event/salsa1");
}

static void test_empty_query(void **state)
{
    struct fixture *f = *state;
    put_corpus(f);
    static const char *const empty[] = {"", "   ", "!!!", "\"\"", "* ( ) :", "\xe2\x80\x94"};
    for (size_t i = 0; i < N(empty); i++) {
        rg_search_hit *hits = (rg_search_hit *)1;
        int n = -1;
        assert_int_equal(rg_search_query(&f->port, empty[i], NULL, 0, 10, &hits, &n), 0);
        assert_int_equal(n, 0);
        rg_search_hits_free(hits, n);
    }
    /* A word without letters next to a real one does not hide the real one. */
    assert_query(f, "jazz \xe2\x80\x94", "event/jazz1");
}

static void test_highlight(void **state)
{
    struct fixture *f = *state;
    if (!(f->port.ops->caps & RG_SEARCH_CAP_HIGHLIGHT)) {
        printf("SKIPPED search/%s highlight: adapter lacks RG_SEARCH_CAP_HIGHLIGHT\n",
               current->name);
        skip();
    }
    put_corpus(f);
    struct result r;
    query(f, "improvised", NULL, 0, 10, &r);
    assert_int_equal(r.n, 1);
    assert_non_null(r.hits[0].highlight);
    assert_non_null(strstr(r.hits[0].highlight, "<em>improvised</em>"));
    result_free(&r);
    /* A title-only match still gets a highlight. */
    query(f, "festival", NULL, 0, 10, &r);
    assert_int_equal(r.n, 1);
    assert_non_null(r.hits[0].highlight);
    assert_non_null(strstr(r.hits[0].highlight, "<em>Festival</em>"));
    result_free(&r);
    /* Stored text is escaped: a highlight is safe to insert as HTML, and
     * markup in the text cannot close or open the port's <em>. */
    put(f, "resource", "xss1", "Poster <b>print</b>",
        "<img src=x onerror=alert(1)> marker </em><script>x</script> & \"tape\" it's \x02", "");
    query(f, "marker", NULL, 0, 10, &r);
    assert_int_equal(r.n, 1);
    const char *h = r.hits[0].highlight;
    assert_non_null(h);
    assert_null(strchr(h, '\x02'));
    assert_null(strstr(h, "<img"));
    assert_null(strstr(h, "<script"));
    assert_non_null(strstr(h, "&lt;img src=x onerror=alert(1)&gt;"));
    assert_non_null(strstr(h, "&lt;/em&gt;&lt;script&gt;"));
    assert_non_null(strstr(h, "&amp; &quot;tape"));
    /* Whatever the text held, the only elements are whole <em>…</em>. */
    int open = 0;
    for (const char *p = h; (p = strchr(p, '<')); p++) {
        if (strncmp(p, "<em>", 4) == 0)
            assert_int_equal(open++, 0);
        else if (strncmp(p, "</em>", 5) == 0)
            assert_int_equal(--open, 0);
        else
            fail_msg("an element that is not <em> in %s", h);
    }
    assert_int_equal(open, 0);
    result_free(&r);
    put(f, "resource", "quote1", "Quotes", "Don't \"quote\" me", "");
    query(f, "quote", NULL, 0, 10, &r);
    assert_int_equal(r.n, 1);
    assert_non_null(r.hits[0].highlight);
    assert_non_null(strstr(r.hits[0].highlight, "Don&#39;t &quot;<em>quote</em>&quot; me"));
    result_free(&r);
}

static void test_unicode(void **state)
{
    struct fixture *f = *state;
    put(f, "event", "u1", "Caf\xc3\xa9 concert in Z\xc3\xbcrich",
        "Ein Abend f\xc3\xbcr alle \xe2\x80\x94 \xe6\x9d\xb1\xe4\xba\xac style", "");
    assert_query(f, "zurich", "event/u1");
    assert_query(f, "Z\xc3\x9cRICH", "event/u1");
    assert_query(f, "cafe", "event/u1");
    assert_query(f, "caf\xc3\xa9", "event/u1");
    assert_query(f, "f\xc3\xbcr", "event/u1");
    assert_query(f, "\xe6\x9d\xb1\xe4\xba\xac", "event/u1");
    assert_query(f, "z\xc3\xbc", "event/u1");
}

static void test_stems(void **state)
{
    struct fixture *f = *state;
    if (!(f->port.ops->caps & RG_SEARCH_CAP_STEMS)) {
        printf("SKIPPED search/%s stems: adapter lacks RG_SEARCH_CAP_STEMS\n", current->name);
        skip();
    }
    put(f, "event", "camp1", "Summer camps by the lake", "She runs every morning.", "");
    put(f, "event", "camp2", "A camp for teachers", "Teaching and running.", "");
    /* Words other than the last match their other forms... */
    const char *const both[] = {"event/camp1", "event/camp2"};
    assert_query_set(f, "camp summer", NULL, 0, (const char *const[]){"event/camp1"}, 1);
    assert_query_set(f, "camps lake", NULL, 0, (const char *const[]){"event/camp1"}, 1);
    assert_query_set(f, "running camp", NULL, 0, both, 2);
    assert_query_set(f, "teacher camp", NULL, 0, (const char *const[]){"event/camp2"}, 1);
    /* ...and so does the last one, besides being a prefix. */
    assert_query_set(f, "camps", NULL, 0, both, 2);
    assert_query_set(f, "run", NULL, 0, both, 2);
    assert_query_set(f, "teachi", NULL, 0, (const char *const[]){"event/camp2"}, 1);
    /* Stop words between others do not stop a match. */
    assert_query_set(f, "camps by the lake", NULL, 0, (const char *const[]){"event/camp1"}, 1);
}

static void build_add(struct fixture *f, const char *id, const char *title)
{
    rg_search_doc d = {.type = "event", .id = id, .title = title, .body = "", .tags = ""};
    int rc = rg_search_build_add(&f->port, &d, 1);
    if (rc != 0)
        fail_msg("build_add %s: %s (%s)", id, rg_error_name(rc), rg_error_detail());
    if (f->nwritten < MAX_WRITTEN) {
        snprintf(f->written[f->nwritten][0], 32, "event");
        snprintf(f->written[f->nwritten][1], 32, "%s", id);
        f->nwritten++;
    }
}

/* The changes a switch takes in: late1 put, x3 taken out. */
static int late_changes(void *ctx, rg_search_sink *sink)
{
    struct fixture *f = ctx;
    rg_search_doc d = {
        .type = "event", .id = "late1", .title = "Comet night", .body = "", .tags = ""};
    if (f->nwritten < MAX_WRITTEN) {
        snprintf(f->written[f->nwritten][0], 32, "event");
        snprintf(f->written[f->nwritten][1], 32, "late1");
        f->nwritten++;
    }
    int rc = sink->put(sink, &d, 1);
    return rc < 0 ? rc : sink->drop(sink, "event", "x3");
}

/* A build aside: the index in use answers and takes writes while the other
 * fills, the switch puts exactly the build in its place, and an abandoned
 * or restarted build leaves no trace. On a server adapter this replaces
 * the whole index at the suite's URL. */
static void test_build_aside(void **state)
{
    struct fixture *f = *state;
    put(f, "event", "old1", "Harbour lights", "", "");
    put(f, "event", "both1", "Lantern walk", "", "");
    assert_int_equal(rg_search_build_begin(&f->port), 0);
    /* One build at a time: another port on the same index is refused. */
    char url[PATH_MAX + 32];
    if (current->url_env)
        snprintf(url, sizeof url, "%s", server_url);
    else
        snprintf(url, sizeof url, "sqlite:%s/%s", f->dir, current->file);
    rg_search_port other;
    assert_int_equal(rg_search_open(&other, current->ops, url, NULL), 0);
    if (current->ops != &rg_es_search_ops)
        assert_int_equal(rg_search_build_begin(&other), RG_ECONFLICT);
    build_add(f, "both1", "Lantern parade");
    build_add(f, "new1", "Kite festival");
    assert_query(f, "kite", "");
    assert_query(f, "harbour", "event/old1");
    assert_query(f, "lantern walk", "event/both1");
    put(f, "event", "live1", "Moon walk", "", "");
    assert_query(f, "moon", "event/live1");
    assert_int_equal(rg_search_build_end(&f->port, true), 0);
    /* Ended, the lock is free again. */
    if (current->ops != &rg_es_search_ops) {
        assert_int_equal(rg_search_build_begin(&other), 0);
        assert_int_equal(rg_search_build_end(&other, false), 0);
        assert_int_equal(rg_search_build_end(&other, false), RG_EINVAL);
    }
    rg_search_close(&other);
    assert_query(f, "kite", "event/new1");
    assert_query(f, "lantern parade", "event/both1");
    assert_query(f, "harbour", "");
    assert_query(f, "walk", ""); /* neither the old entry nor the write made beside the build */
    bool got[2];
    const char *ids[] = {"new1", "old1"};
    assert_int_equal(rg_search_matching(&f->port, "kite", RG_SEARCH_PART_ALL, "event", ids, 2, got),
                     0);
    assert_true(got[0] && !got[1]);
    put(f, "event", "after1", "Sun dance", "", "");
    assert_query(f, "sun", "event/after1");

    /* Begun again, a build starts empty; abandoned, it changes nothing. */
    assert_int_equal(rg_search_build_begin(&f->port), 0);
    build_add(f, "x1", "Ghost ship");
    assert_int_equal(rg_search_build_begin(&f->port), 0);
    build_add(f, "x2", "Ghost town");
    assert_int_equal(rg_search_build_end(&f->port, false), 0);
    assert_query(f, "ghost", "");
    assert_query(f, "kite", "event/new1");
    /* A second switch (on Elasticsearch, from one index of the pair to the
     * other), with changes taken in at the switch: one record put, one
     * taken out. */
    assert_int_equal(rg_search_build_begin(&f->port), 0);
    build_add(f, "x2", "Ghost town");
    build_add(f, "x3", "Ghost ship");
    assert_int_equal(rg_search_build_switch(&f->port, late_changes, f), 0);
    assert_query(f, "ghost", "event/x2");
    assert_query(f, "comet", "event/late1");
    assert_query(f, "kite", "");
    assert_query(f, "sun", "");
}

/* Two ports on one server index (two instances of the service): a write
 * through one is found through the other at once, and so is a removal. */
static void test_shared_between_instances(void **state)
{
    struct fixture *f = *state;
    if (!current->url_env) {
        printf("SKIPPED search/%s shared: an embedded index belongs to one host\n", current->name);
        skip();
    }
    rg_search_port other;
    assert_int_equal(rg_search_open(&other, current->ops, server_url, NULL), 0);
    put(f, "event", "shared1", "Harbour lights", "", "");
    rg_search_hit *hits = NULL;
    int n = 0;
    assert_int_equal(rg_search_query(&other, "harbour", NULL, 0, 10, &hits, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(hits[0].id, "shared1");
    rg_search_hits_free(hits, n);
    assert_int_equal(rg_search_remove(&other, "event", "shared1"), 0);
    assert_query(f, "harbour", "");
    rg_search_close(&other);
}

/* A batch is found as single writes are, replaces what was there, and
 * holds each record once. */
static void test_upsert_many(void **state)
{
    struct fixture *f = *state;
    put_corpus(f);
    rg_search_doc d[] = {
        {.type = "event", .id = "jazz1", .title = "Blues night", .body = "", .tags = "oslo"},
        {.type = "event", .id = "b1", .title = "Lighthouse lights", .body = "Boats.", .tags = ""},
        {.type = "resource", .id = "b1", .title = "Lighthouse guide", .body = NULL, .tags = NULL},
    };
    assert_int_equal(rg_search_upsert_many(&f->port, d, 3), 0);
    for (int i = 1; i < 3 && f->nwritten + 1 < MAX_WRITTEN; i++) {
        snprintf(f->written[f->nwritten][0], 32, "%s", d[i].type);
        snprintf(f->written[f->nwritten][1], 32, "%s", d[i].id);
        f->nwritten++;
    }
    assert_query(f, "jazz", "");
    assert_query(f, "blues", "event/jazz1");
    const char *const both[] = {"event/b1", "resource/b1"};
    assert_query_set(f, "lighthouse", NULL, 0, both, 2);
    assert_query(f, "boats", "event/b1");
    assert_int_equal(rg_search_upsert_many(&f->port, d, 0), 0);
    rg_search_doc twice[] = {d[1], d[1]};
    assert_int_equal(rg_search_upsert_many(&f->port, twice, 2), RG_EINVAL);
    rg_search_doc bad[] = {d[1], {.type = "event", .id = "", .title = "x"}};
    assert_int_equal(rg_search_upsert_many(&f->port, bad, 2), RG_EINVAL);
}

/* The records of a type in bytewise id order, page by page, with the text
 * they were indexed with; other types and removed records are not there. */
static void test_scan(void **state)
{
    struct fixture *f = *state;
    put_corpus(f);
    put(f, "event", "10", "Ten", NULL, "tag ten");
    put(f, "event", "9", "Nine", "Body \xc3\xa9", "");
    put(f, "event", "gone", "Gone", "", "");
    assert_int_equal(rg_search_remove(&f->port, "event", "gone"), 0);
    put(f, "event", "jazz1", "Blues night", "Slow songs.", "oslo"); /* replaced */
    const char *const want[] = {"10", "9", "jazz1", "salsa1", "social1"};
    char after[32] = "";
    size_t k = 0;
    for (int page = 0; page < 10; page++) {
        rg_search_entry *e;
        int n;
        assert_int_equal(rg_search_scan(&f->port, "event", after, 2, &e, &n), 0);
        assert_true(n <= 2);
        for (int i = 0; i < n; i++, k++) {
            assert_true(k < N(want));
            assert_string_equal(e[i].id, want[k]);
            assert_string_equal(e[i].type, "event");
            if (strcmp(e[i].id, "10") == 0) {
                assert_string_equal(e[i].title, "Ten");
                assert_string_equal(e[i].body, "");
                assert_string_equal(e[i].tags, "tag ten");
            } else if (strcmp(e[i].id, "9") == 0) {
                assert_string_equal(e[i].body, "Body \xc3\xa9");
            } else if (strcmp(e[i].id, "jazz1") == 0) {
                assert_string_equal(e[i].title, "Blues night");
                assert_string_equal(e[i].body, "Slow songs.");
                assert_string_equal(e[i].tags, "oslo");
            }
            snprintf(after, sizeof after, "%s", e[i].id);
        }
        rg_search_entries_free(e, n);
        if (n < 2)
            break;
    }
    assert_int_equal(k, N(want));
    rg_search_entry *e;
    int n;
    assert_int_equal(rg_search_scan(&f->port, "resource", NULL, 100, &e, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(e[0].id, "guide1");
    rg_search_entries_free(e, n);
    assert_int_equal(rg_search_scan(&f->port, "venue", "", 100, &e, &n), 0);
    assert_int_equal(n, 0);
    rg_search_entries_free(e, n);
    assert_int_equal(rg_search_scan(&f->port, "Event", "", 10, &e, &n), RG_EINVAL);
    assert_int_equal(rg_search_scan(&f->port, "event", "", 0, &e, &n), RG_EINVAL);
}

static void test_limit_and_keys(void **state)
{
    struct fixture *f = *state;
    char id[32], title[64];
    for (int i = 0; i < 30; i++) {
        snprintf(id, sizeof id, "many%02d", i);
        snprintf(title, sizeof title, "Common title number %d", i);
        put(f, "event", id, title, "", "");
    }
    struct result r;
    query(f, "common", NULL, 0, 10, &r);
    assert_int_equal(r.n, 10);
    result_free(&r);
    rg_search_hit *none = NULL;
    int nnone = 0;
    assert_int_equal(
        rg_search_query(&f->port, "common", NULL, 0, RG_SEARCH_LIMIT_MAX + 1, &none, &nnone),
        RG_EINVAL);
    assert_int_equal(rg_search_query(&f->port, "common", NULL, 0, 0, &none, &nnone), RG_EINVAL);
    query(f, "common", NULL, 0, RG_SEARCH_LIMIT_MAX, &r);
    assert_int_equal(r.n, 30);
    for (int i = 1; i < r.n; i++)
        assert_true(r.hits[i - 1].score >= r.hits[i].score);
    result_free(&r);
    /* Keys must fit the hit's fields: type < 16 bytes, id < 32. */
    rg_search_doc d = {.type = "event", .id = "0123456789abcdef0123456789abcdef", .title = "x"};
    assert_int_equal(rg_search_upsert(&f->port, &d), RG_EINVAL);
    d.id = "0123456789abcdef0123456789abcde"; /* 31 */
    assert_int_equal(rg_search_upsert(&f->port, &d), 0);
    d.type = "a-type-too-long!";
    assert_int_equal(rg_search_upsert(&f->port, &d), RG_EINVAL);
    d.type = "";
    assert_int_equal(rg_search_upsert(&f->port, &d), RG_EINVAL);
    assert_int_equal(rg_search_remove(&f->port, "event", "0123456789abcdef0123456789abcde"), 0);
}

/* Writers on several threads at once, each replacing its records twice:
 * every record is found exactly once afterwards. */
#define WRITERS    4
#define PER_WRITER 25

struct writer_ctx {
    rg_search_port *port;
    int k;
    atomic_int *failures;
};

static void *writer_thread(void *arg)
{
    struct writer_ctx *w = arg;
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < PER_WRITER; i++) {
            char id[32], title[64];
            snprintf(id, sizeof id, "w%d-%02d", w->k, i);
            snprintf(title, sizeof title, "Parallel record %d, %s round", i,
                     round ? "second" : "first");
            rg_search_doc d = {.type = "event", .id = id, .title = title, .body = "", .tags = ""};
            if (rg_search_upsert(w->port, &d) != 0)
                atomic_fetch_add(w->failures, 1);
            rg_search_hit *hits = NULL;
            int n = 0;
            if (rg_search_query(w->port, "parallel", NULL, 0, 5, &hits, &n) != 0)
                atomic_fetch_add(w->failures, 1);
            rg_search_hits_free(hits, n);
        }
    return NULL;
}

static void test_concurrent_writers(void **state)
{
    struct fixture *f = *state;
    atomic_int failures = 0;
    pthread_t th[WRITERS];
    struct writer_ctx w[WRITERS];
    for (int k = 0; k < WRITERS; k++) {
        w[k] = (struct writer_ctx){&f->port, k, &failures};
        assert_int_equal(pthread_create(&th[k], NULL, writer_thread, &w[k]), 0);
    }
    for (int k = 0; k < WRITERS; k++)
        pthread_join(th[k], NULL);
    assert_int_equal(atomic_load(&failures), 0);
    for (int k = 0; k < WRITERS; k++)
        for (int i = 0; i < PER_WRITER; i++)
            if (f->nwritten < MAX_WRITTEN) {
                snprintf(f->written[f->nwritten][0], 32, "event");
                snprintf(f->written[f->nwritten][1], 32, "w%d-%02d", k, i);
                f->nwritten++;
            }
    struct result r;
    query(f, "parallel second", NULL, 0, 1000, &r);
    assert_int_equal(r.n, WRITERS * PER_WRITER);
    for (int i = 0; i < r.n; i++)
        for (int j = i + 1; j < r.n; j++)
            assert_false(strcmp(r.hits[i].id, r.hits[j].id) == 0);
    result_free(&r);
    /* Only the second round's text is left. */
    query(f, "first", NULL, 0, 1000, &r);
    assert_int_equal(r.n, 0);
    result_free(&r);
}

static void test_adapter_skipped(void **state)
{
    (void)state;
    skip();
}

/* matching answers for given records what query finds among all of them,
 * in each part: the same words, prefixes, accents and types; records never
 * indexed and records of another type do not match. */
static void test_matching(void **state)
{
    struct fixture *f = *state;
    put_corpus(f);
    put(f, "event", "zurich1", "Choir evening in Z\xc3\xbcrich", "Songs and supper.", "zurich");
    put(f, "event", "camp1", "Summer camps by the lake", "She runs every morning.", "");
    put(f, "event", "camp2", "A camp for teachers", "Teaching and running.", "");
    const char *ids[] = {"jazz1",   "salsa1", "social1", "guide1", "nosuch",
                         "zurich1", "salsa1", "camp1",   "camp2"};
    const int n = (int)N(ids);
    const char *qs[] = {"salsa",          "SALSA",          "sals",
                        "salsa workshop", "dance",          "jazz oslo",
                        "xyzzy",          "zurich",         "Z\xc3\xbcrich",
                        "floor",          "guide",          "it's \"a\" (b) * -c OR",
                        "evening",        "social harbour", "camps",
                        "running camp",   "teacher camp",   "run",
                        "teachi",         "camps lake",     "songs evenings"};
    const char *const event[] = {"event"};
    const rg_search_part parts[] = {RG_SEARCH_PART_ALL, RG_SEARCH_PART_TITLE, RG_SEARCH_PART_REST};
    for (size_t k = 0; k < N(qs); k++) {
        bool in[N(parts)][N(ids)];
        for (size_t p = 0; p < N(parts); p++) {
            rg_search_hit *hits;
            int nh;
            int rc = rg_search_ids_in(&f->port, qs[k], parts[p], event, 1, 50, &hits, &nh);
            if (rc != 0)
                fail_msg("ids '%s' part %d: %s (%s)", qs[k], (int)parts[p], rg_error_name(rc),
                         rg_error_detail());
            bool got[N(ids)];
            rc = rg_search_matching(&f->port, qs[k], parts[p], "event", ids, n, got);
            if (rc != 0)
                fail_msg("matching '%s': %s (%s)", qs[k], rg_error_name(rc), rg_error_detail());
            for (int i = 0; i < n; i++) {
                bool want = false;
                for (int j = 0; j < nh; j++)
                    want = want || strcmp(hits[j].id, ids[i]) == 0;
                if (got[i] != want)
                    fail_msg("matching '%s' part %d: %s is %s, ids says %s", qs[k], (int)parts[p],
                             ids[i], got[i] ? "a match" : "no match",
                             want ? "a match" : "no match");
                in[p][i] = got[i];
            }
            rg_search_hits_free(hits, nh);
        }
        /* The title's matches and the rest split the matches. */
        for (int i = 0; i < n; i++)
            if (in[0][i] != (in[1][i] || in[2][i]) || (in[1][i] && in[2][i]))
                fail_msg("'%s': %s all %d title %d rest %d", qs[k], ids[i], in[0][i], in[1][i],
                         in[2][i]);
    }
    bool got[N(ids)];
    assert_int_equal(
        rg_search_matching(&f->port, "salsa", RG_SEARCH_PART_ALL, "event", ids, n, got), 0);
    assert_true(got[1] && got[2] && got[6] && !got[0] && !got[3] && !got[4]);
    /* "Salsa workshop…" holds it in its title, the social only in its body. */
    assert_int_equal(
        rg_search_matching(&f->port, "salsa", RG_SEARCH_PART_TITLE, "event", ids, n, got), 0);
    assert_true(got[1] && !got[2]);
    assert_int_equal(
        rg_search_matching(&f->port, "salsa", RG_SEARCH_PART_REST, "event", ids, n, got), 0);
    assert_true(!got[1] && got[2]);
    /* Every word in the title, the last as a prefix. */
    assert_int_equal(
        rg_search_matching(&f->port, "evening soc", RG_SEARCH_PART_TITLE, "event", ids, n, got), 0);
    assert_true(got[2] && !got[1]);
    /* No words: nothing matches. Bad arguments change nothing. */
    assert_int_equal(rg_search_matching(&f->port, "  ", RG_SEARCH_PART_ALL, "event", ids, n, got),
                     0);
    for (int i = 0; i < n; i++)
        assert_false(got[i]);
    assert_int_equal(
        rg_search_matching(&f->port, "salsa", RG_SEARCH_PART_ALL, "event", ids, 0, got), 0);
    const char *bad[] = {"salsa1", ""};
    assert_int_equal(
        rg_search_matching(&f->port, "salsa", RG_SEARCH_PART_ALL, "event", bad, 2, got), RG_EINVAL);
    assert_int_equal(
        rg_search_matching(&f->port, "salsa", RG_SEARCH_PART_ALL, "Event", ids, 1, got), RG_EINVAL);
    assert_int_equal(rg_search_matching(&f->port, "salsa", (rg_search_part)7, "event", ids, 1, got),
                     RG_EINVAL);
    assert_int_equal(rg_search_matching(&f->port, "salsa", RG_SEARCH_PART_ALL, "event", ids,
                                        RG_SEARCH_LIMIT_MAX + 1, got),
                     RG_EINVAL);
}

/* An embedded index made before stems (tokenizer unicode61) is made again
 * with stems when it is opened, from its own text, keys and all. */
static void test_older_index(void **state)
{
    struct fixture *f = *state;
    if (current->url_env) {
        printf("SKIPPED search/%s older index: only the embedded index keeps its tokenizer in "
               "its file\n",
               current->name);
        skip();
    }
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/old.db", f->dir);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db,
                     "CREATE VIRTUAL TABLE search_fts USING fts5(type UNINDEXED, rid UNINDEXED, "
                     "title, body, tags, tokenize='unicode61 remove_diacritics 2');"
                     "CREATE TABLE search_keys (docid INTEGER PRIMARY KEY, type TEXT NOT NULL, "
                     "rid TEXT NOT NULL, UNIQUE (type, rid));"
                     "INSERT INTO search_keys VALUES (7, 'event', 'camp1');"
                     "INSERT INTO search_fts (rowid, type, rid, title, body, tags) "
                     "VALUES (7, 'event', 'camp1', 'Summer camps', 'Canoeing', '');",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    rg_search_port old;
    char url[PATH_MAX + 32];
    snprintf(url, sizeof url, "sqlite:%s", path);
    assert_int_equal(rg_search_open(&old, current->ops, url, NULL), 0);
    rg_search_hit *hits = NULL;
    int n = 0;
    assert_int_equal(rg_search_query(&old, "camp canoe", NULL, 0, 10, &hits, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(hits[0].id, "camp1");
    rg_search_hits_free(hits, n);
    assert_int_equal(rg_search_remove(&old, "event", "camp1"), 0); /* the key kept its docid */
    assert_int_equal(rg_search_query(&old, "camp", NULL, 0, 10, &hits, &n), 0);
    assert_int_equal(n, 0);
    rg_search_close(&old);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

static const struct CMUnitTest tests[] = {
    T(test_title_and_body_words),
    T(test_prefix_last_word),
    T(test_title_ranks_above_body),
    T(test_types_filter),
    T(test_remove),
    T(test_upsert_replaces),
    T(test_hostile_input),
    T(test_empty_query),
    T(test_highlight),
    T(test_unicode),
    T(test_upsert_many),
    T(test_scan),
    T(test_stems),
    T(test_shared_between_instances),
    T(test_limit_and_keys),
    T(test_concurrent_writers),
    T(test_matching),
    T(test_build_aside),
    T(test_older_index),
};

static const struct CMUnitTest skipped[] = {cmocka_unit_test(test_adapter_skipped)};

int main(void)
{
    int failed = 0;
    for (size_t i = 0; i < N(adapters); i++) {
        const struct adapter *a = &adapters[i];
        char group[64];
        snprintf(group, sizeof group, "search/%s", a->name);
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
        if (a->create_db && !(server_url = a->create_db("search"))) {
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
