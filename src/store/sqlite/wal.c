/* Continuous capture of the embedded stores' changes (wal.h).
 *
 * The WAL format (https://www.sqlite.org/fileformat2.html#walformat): a
 * 32-byte header (magic, version, page size, checkpoint sequence, two
 * salts, a checksum of its first 24 bytes), then frames: a 24-byte header
 * (page number, for a commit frame the database size in pages, the salts,
 * a checksum) and a page. The checksum of a frame runs on from the one
 * before it over the frame header's first 8 bytes and the page, so a
 * frame counts only when it continues the chain; a transaction counts once
 * its commit frame does. Writers append frames; a checkpoint copies them
 * into the database file, and once every frame is copied the next writer
 * starts the WAL over with the first salt plus one and a new second salt.
 *
 * A segment holds, for the frames from the archived position to the last
 * commit frame, the newest image of every page they touch and the
 * database size: applied to a copy of the database at the archived
 * position, it gives the database at that commit. Plain text of a
 * segment: a 4-byte little-endian length, that much JSON (its position
 * and times), then for each page its number (4 bytes, big-endian) and the
 * page.
 *
 * Nothing is checkpointed past the archive: the service's connections to
 * these files never checkpoint (wal_autocheckpoint=0, none at close), and
 * the archiver checkpoints while a read transaction of its own, begun
 * before it read the WAL, holds the checkpoint at or below what it
 * archived. So the WAL starts over only once every frame is archived. */
#include "wal.h"
#include "sqlite_common.h"
#include "risinggen/base/alloc.h"
#include "risinggen/base/clock.h"
#include "risinggen/base/error.h"
#include "risinggen/base/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define WAL_HDR           32
#define FRAME_HDR         24
#define CHECKPOINT_FRAMES 1000 /* SQLite's own default for wal_autocheckpoint */

typedef struct wal_hdr {
    bool be; /* checksums over big-endian words */
    uint32_t page_size, ckseq, salt1, salt2, ck1, ck2;
} wal_hdr;

