/* bench/micro/bench_span.c - ns per span of the span record codec on the typical HTTP span of
 * docs/span-record.md (186 bytes, 10 tags): span_encode() appending to a 32-record batch as
 * a worker does, span_decode() of one record, and span_batch_decode() of a 32-record batch
 * as the agent does. Targets: encode < 100 ns (the generic msgpack-c packer costs ~340 ns),
 * decode well inside the agent's 2 us a span (500k spans/s/core end to end). Run with
 * `meson test --benchmark` or directly: bench_span [iterations]. Prints the best of several
 * rounds, the figure least disturbed by the rest of the machine. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "proto/span.h"

#define ROUNDS 7
#define BATCH  32

static struct span typical;
static uint8_t record[512];
static size_t record_len;
static uint8_t batch[BATCH * 512];
static size_t batch_len;

static volatile long sink; /* keeps the loops from being optimised away */

static void
tag(uint16_t key, const char *value)
{
    struct span_tag_kv *t = &typical.tags[typical.n_tags++];

    t->key = key;
    t->value = value;
    t->value_len = strlen(value);
}

static void
num_tag(uint16_t key, uint64_t num)
{
    struct span_tag_kv *t = &typical.tags[typical.n_tags++];

    t->key = key;
    t->num = num;
    t->is_num = true;
}

/* the same span as typical_span() in tests/unit/test_span.c */
static void
make_typical(void)
{
    static const uint8_t local_ip[4] = {10, 1, 2, 3}, remote_ip[4] = {10, 1, 2, 9};

    typical.trace_lo = 0x5af7183fb1d4cf5fULL;
    typical.span_id = 0x352bff9a74ca9ad2ULL;
    typical.parent_id = 0x6b221d5bc9e6496cULL;
    typical.kind = SPAN_KIND_SERVER;
    typical.flags = SPAN_F_SAMPLED;
    typical.timestamp_us = 1556604172355737ULL;
    typical.duration_us = 1431;
    typical.name = "get";
    typical.name_len = 3;
    typical.local.service = "0.0.0.0/4140";
    typical.local.service_len = strlen(typical.local.service);
    memcpy(typical.local.ip, local_ip, 4);
    typical.local.has_ip = true;
    typical.local.port = 4140;
    memcpy(typical.remote.ip, remote_ip, 4);
    typical.remote.has_ip = true;
    typical.remote.port = 58648;
    tag(SPAN_TAG_HTTP_METHOD, "GET");
    tag(SPAN_TAG_HTTP_PATH, "/users/12345");
    tag(SPAN_TAG_HTTP_URL, "http://users/users/12345");
    num_tag(SPAN_TAG_HTTP_STATUS_CODE, 200);
    tag(SPAN_TAG_HTTP_HOST, "users");
    tag(SPAN_TAG_ROUTER_LABEL, "outgoing");
    tag(SPAN_TAG_SERVICE, "/svc/users");
    tag(SPAN_TAG_CLIENT, "/#/io.l5d.fs/users");
    num_tag(SPAN_TAG_REQUEST_SIZE, 0);
    num_tag(SPAN_TAG_RESPONSE_SIZE, 1432);
}

static double
bench_encode(long iterations)
{
    uint64_t t0 = clock_mono_us();
    size_t off = 0;
    long acc = 0;

    for (long i = 0; i < iterations; i++) {
        int n;

        typical.span_id = (uint64_t) i | 1; /* a fresh span each time, as in a worker */
        n = span_encode(&typical, batch + off, sizeof(batch) - off);
        if (n == -ENOSPC) { /* the batch is full: a worker sends it here */
            off = 0;
            n = span_encode(&typical, batch, sizeof(batch));
        }
        off += (size_t) n;
        acc += n;
    }
    sink = acc;
    return (double) (clock_mono_us() - t0) * 1000.0 / (double) iterations;
}

static double
bench_decode(long iterations)
{
    static struct span s;
    const char *reason;
    uint64_t t0 = clock_mono_us();
    long acc = 0;

    for (long i = 0; i < iterations; i++) {
        acc += span_decode(record, record_len, &s, &reason);
        acc += (long) s.n_tags;
    }
    sink = acc;
    return (double) (clock_mono_us() - t0) * 1000.0 / (double) iterations;
}

static void
on_span(const struct span *s, void *arg)
{
    long *acc = arg;

    *acc += (long) s->tags[s->n_tags - 1].num;
}

static double
bench_batch_decode(long iterations)
{
    struct span_batch_result res;
    long batches = iterations / BATCH, acc = 0;
    uint64_t t0 = clock_mono_us();

    for (long i = 0; i < batches; i++)
        acc += span_batch_decode(batch, batch_len, on_span, &acc, &res);
    sink = acc;
    return (double) (clock_mono_us() - t0) * 1000.0 / (double) (batches * BATCH);
}

static double
best_of(double (*fn)(long), long iterations)
{
    double best = fn(iterations / 10); /* warm caches and branch predictors */

    for (int r = 0; r < ROUNDS; r++) {
        double ns = fn(iterations);

        if (ns < best)
            best = ns;
    }
    return best;
}

int
main(int argc, char **argv)
{
    long iterations = argc > 1 ? strtol(argv[1], NULL, 10) : 2000000;
    struct span_batch_result res;
    long acc = 0;
    int n;

    if (iterations < BATCH) {
        fprintf(stderr, "usage: %s [iterations >= %d]\n", argv[0], BATCH);
        return EXIT_FAILURE;
    }
    make_typical();
    /* the figures mean nothing unless the inputs round-trip */
    n = span_encode(&typical, record, sizeof(record));
    if (n <= 0) {
        fprintf(stderr, "bench span does not encode: %d\n", n);
        return EXIT_FAILURE;
    }
    record_len = (size_t) n;
    for (int i = 0; i < BATCH; i++) {
        memcpy(batch + batch_len, record, record_len);
        batch_len += record_len;
    }
    if (span_batch_decode(batch, batch_len, on_span, &acc, &res) != BATCH || res.n_bad != 0) {
        fprintf(stderr, "bench batch does not decode: %s\n", res.reason ? res.reason : "?");
        return EXIT_FAILURE;
    }

    printf("span_encode        %zu bytes, %u tags: %.1f ns/span\n", record_len, typical.n_tags,
           best_of(bench_encode, iterations));
    printf("span_decode        %zu bytes, %u tags: %.1f ns/span\n", record_len, typical.n_tags,
           best_of(bench_decode, iterations));
    printf("span_batch_decode  %d records, %zu bytes: %.1f ns/span\n", BATCH, batch_len,
           best_of(bench_batch_decode, iterations));
    return EXIT_SUCCESS;
}
