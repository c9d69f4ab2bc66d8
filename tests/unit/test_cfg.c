/* tests/unit/test_cfg.c - the config loader through common/cfg.h: defaults, Linkerd-shaped
 * configs, every kind of error with its exact FILE:LINE:COL: KEY.PATH, keys reported as
 * unsupported, collection of many errors, and the JSON rendering.
 *
 * Configs are parsed from memory under the name "t.yaml", so an error line reads
 * "t.yaml:LINE:COL: KEY: message". The files in deploy/examples/ are loaded from the
 * source tree, found from this file's path as the compiler saw it. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cfg.h"
#include "common/strbuf.h"
#include "tests/lib/check_main.h"

static struct cfg *
parse(const char *yaml, struct cfg_err *err)
{
    return cfg_parse(yaml, strlen(yaml), "t.yaml", err);
}

/* <yaml> must fail with exactly the error lines <want> (each ending in "\n"). */
static void
expect_errors(const char *yaml, unsigned n, const char *want)
{
    struct cfg_err err;
    struct cfg *cfg = parse(yaml, &err);

    ck_assert_ptr_null(cfg);
    ck_assert_str_eq(err.text, want);
    ck_assert_uint_eq(err.n_errors, n);
}

#define expect_error(yaml, want) expect_errors((yaml), 1, (want))

/* <yaml> must load; the caller frees the result. */
static struct cfg *
must_parse(const char *yaml)
{
    struct cfg_err err;
    struct cfg *cfg = parse(yaml, &err);

    ck_assert_msg(cfg != NULL, "unexpected errors:\n%s", err.text);
    ck_assert_uint_eq(err.n_errors, 0);
    ck_assert_str_eq(err.text, "");
    return cfg;
}

static const char *
param(const struct cfg_kv *kv, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(kv[i].key, key) == 0)
            return kv[i].value;
    return NULL;
}

/* <rel> in the source tree: __FILE__ is either absolute or relative to the build root,
 * which is three levels above this executable (build/tests/unit/test_cfg). */
static void
source_path(const char *rel, char *out, size_t len)
{
    const char *self = __FILE__, *tail = strstr(self, "tests/unit/test_cfg.c");
    char exe[PATH_MAX];
    ssize_t n;
    int levels = 3;

    ck_assert_ptr_nonnull(tail);
    if (self[0] == '/') {
        (void) snprintf(out, len, "%.*s%s", (int) (tail - self), self, rel);
        return;
    }
    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    ck_assert_int_gt(n, 0);
    exe[n] = '\0';
    while (levels-- > 0) {
        char *slash = strrchr(exe, '/');

        ck_assert_ptr_nonnull(slash);
        *slash = '\0';
    }
    (void) snprintf(out, len, "%s/%.*s%s", exe, (int) (tail - self), self, rel);
}

/* ---- defaults ------------------------------------------------------------------------ */

START_TEST(test_cfg_defaults_filled_in)
{
    struct cfg *cfg = must_parse("routers:\n- protocol: http\n");
    const struct cfg_router *r;

    ck_assert_str_eq(cfg->path, "t.yaml");
    ck_assert_str_eq(cfg->admin.ip, "127.0.0.1");
    ck_assert_uint_eq(cfg->admin.port, 9990);
    ck_assert_uint_eq(cfg->n_routers, 1);
    r = &cfg->routers[0];
    ck_assert_str_eq(r->protocol, "http");
    ck_assert_str_eq(r->label, "http");
    ck_assert_str_eq(r->dst_prefix, "/svc");
    ck_assert_str_eq(r->dtab, "");
    ck_assert_uint_eq(r->n_identifiers, 1);
    ck_assert_int_eq(r->identifiers[0].kind, CFG_ID_HEADER_TOKEN);
    ck_assert_str_eq(r->identifiers[0].header, "Host");
    ck_assert_uint_eq(r->n_servers, 1);
    ck_assert_str_eq(r->servers[0].ip, "127.0.0.1");
    ck_assert_uint_eq(r->servers[0].port, 4140);
    ck_assert(!r->servers[0].clear_context);
    ck_assert_uint_eq(r->servers[0].max_concurrent_requests, 0);
    ck_assert_int_eq(r->client.lb, CFG_LB_P2C);
    ck_assert_uint_eq(r->client.failure_accrual_failures, 5);
    ck_assert_uint_eq(r->client.failure_accrual_backoff_min_ms, 5000);
    ck_assert_uint_eq(r->client.failure_accrual_backoff_max_ms, 300000);
    ck_assert_uint_eq(r->client.connect_timeout_ms, 1000);
    ck_assert_uint_eq(r->client.request_attempt_timeout_ms, 0);
    ck_assert_uint_eq(r->client.pool_max_idle, 1024);
    ck_assert_uint_eq(r->client.pool_idle_time_ms, 60000);
    ck_assert_uint_eq(r->service.total_timeout_ms, 0);
    ck_assert_uint_eq(r->max_headers_kb, 8);
    ck_assert_uint_eq(r->max_initial_line_kb, 4);
    ck_assert_uint_eq(r->binding_timeout_ms, 10000);
    ck_assert_uint_eq(r->n_transformers, 0);
    ck_assert_uint_eq(cfg->n_namers, 0);
    ck_assert_uint_eq(cfg->n_telemetry, 0);
    ck_assert_uint_eq(cfg->meshd.workers, 0);
    ck_assert_str_eq(cfg->meshd.log_level, "notice");
    ck_assert_uint_eq(cfg->meshd.max_headers, 100);
    ck_assert_uint_eq(cfg->meshd.header_timeout_ms, 10000);
    ck_assert_uint_eq(cfg->meshd.idle_timeout_ms, 60000);
    ck_assert_uint_eq(cfg->meshd.drain_timeout_ms, 30000);
    ck_assert_uint_eq(cfg->meshd.max_connections, 10000);
    ck_assert_uint_eq(cfg->meshd.buffer_size, 16384);
    ck_assert_ptr_null(cfg_free(cfg));
}
END_TEST

START_TEST(test_cfg_defaults_run_dir_and_agent_socket)
{
    struct cfg *cfg = must_parse("routers: [{protocol: http}]");
    char want_dir[64], want_sock[96];

    if (geteuid() == 0)
        (void) snprintf(want_dir, sizeof(want_dir), "/run/meshd");
    else
        (void) snprintf(want_dir, sizeof(want_dir), "/tmp/meshd-%lu", (unsigned long) geteuid());
    (void) snprintf(want_sock, sizeof(want_sock), "ipc://%s/spans.ipc", want_dir);
    ck_assert_str_eq(cfg->meshd.run_dir, want_dir);
    ck_assert_str_eq(cfg->meshd.agent_socket, want_sock);
    cfg_free(cfg);

    /* agentSocket follows a configured runDir */
    cfg = must_parse("routers: [{protocol: http}]\nmeshd: {runDir: /var/lib/m}\n");
    ck_assert_str_eq(cfg->meshd.run_dir, "/var/lib/m");
    ck_assert_str_eq(cfg->meshd.agent_socket, "ipc:///var/lib/m/spans.ipc");
    cfg_free(cfg);

    cfg = must_parse("routers: [{protocol: http}]\n"
                     "meshd: {runDir: /x, agentSocket: 'tcp://127.0.0.1:5555'}\n");
    ck_assert_str_eq(cfg->meshd.agent_socket, "tcp://127.0.0.1:5555");
    cfg_free(cfg);
}
END_TEST

