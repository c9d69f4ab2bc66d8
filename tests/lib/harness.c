/* tests/lib/harness.c - see harness.h. */
#include "tests/lib/harness.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proto/http1.h"

#define MAX_SPAWNED 64
#define MAX_TMPDIRS 16

static pid_t spawned[MAX_SPAWNED];
static int n_spawned;
static char *tmpdirs[MAX_TMPDIRS];
static int n_tmpdirs;

static void register_cleanup(void);

static long
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

int
harness_free_port(void)
{
    /* Below the kernel's ephemeral range (32768-60999 by default): a port the kernel handed
     * out for "any port" can be taken again by any outgoing connection before the server
     * under test binds it; these ones cannot. */
    static unsigned seed;

    if (seed == 0)
        seed = (unsigned) getpid() * 2654435761u ^ (unsigned) now_ms();
    for (int tries = 0; tries < 1000; tries++) {
        struct sockaddr_in sin = {.sin_family = AF_INET};
        int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1, ok;
        int port = 10000 + (int) (rand_r(&seed) % 20000);

        if (fd == -1)
            abort();
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        sin.sin_port = htons((uint16_t) port);
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        ok = bind(fd, (struct sockaddr *) &sin, sizeof(sin)) == 0;
        close(fd);
        if (ok)
            return port;
    }
    abort();
}

const char *
harness_tmpdir(void)
{
    char tmpl[] = "/tmp/meshd-test-XXXXXX";
    char *d = mkdtemp(tmpl);

    if (d == NULL || n_tmpdirs == MAX_TMPDIRS)
        abort();
    register_cleanup();
    tmpdirs[n_tmpdirs] = strdup(d);
    return tmpdirs[n_tmpdirs++];
}

void
harness_write_file(const char *path, const char *content)
{
    char tmp[600];
    FILE *f;

    /* write then rename, so a watcher never sees half a file */
    snprintf(tmp, sizeof(tmp), "%s.tmp~", path);
    f = fopen(tmp, "w");
    if (f == NULL)
        abort();
    fputs(content, f);
    fclose(f);
    if (rename(tmp, path) != 0)
        abort();
}

static void
at_exit_cleanup(void)
{
    harness_cleanup();
}

static void
register_cleanup(void)
{
    static bool registered;

    /* A failed Check assertion ends the test process before its teardown runs. */
    if (!registered)
        atexit(at_exit_cleanup);
    registered = true;
}

pid_t
harness_spawn(char *const argv[], const char *log_path)
{
    pid_t parent = getpid();
    pid_t pid = fork();

    if (pid == -1)
        abort();
    register_cleanup();
    if (pid == 0) {
        int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);

        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execv(argv[0], argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    setpgid(pid, pid);
    if (n_spawned < MAX_SPAWNED)
        spawned[n_spawned++] = pid;
    return pid;
}

static void
forget(pid_t pid)
{
    for (int i = 0; i < n_spawned; i++)
        if (spawned[i] == pid)
            spawned[i] = 0;
}

void
harness_kill(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    forget(pid);
}

int
harness_signal_wait(pid_t pid, int sig, int timeout_ms)
{
    long deadline = now_ms() + timeout_ms;
    int status;

    kill(pid, sig);
    while (now_ms() < deadline) {
        pid_t r = waitpid(pid, &status, WNOHANG);

        if (r == pid) {
            forget(pid);
            kill(-pid, SIGKILL); /* stragglers in its group */
            return status;
        }
        usleep(10000);
    }
    harness_kill(pid);
    return -1;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st;
    (void) flag;
    (void) ftw;
    return remove(path);
}

void
harness_cleanup(void)
{
    for (int i = 0; i < n_spawned; i++)
        if (spawned[i] > 0)
            harness_kill(spawned[i]);
    n_spawned = 0;
    for (int i = 0; i < n_tmpdirs; i++) {
        nftw(tmpdirs[i], rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        free(tmpdirs[i]);
    }
    n_tmpdirs = 0;
}

int
harness_connect(int port, int timeout_ms)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t) port)};
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd == -1)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *) &sin, sizeof(sin)) == -1) {
        close(fd);
        return -1;
    }
    return fd;
}

int
harness_wait_port(int port, int timeout_ms)
{
    long deadline = now_ms() + timeout_ms;

    while (now_ms() < deadline) {
        int fd = harness_connect(port, 1000);

        if (fd >= 0) {
            close(fd);
            return 0;
        }
        usleep(20000);
    }
    return -1;
}

int
harness_send(int fd, const void *data, size_t len)
{
    const char *p = data;

    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

        if (n == -1 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t) n;
    }
    return 0;
}

void
harness_resp_fini(struct harness_resp *r)
{
    free(r->head);
    free(r->body);
    memset(r, 0, sizeof(*r));
}

