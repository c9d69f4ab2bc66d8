/* agent/batcher.h - groups kept spans into encoded request bodies: a batch is flushed at
 * <max_spans> spans, before it would pass <max_bytes> encoded bytes, or <interval_ms>
 * after its first span, whichever comes first. A span larger than <max_bytes> on its own
 * still goes, alone in its batch. Pure code: no I/O, no clock.
 *
 * Two kinds of format. A streaming format (Zipkin JSON v2) encodes each span as it arrives
 * and frees its copy, so a batch's size is exact. A list format (JSON v1, Thrift v1, a
 * Scribe Log call) is written by one call over the whole list at flush, so the batch keeps
 * the span copies until then and its size is estimated from their memory. */
#ifndef MESH_AGENT_BATCHER_H
#define MESH_AGENT_BATCHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/list.h"
#include "common/strbuf.h"

struct aspan;
struct span;
struct batcher;

struct batch {
    struct list link;   /* in the ship queue */
    struct strbuf body; /* the encoded list, ready to send */
    unsigned n_spans;
    uint64_t created_us; /* when its first span arrived */
    unsigned attempts;   /* sends tried (the shipper's business) */
    bool gzipped;        /* body is gzip (the shipper's business) */
    int32_t seqid;       /* list formats: the sequence number given to <list> */
};

/* Frees <b> (unlinked). NULL is a no-op; returns NULL. */
struct batch *batch_free(struct batch *b);

struct batcher_cfg {
    uint32_t max_spans;   /* > 0 */
    uint32_t max_bytes;   /* > 0 */
    uint32_t interval_ms; /* > 0 */
};

/* How a list is written. Streaming: <open>, spans separated by <sep>, <close>; each span
 * by <span>. List (when <span> is NULL): <list> writes the whole body of <n> spans, given
 * the batch's sequence number (1, 2, ... per batcher). */
struct batcher_format {
    const char *open, *sep, *close;
    void (*span)(struct strbuf *out, const struct span *s);
    void (*list)(struct strbuf *out, const struct span *const *spans, size_t n, int32_t seqid);
};

/* Receives each full batch; takes ownership. A list-format batch whose body is empty could
 * not be encoded (out of memory): its n_spans spans are lost. */
typedef void batcher_flush_fn(struct batch *b, void *arg);

struct batcher *batcher_new(const struct batcher_cfg *cfg, const struct batcher_format *fmt,
                            batcher_flush_fn *flush, void *arg);
/* Drops the open batch (its spans are lost: flush first to keep them). */
struct batcher *batcher_free(struct batcher *b);
void batcher_set_cfg(struct batcher *b, const struct batcher_cfg *cfg);

/* Streaming formats only: encodes <s> into the open batch, at time <now_us>; may flush.
 * Returns 0, or -ENOMEM (nothing changed: the span is lost, the caller counts it). */
int batcher_add(struct batcher *b, const struct span *s, uint64_t now_us);
/* Any format: takes ownership of <sp> (unlinked) and adds it at <now_us>; may flush.
 * Returns 0, or -ENOMEM (<sp> is freed: the span is lost, the caller counts it). */
int batcher_add_aspan(struct batcher *b, struct aspan *sp, uint64_t now_us);
/* Flushes the open batch if it is <interval_ms> old at <now_us>. */
void batcher_tick(struct batcher *b, uint64_t now_us);
/* Flushes the open batch, if any. */
void batcher_flush(struct batcher *b);

/* Spans in the open batch. */
unsigned batcher_n_spans(const struct batcher *b);

#endif
