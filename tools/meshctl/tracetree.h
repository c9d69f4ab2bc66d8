/* tools/meshctl/tracetree.h - one Zipkin trace (a JSON v2 list of spans, as
 * /api/v2/trace/{id} answers) arranged as a tree, and its terminal rendering: each span
 * on a line, indented under its parent, with service, name, kind, duration, a time bar
 * placing it in the trace, and its error tag; the terminal's version of Zipkin's trace
 * detail view. Also the one-line summaries `meshctl traces` lists.
 *
 * Pure: no I/O. A tree owns copies of the strings it needs; the JSON can go. */
#ifndef MESH_TOOLS_MESHCTL_TRACETREE_H
#define MESH_TOOLS_MESHCTL_TRACETREE_H

#include <stddef.h>
#include <stdint.h>

struct json_object;
struct strbuf;
struct term;

struct tracetree;

/* Builds the tree of the spans in <spans>, a json-c array of Zipkin v2 Span objects
 * (borrowed). Parents come from parentId; a shared SERVER span hangs under the CLIENT
 * span with its id, as in Zipkin. Spans whose parent is missing, and spans in a parent
 * cycle, become roots. Returns NULL with <err> set when <spans> is not an array of objects
 * with an "id", or is empty. */
struct tracetree *tracetree_new(struct json_object *spans, char *err, size_t errlen);

/* Frees <t>; NULL is a no-op. Returns NULL. */
struct tracetree *tracetree_free(struct tracetree *t);

struct tracetree_summary {
    const char *trace_id;     /* borrowed from the tree; "" when the spans had none */
    const char *root_service; /* first root's local service, "" when unknown */
    const char *root_name;    /* first root's span name */
    size_t n_spans;
    size_t n_errors;     /* spans with an "error" tag */
    size_t n_services;   /* distinct local service names */
    int64_t start_us;    /* earliest timestamp, epoch microseconds; -1 unknown */
    int64_t duration_us; /* latest end minus earliest start; -1 unknown */
};

void tracetree_summary(const struct tracetree *t, struct tracetree_summary *ret);

/* Appends the trace: a header, then one line per span in tree order (children by start
 * time), each at most <term>->width columns, plus an "error: ..." line under a span that
 * has the tag. Indentation is 2 columns per level. */
void tracetree_render(const struct tracetree *t, const struct term *term, struct strbuf *out);

/* Appends a table of <n> traces, one line each (id, start, spans, errors, duration, root),
 * most recent first. */
void tracetree_render_list(struct tracetree *const *ts, size_t n, const struct term *term,
                           struct strbuf *out);

#endif
