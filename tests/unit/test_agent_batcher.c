/* tests/unit/test_agent_batcher.c - batches (agent/batcher.h): flush by count, by bytes
 * (a batch never passes max_bytes unless one span alone does), by age, on demand; the list
 * framing; each span exactly once across batches. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/aspan.h"
#include "agent/batcher.h"
#include "proto/span.h"
#include "tests/lib/check_main.h"

#define MAX_BATCHES 1000

static struct batch *got[MAX_BATCHES];
static unsigned n_got;

static void
on_flush(struct batch *b, void *arg)
{
    (void) arg;
    ck_assert_uint_lt(n_got, MAX_BATCHES);
    got[n_got++] = b;
}

/* "{<id>,<name>}" */
static void
enc(struct strbuf *out, const struct span *s)
{
    strbuf_addf(out, "{%llu,%.*s}", (unsigned long long) s->span_id, (int) s->name_len, s->name);
}

static const struct batcher_format fmt = {.open = "[", .sep = ",", .close = "]", .span = enc};
static struct batcher *b;
static struct span sp;

static void
setup(void)
{
    const struct batcher_cfg c = {.max_spans = 3, .max_bytes = 1000, .interval_ms = 100};

    n_got = 0;
    b = batcher_new(&c, &fmt, on_flush, NULL);
}

static void
teardown(void)
{
    b = batcher_free(b);
    for (unsigned i = 0; i < n_got; i++)
        got[i] = batch_free(got[i]);
}

static int
add(uint64_t id, const char *name, uint64_t now_us)
{
    sp.span_id = id;
    sp.name = name;
    sp.name_len = strlen(name);
    return batcher_add(b, &sp, now_us);
}

START_TEST(test_agent_batcher_by_count)
{
    for (uint64_t i = 1; i <= 7; i++)
        ck_assert_int_eq(add(i, "x", 0), 0);
    ck_assert_uint_eq(n_got, 2);
    ck_assert_str_eq(strbuf_str(&got[0]->body), "[{1,x},{2,x},{3,x}]");
    ck_assert_str_eq(strbuf_str(&got[1]->body), "[{4,x},{5,x},{6,x}]");
    ck_assert_uint_eq(got[0]->n_spans, 3);
    ck_assert_uint_eq(batcher_n_spans(b), 1);
    batcher_flush(b);
    ck_assert_uint_eq(n_got, 3);
    ck_assert_str_eq(strbuf_str(&got[2]->body), "[{7,x}]");
    batcher_flush(b); /* nothing open: nothing sent */
    ck_assert_uint_eq(n_got, 3);
}
END_TEST

START_TEST(test_agent_batcher_by_age)
{
    add(1, "x", 1000);
    batcher_tick(b, 100999);
    ck_assert_uint_eq(n_got, 0);
    add(2, "x", 50000);
    batcher_tick(b, 101000); /* 100 ms after the first span */
    ck_assert_uint_eq(n_got, 1);
    ck_assert_str_eq(strbuf_str(&got[0]->body), "[{1,x},{2,x}]");
    ck_assert_uint_eq(got[0]->created_us, 1000);
}
END_TEST

START_TEST(test_agent_batcher_by_bytes)
{
    const struct batcher_cfg c = {.max_spans = 1000, .max_bytes = 64, .interval_ms = 100};
    char name[40];
    unsigned total = 0;

    batcher_set_cfg(b, &c);
    for (uint64_t i = 1; i <= 50; i++) {
        snprintf(name, sizeof(name), "%.*s", (int) (i % 17), "abcdefghijklmnopq");
        ck_assert_int_eq(add(i, name, 0), 0);
    }
    batcher_flush(b);
    for (unsigned i = 0; i < n_got; i++) {
        const char *body = strbuf_str(&got[i]->body);

        ck_assert_uint_le(got[i]->body.len, 64);
        ck_assert(body[0] == '[' && body[got[i]->body.len - 1] == ']');
        total += got[i]->n_spans;
    }
    ck_assert_uint_eq(total, 50);
    ck_assert_uint_gt(n_got, 10);
}
END_TEST

