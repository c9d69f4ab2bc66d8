/* tests/unit/test_agent_store.c - the local store (agent/store.h) and the settings' URL
 * parser: name lists, trace lookup, queries with filters and limits, eviction by count
 * and by bytes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/aspan.h"
#include "agent/settings.h"
#include "agent/store.h"
#include "common/strbuf.h"
#include "proto/span.h"
#include "tests/lib/check_main.h"

static void
enc(struct strbuf *out, const struct span *s)
{
    strbuf_addf(out, "{%llx}", (unsigned long long) s->span_id);
}

static struct store *st;
static struct strbuf out;

static void
setup(void)
{
    const struct store_cfg c = {.max_traces = 100, .max_bytes = 1 << 30};

    st = store_new(&c, enc);
    memset(&out, 0, sizeof(out));
}

static void
teardown(void)
{
    st = store_free(st);
    strbuf_fini(&out);
}

static void
put(uint64_t trace, uint64_t id, const char *svc, const char *name, const char *remote, uint64_t ts,
    uint64_t dur)
{
    struct span s;

    memset(&s, 0, sizeof(s));
    s.trace_lo = trace;
    s.span_id = id;
    s.kind = SPAN_KIND_SERVER;
    s.timestamp_us = ts;
    s.duration_us = dur;
    s.name = name;
    s.name_len = strlen(name);
    s.local.service = svc;
    s.local.service_len = strlen(svc);
    s.remote.service = remote;
    s.remote.service_len = strlen(remote);
    s.tags[0] = (struct span_tag_kv){.key = SPAN_TAG_HTTP_STATUS_CODE,
                                     .name = "http.status_code",
                                     .name_len = 16,
                                     .num = 200 + id % 2,
                                     .is_num = true};
    s.n_tags = 1;
    store_add(st, aspan_new(&s));
}

static const char *
q(struct store_query *qu)
{
    strbuf_reset(&out);
    store_traces(st, qu, &out);
    return strbuf_str(&out);
}

START_TEST(test_agent_store_names)
{
    put(1, 0xa, "Hello", "GET", "world", 10, 1);
    put(1, 0xb, "hello", "post", "", 11, 1);
    put(2, 0xc, "world", "get", "db", 12, 1);
    put(2, 0xd, "", "nameless", "", 13, 1);
    store_services(st, &out);
    ck_assert_str_eq(strbuf_str(&out), "[\"hello\",\"world\"]");
    strbuf_reset(&out);
    store_span_names(st, "HELLO", &out);
    ck_assert_str_eq(strbuf_str(&out), "[\"get\",\"post\"]");
    strbuf_reset(&out);
    store_remote_services(st, "hello", &out);
    ck_assert_str_eq(strbuf_str(&out), "[\"world\"]");
    strbuf_reset(&out);
    store_span_names(st, "nobody", &out);
    ck_assert_str_eq(strbuf_str(&out), "[]");
}
END_TEST

START_TEST(test_agent_store_trace_lookup)
{
    put(7, 0x1, "a", "x", "", 10, 1);
    put(8, 0x2, "a", "x", "", 10, 1);
    put(7, 0x3, "b", "y", "", 11, 1); /* joins trace 7 later */
    ck_assert_int_eq(store_trace(st, 0, 7, &out), 0);
    ck_assert_str_eq(strbuf_str(&out), "[{1},{3}]");
    strbuf_reset(&out);
    ck_assert_int_eq(store_trace(st, 1, 7, &out), -ENOENT);
    ck_assert_uint_eq(store_n_traces(st), 2);
    ck_assert_uint_eq(store_n_spans(st), 3);
}
END_TEST

START_TEST(test_agent_store_queries)
{
    struct store_query qu = {.limit = 10, .end_ts_us = 1000, .lookback_us = 1000};

    put(1, 0x11, "a", "get", "", 100, 50);
    put(2, 0x21, "a", "put", "", 300, 500);
    put(3, 0x31, "b", "get", "", 200, 5);
    put(4, 0x41, "a", "get", "", 5000, 5);              /* after endTs */
    ck_assert_str_eq(q(&qu), "[[{21}],[{31}],[{11}]]"); /* most recent first */
    qu.limit = 2;
    ck_assert_str_eq(q(&qu), "[[{21}],[{31}]]");
    qu.limit = 10;
    qu.service = "A";
    ck_assert_str_eq(q(&qu), "[[{21}],[{11}]]");
    qu.span_name = "get";
    ck_assert_str_eq(q(&qu), "[[{11}]]");
    qu.span_name = "all";
    qu.min_duration_us = 100;
    ck_assert_str_eq(q(&qu), "[[{21}]]");
    qu.min_duration_us = 0;
    qu.service = NULL;
    qu.span_name = NULL;
    qu.annotation_query = "http.status_code=201";
    ck_assert_str_eq(q(&qu), "[[{21}],[{31}],[{11}]]");
    qu.annotation_query = "http.status_code=200";
    ck_assert_str_eq(q(&qu), "[]");
    qu.annotation_query = "http.status_code and nothing";
    ck_assert_str_eq(q(&qu), "[]");
    qu.annotation_query = "http.status_code";
    ck_assert_str_eq(q(&qu), "[[{21}],[{31}],[{11}]]");
    qu.annotation_query = NULL;
    qu.end_ts_us = 250;
    qu.lookback_us = 100;
    ck_assert_str_eq(q(&qu), "[[{31}]]");
}
END_TEST

