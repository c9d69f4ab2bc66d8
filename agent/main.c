/* agent/main.c - meshagent: `meshagent [--check] CONFIG.yaml`.
 *
 * One process, one libev loop, one thread (plus the resolver's helper thread). The
 * pipeline, each stage a module of agent/:
 *
 *   receiver (nanomsg PULL) -> span_batch_decode -> assembler (window by trace id)
 *     -> sampler (per trace) -> local store            (no collector, or store.keepShipped)
 *                            -> batcher -> ship        (Zipkin HTTP or Scribe collector)
 *
 * Every stage is driven from here, so the books are kept in one place: a span that
 * decodes is counted "received" and from then on is in exactly one of the window, the
 * open batch, the ship queue, "shipped", "merged" (absorbed by another fragment of the
 * same span) or "dropped/<reason>". /admin/metrics.json shows them all and
 * meshagent/books/unaccounted, which is received minus all of them: always 0.
 *
 * Signals: TERM/INT flush (window, batch, then the queue within flushTimeoutMs) and exit
 * 0; HUP reloads the config file and applies what can change at run time.
 *
 * Privileges: started as root, it creates the run dir and the spool, binds the admin
 * port and the span socket, gives the files it made to <user> (meshagent.user, default
 * meshd.user) and becomes that user for good; without one it stays root and warns. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ev.h>

#include "agent/admin_http.h"
#include "agent/aspan.h"
#include "agent/assembler.h"
#include "agent/batcher.h"
#include "agent/receiver.h"
#include "agent/sampler.h"
#include "agent/settings.h"
#include "agent/ship.h"
#include "agent/spool.h"
#include "agent/store.h"
#include "common/cfg.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/priv.h"
#include "common/stats.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "proto/span.h"
#include "proto/zipkin.h"

#ifndef MESHAGENT_VERSION
#define MESHAGENT_VERSION "dev"
#endif

#define MAX_REASONS 48 /* distinct invalid-record reasons with their own counter */

struct reason_cell {
    const char *reason; /* static string from proto/span.c */
    uint64_t *cell;
};

struct agent {
    struct ev_loop *loop;
    const char *cfg_path;
    const char *level_override; /* --log-level, kept across reloads */
    struct cfg *cfg;
    struct agent_settings set;

    struct receiver *rx;
    struct assembler *asm_;
    struct sampler sampler;
    struct batcher *batcher; /* NULL in store mode */
    struct ship *ship;       /* NULL in store mode */
    struct spool *spool;     /* behind <ship>, when configured */
    struct store *store;     /* NULL with a collector and store.keepShipped false */
    struct admin_http *admin;

    ev_timer tick;      /* window expiry, batch interval */
    ev_timer rotate;    /* histogram window */
    ev_timer drain;     /* SIGTERM: deadline of the final flush */
    ev_prepare drained; /* SIGTERM: stops the loop once nothing is pending */
    ev_signal sig_term, sig_int, sig_hup;
    bool stopping;
    bool made_run_dir; /* it created meshd.runDir at start */

    struct stats_shm *shm;
    struct stats_region *reg;
    struct {
        uint64_t *messages, *bytes, *invalid, *invalid_other;
        uint64_t *received, *merged, *assembled, *traces, *evicted, *kept_by_rule;
        uint64_t *batched, *batches, *shipped;
        uint64_t *drop_unsampled, *drop_thinned, *drop_budget, *drop_queue, *drop_rejected,
            *drop_nomem, *drop_shutdown, *drop_spool, *drop_spool_lost, *dropped;
        uint64_t *spooled, *recovered;
        uint64_t *ship_batches, *ship_requests, *ship_retried, *ship_connects,
            *ship_connect_failures;
        int64_t *window_spans, *window_traces, *window_bytes, *batch_spans, *queue_spans,
            *queue_bytes, *queue_batches, *store_traces, *store_spans, *store_bytes, *reachable,
            *spool_spans, *spool_bytes, *spool_batches, *pending, *unaccounted;
        struct stats_hist *latency;
    } m;
    struct reason_cell reasons[MAX_REASONS];
    unsigned n_reasons;
    struct log_ratelimit rl_invalid;
    struct log_ratelimit rl_drop;
};

/* ---- stats ----------------------------------------------------------------------------- */

static void
metrics_init(struct agent *a)
{
    struct stats_region *r = a->reg;

#define C(field, name) a->m.field = stats_counter(r, "meshagent/" name)
#define G(field, name) a->m.field = stats_gauge(r, "meshagent/" name)
    C(messages, "messages/received");
    C(bytes, "messages/bytes");
    C(invalid, "records/invalid");
    C(invalid_other, "records/invalid/other");
    C(received, "spans/received");
    C(merged, "spans/merged");
    C(assembled, "spans/assembled");
    C(traces, "traces/assembled");
    C(evicted, "traces/evicted_early");
    C(kept_by_rule, "spans/kept_by_rule");
    C(batched, "spans/batched");
    C(batches, "batches/flushed");
    C(shipped, "spans/shipped");
    C(dropped, "spans/dropped");
    C(drop_unsampled, "spans/dropped/unsampled");
    C(drop_thinned, "spans/dropped/thinned");
    C(drop_budget, "spans/dropped/budget");
    C(drop_queue, "spans/dropped/queue_full");
    C(drop_rejected, "spans/dropped/rejected");
    C(drop_nomem, "spans/dropped/no_memory");
    C(drop_shutdown, "spans/dropped/shutdown");
    C(drop_spool, "spans/dropped/spool_full");
    C(drop_spool_lost, "spans/dropped/spool_unreadable");
    C(spooled, "spans/spooled");
    C(recovered, "spans/recovered");
    C(ship_batches, "ship/batches");
    C(ship_requests, "ship/requests");
    C(ship_retried, "ship/retried");
    C(ship_connects, "ship/connects");
    C(ship_connect_failures, "ship/connect_failures");
    G(window_spans, "window/spans");
    G(window_traces, "window/traces");
    G(window_bytes, "window/bytes");
    G(batch_spans, "batch/spans");
    G(queue_spans, "queue/spans");
    G(queue_bytes, "queue/bytes");
    G(queue_batches, "queue/batches");
    G(store_traces, "store/traces");
    G(store_spans, "store/spans");
    G(store_bytes, "store/bytes");
    G(reachable, "collector/reachable");
    G(spool_spans, "spool/spans");
    G(spool_bytes, "spool/bytes");
    G(spool_batches, "spool/batches");
    G(pending, "spans/pending");
    G(unaccounted, "books/unaccounted");
#undef C
#undef G
    a->m.latency = stats_histogram(r, "meshagent/ship/request_latency_ms");
}

