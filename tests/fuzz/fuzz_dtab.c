/* tests/fuzz/fuzz_dtab.c - libFuzzer target for the dtab parser and evaluator
 * (proxy/dtab.h). A dtab that parses shows as text that parses to the same show; the
 * input is also evaluated for a fixed path with a binder that binds /$/inet-like paths. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/strbuf.h"
#include "proxy/dtab.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

static void
binder(void *ctx, const char *path, size_t len, struct dtab_bind *ret)
{
    (void) ctx;
    memset(ret, 0, sizeof(*ret));
    if (len >= 3 && memcmp(path, "/$/", 3) == 0 && len < sizeof(ret->id)) {
        ret->kind = DTAB_BIND_BOUND;
        memcpy(ret->id, path, len);
        ret->id[len] = '\0';
    } else {
        ret->kind = DTAB_BIND_NEG;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dtab_err err;
    struct dtab *d = dtab_parse((const char *) data, size, &err);
    struct strbuf a = STRBUF_INIT, b = STRBUF_INIT;
    struct dtab_result res;

    if (d == NULL)
        return 0;
    dtab_show(d, &a);
    {
        struct dtab *d2 = dtab_parse(a.s ? a.s : "", a.len, &err);

        CHECK(d2 != NULL);
        dtab_show(d2, &b);
        CHECK(a.len == b.len && (a.len == 0 || memcmp(a.s, b.s, a.len) == 0));
        dtab_free(d2);
    }
    if (dtab_eval(d, "/svc/a/b", 8, binder, NULL, &res) == 0) {
        if (res.kind == DTAB_RES_LEAF || res.kind == DTAB_RES_UNION)
            CHECK(dtab_result_pick(&res, 0.5) != NULL);
        dtab_result_fini(&res);
    }
    strbuf_fini(&a);
    strbuf_fini(&b);
    dtab_free(d);
    return 0;
}
