/* proxy/trace.c - trace context for one request through a router, and its two spans.
 *
 * On receipt (trace_begin): the context headers the router reads (l5d-ctx-trace, b3,
 * X-B3-*, traceparent; all by default) are parsed, one is chosen by the rule in
 * proto/tracectx.h, and the server span becomes its child (or a new root). l5d-sample
 * overrides the rate for this request; the decision is a function of the trace id, so
 * every node agrees. l5d-ctx-deadline values are merged to the strictest. Malformed
 * headers are counted and ignored: a new root starts, the request is served.
 *
 * On the way out (trace_write_headers): the client span is a child of the server span;
 * its context is written as l5d-ctx-trace + l5d-reqid and B3 multi headers, and as
 * traceparent when the request came with one (so W3C-instrumented apps stay linked).
 * Incoming copies of those headers are not forwarded (trace_header_replaced).
 *
 * When the request ends (trace_finish), a sampled request records its server span and,
 * when an upstream attempt was made, its client span. Connection-level retries (the
 * request was never written) share one client span; its "attempts" tag counts them.
 * An unsampled request builds no span at all. */
#include "proxy/trace.h"

#include <assert.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "common/buf.h"
#include "common/cfg.h"
#include "common/clock.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "proto/span.h"
#include "proxy/dtab.h"
#include "proxy/proxy.h"
#include "proxy/telemetry.h"

/* The config's format bits are tracectx's, so they are used as they are. */
static_assert(CFG_TRACE_FMT_L5D == TRACECTX_FMT(TRACECTX_L5D), "format bits");
static_assert(CFG_TRACE_FMT_B3_MULTI == TRACECTX_FMT(TRACECTX_B3_MULTI), "format bits");
static_assert(CFG_TRACE_FMT_B3_SINGLE == TRACECTX_FMT(TRACECTX_B3_SINGLE), "format bits");
static_assert(CFG_TRACE_FMT_TRACEPARENT == TRACECTX_FMT(TRACECTX_TRACEPARENT), "format bits");

static uint64_t
rand64_nonzero(struct worker *w)
{
    uint64_t v;

    do
        v = ((uint64_t) worker_rand32(w) << 32) | worker_rand32(w);
    while (v == 0);
    return v;
}

static bool
name_is(const struct http1_header *h, const char *lit)
{
    return util_strcaseeq(h->name, h->name_len, lit);
}

bool
trace_header_replaced(const struct http1_header *h)
{
    switch (h->name_len) {
    case 2:
        return name_is(h, "b3");
    case 9:
        return name_is(h, "l5d-reqid");
    case 10:
        return name_is(h, "l5d-sample") || name_is(h, "x-b3-flags");
    case 11:
        return name_is(h, "traceparent") || name_is(h, "x-b3-spanid");
    case 12:
        return name_is(h, "x-b3-traceid") || name_is(h, "x-b3-sampled");
    case 13:
        return name_is(h, "l5d-ctx-trace");
    case 16:
        return name_is(h, "l5d-ctx-deadline");
    case 17:
        return name_is(h, "x-b3-parentspanid");
    default:
        return false;
    }
}

static void
copy_str(char *dst, size_t cap, const char *src, size_t len)
{
    size_t n = MESH_MIN(len, cap - 1);

    memcpy(dst, src, n);
    dst[n] = '\0';
}