START_TEST(test_agent_store_evicts)
{
    struct store_cfg c = {.max_traces = 3, .max_bytes = 1 << 30};
    size_t one;

    store_set_cfg(st, &c);
    for (uint64_t t = 1; t <= 5; t++)
        put(t, t, "a", "x", "", 10 + t, 1);
    ck_assert_uint_eq(store_n_traces(st), 3);
    ck_assert_uint_eq(store_n_evicted(st), 2);
    ck_assert_int_eq(store_trace(st, 0, 2, &out), -ENOENT);
    ck_assert_int_eq(store_trace(st, 0, 3, &out), 0);
    put(3, 33, "a", "x", "", 20, 1); /* trace 3 updated: trace 4 is now the oldest */
    put(6, 6, "a", "x", "", 21, 1);
    ck_assert_int_eq(store_trace(st, 0, 4, &out), -ENOENT);
    one = store_bytes(st) / 4; /* roughly one trace */
    c.max_traces = 100;
    c.max_bytes = one * 2;
    store_set_cfg(st, &c);
    ck_assert_uint_le(store_bytes(st), one * 2);
    ck_assert_uint_le(store_n_traces(st), 2);
}
END_TEST

static char host[64], path[64];
static uint16_t port;
static bool scribe;

static int
url(const char *u)
{
    return settings_parse_url(u, "/api/v2/spans", host, sizeof(host), &port, path, sizeof(path),
                              &scribe);
}

START_TEST(test_agent_settings_url)
{
    ck_assert_int_eq(url("http://zipkin"), 0);
    ck_assert_str_eq(host, "zipkin");
    ck_assert_uint_eq(port, 9411);
    ck_assert_str_eq(path, "/api/v2/spans");
    ck_assert(!scribe);
    ck_assert_int_eq(url("http://10.0.0.1:8080/x/y"), 0);
    ck_assert_str_eq(host, "10.0.0.1");
    ck_assert_uint_eq(port, 8080);
    ck_assert_str_eq(path, "/x/y");
    ck_assert_int_eq(url("http://[::1]:9411"), 0);
    ck_assert_str_eq(host, "::1");
    ck_assert_int_eq(url("scribe://collector"), 0);
    ck_assert(scribe);
    ck_assert_uint_eq(port, 9410);
    ck_assert_str_eq(path, "");
    ck_assert_int_eq(url("scribe://collector:1463/"), 0);
    ck_assert_uint_eq(port, 1463);
    ck_assert_int_eq(url("scribe://collector/api"), -EINVAL);
    ck_assert_int_eq(url("https://zipkin"), -EINVAL);
    ck_assert_int_eq(url("http://u@zipkin"), -EINVAL);
    ck_assert_int_eq(url("http://zipkin:0"), -EINVAL);
    ck_assert_int_eq(url("http://zipkin:70000"), -EINVAL);
    ck_assert_int_eq(url("http://:80"), -EINVAL);
    ck_assert_int_eq(url("http://zipkin:x"), -EINVAL);
}
END_TEST

START_TEST(test_agent_settings_env)
{
    struct agent_settings s;
    struct strbuf problems = STRBUF_INIT;

    unsetenv("MESHAGENT_ZIPKIN_URL");
    ck_assert_int_eq(settings_load(&s, NULL, &problems), 0);
    ck_assert_uint_eq(s.admin_port, SETTINGS_DEFAULT_ADMIN_PORT);
    ck_assert_str_eq(s.admin_ip, "127.0.0.1");
    ck_assert_uint_eq(s.batch_spans, 1000);
    ck_assert(s.sample_rate == 1.0);
    setenv("MESHAGENT_SAMPLE_RATE", "0.25", 1);
    setenv("MESHAGENT_KEEP_ERRORS", "true", 1);
    setenv("MESHAGENT_ZIPKIN_URL", "http://z:1/p", 1);
    ck_assert_int_eq(settings_load(&s, NULL, &problems), 0);
    ck_assert(s.sample_rate == 0.25);
    ck_assert(s.keep_errors);
    ck_assert_str_eq(s.zipkin_host, "z");
    ck_assert_uint_eq(s.zipkin_port, 1);
    setenv("MESHAGENT_ZIPKIN_ENCODING", "thrift", 1);
    setenv("MESHAGENT_ZIPKIN_URL", "http://z", 1);
    ck_assert_int_eq(settings_load(&s, NULL, &problems), 0);
    ck_assert_str_eq(s.zipkin_path, "/api/v1/spans");
    setenv("MESHAGENT_ZIPKIN_ENCODING", "xml", 1);
    ck_assert_int_eq(settings_load(&s, NULL, &problems), -EINVAL);
    unsetenv("MESHAGENT_ZIPKIN_ENCODING");
    setenv("MESHAGENT_SAMPLE_RATE", "2", 1);
    setenv("MESHAGENT_BATCH_SPANS", "-1", 1);
    ck_assert_int_eq(settings_load(&s, NULL, &problems), -EINVAL);
    ck_assert_ptr_nonnull(strstr(strbuf_str(&problems), "MESHAGENT_SAMPLE_RATE"));
    ck_assert_ptr_nonnull(strstr(strbuf_str(&problems), "MESHAGENT_BATCH_SPANS"));
    strbuf_fini(&problems);
}
END_TEST

static Suite *
store_suite(void)
{
    Suite *s = suite_create("agent_store");
    TCase *tc = tcase_create("store");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_agent_store_names);
    tcase_add_test(tc, test_agent_store_trace_lookup);
    tcase_add_test(tc, test_agent_store_queries);
    tcase_add_test(tc, test_agent_store_evicts);
    suite_add_tcase(s, tc);
    tc = tcase_create("settings");
    tcase_add_test(tc, test_agent_settings_url);
    tcase_add_test(tc, test_agent_settings_env);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(store_suite)
