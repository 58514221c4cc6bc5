/* The signing keys of the church's identity provider (RG_SSO_JWKS): a file
 * path, read on every use, or an https:// URL fetched with libcurl and kept
 * for 10 minutes (fetched again, at most every 30 s, when a token names a
 * key the kept set lacks, so that a rotated key works at once; the kept set
 * stays in use while the provider cannot be reached). Plain http:// is
 * accepted only for a loopback host (127.0.0.1, localhost, ::1: a provider
 * or test double on this machine); any other http:// URL is refused, as
 * are redirects off https. */
#include "risinggen/outbound/jwks.h"
#include "risinggen/base/alloc.h"
#include "risinggen/base/buf.h"
#include "risinggen/base/clock.h"
#include "risinggen/base/error.h"
#include "risinggen/base/log.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define JWKS_MAX         (1024 * 1024)
#define JWKS_TTL_S       600
#define JWKS_REFETCH_S   30
#define JWKS_FETCH_TIMEO 5L

struct rg_jwks {
    char *source;
    bool remote;
    pthread_mutex_t lock; /* guards kept, kept_at; one fetch at a time */
    json_t *kept;         /* the last set fetched from the URL */
    int64_t kept_at;
};

struct fetch_buf {
    rg_buf b;
    bool too_big;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t fetch_write(char *ptr, size_t size, size_t nmemb, void *p)
{
    struct fetch_buf *f = p;
    size_t n = size * nmemb;
    if (f->b.len + n > JWKS_MAX) {
        f->too_big = true;
        return 0;
    }
    rg_buf_put(&f->b, ptr, n);
    return n;
}

/* Whether src is a URL (http:// or https://) rather than a file path. */
static bool jwks_is_url(const char *src)
{
    return strncmp(src, "https://", 8) == 0 || strncmp(src, "http://", 7) == 0;
}

/* Whether url is http:// to a loopback host. The host is taken by libcurl's
 * own parser, so "http://127.0.0.1@elsewhere/" names elsewhere. */
static bool loopback_http(const char *url)
{
    if (strncmp(url, "http://", 7) != 0)
        return false;
    CURLU *u = curl_url();
    char *host = NULL;
    bool ok = u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host &&
              (strcmp(host, "127.0.0.1") == 0 || strcasecmp(host, "localhost") == 0 ||
               strcmp(host, "[::1]") == 0 || strcmp(host, "::1") == 0);
    curl_free(host);
    curl_url_cleanup(u);
    return ok;
}

static int fetch_url(const char *url, json_t **out)
{
    bool http = strncmp(url, "http://", 7) == 0;
    if (http && !loopback_http(url)) {
        rg_err("sso: RG_SSO_JWKS must be an https:// URL (plain http only for a loopback host)");
        return rg_error_set(RG_EUNAVAIL, "church sign-in is not available now");
    }
    pthread_once(&curl_once, curl_init);
    CURL *h = curl_easy_init();
    if (!h)
        return rg_error_set(RG_EUNAVAIL, "the sign-in keys cannot be fetched now");
    struct fetch_buf f = {0};
    char err[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, http ? "http" : "https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 3L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 3L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, JWKS_FETCH_TIMEO);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)JWKS_MAX);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, fetch_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &f);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, err);
    CURLcode cc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    json_t *set = NULL;
    if (cc == CURLE_OK && status == 200 && !f.too_big)
        set = json_loadb(f.b.data ? f.b.data : "", f.b.len, 0, NULL);
    rg_buf_free(&f.b);
    if (!json_is_object(set)) {
        rg_warn("sso: the key set at RG_SSO_JWKS could not be fetched: %s (HTTP %ld)",
                cc != CURLE_OK ? (err[0] ? err : curl_easy_strerror(cc))
                               : (f.too_big ? "too large" : "not a JSON object"),
                status);
        json_decref(set);
        return rg_error_set(RG_EUNAVAIL, "the sign-in keys cannot be fetched now");
    }
    *out = set;
    return 0;
}

static int read_file(const char *path, json_t **out)
{
    struct stat st;
    json_error_t e;
    json_t *set = NULL;
    if (stat(path, &st) == 0 && st.st_size <= JWKS_MAX)
        set = json_load_file(path, 0, &e);
    if (!json_is_object(set)) {
        rg_err("sso: RG_SSO_JWKS does not name a readable JSON key set file");
        json_decref(set);
        return rg_error_set(RG_EUNAVAIL, "church sign-in is not available now");
    }
    *out = set;
    return 0;
}

int rg_jwks_keys(rg_jwks *j, bool refresh, json_t **out)
{
    *out = NULL;
    if (!j)
        return rg_error_set(RG_EUNAVAIL, "church sign-in is not available now");
    if (!j->remote)
        return read_file(j->source, out);
    pthread_mutex_lock(&j->lock);
    int64_t now = rg_now();
    bool fresh = j->kept && now - j->kept_at < JWKS_TTL_S;
    if (fresh && (!refresh || now - j->kept_at < JWKS_REFETCH_S)) {
        *out = json_incref(j->kept);
        pthread_mutex_unlock(&j->lock);
        return 0;
    }
    /* One fetch at a time; others wait for its answer. */
    json_t *set;
    int rc = fetch_url(j->source, &set);
    if (rc == 0) {
        json_decref(j->kept);
        j->kept = json_incref(set);
        j->kept_at = now;
        *out = set;
    } else if (j->kept) { /* keep using the set we have while the provider is away */
        rg_error_clear();
        *out = json_incref(j->kept);
        rc = 0;
    }
    pthread_mutex_unlock(&j->lock);
    return rc;
}

int rg_jwks_open(rg_jwks **out, const char *source)
{
    *out = NULL;
    if (!source || !*source)
        return 0;
    bool remote = jwks_is_url(source);
    if (remote && strncmp(source, "http://", 7) == 0 && !loopback_http(source))
        return rg_error_set(RG_EINVAL, "RG_SSO_JWKS must be an https:// URL (plain http only for "
                                       "a loopback host) or a file");
    rg_jwks *j = rg_xcalloc(1, sizeof *j);
    j->source = rg_xstrdup(source);
    j->remote = remote;
    pthread_mutex_init(&j->lock, NULL);
    if (remote)
        pthread_once(&curl_once, curl_init);
    *out = j;
    return 0;
}

bool rg_jwks_remote(const rg_jwks *j)
{
    return j && j->remote;
}

void rg_jwks_close(rg_jwks *j)
{
    if (!j)
        return;
    json_decref(j->kept);
    pthread_mutex_destroy(&j->lock);
    free(j->source);
    free(j);
}
