/* bench/openloop.c - mesh-openloop, an open-loop HTTP/1.1 load generator for latency at a
 * fixed load (BENCHMARKING.md, "Tools").
 *
 *   mesh-openloop --rate R --duration S [--warmup S] [--conns N] [--host HOST] [--path PATH]
 *                 [--late-us US] [--drain S] [--json] 127.0.0.1:PORT
 *
 * Request k (k = 0, 1, ...) is due at start + k/R. When it falls due it goes out on an idle
 * keep-alive connection; when none is idle it waits in the backlog until one is, and its
 * latency still counts from its due time: a stall of the server shows as latency of every
 * request scheduled during it, not as fewer requests (closed-loop generators such as wrk
 * hide it that way). Latency = end of the response - due time; a send more than --late-us
 * after its due time is a "late send" (the backlog, or this process not keeping up).
 *
 * One thread, one libev loop. The schedule is a CLOCK_MONOTONIC timerfd armed at the next
 * due time (absolute, ns) and watched by an ev_io: libev's own timers go through
 * epoll_wait's millisecond timeout and would add up to 1 ms of lateness. Nothing spins.
 *
 * The backlog needs no memory: due times are computed from k, so requests [next_send,
 * next_due) are the ones waiting. Memory is the connection array and two histograms, all
 * allocated before the run; nothing is allocated per request.
 *
 * Connection states:
 *   CONNECTING --connected--> IDLE --request due--> BUSY --response end--> IDLE
 *   CONNECTING --error--> DEAD (a connect error)   DEAD --100 ms--> CONNECTING
 *   BUSY --I/O error, EOF--> CONNECTING at once (a read error: the request is lost)
 *   IDLE --EOF from server--> CONNECTING at once (a reconnect)
 *   BUSY --response end, not keep-alive--> CONNECTING at once (a reconnect)
 * A bad or unsupported response (no Content-Length and not chunked, head over 16 KiB,
 * malformed) stops the run with an error: the results would mean nothing. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "common/util.h"
#include "proto/http1.h"

#define OL_RBUF          (16 * 1024) /* bytes; a response head must fit */
#define OL_MAX_HEADERS   64
#define OL_MAX_CONNS     10000
#define OL_MAX_RATE      1e6    /* req/s */
#define OL_MAX_SECONDS   3600.0 /* for --duration, --warmup, --drain */
#define OL_RETRY_S       0.1    /* DEAD -> CONNECTING */
#define OL_START_LIMIT_S 5.0    /* every connection must be up within this */

/* Log-linear histogram of microseconds: values below 1024 have a bucket each (1 us
 * resolution up to ~1 ms); above, each power of two [2^e, 2^(e+1)) is split into 128
 * equal buckets, so a bucket is at most 1/128 (0.8 %) of its values wide. Up to 2^26 - 1 us
 * (67 s); larger values land in the last bucket (max keeps the exact value). */
#define HIST_LINEAR   1024u
#define HIST_SUB_BITS 7u
#define HIST_SUB      (1u << HIST_SUB_BITS)
#define HIST_TOP_BITS 26u
#define HIST_BUCKETS  (HIST_LINEAR + (HIST_TOP_BITS - 10u) * HIST_SUB)
#define HIST_TOP      ((UINT64_C(1) << HIST_TOP_BITS) - 1)

struct hist {
    uint64_t count[HIST_BUCKETS];
    uint64_t n;   /* values recorded */
    uint64_t max; /* us, exact */
    double sum;   /* us, for the mean */
};

static unsigned
hist_index(uint64_t v)
{
    unsigned e;

    if (v < HIST_LINEAR)
        return (unsigned) v;
    if (v > HIST_TOP)
        v = HIST_TOP;
    e = 63u - (unsigned) __builtin_clzll(v); /* 10..25 */
    return HIST_LINEAR + (e - 10u) * HIST_SUB + (unsigned) (v >> (e - HIST_SUB_BITS)) - HIST_SUB;
}

/* The largest value that lands in bucket <i>. */
static uint64_t
hist_bucket_high(unsigned i)
{
    unsigned e, sub;

    if (i < HIST_LINEAR)
        return i;
    e = (i - HIST_LINEAR) / HIST_SUB + 10u;
    sub = (i - HIST_LINEAR) % HIST_SUB;
    return ((uint64_t) (HIST_SUB + sub + 1) << (e - HIST_SUB_BITS)) - 1;
}

