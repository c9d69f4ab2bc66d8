/* agent/settings.h - meshagent's own settings: defaults, then the shared config file (the
 * agent socket and run dir under "meshd", io.l5d.zipkin under "telemetry"), then
 * MESHAGENT_* environment overrides. docs/agent.md lists every setting; the names in
 * settings_table() are the keys the "meshagent" config section will take once
 * common/cfg.c knows it.
 *
 * A struct agent_settings is plain data (no pointers), copied by value; a reload builds a
 * new one and the agent applies the fields that can change at run time. */
#ifndef MESH_AGENT_SETTINGS_H
#define MESH_AGENT_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cfg;
struct strbuf;

#define SETTINGS_DEFAULT_ADMIN_PORT 9991

struct agent_settings {
    /* where meshd pushes spans: cfg meshd.agentSocket (default ipc://<runDir>/spans.ipc) */
    char socket_url[512];
    char run_dir[256];
    char log_level[16];

    char admin_ip[64];   /* admin.ip, default 127.0.0.1 (loopback) */
    uint16_t admin_port; /* admin.port, default 9991 */

    /* The collector: http://... (Zipkin HTTP) or scribe://... (Scribe, framed Thrift). ""
     * means none: spans go to the local store. */
    char zipkin_url[512];
    bool scribe;           /* parsed from zipkin_url */
    char encoding[16];     /* HTTP bodies: json_v2 (default), json_v1 or thrift */
    char zipkin_host[256]; /* parsed from zipkin_url: name or IP literal, no brackets */
    uint16_t zipkin_port;  /* default 9411 (HTTP), 9410 (Scribe) */
    char zipkin_path[256]; /* default /api/v2/spans (json_v2), /api/v1/spans (v1, thrift) */
    bool gzip;
    uint32_t connect_timeout_ms; /* 2000 */
    uint32_t request_timeout_ms; /* 10000: whole POST exchange */
    uint32_t retry_min_ms;       /* 100: first back-off */
    uint32_t retry_max_ms;       /* 30000: back-off cap */
    uint64_t queue_bytes;        /* 64 MiB of encoded batches waiting or in flight */

    uint32_t batch_spans;       /* 1000 */
    uint32_t batch_bytes;       /* 1 MiB (encoded) */
    uint32_t batch_interval_ms; /* 1000 */

    uint32_t window_idle_ms;     /* 1000: a trace leaves the window after this idle */
    uint64_t window_bytes;       /* 32 MiB of span copies */
    uint32_t window_trace_spans; /* 1000: a trace with this many spans leaves at once */

    double sample_rate;           /* 1.0: extra thinning by trace id (Zipkin's rule) */
    uint32_t spans_per_second;    /* 0 = unlimited */
    bool keep_errors;             /* keep a trace whose spans show an error */
    uint32_t keep_slower_than_ms; /* 0 = off */

    uint32_t store_traces; /* 1000 traces in the local store */
    uint64_t store_bytes;  /* 64 MiB */
    bool store_keep_shipped; /* with a collector, also keep a copy in the local store */

    uint32_t flush_timeout_ms; /* 5000: SIGTERM shipping deadline */

    char user[64];  /* started as root: become this user after binding; "" = meshd.user */
    char group[64]; /* with <user>: this group; "" = the user's primary group */

    char spool_dir[256];  /* "" = no spool */
    uint64_t spool_bytes; /* 1 GiB */
};

/* Fills <s> from defaults, <cfg> and the environment. Appends one line per problem to
 * <problems> and returns -EINVAL when any value is invalid; <s> is then incomplete. */
int settings_load(struct agent_settings *s, const struct cfg *cfg, struct strbuf *problems);

/* Parses "http://host[:port][/path]" (port 9411; no path: <default_path>) or
 * "scribe://host[:port]" (port 9410, no path) into host, port and path, and says which in
 * *ret_scribe. Returns 0 or -EINVAL (https, user info, bad port, empty host, a path after
 * scribe://, too long). */
int settings_parse_url(const char *url, const char *default_path, char *host, size_t hostlen,
                       uint16_t *ret_port, char *path, size_t pathlen, bool *ret_scribe);

/* Appends the settings as a JSON object (for /admin/settings.json). */
void settings_to_json(const struct agent_settings *s, struct strbuf *out);

/* The usage text for the environment overrides: one "  NAME  meaning (default)" line each. */
void settings_env_help(struct strbuf *out);

#endif
