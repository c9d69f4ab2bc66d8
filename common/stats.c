/* common/stats.c - the stats registry in shared memory; see stats.h and docs/metrics.md.
 *
 * The master maps one block (MAP_SHARED|MAP_ANONYMOUS) before forking:
 *
 *     [retired area][region 0][region 1] ... [region n-1]
 *
 * Every area is page-aligned, so two writers never share a page, and has one shape:
 *
 *     struct stats_region     64 bytes: geometry, claim state, published count, overflow
 *     struct entry[]          name, kind, value cell (208 bytes each)
 *     struct stats_hist[]     log-linear buckets (4768 bytes each)
 *
 * A writer region holds <max_entries> entries and <max_hists> histograms; the retired
 * area, where stats_shm_release() folds the regions of dead workers, twice as many.
 * Pages are touched only when used, so a worker's resident share is what it registers.
 *
 * One writer per area: the worker that owns a region, or the master for the retired
 * area and for claim/release bookkeeping (which it does only while no worker owns the
 * region). A writer fills entry [count] completely, then publishes it with a release
 * store of count + 1; readers load count with acquire and look only below it, where
 * names never change until the next release. Value cells and histogram fields are
 * aligned 64-bit words that only their writer updates, with a relaxed load and store
 * (no locked instruction); readers use relaxed loads, so they never see a torn value,
 * only one a few updates old. A histogram is not read as one snapshot: percentiles use
 * the sum of the buckets as read, not the count field, so they stay self-consistent.
 *
 * Find-or-create hashes the name into an index that lives in the writer's own heap,
 * never in the mapping: a small per-process side table keyed by area address. Each
 * area carries a generation that the master changes at every claim and release, so an
 * index inherited through fork or left over from a previous owner is rebuilt from the
 * published entries, which are the authority. Lookups are start-up or per-new-name
 * work; the hot path is stats_inc(), stats_gauge_add() and stats_hist_record().
 *
 * Histograms: values in microseconds. Values below 16 have a bucket each; above, each
 * power of two [2^e, 2^(e+1)) is split in 16 equal sub-buckets, up to 2^40 us (12.7
 * days; larger values land in the last bucket, min/max stay exact). A bucket is at most
 * 1/16 of its lower bound wide, so its midpoint is within 1/32 (3.125%) of any value in
 * it. The master computes percentiles over the window since the last stats_shm_rotate()
 * by subtracting that rotation's summed buckets, or over everything when the window is
 * empty. */
#include "common/stats.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/strbuf.h"
#include "common/util.h"

#define HIST_SUB_BITS 4 /* 16 sub-buckets per power of two */
#define HIST_SUB      (1u << HIST_SUB_BITS)
#define HIST_MAX_BITS 40 /* buckets cover [0, 2^40) us */
#define HIST_BUCKETS  (HIST_SUB + (HIST_MAX_BITS - HIST_SUB_BITS) * HIST_SUB) /* 592 */

#define AREA_HDR_LEN   64u /* struct stats_region, padded */
#define MAX_REGIONS    4096u
#define MAX_ENTRIES    (1u << 20)
#define MAX_HISTS      (1u << 16)
#define RETIRED_FACTOR 2u /* retired area: entries and histograms x2 */
#define OVERFLOW_NAME  "stats/overflow"
#define N_PCTS         6

enum entry_kind {
    KIND_NONE = 0, /* past count */
    KIND_COUNTER,
    KIND_GAUGE,
    KIND_HIST,
};

struct entry {
    uint64_t value;            /* counter (uint64_t) or gauge (int64_t) cell */
    uint32_t kind;             /* enum entry_kind */
    uint32_t hist;             /* KIND_HIST: index in the area's histogram pool */
    char name[STATS_NAME_MAX]; /* NUL-terminated; immutable once published */
};

struct stats_hist {
    uint64_t count;                 /* samples */
    uint64_t sum;                   /* us */
    uint64_t min_inv;               /* ~min, so the zeroed state means "no sample" */
    uint64_t max;                   /* us; 0 with no sample */
    uint64_t buckets[HIST_BUCKETS]; /* samples per bucket, see hist_bucket() */
};

struct stats_region {
    /* Set by stats_shm_new(), then read-only. */
    uint32_t max_entries; /* capacity of the entry table */
    uint32_t max_hists;   /* capacity of the histogram pool */
    uint32_t hists_off;   /* bytes from the area start to the histogram pool */
    uint32_t in_use;      /* master only: claimed by a worker */
    uint64_t gen;         /* master only: changes at each claim and release */
    /* Owner only; the master reads them with atomics. */
    uint32_t count;    /* published entries; release store after the entry is written */
    uint32_t n_hists;  /* histograms handed out, <= max_hists */
    uint64_t overflow; /* find-or-create calls that returned NULL */
};

_Static_assert(sizeof(struct entry) == 208, "entry layout");
_Static_assert(sizeof(struct stats_region) <= AREA_HDR_LEN, "area header fits its slot");
_Static_assert(sizeof(struct stats_hist) % 8 == 0, "histograms stay 8-byte aligned");

/* Last rotation's histogram totals for one name (master heap). */
struct snap {
    char name[STATS_NAME_MAX];
    uint64_t count; /* count fields summed */
    uint64_t sum;   /* us */
    uint64_t n;     /* buckets summed */
    uint64_t b[HIST_BUCKETS];
};

struct stats_shm {
    char *base;         /* the mapping: retired area, then the regions */
    size_t map_len;     /* bytes */
    size_t region_len;  /* bytes per writer region, a page multiple */
    size_t retired_len; /* bytes of the retired area, a page multiple */
    unsigned n_regions;
    struct stats_region *retired; /* at <base> */
    struct snap *snaps;           /* sorted by name; NULL before the first rotation */
    size_t n_snaps;
};

