/* tests/integration/test_privdrop.c - meshd and meshagent started as root become the
 * configured user (docs/security.md, "Privileges"): /proc/<pid>/status of the master, its
 * workers and the agent shows that user's ids in all four slots, no supplementary group
 * it does not have, NoNewPrivs; the proxy serves, a SIGHUP reload (the config re-read as
 * that user) starts workers that are unprivileged too, spans still reach the agent through
 * the socket it gave to that user, and without a user both stay root and say so. Runs only
 * as root (exit 77 otherwise), with the system's "nobody" user. */
#include <errno.h>
#include <pwd.h>
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
static uid_t nobody_uid;
static gid_t nobody_gid;

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
    ck_assert_int_eq(chmod(dir, 0755), 0); /* the user reads the namer's files from here */
    snprintf(disco, sizeof(disco), "%s/disco", dir);
    ck_assert_int_eq(mkdir(disco, 0755), 0);
    ck_assert_int_eq(chmod(disco, 0755), 0);
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
    ck_assert_int_eq(chmod(file, 0644), 0);
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
    ck_assert_msg(clean, "log: %s", bad);
}

static void
yaml(char *out, size_t len, const char *user_keys)
{
    snprintf(out, len,
             "admin: {port: %d}\n"
             "namers:\n"
             "- kind: io.l5d.fs\n"
             "  rootDir: %s/disco\n"
             "telemetry:\n"
             "- kind: io.l5d.zipkin\n"
             "  sampleRate: 1.0\n"
             "routers:\n"
             "- protocol: http\n"
             "  label: out\n"
             "  dtab: /svc => /#/io.l5d.fs;\n"
             "  servers:\n"
             "  - {ip: 127.0.0.1, port: %d}\n"
             "meshd: {workers: 2, drainTimeoutMs: 3000, runDir: %s/run%s}\n",
             admin_port, dir, proxy_port, dir, user_keys ? user_keys : "");
}

/* The config and its directory must be readable by the user for a reload. */
static void
start_meshd(const char *y)
{
    char cfgdir[600], *slash;

    ck_assert_msg(harness_meshd_start(&md, y, admin_port) == 0, "meshd did not start");
    ck_assert_int_eq(harness_wait_port(proxy_port, 5000), 0);
    snprintf(cfgdir, sizeof(cfgdir), "%s", md.cfg_path);
    slash = strrchr(cfgdir, '/');
    *slash = '\0';
    ck_assert_int_eq(chmod(cfgdir, 0755), 0);
    ck_assert_int_eq(chmod(md.cfg_path, 0644), 0);
}

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

/* The four ids of "Uid:" or "Gid:", and the rest of a line, from /proc/<pid>/status. */
static bool
status_line(pid_t pid, const char *key, char *out, size_t len)
{
    char path[64], line[512];
    FILE *f;
    bool found = false;

    snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
    f = fopen(path, "r");
    if (f == NULL)
        return false;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, key, strlen(key)) == 0) {
            const char *v = line + strlen(key);

            while (*v == ' ' || *v == '\t')
                v++;
            snprintf(out, len, "%s", v);
            out[strcspn(out, "\n")] = '\0';
            found = true;
            break;
        }
    }
    fclose(f);
    return found;
}

static void
assert_ids(pid_t pid, uid_t uid, gid_t gid, bool dropped)
{
    char v[256], want[128];

    ck_assert_msg(status_line(pid, "Uid:", v, sizeof(v)), "pid %d gone", (int) pid);
    snprintf(want, sizeof(want), "%u\t%u\t%u\t%u", uid, uid, uid, uid);
    ck_assert_msg(strcmp(v, want) == 0, "pid %d Uid: %s, want %s", (int) pid, v, want);
    ck_assert(status_line(pid, "Gid:", v, sizeof(v)));
    snprintf(want, sizeof(want), "%u\t%u\t%u\t%u", gid, gid, gid, gid);
    ck_assert_msg(strcmp(v, want) == 0, "pid %d Gid: %s, want %s", (int) pid, v, want);
    if (dropped) {
        /* root's supplementary groups are gone: only the user's own (nobody: nogroup) */
        ck_assert(status_line(pid, "Groups:", v, sizeof(v)));
        snprintf(want, sizeof(want), "%u", gid);
        ck_assert_msg(v[0] == '\0' || strcmp(v, want) == 0 ||
                          (strncmp(v, want, strlen(want)) == 0 && v[strlen(want)] == ' '),
                      "pid %d Groups: %s", (int) pid, v);
        ck_assert(status_line(pid, "NoNewPrivs:", v, sizeof(v)));
        ck_assert_str_eq(v, "1");
        ck_assert(status_line(pid, "CapEff:", v, sizeof(v)));
        ck_assert_str_eq(v, "0000000000000000");
    }
}

