/* proxy/admin.c - the admin HTTP server's transport: a small, strict HTTP/1.1 server on
 * the master's loop. One request per connection (answered with Connection: close),
 * heads up to 8 KiB, bodies up to 64 KiB, 10 s from accept to the end of the answer, at
 * most 64 connections. A method other than GET or HEAD that a browser sent for another
 * site's page is refused (403) before any handler sees it. What each path answers is the
 * caller's business (the handler); this module only moves bytes. A handler may answer
 * later (admin_defer): the connection then waits, not reading, until admin_finish() or
 * its deadline. It never touches client traffic: that is the workers' job. */
#include "proxy/admin.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/list.h"
#include "common/log.h"
#include "common/net.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "proto/http1.h"

#define ADMIN_MAX_REQUEST (72 * 1024)
#define ADMIN_TIMEOUT_S   10.0

struct admin {
    struct ev_loop *loop;
    int fd;
    ev_io io;
    admin_handler_fn *handler;
    void *ctx;
    unsigned n_conns;
    struct list conns; /* struct admin_conn.link, freed with the server */
};

struct admin_conn {
    struct list link;  /* in admin->conns */
    struct admin *admin;
    admin_cancel_fn *cancel; /* set while deferred */
    void *cancel_ctx;
    bool head_only;
    int fd;
    ev_io io;
    ev_timer timer;
    char in[ADMIN_MAX_REQUEST];
    size_t in_len;
    struct strbuf out;
    size_t out_off;
    bool responding;
};

static void
admin_conn_free(struct admin_conn *ac)
{
    if (ac->cancel) {
        admin_cancel_fn *cancel = ac->cancel;

        ac->cancel = NULL;
        cancel(ac->cancel_ctx, false);
    }
    list_remove(&ac->link);
    ev_io_stop(ac->admin->loop, &ac->io);
    ev_timer_stop(ac->admin->loop, &ac->timer);
    (void) close(ac->fd);
    strbuf_fini(&ac->out);
    ac->admin->n_conns--;
    free(ac);
}

static const char *
status_text(int status)
{
    switch (status) {
    case 200: return "OK";
    case 202: return "Accepted";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Payload Too Large";
    case 431: return "Request Header Fields Too Large";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Error";
    }
}

static void
admin_respond(struct admin_conn *ac, const struct admin_response *rsp, bool head_only)
{
    strbuf_addf(&ac->out,
                "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                "Cache-Control: %s\r\nX-Content-Type-Options: nosniff\r\n"
                "Connection: close\r\n%s\r\n",
                rsp->status, status_text(rsp->status),
                rsp->content_type ? rsp->content_type : "text/plain; charset=utf-8",
                rsp->body.len, rsp->cache_control ? rsp->cache_control : "no-cache",
                rsp->extra_headers ? rsp->extra_headers : "");
    if (!head_only)
        strbuf_add(&ac->out, strbuf_str(&rsp->body), rsp->body.len);
    ac->responding = true;
    ev_io_stop(ac->admin->loop, &ac->io);
    ev_io_set(&ac->io, ac->fd, EV_WRITE);
    ev_io_start(ac->admin->loop, &ac->io);
}

static void
admin_error(struct admin_conn *ac, int status, const char *msg)
{
    struct admin_response rsp = {.status = status, .body = STRBUF_INIT};

    strbuf_addf(&rsp.body, "%s\n", msg);
    admin_respond(ac, &rsp, false);
    strbuf_fini(&rsp.body);
}

/* A request a browser sent on behalf of another site's page: browsers mark every
 * cross-origin POST with an Origin header, and recent ones add Sec-Fetch-Site. Such a
 * request may not change anything here (CSRF: a page open on the operator's machine
 * POSTing to 127.0.0.1:9990/admin/shutdown). Tools (curl, meshctl, probes) send neither
 * header. */
