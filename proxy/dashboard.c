/* proxy/dashboard.c - the dashboard's admin routes: the page's static files (embedded at
 * build time, see proxy/dashboard/embed.py) and the relay to the node's meshagent.
 *
 * The browser only reaches meshd's admin port; the agent's query API listens on the
 * node's loopback. So GET /agent/api/v2/<rest>?<query> is sent on, unchanged, to the
 * agent's /api/v2/<rest>?<query>, without blocking the master's loop: a non-blocking
 * connect on that loop, one request with Connection: close, the answer read to EOF. The
 * admin connection is deferred (admin_defer) meanwhile. A relay is
 *
 *   CONNECTING -> SENDING -> RECEIVING -> done (admin_finish, freed)
 *
 * and any step may end early: refused or reset (502), RELAY_TIMEOUT_S passed (504), an
 * answer over RELAY_MAX_ANSWER bytes or not HTTP (502), or the admin connection going
 * away (cancel: freed silently). Errors are JSON {"error": "..."} so the page can say
 * "agent unreachable". At most RELAY_MAX relays run at once (503 beyond). */
#include "proxy/dashboard.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/cfg.h"
#include "common/net.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "proto/http1.h"
#include "proxy/admin.h"

#define RELAY_TIMEOUT_S  2.0                /* connect + answer, whole */
#define RELAY_MAX_ANSWER (4u * 1024 * 1024) /* bytes of the agent's answer, head included */
#define RELAY_MAX        16                 /* relays in flight */

enum relay_state {
    RELAY_CONNECTING = 1,
    RELAY_SENDING,
    RELAY_RECEIVING,
};

struct relay {
    struct ev_loop *loop;
    struct admin_conn *ac; /* the admin connection waiting for the answer */
    int fd;
    ev_io io;
    ev_timer timer;
    enum relay_state state;
    struct strbuf out; /* the request to the agent */
    size_t out_off;
    struct strbuf in; /* the agent's answer so far */
    char agent[96];   /* "ip:port", for messages */
};

static unsigned n_relays;

/* ---- the agent's address ------------------------------------------------------------- */

static const char *
cfg_meshagent(const struct cfg *cfg, const char *key)
{
    for (size_t i = 0; i < cfg->n_meshagent; i++)
        if (strcmp(cfg->meshagent[i].key, key) == 0)
            return cfg->meshagent[i].value;
    return NULL;
}

int
dashboard_agent_addr(const struct cfg *cfg, char *ret_ip, size_t ip_len, unsigned *ret_port,
                     char *err, size_t errlen)
{
    const char *ip = cfg_meshagent(cfg, "admin.ip");
    const char *port = cfg_meshagent(cfg, "admin.port");
    unsigned long p = 9991;
    char *end;

    if (ip == NULL || ip[0] == '\0' || strcmp(ip, "0.0.0.0") == 0)
        ip = "127.0.0.1";
    else if (strcmp(ip, "::") == 0)
        ip = "::1";
    if (port != NULL) {
        errno = 0;
        p = strtoul(port, &end, 10);
        if (errno || end == port || *end || p > 65535) {
            snprintf(err, errlen, "meshagent.admin.port is not a port: %s", port);
            return -EINVAL;
        }
        if (p == 0) {
            snprintf(err, errlen,
                     "meshagent.admin.port is 0 (any free port): meshd cannot "
                     "know where the agent listens");
            return -EINVAL;
        }
    }
    if (strlen(ip) >= ip_len) {
        snprintf(err, errlen, "meshagent.admin.ip is too long");
        return -EINVAL;
    }
    memcpy(ret_ip, ip, strlen(ip) + 1);
    *ret_port = (unsigned) p;
    return 0;
}

/* ---- the relay ------------------------------------------------------------------------ */

static void
relay_free(struct relay *r, bool discard)
{
    if (!discard) {
        ev_io_stop(r->loop, &r->io);
        ev_timer_stop(r->loop, &r->timer);
    }
    if (r->fd >= 0)
        (void) close(r->fd);
    strbuf_fini(&r->out);
    strbuf_fini(&r->in);
    n_relays--;
    free(r);
}

static void
relay_on_cancel(void *ctx, bool discard)
{
    relay_free(ctx, discard);
}

static void
json_error(struct admin_response *rsp, int status, const char *msg)
{
    rsp->status = status;
    rsp->content_type = "application/json";
    strbuf_reset(&rsp->body);
    strbuf_adds(&rsp->body, "{\"error\":");
    strbuf_add_json_str(&rsp->body, msg, strlen(msg));
    strbuf_adds(&rsp->body, "}");
}

/* Answers the admin connection with <status> and the message as a JSON error, and
 * frees <r>. */
