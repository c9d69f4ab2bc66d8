/* common/buf.c - fixed-size buffers and their free list; see buf.h. */
#include "common/buf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void
buf_pool_init(struct buf_pool *p, uint32_t buf_size, unsigned max_free)
{
    memset(p, 0, sizeof(*p));
    p->buf_size = buf_size;
    p->max_free = max_free;
}

void
buf_pool_fini(struct buf_pool *p)
{
    while (p->free) {
        struct buf *b = p->free;

        p->free = b->next_free;
        free(b);
    }
    p->n_free = 0;
}

struct buf *
buf_get(struct buf_pool *p)
{
    struct buf *b = p->free;

    if (b) {
        p->free = b->next_free;
        p->n_free--;
    } else {
        b = malloc(sizeof(*b) + p->buf_size);
        if (b == NULL)
            return NULL;
        b->size = p->buf_size;
    }
    b->next_free = NULL;
    b->start = b->end = 0;
    p->n_out++;
    return b;
}

struct buf *
buf_put(struct buf_pool *p, struct buf *b)
{
    if (b == NULL)
        return NULL;
    p->n_out--;
    if (p->n_free >= p->max_free || b->size != p->buf_size) {
        free(b);
        return NULL;
    }
    b->next_free = p->free;
    p->free = b;
    p->n_free++;
    return NULL;
}

void
buf_compact(struct buf *b)
{
    if (b->start == 0)
        return;
    if (b->start != b->end)
        memmove(b->data, b->data + b->start, b->end - b->start);
    b->end -= b->start;
    b->start = 0;
}

int
buf_append(struct buf *b, const void *data, size_t len)
{
    if (len > buf_room(b)) {
        buf_compact(b);
        if (len > buf_room(b))
            return -ENOSPC;
    }
    memcpy(b->data + b->end, data, len);
    b->end += (uint32_t) len;
    return 0;
}
