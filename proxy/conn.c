/* proxy/conn.c - a client connection: reads requests, routes them, forwards them to an
 * upstream connection and streams the response back, in order, on a keep-alive
 * connection.
 *
 * States (struct conn.state):
 *
 *   IDLE ──first byte──► HEAD ──head parsed──► BINDING ──name bound──► PROXYING
 *     ▲                   │ (bad head: LOCAL 4xx)  │ (timeout: LOCAL 503)   │
 *     │                   ▼                        ▼                        │
 *     └──── keep-alive ── LOCAL (meshd's own response) ◄── upstream error ──┘
 *     └──────────────────────── response written, keep-alive ───────────────┘
 *
 * While PROXYING, both directions stream at once through fixed buffers: the request body
 * goes from conn.in to the upstream socket, the response from upconn.in to the client
 * socket. Bytes are never copied between buffers: heads are rewritten once into their
 * own buffer, bodies are written from where they were read. A side stops reading when
 * its buffer is full, so memory per connection is bounded whatever the body size.
 *
 * Lifetime: conn_close() only marks; the outermost callback frame frees (refs). */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <ev.h>

#include "common/cfg.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/stats.h"
#include "common/strbuf.h"
#include "proxy/dtab.h"
#include "proxy/proxy.h"

#define CONN_MAX_ATTEMPTS 3       /* upstream attempts when connecting fails */
#define UPSTREAM_READ_TIMEOUT_MS 60000 /* no byte from upstream for this long: 504 */

static void conn_run(struct conn *c);
static void conn_update_io(struct conn *c);
static void conn_destroy(struct conn *c);
static void request_reset(struct conn *c);
static void respond_local(struct conn *c, int status, const char *reason, const char *msg);

static struct log_ratelimit client_err_rl = LOG_RATELIMIT_INIT(1000000, 10);
static struct log_ratelimit upstream_err_rl = LOG_RATELIMIT_INIT(1000000, 10);

/* ---- small helpers ------------------------------------------------------------------ */

static const char *
status_reason(int status)
{
    switch (status) {
    case 400: return "Bad Request";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Error";
    }
}

/* l5d-err is URL-encoded as Java's URLEncoder does (Linkerd's format). */
static void
add_urlencoded(struct strbuf *sb, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";

    for (; *s; s++) {
        unsigned char ch = (unsigned char) *s;

        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            ch == '.' || ch == '-' || ch == '*' || ch == '_') {
            strbuf_addc(sb, (char) ch);
        } else if (ch == ' ') {
            strbuf_addc(sb, '+');
        } else {
            strbuf_addc(sb, '%');
            strbuf_addc(sb, hex[ch >> 4]);
            strbuf_addc(sb, hex[ch & 15]);
        }
    }
}

static int
append(struct buf *b, const char *s, size_t len)
{
    return buf_append(b, s, len);
}

static int
appends(struct buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

static int
append_header(struct buf *b, const char *name, size_t nlen, const char *value, size_t vlen)
{
    if (nlen + vlen + 4 > buf_room(b))
        return -ENOSPC;
    memcpy(b->data + b->end, name, nlen);
    b->end += (uint32_t) nlen;
    b->data[b->end++] = ':';
    b->data[b->end++] = ' ';
    memcpy(b->data + b->end, value, vlen);
    b->end += (uint32_t) vlen;
    b->data[b->end++] = '\r';
    b->data[b->end++] = '\n';
    return 0;
}

static void
stats_finish(struct scope_stats *s, bool ok, uint64_t dur_us)
{
    stats_inc(s->requests, 1);
    stats_inc(ok ? s->success : s->failures, 1);
    stats_gauge_add(s->pending, -1);
    if (s->latency)
        stats_hist_record(s->latency, dur_us);
}

/* ---- timers ------------------------------------------------------------------------- */

static void
conn_set_deadline(struct conn *c, uint64_t deadline_us)
{
    c->deadline_us = deadline_us;
    if (deadline_us == 0)
        return; /* an armed timer finds no deadline and stops itself */
    if (c->timer_due_us == 0 || deadline_us < c->timer_due_us) {
        uint64_t now = clock_mono_us();
        double after = deadline_us > now ? (double) (deadline_us - now) / 1e6 : 0.0;

        ev_timer_stop(c->worker->loop, &c->timer);
        ev_timer_set(&c->timer, after, 0.);
        ev_timer_start(c->worker->loop, &c->timer);
        c->timer_due_us = deadline_us;
    }
}

static uint64_t
ms_from_now(uint64_t now, uint32_t ms)
{
    return ms ? now + (uint64_t) ms * 1000u : 0;
}

/* When an idle keep-alive connection is closed: after meshd.idleTimeoutMs, or, in a
 * draining worker, after the shorter drain idle timeout (worker_start_drain). */
static uint64_t
conn_idle_deadline(const struct conn *c)
{
    const struct worker *w = c->worker;
    uint32_t ms = w->cfg->meshd.idle_timeout_ms;

    if (w->draining && (ms == 0 || ms > w->drain_idle_ms))
        ms = w->drain_idle_ms;
    return ms_from_now(clock_mono_us(), ms);
}

static void
conn_on_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct conn *c = container_of(t, struct conn, timer);
    uint64_t now = clock_mono_us();

    (void) revents;
    c->timer_due_us = 0;
    if (c->deadline_us == 0)
        return;
    if (now + 1000 < c->deadline_us) { /* not yet: re-arm lazily */
        uint64_t d = c->deadline_us;

        c->deadline_us = 0;
        conn_set_deadline(c, d);
        return;
    }
    c->refs++;
    c->deadline_us = 0;
    switch (c->state) {
    case CONN_IDLE:
        conn_close(c); /* keep-alive idle timeout: close quietly */
        break;
    case CONN_HEAD:
        respond_local(c, 408, "request header timeout",
                      "the request head did not arrive within the header timeout");
        c->close_after = true;
        break;
    case CONN_BINDING:
        snprintf(c->req.why, sizeof(c->req.why), "binding timeout: %s", c->req.path);
        respond_local(c, 503, "binding timeout", c->req.why);
        break;
    case CONN_PROXYING:
        if (c->req.resp_head_done) {
            conn_close(c); /* mid-response: nothing else can be said */
        } else {
            snprintf(c->req.why, sizeof(c->req.why), "request timeout: %s", c->req.path);
            respond_local(c, 504, "request timeout", c->req.why);
        }
        break;
    case CONN_LOCAL:
        conn_close(c); /* client does not read its response */
        break;
    }
    if (!c->closing)
        conn_run(c);
    c->refs--;
    if (c->closing && c->refs == 0)
        conn_destroy(c);
    (void) loop;
}

