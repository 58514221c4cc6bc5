/* risinggen: the service and its command line. */
#include "http/http.h"
#include "risinggen/base/buf.h"
#include "risinggen/base/config.h"
#include "risinggen/base/log.h"
#include "risinggen/domain/app.h"
#include "risinggen/domain/auth.h"
#include "risinggen/domain/content.h"
#include "risinggen/domain/events.h"
#include "risinggen/domain/references.h"
#include "risinggen/domain/seed.h"
#include "risinggen/store/backup.h"
#include "risinggen/store/report.h"
#include "risinggen/base/error.h"
#include "risinggen/store/migrate.h"
#include "risinggen/base/id.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop_flag;
static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: risinggen COMMAND\n"
            "  serve                       run the HTTP API (RG_LISTEN, default 127.0.0.1:8080)\n"
            "  migrate up|down [N]|status  apply, roll back or list schema migrations\n"
            "  admin create --email E [--password P] [--first-name F] [--last-name L]\n"
            "                              create an admin (password also from RG_ADMIN_PASSWORD\n"
            "                              or the first line of standard input)\n"
            "  seed [--users N] [--venues N] [--events N] [--registrations N] [--seed S]\n"
            "       [--jobs N] [--tokens FILE [--token-users N]] [--manifest FILE] [--password P]\n"
            "       [--bulk]                add deterministic synthetic data (benchmark size:\n"
            "                              --users 100000 --venues 2000 --events 50000\n"
            "                              --registrations 500000); --bulk loads events,\n"
            "                              registrations and payments straight into the tables\n"
            "                              of a database without events (the scale runs)\n"
            "  backup create [--incremental]|list|verify [ID] [--restore]|prune\n"
            "  backup restore [--id ID] [--to TIME] --into FOLDER\n"
            "                              encrypted backups in RG_BACKUP_REPO (key\n"
            "                              RG_BACKUP_KEY): full ones and the changes between\n"
            "                              them (captured by `serve` on SQLite, archived by\n"
            "                              PostgreSQL into pgBackRest on the server profile),\n"
            "                              so a restore reaches any moment (--to, RFC 3339)\n"
            "  report indexes              the indexes the named queries use, and the queries\n"
            "                              that read whole tables (from the engine's plans)\n"
            "  report search               events whose search entry is missing, stale or\n"
            "                              extra (exit 1 when any is)\n"
            "  reindex                     rebuild the search index from the stores aside, then "
            "switch\n"
            "                              (answers go on), with progress\n"
            "  check                       verify the schema and that every store answers\n"
            "  check --references          rows that name a missing person, documents that\n"
            "                              name a missing event (exit 1 when any do)\n"
            "  config [--markdown]         print the effective settings (secrets hidden), or\n"
            "                              the table of every RG_* variable\n"
            "Stores: RG_RELATIONAL_URL, RG_DOCUMENT_URL, RG_CACHE_URL, RG_SEARCH_URL\n"
            "(default: embedded SQLite under RG_DATA_DIR, default ./data, and memory:).\n");
}

static const char *opt(int argc, char **argv, const char *name)
{
    for (int i = 0; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return argv[i + 1];
    return NULL;
}

/* Refuses a word that is not one of NAMES followed by its value, so that a
 * mistyped option stops the command instead of being ignored. */
static bool only_opts(int argc, char **argv, const char *const *names)
{
    for (int i = 0; i < argc; i += 2) {
        bool known = false;
        for (const char *const *n = names; *n && !known; n++)
            known = strcmp(argv[i], *n) == 0;
        if (!known || i + 1 >= argc) {
            fprintf(stderr, "risinggen: %s '%s'\n", known ? "no value after" : "unknown option",
                    argv[i]);
            return false;
        }
    }
    return true;
}

/* The whole value of option NAME as an integer in [LO, HI]; false with a
 * message when it is something else. Leaves *OUT alone when NAME is absent. */
static bool int_opt(int argc, char **argv, const char *name, long lo, long hi, int *out)
{
    const char *v = opt(argc, argv, name);
    if (!v)
        return true;
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < lo || n > hi) {
        fprintf(stderr, "risinggen: %s takes a whole number from %ld to %ld\n", name, lo, hi);
        return false;
    }
    *out = (int)n;
    return true;
}

