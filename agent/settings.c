/* agent/settings.c - meshagent's settings: one table row per setting (config key, env
 * variable, type, bounds, default), read in three layers: the defaults, the shared config
 * file (what common/cfg.c already models), then the environment. Until common/cfg.c
 * accepts a "meshagent" section, the environment is how a user changes the rest. */
#include "agent/settings.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cfg.h"
#include "common/strbuf.h"
#include "common/util.h"

enum set_type {
    SET_U16 = 0,
    SET_U32,
    SET_U64,
    SET_BOOL,
    SET_DOUBLE,
    SET_STR,
};

struct set_row {
    const char *key; /* key in the config file's "meshagent" section */
    const char *env;
    enum set_type type;
    size_t off;
    size_t size; /* SET_STR: buffer size */
    double min, max;
    const char *def; /* as text, parsed like the environment */
    const char *help;
};

#define ROW(key, env, type, field, min, max, def, help)                                            \
    {                                                                                              \
        key, env, type, offsetof(struct agent_settings, field),                                    \
            sizeof(((struct agent_settings *) 0)->field), min, max, def, help                      \
    }

static const struct set_row rows[] = {
    ROW("admin.ip", "MESHAGENT_ADMIN_IP", SET_STR, admin_ip, 0, 0, "127.0.0.1",
        "admin/query server address"),
    ROW("admin.port", "MESHAGENT_ADMIN_PORT", SET_U16, admin_port, 0, 65535, "9991",
        "admin/query server port (0: any free port)"),
    ROW("logLevel", "MESHAGENT_LOG_LEVEL", SET_STR, log_level, 0, 0, "notice",
        "err, warn, notice, info or debug"),
    ROW("zipkin.url", "MESHAGENT_ZIPKIN_URL", SET_STR, zipkin_url, 0, 0, "",
        "collector: http://host[:port][/path] or scribe://host[:port]; empty: local store"),
    ROW("zipkin.encoding", "MESHAGENT_ZIPKIN_ENCODING", SET_STR, encoding, 0, 0, "json_v2",
        "HTTP bodies: json_v2 (/api/v2/spans), json_v1 or thrift (/api/v1/spans)"),
    ROW("zipkin.gzip", "MESHAGENT_ZIPKIN_GZIP", SET_BOOL, gzip, 0, 1, "false",
        "gzip request bodies (Content-Encoding: gzip)"),
    ROW("zipkin.connectTimeoutMs", "MESHAGENT_CONNECT_TIMEOUT_MS", SET_U32, connect_timeout_ms, 1,
        600000, "2000", "TCP connect deadline"),
    ROW("zipkin.requestTimeoutMs", "MESHAGENT_REQUEST_TIMEOUT_MS", SET_U32, request_timeout_ms, 1,
        600000, "10000", "deadline of one POST, sending to reply"),
    ROW("retry.minMs", "MESHAGENT_RETRY_MIN_MS", SET_U32, retry_min_ms, 1, 3600000, "100",
        "first retry back-off"),
    ROW("retry.maxMs", "MESHAGENT_RETRY_MAX_MS", SET_U32, retry_max_ms, 1, 3600000, "30000",
        "back-off cap"),
    ROW("queueBytes", "MESHAGENT_QUEUE_BYTES", SET_U64, queue_bytes, 4096, 1e12, "67108864",
        "encoded batches waiting for the collector"),
    ROW("batch.spans", "MESHAGENT_BATCH_SPANS", SET_U32, batch_spans, 1, 1000000, "1000",
        "flush a batch at this many spans"),
    ROW("batch.bytes", "MESHAGENT_BATCH_BYTES", SET_U32, batch_bytes, 1024, 1 << 30, "1048576",
        "flush a batch at this many encoded bytes"),
    ROW("batch.intervalMs", "MESHAGENT_BATCH_INTERVAL_MS", SET_U32, batch_interval_ms, 1, 3600000,
        "1000", "flush a batch this long after its first span"),
    ROW("window.idleMs", "MESHAGENT_WINDOW_IDLE_MS", SET_U32, window_idle_ms, 1, 3600000, "1000",
        "a trace leaves the assembly window after this long without a new span"),
    ROW("window.bytes", "MESHAGENT_WINDOW_BYTES", SET_U64, window_bytes, 4096, 1e12, "33554432",
        "memory of the assembly window; beyond it the oldest traces leave"),
    ROW("window.traceSpans", "MESHAGENT_WINDOW_TRACE_SPANS", SET_U32, window_trace_spans, 1,
        1000000, "1000", "a trace leaves the window when it has this many spans"),
    ROW("sample.rate", "MESHAGENT_SAMPLE_RATE", SET_DOUBLE, sample_rate, 0, 1, "1",
        "keep this share of sampled traces, decided by trace id"),
    ROW("sample.spansPerSecond", "MESHAGENT_SPANS_PER_SECOND", SET_U32, spans_per_second, 0, 1e9,
        "0", "budget of kept spans a second, 0: none"),
    ROW("sample.keepErrors", "MESHAGENT_KEEP_ERRORS", SET_BOOL, keep_errors, 0, 1, "false",
        "always keep a trace with an error span"),
    ROW("sample.keepSlowerThanMs", "MESHAGENT_KEEP_SLOWER_THAN_MS", SET_U32, keep_slower_than_ms, 0,
        3600000, "0", "always keep a trace with a span this slow, 0: off"),
    ROW("store.traces", "MESHAGENT_STORE_TRACES", SET_U32, store_traces, 1, 10000000, "1000",
        "traces in the local store"),
    ROW("store.bytes", "MESHAGENT_STORE_BYTES", SET_U64, store_bytes, 4096, 1e12, "67108864",
        "memory of the local store"),
    ROW("store.keepShipped", "MESHAGENT_STORE_KEEP_SHIPPED", SET_BOOL, store_keep_shipped, 0, 1,
        "true", "with a collector, keep a copy of what is shipped in the local store too"),
    ROW("user", "MESHAGENT_USER", SET_STR, user, 0, 0, "",
        "started as root: become this user once the sockets are bound; empty: meshd.user"),
    ROW("group", "MESHAGENT_GROUP", SET_STR, group, 0, 0, "",
        "with user: this group; empty: the user's primary group (or meshd.group)"),
    ROW("spool.dir", "MESHAGENT_SPOOL_DIR", SET_STR, spool_dir, 0, 0, "",
        "on-disk spool behind the ship queue, empty: none"),
    ROW("spool.bytes", "MESHAGENT_SPOOL_BYTES", SET_U64, spool_bytes, 4096, 1e15, "1073741824",
        "spool bound"),
    ROW("flushTimeoutMs", "MESHAGENT_FLUSH_TIMEOUT_MS", SET_U32, flush_timeout_ms, 0, 3600000,
        "5000", "on SIGTERM, how long to keep shipping what is queued"),
};

