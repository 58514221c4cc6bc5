/* The domain's background work: a table of jobs, each with a name and a
 * period, run one after another on one thread (the server's job runner).
 * Each job does one bounded pass and can be run again at any time; a job
 * that fails is retried sooner or later (its period doubles while it
 * fails, up to 30 s or its own period). Metrics per job:
 * rg_job_runs_total{job}, rg_job_failures_total{job},
 * rg_job_last_duration_seconds{job}. */
#ifndef RISINGGEN_DOMAIN_JOBS_H
#define RISINGGEN_DOMAIN_JOBS_H

#include <signal.h>

#include "risinggen/domain/app.h"

typedef struct rg_job {
    const char *name; /* "outbox", "hold-expiry", …: metrics and log lines */
    int period_ms;
    bool at_start; /* also run once when the app opens (recovery after a crash) */
    /* One pass: how many things it handled (>= 0), or RG_E*. */
    int (*run)(rg_app *app);
    /* The log line when a pass handled something ("%d" is the count). */
    const char *done;
} rg_job;

/* The table of jobs (static) and its length. */
const rg_job *rg_jobs(int *n);
/* Runs, once, every job marked at_start (rg_app_open calls it). */
void rg_jobs_at_start(rg_app *app);
/* Runs the jobs on their periods until *stop becomes true; returns then.
 * Checks stop at least every 100 ms. */
void rg_jobs_run(rg_app *app, volatile sig_atomic_t *stop);
/* Runs the job called name once now (tests, the command line); its result,
 * or RG_ENOTFOUND for an unknown name. */
int rg_job_run_now(rg_app *app, const char *name);

#endif
