/* tests/unit/test_tracectx.c - trace-context codecs through proto/tracectx.h only: the
 * l5d-ctx-trace vectors of docs/reference (linkerd.md 1.2), B3 multi and single, W3C
 * traceparent, each with round trips and every malformed form rejected without writing
 * the output; sampling (deterministic, edges, uniformity, l5d-sample), l5d-ctx-deadline,
 * and the precedence rule between formats. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/tracectx.h"
#include "tests/lib/check_main.h"

/* linkerd.md 1.2 worked example */
#define V64    "XxorPE1eb3ARERERERERESIiIiIiIiIiAAAAAAAAAAY="
#define V128   "XxorPE1eb3ARERERERERESIiIiIiIiIiAAAAAAAAAAZGOsNcn2QTrQ=="
#define SPAN   0x5f1a2b3c4d5e6f70ull
#define PARENT 0x1111111111111111ull
#define TRACE  0x2222222222222222ull
#define HIGH   0x463ac35c9f6413adull

/* A marker the parsers must leave alone when they fail. */
static const struct trace_ctx poison = {
    .trace_hi = 0xdeadull, .trace_lo = 0xbeefull, .span_id = 7, .parent_id = 9, .flags = 0x55};

static uint64_t rng_state;

static uint64_t
rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t
rng_nonzero(void)
{
    uint64_t v;

    do
        v = rng_next();
    while (v == 0);
    return v;
}

static void
setup(void)
{
    rng_state = 42;
}

static void
teardown(void)
{
}

static void
ck_ctx_eq(const struct trace_ctx *a, const struct trace_ctx *b)
{
    ck_assert_uint_eq(a->trace_hi, b->trace_hi);
    ck_assert_uint_eq(a->trace_lo, b->trace_lo);
    ck_assert_uint_eq(a->span_id, b->span_id);
    ck_assert_uint_eq(a->parent_id, b->parent_id);
    ck_assert_uint_eq(a->flags, b->flags);
}

static void
ck_untouched(const struct trace_ctx *c)
{
    ck_ctx_eq(c, &poison);
}

static int
l5d(const char *s, struct trace_ctx *c)
{
    *c = poison;
    return tracectx_l5d_parse(s, strlen(s), c);
}

static int
b3s(const char *s, struct trace_ctx *c)
{
    *c = poison;
    return tracectx_b3_single_parse(s, strlen(s), c);
}

static int
tp(const char *s, struct trace_ctx *c)
{
    *c = poison;
    return tracectx_traceparent_parse(s, strlen(s), c);
}

/* B3 multi with NUL-terminated strings, NULL for absent */
static int
b3m(const char *t, const char *s, const char *p, const char *sa, const char *f, struct trace_ctx *c)
{
    *c = poison;
    return tracectx_b3_multi_parse(t, t ? strlen(t) : 0, s, s ? strlen(s) : 0, p, p ? strlen(p) : 0,
                                   sa, sa ? strlen(sa) : 0, f, f ? strlen(f) : 0, c);
}

static struct trace_ctx
random_ctx(bool wide, bool with_parent, uint64_t flags)
{
    struct trace_ctx c;

    c.trace_hi = wide ? rng_nonzero() : 0;
    c.trace_lo = rng_nonzero();
    c.span_id = rng_nonzero();
    c.parent_id = with_parent ? rng_nonzero() : 0;
    c.flags = flags;
    return c;
}

/* ---- l5d-ctx-trace ---------------------------------------------------------------------- */

START_TEST(test_tracectx_l5d_vector64_parse)
{
    struct trace_ctx c;

    ck_assert_int_eq(l5d(V64, &c), 0);
    ck_assert_uint_eq(c.span_id, SPAN);
    ck_assert_uint_eq(c.parent_id, PARENT);
    ck_assert_uint_eq(c.trace_lo, TRACE);
    ck_assert_uint_eq(c.trace_hi, 0);
    ck_assert_uint_eq(c.flags, 6);
    ck_assert_int_eq(tracectx_decision(&c), TRACECTX_KEEP);
}
END_TEST

START_TEST(test_tracectx_l5d_vector64_format)
{
    struct trace_ctx c = {.trace_lo = TRACE, .span_id = SPAN, .parent_id = PARENT, .flags = 6};
    char out[TRACECTX_L5D_MAX];

    ck_assert_uint_eq(tracectx_l5d_format(&c, out, sizeof(out)), 44);
    ck_assert_str_eq(out, V64);
}
END_TEST

START_TEST(test_tracectx_l5d_vector128_parse)
{
    struct trace_ctx c;

    ck_assert_int_eq(l5d(V128, &c), 0);
    ck_assert_uint_eq(c.span_id, SPAN);
    ck_assert_uint_eq(c.parent_id, PARENT);
    ck_assert_uint_eq(c.trace_lo, TRACE);
    ck_assert_uint_eq(c.trace_hi, HIGH);
    ck_assert_uint_eq(c.flags, 6);
}
END_TEST

START_TEST(test_tracectx_l5d_vector128_format)
{
    struct trace_ctx c = {
        .trace_hi = HIGH, .trace_lo = TRACE, .span_id = SPAN, .parent_id = PARENT, .flags = 6};
    char out[TRACECTX_L5D_MAX];

    ck_assert_uint_eq(tracectx_l5d_format(&c, out, sizeof(out)), 56);
    ck_assert_str_eq(out, V128);
}
END_TEST

START_TEST(test_tracectx_l5d_unpadded_accepted)
{
    struct trace_ctx c, d;

    /* Java's basic decoder makes padding optional */
    ck_assert_int_eq(l5d("XxorPE1eb3ARERERERERESIiIiIiIiIiAAAAAAAAAAY", &c), 0);
    ck_assert_int_eq(l5d(V64, &d), 0);
    ck_ctx_eq(&c, &d);
    ck_assert_int_eq(l5d("XxorPE1eb3ARERERERERESIiIiIiIiIiAAAAAAAAAAZGOsNcn2QTrQ", &c), 0);
    ck_assert_int_eq(l5d(V128, &d), 0);
    ck_ctx_eq(&c, &d);
}
END_TEST

START_TEST(test_tracectx_l5d_root_has_no_parent)
{
    /* Finagle root: span == parent == trace, flags 0 (undecided) */
    const char *root = "XxorPE1eb3BfGis8TV5vcF8aKzxNXm9wAAAAAAAAAAA=";
    struct trace_ctx c;
    char out[TRACECTX_L5D_MAX];

    ck_assert_int_eq(l5d(root, &c), 0);
    ck_assert_uint_eq(c.span_id, SPAN);
    ck_assert_uint_eq(c.parent_id, 0);
    ck_assert_uint_eq(c.trace_lo, SPAN);
    ck_assert_int_eq(tracectx_decision(&c), TRACECTX_UNDECIDED);
    ck_assert_uint_eq(tracectx_l5d_format(&c, out, sizeof(out)), 44);
    ck_assert_str_eq(out, root);
}
END_TEST

START_TEST(test_tracectx_l5d_unknown_flags_kept)
{
    /* bit 50 (a Finagle extension flag) set beside 6 */
    const char *v = "XxorPE1eb3ARERERERERESIiIiIiIiIiAAQAAAAAAAY=";
    struct trace_ctx c;
    char out[TRACECTX_L5D_MAX];

    ck_assert_int_eq(l5d(v, &c), 0);
    ck_assert_uint_eq(c.flags, (1ull << 50) | 6);
    ck_assert_int_eq(tracectx_decision(&c), TRACECTX_KEEP);
    tracectx_l5d_format(&c, out, sizeof(out));
    ck_assert_str_eq(out, v);
}
END_TEST

