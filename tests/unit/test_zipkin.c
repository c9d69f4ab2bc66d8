/* tests/unit/test_zipkin.c - the Zipkin encoders and the Scribe reply parser, through
 * proto/zipkin.h only.
 *
 * Two kinds of checks. Exact outputs written out by hand here: JSON v2 and v1 of known spans
 * (root, child, 128-bit, IPv6, no remote, escaping and invalid UTF-8, Zipkin's IPv6
 * spelling, the format-sniffing guards), Thrift bytes read back field by field, the Scribe
 * frame and its base64, and replies (OK, TRY_LATER, every truncation, garbage, exceptions).
 * And real decoders: test_zipkin_real_decoders writes fixed and random spans in every
 * encoding to a temporary directory with a sidecar of the raw inputs, and runs
 * tests/tools/zipkin_check.py, which validates the JSON against the spec's schemas and
 * decodes Thrift and Scribe with Apache Thrift's Python library (code generated from the
 * spec's IDL at test time), compares everything with what its own model of the mapping
 * expects, and writes Scribe replies with Thrift's library for our parser to read back. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/strbuf.h"
#include "proto/zipkin.h"
#include "tests/lib/check_main.h"

static struct strbuf out;
static struct span sp;

static void
setup(void)
{
    memset(&sp, 0, sizeof(sp));
    strbuf_reset(&out);
}

static void
teardown(void)
{
    strbuf_fini(&out);
}

/* ---- fixtures ------------------------------------------------------------------------ */

#define ROOT_TS  1556604172355737ull
#define CHILD_TS 1556604172356000ull

static void
set_str(const char **p, size_t *len, const char *s)
{
    *p = s;
    *len = strlen(s);
}

static void
set_v4(struct span_endpoint *e, uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
    memset(e->ip, 0, sizeof(e->ip));
    e->ip[0] = a;
    e->ip[1] = b;
    e->ip[2] = c;
    e->ip[3] = d;
    e->has_ip = true;
    e->ipv6 = false;
}

static void
set_v6(struct span_endpoint *e, const uint16_t g[8])
{
    for (int i = 0; i < 8; i++) {
        e->ip[(size_t) i * 2] = (uint8_t) (g[i] >> 8);
        e->ip[(size_t) i * 2 + 1] = (uint8_t) g[i];
    }
    e->has_ip = true;
    e->ipv6 = true;
}

static void
add_tag(struct span *s, uint16_t key, const char *name, const char *value)
{
    struct span_tag_kv *t = &s->tags[s->n_tags++];

    memset(t, 0, sizeof(*t));
    t->key = key;
    if (name != NULL)
        set_str(&t->name, &t->name_len, name);
    set_str(&t->value, &t->value_len, value);
}

static void
add_num_tag(struct span *s, uint16_t key, const char *name, uint64_t num)
{
    add_tag(s, key, name, "");
    s->tags[s->n_tags - 1].is_num = true;
    s->tags[s->n_tags - 1].num = num;
}

/* The example span of zipkin2-api.yaml, as meshd's server side would record it. */
static void
fill_root(struct span *s)
{
    memset(s, 0, sizeof(*s));
    s->trace_lo = 0x5af7183fb1d4cf5full;
    s->span_id = 0x352bff9a74ca9ad2ull;
    s->kind = SPAN_KIND_SERVER;
    s->flags = SPAN_F_SAMPLED;
    s->timestamp_us = ROOT_TS;
    s->duration_us = 1431;
    set_str(&s->name, &s->name_len, "GET /api");
    set_str(&s->local.service, &s->local.service_len, "Backend");
    set_v4(&s->local, 192, 168, 99, 1);
    s->local.port = 3306;
    set_v4(&s->remote, 172, 19, 0, 2);
    s->remote.port = 58648;
    add_tag(s, SPAN_TAG_HTTP_METHOD, NULL, "GET");
    add_tag(s, SPAN_TAG_HTTP_PATH, NULL, "/api");
    add_num_tag(s, SPAN_TAG_HTTP_STATUS_CODE, NULL, 200);
}

#define ROOT_LOCAL_V1 "{\"serviceName\":\"backend\",\"ipv4\":\"192.168.99.1\",\"port\":3306}"

static const char root_v2[] =
    "{\"traceId\":\"5af7183fb1d4cf5f\",\"id\":\"352bff9a74ca9ad2\",\"kind\":\"SERVER\","
    "\"name\":\"get /api\",\"timestamp\":1556604172355737,\"duration\":1431,"
    "\"localEndpoint\":{\"serviceName\":\"backend\",\"ipv4\":\"192.168.99.1\",\"port\":3306},"
    "\"remoteEndpoint\":{\"ipv4\":\"172.19.0.2\",\"port\":58648},"
    "\"tags\":{\"http.method\":\"GET\",\"http.path\":\"/api\",\"http.status_code\":\"200\"}}";

static const char root_v1[] =
    "{\"traceId\":\"5af7183fb1d4cf5f\",\"id\":\"352bff9a74ca9ad2\",\"name\":\"get /api\","
    "\"timestamp\":1556604172355737,\"duration\":1431,\"annotations\":["
    "{\"timestamp\":1556604172355737,\"value\":\"sr\",\"endpoint\":" ROOT_LOCAL_V1 "},"
    "{\"timestamp\":1556604172357168,\"value\":\"ss\",\"endpoint\":" ROOT_LOCAL_V1 "}],"
    "\"binaryAnnotations\":["
    "{\"key\":\"http.method\",\"value\":\"GET\",\"endpoint\":" ROOT_LOCAL_V1 "},"
    "{\"key\":\"http.path\",\"value\":\"/api\",\"endpoint\":" ROOT_LOCAL_V1 "},"
    "{\"key\":\"http.status_code\",\"value\":\"200\",\"endpoint\":" ROOT_LOCAL_V1 "},"
    "{\"key\":\"ca\",\"value\":true,\"endpoint\":"
    "{\"serviceName\":\"\",\"ipv4\":\"172.19.0.2\",\"port\":58648}}]}";

/* meshd's client side of the root's call to "users": debug, a 0 µs duration, a repeated
 * tag, and SPAN_F_SHARED, which a CLIENT span must not carry to Zipkin. */
static void
fill_child(struct span *s)
{
    memset(s, 0, sizeof(*s));
    s->trace_lo = 0x5af7183fb1d4cf5full;
    s->span_id = 0x1111222233334444ull;
    s->parent_id = 0x352bff9a74ca9ad2ull;
    s->kind = SPAN_KIND_CLIENT;
    s->flags = SPAN_F_SAMPLED | SPAN_F_DEBUG | SPAN_F_SHARED;
    s->timestamp_us = CHILD_TS;
    s->duration_us = 0;
    set_str(&s->name, &s->name_len, "get");
    set_str(&s->local.service, &s->local.service_len, "backend");
    set_str(&s->remote.service, &s->remote.service_len, "Users");
    set_v4(&s->remote, 10, 0, 0, 7);
    s->remote.port = 8080;
    add_num_tag(s, SPAN_TAG_HTTP_STATUS_CODE, NULL, 503);
    add_tag(s, 0, "l5d.retry", "1");
    add_num_tag(s, 0, "http.status_code", 502); /* overrides the first, as in Zipkin's map */
}

static const char child_v2[] =
    "{\"traceId\":\"5af7183fb1d4cf5f\",\"parentId\":\"352bff9a74ca9ad2\",\"id\":"
    "\"1111222233334444\","
    "\"kind\":\"CLIENT\",\"name\":\"get\",\"timestamp\":1556604172356000,\"duration\":1,"
    "\"localEndpoint\":{\"serviceName\":\"backend\"},"
    "\"remoteEndpoint\":{\"serviceName\":\"users\",\"ipv4\":\"10.0.0.7\",\"port\":8080},"
    "\"tags\":{\"l5d.retry\":\"1\",\"http.status_code\":\"502\"},\"debug\":true}";

