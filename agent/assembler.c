/* agent/assembler.c - the assembly window (see assembler.h).
 *
 * A chained hash table of traces keyed by the 128-bit trace id, plus one list of the same
 * traces ordered by the time each took its place there (_queued_us). Adding a span to a
 * trace only stamps _last_us: moving it in the list at every span would touch two cold
 * neighbours, the window's main cost. The list is put right lazily, from the head: a head
 * trace active since it was queued is re-queued at its _last_us (sorted insert from the
 * tail, where recent traces are), so the head is always, once checked, the least recently
 * active trace: the next to go idle and the first to evict under memory pressure. Merging
 * looks for the fragment in the trace's own list, which max_trace_spans bounds. */
#include "agent/assembler.h"

#include <errno.h>
#include <stdlib.h>

#include "agent/aspan.h"
#include "common/util.h"
#include "proto/span.h"

#define INITIAL_BUCKETS 1024u

struct assembler {
    struct assembler_cfg cfg;
    assembler_emit_fn *emit;
    void *arg;
    struct asm_trace **buckets;
    size_t n_buckets; /* power of two */
    unsigned n_traces;
    uint64_t n_spans;
    size_t bytes;
    struct list lru;
};

static size_t
trace_hash(uint64_t hi, uint64_t lo)
{
    uint64_t x = lo ^ (hi * 0x9e3779b97f4a7c15ull);

    /* splitmix64 finalizer: ids need not be random (tests, other tracers) */
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return (size_t) x;
}

struct assembler *
assembler_new(const struct assembler_cfg *cfg, assembler_emit_fn *emit, void *arg)
{
    struct assembler *a = xcalloc(1, sizeof(*a));

    a->cfg = *cfg;
    a->emit = emit;
    a->arg = arg;
    a->n_buckets = INITIAL_BUCKETS;
    a->buckets = xcalloc(a->n_buckets, sizeof(*a->buckets));
    list_init(&a->lru);
    return a;
}

static void
trace_free_spans(struct asm_trace *t)
{
    struct list *pos, *tmp;

    list_for_each_safe(pos, tmp, &t->spans)
    {
        struct aspan *s = list_entry(pos, struct aspan, link);

        list_remove(&s->link);
        aspan_free(s);
    }
}

struct assembler *
assembler_free(struct assembler *a)
{
    struct list *pos, *tmp;

    if (a == NULL)
        return NULL;
    list_for_each_safe(pos, tmp, &a->lru)
    {
        struct asm_trace *t = list_entry(pos, struct asm_trace, _lru);

        trace_free_spans(t);
        free(t);
    }
    free(a->buckets);
    free(a);
    return NULL;
}

void
assembler_set_cfg(struct assembler *a, const struct assembler_cfg *cfg)
{
    a->cfg = *cfg;
}

static void
grow(struct assembler *a)
{
    size_t n = a->n_buckets * 2;
    struct asm_trace **b = calloc(n, sizeof(*b));

    if (b == NULL)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < a->n_buckets; i++) {
        struct asm_trace *t = a->buckets[i], *next;

        for (; t != NULL; t = next) {
            size_t h = trace_hash(t->trace_hi, t->trace_lo) & (n - 1);

            next = t->_hnext;
            t->_hnext = b[h];
            b[h] = t;
        }
    }
    free(a->buckets);
    a->buckets = b;
    a->n_buckets = n;
}

static void
unhash(struct assembler *a, struct asm_trace *t)
{
    struct asm_trace **pp = &a->buckets[trace_hash(t->trace_hi, t->trace_lo) & (a->n_buckets - 1)];

    while (*pp != t)
        pp = &(*pp)->_hnext;
    *pp = t->_hnext;
}

/* Puts <t> in the list at <queued_us>, from the tail. */
static void
lru_place(struct assembler *a, struct asm_trace *t, uint64_t queued_us)
{
    struct list *pos = a->lru.prev;

    t->_queued_us = queued_us;
    while (pos != &a->lru && list_entry(pos, struct asm_trace, _lru)->_queued_us > queued_us)
        pos = pos->prev;
    list_insert_head(pos, &t->_lru); /* after <pos> */
}

static void
requeue(struct assembler *a, struct asm_trace *t)
{
    list_remove(&t->_lru);
    lru_place(a, t, t->_last_us);
}

