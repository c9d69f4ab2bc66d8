/* proto/ipc.h - records on the master <-> worker channel (a SOCK_SEQPACKET socketpair
 * per worker). One record per datagram, a struct ipc_msg, followed for the IPC_NAME_*
 * types by a body (at most NAMEMSG_MAX bytes in all); unknown types are ignored. */
#ifndef MESH_PROTO_IPC_H
#define MESH_PROTO_IPC_H

#include <stdint.h>

enum ipc_type {
    IPC_READY = 1, /* worker -> master: listeners polled, loop running */
    IPC_QUIT = 2,  /* master -> worker: stop accepting, drain, exit 0 */
    IPC_REOPEN = 3, /* master -> worker: reopen logs (SIGUSR1) */
    IPC_LOG_LEVEL = 4, /* master -> worker: log at level <arg> (enum log_level) from now on */
    /* naming, shared by the workers (proto/namemsg.h: a msgpack body follows the record) */
    IPC_NAME_WATCH = 5,   /* worker -> master: send me this name's state, now and on change */
    IPC_NAME_UNWATCH = 6, /* worker -> master: no longer */
    IPC_NAME_STATE = 7,   /* master -> worker: a name's state (or part of its endpoints) */
};

struct ipc_msg {
    uint32_t type; /* enum ipc_type */
    uint32_t arg;  /* IPC_QUIT: drain deadline in ms */
};

#endif
