/* proxy/namesvc.h - the master's name service: every name resolved and watched once, the
 * result shared with all workers.
 *
 * The master keeps one naming instance (proxy/naming.h, io.l5d.fs with inotify, io.l5d.k8s
 * watches, DNS) per config generation that still has workers, and the delegator uses the
 * current one. A worker's naming runs in shared mode: it asks for the names its requests
 * need (IPC_NAME_WATCH on its channel) and the master sends each name's state now and
 * whenever it changes (IPC_NAME_STATE, proto/namemsg.h), so W workers cost one watch per
 * name, not W. Sending never blocks the master: a worker whose channel is full gets the
 * latest state of each changed name once it drains (older states are not queued). */
#ifndef MESH_PROXY_NAMESVC_H
#define MESH_PROXY_NAMESVC_H

#include <stddef.h>

#include <ev.h>

struct cfg;
struct naming;
struct namesvc;
struct namesvc_peer;

struct namesvc *namesvc_new(struct ev_loop *loop);
/* NULL is a no-op; returns NULL. Peers must be gone. */
struct namesvc *namesvc_free(struct namesvc *s);

/* The naming of generation <gen>, made from <cfg> the first time (NULL with <err> filled
 * when a namer or transformer cannot start: the config is unusable). Making a newer one
 * retires older generations without workers. */
struct naming *namesvc_naming(struct namesvc *s, unsigned gen, const struct cfg *cfg, char *err,
                              size_t errlen);

/* A reload that failed after namesvc_naming(<gen>): frees that naming if no worker
 * uses it. */
void namesvc_drop(struct namesvc *s, unsigned gen);

/* A worker of generation <gen> (namesvc_naming() made it) on channel <fd> (not owned). */
struct namesvc_peer *namesvc_peer_new(struct namesvc *s, unsigned gen, int fd);
/* The worker is gone; its generation's naming goes too when it was the last one of an
 * older generation. NULL is a no-op; returns NULL. */
struct namesvc_peer *namesvc_peer_free(struct namesvc_peer *p);
/* An IPC_NAME_WATCH or IPC_NAME_UNWATCH message (header included) from the worker. */
void namesvc_peer_input(struct namesvc_peer *p, const void *msg, size_t len);

/* In a worker just forked from the master: closes the child's copies of the namings'
 * connections and inotify fds; nothing else may be used. */
void namesvc_close_fds_in_child(struct namesvc *s);

#endif