static void
hist_record(struct hist *h, uint64_t us)
{
    h->count[hist_index(us)]++;
    h->n++;
    h->sum += (double) us;
    if (us > h->max)
        h->max = us;
}

/* The value at percentile <p> (0 < p <= 100): the highest value of the bucket holding the
 * ceil(p% * n)-th smallest value, capped by the exact max. 0 when empty. */
static uint64_t
hist_percentile(const struct hist *h, double p)
{
    uint64_t rank, seen = 0;
    unsigned i;

    if (h->n == 0)
        return 0;
    rank = (uint64_t) ceil(p / 100.0 * (double) h->n);
    if (rank == 0)
        rank = 1;
    for (i = 0; i < HIST_BUCKETS; i++) {
        seen += h->count[i];
        if (seen >= rank)
            return MESH_MIN(hist_bucket_high(i), h->max);
    }
    return h->max;
}

enum conn_state {
    CONN_CONNECTING,
    CONN_IDLE,
    CONN_BUSY, /* a request written or being written, its response not complete */
    CONN_DEAD, /* closed; <retry> reconnects */
};

enum rsp_phase {
    RSP_HEAD,
    RSP_BODY_LENGTH,
    RSP_BODY_CHUNKED,
};

struct conn {
    ev_io io;       /* <fd>: EV_READ, plus EV_WRITE while connecting or a write waits */
    ev_timer retry; /* DEAD -> CONNECTING */
    int fd;         /* owned; -1 when DEAD */
    enum conn_state state;
    uint64_t k;                   /* BUSY: index of the request in flight */
    uint64_t due_ns;              /* BUSY: its due time */
    uint64_t sent_ns;             /* BUSY: when its first byte was written */
    size_t woff;                  /* BUSY: bytes of the request written */
    enum rsp_phase phase;         /* BUSY: where the response parse is */
    int status;                   /* BUSY, after the head: the response status */
    bool keep_alive;              /* BUSY, after the head */
    uint64_t body_left;           /* RSP_BODY_LENGTH: bytes */
    struct http1_chunked chunked; /* RSP_BODY_CHUNKED */
    size_t rpos, rlen;            /* unparsed bytes are rbuf[rpos, rlen) */
    char rbuf[OL_RBUF];
};

struct opts {
    double rate;     /* req/s */
    double duration; /* s, measured */
    double warmup;   /* s, sent, not measured */
    double drain;    /* s to wait for responses after the last due time */
    unsigned conns;
    const char *host;
    const char *path;
    uint64_t late_us;
    bool json;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    const char *target; /* as given */
};

struct stats {
    uint64_t scheduled;   /* measured requests on the timetable */
    uint64_t sent;        /* measured requests written */
    uint64_t ok;          /* measured, 2xx: in <lat> */
    uint64_t err_status;  /* measured, complete response, status not 2xx */
    uint64_t err_read;    /* measured, lost to an I/O error, reset or EOF */
    uint64_t err_timeout; /* measured, no complete response (or never sent) by the end */
    uint64_t err_connect; /* connection attempts that failed, whole run */
    uint64_t reconnects;  /* connections reopened after the server closed them, whole run */
    uint64_t late;        /* measured, sent more than late_us after due */
    struct hist lat;      /* us, due -> response end, measured 2xx */
    struct hist lag;      /* us, due -> send, measured */
    struct hist svc;      /* us, send -> response end, measured 2xx (what wrk would see) */
};

static struct opts opt = {
    .warmup = 1.0,
    .drain = 2.0,
    .conns = 16,
    .host = "localhost",
    .path = "/",
    .late_us = 1000,
};
static struct stats st;
static struct conn *conns; /* opt.conns of them */
static struct conn **idle; /* stack of IDLE connections */
static unsigned n_idle;
static unsigned n_up;  /* connections that reached IDLE once, during start-up */
static bool started;   /* the schedule runs */
static char req[2400]; /* the request, the same for all */
static size_t req_len;
static uint64_t start_ns;  /* due time of request 0 */
static uint64_t n_warm;    /* requests [0, n_warm) are warm-up */
static uint64_t n_total;   /* requests [0, n_total) are on the timetable */
static uint64_t next_due;  /* requests [0, next_due) have fallen due */
static uint64_t next_send; /* requests [0, next_send) were sent (or lost with a conn) */
static uint64_t in_flight; /* BUSY connections */
static int tfd = -1;       /* the schedule's timerfd */
static ev_io tfd_io;
static ev_timer start_timer; /* start-up limit, then drain limit */
static struct ev_loop *loop;

