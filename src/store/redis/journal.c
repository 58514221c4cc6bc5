/* Writes the Redis cache adapter may have lost in an outage: their keys are
 * remembered (up to JOURNAL_MAX) and, before anything else is served after
 * the outage, deleted from Redis (or, past the bound, every key under the
 * prefix), and every instance is told to empty its L1. */
#include "redis.h"
#include "risinggen/base/alloc.h"
#include "risinggen/base/buf.h"
#include "risinggen/base/error.h"
#include "risinggen/base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

void journal_free(struct journal *j)
{
    if (j->slots) {
        for (size_t i = 0; i < JOURNAL_SLOTS; i++)
            free(j->slots[i]);
        free(j->slots);
    }
    memset(j, 0, sizeof *j);
}

/* Under journal_lock. */
static void journal_put(struct journal *j, const char *key)
{
    if (j->overflow)
        return;
    if (j->count >= JOURNAL_MAX) {
        journal_free(j);
        j->overflow = true;
        return;
    }
    if (!j->slots)
        j->slots = rg_xcalloc(JOURNAL_SLOTS, sizeof *j->slots);
    size_t i = key_hash(key, strlen(key)) & (JOURNAL_SLOTS - 1);
    for (; j->slots[i]; i = (i + 1) & (JOURNAL_SLOTS - 1))
        if (strcmp(j->slots[i], key) == 0)
            return;
    j->slots[i] = rg_xstrdup(key);
    j->count++;
}

/* Remembers that a write of key may not have reached Redis (or may have, and
 * its invalidation message not). */
void journal_add(rg_cache *c, const char *key)
{
    pthread_mutex_lock(&c->journal_lock);
    journal_put(&c->journal, key);
    atomic_store(&c->journal_pending, true);
    pthread_mutex_unlock(&c->journal_lock);
}

/* Deletes every key under the prefix, SCAN by SCAN. */
static int purge_prefix(rg_cache *c, struct conn *k)
{
    rg_buf pattern = {0};
    for (size_t i = 0; i < c->plen; i++) {
        if (strchr("*?[]\\", c->prefix[i]))
            rg_buf_put(&pattern, "\\", 1);
        rg_buf_put(&pattern, &c->prefix[i], 1);
    }
    rg_buf_put(&pattern, "*", 1);
    char cursor[32] = "0";
    int rc = 0;
    do {
        rg_buf b = {0};
        put_cmd(&b, "SCAN %s MATCH %b COUNT %d", cursor, pattern.data, pattern.len, SCAN_COUNT);
        redisReply *r[1];
        rc = roundtrip(c, k, &b, 1, r);
        rg_buf_free(&b);
        if (rc < 0)
            break;
        const redisReply *s = r[0];
        if (s->type != REDIS_REPLY_ARRAY || s->elements != 2 ||
            s->element[0]->type != REDIS_REPLY_STRING || s->element[0]->len >= sizeof cursor ||
            s->element[1]->type != REDIS_REPLY_ARRAY) {
            rc = bad_reply(c, s, "SCAN");
            free_replies(r, 1);
            break;
        }
        memcpy(cursor, s->element[0]->str, s->element[0]->len + 1);
        const redisReply *keys = s->element[1];
        if (keys->elements) {
            size_t n = keys->elements;
            const char **argv = rg_xmalloc((n + 1) * sizeof *argv);
            size_t *lens = rg_xmalloc((n + 1) * sizeof *lens);
            argv[0] = "UNLINK";
            lens[0] = 6;
            for (size_t i = 0; i < n; i++) {
                argv[i + 1] = keys->element[i]->str ? keys->element[i]->str : "";
                lens[i + 1] = keys->element[i]->len;
            }
            rg_buf u = {0};
            put_argv(&u, (int)(n + 1), argv, lens);
            free(argv);
            free(lens);
            redisReply *ur[1];
            rc = roundtrip(c, k, &u, 1, ur);
            rg_buf_free(&u);
            if (rc == 0) {
                if (ur[0]->type != REDIS_REPLY_INTEGER)
                    rc = bad_reply(c, ur[0], "UNLINK");
                free_replies(ur, 1);
            }
        }
        free_replies(r, 1);
    } while (rc == 0 && strcmp(cursor, "0") != 0);
    rg_buf_free(&pattern);
    return rc;
}