static uint64_t
cell(const uint64_t *c)
{
    return c ? *c : 0;
}

static void
gauge_set(int64_t *c, int64_t v)
{
    if (c)
        __atomic_store_n(c, v, __ATOMIC_RELAXED);
}

/* Gauges are set when read; counters are kept as things happen. */
static void
metrics_refresh(struct agent *a)
{
    uint64_t dropped = cell(a->m.drop_unsampled) + cell(a->m.drop_thinned) +
                       cell(a->m.drop_budget) + cell(a->m.drop_queue) + cell(a->m.drop_rejected) +
                       cell(a->m.drop_nomem) + cell(a->m.drop_shutdown) + cell(a->m.drop_spool) +
                       cell(a->m.drop_spool_lost);
    uint64_t window = a->asm_ ? assembler_n_spans(a->asm_) : 0;
    uint64_t batch = a->batcher ? batcher_n_spans(a->batcher) : 0;
    uint64_t queue = a->ship ? ship_pending_spans(a->ship) : 0;
    uint64_t spooled = a->spool ? spool_n_spans(a->spool) : 0;
    uint64_t pending = window + batch + queue + spooled;

    if (a->m.dropped)
        *a->m.dropped = dropped;
    gauge_set(a->m.window_spans, (int64_t) window);
    gauge_set(a->m.window_traces, a->asm_ ? assembler_n_traces(a->asm_) : 0);
    gauge_set(a->m.window_bytes, a->asm_ ? (int64_t) assembler_bytes(a->asm_) : 0);
    gauge_set(a->m.batch_spans, (int64_t) batch);
    gauge_set(a->m.queue_spans, (int64_t) queue);
    gauge_set(a->m.queue_bytes, a->ship ? (int64_t) ship_pending_bytes(a->ship) : 0);
    gauge_set(a->m.queue_batches, a->ship ? ship_pending_batches(a->ship) : 0);
    gauge_set(a->m.store_traces, a->store ? store_n_traces(a->store) : 0);
    gauge_set(a->m.store_spans, a->store ? (int64_t) store_n_spans(a->store) : 0);
    gauge_set(a->m.store_bytes, a->store ? (int64_t) store_bytes(a->store) : 0);
    gauge_set(a->m.reachable, a->ship ? ship_reachable(a->ship) : 1);
    gauge_set(a->m.spool_spans, (int64_t) spooled);
    gauge_set(a->m.spool_bytes, a->spool ? (int64_t) spool_bytes(a->spool) : 0);
    gauge_set(a->m.spool_batches, a->spool ? spool_n_batches(a->spool) : 0);
    gauge_set(a->m.pending, (int64_t) pending);
    gauge_set(a->m.unaccounted,
              (int64_t) (cell(a->m.received) + cell(a->m.recovered) - cell(a->m.shipped) -
                         cell(a->m.merged) - dropped - pending));
}

/* "tags: too many" -> "tags_too_many" */
static void
reason_metric(const char *reason, char *out, size_t len)
{
    size_t o = (size_t) snprintf(out, len, "meshagent/records/invalid/");
    bool sep = false;

    for (const char *p = reason; *p && o + 2 < len; p++) {
        char c = *p;

        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
            if (sep && out[o - 1] != '/')
                out[o++] = '_';
            out[o++] = c;
            sep = false;
        } else if (c >= 'A' && c <= 'Z') {
            if (sep && out[o - 1] != '/')
                out[o++] = '_';
            out[o++] = (char) (c - 'A' + 'a');
            sep = false;
        } else {
            sep = true;
        }
    }
    out[o] = '\0';
}

static void
count_invalid(struct agent *a, const char *reason, unsigned n)
{
    uint64_t *c = a->m.invalid_other;
    char name[STATS_NAME_MAX];

    stats_inc(a->m.invalid, n);
    if (reason == NULL)
        reason = "unknown";
    for (unsigned i = 0; i < a->n_reasons; i++) {
        if (a->reasons[i].reason == reason) {
            stats_inc(a->reasons[i].cell, n);
            return;
        }
    }
    if (a->n_reasons < MAX_REASONS) {
        reason_metric(reason, name, sizeof(name));
        c = stats_counter(a->reg, name);
        a->reasons[a->n_reasons].reason = reason;
        a->reasons[a->n_reasons].cell = c;
        a->n_reasons++;
    }
    stats_inc(c, n);
}

/* ---- pipeline ---------------------------------------------------------------------------- */

static void
ship_span(struct agent *a, struct aspan *sp, uint64_t now_us)
{
    if (a->batcher == NULL) {
        store_add(a->store, sp);
        stats_inc(a->m.shipped, 1);
        return;
    }
    if (a->store != NULL) {
        /* a copy for the node's own view (dashboard, meshctl); the collector gets <sp> */
        struct span view;
        struct aspan *copy;

        aspan_view(sp, &view);
        copy = aspan_new(&view);
        if (copy != NULL)
            store_add(a->store, copy);
    }
    if (batcher_add_aspan(a->batcher, sp, now_us) == 0) /* takes <sp> */
        stats_inc(a->m.batched, 1);
    else
        stats_inc(a->m.drop_nomem, 1);
}

static uint64_t *
verdict_cell(struct agent *a, enum sampler_verdict v)
{
    switch (v) {
    case SAMPLER_DROP_UNSAMPLED:
        return a->m.drop_unsampled;
    case SAMPLER_DROP_THINNED:
        return a->m.drop_thinned;
    case SAMPLER_DROP_BUDGET:
        return a->m.drop_budget;
    default:
        return a->m.drop_nomem; /* unreachable: KEEP is not a drop */
    }
}

