/* agent/assembler.h - the assembly window: spans grouped by trace id, so that sampling
 * decides per trace and a trace's local spans ship together. Fragments of one span (same
 * trace, span id and kind) are merged into one span, as Zipkin's merge does.
 *
 * A trace leaves the window (is emitted) when no span joined it for <idle_ms>, when it
 * reaches <max_trace_spans> spans, when the window holds more than <max_bytes> (least
 * recently active first), or at assembler_flush(). Later spans of an emitted trace start
 * a new entry. Pure code: the caller provides the time, so tests drive it directly. */
#ifndef MESH_AGENT_ASSEMBLER_H
#define MESH_AGENT_ASSEMBLER_H

#include <stddef.h>
#include <stdint.h>

#include "common/list.h"

struct span;
struct assembler;

struct assembler_cfg {
    uint32_t idle_ms;         /* > 0 */
    uint64_t max_bytes;       /* span copies plus per-trace overhead */
    uint32_t max_trace_spans; /* > 0 */
};

/* One trace in the window, as the emit callback sees it. */
struct asm_trace {
    uint64_t trace_hi, trace_lo;
    struct list spans; /* struct aspan, arrival order */
    unsigned n_spans;
    size_t bytes;
    struct asm_trace *_hnext; /* hash chain */
    struct list _lru;         /* window order: by _queued_us */
    uint64_t _queued_us;      /* when it took its place in _lru; <= _last_us */
    uint64_t _last_us;        /* its last span */
};

enum assembler_why {
    ASSEMBLER_IDLE = 0,
    ASSEMBLER_FULL,   /* max_trace_spans reached */
    ASSEMBLER_MEMORY, /* evicted early to stay within max_bytes */
    ASSEMBLER_FLUSH,  /* assembler_flush() */
};

/* Called for each trace leaving the window. It must take every span off <t->spans>
 * (ownership passes to it); <t> itself is freed after the call. It must not call back
 * into the assembler. */
typedef void assembler_emit_fn(struct asm_trace *t, enum assembler_why why, void *arg);

struct assembler *assembler_new(const struct assembler_cfg *cfg, assembler_emit_fn *emit,
                                void *arg);
/* Emits nothing: spans still inside are freed. Call assembler_flush() first to keep them. */
struct assembler *assembler_free(struct assembler *a);
/* Takes effect for the next add/expire (reload). */
void assembler_set_cfg(struct assembler *a, const struct assembler_cfg *cfg);

/* Copies <s> into the window at time <now_us>. Returns 0 when added, 1 when merged into a
 * fragment already there (the window's span count is unchanged), -ENOMEM when it could
 * not be copied (nothing changed). May emit traces (full, or over the memory bound). */
int assembler_add(struct assembler *a, const struct span *s, uint64_t now_us);

/* Emits the traces idle since <now_us> - idle_ms or earlier. */
void assembler_expire(struct assembler *a, uint64_t now_us);
/* Emits every trace. */
void assembler_flush(struct assembler *a);

unsigned assembler_n_traces(const struct assembler *a);
uint64_t assembler_n_spans(const struct assembler *a);
size_t assembler_bytes(const struct assembler *a);

#endif