static void conn_connect(struct conn *c);
static void conn_idle(struct conn *c);
static void schedule_arm(void);

static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
    va_list ap;

    fputs("mesh-openloop: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

/* Per-request events: said once, counted in the report. */
static void
warn_once(const char *msg)
{
    static bool said;

    if (!said)
        fprintf(stderr, "mesh-openloop: %s (said once)\n", msg);
    said = true;
}

static uint64_t
mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static uint64_t
due_ns(uint64_t k)
{
    return start_ns + (uint64_t) ((double) k * 1e9 / opt.rate);
}

static bool
measured(uint64_t k)
{
    return k >= n_warm;
}

static bool
run_done(void)
{
    return next_due == n_total && next_send == n_total && in_flight == 0;
}

static void
conn_watch(struct conn *c, int events)
{
    if (c->io.events == events && ev_is_active(&c->io))
        return;
    ev_io_stop(loop, &c->io);
    ev_io_set(&c->io, c->fd, events);
    ev_io_start(loop, &c->io);
}

/* Closes <c>'s socket; a request in flight is lost (a read error when measured). With
 * <retry_later> the reconnect waits OL_RETRY_S, otherwise it starts now. */
static void
conn_drop(struct conn *c, bool retry_later)
{
    unsigned i;

    if (c->state == CONN_BUSY) {
        in_flight--;
        if (started && measured(c->k))
            st.err_read++;
    }
    if (c->state == CONN_IDLE) {
        for (i = 0; i < n_idle; i++) {
            if (idle[i] == c) {
                idle[i] = idle[--n_idle];
                break;
            }
        }
    }
    ev_io_stop(loop, &c->io);
    (void) close(c->fd);
    c->fd = -1;
    c->state = CONN_DEAD;
    if (retry_later) {
        ev_timer_set(&c->retry, OL_RETRY_S, 0.);
        ev_timer_start(loop, &c->retry);
    } else {
        conn_connect(c);
    }
    if (run_done())
        ev_break(loop, EVBREAK_ALL);
}

static void
conn_connect_failed(struct conn *c, int err)
{
    st.err_connect++;
    if (!started)
        die("cannot connect to %s: %s", opt.target, strerror(err));
    conn_drop(c, true);
}

static void
conn_connect(struct conn *c)
{
    int one = 1;

    c->fd = socket(opt.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd == -1) {
        if (!started)
            die("socket: %s (connection %u of %u; raise the nofile limit?)", strerror(errno),
                (unsigned) (c - conns) + 1, opt.conns);
        st.err_connect++;
        c->state = CONN_DEAD;
        ev_timer_set(&c->retry, OL_RETRY_S, 0.);
        ev_timer_start(loop, &c->retry);
        return;
    }
    (void) setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->state = CONN_CONNECTING;
    c->rpos = c->rlen = 0;
    if (connect(c->fd, (struct sockaddr *) &opt.addr, opt.addrlen) == -1 && errno != EINPROGRESS) {
        conn_connect_failed(c, errno);
        return;
    }
    conn_watch(c, EV_WRITE);
}

static void
conn_on_retry(struct ev_loop *l, ev_timer *w, int revents)
{
    conn_connect(container_of(w, struct conn, retry));
}

/* Writes what is left of the request; waits for EV_WRITE on a short write. */
static void
conn_flush(struct conn *c)
{
    while (c->woff < req_len) {
        ssize_t n = send(c->fd, req + c->woff, req_len - c->woff, MSG_NOSIGNAL);

        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1 && errno == EAGAIN) {
            conn_watch(c, EV_READ | EV_WRITE);
            return;
        }
        if (n == -1) {
            conn_drop(c, false);
            return;
        }
        c->woff += (size_t) n;
    }
    conn_watch(c, EV_READ);
}