static void
agent_on_trace(struct asm_trace *t, enum assembler_why why, void *arg)
{
    struct agent *a = arg;
    struct sampler_trace st = {.trace_lo = t->trace_lo};
    struct sampler_decision d;
    struct list *pos, *tmp;
    uint64_t now_us = clock_mono_us();

    stats_inc(a->m.traces, 1);
    stats_inc(a->m.assembled, t->n_spans);
    if (why == ASSEMBLER_MEMORY)
        stats_inc(a->m.evicted, 1);
    for (pos = t->spans.next; pos != &t->spans; pos = pos->next) {
        const struct aspan *sp = list_entry(pos, struct aspan, link);

        if (sp->flags & SPAN_F_DEBUG)
            st.n_debug++;
        else if (sp->flags & SPAN_F_SAMPLED)
            st.n_sampled++;
        else
            st.n_unsampled++;
        if (!st.has_error && aspan_is_error(sp))
            st.has_error = true;
        if (sp->duration_us > st.max_duration_us)
            st.max_duration_us = sp->duration_us;
    }
    d = sampler_decide(&a->sampler, &st, now_us);
    if (d.by_rule)
        stats_inc(a->m.kept_by_rule, t->n_spans);
    list_for_each_safe(pos, tmp, &t->spans)
    {
        struct aspan *sp = list_entry(pos, struct aspan, link);
        enum sampler_verdict v = (sp->flags & SPAN_F_DEBUG)     ? SAMPLER_KEEP
                                 : (sp->flags & SPAN_F_SAMPLED) ? d.sampled
                                                                : d.unsampled;

        list_remove(&sp->link);
        if (v == SAMPLER_KEEP) {
            ship_span(a, sp, now_us);
        } else {
            stats_inc(verdict_cell(a, v), 1);
            aspan_free(sp);
        }
    }
}

/* A batch the ship queue cannot take: to the spool, else dropped under <why>. */
static void
agent_overflow(struct agent *a, struct batch *b, uint64_t *why)
{
    unsigned n = b->n_spans;
    int r = a->spool != NULL ? spool_put(a->spool, b) : -ENOSPC;

    if (r == 0) {
        stats_inc(a->m.spooled, n); /* <b> is in a file now */
        return;
    }
    if (a->spool != NULL)
        why = a->m.drop_spool;
    stats_inc(why, n);
    if (log_ratelimit_ok(&a->rl_drop))
        log_warn("%s, dropping %u spans%s%s",
                 a->spool == NULL ? "ship queue full" : "ship queue and spool full", n,
                 r != -ENOSPC ? ": spool: " : "", r != -ENOSPC ? strerror(-r) : "");
    batch_free(b);
}

/* Moves spooled batches back into the ship queue while it has room, oldest first. */
static void
agent_unspool(struct agent *a)
{
    while (a->spool != NULL && spool_n_batches(a->spool) > 0 &&
           ship_has_room(a->ship, spool_peek_bytes(a->spool))) {
        uint64_t lost = 0;
        struct batch *b = spool_take(a->spool, &lost);

        stats_inc(a->m.drop_spool_lost, lost);
        if (b == NULL)
            break;
        if (ship_try_enqueue(a->ship, b) != 0) {
            agent_overflow(a, b, a->m.drop_queue); /* its size changed: back to the spool */
            break;
        }
    }
}

static void
agent_on_batch(struct batch *b, void *arg)
{
    struct agent *a = arg;

    if (b->body.len == 0) {
        /* a list format could not be encoded (out of memory) */
        stats_inc(a->m.drop_nomem, b->n_spans);
        batch_free(b);
        return;
    }
    stats_inc(a->m.batches, 1);
    agent_unspool(a); /* older batches first, while there is room */
    if (ship_try_enqueue(a->ship, b) != 0)
        agent_overflow(a, b, a->m.drop_queue);
}

struct decode_ctx {
    struct agent *a;
    uint64_t now_us;
};

static void
agent_on_span(const struct span *s, void *arg)
{
    struct decode_ctx *dc = arg;
    struct agent *a = dc->a;
    int r;

    stats_inc(a->m.received, 1);
    r = assembler_add(a->asm_, s, dc->now_us);
    if (r == 1)
        stats_inc(a->m.merged, 1);
    else if (r < 0)
        stats_inc(a->m.drop_nomem, 1);
}

static void
agent_on_message(const uint8_t *buf, size_t len, void *arg)
{
    struct agent *a = arg;
    struct decode_ctx dc = {.a = a, .now_us = clock_mono_us()};
    struct span_batch_result res;

    stats_inc(a->m.messages, 1);
    stats_inc(a->m.bytes, len);
    (void) span_batch_decode(buf, len, agent_on_span, &dc, &res);
    if (res.n_unsupported > 0)
        count_invalid(a, "version: unsupported", res.n_unsupported);
    if (res.malformed) {
        count_invalid(a, res.reason, 1);
        if (log_ratelimit_ok(&a->rl_invalid))
            log_warn("client: a span record at byte %zu of a %zu-byte message is malformed "
                     "(%s), dropping it and the rest of the message",
                     res.bad_offset, len, res.reason ? res.reason : "?");
    }
}

static void
agent_on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct agent *a = container_of(w, struct agent, tick);
    uint64_t now_us = clock_mono_us();

    (void) loop;
    (void) revents;
    assembler_expire(a->asm_, now_us);
    if (a->batcher != NULL)
        batcher_tick(a->batcher, now_us);
    if (a->spool != NULL)
        agent_unspool(a);
}

static void
agent_on_rotate(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct agent *a = container_of(w, struct agent, rotate);

    (void) loop;
    (void) revents;
    stats_shm_rotate(a->shm);
}

/* ---- configuration ------------------------------------------------------------------------ */

static struct assembler_cfg
asm_cfg(const struct agent_settings *s)
{
    return (struct assembler_cfg){.idle_ms = s->window_idle_ms,
                                  .max_bytes = s->window_bytes,
                                  .max_trace_spans = s->window_trace_spans};
}

static struct sampler_cfg
sampler_cfg_of(const struct agent_settings *s)
{
    return (struct sampler_cfg){.rate = s->sample_rate,
                                .spans_per_second = s->spans_per_second,
                                .keep_errors = s->keep_errors,
                                .keep_slower_than_ms = s->keep_slower_than_ms};
}

