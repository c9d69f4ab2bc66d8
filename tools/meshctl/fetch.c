/* tools/meshctl/fetch.c - blocking HTTP/1.1 GET with one deadline; see fetch.h.
 *
 * The exchange: resolve (getaddrinfo, every address tried in turn), non-blocking connect
 * polled against the deadline, write the request, read until proto/http1.h has a
 * complete head, then read the body as the head frames it. Each step waits with poll()
 * on what is left of the deadline, so a stalled admin endpoint costs at most <timeout_ms>.
 * "Connection: close" is sent, so a body without framing ends when the server closes. */
#include "tools/meshctl/fetch.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/util.h"
#include "proto/http1.h"

#define FETCH_MAX_HEAD    ((size_t) 64 * 1024)
#define FETCH_MAX_BODY    ((size_t) 64 * 1024 * 1024)
#define FETCH_MAX_HEADERS 100

#ifndef MESHCTL_VERSION
#define MESHCTL_VERSION "dev"
#endif

static int
parse_port(const char *s, uint16_t *ret_port)
{
    char *end;
    unsigned long v;

    if (*s < '0' || *s > '9')
        return -EINVAL;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v == 0 || v > 65535)
        return -EINVAL;
    *ret_port = (uint16_t) v;
    return 0;
}

static void
make_label(struct fetch_target *t)
{
    if (strchr(t->host, ':') != NULL)
        snprintf(t->label, sizeof(t->label), "[%s]:%u", t->host, (unsigned) t->port);
    else
        snprintf(t->label, sizeof(t->label), "%s:%u", t->host, (unsigned) t->port);
}

int
fetch_target_parse(struct fetch_target *t, const char *hostport)
{
    const char *colon, *host = hostport;
    size_t host_len;
    uint16_t port;

    if (hostport[0] == '[') {
        const char *close = strchr(hostport, ']');

        if (close == NULL || close[1] != ':')
            return -EINVAL;
        host = hostport + 1;
        host_len = (size_t) (close - host);
        colon = close + 1;
    } else {
        colon = strrchr(hostport, ':');
        if (colon == NULL) { /* "PORT" alone */
            colon = hostport - 1;
            host = "127.0.0.1";
            host_len = strlen(host);
        } else if (colon == hostport) { /* ":PORT" */
            host = "127.0.0.1";
            host_len = strlen(host);
        } else {
            host_len = (size_t) (colon - hostport);
            if (memchr(hostport, ':', host_len) != NULL) /* bare IPv6 needs brackets */
                return -EINVAL;
        }
    }
    if (host_len == 0 || host_len >= sizeof(t->host) || parse_port(colon + 1, &port) != 0)
        return -EINVAL;
    memcpy(t->host, host, host_len);
    t->host[host_len] = '\0';
    t->port = port;
    make_label(t);
    return 0;
}

void
fetch_target_set(struct fetch_target *t, const char *ip, uint16_t port)
{
    if (ip == NULL || ip[0] == '\0' || strcmp(ip, "0.0.0.0") == 0)
        ip = "127.0.0.1";
    else if (strcmp(ip, "::") == 0)
        ip = "::1";
    snprintf(t->host, sizeof(t->host), "%s", ip);
    t->port = port;
    make_label(t);
}

void
fetch_result_fini(struct fetch_result *res)
{
    free(res->body);
    res->body = NULL;
    res->body_len = 0;
}

/* Milliseconds left before <deadline_us>, at least 0. */
static int
left_ms(uint64_t deadline_us)
{
    uint64_t now = clock_mono_us();

    return now >= deadline_us ? 0 : (int) ((deadline_us - now + 999) / 1000);
}

/* Waits for <events> on <fd>. Returns 0, -ETIMEDOUT, or -errno. */
static int
wait_fd(int fd, short events, uint64_t deadline_us)
{
    struct pollfd p = {.fd = fd, .events = events};

    for (;;) {
        int ms = left_ms(deadline_us);
        int n;

        if (ms == 0)
            return -ETIMEDOUT;
        n = poll(&p, 1, ms);
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1)
            return -errno;
        if (n > 0)
            return 0;
    }
}

static int
connect_one(const struct addrinfo *ai, uint64_t deadline_us)
{
    int fd, r, soerr = 0;
    socklen_t len = sizeof(soerr);

    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd == -1)
        return -errno;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
        return fd;
    if (errno != EINPROGRESS) {
        r = -errno;
        goto fail;
    }
    r = wait_fd(fd, POLLOUT, deadline_us);
    if (r < 0)
        goto fail;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == -1) {
        r = -errno;
        goto fail;
    }
    if (soerr != 0) {
        r = -soerr;
        goto fail;
    }
    return fd;

