/* tests/lib/naming_pair.c - see naming_pair.h. */
#include "tests/lib/naming_pair.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto/namemsg.h"
#include "proxy/namesvc.h"
#include "proxy/naming.h"

static void
on_message(struct ev_loop *loop, ev_io *w, int revents)
{
    struct naming_pair_end *e = (struct naming_pair_end *) w;
    struct naming_pair *p = e->pair;
    static char buf[NAMEMSG_MAX];
    ssize_t len = recv(e->fd, buf, sizeof(buf), MSG_DONTWAIT);

    (void) loop;
    (void) revents;
    if (len <= 0)
        return;
    e->msgs++;
    if (e == &p->master_end)
        namesvc_peer_input(p->peer, buf, (size_t) len);
    else
        naming_shared_input(p->worker, buf, (size_t) len);
}

static int
worker_send(void *ctx, const void *msg, size_t len)
{
    const struct naming_pair *p = ctx;

    return send(p->worker_end.fd, msg, len, MSG_DONTWAIT) == -1 ? -errno : 0;
}

int
naming_pair_start(struct naming_pair *p, struct ev_loop *loop, const struct cfg *cfg, char *err,
                  size_t errlen)
{
    int sv[2];

    memset(p, 0, sizeof(*p));
    p->loop = loop;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
        (void) snprintf(err, errlen, "socketpair: %s", strerror(errno));
        return -1;
    }
    p->svc = namesvc_new(loop);
    if (namesvc_naming(p->svc, 1, cfg, err, errlen) == NULL)
        goto fail;
    p->peer = namesvc_peer_new(p->svc, 1, sv[0]);
    p->master_end.fd = sv[0];
    p->worker_end.fd = sv[1];
    p->master_end.pair = p->worker_end.pair = p;
    p->worker = naming_new_shared(loop, cfg, worker_send, p, err, errlen);
    if (p->worker == NULL)
        goto fail;
    ev_io_init(&p->master_end.io, on_message, sv[0], EV_READ);
    ev_io_init(&p->worker_end.io, on_message, sv[1], EV_READ);
    ev_io_start(loop, &p->master_end.io);
    ev_io_start(loop, &p->worker_end.io);
    return 0;

fail:
    p->peer = namesvc_peer_free(p->peer);
    p->svc = namesvc_free(p->svc);
    (void) close(sv[0]);
    (void) close(sv[1]);
    return -1;
}

void
naming_pair_stop(struct naming_pair *p)
{
    p->worker = naming_free(p->worker);
    ev_io_stop(p->loop, &p->master_end.io);
    ev_io_stop(p->loop, &p->worker_end.io);
    p->peer = namesvc_peer_free(p->peer);
    p->svc = namesvc_free(p->svc);
    (void) close(p->master_end.fd);
    (void) close(p->worker_end.fd);
}