void
trace_begin(struct req_trace *t, struct worker *w, const struct http1_request *hr,
            unsigned read_formats, bool clear_context, const char *uri, size_t uri_len,
            const char *host, size_t host_len)
{
    struct trace_ctx cands[TRACECTX_N_SOURCES];
    const struct http1_header *b3[5] = {NULL}; /* traceid, spanid, parent, sampled, flags */
    unsigned valid = 0;
    double override = -1.0;
    enum tracectx_source src;

    memset(t, 0, sizeof(*t));
    memset(cands, 0, sizeof(cands));
    tracectx_deadline_init(&t->deadline);
    t->server_start_wall_us = clock_wall_us();
    t->server_start_mono_us = clock_mono_us();

    /* clearContext: an edge does not let untrusted clients join or steer traces */
    for (size_t i = 0; i < hr->n_headers && !clear_context; i++) {
        const struct http1_header *h = &hr->headers[i];
        struct trace_deadline d;

        if (!trace_header_replaced(h))
            continue;
        if (name_is(h, "l5d-ctx-trace")) {
            if (!(read_formats & TRACECTX_FMT(TRACECTX_L5D)))
                continue;
            if (tracectx_l5d_parse(h->value, h->value_len, &cands[TRACECTX_L5D]) == 0)
                valid |= TRACECTX_FMT(TRACECTX_L5D);
            else
                telemetry_count_malformed(w->telemetry, "l5d");
        } else if (name_is(h, "b3")) {
            if (!(read_formats & TRACECTX_FMT(TRACECTX_B3_SINGLE)))
                continue;
            if (tracectx_b3_single_parse(h->value, h->value_len, &cands[TRACECTX_B3_SINGLE]) == 0)
                valid |= TRACECTX_FMT(TRACECTX_B3_SINGLE);
            else
                telemetry_count_malformed(w->telemetry, "b3");
        } else if (name_is(h, "traceparent")) {
            t->had_traceparent = true;
            if (!(read_formats & TRACECTX_FMT(TRACECTX_TRACEPARENT)))
                continue;
            if (tracectx_traceparent_parse(h->value, h->value_len,
                                           &cands[TRACECTX_TRACEPARENT]) == 0)
                valid |= TRACECTX_FMT(TRACECTX_TRACEPARENT);
            else
                telemetry_count_malformed(w->telemetry, "traceparent");
        } else if (name_is(h, "l5d-sample")) {
            double rate;

            if (tracectx_sample_rate_parse(h->value, h->value_len, &rate) == 0)
                override = rate;
        } else if (name_is(h, "l5d-ctx-deadline")) {
            if (tracectx_deadline_parse(h->value, h->value_len, &d) == 0)
                tracectx_deadline_merge(&t->deadline, &d);
        } else if (name_is(h, "x-b3-traceid")) {
            b3[0] = h;
        } else if (name_is(h, "x-b3-spanid")) {
            b3[1] = h;
        } else if (name_is(h, "x-b3-parentspanid")) {
            b3[2] = h;
        } else if (name_is(h, "x-b3-sampled")) {
            b3[3] = h;
        } else if (name_is(h, "x-b3-flags")) {
            b3[4] = h;
        }
    }
    if ((b3[0] || b3[1] || b3[3] || b3[4]) && (read_formats & TRACECTX_FMT(TRACECTX_B3_MULTI))) {
#define B3V(k) (b3[k] ? b3[k]->value : NULL), (b3[k] ? b3[k]->value_len : 0)
        if (tracectx_b3_multi_parse(B3V(0), B3V(1), B3V(2), B3V(3), B3V(4),
                                    &cands[TRACECTX_B3_MULTI]) == 0)
            valid |= TRACECTX_FMT(TRACECTX_B3_MULTI);
        else
            telemetry_count_malformed(w->telemetry, "b3multi");
#undef B3V
    }

    src = tracectx_choose(cands, valid);
    if (src == TRACECTX_NONE || cands[src].span_id == 0) {
        /* a new root: 128-bit trace id (the high word is random too, not a timestamp) */
        tracectx_root(rand64_nonzero(w), rand64_nonzero(w), rand64_nonzero(w),
                      src == TRACECTX_NONE ? NULL : &cands[src], &t->server);
    } else {
        tracectx_child(&cands[src], rand64_nonzero(w), &t->server);
    }
    t->sampled = telemetry_enabled(w->telemetry) &&
                 tracectx_sample_apply(&t->server, telemetry_sample_rate(w->telemetry), override);
    if (telemetry_enabled(w->telemetry))
        telemetry_count_decision(w->telemetry, t->sampled);
    tracectx_child(&t->server, rand64_nonzero(w), &t->client);

    if (t->sampled) {
        /* the request's bytes do not live until the span is recorded: copy what it needs */
        copy_str(t->method, sizeof(t->method), hr->method, hr->method_len);
        copy_str(t->url, sizeof(t->url), uri, uri_len);
        copy_str(t->host, sizeof(t->host), host ? host : "", host ? host_len : 0);
    }
}

static int
add_line(struct buf *b, const char *name, const char *value, size_t vlen)
{
    size_t nlen = strlen(name);

    if (nlen + vlen + 4 > buf_room(b))
        return -1;
    memcpy(b->data + b->end, name, nlen);
    b->end += (uint32_t) nlen;
    b->data[b->end++] = ':';
    b->data[b->end++] = ' ';
    memcpy(b->data + b->end, value, vlen);
    b->end += (uint32_t) vlen;
    b->data[b->end++] = '\r';
    b->data[b->end++] = '\n';
    return 0;
}

