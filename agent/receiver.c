/* agent/receiver.c - the PULL socket (see receiver.h).
 *
 * nanomsg signals readiness through NN_RCVFD, a descriptor that stays readable while
 * messages are queued, so a level-triggered ev_io fits: each callback takes at most
 * RECV_BURST messages with NN_DONTWAIT and returns to the loop, so a flood of spans
 * cannot starve timers or the admin server. */
#include "agent/receiver.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <nanomsg/nn.h>
#include <nanomsg/pipeline.h>

#include "common/util.h"

#define RECV_BURST   256
#define RECV_MAX_MSG (64 * 1024 * 1024) /* bytes; larger messages are refused by nanomsg */

struct receiver {
    struct ev_loop *loop;
    int sock; /* nanomsg socket */
    ev_io io; /* on NN_RCVFD */
    receiver_msg_fn *fn;
    void *arg;
    char path[108]; /* ipc file, "" for tcp */
    uint64_t n_msgs, n_bytes;
};

int
receiver_make_dir(const char *path, mode_t mode)
{
    char tmp[512];
    size_t len = strlen(path);

    if (len == 0 || len >= sizeof(tmp))
        return -ENAMETOOLONG;
    memcpy(tmp, path, len + 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, mode) == 0)
            (void) chmod(tmp, mode); /* the umask took bits away */
        else if (errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(tmp, mode) == 0) {
        if (chmod(tmp, mode) == -1)
            return -errno;
        return 1;
    }
    return errno == EEXIST ? 0 : -errno;
}

/* An ipc file at <path>: gone, stale (removed), or alive (-EADDRINUSE). */
static int
clear_stale(const char *path)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    struct stat st;
    int fd, r;

    if (lstat(path, &st) == -1)
        return errno == ENOENT ? 0 : -errno;
    if (!S_ISSOCK(st.st_mode))
        return -EEXIST;
    if (strlen(path) >= sizeof(sun.sun_path))
        return -ENAMETOOLONG;
    memcpy(sun.sun_path, path, strlen(path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd == -1)
        return -errno;
    r = connect(fd, (struct sockaddr *) &sun, sizeof(sun));
    if (r == 0) {
        (void) close(fd);
        return -EADDRINUSE; /* someone answers: a live agent */
    }
    r = errno;
    (void) close(fd);
    if (r != ECONNREFUSED)
        return -r;
    if (unlink(path) == -1 && errno != ENOENT)
        return -errno;
    return 1;
}

static void
receiver_on_readable(struct ev_loop *loop, ev_io *w, int revents)
{
    struct receiver *r = container_of(w, struct receiver, io);

    (void) loop;
    (void) revents;
    (void) receiver_drain(r, RECV_BURST); /* EAGAIN: drained; EBADF/ETERM: closing */
}

unsigned
receiver_drain(struct receiver *r, unsigned max)
{
    unsigned n = 0;

    for (; n < max; n++) {
        void *msg = NULL;
        int len = nn_recv(r->sock, &msg, NN_MSG, NN_DONTWAIT);

        if (len < 0)
            break;
        r->n_msgs++;
        r->n_bytes += (uint64_t) len;
        r->fn(msg, (size_t) len, r->arg);
        (void) nn_freemsg(msg);
    }
    return n;
}

struct receiver *
receiver_new(struct ev_loop *loop, const char *url, receiver_msg_fn *fn, void *arg, char *err,
             size_t errlen)
{
    struct receiver *r = xcalloc(1, sizeof(*r));
    int maxsz = RECV_MAX_MSG, fd = -1, rc;
    size_t fdsz = sizeof(fd);

    r->loop = loop;
    r->fn = fn;
    r->arg = arg;
    r->sock = -1;
    if (strncmp(url, "ipc://", 6) == 0) {
        if (strlen(url + 6) >= sizeof(r->path)) {
            snprintf(err, errlen, "%s: socket path too long (at most %zu bytes)", url,
                     sizeof(r->path) - 1);
            goto fail;
        }
        snprintf(r->path, sizeof(r->path), "%s", url + 6);
        rc = clear_stale(r->path);
        if (rc == -EADDRINUSE) {
            snprintf(err, errlen, "%s: another process is listening there (another meshagent?)",
                     url);
            goto fail;
        }
        if (rc == -EEXIST) {
            snprintf(err, errlen, "%s: exists and is not a socket, not touching it", url);
            goto fail;
        }
        if (rc < 0) {
            snprintf(err, errlen, "%s: %s", url, strerror(-rc));
            goto fail;
        }
    } else if (strncmp(url, "tcp://", 6) != 0) {
        snprintf(err, errlen, "%s: agent socket must be ipc:// or tcp://", url);
        goto fail;
    }
    r->sock = nn_socket(AF_SP, NN_PULL);
    if (r->sock < 0) {
        snprintf(err, errlen, "nn_socket: %s", nn_strerror(nn_errno()));
        goto fail;
    }
    (void) nn_setsockopt(r->sock, NN_SOL_SOCKET, NN_RCVMAXSIZE, &maxsz, sizeof(maxsz));
    if (nn_bind(r->sock, url) < 0) {
        snprintf(err, errlen, "%s: bind: %s", url, nn_strerror(nn_errno()));
        goto fail;
    }
    /* meshd's workers connect to it: the owner and the group (docs/security.md) */
    if (r->path[0] != '\0' && chmod(r->path, 0660) == -1) {
        snprintf(err, errlen, "%s: chmod 0660: %s", url, strerror(errno));
        goto fail;
    }
    if (nn_getsockopt(r->sock, NN_SOL_SOCKET, NN_RCVFD, &fd, &fdsz) < 0) {
        snprintf(err, errlen, "NN_RCVFD: %s", nn_strerror(nn_errno()));
        goto fail;
    }
    ev_io_init(&r->io, receiver_on_readable, fd, EV_READ);
    ev_io_start(loop, &r->io);
    return r;

fail:
    if (r->sock >= 0)
        (void) nn_close(r->sock);
    free(r);
    return NULL;
}

struct receiver *
receiver_free(struct receiver *r)
{
    if (r == NULL)
        return NULL;
    ev_io_stop(r->loop, &r->io);
    (void) nn_close(r->sock);
    if (r->path[0] != '\0')
        (void) unlink(r->path); /* ours: receiver_new() refused to bind over a live one */
    free(r);
    return NULL;
}

uint64_t
receiver_n_msgs(const struct receiver *r)
{
    return r->n_msgs;
}

uint64_t
receiver_n_bytes(const struct receiver *r)
{
    return r->n_bytes;
}
