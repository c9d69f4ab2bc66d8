/* proto/mpskip.h - walks msgpack values without decoding them: the bounds check that runs
 * before any msgpack bytes from another process are decoded.
 *
 * Iterative (a container adds its elements to the count still to skip, so nesting costs no
 * stack), and since every value takes at least one byte, a container that declares more
 * elements than bytes remain is refused at once: after a successful walk the elements of
 * all containers together number fewer than the bytes walked. That bounds what a decoder
 * that allocates per declared element (msgpack-c's unpacker) can be made to allocate. */
#ifndef MESH_PROTO_MPSKIP_H
#define MESH_PROTO_MPSKIP_H

#include <stddef.h>
#include <stdint.h>

/* The big-endian unsigned integer in the <n> (at most 8) bytes at <p>: msgpack's lengths
 * and integers. */
static inline uint64_t
mp_get_be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;

    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* Skips <count> values starting at *p (not past <end>) and advances *p past them.
 * 0; -EMSGSIZE truncated (or a container declaring more elements than bytes remain);
 * -EINVAL the reserved byte 0xc1. On an error *p is somewhere inside the values. */
int mp_skip(const uint8_t **p, const uint8_t *end, uint64_t count);

#endif