/* The least recently active trace (the list is non-empty). */
static struct asm_trace *
lru_oldest(struct assembler *a)
{
    for (;;) {
        struct asm_trace *t = list_entry(a->lru.next, struct asm_trace, _lru);

        if (t->_last_us == t->_queued_us)
            return t;
        requeue(a, t);
    }
}

static void
emit(struct assembler *a, struct asm_trace *t, enum assembler_why why)
{
    unhash(a, t);
    list_remove(&t->_lru);
    a->n_traces--;
    a->n_spans -= t->n_spans;
    a->bytes -= t->bytes;
    a->emit(t, why, a->arg);
    MESH_BUG_ON(!list_empty(&t->spans));
    free(t);
}

int
assembler_add(struct assembler *a, const struct span *s, uint64_t now_us)
{
    size_t h = trace_hash(s->trace_hi, s->trace_lo) & (a->n_buckets - 1);
    struct asm_trace *t;
    struct aspan *sp;
    struct list *pos;
    int r = 0;

    for (t = a->buckets[h]; t != NULL; t = t->_hnext)
        if (t->trace_lo == s->trace_lo && t->trace_hi == s->trace_hi)
            break;
    sp = aspan_new(s);
    if (sp == NULL)
        return -ENOMEM;
    if (t == NULL) {
        t = calloc(1, sizeof(*t));
        if (t == NULL) {
            aspan_free(sp);
            return -ENOMEM;
        }
        t->trace_hi = s->trace_hi;
        t->trace_lo = s->trace_lo;
        list_init(&t->spans);
        list_init(&t->_lru);
        t->bytes = sizeof(*t);
        t->_hnext = a->buckets[h];
        a->buckets[h] = t;
        a->n_traces++;
        a->bytes += t->bytes;
    } else {
        /* a fragment of a span already here? */
        for (pos = t->spans.next; pos != &t->spans; pos = pos->next) {
            struct aspan *o = list_entry(pos, struct aspan, link);
            struct aspan *m;

            if (o->span_id != s->span_id || o->kind != s->kind)
                continue;
            m = aspan_merge(o, sp);
            aspan_free(sp);
            if (m == NULL)
                return -ENOMEM;
            /* the merged span takes the old one's place */
            m->link.prev = o->link.prev;
            m->link.next = o->link.next;
            m->link.prev->next = &m->link;
            m->link.next->prev = &m->link;
            t->bytes += m->mem - o->mem;
            a->bytes += m->mem - o->mem;
            aspan_free(o);
            sp = NULL;
            r = 1;
            break;
        }
    }
    if (sp != NULL) {
        list_insert_tail(&t->spans, &sp->link);
        t->n_spans++;
        t->bytes += sp->mem;
        a->n_spans++;
        a->bytes += sp->mem;
    }
    if (now_us > t->_last_us || !list_linked(&t->_lru))
        t->_last_us = now_us;
    if (!list_linked(&t->_lru))
        lru_place(a, t, now_us);

    if (t->n_spans >= a->cfg.max_trace_spans)
        emit(a, t, ASSEMBLER_FULL);
    while (a->bytes > a->cfg.max_bytes && !list_empty(&a->lru))
        emit(a, lru_oldest(a), ASSEMBLER_MEMORY);
    if (a->n_traces > a->n_buckets)
        grow(a);
    return r;
}

void
assembler_expire(struct assembler *a, uint64_t now_us)
{
    uint64_t idle_us = (uint64_t) a->cfg.idle_ms * 1000u;

    while (!list_empty(&a->lru)) {
        struct asm_trace *t = list_entry(a->lru.next, struct asm_trace, _lru);

        if (t->_queued_us + idle_us > now_us)
            break; /* every trace behind it was queued later */
        if (t->_last_us + idle_us <= now_us)
            emit(a, t, ASSEMBLER_IDLE);
        else
            requeue(a, t);
    }
    while (a->bytes > a->cfg.max_bytes && !list_empty(&a->lru))
        emit(a, lru_oldest(a), ASSEMBLER_MEMORY);
}

void
assembler_flush(struct assembler *a)
{
    while (!list_empty(&a->lru))
        emit(a, list_entry(a->lru.next, struct asm_trace, _lru), ASSEMBLER_FLUSH);
}

unsigned
assembler_n_traces(const struct assembler *a)
{
    return a->n_traces;
}

uint64_t
assembler_n_spans(const struct assembler *a)
{
    return a->n_spans;
}

size_t
assembler_bytes(const struct assembler *a)
{
    return a->bytes;
}
