/* tests/integration/test_agent.c - meshagent as a real process: the test pushes span
 * records to its socket with nanomsg (as meshd workers do), then reads the local store's
 * Zipkin query API, or what a Zipkin HTTP sink (tests/lib/zipkin_sink.c, a thread of the
 * test) received, and the agent's books on /admin/metrics.json. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nanomsg/nn.h>
#include <nanomsg/pipeline.h>

#include "proto/span.h"
#include "tests/lib/check_main.h"
#include "tests/lib/harness.h"
#include "tests/lib/zipkin_sink.h"

static const char *dir;
static int admin_port, sink_port;
static char cfg_path[600], log_path[600], run_dir[600], ipc_url[700];
static pid_t agent_pid;
static int push_sock = -1;
static struct zipkin_sink *sink;

static long
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void
write_cfg(const char *extra)
{
    char yaml[2048];

    snprintf(yaml, sizeof(yaml),
             "routers:\n"
             "- protocol: http\n"
             "  servers: [{port: 4140}]\n"
             "%s"
             "meshd: {runDir: %s}\n",
             extra ? extra : "", run_dir);
    harness_write_file(cfg_path, yaml);
}

static void
setup(void)
{
    dir = harness_tmpdir();
    admin_port = harness_free_port();
    sink_port = harness_free_port();
    snprintf(cfg_path, sizeof(cfg_path), "%s/meshd.yaml", dir);
    snprintf(log_path, sizeof(log_path), "%s/meshagent.log", dir);
    snprintf(run_dir, sizeof(run_dir), "%s/run", dir); /* created by the agent */
    snprintf(ipc_url, sizeof(ipc_url), "ipc://%s/spans.ipc", run_dir);
    write_cfg(NULL);
    agent_pid = 0;
    push_sock = -1;
    sink = NULL;
}

static void
teardown(void)
{
    if (push_sock >= 0)
        nn_close(push_sock);
    push_sock = -1;
    if (agent_pid > 0)
        harness_kill(agent_pid);
    agent_pid = 0;
    zipkin_sink_free(sink);
    sink = NULL;
    harness_cleanup();
}

/* Sets the agent's environment (inherited by harness_spawn): admin port, fast window. */
static void
agent_env(void)
{
    char port[16];

    snprintf(port, sizeof(port), "%d", admin_port);
    setenv("MESHAGENT_ADMIN_PORT", port, 1);
    setenv("MESHAGENT_WINDOW_IDLE_MS", "50", 1);
    setenv("MESHAGENT_BATCH_INTERVAL_MS", "50", 1);
    setenv("MESHAGENT_RETRY_MIN_MS", "20", 1);
    setenv("MESHAGENT_RETRY_MAX_MS", "200", 1);
    setenv("MESHAGENT_LOG_LEVEL", "info", 1);
}

static void
use_sink(void)
{
    char url[128];

    snprintf(url, sizeof(url), "http://localhost:%d/api/v2/spans", sink_port);
    setenv("MESHAGENT_ZIPKIN_URL", url, 1);
}

static pid_t
agent_spawn(void)
{
    const char *bin = getenv("MESHAGENT");
    char *argv[] = {(char *) (bin ? bin : "meshagent"), cfg_path, NULL};

    return harness_spawn(argv, log_path);
}

static void
agent_start(void)
{
    long deadline = now_ms() + 10000;

    agent_pid = agent_spawn();
    while (now_ms() < deadline) {
        char body[64];

        if (harness_get(admin_port, "a", "/admin/ping", body, sizeof(body)) == 200)
            return;
        if (waitpid(agent_pid, NULL, WNOHANG) == agent_pid)
            break;
        usleep(20000);
    }
    harness_print_log(log_path);
    ck_abort_msg("meshagent did not start");
}

