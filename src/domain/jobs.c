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

#include <stdio.h>
#include <string.h>
#include <time.h>

#define MAX_BACKOFF_MS 30000
#define TICK_MS        100
#define OUTBOX_BATCH   50

static int outbox_pass(rg_app *app)
{
    return rg_outbox_deliver(app, OUTBOX_BATCH);
}

static int erasure_pass(rg_app *app)
{
    return rg_erasure_resume(app, 0);
}

static const rg_job jobs[] = {
    /* reset codes: requests are rows, whatever the e-mail (password_reset.c) */
    {"password-reset", 250, false, rg_auth_password_reset_pass, "handled %d reset request(s)"},
    /* notifications leave about a second after their change commits */
    {"outbox", 1000, false, outbox_pass, "delivered %d notification(s)"},
    /* places of unpaid holds come back even when nobody registers */
    {"hold-expiry", 30000, false, rg_registration_expire_holds, "expired %d unpaid hold(s)"},
    {"session-purge", 30000, false, rg_auth_purge_sessions, "removed %d expired session(s)"},
    /* messages whose notifications a crash left unqueued */
    {"message-resume", 30000, false, rg_message_resume_deliveries,
     "queued the notifications of %d interrupted message(s)"},
    /* erasures a crash or an outage interrupted */
    {"erasure-resume", 30000, true, erasure_pass, "finished %d interrupted erasure(s)"},
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

static void describe(void)
{
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
