/* tests/unit/test_span.c - the span record codec, through proto/span.h only: round trips of
 * every field and integer width, the size and exact bytes of the typical HTTP span (the
 * worked example of docs/span-record.md), the encoder's -ENOSPC/-EINVAL contract, the
 * rejection of every malformed field with its reason, every truncation of valid records
 * (each prefix in a buffer of exactly that size, so ASan catches any read past it), batches
 * with garbage tails and records of another version, and forward compatibility. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/span.h"
#include "tests/lib/check_main.h"

#define BUF_SIZE 4096

static uint8_t buf[BUF_SIZE];
static struct span in, out;
static const char *reason;

/* ---- helpers ------------------------------------------------------------------------- */

static unsigned
hex_digit(char c)
{
    const char *digits = "0123456789abcdef", *d = strchr(digits, c);

    ck_assert_msg(c != '\0' && d != NULL, "bad hex digit '%c'", c);
    return (unsigned) (d - digits);
}

/* "9d 01 0a0b" -> bytes; spaces are ignored between pairs */
static size_t
unhex(const char *hex, uint8_t *dst)
{
    size_t n = 0;

    for (const char *p = hex; *p != '\0'; p++) {
        if (*p == ' ')
            continue;
        dst[n++] = (uint8_t) (hex_digit(p[0]) << 4 | hex_digit(p[1]));
        p++;
    }
    return n;
}

static void
set_str(const char **s, size_t *len, const char *v)
{
    *s = v;
    *len = strlen(v);
}

static void
add_tag(struct span *s, uint16_t key, const char *value)
{
    struct span_tag_kv *t = &s->tags[s->n_tags++];

    memset(t, 0, sizeof(*t));
    t->key = key;
    set_str(&t->value, &t->value_len, value);
}

static void
add_num_tag(struct span *s, uint16_t key, uint64_t num)
{
    struct span_tag_kv *t = &s->tags[s->n_tags++];

    memset(t, 0, sizeof(*t));
    t->key = key;
    t->num = num;
    t->is_num = true;
}

static void
add_custom_tag(struct span *s, const char *name, const char *value)
{
    struct span_tag_kv *t = &s->tags[s->n_tags++];

    memset(t, 0, sizeof(*t));
    set_str(&t->name, &t->name_len, name);
    set_str(&t->value, &t->value_len, value);
}

static void
set_ipv4(struct span_endpoint *e, uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port)
{
    memset(e->ip, 0, sizeof(e->ip));
    e->ip[0] = a;
    e->ip[1] = b;
    e->ip[2] = c;
    e->ip[3] = d;
    e->has_ip = true;
    e->ipv6 = false;
    e->port = port;
}

/* The typical span of docs/span-record.md: the server span of an outgoing router for
 * GET http://users/users/12345, 10 tags, a 64-bit trace. */
static void
typical_span(struct span *s)
{
    memset(s, 0, sizeof(*s));
    s->trace_lo = 0x5af7183fb1d4cf5fULL;
    s->span_id = 0x352bff9a74ca9ad2ULL;
    s->parent_id = 0x6b221d5bc9e6496cULL;
    s->kind = SPAN_KIND_SERVER;
    s->flags = SPAN_F_SAMPLED;
    s->timestamp_us = 1556604172355737ULL;
    s->duration_us = 1431;
    set_str(&s->name, &s->name_len, "get");
    set_str(&s->local.service, &s->local.service_len, "0.0.0.0/4140");
    set_ipv4(&s->local, 10, 1, 2, 3, 4140);
    set_ipv4(&s->remote, 10, 1, 2, 9, 58648);
    add_tag(s, SPAN_TAG_HTTP_METHOD, "GET");
    add_tag(s, SPAN_TAG_HTTP_PATH, "/users/12345");
    add_tag(s, SPAN_TAG_HTTP_URL, "http://users/users/12345");
    add_num_tag(s, SPAN_TAG_HTTP_STATUS_CODE, 200);
    add_tag(s, SPAN_TAG_HTTP_HOST, "users");
    add_tag(s, SPAN_TAG_ROUTER_LABEL, "outgoing");
    add_tag(s, SPAN_TAG_SERVICE, "/svc/users");
    add_tag(s, SPAN_TAG_CLIENT, "/#/io.l5d.fs/users");
    add_num_tag(s, SPAN_TAG_REQUEST_SIZE, 0);
    add_num_tag(s, SPAN_TAG_RESPONSE_SIZE, 1432);
}

/* docs/span-record.md, "Worked example": the bytes of typical_span() */
static const char typical_hex[] =
    "9d 01 00 cf 5a f7 18 3f b1 d4 cf 5f cf 35 2b ff 9a 74 ca 9a d2 cf 6b 22 1d 5b c9 e6 49 6c"
    " 01 01 cf 00 05 87 b9 26 bf c8 99 cd 05 97 a3 67 65 74"
    " 93 ac 30 2e 30 2e 30 2e 30 2f 34 31 34 30 c4 04 0a 01 02 03 cd 10 2c"
    " 93 a0 c4 04 0a 01 02 09 cd e5 18"
    " 8a"
    " 01 a3 47 45 54"
    " 02 ac 2f 75 73 65 72 73 2f 31 32 33 34 35"
    " 03 b8 68 74 74 70 3a 2f 2f 75 73 65 72 73 2f 75 73 65 72 73 2f 31 32 33 34 35"
    " 04 cc c8"
    " 05 a5 75 73 65 72 73"
    " 06 a8 6f 75 74 67 6f 69 6e 67"
    " 07 aa 2f 73 76 63 2f 75 73 65 72 73"
    " 08 b2 2f 23 2f 69 6f 2e 6c 35 64 2e 66 73 2f 75 73 65 72 73"
    " 0b 00"
    " 0c cd 05 98";

