/* tests/integration/test_proxy.c - meshd with real processes on loopback: a real meshd
 * (master + workers) in front of real mesh-testsrv backends, driven over raw sockets. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/lib/check_main.h"
#include "tests/lib/harness.h"

static int backend_port, backend2_port, proxy_port, admin_port;
static const char *fsdir;
static char base_yaml[4096];

static pid_t
start_backend(int port, const char *name)
{
    char portstr[16], logp[600];
    const char *bin = getenv("TESTSRV");
    char *argv[] = {(char *) (bin ? bin : "mesh-testsrv"), "--name", (char *) name, portstr, NULL};
    pid_t pid;

    snprintf(portstr, sizeof(portstr), "%d", port);
    snprintf(logp, sizeof(logp), "%s/%s.log", fsdir, name);
    pid = harness_spawn(argv, logp);
    ck_assert_int_eq(harness_wait_port(port, 5000), 0);
    return pid;
}

/* A config with one router "out": /svc/hello via the fs namer, /svc/dead to a closed
 * port, /svc/slow through a 500 ms total timeout router... (see per-test yaml). */
static void
make_yaml(char *out, size_t len, unsigned workers, const char *extra_router_keys)
{
    snprintf(out, len,
             "admin: {ip: 127.0.0.1, port: %d}\n"
             "namers:\n"
             "- kind: io.l5d.fs\n"
             "  rootDir: %s/disco\n"
             "routers:\n"
             "- protocol: http\n"
             "  label: out\n"
             "  dtab: |\n"
             "    /svc => /#/io.l5d.fs;\n"
             "    /svc/direct => /$/inet/127.0.0.1/%d;\n"
             "    /svc/dead => /$/inet/127.0.0.1/1;\n"
             "  servers:\n"
             "  - {ip: 127.0.0.1, port: %d}\n"
             "%s"
             "meshd: {workers: %u, drainTimeoutMs: 5000, logLevel: info}\n",
             admin_port, fsdir, backend_port, proxy_port,
             extra_router_keys ? extra_router_keys : "", workers);
}

static struct harness_meshd md;

static void
setup(void)
{
    char disco[600], file[700], line[64];

    fsdir = harness_tmpdir();
    snprintf(disco, sizeof(disco), "%s/disco", fsdir);
    ck_assert_int_eq(mkdir(disco, 0755), 0);
    backend_port = harness_free_port();
    backend2_port = harness_free_port();
    proxy_port = harness_free_port();
    admin_port = harness_free_port();
    start_backend(backend_port, "hello");
    start_backend(backend2_port, "world");
    snprintf(file, sizeof(file), "%s/hello", disco);
    snprintf(line, sizeof(line), "127.0.0.1 %d\n", backend_port);
    harness_write_file(file, line);
    snprintf(file, sizeof(file), "%s/world", disco);
    snprintf(line, sizeof(line), "127.0.0.1 %d\n", backend2_port);
    harness_write_file(file, line);
    snprintf(file, sizeof(file), "%s/empty", disco);
    harness_write_file(file, "# no endpoints\n");
    make_yaml(base_yaml, sizeof(base_yaml), 2, NULL);
}