static int fail(int rc)
{
    fprintf(stderr, "risinggen: %s\n",
            rg_error_last() == rc && *rg_error_detail() ? rg_error_detail() : rg_error_title(rc));
    json_t *fields = rg_error_fields();
    size_t i;
    json_t *f;
    json_array_foreach(fields, i, f)
        fprintf(stderr, "  %s: %s\n", json_string_value(json_object_get(f, "field")),
                json_string_value(json_object_get(f, "message")));
    return 1;
}

/* url with any password replaced by "***", for logs (static buffer per slot). */
static const char *redact(const char *url, int slot)
{
    static char bufs[4][512];
    char *out = bufs[slot & 3];
    rg_config_redact_url(url, out, 512);
    return out;
}

static int cmd_serve(const rg_config *cfg)
{
    rg_app app;
    int rc = rg_app_open(&app, cfg, cfg->auto_migrate);
    if (rc < 0)
        return fail(rc);
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    fprintf(stderr,
            "RisingGen is serving http://%s (relational %s, documents %s, cache %s, search %s)\n"
            "Create the first admin with:\n"
            "  ./build/risinggen admin create --email admin@example.org\n",
            cfg->listen, redact(cfg->relational_url, 0), redact(cfg->document_url, 1),
            redact(cfg->cache_url, 2), redact(cfg->search_url, 3));
    if (rg_payment_provider_enabled(&app.providers, rg_payment_provider_find("test")))
        rg_warn("the payment provider 'test' is on (RG_PAYMENTS_PROVIDERS): anyone can confirm a "
                "paid registration without money; list only real providers in production");
    if (rg_event_index_missing(&app))
        rg_warn("the search index (RG_SEARCH_URL) holds no event while events are published: "
                "searches find none until `risinggen reindex` runs");
    if ((rc = rg_backup_service_start(cfg)) < 0) {
        rg_app_close(&app);
        return fail(rc);
    }
    rc = rg_server_run(&app, &stop_flag);
    rg_backup_service_stop();
    rg_app_close(&app);
    return rc < 0 ? 1 : 0;
}

static int cmd_migrate(const rg_config *cfg, int argc, char **argv)
{
    if (argc < 1) {
        usage(stderr);
        return 2;
    }
    rg_stores st;
    int rc = rg_stores_open(&st, cfg, rg_app_store_needs());
    if (rc < 0)
        return fail(rc);
    if (strcmp(argv[0], "up") == 0) {
        int applied = 0;
        rc = rg_migrate_up(&st.rel, &applied);
        if (rc == 0)
            printf("applied %d migration%s\n", applied, applied == 1 ? "" : "s");
    } else if (strcmp(argv[0], "down") == 0) {
        int steps = argc > 1 ? atoi(argv[1]) : 1;
        if (steps < 1) {
            fprintf(stderr, "risinggen: migrate down takes a positive count\n");
            rg_stores_close(&st);
            return 2;
        }
        rc = rg_migrate_down(&st.rel, steps);
    } else if (strcmp(argv[0], "status") == 0) {
        rc = rg_migrate_status(&st.rel, stdout);
    } else {
        usage(stderr);
        rg_stores_close(&st);
        return 2;
    }
    rg_stores_close(&st);
    return rc < 0 ? fail(rc) : 0;
}