/* SIGTERM: the agent must flush, exit 0 and leave a clean log. */
static void
agent_stop_clean(void)
{
    char bad[1024];
    int st = harness_signal_wait(agent_pid, SIGTERM, 15000);

    agent_pid = 0;
    if (!(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0) ||
        !harness_log_clean(log_path, bad, sizeof(bad)))
        harness_print_log(log_path);
    ck_assert_msg(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit status %d", st);
    ck_assert_msg(harness_log_clean(log_path, bad, sizeof(bad)), "agent log: %s", bad);
}

static long long
metric(const char *name)
{
    char full[256];

    snprintf(full, sizeof(full), "meshagent/%s", name);
    return harness_metric(admin_port, full);
}

static bool
wait_metric(const char *name, long long want, int timeout_ms)
{
    long deadline = now_ms() + timeout_ms;
    long long v = -1;

    while (now_ms() < deadline) {
        v = metric(name);
        if (v == want)
            return true;
        usleep(20000);
    }
    fprintf(stderr, "metric %s: %lld, wanted %lld\n", name, v, want);
    harness_print_log(log_path);
    return false;
}

static bool
wait_metric_at_least(const char *name, long long want, int timeout_ms)
{
    long deadline = now_ms() + timeout_ms;

    while (now_ms() < deadline) {
        if (metric(name) >= want)
            return true;
        usleep(20000);
    }
    fprintf(stderr, "metric %s: %lld, wanted at least %lld\n", name, metric(name), want);
    return false;
}

static void
assert_books(void)
{
    ck_assert_int_eq(metric("books/unaccounted"), 0);
}

/* ---- spans ------------------------------------------------------------------------------ */

static void
push_open(void)
{
    int tmo = 5000;

    push_sock = nn_socket(AF_SP, NN_PUSH);
    ck_assert_int_ge(push_sock, 0);
    nn_setsockopt(push_sock, NN_SOL_SOCKET, NN_SNDTIMEO, &tmo, sizeof(tmo));
    ck_assert_int_ge(nn_connect(push_sock, ipc_url), 0);
}

static void
push_raw(const void *buf, size_t len)
{
    if (push_sock < 0)
        push_open();
    ck_assert_int_eq(nn_send(push_sock, buf, len, 0), (int) len);
}

static void
make_span(struct span *s, uint64_t trace, uint64_t id, uint64_t parent, enum span_kind kind,
          const char *service, const char *name, uint32_t flags)
{
    static const uint8_t ip[4] = {127, 0, 0, 1};

    memset(s, 0, sizeof(*s));
    s->trace_lo = trace;
    s->span_id = id;
    s->parent_id = parent;
    s->kind = kind;
    s->flags = flags;
    s->timestamp_us = (uint64_t) time(NULL) * 1000000u + id % 1000u;
    s->duration_us = 1000 + id % 100u;
    s->name = name;
    s->name_len = strlen(name);
    s->local.service = service;
    s->local.service_len = strlen(service);
    memcpy(s->local.ip, ip, 4);
    s->local.has_ip = true;
    s->local.port = 4140;
    s->tags[0] = (struct span_tag_kv){.key = SPAN_TAG_HTTP_METHOD, .value = "GET", .value_len = 3};
    s->tags[1] = (struct span_tag_kv){.key = SPAN_TAG_HTTP_STATUS_CODE, .num = 200, .is_num = true};
    s->n_tags = 2;
}

/* Pushes <n> spans in messages of up to 32 records. */
static void
push_spans(const struct span *spans, size_t n)
{
    static uint8_t buf[32 * 512];
    size_t len = 0, in_msg = 0;

    for (size_t i = 0; i < n; i++) {
        int r = span_encode(&spans[i], buf + len, sizeof(buf) - len);

        if (r == -ENOSPC || in_msg == 32) {
            push_raw(buf, len);
            len = 0;
            in_msg = 0;
            r = span_encode(&spans[i], buf, sizeof(buf));
        }
        ck_assert_int_gt(r, 0);
        len += (size_t) r;
        in_msg++;
    }
    if (len > 0)
        push_raw(buf, len);
}

/* <n_traces> traces of a server span (service "hello") and its client child ("hello"
 * too, calling "world"): ids trace 0x1000+t, server 0x2000+t, client 0x3000+t. */
static struct span *
make_traces(size_t n_traces, uint32_t flags)
{
    struct span *v = calloc(n_traces * 2, sizeof(*v));

    for (size_t t = 0; t < n_traces; t++) {
        make_span(&v[2 * t], 0x1000 + t, 0x2000 + t, 0, SPAN_KIND_SERVER, "hello", "get", flags);
        make_span(&v[2 * t + 1], 0x1000 + t, 0x3000 + t, 0x2000 + t, SPAN_KIND_CLIENT, "hello",
                  "get /world", flags);
        v[2 * t + 1].remote.service = "world";
        v[2 * t + 1].remote.service_len = 5;
    }
    return v;
}

static char *
get_body(const char *path, int *ret_status)
{
    struct harness_resp r;
    char req[1024];
    char *body;

    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", path);
    ck_assert_int_eq(harness_http(admin_port, req, &r), 0);
    *ret_status = r.status;
    body = strdup(r.body ? r.body : "");
    harness_resp_fini(&r);
    return body;
}

static unsigned
count_str(const char *hay, const char *needle)
{
    unsigned n = 0;

    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* ---- tests ---------------------------------------------------------------------------- */

START_TEST(test_agent_check)
{
    const char *bin = getenv("MESHAGENT");
    char cmd[2048];

    snprintf(cmd, sizeof(cmd), "%s --check %s >/dev/null 2>&1", bin ? bin : "meshagent", cfg_path);
    ck_assert_int_eq(WEXITSTATUS(system(cmd)), 0);
    snprintf(cmd, sizeof(cmd), "MESHAGENT_BATCH_SPANS=lots %s --check %s >/dev/null 2>&1",
             bin ? bin : "meshagent", cfg_path);
    ck_assert_int_eq(WEXITSTATUS(system(cmd)), 1);
    snprintf(cmd, sizeof(cmd), "MESHAGENT_ZIPKIN_URL=https://x %s --check %s >/dev/null 2>&1",
             bin ? bin : "meshagent", cfg_path);
    ck_assert_int_eq(WEXITSTATUS(system(cmd)), 1);
    harness_write_file(cfg_path, "bogus: 1\n");
    snprintf(cmd, sizeof(cmd), "%s --check %s >/dev/null 2>&1", bin ? bin : "meshagent", cfg_path);
    ck_assert_int_eq(WEXITSTATUS(system(cmd)), 1);
}
END_TEST

START_TEST(test_agent_socket_dir_and_mode)
{
    struct stat st;
    char path[800];

    agent_env();
    agent_start();
    ck_assert_int_eq(stat(run_dir, &st), 0);
    /* the owner and its group (meshd's workers), nobody else: docs/security.md */
    ck_assert_int_eq(st.st_mode & 07777, 0750);
    snprintf(path, sizeof(path), "%s/spans.ipc", run_dir);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert(S_ISSOCK(st.st_mode));
    ck_assert_int_eq(st.st_mode & 07777, 0660);
    agent_stop_clean();
    ck_assert_int_ne(stat(path, &st), 0); /* removed on exit */
}
END_TEST

START_TEST(test_agent_stale_socket_replaced)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int fd, st;
    pid_t second;
    struct span *v = make_traces(1, SPAN_F_SAMPLED);

    /* a socket file left by a dead process: bound, never listening, closed */
    ck_assert_int_eq(mkdir(run_dir, 0700), 0);
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/spans.ipc", run_dir);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *) &sun, sizeof(sun)), 0);
    close(fd);
    agent_env();
    agent_start();
    push_spans(v, 2);
    ck_assert(wait_metric("spans/shipped", 2, 5000));

    /* a second agent on the same socket refuses to steal it */
    setenv("MESHAGENT_ADMIN_PORT", "0", 1);
    second = agent_spawn();
    st = harness_signal_wait(second, 0, 5000);
    ck_assert(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 1);
    ck_assert_int_eq(harness_get(admin_port, "a", "/admin/ping", NULL, 0), 200);
    agent_stop_clean();
    free(v);
}
END_TEST

START_TEST(test_agent_store_query)
{
    struct span *v = make_traces(20, SPAN_F_SAMPLED);
    char *body;
    int status;

    agent_env();
    agent_start();
    push_spans(v, 40);
    ck_assert(wait_metric("store/spans", 40, 5000));
    ck_assert_int_eq(metric("spans/received"), 40);
    ck_assert_int_eq(metric("spans/shipped"), 40);
    ck_assert_int_eq(metric("traces/assembled"), 20);
    assert_books();

    body = get_body("/api/v2/services", &status);
    ck_assert_int_eq(status, 200);
    ck_assert_str_eq(body, "[\"hello\"]");
    free(body);
    body = get_body("/api/v2/spans?serviceName=hello", &status);
    ck_assert_int_eq(status, 200);
    ck_assert_str_eq(body, "[\"get\",\"get /world\"]");
    free(body);
    body = get_body("/api/v2/remoteServices?serviceName=HELLO", &status);
    ck_assert_str_eq(body, "[\"world\"]");
    free(body);
    body = get_body("/api/v2/spans", &status);
    ck_assert_int_eq(status, 400);
    free(body);

    body = get_body("/api/v2/traces?serviceName=hello&limit=3", &status);
    ck_assert_int_eq(status, 200);
    ck_assert(body[0] == '[' && body[1] == '[');
    ck_assert_int_eq(count_str(body, "\"traceId\""), 6); /* 3 traces of 2 spans */
    free(body);
    body = get_body("/api/v2/traces?serviceName=nobody", &status);
    ck_assert_str_eq(body, "[]");
    free(body);
    body = get_body("/api/v2/traces?annotationQuery=http.method%3DGET&limit=100", &status);
    ck_assert_int_eq(count_str(body, "\"traceId\""), 40);
    free(body);
    body = get_body("/api/v2/traces?annotationQuery=http.method%3DPUT", &status);
    ck_assert_str_eq(body, "[]");
    free(body);

    body = get_body("/api/v2/trace/0000000000001005", &status);
    ck_assert_int_eq(status, 200);
    ck_assert_int_eq(count_str(body, "\"traceId\":\"0000000000001005\""), 2);
    ck_assert_ptr_nonnull(strstr(body, "\"id\":\"0000000000002005\""));
    ck_assert_ptr_nonnull(strstr(body, "\"id\":\"0000000000003005\""));
    ck_assert_ptr_nonnull(strstr(body, "\"parentId\":\"0000000000002005\""));
    free(body);
    body = get_body("/api/v2/trace/1005", &status); /* short form of the same id */
    ck_assert_int_eq(status, 200);
    free(body);
    body = get_body("/api/v2/trace/00000000000dead1", &status);
    ck_assert_int_eq(status, 404);
    free(body);
    body = get_body("/api/v2/trace/xyz", &status);
    ck_assert_int_eq(status, 400);
    free(body);
    agent_stop_clean();
    free(v);
}
END_TEST

START_TEST(test_agent_garbage_counted)
{
    static const uint8_t junk[] = {0xc1, 0xff, 0x00, 0x13, 0x37};
    uint8_t rec[512], other_version[512];
    struct span *v = make_traces(2, SPAN_F_SAMPLED);
    int n;

    agent_env();
    agent_start();
    push_raw(junk, sizeof(junk));
    push_raw("hello, agent", 12);
    /* a good record followed by a truncated copy: the first counts, the rest is one bad */
    n = span_encode(&v[0], rec, sizeof(rec));
    ck_assert_int_gt(n, 0);
    memcpy(rec + n, rec, (size_t) n);
    push_raw(rec, (size_t) n + (size_t) n / 2);
    /* a record of a future major version, then a good one: skipped, then decoded */
    memcpy(other_version, rec, (size_t) n);
    other_version[1] = 0x02;
    n += span_encode(&v[1], other_version + n, sizeof(other_version) - (size_t) n);
    push_raw(other_version, (size_t) n);
    for (int i = 0; i < 200; i++)
        push_raw(junk, 1 + (size_t) i % sizeof(junk));

    ck_assert(wait_metric("records/invalid", 4 + 200, 5000));
    ck_assert(wait_metric("spans/received", 2, 5000));
    ck_assert_int_ge(metric("records/invalid/version_unsupported"), 1);
    ck_assert_int_eq(harness_get(admin_port, "a", "/admin/ping", NULL, 0), 200);
    ck_assert(wait_metric("store/spans", 2, 5000));
    assert_books();
    agent_stop_clean();
    free(v);
}
END_TEST

START_TEST(test_agent_unsampled_dropped_fragments_merged)
{
    struct span v[4];
    char *body;
    int status;

    agent_env();
    agent_start();
    make_span(&v[0], 0x77, 0x78, 0, SPAN_KIND_SERVER, "hello", "", 0); /* unsampled */
    make_span(&v[1], 0x88, 0x89, 0, SPAN_KIND_SERVER, "hello", "get", SPAN_F_SAMPLED);
    /* a second fragment of span 0x89: it brings the name's absence and a new tag */
    make_span(&v[2], 0x88, 0x89, 0, SPAN_KIND_SERVER, "hello", "", SPAN_F_SAMPLED);
    v[2].tags[0] =
        (struct span_tag_kv){.name = "extra", .name_len = 5, .value = "x", .value_len = 1};
    v[2].n_tags = 1;
    make_span(&v[3], 0x99, 0x9a, 0, SPAN_KIND_SERVER, "hello", "debug", SPAN_F_DEBUG);
    push_spans(v, 4);
    ck_assert(wait_metric("traces/assembled", 3, 5000));
    ck_assert_int_eq(metric("spans/received"), 4);
    ck_assert_int_eq(metric("spans/merged"), 1);
    ck_assert_int_eq(metric("spans/dropped/unsampled"), 1);
    ck_assert_int_eq(metric("spans/shipped"), 2);
    assert_books();
    body = get_body("/api/v2/trace/0000000000000088", &status);
    ck_assert_int_eq(status, 200);
    ck_assert_int_eq(count_str(body, "\"id\":"), 1);
    ck_assert_ptr_nonnull(strstr(body, "\"extra\":\"x\""));
    ck_assert_ptr_nonnull(strstr(body, "\"http.method\":\"GET\""));
    ck_assert_ptr_nonnull(strstr(body, "\"name\":\"get\""));
    free(body);
    body = get_body("/api/v2/trace/0000000000000077", &status);
    ck_assert_int_eq(status, 404);
    free(body);
    agent_stop_clean();
}
END_TEST

START_TEST(test_agent_sink_exact)
{
    struct span *v = make_traces(500, SPAN_F_SAMPLED);
    char id[17];

    sink = zipkin_sink_start(sink_port);
    agent_env();
    use_sink();
    setenv("MESHAGENT_BATCH_SPANS", "100", 1);
    agent_start();
    push_spans(v, 1000);
    ck_assert(wait_metric("spans/shipped", 1000, 10000));
    ck_assert_int_eq(zipkin_sink_n_spans(sink), 1000);
    ck_assert_int_eq(zipkin_sink_n_duplicates(sink), 0);
    for (size_t i = 0; i < 1000; i++) {
        snprintf(id, sizeof(id), "%016llx", (unsigned long long) v[i].span_id);
        ck_assert_int_eq(zipkin_sink_count_id(sink, id), 1);
    }
    ck_assert(zipkin_sink_bodies_ok(sink));
    ck_assert_int_ge(metric("ship/batches"), 10);
    ck_assert_int_eq(metric("ship/connects"), 1); /* keep-alive */
    ck_assert_int_eq(metric("collector/reachable"), 1);
    ck_assert_int_eq(metric("queue/spans"), 0);
    assert_books();
    agent_stop_clean();
    free(v);
}
END_TEST

START_TEST(test_agent_sink_down_then_up)
{
    struct span *v = make_traces(100, SPAN_F_SAMPLED);
    long long failures;

    sink = zipkin_sink_start(sink_port);
    zipkin_sink_down(sink);
    agent_env();
    use_sink();
    agent_start();
    push_spans(v, 100);
    ck_assert(wait_metric_at_least("ship/connect_failures", 3, 5000));
    ck_assert_int_eq(metric("collector/reachable"), 0);
    ck_assert(wait_metric("queue/spans", 100, 5000));
    assert_books();
    push_spans(v + 100, 100);
    ck_assert(wait_metric("queue/spans", 200, 5000));
    zipkin_sink_up(sink);
    ck_assert(wait_metric("spans/shipped", 200, 10000));
    ck_assert_int_eq(zipkin_sink_n_spans(sink), 200);
    ck_assert_int_eq(zipkin_sink_n_duplicates(sink), 0);
    ck_assert_int_eq(metric("collector/reachable"), 1);
    assert_books();

    /* down again while connected (keep-alive closed under it), then up */
    failures = metric("ship/connect_failures");
    zipkin_sink_down(sink);
    for (size_t i = 0; i < 200; i++)
        v[i].span_id += 0x100000;
    push_spans(v, 200);
    ck_assert(wait_metric_at_least("ship/connect_failures", failures + 1, 5000));
    zipkin_sink_up(sink);
    ck_assert(wait_metric("spans/shipped", 400, 10000));
    ck_assert_int_eq(zipkin_sink_n_spans(sink), 400);
    ck_assert_int_eq(zipkin_sink_n_duplicates(sink), 0);
    assert_books();
    agent_stop_clean();
    free(v);
}
END_TEST

START_TEST(test_agent_sink_500_429_retried)
{
    struct span *v = make_traces(50, SPAN_F_SAMPLED);

    sink = zipkin_sink_start(sink_port);
    zipkin_sink_script(sink, 500, 2);
    agent_env();
    use_sink();
    agent_start();
    push_spans(v, 50);
    ck_assert(wait_metric("spans/shipped", 50, 10000));
    ck_assert_int_ge(metric("ship/retried"), 2);
    zipkin_sink_script(sink, 429, 3);
    push_spans(v + 50, 50);
    ck_assert(wait_metric("spans/shipped", 100, 10000));
    ck_assert_int_ge(metric("ship/retried"), 5);
    ck_assert_int_eq(zipkin_sink_n_spans(sink), 100);
    ck_assert_int_eq(zipkin_sink_n_duplicates(sink), 0);
    ck_assert_int_eq(metric("spans/dropped"), 0);
    assert_books();
    agent_stop_clean();
    free(v);
}
END_TEST

START_TEST(test_agent_sink_400_dropped)
{
    struct span *v = make_traces(10, SPAN_F_SAMPLED);

    sink = zipkin_sink_start(sink_port);
    zipkin_sink_script(sink, 400, 1);
    agent_env();
    use_sink();
    setenv("MESHAGENT_BATCH_INTERVAL_MS", "500", 1); /* all 20 spans in one batch */
    agent_start();
    push_spans(v, 20);
    ck_assert(wait_metric("spans/dropped/rejected", 20, 10000));
    ck_assert_int_eq(metric("spans/shipped"), 0);
    ck_assert_int_eq(metric("ship/retried"), 0);
    assert_books();
    push_spans(v, 20); /* the next batch goes through */
    ck_assert(wait_metric("spans/shipped", 20, 10000));
    assert_books();
    agent_stop_clean();
    free(v);
}
END_TEST

START_TEST(test_agent_sigterm_flushes)
{
    struct span *v = make_traces(30, SPAN_F_SAMPLED);

    sink = zipkin_sink_start(sink_port);
    agent_env();
    use_sink();
    /* nothing would leave the window or the batch for a minute on its own */
    setenv("MESHAGENT_WINDOW_IDLE_MS", "60000", 1);
    setenv("MESHAGENT_BATCH_INTERVAL_MS", "60000", 1);
    agent_start();
    push_spans(v, 60);
    ck_assert(wait_metric("window/spans", 60, 5000));
    ck_assert_int_eq(zipkin_sink_n_spans(sink), 0);
    agent_stop_clean();
    ck_assert_int_eq(zipkin_sink_n_spans(sink), 60);
    free(v);
}
END_TEST

START_TEST(test_agent_sigterm_deadline_counts_drops)
{
    struct span *v = make_traces(5, SPAN_F_SAMPLED);
    FILE *f;
    char line[512];
    bool found = false;

    agent_env();
    use_sink(); /* nobody listens there */
    setenv("MESHAGENT_FLUSH_TIMEOUT_MS", "300", 1);
    agent_start();
    push_spans(v, 10);
    ck_assert(wait_metric("queue/spans", 10, 5000));
    agent_stop_clean();
    f = fopen(log_path, "r");
    while (f && fgets(line, sizeof(line), f))
        found = found || strstr(line, "received 10, shipped 0, merged 0, dropped 10") != NULL;
    if (f)
        fclose(f);
    ck_assert_msg(found, "final books line missing");
    free(v);
}
END_TEST

START_TEST(test_agent_sighup_reload)
{
    struct span *v = make_traces(2, SPAN_F_SAMPLED);

    agent_env();
    agent_start();
    harness_write_file(cfg_path, "bogus: [\n");
    kill(agent_pid, SIGHUP);
    usleep(200000);
    ck_assert_int_eq(harness_get(admin_port, "a", "/admin/ping", NULL, 0), 200);
    write_cfg("telemetry:\n- kind: io.l5d.zipkin\n  host: localhost\n");
    kill(agent_pid, SIGHUP);
    usleep(200000);
    push_spans(v, 4);
    ck_assert(wait_metric("spans/shipped", 4, 5000));
    agent_stop_clean();
    free(v);
}
END_TEST

START_TEST(test_agent_prometheus)
{
    char *body;
    int status;

    agent_env();
    agent_start();
    body = get_body("/admin/metrics/prometheus", &status);
    ck_assert_int_eq(status, 200);
    ck_assert_ptr_nonnull(strstr(body, "meshagent"));
    ck_assert_ptr_nonnull(strstr(body, "spans"));
    free(body);
    body = get_body("/admin/settings.json", &status);
    ck_assert_int_eq(status, 200);
    ck_assert_ptr_nonnull(strstr(body, "\"window.idleMs\":50"));
    free(body);
    agent_stop_clean();
}
END_TEST

/* ---- the spool ------------------------------------------------------------------------------ */

static void
use_spool(void)
{
    char sdir[700];

    snprintf(sdir, sizeof(sdir), "%s/spool", dir);
    setenv("MESHAGENT_SPOOL_DIR", sdir, 1);
    /* a queue of two small batches, so an outage reaches the spool at once */
    setenv("MESHAGENT_BATCH_SPANS", "10", 1);
    setenv("MESHAGENT_BATCH_BYTES", "8192", 1);
    setenv("MESHAGENT_QUEUE_BYTES", "16384", 1);
}

START_TEST(test_agent_spool_outage_loses_nothing)
{
    struct span *v = make_traces(250, SPAN_F_SAMPLED);

    sink = zipkin_sink_start(sink_port);
    zipkin_sink_down(sink);
    agent_env();
    use_sink();
    use_spool();
    agent_start();
    push_spans(v, 500);
    ck_assert(wait_metric("spans/assembled", 500, 10000));
    ck_assert(wait_metric_at_least("spool/spans", 400, 5000));
    ck_assert_int_eq(metric("spans/dropped"), 0);
    ck_assert_int_le(metric("queue/bytes"), 16384 + 8192);
    assert_books();
    zipkin_sink_up(sink);
    ck_assert(wait_metric("spans/shipped", 500, 20000));
    ck_assert_int_eq(metric("spool/spans"), 0);
    ck_assert_int_eq(zipkin_sink_n_spans(sink), 500);
    ck_assert_int_eq(zipkin_sink_n_duplicates(sink), 0);
    ck_assert_int_ge(metric("spans/spooled"), 400);
    assert_books();
    agent_stop_clean();
    free(v);
}
END_TEST

START_TEST(test_agent_spool_survives_restart)
{
    struct span *v = make_traces(100, SPAN_F_SAMPLED);

    sink = zipkin_sink_start(sink_port);
    zipkin_sink_down(sink);
    agent_env();
    use_sink();
    use_spool();
    setenv("MESHAGENT_FLUSH_TIMEOUT_MS", "200", 1);
    agent_start();
    push_spans(v, 200);
    ck_assert(wait_metric("spans/assembled", 200, 10000));
    agent_stop_clean(); /* what is queued goes to the spool, nothing is dropped */
    nn_close(push_sock);
    push_sock = -1;
    zipkin_sink_up(sink);
    agent_start();
    ck_assert_int_eq(metric("spans/recovered"), 200);
    ck_assert(wait_metric("spans/shipped", 200, 20000));
    ck_assert_int_eq(zipkin_sink_n_spans(sink), 200);
    ck_assert_int_eq(zipkin_sink_n_duplicates(sink), 0);
    ck_assert_int_eq(metric("spans/dropped"), 0);
    assert_books();
    agent_stop_clean();
    free(v);
}
END_TEST

#ifndef __SANITIZE_ADDRESS__ /* RSS under ASan (shadow memory, quarantine) says nothing */
START_TEST(test_agent_memory_bounded_in_outage)
{
    enum { N = 100000 };
    struct span *v = make_traces(N / 2, SPAN_F_SAMPLED);
    long before, after;

    sink = zipkin_sink_start(sink_port);
    zipkin_sink_down(sink);
    agent_env();
    use_sink();
    setenv("MESHAGENT_QUEUE_BYTES", "2097152", 1);
    setenv("MESHAGENT_BATCH_BYTES", "262144", 1);
    setenv("MESHAGENT_WINDOW_BYTES", "4194304", 1);
    agent_start();
    before = harness_rss_kb(agent_pid);
    for (int round = 0; round < 5; round++) { /* 500,000 spans, ~250 MB of JSON */
        for (size_t i = 0; i < N; i++)
            v[i].span_id += N;
        push_spans(v, N);
    }
    ck_assert(wait_metric("spans/received", 5 * N, 30000));
    ck_assert(wait_metric("window/spans", 0, 10000));
    after = harness_rss_kb(agent_pid);
    fprintf(stderr,
            "meshagent RSS: %ld KiB at start, %ld KiB after 500,000 spans in an outage "
            "(window 4 MiB, queue 2 MiB)\n",
            before, after);
    ck_assert_int_gt(metric("spans/dropped/queue_full"), 0);
    ck_assert_int_le(metric("queue/bytes"), 2097152 + 262144);
    ck_assert_int_lt(after - before, 20 * 1024); /* bounds 6.3 MiB, measured 9.5 */
    assert_books();
    agent_stop_clean();
    free(v);
}
END_TEST
#endif

/* ---- Scribe and v1 encodings -------------------------------------------------------------- */

static void
use_scribe(void)
{
    char url[128];

    snprintf(url, sizeof(url), "scribe://127.0.0.1:%d", sink_port);
    setenv("MESHAGENT_ZIPKIN_URL", url, 1);
}

START_TEST(test_agent_scribe_exact)
{
    struct span *v = make_traces(150, SPAN_F_SAMPLED);
    char id[17];

    sink = zipkin_sink_start_scribe(sink_port);
    agent_env();
    use_scribe();
    setenv("MESHAGENT_BATCH_SPANS", "100", 1);
    agent_start();
    push_spans(v, 300);
    ck_assert(wait_metric("spans/shipped", 300, 10000));
    ck_assert_int_eq(zipkin_sink_n_spans(sink), 300);
    ck_assert_int_eq(zipkin_sink_n_duplicates(sink), 0);
    for (size_t i = 0; i < 300; i++) {
        snprintf(id, sizeof(id), "%016llx", (unsigned long long) v[i].span_id);
        ck_assert_int_eq(zipkin_sink_count_id(sink, id), 1);
    }
    ck_assert(zipkin_sink_bodies_ok(sink)); /* every message decoded as a Thrift span */
    ck_assert_int_ge(zipkin_sink_requests(sink), 3);
    ck_assert_int_eq(metric("ship/connects"), 1);
    assert_books();
    agent_stop_clean();
    free(v);
}
END_TEST

START_TEST(test_agent_linkerd_zipkin_telemeter_means_scribe)
{
    struct span *v = make_traces(10, SPAN_F_SAMPLED);
    char extra[256];

    /* a Linkerd config's telemeter, unchanged: spans go to Scribe at its host and port */
    sink = zipkin_sink_start_scribe(sink_port);
    snprintf(extra, sizeof(extra),
             "telemetry:\n- kind: io.l5d.zipkin\n  host: 127.0.0.1\n  port: %d\n"
             "  sampleRate: 1.0\n",
             sink_port);
    write_cfg(extra);
    agent_env();
    setenv("MESHAGENT_BATCH_INTERVAL_MS", "200", 1);
    agent_start();
    push_spans(v, 20);
    ck_assert(wait_metric("spans/shipped", 20, 10000));
    ck_assert_int_eq(zipkin_sink_n_spans(sink), 20);
    ck_assert(zipkin_sink_bodies_ok(sink));
    assert_books();
    agent_stop_clean();
    free(v);
}
END_TEST

/* Apache Thrift's own Scribe server (tests/tools/scribe_server.py, code generated from the
 * spec's IDL) receives what meshagent ships and decodes every message as a zipkinCore Span. */
START_TEST(test_agent_real_thrift_scribe_server)
{
    struct span *v = make_traces(10, SPAN_F_SAMPLED);
    const char *script = getenv("SCRIBE_SERVER"), *spec = getenv("ZIPKIN_SPEC_DIR");
    char extra[256], out[700], logp[700], port_s[16], line[512];
    int port = harness_free_port(), lines = 0;
    const char *py = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
    FILE *f;

    if (script == NULL || spec == NULL || access(script, R_OK) != 0) {
        ck_assert_msg(getenv("CI") == NULL || strcmp(getenv("CI"), "true") != 0,
                      "SCRIBE_SERVER/ZIPKIN_SPEC_DIR not set");
        return;
    }
    {
        const char *d = harness_tmpdir();

        snprintf(out, sizeof(out), "%s/scribe.out", d);
        snprintf(logp, sizeof(logp), "%s/scribe.log", d);
    }
    snprintf(port_s, sizeof(port_s), "%d", port);
    {
        char *argv[] = {(char *) py, (char *) script, (char *) spec, port_s, out, NULL};

        harness_spawn(argv, logp);
    }
    if (harness_wait_port(port, 20000) != 0) {
        /* exit 77: thrift-compiler or python3-thrift missing; CI must have them */
        harness_print_log(logp);
        ck_assert_msg(getenv("CI") == NULL || strcmp(getenv("CI"), "true") != 0,
                      "the Thrift Scribe server did not start");
        free(v);
        return;
    }
    snprintf(extra, sizeof(extra),
             "telemetry:\n- kind: io.l5d.zipkin\n  host: 127.0.0.1\n  port: %d\n", port);
    write_cfg(extra);
    agent_env();
    agent_start();
    push_spans(v, 20);
    ck_assert(wait_metric("spans/shipped", 20, 10000));
    agent_stop_clean();
    for (int i = 0; i < 100 && lines < 20; i++) {
        usleep(50000);
        lines = 0;
        f = fopen(out, "r");
        while (f && fgets(line, sizeof(line), f))
            lines++;
        if (f)
            fclose(f);
    }
    ck_assert_int_eq(lines, 20);
    f = fopen(out, "r");
    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof(line), f))
        ck_assert_msg(strncmp(line, "zipkin ", 7) == 0, "%s", line); /* category */
    fclose(f);
    free(v);
}
END_TEST