static void
teardown(void)
{
    char bad[1024] = "";
    bool clean = true;

    /* stop meshd the way an operator does, so its workers exit (and are leak-checked) */
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

static void
start_meshd(const char *yaml)
{
    ck_assert_msg(harness_meshd_start(&md, yaml, admin_port) == 0, "meshd did not start");
    ck_assert_int_eq(harness_wait_port(proxy_port, 5000), 0);
}

START_TEST(test_proxy_routes_by_host)
{
    char body[256];

    start_meshd(base_yaml);
    ck_assert_int_eq(harness_get(proxy_port, "hello", "/", body, sizeof(body)), 200);
    ck_assert_msg(strncmp(body, "hello (", 7) == 0, "body: %s", body);
    ck_assert_int_eq(harness_get(proxy_port, "world", "/", body, sizeof(body)), 200);
    ck_assert_msg(strncmp(body, "world (", 7) == 0, "body: %s", body);
    ck_assert_int_eq(harness_get(proxy_port, "direct", "/", body, sizeof(body)), 200);
    ck_assert_msg(strncmp(body, "hello (", 7) == 0, "body: %s", body);
}
END_TEST

START_TEST(test_proxy_absolute_form_as_http_proxy)
{
    struct harness_resp r;
    char via[128];

    start_meshd(base_yaml);
    ck_assert_int_eq(harness_http(proxy_port,
                                  "GET http://world/ HTTP/1.1\r\nHost: world\r\n"
                                  "Proxy-Connection: keep-alive\r\n\r\n",
                                  &r),
                     0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_msg(strncmp(r.body, "world (", 7) == 0, "body: %s", r.body);
    ck_assert(harness_resp_header(&r, "Via", via, sizeof(via)));
    ck_assert_msg(strstr(via, "meshd") != NULL, "via: %s", via);
    harness_resp_fini(&r);
}
END_TEST

START_TEST(test_proxy_forwarded_headers)
{
    struct harness_resp r;

    start_meshd(base_yaml);
    ck_assert_int_eq(harness_http(proxy_port,
                                  "GET /headers HTTP/1.1\r\nHost: hello\r\nConnection: close, X-Hop\r\n"
                                  "X-Hop: secret\r\nTE: trailers\r\nX-Keep: yes\r\n\r\n",
                                  &r),
                     0);
    ck_assert_int_eq(r.status, 200);
    /* hop-by-hop headers (and those named in Connection) never reach the upstream */
    ck_assert_msg(strstr(r.body, "X-Hop") == NULL, "%s", r.body);
    ck_assert_msg(strstr(r.body, "TE:") == NULL, "%s", r.body);
    ck_assert_msg(strstr(r.body, "X-Keep: yes") != NULL, "%s", r.body);
    ck_assert_msg(strstr(r.body, "Via: 1.1 meshd") != NULL, "%s", r.body);
    ck_assert_msg(strstr(r.body, "l5d-dst-service: /svc/hello") != NULL, "%s", r.body);
    ck_assert_msg(strstr(r.body, "l5d-dst-client: /#/io.l5d.fs/hello") != NULL, "%s", r.body);
    ck_assert(r.closed);
    harness_resp_fini(&r);
}
END_TEST

START_TEST(test_proxy_keepalive_and_pipelining)
{
    struct harness_resp r;
    int fd;
    const char *three = "GET /chunked?n=2 HTTP/1.1\r\nHost: hello\r\n\r\n"
                        "GET / HTTP/1.1\r\nHost: world\r\n\r\n"
                        "HEAD / HTTP/1.1\r\nHost: hello\r\n\r\n";

    start_meshd(base_yaml);
    fd = harness_connect(proxy_port, 5000);
    ck_assert_int_ge(fd, 0);
    /* keep-alive: three requests one after the other on one connection */
    for (int i = 0; i < 3; i++) {
        const char *one = "GET / HTTP/1.1\r\nHost: hello\r\n\r\n";

        ck_assert_int_eq(harness_send(fd, one, strlen(one)), 0);
        ck_assert_int_eq(harness_read_response(fd, false, 4096, &r), 0);
        ck_assert_int_eq(r.status, 200);
        ck_assert(!r.closed);
        harness_resp_fini(&r);
    }
    /* pipelined: three requests in one write, answered in order */
    ck_assert_int_eq(harness_send(fd, three, strlen(three)), 0);
    ck_assert_int_eq(harness_read_response(fd, false, 4096, &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_msg(strstr(r.body, "chunk 1") != NULL, "%s", r.body);
    harness_resp_fini(&r);
    ck_assert_int_eq(harness_read_response(fd, false, 4096, &r), 0);
    ck_assert_msg(strncmp(r.body, "world (", 7) == 0, "%s", r.body);
    harness_resp_fini(&r);
    ck_assert_int_eq(harness_read_response(fd, true, 4096, &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(r.body_len, 0);
    harness_resp_fini(&r);
    close(fd);
}
END_TEST

START_TEST(test_proxy_chunked_request_body)
{
    struct harness_resp r;

    start_meshd(base_yaml);
    ck_assert_int_eq(harness_http(proxy_port,
                                  "POST /echo HTTP/1.1\r\nHost: hello\r\nTransfer-Encoding: chunked\r\n"
                                  "Connection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
                                  &r),
                     0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_msg(strstr(r.body, "hello") && strstr(r.body, " world"), "%s", r.body);
    harness_resp_fini(&r);
    /* Expect: 100-continue passes through */
    {
        int fd = harness_connect(proxy_port, 5000);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(harness_send(fd,
                                      "POST /echo HTTP/1.1\r\nHost: hello\r\nContent-Length: 4\r\n"
                                      "Expect: 100-continue\r\n\r\nping",
                                      strlen("POST /echo HTTP/1.1\r\nHost: hello\r\nContent-Length: 4\r\n"
                                             "Expect: 100-continue\r\n\r\nping")),
                         0);
        ck_assert_int_eq(harness_read_response(fd, false, 4096, &r), 0);
        ck_assert_int_eq(r.status, 200);
        ck_assert_str_eq(r.body, "ping");
        harness_resp_fini(&r);
        close(fd);
    }
}
END_TEST

START_TEST(test_proxy_streams_100mib_with_bounded_memory)
{
    const size_t total = 100u << 20;
    char head[256], *chunk;
    struct harness_resp r;
    pid_t kids[8];
    int fd, n, n_kids;
    size_t sent = 0;
    long hwm_max = 0;

    start_meshd(base_yaml);
    fd = harness_connect(proxy_port, 20000);
    ck_assert_int_ge(fd, 0);
    n = snprintf(head, sizeof(head),
                 "POST /echo HTTP/1.1\r\nHost: hello\r\nContent-Length: %zu\r\n\r\n", total);
    ck_assert_int_eq(harness_send(fd, head, (size_t) n), 0);
    /* Echo streams back while we send: read in a child so neither side blocks. */
    chunk = malloc(1 << 16);
    memset(chunk, 'b', 1 << 16);
    {
        pid_t reader = fork();

        if (reader == 0) {
            int rc = harness_read_response(fd, false, 16, &r);

            _exit(rc == 0 && r.status == 200 && r.body_len == total ? 0 : 1);
        }
        while (sent < total) {
            size_t k = total - sent < (1u << 16) ? total - sent : (1u << 16);

            ck_assert_int_eq(harness_send(fd, chunk, k), 0);
            sent += k;
        }
        {
            int st;

            ck_assert_int_eq(waitpid(reader, &st, 0), reader);
            ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "echo of 100 MiB failed");
        }
    }
    free(chunk);
    close(fd);
    n_kids = harness_children(md.pid, kids, 8);
    ck_assert_int_ge(n_kids, 1);
    for (int i = 0; i < n_kids; i++)
        if (harness_hwm_kb(kids[i]) > hwm_max)
            hwm_max = harness_hwm_kb(kids[i]);
    /* peak RSS of any worker stays far below the body size */
    ck_assert_msg(hwm_max > 0 && hwm_max < 64 * 1024, "worker peak RSS %ld KiB", hwm_max);
}
END_TEST

START_TEST(test_proxy_error_statuses)
{
    struct harness_resp r;
    char err[512], yaml[4096];

    make_yaml(yaml, sizeof(yaml), 1, "  service: {totalTimeoutMs: 500}\n");
    start_meshd(yaml);
    /* dead backend: 502 */
    ck_assert_int_eq(harness_http(proxy_port, "GET / HTTP/1.1\r\nHost: dead\r\n\r\n", &r), 0);
    ck_assert_int_eq(r.status, 502);
    ck_assert(harness_resp_header(&r, "l5d-err", err, sizeof(err)));
    harness_resp_fini(&r);
    /* no endpoints (empty fs file) and unknown name: 503 */
    ck_assert_int_eq(harness_http(proxy_port, "GET / HTTP/1.1\r\nHost: empty\r\n\r\n", &r), 0);
    ck_assert_int_eq(r.status, 503);
    ck_assert(harness_resp_header(&r, "l5d-err", err, sizeof(err)));
    harness_resp_fini(&r);
    ck_assert_int_eq(harness_http(proxy_port, "GET / HTTP/1.1\r\nHost: nosuch\r\n\r\n", &r), 0);
    ck_assert_int_eq(r.status, 503);
    ck_assert_msg(strstr(r.body, "/svc/nosuch") != NULL, "body names the service: %s", r.body);
    harness_resp_fini(&r);
    /* slow backend beyond totalTimeoutMs: 504 */
    ck_assert_int_eq(harness_http(proxy_port, "GET /slow?ms=3000 HTTP/1.1\r\nHost: hello\r\n\r\n", &r),
                     0);
    ck_assert_int_eq(r.status, 504);
    ck_assert(harness_resp_header(&r, "l5d-err", err, sizeof(err)));
    harness_resp_fini(&r);
    /* the router's timeout travels upstream as l5d-ctx-deadline */
    ck_assert_int_eq(harness_http(proxy_port, "GET /headers HTTP/1.1\r\nHost: hello\r\n\r\n", &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_msg(strstr(r.body, "l5d-ctx-deadline: ") != NULL, "%s", r.body);
    harness_resp_fini(&r);
    /* a backend that resets: 502 */
    ck_assert_int_eq(harness_http(proxy_port, "GET /reset HTTP/1.1\r\nHost: hello\r\n\r\n", &r), 0);
    ck_assert_int_eq(r.status, 502);
    harness_resp_fini(&r);
    /* still healthy afterwards */
    ck_assert_int_eq(harness_get(proxy_port, "hello", "/", NULL, 0), 200);
}
END_TEST

START_TEST(test_proxy_rejects_smuggling_and_limits)
{
    struct harness_resp r;
    char big[20000];
    static const char *const bad[] = {
        "POST / HTTP/1.1\r\nHost: hello\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: hello\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        "POST / HTTP/1.1\r\nHost: hello\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: hello\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "GET / HTTP/1.1\nHost: hello\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: hello\r\nX-A: a\r\n b\r\n\r\n",
        "GET / HTTP/1.1\r\nHost : hello\r\n\r\n",
        "GET / HTTP/1.1\r\n\r\n",
    };

    start_meshd(base_yaml);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char err[256];

        ck_assert_int_eq(harness_http(proxy_port, bad[i], &r), 0);
        ck_assert_msg(r.status == 400 || r.status == 501, "case %zu: status %d", i, r.status);
        ck_assert_msg(harness_resp_header(&r, "l5d-err", err, sizeof(err)), "case %zu", i);
        ck_assert_msg(r.closed, "case %zu: connection must close", i);
        harness_resp_fini(&r);
    }
    /* over the header size limit: 431 */
    snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nHost: hello\r\nX-Big: %0*d\r\n\r\n", 12000, 0);
    ck_assert_int_eq(harness_http(proxy_port, big, &r), 0);
    ck_assert_int_eq(r.status, 431);
    harness_resp_fini(&r);
    /* over the request line limit: 414 */
    snprintf(big, sizeof(big), "GET /%0*d HTTP/1.1\r\nHost: hello\r\n\r\n", 6000, 0);
    ck_assert_int_eq(harness_http(proxy_port, big, &r), 0);
    ck_assert_int_eq(r.status, 414);
    harness_resp_fini(&r);
    ck_assert_int_eq(harness_get(proxy_port, "hello", "/", NULL, 0), 200);
}
END_TEST

START_TEST(test_proxy_admin_and_metrics)
{
    struct harness_resp r;
    char name[256];

    start_meshd(base_yaml);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(harness_get(proxy_port, "hello", "/", NULL, 0), 200);
    snprintf(name, sizeof(name), "rt/out/server/127.0.0.1/%d/requests", proxy_port);
    ck_assert_int_eq(harness_metric(admin_port, name), 5);
    ck_assert_int_eq(harness_metric(admin_port, "rt/out/service/svc/hello/requests"), 5);
    ck_assert_int_eq(harness_metric(admin_port, "rt/out/client/#/io.l5d.fs/hello/requests"), 5);
    ck_assert_int_eq(harness_http(admin_port,
                                  "GET /admin/metrics/prometheus HTTP/1.1\r\nHost: a\r\n\r\n", &r),
                     0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_msg(strstr(r.body, "rt:server:requests{") != NULL, "%.400s", r.body);
    harness_resp_fini(&r);
    ck_assert_int_eq(harness_http(admin_port, "GET /config.json HTTP/1.1\r\nHost: a\r\n\r\n", &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_msg(strstr(r.body, "\"routers\"") != NULL, "%.400s", r.body);
    harness_resp_fini(&r);
    ck_assert_int_eq(harness_http(admin_port, "GET /admin/shutdown HTTP/1.1\r\nHost: a\r\n\r\n", &r),
                     0);
    ck_assert_int_eq(r.status, 405); /* mutating endpoints want POST */
    harness_resp_fini(&r);
}
END_TEST

START_TEST(test_proxy_worker_killed_is_replaced)
{
    pid_t kids[8];
    int n, failures = 0;
    char name[256];

    start_meshd(base_yaml);
    n = harness_children(md.pid, kids, 8);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(kill(kids[0], SIGKILL), 0);
    /* requests keep succeeding: the other worker and the replacement serve them */
    for (int i = 0; i < 200; i++) {
        if (harness_get(proxy_port, "hello", "/", NULL, 0) != 200)
            failures++;
    }
    ck_assert_int_eq(failures, 0);
    for (int i = 0; i < 100 && harness_metric(admin_port, "meshd/workers") != 2; i++)
        usleep(20000);
    ck_assert_int_eq(harness_metric(admin_port, "meshd/workers"), 2);
    ck_assert_int_eq(harness_metric(admin_port, "meshd/worker_deaths"), 1);
    /* counters survive the restart */
    snprintf(name, sizeof(name), "rt/out/server/127.0.0.1/%d/requests", proxy_port);
    ck_assert_int_eq(harness_metric(admin_port, name), 200);
}
END_TEST

START_TEST(test_proxy_reload_good_and_bad)
{
    char body[256], yaml[4096];
    FILE *f;

    start_meshd(base_yaml);
    ck_assert_int_eq(harness_get(proxy_port, "direct", "/", body, sizeof(body)), 200);
    ck_assert_msg(strncmp(body, "hello (", 7) == 0, "%s", body);
    /* a bad config: the old one keeps serving */
    f = fopen(md.cfg_path, "w");
    fputs("routers: [ {protocol: http, servers: [ {port: notanumber} ] } ]\n", f);
    fclose(f);
    kill(md.pid, SIGHUP);
    for (int i = 0; i < 100 && harness_metric(admin_port, "meshd/reload_failures") != 1; i++)
        usleep(20000);
    ck_assert_int_eq(harness_metric(admin_port, "meshd/reload_failures"), 1);
    ck_assert_int_eq(harness_get(proxy_port, "direct", "/", body, sizeof(body)), 200);
    /* a good one: /svc/direct now goes to world; no request fails during the switch */
    make_yaml(yaml, sizeof(yaml), 2, NULL);
    {
        char needle[64], repl[64], *p;

        snprintf(needle, sizeof(needle), "/$/inet/127.0.0.1/%d;", backend_port);
        snprintf(repl, sizeof(repl), "/$/inet/127.0.0.1/%d;", backend2_port);
        p = strstr(yaml, needle);
        ck_assert_ptr_nonnull(p);
        ck_assert_uint_eq(strlen(needle), strlen(repl));
        memcpy(p, repl, strlen(repl));
    }
    harness_write_file(md.cfg_path, yaml);
    kill(md.pid, SIGHUP);
    {
        int failures = 0, world = 0;

        for (int i = 0; i < 300; i++) {
            int st = harness_get(proxy_port, "direct", "/", body, sizeof(body));

            if (st != 200)
                failures++;
            else if (strncmp(body, "world (", 7) == 0)
                world++;
            if (world > 20)
                break;
            usleep(5000);
        }
        ck_assert_int_eq(failures, 0);
        ck_assert_int_gt(world, 20);
    }
    ck_assert_int_eq(harness_metric(admin_port, "meshd/reloads"), 1);
}
END_TEST

START_TEST(test_proxy_sigterm_drains_in_flight)
{
    struct harness_resp r;
    int fd, st;
    const char *req = "GET /slow?ms=1000 HTTP/1.1\r\nHost: hello\r\n\r\n";

    start_meshd(base_yaml);
    fd = harness_connect(proxy_port, 10000);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(harness_send(fd, req, strlen(req)), 0);
    usleep(200000); /* the request is in flight */
    kill(md.pid, SIGTERM);
    ck_assert_int_eq(harness_read_response(fd, false, 4096, &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert(r.closed); /* draining: Connection: close */
    harness_resp_fini(&r);
    close(fd);
    st = harness_signal_wait(md.pid, 0, 8000);
    ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "meshd exit status %d", st);
}
END_TEST

/* A response whose head went out (keep-alive) before a reload began: the old worker must
 * not close the connection after it, since its client may already be sending the next
 * request; that request is answered, with Connection: close. */
START_TEST(test_proxy_reload_spares_a_response_under_way)
{
    struct harness_resp r;
    const char *slow = "GET /trickle?n=60 HTTP/1.1\r\nHost: hello\r\n\r\n"; /* ~0.6 s */
    const char *next = "GET / HTTP/1.1\r\nHost: hello\r\n\r\n";
    int fd;

    start_meshd(base_yaml);
    fd = harness_connect(proxy_port, 10000);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(harness_send(fd, slow, strlen(slow)), 0);
    usleep(150000); /* the head is out, the body trickles */
    kill(md.pid, SIGHUP);
    ck_assert_int_eq(harness_read_response(fd, false, 4096, &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(r.body_len, 60);
    ck_assert(!r.closed); /* its head promised keep-alive */
    harness_resp_fini(&r);
    for (int i = 0; i < 100 && harness_metric(admin_port, "meshd/reloads") != 1; i++)
        usleep(20000);
    ck_assert_int_eq(harness_metric(admin_port, "meshd/reloads"), 1);
    ck_assert_int_eq(harness_send(fd, next, strlen(next)), 0);
    ck_assert_msg(harness_read_response(fd, false, 4096, &r) == 0,
                  "the draining worker closed the connection under the next request");
    ck_assert_int_eq(r.status, 200);
    ck_assert(r.closed); /* and now it says so */
    harness_resp_fini(&r);
    close(fd);
}
END_TEST

START_TEST(test_proxy_fs_edit_moves_traffic)
{
    char body[256], file[700], line[64];
    int seen_world = 0;

    start_meshd(base_yaml);
    ck_assert_int_eq(harness_get(proxy_port, "hello", "/", body, sizeof(body)), 200);
    ck_assert_msg(strncmp(body, "hello (", 7) == 0, "%s", body);
    snprintf(file, sizeof(file), "%s/disco/hello", fsdir);
    snprintf(line, sizeof(line), "127.0.0.1 %d\n", backend2_port);
    harness_write_file(file, line);
    for (int i = 0; i < 50 && !seen_world; i++) { /* within a second */
        usleep(20000);
        ck_assert_int_eq(harness_get(proxy_port, "hello", "/", body, sizeof(body)), 200);
        seen_world = strncmp(body, "world (", 7) == 0;
    }
    ck_assert_msg(seen_world, "fs edit not applied within a second");
}
END_TEST

START_TEST(test_proxy_dead_endpoint_is_avoided)
{
    char file[700], line[128];
    int ok = 0;

    start_meshd(base_yaml);
    snprintf(file, sizeof(file), "%s/disco/hello", fsdir);
    snprintf(line, sizeof(line), "127.0.0.1 %d\n127.0.0.1 1\n", backend_port);
    harness_write_file(file, line);
    usleep(300000);
    for (int i = 0; i < 100; i++)
        ok += harness_get(proxy_port, "hello", "/", NULL, 0) == 200;
    /* connection failures are retried on another endpoint, and the dead one is marked down */
    ck_assert_int_eq(ok, 100);
    ck_assert_int_ge(harness_metric(admin_port, "rt/out/client/#/io.l5d.fs/hello/failure_accrual/removals"), 1);
}
END_TEST

START_TEST(test_proxy_check_flag)
{
    char path[700], logp[700];
    const char *bin = getenv("MESHD");
    const char *dir = harness_tmpdir();
    pid_t pid;
    int st;

    snprintf(path, sizeof(path), "%s/good.yaml", dir);
    snprintf(logp, sizeof(logp), "%s/check.log", dir);
    harness_write_file(path, base_yaml);
    {
        char *argv[] = {(char *) bin, "--check", path, NULL};

        pid = harness_spawn(argv, logp);
        ck_assert_int_eq(waitpid(pid, &st, 0), pid);
        ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    harness_write_file(path, "routers:\n- protocol: http\n  bogus: 1\n");
    {
        char *argv[] = {(char *) bin, "--check", path, NULL};

        pid = harness_spawn(argv, logp);
        ck_assert_int_eq(waitpid(pid, &st, 0), pid);
        ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1);
    }
}
END_TEST

START_TEST(test_proxy_notifies_systemd)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    char path[600], buf[256];
    struct timeval tv = {.tv_sec = 10};
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    ssize_t n;

    snprintf(path, sizeof(path), "%s/notify.sock", fsdir);
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    ck_assert_int_eq(bind(fd, (struct sockaddr *) &sun, sizeof(sun)), 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setenv("NOTIFY_SOCKET", path, 1);
    start_meshd(base_yaml);
    unsetenv("NOTIFY_SOCKET");
    n = recv(fd, buf, sizeof(buf) - 1, 0); /* Type=notify: READY=1 once workers serve */
    ck_assert_int_gt(n, 0);
    buf[n] = '\0';
    ck_assert_msg(strstr(buf, "READY=1") != NULL, "%s", buf);
    kill(md.pid, SIGHUP); /* a reload says RELOADING=1, then READY=1 again */
    n = recv(fd, buf, sizeof(buf) - 1, 0);
    ck_assert_int_gt(n, 0);
    buf[n] = '\0';
    ck_assert_msg(strstr(buf, "RELOADING=1") != NULL, "%s", buf);
    close(fd);
}
END_TEST

START_TEST(test_proxy_union_splits_traffic)
{
    char yaml[4096], body[256];
    int hello = 0;

    make_yaml(yaml, sizeof(yaml), 1, NULL);
    {
        /* /svc/split: 80% hello, 20% world */
        static const char line[] =
            "    /svc/split => 0.8 * /#/io.l5d.fs/hello & 0.2 * /#/io.l5d.fs/world;\n";
        char *p = strstr(yaml, "    /svc/dead");

        ck_assert_ptr_nonnull(p);
        memmove(p + strlen(line), p, strlen(p) + 1);
        memcpy(p, line, strlen(line));
    }
    start_meshd(yaml);
    for (int i = 0; i < 2000; i++) {
        ck_assert_int_eq(harness_get(proxy_port, "split", "/", body, sizeof(body)), 200);
        hello += strncmp(body, "hello (", 7) == 0;
    }
    /* 1600 expected; 3 standard deviations are 54 */
    ck_assert_msg(hello > 1600 - 60 && hello < 1600 + 60, "hello got %d of 2000", hello);
}
END_TEST

START_TEST(test_proxy_l5d_dtab_reroutes_one_request)
{
    struct harness_resp r;
    char body[256];

    start_meshd(base_yaml);
    ck_assert_int_eq(harness_http(proxy_port,
                                  "GET /headers HTTP/1.1\r\nHost: hello\r\n"
                                  "l5d-dtab: /svc/hello => /#/io.l5d.fs/world\r\n\r\n",
                                  &r),
                     0);
    ck_assert_int_eq(r.status, 200);
    /* the world backend answered, and the override travels on for the next hop */
    ck_assert_msg(strstr(r.body, "l5d-dst-client: /#/io.l5d.fs/world") != NULL, "%s", r.body);
    ck_assert_msg(strstr(r.body, "l5d-ctx-dtab: /svc/hello=>/#/io.l5d.fs/world") != NULL, "%s",
                  r.body);
    ck_assert_msg(strstr(r.body, "l5d-dtab:") == NULL, "%s", r.body);
    harness_resp_fini(&r);
    /* only that request: the next one goes to hello again */
    ck_assert_int_eq(harness_get(proxy_port, "hello", "/", body, sizeof(body)), 200);
    ck_assert_msg(strncmp(body, "hello (", 7) == 0, "%s", body);
    /* a bad override is a 400 naming the parse error */
    ck_assert_int_eq(harness_http(proxy_port,
                                  "GET / HTTP/1.1\r\nHost: hello\r\nl5d-dtab: /svc/hello =>\r\n\r\n",
                                  &r),
                     0);
    ck_assert_int_eq(r.status, 400);
    ck_assert_msg(strstr(r.body, "l5d-dtab") != NULL, "%s", r.body);
    harness_resp_fini(&r);
}
END_TEST

START_TEST(test_proxy_clear_context_strips_forged_dtab)
{
    char yaml[4096];
    struct harness_resp r;
    int edge_port = harness_free_port();
    char servers[256], *p;

    make_yaml(yaml, sizeof(yaml), 1, NULL);
    snprintf(servers, sizeof(servers), "  - {ip: 127.0.0.1, port: %d, clearContext: true}\n",
             edge_port);
    p = strstr(yaml, "meshd:");
    ck_assert_ptr_nonnull(p);
    memmove(p + strlen(servers), p, strlen(p) + 1);
    memcpy(p, servers, strlen(servers));
    start_meshd(yaml);
    ck_assert_int_eq(harness_wait_port(edge_port, 5000), 0);
    ck_assert_int_eq(harness_http(edge_port,
                                  "GET /headers HTTP/1.1\r\nHost: hello\r\n"
                                  "l5d-dtab: /svc/hello => /#/io.l5d.fs/world\r\n"
                                  "l5d-ctx-trace: forged\r\nl5d-anything: x\r\n\r\n",
                                  &r),
                     0);
    ck_assert_int_eq(r.status, 200);
    /* still hello, nothing of the forged context reaches the upstream */
    ck_assert_msg(strstr(r.body, "l5d-dst-client: /#/io.l5d.fs/hello") != NULL, "%s", r.body);
    ck_assert_msg(strstr(r.body, "l5d-ctx-dtab") == NULL, "%s", r.body);
    ck_assert_msg(strstr(r.body, "l5d-anything") == NULL, "%s", r.body);
    ck_assert_msg(strstr(r.body, "forged") == NULL, "%s", r.body);
    harness_resp_fini(&r);
}
END_TEST

static Suite *
proxy_suite(void)
{
    Suite *s = suite_create("proxy");
    TCase *tc = tcase_create("proxy");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_proxy_routes_by_host);
    tcase_add_test(tc, test_proxy_absolute_form_as_http_proxy);
    tcase_add_test(tc, test_proxy_forwarded_headers);
    tcase_add_test(tc, test_proxy_keepalive_and_pipelining);
    tcase_add_test(tc, test_proxy_chunked_request_body);
    tcase_add_test(tc, test_proxy_streams_100mib_with_bounded_memory);
    tcase_add_test(tc, test_proxy_error_statuses);
    tcase_add_test(tc, test_proxy_rejects_smuggling_and_limits);
    tcase_add_test(tc, test_proxy_admin_and_metrics);
    tcase_add_test(tc, test_proxy_worker_killed_is_replaced);
    tcase_add_test(tc, test_proxy_reload_good_and_bad);
    tcase_add_test(tc, test_proxy_sigterm_drains_in_flight);
    tcase_add_test(tc, test_proxy_reload_spares_a_response_under_way);
    tcase_add_test(tc, test_proxy_fs_edit_moves_traffic);
    tcase_add_test(tc, test_proxy_dead_endpoint_is_avoided);
    tcase_add_test(tc, test_proxy_check_flag);
    tcase_add_test(tc, test_proxy_notifies_systemd);
    tcase_add_test(tc, test_proxy_union_splits_traffic);
    tcase_add_test(tc, test_proxy_l5d_dtab_reroutes_one_request);
    tcase_add_test(tc, test_proxy_clear_context_strips_forged_dtab);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(proxy_suite)