static int
set_value(struct agent_settings *s, const struct set_row *r, const char *text, const char *from,
          struct strbuf *problems)
{
    char *p = (char *) s + r->off;
    char *end = NULL;
    double d;
    unsigned long long u;

    switch (r->type) {
    case SET_STR:
        if (strlen(text) >= r->size)
            goto bad;
        snprintf(p, r->size, "%s", text);
        return 0;
    case SET_BOOL:
        if (strcmp(text, "true") == 0 || strcmp(text, "1") == 0)
            *(bool *) p = true;
        else if (strcmp(text, "false") == 0 || strcmp(text, "0") == 0)
            *(bool *) p = false;
        else
            goto bad;
        return 0;
    case SET_DOUBLE:
        errno = 0;
        d = strtod(text, &end);
        if (errno || end == text || *end || !isfinite(d) || d < r->min || d > r->max)
            goto bad;
        memcpy(p, &d, sizeof(d));
        return 0;
    default:
        if (text[0] < '0' || text[0] > '9')
            goto bad;
        errno = 0;
        u = strtoull(text, &end, 10);
        if (errno || *end || (double) u < r->min || (double) u > r->max)
            goto bad;
        if (r->type == SET_U16)
            *(uint16_t *) p = (uint16_t) u;
        else if (r->type == SET_U32)
            *(uint32_t *) p = (uint32_t) u;
        else
            *(uint64_t *) p = (uint64_t) u;
        return 0;
    }

bad:
    if (r->type == SET_STR)
        strbuf_addf(problems, "%s: %s: too long (at most %zu bytes)\n", from, r->env, r->size - 1);
    else if (r->type == SET_BOOL)
        strbuf_addf(problems, "%s: %s: '%s' is not true/false\n", from, r->env, text);
    else
        strbuf_addf(problems, "%s: %s: '%s' is not a number in %.17g..%.17g\n", from, r->env, text,
                    r->min, r->max);
    return -EINVAL;
}