START_TEST(test_cfg_defaults_per_kind)
{
    struct cfg *cfg = must_parse("routers:\n"
                                 "- protocol: http\n"
                                 "  identifier:\n"
                                 "  - kind: io.l5d.header\n"
                                 "  - kind: io.l5d.path\n"
                                 "  - kind: io.l5d.methodAndHost\n"
                                 "  - kind: io.l5d.header.token\n"
                                 "telemetry:\n"
                                 "- kind: io.l5d.zipkin\n"
                                 "- kind: io.l5d.prometheus\n"
                                 "- kind: io.l5d.recentRequests\n"
                                 "  sampleRate: 0.25\n"
                                 "namers:\n"
                                 "- kind: io.l5d.fs\n"
                                 "  rootDir: disco\n");
    const struct cfg_identifier *id = cfg->routers[0].identifiers;

    ck_assert_uint_eq(cfg->routers[0].n_identifiers, 4);
    ck_assert_int_eq(id[0].kind, CFG_ID_HEADER);
    ck_assert_str_eq(id[0].header, "l5d-name");
    ck_assert_int_eq(id[1].kind, CFG_ID_PATH);
    ck_assert_uint_eq(id[1].segments, 1);
    ck_assert(!id[1].consume);
    ck_assert_int_eq(id[2].kind, CFG_ID_METHOD_AND_HOST);
    ck_assert(!id[2].uri_in_dst);
    ck_assert_int_eq(id[3].kind, CFG_ID_HEADER_TOKEN);
    ck_assert_str_eq(id[3].header, "Host");

    ck_assert_uint_eq(cfg->n_telemetry, 3);
    ck_assert_str_eq(cfg->telemetry[0].kind, "io.l5d.zipkin");
    ck_assert_str_eq(cfg->telemetry[0].host, "localhost");
    ck_assert_uint_eq(cfg->telemetry[0].port, 9410);
    ck_assert_double_eq(cfg->telemetry[0].sample_rate, 0.001);
    ck_assert_str_eq(cfg->telemetry[1].kind, "io.l5d.prometheus");
    ck_assert_str_eq(cfg->telemetry[1].path, "/admin/metrics/prometheus");
    ck_assert_str_eq(cfg->telemetry[1].prefix, "");
    ck_assert_str_eq(cfg->telemetry[2].kind, "io.l5d.recentRequests");
    ck_assert_double_eq(cfg->telemetry[2].sample_rate, 0.25);
    ck_assert_uint_eq(cfg->telemetry[2].capacity, 10);

    ck_assert_str_eq(cfg->namers[0].kind, "io.l5d.fs");
    ck_assert_str_eq(cfg->namers[0].prefix, "io.l5d.fs");
    ck_assert_str_eq(cfg->namers[0].root_dir, "disco");
    ck_assert_uint_eq(cfg->namers[0].n_params, 0);
    cfg_free(cfg);
}
END_TEST

/* A null value is an absent key, as with Linkerd; so is an empty servers list. */
START_TEST(test_cfg_defaults_null_is_absent)
{
    struct cfg *cfg = must_parse("admin:\n"
                                 "routers:\n"
                                 "- protocol: http\n"
                                 "  label: ~\n"
                                 "  dstPrefix: null\n"
                                 "  servers: []\n"
                                 "  client:\n"
                                 "    connectTimeoutMs:\n"
                                 "meshd: {}\n");

    ck_assert_str_eq(cfg->admin.ip, "127.0.0.1");
    ck_assert_str_eq(cfg->routers[0].label, "http");
    ck_assert_str_eq(cfg->routers[0].dst_prefix, "/svc");
    ck_assert_uint_eq(cfg->routers[0].n_servers, 1);
    ck_assert_uint_eq(cfg->routers[0].servers[0].port, 4140);
    ck_assert_uint_eq(cfg->routers[0].client.connect_timeout_ms, 1000);
    cfg_free(cfg);
}
END_TEST

/* ---- Linkerd-shaped configs ---------------------------------------------------------- */

/* The linkerd-examples k8s-daemonset linkerd-zipkin.yml config, usage switched off. */
static const char walkthrough[] = "admin:\n"
                                  "  ip: 0.0.0.0\n"
                                  "  port: 9990\n"
                                  "\n"
                                  "namers:\n"
                                  "- kind: io.l5d.k8s\n"
                                  "  host: localhost\n"
                                  "  port: 8001\n"
                                  "\n"
                                  "telemetry:\n"
                                  "- kind: io.l5d.prometheus\n"
                                  "- kind: io.l5d.zipkin\n"
                                  "  host: zipkin-collector.default.svc.cluster.local\n"
                                  "  port: 9410\n"
                                  "  sampleRate: 1.0\n"
                                  "- kind: io.l5d.recentRequests\n"
                                  "  sampleRate: 0.25\n"
                                  "\n"
                                  "usage:\n"
                                  "  enabled: false\n"
                                  "\n"
                                  "routers:\n"
                                  "- protocol: http\n"
                                  "  label: outgoing\n"
                                  "  dtab: |\n"
                                  "    /srv        => /#/io.l5d.k8s/default/http;\n"
                                  "    /host       => /srv;\n"
                                  "    /svc        => /host;\n"
                                  "    /host/world => /srv/world-v1;\n"
                                  "  interpreter:\n"
                                  "    kind: default\n"
                                  "    transformers:\n"
                                  "    - kind: io.l5d.k8s.daemonset\n"
                                  "      namespace: default\n"
                                  "      port: incoming\n"
                                  "      service: l5d\n"
                                  "  servers:\n"
                                  "  - port: 4140\n"
                                  "    ip: 0.0.0.0\n"
                                  "\n"
                                  "- protocol: http\n"
                                  "  label: incoming\n"
                                  "  dtab: |\n"
                                  "    /srv        => /#/io.l5d.k8s/default/http;\n"
                                  "    /host       => /srv;\n"
                                  "    /svc        => /host;\n"
                                  "    /host/world => /srv/world-v1;\n"
                                  "  interpreter:\n"
                                  "    kind: default\n"
                                  "    transformers:\n"
                                  "    - kind: io.l5d.k8s.localnode\n"
                                  "  servers:\n"
                                  "  - port: 4141\n"
                                  "    ip: 0.0.0.0\n";

static const char walkthrough_dtab[] = "/srv        => /#/io.l5d.k8s/default/http;\n"
                                       "/host       => /srv;\n"
                                       "/svc        => /host;\n"
                                       "/host/world => /srv/world-v1;\n";

START_TEST(test_cfg_linkerd_walkthrough_loads)
{
    struct cfg *cfg = must_parse(walkthrough);
    const struct cfg_router *out, *in;
    const struct cfg_transformer *t;

    ck_assert_str_eq(cfg->admin.ip, "0.0.0.0");
    ck_assert_uint_eq(cfg->admin.port, 9990);

    /* io.l5d.k8s is kept raw for the naming module */
    ck_assert_uint_eq(cfg->n_namers, 1);
    ck_assert_str_eq(cfg->namers[0].kind, "io.l5d.k8s");
    ck_assert_str_eq(cfg->namers[0].prefix, "io.l5d.k8s");
    ck_assert_ptr_null(cfg->namers[0].root_dir);
    ck_assert_uint_eq(cfg->namers[0].n_params, 2);
    ck_assert_str_eq(param(cfg->namers[0].params, 2, "host"), "localhost");
    ck_assert_str_eq(param(cfg->namers[0].params, 2, "port"), "8001");

    ck_assert_uint_eq(cfg->n_telemetry, 3);
    ck_assert_str_eq(cfg->telemetry[1].kind, "io.l5d.zipkin");
    ck_assert_str_eq(cfg->telemetry[1].host, "zipkin-collector.default.svc.cluster.local");
    ck_assert_uint_eq(cfg->telemetry[1].port, 9410);
    ck_assert_double_eq(cfg->telemetry[1].sample_rate, 1.0);
    ck_assert_double_eq(cfg->telemetry[2].sample_rate, 0.25);

    ck_assert_uint_eq(cfg->n_routers, 2);
    out = &cfg->routers[0];
    in = &cfg->routers[1];
    ck_assert_str_eq(out->label, "outgoing");
    ck_assert_str_eq(out->dtab, walkthrough_dtab); /* verbatim, block scalar newline kept */
    ck_assert_str_eq(out->servers[0].ip, "0.0.0.0");
    ck_assert_uint_eq(out->servers[0].port, 4140);
    ck_assert_str_eq(out->identifiers[0].header, "Host");
    ck_assert_uint_eq(out->n_transformers, 1);
    t = &out->transformers[0];
    ck_assert_str_eq(t->kind, "io.l5d.k8s.daemonset");
    ck_assert_str_eq(t->prefix, "io.l5d.k8s.daemonset");
    ck_assert_uint_eq(t->n_params, 3);
    ck_assert_str_eq(param(t->params, t->n_params, "namespace"), "default");
    ck_assert_str_eq(param(t->params, t->n_params, "port"), "incoming");
    ck_assert_str_eq(param(t->params, t->n_params, "service"), "l5d");

    ck_assert_str_eq(in->label, "incoming");
    ck_assert_str_eq(in->dtab, walkthrough_dtab);
    ck_assert_uint_eq(in->servers[0].port, 4141);
    ck_assert_uint_eq(in->n_transformers, 1);
    ck_assert_str_eq(in->transformers[0].kind, "io.l5d.k8s.localnode");
    ck_assert_uint_eq(in->transformers[0].n_params, 0);
    cfg_free(cfg);
}
END_TEST

