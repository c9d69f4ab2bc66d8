/* agent/resolver.h - getaddrinfo() off the event loop: one helper thread answers one
 * lookup at a time and hands the result back to the loop through an ev_async, so a slow
 * DNS server never stalls the agent. The collector's name is looked up again at every
 * reconnect (Linkerd 1.x kept a stale address after Zipkin was re-created). */
#ifndef MESH_AGENT_RESOLVER_H
#define MESH_AGENT_RESOLVER_H

#include <stdint.h>
#include <sys/socket.h>

#include <ev.h>

#define RESOLVER_MAX_ADDRS 8

struct resolver;

struct resolver_result {
    int error; /* 0, or a getaddrinfo EAI_* code */
    unsigned n_addrs;
    struct sockaddr_storage addrs[RESOLVER_MAX_ADDRS];
    socklen_t lens[RESOLVER_MAX_ADDRS];
};

/* Runs on the loop's thread. <res> is valid during the call only. */
typedef void resolver_done_fn(const struct resolver_result *res, void *arg);

struct resolver *resolver_new(struct ev_loop *loop);
/* A lookup still running is abandoned: its thread finishes it and frees what it shares
 * with the loop; no callback runs. NULL is a no-op. */
struct resolver *resolver_free(struct resolver *r);

/* Looks up <host>:<port> (TCP). Returns 0. <done> runs later, never from inside this
 * call; a lookup started before and not answered yet is superseded (its result is
 * discarded). */
int resolver_start(struct resolver *r, const char *host, uint16_t port, resolver_done_fn *done,
                   void *arg);
/* Forgets the running lookup's callback (its result is discarded). */
void resolver_cancel(struct resolver *r);

#endif