static const char child_v1[] =
    "{\"traceId\":\"5af7183fb1d4cf5f\",\"parentId\":\"352bff9a74ca9ad2\",\"id\":"
    "\"1111222233334444\","
    "\"name\":\"get\",\"timestamp\":1556604172356000,\"duration\":1,\"annotations\":["
    "{\"timestamp\":1556604172356000,\"value\":\"cs\",\"endpoint\":{\"serviceName\":\"backend\"}},"
    "{\"timestamp\":1556604172356001,\"value\":\"cr\",\"endpoint\":{\"serviceName\":\"backend\"}}],"
    "\"binaryAnnotations\":["
    "{\"key\":\"l5d.retry\",\"value\":\"1\",\"endpoint\":{\"serviceName\":\"backend\"}},"
    "{\"key\":\"http.status_code\",\"value\":\"502\",\"endpoint\":{\"serviceName\":\"backend\"}},"
    "{\"key\":\"sa\",\"value\":true,\"endpoint\":"
    "{\"serviceName\":\"users\",\"ipv4\":\"10.0.0.7\",\"port\":8080}}],\"debug\":true}";

/* A 128-bit trace, a shared SERVER span (B3 gave it the client's id), no name, no remote,
 * no tags, and a parent equal to the span id (Zipkin drops such a parent as circular). */
static void
fill_shared128(struct span *s)
{
    memset(s, 0, sizeof(*s));
    s->trace_hi = 0x4e441824ec2b6a44ull;
    s->trace_lo = 0xffdc9bb9a6453df3ull;
    s->span_id = 0xffdc9bb9a6453df3ull;
    s->parent_id = 0xffdc9bb9a6453df3ull;
    s->kind = SPAN_KIND_SERVER;
    s->flags = SPAN_F_SAMPLED | SPAN_F_SHARED;
    s->timestamp_us = ROOT_TS;
    s->duration_us = 25;
    set_str(&s->local.service, &s->local.service_len, "Edge");
    s->local.port = 4140;
}

static const char shared128_v2[] =
    "{\"traceId\":\"4e441824ec2b6a44ffdc9bb9a6453df3\",\"id\":\"ffdc9bb9a6453df3\","
    "\"kind\":\"SERVER\",\"timestamp\":1556604172355737,\"duration\":25,"
    "\"localEndpoint\":{\"serviceName\":\"edge\",\"port\":4140},\"shared\":true}";

static const char shared128_v1[] =
    "{\"traceId\":\"4e441824ec2b6a44ffdc9bb9a6453df3\",\"id\":\"ffdc9bb9a6453df3\",\"name\":\"\","
    "\"annotations\":["
    "{\"timestamp\":1556604172355737,\"value\":\"sr\","
    "\"endpoint\":{\"serviceName\":\"edge\",\"port\":4140}},"
    "{\"timestamp\":1556604172355762,\"value\":\"ss\","
    "\"endpoint\":{\"serviceName\":\"edge\",\"port\":4140}}],"
    "\"binaryAnnotations\":[]}";

static const uint16_t v6_doc[8] = {0x2001, 0x0db8, 0, 0, 0, 0, 0, 0xc001};
static const uint16_t v6_mapped[8] = {0, 0, 0, 0, 0, 0xffff, 0x0a01, 0x0203};

static const char *
v2_of(const struct span *s)
{
    strbuf_reset(&out);
    zipkin_json_v2_span(&out, s);
    return strbuf_str(&out);
}

static const char *
v1_of(const struct span *s)
{
    const struct span *list[1] = {s};

    strbuf_reset(&out);
    zipkin_json_v1_list(&out, list, 1);
    ck_assert_uint_ge(out.len, 2);
    ck_assert_int_eq(out.s[0], '[');
    ck_assert_int_eq(out.s[out.len - 1], ']');
    out.s[--out.len] = '\0'; /* the one span, without the brackets */
    return out.s + 1;
}

/* ---- JSON v2 ------------------------------------------------------------------------- */

START_TEST(test_zipkin_json_v2_root)
{
    fill_root(&sp);
    ck_assert_str_eq(v2_of(&sp), root_v2);
}
END_TEST

START_TEST(test_zipkin_json_v2_child)
{
    fill_child(&sp);
    ck_assert_str_eq(v2_of(&sp), child_v2);
}
END_TEST

START_TEST(test_zipkin_json_v2_128bit_shared)
{
    fill_shared128(&sp);
    ck_assert_str_eq(v2_of(&sp), shared128_v2);
}
END_TEST

START_TEST(test_zipkin_json_v2_ipv6)
{
    fill_root(&sp);
    sp.n_tags = 0;
    sp.kind = SPAN_KIND_CLIENT;
    set_v6(&sp.local, v6_doc);
    set_v6(&sp.remote, v6_mapped); /* ::ffff:10.1.2.3: sent as IPv4 */
    sp.remote.port = 5000;
    ck_assert_str_eq(v2_of(&sp), "{\"traceId\":\"5af7183fb1d4cf5f\",\"id\":\"352bff9a74ca9ad2\","
                                 "\"kind\":\"CLIENT\",\"name\":\"get /api\","
                                 "\"timestamp\":1556604172355737,\"duration\":1431,"
                                 "\"localEndpoint\":{\"serviceName\":\"backend\","
                                 "\"ipv6\":\"2001:db8::c001\",\"port\":3306},"
                                 "\"remoteEndpoint\":{\"ipv4\":\"10.1.2.3\",\"port\":5000}}");
}
END_TEST

/* Zipkin re-spells any IPv6 text with its own writer (zipkin2.Endpoint.writeIpV6); we write
 * that spelling so what Zipkin stores is what we sent. Unusable addresses are left out. */
START_TEST(test_zipkin_json_v2_ipv6_spelling)
{
    static const struct {
        uint16_t g[8];
        const char *json; /* the localEndpoint member, or NULL: no address written */
    } cases[] = {
        {{0x2001, 0x0db8, 0, 0, 0, 0, 0, 1}, "\"ipv6\":\"2001:db8::1\""},
        {{0x2001, 0xdb8, 0, 1, 1, 1, 1, 1}, "\"ipv6\":\"2001:db8::1:1:1:1:1\""},
        {{0x2001, 0, 0, 4, 0, 0, 0, 0}, "\"ipv6\":\"2001::4:0:0:0:0\""},
        {{0xfe80, 0, 0, 0, 0, 0, 0, 0}, "\"ipv6\":\"fe80::\""},
        {{0, 0, 1, 0, 0, 0, 1, 0}, "\"ipv6\":\"0:0:1::1:0\""},
        {{0, 2, 3, 4, 5, 6, 7, 8}, "\"ipv6\":\"::2:3:4:5:6:7:8\""},
        {{1, 0, 0, 4, 0, 0, 7, 8}, "\"ipv6\":\"1::4:0:0:7:8\""},
        {{0x1234, 0xabcd, 0xef01, 0x10, 0x100, 0x1000, 0xffff, 0x8}, /* no zero group */
         "\"ipv6\":\"1234:abcd:ef01:10:100:1000:ffff:8\""},
        {{0, 0, 0, 0, 0, 0, 0, 1}, "\"ipv6\":\"::1\""},
        {{0, 0, 0, 0, 0, 0, 0, 2}, "\"ipv4\":\"0.0.0.2\""}, /* IPv4-compatible */
        {{0, 0, 0, 0, 0, 0xffff, 0xc0a8, 0x0001}, "\"ipv4\":\"192.168.0.1\""},
        {{0, 0, 0, 0, 0, 0xfffe, 0xc0a8, 0x0001}, "\"ipv6\":\"::fffe:c0a8:1\""},
        {{0, 0, 0, 0, 0, 0, 0, 0}, NULL},      /* :: */
        {{0, 0, 0, 0, 0, 0xffff, 0, 0}, NULL}, /* ::ffff:0.0.0.0 */
    };
    char want[160];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fill_root(&sp);
        set_v6(&sp.local, cases[i].g);
        if (cases[i].json != NULL)
            snprintf(want, sizeof(want), "\"localEndpoint\":{\"serviceName\":\"backend\",%s,",
                     cases[i].json);
        else
            snprintf(want, sizeof(want), "\"localEndpoint\":{\"serviceName\":\"backend\",\"port\"");
        ck_assert_msg(strstr(v2_of(&sp), want) != NULL, "case %zu: want %s in %s", i, want, out.s);
    }
    fill_root(&sp);
    set_v4(&sp.local, 0, 0, 0, 0); /* 0.0.0.0: unknown */
    ck_assert_ptr_nonnull(
        strstr(v2_of(&sp), "\"localEndpoint\":{\"serviceName\":\"backend\",\"port\":3306}"));
    set_v4(&sp.remote, 0, 0, 0, 0); /* and a remote with nothing else is no remote */
    ck_assert_ptr_null(strstr(v2_of(&sp), "remoteEndpoint"));
    set_v4(&sp.local, 255, 255, 255, 255);
    ck_assert_ptr_nonnull(strstr(v2_of(&sp), "\"ipv4\":\"255.255.255.255\""));
}
END_TEST

