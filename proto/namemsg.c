/* proto/namemsg.c - the naming messages of the master <-> worker channel (namemsg.h). */
#include "proto/namemsg.h"

#include <errno.h>
#include <string.h>

#include <msgpack.h>

#include "proto/ipc.h"
#include "proto/mpskip.h"

/* A msgpack-c write callback into a fixed buffer: refuses what does not fit. */
struct fixbuf {
    char *p;
    size_t len, cap;
};

static int
fixbuf_write(void *data, const char *buf, size_t len)
{
    struct fixbuf *fb = data;

    if (len > fb->cap - fb->len)
        return -1;
    memcpy(fb->p + fb->len, buf, len);
    fb->len += len;
    return 0;
}

/* Residuals and reasons are cut to NAMEMSG_TEXT_MAX bytes. */
static size_t
cut(size_t len)
{
    return len > NAMEMSG_TEXT_MAX ? NAMEMSG_TEXT_MAX : len;
}

static int
pack_str(msgpack_packer *pk, const char *s, size_t len)
{
    return msgpack_pack_str(pk, len) || msgpack_pack_str_body(pk, s, len) ? -1 : 0;
}

static int
header(uint32_t type, struct fixbuf *fb)
{
    struct ipc_msg h = {.type = type, .arg = 0};

    return fixbuf_write(fb, (const char *) &h, sizeof(h));
}

int
namemsg_key_encode(uint32_t type, const char *key, size_t key_len, char *buf, size_t cap)
{
    struct fixbuf fb = {buf, 0, cap};
    msgpack_packer pk;

    if (key_len > NAMEMSG_KEY_MAX || header(type, &fb) != 0)
        return -ENOSPC;
    msgpack_packer_init(&pk, &fb, fixbuf_write);
    if (pack_str(&pk, key, key_len) != 0)
        return -ENOSPC;
    return (int) fb.len;
}

/* Unpacks the one msgpack value after the header of <msg>; false unless it is exactly
 * one value filling the rest. msgpack-c allocates for every element a container declares
 * before it sees them (20 bytes could ask for 256 GiB), so the bytes are walked first
 * (mp_skip): what it may then allocate is bounded by the message's size. */
static bool
unpack_one(const char *msg, size_t len, msgpack_unpacked *u)
{
    size_t off = sizeof(struct ipc_msg);
    const uint8_t *p = (const uint8_t *) msg + off, *end = (const uint8_t *) msg + len;

    if (len <= off || len > NAMEMSG_MAX || mp_skip(&p, end, 1) != 0 || p != end)
        return false;
    return msgpack_unpack_next(u, msg, len, &off) == MSGPACK_UNPACK_SUCCESS && off == len;
}

int
namemsg_key_decode(const char *msg, size_t len, const char **key, size_t *key_len)
{
    msgpack_unpacked u;
    int r = -EINVAL;

    msgpack_unpacked_init(&u);
    if (unpack_one(msg, len, &u) && u.data.type == MSGPACK_OBJECT_STR &&
        u.data.via.str.size > 0 && u.data.via.str.size <= NAMEMSG_KEY_MAX) {
        *key = u.data.via.str.ptr; /* in <msg>: msgpack-c's unpacker does not copy */
        *key_len = u.data.via.str.size;
        r = 0;
    }
    msgpack_unpacked_destroy(&u);
    return r;
}

/* The most bytes endpoint <ep> takes (msgpack-c picks the smallest integer forms). */
static size_t
ep_size_bound(const struct namemsg_ep *ep)
{
    size_t node = ep->node != NULL && ep->node_len <= NAMEMSG_NODE_MAX ? 2 + ep->node_len : 1;

    return 1 + 2 + (ep->ipv6 ? 16 : 4) + 3 + 9 + node;
}

static int
pack_ep(msgpack_packer *pk, const struct namemsg_ep *ep)
{
    size_t iplen = ep->ipv6 ? 16 : 4;

    if (msgpack_pack_array(pk, 4) || msgpack_pack_bin(pk, iplen) ||
        msgpack_pack_bin_body(pk, ep->ip, iplen) || msgpack_pack_uint16(pk, ep->port) ||
        msgpack_pack_double(pk, ep->weight))
        return -1;
    if (ep->node != NULL && ep->node_len <= NAMEMSG_NODE_MAX)
        return pack_str(pk, ep->node, ep->node_len);
    return msgpack_pack_nil(pk);
}

