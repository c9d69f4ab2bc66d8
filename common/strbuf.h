/* common/strbuf.h - a growable string for output built off the hot path: admin
 * pages, JSON, error messages. Aborts on out of memory (xrealloc). */
#ifndef MESH_COMMON_STRBUF_H
#define MESH_COMMON_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

struct strbuf {
    char *s;    /* NUL-terminated once anything was added; NULL when empty */
    size_t len; /* bytes, not counting the NUL */
    size_t cap; /* bytes allocated */
};

#define STRBUF_INIT {NULL, 0, 0}

void strbuf_fini(struct strbuf *sb);
void strbuf_reset(struct strbuf *sb);
void strbuf_add(struct strbuf *sb, const char *data, size_t len);
void strbuf_adds(struct strbuf *sb, const char *s);
void strbuf_addc(struct strbuf *sb, char c);
void strbuf_addf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Adds <data> as a JSON string literal, quotes included. */
void strbuf_add_json_str(struct strbuf *sb, const char *data, size_t len);
/* Takes the string out (caller frees); <sb> is empty afterwards. Never NULL. */
char *strbuf_steal(struct strbuf *sb);
/* Returns the string, "" when empty. Borrowed, valid until the next change. */
const char *strbuf_str(const struct strbuf *sb);

#endif
