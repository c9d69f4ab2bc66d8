/* common/cfg.h - the configuration model and its YAML loader.
 *
 * One YAML file, shaped like a Linkerd 1.x config (admin, routers, namers, telemetry) so
 * a Linkerd HTTP config loads as it is; meshd-only settings live under the top-level key
 * "meshd". Both daemons read the same file. Unknown keys are errors; keys Linkerd has
 * but meshd does not implement are reported as unsupported, by name. Every error names
 * file, line, column and key, and says what was expected.
 *
 * A struct cfg is immutable once loaded and owns all its strings. docs/config.md lists
 * every key, its default and what meshd does with it. */
#ifndef MESH_COMMON_CFG_H
#define MESH_COMMON_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct strbuf;

/* Problems found while loading: one line each, "FILE:LINE:COL: KEY: message\n", in
 * document order. LINE and COL are 1-based; KEY is the key path, e.g.
 * "routers[0].servers[1].port", or "(file)" (unreadable file, LINE:COL 1:1), "(yaml)"
 * (YAML syntax error) or "(root)" (the document itself). */
struct cfg_err {
    unsigned n_errors; /* all problems found, including lines that did not fit in <text> */
    char text[8192];   /* the lines; truncated with a final "...\n" if longer */
};

/* A key kept as written for a section that a later module interprets (io.l5d.k8s namer,
 * interpreter transformers). Nested keys are flattened: "a.b", "list[0]". */
struct cfg_kv {
    char *key;
    char *value; /* the scalar as written */
};

/* One entry of a router's interpreter.transformers, kept raw (not interpreted yet). */
struct cfg_transformer {
    char *kind;   /* as written, e.g. "io.l5d.k8s.daemonset"; any kind is accepted */
    char *prefix; /* as written; defaults to <kind> */
    struct cfg_kv *params; /* every other key */
    size_t n_params;
};

enum cfg_identifier_kind {
    CFG_ID_HEADER_TOKEN = 0, /* io.l5d.header.token {header: Host} */
    CFG_ID_METHOD_AND_HOST,  /* io.l5d.methodAndHost {httpUriInDst: false} */
    CFG_ID_PATH,             /* io.l5d.path {segments: 1, consume: false} */
    CFG_ID_HEADER,           /* io.l5d.header {header: l5d-name} */
    CFG_ID_STATIC,           /* io.l5d.static {path} */
};

struct cfg_identifier {
    enum cfg_identifier_kind kind;
    char *header;       /* HEADER_TOKEN, HEADER */
    char *path;         /* STATIC */
    unsigned segments;  /* PATH */
    bool consume;       /* PATH */
    bool uri_in_dst;    /* METHOD_AND_HOST */
};

struct cfg_server {
    char *ip;           /* default "127.0.0.1" (Linkerd: loopback) */
    uint16_t port;      /* default 4140 */
    bool clear_context; /* default false */
    uint32_t max_concurrent_requests; /* 0 = unlimited */
};

enum cfg_lb_kind {
    CFG_LB_P2C = 0, /* default, as Linkerd */
    CFG_LB_ROUND_ROBIN,
};

struct cfg_client {
    enum cfg_lb_kind lb;
    unsigned failure_accrual_failures; /* consecutive failures to mark down; default 5 */
    uint32_t failure_accrual_backoff_min_ms; /* default 5000 */
    uint32_t failure_accrual_backoff_max_ms; /* default 300000 */
    uint32_t connect_timeout_ms;       /* default 1000 */
    uint32_t request_attempt_timeout_ms; /* 0 = none */
    uint32_t pool_max_idle;            /* idle keep-alive connections per endpoint; 1024 */
    uint32_t pool_idle_time_ms;        /* idle upstream connection lifetime; 60000 */
};

struct cfg_service {
    uint32_t total_timeout_ms; /* 0 = none (meshd default: 0, as Linkerd) */
};

struct cfg_router {
    char *protocol;   /* "http" (the only one) */
    char *label;      /* default: protocol */
    char *dst_prefix; /* default "/svc" */
    char *dtab;       /* dtab text as written, "" when absent */
    struct cfg_identifier *identifiers; /* at least one: default header.token on Host */
    size_t n_identifiers;
    struct cfg_server *servers; /* at least one: default 127.0.0.1:4140 */
    size_t n_servers;
    struct cfg_client client;
    struct cfg_service service;
    uint32_t max_headers_kb;      /* maxHeadersKB, default 8 */
    uint32_t max_initial_line_kb; /* maxInitialLineKB, default 4 */
    uint32_t binding_timeout_ms;  /* bindingTimeoutMs, default 10000 */
    /* interpreter.kind must be "default"; interpreter.transformers are kept raw for the
     * naming module, in order (added field). */
    struct cfg_transformer *transformers;
    size_t n_transformers;
    /* Trace context formats read and written (CFG_TRACE_FMT_* bits). Linkerd's
     * tracePropagator {kind: io.l5d.default | io.l5d.zipkin} and meshd's own
     * tracing {read, write} set them; default: read all, write l5d + B3 multi. */
    unsigned trace_read;
    unsigned trace_write;
    bool span_server_by_router;   /* tracing.serverSpanService: "router" (label) instead of
                                   * "address" (<ip>/<port>, as Linkerd; default) */
    bool span_client_by_client;   /* tracing.clientSpanService: "client" (bound id, as Linkerd)
                                   * instead of "destination" (logical name; default) */
};