/* This process's find-or-create index of one area. */
struct side_index {
    struct side_index *next;
    const struct stats_region *area; /* the area it mirrors, mapped in this process */
    uint64_t gen;                    /* area's gen when the index was (re)started */
    uint32_t n_indexed;              /* entries [0, n_indexed) are in <slots> */
    uint32_t mask;                   /* slots - 1; slots is a power of two >= 2 * entries */
    uint32_t slots[];                /* entry index + 1; 0 = free */
};

static struct side_index *side_indexes; /* this process's, inherited ones checked by gen */
static uint64_t gen_seq;                /* master: source of area generations */

/* Aggregated view of one name, built by the master for reads and renders. */
struct hsum {
    uint64_t count; /* count fields summed */
    uint64_t sum;   /* us */
    uint64_t min;   /* us; UINT64_MAX with no sample */
    uint64_t max;   /* us */
    uint64_t n;     /* buckets summed */
    uint64_t b[HIST_BUCKETS];
};

struct agg {
    const char *name; /* borrowed from the mapping (or static), valid until a release */
    unsigned kind;
    uint64_t counter;
    int64_t gauge;
    struct hsum *h; /* KIND_HIST, owned */
};

struct ref {
    const char *name;
    unsigned kind;
    const struct entry *e; /* NULL for the synthetic stats/overflow */
    const struct stats_region *a;
};

/* What one histogram exports, in us. */
struct hout {
    uint64_t count; /* cumulative */
    uint64_t sum;   /* cumulative */
    uint64_t avg;   /* window, or cumulative when the window is empty */
    bool have;      /* min, max and percentiles are set */
    uint64_t min, max;
    uint64_t p[N_PCTS]; /* p50 p90 p95 p99 p99.9 p99.99 */
};

static const uint32_t pct_ppm[N_PCTS] = {500000, 900000, 950000, 990000, 999000, 999900};
static const char *const pct_json[N_PCTS] = {".p50", ".p90", ".p95", ".p99", ".p9990", ".p9999"};
static const char *const pct_prom[N_PCTS] = {"0.5", "0.9", "0.95", "0.99", "0.999", "0.9999"};

/* ---- single-writer cells ---- */

static inline uint64_t
ld64(const uint64_t *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static inline void
st64(uint64_t *p, uint64_t v)
{
    __atomic_store_n(p, v, __ATOMIC_RELAXED);
}

static inline void
add64(uint64_t *p, uint64_t n)
{
    st64(p, ld64(p) + n);
}

/* ---- areas ---- */

static size_t
round_up(size_t n, size_t to)
{
    return (n + to - 1) / to * to;
}

static size_t
area_hists_off(unsigned max_entries)
{
    return round_up(AREA_HDR_LEN + (size_t) max_entries * sizeof(struct entry), 64);
}

static size_t
area_len(unsigned max_entries, unsigned max_hists, size_t page)
{
    return round_up(area_hists_off(max_entries) + (size_t) max_hists * sizeof(struct stats_hist),
                    page);
}

static inline struct entry *
area_entries(const struct stats_region *a)
{
    return (struct entry *) ((char *) a + AREA_HDR_LEN);
}

static inline struct stats_hist *
area_hists(const struct stats_region *a)
{
    return (struct stats_hist *) ((char *) a + a->hists_off);
}

static inline uint32_t
area_count(const struct stats_region *a)
{
    uint32_t n = __atomic_load_n(&a->count, __ATOMIC_ACQUIRE);

    return MESH_MIN(n, a->max_entries);
}

static struct stats_region *
shm_area(const struct stats_shm *shm, unsigned i)
{
    /* area 0 is the retired one, area i + 1 region i */
    if (i == 0)
        return shm->retired;
    return (struct stats_region *) (shm->base + shm->retired_len + (i - 1) * shm->region_len);
}

static void
area_init(struct stats_region *a, unsigned max_entries, unsigned max_hists)
{
    a->max_entries = max_entries;
    a->max_hists = max_hists;
    a->hists_off = (uint32_t) area_hists_off(max_entries);
    __atomic_store_n(&a->gen, ++gen_seq, __ATOMIC_RELAXED);
}

/* ---- find-or-create ---- */

static uint32_t
name_hash(const char *name, size_t len)
{
    uint32_t h = 2166136261u; /* FNV-1a */

    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char) name[i];
        h *= 16777619u;
    }
    return h;
}

static bool
entry_name_eq(const struct entry *e, const char *name, size_t len)
{
    return memcmp(e->name, name, len) == 0 && e->name[len] == '\0';
}

static void
side_insert(struct side_index *si, const struct stats_region *a, uint32_t idx)
{
    const struct entry *e = &area_entries(a)[idx];
    uint32_t i = name_hash(e->name, strnlen(e->name, STATS_NAME_MAX - 1)) & si->mask;

    while (si->slots[i] != 0)
        i = (i + 1) & si->mask;
    si->slots[i] = idx + 1;
}

/* Returns this process's index of <a>, brought up to date with its published entries,
 * or NULL when it cannot be allocated (callers then scan). */
static struct side_index *
side_get(const struct stats_region *a)
{
    uint64_t gen = __atomic_load_n(&a->gen, __ATOMIC_RELAXED);
    uint32_t count = area_count(a);
    struct side_index *si;

    for (si = side_indexes; si != NULL; si = si->next)
        if (si->area == a)
            break;
    if (si == NULL) {
        size_t n_slots = 16;

        while (n_slots < 2 * (size_t) a->max_entries)
            n_slots *= 2;
        si = calloc(1, sizeof(*si) + n_slots * sizeof(si->slots[0]));
        if (si == NULL)
            return NULL;
        si->area = a;
        si->gen = gen;
        si->mask = (uint32_t) (n_slots - 1);
        si->next = side_indexes;
        side_indexes = si;
    } else if (si->gen != gen || si->n_indexed > count) {
        memset(si->slots, 0, ((size_t) si->mask + 1) * sizeof(si->slots[0]));
        si->n_indexed = 0;
        si->gen = gen;
    }
    for (; si->n_indexed < count; si->n_indexed++)
        side_insert(si, a, si->n_indexed);
    return si;
}