static void
conn_send(struct conn *c, uint64_t k)
{
    uint64_t now = mono_ns(), due = due_ns(k);
    uint64_t lag_us = now > due ? (now - due) / 1000u : 0;

    if (measured(k)) {
        st.sent++;
        hist_record(&st.lag, lag_us);
        if (lag_us > opt.late_us)
            st.late++;
    }
    c->state = CONN_BUSY;
    c->k = k;
    c->due_ns = due;
    c->sent_ns = now;
    c->woff = 0;
    c->phase = RSP_HEAD;
    in_flight++;
    conn_flush(c);
}

/* <c> can take a request: the oldest waiting one, or it joins the idle stack. */
static void
conn_idle(struct conn *c)
{
    c->state = CONN_IDLE;
    if (next_send < next_due) {
        conn_send(c, next_send++);
        return;
    }
    idle[n_idle++] = c;
}

/* The response to <c>'s request ended at <now>. */
static void
conn_complete(struct conn *c, uint64_t now)
{
    uint64_t lat_us = now > c->due_ns ? (now - c->due_ns + 500u) / 1000u : 0;

    if (measured(c->k)) {
        if (c->status >= 200 && c->status < 300) {
            st.ok++;
            hist_record(&st.lat, lat_us);
            hist_record(&st.svc, now > c->sent_ns ? (now - c->sent_ns + 500u) / 1000u : 0);
        } else {
            st.err_status++;
        }
    }
    in_flight--;
    c->state = CONN_IDLE; /* not in the stack yet */
    if (c->rpos < c->rlen) {
        /* bytes nobody asked for: the connection is out of step */
        warn_once("server sent bytes after a response, reconnecting");
        st.err_read++;
        conn_drop(c, false);
    } else if (!c->keep_alive) {
        st.reconnects++;
        conn_drop(c, false);
    } else {
        conn_idle(c);
        if (run_done())
            ev_break(loop, EVBREAK_ALL);
    }
}

/* Parses what rbuf holds. Returns true when the response ended (<c> is no longer BUSY). */
static bool
conn_parse(struct conn *c, uint64_t now)
{
    static const struct http1_limits lim = {
        .max_request_line = OL_RBUF, .max_head = OL_RBUF, .max_headers = OL_MAX_HEADERS};
    struct http1_header hdrs[OL_MAX_HEADERS];
    struct http1_response rsp;
    struct http1_error err;
    size_t avail, used;
    int r;

    for (;;) {
        avail = c->rlen - c->rpos;
        switch (c->phase) {
        case RSP_HEAD:
            r = http1_parse_response(c->rbuf + c->rpos, avail, &lim, false, hdrs, ARRAY_SIZE(hdrs),
                                     &rsp, &err);
            if (r == -EAGAIN) {
                if (c->rpos == 0 && c->rlen == OL_RBUF)
                    die("response head from %s larger than %u bytes: not supported", opt.target,
                        OL_RBUF);
                return false;
            }
            if (r < 0)
                die("bad response from %s: %s", opt.target, err.reason);
            c->rpos += (size_t) r;
            if (rsp.status < 200) {
                if (rsp.status == 101)
                    die("response from %s switches protocols (101): not supported", opt.target);
                continue; /* interim response: the final one follows */
            }
            c->status = rsp.status;
            c->keep_alive = rsp.keep_alive;
            switch (rsp.body) {
            case HTTP1_BODY_NONE:
                conn_complete(c, now);
                return true;
            case HTTP1_BODY_LENGTH:
                c->body_left = rsp.content_length;
                c->phase = RSP_BODY_LENGTH;
                break;
            case HTTP1_BODY_CHUNKED:
                memset(&c->chunked, 0, sizeof(c->chunked));
                c->phase = RSP_BODY_CHUNKED;
                break;
            case HTTP1_BODY_UNTIL_CLOSE:
                die("response from %s (status %d) has neither Content-Length nor chunked "
                    "coding (body until close): not supported",
                    opt.target, rsp.status);
            }
            break;
        case RSP_BODY_LENGTH:
            used = (size_t) MESH_MIN((uint64_t) avail, c->body_left);
            c->rpos += used;
            c->body_left -= used;
            if (c->body_left == 0) {
                conn_complete(c, now);
                return true;
            }
            return false;
        case RSP_BODY_CHUNKED:
            r = http1_chunked_scan(&c->chunked, c->rbuf + c->rpos, avail, &used, &err);
            if (r < 0)
                die("bad chunked body from %s: %s", opt.target, err.reason);
            c->rpos += used;
            if (r == 1) {
                conn_complete(c, now);
                return true;
            }
            return false;
        }
    }
}

