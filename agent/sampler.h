/* agent/sampler.h - which spans of an assembled trace are kept.
 *
 * In order, for one trace:
 *   1. A keep rule (optional: an error span, or a span slower than a threshold) keeps
 *      every span of the trace, sampled or not, and spends no budget.
 *   2. Otherwise spans without the sampled or debug flag are dropped: meshd's head decision
 *      stands ("unsampled").
 *   3. Debug spans are kept.
 *   4. The other sampled spans go through the trace-id rule (Zipkin's collector rule: keep
 *      when |(int64) trace_lo| <= INT64_MAX * rate, so every node's agent decides the
 *      same for a trace; "thinned"), then through the spans-per-second budget, a token
 *      bucket of one second's worth that the whole trace must fit ("budget"; a trace
 *      larger than the bucket needs a full one and leaves it in debt).
 * Pure code: the caller provides the time. */
#ifndef MESH_AGENT_SAMPLER_H
#define MESH_AGENT_SAMPLER_H

#include <stdbool.h>
#include <stdint.h>

struct sampler_cfg {
    double rate;               /* 0..1 */
    uint32_t spans_per_second; /* 0: unlimited */
    bool keep_errors;
    uint32_t keep_slower_than_ms; /* 0: off */
};

/* What the caller knows about the trace's spans. */
struct sampler_trace {
    uint64_t trace_lo;
    unsigned n_sampled;   /* spans with SPAN_F_SAMPLED and without SPAN_F_DEBUG */
    unsigned n_debug;     /* spans with SPAN_F_DEBUG */
    unsigned n_unsampled; /* the others */
    bool has_error;
    uint64_t max_duration_us;
};

enum sampler_verdict {
    SAMPLER_KEEP = 0,
    SAMPLER_DROP_UNSAMPLED,
    SAMPLER_DROP_THINNED,
    SAMPLER_DROP_BUDGET,
};

struct sampler_decision {
    enum sampler_verdict sampled;   /* for the n_sampled spans */
    enum sampler_verdict unsampled; /* for the n_unsampled spans */
    bool by_rule;                   /* a keep rule kept the trace */
    /* debug spans are always kept */
};

struct sampler {
    struct sampler_cfg cfg;
    double tokens;    /* budget left, at most spans_per_second */
    uint64_t last_us; /* last refill */
};

void sampler_init(struct sampler *s, const struct sampler_cfg *cfg, uint64_t now_us);
/* Reload: the bucket keeps its tokens, capped by the new budget. */
void sampler_set_cfg(struct sampler *s, const struct sampler_cfg *cfg);

/* Zipkin's CollectorSampler rule for <trace_lo> at <rate>. */
bool sampler_trace_id_keep(uint64_t trace_lo, double rate);

struct sampler_decision sampler_decide(struct sampler *s, const struct sampler_trace *t,
                                       uint64_t now_us);

/* The name of a drop verdict for stats ("unsampled", "thinned", "budget"). */
const char *sampler_verdict_name(enum sampler_verdict v);

#endif
