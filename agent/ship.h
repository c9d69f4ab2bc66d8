/* agent/ship.h - ships encoded batches to a Zipkin HTTP collector: POST <path> (JSON
 * v2 to /api/v2/spans by default) over one keep-alive connection, one request at a time,
 * on the agent's libev loop. Nothing blocks: the host name is looked up on the resolver
 * thread, again at every reconnect; sockets are non-blocking.
 *
 * Replies: 2xx means shipped. 408, 429 and 5xx, a connection that fails or closes
 * before a whole reply, a malformed reply or a timeout mean retry: the batch goes back
 * to the head of the queue and the next attempt waits an exponential back-off with
 * jitter (retry_min_ms doubling up to retry_max_ms; each wait drawn in [d/2, d]). Any
 * other status is the agent's own bug (Zipkin said the spans are bad): the batch is
 * dropped with reason "rejected" and the reply logged. A request sent on a reused
 * keep-alive connection that the collector had closed is resent at once, on a new one.
 *
 * The queue is bounded in bytes (request bodies, in flight included); a batch that does
 * not fit is dropped with reason "queue_full". Books: every span given to
 * ship_enqueue() is, at any moment, exactly one of shipped, dropped (rejected,
 * queue_full) or pending (ship_pending_spans()). */
#ifndef MESH_AGENT_SHIP_H
#define MESH_AGENT_SHIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

struct batch;
struct ship;
struct stats_hist;

enum ship_proto {
    SHIP_HTTP = 0,
    SHIP_SCRIBE,
};

struct ship_cfg {
    enum ship_proto proto;
    char content_type[48]; /* HTTP: of the bodies, e.g. "application/json" */
    char host[256];        /* name or IP literal (no brackets) */
    uint16_t port;
    char path[256]; /* HTTP */
    bool gzip;      /* HTTP: compress bodies (needs zlib at build time) */
    uint32_t connect_timeout_ms;
    uint32_t request_timeout_ms;
    uint32_t retry_min_ms;
    uint32_t retry_max_ms;
    uint64_t queue_bytes;
};

/* Counter cells the shipper increments (stats registry cells; NULL ones are skipped). */
struct ship_counters {
    uint64_t *shipped;          /* spans the collector accepted */
    uint64_t *batches;          /* requests the collector accepted */
    uint64_t *requests;         /* requests sent (attempts) */
    uint64_t *retried;          /* attempts that will be retried */
    uint64_t *dropped_rejected; /* spans the collector refused (4xx) */
    uint64_t *dropped_queue;    /* spans that did not fit in the queue */
    uint64_t *connects;         /* connections established */
    uint64_t *connect_failures; /* lookups or connects that failed */
    struct stats_hist *latency; /* request sent -> reply read */
};

struct ship *ship_new(struct ev_loop *loop, const struct ship_cfg *cfg,
                      const struct ship_counters *counters);
/* Closes the connection and frees every batch still queued (the caller has read
 * ship_pending_spans() to account for them). NULL is a no-op. */
struct ship *ship_free(struct ship *sh);
/* Reload: a new host, port or path closes the connection (an exchange in flight is
 * retried on the next one); the rest applies to the next decision. */
void ship_set_cfg(struct ship *sh, const struct ship_cfg *cfg);

/* Takes ownership of <b>. Returns 0 when queued, -ENOBUFS when it did not fit (then it
 * is freed and counted as dropped_queue). */
int ship_enqueue(struct ship *sh, struct batch *b);

uint64_t ship_pending_spans(const struct ship *sh); /* queued + in flight */
uint64_t ship_pending_bytes(const struct ship *sh);
unsigned ship_pending_batches(const struct ship *sh);
/* 1 after a successful exchange or connect, 0 after a failed one, -1 before any. */
int ship_reachable(const struct ship *sh);
/* Ends back-off: the next attempt starts now (SIGTERM's final flush). */
void ship_hurry(struct ship *sh);

#endif