int
namemsg_state_encode(struct namemsg_state *st, const struct namemsg_ep *eps, char *buf,
                     size_t cap)
{
    struct fixbuf fb = {buf, 0, cap};
    msgpack_packer pk;
    size_t room, n = 0;
    uint32_t i;

    if (st->key_len > NAMEMSG_KEY_MAX || st->first > st->total || header(IPC_NAME_STATE, &fb))
        return -ENOSPC;
    msgpack_packer_init(&pk, &fb, fixbuf_write);
    if (msgpack_pack_array(&pk, 9) || pack_str(&pk, st->key, st->key_len) ||
        msgpack_pack_uint32(&pk, st->kind) || msgpack_pack_uint32(&pk, st->id_len) ||
        pack_str(&pk, st->residual, cut(st->residual_len)) ||
        pack_str(&pk, st->reason, cut(st->reason_len)) ||
        msgpack_pack_uint64(&pk, st->version) || msgpack_pack_uint32(&pk, st->total) ||
        msgpack_pack_uint32(&pk, st->first))
        return -ENOSPC;
    if (fb.cap - fb.len < 5)
        return -ENOSPC;
    room = fb.cap - fb.len - 5; /* the array header takes at most 5 */
    for (i = st->first; i < st->total; i++, n++) {
        size_t sz = ep_size_bound(&eps[i]);

        if (sz > room)
            break;
        room -= sz;
    }
    if (n == 0 && st->first < st->total)
        return -ENOSPC;
    st->n = (uint32_t) n;
    if (msgpack_pack_array(&pk, n))
        return -ENOSPC;
    for (i = 0; i < n; i++)
        if (pack_ep(&pk, &eps[st->first + i]) != 0)
            return -ENOSPC; /* cannot happen: the bound above holds */
    return (int) fb.len;
}

static bool
get_uint(const msgpack_object *o, uint64_t max, uint64_t *ret)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER || o->via.u64 > max)
        return false;
    *ret = o->via.u64;
    return true;
}

static bool
get_str(const msgpack_object *o, size_t max, const char **s, size_t *len)
{
    if (o->type != MSGPACK_OBJECT_STR || o->via.str.size > max)
        return false;
    *s = o->via.str.ptr;
    *len = o->via.str.size;
    return true;
}

static bool
get_ep(const msgpack_object *o, struct namemsg_ep *ep)
{
    const msgpack_object *f;
    uint64_t port;

    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 4)
        return false;
    f = o->via.array.ptr;
    memset(ep, 0, sizeof(*ep));
    if (f[0].type != MSGPACK_OBJECT_BIN || (f[0].via.bin.size != 4 && f[0].via.bin.size != 16))
        return false;
    ep->ipv6 = f[0].via.bin.size == 16;
    memcpy(ep->ip, f[0].via.bin.ptr, f[0].via.bin.size);
    if (!get_uint(&f[1], UINT16_MAX, &port))
        return false;
    ep->port = (uint16_t) port;
    if (f[2].type != MSGPACK_OBJECT_FLOAT64 && f[2].type != MSGPACK_OBJECT_FLOAT32)
        return false;
    ep->weight = f[2].via.f64;
    if (!(ep->weight >= 0.0 && ep->weight <= 1e300)) /* also refuses NaN */
        return false;
    if (f[3].type == MSGPACK_OBJECT_NIL)
        return true;
    return get_str(&f[3], NAMEMSG_NODE_MAX, &ep->node, &ep->node_len);
}

int
namemsg_state_decode(const char *msg, size_t len, struct namemsg_state *st, namemsg_ep_fn *fn,
                     void *ctx)
{
    msgpack_unpacked u;
    const msgpack_object *f;
    uint64_t kind, id_len, total, first;
    int r = -EINVAL;

    memset(st, 0, sizeof(*st));
    msgpack_unpacked_init(&u);
    if (!unpack_one(msg, len, &u) || u.data.type != MSGPACK_OBJECT_ARRAY ||
        u.data.via.array.size != 9)
        goto out;
    f = u.data.via.array.ptr;
    if (!get_str(&f[0], NAMEMSG_KEY_MAX, &st->key, &st->key_len) || st->key_len == 0 ||
        !get_uint(&f[1], NAMEMSG_BOUND, &kind) || !get_uint(&f[2], st->key_len, &id_len) ||
        !get_str(&f[3], NAMEMSG_TEXT_MAX, &st->residual, &st->residual_len) ||
        !get_str(&f[4], NAMEMSG_TEXT_MAX, &st->reason, &st->reason_len) ||
        !get_uint(&f[5], UINT64_MAX, &st->version) || !get_uint(&f[6], UINT32_MAX, &total) ||
        !get_uint(&f[7], total, &first) || f[8].type != MSGPACK_OBJECT_ARRAY ||
        f[8].via.array.size > total - first)
        goto out;
    st->kind = (uint32_t) kind;
    st->id_len = (uint32_t) id_len;
    st->total = (uint32_t) total;
    st->first = (uint32_t) first;
    st->n = f[8].via.array.size;
    if (st->kind == NAMEMSG_BOUND && st->id_len == 0)
        goto out;
    for (uint32_t i = 0; i < st->n; i++) {
        struct namemsg_ep ep;

        if (!get_ep(&f[8].via.array.ptr[i], &ep))
            goto out;
        if (fn != NULL)
            fn(ctx, &ep);
    }
    r = 0;
out:
    msgpack_unpacked_destroy(&u);
    return r;
}