START_TEST(test_agent_scribe_try_later_and_exception)
{
    struct span *v = make_traces(20, SPAN_F_SAMPLED);

    sink = zipkin_sink_start_scribe(sink_port);
    zipkin_sink_script(sink, 503, 2); /* TRY_LATER twice */
    agent_env();
    use_scribe();
    setenv("MESHAGENT_BATCH_INTERVAL_MS", "300", 1);
    agent_start();
    push_spans(v, 20);
    ck_assert(wait_metric("spans/shipped", 20, 10000));
    ck_assert_int_ge(metric("ship/retried"), 2);
    ck_assert_int_eq(zipkin_sink_n_spans(sink), 20);
    zipkin_sink_script(sink, 400, 1); /* an exception: Zipkin dropped the call */
    for (size_t i = 0; i < 40; i++)
        v[i].span_id += 0x100000;
    push_spans(v, 20);
    ck_assert(wait_metric("spans/dropped/rejected", 20, 10000));
    push_spans(v + 20, 20);
    ck_assert(wait_metric("spans/shipped", 40, 10000));
    ck_assert_int_eq(zipkin_sink_n_spans(sink), 40);
    ck_assert_int_eq(zipkin_sink_n_duplicates(sink), 0);
    assert_books();
    agent_stop_clean();
    free(v);
}
END_TEST

