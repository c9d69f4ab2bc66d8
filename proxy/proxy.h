/* proxy/proxy.h - the worker's runtime objects, shared by the proxy's modules
 * (worker, router, conn, upstream). Not a public API: meshd's modules are tightly
 * coupled on the request path and this header is where their layouts meet.
 *
 * Lifetimes: a worker lives for its process. Routers, listeners, services and clients
 * live as long as the worker (one config generation per worker: a reload starts new
 * workers). A struct conn lives from accept to conn_close(); a struct upconn from
 * connect to upconn_close(); a request is embedded in its conn and reset between
 * requests. */
#ifndef MESH_PROXY_PROXY_H
#define MESH_PROXY_PROXY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <ev.h>

#include "common/buf.h"
#include "common/list.h"
#include "common/stats.h"
#include "proto/http1.h"
#include "proxy/naming.h"
#include "proxy/trace.h"

struct cfg;
struct cfg_router;
struct dtab;
struct stats_hist;
struct stats_region;
struct worker;

/* Figures kept for a server, a service or a client (Linkerd's stat scopes). */
struct scope_stats {
    uint64_t *requests;
    uint64_t *success;
    uint64_t *failures;
    int64_t *pending;
    struct stats_hist *latency; /* request_latency_ms */
};

struct router {
    const struct cfg_router *cfg; /* borrowed from the worker's cfg */
    struct worker *worker;
    struct dtab *dtab;           /* parsed base dtab */
    char via[64];                /* our Via entry: "1.1 meshd" */
    struct list services;        /* struct service.link, most recently used first */
    unsigned n_services;         /* bounded: see ROUTER_MAX_SERVICES */
    struct list clients;         /* struct client.link */
};

struct listener {
    int fd;                      /* owned by the master; inherited */
    ev_io io;
    struct router *router;
    const struct cfg_server *server;
    struct scope_stats stats;
    uint64_t *connects;          /* connections accepted */
    int64_t *connections;        /* open now */
    uint64_t *sent_bytes;
    uint64_t *received_bytes;
    uint64_t *rejected;          /* requests_rejected/<reason>: any local 4xx */
    char span_service[96];       /* server spans' service name, "<ip>/<port>" as Linkerd */
};

/* A logical name (/svc/world) as seen by one router. */
struct service {
    struct list link;
    char name[512];
    struct scope_stats stats;
};

/* One endpoint (address) of a client, with its keep-alive pool and health. */
struct endpoint_state {
    struct sockaddr_storage addr;
    socklen_t addr_len;
    double weight;
    char label[64];          /* "127.0.0.1:8080", for logs and errors */
    unsigned load;           /* requests outstanding from this worker */
    struct list idle;        /* struct upconn.link: idle keep-alive connections */
    unsigned n_idle;
    unsigned consecutive_failures;
    uint64_t down_until_us;  /* failure accrual: not picked before this (0 = up) */
    uint32_t backoff_ms;     /* next down period */
    bool probing;            /* one request allowed through after a down period */
    bool present;            /* still in the client's endpoint set */
    /* rt/<r>/client/<id>/loadbalancer/endpoint_{load,idle,removed,present}/<label>, for the
     * dashboard; all NULL once the worker's budget of endpoint gauges is spent */
    int64_t *g_load, *g_idle, *g_removed, *g_present;
};

/* A bound destination (/#/io.l5d.fs/world): a load-balanced set of endpoints. */
struct client {
    struct list link;
    struct router *router;
    char id[512];
    struct endpoint_set *eps;  /* the set the endpoints were built from */
    struct endpoint_state **ep; /* n_ep entries, each owned */
    unsigned n_ep;
    unsigned rr_next;
    struct scope_stats stats;
    int64_t *connections;
    uint64_t *fa_removals, *fa_revivals;
    int64_t *lb_size, *lb_available;
    int64_t *fa_removed;       /* failure_accrual/removed */
    unsigned n_removed;        /* present endpoints removed by failure accrual */
    int64_t avail_shown;       /* what this worker added to lb_available */
    char stats_prefix[STATS_NAME_MAX]; /* "rt/<router>/client/<id>" */
    uint64_t *status_class[6]; /* status/1XX .. status/5XX */
};

enum upconn_state {
    UPCONN_CONNECTING = 1,
    UPCONN_BUSY,   /* carrying a request */
    UPCONN_IDLE,   /* in its endpoint's pool */
};

struct conn;