START_TEST(test_tracectx_l5d_roundtrip)
{
    static const uint64_t flags[] = {0, 1, 2, 6, 7, 1ull << 43};

    for (int i = 0; i < 2000; i++) {
        struct trace_ctx c = random_ctx(i & 1, i & 2, flags[i % 6]), d;
        char out[TRACECTX_L5D_MAX];
        size_t n = tracectx_l5d_format(&c, out, sizeof(out));

        ck_assert_uint_eq(n, (i & 1) ? 56 : 44);
        ck_assert_uint_eq(strlen(out), n);
        ck_assert_int_eq(tracectx_l5d_parse(out, n, &d), 0);
        ck_ctx_eq(&c, &d);
    }
}
END_TEST

START_TEST(test_tracectx_l5d_rejects_bad_base64)
{
    static const char *bad[] = {
        /* URL-safe alphabet, whitespace, junk, misplaced '=' */
        "XxorPE1eb3ARERERERERESIiIiIiIiIiAAAAAAAAAA-=",
        "XxorPE1eb3ARERERERERESIiIiIiIiIiAAAAAAAAAA_=",
        "XxorPE1eb3ARERERERERESIi IiIiIiIiAAAAAAAAAAY",
        "XxorPE1eb3ARERERERERESIiIiIiIiIiAAAAAAAAAAY*",
        "XxorPE1eb3ARERERERER=SIiIiIiIiIiAAAAAAAAAAY=",
        "XxorPE1eb3ARERERERERESIiIiIiIiIiAAAAAAAAAAY\n",
        "XxorPE1eb3ARERERERERESIiIiIiIiIiAAAAAAAAAA\xc3\xa9",
    };
    struct trace_ctx c;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_int_eq(l5d(bad[i], &c), -EBADMSG);
        ck_untouched(&c);
    }
    /* an embedded NUL inside the length */
    c = poison;
    ck_assert_int_eq(tracectx_l5d_parse("XxorPE1eb3ARERERERERESIiIiIiIiIiAAAAAAAAAA\0=", 44, &c),
                     -EBADMSG);
    ck_untouched(&c);
}
END_TEST

START_TEST(test_tracectx_l5d_rejects_wrong_length)
{
    static const char *bad[] = {
        "",
        "=",
        "====",
        "AAAA",
        "XxorPE1eb3ARERERERERESIiIiIiIiIiAAAAAAAA",                 /* 30 bytes */
        "XxorPE1eb3ARERERERERESIiIiIiIiIiAAAAAAAAAA==",             /* 31 bytes */
        "XxorPE1eb3ARERERERERESIiIiIiIiIiAAAAAAAAAAZG",             /* 33 bytes */
        "XxorPE1eb3ARERERERERESIiIiIiIiIiAAAAAAAAAAZGOsNcn2QTrQAA", /* 41 bytes */
        "XxorPE1eb3ARERERERERESIiIiIiIiIiAAAAAAAAAAY==",            /* 1 pad too many */
        "XxorPE1eb3ARERERERERESIiIiIiIiIiAAAAAAAAAAY===",
        "XxorPE1eb3ARERERERERESIiIiIiIiIiAAAAAAAAAAZGOsNcn2QTrQ=", /* 1 pad too few */
        "XxorPE1eb3ARERERERERESIiIiIiIiIiAAAAAAAAAAYA",            /* 33 bytes, unpadded */
        "XxorPE1eb3ARERERERERESIiIiIiIiIiAAAAAAAAAAY=XxorPE1eb3ARERERERERESIiIiIiIiIiAAAAAAAAAAY=",
    };
    char big[1001];
    struct trace_ctx c;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_int_eq(l5d(bad[i], &c), -EBADMSG);
        ck_untouched(&c);
    }
    memset(big, 'A', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ck_assert_int_eq(l5d(big, &c), -EBADMSG);
    ck_untouched(&c);
}
END_TEST

START_TEST(test_tracectx_l5d_rejects_zero_ids)
{
    struct trace_ctx c = {.trace_lo = TRACE, .span_id = 0, .parent_id = PARENT, .flags = 6};
    struct trace_ctx d;
    char out[TRACECTX_L5D_MAX];

    tracectx_l5d_format(&c, out, sizeof(out));
    ck_assert_int_eq(l5d(out, &d), -EBADMSG);
    ck_untouched(&d);
    c.span_id = SPAN;
    c.trace_lo = 0;
    tracectx_l5d_format(&c, out, sizeof(out));
    ck_assert_int_eq(l5d(out, &d), -EBADMSG);
    ck_untouched(&d);
    ck_assert_int_eq(l5d("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", &d), -EBADMSG);
    ck_untouched(&d);
    /* a 128-bit id with a zero low word is still an id */
    c.trace_hi = HIGH;
    tracectx_l5d_format(&c, out, sizeof(out));
    ck_assert_int_eq(l5d(out, &d), 0);
    ck_assert_uint_eq(d.trace_hi, HIGH);
    ck_assert_uint_eq(d.trace_lo, 0);
}
END_TEST

START_TEST(test_tracectx_l5d_format_small_buffer)
{
    struct trace_ctx c = {.trace_lo = TRACE, .span_id = SPAN, .parent_id = PARENT, .flags = 6};
    char out[TRACECTX_L5D_MAX];

    memset(out, 'x', sizeof(out));
    ck_assert_uint_eq(tracectx_l5d_format(&c, out, 44), 0);
    ck_assert_str_eq(out, "");
    ck_assert_uint_eq(tracectx_l5d_format(&c, out, 45), 44);
    c.trace_hi = HIGH;
    ck_assert_uint_eq(tracectx_l5d_format(&c, out, 56), 0);
    ck_assert_uint_eq(tracectx_l5d_format(&c, out, 57), 56);
    ck_assert_uint_eq(tracectx_l5d_format(&c, NULL, 0), 0);
}
END_TEST

START_TEST(test_tracectx_l5d_reqid)
{
    struct trace_ctx c = {.trace_hi = HIGH, .trace_lo = 0x00000000000abcdeull, .span_id = 1};
    char out[TRACECTX_HEX64_MAX];

    ck_assert_uint_eq(tracectx_reqid_format(&c, out), 16);
    ck_assert_str_eq(out, "00000000000abcde");
}
END_TEST

/* ---- B3 multi --------------------------------------------------------------------------- */

START_TEST(test_tracectx_b3_multi_parse_64)
{
    struct trace_ctx c;

    ck_assert_int_eq(b3m("463ac35c9f6413ad", "a2fb4a1d1a96d312", "0020000000000001", "1", NULL, &c),
                     0);
    ck_assert_uint_eq(c.trace_hi, 0);
    ck_assert_uint_eq(c.trace_lo, 0x463ac35c9f6413adull);
    ck_assert_uint_eq(c.span_id, 0xa2fb4a1d1a96d312ull);
    ck_assert_uint_eq(c.parent_id, 0x0020000000000001ull);
    ck_assert_uint_eq(c.flags, TRACECTX_F_SAMPLING_KNOWN | TRACECTX_F_SAMPLED);
}
END_TEST

START_TEST(test_tracectx_b3_multi_parse_128_any_case)
{
    struct trace_ctx c;
    char out[TRACECTX_TRACE_ID_MAX];

    ck_assert_int_eq(
        b3m("463AC35C9F6413AD48485A3953BB6124", "A2FB4A1D1A96D312", NULL, NULL, NULL, &c), 0);
    ck_assert_uint_eq(c.trace_hi, 0x463ac35c9f6413adull);
    ck_assert_uint_eq(c.trace_lo, 0x48485a3953bb6124ull);
    ck_assert_uint_eq(c.parent_id, 0);
    ck_assert_int_eq(tracectx_decision(&c), TRACECTX_UNDECIDED);
    ck_assert_uint_eq(tracectx_trace_id_hex(&c, out), 32);
    ck_assert_str_eq(out, "463ac35c9f6413ad48485a3953bb6124");
    ck_assert_uint_eq(tracectx_hex64(c.span_id, out), 16);
    ck_assert_str_eq(out, "a2fb4a1d1a96d312");
    /* a 128-bit id whose high half is zero is a 64-bit id */
    ck_assert_int_eq(
        b3m("0000000000000000463ac35c9f6413ad", "a2fb4a1d1a96d312", NULL, NULL, NULL, &c), 0);
    ck_assert_uint_eq(c.trace_hi, 0);
    ck_assert_uint_eq(tracectx_trace_id_hex(&c, out), 16);
}
END_TEST