static struct batcher_cfg
batcher_cfg_of(const struct agent_settings *s)
{
    return (struct batcher_cfg){.max_spans = s->batch_spans,
                                .max_bytes = s->batch_bytes,
                                .interval_ms = s->batch_interval_ms};
}

static struct store_cfg
store_cfg_of(const struct agent_settings *s)
{
    return (struct store_cfg){.max_traces = s->store_traces, .max_bytes = s->store_bytes};
}

static struct ship_cfg
ship_cfg_of(const struct agent_settings *s)
{
    struct ship_cfg c = {
        .proto = s->scribe ? SHIP_SCRIBE : SHIP_HTTP,
        .port = s->zipkin_port,
        .gzip = s->gzip,
        .connect_timeout_ms = s->connect_timeout_ms,
        .request_timeout_ms = s->request_timeout_ms,
        .retry_min_ms = s->retry_min_ms,
        .retry_max_ms = s->retry_max_ms,
        .queue_bytes = s->queue_bytes,
    };

    snprintf(c.content_type, sizeof(c.content_type), "%s",
             strcmp(s->encoding, "thrift") == 0 ? "application/x-thrift" : "application/json");
    snprintf(c.host, sizeof(c.host), "%s", s->zipkin_host);
    snprintf(c.path, sizeof(c.path), "%s", s->zipkin_path);
    return c;
}

static double
tick_interval(const struct agent_settings *s)
{
    uint32_t ms = MESH_MIN(s->window_idle_ms, s->batch_interval_ms) / 4;

    return MESH_MAX(MESH_MIN(ms, 100u), 5u) / 1000.0;
}

static void
apply_log_level(const char *name)
{
    enum log_level level;

    if (log_level_parse(name, &level) == 0)
        log_set_level(level);
}

/* Loads the config and the settings. Returns 0, or -1 with the problems printed/logged. */
static int
load_all(const char *path, struct cfg **ret_cfg, struct agent_settings *ret_set, bool to_log)
{
    struct cfg_err err;
    struct strbuf problems = STRBUF_INIT;
    struct cfg *cfg = cfg_load(path, &err);
    enum log_level level;

    if (cfg == NULL) {
        if (to_log)
            log_err("config: %s: %u problem%s, keeping the running config:\n%s", path, err.n_errors,
                    err.n_errors == 1 ? "" : "s", err.text);
        else
            fprintf(stderr, "%smeshagent: %s: %u problem%s found\n", err.text, path, err.n_errors,
                    err.n_errors == 1 ? "" : "s");
        return -1;
    }
    if (settings_load(ret_set, cfg, &problems) != 0 ||
        log_level_parse(ret_set->log_level, &level) != 0) {
        if (problems.len == 0)
            strbuf_addf(&problems, "log level '%s': not err, warn, notice, info or debug\n",
                        ret_set->log_level);
        if (to_log)
            log_err("settings: keeping the running config:\n%s", strbuf_str(&problems));
        else
            fprintf(stderr, "%s", strbuf_str(&problems));
        strbuf_fini(&problems);
        cfg_free(cfg);
        return -1;
    }
    strbuf_fini(&problems);
    *ret_cfg = cfg;
    return 0;
}

static void
agent_reload(struct agent *a)
{
    struct agent_settings ns;
    struct cfg *ncfg;
    struct ship_cfg sc;

    log_notice("SIGHUP: reloading %s", a->cfg_path);
    if (load_all(a->cfg_path, &ncfg, &ns, true) != 0)
        return;
    if (strcmp(ns.socket_url, a->set.socket_url) != 0)
        log_warn("config: the agent socket changed to %s: restart meshagent to use it, keeping "
                 "%s",
                 ns.socket_url, a->set.socket_url);
    if (strcmp(ns.admin_ip, a->set.admin_ip) != 0 || ns.admin_port != a->set.admin_port)
        log_warn("config: the admin address changed: restart meshagent to use it");
    if ((ns.zipkin_url[0] != '\0') != (a->set.zipkin_url[0] != '\0')) {
        log_warn("config: switching between the local store and a collector needs a restart; "
                 "keeping %s",
                 a->set.zipkin_url[0] ? a->set.zipkin_url : "the local store");
        snprintf(ns.zipkin_url, sizeof(ns.zipkin_url), "%s", a->set.zipkin_url);
        snprintf(ns.zipkin_host, sizeof(ns.zipkin_host), "%s", a->set.zipkin_host);
        snprintf(ns.zipkin_path, sizeof(ns.zipkin_path), "%s", a->set.zipkin_path);
        ns.zipkin_port = a->set.zipkin_port;
    }
    if (ns.scribe != a->set.scribe || strcmp(ns.encoding, a->set.encoding) != 0) {
        log_warn("config: changing the protocol or the encoding needs a restart; keeping %s, %s",
                 a->set.scribe ? "scribe" : "http", a->set.encoding);
        snprintf(ns.zipkin_url, sizeof(ns.zipkin_url), "%s", a->set.zipkin_url);
        snprintf(ns.zipkin_host, sizeof(ns.zipkin_host), "%s", a->set.zipkin_host);
        snprintf(ns.zipkin_path, sizeof(ns.zipkin_path), "%s", a->set.zipkin_path);
        ns.zipkin_port = a->set.zipkin_port;
        ns.scribe = a->set.scribe;
        memcpy(ns.encoding, a->set.encoding, sizeof(ns.encoding));
    }
    if (ns.store_keep_shipped != a->set.store_keep_shipped && a->set.zipkin_url[0] != '\0') {
        log_warn("config: store.keepShipped changes at the next restart");
        ns.store_keep_shipped = a->set.store_keep_shipped;
    }
    if (strcmp(ns.spool_dir, a->set.spool_dir) != 0)
        log_warn("config: the spool directory changed: restart meshagent to use it");
    if (strcmp(ns.user, a->set.user) != 0 || strcmp(ns.group, a->set.group) != 0)
        log_warn("config: user and group change at the next restart");
    memcpy(ns.user, a->set.user, sizeof(ns.user));
    memcpy(ns.group, a->set.group, sizeof(ns.group));
    memcpy(ns.spool_dir, a->set.spool_dir, sizeof(ns.spool_dir));
    /* what needs a restart stays as it is */
    memcpy(ns.socket_url, a->set.socket_url, sizeof(ns.socket_url));
    memcpy(ns.run_dir, a->set.run_dir, sizeof(ns.run_dir));
    memcpy(ns.admin_ip, a->set.admin_ip, sizeof(ns.admin_ip));
    ns.admin_port = a->set.admin_port;

    if (a->level_override != NULL)
        snprintf(ns.log_level, sizeof(ns.log_level), "%s", a->level_override);
    a->set = ns;
    apply_log_level(ns.log_level);
    {
        struct assembler_cfg ac = asm_cfg(&ns);
        struct sampler_cfg smc = sampler_cfg_of(&ns);

        assembler_set_cfg(a->asm_, &ac);
        sampler_set_cfg(&a->sampler, &smc);
    }
    if (a->batcher != NULL) {
        struct batcher_cfg bc = batcher_cfg_of(&ns);

        batcher_set_cfg(a->batcher, &bc);
    }
    if (a->ship != NULL) {
        sc = ship_cfg_of(&ns);
        ship_set_cfg(a->ship, &sc);
    }
    if (a->store != NULL) {
        struct store_cfg stc = store_cfg_of(&ns);

        store_set_cfg(a->store, &stc);
    }
    if (a->spool != NULL)
        spool_set_max_bytes(a->spool, ns.spool_bytes);
    ev_timer_set(&a->tick, tick_interval(&ns), tick_interval(&ns));
    ev_timer_again(a->loop, &a->tick);
    cfg_free(a->cfg);
    a->cfg = ncfg;
    log_notice("reloaded %s", a->cfg_path);
}

