/* tools/testsrv.c - mesh-testsrv, a small HTTP/1.1 server with misbehaviours on demand:
 * the fake upstream of the integration tests and the demo's backend.
 *
 *   mesh-testsrv [--name NAME] [--ip IP] [--text TEXT] PORT
 *
 * One thread per connection, blocking I/O, keep-alive. What it answers depends on the
 * request path (the query holds the parameters):
 *   /                     "<NAME> (<ip>:<port>)\n" - who answered
 *   /echo                 the request body back (streamed, same framing kind)
 *   /headers              the request head as received
 *   /slow?ms=N            waits N ms, then answers like /
 *   /big?bytes=N          N bytes of body with Content-Length, streamed
 *   /chunked?n=N          N chunks of "chunk K\n" with chunked coding
 *   /close                a body delimited by closing the connection (no length)
 *   /status?code=N        an empty response with that status
 *   /reset                closes the connection without answering
 *   /hang                 never answers (until the client goes away)
 *   /trickle?n=N          N bytes, one byte every 10 ms
 * With --call HOST --proxy IP:PORT, "/" first asks HOST through that proxy (forwarding the
 * l5d-ctx-* headers it got, as apps in a mesh do) and answers "Hello (<addr>) <answer>!",
 * like the Linkerd walkthrough's hello service calling world. Without --proxy it takes the
 * proxy from $http_proxy (http://HOST:PORT), as the walkthrough's apps do. With --text TEXT
 * (the demo's apps), "/" answers "TEXT (<ip>)!" and hello "TEXT (<ip>) <answer>", the
 * address without the port, as the walkthrough's: "Hello (10.77.0.1) world (10.77.0.2)!".
 * The demo's options, for "/" only (so the dashboard and traces have something to show):
 *   --latency-ms MEAN[:JITTER]  wait MEAN ms (+/- up to JITTER, uniform) before answering
 *   --failure-rate R            answer 500 to that share (0..1) of requests
 * It prints "listening on IP:PORT" once ready (PORT 0 picks a free port). */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/net.h"
#include "proto/http1.h"

#define TESTSRV_BUF (64 * 1024)

static const char *srv_name = "testsrv";
static const char *call_host;  /* --call HOST: "/" asks HOST through the proxy first */
static const char *call_proxy; /* --proxy IP:PORT: the node's meshd (the app's http_proxy) */
static char srv_addr[80];
static const char *srv_ip;   /* the address only, for --text */
static const char *srv_text; /* --text TEXT: "/" answers as the walkthrough's apps */
static char proxy_from_env[280]; /* HOST:PORT taken from $http_proxy */
static long latency_ms, latency_jitter_ms;
static double failure_rate;

struct client {
    int fd;
    char buf[TESTSRV_BUF];
    size_t len;
};

static int
write_all(int fd, const void *data, size_t len)
{
    const char *p = data;

    while (len) {
        ssize_t n = write(fd, p, len);

        if (n == -1 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t) n;
    }
    return 0;
}

static long
query_num(const char *target, size_t tlen, const char *key, long def)
{
    char t[1024];
    const char *q;
    size_t klen = strlen(key);

    snprintf(t, sizeof(t), "%.*s", (int) tlen, target);
    q = strchr(t, '?');
    while (q) {
        q++;
        if (strncmp(q, key, klen) == 0 && q[klen] == '=')
            return strtol(q + klen + 1, NULL, 10);
        q = strchr(q, '&');
    }
    return def;
}

static bool
path_is(const struct http1_request *r, const char *p)
{
    size_t n = strlen(p);

    return r->target_len >= n && memcmp(r->target, p, n) == 0 &&
           (r->target_len == n || r->target[n] == '?');
}

/* Reads more into c->buf. Returns bytes read, 0 on EOF, -1 on error or full. */
static ssize_t
fill(struct client *c)
{
    ssize_t n;

    if (c->len == sizeof(c->buf))
        return -1;
    do
        n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
    while (n == -1 && errno == EINTR);
    if (n > 0)
        c->len += (size_t) n;
    return n;
}

static void
consume(struct client *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

static int
respond(int fd, int status, const char *extra, const char *body, size_t body_len, bool close_it)
{
    char head[512];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d X\r\nContent-Length: %zu\r\nContent-Type: text/plain\r\n%s%s\r\n",
                     status, body_len, extra ? extra : "", close_it ? "Connection: close\r\n" : "");

    if (write_all(fd, head, (size_t) n) != 0)
        return -1;
    return body_len ? write_all(fd, body, body_len) : 0;
}