/* Forgets this process's indexes of areas inside [lo, lo + len). */
static void
side_drop(const char *lo, size_t len)
{
    struct side_index **pp = &side_indexes;

    while (*pp != NULL) {
        struct side_index *si = *pp;
        const char *p = (const char *) si->area;

        if (p >= lo && p < lo + len) {
            *pp = si->next;
            free(si);
        } else {
            pp = &si->next;
        }
    }
}

static void *
area_miss(struct stats_region *a)
{
    add64(&a->overflow, 1);
    return NULL;
}

/* The entry named <name> (truncated to STATS_NAME_MAX - 1 bytes) of kind <kind> in <a>,
 * created when absent. NULL, counted as overflow, when the area is full or the name
 * exists with another kind. Only <a>'s writer calls this. */
static struct entry *
area_lookup(struct stats_region *a, const char *name, unsigned kind)
{
    struct entry *es, *e;
    struct side_index *si;
    uint32_t n, i;
    size_t len;

    if (a == NULL || name == NULL)
        return NULL;
    es = area_entries(a);
    len = strnlen(name, STATS_NAME_MAX - 1);
    n = area_count(a);
    si = side_get(a);
    e = NULL;
    if (si != NULL) {
        for (i = name_hash(name, len) & si->mask; si->slots[i] != 0; i = (i + 1) & si->mask) {
            if (entry_name_eq(&es[si->slots[i] - 1], name, len)) {
                e = &es[si->slots[i] - 1];
                break;
            }
        }
    } else {
        for (i = 0; i < n && e == NULL; i++)
            if (entry_name_eq(&es[i], name, len))
                e = &es[i];
    }
    if (e != NULL)
        return e->kind == kind ? e : area_miss(a);

    if (n >= a->max_entries || (kind == KIND_HIST && a->n_hists >= a->max_hists))
        return area_miss(a);
    e = &es[n];
    memcpy(e->name, name, len);
    e->name[len] = '\0';
    e->kind = kind;
    e->hist = 0;
    st64(&e->value, 0);
    if (kind == KIND_HIST)
        e->hist = __atomic_fetch_add(&a->n_hists, 1, __ATOMIC_RELAXED);
    __atomic_store_n(&a->count, n + 1, __ATOMIC_RELEASE);
    if (si != NULL) {
        side_insert(si, a, n);
        si->n_indexed = n + 1;
    }
    return e;
}

uint64_t *
stats_counter(struct stats_region *r, const char *name)
{
    struct entry *e = area_lookup(r, name, KIND_COUNTER);

    return e != NULL ? &e->value : NULL;
}

int64_t *
stats_gauge(struct stats_region *r, const char *name)
{
    struct entry *e = area_lookup(r, name, KIND_GAUGE);

    /* int64_t and uint64_t may alias each other */
    return e != NULL ? (int64_t *) &e->value : NULL;
}

struct stats_hist *
stats_histogram(struct stats_region *r, const char *name)
{
    struct entry *e = area_lookup(r, name, KIND_HIST);

    return e != NULL ? &area_hists(r)[e->hist] : NULL;
}

/* ---- histograms ---- */

static inline unsigned
hist_bucket(uint64_t v)
{
    unsigned e;

    if (v < HIST_SUB)
        return (unsigned) v;
    if (v >> HIST_MAX_BITS)
        return HIST_BUCKETS - 1;
    e = 63u - (unsigned) __builtin_clzll(v); /* HIST_SUB_BITS .. HIST_MAX_BITS - 1 */
    return ((e - HIST_SUB_BITS + 1) << HIST_SUB_BITS) |
           (unsigned) ((v >> (e - HIST_SUB_BITS)) & (HIST_SUB - 1));
}

/* Middle of bucket <idx>: within 1/32 of every value the bucket holds. */
static uint64_t
hist_bucket_mid(unsigned idx)
{
    unsigned g = idx >> HIST_SUB_BITS, s = idx & (HIST_SUB - 1);
    uint64_t width, lo;

    if (g == 0)
        return idx;
    width = 1ull << (g - 1);
    lo = (uint64_t) (HIST_SUB + s) << (g - 1);
    return lo + (width - 1) / 2;
}

void
stats_hist_record(struct stats_hist *h, uint64_t value_us)
{
    if (h == NULL)
        return;
    add64(&h->buckets[hist_bucket(value_us)], 1);
    add64(&h->sum, value_us);
    if (~value_us > ld64(&h->min_inv))
        st64(&h->min_inv, ~value_us);
    if (value_us > ld64(&h->max))
        st64(&h->max, value_us);
    add64(&h->count, 1); /* last: a reader that sees it (x86) sees the rest */
}

static void
hsum_init(struct hsum *s)
{
    memset(s, 0, sizeof(*s));
    s->min = UINT64_MAX;
}

static void
hsum_add(struct hsum *s, const struct stats_hist *h)
{
    uint64_t min_inv, max, v;

    s->count += ld64(&h->count);
    s->sum += ld64(&h->sum);
    min_inv = ld64(&h->min_inv);
    max = ld64(&h->max);
    if (min_inv != 0 && ~min_inv < s->min)
        s->min = ~min_inv;
    if (max > s->max)
        s->max = max;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        v = ld64(&h->buckets[i]);
        s->b[i] += v;
        s->n += v;
    }
}

/* Nearest rank of the <ppm> parts-per-million quantile among <n> samples: 1..n. */
static uint64_t
quantile_rank(uint64_t n, uint32_t ppm)
{
    uint64_t r = n / 1000000 * ppm + ((n % 1000000) * ppm + 999999) / 1000000;

    return MESH_MAX(r, 1);
}