fail:
    (void) close(fd);
    return r;
}

static int
connect_target(const struct fetch_target *t, uint64_t deadline_us, struct fetch_result *res)
{
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *ais = NULL;
    char port[8];
    int r, fd = -ETIMEDOUT;

    snprintf(port, sizeof(port), "%u", (unsigned) t->port);
    r = getaddrinfo(t->host, port, &hints, &ais);
    if (r != 0) {
        snprintf(res->err, sizeof(res->err), "cannot resolve %s: %s", t->host, gai_strerror(r));
        return -EHOSTUNREACH;
    }
    for (const struct addrinfo *ai = ais; ai != NULL; ai = ai->ai_next) {
        fd = connect_one(ai, deadline_us);
        if (fd >= 0 || fd == -ETIMEDOUT)
            break;
    }
    freeaddrinfo(ais);
    if (fd == -ETIMEDOUT)
        snprintf(res->err, sizeof(res->err), "connect: no answer within the deadline");
    else if (fd < 0)
        snprintf(res->err, sizeof(res->err), "connect: %s", strerror(-fd));
    return fd;
}

static int
send_all(int fd, const char *data, size_t len, uint64_t deadline_us)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);

        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int r = wait_fd(fd, POLLOUT, deadline_us);

            if (r < 0)
                return r;
            continue;
        }
        if (n == -1)
            return -errno;
        data += n;
        len -= (size_t) n;
    }
    return 0;
}

struct rbuf {
    char *data;
    size_t len; /* bytes */
    size_t cap; /* bytes allocated */
    bool eof;   /* the peer closed */
};

/* Reads what is available (waiting up to the deadline for something). Returns 0, or
 * -ETIMEDOUT, -EFBIG, -errno. Sets <b>->eof on end of stream. */
