#include "risinggen/base/log.h"
#include "risinggen/base/clock.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static enum rg_log_level log_level = RG_LOG_INFO;
static _Thread_local char bound_id[RG_REQUEST_ID_MAX + 1];

void rg_log_set_level(enum rg_log_level lvl)
{
    log_level = lvl;
}

void rg_log_bind(const char *id)
{
    snprintf(bound_id, sizeof bound_id, "%s", id ? id : "");
}

const char *rg_log_bound(void)
{
    return bound_id;
}

void rg_log(enum rg_log_level lvl, const char *fmt, ...)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    if (lvl < log_level)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char ts[RG_TIME_LEN + 1];
    rg_time_format(rg_now(), ts);
    json_t *line = json_pack("{s:s, s:s, s:s}", "ts", ts, "level", names[lvl], "msg", msg);
    if (!line) /* msg is not UTF-8: still one line, never a crash */
        line = json_pack("{s:s, s:s, s:s}", "ts", ts, "level", names[lvl], "msg",
                         "(a message that is not valid UTF-8)");
    if (bound_id[0])
        json_object_set_new(line, "requestId", json_string(bound_id));
    char *s = json_dumps(line, JSON_COMPACT);
    if (s) {
        fprintf(stderr, "%s\n", s);
        free(s);
    }
    json_decref(line);
}