START_TEST(test_cfg_linkerd_router_keys)
{
    struct cfg *cfg = must_parse("routers:\n"
                                 "- protocol: http\n"
                                 "  label: edge\n"
                                 "  dstPrefix: /http\n"
                                 "  identifier:\n"
                                 "    kind: io.l5d.methodAndHost\n"
                                 "    httpUriInDst: true\n"
                                 "  servers:\n"
                                 "  - {ip: '::1', port: 0, clearContext: true,"
                                 " maxConcurrentRequests: 2000}\n"
                                 "  - {port: 0}\n"
                                 "  client:\n"
                                 "    kind: io.l5d.global\n"
                                 "    loadBalancer: {kind: roundRobin}\n"
                                 "    failureAccrual:\n"
                                 "      kind: io.l5d.consecutiveFailures\n"
                                 "      failures: 3\n"
                                 "      backoff: {kind: jittered, minMs: 100, maxMs: 2000}\n"
                                 "    connectTimeoutMs: 250\n"
                                 "    requestAttemptTimeoutMs: 500\n"
                                 "    hostConnectionPool: {maxIdle: 8, idleTimeMs: 3000}\n"
                                 "  service: {totalTimeoutMs: 1500}\n"
                                 "  maxHeadersKB: 16\n"
                                 "  maxInitialLineKB: 8\n"
                                 "  bindingTimeoutMs: 2500\n"
                                 "- protocol: http\n"
                                 "  label: static\n"
                                 "  identifier: {kind: io.l5d.static, path: /svc/one}\n"
                                 "  servers: [{port: 0}]\n"
                                 "- protocol: http\n"
                                 "  label: path\n"
                                 "  identifier:\n"
                                 "  - {kind: io.l5d.path, segments: 2, consume: true}\n"
                                 "  - {kind: io.l5d.header, header: x-name}\n"
                                 "  servers: [{port: 4142}]\n");
    const struct cfg_router *r = &cfg->routers[0];

    ck_assert_str_eq(r->label, "edge");
    ck_assert_str_eq(r->dst_prefix, "/http");
    ck_assert_int_eq(r->identifiers[0].kind, CFG_ID_METHOD_AND_HOST);
    ck_assert(r->identifiers[0].uri_in_dst);
    ck_assert_uint_eq(r->n_servers, 2);
    ck_assert_str_eq(r->servers[0].ip, "::1");
    ck_assert_uint_eq(r->servers[0].port, 0); /* any port; two of them do not clash */
    ck_assert(r->servers[0].clear_context);
    ck_assert_uint_eq(r->servers[0].max_concurrent_requests, 2000);
    ck_assert_int_eq(r->client.lb, CFG_LB_ROUND_ROBIN);
    ck_assert_uint_eq(r->client.failure_accrual_failures, 3);
    ck_assert_uint_eq(r->client.failure_accrual_backoff_min_ms, 100);
    ck_assert_uint_eq(r->client.failure_accrual_backoff_max_ms, 2000);
    ck_assert_uint_eq(r->client.connect_timeout_ms, 250);
    ck_assert_uint_eq(r->client.request_attempt_timeout_ms, 500);
    ck_assert_uint_eq(r->client.pool_max_idle, 8);
    ck_assert_uint_eq(r->client.pool_idle_time_ms, 3000);
    ck_assert_uint_eq(r->service.total_timeout_ms, 1500);
    ck_assert_uint_eq(r->max_headers_kb, 16);
    ck_assert_uint_eq(r->max_initial_line_kb, 8);
    ck_assert_uint_eq(r->binding_timeout_ms, 2500);

    r = &cfg->routers[1];
    ck_assert_int_eq(r->identifiers[0].kind, CFG_ID_STATIC);
    ck_assert_str_eq(r->identifiers[0].path, "/svc/one");

    r = &cfg->routers[2];
    ck_assert_uint_eq(r->n_identifiers, 2);
    ck_assert_int_eq(r->identifiers[0].kind, CFG_ID_PATH);
    ck_assert_uint_eq(r->identifiers[0].segments, 2);
    ck_assert(r->identifiers[0].consume);
    ck_assert_int_eq(r->identifiers[1].kind, CFG_ID_HEADER);
    ck_assert_str_eq(r->identifiers[1].header, "x-name");
    cfg_free(cfg);
}
END_TEST

START_TEST(test_cfg_linkerd_namers_telemetry_meshd)
{
    struct cfg *cfg = must_parse("namers:\n"
                                 "- {kind: io.l5d.fs, rootDir: /disco, prefix: /disco,"
                                 " experimental: true}\n"
                                 "- {kind: io.l5d.fs, rootDir: /other}\n"
                                 "- kind: io.l5d.k8s\n"
                                 "  prefix: /io.l5d.k8s.ds\n"
                                 "  labelSelector: version\n"
                                 "telemetry:\n"
                                 "- {kind: io.l5d.prometheus, path: /metrics, prefix: l5d_}\n"
                                 "- {kind: io.l5d.recentRequests, sampleRate: 1, capacity: 50}\n"
                                 "routers: [{protocol: http}]\n"
                                 "meshd:\n"
                                 "  workers: 4\n"
                                 "  runDir: /run/m\n"
                                 "  agentSocket: ipc:///run/m/a.ipc\n"
                                 "  logLevel: debug\n"
                                 "  maxHeaders: 64\n"
                                 "  headerTimeoutMs: 5000\n"
                                 "  idleTimeoutMs: 7000\n"
                                 "  drainTimeoutMs: 0\n"
                                 "  maxConnections: 50000\n"
                                 "  bufferSize: 65536\n"
                                 "  user: meshd\n"
                                 "  group: '10001'\n");

    ck_assert_str_eq(cfg->namers[0].prefix, "disco"); /* leading '/' dropped */
    ck_assert_str_eq(cfg->namers[0].root_dir, "/disco");
    ck_assert_str_eq(cfg->namers[1].prefix, "io.l5d.fs");
    ck_assert_str_eq(cfg->namers[2].prefix, "io.l5d.k8s.ds");
    ck_assert_uint_eq(cfg->namers[2].n_params, 1);
    ck_assert_str_eq(cfg->namers[2].params[0].key, "labelSelector");
    ck_assert_str_eq(cfg->namers[2].params[0].value, "version");
    ck_assert_str_eq(cfg->telemetry[0].path, "/metrics");
    ck_assert_str_eq(cfg->telemetry[0].prefix, "l5d_");
    ck_assert_double_eq(cfg->telemetry[1].sample_rate, 1.0);
    ck_assert_uint_eq(cfg->telemetry[1].capacity, 50);
    ck_assert_uint_eq(cfg->meshd.workers, 4);
    ck_assert_str_eq(cfg->meshd.run_dir, "/run/m");
    ck_assert_str_eq(cfg->meshd.agent_socket, "ipc:///run/m/a.ipc");
    ck_assert_str_eq(cfg->meshd.log_level, "debug");
    ck_assert_uint_eq(cfg->meshd.max_headers, 64);
    ck_assert_uint_eq(cfg->meshd.header_timeout_ms, 5000);
    ck_assert_uint_eq(cfg->meshd.idle_timeout_ms, 7000);
    ck_assert_uint_eq(cfg->meshd.drain_timeout_ms, 0);
    ck_assert_uint_eq(cfg->meshd.max_connections, 50000);
    ck_assert_uint_eq(cfg->meshd.buffer_size, 65536);
    ck_assert_str_eq(cfg->meshd.user, "meshd");
    ck_assert_str_eq(cfg->meshd.group, "10001");
    cfg_free(cfg);
}
END_TEST

