/* tests/unit/test_namemsg.c - the naming messages of the master <-> worker channel
 * (proto/namemsg.h): keys and states round-trip, a large set is cut into messages that
 * each fit and together give the set back in order, and every malformed message (each
 * truncation, trailing bytes, out-of-range fields) is refused. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/ipc.h"
#include "proto/namemsg.h"
#include "tests/lib/check_main.h"

static char buf[NAMEMSG_MAX];

START_TEST(test_namemsg_key_round_trip)
{
    const char *key = "/#/io.l5d.fs/web/extra";
    const char *got;
    size_t len;
    struct ipc_msg h;
    int n = namemsg_key_encode(IPC_NAME_WATCH, key, strlen(key), buf, sizeof(buf));

    ck_assert_int_gt(n, (int) sizeof(h));
    memcpy(&h, buf, sizeof(h));
    ck_assert_uint_eq(h.type, IPC_NAME_WATCH);
    ck_assert_int_eq(namemsg_key_decode(buf, (size_t) n, &got, &len), 0);
    ck_assert_uint_eq(len, strlen(key));
    ck_assert(memcmp(got, key, len) == 0);
    /* every truncation, and a trailing byte, is refused */
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(namemsg_key_decode(buf, (size_t) i, &got, &len), -EINVAL);
    buf[n] = 0;
    ck_assert_int_eq(namemsg_key_decode(buf, (size_t) n + 1, &got, &len), -EINVAL);
}
END_TEST

START_TEST(test_namemsg_key_limits)
{
    static char key[NAMEMSG_KEY_MAX + 2];
    const char *got;
    size_t len;

    memset(key, 'a', sizeof(key));
    key[0] = '/';
    ck_assert_int_gt(namemsg_key_encode(IPC_NAME_WATCH, key, NAMEMSG_KEY_MAX, buf, sizeof(buf)), 0);
    ck_assert_int_eq(namemsg_key_encode(IPC_NAME_WATCH, key, NAMEMSG_KEY_MAX + 1, buf, sizeof(buf)),
                     -ENOSPC);
    ck_assert_int_eq(namemsg_key_encode(IPC_NAME_WATCH, key, 10, buf, 12), -ENOSPC);
    /* an empty key, or a number where the key should be */
    ck_assert_int_gt(namemsg_key_encode(IPC_NAME_WATCH, key, 0, buf, sizeof(buf)), 0);
    ck_assert_int_eq(namemsg_key_decode(buf, sizeof(struct ipc_msg) + 1, &got, &len), -EINVAL);
    buf[sizeof(struct ipc_msg)] = 0x07; /* positive fixint */
    ck_assert_int_eq(namemsg_key_decode(buf, sizeof(struct ipc_msg) + 1, &got, &len), -EINVAL);
}
END_TEST

/* Collects decoded endpoints. */
struct got {
    struct namemsg_ep *v;
    size_t n, cap;
    char nodes[2 << 20];
    size_t used;
};

static void
collect(void *ctx, const struct namemsg_ep *ep)
{
    struct got *g = ctx;

    if (g->n == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 64;
        g->v = realloc(g->v, g->cap * sizeof(*g->v));
        ck_assert_ptr_nonnull(g->v);
    }
    g->v[g->n] = *ep;
    if (ep->node != NULL) { /* it points into the message, which is reused */
        ck_assert_uint_lt(g->used + ep->node_len, sizeof(g->nodes));
        memcpy(g->nodes + g->used, ep->node, ep->node_len);
        g->v[g->n].node = g->nodes + g->used;
        g->used += ep->node_len;
    }
    g->n++;
}

static struct namemsg_ep
ep4(uint8_t a, uint8_t b, uint16_t port, double w, const char *node)
{
    struct namemsg_ep e = {.ip = {10, a, b, 1}, .port = port, .weight = w, .node = node};

    e.node_len = node ? strlen(node) : 0;
    return e;
}

static void
assert_same_ep(const struct namemsg_ep *a, const struct namemsg_ep *b)
{
    ck_assert(a->ipv6 == b->ipv6);
    ck_assert(memcmp(a->ip, b->ip, a->ipv6 ? 16 : 4) == 0);
    ck_assert_uint_eq(a->port, b->port);
    ck_assert(a->weight == b->weight);
    ck_assert((a->node == NULL) == (b->node == NULL));
    if (a->node != NULL) {
        ck_assert_uint_eq(a->node_len, b->node_len);
        ck_assert(memcmp(a->node, b->node, a->node_len) == 0);
    }
}