struct upconn {
    struct list link;      /* endpoint_state.idle while idle */
    int fd;
    ev_io io;
    ev_timer timer;        /* connect timeout / read idle timeout / pool idle expiry */
    enum upconn_state state;
    struct worker *worker;
    struct client *client; /* borrowed: clients live as long as the worker */
    struct endpoint_state *ep;
    struct conn *conn;     /* the request's client connection while BUSY */
    struct buf *in;        /* bytes from upstream */
    unsigned requests;     /* served on this connection, for reuse decisions */
    bool reused;           /* this request went out on a pooled connection */
    bool want_read, want_write;
    bool rd_ready;         /* the socket may have bytes: epoll said so and no short read since */
    uint64_t deadline_us;  /* connect or read deadline, 0 = none */
};

enum conn_state {
    CONN_IDLE = 1,   /* between requests: no bytes of a new head yet */
    CONN_HEAD,       /* part of a request head received */
    CONN_BINDING,    /* waiting for a name to resolve */
    CONN_PROXYING,   /* request forwarded or being forwarded; response awaited/streaming */
    CONN_LOCAL,      /* writing a response meshd made itself */
};

/* The request a connection is working on. Reset between requests. */
struct request {
    uint64_t start_us;        /* monotonic, first byte of the head */
    uint64_t deadline_us;     /* total timeout, 0 = none */
    uint64_t binding_deadline_us;
    struct service *service;
    struct client *client;
    char path[512];           /* identified name, e.g. /svc/world */
    char why[256];            /* reason for a local error */
    struct dtab *local_dtab;  /* l5d-ctx-dtab ++ l5d-dtab, owned; NULL when none */
    struct buf *head;         /* rewritten head for upstream (without the final CRLF until bound) */
    bool is_head;             /* HEAD request */
    bool keep_alive;          /* client wants to keep the connection */
    bool expect_continue;
    int minor_version;
    bool body_chunked;
    uint64_t body_left;       /* LENGTH: body bytes still to forward */
    struct http1_chunked req_chunked;
    bool req_done;            /* whole request (head + body) written upstream */
    uint32_t req_ready;       /* body bytes at in->start known to belong to the request */
    bool head_sent;           /* head fully written upstream */
    uint32_t head_off;        /* bytes of <head> written */
    /* response */
    int status;
    bool resp_head_done;      /* final response head parsed and queued to the client */
    enum http1_body resp_body;
    uint64_t resp_left;
    struct http1_chunked resp_chunked;
    uint32_t resp_ready;      /* bytes at up->in->start known to belong to the response body */
    bool resp_done;
    bool resp_keep_alive;     /* upstream connection reusable after this response */
    unsigned attempts;        /* upstream attempts (requeues after connect failures) */
    const struct endpoint_state *failed_ep; /* last endpoint that failed: not picked again
                                             * while others exist (only compared) */
    uint64_t req_bytes, resp_bytes;
    uint64_t resp_sent_mono_us; /* sampled: the last response bytes went to the kernel */
    char residual[128];       /* of the bound name, for the spans */
    struct sockaddr_storage up_addr; /* the endpoint of the last attempt */
    bool have_up_addr;
    struct req_trace trace;
};

struct conn {
    struct list link;         /* worker.conns */
    struct list wait_link;    /* worker.binding_wait while CONN_BINDING */
    int fd;
    ev_io io;
    ev_timer timer;           /* header, idle and total deadlines */
    enum conn_state state;
    unsigned refs;            /* > 0 while a callback frame uses this conn */
    bool closing;             /* conn_close() called; freed when refs drops to 0 */
    bool close_after;         /* close once the current response is written */
    bool want_read, want_write;
    bool rd_ready;            /* the socket may have bytes (see upconn.rd_ready) */
    struct worker *worker;
    struct listener *listener;
    struct buf *in;           /* bytes from the client */
    struct buf *out;          /* bytes meshd writes to the client itself (heads, errors) */
    struct upconn *up;        /* while proxying */
    struct sockaddr_storage peer;
    socklen_t peer_len;
    uint64_t deadline_us;     /* the current state's deadline, 0 = none */
    uint64_t timer_due_us;    /* when the armed timer fires, 0 = not armed */
    struct sockaddr_storage local; /* our end, looked up once when a span needs it */
    bool have_local;
    struct request req;
};

