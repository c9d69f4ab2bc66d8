/* tests/integration/test_limits.c - every client-facing limit of docs/security.md,
 * "Limits", at its edge: exactly at the limit is served, one over gets the documented
 * status with l5d-err (and the connection closed), and meshd keeps serving afterwards. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/lib/check_main.h"
#include "tests/lib/harness.h"

static int backend_port, proxy_port, admin_port;
static const char *dir;
static struct harness_meshd md;

static void
setup(void)
{
    char disco[600], file[700], line[64], logp[700];
    const char *bin = getenv("TESTSRV");
    char portstr[16];
    char *argv[] = {(char *) (bin ? bin : "mesh-testsrv"), "--name", "hello", portstr, NULL};

    dir = harness_tmpdir();
    snprintf(disco, sizeof(disco), "%s/disco", dir);
    ck_assert_int_eq(mkdir(disco, 0755), 0);
    backend_port = harness_free_port();
    proxy_port = harness_free_port();
    admin_port = harness_free_port();
    snprintf(portstr, sizeof(portstr), "%d", backend_port);
    snprintf(logp, sizeof(logp), "%s/hello.log", dir);
    (void) harness_spawn(argv, logp);
    ck_assert_int_eq(harness_wait_port(backend_port, 5000), 0);
    snprintf(file, sizeof(file), "%s/hello", disco);
    snprintf(line, sizeof(line), "127.0.0.1 %d\n", backend_port);
    harness_write_file(file, line);
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

static void
start_meshd_dtab(const char *dtab, const char *meshd_keys)
{
    char y[4096];

    snprintf(y, sizeof(y),
             "admin: {port: %d}\n"
             "namers:\n"
             "- kind: io.l5d.fs\n"
             "  rootDir: %s/disco\n"
             "routers:\n"
             "- protocol: http\n"
             "  label: out\n"
             "  dtab: %s\n"
             "  servers:\n"
             "  - {ip: 127.0.0.1, port: %d}\n"
             "meshd: {workers: 1, drainTimeoutMs: 3000, runDir: %s/run%s}\n",
             admin_port, dir, dtab, proxy_port, dir, meshd_keys ? meshd_keys : "");
    ck_assert_msg(harness_meshd_start(&md, y, admin_port) == 0, "meshd did not start");
    ck_assert_int_eq(harness_wait_port(proxy_port, 5000), 0);
}

static void
start_meshd(const char *meshd_keys)
{
    start_meshd_dtab("/svc => /#/io.l5d.fs;", meshd_keys);
}

/* Sends <raw> (<len> bytes) on a new connection; checks the status, and for a refusal
 * that meshd made it (l5d-err containing <why>) and closed the connection. */
static void
expect(const char *raw, size_t len, int status, const char *why)
{
    struct harness_resp r;
    char err[512];
    int fd = harness_connect(proxy_port, 5000);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(harness_send(fd, raw, len), 0);
    ck_assert_int_eq(harness_read_response(fd, false, 1 << 20, &r), 0);
    (void) close(fd);
    ck_assert_msg(r.status == status, "%zu bytes: status %d, want %d", len, r.status, status);
    if (why != NULL) {
        ck_assert_msg(harness_resp_header(&r, "l5d-err", err, sizeof(err)), "no l5d-err");
        ck_assert_msg(strstr(err, why) != NULL, "l5d-err %s, want %s", err, why);
        ck_assert(r.closed);
    } else {
        ck_assert_msg(!harness_resp_header(&r, "l5d-err", err, sizeof(err)), "l5d-err: %s", err);
    }
    harness_resp_fini(&r);
}

static char buf[80000];

/* A GET whose request line (without CRLF) is <line_len> bytes. */
static size_t
request_line_of(size_t line_len)
{
    static const char fixed[] = "GET / HTTP/1.1"; /* + padding in the path */
    size_t pad = line_len - (sizeof(fixed) - 1), n;

    n = (size_t) snprintf(buf, sizeof(buf), "GET /");
    memset(buf + n, 'a', pad);
    n += pad;
    n += (size_t) snprintf(buf + n, sizeof(buf) - n, " HTTP/1.1\r\nHost: hello\r\n\r\n");
    return n;
}