int
trace_write_headers(const struct req_trace *t, unsigned write_formats, struct buf *b)
{
    char v[TRACECTX_L5D_MAX + TRACECTX_B3_SINGLE_MAX];
    const char *s;
    size_t n;
    int e = 0;

    if (write_formats & TRACECTX_FMT(TRACECTX_L5D)) {
        n = tracectx_l5d_format(&t->client, v, sizeof(v));
        e |= add_line(b, "l5d-ctx-trace", v, n);
        n = tracectx_reqid_format(&t->client, v);
        e |= add_line(b, "l5d-reqid", v, n);
    }
    if (write_formats & TRACECTX_FMT(TRACECTX_B3_MULTI)) {
        n = tracectx_trace_id_hex(&t->client, v);
        e |= add_line(b, "X-B3-TraceId", v, n);
        n = tracectx_hex64(t->client.span_id, v);
        e |= add_line(b, "X-B3-SpanId", v, n);
        n = tracectx_hex64(t->client.parent_id, v);
        e |= add_line(b, "X-B3-ParentSpanId", v, n);
        s = tracectx_b3_sampled_value(&t->client);
        if (s)
            e |= add_line(b, "X-B3-Sampled", s, strlen(s));
        s = tracectx_b3_flags_value(&t->client);
        if (s)
            e |= add_line(b, "X-B3-Flags", s, strlen(s));
    }
    if (write_formats & TRACECTX_FMT(TRACECTX_B3_SINGLE)) {
        n = tracectx_b3_single_format(&t->client, v, sizeof(v));
        e |= add_line(b, "b3", v, n);
    }
    if (t->had_traceparent || (write_formats & TRACECTX_FMT(TRACECTX_TRACEPARENT))) {
        n = tracectx_traceparent_format(&t->client, v, sizeof(v));
        e |= add_line(b, "traceparent", v, n);
    }
    if (!tracectx_deadline_is_none(&t->deadline)) {
        n = tracectx_deadline_format(&t->deadline, v, sizeof(v));
        e |= add_line(b, "l5d-ctx-deadline", v, n);
    }
    return e ? -1 : 0;
}

void
trace_client_start(struct req_trace *t)
{
    if (t->client_started)
        return;
    t->client_started = true;
    t->client_start_mono_us = clock_mono_us();
    /* on the server span's timeline (its wall start plus monotonic time since): two
     * independent clock reads could put the child a microsecond outside its parent */
    t->client_start_wall_us =
        t->server_start_wall_us + (t->client_start_mono_us - t->server_start_mono_us);
}

static void
endpoint_from_sockaddr(struct span_endpoint *e, const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *) ss;

        memcpy(e->ip, &sin->sin_addr, 4);
        e->has_ip = true;
        e->port = ntohs(sin->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *) ss;

        memcpy(e->ip, &sin6->sin6_addr, 16);
        e->ipv6 = true;
        e->has_ip = true;
        e->port = ntohs(sin6->sin6_port);
    }
}

static void
tag(struct span *s, enum span_tag key, const char *value)
{
    if (s->n_tags < SPAN_MAX_TAGS && value) {
        s->tags[s->n_tags].key = (uint16_t) key;
        s->tags[s->n_tags].value = value;
        s->tags[s->n_tags].value_len = strlen(value);
        s->tags[s->n_tags].is_num = false;
        s->n_tags++;
    }
}

static void
tag_num(struct span *s, enum span_tag key, uint64_t v)
{
    if (s->n_tags < SPAN_MAX_TAGS) {
        s->tags[s->n_tags].key = (uint16_t) key;
        s->tags[s->n_tags].num = v;
        s->tags[s->n_tags].is_num = true;
        s->n_tags++;
    }
}

static void
tag_custom(struct span *s, const char *name, const char *value)
{
    if (s->n_tags < SPAN_MAX_TAGS) {
        s->tags[s->n_tags].key = 0;
        s->tags[s->n_tags].name = name;
        s->tags[s->n_tags].name_len = strlen(name);
        s->tags[s->n_tags].value = value;
        s->tags[s->n_tags].value_len = strlen(value);
        s->tags[s->n_tags].is_num = false;
        s->n_tags++;
    }
}

/* The logical destination as a readable service name: /svc/world -> "world". */
static const char *
logical_service(const struct router *r, const char *path)
{
    const char *pfx = r->cfg->dst_prefix ? r->cfg->dst_prefix : "/svc";
    size_t n = strlen(pfx);

    if (strcmp(pfx, "/") != 0 && strncmp(path, pfx, n) == 0 && path[n] == '/')
        return path + n + 1;
    return path[0] == '/' && path[1] ? path + 1 : path;
}

static void
set_name(struct span *s, const char *method, char *lower, size_t cap)
{
    size_t i;

    for (i = 0; method[i] && i + 1 < cap; i++)
        lower[i] = (char) (method[i] >= 'A' && method[i] <= 'Z' ? method[i] + 32 : method[i]);
    lower[i] = '\0';
    s->name = lower;
    s->name_len = i;
}

