/* proxy/dashboard.h - the dashboard on meshd's admin server: a page (static files built
 * into the binary) that polls /admin/metrics.json every second, and a relay through which
 * it reads the node's meshagent query API (Zipkin's /api/v2) without reaching the agent's
 * loopback port itself. docs/dashboard.md says what the page shows and the limits. */
#ifndef MESH_PROXY_DASHBOARD_H
#define MESH_PROXY_DASHBOARD_H

#include <stdbool.h>
#include <stddef.h>

#include <ev.h>

struct admin_request;
struct admin_response;
struct cfg;

/* One file of the page, generated at build time from proxy/dashboard/ by
 * proxy/dashboard/embed.py. */
struct dashboard_file {
    const char *path;         /* "/dashboard/dashboard.js" */
    const char *content_type; /* static */
    const unsigned char *data;
    size_t len;
};

extern const struct dashboard_file dashboard_files[];
extern const size_t dashboard_n_files;

/* The agent's admin/query address that meshd relays to: the config's meshagent
 * admin.ip/admin.port (default 127.0.0.1:9991; a wildcard ip means loopback). Returns 0
 * and fills <ret_ip> and *ret_port, or -EINVAL with a reason in <err>. */
int dashboard_agent_addr(const struct cfg *cfg, char *ret_ip, size_t ip_len, unsigned *ret_port,
                         char *err, size_t errlen);

/* The admin routes: GET / and /dashboard (the page), /dashboard/<file>, and
 * /agent/api/v2/<rest> relayed to the agent's /api/v2/<rest> (GET and HEAD only; the
 * answer comes later, from <loop>: the master's). Returns false, having touched nothing,
 * for any other path. */
bool dashboard_admin(struct ev_loop *loop, const struct cfg *cfg, const struct admin_request *req,
                     struct admin_response *rsp);

#endif