static uint64_t
rank_value(const uint64_t *b, uint64_t rank)
{
    uint64_t seen = 0;
    unsigned i;

    for (i = 0; i < HIST_BUCKETS - 1; i++) {
        seen += b[i];
        if (seen >= rank)
            break;
    }
    return hist_bucket_mid(i);
}

static uint64_t
clamp64(uint64_t v, uint64_t lo, uint64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static const struct snap *
snap_find(const struct stats_shm *shm, const char *name)
{
    size_t lo = 0, hi = shm->n_snaps;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(shm->snaps[mid].name, name);

        if (c == 0)
            return &shm->snaps[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Summarizes <cur> over the window since <snap> (NULL: none) when that window holds
 * samples, else over everything. count and sum are always cumulative. */
static void
hist_summarize(const struct hsum *cur, const struct snap *snap, struct hout *o)
{
    uint64_t wb[HIST_BUCKETS];
    const uint64_t *b = cur->b;
    uint64_t n = cur->n, count = cur->count, sum = cur->sum, lo, hi;
    bool exact = true;

    memset(o, 0, sizeof(*o));
    o->count = cur->count;
    o->sum = cur->sum;
    if (snap != NULL && snap->n > 0) {
        uint64_t wn = 0;

        for (unsigned i = 0; i < HIST_BUCKETS; i++) {
            /* a bucket shrinks only if a release could not fold it: clamp */
            wb[i] = cur->b[i] > snap->b[i] ? cur->b[i] - snap->b[i] : 0;
            wn += wb[i];
        }
        if (wn > 0) {
            b = wb;
            n = wn;
            count = cur->count > snap->count ? cur->count - snap->count : wn;
            sum = cur->sum > snap->sum ? cur->sum - snap->sum : 0;
            exact = false;
        }
    }
    if (count > 0)
        o->avg = sum / count + (sum % count >= (count + 1) / 2);
    if (n == 0)
        return; /* no sample, or buckets not visible yet */

    /* min and max unset while count > 0 only when racing the writer (weak ordering) */
    lo = cur->min != UINT64_MAX ? cur->min : 0;
    hi = cur->min != UINT64_MAX || cur->max > 0 ? cur->max : UINT64_MAX;
    if (hi < lo)
        hi = UINT64_MAX;
    o->have = true;
    /* Over everything, min and max are exact; over a window, they are the extreme
     * buckets' estimates, kept inside the exact cumulative bounds. */
    o->min = exact && cur->min != UINT64_MAX ? lo : clamp64(rank_value(b, 1), lo, hi);
    o->max = exact && hi != UINT64_MAX ? hi : clamp64(rank_value(b, n), lo, hi);
    for (unsigned k = 0; k < N_PCTS; k++)
        o->p[k] = clamp64(rank_value(b, quantile_rank(n, pct_ppm[k])), o->min, o->max);
}

/* ---- the shared block ---- */

struct stats_shm *
stats_shm_new(unsigned n_regions, unsigned max_entries, unsigned max_hists)
{
    struct stats_shm *shm;
    long page = sysconf(_SC_PAGESIZE);
    size_t region_len, retired_len;
    void *base;

    if (n_regions == 0 || n_regions > MAX_REGIONS || max_entries == 0 ||
        max_entries > MAX_ENTRIES || max_hists > MAX_HISTS)
        return NULL;
    if (page <= 0)
        page = 4096;
    region_len = area_len(max_entries, max_hists, (size_t) page);
    retired_len = area_len(RETIRED_FACTOR * max_entries, RETIRED_FACTOR * max_hists, (size_t) page);
    if ((SIZE_MAX - retired_len) / n_regions < region_len)
        return NULL;

    shm = calloc(1, sizeof(*shm));
    if (shm == NULL)
        return NULL;
    shm->map_len = retired_len + n_regions * region_len;
    base = mmap(NULL, shm->map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) {
        free(shm);
        return NULL;
    }
    shm->base = base;
    shm->region_len = region_len;
    shm->retired_len = retired_len;
    shm->n_regions = n_regions;
    shm->retired = (struct stats_region *) shm->base;
    area_init(shm->retired, RETIRED_FACTOR * max_entries, RETIRED_FACTOR * max_hists);
    for (unsigned i = 0; i < n_regions; i++)
        area_init(shm_area(shm, i + 1), max_entries, max_hists);
    return shm;
}

void
stats_shm_free(struct stats_shm *shm)
{
    if (shm == NULL)
        return;
    side_drop(shm->base, shm->map_len);
    (void) munmap(shm->base, shm->map_len);
    free(shm->snaps);
    free(shm);
}

size_t
stats_shm_region_size(const struct stats_shm *shm)
{
    return shm->region_len;
}

int
stats_shm_claim(struct stats_shm *shm)
{
    for (unsigned i = 0; i < shm->n_regions; i++) {
        struct stats_region *r = shm_area(shm, i + 1);

        if (!r->in_use) {
            r->in_use = 1;
            __atomic_store_n(&r->gen, ++gen_seq, __ATOMIC_RELAXED);
            return (int) i;
        }
    }
    return -ENOSPC;
}

struct stats_region *
stats_shm_region(struct stats_shm *shm, int idx)
{
    if (shm == NULL || idx < 0 || (unsigned) idx >= shm->n_regions)
        return NULL;
    return shm_area(shm, (unsigned) idx + 1);
}

static void
hist_fold(struct stats_hist *dst, const struct stats_hist *src)
{
    uint64_t min_inv = ld64(&src->min_inv), max = ld64(&src->max);

    for (unsigned i = 0; i < HIST_BUCKETS; i++)
        add64(&dst->buckets[i], ld64(&src->buckets[i]));
    add64(&dst->sum, ld64(&src->sum));
    if (min_inv > ld64(&dst->min_inv))
        st64(&dst->min_inv, min_inv);
    if (max > ld64(&dst->max))
        st64(&dst->max, max);
    add64(&dst->count, ld64(&src->count));
}

void
stats_shm_release(struct stats_shm *shm, int idx)
{
    struct stats_region *r = stats_shm_region(shm, idx), *ret;
    struct entry *es;
    uint32_t n, n_hists;

    if (r == NULL || !r->in_use)
        return;
    ret = shm->retired;
    es = area_entries(r);
    n = area_count(r);
    for (uint32_t i = 0; i < n; i++) {
        const struct entry *e = &es[i];

        if (memchr(e->name, '\0', STATS_NAME_MAX) == NULL)
            continue; /* a scribbled entry: nothing trustworthy to fold */
        if (e->kind == KIND_COUNTER) {
            stats_inc(stats_counter(ret, e->name), ld64(&e->value));
        } else if (e->kind == KIND_HIST && e->hist < r->max_hists) {
            struct stats_hist *dst = stats_histogram(ret, e->name);

            if (dst != NULL)
                hist_fold(dst, &area_hists(r)[e->hist]);
        }
        /* gauges describe the dead worker's state: dropped */
    }
    add64(&ret->overflow, ld64(&r->overflow));

    /* Zero what the worker touched, plus an entry it may have been writing when it
     * died; pages it never touched stay untouched. */
    n_hists = MESH_MIN(__atomic_load_n(&r->n_hists, __ATOMIC_RELAXED), r->max_hists);
    memset(es, 0, (size_t) MESH_MIN(n + 1, r->max_entries) * sizeof(*es));
    memset(area_hists(r), 0, (size_t) n_hists * sizeof(struct stats_hist));
    __atomic_store_n(&r->count, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&r->n_hists, 0, __ATOMIC_RELAXED);
    st64(&r->overflow, 0);
    r->in_use = 0;
    __atomic_store_n(&r->gen, ++gen_seq, __ATOMIC_RELAXED);
}

/* ---- the master's view: every name summed over the areas ---- */

static int
ref_cmp(const void *pa, const void *pb)
{
    const struct ref *a = pa, *b = pb;
    int c = strcmp(a->name, b->name);

    if (c != 0)
        return c;
    return (a->kind > b->kind) - (a->kind < b->kind);
}

static uint64_t
shm_overflow(const struct stats_shm *shm)
{
    uint64_t n = 0;

    for (unsigned i = 0; i <= shm->n_regions; i++)
        n += ld64(&shm_area(shm, i)->overflow);
    return n;
}

/* Fills *ret_aggs with one item per (name, kind), sorted by name then kind, including
 * the synthetic stats/overflow counter. Returns the count; free with view_free(). */
static size_t
view_collect(const struct stats_shm *shm, struct agg **ret_aggs)
{
    unsigned n_areas = shm->n_regions + 1;
    uint32_t *counts = xcalloc(n_areas, sizeof(*counts));
    size_t n_refs = 1, k = 0, n_aggs = 0;
    struct ref *refs;
    struct agg *aggs;

    for (unsigned i = 0; i < n_areas; i++) {
        counts[i] = area_count(shm_area(shm, i));
        n_refs += counts[i];
    }
    refs = xcalloc(n_refs, sizeof(*refs));
    for (unsigned i = 0; i < n_areas; i++) {
        const struct stats_region *a = shm_area(shm, i);
        const struct entry *es = area_entries(a);

        for (uint32_t j = 0; j < counts[i]; j++) {
            const struct entry *e = &es[j];

            if (memchr(e->name, '\0', STATS_NAME_MAX) == NULL || e->kind == KIND_NONE ||
                e->kind > KIND_HIST || (e->kind == KIND_HIST && e->hist >= a->max_hists))
                continue;
            refs[k++] = (struct ref){e->name, e->kind, e, a};
        }
    }
    refs[k++] = (struct ref){OVERFLOW_NAME, KIND_COUNTER, NULL, NULL};
    free(counts);
    qsort(refs, k, sizeof(*refs), ref_cmp);

    aggs = xcalloc(k, sizeof(*aggs));
    for (size_t i = 0; i < k; i++) {
        const struct ref *rf = &refs[i];
        struct agg *g;

        if (n_aggs == 0 || ref_cmp(rf, &refs[i - 1]) != 0) {
            g = &aggs[n_aggs++];
            g->name = rf->name;
            g->kind = rf->kind;
            if (g->kind == KIND_HIST) {
                g->h = xmalloc(sizeof(*g->h));
                hsum_init(g->h);
            }
        }
        g = &aggs[n_aggs - 1];
        if (rf->e == NULL)
            g->counter += shm_overflow(shm);
        else if (rf->kind == KIND_COUNTER)
            g->counter += ld64(&rf->e->value);
        else if (rf->kind == KIND_GAUGE)
            g->gauge += (int64_t) ld64(&rf->e->value);
        else
            hsum_add(g->h, &area_hists(rf->a)[rf->e->hist]);
    }
    free(refs);
    *ret_aggs = aggs;
    return n_aggs;
}

static void
view_free(struct agg *aggs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(aggs[i].h);
    free(aggs);
}

/* True when aggs[i] repeats the previous item's name with another kind: such clashes
 * across workers render once, under the first kind (counter, gauge, histogram). */
static bool
view_shadowed(const struct agg *aggs, size_t i)
{
    return i > 0 && strcmp(aggs[i].name, aggs[i - 1].name) == 0;
}

void
stats_shm_rotate(struct stats_shm *shm)
{
    struct agg *aggs;
    size_t n = view_collect(shm, &aggs), n_snaps = 0;
    struct snap *snaps;

    for (size_t i = 0; i < n; i++)
        n_snaps += aggs[i].kind == KIND_HIST;
    snaps = n_snaps > 0 ? xcalloc(n_snaps, sizeof(*snaps)) : NULL;
    n_snaps = 0;
    for (size_t i = 0; i < n; i++) {
        struct snap *s;

        if (aggs[i].kind != KIND_HIST)
            continue;
        /* aggs are sorted by name, so snaps are too (a name clash keeps both; bsearch
         * finds one, which is as good as the render that shows one) */
        s = &snaps[n_snaps++];
        (void) snprintf(s->name, sizeof(s->name), "%s", aggs[i].name);
        s->count = aggs[i].h->count;
        s->sum = aggs[i].h->sum;
        s->n = aggs[i].h->n;
        memcpy(s->b, aggs[i].h->b, sizeof(s->b));
    }
    view_free(aggs, n);
    free(shm->snaps);
    shm->snaps = snaps;
    shm->n_snaps = n_snaps;
}

static bool
read_sum(const struct stats_shm *shm, const char *name, unsigned kind, uint64_t *ret_value)
{
    size_t len = strnlen(name, STATS_NAME_MAX - 1);
    uint64_t v = 0;
    bool found = false;

    for (unsigned i = 0; i <= shm->n_regions; i++) {
        const struct stats_region *a = shm_area(shm, i);
        const struct entry *es = area_entries(a);
        uint32_t n = area_count(a);

        for (uint32_t j = 0; j < n; j++) {
            if (es[j].kind == kind && entry_name_eq(&es[j], name, len)) {
                v += ld64(&es[j].value);
                found = true;
            }
        }
    }
    if (kind == KIND_COUNTER && strcmp(name, OVERFLOW_NAME) == 0) {
        v += shm_overflow(shm);
        found = true;
    }
    if (found)
        *ret_value = v;
    return found;
}

bool
stats_read_counter(struct stats_shm *shm, const char *name, uint64_t *ret_value)
{
    return read_sum(shm, name, KIND_COUNTER, ret_value);
}

bool
stats_read_gauge(struct stats_shm *shm, const char *name, int64_t *ret_value)
{
    uint64_t v;

    if (!read_sum(shm, name, KIND_GAUGE, &v))
        return false;
    *ret_value = (int64_t) v; /* two's complement sum */
    return true;
}

/* ---- rendering ---- */

#define NUM_MAX 32 /* bytes for a formatted number */

static void
fmt_u64(char *buf, uint64_t v)
{
    (void) snprintf(buf, NUM_MAX, "%" PRIu64, v);
}

static void
fmt_i64(char *buf, int64_t v)
{
    (void) snprintf(buf, NUM_MAX, "%" PRId64, v);
}

/* <us> in milliseconds: an integer when whole, else up to 3 decimals. */
static void
fmt_ms(char *buf, uint64_t us)
{
    unsigned frac = (unsigned) (us % 1000), digits = 3;

    if (frac == 0) {
        fmt_u64(buf, us / 1000);
        return;
    }
    while (frac % 10 == 0) {
        frac /= 10;
        digits--;
    }
    (void) snprintf(buf, NUM_MAX, "%" PRIu64 ".%0*u", us / 1000, (int) digits, frac);
}

static void
hist_out(const struct stats_shm *shm, const struct agg *g, struct hout *o)
{
    hist_summarize(g->h, snap_find(shm, g->name), o);
}

struct kv {
    size_t key_off; /* into the key pool, NUL-terminated */
    char val[NUM_MAX];
};

struct kv_list {
    struct strbuf pool; /* keys, each followed by a NUL */
    struct kv *items;
    size_t n, cap;
};

static struct kv *
kv_add(struct kv_list *l, const char *name, const char *suffix)
{
    struct kv *kv;

    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->items = xrealloc(l->items, l->cap * sizeof(*l->items));
    }
    kv = &l->items[l->n++];
    kv->key_off = l->pool.len;
    strbuf_adds(&l->pool, name);
    strbuf_adds(&l->pool, suffix);
    strbuf_addc(&l->pool, '\0');
    return kv;
}

static const char *kv_sort_pool; /* qsort has no context argument in C11 */

static int
kv_cmp(const void *pa, const void *pb)
{
    const struct kv *a = pa, *b = pb;

    return strcmp(kv_sort_pool + a->key_off, kv_sort_pool + b->key_off);
}

void
stats_render_json(struct stats_shm *shm, struct strbuf *out)
{
    struct kv_list l = {STRBUF_INIT, NULL, 0, 0};
    struct agg *aggs;
    size_t n = view_collect(shm, &aggs);

    for (size_t i = 0; i < n; i++) {
        const struct agg *g = &aggs[i];
        struct hout o;

        if (view_shadowed(aggs, i))
            continue;
        if (g->kind == KIND_COUNTER) {
            fmt_u64(kv_add(&l, g->name, "")->val, g->counter);
        } else if (g->kind == KIND_GAUGE) {
            fmt_i64(kv_add(&l, g->name, "")->val, g->gauge);
        } else {
            hist_out(shm, g, &o);
            fmt_u64(kv_add(&l, g->name, ".count")->val, o.count);
            fmt_ms(kv_add(&l, g->name, ".sum")->val, o.sum);
            fmt_ms(kv_add(&l, g->name, ".avg")->val, o.avg);
            if (o.count == 0 || !o.have)
                continue;
            fmt_ms(kv_add(&l, g->name, ".min")->val, o.min);
            fmt_ms(kv_add(&l, g->name, ".max")->val, o.max);
            for (unsigned k = 0; k < N_PCTS; k++)
                fmt_ms(kv_add(&l, g->name, pct_json[k])->val, o.p[k]);
        }
    }
    view_free(aggs, n);

    kv_sort_pool = strbuf_str(&l.pool);
    if (l.n > 1)
        qsort(l.items, l.n, sizeof(*l.items), kv_cmp);
    strbuf_addc(out, '{');
    for (size_t i = 0; i < l.n; i++) {
        const char *key = kv_sort_pool + l.items[i].key_off;

        if (i > 0)
            strbuf_addc(out, ',');
        strbuf_add_json_str(out, key, strlen(key));
        strbuf_addc(out, ':');
        strbuf_adds(out, l.items[i].val);
    }
    strbuf_addc(out, '}');
    kv_sort_pool = NULL;
    free(l.items);
    strbuf_fini(&l.pool);
}

/* -- Prometheus -- */

/* Metric leaves the proxy registers under rt/<r>/{server,service,client}/<id>/. */
static const char *const prom_leaves[] = {
    "requests",
    "success",
    "failures",
    "connections",
    "connects",
    "pending",
    "request_latency_ms",
    "sent_bytes",
    "received_bytes",
    "loadbalancer/size",
    "loadbalancer/available",
    "failure_accrual/removals",
    "failure_accrual/revivals",
    "failure_accrual/removed",
    "closes",
};

/* Leaves ending in one more path element, which becomes a label. */
static const struct {
    const char *prefix; /* with its trailing '/' */
    const char *label;
} prom_wild_leaves[] = {
    {"status/", "status"},
    {"failures/", "exception"},
    {"requests_rejected/", "reason"},
    {"loadbalancer/endpoint_load/", "endpoint"},
    {"loadbalancer/endpoint_idle/", "endpoint"},
    {"loadbalancer/endpoint_removed/", "endpoint"},
    {"loadbalancer/endpoint_present/", "endpoint"},
};

static const char *const prom_scopes[][2] = {
    /* path element, label */
    {"server", "server"},
    {"service", "service"},
    {"client", "client"},
};

struct prom_leaf {
    size_t base_len;   /* bytes of the leaf that name the metric */
    const char *label; /* NULL, or the label the last element becomes */
    const char *value; /* label value, to the end of the string */
};

static bool
status_ok(const char *s)
{
    /* 200, 2XX */
    return strlen(s) == 3 && s[0] >= '0' && s[0] <= '9' &&
           ((s[1] >= '0' && s[1] <= '9') || s[1] == 'X') &&
           ((s[2] >= '0' && s[2] <= '9') || s[2] == 'X');
}

static bool
prom_match_leaf(const char *leaf, struct prom_leaf *ret)
{
    for (size_t i = 0; i < ARRAY_SIZE(prom_leaves); i++) {
        if (strcmp(leaf, prom_leaves[i]) == 0) {
            *ret = (struct prom_leaf){strlen(leaf), NULL, NULL};
            return true;
        }
    }
    for (size_t i = 0; i < ARRAY_SIZE(prom_wild_leaves); i++) {
        size_t plen = strlen(prom_wild_leaves[i].prefix);
        const char *v = leaf + plen;

        if (strncmp(leaf, prom_wild_leaves[i].prefix, plen) != 0 || *v == '\0' ||
            strchr(v, '/') != NULL)
            continue;
        if (i == 0 && !status_ok(v))
            continue;
        *ret = (struct prom_leaf){plen - 1, prom_wild_leaves[i].label, v};
        return true;
    }
    return false;
}

/* Appends <s> (<len> bytes) as metric-name characters: [a-zA-Z0-9_:] stay, '/' becomes
 * <slash>, anything else '_'. */
static void
prom_add_name(struct strbuf *sb, const char *s, size_t len, char slash)
{
    for (size_t i = 0; i < len; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == ':'))
            c = c == '/' ? slash : '_';
        strbuf_addc(sb, c);
    }
}

