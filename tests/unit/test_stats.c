/* tests/unit/test_stats.c - the shared-memory stats registry: find-or-create, counters,
 * gauges, histogram percentiles and windows, folding of released regions, overflow,
 * the JSON and Prometheus renders, and a reader racing forked writers. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/stats.h"
#include "common/strbuf.h"
#include "tests/lib/check_main.h"

static struct stats_shm *shm; /* checked fixture: 3 regions of 1024 entries, 16 histograms */

static void
setup(void)
{
    shm = stats_shm_new(3, 1024, 16);
    ck_assert_ptr_nonnull(shm);
}

static void
teardown(void)
{
    stats_shm_free(shm);
    shm = NULL;
}

static struct stats_region *
claim(struct stats_shm *s)
{
    int idx = stats_shm_claim(s);

    ck_assert_int_ge(idx, 0);
    return stats_shm_region(s, idx);
}

static char *
render_json(struct stats_shm *s)
{
    struct strbuf sb = STRBUF_INIT;

    stats_render_json(s, &sb);
    return strbuf_steal(&sb);
}

static char *
render_prom(struct stats_shm *s)
{
    struct strbuf sb = STRBUF_INIT;

    stats_render_prometheus(s, &sb);
    return strbuf_steal(&sb);
}

/* Value of "<key>": in a flat JSON object; false when absent. */
static bool
json_num(const char *json, const char *key, double *ret)
{
    char pat[STATS_NAME_MAX + 16];
    const char *p;

    (void) snprintf(pat, sizeof(pat), "\"%s\":", key);
    p = strstr(json, pat);
    if (p == NULL)
        return false;
    *ret = strtod(p + strlen(pat), NULL);
    return true;
}

static double
json_get(const char *json, const char *key)
{
    double v = -1;

    ck_assert_msg(json_num(json, key, &v), "missing %s in %s", key, json);
    return v;
}

static uint64_t
read_counter(struct stats_shm *s, const char *name)
{
    uint64_t v = 0;

    ck_assert_msg(stats_read_counter(s, name, &v), "no counter %s", name);
    return v;
}

static uint64_t rng_state = 88172645463325252ull; /* xorshift64: runs are reproducible */

static uint64_t
rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static int
u64_cmp(const void *pa, const void *pb)
{
    uint64_t a = *(const uint64_t *) pa, b = *(const uint64_t *) pb;

    return (a > b) - (a < b);
}

static unsigned
count_substr(const char *s, const char *sub)
{
    unsigned n = 0;

    for (const char *p = strstr(s, sub); p != NULL; p = strstr(p + 1, sub))
        n++;
    return n;
}

/* ---- counters ---- */

START_TEST(test_stats_counters_find_or_create)
{
    struct stats_region *r0 = claim(shm), *r1 = claim(shm);
    uint64_t *c = stats_counter(r0, "rt/in/server/127.0.0.1/80/requests"), v = 42;

    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_eq(stats_counter(r0, "rt/in/server/127.0.0.1/80/requests"), c);
    stats_inc(c, 3);
    stats_inc(c, 1);
    stats_inc(NULL, 1); /* a full region's NULL cell costs nothing */
    ck_assert_uint_eq(read_counter(shm, "rt/in/server/127.0.0.1/80/requests"), 4);

    stats_inc(stats_counter(r1, "rt/in/server/127.0.0.1/80/requests"), 10);
    ck_assert_uint_eq(read_counter(shm, "rt/in/server/127.0.0.1/80/requests"), 14);

    ck_assert(!stats_read_counter(shm, "absent", &v));
    ck_assert_uint_eq(v, 42); /* untouched */
    ck_assert_ptr_null(stats_counter(NULL, "x"));
    ck_assert_ptr_null(stats_shm_region(shm, 3));
    ck_assert_ptr_null(stats_shm_region(shm, -1));
}
END_TEST

START_TEST(test_stats_counters_many_names)
{
    struct stats_region *r = claim(shm);
    uint64_t *cells[1000];
    char name[64];

    for (unsigned i = 0; i < 1000; i++) {
        (void) snprintf(name, sizeof(name), "rt/r/client/$/inet/10.0.%u.%u/80/requests", i / 256,
                        i % 256);
        cells[i] = stats_counter(r, name);
        ck_assert_ptr_nonnull(cells[i]);
        stats_inc(cells[i], i);
    }
    for (unsigned i = 0; i < 1000; i++) {
        (void) snprintf(name, sizeof(name), "rt/r/client/$/inet/10.0.%u.%u/80/requests", i / 256,
                        i % 256);
        ck_assert_ptr_eq(stats_counter(r, name), cells[i]);
        ck_assert_uint_eq(read_counter(shm, name), i);
    }
}
END_TEST

/* ---- gauges ---- */