#ifdef MESH_HAVE_ZLIB
START_TEST(test_agent_http_gzip)
{
    struct span *v = make_traces(100, SPAN_F_SAMPLED);

    sink = zipkin_sink_start(sink_port);
    agent_env();
    use_sink();
    setenv("MESHAGENT_ZIPKIN_GZIP", "true", 1);
    setenv("MESHAGENT_BATCH_SPANS", "50", 1);
    agent_start();
    push_spans(v, 200);
    ck_assert(wait_metric("spans/shipped", 200, 10000));
    ck_assert_int_eq(zipkin_sink_n_spans(sink), 200);
    ck_assert_int_ge(zipkin_sink_n_gzipped(sink), 4);
    ck_assert(zipkin_sink_bodies_ok(sink)); /* each gunzipped to a JSON v2 list */
    assert_books();
    agent_stop_clean();
    free(v);
}
END_TEST
#endif

START_TEST(test_agent_http_json_v1)
{
    struct span *v = make_traces(10, SPAN_F_SAMPLED);
    char *body, url[128];

    sink = zipkin_sink_start(sink_port);
    agent_env();
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", sink_port); /* path: /api/v1/spans */
    setenv("MESHAGENT_ZIPKIN_URL", url, 1);
    setenv("MESHAGENT_ZIPKIN_ENCODING", "json_v1", 1);
    agent_start();
    push_spans(v, 20);
    ck_assert(wait_metric("spans/shipped", 20, 10000));
    body = zipkin_sink_last_body(sink);
    ck_assert_ptr_nonnull(body);
    ck_assert_ptr_nonnull(strstr(body, "\"annotations\""));
    ck_assert_ptr_nonnull(strstr(body, "\"value\":\"sr\""));
    ck_assert(zipkin_sink_bodies_ok(sink));
    free(body);
    assert_books();
    agent_stop_clean();
    free(v);
}
END_TEST

