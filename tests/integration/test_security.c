/* tests/integration/test_security.c - the secure defaults of docs/security.md with real
 * processes: admin servers bind loopback unless told otherwise, mutations are POST-only
 * (shutdown, log level) and the log level reaches every worker, and the files meshagent
 * makes have the documented modes (run dir 0750, span socket 0660, spool 0700 / 0600)
 * while meshd still reaches the socket. Privilege dropping is test_privdrop.c (root). */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/lib/check_main.h"
#include "tests/lib/harness.h"

static int backend_port, proxy_port, admin_port, agent_port;
static const char *dir;
static struct harness_meshd md;
static pid_t agent_pid;
static char agent_log[700];

static long
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

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
    agent_port = harness_free_port();
    snprintf(portstr, sizeof(portstr), "%d", backend_port);
    snprintf(logp, sizeof(logp), "%s/hello.log", dir);
    (void) harness_spawn(argv, logp);
    ck_assert_int_eq(harness_wait_port(backend_port, 5000), 0);
    snprintf(file, sizeof(file), "%s/hello", disco);
    snprintf(line, sizeof(line), "127.0.0.1 %d\n", backend_port);
    harness_write_file(file, line);
    agent_pid = 0;
    agent_log[0] = '\0';
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
    if (clean && agent_log[0])
        clean = harness_log_clean(agent_log, bad, sizeof(bad));
    if (!clean) {
        harness_print_log(md.log_path);
        if (agent_log[0])
            harness_print_log(agent_log);
    }
    harness_cleanup();
    memset(&md, 0, sizeof(md));
    unsetenv("MESHAGENT_ADMIN_PORT");
    unsetenv("MESHAGENT_ZIPKIN_URL");
    unsetenv("MESHAGENT_SPOOL_DIR");
    unsetenv("MESHAGENT_FLUSH_TIMEOUT_MS");
    ck_assert_msg(clean, "log: %s", bad);
}

/* <admin_ip> NULL: no admin.ip key at all (the default). */
static void
yaml(char *out, size_t len, const char *admin_ip, const char *extra)
{
    char ip[64] = "";

    if (admin_ip)
        snprintf(ip, sizeof(ip), "ip: %s, ", admin_ip);
    snprintf(out, len,
             "admin: {%sport: %d}\n"
             "namers:\n"
             "- kind: io.l5d.fs\n"
             "  rootDir: %s/disco\n"
             "routers:\n"
             "- protocol: http\n"
             "  label: out\n"
             "  dtab: /svc => /#/io.l5d.fs;\n"
             "  servers:\n"
             "  - {ip: 127.0.0.1, port: %d}\n"
             "%s"
             "meshd: {workers: 2, drainTimeoutMs: 3000, runDir: %s/run}\n",
             ip, admin_port, dir, proxy_port, extra ? extra : "", dir);
}

static void
start_meshd(const char *y)
{
    ck_assert_msg(harness_meshd_start(&md, y, admin_port) == 0, "meshd did not start");
    ck_assert_int_eq(harness_wait_port(proxy_port, 5000), 0);
}

/* Is something listening on <port> at exactly 127.0.0.1 (not 0.0.0.0)? From /proc/net/tcp:
 * 1 loopback, 0 another address, -1 not found. */
static int
listens_on_loopback(int port)
{
    FILE *f = fopen("/proc/net/tcp", "r");
    char line[512];
    int found = -1;

    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof(line), f)) {
        unsigned addr, p, st;

        if (sscanf(line, " %*d: %8X:%4X %*8X:%*4X %2X", &addr, &p, &st) != 3)
            continue;
        if ((int) p == port && st == 0x0A)
            found = addr == 0x0100007Fu ? 1 : 0;
    }
    fclose(f);
    return found;
}

static unsigned
count_in_file(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    char line[2048];
    unsigned n = 0;

    if (f == NULL)
        return 0;
    while (fgets(line, sizeof(line), f))
        if (strstr(line, needle))
            n++;
    fclose(f);
    return n;
}