/* Reads the request body and, when <echo>, sends it back with the same framing. */
static int
handle_body(struct client *c, const struct http1_request *r, bool echo, bool close_it)
{
    if (r->body == HTTP1_BODY_LENGTH) {
        uint64_t left = r->content_length;
        char head[256];

        if (echo) {
            int n =
                snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: %llu\r\n%s\r\n",
                         (unsigned long long) left, close_it ? "Connection: close\r\n" : "");

            if (write_all(c->fd, head, (size_t) n) != 0)
                return -1;
        }
        while (left) {
            size_t take;

            if (c->len == 0 && fill(c) <= 0)
                return -1;
            take = c->len < left ? c->len : (size_t) left;
            if (echo && write_all(c->fd, c->buf, take) != 0)
                return -1;
            consume(c, take);
            left -= take;
        }
        if (echo)
            return 0;
    } else if (r->body == HTTP1_BODY_CHUNKED) {
        struct http1_chunked ch = {0};

        if (echo) {
            const char *h =
                close_it
                    ? "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                    : "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";

            if (write_all(c->fd, h, strlen(h)) != 0)
                return -1;
        }
        for (;;) {
            size_t used = 0;
            struct http1_error err;
            int rc;

            if (c->len == 0 && fill(c) <= 0)
                return -1;
            rc = http1_chunked_scan(&ch, c->buf, c->len, &used, &err);
            if (rc < 0)
                return -1;
            if (echo && write_all(c->fd, c->buf, used) != 0)
                return -1;
            consume(c, used);
            if (rc == 1)
                break;
        }
        if (echo)
            return 0;
    }
    if (echo)
        return respond(c->fd, 200, NULL, "", 0, close_it);
    return 0;
}

/* The demo's "hello": asks <call_host> through the node's proxy, forwarding the trace
 * context (<fwd>: the l5d-ctx-* header lines it received) as an app in the mesh must, and
 * puts the answer's first line in <out>. Returns 0, or -1 (then <out> says why). */