/* YAML features a Linkerd config may use: anchors and aliases, quoted numbers, JSON. */
START_TEST(test_cfg_linkerd_yaml_features)
{
    struct cfg *cfg = must_parse("routers:\n"
                                 "- protocol: http\n"
                                 "  label: out\n"
                                 "  dtab: &dtab |\n"
                                 "    /svc => /#/io.l5d.fs;\n"
                                 "  servers: [{port: \"4140\", ip: \"0.0.0.0\"}]\n"
                                 "- protocol: http\n"
                                 "  label: in\n"
                                 "  dtab: *dtab\n"
                                 "  servers: [{port: 4141}]\n");

    ck_assert_str_eq(cfg->routers[1].dtab, "/svc => /#/io.l5d.fs;\n");
    ck_assert_uint_eq(cfg->routers[0].servers[0].port, 4140);
    cfg_free(cfg);

    cfg = must_parse("{\"routers\": [{\"protocol\": \"http\", \"servers\": [{\"port\": 0}]}],"
                     " \"admin\": {\"port\": 0}}");
    ck_assert_uint_eq(cfg->routers[0].servers[0].port, 0);
    ck_assert_uint_eq(cfg->admin.port, 0);
    cfg_free(cfg);
}
END_TEST

START_TEST(test_cfg_linkerd_examples_load)
{
    static const char *const files[] = {
        "deploy/examples/minimal.yaml",
        "deploy/examples/linkerd-walkthrough.yaml",
    };
    char path[PATH_MAX];

    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        struct cfg_err err;
        struct cfg *cfg;

        source_path(files[i], path, sizeof(path));
        cfg = cfg_load(path, &err);
        ck_assert_msg(cfg != NULL, "%s:\n%s", path, err.text);
        ck_assert_uint_eq(err.n_errors, 0);
        ck_assert_str_eq(cfg->path, path);
        ck_assert_uint_ge(cfg->n_routers, 1);
        cfg_free(cfg);
    }
}
END_TEST

/* ---- errors -------------------------------------------------------------------------- */

START_TEST(test_cfg_error_unknown_key)
{
    expect_error("routers:\n"
                 "- protocol: http\n"
                 "  servers:\n"
                 "  - port: 4140\n"
                 "    prot: 1\n",
                 "t.yaml:5:5: routers[0].servers[0].prot: unknown key; allowed here: ip, port, "
                 "clearContext, maxConcurrentRequests\n");
    expect_error("routers: [{protocol: http}]\n"
                 "admins: {}\n",
                 "t.yaml:2:1: admins: unknown key; allowed here: admin, routers, namers, "
                 "telemetry, meshd, usage, meshagent\n");
    expect_error("routers: [{protocol: http}]\n"
                 "meshd:\n"
                 "  worker: 2\n",
                 "t.yaml:3:3: meshd.worker: unknown key; allowed here: workers, runDir, "
                 "agentSocket, logLevel, maxHeaders, headerTimeoutMs, idleTimeoutMs, "
                 "drainTimeoutMs, maxConnections, bufferSize, user, group\n");
    /* a key of another identifier kind is unknown for this one */
    expect_error("routers:\n"
                 "- protocol: http\n"
                 "  identifier:\n"
                 "    kind: io.l5d.header.token\n"
                 "    segments: 2\n",
                 "t.yaml:5:5: routers[0].identifier.segments: unknown key; allowed here: kind, "
                 "header\n");
}
END_TEST

START_TEST(test_cfg_error_unknown_kind)
{
    expect_error("routers:\n"
                 "- protocol: http\n"
                 "  identifier: [{kind: io.l5d.header.token}, {kind: io.l5d.hostname}]\n",
                 "t.yaml:3:52: routers[0].identifier[1].kind: unknown kind \"io.l5d.hostname\"; "
                 "allowed here: io.l5d.header.token, io.l5d.methodAndHost, io.l5d.path, "
                 "io.l5d.header, io.l5d.static\n");
    expect_error("routers:\n"
                 "- protocol: https\n",
                 "t.yaml:2:13: routers[0].protocol: unknown protocol \"https\"; allowed here: "
                 "http\n");
    expect_error("routers: [{protocol: http}]\n"
                 "namers:\n"
                 "- kind: fs\n",
                 "t.yaml:3:9: namers[0].kind: unknown kind \"fs\"; allowed here: io.l5d.fs, "
                 "io.l5d.k8s\n");
}
END_TEST

START_TEST(test_cfg_error_wrong_types)
{
    expect_error("routers:\n"
                 "- protocol: http\n"
                 "  servers: [{port: http}]\n",
                 "t.yaml:3:20: routers[0].servers[0].port: expected an integer\n");
    expect_error("routers:\n"
                 "- protocol: http\n"
                 "  servers: [{port: 41.40}]\n",
                 "t.yaml:3:20: routers[0].servers[0].port: expected an integer\n");
    expect_error("routers:\n"
                 "- protocol: http\n"
                 "  servers: [{clearContext: yes}]\n",
                 "t.yaml:3:28: routers[0].servers[0].clearContext: expected a boolean\n");
    expect_error("routers:\n"
                 "- protocol: http\n"
                 "  label: [a, b]\n",
                 "t.yaml:3:10: routers[0].label: expected a string\n");
    expect_error("routers:\n"
                 "  protocol: http\n",
                 "t.yaml:2:3: routers: expected a list\n");
    /* io.l5d.k8s keys are scalars (fuzz_cfg: a list was accepted, then its flattened
     * keys did not load back from /config.json) */
    expect_error("namers:\n"
                 "- kind: io.l5d.k8s\n"
                 "  port: [8001]\n"
                 "routers: [{protocol: http}]\n",
                 "t.yaml:3:9: namers[0].port: expected a string, number or boolean\n");
    /* a bad servers value does not also clash through the default server */
    expect_error("routers:\n"
                 "- {protocol: http, label: a}\n"
                 "- {protocol: http, label: b, servers: 4141}\n",
                 "t.yaml:3:39: routers[1].servers: expected a list\n");
    expect_error("routers:\n"
                 "- protocol: http\n"
                 "  client: p2c\n",
                 "t.yaml:3:11: routers[0].client: expected a mapping\n");
    expect_error("routers:\n"
                 "- protocol: http\n"
                 "  identifier: io.l5d.header.token\n",
                 "t.yaml:3:15: routers[0].identifier: expected a mapping or a list of "
                 "mappings\n");
    expect_error("routers:\n"
                 "- http\n",
                 "t.yaml:2:3: routers[0]: expected a mapping\n");
    expect_error("routers: [{protocol: http}]\n"
                 "telemetry:\n"
                 "- kind: io.l5d.zipkin\n"
                 "  sampleRate: often\n",
                 "t.yaml:4:15: telemetry[0].sampleRate: expected a number\n");
    expect_error("- protocol: http\n", "t.yaml:1:1: (root): expected a mapping\n");
    /* control characters in a key cannot break the one-line-per-error format */
    expect_error("routers: [{protocol: http}]\n"
                 "\"a\\nb\": 1\n",
                 "t.yaml:2:1: a?b: unknown key; allowed here: admin, routers, namers, telemetry, "
                 "meshd, usage, meshagent\n");
    expect_error("routers: [{protocol: http}]\n"
                 "? [a]\n"
                 ": b\n",
                 "t.yaml:2:3: (root): expected a string key, not a list\n");
}
END_TEST

