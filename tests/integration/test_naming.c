/* tests/integration/test_naming.c - the io.l5d.k8s namer in a real meshd against a fake
 * Kubernetes API (tests/tools/fake_k8s.py, real JSON shapes, chunked watch streams), and
 * the admin delegator. Backends are mesh-testsrv processes on 127.0.0.11-13, one per
 * "pod", all on the same port as pods of one service are. */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/clock.h"
#include "tests/lib/check_main.h"
#include "tests/lib/harness.h"

static int api_port, ctl_port, proxy_port, admin_port, pod_port; /* ctl: /control/ */
static const char *tmpdir;
static struct harness_meshd md;

static void
start_pod(const char *ip, const char *name)
{
    char portstr[16], logp[600];
    const char *bin = getenv("TESTSRV");
    char *argv[] = {(char *) (bin ? bin : "mesh-testsrv"),
                    "--name",
                    (char *) name,
                    "--ip",
                    (char *) ip,
                    portstr,
                    NULL};

    snprintf(portstr, sizeof(portstr), "%d", pod_port);
    snprintf(logp, sizeof(logp), "%s/pod-%s.log", tmpdir, name);
    (void) harness_spawn(argv, logp);
}

static void
start_api(void)
{
    char portstr[16], logp[600];
    const char *script = getenv("FAKE_K8S");
    char *argv[] = {(char *) (script ? script : "tests/tools/fake_k8s.py"), "--port", portstr,
                    NULL}; /* executable, #!/usr/bin/env python3 */

    snprintf(portstr, sizeof(portstr), "%d", api_port);
    snprintf(logp, sizeof(logp), "%s/fake_k8s.log", tmpdir);
    (void) harness_spawn(argv, logp);
    ck_assert_int_eq(harness_wait_port(api_port, 10000), 0);
}

/* POST /control/<what> to the fake API. */
static void
k8s_ctl(const char *what, const char *json)
{
    char req[4096];
    struct harness_resp r;

    snprintf(req, sizeof(req),
             "POST /control/%s HTTP/1.1\r\nHost: k8s\r\nContent-Type: application/json\r\n"
             "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
             what, strlen(json), json);
    ck_assert_int_eq(harness_http(ctl_port, req, &r), 0);
    ck_assert_int_eq(r.status, 200);
    harness_resp_fini(&r);
}

/* The Endpoints of default/web: one pod per letter of <pods> ("ab": 127.0.0.11 on node-a
 * and 127.0.0.12 on node-b). */
static void
set_pods(const char *pods)
{
    char json[2048];
    size_t len;

    len = (size_t) snprintf(json, sizeof(json),
                            "{\"ns\":\"default\",\"name\":\"web\",\"subsets\":[{\"addresses\":[");
    for (const char *p = pods; *p; p++)
        len += (size_t) snprintf(json + len, sizeof(json) - len,
                                 "%s{\"ip\":\"127.0.0.%d\",\"nodeName\":\"node-%c\","
                                 "\"targetRef\":{\"kind\":\"Pod\",\"name\":\"web-%c\"}}",
                                 p == pods ? "" : ",", 11 + (*p - 'a'), *p, *p);
    snprintf(json + len, sizeof(json) - len,
             "],\"ports\":[{\"name\":\"http\",\"port\":%d,\"protocol\":\"TCP\"}]}]}", pod_port);
    if (pods[0] == '\0')
        snprintf(json, sizeof(json), "{\"ns\":\"default\",\"name\":\"web\",\"subsets\":[]}");
    k8s_ctl("endpoints", json);
}

static long
api_stat(const char *key)
{
    char body[512], pat[64];
    const char *p;

    ck_assert_int_eq(harness_get(ctl_port, "k8s", "/control/stats", body, sizeof(body)), 200);
    snprintf(pat, sizeof(pat), "\"%s\": ", key);
    p = strstr(body, pat);
    ck_assert_ptr_nonnull(p);
    return strtol(p + strlen(pat), NULL, 10);
}

/* Letters of the pods that answered a batch of requests for Host: web, sorted; "" when
 * none answered. */
