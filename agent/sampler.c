/* agent/sampler.c - trace-level sampling decisions (see sampler.h for the rules). */
#include "agent/sampler.h"

#include <stdint.h>

#include "common/util.h"

void
sampler_init(struct sampler *s, const struct sampler_cfg *cfg, uint64_t now_us)
{
    s->cfg = *cfg;
    s->tokens = cfg->spans_per_second;
    s->last_us = now_us;
}

void
sampler_set_cfg(struct sampler *s, const struct sampler_cfg *cfg)
{
    s->cfg = *cfg;
    if (s->tokens > cfg->spans_per_second)
        s->tokens = cfg->spans_per_second;
}

bool
sampler_trace_id_keep(uint64_t trace_lo, double rate)
{
    int64_t t = (int64_t) trace_lo;
    uint64_t mag;
    double boundary;

    if (rate >= 1.0)
        return true;
    /* Java's Math.abs(Long.MIN_VALUE) stays negative, so Zipkin keeps that one id */
    if (t == INT64_MIN)
        return true;
    mag = (uint64_t) (t < 0 ? -t : t);
    boundary = (double) INT64_MAX * rate; /* Zipkin: (long) (Long.MAX_VALUE * rate) */
    if (boundary >= 9223372036854775807.0)
        return true;
    return mag <= (uint64_t) boundary;
}

static void
refill(struct sampler *s, uint64_t now_us)
{
    double cap = s->cfg.spans_per_second;

    if (now_us > s->last_us) {
        s->tokens += (double) (now_us - s->last_us) * cap / 1e6;
        if (s->tokens > cap)
            s->tokens = cap;
    }
    s->last_us = now_us;
}

struct sampler_decision
sampler_decide(struct sampler *s, const struct sampler_trace *t, uint64_t now_us)
{
    struct sampler_decision d = {.sampled = SAMPLER_KEEP, .unsampled = SAMPLER_DROP_UNSAMPLED};
    uint64_t slow_us = (uint64_t) s->cfg.keep_slower_than_ms * 1000u;

    if ((s->cfg.keep_errors && t->has_error) || (slow_us > 0 && t->max_duration_us >= slow_us)) {
        d.unsampled = SAMPLER_KEEP;
        d.by_rule = true;
        return d;
    }
    if (t->n_sampled == 0)
        return d;
    if (!sampler_trace_id_keep(t->trace_lo, s->cfg.rate)) {
        d.sampled = SAMPLER_DROP_THINNED;
        return d;
    }
    if (s->cfg.spans_per_second > 0) {
        refill(s, now_us);
        /* a trace larger than the bucket waits for a full bucket, then goes into debt */
        if (s->tokens < MESH_MIN((double) t->n_sampled, (double) s->cfg.spans_per_second)) {
            d.sampled = SAMPLER_DROP_BUDGET;
            return d;
        }
        s->tokens -= t->n_sampled;
    }
    return d;
}

const char *
sampler_verdict_name(enum sampler_verdict v)
{
    switch (v) {
    case SAMPLER_KEEP:
        return "kept";
    case SAMPLER_DROP_UNSAMPLED:
        return "unsampled";
    case SAMPLER_DROP_THINNED:
        return "thinned";
    case SAMPLER_DROP_BUDGET:
        return "budget";
    }
    return "unknown";
}