START_TEST(test_zipkin_json_v2_no_remote)
{
    fill_root(&sp);
    memset(&sp.remote, 0, sizeof(sp.remote));
    sp.remote.port = 1234; /* a port alone is not an endpoint */
    sp.n_tags = 0;
    ck_assert_str_eq(v2_of(&sp),
                     "{\"traceId\":\"5af7183fb1d4cf5f\",\"id\":\"352bff9a74ca9ad2\","
                     "\"kind\":\"SERVER\",\"name\":\"get /api\",\"timestamp\":1556604172355737,"
                     "\"duration\":1431,\"localEndpoint\":{\"serviceName\":\"backend\","
                     "\"ipv4\":\"192.168.99.1\",\"port\":3306}}");
    /* an empty local endpoint is left out too (Zipkin would drop it) */
    memset(&sp.local, 0, sizeof(sp.local));
    sp.name_len = 0;
    ck_assert_str_eq(v2_of(&sp), "{\"traceId\":\"5af7183fb1d4cf5f\",\"id\":\"352bff9a74ca9ad2\","
                                 "\"kind\":\"SERVER\",\"timestamp\":1556604172355737,"
                                 "\"duration\":1431}");
}
END_TEST

START_TEST(test_zipkin_json_v2_escaping)
{
    static const char name[] = "Say \"Hi\"\\\n\t\r\b\f\x01\x1f\x7f/Ü";
    static const char value[] = "é|\xe2\x80\xa8|\xe2\x80\xa9|\xff|\xe2\x82|\xf0\x80\x80|"
                                "\xed\xa0\x80|\xf4\x90\x80\x80|\xc0\xaf|\xf0\x9f\x98\x80|\xe2\x82";
    static const char want[] =
        "\"name\":\"say \\\"hi\\\"\\\\\\n\\t\\r\\b\\f\\u0001\\u001f\\u007f/Ü\"";
    /* U+FFFD per maximal ill-formed subpart, as Zipkin's (Java) and Python's decoders do */
    static const char want_value[] =
        "\"k\\u0000\":\"é|\\u2028|\\u2029|\xef\xbf\xbd|\xef\xbf\xbd|"
        "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|"
        "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd|"
        "\xf0\x9f\x98\x80|\xef\xbf\xbd\"";

    fill_root(&sp);
    sp.name = name;
    sp.name_len = sizeof(name) - 1;
    sp.n_tags = 0;
    add_tag(&sp, 0, "k", value);
    sp.tags[0].name_len = 2; /* "k\0": the NUL is data */
    sp.tags[0].value_len = sizeof(value) - 1;
    v2_of(&sp);
    ck_assert_msg(strstr(out.s, want) != NULL, "%s", out.s);
    ck_assert_msg(strstr(out.s, want_value) != NULL, "%s", out.s);
}
END_TEST

/* Zipkin picks the decoder by searching the body: a v2 body holding `yAnnotations"` is
 * refused as v1. One letter escaped keeps the text and breaks the pattern. */
START_TEST(test_zipkin_json_v2_sniffing_guard)
{
    fill_root(&sp);
    sp.n_tags = 0;
    add_tag(&sp, 0, "binaryAnnotations", "xAnnotations");
    add_tag(&sp, 0, "v", "binaryAnnotations");
    add_tag(&sp, 0, "localEndpoint", "tags"); /* harmless in v2 */
    v2_of(&sp);
    ck_assert_ptr_null(strstr(out.s, "yAnnotations\""));
    ck_assert_ptr_nonnull(strstr(out.s, "\"tags\":{\"binaryAnnotation\\u0073\":\"xAnnotations\","
                                        "\"v\":\"binaryAnnotation\\u0073\","
                                        "\"localEndpoint\":\"tags\"}"));
}
END_TEST

START_TEST(test_zipkin_json_v2_time_edges)
{
    fill_root(&sp);
    sp.n_tags = 0;
    memset(&sp.remote, 0, sizeof(sp.remote));
    sp.duration_us = 0; /* Zipkin drops a 0 duration: sent as 1 */
    ck_assert_ptr_nonnull(strstr(v2_of(&sp), "\"timestamp\":1556604172355737,\"duration\":1,"));
    sp.timestamp_us = 0; /* unknown: no timing at all */
    ck_assert_ptr_null(strstr(v2_of(&sp), "\"timestamp\""));
    ck_assert_ptr_null(strstr(out.s, "\"duration\""));
    sp.timestamp_us = (uint64_t) INT64_MAX + 1; /* not an int64: unknown too */
    ck_assert_ptr_null(strstr(v2_of(&sp), "\"timestamp\""));
    sp.timestamp_us = (uint64_t) INT64_MAX; /* its end would not be one */
    ck_assert_ptr_null(strstr(v2_of(&sp), "\"timestamp\""));
    sp.timestamp_us = (uint64_t) INT64_MAX - 10;
    sp.duration_us = UINT64_MAX; /* the end must stay an int64 */
    ck_assert_ptr_nonnull(strstr(v2_of(&sp), "\"timestamp\":9223372036854775797,\"duration\":10,"));
    sp.timestamp_us = 1;
    sp.duration_us = 10;
    ck_assert_ptr_nonnull(strstr(v2_of(&sp), "\"timestamp\":1,\"duration\":10,"));
}
END_TEST

START_TEST(test_zipkin_json_v2_tags)
{
    fill_root(&sp);
    sp.n_tags = 0;
    add_num_tag(&sp, SPAN_TAG_RESPONSE_SIZE, NULL, UINT64_MAX);
    add_num_tag(&sp, 0, "zero", 0);
    add_tag(&sp, 99, NULL, "from a newer encoder"); /* unknown key: dropped */
    add_tag(&sp, SPAN_TAG_L5D_SUCCESS, "ignored", "1");
    add_tag(&sp, 0, "Case", "Kept As Is");
    add_tag(&sp, 0, "", "");
    ck_assert_ptr_nonnull(strstr(v2_of(&sp), "\"tags\":{\"http.response.size\":"
                                             "\"18446744073709551615\",\"zero\":\"0\","
                                             "\"l5d.success\":\"1\",\"Case\":\"Kept As Is\","
                                             "\"\":\"\"}}"));
    /* every tag overridden but the last */
    sp.n_tags = 0;
    for (int i = 0; i < SPAN_MAX_TAGS; i++)
        add_num_tag(&sp, 0, "n", (uint64_t) i);
    ck_assert_ptr_nonnull(strstr(v2_of(&sp), "\"tags\":{\"n\":\"23\"}}"));
    sp.n_tags = 0;
    add_tag(&sp, 99, NULL, "x"); /* nothing survives: no "tags" member */
    ck_assert_ptr_null(strstr(v2_of(&sp), "tags"));
}
END_TEST

/* Decimal at every boundary of the 8-digit pieces put_u64() works in. */
START_TEST(test_zipkin_json_v2_numbers)
{
    static const struct {
        uint64_t v;
        const char *text;
    } cases[] = {
        {0, "0"},
        {9, "9"},
        {10, "10"},
        {99, "99"},
        {100, "100"},
        {99999999, "99999999"},
        {100000000, "100000000"},
        {100000001, "100000001"},
        {1000000000000000, "1000000000000000"},
        {9999999999999999, "9999999999999999"},
        {10000000000000000ull, "10000000000000000"},
        {10000000000000001ull, "10000000000000001"},
        {12345678901234567890ull, "12345678901234567890"},
        {UINT64_MAX, "18446744073709551615"},
    };
    char want[64];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fill_root(&sp);
        sp.n_tags = 0;
        add_num_tag(&sp, 0, "n", cases[i].v);
        snprintf(want, sizeof(want), "\"tags\":{\"n\":\"%s\"}}", cases[i].text);
        ck_assert_msg(strstr(v2_of(&sp), want) != NULL, "%s in %s", want, out.s);
        sp.timestamp_us = cases[i].v; /* and timestamps, where they are int64 */
        sp.duration_us = 1;
        if (cases[i].v >= 1 && cases[i].v < (uint64_t) INT64_MAX) {
            snprintf(want, sizeof(want), "\"timestamp\":%s,\"duration\":1,", cases[i].text);
            ck_assert_msg(strstr(v2_of(&sp), want) != NULL, "%s in %s", want, out.s);
        }
    }
}
END_TEST

