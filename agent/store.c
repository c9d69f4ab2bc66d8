/* agent/store.c - the local store (see store.h).
 *
 * Traces live in a chained hash table keyed by the 128-bit trace id and on one list in
 * update order (head = least recently updated, evicted first). Each trace keeps its spans
 * in arrival order and the range of their start times. Queries scan everything: the store
 * holds at most a few thousand traces, and queries come from a person or a test. */
#include "agent/store.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent/aspan.h"
#include "common/list.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "proto/span.h"

struct strace {
    struct strace *hnext;
    struct list lru;
    uint64_t trace_hi, trace_lo;
    struct list spans; /* struct aspan */
    unsigned n_spans;
    size_t bytes;
    uint64_t ts_min, ts_max; /* start times of its spans (0: none known) */
};

struct store {
    struct store_cfg cfg;
    void (*span_json)(struct strbuf *out, const struct span *s);
    struct strace **buckets;
    size_t n_buckets;
    unsigned n_traces;
    uint64_t n_spans;
    size_t bytes;
    uint64_t n_evicted;
    struct list lru;
};

static size_t
hash(uint64_t hi, uint64_t lo)
{
    uint64_t x = lo ^ (hi * 0x9e3779b97f4a7c15ull);

    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return (size_t) x;
}

struct store *
store_new(const struct store_cfg *cfg, void (*span_json)(struct strbuf *out, const struct span *s))
{
    struct store *st = xcalloc(1, sizeof(*st));

    st->cfg = *cfg;
    st->span_json = span_json;
    st->n_buckets = 256;
    st->buckets = xcalloc(st->n_buckets, sizeof(*st->buckets));
    list_init(&st->lru);
    return st;
}

static void
trace_destroy(struct store *st, struct strace *t)
{
    struct strace **pp = &st->buckets[hash(t->trace_hi, t->trace_lo) & (st->n_buckets - 1)];
    struct list *pos, *tmp;

    while (*pp != t)
        pp = &(*pp)->hnext;
    *pp = t->hnext;
    list_remove(&t->lru);
    list_for_each_safe(pos, tmp, &t->spans)
    {
        struct aspan *sp = list_entry(pos, struct aspan, link);

        list_remove(&sp->link);
        aspan_free(sp);
    }
    st->n_traces--;
    st->n_spans -= t->n_spans;
    st->bytes -= t->bytes;
    free(t);
}

struct store *
store_free(struct store *st)
{
    if (st == NULL)
        return NULL;
    while (!list_empty(&st->lru))
        trace_destroy(st, list_entry(st->lru.next, struct strace, lru));
    free(st->buckets);
    free(st);
    return NULL;
}

static void
evict(struct store *st)
{
    while (!list_empty(&st->lru) &&
           (st->n_traces > st->cfg.max_traces || st->bytes > st->cfg.max_bytes)) {
        trace_destroy(st, list_entry(st->lru.next, struct strace, lru));
        st->n_evicted++;
    }
}

void
store_set_cfg(struct store *st, const struct store_cfg *cfg)
{
    st->cfg = *cfg;
    evict(st);
}

static struct strace *
lookup(struct store *st, uint64_t hi, uint64_t lo)
{
    struct strace *t = st->buckets[hash(hi, lo) & (st->n_buckets - 1)];

    while (t != NULL && (t->trace_lo != lo || t->trace_hi != hi))
        t = t->hnext;
    return t;
}

static void
grow(struct store *st)
{
    size_t n = st->n_buckets * 2;
    struct strace **b = calloc(n, sizeof(*b));

    if (b == NULL)
        return;
    for (size_t i = 0; i < st->n_buckets; i++) {
        struct strace *t = st->buckets[i], *next;

        for (; t != NULL; t = next) {
            size_t h = hash(t->trace_hi, t->trace_lo) & (n - 1);

            next = t->hnext;
            t->hnext = b[h];
            b[h] = t;
        }
    }
    free(st->buckets);
    st->buckets = b;
    st->n_buckets = n;
}

void
store_add(struct store *st, struct aspan *sp)
{
    struct strace *t = lookup(st, sp->trace_hi, sp->trace_lo);

    if (t == NULL) {
        size_t h;

        t = calloc(1, sizeof(*t));
        if (t == NULL) {
            aspan_free(sp); /* accounted as stored: the store may forget at any time */
            return;
        }
        t->trace_hi = sp->trace_hi;
        t->trace_lo = sp->trace_lo;
        list_init(&t->spans);
        t->bytes = sizeof(*t);
        h = hash(t->trace_hi, t->trace_lo) & (st->n_buckets - 1);
        t->hnext = st->buckets[h];
        st->buckets[h] = t;
        st->n_traces++;
        st->bytes += t->bytes;
        if (st->n_traces > st->n_buckets)
            grow(st);
    } else {
        list_remove(&t->lru);
    }
    list_insert_tail(&st->lru, &t->lru);
    list_insert_tail(&t->spans, &sp->link);
    t->n_spans++;
    t->bytes += sp->mem;
    st->n_spans++;
    st->bytes += sp->mem;
    if (sp->timestamp_us != 0) {
        if (t->ts_min == 0 || sp->timestamp_us < t->ts_min)
            t->ts_min = sp->timestamp_us;
        if (sp->timestamp_us > t->ts_max)
            t->ts_max = sp->timestamp_us;
    }
    evict(st);
}

