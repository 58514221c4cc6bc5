/* The table of background jobs and their runner (risinggen/domain/jobs.h). */
#include "risinggen/domain/jobs.h"
#include "risinggen/base/clock.h"
#include "risinggen/base/error.h"
#include "risinggen/base/log.h"
#include "risinggen/base/metrics.h"
#include "risinggen/domain/accounts.h"
#include "risinggen/domain/auth.h"
#include "risinggen/domain/channels.h"
#include "risinggen/domain/outbox.h"
#include "risinggen/domain/registrations.h"
#include "intents.h"

#include <stdatomic.h>

#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>

#define MAX_BACKOFF_MS 30000
#define TICK_MS        100
#define OUTBOX_BATCH   50

static int outbox_pass(rg_app *app)
{
    return rg_outbox_deliver(app, OUTBOX_BATCH);
}

/* At start every intent is driven (none of this process is in flight);
 * afterwards those that have stood still for INTENT_STILL_S, which the
 * operation itself would have moved on (intents.c adds each kind's own
 * minimum). */
#define INTENT_STILL_S 30
static atomic_bool intents_started;

/* Kinds whose driver closes an intent that its operation may still be
 * working through on another instance wait a minute, so that a crash of
 * that operation after the driver has run is not left unrecovered;
 * event.change rewrites what its row says, which any later change of the
 * event does again under its own intent, and an erasure only moves
 * forward through steps that may run twice. A two-phase role change may be
 * driven beside its operation (the decision record settles which of the
 * two ends it), after 10 s, so that one in flight is seldom given up. */
static const rg_intent_kind intent_kinds[] = {
    {"event.change", rg__event_change_drive, 0},
    {"signup", rg__signup_drive, 60},
    {"user.roles", rg__user_roles_drive, 60},
    {"user.roles.2pc", rg__user_roles_2pc_drive, 10},
    {"password.reset", rg__password_reset_drive, 60},
    {"session.revoke", rg__session_revoke_drive, 60},
    {"sso.signin", rg__sso_signin_drive, 60},
    {"message.post", rg__message_post_drive, 60},
    {"user.erase", rg__user_erase_drive, 0},
    {"resource.change", rg__resource_change_drive, 60},
};

static int intent_pass(rg_app *app)
{
    int done;
    int n = (int)(sizeof intent_kinds / sizeof intent_kinds[0]);
    int rc = rg_intents_resume(app, intent_kinds, n,
                               atomic_exchange(&intents_started, true) ? INTENT_STILL_S : 0, &done);
    int swept = 0;
    int rs = rg_intents_sweep_prepared(app, &swept);
    if (rc < 0 || rs < 0)
        return rc < 0 ? rc : rs;
    return done + swept;
}

/* The gauges the alert rules read that no request updates: the outbox's
 * backlog and, with read replicas, how far the one read lags. */
static int store_stats_pass(rg_app *app)
{
    rg_relational *r = &app->st.rel;
    rg_rel_conn *c;
    rg_rows *rows = NULL;
    int rc = rg_rel_acquire(r, &c);
    if (rc < 0)
        return rc;
    if ((rc = rg_rel_query(r, c, "outbox_backlog", NULL, 0, &rows)) >= 0 && rows->nrows == 1) {
        rg_metrics_gauge_set("rg_outbox_pending", (double)rg_rows_int(rows, 0, "pending", 0));
        rg_metrics_gauge_set("rg_outbox_oldest_pending_seconds",
                             rg_rows_real(rows, 0, "oldest_s", 0));
    }
    rg_rows_free(rows);
    rows = NULL;
    rg_rel_release(r, c);
    if (rc < 0 || !app->cfg->relational_replica_urls || !*app->cfg->relational_replica_urls)
        return rc < 0 ? rc : 0;
    if ((rc = rg_rel_acquire_read(r, &c)) < 0)
        return rc;
    if ((rc = rg_rel_query(r, c, "replica_lag", NULL, 0, &rows)) >= 0 && rows->nrows == 1)
        rg_metrics_gauge_set("rg_replica_lag_seconds", rg_rows_real(rows, 0, "lag_s", 0));
    rg_rows_free(rows);
    rg_rel_release(r, c);
    return rc < 0 ? rc : 0;
}

static int metrics_sample(rg_app *app)
{
    (void)app;
    rg_metrics_history_add();
    return 0;
}

static const rg_job jobs[] = {
    /* reset codes: requests are rows, whatever the e-mail (password_reset.c) */
    {"password-reset", 250, false, rg_auth_password_reset_pass, "handled %d reset request(s)"},
    /* notifications leave about a second after their change commits */
    {"outbox", 1000, false, outbox_pass, "delivered %d notification(s)"},
    /* places of unpaid holds come back even when nobody registers */
    {"hold-expiry", 30000, false, rg_registration_expire_holds, "expired %d unpaid hold(s)"},
    {"session-purge", 30000, false, rg_auth_purge_sessions, "removed %d expired session(s)"},
    /* operations across stores a crash, an outage or a failed step left
     * unfinished (intents.h) */
    {"intent-resume", 30000, true, intent_pass, "finished %d interrupted operation(s)"},
    /* gauges for the alert rules (ops/prometheus/rules.yml) */
    /* the recent past the operator's console draws */
    {"metrics-history", RG_METRICS_SAMPLE_S * 1000, true, metrics_sample, "%d"},
    {"store-stats", 5000, true, store_stats_pass, "refreshed the gauges %d time(s)"},
};