START_TEST(test_tracectx_b3_multi_sampling_state)
{
    static const struct {
        const char *sampled, *flags;
        enum tracectx_decision want;
        bool debug;
    } cases[] = {
        {"1", NULL, TRACECTX_KEEP, false},     {"true", NULL, TRACECTX_KEEP, false},
        {"TRUE", NULL, TRACECTX_KEEP, false},  {"0", NULL, TRACECTX_DROP, false},
        {"false", NULL, TRACECTX_DROP, false}, {NULL, NULL, TRACECTX_UNDECIDED, false},
        {NULL, "1", TRACECTX_KEEP, true},      {"0", "1", TRACECTX_KEEP, true},
        {"1", "6", TRACECTX_KEEP, false}, /* linkerd's zipkin propagator */
        {"0", "0", TRACECTX_DROP, false},      {NULL, "7", TRACECTX_KEEP, true},
    };
    struct trace_ctx c;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_int_eq(
            b3m("463ac35c9f6413ad", "a2fb4a1d1a96d312", NULL, cases[i].sampled, cases[i].flags, &c),
            0);
        ck_assert_int_eq(tracectx_decision(&c), cases[i].want);
        ck_assert(((c.flags & TRACECTX_F_DEBUG) != 0) == cases[i].debug);
    }
}
END_TEST

START_TEST(test_tracectx_b3_multi_sampling_only)
{
    struct trace_ctx c;

    ck_assert_int_eq(b3m(NULL, NULL, NULL, "0", NULL, &c), 0);
    ck_assert_uint_eq(c.span_id, 0);
    ck_assert_uint_eq(c.trace_lo, 0);
    ck_assert_int_eq(tracectx_decision(&c), TRACECTX_DROP);
    ck_assert_int_eq(b3m(NULL, NULL, NULL, NULL, "1", &c), 0);
    ck_assert_int_eq(tracectx_decision(&c), TRACECTX_KEEP);
    ck_assert_uint_ne(c.flags & TRACECTX_F_DEBUG, 0);
    /* nothing that decides, or a parent without ids */
    ck_assert_int_eq(b3m(NULL, NULL, NULL, NULL, "0", &c), -EBADMSG);
    ck_untouched(&c);
    ck_assert_int_eq(b3m(NULL, NULL, NULL, NULL, NULL, &c), -EBADMSG);
    ck_untouched(&c);
    ck_assert_int_eq(b3m(NULL, NULL, "0020000000000001", "1", NULL, &c), -EBADMSG);
    ck_untouched(&c);
}
END_TEST

START_TEST(test_tracectx_b3_multi_rejects)
{
    static const struct {
        const char *t, *s, *p, *sa, *f;
    } bad[] = {
        {"463ac35c9f6413ad", NULL, NULL, "1", NULL},               /* span missing */
        {NULL, "a2fb4a1d1a96d312", NULL, "1", NULL},               /* trace missing */
        {"463ac35c9f6413a", "a2fb4a1d1a96d312", NULL, NULL, NULL}, /* 15 */
        {"463ac35c9f6413ad0", "a2fb4a1d1a96d312", NULL, NULL, NULL},
        {"463ac35c9f6413ad48485a3953bb612", "a2fb4a1d1a96d312", NULL, NULL, NULL}, /* 31 */
        {"463ac35c9f6413ad48485a3953bb61240", "a2fb4a1d1a96d312", NULL, NULL, NULL},
        {"", "a2fb4a1d1a96d312", NULL, NULL, NULL},
        {"463ac35c9f6413ag", "a2fb4a1d1a96d312", NULL, NULL, NULL}, /* non-hex */
        {"463ac35c9f6413ad", "a2fb4a1d1a96d31z", NULL, NULL, NULL},
        {"463ac35c9f6413ad", " 2fb4a1d1a96d312", NULL, NULL, NULL},
        {"463ac35c9f6413ad", "a2fb4a1d1a96d312", "002000000000000x", NULL, NULL},
        {"463ac35c9f6413ad", "a2fb4a1d1a96d31", NULL, NULL, NULL}, /* span 15 */
        {"463ac35c9f6413ad", "a2fb4a1d1a96d312a2fb4a1d1a96d312", NULL, NULL, NULL},
        {"463ac35c9f6413ad", "a2fb4a1d1a96d312", "002", NULL, NULL}, /* parent short */
        {"0000000000000000", "a2fb4a1d1a96d312", NULL, NULL, NULL},  /* zero ids */
        {"00000000000000000000000000000000", "a2fb4a1d1a96d312", NULL, NULL, NULL},
        {"463ac35c9f6413ad", "0000000000000000", NULL, NULL, NULL},
        {"463ac35c9f6413ad", "a2fb4a1d1a96d312", "0000000000000000", NULL, NULL},
        {"463ac35c9f6413ad", "a2fb4a1d1a96d312", NULL, "yes", NULL}, /* sampled junk */
        {"463ac35c9f6413ad", "a2fb4a1d1a96d312", NULL, "2", NULL},
        {"463ac35c9f6413ad", "a2fb4a1d1a96d312", NULL, "", NULL},
        {"463ac35c9f6413ad", "a2fb4a1d1a96d312", NULL, "d", NULL},
        {"463ac35c9f6413ad", "a2fb4a1d1a96d312", NULL, NULL, "x"}, /* flags junk */
        {"463ac35c9f6413ad", "a2fb4a1d1a96d312", NULL, NULL, "-1"},
        {"463ac35c9f6413ad", "a2fb4a1d1a96d312", NULL, NULL, ""},
        {"463ac35c9f6413ad", "a2fb4a1d1a96d312", NULL, NULL, "99999999999999999999"},
    };
    struct trace_ctx c;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(b3m(bad[i].t, bad[i].s, bad[i].p, bad[i].sa, bad[i].f, &c) == -EBADMSG,
                      "case %zu accepted", i);
        ck_untouched(&c);
    }
}
END_TEST

START_TEST(test_tracectx_b3_multi_write_values)
{
    struct trace_ctx c = {.trace_lo = 1, .span_id = 2};

    ck_assert_ptr_null(tracectx_b3_sampled_value(&c));
    ck_assert_ptr_null(tracectx_b3_flags_value(&c));
    c.flags = TRACECTX_F_SAMPLING_KNOWN | TRACECTX_F_SAMPLED;
    ck_assert_str_eq(tracectx_b3_sampled_value(&c), "1");
    ck_assert_ptr_null(tracectx_b3_flags_value(&c));
    c.flags = TRACECTX_F_SAMPLING_KNOWN;
    ck_assert_str_eq(tracectx_b3_sampled_value(&c), "0");
    /* B3: debug implies sampled, so X-B3-Flags: 1 and no X-B3-Sampled */
    c.flags = TRACECTX_F_DEBUG | TRACECTX_F_SAMPLING_KNOWN | TRACECTX_F_SAMPLED;
    ck_assert_ptr_null(tracectx_b3_sampled_value(&c));
    ck_assert_str_eq(tracectx_b3_flags_value(&c), "1");
}
END_TEST