START_TEST(test_cfg_error_ranges)
{
    expect_error("routers: [{protocol: http, servers: [{port: 65536}]}]\n",
                 "t.yaml:1:45: routers[0].servers[0].port: expected an integer in 0..65535\n");
    expect_error("routers: [{protocol: http, servers: [{port: -1}]}]\n",
                 "t.yaml:1:45: routers[0].servers[0].port: expected an integer in 0..65535\n");
    expect_error("routers: [{protocol: http}]\n"
                 "admin: {port: 70000}\n",
                 "t.yaml:2:15: admin.port: expected an integer in 0..65535\n");
    /* 0 means "any port" for listeners only */
    expect_error("routers: [{protocol: http}]\n"
                 "telemetry: [{kind: io.l5d.zipkin, port: 0}]\n",
                 "t.yaml:2:41: telemetry[0].port: expected an integer in 1..65535\n");
    expect_error("routers: [{protocol: http}]\n"
                 "telemetry: [{kind: io.l5d.zipkin, sampleRate: 1.5}]\n",
                 "t.yaml:2:47: telemetry[0].sampleRate: expected a number in 0..1\n");
    expect_error("routers: [{protocol: http}]\n"
                 "telemetry: [{kind: io.l5d.zipkin, sampleRate: -0.1}]\n",
                 "t.yaml:2:47: telemetry[0].sampleRate: expected a number in 0..1\n");
    /* the worker parses into 256 fields at most */
    expect_error("routers: [{protocol: http}]\n"
                 "meshd: {maxHeaders: 257}\n",
                 "t.yaml:2:21: meshd.maxHeaders: expected an integer in 1..256\n");
    expect_error("routers: [{protocol: http}]\n"
                 "meshd: {user: ''}\n",
                 "t.yaml:2:15: meshd.user: expected a user or group name, or a number\n");
    expect_error("routers: [{protocol: http, maxHeadersKB: 0}]\n",
                 "t.yaml:1:42: routers[0].maxHeadersKB: expected an integer in 1..1024\n");
    expect_error("routers: [{protocol: http, servers: [{maxConcurrentRequests: 4294967296}]}]\n",
                 "t.yaml:1:62: routers[0].servers[0].maxConcurrentRequests: expected an integer "
                 "in 0..4294967295\n");
    expect_error("routers:\n"
                 "- protocol: http\n"
                 "  client:\n"
                 "    failureAccrual:\n"
                 "      kind: io.l5d.consecutiveFailures\n"
                 "      backoff:\n"
                 "        kind: jittered\n"
                 "        minMs: 2000\n"
                 "        maxMs: 1000\n",
                 "t.yaml:7:9: routers[0].client.failureAccrual.backoff: minMs (2000) is greater "
                 "than maxMs (1000)\n");
    expect_error("routers: [{protocol: http}]\n"
                 "meshd: {bufferSize: 100}\n",
                 "t.yaml:2:21: meshd.bufferSize: expected an integer in 1024..16777216\n");
}
END_TEST

START_TEST(test_cfg_error_bad_values)
{
    expect_error("routers: [{protocol: http, servers: [{ip: localhost}]}]\n",
                 "t.yaml:1:43: routers[0].servers[0].ip: expected an IP address (IPv4 or IPv6 "
                 "literal), not \"localhost\"\n");
    expect_error("routers: [{protocol: http, dstPrefix: svc}]\n",
                 "t.yaml:1:39: routers[0].dstPrefix: expected a path like /svc, not \"svc\"\n");
    expect_error("routers: [{protocol: http, label: ''}]\n",
                 "t.yaml:1:35: routers[0].label: expected a non-empty string\n");
    expect_error("routers: [{protocol: http}]\n"
                 "meshd: {logLevel: verbose}\n",
                 "t.yaml:2:19: meshd.logLevel: expected one of: err, warn, notice, info, debug\n");
    expect_error("routers: [{protocol: http}]\n"
                 "meshd: {runDir: run}\n",
                 "t.yaml:2:17: meshd.runDir: expected an absolute path\n");
    expect_error("routers: [{protocol: http}]\n"
                 "meshd: {agentSocket: /run/spans}\n",
                 "t.yaml:2:22: meshd.agentSocket: expected an ipc:// or tcp:// address\n");
    expect_error("routers: [{protocol: http}]\n"
                 "namers: [{kind: io.l5d.fs, rootDir: d, prefix: 'a b'}]\n",
                 "t.yaml:2:48: namers[0].prefix: expected a prefix like /io.l5d.fs, not \"a b\"\n");
}
END_TEST

START_TEST(test_cfg_error_missing_required)
{
    expect_error("routers:\n"
                 "- label: x\n",
                 "t.yaml:2:3: routers[0].protocol: required key is missing\n");
    expect_error("routers: [{protocol: http}]\n"
                 "namers:\n"
                 "- kind: io.l5d.fs\n"
                 "  prefix: /disco\n",
                 "t.yaml:3:3: namers[0].rootDir: required key is missing\n");
    expect_error("routers: [{protocol: http}]\n"
                 "telemetry:\n"
                 "- sampleRate: 0.5\n",
                 "t.yaml:3:3: telemetry[0].kind: required key is missing\n");
    expect_error("routers: [{protocol: http}]\n"
                 "telemetry:\n"
                 "- kind: io.l5d.recentRequests\n",
                 "t.yaml:3:3: telemetry[0].sampleRate: required key is missing\n");
    expect_error("routers: [{protocol: http, identifier: {kind: io.l5d.static}}]\n",
                 "t.yaml:1:40: routers[0].identifier.path: required key is missing\n");
    expect_error("routers: [{protocol: http, client: {loadBalancer: {maxEffort: 3}}}]\n",
                 "t.yaml:1:51: routers[0].client.loadBalancer.kind: required key is missing\n");
    expect_error("routers: [{protocol: http, interpreter: {transformers: [{namespace: x}]}}]\n",
                 "t.yaml:1:57: routers[0].interpreter.transformers[0].kind: required key is "
                 "missing\n");
}
END_TEST

START_TEST(test_cfg_error_no_router)
{
    expect_error("admin: {port: 9991}\n", "t.yaml:1:1: routers: at least one router is required\n");
    expect_error("", "t.yaml:1:1: routers: at least one router is required\n");
    expect_error("# only a comment\n", "t.yaml:1:1: routers: at least one router is required\n");
    expect_error("admin: {}\n"
                 "routers: []\n",
                 "t.yaml:2:10: routers: at least one router is required\n");
}
END_TEST

START_TEST(test_cfg_error_duplicates)
{
    /* same ip:port in two routers; the default server counts */
    expect_error("routers:\n"
                 "- protocol: http\n"
                 "  label: a\n"
                 "- protocol: http\n"
                 "  label: b\n"
                 "  servers:\n"
                 "  - port: 4141\n"
                 "  - ip: 127.0.0.1\n"
                 "    port: 4140\n",
                 "t.yaml:8:5: routers[1].servers[1]: 127.0.0.1:4140 is also used by "
                 "routers[0].servers[0]\n");
    /* addresses compare as addresses, and admin takes part */
    expect_error("routers: [{protocol: http, servers: [{ip: '::1', port: 9990}]}]\n"
                 "admin: {ip: '0:0::1'}\n",
                 "t.yaml:2:8: admin: [0:0::1]:9990 is also used by routers[0].servers[0]\n");
    /* two routers with the default label (= protocol) */
    expect_error("routers:\n"
                 "- protocol: http\n"
                 "  servers: [{port: 1}]\n"
                 "- protocol: http\n"
                 "  servers: [{port: 2}]\n",
                 "t.yaml:4:3: routers[1].label: label \"http\" is also used by "
                 "routers[0].label\n");
    expect_error("routers:\n"
                 "- {protocol: http, label: out, servers: [{port: 1}]}\n"
                 "- {protocol: http, label: out, servers: [{port: 2}]}\n",
                 "t.yaml:3:27: routers[1].label: label \"out\" is also used by "
                 "routers[0].label\n");
    /* namer prefixes, with or without the leading slash */
    expect_error("routers: [{protocol: http}]\n"
                 "namers:\n"
                 "- {kind: io.l5d.fs, rootDir: a, prefix: /disco}\n"
                 "- {kind: io.l5d.fs, rootDir: b, prefix: disco}\n",
                 "t.yaml:4:41: namers[1].prefix: prefix \"disco\" is also used by "
                 "namers[0].prefix\n");
    expect_error("routers: [{protocol: http}]\n"
                 "namers:\n"
                 "- {kind: io.l5d.fs, rootDir: a}\n"
                 "- {kind: io.l5d.fs, rootDir: b}\n",
                 "t.yaml:4:3: namers[1].prefix: prefix \"io.l5d.fs\" is also used by "
                 "namers[0].prefix\n");
    /* the same key twice in one mapping */
    expect_error("routers:\n"
                 "- protocol: http\n"
                 "  dtab: /a => /b;\n"
                 "  dtab: /c => /d;\n",
                 "t.yaml:4:3: routers[0].dtab: duplicate key (first set at line 3)\n");
}
END_TEST