static int
admin_req(int port, const char *method, const char *target, struct harness_resp *r)
{
    char req[512];

    snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", method,
             target);
    return harness_http(port, req, r);
}

START_TEST(test_security_admin_binds_loopback_by_default)
{
    char y[4096];

    yaml(y, sizeof(y), NULL, NULL);
    start_meshd(y);
    ck_assert_int_eq(listens_on_loopback(admin_port), 1);
    ck_assert_int_eq(count_in_file(md.log_path, "admin listening on 127.0.0.1:"), 1);
}
END_TEST

START_TEST(test_security_admin_exposed_when_asked)
{
    char y[4096];

    yaml(y, sizeof(y), "0.0.0.0", NULL);
    start_meshd(y);
    ck_assert_int_eq(listens_on_loopback(admin_port), 0);
}
END_TEST

START_TEST(test_security_meshd_shutdown_is_post_only)
{
    struct harness_resp r;
    char y[4096], allow[64];
    int st;

    yaml(y, sizeof(y), NULL, NULL);
    start_meshd(y);
    ck_assert_int_eq(admin_req(admin_port, "GET", "/admin/shutdown", &r), 0);
    ck_assert_int_eq(r.status, 405);
    ck_assert(harness_resp_header(&r, "Allow", allow, sizeof(allow)));
    ck_assert_str_eq(allow, "POST");
    harness_resp_fini(&r);
    ck_assert_int_eq(admin_req(admin_port, "PUT", "/admin/shutdown", &r), 0);
    ck_assert_int_eq(r.status, 405);
    harness_resp_fini(&r);
    ck_assert_int_eq(harness_get(proxy_port, "hello", "/", NULL, 0), 200); /* still serving */
    ck_assert_int_eq(admin_req(admin_port, "POST", "/admin/shutdown", &r), 0);
    ck_assert_int_eq(r.status, 200);
    harness_resp_fini(&r);
    ck_assert_int_eq(waitpid(md.pid, &st, 0), md.pid);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    md.pid = 0;
}
END_TEST

/* GET shows the level, a mutation needs POST, a bad level is a 400, and every worker
 * applies a new level (each says so in the log). */