static void
batch(char *out, size_t len, int n)
{
    bool seen[26] = {false};
    size_t k = 0;

    for (int i = 0; i < n; i++) {
        char body[256];

        if (harness_get(proxy_port, "web", "/", body, sizeof(body)) == 200 && body[0] >= 'a' &&
            body[0] <= 'z' && body[1] == ' ')
            seen[body[0] - 'a'] = true;
    }
    for (int i = 0; i < 26 && k + 1 < len; i++)
        if (seen[i])
            out[k++] = (char) ('a' + i);
    out[k] = '\0';
}

/* Waits until a batch of requests is answered by exactly the pods <want>. Returns the ms
 * it took, or fails the test after <timeout_ms>. */
static long
wait_for(const char *want, long timeout_ms)
{
    uint64_t start = clock_mono_us();
    char got[27] = "";

    for (;;) {
        long ms = (long) ((clock_mono_us() - start) / 1000);

        batch(got, sizeof(got), 16);
        if (strcmp(got, want) == 0)
            return ms;
        ck_assert_msg(ms < timeout_ms, "after %ld ms: answered by \"%s\", want \"%s\"", ms, got,
                      want);
        usleep(20000);
    }
}

static void
start_meshd(const char *port_seg)
{
    char yaml[2048];

    snprintf(yaml, sizeof(yaml),
             "admin: {ip: 127.0.0.1, port: %d}\n"
             "namers:\n"
             "- kind: io.l5d.k8s\n"
             "  host: 127.0.0.1\n"
             "  port: %d\n"
             "routers:\n"
             "- protocol: http\n"
             "  label: out\n"
             "  dtab: |\n"
             "    /k8s => /#/io.l5d.k8s/default;\n"
             "    /svc => /k8s/%s;\n"
             "    /svc/split => 3 * /k8s/http/web & 1 * /k8s/http/other;\n"
             "    /svc/fallback => /k8s/grpc/web | /k8s/http/web;\n"
             "  servers:\n"
             "  - {ip: 127.0.0.1, port: %d}\n"
             "meshd: {workers: 2, drainTimeoutMs: 2000, logLevel: info}\n",
             admin_port, api_port, port_seg, proxy_port);
    ck_assert_msg(harness_meshd_start(&md, yaml, admin_port) == 0, "meshd did not start");
    ck_assert_int_eq(harness_wait_port(proxy_port, 5000), 0);
}

static void
setup(void)
{
    tmpdir = harness_tmpdir();
    api_port = harness_free_port();
    ctl_port = api_port;
    proxy_port = harness_free_port();
    admin_port = harness_free_port();
    pod_port = harness_free_port();
    start_api();
    start_pod("127.0.0.11", "a");
    start_pod("127.0.0.12", "b");
    start_pod("127.0.0.13", "c");
}

static void
teardown(void)
{
    char bad[1024] = "";
    bool clean = true;

    if (md.pid > 0 && kill(md.pid, 0) == 0)
        (void) harness_signal_wait(md.pid, SIGTERM, 10000);
    if (md.log_path[0])
        clean = harness_log_clean(md.log_path, bad, sizeof(bad));
    if (!clean)
        harness_print_log(md.log_path);
    harness_cleanup();
    memset(&md, 0, sizeof(md));
    ck_assert_msg(clean, "meshd log: %s", bad);
}

START_TEST(test_naming_k8s_follows_scale_up_and_down)
{
    long ms;

    set_pods("a");
    start_meshd("http");
    (void) wait_for("a", 5000); /* first list */
    set_pods("ab");
    ms = wait_for("ab", 2500);
    fprintf(stderr, "scale-up followed in %ld ms\n", ms);
    set_pods("bc");
    ms = wait_for("bc", 2500);
    set_pods("c");
    ms = wait_for("c", 2500);
    fprintf(stderr, "scale-down followed in %ld ms\n", ms);
}
END_TEST

START_TEST(test_naming_k8s_follows_a_dropped_watch)
{
    long ms;

    set_pods("a");
    start_meshd("http");
    (void) wait_for("a", 5000);
    k8s_ctl("drop", "{}"); /* every stream cut mid-way, no last chunk */
    set_pods("b");         /* happens while the watches reconnect */
    ms = wait_for("b", 2500);
    fprintf(stderr, "dropped watch: change followed in %ld ms\n", ms);
    k8s_ctl("drop", "{}");
    usleep(200000);
    set_pods("ab");
    (void) wait_for("ab", 2500);
}
END_TEST