static int cmd_admin(const rg_config *cfg, int argc, char **argv)
{
    if (argc < 1 || strcmp(argv[0], "create") != 0 || !opt(argc, argv, "--email")) {
        usage(stderr);
        return 2;
    }
    const char *pw = opt(argc, argv, "--password");
    char line[256];
    if (!pw && *cfg->admin_password)
        pw = cfg->admin_password;
    if (!pw) {
        if (isatty(STDIN_FILENO))
            fprintf(stderr, "password for the new admin (8 characters or more): ");
        if (!fgets(line, sizeof line, stdin)) {
            fprintf(stderr, "risinggen: no password given\n");
            return 2;
        }
        line[strcspn(line, "\r\n")] = '\0';
        pw = line;
    }
    const char *first = opt(argc, argv, "--first-name"), *last = opt(argc, argv, "--last-name");
    rg_app app;
    int rc = rg_app_open(&app, cfg, cfg->auto_migrate);
    if (rc < 0)
        return fail(rc);
    char id[RG_OID_LEN + 1];
    rc = rg_auth_create_admin(&app, opt(argc, argv, "--email"), pw, first ? first : "Admin",
                              last ? last : "User", id);
    rg_app_close(&app);
    if (rc < 0)
        return fail(rc);
    printf("created admin %s (%s); sign in with POST /v1/auth/login\n", id,
           opt(argc, argv, "--email"));
    return 0;
}

static int cmd_seed(const rg_config *cfg, int argc, char **argv)
{
    rg_seed_opts o = {.users = 200,
                      .venues = 20,
                      .events = 100,
                      .registrations = 1000,
                      .seed = 1,
                      .jobs = 1,
                      .token_users = -1};
    static const char *const names[] = {
        "--users",       "--venues", "--events",   "--registrations", "--seed", "--jobs",
        "--token-users", "--tokens", "--manifest", "--password",      NULL};
    int seed = 1;
    /* --bulk is the one option without a value: taken out, the rest are
     * pairs. */
    int kept = 0;
    for (int i = 0; i < argc;) {
        if (strcmp(argv[i], "--bulk") == 0) {
            o.bulk = true;
            i++;
            continue;
        }
        argv[kept++] = argv[i++];
        if (i < argc)
            argv[kept++] = argv[i++];
    }
    argc = kept;
    if (!only_opts(argc, argv, names) || !int_opt(argc, argv, "--users", 0, 10000000, &o.users) ||
        !int_opt(argc, argv, "--venues", 0, 1000000, &o.venues) ||
        !int_opt(argc, argv, "--events", 0, 10000000, &o.events) ||
        !int_opt(argc, argv, "--registrations", 0, 100000000, &o.registrations) ||
        !int_opt(argc, argv, "--seed", 0, INT_MAX, &seed) ||
        !int_opt(argc, argv, "--jobs", 1, 64, &o.jobs) ||
        !int_opt(argc, argv, "--token-users", -1, 10000000, &o.token_users))
        return 2;
    o.seed = (unsigned)seed;
    o.tokens_out = opt(argc, argv, "--tokens");
    o.manifest_out = opt(argc, argv, "--manifest");
    o.password = opt(argc, argv, "--password");
    rg_app app;
    int rc = rg_app_open(&app, cfg, cfg->auto_migrate);
    if (rc < 0)
        return fail(rc);
    /* The seed reports its own progress; a log line per event, channel and
     * payment would bury it, so below debug only warnings and errors show. */
    if (cfg->log_level == RG_LOG_INFO)
        rg_log_set_level(RG_LOG_WARN);
    rc = rg_seed(&app, &o, stdout);
    rg_app_close(&app);
    return rc < 0 ? fail(rc) : 0;
}

static int cmd_reindex(const rg_config *cfg)
{
    rg_app app;
    int rc = rg_app_open(&app, cfg, false);
    if (rc < 0)
        return fail(rc);
    rg_rebuild_counts n;
    rc = rg_search_rebuild(&app, stderr, &n);
    rg_app_close(&app);
    if (rc < 0)
        return fail(rc);
    printf("indexed %ld events and %ld resources aside and switched to them; "
           "%ld events changed meanwhile taken in at the switch\n",
           n.events, n.resources, n.caught_up);
    return 0;
}

/* `check --references`: what each reference points to, exit 1 when
 * anything points nowhere. */
