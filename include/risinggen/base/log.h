/* Structured logging to stderr: one JSON object per line,
 *   {"ts": "...", "level": "info", "msg": "...", "requestId": "..."}.
 *
 * The request id is the calling thread's log context: the HTTP layer binds
 * the id of the request it serves (and background jobs a name of their
 * own) for the time it runs, so that every line written while serving it,
 * from any layer, carries the id the client got in X-Request-Id. It only
 * labels log lines; no behaviour depends on it. */
#ifndef RISINGGEN_BASE_LOG_H
#define RISINGGEN_BASE_LOG_H

enum rg_log_level { RG_LOG_DEBUG, RG_LOG_INFO, RG_LOG_WARN, RG_LOG_ERROR };

void rg_log(enum rg_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rg_log_set_level(enum rg_log_level lvl);
#define rg_debug(...) rg_log(RG_LOG_DEBUG, __VA_ARGS__)
#define rg_info(...)  rg_log(RG_LOG_INFO, __VA_ARGS__)
#define rg_warn(...)  rg_log(RG_LOG_WARN, __VA_ARGS__)
#define rg_err(...)   rg_log(RG_LOG_ERROR, __VA_ARGS__)

#define RG_REQUEST_ID_MAX 64 /* bytes of a request id, without the NUL */

/* Binds id (copied, truncated to RG_REQUEST_ID_MAX) to the calling thread's
 * log lines until the next call; NULL or "" unbinds. */
void rg_log_bind(const char *id);
/* The id bound to the calling thread ("" when none). */
const char *rg_log_bound(void);

#endif
