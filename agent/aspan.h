/* agent/aspan.h - a span the agent owns: one heap block holding a decoded span's fields,
 * its tags and every string they point to, so it outlives the nanomsg message it came in.
 * It sits on one list at a time (a trace in the assembly window, a batch, the local
 * store) through <link>. Unknown well-known tag keys (name NULL) are not kept. */
#ifndef MESH_AGENT_ASPAN_H
#define MESH_AGENT_ASPAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/list.h"
#include "proto/span.h"

struct aspan {
    struct list link; /* in the one list that owns it */
    size_t mem;       /* bytes of this block */
    uint64_t trace_hi, trace_lo, span_id, parent_id;
    enum span_kind kind;
    uint32_t flags;
    uint64_t timestamp_us, duration_us;
    const char *name; /* into this block */
    size_t name_len;
    struct span_endpoint local, remote; /* services point into this block */
    unsigned n_tags;
    struct span_tag_kv tags[]; /* n_tags entries, then the string bytes */
};

/* A copy of <s>, or NULL when out of memory. */
struct aspan *aspan_new(const struct span *s);
/* NULL is a no-op; returns NULL. The span must not be linked anywhere. */
struct aspan *aspan_free(struct aspan *a);

/* Fills <out> to read <a> through the proto/ encoders; strings stay in <a>. */
void aspan_view(const struct aspan *a, struct span *out);

/* Zipkin-style merge of two fragments of one span (same trace, id and kind): fields missing
 * in <old> are taken from <new>; the start is the earlier one and the end the later one;
 * flags are OR-ed; <new>'s tags win over <old>'s of the same name (at most SPAN_MAX_TAGS
 * kept). Returns a new span (both inputs are left as they are) or NULL on out of memory. */
struct aspan *aspan_merge(const struct aspan *old, const struct aspan *new);

/* True when <a> reports a failure: an "error" tag, or an http.status_code of 500 or more. */
bool aspan_is_error(const struct aspan *a);

#endif