START_TEST(test_limits_request_line)
{
    size_t n;

    start_meshd(NULL);
    n = request_line_of(4096); /* maxInitialLineKB: 4 */
    expect(buf, n, 200, NULL);
    n = request_line_of(4097);
    expect(buf, n, 414, "request+line+too+long");
    ck_assert_int_eq(harness_get(proxy_port, "hello", "/", NULL, 0), 200);
}
END_TEST

/* A GET whose whole head, final CRLF CRLF included, is <head_len> bytes. */
static size_t
head_of(size_t head_len)
{
    static const char fixed[] = "GET / HTTP/1.1\r\nHost: hello\r\nX-Pad: \r\n\r\n";
    size_t pad = head_len - (sizeof(fixed) - 1), n;

    n = (size_t) snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: hello\r\nX-Pad: ");
    memset(buf + n, 'a', pad);
    n += pad;
    n += (size_t) snprintf(buf + n, sizeof(buf) - n, "\r\n\r\n");
    return n;
}

START_TEST(test_limits_request_head)
{
    size_t n;

    start_meshd(NULL);
    n = head_of(8192); /* maxHeadersKB: 8 */
    ck_assert_uint_eq(n, 8192);
    expect(buf, n, 200, NULL);
    n = head_of(8193);
    expect(buf, n, 431, "request+header+section+too+large");
    ck_assert_int_eq(harness_get(proxy_port, "hello", "/", NULL, 0), 200);
}
END_TEST

/* A GET with <n_fields> header fields, Host included. */
static size_t
fields_of(unsigned n_fields)
{
    size_t n = (size_t) snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: hello\r\n");

    for (unsigned i = 1; i < n_fields; i++)
        n += (size_t) snprintf(buf + n, sizeof(buf) - n, "X-F%u: v\r\n", i);
    n += (size_t) snprintf(buf + n, sizeof(buf) - n, "\r\n");
    return n;
}

START_TEST(test_limits_header_count)
{
    size_t n;

    /* below the default (100): meshd adds its own l5d-dst-* and Via headers, and the test
     * backend accepts 100 at most */
    start_meshd(", maxHeaders: 90");
    n = fields_of(90);
    expect(buf, n, 200, NULL);
    n = fields_of(91);
    expect(buf, n, 431, "too+many+header+fields");
    ck_assert_int_eq(harness_get(proxy_port, "hello", "/", NULL, 0), 200);
}
END_TEST

START_TEST(test_limits_header_count_default)
{
    size_t n;

    start_meshd(NULL);
    n = fields_of(101);
    expect(buf, n, 431, "too+many+header+fields");
    ck_assert_int_eq(harness_get(proxy_port, "hello", "/", NULL, 0), 200);
}
END_TEST

/* A chunked POST whose first chunk-size line (extension included, CRLF not) is
 * <line_len> bytes: "1;x=aaa...". */
static size_t
chunk_line_of(size_t line_len)
{
    size_t n = (size_t) snprintf(buf, sizeof(buf),
                                 "POST / HTTP/1.1\r\nHost: hello\r\n"
                                 "Transfer-Encoding: chunked\r\n\r\n1;x=");

    memset(buf + n, 'a', line_len - 4);
    n += line_len - 4;
    n += (size_t) snprintf(buf + n, sizeof(buf) - n, "\r\nz\r\n0\r\n\r\n");
    return n;
}

START_TEST(test_limits_chunk_size_line)
{
    size_t n;

    start_meshd(NULL);
    n = chunk_line_of(4096);
    expect(buf, n, 200, NULL);
    n = chunk_line_of(4097);
    expect(buf, n, 400, "chunk+size+line+too+long");
    ck_assert_int_eq(harness_get(proxy_port, "hello", "/", NULL, 0), 200);
}
END_TEST

/* The identified name (/svc/<Host>) is at most 511 bytes: a longer one is 400. */
static size_t
host_of(size_t host_len)
{
    size_t n = (size_t) snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: ");

    memset(buf + n, 'h', host_len);
    n += host_len;
    n += (size_t) snprintf(buf + n, sizeof(buf) - n, "\r\n\r\n");
    return n;
}

START_TEST(test_limits_name_length)
{
    char dtab[128];
    size_t n;

    /* every /svc/<host> to the backend, the host left as the residual */
    snprintf(dtab, sizeof(dtab), "/svc => /$/inet/127.0.0.1/%d;", backend_port);
    start_meshd_dtab(dtab, NULL);
    n = host_of(511 - 5); /* "/svc/" + host = 511 bytes */
    expect(buf, n, 200, NULL);
    n = host_of(512 - 5);
    expect(buf, n, 400, "name+too+long");
    ck_assert_int_eq(harness_get(proxy_port, "hello", "/", NULL, 0), 200);
}
END_TEST