/* The master resolves each name once for all workers (proxy/namesvc.c): however many
 * workers served it, and the delegator too, the API sees one list and one watch. */
START_TEST(test_naming_k8s_one_watch_for_all_workers)
{
    char body[8192];

    set_pods("a");
    start_meshd("http");
    (void) wait_for("a", 5000);
    for (int i = 0; i < 40; i++) /* new connections: both workers get some */
        ck_assert_int_eq(harness_get(proxy_port, "web", "/", NULL, 0), 200);
    ck_assert_int_eq(harness_get(admin_port, "x",
                                 "/delegator.json?path=/svc/web&namespace=out", body,
                                 sizeof(body)),
                     200);
    ck_assert_msg(strstr(body, "127.0.0.11") != NULL, "%s", body);
    ck_assert_int_eq(api_stat("open"), 1);
    ck_assert_int_eq(api_stat("lists"), 1);
    ck_assert_int_eq(api_stat("watches"), 1);
    set_pods("b"); /* and the one watch's change reaches every worker */
    (void) wait_for("b", 2500);
    ck_assert_int_eq(api_stat("open"), 1);
}
END_TEST

static void
gone_case(const char *mode)
{
    char json[64];
    long gone_before, lists_before, ms;

    snprintf(json, sizeof(json), "{\"mode\":\"%s\"}", mode);
    k8s_ctl("gone_mode", json);
    set_pods("a");
    start_meshd("http");
    (void) wait_for("a", 5000);
    gone_before = api_stat("gone");
    lists_before = api_stat("lists");
    k8s_ctl("expire", "{}"); /* history gone: watching from our version is 410 */
    set_pods("c");
    ms = wait_for("c", 2500);
    fprintf(stderr, "410 (%s): re-listed and followed in %ld ms\n", mode, ms);
    ck_assert_int_gt(api_stat("gone"), gone_before);
    ck_assert_int_gt(api_stat("lists"), lists_before);
}

START_TEST(test_naming_k8s_gone_status_relists)
{
    gone_case("status");
}
END_TEST

START_TEST(test_naming_k8s_gone_event_relists)
{
    gone_case("event");
}
END_TEST

START_TEST(test_naming_k8s_error_event_keeps_endpoints)
{
    set_pods("ab");
    start_meshd("http");
    (void) wait_for("ab", 5000);
    k8s_ctl("error", "{\"code\":500,\"message\":\"etcd is sad\"}");
    (void) wait_for("ab", 1000); /* an ERROR event keeps the state */
    set_pods("a");
    (void) wait_for("a", 2500);
}
END_TEST

/* GET /delegator.json?<query>, parsed; polls while some name is still pending (the
 * master's naming starts its watches on the first look). */
static json_object *
delegator_json(const char *query)
{
    char path[1024], *body = malloc(1 << 20);
    uint64_t deadline = clock_mono_us() + 5000000;
    json_object *o = NULL;

    snprintf(path, sizeof(path), "/delegator.json?%s", query);
    for (;;) {
        struct json_tokener *tok = json_tokener_new_ex(1000);

        ck_assert_int_eq(harness_get(admin_port, "admin", path, body, 1 << 20), 200);
        o = json_tokener_parse_ex(tok, body, (int) strlen(body));
        json_tokener_free(tok);
        ck_assert_msg(o != NULL, "not JSON: %.300s", body);
        if (strstr(body, "\"pending\"") == NULL || clock_mono_us() > deadline)
            break;
        json_object_put(o);
        usleep(100000);
    }
    free(body);
    return o;
}

static json_object *
jget(json_object *o, const char *key)
{
    json_object *v = NULL;

    ck_assert_msg(json_object_object_get_ex(o, key, &v), "no \"%s\" in %.400s", key,
                  json_object_to_json_string(o));
    return v;
}

static const char *
jstr(json_object *o, const char *key)
{
    return json_object_get_string(jget(o, key));
}

/* The first node of type <type> in <o>, depth first. */
static json_object *
find_type(json_object *o, const char *type)
{
    json_object *v;

    if (json_object_is_type(o, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(o); i++)
            if ((v = find_type(json_object_array_get_idx(o, i), type)) != NULL)
                return v;
        return NULL;
    }
    if (!json_object_is_type(o, json_type_object))
        return NULL;
    if (json_object_object_get_ex(o, "type", &v) && strcmp(json_object_get_string(v), type) == 0)
        return o;
    json_object_object_foreach(o, key, val)
    {
        (void) key;
        if ((v = find_type(val, type)) != NULL)
            return v;
    }
    return NULL;
}

