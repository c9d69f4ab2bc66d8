/* proxy/worker.c - a worker process: one libev loop that accepts on its slot's
 * listening sockets (inherited from the master) and runs connections to completion.
 *
 * It talks to the master over a SOCK_SEQPACKET channel (proto/ipc.h): it says READY
 * once it polls its listeners, and on QUIT (or when the channel reaches EOF because the
 * master died) it stops accepting, closes idle keep-alive connections, lets in-flight
 * requests finish and exits 0, or exits at the drain deadline. Nothing here is shared
 * with other workers except the stats region, which only this process writes. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "common/cfg.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/stats.h"
#include "proto/ipc.h"
#include "proto/namemsg.h"
#include "proxy/proxy.h"
#include "proxy/telemetry.h"

#define ACCEPT_BATCH 64

static void worker_start_drain(struct worker *w, uint32_t deadline_ms);

double
worker_rand01(struct worker *w)
{
    return (double) (worker_rand32(w) >> 8) / (double) (1u << 24);
}

uint32_t
worker_rand32(struct worker *w)
{
    /* xorshift64*: fast, good enough for load balancing and jitter */
    uint64_t x = w->rng;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    w->rng = x;
    return (uint32_t) ((x * 0x2545F4914F6CDD1DULL) >> 32);
}

static void
listeners_set_accepting(struct worker *w, bool on)
{
    if (w->accepting == on)
        return;
    w->accepting = on;
    for (size_t i = 0; i < w->n_listeners; i++) {
        if (on)
            ev_io_start(w->loop, &w->listeners[i].io);
        else
            ev_io_stop(w->loop, &w->listeners[i].io);
    }
}

void
worker_conn_closed(struct worker *w)
{
    if (w->draining) {
        if (w->n_conns == 0)
            ev_break(w->loop, EVBREAK_ALL);
        return;
    }
    if (!w->accepting && w->n_conns < w->cfg->meshd.max_connections)
        listeners_set_accepting(w, true);
}

static void
worker_on_accept(struct ev_loop *loop, ev_io *io, int revents)
{
    struct listener *l = container_of(io, struct listener, io);
    struct worker *w = l->router->worker;

    (void) loop;
    (void) revents;
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        int fd;

        if (w->n_conns >= w->cfg->meshd.max_connections) {
            static struct log_ratelimit rl = LOG_RATELIMIT_INIT(10000000, 1);

            if (log_ratelimit_ok(&rl))
                log_warn("worker at its connection limit (%u), pausing accept",
                         w->cfg->meshd.max_connections);
            listeners_set_accepting(w, false);
            return;
        }
        fd = accept4(l->fd, (struct sockaddr *) &ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd == -1) {
            if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
                return;
            if (errno == EMFILE || errno == ENFILE) {
                static struct log_ratelimit rl = LOG_RATELIMIT_INIT(10000000, 1);

                if (log_ratelimit_ok(&rl))
                    log_err("accept: %s, pausing accept", strerror(errno));
                listeners_set_accepting(w, false);
                return;
            }
            log_err("accept: %s", strerror(errno));
            return;
        }
        conn_accept(w, l, fd, (struct sockaddr *) &ss, len);
    }
}

static const char *const level_names[] = {"err", "warn", "notice", "info", "debug"};

static void
worker_on_channel(struct ev_loop *loop, ev_io *io, int revents)
{
    struct worker *w = container_of(io, struct worker, chan_io);
    static char buf[NAMEMSG_MAX];
    struct ipc_msg msg;
    ssize_t n;

    (void) loop;
    (void) revents;
    n = recv(w->chan_fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n == -1 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        log_warn("master channel closed, draining and exiting");
        ev_io_stop(w->loop, &w->chan_io);
        worker_start_drain(w, w->cfg->meshd.drain_timeout_ms);
        return;
    }
    if ((size_t) n < sizeof(msg))
        return;
    memcpy(&msg, buf, sizeof(msg));
    if (msg.type == IPC_NAME_STATE) {
        naming_shared_input(w->naming, buf, (size_t) n);
        return;
    }
    if (n != sizeof(msg))
        return;
    switch (msg.type) {
    case IPC_QUIT:
        worker_start_drain(w, msg.arg ? msg.arg : w->cfg->meshd.drain_timeout_ms);
        break;
    case IPC_LOG_LEVEL:
        /* each worker confirms, at the more verbose of the two levels */
        if (msg.arg > LOG_LEVEL_DEBUG)
            break;
        if (msg.arg < LOG_LEVEL_NOTICE)
            log_notice("log level now %s (admin)", level_names[msg.arg]);
        log_set_level((enum log_level) msg.arg);
        if (msg.arg >= LOG_LEVEL_NOTICE)
            log_notice("log level now %s (admin)", level_names[msg.arg]);
        break;
    default:
        break;
    }
}