START_TEST(test_agent_batcher_oversize_span_alone)
{
    const struct batcher_cfg c = {.max_spans = 1000, .max_bytes = 16, .interval_ms = 100};
    char big[100];

    batcher_set_cfg(b, &c);
    memset(big, 'z', 60);
    big[60] = '\0';
    add(1, "a", 0);
    add(2, big, 0);
    add(3, "b", 0);
    batcher_flush(b);
    ck_assert_uint_eq(n_got, 3);
    ck_assert_str_eq(strbuf_str(&got[0]->body), "[{1,a}]");
    ck_assert_uint_eq(got[1]->n_spans, 1);
    ck_assert_uint_gt(got[1]->body.len, 16);
    ck_assert_str_eq(strbuf_str(&got[2]->body), "[{3,b}]");
}
END_TEST

static void
list(struct strbuf *out, const struct span *const *spans, size_t n, int32_t seqid)
{
    strbuf_addf(out, "#%d:", (int) seqid);
    for (size_t i = 0; i < n; i++)
        strbuf_addf(out, "%llu;", (unsigned long long) spans[i]->span_id);
}

static struct aspan *
owned(uint64_t id)
{
    sp.span_id = id;
    sp.name = "n";
    sp.name_len = 1;
    return aspan_new(&sp);
}

START_TEST(test_agent_batcher_list_format)
{
    static const struct batcher_format lf = {.list = list};
    const struct batcher_cfg c = {.max_spans = 3, .max_bytes = 1 << 20, .interval_ms = 100};
    struct batcher *lb = batcher_new(&c, &lf, on_flush, NULL);

    for (uint64_t i = 1; i <= 4; i++)
        ck_assert_int_eq(batcher_add_aspan(lb, owned(i), 0), 0);
    ck_assert_uint_eq(n_got, 1);
    ck_assert_str_eq(strbuf_str(&got[0]->body), "#1:1;2;3;");
    ck_assert_int_eq(got[0]->seqid, 1);
    batcher_tick(lb, 100000);
    ck_assert_uint_eq(n_got, 2);
    ck_assert_str_eq(strbuf_str(&got[1]->body), "#2:4;");
    ck_assert_int_eq(got[1]->seqid, 2);
    ck_assert_int_eq(batcher_add_aspan(lb, owned(5), 0), 0);
    batcher_free(lb); /* frees the open batch's spans (ASan checks) */
}
END_TEST

START_TEST(test_agent_batcher_list_bytes_estimate)
{
    static const struct batcher_format lf = {.list = list};
    struct aspan *probe = owned(1);
    const struct batcher_cfg c = {
        .max_spans = 100, .max_bytes = (uint32_t) probe->mem * 2, .interval_ms = 100};
    struct batcher *lb = batcher_new(&c, &lf, on_flush, NULL);

    aspan_free(probe);
    for (uint64_t i = 1; i <= 5; i++)
        batcher_add_aspan(lb, owned(i), 0);
    batcher_flush(lb);
    ck_assert_uint_eq(n_got, 3); /* two spans' worth a batch */
    ck_assert_str_eq(strbuf_str(&got[0]->body), "#1:1;2;");
    ck_assert_str_eq(strbuf_str(&got[2]->body), "#3:5;");
    batcher_free(lb);
}
END_TEST

START_TEST(test_agent_batcher_streaming_takes_aspans)
{
    ck_assert_int_eq(batcher_add_aspan(b, owned(9), 0), 0);
    batcher_flush(b);
    ck_assert_uint_eq(n_got, 1);
    ck_assert_str_eq(strbuf_str(&got[0]->body), "[{9,n}]");
}
END_TEST

static Suite *
batcher_suite(void)
{
    Suite *s = suite_create("agent_batcher");
    TCase *tc = tcase_create("flush");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_agent_batcher_by_count);
    tcase_add_test(tc, test_agent_batcher_by_age);
    tcase_add_test(tc, test_agent_batcher_by_bytes);
    tcase_add_test(tc, test_agent_batcher_oversize_span_alone);
    tcase_add_test(tc, test_agent_batcher_list_format);
    tcase_add_test(tc, test_agent_batcher_list_bytes_estimate);
    tcase_add_test(tc, test_agent_batcher_streaming_takes_aspans);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(batcher_suite)
