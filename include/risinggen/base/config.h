/* The service's settings: every RG_* variable, read once at start into one
 * object, checked, and handed to whatever needs it. Nothing else in the
 * program reads the environment.
 *
 * Each setting is a row of RG_CONFIG_MAP below (its variable, its member in
 * rg_config, its kind, its default and what it means); the README's table
 * of variables is generated from the same rows (`risinggen config
 * --markdown`) and a test checks that the two agree. Strings in an
 * rg_config are owned by it (rg_config_free). */
#ifndef RISINGGEN_BASE_CONFIG_H
#define RISINGGEN_BASE_CONFIG_H

#include <stdbool.h>

#include "risinggen/base/buf.h"

enum rg_config_kind {
    RG_CFG_TEXT,     /* any text */
    RG_CFG_SECRET,   /* text never printed */
    RG_CFG_URL,      /* a URL; a password in it is never printed */
    RG_CFG_URL_LIST, /* comma-separated URLs */
    RG_CFG_BOOL,     /* 1/0, true/false, on/off, yes/no */
    RG_CFG_INT,      /* a decimal integer within [min, max] */
    RG_CFG_LISTEN,   /* HOST:PORT, IPv4 address or localhost */
    RG_CFG_LEVEL,    /* debug, info, warn, error */
};

/* X(variable suffix, member, kind, min, max, default as documented, meaning).
 * An empty default means none; a default in words is computed at load. */
#define RG_CONFIG_MAP(X)                                                                           \
    X(LISTEN, listen, RG_CFG_LISTEN, 0, 0, "127.0.0.1:8080", "address to serve on (HOST:PORT)")    \
    X(DATA_DIR, data_dir, RG_CFG_TEXT, 0, 0, "data", "folder of the embedded stores")              \
    X(RELATIONAL_URL, relational_url, RG_CFG_URL, 0, 0, "sqlite:$RG_DATA_DIR/relational.db",       \
      "venues, events, registrations, payments (`sqlite:PATH`, `postgresql://…`)")                 \
    X(RELATIONAL_REPLICA_URLS, relational_replica_urls, RG_CFG_URL_LIST, 0, 0, "",                 \
      "comma-separated PostgreSQL read replicas for lists and discovery")                          \
    X(DOCUMENT_URL, document_url, RG_CFG_URL, 0, 0, "sqlite:$RG_DATA_DIR/documents.db",            \
      "users, auth, sessions, channels, messages, content (`sqlite:PATH`, `postgresql://…`, "    \
      "`mongodb://…`)")                                                                            \
    X(CACHE_URL, cache_url, RG_CFG_URL, 0, 0, "memory:",                                           \
      "sessions cache, hot reads (`memory:[?max_mb=N]`, `redis://host:port[/db][?prefix=P]`)")     \
    X(SEARCH_URL, search_url, RG_CFG_URL, 0, 0,                                                    \
      "RG_RELATIONAL_URL when PostgreSQL, else sqlite:$RG_DATA_DIR/search.db",                     \
      "full-text search (`sqlite:PATH`; shared: `postgresql://…`, `http(s)://HOST:PORT/INDEX`)")   \
    X(AUTO_MIGRATE, auto_migrate, RG_CFG_BOOL, 0, 0, "1",                                          \
      "`serve`, `seed` and `admin create` apply pending migrations; `0` makes them refuse")        \
    X(THREADS, threads, RG_CFG_INT, 1, 1024, "4 × cores", "HTTP worker threads")                   \
    X(POOL_SIZE, pool_size, RG_CFG_INT, 1, 1000, "threads + 2",                                    \
      "connections per store (and per replica) at most")                                           \
    X(POOL_WAIT_MS, pool_wait_ms, RG_CFG_INT, 0, 60000, "5000",                                    \
      "how long a request waits for a free store connection before a 503")                         \
    X(MAX_CONNECTIONS, max_connections, RG_CFG_INT, 16, 65536, "4096",                             \
      "open connections at most (fewer when the open-file limit is lower)")                        \
    X(MAX_CONNECTIONS_PER_ADDRESS, max_connections_per_address, RG_CFG_INT, 1, 65536, "256",       \
      "open connections of one client address at most")                                            \
    X(HEAD_TIMEOUT_S, head_timeout_s, RG_CFG_INT, 1, 3600, "10",                                   \
      "seconds for a request's head to arrive (and for the next one on an idle connection)")       \
    X(BODY_TIMEOUT_S, body_timeout_s, RG_CFG_INT, 1, 3600, "30",                                   \
      "seconds for a request's body to arrive once its head has")                                  \
    X(RATE_LIMITS, rate_limits, RG_CFG_TEXT, 0, 0,                                                 \
      "login=300/60,signup=300/600,reset=60/600,messages=60/60,search=600/60",                     \
      "requests per address (messages: per account) and window in seconds; `off` for none")        \
    X(LIMITS_EXEMPT, limits_exempt, RG_CFG_TEXT, 0, 0, "127.0.0.1,::1",                            \
      "client addresses without per-address limits (local tools, tests, benchmarks)")              \
    X(PROXY_ADDRESSES, proxy_addresses, RG_CFG_TEXT, 0, 0, "",                                     \
      "proxies in front whose X-Forwarded-For names the client")                                   \
    X(METRICS_TOKEN, metrics_token, RG_CFG_SECRET, 0, 0, "",                                       \
      "bearer token that opens `/metrics` (so does an admin's access token); without it, also "    \
      "the loopback")                                                                              \
    X(ACCESS_LOG, access_log, RG_CFG_BOOL, 0, 0, "1", "`0` turns the JSON access log off")         \
    X(SLOW_MS, slow_ms, RG_CFG_INT, 0, 600000, "250",                                              \
      "a named query or store call slower than this many milliseconds is logged (`0`: none)")      \
    X(DISCOVERY_CACHE, discovery_cache, RG_CFG_BOOL, 0, 0, "1",                                    \
      "`0` turns the discovery page cache off (every list runs its query)")                        \
    X(LOG_LEVEL, log_level, RG_CFG_LEVEL, 0, 0, "info", "`debug`, `info`, `warn` or `error`")      \
    X(PAYMENTS_PROVIDERS, payments_providers, RG_CFG_TEXT, 0, 0, "manual",                         \
      "providers taking new payments; `test` (confirms without money) only when listed")           \
    X(PAYMENTS_WEBHOOK_SECRET, payments_webhook_secret, RG_CFG_SECRET, 0, 0, "",                   \
      "HMAC secret of payment webhooks; without it every webhook is refused (400)")                \
    X(SSO_ISSUER, sso_issuer, RG_CFG_TEXT, 0, 0, "",                                               \
      "issuer (`iss`) of church sign-in id tokens; church sign-in is off without it")              \
    X(SSO_AUDIENCE, sso_audience, RG_CFG_TEXT, 0, 0, "",                                           \
      "audience (`aud`) those tokens must name")                                                   \
    X(SSO_JWKS, sso_jwks, RG_CFG_TEXT, 0, 0, "",                                                   \
      "the issuer's signing keys: an https:// URL (http:// on loopback) or a file")                \
    X(SMTP_URL, smtp_url, RG_CFG_URL, 0, 0, "",                                                    \
      "mail server of notifications (`smtp://` or `smtps://`); without it mail goes to the log")   \
    X(SMTP_FROM, smtp_from, RG_CFG_TEXT, 0, 0, "",                                                 \
      "sender address of notifications (`noreply@risinggen.invalid` when unset)")                  \
    X(PASSWORD_RESET_URL, password_reset_url, RG_CFG_TEXT, 0, 0, "",                               \
      "page that takes a reset token (`?token=` is added); without it the mail holds the token")   \
    X(OUTBOX_MAX_ATTEMPTS, outbox_max_attempts, RG_CFG_INT, 1, 50, "8",                            \
      "delivery attempts of a notification before it is given up")                                 \
    X(ADMIN_PASSWORD, admin_password, RG_CFG_SECRET, 0, 0, "",                                     \
      "password of `admin create` when `--password` is not given")                                 \
    X(BACKUP_REPO, backup_repo, RG_CFG_TEXT, 0, 0, "",                                             \
      "folder of the backup repository (`risinggen backup`)")                                      \
    X(BACKUP_KEY, backup_key, RG_CFG_SECRET, 0, 0, "",                                             \
      "key of the backups: 64 hex digits (`openssl rand -hex 32`); keep a copy off the machine")   \
    X(BACKUP_KEEP_DAYS, backup_keep_days, RG_CFG_INT, 1, 3650, "30",                               \
      "days a full backup is kept by `backup prune` (the newest always)")                          \
    X(BACKUP_ARCHIVE_MS, backup_archive_ms, RG_CFG_INT, 100, 60000, "1000",                        \
      "how often `serve` archives the embedded stores' changes into the repository (ms)")          \
    X(BACKUP_FULL_AT, backup_full_at, RG_CFG_TEXT, 0, 0, "03:00",                                  \
      "time of day (UTC, HH:MM) of the full backup `serve` takes daily with a repository, or off")

