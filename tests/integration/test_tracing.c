/* tests/integration/test_tracing.c - spans and trace context with real processes: one
 * meshd with two routers chained as on two nodes (outgoing "out" -> incoming "in" ->
 * backend), and the test itself in the agent's place: a nanomsg PULL socket on the
 * agent socket path that decodes the span records meshd sends. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nanomsg/nn.h>
#include <nanomsg/pipeline.h>

#include "proto/span.h"
#include "tests/lib/check_main.h"
#include "tests/lib/harness.h"

#define MAX_SPANS 64

struct got_span {
    uint64_t trace_hi, trace_lo, span_id, parent_id;
    uint64_t timestamp_us, duration_us;
    int kind;
    char service[96];
    char router[32];
    char status[8];
    char client[128];
    uint32_t flags;
};

static int backend_port, out_port, in_port, admin_port;
static const char *dir;
static char agent_url[600];
static int pull = -1;
static struct harness_meshd md;
static struct got_span spans[MAX_SPANS];
static int n_spans;

static void
on_span(const struct span *s, void *arg)
{
    struct got_span *g;

    (void) arg;
    if (n_spans == MAX_SPANS)
        return;
    g = &spans[n_spans++];
    memset(g, 0, sizeof(*g));
    g->trace_hi = s->trace_hi;
    g->trace_lo = s->trace_lo;
    g->span_id = s->span_id;
    g->parent_id = s->parent_id;
    g->timestamp_us = s->timestamp_us;
    g->duration_us = s->duration_us;
    g->kind = s->kind;
    g->flags = s->flags;
    snprintf(g->service, sizeof(g->service), "%.*s", (int) s->local.service_len, s->local.service);
    for (unsigned i = 0; i < s->n_tags; i++) {
        const struct span_tag_kv *t = &s->tags[i];

        if (t->key == SPAN_TAG_ROUTER_LABEL)
            snprintf(g->router, sizeof(g->router), "%.*s", (int) t->value_len, t->value);
        else if (t->key == SPAN_TAG_HTTP_STATUS_CODE && t->is_num)
            snprintf(g->status, sizeof(g->status), "%llu", (unsigned long long) t->num);
        else if (t->key == SPAN_TAG_HTTP_STATUS_CODE)
            snprintf(g->status, sizeof(g->status), "%.*s", (int) t->value_len, t->value);
        else if (t->key == SPAN_TAG_CLIENT)
            snprintf(g->client, sizeof(g->client), "%.*s", (int) t->value_len, t->value);
    }
}

/* Receives span batches until <want> spans arrived or <timeout_ms> passed. */
static int
collect(int want, int timeout_ms)
{
    int waited = 0;

    while (n_spans < want && waited < timeout_ms) {
        void *msg = NULL;
        int n = nn_recv(pull, &msg, NN_MSG, NN_DONTWAIT);

        if (n < 0) {
            usleep(10000);
            waited += 10;
            continue;
        }
        {
            struct span_batch_result res;

            span_batch_decode(msg, (size_t) n, on_span, NULL, &res);
            ck_assert_int_eq(res.n_bad, 0);
        }
        nn_freemsg(msg);
    }
    return n_spans;
}

static const char *in_router_extra = "";

static void
make_yaml(char *out, size_t len, const char *sample_rate)
{
    snprintf(out, len,
             "admin: {ip: 127.0.0.1, port: %d}\n"
             "routers:\n"
             "- protocol: http\n"
             "  label: out\n"
             "  dtab: /svc => /$/inet/127.0.0.1/%d;\n"
             "  servers: [{ip: 127.0.0.1, port: %d}]\n"
             "- protocol: http\n"
             "  label: in\n"
             "  dtab: /svc/* => /$/inet/127.0.0.1/%d;\n"
             "  servers: [{ip: 127.0.0.1, port: %d}]\n"
             "%s"
             "telemetry:\n"
             "- kind: io.l5d.zipkin\n"
             "  sampleRate: %s\n"
             "meshd: {workers: 1, agentSocket: \"%s\", logLevel: info}\n",
             admin_port, in_port, out_port, backend_port, in_port, in_router_extra, sample_rate,
             agent_url);
}

static void
setup(void)
{
    char logp[600], portstr[16];
    const char *bin = getenv("TESTSRV");
    char *argv[] = {(char *) (bin ? bin : "mesh-testsrv"), "--name", "hello", portstr, NULL};

    dir = harness_tmpdir();
    backend_port = harness_free_port();
    out_port = harness_free_port();
    in_port = harness_free_port();
    admin_port = harness_free_port();
    snprintf(portstr, sizeof(portstr), "%d", backend_port);
    snprintf(logp, sizeof(logp), "%s/hello.log", dir);
    harness_spawn(argv, logp);
    ck_assert_int_eq(harness_wait_port(backend_port, 5000), 0);
    snprintf(agent_url, sizeof(agent_url), "ipc://%s/spans.ipc", dir);
    pull = nn_socket(AF_SP, NN_PULL);
    ck_assert_int_ge(pull, 0);
    ck_assert_int_ge(nn_bind(pull, agent_url), 0);
    n_spans = 0;
    in_router_extra = "";
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
    if (pull >= 0)
        nn_close(pull);
    pull = -1;
    harness_cleanup();
    memset(&md, 0, sizeof(md));
    ck_assert_msg(clean, "meshd log: %s", bad);
}