static int check_references(const rg_config *cfg)
{
    rg_app app;
    int rc = rg_app_open(&app, cfg, false);
    if (rc < 0)
        return fail(rc);
    rg_ref_report r;
    rc = rg_references_check(&app, &r);
    rg_app_close(&app);
    if (rc < 0)
        return fail(rc);
    long missing = 0;
    for (int k = 0; k < RG_REF_KINDS; k++) {
        const rg_ref_kind *x = &r.kinds[k];
        missing += x->missing;
        printf("%s: %ld checked, %ld missing", x->what, x->checked, x->missing);
        if (x->missing)
            printf(", held by %ld", x->holders);
        for (long i = 0; i < x->missing && i < RG_REFS_SAMPLES; i++)
            printf("%s%s (%ld)", i ? ", " : " (", x->ids[i], x->counts[i]);
        printf("%s\n", x->missing > RG_REFS_SAMPLES ? ", …)" : x->missing ? ")" : "");
    }
    printf("%s\n", missing ? "references point nowhere" : "every reference holds");
    return missing ? 1 : 0;
}

static int cmd_check(const rg_config *cfg, int argc, char **argv)
{
    if (argc == 1 && strcmp(argv[0], "--references") == 0)
        return check_references(cfg);
    if (argc != 0) {
        usage(stderr);
        return 2;
    }
    rg_app app;
    int rc = rg_app_open(&app, cfg, false);
    if (rc < 0)
        return fail(rc);
    json_t *state;
    rc = rg_app_ready(&app, &state);
    char *s = json_dumps(state, JSON_INDENT(2));
    printf("%s\n", s);
    free(s);
    json_decref(state);
    rg_app_close(&app);
    return rc < 0 ? 1 : 0;
}

/* backup create [--incremental] | list | verify [ID] [--restore] | restore [--id ID] --into FOLDER
 * [--to TIME] | prune */
static int cmd_backup(const rg_config *cfg, int argc, char **argv)
{
    const char *sub = argc > 0 ? argv[0] : "";
    int rc;
    if (strcmp(sub, "create") == 0 &&
        (argc == 1 || (argc == 2 && strcmp(argv[1], "--incremental") == 0)))
        rc = rg_backup_create(cfg, argc == 2, stdout);
    else if (strcmp(sub, "list") == 0 && argc == 1)
        rc = rg_backup_list(cfg, stdout);
    else if (strcmp(sub, "verify") == 0 && argc <= 3) {
        const char *id = NULL;
        bool restore = false;
        for (int i = 1; i < argc; i++) {
            if (strcmp(argv[i], "--restore") == 0)
                restore = true;
            else if (!id && argv[i][0] != '-')
                id = argv[i];
            else {
                usage(stderr);
                return 2;
            }
        }
        rc =
            restore ? rg_backup_verify_restore(cfg, id, stdout) : rg_backup_verify(cfg, id, stdout);
    } else if (strcmp(sub, "prune") == 0 && argc == 1)
        rc = rg_backup_prune(cfg, stdout);
    else if (strcmp(sub, "restore") == 0) {
        static const char *const names[] = {"--id", "--into", "--to", NULL};
        if (!only_opts(argc - 1, argv + 1, names))
            return 2;
        rc =
            rg_backup_restore(cfg, opt(argc - 1, argv + 1, "--id"), opt(argc - 1, argv + 1, "--to"),
                              opt(argc - 1, argv + 1, "--into"), stdout);
    } else {
        usage(stderr);
        return 2;
    }
    return rc < 0 ? fail(rc) : 0;
}

/* report indexes */
/* `report search`: how the search index differs from the events; exit 1
 * when it does. */
