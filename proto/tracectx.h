/* proto/tracectx.h - trace-context headers: l5d-ctx-trace (Linkerd 1.x / Finagle), B3
 * (multi-header and single "b3"), W3C traceparent, l5d-sample, l5d-ctx-deadline, l5d-reqid;
 * the sampling decision and the rule that picks one context when several formats arrive.
 *
 * Pure code: no I/O, no allocation, no global state; every function is safe on any thread.
 * Parsers take length-delimited values (not NUL-terminated) with surrounding OWS already
 * trimmed, return 0 and fill *ret, or return -EBADMSG (-EINVAL for l5d-sample) and leave
 * *ret untouched. Formatters write lower-case hex and a terminating NUL and return the
 * length written without the NUL, or 0 (and an empty string when <cap> > 0) when <cap> is
 * too small. docs/trace-context.md explains each format and every choice made here. */
#ifndef MESH_PROTO_TRACECTX_H
#define MESH_PROTO_TRACECTX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Header names, lower-case as the proxy compares them (case-insensitively). */
#define TRACECTX_HDR_L5D         "l5d-ctx-trace"
#define TRACECTX_HDR_DEADLINE    "l5d-ctx-deadline"
#define TRACECTX_HDR_SAMPLE      "l5d-sample"
#define TRACECTX_HDR_REQID       "l5d-reqid"
#define TRACECTX_HDR_B3          "b3"
#define TRACECTX_HDR_B3_TRACEID  "x-b3-traceid"
#define TRACECTX_HDR_B3_SPANID   "x-b3-spanid"
#define TRACECTX_HDR_B3_PARENT   "x-b3-parentspanid"
#define TRACECTX_HDR_B3_SAMPLED  "x-b3-sampled"
#define TRACECTX_HDR_B3_FLAGS    "x-b3-flags"
#define TRACECTX_HDR_TRACEPARENT "traceparent"
#define TRACECTX_HDR_TRACESTATE  "tracestate"

#define TRACECTX_F_DEBUG          1u /* Finagle flag bits, as on the wire */
#define TRACECTX_F_SAMPLING_KNOWN 2u
#define TRACECTX_F_SAMPLED        4u

/* Buffer sizes for the formatters, NUL included. */
#define TRACECTX_L5D_MAX         57 /* 44 chars (64-bit trace id) or 56 (128-bit) */
#define TRACECTX_B3_SINGLE_MAX   69 /* 32 + 1 + 16 + 2 + 1 + 16 */
#define TRACECTX_TRACEPARENT_MAX 56 /* always 55 chars */
#define TRACECTX_DEADLINE_MAX    42 /* two int64 in decimal and a space */
#define TRACECTX_HEX64_MAX       17
#define TRACECTX_TRACE_ID_MAX    33

/* One hop's view of a trace. A parsed context describes the caller: its span becomes the
 * parent of the span we open (tracectx_child()). All ids zero (span_id == 0) means a
 * "sampling only" context, as "b3: 0" or a lone "X-B3-Sampled: 1" give: no trace to join,
 * but a decision for the new root. */
struct trace_ctx {
    uint64_t trace_hi, trace_lo; /* trace id; trace_hi 0 for 64-bit ids */
    uint64_t span_id;   /* the caller's span (becomes our parent); 0 only if sampling-only */
    uint64_t parent_id; /* 0 = none */
    uint64_t flags;     /* TRACECTX_F_* plus any unknown bits kept as received */
};

/* ---- l5d-ctx-trace ---------------------------------------------------------------------- */

/* Parses the standard-base64 (padding optional, as Java's basic decoder) 32- or 40-byte
 * Finagle blob: span, parent, trace low, flags, [trace high], big-endian. Finagle writes
 * parent == span when there is no parent, so that case gives parent_id 0. Flags are kept
 * as received, unknown bits included. Rejects any other length, non-alphabet bytes, bad
 * padding, a zero span id and an all-zero trace id. */
int tracectx_l5d_parse(const char *v, size_t len, struct trace_ctx *ret);

/* Writes the blob for <c> in base64 with padding: 44 chars, or 56 when trace_hi != 0.
 * parent_id 0 is written as the span id (Finagle's "no parent"). Needs <cap> >= 45/57. */
size_t tracectx_l5d_format(const struct trace_ctx *c, char *out, size_t cap);

/* l5d-reqid: the trace id's low 64 bits as 16 lower-case hex digits; <out> holds 17. */
size_t tracectx_reqid_format(const struct trace_ctx *c, char *out);

/* ---- B3 ---------------------------------------------------------------------------------- */

