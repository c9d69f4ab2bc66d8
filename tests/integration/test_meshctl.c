/* tests/integration/test_meshctl.c - meshctl as users run it, against real processes:
 * a meshd with two routers chained as on two nodes ("out" -> "in" -> mesh-testsrv), the
 * fake Zipkin query API of tests/tools/fake_zipkin.py in meshagent's place (canned traces,
 * agent-shaped metrics), and, when the build has it, a real meshagent fed by that meshd.
 *
 * meshctl runs as a child with its stdout and stderr captured, under LC_ALL=C (ASCII
 * glyphs) unless a test asks for UTF-8. */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "tests/lib/check_main.h"
#include "tests/lib/harness.h"

/* The 4-span trace and the 2-span trace of fake_zipkin.py. */
#define TRACE_A "4bf92f3577b34da6a3ce929d0e0e4736"
#define TRACE_B "5b8aa5a2d2c872e8321cf37308d69df2"

static int backend_port, out_port, in_port, admin_port, fake_port;
static const char *dir;
static struct harness_meshd md;
static pid_t agent_pid;
static char agent_log[600];

/* ---- running meshctl ------------------------------------------------------------------ */

struct run {
    int status; /* exit status, or -1 when it did not exit normally */
    char out[65536];
    char err[16384];
};

static struct run run; /* the last run; static: too big for Check's child stack comfort */