static void relay_fail(struct relay *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
relay_fail(struct relay *r, int status, const char *fmt, ...)
{
    struct admin_response rsp = {.body = STRBUF_INIT};
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    (void) vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_error(&rsp, status, msg);
    admin_finish(r->ac, &rsp);
    strbuf_fini(&rsp.body);
    relay_free(r, false);
}

/* The whole answer is in: relay it (a 2xx as it is, anything else as a JSON error with
 * the agent's status and first line). */
static void
relay_done(struct relay *r)
{
    struct http1_header hdrs[32];
    struct http1_response hr;
    struct http1_error herr;
    struct http1_limits lim = {.max_request_line = 1024, .max_head = 8192, .max_headers = 32};
    struct admin_response rsp = {.body = STRBUF_INIT};
    const char *body;
    size_t body_len;
    int rc;

    rc = http1_parse_response(r->in.s ? r->in.s : "", r->in.len, &lim, false, hdrs,
                              ARRAY_SIZE(hdrs), &hr, &herr);
    if (rc < 0) {
        relay_fail(r, 502, "agent at %s: not an HTTP answer: %s", r->agent,
                   rc == -EAGAIN ? "incomplete head" : herr.reason);
        return;
    }
    body = r->in.s + rc;
    body_len = r->in.len - (size_t) rc;
    if (hr.body == HTTP1_BODY_LENGTH) {
        if (hr.content_length > body_len) {
            relay_fail(r, 502, "agent at %s: answer cut short", r->agent);
            return;
        }
        body_len = (size_t) hr.content_length;
    } else if (hr.body == HTTP1_BODY_CHUNKED) {
        relay_fail(r, 502, "agent at %s: chunked answers are not relayed", r->agent);
        return;
    } else if (hr.body == HTTP1_BODY_NONE) {
        body_len = 0;
    }
    if (hr.status >= 200 && hr.status < 300) {
        rsp.status = hr.status;
        rsp.content_type = "application/json";
        strbuf_add(&rsp.body, body, body_len);
    } else {
        const char *nl = memchr(body, '\n', body_len);
        char msg[300];

        snprintf(msg, sizeof(msg), "agent: %d %.*s", hr.status,
                 (int) MESH_MIN(nl ? (size_t) (nl - body) : body_len, (size_t) 200), body);
        json_error(&rsp, hr.status >= 400 && hr.status < 600 ? hr.status : 502, msg);
    }
    admin_finish(r->ac, &rsp);
    strbuf_fini(&rsp.body);
    relay_free(r, false);
}

static void
relay_on_io(struct ev_loop *loop, ev_io *w, int revents)
{
    struct relay *r = container_of(w, struct relay, io);
    char buf[16384];
    ssize_t n;

    (void) revents;
    if (r->state == RELAY_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof(err);

        if (getsockopt(r->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
            err = errno;
        if (err == EINPROGRESS)
            return;
        if (err) {
            relay_fail(r, 502, "agent unreachable at %s: %s", r->agent, strerror(err));
            return;
        }
        r->state = RELAY_SENDING;
    }
    if (r->state == RELAY_SENDING) {
        while (r->out_off < r->out.len) {
            n = send(r->fd, r->out.s + r->out_off, r->out.len - r->out_off, MSG_NOSIGNAL);
            if (n == -1 && (errno == EAGAIN || errno == EINTR))
                return;
            if (n == -1) {
                relay_fail(r, 502, "agent unreachable at %s: %s", r->agent, strerror(errno));
                return;
            }
            r->out_off += (size_t) n;
        }
        r->state = RELAY_RECEIVING;
        ev_io_stop(loop, &r->io);
        ev_io_set(&r->io, r->fd, EV_READ);
        ev_io_start(loop, &r->io);
        return;
    }
    for (;;) {
        n = recv(r->fd, buf, sizeof(buf), 0);
        if (n == -1 && (errno == EAGAIN || errno == EINTR))
            return;
        if (n == -1) {
            relay_fail(r, 502, "agent at %s: %s", r->agent, strerror(errno));
            return;
        }
        if (n == 0) {
            relay_done(r);
            return;
        }
        if (r->in.len + (size_t) n > RELAY_MAX_ANSWER) {
            relay_fail(r, 502, "agent at %s: answer over %u bytes, not relayed", r->agent,
                       RELAY_MAX_ANSWER);
            return;
        }
        strbuf_add(&r->in, buf, (size_t) n);
    }
}

static void
relay_on_timeout(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct relay *r = container_of(t, struct relay, timer);

    (void) loop;
    (void) revents;
    relay_fail(r, 504, "agent at %s did not answer within %.0f s", r->agent, RELAY_TIMEOUT_S);
}

/* Starts relaying <req> (path under /agent) to the agent; answers <rsp> now only when it
 * cannot start. */
static void
relay_start(struct ev_loop *loop, const struct cfg *cfg, const struct admin_request *req,
            struct admin_response *rsp)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    struct relay *r;
    char ip[64], err[160], msg[256];
    unsigned port;
    int fd;

    if (dashboard_agent_addr(cfg, ip, sizeof(ip), &port, err, sizeof(err)) != 0) {
        json_error(rsp, 502, err);
        return;
    }
    if (net_parse_addr(ip, (uint16_t) port, &ss, &sslen) != 0) {
        snprintf(msg, sizeof(msg), "meshagent.admin.ip is not an IP address: %s", ip);
        json_error(rsp, 502, msg);
        return;
    }
    if (n_relays >= RELAY_MAX) {
        json_error(rsp, 503, "too many agent queries in flight, try again");
        return;
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd == -1) {
        snprintf(msg, sizeof(msg), "cannot reach the agent: socket: %s", strerror(errno));
        json_error(rsp, 502, msg);
        return;
    }
    r = calloc(1, sizeof(*r));
    if (r == NULL) {
        (void) close(fd);
        json_error(rsp, 503, "out of memory");
        return;
    }
    n_relays++;
    r->loop = loop;
    r->fd = fd;
    r->out = (struct strbuf) STRBUF_INIT;
    r->in = (struct strbuf) STRBUF_INIT;
    snprintf(r->agent, sizeof(r->agent), ss.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip, port);
    /* the path after /agent, with the query: the parser refused spaces and controls */
    strbuf_adds(&r->out, "GET ");
    strbuf_add(&r->out, req->path + 6, req->path_len - 6);
    if (req->query_len) {
        strbuf_addc(&r->out, '?');
        strbuf_add(&r->out, req->query, req->query_len);
    }
    strbuf_addf(&r->out,
                " HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n"
                "User-Agent: meshd-dashboard-relay\r\n\r\n",
                r->agent);
    ev_io_init(&r->io, relay_on_io, fd, EV_WRITE);
    ev_timer_init(&r->timer, relay_on_timeout, RELAY_TIMEOUT_S, 0.);
    if (connect(fd, (const struct sockaddr *) &ss, sslen) == 0) {
        r->state = RELAY_SENDING;
    } else if (errno == EINPROGRESS) {
        r->state = RELAY_CONNECTING;
    } else {
        snprintf(msg, sizeof(msg), "agent unreachable at %s: %s", r->agent, strerror(errno));
        json_error(rsp, 502, msg);
        relay_free(r, true); /* no watcher started yet */
        return;
    }
    r->ac = admin_defer(rsp, relay_on_cancel, r);
    ev_io_start(loop, &r->io);
    ev_timer_start(loop, &r->timer);
}

/* ---- routes --------------------------------------------------------------------------- */

static bool
path_is(const struct admin_request *req, const char *p)
{
    return req->path_len == strlen(p) && memcmp(req->path, p, req->path_len) == 0;
}

static const struct dashboard_file *
find_file(const char *path, size_t len)
{
    for (size_t i = 0; i < dashboard_n_files; i++)
        if (strlen(dashboard_files[i].path) == len &&
            memcmp(dashboard_files[i].path, path, len) == 0)
            return &dashboard_files[i];
    return NULL;
}

bool
dashboard_admin(struct ev_loop *loop, const struct cfg *cfg, const struct admin_request *req,
                struct admin_response *rsp)
{
    bool get = (req->method_len == 3 && memcmp(req->method, "GET", 3) == 0) ||
               (req->method_len == 4 && memcmp(req->method, "HEAD", 4) == 0);
    const struct dashboard_file *f = NULL;
    bool relay = req->path_len > 14 && memcmp(req->path, "/agent/api/v2/", 14) == 0;

    if (path_is(req, "/") || path_is(req, "/dashboard") || path_is(req, "/dashboard/"))
        f = find_file("/dashboard/index.html", 21);
    else if (req->path_len > 11 && memcmp(req->path, "/dashboard/", 11) == 0)
        f = find_file(req->path, req->path_len);
    if (f == NULL && !relay)
        return false;
    if (!get) {
        rsp->status = 405;
        rsp->extra_headers = "Allow: GET, HEAD\r\n";
        strbuf_adds(&rsp->body, "method not allowed\n");
        return true;
    }
    if (relay) {
        /* only the query API: no way up out of /api/v2/ on the agent */
        if (memmem(req->path, req->path_len, "/..", 3) != NULL ||
            memchr(req->path, '%', req->path_len) != NULL) {
            json_error(rsp, 400, "relay: '..' and percent-escapes are not allowed in the path");
            return true;
        }
        relay_start(loop, cfg, req, rsp);
        return true;
    }
    rsp->content_type = f->content_type;
    /* the page itself is always revalidated; its scripts and styles may be kept briefly */
    rsp->cache_control =
        strcmp(f->path, "/dashboard/index.html") == 0 ? "no-cache" : "public, max-age=300";
    strbuf_add(&rsp->body, (const char *) f->data, f->len);
    return true;
}