/* ---- stopping ------------------------------------------------------------------------------ */

static bool
nothing_pending(const struct agent *a)
{
    return a->ship == NULL || ship_pending_spans(a->ship) == 0;
}

static void
agent_on_drained(struct ev_loop *loop, ev_prepare *w, int revents)
{
    struct agent *a = container_of(w, struct agent, drained);

    (void) revents;
    if (nothing_pending(a))
        ev_break(loop, EVBREAK_ALL);
}

static void
agent_on_drain_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void) w;
    (void) revents;
    log_warn("flush deadline reached with spans still queued");
    ev_break(loop, EVBREAK_ALL);
}

static void
agent_stop(struct agent *a, const char *why)
{
    if (a->stopping)
        return;
    a->stopping = true;
    log_notice("%s: flushing and stopping", why);
    /* what nanomsg already holds was accepted from meshd: read it before closing */
    (void) receiver_drain(a->rx, 1000000);
    a->rx = receiver_free(a->rx);
    ev_timer_stop(a->loop, &a->tick);
    assembler_flush(a->asm_);
    if (a->batcher != NULL)
        batcher_flush(a->batcher);
    if (nothing_pending(a)) {
        ev_break(a->loop, EVBREAK_ALL);
        return;
    }
    ship_hurry(a->ship);
    ev_prepare_init(&a->drained, agent_on_drained);
    ev_prepare_start(a->loop, &a->drained);
    ev_timer_init(&a->drain, agent_on_drain_deadline, a->set.flush_timeout_ms / 1000.0, 0.);
    ev_timer_start(a->loop, &a->drain);
}

static void
agent_on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
    struct agent *a;

    (void) loop;
    (void) revents;
    if (w->signum == SIGHUP) {
        a = container_of(w, struct agent, sig_hup);
        if (!a->stopping)
            agent_reload(a);
    } else if (w->signum == SIGTERM) {
        agent_stop(container_of(w, struct agent, sig_term), "SIGTERM");
    } else {
        agent_stop(container_of(w, struct agent, sig_int), "SIGINT");
    }
}

/* ---- admin and query API ------------------------------------------------------------------- */

static bool
path_is(const struct admin_http_request *req, const char *lit)
{
    return req->path_len == strlen(lit) && memcmp(req->path, lit, req->path_len) == 0;
}

static int
parse_trace_id(const char *s, size_t len, uint64_t *ret_hi, uint64_t *ret_lo)
{
    uint64_t hi = 0, lo = 0;

    if (len == 0 || len > 32)
        return -EINVAL;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        unsigned v;

        if (c >= '0' && c <= '9')
            v = (unsigned) (c - '0');
        else if (c >= 'a' && c <= 'f')
            v = (unsigned) (c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v = (unsigned) (c - 'A' + 10);
        else
            return -EINVAL;
        hi = (hi << 4) | (lo >> 60);
        lo = (lo << 4) | v;
    }
    *ret_hi = hi;
    *ret_lo = lo;
    return 0;
}

static bool
query_u64(const struct admin_http_request *req, const char *key, uint64_t *ret)
{
    char v[32], *end;
    unsigned long long n;

    if (!admin_http_query_get(req, key, v, sizeof(v)) || v[0] == '\0')
        return false;
    errno = 0;
    n = strtoull(v, &end, 10);
    if (errno || *end || v[0] == '-')
        return false;
    *ret = n;
    return true;
}

