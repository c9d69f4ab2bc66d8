/* proxy/upstream.c - connections to upstream endpoints: per-worker keep-alive pools,
 * non-blocking connects, power-of-two-choices load balancing and failure accrual.
 *
 * An upconn is CONNECTING (connect in progress, connect timeout armed), BUSY (carrying
 * one request for a struct conn, read timeout armed while a response is awaited) or
 * IDLE (in its endpoint's pool, idle expiry armed, watching for the upstream closing
 * it). The conn that owns a BUSY upconn drives its I/O; this module only translates
 * the upconn's events into calls on that conn.
 *
 * Endpoint states are owned by their client; one that leaves the client's endpoint set
 * while requests still use it is kept (present = false) until its last connection goes. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/cfg.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/stats.h"
#include "proxy/proxy.h"

static void upconn_on_io(struct ev_loop *loop, ev_io *w, int revents);
static void upconn_on_timer(struct ev_loop *loop, ev_timer *t, int revents);

static void
upconn_arm(struct upconn *u, uint64_t deadline_us)
{
    uint64_t now = clock_mono_us();

    u->deadline_us = deadline_us;
    ev_timer_stop(u->worker->loop, &u->timer);
    if (deadline_us) {
        ev_timer_set(&u->timer, deadline_us > now ? (double) (deadline_us - now) / 1e6 : 0., 0.);
        ev_timer_start(u->worker->loop, &u->timer);
    }
}

/* ---- gauges ---------------------------------------------------------------------------
 * Per-endpoint gauges move with the endpoint's state; a worker contributes its own view
 * and the master sums them: endpoint_load is requests in flight over all workers,
 * endpoint_removed the number of workers in which failure accrual removed the endpoint,
 * endpoint_present the number of workers whose client holds it. */

static void
ep_load_add(struct endpoint_state *ep, int d)
{
    ep->load = (unsigned) ((int) ep->load + d);
    stats_gauge_add(ep->g_load, d);
}

static void
ep_idle_add(struct endpoint_state *ep, int d)
{
    ep->n_idle = (unsigned) ((int) ep->n_idle + d);
    stats_gauge_add(ep->g_idle, d);
}

/* Registers <ep>'s gauges under <c>'s prefix while the worker's budget lasts. */
static void
ep_gauges_init(struct client *c, struct endpoint_state *ep)
{
    static const char *const kinds[] = {"load", "idle", "removed", "present"};
    int64_t **cells[] = {&ep->g_load, &ep->g_idle, &ep->g_removed, &ep->g_present};
    struct worker *w = c->router->worker;
    char name[STATS_NAME_MAX];

    if (w == NULL || w->stats == NULL || w->n_ep_gauges >= WORKER_MAX_EP_GAUGES)
        return;
    w->n_ep_gauges++;
    for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
        snprintf(name, sizeof(name), "%s/loadbalancer/endpoint_%s/%s", c->stats_prefix,
                 kinds[i], ep->label);
        *cells[i] = stats_gauge(w->stats, name);
    }
}

/* Brings the client's loadbalancer/available and failure_accrual/removed gauges in line
 * with its endpoints: available = present endpoints not removed by failure accrual. */
static void
client_lb_refresh(struct client *c, int removed_delta)
{
    int64_t avail;

    c->n_removed = (unsigned) ((int) c->n_removed + removed_delta);
    stats_gauge_add(c->fa_removed, removed_delta);
    avail = (int64_t) c->n_ep - (int64_t) c->n_removed;
    stats_gauge_add(c->lb_available, avail - c->avail_shown);
    c->avail_shown = avail;
}

/* <ep> leaves its client's set (or the client goes): its presence and removal go. */
static void
ep_leave(struct client *c, struct endpoint_state *ep)
{
    if (!ep->present)
        return;
    ep->present = false;
    stats_gauge_add(ep->g_present, -1);
    if (ep->down_until_us) {
        stats_gauge_add(ep->g_removed, -1);
        c->n_removed--;
        stats_gauge_add(c->fa_removed, -1);
    }
}

static void
endpoint_maybe_free(struct endpoint_state *ep)
{
    if (!ep->present && ep->load == 0 && ep->n_idle == 0)
        free(ep);
}

