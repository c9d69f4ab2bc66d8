/* agent/bench_agent.c - what a span costs meshagent (`meson test --benchmark agent` or run
 * it by hand). Two parts:
 *
 *   in-process: the pipeline's CPU cost per span on one core, stage by stage, on the
 *     worked example span of docs/span-record.md in 32-record messages: decode only (the
 *     baseline: what merely receiving records costs), decode + assemble (copy into the
 *     window, group by trace, expire), and decode + assemble + sample + encode JSON v2
 *     into 1,000-span batches (everything but the socket I/O).
 *   end to end (when $MESHAGENT is set): a real meshagent process, fed over nanomsg IPC by
 *     this process and shipping to a Zipkin HTTP sink thread in this process; reports
 *     spans/s and meshagent's own CPU seconds (utime+stime from /proc), i.e. spans per
 *     core-second.
 *
 * $BENCH_PER_MSG sets the records a message (32; meshd workers send up to 128).
 * Arguments: [N_SPANS [RATE]]: spans (default 2,000,000 in-process, 1,000,000 end to end),
 * and the rate at which the end-to-end run offers them (spans/s, default 100,000). */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nanomsg/nn.h>
#include <nanomsg/pipeline.h>

#include "agent/aspan.h"
#include "agent/assembler.h"
#include "agent/batcher.h"
#include "agent/sampler.h"
#include "common/clock.h"
#include "common/list.h"
#include "proto/span.h"
#include "proto/zipkin.h"
#include "tests/lib/zipkin_sink.h"

static size_t PER_MSG = 32; /* records a message; $BENCH_PER_MSG */

static uint64_t n_sink; /* keeps the optimizer honest */

static void
typical_span(struct span *s, uint64_t i)
{
    static const uint8_t lip[4] = {10, 1, 2, 3}, rip[4] = {10, 1, 2, 9};

    memset(s, 0, sizeof(*s));
    s->trace_lo = 0x5af7183fb1d4cf5full + i / 2; /* 2 spans a trace */
    s->span_id = 0x352bff9a74ca9ad2ull + i;
    s->parent_id = 0x6b221d5bc9e6496cull;
    s->kind = i % 2 ? SPAN_KIND_CLIENT : SPAN_KIND_SERVER;
    s->flags = SPAN_F_SAMPLED;
    s->timestamp_us = 1556604172355737ull + i;
    s->duration_us = 1431;
    s->name = "get";
    s->name_len = 3;
    s->local.service = "0.0.0.0/4140";
    s->local.service_len = 12;
    memcpy(s->local.ip, lip, 4);
    s->local.has_ip = true;
    s->local.port = 4140;
    memcpy(s->remote.ip, rip, 4);
    s->remote.has_ip = true;
    s->remote.port = 58648;
#define TAG(k, v)                                                                                  \
    s->tags[s->n_tags++] = (struct span_tag_kv){.key = k, .value = v, .value_len = strlen(v)}
    TAG(SPAN_TAG_HTTP_METHOD, "GET");
    TAG(SPAN_TAG_HTTP_PATH, "/users/12345");
    TAG(SPAN_TAG_HTTP_URL, "http://users/users/12345");
    s->tags[s->n_tags++] =
        (struct span_tag_kv){.key = SPAN_TAG_HTTP_STATUS_CODE, .num = 200, .is_num = true};
    TAG(SPAN_TAG_HTTP_HOST, "users");
    TAG(SPAN_TAG_ROUTER_LABEL, "outgoing");
    TAG(SPAN_TAG_SERVICE, "/svc/users");
    TAG(SPAN_TAG_CLIENT, "/#/io.l5d.fs/users");
#undef TAG
}

