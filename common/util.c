/* common/util.c - aborting allocators for start-up code and tiny string helpers. */
#include "common/util.h"

#include <string.h>
#include <strings.h>

static void *
oom(size_t len)
{
    fprintf(stderr, "fatal: out of memory allocating %zu bytes\n", len);
    abort();
}

void *
xmalloc(size_t len)
{
    void *p = malloc(len ? len : 1);

    return p ? p : oom(len);
}

void *
xcalloc(size_t n, size_t len)
{
    void *p = calloc(n ? n : 1, len ? len : 1);

    return p ? p : oom(n * len);
}

void *
xrealloc(void *p, size_t len)
{
    void *q = realloc(p, len ? len : 1);

    return q ? q : oom(len);
}

char *
xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t len)
{
    char *p = xmalloc(len + 1);

    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

int
util_strcaseeq(const char *a, size_t alen, const char *lit)
{
    size_t n = strlen(lit);

    return alen == n && strncasecmp(a, lit, n) == 0;
}