#define RG__CFG_MEMBER_RG_CFG_TEXT     char *
#define RG__CFG_MEMBER_RG_CFG_SECRET   char *
#define RG__CFG_MEMBER_RG_CFG_URL      char *
#define RG__CFG_MEMBER_RG_CFG_URL_LIST char *
#define RG__CFG_MEMBER_RG_CFG_LISTEN   char *
#define RG__CFG_MEMBER_RG_CFG_BOOL     bool
#define RG__CFG_MEMBER_RG_CFG_INT      int
#define RG__CFG_MEMBER_RG_CFG_LEVEL    int

typedef struct rg_config {
#define RG__CFG_FIELD(var, member, kind, min, max, dflt, help) RG__CFG_MEMBER_##kind member;
    RG_CONFIG_MAP(RG__CFG_FIELD)
#undef RG__CFG_FIELD
} rg_config;

/* Every setting at its default (no environment read). 0; aborts only when
 * out of memory. */
void rg_config_defaults(rg_config *out);
/* Every setting from the environment, defaults for the rest. On a value that
 * is not valid, RG_EINVAL with a detail naming the variable ("RG_THREADS
 * must be an integer from 1 to 1024, not \"many\"") and *out holds nothing
 * to free. */
int rg_config_load(rg_config *out);
/* Sets one setting by its variable name ("RG_SMTP_URL") from text, with the
 * same checks as rg_config_load; value NULL or "" restores the default.
 * Defaults that derive from another setting (the store URLs from
 * RG_DATA_DIR, the pool size from RG_THREADS) follow it. RG_EINVAL for an
 * unknown name or a bad value. */
int rg_config_set(rg_config *c, const char *name, const char *value);
void rg_config_free(rg_config *c);

/* The effective settings, one "RG_NAME=value" line each, secrets shown as
 * "(set)" and URL passwords as "***". */
void rg_config_print(const rg_config *c, rg_buf *out);
/* The table of variables for the README (Markdown). */
void rg_config_markdown(rg_buf *out);
/* url with its password (if any) replaced by "***", into out (cap bytes). */
void rg_config_redact_url(const char *url, char *out, unsigned cap);

#endif