static int report_search(const rg_config *cfg)
{
    rg_app app;
    int rc = rg_app_open(&app, cfg, false);
    if (rc < 0)
        return fail(rc);
    rg_search_drift d;
    rc = rg_event_search_check(&app, &d);
    rg_app_close(&app);
    if (rc < 0)
        return fail(rc);
    printf("events listed: %ld; event entries in the search index: %ld\n", d.expected, d.indexed);
    struct {
        const char *what;
        long n;
        char (*ids)[32];
    } kinds[] = {
        {"missing (listed events the index lacks)", d.missing, d.missing_ids},
        {"stale (entries whose text is not the event's)", d.stale, d.stale_ids},
        {"extra (entries of events that must not be found)", d.extra, d.extra_ids},
    };
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        printf("%s: %ld", kinds[k].what, kinds[k].n);
        for (long i = 0; i < kinds[k].n && i < RG_SEARCH_DRIFT_SAMPLES; i++)
            printf("%s%s", i ? ", " : " (events ", kinds[k].ids[i]);
        printf("%s\n", kinds[k].n > RG_SEARCH_DRIFT_SAMPLES ? ", …)" : kinds[k].n ? ")" : "");
    }
    bool drift = d.missing || d.stale || d.extra;
    printf("%s\n", drift ? "the index differs: run `risinggen reindex`" : "the index is current");
    return drift ? 1 : 0;
}

static int cmd_report(const rg_config *cfg, int argc, char **argv)
{
    if (argc == 1 && strcmp(argv[0], "search") == 0)
        return report_search(cfg);
    if (argc != 1 || strcmp(argv[0], "indexes") != 0) {
        usage(stderr);
        return 2;
    }
    rg_relational rel;
    rg_store_options opts;
    rg_store_options_from(cfg, &opts); /* never checkpoints an archived WAL */
    int rc = rg_rel_open(&rel, NULL, cfg->relational_url, &opts);
    if (rc == 0) {
        rc = rg_report_indexes(&rel, stdout);
        rg_rel_close(&rel);
    }
    return rc < 0 ? fail(rc) : 0;
}

static int cmd_config(const rg_config *cfg, int argc, char **argv)
{
    rg_buf out = {0};
    if (argc > 0 && strcmp(argv[0], "--markdown") == 0)
        rg_config_markdown(&out);
    else if (argc > 0) {
        usage(stderr);
        return 2;
    } else
        rg_config_print(cfg, &out);
    fputs(out.data ? out.data : "", stdout);
    rg_buf_free(&out);
    return 0;
}

static int run(const rg_config *cfg, int argc, char **argv)
{
    const char *cmd = argv[1];
    if (strcmp(cmd, "serve") == 0)
        return cmd_serve(cfg);
    if (strcmp(cmd, "migrate") == 0)
        return cmd_migrate(cfg, argc - 2, argv + 2);
    if (strcmp(cmd, "admin") == 0)
        return cmd_admin(cfg, argc - 2, argv + 2);
    if (strcmp(cmd, "seed") == 0)
        return cmd_seed(cfg, argc - 2, argv + 2);
    if (strcmp(cmd, "reindex") == 0)
        return cmd_reindex(cfg);
    if (strcmp(cmd, "check") == 0)
        return cmd_check(cfg, argc - 2, argv + 2);
    if (strcmp(cmd, "config") == 0)
        return cmd_config(cfg, argc - 2, argv + 2);
    if (strcmp(cmd, "backup") == 0)
        return cmd_backup(cfg, argc - 2, argv + 2);
    if (strcmp(cmd, "report") == 0)
        return cmd_report(cfg, argc - 2, argv + 2);
    fprintf(stderr, "risinggen: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0) {
        fprintf(stderr, "risinggen: libsodium cannot start\n");
        return 1;
    }
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    /* The environment is read here, once; a wrong value stops every command
     * with a message naming the variable. */
    rg_config cfg;
    int rc = rg_config_load(&cfg);
    if (rc < 0) {
        fprintf(stderr, "risinggen: %s\n", rg_error_detail());
        return 2;
    }
    rg_log_set_level((enum rg_log_level)cfg.log_level);
    rc = run(&cfg, argc, argv);
    rg_config_free(&cfg);
    return rc;
}