START_TEST(test_namemsg_state_round_trip)
{
    static struct got g;
    struct namemsg_ep eps[3] = {ep4(1, 2, 8080, 1.0, "node-a"), ep4(3, 4, 80, 0.25, NULL),
                                {.ipv6 = true, .port = 443, .weight = 2.5}};
    struct namemsg_state st = {.key = "/#/io.l5d.fs/web/x",
                               .key_len = 18,
                               .kind = NAMEMSG_BOUND,
                               .id_len = 16,
                               .residual = "/x",
                               .residual_len = 2,
                               .reason = "",
                               .version = 42,
                               .total = 3},
                         back;
    int n;

    eps[2].ip[15] = 1; /* ::1 */
    n = namemsg_state_encode(&st, eps, buf, sizeof(buf));
    ck_assert_int_gt(n, 0);
    ck_assert_uint_eq(st.n, 3);
    memset(&g, 0, sizeof(g));
    ck_assert_int_eq(namemsg_state_decode(buf, (size_t) n, &back, collect, &g), 0);
    ck_assert_uint_eq(back.key_len, 18);
    ck_assert(memcmp(back.key, st.key, 18) == 0);
    ck_assert_uint_eq(back.kind, NAMEMSG_BOUND);
    ck_assert_uint_eq(back.id_len, 16);
    ck_assert_uint_eq(back.residual_len, 2);
    ck_assert_uint_eq(back.version, 42);
    ck_assert_uint_eq(back.total, 3);
    ck_assert_uint_eq(back.first, 0);
    ck_assert_uint_eq(g.n, 3);
    for (size_t i = 0; i < 3; i++)
        assert_same_ep(&g.v[i], &eps[i]);
    /* every truncation and a trailing byte are refused */
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(namemsg_state_decode(buf, (size_t) i, &back, NULL, NULL), -EINVAL);
    buf[n] = (char) 0xc0;
    ck_assert_int_eq(namemsg_state_decode(buf, (size_t) n + 1, &back, NULL, NULL), -EINVAL);
    free(g.v);
}
END_TEST

START_TEST(test_namemsg_state_without_endpoints)
{
    struct namemsg_state st = {.key = "/$/inet/nowhere.invalid/80",
                               .key_len = 26,
                               .kind = NAMEMSG_FAIL,
                               .residual = "",
                               .reason = "cannot resolve nowhere.invalid",
                               .reason_len = 30},
                         back;
    int n = namemsg_state_encode(&st, NULL, buf, sizeof(buf));

    ck_assert_int_gt(n, 0);
    ck_assert_int_eq(namemsg_state_decode(buf, (size_t) n, &back, NULL, NULL), 0);
    ck_assert_uint_eq(back.kind, NAMEMSG_FAIL);
    ck_assert_uint_eq(back.reason_len, 30);
    ck_assert(memcmp(back.reason, st.reason, 30) == 0);
    ck_assert_uint_eq(back.n, 0);
    /* a reason longer than NAMEMSG_TEXT_MAX is cut, not refused */
    {
        static char longer[NAMEMSG_TEXT_MAX * 2];

        memset(longer, 'r', sizeof(longer));
        st.reason = longer;
        st.reason_len = sizeof(longer);
        n = namemsg_state_encode(&st, NULL, buf, sizeof(buf));
        ck_assert_int_gt(n, 0);
        ck_assert_int_eq(namemsg_state_decode(buf, (size_t) n, &back, NULL, NULL), 0);
        ck_assert_uint_eq(back.reason_len, NAMEMSG_TEXT_MAX);
    }
}
END_TEST

/* 20,000 endpoints with 60-byte node names (~1.6 MB): cut into messages that each fit,
 * which together give the set back in order. */
START_TEST(test_namemsg_large_set_in_parts)
{
    static struct got g;
    enum { N = 20000 };
    struct namemsg_ep *eps = calloc(N, sizeof(*eps));
    char(*nodes)[64] = calloc(N, sizeof(*nodes));
    struct namemsg_state st = {.key = "/#/io.l5d.k8s/default/http/big",
                               .key_len = 30,
                               .kind = NAMEMSG_BOUND,
                               .id_len = 30,
                               .residual = "",
                               .reason = "",
                               .version = 7,
                               .total = N},
                         back;
    unsigned msgs = 0;

    ck_assert_ptr_nonnull(eps);
    ck_assert_ptr_nonnull(nodes);
    for (int i = 0; i < N; i++) {
        snprintf(nodes[i], sizeof(nodes[i]), "node-%054d", i);
        eps[i] = ep4((uint8_t) (i >> 8), (uint8_t) i, (uint16_t) (1 + i), 1.0 + i, nodes[i]);
    }
    memset(&g, 0, sizeof(g));
    while (st.first < st.total) {
        int n = namemsg_state_encode(&st, eps, buf, sizeof(buf));

        ck_assert_int_gt(n, 0);
        ck_assert_int_le(n, NAMEMSG_MAX);
        ck_assert_uint_gt(st.n, 0);
        ck_assert_int_eq(namemsg_state_decode(buf, (size_t) n, &back, collect, &g), 0);
        ck_assert_uint_eq(back.first, st.first);
        ck_assert_uint_eq(back.n, st.n);
        st.first += st.n;
        msgs++;
    }
    ck_assert_uint_eq(g.n, N);
    for (int i = 0; i < N; i++)
        assert_same_ep(&g.v[i], &eps[i]);
    ck_assert_uint_gt(msgs, 20); /* really in parts */
    free(g.v);
    free(eps);
    free(nodes);
}
END_TEST

