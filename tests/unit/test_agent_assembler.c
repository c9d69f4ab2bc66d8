/* tests/unit/test_agent_assembler.c - the assembly window (agent/assembler.h): grouping by
 * trace id, idle expiry from the last span, fragment merging, the per-trace and memory
 * bounds, flush, and a window large enough to make the table grow. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/aspan.h"
#include "agent/assembler.h"
#include "proto/span.h"
#include "tests/lib/check_main.h"

#define MAX_EMITTED 20000

struct emitted {
    uint64_t trace_hi, trace_lo;
    unsigned n_spans;
    enum assembler_why why;
    uint64_t first_span_id;
};

static struct emitted em[MAX_EMITTED];
static unsigned n_em;
static struct aspan *kept; /* the last emitted trace's first span, kept for inspection */

static void
on_emit(struct asm_trace *t, enum assembler_why why, void *arg)
{
    struct list *pos, *tmp;
    unsigned n = 0;

    (void) arg;
    ck_assert_uint_lt(n_em, MAX_EMITTED);
    em[n_em] = (struct emitted){t->trace_hi, t->trace_lo, t->n_spans, why, 0};
    list_for_each_safe(pos, tmp, &t->spans)
    {
        struct aspan *sp = list_entry(pos, struct aspan, link);

        list_remove(&sp->link);
        if (n++ == 0) {
            em[n_em].first_span_id = sp->span_id;
            aspan_free(kept);
            kept = sp;
        } else {
            aspan_free(sp);
        }
    }
    ck_assert_uint_eq(n, t->n_spans);
    n_em++;
}

static struct assembler *a;
static const struct assembler_cfg cfg = {
    .idle_ms = 1000, .max_bytes = 1 << 30, .max_trace_spans = 100};

static void
setup(void)
{
    n_em = 0;
    kept = NULL;
    a = assembler_new(&cfg, on_emit, NULL);
}

static void
teardown(void)
{
    a = assembler_free(a);
    kept = aspan_free(kept);
}

static struct span sp;

static const struct span *
mk(uint64_t trace, uint64_t id, enum span_kind kind)
{
    memset(&sp, 0, sizeof(sp));
    sp.trace_lo = trace;
    sp.span_id = id;
    sp.kind = kind;
    sp.flags = SPAN_F_SAMPLED;
    sp.timestamp_us = 1000000;
    sp.duration_us = 10;
    sp.name = "get";
    sp.name_len = 3;
    sp.local.service = "svc";
    sp.local.service_len = 3;
    return &sp;
}

START_TEST(test_agent_assembler_groups_by_trace)
{
    ck_assert_int_eq(assembler_add(a, mk(1, 10, SPAN_KIND_SERVER), 0), 0);
    ck_assert_int_eq(assembler_add(a, mk(2, 20, SPAN_KIND_SERVER), 0), 0);
    ck_assert_int_eq(assembler_add(a, mk(1, 11, SPAN_KIND_CLIENT), 0), 0);
    ck_assert_int_eq(assembler_add(a, mk(1, 12, SPAN_KIND_CLIENT), 0), 0);
    ck_assert_uint_eq(assembler_n_traces(a), 2);
    ck_assert_uint_eq(assembler_n_spans(a), 4);
    assembler_expire(a, 999999);
    ck_assert_uint_eq(n_em, 0);
    assembler_expire(a, 1000000);
    ck_assert_uint_eq(n_em, 2);
    ck_assert_uint_eq(em[0].trace_lo + em[1].trace_lo, 3);
    for (unsigned i = 0; i < 2; i++) {
        ck_assert_uint_eq(em[i].n_spans, em[i].trace_lo == 1 ? 3 : 1);
        ck_assert_uint_eq(em[i].first_span_id, em[i].trace_lo == 1 ? 10 : 20); /* arrival order */
        ck_assert_int_eq(em[i].why, ASSEMBLER_IDLE);
    }
    ck_assert_uint_eq(assembler_n_spans(a), 0);
    ck_assert_uint_eq(assembler_bytes(a), 0);
}
END_TEST