static bool
bytes_eq(const char *a, size_t a_len, const char *b, size_t b_len)
{
    return a_len == b_len && (a_len == 0 || memcmp(a, b, a_len) == 0);
}

static void
assert_endpoint_eq(const struct span_endpoint *a, const struct span_endpoint *b)
{
    ck_assert(bytes_eq(a->service, a->service_len, b->service, b->service_len));
    ck_assert_int_eq(a->has_ip, b->has_ip);
    if (a->has_ip) {
        ck_assert_int_eq(a->ipv6, b->ipv6);
        ck_assert_mem_eq(a->ip, b->ip, a->ipv6 ? 16 : 4);
    }
    ck_assert_uint_eq(a->port, b->port);
}

static bool
endpoint_present(const struct span_endpoint *e)
{
    return e->has_ip || e->service_len > 0;
}

/* <b> decoded from <a>: every field that travels is equal */
static void
assert_span_eq(const struct span *a, const struct span *b)
{
    ck_assert_uint_eq(a->trace_hi, b->trace_hi);
    ck_assert_uint_eq(a->trace_lo, b->trace_lo);
    ck_assert_uint_eq(a->span_id, b->span_id);
    ck_assert_uint_eq(a->parent_id, b->parent_id);
    ck_assert_int_eq(a->kind, b->kind);
    ck_assert_uint_eq(a->flags, b->flags);
    ck_assert_uint_eq(a->timestamp_us, b->timestamp_us);
    ck_assert_uint_eq(a->duration_us, b->duration_us);
    ck_assert(bytes_eq(a->name, a->name_len, b->name, b->name_len));
    assert_endpoint_eq(&a->local, &b->local);
    ck_assert_int_eq(endpoint_present(&a->remote), endpoint_present(&b->remote));
    if (endpoint_present(&a->remote))
        assert_endpoint_eq(&a->remote, &b->remote);
    ck_assert_uint_eq(a->n_tags, b->n_tags);
    for (unsigned i = 0; i < a->n_tags; i++) {
        const struct span_tag_kv *x = &a->tags[i], *y = &b->tags[i];

        ck_assert_uint_eq(x->key, y->key);
        if (x->key == 0)
            ck_assert(bytes_eq(x->name, x->name_len, y->name, y->name_len));
        else if (span_tag_name(x->key) != NULL)
            ck_assert_str_eq(y->name, span_tag_name(x->key));
        else
            ck_assert_ptr_null(y->name);
        ck_assert_int_eq(x->is_num, y->is_num);
        if (x->is_num)
            ck_assert_uint_eq(x->num, y->num);
        else
            ck_assert(bytes_eq(x->value, x->value_len, y->value, y->value_len));
    }
}

/* encodes <s> into <dst>, decodes it back into <o>, checks both and returns the length */
static int
roundtrip_in(const struct span *s, uint8_t *dst, size_t cap, struct span *o)
{
    int n = span_encode(s, dst, cap), m;

    ck_assert_int_gt(n, 0);
    reason = NULL;
    m = span_decode(dst, (size_t) n, o, &reason);
    ck_assert_msg(m == n, "decode: %d (%s), encoded %d", m, reason ? reason : "-", n);
    assert_span_eq(s, o);
    return n;
}

static int
roundtrip(const struct span *s)
{
    return roundtrip_in(s, buf, sizeof(buf), &out);
}

/* decodes <hex> and expects <rc> with <why> */
static void
expect_reject(const char *hex, int rc, const char *why)
{
    uint8_t b[256];
    size_t n = unhex(hex, b);
    uint8_t *copy = malloc(n ? n : 1);
    int r;

    memcpy(copy, b, n);
    reason = NULL;
    r = span_decode(copy, n, &out, &reason);
    ck_assert_msg(r == rc, "%s: got %d (%s), want %d (%s)", hex, r, reason ? reason : "-", rc, why);
    ck_assert_ptr_nonnull(reason);
    ck_assert_str_eq(reason, why);
    free(copy);
}

/* A hand-written version 1 record, one hex chunk per field (docs/span-record.md order). */
static const char *const base_fields[13] = {
    "01",                           /* version */
    "00",                           /* trace_hi */
    "cf 5af7183fb1d4cf5f",          /* trace_lo */
    "cf 352bff9a74ca9ad2",          /* span_id */
    "00",                           /* parent_id */
    "02",                           /* kind CLIENT */
    "01",                           /* flags */
    "cf 00 05 87 b9 26 bf c8 99",   /* timestamp_us */
    "05",                           /* duration_us */
    "a3 676574",                    /* name "get" */
    "93 a0 c4 04 0a010203 cd 102c", /* local: "", 10.1.2.3, 4140 */
    "c0",                           /* remote: absent */
    "81 01 a3 474554",              /* tags: {http.method: "GET"} */
};

/* The base record with field <idx> replaced by <repl> (idx < 0: none), as hex. */
static const char *
record_hex(const char *header, int idx, const char *repl)
{
    static char hex[1024];

    (void) snprintf(hex, sizeof(hex), "%s", header);
    for (int i = 0; i < 13; i++) {
        size_t used = strlen(hex);

        (void) snprintf(hex + used, sizeof(hex) - used, " %s", i == idx ? repl : base_fields[i]);
    }
    return hex;
}

/* ---- round trip ---------------------------------------------------------------------- */

