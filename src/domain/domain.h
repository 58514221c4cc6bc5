/* What every module of the domain shares (common.c): the collection names,
 * ids, cursors, pages, money, optimistic document updates, relational
 * statements on a connection of their own, versioned cache entries and a
 * few JSON checks. The record modules (user_record.h, event_record.h,
 * registration_record.h, channel_record.h, sessions.h) sit above this one
 * and below the features; no module calls one of its own level or above. */
#ifndef RG_DOMAIN_H
#define RG_DOMAIN_H

#include "risinggen/base/clock.h"
#include "risinggen/base/error.h"
#include "risinggen/base/id.h"
#include "risinggen/base/validate.h"
#include "risinggen/domain/app.h"

#include <jansson.h>
#include <string.h>

#define COLL_USERS     "users"
#define COLL_AUTH      "auth"
#define COLL_SESSIONS  "sessions"
#define COLL_CHANNELS  "channels"
#define COLL_MESSAGES  "messages"
#define COLL_RESOURCES "resources"
#define COLL_FEEDBACK  "feedback"
/* sso_links/<sha256 of the church account id>: {userId}, the one mapping from
 * a church account to its user, taken by insert so that two first sign-ins
 * at once make one account. */
#define COLL_SSO_LINKS         "sso_links"
#define USER_SCHEMA_VERSION    1
#define AUTH_SCHEMA_VERSION    1
#define SESSION_SCHEMA_VERSION 1

static inline bool rg_is_admin(const rg_principal *p)
{
    return p && (p->roles & RG_ROLE_ADMIN);
}
static inline bool rg_is_signed_in(const rg_principal *p)
{
    return p && p->user_id[0];
}
/* Whether who manages what organizer_id (or creator_id) runs: an admin, or
 * that person while they hold the organizer role. An organizer whose role is
 * taken away keeps their name on their events but no control over them. */
static inline bool rg_manages(const rg_principal *p, const char *organizer_id)
{
    return rg_is_admin(p) || (p && p->user_id[0] && (p->roles & RG_ROLE_ORGANIZER) &&
                              organizer_id && strcmp(organizer_id, p->user_id) == 0);
}

/* The cache key of failed logins for an e-mail (normalized) from a client
 * address (auth.c). */
void rg__login_attempts_key(const char *email, const char *client, char key[64]);

/* Parses a positive integer id ("42"); false for anything else. */
bool rg_parse_id(const char *s, int64_t *out);
/* Keyset cursors: an opaque base64url of "a|b". */
void rg_cursor_encode(const char *a, const char *b, char *out, size_t cap);
int rg_cursor_decode(const char *cursor, char *a, size_t acap, char *b, size_t bcap);
/* Money: parses "25.00" / "25" / "25.5" into minor units (cents), at most
 * two decimals and 0 <= value <= 99,999,999.99. Returns 0 or RG_EINVAL. */
int rg_money_parse(const char *s, int64_t *out);
/* Formats minor units as "25.00" into out[24]. */
void rg_money_format(int64_t minor, char out[24]);
/* Copies a stored RFC 3339 time through as a JSON string, or null. */
json_t *rg_json_time(const char *t);
/* {"items": items, "nextCursor": next or null}; steals items. */
json_t *rg_list_page(json_t *items, const char *next);
/* A query parameter "true"/"1" or "false"/"0" (absent: false); RG_EINVAL
 * naming the parameter otherwise. */
int rg__parse_bool_param(const char *name, const char *s, bool *out);
/* A bound of a time range: a date (its first second, or with end_of_day its
 * last) or an RFC 3339 time, as RFC 3339 UTC into out; RG_EINVAL naming
 * the parameter otherwise. */
int rg__parse_bound(const char *name, const char *s, bool end_of_day, char out[RG_TIME_LEN + 1]);
/* The query parameters from and to (either may be NULL) as bounds of one
 * range: from's first second, to's last; RG_EINVAL when either is malformed
 * or from comes after to. */
int rg__parse_range(const char *from_s, const char *to_s, char from[RG_TIME_LEN + 1],
                    char to[RG_TIME_LEN + 1]);