START_TEST(test_naming_delegator_union_and_alt)
{
    json_object *t, *u, *b, *leaf, *addrs, *alt;

    set_pods("ab");
    start_meshd("http");
    t = delegator_json("path=/svc/split&namespace=out");
    u = find_type(t, "union");
    ck_assert_ptr_nonnull(u);
    ck_assert_str_eq(jstr(jget(u, "dentry"), "prefix"), "/svc/split");
    ck_assert_int_eq((int) json_object_array_length(jget(u, "union")), 2);
    b = json_object_array_get_idx(jget(u, "union"), 0);
    ck_assert(json_object_get_double(jget(b, "weight")) == 3.0);
    leaf = find_type(jget(b, "tree"), "leaf");
    ck_assert_ptr_nonnull(leaf);
    ck_assert_str_eq(jstr(jget(leaf, "bound"), "id"), "/#/io.l5d.k8s/default/http/web");
    addrs = jget(jget(jget(leaf, "bound"), "addr"), "addrs");
    ck_assert_int_eq((int) json_object_array_length(addrs), 2);
    ck_assert_str_eq(jstr(json_object_array_get_idx(addrs, 0), "ip"), "127.0.0.11");
    ck_assert_str_eq(jstr(jget(json_object_array_get_idx(addrs, 0), "meta"), "nodeName"), "node-a");
    b = json_object_array_get_idx(jget(u, "union"), 1);
    ck_assert(json_object_get_double(jget(b, "weight")) == 1.0);
    json_object_put(t);

    /* an Alt whose first branch is Neg (no port "grpc") falls back to the second */
    t = delegator_json("path=/svc/fallback");
    alt = find_type(t, "alt");
    ck_assert_ptr_nonnull(alt);
    alt = find_type(jget(t, "delegate"), "alt");
    ck_assert_msg(strstr(json_object_to_json_string(t), "\"neg\"") != NULL, "%.400s",
                  json_object_to_json_string(t));
    leaf = find_type(t, "leaf");
    ck_assert_ptr_nonnull(leaf);
    ck_assert_str_eq(jstr(jget(leaf, "bound"), "id"), "/#/io.l5d.k8s/default/http/web");
    json_object_put(t);

    /* dentries given with the request apply to it only */
    t = delegator_json("path=/svc/web&dtab=%2Fsvc%2Fweb%3D%3E%2F%24%2Finet%2F127.0.0.1%2F1");
    ck_assert_str_eq(jstr(jget(find_type(t, "leaf"), "bound"), "id"), "/$/inet/127.0.0.1/1");
    json_object_put(t);
}
END_TEST

START_TEST(test_naming_k8s_api_away_serves_last_endpoints)
{
    uint64_t until;
    json_object *t;
    char *state;

    set_pods("a");
    start_meshd("http");
    (void) wait_for("a", 5000);
    json_object_put(delegator_json("path=/svc/web")); /* the master watches too */
    k8s_ctl("down", "{\"down\":true}");               /* streams cut, every request refused */
    set_pods("b");
    until = clock_mono_us() + 1500000;
    while (clock_mono_us() < until) {
        char got[27];

        batch(got, sizeof(got), 4);
        ck_assert_str_eq(got, "a"); /* the last known endpoints */
        usleep(50000);
    }
    t = delegator_json("path=/svc/web");
    state = strstr(json_object_to_json_string(t), "API away");
    ck_assert_msg(state != NULL, "%.600s", json_object_to_json_string(t));
    json_object_put(t);
    k8s_ctl("down", "{\"down\":false}");
    (void) wait_for("b", 12000); /* back-off: at most 10 s, jittered */
}
END_TEST

START_TEST(test_naming_k8s_numeric_port_maps_through_service)
{
    char json[512];

    snprintf(json, sizeof(json),
             "{\"ns\":\"default\",\"name\":\"web\",\"ports\":[{\"name\":\"web\",\"port\":80,"
             "\"targetPort\":\"http\",\"protocol\":\"TCP\"}]}");
    k8s_ctl("service", json);
    set_pods("ab");
    start_meshd("80");
    (void) wait_for("ab", 5000);
}
END_TEST

