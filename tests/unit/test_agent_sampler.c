/* tests/unit/test_agent_sampler.c - sampling decisions (agent/sampler.h): Zipkin's trace-id
 * rule, the head decision, debug, the keep rules and the spans-per-second budget. */
#include <stdint.h>
#include <stdlib.h>

#include "agent/sampler.h"
#include "tests/lib/check_main.h"

static struct sampler s;

static struct sampler_cfg
cfg(double rate, uint32_t sps, bool errors, uint32_t slow_ms)
{
    return (struct sampler_cfg){.rate = rate,
                                .spans_per_second = sps,
                                .keep_errors = errors,
                                .keep_slower_than_ms = slow_ms};
}

START_TEST(test_agent_sampler_trace_id_rule)
{
    ck_assert(sampler_trace_id_keep(0x7fffffffffffffffull, 1.0));
    ck_assert(sampler_trace_id_keep(0x1234, 1.0));
    /* rate 0: Zipkin keeps only 0 and Long.MIN_VALUE (whose abs stays negative) */
    ck_assert(!sampler_trace_id_keep(1, 0.0));
    ck_assert(sampler_trace_id_keep(0, 0.0));
    ck_assert(sampler_trace_id_keep(0x8000000000000000ull, 0.0));
    /* rate 0.5: boundary INT64_MAX/2; negative ids by magnitude */
    ck_assert(sampler_trace_id_keep(0x3fffffffffffff00ull, 0.5));
    ck_assert(!sampler_trace_id_keep(0x4000000000001000ull, 0.5));
    ck_assert(sampler_trace_id_keep((uint64_t) -0x3fffffffffffff00ll, 0.5));
    ck_assert(!sampler_trace_id_keep((uint64_t) -0x4000000000001000ll, 0.5));
}
END_TEST

START_TEST(test_agent_sampler_rate_is_a_share)
{
    uint64_t x = 88172645463325252ull;
    unsigned kept = 0;

    for (int i = 0; i < 100000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        kept += sampler_trace_id_keep(x, 0.1);
    }
    ck_assert_uint_ge(kept, 9500);
    ck_assert_uint_le(kept, 10500);
}
END_TEST

START_TEST(test_agent_sampler_head_decision)
{
    struct sampler_cfg c = cfg(1.0, 0, false, 0);
    struct sampler_trace t = {.trace_lo = 1, .n_sampled = 2, .n_unsampled = 3};
    struct sampler_decision d;

    sampler_init(&s, &c, 0);
    d = sampler_decide(&s, &t, 0);
    ck_assert_int_eq(d.sampled, SAMPLER_KEEP);
    ck_assert_int_eq(d.unsampled, SAMPLER_DROP_UNSAMPLED);
    ck_assert(!d.by_rule);
}
END_TEST

START_TEST(test_agent_sampler_thinned_and_debug)
{
    struct sampler_cfg c = cfg(0.0, 0, false, 0);
    struct sampler_trace t = {.trace_lo = 5, .n_sampled = 2, .n_debug = 1};
    struct sampler_decision d;

    sampler_init(&s, &c, 0);
    d = sampler_decide(&s, &t, 0);
    ck_assert_int_eq(d.sampled, SAMPLER_DROP_THINNED); /* debug spans are kept by the caller */
    ck_assert_str_eq(sampler_verdict_name(d.sampled), "thinned");
}
END_TEST

START_TEST(test_agent_sampler_keep_rules)
{
    struct sampler_cfg c = cfg(0.0, 1, true, 100);
    struct sampler_trace err = {
        .trace_lo = 5, .n_sampled = 10, .n_unsampled = 2, .has_error = true};
    struct sampler_trace slow = {.trace_lo = 5, .n_unsampled = 2, .max_duration_us = 100000};
    struct sampler_trace fast = {.trace_lo = 5, .n_unsampled = 2, .max_duration_us = 99999};
    struct sampler_decision d;

    sampler_init(&s, &c, 0);
    d = sampler_decide(&s, &err, 0);
    ck_assert(d.by_rule);
    ck_assert_int_eq(d.sampled, SAMPLER_KEEP);   /* over thinning and budget */
    ck_assert_int_eq(d.unsampled, SAMPLER_KEEP); /* over the head decision */
    d = sampler_decide(&s, &slow, 0);
    ck_assert(d.by_rule);
    d = sampler_decide(&s, &fast, 0);
    ck_assert(!d.by_rule);
    ck_assert_int_eq(d.unsampled, SAMPLER_DROP_UNSAMPLED);
    c.keep_errors = false;
    sampler_set_cfg(&s, &c);
    d = sampler_decide(&s, &err, 0);
    ck_assert(!d.by_rule);
    ck_assert_int_eq(d.sampled, SAMPLER_DROP_THINNED);
}
END_TEST

START_TEST(test_agent_sampler_budget)
{
    struct sampler_cfg c = cfg(1.0, 100, false, 0);
    struct sampler_trace t60 = {.trace_lo = 1, .n_sampled = 60};
    struct sampler_trace t250 = {.trace_lo = 1, .n_sampled = 250};

    sampler_init(&s, &c, 0);
    ck_assert_int_eq(sampler_decide(&s, &t60, 0).sampled, SAMPLER_KEEP); /* 40 left */
    ck_assert_int_eq(sampler_decide(&s, &t60, 0).sampled, SAMPLER_DROP_BUDGET);
    ck_assert_int_eq(sampler_decide(&s, &t60, 200000).sampled, SAMPLER_KEEP); /* +20 */
    ck_assert_int_eq(sampler_decide(&s, &t60, 200000).sampled, SAMPLER_DROP_BUDGET);
    /* a trace larger than the bucket: waits for a full bucket, then leaves it in debt */
    ck_assert_int_eq(sampler_decide(&s, &t250, 500000).sampled, SAMPLER_DROP_BUDGET);
    ck_assert_int_eq(sampler_decide(&s, &t250, 1200000).sampled, SAMPLER_KEEP);
    ck_assert_int_eq(sampler_decide(&s, &t60, 2200000).sampled, SAMPLER_DROP_BUDGET);
    ck_assert_int_eq(sampler_decide(&s, &t60, 3300000).sampled, SAMPLER_KEEP);
}
END_TEST

static Suite *
sampler_suite(void)
{
    Suite *su = suite_create("agent_sampler");
    TCase *tc = tcase_create("decide");

    tcase_add_test(tc, test_agent_sampler_trace_id_rule);
    tcase_add_test(tc, test_agent_sampler_rate_is_a_share);
    tcase_add_test(tc, test_agent_sampler_head_decision);
    tcase_add_test(tc, test_agent_sampler_thinned_and_debug);
    tcase_add_test(tc, test_agent_sampler_keep_rules);
    tcase_add_test(tc, test_agent_sampler_budget);
    suite_add_tcase(su, tc);
    return su;
}

CHECK_MAIN(sampler_suite)