/* ---- with meshd ------------------------------------------------------------------------- */

static struct harness_meshd md;
static int backend_port, out_port;

/* One config file for both daemons, as in a pod: meshd pushes to the default socket under
 * meshd.runDir, where the agent binds by default. */
static void
start_meshd_and_agent(void)
{
    char yaml[2048], logp[700], portstr[16];
    const char *bin = getenv("TESTSRV");
    char *argv[] = {(char *) (bin ? bin : "mesh-testsrv"), "--name", "hello", portstr, NULL};
    int md_admin = harness_free_port();

    backend_port = harness_free_port();
    out_port = harness_free_port();
    snprintf(portstr, sizeof(portstr), "%d", backend_port);
    snprintf(logp, sizeof(logp), "%s/hello.log", dir);
    harness_spawn(argv, logp);
    ck_assert_int_eq(harness_wait_port(backend_port, 5000), 0);
    snprintf(yaml, sizeof(yaml),
             "admin: {ip: 127.0.0.1, port: %d}\n"
             "routers:\n"
             "- protocol: http\n"
             "  label: out\n"
             "  dtab: /svc => /$/inet/127.0.0.1/%d;\n"
             "  servers: [{ip: 127.0.0.1, port: %d}]\n"
             "telemetry:\n"
             "- kind: io.l5d.zipkin\n"
             "  sampleRate: 1.0\n"
             "meshd: {workers: 1, runDir: %s, logLevel: info}\n",
             md_admin, backend_port, out_port, run_dir);
    harness_write_file(cfg_path, yaml);
    sink = zipkin_sink_start(sink_port);
    agent_env();
    use_sink();
    agent_start();
    ck_assert_msg(harness_meshd_start(&md, yaml, md_admin) == 0, "meshd did not start");
    ck_assert_int_eq(harness_wait_port(out_port, 5000), 0);
}

