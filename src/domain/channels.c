/* Channels (documents store): GET/POST /v1/channels, the channel of an
 * event.
 *
 * channels/<id>: {schemaVersion, type: "event"|"group", name, description,
 * eventId (event channels; unique), organizerId, members (group channels),
 * createdBy, createdAt, updatedAt}. A published event gets its channel
 * automatically (rg__event_channel_ensure, from the publish path). */
#include "risinggen/domain/channels.h"
#include "channel_record.h"
#include "domain.h"
#include "event_record.h"
#include "risinggen/base/clock.h"
#include "risinggen/base/error.h"
#include "risinggen/base/id.h"
#include "user_record.h"

#include <string.h>

#define MAX_GROUP_MEMBERS 500

static const char *const channel_fields[] = {"name", "description", "eventId", "members", NULL};

int rg_event_channel(rg_app *app, const rg_ctx *ctx, const char *event_id, json_t **out)
{
    const rg_principal *who = &ctx->who;
    int64_t eid;
    if (!rg_parse_id(event_id, &eid))
        return rg_error_set(RG_ENOTFOUND, "no such event");
    char id[RG_OID_LEN + 1];
    json_t *doc = NULL;
    int rc = rg__event_channel_find(app, eid, id, &doc);
    if (rc == RG_ENOTFOUND) {
        /* Published before channels existed, or the publish could not make
         * it: made now. */
        rg_rows *ev;
        if ((rc = rg__event_row(app, NULL, eid, &ev)) < 0)
            return rc;
        bool published = strcmp(rg_rows_get(ev, 0, "status"), "draft") != 0;
        if (!rg__event_visible(who, ev))
            rc = rg_error_set(RG_ENOTFOUND, "no such event");
        else if (published)
            rc = rg__event_channel_ensure(app, eid, rg_rows_get(ev, 0, "title"),
                                          rg_rows_get(ev, 0, "organizer_id"), id);
        else
            rc = rg_error_set(RG_ENOTFOUND, "the event has no channel until it is published");
        rg_rows_free(ev);
        if (rc == 0)
            rc = rg_docs_get(&app->st.docs, COLL_CHANNELS, id, &doc, NULL);
    }
    if (rc < 0)
        return rc;
    enum rg_channel_access acc;
    rc = rg__channel_access(app, who, doc, &acc);
    if (rc == 0 && acc == ACC_NONE) {
        /* Whether a private event exists is not told either. */
        rg_rows *ev = NULL;
        rc = rg__event_row(app, NULL, eid, &ev);
        if (rc == 0)
            rc = rg__event_visible(who, ev) ? rg_error_set(RG_ENOTFOUND, "no such channel")
                                            : rg_error_set(RG_ENOTFOUND, "no such event");
        rg_rows_free(ev);
    }
    if (rc == 0)
        *out = rg__channel_view(id, doc);
    json_decref(doc);
    return rc;
}

int rg_channel_create(rg_app *app, const rg_ctx *ctx, json_t *body, json_t **out)
{
    const rg_principal *who = &ctx->who;
    if (!(who->roles & (RG_ROLE_ORGANIZER | RG_ROLE_ADMIN)))
        return rg_error_set(RG_EFORBIDDEN, "only organizers and admins create channels");
    if (!json_is_object(body))
        return v_not_object(body);
    v_ctx v = {0};
    v_only(&v, body, channel_fields);
    const char *name = NULL, *description = NULL;
    int64_t event_id = 0;
    bool has_event = false;
    v_int(&v, body, "eventId", false, 1, INT32_MAX, &event_id, &has_event);
    v_string(&v, body, "name", !has_event, 1, 200, &name);
    v_string(&v, body, "description", false, 0, 2000, &description);
    json_t *members = json_object_get(body, "members");
    json_t *list = json_array();
    if (members && !json_is_null(members)) {
        if (has_event) {
            v_fail(&v, "members", "an event's channel has the event's attendees as members");
        } else if (!json_is_array(members) || json_array_size(members) > MAX_GROUP_MEMBERS) {
            v_fail(&v, "members", "must be an array of at most 500 user ids");
        } else {
            size_t i, j;
            json_t *m, *e;
            json_array_foreach(members, i, m)
            {
                const char *s = json_string_value(m);
                if (!s || !rg_oid_valid(s)) {
                    v_fail(&v, "members", "each member must be a user id");
                    break;
                }
                bool dup = strcmp(s, who->user_id) == 0;
                json_array_foreach(list, j, e) dup |= strcmp(json_string_value(e), s) == 0;
                if (!dup)
                    json_array_append_new(list, json_string(s));
            }
        }
    }
    int rc = v_finish(&v);
    if (rc < 0)
        goto done;
    char id[RG_OID_LEN + 1], now[RG_TIME_LEN + 1];
    if (has_event) {
        rg_rows *ev;
        if ((rc = rg__event_row(app, NULL, event_id, &ev)) < 0) {
            if (rc != RG_ENOTFOUND)
                goto done;
            rg_error_clear();
            rg_error_field("eventId", "no such event");
            rc = rg_error_set(RG_EVALIDATION, "the event does not exist");
            goto done;
        }
        const char *org = rg_rows_get(ev, 0, "organizer_id");
        if (!rg_manages(who, org)) {
            rg_rows_free(ev);
            rc = rg_error_set(RG_EFORBIDDEN, "only the event's organizer or an admin can do this");
            goto done;
        }
        rc = rg__event_channel_insert(app, event_id, name ? name : rg_rows_get(ev, 0, "title"), org,
                                      who->user_id, description, id);
        rg_rows_free(ev);
        if (rc == RG_ECONFLICT) {
            rg_error_clear();
            rg_error_field("eventId", "already has a channel");
            rc = rg_error_set(RG_ECONFLICT, "the event already has its channel");
        }
        if (rc < 0)
            goto done;
    } else {
        size_t i;
        json_t *m;
        json_array_foreach(list, i, m)
        {
            json_t *u;
            if ((rc = rg__user_load(app, json_string_value(m), &u)) < 0) {
                if (rc == RG_ENOTFOUND) {
                    rg_error_clear();
                    rg_error_field("members", "no such user: %s", json_string_value(m));
                    rc = rg_error_set(RG_EVALIDATION, "a member does not exist");
                }
                goto done;
            }
            json_decref(u);
        }
        rg_oid_new(id);
        rg__now_text(now);
        json_t *doc =
            json_pack("{s:i, s:s, s:s, s:s?, s:s, s:O, s:s, s:s, s:s}", "schemaVersion",
                      CHANNEL_SCHEMA_VERSION, "type", "group", "name", name, "description",
                      description, "organizerId", who->user_id, "members", list, "createdBy",
                      who->user_id, "createdAt", now, "updatedAt", now);
        if ((rc = rg__channel_check(doc)) == 0)
            rc = rg_docs_insert(&app->st.docs, COLL_CHANNELS, id, doc);
        json_decref(doc);
        if (rc < 0)
            goto done;
    }
    json_t *doc;
    if ((rc = rg_docs_get(&app->st.docs, COLL_CHANNELS, id, &doc, NULL)) < 0)
        goto done;
    *out = rg__channel_view(id, doc);
    json_decref(doc);
done:
    json_decref(list);
    return rc;
}

int rg_channel_get(rg_app *app, const rg_ctx *ctx, const char *id, json_t **out)
{
    const rg_principal *who = &ctx->who;
    json_t *doc;
    enum rg_channel_access acc;
    int rc = rg__channel_open(app, who, id, &doc, &acc);
    if (rc < 0)
        return rc;
    *out = rg__channel_view(id, doc);
    json_decref(doc);
    return 0;
}