bool
harness_resp_header(const struct harness_resp *r, const char *name, char *out, size_t outlen)
{
    size_t nlen = strlen(name);
    const char *p = r->head ? strstr(r->head, "\r\n") : NULL;

    while (p && p[2] != '\r') {
        const char *line = p + 2;
        const char *eol = strstr(line, "\r\n");

        if (eol == NULL)
            break;
        if ((size_t) (eol - line) > nlen && strncasecmp(line, name, nlen) == 0 &&
            line[nlen] == ':') {
            const char *v = line + nlen + 1;

            while (*v == ' ')
                v++;
            snprintf(out, outlen, "%.*s", (int) (eol - v), v);
            return true;
        }
        p = eol;
    }
    return false;
}

/* Buffered reader over a socket with a receive timeout. */
struct reader {
    int fd;
    char buf[65536];
    size_t start, end;
    bool eof;
};

static int
reader_fill(struct reader *rd)
{
    ssize_t n;

    if (rd->start > 0) {
        memmove(rd->buf, rd->buf + rd->start, rd->end - rd->start);
        rd->end -= rd->start;
        rd->start = 0;
    }
    if (rd->end == sizeof(rd->buf))
        return -1;
    n = recv(rd->fd, rd->buf + rd->end, sizeof(rd->buf) - rd->end, 0);
    if (n == 0) {
        rd->eof = true;
        return 0;
    }
    if (n < 0)
        return -1;
    rd->end += (size_t) n;
    return (int) n;
}

static void
body_add(struct harness_resp *r, const char *data, size_t len, size_t max_body)
{
    size_t keep = r->body_len < max_body ? ((len) < (max_body - r->body_len) ? (len) : (max_body - r->body_len)) : 0;

    if (keep) {
        r->body = realloc(r->body, r->body_len + keep + 1);
        memcpy(r->body + r->body_len, data, keep);
        r->body[r->body_len + keep] = '\0';
    }
    r->body_len += len;
}

/* Reads one response; leftover bytes stay in a per-fd static reader (one at a time). */
int
harness_read_response(int fd, bool is_head, size_t max_body, struct harness_resp *r)
{
    static struct reader rd;
    struct http1_header hdrs[100];
    struct http1_response hr;
    struct http1_error err;
    struct http1_limits lim = {.max_request_line = 8192, .max_head = 65536, .max_headers = 100};
    int rc;

    if (rd.fd != fd) {
        memset(&rd, 0, sizeof(rd));
        rd.fd = fd;
    }
    memset(r, 0, sizeof(*r));
    for (;;) {
        rc = http1_parse_response(rd.buf + rd.start, rd.end - rd.start, &lim, is_head, hdrs, 100,
                                  &hr, &err);
        if (rc > 0 && hr.status < 200) {
            rd.start += (size_t) rc; /* skip 1xx */
            continue;
        }
        if (rc != -EAGAIN)
            break;
        if (reader_fill(&rd) <= 0)
            return -1;
    }
    if (rc < 0)
        return -1;
    r->status = hr.status;
    r->head = strndup(rd.buf + rd.start, (size_t) rc);
    rd.start += (size_t) rc;
    r->body = strdup("");
    if (hr.body == HTTP1_BODY_LENGTH) {
        uint64_t left = hr.content_length;

        while (left) {
            size_t take = ((rd.end - rd.start) < (left) ? (rd.end - rd.start) : (left));

            body_add(r, rd.buf + rd.start, take, max_body);
            rd.start += take;
            left -= take;
            if (left && reader_fill(&rd) <= 0)
                return -1;
        }
    } else if (hr.body == HTTP1_BODY_CHUNKED) {
        struct http1_chunked ch = {0};

        for (;;) {
            size_t used = 0;
            int c = rd.end > rd.start ? http1_chunked_scan(&ch, rd.buf + rd.start,
                                                           rd.end - rd.start, &used, &err)
                                      : 0;

            if (c < 0)
                return -1;
            /* keep the raw chunked bytes: tests look at framing too */
            body_add(r, rd.buf + rd.start, used, max_body);
            rd.start += used;
            if (c == 1)
                break;
            if (reader_fill(&rd) <= 0)
                return -1;
        }
    } else if (hr.body == HTTP1_BODY_UNTIL_CLOSE) {
        for (;;) {
            body_add(r, rd.buf + rd.start, rd.end - rd.start, max_body);
            rd.start = rd.end;
            if (reader_fill(&rd) <= 0)
                break;
        }
        r->closed = true;
    }
    if (!r->closed && rd.start == rd.end) {
        /* did the server close right after? Wait a little when it said it would. */
        char c, conn[64];
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        bool said_close = harness_resp_header(r, "Connection", conn, sizeof(conn)) &&
                          strcasecmp(conn, "close") == 0;

        if (said_close)
            (void) poll(&pfd, 1, 2000);
        if (recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0)
            r->closed = true;
    }
    return 0;
}