static void
api_v2(struct agent *a, const struct admin_http_request *req, struct admin_http_response *rsp)
{
    static const char prefix[] = "/api/v2/";
    const char *rest = req->path + sizeof(prefix) - 1;
    size_t rest_len = req->path_len - (sizeof(prefix) - 1);
    char service[256] = "", span_name[256] = "", annq[1024] = "";

    rsp->content_type = "application/json";
    if (a->store == NULL) {
        rsp->status = 404;
        rsp->content_type = NULL;
        strbuf_addf(&rsp->body, "no local store: spans are shipped to %s\n", a->set.zipkin_url);
        return;
    }
    (void) admin_http_query_get(req, "serviceName", service, sizeof(service));
    if (path_is(req, "/api/v2/services")) {
        store_services(a->store, &rsp->body);
    } else if (path_is(req, "/api/v2/spans") || path_is(req, "/api/v2/remoteServices")) {
        if (service[0] == '\0') {
            rsp->status = 400;
            rsp->content_type = NULL;
            strbuf_adds(&rsp->body, "serviceName is required\n");
        } else if (path_is(req, "/api/v2/spans")) {
            store_span_names(a->store, service, &rsp->body);
        } else {
            store_remote_services(a->store, service, &rsp->body);
        }
    } else if (path_is(req, "/api/v2/traces")) {
        struct store_query q = {.limit = 10, .lookback_us = 86400000000ull};
        uint64_t v;

        q.service = service[0] ? service : NULL;
        if (admin_http_query_get(req, "spanName", span_name, sizeof(span_name)) && span_name[0])
            q.span_name = span_name;
        if (admin_http_query_get(req, "annotationQuery", annq, sizeof(annq)) && annq[0])
            q.annotation_query = annq;
        if (query_u64(req, "minDuration", &v))
            q.min_duration_us = v;
        if (query_u64(req, "maxDuration", &v))
            q.max_duration_us = v;
        q.end_ts_us = clock_wall_us();
        if (query_u64(req, "endTs", &v))
            q.end_ts_us = v * 1000u;
        if (query_u64(req, "lookback", &v))
            q.lookback_us = v * 1000u;
        if (query_u64(req, "limit", &v) && v > 0)
            q.limit = (unsigned) MESH_MIN(v, 100000u);
        store_traces(a->store, &q, &rsp->body);
    } else if (rest_len > 6 && memcmp(rest, "trace/", 6) == 0) {
        uint64_t hi, lo;

        if (parse_trace_id(rest + 6, rest_len - 6, &hi, &lo) != 0) {
            rsp->status = 400;
            rsp->content_type = NULL;
            strbuf_adds(&rsp->body, "trace id: 1 to 32 hex digits\n");
        } else if (store_trace(a->store, hi, lo, &rsp->body) != 0) {
            rsp->status = 404;
            rsp->content_type = NULL;
            strbuf_addf(&rsp->body, "trace %.*s not found\n", (int) (rest_len - 6), rest + 6);
        }
    } else if (path_is(req, "/api/v2/autocompleteKeys") ||
               path_is(req, "/api/v2/autocompleteValues")) {
        strbuf_adds(&rsp->body, "[]");
    } else {
        rsp->status = 404;
        rsp->content_type = NULL;
        strbuf_adds(&rsp->body, "not found\n");
    }
}

static const char *const level_names[] = {"err", "warn", "notice", "info", "debug"};

/* GET /admin/logging: the level; POST /admin/logging?level=L sets it until the next
 * reload (which applies the configured level again). */
static void
admin_logging(const struct admin_http_request *req, struct admin_http_response *rsp)
{
    bool get = (req->method_len == 3 && memcmp(req->method, "GET", 3) == 0) ||
               (req->method_len == 4 && memcmp(req->method, "HEAD", 4) == 0);
    bool post = req->method_len == 4 && memcmp(req->method, "POST", 4) == 0;
    char value[16];
    bool given = admin_http_query_get(req, "level", value, sizeof(value));
    enum log_level level;

    if (get && !given) {
        strbuf_addf(&rsp->body, "%s\n", level_names[log_get_level()]);
        return;
    }
    if (!post) {
        rsp->status = 405;
        rsp->extra_headers = "Allow: GET, HEAD, POST\r\n";
        strbuf_adds(&rsp->body, "use POST to change the log level\n");
        return;
    }
    if (!given || log_level_parse(value, &level) != 0) {
        rsp->status = 400;
        strbuf_adds(&rsp->body, "level: one of err, warn, notice, info, debug\n");
        return;
    }
    log_notice("admin: log level %s -> %s", level_names[log_get_level()], level_names[level]);
    log_set_level(level);
    strbuf_addf(&rsp->body, "%s\n", level_names[level]);
}

static void
agent_on_admin(void *ctx, const struct admin_http_request *req, struct admin_http_response *rsp)
{
    struct agent *a = ctx;

    if (path_is(req, "/admin/logging")) {
        admin_logging(req, rsp);
        return;
    }
    if (!(req->method_len == 3 && memcmp(req->method, "GET", 3) == 0) &&
        !(req->method_len == 4 && memcmp(req->method, "HEAD", 4) == 0)) {
        rsp->status = 405;
        rsp->extra_headers = "Allow: GET, HEAD\r\n";
        strbuf_adds(&rsp->body, "method not allowed\n");
        return;
    }
    if (path_is(req, "/admin/ping")) {
        strbuf_adds(&rsp->body, "pong");
    } else if (path_is(req, "/admin/metrics.json")) {
        metrics_refresh(a);
        rsp->content_type = "application/json";
        stats_render_json(a->shm, &rsp->body);
    } else if (path_is(req, "/admin/metrics/prometheus")) {
        metrics_refresh(a);
        rsp->content_type = "text/plain; version=0.0.4";
        stats_render_prometheus(a->shm, &rsp->body);
    } else if (path_is(req, "/admin/settings.json")) {
        rsp->content_type = "application/json";
        settings_to_json(&a->set, &rsp->body);
    } else if (req->path_len >= 8 && memcmp(req->path, "/api/v2/", 8) == 0) {
        api_v2(a, req, rsp);
    } else {
        rsp->status = 404;
        strbuf_adds(&rsp->body, "not found\n");
    }
}

/* ---- main ---------------------------------------------------------------------------------- */

static void
usage(FILE *f)
{
    struct strbuf env = STRBUF_INIT;

    settings_env_help(&env);
    fprintf(f,
            "usage: meshagent [--check] [--log-level LEVEL] CONFIG.yaml\n"
            "\n"
            "  --check            validate CONFIG.yaml and the environment, exit 0 or 1\n"
            "  --log-level LEVEL  err, warn, notice (default), info or debug\n"
            "  --version          print the version\n"
            "\n"
            "Reads meshd's config: the span socket is meshd.agentSocket\n"
            "(default ipc://<meshd.runDir>/spans.ipc). Settings from the environment:\n"
            "%s\n"
            "Signals: HUP reloads, TERM/INT flush and stop.\n",
            strbuf_str(&env));
    strbuf_fini(&env);
}

static void
list_json_v1(struct strbuf *out, const struct span *const *spans, size_t n, int32_t seqid)
{
    (void) seqid;
    zipkin_json_v1_list(out, spans, n);
}

static void
list_thrift(struct strbuf *out, const struct span *const *spans, size_t n, int32_t seqid)
{
    (void) seqid;
    zipkin_thrift_v1_list(out, spans, n);
}

