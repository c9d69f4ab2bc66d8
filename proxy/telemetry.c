/* proxy/telemetry.c - span records to meshagent over nanomsg PUSH; see telemetry.h.
 *
 * Why batches: one nn_send costs the sender 1.8-2.6 us of CPU (12-16% of a proxied
 * request on this machine), 32 records in one message cost 21 ns a span. Why never wait:
 * the proxy must serve identically when the agent is down, stalled or slow, so a send
 * that would block (EAGAIN) drops the batch and counts its spans.
 *
 * nanomsg's state does not survive fork(): this module is created in the worker, after
 * the fork, never in the master. */
#include "proxy/telemetry.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nanomsg/nn.h>
#include <nanomsg/pipeline.h>

#include "common/cfg.h"
#include "common/log.h"
#include "common/stats.h"
#include "proto/span.h"

#define TELEMETRY_BATCH_BYTES (32 * 1024) /* a batch message; one record is ~200 bytes */

struct telemetry {
    struct ev_loop *loop;
    int sock;                 /* nanomsg PUSH, -1 when tracing is off or it failed */
    double sample_rate;
    bool enabled;
    uint8_t batch[TELEMETRY_BATCH_BYTES];
    size_t len;               /* bytes in <batch> */
    unsigned n;               /* records in <batch> */
    ev_timer flush_timer;
    struct stats_region *stats;
    uint64_t *recorded, *sent, *batches, *dropped_agent, *dropped_encode;
    uint64_t *sampled, *unsampled;
};

static void
telemetry_flush(struct telemetry *t)
{
    if (t->n == 0)
        return;
    ev_timer_stop(t->loop, &t->flush_timer);
    if (t->sock >= 0 && nn_send(t->sock, t->batch, t->len, NN_DONTWAIT) >= 0) {
        stats_inc(t->sent, t->n);
        stats_inc(t->batches, 1);
    } else {
        static struct log_ratelimit rl = LOG_RATELIMIT_INIT(60000000, 1);

        /* EAGAIN: no agent connected, or its queue is full */
        stats_inc(t->dropped_agent, t->n);
        if (log_ratelimit_ok(&rl))
            log_notice("telemetry: agent not accepting spans (%s), dropping them",
                       nn_strerror(nn_errno()));
    }
    t->len = 0;
    t->n = 0;
}

static void
telemetry_on_flush(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void) loop;
    (void) revents;
    telemetry_flush((struct telemetry *) w->data);
}

struct telemetry *
telemetry_new(struct ev_loop *loop, const struct cfg *cfg, struct stats_region *stats)
{
    struct telemetry *t = calloc(1, sizeof(*t));

    if (t == NULL)
        return NULL;
    t->loop = loop;
    t->sock = -1;
    t->stats = stats;
    t->recorded = stats_counter(stats, "telemetry/spans/recorded");
    t->sent = stats_counter(stats, "telemetry/spans/sent");
    t->batches = stats_counter(stats, "telemetry/batches/sent");
    t->dropped_agent = stats_counter(stats, "telemetry/spans/dropped/agent_unavailable");
    t->dropped_encode = stats_counter(stats, "telemetry/spans/dropped/encode_failed");
    t->sampled = stats_counter(stats, "telemetry/sampling/sampled");
    t->unsampled = stats_counter(stats, "telemetry/sampling/unsampled");
    ev_init(&t->flush_timer, telemetry_on_flush);
    t->flush_timer.data = t;

    for (size_t i = 0; i < cfg->n_telemetry; i++) {
        if (cfg->telemetry[i].kind && strcmp(cfg->telemetry[i].kind, "io.l5d.zipkin") == 0) {
            t->enabled = true;
            t->sample_rate = cfg->telemetry[i].sample_rate;
        }
    }
    if (!t->enabled)
        return t;
    t->sock = nn_socket(AF_SP, NN_PUSH);
    if (t->sock < 0) {
        log_err("telemetry: nn_socket: %s; spans will be dropped", nn_strerror(nn_errno()));
        return t;
    }
    {
        int linger = 0, sndbuf = 256 * 1024;

        (void) nn_setsockopt(t->sock, NN_SOL_SOCKET, NN_LINGER, &linger, sizeof(linger));
        (void) nn_setsockopt(t->sock, NN_SOL_SOCKET, NN_SNDBUF, &sndbuf, sizeof(sndbuf));
    }
    if (nn_connect(t->sock, cfg->meshd.agent_socket) < 0) {
        log_err("telemetry: cannot use agent socket %s: %s; spans will be dropped",
                cfg->meshd.agent_socket, nn_strerror(nn_errno()));
        (void) nn_close(t->sock);
        t->sock = -1;
    }
    return t;
}

struct telemetry *
telemetry_free(struct telemetry *t)
{
    if (t == NULL)
        return NULL;
    telemetry_flush(t);
    ev_timer_stop(t->loop, &t->flush_timer);
    if (t->sock >= 0)
        (void) nn_close(t->sock);
    free(t);
    return NULL;
}

bool
telemetry_enabled(const struct telemetry *t)
{
    return t && t->enabled;
}

double
telemetry_sample_rate(const struct telemetry *t)
{
    return t && t->enabled ? t->sample_rate : 0.0;
}

void
telemetry_record(struct telemetry *t, const struct span *s)
{
    int n;

    if (t == NULL || !t->enabled)
        return;
    stats_inc(t->recorded, 1);
    n = span_encode(s, t->batch + t->len, sizeof(t->batch) - t->len);
    if (n == -ENOSPC && t->n > 0) {
        telemetry_flush(t);
        n = span_encode(s, t->batch, sizeof(t->batch));
    }
    if (n < 0) {
        stats_inc(t->dropped_encode, 1);
        return;
    }
    t->len += (size_t) n;
    t->n++;
    if (t->n >= TELEMETRY_BATCH_SPANS) {
        telemetry_flush(t);
    } else if (!ev_is_active(&t->flush_timer)) {
        ev_timer_set(&t->flush_timer, TELEMETRY_FLUSH_MS / 1000.0, 0.);
        ev_timer_start(t->loop, &t->flush_timer);
    }
}

void
telemetry_count_malformed(struct telemetry *t, const char *source_name)
{
    char name[STATS_NAME_MAX];

    if (t == NULL)
        return;
    /* rare: looked up each time rather than cached per source */
    snprintf(name, sizeof(name), "telemetry/contexts/malformed/%s", source_name);
    stats_inc(stats_counter(t->stats, name), 1);
}

void
telemetry_count_decision(struct telemetry *t, bool sampled)
{
    if (t)
        stats_inc(sampled ? t->sampled : t->unsampled, 1);
}