START_TEST(test_stats_gauges_sum_and_release)
{
    struct stats_region *r0 = claim(shm), *r1 = claim(shm);
    int64_t *g0 = stats_gauge(r0, "rt/in/server/127.0.0.1/80/connections"), v = 0;

    stats_gauge_add(g0, 5);
    stats_gauge_add(g0, -8);
    stats_gauge_add(NULL, 1);
    ck_assert(stats_read_gauge(shm, "rt/in/server/127.0.0.1/80/connections", &v));
    ck_assert_int_eq(v, -3);
    stats_gauge_add(stats_gauge(r1, "rt/in/server/127.0.0.1/80/connections"), 10);
    ck_assert(stats_read_gauge(shm, "rt/in/server/127.0.0.1/80/connections", &v));
    ck_assert_int_eq(v, 7);

    /* a dead worker's gauges describe nothing any more */
    stats_shm_release(shm, 1);
    ck_assert(stats_read_gauge(shm, "rt/in/server/127.0.0.1/80/connections", &v));
    ck_assert_int_eq(v, -3);
    stats_shm_release(shm, 0);
    ck_assert(!stats_read_gauge(shm, "rt/in/server/127.0.0.1/80/connections", &v));
}
END_TEST

/* ---- histograms ---- */

/* Records <n> values, spread over regions 0 and 1 and a third region released before
 * the render (so the retired totals take part), and checks every exported statistic
 * against the exact nearest-rank values. */
static void
check_percentiles(uint64_t *vals, size_t n)
{
    static const char *const sfx[] = {"p50", "p90", "p95", "p99", "p9990", "p9999"};
    static const uint32_t ppm[] = {500000, 900000, 950000, 990000, 999000, 999900};
    struct stats_region *rs[3] = {claim(shm), claim(shm), claim(shm)};
    struct stats_hist *hs[3];
    uint64_t sum = 0;
    char key[128], *json;

    for (unsigned i = 0; i < 3; i++) {
        hs[i] = stats_histogram(rs[i], "rt/in/service/svc/request_latency_ms");
        ck_assert_ptr_nonnull(hs[i]);
    }
    for (size_t i = 0; i < n; i++) {
        stats_hist_record(hs[i % 3], vals[i]);
        sum += vals[i];
    }
    stats_shm_release(shm, 2);
    qsort(vals, n, sizeof(*vals), u64_cmp);

    json = render_json(shm);
    ck_assert_double_eq(json_get(json, "rt/in/service/svc/request_latency_ms.count"), n);
    ck_assert_double_eq_tol(json_get(json, "rt/in/service/svc/request_latency_ms.sum"),
                            sum / 1000.0, 1e-6 * (sum / 1000.0) + 0.0005);
    ck_assert_double_eq_tol(json_get(json, "rt/in/service/svc/request_latency_ms.min"),
                            vals[0] / 1000.0, 1e-9);
    ck_assert_double_eq_tol(json_get(json, "rt/in/service/svc/request_latency_ms.max"),
                            vals[n - 1] / 1000.0, 1e-9 * vals[n - 1]);
    for (unsigned k = 0; k < 6; k++) {
        uint64_t rank = (n * ppm[k] + 999999) / 1000000;
        double exact = vals[rank - 1] / 1000.0, got;

        (void) snprintf(key, sizeof(key), "rt/in/service/svc/request_latency_ms.%s", sfx[k]);
        got = json_get(json, key);
        /* 3.2%, plus the 0.5 us that the render's rounding to whole us may add */
        ck_assert_msg(got >= exact * (1 - 0.032) - 0.0005 && got <= exact * (1 + 0.032) + 0.0005,
                      "%s: got %f, exact %f", sfx[k], got, exact);
    }
    free(json);
}

START_TEST(test_stats_histograms_percentiles_log_uniform)
{
    size_t n = 100000;
    uint64_t *vals = malloc(n * sizeof(*vals));

    ck_assert_ptr_nonnull(vals);
    for (size_t i = 0; i < n; i++) {
        unsigned e = (unsigned) (rng() % 30);

        vals[i] = (1ull << e) + rng() % (1ull << e); /* 1 us .. 36 min */
    }
    check_percentiles(vals, n);
    free(vals);
}
END_TEST

START_TEST(test_stats_histograms_percentiles_narrow)
{
    size_t n = 20000;
    uint64_t *vals = malloc(n * sizeof(*vals));

    ck_assert_ptr_nonnull(vals);
    /* bimodal around 1 ms and 250 ms, with a tail of exact small values */
    for (size_t i = 0; i < n; i++) {
        if (i % 100 == 0)
            vals[i] = rng() % 16;
        else if (i % 3 == 0)
            vals[i] = 250000 + rng() % 5000;
        else
            vals[i] = 900 + rng() % 200;
    }
    check_percentiles(vals, n);
    free(vals);
}
END_TEST