START_TEST(test_zipkin_json_v2_list)
{
    struct span a, b;
    const struct span *list[2] = {&a, &b};

    fill_root(&a);
    fill_child(&b);
    zipkin_json_v2_list(&out, list, 0);
    ck_assert_str_eq(out.s, "[]");
    strbuf_reset(&out);
    zipkin_json_v2_list(&out, list, 2);
    ck_assert_uint_eq(out.len, 1 + strlen(root_v2) + 1 + strlen(child_v2) + 1);
    ck_assert(out.s[0] == '[' && out.s[1 + strlen(root_v2)] == ',' && out.s[out.len - 1] == ']');
    ck_assert(memcmp(out.s + 1, root_v2, strlen(root_v2)) == 0);
    ck_assert(memcmp(out.s + 2 + strlen(root_v2), child_v2, strlen(child_v2)) == 0);
    /* appends: what was there stays */
    strbuf_reset(&out);
    strbuf_adds(&out, "x");
    zipkin_json_v2_span(&out, &a);
    ck_assert_int_eq(out.s[0], 'x');
    ck_assert_str_eq(out.s + 1, root_v2);
}
END_TEST

/* Worst cases for the output buffer: 24 tags of 8 KiB control characters (6 bytes each
 * escaped), many spans in one list (flushed between spans). */
START_TEST(test_zipkin_json_v2_large)
{
    static char ctl[SPAN_MAX_STR_LEN], name[SPAN_MAX_TAGS][8];
    static struct span many[300];
    static const struct span *list[300];
    size_t n_ctl = 0;

    memset(ctl, 1, sizeof(ctl));
    fill_root(&sp);
    sp.n_tags = 0;
    for (int i = 0; i < SPAN_MAX_TAGS; i++) {
        snprintf(name[i], sizeof(name[i]), "t%d", i);
        add_tag(&sp, 0, name[i], "");
        sp.tags[i].value = ctl;
        sp.tags[i].value_len = sizeof(ctl);
    }
    v2_of(&sp);
    for (size_t i = 0; i + 6 <= out.len; i++) /* not strstr(): ASan's is quadratic here */
        n_ctl += memcmp(out.s + i, "\\u0001", 6) == 0;
    ck_assert_uint_eq(n_ctl, (size_t) SPAN_MAX_TAGS * SPAN_MAX_STR_LEN);
    ck_assert_int_eq(out.s[out.len - 1], '}');

    for (size_t i = 0; i < 300; i++) {
        fill_root(&many[i]);
        list[i] = &many[i];
    }
    strbuf_reset(&out);
    zipkin_json_v2_list(&out, list, 300);
    ck_assert_uint_eq(out.len, 2 + 300 * strlen(root_v2) + 299);
}
END_TEST

/* ---- JSON v1 ------------------------------------------------------------------------- */

START_TEST(test_zipkin_json_v1_server)
{
    fill_root(&sp);
    ck_assert_str_eq(v1_of(&sp), root_v1);
}
END_TEST

START_TEST(test_zipkin_json_v1_client)
{
    fill_child(&sp);
    ck_assert_str_eq(v1_of(&sp), child_v1);
}
END_TEST

/* v1 marks a shared span by leaving out timestamp and duration. */
START_TEST(test_zipkin_json_v1_shared)
{
    fill_shared128(&sp);
    ck_assert_str_eq(v1_of(&sp), shared128_v1);
}
END_TEST

/* A span with nothing to carry its endpoint gets Zipkin's empty "lc". */
START_TEST(test_zipkin_json_v1_lc)
{
    fill_shared128(&sp);
    sp.timestamp_us = 0;
    ck_assert_str_eq(
        v1_of(&sp), "{\"traceId\":\"4e441824ec2b6a44ffdc9bb9a6453df3\",\"id\":\"ffdc9bb9a6453df3\","
                    "\"name\":\"\",\"annotations\":[],\"binaryAnnotations\":["
                    "{\"key\":\"lc\",\"value\":\"\","
                    "\"endpoint\":{\"serviceName\":\"edge\",\"port\":4140}}]}");
}
END_TEST

/* A v1 body holding `Endpoint"` or `"tags"` is refused as v2. */
START_TEST(test_zipkin_json_v1_sniffing_guard)
{
    fill_root(&sp);
    sp.n_tags = 0;
    memset(&sp.remote, 0, sizeof(sp.remote));
    add_tag(&sp, 0, "localEndpoint", "tags");
    add_tag(&sp, 0, "tags", "remoteEndpoint");
    add_tag(&sp, 0, "binaryAnnotations", "xtags"); /* harmless in v1 */
    v1_of(&sp);
    ck_assert_ptr_null(strstr(out.s, "Endpoint\""));
    ck_assert_ptr_null(strstr(out.s, "\"tags\""));
    ck_assert_ptr_nonnull(
        strstr(out.s, "{\"key\":\"localEndpoin\\u0074\",\"value\":\"\\u0074ags\","));
    ck_assert_ptr_nonnull(
        strstr(out.s, "{\"key\":\"\\u0074ags\",\"value\":\"remoteEndpoin\\u0074\","));
    ck_assert_ptr_nonnull(strstr(out.s, "{\"key\":\"binaryAnnotations\",\"value\":\"xtags\","));
}
END_TEST

/* ---- Thrift -------------------------------------------------------------------------- */

struct trd {
    const uint8_t *p, *end;
};

static uint64_t
trd_be(struct trd *r, int n)
{
    uint64_t v = 0;

    ck_assert_int_ge(r->end - r->p, n);
    for (int i = 0; i < n; i++)
        v = v << 8 | *r->p++;
    return v;
}

static void
trd_field(struct trd *r, unsigned type, unsigned id)
{
    ck_assert_uint_eq(trd_be(r, 1), type);
    ck_assert_uint_eq(trd_be(r, 2), id);
}

static void
trd_stop(struct trd *r)
{
    ck_assert_uint_eq(trd_be(r, 1), 0);
}

static void
trd_str(struct trd *r, const char *want, size_t want_len)
{
    ck_assert_uint_eq(trd_be(r, 4), want_len);
    ck_assert_int_ge(r->end - r->p, (long) want_len);
    ck_assert(memcmp(r->p, want, want_len) == 0);
    r->p += want_len;
}

#define TRD_STR(r, lit) trd_str((r), (lit), sizeof(lit) - 1)

static void
trd_endpoint(struct trd *r, uint32_t ipv4, uint16_t port, const char *service)
{
    trd_field(r, 8, 1);
    ck_assert_uint_eq(trd_be(r, 4), ipv4);
    trd_field(r, 6, 2);
    ck_assert_uint_eq(trd_be(r, 2), port);
    trd_field(r, 11, 3);
    trd_str(r, service, strlen(service));
}

static void
trd_annotation(struct trd *r, uint64_t ts, const char *value)
{
    trd_field(r, 10, 1);
    ck_assert_uint_eq(trd_be(r, 8), ts);
    trd_field(r, 11, 2);
    trd_str(r, value, 2);
    trd_field(r, 12, 3);
    trd_endpoint(r, 0xc0a86301, 3306, "backend");
    trd_stop(r);
    trd_stop(r);
}

static void
trd_tag(struct trd *r, const char *key, const char *value)
{
    trd_field(r, 11, 1);
    trd_str(r, key, strlen(key));
    trd_field(r, 11, 2);
    trd_str(r, value, strlen(value));
    trd_field(r, 8, 3);
    ck_assert_uint_eq(trd_be(r, 4), 6); /* STRING */
    trd_field(r, 12, 4);
    trd_endpoint(r, 0xc0a86301, 3306, "backend");
    trd_stop(r);
    trd_stop(r);
}