START_TEST(test_agent_assembler_idle_from_last_span)
{
    assembler_add(a, mk(1, 10, SPAN_KIND_SERVER), 0);
    assembler_add(a, mk(2, 20, SPAN_KIND_SERVER), 100000);
    assembler_add(a, mk(1, 11, SPAN_KIND_CLIENT), 600000);
    assembler_expire(a, 1000000);
    ck_assert_uint_eq(n_em, 0);
    assembler_expire(a, 1100000);
    ck_assert_uint_eq(n_em, 1);
    ck_assert_uint_eq(em[0].trace_lo, 2);
    assembler_expire(a, 1600000);
    ck_assert_uint_eq(n_em, 2);
    ck_assert_uint_eq(em[1].trace_lo, 1);
}
END_TEST

START_TEST(test_agent_assembler_128bit_ids_differ)
{
    struct span s = *mk(5, 1, SPAN_KIND_SERVER);

    assembler_add(a, &s, 0);
    s.trace_hi = 9;
    assembler_add(a, &s, 0); /* same span id, other trace: no merge */
    ck_assert_uint_eq(assembler_n_traces(a), 2);
    assembler_flush(a);
    ck_assert_uint_eq(n_em, 2);
    ck_assert_uint_eq(em[0].trace_hi + em[1].trace_hi, 9);
}
END_TEST

START_TEST(test_agent_assembler_merges_fragments)
{
    struct span s1 = *mk(1, 10, SPAN_KIND_SERVER), s2;
    struct span_tag_kv *t;

    s1.name_len = 0;
    s1.timestamp_us = 1000;
    s1.duration_us = 100; /* 1000..1100 */
    s1.tags[0] =
        (struct span_tag_kv){.key = 0, .name = "a", .name_len = 1, .value = "old", .value_len = 3};
    s1.tags[1] =
        (struct span_tag_kv){.key = 0, .name = "b", .name_len = 1, .value = "keep", .value_len = 4};
    s1.n_tags = 2;
    s2 = *mk(1, 10, SPAN_KIND_SERVER);
    s2.timestamp_us = 1050;
    s2.duration_us = 200; /* 1050..1250 */
    s2.flags = SPAN_F_SAMPLED | SPAN_F_DEBUG;
    s2.parent_id = 7;
    s2.tags[0] =
        (struct span_tag_kv){.key = 0, .name = "a", .name_len = 1, .value = "new", .value_len = 3};
    s2.tags[1] = (struct span_tag_kv){.key = SPAN_TAG_HTTP_STATUS_CODE,
                                      .name = span_tag_name(SPAN_TAG_HTTP_STATUS_CODE),
                                      .name_len = strlen(span_tag_name(SPAN_TAG_HTTP_STATUS_CODE)),
                                      .num = 503,
                                      .is_num = true};
    s2.n_tags = 2;
    s2.remote.service = "peer";
    s2.remote.service_len = 4;
    ck_assert_int_eq(assembler_add(a, &s1, 0), 0);
    ck_assert_int_eq(assembler_add(a, &s2, 0), 1);
    ck_assert_int_eq(assembler_add(a, mk(1, 10, SPAN_KIND_CLIENT), 0), 0); /* other kind */
    ck_assert_uint_eq(assembler_n_spans(a), 2);
    assembler_flush(a);
    ck_assert_uint_eq(n_em, 1);
    ck_assert_uint_eq(em[0].n_spans, 2);
    ck_assert_ptr_nonnull(kept);
    ck_assert_uint_eq(kept->span_id, 10);
    ck_assert_int_eq(kept->kind, SPAN_KIND_SERVER);
    ck_assert_uint_eq(kept->name_len, 3); /* filled from the second fragment */
    ck_assert_uint_eq(kept->parent_id, 7);
    ck_assert_uint_eq(kept->flags, SPAN_F_SAMPLED | SPAN_F_DEBUG);
    ck_assert_uint_eq(kept->timestamp_us, 1000);
    ck_assert_uint_eq(kept->duration_us, 250);
    ck_assert_uint_eq(kept->remote.service_len, 4);
    ck_assert_uint_eq(kept->n_tags, 3);
    for (unsigned i = 0; i < kept->n_tags; i++) {
        t = &kept->tags[i];
        if (t->name_len == 1 && t->name[0] == 'a')
            ck_assert_int_eq(memcmp(t->value, "new", 3), 0); /* the later fragment wins */
    }
    ck_assert(aspan_is_error(kept));
}
END_TEST

