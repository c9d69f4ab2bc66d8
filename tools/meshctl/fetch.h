/* tools/meshctl/fetch.h - one blocking HTTP/1.1 GET to an admin endpoint (meshd's or
 * meshagent's), with a deadline over the whole exchange. The response head is parsed by
 * proto/http1.h; bodies framed by Content-Length, chunked coding or close are accepted.
 * meshctl is a one-shot tool, so blocking I/O with poll() deadlines is all it needs. */
#ifndef MESH_TOOLS_MESHCTL_FETCH_H
#define MESH_TOOLS_MESHCTL_FETCH_H

#include <stddef.h>
#include <stdint.h>

/* Where to connect, and how to name it to the user. Plain data, copied by value. */
struct fetch_target {
    char host[256]; /* name or IP literal, no brackets */
    uint16_t port;
    char label[272]; /* "host:port" or "[v6]:port", for messages */
};

/* Parses "HOST:PORT", "[V6]:PORT", ":PORT" or "PORT" (host 127.0.0.1) into <t>.
 * Returns 0 or -EINVAL (empty host, bad or zero port, name too long). */
int fetch_target_parse(struct fetch_target *t, const char *hostport);

/* Sets <t> from a configured listen address: the wildcards 0.0.0.0 and :: (where a server
 * listens, not an address to connect to) become 127.0.0.1 and ::1. */
void fetch_target_set(struct fetch_target *t, const char *ip, uint16_t port);

struct fetch_result {
    int status;      /* HTTP status */
    char *body;      /* NUL-terminated, owned; never NULL after success */
    size_t body_len; /* bytes, without the NUL */
    char err[256];   /* why fetch_get() failed, e.g. "connect: Connection refused" */
};

/* GETs <path> from <t>, all within <timeout_ms>. Returns 0 when a complete response
 * arrived, whatever its status; otherwise a negative errno (-ECONNREFUSED, -ETIMEDOUT,
 * -EHOSTUNREACH, -EBADMSG for a malformed response, -EFBIG for a body over 64 MiB, ...)
 * with <res>->err saying what happened. <res> is reset on entry; fetch_result_fini()
 * frees it in every case. */
int fetch_get(const struct fetch_target *t, const char *path, int timeout_ms,
              struct fetch_result *res);

void fetch_result_fini(struct fetch_result *res);

#endif