START_TEST(test_span_roundtrip_every_field)
{
    static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01};

    typical_span(&in);
    in.trace_hi = 0x4e441824ec2b6a44ULL; /* 128-bit trace */
    in.kind = SPAN_KIND_CLIENT;
    in.flags = SPAN_F_SAMPLED | SPAN_F_DEBUG | SPAN_F_SHARED | (1u << 31);
    set_str(&in.remote.service, &in.remote.service_len, "users");
    memcpy(in.remote.ip, v6, 16);
    in.remote.ipv6 = true;
    add_custom_tag(&in, "l5d.retryable", "true");
    add_tag(&in, SPAN_TAG_ERROR, "connection refused");
    roundtrip(&in);
    /* zero-copy: strings point into the record */
    ck_assert(out.name >= (const char *) buf && out.name < (const char *) buf + sizeof(buf));
    ck_assert(out.tags[10].name >= (const char *) buf);
    ck_assert_str_eq(out.tags[0].name, "http.method");
    ck_assert_uint_eq(out.tags[0].name_len, strlen("http.method"));
}
END_TEST

START_TEST(test_span_roundtrip_64_and_128_bit_ids)
{
    static const uint64_t ids[] = {1, 127, 128, 0xffffffffULL, 0x100000000ULL, UINT64_MAX};

    typical_span(&in);
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        in.trace_hi = 0;
        in.trace_lo = ids[i];
        in.span_id = ids[i];
        in.parent_id = 0; /* root */
        roundtrip(&in);
        in.trace_hi = ids[i];
        in.trace_lo = ids[(i + 1) % 6];
        in.parent_id = ids[i];
        roundtrip(&in);
    }
    /* 128-bit trace with a zero low half is still a trace */
    in.trace_hi = 7;
    in.trace_lo = 0;
    roundtrip(&in);
}
END_TEST

START_TEST(test_span_roundtrip_ipv4_ipv6)
{
    typical_span(&in);
    for (int i = 0; i < 16; i++) {
        in.local.ip[i] = (uint8_t) (0xf0 + i);
        in.remote.ip[i] = (uint8_t) i;
    }
    in.local.ipv6 = true;
    in.remote.ipv6 = true;
    in.local.port = 0;
    in.remote.port = 65535;
    roundtrip(&in);
    ck_assert(out.local.ipv6 && out.remote.ipv6);

    typical_span(&in);
    roundtrip(&in);
    ck_assert(!out.local.ipv6 && out.local.has_ip);
    ck_assert_uint_eq(out.local.ip[4], 0); /* the rest of an IPv4 address is zeroed */
    ck_assert_uint_eq(out.local.ip[15], 0);

    in.local.has_ip = false; /* a local endpoint without an address: nil */
    roundtrip(&in);
    ck_assert(!out.local.has_ip);
}
END_TEST

START_TEST(test_span_roundtrip_no_remote)
{
    typical_span(&in);
    memset(&in.remote, 0, sizeof(in.remote));
    roundtrip(&in);
    ck_assert(!out.remote.has_ip);
    ck_assert_uint_eq(out.remote.service_len, 0);

    /* a port alone does not make a remote endpoint: it is not sent */
    in.remote.port = 8080;
    roundtrip(&in);
    ck_assert_uint_eq(out.remote.port, 0);

    /* a service alone does */
    set_str(&in.remote.service, &in.remote.service_len, "peer");
    roundtrip(&in);
    ck_assert_uint_eq(out.remote.port, 8080);
    ck_assert(!out.remote.has_ip);
}
END_TEST

START_TEST(test_span_roundtrip_custom_tags)
{
    typical_span(&in);
    in.n_tags = 0;
    add_custom_tag(&in, "l5d.success", "1.0");
    add_custom_tag(&in, "http.method", "POST"); /* a custom tag may reuse a known name */
    add_custom_tag(&in, "x", "");
    add_num_tag(&in, 200, 42); /* a key newer than this decoder: passes, unnamed */
    in.tags[in.n_tags - 1].key = 200;
    add_num_tag(&in, SPAN_TAG_RESPONSE_SIZE, UINT64_MAX);
    in.tags[in.n_tags] = in.tags[0];
    in.tags[in.n_tags].is_num = true; /* custom name, numeric value */
    in.tags[in.n_tags++].num = 65536;
    roundtrip(&in);
    ck_assert_uint_eq(out.tags[0].key, 0);
    ck_assert_uint_eq(out.tags[1].key, 0);
    ck_assert_ptr_null(out.tags[3].name);
    ck_assert_uint_eq(out.tags[3].key, 200);
    ck_assert_uint_eq(out.tags[4].num, UINT64_MAX);
    ck_assert_uint_eq(out.tags[5].num, 65536);
}
END_TEST

START_TEST(test_span_roundtrip_empty_strings)
{
    typical_span(&in);
    set_str(&in.name, &in.name_len, "");
    set_str(&in.local.service, &in.local.service_len, "");
    in.n_tags = 0;
    add_tag(&in, SPAN_TAG_DTAB_LOCAL, "");
    add_custom_tag(&in, "k", "");
    roundtrip(&in);
    ck_assert_uint_eq(out.name_len, 0);
    ck_assert_uint_eq(out.tags[0].value_len, 0);
    ck_assert_ptr_nonnull(out.tags[0].value);

    in.n_tags = 0; /* no tags: an empty map */
    roundtrip(&in);
    ck_assert_uint_eq(out.n_tags, 0);

    in.name = NULL; /* an empty string may come as a NULL pointer */
    in.local.service = NULL;
    roundtrip(&in);
}
END_TEST