/* ---- lifecycle ---------------------------------------------------------------------- */

static void conn_on_io(struct ev_loop *loop, ev_io *w, int revents);

void
conn_accept(struct worker *w, struct listener *l, int fd, const struct sockaddr *sa,
            socklen_t salen)
{
    struct conn *c = calloc(1, sizeof(*c));
    int one = 1;

    if (c == NULL) {
        (void) close(fd);
        return;
    }
    (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->fd = fd;
    c->worker = w;
    c->listener = l;
    c->state = CONN_IDLE;
    c->rd_ready = true; /* clients usually send their request right after connecting */
    if (salen <= sizeof(c->peer)) {
        memcpy(&c->peer, sa, salen);
        c->peer_len = salen;
    }
    list_init(&c->wait_link);
    list_insert_tail(&w->conns, &c->link);
    w->n_conns++;
    ev_io_init(&c->io, conn_on_io, fd, 0);
    ev_init(&c->timer, conn_on_timer);
    stats_inc(l->connects, 1);
    stats_gauge_add(l->connections, 1);
    conn_set_deadline(c, conn_idle_deadline(c));
    c->refs++;
    conn_run(c);
    c->refs--;
    if (c->closing && c->refs == 0)
        conn_destroy(c);
}

void
conn_close(struct conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    ev_io_stop(c->worker->loop, &c->io);
    ev_timer_stop(c->worker->loop, &c->timer);
    if (list_linked(&c->wait_link))
        list_remove(&c->wait_link);
}

/* Records the request's spans (when sampled). <error> is NULL for a success. */
static void
request_trace_finish(struct conn *c, int status, const char *error)
{
    struct request *r = &c->req;
    struct trace_outcome o = {
        .status = status,
        .error = error,
        .client_id = r->client ? r->client->id : NULL,
        .residual = r->residual,
        .upstream = r->have_up_addr ? &r->up_addr : NULL,
        .attempts = r->attempts,
        .req_bytes = r->req_bytes,
        .resp_bytes = r->resp_bytes,
    };

    if (r->trace.sampled)
        trace_finish(c, &r->trace, &o);
}

static void
conn_destroy(struct conn *c)
{
    struct worker *w = c->worker;

    if (c->state == CONN_PROXYING || c->state == CONN_BINDING || c->state == CONN_LOCAL) {
        /* an aborted request still counts, as a failure */
        if (c->req.service)
            stats_finish(&c->req.service->stats, false, clock_mono_us() - c->req.start_us);
        if (c->req.client)
            stats_finish(&c->req.client->stats, false, clock_mono_us() - c->req.start_us);
        stats_finish(&c->listener->stats, false, clock_mono_us() - c->req.start_us);
        request_trace_finish(c, c->req.status ? c->req.status : 499,
                             c->req.why[0] ? c->req.why : "connection closed");
    }
    if (c->up) {
        c->up->conn = NULL;
        upconn_close(c->up);
        c->up = NULL;
    }
    request_reset(c);
    c->in = buf_put(&w->bufs, c->in);
    c->out = buf_put(&w->bufs, c->out);
    (void) close(c->fd);
    stats_gauge_add(c->listener->connections, -1);
    list_remove(&c->link);
    w->n_conns--;
    free(c);
    worker_conn_closed(w);
}

/* Forget the current request: called when it is finished (or the conn dies). */
static void
request_reset(struct conn *c)
{
    struct request *r = &c->req;

    r->head = buf_put(&c->worker->bufs, r->head);
    r->local_dtab = dtab_free(r->local_dtab);
    memset(r, 0, sizeof(*r));
}

void
conn_abort(struct conn *c)
{
    conn_close(c);
    if (c->refs == 0)
        conn_destroy(c);
}

void
conn_drain(struct conn *c)
{
    uint64_t d = conn_idle_deadline(c);

    if (c->state == CONN_IDLE && (c->deadline_us == 0 || d < c->deadline_us))
        conn_set_deadline(c, d);
}

/* ---- client I/O --------------------------------------------------------------------- */

/* Reads what the client sent into c->in. Returns >0 bytes read, 0 when nothing more is
 * available now (or no room), -1 when the client closed or failed (c is closing). */
static int
read_client(struct conn *c)
{
    ssize_t n;

    if (c->in == NULL) {
        c->in = buf_get(&c->worker->bufs);
        if (c->in == NULL) {
            conn_close(c);
            return -1;
        }
    }
    if (buf_room(c->in) == 0)
        buf_compact(c->in);
    if (buf_room(c->in) == 0)
        return 0;
    if (!c->rd_ready) {
        /* the last read drained the socket: let epoll say when more arrives */
        c->want_read = true;
        return 0;
    }
    n = read(c->fd, c->in->data + c->in->end, buf_room(c->in));
    if (n > 0) {
        if ((uint32_t) n < buf_room(c->in))
            c->rd_ready = false; /* a short read emptied the socket */
        c->in->end += (uint32_t) n;
        stats_inc(c->listener->received_bytes, (uint64_t) n);
        return (int) n;
    }
    if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
        c->rd_ready = false;
        c->want_read = true;
        return 0;
    }
    conn_close(c);
    return -1;
}

/* Writes c->out and then up to <body_len> bytes at <body> to the client in one writev.
 * Returns body bytes written (>= 0), or -1 when the client failed (c is closing). */
static ssize_t
write_client(struct conn *c, const char *body, size_t body_len)
{
    struct iovec iov[2];
    int n_iov = 0;
    size_t out_len = c->out ? buf_len(c->out) : 0;
    ssize_t n;

    if (out_len) {
        iov[n_iov].iov_base = c->out->data + c->out->start;
        iov[n_iov++].iov_len = out_len;
    }
    if (body_len) {
        iov[n_iov].iov_base = (void *) body;
        iov[n_iov++].iov_len = body_len;
    }
    if (n_iov == 0)
        return 0;
    n = writev(c->fd, iov, n_iov);
    if (n == -1) {
        if (errno == EAGAIN || errno == EINTR) {
            c->want_write = true;
            return 0;
        }
        conn_close(c);
        return -1;
    }
    stats_inc(c->listener->sent_bytes, (uint64_t) n);
    if ((size_t) n < out_len + body_len)
        c->want_write = true;
    if (out_len) {
        size_t from_out = MESH_MIN((size_t) n, out_len);

        c->out->start += (uint32_t) from_out;
        n -= (ssize_t) from_out;
        if (buf_len(c->out) == 0)
            c->out = buf_put(&c->worker->bufs, c->out);
    }
    return n;
}

/* ---- local responses ---------------------------------------------------------------- */

