/* Settings from the environment: every variable given the same text
 * (URLs, URL lists, integers, booleans, HOST:PORT, levels), and the
 * redaction of URLs for printing. */
#include "risinggen/base/config.h"
#include "risinggen/base/error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *const vars[] = {
#define RG__FUZZ_NAME(var, member, kind, min, max, dflt, help) "RG_" #var,
    RG_CONFIG_MAP(RG__FUZZ_NAME)
#undef RG__FUZZ_NAME
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char *value = malloc(size);
    memcpy(value, data + 1, size - 1);
    value[size - 1] = '\0';
    rg_config c;
    rg_config_defaults(&c);
    (void)rg_config_set(&c, vars[data[0] % (sizeof vars / sizeof vars[0])], value);
    char shown[512];
    rg_config_redact_url(value, shown, sizeof shown);
    rg_buf out = {0};
    rg_config_print(&c, &out);
    rg_buf_free(&out);
    rg_config_free(&c);
    rg_error_clear();
    free(value);
    return 0;
}
