/* tests/fuzz/fuzz_tracectx.c - libFuzzer target for the trace context decoders
 * (proto/tracectx.h): l5d-ctx-trace, b3, X-B3-*, traceparent, l5d-sample, l5d-ctx-deadline.
 * Whatever parses must format and parse back to the same context (l5d-ctx-trace: every
 * field, flags included, since they travel as received), and the formatted text is
 * canonical (formatting the re-parse gives the same bytes). A deadline also merges with
 * itself to itself, and merging is order-independent. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/tracectx.h"

#include "tests/fuzz/fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
same(const struct trace_ctx *a, const struct trace_ctx *b)
{
    return a->trace_hi == b->trace_hi && a->trace_lo == b->trace_lo && a->span_id == b->span_id;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct trace_ctx c, d;
    struct trace_deadline dl;
    char out[128];
    double rate;
    char *p;
    size_t n;

    if (size < 1)
        return 0;
    n = size - 1;
    p = malloc(n ? n : 1);
    if (p == NULL)
        return 0;
    memcpy(p, data + 1, n);
    switch (data[0] % 6) {
    case 0:
        if (tracectx_l5d_parse(p, n, &c) == 0) {
            size_t k = tracectx_l5d_format(&c, out, sizeof(out));

            char out2[128];

            CHECK(tracectx_l5d_parse(out, k, &d) == 0 && same(&c, &d));
            CHECK(c.parent_id == d.parent_id && c.flags == d.flags);
            CHECK(tracectx_l5d_format(&d, out2, sizeof(out2)) == k && memcmp(out, out2, k) == 0);
        }
        break;
    case 1:
        if (tracectx_b3_single_parse(p, n, &c) == 0 && c.span_id != 0) {
            size_t k = tracectx_b3_single_format(&c, out, sizeof(out));

            CHECK(tracectx_b3_single_parse(out, k, &d) == 0 && same(&c, &d));
        }
        break;
    case 2:
        if (tracectx_traceparent_parse(p, n, &c) == 0) {
            size_t k = tracectx_traceparent_format(&c, out, sizeof(out));

            CHECK(tracectx_traceparent_parse(out, k, &d) == 0 && same(&c, &d));
        }
        break;
    case 3: {
        /* X-B3-*: split the input in five fields at '|' */
        const char *f[5] = {NULL};
        size_t fl[5] = {0};
        size_t start = 0, k = 0;

        for (size_t i = 0; i <= n && k < 5; i++) {
            if (i == n || p[i] == '|') {
                f[k] = p + start;
                fl[k] = i - start;
                k++;
                start = i + 1;
            }
        }
        (void) tracectx_b3_multi_parse(f[0], fl[0], f[1], fl[1], f[2], fl[2], f[3], fl[3], f[4],
                                       fl[4], &c);
        break;
    }
    case 4:
        if (tracectx_sample_rate_parse(p, n, &rate) == 0)
            CHECK(rate >= 0.0 && rate <= 1.0);
        break;
    case 5:
        if (tracectx_deadline_parse(p, n, &dl) == 0) {
            size_t k = tracectx_deadline_format(&dl, out, sizeof(out));
            struct trace_deadline e;

            struct trace_deadline m1, m2, acc;

            CHECK(tracectx_deadline_parse(out, k, &e) == 0 && e.deadline_ns == dl.deadline_ns);
            CHECK(e.timestamp_ns == dl.timestamp_ns);
            /* merge: the identity, idempotence, and order independence against a fixed one */
            tracectx_deadline_init(&acc);
            tracectx_deadline_merge(&acc, &dl);
            CHECK(acc.timestamp_ns == dl.timestamp_ns && acc.deadline_ns == dl.deadline_ns);
            tracectx_deadline_merge(&acc, &dl);
            CHECK(acc.timestamp_ns == dl.timestamp_ns && acc.deadline_ns == dl.deadline_ns);
            e.timestamp_ns = 1732500000000000000;
            e.deadline_ns = 1732500001000000000;
            m1 = dl;
            tracectx_deadline_merge(&m1, &e);
            m2 = e;
            tracectx_deadline_merge(&m2, &dl);
            CHECK(m1.timestamp_ns == m2.timestamp_ns && m1.deadline_ns == m2.deadline_ns);
        }
        break;
    }
    free(p);
    return 0;
}