/* The admin server takes requests of 72 KiB, head and body together: a body that fills
 * it exactly reaches the handler (404 for this path), one byte more is 413. */
static void
admin_expect(size_t total, int status)
{
    struct harness_resp r;
    size_t head_len, body_len = 0, n;
    char head[256];
    int fd;

    /* the head's length depends on the digits of its Content-Length: settle it */
    for (int i = 0; i < 3; i++) {
        head_len = (size_t) snprintf(head, sizeof(head),
                                     "POST /admin/none HTTP/1.1\r\nHost: a\r\n"
                                     "Content-Length: %zu\r\n\r\n",
                                     body_len);
        body_len = total - head_len;
    }
    ck_assert_uint_eq(head_len + body_len, total);
    n = (size_t) snprintf(buf, sizeof(buf), "%s", head);
    ck_assert_uint_le(n + body_len, sizeof(buf));
    memset(buf + n, 'b', body_len);
    fd = harness_connect(admin_port, 5000);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(harness_send(fd, buf, n + body_len), 0);
    ck_assert_int_eq(harness_read_response(fd, false, 4096, &r), 0);
    (void) close(fd);
    ck_assert_msg(r.status == status, "%zu bytes: status %d, want %d", total, r.status, status);
    harness_resp_fini(&r);
}

START_TEST(test_limits_admin_request)
{
    start_meshd(NULL);
    admin_expect(72 * 1024, 404);
    admin_expect(72 * 1024 + 1, 413);
    ck_assert_int_eq(harness_get(admin_port, "a", "/admin/ping", NULL, 0), 200);
}
END_TEST

/* meshd.maxConnections per worker: the next connection waits in the accept queue (it is
 * not refused) and is served once one of the others closes. */
START_TEST(test_limits_connections_per_worker)
{
    struct harness_resp r;
    int a, b, c;
    char one;

    start_meshd(", maxConnections: 2");
    a = harness_connect(proxy_port, 5000);
    b = harness_connect(proxy_port, 5000);
    ck_assert_int_ge(a, 0);
    ck_assert_int_ge(b, 0);
    /* both are accepted and served */
    ck_assert_int_eq(harness_send(a, "GET / HTTP/1.1\r\nHost: hello\r\n\r\n", 31), 0);
    ck_assert_int_eq(harness_read_response(a, false, 4096, &r), 0);
    ck_assert_int_eq(r.status, 200);
    harness_resp_fini(&r);
    ck_assert_int_eq(harness_send(b, "GET / HTTP/1.1\r\nHost: hello\r\n\r\n", 31), 0);
    ck_assert_int_eq(harness_read_response(b, false, 4096, &r), 0);
    ck_assert_int_eq(r.status, 200);
    harness_resp_fini(&r);
    /* the third waits: nothing comes back while a and b stay open */
    c = harness_connect(proxy_port, 300);
    ck_assert_int_ge(c, 0);
    ck_assert_int_eq(harness_send(c, "GET / HTTP/1.1\r\nHost: hello\r\n\r\n", 31), 0);
    ck_assert_int_eq(recv(c, &one, 1, MSG_PEEK), -1);
    ck_assert(errno == EAGAIN || errno == EWOULDBLOCK);
    (void) close(a);
    {
        struct timeval tv = {.tv_sec = 5};

        ck_assert_int_eq(setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
    }
    ck_assert_int_eq(harness_read_response(c, false, 4096, &r), 0);
    ck_assert_int_eq(r.status, 200);
    harness_resp_fini(&r);
    (void) close(b);
    (void) close(c);
}
END_TEST

static Suite *
limits_suite(void)
{
    Suite *s = suite_create("limits");
    TCase *tc = tcase_create("edges");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_limits_request_line);
    tcase_add_test(tc, test_limits_request_head);
    tcase_add_test(tc, test_limits_header_count);
    tcase_add_test(tc, test_limits_header_count_default);
    tcase_add_test(tc, test_limits_chunk_size_line);
    tcase_add_test(tc, test_limits_name_length);
    tcase_add_test(tc, test_limits_admin_request);
    tcase_add_test(tc, test_limits_connections_per_worker);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(limits_suite)