int
harness_http(int port, const char *raw, struct harness_resp *r)
{
    int fd = harness_connect(port, 10000), rc;

    memset(r, 0, sizeof(*r));
    if (fd < 0)
        return -1;
    rc = harness_send(fd, raw, strlen(raw));
    if (rc == 0)
        rc = harness_read_response(fd, strncmp(raw, "HEAD ", 5) == 0, 1 << 20, r);
    close(fd);
    return rc;
}

int
harness_get(int port, const char *host, const char *path, char *body, size_t bodylen)
{
    struct harness_resp r;
    char req[1024];
    int status;

    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", path,
             host);
    if (harness_http(port, req, &r) != 0)
        return -1;
    status = r.status;
    if (body)
        snprintf(body, bodylen, "%s", r.body ? r.body : "");
    harness_resp_fini(&r);
    return status;
}

int
harness_children(pid_t pid, pid_t *out, int max)
{
    char path[128], buf[4096];
    FILE *f;
    int n = 0;
    char *tok, *save = NULL;

    snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int) pid, (int) pid);
    f = fopen(path, "r");
    if (f == NULL)
        return 0;
    if (fgets(buf, sizeof(buf), f) == NULL)
        buf[0] = '\0';
    fclose(f);
    for (tok = strtok_r(buf, " \n", &save); tok && n < max; tok = strtok_r(NULL, " \n", &save))
        out[n++] = (pid_t) atoi(tok);
    return n;
}

static long
status_field(pid_t pid, const char *field)
{
    char path[64], line[256];
    size_t flen = strlen(field);
    long v = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
    f = fopen(path, "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, field, flen) == 0 && line[flen] == ':')
            v = strtol(line + flen + 1, NULL, 10);
    fclose(f);
    return v;
}

long
harness_rss_kb(pid_t pid)
{
    return status_field(pid, "VmRSS");
}

long
harness_hwm_kb(pid_t pid)
{
    return status_field(pid, "VmHWM");
}

bool
harness_log_clean(const char *path, char *first_bad, size_t len)
{
    static const char *const bad[] = {"AddressSanitizer", "LeakSanitizer", "runtime error:",
                                      "bug: "};
    char line[1024];
    FILE *f = fopen(path, "r");
    bool clean = true;

    if (f == NULL)
        return true;
    while (clean && fgets(line, sizeof(line), f)) {
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            if (strstr(line, bad[i])) {
                snprintf(first_bad, len, "%s", line);
                clean = false;
            }
        }
    }
    fclose(f);
    return clean;
}

void
harness_print_log(const char *path)
{
    char line[1024];
    FILE *f = fopen(path, "r");

    if (f == NULL)
        return;
    fprintf(stderr, "---- %s ----\n", path);
    while (fgets(line, sizeof(line), f))
        fputs(line, stderr);
    fclose(f);
}

int
harness_meshd_start(struct harness_meshd *m, const char *yaml, int admin_port)
{
    const char *dir = harness_tmpdir();
    const char *bin = getenv("MESHD");
    char *argv[3];
    long deadline;

    memset(m, 0, sizeof(*m));
    snprintf(m->cfg_path, sizeof(m->cfg_path), "%s/meshd.yaml", dir);
    snprintf(m->log_path, sizeof(m->log_path), "%s/meshd.log", dir);
    harness_write_file(m->cfg_path, yaml);
    argv[0] = (char *) (bin ? bin : "meshd");
    argv[1] = m->cfg_path;
    argv[2] = NULL;
    m->admin_port = admin_port;
    m->pid = harness_spawn(argv, m->log_path);
    deadline = now_ms() + 10000;
    while (now_ms() < deadline) {
        char body[64];

        if (harness_get(admin_port, "admin", "/admin/ping", body, sizeof(body)) == 200 &&
            harness_metric(admin_port, "meshd/workers") > 0)
            return 0;
        if (waitpid(m->pid, NULL, WNOHANG) == m->pid)
            break;
        usleep(20000);
    }
    harness_print_log(m->log_path);
    return -1;
}

long long
harness_metric(int admin_port, const char *name)
{
    struct harness_resp r;
    char req[256], key[512];
    long long v = -1;
    const char *p;

    snprintf(req, sizeof(req), "GET /admin/metrics.json HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    if (harness_http(admin_port, req, &r) != 0)
        return -1;
    snprintf(key, sizeof(key), "\"%s\":", name);
    p = r.body ? strstr(r.body, key) : NULL;
    if (p) {
        p += strlen(key);
        while (*p == ' ')
            p++;
        v = strtoll(p, NULL, 10);
    }
    harness_resp_fini(&r);
    return v;
}