static void
worker_on_drain_timeout(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct worker *w = container_of(t, struct worker, drain_timer);

    (void) revents;
    log_warn("drain deadline reached with %u connections open, exiting", w->n_conns);
    ev_break(loop, EVBREAK_ALL);
}

/* Stops accepting and lets the connections finish. No connection is closed under its
 * client: a request that crosses a close on the wire fails, and HTTP/1.1 clients may not
 * retry it. So from now on every response says Connection: close (as Envoy drains
 * HTTP/1) and the connection closes once it is written, and a keep-alive connection that
 * is idle, now or after a response that already went out without that header, is closed
 * only after the short drain idle timeout (conn_idle_timeout_ms) gave its client time to
 * send what it was sending. The deadline ends the rest. */
static void
worker_start_drain(struct worker *w, uint32_t deadline_ms)
{
    struct list *pos, *tmp;

    if (w->draining)
        return;
    w->draining = true;
    w->drain_idle_ms = MESH_MIN(WORKER_DRAIN_IDLE_MS, deadline_ms / 2);
    listeners_set_accepting(w, false);
    upstream_close_idle(w);
    list_for_each_safe(pos, tmp, &w->conns) conn_drain(list_entry(pos, struct conn, link));
    if (w->n_conns == 0) {
        ev_break(w->loop, EVBREAK_ALL);
        return;
    }
    log_info("draining %u connections (deadline %u ms)", w->n_conns, deadline_ms);
    ev_timer_init(&w->drain_timer, worker_on_drain_timeout, deadline_ms / 1000.0, 0.);
    ev_timer_start(w->loop, &w->drain_timer);
}

/* The naming's requests to the master (proxy/namesvc.c); never blocks: a full channel
 * is -EAGAIN and the naming asks again shortly. */
static int
worker_send_to_master(void *ctx, const void *msg, size_t len)
{
    struct worker *w = ctx;

    return send(w->chan_fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL) == -1 ? -errno : 0;
}

static void
worker_on_names_changed(void *ctx)
{
    struct worker *w = ctx;
    struct list pending, *pos, *tmp;

    /* Move the waiters aside first: a retry may park the conn again. */
    list_init(&pending);
    list_for_each_safe(pos, tmp, &w->binding_wait)
    {
        list_remove(pos);
        list_insert_tail(&pending, pos);
    }
    list_for_each_safe(pos, tmp, &pending)
    {
        struct conn *c = container_of(pos, struct conn, wait_link);

        list_remove(pos);
        conn_binding_retry(c);
    }
}

static void
listener_stats_init(struct listener *l, struct stats_region *r)
{
    char prefix[STATS_NAME_MAX], name[STATS_NAME_MAX];

    snprintf(prefix, sizeof(prefix), "rt/%s/server/%s/%u", l->router->cfg->label, l->server->ip,
             l->server->port);
    scope_stats_init(&l->stats, r, prefix);
    /* Linkerd names the server span's service "<listen ip>/<port>" (0.0.0.0/4140), so
     * searches written for its walkthrough find meshd's spans too. */
    snprintf(l->span_service, sizeof(l->span_service), "%s/%u", l->server->ip, l->server->port);
    snprintf(name, sizeof(name), "%s/connects", prefix);
    l->connects = stats_counter(r, name);
    snprintf(name, sizeof(name), "%s/connections", prefix);
    l->connections = stats_gauge(r, name);
    snprintf(name, sizeof(name), "%s/sent_bytes", prefix);
    l->sent_bytes = stats_counter(r, name);
    snprintf(name, sizeof(name), "%s/received_bytes", prefix);
    l->received_bytes = stats_counter(r, name);
    snprintf(name, sizeof(name), "%s/requests_rejected/client_error", prefix);
    l->rejected = stats_counter(r, name);
}

int
worker_main(const struct cfg *cfg, int slot, const int *listen_fds, size_t n_fds, int chan_fd,
            struct stats_region *stats)
{
    struct worker *w = xcalloc(1, sizeof(*w));
    struct ipc_msg ready = {.type = IPC_READY};
    char tag[32], err[256];
    size_t k = 0;
    struct timespec ts;
    int rc = 0;

