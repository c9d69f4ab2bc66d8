/* agent/batcher.c - encoded batches (see batcher.h). The open batch's body holds
 * <open> and the spans so far; <close> is appended at flush. To keep a batch within
 * max_bytes, a span that would take it over is cut off again (the strbuf length is
 * restored) and encoded a second time into the next batch: rare, and cheaper than
 * encoding every span twice to measure it. */
#include "agent/batcher.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

struct batcher {
    struct batcher_cfg cfg;
    struct batcher_format fmt;
    size_t close_len, sep_len;
    batcher_flush_fn *flush;
    void *arg;
    struct batch *open; /* NULL when no span is waiting */
};

struct batch *
batch_free(struct batch *b)
{
    if (b == NULL)
        return NULL;
    strbuf_fini(&b->body);
    free(b);
    return NULL;
}

struct batcher *
batcher_new(const struct batcher_cfg *cfg, const struct batcher_format *fmt,
            batcher_flush_fn *flush, void *arg)
{
    struct batcher *b = xcalloc(1, sizeof(*b));

    b->cfg = *cfg;
    b->fmt = *fmt;
    b->close_len = strlen(fmt->close);
    b->sep_len = strlen(fmt->sep);
    b->flush = flush;
    b->arg = arg;
    return b;
}

struct batcher *
batcher_free(struct batcher *b)
{
    if (b == NULL)
        return NULL;
    batch_free(b->open);
    free(b);
    return NULL;
}

void
batcher_set_cfg(struct batcher *b, const struct batcher_cfg *cfg)
{
    b->cfg = *cfg;
}

void
batcher_flush(struct batcher *b)
{
    struct batch *out = b->open;

    if (out == NULL)
        return;
    b->open = NULL;
    strbuf_adds(&out->body, b->fmt.close);
    b->flush(out, b->arg);
}

static void
truncate_to(struct strbuf *sb, size_t len)
{
    sb->len = len;
    if (sb->s != NULL)
        sb->s[len] = '\0';
}

int
batcher_add(struct batcher *b, const struct span *s, uint64_t now_us)
{
    struct batch *bt;
    size_t before;

    for (;;) {
        if (b->open == NULL) {
            bt = calloc(1, sizeof(*bt));
            if (bt == NULL)
                return -ENOMEM;
            list_init(&bt->link);
            bt->created_us = now_us;
            strbuf_adds(&bt->body, b->fmt.open);
            b->open = bt;
        }
        bt = b->open;
        before = bt->body.len;
        if (bt->n_spans > 0)
            strbuf_adds(&bt->body, b->fmt.sep);
        b->fmt.span(&bt->body, s);
        if (bt->n_spans > 0 && bt->body.len + b->close_len > b->cfg.max_bytes) {
            truncate_to(&bt->body, before);
            batcher_flush(b);
            continue; /* again, into a new batch */
        }
        bt->n_spans++;
        if (bt->n_spans >= b->cfg.max_spans || bt->body.len + b->close_len >= b->cfg.max_bytes)
            batcher_flush(b);
        return 0;
    }
}

void
batcher_tick(struct batcher *b, uint64_t now_us)
{
    if (b->open != NULL && now_us >= b->open->created_us + (uint64_t) b->cfg.interval_ms * 1000u)
        batcher_flush(b);
}

unsigned
batcher_n_spans(const struct batcher *b)
{
    return b->open != NULL ? b->open->n_spans : 0;
}
