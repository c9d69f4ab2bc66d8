/* agent/ship.c - the shipper, Zipkin HTTP or Scribe (see ship.h for the policy).
 *
 * One connection, one request at a time: Zipkin answers 202 (or OK) as soon as it has
 * decoded a batch, so a batch of 1,000 spans a request keeps up with the agent's whole
 * input, and the books stay simple (one batch in flight at most). States:
 *
 *   DOWN       no socket      -> RESOLVING (queue not empty, no back-off running)
 *   RESOLVING  lookup running -> CONNECTING | DOWN + back-off (lookup failed)
 *   CONNECTING connect()      -> IDLE | CONNECTING (next address) | DOWN + back-off
 *   IDLE       keep-alive     -> SENDING (queue not empty) | DOWN (collector closed it)
 *   SENDING    writing        -> RECEIVING | DOWN + retry
 *   RECEIVING  reading reply  -> IDLE | DOWN (no keep-alive, or failure + retry)
 *
 * One ev_timer serves the connect and request deadlines, another the back-off. HTTP: the
 * request head and the body go out with writev; the reply head is parsed with proto/http1
 * and its body is read and discarded (its first bytes kept for the log). Scribe: the body
 * is already a framed call; the framed reply is parsed by scribe_parse_reply() and its
 * seqid must be the call's. Both end in sh_done() with an HTTP-like status (Scribe OK 200,
 * TRY_LATER 503, exception 400), so the policy is written once. */
#include "agent/ship.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#ifdef MESH_HAVE_ZLIB
#include <zlib.h>
#endif

#include "agent/batcher.h"
#include "agent/resolver.h"
#include "common/clock.h"
#include "common/list.h"
#include "common/log.h"
#include "common/stats.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "proto/http1.h"
#include "proto/zipkin.h"

#define REPLY_HEAD_MAX 16384
#define EXCERPT_MAX    200

enum sh_state {
    SH_DOWN = 0,
    SH_RESOLVING,
    SH_CONNECTING,
    SH_IDLE,
    SH_SENDING,
    SH_RECEIVING,
};

struct ship {
    struct ev_loop *loop;
    struct ship_cfg cfg;
    struct ship_counters ct;
    enum sh_state state;
    struct resolver *resolver;

    struct list queue; /* struct batch, oldest first */
    unsigned n_queued;
    uint64_t pending_spans, pending_bytes; /* queue + in flight */
    struct batch *inflight;

    int fd;
    ev_io io;
    ev_timer deadline; /* connect or request */
    ev_timer backoff;
    bool backing_off;
    unsigned failures; /* consecutive */
    int reachable;

    struct resolver_result addrs; /* of the last lookup */
    unsigned addr_idx;
    int last_err; /* errno of the last connect attempt */

    unsigned exchanges; /* completed on this connection */
    struct strbuf head; /* request head */
    size_t out_off;     /* bytes of head+body written */
    uint64_t sent_us;

    char in[REPLY_HEAD_MAX];
    size_t in_len;
    bool have_head;
    int status;
    bool keep_alive;
    enum http1_body body;
    uint64_t body_left; /* HTTP1_BODY_LENGTH */
    struct http1_chunked chunked;
    char excerpt[EXCERPT_MAX + 1];
    size_t excerpt_len;

    uint64_t rng;
    struct log_ratelimit rl;
};

static void sh_kick(struct ship *sh);
static void sh_connect_next(struct ship *sh);

/* ---- small helpers ------------------------------------------------------------------- */

static uint64_t
sh_random(struct ship *sh)
{
    /* xorshift64*: jitter only */
    sh->rng ^= sh->rng >> 12;
    sh->rng ^= sh->rng << 25;
    sh->rng ^= sh->rng >> 27;
    return sh->rng * 0x2545f4914f6cdd1dull;
}

static void
sh_close(struct ship *sh)
{
    if (sh->fd >= 0) {
        ev_io_stop(sh->loop, &sh->io);
        (void) close(sh->fd);
        sh->fd = -1;
    }
    ev_timer_stop(sh->loop, &sh->deadline);
    if (sh->state == SH_RESOLVING)
        resolver_cancel(sh->resolver);
    sh->state = SH_DOWN;
    sh->exchanges = 0;
}