static void
respond_local(struct conn *c, int status, const char *reason, const char *msg)
{
    struct worker *w = c->worker;
    struct strbuf sb = STRBUF_INIT;
    const char *body_msg = msg ? msg : reason;
    bool body_pending;

    if (c->up) {
        c->up->conn = NULL;
        upconn_close(c->up);
        c->up = NULL;
    }
    if (list_linked(&c->wait_link))
        list_remove(&c->wait_link);
    /* The request body may still be on its way: the connection cannot be reused
     * unless the body was fully consumed. */
    body_pending = !c->req.req_done && (c->req.body_chunked || c->req.body_left > 0);
    if (body_pending || status == 400 || status == 408 || status == 414 || status == 431 ||
        status == 505 || status == 501)
        c->close_after = true;
    if (!c->req.keep_alive || w->draining)
        c->close_after = true;

    strbuf_addf(&sb, "HTTP/1.1 %d %s\r\n", status, status_reason(status));
    strbuf_adds(&sb, "l5d-err: ");
    add_urlencoded(&sb, body_msg);
    strbuf_addf(&sb, "\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\nVia: %s\r\n%s\r\n",
                strlen(body_msg) + 1, c->listener->router->via,
                c->close_after ? "Connection: close\r\n" : "");
    strbuf_adds(&sb, body_msg);
    strbuf_addc(&sb, '\n');

    if (c->out == NULL)
        c->out = buf_get(&w->bufs);
    if (c->out == NULL || buf_append(c->out, sb.s, sb.len) != 0) {
        conn_close(c);
        strbuf_fini(&sb);
        return;
    }
    strbuf_fini(&sb);
    if (status >= 400 && status < 500)
        stats_inc(c->listener->rejected, 1);
    if (log_get_level() >= LOG_LEVEL_INFO || status >= 502) {
        if (log_ratelimit_ok(status >= 500 ? &upstream_err_rl : &client_err_rl))
            log_info("%s: %d %s (%s)", status >= 500 ? "upstream" : "client", status, reason,
                     body_msg);
    }
    c->req.status = status;
    c->state = CONN_LOCAL;
    c->deadline_us = 0;
    conn_set_deadline(c, ms_from_now(clock_mono_us(), w->cfg->meshd.idle_timeout_ms));
}

/* A local response was written: finish the request's books and go on. */
static void
local_done(struct conn *c)
{
    uint64_t dur = clock_mono_us() - c->req.start_us;
    bool ok = c->req.status < 500;

    if (c->req.service)
        stats_finish(&c->req.service->stats, ok, dur);
    if (c->req.client)
        stats_finish(&c->req.client->stats, ok, dur);
    stats_finish(&c->listener->stats, ok, dur);
    request_trace_finish(c, c->req.status, c->req.why[0] ? c->req.why : "error");
    request_reset(c);
    c->state = CONN_IDLE; /* the request's books are closed */
    if (c->close_after) {
        shutdown(c->fd, SHUT_WR);
        conn_close(c);
        return;
    }
    conn_set_deadline(c, conn_idle_deadline(c));
}

/* ---- request start ------------------------------------------------------------------ */

/* Splits an absolute-form target "http://authority/path?q" into authority and path.
 * Returns 0, or -EINVAL for another scheme or a malformed authority. */
static int
split_absolute(const char *t, size_t len, const char **host, size_t *host_len, const char **uri,
               size_t *uri_len)
{
    size_t i = 7;
    size_t start;

    if (len < 8 || strncasecmp(t, "http://", 7) != 0)
        return -EINVAL;
    start = i;
    while (i < len && t[i] != '/' && t[i] != '?')
        i++;
    if (i == start)
        return -EINVAL;
    *host = t + start;
    *host_len = i - start;
    if (i == len) {
        *uri = "/";
        *uri_len = 1;
    } else if (t[i] == '?') {
        /* "http://h?q" has an empty path: origin-form needs "/" first; keep it simple */
        return -EINVAL;
    } else {
        *uri = t + i;
        *uri_len = len - i;
    }
    return 0;
}

/* Builds the head meshd sends upstream into c->req.head, without the l5d-dst-client and
 * residual lines and the final CRLF (added once the name is bound). */
