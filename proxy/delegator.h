/* proxy/delegator.h - Linkerd's delegator on the admin server: /delegator.json shows how a
 * path resolves through a router's dtab (plus dentries given with the request), step by
 * step, and /delegator is a page to try it.
 *
 * The master serves it with a naming instance of its own on its loop, created on the
 * first request and rebuilt after a reload; names it has not resolved yet show as
 * pending, and a second look a moment later shows them bound (the admin server answers
 * synchronously, so it cannot wait as Linkerd's 2 s do). */
#ifndef MESH_PROXY_DELEGATOR_H
#define MESH_PROXY_DELEGATOR_H

#include <stdbool.h>
#include <stddef.h>

#include <ev.h>

struct admin_request;
struct admin_response;
struct cfg;
struct naming;
struct strbuf;

/* The JSON delegation tree of <path> through the dtab of router <router> (a label; NULL
 * or "" for the first router) with <local_dtab> (may be NULL or "") appended, as
 * Linkerd's /delegator.json: nodes {"type": delegate|alt|union|leaf|neg|fail|empty|
 * exception|transformation, "path", "dentry": {"prefix", "dst"}, ...}, leaves with
 * "bound": {"addr": {"type": bound|pending, "addrs": [{"ip", "port", "meta"}]}, "id",
 * "path"}. Returns 200 with the tree appended to <out>, or 400/404 with a one-line reason
 * in <out> (bad path or dtab, unknown router). */
int delegator_json(struct naming *n, const struct cfg *cfg, const char *router,
                   const char *local_dtab, const char *path, struct strbuf *out);

/* The admin routes: answers GET /delegator.json?path=&dtab=&namespace= (namespace is the
 * router label, as in Linkerd; router= is accepted too), POST /delegator.json with a JSON
 * body {"path", "dtab", "namespace"}, and GET /delegator (the page). Returns false, having
 * touched nothing, for any other path. <n> is the naming to evaluate in (the master's, of
 * <cfg>'s generation); NULL answers 500 with <naming_err>. */
bool delegator_admin(struct naming *n, const char *naming_err, const struct cfg *cfg,
                     const struct admin_request *req, struct admin_response *rsp);

#endif
