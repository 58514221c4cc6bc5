/* The route table (src/http/routes.c) and docs/openapi.yaml list the same
 * routes: every method and path of one is in the other. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "http/http.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_ROUTES 256

/* "GET /v1/events/{id}" for every operation of the OpenAPI document: a path
 * is a key indented by two spaces under "paths:", an operation a method key
 * indented by four spaces under it. */
static int openapi_routes(char out[][160], int cap)
{
    FILE *f = fopen(RG_SOURCE_DIR "/docs/openapi.yaml", "r");
    if (!f)
        fail_msg("cannot read docs/openapi.yaml");
    static const char *const methods[] = {"get", "post", "put", "patch", "delete", NULL};
    char line[1024], path[256] = "";
    bool in_paths = false;
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (strncmp(line, "paths:", 6) == 0) {
            in_paths = true;
            continue;
        }
        if (!in_paths)
            continue;
        if (line[0] && line[0] != ' ' && line[0] != '#')
            break; /* the next top-level key */
        if (strncmp(line, "  /", 3) == 0 && line[strlen(line) - 1] == ':') {
            snprintf(path, sizeof path, "%.*s", (int)strlen(line) - 3, line + 2);
            continue;
        }
        for (const char *const *m = methods; *m; m++) {
            size_t ml = strlen(*m);
            if (strncmp(line, "    ", 4) == 0 && line[4] != ' ' && strncmp(line + 4, *m, ml) == 0 &&
                line[4 + ml] == ':' && path[0] && n < cap) {
                char up[8];
                for (size_t i = 0; i <= ml; i++)
                    up[i] = (char)toupper((unsigned char)(*m)[i]);
                int w = snprintf(out[n++], 160, "%s %s", up, path);
                assert_true(w > 0 && w < 160); /* a route that does not fit is a failure */
            }
        }
    }
    fclose(f);
    return n;
}

static bool listed(char list[][160], int n, const char *route)
{
    for (int i = 0; i < n; i++)
        if (strcmp(list[i], route) == 0)
            return true;
    return false;
}

static void table_and_document_agree(void **state)
{
    (void)state;
    static char doc[MAX_ROUTES][160], table[MAX_ROUTES][160];
    int ndoc = openapi_routes(doc, MAX_ROUTES), ntable = 0;
    for (const rg_route *r = rg_routes; r->method && ntable < MAX_ROUTES; r++)
        snprintf(table[ntable++], 160, "%s %s", r->method, r->pattern);
    assert_true(ntable > 40);
    int missing = 0;
    for (int i = 0; i < ntable; i++)
        if (!listed(doc, ndoc, table[i])) {
            printf("in the route table, not in docs/openapi.yaml: %s\n", table[i]);
            missing++;
        }
    for (int i = 0; i < ndoc; i++)
        if (!listed(table, ntable, doc[i])) {
            printf("in docs/openapi.yaml, not in the route table: %s\n", doc[i]);
            missing++;
        }
    assert_int_equal(missing, 0);
    assert_int_equal(ndoc, ntable);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(table_and_document_agree)};
    return cmocka_run_group_tests_name("routes", tests, NULL, NULL);
}