static void
start(const char *rate)
{
    char yaml[4096];

    make_yaml(yaml, sizeof(yaml), rate);
    ck_assert_msg(harness_meshd_start(&md, yaml, admin_port) == 0, "meshd did not start");
    ck_assert_int_eq(harness_wait_port(out_port, 5000), 0);
}

static const struct got_span *
find(const char *router, int kind)
{
    for (int i = 0; i < n_spans; i++)
        if (strcmp(spans[i].router, router) == 0 && spans[i].kind == kind)
            return &spans[i];
    return NULL;
}

START_TEST(test_tracing_two_hops_give_four_linked_spans)
{
    const struct got_span *os, *oc, *is, *ic;
    char body[256];

    start("1.0");
    ck_assert_int_eq(harness_get(out_port, "hello", "/", body, sizeof(body)), 200);
    ck_assert_int_eq(collect(4, 5000), 4);
    os = find("out", SPAN_KIND_SERVER);
    oc = find("out", SPAN_KIND_CLIENT);
    is = find("in", SPAN_KIND_SERVER);
    ic = find("in", SPAN_KIND_CLIENT);
    ck_assert(os && oc && is && ic);
    /* one trace, 128-bit */
    ck_assert(os->trace_hi != 0);
    for (int i = 0; i < n_spans; i++) {
        ck_assert(spans[i].trace_hi == os->trace_hi && spans[i].trace_lo == os->trace_lo);
        ck_assert(spans[i].flags & SPAN_F_SAMPLED);
    }
    /* links: out server (root) <- out client <- in server <- in client */
    ck_assert(os->parent_id == 0);
    ck_assert(oc->parent_id == os->span_id);
    ck_assert(is->parent_id == oc->span_id);
    ck_assert(ic->parent_id == is->span_id);
    /* readable service names: server spans as Linkerd names them, clients by destination */
    {
        char want[64];

        snprintf(want, sizeof(want), "127.0.0.1/%d", out_port);
        ck_assert_str_eq(os->service, want);
    }
    ck_assert_str_eq(oc->service, "hello");
    ck_assert_str_eq(ic->service, "hello");
    ck_assert_str_eq(os->status, "200");
    ck_assert_msg(strstr(oc->client, "/$/inet/127.0.0.1/") != NULL, "%s", oc->client);
    ck_assert_int_eq(harness_metric(admin_port, "telemetry/spans/sent"), 4);
}
END_TEST

START_TEST(test_tracing_b3_client_is_continued)
{
    struct harness_resp r;
    const struct got_span *os;

    start("0.0");
    ck_assert_int_eq(harness_http(out_port,
                                  "GET / HTTP/1.1\r\nHost: hello\r\n"
                                  "X-B3-TraceId: 463ac35c9f6413ad48485a3953bb6124\r\n"
                                  "X-B3-SpanId: a2fb4a1d1a96d312\r\nX-B3-Sampled: 1\r\n\r\n",
                                  &r),
                     0);
    ck_assert_int_eq(r.status, 200);
    harness_resp_fini(&r);
    ck_assert_int_eq(collect(4, 5000), 4);
    os = find("out", SPAN_KIND_SERVER);
    ck_assert_ptr_nonnull(os);
    ck_assert(os->trace_hi == 0x463ac35c9f6413adULL && os->trace_lo == 0x48485a3953bb6124ULL);
    ck_assert(os->parent_id == 0xa2fb4a1d1a96d312ULL);
}
END_TEST

START_TEST(test_tracing_sample_header_forces_and_rate_zero_records_nothing)
{
    struct harness_resp r;

    start("0");
    for (int i = 0; i < 20; i++)
        ck_assert_int_eq(harness_get(out_port, "hello", "/", NULL, 0), 200);
    ck_assert_int_eq(collect(1, 300), 0); /* rate 0: no records at all */
    ck_assert_int_eq(harness_http(out_port, "GET / HTTP/1.1\r\nHost: hello\r\nl5d-sample: 1.0\r\n\r\n",
                                  &r),
                     0);
    ck_assert_int_eq(r.status, 200);
    harness_resp_fini(&r);
    ck_assert_int_eq(collect(4, 5000), 4); /* and the decision travelled to the second hop */
    ck_assert_ptr_nonnull(find("in", SPAN_KIND_CLIENT));
}
END_TEST