START_TEST(test_zipkin_thrift_span_fields)
{
    struct trd r;

    fill_root(&sp);
    zipkin_thrift_v1_span(&out, &sp);
    r.p = (const uint8_t *) out.s;
    r.end = r.p + out.len;
    trd_field(&r, 10, 1); /* trace_id */
    ck_assert_uint_eq(trd_be(&r, 8), 0x5af7183fb1d4cf5full);
    trd_field(&r, 11, 3); /* name */
    TRD_STR(&r, "get /api");
    trd_field(&r, 10, 4); /* id */
    ck_assert_uint_eq(trd_be(&r, 8), 0x352bff9a74ca9ad2ull);
    trd_field(&r, 15, 6); /* annotations: list<struct> of 2 */
    ck_assert_uint_eq(trd_be(&r, 1), 12);
    ck_assert_uint_eq(trd_be(&r, 4), 2);
    trd_annotation(&r, ROOT_TS, "sr");
    trd_annotation(&r, ROOT_TS + 1431, "ss");
    trd_field(&r, 15, 8); /* binary_annotations: 3 tags + "ca" */
    ck_assert_uint_eq(trd_be(&r, 1), 12);
    ck_assert_uint_eq(trd_be(&r, 4), 4);
    trd_tag(&r, "http.method", "GET");
    trd_tag(&r, "http.path", "/api");
    trd_tag(&r, "http.status_code", "200");
    trd_field(&r, 11, 1);
    TRD_STR(&r, "ca");
    trd_field(&r, 11, 2);
    TRD_STR(&r, "\x01");
    trd_field(&r, 8, 3);
    ck_assert_uint_eq(trd_be(&r, 4), 0); /* BOOL */
    trd_field(&r, 12, 4);
    trd_endpoint(&r, 0xac130002, 58648, "");
    trd_stop(&r);
    trd_stop(&r);
    trd_field(&r, 10, 10); /* timestamp */
    ck_assert_uint_eq(trd_be(&r, 8), ROOT_TS);
    trd_field(&r, 10, 11); /* duration */
    ck_assert_uint_eq(trd_be(&r, 8), 1431);
    trd_stop(&r);
    ck_assert_ptr_eq(r.p, r.end);
}
END_TEST

/* parent_id, debug, trace_id_high, an IPv6 host; a shared span has no timestamp/duration */
START_TEST(test_zipkin_thrift_optional_fields)
{
    static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0,    0,
                                   0,    0,    0,    0,    0, 0, 0xc0, 0x01};
    struct trd r;

    fill_child(&sp);
    sp.kind = SPAN_KIND_SERVER; /* now shared counts */
    sp.n_tags = 0;
    memset(&sp.remote, 0, sizeof(sp.remote));
    sp.trace_hi = 0x0102030405060708ull;
    set_v6(&sp.local, v6_doc);
    sp.local.port = 65535;
    zipkin_thrift_v1_span(&out, &sp);
    r.p = (const uint8_t *) out.s;
    r.end = r.p + out.len;
    trd_field(&r, 10, 1);
    ck_assert_uint_eq(trd_be(&r, 8), 0x5af7183fb1d4cf5full);
    trd_field(&r, 11, 3);
    TRD_STR(&r, "get");
    trd_field(&r, 10, 4);
    ck_assert_uint_eq(trd_be(&r, 8), 0x1111222233334444ull);
    trd_field(&r, 10, 5);
    ck_assert_uint_eq(trd_be(&r, 8), 0x352bff9a74ca9ad2ull);
    trd_field(&r, 15, 6);
    ck_assert_uint_eq(trd_be(&r, 1), 12);
    ck_assert_uint_eq(trd_be(&r, 4), 2);
    for (int i = 0; i < 2; i++) {
        trd_field(&r, 10, 1);
        ck_assert_uint_eq(trd_be(&r, 8), CHILD_TS + (uint64_t) i);
        trd_field(&r, 11, 2);
        trd_str(&r, i == 0 ? "sr" : "ss", 2);
        trd_field(&r, 12, 3);
        trd_endpoint(&r, 0, 65535, "backend");
        trd_field(&r, 11, 4);
        trd_str(&r, (const char *) v6, 16);
        trd_stop(&r);
        trd_stop(&r);
    }
    trd_field(&r, 15, 8);
    ck_assert_uint_eq(trd_be(&r, 1), 12);
    ck_assert_uint_eq(trd_be(&r, 4), 0);
    trd_field(&r, 2, 9); /* debug */
    ck_assert_uint_eq(trd_be(&r, 1), 1);
    trd_field(&r, 10, 12); /* trace_id_high; no 10/11: shared */
    ck_assert_uint_eq(trd_be(&r, 8), 0x0102030405060708ull);
    trd_stop(&r);
    ck_assert_ptr_eq(r.p, r.end);
}
END_TEST

START_TEST(test_zipkin_thrift_list)
{
    struct span a, b;
    const struct span *list[2] = {&a, &b};
    struct strbuf one = STRBUF_INIT, two = STRBUF_INIT;

    fill_root(&a);
    fill_child(&b);
    zipkin_thrift_v1_list(&out, list, 0);
    ck_assert_uint_eq(out.len, 5);
    ck_assert(memcmp(out.s, "\x0c\0\0\0\0", 5) == 0);
    strbuf_reset(&out);
    zipkin_thrift_v1_list(&out, list, 2);
    zipkin_thrift_v1_span(&one, &a);
    zipkin_thrift_v1_span(&two, &b);
    ck_assert_uint_eq(out.len, 5 + one.len + two.len);
    ck_assert(memcmp(out.s, "\x0c\0\0\0\x02", 5) == 0);
    ck_assert(memcmp(out.s + 5, one.s, one.len) == 0);
    ck_assert(memcmp(out.s + 5 + one.len, two.s, two.len) == 0);
    strbuf_fini(&one);
    strbuf_fini(&two);
}
END_TEST

/* ---- Scribe -------------------------------------------------------------------------- */

static size_t
unbase64(const char *in, size_t len, uint8_t *dst)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint32_t acc = 0;
    size_t n = 0;
    int bits = 0;

    ck_assert_uint_eq(len % 4, 0);
    for (size_t i = 0; i < len; i++) {
        const char *d;

        if (in[i] == '=') {
            ck_assert_uint_ge(i, len - 2);
            continue;
        }
        d = in[i] != '\0' ? strchr(abc, in[i]) : NULL;
        ck_assert_ptr_nonnull(d);
        acc = acc << 6 | (uint32_t) (d - abc);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            dst[n++] = (uint8_t) (acc >> bits);
        }
    }
    return n;
}

START_TEST(test_zipkin_scribe_frame)
{
    struct span a, b;
    const struct span *list[2] = {&a, &b};
    struct strbuf one = STRBUF_INIT;
    static uint8_t decoded[4096];
    struct trd r;

    fill_root(&a);
    fill_child(&b);
    scribe_log_call(&out, 0x01020304, list, 2);
    r.p = (const uint8_t *) out.s;
    r.end = r.p + out.len;
    ck_assert_uint_eq(trd_be(&r, 4), out.len - 4); /* frame length */
    ck_assert_uint_eq(trd_be(&r, 4), 0x80010001u); /* version 1, CALL */
    TRD_STR(&r, "Log");
    ck_assert_uint_eq(trd_be(&r, 4), 0x01020304); /* seqid */
    trd_field(&r, 15, 1);                         /* messages: list<LogEntry> of 2 */
    ck_assert_uint_eq(trd_be(&r, 1), 12);
    ck_assert_uint_eq(trd_be(&r, 4), 2);
    for (int i = 0; i < 2; i++) {
        size_t len, n;

        trd_field(&r, 11, 1);
        TRD_STR(&r, "zipkin");
        trd_field(&r, 11, 2);
        len = trd_be(&r, 4);
        ck_assert_int_ge(r.end - r.p, (long) len);
        n = unbase64((const char *) r.p, len, decoded);
        r.p += len;
        strbuf_reset(&one);
        zipkin_thrift_v1_span(&one, list[i]); /* one span, no list header */
        ck_assert_uint_eq(n, one.len);
        ck_assert(memcmp(decoded, one.s, n) == 0);
        trd_stop(&r);
    }
    trd_stop(&r);
    ck_assert_ptr_eq(r.p, r.end);
    strbuf_fini(&one);

    strbuf_reset(&out);
    scribe_log_call(&out, -1, list, 0);
    ck_assert_uint_eq(out.len, 4 + 4 + 7 + 4 + 3 + 5 + 1);
    ck_assert(memcmp(out.s,
                     "\0\0\0\x18\x80\x01\0\x01\0\0\0\x03Log\xff\xff\xff\xff\x0f\0\x01\x0c"
                     "\0\0\0\0\0",
                     out.len) == 0);
}
END_TEST

/* ---- Scribe replies ------------------------------------------------------------------ */

/* framed strict REPLY "Log", seqid 7, Log_result{0: i32 <code>} */
#define REPLY(code)                                                                                \
    "\x00\x00\x00\x17\x80\x01\x00\x02\x00\x00\x00\x03Log\x00\x00\x00\x07\x08\x00\x00"              \
    "\x00\x00\x00" code "\x00"