/* Master and its workers (children) have the ids; returns the worker count. */
static int
assert_meshd_ids(uid_t uid, gid_t gid, bool dropped)
{
    pid_t kids[16];
    int n = harness_children(md.pid, kids, 16);

    assert_ids(md.pid, uid, gid, dropped);
    for (int i = 0; i < n; i++)
        assert_ids(kids[i], uid, gid, dropped);
    return n;
}

START_TEST(test_privdrop_meshd_and_agent_become_the_user)
{
    char y[4096], path[700];
    struct stat st;
    pid_t before[16], after[16];
    int n_before, n_after;
    long deadline;
    bool replaced;

    yaml(y, sizeof(y), ", user: nobody");
    start_meshd(y);
    ck_assert_int_eq(assert_meshd_ids(nobody_uid, nobody_gid, true), 2);
    ck_assert_int_eq(harness_get(proxy_port, "hello", "/", NULL, 0), 200);

    /* the agent takes meshd.user from the shared config */
    agent_start();
    assert_ids(agent_pid, nobody_uid, nobody_gid, true);
    snprintf(path, sizeof(path), "%s/run", dir);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq(st.st_uid, nobody_uid);
    ck_assert_int_eq(st.st_mode & 07777, 0750);
    snprintf(path, sizeof(path), "%s/run/spans.ipc", dir);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq(st.st_uid, nobody_uid);
    ck_assert_uint_eq(st.st_gid, nobody_gid);
    ck_assert_int_eq(st.st_mode & 07777, 0660);

    /* workers (nobody) push spans to the agent's socket (nobody) */
    deadline = now_ms() + 10000;
    while (harness_metric(agent_port, "meshagent/spans/received") <= 0 && now_ms() < deadline) {
        ck_assert_int_eq(harness_get(proxy_port, "hello", "/", NULL, 0), 200);
        usleep(100000);
    }
    ck_assert_int_gt(harness_metric(agent_port, "meshagent/spans/received"), 0);

    /* reload as nobody: the config is re-read, new workers are unprivileged too */
    n_before = harness_children(md.pid, before, 16);
    ck_assert_int_eq(kill(md.pid, SIGHUP), 0);
    deadline = now_ms() + 15000;
    do {
        usleep(50000);
        n_after = harness_children(md.pid, after, 16);
        replaced = harness_metric(admin_port, "meshd/reloads") == 1 && n_after == 2;
        for (int i = 0; replaced && i < n_after; i++)
            for (int k = 0; k < n_before; k++)
                if (after[i] == before[k])
                    replaced = false;
    } while (!replaced && now_ms() < deadline);
    ck_assert_msg(replaced, "the reload did not replace the workers");
    ck_assert_int_eq(assert_meshd_ids(nobody_uid, nobody_gid, true), 2);
    ck_assert_int_eq(harness_get(proxy_port, "hello", "/", NULL, 0), 200);
    ck_assert_int_eq(harness_metric(admin_port, "meshd/reload_failures"), 0);

    /* what a reload cannot do as nobody: add a worker, whose socket would join the ones
     * root bound (SO_REUSEPORT wants the same owner); it fails, saying why, and the
     * running generation stays */
    {
        char y3[4096];
        FILE *f;
        char line[1024];
        bool hinted = false;

        yaml(y3, sizeof(y3), ", user: nobody");
        ck_assert_ptr_nonnull(strstr(y3, "workers: 2"));
        memcpy(strstr(y3, "workers: 2"), "workers: 3", 10);
        harness_write_file(md.cfg_path, y3);
        ck_assert_int_eq(chmod(md.cfg_path, 0644), 0);
        ck_assert_int_eq(kill(md.pid, SIGHUP), 0);
        deadline = now_ms() + 10000;
        while (harness_metric(admin_port, "meshd/reload_failures") < 1 && now_ms() < deadline)
            usleep(50000);
        ck_assert_int_eq(harness_metric(admin_port, "meshd/reload_failures"), 1);
        ck_assert_int_eq(harness_get(proxy_port, "hello", "/", NULL, 0), 200);
        ck_assert_int_eq(assert_meshd_ids(nobody_uid, nobody_gid, true), 2);
        f = fopen(md.log_path, "r");
        ck_assert_ptr_nonnull(f);
        while (fgets(line, sizeof(line), f))
            if (strstr(line, "needs a restart") != NULL)
                hinted = true;
        fclose(f);
        ck_assert_msg(hinted, "the failed reload does not say why");
    }

    /* the agent reloads too, and stops cleanly, removing its socket as nobody */
    ck_assert_int_eq(kill(agent_pid, SIGHUP), 0);
    ck_assert_int_eq(harness_get(agent_port, "a", "/admin/ping", NULL, 0), 200);
    {
        int status = harness_signal_wait(agent_pid, SIGTERM, 10000);

        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        agent_pid = 0;
    }
    ck_assert_int_ne(stat(path, &st), 0);
}
END_TEST