void
upconn_close(struct upconn *u)
{
    struct worker *w = u->worker;
    struct endpoint_state *ep = u->ep;

    ev_io_stop(w->loop, &u->io);
    ev_timer_stop(w->loop, &u->timer);
    if (u->state == UPCONN_IDLE) {
        list_remove(&u->link);
        ep_idle_add(ep, -1);
    } else {
        ep_load_add(ep, -1);
    }
    (void) close(u->fd);
    stats_gauge_add(u->client->connections, -1);
    u->in = buf_put(&w->bufs, u->in);
    free(u);
    endpoint_maybe_free(ep);
}

static bool
usable(const struct endpoint_state *ep, const struct endpoint_state *avoid, uint64_t now,
       bool all_down)
{
    return ep != avoid && (all_down || ep->down_until_us <= now);
}

struct endpoint_state *
upstream_pick(struct worker *w, struct client *c, const struct endpoint_state *avoid)
{
    struct endpoint_state *avail[2];
    uint64_t now = clock_mono_us();
    unsigned n_up = 0;
    unsigned a, b;
    bool all_down;

    if (c->n_ep == 0)
        return NULL;
    if (c->n_ep == 1)
        return c->ep[0];
    for (unsigned i = 0; i < c->n_ep; i++)
        if (c->ep[i] != avoid && c->ep[i]->down_until_us <= now)
            n_up++;
    all_down = n_up == 0; /* then pick among all, as Finagle's balancer does */
    if (all_down)
        n_up = avoid ? c->n_ep - 1 : c->n_ep;
    if (w->cfg && c->router->cfg->client.lb == CFG_LB_ROUND_ROBIN) {
        for (unsigned k = 0; k < c->n_ep; k++) {
            struct endpoint_state *ep = c->ep[c->rr_next++ % c->n_ep];

            if (usable(ep, avoid, now, all_down))
                return ep;
        }
        return c->ep[0];
    }
    /* power of two choices among the available endpoints, least load per weight */
    for (int k = 0; k < 2; k++) {
        unsigned target = worker_rand32(w) % n_up;

        avail[k] = c->ep[0];
        for (unsigned i = 0; i < c->n_ep; i++) {
            if (!usable(c->ep[i], avoid, now, all_down))
                continue;
            if (target-- == 0) {
                avail[k] = c->ep[i];
                break;
            }
        }
    }
    if (avail[0] == avail[1])
        return avail[0];
    a = avail[0]->load;
    b = avail[1]->load;
    /* compare load/weight without division: a/wa < b/wb <=> a*wb < b*wa */
    if ((double) a * avail[1]->weight <= (double) b * avail[0]->weight)
        return avail[0];
    return avail[1];
}

void
upstream_record(struct client *c, struct endpoint_state *ep, bool ok)
{
    const struct cfg_client *cc = &c->router->cfg->client;

    if (ep == NULL)
        return;
    if (ok) {
        if (ep->consecutive_failures >= cc->failure_accrual_failures && ep->down_until_us)
            stats_inc(c->fa_revivals, 1);
        if (ep->down_until_us && ep->present) {
            stats_gauge_add(ep->g_removed, -1);
            client_lb_refresh(c, -1);
        }
        ep->consecutive_failures = 0;
        ep->down_until_us = 0;
        ep->backoff_ms = 0;
        return;
    }
    ep->consecutive_failures++;
    if (cc->failure_accrual_failures &&
        ep->consecutive_failures >= cc->failure_accrual_failures) {
        uint64_t now = clock_mono_us();
        uint32_t base;

        if (ep->down_until_us > now)
            return; /* already down */
        if (ep->down_until_us == 0 && ep->present) {
            /* removed until a success revives it (a failed probe keeps it removed) */
            stats_gauge_add(ep->g_removed, 1);
            client_lb_refresh(c, 1);
        }
        if (ep->backoff_ms == 0)
            ep->backoff_ms = cc->failure_accrual_backoff_min_ms;
        /* equal jitter: half fixed, half random */
        base = ep->backoff_ms / 2 + (uint32_t) (worker_rand32(c->router->worker) %
                                                 (ep->backoff_ms / 2 + 1));
        ep->down_until_us = now + (uint64_t) base * 1000u;
        if (ep->backoff_ms < cc->failure_accrual_backoff_max_ms / 2)
            ep->backoff_ms *= 2;
        else
            ep->backoff_ms = cc->failure_accrual_backoff_max_ms;
        stats_inc(c->fa_removals, 1);
        log_notice("upstream: %s of %s marked down for %u ms after %u consecutive failures",
                   ep->label, c->id, base, ep->consecutive_failures);
    }
}