static void
list_scribe(struct strbuf *out, const struct span *const *spans, size_t n, int32_t seqid)
{
    scribe_log_call(out, seqid, spans, n);
}

static const struct batcher_format fmt_json_v2 = {
    .open = "[",
    .sep = ",",
    .close = "]",
    .span = zipkin_json_v2_span,
};
static const struct batcher_format fmt_json_v1 = {.list = list_json_v1};
static const struct batcher_format fmt_thrift = {.list = list_thrift};
static const struct batcher_format fmt_scribe = {.list = list_scribe};

/* The spool's name for the bodies' encoding. */
static const char *
format_name(const struct agent_settings *s)
{
    return s->scribe ? "scribe" : s->encoding;
}

static const struct batcher_format *
format_of(const struct agent_settings *s)
{
    if (s->scribe)
        return &fmt_scribe;
    if (strcmp(s->encoding, "json_v1") == 0)
        return &fmt_json_v1;
    if (strcmp(s->encoding, "thrift") == 0)
        return &fmt_thrift;
    return &fmt_json_v2;
}

static void
agent_spool_at_exit(struct batch *b, void *arg)
{
    struct agent *a = arg;

    agent_overflow(a, b, a->m.drop_shutdown);
}

/* Everything that needs root is done: the files it made become <user>'s, then it becomes
 * <user> for good. */
static int
agent_drop_privileges(struct agent *a)
{
    const char *ipc = strncmp(a->set.socket_url, "ipc://", 6) == 0 ? a->set.socket_url + 6 : NULL;
    struct priv_id id;
    struct stat st;
    char err[256];
    int r = 0;

    if (geteuid() != 0) {
        if (a->set.user[0] != '\0')
            log_notice("user %s: not started as root, running as uid %lu", a->set.user,
                       (unsigned long) geteuid());
        return 0;
    }
    if (a->set.user[0] == '\0') {
        log_warn("running as root: set meshd.user, meshagent.user or MESHAGENT_USER "
                 "(docs/security.md), or user root to silence this");
        return 0;
    }
    if (priv_resolve(a->set.user, a->set.group, &id, err, sizeof(err)) != 0) {
        log_err("user: %s, not starting", err);
        return -1;
    }
    /* the run dir when it made it; one that root owned before is not taken over (it
     * could be any directory), but said to be a likely problem */
    if (ipc != NULL && a->made_run_dir)
        r = priv_chown(a->set.run_dir, &id);
    else if (ipc != NULL && id.uid != 0 && stat(a->set.run_dir, &st) == 0 && st.st_uid == 0)
        log_warn("run dir %s belongs to root: meshagent (as %s) cannot remove its socket there "
                 "at exit; chown it to %s",
                 a->set.run_dir, a->set.user, a->set.user);
    if (r == 0 && ipc != NULL)
        r = priv_chown(ipc, &id);
    if (r == 0 && a->spool != NULL)
        r = spool_chown(a->spool, &id);
    if (r != 0) {
        log_err("giving the run dir, the span socket and the spool to %s: %s, not starting",
                a->set.user, strerror(-r));
        return -1;
    }
    if (priv_drop(&id, err, sizeof(err)) != 0) {
        log_err("user %s: %s, not starting", a->set.user, err);
        return -1;
    }
    if (id.uid != 0)
        log_notice("running as uid %lu, gid %lu (user %s)", (unsigned long) id.uid,
                   (unsigned long) id.gid, a->set.user);
    return 0;
}