    snprintf(tag, sizeof(tag), "worker %d", slot);
    log_set_tag(tag);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGTERM, SIG_IGN); /* the master tells us over the channel */
    signal(SIGINT, SIG_IGN);
    signal(SIGQUIT, SIG_IGN);

    w->loop = ev_loop_new(EVBACKEND_EPOLL | EVFLAG_NOENV);
    if (w->loop == NULL) {
        log_err("cannot create event loop");
        return 1;
    }
    w->cfg = cfg;
    w->slot = slot;
    w->chan_fd = chan_fd;
    w->stats = stats;
    clock_gettime(CLOCK_REALTIME, &ts);
    w->rng = ((uint64_t) ts.tv_nsec << 20) ^ ((uint64_t) getpid() << 40) ^ (uint64_t) ts.tv_sec ^
             0x9E3779B97F4A7C15ULL;
    list_init(&w->conns);
    list_init(&w->binding_wait);
    buf_pool_init(&w->bufs, cfg->meshd.buffer_size, 1024);
    w->max_headers = cfg->meshd.max_headers;

    w->naming = naming_new_shared(w->loop, cfg, worker_send_to_master, w, err, sizeof(err));
    if (w->naming == NULL) {
        log_err("naming: %s", err);
        return 1;
    }
    naming_set_on_change(w->naming, worker_on_names_changed, w);
    w->telemetry = telemetry_new(w->loop, cfg, stats);
    if (w->telemetry == NULL) {
        log_err("telemetry: out of memory");
        return 1;
    }

    w->n_routers = cfg->n_routers;
    w->routers = xcalloc(cfg->n_routers, sizeof(*w->routers));
    for (size_t i = 0; i < cfg->n_routers; i++) {
        if (router_init(&w->routers[i], w, &cfg->routers[i], err, sizeof(err)) != 0) {
            log_err("%s", err);
            return 1;
        }
        w->n_listeners += cfg->routers[i].n_servers;
    }
    /* The limits of the first router apply to the parse (they are per router in
     * Linkerd; routers rarely differ and the parser runs before routing). */
    if (cfg->n_routers) {
        w->limits.max_request_line = (size_t) cfg->routers[0].max_initial_line_kb * 1024u;
        w->limits.max_head = (size_t) cfg->routers[0].max_headers_kb * 1024u;
    }
    if (w->limits.max_head + 1024 > cfg->meshd.buffer_size)
        w->limits.max_head = cfg->meshd.buffer_size > 2048 ? cfg->meshd.buffer_size - 1024 : 1024;
    w->limits.max_headers = cfg->meshd.max_headers;
    /* responses are the upstream's business: as large as a buffer holds */
    w->resp_limits.max_request_line = 8192;
    w->resp_limits.max_head = cfg->meshd.buffer_size - 1;
    w->resp_limits.max_headers = cfg->meshd.max_headers;

    if (n_fds != w->n_listeners) {
        log_err("bug: %zu listening sockets for %zu servers", n_fds, w->n_listeners);
        return 1;
    }
    w->listeners = xcalloc(w->n_listeners, sizeof(*w->listeners));
    for (size_t i = 0; i < cfg->n_routers; i++) {
        for (size_t s = 0; s < cfg->routers[i].n_servers; s++, k++) {
            struct listener *l = &w->listeners[k];

            l->fd = listen_fds[k];
            l->router = &w->routers[i];
            l->server = &cfg->routers[i].servers[s];
            listener_stats_init(l, stats);
            ev_io_init(&l->io, worker_on_accept, l->fd, EV_READ);
        }
    }
    listeners_set_accepting(w, true);
    ev_io_init(&w->chan_io, worker_on_channel, chan_fd, EV_READ);
    ev_io_start(w->loop, &w->chan_io);
    (void) send(chan_fd, &ready, sizeof(ready), MSG_DONTWAIT);
    log_debug("ready: %zu listeners", w->n_listeners);

    ev_run(w->loop, 0);

    /* Drained (or deadline): close what is left and free everything, so that leak
     * checkers see a clean exit. */
    {
        struct list *pos, *tmp;

        list_for_each_safe(pos, tmp, &w->conns) conn_abort(list_entry(pos, struct conn, link));
    }
    upstream_close_idle(w);
    for (size_t i = 0; i < w->n_listeners; i++)
        ev_io_stop(w->loop, &w->listeners[i].io);
    ev_io_stop(w->loop, &w->chan_io);
    ev_timer_stop(w->loop, &w->drain_timer);
    for (size_t i = 0; i < w->n_routers; i++)
        router_fini(&w->routers[i]);
    free(w->routers);
    free(w->listeners);
    w->naming = naming_free(w->naming);
    w->telemetry = telemetry_free(w->telemetry);
    buf_pool_fini(&w->bufs);
    ev_loop_destroy(w->loop);
    free(w);
    log_debug("exiting");
    return rc;
}
