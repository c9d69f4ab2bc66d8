/* tests/fuzz/fuzz_cfg.c - libFuzzer target for the YAML config loader (common/cfg.h):
 * any input is accepted or rejected with at least one error; an accepted config renders
 * as JSON (which is also YAML) that loads again. */
#include <stdint.h>
#include <stdlib.h>

#include "common/cfg.h"
#include "common/strbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

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

        CHECK(again != NULL);
        cfg_free(again);
    }
    strbuf_fini(&sb);
    cfg_free(cfg);
    return 0;
}