/* Messages of PER_MSG records, covering <n> spans (distinct ids), concatenated. */
static uint8_t *
make_messages(size_t n, size_t *ret_len, size_t **ret_offsets, size_t *ret_n_msgs)
{
    size_t cap = n * 256 + 4096, len = 0, n_msgs = 0;
    uint8_t *buf = malloc(cap);
    size_t *offs = malloc((n / PER_MSG + 2) * sizeof(*offs));
    struct span s;

    for (size_t i = 0; i < n; i++) {
        int r;

        if (i % PER_MSG == 0)
            offs[n_msgs++] = len;
        typical_span(&s, i);
        r = span_encode(&s, buf + len, cap - len);
        if (r <= 0)
            abort();
        len += (size_t) r;
    }
    offs[n_msgs] = len;
    *ret_len = len;
    *ret_offsets = offs;
    *ret_n_msgs = n_msgs;
    return buf;
}

static double
now_s(void)
{
    return (double) clock_mono_us() / 1e6;
}

static double
cpu_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* ---- in-process stages ------------------------------------------------------------------ */

enum stage {
    STAGE_DECODE = 0,
    STAGE_ASSEMBLE,
    STAGE_ALL,
};

struct pipe {
    enum stage stage;
    struct assembler *as;
    struct sampler sampler;
    struct batcher *batcher;
    uint64_t now_us;
    struct span view;
    uint64_t shipped_bytes;
};

static void
on_batch(struct batch *b, void *arg)
{
    struct pipe *p = arg;

    p->shipped_bytes += b->body.len;
    n_sink += b->n_spans;
    batch_free(b);
}

static void
on_trace(struct asm_trace *t, enum assembler_why why, void *arg)
{
    struct pipe *p = arg;
    struct sampler_trace st = {.trace_lo = t->trace_lo, .n_sampled = t->n_spans};
    struct sampler_decision d;
    struct list *pos, *tmp;

    (void) why;
    d = p->stage == STAGE_ALL ? sampler_decide(&p->sampler, &st, p->now_us)
                              : (struct sampler_decision){.sampled = SAMPLER_DROP_THINNED};
    list_for_each_safe(pos, tmp, &t->spans)
    {
        struct aspan *sp = list_entry(pos, struct aspan, link);

        list_remove(&sp->link);
        if (d.sampled == SAMPLER_KEEP) {
            aspan_view(sp, &p->view);
            (void) batcher_add(p->batcher, &p->view, p->now_us);
        } else {
            n_sink++;
        }
        aspan_free(sp);
    }
}

static void
on_span(const struct span *s, void *arg)
{
    struct pipe *p = arg;

    if (p->stage == STAGE_DECODE) {
        n_sink += s->span_id;
        return;
    }
    (void) assembler_add(p->as, s, p->now_us);
}

static double
run_stage(enum stage stage, const uint8_t *buf, const size_t *offs, size_t n_msgs, size_t n)
{
    static const struct batcher_format fmt = {"[", ",", "]", zipkin_json_v2_span};
    const struct assembler_cfg ac = {
        .idle_ms = 1000, .max_bytes = 64u << 20, .max_trace_spans = 1000};
    const struct sampler_cfg sc = {.rate = 1.0};
    const struct batcher_cfg bc = {.max_spans = 1000, .max_bytes = 1 << 20, .interval_ms = 1000};
    struct pipe *p = calloc(1, sizeof(*p));
    double t0, t1;

    p->stage = stage;
    p->as = assembler_new(&ac, on_trace, p);
    sampler_init(&p->sampler, &sc, 0);
    p->batcher = batcher_new(&bc, &fmt, on_batch, p);
    t0 = cpu_s();
    for (size_t m = 0; m < n_msgs; m++) {
        struct span_batch_result res;

        /* simulated time: 1 µs a span, so traces expire as in a steady 1M spans/s */
        p->now_us += PER_MSG;
        (void) span_batch_decode(buf + offs[m], offs[m + 1] - offs[m], on_span, p, &res);
        if (stage != STAGE_DECODE && m % 64 == 0)
            assembler_expire(p->as, p->now_us);
    }
    assembler_flush(p->as);
    batcher_flush(p->batcher);
    t1 = cpu_s();
    if (stage == STAGE_ALL)
        printf("    (JSON v2 written: %.1f bytes a span)\n",
               (double) p->shipped_bytes / (double) n);
    assembler_free(p->as);
    batcher_free(p->batcher);
    free(p);
    return (t1 - t0) / (double) n * 1e9;
}