static int
build_request_head(struct conn *c, const struct http1_request *hr, const struct ident_input *in,
                   bool absolute)
{
    struct request *r = &c->req;
    struct buf *b;
    const struct router *rt = c->listener->router;
    bool clear = c->listener->server->clear_context;
    char via[1024];
    size_t via_len = 0;
    int e = 0;

    b = r->head = buf_get(&c->worker->bufs);
    if (b == NULL)
        return -ENOMEM;
    e |= append(b, hr->method, hr->method_len);
    e |= append(b, " ", 1);
    e |= append(b, in->uri, in->uri_len);
    e |= appends(b, hr->minor_version == 0 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n");
    if (absolute)
        e |= append_header(b, "Host", 4, in->host, in->host_len);

    for (size_t i = 0; i < hr->n_headers && e == 0; i++) {
        const struct http1_header *h = &hr->headers[i];

        switch (h->id) {
        case HTTP1_HDR_TRANSFER_ENCODING:
            break; /* validated as exactly "chunked": kept, we pass the chunks through */
        case HTTP1_HDR_HOST:
            if (absolute)
                continue;
            break;
        case HTTP1_HDR_VIA:
            if (via_len + h->value_len + 2 < sizeof(via)) {
                memcpy(via + via_len, h->value, h->value_len);
                via_len += h->value_len;
                via[via_len++] = ',';
                via[via_len++] = ' ';
            }
            continue;
        case HTTP1_HDR_L5D:
            if (clear)
                continue;
            if (util_strcaseeq(h->name, h->name_len, "l5d-dtab") ||
                util_strcaseeq(h->name, h->name_len, "l5d-ctx-dtab") ||
                util_strcaseeq(h->name, h->name_len, "l5d-dst-service") ||
                util_strcaseeq(h->name, h->name_len, "l5d-dst-client") ||
                util_strcaseeq(h->name, h->name_len, "l5d-dst-residual"))
                continue; /* consumed here, or set by us below */
            break;
        default:
            if (h->flags & HTTP1_HDR_F_HOP)
                continue;
            break;
        }
        if (trace_header_replaced(h))
            continue; /* written below from this hop's client span */
        e |= append_header(b, h->name, h->name_len, h->value, h->value_len);
    }
    if (e == 0 && trace_write_headers(&r->trace, rt->cfg->trace_write, b) != 0)
        e = -1;
    if (e == 0) {
        e |= appends(b, "Via: ");
        e |= append(b, via, via_len);
        e |= appends(b, rt->via);
        e |= appends(b, "\r\n");
    }
    if (e == 0 && hr->minor_version == 0)
        e |= appends(b, "Connection: keep-alive\r\n");
    if (e == 0 && r->local_dtab) {
        struct strbuf sb = STRBUF_INIT;

        dtab_show(r->local_dtab, &sb);
        e |= append_header(b, "l5d-ctx-dtab", 12, strbuf_str(&sb), sb.len);
        strbuf_fini(&sb);
    }
    if (e == 0)
        e |= append_header(b, "l5d-dst-service", 15, r->path, strlen(r->path));
    return e ? -ENOSPC : 0;
}

/* Collects l5d-ctx-dtab then l5d-dtab (in that order, all instances) into the
 * request's local dtab. Returns -EBADMSG with c->req.why set on a parse error. */
static int
collect_local_dtab(struct conn *c, const struct http1_request *hr)
{
    static const char *const names[] = {"l5d-ctx-dtab", "l5d-dtab"};
    struct dtab *acc = NULL;

    if (c->listener->server->clear_context)
        return 0;
    for (size_t k = 0; k < ARRAY_SIZE(names); k++) {
        for (size_t i = 0; i < hr->n_headers; i++) {
            const struct http1_header *h = &hr->headers[i];
            struct dtab_err err;
            struct dtab *d, *joined;

            if (h->id != HTTP1_HDR_L5D || !util_strcaseeq(h->name, h->name_len, names[k]))
                continue;
            d = dtab_parse(h->value, h->value_len, &err);
            if (d == NULL) {
                snprintf(c->req.why, sizeof(c->req.why), "invalid %s: %s", names[k], err.msg);
                dtab_free(acc);
                return -EBADMSG;
            }
            joined = dtab_concat(acc, d);
            dtab_free(acc);
            dtab_free(d);
            acc = joined;
        }
    }
    c->req.local_dtab = acc;
    return 0;
}

static void start_binding(struct conn *c);

/* A request head of <head_len> bytes was parsed from c->in into <hr>. */
static void
start_request(struct conn *c, const struct http1_request *hr, int head_len)
{
    struct request *r = &c->req;
    struct router *rt = c->listener->router;
    struct ident_input in = {.req = hr, .host = hr->host, .host_len = hr->host_len,
                             .uri = hr->target, .uri_len = hr->target_len};
    bool absolute = false;
    uint64_t now = clock_mono_us();

    r->is_head = hr->is_head;
    r->keep_alive = hr->keep_alive;
    r->expect_continue = hr->expect_continue;
    r->minor_version = hr->minor_version;
    r->body_chunked = hr->body == HTTP1_BODY_CHUNKED;
    r->body_left = hr->body == HTTP1_BODY_LENGTH ? hr->content_length : 0;
    stats_gauge_add(c->listener->stats.pending, 1);
    c->state = CONN_BINDING; /* for the books if a local response follows */

    if (hr->target_len > 0 && hr->target[0] != '/') {
        if (split_absolute(hr->target, hr->target_len, &in.host, &in.host_len, &in.uri,
                           &in.uri_len) != 0) {
            c->in->start += (uint32_t) head_len;
            respond_local(c, 400, "bad request target",
                          "request target must be origin-form or an absolute http:// URI");
            return;
        }
        absolute = true;
    }
    if (c->worker->draining)
        c->close_after = true;
    trace_begin(&r->trace, c->worker, hr, rt->cfg->trace_read, c->listener->server->clear_context,
                in.uri, in.uri_len, in.host, in.host_len);
    if (collect_local_dtab(c, hr) != 0) {
        c->in->start += (uint32_t) head_len;
        respond_local(c, 400, "invalid dtab", r->why);
        return;
    }
    if (router_identify(rt, &in, r->path, sizeof(r->path), r->why, sizeof(r->why)) != 0) {
        c->in->start += (uint32_t) head_len;
        respond_local(c, 400, "unknown destination", r->why);
        return;
    }
    r->service = router_service(rt, r->path);
    if (r->service)
        stats_gauge_add(r->service->stats.pending, 1);
    r->deadline_us = ms_from_now(r->start_us, rt->cfg->service.total_timeout_ms);
    if (r->deadline_us) {
        /* our own timeout travels as l5d-ctx-deadline, merged with any the caller set */
        struct trace_deadline d;
        int64_t wall_ns = (int64_t) clock_wall_us() * 1000;

        d.timestamp_ns = wall_ns;
        d.deadline_ns = wall_ns + (int64_t) (r->deadline_us > now ? r->deadline_us - now : 0) * 1000;
        tracectx_deadline_merge(&r->trace.deadline, &d);
    }
    if (build_request_head(c, hr, &in, absolute) != 0) {
        c->in->start += (uint32_t) head_len;
        respond_local(c, 431, "request head too large", "request head too large to forward");
        return;
    }
    /* The head is copied out: what stays in c->in is body (and pipelined requests). */
    c->in->start += (uint32_t) head_len;
    r->binding_deadline_us = ms_from_now(now, rt->cfg->binding_timeout_ms);
    start_binding(c);
}

/* ---- binding and upstream ----------------------------------------------------------- */

static void start_upstream(struct conn *c);

static void
start_binding(struct conn *c)
{
    struct request *r = &c->req;
    struct router *rt = c->listener->router;
    struct worker *w = c->worker;
    struct name_bound nb;
    const struct dtab *d = rt->dtab;
    struct dtab *joined = NULL;
    int rc;

    if (r->local_dtab) {
        joined = dtab_concat(rt->dtab, r->local_dtab);
        d = joined;
    }
    rc = naming_bind_router(w->naming, rt->cfg->label, d, r->path, strlen(r->path), &nb, r->why,
                            sizeof(r->why));
    dtab_free(joined);
    if (rc == -EAGAIN) {
        c->state = CONN_BINDING;
        if (!list_linked(&c->wait_link))
            list_insert_tail(&w->binding_wait, &c->wait_link);
        conn_set_deadline(c, r->deadline_us && r->deadline_us < r->binding_deadline_us
                                 ? r->deadline_us
                                 : r->binding_deadline_us);
        return;
    }
    if (list_linked(&c->wait_link))
        list_remove(&c->wait_link);
    if (rc == -EINVAL) {
        respond_local(c, 400, "invalid name", r->why[0] ? r->why : "identified name is not a path");
        return;
    }
    if (rc != 0) {
        char msg[256];

        snprintf(msg, sizeof(msg), "no route for %s: %s", r->path,
                 r->why[0] ? r->why : "no endpoints");
        snprintf(r->why, sizeof(r->why), "%s", msg);
        respond_local(c, 503, "no route", r->why);
        return;
    }
    r->client = router_client(rt, &nb);
    if (r->client == NULL) {
        name_bound_fini(&nb);
        respond_local(c, 503, "out of memory", "cannot create client");
        return;
    }
    stats_gauge_add(r->client->stats.pending, 1);
    /* The rest of the upstream head: bound name and residual, then the blank line. */
    if (append_header(r->head, "l5d-dst-client", 14, nb.id, strlen(nb.id)) != 0 ||
        (nb.residual[0] &&
         append_header(r->head, "l5d-dst-residual", 16, nb.residual, strlen(nb.residual)) != 0) ||
        append(r->head, "\r\n", 2) != 0) {
        name_bound_fini(&nb);
        respond_local(c, 431, "request head too large", "request head too large to forward");
        return;
    }
    snprintf(r->residual, sizeof(r->residual), "%s", nb.residual);
    name_bound_fini(&nb);
    c->state = CONN_PROXYING;
    conn_set_deadline(c, r->deadline_us);
    start_upstream(c);
}

void
conn_binding_retry(struct conn *c)
{
    if (c->state != CONN_BINDING || c->closing)
        return;
    c->refs++;
    start_binding(c);
    if (!c->closing)
        conn_run(c);
    c->refs--;
    if (c->closing && c->refs == 0)
        conn_destroy(c);
}

static void
start_upstream(struct conn *c)
{
    struct request *r = &c->req;
    struct worker *w = c->worker;
    struct endpoint_state *ep;
    struct upconn *u;

    for (;;) {
        ep = upstream_pick(w, r->client, r->failed_ep);
        if (ep == NULL) {
            snprintf(r->why, sizeof(r->why), "no endpoints for %s (%s)", r->path, r->client->id);
            respond_local(c, 503, "no endpoints", r->why);
            return;
        }
        r->attempts++;
        u = upstream_acquire(w, r->client, ep);
        if (u != NULL)
            break;
        upstream_record(r->client, ep, false);
        r->failed_ep = ep;
        if (r->attempts >= CONN_MAX_ATTEMPTS) {
            snprintf(r->why, sizeof(r->why), "cannot connect to %s for %s: %s", ep->label,
                     r->path, strerror(errno));
            respond_local(c, 502, "connection failed", r->why);
            return;
        }
    }
    u->conn = c;
    c->up = u;
    trace_client_start(&r->trace);
    memcpy(&r->up_addr, &ep->addr, ep->addr_len);
    r->have_up_addr = true;
    r->head_off = 0;
    r->head_sent = false;
    u->deadline_us = 0;
}

/* Another attempt after a connection failure that provably sent nothing usable. */
static void
retry_upstream(struct conn *c, const char *what)
{
    struct request *r = &c->req;

    if (c->up) {
        r->failed_ep = c->up->ep;
        c->up->conn = NULL;
        upconn_close(c->up);
        c->up = NULL;
    }
    if (r->attempts >= CONN_MAX_ATTEMPTS) {
        snprintf(r->why, sizeof(r->why), "%s for %s (%s)", what, r->path, r->client->id);
        respond_local(c, 502, what, r->why);
        return;
    }
    start_upstream(c);
}

void
conn_on_upstream_error(struct conn *c, int err, bool timeout)
{
    struct request *r = &c->req;
    struct upconn *u = c->up;
    bool connecting = u && u->state == UPCONN_CONNECTING;

    c->refs++;
    if (u)
        upstream_record(r->client, u->ep, false);
    if (timeout && connecting) {
        snprintf(r->why, sizeof(r->why), "timeout connecting to %s for %s",
                 u ? u->ep->label : "?", r->path);
        respond_local(c, 504, "connect timeout", r->why);
    } else if (timeout) {
        snprintf(r->why, sizeof(r->why), "timeout waiting for %s (%s)", r->path,
                 u ? u->ep->label : "?");
        if (r->resp_head_done)
            conn_close(c);
        else
            respond_local(c, 504, "upstream timeout", r->why);
    } else if (connecting) {
        char what[128];

        snprintf(what, sizeof(what), "connection to %s failed: %s", u->ep->label, strerror(err));
        retry_upstream(c, what);
    } else if (!r->resp_head_done) {
        snprintf(r->why, sizeof(r->why), "upstream %s reset the connection (%s) for %s",
                 u ? u->ep->label : "?", strerror(err), r->path);
        respond_local(c, 502, "upstream reset", r->why);
    } else {
        conn_close(c); /* mid-response: the client sees the connection end */
    }
    if (!c->closing)
        conn_run(c);
    c->refs--;
    if (c->closing && c->refs == 0)
        conn_destroy(c);
}

void
conn_on_upstream_connected(struct conn *c)
{
    upstream_record(c->req.client, c->up->ep, true);
    conn_on_upstream_io(c, EV_WRITE);
}

void
conn_on_upstream_io(struct conn *c, int revents)
{
    (void) revents;
    c->refs++;
    conn_run(c);
    c->refs--;
    if (c->closing && c->refs == 0)
        conn_destroy(c);
}

/* ---- proxying: request direction ---------------------------------------------------- */

/* Finds how many bytes at the front of c->in belong to the request body. */
static int
scan_request_body(struct conn *c)
{
    struct request *r = &c->req;
    uint32_t avail = c->in ? buf_len(c->in) : 0;

    if (r->body_chunked) {
        size_t used = 0;
        struct http1_error err;
        int rc;

        if (r->req_ready >= avail || r->req_chunked.state < 0)
            return 0;
        rc = http1_chunked_scan(&r->req_chunked, c->in->data + c->in->start + r->req_ready,
                                avail - r->req_ready, &used, &err);
        if (rc < 0) {
            snprintf(r->why, sizeof(r->why), "bad chunked request body: %s", err.reason);
            return -1;
        }
        r->req_ready += (uint32_t) used;
        if (rc == 1)
            r->req_chunked.state = -1; /* end seen: no more scanning */
    } else {
        r->req_ready = (uint32_t) MESH_MIN((uint64_t) avail, r->body_left);
    }
    return 0;
}

static bool
request_body_complete(const struct request *r)
{
    if (r->body_chunked)
        return r->req_chunked.state == -1 && r->req_ready == 0;
    return r->body_left == 0;
}

/* Moves the request towards the upstream. Returns true when it made progress. */
static bool
step_request(struct conn *c)
{
    struct request *r = &c->req;
    struct upconn *u = c->up;
    struct iovec iov[2];
    int n_iov = 0;
    size_t head_len = 0, body_len;
    ssize_t n;

    if (u == NULL || u->state != UPCONN_BUSY || r->req_done)
        return false;
    if (c->in && scan_request_body(c) != 0) {
        respond_local(c, 400, "bad request body", r->why);
        return true;
    }
    if (!r->head_sent) {
        head_len = r->head->end - r->head_off;
        iov[n_iov].iov_base = r->head->data + r->head_off;
        iov[n_iov++].iov_len = head_len;
    }
    body_len = r->req_ready;
    if (body_len) {
        iov[n_iov].iov_base = c->in->data + c->in->start;
        iov[n_iov++].iov_len = body_len;
    }
    if (n_iov == 0) {
        if (request_body_complete(r)) {
            r->req_done = true;
            return true;
        }
        /* need more body from the client */
        if (c->in == NULL || buf_room(c->in) > 0 || c->in->start > 0) {
            int rd = read_client(c);

            if (rd < 0) {
                return true; /* client went away mid-body */
            }
            return rd > 0;
        }
        return false;
    }
    n = writev(u->fd, iov, n_iov);
    if (n == -1) {
        if (errno == EAGAIN || errno == EINTR) {
            u->want_write = true;
            return false;
        }
        if (r->attempts < CONN_MAX_ATTEMPTS && u->reused && r->head_off == 0 &&
            r->req_bytes == 0) {
            retry_upstream(c, "stale keep-alive connection");
            return true;
        }
        conn_on_upstream_error(c, errno, false);
        return true;
    }
    if ((size_t) n < head_len + body_len)
        u->want_write = true;
    u->deadline_us = ms_from_now(clock_mono_us(), UPSTREAM_READ_TIMEOUT_MS);
    if (head_len) {
        size_t h = MESH_MIN((size_t) n, head_len);

        r->head_off += (uint32_t) h;
        n -= (ssize_t) h;
        if (r->head_off == r->head->end) {
            r->head_sent = true;
            /* keep r->head: a retry on a fresh connection replays it */
        }
    }
    if (n > 0) {
        c->in->start += (uint32_t) n;
        r->req_ready -= (uint32_t) n;
        r->req_bytes += (uint64_t) n;
        if (!r->body_chunked)
            r->body_left -= (uint64_t) n;
    }
    if (r->head_sent && request_body_complete(r))
        r->req_done = true;
    return true;
}

/* ---- proxying: response direction --------------------------------------------------- */

/* Rewrites the upstream's response head into c->out. */
static int
build_response_head(struct conn *c, const struct http1_response *hr)
{
    struct request *r = &c->req;
    bool clear = c->listener->server->clear_context;
    struct buf *b;
    char line[64];
    char via[1024];
    size_t via_len = 0;
    int e = 0;

    if (c->out == NULL)
        c->out = buf_get(&c->worker->bufs);
    b = c->out;
    if (b == NULL)
        return -ENOMEM;
    /* "HTTP/1.1 NNN " without printf: this runs for every response */
    memcpy(line, "HTTP/1.1 000 ", 13);
    line[9] = (char) ('0' + hr->status / 100 % 10);
    line[10] = (char) ('0' + hr->status / 10 % 10);
    line[11] = (char) ('0' + hr->status % 10);
    e |= append(b, line, 13);
    e |= append(b, hr->reason, hr->reason_len);
    e |= append(b, "\r\n", 2);
    for (size_t i = 0; i < hr->n_headers && e == 0; i++) {
        const struct http1_header *h = &hr->headers[i];

        if (h->id == HTTP1_HDR_VIA) {
            if (via_len + h->value_len + 2 < sizeof(via)) {
                memcpy(via + via_len, h->value, h->value_len);
                via_len += h->value_len;
                via[via_len++] = ',';
                via[via_len++] = ' ';
            }
            continue;
        }
        if (h->id == HTTP1_HDR_L5D && clear)
            continue;
        if ((h->flags & HTTP1_HDR_F_HOP) && h->id != HTTP1_HDR_TRANSFER_ENCODING)
            continue;
        e |= append_header(b, h->name, h->name_len, h->value, h->value_len);
    }
    if (e == 0) {
        e |= appends(b, "Via: ");
        e |= append(b, via, via_len);
        e |= appends(b, c->listener->router->via);
        e |= appends(b, "\r\n");
    }
    if (hr->status >= 200) {
        if (!r->keep_alive || hr->body == HTTP1_BODY_UNTIL_CLOSE || c->worker->draining)
            c->close_after = true;
        if (c->close_after)
            e |= appends(b, "Connection: close\r\n");
        else if (r->minor_version == 0)
            e |= appends(b, "Connection: keep-alive\r\n");
    }
    e |= append(b, "\r\n", 2);
    return e ? -ENOSPC : 0;
}

static bool
response_body_complete(const struct request *r)
{
    switch (r->resp_body) {
    case HTTP1_BODY_NONE: return r->resp_ready == 0;
    case HTTP1_BODY_LENGTH: return r->resp_left == 0;
    case HTTP1_BODY_CHUNKED: return r->resp_chunked.state == -1 && r->resp_ready == 0;
    case HTTP1_BODY_UNTIL_CLOSE: return false;
    }
    return false;
}

/* Whether writing the ready bytes (and the head, if still buffered) ends the response. */
static bool
response_ends_with_ready(const struct request *r)
{
    switch (r->resp_body) {
    case HTTP1_BODY_NONE: return true;
    case HTTP1_BODY_LENGTH: return r->resp_ready == r->resp_left;
    case HTTP1_BODY_CHUNKED: return r->resp_chunked.state == -1;
    case HTTP1_BODY_UNTIL_CLOSE: return false;
    }
    return false;
}

static void finish_request(struct conn *c);

/* Reads from the upstream. Returns >0 bytes, 0 nothing now, -1 EOF, -2 error (errno). */
static int
read_upstream(struct conn *c)
{
    struct upconn *u = c->up;
    ssize_t n;

    if (u->in == NULL) {
        u->in = buf_get(&c->worker->bufs);
        if (u->in == NULL) {
            errno = ENOMEM;
            return -2;
        }
    }
    if (buf_room(u->in) == 0)
        buf_compact(u->in);
    if (buf_room(u->in) == 0)
        return 0;
    if (!u->rd_ready) {
        u->want_read = true;
        return 0;
    }
    n = read(u->fd, u->in->data + u->in->end, buf_room(u->in));
    if (n > 0) {
        if ((uint32_t) n < buf_room(u->in))
            u->rd_ready = false;
        u->in->end += (uint32_t) n;
        u->deadline_us = ms_from_now(clock_mono_us(), UPSTREAM_READ_TIMEOUT_MS);
        return (int) n;
    }
    if (n == 0)
        return -1;
    if (errno == EAGAIN || errno == EINTR) {
        u->rd_ready = false;
        u->want_read = true;
        return 0;
    }
    return -2;
}

static bool
step_response(struct conn *c)
{
    struct request *r = &c->req;
    struct upconn *u = c->up;
    bool progress = false;
    int rd;

    if (u == NULL || u->state != UPCONN_BUSY)
        return false;
    if (!r->head_sent)
        return false; /* nothing to answer yet */

    if (!r->resp_head_done) {
        struct http1_header hdrs[256]; /* meshd.maxHeaders is at most 256 */
        struct http1_response hr;
        struct http1_error err;
        int rc = -EAGAIN;

        if (u->in && buf_len(u->in) > 0) {
            rc = http1_parse_response(u->in->data + u->in->start, buf_len(u->in),
                                      &c->worker->resp_limits, r->is_head, hdrs,
                                      MESH_MIN(ARRAY_SIZE(hdrs), c->worker->max_headers), &hr,
                                      &err);
        }
        if (rc == -EAGAIN) {
            if (u->in && buf_len(u->in) == u->in->size) {
                snprintf(r->why, sizeof(r->why), "response head from %s too large",
                         u->ep->label);
                respond_local(c, 502, "bad response", r->why);
                return true;
            }
            rd = read_upstream(c);
            if (rd > 0)
                return true;
            if (rd == 0)
                return false;
            if (rd == -1 && u->reused && (u->in == NULL || buf_len(u->in) == 0) &&
                r->req_bytes == 0 && request_body_complete(r)) {
                /* a pooled connection the upstream had already closed: try again */
                retry_upstream(c, "upstream closed a keep-alive connection");
                return true;
            }
            conn_on_upstream_error(c, rd == -1 ? ECONNRESET : errno, false);
            return true;
        }
        if (rc < 0) {
            snprintf(r->why, sizeof(r->why), "bad response from %s: %s", u->ep->label,
                     err.reason);
            respond_local(c, 502, "bad response", r->why);
            return true;
        }
        if (hr.status < 200) {
            /* 1xx: 100 Continue and friends go to the client as they are; 101 means a
             * protocol switch we did not ask for (Upgrade is stripped). */
            if (hr.status == 101) {
                snprintf(r->why, sizeof(r->why), "unexpected 101 from %s", u->ep->label);
                respond_local(c, 502, "bad response", r->why);
                return true;
            }
            if (build_response_head(c, &hr) != 0) {
                conn_close(c);
                return true;
            }
            u->in->start += (uint32_t) rc;
            return true;
        }
        r->status = hr.status;
        r->resp_body = hr.body;
        r->resp_left = hr.body == HTTP1_BODY_LENGTH ? hr.content_length : 0;
        r->resp_keep_alive = hr.keep_alive;
        if (build_response_head(c, &hr) != 0) {
            snprintf(r->why, sizeof(r->why), "response head from %s too large", u->ep->label);
            respond_local(c, 502, "bad response", r->why);
            return true;
        }
        u->in->start += (uint32_t) rc;
        r->resp_head_done = true;
        if (r->client && hr.status >= 100 && hr.status < 600)
            stats_inc(r->client->status_class[hr.status / 100], 1);
        progress = true;
    }

    /* body: find how much of u->in belongs to the response */
    if (u->in && buf_len(u->in) > r->resp_ready) {
        uint32_t avail = buf_len(u->in);

        switch (r->resp_body) {
        case HTTP1_BODY_NONE:
            break;
        case HTTP1_BODY_LENGTH:
            r->resp_ready = (uint32_t) MESH_MIN((uint64_t) avail, r->resp_left);
            break;
        case HTTP1_BODY_CHUNKED:
            if (r->resp_chunked.state != -1) {
                size_t used = 0;
                struct http1_error err;
                int rc = http1_chunked_scan(&r->resp_chunked,
                                            u->in->data + u->in->start + r->resp_ready,
                                            avail - r->resp_ready, &used, &err);

                if (rc < 0) {
                    log_info("upstream: bad chunked response from %s: %s, closing",
                             u->ep->label, err.reason);
                    conn_close(c);
                    return true;
                }
                r->resp_ready += (uint32_t) used;
                if (rc == 1)
                    r->resp_chunked.state = -1;
            }
            break;
        case HTTP1_BODY_UNTIL_CLOSE:
            r->resp_ready = avail;
            break;
        }
    }

    /* write what we have to the client */
    if ((c->out && buf_len(c->out)) || r->resp_ready) {
        ssize_t n;

        /* Zipkin's "ss": a server span ends when the response's last bytes go to the
         * kernel, not once the write returned (by then the client may have read them and
         * ended the span that is this one's parent) */
        if (r->trace.sampled && response_ends_with_ready(r))
            r->resp_sent_mono_us = clock_mono_us();
        n = write_client(c, r->resp_ready ? u->in->data + u->in->start : NULL, r->resp_ready);

        if (n < 0)
            return true;
        if (n > 0) {
            u->in->start += (uint32_t) n;
            r->resp_ready -= (uint32_t) n;
            r->resp_bytes += (uint64_t) n;
            if (r->resp_body == HTTP1_BODY_LENGTH)
                r->resp_left -= (uint64_t) n;
            progress = true;
        }
        if (c->out && buf_len(c->out))
            return progress; /* client is slow: wait for it */
    }
    if (response_body_complete(r)) {
        finish_request(c);
        return true;
    }
    /* need more from upstream */
    if (r->resp_ready == 0 && u->in && buf_len(u->in) == 0) {
        u->in->start = u->in->end = 0;
    }
    rd = read_upstream(c);
    if (rd > 0)
        return true;
    if (rd == -1 && r->resp_body == HTTP1_BODY_UNTIL_CLOSE && r->resp_ready == 0) {
        r->resp_keep_alive = false;
        finish_request(c);
        return true;
    }
    if (rd < 0) {
        /* upstream ended mid-body: the client cannot be told otherwise */
        log_info("upstream: %s closed mid-response for %s", u->ep->label, r->path);
        upstream_record(r->client, u->ep, false);
        conn_close(c);
        return true;
    }
    return progress;
}

static void
finish_request(struct conn *c)
{
    struct request *r = &c->req;
    struct upconn *u = c->up;
    uint64_t dur = clock_mono_us() - r->start_us;
    bool ok = r->status < 500;
    bool reusable = r->resp_keep_alive && r->req_done && u && (u->in == NULL ||
                                                                 buf_len(u->in) == 0);

    if (u) {
        upstream_record(r->client, u->ep, ok);
        u->conn = NULL;
        c->up = NULL;
        upstream_release(u, reusable);
    }
    if (r->service)
        stats_finish(&r->service->stats, ok, dur);
    if (r->client)
        stats_finish(&r->client->stats, ok, dur);
    stats_finish(&c->listener->stats, ok, dur);
    if (r->trace.sampled) {
        char err[16];

        snprintf(err, sizeof(err), "%d", r->status);
        request_trace_finish(c, r->status, ok ? NULL : err);
    }
    if (!r->req_done)
        c->close_after = true; /* the rest of the request body is still on the wire */
    request_reset(c);
    c->state = CONN_IDLE; /* the request's books are closed */
    if (c->close_after) {
        shutdown(c->fd, SHUT_WR);
        conn_close(c);
        return;
    }
    conn_set_deadline(c, conn_idle_deadline(c));
}

/* ---- the driver --------------------------------------------------------------------- */

/* Tries to parse a request head from c->in; reads more when needed. */
static bool
step_head(struct conn *c)
{
    struct worker *w = c->worker;
    struct http1_header hdrs[256]; /* meshd.maxHeaders is at most 256 */
    struct http1_request hr;
    struct http1_error err;
    int rc;

    if (c->in == NULL || buf_len(c->in) == 0) {
        int rd = read_client(c);

        if (rd <= 0) {
            /* nothing buffered: an idle connection holds no buffer */
            if (rd == 0 && c->in && buf_len(c->in) == 0)
                c->in = buf_put(&w->bufs, c->in);
            return false;
        }
    }
    rc = http1_parse_request(c->in->data + c->in->start, buf_len(c->in), &w->limits, hdrs,
                             MESH_MIN(ARRAY_SIZE(hdrs), w->max_headers), &hr, &err);
    if (rc == -EAGAIN) {
        int rd;

        if (c->state == CONN_IDLE) {
            c->state = CONN_HEAD;
            c->req.start_us = clock_mono_us();
            conn_set_deadline(c, ms_from_now(c->req.start_us, w->cfg->meshd.header_timeout_ms));
        }
        rd = read_client(c);
        if (rd == 0 && buf_room(c->in) == 0 && c->in->start == 0) {
            respond_local(c, 431, "request head too large", "request head too large");
            return true;
        }
        return rd > 0;
    }
    if (c->state == CONN_IDLE)
        c->req.start_us = clock_mono_us();
    if (rc < 0) {
        c->req.keep_alive = false;
        stats_gauge_add(c->listener->stats.pending, 1);
        c->state = CONN_BINDING;
        respond_local(c, err.status, err.reason, err.reason);
        c->close_after = true;
        return true;
    }
    start_request(c, &hr, rc);
    return true;
}

/* Bounded so one busy stream cannot starve the worker's other connections: after
 * CONN_RUN_ROUNDS steps that all made progress it yields, and a fed event brings it
 * back in the next loop iteration (the want flags of a round that made progress do not
 * say what to wait for). */
#define CONN_RUN_ROUNDS 64

/* While a response is due, bytes from the client are the next pipelined request (kept
 * for later) or its end of the connection (the request is abandoned, as nginx does). */
static bool
read_ahead(struct conn *c)
{
    int rd = read_client(c);

    if (rd < 0) {
        log_debug("client: closed while its response was due, abandoning %s", c->req.path);
        return true;
    }
    return rd > 0;
}

static void
conn_run(struct conn *c)
{
    int rounds;

    for (rounds = 0; rounds < CONN_RUN_ROUNDS && !c->closing; rounds++) {
        bool progress = false;

        c->want_read = c->want_write = false;
        if (c->up)
            c->up->want_read = c->up->want_write = false;
        switch (c->state) {
        case CONN_IDLE:
        case CONN_HEAD:
            progress = step_head(c);
            break;
        case CONN_BINDING:
            break;
        case CONN_PROXYING:
            progress = step_request(c);
            if (!c->closing && c->state == CONN_PROXYING)
                progress |= step_response(c);
            if (!c->closing && c->state == CONN_PROXYING && c->req.req_done && c->rd_ready)
                progress |= read_ahead(c);
            break;
        case CONN_LOCAL:
            if (c->out && buf_len(c->out)) {
                if (write_client(c, NULL, 0) < 0)
                    break;
            }
            if (c->out == NULL || buf_len(c->out) == 0) {
                local_done(c);
                progress = true;
            }
            break;
        }
        if (!progress)
            break;
    }
    if (c->closing)
        return;
    conn_update_io(c);
    if (rounds == CONN_RUN_ROUNDS)
        ev_feed_event(c->worker->loop, &c->io, EV_CUSTOM);
}

static void
conn_update_io(struct conn *c)
{
    struct ev_loop *loop = c->worker->loop;
    int ev = 0;

    if (c->state == CONN_IDLE || c->state == CONN_HEAD)
        ev |= EV_READ;
    if (c->want_read)
        ev |= EV_READ;
    if (c->want_write || (c->out && buf_len(c->out)))
        ev |= EV_WRITE;
    if (c->state == CONN_PROXYING && c->req.req_done) {
        /* Keep watching the client while the response is due, so that the interest set
         * does not change on every request (each change is an epoll_ctl): pipelined
         * bytes are read ahead into c->in, and a client that goes away is noticed.
         * Only a full buffer stops it. */
        if (c->in == NULL || buf_room(c->in) > 0 || c->in->start > 0)
            ev |= EV_READ;
    }
    if (c->state == CONN_BINDING)
        ev &= ~EV_READ; /* the body (if any) waits in the kernel until we know where to */
    if (ev != (c->io.events & (EV_READ | EV_WRITE)) || (ev && !ev_is_active(&c->io))) {
        ev_io_stop(loop, &c->io);
        ev_io_set(&c->io, c->fd, ev);
        if (ev)
            ev_io_start(loop, &c->io);
    }
    if (c->up) {
        struct upconn *u = c->up;
        int uev = 0;

        if (u->state == UPCONN_CONNECTING || u->want_write)
            uev |= EV_WRITE;
        if (u->want_read)
            uev |= EV_READ;
        if (uev != (u->io.events & (EV_READ | EV_WRITE)) || (uev && !ev_is_active(&u->io))) {
            ev_io_stop(loop, &u->io);
            ev_io_set(&u->io, u->fd, uev);
            if (uev)
                ev_io_start(loop, &u->io);
        }
        if (u->state == UPCONN_BUSY && u->want_read && u->deadline_us == 0)
            u->deadline_us = ms_from_now(clock_mono_us(), UPSTREAM_READ_TIMEOUT_MS);
        upstream_update_timer(u);
    }
}

static void
conn_on_io(struct ev_loop *loop, ev_io *w, int revents)
{
    struct conn *c = container_of(w, struct conn, io);

    (void) loop;
    if (revents & (EV_READ | EV_CUSTOM))
        c->rd_ready = true;
    if ((revents & EV_CUSTOM) && c->up)
        c->up->rd_ready = true; /* resumed after the fairness bound: look everywhere */
    c->refs++;
    conn_run(c);
    c->refs--;
    if (c->closing && c->refs == 0)
        conn_destroy(c);
}