static void
check_logging_endpoint(int port)
{
    struct harness_resp r;
    char allow[64];

    ck_assert_int_eq(admin_req(port, "GET", "/admin/logging", &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "notice\n");
    harness_resp_fini(&r);
    ck_assert_int_eq(admin_req(port, "GET", "/admin/logging?level=debug", &r), 0);
    ck_assert_int_eq(r.status, 405);
    ck_assert(harness_resp_header(&r, "Allow", allow, sizeof(allow)));
    ck_assert_str_eq(allow, "GET, HEAD, POST");
    harness_resp_fini(&r);
    ck_assert_int_eq(admin_req(port, "POST", "/admin/logging?level=loud", &r), 0);
    ck_assert_int_eq(r.status, 400);
    harness_resp_fini(&r);
    ck_assert_int_eq(admin_req(port, "POST", "/admin/logging", &r), 0);
    ck_assert_int_eq(r.status, 400);
    harness_resp_fini(&r);
    ck_assert_int_eq(admin_req(port, "GET", "/admin/logging", &r), 0);
    ck_assert_str_eq(r.body, "notice\n"); /* nothing changed so far */
    harness_resp_fini(&r);
    ck_assert_int_eq(admin_req(port, "POST", "/admin/logging?level=debug", &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "debug\n");
    harness_resp_fini(&r);
    ck_assert_int_eq(admin_req(port, "GET", "/admin/logging", &r), 0);
    ck_assert_str_eq(r.body, "debug\n");
    harness_resp_fini(&r);
}

/* A browser's cross-site POST (an Origin that is not this Host, or Sec-Fetch-Site
 * cross-site) changes nothing: 403; the same-origin form and tools without those
 * headers work. */
static void
check_cross_site_refused(int port)
{
    struct harness_resp r;
    char req[512];
    const char *const forged[] = {
        "Origin: http://evil.example\r\n", "Origin: null\r\n",
        "Origin: http://127.0.0.1:1\r\n",  "Sec-Fetch-Site: cross-site\r\n",
        "Sec-Fetch-Site: same-site\r\n",
    };

    for (size_t i = 0; i < sizeof(forged) / sizeof(forged[0]); i++) {
        snprintf(req, sizeof(req),
                 "POST /admin/logging?level=info HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s"
                 "Content-Length: 0\r\n\r\n",
                 port, forged[i]);
        ck_assert_int_eq(harness_http(port, req, &r), 0);
        ck_assert_msg(r.status == 403, "case %zu: status %d", i, r.status);
        harness_resp_fini(&r);
    }
    ck_assert_int_eq(admin_req(port, "GET", "/admin/logging", &r), 0);
    ck_assert_str_eq(r.body, "notice\n"); /* unchanged */
    harness_resp_fini(&r);
    /* the admin's own origin (a page served by this admin server) may */
    snprintf(req, sizeof(req),
             "POST /admin/logging?level=notice HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
             "Origin: http://127.0.0.1:%d\r\nSec-Fetch-Site: same-origin\r\n"
             "Content-Length: 0\r\n\r\n",
             port, port);
    ck_assert_int_eq(harness_http(port, req, &r), 0);
    ck_assert_int_eq(r.status, 200);
    harness_resp_fini(&r);
    /* reading stays open to any page's GET (a browser does not let it see the answer) */
    snprintf(req, sizeof(req),
             "GET /admin/logging HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
             "Origin: http://evil.example\r\n\r\n",
             port);
    ck_assert_int_eq(harness_http(port, req, &r), 0);
    ck_assert_int_eq(r.status, 200);
    harness_resp_fini(&r);
}

START_TEST(test_security_meshd_refuses_cross_site_posts)
{
    struct harness_resp r;
    char y[4096], req[512];

    yaml(y, sizeof(y), NULL, NULL);
    start_meshd(y);
    check_cross_site_refused(admin_port);
    snprintf(req, sizeof(req),
             "POST /admin/shutdown HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
             "Origin: http://evil.example\r\nContent-Length: 0\r\n\r\n",
             admin_port);
    ck_assert_int_eq(harness_http(admin_port, req, &r), 0);
    ck_assert_int_eq(r.status, 403);
    harness_resp_fini(&r);
    ck_assert_int_eq(harness_get(proxy_port, "hello", "/", NULL, 0), 200); /* still serving */
    ck_assert_int_eq(kill(md.pid, 0), 0);
}
END_TEST

START_TEST(test_security_meshd_log_level_reaches_workers)
{
    char y[4096];
    long deadline;

    yaml(y, sizeof(y), NULL, NULL);
    start_meshd(y);
    check_logging_endpoint(admin_port);
    deadline = now_ms() + 5000;
    while (count_in_file(md.log_path, "log level now debug (admin)") < 2 && now_ms() < deadline)
        usleep(20000);
    ck_assert_int_eq(count_in_file(md.log_path, "log level now debug (admin)"), 2);
    ck_assert_int_eq(count_in_file(md.log_path, "admin: log level notice -> debug"), 1);
    /* the body form works too; back to err: the workers say so before going quiet */
    {
        struct harness_resp r;
        const char req[] = "POST /admin/logging HTTP/1.1\r\nHost: a\r\nContent-Length: 9\r\n\r\n"
                           "level=err";

        ck_assert_int_eq(harness_http(admin_port, req, &r), 0);
        ck_assert_int_eq(r.status, 200);
        ck_assert_str_eq(r.body, "err\n");
        harness_resp_fini(&r);
    }
    deadline = now_ms() + 5000;
    while (count_in_file(md.log_path, "log level now err (admin)") < 2 && now_ms() < deadline)
        usleep(20000);
    ck_assert_int_eq(count_in_file(md.log_path, "log level now err (admin)"), 2);
    ck_assert_int_eq(harness_get(proxy_port, "hello", "/", NULL, 0), 200);
}
END_TEST

static void
agent_start(void)
{
    const char *bin = getenv("MESHAGENT");
    char *argv[] = {(char *) (bin ? bin : "meshagent"), md.cfg_path, NULL};
    char port[16];
    long deadline = now_ms() + 10000;

    snprintf(port, sizeof(port), "%d", agent_port);
    setenv("MESHAGENT_ADMIN_PORT", port, 1);
    snprintf(agent_log, sizeof(agent_log), "%s/agent.log", dir);
    agent_pid = harness_spawn(argv, agent_log);
    while (now_ms() < deadline) {
        if (harness_get(agent_port, "a", "/admin/ping", NULL, 0) == 200)
            return;
        if (waitpid(agent_pid, NULL, WNOHANG) == agent_pid)
            break;
        usleep(20000);
    }
    harness_print_log(agent_log);
    ck_abort_msg("meshagent did not start");
}

START_TEST(test_security_agent_file_modes_and_logging)
{
    char y[4096], path[800], url[128];
    struct stat st;
    struct dirent *de;
    unsigned n_files = 0;
    long deadline;
    DIR *d;
    int status;

    /* a collector that is not there: what is left at exit goes to the spool */
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/v2/spans", harness_free_port());
    setenv("MESHAGENT_ZIPKIN_URL", url, 1);
    snprintf(path, sizeof(path), "%s/spool", dir);
    setenv("MESHAGENT_SPOOL_DIR", path, 1);
    setenv("MESHAGENT_FLUSH_TIMEOUT_MS", "200", 1);
    yaml(y, sizeof(y), NULL, "telemetry:\n- kind: io.l5d.zipkin\n  sampleRate: 1.0\n");
    start_meshd(y);
    agent_start();
    ck_assert_int_eq(listens_on_loopback(agent_port), 1);

    snprintf(path, sizeof(path), "%s/run", dir);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 07777, 0750);
    snprintf(path, sizeof(path), "%s/run/spans.ipc", dir);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert(S_ISSOCK(st.st_mode));
    ck_assert_int_eq(st.st_mode & 07777, 0660);
    snprintf(path, sizeof(path), "%s/spool", dir);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 07777, 0700);

    check_cross_site_refused(agent_port);
    check_logging_endpoint(agent_port);
    ck_assert_int_eq(count_in_file(agent_log, "admin: log level notice -> debug"), 1);

    /* meshd's workers reach the 0660 socket: spans arrive */
    deadline = now_ms() + 10000;
    while (harness_metric(agent_port, "meshagent/spans/received") <= 0 && now_ms() < deadline) {
        ck_assert_int_eq(harness_get(proxy_port, "hello", "/", NULL, 0), 200);
        usleep(100000);
    }
    ck_assert_int_gt(harness_metric(agent_port, "meshagent/spans/received"), 0);
    status = harness_signal_wait(agent_pid, SIGTERM, 10000);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    agent_pid = 0;

    snprintf(path, sizeof(path), "%s/spool", dir);
    d = opendir(path);
    ck_assert_ptr_nonnull(d);
    while ((de = readdir(d)) != NULL) {
        char f[1200];

        if (de->d_name[0] == '.')
            continue;
        snprintf(f, sizeof(f), "%s/%s", path, de->d_name);
        ck_assert_int_eq(stat(f, &st), 0);
        ck_assert_int_eq(st.st_mode & 07777, 0600);
        n_files++;
    }
    closedir(d);
    ck_assert_uint_gt(n_files, 0);
}
END_TEST

static Suite *
security_suite(void)
{
    Suite *s = suite_create("security");
    TCase *tc = tcase_create("defaults");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_security_admin_binds_loopback_by_default);
    tcase_add_test(tc, test_security_admin_exposed_when_asked);
    tcase_add_test(tc, test_security_meshd_shutdown_is_post_only);
    tcase_add_test(tc, test_security_meshd_refuses_cross_site_posts);
    tcase_add_test(tc, test_security_meshd_log_level_reaches_workers);
    if (getenv("MESHAGENT") != NULL)
        tcase_add_test(tc, test_security_agent_file_modes_and_logging);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(security_suite)
