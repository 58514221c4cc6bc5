/* A person's profile document (users/<id>) as the domain's modules share
 * it: loading it through the cache ("u:<id>", versioned so that a reader
 * that raced a write never puts stale data back), its public shape, and the
 * rules of its fields. */
#include "user_record.h"
#include "risinggen/base/clock.h"
#include "risinggen/base/error.h"

#include <stdlib.h>
#include <string.h>

/* A profile is checked against its version on every read, so on a cache
 * every instance shares its TTL bounds memory, not staleness: it is kept
 * for as long as an access token lives (app->access_ttl), so that a person
 * signed in does not wait for their document on the first request after a
 * quiet minute (the click that opens a sold-out rush). A process with a
 * cache of its own does not see other processes' versions move: then
 * USER_CACHE_TTL_MS bounds how old a profile (and its roles) may be
 * (docs/design/caching.md). */
#define USER_CACHE_TTL_MS 60000

static const char *const gender_values[] = {"male", "female", "other", "unspecified", NULL};

static void user_key(const char *id, char *key, size_t cap)
{
    snprintf(key, cap, "u:%s", id);
}

json_t *rg__user_view(const char *id, json_t *doc)
{
    json_t *v = json_deep_copy(doc);
    json_object_del(v, "schemaVersion");
    json_t *out = json_pack("{s:s}", "id", id);
    json_object_update(out, v);
    json_decref(v);
    return out;
}

void rg__user_cache_keys(const char *id, char *key, char *verkey)
{
    user_key(id, key, RG_USER_KEY_LEN);
    snprintf(verkey, RG_USER_KEY_LEN, "uv:%s", id);
}

int rg__user_load_fetched(rg_app *app, const char *id, char *ver, char *entry, size_t elen,
                          json_t **out)
{
    char key[RG_USER_KEY_LEN], verkey[RG_USER_KEY_LEN];
    rg__user_cache_keys(id, key, verkey);
    char *val = NULL;
    size_t len;
    int64_t version;
    if (rg_vcache_take(ver, entry, elen, &val, &len, &version) == 0) {
        *out = json_loadb(val, len, 0, NULL);
        free(val);
        if (*out)
            return 0;
    }
    json_t *doc;
    int rc = rg_docs_get(&app->st.docs, COLL_USERS, id, &doc, NULL);
    if (rc < 0)
        return rc;
    char *text = json_dumps(doc, JSON_COMPACT);
    if (text) {
        bool shared = app->st.cache.ops->caps & RG_CACHE_CAP_SHARED;
        rg_vcache_set(app, key, version, text, strlen(text),
                      shared ? (int64_t)app->access_ttl * 1000 : USER_CACHE_TTL_MS);
        free(text);
    }
    *out = doc;
    return 0;
}

int rg__user_load(rg_app *app, const char *id, json_t **out)
{
    char key[RG_USER_KEY_LEN], verkey[RG_USER_KEY_LEN];
    rg__user_cache_keys(id, key, verkey);
    const char *keys[] = {verkey, key};
    char *v[2];
    size_t l[2];
    rg_cache_get_many(&app->st.cache, keys, 2, v, l);
    return rg__user_load_fetched(app, id, v[0], v[1], l[1], out);
}

void rg__user_uncache(rg_app *app, const char *id)
{
    char key[RG_USER_KEY_LEN], verkey[RG_USER_KEY_LEN];
    rg__user_cache_keys(id, key, verkey);
    rg_vcache_bump(app, verkey);
    rg_cache_del(&app->st.cache, key);
}

void rg__normalize_email(const char *in, char *out, size_t cap)
{
    size_t i;
    for (i = 0; in[i] && i + 1 < cap; i++)
        out[i] = (char)((in[i] >= 'A' && in[i] <= 'Z') ? in[i] + 32 : in[i]);
    out[i] = '\0';
}

json_t *rg__default_preferences(void)
{
    return json_pack("{s:s, s:{s:b, s:b, s:b}, s:{s:b, s:b}}", "language", "en", "notifications",
                     "email", 1, "push", 1, "sms", 0, "privacy", "shareContact", 0, "shareProfile",
                     0);
}

