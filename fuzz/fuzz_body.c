/* A request body as the server takes it: the nesting check, then jansson
 * with duplicate keys refused, then the validation of a profile (signup and
 * PATCH /v1/users/me) and of an event body. Nothing may crash, leak or read
 * out of bounds, whatever the bytes. */
#include "domain.h"
#include "http/http.h"
#include "user_record.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (rg_http_json_depth((const char *)data, size) > RG_MAX_JSON_DEPTH)
        return 0;
    json_error_t err;
    json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &err);
    if (!body)
        return 0;
    if (json_is_object(body)) {
        v_ctx v = {0};
        rg__validate_profile(&v, body);
        v_finish(&v);
        json_t *merged = json_deep_copy(body), *defaults = rg__default_preferences();
        rg__merge_defaults(merged, defaults);
        json_decref(defaults);
        json_decref(merged);
    } else {
        v_not_object(body);
    }
    rg_error_clear();
    json_decref(body);
    return 0;
}
