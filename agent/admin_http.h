/* agent/admin_http.h - the agent's admin/query HTTP server transport (see admin_http.c).
 * Owned by main for the process's life. */
#ifndef MESH_AGENT_ADMIN_HTTP_H
#define MESH_AGENT_ADMIN_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "common/strbuf.h"

struct admin_http;

struct admin_http_request {
    const char *method; /* borrowed, valid during the handler call */
    size_t method_len;
    const char *path; /* without the query; not NUL-terminated */
    size_t path_len;
    const char *query; /* after '?', "" when none */
    size_t query_len;
    const char *body;
    size_t body_len;
};

struct admin_http_response {
    int status;                /* 200 unless the handler says otherwise */
    const char *content_type;  /* static; NULL = text/plain */
    const char *extra_headers; /* static, each line ending in CRLF; NULL = none */
    struct strbuf body;
};

typedef void admin_http_handler_fn(void *ctx, const struct admin_http_request *req,
                                   struct admin_http_response *rsp);

/* Listens on <ip>:<port> (0: any free port) on <loop>. NULL with <err> filled when it
 * cannot. */
struct admin_http *admin_http_new(struct ev_loop *loop, const char *ip, uint16_t port,
                                  admin_http_handler_fn *handler, void *ctx, char *err,
                                  size_t errlen);
/* Closes the listener and every open connection. NULL is a no-op. */
struct admin_http *admin_http_free(struct admin_http *a);
/* The bound port, or a negative errno. */
int admin_http_port(const struct admin_http *a);

/* Finds <key> in the request's query and percent-decodes its value into <ret>. */
bool admin_http_query_get(const struct admin_http_request *req, const char *key, char *ret,
                          size_t retlen);

#endif
