/* agent/batcher.c - encoded batches (see batcher.h). The open batch's body holds
 * <open> and the spans so far; <close> is appended at flush. To keep a batch within
 * max_bytes, a span that would take it over is cut off again (the strbuf length is
 * restored) and encoded a second time into the next batch: rare, and cheaper than
 * encoding every span twice to measure it. */
#include "agent/batcher.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/aspan.h"
#include "common/util.h"
#include "proto/span.h"

struct batcher {
    struct batcher_cfg cfg;
    struct batcher_format fmt;
    size_t close_len, sep_len;
    batcher_flush_fn *flush;
    void *arg;
    struct batch *open; /* NULL when no span is waiting */
    /* list formats */
    struct list spans; /* struct aspan of the open batch */
    size_t est_bytes;  /* their memory: the open batch's estimated size */
    int32_t seqid;     /* of the last batch */
    struct span view;  /* streaming: aspan_view() target */
};

static struct batch *open_batch(struct batcher *b, uint64_t now_us);

static void
free_spans(struct list *l)
{
    struct list *pos, *tmp;

    list_for_each_safe(pos, tmp, l)
    {
        struct aspan *sp = list_entry(pos, struct aspan, link);

        list_remove(&sp->link);
        aspan_free(sp);
    }
}

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
    b->close_len = fmt->close ? strlen(fmt->close) : 0;
    b->sep_len = fmt->sep ? strlen(fmt->sep) : 0;
    b->flush = flush;
    b->arg = arg;
    list_init(&b->spans);
    return b;
}

struct batcher *
batcher_free(struct batcher *b)
{
    if (b == NULL)
        return NULL;
    batch_free(b->open);
    free_spans(&b->spans);
    free(b);
    return NULL;
}

void
batcher_set_cfg(struct batcher *b, const struct batcher_cfg *cfg)
{
    b->cfg = *cfg;
}

/* List formats: writes the open batch's spans with one <list> call. */
static int
encode_list(struct batcher *b, struct batch *out)
{
    struct span *views = malloc(out->n_spans * sizeof(*views));
    const struct span **ptrs = malloc(out->n_spans * sizeof(*ptrs));
    struct list *pos;
    size_t i = 0;

    if (views == NULL || ptrs == NULL) {
        free(views);
        free(ptrs);
        return -ENOMEM;
    }
    for (pos = b->spans.next; pos != &b->spans; pos = pos->next) {
        aspan_view(list_entry(pos, struct aspan, link), &views[i]);
        ptrs[i] = &views[i];
        i++;
    }
    out->seqid = ++b->seqid;
    if (b->seqid == INT32_MAX)
        b->seqid = 0;
    b->fmt.list(&out->body, ptrs, i, out->seqid);
    free(views);
    free(ptrs);
    return 0;
}

void
batcher_flush(struct batcher *b)
{
    struct batch *out = b->open;

    if (out == NULL)
        return;
    b->open = NULL;
    if (b->fmt.span != NULL) {
        strbuf_adds(&out->body, b->fmt.close);
    } else {
        /* out of memory for the views: the body stays empty, the caller counts the loss */
        (void) encode_list(b, out);
        free_spans(&b->spans);
        b->est_bytes = 0;
    }
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

    MESH_BUG_ON(b->fmt.span == NULL);
    for (;;) {
        bt = open_batch(b, now_us);
        if (bt == NULL)
            return -ENOMEM;
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

static struct batch *
open_batch(struct batcher *b, uint64_t now_us)
{
    struct batch *bt;

    if (b->open != NULL)
        return b->open;
    bt = calloc(1, sizeof(*bt));
    if (bt == NULL)
        return NULL;
    list_init(&bt->link);
    bt->created_us = now_us;
    if (b->fmt.span != NULL)
        strbuf_adds(&bt->body, b->fmt.open);
    b->open = bt;
    return bt;
}

int
batcher_add_aspan(struct batcher *b, struct aspan *sp, uint64_t now_us)
{
    struct batch *bt;
    int r;

    if (b->fmt.span != NULL) {
        aspan_view(sp, &b->view);
        r = batcher_add(b, &b->view, now_us);
        aspan_free(sp);
        return r;
    }
    if (b->open != NULL && b->open->n_spans > 0 && b->est_bytes + sp->mem > b->cfg.max_bytes)
        batcher_flush(b);
    bt = open_batch(b, now_us);
    if (bt == NULL) {
        aspan_free(sp);
        return -ENOMEM;
    }
    list_insert_tail(&b->spans, &sp->link);
    bt->n_spans++;
    b->est_bytes += sp->mem;
    if (bt->n_spans >= b->cfg.max_spans || b->est_bytes >= b->cfg.max_bytes)
        batcher_flush(b);
    return 0;
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