START_TEST(test_tracectx_b3_multi_roundtrip)
{
    static const uint64_t flags[] = {
        0, TRACECTX_F_SAMPLING_KNOWN, TRACECTX_F_SAMPLING_KNOWN | TRACECTX_F_SAMPLED,
        TRACECTX_F_DEBUG | TRACECTX_F_SAMPLING_KNOWN | TRACECTX_F_SAMPLED};

    for (int i = 0; i < 2000; i++) {
        struct trace_ctx c = random_ctx(i & 1, i & 2, flags[i % 4]), d;
        char t[TRACECTX_TRACE_ID_MAX], s[TRACECTX_HEX64_MAX], p[TRACECTX_HEX64_MAX];

        ck_assert_uint_eq(tracectx_trace_id_hex(&c, t), (i & 1) ? 32 : 16);
        tracectx_hex64(c.span_id, s);
        tracectx_hex64(c.parent_id, p);
        ck_assert_int_eq(b3m(t, s, c.parent_id ? p : NULL, tracectx_b3_sampled_value(&c),
                             tracectx_b3_flags_value(&c), &d),
                         0);
        ck_ctx_eq(&c, &d);
    }
}
END_TEST

/* ---- B3 single -------------------------------------------------------------------------- */

START_TEST(test_tracectx_b3_single_sampling_only)
{
    struct trace_ctx c;

    ck_assert_int_eq(b3s("0", &c), 0);
    ck_assert_uint_eq(c.span_id, 0);
    ck_assert_uint_eq(c.trace_lo, 0);
    ck_assert_int_eq(tracectx_decision(&c), TRACECTX_DROP);
    ck_assert_int_eq(b3s("1", &c), 0);
    ck_assert_int_eq(tracectx_decision(&c), TRACECTX_KEEP);
    ck_assert_uint_eq(c.flags & TRACECTX_F_DEBUG, 0);
    ck_assert_int_eq(b3s("d", &c), 0);
    ck_assert_int_eq(tracectx_decision(&c), TRACECTX_KEEP);
    ck_assert_uint_ne(c.flags & TRACECTX_F_DEBUG, 0);
}
END_TEST

START_TEST(test_tracectx_b3_single_parse_forms)
{
    struct trace_ctx c;

    ck_assert_int_eq(
        b3s("80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90", &c), 0);
    ck_assert_uint_eq(c.trace_hi, 0x80f198ee56343ba8ull);
    ck_assert_uint_eq(c.trace_lo, 0x64fe8b2a57d3eff7ull);
    ck_assert_uint_eq(c.span_id, 0xe457b5a2e4d86bd1ull);
    ck_assert_uint_eq(c.parent_id, 0x05e3ac9a4f6e3b90ull);
    ck_assert_int_eq(tracectx_decision(&c), TRACECTX_KEEP);

    ck_assert_int_eq(b3s("64fe8b2a57d3eff7-e457b5a2e4d86bd1", &c), 0);
    ck_assert_uint_eq(c.trace_hi, 0);
    ck_assert_uint_eq(c.trace_lo, 0x64fe8b2a57d3eff7ull);
    ck_assert_uint_eq(c.parent_id, 0);
    ck_assert_int_eq(tracectx_decision(&c), TRACECTX_UNDECIDED);

    ck_assert_int_eq(b3s("64fe8b2a57d3eff7-e457b5a2e4d86bd1-0", &c), 0);
    ck_assert_int_eq(tracectx_decision(&c), TRACECTX_DROP);

    ck_assert_int_eq(b3s("64FE8B2A57D3EFF7-E457B5A2E4D86BD1-d", &c), 0);
    ck_assert_uint_eq(c.trace_lo, 0x64fe8b2a57d3eff7ull);
    ck_assert_uint_ne(c.flags & TRACECTX_F_DEBUG, 0);

    /* parent without a sampling state (Brave tolerates it) */
    ck_assert_int_eq(b3s("64fe8b2a57d3eff7-e457b5a2e4d86bd1-05e3ac9a4f6e3b90", &c), 0);
    ck_assert_uint_eq(c.parent_id, 0x05e3ac9a4f6e3b90ull);
    ck_assert_int_eq(tracectx_decision(&c), TRACECTX_UNDECIDED);
}
END_TEST

START_TEST(test_tracectx_b3_single_format)
{
    struct trace_ctx c = {.trace_hi = 0x80f198ee56343ba8ull,
                          .trace_lo = 0x64fe8b2a57d3eff7ull,
                          .span_id = 0xe457b5a2e4d86bd1ull,
                          .parent_id = 0x05e3ac9a4f6e3b90ull,
                          .flags = TRACECTX_F_SAMPLING_KNOWN | TRACECTX_F_SAMPLED};
    char out[TRACECTX_B3_SINGLE_MAX];

    ck_assert_uint_eq(tracectx_b3_single_format(&c, out, sizeof(out)), 68);
    ck_assert_str_eq(out, "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90");
    c.trace_hi = 0;
    c.parent_id = 0;
    c.flags = TRACECTX_F_SAMPLING_KNOWN;
    tracectx_b3_single_format(&c, out, sizeof(out));
    ck_assert_str_eq(out, "64fe8b2a57d3eff7-e457b5a2e4d86bd1-0");
    c.flags = TRACECTX_F_DEBUG;
    tracectx_b3_single_format(&c, out, sizeof(out));
    ck_assert_str_eq(out, "64fe8b2a57d3eff7-e457b5a2e4d86bd1-d");
    c.flags = 0;
    ck_assert_uint_eq(tracectx_b3_single_format(&c, out, sizeof(out)), 33);
    ck_assert_str_eq(out, "64fe8b2a57d3eff7-e457b5a2e4d86bd1");
    ck_assert_uint_eq(tracectx_b3_single_format(&c, out, 33), 0);
    ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(test_tracectx_b3_single_roundtrip)
{
    static const uint64_t flags[] = {
        0, TRACECTX_F_SAMPLING_KNOWN, TRACECTX_F_SAMPLING_KNOWN | TRACECTX_F_SAMPLED,
        TRACECTX_F_DEBUG | TRACECTX_F_SAMPLING_KNOWN | TRACECTX_F_SAMPLED};

    for (int i = 0; i < 2000; i++) {
        struct trace_ctx c = random_ctx(i & 1, i & 2, flags[i % 4]), d;
        char out[TRACECTX_B3_SINGLE_MAX];
        size_t n = tracectx_b3_single_format(&c, out, sizeof(out));

        ck_assert_uint_gt(n, 0);
        ck_assert_int_eq(tracectx_b3_single_parse(out, n, &d), 0);
        ck_ctx_eq(&c, &d);
    }
}
END_TEST

START_TEST(test_tracectx_b3_single_rejects)
{
    static const char *bad[] = {
        "",
        "2",
        "x",
        "D",
        "-",
        "00",
        "true",
        "64fe8b2a57d3eff7",                                 /* no span */
        "64fe8b2a57d3eff7-",                                /* empty span */
        "64fe8b2a57d3eff-e457b5a2e4d86bd1",                 /* trace 15 */
        "64fe8b2a57d3eff70-e457b5a2e4d86bd1",               /* trace 17 */
        "80f198ee56343ba864fe8b2a57d3eff-e457b5a2e4d86bd1", /* trace 31 */
        "64fe8b2a57d3eff7-e457b5a2e4d86bd",                 /* span 15 */
        "64fe8b2a57d3eff7-e457b5a2e4d86bd1a",               /* span 17 */
        "64fe8b2a57d3eff7-e457b5a2e4d86bd1-",               /* empty sampling */
        "64fe8b2a57d3eff7-e457b5a2e4d86bd1-2",              /* bad sampling */
        "64fe8b2a57d3eff7-e457b5a2e4d86bd1-true",
        "64fe8b2a57d3eff7-e457b5a2e4d86bd1-1-",                /* empty parent */
        "64fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b9", /* parent 15 */
        "64fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b900",
        "64fe8b2a57d3eff7-e457b5a2e4d86bd1-1-0000000000000000",   /* zero parent */
        "64fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90-d", /* extra field */
        "64fe8b2a57d3eff7-e457b5a2e4d86bd1-1-1",
        "64fe8b2a57d3eff7--e457b5a2e4d86bd1",
        "64fe8b2a57d3eff7_e457b5a2e4d86bd1",
        "64fe8b2a57d3eff7-e457b5a2e4d86bd1 1",
        "0000000000000000-e457b5a2e4d86bd1-1", /* zero trace */
        "00000000000000000000000000000000-e457b5a2e4d86bd1-1",
        "64fe8b2a57d3eff7-0000000000000000-1", /* zero span */
        "64fe8b2a57d3eff7-e457b5a2e4d8gbd1-1", /* non-hex */
        "64fe8b2a57d3 ff7-e457b5a2e4d86bd1-1",
        "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90-0", /* too long */
    };
    struct trace_ctx c;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(b3s(bad[i], &c) == -EBADMSG, "\"%s\" accepted", bad[i]);
        ck_untouched(&c);
    }
}
END_TEST