#define NJOBS ((int)(sizeof jobs / sizeof jobs[0]))

const rg_job *rg_jobs(int *n)
{
    *n = NJOBS;
    return jobs;
}

/* One pass of job, with its log label, metrics and log line. */
static int run_one(rg_app *app, const rg_job *job)
{
    char label[48], series[96];
    snprintf(label, sizeof label, "job:%s", job->name);
    rg_log_bind(label);
    rg_error_clear();
    int64_t t0 = rg_mono_us();
    int rc = job->run(app);
    double secs = (double)(rg_mono_us() - t0) / 1e6;
    snprintf(series, sizeof series, "rg_job_runs_total{job=\"%s\"}", job->name);
    rg_metrics_count(series, 1);
    snprintf(series, sizeof series, "rg_job_last_duration_seconds{job=\"%s\"}", job->name);
    rg_metrics_gauge_set(series, secs);
    if (rc < 0) {
        snprintf(series, sizeof series, "rg_job_failures_total{job=\"%s\"}", job->name);
        rg_metrics_count(series, 1);
        rg_warn("%s failed: %s", job->name,
                rg_error_detail()[0] ? rg_error_detail() : rg_error_title(rc));
    } else if (rc > 0) {
        char line[160];
        snprintf(line, sizeof line, job->done, rc);
        rg_info("%s", line);
    }
    rg_error_clear();
    rg_log_bind(NULL);
    return rc;
}

/* Free and total bytes of the file system holding a folder, read when
 * /metrics is rendered. */
typedef struct volume {
    const char *path;
    bool total;
} volume;

static double volume_bytes(void *ctx)
{
    const volume *v = ctx;
    struct statvfs s;
    if (!v->path || !*v->path || statvfs(v->path, &s) != 0)
        return 0;
    return (double)(v->total ? s.f_blocks : s.f_bavail) * (double)s.f_frsize;
}

static void watch_volumes(const rg_config *cfg)
{
    static volume vols[4];
    static bool watched;
    if (watched)
        return;
    watched = true;
    vols[0] = (volume){cfg->data_dir, false};
    vols[1] = (volume){cfg->data_dir, true};
    vols[2] = (volume){cfg->backup_repo, false};
    vols[3] = (volume){cfg->backup_repo, true};
    rg_metrics_describe("rg_volume_free_bytes", "gauge",
                        "Bytes free for the service on the file system of a folder it writes.");
    rg_metrics_describe("rg_volume_size_bytes", "gauge", "Size of that file system.");
    rg_metrics_watch("rg_volume_free_bytes{volume=\"data\"}", volume_bytes, &vols[0]);
    rg_metrics_watch("rg_volume_size_bytes{volume=\"data\"}", volume_bytes, &vols[1]);
    if (cfg->backup_repo && *cfg->backup_repo) {
        rg_metrics_watch("rg_volume_free_bytes{volume=\"backup\"}", volume_bytes, &vols[2]);
        rg_metrics_watch("rg_volume_size_bytes{volume=\"backup\"}", volume_bytes, &vols[3]);
    }
}

static void describe(void)
{
    rg_metrics_describe("rg_outbox_pending", "gauge", "Notifications waiting to leave.");
    rg_metrics_describe("rg_outbox_oldest_pending_seconds", "gauge",
                        "How long the oldest waiting notification has waited.");
    rg_metrics_describe("rg_replica_lag_seconds", "gauge",
                        "How far behind its primary the read replica in use is.");
    rg_metrics_describe("rg_job_runs_total", "counter", "Passes of each background job.");
    rg_metrics_describe("rg_job_failures_total", "counter", "Passes of each job that failed.");
    rg_metrics_describe("rg_job_last_duration_seconds", "gauge",
                        "How long the last pass of each job took.");
}

void rg_jobs_at_start(rg_app *app)
{
    describe();
    for (int i = 0; i < NJOBS; i++)
        if (jobs[i].at_start)
            run_one(app, &jobs[i]);
}

int rg_job_run_now(rg_app *app, const char *name)
{
    for (int i = 0; i < NJOBS; i++)
        if (strcmp(jobs[i].name, name) == 0)
            return run_one(app, &jobs[i]);
    return rg_error_set(RG_ENOTFOUND, "no job called %s", name);
}

void rg_jobs_run(rg_app *app, volatile sig_atomic_t *stop)
{
    describe();
    watch_volumes(app->cfg);
    int64_t next[NJOBS], wait[NJOBS];
    int64_t now = rg_mono_ms();
    for (int i = 0; i < NJOBS; i++) {
        wait[i] = jobs[i].period_ms;
        next[i] = now + wait[i];
    }
    while (!*stop) {
        struct timespec ts = {0, TICK_MS * 1000000L};
        nanosleep(&ts, NULL);
        for (int i = 0; i < NJOBS && !*stop; i++) {
            if (rg_mono_ms() < next[i])
                continue;
            int rc = run_one(app, &jobs[i]);
            int64_t cap = jobs[i].period_ms > MAX_BACKOFF_MS ? jobs[i].period_ms : MAX_BACKOFF_MS;
            wait[i] = rc < 0 ? (wait[i] * 2 > cap ? cap : wait[i] * 2) : jobs[i].period_ms;
            next[i] = rg_mono_ms() + wait[i];
        }
    }
}
