/* proxy/admin.h - the admin server's transport (see admin.c). */
#ifndef MESH_PROXY_ADMIN_H
#define MESH_PROXY_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "common/strbuf.h"

struct admin;

struct admin_request {
    const char *method; /* borrowed, valid during the handler call */
    size_t method_len;
    const char *path;   /* without the query */
    size_t path_len;
    const char *query;  /* after '?', "" when none */
    size_t query_len;
    const char *body;
    size_t body_len;
};

struct admin_response {
    int status;                 /* 200 unless the handler says otherwise */
    const char *content_type;   /* static; NULL = text/plain */
    const char *extra_headers;  /* static, each line ending in CRLF; NULL = none */
    struct strbuf body;
};

typedef void admin_handler_fn(void *ctx, const struct admin_request *req,
                              struct admin_response *rsp);

/* Listens on <ip>:<port> on <loop>. NULL with <err> filled when it cannot. */
struct admin *admin_new(struct ev_loop *loop, const char *ip, uint16_t port,
                        admin_handler_fn *handler, void *ctx, char *err, size_t errlen);
struct admin *admin_free(struct admin *a);
/* In a forked child: frees the memory only (the watcher belongs to the parent's loop and
 * the child closed the fd already). */
struct admin *admin_discard(struct admin *a);
int admin_fd(const struct admin *a);

/* Finds <key> in the request's query and percent-decodes its value into <ret>. */
bool admin_query_get(const struct admin_request *req, const char *key, char *ret, size_t retlen);

#endif