unsigned
store_n_traces(const struct store *st)
{
    return st->n_traces;
}

uint64_t
store_n_spans(const struct store *st)
{
    return st->n_spans;
}

size_t
store_bytes(const struct store *st)
{
    return st->bytes;
}

uint64_t
store_n_evicted(const struct store *st)
{
    return st->n_evicted;
}

/* ---- name lists --------------------------------------------------------------------- */

struct name {
    const char *s;
    size_t len;
};

struct names {
    struct name *v;
    size_t n, cap;
};

static void
names_add(struct names *ns, const char *s, size_t len)
{
    if (len == 0)
        return;
    if (ns->n == ns->cap) {
        ns->cap = ns->cap ? ns->cap * 2 : 64;
        ns->v = xrealloc(ns->v, ns->cap * sizeof(*ns->v));
    }
    ns->v[ns->n].s = s;
    ns->v[ns->n].len = len;
    ns->n++;
}

static int
name_cmp(const void *a, const void *b)
{
    const struct name *x = a, *y = b;
    size_t n = MESH_MIN(x->len, y->len);
    int r = strncasecmp(x->s, y->s, n);

    if (r != 0)
        return r;
    return x->len < y->len ? -1 : x->len > y->len;
}

static void
add_json_lower(struct strbuf *out, const char *s, size_t len)
{
    char small[256];
    char *tmp = len <= sizeof(small) ? small : xmalloc(len);

    for (size_t i = 0; i < len; i++)
        tmp[i] = (char) tolower((unsigned char) s[i]);
    strbuf_add_json_str(out, tmp, len);
    if (tmp != small)
        free(tmp);
}

/* Sorts, removes duplicates (case-insensitively) and writes a JSON array. Frees <ns>. */
static void
names_emit(struct names *ns, struct strbuf *out)
{
    bool first = true;

    if (ns->n > 0)
        qsort(ns->v, ns->n, sizeof(*ns->v), name_cmp);
    strbuf_addc(out, '[');
    for (size_t i = 0; i < ns->n; i++) {
        if (i > 0 && name_cmp(&ns->v[i - 1], &ns->v[i]) == 0)
            continue;
        if (!first)
            strbuf_addc(out, ',');
        first = false;
        add_json_lower(out, ns->v[i].s, ns->v[i].len);
    }
    strbuf_addc(out, ']');
    free(ns->v);
    memset(ns, 0, sizeof(*ns));
}

static bool
eq_ci(const char *s, size_t len, const char *lit)
{
    return lit != NULL && util_strcaseeq(s, len, lit);
}

#define FOR_EACH_SPAN(st, t, sp, pt, ps)                                                           \
    for ((pt) = (st)->lru.next; (pt) != &(st)->lru; (pt) = (pt)->next)                             \
        for ((t) = list_entry(pt, struct strace, lru), (ps) = (t)->spans.next;                     \
             (ps) != &(t)->spans && ((sp) = list_entry(ps, struct aspan, link), 1);                \
             (ps) = (ps)->next)

void
store_services(struct store *st, struct strbuf *out)
{
    struct names ns = {0};
    struct strace *t;
    struct aspan *sp;
    struct list *pt, *ps;

    FOR_EACH_SPAN(st, t, sp, pt, ps)
    names_add(&ns, sp->local.service, sp->local.service_len);
    names_emit(&ns, out);
}

void
store_span_names(struct store *st, const char *service, struct strbuf *out)
{
    struct names ns = {0};
    struct strace *t;
    struct aspan *sp;
    struct list *pt, *ps;

    FOR_EACH_SPAN(st, t, sp, pt, ps)
    if (eq_ci(sp->local.service, sp->local.service_len, service))
        names_add(&ns, sp->name, sp->name_len);
    names_emit(&ns, out);
}

void
store_remote_services(struct store *st, const char *service, struct strbuf *out)
{
    struct names ns = {0};
    struct strace *t;
    struct aspan *sp;
    struct list *pt, *ps;

    FOR_EACH_SPAN(st, t, sp, pt, ps)
    if (eq_ci(sp->local.service, sp->local.service_len, service))
        names_add(&ns, sp->remote.service, sp->remote.service_len);
    names_emit(&ns, out);
}

/* ---- traces --------------------------------------------------------------------------- */

static void
span_json(struct store *st, const struct aspan *sp, struct strbuf *out)
{
    struct span *v = malloc(sizeof(*v));

    if (v == NULL)
        return;
    aspan_view(sp, v);
    st->span_json(out, v);
    free(v);
}

