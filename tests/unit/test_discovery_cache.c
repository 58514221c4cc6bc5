/* The discovery page cache at the domain level, on the in-process cache and
 * on Redis: the first caller after a change sees it; while one caller
 * remakes a page that a change made old, the others get the page as it was;
 * a session that just wrote always sees its write; a page that only its age
 * made old is remade by the remaker thread while callers get the old one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "domain.h"
#include "event_record.h"
#include "testcfg.h"
#include "tmpdir.h"
#include "risinggen/base/clock.h"
#include "risinggen/base/error.h"
#include "risinggen/base/id.h"

static rg_app app;
static char dir[512];
static rg_principal organizer;
static const char *cache_url = "memory:";
static char type[64]; /* this run's events */

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "%s", rg_test_tmpdir());
    char rel[600], docs[600], search[600];
    snprintf(rel, sizeof rel, "sqlite:%s/rel.db", dir);
    snprintf(docs, sizeof docs, "sqlite:%s/docs.db", dir);
    snprintf(search, sizeof search, "sqlite:%s/search.db", dir);
    static rg_config cfg;
    rg_config_free(&cfg);
    rg_test_config(&cfg, rel, docs, cache_url, search);
    if (rg_app_open(&app, &cfg, true) < 0)
        return -1;
    const char *hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNo";
    json_t *u = json_pack("{s:s, s:s, s:s, s:[s], s:s}", "email", "org@example.org", "firstName",
                          "O", "lastName", "R", "roles", "organizer", "dateOfBirth", "1990-01-01");
    int rc = rg_auth_insert_user(&app, u, hash, organizer.user_id);
    json_decref(u);
    organizer.roles = RG_ROLE_ORGANIZER | RG_ROLE_PARTICIPANT;
    snprintf(type, sizeof type, "cachetest-%s",
             strncmp(cache_url, "redis", 5) == 0 ? "redis" : "memory");
    return rc < 0 ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    rg_app_close(&app);
    rg_test_rmdir(dir);
    return 0;
}

/* Creates and publishes an event of this run's type; its id. */
static long long publish(void)
{
    static int n;
    char slug[96];
    snprintf(slug, sizeof slug, "%s-%d", type, ++n);
    json_t *body = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i}", "title", "Cached", "slug", slug,
                             "startDate", "2030-06-01T09:00:00Z", "endDate", "2030-06-02T17:00:00Z",
                             "type", type, "maxParticipants", 10);
    json_t *ev;
    assert_int_equal(rg_event_create(&app, RG_AS(&organizer), body, &ev), 0);
    json_decref(body);
    char id[32];
    long long v = (long long)json_integer_value(json_object_get(ev, "id"));
    snprintf(id, sizeof id, "%lld", v);
    json_decref(ev);
    json_t *patch = json_pack("{s:s}", "status", "published");
    assert_int_equal(rg_event_patch(&app, RG_AS(&organizer), id, patch, &ev), 0);
    json_decref(patch);
    json_decref(ev);
    return v;
}

/* How many events the page of this run's type holds, as ctx sees it. */
static size_t listed(const rg_ctx *ctx)
{
    rg_event_query q = {.type = type, .limit = 50};
    json_t *page;
    assert_int_equal(rg_event_list(&app, ctx, &q, &page), 0);
    size_t n = json_array_size(json_object_get(page, "items"));
    json_decref(page);
    return n;
}

/* Takes (1) or gives back (0) the lock of remaking the page of this run's
 * type, as another caller would hold it. */
static void hold_remake(bool take)
{
    rg_event_query q = {.type = type, .limit = 50};
    rg_buf key = {0};
    rg_buf_puts(&key, "dr:");
    rg__discovery_key(&q, &key);
    int64_t n;
    if (take)
        assert_int_equal(rg_cache_incr(&app.st.cache, key.data, 1, 60000, &n), 0);
    else
        assert_int_equal(rg_cache_del(&app.st.cache, key.data), 0);
    rg_buf_free(&key);
}