static void
bench_inproc(size_t n)
{
    size_t len, n_msgs, *offs;
    uint8_t *buf = make_messages(n, &len, &offs, &n_msgs);
    double best[3] = {1e9, 1e9, 1e9};
    static const char *const names[] = {"decode (baseline)", "decode + assemble",
                                        "decode + assemble + sample + JSON v2 batches"};

    printf("in-process, one core, %zu spans (%.0f bytes a record, %d a message), best of 3:\n", n,
           (double) len / (double) n, (int) PER_MSG);
    for (int round = 0; round < 3; round++)
        for (int st = 0; st < 3; st++) {
            double ns = run_stage((enum stage) st, buf, offs, n_msgs, n);

            if (ns < best[st])
                best[st] = ns;
        }
    for (int st = 0; st < 3; st++)
        printf("  %-46s %7.0f ns/span  %9.0f spans/s  x%.1f baseline\n", names[st], best[st],
               1e9 / best[st], best[st] / best[0]);
    free(buf);
    free(offs);
}

/* ---- end to end --------------------------------------------------------------------------- */

static double
proc_cpu_s(pid_t pid)
{
    char path[64], line[1024], *p;
    unsigned long ut = 0, st = 0;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
    f = fopen(path, "r");
    if (f == NULL)
        return -1;
    if (fgets(line, sizeof(line), f) == NULL)
        line[0] = '\0';
    fclose(f);
    p = strrchr(line, ')');
    if (p == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (double) (ut + st) / (double) sysconf(_SC_CLK_TCK);
}

/* Sends the messages to <url>, paced at <rate> spans/s as meshd workers would send them. */
static void
push_paced(const char *url, const uint8_t *buf, const size_t *offs, size_t n_msgs, double rate)
{
    int sock = nn_socket(AF_SP, NN_PUSH), tmo = 10000;
    double t0;

    nn_setsockopt(sock, NN_SOL_SOCKET, NN_SNDTIMEO, &tmo, sizeof(tmo));
    nn_connect(sock, url);
    t0 = now_s();
    for (size_t m = 0; m < n_msgs; m++) {
        double due = t0 + (double) (m * PER_MSG) / rate;

        while (now_s() < due)
            usleep(200);
        if (nn_send(sock, buf + offs[m], offs[m + 1] - offs[m], 0) < 0) {
            fprintf(stderr, "nn_send: %s\n", nn_strerror(nn_errno()));
            break;
        }
    }
    usleep(100000); /* let the last messages leave before the socket closes */
    nn_close(sock);
}

/* The baseline: a process that only receives the same messages (PULL on a libev-less
 * blocking nn_recv loop) and frees them. Returns its CPU seconds. */
static double
baseline_receive(const char *dir, const uint8_t *buf, const size_t *offs, size_t n_msgs,
                 double rate)
{
    char url[320];
    struct rusage ru;
    pid_t pid;
    int st;

    snprintf(url, sizeof(url), "ipc://%s/baseline.ipc", dir);
    pid = fork();
    if (pid == 0) {
        int sock = nn_socket(AF_SP, NN_PULL);

        nn_bind(sock, url);
        for (size_t m = 0; m < n_msgs; m++) {
            void *msg;

            if (nn_recv(sock, &msg, NN_MSG, 0) < 0)
                _exit(1);
            nn_freemsg(msg);
        }
        _exit(0);
    }
    usleep(200000);
    push_paced(url, buf, offs, n_msgs, rate);
    if (wait4(pid, &st, 0, &ru) != pid)
        return -1;
    return (double) ru.ru_utime.tv_sec + (double) ru.ru_stime.tv_sec +
           (double) (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static int
bench_e2e(const char *bin, size_t n, double rate)
{
    char dir[] = "/tmp/meshagent-bench-XXXXXX", cfg[256], url[320], port_s[16], zurl[64];
    size_t len, n_msgs, *offs;
    uint8_t *buf = make_messages(n, &len, &offs, &n_msgs);
    int sink_port = 39411 + (int) (getpid() % 1000);
    struct zipkin_sink *sink;
    double t0, t1, c0, c1, base;
    unsigned got;
    FILE *f;
    pid_t pid;

    if (mkdtemp(dir) == NULL)
        return 1;
    snprintf(cfg, sizeof(cfg), "%s/c.yaml", dir);
    f = fopen(cfg, "w");
    fprintf(f, "routers:\n- protocol: http\n  servers: [{port: 4140}]\nmeshd: {runDir: %s}\n", dir);
    fclose(f);
    snprintf(url, sizeof(url), "ipc://%s/spans.ipc", dir);
    snprintf(zurl, sizeof(zurl), "http://127.0.0.1:%d/api/v2/spans", sink_port);
    snprintf(port_s, sizeof(port_s), "%d", sink_port + 1);
    sink = zipkin_sink_start(sink_port);
    pid = fork();
    if (pid == 0) {
        setenv("MESHAGENT_ZIPKIN_URL", zurl, 1);
        setenv("MESHAGENT_ADMIN_PORT", port_s, 1);
        setenv("MESHAGENT_WINDOW_IDLE_MS", "100", 1);
        setenv("MESHAGENT_BATCH_INTERVAL_MS", "100", 1);
        /* the pusher outruns any collector: queue the whole run, measure until all shipped */
        setenv("MESHAGENT_QUEUE_BYTES", "4294967296", 1);
        execl(bin, bin, cfg, (char *) NULL);
        _exit(127);
    }
    usleep(300000);
    c0 = proc_cpu_s(pid);
    t0 = now_s();
    push_paced(url, buf, offs, n_msgs, rate);
    while (zipkin_sink_n_spans(sink) < n && now_s() - t0 < 60)
        usleep(1000);
    t1 = now_s();
    c1 = proc_cpu_s(pid);
    printf("end to end (nanomsg IPC -> meshagent -> HTTP JSON v2 -> sink thread), %zu spans "
           "offered at %.0f/s:\n"
           "  %.2f s wall, %.0f spans/s; meshagent CPU %.2f s: %.0f spans per core-second, "
           "%.2f us a span; sink got %u spans in %u requests\n",
           n, rate, t1 - t0, (double) n / (t1 - t0), c1 - c0, (double) n / (c1 - c0),
           (c1 - c0) / (double) n * 1e6, zipkin_sink_n_spans(sink), zipkin_sink_requests(sink));
    got = zipkin_sink_n_spans(sink);
    base = baseline_receive(dir, buf, offs, n_msgs, rate);
    printf("  baseline, a process that only receives the same messages: CPU %.2f s, %.2f us a "
           "span; meshagent costs x%.1f the baseline\n",
           base, base / (double) n * 1e6, (c1 - c0) / base);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    zipkin_sink_free(sink);
    free(buf);
    free(offs);
    unlink(cfg);
    rmdir(dir);
    return got >= n ? 0 : 1;
}

int
main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 0;
    const char *bin = getenv("MESHAGENT");
    double rate = argc > 2 ? strtod(argv[2], NULL) : 0;
    const char *per = getenv("BENCH_PER_MSG");
    int r = 0;

    if (per != NULL && atoi(per) > 0)
        PER_MSG = (size_t) atoi(per);
    bench_inproc(n ? n : 2000000);
    if (bin != NULL && bin[0] != '\0')
        r = bench_e2e(bin, n ? n : 1000000, rate > 0 ? rate : 100000);
    return r == 0 && n_sink > 0 ? 0 : 1;
}