static void
trace_json(struct store *st, const struct strace *t, struct strbuf *out)
{
    const struct list *ps;

    strbuf_addc(out, '[');
    for (ps = t->spans.next; ps != &t->spans; ps = ps->next) {
        if (ps != t->spans.next)
            strbuf_addc(out, ',');
        span_json(st, list_entry(ps, struct aspan, link), out);
    }
    strbuf_addc(out, ']');
}

int
store_trace(struct store *st, uint64_t trace_hi, uint64_t trace_lo, struct strbuf *out)
{
    struct strace *t = lookup(st, trace_hi, trace_lo);

    if (t == NULL)
        return -ENOENT;
    trace_json(st, t, out);
    return 0;
}

static bool
tag_is(const struct span_tag_kv *tag, const char *key, size_t klen)
{
    return tag->name != NULL && tag->name_len == klen && memcmp(tag->name, key, klen) == 0;
}

static bool
tag_value_is(const struct span_tag_kv *tag, const char *val, size_t vlen)
{
    char num[24];

    if (tag->is_num) {
        int n = snprintf(num, sizeof(num), "%llu", (unsigned long long) tag->num);

        return (size_t) n == vlen && memcmp(num, val, vlen) == 0;
    }
    return tag->value_len == vlen && memcmp(tag->value, val, vlen) == 0;
}

/* One term of an annotationQuery ("key=value" or "key"): does some span match it? */
static bool
trace_has_term(const struct strace *t, const char *term, size_t len)
{
    const char *eq = memchr(term, '=', len);
    size_t klen = eq ? (size_t) (eq - term) : len;
    const struct list *ps;

    for (ps = t->spans.next; ps != &t->spans; ps = ps->next) {
        const struct aspan *sp = list_entry(ps, struct aspan, link);

        for (unsigned i = 0; i < sp->n_tags; i++)
            if (tag_is(&sp->tags[i], term, klen) &&
                (eq == NULL || tag_value_is(&sp->tags[i], eq + 1, len - klen - 1)))
                return true;
    }
    return false;
}

static bool
trace_matches_annotations(const struct strace *t, const char *q)
{
    while (*q) {
        const char *sep = strstr(q, " and ");
        size_t len = sep ? (size_t) (sep - q) : strlen(q);

        while (len > 0 && *q == ' ') {
            q++;
            len--;
        }
        while (len > 0 && q[len - 1] == ' ')
            len--;
        if (len > 0 && !trace_has_term(t, q, len))
            return false;
        q = sep ? sep + 5 : q + strlen(q);
    }
    return true;
}

static bool
trace_matches(const struct strace *t, const struct store_query *q)
{
    const struct list *ps;
    bool svc = q->service == NULL, name = q->span_name == NULL, dur = false, when = false;
    uint64_t start = q->end_ts_us > q->lookback_us ? q->end_ts_us - q->lookback_us : 0;

    if (q->span_name != NULL && strcasecmp(q->span_name, "all") == 0)
        name = true;
    for (ps = t->spans.next; ps != &t->spans; ps = ps->next) {
        const struct aspan *sp = list_entry(ps, struct aspan, link);
        bool mine =
            q->service == NULL || eq_ci(sp->local.service, sp->local.service_len, q->service);

        svc = svc || mine;
        if (mine && !name && eq_ci(sp->name, sp->name_len, q->span_name))
            name = true;
        if (mine && (q->min_duration_us == 0 || sp->duration_us >= q->min_duration_us) &&
            (q->max_duration_us == 0 || sp->duration_us <= q->max_duration_us))
            dur = true;
        if (sp->timestamp_us >= start && sp->timestamp_us <= q->end_ts_us)
            when = true;
    }
    if (!svc || !name || !dur || !when)
        return false;
    return q->annotation_query == NULL || trace_matches_annotations(t, q->annotation_query);
}

static int
recent_first(const void *a, const void *b)
{
    const struct strace *x = *(const struct strace *const *) a;
    const struct strace *y = *(const struct strace *const *) b;

    return x->ts_max > y->ts_max ? -1 : x->ts_max < y->ts_max;
}

void
store_traces(struct store *st, const struct store_query *q, struct strbuf *out)
{
    struct strace **hits = st->n_traces ? malloc(st->n_traces * sizeof(*hits)) : NULL;
    struct list *pt;
    size_t n = 0;

    strbuf_addc(out, '[');
    if (hits != NULL) {
        for (pt = st->lru.next; pt != &st->lru; pt = pt->next) {
            struct strace *t = list_entry(pt, struct strace, lru);

            if (trace_matches(t, q))
                hits[n++] = t;
        }
        qsort(hits, n, sizeof(*hits), recent_first);
        for (size_t i = 0; i < n && i < q->limit; i++) {
            if (i > 0)
                strbuf_addc(out, ',');
            trace_json(st, hits[i], out);
        }
        free(hits);
    }
    strbuf_addc(out, ']');
}
