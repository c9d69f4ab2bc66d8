/* tests/lib/harness.h - process and socket helpers for integration tests: spawn real
 * processes in their own process group (killed when the test ends, even if it crashes),
 * wait for readiness by polling instead of sleeping, and speak raw HTTP/1.1. */
#ifndef MESH_TESTS_HARNESS_H
#define MESH_TESTS_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* A free TCP port on 127.0.0.1 (bound, read, closed: good enough on loopback). */
int harness_free_port(void);
/* A new temporary directory (freed and removed by harness_cleanup). */
const char *harness_tmpdir(void);
void harness_write_file(const char *path, const char *content);

/* Spawns <argv> in a new process group with stdout+stderr appended to <log_path>.
 * The process gets SIGKILL if the test process dies. Returns its pid. */
pid_t harness_spawn(char *const argv[], const char *log_path);
/* SIGKILLs <pid>'s process group and reaps it. */
void harness_kill(pid_t pid);
/* Sends <sig> to <pid> and waits up to <timeout_ms> for it to exit. Returns its wait
 * status, or -1 on timeout (then it is killed). */
int harness_signal_wait(pid_t pid, int sig, int timeout_ms);
/* Kills everything spawned and removes temporary directories. */
void harness_cleanup(void);

/* Polls until a TCP connect to 127.0.0.1:<port> succeeds. Returns 0 or -1 on timeout. */
int harness_wait_port(int port, int timeout_ms);

struct harness_resp {
    int status;
    char *head;  /* the whole response head, NUL-terminated */
    char *body;  /* NUL-terminated (bodies here are text or counted) */
    size_t body_len;
    bool closed; /* the server closed the connection after the response */
};

void harness_resp_fini(struct harness_resp *r);
/* Value of header <name> in r->head (case-insensitive), copied to <out>; false if absent. */
bool harness_resp_header(const struct harness_resp *r, const char *name, char *out, size_t outlen);

/* A connected socket to 127.0.0.1:<port> with a receive timeout of <timeout_ms>. */
int harness_connect(int port, int timeout_ms);
int harness_send(int fd, const void *data, size_t len);
/* Reads one response from <fd> (honouring Content-Length, chunked, or close). <is_head>
 * for responses to HEAD. Body bytes beyond <max_body> are counted but not kept.
 * Returns 0, or -1 on timeout, EOF before a response, or a malformed response. */
int harness_read_response(int fd, bool is_head, size_t max_body, struct harness_resp *r);
/* One request on a new connection: send <raw>, read one response. */
int harness_http(int port, const char *raw, struct harness_resp *r);
/* GET <path> with Host <host>: returns the status, or -1. Body copied to <body> if given. */
int harness_get(int port, const char *host, const char *path, char *body, size_t bodylen);

/* Pids of the direct children of <pid> (from /proc), up to <max>. Returns the count. */
int harness_children(pid_t pid, pid_t *out, int max);
/* VmRSS and VmHWM of <pid> in KiB, or -1. */
long harness_rss_kb(pid_t pid);
long harness_hwm_kb(pid_t pid);

/* meshd helpers */
struct harness_meshd {
    pid_t pid;
    int admin_port;
    char cfg_path[512];
    char log_path[512];
};
/* Writes <yaml> to a config file and starts $MESHD on it; waits for /admin/ping on
 * <admin_port>. Returns 0, or -1 (the log is printed to stderr). */
int harness_meshd_start(struct harness_meshd *m, const char *yaml, int admin_port);
/* Reads a numeric metric from /admin/metrics.json; returns -1 when absent. */
long long harness_metric(int admin_port, const char *name);
void harness_print_log(const char *path);
/* False when <path> holds a sanitizer report or a "bug:" line (copied to <first_bad>). */
bool harness_log_clean(const char *path, char *first_bad, size_t len);

#endif
