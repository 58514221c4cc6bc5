/* The route table: the one place that says which routes exist, who may call
 * them and which handler serves them. docs/openapi.yaml and the
 * authorization tests follow it. */
#include "handlers.h"
#include "risinggen/base/error.h"
#include "risinggen/base/alloc.h"

#include <stdio.h>
#include <string.h>

#define R(m, p, h, a)                                                                              \
    {                                                                                              \
        m, p, h, a, m " " p                                                                        \
    }

const rg_route rg_routes[] = {
    R("GET", "/healthz", rg_h_healthz, RG_AUTH_NONE),
    R("GET", "/readyz", rg_h_readyz, RG_AUTH_NONE),
    R("GET", "/metrics", rg_h_metrics, RG_AUTH_NONE),
    R("GET", "/console", rg_h_console, RG_AUTH_NONE),
    R("GET", "/console/console.js", rg_h_console_js, RG_AUTH_NONE),
    R("GET", "/console/console.css", rg_h_console_css, RG_AUTH_NONE),
    R("GET", "/console/data", rg_h_console_data, RG_AUTH_REQUIRED),
    R("GET", "/console/indexes", rg_h_console_indexes, RG_AUTH_REQUIRED),

    R("POST", "/v1/auth/signup", rg_h_signup, RG_AUTH_NONE),
    R("POST", "/v1/auth/login", rg_h_login, RG_AUTH_NONE),
    R("POST", "/v1/auth/refresh", rg_h_refresh, RG_AUTH_NONE),
    R("POST", "/v1/auth/logout", rg_h_logout, RG_AUTH_REQUIRED),

    R("GET", "/v1/users/me", rg_h_me_get, RG_AUTH_REQUIRED),
    R("PATCH", "/v1/users/me", rg_h_me_patch, RG_AUTH_REQUIRED),
    R("GET", "/v1/users/{id}", rg_h_user_get, RG_AUTH_REQUIRED),
    R("PATCH", "/v1/users/{id}", rg_h_user_patch, RG_AUTH_REQUIRED),
    R("GET", "/v1/users/{id}/registrations", rg_h_user_registrations, RG_AUTH_REQUIRED),
    R("GET", "/v1/users/{id}/preferences", rg_h_user_preferences, RG_AUTH_REQUIRED),

    R("POST", "/v1/venues", rg_h_venue_create, RG_AUTH_REQUIRED),
    R("GET", "/v1/venues", rg_h_venue_list, RG_AUTH_OPTIONAL),
    R("GET", "/v1/venues/{id}", rg_h_venue_get, RG_AUTH_OPTIONAL),

    R("POST", "/v1/events", rg_h_event_create, RG_AUTH_REQUIRED),
    R("GET", "/v1/events", rg_h_event_list, RG_AUTH_OPTIONAL),
    R("GET", "/v1/events/{id}", rg_h_event_get, RG_AUTH_OPTIONAL),
    R("PATCH", "/v1/events/{id}", rg_h_event_patch, RG_AUTH_REQUIRED),
    R("GET", "/v1/events/{id}/attendees", rg_h_event_attendees, RG_AUTH_REQUIRED),
    R("GET", "/v1/events/{id}/stats", rg_h_event_stats, RG_AUTH_REQUIRED),
    R("POST", "/v1/events/{id}/registrations", rg_h_registration_create, RG_AUTH_REQUIRED),

    R("GET", "/v1/registrations/{id}", rg_h_registration_get, RG_AUTH_REQUIRED),
    R("POST", "/v1/registrations/{id}/cancel", rg_h_registration_cancel, RG_AUTH_REQUIRED),
    R("POST", "/v1/registrations/{id}/check-in", rg_h_registration_check_in, RG_AUTH_REQUIRED),

    /* payments */
    R("POST", "/v1/payments", rg_h_payment_create, RG_AUTH_REQUIRED),
    R("GET", "/v1/payments/{id}", rg_h_payment_get, RG_AUTH_REQUIRED),
    R("POST", "/v1/payments/{id}/refund", rg_h_payment_refund, RG_AUTH_REQUIRED),
    R("POST", "/v1/webhooks/payments/{provider}", rg_h_payment_webhook, RG_AUTH_NONE),
    R("GET", "/v1/users/{id}/payments", rg_h_user_payments, RG_AUTH_REQUIRED),
    R("GET", "/v1/events/{id}/finance", rg_h_event_finance, RG_AUTH_REQUIRED),

    /* channels, messages, content, feedback, search */
    R("POST", "/v1/channels", rg_h_channel_create, RG_AUTH_REQUIRED),
    R("GET", "/v1/channels/{id}", rg_h_channel_get, RG_AUTH_REQUIRED),
    R("GET", "/v1/channels/{id}/messages", rg_h_message_list, RG_AUTH_REQUIRED),
    R("POST", "/v1/channels/{id}/messages", rg_h_message_post, RG_AUTH_REQUIRED),
    R("GET", "/v1/messages/{id}", rg_h_message_get, RG_AUTH_REQUIRED),
    R("POST", "/v1/messages/{id}/read", rg_h_message_read, RG_AUTH_REQUIRED),
    R("GET", "/v1/events/{id}/channel", rg_h_event_channel, RG_AUTH_REQUIRED),
    R("POST", "/v1/resources", rg_h_resource_create, RG_AUTH_REQUIRED),
    R("GET", "/v1/resources/{id}", rg_h_resource_get, RG_AUTH_OPTIONAL),
    R("PATCH", "/v1/resources/{id}", rg_h_resource_patch, RG_AUTH_REQUIRED),
    R("DELETE", "/v1/resources/{id}", rg_h_resource_delete, RG_AUTH_REQUIRED),
    R("POST", "/v1/events/{id}/feedback", rg_h_feedback_create, RG_AUTH_REQUIRED),
    R("GET", "/v1/events/{id}/feedback", rg_h_feedback_list, RG_AUTH_REQUIRED),
    R("GET", "/v1/search", rg_h_search, RG_AUTH_NONE),

    /* accounts and privacy */
    R("POST", "/v1/auth/sso", rg_h_sso, RG_AUTH_NONE),
    R("POST", "/v1/auth/password-reset", rg_h_password_reset, RG_AUTH_NONE),
    R("POST", "/v1/auth/password-reset/confirm", rg_h_password_reset_confirm, RG_AUTH_NONE),
    R("GET", "/v1/users/me/export", rg_h_me_export, RG_AUTH_REQUIRED),
    R("DELETE", "/v1/users/me", rg_h_me_delete, RG_AUTH_REQUIRED),
    R("GET", "/v1/admin/audit", rg_h_audit_list, RG_AUTH_REQUIRED),

    {NULL, NULL, NULL, RG_AUTH_NONE, NULL},
};