static void
conn_read(struct conn *c)
{
    for (;;) {
        ssize_t n;

        if (c->rpos == c->rlen) {
            c->rpos = c->rlen = 0;
        } else if (c->rlen == OL_RBUF && c->rpos > 0) {
            memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
            c->rlen -= c->rpos;
            c->rpos = 0;
        }
        n = read(c->fd, c->rbuf + c->rlen, OL_RBUF - c->rlen);
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1 && errno == EAGAIN)
            return;
        if (n == 0 && c->state == CONN_IDLE) {
            st.reconnects++; /* the server closed an idle keep-alive connection */
            conn_drop(c, false);
            return;
        }
        if (n <= 0) {
            conn_drop(c, false); /* counts the request in flight */
            return;
        }
        if (c->state != CONN_BUSY) {
            warn_once("server sent bytes without a request, reconnecting");
            st.err_read++;
            conn_drop(c, false);
            return;
        }
        c->rlen += (size_t) n;
        if (conn_parse(c, mono_ns()))
            return; /* at most one response per request: the next read is the next one's */
        if (c->rlen < OL_RBUF)
            return; /* a short read drained the socket; EV_READ (level) says when more */
    }
}

static void
conn_on_io(struct ev_loop *l, ev_io *w, int revents)
{
    struct conn *c = container_of(w, struct conn, io);
    int err = 0;
    socklen_t len = sizeof(err);

    if (c->state == CONN_CONNECTING) {
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
            err = errno;
        if (err != 0) {
            conn_connect_failed(c, err);
            return;
        }
        conn_watch(c, EV_READ);
        if (!started && ++n_up == opt.conns) {
            c->state = CONN_IDLE;
            idle[n_idle++] = c;
            ev_timer_stop(loop, &start_timer);
            ev_break(loop, EVBREAK_ALL); /* main() starts the schedule */
            return;
        }
        conn_idle(c);
        return;
    }
    if ((revents & EV_WRITE) && c->state == CONN_BUSY && c->woff < req_len) {
        conn_flush(c);
        if (c->state != CONN_BUSY)
            return;
    }
    if (revents & EV_READ)
        conn_read(c);
}

/* Requests that fell due go out on idle connections; the rest wait in the backlog. */
static void
schedule_on_timer(struct ev_loop *l, ev_io *w, int revents)
{
    uint64_t now = mono_ns();

    /* no read() of the expiry count: timerfd_settime() in schedule_arm() clears it (or the
     * watcher stops), which saves a syscall per due time */
    while (next_due < n_total && due_ns(next_due) <= now)
        next_due++;
    while (next_send < next_due && n_idle > 0)
        conn_send(idle[--n_idle], next_send++);
    schedule_arm();
}

static void
on_limit(struct ev_loop *l, ev_timer *w, int revents)
{
    if (!started)
        die("not all %u connections to %s were up after %.0f s", opt.conns, opt.target,
            OL_START_LIMIT_S);
    ev_break(loop, EVBREAK_ALL); /* drain limit: what is still out is counted as timeouts */
}

static void
schedule_arm(void)
{
    struct itimerspec its = {0};
    uint64_t t;

    if (next_due == n_total) {
        ev_io_stop(loop, &tfd_io);
        if (!ev_is_active(&start_timer)) {
            ev_timer_set(&start_timer, opt.drain, 0.);
            ev_timer_start(loop, &start_timer);
        }
        if (run_done())
            ev_break(loop, EVBREAK_ALL);
        return;
    }
    t = due_ns(next_due);
    its.it_value.tv_sec = (time_t) (t / 1000000000u);
    its.it_value.tv_nsec = (long) (t % 1000000000u);
    if (timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL) == -1)
        die("timerfd_settime: %s", strerror(errno));
}

static double
parse_seconds(const char *name, const char *s, double min)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v < min || v > OL_MAX_SECONDS)
        die("%s: expected seconds, %g to %g, got '%s'", name, min, OL_MAX_SECONDS, s);
    return v;
}

