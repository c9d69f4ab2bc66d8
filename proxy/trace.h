/* proxy/trace.h - a request's trace context and spans (see trace.c). */
#ifndef MESH_PROXY_TRACE_H
#define MESH_PROXY_TRACE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "proto/http1.h"
#include "proto/tracectx.h"

struct buf;
struct conn;
struct worker;

/* Embedded in struct request; reset with it. */
struct req_trace {
    struct trace_ctx server;      /* this hop's server span */
    struct trace_ctx client;      /* its child: the context sent upstream */
    struct trace_deadline deadline;
    bool sampled;                 /* spans are recorded for this request */
    bool had_traceparent;         /* write traceparent upstream too */
    bool client_started;
    uint64_t server_start_wall_us, server_start_mono_us;
    uint64_t client_start_wall_us, client_start_mono_us;
    char method[16];              /* copies, kept only when sampled */
    char url[256];
    char host[128];
};

/* How the request ended, for the spans. Borrowed pointers, valid during the call. */
struct trace_outcome {
    int status;
    const char *error;      /* NULL when it succeeded */
    const char *client_id;  /* bound id, NULL when not bound */
    const char *residual;
    const struct sockaddr_storage *upstream; /* the endpoint used, NULL when none */
    unsigned attempts;
    uint64_t req_bytes, resp_bytes;
};

/* True for the context headers that meshd consumes or rewrites: never forwarded as
 * received. */
bool trace_header_replaced(const struct http1_header *h);

/* Reads the request's context headers (unless <clear_context>) and starts the server
 * span. <uri>/<host> are the effective target and authority. */
void trace_begin(struct req_trace *t, struct worker *w, const struct http1_request *hr,
                 unsigned read_formats, bool clear_context, const char *uri, size_t uri_len,
                 const char *host, size_t host_len);

/* Appends the client span's context headers, in the formats of <write_formats>
 * (TRACECTX_FMT bits; traceparent also when the request came with one), to <b>.
 * -1 when they do not fit. */
int trace_write_headers(const struct req_trace *t, unsigned write_formats, struct buf *b);

/* The first upstream attempt starts the client span. */
void trace_client_start(struct req_trace *t);

/* Records the request's spans when it was sampled. */
void trace_finish(struct conn *c, const struct req_trace *t, const struct trace_outcome *o);

#endif