START_TEST(test_stats_histograms_edges)
{
    struct stats_region *r = claim(shm);
    struct stats_hist *h = stats_histogram(r, "edge_ms");
    char *json;

    ck_assert_ptr_eq(stats_histogram(r, "edge_ms"), h);
    stats_hist_record(NULL, 5);
    stats_hist_record(h, 0);
    stats_hist_record(h, 15);
    stats_hist_record(h, 16);
    stats_hist_record(h, (1ull << 40) - 1);
    stats_hist_record(h, 1ull << 40);
    stats_hist_record(h, 1ull << 50); /* beyond the buckets: last bucket, exact max */
    json = render_json(shm);
    ck_assert_double_eq(json_get(json, "edge_ms.count"), 6);
    ck_assert_double_eq(json_get(json, "edge_ms.min"), 0);
    ck_assert_double_eq_tol(json_get(json, "edge_ms.max"), (double) (1ull << 50) / 1000, 0.01);
    ck_assert_double_eq(json_get(json, "edge_ms.p50"), 0.016); /* rank 3: 16 us, exact */
    ck_assert(json_get(json, "edge_ms.p9999") <= (double) (1ull << 50) / 1000);
    ck_assert(json_get(json, "edge_ms.p9999") >= (double) (1ull << 40) / 1000 * 0.968);
    free(json);
}
END_TEST

START_TEST(test_stats_histograms_window)
{
    struct stats_region *r = claim(shm);
    struct stats_hist *h = stats_histogram(r, "w/request_latency_ms");
    char *json;

    for (int i = 0; i < 1000; i++)
        stats_hist_record(h, 1000);
    stats_shm_rotate(shm);
    /* the window since the rotation holds only the slow requests */
    for (int i = 0; i < 10; i++)
        stats_hist_record(h, 50000);
    json = render_json(shm);
    ck_assert_double_eq(json_get(json, "w/request_latency_ms.count"), 1010); /* cumulative */
    ck_assert_double_eq(json_get(json, "w/request_latency_ms.sum"), 1500);   /* cumulative */
    ck_assert_double_eq(json_get(json, "w/request_latency_ms.avg"), 50);
    ck_assert_double_eq_tol(json_get(json, "w/request_latency_ms.p50"), 50, 50 * 0.032);
    ck_assert_double_eq_tol(json_get(json, "w/request_latency_ms.min"), 50, 50 * 0.032);
    ck_assert_double_eq(json_get(json, "w/request_latency_ms.max"), 50);
    free(json);

    /* an empty window falls back to everything recorded */
    stats_shm_rotate(shm);
    json = render_json(shm);
    ck_assert_double_eq_tol(json_get(json, "w/request_latency_ms.p50"), 1, 0.032);
    ck_assert_double_eq(json_get(json, "w/request_latency_ms.min"), 1);
    ck_assert_double_eq(json_get(json, "w/request_latency_ms.max"), 50);
    ck_assert_double_eq_tol(json_get(json, "w/request_latency_ms.avg"), 1500.0 / 1010, 0.001);
    free(json);

    /* a released region's samples move to the retired totals: the window sees no jump */
    stats_hist_record(h, 7000);
    stats_shm_release(shm, 0);
    json = render_json(shm);
    ck_assert_double_eq(json_get(json, "w/request_latency_ms.count"), 1011);
    ck_assert_double_eq_tol(json_get(json, "w/request_latency_ms.p50"), 7, 7 * 0.032);
    free(json);
}
END_TEST

/* ---- release and fold ---- */

START_TEST(test_stats_release_folds_and_reclaims)
{
    struct stats_region *r = claim(shm);
    struct stats_hist *h;
    uint64_t *c;
    char *json;
    int64_t g;

    stats_inc(stats_counter(r, "a/requests"), 5);
    stats_inc(stats_counter(r, "b/requests"), 1);
    stats_gauge_add(stats_gauge(r, "a/pending"), 3);
    h = stats_histogram(r, "a/request_latency_ms");
    stats_hist_record(h, 2000);
    stats_hist_record(h, 4000);
    stats_shm_release(shm, 0);
    stats_shm_release(shm, 0); /* already free: no-op */
    stats_shm_release(shm, 7); /* out of range: no-op */

    ck_assert_uint_eq(read_counter(shm, "a/requests"), 5);
    ck_assert(!stats_read_gauge(shm, "a/pending", &g));
    json = render_json(shm);
    ck_assert_double_eq(json_get(json, "a/request_latency_ms.count"), 2);
    ck_assert_double_eq(json_get(json, "a/request_latency_ms.min"), 2);
    ck_assert_double_eq(json_get(json, "a/request_latency_ms.max"), 4);
    free(json);

    /* the freed region is handed out again, empty; lookups must not reuse stale
     * entries (the index of the previous owner is rebuilt) */
    ck_assert_int_eq(stats_shm_claim(shm), 0);
    ck_assert_ptr_eq(stats_shm_region(shm, 0), r);
    c = stats_counter(r, "b/requests");
    ck_assert_ptr_nonnull(c);
    ck_assert_uint_eq(*c, 0);
    stats_inc(c, 2);
    ck_assert_ptr_eq(stats_counter(r, "b/requests"), c);
    ck_assert_uint_eq(read_counter(shm, "b/requests"), 3);
    ck_assert_uint_eq(read_counter(shm, "a/requests"), 5);
    stats_hist_record(stats_histogram(r, "a/request_latency_ms"), 6000);
    json = render_json(shm);
    ck_assert_double_eq(json_get(json, "a/request_latency_ms.count"), 3);
    ck_assert_double_eq(json_get(json, "a/request_latency_ms.max"), 6);
    free(json);

    ck_assert_int_eq(stats_shm_claim(shm), 1);
    ck_assert_int_eq(stats_shm_claim(shm), 2);
    ck_assert_int_eq(stats_shm_claim(shm), -ENOSPC);
}
END_TEST