static unsigned long
parse_ulong(const char *name, const char *s, unsigned long min, unsigned long max)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || *s == '-' || v < min || v > max)
        die("%s: expected an integer from %lu to %lu, got '%s'", name, min, max, s);
    return v;
}

/* Only loopback: a load generator pointed elsewhere by mistake is a denial of service. */
static void
parse_target(const char *s)
{
    struct sockaddr_in *sin = (struct sockaddr_in *) &opt.addr;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &opt.addr;
    char ip[INET6_ADDRSTRLEN + 2];
    const char *colon, *port;
    size_t iplen;
    unsigned long p;

    opt.target = s;
    if (s[0] == '[') {
        colon = strstr(s, "]:");
        if (colon == NULL)
            die("target '%s': expected 127.x.y.z:PORT or [::1]:PORT", s);
        iplen = (size_t) (colon - s - 1);
        port = colon + 2;
        s++;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL)
            die("target '%s': expected 127.x.y.z:PORT or [::1]:PORT", s);
        iplen = (size_t) (colon - s);
        port = colon + 1;
    }
    if (iplen >= sizeof(ip))
        die("target '%s': expected 127.x.y.z:PORT or [::1]:PORT", opt.target);
    memcpy(ip, s, iplen);
    ip[iplen] = '\0';
    p = parse_ulong("port", port, 1, 65535);
    memset(&opt.addr, 0, sizeof(opt.addr));
    if (inet_pton(AF_INET, ip, &sin->sin_addr) == 1) {
        if ((ntohl(sin->sin_addr.s_addr) >> 24) != 127)
            die("target '%s': only loopback addresses (127.0.0.0/8 or ::1) are allowed",
                opt.target);
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t) p);
        opt.addrlen = sizeof(*sin);
    } else if (inet_pton(AF_INET6, ip, &sin6->sin6_addr) == 1) {
        if (!IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
            die("target '%s': only loopback addresses (127.0.0.0/8 or ::1) are allowed",
                opt.target);
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t) p);
        opt.addrlen = sizeof(*sin6);
    } else {
        die("target '%s': '%s' is not an IP address; only loopback addresses (127.0.0.0/8 "
            "or ::1) are allowed",
            opt.target, ip);
    }
}

/* Accepts printable ASCII without spaces: the request line and Host stay well-formed. */
static void
check_token(const char *name, const char *s, size_t max)
{
    const char *p;

    if (*s == '\0' || strlen(s) > max)
        die("%s: must be 1 to %zu bytes", name, max);
    for (p = s; *p; p++) {
        if (*p <= ' ' || *p >= 0x7f)
            die("%s '%s': only printable ASCII without spaces is allowed", name, s);
    }
}

static void
usage(FILE *f)
{
    fputs("usage: mesh-openloop --rate R --duration S [--warmup S] [--conns N] [--host HOST]\n"
          "                     [--path PATH] [--late-us US] [--drain S] [--json]\n"
          "                     127.0.0.1:PORT | [::1]:PORT\n"
          "  --rate R       requests per second, on a fixed timetable (required)\n"
          "  --duration S   seconds measured (required)\n"
          "  --warmup S     seconds sent first, not measured (default 1)\n"
          "  --conns N      keep-alive connections (default 16)\n"
          "  --host HOST    Host header (default localhost)\n"
          "  --path PATH    request path (default /)\n"
          "  --late-us US   a send later than this after its due time is late (default 1000)\n"
          "  --drain S      wait for responses after the last due time (default 2)\n"
          "  --json         one line of JSON instead of the text report\n",
          f);
}