int
settings_parse_url(const char *url, const char *default_path, char *host, size_t hostlen,
                   uint16_t *ret_port, char *path, size_t pathlen, bool *ret_scribe)
{
    const char *p, *hend, *slash;
    unsigned long port;
    bool scribe;
    size_t hl;

    if (strncmp(url, "http://", 7) == 0) {
        p = url + 7;
        port = 9411;
        scribe = false;
    } else if (strncmp(url, "scribe://", 9) == 0) {
        p = url + 9;
        port = 9410;
        scribe = true;
    } else {
        return -EINVAL;
    }
    slash = strchr(p, '/');
    if (slash == NULL)
        slash = p + strlen(p);
    if (memchr(p, '@', (size_t) (slash - p)) != NULL)
        return -EINVAL;
    if (*p == '[') {
        hend = memchr(p, ']', (size_t) (slash - p));
        if (hend == NULL)
            return -EINVAL;
        p++;
        hl = (size_t) (hend - p);
        hend++;
    } else {
        hend = memchr(p, ':', (size_t) (slash - p));
        if (hend == NULL)
            hend = slash;
        hl = (size_t) (hend - p);
    }
    if (hl == 0 || hl >= hostlen)
        return -EINVAL;
    if (hend < slash) {
        char *end;

        if (*hend != ':' || hend + 1 == slash || hend[1] < '0' || hend[1] > '9')
            return -EINVAL;
        port = strtoul(hend + 1, &end, 10);
        if (end != slash || port == 0 || port > 65535)
            return -EINVAL;
    }
    if (scribe && *slash != '\0' && strcmp(slash, "/") != 0)
        return -EINVAL;
    if (scribe)
        default_path = "";
    if (strlen(*slash ? slash : default_path) >= pathlen)
        return -EINVAL;
    memcpy(host, p, hl);
    host[hl] = '\0';
    snprintf(path, pathlen, "%s", *slash && !scribe ? slash : default_path);
    *ret_port = (uint16_t) port;
    *ret_scribe = scribe;
    return 0;
}

