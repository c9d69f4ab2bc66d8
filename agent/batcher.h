/* agent/batcher.h - groups kept spans into encoded request bodies: a batch is flushed at
 * <max_spans> spans, before it would pass <max_bytes> encoded bytes, or <interval_ms>
 * after its first span, whichever comes first. Spans are encoded as they arrive (the
 * encoder is a parameter: Zipkin JSON v2 in the agent, something trivial in tests), so a
 * batch's size is exact and the span copies are freed early. A span larger than
 * <max_bytes> on its own still goes, alone in its batch. Pure code: no I/O, no clock. */
#ifndef MESH_AGENT_BATCHER_H
#define MESH_AGENT_BATCHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/list.h"
#include "common/strbuf.h"

struct span;
struct batcher;

struct batch {
    struct list link;   /* in the ship queue */
    struct strbuf body; /* the encoded list, ready to send */
    unsigned n_spans;
    uint64_t created_us; /* when its first span arrived */
    unsigned attempts;   /* sends tried (the shipper's business) */
    bool gzipped;        /* body is gzip (the shipper's business) */
};

/* Frees <b> (unlinked). NULL is a no-op; returns NULL. */
struct batch *batch_free(struct batch *b);

struct batcher_cfg {
    uint32_t max_spans;   /* > 0 */
    uint32_t max_bytes;   /* > 0 */
    uint32_t interval_ms; /* > 0 */
};

/* How a list is written: <open>, spans separated by <sep>, <close>; each span by <span>. */
struct batcher_format {
    const char *open, *sep, *close;
    void (*span)(struct strbuf *out, const struct span *s);
};

/* Receives each full batch; takes ownership. */
typedef void batcher_flush_fn(struct batch *b, void *arg);

struct batcher *batcher_new(const struct batcher_cfg *cfg, const struct batcher_format *fmt,
                            batcher_flush_fn *flush, void *arg);
/* Drops the open batch (its spans are lost: flush first to keep them). */
struct batcher *batcher_free(struct batcher *b);
void batcher_set_cfg(struct batcher *b, const struct batcher_cfg *cfg);

/* Encodes <s> into the open batch, at time <now_us>; may flush. Returns 0, or -ENOMEM
 * (nothing changed: the span is lost, the caller counts it). */
int batcher_add(struct batcher *b, const struct span *s, uint64_t now_us);
/* Flushes the open batch if it is <interval_ms> old at <now_us>. */
void batcher_tick(struct batcher *b, uint64_t now_us);
/* Flushes the open batch, if any. */
void batcher_flush(struct batcher *b);

/* Spans in the open batch. */
unsigned batcher_n_spans(const struct batcher *b);

#endif