static void
prom_add_label(struct strbuf *sb, const char *key, const char *v, size_t len)
{
    if (sb->len > 0 && sb->s[sb->len - 1] != '\0')
        strbuf_adds(sb, ", ");
    strbuf_adds(sb, key);
    strbuf_adds(sb, "=\"");
    for (size_t i = 0; i < len; i++) {
        if (v[i] == '\\')
            strbuf_adds(sb, "\\\\");
        else if (v[i] == '"')
            strbuf_adds(sb, "\\\"");
        else if (v[i] == '\n')
            strbuf_adds(sb, "\\n");
        else
            strbuf_addc(sb, v[i]);
    }
    strbuf_addc(sb, '"');
}

/* Linkerd's mapping of rt/<r>/<scope>/<id>/<leaf>: appends the family name, a NUL, the
 * labels and a NUL to <pool>. False, with <pool> untouched, when <name> does not fit. */
static bool
prom_map_labeled(struct strbuf *pool, const char *name)
{
    const char *router, *scope, *rest, *slash;
    struct prom_leaf leaf;
    size_t router_len, i;

    if (strncmp(name, "rt/", 3) != 0)
        return false;
    router = name + 3;
    slash = strchr(router, '/');
    if (slash == NULL || slash == router)
        return false;
    router_len = (size_t) (slash - router);
    scope = slash + 1;
    for (i = 0; i < ARRAY_SIZE(prom_scopes); i++) {
        size_t slen = strlen(prom_scopes[i][0]);

        if (strncmp(scope, prom_scopes[i][0], slen) == 0 && scope[slen] == '/')
            break;
    }
    if (i == ARRAY_SIZE(prom_scopes))
        return false;
    rest = scope + strlen(prom_scopes[i][0]) + 1;
    /* The id may hold '/' too: the leftmost split whose tail is a known leaf wins, so
     * the longest leaf is taken. */
    for (slash = strchr(rest, '/'); slash != NULL; slash = strchr(slash + 1, '/')) {
        if (slash > rest && prom_match_leaf(slash + 1, &leaf))
            break;
    }
    if (slash == NULL)
        return false;

    strbuf_adds(pool, "rt:");
    strbuf_adds(pool, prom_scopes[i][0]);
    strbuf_addc(pool, ':');
    prom_add_name(pool, slash + 1, leaf.base_len, ':');
    strbuf_addc(pool, '\0');
    prom_add_label(pool, "rt", router, router_len);
    prom_add_label(pool, prom_scopes[i][1], rest, (size_t) (slash - rest));
    if (leaf.label != NULL)
        prom_add_label(pool, leaf.label, leaf.value, strlen(leaf.value));
    strbuf_addc(pool, '\0');
    return true;
}