static uint32_t get_be(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t get_le(const unsigned char *p)
{
    return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static void put_be(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* The WAL checksum over n bytes (a multiple of 8), running on from s. */
static void cksum(bool be, const unsigned char *p, size_t n, uint32_t s[2])
{
    for (size_t i = 0; i + 8 <= n; i += 8) {
        uint32_t x0 = be ? get_be(p + i) : get_le(p + i);
        uint32_t x1 = be ? get_be(p + i + 4) : get_le(p + i + 4);
        s[0] += x0 + s[1];
        s[1] += x1 + s[0];
    }
}

/* 0 and *h when the WAL at fd has a valid header; 1 when there is no WAL
 * to speak of (absent, empty, or a header SQLite would not accept). */
static int read_hdr(int fd, wal_hdr *h)
{
    unsigned char b[WAL_HDR];
    if (fd < 0 || pread(fd, b, sizeof b, 0) != (ssize_t)sizeof b)
        return 1;
    uint32_t magic = get_be(b);
    if ((magic & ~1u) != 0x377f0682u || get_be(b + 4) != 3007000)
        return 1;
    h->be = magic & 1;
    h->page_size = get_be(b + 8);
    h->ckseq = get_be(b + 12);
    h->salt1 = get_be(b + 16);
    h->salt2 = get_be(b + 20);
    uint32_t s[2] = {0, 0};
    cksum(h->be, b, 24, s);
    if (s[0] != get_be(b + 24) || s[1] != get_be(b + 28) || h->page_size < 512 ||
        h->page_size > 65536 || (h->page_size & (h->page_size - 1)))
        return 1;
    h->ck1 = s[0];
    h->ck2 = s[1];
    return 0;
}

static off_t frame_off(const wal_hdr *h, uint32_t i)
{
    return WAL_HDR + (off_t)(i - 1) * (FRAME_HDR + h->page_size);
}

/* The frames from `from` on that continue the checksum chain ck, up to the
 * last commit frame among them. */
typedef struct scan {
    uint32_t last;     /* the last commit frame (from - 1: none) */
    uint32_t ck[2];    /* the chain at it */
    uint32_t db_pages; /* the database size it commits */
    uint32_t *pgno;    /* page of each frame from..last */
} scan;

static int scan_wal(int fd, const wal_hdr *h, uint32_t from, const uint32_t ck[2], scan *s)
{
    size_t fsz = FRAME_HDR + h->page_size, cap = 0, n = 0;
    unsigned char *f = rg_xmalloc(fsz);
    uint32_t run[2] = {ck[0], ck[1]};
    s->last = from - 1;
    s->ck[0] = ck[0];
    s->ck[1] = ck[1];
    s->db_pages = 0;
    s->pgno = NULL;
    for (uint32_t i = from;; i++) {
        if (pread(fd, f, fsz, frame_off(h, i)) != (ssize_t)fsz)
            break;
        if (get_be(f + 8) != h->salt1 || get_be(f + 12) != h->salt2)
            break;
        cksum(h->be, f, 8, run);
        cksum(h->be, f + FRAME_HDR, h->page_size, run);
        if (run[0] != get_be(f + 16) || run[1] != get_be(f + 20))
            break;
        if (n == cap) {
            cap = cap ? cap * 2 : 1024;
            s->pgno = rg_xrealloc(s->pgno, cap * sizeof *s->pgno);
        }
        s->pgno[n++] = get_be(f);
        if (get_be(f + 4) != 0) { /* a commit frame */
            s->last = i;
            s->ck[0] = run[0];
            s->ck[1] = run[1];
            s->db_pages = get_be(f + 4);
        }
    }
    free(f);
    return 0;
}

/* The archived position of a store (wal/<store>/state.json). */
typedef struct wstate {
    bool exists, broken;
    char chain[RG__WAL_CHAIN_LEN + 1];
    long long next; /* the number the next segment gets */
    uint32_t salt1, salt2, ckseq, frame, ck[2];
    char last_hash[RG__VAULT_HASH_HEX]; /* of segment next - 1 in this chain, or "" */
    int64_t captured_ms;
} wstate;

static void state_path(const char *dir, char *out, size_t cap)
{
    snprintf(out, cap, "%s/state.json", dir);
}

static long long jint(json_t *m, const char *key)
{
    return json_integer_value(json_object_get(m, key));
}

static const char *jstr(json_t *m, const char *key)
{
    const char *v = json_string_value(json_object_get(m, key));
    return v ? v : "";
}

static int load_state(const rg__vault_keys *k, const char *dir, wstate *st)
{
    memset(st, 0, sizeof *st);
    st->next = 1;
    char path[4200];
    state_path(dir, path, sizeof path);
    json_error_t e;
    json_t *m = json_load_file(path, 0, &e);
    if (!m)
        return access(path, F_OK) == 0 ? rg_error_set(RG_EINVAL, "%s is not JSON: %s", path, e.text)
                                       : 0;
    int rc = 0;
    if (!rg__vault_mac_ok(k, m)) {
        rc = rg_error_set(RG_EINVAL,
                          "the key does not open %s (another key, or the file was changed)", path);
    } else {
        st->exists = true;
        st->broken = json_is_true(json_object_get(m, "broken"));
        snprintf(st->chain, sizeof st->chain, "%s", jstr(m, "chain"));
        st->next = jint(m, "next");
        st->salt1 = (uint32_t)jint(m, "salt1");
        st->salt2 = (uint32_t)jint(m, "salt2");
        st->ckseq = (uint32_t)jint(m, "ckseq");
        st->frame = (uint32_t)jint(m, "frame");
        st->ck[0] = (uint32_t)jint(m, "ck1");
        st->ck[1] = (uint32_t)jint(m, "ck2");
        st->captured_ms = jint(m, "captured_ms");
        snprintf(st->last_hash, sizeof st->last_hash, "%s", jstr(m, "last_hash"));
    }
    json_decref(m);
    return rc;
}

static int save_state(const rg__vault_keys *k, const char *dir, const wstate *st)
{
    json_t *m = json_pack("{s:i, s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:I}", "version",
                          1, "chain", st->chain, "broken", st->broken, "next", (json_int_t)st->next,
                          "salt1", (json_int_t)st->salt1, "salt2", (json_int_t)st->salt2, "ckseq",
                          (json_int_t)st->ckseq, "frame", (json_int_t)st->frame, "ck1",
                          (json_int_t)st->ck[0], "ck2", (json_int_t)st->ck[1], "last_hash",
                          st->last_hash, "captured_ms", (json_int_t)st->captured_ms);
    char mac[RG__VAULT_HASH_HEX], path[4200];
    rg__vault_mac(k, m, mac);
    json_object_set_new(m, "mac", json_string(mac));
    state_path(dir, path, sizeof path);
    int rc = rg__vault_put_json(m, path);
    json_decref(m);
    return rc;
}

static void seg_path(const char *dir, long long seq, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%012lld.seg", dir, seq);
}

typedef struct page_ref {
    uint32_t pgno, frame;
} page_ref;

static int by_page_then_newest(const void *a, const void *b)
{
    const page_ref *x = a, *y = b;
    if (x->pgno != y->pgno)
        return x->pgno < y->pgno ? -1 : 1;
    return x->frame > y->frame ? -1 : x->frame < y->frame;
}

/* Writes segment st->next of the frames s found from `from`, and moves st
 * on to its end. */
static int write_segment(const rg__vault_keys *k, const char *dir, const char *store, int fd,
                         const wal_hdr *h, uint32_t from, const scan *s, int64_t began_ms,
                         wstate *st)
{
    size_t n = s->last - from + 1, u = 0;
    page_ref *refs = rg_xmalloc(n * sizeof *refs);
    for (size_t i = 0; i < n; i++)
        refs[i] = (page_ref){s->pgno[i], from + (uint32_t)i};
    qsort(refs, n, sizeof *refs, by_page_then_newest);
    for (size_t i = 0; i < n; i++) /* the newest image of each page */
        if (i == 0 || refs[i].pgno != refs[i - 1].pgno)
            refs[u++] = refs[i];
    int64_t captured = rg_now_ms();
    json_t *meta = json_pack(
        "{s:s, s:s, s:I, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
        "s:I}",
        "store", store, "chain", st->chain, "seq", (json_int_t)st->next, "prev", st->last_hash,
        "first", (json_int_t)from, "last", (json_int_t)s->last, "salt1", (json_int_t)h->salt1,
        "salt2", (json_int_t)h->salt2, "ckseq", (json_int_t)h->ckseq, "page_size",
        (json_int_t)h->page_size, "db_pages", (json_int_t)s->db_pages, "pages", (json_int_t)u,
        "began_ms", (json_int_t)began_ms, "captured_ms", (json_int_t)captured);
    char *text = json_dumps(meta, JSON_SORT_KEYS | JSON_COMPACT);
    json_decref(meta);
    char path[4200], tmp[4300];
    seg_path(dir, st->next, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    rg__vault_writer *w;
    int rc = rg__vault_create(k, tmp, &w);
    unsigned char *page = rg_xmalloc(4 + h->page_size);
    if (rc == 0) {
        size_t len = strlen(text);
        unsigned char l[4] = {(unsigned char)len, (unsigned char)(len >> 8),
                              (unsigned char)(len >> 16), (unsigned char)(len >> 24)};
        rc = rg__vault_write(w, l, 4);
        if (rc == 0)
            rc = rg__vault_write(w, text, len);
        for (size_t i = 0; i < u && rc == 0; i++) {
            put_be(page, refs[i].pgno);
            if (pread(fd, page + 4, h->page_size, frame_off(h, refs[i].frame) + FRAME_HDR) !=
                (ssize_t)h->page_size)
                rc = rg__vault_io_error("cannot read the WAL of", store);
            else
                rc = rg__vault_write(w, page, 4 + h->page_size);
        }
        long long size;
        char hash[RG__VAULT_HASH_HEX];
        if (rc < 0)
            rg__vault_abort(w);
        else if ((rc = rg__vault_finish(w, &size, hash)) == 0) {
            if (rename(tmp, path) != 0)
                rc = rg__vault_io_error("cannot write", path);
            else if ((rc = rg__vault_sync_dir(dir)) == 0) {
                st->next++;
                st->salt1 = h->salt1;
                st->salt2 = h->salt2;
                st->ckseq = h->ckseq;
                st->frame = s->last;
                st->ck[0] = s->ck[0];
                st->ck[1] = s->ck[1];
                st->captured_ms = captured;
                memcpy(st->last_hash, hash, sizeof hash);
                rc = save_state(k, dir, st);
            }
        }
    }
    free(page);
    free(text);
    free(refs);
    return rc;
}

static void new_chain(wstate *st)
{
    unsigned char id[RG__WAL_CHAIN_LEN / 2];
    randombytes_buf(id, sizeof id);
    sodium_bin2hex(st->chain, sizeof st->chain, id, sizeof id);
    st->broken = false;
    st->last_hash[0] = '\0';
}

/* Archives the WAL of the database at path beyond the archived position.
 * The caller holds the store's lock and a transaction that keeps the WAL
 * from starting over. With base, a chain starts at the WAL's end when none
 * runs. 0, 1 (no chain runs and base is false) or RG_E*; *frames: the
 * WAL's frames up to its last commit. */
static int archive_locked(const rg__vault_keys *k, const char *dir, const char *store,
                          const char *path, bool base, int64_t began_ms, uint32_t *frames)
{
    wstate st;
    int rc = load_state(k, dir, &st);
    if (rc < 0)
        return rc;
    char walpath[4200];
    snprintf(walpath, sizeof walpath, "%s-wal", path);
    int fd = open(walpath, O_RDONLY | O_CLOEXEC);
    wal_hdr h;
    bool have = read_hdr(fd, &h) == 0;
    bool running = st.exists && !st.broken;
    uint32_t from = 1, ck[2] = {0, 0};
    *frames = 0;
    if (running && have && h.salt1 == st.salt1 && h.salt2 == st.salt2) {
        /* The same WAL: on from the archived frame, which must still be
         * the one archived. */
        unsigned char fh[FRAME_HDR];
        if (st.frame > 0 &&
            (pread(fd, fh, sizeof fh, frame_off(&h, st.frame)) != (ssize_t)sizeof fh ||
             get_be(fh + 16) != st.ck[0] || get_be(fh + 20) != st.ck[1]))
            running = false;
        from = st.frame + 1;
        ck[0] = st.ck[0];
        ck[1] = st.ck[1];
    } else if (running && have) {
        /* A new WAL: it continues the chain when it is the next one after
         * the archived WAL (a writer that starts the WAL over adds one to
         * the first salt; a WAL made afresh gets random ones), or when the
         * chain began with no WAL. */
        running = h.salt1 == st.salt1 + 1 || (st.salt1 == 0 && st.salt2 == 0 && st.frame == 0);
        ck[0] = h.ck1;
        ck[1] = h.ck2;
    } else if (running) { /* no WAL: fine when the chain began with none */
        running = st.salt1 == 0 && st.salt2 == 0 && st.frame == 0;
    }
    if (st.exists && !st.broken && !running) {
        rg_warn("backup: the WAL of the %s store does not continue what was archived (it was "
                "checkpointed by a process without RG_BACKUP_REPO?); the next full backup "
                "starts a new chain",
                store);
        st.broken = true;
        if ((rc = save_state(k, dir, &st)) < 0)
            goto out;
    }
    if (!running && !base) {
        rc = 1;
        goto out;
    }
    scan s = {0};
    if (!running) { /* a new chain, at the WAL's end */
        new_chain(&st);
        st.salt1 = st.salt2 = st.ckseq = st.frame = 0;
        st.ck[0] = st.ck[1] = 0;
        if (have) {
            scan_wal(fd, &h, 1, (uint32_t[2]){h.ck1, h.ck2}, &s);
            st.salt1 = h.salt1;
            st.salt2 = h.salt2;
            st.ckseq = h.ckseq;
            st.frame = s.last;
            st.ck[0] = s.ck[0];
            st.ck[1] = s.ck[1];
            *frames = s.last;
        }
        st.captured_ms = began_ms;
        rc = save_state(k, dir, &st);
        rg_info("backup: the %s store's capture starts chain %s at segment %lld", store, st.chain,
                st.next);
        free(s.pgno);
        goto out;
    }
    if (have) {
        scan_wal(fd, &h, from, ck, &s);
        *frames = s.last;
        if (s.last >= from)
            rc = write_segment(k, dir, store, fd, &h, from, &s, began_ms, &st);
        free(s.pgno);
    }
out:
    if (fd >= 0)
        close(fd);
    return rc;
}

static int lock_store(const char *dir)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/lock", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return rg__vault_io_error("cannot open", path);
    while (flock(fd, LOCK_EX) != 0)
        if (errno != EINTR) {
            int rc = rg__vault_io_error("cannot lock", path);
            close(fd);
            return rc;
        }
    return fd;
}

static void unlock_store(int fd)
{
    if (fd >= 0)
        close(fd); /* drops the flock */
}

static int store_dir(const char *repo, const char *store, char *out, size_t cap)
{
    if ((size_t)snprintf(out, cap, "%s/wal/%s", repo, store) >= cap)
        return rg_error_set(RG_EINVAL, "RG_BACKUP_REPO is too long");
    return rg__vault_mkdir_p(out);
}

static int exec(sqlite3 *db, const char *sql)
{
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : rg__sqlite_error(db, rc, sql);
}

/* Begins a read transaction on db (a statement must read to begin it). */
static int begin_read(sqlite3 *db)
{
    return exec(db, "BEGIN; SELECT count(*) FROM sqlite_master");
}

int rg__wal_snapshot(const rg__vault_keys *k, const char *repo, const char *store, const char *path,
                     sqlite3 **reader, rg__wal_pos *pos, int64_t *at_ms)
{
    char dir[4096];
    sqlite3 *writer = NULL, *r = NULL;
    *reader = NULL;
    int rc = store_dir(repo, store, dir, sizeof dir), lock = -1;
    if (rc < 0 || (rc = rg__sqlite_open(path, false, true, &writer)) < 0 ||
        (rc = rg__sqlite_open(path, false, true, &r)) < 0 || (rc = lock = lock_store(dir)) < 0)
        goto out;
    /* Writers wait while the WAL is archived to its end and the reader
     * begins there. */
    uint32_t frames;
    if ((rc = exec(writer, "BEGIN IMMEDIATE")) == 0) {
        if ((rc = archive_locked(k, dir, store, path, true, rg_now_ms(), &frames)) == 0 &&
            (rc = begin_read(r)) == 0)
            *at_ms = rg_now_ms();
        exec(writer, "ROLLBACK");
    }
    wstate st;
    if (rc == 0 && (rc = load_state(k, dir, &st)) == 0) {
        snprintf(pos->chain, sizeof pos->chain, "%s", st.chain);
        pos->next = st.next;
    }
out:
    unlock_store(lock);
    sqlite3_close(writer);
    if (rc < 0)
        sqlite3_close(r);
    else
        *reader = r;
    return rc;
}

/* Reads the JSON that opens a segment. */
static int read_meta(rg__vault_reader *r, const char *path, json_t **meta)
{
    unsigned char l[4];
    int rc = rg__vault_read_all(r, l, 4);
    if (rc < 0)
        return rc;
    size_t len = get_le(l);
    if (len > 65536)
        return rg_error_set(RG_EINVAL, "%s is not a segment of this format", path);
    char *text = rg_xmalloc(len + 1);
    if ((rc = rg__vault_read_all(r, text, len)) == 0) {
        text[len] = '\0';
        if (!(*meta = json_loads(text, 0, NULL)))
            rc = rg_error_set(RG_EINVAL, "%s is not a segment of this format", path);
    }
    free(text);
    return rc;
}

int rg__wal_apply(const rg__vault_keys *k, const char *repo, const char *store,
                  const rg__wal_pos *pos, int64_t until_ms, const char *dbfile, int *applied,
                  int64_t *reached_ms)
{
    char dir[4096];
    *applied = 0;
    if ((size_t)snprintf(dir, sizeof dir, "%s/wal/%s", repo, store) >= sizeof dir)
        return rg_error_set(RG_EINVAL, "RG_BACKUP_REPO is too long");
    wstate st;
    int rc = load_state(k, dir, &st);
    if (rc < 0)
        return rc;
    int fd = open(dbfile, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return rg__vault_io_error("cannot write", dbfile);
    unsigned char *page = NULL;
    for (long long seq = pos->next; st.exists && seq < st.next && rc == 0; seq++) {
        char path[4200];
        seg_path(dir, seq, path, sizeof path);
        rg__vault_reader *r;
        json_t *meta = NULL;
        if (access(path, F_OK) != 0) {
            rc = rg_error_set(RG_EINVAL, "segment %lld of the %s store is missing (%s)", seq, store,
                              path);
            break;
        }
        if ((rc = rg__vault_open(k, path, &r)) < 0)
            break;
        if ((rc = read_meta(r, path, &meta)) < 0) {
            rg__vault_close(r);
            break;
        }
        const char *chain = json_string_value(json_object_get(meta, "chain"));
        int64_t captured = jint(meta, "captured_ms");
        if (!chain || strcmp(chain, pos->chain) != 0 || captured > until_ms) {
            json_decref(meta); /* a later chain, or past the target */
            rg__vault_close(r);
            break;
        }
        size_t ps = (size_t)jint(meta, "page_size");
        long long pages = jint(meta, "pages"), db_pages = jint(meta, "db_pages");
        if (ps < 512 || ps > 65536) {
            rc = rg_error_set(RG_EINVAL, "%s is not a segment of this format", path);
        } else {
            page = rg_xrealloc(page, 4 + ps);
            for (long long i = 0; i < pages && rc == 0; i++) {
                if ((rc = rg__vault_read_all(r, page, 4 + ps)) < 0)
                    break;
                uint32_t pgno = get_be(page);
                if (pgno == 0 ||
                    pwrite(fd, page + 4, ps, (off_t)(pgno - 1) * (off_t)ps) != (ssize_t)ps)
                    rc = pgno == 0
                             ? rg_error_set(RG_EINVAL, "%s is not a segment of this format", path)
                             : rg__vault_io_error("cannot write", dbfile);
            }
            unsigned char extra;
            if (rc == 0 && rg__vault_read(r, &extra, 1) != 0)
                rc = rg_error_set(RG_EINVAL, "%s holds more than it says", path);
            if (rc == 0 && ftruncate(fd, (off_t)db_pages * (off_t)ps) != 0)
                rc = rg__vault_io_error("cannot write", dbfile);
        }
        if (rc == 0) {
            (*applied)++;
            *reached_ms = captured;
        }
        json_decref(meta);
        rg__vault_close(r);
    }
    free(page);
    if (rc == 0 && fsync(fd) != 0)
        rc = rg__vault_io_error("cannot write", dbfile);
    close(fd);
    return rc;
}

int rg__wal_verify(const rg__vault_keys *k, const char *repo, const char *store, long long from,
                   FILE *out)
{
    char dir[4096];
    if ((size_t)snprintf(dir, sizeof dir, "%s/wal/%s", repo, store) >= sizeof dir)
        return rg_error_set(RG_EINVAL, "RG_BACKUP_REPO is too long");
    wstate st;
    int rc = load_state(k, dir, &st);
    if (rc < 0 || !st.exists)
        return rc;
    char prev_hash[RG__VAULT_HASH_HEX] = "", prev_chain[RG__WAL_CHAIN_LEN + 1] = "";
    long long n = 0;
    unsigned char *buf = rg_xmalloc(65536);
    for (long long seq = from; seq < st.next && rc == 0; seq++) {
        char path[4200], hash[RG__VAULT_HASH_HEX];
        long long size;
        seg_path(dir, seq, path, sizeof path);
        if (rg__vault_hash_file(path, &size, hash) != 0) {
            rc = rg_error_set(RG_EINVAL, "segment %lld of the %s store is missing", seq, store);
            break;
        }
        rg__vault_reader *r;
        json_t *meta = NULL;
        if ((rc = rg__vault_open(k, path, &r)) < 0)
            break;
        if ((rc = read_meta(r, path, &meta)) == 0) {
            long got;
            while ((got = rg__vault_read(r, buf, 65536)) > 0)
                ;
            rc = got < 0 ? (int)got : 0;
        }
        rg__vault_close(r);
        const char *chain = jstr(meta, "chain");
        const char *prev = jstr(meta, "prev");
        bool same = strcmp(chain, prev_chain) == 0;
        if (rc == 0 && seq > from && strcmp(prev, same ? prev_hash : "") != 0)
            rc = rg_error_set(RG_EINVAL,
                              "segment %lld of the %s store does not follow segment %lld "
                              "(replaced or changed)",
                              seq, store, seq - 1);
        snprintf(prev_hash, sizeof prev_hash, "%s", hash);
        snprintf(prev_chain, sizeof prev_chain, "%s", chain);
        json_decref(meta);
        n++;
    }
    free(buf);
    if (rc == 0 && n > 0 && strcmp(prev_chain, st.chain) == 0 && st.last_hash[0] &&
        strcmp(prev_hash, st.last_hash) != 0)
        rc = rg_error_set(RG_EINVAL, "the last segment of the %s store is not the one archived",
                          store);
    if (rc == 0)
        fprintf(out, "wal %s: %lld segments verified (%lld to %lld)\n", store, n, from,
                st.next - 1);
    return rc;
}

int rg__wal_prune(const char *repo, const char *store, long long keep_from, FILE *out)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/wal/%s", repo, store);
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *e;
    long long removed = 0;
    while ((e = readdir(d))) {
        char *end;
        long long seq = strtoll(e->d_name, &end, 10);
        if (end == e->d_name || (strcmp(end, ".seg") != 0 && strcmp(end, ".seg.tmp") != 0))
            continue;
        if (seq < keep_from || strcmp(end, ".seg.tmp") == 0) {
            char path[4400];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            if (unlink(path) == 0)
                removed++;
        }
    }
    closedir(d);
    if (removed)
        fprintf(out, "removed %lld segments of the %s store older than every backup kept\n",
                removed, store);
    return 0;
}

void rg__wal_describe(const char *repo, const char *store, FILE *out)
{
    char dir[4096], path[4200];
    snprintf(dir, sizeof dir, "%s/wal/%s", repo, store);
    state_path(dir, path, sizeof path);
    json_t *m = json_load_file(path, 0, NULL);
    if (!m)
        return;
    long long first = 0, n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char *end;
        long long seq = strtoll(e->d_name, &end, 10);
        if (end != e->d_name && strcmp(end, ".seg") == 0) {
            first = n == 0 || seq < first ? seq : first;
            n++;
        }
    }
    if (d)
        closedir(d);
    int64_t ms = jint(m, "captured_ms");
    char when[RG_TIME_LEN + 1];
    rg_time_format(ms / 1000, when);
    fprintf(out, "wal %s: chain %s%s, %lld segments (%lld to %lld), captured up to %s\n", store,
            jstr(m, "chain"),
            json_is_true(json_object_get(m, "broken")) ? " (broken: a full backup starts a new one)"
                                                       : "",
            n, first, jint(m, "next") - 1, when);
    json_decref(m);
}

struct rg__wal_archiver {
    rg__vault_keys k;
    char dir[4096];
    char *store, *path;
    sqlite3 *hold, *ckpt; /* the read transaction that bounds the checkpoint; the checkpointer */
};

int rg__wal_archiver_open(const rg__vault_keys *k, const char *repo, const char *store,
                          const char *path, rg__wal_archiver **out)
{
    rg__wal_archiver *a = rg_xcalloc(1, sizeof *a);
    a->k = *k;
    a->store = rg_xstrdup(store);
    a->path = rg_xstrdup(path);
    int rc = store_dir(repo, store, a->dir, sizeof a->dir);
    if (rc == 0 && (rc = rg__sqlite_open(path, false, true, &a->hold)) == 0)
        rc = rg__sqlite_open(path, false, true, &a->ckpt);
    if (rc < 0) {
        rg__wal_archiver_close(a);
        return rc;
    }
    *out = a;
    return 0;
}

int rg__wal_archiver_pass(rg__wal_archiver *a, int64_t *began_ms)
{
    *began_ms = rg_now_ms();
    int rc = begin_read(a->hold);
    if (rc < 0)
        return rc;
    uint32_t frames = 0;
    int lock = lock_store(a->dir);
    if (lock < 0) {
        rc = lock;
    } else {
        rc = archive_locked(&a->k, a->dir, a->store, a->path, false, *began_ms, &frames);
        unlock_store(lock);
    }
    if (rc == 0 && frames >= CHECKPOINT_FRAMES) {
        /* Bounded by the read transaction of a->hold, begun before the WAL
         * was read: nothing past the archive is copied. */
        int log = 0, done = 0;
        int c = sqlite3_wal_checkpoint_v2(a->ckpt, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
        if (c != SQLITE_OK && c != SQLITE_BUSY)
            rg_warn("backup: checkpoint of the %s store: %s", a->store, sqlite3_errmsg(a->ckpt));
    }
    exec(a->hold, "COMMIT");
    return rc;
}

void rg__wal_archiver_close(rg__wal_archiver *a)
{
    if (!a)
        return;
    sqlite3_close(a->hold);
    sqlite3_close(a->ckpt);
    sodium_memzero(&a->k, sizeof a->k);
    free(a->store);
    free(a->path);
    free(a);
}
