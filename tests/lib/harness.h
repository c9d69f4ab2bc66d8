/* tests/lib/harness.h - process and socket helpers for integration tests. */
#ifndef MESH_TESTS_HARNESS_H
#define MESH_TESTS_HARNESS_H
#endif