static bool
cross_site(const struct http1_request *req)
{
    const struct http1_header *host = NULL, *origin = NULL;

    for (size_t i = 0; i < req->n_headers; i++) {
        const struct http1_header *h = &req->headers[i];

        if (util_strcaseeq(h->name, h->name_len, "host"))
            host = h;
        else if (util_strcaseeq(h->name, h->name_len, "origin"))
            origin = h;
        else if (util_strcaseeq(h->name, h->name_len, "sec-fetch-site") &&
                 !util_strcaseeq(h->value, h->value_len, "same-origin") &&
                 !util_strcaseeq(h->value, h->value_len, "none"))
            return true;
    }
    if (origin == NULL)
        return false;
    /* same origin: "http://" followed by exactly the Host the browser sent */
    return host == NULL || origin->value_len != 7 + host->value_len ||
           !util_strcaseeq(origin->value, 7, "http://") ||
           strncasecmp(origin->value + 7, host->value, host->value_len) != 0;
}

static void
admin_handle(struct admin_conn *ac)
{
    struct http1_header hdrs[64];
    struct http1_request req;
    struct http1_error err;
    struct http1_limits lim = {.max_request_line = 4096, .max_head = 8192, .max_headers = 64};
    struct admin_request areq;
    struct admin_response rsp = {.status = 200, .body = STRBUF_INIT};
    const char *q;
    int rc;

    rc = http1_parse_request(ac->in, ac->in_len, &lim, hdrs, ARRAY_SIZE(hdrs), &req, &err);
    if (rc == -EAGAIN) {
        if (ac->in_len >= sizeof(ac->in))
            admin_error(ac, 431, "request too large");
        return;
    }
    if (rc < 0) {
        admin_error(ac, err.status, err.reason);
        return;
    }
    if (req.body == HTTP1_BODY_CHUNKED) {
        admin_error(ac, 400, "chunked request bodies are not accepted here");
        return;
    }
    if (!(req.method_len == 3 && memcmp(req.method, "GET", 3) == 0) && !req.is_head &&
        cross_site(&req)) {
        admin_error(ac, 403, "cross-site requests may not change anything here");
        return;
    }
    if (req.body == HTTP1_BODY_LENGTH) {
        if (req.content_length > sizeof(ac->in) - (size_t) rc) {
            admin_error(ac, 413, "request body too large");
            return;
        }
        if (ac->in_len < (size_t) rc + req.content_length)
            return; /* wait for the whole body */
    }
    memset(&areq, 0, sizeof(areq));
    areq.method = req.method;
    areq.method_len = req.method_len;
    areq.path = req.target;
    q = memchr(req.target, '?', req.target_len);
    areq.path_len = q ? (size_t) (q - req.target) : req.target_len;
    areq.query = q ? q + 1 : "";
    areq.query_len = q ? req.target_len - areq.path_len - 1 : 0;
    areq.body = ac->in + rc;
    areq.body_len = req.body == HTTP1_BODY_LENGTH ? (size_t) req.content_length : 0;
    ac->head_only = req.is_head;
    rsp._conn = ac;
    ac->admin->handler(ac->admin->ctx, &areq, &rsp);
    if (ac->cancel == NULL)
        admin_respond(ac, &rsp, req.is_head);
    else
        ev_io_stop(ac->admin->loop, &ac->io); /* nothing more is read; the timer runs */
    strbuf_fini(&rsp.body);
}

struct admin_conn *
admin_defer(struct admin_response *rsp, admin_cancel_fn *cancel, void *cancel_ctx)
{
    struct admin_conn *ac = rsp->_conn;

    MESH_BUG_ON(ac == NULL || cancel == NULL || ac->cancel != NULL);
    ac->cancel = cancel;
    ac->cancel_ctx = cancel_ctx;
    return ac;
}

void
admin_finish(struct admin_conn *ac, const struct admin_response *rsp)
{
    ac->cancel = NULL;
    admin_respond(ac, rsp, ac->head_only);
}

static void
admin_conn_on_io(struct ev_loop *loop, ev_io *w, int revents)
{
    struct admin_conn *ac = container_of(w, struct admin_conn, io);
    ssize_t n;

    (void) loop;
    (void) revents;
    if (!ac->responding) {
        n = read(ac->fd, ac->in + ac->in_len, sizeof(ac->in) - ac->in_len);
        if (n == -1 && (errno == EAGAIN || errno == EINTR))
            return;
        if (n <= 0) {
            admin_conn_free(ac);
            return;
        }
        ac->in_len += (size_t) n;
        admin_handle(ac);
        if (!ac->responding)
            return;
    }
    while (ac->out_off < ac->out.len) {
        n = write(ac->fd, ac->out.s + ac->out_off, ac->out.len - ac->out_off);
        if (n == -1 && (errno == EAGAIN || errno == EINTR))
            return;
        if (n <= 0) {
            admin_conn_free(ac);
            return;
        }
        ac->out_off += (size_t) n;
    }
    (void) shutdown(ac->fd, SHUT_WR);
    admin_conn_free(ac);
}