/* A valid message whose field <idx> of the 9 is replaced by the msgpack bytes <bad>. */
static size_t
with_field(int idx, const char *bad, size_t bad_len)
{
    /* hand-built: [key, kind, id_len, residual, reason, version, total, first, eps] */
    const char *fields[9] = {"\xa2/a", "\x03", "\x02", "\xa0", "\xa0", "\x01", "\x01", "\x00",
                             "\x91\x94\xc4\x04\x0a\x00\x00\x01\x50\xcb\x3f\xf0\0\0\0\0\0\0\xc0"};
    const size_t lens[9] = {3, 1, 1, 1, 1, 1, 1, 1, 19};
    struct ipc_msg h = {.type = IPC_NAME_STATE};
    size_t n = 0;

    memcpy(buf, &h, sizeof(h));
    n = sizeof(h);
    buf[n++] = (char) 0x99;
    for (int i = 0; i < 9; i++) {
        const char *f = i == idx ? bad : fields[i];
        size_t l = i == idx ? bad_len : lens[i];

        memcpy(buf + n, f, l);
        n += l;
    }
    return n;
}

START_TEST(test_namemsg_state_rejects)
{
    /* each: field index, its bad msgpack bytes, their length, what is wrong */
    static const struct {
        int field;
        const char *bytes;
        size_t len;
        const char *what;
    } bad[] = {
        {1, "\x04", 1, "kind beyond BOUND"},
        {2, "\x03", 1, "id_len longer than the key"},
        {2, "\x00", 1, "a bound id of length 0"},
        {0, "\xa0", 1, "an empty key"},
        {7, "\x02", 1, "first beyond total"},
        {6, "\x00", 1, "more endpoints than total - first"},
        {8, "\x91\x94\xc4\x05\x0a\x00\x00\x01\x02\x50\xcb\x3f\xf0\0\0\0\0\0\0\xc0", 20,
         "a 5-byte address"},
        {8, "\x91\x94\xc4\x04\x0a\x00\x00\x01\x50\xcb\xbf\xf0\0\0\0\0\0\0\xc0", 19,
         "a negative weight"},
        {8, "\x91\x94\xc4\x04\x0a\x00\x00\x01\x50\xcb\x7f\xf8\0\0\0\0\0\0\xc0", 19,
         "a NaN weight"},
        {8, "\x91\x94\xc4\x04\x0a\x00\x00\x01\x50\xcb\x3f\xf0\0\0\0\0\0\0\x01", 19,
         "a number for a node name"},
        {8, "\x91\x94\xc4\x04\x0a\x00\x00\x01\xce\x00\x01\x00\x00\xcb\x3f\xf0\0\0\0\0\0\0\xc0",
         23, "a port beyond 65535"},
    };
    struct namemsg_state back;
    size_t n;
    /* containers that declare more elements than there are bytes: refused before
     * msgpack-c would allocate for them (map32 of 2^32-1 pairs: 256 GiB; fuzz_namemsg) */
    static const char huge[][8] = {"\xdf\xff\xff\xff\xff", "\xdd\xff\xff\xff\xff",
                                   "\x99\xdc\xff\xff"};
    const char *key;
    size_t key_len;

    for (size_t i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
        struct ipc_msg h = {.type = IPC_NAME_STATE};

        memcpy(buf, &h, sizeof(h));
        memcpy(buf + sizeof(h), huge[i], 5);
        ck_assert_int_eq(namemsg_state_decode(buf, sizeof(h) + 5, &back, NULL, NULL), -EINVAL);
        ck_assert_int_eq(namemsg_key_decode(buf, sizeof(h) + 5, &key, &key_len), -EINVAL);
    }
    n = with_field(-1, NULL, 0);

    ck_assert_int_eq(namemsg_state_decode(buf, n, &back, NULL, NULL), 0); /* as built: fine */
    ck_assert_uint_eq(back.n, 1);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        n = with_field(bad[i].field, bad[i].bytes, bad[i].len);
        ck_assert_msg(namemsg_state_decode(buf, n, &back, NULL, NULL) == -EINVAL, "accepted %s",
                      bad[i].what);
    }
}
END_TEST

static Suite *
namemsg_suite(void)
{
    Suite *s = suite_create("namemsg");
    TCase *tc = tcase_create("namemsg");

    tcase_add_test(tc, test_namemsg_key_round_trip);
    tcase_add_test(tc, test_namemsg_key_limits);
    tcase_add_test(tc, test_namemsg_state_round_trip);
    tcase_add_test(tc, test_namemsg_state_without_endpoints);
    tcase_add_test(tc, test_namemsg_large_set_in_parts);
    tcase_add_test(tc, test_namemsg_state_rejects);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(namemsg_suite)
