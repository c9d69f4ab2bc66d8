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
    const char *cache_control;  /* static; NULL = no-cache */
    const char *extra_headers;  /* static, each line ending in CRLF; NULL = none */
    struct strbuf body;
    struct admin_conn *_conn;   /* set by admin.c for admin_defer() */
};

typedef void admin_handler_fn(void *ctx, const struct admin_request *req,
                              struct admin_response *rsp);
/* Called when a deferred answer is no longer wanted (the connection timed out or the
 * server is freed): the handle given by admin_defer() is gone when it returns. With
 * <discard> (admin_discard() in a forked child) it must free memory and close fds only,
 * touching no watcher: the loop is the parent's. */
typedef void admin_cancel_fn(void *ctx, bool discard);

/* Listens on <ip>:<port> on <loop>. NULL with <err> filled when it cannot. */
struct admin *admin_new(struct ev_loop *loop, const char *ip, uint16_t port,
                        admin_handler_fn *handler, void *ctx, char *err, size_t errlen);
struct admin *admin_free(struct admin *a);
/* In a forked child: frees the memory only (the watchers belong to the parent's loop and
 * the child closed the listening fd already; it closes its copies of the connections'). */
struct admin *admin_discard(struct admin *a);
int admin_fd(const struct admin *a);

/* Inside a handler: the answer will come later, from a callback on the same loop. Returns
 * the handle to pass to admin_finish() exactly once; <rsp> is then ignored. Until then
 * the connection's 10 s deadline still runs: if it passes first (or admin_free() runs),
 * <cancel>(<cancel_ctx>) is called instead and the client's connection is closed. */
struct admin_conn *admin_defer(struct admin_response *rsp, admin_cancel_fn *cancel,
                               void *cancel_ctx);
/* Sends <rsp> (its body is copied) on the connection that admin_defer() returned. */
void admin_finish(struct admin_conn *ac, const struct admin_response *rsp);

/* Finds <key> in the request's query and percent-decodes its value into <ret>. */
bool admin_query_get(const struct admin_request *req, const char *key, char *ret, size_t retlen);

#endif