/* Parses the X-B3-* headers; pass NULL for an absent one. TraceId is 16 or 32 hex digits
 * (32 sets trace_hi), SpanId and ParentSpanId 16, any case; zero ids are rejected.
 * Sampled: "1"/"true" sampled, "0"/"false" not (case-insensitive), absent undecided,
 * anything else malformed. Flags: a decimal integer; bit 0 (Debug) forces sampling, the
 * other bits are ignored (linkerd's zipkin propagator leaks Finagle's 6 into it).
 * With TraceId and SpanId both absent, a Sampled header or a debug Flags header alone
 * gives a sampling-only context; one id without the other, a parent without ids, or
 * nothing that decides ("X-B3-Flags: 0" alone) is malformed. */
int tracectx_b3_multi_parse(const char *trace_id, size_t tl, const char *span_id, size_t sl,
                            const char *parent, size_t pl, const char *sampled, size_t sal,
                            const char *flags, size_t fl, struct trace_ctx *ret);

/* Parses "b3": "0", "1", "d" (sampling only) or "{trace}-{span}[-{sampling}][-{parent}]",
 * sampling one of 0, 1, d. Same id rules as the multi form. */
int tracectx_b3_single_parse(const char *v, size_t len, struct trace_ctx *ret);

/* Writes "{trace}-{span}[-{sampling}][-{parent}]": sampling is "d" for debug, "1"/"0"
 * when decided, omitted when undecided; the parent only when parent_id != 0. */
size_t tracectx_b3_single_format(const struct trace_ctx *c, char *out, size_t cap);

/* B3 multi writing: X-B3-TraceId = tracectx_trace_id_hex(), X-B3-SpanId and
 * X-B3-ParentSpanId (only when non-zero) = tracectx_hex64(), then the two below. */
size_t tracectx_hex64(uint64_t v, char *out);                       /* 16 chars + NUL */
size_t tracectx_trace_id_hex(const struct trace_ctx *c, char *out); /* 16 or 32 chars + NUL */

/* X-B3-Sampled value: "1" or "0" when decided; NULL when undecided or debug (B3: debug
 * implies sampled, send X-B3-Flags instead). Static string. */
const char *tracectx_b3_sampled_value(const struct trace_ctx *c);

/* X-B3-Flags value: "1" when debug, else NULL (don't send). Static string. */
const char *tracectx_b3_flags_value(const struct trace_ctx *c);

/* ---- W3C traceparent ---------------------------------------------------------------------- */

/* Parses "{version}-{32 hex trace}-{16 hex parent}-{2 hex flags}". Version 00 must be
 * exactly 55 chars; a higher version (not ff) may carry more after a '-' and is parsed
 * as 00 (W3C Trace Context, "Versioning of traceparent"). Hex must be lower-case, as the
 * spec requires. All-zero ids are rejected. Flag bit 0 set: sampled; clear: not sampled
 * (decided: the caller chose not to record). The W3C parent-id becomes span_id; parent_id
 * is 0 (the format has no grandparent). tracestate is opaque and not parsed here. */
int tracectx_traceparent_parse(const char *v, size_t len, struct trace_ctx *ret);

/* Writes "00-<32hex>-<16hex>-0X", X = 1 when the decision is to keep, else 0. */
size_t tracectx_traceparent_format(const struct trace_ctx *c, char *out, size_t cap);

/* ---- sampling ----------------------------------------------------------------------------- */

enum tracectx_decision {
    TRACECTX_UNDECIDED = 0,
    TRACECTX_DROP,
    TRACECTX_KEEP,
};

/* The decision <c> carries: debug keeps; else SAMPLING_KNOWN gives SAMPLED; else undecided. */
enum tracectx_decision tracectx_decision(const struct trace_ctx *c);

/* Deterministic in <trace_lo> (no salt: the same id gives the same answer on every node
 * and every run) and uniform over random ids: keeps a fraction <rate> of them. Rate <= 0
 * or NaN never keeps, >= 1 always keeps. */
bool tracectx_sample_decide(uint64_t trace_lo, double rate);

/* l5d-sample: a decimal float ([+-]digits[.digits][e[+-]digits], ".5" and "5." too),
 * clamped to [0,1]. Anything else (empty, "yes", "nan", "inf", hex, trailing bytes) is
 * -EINVAL. */
int tracectx_sample_rate_parse(const char *v, size_t len, double *ret);

/* Settles the decision for this hop and records it in c->flags (SAMPLING_KNOWN, and
 * SAMPLED when kept), returning it. In order: debug keeps; an l5d-sample <override> in
 * [0,1] re-decides with it even when the caller had decided (as linkerd does); a decision
 * already in <c> is followed; otherwise <rate> (the router's sampleRate) decides. Pass a
 * negative <override> when the request had no valid l5d-sample. */
