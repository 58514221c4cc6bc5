/* The application object: the stores and the outbound integrations chosen
 * from the settings, the start-up work, readiness, and the request context
 * (read-your-writes). */
#include "domain.h"
#include "event_record.h"
#include "registration_admit.h"
#include "risinggen/base/metrics.h"
#include "risinggen/base/error.h"
#include "risinggen/base/log.h"
#include "risinggen/domain/jobs.h"
#include "risinggen/store/migrate.h"

#include <stdlib.h>
#include <string.h>

/* How long a person's reads go to the primary after a change they made. */
#define READ_OWN_WRITES_MS 5000

static const rg_doc_index indexes[] = {
    {COLL_USERS, "email", true},
    {COLL_USERS, "churchId", false},
    {COLL_AUTH, "userId", true},
    {COLL_AUTH, "churchAccountId", false},
    {COLL_SESSIONS, "userId", false},
    {COLL_SESSIONS, "familyId", false},
    /* a reset token is found by its hash (password_reset.c) */
    {COLL_AUTH, "passwordResetToken", false},
    /* what a person wrote, for their export and erasure */
    {COLL_MESSAGES, "sender.userId", false},
    {COLL_FEEDBACK, "userId", false},
    {COLL_CHANNELS, "createdBy", false},
    /* channels, messages, content, feedback */
    {COLL_CHANNELS, "eventId", true},
    {COLL_CHANNELS, "organizerId", false},
    {COLL_MESSAGES, "channelId", false},
    {COLL_MESSAGES, "sentAt", false},
    {COLL_MESSAGES, "metadata.deliveryStatus", false},
    {COLL_RESOURCES, "createdBy", false},
    {COLL_FEEDBACK, "key", true},
    {COLL_FEEDBACK, "eventId", false},
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

/* The outbound integrations the settings choose. */
static int open_outbound(rg_app *app)
{
    const rg_config *cfg = app->cfg;
    int rc = rg_payment_providers_enable(&app->providers, cfg->payments_providers);
    if (rc == 0)
        rc = rg_mailer_open(&app->mailer, cfg->smtp_url, cfg->smtp_from);
    if (rc == 0)
        rc = rg_jwks_open(&app->jwks, cfg->sso_jwks);
    return rc;
}

int rg_app_open(rg_app *app, const rg_config *cfg, bool migrate)
{
    rg_metrics_set_slow_ms(cfg->slow_ms);
    memset(app, 0, sizeof *app);
    app->cfg = cfg;
    app->access_ttl = 900;
    app->refresh_ttl = 30 * 86400;
    int rc = open_outbound(app);
    if (rc < 0) {
        rg_app_close(app);
        return rc;
    }
    if ((rc = rg_stores_open(&app->st, cfg, &needs)) < 0) {
        rg_app_close(app);
        return rc;
    }
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
        rg_app_close(app);
        return rc;
    }
    app->two_phase = rg_rel_two_phase(&app->st.rel) == 1 && rg_docs_two_phase(&app->st.docs) == 1;
    rg_error_clear();
    if (!app->two_phase && (app->st.rel.ops->caps & RG_REL_CAP_PREPARED_TX) &&
        (app->st.docs.ops->caps & RG_DOC_CAP_PREPARED))
        rg_info("two-phase commit is off: the PostgreSQL servers have "
                "max_prepared_transactions = 0 (docs/operations.md)");
    app->sold_out = rg__sold_out_new();
    app->admit_rows = rg__admit_rows_new();
    app->admit_groups = rg__admit_groups_new();
    rg_jobs_at_start(app);
    return 0;
}

void rg_app_close(rg_app *app)
{
    rg_stores_close(&app->st);
    rg__sold_out_free(app->sold_out);
    app->sold_out = NULL;
    rg__admit_rows_free(app->admit_rows);
    app->admit_rows = NULL;
    rg__admit_groups_free(app->admit_groups);
    app->admit_groups = NULL;
    rg_mailer_close(&app->mailer);
    rg_jwks_close(app->jwks);
    app->jwks = NULL;
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

void rg_ctx_begin(rg_app *app, rg_ctx *ctx, const rg_principal *who)
{
    memset(ctx, 0, sizeof *ctx);
    if (who)
        ctx->who = *who;
    if (!ctx->who.user_id[0])
        return;
    char key[40], *v = NULL;
    size_t len;
    rg__wrote_key(ctx->who.user_id, key, sizeof key);
    ctx->read_own_writes = rg_cache_get(&app->st.cache, key, &v, &len) == 0;
    free(v);
    rg_error_clear();
}

void rg_ctx_wrote(rg_app *app, const rg_ctx *ctx)
{
    if (!ctx->who.user_id[0])
        return;
    char key[40];
    rg__wrote_key(ctx->who.user_id, key, sizeof key);
    rg_cache_set(&app->st.cache, key, "1", 1, READ_OWN_WRITES_MS);
    rg_error_clear();
}

rg_ctx rg_ctx_for(const rg_principal *who)
{
    rg_ctx ctx = {.read_own_writes = true};
    if (who)
        ctx.who = *who;
    return ctx;
}