static const uint8_t reply_ok[] = REPLY("\x00");
static const uint8_t reply_later[] = REPLY("\x01");

static int
parse(const void *buf, size_t len, int32_t *seqid, enum scribe_result *res)
{
    return scribe_parse_reply(buf, len, seqid, res);
}

START_TEST(test_zipkin_scribe_reply_ok)
{
    enum scribe_result res = SCRIBE_TRY_LATER;
    int32_t seqid = 0;

    ck_assert_int_eq(parse(reply_ok, sizeof(reply_ok) - 1, &seqid, &res), 27);
    ck_assert_int_eq(seqid, 7);
    ck_assert_int_eq(res, SCRIBE_OK);
}
END_TEST

START_TEST(test_zipkin_scribe_reply_try_later)
{
    static uint8_t two[54];
    enum scribe_result res = SCRIBE_OK;
    int32_t seqid = 0;

    ck_assert_int_eq(parse(reply_later, sizeof(reply_later) - 1, &seqid, &res), 27);
    ck_assert_int_eq(seqid, 7);
    ck_assert_int_eq(res, SCRIBE_TRY_LATER);
    /* pipelined replies: one at a time */
    memcpy(two, reply_later, 27);   /* NOLINT(bugprone-not-null-terminated-result): bytes */
    memcpy(two + 27, reply_ok, 27); /* NOLINT(bugprone-not-null-terminated-result): bytes */
    ck_assert_int_eq(parse(two, sizeof(two), &seqid, &res), 27);
    ck_assert_int_eq(res, SCRIBE_TRY_LATER);
    ck_assert_int_eq(parse(two + 27, sizeof(two) - 27, &seqid, &res), 27);
    ck_assert_int_eq(res, SCRIBE_OK);
}
END_TEST

/* Every prefix needs more bytes; the outputs are left alone. Each prefix sits in a heap
 * block of exactly its size, so ASan sees any read past it. */
START_TEST(test_zipkin_scribe_reply_truncated)
{
    for (size_t len = 0; len < sizeof(reply_ok) - 1; len++) {
        uint8_t *b = malloc(len ? len : 1);
        enum scribe_result res = (enum scribe_result) 42;
        int32_t seqid = 42;

        memcpy(b, reply_ok, len);
        ck_assert_int_eq(parse(b, len, &seqid, &res), -EAGAIN);
        ck_assert_int_eq(seqid, 42);
        ck_assert_int_eq(res, 42);
        free(b);
    }
}
END_TEST

START_TEST(test_zipkin_scribe_reply_garbage)
{
    static const struct {
        const char *what;
        const char *bytes;
        size_t len;
    } bad[] = {
#define B(what, lit) {what, lit, sizeof(lit) - 1}
        B("HTTP", "HTTP/1.1 400 Bad Request\r\n\r\n"),
        B("empty frame", "\0\0\0\0"),
        B("huge frame", "\x7f\xff\xff\xff\x80\x01\x00\x02"),
        B("bad version", "\0\0\0\x17\x80\x02\x00\x02\0\0\0\x03Log\0\0\0\x07\x08\0\0\0\0\0\0\0"),
        B("bad version, frame incomplete", "\0\0\0\x17\x80\x02\x00\x02"), /* no waiting */
        B("CALL", "\0\0\0\x17\x80\x01\x00\x01\0\0\0\x03Log\0\0\0\x07\x08\0\0\0\0\0\0\0"),
        B("other name", "\0\0\0\x17\x80\x01\x00\x02\0\0\0\x03Lag\0\0\0\x07\x08\0\0\0\0\0\0\0"),
        B("name length", "\0\0\0\x17\x80\x01\x00\x02\0\0\0\x04Log"),
        B("result 2", "\0\0\0\x17\x80\x01\x00\x02\0\0\0\x03Log\0\0\0\x07\x08\0\0\0\0\0\x02\0"),
        B("no result", "\0\0\0\x10\x80\x01\x00\x02\0\0\0\x03Log\0\0\0\x07\0"),
        B("result as i16", "\0\0\0\x15\x80\x01\x00\x02\0\0\0\x03Log\0\0\0\x07\x06\0\0\0\0\0"),
        B("short frame", "\0\0\0\x16\x80\x01\x00\x02\0\0\0\x03Log\0\0\0\x07\x08\0\0\0\0\0\0"),
        B("trailing byte", "\0\0\0\x18\x80\x01\x00\x02\0\0\0\x03Log\0\0\0\x07\x08\0\0\0\0\0\0\0\0"),
        B("bad field type", "\0\0\0\x14\x80\x01\x00\x02\0\0\0\x03Log\0\0\0\x07\x10\0\x01\0\0"),
        /* TApplicationException{1: "boom", 2: 6 (INTERNAL_ERROR)} */
        B("exception", "\0\0\0\x22\x80\x01\x00\x03\0\0\0\x03Log\0\0\0\x07"
                       "\x0b\0\x01\0\0\0\x04\x62oom\x08\0\x02\0\0\0\x06\0"),
#undef B
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        enum scribe_result res = (enum scribe_result) 42;
        int32_t seqid = 42;

        ck_assert_msg(parse(bad[i].bytes, bad[i].len, &seqid, &res) == -EBADMSG, "%s", bad[i].what);
        ck_assert_int_eq(seqid, 42);
        ck_assert_int_eq(res, 42);
    }
}
END_TEST

/* Old-style (non-strict) headers and unknown result fields are read as Thrift reads them. */
START_TEST(test_zipkin_scribe_reply_lenient)
{
    static const char old[] = "\0\0\0\x14\0\0\0\x03Log\x02\0\0\0\x09\x08\0\0\0\0\0\x01\0";
    static const char extra[] = "\0\0\0\x2c\x80\x01\x00\x02\0\0\0\x03Log\0\0\0\x07"
                                "\x0b\0\x05\0\0\0\x02hi"             /* 5: string */
                                "\x0f\0\x06\x08\0\0\0\x01\0\0\0\x01" /* 6: list<i32> */
                                "\x08\0\0\0\0\0\0"                   /* 0: OK */
                                "\0";
    enum scribe_result res = SCRIBE_OK;
    int32_t seqid = 0;

    ck_assert_int_eq(parse(old, sizeof(old) - 1, &seqid, &res), (int) sizeof(old) - 1);
    ck_assert_int_eq(seqid, 9);
    ck_assert_int_eq(res, SCRIBE_TRY_LATER);
    ck_assert_int_eq(parse(extra, sizeof(extra) - 1, &seqid, &res), (int) sizeof(extra) - 1);
    ck_assert_int_eq(seqid, 7);
    ck_assert_int_eq(res, SCRIBE_OK);
}
END_TEST

/* ---- real decoders ------------------------------------------------------------------- */

#define N_RANDOM  60
#define SEQID     12345
#define POOL_SIZE (1u << 20)

static char pool[POOL_SIZE]; /* bytes of the random spans' strings */
static size_t pool_used;
static uint64_t rng_state;

static uint64_t
rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static unsigned
rng_below(unsigned n)
{
    return (unsigned) (rng_next() % n);
}

/* A string made of pieces chosen to hit every rule: case, escapes, multi-byte and broken
 * UTF-8, the sniffing patterns. */
static void
rng_str(const char **ret, size_t *ret_len, size_t max_pieces)
{
    static const char *const pieces[] = {
        "a",
        "Z",
        "get",
        "/api/v1",
        " ",
        "\"",
        "\\",
        "\n",
        "\t",
        "\x01",
        "\x1f",
        "\x7f",
        "\0",
        "é",
        "Ü",
        "€",
        "\xf0\x9f\x98\x80",
        "\xe2\x80\xa8",
        "\xe2\x80\xa9",
        "\xff",
        "\xc0\xaf",
        "\xe2\x82",
        "\xed\xa0\x80",
        "\xf4\x90\x80\x80",
        "\xf0\x80\x80",
        "\x80",
        "yAnnotations",
        "Endpoint",
        "tags",
        "binaryAnnotations",
        "SERVER",
        "{}[],:",
    };
    size_t n = rng_below((unsigned) max_pieces + 1), len = 0;
    char *s = pool + pool_used;

    for (size_t i = 0; i < n; i++) {
        unsigned k = rng_below(sizeof(pieces) / sizeof(pieces[0]));
        size_t l = k == 12 ? 1 : strlen(pieces[k]); /* "\0" is one byte of data */

        ck_assert_uint_lt(pool_used + len + l, POOL_SIZE);
        memcpy(s + len, pieces[k], l);
        len += l;
    }
    if (len == 4 && rng_below(2)) /* now and then exactly "tags" */
        memcpy(s, "tags", 4);
    pool_used += len;
    *ret = s;
    *ret_len = len;
}