/* ---- traceparent ------------------------------------------------------------------------ */

#define TP_EXAMPLE "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

START_TEST(test_tracectx_traceparent_parse)
{
    struct trace_ctx c;

    ck_assert_int_eq(tp(TP_EXAMPLE, &c), 0);
    ck_assert_uint_eq(c.trace_hi, 0x4bf92f3577b34da6ull);
    ck_assert_uint_eq(c.trace_lo, 0xa3ce929d0e0e4736ull);
    ck_assert_uint_eq(c.span_id, 0x00f067aa0ba902b7ull);
    ck_assert_uint_eq(c.parent_id, 0);
    ck_assert_int_eq(tracectx_decision(&c), TRACECTX_KEEP);
    /* flags 00: the caller chose not to record, a known decision */
    ck_assert_int_eq(tp("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", &c), 0);
    ck_assert_int_eq(tracectx_decision(&c), TRACECTX_DROP);
    /* unknown flag bits are ignored, bit 0 still decides */
    ck_assert_int_eq(tp("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03", &c), 0);
    ck_assert_int_eq(tracectx_decision(&c), TRACECTX_KEEP);
    ck_assert_int_eq(tp("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-fe", &c), 0);
    ck_assert_int_eq(tracectx_decision(&c), TRACECTX_DROP);
    /* a 64-bit trace id padded to 128 bits */
    ck_assert_int_eq(tp("00-0000000000000000a3ce929d0e0e4736-00f067aa0ba902b7-01", &c), 0);
    ck_assert_uint_eq(c.trace_hi, 0);
}
END_TEST

START_TEST(test_tracectx_traceparent_future_version)
{
    struct trace_ctx c;

    ck_assert_int_eq(tp("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", &c), 0);
    ck_assert_uint_eq(c.span_id, 0x00f067aa0ba902b7ull);
    ck_assert_int_eq(
        tp("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-brings", &c),
        0);
    ck_assert_uint_eq(c.trace_lo, 0xa3ce929d0e0e4736ull);
    ck_assert_int_eq(tracectx_decision(&c), TRACECTX_KEEP);
}
END_TEST

START_TEST(test_tracectx_traceparent_format)
{
    struct trace_ctx c = {.trace_hi = 0x4bf92f3577b34da6ull,
                          .trace_lo = 0xa3ce929d0e0e4736ull,
                          .span_id = 0x00f067aa0ba902b7ull,
                          .parent_id = 0x1234,
                          .flags = TRACECTX_F_SAMPLING_KNOWN | TRACECTX_F_SAMPLED};
    char out[TRACECTX_TRACEPARENT_MAX];

    ck_assert_uint_eq(tracectx_traceparent_format(&c, out, sizeof(out)), 55);
    ck_assert_str_eq(out, TP_EXAMPLE);
    c.flags = TRACECTX_F_DEBUG;
    tracectx_traceparent_format(&c, out, sizeof(out));
    ck_assert_str_eq(out, TP_EXAMPLE);
    c.flags = TRACECTX_F_SAMPLING_KNOWN;
    tracectx_traceparent_format(&c, out, sizeof(out));
    ck_assert_str_eq(out, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
    c.trace_hi = 0;
    c.flags = 0;
    tracectx_traceparent_format(&c, out, sizeof(out));
    ck_assert_str_eq(out, "00-0000000000000000a3ce929d0e0e4736-00f067aa0ba902b7-00");
    ck_assert_uint_eq(tracectx_traceparent_format(&c, out, 55), 0);
    ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(test_tracectx_traceparent_roundtrip)
{
    for (int i = 0; i < 2000; i++) {
        uint64_t f =
            (i & 2) ? TRACECTX_F_SAMPLING_KNOWN | TRACECTX_F_SAMPLED : TRACECTX_F_SAMPLING_KNOWN;
        struct trace_ctx c = random_ctx(i & 1, false, f), d;
        char out[TRACECTX_TRACEPARENT_MAX];

        ck_assert_uint_eq(tracectx_traceparent_format(&c, out, sizeof(out)), 55);
        ck_assert_int_eq(tracectx_traceparent_parse(out, 55, &d), 0);
        ck_ctx_eq(&c, &d);
    }
}
END_TEST

START_TEST(test_tracectx_traceparent_rejects)
{
    static const char *bad[] = {
        "",
        "00",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", /* forbidden version */
        "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", /* version not hex */
        "0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", /* upper-case version */
        "000-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-", /* 00 is exactly 55 */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0", /* short flags */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-001",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g", /* flags not hex */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A",
        "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-001", /* trace 31 */
        "00-4bf92f3577b34da6a3ce929d0e0e47366-00f067aa0ba902b7-01",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01", /* upper-case hex */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01",  /* parent 15 */
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01", /* zero trace */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", /* zero parent */
        "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", /* separators */
        "00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7_01",
        "00-4bf92f3577b34da6a3ce929d0e0e473z-00f067aa0ba902b7-01", /* non-hex */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba9x2b7-01",
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x", /* future: no '-' */
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",     /* future: short */
    };
    struct trace_ctx c;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(tp(bad[i], &c) == -EBADMSG, "\"%s\" accepted", bad[i]);
        ck_untouched(&c);
    }
}
END_TEST

/* ---- sampling --------------------------------------------------------------------------- */

START_TEST(test_tracectx_sample_same_id_same_answer)
{
    static const double rates[] = {0.001, 0.1, 0.25, 0.5, 0.9};

    /* two "instances" are two calls: nothing else may feed the decision */
    for (int i = 0; i < 10000; i++) {
        uint64_t id = rng_next();
        double r = rates[i % 5];

        ck_assert(tracectx_sample_decide(id, r) == tracectx_sample_decide(id, r));
    }
    /* pinned answers (docs/trace-context.md gives the formula), so a change of hash, which
     * would make old and new nodes disagree on a trace, fails here */
    ck_assert(!tracectx_sample_decide(0x2222222222222222ull, 0.5));
    ck_assert(tracectx_sample_decide(0x463ac35c9f6413adull, 0.5));
    ck_assert(tracectx_sample_decide(3, 0.25));
    ck_assert(!tracectx_sample_decide(3, 0.1));
}
END_TEST

START_TEST(test_tracectx_sample_rate_edges)
{
    for (int i = 0; i < 10000; i++) {
        uint64_t id = rng_next();

        ck_assert(!tracectx_sample_decide(id, 0.0));
        ck_assert(!tracectx_sample_decide(id, -1.0));
        ck_assert(!tracectx_sample_decide(id, NAN));
        ck_assert(tracectx_sample_decide(id, 1.0));
        ck_assert(tracectx_sample_decide(id, 2.0));
    }
    ck_assert(!tracectx_sample_decide(0, 0.0));
    ck_assert(tracectx_sample_decide(0, 1.0));
    ck_assert(tracectx_sample_decide(UINT64_MAX, 1.0));
}
END_TEST

static double
kept_fraction(double rate, bool sequential)
{
    const int n = 100000;
    int kept = 0;

    for (int i = 0; i < n; i++) {
        uint64_t id = sequential ? 0x5f00000000000000ull + (uint64_t) i : rng_next();

        kept += tracectx_sample_decide(id, rate);
    }
    return (double) kept / n;
}

START_TEST(test_tracectx_sample_uniform)
{
    ck_assert_double_eq_tol(kept_fraction(0.25, false), 0.25, 0.01);
    ck_assert_double_eq_tol(kept_fraction(0.01, false), 0.01, 0.002);
    ck_assert_double_eq_tol(kept_fraction(0.9, false), 0.9, 0.01);
    /* ids that are not random (counters, timestamps) are spread by the hash */
    ck_assert_double_eq_tol(kept_fraction(0.25, true), 0.25, 0.01);
}
END_TEST

START_TEST(test_tracectx_sample_monotonic_in_rate)
{
    /* raising the rate only adds traces: a trace kept at 0.1 is kept at 0.2 */
    for (int i = 0; i < 10000; i++) {
        uint64_t id = rng_next();

        if (tracectx_sample_decide(id, 0.1))
            ck_assert(tracectx_sample_decide(id, 0.2));
    }
}
END_TEST

static int
rate(const char *s, double *r)
{
    *r = -42.0;
    return tracectx_sample_rate_parse(s, strlen(s), r);
}

START_TEST(test_tracectx_sample_rate_parse)
{
    static const struct {
        const char *in;
        double want;
    } ok[] = {
        {"0.2", 0.2},
        {"1.5", 1.0},
        {"-3", 0.0},
        {"1", 1.0},
        {"0", 0.0},
        {"1.0", 1.0},
        {".5", 0.5},
        {"5.", 1.0},
        {"+0.25", 0.25},
        {"1e-3", 0.001},
        {"25E-2", 0.25},
        {"2.5e-1", 0.25},
        {"-0", 0.0},
        {"1e400", 1.0},
        {"1e-400", 0.0},
        {"0.0000000000000000000000000000001", 1e-31},
        {"0.25000000000000000000000000000", 0.25},
        {"00000000000000000000000000000.5", 0.5},
    };
    static const char *junk[] = {"",   "yes", "nan", "NaN",  "inf",   "-inf", "0x1p-2", ".",
                                 "+",  "-",   "e5",  "1e",   "1e+",   " 0.5", "0.5 ",   "0,5",
                                 "1d", "1f",  "--1", "0.5.", "1e5e5", "\t1"};
    double r;

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        ck_assert_msg(rate(ok[i].in, &r) == 0, "\"%s\" rejected", ok[i].in);
        ck_assert_double_eq_tol(r, ok[i].want, ok[i].want * 1e-15 + 1e-300);
    }
    ck_assert_int_eq(rate("0.2", &r), 0);
    ck_assert_double_eq(r, 0.2); /* correctly rounded */
    ck_assert_int_eq(rate("0.1", &r), 0);
    ck_assert_double_eq(r, 0.1);
    for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
        ck_assert_msg(rate(junk[i], &r) == -EINVAL, "\"%s\" accepted", junk[i]);
        ck_assert_double_eq(r, -42.0);
    }
}
END_TEST