static int
agent_run(struct agent *a)
{
    char err[512];
    struct assembler_cfg ac = asm_cfg(&a->set);
    struct sampler_cfg smc = sampler_cfg_of(&a->set);
    int idx, port;

    a->loop = ev_default_loop(EVFLAG_AUTO);
    a->shm = stats_shm_new(1, 512, 8);
    if (a->shm == NULL || (idx = stats_shm_claim(a->shm)) < 0) {
        log_err("cannot map the stats region");
        return 1;
    }
    a->reg = stats_shm_region(a->shm, idx);
    metrics_init(a);
    a->rl_invalid = (struct log_ratelimit) LOG_RATELIMIT_INIT(10000000, 5);
    a->rl_drop = (struct log_ratelimit) LOG_RATELIMIT_INIT(10000000, 5);

    a->asm_ = assembler_new(&ac, agent_on_trace, a);
    sampler_init(&a->sampler, &smc, clock_mono_us());
    if (a->set.zipkin_url[0] != '\0') {
        struct batcher_cfg bc = batcher_cfg_of(&a->set);
        struct ship_cfg sc = ship_cfg_of(&a->set);
        struct ship_counters ct = {
            .shipped = a->m.shipped,
            .batches = a->m.ship_batches,
            .requests = a->m.ship_requests,
            .retried = a->m.ship_retried,
            .dropped_rejected = a->m.drop_rejected,
            .connects = a->m.ship_connects,
            .connect_failures = a->m.ship_connect_failures,
            .latency = a->m.latency,
        };

#ifndef MESH_HAVE_ZLIB
        if (a->set.gzip)
            log_warn("gzip requested but meshagent was built without zlib: sending plain JSON");
#endif
        a->batcher = batcher_new(&bc, format_of(&a->set), agent_on_batch, a);
        a->ship = ship_new(a->loop, &sc, &ct);
        if (a->set.spool_dir[0] != '\0') {
            a->spool = spool_new(a->set.spool_dir, a->set.spool_bytes, format_name(&a->set), err,
                                 sizeof(err));
            if (a->spool == NULL) {
                log_err("%s", err);
                return 1;
            }
            stats_inc(a->m.recovered, spool_recovered(a->spool));
            if (spool_recovered(a->spool) > 0)
                log_notice("spool %s: %" PRIu64 " spans in %u batches from a previous run",
                           a->set.spool_dir, spool_recovered(a->spool), spool_n_batches(a->spool));
        }
    }
    if (a->set.zipkin_url[0] == '\0' || a->set.store_keep_shipped) {
        struct store_cfg stc = store_cfg_of(&a->set);

        a->store = store_new(&stc, zipkin_json_v2_span);
    }

    a->admin = admin_http_new(a->loop, a->set.admin_ip, a->set.admin_port, agent_on_admin, a, err,
                              sizeof(err));
    if (a->admin == NULL) {
        log_err("%s", err);
        return 1;
    }
    if (strncmp(a->set.socket_url, "ipc://", 6) == 0) {
        /* group: meshd's workers traverse it to reach the socket */
        int r = receiver_make_dir(a->set.run_dir, 0750);

        if (r < 0) {
            log_err("run dir %s: %s", a->set.run_dir, strerror(-r));
            return 1;
        }
        a->made_run_dir = r == 1;
    }
    a->rx = receiver_new(a->loop, a->set.socket_url, agent_on_message, a, err, sizeof(err));
    if (a->rx == NULL) {
        log_err("%s", err);
        return 1;
    }
    if (agent_drop_privileges(a) != 0)
        return 1;

    ev_timer_init(&a->tick, agent_on_tick, tick_interval(&a->set), tick_interval(&a->set));
    ev_timer_start(a->loop, &a->tick);
    ev_timer_init(&a->rotate, agent_on_rotate, 60., 60.);
    ev_timer_start(a->loop, &a->rotate);
    ev_signal_init(&a->sig_term, agent_on_signal, SIGTERM);
    ev_signal_init(&a->sig_int, agent_on_signal, SIGINT);
    ev_signal_init(&a->sig_hup, agent_on_signal, SIGHUP);
    ev_signal_start(a->loop, &a->sig_term);
    ev_signal_start(a->loop, &a->sig_int);
    ev_signal_start(a->loop, &a->sig_hup);

    port = admin_http_port(a->admin);
    log_notice("meshagent %s: receiving on %s, admin on %s:%d, shipping to %s", MESHAGENT_VERSION,
               a->set.socket_url, a->set.admin_ip, port,
               a->set.zipkin_url[0] ? a->set.zipkin_url : "the local store (Zipkin API on admin)");
    ev_run(a->loop, 0);

    metrics_refresh(a);
    if (a->spool != NULL && a->ship != NULL)
        ship_take_all(a->ship, agent_spool_at_exit, a);
    if (a->ship != NULL) {
        uint64_t left = ship_pending_spans(a->ship);

        stats_inc(a->m.drop_shutdown, left);
        if (left > 0)
            log_warn("%" PRIu64 " spans could not be shipped before the deadline, dropped", left);
    }
    metrics_refresh(a);
    log_notice("stopped: received %" PRIu64 ", shipped %" PRIu64 ", merged %" PRIu64
               ", dropped %" PRIu64 ", invalid records %" PRIu64
               ", recovered from the spool %" PRIu64 ", left in the spool %" PRIu64,
               cell(a->m.received), cell(a->m.shipped), cell(a->m.merged), cell(a->m.dropped),
               cell(a->m.invalid), cell(a->m.recovered), a->spool ? spool_n_spans(a->spool) : 0);
    return 0;
}

static void
agent_fini(struct agent *a)
{
    a->rx = receiver_free(a->rx);
    a->admin = admin_http_free(a->admin);
    a->ship = ship_free(a->ship);
    a->spool = spool_free(a->spool);
    a->batcher = batcher_free(a->batcher);
    a->store = store_free(a->store);
    a->asm_ = assembler_free(a->asm_);
    if (a->loop != NULL) {
        ev_timer_stop(a->loop, &a->tick);
        ev_timer_stop(a->loop, &a->rotate);
        ev_timer_stop(a->loop, &a->drain);
        ev_prepare_stop(a->loop, &a->drained);
        ev_signal_stop(a->loop, &a->sig_term);
        ev_signal_stop(a->loop, &a->sig_int);
        ev_signal_stop(a->loop, &a->sig_hup);
        ev_loop_destroy(a->loop);
    }
    if (a->shm != NULL)
        stats_shm_free(a->shm);
    a->cfg = cfg_free(a->cfg);
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"check", no_argument, NULL, 'c'},
        {"log-level", required_argument, NULL, 'l'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static struct agent agent;
    const char *level_arg = NULL;
    bool check = false;
    int opt, rc;

    while ((opt = getopt_long(argc, argv, "cl:Vh", opts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            check = true;
            break;
        case 'l':
            level_arg = optarg;
            break;
        case 'V':
            printf("meshagent %s\n", MESHAGENT_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc - 1) {
        usage(stderr);
        return 2;
    }
    agent.cfg_path = argv[optind];
    if (load_all(agent.cfg_path, &agent.cfg, &agent.set, false) != 0)
        return 1;
    if (level_arg != NULL) {
        enum log_level level;

        if (log_level_parse(level_arg, &level) != 0) {
            fprintf(stderr, "meshagent: unknown log level '%s'\n", level_arg);
            cfg_free(agent.cfg);
            return 2;
        }
        snprintf(agent.set.log_level, sizeof(agent.set.log_level), "%s", level_arg);
        agent.level_override = level_arg;
    }
    if (agent.set.user[0] != '\0') {
        struct priv_id id;
        char err[256];

        if (priv_resolve(agent.set.user, agent.set.group, &id, err, sizeof(err)) != 0) {
            fprintf(stderr, "meshagent: user: %s\n", err);
            cfg_free(agent.cfg);
            return 1;
        }
    }
    if (check) {
        printf("%s: ok (spans from %s to %s)\n", agent.cfg_path, agent.set.socket_url,
               agent.set.zipkin_url[0] ? agent.set.zipkin_url : "the local store");
        cfg_free(agent.cfg);
        return 0;
    }
    (void) umask(077); /* the socket file, and anything else the agent creates */
    /* Batches of up to batch.bytes are built, queued and freed all the time: keep freed
     * memory in the process instead of giving it back and faulting it in again (a
     * profile showed 10% of the agent's CPU in page faults). RSS stays within the
     * configured bounds either way. */
    (void) mallopt(M_MMAP_THRESHOLD, 32 << 20);
    (void) mallopt(M_TRIM_THRESHOLD, 128 << 20);
    log_set_tag("meshagent");
    apply_log_level(agent.set.log_level);
    signal(SIGPIPE, SIG_IGN);
    rc = agent_run(&agent);
    agent_fini(&agent);
    return rc;
}