static void
rng_endpoint(struct span_endpoint *e)
{
    static const uint16_t special[][8] = {
        {0, 0, 0, 0, 0, 0, 0, 0},
        {0, 0, 0, 0, 0, 0, 0, 1},
        {0, 0, 0, 0, 0, 0xffff, 0x0a00, 0x0001},
        {0, 0, 0, 0, 0, 0, 0x0a00, 0x0001},
        {0, 0, 0, 0, 0, 0xffff, 0, 0},
        {0xfe80, 0, 0, 0, 0, 0, 0, 0},
    };

    memset(e, 0, sizeof(*e));
    rng_str(&e->service, &e->service_len, rng_below(4) == 0 ? 0 : 3);
    e->port = (uint16_t) (rng_below(4) == 0 ? 0 : rng_below(3) == 0 ? 65535 : rng_next());
    switch (rng_below(5)) {
    case 0:
        break; /* no address */
    case 1:
    case 2: {
        uint64_t v = rng_next();

        set_v4(e, (uint8_t) v, (uint8_t) (v >> 8), (uint8_t) (v >> 16), (uint8_t) (v >> 24));
        if (rng_below(8) == 0)
            set_v4(e, 0, 0, 0, 0);
        break;
    }
    case 3: {
        uint16_t g[8];

        for (int i = 0; i < 8; i++) /* many zero groups, to exercise the "::" rules */
            g[i] = rng_below(2) ? 0 : (uint16_t) rng_next();
        set_v6(e, g);
        break;
    }
    default:
        set_v6(e, special[rng_below(sizeof(special) / sizeof(special[0]))]);
        break;
    }
}

static void
rng_span(struct span *s)
{
    static const uint64_t times[] = {0,
                                     1,
                                     ROOT_TS,
                                     (uint64_t) INT64_MAX - 1,
                                     (uint64_t) INT64_MAX,
                                     (uint64_t) INT64_MAX + 1,
                                     UINT64_MAX};

    memset(s, 0, sizeof(*s));
    s->trace_hi = rng_below(2) ? rng_next() : 0;
    do
        s->trace_lo = rng_below(8) ? rng_next() : 0;
    while ((s->trace_hi | s->trace_lo) == 0);
    do
        s->span_id = rng_next();
    while (s->span_id == 0);
    s->parent_id = rng_below(3) == 0 ? 0 : rng_below(5) == 0 ? s->span_id : rng_next();
    s->kind = rng_below(2) ? SPAN_KIND_SERVER : SPAN_KIND_CLIENT;
    s->flags = (uint32_t) rng_below(16);
    s->timestamp_us = rng_below(3) ? ROOT_TS + rng_below(1000000) : times[rng_below(7)];
    s->duration_us = rng_below(4) ? rng_below(100000) : rng_next();
    rng_str(&s->name, &s->name_len, 4);
    rng_endpoint(&s->local);
    if (rng_below(3))
        rng_endpoint(&s->remote);
    s->n_tags = rng_below(SPAN_MAX_TAGS + 1);
    for (unsigned i = 0; i < s->n_tags; i++) {
        struct span_tag_kv *t = &s->tags[i];

        memset(t, 0, sizeof(*t));
        if (rng_below(2)) {
            t->key = (uint16_t) (1 + rng_below(SPAN_TAG_L5D_SUCCESS + 2)); /* some unknown */
        } else if (rng_below(4) == 0) {
            set_str(&t->name, &t->name_len, "dup"); /* repeated names */
        } else {
            do
                rng_str(&t->name, &t->name_len, 2);
            while (t->name_len == 0);
        }
        if (rng_below(3) == 0) {
            t->is_num = true;
            t->num = rng_below(2) ? rng_below(1000) : rng_next();
        } else {
            rng_str(&t->value, &t->value_len, 3);
        }
    }
}

static void
put_hex(FILE *f, const void *data, size_t len)
{
    const uint8_t *b = data;

    fputc('"', f);
    for (size_t i = 0; i < len; i++)
        fprintf(f, "%02x", b[i]);
    fputc('"', f);
}

static void
put_endpoint(FILE *f, const struct span_endpoint *e)
{
    fputs("{\"service\":", f);
    put_hex(f, e->service, e->service_len);
    fprintf(f, ",\"has_ip\":%s,\"ipv6\":%s,\"ip\":", e->has_ip ? "true" : "false",
            e->ipv6 ? "true" : "false");
    put_hex(f, e->ip, e->ipv6 ? 16 : 4);
    fprintf(f, ",\"port\":%u}", e->port);
}

/* The sidecar: every input field, raw (strings in hex, 64-bit numbers in decimal strings),
 * written with stdio so it shares no code with the encoders. */
static void
write_sidecar(const char *path, const struct span *const *spans, size_t n)
{
    FILE *f = fopen(path, "w");

    ck_assert_ptr_nonnull(f);
    fprintf(f, "{\"seqid\":%d,\"spans\":[\n", SEQID);
    for (size_t i = 0; i < n; i++) {
        const struct span *s = spans[i];

        fprintf(f,
                "%s{\"trace_hi\":\"%llu\",\"trace_lo\":\"%llu\",\"span_id\":\"%llu\","
                "\"parent_id\":\"%llu\",\"kind\":%d,\"flags\":%u,\"timestamp\":\"%llu\","
                "\"duration\":\"%llu\",\"name\":",
                i ? ",\n" : "", (unsigned long long) s->trace_hi, (unsigned long long) s->trace_lo,
                (unsigned long long) s->span_id, (unsigned long long) s->parent_id, (int) s->kind,
                s->flags, (unsigned long long) s->timestamp_us,
                (unsigned long long) s->duration_us);
        put_hex(f, s->name, s->name_len);
        fputs(",\"local\":", f);
        put_endpoint(f, &s->local);
        fputs(",\"remote\":", f);
        put_endpoint(f, &s->remote);
        fputs(",\"tags\":[", f);
        for (unsigned t = 0; t < s->n_tags; t++) {
            const struct span_tag_kv *kv = &s->tags[t];

            fprintf(f, "%s{\"key\":%u,\"name\":", t ? "," : "", kv->key);
            put_hex(f, kv->name, kv->key ? 0 : kv->name_len);
            if (kv->is_num) {
                fprintf(f, ",\"num\":\"%llu\"}", (unsigned long long) kv->num);
            } else {
                fputs(",\"value\":", f);
                put_hex(f, kv->value, kv->value_len);
                fputc('}', f);
            }
        }
        fputs("]}", f);
    }
    fputs("\n]}\n", f);
    ck_assert_int_eq(fclose(f), 0);
}

static void
write_file(const char *dir, const char *name, const struct strbuf *sb)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(sb->s, 1, sb->len, f), sb->len);
    ck_assert_int_eq(fclose(f), 0);
}

static size_t
read_file(const char *dir, const char *name, uint8_t *buf, size_t cap)
{
    char path[512];
    size_t n;
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "zipkin_check.py wrote no %s", path);
    n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

static bool
readable(const char *path)
{
    return access(path, R_OK) == 0;
}

/* The script is tests/tools/zipkin_check.py in the source tree. Meson sets no variable
 * naming that tree for tests (MESON_SOURCE_ROOT is for run_command() and scripts), so this
 * uses __FILE__, this file as the compiler saw it: absolute, or relative to the build
 * directory meson ran the compiler in, the nearest ancestor of this executable's directory
 * holding build.ninja. $ZIPKIN_CHECK overrides. */
static bool
find_script(char *path, size_t cap)
{
    const char *env = getenv("ZIPKIN_CHECK");
    static const char suffix[] = "unit/test_zipkin.c";
    char src[512], dir[512];
    size_t n;
    ssize_t l;

    if (env != NULL) {
        snprintf(path, cap, "%s", env);
        return readable(path);
    }
    snprintf(src, sizeof(src), "%s", __FILE__);
    n = strlen(src);
    if (n < sizeof(suffix) - 1 || strcmp(src + n - (sizeof(suffix) - 1), suffix) != 0)
        return false;
    src[n - (sizeof(suffix) - 1)] = '\0'; /* ".../tests/" */
    if (src[0] == '/') {
        snprintf(path, cap, "%stools/zipkin_check.py", src);
        return readable(path);
    }
    l = readlink("/proc/self/exe", dir, sizeof(dir) - 1);
    if (l <= 0)
        return false;
    dir[l] = '\0';
    for (char *slash; (slash = strrchr(dir, '/')) != NULL;) {
        *slash = '\0';
        snprintf(path, cap, "%s/build.ninja", dir);
        if (readable(path)) {
            snprintf(path, cap, "%s/%stools/zipkin_check.py", dir, src);
            return readable(path);
        }
    }
    return false;
}

