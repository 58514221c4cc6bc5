#include "domain.h"
#include "risinggen/store/migrate.h"
#include "risinggen/base/log.h"
#include "risinggen/base/error.h"

#include <string.h>

static const rg_doc_index indexes[] = {
    {COLL_USERS, "email", true},
    {COLL_USERS, "churchId", false},
    {COLL_AUTH, "userId", true},
    {COLL_AUTH, "churchAccountId", false},
    {COLL_SESSIONS, "userId", false},
    {COLL_SESSIONS, "familyId", false},
    /* accounts and privacy (accounts.c): a reset token is found by its hash;
     * what a person wrote is found for their export and erasure */
    {COLL_AUTH, "passwordResetToken", false},
    {"messages", "sender.userId", false},
    {"feedback", "userId", false},
    {"channels", "createdBy", false},
    /* end of accounts and privacy */
    /* channels, messages, content, feedback (comms.c, content.c) */
    {COLL_CHANNELS, "eventId", true},
    {COLL_CHANNELS, "organizerId", false},
    {COLL_MESSAGES, "channelId", false},
    {COLL_MESSAGES, "sentAt", false},
    {COLL_MESSAGES, "metadata.deliveryStatus", false},
    {COLL_RESOURCES, "createdBy", false},
    {COLL_FEEDBACK, "key", true},
    {COLL_FEEDBACK, "eventId", false},
    /* end of channels, messages, content, feedback */
};

/* RETURNING: the capacity rule and every insert read back what they wrote.
 * Unique indexes: one account per e-mail, one channel per event, one
 * feedback per person and event. */
static const rg_store_needs needs = {
    .rel_caps = RG_REL_CAP_RETURNING,
    .doc_caps = RG_DOC_CAP_UNIQUE,
    .indexes = indexes,
    .nindexes = (int)(sizeof indexes / sizeof indexes[0]),
};

const rg_store_needs *rg_app_store_needs(void)
{
    return &needs;
}

int rg_app_open(rg_app *app, const rg_config *cfg, bool migrate)
{
    memset(app, 0, sizeof *app);
    app->cfg = cfg;
    app->access_ttl = 900;
    app->refresh_ttl = 30 * 86400;
    app->hold_sweep_ms = 30000;
    int rc = rg_stores_open(&app->st, cfg, &needs);
    if (rc < 0)
        return rc;
    if (migrate) {
        int applied = 0;
        rc = rg_migrate_up(&app->st.rel, &applied);
        if (rc == 0 && applied)
            rg_info("applied %d migration%s", applied, applied == 1 ? "" : "s");
    } else {
        rc = rg_migrate_check(&app->st.rel);
    }
    if (rc < 0) {
        rg_err("schema: %s", rg_error_detail());
        rg_stores_close(&app->st);
        return rc;
    }
    /* accounts and privacy: erasures a previous run left unfinished */
    int erased = rg_erasure_resume(app, 0);
    if (erased > 0)
        rg_info("finished %d interrupted erasure%s", erased, erased == 1 ? "" : "s");
    else if (erased < 0)
        rg_warn("interrupted erasures not finished now: %s (the sweep tries again)",
                rg_error_detail());
    rg_error_clear();
    /* end of accounts and privacy */
    return 0;
}

void rg_app_close(rg_app *app)
{
    rg_stores_close(&app->st);
}

int rg_app_ready(rg_app *app, json_t **out)
{
    int r = rg_rel_ping(&app->st.rel), d = rg_docs_ping(&app->st.docs),
        c = rg_cache_ping(&app->st.cache), s = rg_search_ping(&app->st.search);
    rg_error_clear();
    *out = json_pack("{s:s, s:s, s:s, s:s}", "relational", r < 0 ? "down" : "up", "documents",
                     d < 0 ? "down" : "up", "cache", c < 0 ? "down" : "up", "search",
                     s < 0 ? "down" : "up");
    return (r < 0 || d < 0 || c < 0 || s < 0) ? RG_EUNAVAIL : 0;
}
