/* tests/fuzz/fuzz_span.c - libFuzzer target for the span record decoder (proto/span.h).
 *
 * Feeds each input to span_batch_decode() as one nanomsg message would be, and to
 * span_decode() as a single record. Beyond "no crash, no read outside the input" (libFuzzer
 * hands us a heap copy of exactly <size> bytes, so ASan sees any over-read), it checks:
 *   - the batch result adds up (n_bad = n_unsupported + malformed, a reason iff n_bad);
 *   - every decoded span re-encodes (the decoder accepts nothing the encoder refuses);
 *   - decoding that re-encoding gives the same span, and encoding it again the same bytes
 *     (the encoder's output is canonical).
 * A broken property aborts, which libFuzzer reports as a crash with the input saved.
 *
 * Build with clang (tests/fuzz/meson.build) and run, e.g.:
 *   CC=clang meson setup build-fuzz -Db_sanitize=address,undefined -Db_lundef=false
 *   ninja -C build-fuzz tests/fuzz/fuzz_span && ./build-fuzz/tests/fuzz/fuzz_span
 * -max_total_time=60 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/span.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_span: %s:%d: %s\n", __FILE__, __LINE__, #cond);                  \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Large enough for any decodable span: a name, two services and two strings a tag, each
 * of at most SPAN_MAX_STR_LEN bytes plus a 3-byte header, and the fixed fields. */
#define REENCODE_CAP (1024 + (3 + 2 * SPAN_MAX_TAGS) * (SPAN_MAX_STR_LEN + 3))

static uint8_t enc1[REENCODE_CAP], enc2[REENCODE_CAP];

static bool
bytes_eq(const char *a, size_t a_len, const char *b, size_t b_len)
{
    return a_len == b_len && (a_len == 0 || memcmp(a, b, a_len) == 0);
}

static bool
endpoint_eq(const struct span_endpoint *a, const struct span_endpoint *b)
{
    return bytes_eq(a->service, a->service_len, b->service, b->service_len) &&
           a->has_ip == b->has_ip && a->ipv6 == b->ipv6 && memcmp(a->ip, b->ip, 16) == 0 &&
           a->port == b->port;
}

static bool
span_eq(const struct span *a, const struct span *b)
{
    if (a->trace_hi != b->trace_hi || a->trace_lo != b->trace_lo || a->span_id != b->span_id ||
        a->parent_id != b->parent_id || a->kind != b->kind || a->flags != b->flags ||
        a->timestamp_us != b->timestamp_us || a->duration_us != b->duration_us ||
        !bytes_eq(a->name, a->name_len, b->name, b->name_len) ||
        !endpoint_eq(&a->local, &b->local) || !endpoint_eq(&a->remote, &b->remote) ||
        a->n_tags != b->n_tags)
        return false;
    for (unsigned i = 0; i < a->n_tags; i++) {
        const struct span_tag_kv *x = &a->tags[i], *y = &b->tags[i];

        if (x->key != y->key || x->is_num != y->is_num || (x->name != NULL) != (y->name != NULL))
            return false;
        if (x->name != NULL && !bytes_eq(x->name, x->name_len, y->name, y->name_len))
            return false;
        if (x->is_num ? x->num != y->num
                      : !bytes_eq(x->value, x->value_len, y->value, y->value_len))
            return false;
    }
    return true;
}

static void
on_span(const struct span *s, void *arg)
{
    static struct span again;
    const char *reason = NULL;
    unsigned *n = arg;
    int len1, len2;

    (*n)++;
    CHECK(s->n_tags <= SPAN_MAX_TAGS);
    CHECK(s->kind == SPAN_KIND_SERVER || s->kind == SPAN_KIND_CLIENT);
    len1 = span_encode(s, enc1, sizeof(enc1));
    CHECK(len1 > 0);
    CHECK(span_decode(enc1, (size_t) len1, &again, &reason) == len1);
    CHECK(span_eq(s, &again));
    len2 = span_encode(&again, enc2, sizeof(enc2));
    CHECK(len2 == len1 && memcmp(enc1, enc2, (size_t) len1) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct span one;
    struct span_batch_result res;
    const char *reason = NULL;
    unsigned seen = 0;
    int n;

    n = span_batch_decode(data, size, on_span, &seen, &res);
    CHECK(n >= 0 && (unsigned) n == seen && res.n_spans == seen);
    CHECK(res.n_bad == res.n_unsupported + (res.malformed ? 1u : 0u));
    CHECK((res.reason != NULL) == (res.n_bad > 0));
    CHECK(res.bad_offset < size || (!res.malformed && res.bad_offset == 0));

    n = span_decode(data, size, &one, &reason);
    if (n > 0) {
        CHECK((size_t) n <= size);
        on_span(&one, &seen);
    } else {
        CHECK(n == -EBADMSG || n == -EPROTONOSUPPORT);
        CHECK(reason != NULL);
    }
    return 0;
}
