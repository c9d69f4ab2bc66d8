/* agent/ship.h - ships encoded batches to a Zipkin collector over one persistent TCP
 * connection, one request at a time, on the agent's libev loop. Nothing blocks: the host
 * name is looked up on the resolver thread, again at every reconnect; sockets are
 * non-blocking. Two protocols share the connection handling, the queue and the policy:
 *
 *   HTTP:   POST <path> with the batch as body (JSON v2 to /api/v2/spans by default), keep-
 *           alive. 2xx means shipped; 408, 429 and 5xx mean retry; any other status is
 *           the agent's own bug (Zipkin said the spans are bad): "rejected".
 *   SCRIBE: the batch body is a whole framed Log() call (port 9410); the reply's OK means
 *           shipped, TRY_LATER retry, an exception reply (Zipkin could not decode a
 *           message: it drops the whole call) or a reply that is not a Log() result
 *           "rejected".
 *
 * A connection that fails or closes before a whole reply, a malformed HTTP reply or a
 * timeout mean retry. Retry: the batch goes back to the head of the queue and the next
 * attempt waits an exponential back-off with jitter (retry_min_ms doubling up to
 * retry_max_ms; each wait drawn in [d/2, d]). A rejected batch is dropped and the reply
 * logged. A request sent on a reused connection that the collector had closed is resent
 * at once, on a new one.
 *
 * The queue is bounded in bytes (request bodies, in flight included). Books: every span
 * of a batch that ship_try_enqueue() took is, at any moment, exactly one of shipped,
 * dropped (rejected) or pending (ship_pending_spans()). */
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

/* Queues <b> (taking ownership) and returns 0, or returns -ENOBUFS when it does not fit
 * (the caller keeps <b>; it may have been gzipped). An empty queue takes any batch. */
int ship_try_enqueue(struct ship *sh, struct batch *b);
/* Would a batch of <len> body bytes fit now? */
bool ship_has_room(const struct ship *sh, size_t len);
/* Hands every batch still queued or in flight to <fn> (which takes ownership), oldest
 * first, and closes the connection: the shutdown path, to spool what was not shipped. */
void ship_take_all(struct ship *sh, void (*fn)(struct batch *b, void *arg), void *arg);

uint64_t ship_pending_spans(const struct ship *sh); /* queued + in flight */
uint64_t ship_pending_bytes(const struct ship *sh);
unsigned ship_pending_batches(const struct ship *sh);
/* 1 after a successful exchange or connect, 0 after a failed one, -1 before any. */
int ship_reachable(const struct ship *sh);
/* Ends back-off: the next attempt starts now (SIGTERM's final flush). */
void ship_hurry(struct ship *sh);

#endif