/* ---- in-cluster: HTTPS with the service account ------------------------------------ */

/* Whether the file at <path> contains <needle>. */
static bool
log_has(const char *path, const char *needle)
{
    char buf[65536];
    FILE *f = fopen(path, "re");
    size_t n;

    if (f == NULL)
        return false;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    (void) fclose(f);
    buf[n] = '\0';
    return strstr(buf, needle) != NULL;
}

/* Makes a CA and a server certificate for 127.0.0.1 (openssl CLI) in <dir>: ca.crt,
 * srv.crt, srv.key; and a second, unrelated CA (other.crt). */
static void
make_certs(const char *dir)
{
    char cmd[4096];

    snprintf(cmd, sizeof(cmd),
             "cd '%s' && "
             "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 "
             "-subj /CN=test-k8s-ca 2>/dev/null && "
             "openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.crt "
             "-days 2 -subj /CN=other-ca 2>/dev/null && "
             "openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr "
             "-subj /CN=kubernetes 2>/dev/null && "
             "printf 'subjectAltName=IP:127.0.0.1,DNS:kubernetes.default.svc\n' > ext && "
             "openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
             "-out srv.crt -days 2 -extfile ext 2>/dev/null",
             dir);
    ck_assert_msg(system(cmd) == 0, "openssl could not make the test certificates");
}

static void
start_api_tls(const char *token)
{
    char portstr[16], cportstr[16], logp[600], cert[600], key[600];
    const char *script = getenv("FAKE_K8S");
    char *argv[] = {(char *) (script ? script : "tests/tools/fake_k8s.py"),
                    "--port",
                    portstr,
                    "--control-port",
                    cportstr,
                    "--tls-cert",
                    cert,
                    "--tls-key",
                    key,
                    "--token",
                    (char *) token,
                    NULL};

    api_port = harness_free_port(); /* beside the fixture's plain fake API */
    ctl_port = harness_free_port();
    snprintf(portstr, sizeof(portstr), "%d", api_port);
    snprintf(cportstr, sizeof(cportstr), "%d", ctl_port);
    snprintf(cert, sizeof(cert), "%s/srv.crt", tmpdir);
    snprintf(key, sizeof(key), "%s/srv.key", tmpdir);
    snprintf(logp, sizeof(logp), "%s/fake_k8s_tls.log", tmpdir);
    (void) harness_spawn(argv, logp);
    ck_assert_int_eq(harness_wait_port(ctl_port, 10000), 0);
}

static void
start_meshd_in_cluster(const char *ca)
{
    char yaml[2048], env_port[16];

    snprintf(env_port, sizeof(env_port), "%d", api_port);
    setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1", 1); /* inherited by meshd */
    setenv("KUBERNETES_SERVICE_PORT", env_port, 1);
    snprintf(yaml, sizeof(yaml),
             "admin: {ip: 127.0.0.1, port: %d}\n"
             "namers:\n"
             "- kind: io.l5d.k8s\n"
             "  inCluster: true\n"
             "  caCertPath: %s/%s\n"
             "  tokenPath: %s/token\n"
             "routers:\n"
             "- protocol: http\n"
             "  label: out\n"
             "  dtab: /svc => /#/io.l5d.k8s/default/http;\n"
             "  bindingTimeoutMs: 1000\n"
             "  servers:\n"
             "  - {ip: 127.0.0.1, port: %d}\n"
             "meshd: {workers: 1, drainTimeoutMs: 2000, logLevel: info}\n",
             admin_port, tmpdir, ca, tmpdir, proxy_port);
    ck_assert_msg(harness_meshd_start(&md, yaml, admin_port) == 0, "meshd did not start");
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
    ck_assert_int_eq(harness_wait_port(proxy_port, 5000), 0);
}

/* The namer reaches the API server over HTTPS with the service account's CA and token,
 * follows a scale-up there, and picks up a rotated token. */