static void page_follows_changes(void **state)
{
    (void)state;
    rg_ctx anyone = {0}, writer = {.read_own_writes = true};
    assert_int_equal(listed(&anyone), 0);
    publish();
    assert_int_equal(listed(&anyone), 1); /* the first caller after a change sees it */
    assert_int_equal(listed(&anyone), 1); /* and the page is kept */

    /* Another caller is remaking the page: the old one is served meanwhile. */
    hold_remake(true);
    publish();
    assert_int_equal(listed(&anyone), 1);
    assert_int_equal(listed(&anyone), 1);
    /* A session that just wrote is never served an old page; the page it
     * made is then the current one for everybody. */
    assert_int_equal(listed(&writer), 2);
    publish();
    assert_int_equal(listed(&writer), 3);
    assert_int_equal(listed(&anyone), 3);
    /* The remaking is done (the lock is given back): the next caller after
     * a change remakes the page. */
    hold_remake(false);
    publish();
    assert_int_equal(listed(&anyone), 4);
    assert_int_equal(listed(&anyone), 4);
}

/* A page is never served stale to anyone when no page was kept: with the
 * remaking lock held and the page gone, the caller makes it. */
static void missing_page_is_made(void **state)
{
    (void)state;
    rg_ctx anyone = {0};
    size_t before = listed(&anyone);
    hold_remake(true);
    rg_event_query q = {.type = type, .limit = 50};
    rg_buf key = {0};
    rg__discovery_key(&q, &key);
    assert_int_equal(rg_cache_del(&app.st.cache, key.data), 0);
    rg_buf_free(&key);
    publish();
    assert_int_equal(listed(&anyone), before + 1);
    hold_remake(false);
}

/* Puts in place of the page of this run's type one made 20 s ago under
 * the current generation, holding no event. */
static void age_the_page(void)
{
    rg_event_query q = {.type = type, .limit = 50};
    rg_buf key = {0}, v = {0};
    rg__discovery_key(&q, &key);
    char *g;
    size_t glen;
    assert_int_equal(rg_cache_get(&app.st.cache, "gen:events", &g, &glen), 0);
    rg_buf_printf(&v, "%s %lld\n{\"items\":[],\"nextCursor\":null}", g,
                  (long long)(rg_now_ms() - 20000));
    assert_int_equal(rg_cache_set(&app.st.cache, key.data, v.data, v.len, 60000), 0);
    free(g);
    rg_buf_free(&v);
    rg_buf_free(&key);
}

static void aged_page_remade_off_the_caller(void **state)
{
    (void)state;
    rg_ctx anyone = {0};
    size_t n = listed(&anyone);
    assert_true(n > 0);
    /* Without a remaker the caller remakes an aged page itself. */
    age_the_page();
    assert_int_equal(listed(&anyone), n);
    /* With one, the caller gets the aged page at once, and the page is
     * remade behind it (waited for up to 10 s). */
    assert_int_equal(rg_discovery_remaker_start(&app), 0);
    age_the_page();
    assert_int_equal(listed(&anyone), 0);
    size_t seen = 0;
    for (int i = 0; i < 1000 && seen != n; i++)
        if ((seen = listed(&anyone)) != n)
            usleep(10 * 1000);
    assert_int_equal(seen, n);
    rg_discovery_remaker_stop();
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(page_follows_changes),
        cmocka_unit_test(missing_page_is_made),
        cmocka_unit_test(aged_page_remade_off_the_caller),
    };
    int failed = cmocka_run_group_tests_name("discovery cache in process", tests, setup, teardown);
    const char *redis = getenv("RG_TEST_REDIS_URL");
    if (redis && *redis) {
        static char url[600]; /* a prefix of its own: no other run's generation */
        snprintf(url, sizeof url, "%s%sprefix=rgdc%ld:", redis, strchr(redis, '?') ? "&" : "?",
                 (long)getpid());
        cache_url = url;
        failed += cmocka_run_group_tests_name("discovery cache on redis", tests, setup, teardown);
    } else {
        printf("SKIPPED discovery cache on redis: RG_TEST_REDIS_URL is not set\n");
    }
    return failed;
}
