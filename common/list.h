/* common/list.h - intrusive doubly-linked list: the element embeds a struct list, so
 * linking and unlinking never allocate. An empty list points at itself. */
#ifndef MESH_COMMON_LIST_H
#define MESH_COMMON_LIST_H

#include <stdbool.h>
#include <stddef.h>

#include "common/util.h"

struct list {
    struct list *prev, *next;
};

static inline void
list_init(struct list *l)
{
    l->prev = l->next = l;
}

static inline bool
list_empty(const struct list *l)
{
    return l->next == l;
}

/* True when <node> is linked into some list (nodes are list_init()ed when unlinked). */
static inline bool
list_linked(const struct list *node)
{
    return node->next != node;
}

static inline void
list_insert_head(struct list *l, struct list *node)
{
    node->next = l->next;
    node->prev = l;
    l->next->prev = node;
    l->next = node;
}

static inline void
list_insert_tail(struct list *l, struct list *node)
{
    node->prev = l->prev;
    node->next = l;
    l->prev->next = node;
    l->prev = node;
}

static inline void
list_remove(struct list *node)
{
    node->prev->next = node->next;
    node->next->prev = node->prev;
    list_init(node);
}

#define list_entry(node, type, member) container_of(node, type, member)

/* Safe against removal of the current element. */
#define list_for_each_safe(pos, tmp, head)                                                         \
    for ((pos) = (head)->next, (tmp) = (pos)->next; (pos) != (head); (pos) = (tmp), (tmp) = (pos)->next)

#endif