static long
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Runs $MESHCTL with the arguments in <args> (NULL-terminated); fills <run>. */
static int
ctl(const char *const *args)
{
    const char *bin = getenv("MESHCTL");
    char *argv[32];
    int outp[2], errp[2], n = 0, wst;
    size_t outlen = 0, errlen = 0;
    long deadline = now_ms() + 30000;
    bool out_open = true, err_open = true;
    pid_t pid;

    argv[n++] = (char *) (bin ? bin : "meshctl");
    for (const char *const *a = args; *a != NULL && n < 31; a++)
        argv[n++] = (char *) *a;
    argv[n] = NULL;
    ck_assert_int_eq(pipe(outp), 0);
    ck_assert_int_eq(pipe(errp), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(outp[1], 1);
        dup2(errp[1], 2);
        close(outp[0]);
        close(errp[0]);
        close(outp[1]);
        close(errp[1]);
        execv(argv[0], argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(outp[1]);
    close(errp[1]);
    while ((out_open || err_open) && now_ms() < deadline) {
        struct pollfd p[2] = {{.fd = out_open ? outp[0] : -1, .events = POLLIN},
                              {.fd = err_open ? errp[0] : -1, .events = POLLIN}};

        if (poll(p, 2, 100) <= 0)
            continue;
        if (p[0].revents) {
            ssize_t r = read(outp[0], run.out + outlen, sizeof(run.out) - 1 - outlen);

            if (r <= 0)
                out_open = false;
            else
                outlen += (size_t) r;
        }
        if (p[1].revents) {
            ssize_t r = read(errp[0], run.err + errlen, sizeof(run.err) - 1 - errlen);

            if (r <= 0)
                err_open = false;
            else
                errlen += (size_t) r;
        }
    }
    run.out[outlen] = '\0';
    run.err[errlen] = '\0';
    close(outp[0]);
    close(errp[0]);
    if (out_open || err_open)
        kill(pid, SIGKILL);
    ck_assert_int_eq(waitpid(pid, &wst, 0), pid);
    run.status = WIFEXITED(wst) ? WEXITSTATUS(wst) : -1;
    return run.status;
}

/* Runs meshctl and checks its exit status, showing its output when it differs. */
#define EXPECT_EXIT(code, ...)                                                                     \
    do {                                                                                           \
        int rc_ = ctl((const char *[]){__VA_ARGS__, NULL});                                        \
        ck_assert_msg(rc_ == (code), "meshctl exited %d, not %d\nstdout:\n%s\nstderr:\n%s", rc_,   \
                      (code), run.out, run.err);                                                   \
    } while (0)

/* The line of run.out that contains <needle>, copied to <line>; false if none. */
static bool
out_line(const char *needle, char *line, size_t len)
{
    const char *p = strstr(run.out, needle), *start, *end;

    if (p == NULL)
        return false;
    for (start = p; start > run.out && start[-1] != '\n'; start--)
        ;
    end = strchr(p, '\n');
    if (end == NULL)
        end = p + strlen(p);
    snprintf(line, len, "%.*s", (int) (end - start), start);
    return true;
}

/* Columns of a UTF-8 line (one per code point). */
static size_t
cols(const char *s, size_t len)
{
    size_t n = 0;

    for (size_t i = 0; i < len; i++)
        n += ((unsigned char) s[i] & 0xc0) != 0x80;
    return n;
}

static size_t
widest_line(const char *text)
{
    size_t widest = 0;

    while (*text) {
        const char *nl = strchr(text, '\n');
        size_t len = nl ? (size_t) (nl - text) : strlen(text);

        if (cols(text, len) > widest)
            widest = cols(text, len);
        text += len + (nl != NULL);
    }
    return widest;
}

/* ---- JSON ----------------------------------------------------------------------------- */

static struct json_object *
parse_json(const char *text)
{
    struct json_object *o = json_tokener_parse(text);

    ck_assert_msg(o != NULL, "not JSON: %.300s", text);
    return o;
}

/* Member <key> of <o> (which must have it). */
static struct json_object *
jget(struct json_object *o, const char *key)
{
    struct json_object *v = NULL;

    ck_assert_msg(json_object_object_get_ex(o, key, &v), "no \"%s\" in %s", key,
                  json_object_to_json_string(o));
    return v;
}

static double
jnum(struct json_object *o, const char *key)
{
    struct json_object *v = jget(o, key);

    return json_object_is_type(v, json_type_null) ? NAN : json_object_get_double(v);
}

/* meshd's /admin/metrics.json, parsed. */
static struct json_object *
meshd_metrics(void)
{
    struct harness_resp r;
    struct json_object *o;

    ck_assert_int_eq(harness_http(admin_port,
                                  "GET /admin/metrics.json HTTP/1.1\r\nHost: a\r\n"
                                  "Connection: close\r\n\r\n",
                                  &r),
                     0);
    ck_assert_int_eq(r.status, 200);
    o = parse_json(r.body);
    harness_resp_fini(&r);
    return o;
}

static double
metric(struct json_object *metrics, const char *prefix, const char *leaf)
{
    char name[512];
    struct json_object *v;

    snprintf(name, sizeof(name), "%s%s", prefix, leaf);
    if (!json_object_object_get_ex(metrics, name, &v))
        return NAN;
    return json_object_get_double(v);
}

/* <got> (from meshctl) equals metric <prefix><leaf>; both absent counts as equal. */
static void
check_figure(struct json_object *row, const char *key, struct json_object *metrics,
             const char *prefix, const char *leaf)
{
    double got = jnum(row, key), want = metric(metrics, prefix, leaf);

    if (isnan(want)) {
        ck_assert_msg(isnan(got), "%s%s: meshctl says %g, meshd has none", prefix, leaf, got);
        return;
    }
    ck_assert_msg(fabs(got - want) < 1e-9, "%s%s: meshctl says %g, meshd says %g", prefix, leaf,
                  got, want);
}

/* ---- fixtures ------------------------------------------------------------------------- */

static void
start_fake_zipkin(void)
{
    const char *script = getenv("FAKE_ZIPKIN");
    char port[16], logp[600];
    char *argv[] = {
        "/usr/bin/env", "python3", (char *) (script ? script : "tests/tools/fake_zipkin.py"),
        "--port",       port,      NULL};

    fake_port = harness_free_port();
    snprintf(port, sizeof(port), "%d", fake_port);
    snprintf(logp, sizeof(logp), "%s/fake_zipkin.log", dir);
    harness_spawn(argv, logp);
    if (harness_wait_port(fake_port, 10000) != 0) {
        harness_print_log(logp);
        ck_abort_msg("fake_zipkin.py did not start");
    }
}

static void
setup_common(void)
{
    dir = harness_tmpdir();
    setenv("LC_ALL", "C", 1);
    unsetenv("COLUMNS");
    unsetenv("MESHCTL_LOG_LEVEL");
    agent_pid = 0;
    memset(&md, 0, sizeof(md));
}

static void
setup_traces(void)
{
    setup_common();
    start_fake_zipkin();
}

/* The mesh: "out" routes every name to "in", "in" to the backend. <extra> is appended
 * to the config (telemetry, meshd settings). */
static void
start_mesh(const char *extra)
{
    char yaml[4096], logp[600], portstr[16];
    const char *bin = getenv("TESTSRV");
    char *argv[] = {(char *) (bin ? bin : "mesh-testsrv"), "--name", "hello", portstr, NULL};

    backend_port = harness_free_port();
    out_port = harness_free_port();
    in_port = harness_free_port();
    admin_port = harness_free_port();
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
             "- protocol: http\n"
             "  label: in\n"
             "  dtab: /svc => /$/inet/127.0.0.1/%d;\n"
             "  servers: [{ip: 127.0.0.1, port: %d}]\n"
             "%s",
             admin_port, in_port, out_port, backend_port, in_port,
             extra ? extra : "meshd: {workers: 2}\n");
    ck_assert_msg(harness_meshd_start(&md, yaml, admin_port) == 0, "meshd did not start");
    ck_assert_int_eq(harness_wait_port(out_port, 5000), 0);
}

static void
setup_stats(void)
{
    setup_common();
    start_mesh(NULL);
}

static void
teardown(void)
{
    char bad[1024] = "";
    bool clean = true;

    if (md.pid > 0 && kill(md.pid, 0) == 0)
        (void) harness_signal_wait(md.pid, SIGTERM, 10000);
    if (agent_pid > 0 && kill(agent_pid, 0) == 0)
        (void) harness_signal_wait(agent_pid, SIGTERM, 10000);
    if (md.log_path[0])
        clean = harness_log_clean(md.log_path, bad, sizeof(bad));
    if (!clean)
        harness_print_log(md.log_path);
    harness_cleanup();
    memset(&md, 0, sizeof(md));
    ck_assert_msg(clean, "meshd log: %s", bad);
}

/* GETs <path> with Host <host> through router "out" and expects <status>. */
static void
request(const char *host, const char *path, int status)
{
    ck_assert_int_eq(harness_get(out_port, host, path, NULL, 0), status);
}

/* ---- stats ---------------------------------------------------------------------------- */

START_TEST(test_meshctl_stats_json_matches_admin_metrics)
{
    struct json_object *doc, *metrics, *meshd, *routers;
    static const char *const labels[] = {"out", "in"};
    static const char *const lists[] = {"servers", "services", "clients"};
    static const char *const kinds[] = {"server", "service", "client"};
    char admin[32];

    for (int i = 0; i < 5; i++)
        request("hello", "/", 200);
    request("hello", "/status?code=500", 500);
    request("world", "/", 200);
    snprintf(admin, sizeof(admin), "127.0.0.1:%d", admin_port);
    EXPECT_EXIT(0, "stats", "--config", md.cfg_path, "--no-agent", "--json");
    doc = parse_json(run.out);
    metrics = meshd_metrics();
    ck_assert_msg(json_object_is_type(jget(doc, "agent"), json_type_null), "%s", run.out);
    ck_assert(jnum(doc, "interval_s") > 0.9 && jnum(doc, "interval_s") < 5);
    meshd = jget(doc, "meshd");
    ck_assert(json_object_get_boolean(jget(meshd, "reachable")));
    ck_assert_str_eq(json_object_get_string(jget(meshd, "admin")), admin);
    ck_assert(jnum(meshd, "workers") == metric(metrics, "meshd/", "workers"));
    ck_assert(jnum(meshd, "reloads") == metric(metrics, "meshd/", "reloads"));
    routers = jget(meshd, "routers");
    ck_assert_int_eq(json_object_array_length(routers), 2);
    for (size_t i = 0; i < 2; i++) {
        struct json_object *r = json_object_array_get_idx(routers, i);
        double sum_requests = 0;

        /* config order, not name order */
        ck_assert_str_eq(json_object_get_string(jget(r, "label")), labels[i]);
        for (size_t l = 0; l < 3; l++) {
            struct json_object *rows = jget(r, lists[l]);

            ck_assert_int_ge(json_object_array_length(rows), 1);
            for (size_t k = 0; k < json_object_array_length(rows); k++) {
                struct json_object *row = json_object_array_get_idx(rows, k);
                const char *prefix = json_object_get_string(jget(row, "metric_prefix"));
                char want_prefix[64];

                snprintf(want_prefix, sizeof(want_prefix), "rt/%s/%s/", labels[i], kinds[l]);
                ck_assert_msg(strncmp(prefix, want_prefix, strlen(want_prefix)) == 0,
                              "%s is not under %s", prefix, want_prefix);
                check_figure(row, "requests", metrics, prefix, "requests");
                check_figure(row, "success", metrics, prefix, "success");
                check_figure(row, "failures", metrics, prefix, "failures");
                check_figure(row, "pending", metrics, prefix, "pending");
                check_figure(row, "p50_ms", metrics, prefix, "request_latency_ms.p50");
                check_figure(row, "p99_ms", metrics, prefix, "request_latency_ms.p99");
                if (l != 1)
                    check_figure(row, "connections", metrics, prefix, "connections");
                if (l == 2) {
                    check_figure(row, "loadbalancer_size", metrics, prefix, "loadbalancer/size");
                    check_figure(row, "failure_accrual_removals", metrics, prefix,
                                 "failure_accrual/removals");
                }
                if (l == 0)
                    sum_requests += jnum(row, "requests");
                /* idle during the sampling: no rate, success rate only since start */
                ck_assert(jnum(row, "rps") == 0);
                ck_assert(isnan(jnum(row, "success_rate")));
                ck_assert(fabs(jnum(row, "success_rate_total") -
                               jnum(row, "success") /
                                   (jnum(row, "success") + jnum(row, "failures"))) < 1e-9);
            }
        }
        ck_assert(jnum(jget(r, "total"), "requests") == sum_requests);
        ck_assert(sum_requests == 7);
    }
    /* the two logical names "out" saw, with the 500 counted as a failure of /svc/hello */
    {
        struct json_object *svcs = jget(json_object_array_get_idx(routers, 0), "services");

        ck_assert_int_eq(json_object_array_length(svcs), 2);
        ck_assert_str_eq(json_object_get_string(jget(json_object_array_get_idx(svcs, 0), "name")),
                         "/svc/hello");
        ck_assert(jnum(json_object_array_get_idx(svcs, 0), "requests") == 6);
        ck_assert(jnum(json_object_array_get_idx(svcs, 0), "failures") == 1);
        ck_assert_str_eq(json_object_get_string(jget(json_object_array_get_idx(svcs, 1), "name")),
                         "/svc/world");
    }
    json_object_put(metrics);
    json_object_put(doc);
}
END_TEST

/* Requests keep coming while meshctl samples: the rate is positive and consistent with
 * the counters. */
START_TEST(test_meshctl_stats_rate_under_load)
{
    struct json_object *doc, *out;
    pid_t loader = fork();
    double rps, total;

    ck_assert_int_ge(loader, 0);
    if (loader == 0) {
        long end = now_ms() + 2500;

        while (now_ms() < end)
            (void) harness_get(out_port, "hello", "/", NULL, 0);
        _exit(0);
    }
    usleep(200000);
    EXPECT_EXIT(0, "stats", "--config", md.cfg_path, "--no-agent", "--json");
    ck_assert_int_eq(waitpid(loader, NULL, 0), loader);
    doc = parse_json(run.out);
    out = json_object_array_get_idx(jget(jget(doc, "meshd"), "routers"), 0);
    rps = jnum(jget(out, "total"), "rps");
    total = jnum(jget(out, "total"), "requests");
    ck_assert_msg(rps > 0, "rps %g", rps);
    ck_assert_msg(rps * jnum(doc, "interval_s") <= total + 1e-6, "rps %g total %g", rps, total);
    ck_assert(jnum(jget(out, "total"), "success_rate") == 1.0);
    json_object_put(doc);
}
END_TEST

START_TEST(test_meshctl_stats_screen_fits_80_columns)
{
    char line[512];

    request("hello", "/", 200);
    request("a-rather-long-service-name-that-will-not-fit.example.org", "/", 200);
    setenv("LC_ALL", "C.UTF-8", 1);
    EXPECT_EXIT(0, "stats", "--config", md.cfg_path, "--no-agent", "--width", "80");
    ck_assert_msg(widest_line(run.out) <= 80, "%s", run.out);
    ck_assert_msg(out_line("ROUTER / SERVICE / CLIENT", line, sizeof(line)), "%s", run.out);
    ck_assert_ptr_nonnull(strstr(line, "REQ/S"));
    ck_assert_ptr_nonnull(strstr(line, "P99"));
    /* one line per router with its server, then its services and clients */
    ck_assert_msg(out_line("out 127.0.0.1:", line, sizeof(line)), "%s", run.out);
    ck_assert_msg(out_line("  service /svc/hello ", line, sizeof(line)), "%s", run.out);
    ck_assert_ptr_nonnull(strstr(line, "100.00%"));
    /* a long name keeps its start and its end, cut in the middle */
    ck_assert_msg(out_line("  service /svc/a-rat", line, sizeof(line)), "%s", run.out);
    ck_assert_ptr_nonnull(strstr(line, "\u2026"));
    ck_assert_ptr_nonnull(strstr(line, ".org "));
    ck_assert_ptr_null(strstr(line, "will-not-fit"));
    /* the same at 120 columns shows it whole */
    EXPECT_EXIT(0, "stats", "--config", md.cfg_path, "--no-agent", "--width", "120");
    ck_assert_ptr_nonnull(strstr(run.out, "/svc/a-rather-long-service-name-that-will-not-fit"));
    ck_assert(widest_line(run.out) <= 120);
}
END_TEST

START_TEST(test_meshctl_stats_names_the_unreachable_agent)
{
    char agent[32], line[512];
    struct json_object *doc;

    snprintf(agent, sizeof(agent), "127.0.0.1:%d", harness_free_port());
    request("hello", "/", 200);
    EXPECT_EXIT(1, "stats", "--config", md.cfg_path, "--agent", agent);
    ck_assert_msg(out_line("agent 127.0.0.1:", line, sizeof(line)), "%s", run.out);
    ck_assert_ptr_nonnull(strstr(line, agent));
    ck_assert_ptr_nonnull(strstr(line, "UNREACHABLE"));
    ck_assert_ptr_nonnull(strstr(line, "refused"));
    /* meshd is still shown */
    ck_assert_msg(out_line("meshd 127.0.0.1:", line, sizeof(line)), "%s", run.out);
    ck_assert_ptr_null(strstr(line, "UNREACHABLE"));
    ck_assert_msg(out_line("  service /svc/hello", line, sizeof(line)), "%s", run.out);

    EXPECT_EXIT(1, "stats", "--config", md.cfg_path, "--agent", agent, "--json");
    ck_assert_ptr_nonnull(strstr(run.err, agent));
    doc = parse_json(run.out);
    ck_assert(json_object_get_boolean(jget(jget(doc, "meshd"), "reachable")));
    ck_assert(!json_object_get_boolean(jget(jget(doc, "agent"), "reachable")));
    ck_assert_str_eq(json_object_get_string(jget(jget(doc, "agent"), "admin")), agent);
    ck_assert_ptr_nonnull(
        strstr(json_object_get_string(jget(jget(doc, "agent"), "error")), "refused"));
    ck_assert_int_eq(json_object_array_length(jget(jget(doc, "meshd"), "routers")), 2);
    json_object_put(doc);
}
END_TEST

/* meshd down, the agent up (the fake): the agent's books are shown, meshd is named. */
START_TEST(test_meshctl_stats_names_the_unreachable_meshd)
{
    char admin[32], agent[32], line[512];

    start_fake_zipkin();
    snprintf(admin, sizeof(admin), "127.0.0.1:%d", harness_free_port());
    snprintf(agent, sizeof(agent), "127.0.0.1:%d", fake_port);
    EXPECT_EXIT(1, "stats", "--admin", admin, "--agent", agent);
    ck_assert_msg(out_line("meshd ", line, sizeof(line)), "%s", run.out);
    ck_assert_ptr_nonnull(strstr(line, admin));
    ck_assert_ptr_nonnull(strstr(line, "UNREACHABLE"));
    ck_assert_msg(out_line("agent ", line, sizeof(line)), "%s", run.out);
    ck_assert_ptr_nonnull(strstr(line, agent));
    ck_assert_ptr_nonnull(strstr(line, "collector UNREACHABLE:"));
    ck_assert_ptr_nonnull(strstr(run.out, "http://zipkin.example:9411/api/v2/spans\n"));
    ck_assert_msg(widest_line(run.out) <= 80, "%s", run.out);
    ck_assert_ptr_nonnull(strstr(run.out, "  spans: 42 received, 37 shipped, 5 dropped"));
    ck_assert_ptr_nonnull(strstr(
        run.out, "  queue: 7 spans, 2048 bytes; spool: 11 spans, 4096 bytes; invalid records: 1"));
    ck_assert_ptr_nonnull(strstr(run.out, "  dropped: queue_full 3, unsampled 2\n"));
}
END_TEST

START_TEST(test_meshctl_stats_watch_refreshes)
{
    int n = 0;

    EXPECT_EXIT(0, "stats", "--config", md.cfg_path, "--no-agent", "--json", "--watch", "0.3",
                "--count", "3");
    for (char *line = strtok(run.out, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        struct json_object *doc = parse_json(line);
        double dt = jnum(doc, "interval_s");

        ck_assert_msg(dt > 0.25 && dt < 2, "interval %g", dt);
        json_object_put(doc);
        n++;
    }
    ck_assert_int_eq(n, 3);
}
END_TEST

START_TEST(test_meshctl_stats_default_watch_is_a_usage_error_without_watch)
{
    EXPECT_EXIT(2, "stats", "--count", "2");
    ck_assert_ptr_nonnull(strstr(run.err, "--count goes with --watch"));
    EXPECT_EXIT(2, "stats", "--watch", "fast");
    EXPECT_EXIT(2, "stats", "--admin", "nohostport:");
    EXPECT_EXIT(2, "stats", "--no-agent", "--agent", "1.2.3.4:5");
}
END_TEST

/* ---- config check --------------------------------------------------------------------- */

START_TEST(test_meshctl_config_check_exit_codes)
{
    char good[600], bad[600], badip[600], line[512];

    snprintf(good, sizeof(good), "%s/good.yaml", dir);
    snprintf(bad, sizeof(bad), "%s/bad.yaml", dir);
    snprintf(badip, sizeof(badip), "%s/badip.yaml", dir);
    harness_write_file(good, "admin: {port: 9990}\n"
                             "routers:\n"
                             "- protocol: http\n"
                             "  label: outgoing\n"
                             "  dtab: /svc => /$/inet/127.0.0.1/7001;\n");
    harness_write_file(bad, "routers:\n"
                            "- protocol: http\n"
                            "  label: outgoing\n"
                            "  bogus: 1\n");
    harness_write_file(badip, "namers:\n"
                              "- kind: io.l5d.fs\n"
                              "  rootDir: /nonexistent/meshctl-test\n"
                              "routers:\n"
                              "- protocol: http\n");
    EXPECT_EXIT(0, "config", "check", good);
    ck_assert_msg(out_line(": ok", line, sizeof(line)), "%s", run.out);
    ck_assert_ptr_nonnull(strstr(line, "outgoing"));

    EXPECT_EXIT(1, "config", "check", bad);
    ck_assert_msg(strstr(run.err, ":4:3: routers[0].bogus: unknown key") != NULL, "%s", run.err);
    ck_assert_ptr_nonnull(strstr(run.err, "1 problem found"));

    EXPECT_EXIT(1, "config", "check", badip);
    ck_assert_msg(strstr(run.err, "namers[0].rootDir") != NULL, "%s", run.err);

    EXPECT_EXIT(1, "config", "check", "/nonexistent/meshctl.yaml");
    ck_assert_ptr_nonnull(strstr(run.err, "cannot read"));

    EXPECT_EXIT(2, "config", "check");
    EXPECT_EXIT(2, "config", "lint", good);
    EXPECT_EXIT(2, "config");
}
END_TEST

/* ---- dtab resolve ----------------------------------------------------------------------- */

/* Offline, from a config file: the union, its weights, the fs namer's addresses, the
 * transformer, a --dtab override, and the refusals. */
START_TEST(test_meshctl_dtab_resolve_offline)
{
    char cfgp[600], disco[600], f[700], yaml[2048], line[512];

    snprintf(disco, sizeof(disco), "%s/disco", dir);
    ck_assert_int_eq(mkdir(disco, 0755), 0);
    snprintf(f, sizeof(f), "%s/world-v1", disco);
    harness_write_file(f, "10.1.0.3 80\n");
    snprintf(f, sizeof(f), "%s/world-v2", disco);
    harness_write_file(f, "10.1.0.1 80 * 2\n10.1.0.2 80\n");
    snprintf(cfgp, sizeof(cfgp), "%s/c.yaml", dir);
    snprintf(yaml, sizeof(yaml),
             "namers: [{kind: io.l5d.fs, rootDir: '%s'}]\n"
             "routers:\n"
             "- protocol: http\n"
             "  label: outgoing\n"
             "  dtab: /svc => /#/io.l5d.fs; /svc/world => 0.8 * /#/io.l5d.fs/world-v1 & "
             "0.2 * /#/io.l5d.fs/world-v2;\n"
             "  interpreter: {kind: default, transformers: [{kind: io.l5d.port, port: 4141}]}\n"
             "  servers: [{port: 4140}]\n"
             "- protocol: http\n"
             "  label: incoming\n"
             "  dtab: /svc => /$/inet/127.0.0.1/7002;\n"
             "  servers: [{port: 4141}]\n",
             disco);
    harness_write_file(cfgp, yaml);

    EXPECT_EXIT(0, "dtab", "resolve", "--config", cfgp, "/svc/world");
    ck_assert_msg(out_line("union /svc/world", line, sizeof(line)), "%s", run.out);
    ck_assert_msg(out_line("weight 0.8", line, sizeof(line)), "%s", run.out);
    ck_assert_msg(out_line("weight 0.2", line, sizeof(line)), "%s", run.out);
    ck_assert_msg(out_line("leaf /#/io.l5d.fs/world-v2", line, sizeof(line)), "%s", run.out);
    ck_assert_msg(strstr(line, "10.1.0.1:80 *2, 10.1.0.2:80") != NULL, "%s", line);
    ck_assert_msg(out_line("by io.l5d.port", line, sizeof(line)), "%s", run.out);
    ck_assert_msg(strstr(run.out, "10.1.0.3:4141") != NULL, "%s", run.out);
    /* the earlier dentry is a fallback nobody used */
    ck_assert_msg(out_line("neg /#/io.l5d.fs/world  (unused)", line, sizeof(line)), "%s", run.out);

    EXPECT_EXIT(0, "dtab", "resolve", "-c", cfgp, "--router", "incoming", "--dtab",
                "/svc/world => /$/inet/127.0.0.1/9", "--json", "/svc/world");
    ck_assert_msg(strncmp(run.out, "{\"type\":\"delegate\",", 19) == 0, "%s", run.out);
    ck_assert_msg(strstr(run.out, "\"ip\":\"127.0.0.1\",\"port\":9") != NULL, "%s", run.out);

    EXPECT_EXIT(1, "dtab", "resolve", "-c", cfgp, "--dtab", "/svc =>", "/svc/x");
    ck_assert_msg(strstr(run.err, "dtab:") != NULL, "%s", run.err);
    EXPECT_EXIT(1, "dtab", "resolve", "-c", cfgp, "--router", "nosuch", "/svc/x");
    ck_assert_msg(strstr(run.err, "no router labelled \"nosuch\"") != NULL, "%s", run.err);
    EXPECT_EXIT(1, "dtab", "resolve", "-c", cfgp, "svc-without-slash");
    EXPECT_EXIT(1, "dtab", "resolve", "-c", "/nonexistent/meshctl.yaml", "/svc/x");
    EXPECT_EXIT(2, "dtab", "resolve", "-c", cfgp, "-a", "127.0.0.1:1", "/svc/x");
    EXPECT_EXIT(2, "dtab", "resolve");
    EXPECT_EXIT(2, "dtab", "lookup", "/svc/x");
}
END_TEST

/* From a running meshd's /delegator.json, with a dtab of the request's own. */
START_TEST(test_meshctl_dtab_resolve_admin)
{
    char admin[32], line[512], want[64];

    snprintf(admin, sizeof(admin), "127.0.0.1:%d", admin_port);
    EXPECT_EXIT(0, "dtab", "resolve", "--admin", admin, "/svc/hello");
    ck_assert_msg(out_line("leaf /$/inet/127.0.0.1/", line, sizeof(line)), "%s", run.out);
    snprintf(want, sizeof(want), "127.0.0.1:%d", in_port);
    ck_assert_msg(strstr(line, want) != NULL, "%s", line);
    EXPECT_EXIT(0, "dtab", "resolve", "--admin", admin, "--router", "in", "--dtab",
                "/svc/hello => /$/fail", "/svc/hello");
    ck_assert_msg(out_line("fail /$/fail", line, sizeof(line)), "%s", run.out);
    EXPECT_EXIT(1, "dtab", "resolve", "--admin", admin, "--router", "nosuch", "/svc/hello");
    ck_assert_msg(strstr(run.err, "404") != NULL, "%s", run.err);
    EXPECT_EXIT(1, "dtab", "resolve", "--admin", "127.0.0.1:1", "/svc/hello");
    ck_assert_msg(strstr(run.err, "127.0.0.1:1") != NULL, "%s", run.err);
}
END_TEST

/* ---- traces --------------------------------------------------------------------------- */

/* Leading spaces of <line>. */
static int
indent_of(const char *line)
{
    int n = 0;

    while (line[n] == ' ')
        n++;
    return n;
}

START_TEST(test_meshctl_trace_tree_order_and_indentation)
{
    static const char *const want[] = {
        "frontend: get /", "frontend: get /users", "users: get /users",
        "error: 500",      "frontend: get /audit",
    };
    static const int want_indent[] = {0, 2, 4, 6, 2};
    static const char *const want_kind[] = {"SERVER", "CLIENT", "SERVER", NULL, "CLIENT"};
    char agent[32], *lines[16] = {NULL}, *bars[16] = {NULL};
    int n = 0;

    snprintf(agent, sizeof(agent), "127.0.0.1:%d", fake_port);
    EXPECT_EXIT(0, "trace", "--agent", agent, "--width", "100", TRACE_A);
    ck_assert_msg(widest_line(run.out) <= 100, "%s", run.out);
    ck_assert_msg(strncmp(run.out, "trace " TRACE_A "\n", 39) == 0, "%s", run.out);
    ck_assert_ptr_nonnull(strstr(run.out, "4 spans, 2 services, 1 error, 10.0ms"));
    for (char *l = strtok(strstr(run.out, "SERVICE: SPAN"), "\n"); l && n < 16;
         l = strtok(NULL, "\n"))
        lines[n++] = l;
    ck_assert_int_eq(n, 6); /* the column header, 4 spans, 1 error line */
    ck_assert_ptr_nonnull(strstr(lines[0], "KIND"));
    for (int i = 0; i < 5; i++) {
        const char *l = lines[i + 1];

        ck_assert_msg(strncmp(l + indent_of(l), want[i], strlen(want[i])) == 0,
                      "line %d: '%s', want '%s'", i, l, want[i]);
        ck_assert_msg(indent_of(l) == want_indent[i], "line %d: '%s': indent %d, want %d", i, l,
                      indent_of(l), want_indent[i]);
        if (want_kind[i] != NULL) {
            ck_assert_msg(strstr(l, want_kind[i]) != NULL, "'%s' lacks %s", l, want_kind[i]);
            bars[i] = strchr(l, '|');
            ck_assert_ptr_nonnull(bars[i]);
            ck_assert_msg(strlen(l) == 100, "'%s' is %zu wide", l, strlen(l));
        }
    }
    /* durations, and bars placed in time: the root covers the whole trace, /users starts
     * 10% in and ends at 70%, its server starts later and ends sooner, /audit is last */
    ck_assert_ptr_nonnull(strstr(lines[1], " 10.0ms |"));
    ck_assert_ptr_nonnull(strstr(lines[2], " 6.00ms |"));
    ck_assert_ptr_nonnull(strstr(lines[3], " 4.00ms |"));
    ck_assert_ptr_nonnull(strstr(lines[5], " 2.00ms |"));
    {
        size_t w = strlen(bars[0]) - 2, a0, a1, b0, b1, c0, c1, r0, r1;

        r0 = strspn(bars[0] + 1, " ");
        r1 = r0 + strspn(bars[0] + 1 + r0, "#");
        a0 = strspn(bars[1] + 1, " ");
        a1 = a0 + strspn(bars[1] + 1 + a0, "#");
        b0 = strspn(bars[2] + 1, " ");
        b1 = b0 + strspn(bars[2] + 1 + b0, "#");
        c0 = strspn(bars[4] + 1, " ");
        c1 = c0 + strspn(bars[4] + 1 + c0, "#");
        ck_assert_msg(r0 == 0 && r1 == w, "root bar '%s'", bars[0]);
        ck_assert_msg(a0 == w / 10 && a1 >= w * 7 / 10 && a1 <= w * 7 / 10 + 1, "'%s'", bars[1]);
        ck_assert_msg(b0 > a0 && b1 < a1, "'%s' within '%s'", bars[2], bars[1]);
        ck_assert_msg(c0 >= a1 && c1 <= w && c0 == w * 75 / 100, "'%s'", bars[4]);
    }

    /* UTF-8 terminals get blocks */
    setenv("LC_ALL", "C.UTF-8", 1);
    EXPECT_EXIT(0, "trace", "--agent", agent, TRACE_A);
    ck_assert_ptr_nonnull(strstr(run.out, "|\u2588\u2588\u2588"));
    ck_assert_msg(widest_line(run.out) <= 80, "%s", run.out);
}
END_TEST

START_TEST(test_meshctl_traces_lists_recent_first)
{
    char agent[32], line[512];
    const char *a, *b;

    snprintf(agent, sizeof(agent), "127.0.0.1:%d", fake_port);
    EXPECT_EXIT(0, "traces", "--agent", agent);
    ck_assert_ptr_nonnull(strstr(run.out, "TRACE ID"));
    a = strstr(run.out, TRACE_A);
    b = strstr(run.out, TRACE_B);
    ck_assert(a != NULL && b != NULL && b < a); /* B started a minute later */
    ck_assert(out_line(TRACE_A, line, sizeof(line)));
    ck_assert_msg(strstr(line, "     4   1 10.0ms frontend: get /") != NULL, "'%s'", line);
    ck_assert(out_line(TRACE_B, line, sizeof(line)));
    ck_assert_msg(strstr(line, "     2     3.00ms billing: post /charge") != NULL, "'%s'", line);
    ck_assert(widest_line(run.out) <= 80);

    EXPECT_EXIT(0, "traces", "--agent", agent, "--service", "users");
    ck_assert_ptr_nonnull(strstr(run.out, TRACE_A));
    ck_assert_ptr_null(strstr(run.out, TRACE_B));

    EXPECT_EXIT(0, "traces", "--agent", agent, "--limit", "1");
    ck_assert_ptr_null(strstr(run.out, TRACE_A));
    ck_assert_ptr_nonnull(strstr(run.out, TRACE_B));

    EXPECT_EXIT(0, "traces", "--agent", agent, "--service", "nobody here");
    ck_assert_ptr_nonnull(strstr(run.out, "no traces with service 'nobody here'"));
}
END_TEST

START_TEST(test_meshctl_trace_errors)
{
    char agent[32], gone[32];

    snprintf(agent, sizeof(agent), "127.0.0.1:%d", fake_port);
    snprintf(gone, sizeof(gone), "127.0.0.1:%d", harness_free_port());
    EXPECT_EXIT(1, "trace", "--agent", agent, "00000000deadbeef");
    ck_assert_ptr_nonnull(strstr(run.err, "trace 00000000deadbeef not found"));
    EXPECT_EXIT(2, "trace", "--agent", agent, "not-hex");
    EXPECT_EXIT(2, "trace", "--agent", agent);
    EXPECT_EXIT(1, "trace", "--agent", gone, TRACE_A);
    ck_assert_ptr_nonnull(strstr(run.err, gone));
    ck_assert_ptr_nonnull(strstr(run.err, "could not be reached"));
    EXPECT_EXIT(1, "traces", "--agent", gone);
    ck_assert_ptr_nonnull(strstr(run.err, gone));
    EXPECT_EXIT(2, "traces", "--agent", agent, "--limit", "0");
    EXPECT_EXIT(2, "traces", "--agent", agent, "extra");
}
END_TEST

START_TEST(test_meshctl_help_and_usage)
{
    static const char *const cmds[] = {"stats", "traces", "trace", "config"};

    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        char want[64];

        EXPECT_EXIT(0, cmds[i], "--help");
        snprintf(want, sizeof(want), "usage: meshctl %s", cmds[i]);
        ck_assert_msg(strstr(run.out, want) != NULL, "%s", run.out);
        ck_assert_ptr_nonnull(strstr(run.out, "Exit status"));
        ck_assert_msg(widest_line(run.out) <= 80, "%s --help is too wide", cmds[i]);
        EXPECT_EXIT(2, cmds[i], "--no-such-option");
    }
    EXPECT_EXIT(0, "--help");
    ck_assert_ptr_nonnull(strstr(run.out, "stats"));
    EXPECT_EXIT(2, "frobnicate");
    ck_assert_int_eq(ctl((const char *[]){NULL}), 2);
    EXPECT_EXIT(0, "--version");
    ck_assert_ptr_nonnull(strstr(run.out, "meshctl "));
}
END_TEST

/* ---- with a real meshagent ------------------------------------------------------------ */

START_TEST(test_meshctl_real_agent_trace_of_two_hops)
{
    const char *bin = getenv("MESHAGENT");
    char extra[1024], agent[32], port[16], id[64] = "", *argv[3];
    struct json_object *doc, *ag;
    long deadline;
    static const int want_indent[] = {0, 2, 4, 6};
    static const char *const want_kind[] = {"SERVER", "CLIENT", "SERVER", "CLIENT"};

    if (bin == NULL) {
        fprintf(stderr, "test_meshctl_real_agent_trace_of_two_hops: MESHAGENT not set, "
                        "skipped\n");
        return;
    }
    snprintf(extra, sizeof(extra),
             "telemetry:\n"
             "- kind: io.l5d.zipkin\n"
             "  sampleRate: 1.0\n"
             "meshd: {workers: 1, agentSocket: \"ipc://%s/spans.ipc\"}\n",
             dir);
    start_mesh(extra);
    snprintf(port, sizeof(port), "%d", harness_free_port());
    snprintf(agent, sizeof(agent), "127.0.0.1:%s", port);
    snprintf(agent_log, sizeof(agent_log), "%s/meshagent.log", dir);
    setenv("MESHAGENT_ADMIN_PORT", port, 1);
    setenv("MESHAGENT_WINDOW_IDLE_MS", "50", 1);
    argv[0] = (char *) bin;
    argv[1] = md.cfg_path;
    argv[2] = NULL;
    agent_pid = harness_spawn(argv, agent_log);
    unsetenv("MESHAGENT_ADMIN_PORT");
    unsetenv("MESHAGENT_WINDOW_IDLE_MS");
    if (harness_wait_port((int) strtol(port, NULL, 10), 10000) != 0) {
        harness_print_log(agent_log);
        ck_abort_msg("meshagent did not start");
    }
    usleep(200000); /* meshd's PUSH connects to the agent's socket */
    request("hello", "/", 200);
    deadline = now_ms() + 10000;
    while (now_ms() < deadline) {
        char line[512];

        EXPECT_EXIT(0, "traces", "--agent", agent);
        if (out_line("127.0.0.1/", line, sizeof(line))) {
            ck_assert_int_eq(sscanf(line, "%63s", id), 1);
            ck_assert_msg(strstr(line, "     4 ") != NULL, "'%s'", line);
            break;
        }
        usleep(100000);
    }
    ck_assert_msg(id[0] != '\0', "no trace reached the agent: %s", run.out);
    EXPECT_EXIT(0, "trace", "--agent", agent, id);
    {
        char *l;

        ck_assert_ptr_nonnull(strtok(strstr(run.out, "SERVICE: SPAN"), "\n")); /* header */
        for (int i = 0; i < 4; i++) {
            l = strtok(NULL, "\n");
            ck_assert_ptr_nonnull(l);
            ck_assert_msg(indent_of(l) == want_indent[i], "'%s'", l);
            ck_assert_msg(strstr(l, want_kind[i]) != NULL, "'%s'", l);
        }
        ck_assert_ptr_null(strtok(NULL, "\n"));
    }
    EXPECT_EXIT(0, "stats", "--config", md.cfg_path, "--agent", agent, "--json");
    doc = parse_json(run.out);
    ag = jget(doc, "agent");
    ck_assert(json_object_get_boolean(jget(ag, "reachable")));
    ck_assert(jnum(ag, "spans_received") == 4);
    ck_assert(jnum(ag, "store_traces") == 1);
    ck_assert_str_eq(json_object_get_string(jget(ag, "collector")), "");
    ck_assert(jnum(jget(doc, "meshd"), "spans_sent") == 4);
    json_object_put(doc);
}
END_TEST

static Suite *
meshctl_suite(void)
{
    Suite *s = suite_create("meshctl");
    TCase *tc = tcase_create("stats");

    tcase_add_checked_fixture(tc, setup_stats, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_meshctl_stats_json_matches_admin_metrics);
    tcase_add_test(tc, test_meshctl_stats_rate_under_load);
    tcase_add_test(tc, test_meshctl_stats_screen_fits_80_columns);
    tcase_add_test(tc, test_meshctl_stats_names_the_unreachable_agent);
    tcase_add_test(tc, test_meshctl_stats_watch_refreshes);
    tcase_add_test(tc, test_meshctl_dtab_resolve_admin);
    suite_add_tcase(s, tc);

    tc = tcase_create("stats_alone");
    tcase_add_checked_fixture(tc, setup_common, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_meshctl_stats_names_the_unreachable_meshd);
    tcase_add_test(tc, test_meshctl_stats_default_watch_is_a_usage_error_without_watch);
    tcase_add_test(tc, test_meshctl_config_check_exit_codes);
    tcase_add_test(tc, test_meshctl_dtab_resolve_offline);
    tcase_add_test(tc, test_meshctl_help_and_usage);
    suite_add_tcase(s, tc);

    tc = tcase_create("traces");
    tcase_add_checked_fixture(tc, setup_traces, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_meshctl_trace_tree_order_and_indentation);
    tcase_add_test(tc, test_meshctl_traces_lists_recent_first);
    tcase_add_test(tc, test_meshctl_trace_errors);
    suite_add_tcase(s, tc);

    tc = tcase_create("real_agent");
    tcase_add_checked_fixture(tc, setup_common, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_meshctl_real_agent_trace_of_two_hops);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(meshctl_suite)
