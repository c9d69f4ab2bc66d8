/* agent/store.h - the embedded local store: the most recent traces kept in memory, so the
 * agent answers Zipkin's query API (/api/v2/services, /spans, /traces, /trace/{id}) when
 * no collector is configured. Bounded by a trace count and by bytes: the least recently
 * updated trace goes first. Spans of a trace that arrive later join it. Names compare
 * case-insensitively and are listed in lower case, as Zipkin stores them. */
#ifndef MESH_AGENT_STORE_H
#define MESH_AGENT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct aspan;
struct span;
struct store;
struct strbuf;

struct store_cfg {
    uint32_t max_traces; /* > 0 */
    uint64_t max_bytes;
};

/* <span_json> appends one span as a JSON object (zipkin_json_v2_span in the agent). */
struct store *store_new(const struct store_cfg *cfg,
                        void (*span_json)(struct strbuf *out, const struct span *s));
struct store *store_free(struct store *st);
/* Evicts at once if the new bounds are smaller. */
void store_set_cfg(struct store *st, const struct store_cfg *cfg);

/* Takes ownership of <sp> (unlinked). Never fails: under its bounds, older traces go. */
void store_add(struct store *st, struct aspan *sp);

unsigned store_n_traces(const struct store *st);
uint64_t store_n_spans(const struct store *st);
size_t store_bytes(const struct store *st);
uint64_t store_n_evicted(const struct store *st); /* traces evicted so far */

/* GET /api/v2/services: JSON array of local service names, sorted. */
void store_services(struct store *st, struct strbuf *out);
/* GET /api/v2/spans?serviceName=: span names of <service>'s spans, sorted. */
void store_span_names(struct store *st, const char *service, struct strbuf *out);
/* GET /api/v2/remoteServices?serviceName=: remote service names seen by <service>. */
void store_remote_services(struct store *st, const char *service, struct strbuf *out);

struct store_query {
    const char *service;          /* NULL: any */
    const char *span_name;        /* NULL or "all": any */
    const char *annotation_query; /* NULL: none. "k=v and word": tags k=v, tag key word */
    uint64_t min_duration_us;     /* 0: none */
    uint64_t max_duration_us;     /* 0: none */
    uint64_t end_ts_us;           /* traces with a span starting in [end - lookback, end] */
    uint64_t lookback_us;
    unsigned limit; /* > 0 */
};

/* GET /api/v2/traces: JSON array of traces (arrays of spans), the most recent first. */
void store_traces(struct store *st, const struct store_query *q, struct strbuf *out);
/* GET /api/v2/trace/{id}: JSON array of the trace's spans; -ENOENT if unknown. */
int store_trace(struct store *st, uint64_t trace_hi, uint64_t trace_lo, struct strbuf *out);

#endif
