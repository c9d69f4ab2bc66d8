/* proto/namemsg.h - the naming messages on the master <-> worker channel (proto/ipc.h).
 *
 * The master resolves and watches every name once, for all workers (proxy/namesvc.c); a
 * worker asks for the names its requests need and is sent their state whenever it
 * changes (proxy/naming.c, "shared mode"). One message is one SOCK_SEQPACKET datagram:
 * a struct ipc_msg header (type IPC_NAME_*, arg 0) followed by one msgpack value:
 *
 *   IPC_NAME_WATCH, IPC_NAME_UNWATCH (worker -> master): the key, a str
 *   IPC_NAME_STATE (master -> worker): an array of 9
 *     [key str, kind uint, id_len uint, residual str, reason str, version uint,
 *      total uint, first uint, endpoints array]
 *   each endpoint an array of 4: [ip bin(4 or 16), port uint, weight float, node str|nil]
 *
 * A set larger than one message travels as consecutive messages of the same key and
 * version, <first> counting the endpoints sent before; the receiver installs it when
 * first + n == total. Pure code: no I/O. Encoded with msgpack-c's packer (not on any hot
 * path), decoded strictly: any other shape is -EINVAL. */
#ifndef MESH_PROTO_NAMEMSG_H
#define MESH_PROTO_NAMEMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NAMEMSG_MAX      65536 /* bytes of one message, header included */
#define NAMEMSG_KEY_MAX  1024  /* bytes of a key */
#define NAMEMSG_TEXT_MAX 512   /* bytes of a residual or a reason (longer ones are cut) */
#define NAMEMSG_NODE_MAX 253   /* bytes of a node name (a Kubernetes name); longer: nil */

/* What a key's namer answered (the binder's outcome, proxy/dtab.h). */
enum namemsg_kind {
    NAMEMSG_PENDING = 0, /* not answered yet */
    NAMEMSG_NEG,         /* no such name */
    NAMEMSG_FAIL,        /* <reason> */
    NAMEMSG_BOUND,       /* the first <id_len> bytes of the key are the bound id */
};

struct namemsg_ep {
    uint8_t ip[16]; /* network order: ip[0..3] for IPv4 */
    bool ipv6;
    uint16_t port;
    double weight;
    const char *node; /* NULL: unknown; else <node_len> bytes, not NUL-terminated */
    size_t node_len;
};

struct namemsg_state {
    const char *key; /* not NUL-terminated; decoded: points into the message */
    size_t key_len;
    uint32_t kind; /* enum namemsg_kind */
    uint32_t id_len;
    const char *residual;
    size_t residual_len;
    const char *reason;
    size_t reason_len;
    uint64_t version; /* of the endpoint set; changes whenever the addresses change */
    uint32_t total;   /* endpoints in the whole set */
    uint32_t first;   /* endpoints sent in earlier messages of this set */
    uint32_t n;       /* endpoints in this message */
};

/* IPC_NAME_WATCH or IPC_NAME_UNWATCH of <key> into <buf>: the bytes used, or -ENOSPC
 * (also for a key longer than NAMEMSG_KEY_MAX). */
int namemsg_key_encode(uint32_t type, const char *key, size_t key_len, char *buf, size_t cap);
/* The key of a WATCH/UNWATCH message (header included); -EINVAL when malformed. */
int namemsg_key_decode(const char *msg, size_t len, const char **key, size_t *key_len);

/* IPC_NAME_STATE of <st> with the endpoints eps[st->first ...] of the set's <st->total>
 * into <buf> (at least NAMEMSG_MAX bytes): as many as fit; st->n is set to that count.
 * Returns the bytes used, or -ENOSPC when not even the header fits (a key too long). */
int namemsg_state_encode(struct namemsg_state *st, const struct namemsg_ep *eps, char *buf,
                         size_t cap);

/* Decodes an IPC_NAME_STATE message (header included) into <st>, calling <fn> for each
 * endpoint in order (its node points into <msg>). 0, or -EINVAL when the message is not
 * exactly the shape above (the endpoints before the bad one may have been passed). */
typedef void namemsg_ep_fn(void *ctx, const struct namemsg_ep *ep);
int namemsg_state_decode(const char *msg, size_t len, struct namemsg_state *st, namemsg_ep_fn *fn,
                         void *ctx);

#endif