static int
call_other(const char *fwd, char *out, size_t outlen)
{
    char req[4096], resp[4096], host[256];
    const char *colon = strrchr(call_proxy, ':');
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL, *p;
    size_t got = 0;
    ssize_t n;
    int fd = -1, len;
    char *body, *eol;

    if (colon == NULL || (size_t) (colon - call_proxy) >= sizeof(host))
        goto fail;
    memcpy(host, call_proxy, (size_t) (colon - call_proxy));
    host[colon - call_proxy] = '\0';
    /* a node name (the DaemonSet's hostPort) or an address */
    if (getaddrinfo(host, colon + 1, &hints, &ai) != 0)
        goto fail;
    for (p = ai; p != NULL && fd == -1; p = p->ai_next) {
        fd = socket(p->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd != -1 && connect(fd, p->ai_addr, p->ai_addrlen) != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(ai);
    if (fd == -1)
        goto fail;
    len = snprintf(req, sizeof(req),
                   "GET http://%s/ HTTP/1.1\r\nHost: %s\r\n%sConnection: close\r\n\r\n", call_host,
                   call_host, fwd);
    if (len < 0 || (size_t) len >= sizeof(req) || write_all(fd, req, (size_t) len) != 0) {
        close(fd);
        goto fail;
    }
    while (got + 1 < sizeof(resp) && (n = read(fd, resp + got, sizeof(resp) - 1 - got)) > 0)
        got += (size_t) n;
    close(fd);
    resp[got] = '\0';
    body = strstr(resp, "\r\n\r\n");
    if (got == 0 || body == NULL)
        goto fail;
    if (strncmp(resp, "HTTP/1.1 200", 12) != 0) {
        /* say what came back: "world answered 500 through 10.77.0.1:4140" */
        eol = strpbrk(resp, "\r\n");
        snprintf(out, outlen, "%s answered %.3s through %s", call_host,
                 eol != NULL && eol - resp >= 12 ? resp + 9 : "???", call_proxy);
        return -1;
    }
    body += 4;
    eol = strchr(body, '\n');
    if (eol)
        *eol = '\0';
    snprintf(out, outlen, "%s", body);
    return 0;

fail:
    snprintf(out, outlen, "%s unreachable through %s", call_host, call_proxy);
    return -1;
}

/* A per-thread xorshift64*, seeded through splitmix64 from the clock and the thread, so
 * connections opened together still draw independent numbers. Returns [0, 1). */
static double
demo_random(void)
{
    static __thread uint64_t state;
    uint64_t z;

    if (state == 0) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        z = (uint64_t) ts.tv_nsec ^ ((uint64_t) ts.tv_sec << 32) ^ (uint64_t) (uintptr_t) &state;
        z += 0x9e3779b97f4a7c15ull;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        state = (z ^ (z >> 31)) | 1;
    }
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return (double) ((state * 0x2545f4914f6cdd1dull) >> 11) / 9007199254740992.0;
}

/* --latency-ms and --failure-rate: waits, then says whether to fail this request. */
static bool
demo_delay_and_fail(void)
{
    long ms = latency_ms;

    if (latency_jitter_ms > 0)
        ms += (long) (demo_random() * (double) (2 * latency_jitter_ms + 1)) - latency_jitter_ms;
    if (ms > 0)
        usleep((useconds_t) ms * 1000);
    return failure_rate > 0 && demo_random() < failure_rate;
}

/* $http_proxy as "http://HOST:PORT[/]" or "HOST:PORT" (Linkerd's Kubernetes example sets
 * $(NODE_NAME):4140) -> "HOST:PORT" in proxy_from_env; NULL when unusable. */
static const char *
proxy_of_env(void)
{
    const char *v = getenv("http_proxy");
    size_t n;

    if (v == NULL)
        return NULL;
    if (strncmp(v, "http://", 7) == 0)
        v += 7;
    n = strcspn(v, "/");
    if (n == 0 || n >= sizeof(proxy_from_env) || memchr(v, ':', n) == NULL)
        return NULL;
    memcpy(proxy_from_env, v, n);
    proxy_from_env[n] = '\0';
    return proxy_from_env;
}

static void *
client_main(void *arg)
{
    struct client *c = arg;
    struct http1_limits lim = {.max_request_line = 8192, .max_head = 32768, .max_headers = 100};

    for (;;) {
        struct http1_header hdrs[100];
        struct http1_request r;
        struct http1_error err;
        char body[1024], target[1024], fwd[2048], other[512];
        bool close_it;
        int rc;

        rc = http1_parse_request(c->buf, c->len, &lim, hdrs, 100, &r, &err);
        if (rc == -EAGAIN) {
            if (fill(c) <= 0)
                break;
            continue;
        }
        if (rc < 0) {
            (void) respond(c->fd, err.status, NULL, err.reason, strlen(err.reason), true);
            break;
        }
        close_it = !r.keep_alive;
        if (path_is(&r, "/echo")) {
            consume(c, (size_t) rc);
            if (handle_body(c, &r, true, close_it) != 0)
                break;
            if (close_it)
                break;
            continue;
        }
        if (path_is(&r, "/headers")) {
            int n = respond(c->fd, 200, NULL, c->buf, (size_t) rc, close_it);

            consume(c, (size_t) rc);
            if (n != 0 || handle_body(c, &r, false, close_it) != 0 || close_it)
                break;
            continue;
        }
        /* the rest ignore the request body; keep the target, the buffer moves */
        snprintf(target, sizeof(target), "%.*s", (int) r.target_len, r.target);
        fwd[0] = '\0';
        for (size_t i = 0; i < r.n_headers; i++) {
            const struct http1_header *h = &r.headers[i];
            size_t used = strlen(fwd);

            bool ctx = (h->name_len > 8 && strncasecmp(h->name, "l5d-ctx-", 8) == 0) ||
                       (h->name_len > 6 && strncasecmp(h->name, "x-b3-", 5) == 0) ||
                       (h->name_len == 2 && strncasecmp(h->name, "b3", 2) == 0);

            if (ctx && used + h->name_len + h->value_len + 5 < sizeof(fwd))
                snprintf(fwd + used, sizeof(fwd) - used, "%.*s: %.*s\r\n", (int) h->name_len,
                         h->name, (int) h->value_len, h->value);
        }
        consume(c, (size_t) rc);
        if (handle_body(c, &r, false, close_it) != 0)
            break;
        r.target = target;
        r.target_len = strlen(target);
        if (path_is(&r, "/reset")) {
            struct linger lg = {1, 0};

            (void) setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
            break;
        }
        if (path_is(&r, "/hang")) {
            while (fill(c) > 0)
                c->len = 0;
            break;
        }
        if (path_is(&r, "/slow"))
            usleep((useconds_t) query_num(r.target, r.target_len, "ms", 100) * 1000);
        if (path_is(&r, "/status")) {
            long code = query_num(r.target, r.target_len, "code", 200);

            if (respond(c->fd, (int) code, NULL, "", 0, close_it) != 0 || close_it)
                break;
            continue;
        }
        if (path_is(&r, "/big")) {
            long total = query_num(r.target, r.target_len, "bytes", 1024);
            char head[256], chunk[16384];
            int n = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: %ld\r\n%s\r\n",
                             total, close_it ? "Connection: close\r\n" : "");

            memset(chunk, 'x', sizeof(chunk));
            if (write_all(c->fd, head, (size_t) n) != 0)
                break;
            while (total > 0) {
                size_t k = total < (long) sizeof(chunk) ? (size_t) total : sizeof(chunk);

                if (write_all(c->fd, chunk, k) != 0)
                    goto out;
                total -= (long) k;
            }
            if (close_it)
                break;
            continue;
        }
        if (path_is(&r, "/chunked")) {
            long n = query_num(r.target, r.target_len, "n", 3);
            const char *h = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";

            if (write_all(c->fd, h, strlen(h)) != 0)
                break;
            for (long k = 0; k < n; k++) {
                char line[64], data[64];
                int dl = snprintf(data, sizeof(data), "chunk %ld\n", k);
                int ll = snprintf(line, sizeof(line), "%x\r\n%s\r\n", dl, data);

                if (write_all(c->fd, line, (size_t) ll) != 0)
                    goto out;
            }
            if (write_all(c->fd, "0\r\n\r\n", 5) != 0 || close_it)
                break;
            continue;
        }
        if (path_is(&r, "/close")) {
            const char *h = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil close\n";

            (void) write_all(c->fd, h, strlen(h));
            break;
        }
        if (path_is(&r, "/trickle")) {
            long n = query_num(r.target, r.target_len, "n", 10);
            char head[128];
            int hl =
                snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: %ld\r\n\r\n", n);

            if (write_all(c->fd, head, (size_t) hl) != 0)
                break;
            for (long k = 0; k < n; k++) {
                usleep(10000);
                if (write_all(c->fd, "t", 1) != 0)
                    goto out;
            }
            continue;
        }
        if (strcmp(target, "/") == 0 && demo_delay_and_fail()) {
            const char *msg = "injected failure (--failure-rate)\n";

            if (respond(c->fd, 500, NULL, msg, strlen(msg), close_it) != 0 || close_it)
                break;
            continue;
        }
        if (call_host && call_proxy && (strcmp(target, "/") == 0)) {
            int st = call_other(fwd, other, sizeof(other)) == 0 ? 200 : 502;
            size_t olen = strlen(other);

            /* as the Linkerd walkthrough's hello: "Hello (<ip>) world (<ip>)!"; world's
             * answer is kept as it came, one "!" ends the whole */
            snprintf(body, sizeof(body), "%s (%s) %s%s\n", srv_text ? srv_text : "Hello",
                     srv_text ? srv_ip : srv_addr, other,
                     olen && other[olen - 1] == '!' ? "" : "!");
            if (respond(c->fd, st, NULL, body, strlen(body), close_it) != 0 || close_it)
                break;
            continue;
        }
        if (srv_text && strcmp(target, "/") == 0)
            snprintf(body, sizeof(body), "%s (%s)!\n", srv_text, srv_ip); /* "world (<ip>)!" */
        else
            snprintf(body, sizeof(body), "%s (%s)\n", srv_name, srv_addr);
        if (respond(c->fd, 200, NULL, body, strlen(body), close_it) != 0 || close_it)
            break;
    }
out:
    (void) close(c->fd);
    free(c);
    return NULL;
}

