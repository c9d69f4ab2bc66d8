/* tests/fuzz/fuzz_cfg.c - libFuzzer target for the YAML config loader (common/cfg.h):
 * any input is accepted or rejected with at least one error; an accepted config renders
 * as JSON (which is also YAML) that loads again as the same config (cfg.h's promise):
 * rendering the reloaded config gives the same JSON, byte for byte. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/cfg.h"
#include "common/strbuf.h"

#include "tests/fuzz/fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cfg_err err;
    struct cfg *cfg = cfg_parse((const char *) data, size, "fuzz.yaml", &err);
    struct strbuf sb = STRBUF_INIT;

    if (cfg == NULL) {
        CHECK(err.n_errors > 0);
        return 0;
    }
    cfg_to_json(cfg, &sb);
    {
        struct cfg *again = cfg_parse(sb.s, sb.len, "json", &err);
        struct strbuf sb2 = STRBUF_INIT;

        CHECK(again != NULL);
        cfg_to_json(again, &sb2);
        CHECK(sb.len == sb2.len && memcmp(sb.s, sb2.s, sb.len) == 0);
        strbuf_fini(&sb2);
        cfg_free(again);
    }
    strbuf_fini(&sb);
    cfg_free(cfg);
    return 0;
}
