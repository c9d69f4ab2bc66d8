/* tests/fuzz/fuzz_check.h - CHECK(c) for the fuzz targets: a broken property aborts, which
 * libFuzzer reports like a crash and saves the input. */
#ifndef MESH_TESTS_FUZZ_CHECK_H
#define MESH_TESTS_FUZZ_CHECK_H

#include <stdlib.h>

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

#endif