START_TEST(test_naming_k8s_in_cluster_https)
{
    char tok[600];

    make_certs(tmpdir);
    snprintf(tok, sizeof(tok), "%s/token", tmpdir);
    harness_write_file(tok, "s3cret-token\n");
    start_api_tls("s3cret-token");
    set_pods("a");
    start_meshd_in_cluster("ca.crt");
    (void) wait_for("a", 5000);
    set_pods("ab");
    (void) wait_for("ab", 2500);
    ck_assert_int_eq(api_stat("unauthorized"), 0);
    ck_assert_int_ge(api_stat("watches"), 1);
}
END_TEST

/* A certificate the configured CA did not sign is refused, with the reason in the log and
 * the name unresolved (503), never served from an unverified API. */
START_TEST(test_naming_k8s_in_cluster_wrong_ca_refused)
{
    char tok[600], body[512];
    int st = 0;

    make_certs(tmpdir);
    snprintf(tok, sizeof(tok), "%s/token", tmpdir);
    harness_write_file(tok, "s3cret-token\n");
    start_api_tls("s3cret-token");
    set_pods("a");
    start_meshd_in_cluster("other.crt");
    /* the first request for the name starts its watch */
    st = harness_get(proxy_port, "web", "/", body, sizeof(body));
    ck_assert_msg(st == 503 || st == 504, "status %d: %s", st, body);
    for (int i = 0; i < 50 && !log_has(md.log_path, "certificate"); i++)
        usleep(50000);
    ck_assert_msg(log_has(md.log_path, "the server's certificate: unable to get local issuer"),
                  "no certificate failure in meshd's log");
    /* the delegator says why the name is still pending */
    {
        char tree[4096] = "";

        for (int i = 0; i < 50 && strstr(tree, "k8s: TLS to 127.0.0.1") == NULL; i++) {
            ck_assert_int_eq(harness_get(admin_port, "admin", "/delegator.json?path=/svc/web", tree,
                                         sizeof(tree)),
                             200);
            usleep(50000);
        }
        ck_assert_msg(strstr(tree, "k8s: TLS to 127.0.0.1") != NULL, "%s", tree);
    }
    ck_assert_int_eq(api_stat("lists"), 0);
}
END_TEST

/* A token the API server does not accept: 401, and the log says so. */
START_TEST(test_naming_k8s_in_cluster_bad_token)
{
    char tok[600];

    make_certs(tmpdir);
    snprintf(tok, sizeof(tok), "%s/token", tmpdir);
    harness_write_file(tok, "wrong-token\n");
    start_api_tls("s3cret-token");
    set_pods("a");
    start_meshd_in_cluster("ca.crt");
    (void) harness_get(proxy_port, "web", "/", NULL, 0); /* starts the watch: 503 */
    for (int i = 0; i < 50 && api_stat("unauthorized") == 0; i++)
        usleep(50000);
    ck_assert_int_ge(api_stat("unauthorized"), 1);
    for (int i = 0; i < 50 && !log_has(md.log_path, "HTTP 401"); i++)
        usleep(50000);
    ck_assert_msg(log_has(md.log_path, "HTTP 401"), "no 401 in meshd's log");
    /* the kubelet rotates the token: the next request reads the new file */
    harness_write_file(tok, "s3cret-token\n");
    (void) wait_for("a", 15000);
}
END_TEST

static Suite *
naming_suite(void)
{
    Suite *s = suite_create("naming");
    TCase *tc = tcase_create("k8s");

    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_naming_k8s_follows_scale_up_and_down);
    tcase_add_test(tc, test_naming_k8s_one_watch_for_all_workers);
    tcase_add_test(tc, test_naming_k8s_follows_a_dropped_watch);
    tcase_add_test(tc, test_naming_k8s_gone_status_relists);
    tcase_add_test(tc, test_naming_k8s_gone_event_relists);
    tcase_add_test(tc, test_naming_k8s_error_event_keeps_endpoints);
    tcase_add_test(tc, test_naming_k8s_api_away_serves_last_endpoints);
    tcase_add_test(tc, test_naming_k8s_numeric_port_maps_through_service);
    tcase_add_test(tc, test_naming_delegator_union_and_alt);
    tcase_add_test(tc, test_naming_k8s_in_cluster_https);
    tcase_add_test(tc, test_naming_k8s_in_cluster_wrong_ca_refused);
    tcase_add_test(tc, test_naming_k8s_in_cluster_bad_token);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(naming_suite)