bool tracectx_sample_apply(struct trace_ctx *c, double rate, double override);

/* ---- building contexts -------------------------------------------------------------------- */

/* A new root: trace (<trace_hi>, <trace_lo>), span <span_id>, no parent; the flags of
 * <decision_from> (a sampling-only context) when given, else undecided. Ids come from the
 * caller's random source and must be non-zero. */
void tracectx_root(uint64_t trace_hi, uint64_t trace_lo, uint64_t span_id,
                   const struct trace_ctx *decision_from, struct trace_ctx *ret);

/* A child of <parent>: same trace and flags, parent_id = parent->span_id, span <span_id>. */
void tracectx_child(const struct trace_ctx *parent, uint64_t span_id, struct trace_ctx *ret);

/* ---- precedence --------------------------------------------------------------------------- */

enum tracectx_source {
    TRACECTX_NONE = 0,
    TRACECTX_L5D,
    TRACECTX_B3_MULTI,
    TRACECTX_B3_SINGLE,
    TRACECTX_TRACEPARENT,
};
#define TRACECTX_N_SOURCES 5

#define TRACECTX_FMT(src) (1u << (src)) /* bit of a source in a format mask */
#define TRACECTX_FMT_ALL                                                                           \
    (TRACECTX_FMT(TRACECTX_L5D) | TRACECTX_FMT(TRACECTX_B3_MULTI) |                                \
     TRACECTX_FMT(TRACECTX_B3_SINGLE) | TRACECTX_FMT(TRACECTX_TRACEPARENT))
#define TRACECTX_READ_DEFAULT  TRACECTX_FMT_ALL
#define TRACECTX_WRITE_DEFAULT (TRACECTX_FMT(TRACECTX_L5D) | TRACECTX_FMT(TRACECTX_B3_MULTI))

/* Picks the context to continue among the candidates of one request. <cands> is indexed
 * by source ([TRACECTX_NONE] unused); <valid> has TRACECTX_FMT(src) set for each source
 * that was present, parsed, and is read by the router (mask with its read set first).
 *
 * Rule: the first valid source in the order l5d-ctx-trace, b3, X-B3-*, traceparent is
 * picked; then, while another valid candidate with ids is a direct child of the pick
 * (same trace_lo, its parent_id == the pick's span_id, a different span), that child is
 * picked instead, because only a hop that read the pick can have made it: an app
 * instrumented with B3 that forwards our stale l5d-ctx-trace, or a linkerd that forwards
 * stale X-B3-* headers. A sampling-only pick (no ids) is final.
 * Returns the chosen source, or TRACECTX_NONE when <valid> has none (start a new root). */
enum tracectx_source tracectx_choose(const struct trace_ctx cands[TRACECTX_N_SOURCES],
                                     unsigned valid);

/* Config and metric-label name of <src>: "l5d", "b3multi", "b3", "traceparent"; "none". */
const char *tracectx_source_name(enum tracectx_source src);

/* The source named <name> (as tracectx_source_name(), case-sensitive): 0 and *ret, or
 * -EINVAL. */
int tracectx_source_from_name(const char *name, size_t len, enum tracectx_source *ret);

/* ---- l5d-ctx-deadline --------------------------------------------------------------------- */

/* Absolute times in nanoseconds since the Unix epoch. */
struct trace_deadline {
    int64_t timestamp_ns; /* when the deadline was set */
    int64_t deadline_ns;  /* when it expires */
};

/* The identity of tracectx_deadline_merge(): an accumulator starts here. */
#define TRACECTX_DEADLINE_NONE_TS INT64_MIN
#define TRACECTX_DEADLINE_NONE_DL INT64_MAX

/* Sets <d> to the merge identity (no deadline). */
void tracectx_deadline_init(struct trace_deadline *d);

/* True if <d> is still the identity (no deadline was merged in). */
bool tracectx_deadline_is_none(const struct trace_deadline *d);

/* Parses "<timestamp_ns> <deadline_ns>": two decimal int64 ([+-]digits) and one space. */
int tracectx_deadline_parse(const char *v, size_t len, struct trace_deadline *ret);

/* Strictest of the two (Finagle Deadline.combined): later timestamp, earlier deadline. */
void tracectx_deadline_merge(struct trace_deadline *acc, const struct trace_deadline *d);

/* Writes "<timestamp_ns> <deadline_ns>"; needs <cap> >= TRACECTX_DEADLINE_MAX at worst. */
size_t tracectx_deadline_format(const struct trace_deadline *d, char *out, size_t cap);

#endif