static void
requests(int n)
{
    char body[256];

    for (int i = 0; i < n; i++)
        ck_assert_int_eq(harness_get(out_port, "hello", "/", body, sizeof(body)), 200);
}

static int
span_cmp(const void *a, const void *b)
{
    const struct zipkin_sink_span *x = a, *y = b;
    int r = strcmp(x->trace_id, y->trace_id);

    return r ? r : x->kind - y->kind;
}

START_TEST(test_agent_meshd_1000_requests_2000_spans)
{
    static struct zipkin_sink_span got[4096];
    size_t n;

    start_meshd_and_agent();
    requests(1000);
    ck_assert(wait_metric("spans/shipped", 2000, 20000));
    n = zipkin_sink_spans(sink, got, 4096);
    ck_assert_uint_eq(n, 2000);
    ck_assert_int_eq(zipkin_sink_n_duplicates(sink), 0);
    ck_assert(zipkin_sink_bodies_ok(sink));
    /* 1,000 traces of one SERVER span and its CLIENT child, with consistent ids */
    qsort(got, n, sizeof(got[0]), span_cmp);
    for (size_t i = 0; i < n; i += 2) {
        const struct zipkin_sink_span *c = &got[i], *sv = &got[i + 1];

        ck_assert_str_eq(c->trace_id, sv->trace_id);
        ck_assert_msg(i == 0 || strcmp(got[i - 1].trace_id, c->trace_id) != 0,
                      "trace %s has more than 2 spans", c->trace_id);
        ck_assert_int_eq(c->kind, 'C');
        ck_assert_int_eq(sv->kind, 'S');
        ck_assert_uint_eq(c->parent_id, sv->id);
        ck_assert_uint_ne(c->id, sv->id);
    }
    ck_assert_int_eq(harness_metric(md.admin_port, "telemetry/spans/sent"), 2000);
    ck_assert_int_eq(metric("traces/assembled"), 1000);
    assert_books();
    agent_stop_clean();
}
END_TEST