/* Deletes the journal's keys from Redis and tells every instance to empty its
 * L1 (an empty message). Runs on one thread at a time; the others get
 * RG_EUNAVAIL meanwhile rather than a value that may be stale. */
int journal_replay(rg_cache *c, struct conn *k)
{
    if (pthread_mutex_trylock(&c->replay_lock) != 0)
        return unavailable();
    pthread_mutex_lock(&c->journal_lock);
    struct journal j = c->journal;
    memset(&c->journal, 0, sizeof c->journal);
    pthread_mutex_unlock(&c->journal_lock);

    int rc = 0;
    if (j.overflow) {
        rc = purge_prefix(c, k);
    } else if (j.count) {
        rg_buf b = {0};
        const char **argv = rg_xmalloc((REPLAY_BATCH + 1) * sizeof *argv);
        size_t *lens = rg_xmalloc((REPLAY_BATCH + 1) * sizeof *lens);
        char **owned = rg_xmalloc(REPLAY_BATCH * sizeof *owned);
        int argc = 1, ncmd = 0;
        argv[0] = "UNLINK";
        lens[0] = 6;
        for (size_t i = 0; i <= JOURNAL_SLOTS; i++) {
            if (i < JOURNAL_SLOTS && j.slots[i]) {
                size_t klen = strlen(j.slots[i]);
                char *pk = rg_xmalloc(c->plen + klen + 1);
                memcpy(pk, c->prefix, c->plen);
                memcpy(pk + c->plen, j.slots[i], klen + 1);
                owned[argc - 1] = pk;
                argv[argc] = pk;
                lens[argc] = c->plen + klen;
                argc++;
            }
            if (argc > 1 && (argc == REPLAY_BATCH + 1 || i == JOURNAL_SLOTS)) {
                put_argv(&b, argc, argv, lens);
                ncmd++;
                for (int a = 0; a < argc - 1; a++)
                    free(owned[a]);
                argc = 1;
            }
        }
        free(argv);
        free(lens);
        free(owned);
        redisReply **r = rg_xcalloc((size_t)ncmd, sizeof *r);
        rc = roundtrip(c, k, &b, ncmd, r);
        rg_buf_free(&b);
        for (int i = 0; rc == 0 && i < ncmd; i++)
            if (r[i]->type != REDIS_REPLY_INTEGER)
                rc = bad_reply(c, r[i], "UNLINK");
        free_replies(r, ncmd);
        free(r);
    }
    if (rc == 0) {
        rg_buf b = {0};
        put_cmd(&b, "PUBLISH %b %b", c->channel, c->chlen, "", (size_t)0);
        redisReply *r[1];
        rc = roundtrip(c, k, &b, 1, r);
        rg_buf_free(&b);
        if (rc == 0) {
            if (r[0]->type != REDIS_REPLY_INTEGER)
                rc = bad_reply(c, r[0], "PUBLISH");
            free_replies(r, 1);
        }
    }

    pthread_mutex_lock(&c->journal_lock);
    if (rc < 0) {
        /* Put back what is still to be done. */
        if (j.overflow) {
            journal_free(&c->journal);
            c->journal.overflow = true;
        } else {
            for (size_t i = 0; j.slots && i < JOURNAL_SLOTS; i++)
                if (j.slots[i])
                    journal_put(&c->journal, j.slots[i]);
        }
    } else {
        if (j.overflow)
            rg_info("redis cache %s: removed every key under the prefix, since more than %d "
                    "writes may have been lost while it was out of reach",
                    c->where, JOURNAL_MAX);
        else
            rg_info("redis cache %s: removed %zu key(s) whose writes may have been lost while "
                    "it was out of reach",
                    c->where, j.count);
        if (!c->journal.count && !c->journal.overflow)
            atomic_store(&c->journal_pending, false);
    }
    pthread_mutex_unlock(&c->journal_lock);
    journal_free(&j);
    if (rc == 0)
        l1_clear(c);
    pthread_mutex_unlock(&c->replay_lock);
    return rc;
}