START_TEST(test_cfg_error_yaml_syntax)
{
    expect_error("routers:\n"
                 "- protocol: http\n"
                 "   label: x\n",
                 "t.yaml:3:9: (yaml): mapping values are not allowed in this context\n");
    expect_error("routers: [{protocol: http}\n",
                 "t.yaml:2:1: (yaml): did not find expected ',' or ']' (while parsing a flow "
                 "sequence at line 1, column 10)\n");
    expect_error("routers: [{protocol: http}]\n"
                 "---\n"
                 "routers: [{protocol: http}]\n",
                 "t.yaml:3:1: (yaml): more than one document; a config is one document\n");
    expect_error("routers: \"\xff\"\n", "t.yaml:1:11: (yaml): invalid leading UTF-8 octet "
                                        "(byte 0xff)\n");
}
END_TEST

START_TEST(test_cfg_error_unreadable_file)
{
    struct cfg_err err;
    char dir[] = "/tmp/test_cfg.XXXXXX", path[64];

    ck_assert_ptr_null(cfg_load("/nonexistent/meshd.yaml", &err));
    ck_assert_uint_eq(err.n_errors, 1);
    ck_assert_str_eq(err.text, "/nonexistent/meshd.yaml:1:1: (file): cannot read: No such file or "
                               "directory\n");

    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_ptr_null(cfg_load(dir, &err));
    ck_assert_uint_eq(err.n_errors, 1);
    ck_assert_ptr_nonnull(strstr(err.text, ":1:1: (file): cannot read: Is a directory\n"));

    /* a readable file with errors reports under its path */
    (void) snprintf(path, sizeof(path), "%s/c.yaml", dir);
    {
        FILE *f = fopen(path, "w");

        ck_assert_ptr_nonnull(f);
        fputs("routers:\n- protocol: http\n  bogus: 1\n", f);
        ck_assert_int_eq(fclose(f), 0);
    }
    ck_assert_ptr_null(cfg_load(path, &err));
    ck_assert_uint_eq(err.n_errors, 1);
    ck_assert_ptr_nonnull(strstr(err.text, "/c.yaml:3:3: routers[0].bogus: unknown key"));
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

/* ---- unsupported --------------------------------------------------------------------- */

START_TEST(test_cfg_unsupported_keys)
{
    expect_error("routers:\n"
                 "- protocol: http\n"
                 "  servers:\n"
                 "  - port: 4140\n"
                 "    tls: {certPath: a.pem}\n",
                 "t.yaml:5:5: routers[0].servers[0].tls: not supported by meshd yet\n");
    expect_errors("routers:\n"
                  "- protocol: http\n"
                  "  service:\n"
                  "    responseClassifier: {kind: io.l5d.http.retryableRead5XX}\n"
                  "    retries: {budget: {percentCanRetry: 0.5}}\n",
                  2,
                  "t.yaml:4:5: routers[0].service.responseClassifier: not supported by meshd yet\n"
                  "t.yaml:5:5: routers[0].service.retries: not supported by meshd yet\n");
    expect_error("routers: [{protocol: http, httpAccessLog: /var/log/access.log}]\n",
                 "t.yaml:1:28: routers[0].httpAccessLog: not supported by meshd yet\n");
    expect_error("routers: [{protocol: http}]\n"
                 "announcers: [{kind: io.l5d.serversets}]\n",
                 "t.yaml:2:1: announcers: not supported by meshd yet\n");
    expect_error("routers: [{protocol: http}]\n"
                 "namers: [{kind: io.l5d.fs, rootDir: d, transformers: []}]\n",
                 "t.yaml:2:40: namers[0].transformers: not supported by meshd yet\n");
    expect_error("routers: [{protocol: http, client: {hostConnectionPool: {maxSize: 10}}}]\n",
                 "t.yaml:1:58: routers[0].client.hostConnectionPool.maxSize: not supported by "
                 "meshd yet\n");
}
END_TEST

START_TEST(test_cfg_unsupported_kinds)
{
    expect_error("routers:\n"
                 "- protocol: h2\n",
                 "t.yaml:2:13: routers[0].protocol: h2: not supported by meshd yet (supported: "
                 "http)\n");
    expect_error("routers: [{protocol: thrift}]\n",
                 "t.yaml:1:22: routers[0].protocol: thrift: not supported by meshd yet "
                 "(supported: http)\n");
    expect_error("routers: [{protocol: http, client: {loadBalancer: {kind: ewma}}}]\n",
                 "t.yaml:1:58: routers[0].client.loadBalancer.kind: ewma: not supported by meshd "
                 "yet (supported: p2c, roundRobin)\n");
    expect_error("routers: [{protocol: http, client: {failureAccrual: {kind: none}}}]\n",
                 "t.yaml:1:60: routers[0].client.failureAccrual.kind: none: not supported by "
                 "meshd yet (supported: io.l5d.consecutiveFailures)\n");
    expect_error("routers: [{protocol: http, client: {kind: io.l5d.static, configs: []}}]\n",
                 "t.yaml:1:43: routers[0].client.kind: io.l5d.static: not supported by meshd "
                 "yet (supported: io.l5d.global)\n");
    expect_error("routers: [{protocol: http, interpreter: {kind: io.l5d.namerd}}]\n",
                 "t.yaml:1:48: routers[0].interpreter.kind: io.l5d.namerd: not supported by "
                 "meshd yet (supported: default)\n");
    expect_error("routers: [{protocol: http}]\n"
                 "namers: [{kind: io.l5d.consul}]\n",
                 "t.yaml:2:17: namers[0].kind: io.l5d.consul: not supported by meshd yet "
                 "(supported: io.l5d.fs, io.l5d.k8s)\n");
    expect_error("routers: [{protocol: http}]\n"
                 "telemetry: [{kind: io.l5d.statsd}]\n",
                 "t.yaml:2:20: telemetry[0].kind: io.l5d.statsd: not supported by meshd yet "
                 "(supported: io.l5d.zipkin, io.l5d.prometheus, io.l5d.recentRequests)\n");
}
END_TEST

START_TEST(test_cfg_unsupported_usage)
{
    struct cfg *cfg = must_parse("routers: [{protocol: http}]\n"
                                 "usage: {enabled: false}\n");

    cfg_free(cfg);
    expect_error("routers: [{protocol: http}]\n"
                 "usage: {orgId: linkerd-examples-daemonset-zipkin}\n",
                 "t.yaml:2:9: usage.orgId: not supported by meshd yet\n");
    expect_error("routers: [{protocol: http}]\n"
                 "usage: {enabled: true}\n",
                 "t.yaml:2:18: usage.enabled: not supported by meshd yet (only false)\n");
}
END_TEST

/* io.l5d.k8s namers and interpreter transformers are kept raw, nested keys flattened. */
START_TEST(test_cfg_unsupported_kept_raw)
{
    struct cfg *cfg = must_parse("routers:\n"
                                 "- protocol: http\n"
                                 "  interpreter:\n"
                                 "    transformers:\n"
                                 "    - kind: io.l5d.replace\n"
                                 "      prefix: /%/replaced\n"
                                 "      path: /x\n"
                                 "      extra: {a: 1, b: [x, y]}\n"
                                 "namers:\n"
                                 "- {kind: io.l5d.k8s, experimental: true}\n");
    const struct cfg_transformer *t = &cfg->routers[0].transformers[0];

    ck_assert_str_eq(t->kind, "io.l5d.replace");
    ck_assert_str_eq(t->prefix, "/%/replaced");
    ck_assert_uint_eq(t->n_params, 4);
    ck_assert_str_eq(param(t->params, t->n_params, "path"), "/x");
    ck_assert_str_eq(param(t->params, t->n_params, "extra.a"), "1");
    ck_assert_str_eq(param(t->params, t->n_params, "extra.b[0]"), "x");
    ck_assert_str_eq(param(t->params, t->n_params, "extra.b[1]"), "y");
    ck_assert_str_eq(cfg->namers[0].kind, "io.l5d.k8s");
    ck_assert_str_eq(param(cfg->namers[0].params, cfg->namers[0].n_params, "experimental"), "true");
    cfg_free(cfg);

    /* aliases share nodes, so a small file can describe a huge tree: the walk is bounded */
    expect_error("routers:\n"
                 "- protocol: http\n"
                 "  interpreter:\n"
                 "    transformers:\n"
                 "    - kind: x\n"
                 "      a: &a [1, 2, 3, 4, 5, 6, 7, 8]\n"
                 "      b: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n"
                 "      c: &c [*b, *b, *b, *b, *b, *b, *b, *b]\n"
                 "      d: &d [*c, *c, *c, *c, *c, *c, *c, *c]\n"
                 "      e: [*d, *d, *d, *d, *d, *d, *d, *d]\n",
                 "t.yaml:9:10: routers[0].interpreter.transformers[0].d: too large (more than "
                 "4096 nodes)\n");

    expect_error("routers:\n"
                 "- protocol: http\n"
                 "  interpreter:\n"
                 "    transformers:\n"
                 "    - kind: x\n"
                 "      a: [[[[[[[[[[x]]]]]]]]]]\n",
                 "t.yaml:6:10: routers[0].interpreter.transformers[0].a: nested too deeply "
                 "(more than 8 levels)\n");
    /* the k8s namer's values are scalars: nesting is refused before it is walked */
    expect_error("routers: [{protocol: http}]\n"
                 "namers:\n"
                 "- kind: io.l5d.k8s\n"
                 "  labelSelector: [[[[[[[[[[x]]]]]]]]]]\n",
                 "t.yaml:4:18: namers[0].labelSelector: expected a string, number or boolean\n");

    /* raw, but the k8s namer's keys are still checked */
    expect_error("routers: [{protocol: http}]\n"
                 "namers: [{kind: io.l5d.k8s, hots: localhost}]\n",
                 "t.yaml:2:29: namers[0].hots: unknown key; allowed here: kind, prefix, host, "
                 "port, labelSelector, experimental, inCluster, tls, caCertPath, tokenPath\n");
}
END_TEST

/* ---- many errors --------------------------------------------------------------------- */

START_TEST(test_cfg_multi_errors_collected_in_order)
{
    expect_errors("admin:\n"
                  "  port: 99999\n"
                  "routers:\n"
                  "- protocol: http\n"
                  "  bogus: 1\n"
                  "  servers:\n"
                  "  - port: x\n"
                  "    ip: nowhere\n"
                  "  client:\n"
                  "    loadBalancer: {kind: heap}\n"
                  "telemetry:\n"
                  "- kind: io.l5d.zipkin\n"
                  "  sampleRate: 2\n"
                  "meshd:\n"
                  "  workers: many\n",
                  7,
                  "t.yaml:2:9: admin.port: expected an integer in 0..65535\n"
                  "t.yaml:5:3: routers[0].bogus: unknown key; allowed here: protocol, label, "
                  "dstPrefix, dtab, identifier, servers, client, service, maxHeadersKB, "
                  "maxInitialLineKB, bindingTimeoutMs, interpreter, tracePropagator, tracing\n"
                  "t.yaml:7:11: routers[0].servers[0].port: expected an integer\n"
                  "t.yaml:8:9: routers[0].servers[0].ip: expected an IP address (IPv4 or IPv6 "
                  "literal), not \"nowhere\"\n"
                  "t.yaml:10:26: routers[0].client.loadBalancer.kind: heap: not supported by "
                  "meshd yet (supported: p2c, roundRobin)\n"
                  "t.yaml:13:15: telemetry[0].sampleRate: expected a number in 0..1\n"
                  "t.yaml:15:12: meshd.workers: expected an integer\n");
}
END_TEST

START_TEST(test_cfg_multi_errors_truncated)
{
    struct strbuf sb = STRBUF_INIT;
    struct cfg_err err;
    size_t len;

    for (int i = 0; i < 300; i++)
        strbuf_addf(&sb, "key%d: 1\n", i);
    ck_assert_ptr_null(cfg_parse(sb.s, sb.len, "t.yaml", &err));
    ck_assert_uint_eq(err.n_errors, 301); /* 300 unknown keys, no router */
    len = strlen(err.text);
    ck_assert_uint_lt(len, sizeof(err.text));
    ck_assert_str_eq(err.text + len - 4, "...\n");
    ck_assert(strncmp(err.text, "t.yaml:1:1: key0: unknown key; allowed here: admin,", 50) == 0);
    strbuf_fini(&sb);
}
END_TEST

START_TEST(test_cfg_multi_errors_null_err)
{
    struct cfg_err err;
    struct cfg *cfg;

    ck_assert_ptr_null(cfg_parse("x: 1", 4, NULL, NULL));
    ck_assert_ptr_null(cfg_load("/nonexistent", NULL));
    cfg = cfg_parse("routers: [{protocol: http}]", 27, NULL, NULL);
    ck_assert_ptr_nonnull(cfg);
    ck_assert_str_eq(cfg->path, "<string>");
    cfg_free(cfg);
    /* only <len> bytes are read: no NUL needed, whatever follows is ignored */
    cfg = cfg_parse("routers: [{protocol: http}]\nbogus: 1", 28, "t.yaml", &err);
    ck_assert_ptr_nonnull(cfg);
    cfg_free(cfg);
    ck_assert_ptr_null(cfg_parse("x: 1", 4, NULL, &err));
    ck_assert_ptr_nonnull(strstr(err.text, "<string>:1:1: x: unknown key"));
    ck_assert_ptr_null(cfg_free(NULL));
}
END_TEST

/* ---- JSON ---------------------------------------------------------------------------- */

START_TEST(test_cfg_json_defaults)
{
    struct cfg *cfg = must_parse("routers: [{protocol: http}]\n"
                                 "meshd: {runDir: /run/x}\n");
    struct strbuf sb = STRBUF_INIT;

    cfg_to_json(cfg, &sb);
    ck_assert_str_eq(
        sb.s,
        "{\"admin\":{\"ip\":\"127.0.0.1\",\"port\":9990},"
        "\"routers\":[{\"protocol\":\"http\",\"label\":\"http\",\"dstPrefix\":\"/svc\","
        "\"dtab\":\"\",\"identifier\":[{\"kind\":\"io.l5d.header.token\",\"header\":\"Host\"}],"
        "\"servers\":[{\"ip\":\"127.0.0.1\",\"port\":4140,\"clearContext\":false,"
        "\"maxConcurrentRequests\":0}],"
        "\"client\":{\"loadBalancer\":{\"kind\":\"p2c\"},"
        "\"failureAccrual\":{\"kind\":\"io.l5d.consecutiveFailures\",\"failures\":5,"
        "\"backoff\":{\"kind\":\"jittered\",\"minMs\":5000,\"maxMs\":300000}},"
        "\"connectTimeoutMs\":1000,\"requestAttemptTimeoutMs\":0,"
        "\"hostConnectionPool\":{\"maxIdle\":1024,\"idleTimeMs\":60000}},"
        "\"service\":{\"totalTimeoutMs\":0},\"maxHeadersKB\":8,\"maxInitialLineKB\":4,"
        "\"bindingTimeoutMs\":10000,\"interpreter\":{\"kind\":\"default\",\"transformers\":[]},"
        "\"tracing\":{\"read\":[\"l5d\",\"b3multi\",\"b3\",\"traceparent\"],"
        "\"write\":[\"l5d\",\"b3multi\"],\"serverSpanService\":\"address\","
        "\"clientSpanService\":\"destination\"}}],"
        "\"namers\":[],\"telemetry\":[],"
        "\"meshd\":{\"workers\":0,\"runDir\":\"/run/x\",\"agentSocket\":\"ipc:///run/x/spans.ipc\","
        "\"logLevel\":\"notice\",\"maxHeaders\":100,\"headerTimeoutMs\":10000,"
        "\"idleTimeoutMs\":60000,\"drainTimeoutMs\":30000,\"maxConnections\":10000,"
        "\"bufferSize\":16384}}");
    strbuf_fini(&sb);
    cfg_free(cfg);
}
END_TEST

START_TEST(test_cfg_tracing_formats)
{
    struct cfg_err err;
    struct cfg *cfg = must_parse("routers:\n"
                                 "- protocol: http\n"
                                 "  label: a\n"
                                 "  tracePropagator: {kind: io.l5d.zipkin}\n"
                                 "- protocol: http\n"
                                 "  label: b\n"
                                 "  servers: [{port: 4141}]\n"
                                 "  tracing: {read: [b3, traceparent], write: [l5d, traceparent],\n"
                                 "            serverSpanService: router, clientSpanService: client}\n");

    ck_assert_uint_eq(cfg->routers[0].trace_read, CFG_TRACE_FMT_ALL);
    ck_assert_uint_eq(cfg->routers[0].trace_write, CFG_TRACE_FMT_B3_MULTI);
    ck_assert_uint_eq(cfg->routers[1].trace_read, CFG_TRACE_FMT_B3_SINGLE | CFG_TRACE_FMT_TRACEPARENT);
    ck_assert_uint_eq(cfg->routers[1].trace_write, CFG_TRACE_FMT_L5D | CFG_TRACE_FMT_TRACEPARENT);
    ck_assert(cfg->routers[1].span_server_by_router);
    ck_assert(cfg->routers[1].span_client_by_client);
    cfg_free(cfg);
    ck_assert_ptr_null(cfg_parse("routers: [{protocol: http, tracing: {write: [zipkin]}}]\n", 55,
                                 "t.yaml", &err));
    ck_assert_ptr_nonnull(strstr(err.text, "routers[0].tracing.write[0]: expected one of l5d"));
}
END_TEST

START_TEST(test_cfg_meshagent_section_kept_raw)
{
    struct cfg *cfg = must_parse("routers: [{protocol: http}]\n"
                                 "meshagent:\n"
                                 "  zipkin: {url: \"http://z:9411\"}\n"
                                 "  batch: {spans: 10}\n");

    ck_assert_uint_eq(cfg->n_meshagent, 2);
    ck_assert_str_eq(cfg->meshagent[0].key, "zipkin.url");
    ck_assert_str_eq(cfg->meshagent[0].value, "http://z:9411");
    ck_assert_str_eq(cfg->meshagent[1].key, "batch.spans");
    ck_assert_str_eq(cfg->meshagent[1].value, "10");
    cfg_free(cfg);
}
END_TEST

START_TEST(test_cfg_json_escapes_and_kinds)
{
    struct cfg *cfg = must_parse("routers:\n"
                                 "- protocol: http\n"
                                 "  label: \"a\\\"b\"\n"
                                 "  dtab: |\n"
                                 "    /svc => /$/inet/127.0.0.1/1;\n"
                                 "telemetry:\n"
                                 "- {kind: io.l5d.zipkin, sampleRate: 0.001}\n"
                                 "- {kind: io.l5d.recentRequests, sampleRate: 0.25}\n"
                                 "namers:\n"
                                 "- {kind: io.l5d.fs, rootDir: /d}\n");
    struct strbuf sb = STRBUF_INIT;

    cfg_to_json(cfg, &sb);
    ck_assert_ptr_nonnull(strstr(sb.s, "\"label\":\"a\\\"b\""));
    ck_assert_ptr_nonnull(strstr(sb.s, "\"dtab\":\"/svc => /$/inet/127.0.0.1/1;\\n\""));
    ck_assert_ptr_nonnull(strstr(sb.s, "{\"kind\":\"io.l5d.zipkin\",\"host\":\"localhost\","
                                       "\"port\":9410,\"sampleRate\":0.001}"));
    ck_assert_ptr_nonnull(strstr(sb.s, "{\"kind\":\"io.l5d.recentRequests\",\"sampleRate\":0.25,"
                                       "\"capacity\":10}"));
    ck_assert_ptr_nonnull(strstr(sb.s,
                                 "\"namers\":[{\"kind\":\"io.l5d.fs\",\"prefix\":\"io.l5d.fs\","
                                 "\"rootDir\":\"/d\"}]"));
    strbuf_fini(&sb);
    cfg_free(cfg);
}
END_TEST

/* JSON is YAML: the rendering loads back into the same effective config. */
START_TEST(test_cfg_json_round_trip)
{
    struct strbuf a = STRBUF_INIT, b = STRBUF_INIT;
    struct cfg *cfg = must_parse(walkthrough), *again;

    cfg_to_json(cfg, &a);
    again = must_parse(a.s);
    cfg_to_json(again, &b);
    ck_assert_str_eq(a.s, b.s);
    strbuf_fini(&a);
    strbuf_fini(&b);
    cfg_free(cfg);
    cfg_free(again);
}
END_TEST

static Suite *
cfg_suite(void)
{
    Suite *s = suite_create("cfg");
    TCase *tc;

    tc = tcase_create("defaults");
    tcase_add_test(tc, test_cfg_defaults_filled_in);
    tcase_add_test(tc, test_cfg_defaults_run_dir_and_agent_socket);
    tcase_add_test(tc, test_cfg_defaults_per_kind);
    tcase_add_test(tc, test_cfg_defaults_null_is_absent);
    suite_add_tcase(s, tc);

    tc = tcase_create("linkerd");
    tcase_add_test(tc, test_cfg_linkerd_walkthrough_loads);
    tcase_add_test(tc, test_cfg_linkerd_router_keys);
    tcase_add_test(tc, test_cfg_linkerd_namers_telemetry_meshd);
    tcase_add_test(tc, test_cfg_linkerd_yaml_features);
    tcase_add_test(tc, test_cfg_linkerd_examples_load);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_test(tc, test_cfg_error_unknown_key);
    tcase_add_test(tc, test_cfg_error_unknown_kind);
    tcase_add_test(tc, test_cfg_error_wrong_types);
    tcase_add_test(tc, test_cfg_error_ranges);
    tcase_add_test(tc, test_cfg_error_bad_values);
    tcase_add_test(tc, test_cfg_error_missing_required);
    tcase_add_test(tc, test_cfg_error_no_router);
    tcase_add_test(tc, test_cfg_error_duplicates);
    tcase_add_test(tc, test_cfg_error_yaml_syntax);
    tcase_add_test(tc, test_cfg_error_unreadable_file);
    suite_add_tcase(s, tc);

    tc = tcase_create("unsupported");
    tcase_add_test(tc, test_cfg_unsupported_keys);
    tcase_add_test(tc, test_cfg_unsupported_kinds);
    tcase_add_test(tc, test_cfg_unsupported_usage);
    tcase_add_test(tc, test_cfg_unsupported_kept_raw);
    suite_add_tcase(s, tc);

    tc = tcase_create("multi");
    tcase_add_test(tc, test_cfg_multi_errors_collected_in_order);
    tcase_add_test(tc, test_cfg_multi_errors_truncated);
    tcase_add_test(tc, test_cfg_multi_errors_null_err);
    suite_add_tcase(s, tc);

    tc = tcase_create("json");
    tcase_add_test(tc, test_cfg_json_defaults);
    tcase_add_test(tc, test_cfg_json_escapes_and_kinds);
    tcase_add_test(tc, test_cfg_tracing_formats);
    tcase_add_test(tc, test_cfg_meshagent_section_kept_raw);
    tcase_add_test(tc, test_cfg_json_round_trip);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(cfg_suite)