static void
parse_args(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"rate", required_argument, NULL, 'r'},
        {"duration", required_argument, NULL, 'd'},
        {"warmup", required_argument, NULL, 'w'},
        {"conns", required_argument, NULL, 'c'},
        {"host", required_argument, NULL, 'H'},
        {"path", required_argument, NULL, 'p'},
        {"late-us", required_argument, NULL, 'l'},
        {"drain", required_argument, NULL, 'D'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char *end;
    int ch;

    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 'r':
            errno = 0;
            opt.rate = strtod(optarg, &end);
            if (errno != 0 || end == optarg || *end != '\0' || !isfinite(opt.rate) ||
                opt.rate <= 0 || opt.rate > OL_MAX_RATE)
                die("--rate: expected requests per second above 0 and up to %g, got '%s'",
                    OL_MAX_RATE, optarg);
            break;
        case 'd':
            opt.duration = parse_seconds("--duration", optarg, 0.001);
            break;
        case 'w':
            opt.warmup = parse_seconds("--warmup", optarg, 0);
            break;
        case 'D':
            opt.drain = parse_seconds("--drain", optarg, 0.001);
            break;
        case 'c':
            opt.conns = (unsigned) parse_ulong("--conns", optarg, 1, OL_MAX_CONNS);
            break;
        case 'l':
            opt.late_us = parse_ulong("--late-us", optarg, 1, 60000000);
            break;
        case 'H':
            check_token("--host", optarg, 255);
            opt.host = optarg;
            break;
        case 'p':
            check_token("--path", optarg, 2048);
            if (optarg[0] != '/')
                die("--path '%s': must start with '/'", optarg);
            opt.path = optarg;
            break;
        case 'j':
            opt.json = true;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            exit(2);
        }
    }
    if (opt.rate == 0)
        die("--rate is required (try --help)");
    if (opt.duration == 0)
        die("--duration is required (try --help)");
    if (optind != argc - 1)
        die("expected one target, 127.0.0.1:PORT or [::1]:PORT (try --help)");
    parse_target(argv[optind]);
    if (opt.rate * (opt.warmup + opt.duration) > 1e12)
        die("--rate x (--warmup + --duration) is over 10^12 requests");
}

static void
report(double elapsed_s)
{
    struct hist *l = &st.lat;
    uint64_t requests = st.ok + st.err_status;
    uint64_t errors = st.err_connect + st.err_read + st.err_status + st.err_timeout;
    double achieved = (double) requests / opt.duration;
    double mean = l->n ? l->sum / (double) l->n : 0;

    if (opt.json) {
        printf("{\"target\":\"%s\",\"rate\":%.3f,\"duration_s\":%.3f,\"warmup_s\":%.3f,"
               "\"conns\":%u,\"scheduled\":%" PRIu64 ",\"sent\":%" PRIu64 ",\"requests\":%" PRIu64
               ",\"achieved_rate\":%.3f,\"ok\":%" PRIu64 ",\"errors\":%" PRIu64
               ",\"errors_connect\":%" PRIu64 ",\"errors_read\":%" PRIu64
               ",\"errors_status\":%" PRIu64 ",\"errors_timeout\":%" PRIu64
               ",\"reconnects\":%" PRIu64 ",\"late_sends\":%" PRIu64 ",\"late_us\":%" PRIu64
               ",\"p50_us\":%" PRIu64 ",\"p90_us\":%" PRIu64 ",\"p99_us\":%" PRIu64
               ",\"p99_9_us\":%" PRIu64 ",\"max_us\":%" PRIu64
               ",\"mean_us\":%.1f,\"lag_p50_us\":%" PRIu64 ",\"lag_p99_us\":%" PRIu64
               ",\"lag_p99_9_us\":%" PRIu64 ",\"lag_max_us\":%" PRIu64 ",\"svc_p50_us\":%" PRIu64
               ",\"svc_p99_us\":%" PRIu64 ",\"svc_p99_9_us\":%" PRIu64 ",\"svc_max_us\":%" PRIu64
               ",\"elapsed_s\":%.3f}\n",
               opt.target, opt.rate, opt.duration, opt.warmup, opt.conns, st.scheduled, st.sent,
               requests, achieved, st.ok, errors, st.err_connect, st.err_read, st.err_status,
               st.err_timeout, st.reconnects, st.late, opt.late_us, hist_percentile(l, 50),
               hist_percentile(l, 90), hist_percentile(l, 99), hist_percentile(l, 99.9), l->max,
               mean, hist_percentile(&st.lag, 50), hist_percentile(&st.lag, 99),
               hist_percentile(&st.lag, 99.9), st.lag.max, hist_percentile(&st.svc, 50),
               hist_percentile(&st.svc, 99), hist_percentile(&st.svc, 99.9), st.svc.max, elapsed_s);
        return;
    }
    printf("target %s, %u connections, GET %s Host: %s\n", opt.target, opt.conns, opt.path,
           opt.host);
    printf("rate %.1f req/s for %.3f s after %.3f s warm-up\n", opt.rate, opt.duration, opt.warmup);
    printf("requests     %" PRIu64 " of %" PRIu64 " scheduled (%" PRIu64 " sent), %.1f req/s"
           " achieved\n",
           requests, st.scheduled, st.sent, achieved);
    printf("errors       %" PRIu64 ": connect %" PRIu64 ", read %" PRIu64 ", status %" PRIu64
           ", timeout %" PRIu64 " (reconnects after server close: %" PRIu64 ")\n",
           errors, st.err_connect, st.err_read, st.err_status, st.err_timeout, st.reconnects);
    printf("late sends   %" PRIu64 " (> %" PRIu64 " us after due); send lag p50 %" PRIu64
           " p99 %" PRIu64 " p99.9 %" PRIu64 " max %" PRIu64 " us\n",
           st.late, opt.late_us, hist_percentile(&st.lag, 50), hist_percentile(&st.lag, 99),
           hist_percentile(&st.lag, 99.9), st.lag.max);
    printf("latency (us, from due time, 2xx only, %" PRIu64 " values)\n", l->n);
    printf("  p50 %" PRIu64 "  p90 %" PRIu64 "  p99 %" PRIu64 "  p99.9 %" PRIu64 "  max %" PRIu64
           "  mean %.1f\n",
           hist_percentile(l, 50), hist_percentile(l, 90), hist_percentile(l, 99),
           hist_percentile(l, 99.9), l->max, mean);
    printf("from send (us, what a closed-loop tool reports: hides the send lag)\n");
    printf("  p50 %" PRIu64 "  p99 %" PRIu64 "  p99.9 %" PRIu64 "  max %" PRIu64 "\n",
           hist_percentile(&st.svc, 50), hist_percentile(&st.svc, 99),
           hist_percentile(&st.svc, 99.9), st.svc.max);
}

