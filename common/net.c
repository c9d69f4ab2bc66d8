/* common/net.c - listener set-up; see net.h. */
#include "common/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

int
net_parse_addr(const char *ip, uint16_t port, struct sockaddr_storage *ss, socklen_t *ret_len)
{
    memset(ss, 0, sizeof(*ss));
    if (strchr(ip, ':')) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) ss;

        if (inet_pton(AF_INET6, ip, &sin6->sin6_addr) != 1)
            return -EINVAL;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        *ret_len = sizeof(*sin6);
        return 0;
    } else {
        struct sockaddr_in *sin = (struct sockaddr_in *) ss;

        if (inet_pton(AF_INET, ip, &sin->sin_addr) != 1)
            return -EINVAL;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        *ret_len = sizeof(*sin);
        return 0;
    }
}

int
net_listen_tcp(const char *ip, uint16_t port, bool reuseport, int backlog)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int fd, one = 1, r;

    r = net_parse_addr(ip, port, &ss, &len);
    if (r < 0)
        return r;
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd == -1)
        return -errno;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1)
        goto fail;
    if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == -1)
        goto fail;
    if (bind(fd, (struct sockaddr *) &ss, len) == -1 || listen(fd, backlog) == -1)
        goto fail;
    return fd;

fail:
    r = -errno; /* close() may overwrite errno */
    (void) close(fd);
    return r;
}

int
net_local_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);

    if (getsockname(fd, (struct sockaddr *) &ss, &len) == -1)
        return -errno;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *) &ss)->sin6_port);
    return ntohs(((struct sockaddr_in *) &ss)->sin_port);
}