/* Runs get → fn → replace with the revision, retrying on a concurrent write.
 * fn may change doc in place and return 0, or an error to stop. */
int rg_doc_update(rg_documents *docs, const char *coll, const char *id,
                  int (*fn)(json_t *doc, void *ctx), void *ctx);
/* Brings a stored document to the current schema version before it is
 * written again; refuses (RG_EINTERNAL, logged) one written by a newer
 * program. what names the kind of document for the log. */
int rg__doc_upgrade(json_t *doc, int current, const char *what);
/* The API view of a content document: "id" first, internals dropped. */
json_t *rg__doc_view(const char *id, json_t *doc);
/* Whether o[k] is a JSON string. */
bool rg__json_is_str(json_t *o, const char *k);
/* Whether the documents store takes several writes in one transaction now
 * (rg_docs_write_all). Test builds answer no when RG_FAULT_NO_ATOMIC is
 * set, to run the one-write-at-a-time path a store without transactions
 * takes. */
bool rg__docs_atomic(rg_app *app);
/* https://host… with no spaces or control characters, at most 2048 bytes. */
bool rg__https_url_ok(const char *s);
/* The current time as RFC 3339 UTC into out. */
void rg__now_text(char out[RG_TIME_LEN + 1]);
/* Copies at most max bytes of s into out[cap] without cutting a UTF-8
 * sequence, adding "…" when it was cut. */
void rg__utf8_clip(const char *s, size_t max, char *out, size_t cap);

/* Documents of the content features that name a person as their author or
 * owner: where the id is, and the key of the export list (NULL: not
 * exported under this path). Export and erasure walk them. */
struct rg_authored {
    const char *coll, *path, *export_key;
};
extern const struct rg_authored rg__authored[];
extern const int rg__nauthored;

/* Runs a relational statement on a primary connection of its own (no
 * transaction). */
int rg_rel_run(rg_app *app, const char *name, const rg_param *p, int n, rg_rows **out);
/* The same for a read that a replica may serve (lists, discovery, stats),
 * unless reader reads its own writes (then the primary). reader NULL: the
 * primary. */
int rg_rel_run_read(rg_app *app, const rg_ctx *reader, const char *name, const rg_param *p, int n,
                    rg_rows **out);

/* The cache key of the marker rg_ctx_wrote leaves for user_id. */
void rg__wrote_key(const char *user_id, char *key, size_t cap);

/* Versioned cache entries, so that a reader that loaded data before a write
 * never puts it back into the cache after the writer cleared it. An entry is
 * "<version>\n<value>"; a reader takes the version first (rg_vcache_get
 * does), loads from the store, then stores with that version; a writer
 * bumps the version after its write, which makes every older entry a miss.
 * rg_vcache_get: 0 and *val (malloc'd, after the version line) on a hit that
 * matches; otherwise RG_ENOTFOUND with *version to store under. */
int rg_vcache_get(rg_app *app, const char *key, const char *verkey, char **val, size_t *len,
                  int64_t *version);
/* rg_vcache_get's check of a version (ver) and an entry (entry, elen) that
 * the caller fetched itself, with rg_cache_get_many among other keys; either
 * may be NULL (a miss). Takes both (frees them or hands entry on as *val). */
int rg_vcache_take(char *ver, char *entry, size_t elen, char **val, size_t *len, int64_t *version);
void rg_vcache_set(rg_app *app, const char *key, int64_t version, const char *val, size_t len,
                   int64_t ttl_ms);
void rg_vcache_bump(rg_app *app, const char *verkey);
/* After w, an incr by 1 of a version or generation counter (alone or in
 * rg_cache_write_many): moves a counter that came back at 1 (evicted) on by
 * the clock. */
void rg_vcache_bumped(rg_app *app, const rg_cache_write *w);

/* Every audit entry whose actor is user_id, oldest first (audit.c, for the
 * export). */
int rg__audit_by_actor(rg_app *app, const char *user_id, json_t **out);

#endif