START_TEST(test_tracectx_sample_apply)
{
    struct trace_ctx c = {.trace_lo = 0x1234, .span_id = 1};
    uint64_t id;

    /* undecided: the router's rate decides, and the decision is recorded */
    ck_assert(tracectx_sample_apply(&c, 1.0, -1.0));
    ck_assert_uint_eq(c.flags, TRACECTX_F_SAMPLING_KNOWN | TRACECTX_F_SAMPLED);
    c.flags = 0;
    ck_assert(!tracectx_sample_apply(&c, 0.0, -1.0));
    ck_assert_uint_eq(c.flags, TRACECTX_F_SAMPLING_KNOWN);

    /* a decision in the context is followed whatever the local rate */
    c.flags = TRACECTX_F_SAMPLING_KNOWN | TRACECTX_F_SAMPLED;
    ck_assert(tracectx_sample_apply(&c, 0.0, -1.0));
    c.flags = TRACECTX_F_SAMPLING_KNOWN;
    ck_assert(!tracectx_sample_apply(&c, 1.0, -1.0));

    /* l5d-sample re-decides even a known decision; NaN is no override */
    c.flags = TRACECTX_F_SAMPLING_KNOWN;
    ck_assert(tracectx_sample_apply(&c, 0.0, 1.0));
    ck_assert(!tracectx_sample_apply(&c, 1.0, 0.0));
    ck_assert(!tracectx_sample_apply(&c, 0.0, NAN));

    /* debug (b3 "d", X-B3-Flags: 1, Finagle flag 1) forces sampling */
    c.flags = TRACECTX_F_DEBUG;
    ck_assert(tracectx_sample_apply(&c, 0.0, 0.0));
    ck_assert_uint_eq(c.flags, TRACECTX_F_DEBUG | TRACECTX_F_SAMPLING_KNOWN | TRACECTX_F_SAMPLED);
    ck_assert_int_eq(b3s("64fe8b2a57d3eff7-e457b5a2e4d86bd1-d", &c), 0);
    ck_assert(tracectx_sample_apply(&c, 0.0, 0.0));

    /* unknown bits survive */
    c.flags = (1ull << 50) | TRACECTX_F_SAMPLING_KNOWN | TRACECTX_F_SAMPLED;
    ck_assert(!tracectx_sample_apply(&c, 1.0, 0.0));
    ck_assert_uint_eq(c.flags, (1ull << 50) | TRACECTX_F_SAMPLING_KNOWN);

    /* the rate decision is the trace id's */
    for (int i = 0; i < 1000; i++) {
        id = rng_next();
        c.trace_lo = id;
        c.flags = 0;
        ck_assert(tracectx_sample_apply(&c, 0.3, -1.0) == tracectx_sample_decide(id, 0.3));
    }
}
END_TEST

/* ---- l5d-ctx-deadline ------------------------------------------------------------------- */

static int
dl(const char *s, struct trace_deadline *d)
{
    d->timestamp_ns = 11;
    d->deadline_ns = 22;
    return tracectx_deadline_parse(s, strlen(s), d);
}

START_TEST(test_tracectx_deadline_parse_format)
{
    struct trace_deadline d;
    char out[TRACECTX_DEADLINE_MAX];

    ck_assert_int_eq(dl("1500000000000000000 1500000000500000000", &d), 0);
    ck_assert_int_eq(d.timestamp_ns, 1500000000000000000ll);
    ck_assert_int_eq(d.deadline_ns, 1500000000500000000ll);
    ck_assert_uint_eq(tracectx_deadline_format(&d, out, sizeof(out)), 39);
    ck_assert_str_eq(out, "1500000000000000000 1500000000500000000");

    ck_assert_int_eq(dl("-9223372036854775808 9223372036854775807", &d), 0);
    ck_assert_int_eq(d.timestamp_ns, INT64_MIN);
    ck_assert_int_eq(d.deadline_ns, INT64_MAX);
    ck_assert_uint_eq(tracectx_deadline_format(&d, out, sizeof(out)), 40);
    ck_assert_str_eq(out, "-9223372036854775808 9223372036854775807");
    ck_assert_uint_eq(tracectx_deadline_format(&d, out, 40), 0);
    ck_assert_str_eq(out, "");

    ck_assert_int_eq(dl("+0 -5", &d), 0);
    ck_assert_int_eq(d.timestamp_ns, 0);
    ck_assert_int_eq(d.deadline_ns, -5);
    tracectx_deadline_format(&d, out, sizeof(out));
    ck_assert_str_eq(out, "0 -5");
}
END_TEST