START_TEST(test_stats_release_many_cycles)
{
    char name[32];

    /* 20 worker lifetimes through one region: the retired totals keep growing */
    for (unsigned life = 0; life < 20; life++) {
        struct stats_region *r = claim(shm);

        for (unsigned i = 0; i < 50; i++) {
            (void) snprintf(name, sizeof(name), "n/%u", i);
            stats_inc(stats_counter(r, name), life + 1);
        }
        stats_hist_record(stats_histogram(r, "h_ms"), 1000);
        stats_shm_release(shm, 0);
    }
    ck_assert_uint_eq(read_counter(shm, "n/0"), 210);
    ck_assert_uint_eq(read_counter(shm, "n/49"), 210);
    ck_assert_uint_eq(read_counter(shm, "stats/overflow"), 0);
}
END_TEST

/* ---- overflow and limits ---- */

START_TEST(test_stats_overflow_region_full)
{
    struct stats_shm *s = stats_shm_new(1, 8, 1);
    struct stats_region *r = claim(s);
    char name[16], *json;

    for (int i = 0; i < 7; i++) {
        (void) snprintf(name, sizeof(name), "c/%d", i);
        ck_assert_ptr_nonnull(stats_counter(r, name));
    }
    ck_assert_ptr_nonnull(stats_histogram(r, "h1_ms"));
    ck_assert_ptr_null(stats_counter(r, "c/8"));     /* entries full: 1 */
    ck_assert_ptr_null(stats_histogram(r, "h2_ms")); /* 2 */
    ck_assert_ptr_null(stats_gauge(r, "c/0"));       /* kind clash: 3 */
    ck_assert_ptr_null(stats_histogram(r, "c/1"));   /* 4 */
    ck_assert_ptr_nonnull(stats_counter(r, "c/6"));  /* existing names still resolve */
    ck_assert_uint_eq(read_counter(s, "stats/overflow"), 4);
    json = render_json(s);
    ck_assert_double_eq(json_get(json, "stats/overflow"), 4);
    free(json);
    stats_shm_free(s);

    /* a histogram pool fills before the entry table */
    s = stats_shm_new(1, 8, 1);
    r = claim(s);
    ck_assert_ptr_nonnull(stats_histogram(r, "h1_ms"));
    ck_assert_ptr_null(stats_histogram(r, "h2_ms"));
    ck_assert_ptr_nonnull(stats_counter(r, "c"));
    ck_assert_uint_eq(read_counter(s, "stats/overflow"), 1);
    /* region overflow survives the worker */
    stats_shm_release(s, 0);
    ck_assert_uint_eq(read_counter(s, "stats/overflow"), 1);
    stats_shm_free(s);
}
END_TEST

START_TEST(test_stats_overflow_retired_full)
{
    struct stats_shm *s = stats_shm_new(1, 4, 1); /* retired: 8 entries, 2 histograms */
    uint64_t v;
    char name[16];

    for (int life = 0; life < 7; life++) {
        struct stats_region *r = claim(s);

        (void) snprintf(name, sizeof(name), "l%d/c", life);
        stats_inc(stats_counter(r, name), 1);
        (void) snprintf(name, sizeof(name), "l%d/h_ms", life);
        stats_hist_record(stats_histogram(r, name), 10);
        stats_shm_release(s, 0);
    }
    /* lives 0-1 fill the histogram pool, lives 2-5 then lose their histogram, life 6
     * finds the entry table full too */
    ck_assert_uint_eq(read_counter(s, "l0/c"), 1);
    ck_assert_uint_eq(read_counter(s, "l5/c"), 1);
    ck_assert(!stats_read_counter(s, "l6/c", &v));
    ck_assert_uint_eq(read_counter(s, "stats/overflow"), 6);
    stats_shm_free(s);
}
END_TEST