/* Splits path into at most 8 segments in place. */
static int split(char *path, char **seg)
{
    int n = 0;
    char *save = NULL;
    for (char *s = strtok_r(path, "/", &save); s; s = strtok_r(NULL, "/", &save)) {
        if (n == 8)
            return -1;
        seg[n++] = s;
    }
    return n;
}

const rg_route *rg_route_match(rg_request *req, const char *method, const char *path,
                               bool *method_mismatch, char *allow, size_t allow_cap)
{
    *method_mismatch = false;
    if (strlen(path) > 512)
        return NULL;
    char *copy = rg_xstrdup(path);
    char *seg[8];
    int n = split(copy, seg);
    const rg_route *found = NULL;
    allow[0] = '\0';
    for (const rg_route *r = rg_routes; n >= 0 && r->method; r++) {
        char pat[128];
        snprintf(pat, sizeof pat, "%s", r->pattern);
        char *pseg[8];
        int pn = split(pat, pseg);
        if (pn != n)
            continue;
        int np = 0, i;
        const char *params[RG_MAX_PARAMS] = {0};
        for (i = 0; i < n; i++) {
            if (pseg[i][0] == '{') {
                if (np < RG_MAX_PARAMS)
                    params[np++] = seg[i];
            } else if (strcmp(pseg[i], seg[i]) != 0) {
                break;
            }
        }
        if (i < n)
            continue;
        /* A literal segment ("me") wins over a parameter at the same place:
         * the table lists literal routes first. */
        if (strcmp(r->method, method) != 0) {
            *method_mismatch = true;
            if (!strstr(allow, r->method)) {
                size_t len = strlen(allow);
                snprintf(allow + len, allow_cap - len, "%s%s", len ? ", " : "", r->method);
            }
            continue;
        }
        if (!found) {
            found = r;
            memcpy(req->params, params, sizeof params);
        }
        break;
    }
    if (found) {
        free(req->path_copy);
        req->path_copy = copy;
    } else {
        free(copy);
    }
    return found;
}