struct upconn *
upstream_acquire(struct worker *w, struct client *c, struct endpoint_state *ep)
{
    struct upconn *u;
    int fd, one = 1;

    if (!list_empty(&ep->idle)) {
        u = list_entry(ep->idle.next, struct upconn, link);
        list_remove(&u->link);
        ep_idle_add(ep, -1);
        ev_timer_stop(w->loop, &u->timer);
        /* its io watcher stays as it is (EV_READ): changing it costs an epoll_ctl */
        u->state = UPCONN_BUSY;
        u->rd_ready = false;
        u->reused = true;
        u->deadline_us = 0;
        ep_load_add(ep, 1);
        return u;
    }
    fd = socket(ep->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd == -1)
        return NULL;
    (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    u = calloc(1, sizeof(*u));
    if (u == NULL) {
        (void) close(fd);
        errno = ENOMEM;
        return NULL;
    }
    u->fd = fd;
    u->worker = w;
    u->client = c;
    u->ep = ep;
    list_init(&u->link);
    ev_io_init(&u->io, upconn_on_io, fd, EV_WRITE);
    ev_init(&u->timer, upconn_on_timer);
    if (connect(fd, (const struct sockaddr *) &ep->addr, ep->addr_len) == 0) {
        u->state = UPCONN_BUSY;
    } else if (errno == EINPROGRESS) {
        u->state = UPCONN_CONNECTING;
        ev_io_start(w->loop, &u->io);
        upconn_arm(u, clock_mono_us() + (uint64_t) c->router->cfg->client.connect_timeout_ms * 1000u);
    } else {
        int e = errno;

        (void) close(fd);
        free(u);
        errno = e;
        return NULL;
    }
    ep_load_add(ep, 1);
    stats_gauge_add(c->connections, 1);
    return u;
}

void
upstream_release(struct upconn *u, bool reusable)
{
    struct worker *w = u->worker;
    struct endpoint_state *ep = u->ep;
    const struct cfg_client *cc = &u->client->router->cfg->client;

    u->requests++;
    if (!reusable || !ep->present || ep->n_idle >= cc->pool_max_idle || w->draining) {
        upconn_close(u);
        return;
    }
    ep_load_add(ep, -1);
    u->state = UPCONN_IDLE;
    u->conn = NULL;
    u->in = buf_put(&w->bufs, u->in);
    list_insert_head(&ep->idle, &u->link);
    ep_idle_add(ep, 1);
    /* watch for the upstream closing it while idle (usually already watched) */
    if (!ev_is_active(&u->io) || (u->io.events & (EV_READ | EV_WRITE)) != EV_READ) {
        ev_io_stop(w->loop, &u->io);
        ev_io_set(&u->io, u->fd, EV_READ);
        ev_io_start(w->loop, &u->io);
    }
    upconn_arm(u, cc->pool_idle_time_ms
                      ? clock_mono_us() + (uint64_t) cc->pool_idle_time_ms * 1000u
                      : 0);
}

/* Arms the read timeout the conn asked for (u->deadline_us), lazily. */
void
upstream_update_timer(struct upconn *u)
{
    if (u->state == UPCONN_BUSY && u->deadline_us && !ev_is_active(&u->timer))
        upconn_arm(u, u->deadline_us);
}

void
upstream_close_idle(struct worker *w)
{
    for (size_t r = 0; r < w->n_routers; r++) {
        struct list *pos, *tmp;

        list_for_each_safe(pos, tmp, &w->routers[r].clients) {
            struct client *c = list_entry(pos, struct client, link);

            for (unsigned i = 0; i < c->n_ep; i++) {
                while (!list_empty(&c->ep[i]->idle))
                    upconn_close(list_entry(c->ep[i]->idle.next, struct upconn, link));
            }
        }
    }
}

static void
upconn_on_io(struct ev_loop *loop, ev_io *w, int revents)
{
    struct upconn *u = container_of(w, struct upconn, io);

    (void) loop;
    if (u->state == UPCONN_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof(err);

        if (getsockopt(u->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
            err = errno;
        if (err == EINPROGRESS)
            return;
        ev_timer_stop(u->worker->loop, &u->timer);
        u->deadline_us = 0;
        if (err) {
            if (u->conn)
                conn_on_upstream_error(u->conn, err, false); /* closes u */
            else
                upconn_close(u);
            return;
        }
        u->state = UPCONN_BUSY;
        if (u->conn)
            conn_on_upstream_connected(u->conn);
        else
            upconn_close(u);
        return;
    }
    if (u->state == UPCONN_IDLE) {
        /* an idle connection became readable: the upstream closed it (or misbehaves) */
        upconn_close(u);
        return;
    }
    if (revents & EV_READ)
        u->rd_ready = true;
    if (u->conn)
        conn_on_upstream_io(u->conn, revents);
    else
        upconn_close(u);
}

static void
upconn_on_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct upconn *u = container_of(t, struct upconn, timer);
    uint64_t now = clock_mono_us();

    (void) loop;
    (void) revents;
    if (u->state == UPCONN_IDLE || u->conn == NULL) {
        upconn_close(u);
        return;
    }
    if (u->deadline_us && now + 1000 < u->deadline_us) {
        upconn_arm(u, u->deadline_us); /* pushed back by activity */
        return;
    }
    conn_on_upstream_error(u->conn, ETIMEDOUT, true);
}

static bool
same_addr(const struct endpoint_state *ep, const struct endpoint *e)
{
    return ep->addr_len == e->addr_len && memcmp(&ep->addr, &e->addr, e->addr_len) == 0;
}

static void
endpoint_label(struct endpoint_state *ep)
{
    char host[64] = "?";
    unsigned port = 0;

    if (ep->addr.ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *) &ep->addr;

        inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
        port = ntohs(sin->sin_port);
        snprintf(ep->label, sizeof(ep->label), "%s:%u", host, port);
    } else if (ep->addr.ss_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *) &ep->addr;

        inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
        port = ntohs(sin6->sin6_port);
        snprintf(ep->label, sizeof(ep->label), "[%s]:%u", host, port);
    }
}