static int
run_script(const char *script, const char *dir)
{
    const char *python = getenv("ZIPKIN_PYTHON");
    int status;
    pid_t pid;

    /* Debian's python3-* packages are for /usr/bin/python3, which may not be the first
     * python3 on PATH (pyenv and the like). */
    if (python == NULL)
        python = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    ck_assert_int_ne(pid, -1);
    if (pid == 0) {
        execlp(python, python, script, dir, (char *) NULL);
        fprintf(stderr, "cannot run %s: %s\n", python, strerror(errno));
        _exit(127);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

START_TEST(test_zipkin_real_decoders)
{
    static struct span spans[5 + N_RANDOM + 1];
    static const struct span *list[5 + N_RANDOM + 1];
    static const char *const files[] = {
        "expect.json",         "v2.json",
        "v2_span0.json",       "v1.json",
        "thrift.bin",          "span0.thrift",
        "scribe.bin",          "reply_ok.bin",
        "reply_try_later.bin", "reply_exception.bin",
        "reply_ok_old.bin",
    };
    static char big[SPAN_MAX_STR_LEN];
    static uint8_t reply[4096];
    const char *ci_env = getenv("CI");
    const bool ci = ci_env != NULL && strcmp(ci_env, "true") == 0;
    char dir[] = "/tmp/test_zipkin.XXXXXX", script[512], path[600];
    enum scribe_result res;
    struct strbuf sb = STRBUF_INIT;
    size_t n = 0, len;
    int32_t seqid;
    int rc;

    fill_root(&spans[n++]);
    fill_child(&spans[n++]);
    fill_shared128(&spans[n++]);
    fill_root(&spans[n]);
    set_v6(&spans[n].local, v6_doc);
    set_v6(&spans[n++].remote, v6_mapped);
    fill_shared128(&spans[n]);
    spans[n++].timestamp_us = 0; /* the "lc" case */
    rng_state = 7;
    pool_used = 0;
    for (int i = 0; i < N_RANDOM; i++)
        rng_span(&spans[n++]);
    for (size_t i = 0; i < sizeof(big); i++) /* one big span: 8 KiB strings of everything */
        big[i] = (char) rng_next();
    fill_root(&spans[n]);
    spans[n].name = big;
    spans[n].name_len = sizeof(big);
    for (unsigned t = 0; t < spans[n].n_tags; t++) {
        spans[n].tags[t].value = big;
        spans[n].tags[t].value_len = sizeof(big);
        spans[n].tags[t].is_num = false;
    }
    n++;
    for (size_t i = 0; i < n; i++)
        list[i] = &spans[i];

    ck_assert_msg(find_script(script, sizeof(script)), "tests/tools/zipkin_check.py not found");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/expect.json", dir);
    write_sidecar(path, list, n);
    zipkin_json_v2_list(&sb, list, n);
    write_file(dir, "v2.json", &sb);
    strbuf_reset(&sb);
    zipkin_json_v2_span(&sb, list[0]);
    write_file(dir, "v2_span0.json", &sb);
    strbuf_reset(&sb);
    zipkin_json_v1_list(&sb, list, n);
    write_file(dir, "v1.json", &sb);
    strbuf_reset(&sb);
    zipkin_thrift_v1_list(&sb, list, n);
    write_file(dir, "thrift.bin", &sb);
    strbuf_reset(&sb);
    zipkin_thrift_v1_span(&sb, list[0]);
    write_file(dir, "span0.thrift", &sb);
    strbuf_reset(&sb);
    scribe_log_call(&sb, SEQID, list, n);
    write_file(dir, "scribe.bin", &sb);
    strbuf_fini(&sb);

    rc = run_script(script, dir);
    if (rc == 77 && !ci) {
        printf("SKIP test_zipkin_real_decoders: python3-jsonschema, python3-yaml, "
               "python3-thrift, thrift-compiler or ../shared/spec/zipkin missing\n");
        goto out;
    }
    ck_assert_msg(rc == 0, "zipkin_check.py %s failed (%d); outputs kept in %s", script, rc, dir);

    /* replies written by Apache Thrift's own Python library */
    len = read_file(dir, "reply_ok.bin", reply, sizeof(reply));
    ck_assert_int_eq(scribe_parse_reply(reply, len, &seqid, &res), (int) len);
    ck_assert_int_eq(seqid, SEQID);
    ck_assert_int_eq(res, SCRIBE_OK);
    len = read_file(dir, "reply_try_later.bin", reply, sizeof(reply));
    ck_assert_int_eq(scribe_parse_reply(reply, len, &seqid, &res), (int) len);
    ck_assert_int_eq(seqid, SEQID + 1);
    ck_assert_int_eq(res, SCRIBE_TRY_LATER);
    len = read_file(dir, "reply_ok_old.bin", reply, sizeof(reply));
    ck_assert_int_eq(scribe_parse_reply(reply, len, &seqid, &res), (int) len);
    ck_assert_int_eq(seqid, SEQID + 3);
    ck_assert_int_eq(res, SCRIBE_OK);
    len = read_file(dir, "reply_exception.bin", reply, sizeof(reply));
    ck_assert_int_eq(scribe_parse_reply(reply, len, &seqid, &res), -EBADMSG);
    for (size_t i = 0; i + 1 < len; i++)
        ck_assert_int_ne(scribe_parse_reply(reply, i, &seqid, &res), (int) i);

out:
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
        (void) unlink(path);
    }
    ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

static Suite *
zipkin_suite(void)
{
    Suite *s = suite_create("zipkin");
    TCase *tc;

    tc = tcase_create("json_v2");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_zipkin_json_v2_root);
    tcase_add_test(tc, test_zipkin_json_v2_child);
    tcase_add_test(tc, test_zipkin_json_v2_128bit_shared);
    tcase_add_test(tc, test_zipkin_json_v2_ipv6);
    tcase_add_test(tc, test_zipkin_json_v2_ipv6_spelling);
    tcase_add_test(tc, test_zipkin_json_v2_no_remote);
    tcase_add_test(tc, test_zipkin_json_v2_escaping);
    tcase_add_test(tc, test_zipkin_json_v2_sniffing_guard);
    tcase_add_test(tc, test_zipkin_json_v2_time_edges);
    tcase_add_test(tc, test_zipkin_json_v2_tags);
    tcase_add_test(tc, test_zipkin_json_v2_numbers);
    tcase_add_test(tc, test_zipkin_json_v2_list);
    tcase_add_test(tc, test_zipkin_json_v2_large);
    suite_add_tcase(s, tc);

    tc = tcase_create("json_v1");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_zipkin_json_v1_server);
    tcase_add_test(tc, test_zipkin_json_v1_client);
    tcase_add_test(tc, test_zipkin_json_v1_shared);
    tcase_add_test(tc, test_zipkin_json_v1_lc);
    tcase_add_test(tc, test_zipkin_json_v1_sniffing_guard);
    suite_add_tcase(s, tc);

    tc = tcase_create("thrift");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_zipkin_thrift_span_fields);
    tcase_add_test(tc, test_zipkin_thrift_optional_fields);
    tcase_add_test(tc, test_zipkin_thrift_list);
    suite_add_tcase(s, tc);

    tc = tcase_create("scribe");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_zipkin_scribe_frame);
    tcase_add_test(tc, test_zipkin_scribe_reply_ok);
    tcase_add_test(tc, test_zipkin_scribe_reply_try_later);
    tcase_add_test(tc, test_zipkin_scribe_reply_truncated);
    tcase_add_test(tc, test_zipkin_scribe_reply_garbage);
    tcase_add_test(tc, test_zipkin_scribe_reply_lenient);
    suite_add_tcase(s, tc);

    tc = tcase_create("real_decoders");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120); /* thrift codegen + Python start-up; more under sanitizers */
    tcase_add_test(tc, test_zipkin_real_decoders);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(zipkin_suite)