START_TEST(test_agent_meshd_survives_agent_restart)
{
    start_meshd_and_agent();
    requests(10);
    ck_assert(wait_metric("spans/shipped", 20, 10000));
    harness_kill(agent_pid); /* SIGKILL: its socket file stays behind */
    agent_pid = 0;
    requests(50);  /* meshd serves on without its agent */
    agent_start(); /* replaces the stale socket file */
    for (int i = 0; i < 100 && metric("spans/shipped") < 20; i++) {
        requests(1); /* meshd reconnects by itself; spans flow again */
        usleep(20000);
    }
    ck_assert(wait_metric_at_least("spans/shipped", 20, 10000));
    ck_assert_uint_ge(zipkin_sink_n_spans(sink), 40);
    ck_assert_int_eq(zipkin_sink_n_duplicates(sink), 0);
    assert_books();
    agent_stop_clean();
}
END_TEST

START_TEST(test_agent_meshd_unaffected_by_slow_sink)
{
    long t0;

    setenv("MESHAGENT_BATCH_SPANS", "10", 1); /* many slow requests to the sink */
    start_meshd_and_agent();
    zipkin_sink_delay(sink, 300);
    t0 = now_ms();
    requests(300);
    /* 300 requests through meshd while each 10-span POST takes 300 ms: meshd is not
     * slowed by the agent (60 POSTs would take 18 s) */
    ck_assert_msg(now_ms() - t0 < 10000, "300 requests took %ld ms", now_ms() - t0);
    for (int i = 0; i < 250 && harness_metric(md.admin_port, "telemetry/spans/sent") < 600; i++)
        usleep(20000); /* meshd flushes its span batches after a few ms */
    ck_assert_int_eq(harness_metric(md.admin_port, "telemetry/spans/sent"), 600);
    zipkin_sink_delay(sink, 0);
    ck_assert(wait_metric("spans/shipped", 600, 30000));
    ck_assert_int_eq(zipkin_sink_n_duplicates(sink), 0);
    assert_books();
    agent_stop_clean();
}
END_TEST