int
settings_load(struct agent_settings *s, const struct cfg *cfg, struct strbuf *problems)
{
    int r = 0;

    memset(s, 0, sizeof(*s));
    for (size_t i = 0; i < ARRAY_SIZE(rows); i++)
        MESH_BUG_ON(set_value(s, &rows[i], rows[i].def, "default", problems) != 0);

    if (cfg != NULL) {
        if (strlen(cfg->meshd.agent_socket) >= sizeof(s->socket_url) ||
            strlen(cfg->meshd.run_dir) >= sizeof(s->run_dir)) {
            strbuf_addf(problems, "%s: meshd.agentSocket or meshd.runDir: too long\n", cfg->path);
            r = -EINVAL;
        } else {
            snprintf(s->socket_url, sizeof(s->socket_url), "%s", cfg->meshd.agent_socket);
            snprintf(s->run_dir, sizeof(s->run_dir), "%s", cfg->meshd.run_dir);
        }
        if (cfg->meshd.log_level != NULL && strlen(cfg->meshd.log_level) < sizeof(s->log_level))
            snprintf(s->log_level, sizeof(s->log_level), "%s", cfg->meshd.log_level);
        /* the same user as meshd unless meshagent.user says otherwise */
        if (cfg->meshd.user != NULL && strlen(cfg->meshd.user) < sizeof(s->user))
            snprintf(s->user, sizeof(s->user), "%s", cfg->meshd.user);
        if (cfg->meshd.group != NULL && strlen(cfg->meshd.group) < sizeof(s->group))
            snprintf(s->group, sizeof(s->group), "%s", cfg->meshd.group);
    }

    /* Linkerd's io.l5d.zipkin with host/port means Scribe there, as it did for Linkerd; a
     * meshagent.zipkin.url or MESHAGENT_ZIPKIN_URL below overrides it */
    for (size_t k = 0; cfg != NULL && k < cfg->n_telemetry; k++) {
        const struct cfg_telemetry *t = &cfg->telemetry[k];

        if (t->kind && strcmp(t->kind, "io.l5d.zipkin") == 0 && t->collector_given && t->host)
            snprintf(s->zipkin_url, sizeof(s->zipkin_url), "scribe://%s%s%s:%u",
                     strchr(t->host, ':') ? "[" : "", t->host, strchr(t->host, ':') ? "]" : "",
                     t->port);
    }
    /* the config file's "meshagent" section, then the environment over it */
    for (size_t k = 0; cfg != NULL && k < cfg->n_meshagent; k++) {
        const struct cfg_kv *kv = &cfg->meshagent[k];
        size_t i;

        for (i = 0; i < ARRAY_SIZE(rows); i++)
            if (strcmp(rows[i].key, kv->key) == 0)
                break;
        if (i == ARRAY_SIZE(rows)) {
            strbuf_addf(problems, "%s: meshagent.%s: unknown key (docs/agent.md lists them)\n",
                        cfg->path, kv->key);
            r = -EINVAL;
        } else if (set_value(s, &rows[i], kv->value, cfg->path, problems) != 0) {
            r = -EINVAL;
        }
    }
    for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
        const char *v = getenv(rows[i].env);

        if (v != NULL && set_value(s, &rows[i], v, "environment", problems) != 0)
            r = -EINVAL;
    }
    if (strcmp(s->encoding, "json_v2") != 0 && strcmp(s->encoding, "json_v1") != 0 &&
        strcmp(s->encoding, "thrift") != 0) {
        strbuf_addf(problems,
                    "environment: MESHAGENT_ZIPKIN_ENCODING: '%s' is not json_v2, json_v1 or "
                    "thrift\n",
                    s->encoding);
        r = -EINVAL;
    }
    if (s->zipkin_url[0] != '\0' &&
        settings_parse_url(s->zipkin_url,
                           strcmp(s->encoding, "json_v2") == 0 ? "/api/v2/spans" : "/api/v1/spans",
                           s->zipkin_host, sizeof(s->zipkin_host), &s->zipkin_port, s->zipkin_path,
                           sizeof(s->zipkin_path), &s->scribe) != 0) {
        strbuf_addf(problems,
                    "environment: MESHAGENT_ZIPKIN_URL: '%s' is not http://host[:port][/path] or "
                    "scribe://host[:port]\n",
                    s->zipkin_url);
        r = -EINVAL;
    }
    if (s->retry_max_ms < s->retry_min_ms) {
        strbuf_addf(problems,
                    "environment: MESHAGENT_RETRY_MAX_MS: below MESHAGENT_RETRY_MIN_MS\n");
        r = -EINVAL;
    }
    if (s->queue_bytes < s->batch_bytes) {
        strbuf_addf(problems, "environment: MESHAGENT_QUEUE_BYTES: below MESHAGENT_BATCH_BYTES "
                              "(a full batch could never be queued)\n");
        r = -EINVAL;
    }
    return r;
}

void
settings_to_json(const struct agent_settings *s, struct strbuf *out)
{
    strbuf_addc(out, '{');
    strbuf_adds(out, "\"socket\":");
    strbuf_add_json_str(out, s->socket_url, strlen(s->socket_url));
    for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
        const struct set_row *r = &rows[i];
        const char *p = (const char *) s + r->off;
        double d;

        strbuf_addc(out, ',');
        strbuf_add_json_str(out, r->key, strlen(r->key));
        strbuf_addc(out, ':');
        switch (r->type) {
        case SET_STR:
            strbuf_add_json_str(out, p, strlen(p));
            break;
        case SET_BOOL:
            strbuf_adds(out, *(const bool *) p ? "true" : "false");
            break;
        case SET_DOUBLE:
            memcpy(&d, p, sizeof(d));
            strbuf_addf(out, "%.17g", d);
            break;
        case SET_U16:
            strbuf_addf(out, "%u", (unsigned) *(const uint16_t *) p);
            break;
        case SET_U32:
            strbuf_addf(out, "%" PRIu32, *(const uint32_t *) p);
            break;
        case SET_U64:
            strbuf_addf(out, "%" PRIu64, *(const uint64_t *) p);
            break;
        }
    }
    strbuf_addc(out, '}');
}

void
settings_env_help(struct strbuf *out)
{
    for (size_t i = 0; i < ARRAY_SIZE(rows); i++)
        strbuf_addf(out, "  %-30s %s (default %s)\n", rows[i].env, rows[i].help,
                    rows[i].def[0] ? rows[i].def : "\"\"");
}
