/* tools/meshctl/statview.h - the `meshctl stats` screen: turns samples of meshd's and
 * meshagent's /admin/metrics.json into per-router, per-service and per-client figures
 * (request rate, success rate, latency, connections, pending, load balancer) plus the
 * node agent's span books, and renders them as 80-column text or as JSON.
 *
 * Pure: no I/O. Rates come from two samples of the same endpoint (<prev> and <cur>) and
 * the monotonic times they were taken at. */
#ifndef MESH_TOOLS_MESHCTL_STATVIEW_H
#define MESH_TOOLS_MESHCTL_STATVIEW_H

#include <stdbool.h>
#include <stddef.h>

struct metrics;
struct strbuf;
struct term;

/* One endpoint as sampled. <cur> NULL means it could not be read; <error> says why. */
struct statview_src {
    const char *label;          /* "127.0.0.1:9990", as the user should see it */
    const struct metrics *prev; /* earlier sample, NULL when none (no rates then) */
    const struct metrics *cur;  /* latest sample */
    const char *error;          /* with cur == NULL: "connect: Connection refused" */
    bool answered;              /* with cur == NULL: it answered, but not with metrics */
};

struct statview_input {
    const char *const *labels; /* router labels from the config, in its order; any
                                * router seen in the metrics but not listed follows */
    size_t n_labels;
    struct statview_src meshd;
    bool has_agent; /* the agent was asked for (not --no-agent) */
    struct statview_src agent;
    const char *collector; /* meshagent's zipkin.url: "" = local store, NULL unknown */
};

/* Appends the screen, each line at most <t>->width columns. */
void statview_render_text(const struct statview_input *in, const struct term *t,
                          struct strbuf *out);

/* Appends one JSON object (no newline); docs/meshctl.md describes its members. */
void statview_render_json(const struct statview_input *in, struct strbuf *out);

#endif