START_TEST(test_tracectx_deadline_rejects)
{
    static const char *bad[] = {
        "",
        " ",
        "1",
        "1 ",
        " 1",
        "1  2",
        "1 2 ",
        "1 2 3",
        "a 2",
        "1 b",
        "1\t2",
        "0x10 2",
        "1.5 2",
        "- 2",
        "1 +",
        "9223372036854775808 1", /* overflow */
        "1 -9223372036854775809",
        "99999999999999999999999 1",
    };
    struct trace_deadline d;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(dl(bad[i], &d) == -EBADMSG, "\"%s\" accepted", bad[i]);
        ck_assert_int_eq(d.timestamp_ns, 11);
        ck_assert_int_eq(d.deadline_ns, 22);
    }
}
END_TEST

START_TEST(test_tracectx_deadline_merge_strictest)
{
    struct trace_deadline acc, a = {100, 1000}, b = {200, 1500}, c = {50, 900};

    tracectx_deadline_init(&acc);
    ck_assert(tracectx_deadline_is_none(&acc));
    tracectx_deadline_merge(&acc, &a);
    ck_assert(!tracectx_deadline_is_none(&acc));
    ck_assert_int_eq(acc.timestamp_ns, 100);
    ck_assert_int_eq(acc.deadline_ns, 1000);
    tracectx_deadline_merge(&acc, &b); /* later timestamp, later deadline */
    ck_assert_int_eq(acc.timestamp_ns, 200);
    ck_assert_int_eq(acc.deadline_ns, 1000);
    tracectx_deadline_merge(&acc, &c); /* earlier timestamp, earlier deadline */
    ck_assert_int_eq(acc.timestamp_ns, 200);
    ck_assert_int_eq(acc.deadline_ns, 900);
    /* order does not matter */
    tracectx_deadline_init(&acc);
    tracectx_deadline_merge(&acc, &c);
    tracectx_deadline_merge(&acc, &b);
    tracectx_deadline_merge(&acc, &a);
    ck_assert_int_eq(acc.timestamp_ns, 200);
    ck_assert_int_eq(acc.deadline_ns, 900);
}
END_TEST

/* ---- precedence ------------------------------------------------------------------------- */

static struct trace_ctx cands[TRACECTX_N_SOURCES];

static void
set_cand(enum tracectx_source s, uint64_t trace, uint64_t span, uint64_t parent)
{
    cands[s] = (struct trace_ctx){.trace_lo = trace, .span_id = span, .parent_id = parent};
}

#define F(s) TRACECTX_FMT(TRACECTX_##s)

START_TEST(test_tracectx_choose_order)
{
    memset(cands, 0, sizeof(cands));
    set_cand(TRACECTX_L5D, 1, 10, 0);
    set_cand(TRACECTX_B3_SINGLE, 2, 20, 0);
    set_cand(TRACECTX_B3_MULTI, 3, 30, 0);
    set_cand(TRACECTX_TRACEPARENT, 4, 40, 0);

    ck_assert_int_eq(tracectx_choose(cands, 0), TRACECTX_NONE);
    ck_assert_int_eq(tracectx_choose(cands, F(NONE)), TRACECTX_NONE);
    /* alone, each is used */
    ck_assert_int_eq(tracectx_choose(cands, F(L5D)), TRACECTX_L5D);
    ck_assert_int_eq(tracectx_choose(cands, F(B3_SINGLE)), TRACECTX_B3_SINGLE);
    ck_assert_int_eq(tracectx_choose(cands, F(B3_MULTI)), TRACECTX_B3_MULTI);
    ck_assert_int_eq(tracectx_choose(cands, F(TRACEPARENT)), TRACECTX_TRACEPARENT);
    /* disagreeing: l5d-ctx-trace, then b3, then X-B3-*, then traceparent */
    ck_assert_int_eq(tracectx_choose(cands, TRACECTX_FMT_ALL), TRACECTX_L5D);
    ck_assert_int_eq(tracectx_choose(cands, F(B3_SINGLE) | F(B3_MULTI) | F(TRACEPARENT)),
                     TRACECTX_B3_SINGLE);
    ck_assert_int_eq(tracectx_choose(cands, F(B3_MULTI) | F(TRACEPARENT)), TRACECTX_B3_MULTI);
    ck_assert_int_eq(tracectx_choose(cands, F(L5D) | F(TRACEPARENT)), TRACECTX_L5D);
}
END_TEST

START_TEST(test_tracectx_choose_malformed_falls_through)
{
    struct trace_ctx c;
    unsigned valid = 0;

    memset(cands, 0, sizeof(cands));
    /* a request with a broken l5d-ctx-trace and a good traceparent */
    if (tracectx_l5d_parse("not base64!", 11, &cands[TRACECTX_L5D]) == 0)
        valid |= F(L5D);
    if (tracectx_traceparent_parse(TP_EXAMPLE, strlen(TP_EXAMPLE), &c) == 0) {
        cands[TRACECTX_TRACEPARENT] = c;
        valid |= F(TRACEPARENT);
    }
    ck_assert_int_eq(tracectx_choose(cands, valid), TRACECTX_TRACEPARENT);
    /* the router's read set masks formats out */
    set_cand(TRACECTX_L5D, 1, 10, 0);
    valid |= F(L5D);
    ck_assert_int_eq(tracectx_choose(cands, valid), TRACECTX_L5D);
    ck_assert_int_eq(tracectx_choose(cands, valid & ~F(L5D)), TRACECTX_TRACEPARENT);
}
END_TEST

START_TEST(test_tracectx_choose_prefers_direct_child)
{
    memset(cands, 0, sizeof(cands));
    /* a B3-instrumented app forwarded our l5d-ctx-trace (span 10) and made span 11 */
    set_cand(TRACECTX_L5D, 7, 10, 5);
    set_cand(TRACECTX_B3_MULTI, 7, 11, 10);
    ck_assert_int_eq(tracectx_choose(cands, F(L5D) | F(B3_MULTI)), TRACECTX_B3_MULTI);
    /* a linkerd forwarded stale X-B3-* (span 10) and wrote l5d-ctx-trace 12, child of 10 */
    set_cand(TRACECTX_L5D, 7, 12, 10);
    set_cand(TRACECTX_B3_MULTI, 7, 10, 5);
    ck_assert_int_eq(tracectx_choose(cands, F(L5D) | F(B3_MULTI)), TRACECTX_L5D);
    /* same trace, unrelated spans: the order decides */
    set_cand(TRACECTX_B3_MULTI, 7, 13, 99);
    ck_assert_int_eq(tracectx_choose(cands, F(L5D) | F(B3_MULTI)), TRACECTX_L5D);
    /* what meshd itself writes: both formats with the same ids */
    set_cand(TRACECTX_B3_MULTI, 7, 12, 10);
    ck_assert_int_eq(tracectx_choose(cands, F(L5D) | F(B3_MULTI)), TRACECTX_L5D);
    /* a parent match in another trace is no relation */
    set_cand(TRACECTX_B3_MULTI, 8, 13, 12);
    ck_assert_int_eq(tracectx_choose(cands, F(L5D) | F(B3_MULTI)), TRACECTX_L5D);
    /* a chain: l5d <- b3 <- X-B3-* */
    set_cand(TRACECTX_L5D, 7, 10, 0);
    set_cand(TRACECTX_B3_SINGLE, 7, 11, 10);
    set_cand(TRACECTX_B3_MULTI, 7, 12, 11);
    ck_assert_int_eq(tracectx_choose(cands, F(L5D) | F(B3_SINGLE) | F(B3_MULTI)),
                     TRACECTX_B3_MULTI);
    /* contrived cycle terminates */
    set_cand(TRACECTX_L5D, 7, 10, 11);
    set_cand(TRACECTX_B3_SINGLE, 7, 11, 10);
    ck_assert_int_ne(tracectx_choose(cands, F(L5D) | F(B3_SINGLE)), TRACECTX_NONE);
}
END_TEST