static void
admin_conn_on_timeout(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void) loop;
    (void) revents;
    admin_conn_free(container_of(t, struct admin_conn, timer));
}

static void
admin_on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
    struct admin *a = container_of(w, struct admin, io);

    (void) revents;
    for (int i = 0; i < 16; i++) {
        struct admin_conn *ac;
        int fd = accept4(a->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd == -1)
            return;
        if (a->n_conns >= 64) {
            (void) close(fd); /* the admin server is not a load target */
            continue;
        }
        ac = calloc(1, sizeof(*ac));
        if (ac == NULL) {
            (void) close(fd);
            return;
        }
        ac->admin = a;
        ac->fd = fd;
        a->n_conns++;
        list_insert_head(&a->conns, &ac->link);
        ev_io_init(&ac->io, admin_conn_on_io, fd, EV_READ);
        ev_io_start(loop, &ac->io);
        ev_timer_init(&ac->timer, admin_conn_on_timeout, ADMIN_TIMEOUT_S, 0.);
        ev_timer_start(loop, &ac->timer);
    }
}

struct admin *
admin_new(struct ev_loop *loop, const char *ip, uint16_t port, admin_handler_fn *handler,
          void *ctx, char *err, size_t errlen)
{
    struct admin *a;
    int fd = net_listen_tcp(ip, port, false, 128);

    if (fd < 0) {
        snprintf(err, errlen, "admin: cannot listen on %s:%u: %s", ip, port, strerror(-fd));
        return NULL;
    }
    a = xcalloc(1, sizeof(*a));
    a->loop = loop;
    a->fd = fd;
    a->handler = handler;
    a->ctx = ctx;
    list_init(&a->conns);
    ev_io_init(&a->io, admin_on_accept, fd, EV_READ);
    ev_io_start(loop, &a->io);
    return a;
}

int
admin_fd(const struct admin *a)
{
    return a->fd;
}

struct admin *
admin_free(struct admin *a)
{
    if (a == NULL)
        return NULL;
    while (!list_empty(&a->conns))
        admin_conn_free(list_entry(a->conns.next, struct admin_conn, link));
    ev_io_stop(a->loop, &a->io);
    (void) close(a->fd);
    free(a);
    return NULL;
}

struct admin *
admin_discard(struct admin *a)
{
    if (a == NULL)
        return NULL;
    while (!list_empty(&a->conns)) {
        struct admin_conn *ac = list_entry(a->conns.next, struct admin_conn, link);

        if (ac->cancel)
            ac->cancel(ac->cancel_ctx, true);
        list_remove(&ac->link);
        (void) close(ac->fd);
        strbuf_fini(&ac->out);
        free(ac);
    }
    free(a);
    return NULL;
}

bool
admin_query_get(const struct admin_request *req, const char *key, char *ret, size_t retlen)
{
    size_t klen = strlen(key);
    const char *p = req->query, *end = req->query + req->query_len;

    while (p < end) {
        const char *amp = memchr(p, '&', (size_t) (end - p));
        const char *stop = amp ? amp : end;

        if ((size_t) (stop - p) >= klen && strncmp(p, key, klen) == 0 &&
            (p + klen == stop || p[klen] == '=')) {
            const char *v = p + klen == stop ? stop : p + klen + 1;
            size_t o = 0;

            /* percent-decoding, '+' as space */
            while (v < stop && o + 1 < retlen) {
                if (*v == '%' && stop - v >= 3) {
                    char hex[3] = {v[1], v[2], 0};

                    ret[o++] = (char) strtol(hex, NULL, 16);
                    v += 3;
                } else {
                    ret[o++] = *v == '+' ? ' ' : *v;
                    v++;
                }
            }
            ret[o] = '\0';
            return true;
        }
        p = stop + 1;
    }
    return false;
}