void rg__merge_defaults(json_t *dst, json_t *defaults)
{
    const char *k;
    json_t *v;
    json_object_foreach(defaults, k, v)
    {
        json_t *cur = json_object_get(dst, k);
        if (!cur)
            json_object_set(dst, k, v);
        else if (json_is_object(cur) && json_is_object(v))
            rg__merge_defaults(cur, v);
    }
}

int rg__validate_profile(v_ctx *v, json_t *body)
{
    v_string(v, body, "firstName", false, 1, 100, NULL);
    v_string(v, body, "lastName", false, 1, 100, NULL);
    v_string(v, body, "churchId", false, 1, 64, NULL);
    const char *dob = NULL;
    if (v_date(v, body, "dateOfBirth", false, &dob) && dob) {
        int age = rg_age_at(dob, rg_now());
        if (age < 0 || age > 130)
            v_fail(v, "dateOfBirth", "must be a past date");
    }
    v_enum(v, body, "gender", false, gender_values, NULL);
    /* Only the seed's members, so that a profile stays a few hundred bytes
     * (it is read on every request and in every attendee list). */
    static const char *const contact_fields[] = {"phone", "address", NULL};
    static const char *const address_fields[] = {"street", "city", "country", "postalCode", NULL};
    static const char *const unit_fields[] = {"unitNumber", "wardName", "stakeName", NULL};
    static const char *const pref_fields[] = {"language", "notifications", "privacy", NULL};
    static const char *const notif_fields[] = {"email", "push", "sms", NULL};
    static const char *const privacy_fields[] = {"shareContact", "shareProfile", NULL};
    json_t *contact = NULL, *unit = NULL, *prefs = NULL;
    if (v_object(v, body, "contact", &contact) && contact) {
        v_only_at(v, contact, "contact", contact_fields);
        v_string(v, contact, "phone", false, 3, 32, NULL);
        json_t *addr = NULL;
        if (v_object(v, contact, "address", &addr) && addr) {
            v_only_at(v, addr, "contact.address", address_fields);
            v_string(v, addr, "street", false, 1, 200, NULL);
            v_string(v, addr, "city", false, 1, 100, NULL);
            v_string(v, addr, "country", false, 1, 100, NULL);
            v_string(v, addr, "postalCode", false, 1, 20, NULL);
        }
    }
    if (v_object(v, body, "churchUnit", &unit) && unit) {
        v_only_at(v, unit, "churchUnit", unit_fields);
        v_string(v, unit, "unitNumber", false, 1, 32, NULL);
        v_string(v, unit, "wardName", false, 1, 120, NULL);
        v_string(v, unit, "stakeName", false, 1, 120, NULL);
    }
    if (v_object(v, body, "preferences", &prefs) && prefs) {
        v_only_at(v, prefs, "preferences", pref_fields);
        v_string(v, prefs, "language", false, 2, 10, NULL);
        json_t *n = NULL, *p = NULL;
        if (v_object(v, prefs, "notifications", &n) && n) {
            v_only_at(v, n, "preferences.notifications", notif_fields);
            bool b;
            v_bool(v, n, "email", &b, NULL);
            v_bool(v, n, "push", &b, NULL);
            v_bool(v, n, "sms", &b, NULL);
        }
        if (v_object(v, prefs, "privacy", &p) && p) {
            v_only_at(v, p, "preferences.privacy", privacy_fields);
            bool b;
            v_bool(v, p, "shareContact", &b, NULL);
            v_bool(v, p, "shareProfile", &b, NULL);
        }
    }
    return 0;
}

unsigned rg_roles_from_json(json_t *roles)
{
    unsigned r = 0;
    size_t i;
    json_t *x;
    json_array_foreach(roles, i, x)
    {
        const char *s = json_string_value(x);
        if (!s)
            continue;
        if (strcmp(s, "participant") == 0)
            r |= RG_ROLE_PARTICIPANT;
        else if (strcmp(s, "organizer") == 0)
            r |= RG_ROLE_ORGANIZER;
        else if (strcmp(s, "admin") == 0)
            r |= RG_ROLE_ADMIN;
    }
    return r;
}
