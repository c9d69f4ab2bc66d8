/* common/buf.h - fixed-size byte buffers recycled through a per-process free list.
 *
 * A connection holds a buffer only while it has bytes in flight: idle keep-alive
 * connections give theirs back, so memory follows active requests, not open sockets.
 * Buffers never grow: a message larger than one buffer streams through it. */
#ifndef MESH_COMMON_BUF_H
#define MESH_COMMON_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
    struct buf *next_free; /* free-list link, NULL while in use */
    uint32_t start;        /* first unread byte */
    uint32_t end;          /* one past the last byte written */
    uint32_t size;         /* capacity of data[] */
    char data[];
};

struct buf_pool {
    struct buf *free;   /* singly linked free list */
    uint32_t buf_size;  /* data bytes per buffer */
    unsigned n_free;    /* buffers on the free list */
    unsigned max_free;  /* beyond this, returned buffers are freed */
    unsigned n_out;     /* buffers handed out and not returned */
};

void buf_pool_init(struct buf_pool *p, uint32_t buf_size, unsigned max_free);
void buf_pool_fini(struct buf_pool *p);

/* An empty buffer, or NULL when out of memory. */
struct buf *buf_get(struct buf_pool *p);
/* Returns <b> to <p>; NULL is a no-op. Returns NULL so callers write b = buf_put(p, b). */
struct buf *buf_put(struct buf_pool *p, struct buf *b);

static inline uint32_t
buf_len(const struct buf *b)
{
    return b->end - b->start;
}

static inline uint32_t
buf_room(const struct buf *b)
{
    return b->size - b->end;
}

/* Moves unread bytes to the front so that buf_room() is as large as it can be. */
void buf_compact(struct buf *b);

/* Appends <len> bytes; returns -ENOSPC (and appends nothing) when they do not fit. */
int buf_append(struct buf *b, const void *data, size_t len);

#endif