void
trace_finish(struct conn *c, const struct req_trace *t, const struct trace_outcome *o)
{
    struct worker *w = c->worker;
    const struct router *rt = c->listener->router;
    const struct request *r = &c->req;
    char lower[16], path[256], attempts[8];
    struct strbuf dtab_local = STRBUF_INIT;
    const char *svc = r->path[0] ? logical_service(rt, r->path) : "";
    /* a bound id without its leading '/', as Linkerd's client labels */
    if (rt->cfg->span_client_by_client && o->client_id && o->client_id[0])
        svc = o->client_id + (o->client_id[0] == '/');
    const char *q;
    struct span s;
    uint64_t end_mono_us;

    if (!t->sampled)
        return;
    /* one end for both spans (the client span must not outlast its parent by the
     * microseconds between two clock reads): when the response's last bytes were handed
     * to the kernel (Zipkin's "ss", conn.c), else now */
    end_mono_us = r->resp_sent_mono_us ? r->resp_sent_mono_us : clock_mono_us();
    memset(&s, 0, sizeof(s));
    if (!c->have_local) {
        /* once per connection, and only for connections with sampled requests */
        socklen_t len = sizeof(c->local);

        if (getsockname(c->fd, (struct sockaddr *) &c->local, &len) != 0)
            c->local.ss_family = AF_UNSPEC;
        c->have_local = true;
    }
    q = strchr(t->url, '?');
    copy_str(path, sizeof(path), t->url, q ? (size_t) (q - t->url) : strlen(t->url));
    if (r->local_dtab)
        dtab_show(r->local_dtab, &dtab_local);

    /* server span */
    s.trace_hi = t->server.trace_hi;
    s.trace_lo = t->server.trace_lo;
    s.span_id = t->server.span_id;
    s.parent_id = t->server.parent_id;
    s.kind = SPAN_KIND_SERVER;
    s.flags = SPAN_F_SAMPLED | ((t->server.flags & TRACECTX_F_DEBUG) ? SPAN_F_DEBUG : 0);
    s.timestamp_us = t->server_start_wall_us;
    s.duration_us = MESH_MAX(end_mono_us - t->server_start_mono_us, (uint64_t) 1);
    set_name(&s, t->method, lower, sizeof(lower));
    if (rt->cfg->span_server_by_router) {
        s.local.service = rt->cfg->label;
        s.local.service_len = strlen(rt->cfg->label);
    } else {
        s.local.service = c->listener->span_service;
        s.local.service_len = strlen(c->listener->span_service);
    }
    endpoint_from_sockaddr(&s.local, &c->local);
    endpoint_from_sockaddr(&s.remote, &c->peer);
    tag(&s, SPAN_TAG_HTTP_METHOD, t->method);
    tag(&s, SPAN_TAG_HTTP_PATH, path);
    tag(&s, SPAN_TAG_HTTP_URL, t->url);
    tag(&s, SPAN_TAG_HTTP_HOST, t->host);
    tag_num(&s, SPAN_TAG_HTTP_STATUS_CODE, (uint64_t) o->status);
    tag(&s, SPAN_TAG_ROUTER_LABEL, rt->cfg->label);
    if (r->path[0])
        tag(&s, SPAN_TAG_SERVICE, r->path);
    if (o->client_id && o->client_id[0])
        tag(&s, SPAN_TAG_CLIENT, o->client_id);
    if (o->residual && o->residual[0])
        tag(&s, SPAN_TAG_RESIDUAL, o->residual);
    if (dtab_local.len)
        tag(&s, SPAN_TAG_DTAB_LOCAL, strbuf_str(&dtab_local));
    tag_num(&s, SPAN_TAG_REQUEST_SIZE, o->req_bytes);
    tag_num(&s, SPAN_TAG_RESPONSE_SIZE, o->resp_bytes);
    if (o->error)
        tag(&s, SPAN_TAG_ERROR, o->error);
    telemetry_record(w->telemetry, &s);

    /* client span: only when an upstream attempt was made */
    if (t->client_started) {
        s.span_id = t->client.span_id;
        s.parent_id = t->client.parent_id;
        s.kind = SPAN_KIND_CLIENT;
        s.timestamp_us = t->client_start_wall_us;
        s.duration_us = MESH_MAX(end_mono_us - t->client_start_mono_us, (uint64_t) 1);
        s.local.service = svc;
        s.local.service_len = strlen(svc);
        memset(&s.remote, 0, sizeof(s.remote));
        if (o->upstream) {
            endpoint_from_sockaddr(&s.remote, o->upstream);
            s.remote.service = svc;
            s.remote.service_len = strlen(svc);
        }
        if (o->attempts > 1) {
            snprintf(attempts, sizeof(attempts), "%u", o->attempts);
            tag_custom(&s, "attempts", attempts);
        }
        telemetry_record(w->telemetry, &s);
    }
    strbuf_fini(&dtab_local);
}
