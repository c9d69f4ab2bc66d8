/* common/util.h - small helpers every module uses: container_of, array sizes,
 * aborting allocators for start-up code, and MESH_BUG_ON for programmer errors. */
#ifndef MESH_COMMON_UTIL_H
#define MESH_COMMON_UTIL_H

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#define container_of(ptr, type, member) ((type *) ((char *) (ptr) - offsetof(type, member)))
#define ARRAY_SIZE(a)                   (sizeof(a) / sizeof((a)[0]))
#define MESH_MIN(a, b)                  ((a) < (b) ? (a) : (b))
#define MESH_MAX(a, b)                  ((a) > (b) ? (a) : (b))
#define likely(x)                       __builtin_expect(!!(x), 1)
#define unlikely(x)                     __builtin_expect(!!(x), 0)

/* Kept in release builds: cheap checks of invariants whose failure is our bug. */
#define MESH_BUG_ON(cond)                                                                          \
    do {                                                                                           \
        if (unlikely(cond)) {                                                                      \
            fprintf(stderr, "bug: %s:%d: %s\n", __FILE__, __LINE__, #cond);                        \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Start-up and config code only: abort on out of memory. The request path uses
 * plain malloc and fails the one connection instead. */
void *xmalloc(size_t len);
void *xcalloc(size_t n, size_t len);
void *xrealloc(void *p, size_t len);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t len);

/* Case-insensitive ASCII compare of <a> (length <alen>) with NUL-terminated <lit>. */
int util_strcaseeq(const char *a, size_t alen, const char *lit);

#endif