START_TEST(test_tracing_malformed_context_is_a_new_root)
{
    struct harness_resp r;
    const struct got_span *os;

    start("1.0");
    ck_assert_int_eq(harness_http(out_port,
                                  "GET / HTTP/1.1\r\nHost: hello\r\nl5d-ctx-trace: !!notbase64!!\r\n"
                                  "traceparent: 00-zz-yy-01\r\n\r\n",
                                  &r),
                     0);
    ck_assert_int_eq(r.status, 200);
    harness_resp_fini(&r);
    ck_assert_int_eq(collect(4, 5000), 4);
    os = find("out", SPAN_KIND_SERVER);
    ck_assert(os && os->parent_id == 0);
    ck_assert_int_eq(harness_metric(admin_port, "telemetry/contexts/malformed/l5d"), 1);
    ck_assert_int_eq(harness_metric(admin_port, "telemetry/contexts/malformed/traceparent"), 1);
}
END_TEST

START_TEST(test_tracing_agent_gone_costs_spans_not_requests)
{
    int ok = 0;
    long long dropped;

    start("1.0");
    ck_assert_int_eq(harness_get(out_port, "hello", "/", NULL, 0), 200);
    ck_assert_int_eq(collect(4, 5000), 4);
    nn_close(pull); /* the agent dies */
    pull = -1;
    /* nanomsg notices the closed peer asynchronously: keep going until drops show (every
     * request must still succeed), bounded */
    dropped = 0;
    for (int i = 0; i < 3000 && dropped <= 0; i++) {
        ok += harness_get(out_port, "hello", "/", NULL, 0) == 200;
        if (i % 100 == 99)
            dropped = harness_metric(admin_port, "telemetry/spans/dropped/agent_unavailable");
        ck_assert_int_eq(ok, i + 1);
    }
    usleep(100000);
    dropped = harness_metric(admin_port, "telemetry/spans/dropped/agent_unavailable");
    ck_assert_msg(dropped > 0, "spans dropped while the agent was away: %lld", dropped);
    /* the agent comes back: spans flow again without restarting meshd */
    pull = nn_socket(AF_SP, NN_PULL);
    ck_assert_int_ge(nn_bind(pull, agent_url), 0);
    n_spans = 0;
    for (int i = 0; i < 100 && n_spans < 4; i++) { /* PUSH reconnects every 100 ms */
        ck_assert_int_eq(harness_get(out_port, "hello", "/", NULL, 0), 200);
        collect(4, 100);
    }
    ck_assert_int_ge(n_spans, 4);
}
END_TEST

START_TEST(test_tracing_formats_written_as_configured)
{
    char body[4096];

    in_router_extra = "  tracing: {write: [b3, traceparent]}\n";
    start("1.0");
    ck_assert_int_eq(harness_get(out_port, "hello", "/headers", body, sizeof(body)), 200);
    /* the backend sees what the "in" router wrote: b3 and traceparent, no l5d or B3 multi */
    ck_assert_msg(strstr(body, "b3: ") != NULL, "%s", body);
    ck_assert_msg(strstr(body, "traceparent: 00-") != NULL, "%s", body);
    ck_assert_msg(strstr(body, "l5d-ctx-trace") == NULL, "%s", body);
    ck_assert_msg(strstr(body, "X-B3-SpanId") == NULL, "%s", body);
}
END_TEST

START_TEST(test_tracing_stalled_agent_costs_spans_not_requests)
{
    int ok = 0;

    start("1.0");
    /* the agent is bound but never reads: its queue and ours fill up, then spans drop */
    for (int i = 0; i < 3000; i++)
        ok += harness_get(out_port, "hello", "/", NULL, 0) == 200;
    ck_assert_int_eq(ok, 3000);
    for (int i = 0; i < 100 && harness_metric(admin_port,
                                              "telemetry/spans/dropped/agent_unavailable") <= 0;
         i++)
        ck_assert_int_eq(harness_get(out_port, "hello", "/", NULL, 0), 200);
    ck_assert_int_gt(harness_metric(admin_port, "telemetry/spans/dropped/agent_unavailable"), 0);
}
END_TEST

/* The Linkerd walkthrough's shape: hello calls world through the mesh, forwarding the
 * l5d-ctx-* headers; 4 router traversals give 8 spans in one trace, each the child of the
 * one before. Here both "nodes" are one meshd: out -> in -> hello -> out -> in -> world. */