static const char usage[] =
    "usage: mesh-testsrv [--name NAME] [--ip IP] [--text TEXT] [--call HOST [--proxy IP:PORT]]\n"
    "                    [--latency-ms MEAN[:JITTER]] [--failure-rate R] PORT\n"
    "An HTTP/1.1 test server; \"/\" answers \"NAME (IP:PORT)\". The demo's apps (tools/demo,\n"
    "docs/demo.md) answer as the Linkerd walkthrough's, with --text (the address only):\n"
    "  world: --name world --text world --ip IP PORT   answers \"world (IP)!\"\n"
    "  hello: --name hello --text Hello --ip IP --call world PORT\n"
    "         asks world through $http_proxy (or --proxy), forwarding l5d-ctx-* and B3\n"
    "         headers, and answers \"Hello (IP) world (IP)!\"; when world fails,\n"
    "         502 \"Hello (IP) world answered 500 through PROXY!\"\n"
    "  --latency-ms MEAN[:JITTER]  wait MEAN ms +/- JITTER (uniform) before answering /\n"
    "  --failure-rate R            answer 500 to that share (0..1) of requests to /\n"
    "PORT 0 picks a free port; other paths: see the head of tools/testsrv.c\n";

int
main(int argc, char **argv)
{
    const char *ip = "127.0.0.1";
    int port = -1, fd;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--name") == 0 && i + 1 < argc)
            srv_name = argv[++i];
        else if (strcmp(argv[i], "--call") == 0 && i + 1 < argc)
            call_host = argv[++i];
        else if (strcmp(argv[i], "--proxy") == 0 && i + 1 < argc)
            call_proxy = argv[++i];
        else if (strcmp(argv[i], "--ip") == 0 && i + 1 < argc)
            ip = argv[++i];
        else if (strcmp(argv[i], "--text") == 0 && i + 1 < argc)
            srv_text = argv[++i];
        else if (strcmp(argv[i], "--latency-ms") == 0 && i + 1 < argc) {
            char *end;

            latency_ms = strtol(argv[++i], &end, 10);
            if (*end == ':')
                latency_jitter_ms = strtol(end + 1, &end, 10);
            if (*end != '\0' || latency_ms < 0 || latency_jitter_ms < 0 || latency_ms > 60000 ||
                latency_jitter_ms > latency_ms) {
                fprintf(stderr, "mesh-testsrv: --latency-ms: MEAN[:JITTER] in ms, 0..60000, "
                                "JITTER <= MEAN\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--failure-rate") == 0 && i + 1 < argc) {
            char *end;

            failure_rate = strtod(argv[++i], &end);
            if (*end != '\0' || !(failure_rate >= 0 && failure_rate <= 1)) {
                fprintf(stderr, "mesh-testsrv: --failure-rate: a share from 0 to 1\n");
                return 2;
            }
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            printf("%s", usage);
            return 0;
        } else if (argv[i][0] >= '0' && argv[i][0] <= '9')
            port = atoi(argv[i]);
        else
            port = -2;
    }
    if (port < 0) {
        fprintf(stderr, "%s", usage);
        return 2;
    }
    if (call_host != NULL && call_proxy == NULL && (call_proxy = proxy_of_env()) == NULL) {
        fprintf(stderr,
                "mesh-testsrv: --call %s needs --proxy IP:PORT or http_proxy=http://IP:PORT\n",
                call_host);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    fd = net_listen_tcp(ip, (uint16_t) port, false, 1024);
    if (fd < 0) {
        fprintf(stderr, "mesh-testsrv: cannot listen on %s:%d: %s\n", ip, port, strerror(-fd));
        return 1;
    }
    snprintf(srv_addr, sizeof(srv_addr), "%s:%d", ip, net_local_port(fd));
    srv_ip = ip;
    printf("listening on %s\n", srv_addr);
    fflush(stdout);
    for (;;) {
        pthread_t t;
        struct client *c;
        int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
        int one = 1;

        if (cfd == -1) {
            if (errno == EAGAIN || errno == EINTR) {
                fd_set rs;

                FD_ZERO(&rs);
                FD_SET(fd, &rs);
                (void) select(fd + 1, &rs, NULL, NULL, NULL);
            }
            continue;
        }
        (void) setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c = calloc(1, sizeof(*c));
        if (c == NULL) {
            (void) close(cfd);
            continue;
        }
        c->fd = cfd;
        if (pthread_create(&t, NULL, client_main, c) != 0) {
            (void) close(cfd);
            free(c);
            continue;
        }
        pthread_detach(t);
    }
}
