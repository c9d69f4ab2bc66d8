/* common/net.h - socket set-up helpers for listeners (start-up and reload paths). */
#ifndef MESH_COMMON_NET_H
#define MESH_COMMON_NET_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

/* Parses a numeric IPv4/IPv6 address and port into <ss>. Returns 0 or -EINVAL. */
int net_parse_addr(const char *ip, uint16_t port, struct sockaddr_storage *ss, socklen_t *ret_len);

/* A non-blocking, close-on-exec TCP listening socket on <ip>:<port>, with SO_REUSEADDR
 * and, when <reuseport>, SO_REUSEPORT. Returns the fd or a negative errno. */
int net_listen_tcp(const char *ip, uint16_t port, bool reuseport, int backlog);

/* The port a bound socket got (for port 0), or -errno. */
int net_local_port(int fd);

#endif