static void
sh_watch(struct ship *sh, int events)
{
    ev_io_stop(sh->loop, &sh->io);
    ev_io_set(&sh->io, sh->fd, events);
    ev_io_start(sh->loop, &sh->io);
}

static void
sh_arm_deadline(struct ship *sh, uint32_t ms)
{
    ev_timer_stop(sh->loop, &sh->deadline);
    ev_timer_set(&sh->deadline, ms / 1000.0, 0.);
    ev_timer_start(sh->loop, &sh->deadline);
}

static void
sh_start_backoff(struct ship *sh)
{
    uint64_t d = sh->cfg.retry_min_ms;
    double wait;

    for (unsigned i = 1; i < sh->failures && d < sh->cfg.retry_max_ms; i++)
        d *= 2;
    if (d > sh->cfg.retry_max_ms)
        d = sh->cfg.retry_max_ms;
    wait = (double) d / 2 + (double) (sh_random(sh) % (d / 2 + 1));
    sh->backing_off = true;
    ev_timer_stop(sh->loop, &sh->backoff);
    ev_timer_set(&sh->backoff, wait / 1000.0, 0.);
    ev_timer_start(sh->loop, &sh->backoff);
}

static void
sh_unqueue(struct ship *sh, struct batch *b, bool gone)
{
    if (gone) {
        sh->pending_spans -= b->n_spans;
        sh->pending_bytes -= b->body.len;
    }
}

/* The exchange in flight failed: put its batch back in front, close, back off. */
static void
sh_fail(struct ship *sh, const char *what, int err, bool connection)
{
    struct batch *b = sh->inflight;
    bool stale_keepalive =
        b != NULL && sh->exchanges > 0 && sh->in_len == 0 && !sh->have_head && connection;

    if (b != NULL) {
        sh->inflight = NULL;
        list_insert_head(&sh->queue, &b->link);
        sh->n_queued++;
        stats_inc(sh->ct.retried, 1);
    }
    if (connection) {
        stats_inc(sh->ct.connect_failures, stale_keepalive ? 0 : 1);
        if (!stale_keepalive)
            sh->reachable = 0;
    }
    sh_close(sh);
    if (stale_keepalive) {
        /* the collector closed an idle keep-alive connection as we reused it */
        log_info("zipkin: %s:%u closed a keep-alive connection under a request, resending",
                 sh->cfg.host, sh->cfg.port);
        sh_kick(sh);
        return;
    }
    sh->failures++;
    if (log_ratelimit_ok(&sh->rl))
        log_warn("zipkin: %s:%u: %s%s%s, retrying (attempt %u failed)", sh->cfg.host, sh->cfg.port,
                 what, err ? ": " : "", err ? strerror(err) : "", sh->failures);
    sh_start_backoff(sh);
}

/* ---- connecting ---------------------------------------------------------------------- */