static Suite *
agent_suite(void)
{
    Suite *s = suite_create("agent");
    TCase *tc;

    tc = tcase_create("run");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_agent_check);
    tcase_add_test(tc, test_agent_socket_dir_and_mode);
    tcase_add_test(tc, test_agent_stale_socket_replaced);
    tcase_add_test(tc, test_agent_sighup_reload);
    tcase_add_test(tc, test_agent_prometheus);
    suite_add_tcase(s, tc);

    tc = tcase_create("receive");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_agent_garbage_counted);
    tcase_add_test(tc, test_agent_unsampled_dropped_fragments_merged);
    suite_add_tcase(s, tc);

    tc = tcase_create("store");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_agent_store_query);
    suite_add_tcase(s, tc);

    tc = tcase_create("zipkin_http");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, test_agent_sink_exact);
    tcase_add_test(tc, test_agent_sink_down_then_up);
    tcase_add_test(tc, test_agent_sink_500_429_retried);
    tcase_add_test(tc, test_agent_sink_400_dropped);
    tcase_add_test(tc, test_agent_sigterm_flushes);
    tcase_add_test(tc, test_agent_sigterm_deadline_counts_drops);
    suite_add_tcase(s, tc);

    tc = tcase_create("spool");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, test_agent_spool_outage_loses_nothing);
    tcase_add_test(tc, test_agent_spool_survives_restart);
#ifndef __SANITIZE_ADDRESS__
    tcase_add_test(tc, test_agent_memory_bounded_in_outage);
#endif
    suite_add_tcase(s, tc);

    tc = tcase_create("scribe_and_v1");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, test_agent_scribe_exact);
    tcase_add_test(tc, test_agent_scribe_try_later_and_exception);
    tcase_add_test(tc, test_agent_linkerd_zipkin_telemeter_means_scribe);
    tcase_add_test(tc, test_agent_real_thrift_scribe_server);
    tcase_add_test(tc, test_agent_http_json_v1);
#ifdef MESH_HAVE_ZLIB /* built without zlib, the agent sends plain JSON */
    tcase_add_test(tc, test_agent_http_gzip);
#endif
    suite_add_tcase(s, tc);

    tc = tcase_create("with_meshd");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_agent_meshd_1000_requests_2000_spans);
    tcase_add_test(tc, test_agent_meshd_survives_agent_restart);
    tcase_add_test(tc, test_agent_meshd_unaffected_by_slow_sink);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(agent_suite)