static int
read_some(int fd, struct rbuf *b, uint64_t deadline_us)
{
    for (;;) {
        ssize_t n;

        if (b->cap - b->len < 16384) {
            if (b->cap >= FETCH_MAX_HEAD + FETCH_MAX_BODY)
                return -EFBIG;
            b->cap = b->cap ? b->cap * 2 : 32768;
            b->data = xrealloc(b->data, b->cap);
        }
        n = recv(fd, b->data + b->len, b->cap - b->len - 1, 0);
        if (n > 0) {
            b->len += (size_t) n;
            return 0;
        }
        if (n == 0) {
            b->eof = true;
            return 0;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
        n = wait_fd(fd, POLLIN, deadline_us);
        if (n < 0)
            return (int) n;
    }
}

/* Decodes the chunked body at <p>/<len>, already validated by http1_chunked_scan(), into
 * <out> (in place is fine: the output never overtakes the input). Returns the length. */
static size_t
dechunk(const char *p, size_t len, char *out)
{
    const char *end = p + len;
    size_t o = 0;

    while (p < end) {
        size_t size = 0;

        for (; p < end; p++) {
            char c = *p;

            if (c >= '0' && c <= '9')
                size = size * 16 + (size_t) (c - '0');
            else if (c >= 'a' && c <= 'f')
                size = size * 16 + (size_t) (c - 'a' + 10);
            else if (c >= 'A' && c <= 'F')
                size = size * 16 + (size_t) (c - 'A' + 10);
            else
                break;
        }
        while (p < end && *p != '\n') /* chunk extensions, CR */
            p++;
        p++;
        if (size == 0 || p >= end)
            break;
        if (size > (size_t) (end - p))
            size = (size_t) (end - p);
        memmove(out + o, p, size);
        o += size;
        p += size + 2; /* data, CRLF */
    }
    return o;
}

static int
read_response(int fd, uint64_t deadline_us, struct fetch_result *res)
{
    static const struct http1_limits lim = {
        .max_request_line = 8192, .max_head = FETCH_MAX_HEAD, .max_headers = FETCH_MAX_HEADERS};
    struct http1_header headers[FETCH_MAX_HEADERS];
    struct http1_response rsp;
    struct http1_error herr;
    struct http1_chunked chunked = {0};
    struct rbuf b = {0};
    size_t head_len = 0, scanned = 0, body_len = 0;
    int r;

    for (;;) { /* the head */
        r = read_some(fd, &b, deadline_us);
        if (r < 0)
            goto fail;
        r = http1_parse_response(b.data, b.len, &lim, false, headers, FETCH_MAX_HEADERS, &rsp,
                                 &herr);
        if (r >= 0) {
            head_len = (size_t) r;
            break;
        }
        if (r != -EAGAIN) {
            snprintf(res->err, sizeof(res->err), "bad response: %s", herr.reason);
            goto fail;
        }
        if (b.eof) {
            r = -ECONNRESET;
            snprintf(res->err, sizeof(res->err), "connection closed before a response");
            goto fail;
        }
    }
    for (;;) { /* the body */
        size_t have = b.len - head_len;

        if (rsp.body == HTTP1_BODY_NONE) {
            body_len = 0;
            break;
        }
        if (rsp.body == HTTP1_BODY_LENGTH && have >= rsp.content_length) {
            body_len = (size_t) rsp.content_length;
            break;
        }
        if (rsp.body == HTTP1_BODY_LENGTH && rsp.content_length > FETCH_MAX_BODY) {
            r = -EFBIG;
            goto fail;
        }
        if (rsp.body == HTTP1_BODY_CHUNKED && have > scanned) {
            size_t used;

            r = http1_chunked_scan(&chunked, b.data + head_len + scanned, have - scanned, &used,
                                   &herr);
            if (r < 0) {
                snprintf(res->err, sizeof(res->err), "bad response: %s", herr.reason);
                goto fail;
            }
            scanned += used;
            if (r == 1) {
                body_len = dechunk(b.data + head_len, scanned, b.data + head_len);
                break;
            }
        }
        if (b.eof) {
            if (rsp.body == HTTP1_BODY_UNTIL_CLOSE) {
                body_len = have;
                break;
            }
            r = -ECONNRESET;
            snprintf(res->err, sizeof(res->err), "connection closed in the middle of the body");
            goto fail;
        }
        r = read_some(fd, &b, deadline_us);
        if (r < 0)
            goto fail;
    }
    res->status = rsp.status;
    memmove(b.data, b.data + head_len, body_len);
    b.data[body_len] = '\0';
    res->body = b.data;
    res->body_len = body_len;
    return 0;

fail:
    if (res->err[0] == '\0' && r == -ETIMEDOUT)
        snprintf(res->err, sizeof(res->err), "no complete response within the deadline");
    else if (res->err[0] == '\0' && r == -EFBIG)
        snprintf(res->err, sizeof(res->err), "response larger than %zu MiB", FETCH_MAX_BODY >> 20);
    else if (res->err[0] == '\0')
        snprintf(res->err, sizeof(res->err), "read: %s", strerror(-r));
    free(b.data);
    return r;
}

int
fetch_get(const struct fetch_target *t, const char *path, int timeout_ms, struct fetch_result *res)
{
    uint64_t start_us = clock_mono_us(), deadline_us = start_us + (uint64_t) timeout_ms * 1000u;
    char req[2048];
    int fd, r, n;

    memset(res, 0, sizeof(*res));
    n = snprintf(req, sizeof(req),
                 "GET %s HTTP/1.1\r\nHost: %s\r\nAccept: application/json\r\n"
                 "User-Agent: meshctl/%s\r\nConnection: close\r\n\r\n",
                 path, t->label, MESHCTL_VERSION);
    if (n < 0 || (size_t) n >= sizeof(req)) {
        snprintf(res->err, sizeof(res->err), "request path too long");
        return -ENAMETOOLONG;
    }
    fd = connect_target(t, deadline_us, res);
    if (fd < 0) {
        log_debug("GET http://%s%s: %s", t->label, path, res->err);
        return fd;
    }
    r = send_all(fd, req, (size_t) n, deadline_us);
    if (r < 0) {
        snprintf(res->err, sizeof(res->err), "send: %s",
                 r == -ETIMEDOUT ? "no progress within the deadline" : strerror(-r));
        goto out;
    }
    r = read_response(fd, deadline_us, res);
    if (r == 0)
        log_debug("GET http://%s%s: %d, %zu bytes in %llu us", t->label, path, res->status,
                  res->body_len, (unsigned long long) (clock_mono_us() - start_us));

out:
    if (r < 0)
        log_debug("GET http://%s%s: %s", t->label, path, res->err);
    (void) close(fd);
    return r;
}