static void
sh_connected(struct ship *sh)
{
    int one = 1;

    ev_timer_stop(sh->loop, &sh->deadline);
    (void) setsockopt(sh->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    stats_inc(sh->ct.connects, 1);
    sh->reachable = 1;
    sh->state = SH_IDLE;
    sh->exchanges = 0;
    sh_watch(sh, EV_READ);
    sh_kick(sh);
}

static void
sh_connect_next(struct ship *sh)
{
    for (; sh->addr_idx < sh->addrs.n_addrs; sh->addr_idx++) {
        const struct sockaddr *sa = (const struct sockaddr *) &sh->addrs.addrs[sh->addr_idx];
        int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

        if (fd == -1) {
            sh->last_err = errno;
            continue;
        }
        sh->fd = fd;
        if (connect(fd, sa, sh->addrs.lens[sh->addr_idx]) == 0) {
            sh_connected(sh);
            return;
        }
        if (errno == EINPROGRESS) {
            sh->state = SH_CONNECTING;
            sh_watch(sh, EV_WRITE);
            sh_arm_deadline(sh, sh->cfg.connect_timeout_ms);
            return;
        }
        sh->last_err = errno;
        (void) close(fd);
        sh->fd = -1;
    }
    sh_fail(sh, "cannot connect", sh->last_err, true);
}

static void
sh_on_resolved(const struct resolver_result *res, void *arg)
{
    struct ship *sh = arg;

    if (sh->state != SH_RESOLVING)
        return;
    if (res->error != 0) {
        sh->state = SH_DOWN;
        stats_inc(sh->ct.connect_failures, 1);
        sh->reachable = 0;
        sh->failures++;
        if (log_ratelimit_ok(&sh->rl))
            log_warn("zipkin: cannot resolve %s: %s, retrying", sh->cfg.host,
                     gai_strerror(res->error));
        sh_start_backoff(sh);
        return;
    }
    sh->addrs = *res;
    sh->addr_idx = 0;
    sh->last_err = ECONNREFUSED;
    sh_connect_next(sh);
}

static void
sh_start_connect(struct ship *sh)
{
    struct sockaddr_in *sin = (struct sockaddr_in *) &sh->addrs.addrs[0];
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &sh->addrs.addrs[0];

    memset(&sh->addrs, 0, sizeof(sh->addrs));
    sh->addr_idx = 0;
    sh->last_err = ECONNREFUSED;
    if (inet_pton(AF_INET, sh->cfg.host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons(sh->cfg.port);
        sh->addrs.lens[0] = sizeof(*sin);
        sh->addrs.n_addrs = 1;
        sh_connect_next(sh);
        return;
    }
    memset(&sh->addrs, 0, sizeof(sh->addrs));
    if (inet_pton(AF_INET6, sh->cfg.host, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(sh->cfg.port);
        sh->addrs.lens[0] = sizeof(*sin6);
        sh->addrs.n_addrs = 1;
        sh_connect_next(sh);
        return;
    }
    sh->state = SH_RESOLVING;
    (void) resolver_start(sh->resolver, sh->cfg.host, sh->cfg.port, sh_on_resolved, sh);
}

/* ---- one exchange -------------------------------------------------------------------- */

static void
sh_send_next(struct ship *sh)
{
    struct batch *b = list_entry(sh->queue.next, struct batch, link);

    list_remove(&b->link);
    sh->n_queued--;
    sh->inflight = b;
    b->attempts++;
    strbuf_reset(&sh->head);
    if (sh->cfg.proto == SHIP_SCRIBE)
        ; /* the body is the whole framed call */
    else if (strchr(sh->cfg.host, ':') != NULL)
        strbuf_addf(&sh->head, "POST %s HTTP/1.1\r\nHost: [%s]:%u\r\n", sh->cfg.path, sh->cfg.host,
                    sh->cfg.port);
    else
        strbuf_addf(&sh->head, "POST %s HTTP/1.1\r\nHost: %s:%u\r\n", sh->cfg.path, sh->cfg.host,
                    sh->cfg.port);
    if (sh->cfg.proto == SHIP_HTTP)
        strbuf_addf(&sh->head,
                    "User-Agent: meshagent\r\nContent-Type: %s\r\n"
                    "Content-Length: %zu\r\nb3: 0\r\n%s\r\n",
                    sh->cfg.content_type, b->body.len,
                    b->gzipped ? "Content-Encoding: gzip\r\n" : "");
    sh->out_off = 0;
    sh->in_len = 0;
    sh->have_head = false;
    sh->excerpt_len = 0;
    memset(&sh->chunked, 0, sizeof(sh->chunked));
    sh->state = SH_SENDING;
    sh->sent_us = clock_mono_us();
    stats_inc(sh->ct.requests, 1);
    sh_arm_deadline(sh, sh->cfg.request_timeout_ms);
    sh_watch(sh, EV_WRITE);
}

static void
sh_do_send(struct ship *sh)
{
    struct batch *b = sh->inflight;
    size_t total = sh->head.len + b->body.len;

    while (sh->out_off < total) {
        struct iovec iov[2];
        int n_iov = 0;
        ssize_t n;

        if (sh->out_off < sh->head.len) {
            iov[n_iov].iov_base = sh->head.s + sh->out_off;
            iov[n_iov++].iov_len = sh->head.len - sh->out_off;
            iov[n_iov].iov_base = b->body.s;
            iov[n_iov++].iov_len = b->body.len;
        } else {
            iov[n_iov].iov_base = b->body.s + (sh->out_off - sh->head.len);
            iov[n_iov++].iov_len = total - sh->out_off;
        }
        n = writev(sh->fd, iov, n_iov);
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1 && errno == EAGAIN)
            return;
        if (n <= 0) {
            sh_fail(sh, "send failed", n == -1 ? errno : EPIPE, true);
            return;
        }
        sh->out_off += (size_t) n;
    }
    sh->state = SH_RECEIVING;
    sh_watch(sh, EV_READ);
}

static void
sh_keep_excerpt(struct ship *sh, const char *p, size_t len)
{
    size_t take = MESH_MIN(len, EXCERPT_MAX - sh->excerpt_len);

    for (size_t i = 0; i < take; i++)
        sh->excerpt[sh->excerpt_len++] = (p[i] >= 0x20 && p[i] < 0x7f) ? p[i] : ' ';
    sh->excerpt[sh->excerpt_len] = '\0';
}

/* The reply is complete. */
static void
sh_done(struct ship *sh)
{
    struct batch *b = sh->inflight;
    int st = sh->status;

    sh->inflight = NULL;
    ev_timer_stop(sh->loop, &sh->deadline);
    stats_hist_record(sh->ct.latency, clock_mono_us() - sh->sent_us);
    sh->exchanges++;
    if (st >= 200 && st < 300) {
        stats_inc(sh->ct.shipped, b->n_spans);
        stats_inc(sh->ct.batches, 1);
        sh_unqueue(sh, b, true);
        batch_free(b);
        sh->failures = 0;
        sh->reachable = 1;
    } else if (st == 408 || st == 429 || st >= 500) {
        list_insert_head(&sh->queue, &b->link);
        sh->n_queued++;
        stats_inc(sh->ct.retried, 1);
        sh->failures++;
        sh->reachable = 1;
        if (log_ratelimit_ok(&sh->rl))
            log_warn("zipkin: %s:%u answered %d (%s), retrying %u spans later", sh->cfg.host,
                     sh->cfg.port, sh->cfg.proto == SHIP_SCRIBE ? 0 : st, sh->excerpt, b->n_spans);
        sh_start_backoff(sh);
    } else {
        stats_inc(sh->ct.dropped_rejected, b->n_spans);
        sh_unqueue(sh, b, true);
        if (log_ratelimit_ok(&sh->rl))
            log_err("zipkin: %s:%u refused %u spans with %d (%s): Zipkin says the agent sent "
                    "spans it does not accept, dropping them",
                    sh->cfg.host, sh->cfg.port, b->n_spans, st, sh->excerpt);
        batch_free(b);
        sh->reachable = 1;
    }
    if (!sh->keep_alive) {
        sh_close(sh);
    } else {
        sh->state = SH_IDLE;
        sh_watch(sh, EV_READ);
    }
    sh_kick(sh);
}

/* Consumes reply body bytes at <p>; returns 1 when the body ended, 0 for more, -1 bad. */
static int
sh_body(struct ship *sh, const char *p, size_t len)
{
    struct http1_error err;
    size_t used;
    int r;

    switch (sh->body) {
    case HTTP1_BODY_NONE:
        return 1;
    case HTTP1_BODY_LENGTH:
        used = (size_t) MESH_MIN((uint64_t) len, sh->body_left);
        sh_keep_excerpt(sh, p, used);
        sh->body_left -= used;
        return sh->body_left == 0;
    case HTTP1_BODY_CHUNKED:
        r = http1_chunked_scan(&sh->chunked, p, len, &used, &err);
        if (r < 0)
            return -1;
        sh_keep_excerpt(sh, p, used);
        return r;
    case HTTP1_BODY_UNTIL_CLOSE:
        sh_keep_excerpt(sh, p, len);
        return 0;
    }
    return -1;
}

/* Scribe: a framed Log() reply in sh->in. */
static void
sh_scribe_reply(struct ship *sh)
{
    enum scribe_result res;
    int32_t seqid;
    int r = scribe_parse_reply((const uint8_t *) sh->in, sh->in_len, &seqid, &res);

    if (r == -EAGAIN) {
        if (sh->in_len == sizeof(sh->in))
            sh_fail(sh, "Scribe reply too large", 0, false);
        return;
    }
    sh->have_head = true;
    sh->keep_alive = true;
    sh->excerpt_len = 0;
    if (r < 0) {
        /* an exception: Zipkin failed to decode a message and dropped the whole call */
        sh->status = 400;
        sh->keep_alive = false;
        snprintf(sh->excerpt, sizeof(sh->excerpt), "exception reply to Log()");
    } else if (seqid != sh->inflight->seqid) {
        sh->have_head = false;
        sh_fail(sh, "Scribe reply for another call", 0, false);
        return;
    } else if (res == SCRIBE_OK) {
        sh->status = 200;
        snprintf(sh->excerpt, sizeof(sh->excerpt), "OK");
    } else {
        sh->status = 503;
        snprintf(sh->excerpt, sizeof(sh->excerpt), "TRY_LATER");
    }
    sh->in_len = 0;
    sh_done(sh);
}

static void
sh_do_receive(struct ship *sh)
{
    for (;;) {
        ssize_t n = read(sh->fd, sh->in + sh->in_len, sizeof(sh->in) - sh->in_len);
        int r;

        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1 && errno == EAGAIN)
            return;
        if (n == -1) {
            sh_fail(sh, "reading the reply", errno, true);
            return;
        }
        if (n == 0) {
            if (sh->have_head && sh->body == HTTP1_BODY_UNTIL_CLOSE) {
                sh->keep_alive = false;
                sh_done(sh);
            } else {
                sh_fail(sh, "connection closed before the reply", 0, true);
            }
            return;
        }
        sh->in_len += (size_t) n;
        if (sh->cfg.proto == SHIP_SCRIBE) {
            sh_scribe_reply(sh);
            if (sh->state != SH_RECEIVING)
                return;
            continue;
        }
        if (!sh->have_head) {
            struct http1_header hdrs[64];
            struct http1_response rsp;
            struct http1_error err;
            struct http1_limits lim = {
                .max_request_line = 4096, .max_head = REPLY_HEAD_MAX, .max_headers = 64};

            r = http1_parse_response(sh->in, sh->in_len, &lim, false, hdrs, ARRAY_SIZE(hdrs), &rsp,
                                     &err);
            if (r == -EAGAIN)
                continue;
            if (r < 0) {
                sh_fail(sh, err.reason, 0, false);
                return;
            }
            if (rsp.status < 200) {
                /* 100 Continue and friends: drop the interim head, wait for the real one */
                memmove(sh->in, sh->in + r, sh->in_len - (size_t) r);
                sh->in_len -= (size_t) r;
                continue;
            }
            sh->have_head = true;
            sh->status = rsp.status;
            sh->keep_alive = rsp.keep_alive;
            sh->body = rsp.body;
            sh->body_left = rsp.content_length;
            r = sh_body(sh, sh->in + r, sh->in_len - (size_t) r);
        } else {
            r = sh_body(sh, sh->in, sh->in_len);
        }
        sh->in_len = 0; /* body bytes are not kept (only the excerpt) */
        if (r < 0) {
            sh_fail(sh, "bad chunked reply body", 0, false);
            return;
        }
        if (r == 1) {
            sh_done(sh);
            return;
        }
    }
}

static void
sh_on_io(struct ev_loop *loop, ev_io *w, int revents)
{
    struct ship *sh = container_of(w, struct ship, io);
    int err = 0;
    socklen_t errlen = sizeof(err);

    (void) loop;
    (void) revents;
    switch (sh->state) {
    case SH_CONNECTING:
        if (getsockopt(sh->fd, SOL_SOCKET, SO_ERROR, &err, &errlen) == -1)
            err = errno;
        if (err == 0) {
            sh_connected(sh);
            return;
        }
        sh->last_err = err;
        ev_io_stop(sh->loop, &sh->io);
        (void) close(sh->fd);
        sh->fd = -1;
        sh->addr_idx++;
        sh_connect_next(sh);
        return;
    case SH_SENDING:
        sh_do_send(sh);
        return;
    case SH_RECEIVING:
        sh_do_receive(sh);
        return;
    case SH_IDLE: {
        char c;
        ssize_t n = recv(sh->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);

        if (n == -1 && (errno == EAGAIN || errno == EINTR))
            return;
        /* the collector closed the idle connection (or sent junk): reconnect when needed */
        sh_close(sh);
        sh_kick(sh);
        return;
    }
    default:
        ev_io_stop(sh->loop, &sh->io);
        return;
    }
}

static void
sh_on_deadline(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct ship *sh = container_of(t, struct ship, deadline);

    (void) loop;
    (void) revents;
    if (sh->state == SH_CONNECTING) {
        sh->last_err = ETIMEDOUT;
        ev_io_stop(sh->loop, &sh->io);
        (void) close(sh->fd);
        sh->fd = -1;
        sh->addr_idx++;
        sh_connect_next(sh);
    } else if (sh->state == SH_SENDING || sh->state == SH_RECEIVING) {
        sh->exchanges = 0; /* a timeout is never a stale keep-alive */
        sh_fail(sh, "no reply in time", ETIMEDOUT, true);
    }
}

static void
sh_on_backoff(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct ship *sh = container_of(t, struct ship, backoff);

    (void) loop;
    (void) revents;
    sh->backing_off = false;
    sh_kick(sh);
}

static void
sh_kick(struct ship *sh)
{
    if (sh->backing_off || list_empty(&sh->queue))
        return;
    if (sh->state == SH_DOWN)
        sh_start_connect(sh);
    else if (sh->state == SH_IDLE)
        sh_send_next(sh);
}

/* ---- public -------------------------------------------------------------------------- */

struct ship *
ship_new(struct ev_loop *loop, const struct ship_cfg *cfg, const struct ship_counters *counters)
{
    struct ship *sh = xcalloc(1, sizeof(*sh));

    sh->loop = loop;
    sh->cfg = *cfg;
    if (counters != NULL)
        sh->ct = *counters;
    sh->resolver = resolver_new(loop);
    list_init(&sh->queue);
    sh->fd = -1;
    sh->reachable = -1;
    sh->rng = clock_mono_us() ^ ((uint64_t) getpid() << 32) ^ (uintptr_t) sh;
    if (sh->rng == 0)
        sh->rng = 1;
    sh->rl = (struct log_ratelimit) LOG_RATELIMIT_INIT(10000000, 5);
    ev_io_init(&sh->io, sh_on_io, -1, EV_READ);
    ev_timer_init(&sh->deadline, sh_on_deadline, 0., 0.);
    ev_timer_init(&sh->backoff, sh_on_backoff, 0., 0.);
    return sh;
}

struct ship *
ship_free(struct ship *sh)
{
    struct list *pos, *tmp;

    if (sh == NULL)
        return NULL;
    sh_close(sh);
    ev_timer_stop(sh->loop, &sh->backoff);
    sh->resolver = resolver_free(sh->resolver);
    batch_free(sh->inflight);
    list_for_each_safe(pos, tmp, &sh->queue)
    {
        struct batch *b = list_entry(pos, struct batch, link);

        list_remove(&b->link);
        batch_free(b);
    }
    strbuf_fini(&sh->head);
    free(sh);
    return NULL;
}

void
ship_set_cfg(struct ship *sh, const struct ship_cfg *cfg)
{
    bool moved = strcmp(cfg->host, sh->cfg.host) != 0 || cfg->port != sh->cfg.port ||
                 strcmp(cfg->path, sh->cfg.path) != 0 || cfg->proto != sh->cfg.proto;

    sh->cfg = *cfg;
    if (!moved)
        return;
    log_notice("zipkin: collector is now %s://%s:%u%s",
               cfg->proto == SHIP_SCRIBE ? "scribe" : "http", cfg->host, cfg->port,
               cfg->proto == SHIP_SCRIBE ? "" : cfg->path);
    if (sh->inflight != NULL) {
        list_insert_head(&sh->queue, &sh->inflight->link);
        sh->n_queued++;
        sh->inflight = NULL;
        stats_inc(sh->ct.retried, 1);
    }
    sh_close(sh);
    sh->failures = 0;
    sh->backing_off = false;
    ev_timer_stop(sh->loop, &sh->backoff);
    sh_kick(sh);
}

#ifdef MESH_HAVE_ZLIB
static int
gzip_body(struct batch *b)
{
    struct strbuf out = STRBUF_INIT;
    z_stream z;
    size_t cap = compressBound((uLong) b->body.len) + 64;
    int r;

    memset(&z, 0, sizeof(z));
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -ENOMEM;
    out.s = malloc(cap + 1);
    if (out.s == NULL) {
        deflateEnd(&z);
        return -ENOMEM;
    }
    out.cap = cap + 1;
    z.next_in = (Bytef *) b->body.s;
    z.avail_in = (uInt) b->body.len;
    z.next_out = (Bytef *) out.s;
    z.avail_out = (uInt) cap;
    r = deflate(&z, Z_FINISH);
    out.len = cap - z.avail_out;
    deflateEnd(&z);
    if (r != Z_STREAM_END) {
        strbuf_fini(&out);
        return -EIO;
    }
    out.s[out.len] = '\0';
    strbuf_fini(&b->body);
    b->body = out;
    b->gzipped = true;
    return 0;
}
#endif

bool
ship_has_room(const struct ship *sh, size_t len)
{
    return sh->pending_bytes == 0 || sh->pending_bytes + len <= sh->cfg.queue_bytes;
}

int
ship_try_enqueue(struct ship *sh, struct batch *b)
{
#ifdef MESH_HAVE_ZLIB
    if (sh->cfg.gzip && sh->cfg.proto == SHIP_HTTP && !b->gzipped)
        (void) gzip_body(b); /* on failure it goes uncompressed */
#endif
    if (!ship_has_room(sh, b->body.len))
        return -ENOBUFS;
    list_insert_tail(&sh->queue, &b->link);
    sh->n_queued++;
    sh->pending_spans += b->n_spans;
    sh->pending_bytes += b->body.len;
    sh_kick(sh);
    return 0;
}

void
ship_take_all(struct ship *sh, void (*fn)(struct batch *b, void *arg), void *arg)
{
    struct batch *b = sh->inflight;

    sh->inflight = NULL;
    sh_close(sh);
    ev_timer_stop(sh->loop, &sh->backoff);
    sh->backing_off = true; /* nothing more is sent */
    if (b != NULL) {
        sh_unqueue(sh, b, true);
        fn(b, arg);
    }
    while (!list_empty(&sh->queue)) {
        b = list_entry(sh->queue.next, struct batch, link);
        list_remove(&b->link);
        sh->n_queued--;
        sh_unqueue(sh, b, true);
        fn(b, arg);
    }
}

uint64_t
ship_pending_spans(const struct ship *sh)
{
    return sh->pending_spans;
}

uint64_t
ship_pending_bytes(const struct ship *sh)
{
    return sh->pending_bytes;
}

unsigned
ship_pending_batches(const struct ship *sh)
{
    return sh->n_queued + (sh->inflight != NULL);
}

int
ship_reachable(const struct ship *sh)
{
    return sh->reachable;
}

void
ship_hurry(struct ship *sh)
{
    if (!sh->backing_off)
        return;
    sh->backing_off = false;
    ev_timer_stop(sh->loop, &sh->backoff);
    sh_kick(sh);
}
