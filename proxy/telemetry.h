/* proxy/telemetry.h - a worker's span exporter: finished spans are encoded as span
 * records (proto/span.h) into a batch and sent to meshagent over nanomsg PUSH, never
 * waiting: a batch goes out when it holds TELEMETRY_BATCH_SPANS records or after
 * TELEMETRY_FLUSH_MS, with NN_DONTWAIT; when the agent is absent or slow the batch is
 * dropped and counted. */
#ifndef MESH_PROXY_TELEMETRY_H
#define MESH_PROXY_TELEMETRY_H

#include <stdbool.h>

#include <ev.h>

struct cfg;
struct span;
struct stats_region;
struct telemetry;

#define TELEMETRY_BATCH_SPANS 128
#define TELEMETRY_FLUSH_MS    5

/* Connects to the agent socket of <cfg> (meshd.agentSocket). Tracing is enabled when
 * the config has an io.l5d.zipkin telemetry entry; without one, telemetry_enabled() is
 * false and nothing is sent (trace context is still propagated). Never fails for an
 * absent agent: the PUSH socket reconnects by itself. NULL only when out of memory. */
struct telemetry *telemetry_new(struct ev_loop *loop, const struct cfg *cfg,
                                struct stats_region *stats);
/* Flushes what is batched (once, without waiting) and closes. Returns NULL. */
struct telemetry *telemetry_free(struct telemetry *t);

bool telemetry_enabled(const struct telemetry *t);
/* The head sampling rate (io.l5d.zipkin sampleRate), 0 when tracing is off. */
double telemetry_sample_rate(const struct telemetry *t);

/* Encodes <s> into the current batch (the caller's strings may be freed afterwards). */
void telemetry_record(struct telemetry *t, const struct span *s);

/* Counts a malformed incoming trace context header of format <source_name>. */
void telemetry_count_malformed(struct telemetry *t, const char *source_name);
/* Counts a head sampling decision. */
void telemetry_count_decision(struct telemetry *t, bool sampled);

#endif