START_TEST(test_privdrop_without_user_stays_root_and_warns)
{
    char y[4096];

    yaml(y, sizeof(y), NULL);
    start_meshd(y);
    ck_assert_int_eq(assert_meshd_ids(0, 0, false), 2);
    ck_assert_int_eq(harness_get(proxy_port, "hello", "/", NULL, 0), 200);
    agent_start();
    assert_ids(agent_pid, 0, 0, false);
    {
        FILE *f = fopen(md.log_path, "r");
        char line[1024];
        bool warned = false;

        ck_assert_ptr_nonnull(f);
        while (fgets(line, sizeof(line), f))
            if (strstr(line, "running as root: ") != NULL)
                warned = true;
        fclose(f);
        ck_assert_msg(warned, "meshd did not warn that it runs as root");
    }
}
END_TEST

START_TEST(test_privdrop_unknown_user_refuses_to_start)
{
    const char *bin = getenv("MESHD");
    char y[4096], cfg[700], cmd[1600];

    yaml(y, sizeof(y), ", user: no-such-user-meshd");
    snprintf(cfg, sizeof(cfg), "%s/bad.yaml", dir);
    harness_write_file(cfg, y);
    snprintf(cmd, sizeof(cmd), "%s --check %s >/dev/null 2>&1", bin ? bin : "meshd", cfg);
    ck_assert_int_eq(WEXITSTATUS(system(cmd)), 1);
    yaml(y, sizeof(y), ", group: nogroup");
    harness_write_file(cfg, y);
    ck_assert_int_eq(WEXITSTATUS(system(cmd)), 1); /* a group needs a user */
    /* meshagent checks its user too, from the environment or meshd.user */
    yaml(y, sizeof(y), NULL);
    harness_write_file(cfg, y);
    snprintf(cmd, sizeof(cmd), "MESHAGENT_USER=no-such-user-meshd %s --check %s >/dev/null 2>&1",
             getenv("MESHAGENT"), cfg);
    ck_assert_int_eq(WEXITSTATUS(system(cmd)), 1);
    snprintf(cmd, sizeof(cmd), "MESHAGENT_USER=nobody %s --check %s >/dev/null 2>&1",
             getenv("MESHAGENT"), cfg);
    ck_assert_int_eq(WEXITSTATUS(system(cmd)), 0);
}
END_TEST

static Suite *
privdrop_suite(void)
{
    Suite *s = suite_create("privdrop");
    TCase *tc = tcase_create("root");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, test_privdrop_meshd_and_agent_become_the_user);
    tcase_add_test(tc, test_privdrop_without_user_stays_root_and_warns);
    tcase_add_test(tc, test_privdrop_unknown_user_refuses_to_start);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    struct passwd *pw = getpwnam("nobody");
    SRunner *sr;
    int failed;

    if (geteuid() != 0 || pw == NULL || getenv("MESHAGENT") == NULL) {
        printf("SKIP: needs root, a \"nobody\" user and meshagent\n");
        return 77;
    }
    nobody_uid = pw->pw_uid;
    nobody_gid = pw->pw_gid;
    sr = srunner_create(privdrop_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