int
upstream_sync_endpoints(struct client *c, struct endpoint_set *eps)
{
    struct endpoint_state **next;
    unsigned n = 0;

    if (c->eps == eps)
        return 0;
    next = calloc(eps->n ? eps->n : 1, sizeof(*next));
    if (next == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < eps->n; i++) {
        struct endpoint_state *ep = NULL;

        for (unsigned k = 0; k < c->n_ep; k++) {
            if (c->ep[k] && same_addr(c->ep[k], &eps->e[i])) {
                ep = c->ep[k];
                c->ep[k] = NULL; /* taken over */
                break;
            }
        }
        if (ep == NULL) {
            ep = calloc(1, sizeof(*ep));
            if (ep == NULL)
                continue; /* one endpoint fewer; the next update retries */
            memcpy(&ep->addr, &eps->e[i].addr, eps->e[i].addr_len);
            ep->addr_len = eps->e[i].addr_len;
            list_init(&ep->idle);
            ep->present = true;
            endpoint_label(ep);
            ep_gauges_init(c, ep);
            stats_gauge_add(ep->g_present, 1);
        }
        ep->weight = eps->e[i].weight > 0 ? eps->e[i].weight : 1.0;
        next[n++] = ep;
    }
    /* endpoints that left: close their idle connections, free once unused */
    for (unsigned k = 0; k < c->n_ep; k++) {
        struct endpoint_state *ep = c->ep[k];

        if (ep == NULL)
            continue;
        ep_leave(c, ep);
        ep->load++; /* keep it alive while closing its pool */
        while (!list_empty(&ep->idle))
            upconn_close(list_entry(ep->idle.next, struct upconn, link));
        ep->load--;
        endpoint_maybe_free(ep);
    }
    free(c->ep);
    stats_gauge_add(c->lb_size, (int64_t) n - (int64_t) c->n_ep);
    c->ep = next;
    c->n_ep = n;
    client_lb_refresh(c, 0);
    endpoint_set_unref(c->eps);
    c->eps = endpoint_set_ref(eps);
    return 0;
}

void
upstream_client_fini(struct client *c)
{
    for (unsigned k = 0; k < c->n_ep; k++) {
        struct endpoint_state *ep = c->ep[k];

        ep_leave(c, ep);
        ep->load++;
        while (!list_empty(&ep->idle))
            upconn_close(list_entry(ep->idle.next, struct upconn, link));
        ep->load--;
        endpoint_maybe_free(ep);
    }
    free(c->ep);
    stats_gauge_add(c->lb_size, -(int64_t) c->n_ep);
    c->ep = NULL;
    c->n_ep = 0;
    client_lb_refresh(c, 0);
    c->eps = endpoint_set_unref(c->eps);
}
