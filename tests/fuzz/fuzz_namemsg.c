/* tests/fuzz/fuzz_namemsg.c - libFuzzer target for the naming messages of the master <->
 * worker channel (proto/namemsg.h). The input is a message body (the record header is
 * prepended here). A state that decodes must encode back (first message of its set) and
 * decode to the same fields and endpoints; a key that decodes must encode and decode to
 * the same key. Every other input is refused. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/ipc.h"
#include "proto/namemsg.h"

#include "tests/fuzz/fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_EPS 4096

struct eps {
    struct namemsg_ep v[MAX_EPS];
    size_t n;
};

static void
collect(void *ctx, const struct namemsg_ep *ep)
{
    struct eps *e = ctx;

    CHECK(e->n < MAX_EPS);
    e->v[e->n++] = *ep;
}

static int
same_ep(const struct namemsg_ep *a, const struct namemsg_ep *b)
{
    return a->ipv6 == b->ipv6 && memcmp(a->ip, b->ip, 16) == 0 && a->port == b->port &&
           a->weight == b->weight && (a->node == NULL) == (b->node == NULL) &&
           (a->node == NULL ||
            (a->node_len == b->node_len && memcmp(a->node, b->node, a->node_len) == 0));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char msg[NAMEMSG_MAX], again[NAMEMSG_MAX];
    static struct eps first, second;
    struct ipc_msg h = {.type = IPC_NAME_STATE};
    struct namemsg_state st, st2;
    const char *key;
    size_t key_len;
    int n;

    if (size > NAMEMSG_MAX - sizeof(h))
        return 0;
    memcpy(msg, &h, sizeof(h));
    memcpy(msg + sizeof(h), data, size);
    size += sizeof(h);

    if (namemsg_key_decode(msg, size, &key, &key_len) == 0) {
        const char *key2;
        size_t key2_len;

        n = namemsg_key_encode(IPC_NAME_WATCH, key, key_len, again, sizeof(again));
        CHECK(n > 0);
        CHECK(namemsg_key_decode(again, (size_t) n, &key2, &key2_len) == 0);
        CHECK(key2_len == key_len && memcmp(key2, key, key_len) == 0);
    }

    first.n = 0;
    if (namemsg_state_decode(msg, size, &st, collect, &first) != 0)
        return 0;
    CHECK(first.n == st.n && st.first + st.n <= st.total);
    /* re-encode this message's endpoints as a set of their own, from the start */
    st.total = st.n;
    st.first = 0;
    n = namemsg_state_encode(&st, first.v, again, sizeof(again));
    CHECK(n > 0);
    second.n = 0;
    CHECK(namemsg_state_decode(again, (size_t) n, &st2, collect, &second) == 0);
    CHECK(st2.key_len == st.key_len && memcmp(st2.key, st.key, st.key_len) == 0);
    CHECK(st2.kind == st.kind && st2.id_len == st.id_len && st2.version == st.version);
    CHECK(st2.residual_len == st.residual_len &&
          memcmp(st2.residual, st.residual, st.residual_len) == 0);
    CHECK(st2.reason_len == st.reason_len && memcmp(st2.reason, st.reason, st.reason_len) == 0);
    /* as many as fit, in order; all of them when the input was small (a sender may use
     * smaller msgpack forms than ours, at most about 4 times smaller) */
    CHECK(second.n == st2.n && st2.n <= st.n);
    if (size <= NAMEMSG_MAX / 4)
        CHECK(st2.n == st.n);
    for (size_t i = 0; i < second.n; i++)
        CHECK(same_ep(&first.v[i], &second.v[i]));
    return 0;
}