static void
prom_map(struct strbuf *pool, const char *name)
{
    if (prom_map_labeled(pool, name))
        return;
    if (name[0] >= '0' && name[0] <= '9')
        strbuf_addc(pool, '_'); /* names may not start with a digit */
    prom_add_name(pool, name, strlen(name), '_');
    if (name[0] == '\0')
        strbuf_addc(pool, '_');
    strbuf_addc(pool, '\0');
    strbuf_addc(pool, '\0'); /* no labels */
}

struct series {
    size_t fam_off; /* into the pool; labels follow the family's NUL */
    const struct agg *g;
    struct hout o; /* KIND_HIST */
};

static const char *series_pool;

static const char *
series_labels(const struct series *s)
{
    const char *fam = series_pool + s->fam_off;

    return fam + strlen(fam) + 1;
}

static int
series_cmp(const void *pa, const void *pb)
{
    const struct series *a = pa, *b = pb;
    const char *fa = series_pool + a->fam_off, *fb = series_pool + b->fam_off;
    int c = strcmp(fa, fb);

    if (c != 0)
        return c;
    return strcmp(fa + strlen(fa) + 1, fb + strlen(fb) + 1);
}

static void
prom_line(struct strbuf *out, const char *fam, const char *suffix, const char *labels,
          const char *quantile, const char *val)
{
    strbuf_adds(out, fam);
    strbuf_adds(out, suffix);
    if (labels[0] != '\0' || quantile != NULL) {
        strbuf_addc(out, '{');
        strbuf_adds(out, labels);
        if (quantile != NULL)
            strbuf_addf(out, "%squantile=\"%s\"", labels[0] != '\0' ? ", " : "", quantile);
        strbuf_addc(out, '}');
    }
    strbuf_addc(out, ' ');
    strbuf_adds(out, val);
    strbuf_addc(out, '\n');
}