START_TEST(test_tracectx_choose_sampling_only_is_final)
{
    memset(cands, 0, sizeof(cands));
    ck_assert_int_eq(tracectx_b3_single_parse("0", 1, &cands[TRACECTX_B3_SINGLE]), 0);
    set_cand(TRACECTX_TRACEPARENT, 4, 40, 0);
    ck_assert_int_eq(tracectx_choose(cands, F(B3_SINGLE) | F(TRACEPARENT)), TRACECTX_B3_SINGLE);
    /* a trace to join beats a bare decision placed after it */
    set_cand(TRACECTX_L5D, 1, 10, 0);
    ck_assert_int_eq(tracectx_choose(cands, F(L5D) | F(B3_SINGLE)), TRACECTX_L5D);
}
END_TEST

START_TEST(test_tracectx_source_names)
{
    enum tracectx_source s;

    for (unsigned i = TRACECTX_L5D; i < TRACECTX_N_SOURCES; i++) {
        const char *n = tracectx_source_name((enum tracectx_source) i);

        ck_assert_int_eq(tracectx_source_from_name(n, strlen(n), &s), 0);
        ck_assert_int_eq(s, (enum tracectx_source) i);
    }
    ck_assert_str_eq(tracectx_source_name(TRACECTX_L5D), "l5d");
    ck_assert_str_eq(tracectx_source_name(TRACECTX_NONE), "none");
    ck_assert_int_eq(tracectx_source_from_name("none", 4, &s), -EINVAL);
    ck_assert_int_eq(tracectx_source_from_name("b3x", 3, &s), -EINVAL);
    ck_assert_int_eq(tracectx_source_from_name("b3", 1, &s), -EINVAL);
    ck_assert_uint_eq(TRACECTX_WRITE_DEFAULT, F(L5D) | F(B3_MULTI));
    ck_assert_uint_eq(TRACECTX_READ_DEFAULT, TRACECTX_FMT_ALL);
}
END_TEST

START_TEST(test_tracectx_root_and_child)
{
    struct trace_ctx in, root, child;

    ck_assert_int_eq(b3s("d", &in), 0);
    tracectx_root(0, 0xaaaa, 0xbbbb, &in, &root);
    ck_assert_uint_eq(root.trace_lo, 0xaaaa);
    ck_assert_uint_eq(root.span_id, 0xbbbb);
    ck_assert_uint_eq(root.parent_id, 0);
    ck_assert_uint_eq(root.flags, in.flags);
    tracectx_root(1, 2, 3, NULL, &root);
    ck_assert_uint_eq(root.flags, 0);

    ck_assert_int_eq(l5d(V128, &in), 0);
    tracectx_child(&in, 0xcccc, &child);
    ck_assert_uint_eq(child.trace_hi, HIGH);
    ck_assert_uint_eq(child.trace_lo, TRACE);
    ck_assert_uint_eq(child.parent_id, SPAN);
    ck_assert_uint_eq(child.span_id, 0xcccc);
    ck_assert_uint_eq(child.flags, 6);
    tracectx_child(&child, 0xdddd, &child); /* in place */
    ck_assert_uint_eq(child.parent_id, 0xcccc);
    ck_assert_uint_eq(child.span_id, 0xdddd);
}
END_TEST

static Suite *
tracectx_suite(void)
{
    Suite *s = suite_create("tracectx");
    TCase *tc;

    tc = tcase_create("l5d");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_tracectx_l5d_vector64_parse);
    tcase_add_test(tc, test_tracectx_l5d_vector64_format);
    tcase_add_test(tc, test_tracectx_l5d_vector128_parse);
    tcase_add_test(tc, test_tracectx_l5d_vector128_format);
    tcase_add_test(tc, test_tracectx_l5d_unpadded_accepted);
    tcase_add_test(tc, test_tracectx_l5d_root_has_no_parent);
    tcase_add_test(tc, test_tracectx_l5d_unknown_flags_kept);
    tcase_add_test(tc, test_tracectx_l5d_roundtrip);
    tcase_add_test(tc, test_tracectx_l5d_rejects_bad_base64);
    tcase_add_test(tc, test_tracectx_l5d_rejects_wrong_length);
    tcase_add_test(tc, test_tracectx_l5d_rejects_zero_ids);
    tcase_add_test(tc, test_tracectx_l5d_format_small_buffer);
    tcase_add_test(tc, test_tracectx_l5d_reqid);
    suite_add_tcase(s, tc);

    tc = tcase_create("b3_multi");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_tracectx_b3_multi_parse_64);
    tcase_add_test(tc, test_tracectx_b3_multi_parse_128_any_case);
    tcase_add_test(tc, test_tracectx_b3_multi_sampling_state);
    tcase_add_test(tc, test_tracectx_b3_multi_sampling_only);
    tcase_add_test(tc, test_tracectx_b3_multi_rejects);
    tcase_add_test(tc, test_tracectx_b3_multi_write_values);
    tcase_add_test(tc, test_tracectx_b3_multi_roundtrip);
    suite_add_tcase(s, tc);

    tc = tcase_create("b3_single");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_tracectx_b3_single_sampling_only);
    tcase_add_test(tc, test_tracectx_b3_single_parse_forms);
    tcase_add_test(tc, test_tracectx_b3_single_format);
    tcase_add_test(tc, test_tracectx_b3_single_roundtrip);
    tcase_add_test(tc, test_tracectx_b3_single_rejects);
    suite_add_tcase(s, tc);

    tc = tcase_create("traceparent");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_tracectx_traceparent_parse);
    tcase_add_test(tc, test_tracectx_traceparent_future_version);
    tcase_add_test(tc, test_tracectx_traceparent_format);
    tcase_add_test(tc, test_tracectx_traceparent_roundtrip);
    tcase_add_test(tc, test_tracectx_traceparent_rejects);
    suite_add_tcase(s, tc);

    tc = tcase_create("sampling");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_tracectx_sample_same_id_same_answer);
    tcase_add_test(tc, test_tracectx_sample_rate_edges);
    tcase_add_test(tc, test_tracectx_sample_uniform);
    tcase_add_test(tc, test_tracectx_sample_monotonic_in_rate);
    tcase_add_test(tc, test_tracectx_sample_rate_parse);
    tcase_add_test(tc, test_tracectx_sample_apply);
    suite_add_tcase(s, tc);

    tc = tcase_create("deadline");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_tracectx_deadline_parse_format);
    tcase_add_test(tc, test_tracectx_deadline_rejects);
    tcase_add_test(tc, test_tracectx_deadline_merge_strictest);
    suite_add_tcase(s, tc);

    tc = tcase_create("precedence");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_tracectx_choose_order);
    tcase_add_test(tc, test_tracectx_choose_malformed_falls_through);
    tcase_add_test(tc, test_tracectx_choose_prefers_direct_child);
    tcase_add_test(tc, test_tracectx_choose_sampling_only_is_final);
    tcase_add_test(tc, test_tracectx_source_names);
    tcase_add_test(tc, test_tracectx_root_and_child);
    suite_add_tcase(s, tc);

    return s;
}

CHECK_MAIN(tracectx_suite)