/* Trace context formats; the bit numbers are those of proto/tracectx.h's
 * TRACECTX_FMT(source) so the proxy can use them as they are. */
#define CFG_TRACE_FMT_L5D         (1u << 1) /* l5d-ctx-trace (+ l5d-reqid) */
#define CFG_TRACE_FMT_B3_MULTI    (1u << 2) /* X-B3-* */
#define CFG_TRACE_FMT_B3_SINGLE   (1u << 3) /* b3 */
#define CFG_TRACE_FMT_TRACEPARENT (1u << 4) /* W3C traceparent */
#define CFG_TRACE_FMT_ALL                                                                          \
    (CFG_TRACE_FMT_L5D | CFG_TRACE_FMT_B3_MULTI | CFG_TRACE_FMT_B3_SINGLE | CFG_TRACE_FMT_TRACEPARENT)

struct cfg_namer {
    char *kind;     /* "io.l5d.fs" (implemented), "io.l5d.k8s" (kept raw), others unsupported */
    char *prefix;   /* default: the kind; paths are /#/<prefix>/...; stored without leading '/' */
    char *root_dir; /* io.l5d.fs rootDir (required); NULL for other kinds */
    struct cfg_kv *params; /* io.l5d.k8s: host, port, labelSelector, experimental as written
                            * (added field); none for io.l5d.fs */
    size_t n_params;
};

struct cfg_telemetry {
    char *kind;          /* "io.l5d.zipkin", "io.l5d.prometheus", "io.l5d.recentRequests" */
    char *host;          /* zipkin: Scribe host, default "localhost"; NULL for other kinds */
    uint16_t port;       /* zipkin: Scribe port, default 9410 */
    bool collector_given; /* zipkin: host or port was written (else only sampleRate) */
    double sample_rate;  /* zipkin: default 0.001; recentRequests: required; 0..1 */
    /* added fields */
    char *path;          /* prometheus: default "/admin/metrics/prometheus"; else NULL */
    char *prefix;        /* prometheus: metric name prefix, default ""; else NULL */
    uint32_t capacity;   /* recentRequests: traces kept, default 10 */
};

struct cfg_admin {
    char *ip;      /* default "127.0.0.1" */
    uint16_t port; /* default 9990 */
};

/* meshd-only settings, top-level key "meshd". */
struct cfg_meshd {
    unsigned workers;            /* 0 = number of online CPUs (default) */
    char *run_dir;               /* default "/run/meshd" when euid 0, else "/tmp/meshd-<euid>"
                                  * (the euid of the first load: see cfg_fill) */
    char *agent_socket;          /* default "ipc://<run_dir>/spans.ipc" */
    char *log_level;             /* default "notice" */
    uint32_t max_headers;        /* header count per message, default 100 */
    uint32_t header_timeout_ms;  /* whole request head must arrive within; default 10000 */
    uint32_t idle_timeout_ms;    /* keep-alive idle client connection; default 60000 */
    uint32_t drain_timeout_ms;   /* SIGTERM/reload drain bound; default 30000 */
    uint32_t max_connections;    /* per worker, default 10000 */
    uint32_t buffer_size;        /* per direction per connection, bytes; default 16384 */
    char *user;                  /* started as root: become this user after binding; NULL = stay */
    char *group;                 /* with <user>: this group; NULL = the user's primary group */
};

struct cfg {
    char *path;   /* file it came from ("<string>" when parsed from memory) */
    struct cfg_admin admin;
    struct cfg_router *routers;
    size_t n_routers;
    struct cfg_namer *namers;
    size_t n_namers;
    struct cfg_telemetry *telemetry;
    size_t n_telemetry;
    struct cfg_meshd meshd;
    /* meshagent's own settings, top-level key "meshagent", kept as written (flattened:
     * "zipkin.url", "batch.spans"); meshagent checks them against its settings table
     * (docs/agent.md) and reports unknown ones by name. */
    struct cfg_kv *meshagent;
    size_t n_meshagent;
};

/* Loads and validates <path>. Returns NULL and fills <err> (all problems found, not just
 * the first) when the file cannot be read or is invalid; <err> may be NULL. <err> is
 * reset on entry, so n_errors is 0 on success. */
struct cfg *cfg_load(const char *path, struct cfg_err *err);

/* Same, from the <len> bytes at <text> (no NUL needed); <name> is used in error messages
 * and as cfg->path ("<string>" when NULL). */
struct cfg *cfg_parse(const char *text, size_t len, const char *name, struct cfg_err *err);

/* Frees <cfg>; NULL is a no-op. Returns NULL. */
struct cfg *cfg_free(struct cfg *cfg);

/* The effective config (defaults filled in) as a JSON object, for /config.json. It uses
 * the YAML key names, so it loads back through cfg_parse() as the same config. */
void cfg_to_json(const struct cfg *cfg, struct strbuf *out);

#endif