START_TEST(test_span_roundtrip_max_tags)
{
    static char names[SPAN_MAX_TAGS][400];
    static struct span big_out;
    char *huge = malloc(SPAN_MAX_STR_LEN);
    size_t cap = 64 * 1024 + SPAN_MAX_TAGS * (SPAN_MAX_STR_LEN + 400);
    uint8_t *dst = malloc(cap);
    static const size_t lens[] = {0, 31, 32, 255, 256, 1000, SPAN_MAX_STR_LEN};

    memset(huge, 'v', SPAN_MAX_STR_LEN);
    typical_span(&in);
    in.n_tags = 0;
    for (unsigned i = 0; i < SPAN_MAX_TAGS; i++) {
        struct span_tag_kv *t = &in.tags[in.n_tags++];
        size_t name_len = lens[i % 5] == 0 ? 1 : lens[i % 5];

        memset(t, 0, sizeof(*t));
        if (i % 3 == 0) {
            t->key = (uint16_t) (i + 1);
        } else {
            memset(names[i], 'a' + (int) (i % 26), name_len);
            t->name = names[i];
            t->name_len = name_len;
        }
        if (i % 4 == 3) {
            t->is_num = true;
            t->num = (uint64_t) 1 << (i * 2 + 15);
        } else {
            t->value = huge;
            t->value_len = lens[i % 7];
        }
    }
    in.name = huge;
    in.name_len = SPAN_MAX_STR_LEN;
    in.local.service = huge;
    in.local.service_len = 300;
    roundtrip_in(&in, dst, cap, &big_out);
    ck_assert_uint_eq(big_out.n_tags, SPAN_MAX_TAGS);
    ck_assert_uint_eq(big_out.name_len, SPAN_MAX_STR_LEN);
    free(dst);
    free(huge);
}
END_TEST

START_TEST(test_span_roundtrip_int_widths)
{
    static const uint64_t v[] = {
        0, 1, 127, 128, 255, 256, 65535, 65536, 0xffffffffULL, 0x100000000ULL, UINT64_MAX};

    typical_span(&in);
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        in.duration_us = v[i];
        in.timestamp_us = v[i];
        in.flags = (uint32_t) v[i];
        in.local.port = (uint16_t) v[i];
        in.tags[3].num = v[i];
        in.tags[3].key = (uint16_t) (v[i] % 65535 + 1);
        roundtrip(&in);
    }
}
END_TEST

START_TEST(test_span_tag_names)
{
    static const char *const want[] = {
        NULL,
        "http.method",
        "http.path",
        "http.url",
        "http.status_code",
        "http.host",
        "router.label",
        "service",
        "client",
        "residual",
        "dtab.local",
        "http.request.size",
        "http.response.size",
        "error",
        "dtab.base",
        "l5d.success",
    };

    for (unsigned k = 0; k < sizeof(want) / sizeof(want[0]); k++) {
        if (want[k] == NULL)
            ck_assert_ptr_null(span_tag_name(k));
        else
            ck_assert_str_eq(span_tag_name(k), want[k]);
    }
    ck_assert_ptr_null(span_tag_name(sizeof(want) / sizeof(want[0])));
    ck_assert_ptr_null(span_tag_name(65535));
}
END_TEST

/* ---- encoder contract ---------------------------------------------------------------- */

START_TEST(test_span_encode_nospace_writes_nothing)
{
    int n;

    typical_span(&in);
    n = span_encode(&in, buf, sizeof(buf));
    ck_assert_int_gt(n, 0);
    for (int cap = 0; cap < n; cap++) {
        /* a buffer of exactly <cap> bytes: ASan catches a write past it */
        uint8_t *dst = malloc(cap ? (size_t) cap : 1);

        memset(dst, 0x5a, cap ? (size_t) cap : 1);
        ck_assert_int_eq(span_encode(&in, dst, (size_t) cap), -ENOSPC);
        for (int i = 0; i < cap; i++)
            ck_assert_uint_eq(dst[i], 0x5a);
        free(dst);
    }
    {
        uint8_t *dst = malloc((size_t) n);

        ck_assert_int_eq(span_encode(&in, dst, (size_t) n), n);
        ck_assert_mem_eq(dst, buf, (size_t) n);
        free(dst);
    }
}
END_TEST

START_TEST(test_span_encode_rejects_invalid)
{
    char *huge = calloc(1, SPAN_MAX_STR_LEN + 1);

    typical_span(&in);
    in.kind = 3;
    ck_assert_int_eq(span_encode(&in, buf, sizeof(buf)), -EINVAL);
    in.kind = 0;
    ck_assert_int_eq(span_encode(&in, buf, sizeof(buf)), -EINVAL);

    typical_span(&in);
    in.trace_lo = 0;
    ck_assert_int_eq(span_encode(&in, buf, sizeof(buf)), -EINVAL);
    typical_span(&in);
    in.span_id = 0;
    ck_assert_int_eq(span_encode(&in, buf, sizeof(buf)), -EINVAL);

    typical_span(&in);
    in.n_tags = SPAN_MAX_TAGS + 1;
    ck_assert_int_eq(span_encode(&in, buf, sizeof(buf)), -EINVAL);

    typical_span(&in);
    in.tags[1].key = 0; /* custom, but no name */
    ck_assert_int_eq(span_encode(&in, buf, sizeof(buf)), -EINVAL);

    /* each string one byte over the limit, even with room to spare */
    {
        size_t cap = (size_t) 4 * SPAN_MAX_STR_LEN;
        uint8_t *dst = malloc(cap);
        size_t *lens[6];

        typical_span(&in);
        in.tags[2].key = 0;
        in.tags[2].name = huge;
        lens[0] = &in.name_len;
        lens[1] = &in.local.service_len;
        lens[2] = &in.remote.service_len;
        lens[3] = &in.tags[0].value_len;
        lens[4] = &in.tags[2].name_len;
        lens[5] = &in.tags[1].value_len;
        in.name = in.local.service = in.remote.service = in.tags[0].value = in.tags[1].value = huge;
        for (int i = 0; i < 6; i++)
            *lens[i] = 1;
        ck_assert_int_gt(span_encode(&in, dst, cap), 0);
        for (int i = 0; i < 6; i++) {
            *lens[i] = SPAN_MAX_STR_LEN;
            ck_assert_int_gt(span_encode(&in, dst, cap), 0);
            *lens[i] = SPAN_MAX_STR_LEN + 1;
            ck_assert_int_eq(span_encode(&in, dst, cap), -EINVAL);
            *lens[i] = 1;
        }
        free(dst);
    }
    free(huge);
}
END_TEST

