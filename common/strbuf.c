/* common/strbuf.c - growable string; see strbuf.h. */
#include "common/strbuf.h"

#include <stdio.h>
#include <string.h>

#include "common/util.h"

static void
reserve(struct strbuf *sb, size_t more)
{
    size_t need = sb->len + more + 1;

    if (need <= sb->cap)
        return;
    sb->cap = sb->cap ? sb->cap : 64;
    while (sb->cap < need)
        sb->cap *= 2;
    sb->s = xrealloc(sb->s, sb->cap);
}

void
strbuf_fini(struct strbuf *sb)
{
    free(sb->s);
    sb->s = NULL;
    sb->len = sb->cap = 0;
}

void
strbuf_reset(struct strbuf *sb)
{
    sb->len = 0;
    if (sb->s)
        sb->s[0] = '\0';
}

void
strbuf_add(struct strbuf *sb, const char *data, size_t len)
{
    reserve(sb, len);
    memcpy(sb->s + sb->len, data, len);
    sb->len += len;
    sb->s[sb->len] = '\0';
}

void
strbuf_adds(struct strbuf *sb, const char *s)
{
    strbuf_add(sb, s, strlen(s));
}

void
strbuf_addc(struct strbuf *sb, char c)
{
    strbuf_add(sb, &c, 1);
}

void
strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap)
{
    va_list ap2;
    int n;

    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return;
    reserve(sb, (size_t) n);
    (void) vsnprintf(sb->s + sb->len, (size_t) n + 1, fmt, ap);
    sb->len += (size_t) n;
}

void
strbuf_addf(struct strbuf *sb, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    strbuf_vaddf(sb, fmt, ap);
    va_end(ap);
}

void
strbuf_add_json_str(struct strbuf *sb, const char *data, size_t len)
{
    strbuf_addc(sb, '"');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) data[i];

        if (c == '"' || c == '\\') {
            strbuf_addc(sb, '\\');
            strbuf_addc(sb, (char) c);
        } else if (c == '\n') {
            strbuf_adds(sb, "\\n");
        } else if (c == '\r') {
            strbuf_adds(sb, "\\r");
        } else if (c == '\t') {
            strbuf_adds(sb, "\\t");
        } else if (c < 0x20 || c == 0x7f) {
            strbuf_addf(sb, "\\u%04x", c);
        } else {
            strbuf_addc(sb, (char) c);
        }
    }
    strbuf_addc(sb, '"');
}

char *
strbuf_steal(struct strbuf *sb)
{
    char *s = sb->s ? sb->s : xstrdup("");

    sb->s = NULL;
    sb->len = sb->cap = 0;
    return s;
}

const char *
strbuf_str(const struct strbuf *sb)
{
    return sb->s ? sb->s : "";
}