START_TEST(test_stats_overflow_long_names_truncate)
{
    struct stats_region *r = claim(shm);
    char long1[300], long2[300], *json;
    uint64_t *c;

    memset(long1, 'a', sizeof(long1) - 1);
    long1[sizeof(long1) - 1] = '\0';
    memcpy(long2, long1, sizeof(long2));
    long2[250] = 'b'; /* differs past the kept prefix */
    c = stats_counter(r, long1);
    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_eq(stats_counter(r, long2), c);
    stats_inc(c, 1);
    ck_assert_uint_eq(read_counter(shm, long1), 1);
    json = render_json(shm);
    long1[STATS_NAME_MAX - 1] = '\0';
    ck_assert_double_eq(json_get(json, long1), 1);
    free(json);
}
END_TEST

START_TEST(test_stats_overflow_geometry)
{
    struct stats_shm *s;

    ck_assert_ptr_null(stats_shm_new(0, 16, 1));
    ck_assert_ptr_null(stats_shm_new(1, 0, 1));
    ck_assert_ptr_null(stats_shm_new(1, 1u << 30, 1));
    stats_shm_free(NULL);

    /* the proxy's geometry: 1024 entries, 128 histograms */
    s = stats_shm_new(1, 1024, 128);
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(stats_shm_region_size(s) % (size_t) sysconf(_SC_PAGESIZE), 0);
    ck_assert_uint_le(stats_shm_region_size(s), 832 * 1024);
    stats_shm_free(s);
}
END_TEST

/* ---- JSON ---- */

START_TEST(test_stats_json_render)
{
    struct stats_region *r0 = claim(shm), *r1 = claim(shm);
    struct stats_hist *h = stats_histogram(r0, "c/request_latency_ms");
    char *json;

    stats_inc(stats_counter(r0, "b/requests"), 1);
    stats_inc(stats_counter(r1, "b/requests"), 2);
    stats_gauge_add(stats_gauge(r1, "a/pending"), -2);
    for (int i = 0; i < 4; i++)
        stats_hist_record(h, 2000);
    (void) stats_histogram(r1, "d/request_latency_ms"); /* never recorded */
    json = render_json(shm);
    ck_assert_str_eq(json, "{\"a/pending\":-2,\"b/requests\":3,"
                           "\"c/request_latency_ms.avg\":2,"
                           "\"c/request_latency_ms.count\":4,"
                           "\"c/request_latency_ms.max\":2,"
                           "\"c/request_latency_ms.min\":2,"
                           "\"c/request_latency_ms.p50\":2,"
                           "\"c/request_latency_ms.p90\":2,"
                           "\"c/request_latency_ms.p95\":2,"
                           "\"c/request_latency_ms.p99\":2,"
                           "\"c/request_latency_ms.p9990\":2,"
                           "\"c/request_latency_ms.p9999\":2,"
                           "\"c/request_latency_ms.sum\":8,"
                           "\"d/request_latency_ms.avg\":0,"
                           "\"d/request_latency_ms.count\":0,"
                           "\"d/request_latency_ms.sum\":0,"
                           "\"stats/overflow\":0}");
    free(json);
}
END_TEST

START_TEST(test_stats_json_decimals_and_escapes)
{
    struct stats_region *r = claim(shm);
    struct stats_hist *h = stats_histogram(r, "x_ms");
    char *json;

    stats_hist_record(h, 1);
    stats_hist_record(h, 1500);
    stats_hist_record(h, 1234);
    stats_inc(stats_counter(r, "we\"ird\\name"), 1);
    json = render_json(shm);
    ck_assert_ptr_nonnull(strstr(json, "\"x_ms.min\":0.001,"));
    ck_assert_ptr_nonnull(strstr(json, "\"x_ms.max\":1.5,"));
    ck_assert_ptr_nonnull(strstr(json, "\"x_ms.sum\":2.735}"));
    ck_assert_ptr_nonnull(strstr(json, "\"x_ms.avg\":0.912,"));
    ck_assert_ptr_nonnull(strstr(json, "\"we\\\"ird\\\\name\":1"));
    free(json);
}
END_TEST

/* ---- Prometheus ---- */