int
main(int argc, char **argv)
{
    uint64_t t0, k;
    unsigned i;
    int n;

    parse_args(argc, argv);
    n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", opt.path, opt.host);
    MESH_BUG_ON(n < 0 || (size_t) n >= sizeof(req));
    req_len = (size_t) n;
    n_warm = (uint64_t) ceil(opt.warmup * opt.rate);
    n_total = (uint64_t) ceil((opt.warmup + opt.duration) * opt.rate);
    if (n_total <= n_warm)
        die("--duration %g s at --rate %g req/s schedules no request", opt.duration, opt.rate);
    st.scheduled = n_total - n_warm;

    loop = ev_default_loop(EVFLAG_AUTO);
    if (loop == NULL)
        die("cannot initialise libev");
    conns = xcalloc(opt.conns, sizeof(*conns));
    idle = xcalloc(opt.conns, sizeof(*idle));
    tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (tfd == -1)
        die("timerfd_create: %s", strerror(errno));
    ev_io_init(&tfd_io, schedule_on_timer, tfd, EV_READ);
    ev_init(&start_timer, on_limit);

    /* every connection up before the timetable starts */
    ev_timer_set(&start_timer, OL_START_LIMIT_S, 0.);
    ev_timer_start(loop, &start_timer);
    for (i = 0; i < opt.conns; i++) {
        ev_init(&conns[i].io, conn_on_io);
        ev_init(&conns[i].retry, conn_on_retry);
        conns[i].fd = -1;
        conn_connect(&conns[i]);
    }
    ev_run(loop, 0);

    started = true;
    t0 = mono_ns();
    start_ns = t0 + 1000000u; /* 1 ms from now: the first due time is not already late */
    ev_io_start(loop, &tfd_io);
    schedule_arm();
    ev_run(loop, 0);

    /* what never got a complete response */
    for (k = next_send; k < n_total; k++)
        st.err_timeout += measured(k);
    for (i = 0; i < opt.conns; i++) {
        if (conns[i].state == CONN_BUSY && measured(conns[i].k))
            st.err_timeout++;
    }
    report((double) (mono_ns() - t0) / 1e9);

    for (i = 0; i < opt.conns; i++) {
        if (conns[i].fd != -1)
            (void) close(conns[i].fd);
    }
    (void) close(tfd);
    free(idle);
    free(conns);
    ev_loop_destroy(loop);
    return 0;
}
