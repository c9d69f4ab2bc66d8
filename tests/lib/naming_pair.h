/* tests/lib/naming_pair.h - the master's name service and one worker's shared naming
 * (proxy/namesvc.h, naming_new_shared) joined by a real SOCK_SEQPACKET socketpair, both
 * ends watched on one loop: what meshd's master and a worker do, in one test process. */
#ifndef MESH_TESTS_NAMING_PAIR_H
#define MESH_TESTS_NAMING_PAIR_H

#include <stddef.h>

#include <ev.h>

struct cfg;

struct naming_pair_end {
    ev_io io;
    int fd;
    struct naming_pair *pair;
    unsigned msgs; /* messages received at this end */
};

struct naming_pair {
    struct ev_loop *loop;
    struct namesvc *svc;
    struct namesvc_peer *peer;
    struct naming *worker; /* bind through this one */
    struct naming_pair_end master_end, worker_end;
};

/* 0, or -1 with <err> filled (the master's naming or the worker's could not start). */
int naming_pair_start(struct naming_pair *p, struct ev_loop *loop, const struct cfg *cfg, char *err,
                      size_t errlen);
void naming_pair_stop(struct naming_pair *p);

#endif