struct worker {
    struct ev_loop *loop;
    const struct cfg *cfg;
    int slot;
    int chan_fd;
    ev_io chan_io;
    struct stats_region *stats;
    struct naming *naming;
    struct telemetry *telemetry;
    struct router *routers;
    size_t n_routers;
    struct listener *listeners;
    size_t n_listeners;
    struct list conns;        /* all client connections */
    unsigned n_conns;
    struct list binding_wait; /* struct conn.wait_link: conns in CONN_BINDING */
    bool draining;
    bool accepting;
    ev_timer drain_timer;
    uint32_t drain_idle_ms;   /* draining: the idle timeout of keep-alive connections */
    ev_timer tick;            /* 100 ms housekeeping: binding deadlines */
    struct buf_pool bufs;
    uint64_t rng;             /* xorshift64* state */
    struct http1_limits limits;      /* requests */
    struct http1_limits resp_limits; /* responses: up to a buffer */
    uint32_t max_headers;
    unsigned n_ep_gauges;     /* endpoints given gauges so far (WORKER_MAX_EP_GAUGES) */
};

/* A draining worker closes keep-alive connections idle this long (or half the drain
 * deadline, if shorter): long enough for a client to finish sending the request it was
 * sending, short enough not to hold the old generation. */
#define WORKER_DRAIN_IDLE_MS 1000

/* Endpoints a worker gives per-endpoint gauges (4 names each) over its life: the stats
 * region holds 4096 names, and endpoints that come and go (Kubernetes pods) would fill
 * it. Past this, endpoints still work but have no gauges of their own. */
#define WORKER_MAX_EP_GAUGES 256

/* worker.c */
int worker_main(const struct cfg *cfg, int slot, const int *listen_fds, size_t n_fds,
                int chan_fd, struct stats_region *stats);
double worker_rand01(struct worker *w);
uint32_t worker_rand32(struct worker *w);
void worker_conn_closed(struct worker *w);

/* router.c */
int router_init(struct router *r, struct worker *w, const struct cfg_router *cfg, char *err,
                size_t errlen);
void router_fini(struct router *r);
/* Identifies <req> (parsed head) into <ret_path> (e.g. /svc/world). Returns 0, or -ENOENT
 * with <why> filled when no identifier matches. */
struct ident_input {
    const struct http1_request *req;
    const char *host;  /* authority: from an absolute-form target, else the Host header */
    size_t host_len;
    const char *uri;   /* origin-form target: path and query */
    size_t uri_len;
};
int router_identify(const struct router *r, const struct ident_input *in, char *ret_path,
                    size_t pathlen, char *why, size_t whylen);
struct service *router_service(struct router *r, const char *name);
struct client *router_client(struct router *r, const struct name_bound *b);
void scope_stats_init(struct scope_stats *s, struct stats_region *r, const char *prefix);

/* upstream.c */
/* Picks an endpoint of <c> (p2c least-loaded, skipping endpoints marked down unless
 * all are, and <avoid> unless it is the only one). NULL when <c> has none. */
struct endpoint_state *upstream_pick(struct worker *w, struct client *c,
                                     const struct endpoint_state *avoid);
/* An idle pooled connection to <ep>, or a new one being connected. NULL with errno. */
struct upconn *upstream_acquire(struct worker *w, struct client *c, struct endpoint_state *ep);
/* The request on <u> finished cleanly: back to the pool if <reusable>, else closed. */
void upstream_release(struct upconn *u, bool reusable);
void upconn_close(struct upconn *u);
void upstream_record(struct client *c, struct endpoint_state *ep, bool ok);
void upstream_close_idle(struct worker *w);
void upstream_update_timer(struct upconn *u);
/* Makes <c>'s endpoints those of <eps> (keeping state and pools of addresses that stay). */
int upstream_sync_endpoints(struct client *c, struct endpoint_set *eps);
void upstream_client_fini(struct client *c);

/* conn.c */
void conn_accept(struct worker *w, struct listener *l, int fd, const struct sockaddr *sa,
                 socklen_t salen);
/* The worker started draining: an idle <c> gets the drain idle timeout; every response
 * from now on says Connection: close (worker_start_drain). */
void conn_drain(struct conn *c);
void conn_close(struct conn *c);
/* Closes and frees <c> now: only when no callback frame uses it (worker exit). */
void conn_abort(struct conn *c);
void conn_binding_retry(struct conn *c);
/* upconn events, forwarded by upstream.c */
void conn_on_upstream_connected(struct conn *c);
void conn_on_upstream_io(struct conn *c, int revents);
void conn_on_upstream_error(struct conn *c, int err, bool timeout);

#endif