/* ---- size ---------------------------------------------------------------------------- */

START_TEST(test_span_size_typical_under_200_bytes)
{
    uint8_t want[256];
    size_t want_len = unhex(typical_hex, want);
    int n;

    typical_span(&in);
    n = roundtrip(&in);
    ck_assert_int_lt(n, 200);
    ck_assert_int_eq(n, 186); /* the figure docs/span-record.md gives */
    ck_assert_uint_eq(want_len, (size_t) n);
    ck_assert_mem_eq(buf, want, want_len); /* the worked example, byte for byte */

    in.trace_hi = 1; /* a 128-bit trace costs 8 bytes more */
    ck_assert_int_eq(span_encode(&in, buf, sizeof(buf)), 194);
}
END_TEST

/* ---- rejection ----------------------------------------------------------------------- */

static void
truncations(const uint8_t *rec, size_t len)
{
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *copy = malloc(cut ? cut : 1);
        int r;

        memcpy(copy, rec, cut);
        reason = NULL;
        r = span_decode(copy, cut, &out, &reason);
        ck_assert_msg(r == -EBADMSG, "prefix %zu of %zu: %d", cut, len, r);
        ck_assert_ptr_nonnull(reason);
        ck_assert_msg(strstr(reason, "truncated") != NULL, "prefix %zu: %s", cut, reason);
        free(copy);
    }
}

START_TEST(test_span_reject_every_truncation)
{
    static char long_value[300];
    uint8_t rec[1024];
    size_t n;
    int len;

    typical_span(&in);
    len = span_encode(&in, buf, sizeof(buf));
    truncations(buf, (size_t) len);

    /* every other form: 128-bit, IPv6, remote service, str8/str16, map16, custom tags */
    in.trace_hi = 3;
    in.local.ipv6 = true;
    set_str(&in.remote.service, &in.remote.service_len, "a remote service name over 32 bytes");
    memset(long_value, '.', sizeof(long_value) - 1);
    while (in.n_tags < 17)
        add_custom_tag(&in, "custom", long_value);
    len = span_encode(&in, buf, sizeof(buf));
    ck_assert_int_gt(len, 0);
    truncations(buf, (size_t) len);

    /* non-minimal integer forms and extra fields in the record and in an endpoint */
    n = unhex("9f 01 d0 00 ce 00 00 00 05 cd 00 01 d3 00 00 00 00 00 00 00 09 01 cc 00"
              " cd 00 07 00 d9 01 67"
              " 95 a0 c4 04 01 02 03 04 cd 10 2c 92 01 a0 c0"
              " c0"
              " 82 a1 6b d1 00 05 01 a0"
              " de 00 01 a1 6b c0 c7 01 05 ff",
              rec);
    ck_assert_int_eq(span_decode(rec, n, &out, &reason), (int) n);
    truncations(rec, n);
}
END_TEST