START_TEST(test_stats_prometheus_labels)
{
    struct stats_region *r = claim(shm), *r2 = claim(shm);
    char *p;

    stats_inc(stats_counter(r, "rt/outgoing/server/0.0.0.0/4140/requests"), 5);
    stats_inc(stats_counter(r2, "rt/outgoing/server/0.0.0.0/4140/requests"), 1);
    stats_inc(stats_counter(r, "rt/outgoing/server/0.0.0.0/4140/success"), 4);
    stats_inc(stats_counter(r, "rt/outgoing/server/127.0.0.1/4141/requests"), 2);
    stats_inc(stats_counter(r, "rt/outgoing/service/svc/world/success"), 4);
    stats_inc(stats_counter(r, "rt/outgoing/service/svc/failures/requests"), 1);
    stats_inc(stats_counter(r, "rt/outgoing/client/$/inet/127.1/9091/status/200"), 3);
    stats_inc(stats_counter(r, "rt/outgoing/client/$/inet/127.1/9091/status/2XX"), 3);
    stats_inc(stats_counter(r, "rt/outgoing/client/$/inet/127.1/9091/failures/timeout"), 1);
    stats_inc(stats_counter(r, "rt/outgoing/client/$/inet/127.1/9091/requests_rejected/full"), 6);
    stats_gauge_add(stats_gauge(r, "rt/outgoing/client/$/inet/127.1/9091/loadbalancer/size"), 2);
    stats_gauge_add(stats_gauge(r, "rt/outgoing/client/x/failure_accrual/removed"), 1);
    stats_gauge_add(stats_gauge(r, "rt/outgoing/client/x/loadbalancer/endpoint_load/127.0.0.1:80"),
                    3);
    stats_inc(stats_counter(r, "rt/outgoing/client/x/unknown_leaf"), 7);
    stats_gauge_add(stats_gauge(r, "jvm/uptime"), 9);
    stats_inc(stats_counter(r, "9lives"), 1);
    stats_inc(stats_counter(r, "rt/we\"i\\rd\n/server/1.2.3.4/80/closes"), 1);
    p = render_prom(shm);

    ck_assert_ptr_nonnull(strstr(p,
                                 "# TYPE rt:server:requests counter\n"
                                 "rt:server:requests{rt=\"outgoing\", server=\"0.0.0.0/4140\"} 6\n"
                                 "rt:server:requests{rt=\"outgoing\", server=\"127.0.0.1/4141\"} "
                                 "2\n"));
    ck_assert_uint_eq(count_substr(p, "# TYPE rt:server:requests "), 1);
    ck_assert_ptr_nonnull(
        strstr(p, "rt:server:success{rt=\"outgoing\", server=\"0.0.0.0/4140\"} 4\n"));
    ck_assert_ptr_nonnull(
        strstr(p, "rt:service:success{rt=\"outgoing\", service=\"svc/world\"} 4\n"));
    /* the longest known leaf wins */
    ck_assert_ptr_nonnull(
        strstr(p, "rt:service:failures{rt=\"outgoing\", service=\"svc\", exception=\"requests\"} "
                  "1\n"));
    ck_assert_ptr_nonnull(strstr(p, "# TYPE rt:client:status counter\n"));
    /* an endpoint's gauges: its address becomes a label */
    ck_assert_ptr_nonnull(strstr(p, "rt:client:loadbalancer:endpoint_load{rt=\"outgoing\", "
                                    "client=\"x\", endpoint=\"127.0.0.1:80\"} 3\n"));
    ck_assert_ptr_nonnull(strstr(
        p, "rt:client:status{rt=\"outgoing\", client=\"$/inet/127.1/9091\", status=\"200\"} 3\n"));
    ck_assert_ptr_nonnull(strstr(
        p, "rt:client:status{rt=\"outgoing\", client=\"$/inet/127.1/9091\", status=\"2XX\"} 3\n"));
    ck_assert_ptr_nonnull(strstr(p, "rt:client:failures{rt=\"outgoing\", "
                                    "client=\"$/inet/127.1/9091\", exception=\"timeout\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(p, "rt:client:requests_rejected{rt=\"outgoing\", "
                                    "client=\"$/inet/127.1/9091\", reason=\"full\"} 6\n"));
    ck_assert_ptr_nonnull(strstr(p, "# TYPE rt:client:loadbalancer:size gauge\n"
                                    "rt:client:loadbalancer:size{rt=\"outgoing\", "
                                    "client=\"$/inet/127.1/9091\"} 2\n"));
    ck_assert_ptr_nonnull(
        strstr(p, "rt:client:failure_accrual:removed{rt=\"outgoing\", client=\"x\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(p, "# TYPE rt_outgoing_client_x_unknown_leaf counter\n"
                                    "rt_outgoing_client_x_unknown_leaf 7\n"));
    ck_assert_ptr_nonnull(strstr(p, "# TYPE jvm_uptime gauge\njvm_uptime 9\n"));
    ck_assert_ptr_nonnull(strstr(p, "\n_9lives 1\n"));
    ck_assert_ptr_nonnull(strstr(p, "# TYPE stats_overflow counter\nstats_overflow 0\n"));
    ck_assert_ptr_nonnull(
        strstr(p, "rt:server:closes{rt=\"we\\\"i\\\\rd\\n\", server=\"1.2.3.4/80\"} 1\n"));
    free(p);
}
END_TEST

START_TEST(test_stats_prometheus_histograms)
{
    struct stats_region *r = claim(shm);
    struct stats_hist *h = stats_histogram(r, "rt/in/server/127.0.0.1/80/request_latency_ms");
    char *p;

    for (int i = 0; i < 4; i++)
        stats_hist_record(h, 2000);
    (void) stats_histogram(r, "rt/in/server/127.0.0.2/80/request_latency_ms");
    p = render_prom(shm);
    ck_assert_ptr_nonnull(strstr(
        p,
        "# TYPE rt:server:request_latency_ms summary\n"
        "rt:server:request_latency_ms{rt=\"in\", server=\"127.0.0.1/80\", quantile=\"0\"} 2\n"
        "rt:server:request_latency_ms{rt=\"in\", server=\"127.0.0.1/80\", quantile=\"0.5\"} 2\n"
        "rt:server:request_latency_ms{rt=\"in\", server=\"127.0.0.1/80\", quantile=\"0.9\"} 2\n"
        "rt:server:request_latency_ms{rt=\"in\", server=\"127.0.0.1/80\", quantile=\"0.95\"} 2\n"
        "rt:server:request_latency_ms{rt=\"in\", server=\"127.0.0.1/80\", quantile=\"0.99\"} 2\n"
        "rt:server:request_latency_ms{rt=\"in\", server=\"127.0.0.1/80\", quantile=\"0.999\"} 2\n"
        "rt:server:request_latency_ms{rt=\"in\", server=\"127.0.0.1/80\", quantile=\"0.9999\"} "
        "2\n"
        "rt:server:request_latency_ms{rt=\"in\", server=\"127.0.0.1/80\", quantile=\"1\"} 2\n"
        "rt:server:request_latency_ms_sum{rt=\"in\", server=\"127.0.0.1/80\"} 8\n"
        "rt:server:request_latency_ms_count{rt=\"in\", server=\"127.0.0.1/80\"} 4\n"
        /* no samples: no quantiles */
        "rt:server:request_latency_ms_sum{rt=\"in\", server=\"127.0.0.2/80\"} 0\n"
        "rt:server:request_latency_ms_count{rt=\"in\", server=\"127.0.0.2/80\"} 0\n"
        "# TYPE rt:server:request_latency_ms_avg gauge\n"
        "rt:server:request_latency_ms_avg{rt=\"in\", server=\"127.0.0.1/80\"} 2\n"
        "rt:server:request_latency_ms_avg{rt=\"in\", server=\"127.0.0.2/80\"} 0\n"));
    free(p);
}
END_TEST

/* ---- concurrency ---- */

struct race {
    volatile int stop;   /* parent -> child */
    uint64_t iterations; /* child -> parent, written before exit */
};

static struct race *
race_new(void)
{
    struct race *rc =
        mmap(NULL, sizeof(*rc), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    ck_assert_ptr_ne(rc, MAP_FAILED);
    memset(rc, 0, sizeof(*rc));
    return rc;
}

/* Child: the one writer of <r> until told to stop (or <max> iterations when non-zero). */
static void __attribute__((noreturn))
writer_main(struct stats_region *r, struct race *rc, uint64_t max)
{
    uint64_t *req = stats_counter(r, "w/requests"), i;
    struct stats_hist *h = stats_histogram(r, "w/request_latency_ms");
    int64_t *pend = stats_gauge(r, "w/pending");
    char name[32];

    for (i = 0; max ? i < max : !__atomic_load_n(&rc->stop, __ATOMIC_RELAXED); i++) {
        stats_inc(req, 1);
        stats_hist_record(h, 100 + i % 5000);
        stats_gauge_add(pend, (i & 1) ? -1 : 1);
        if (i % 512 == 0 && i / 512 < 400) {
            (void) snprintf(name, sizeof(name), "w/n%04" PRIu64, i / 512);
            stats_inc(stats_counter(r, name), i / 512);
        }
    }
    rc->iterations = i;
    _exit(0);
}

/* Checks that every key of <json> is one the writer makes, whole. */
static void
check_keys(const char *json)
{
    const char *p = json;

    ck_assert(json[0] == '{');
    while ((p = strchr(p, '"')) != NULL) {
        const char *end = strchr(p + 1, '"');
        char key[STATS_NAME_MAX];
        size_t len;
        unsigned k;
        char tail;

        ck_assert_ptr_nonnull(end);
        len = (size_t) (end - p - 1);
        ck_assert_uint_lt(len, sizeof(key));
        memcpy(key, p + 1, len);
        key[len] = '\0';
        ck_assert_msg(strcmp(key, "w/requests") == 0 || strcmp(key, "w/pending") == 0 ||
                          strncmp(key, "w/request_latency_ms.", 21) == 0 ||
                          strcmp(key, "stats/overflow") == 0 ||
                          (sscanf(key, "w/n%4u%c", &k, &tail) == 1 && len == 7),
                      "bad key '%s'", key);
        p = end + 1;
    }
}

START_TEST(test_stats_concurrency_reader_vs_writer)
{
    struct race *rc = race_new();
    int idx = stats_shm_claim(shm), status;
    uint64_t prev_req = 0, prev_count = 0, prev_names = 0;
    pid_t pid;

    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        writer_main(stats_shm_region(shm, idx), rc, 0);

    for (int round = 0; round < 300; round++) {
        uint64_t req = 0, names = 0;
        char *json, *prom;
        double count;

        if (stats_read_counter(shm, "w/requests", &req)) {
            ck_assert_uint_ge(req, prev_req);
            prev_req = req;
        }
        json = render_json(shm);
        check_keys(json);
        if (json_num(json, "w/request_latency_ms.count", &count)) {
            ck_assert_uint_ge((uint64_t) count, prev_count);
            prev_count = (uint64_t) count;
        }
        names = count_substr(json, "\"w/n");
        ck_assert_uint_ge(names, prev_names);
        prev_names = names;
        free(json);
        prom = render_prom(shm);
        ck_assert_ptr_nonnull(strstr(prom, "stats_overflow 0\n"));
        free(prom);
        if (round % 64 == 0)
            stats_shm_rotate(shm);
    }
    __atomic_store_n(&rc->stop, 1, __ATOMIC_RELAXED);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    ck_assert_uint_ge(rc->iterations, prev_req);
    ck_assert_uint_eq(read_counter(shm, "w/requests"), rc->iterations);
    stats_shm_release(shm, idx);
    ck_assert_uint_eq(read_counter(shm, "w/requests"), rc->iterations);
    ck_assert(munmap(rc, sizeof(*rc)) == 0);
}
END_TEST

START_TEST(test_stats_concurrency_release_reclaim)
{
    struct stats_shm *s = stats_shm_new(1, 512, 4);
    struct race *rc = race_new();
    uint64_t total = 0, prev = 0;
    const uint64_t per_life = 20000;

    for (int life = 0; life < 6; life++) {
        int idx = stats_shm_claim(s), status;
        struct stats_region *r = stats_shm_region(s, idx);
        pid_t pid;

        ck_assert_int_eq(idx, 0);
        /* the master may name a few cells before forking: the child inherits its index */
        if (life % 2 == 0)
            ck_assert_ptr_nonnull(stats_counter(r, "w/requests"));
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0)
            writer_main(r, rc, per_life);
        for (;;) {
            uint64_t v = 0;
            pid_t w = waitpid(pid, &status, WNOHANG);

            if (stats_read_counter(s, "w/requests", &v)) {
                ck_assert_uint_ge(v, prev);
                ck_assert_uint_le(v, total + per_life);
                prev = v;
            }
            free(render_json(s));
            if (w == pid)
                break;
            ck_assert_int_eq(w, 0);
        }
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        total += per_life;
        ck_assert_uint_eq(read_counter(s, "w/requests"), total);
        stats_shm_release(s, idx);
        ck_assert_uint_eq(read_counter(s, "w/requests"), total);
        ck_assert_uint_eq(read_counter(s, "w/n0039"), 39 * (uint64_t) (life + 1));
    }
    {
        char *json = render_json(s);

        ck_assert_double_eq(json_get(json, "w/request_latency_ms.count"), (double) total);
        ck_assert_double_eq(json_get(json, "w/request_latency_ms.min"), 0.1);
        ck_assert_double_eq(json_get(json, "w/request_latency_ms.max"), 5.099);
        ck_assert(!strstr(json, "w/pending"));
        free(json);
    }
    ck_assert(munmap(rc, sizeof(*rc)) == 0);
    stats_shm_free(s);
}
END_TEST

static Suite *
stats_suite(void)
{
    Suite *s = suite_create("stats");
    TCase *tc;

    tc = tcase_create("counters");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_stats_counters_find_or_create);
    tcase_add_test(tc, test_stats_counters_many_names);
    suite_add_tcase(s, tc);

    tc = tcase_create("gauges");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_stats_gauges_sum_and_release);
    suite_add_tcase(s, tc);

    tc = tcase_create("histograms");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_stats_histograms_percentiles_log_uniform);
    tcase_add_test(tc, test_stats_histograms_percentiles_narrow);
    tcase_add_test(tc, test_stats_histograms_edges);
    tcase_add_test(tc, test_stats_histograms_window);
    suite_add_tcase(s, tc);

    tc = tcase_create("release");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_stats_release_folds_and_reclaims);
    tcase_add_test(tc, test_stats_release_many_cycles);
    suite_add_tcase(s, tc);

    tc = tcase_create("overflow");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_stats_overflow_region_full);
    tcase_add_test(tc, test_stats_overflow_retired_full);
    tcase_add_test(tc, test_stats_overflow_long_names_truncate);
    tcase_add_test(tc, test_stats_overflow_geometry);
    suite_add_tcase(s, tc);

    tc = tcase_create("json");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_stats_json_render);
    tcase_add_test(tc, test_stats_json_decimals_and_escapes);
    suite_add_tcase(s, tc);

    tc = tcase_create("prometheus");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_stats_prometheus_labels);
    tcase_add_test(tc, test_stats_prometheus_histograms);
    suite_add_tcase(s, tc);

    tc = tcase_create("concurrency");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_stats_concurrency_reader_vs_writer);
    tcase_add_test(tc, test_stats_concurrency_release_reclaim);
    suite_add_tcase(s, tc);

    return s;
}

CHECK_MAIN(stats_suite)
