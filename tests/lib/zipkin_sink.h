/* tests/lib/zipkin_sink.h - a Zipkin HTTP collector for tests, in a thread of the test
 * process: accepts POST /api/v2/spans on 127.0.0.1:<port> with keep-alive, answers 202
 * (or a status the test scripts), and remembers the span ids of every accepted body.
 * It can go down (listener and connections closed) and come back on the same port. */
#ifndef MESH_TESTS_ZIPKIN_SINK_H
#define MESH_TESTS_ZIPKIN_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct zipkin_sink;

/* Listens on 127.0.0.1:<port> and serves from a new thread. Aborts on failure. */
struct zipkin_sink *zipkin_sink_start(int port);
/* The same as a Scribe collector (as Zipkin's, port 9410 style): framed TBinaryProtocol
 * Log() calls, category "zipkin", each message the base64 of one Thrift v1 span; it
 * answers OK. zipkin_sink_script() statuses mean: 2xx OK, 503 TRY_LATER, anything else an
 * exception reply (Zipkin's answer to a message it cannot decode). Span kinds are not
 * known (v1 spans have none); trace_id holds the low 64 bits in hex. */
struct zipkin_sink *zipkin_sink_start_scribe(int port);
/* Stops serving: closes the listener and every connection (the port refuses). */
void zipkin_sink_down(struct zipkin_sink *s);
/* Serves again on the same port. */
void zipkin_sink_up(struct zipkin_sink *s);
/* Stops the thread and frees everything. */
void zipkin_sink_free(struct zipkin_sink *s);

/* The next <count> requests are answered <status> (their spans are not remembered unless
 * <status> is 2xx), then 202 again. */
void zipkin_sink_script(struct zipkin_sink *s, int status, unsigned count);
/* Delays every reply by <ms> (a slow collector). */
void zipkin_sink_delay(struct zipkin_sink *s, unsigned ms);

unsigned zipkin_sink_requests(struct zipkin_sink *s); /* requests answered, any status */
unsigned zipkin_sink_n_spans(struct zipkin_sink *s);  /* span ids in accepted bodies */
/* How many times span id <id16> (16 lower-hex) arrived in accepted bodies. */
unsigned zipkin_sink_count_id(struct zipkin_sink *s, const char *id16);
/* Spans whose id arrived more than once. */
unsigned zipkin_sink_n_duplicates(struct zipkin_sink *s);
/* One accepted span, as read from the JSON v2 body. */
struct zipkin_sink_span {
    char trace_id[33]; /* as written: 16 or 32 lower-hex */
    uint64_t id;
    uint64_t parent_id; /* 0: none */
    char kind;          /* 'S'ERVER, 'C'LIENT, 0 when absent */
};

/* Copies up to <max> accepted spans, in arrival order, into <out>; returns how many. */
size_t zipkin_sink_spans(struct zipkin_sink *s, struct zipkin_sink_span *out, size_t max);
/* A copy of the last accepted body (caller frees), or NULL. */
char *zipkin_sink_last_body(struct zipkin_sink *s);
/* Requests that came with Content-Encoding: gzip (they are gunzipped before being read). */
unsigned zipkin_sink_n_gzipped(struct zipkin_sink *s);
/* True when every accepted body started with '[' and had Content-Type application/json
 * and the b3: 0 header. */
bool zipkin_sink_bodies_ok(struct zipkin_sink *s);

#endif