START_TEST(test_tracing_hello_world_gives_eight_spans_in_one_trace)
{
    char yaml[4096], body[256], logp[700], hport[16], wport[16], proxy[64];
    const char *bin = getenv("TESTSRV");
    int world_port = harness_free_port(), hello_port = harness_free_port();
    int depth = 0, chain[8];
    uint64_t parent = 0;

    snprintf(hport, sizeof(hport), "%d", hello_port);
    snprintf(wport, sizeof(wport), "%d", world_port);
    snprintf(proxy, sizeof(proxy), "127.0.0.1:%d", out_port);
    {
        char *argv[] = {(char *) (bin ? bin : "mesh-testsrv"), "--name", "world", wport, NULL};

        snprintf(logp, sizeof(logp), "%s/world.log", dir);
        harness_spawn(argv, logp);
    }
    {
        char *argv[] = {(char *) (bin ? bin : "mesh-testsrv"), "--name", "hello", "--call",
                        "world", "--proxy", proxy, hport, NULL};

        snprintf(logp, sizeof(logp), "%s/hello2.log", dir);
        harness_spawn(argv, logp);
    }
    ck_assert_int_eq(harness_wait_port(world_port, 5000), 0);
    ck_assert_int_eq(harness_wait_port(hello_port, 5000), 0);
    snprintf(yaml, sizeof(yaml),
             "admin: {ip: 127.0.0.1, port: %d}\n"
             "routers:\n"
             "- protocol: http\n"
             "  label: out\n"
             "  dtab: /svc => /$/inet/127.0.0.1/%d;\n"
             "  servers: [{ip: 127.0.0.1, port: %d}]\n"
             "- protocol: http\n"
             "  label: in\n"
             "  dtab: /svc/hello => /$/inet/127.0.0.1/%d; /svc/world => /$/inet/127.0.0.1/%d;\n"
             "  servers: [{ip: 127.0.0.1, port: %d}]\n"
             "telemetry: [{kind: io.l5d.zipkin, sampleRate: 1.0}]\n"
             "meshd: {workers: 1, agentSocket: \"%s\"}\n",
             admin_port, in_port, out_port, hello_port, world_port, in_port, agent_url);
    ck_assert_msg(harness_meshd_start(&md, yaml, admin_port) == 0, "meshd did not start");
    ck_assert_int_eq(harness_wait_port(out_port, 5000), 0);
    ck_assert_int_eq(harness_get(out_port, "hello", "/", body, sizeof(body)), 200);
    ck_assert_msg(strncmp(body, "Hello (", 7) == 0 && strstr(body, ") world (") != NULL, "%s",
                  body);
    ck_assert_int_eq(collect(8, 5000), 8);
    /* one trace; a chain: root server, then each span the parent of the next */
    for (int i = 0; i < n_spans; i++)
        ck_assert(spans[i].trace_hi == spans[0].trace_hi && spans[i].trace_lo == spans[0].trace_lo);
    for (depth = 0; depth < 8; depth++) {
        int found = -1;

        for (int i = 0; i < n_spans; i++)
            if (spans[i].parent_id == parent)
                found = i;
        ck_assert_msg(found >= 0, "no span at depth %d", depth);
        ck_assert_int_eq(spans[found].kind, depth % 2 == 0 ? SPAN_KIND_SERVER : SPAN_KIND_CLIENT);
        ck_assert_str_eq(spans[found].router, (depth / 2) % 2 == 0 ? "out" : "in");
        /* and each lies within its parent, in one process or across a hop: a server span
         * ends when its response goes to the kernel (before its client can read it) and a
         * client span starts before its request is sent */
        if (depth > 0) {
            const struct got_span *p = &spans[chain[depth - 1]], *c = &spans[found];

            ck_assert_msg(c->timestamp_us >= p->timestamp_us &&
                              c->timestamp_us + c->duration_us <= p->timestamp_us + p->duration_us,
                          "span at depth %d [%llu +%llu] is not within its parent [%llu +%llu]",
                          depth, (unsigned long long) c->timestamp_us,
                          (unsigned long long) c->duration_us, (unsigned long long) p->timestamp_us,
                          (unsigned long long) p->duration_us);
        }
        chain[depth] = found;
        parent = spans[found].span_id;
    }
}
END_TEST

static Suite *
tracing_suite(void)
{
    Suite *s = suite_create("tracing");
    TCase *tc = tcase_create("tracing");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_tracing_two_hops_give_four_linked_spans);
    tcase_add_test(tc, test_tracing_b3_client_is_continued);
    tcase_add_test(tc, test_tracing_sample_header_forces_and_rate_zero_records_nothing);
    tcase_add_test(tc, test_tracing_malformed_context_is_a_new_root);
    tcase_add_test(tc, test_tracing_agent_gone_costs_spans_not_requests);
    tcase_add_test(tc, test_tracing_formats_written_as_configured);
    tcase_add_test(tc, test_tracing_stalled_agent_costs_spans_not_requests);
    tcase_add_test(tc, test_tracing_hello_world_gives_eight_spans_in_one_trace);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(tracing_suite)
