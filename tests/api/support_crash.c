/* Crash tests of operations across stores (support.h, "Crashes"). */
#include "support.h"
#include "domain.h"
#include "risinggen/store/relational.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void crash_restart(const char *fault)
{
    if (fault)
        setenv("RG_FAULT", fault, 1);
    else
        unsetenv("RG_FAULT");
    int rc = srv_kill_restart(&g_srv);
    unsetenv("RG_FAULT");
    assert_int_equal(rc, 0);
}

void crash_wait_stopped(void)
{
    char how[64];
    for (int i = 0; i < 1000; i++) {
        if (!srv_alive(&g_srv, how, sizeof how))
            return;
        usleep(10 * 1000);
    }
    fail_msg("the server did not stop at its fault point");
}

int crash_intents_left(struct rg_app *app, char kind[32], char subject[64])
{
    rg_rows *rows = NULL;
    rg_rel_conn *c;
    assert_int_equal(rg_rel_acquire(&app->st.rel, &c), 0);
    int rc = rg_rel_query(&app->st.rel, c, "intents_all", NULL, 0, &rows);
    rg_rel_release(&app->st.rel, c);
    assert_true(rc >= 0);
    int n = rows->nrows;
    if (n && kind) {
        snprintf(kind, 32, "%s", rg_rows_get(rows, 0, "kind"));
        snprintf(subject, 64, "%s", rg_rows_get(rows, 0, "subject"));
    }
    rg_rows_free(rows);
    return n;
}

void crash_age_intents(void)
{
    struct rg_app app;
    api_open_stores(&app);
    rg_rel_conn *c;
    assert_int_equal(rg_rel_acquire(&app.st.rel, &c), 0);
    assert_int_equal(rg_rel_exec_script(&app.st.rel, c,
                                        "UPDATE intents SET updated_at = '2000-01-01T00:00:00Z'"),
                     0);
    rg_rel_release(&app.st.rel, c);
    rg_app_close(&app);
}

int crash_log_lines(const char *needle)
{
    FILE *f = fopen(g_srv.log, "r");
    if (!f)
        return 0;
    static char line[8192];
    int n = 0;
    while (fgets(line, sizeof line, f))
        n += strstr(line, needle) != NULL;
    fclose(f);
    return n;
}

long crash_stopped_request(const char *method, const char *path, const char *body,
                           const char *token)
{
    api_allow_5xx(true);
    api_resp *r = api(method, path, body, token);
    long status = r->status;
    resp_free(r);
    api_allow_5xx(false);
    if (status != 0)
        fail_msg("%s %s was answered %ld; the server should have stopped at its fault point",
                 method, path, status);
    crash_wait_stopped();
    return status;
}

void crash_need_atomic(const char *what)
{
    struct rg_app app;
    api_open_stores(&app);
    int atomic = rg_docs_atomic(&app.st.docs);
    rg_app_close(&app);
    rg_error_clear();
    if (atomic != 1) {
        printf("SKIPPED %s: the documents store runs no transactions (a standalone MongoDB)\n",
               what);
        skip();
    }
}
