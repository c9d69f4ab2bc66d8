/* agent/receiver.h - the nanomsg PULL socket where meshd workers PUSH span batches,
 * driven by the agent's libev loop through the socket's NN_RCVFD.
 *
 * For an ipc:// address the socket file is created 0600 (the process umask is 077 too),
 * and a file left behind by a dead agent is replaced: if connecting to it is refused it is
 * unlinked before binding; if something accepts the connection, another agent is alive
 * and receiver_new() fails instead of stealing its address. Owned by main for the
 * process's life; nanomsg sockets are never created before a fork. */
#ifndef MESH_AGENT_RECEIVER_H
#define MESH_AGENT_RECEIVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <ev.h>

struct receiver;

/* One message (a batch of span records), valid during the call only. */
typedef void receiver_msg_fn(const uint8_t *buf, size_t len, void *arg);

/* Binds <url> (ipc:// or tcp://) and starts reading on <loop>. NULL with <err> filled when
 * it cannot (the caller logs it once). */
struct receiver *receiver_new(struct ev_loop *loop, const char *url, receiver_msg_fn *fn, void *arg,
                              char *err, size_t errlen);
/* Reads what nanomsg has already queued (at most <max> messages), calling the callback
 * for each: the shutdown path, so that what meshd's nn_send() accepted is not lost.
 * Returns the number of messages read. */
unsigned receiver_drain(struct receiver *r, unsigned max);
/* Stops reading, closes the socket and removes an ipc file. NULL is a no-op. */
struct receiver *receiver_free(struct receiver *r);

/* Creates directory <path> and missing parents with <mode> (whatever the umask; existing
 * directories are left as they are). Returns 1 when it created <path>, 0 when it existed,
 * or -errno. */
int receiver_make_dir(const char *path, mode_t mode);

uint64_t receiver_n_msgs(const struct receiver *r);
uint64_t receiver_n_bytes(const struct receiver *r);

#endif