static void
prom_value_line(struct strbuf *out, const char *fam, const char *labels, const struct agg *g)
{
    char val[NUM_MAX];

    if (g->kind == KIND_GAUGE)
        fmt_i64(val, g->gauge);
    else
        fmt_u64(val, g->counter);
    prom_line(out, fam, "", labels, NULL, val);
}

/* One family: series [from, to) share its name; the first one's kind types it. */
static void
prom_family(struct strbuf *out, const struct series *ss, size_t from, size_t to)
{
    const char *fam = series_pool + ss[from].fam_off;
    unsigned kind = ss[from].g->kind;
    char val[NUM_MAX];

    strbuf_addf(out, "# TYPE %s %s\n", fam,
                kind == KIND_COUNTER ? "counter"
                : kind == KIND_GAUGE ? "gauge"
                                     : "summary");
    for (size_t i = from; i < to; i++) {
        const char *labels = series_labels(&ss[i]);
        const struct hout *o = &ss[i].o;

        if (ss[i].g->kind != KIND_HIST) {
            prom_value_line(out, fam, labels, ss[i].g);
            continue;
        }
        if (o->count > 0 && o->have) {
            fmt_ms(val, o->min);
            prom_line(out, fam, "", labels, "0", val);
            for (unsigned k = 0; k < N_PCTS; k++) {
                fmt_ms(val, o->p[k]);
                prom_line(out, fam, "", labels, pct_prom[k], val);
            }
            fmt_ms(val, o->max);
            prom_line(out, fam, "", labels, "1", val);
        }
        fmt_ms(val, o->sum);
        prom_line(out, fam, "_sum", labels, NULL, val);
        fmt_u64(val, o->count);
        prom_line(out, fam, "_count", labels, NULL, val);
    }
    if (kind != KIND_HIST)
        return;
    /* not part of a summary: its own gauge family */
    strbuf_addf(out, "# TYPE %s_avg gauge\n", fam);
    for (size_t i = from; i < to; i++) {
        if (ss[i].g->kind != KIND_HIST)
            continue;
        fmt_ms(val, ss[i].o.avg);
        prom_line(out, fam, "_avg", series_labels(&ss[i]), NULL, val);
    }
}

void
stats_render_prometheus(struct stats_shm *shm, struct strbuf *out)
{
    struct strbuf pool = STRBUF_INIT;
    struct series *ss;
    struct agg *aggs;
    size_t n = view_collect(shm, &aggs), n_ss = 0;

    ss = xcalloc(n, sizeof(*ss));
    for (size_t i = 0; i < n; i++) {
        struct series *s;

        if (view_shadowed(aggs, i))
            continue;
        s = &ss[n_ss++];
        s->g = &aggs[i];
        s->fam_off = pool.len;
        prom_map(&pool, aggs[i].name);
        if (aggs[i].kind == KIND_HIST)
            hist_out(shm, &aggs[i], &s->o);
    }
    series_pool = strbuf_str(&pool);
    qsort(ss, n_ss, sizeof(*ss), series_cmp);
    for (size_t i = 0, j; i < n_ss; i = j) {
        const char *fam = series_pool + ss[i].fam_off;

        for (j = i + 1; j < n_ss && strcmp(series_pool + ss[j].fam_off, fam) == 0; j++)
            ;
        prom_family(out, ss, i, j);
    }
    series_pool = NULL;
    free(ss);
    view_free(aggs, n);
    strbuf_fini(&pool);
}