START_TEST(test_span_reject_wrong_types)
{
    static const struct {
        int field;
        const char *repl;
        const char *why;
    } cases[] = {
        {0, "a131", "version: not an unsigned integer"},
        {0, "ff", "version: not an unsigned integer"},
        {1, "a0", "trace_hi: not an unsigned integer"},
        {1, "d0ff", "trace_hi: not an unsigned integer"},
        {2, "c0", "trace_lo: not an unsigned integer"},
        {2, "00", "trace id: zero"},
        {3, "00", "span_id: zero"},
        {3, "c3", "span_id: not an unsigned integer"},
        {4, "ca00000000", "parent_id: not an unsigned integer"},
        {5, "00", "kind: not SERVER (1) or CLIENT (2)"},
        {5, "03", "kind: not SERVER (1) or CLIENT (2)"},
        {5, "c2", "kind: not an unsigned integer"},
        {6, "cf 00 00 00 01 00 00 00 00", "flags: over 32 bits"},
        {6, "e0", "flags: not an unsigned integer"},
        {7, "a0", "timestamp: not an unsigned integer"},
        {8, "e0", "duration: not an unsigned integer"},
        {9, "01", "name: not a string"},
        {9, "c4 03 676574", "name: not a string"},
        {10, "c0", "local endpoint: not an array"},
        {10, "82 a0 c0 a0 c0", "local endpoint: not an array"},
        {10, "92 a0 c0", "local endpoint: too few fields"},
        {10, "93 01 c0 00", "local service: not a string"},
        {10, "93 a0 c4 05 0a01020304 00", "local ip: not 4 or 16 bytes"},
        {10, "93 a0 c4 00 00", "local ip: not 4 or 16 bytes"},
        {10, "93 a0 a4 0a010203 00", "local ip: not bin or nil"},
        {10, "93 a0 ce 0a010203 00", "local ip: not bin or nil"},
        {10, "93 a0 c0 ce 00 01 00 00", "local port: over 65535"},
        {10, "93 a0 c0 c0", "local port: not an unsigned integer"},
        {10, "93 a0 c0 ff", "local port: not an unsigned integer"},
        {11, "01", "remote endpoint: not an array or nil"},
        {11, "91 a0", "remote endpoint: too few fields"},
        {11, "93 c0 c0 00", "remote service: not a string"},
        {11, "93 a0 c4 03 010203 00", "remote ip: not 4 or 16 bytes"},
        {11, "93 a0 c0 d1 80 00", "remote port: not an unsigned integer"},
        {11, "93 a0 c0 cf 00 00 00 00 00 01 00 00", "remote port: over 65535"},
        {12, "90", "tags: not a map"},
        {12, "c0", "tags: not a map"},
        {12, "de 00 19", "tags: too many"},
        {12, "df ff ff ff ff", "tags: too many"},
        {12, "81 00 a0", "tag key: zero, over 65535, empty or too long"},
        {12, "81 ce 00 01 00 00 a0", "tag key: zero, over 65535, empty or too long"},
        {12, "81 a0 a0", "tag key: zero, over 65535, empty or too long"},
        {12, "81 c0 a0", "tag key: not an unsigned integer or string"},
        {12, "81 ff a0", "tag key: not an unsigned integer or string"},
        {12, "81 c4 01 78 a0", "tag key: not an unsigned integer or string"},
        {12, "81 01 c2", "tag value: not a string or unsigned integer"},
        {12, "81 01 d0 ff", "tag value: not a string or unsigned integer"},
        {12, "81 a1 78 c0", "tag value: not a string or unsigned integer"},
        {12, "81 01 cb 3f f0 00 00 00 00 00 00", "tag value: not a string or unsigned integer"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        expect_reject(record_hex("9d", cases[i].field, cases[i].repl), -EBADMSG, cases[i].why);
    /* the record itself */
    expect_reject("8d", -EBADMSG, "record: not an array");
    expect_reject("c1", -EBADMSG, "record: not an array");
    expect_reject("90", -EBADMSG, "record: too few fields");
    expect_reject("91 01", -EBADMSG, "record: too few fields");
    expect_reject(record_hex("9c", -1, NULL), -EBADMSG, "record: too few fields");
    /* a reserved byte in an unknown extra field */
    {
        char hex[1100];

        (void) snprintf(hex, sizeof(hex), "%s c1", record_hex("9e", -1, NULL));
        expect_reject(hex, -EBADMSG, "extra field: reserved byte 0xc1");
    }
}
END_TEST

START_TEST(test_span_reject_bad_version)
{
    expect_reject(record_hex("9d", 0, "02"), -EPROTONOSUPPORT, "version: unsupported");
    expect_reject(record_hex("9d", 0, "00"), -EPROTONOSUPPORT, "version: unsupported");
    expect_reject(record_hex("9d", 0, "cf ff ff ff ff ff ff ff ff"), -EPROTONOSUPPORT,
                  "version: unsupported");
    /* another major version may have any layout after its version */
    expect_reject("91 02", -EPROTONOSUPPORT, "version: unsupported");
    expect_reject("92 7f c0", -EPROTONOSUPPORT, "version: unsupported");
    expect_reject("91", -EBADMSG, "version: truncated");
}
END_TEST

START_TEST(test_span_reject_oversize_strings)
{
    /* lengths are checked before the bytes, so claims of any size are safe */
    expect_reject(record_hex("9d", 9, "da 20 01"), -EBADMSG, "name: too long");
    expect_reject(record_hex("9d", 9, "db ff ff ff ff"), -EBADMSG, "name: too long");
    expect_reject(record_hex("9d", 9, "db 00 00 20 00"), -EBADMSG, "name: truncated");
    expect_reject(record_hex("9d", 10, "93 da 20 01"), -EBADMSG, "local service: too long");
    expect_reject(record_hex("9d", 11, "93 db 00 01 00 00"), -EBADMSG, "remote service: too long");
    expect_reject(record_hex("9d", 12, "81 01 da 20 01"), -EBADMSG, "tag value: too long");
    expect_reject(record_hex("9d", 12, "81 da ff ff a0"), -EBADMSG,
                  "tag key: zero, over 65535, empty or too long");
    expect_reject(record_hex("9d", 10, "93 a0 c6 ff ff ff ff"), -EBADMSG,
                  "local ip: not 4 or 16 bytes");
}
END_TEST

START_TEST(test_span_reject_too_many_tags)
{
    uint8_t *rec = malloc(BUF_SIZE);
    uint8_t *p;
    int n;

    typical_span(&in);
    while (in.n_tags < SPAN_MAX_TAGS)
        add_tag(&in, SPAN_TAG_ERROR, "x");
    n = span_encode(&in, rec, BUF_SIZE);
    ck_assert_int_gt(n, 0);
    ck_assert_int_eq(span_decode(rec, (size_t) n, &out, &reason), n);

    /* the same record with one tag more: raise the map16 count, append 01 a1 78 */
    for (p = rec; p < rec + n - 2; p++)
        if (p[0] == 0xde && p[1] == 0 && p[2] == SPAN_MAX_TAGS)
            break;
    ck_assert(p < rec + n - 2);
    p[2] = SPAN_MAX_TAGS + 1;
    rec[n] = 0x01;
    rec[n + 1] = 0xa1;
    rec[n + 2] = 0x78;
    ck_assert_int_eq(span_decode(rec, (size_t) n + 3, &out, &reason), -EBADMSG);
    ck_assert_str_eq(reason, "tags: too many");
    free(rec);
}
END_TEST

/* ---- batch --------------------------------------------------------------------------- */

struct collected {
    unsigned n;
    uint64_t ids[64];
    char names[64][16];
};

static void
collect(const struct span *s, void *arg)
{
    struct collected *c = arg;

    ck_assert_uint_lt(c->n, 64);
    c->ids[c->n] = s->span_id;
    (void) snprintf(c->names[c->n], sizeof(c->names[0]), "%.*s", (int) s->name_len, s->name);
    c->n++;
}

/* N records of varying shapes into <dst>; returns the batch length */
static size_t
make_batch(uint8_t *dst, size_t cap, unsigned n)
{
    static char names[64][16];
    size_t len = 0;

    for (unsigned i = 0; i < n; i++) {
        int r;

        typical_span(&in);
        in.span_id = 1000 + i;
        (void) snprintf(names[i], sizeof(names[i]), "span-%u", i);
        set_str(&in.name, &in.name_len, names[i]);
        in.n_tags = i % 11;
        if (i % 3 == 0)
            memset(&in.remote, 0, sizeof(in.remote));
        r = span_encode(&in, dst + len, cap - len);
        ck_assert_int_gt(r, 0);
        len += (size_t) r;
    }
    return len;
}

START_TEST(test_span_batch_concatenated)
{
    static uint8_t b[32 * 256];
    struct collected c = {0};
    struct span_batch_result res;
    size_t len = make_batch(b, sizeof(b), 32);
    uint8_t *copy = malloc(len);

    memcpy(copy, b, len);
    ck_assert_int_eq(span_batch_decode(copy, len, collect, &c, &res), 32);
    ck_assert_uint_eq(c.n, 32);
    ck_assert_uint_eq(res.n_spans, 32);
    ck_assert_uint_eq(res.n_bad, 0);
    ck_assert(!res.malformed);
    ck_assert_ptr_null(res.reason);
    for (unsigned i = 0; i < 32; i++) {
        char want[16];

        ck_assert_uint_eq(c.ids[i], 1000 + i);
        (void) snprintf(want, sizeof(want), "span-%u", i);
        ck_assert_str_eq(c.names[i], want);
    }
    free(copy);

    ck_assert_int_eq(span_batch_decode(b, 0, collect, &c, &res), 0); /* empty message */
    ck_assert_uint_eq(res.n_bad, 0);
}
END_TEST

START_TEST(test_span_batch_garbage_tail_counted)
{
    static const uint8_t garbage[8] = {0xc1, 'g', 'a', 'r', 'b', 'a', 'g', 'e'};
    static uint8_t b[8 * 256 + 16];
    struct collected c = {0};
    struct span_batch_result res;
    size_t len = make_batch(b, sizeof(b), 8);

    memcpy(b + len, garbage, sizeof(garbage));
    ck_assert_int_eq(span_batch_decode(b, len + 8, collect, &c, &res), 8);
    ck_assert_uint_eq(c.n, 8);
    ck_assert_uint_eq(res.n_bad, 1);
    ck_assert_uint_eq(res.n_unsupported, 0);
    ck_assert(res.malformed);
    ck_assert_uint_eq(res.bad_offset, len);
    ck_assert_str_eq(res.reason, "record: not an array");

    /* the last record cut short: the ones before it still count */
    memset(&c, 0, sizeof(c));
    ck_assert_int_eq(span_batch_decode(b, len - 1, collect, &c, &res), 7);
    ck_assert_uint_eq(res.n_bad, 1);
    ck_assert(res.malformed);
    ck_assert_ptr_nonnull(strstr(res.reason, "truncated"));

    /* a bad record in the middle ends the batch: what follows cannot be framed */
    memset(&c, 0, sizeof(c));
    b[0] = 0x9c;
    ck_assert_int_eq(span_batch_decode(b, len, collect, &c, &res), 0);
    ck_assert_uint_eq(res.n_bad, 1);
    ck_assert_uint_eq(res.bad_offset, 0);
}
END_TEST

START_TEST(test_span_batch_skips_other_versions)
{
    static uint8_t b[4096];
    struct collected c = {0};
    struct span_batch_result res;
    size_t len = 0, n;
    int r;

    typical_span(&in);
    r = span_encode(&in, b, sizeof(b));
    len += (size_t) r;
    /* version 3 with nothing but its version, a good record, version 2 with a nested layout */
    n = unhex("91 03", b + len);
    len += n;
    in.span_id = 77;
    r = span_encode(&in, b + len, sizeof(b) - len);
    len += (size_t) r;
    n = unhex("94 02 81 a1 61 92 c3 c2 c7 02 01 aa bb dd 00 00 00 01 ca 00 00 00 00", b + len);
    len += n;

    ck_assert_int_eq(span_batch_decode(b, len, collect, &c, &res), 2);
    ck_assert_uint_eq(c.ids[1], 77);
    ck_assert_uint_eq(res.n_unsupported, 2);
    ck_assert_uint_eq(res.n_bad, 2);
    ck_assert(!res.malformed);
    ck_assert_str_eq(res.reason, "version: unsupported");

    /* another version's record cut short cannot be skipped */
    memset(&c, 0, sizeof(c));
    ck_assert_int_eq(span_batch_decode(b, len - 1, collect, &c, &res), 2);
    ck_assert_uint_eq(res.n_bad, 2);
    ck_assert_uint_eq(res.n_unsupported, 1);
    ck_assert(res.malformed);
    ck_assert_str_eq(res.reason, "record of another version: truncated");
}
END_TEST

/* ---- forward compatibility ----------------------------------------------------------- */

START_TEST(test_span_forward_compat_extra_fields)
{
    uint8_t b[1024];
    size_t n, first;
    struct collected c = {0};
    struct span_batch_result res;

    /* 16 fields: three unknown ones (a string, a nested map, an array) */
    n = unhex(record_hex("dc 00 10", -1, NULL), b);
    n += unhex("a5 68 65 6c 6c 6f 81 01 92 c0 80 93 01 02 cb 00 00 00 00 00 00 00 00", b + n);
    first = n;
    ck_assert_int_eq(span_decode(b, n, &out, &reason), (int) n);
    ck_assert_uint_eq(out.span_id, 0x352bff9a74ca9ad2ULL);
    ck_assert_uint_eq(out.n_tags, 1);

    /* an endpoint with two unknown fields; framing holds for the next record */
    n += unhex(record_hex("9d", 10, "95 a1 78 c0 00 92 01 02 a0"), b + n);
    ck_assert_int_eq(span_decode(b + first, n - first, &out, &reason), (int) (n - first));
    ck_assert_uint_eq(out.local.service_len, 1);
    ck_assert_int_eq(span_batch_decode(b, n, collect, &c, &res), 2);
    ck_assert_uint_eq(res.n_bad, 0);
}
END_TEST

START_TEST(test_span_decode_any_int_and_str_form)
{
    uint8_t b[512];
    size_t n;

    /* ids as uint32/int64, version as uint16, name as str8 and str32, port as int16 */
    n = unhex("9d cd 00 01 d3 00 00 00 00 00 00 00 09 ce 00 00 00 01 cc 05 d0 00 01 00"
              " cd 00 07 d1 00 10 d9 03 67 65 74"
              " 93 db 00 00 00 01 73 c0 d1 10 2c 90 c0"
              " 80",
              b);
    ck_assert_int_eq(span_decode(b, n, &out, &reason), -EBADMSG);
    ck_assert_str_eq(reason, "remote endpoint: too few fields");

    n = unhex("9d cd 00 01 d3 00 00 00 00 00 00 00 09 ce 00 00 00 01 cc 05 d0 00 01 00"
              " cd 00 07 d1 00 10 d9 03 67 65 74"
              " 93 db 00 00 00 01 73 c5 00 04 0a 01 02 03 d1 10 2c c0"
              " de 00 01 01 db 00 00 00 01 78",
              b);
    ck_assert_int_eq(span_decode(b, n, &out, &reason), (int) n);
    ck_assert_uint_eq(out.trace_hi, 9);
    ck_assert_uint_eq(out.trace_lo, 1);
    ck_assert_uint_eq(out.span_id, 5);
    ck_assert_uint_eq(out.parent_id, 0);
    ck_assert_int_eq(out.kind, SPAN_KIND_SERVER);
    ck_assert_uint_eq(out.flags, 0);
    ck_assert_uint_eq(out.timestamp_us, 7);
    ck_assert_uint_eq(out.duration_us, 16);
    ck_assert(bytes_eq(out.name, out.name_len, "get", 3));
    ck_assert(bytes_eq(out.local.service, out.local.service_len, "s", 1));
    ck_assert(out.local.has_ip && !out.local.ipv6);
    ck_assert_uint_eq(out.local.port, 4140);
    ck_assert(!out.remote.has_ip);
    ck_assert_uint_eq(out.n_tags, 1);
    ck_assert(bytes_eq(out.tags[0].value, out.tags[0].value_len, "x", 1));

    /* a present remote endpoint with no address and no service reads as absent */
    n = unhex(record_hex("9d", 11, "93 a0 c0 cd 1f 90"), b);
    ck_assert_int_eq(span_decode(b, n, &out, &reason), (int) n);
    ck_assert_uint_eq(out.remote.port, 0);
}
END_TEST

static Suite *
span_suite(void)
{
    Suite *s = suite_create("span");
    TCase *tc;

    tc = tcase_create("roundtrip");
    tcase_add_test(tc, test_span_roundtrip_every_field);
    tcase_add_test(tc, test_span_roundtrip_64_and_128_bit_ids);
    tcase_add_test(tc, test_span_roundtrip_ipv4_ipv6);
    tcase_add_test(tc, test_span_roundtrip_no_remote);
    tcase_add_test(tc, test_span_roundtrip_custom_tags);
    tcase_add_test(tc, test_span_roundtrip_empty_strings);
    tcase_add_test(tc, test_span_roundtrip_max_tags);
    tcase_add_test(tc, test_span_roundtrip_int_widths);
    tcase_add_test(tc, test_span_tag_names);
    suite_add_tcase(s, tc);

    tc = tcase_create("encode");
    tcase_add_test(tc, test_span_encode_nospace_writes_nothing);
    tcase_add_test(tc, test_span_encode_rejects_invalid);
    suite_add_tcase(s, tc);

    tc = tcase_create("size");
    tcase_add_test(tc, test_span_size_typical_under_200_bytes);
    suite_add_tcase(s, tc);

    tc = tcase_create("rejection");
    tcase_add_test(tc, test_span_reject_every_truncation);
    tcase_add_test(tc, test_span_reject_wrong_types);
    tcase_add_test(tc, test_span_reject_bad_version);
    tcase_add_test(tc, test_span_reject_oversize_strings);
    tcase_add_test(tc, test_span_reject_too_many_tags);
    suite_add_tcase(s, tc);

    tc = tcase_create("batch");
    tcase_add_test(tc, test_span_batch_concatenated);
    tcase_add_test(tc, test_span_batch_garbage_tail_counted);
    tcase_add_test(tc, test_span_batch_skips_other_versions);
    suite_add_tcase(s, tc);

    tc = tcase_create("compat");
    tcase_add_test(tc, test_span_forward_compat_extra_fields);
    tcase_add_test(tc, test_span_decode_any_int_and_str_form);
    suite_add_tcase(s, tc);

    return s;
}

CHECK_MAIN(span_suite)