START_TEST(test_agent_assembler_full_trace_leaves)
{
    struct assembler_cfg c = cfg;

    c.max_trace_spans = 3;
    assembler_set_cfg(a, &c);
    for (uint64_t i = 0; i < 7; i++)
        assembler_add(a, mk(1, 100 + i, SPAN_KIND_SERVER), 0);
    ck_assert_uint_eq(n_em, 2);
    ck_assert_int_eq(em[0].why, ASSEMBLER_FULL);
    ck_assert_uint_eq(em[0].n_spans, 3);
    ck_assert_uint_eq(em[1].first_span_id, 103);
    ck_assert_uint_eq(assembler_n_spans(a), 1);
}
END_TEST

START_TEST(test_agent_assembler_memory_bound_evicts_oldest)
{
    struct assembler_cfg c = cfg;
    size_t one;

    assembler_add(a, mk(1, 1, SPAN_KIND_SERVER), 0);
    one = assembler_bytes(a);
    assembler_flush(a);
    n_em = 0;
    c.max_bytes = one * 3;
    assembler_set_cfg(a, &c);
    for (uint64_t t = 1; t <= 5; t++)
        assembler_add(a, mk(t, t, SPAN_KIND_SERVER), t);
    ck_assert_uint_eq(n_em, 2);
    ck_assert_uint_eq(em[0].trace_lo, 1);
    ck_assert_uint_eq(em[1].trace_lo, 2);
    ck_assert_int_eq(em[0].why, ASSEMBLER_MEMORY);
    ck_assert_uint_le(assembler_bytes(a), c.max_bytes);
    /* activity moves a trace to the back of the line */
    assembler_add(a, mk(3, 33, SPAN_KIND_SERVER), 10);
    ck_assert_uint_eq(n_em, 3);
    ck_assert_uint_eq(em[2].trace_lo, 4);
}
END_TEST

START_TEST(test_agent_assembler_many_traces)
{
    for (uint64_t t = 1; t <= 10000; t++) {
        assembler_add(a, mk(t, 1, SPAN_KIND_SERVER), t);
        assembler_add(a, mk(t, 2, SPAN_KIND_CLIENT), t);
    }
    ck_assert_uint_eq(assembler_n_traces(a), 10000);
    ck_assert_uint_eq(assembler_n_spans(a), 20000);
    assembler_expire(a, 1000000 + 5000);
    ck_assert_uint_eq(n_em, 5000);
    assembler_flush(a);
    ck_assert_uint_eq(n_em, 10000);
    for (unsigned i = 0; i < n_em; i++) {
        ck_assert_uint_eq(em[i].trace_lo, i + 1); /* oldest first */
        ck_assert_uint_eq(em[i].n_spans, 2);
    }
    ck_assert_uint_eq(assembler_bytes(a), 0);
}
END_TEST

START_TEST(test_agent_assembler_unknown_tags_dropped)
{
    struct span s = *mk(1, 1, SPAN_KIND_SERVER);

    s.tags[0] = (struct span_tag_kv){.key = 999, .name = NULL, .value = "x", .value_len = 1};
    s.tags[1] = (struct span_tag_kv){.key = SPAN_TAG_ERROR,
                                     .name = span_tag_name(SPAN_TAG_ERROR),
                                     .name_len = 5,
                                     .value = "boom",
                                     .value_len = 4};
    s.n_tags = 2;
    assembler_add(a, &s, 0);
    assembler_flush(a);
    ck_assert_uint_eq(kept->n_tags, 1);
    ck_assert_uint_eq(kept->tags[0].key, SPAN_TAG_ERROR);
    ck_assert(aspan_is_error(kept));
}
END_TEST

static Suite *
assembler_suite(void)
{
    Suite *s = suite_create("agent_assembler");
    TCase *tc = tcase_create("window");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_agent_assembler_groups_by_trace);
    tcase_add_test(tc, test_agent_assembler_idle_from_last_span);
    tcase_add_test(tc, test_agent_assembler_128bit_ids_differ);
    tcase_add_test(tc, test_agent_assembler_merges_fragments);
    tcase_add_test(tc, test_agent_assembler_full_trace_leaves);
    tcase_add_test(tc, test_agent_assembler_memory_bound_evicts_oldest);
    tcase_add_test(tc, test_agent_assembler_many_traces);
    tcase_add_test(tc, test_agent_assembler_unknown_tags_dropped);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(assembler_suite)
