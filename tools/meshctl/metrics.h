/* tools/meshctl/metrics.h - one sample of an admin endpoint's /admin/metrics.json (the
 * flat {"name": number} object that meshd and meshagent both render, docs/metrics.md),
 * kept as a sorted table so names can be looked up and prefixes walked in order. */
#ifndef MESH_TOOLS_MESHCTL_METRICS_H
#define MESH_TOOLS_MESHCTL_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct metrics;

/* Parses the <len> bytes at <json>. Returns NULL and writes a reason into <err> (size
 * <errlen>) when it is not one JSON object; members whose values are not numbers (or
 * booleans, read as 0/1) are skipped. <taken_us> is the CLOCK_MONOTONIC time of the sample,
 * kept for rates. */
struct metrics *metrics_parse(const char *json, size_t len, uint64_t taken_us, char *err,
                              size_t errlen);

/* Frees <m>; NULL is a no-op. Returns NULL. */
struct metrics *metrics_free(struct metrics *m);

/* Looks <name> up: returns true and sets *ret_value, or false when absent. */
bool metrics_get(const struct metrics *m, const char *name, double *ret_value);

/* The CLOCK_MONOTONIC microseconds given to metrics_parse(). */
uint64_t metrics_taken_us(const struct metrics *m);

/* The table, sorted bytewise by name: <i> from metrics_lower_bound() or 0 up to
 * metrics_count(). Names are borrowed, valid while <m> lives. */
size_t metrics_count(const struct metrics *m);
const char *metrics_name(const struct metrics *m, size_t i);
double metrics_value(const struct metrics *m, size_t i);
/* Index of the first name not below <prefix> (metrics_count() when none). */
size_t metrics_lower_bound(const struct metrics *m, const char *prefix);

#endif
