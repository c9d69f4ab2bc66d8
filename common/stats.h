/* common/stats.h - the stats registry: counters, gauges and latency histograms in
 * shared memory, written by workers without locks and summed by the master.
 *
 * The master maps one shared region set before forking (stats_shm_new) and hands each
 * worker process a region of its own (stats_shm_claim). Only that worker writes its
 * region: it appends named entries and updates their values with relaxed atomic
 * stores, so the master reads a consistent-enough view at any time without stopping
 * anyone. When a worker exits, the master folds its counters and histograms into the
 * "retired" totals and zeroes its gauges (stats_shm_release), so figures are sums over
 * all workers that ever ran and survive a worker restart.
 *
 * Names are Linkerd's metric paths ("rt/outgoing/server/127.0.0.1/4140/requests").
 * Histogram values are recorded in microseconds and exported in milliseconds, as
 * Linkerd's request_latency_ms: <name>.count .sum .avg .min .max .p50 .p90 .p95 .p99
 * .p9990 .p9999. Percentiles are computed from log-linear buckets (relative error
 * under 3.2%). */
#ifndef MESH_COMMON_STATS_H
#define MESH_COMMON_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct strbuf;
struct stats_shm;
struct stats_region;
struct stats_hist;

#define STATS_NAME_MAX 192 /* bytes, including the NUL; longer names are truncated */

/* Maps <n_regions> writer regions of <max_entries> entries and <max_hists> histograms
 * each, MAP_SHARED so forked children share it. Start-up only: NULL on failure. */
struct stats_shm *stats_shm_new(unsigned n_regions, unsigned max_entries, unsigned max_hists);
void stats_shm_free(struct stats_shm *shm);
/* Bytes of one writer region (a page multiple): its entry table and histogram pool.
 * Pages are touched only as entries and histograms are used, so a worker's resident
 * share is usually far smaller. For start-up logs and tests. */
size_t stats_shm_region_size(const struct stats_shm *shm);

/* Master: picks a free region for a new worker (before fork) and marks it used.
 * Returns the region index, or -ENOSPC when all are taken. */
int stats_shm_claim(struct stats_shm *shm);
/* Master: the worker that had region <idx> is gone: fold counters and histograms into
 * the retired totals, forget its gauges, and mark the region free. */
void stats_shm_release(struct stats_shm *shm, int idx);

/* Worker: its region (borrowed from the mapping). */
struct stats_region *stats_shm_region(struct stats_shm *shm, int idx);

/* Worker: find-or-create. Return a pointer to the value cell, stable for the life of
 * the region, or NULL when the region is full (the caller then counts nothing; the
 * region also counts how many names did not fit, exported as "stats/overflow"). Asking
 * for an existing name with another kind is a caller bug: NULL, counted the same way.
 * Creating scans the worker's own index, so callers look names up once and keep the
 * pointer (per router, per service, per client), not per request. */
uint64_t *stats_counter(struct stats_region *r, const char *name);
int64_t *stats_gauge(struct stats_region *r, const char *name);
struct stats_hist *stats_histogram(struct stats_region *r, const char *name);

/* Hot-path updates. NULL cells are ignored so a full region costs nothing else. */
static inline void
stats_inc(uint64_t *cell, uint64_t n)
{
    if (cell)
        __atomic_store_n(cell, __atomic_load_n(cell, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

static inline void
stats_gauge_add(int64_t *cell, int64_t n)
{
    if (cell)
        __atomic_store_n(cell, __atomic_load_n(cell, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

void stats_hist_record(struct stats_hist *h, uint64_t value_us);

/* Master: all values summed over live regions and the retired totals. Histogram
 * percentiles cover what was recorded since the previous stats_shm_rotate() call's
 * window (the master rotates every <window> seconds, 60 as Linkerd does); counts and
 * sums are cumulative. */
void stats_shm_rotate(struct stats_shm *shm);

/* Master: renders every metric, sorted by name.
 * JSON: a flat object {"name": number, ...} like Linkerd's /admin/metrics.json.
 * Prometheus: text exposition format 0.0.4 with Linkerd's label mapping
 * (rt:server:requests{rt="outgoing",server="0.0.0.0/4140"} ...). */
void stats_render_json(struct stats_shm *shm, struct strbuf *out);
void stats_render_prometheus(struct stats_shm *shm, struct strbuf *out);

/* Master or tests: reads one summed value by name; returns false when absent. */
bool stats_read_counter(struct stats_shm *shm, const char *name, uint64_t *ret_value);
bool stats_read_gauge(struct stats_shm *shm, const char *name, int64_t *ret_value);

#endif
