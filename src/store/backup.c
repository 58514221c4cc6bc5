/* risinggen/store/backup.h: one command line for both profiles. The
 * relational store's URL picks the implementation (backup_ports.h): a
 * SQLite file is backed up by the service itself, a PostgreSQL server by
 * pgBackRest. What both share lives here: the record of the last verify,
 * times, and the daily schedule. */
#include "risinggen/store/backup.h"
#include "backup_ports.h"
#include "risinggen/base/clock.h"
#include "risinggen/base/error.h"
#include "risinggen/base/log.h"

#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool on_server(const rg_config *cfg)
{
    const char *u = cfg->relational_url ? cfg->relational_url : "";
    return strncmp(u, "postgresql:", 11) == 0 || strncmp(u, "postgres:", 9) == 0;
}

#ifdef RG_WITH_POSTGRES
#define PICK(sqlite_call, pg_call) (on_server(cfg) ? (pg_call) : (sqlite_call))
#else
#define PICK(sqlite_call, pg_call)                                                                 \
    (on_server(cfg) ? rg_error_set(RG_EINVAL, "this build has no PostgreSQL support")              \
                    : (sqlite_call))
#endif

int rg_backup_create(const rg_config *cfg, bool incremental, FILE *out)
{
    if (incremental && !on_server(cfg))
        return rg_error_set(RG_EINVAL,
                            "--incremental is for the server profile: the embedded profile "
                            "captures every change between full backups continuously");
    const char *docs = cfg->document_url ? cfg->document_url : "";
    if (strncmp(docs, "mongodb", 7) == 0)
        rg_warn("the documents on MongoDB are not in this backup: back them up with MongoDB's "
                "own tools (docs/operations.md, section 11)");
    return PICK(rg__sqlite_backup_create(cfg, out), rg__pg_backup_create(cfg, incremental, out));
}

int rg_backup_list(const rg_config *cfg, FILE *out)
{
    return PICK(rg__sqlite_backup_list(cfg, out), rg__pg_backup_list(cfg, out));
}

/* Keeps the outcome of a verify in the repository, for the console. */
static void record_verify(const rg_config *cfg, int rc, const char *what)
{
    char when[RG_TIME_LEN + 1], path[4200], tmp[4300];
    rg_time_format(rg_now(), when);
    json_t *m = json_pack("{s:s, s:b, s:s}", "at", when, "ok", rc == 0, "result", what);
    snprintf(path, sizeof path, "%s/last-verify.json", cfg->backup_repo);
    snprintf(tmp, sizeof tmp, "%s.XXXXXX", path);
    /* A new file of its own (the repository may belong to another user). */
    int fd = mkostemp(tmp, O_CLOEXEC);
    char *text = json_dumps(m, JSON_COMPACT);
    if (fd >= 0) {
        bool ok = text && write(fd, text, strlen(text)) == (ssize_t)strlen(text);
        close(fd);
        if (!ok || rename(tmp, path) != 0)
            unlink(tmp);
    }
    free(text);
    json_decref(m);
}

int rg_backup_verify(const rg_config *cfg, const char *id, FILE *out)
{
    if (!cfg->backup_repo || !*cfg->backup_repo)
        return rg_error_set(RG_EINVAL, "RG_BACKUP_REPO names no folder");
    int rc = PICK(rg__sqlite_backup_verify(cfg, id, out), rg__pg_backup_verify(cfg, id, out));
    char what[600];
    if (rc < 0) {
        int code = rg_error_last();
        snprintf(what, sizeof what, "%s", rg_error_detail());
        record_verify(cfg, rc, what);
        return rg_error_set(code, "%s", what); /* the reason stays the verify's */
    }
    snprintf(what, sizeof what, "%s verified%s%s", id ? "backup" : "every backup", id ? " " : "",
             id ? id : " with the changes captured after it");
    record_verify(cfg, 0, what);
    return 0;
}

int rg_backup_verify_restore(const rg_config *cfg, const char *id, FILE *out)
{
    return PICK(rg__sqlite_backup_verify_restore(cfg, id, out),
                rg__pg_backup_verify_restore(cfg, id, out));
}

int rg_backup_restore(const rg_config *cfg, const char *id, const char *to, const char *into,
                      FILE *out)
{
    return PICK(rg__sqlite_backup_restore(cfg, id, to, into, out),
                rg__pg_backup_restore(cfg, id, to, into, out));
}

int rg_backup_prune(const rg_config *cfg, FILE *out)
{
    return PICK(rg__sqlite_backup_prune(cfg, out), rg__pg_backup_prune(cfg, out));
}

void rg_backup_last_verify(const rg_config *cfg, char *line, size_t cap)
{
    char path[4200];
    line[0] = '\0';
    if (!cfg->backup_repo || !*cfg->backup_repo)
        return;
    snprintf(path, sizeof path, "%s/last-verify.json", cfg->backup_repo);
    json_t *m = json_load_file(path, 0, NULL);
    const char *at = json_string_value(json_object_get(m, "at")),
               *result = json_string_value(json_object_get(m, "result"));
    if (at && result)
        snprintf(line, cap, "%s %s: %s", at,
                 json_is_true(json_object_get(m, "ok")) ? "ok" : "failed", result);
    json_decref(m);
}

int rg_backup_parse_time(const char *s, int64_t *ms)
{
    int64_t t;
    if (rg_time_parse(s, &t) < 0)
        return RG_EINVAL;
    long frac = 0;
    const char *dot = strchr(s, '.');
    if (dot && strchr(s, 'T') && dot > strchr(s, 'T')) {
        int digits = 0;
        for (const char *p = dot + 1; *p >= '0' && *p <= '9'; p++, digits++)
            if (digits < 3)
                frac = frac * 10 + (*p - '0');
        for (; digits < 3; digits++)
            frac *= 10;
    }
    *ms = t * 1000 + frac;
    return 0;
}

static bool service_on_server;

int rg_backup_service_start(const rg_config *cfg)
{
    if (!cfg->backup_repo || !*cfg->backup_repo)
        return 0;
    service_on_server = on_server(cfg);
    return PICK(rg__sqlite_backup_service_start(cfg), rg__pg_backup_service_start(cfg));
}

void rg_backup_service_stop(void)
{
#ifdef RG_WITH_POSTGRES
    if (service_on_server) {
        rg__pg_backup_service_stop();
        return;
    }
#endif
    rg__sqlite_backup_service_stop();
}

int rg__backup_full_at(const char *s, int *minute)
{
    int h, m;
    char end;
    if (!s || !*s || strcmp(s, "off") == 0) {
        *minute = -1;
        return 0;
    }
    if (sscanf(s, "%2d:%2d%c", &h, &m, &end) != 2 || h < 0 || h > 23 || m < 0 || m > 59)
        return rg_error_set(RG_EINVAL, "RG_BACKUP_FULL_AT must be HH:MM (UTC) or off");
    *minute = h * 60 + m;
    return 0;
}

int64_t rg__backup_next_daily(int64_t t, int at)
{
    int64_t day = t - t % 86400, next = day + at * 60;
    return next > t ? next : next + 86400;
}

void rg__backup_log_lines(char *text, bool failed)
{
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
        rg_log(failed ? RG_LOG_WARN : RG_LOG_INFO, "backup: %s", line);
}
