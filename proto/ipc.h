/* proto/ipc.h - fixed-size records on the master <-> worker channel (a SOCK_SEQPACKET
 * socketpair per worker). One record per datagram; unknown types are ignored. */
#ifndef MESH_PROTO_IPC_H
#define MESH_PROTO_IPC_H

#include <stdint.h>

enum ipc_type {
    IPC_READY = 1, /* worker -> master: listeners polled, loop running */
    IPC_QUIT = 2,  /* master -> worker: stop accepting, drain, exit 0 */
    IPC_REOPEN = 3, /* master -> worker: reopen logs (SIGUSR1) */
    IPC_LOG_LEVEL = 4, /* master -> worker: log at level <arg> (enum log_level) from now on */
};

struct ipc_msg {
    uint32_t type; /* enum ipc_type */
    uint32_t arg;  /* IPC_QUIT: drain deadline in ms */
};

#endif
